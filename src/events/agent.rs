//! What agents report, in the agent-neutral form the runner, the state and the views share.

use serde::{Deserialize, Serialize};

/// Token counts as the agent reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Finished {
    pub is_error: bool,
    /// `success`, `error_max_turns`, `error_during_execution`, …
    pub subtype: String,
    /// The final message text.
    pub result: String,
    /// Cost as the agent reports it (Codex: as its price table computes it), cumulative over a
    /// resumed session.
    pub cost_usd: Option<f64>,
    /// Tokens of this invocation.
    pub usage: Usage,
    pub turns: Option<u32>,
    /// Tool calls the agent was not allowed to make.
    pub permission_denials: Vec<Denial>,
    /// The HTTP status of an API failure, if the run ended on one.
    pub api_error_status: Option<u16>,
}

/// A tool call the agent's permissions refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Denial {
    /// The call: `Bash(touch x)`, `Read(/etc/shadow)`, `WebFetch`.
    pub call: String,
    /// Why it was refused and the setting that would allow it, in the adapter's words for the
    /// user; empty when the adapter has none.
    pub explanation: String,
}

impl Denial {
    /// A refusal the adapter cannot explain.
    pub fn unexplained(call: impl Into<String>) -> Denial {
        Denial {
            call: call.into(),
            explanation: String::new(),
        }
    }
}

impl std::fmt::Display for Denial {
    /// The explanation, or the bare call when there is none.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.explanation.is_empty() {
            write!(f, "{} was refused", self.call)
        } else {
            f.write_str(&self.explanation)
        }
    }
}

/// One thing an agent did or said.
#[derive(Debug, Clone, PartialEq)]
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

/// A question for the human, to be answered in the same session (or a decision of the runner's
/// own, with the options it offers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub text: String,
    pub options: Vec<String>,
    pub recommendation: Option<String>,
}

impl Question {
    /// The answer `typed` means: a number picks that option (as at the terminal), anything else
    /// is the answer itself.
    pub fn resolve_answer(&self, typed: &str) -> String {
        let typed = typed.trim();
        match typed.parse::<usize>() {
            Ok(n) if n >= 1 && n <= self.options.len() => self.options[n - 1].clone(),
            _ => typed.to_string(),
        }
    }
}
