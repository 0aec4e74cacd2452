//! The JSON form of events, as documented in docs/events.md: one `{"timestamp", "elapsed_ms",
//! "type", "data"}` object a line after a `{"type": "schema", …}` line.
//!
//! These types are the protocol, kept apart from the runner's own types so that a change inside
//! the runner cannot change the output by accident. They serialize for `--json` and the events
//! log, and deserialize so that `kmilestone report` can re-render a run from its log. Readers
//! ignore unknown fields, as the documentation promises.

use serde::{Deserialize, Serialize};

use crate::agent::{AgentEvent, Finished, Question, Usage};
use crate::events::{
    AttemptEnd, EVENTS_SCHEMA_VERSION, Event, EventKind, TaskResult, TaskSummary, Totals,
};
use crate::state::GateRecord;

/// The name in the schema line.
pub const SCHEMA_NAME: &str = "kmilestone-events";

/// The first line of every stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaLine {
    #[serde(rename = "type")]
    pub kind: String,
    pub data: SchemaData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaData {
    pub name: String,
    pub version: u32,
}

impl SchemaLine {
    pub fn current() -> SchemaLine {
        SchemaLine {
            kind: "schema".to_string(),
            data: SchemaData {
                name: SCHEMA_NAME.to_string(),
                version: EVENTS_SCHEMA_VERSION,
            },
        }
    }
}

/// One event line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireEvent {
    pub timestamp: String,
    pub elapsed_ms: u64,
    #[serde(flatten)]
    pub kind: WireKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum WireKind {
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
        resume: Option<String>,
        command: String,
    },
    Agent {
        id: String,
        event: WireAgentEvent,
    },
    AttemptFinished {
        id: String,
        attempt: u32,
        end: WireAttemptEnd,
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
        gate: WireGate,
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
        question: WireQuestion,
        session_id: String,
    },
    DecisionNeeded {
        id: String,
        question: WireQuestion,
    },
    WaitingForLimit {
        id: String,
        message: String,
        resets_at: Option<String>,
        wait_seconds: u64,
    },
    TaskFinished(WireTask),
    RunFinished {
        exit_code: i32,
        outcome: String,
        tasks: Vec<WireTask>,
        totals: WireTotals,
        summary: Option<String>,
        message: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireAgentEvent {
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
    Retry {
        message: String,
    },
    Finished {
        is_error: bool,
        subtype: String,
        result: String,
        cost_usd: Option<f64>,
        usage: WireUsage,
        turns: Option<u32>,
        permission_denials: Vec<String>,
        api_error_status: Option<u16>,
    },
    Unknown {
        line_type: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ended", rename_all = "snake_case")]
pub enum WireAttemptEnd {
    Result { is_error: bool, subtype: String },
    NoResult { exit: String },
    IdleTimeout,
    WallTimeout,
    Interrupted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireGate {
    pub command: String,
    pub passed: bool,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireQuestion {
    pub text: String,
    pub options: Vec<String>,
    pub recommendation: Option<String>,
}

impl From<Question> for WireQuestion {
    fn from(question: Question) -> Self {
        WireQuestion {
            text: question.text,
            options: question.options,
            recommendation: question.recommendation,
        }
    }
}

impl From<WireQuestion> for Question {
    fn from(question: WireQuestion) -> Self {
        Question {
            text: question.text,
            options: question.options,
            recommendation: question.recommendation,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WireUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WireTotals {
    pub cost_usd: f64,
    pub usage: WireUsage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireResult {
    Completed,
    Failed,
    Blocked,
    Question,
    UsageLimit,
    Interrupted,
    AgentUnavailable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireTask {
    pub id: String,
    pub title: String,
    pub result: WireResult,
    pub attempts: u32,
    pub duration_ms: u64,
    pub totals: WireTotals,
    pub gates: Vec<WireGate>,
    pub commits: Vec<String>,
    pub e2e: Option<String>,
    pub findings: Vec<String>,
    pub problems: Vec<String>,
}

// ---- internal → wire ----

impl From<&Event> for WireEvent {
    fn from(event: &Event) -> WireEvent {
        WireEvent {
            timestamp: event.timestamp.clone(),
            elapsed_ms: event.elapsed_ms,
            kind: WireKind::from(&event.kind),
        }
    }
}

impl From<&EventKind> for WireKind {
    fn from(kind: &EventKind) -> WireKind {
        match kind.clone() {
            EventKind::RunStarted {
                milestone,
                name,
                plan,
                handoff,
                header,
                notes,
                tasks,
                agent,
                permission,
                gates,
            } => WireKind::RunStarted {
                milestone,
                name,
                plan,
                handoff,
                header,
                notes,
                tasks,
                agent,
                permission,
                gates,
            },
            EventKind::TaskStarted {
                id,
                title,
                task_type,
                note,
            } => WireKind::TaskStarted {
                id,
                title,
                task_type,
                note,
            },
            EventKind::AttemptStarted {
                id,
                attempt,
                resume,
                command,
            } => WireKind::AttemptStarted {
                id,
                attempt,
                resume,
                command,
            },
            EventKind::Agent { id, event } => WireKind::Agent {
                id,
                event: WireAgentEvent::from(event),
            },
            EventKind::AttemptFinished {
                id,
                attempt,
                end,
                session_id,
                duration_ms,
                stderr_tail,
            } => WireKind::AttemptFinished {
                id,
                attempt,
                end: WireAttemptEnd::from(end),
                session_id,
                duration_ms,
                stderr_tail,
            },
            EventKind::HandoffRestored { id, detail } => WireKind::HandoffRestored { id, detail },
            EventKind::GateStarted { id, command } => WireKind::GateStarted { id, command },
            EventKind::GateFinished {
                id,
                gate,
                output_tail,
            } => WireKind::GateFinished {
                id,
                gate: WireGate::from(gate),
                output_tail,
            },
            EventKind::CheckFinished {
                id,
                files,
                findings,
                high,
            } => WireKind::CheckFinished {
                id,
                files,
                findings,
                high,
            },
            EventKind::VerificationFailed {
                id,
                attempt,
                problems,
                retrying,
            } => WireKind::VerificationFailed {
                id,
                attempt,
                problems,
                retrying,
            },
            EventKind::Question {
                id,
                question,
                session_id,
            } => WireKind::Question {
                id,
                question: question.into(),
                session_id,
            },
            EventKind::DecisionNeeded { id, question } => WireKind::DecisionNeeded {
                id,
                question: question.into(),
            },
            EventKind::WaitingForLimit {
                id,
                message,
                resets_at,
                wait_seconds,
            } => WireKind::WaitingForLimit {
                id,
                message,
                resets_at,
                wait_seconds,
            },
            EventKind::TaskFinished(summary) => WireKind::TaskFinished(WireTask::from(summary)),
            EventKind::RunFinished {
                exit_code,
                outcome,
                tasks,
                totals,
                summary,
                message,
            } => WireKind::RunFinished {
                exit_code,
                outcome,
                tasks: tasks.into_iter().map(WireTask::from).collect(),
                totals: WireTotals::from(totals),
                summary,
                message,
            },
        }
    }
}

impl From<AgentEvent> for WireAgentEvent {
    fn from(event: AgentEvent) -> WireAgentEvent {
        match event {
            AgentEvent::Started { session_id, model } => {
                WireAgentEvent::Started { session_id, model }
            }
            AgentEvent::Text { text } => WireAgentEvent::Text { text },
            AgentEvent::ToolUse { name, summary } => WireAgentEvent::ToolUse { name, summary },
            AgentEvent::ToolResult { is_error, summary } => {
                WireAgentEvent::ToolResult { is_error, summary }
            }
            AgentEvent::Retry { message } => WireAgentEvent::Retry { message },
            AgentEvent::Finished(Finished {
                is_error,
                subtype,
                result,
                cost_usd,
                usage,
                turns,
                permission_denials,
                api_error_status,
            }) => WireAgentEvent::Finished {
                is_error,
                subtype,
                result,
                cost_usd,
                usage: WireUsage::from(usage),
                turns,
                permission_denials,
                api_error_status,
            },
            AgentEvent::Unknown { line_type } => WireAgentEvent::Unknown { line_type },
        }
    }
}

impl From<AttemptEnd> for WireAttemptEnd {
    fn from(end: AttemptEnd) -> WireAttemptEnd {
        match end {
            AttemptEnd::Result { is_error, subtype } => {
                WireAttemptEnd::Result { is_error, subtype }
            }
            AttemptEnd::NoResult { exit } => WireAttemptEnd::NoResult { exit },
            AttemptEnd::IdleTimeout => WireAttemptEnd::IdleTimeout,
            AttemptEnd::WallTimeout => WireAttemptEnd::WallTimeout,
            AttemptEnd::Interrupted => WireAttemptEnd::Interrupted,
        }
    }
}

impl From<GateRecord> for WireGate {
    fn from(gate: GateRecord) -> WireGate {
        WireGate {
            command: gate.command,
            passed: gate.passed,
            exit_code: gate.exit_code,
            timed_out: gate.timed_out,
            duration_ms: gate.duration_ms,
        }
    }
}

impl From<Usage> for WireUsage {
    fn from(usage: Usage) -> WireUsage {
        WireUsage {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cache_creation_input_tokens: usage.cache_creation_input_tokens,
            cache_read_input_tokens: usage.cache_read_input_tokens,
        }
    }
}

impl From<Totals> for WireTotals {
    fn from(totals: Totals) -> WireTotals {
        WireTotals {
            cost_usd: totals.cost_usd,
            usage: WireUsage::from(totals.usage),
        }
    }
}

impl From<TaskResult> for WireResult {
    fn from(result: TaskResult) -> WireResult {
        match result {
            TaskResult::Completed => WireResult::Completed,
            TaskResult::Failed => WireResult::Failed,
            TaskResult::Blocked => WireResult::Blocked,
            TaskResult::Question => WireResult::Question,
            TaskResult::UsageLimit => WireResult::UsageLimit,
            TaskResult::Interrupted => WireResult::Interrupted,
            TaskResult::AgentUnavailable => WireResult::AgentUnavailable,
        }
    }
}

impl From<TaskSummary> for WireTask {
    fn from(task: TaskSummary) -> WireTask {
        WireTask {
            id: task.id,
            title: task.title,
            result: WireResult::from(task.result),
            attempts: task.attempts,
            duration_ms: task.duration_ms,
            totals: WireTotals::from(task.totals),
            gates: task.gates.into_iter().map(WireGate::from).collect(),
            commits: task.commits,
            e2e: task.e2e,
            findings: task.findings,
            problems: task.problems,
        }
    }
}

// ---- wire → internal ----

impl From<WireEvent> for Event {
    fn from(event: WireEvent) -> Event {
        Event {
            timestamp: event.timestamp,
            elapsed_ms: event.elapsed_ms,
            kind: EventKind::from(event.kind),
        }
    }
}

impl From<WireKind> for EventKind {
    fn from(kind: WireKind) -> EventKind {
        match kind {
            WireKind::RunStarted {
                milestone,
                name,
                plan,
                handoff,
                header,
                notes,
                tasks,
                agent,
                permission,
                gates,
            } => EventKind::RunStarted {
                milestone,
                name,
                plan,
                handoff,
                header,
                notes,
                tasks,
                agent,
                permission,
                gates,
            },
            WireKind::TaskStarted {
                id,
                title,
                task_type,
                note,
            } => EventKind::TaskStarted {
                id,
                title,
                task_type,
                note,
            },
            WireKind::AttemptStarted {
                id,
                attempt,
                resume,
                command,
            } => EventKind::AttemptStarted {
                id,
                attempt,
                resume,
                command,
            },
            WireKind::Agent { id, event } => EventKind::Agent {
                id,
                event: AgentEvent::from(event),
            },
            WireKind::AttemptFinished {
                id,
                attempt,
                end,
                session_id,
                duration_ms,
                stderr_tail,
            } => EventKind::AttemptFinished {
                id,
                attempt,
                end: AttemptEnd::from(end),
                session_id,
                duration_ms,
                stderr_tail,
            },
            WireKind::HandoffRestored { id, detail } => EventKind::HandoffRestored { id, detail },
            WireKind::GateStarted { id, command } => EventKind::GateStarted { id, command },
            WireKind::GateFinished {
                id,
                gate,
                output_tail,
            } => EventKind::GateFinished {
                id,
                gate: GateRecord::from(gate),
                output_tail,
            },
            WireKind::CheckFinished {
                id,
                files,
                findings,
                high,
            } => EventKind::CheckFinished {
                id,
                files,
                findings,
                high,
            },
            WireKind::VerificationFailed {
                id,
                attempt,
                problems,
                retrying,
            } => EventKind::VerificationFailed {
                id,
                attempt,
                problems,
                retrying,
            },
            WireKind::Question {
                id,
                question,
                session_id,
            } => EventKind::Question {
                id,
                question: question.into(),
                session_id,
            },
            WireKind::DecisionNeeded { id, question } => EventKind::DecisionNeeded {
                id,
                question: question.into(),
            },
            WireKind::WaitingForLimit {
                id,
                message,
                resets_at,
                wait_seconds,
            } => EventKind::WaitingForLimit {
                id,
                message,
                resets_at,
                wait_seconds,
            },
            WireKind::TaskFinished(task) => EventKind::TaskFinished(TaskSummary::from(task)),
            WireKind::RunFinished {
                exit_code,
                outcome,
                tasks,
                totals,
                summary,
                message,
            } => EventKind::RunFinished {
                exit_code,
                outcome,
                tasks: tasks.into_iter().map(TaskSummary::from).collect(),
                totals: Totals::from(totals),
                summary,
                message,
            },
        }
    }
}

impl From<WireAgentEvent> for AgentEvent {
    fn from(event: WireAgentEvent) -> AgentEvent {
        match event {
            WireAgentEvent::Started { session_id, model } => {
                AgentEvent::Started { session_id, model }
            }
            WireAgentEvent::Text { text } => AgentEvent::Text { text },
            WireAgentEvent::ToolUse { name, summary } => AgentEvent::ToolUse { name, summary },
            WireAgentEvent::ToolResult { is_error, summary } => {
                AgentEvent::ToolResult { is_error, summary }
            }
            WireAgentEvent::Retry { message } => AgentEvent::Retry { message },
            WireAgentEvent::Finished {
                is_error,
                subtype,
                result,
                cost_usd,
                usage,
                turns,
                permission_denials,
                api_error_status,
            } => AgentEvent::Finished(Finished {
                is_error,
                subtype,
                result,
                cost_usd,
                usage: Usage::from(usage),
                turns,
                permission_denials,
                api_error_status,
            }),
            WireAgentEvent::Unknown { line_type } => AgentEvent::Unknown { line_type },
        }
    }
}

impl From<WireAttemptEnd> for AttemptEnd {
    fn from(end: WireAttemptEnd) -> AttemptEnd {
        match end {
            WireAttemptEnd::Result { is_error, subtype } => {
                AttemptEnd::Result { is_error, subtype }
            }
            WireAttemptEnd::NoResult { exit } => AttemptEnd::NoResult { exit },
            WireAttemptEnd::IdleTimeout => AttemptEnd::IdleTimeout,
            WireAttemptEnd::WallTimeout => AttemptEnd::WallTimeout,
            WireAttemptEnd::Interrupted => AttemptEnd::Interrupted,
        }
    }
}

impl From<WireGate> for GateRecord {
    fn from(gate: WireGate) -> GateRecord {
        GateRecord {
            command: gate.command,
            passed: gate.passed,
            exit_code: gate.exit_code,
            timed_out: gate.timed_out,
            duration_ms: gate.duration_ms,
        }
    }
}

impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Usage {
        Usage {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cache_creation_input_tokens: usage.cache_creation_input_tokens,
            cache_read_input_tokens: usage.cache_read_input_tokens,
        }
    }
}

impl From<WireTotals> for Totals {
    fn from(totals: WireTotals) -> Totals {
        Totals {
            cost_usd: totals.cost_usd,
            usage: Usage::from(totals.usage),
        }
    }
}

impl From<WireResult> for TaskResult {
    fn from(result: WireResult) -> TaskResult {
        match result {
            WireResult::Completed => TaskResult::Completed,
            WireResult::Failed => TaskResult::Failed,
            WireResult::Blocked => TaskResult::Blocked,
            WireResult::Question => TaskResult::Question,
            WireResult::UsageLimit => TaskResult::UsageLimit,
            WireResult::Interrupted => TaskResult::Interrupted,
            WireResult::AgentUnavailable => TaskResult::AgentUnavailable,
        }
    }
}

impl From<WireTask> for TaskSummary {
    fn from(task: WireTask) -> TaskSummary {
        TaskSummary {
            id: task.id,
            title: task.title,
            result: TaskResult::from(task.result),
            attempts: task.attempts,
            duration_ms: task.duration_ms,
            totals: Totals::from(task.totals),
            gates: task.gates.into_iter().map(GateRecord::from).collect(),
            commits: task.commits,
            e2e: task.e2e,
            findings: task.findings,
            problems: task.problems,
        }
    }
}

// ---- reading a stream back ----

/// Why an events stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the first line is not a kmilestone events schema line")]
    NoSchema,
    #[error(
        "written with events schema version {0}; this kmilestone reads version {EVENTS_SCHEMA_VERSION} and older"
    )]
    Newer(u32),
}

/// Events read back from a stream.
#[derive(Debug)]
pub struct ReadEvents {
    pub events: Vec<Event>,
    /// Lines that did not parse (a line cut short by a killed run, or an unknown event type).
    pub skipped: usize,
}

/// Reads a stream written by [`crate::reporter::json::JsonLines`].
pub fn read_events(text: &str) -> Result<ReadEvents, ReadError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let schema: SchemaLine = lines
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .filter(|s: &SchemaLine| s.kind == "schema" && s.data.name == SCHEMA_NAME)
        .ok_or(ReadError::NoSchema)?;
    if schema.data.version > EVENTS_SCHEMA_VERSION {
        return Err(ReadError::Newer(schema.data.version));
    }
    let mut events = Vec::new();
    let mut skipped = 0;
    for line in lines {
        match serde_json::from_str::<WireEvent>(line) {
            Ok(event) => events.push(Event::from(event)),
            Err(_) => skipped += 1,
        }
    }
    Ok(ReadEvents { events, skipped })
}
