//! Codex CLI: `codex exec --json`, prompt on stdin, `resume <thread_id>` for fix attempts.
//!
//! What the CLI accepts and prints is written down in `docs/codex.md`, observed with the pinned
//! version against the project's mock of the Responses API; this module follows it.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;
use std::sync::LazyLock;

use jiff::civil::{Date, Time};
use jiff::{SignedDuration, Timestamp, Zoned};
use regex::Regex;
use serde_json::Value;

use super::tool_output::{self, one_line};
use super::{Adapter, AgentCommand, AgentStop, COMMIT_BY_NAME, EndFacts, UsageLimit};
pub use crate::config::{CodexSettings, Price, PriceTable, Sandbox};
use crate::events::{AgentEvent, Finished, Permission, Usage};

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
    /// The first line of command output this invocation showed that says the sandbox cannot
    /// work (commands fail, yet the turn "completes").
    sandbox_failure: Option<String>,
    /// A reset time a failed turn gave in a field of its own rather than in its text.
    limit_reset: Option<Timestamp>,
}

/// The workflow's commit step under the sandbox, where `.git` is read-only.
const RUNNER_COMMITS: &str = "Do not commit: in this sandbox `.git` is read-only, so `git add` and `git commit` fail. Leave your changes, the handoff included, in the working tree; kmilestone commits them as `Task <ID>: <title>` once it has verified the task.";

impl Codex {
    pub fn new(settings: CodexSettings) -> Codex {
        Codex {
            settings,
            thread_usage: HashMap::new(),
            thread: None,
            last_message: String::new(),
            sandbox_failure: None,
            limit_reset: None,
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
                self.sandbox_failure = None;
                self.limit_reset = None;
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
                // The cost is the thread's so far, as Claude Code reports it after a resume: the
                // runner keeps the latest figure per session, which counts every turn once even
                // across kmilestone processes.
                let cumulative = finished.usage;
                finished.cost_usd = self
                    .settings
                    .model
                    .as_deref()
                    .and_then(|model| self.settings.prices.cost_usd(model, &cumulative));
                if let Some(thread) = &self.thread
                    && let Some(before) = self.thread_usage.insert(thread.clone(), cumulative)
                {
                    finished.usage = usage_since(&before, &cumulative);
                }
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
        let Some(value) = json_object(line) else {
            return Vec::new();
        };
        let mut events = stream_events(&value);
        for event in &mut events {
            self.complete(event);
        }
        self.observe(&value);
        events
    }

    /// Sandboxed, Codex cannot commit (`.git` is read-only there): the runner does.
    fn commits_itself(&self) -> bool {
        self.settings.sandbox == Sandbox::Bypass
    }

    fn commit_instruction(&self) -> &'static str {
        match self.settings.sandbox {
            Sandbox::WorkspaceWrite => RUNNER_COMMITS,
            Sandbox::Bypass => COMMIT_BY_NAME,
        }
    }

    fn stop_reason(&self, end: &EndFacts<'_>) -> Option<AgentStop> {
        if end.finished.is_none_or(|f| f.is_error)
            && let Some(stop) = self.failure_stop(end)
        {
            return Some(stop);
        }
        if self.settings.sandbox != Sandbox::WorkspaceWrite {
            return None;
        }
        self.sandbox_failure
            .clone()
            .or_else(|| sandbox_evidence(end.stderr_tail))
            .map(|evidence| AgentStop::Unavailable(sandbox_unavailable(&evidence)))
    }

    /// Codex's cumulative usage of `session` must be known before its next turn is counted.
    /// What this process saw itself is newer than the record, so the record only fills a gap.
    fn resuming(&mut self, session: &str, recorded: &Usage) {
        self.thread_usage
            .entry(session.to_string())
            .or_insert(*recorded);
    }
}

impl Codex {
    /// What a line says beyond its events: command output showing the sandbox cannot work, a
    /// reset time in a structured field of an error.
    fn observe(&mut self, value: &Value) {
        match value["type"].as_str().unwrap_or_default() {
            // The first sign is kept: later output may be the agent's attempts to work around it.
            "item.completed"
                if value["item"]["type"] == "command_execution"
                    && self.sandbox_failure.is_none() =>
            {
                self.sandbox_failure = value["item"]["aggregated_output"]
                    .as_str()
                    .and_then(sandbox_evidence);
            }
            "turn.failed" | "error" => {
                if let Some(at) = structured_reset(value, Timestamp::now()) {
                    self.limit_reset = Some(at);
                }
            }
            _ => {}
        }
    }

    /// Why a failed (or unfinished) invocation stops the task: an incomplete install, no valid
    /// login or key, a usage limit, a thread this `CODEX_HOME` does not have.
    fn failure_stop(&self, end: &EndFacts<'_>) -> Option<AgentStop> {
        let text = end.final_text.trim();
        if let Some(line) = line_matching(end.stderr_tail, |l| l.contains(MISSING_NATIVE)) {
            return Some(AgentStop::Unavailable(format!(
                "Codex CLI is not completely installed ({line}); reinstall it: npm install -g @openai/codex"
            )));
        }
        if is_auth_failure(text) {
            return Some(AgentStop::NotAuthenticated(text.to_string()));
        }
        if let Some(line) = line_matching(end.stderr_tail, is_auth_failure) {
            return Some(AgentStop::NotAuthenticated(line));
        }
        if let Some(mut limit) = find_usage_limit(text, &Zoned::now()) {
            limit.resets_at = limit.resets_at.or(self.limit_reset);
            return Some(AgentStop::UsageLimit(limit));
        }
        if let Some(resets_at) = self.limit_reset {
            return Some(AgentStop::UsageLimit(UsageLimit {
                message: text.to_string(),
                resets_at: Some(resets_at),
            }));
        }
        static NO_THREAD: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r"no rollout found for thread id (\S+)").expect("no thread pattern")
        });
        NO_THREAD.captures(end.stderr_tail).map(|c| {
            AgentStop::Unavailable(format!(
                "Codex has no thread {} to resume: it keeps its threads under $CODEX_HOME/sessions (default ~/.codex), so run kmilestone with the CODEX_HOME of the run that started the task",
                &c[1]
            ))
        })
    }
}

/// What the npm launcher says when the platform binary it runs is missing.
const MISSING_NATIVE: &str = "Missing optional dependency";

/// The first line of `text` that `matches`, trimmed and cut to a readable length.
fn line_matching(text: &str, matches: impl Fn(&str) -> bool) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && matches(line))
        .map(|line| one_line(line, 300))
}

/// The line of stderr or command output that shows the sandbox cannot work.
fn sandbox_evidence(text: &str) -> Option<String> {
    line_matching(text, is_sandbox_unavailable)
}

/// How to make Codex's sandbox work, after what showed it does not.
fn sandbox_unavailable(evidence: &str) -> String {
    format!(
        "Codex's sandbox does not work here ({evidence}). Codex installs its sandbox helper under CODEX_HOME (default ~/.codex) and refuses to under a temporary directory: set CODEX_HOME to a folder outside /tmp. On Linux the sandbox is bubblewrap, which needs unprivileged user namespaces (install the `bubblewrap` package, and allow user namespaces where the system restricts them). kmilestone does not run Codex unsandboxed unless you set [agent.codex] permission = \"bypass\"."
    )
}

/// A reset time an error gives in a field of its own (`resets_at` in Unix seconds or RFC 3339,
/// or `resets_in_seconds`), anywhere inside the line. Codex 0.169.0's `--json` errors carry only
/// a message; the service's own answer has `resets_at`, which a later CLI may pass through.
fn structured_reset(value: &Value, now: Timestamp) -> Option<Timestamp> {
    match value {
        Value::Object(map) => {
            if let Some(at) = map.get("resets_at") {
                let parsed = match at {
                    Value::Number(n) => n.as_i64().and_then(|s| Timestamp::from_second(s).ok()),
                    Value::String(s) => s.parse().ok(),
                    _ => None,
                };
                if parsed.is_some() {
                    return parsed;
                }
            }
            if let Some(seconds) = map.get("resets_in_seconds").and_then(Value::as_f64) {
                return SignedDuration::try_from_secs_f64(seconds)
                    .ok()
                    .and_then(|d| now.checked_add(d).ok());
            }
            map.values().find_map(|v| structured_reset(v, now))
        }
        Value::Array(items) => items.iter().find_map(|v| structured_reset(v, now)),
        _ => None,
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
    json_object(line)
        .map(|value| stream_events(&value))
        .unwrap_or_default()
}

/// The line as a JSON object, or `None` (logged) for anything else.
fn json_object(line: &str) -> Option<Value> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    match serde_json::from_str(line) {
        Ok(value @ Value::Object(_)) => Some(value),
        Ok(_) | Err(_) => {
            tracing::debug!(line = %one_line(line, 200), "skipping a line that is not a JSON object");
            None
        }
    }
}

/// The events of one parsed line.
fn stream_events(value: &Value) -> Vec<AgentEvent> {
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
                        .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned());
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

#[cfg(test)]
#[path = "codex_adapter_tests.rs"]
mod adapter_tests;
