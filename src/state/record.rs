//! What the state holds (`state.json` and the saves `state.log` adds to it): each task's record across runs, the attempt in progress, the pending
//! question and how the last run ended.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::STATE_VERSION;
use crate::events::{
    Denial, GateRecord, Problem, Question, RunOutcome, TaskResult, TestFinding, Usage,
};

/// What is known about one task across runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct TaskState {
    pub attempts: u32,
    pub sessions: Vec<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub head_before: Option<String>,
    pub head_after: Option<String>,
    pub result: Option<TaskResult>,
    pub gates: Vec<GateRecord>,
    /// Latest cumulative cost per agent session (Claude reports cumulative cost after `--resume`).
    pub session_costs: BTreeMap<String, f64>,
    /// Cost of invocations without a session id.
    pub unattributed_cost_usd: f64,
    pub usage: Usage,
    /// Tokens per agent session, summed over its invocations: an agent whose usage is
    /// cumulative over a session (Codex) is told it before the session resumes in a new process.
    #[serde(default)]
    pub session_usage: BTreeMap<String, Usage>,
    pub e2e: Option<String>,
    /// The task's commits (`%h %s`), as of its last verification.
    #[serde(default)]
    pub commits: Vec<String>,
    /// Unit-test quality findings of the last check.
    #[serde(default, deserialize_with = "lenient_list")]
    pub findings: Vec<TestFinding>,
    /// What was still wrong when the task last stopped without completing.
    #[serde(default, deserialize_with = "lenient_list")]
    pub problems: Vec<Problem>,
    /// Tool calls the agent's permissions refused during the task's last run.
    #[serde(default, deserialize_with = "lenient_list")]
    pub denials: Vec<Denial>,
    /// Time the agent and the checks took, over every attempt; time spent waiting for a human
    /// or a usage limit is not counted.
    #[serde(default)]
    pub duration_ms: u64,
}

/// A list whose entries an older kmilestone may have written in another form: entries that do
/// not read as `T` are dropped rather than making the whole state unreadable.
fn lenient_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let values: Vec<serde_json::Value> = Deserialize::deserialize(deserializer)?;
    Ok(values
        .into_iter()
        .filter_map(|value| serde_json::from_value(value).ok())
        .collect())
}

impl TaskState {
    pub(crate) fn cost_usd(&self) -> f64 {
        self.session_costs.values().sum::<f64>() + self.unattributed_cost_usd
    }
}

/// A task an attempt was started for and did not finish (the runner was stopped or killed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct InProgress {
    pub task: String,
    pub attempt: u32,
    pub session_id: Option<String>,
    pub head_before: Option<String>,
    pub started_at: String,
    /// The hash of the handoff snapshot taken when the task started (`None`: there was no
    /// handoff); a snapshot that does not match is refused.
    #[serde(default)]
    pub snapshot_sha256: Option<String>,
}

/// A question waiting for the human's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct PendingQuestion {
    pub task: String,
    pub session_id: String,
    pub question: Question,
    pub asked_at: String,
    /// The human's answer, saved before the session is resumed with it: a run interrupted after
    /// the answer was given resumes with it instead of asking again.
    #[serde(default)]
    pub answer: Option<String>,
}

/// How the last run ended, for `kmilestone report`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct LastRun {
    pub started_at: String,
    pub finished_at: String,
    pub outcome: RunOutcome,
    /// The caps it worked under, in micro-dollars and milliseconds.
    #[serde(default)]
    pub caps: RecordedCaps,
}

/// A run's caps as the state keeps them.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct RecordedCaps {
    pub max_cost: Option<u64>,
    pub max_task_cost: Option<u64>,
    pub max_time_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct State {
    pub version: u32,
    /// The generation of `state.log` that extends this file (see `journal`).
    #[serde(default)]
    pub journal: u64,
    pub milestone: String,
    /// The plan this state belongs to, relative to the repository root (two plans may share a
    /// milestone ID, and so a state folder).
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub tasks: BTreeMap<String, TaskState>,
    #[serde(default)]
    pub in_progress: Option<InProgress>,
    #[serde(default)]
    pub pending_question: Option<PendingQuestion>,
    #[serde(default)]
    pub last_run: Option<LastRun>,
    /// The supervised files as the user last trusted them (see `runner::supervision`), and
    /// HEAD then.
    #[serde(default)]
    pub trusted_supervision: Option<TrustedSupervision>,
    /// The tasks changed since the last save: the next one writes only those.
    #[serde(skip)]
    pub(super) unsaved: Unsaved,
}

/// Which tasks a save has yet to write: bookkeeping of the write path, not part of the state,
/// so two states never differ by it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Unsaved(pub(super) std::collections::BTreeSet<String>);

impl PartialEq for Unsaved {
    fn eq(&self, _: &Unsaved) -> bool {
        true
    }
}

/// What the runner last accepted as the configuration that governs the agent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct TrustedSupervision {
    pub files: BTreeMap<String, Option<String>>,
    pub head: Option<String>,
    /// The task whose verification found these files changed, when one did: a later run does not
    /// obey what it wrote until the user accepts or reverts it.
    pub changed_by: Option<String>,
}

impl State {
    pub(crate) fn new(milestone: &str) -> State {
        State {
            version: STATE_VERSION,
            journal: 0,
            milestone: milestone.to_string(),
            plan: None,
            tasks: BTreeMap::new(),
            in_progress: None,
            pending_question: None,
            last_run: None,
            trusted_supervision: None,
            unsaved: Unsaved::default(),
        }
    }

    /// The task's record, to change: the next save writes it.
    pub(crate) fn task_mut(&mut self, id: &str) -> &mut TaskState {
        if !self.unsaved.0.contains(id) {
            self.unsaved.0.insert(id.to_string());
        }
        self.tasks.entry(id.to_string()).or_default()
    }
}
