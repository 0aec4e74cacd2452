//! The runner's event stream. The runner emits these and never prints; every view (terminal,
//! JSON lines, the events log, the report) consumes the same events.

use std::time::Duration;

use crate::agent::{AgentEvent, Question, Usage};
use crate::state::GateRecord;

/// Version of the JSON form of events, written in the first line of every events stream.
pub const EVENTS_SCHEMA_VERSION: u32 = 1;

/// One event with when it happened.
#[derive(Debug, Clone)]
pub struct Event {
    /// RFC 3339 time.
    pub timestamp: String,
    /// Milliseconds since the run started.
    pub elapsed_ms: u64,
    pub kind: EventKind,
}

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskResult {
    Completed,
    Failed,
    Blocked,
    Question,
    UsageLimit,
    Interrupted,
    AgentUnavailable,
}

impl TaskResult {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskResult::Completed => "completed",
            TaskResult::Failed => "failed",
            TaskResult::Blocked => "blocked",
            TaskResult::Question => "question",
            TaskResult::UsageLimit => "usage_limit",
            TaskResult::Interrupted => "interrupted",
            TaskResult::AgentUnavailable => "agent_unavailable",
        }
    }
}

/// How one agent attempt ended, before verification.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptEnd {
    /// The agent reported a result.
    Result {
        is_error: bool,
        subtype: String,
    },
    /// The process ended without a result line (crash, killed by a signal).
    NoResult {
        exit: String,
    },
    IdleTimeout,
    WallTimeout,
    Interrupted,
}

/// Totals of a task or run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub cost_usd: f64,
    pub usage: Usage,
}

#[derive(Debug, Clone)]
pub struct TaskSummary {
    pub id: String,
    pub title: String,
    pub result: TaskResult,
    pub attempts: u32,
    pub duration_ms: u64,
    pub totals: Totals,
    pub gates: Vec<GateRecord>,
    pub commits: Vec<String>,
    pub e2e: Option<String>,
    pub findings: Vec<String>,
    /// What was still wrong when the task stopped.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    RunStarted {
        milestone: String,
        name: String,
        plan: String,
        handoff: String,
        header: Vec<String>,
        notes: Vec<String>,
        tasks: Vec<String>,
        agent: String,
        permission: String,
        gates: Vec<String>,
    },
    TaskStarted {
        id: String,
        title: String,
        task_type: String,
        note: Option<String>,
    },
    AttemptStarted {
        id: String,
        attempt: u32,
        /// The session resumed, if any.
        resume: Option<String>,
        command: String,
    },
    Agent {
        id: String,
        event: AgentEvent,
    },
    AttemptFinished {
        id: String,
        attempt: u32,
        end: AttemptEnd,
        session_id: Option<String>,
        duration_ms: u64,
        stderr_tail: String,
    },
    HandoffRestored {
        id: String,
        detail: String,
    },
    GateStarted {
        id: String,
        command: String,
    },
    GateFinished {
        id: String,
        gate: GateRecord,
        output_tail: String,
    },
    CheckFinished {
        id: String,
        files: usize,
        findings: Vec<String>,
        high: usize,
    },
    VerificationFailed {
        id: String,
        attempt: u32,
        problems: Vec<String>,
        retrying: bool,
    },
    Question {
        id: String,
        question: Question,
        session_id: String,
    },
    /// The task still fails verification after its fix attempts and a human is attached: they
    /// give instructions for one more attempt, accept the task (unit-test findings only) or stop.
    DecisionNeeded {
        id: String,
        question: Question,
    },
    WaitingForLimit {
        id: String,
        message: String,
        resets_at: Option<String>,
        wait_seconds: u64,
    },
    TaskFinished(TaskSummary),
    RunFinished {
        exit_code: i32,
        outcome: String,
        tasks: Vec<TaskSummary>,
        totals: Totals,
        /// The seed's completion summary, when the milestone (or range) is complete.
        summary: Option<String>,
        message: Option<String>,
    },
}

/// Receives every event of a run.
pub trait EventSink {
    fn emit(&mut self, event: &Event);
}

/// Milliseconds, saturating.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
