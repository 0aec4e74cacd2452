//! Resolved settings: built-in defaults, then `kmilestone.toml`, then `KMILESTONE_*` environment
//! variables, then the command line (DESIGN section 9).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::env_vars;

/// Which agent runs the tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    Claude,
    Command,
}

impl AgentKind {
    pub fn parse(name: &str) -> Option<AgentKind> {
        match name {
            "claude" => Some(AgentKind::Claude),
            "command" => Some(AgentKind::Command),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AgentKind::Claude => "claude",
            AgentKind::Command => "command",
        }
    }
}

/// How the agent's tool permissions are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Edits allowed; Bash only for git and the gate commands.
    Default,
    /// Every tool allowed without asking: the user's explicit choice.
    Bypass,
}

/// Who commits a task's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitMode {
    Agent,
    Runner,
}

/// How the workflow reaches the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkflowMode {
    /// The project's own ktask workflow text in front of the context.
    Builtin,
    /// The repository's `/ktask` slash command (`.claude/commands/ktask.md`).
    SlashCommand,
}

#[derive(Debug, Clone)]
pub struct ClaudeSettings {
    pub binary: PathBuf,
    pub model: Option<String>,
    pub max_turns: Option<u32>,
    pub append_system_prompt: Option<String>,
    pub extra_args: Vec<String>,
    pub permission: Permission,
    /// More `--allowedTools` entries beyond the defaults.
    pub allowed_tools: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CommandAgentSettings {
    /// The program and its arguments; it reads the prompt on stdin.
    pub argv: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub agent: AgentKind,
    pub claude: ClaudeSettings,
    pub command_agent: CommandAgentSettings,
    /// `None`: detect from the project.
    pub gate_commands: Option<Vec<String>>,
    pub gate_timeout: Duration,
    pub retries: u32,
    /// Fix attempts for unit-test quality findings.
    pub quality_retries: u32,
    pub task_timeout: Duration,
    pub idle_timeout: Duration,
    /// How long the agent may live after its final result line.
    pub result_grace: Duration,
    /// SIGTERM → SIGKILL.
    pub kill_grace: Duration,
    pub commit: CommitMode,
    pub workflow: WorkflowMode,
    /// Replaces the built-in workflow text.
    pub workflow_template: Option<PathBuf>,
    /// Where `.kmilestone` state lives is derived elsewhere; this only records where the config came from.
    pub source: Option<PathBuf>,
    /// Unknown keys found in the file, for warnings.
    pub unknown_keys: Vec<String>,
    /// The unit-test quality check (`[checks]`).
    pub checks: crate::checks::ChecksConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            agent: AgentKind::Claude,
            claude: ClaudeSettings {
                binary: PathBuf::from("claude"),
                model: None,
                max_turns: None,
                append_system_prompt: None,
                extra_args: Vec::new(),
                permission: Permission::Default,
                allowed_tools: Vec::new(),
            },
            command_agent: CommandAgentSettings { argv: Vec::new() },
            gate_commands: None,
            gate_timeout: Duration::from_secs(20 * 60),
            retries: 2,
            quality_retries: 2,
            task_timeout: Duration::from_secs(60 * 60),
            idle_timeout: Duration::from_secs(10 * 60),
            result_grace: Duration::from_secs(30),
            kill_grace: Duration::from_secs(5),
            commit: CommitMode::Agent,
            workflow: WorkflowMode::Builtin,
            workflow_template: None,
            source: None,
            unknown_keys: Vec::new(),
            checks: crate::checks::ChecksConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{name}={value}: {message}")]
    Env {
        name: &'static str,
        value: String,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The file's shape. Every field is optional; unknown keys are collected for warnings.
#[derive(Debug, Default, Deserialize)]
struct FileConfig {
    /// `agent = "claude"`, or an `[agent]` table (`name`, `[agent.claude]`, `[agent.command]`).
    agent: Option<toml::Value>,
    gates: Option<GatesSection>,
    run: Option<RunSection>,
    workflow: Option<WorkflowSection>,
    checks: Option<crate::checks::ChecksConfig>,
}

#[derive(Debug, Default, Deserialize)]
struct AgentTable {
    name: Option<AgentKind>,
    claude: Option<ClaudeSection>,
    command: Option<CommandSection>,
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
struct CommandSection {
    argv: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct GatesSection {
    commands: Option<Vec<String>>,
    timeout: Option<String>,
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

fn duration(path: &Path, key: &str, value: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(value).map_err(|err| ConfigError::Parse {
        path: path.to_path_buf(),
        message: format!("{key} = \"{value}\": {err} (examples: \"20m\", \"90s\", \"1h 30m\")"),
    })
}

impl Settings {
    /// Reads `explicit` or, when absent, `kmilestone.toml` in `root` if it exists, then applies
    /// the environment.
    pub fn load(root: Option<&Path>, explicit: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut settings = Settings::default();
        let path = match explicit {
            Some(path) => Some(path.to_path_buf()),
            None => root
                .map(|r| r.join("kmilestone.toml"))
                .filter(|p| p.is_file()),
        };
        if let Some(path) = path {
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            settings.apply_file(&path, &text)?;
            if let Some(template) = settings.workflow_template.as_mut()
                && template.is_relative()
                && let Some(dir) = path.parent()
            {
                *template = dir.join(&*template);
            }
            settings.source = Some(path);
        }
        settings.apply_env(|name| std::env::var(name).ok())?;
        Ok(settings)
    }

    fn apply_file(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
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
                    parse_error(format!("agent = \"{name}\": expected claude or command"))
                })?;
            }
            Some(value @ toml::Value::Table(_)) => {
                let table: AgentTable = serde_ignored::deserialize(value, |key| {
                    unknown.push(format!("agent.{}", key_path(&key)));
                })
                .map_err(|err| parse_error(format!("agent: {err}")))?;
                if let Some(kind) = table.name {
                    self.agent = kind;
                }
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
        unknown.sort();
        self.unknown_keys = unknown;
        if let Some(gates) = file.gates {
            if let Some(commands) = gates.commands {
                self.gate_commands = Some(commands);
            }
            if let Some(timeout) = gates.timeout {
                self.gate_timeout = duration(path, "gates.timeout", &timeout)?;
            }
        }
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

    /// Applies `KMILESTONE_*` variables; `lookup` is `std::env::var` outside tests.
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&'static str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let env_duration = |name: &'static str| -> Result<Option<Duration>, ConfigError> {
            lookup(name)
                .map(|value| {
                    humantime::parse_duration(&value).map_err(|err| ConfigError::Env {
                        name,
                        message: err.to_string(),
                        value,
                    })
                })
                .transpose()
        };
        if let Some(bin) = lookup(env_vars::CLAUDE_BIN) {
            self.claude.binary = PathBuf::from(bin);
        }
        if let Some(name) = lookup(env_vars::AGENT) {
            self.agent = AgentKind::parse(&name).ok_or(ConfigError::Env {
                name: env_vars::AGENT,
                value: name,
                message: "expected claude or command".to_string(),
            })?;
        }
        if let Some(value) = lookup(env_vars::RETRIES) {
            self.retries = value.parse().map_err(|_| ConfigError::Env {
                name: env_vars::RETRIES,
                value,
                message: "expected a whole number".to_string(),
            })?;
        }
        if let Some(v) = env_duration(env_vars::TASK_TIMEOUT)? {
            self.task_timeout = v;
        }
        if let Some(v) = env_duration(env_vars::IDLE_TIMEOUT)? {
            self.idle_timeout = v;
        }
        if let Some(v) = env_duration(env_vars::RESULT_GRACE)? {
            self.result_grace = v;
        }
        if let Some(v) = env_duration(env_vars::KILL_GRACE)? {
            self.kill_grace = v;
        }
        if let Some(v) = env_duration(env_vars::GATE_TIMEOUT)? {
            self.gate_timeout = v;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, ConfigError> {
        let mut settings = Settings::default();
        settings.apply_file(Path::new("kmilestone.toml"), text)?;
        Ok(settings)
    }

    #[test]
    fn reads_every_documented_key() {
        let settings = parse(
            r#"
agent = "claude"
[gates]
commands = ["make test-unit", "make quality"]
timeout = "20m"
[run]
retries = 3
task_timeout = "1h"
idle_timeout = "5m"
commit = "runner"
"#,
        )
        .unwrap();
        assert_eq!(
            settings.gate_commands,
            Some(vec![
                "make test-unit".to_string(),
                "make quality".to_string()
            ])
        );
        assert_eq!(settings.gate_timeout, Duration::from_secs(1200));
        assert_eq!(settings.retries, 3);
        assert_eq!(settings.task_timeout, Duration::from_secs(3600));
        assert_eq!(settings.idle_timeout, Duration::from_secs(300));
        assert_eq!(settings.commit, CommitMode::Runner);
        assert!(settings.unknown_keys.is_empty());
    }

    #[test]
    fn agent_table_form_and_unknown_keys() {
        let settings = parse(
            r#"
[agent]
name = "claude"
[agent.claude]
binary = "/opt/claude"
permission = "bypass"
colour = "blue"
[run]
retriez = 1
"#,
        )
        .unwrap();
        assert_eq!(settings.claude.binary, PathBuf::from("/opt/claude"));
        assert_eq!(settings.claude.permission, Permission::Bypass);
        assert_eq!(
            settings.unknown_keys,
            vec!["agent.claude.colour".to_string(), "run.retriez".to_string()]
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = parse("[run]\ntask_timeout = \"soon\"\n").unwrap_err();
        assert!(err.to_string().contains("run.task_timeout"), "{err}");
        let err = parse("[run]\ncommit = \"nobody\"\n").unwrap_err();
        assert!(err.to_string().contains("kmilestone.toml"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut settings = parse("[run]\nretries = 5\n").unwrap();
        settings
            .apply_env(|name| match name {
                env_vars::RETRIES => Some("1".to_string()),
                env_vars::CLAUDE_BIN => Some("/bin/fake-claude".to_string()),
                _ => None,
            })
            .unwrap();
        assert_eq!(settings.retries, 1);
        assert_eq!(settings.claude.binary, PathBuf::from("/bin/fake-claude"));
        let err = settings
            .apply_env(|name| (name == env_vars::IDLE_TIMEOUT).then(|| "x".to_string()))
            .unwrap_err();
        assert!(err.to_string().contains("KMILESTONE_IDLE_TIMEOUT"), "{err}");
    }
}
