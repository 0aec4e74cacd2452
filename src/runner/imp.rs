//! The run: the selected tasks in order, each to its verdict, and the events that tell it. The
//! runner decides and records; it never prints.

use std::time::Instant;

use super::attempt::TaskEnd;
use super::gates::GateSandboxing;
use super::human::Human;
use super::notify::Notify;
use super::prepare::Prepared;
use super::selection::{Selection, SelectionError};
use super::summary;
use crate::agent::Adapter;
use crate::config::Settings;
use crate::events::{CapStop, CapsInfo, micros};
use crate::events::{
    Event, EventKind, EventSink, Note, RunEnd, RunOutcome, RunStart, TaskSummary, Totals, millis,
};
use crate::plan::{Milestone, Task, TaskType};
use crate::process::Cancel;
use crate::state::{LastRun, RecordedCaps, RunLock, State, StateDir, StateError, TaskState};
use crate::vcs::{GitError, Repo, TreeState};

/// Errors that stop a run before or between tasks. All are bad input or kmilestone's own
/// state or git failing (exit 2).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Write(#[from] crate::files::WriteError),
    #[error(transparent)]
    Selection(#[from] SelectionError),
    #[error("handoff {0}")]
    Handoff(#[from] crate::plan::InputError),
    #[error(
        "{0}: kmilestone run needs the plan inside a git repository (use --dry-run to preview)"
    )]
    NotARepository(#[source] GitError),
    #[error(
        "the configuration that governs the agent was changed by task {task}, and a later run does not obey what a task wrote: {changes}. Revert the change, or accept it with --allow-config-changes{}",
        if diff.is_empty() { String::new() } else { format!(":\n{diff}") }
    )]
    SupervisionChanged {
        task: String,
        changes: String,
        diff: String,
    },
    #[error("the working tree has uncommitted changes (commit or stash them, or pass --allow-dirty):\n{}", .0.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"))]
    Dirty(Vec<String>),
    #[error(
        "{} holds the state of {other}, another plan with milestone ID {id}; give one of the plans a different ID (its file name, e.g. M{}b_…), or remove that folder",
        dir.display(),
        id.trim_start_matches('M')
    )]
    SharedState {
        dir: std::path::PathBuf,
        other: String,
        id: String,
    },
}

impl RunError {
    pub(crate) fn exit_code(&self) -> i32 {
        crate::exit_codes::BAD_INPUT
    }
}

/// What the user asked of this run beyond the settings and the range.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunOptions {
    /// `--answer`: the answer to the pending question.
    pub answer: Option<String>,
    pub no_wait: bool,
    pub allow_dirty: bool,
    /// `--allow-config-changes`: a task may change the supervised files.
    pub allow_config_changes: bool,
}

/// Everything a run needs, for as long as it runs.
pub(crate) struct Runner<'a> {
    pub(crate) milestone: Milestone,
    pub(crate) settings: Settings,
    pub(crate) repo: Repo,
    pub(crate) state_dir: StateDir,
    pub(crate) state: State,
    pub(crate) adapter: Box<dyn Adapter>,
    pub(crate) cancel: Cancel,
    pub(crate) sink: &'a mut dyn EventSink,
    pub(crate) human: &'a mut dyn Human,
    pub(crate) notify: &'a mut dyn Notify,
    pub(crate) run_dir: std::path::PathBuf,
    pub(crate) started: Instant,
    pub(crate) selection: Selection,
    pub(crate) options: RunOptions,
    notes: Vec<Note>,
    /// Extra environment for the agent process.
    pub(crate) agent_env: Vec<(String, String)>,
    /// How the gates are confined.
    pub(crate) gate_sandbox: GateSandboxing,
    /// The tree as the runner last read it, while nothing has changed it since (the start's
    /// status, or the one the last verification judged): the next task's baseline without
    /// another `git status`.
    pub(crate) known_tree: Option<TreeState>,
    _lock: RunLock,
}

/// The parts of a run that come from outside the runner.
pub(crate) struct RunParts<'a> {
    pub settings: Settings,
    pub adapter: Box<dyn Adapter>,
    pub cancel: Cancel,
    pub sink: &'a mut dyn EventSink,
    pub human: &'a mut dyn Human,
    pub notify: &'a mut dyn Notify,
    pub options: RunOptions,
    /// When the run started: events count their `elapsed_ms` from it.
    pub started: Instant,
}

impl<'a> Runner<'a> {
    pub(crate) fn new(prepared: Prepared, parts: RunParts<'a>) -> Runner<'a> {
        let agent_env = identity_env(prepared.identity.clone());
        let gate_sandbox = GateSandboxing::new(&parts.settings, prepared.repo.root());
        Runner {
            milestone: prepared.milestone,
            settings: parts.settings,
            repo: prepared.repo,
            state_dir: prepared.state_dir,
            state: prepared.state,
            adapter: parts.adapter,
            cancel: parts.cancel,
            sink: parts.sink,
            human: parts.human,
            notify: parts.notify,
            run_dir: prepared.run_dir,
            started: parts.started,
            selection: prepared.selection,
            options: parts.options,
            notes: prepared.notes,
            agent_env,
            gate_sandbox,
            known_tree: prepared.tree,
            _lock: prepared.lock,
        }
    }

    pub(crate) fn emit(&mut self, kind: EventKind) {
        let event = Event {
            timestamp: jiff::Timestamp::now().to_string(),
            elapsed_ms: millis(self.started.elapsed()),
            kind,
        };
        self.sink.emit(&event);
        if !matches!(event.kind, EventKind::Notified(_)) {
            self.notify.observe(&event);
        }
    }

    /// Reports the notify commands that have finished (all of them with `wait`).
    fn report_notifications(&mut self, wait: bool) {
        for result in self.notify.results(wait) {
            self.emit(EventKind::Notified(result));
        }
    }

    /// Whether a cap stops the run before `next` starts.
    fn cap_reached(&self, next: &str) -> Option<RunOutcome> {
        let caps = self.settings.caps;
        let spent: f64 = self.state.tasks.values().map(TaskState::cost_usd).sum();
        let stop = if let Some(cap) = caps.max_cost.filter(|cap| spent >= *cap) {
            CapStop::Cost {
                cap: micros(cap),
                spent: micros(spent),
            }
        } else if let Some(cap) = caps.max_time.filter(|cap| self.started.elapsed() >= *cap) {
            CapStop::Time {
                cap_ms: millis(cap),
                elapsed_ms: millis(self.started.elapsed()),
            }
        } else {
            return None;
        };
        Some(RunOutcome::CapReached {
            stop,
            next: next.to_string(),
            plan: self.milestone.plan.path.display().to_string(),
        })
    }

    fn caps_info(&self) -> CapsInfo {
        let caps = self.settings.caps;
        CapsInfo {
            max_cost: caps.max_cost.map(micros),
            spent: micros(self.state.tasks.values().map(TaskState::cost_usd).sum()),
            max_task_cost: caps.max_task_cost.map(micros),
            max_time_ms: caps.max_time.map(millis),
        }
    }

    pub(crate) fn save_state(&mut self) -> Result<(), StateError> {
        self.state_dir.save(&mut self.state)
    }

    /// HEAD, the branch and the files that make the tree dirty.
    pub(crate) fn tree(&self) -> Result<TreeState, GitError> {
        self.repo.tree_state()
    }

    /// The tree the runner last read, when nothing has changed it since, or a fresh `git status`.
    pub(crate) fn tree_now(&mut self) -> Result<TreeState, GitError> {
        match self.known_tree.take() {
            Some(tree) => Ok(tree),
            None => self.tree(),
        }
    }

    /// Runs the selected tasks; returns the exit code.
    pub(crate) async fn run(&mut self) -> i32 {
        let started_at = jiff::Timestamp::now().to_string();
        let start = RunStart {
            milestone: self.milestone.plan.id.clone(),
            plan: self.milestone.plan.path.display().to_string(),
            handoff: self.milestone.handoff_path.display().to_string(),
            state_dir: self.state_dir.path().display().to_string(),
            header: self.selection.header(&self.milestone),
            notes: self.start_notes(),
            tasks: self.selection.tasks.clone(),
            agent: self.adapter.name().to_string(),
            permission: self.adapter.permission(),
            gates: self.settings.gates.clone(),
            gate_sandbox: self.gate_sandbox.header(&self.settings.gates),
            caps: self.caps_info(),
        };
        self.emit(EventKind::RunStarted(start));
        let mut summaries: Vec<TaskSummary> = Vec::new();
        let mut outcome = RunOutcome::Complete;
        let mut answer = self.options.answer.take();
        for id in self.selection.tasks.clone() {
            if !self.selection.runs(&id, &self.milestone.handoff) {
                continue;
            }
            self.report_notifications(false);
            if let Some(stop) = self.cap_reached(&id) {
                if let RunOutcome::CapReached { stop, .. } = &stop {
                    self.emit(EventKind::CapReached { stop: *stop });
                }
                outcome = stop;
                break;
            }
            let task = self
                .milestone
                .plan
                .task(&id)
                .expect("selected from the plan")
                .clone();
            let task_started = Instant::now();
            let result = self.run_task(&task, answer.take()).await;
            tracing::debug!(
                task = %id,
                result = ?result.as_ref().map(|end| end.result),
                ms = task_started.elapsed().as_millis() as u64,
                "task ended"
            );
            match result {
                Ok(end) => {
                    let summary = self.finish_task(&task, &end);
                    self.emit(EventKind::TaskFinished(summary.clone()));
                    summaries.push(summary);
                    if let Some(stop) = end.stop {
                        outcome = stop;
                        break;
                    }
                }
                Err(err) => {
                    outcome = RunOutcome::Error {
                        message: error_chain(&err),
                    };
                    break;
                }
            }
            if let Err(err) = self.milestone.reload_handoff() {
                // The handoff was checked a moment ago; the next task's own read reports it.
                tracing::warn!(%err, "could not re-read the handoff after task {id}");
            }
        }
        self.finish_run(started_at, outcome, summaries)
    }

    /// The task's summary after its end, from its record; commits are asked of git only when
    /// verification did not get as far as recording them.
    fn finish_task(&mut self, task: &Task, end: &TaskEnd) -> TaskSummary {
        let head_before = self
            .state
            .tasks
            .get(&task.id)
            .and_then(|r| r.head_before.clone());
        let record = self.state.task_mut(&task.id);
        if record.commits.is_empty() {
            record.commits = self
                .repo
                .commits_since(head_before.as_deref())
                .unwrap_or_default();
        }
        let mut summary = summary::task_summary(task, self.state.task_mut(&task.id));
        summary.result = end.result;
        summary.problems = end.problems.clone();
        summary
    }

    fn finish_run(
        &mut self,
        started_at: String,
        mut outcome: RunOutcome,
        tasks: Vec<TaskSummary>,
    ) -> i32 {
        self.milestone.reload_handoff().ok();
        let finished_at = jiff::Timestamp::now().to_string();
        let caps = self.caps_info();
        self.state.last_run = Some(LastRun {
            started_at,
            finished_at: finished_at.clone(),
            outcome: outcome.clone(),
            caps: RecordedCaps {
                max_cost: caps.max_cost,
                max_task_cost: caps.max_task_cost,
                max_time_ms: caps.max_time_ms,
            },
        });
        if let Err(err) = self.state_dir.compact(&mut self.state)
            && outcome == RunOutcome::Complete
        {
            outcome = RunOutcome::Error {
                message: error_chain(&err),
            };
        }
        let mut totals = Totals::default();
        for task in &tasks {
            totals.add(&task.totals);
        }
        let milestone =
            summary::milestone_summary(&self.milestone, &self.state, &self.settings.gates);
        let code = outcome.exit_code();
        self.report_notifications(false);
        self.emit(EventKind::RunFinished(RunEnd {
            outcome,
            finished_at,
            tasks,
            totals,
            milestone,
        }));
        // The last notification (the run's end) is waited for, so that it is not cut short;
        // its result goes to the run's notify log.
        self.notify.results(true);
        code
    }
}

impl Runner<'_> {
    /// The header's notes: what preparing the run found, then the warnings of the VALIDATION
    /// tasks this run starts whose text asks for what the agent's permissions cannot do.
    fn start_notes(&mut self) -> Vec<Note> {
        let mut notes = std::mem::take(&mut self.notes);
        for id in &self.selection.tasks {
            let Some(task) = self.milestone.plan.task(id) else {
                continue;
            };
            if !self.selection.runs(id, &self.milestone.handoff)
                || task.effective_type() != TaskType::Validation
            {
                continue;
            }
            notes.extend(
                self.adapter
                    .preflight(&task.body)
                    .into_iter()
                    .map(|warning| Note::Preflight {
                        task: id.clone(),
                        warning,
                    }),
            );
        }
        notes
    }
}

/// The identity git commits with in the repository, for the agent: inside Claude Code's
/// sandbox the home directory, and with it `~/.gitconfig`, is hidden, and a commit without an
/// identity fails.
fn identity_env(identity: Option<(String, String)>) -> Vec<(String, String)> {
    let Some((name, email)) = identity else {
        return Vec::new();
    };
    ["GIT_AUTHOR", "GIT_COMMITTER"]
        .iter()
        .flat_map(|who| {
            [
                (format!("{who}_NAME"), name.clone()),
                (format!("{who}_EMAIL"), email.clone()),
            ]
        })
        .collect()
}

/// An error and its causes on one line, for the run's final message.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
