//! Agents: an adapter turns a prompt into a process to supervise and its output lines into typed
//! events (DESIGN section 6).

pub mod claude;
pub mod claude_settings;
pub mod codex;
pub mod command;
pub mod messages;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use messages::UsageLimit;

use crate::config::{AgentKind, Settings};
use crate::events::{AgentEvent, Permission};
use crate::text::shell_quote;

/// The adapter the settings choose.
pub fn build(settings: &Settings) -> Box<dyn Adapter> {
    match settings.agent {
        AgentKind::Claude => Box::new(claude::Claude::new(
            settings.claude.clone(),
            settings.gates.clone(),
        )),
        AgentKind::Command => Box::new(command::CommandAgent::new(
            settings.command_agent.argv.clone(),
        )),
    }
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
