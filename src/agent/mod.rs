//! Agents: an adapter turns a prompt into a process to supervise and its output lines into typed
//! events (DESIGN section 6).

pub mod claude;
pub mod codex;
pub mod command;
pub mod messages;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use messages::{Question, UsageLimit};

/// Token counts as the agent reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
    }

    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
    }
}

/// The agent's final report of one invocation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Finished {
    pub is_error: bool,
    /// `success`, `error_max_turns`, `error_during_execution`, …
    pub subtype: String,
    /// The final message text.
    pub result: String,
    /// Cost as the agent reports it; for Claude Code cumulative over a resumed session.
    pub cost_usd: Option<f64>,
    /// Tokens of this invocation.
    pub usage: Usage,
    pub turns: Option<u32>,
    /// Tool calls the agent was not allowed to make (`Bash(touch x)`).
    pub permission_denials: Vec<String>,
    /// The HTTP status of an API failure, if the run ended on one.
    pub api_error_status: Option<u16>,
}

/// One thing an agent did or said.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AgentEvent {
    Started {
        session_id: String,
        model: Option<String>,
    },
    Text {
        text: String,
    },
    ToolUse {
        name: String,
        summary: String,
    },
    ToolResult {
        is_error: bool,
        summary: String,
    },
    /// The agent's API call is being retried (`system/api_retry`).
    Retry {
        message: String,
    },
    Finished(Finished),
    /// A line of a type this version does not know; kept, never fatal.
    Unknown {
        line_type: String,
    },
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

/// Quotes `text` for a POSIX shell when it needs it.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
