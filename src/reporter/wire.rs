//! The JSON form of events, as documented in docs/events.md: one `{"timestamp", "elapsed_ms",
//! "type", "data"}` object a line after a `{"type": "schema", …}` line.
//!
//! These types are the protocol, kept apart from the runner's own types so that a change inside
//! the runner cannot change the output by accident. They only serialize: nothing reads a run back
//! from its events (`kmilestone report` renders the milestone's state).

use serde::Serialize;

use crate::events::{
    AgentEvent, AttemptEnd, CapStop, CapsInfo, EVENTS_SCHEMA_VERSION, Event, EventKind, GateRecord,
    MilestoneSummary, Problem, Question, RunEnd, RunStart, TaskSummary, TestFinding, Totals, Usage,
};

/// The name in the schema line.
pub(crate) const SCHEMA_NAME: &str = "kmilestone-events";

/// The first line of every stream.
#[derive(Debug, Serialize)]
pub(crate) struct SchemaLine {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub data: SchemaData,
}

#[derive(Debug, Serialize)]
pub(crate) struct SchemaData {
    pub name: &'static str,
    pub version: u32,
}

impl SchemaLine {
    pub(crate) fn current() -> SchemaLine {
        SchemaLine {
            kind: "schema",
            data: SchemaData {
                name: SCHEMA_NAME,
                version: EVENTS_SCHEMA_VERSION,
            },
        }
    }
}

/// In the events log only, where an oversized run was cut: `{"type": "log_truncated", …}`
/// between the first part and the last, saying what is missing.
#[derive(Debug, Serialize)]
pub(crate) struct LogTruncatedLine<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub data: &'a LogTruncated,
}

/// What a capped events log left out: how many event lines and bytes, and the `elapsed_ms` of
/// the first and last of them.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct LogTruncated {
    pub events_left_out: u64,
    pub bytes_left_out: u64,
    pub first_elapsed_ms: Option<u64>,
    pub last_elapsed_ms: Option<u64>,
}

impl LogTruncated {
    pub(crate) fn line(&self) -> LogTruncatedLine<'_> {
        LogTruncatedLine {
            kind: "log_truncated",
            data: self,
        }
    }
}

/// One event line.
#[derive(Debug, Serialize)]
pub(crate) struct WireEvent<'a> {
    pub timestamp: &'a str,
    pub elapsed_ms: u64,
    #[serde(flatten)]
    pub kind: WireKind<'a>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub(crate) enum WireKind<'a> {
    RunStarted {
        milestone: &'a str,
        name: &'a str,
        plan: &'a str,
        handoff: &'a str,
        state_dir: &'a str,
        completed: &'a [String],
        start: Option<&'a str>,
        notes: Vec<String>,
        tasks: &'a [String],
        agent: &'a str,
        permission: String,
        gates: &'a [String],
        /// What confines the gates, in words.
        gate_sandbox: &'a str,
        /// The gates that run unsandboxed by the user's choice.
        unsandboxed_gates: &'a [String],
        caps: WireCaps,
    },
    TaskStarted {
        id: &'a str,
        title: &'a str,
        task_type: &'a str,
        leftovers: Option<&'a [String]>,
    },
    AttemptStarted {
        id: &'a str,
        attempt: u32,
        resume: Option<&'a str>,
        command: &'a str,
    },
    Agent {
        id: &'a str,
        event: WireAgentEvent<'a>,
    },
    AttemptFinished {
        id: &'a str,
        attempt: u32,
        end: WireAttemptEnd<'a>,
        session_id: Option<&'a str>,
        duration_ms: u64,
        stderr_tail: &'a str,
    },
    LeftRunning {
        id: &'a str,
        by: &'a str,
        processes: &'a [String],
    },
    HandoffRestored {
        id: &'a str,
        kept: &'a str,
    },
    GateStarted {
        id: &'a str,
        command: &'a str,
    },
    GateFinished {
        id: &'a str,
        gate: WireGate<'a>,
        output_tail: &'a str,
    },
    CheckFinished {
        id: &'a str,
        files: usize,
        findings: Vec<WireFinding<'a>>,
        high: usize,
    },
    VerificationFailed {
        id: &'a str,
        attempt: u32,
        problems: Vec<WireProblem>,
        retrying: bool,
    },
    Question {
        id: &'a str,
        question: WireQuestion<'a>,
        session_id: &'a str,
    },
    DecisionNeeded {
        id: &'a str,
        question: WireQuestion<'a>,
    },
    WaitingForLimit {
        id: &'a str,
        message: &'a str,
        resets_at: Option<&'a str>,
        wait_seconds: u64,
    },
    TaskFinished(WireTask<'a>),
    CapReached {
        cap: WireCapStop,
    },
    Notified {
        event: &'a str,
        ok: bool,
        exit_code: Option<i32>,
        timed_out: bool,
        output_tail: &'a str,
        error: Option<&'a str>,
    },
    RunFinished {
        exit_code: i32,
        outcome: &'static str,
        message: Option<String>,
        tasks: Vec<WireTask<'a>>,
        totals: WireTotals,
        milestone: WireMilestone<'a>,
    },
}

/// The caps in dollars and seconds; null where none is set.
#[derive(Debug, Serialize)]
pub(crate) struct WireCaps {
    pub max_cost_usd: Option<f64>,
    pub spent_usd: f64,
    pub max_task_cost_usd: Option<f64>,
    pub max_time_seconds: Option<u64>,
}

impl From<&CapsInfo> for WireCaps {
    fn from(caps: &CapsInfo) -> WireCaps {
        let usd = |m: u64| m as f64 / 1_000_000.0;
        WireCaps {
            max_cost_usd: caps.max_cost.map(usd),
            spent_usd: usd(caps.spent),
            max_task_cost_usd: caps.max_task_cost.map(usd),
            max_time_seconds: caps.max_time_ms.map(|ms| ms / 1000),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "cap", rename_all = "snake_case")]
pub(crate) enum WireCapStop {
    Cost {
        cap_usd: f64,
        spent_usd: f64,
    },
    Time {
        cap_seconds: u64,
        elapsed_seconds: u64,
    },
}

impl From<&CapStop> for WireCapStop {
    fn from(stop: &CapStop) -> WireCapStop {
        match *stop {
            CapStop::Cost { cap, spent } => WireCapStop::Cost {
                cap_usd: cap as f64 / 1_000_000.0,
                spent_usd: spent as f64 / 1_000_000.0,
            },
            CapStop::Time { cap_ms, elapsed_ms } => WireCapStop::Time {
                cap_seconds: cap_ms / 1000,
                elapsed_seconds: elapsed_ms / 1000,
            },
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum WireAgentEvent<'a> {
    Started {
        session_id: &'a str,
        model: Option<&'a str>,
    },
    Text {
        text: &'a str,
    },
    ToolUse {
        name: &'a str,
        summary: &'a str,
    },
    ToolResult {
        is_error: bool,
        summary: &'a str,
    },
    Retry {
        message: &'a str,
    },
    Finished {
        is_error: bool,
        subtype: &'a str,
        result: &'a str,
        cost_usd: Option<f64>,
        usage: WireUsage,
        turns: Option<u32>,
        /// The refused calls (`Bash(touch x)`).
        permission_denials: Vec<&'a str>,
        api_error_status: Option<u16>,
    },
    Unknown {
        line_type: &'a str,
    },
}

#[derive(Debug, Serialize)]
#[serde(tag = "ended", rename_all = "snake_case")]
pub(crate) enum WireAttemptEnd<'a> {
    Result { is_error: bool, subtype: &'a str },
    NoResult { exit: &'a str },
    IdleTimeout,
    WallTimeout,
    Interrupted,
}

#[derive(Debug, Serialize)]
pub(crate) struct WireGate<'a> {
    pub command: &'a str,
    pub passed: bool,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct WireQuestion<'a> {
    pub text: &'a str,
    pub options: &'a [String],
    pub recommendation: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct WireFinding<'a> {
    pub file: &'a str,
    pub line: usize,
    pub rule: &'a str,
    pub severity: &'a str,
    pub test: &'a str,
    pub message: &'a str,
}

/// A verification problem: its kind, and the words the agent and the views get.
#[derive(Debug, Serialize)]
pub(crate) struct WireProblem {
    pub kind: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct WireUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct WireTotals {
    pub cost_usd: f64,
    pub usage: WireUsage,
}

#[derive(Debug, Serialize)]
pub(crate) struct WireTask<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub result: &'static str,
    pub attempts: u32,
    pub duration_ms: u64,
    pub totals: WireTotals,
    pub gates: Vec<WireGate<'a>>,
    pub commits: &'a [String],
    pub e2e: Option<&'a str>,
    pub findings: Vec<WireFinding<'a>>,
    pub problems: Vec<WireProblem>,
    pub denials: Vec<WireDenial<'a>>,
}

/// A refused tool call and, in words, the setting that would allow it.
#[derive(Debug, Serialize)]
pub(crate) struct WireDenial<'a> {
    pub call: &'a str,
    pub explanation: &'a str,
}

#[derive(Debug, Serialize)]
pub(crate) struct WireMilestoneTask<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub complete: bool,
    /// The task's record across every run, or null when no run worked on it.
    pub record: Option<WireTask<'a>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct WireMilestone<'a> {
    pub name: &'a str,
    pub complete: bool,
    pub handoff: &'a str,
    pub gates: &'a [String],
    pub tasks: Vec<WireMilestoneTask<'a>>,
    pub totals: WireTotals,
}

// ---- internal → wire ----

impl<'a> From<&'a Event> for WireEvent<'a> {
    fn from(event: &'a Event) -> WireEvent<'a> {
        WireEvent {
            timestamp: &event.timestamp,
            elapsed_ms: event.elapsed_ms,
            kind: WireKind::from(&event.kind),
        }
    }
}

impl<'a> From<&'a EventKind> for WireKind<'a> {
    fn from(kind: &'a EventKind) -> WireKind<'a> {
        match kind {
            EventKind::RunStarted(start) => run_started(start),
            EventKind::TaskStarted {
                id,
                title,
                task_type,
                leftovers,
            } => WireKind::TaskStarted {
                id,
                title,
                task_type,
                leftovers: leftovers.as_ref().map(|l| l.0.as_slice()),
            },
            EventKind::AttemptStarted {
                id,
                attempt,
                resume,
                command,
            } => WireKind::AttemptStarted {
                id,
                attempt: *attempt,
                resume: resume.as_deref(),
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
                attempt: *attempt,
                end: WireAttemptEnd::from(end),
                session_id: session_id.as_deref(),
                duration_ms: *duration_ms,
                stderr_tail,
            },
            EventKind::LeftRunning { id, by, processes } => {
                WireKind::LeftRunning { id, by, processes }
            }
            EventKind::HandoffRestored { id, kept } => WireKind::HandoffRestored { id, kept },
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
            } => WireKind::CheckFinished {
                id,
                files: *files,
                findings: findings.iter().map(WireFinding::from).collect(),
                high: findings.iter().filter(|f| f.is_high()).count(),
            },
            EventKind::VerificationFailed {
                id,
                attempt,
                problems,
                retrying,
            } => WireKind::VerificationFailed {
                id,
                attempt: *attempt,
                problems: problems.iter().map(WireProblem::from).collect(),
                retrying: *retrying,
            },
            EventKind::Question {
                id,
                question,
                session_id,
            } => WireKind::Question {
                id,
                question: WireQuestion::from(question),
                session_id,
            },
            EventKind::DecisionNeeded { id, question } => WireKind::DecisionNeeded {
                id,
                question: WireQuestion::from(question),
            },
            EventKind::WaitingForLimit {
                id,
                message,
                resets_at,
                wait_seconds,
            } => WireKind::WaitingForLimit {
                id,
                message,
                resets_at: resets_at.as_deref(),
                wait_seconds: *wait_seconds,
            },
            EventKind::TaskFinished(summary) => WireKind::TaskFinished(WireTask::from(summary)),
            EventKind::CapReached { stop } => WireKind::CapReached {
                cap: WireCapStop::from(stop),
            },
            EventKind::Notified(result) => WireKind::Notified {
                event: &result.event,
                ok: result.ok,
                exit_code: result.exit_code,
                timed_out: result.timed_out,
                output_tail: &result.output_tail,
                error: result.error.as_deref(),
            },
            EventKind::RunFinished(end) => run_finished(end),
        }
    }
}

fn run_started(start: &RunStart) -> WireKind<'_> {
    WireKind::RunStarted {
        milestone: &start.milestone,
        name: &start.header.name,
        plan: &start.plan,
        handoff: &start.handoff,
        state_dir: &start.state_dir,
        completed: &start.header.completed,
        start: start.header.start.as_deref(),
        notes: start.notes.iter().map(ToString::to_string).collect(),
        tasks: &start.tasks,
        agent: &start.agent,
        permission: start.permission.to_string(),
        gates: &start.gates,
        gate_sandbox: &start.gate_sandbox.description,
        unsandboxed_gates: &start.gate_sandbox.unsandboxed,
        caps: WireCaps::from(&start.caps),
    }
}

fn run_finished(end: &RunEnd) -> WireKind<'_> {
    WireKind::RunFinished {
        exit_code: end.outcome.exit_code(),
        outcome: end.outcome.name(),
        message: end.outcome.message(),
        tasks: end.tasks.iter().map(WireTask::from).collect(),
        totals: WireTotals::from(end.totals),
        milestone: WireMilestone::from(&end.milestone),
    }
}

impl<'a> From<&'a AgentEvent> for WireAgentEvent<'a> {
    fn from(event: &'a AgentEvent) -> WireAgentEvent<'a> {
        match event {
            AgentEvent::Started { session_id, model } => WireAgentEvent::Started {
                session_id,
                model: model.as_deref(),
            },
            AgentEvent::Text { text } => WireAgentEvent::Text { text },
            AgentEvent::ToolUse { name, summary } => WireAgentEvent::ToolUse { name, summary },
            AgentEvent::ToolResult { is_error, summary } => WireAgentEvent::ToolResult {
                is_error: *is_error,
                summary,
            },
            AgentEvent::Retry { message } => WireAgentEvent::Retry { message },
            AgentEvent::Finished(finished) => WireAgentEvent::Finished {
                is_error: finished.is_error,
                subtype: &finished.subtype,
                result: &finished.result,
                cost_usd: finished.cost_usd,
                usage: WireUsage::from(finished.usage),
                turns: finished.turns,
                permission_denials: finished
                    .permission_denials
                    .iter()
                    .map(|d| d.call.as_str())
                    .collect(),
                api_error_status: finished.api_error_status,
            },
            AgentEvent::Unknown { line_type } => WireAgentEvent::Unknown { line_type },
        }
    }
}

impl<'a> From<&'a AttemptEnd> for WireAttemptEnd<'a> {
    fn from(end: &'a AttemptEnd) -> WireAttemptEnd<'a> {
        match end {
            AttemptEnd::Result { is_error, subtype } => WireAttemptEnd::Result {
                is_error: *is_error,
                subtype,
            },
            AttemptEnd::NoResult { exit } => WireAttemptEnd::NoResult { exit },
            AttemptEnd::IdleTimeout => WireAttemptEnd::IdleTimeout,
            AttemptEnd::WallTimeout => WireAttemptEnd::WallTimeout,
            AttemptEnd::Interrupted => WireAttemptEnd::Interrupted,
        }
    }
}

impl<'a> From<&'a GateRecord> for WireGate<'a> {
    fn from(gate: &'a GateRecord) -> WireGate<'a> {
        WireGate {
            command: &gate.command,
            passed: gate.passed,
            exit_code: gate.exit_code,
            timed_out: gate.timed_out,
            duration_ms: gate.duration_ms,
        }
    }
}

impl<'a> From<&'a Question> for WireQuestion<'a> {
    fn from(question: &'a Question) -> WireQuestion<'a> {
        WireQuestion {
            text: &question.text,
            options: &question.options,
            recommendation: question.recommendation.as_deref(),
        }
    }
}

impl<'a> From<&'a TestFinding> for WireFinding<'a> {
    fn from(finding: &'a TestFinding) -> WireFinding<'a> {
        WireFinding {
            file: &finding.file,
            line: finding.line,
            rule: &finding.rule,
            severity: &finding.severity,
            test: &finding.test,
            message: &finding.message,
        }
    }
}

impl From<&Problem> for WireProblem {
    fn from(problem: &Problem) -> WireProblem {
        WireProblem {
            kind: problem.kind(),
            message: problem.to_string(),
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

impl<'a> From<&'a TaskSummary> for WireTask<'a> {
    fn from(task: &'a TaskSummary) -> WireTask<'a> {
        WireTask {
            id: &task.id,
            title: &task.title,
            result: task.result.as_str(),
            attempts: task.attempts,
            duration_ms: task.duration_ms,
            totals: WireTotals::from(task.totals),
            gates: task.gates.iter().map(WireGate::from).collect(),
            commits: &task.commits,
            e2e: task.e2e.as_deref(),
            findings: task.findings.iter().map(WireFinding::from).collect(),
            problems: task.problems.iter().map(WireProblem::from).collect(),
            denials: task
                .denials
                .iter()
                .map(|d| WireDenial {
                    call: &d.call,
                    explanation: &d.explanation,
                })
                .collect(),
        }
    }
}

impl<'a> From<&'a MilestoneSummary> for WireMilestone<'a> {
    fn from(milestone: &'a MilestoneSummary) -> WireMilestone<'a> {
        WireMilestone {
            name: &milestone.name,
            complete: milestone.complete,
            handoff: &milestone.handoff,
            gates: &milestone.gates,
            tasks: milestone
                .tasks
                .iter()
                .map(|t| WireMilestoneTask {
                    id: &t.id,
                    title: &t.title,
                    complete: t.complete,
                    record: t.record.as_ref().map(WireTask::from),
                })
                .collect(),
            totals: WireTotals::from(milestone.totals),
        }
    }
}
