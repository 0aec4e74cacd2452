//! Agents: an adapter turns a prompt into a process to supervise and its output lines into typed
//! events (DESIGN section 6).

pub mod claude;
pub mod claude_settings;
mod claude_setup;
pub mod codex;
pub mod command;
pub mod messages;
pub(crate) mod tool_output;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use messages::UsageLimit;

use crate::config::{AgentKind, Settings};
use crate::events::{AgentEvent, Finished, Permission, Usage};
use crate::text::shell_quote;

/// Why an adapter cannot be built from the settings (bad configuration, exit 2).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the agent's sandbox settings ([agent] network and path lists): {0}")]
    Permissions(#[from] claude_settings::SettingsError),
    #[error(
        "the home directory is unknown (HOME is not set and the user has no entry): the sandbox could not hide it"
    )]
    NoHome,
}

/// The adapter the settings choose, for the repository `repo` (the agent's working directory).
pub fn build(settings: &Settings, repo: &Path) -> Result<Box<dyn Adapter>, SetupError> {
    Ok(match settings.agent {
        AgentKind::Claude => {
            let inputs =
                claude_setup::permission_inputs(settings, repo, &|name| std::env::var_os(name))?;
            Box::new(claude::Claude::new(settings.claude.clone(), inputs)?)
        }
        AgentKind::Codex => Box::new(codex::Codex::new(settings.codex.clone())),
        AgentKind::Command => Box::new(command::CommandAgent::new(
            settings.command_agent.argv.clone(),
        )),
    })
}

/// What an agent adapter must provide.
pub trait Adapter {
    /// The agent's name for headers and reports.
    fn name(&self) -> &str;
    /// The command that runs `prompt`, resuming `session` when given.
    fn command(&self, prompt: &str, session: Option<&str>, cwd: &Path) -> AgentCommand;
    /// Events read from one line of the agent's stdout.
    fn parse_line(&mut self, line: &str) -> Vec<AgentEvent>;
    /// Whether the agent can resume a session (otherwise fix attempts start afresh).
    fn can_resume(&self) -> bool;
    /// What the agent may do without asking, for the run header.
    fn permission(&self) -> Permission;
    /// How the workflow tells this agent to commit its work.
    fn commit_instruction(&self) -> &'static str {
        COMMIT_BY_NAME
    }
    /// Whether the agent can commit at all; when it cannot (Codex's sandbox keeps `.git`
    /// read-only) the runner commits the verified work itself.
    fn commits_itself(&self) -> bool {
        true
    }
    /// Whether the runner commits what an agent that commits itself leaves uncommitted, once
    /// everything else passed: its sandbox keeps it from adding some files (Claude Code's
    /// placeholders make `git add -A` fail there).
    fn commits_leftovers(&self) -> bool {
        false
    }
    /// Variables to set for the agent's process (`IS_SANDBOX=1` for Claude Code's bypass as
    /// root).
    fn env(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Warnings for a VALIDATION task whose text (`task_text`) asks for what the agent's
    /// permissions cannot do, each naming the setting to change.
    fn preflight(&self, _task_text: &str) -> Vec<String> {
        Vec::new()
    }
    /// Whether what the agent said so far means it must be stopped without waiting for its
    /// end (it started without the sandbox its mode requires). Read after every line.
    fn must_stop(&self) -> bool {
        false
    }
    /// What only this agent's words can say about how an invocation ended: it is not logged in,
    /// it hit a usage limit, or it cannot work here (its sandbox is unavailable). `None` when the
    /// end is the runner's to judge (question, blocker, work done).
    fn stop_reason(&self, end: &EndFacts<'_>) -> Option<AgentStop> {
        default_stop_reason(end)
    }
    /// Before `session` is resumed by a new kmilestone process: what the state recorded of it
    /// (an agent whose usage is cumulative over a session needs it to count each turn once).
    fn resuming(&mut self, _session: &str, _recorded: &Usage) {}
}

/// The workflow's commit step for an agent that commits.
pub const COMMIT_BY_NAME: &str = "Then commit your work, handoff included, with a clear message: add the files you changed by name (`git add <files> && git commit -m \"…\"`). The working tree must be clean when you finish.";

/// How an invocation ended, as the adapter sees it.
#[derive(Debug, Clone, Copy)]
pub struct EndFacts<'a> {
    /// The final message (the result line's text, else the last text).
    pub final_text: &'a str,
    pub finished: Option<&'a Finished>,
    /// The last lines of the agent's stderr.
    pub stderr_tail: &'a str,
}

/// Why an invocation's end stops the task at once, whatever it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentStop {
    /// Not logged in, or a key the service refuses: no retry can help.
    NotAuthenticated(String),
    UsageLimit(UsageLimit),
    /// The agent cannot work here as configured (its sandbox is unavailable); the message says
    /// how to fix it.
    Unavailable(String),
}

/// Claude Code's texts, which other agents reuse where they have none of their own.
pub fn default_stop_reason(end: &EndFacts<'_>) -> Option<AgentStop> {
    let text = end.final_text;
    if let Some(finished) = end.finished.filter(|f| f.is_error)
        && messages::is_auth_failure(text, finished.api_error_status)
    {
        return Some(AgentStop::NotAuthenticated(text.trim().to_string()));
    }
    // A finished task that merely mentions a limit is verified, not waited on.
    let limited = end
        .finished
        .is_none_or(|f| f.is_error || messages::is_limit_notice(text));
    if limited && let Some(limit) = messages::find_usage_limit(text, &jiff::Zoned::now()) {
        return Some(AgentStop::UsageLimit(limit));
    }
    None
}

/// A command line, with the prompt it takes on stdin.
#[derive(Debug, Clone)]
pub struct AgentCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub stdin: Vec<u8>,
}

impl AgentCommand {
    /// The command as a shell-like line, for `--dry-run` and reports.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|part| shell_quote(&part.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}
