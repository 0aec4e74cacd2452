//! Resolved settings: built-in defaults, then `kmilestone.toml`, then `KMILESTONE_*` environment
//! variables, then the command line (DESIGN section 9), resolved once in [`Settings::resolve`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::env_vars;

mod codex;
mod detect;
mod file;
mod sandbox;

pub use codex::{CodexSettings, Price, PriceTable, Sandbox};
pub(crate) use detect::detect_gates;
pub(crate) use sandbox::{GateSandboxSettings, Permission, SandboxSettings};

/// Which agent runs the tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    Claude,
    Codex,
    Command,
}

impl AgentKind {
    pub fn parse(name: &str) -> Option<AgentKind> {
        match name {
            "claude" => Some(AgentKind::Claude),
            "codex" => Some(AgentKind::Codex),
            "command" => Some(AgentKind::Command),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AgentKind::Claude => "claude",
            AgentKind::Codex => "codex",
            AgentKind::Command => "command",
        }
    }
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
    /// More permission rules, added to those of the mode (`Bash(npm run lint)`).
    pub allowed_tools: Vec<String>,
    /// `--max-budget-usd`, from `max_task_cost`.
    pub max_budget_usd: Option<f64>,
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
    pub codex: CodexSettings,
    pub command_agent: CommandAgentSettings,
    /// What the agent's sandboxed commands may reach (`[agent]` network and paths).
    pub sandbox: SandboxSettings,
    /// `[gates] commands`; `None`: detect from the project.
    pub gate_commands: Option<Vec<String>>,
    /// The gates the run uses, once resolved: configured, detected, or none (`--no-gates`).
    pub gates: Vec<String>,
    pub gate_timeout: Duration,
    /// Which gates run in kmilestone's sandbox.
    pub gate_sandbox: GateSandboxSettings,
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
    /// The template's text once resolved; `None`: the built-in workflow.
    pub workflow_text: Option<String>,
    /// Where `.kmilestone` state lives is derived elsewhere; this only records where the config came from.
    pub source: Option<PathBuf>,
    /// Unknown keys found in the file, for warnings.
    pub unknown_keys: Vec<String>,
    /// The unit-test quality check (`[checks]`).
    pub checks: crate::checks::ChecksConfig,
    /// Spend and time caps (`[run] max_cost`, `max_task_cost`, `max_time`).
    pub caps: Caps,
    /// The command told when the run needs a human or ends (`[notify] command`); `sh -c`'s
    /// argument list for `--notify`.
    pub notify: Option<Vec<String>>,
    /// How long one notification may take (`[notify] timeout`).
    pub notify_timeout: Duration,
}

/// What a run may spend.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Caps {
    /// Dollars the milestone may have spent, across runs, before a task starts.
    pub max_cost: Option<f64>,
    /// Dollars one task may spend.
    pub max_task_cost: Option<f64>,
    /// Wall-clock time after which no new task starts.
    pub max_time: Option<Duration>,
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
                permission: Permission::Sandbox,
                allowed_tools: Vec::new(),
                max_budget_usd: None,
            },
            codex: CodexSettings::default(),
            command_agent: CommandAgentSettings { argv: Vec::new() },
            sandbox: SandboxSettings::default(),
            gate_commands: None,
            gates: Vec::new(),
            gate_timeout: Duration::from_secs(20 * 60),
            gate_sandbox: GateSandboxSettings::default(),
            retries: 2,
            quality_retries: 2,
            task_timeout: Duration::from_secs(60 * 60),
            idle_timeout: Duration::from_secs(10 * 60),
            result_grace: Duration::from_secs(30),
            kill_grace: Duration::from_secs(5),
            commit: CommitMode::Agent,
            workflow: WorkflowMode::Builtin,
            workflow_template: None,
            workflow_text: None,
            source: None,
            unknown_keys: Vec::new(),
            checks: crate::checks::ChecksConfig::default(),
            caps: Caps::default(),
            notify: None,
            notify_timeout: Duration::from_secs(30),
        }
    }
}

/// A configuration file larger than this is not one.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not a regular file, too large, unreadable: named with the path.
    #[error(transparent)]
    File(#[from] crate::files::ReadError),
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{name}={value}: {message}")]
    Env {
        name: &'static str,
        value: String,
        message: String,
    },
    #[error("--agent {name}: unknown agent (expected claude, codex or command)")]
    UnknownAgent { name: String },
    #[error(
        "agent = \"command\" needs [agent.command] argv = [\"program\", \"arg\"…] in kmilestone.toml"
    )]
    CommandArgvMissing,
    #[error("{path}: cannot read the workflow template: {source}")]
    WorkflowTemplate {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("[workflow] mode = \"slashcommand\" needs {path}")]
    SlashCommandMissing { path: PathBuf },
}

/// What the command line says about the settings: the last word, above the environment and the
/// file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub agent: Option<String>,
    /// `--dangerously-skip-permissions` (Claude Code's and Codex's own checks both off).
    pub bypass_permissions: bool,
    /// `--no-gates`.
    pub no_gates: bool,
    /// `--max-cost`, `--max-task-cost` (dollars), `--max-time`.
    pub max_cost: Option<f64>,
    pub max_task_cost: Option<f64>,
    pub max_time: Option<Duration>,
    /// `--notify CMD`: a shell command line.
    pub notify: Option<String>,
}

impl Settings {
    /// Every setting a run needs, resolved once: the file (`explicit`, or `kmilestone.toml` in
    /// the repository `root`), then the environment, then the command line; the gates detected
    /// from the project when none are configured; the workflow template read.
    pub fn resolve(
        root: &Path,
        explicit: Option<&Path>,
        overrides: &Overrides,
    ) -> Result<Settings, ConfigError> {
        let mut settings = Settings::load(Some(root), explicit)?;
        if let Some(name) = &overrides.agent {
            settings.agent = AgentKind::parse(name)
                .ok_or_else(|| ConfigError::UnknownAgent { name: name.clone() })?;
        }
        if overrides.bypass_permissions {
            settings.claude.permission = Permission::Bypass;
            settings.codex.sandbox = Sandbox::Bypass;
        }
        let flag = Path::new("--max-cost");
        if let Some(v) = overrides.max_cost {
            settings.caps.max_cost = Some(file::usd(flag, "--max-cost", v)?);
        }
        if let Some(v) = overrides.max_task_cost {
            settings.caps.max_task_cost = Some(file::usd(flag, "--max-task-cost", v)?);
        }
        if let Some(v) = overrides.max_time {
            settings.caps.max_time = Some(v);
        }
        settings.claude.max_budget_usd = settings.caps.max_task_cost;
        if let Some(command) = &overrides.notify {
            settings.notify = Some(vec!["sh".to_string(), "-c".to_string(), command.clone()]);
        }
        if settings.agent == AgentKind::Command && settings.command_agent.argv.is_empty() {
            return Err(ConfigError::CommandArgvMissing);
        }
        settings.gates = if overrides.no_gates {
            Vec::new()
        } else {
            match &settings.gate_commands {
                Some(commands) => commands.clone(),
                None => detect_gates(root),
            }
        };
        if let Some(path) = &settings.workflow_template {
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::WorkflowTemplate {
                    path: path.clone(),
                    source,
                })?;
            settings.workflow_text = Some(text);
        }
        let ktask = root.join(".claude/commands/ktask.md");
        if settings.workflow == WorkflowMode::SlashCommand && !ktask.is_file() {
            return Err(ConfigError::SlashCommandMissing { path: ktask });
        }
        tracing::debug!(
            config = ?settings.source,
            agent = settings.agent.name(),
            gates = ?settings.gates,
            "settings resolved"
        );
        Ok(settings)
    }

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
            let bytes = crate::files::read_regular(&path, MAX_CONFIG_BYTES)?;
            let text = String::from_utf8(bytes).map_err(|_| ConfigError::Parse {
                path: path.clone(),
                message: "not valid UTF-8".to_string(),
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
        if let Some(bin) = lookup(env_vars::CODEX_BIN) {
            self.codex.binary = PathBuf::from(bin);
        }
        if let Some(name) = lookup(env_vars::AGENT) {
            self.agent = AgentKind::parse(&name).ok_or(ConfigError::Env {
                name: env_vars::AGENT,
                value: name,
                message: "expected claude, codex or command".to_string(),
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
    fn codex_section_and_its_price_table() {
        let settings = parse(
            r#"
[agent]
name = "codex"
[agent.codex]
binary = "/opt/codex"
model = "gpt-5.5"
permission = "bypass"
config = ["model_reasoning_effort=\"high\""]
extra_args = ["--skip-git-repo-check"]
sandbox = "off"
[agent.codex.prices]
"gpt-5.5" = { input = 1.25, cached_input = 0.125, output = 10.0 }
"#,
        )
        .unwrap();
        assert_eq!(settings.agent, AgentKind::Codex);
        let codex = &settings.codex;
        assert_eq!(codex.binary, PathBuf::from("/opt/codex"));
        assert_eq!(codex.model.as_deref(), Some("gpt-5.5"));
        assert_eq!(codex.sandbox, Sandbox::Bypass);
        assert_eq!(codex.config, ["model_reasoning_effort=\"high\""]);
        assert_eq!(codex.extra_args, ["--skip-git-repo-check"]);
        assert_eq!(
            codex.prices.price("gpt-5.5"),
            Some(&Price {
                input: 1.25,
                cached_input: 0.125,
                output: 10.0
            })
        );
        assert_eq!(settings.unknown_keys, ["agent.codex.sandbox"]);
        assert_eq!(
            parse("[agent.codex]\n").unwrap().codex.sandbox,
            Sandbox::WorkspaceWrite,
            "sandboxed unless the user says otherwise"
        );
        let err = parse("[agent.codex]\npermission = \"allowlist\"\n").unwrap_err();
        assert!(err.to_string().contains("permission"), "{err}");
        let err = parse("[agent.codex.prices]\nx = { input = 1.0 }\n").unwrap_err();
        assert!(err.to_string().contains("cached_input"), "{err}");
        let err = parse("agent = \"kodex\"\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("expected claude, codex or command"),
            "{err}"
        );
    }

    #[test]
    fn codex_from_the_environment_and_the_command_line() {
        let mut settings = Settings::default();
        settings
            .apply_env(|name| match name {
                env_vars::AGENT => Some("codex".to_string()),
                env_vars::CODEX_BIN => Some("/bin/fake-codex".to_string()),
                _ => None,
            })
            .unwrap();
        assert_eq!(settings.agent, AgentKind::Codex);
        assert_eq!(settings.codex.binary, PathBuf::from("/bin/fake-codex"));
        assert_eq!(
            AgentKind::parse("codex").map(AgentKind::name),
            Some("codex")
        );

        let root = tempfile::tempdir().unwrap();
        let overrides = Overrides {
            agent: Some("codex".to_string()),
            bypass_permissions: true,
            no_gates: true,
            ..Overrides::default()
        };
        let settings = Settings::resolve(root.path(), None, &overrides).unwrap();
        assert_eq!(settings.agent, AgentKind::Codex);
        assert_eq!(settings.codex.sandbox, Sandbox::Bypass);
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
