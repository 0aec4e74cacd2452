//! One task from its start to its verdict: the baseline it is checked against, its first prompt,
//! and the attempt loop. The agent's end is classified once (not authenticated, usage limit,
//! question, blocker, work done); work done is verified, and what fails goes back to the same
//! session within the fix budgets, then to the human if one is there.

use std::time::Instant;

use super::human::{Answer, Decision, decision, failure_question};
use super::limits::LimitWait;
use super::spawn::AgentRun;
use super::supervision::Supervision;
use super::verify::{Baseline, Verdict};
use super::{RunError, Runner, prompt};
use crate::agent::messages::{find_blocker, find_question};
use crate::agent::{Adapter, AgentStop, EndFacts};
use crate::events::{
    AttemptEnd, EventKind, Leftovers, Problem, Question, RunOutcome, TaskResult, Unavailable,
    micros, millis,
};
use crate::plan::Task;
use crate::plan::handoff_text::complete_marks;
use crate::process::SpawnError;
use crate::state::{InProgress, PendingQuestion};

/// How a task ended, and whether the run stops there.
pub(crate) struct TaskEnd {
    pub(crate) result: TaskResult,
    pub(crate) problems: Vec<Problem>,
    /// Why the run stops after this task; `None` when it goes on.
    pub(crate) stop: Option<RunOutcome>,
}

/// The agent's end, classified once.
enum AgentEnd {
    Interrupted,
    Stop(AgentStop),
    /// A question for the human, in this session.
    Question(Question, String),
    Blocked(String),
    /// Whatever it did, verification judges it.
    WorkDone,
}

fn classify(adapter: &dyn Adapter, run: &AgentRun, session: Option<&str>) -> AgentEnd {
    if run.end == AttemptEnd::Interrupted {
        return AgentEnd::Interrupted;
    }
    let text = run.final_text();
    let facts = EndFacts {
        final_text: &text,
        finished: run.finished.as_ref(),
        stderr_tail: &run.stderr_tail,
    };
    if let Some(stop) = adapter.stop_reason(&facts) {
        return AgentEnd::Stop(stop);
    }
    if let (Some(question), Some(session)) = (find_question(&text), session) {
        return AgentEnd::Question(question, session.to_string());
    }
    if let Some(reason) = find_blocker(&text) {
        return AgentEnd::Blocked(reason);
    }
    AgentEnd::WorkDone
}

/// Fix attempts used so far in this task.
#[derive(Default)]
struct Budget {
    fixes: u32,
    quality_fixes: u32,
    limit_waits: u32,
}

/// The conversation with the agent about one task: the session, the next prompt, and the fix
/// budget.
struct Conversation {
    session: Option<String>,
    /// The prompt a fresh session starts with.
    first_prompt: String,
    next_prompt: String,
    budget: Budget,
}

impl Conversation {
    /// The fix goes to the same session when the agent can resume one, else into a fresh
    /// session's first prompt.
    fn fix(&mut self, fix: String, can_resume: bool) {
        self.next_prompt = match (&self.session, can_resume) {
            (Some(_), true) => fix,
            _ => {
                self.session = None;
                format!(
                    "{}\n\n## An earlier attempt at this task was checked\n\n{fix}",
                    self.first_prompt
                )
            }
        };
    }

    /// The limit has reset: the session goes on where it stopped, or starts afresh.
    fn after_limit(&mut self, can_resume: bool) {
        self.next_prompt = if self.session.is_some() && can_resume {
            LIMIT_RESUME.to_string()
        } else {
            self.session = None;
            self.first_prompt.clone()
        };
    }
}

/// What one invocation leads to.
enum Step {
    Verify(AgentRun),
    /// Invoke again with the conversation's next prompt.
    Again,
    End(TaskEnd),
}

/// What comes after a failed verification.
enum AfterFailure {
    Fix(String),
    Accept,
    Stop(TaskEnd),
}

const LIMIT_RESUME: &str =
    "You were stopped by a usage limit, which has now reset. Continue the task where you left off.";

impl Runner<'_> {
    pub(crate) async fn run_task(
        &mut self,
        task: &Task,
        answer: Option<String>,
    ) -> Result<TaskEnd, RunError> {
        let id = task.id.clone();
        let (baseline, first_prompt, next_prompt) = self.begin_task(task)?;
        // A task an interrupted run left unverified whose section is already in the handoff is
        // verified before any agent is started again; what fails goes to the same session.
        let mut verify_first =
            self.selection.is_unverified(&id) && self.milestone.handoff.is_complete(&id);
        let mut talk = Conversation {
            session: verify_first
                .then(|| self.state.in_progress.as_ref()?.session_id.clone())
                .flatten(),
            first_prompt,
            next_prompt,
            budget: Budget::default(),
        };
        if let Some(pending) = self.state.pending_question.clone().filter(|q| q.task == id) {
            match self.pending_answer(&pending, answer)? {
                Answer::Given(text) => {
                    talk.next_prompt = prompt::answer_prompt(&text);
                    talk.session = Some(pending.session_id.clone());
                }
                Answer::Later => return Ok(self.waiting_for_answer(&id)),
                Answer::Interrupted => return self.interrupted(&id, Vec::new(), false),
            }
        }
        loop {
            let attempt = self.state.task_mut(&id).attempts + 1;
            let run = if std::mem::take(&mut verify_first) {
                AgentRun::not_run()
            } else {
                match self.attempt_once(&id, attempt, &mut talk).await? {
                    Step::Verify(run) => run,
                    Step::Again => continue,
                    Step::End(end) => return Ok(end),
                }
            };
            let verifying = Instant::now();
            let verdict = self.verify(task, &run, &baseline).await?;
            self.state.task_mut(&id).duration_ms += millis(verifying.elapsed());
            if self.cancel.is_cancelled() {
                return self.interrupted(&id, verdict.all(), false);
            }
            if verdict.passed() {
                return self.complete(&id);
            }
            let attempts = self.state.task_mut(&id).attempts;
            match self.after_failure(task, attempts, &verdict, &mut talk.budget)? {
                AfterFailure::Accept => return self.complete(&id),
                AfterFailure::Stop(end) => return Ok(end),
                AfterFailure::Fix(fix) => talk.fix(fix, self.adapter.can_resume()),
            }
        }
    }

    /// One agent invocation and what its end means: work to verify, another invocation (the
    /// limit reset, the human answered), or the task's end.
    async fn attempt_once(
        &mut self,
        id: &str,
        attempt: u32,
        talk: &mut Conversation,
    ) -> Result<Step, RunError> {
        if let Some(in_progress) = self.state.in_progress.as_mut() {
            in_progress.attempt = attempt;
        }
        self.save_state()?;
        let run = match self
            .run_agent(id, attempt, &talk.next_prompt, talk.session.as_deref())
            .await
        {
            Ok(run) => run,
            Err(err) => {
                return Ok(Step::End(self.unavailable(
                    id,
                    spawn_failure(err),
                    false,
                )?));
            }
        };
        if let Some(session_id) = &run.session_id {
            talk.session = Some(session_id.clone());
            if let Some(in_progress) = self.state.in_progress.as_mut() {
                in_progress.session_id = Some(session_id.clone());
            }
        }
        self.account(id, &run);
        self.state.task_mut(id).duration_ms += millis(run.duration);
        if let Some(problem) = self.over_task_cap(id, &run) {
            self.state.task_mut(id).attempts = attempt;
            return Ok(Step::End(self.failed(id, attempt, vec![problem])?));
        }
        let end = classify(self.adapter.as_ref(), &run, talk.session.as_deref());
        if !matches!(end, AgentEnd::Interrupted) {
            self.forget_answered_question(id);
        }
        let stop = match end {
            AgentEnd::Interrupted => self.interrupted(id, Vec::new(), false)?,
            AgentEnd::Stop(AgentStop::NotAuthenticated(message)) => {
                self.unavailable(id, Unavailable::NotAuthenticated { message }, true)?
            }
            AgentEnd::Stop(AgentStop::Unavailable(message)) => {
                self.unavailable(id, Unavailable::CannotWork { message }, true)?
            }
            AgentEnd::Stop(AgentStop::UsageLimit(limit)) => {
                match self
                    .wait_for_limit(id, &limit, talk.budget.limit_waits)
                    .await
                {
                    LimitWait::Resume => {
                        talk.budget.limit_waits += 1;
                        talk.after_limit(self.adapter.can_resume());
                        return Ok(Step::Again);
                    }
                    LimitWait::Stop(stop) => {
                        self.state.task_mut(id).result = Some(TaskResult::UsageLimit);
                        self.save_state()?;
                        TaskEnd {
                            result: TaskResult::UsageLimit,
                            problems: Vec::new(),
                            stop: Some(RunOutcome::UsageLimit {
                                task: id.to_string(),
                                message: limit.message,
                                stop,
                            }),
                        }
                    }
                    LimitWait::Interrupted => self.interrupted(id, Vec::new(), true)?,
                }
            }
            AgentEnd::Question(question, session_id) => {
                match self.ask_agent_question(id, question, session_id)? {
                    Answer::Given(text) => {
                        talk.next_prompt = prompt::answer_prompt(&text);
                        return Ok(Step::Again);
                    }
                    Answer::Later => self.waiting_for_answer(id),
                    Answer::Interrupted => self.interrupted(id, Vec::new(), false)?,
                }
            }
            AgentEnd::Blocked(reason) => {
                self.state.task_mut(id).attempts = attempt;
                self.blocked(id, reason)?
            }
            AgentEnd::WorkDone => {
                self.state.task_mut(id).attempts = attempt;
                return Ok(Step::Verify(run));
            }
        };
        Ok(Step::End(stop))
    }

    /// Records what the task starts from (the handoff's bytes, HEAD, the branch), marks it in
    /// progress, and builds its first prompt. Returns the baseline, the prompt a fresh session
    /// starts with, and the prompt of this run's first attempt (with the runner's notes).
    fn begin_task(&mut self, task: &Task) -> Result<(Baseline, String, String), RunError> {
        let id = task.id.clone();
        let resumed = self.state.in_progress.clone().filter(|p| p.task == id);
        // The handoff as it was before the task: from the interrupted attempt's snapshot when
        // this continues one, so that bytes removed before the interruption are still restored.
        let tree = self.tree_now()?;
        let branch = tree.branch.clone();
        let (handoff, head) = match &resumed {
            Some(in_progress) => (
                self.state_dir
                    .read_snapshot(in_progress.snapshot_sha256.as_deref())?,
                in_progress.head_before.clone(),
            ),
            None => (
                crate::files::read_regular(
                    &self.milestone.handoff_path,
                    crate::plan::MAX_INPUT_BYTES,
                )
                .ok(),
                tree.head.clone(),
            ),
        };
        let leftovers = match (tree.dirty.is_empty(), &resumed) {
            (true, _) => None,
            (false, Some(_)) => Some(Leftovers(tree.dirty)),
            (false, None) if self.options.allow_dirty => None,
            (false, None) => return Err(RunError::Dirty(tree.dirty)),
        };
        // A continued attempt keeps the snapshot it started from (the bytes just read from it).
        let snapshot_sha256 = match &resumed {
            Some(in_progress) => in_progress.snapshot_sha256.clone(),
            None => self.state_dir.write_snapshot(handoff.as_deref())?,
        };
        let handoff_text = handoff
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let baseline = Baseline {
            marks: complete_marks(&handoff_text, &self.milestone.plan, &id),
            handoff,
            head: head.clone(),
            branch,
            supervision: Supervision::take(self.repo.root(), self.settings.source.as_deref()),
            handoff_mode: crate::files::mode_of(&self.milestone.handoff_path).unwrap_or(0o644),
            handoff_was_link: std::fs::symlink_metadata(&self.milestone.handoff_path)
                .is_ok_and(|m| m.file_type().is_symlink()),
        };
        let now = jiff::Timestamp::now().to_string();
        let record = self.state.task_mut(&id);
        if let Some(in_progress) = &resumed {
            // The interrupted attempt did its work; it counts, whether it is verified now or
            // the task runs again.
            record.attempts = record.attempts.max(in_progress.attempt);
        }
        if record.started_at.is_none() || resumed.is_none() {
            record.started_at = Some(now.clone());
        }
        record.head_before = head.clone();
        record.result = None;
        record.commits.clear();
        record.problems.clear();
        record.denials.clear();
        self.state.in_progress = Some(InProgress {
            task: id.clone(),
            attempt: resumed.as_ref().map_or(0, |r| r.attempt),
            session_id: resumed.as_ref().and_then(|r| r.session_id.clone()),
            head_before: head,
            started_at: now,
            snapshot_sha256,
        });
        self.emit(EventKind::TaskStarted {
            id: id.clone(),
            title: task.title.clone(),
            task_type: task.effective_type().to_string(),
            leftovers: leftovers.clone(),
        });
        let first_prompt = prompt::first_prompt(
            &self.milestone,
            task,
            &handoff_text,
            &self.settings,
            self.repo.root(),
            self.adapter.commit_instruction(),
        );
        let mut with_notes = first_prompt.clone();
        if let Some(leftovers) = &leftovers {
            with_notes = prompt::with_note(&with_notes, &leftovers.to_string());
        }
        if self.selection.forced && self.milestone.handoff.is_complete(&id) {
            with_notes = prompt::with_note(&with_notes, &prompt::redo_note(task));
        }
        Ok((baseline, first_prompt, with_notes))
    }

    /// The task's spend against its cap, after an invocation: over it (or the agent stopped at
    /// its own budget), the task stops as a failed attempt.
    fn over_task_cap(&mut self, id: &str, run: &AgentRun) -> Option<Problem> {
        let cap = self.settings.caps.max_task_cost?;
        let spent = self.state.task_mut(id).cost_usd();
        let stopped_by_budget = run
            .finished
            .as_ref()
            .is_some_and(|f| f.subtype == "error_max_budget_usd");
        (spent >= cap || stopped_by_budget).then(|| Problem::TaskCostCap {
            cap: micros(cap),
            spent: micros(spent),
        })
    }

    /// Reports a failed verification and decides what comes next: a fix attempt while the
    /// budget lasts, then the human's decision if one is there, else the run stops.
    fn after_failure(
        &mut self,
        task: &Task,
        attempt: u32,
        verdict: &Verdict,
        budget: &mut Budget,
    ) -> Result<AfterFailure, RunError> {
        let quality_only = verdict.problems.is_empty();
        let can_fix = if quality_only {
            budget.quality_fixes < self.settings.quality_retries
        } else {
            budget.fixes < self.settings.retries
        };
        let all = verdict.all();
        self.emit(EventKind::VerificationFailed {
            id: task.id.clone(),
            attempt,
            problems: all.clone(),
            retrying: can_fix,
        });
        let mut guidance = None;
        if !can_fix {
            match self.decide_after_failure(&task.id, attempt, &all) {
                Decision::Accept => return Ok(AfterFailure::Accept),
                Decision::Guidance(text) => guidance = Some(text),
                Decision::Stop => {
                    return Ok(AfterFailure::Stop(self.failed(&task.id, attempt, all)?));
                }
                Decision::Interrupted => {
                    return Ok(AfterFailure::Stop(self.interrupted(&task.id, all, false)?));
                }
            }
        }
        if quality_only {
            budget.quality_fixes += 1;
        } else {
            budget.fixes += 1;
        }
        let mut fix = prompt::fix_prompt(task, &all, !self.adapter.commits_itself());
        if let Some(guidance) = &guidance {
            fix.push_str(&prompt::guidance_section(guidance));
        }
        Ok(AfterFailure::Fix(fix))
    }

    /// Out of fix attempts: a human at the terminal decides (DESIGN 5.5); nobody there, the run
    /// stops with the report.
    fn decide_after_failure(&mut self, id: &str, attempt: u32, problems: &[Problem]) -> Decision {
        if !self.human.is_present() {
            return Decision::Stop;
        }
        let question = failure_question(id, attempt, problems);
        self.emit(EventKind::DecisionNeeded {
            id: id.to_string(),
            question: question.clone(),
        });
        // Whatever the human does meanwhile may change the tree: it is read afresh afterwards.
        self.known_tree = None;
        let answer = self.human.decide(&question, &self.cancel);
        decision(answer, &question)
    }

    /// The answer to a question asked before this run: one already given (the run was stopped
    /// after it), `--answer` (a number picks an option, as at the terminal), or the human now.
    /// An answer is saved before the session is resumed with it.
    fn pending_answer(
        &mut self,
        pending: &PendingQuestion,
        given: Option<String>,
    ) -> Result<Answer, RunError> {
        if let Some(saved) = &pending.answer {
            return Ok(Answer::Given(saved.clone()));
        }
        let answer = match given {
            Some(text) => Answer::Given(pending.question.resolve_answer(&text)),
            None => {
                self.emit(EventKind::Question {
                    id: pending.task.clone(),
                    question: pending.question.clone(),
                    session_id: pending.session_id.clone(),
                });
                self.human.ask(&pending.question, &self.cancel)
            }
        };
        self.save_answer(&answer)?;
        Ok(answer)
    }

    /// Saves the agent's question as pending, then asks it.
    fn ask_agent_question(
        &mut self,
        id: &str,
        question: Question,
        session_id: String,
    ) -> Result<Answer, RunError> {
        self.state.pending_question = Some(PendingQuestion {
            task: id.to_string(),
            session_id: session_id.clone(),
            question: question.clone(),
            asked_at: jiff::Timestamp::now().to_string(),
            answer: None,
        });
        self.state.task_mut(id).result = Some(TaskResult::Question);
        self.save_state()?;
        self.emit(EventKind::Question {
            id: id.to_string(),
            question: question.clone(),
            session_id,
        });
        let answer = self.human.ask(&question, &self.cancel);
        self.save_answer(&answer)?;
        Ok(answer)
    }

    fn save_answer(&mut self, answer: &Answer) -> Result<(), RunError> {
        if let (Answer::Given(text), Some(pending)) = (answer, self.state.pending_question.as_mut())
        {
            pending.answer = Some(text.clone());
            self.save_state()?;
        }
        Ok(())
    }

    /// The session has taken the answer: the question is no longer pending.
    fn forget_answered_question(&mut self, id: &str) {
        if self
            .state
            .pending_question
            .as_ref()
            .is_some_and(|q| q.task == id && q.answer.is_some())
        {
            self.state.pending_question = None;
        }
    }

    /// Records the task as completed and drops its handoff snapshot.
    fn complete(&mut self, id: &str) -> Result<TaskEnd, RunError> {
        let record = self.state.task_mut(id);
        record.result = Some(TaskResult::Completed);
        record.finished_at = Some(jiff::Timestamp::now().to_string());
        self.state.in_progress = None;
        // The snapshot stays, unused, to be written over in place by the next task's.
        self.save_state()?;
        Ok(TaskEnd {
            result: TaskResult::Completed,
            problems: Vec::new(),
            stop: None,
        })
    }

    fn failed(
        &mut self,
        id: &str,
        attempts: u32,
        problems: Vec<Problem>,
    ) -> Result<TaskEnd, RunError> {
        let record = self.state.task_mut(id);
        record.result = Some(TaskResult::Failed);
        record.finished_at = Some(jiff::Timestamp::now().to_string());
        record.problems = problems.clone();
        self.state.in_progress = None;
        self.save_state()?;
        Ok(TaskEnd {
            result: TaskResult::Failed,
            problems,
            stop: Some(RunOutcome::Failed {
                task: id.to_string(),
                attempts,
            }),
        })
    }

    fn blocked(&mut self, id: &str, reason: String) -> Result<TaskEnd, RunError> {
        let problems = vec![Problem::Blocker {
            reason: reason.clone(),
        }];
        self.state.in_progress = None;
        let record = self.state.task_mut(id);
        record.result = Some(TaskResult::Blocked);
        record.problems = problems.clone();
        self.save_state()?;
        Ok(TaskEnd {
            result: TaskResult::Blocked,
            problems,
            stop: Some(RunOutcome::Blocked {
                task: id.to_string(),
                reason,
            }),
        })
    }

    /// Stopped by Ctrl-C (or a signal): the task stays in progress, so the next run resumes it
    /// and verifies it again.
    fn interrupted(
        &mut self,
        id: &str,
        problems: Vec<Problem>,
        waiting_for_limit: bool,
    ) -> Result<TaskEnd, RunError> {
        self.uncount_attempt(id);
        self.state.task_mut(id).result = Some(TaskResult::Interrupted);
        self.save_state()?;
        Ok(TaskEnd {
            result: TaskResult::Interrupted,
            problems,
            stop: Some(RunOutcome::Interrupted {
                task: Some(id.to_string()),
                waiting_for_limit,
            }),
        })
    }

    fn unavailable(
        &mut self,
        id: &str,
        reason: Unavailable,
        done_with_task: bool,
    ) -> Result<TaskEnd, RunError> {
        if done_with_task {
            self.state.in_progress = None;
        }
        self.state.task_mut(id).result = Some(TaskResult::AgentUnavailable);
        self.save_state()?;
        Ok(TaskEnd {
            result: TaskResult::AgentUnavailable,
            problems: Vec::new(),
            stop: Some(RunOutcome::AgentUnavailable {
                task: id.to_string(),
                agent: self.adapter.name().to_string(),
                reason,
            }),
        })
    }

    /// An attempt stopped by Ctrl-C or ended by a question is no attempt: the next run must not
    /// count it (only a killed runner's attempt, which did its work unverified, counts then).
    fn uncount_attempt(&mut self, id: &str) {
        let attempts = self.state.task_mut(id).attempts;
        if let Some(in_progress) = self.state.in_progress.as_mut().filter(|p| p.task == id) {
            in_progress.attempt = attempts;
        }
    }

    fn waiting_for_answer(&mut self, id: &str) -> TaskEnd {
        self.uncount_attempt(id);
        TaskEnd {
            result: TaskResult::Question,
            problems: Vec::new(),
            stop: Some(RunOutcome::Question {
                task: id.to_string(),
                plan: self.milestone.plan.path.display().to_string(),
            }),
        }
    }
}

fn spawn_failure(err: SpawnError) -> Unavailable {
    match err {
        SpawnError::NotFound { program } | SpawnError::PermissionDenied { program } => {
            Unavailable::NotFound {
                program: program.to_string_lossy().into_owned(),
            }
        }
        other => Unavailable::SpawnFailed {
            error: other.to_string(),
        },
    }
}
