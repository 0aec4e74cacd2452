//! Claude Code: `claude -p --output-format stream-json --verbose`, prompt on stdin.

use std::ffi::OsString;
use std::path::Path;

use serde_json::Value;

use super::tool_output::{self, one_line};
use super::{Adapter, AgentCommand};
use crate::config::{ClaudeSettings, Permission};
use crate::events::{AgentEvent, Finished, Permission as Granted, Usage};

/// The tools a task needs besides Bash. `Edit(./**)` covers Write and Edit inside the working
/// directory only: a bare `Edit` would let Write reach files outside the repository.
const EDIT_TOOLS: &[&str] = &["Edit(./**)", "Read", "Glob", "Grep", "TodoWrite"];

pub struct Claude {
    settings: ClaudeSettings,
    /// Gate commands the agent may run through Bash under the default permissions.
    gate_commands: Vec<String>,
}

impl Claude {
    pub fn new(settings: ClaudeSettings, gate_commands: Vec<String>) -> Claude {
        Claude {
            settings,
            gate_commands,
        }
    }

    /// The `--allowedTools` entries of the default permission mode.
    pub fn allowed_tools(&self) -> Vec<String> {
        let mut tools: Vec<String> = EDIT_TOOLS
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        tools.push("Bash(git:*)".to_string());
        for gate in &self.gate_commands {
            tools.push(format!("Bash({gate})"));
            tools.push(format!("Bash({gate}:*)"));
        }
        tools.extend(self.settings.allowed_tools.iter().cloned());
        tools
    }

    /// What the agent may do, for the run header.
    pub fn granted(&self) -> Granted {
        match self.settings.permission {
            Permission::Bypass => Granted::Bypass,
            Permission::Default => {
                let mut bash = vec!["git".to_string()];
                bash.extend(self.gate_commands.iter().cloned());
                Granted::AllowList { bash }
            }
        }
    }
}

impl Adapter for Claude {
    fn name(&self) -> &str {
        "claude"
    }

    fn can_resume(&self) -> bool {
        true
    }

    fn permission(&self) -> Granted {
        self.granted()
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
        match self.settings.permission {
            Permission::Bypass => args.push("--dangerously-skip-permissions".into()),
            Permission::Default => {
                // `dontAsk` denies whatever is not allowed, and tells the model so. `acceptEdits`
                // would not do: it lets file-changing shell commands (touch, rm) through.
                args.push("--permission-mode".into());
                args.push("dontAsk".into());
                args.push("--allowedTools".into());
                args.extend(self.allowed_tools().into_iter().map(OsString::from));
            }
        }
        args.extend(self.settings.extra_args.iter().map(OsString::from));
        AgentCommand {
            program: self.settings.binary.clone(),
            args,
            stdin: prompt.as_bytes().to_vec(),
        }
    }

    fn parse_line(&mut self, line: &str) -> Vec<AgentEvent> {
        parse_stream_line(line)
    }
}

/// Reads one stream-json line. Lines that are not JSON objects are skipped (and logged).
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
        "system" => match value["subtype"].as_str() {
            Some("init") => vec![AgentEvent::Started {
                session_id: value["session_id"].as_str().unwrap_or_default().to_string(),
                model: value["model"].as_str().map(str::to_string),
            }],
            Some("api_retry") => vec![AgentEvent::Retry {
                message: retry_message(&value),
            }],
            _ => vec![AgentEvent::Unknown {
                line_type: format!("system/{}", value["subtype"].as_str().unwrap_or("?")),
            }],
        },
        "assistant" => content_blocks(&value)
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
        "user" => content_blocks(&value)
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
        "result" => vec![AgentEvent::Finished(finished(&value))],
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
            .map(|denials| denials.iter().map(denial_summary).collect())
            .unwrap_or_default(),
        api_error_status: value["api_error_status"].as_u64().map(|s| s as u16),
    }
}

fn denial_summary(denial: &Value) -> String {
    let tool = denial["tool_name"].as_str().unwrap_or("tool");
    let input = &denial["tool_input"];
    match input["command"].as_str() {
        Some(command) => format!("{tool}({command})"),
        None => match input["file_path"].as_str() {
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
mod tests {
    use super::*;

    /// Real stdout of the pinned Claude Code against the project's mock (paths rewritten),
    /// captured by `tests/integration/claude_sample.rs`.
    fn sample() -> String {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/agents/claude_stream_sample.jsonl"
        );
        std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{path}: {err}"))
    }

    #[test]
    fn reads_the_real_stream_sample() {
        let events: Vec<AgentEvent> = sample().lines().flat_map(parse_stream_line).collect();
        assert!(matches!(
            &events[0],
            AgentEvent::Started { session_id, .. } if session_id == "c6dcea63-47e6-40b7-8c29-94960464962b"
        ));
        let tools: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                AgentEvent::ToolUse { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(tools, vec!["Write", "Bash", "Read", "Write"]);
        let Some(AgentEvent::Finished(finished)) = events.last() else {
            panic!("no result event")
        };
        assert!(!finished.is_error);
        assert_eq!(finished.cost_usd, Some(0.003));
        assert_eq!(finished.usage.input_tokens, 500);
        assert_eq!(finished.usage.output_tokens, 50);
        assert_eq!(finished.turns, Some(5));
        assert_eq!(
            finished.result,
            "All done: hello.txt created, appended, HANDOFF.md updated."
        );
    }

    #[test]
    fn error_under_success_subtype_and_denials() {
        let line = r#"{"type":"result","subtype":"success","is_error":true,"api_error_status":529,"result":"API Error: 529 overloaded","permission_denials":[{"tool_name":"Bash","tool_use_id":"t1","tool_input":{"command":"touch b.txt"}}],"total_cost_usd":0,"usage":{}}"#;
        let events = parse_stream_line(line);
        let AgentEvent::Finished(finished) = &events[0] else {
            panic!()
        };
        assert!(finished.is_error);
        assert_eq!(finished.api_error_status, Some(529));
        assert_eq!(finished.permission_denials, vec!["Bash(touch b.txt)"]);
    }

    #[test]
    fn garbage_and_unknown_lines_are_tolerated() {
        assert!(parse_stream_line("not json at all").is_empty());
        assert!(parse_stream_line("[1,2]").is_empty());
        assert!(parse_stream_line("").is_empty());
        assert_eq!(
            parse_stream_line(r#"{"type":"stream_event","event":{}}"#),
            vec![AgentEvent::Unknown {
                line_type: "stream_event".to_string()
            }]
        );
    }

    #[test]
    fn default_permissions_allow_edits_git_and_gates_only() {
        let settings = crate::config::Settings::default().claude;
        let claude = Claude::new(settings, vec!["make test-unit".to_string()]);
        let command = claude.command("prompt", Some("abc"), Path::new("."));
        let line = command.display();
        assert!(line.starts_with("claude -p --output-format stream-json --verbose --resume abc"));
        assert!(line.contains("'Bash(git:*)'"), "{line}");
        assert!(line.contains("'Bash(make test-unit)'"), "{line}");
        assert!(!line.contains("skip-permissions"), "{line}");
        assert!(!line.contains("prompt"), "the prompt goes on stdin: {line}");
        assert_eq!(command.stdin, b"prompt");
    }
}
