//! The leaf of the crate: pure data shared by the runner, the agents, the state and the views.
//! It imports nothing of the runner, agents or state.

mod agent;
mod note;
mod problem;
mod run;

pub use agent::{AgentEvent, Denial, Finished, Question, Usage};
pub use note::{Leftovers, Note};
pub use problem::{CommandScope, GateFailure, GateRecord, Problem, TestFinding};
pub use run::{
    AttemptEnd, CapStop, CapsInfo, EVENTS_SCHEMA_VERSION, Event, EventKind, EventSink, GateSandbox,
    Header, LimitStop, MilestoneSummary, MilestoneTask, NotifyResult, Permission, PreviewTask,
    ProjectRules, RunEnd, RunOutcome, RunStart, TaskResult, TaskSummary, Totals, Unavailable,
    dollars, micros, millis,
};
