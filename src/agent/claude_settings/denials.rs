//! Refused tool calls, in words a human can act on: what was refused and the setting that would
//! allow it.
//!
//! Claude Code reports refusals twice: each as a `system/permission_denied` line when it happens
//! (`tool_name`, `tool_use_id`, `decision_reason_type` such as `mode` or `subcommandResults`, and
//! its `message`, without the tool's input), and all of them in the `result` line's
//! `permission_denials` (`tool_name`, `tool_use_id`, `tool_input`). A refusal by a path deny rule
//! of the Read tool has no `system` line, only the `permission_denials` entry.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::keys;
use super::modes::{ALLOWLIST_GIT_DENY, Mode, PermissionInputs};
use super::paths::{self, DEFAULT_SECRET_PATHS, HOME_SECRETS};

/// One refused tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct Denial {
    pub tool: String,
    /// The tool's input; `Null` when the line did not carry it.
    pub input: Value,
    pub tool_use_id: Option<String>,
    /// The CLI's own words (`system/permission_denied` lines only).
    pub message: Option<String>,
}

/// The `permission_denials` of a `result` line.
pub fn denials_of_result(result: &Value) -> Vec<Denial> {
    result["permission_denials"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|entry| Denial {
                    tool: entry["tool_name"].as_str().unwrap_or("tool").to_string(),
                    input: entry["tool_input"].clone(),
                    tool_use_id: entry["tool_use_id"].as_str().map(str::to_string),
                    message: None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The refusal a `system/permission_denied` line reports. The command comes from the message
/// when it names one ("Permission to use Bash with command X has been denied.").
pub fn denial_of_system_line(line: &Value) -> Option<Denial> {
    if line["type"] != "system" || line["subtype"] != "permission_denied" {
        return None;
    }
    let message = line["message"].as_str().map(str::to_string);
    let input = message
        .as_deref()
        .and_then(|m| m.split_once(" with command "))
        .and_then(|(_, rest)| rest.strip_suffix(" has been denied."))
        .map_or(
            Value::Null,
            |command| serde_json::json!({ "command": command }),
        );
    Some(Denial {
        tool: line["tool_name"].as_str().unwrap_or("tool").to_string(),
        input,
        tool_use_id: line["tool_use_id"].as_str().map(str::to_string),
        message,
    })
}

/// "command `touch x` was refused; the setting that would allow it is …", for the mode the run
/// used.
pub fn explain_denial(denial: &Denial, inputs: &PermissionInputs) -> String {
    let subject = subject(denial);
    if inputs.mode == Mode::Bypass {
        return format!(
            "{subject} was refused by a deny rule of Claude Code's own settings (~/.claude/settings.json or the project's .claude/settings*.json); kmilestone adds no rules in bypass mode"
        );
    }
    let reason = match denial.tool.as_str() {
        "Bash" => Some(match denial.input["command"].as_str() {
            Some(command) => bash_reason(command, inputs),
            None => format!(
                "the setting that would allow it is a Bash(…) rule in {}, or {} = \"sandbox\" (any command, sandboxed)",
                keys::ALLOWED_TOOLS,
                keys::PERMISSION
            ),
        }),
        "Write" | "Edit" | "MultiEdit" | "NotebookEdit" => {
            file_path(&denial.input).map(|p| write_reason(&p, inputs))
        }
        "Read" | "Glob" | "Grep" => file_path(&denial.input).map(|p| read_reason(&p, inputs)),
        "WebFetch" => Some(web_fetch_reason(&denial.input, inputs.mode)),
        "EnterWorktree" | "ExitWorktree" => Some(format!(
            "kmilestone keeps the session on the task's branch and directory; the setting that would allow it is {} = [\"{}\"] (not advised)",
            keys::ALLOWED_TOOLS,
            denial.tool
        )),
        _ => None,
    };
    let reason = reason.unwrap_or_else(|| {
        format!(
            "the setting that would allow it is {} = [\"{}\"]",
            keys::ALLOWED_TOOLS,
            denial.tool
        )
    });
    format!("{subject} was refused; {reason}")
}

fn subject(denial: &Denial) -> String {
    let input = &denial.input;
    if let Some(command) = input["command"].as_str() {
        return format!("command `{command}`");
    }
    if let Some(url) = input["url"].as_str() {
        return format!("{} of `{url}`", denial.tool);
    }
    match (denial.tool.as_str(), file_path(input)) {
        ("Read" | "Glob" | "Grep", Some(path)) => format!("reading `{}`", path.display()),
        (_, Some(path)) => format!("{} of `{}`", denial.tool, path.display()),
        _ => format!("tool {}", denial.tool),
    }
}

fn file_path(input: &Value) -> Option<PathBuf> {
    ["file_path", "notebook_path", "path"]
        .iter()
        .find_map(|key| input[key].as_str())
        .map(PathBuf::from)
}

fn bash_reason(command: &str, inputs: &PermissionInputs) -> String {
    if let Some(hidden) = hidden_path_in(command, inputs) {
        return hidden;
    }
    if inputs.mode == Mode::Sandbox {
        return format!(
            "sandbox mode allows every command, so a deny rule of Claude Code's own settings (~/.claude/settings.json or the project's .claude/settings*.json) or one of {} refused it",
            keys::ALLOWED_TOOLS
        );
    }
    if let Some((_, why)) = ALLOWLIST_GIT_DENY
        .iter()
        .find(|(rule, _)| bash_rule_matches(rule, command))
    {
        return format!(
            "kmilestone refuses it in allowlist mode ({why}) and no setting allows it there; {} = \"sandbox\" runs any command inside the sandbox",
            keys::PERMISSION
        );
    }
    if let Some(gate) = inputs
        .gate_commands
        .iter()
        .find(|gate| segments(command).any(|segment| segment.starts_with(&format!("{gate} "))))
    {
        return format!(
            "the gate command `{gate}` is allowed only exactly as configured (options such as -f or --eval would run any code) and no setting widens it; {} = \"sandbox\" runs any command inside the sandbox",
            keys::PERMISSION
        );
    }
    let rules: Vec<String> = segments(command)
        .filter(|segment| !allowed_in_allowlist(segment, inputs))
        .filter_map(suggested_rule)
        .collect();
    let rules = if rules.is_empty() {
        suggested_rule(command).into_iter().collect()
    } else {
        rules
    };
    let quoted: Vec<String> = rules.iter().map(|r| format!("\"{r}\"")).collect();
    format!(
        "the setting that would allow it is {} = [{}], or {} = \"sandbox\" (any command, sandboxed)",
        keys::ALLOWED_TOOLS,
        quoted.join(", "),
        keys::PERMISSION
    )
}

fn write_reason(path: &Path, inputs: &PermissionInputs) -> String {
    if let Ok(rel) = path.strip_prefix(&inputs.repo) {
        let first = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        if matches!(first.as_deref(), Some(".git" | ".claude")) {
            return "the agent may never change its own supervision (.git config and hooks, .claude settings); no setting allows it".to_string();
        }
        return "a deny rule of Claude Code's own settings (~/.claude/settings.json or the project's .claude/settings*.json) refused it".to_string();
    }
    if let Some(hidden) = hidden_path(path, inputs, Reach::Tool) {
        return hidden;
    }
    format!(
        "the agent writes only inside the repository; the setting that would allow it is {} = [\"Edit({}/**)\"]",
        keys::ALLOWED_TOOLS,
        paths::rule_path(parent_or_self(path))
    )
}

fn read_reason(path: &Path, inputs: &PermissionInputs) -> String {
    if let Some(hidden) = hidden_path(path, inputs, Reach::Tool) {
        return hidden;
    }
    if path.starts_with(&inputs.repo) {
        return "a deny rule of Claude Code's own settings (~/.claude/settings.json or the project's .claude/settings*.json) refused it".to_string();
    }
    format!(
        "the agent reads only inside the repository; the setting that would allow it is {} = [\"Read({}/**)\"]",
        keys::ALLOWED_TOOLS,
        paths::rule_path(parent_or_self(path))
    )
}

fn web_fetch_reason(input: &Value, mode: Mode) -> String {
    let host = input["url"].as_str().map_or_else(
        || "HOST".to_string(),
        |url| super::domains::api_host(Some(url)),
    );
    let why = match mode {
        Mode::Sandbox => "WebFetch runs outside the sandbox, so sandbox mode refuses it; ",
        _ => "",
    };
    format!(
        "{why}the setting that would allow it is {} = [\"WebFetch(domain:{host})\"]",
        keys::ALLOWED_TOOLS
    )
}

/// Who was refused a path: the sandbox hides the home directory from commands only; the file
/// tools run outside it, where a rule of their own decides.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reach {
    Command,
    Tool,
}

/// Why `path` is hidden from the agent, when it is.
fn hidden_path(path: &Path, inputs: &PermissionInputs, reach: Reach) -> Option<String> {
    let home = &inputs.home;
    if path.starts_with(&inputs.repo) {
        return None;
    }
    let configured = paths::expand_all(&inputs.secret_paths, home, None).unwrap_or_default();
    if let Some(secret) = configured.iter().find(|s| path.starts_with(s)) {
        // The built-in list is always added to the configured one: no setting removes those.
        if DEFAULT_SECRET_PATHS.iter().any(|d| Path::new(d) == secret) {
            return Some(format!(
                "`{}` holds the machine's secrets, always hidden from the agent; no setting shows it",
                secret.display()
            ));
        }
        return Some(format!(
            "`{}` is a secret path, hidden from the agent; the setting that would show it is {} (remove the path)",
            paths::display_path(secret, home),
            keys::SECRET_PATHS
        ));
    }
    let built_in = HOME_SECRETS
        .iter()
        .map(|rel| home.join(rel))
        .find(|s| path.starts_with(s));
    if let Some(secret) = built_in {
        return Some(format!(
            "`{}` holds credentials, always hidden from the agent; no setting shows it",
            paths::display_path(&secret, home)
        ));
    }
    if path.starts_with(home) && inputs.mode == Mode::Sandbox && reach == Reach::Command {
        return Some(format!(
            "the home directory is hidden from the agent in sandbox mode; {} (to read) or {} (to write) opens a folder of it to commands",
            keys::READABLE_PATHS,
            keys::WRITABLE_PATHS
        ));
    }
    None
}

fn hidden_path_in(command: &str, inputs: &PermissionInputs) -> Option<String> {
    command
        .split(|c: char| c.is_whitespace() || "'\"=<>|;&()".contains(c))
        .filter_map(|word| {
            if let Some(rest) = word.strip_prefix("~/") {
                Some(inputs.home.join(rest))
            } else if word == "~" {
                Some(inputs.home.clone())
            } else {
                word.starts_with('/').then(|| PathBuf::from(word))
            }
        })
        .find_map(|path| hidden_path(&path, inputs, Reach::Command))
}

fn parent_or_self(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(path)
}

/// The simple commands of a compound command, split at `&&`, `||`, `;`, `|` and newlines.
fn segments(command: &str) -> impl Iterator<Item = &str> {
    command
        .split(['&', '|', ';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn allowed_in_allowlist(segment: &str, inputs: &PermissionInputs) -> bool {
    let git = ["add", "commit", "status", "diff", "log"]
        .iter()
        .any(|sub| segment == format!("git {sub}") || segment.starts_with(&format!("git {sub} ")));
    git || inputs.gate_commands.iter().any(|gate| gate == segment)
        || inputs
            .extra_rules
            .iter()
            .any(|rule| bash_rule_matches(rule, segment))
}

/// A `Bash(prefix:*)` rule for a command: the program and its subcommand (`cargo test`,
/// `npm test`, `python -m pytest`), never its arguments.
fn suggested_rule(command: &str) -> Option<String> {
    let mut words = Vec::new();
    for word in command.split_whitespace() {
        let plain = word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        let module_flag = word == "-m" && words.len() == 1;
        let limit = if words.get(1) == Some(&"-m") { 3 } else { 2 };
        if words.len() >= limit
            || !(plain || module_flag)
            || (word.starts_with('-') && !module_flag)
        {
            break;
        }
        words.push(word);
    }
    (!words.is_empty()).then(|| format!("Bash({}:*)", words.join(" ")))
}

/// Whether a `Bash(…)` rule matches `command`: `Bash(x:*)` as a prefix, `*` as any text,
/// otherwise exactly. A close reading of the CLI's rules, for explanations only.
fn bash_rule_matches(rule: &str, command: &str) -> bool {
    let Some(pattern) = rule.strip_prefix("Bash(").and_then(|r| r.strip_suffix(')')) else {
        return false;
    };
    if let Some(prefix) = pattern.strip_suffix(":*") {
        return command == prefix || command.starts_with(&format!("{prefix} "));
    }
    wildcard_matches(pattern, command)
}

fn wildcard_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    if parts.is_empty() {
        return rest.is_empty();
    }
    for (i, part) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
#[path = "denials_tests.rs"]
mod tests;
