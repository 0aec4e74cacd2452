//! Claude Code: `claude -p --output-format stream-json --verbose`, prompt on stdin, with the
//! permission arguments of the configured mode (`claude_settings`): in sandbox mode the run stops
//! (exit 5) unless `system/init` says the sandbox is on, and refused tool calls come with the
//! setting that would allow them.

use std::ffi::OsString;
use std::path::Path;

use serde_json::Value;

use super::claude_settings::{
    self as permissions, ClaudePermissions, Mode, PermissionInputs, SandboxState, SettingsError,
};
use super::tool_output::{self, one_line};
use super::{Adapter, AgentCommand, AgentStop, EndFacts, default_stop_reason};
use crate::config::ClaudeSettings;
use crate::events::{AgentEvent, Denial, Finished, Permission, ProjectRules, Usage};

/// The workflow's commit step inside Claude Code's sandbox, where `git add -A` fails on the
/// placeholders the sandbox mounts over absent dotfiles.
const COMMIT_BY_NAME_SANDBOXED: &str = "Then commit your work, handoff included, with a clear message: add the files you changed by name (`git add <files> && git commit -m \"…\"`); `git add -A` and `git add .` fail inside the sandbox. The working tree must be clean when you finish.";

pub struct Claude {
    settings: ClaudeSettings,
    inputs: PermissionInputs,
    permissions: ClaudePermissions,
    project_rules: Vec<ProjectRules>,
    /// What the current invocation's stream said about the sandbox (its `system/init`, or the
    /// result line of a start the sandbox refused).
    sandbox: Option<SandboxState>,
    /// Refusals of the current invocation reported by `system/permission_denied` lines.
    system_denials: Vec<permissions::Denial>,
}

impl Claude {
    /// The adapter for `inputs` (see `claude_setup`); fails when the configured lists cannot
    /// make valid settings (a loopback domain, a relative path).
    pub fn new(
        settings: ClaudeSettings,
        inputs: PermissionInputs,
    ) -> Result<Claude, SettingsError> {
        let permissions = permissions::claude_permissions(&inputs)?;
        let project_rules = permissions::project_allow_rules(&inputs.repo)
            .into_iter()
            .filter(|rules| rules.allow != Ok(0))
            .map(|rules| ProjectRules {
                file: rules.file.to_string(),
                allow: rules.allow,
            })
            .collect();
        Ok(Claude {
            settings,
            inputs,
            permissions,
            project_rules,
            sandbox: None,
            system_denials: Vec::new(),
        })
    }

    /// What the agent may do, for the run header.
    pub fn granted(&self) -> Permission {
        match self.inputs.mode {
            Mode::Sandbox => Permission::ClaudeSandbox {
                writable: permissions::sandbox_writable(&self.inputs),
                network: self.inputs.allowed_domains.clone(),
                project_rules: self.project_rules.clone(),
            },
            Mode::Allowlist => Permission::AllowList {
                commands: permissions::allowlist_commands(&self.inputs),
                extra_rules: self.inputs.extra_rules.len(),
                project_rules: self.project_rules.clone(),
            },
            Mode::Bypass => Permission::Bypass,
        }
    }

    /// The refusals of a result line and those only a `system/permission_denied` line told,
    /// each explained for the mode of this run.
    fn denials(&mut self, result: &Value) -> Vec<Denial> {
        let mut found = permissions::denials_of_result(result);
        for denial in std::mem::take(&mut self.system_denials) {
            let known = denial.tool_use_id.is_some()
                && found.iter().any(|d| d.tool_use_id == denial.tool_use_id);
            if !known {
                found.push(denial);
            }
        }
        found
            .iter()
            .map(|denial| Denial {
                call: denial_call(&denial.tool, &denial.input),
                explanation: permissions::explain_denial(denial, &self.inputs),
            })
            .collect()
    }
}

impl Adapter for Claude {
    fn name(&self) -> &str {
        "claude"
    }

    fn can_resume(&self) -> bool {
        true
    }

    fn permission(&self) -> Permission {
        self.granted()
    }

    fn commit_instruction(&self) -> &'static str {
        match self.inputs.mode {
            Mode::Sandbox => COMMIT_BY_NAME_SANDBOXED,
            Mode::Allowlist | Mode::Bypass => super::COMMIT_BY_NAME,
        }
    }

    fn commits_leftovers(&self) -> bool {
        self.inputs.mode == Mode::Sandbox
    }

    fn env(&self) -> Vec<(String, String)> {
        self.permissions.env.clone()
    }

    fn preflight(&self, task_text: &str) -> Vec<String> {
        permissions::validation_preflight(task_text, &self.inputs)
    }

    fn must_stop(&self) -> bool {
        self.inputs.mode == Mode::Sandbox
            && self
                .sandbox
                .as_ref()
                .is_some_and(|state| *state != SandboxState::Enabled)
    }

    fn stop_reason(&self, end: &EndFacts<'_>) -> Option<AgentStop> {
        if self.inputs.mode == Mode::Sandbox
            && let Some(refusal) = self.sandbox.as_ref().and_then(permissions::sandbox_refusal)
        {
            return Some(AgentStop::Unavailable(refusal));
        }
        default_stop_reason(end)
    }

    fn command(&self, prompt: &str, session: Option<&str>, _cwd: &Path) -> AgentCommand {
        let mut args: Vec<OsString> = ["-p", "--output-format", "stream-json", "--verbose"]
            .iter()
            .map(OsString::from)
            .collect();
        if let Some(session) = session {
            args.push("--resume".into());
            args.push(session.into());
        }
        if let Some(model) = &self.settings.model {
            args.push("--model".into());
            args.push(model.into());
        }
        if let Some(turns) = self.settings.max_turns {
            args.push("--max-turns".into());
            args.push(turns.to_string().into());
        }
        if let Some(budget) = self.settings.max_budget_usd {
            // Claude checks it after each turn, so a task may go a little over.
            args.push("--max-budget-usd".into());
            args.push(format!("{budget}").into());
        }
        if let Some(text) = &self.settings.append_system_prompt {
            args.push("--append-system-prompt".into());
            args.push(text.into());
        }
        args.extend(self.permissions.args.iter().map(OsString::from));
        args.extend(self.settings.extra_args.iter().map(OsString::from));
        AgentCommand {
            program: self.settings.binary.clone(),
            args,
            stdin: prompt.as_bytes().to_vec(),
        }
    }

    fn parse_line(&mut self, line: &str) -> Vec<AgentEvent> {
        let Some(value) = json_object(line) else {
            return Vec::new();
        };
        // Every invocation starts with `system/init` (or, refused by the sandbox, ends with a
        // result that says so): the state of the one before is replaced.
        if let Some(state) = permissions::sandbox_state(&value) {
            if value["type"] == "system" {
                self.system_denials.clear();
            }
            self.sandbox = Some(state);
        }
        if let Some(denial) = permissions::denial_of_system_line(&value) {
            self.system_denials.push(denial);
        }
        let mut events = stream_events(&value);
        if value["type"] == "result" {
            let denials = self.denials(&value);
            for event in &mut events {
                if let AgentEvent::Finished(finished) = event {
                    finished.permission_denials.clone_from(&denials);
                }
            }
        }
        events
    }
}

/// Reads one stream-json line. Lines that are not JSON objects are skipped (and logged).
pub fn parse_stream_line(line: &str) -> Vec<AgentEvent> {
    json_object(line).map_or_else(Vec::new, |value| stream_events(&value))
}

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

/// The events of one line; the refusals of a result line are the unexplained calls.
fn stream_events(value: &Value) -> Vec<AgentEvent> {
    let line_type = value["type"].as_str().unwrap_or_default();
    match line_type {
        "system" => match value["subtype"].as_str() {
            Some("init") => vec![AgentEvent::Started {
                session_id: value["session_id"].as_str().unwrap_or_default().to_string(),
                model: value["model"].as_str().map(str::to_string),
            }],
            Some("api_retry") => vec![AgentEvent::Retry {
                message: retry_message(value),
            }],
            _ => vec![AgentEvent::Unknown {
                line_type: format!("system/{}", value["subtype"].as_str().unwrap_or("?")),
            }],
        },
        "assistant" => content_blocks(value)
            .filter_map(|block| match block["type"].as_str()? {
                "text" => Some(AgentEvent::Text {
                    text: block["text"].as_str().unwrap_or_default().to_string(),
                }),
                "tool_use" => Some(AgentEvent::ToolUse {
                    name: block["name"].as_str().unwrap_or("tool").to_string(),
                    summary: tool_summary(&block["input"]),
                }),
                _ => None,
            })
            .collect(),
        "user" => content_blocks(value)
            .filter(|block| block["type"] == "tool_result")
            .map(|block| {
                // A summary, not the content: the agent may have read a key file.
                let is_error = block["is_error"].as_bool().unwrap_or(false);
                AgentEvent::ToolResult {
                    is_error,
                    summary: tool_output::summary(&tool_result_text(&block["content"]), is_error),
                }
            })
            .collect(),
        "result" => vec![AgentEvent::Finished(finished(value))],
        other => vec![AgentEvent::Unknown {
            line_type: other.to_string(),
        }],
    }
}

fn content_blocks(value: &Value) -> impl Iterator<Item = &Value> {
    value["message"]["content"]
        .as_array()
        .map(|blocks| blocks.iter())
        .into_iter()
        .flatten()
}

fn finished(value: &Value) -> Finished {
    let usage = &value["usage"];
    let count = |key: &str| usage[key].as_u64().unwrap_or(0);
    Finished {
        is_error: value["is_error"].as_bool().unwrap_or(false),
        subtype: value["subtype"].as_str().unwrap_or_default().to_string(),
        result: value["result"].as_str().unwrap_or_default().to_string(),
        cost_usd: value["total_cost_usd"].as_f64(),
        usage: Usage {
            input_tokens: count("input_tokens"),
            output_tokens: count("output_tokens"),
            cache_creation_input_tokens: count("cache_creation_input_tokens"),
            cache_read_input_tokens: count("cache_read_input_tokens"),
        },
        turns: value["num_turns"].as_u64().map(|t| t as u32),
        permission_denials: value["permission_denials"]
            .as_array()
            .map(|denials| {
                denials
                    .iter()
                    .map(|d| {
                        Denial::unexplained(denial_call(
                            d["tool_name"].as_str().unwrap_or("tool"),
                            &d["tool_input"],
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        api_error_status: value["api_error_status"].as_u64().map(|s| s as u16),
    }
}

/// A refused call in one line: `Bash(touch b.txt)`, `Read(/etc/shadow)`, `WebFetch`.
fn denial_call(tool: &str, input: &Value) -> String {
    match input["command"].as_str() {
        Some(command) => format!("{tool}({command})"),
        None => match input["file_path"].as_str().or(input["url"].as_str()) {
            Some(path) => format!("{tool}({path})"),
            None => tool.to_string(),
        },
    }
}

fn retry_message(value: &Value) -> String {
    let attempt = value["attempt"].as_u64().map(|a| format!("attempt {a}"));
    let status = value["error_status"]
        .as_u64()
        .map(|s| format!("status {s}"));
    let error = value["error"].as_str().map(str::to_string);
    let parts: Vec<String> = [attempt, status, error].into_iter().flatten().collect();
    if parts.is_empty() {
        "API request retried".to_string()
    } else {
        format!("API request retried ({})", parts.join(", "))
    }
}

/// A one-line summary of a tool call: `src/lib.rs`, `make test-unit`.
fn tool_summary(input: &Value) -> String {
    for key in [
        "command",
        "file_path",
        "path",
        "pattern",
        "url",
        "description",
    ] {
        if let Some(text) = input[key].as_str() {
            return one_line(text.lines().next().unwrap_or_default(), 120);
        }
    }
    String::new()
}

fn tool_result_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
#[path = "claude_tests.rs"]
mod tests;
