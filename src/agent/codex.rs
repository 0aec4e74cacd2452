//! Codex CLI: `codex exec --json`, prompt on stdin, `resume <thread_id>` for fix attempts.
//!
//! What the CLI accepts and prints is written down in `docs/codex.md`, observed with the pinned
//! version against the project's mock of the Responses API; this module follows it.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use jiff::civil::{Date, Time};
use jiff::{SignedDuration, Timestamp, Zoned};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::tool_output::{self, one_line};
use super::{Adapter, AgentCommand, UsageLimit};
use crate::events::{AgentEvent, Finished, Permission, Usage};

/// Where the agent's commands and edits may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sandbox {
    /// `--sandbox workspace-write`: writes inside the working directory (and the temp dirs), no
    /// network, `.git` read-only, so the runner commits.
    #[default]
    WorkspaceWrite,
    /// `--dangerously-bypass-approvals-and-sandbox`: no sandbox at all; the user's explicit choice.
    Bypass,
}

/// How to run Codex; resolved from the configuration by the caller.
#[derive(Debug, Clone)]
pub struct CodexSettings {
    pub binary: PathBuf,
    /// `--model`; `None` leaves Codex's own default (then no price is known).
    pub model: Option<String>,
    pub sandbox: Sandbox,
    /// `-c key=value` overrides, passed verbatim after kmilestone's own.
    pub config: Vec<String>,
    /// More `exec` options, verbatim (before `resume`: the subcommand refuses most of them).
    pub extra_args: Vec<String>,
    pub prices: PriceTable,
}

impl Default for CodexSettings {
    fn default() -> CodexSettings {
        CodexSettings {
            binary: PathBuf::from("codex"),
            model: None,
            sandbox: Sandbox::default(),
            config: Vec::new(),
            extra_args: Vec::new(),
            prices: PriceTable::default(),
        }
    }
}

/// Codex hands its whole environment to the agent's commands unless told otherwise (observed:
/// API keys and `*_TOKEN` variables visible to `env`). This turns on its built-in filter, which
/// drops every variable whose name contains `KEY`, `SECRET` or `TOKEN`.
const HIDE_SECRETS: &str = "shell_environment_policy.ignore_default_excludes=false";

pub struct Codex {
    settings: CodexSettings,
    /// The last cumulative usage seen per thread: `turn.completed` reports the thread's total, so
    /// an invocation's own tokens are the difference.
    thread_usage: HashMap<String, Usage>,
    thread: Option<String>,
    last_message: String,
}

impl Codex {
    pub fn new(settings: CodexSettings) -> Codex {
        Codex {
            settings,
            thread_usage: HashMap::new(),
            thread: None,
            last_message: String::new(),
        }
    }

    /// The arguments after the binary: `exec --json [--model M] <sandbox> -c … [extra]
    /// [resume <thread_id>] -`. Every option goes before `resume` and is given again on each
    /// resume: the CLI does not remember the sandbox (a resume without it runs read-only) and
    /// `resume --sandbox …` is a usage error. `-` reads the prompt from stdin, which must then be
    /// closed, or the CLI waits for more.
    pub fn args(&self, session: Option<&str>) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["exec".into(), "--json".into()];
        if let Some(model) = &self.settings.model {
            args.push("--model".into());
            args.push(model.into());
        }
        match self.settings.sandbox {
            Sandbox::WorkspaceWrite => {
                args.push("--sandbox".into());
                args.push("workspace-write".into());
            }
            Sandbox::Bypass => args.push("--dangerously-bypass-approvals-and-sandbox".into()),
        }
        args.push("-c".into());
        args.push(HIDE_SECRETS.into());
        for entry in &self.settings.config {
            args.push("-c".into());
            args.push(entry.into());
        }
        args.extend(self.settings.extra_args.iter().map(OsString::from));
        if let Some(thread) = session {
            args.push("resume".into());
            args.push(thread.into());
        }
        args.push("-".into());
        args
    }

    /// Seed the cumulative usage a thread had already reported, e.g. from the state of an
    /// earlier kmilestone process, so that its next resume is not counted from zero.
    pub fn remember_usage(&mut self, thread_id: &str, cumulative: Usage) {
        self.thread_usage.insert(thread_id.to_string(), cumulative);
    }

    /// How the permissions read in the run header.
    /// What the agent may do, for the run header.
    pub fn granted(&self) -> Permission {
        match self.settings.sandbox {
            Sandbox::WorkspaceWrite => Permission::CodexWorkspaceWrite,
            Sandbox::Bypass => Permission::Bypass,
        }
    }

    /// Completes what one line alone cannot say: the model, the final message, this invocation's
    /// share of the thread's cumulative usage, and the cost.
    fn complete(&mut self, event: &mut AgentEvent) {
        match event {
            AgentEvent::Started { session_id, model } => {
                self.thread = Some(session_id.clone());
                self.last_message.clear();
                if model.is_none() {
                    model.clone_from(&self.settings.model);
                }
            }
            AgentEvent::Text { text } => self.last_message.clone_from(text),
            AgentEvent::Finished(finished) => {
                if finished.result.is_empty() {
                    finished.result = std::mem::take(&mut self.last_message);
                }
                if finished.is_error {
                    // turn.failed carries no usage; the tokens spent show in the next total.
                    return;
                }
                if let Some(thread) = &self.thread {
                    let cumulative = finished.usage;
                    if let Some(before) = self.thread_usage.insert(thread.clone(), cumulative) {
                        finished.usage = usage_since(&before, &cumulative);
                    }
                }
                finished.cost_usd = self
                    .settings
                    .model
                    .as_deref()
                    .and_then(|model| self.settings.prices.cost_usd(model, &finished.usage));
            }
            _ => {}
        }
    }
}

impl Adapter for Codex {
    fn permission(&self) -> Permission {
        self.granted()
    }

    fn name(&self) -> &str {
        "codex"
    }

    fn can_resume(&self) -> bool {
        true
    }

    fn command(&self, prompt: &str, session: Option<&str>, _cwd: &Path) -> AgentCommand {
        AgentCommand {
            program: self.settings.binary.clone(),
            args: self.args(session),
            stdin: prompt.as_bytes().to_vec(),
        }
    }

    fn parse_line(&mut self, line: &str) -> Vec<AgentEvent> {
        let mut events = parse_stream_line(line);
        for event in &mut events {
            self.complete(event);
        }
        events
    }
}

/// `cumulative - before`, per count, never below zero (a total that went down means the thread
/// was replaced: count it as new).
pub fn usage_since(before: &Usage, cumulative: &Usage) -> Usage {
    if cumulative.total() < before.total() {
        return *cumulative;
    }
    Usage {
        input_tokens: cumulative.input_tokens.saturating_sub(before.input_tokens),
        output_tokens: cumulative
            .output_tokens
            .saturating_sub(before.output_tokens),
        cache_creation_input_tokens: cumulative
            .cache_creation_input_tokens
            .saturating_sub(before.cache_creation_input_tokens),
        cache_read_input_tokens: cumulative
            .cache_read_input_tokens
            .saturating_sub(before.cache_read_input_tokens),
    }
}

/// Reads one `--json` line. Lines that are not JSON objects are skipped (and logged); known lines
/// with nothing to show (`turn.started`) give no event; unknown ones are kept as `Unknown`.
///
/// `turn.completed` gives `Finished` with the usage as Codex reports it, which after a resume is
/// the thread's total: [`Codex::parse_line`] turns it into this invocation's share.
pub fn parse_stream_line(line: &str) -> Vec<AgentEvent> {
    let line = line.trim();
    if line.is_empty() {
        return Vec::new();
    }
    let value: Value = match serde_json::from_str(line) {
        Ok(value @ Value::Object(_)) => value,
        Ok(_) | Err(_) => {
            tracing::debug!(line = %one_line(line, 200), "skipping a line that is not a JSON object");
            return Vec::new();
        }
    };
    let line_type = value["type"].as_str().unwrap_or_default();
    match line_type {
        "thread.started" => vec![AgentEvent::Started {
            session_id: value["thread_id"].as_str().unwrap_or_default().to_string(),
            model: None,
        }],
        "turn.started" => Vec::new(),
        "item.started" | "item.updated" | "item.completed" => {
            item_events(line_type, &value["item"])
        }
        "turn.completed" => vec![AgentEvent::Finished(Finished {
            subtype: "success".to_string(),
            usage: codex_usage(&value["usage"]),
            ..Finished::default()
        })],
        "turn.failed" => {
            let message = value["error"]["message"]
                .as_str()
                .unwrap_or("the turn failed")
                .to_string();
            vec![AgentEvent::Finished(Finished {
                is_error: true,
                subtype: "turn_failed".to_string(),
                api_error_status: http_status(&message),
                result: message,
                ..Finished::default()
            })]
        }
        // The CLI's own notices: reconnects while it retries the API, then the final error of a
        // failed turn (the same text as `turn.failed`), e.g. a usage limit.
        "error" => vec![error_event(value["message"].as_str().unwrap_or_default())],
        other => vec![AgentEvent::Unknown {
            line_type: other.to_string(),
        }],
    }
}

fn error_event(message: &str) -> AgentEvent {
    if message.starts_with("Reconnecting...") {
        AgentEvent::Retry {
            message: message.to_string(),
        }
    } else {
        AgentEvent::Text {
            text: message.to_string(),
        }
    }
}

fn item_events(line_type: &str, item: &Value) -> Vec<AgentEvent> {
    let item_type = item["type"].as_str().unwrap_or_default();
    let started = line_type == "item.started";
    let completed = line_type == "item.completed";
    match item_type {
        "agent_message" if completed => vec![AgentEvent::Text {
            text: item["text"].as_str().unwrap_or_default().to_string(),
        }],
        "command_execution" if started => vec![AgentEvent::ToolUse {
            name: "exec".to_string(),
            summary: one_line(
                &shell_command(item["command"].as_str().unwrap_or_default()),
                120,
            ),
        }],
        "command_execution" if completed => {
            let exit_code = item["exit_code"].as_i64();
            let is_error = exit_code != Some(0) || item["status"] == "failed";
            // A summary, not the output: the command may have printed a secret.
            let output = item["aggregated_output"].as_str().unwrap_or_default();
            let output = tool_output::summary(output, is_error);
            let summary = match exit_code {
                Some(code) => format!("exit {code}: {output}"),
                None => output,
            };
            vec![AgentEvent::ToolResult { is_error, summary }]
        }
        "file_change" if started => vec![AgentEvent::ToolUse {
            name: "apply_patch".to_string(),
            summary: file_changes(item),
        }],
        "file_change" if completed => vec![AgentEvent::ToolResult {
            is_error: item["status"] != "completed",
            summary: format!(
                "{}: {}",
                item["status"].as_str().unwrap_or("?"),
                file_changes(item)
            ),
        }],
        "mcp_tool_call" if started => vec![AgentEvent::ToolUse {
            name: format!(
                "{}.{}",
                item["server"].as_str().unwrap_or("mcp"),
                item["tool"].as_str().unwrap_or("tool")
            ),
            summary: String::new(),
        }],
        "error" if completed => vec![error_event(item["message"].as_str().unwrap_or_default())],
        // Progress of an item shown at its start, or items with nothing for the runner
        // (reasoning, todo lists, web searches).
        "agent_message" | "command_execution" | "file_change" | "mcp_tool_call" | "error" => {
            Vec::new()
        }
        other if completed => vec![AgentEvent::Unknown {
            line_type: format!("item/{other}"),
        }],
        _ => Vec::new(),
    }
}

/// `/bin/bash -lc 'echo hi'` → `echo hi`: the shell wrapper Codex adds says nothing.
fn shell_command(command: &str) -> String {
    static WRAPPED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"^\S*/(?:ba|z)?sh -l?c (?:'(.*)'|"(.*)")$"#).expect("shell wrapper pattern")
    });
    match WRAPPED.captures(command) {
        Some(c) => c
            .get(1)
            .map(|m| m.as_str().replace(r"'\''", "'"))
            .or_else(|| c.get(2).map(|m| m.as_str().to_string()))
            .unwrap_or_default(),
        None => command.to_string(),
    }
}

/// `add hello.txt, update HANDOFF.md` (file names only: the paths are absolute).
fn file_changes(item: &Value) -> String {
    item["changes"]
        .as_array()
        .map(|changes| {
            changes
                .iter()
                .map(|c| {
                    let path = c["path"].as_str().unwrap_or_default();
                    let name = Path::new(path)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| path.to_string());
                    format!("{} {name}", c["kind"].as_str().unwrap_or("change"))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Codex's counts in the shape the runner keeps. In the Responses API cached (and cache-written)
/// tokens are part of `input_tokens` and reasoning tokens part of `output_tokens`, whereas
/// [`Usage::input_tokens`] counts only uncached input: so cached tokens move to
/// `cache_read_input_tokens`, and reasoning stays inside `output_tokens` (billed as output).
fn codex_usage(usage: &Value) -> Usage {
    let count = |key: &str| usage[key].as_u64().unwrap_or(0);
    let cached = count("cached_input_tokens");
    let written = count("cache_write_input_tokens");
    Usage {
        input_tokens: count("input_tokens").saturating_sub(cached + written),
        output_tokens: count("output_tokens"),
        cache_creation_input_tokens: written,
        cache_read_input_tokens: cached,
    }
}

/// The HTTP status in `unexpected status 401 Unauthorized: …` or `last status: 429 Too Many
/// Requests`.
fn http_status(message: &str) -> Option<u16> {
    static STATUS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?:unexpected status|last status:) (\d{3})\b").expect("status pattern")
    });
    STATUS.captures(message)?[1].parse().ok()
}

/// Dollars per million tokens of one model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub cached_input: f64,
    pub output: f64,
}

impl Price {
    /// The cost of `usage`: cache writes at the input price, reasoning inside output.
    pub fn cost_usd(&self, usage: &Usage) -> f64 {
        let input = (usage.input_tokens + usage.cache_creation_input_tokens) as f64;
        (input * self.input
            + usage.cache_read_input_tokens as f64 * self.cached_input
            + usage.output_tokens as f64 * self.output)
            / 1_000_000.0
    }
}

/// Prices per model, as the user configures them: Codex reports tokens but no cost, and prices
/// change too often for kmilestone to ship its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PriceTable {
    models: BTreeMap<String, Price>,
}

impl PriceTable {
    pub fn new() -> PriceTable {
        PriceTable::default()
    }

    pub fn insert(&mut self, model: impl Into<String>, price: Price) {
        self.models.insert(model.into(), price);
    }

    /// The price of `model`, or of the model it is a dated snapshot of (`gpt-5.5-2026-10-01` is
    /// priced as `gpt-5.5`). No other prefix matching: `gpt-5.5-mini` is not `gpt-5.5`.
    pub fn price(&self, model: &str) -> Option<&Price> {
        static DATED: LazyLock<Regex> =
            LazyLock::new(|| Regex::new(r"^(.+)-\d{4}-\d{2}-\d{2}$").expect("dated model pattern"));
        self.models.get(model).or_else(|| {
            let base = DATED.captures(model)?.get(1)?.as_str();
            self.models.get(base)
        })
    }

    /// The cost of `usage` with `model`, `None` when its price is unknown.
    pub fn cost_usd(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.price(model).map(|price| price.cost_usd(usage))
    }
}

static LIMIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)you[’']ve hit your usage limit|rate limit exceeded|429 too many requests|insufficient_quota|quota exceeded")
        .expect("limit pattern")
});

/// `try again at 3:28 AM`, `try again at Dec 5th, 2026 8:28 PM`: Codex prints the reset in its
/// local time zone, without naming it, and the date only when it is not today.
static AT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)try again at\s+(?:([a-z]{3})[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\s+)?(\d{1,2}):(\d{2})\s*([ap]m)")
        .expect("reset time pattern")
});

/// `try again in 3 days 6 hours 57 minutes`, `Please try again in 1.5s`.
static IN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)try again in\s+((?:\d+(?:\.\d+)?\s*(?:days?|hours?|minutes?|mins?|seconds?|secs?|ms|[dhms])\b[\s,]*(?:and\s+)?)+)")
        .expect("reset delay pattern")
});

static DELAY_PART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\d+(?:\.\d+)?)\s*(days?|hours?|minutes?|mins?|seconds?|secs?|ms|[dhms])\b")
        .expect("delay part pattern")
});

/// The usage or rate limit a Codex message reports, with its reset time resolved against `now`
/// (whose time zone must be the one Codex ran in: it prints local times without a zone). Limits
/// without a reset ("try again later", quota exhausted) have `resets_at: None`: stop and tell the
/// human rather than retry forever.
pub fn find_usage_limit(text: &str, now: &Zoned) -> Option<UsageLimit> {
    if !LIMIT.is_match(text) {
        return None;
    }
    let resets_at = AT
        .captures(text)
        .and_then(|c| reset_at(&c, now))
        .or_else(|| IN.captures(text).and_then(|c| reset_in(&c[1], now)));
    Some(UsageLimit {
        message: text.trim().to_string(),
        resets_at,
    })
}

fn reset_at(c: &regex::Captures<'_>, now: &Zoned) -> Option<Timestamp> {
    let mut hour: i8 = c[4].parse().ok()?;
    let minute: i8 = c[5].parse().ok()?;
    match (c[6].eq_ignore_ascii_case("pm"), hour) {
        (true, 1..=11) => hour += 12,
        (false, 12) => hour = 0,
        _ => {}
    }
    let date = match (c.get(1), c.get(2), c.get(3)) {
        (Some(month), Some(day), Some(year)) => Date::new(
            year.as_str().parse().ok()?,
            month_number(month.as_str())?,
            day.as_str().parse().ok()?,
        )
        .ok()?,
        // Codex omits the date when the reset is today, so a time already past means the limit
        // has already reset: it is not tomorrow's.
        _ => now.date(),
    };
    let time = Time::new(hour, minute, 0, 0).ok()?;
    Some(
        date.to_datetime(time)
            .to_zoned(now.time_zone().clone())
            .ok()?
            .timestamp(),
    )
}

fn month_number(name: &str) -> Option<i8> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let name = name.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| name.starts_with(m))
        .map(|i| i as i8 + 1)
}

fn reset_in(delay: &str, now: &Zoned) -> Option<Timestamp> {
    let mut seconds = 0.0;
    for part in DELAY_PART.captures_iter(delay) {
        let value: f64 = part[1].parse().ok()?;
        let unit = part[2].to_ascii_lowercase();
        seconds += value
            * match unit.as_str() {
                "ms" => 0.001,
                u if u.starts_with('d') => 86_400.0,
                u if u.starts_with('h') => 3_600.0,
                u if u.starts_with('m') => 60.0,
                _ => 1.0,
            };
    }
    now.timestamp()
        .checked_add(SignedDuration::from_secs_f64(seconds))
        .ok()
}

static SANDBOX_UNAVAILABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?im)refusing to create helper binaries under temporary dir|execvp codex-linux-sandbox|codex-linux-sandbox was required but not provided|^bwrap: |landlock was not able to fully enforce|sandbox error: seccomp",
    )
    .expect("sandbox pattern")
});

/// Whether Codex's stderr or a command's output says its sandbox cannot work: with `CODEX_HOME`
/// under `/tmp` it will not install its helper and every sandboxed command fails (`bwrap: execvp
/// codex-linux-sandbox: No such file or directory`), while the run itself still "succeeds";
/// bubblewrap prints its own failures (no user namespaces) as `bwrap: …`.
pub fn is_sandbox_unavailable(text: &str) -> bool {
    SANDBOX_UNAVAILABLE.is_match(text)
}

static AUTH_FAILURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)unexpected status 40[13]\b|missing environment variable: `|incorrect api key|invalid_api_key|missing bearer|not logged in|sign in again|to use codex with your chatgpt plan",
    )
    .expect("auth pattern")
});

/// Whether a Codex message says it cannot work at all: no API key in the variable its provider
/// names, a key the API refuses (401/403), not logged in, a login that cannot be refreshed, or a
/// plan without Codex. Retrying would fail the same way, so the run stops at once.
pub fn is_auth_failure(text: &str) -> bool {
    AUTH_FAILURE.is_match(text)
}

#[cfg(test)]
#[path = "codex_tests.rs"]
mod tests;
