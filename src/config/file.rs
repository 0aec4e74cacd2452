//! The `kmilestone.toml` file: its shape, unknown keys (warned about, never fatal) and the key
//! path in every error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::sandbox::gate_entries;
use super::{
    AgentKind, CodexSettings, CommitMode, ConfigError, Permission, PriceTable, Sandbox,
    SandboxSettings, Settings, WorkflowMode,
};

/// The file's shape. Every field is optional; unknown keys are collected for warnings.
#[derive(Debug, Default, Deserialize)]
struct FileConfig {
    /// `agent = "claude"`, or an `[agent]` table (`name`, `[agent.claude]`, `[agent.codex]`,
    /// `[agent.command]`).
    agent: Option<toml::Value>,
    gates: Option<GatesSection>,
    run: Option<RunSection>,
    workflow: Option<WorkflowSection>,
    checks: Option<crate::checks::ChecksConfig>,
    notify: Option<NotifySection>,
}

#[derive(Debug, Default, Deserialize)]
struct AgentTable {
    name: Option<AgentKind>,
    claude: Option<ClaudeSection>,
    codex: Option<CodexSection>,
    command: Option<CommandSection>,
    /// Hosts the agent's sandboxed commands may reach; replaces the package registries.
    network: Option<Vec<String>>,
    writable_paths: Option<Vec<String>>,
    readable_paths: Option<Vec<String>>,
    secret_paths: Option<Vec<String>>,
}

impl AgentTable {
    /// The `[agent]` keys of the sandbox.
    fn apply_sandbox(&mut self, sandbox: &mut SandboxSettings) -> Result<(), String> {
        if let Some(v) = self.network.take() {
            sandbox.network = Some(v);
        }
        for (from, to) in [
            (self.writable_paths.take(), &mut sandbox.writable_paths),
            (self.readable_paths.take(), &mut sandbox.readable_paths),
            (self.secret_paths.take(), &mut sandbox.secret_paths),
        ] {
            if let Some(v) = from {
                *to = v;
            }
        }
        sandbox.check()
    }
}

#[derive(Debug, Default, Deserialize)]
struct ClaudeSection {
    binary: Option<PathBuf>,
    model: Option<String>,
    max_turns: Option<u32>,
    append_system_prompt: Option<String>,
    extra_args: Option<Vec<String>>,
    permission: Option<Permission>,
    allowed_tools: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct CodexSection {
    binary: Option<PathBuf>,
    model: Option<String>,
    /// `"sandbox"` (workspace-write) or `"bypass"`.
    permission: Option<Sandbox>,
    /// `-c key=value` entries for Codex's own configuration.
    config: Option<Vec<String>>,
    extra_args: Option<Vec<String>>,
    /// `"gpt-5.5" = { input = 1.25, cached_input = 0.125, output = 10.0 }`, dollars per million.
    prices: Option<PriceTable>,
}

impl CodexSection {
    fn apply(self, codex: &mut CodexSettings) {
        if let Some(v) = self.binary {
            codex.binary = v;
        }
        codex.model = self.model.or(codex.model.take());
        if let Some(v) = self.permission {
            codex.sandbox = v;
        }
        if let Some(v) = self.config {
            codex.config = v;
        }
        if let Some(v) = self.extra_args {
            codex.extra_args = v;
        }
        if let Some(v) = self.prices {
            codex.prices = v;
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct CommandSection {
    argv: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct GatesSection {
    /// Commands, each `"make test"` or `{ command = "make e2e", sandbox = false }`.
    commands: Option<toml::Value>,
    timeout: Option<String>,
    /// `false`: every gate runs unsandboxed.
    sandbox: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct RunSection {
    retries: Option<u32>,
    quality_retries: Option<u32>,
    task_timeout: Option<String>,
    idle_timeout: Option<String>,
    result_grace: Option<String>,
    kill_grace: Option<String>,
    commit: Option<CommitMode>,
    max_cost: Option<f64>,
    max_task_cost: Option<f64>,
    max_time: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct NotifySection {
    command: Option<Vec<String>>,
    timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct WorkflowSection {
    mode: Option<WorkflowMode>,
    template: Option<PathBuf>,
}

/// `agent.claude.colour`: a key path without serde's `?` markers for optional values.
fn key_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", key_path(parent)),
        P::Map { parent, key } => {
            let parent = key_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            key_path(parent)
        }
    }
}

/// A cap in dollars: positive and finite.
pub(super) fn usd(path: &Path, key: &str, value: f64) -> Result<f64, ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(ConfigError::Parse {
            path: path.to_path_buf(),
            message: format!(
                "{key} = {value}: expected an amount in US dollars above 0 (e.g. 25 or 2.5)"
            ),
        })
    }
}

fn duration(path: &Path, key: &str, value: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(value).map_err(|err| ConfigError::Parse {
        path: path.to_path_buf(),
        message: format!("{key} = \"{value}\": {err} (examples: \"20m\", \"90s\", \"1h 30m\")"),
    })
}

impl Settings {
    pub(super) fn apply_file(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let deserializer = toml::Deserializer::parse(text).map_err(|err| ConfigError::Parse {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
        let mut unknown = Vec::new();
        let file: FileConfig = serde_ignored::deserialize(deserializer, |key| {
            unknown.push(key_path(&key));
        })
        .map_err(|err| ConfigError::Parse {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
        let parse_error = |message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        };
        match file.agent {
            Some(toml::Value::String(name)) => {
                self.agent = AgentKind::parse(&name).ok_or_else(|| {
                    parse_error(format!(
                        "agent = \"{name}\": expected claude, codex or command"
                    ))
                })?;
            }
            Some(value @ toml::Value::Table(_)) => {
                let mut table: AgentTable = serde_ignored::deserialize(value, |key| {
                    unknown.push(format!("agent.{}", key_path(&key)));
                })
                .map_err(|err| parse_error(format!("agent: {err}")))?;
                if let Some(kind) = table.name {
                    self.agent = kind;
                }
                table
                    .apply_sandbox(&mut self.sandbox)
                    .map_err(parse_error)?;
                if let Some(claude) = table.claude {
                    let c = &mut self.claude;
                    if let Some(v) = claude.binary {
                        c.binary = v;
                    }
                    c.model = claude.model.or(c.model.take());
                    c.max_turns = claude.max_turns.or(c.max_turns);
                    c.append_system_prompt = claude
                        .append_system_prompt
                        .or(c.append_system_prompt.take());
                    if let Some(v) = claude.extra_args {
                        c.extra_args = v;
                    }
                    if let Some(v) = claude.permission {
                        c.permission = v;
                    }
                    if let Some(v) = claude.allowed_tools {
                        c.allowed_tools = v;
                    }
                }
                if let Some(codex) = table.codex {
                    codex.apply(&mut self.codex);
                }
                if let Some(command) = table.command
                    && let Some(argv) = command.argv
                {
                    self.command_agent.argv = argv;
                }
            }
            Some(_) => {
                return Err(parse_error(
                    "agent: expected a name (\"claude\") or an [agent] table".to_string(),
                ));
            }
            None => {}
        }
        if let Some(gates) = file.gates {
            if let Some(commands) = gates.commands {
                let entries = gate_entries(&commands, &mut unknown).map_err(parse_error)?;
                self.gate_sandbox.unsandboxed = entries
                    .iter()
                    .filter(|e| !e.sandbox)
                    .map(|e| e.command.clone())
                    .collect();
                self.gate_commands = Some(entries.into_iter().map(|e| e.command).collect());
            }
            if let Some(timeout) = gates.timeout {
                self.gate_timeout = duration(path, "gates.timeout", &timeout)?;
            }
            if let Some(enabled) = gates.sandbox {
                self.gate_sandbox.enabled = enabled;
            }
        }
        unknown.sort();
        self.unknown_keys = unknown;
        if let Some(run) = file.run {
            if let Some(v) = run.retries {
                self.retries = v;
            }
            if let Some(v) = run.quality_retries {
                self.quality_retries = v;
            }
            if let Some(v) = run.task_timeout {
                self.task_timeout = duration(path, "run.task_timeout", &v)?;
            }
            if let Some(v) = run.idle_timeout {
                self.idle_timeout = duration(path, "run.idle_timeout", &v)?;
            }
            if let Some(v) = run.result_grace {
                self.result_grace = duration(path, "run.result_grace", &v)?;
            }
            if let Some(v) = run.kill_grace {
                self.kill_grace = duration(path, "run.kill_grace", &v)?;
            }
            if let Some(v) = run.commit {
                self.commit = v;
            }
            if let Some(v) = run.max_cost {
                self.caps.max_cost = Some(usd(path, "run.max_cost", v)?);
            }
            if let Some(v) = run.max_task_cost {
                self.caps.max_task_cost = Some(usd(path, "run.max_task_cost", v)?);
            }
            if let Some(v) = run.max_time {
                self.caps.max_time = Some(duration(path, "run.max_time", &v)?);
            }
        }
        if let Some(notify) = file.notify {
            if let Some(command) = notify.command {
                if command.is_empty() {
                    return Err(parse_error(
                        "notify.command: name a program (and its arguments)".to_string(),
                    ));
                }
                self.notify = Some(command);
            }
            if let Some(v) = notify.timeout {
                self.notify_timeout = duration(path, "notify.timeout", &v)?;
            }
        }
        if let Some(checks) = file.checks {
            self.checks = checks;
        }
        if let Some(workflow) = file.workflow {
            if let Some(mode) = workflow.mode {
                self.workflow = mode;
            }
            if let Some(template) = workflow.template {
                self.workflow_template = Some(template);
            }
        }
        Ok(())
    }
}
