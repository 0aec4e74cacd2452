//! The per-task state machine (DESIGN section 5): prepare, prompt, run the agent, verify, fix,
//! record. It emits events and never prints.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use regex::Regex;

use crate::agent::messages::{
    find_blocker, find_question, find_usage_limit, is_auth_failure, is_limit_notice,
};
use crate::agent::{Adapter, AgentEvent, Finished, Question, UsageLimit};
use crate::config::{CommitMode, Settings};
use crate::events::{
    AttemptEnd, Event, EventKind, EventSink, TaskResult, TaskSummary, Totals, millis,
};
use crate::exit_codes;
use crate::plan::handoff::{Handoff, MarkState};
use crate::plan::milestone::Milestone;
use crate::plan::{Task, TaskType};
use crate::process::{
    self, Cancel, EndedBy, ExitKind, Limits, LineVerdict, ProcessSpec, SpawnError, StdinSource,
    Stream,
};
use crate::prompt;
use crate::state::{InProgress, PendingQuestion, State, StateDir, StateError, write_atomic};
use crate::vcs::{GitError, Repo};

/// What the user asked of this run, beyond the settings.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub from: Option<String>,
    pub only: Option<String>,
    pub to: Option<String>,
    pub allow_dirty: bool,
    pub answer: Option<String>,
    pub no_wait: bool,
    pub no_gates: bool,
}

/// What the human chose for a task that still fails verification after its fix attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    /// Mark the task complete with its unit-test findings (offered only when nothing else failed).
    Accept,
    /// One more attempt in the same session, with these instructions.
    Guidance(String),
}

const ACCEPT_FINDINGS: &str = "Accept the task with these unit-test findings";
const STOP_RUN: &str = "Stop the run here";

/// Someone who can answer the agent's questions now (a terminal), or nobody.
pub trait Human {
    fn ask(&mut self, question: &Question) -> Option<String>;

    /// Asks for a decision of the runner's own (what to do with a task that still fails):
    /// an option, or instructions; None to stop. Nothing is saved for later.
    fn decide(&mut self, question: &Question) -> Option<String> {
        self.ask(question)
    }

    /// Whether someone is there to be asked at all (a terminal). The agent's questions are
    /// saved for `--answer` either way; the runner's own decisions are only offered to someone
    /// present.
    fn is_present(&self) -> bool {
        true
    }
}

/// Errors that stop a run before or between tasks; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("the working tree has uncommitted changes (commit or stash them, or pass --allow-dirty):\n{}", .0.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"))]
    Dirty(Vec<String>),
    #[error("{path}: cannot write the handoff: {source}")]
    Handoff {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl RunError {
    pub fn exit_code(&self) -> i32 {
        exit_codes::BAD_INPUT
    }
}

/// Which tasks this run attempts, in plan order, and whether they run even when complete.
pub fn select_tasks(milestone: &Milestone, request: &RunRequest) -> Result<Selection, String> {
    let plan = &milestone.plan;
    let position = |id: &str, flag: &str| {
        plan.position(id).ok_or_else(|| {
            format!(
                "{flag} {id}: no such task in {} (tasks: {})",
                plan.path.display(),
                plan.id_list()
            )
        })
    };
    let from = request
        .from
        .as_deref()
        .map(|id| position(id, "--from"))
        .transpose()?;
    let only = request
        .only
        .as_deref()
        .map(|id| position(id, "--only"))
        .transpose()?;
    let to = request
        .to
        .as_deref()
        .map(|id| position(id, "--to"))
        .transpose()?;
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(format!(
            "--to {} comes before --from {} in the plan",
            plan.tasks[to].id, plan.tasks[from].id
        ));
    }
    if let Some(only) = only {
        return Ok(Selection {
            tasks: vec![plan.tasks[only].id.clone()],
            forced: true,
        });
    }
    let end = to.map_or(plan.tasks.len(), |to| to + 1);
    match from {
        Some(from) => Ok(Selection {
            tasks: plan.tasks[from..end.max(from)]
                .iter()
                .map(|t| t.id.clone())
                .collect(),
            forced: true,
        }),
        None => {
            let statuses = &milestone.progress.statuses;
            Ok(Selection {
                tasks: plan.tasks[..end]
                    .iter()
                    .zip(statuses)
                    .filter(|(_, s)| **s != crate::plan::progress::TaskStatus::Complete)
                    .map(|(t, _)| t.id.clone())
                    .collect(),
                forced: false,
            })
        }
    }
}

/// The tasks a run attempts.
#[derive(Debug, Clone)]
pub struct Selection {
    pub tasks: Vec<String>,
    /// `--from`/`--only`: run them even if the handoff marks them complete.
    pub forced: bool,
}

/// Everything a run needs.
pub struct Runner<'a> {
    pub milestone: Milestone,
    pub settings: Settings,
    pub repo: Repo,
    pub state_dir: StateDir,
    pub state: State,
    pub adapter: Box<dyn Adapter>,
    pub gates: Vec<String>,
    pub cancel: Cancel,
    pub sink: &'a mut dyn EventSink,
    pub human: &'a mut dyn Human,
    /// The workflow text in front of every first prompt.
    pub workflow_template: String,
    pub run_dir: PathBuf,
    pub started: Instant,
    /// Extra environment for the agent process.
    pub agent_env: Vec<(String, String)>,
}

/// What one agent invocation produced.
struct AgentRun {
    session_id: Option<String>,
    finished: Option<Finished>,
    end: AttemptEnd,
    /// The last text the agent said, when the result line has none.
    last_text: String,
}

/// The verdict on a task.
struct TaskVerdict {
    result: TaskResult,
    problems: Vec<String>,
    message: Option<String>,
}

impl TaskVerdict {
    fn interrupted(id: &str, problems: Vec<String>) -> TaskVerdict {
        TaskVerdict {
            result: TaskResult::Interrupted,
            problems,
            message: Some(format!(
                "Interrupted during task {id}; run again to resume it"
            )),
        }
    }

    fn waiting_for_answer(id: &str, plan: &Path) -> TaskVerdict {
        TaskVerdict {
            result: TaskResult::Question,
            problems: Vec::new(),
            message: Some(format!(
                "Task {id} waits for an answer. Continue with: kmilestone run {} --answer \"…\"",
                plan.display()
            )),
        }
    }
}

static E2E_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)^\s*[-*]?\s*\*\*E2E:?\*\*:?\s*(.+?)\s*(?:—|–|-|:)+\s*\**(PASSED|FAILED)\**")
        .expect("e2e pattern")
});

impl Runner<'_> {
    fn emit(&mut self, kind: EventKind) {
        let event = Event {
            timestamp: jiff::Timestamp::now().to_string(),
            elapsed_ms: millis(self.started.elapsed()),
            kind,
        };
        self.sink.emit(&event);
    }

    /// Runs the selected tasks; returns the exit code.
    pub async fn run(
        &mut self,
        selection: &Selection,
        request: &RunRequest,
        header: Vec<String>,
        notes: Vec<String>,
    ) -> i32 {
        let milestone = &self.milestone;
        self.emit(EventKind::RunStarted {
            milestone: milestone.plan.id.clone(),
            name: milestone.plan.display_name(),
            plan: milestone.plan.path.display().to_string(),
            handoff: milestone.handoff_path.display().to_string(),
            header,
            notes,
            tasks: selection.tasks.clone(),
            agent: self.adapter.name().to_string(),
            permission: self.permission_summary(),
            gates: self.gates.clone(),
        });
        let mut summaries: Vec<TaskSummary> = Vec::new();
        let mut exit_code = exit_codes::SUCCESS;
        let mut message = None;
        let mut answer = request.answer.clone();
        for id in &selection.tasks {
            let task = self
                .milestone
                .plan
                .task(id)
                .expect("selected from the plan")
                .clone();
            if !selection.forced && self.milestone.handoff.is_complete(id) {
                continue;
            }
            let started = Instant::now();
            let verdict = match self.run_task(&task, request, answer.take()).await {
                Ok(verdict) => verdict,
                Err(err) => {
                    exit_code = err.exit_code();
                    message = Some(err.to_string());
                    break;
                }
            };
            let summary = self.task_summary(&task, &verdict, started.elapsed());
            self.emit(EventKind::TaskFinished(summary.clone()));
            summaries.push(summary);
            if verdict.result != TaskResult::Completed {
                exit_code = match verdict.result {
                    TaskResult::Completed => exit_codes::SUCCESS,
                    TaskResult::Failed => exit_codes::TASK_FAILED,
                    TaskResult::Blocked => exit_codes::BLOCKED,
                    TaskResult::Question => exit_codes::NEEDS_ANSWER,
                    TaskResult::UsageLimit => exit_codes::USAGE_LIMIT,
                    TaskResult::Interrupted => exit_codes::INTERRUPTED,
                    TaskResult::AgentUnavailable => exit_codes::AGENT_UNAVAILABLE,
                };
                message = verdict.message.clone();
                break;
            }
            if self.milestone.reload_handoff().is_err() {
                // The handoff was checked a moment ago; a failure to re-read it now is reported by
                // the next task's own read.
                tracing::warn!("could not re-read the handoff after task {id}");
            }
        }
        let summary =
            (exit_code == exit_codes::SUCCESS).then(|| self.completion_summary(&summaries));
        let totals = summaries.iter().fold(Totals::default(), |mut acc, t| {
            acc.cost_usd += t.totals.cost_usd;
            acc.usage.add(&t.totals.usage);
            acc
        });
        let outcome = match exit_code {
            exit_codes::SUCCESS => "complete",
            exit_codes::TASK_FAILED => "failed",
            exit_codes::BLOCKED => "blocked",
            exit_codes::NEEDS_ANSWER => "question",
            exit_codes::USAGE_LIMIT => "usage_limit",
            exit_codes::INTERRUPTED => "interrupted",
            exit_codes::AGENT_UNAVAILABLE => "agent_unavailable",
            _ => "error",
        };
        self.emit(EventKind::RunFinished {
            exit_code,
            outcome: outcome.to_string(),
            tasks: summaries,
            totals,
            summary,
            message,
        });
        exit_code
    }

    fn permission_summary(&self) -> String {
        match self.settings.agent {
            crate::config::AgentKind::Claude => {
                crate::agent::claude::Claude::new(self.settings.claude.clone(), self.gates.clone())
                    .permission_summary()
            }
            crate::config::AgentKind::Command => "as the command allows".to_string(),
        }
    }

    fn save_state(&self) -> Result<(), RunError> {
        Ok(self.state_dir.save(&self.state)?)
    }

    /// HEAD and the files that make the tree dirty, leaving out kmilestone's own state folder.
    fn tree(&self) -> Result<crate::vcs::TreeState, RunError> {
        let mut tree = self.repo.tree_state()?;
        tree.dirty.retain(|f| !crate::state::is_state_path(f));
        Ok(tree)
    }

    async fn run_task(
        &mut self,
        task: &Task,
        request: &RunRequest,
        answer: Option<String>,
    ) -> Result<TaskVerdict, RunError> {
        let id = task.id.clone();
        let resumed = self.state.in_progress.clone().filter(|p| p.task == id);
        let pending = self.state.pending_question.clone().filter(|q| q.task == id);
        let snapshot_path = self.state_dir.handoff_snapshot_path();

        // The handoff as it was before the task: from the interrupted attempt's snapshot when this
        // continues one, so that bytes removed before the interruption are still restored.
        let tree = self.tree()?;
        let (handoff_before, head_before) = match &resumed {
            Some(in_progress) => {
                let before = std::fs::read(&snapshot_path).ok();
                (before, in_progress.head_before.clone())
            }
            None => {
                let before = std::fs::read(&self.milestone.handoff_path).ok();
                (before, tree.head.clone())
            }
        };

        let branch_before = self.repo.branch();
        let dirty = tree.dirty;
        let mut note = None;
        if !dirty.is_empty() {
            if resumed.is_some() {
                note = Some(format!(
                    "An earlier attempt at this task was interrupted. The working tree still has its uncommitted changes ({}). Review them and continue from there.",
                    dirty.join(", ")
                ));
            } else if !request.allow_dirty {
                return Err(RunError::Dirty(dirty));
            }
        }

        match &handoff_before {
            Some(bytes) => write_atomic(&snapshot_path, bytes)?,
            None => {
                std::fs::remove_file(&snapshot_path).ok();
            }
        }
        let marks_before = handoff_before
            .as_deref()
            .map(|b| complete_marks(&String::from_utf8_lossy(b), &self.milestone, &id))
            .unwrap_or(0);
        let now = jiff::Timestamp::now().to_string();
        {
            let record = self.state.task_mut(&id);
            if record.started_at.is_none() || resumed.is_none() {
                record.started_at = Some(now.clone());
            }
            record.head_before = head_before.clone();
            record.result = None;
            record.commits.clear();
        }
        self.state.in_progress = Some(InProgress {
            task: id.clone(),
            attempt: resumed.as_ref().map_or(0, |r| r.attempt),
            session_id: resumed.as_ref().and_then(|r| r.session_id.clone()),
            head_before: head_before.clone(),
            started_at: now,
        });
        // Saved with the first attempt's number, just before the agent starts.

        self.emit(EventKind::TaskStarted {
            id: id.clone(),
            title: task.title.clone(),
            task_type: task.effective_type().to_string(),
            note: note.clone(),
        });

        let handoff_text = handoff_before
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        // The agent works in the repository root: paths are given from there.
        let mut progress_milestone = prompt::milestone_for_agent(&self.milestone, self.repo.root());
        progress_milestone.progress.completed.retain(|c| c != &id);
        let context = prompt::context(&progress_milestone, task, &handoff_text);
        let first_prompt = match self.settings.workflow {
            crate::config::WorkflowMode::SlashCommand => {
                prompt::slash_command_prompt(&progress_milestone.plan.path, task, &context)
            }
            crate::config::WorkflowMode::Builtin => prompt::task_prompt(
                &prompt::render_workflow(
                    &self.workflow_template,
                    &progress_milestone,
                    task,
                    &self.gates,
                ),
                &context,
            ),
        };
        let mut next_prompt = match note {
            Some(note) => format!("{first_prompt}\n\n## Note from the runner\n\n{note}\n"),
            None => first_prompt.clone(),
        };
        let mut session: Option<String> = None;
        if let Some(pending) = pending {
            match answer {
                Some(answer) => {
                    next_prompt = prompt::answer_prompt(&answer);
                    session = Some(pending.session_id.clone());
                    self.state.pending_question = None;
                    self.save_state()?;
                }
                None => {
                    self.emit(EventKind::Question {
                        id: id.clone(),
                        question: pending.question.clone(),
                        session_id: pending.session_id.clone(),
                    });
                    if let Some(answer) = self.human.ask(&pending.question) {
                        next_prompt = prompt::answer_prompt(&answer);
                        session = Some(pending.session_id.clone());
                        self.state.pending_question = None;
                        self.save_state()?;
                    } else {
                        return Ok(TaskVerdict::waiting_for_answer(
                            &id,
                            &self.milestone.plan.path,
                        ));
                    }
                }
            }
        }

        let mut fixes_used = 0u32;
        let mut quality_fixes_used = 0u32;
        let mut limit_waits = 0u32;
        loop {
            let attempt = {
                let record = self.state.task_mut(&id);
                record.attempts += 1;
                record.attempts
            };
            if let Some(in_progress) = self.state.in_progress.as_mut() {
                in_progress.attempt = attempt;
            }
            self.save_state()?;
            let run = match self
                .run_agent(&id, attempt, &next_prompt, session.as_deref())
                .await
            {
                Ok(run) => run,
                Err(SpawnError::NotFound { program })
                | Err(SpawnError::PermissionDenied { program }) => {
                    return Ok(TaskVerdict {
                        result: TaskResult::AgentUnavailable,
                        problems: Vec::new(),
                        message: Some(format!(
                            "the agent could not be started: `{}` was not found or is not executable (install it, or set [agent.claude] binary / KMILESTONE_CLAUDE_BIN)",
                            program.to_string_lossy()
                        )),
                    });
                }
                Err(err) => {
                    return Ok(TaskVerdict {
                        result: TaskResult::AgentUnavailable,
                        problems: Vec::new(),
                        message: Some(format!("the agent could not be started: {err}")),
                    });
                }
            };
            if let Some(session_id) = &run.session_id {
                session = Some(session_id.clone());
                if let Some(in_progress) = self.state.in_progress.as_mut() {
                    in_progress.session_id = Some(session_id.clone());
                }
            }
            self.account(&id, &run);
            self.save_state()?;
            if run.end == AttemptEnd::Interrupted {
                self.state.task_mut(&id).result =
                    Some(TaskResult::Interrupted.as_str().to_string());
                self.save_state()?;
                return Ok(TaskVerdict::interrupted(&id, Vec::new()));
            }
            let final_text = run
                .finished
                .as_ref()
                .map(|f| f.result.clone())
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| run.last_text.clone());

            // Not logged in, or a key the API refuses: no retry can help.
            if let Some(finished) = run.finished.as_ref().filter(|f| f.is_error)
                && is_auth_failure(&final_text, finished.api_error_status)
            {
                self.state.in_progress = None;
                self.state.task_mut(&id).result =
                    Some(TaskResult::AgentUnavailable.as_str().to_string());
                self.save_state()?;
                return Ok(TaskVerdict {
                    result: TaskResult::AgentUnavailable,
                    problems: vec![final_text.trim().to_string()],
                    message: Some(format!(
                        "the agent is not authenticated: {} (log in, e.g. `claude /login`, or set ANTHROPIC_API_KEY, then run again)",
                        final_text.trim()
                    )),
                });
            }

            // A usage limit: wait for the reset and continue the same session.
            if let Some(limit) = find_usage_limit(&final_text, &jiff::Zoned::now()).filter(|_| {
                run.finished
                    .as_ref()
                    .is_none_or(|f| f.is_error || is_limit_notice(&final_text))
            }) {
                self.state.task_mut(&id).attempts -= 1;
                match self
                    .wait_for_limit(&id, &limit, request.no_wait, limit_waits)
                    .await
                {
                    LimitWait::Resume => {
                        limit_waits += 1;
                        next_prompt = "You were stopped by a usage limit, which has now reset. Continue the task where you left off.".to_string();
                        if session.is_none() || !self.adapter.can_resume() {
                            next_prompt = first_prompt.clone();
                        }
                        continue;
                    }
                    LimitWait::Stop(message) => {
                        self.state.task_mut(&id).result =
                            Some(TaskResult::UsageLimit.as_str().to_string());
                        self.save_state()?;
                        return Ok(TaskVerdict {
                            result: TaskResult::UsageLimit,
                            problems: Vec::new(),
                            message: Some(message),
                        });
                    }
                    LimitWait::Interrupted => {
                        return Ok(TaskVerdict {
                            result: TaskResult::Interrupted,
                            problems: Vec::new(),
                            message: Some(format!(
                                "Interrupted while waiting for the usage limit during task {id}"
                            )),
                        });
                    }
                }
            }

            // A question for the human.
            if let (Some(question), Some(session_id)) =
                (find_question(&final_text), session.clone())
            {
                self.state.task_mut(&id).attempts -= 1;
                self.emit(EventKind::Question {
                    id: id.clone(),
                    question: question.clone(),
                    session_id: session_id.clone(),
                });
                if let Some(answer) = self.human.ask(&question) {
                    next_prompt = prompt::answer_prompt(&answer);
                    continue;
                }
                self.state.pending_question = Some(PendingQuestion {
                    task: id.clone(),
                    session_id,
                    question,
                    asked_at: jiff::Timestamp::now().to_string(),
                });
                self.state.task_mut(&id).result = Some(TaskResult::Question.as_str().to_string());
                self.save_state()?;
                return Ok(TaskVerdict::waiting_for_answer(
                    &id,
                    &self.milestone.plan.path,
                ));
            }

            // A blocker the agent reported.
            if let Some(reason) = find_blocker(&final_text) {
                self.state.in_progress = None;
                self.state.task_mut(&id).result = Some(TaskResult::Blocked.as_str().to_string());
                self.save_state()?;
                return Ok(TaskVerdict {
                    result: TaskResult::Blocked,
                    problems: vec![reason.clone()],
                    message: Some(format!("Task {id} is blocked: {reason}")),
                });
            }

            let (problems, quality_problems) = self
                .verify(
                    task,
                    &run,
                    handoff_before.as_deref(),
                    marks_before,
                    head_before.as_deref(),
                    branch_before.as_deref(),
                )
                .await?;
            if self.cancel.is_cancelled() {
                return Ok(TaskVerdict::interrupted(&id, problems));
            }
            if problems.is_empty() && quality_problems.is_empty() {
                return self.complete(&id, &snapshot_path);
            }
            let can_fix = if problems.is_empty() {
                quality_fixes_used < self.settings.quality_retries
            } else {
                fixes_used < self.settings.retries
            };
            let mut all_problems = problems.clone();
            all_problems.extend(quality_problems.iter().cloned());
            self.emit(EventKind::VerificationFailed {
                id: id.clone(),
                attempt,
                problems: all_problems.clone(),
                retrying: can_fix,
            });
            let mut guidance = None;
            if !can_fix {
                // Out of fix attempts: a human at the terminal decides (DESIGN 5.5); nobody there,
                // the run stops with the report.
                match self.decide_after_failure(&id, attempt, &all_problems, problems.is_empty()) {
                    Some(Decision::Accept) => return self.complete(&id, &snapshot_path),
                    Some(Decision::Guidance(text)) => guidance = Some(text),
                    None => {}
                }
            }
            if !can_fix && guidance.is_none() {
                let record = self.state.task_mut(&id);
                record.result = Some(TaskResult::Failed.as_str().to_string());
                record.finished_at = Some(jiff::Timestamp::now().to_string());
                self.state.in_progress = None;
                self.save_state()?;
                return Ok(TaskVerdict {
                    result: TaskResult::Failed,
                    message: Some(format!(
                        "Task {id} failed verification after {attempt} attempt{}",
                        if attempt == 1 { "" } else { "s" }
                    )),
                    problems: all_problems,
                });
            }
            if problems.is_empty() {
                quality_fixes_used += 1;
            } else {
                fixes_used += 1;
            }
            let mut fix = prompt::fix_prompt(task, &all_problems);
            if let Some(guidance) = &guidance {
                fix.push_str(&prompt::guidance_section(guidance));
            }
            next_prompt = match (&session, self.adapter.can_resume()) {
                (Some(_), true) => fix,
                _ => {
                    session = None;
                    format!(
                        "{first_prompt}\n\n## An earlier attempt at this task was checked\n\n{fix}"
                    )
                }
            };
        }
    }

    /// Records the task as completed and drops its handoff snapshot.
    fn complete(&mut self, id: &str, snapshot_path: &Path) -> Result<TaskVerdict, RunError> {
        let record = self.state.task_mut(id);
        record.result = Some(TaskResult::Completed.as_str().to_string());
        record.finished_at = Some(jiff::Timestamp::now().to_string());
        self.state.in_progress = None;
        self.save_state()?;
        std::fs::remove_file(snapshot_path).ok();
        Ok(TaskVerdict {
            result: TaskResult::Completed,
            problems: Vec::new(),
            message: None,
        })
    }

    /// Asks the human what to do with a task that still fails verification after its fix
    /// attempts: instructions for one more attempt in the same session, accepting the task when
    /// only unit-test findings remain (gates, handoff and commits passed), or stopping. None when
    /// nobody is there to ask or they chose to stop.
    fn decide_after_failure(
        &mut self,
        id: &str,
        attempt: u32,
        problems: &[String],
        only_test_quality: bool,
    ) -> Option<Decision> {
        if !self.human.is_present() {
            return None;
        }
        let mut options = Vec::new();
        if only_test_quality {
            options.push(ACCEPT_FINDINGS.to_string());
        }
        options.push(STOP_RUN.to_string());
        let mut text = format!(
            "Task {id} still fails verification after {attempt} attempt{}:\n",
            if attempt == 1 { "" } else { "s" }
        );
        for problem in problems {
            text.push_str(&format!(
                "- {}\n",
                problem.lines().next().unwrap_or_default()
            ));
        }
        text.push_str(
            "Type instructions for one more attempt in the same session, or pick an option.",
        );
        let question = Question {
            text,
            options,
            recommendation: None,
        };
        self.emit(EventKind::DecisionNeeded {
            id: id.to_string(),
            question: question.clone(),
        });
        let answer = self.human.decide(&question)?;
        match answer.as_str() {
            STOP_RUN => None,
            ACCEPT_FINDINGS if only_test_quality => Some(Decision::Accept),
            _ => Some(Decision::Guidance(answer)),
        }
    }

    async fn run_agent(
        &mut self,
        id: &str,
        attempt: u32,
        prompt_text: &str,
        session: Option<&str>,
    ) -> Result<AgentRun, SpawnError> {
        let command = self.adapter.command(prompt_text, session, self.repo.root());
        self.emit(EventKind::AttemptStarted {
            id: id.to_string(),
            attempt,
            resume: session.map(str::to_string),
            command: command.display(),
        });
        let spec = ProcessSpec {
            program: command.program.into_os_string(),
            args: command.args,
            cwd: self.repo.root().to_path_buf(),
            env_set: self
                .agent_env
                .iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            env_remove: Vec::new(),
            stdin: StdinSource::Bytes(command.stdin),
        };
        let limits = Limits {
            idle_timeout: Some(self.settings.idle_timeout),
            wall_timeout: Some(self.settings.task_timeout),
            after_final_grace: self.settings.result_grace,
            kill_grace: self.settings.kill_grace,
        };
        let mut session_id: Option<String> = None;
        let mut finished: Option<Finished> = None;
        let mut last_text = String::new();
        let mut pending_events: Vec<AgentEvent> = Vec::new();
        let started = self.started;
        let adapter = &mut self.adapter;
        let sink = &mut *self.sink;
        let outcome = process::run(&spec, &limits, &self.cancel, &mut |stream, line| {
            if stream == Stream::Stderr {
                return LineVerdict::Continue;
            }
            let mut verdict = LineVerdict::Continue;
            pending_events.extend(adapter.parse_line(line));
            for event in pending_events.drain(..) {
                match &event {
                    AgentEvent::Started { session_id: s, .. } if !s.is_empty() => {
                        session_id = Some(s.clone());
                    }
                    AgentEvent::Text { text } if !text.trim().is_empty() => {
                        last_text = text.clone()
                    }
                    AgentEvent::Finished(f) => {
                        finished = Some(f.clone());
                        verdict = LineVerdict::Final;
                    }
                    _ => {}
                }
                sink.emit(&Event {
                    timestamp: jiff::Timestamp::now().to_string(),
                    elapsed_ms: millis(started.elapsed()),
                    kind: EventKind::Agent {
                        id: id.to_string(),
                        event,
                    },
                });
            }
            verdict
        })
        .await?;
        let end = match outcome.ended_by {
            EndedBy::Cancelled => AttemptEnd::Interrupted,
            EndedBy::IdleTimeout => AttemptEnd::IdleTimeout,
            EndedBy::WallTimeout => AttemptEnd::WallTimeout,
            EndedBy::Exited | EndedBy::AfterFinal => match &finished {
                Some(f) => AttemptEnd::Result {
                    is_error: f.is_error,
                    subtype: f.subtype.clone(),
                },
                None => AttemptEnd::NoResult {
                    exit: match outcome.exit {
                        ExitKind::Code(code) => format!("exit code {code}"),
                        ExitKind::Signal(signal) => format!("killed by signal {signal}"),
                    },
                },
            },
        };
        // A command agent has no result line: its exit code is its result.
        let finished = finished.or_else(|| {
            (!self.adapter.can_resume() && matches!(end, AttemptEnd::NoResult { .. })).then(|| {
                Finished {
                    is_error: !outcome.exit.success(),
                    subtype: "exit".to_string(),
                    result: last_text.clone(),
                    ..Finished::default()
                }
            })
        });
        let end = match (&end, &finished) {
            (AttemptEnd::NoResult { .. }, Some(f)) if !self.adapter.can_resume() => {
                AttemptEnd::Result {
                    is_error: f.is_error,
                    subtype: f.subtype.clone(),
                }
            }
            _ => end,
        };
        self.emit(EventKind::AttemptFinished {
            id: id.to_string(),
            attempt,
            end: end.clone(),
            session_id: session_id.clone(),
            duration_ms: millis(outcome.duration),
            stderr_tail: tail_lines(&outcome.stderr_tail, 20),
        });
        Ok(AgentRun {
            session_id,
            finished,
            end,
            last_text,
        })
    }

    /// Adds an invocation's cost and tokens to the task. Claude's cost is cumulative over a
    /// resumed session, so the latest figure per session replaces the earlier one.
    fn account(&mut self, id: &str, run: &AgentRun) {
        let Some(finished) = &run.finished else {
            return;
        };
        let record = self.state.task_mut(id);
        record.usage.add(&finished.usage);
        if let Some(session) = &run.session_id {
            record.sessions.retain(|s| s != session);
            record.sessions.push(session.clone());
        }
        if let Some(cost) = finished.cost_usd {
            match &run.session_id {
                Some(session) => {
                    let entry = record.session_costs.entry(session.clone()).or_insert(0.0);
                    *entry = entry.max(cost);
                }
                None => record.unattributed_cost_usd += cost,
            }
        }
    }

    async fn wait_for_limit(
        &mut self,
        id: &str,
        limit: &UsageLimit,
        no_wait: bool,
        waits: u32,
    ) -> LimitWait {
        const BACKOFF: [u64; 3] = [60, 300, 900];
        let wait = match limit.resets_at {
            Some(resets_at) => {
                let seconds = resets_at.as_second() - jiff::Timestamp::now().as_second();
                Duration::from_secs(seconds.max(0) as u64 + 1)
            }
            None => match BACKOFF.get(waits as usize) {
                Some(&seconds) => Duration::from_secs(seconds),
                None => {
                    return LimitWait::Stop(format!(
                        "Usage limit hit during task {id} and still in force after {} waits: {}",
                        waits, limit.message
                    ));
                }
            },
        };
        if no_wait {
            let when = limit
                .resets_at
                .map(|t| format!(" (resets at {t})"))
                .unwrap_or_default();
            return LimitWait::Stop(format!(
                "Usage limit hit during task {id}{when}; not waiting (--no-wait). Run again later to resume: {}",
                limit.message
            ));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if remaining.is_zero() {
                return LimitWait::Resume;
            }
            self.emit(EventKind::WaitingForLimit {
                id: id.to_string(),
                message: limit.message.clone(),
                resets_at: limit.resets_at.map(|t| t.to_string()),
                wait_seconds: remaining.as_secs(),
            });
            let step = remaining.min(Duration::from_secs(60));
            tokio::select! {
                _ = tokio::time::sleep(step) => {}
                _ = self.cancel.cancelled() => return LimitWait::Interrupted,
            }
        }
    }

    /// The runner's own checks of a task (DESIGN 5.4). Returns the problems to fix, and separately
    /// the unit-test quality problems (which have their own fix budget).
    async fn verify(
        &mut self,
        task: &Task,
        run: &AgentRun,
        handoff_before: Option<&[u8]>,
        marks_before: usize,
        head_before: Option<&str>,
        branch_before: Option<&str>,
    ) -> Result<(Vec<String>, Vec<String>), RunError> {
        let id = task.id.clone();
        let mut problems = Vec::new();
        match &run.end {
            AttemptEnd::Result {
                is_error: true,
                subtype,
            } => {
                let finished = run.finished.as_ref();
                // Claude Code ends an API failure with `subtype: "success"`; naming that subtype
                // would only mislead.
                let kind = (!subtype.is_empty() && subtype != "success").then(|| subtype.clone());
                let status = finished
                    .and_then(|f| f.api_error_status)
                    .map(|s| format!("API status {s}"));
                let what = [kind, status].into_iter().flatten().collect::<Vec<_>>();
                let what = if what.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", what.join(", "))
                };
                let text = finished
                    .map(|f| f.result.trim().to_string())
                    .unwrap_or_default();
                problems.push(format!(
                    "the agent's run ended with an error{what}: {}",
                    if text.is_empty() {
                        "no message".to_string()
                    } else {
                        tail_lines(&text, 5)
                    }
                ));
            }
            AttemptEnd::Result { .. } => {}
            AttemptEnd::NoResult { exit } => problems.push(format!(
                "the agent ended without a result ({exit}); it may have crashed"
            )),
            AttemptEnd::IdleTimeout => problems.push(format!(
                "the agent produced no output for {} and was stopped",
                humantime::format_duration(self.settings.idle_timeout)
            )),
            AttemptEnd::WallTimeout => problems.push(format!(
                "the agent ran longer than the task timeout of {} and was stopped",
                humantime::format_duration(self.settings.task_timeout)
            )),
            AttemptEnd::Interrupted => {}
        }

        // The handoff: append-only, and it must have gained this task's section.
        let handoff_path = self.milestone.handoff_path.clone();
        let current = std::fs::read(&handoff_path).ok();
        let mut handoff_text = current
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        if let Some(before) = handoff_before
            && !current.as_deref().unwrap_or_default().starts_with(before)
        {
            let restored = restore_handoff(before, &handoff_text, &self.milestone, &id);
            let kept = self.run_dir.join(format!(
                "handoff-rejected-{id}-{}.md",
                jiff::Timestamp::now().as_second()
            ));
            if let Some(current) = &current {
                std::fs::write(&kept, current).ok();
            }
            write_atomic(&handoff_path, restored.as_bytes())?;
            let detail = format!(
                "the agent removed or changed handoff content that was there before task {id}; it was restored (the agent's version is kept at {})",
                kept.display()
            );
            handoff_text = restored;
            self.emit(EventKind::HandoffRestored {
                id: id.clone(),
                detail: detail.clone(),
            });
            // A handoff outside the repository is not under version control: nothing to commit.
            let relative = prompt::path_for_agent(&handoff_path, self.repo.root());
            if self.repo.head()?.as_deref() != head_before && relative.is_relative() {
                self.repo.commit_path(
                    &relative,
                    &format!("Restore handoff content removed during task {id}"),
                )?;
            }
        }
        let marks_now = complete_marks(&handoff_text, &self.milestone, &id);
        if marks_now <= marks_before {
            problems.push(format!(
                "the handoff {} has no new `## Task {id} Complete: {}` section; append one with what the next task must know",
                prompt::path_for_agent(&handoff_path, self.repo.root()).display(),
                task.title
            ));
        }

        // E2E result of a VALIDATION task, read from its Complete section.
        if task.effective_type() == TaskType::Validation && marks_now > marks_before {
            let section = complete_section(&handoff_text, &self.milestone, &id);
            // The latest result counts: a section may record a failed run and then the rerun.
            match E2E_LINE.captures_iter(&section).last() {
                Some(captures) => {
                    let name = captures[1].trim().trim_matches('*').trim().to_string();
                    let result = captures[2].to_ascii_uppercase();
                    self.state.task_mut(&id).e2e = Some(format!("{name} — {result}"));
                    if result == "FAILED" {
                        problems.push(format!("the E2E scenario {name} FAILED; fix what it found and run it again"));
                    }
                }
                None => problems.push(format!(
                    "the Complete section of task {id} records no E2E result; run the scenario and add `**E2E:** <name> — PASSED` (or FAILED)"
                )),
            }
        }

        // The gates, run by the runner itself.
        let mut records = Vec::new();
        for command in self.gates.clone() {
            if self.cancel.is_cancelled() {
                break;
            }
            self.emit(EventKind::GateStarted {
                id: id.clone(),
                command: command.clone(),
            });
            let gate = crate::gates::run_gate(
                &command,
                self.repo.root(),
                self.settings.gate_timeout,
                self.settings.kill_grace,
                &self.cancel,
            )
            .await;
            match gate {
                Ok(gate) => {
                    self.emit(EventKind::GateFinished {
                        id: id.clone(),
                        gate: gate.record.clone(),
                        output_tail: gate.output_tail.clone(),
                    });
                    if !gate.record.passed {
                        let why = if gate.record.timed_out {
                            format!(
                                "timed out after {}",
                                humantime::format_duration(self.settings.gate_timeout)
                            )
                        } else {
                            match gate.record.exit_code {
                                Some(code) => format!("exited with {code}"),
                                None => "was killed".to_string(),
                            }
                        };
                        problems.push(format!(
                            "gate `{command}` failed ({why}). Last lines of its output:\n{}",
                            gate.output_tail
                        ));
                    }
                    records.push(gate.record);
                }
                Err(err) => problems.push(format!("gate `{command}` could not be run: {err}")),
            }
        }
        self.state.task_mut(&id).gates = records;

        // Committed: HEAD moved and nothing left uncommitted.
        let mut tree = self.tree()?;
        if !tree.dirty.is_empty()
            && self.settings.commit == CommitMode::Runner
            && problems.is_empty()
        {
            self.repo
                .commit_all(&format!("Task {id}: {}", task.title))?;
            tree = self.tree()?;
        }
        if !tree.dirty.is_empty() {
            problems.push(format!(
                "work is left uncommitted: {}; commit it (git add -A && git commit)",
                tree.dirty.join(", ")
            ));
        } else if tree.head.as_deref() == head_before {
            problems.push("no commit was made for this task; commit the work".to_string());
        }
        // The commits made before the task must still be on the branch the task started on.
        let branch_now = self.repo.branch();
        if let Some(before) = branch_before
            && branch_now.as_deref() != Some(before)
        {
            problems.push(format!(
                "the task started on branch {before}, but HEAD is now on {}; the work belongs on {before}: switch back and bring the task's commits with it (git checkout {before} && git merge <commits>)",
                branch_now.as_deref().unwrap_or("a detached commit")
            ));
        }
        if let (Some(base), Some(head)) = (head_before, tree.head.as_deref())
            && !self.repo.is_ancestor(base, head)?
        {
            let short = &base[..base.len().min(7)];
            problems.push(format!(
                "history was rewritten: HEAD no longer contains {short}, the commit this task started from, so earlier commits may be lost; bring them back without rewriting history (see `git reflog`; e.g. git merge {short}) and only add new commits"
            ));
        }
        self.state.task_mut(&id).head_after = tree.head.clone();

        let quality_problems = self.check_test_quality(task, head_before, &tree)?;

        if !problems.is_empty()
            && let Some(finished) = &run.finished
            && !finished.permission_denials.is_empty()
        {
            problems.push(format!(
                "tool calls were denied by the permission settings: {} (allowed Bash: git and the gate commands; other commands need `permission = \"bypass\"` or [agent.claude] allowed_tools)",
                finished.permission_denials.join(", ")
            ));
        }
        Ok((problems, quality_problems))
    }

    /// The unit-test quality check of the test files the task added or changed (DESIGN 5.4):
    /// HIGH findings are returned as problems for the agent; all findings go into the report.
    fn check_test_quality(
        &mut self,
        task: &Task,
        head_before: Option<&str>,
        tree: &crate::vcs::TreeState,
    ) -> Result<Vec<String>, RunError> {
        // With a clean tree the task's changes are its commits: one `git log` gives both.
        let files = match head_before {
            Some(base) if tree.dirty.is_empty() => {
                let (commits, files) = self.repo.commits_and_files_since(base)?;
                self.state.task_mut(&task.id).commits = commits;
                files
            }
            _ => self
                .repo
                .changed_files_since(head_before, !tree.dirty.is_empty())?,
        };
        let changed: Vec<PathBuf> = files
            .into_iter()
            .map(|f| self.repo.root().join(f))
            .filter(|p| p.is_file() && crate::checks::is_test_file(p))
            .collect();
        if changed.is_empty() {
            self.state.task_mut(&task.id).findings.clear();
            return Ok(Vec::new());
        }
        let root = self.repo.root().to_path_buf();
        let relative = |path: &Path| {
            path.strip_prefix(&root)
                .unwrap_or(path)
                .display()
                .to_string()
        };
        let (findings, high) = match crate::checks::check_paths(&changed, &self.settings.checks) {
            Ok(report) => {
                let lines: Vec<String> = report
                    .findings
                    .iter()
                    .map(|f| {
                        format!(
                            "{}:{} [{} {}] {}: {}",
                            relative(&f.file),
                            f.line,
                            f.rule,
                            f.severity,
                            f.test,
                            f.message
                        )
                    })
                    .collect();
                let high: Vec<String> = report
                    .high_findings()
                    .map(|f| {
                        format!(
                            "unit-test quality, {}:{} in `{}` [{}]: {}. Instead: {}",
                            relative(&f.file),
                            f.line,
                            f.test,
                            f.rule,
                            f.message,
                            f.fix_hint()
                        )
                    })
                    .collect();
                (lines, high)
            }
            Err(err) => (vec![format!("the check could not run: {err}")], Vec::new()),
        };
        self.emit(EventKind::CheckFinished {
            id: task.id.clone(),
            files: changed.len(),
            findings: findings.clone(),
            high: high.len(),
        });
        self.state.task_mut(&task.id).findings = findings;
        Ok(high)
    }

    fn task_summary(&self, task: &Task, verdict: &TaskVerdict, duration: Duration) -> TaskSummary {
        let record = self.state.tasks.get(&task.id).cloned().unwrap_or_default();
        // Verification records the commits; only a task that never got that far asks git.
        let commits = if record.commits.is_empty() {
            self.repo
                .commits_since(record.head_before.as_deref())
                .unwrap_or_default()
        } else {
            record.commits.clone()
        };
        TaskSummary {
            id: task.id.clone(),
            title: task.title.clone(),
            result: verdict.result,
            attempts: record.attempts,
            duration_ms: millis(duration),
            totals: Totals {
                cost_usd: record.cost_usd(),
                usage: record.usage,
            },
            gates: record.gates.clone(),
            commits,
            e2e: record.e2e.clone(),
            findings: record.findings.clone(),
            problems: verdict.problems.clone(),
        }
    }

    /// The seed's completion summary, with a ready `gh pr create` command.
    fn completion_summary(&self, summaries: &[TaskSummary]) -> String {
        let plan = &self.milestone.plan;
        let mut milestone = self.milestone.clone();
        milestone.reload_handoff().ok();
        let complete = milestone.progress.next.is_none();
        let mut out = String::new();
        if complete {
            out.push_str(&format!(
                "## Milestone Complete: {}\n\n",
                plan.display_name()
            ));
        } else {
            out.push_str(&format!("## Tasks Complete: {}\n\n", plan.display_name()));
        }
        out.push_str(&format!(
            "**Tasks completed:** {}/{}\n",
            milestone.progress.completed.len(),
            plan.tasks.len()
        ));
        for task in &plan.tasks {
            if milestone.progress.completed.contains(&task.id) {
                let ran = summaries.iter().find(|s| s.id == task.id);
                let note = match ran {
                    Some(s) => format!(
                        " ({} attempt{}, {})",
                        s.attempts,
                        if s.attempts == 1 { "" } else { "s" },
                        format_duration_ms(s.duration_ms)
                    ),
                    None => " (from handoff)".to_string(),
                };
                out.push_str(&format!("- [x] {}: {}{note}\n", task.id, task.title));
            }
        }
        if !milestone.progress.complete_after_next.is_empty() || !complete {
            for task in &plan.tasks {
                if !milestone.progress.completed.contains(&task.id) {
                    out.push_str(&format!("- [ ] {}: {}\n", task.id, task.title));
                }
            }
        }
        out.push('\n');
        if self.gates.is_empty() {
            out.push_str("**Quality gates:** none configured\n");
        } else {
            let ran: Vec<_> = summaries.iter().flat_map(|s| s.gates.iter()).collect();
            let gates: Vec<String> = self
                .gates
                .iter()
                .map(|g| {
                    if ran.iter().any(|r| &r.command == g) {
                        format!("{g} ✓")
                    } else {
                        g.clone()
                    }
                })
                .collect();
            out.push_str(&format!("**Quality gates:** {}\n", gates.join(", ")));
        }
        let e2e: Vec<String> = plan
            .tasks
            .iter()
            .filter(|t| t.effective_type() == TaskType::Validation)
            .map(|t| {
                let result = self
                    .state
                    .tasks
                    .get(&t.id)
                    .and_then(|r| r.e2e.clone())
                    .unwrap_or_else(|| "not run in this run".to_string());
                format!("- {}: {}", t.id, result)
            })
            .collect();
        if !e2e.is_empty() {
            out.push_str("**E2E validation:**\n");
            for line in e2e {
                out.push_str(&line);
                out.push('\n');
            }
        }
        let cost: f64 = summaries.iter().map(|s| s.totals.cost_usd).sum();
        let tokens: u64 = summaries.iter().map(|s| s.totals.usage.total()).sum();
        if !summaries.is_empty() {
            out.push_str(&format!("**Agent cost:** ${cost:.4}, {tokens} tokens\n"));
        }
        out.push_str(&format!(
            "**Handoff:** {}\n",
            milestone.handoff_path.display()
        ));
        if complete {
            let body_path = self.state_dir.path().join("pr-body.md");
            let body = format!(
                "{}\n\nHandoff: {}\n",
                out.trim_end(),
                milestone.handoff_path.display()
            );
            write_atomic(&body_path, body.as_bytes()).ok();
            let title = match &plan.title {
                Some(title) => format!("{}: {}", plan.id, title),
                None => plan.id.clone(),
            };
            out.push_str(&format!(
                "\nReady for PR creation. Run:\n  gh pr create --title {} --body-file {}\n",
                crate::agent::shell_quote(&title),
                crate::agent::shell_quote(&body_path.display().to_string())
            ));
        }
        out
    }
}

enum LimitWait {
    Resume,
    Stop(String),
    Interrupted,
}

/// How many headings of the handoff text mark `id` complete.
fn complete_marks(text: &str, milestone: &Milestone, id: &str) -> usize {
    Handoff::parse(text, &milestone.plan)
        .marks
        .iter()
        .filter(|m| m.state == MarkState::Complete && m.ids.iter().any(|i| i == id))
        .count()
}

/// The last `Task <id> Complete` section of the handoff text, from its heading to the next heading
/// of the same or a higher level.
fn complete_section(text: &str, milestone: &Milestone, id: &str) -> String {
    let headings = crate::plan::markdown::headings(text);
    let Some((index, heading)) = headings.iter().enumerate().rev().find(|(_, h)| {
        crate::plan::handoff::parse_mark_heading(&h.text, &milestone.plan)
            .is_some_and(|(ids, state)| state == MarkState::Complete && ids.iter().any(|i| i == id))
    }) else {
        return String::new();
    };
    let end = headings[index + 1..]
        .iter()
        .find(|h| h.level <= heading.level)
        .map_or(text.len(), |h| h.span.start);
    text[heading.span.start..end].to_string()
}

/// The handoff with every byte from before the task back in place, followed by what the agent
/// appended for this task (its Complete section onwards), when it wrote one.
fn restore_handoff(before: &[u8], current: &str, milestone: &Milestone, id: &str) -> String {
    let mut restored = String::from_utf8_lossy(before).into_owned();
    let headings = crate::plan::markdown::headings(current);
    let new_section = headings.iter().rev().find(|h| {
        crate::plan::handoff::parse_mark_heading(&h.text, &milestone.plan)
            .is_some_and(|(ids, state)| state == MarkState::Complete && ids.iter().any(|i| i == id))
    });
    if let Some(heading) = new_section {
        let appended = &current[heading.span.start..];
        if !restored.contains(appended.trim_end()) {
            if !restored.ends_with('\n') && !restored.is_empty() {
                restored.push('\n');
            }
            if !restored.ends_with("\n\n") && !restored.is_empty() {
                restored.push('\n');
            }
            restored.push_str(appended);
        }
    }
    restored
}

fn tail_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `1m 05s`, `12s`, `1h 02m`.
pub fn format_duration_ms(ms: u64) -> String {
    let seconds = ms / 1000;
    match seconds {
        0..=59 => format!("{}.{}s", seconds, (ms % 1000) / 100),
        60..=3599 => format!("{}m {:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h {:02}m", seconds / 3600, (seconds % 3600) / 60),
    }
}
