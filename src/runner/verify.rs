//! The runner's own checks of a task (DESIGN 5.4), one function per check, each adding typed
//! problems: the agent's end, the handoff, the E2E result, the gates, the commits, and the
//! unit-test quality of the changed test files.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use super::spawn::AgentRun;
use super::supervision::Supervision;
use super::{RunError, Runner, gates, prompt};
use crate::config::CommitMode;
use crate::events::{AttemptEnd, EventKind, GateFailure, Problem, TestFinding, millis};
use crate::files::{write_atomic, write_atomic_mode};
use crate::plan::handoff_text::{complete_marks, complete_section, restore};
use crate::plan::{Task, TaskType};
use crate::vcs::{History, TreeState};

/// What a task started from, to check its work against.
pub(crate) struct Baseline {
    /// The handoff's bytes before the task (`None`: there was no handoff).
    pub(crate) handoff: Option<Vec<u8>>,
    /// How many headings marked the task complete before it ran.
    pub(crate) marks: usize,
    pub(crate) head: Option<String>,
    pub(crate) branch: Option<String>,
    /// The files that govern the agent and the checks.
    pub(crate) supervision: Supervision,
    /// The handoff's permission bits, kept when it is put back.
    pub(crate) handoff_mode: u32,
    /// The handoff was a symbolic link before the task (the user's choice, left alone).
    pub(crate) handoff_was_link: bool,
}

/// What verification found.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// Gates, handoff, commits, the agent's end: fixed within `retries`.
    pub(crate) problems: Vec<Problem>,
    /// HIGH unit-test findings: fixed within `quality_retries`.
    pub(crate) quality: Vec<Problem>,
}

impl Verdict {
    pub(crate) fn passed(&self) -> bool {
        self.problems.is_empty() && self.quality.is_empty()
    }

    /// Everything, in the order the agent gets it.
    pub(crate) fn all(&self) -> Vec<Problem> {
        self.problems.iter().chain(&self.quality).cloned().collect()
    }
}

static E2E_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)^\s*[-*]?\s*\*\*E2E:?\*\*:?\s*(.+?)\s*(?:—|–|-|:)+\s*\**(PASSED|FAILED)\**")
        .expect("e2e pattern")
});

/// Problems with how the agent's run ended, before anything it did is looked at.
fn agent_end_problems(run: &AgentRun, idle: Duration, wall: Duration) -> Vec<Problem> {
    let problem = match &run.end {
        AttemptEnd::Result {
            is_error: true,
            subtype,
        } => {
            let finished = run.finished.as_ref();
            // Claude Code ends an API failure with `subtype: "success"`; naming that subtype
            // would only mislead.
            let subtype = (!subtype.is_empty() && subtype != "success").then(|| subtype.clone());
            Problem::AgentError {
                subtype,
                api_status: finished.and_then(|f| f.api_error_status),
                message: finished.map(|f| f.result.clone()).unwrap_or_default(),
            }
        }
        AttemptEnd::Result { .. } | AttemptEnd::Interrupted => return Vec::new(),
        AttemptEnd::NoResult { exit } => Problem::AgentNoResult { exit: exit.clone() },
        AttemptEnd::IdleTimeout => Problem::AgentIdle {
            after_ms: millis(idle),
        },
        AttemptEnd::WallTimeout => Problem::AgentTimeout {
            after_ms: millis(wall),
        },
    };
    vec![problem]
}

impl Runner<'_> {
    pub(crate) async fn verify(
        &mut self,
        task: &Task,
        run: &AgentRun,
        baseline: &Baseline,
    ) -> Result<Verdict, RunError> {
        let mut problems =
            agent_end_problems(run, self.settings.idle_timeout, self.settings.task_timeout);
        let handoff_text = self.check_handoff(task, baseline, &mut problems)?;
        self.check_e2e(task, &handoff_text, baseline, &mut problems);
        self.run_gates(&task.id, &mut problems).await;
        self.check_supervision(task, baseline, &mut problems)?;
        let (tree, history) =
            self.check_commits(task, baseline, problems.is_empty(), &mut problems)?;
        let quality = self.check_test_quality(task, baseline.head.as_deref(), &tree, history)?;
        if !problems.is_empty()
            && let Some(finished) = &run.finished
            && !finished.permission_denials.is_empty()
        {
            problems.push(Problem::PermissionDenials {
                denials: finished
                    .permission_denials
                    .iter()
                    .map(|d| d.call.clone())
                    .collect(),
                scope: self.adapter.permission().command_scope(),
            });
        }
        Ok(Verdict { problems, quality })
    }

    /// The handoff is append-only, and it must have gained this task's section. Bytes from before
    /// the task that the agent removed or changed are put back (and committed when the handoff
    /// is under version control and the agent committed). Returns the handoff's text.
    fn check_handoff(
        &mut self,
        task: &Task,
        baseline: &Baseline,
        problems: &mut Vec<Problem>,
    ) -> Result<String, RunError> {
        let id = &task.id;
        let handoff_path = self.milestone.handoff_path.clone();
        self.check_handoff_is_a_file(baseline, problems)?;
        let current = crate::files::read_regular(&handoff_path, crate::plan::MAX_INPUT_BYTES).ok();
        let mut text = current
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        if let Some(before) = &baseline.handoff
            && !current.as_deref().unwrap_or_default().starts_with(before)
        {
            let restored = restore(before, &text, &self.milestone.plan, id);
            let kept = self.run_dir.join(format!(
                "handoff-rejected-{id}-{}.md",
                jiff::Timestamp::now().as_second()
            ));
            if let Some(current) = &current {
                // Private and redacted, as everything under the state folder.
                write_atomic(&kept, &crate::redact::bytes(current)).ok();
            }
            write_atomic_mode(&handoff_path, restored.as_bytes(), baseline.handoff_mode)?;
            text = restored;
            self.emit(EventKind::HandoffRestored {
                id: id.clone(),
                kept: kept.display().to_string(),
            });
            // A handoff outside the repository is not under version control: nothing to commit.
            let relative = prompt::path_for_agent(&handoff_path, self.repo.root());
            if self.repo.head()?.as_deref() != baseline.head.as_deref() && relative.is_relative() {
                self.repo.commit_path(
                    &relative,
                    &format!("Restore handoff content removed during task {id}"),
                )?;
            }
        }
        if complete_marks(&text, &self.milestone.plan, id) <= baseline.marks {
            problems.push(Problem::HandoffSectionMissing {
                handoff: prompt::path_for_agent(&handoff_path, self.repo.root())
                    .display()
                    .to_string(),
                id: id.clone(),
                title: task.title.clone(),
            });
        }
        Ok(text)
    }

    /// The handoff must still be a regular file: an agent that replaced it by a FIFO (whose read
    /// would block), a folder or a link (to a file outside the repository) gets it back as a
    /// regular file with its content from before the task, and the task is sent back.
    fn check_handoff_is_a_file(
        &mut self,
        baseline: &Baseline,
        problems: &mut Vec<Problem>,
    ) -> Result<(), RunError> {
        let path = self.milestone.handoff_path.clone();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            return Ok(());
        };
        let link_kept = meta.file_type().is_symlink() && baseline.handoff_was_link;
        if meta.is_file() || link_kept {
            return Ok(());
        }
        let what = crate::files::kind_of(meta.file_type());
        let kept = self.run_dir.join(format!(
            "handoff-replaced-{}",
            jiff::Timestamp::now().as_second()
        ));
        // Moved aside, never deleted: a folder the agent made may hold its work.
        std::fs::rename(&path, &kept).map_err(|source| crate::files::WriteError {
            path: path.clone(),
            source,
        })?;
        if let Some(before) = &baseline.handoff {
            write_atomic_mode(&path, before, baseline.handoff_mode)?;
        }
        problems.push(Problem::HandoffReplaced {
            handoff: prompt::path_for_agent(&path, self.repo.root())
                .display()
                .to_string(),
            what: what.to_string(),
        });
        Ok(())
    }

    /// A VALIDATION task records its E2E result in its Complete section; the latest counts (a
    /// section may record a failed run and then the rerun).
    fn check_e2e(
        &mut self,
        task: &Task,
        handoff_text: &str,
        baseline: &Baseline,
        problems: &mut Vec<Problem>,
    ) {
        let id = &task.id;
        if task.effective_type() != TaskType::Validation
            || complete_marks(handoff_text, &self.milestone.plan, id) <= baseline.marks
        {
            return;
        }
        let section = complete_section(handoff_text, &self.milestone.plan, id);
        match E2E_LINE.captures_iter(&section).last() {
            Some(captures) => {
                let name = captures[1].trim().trim_matches('*').trim().to_string();
                let result = captures[2].to_ascii_uppercase();
                self.state.task_mut(id).e2e = Some(format!("{name} — {result}"));
                if result == "FAILED" {
                    problems.push(Problem::E2eFailed { name });
                }
            }
            None => problems.push(Problem::E2eMissing { id: id.clone() }),
        }
    }

    /// Every gate, run by the runner itself.
    async fn run_gates(&mut self, id: &str, problems: &mut Vec<Problem>) {
        let mut records = Vec::new();
        for command in self.settings.gates.clone() {
            if self.cancel.is_cancelled() {
                break;
            }
            self.emit(EventKind::GateStarted {
                id: id.to_string(),
                command: command.clone(),
            });
            let sandbox = match self.gate_sandbox.sandbox_for(&command).transpose() {
                Ok(sandbox) => sandbox,
                Err(err) => {
                    problems.push(Problem::GateNotRun {
                        command: command.clone(),
                        error: err.to_string(),
                    });
                    continue;
                }
            };
            let gate = gates::run_gate(
                &command,
                self.repo.root(),
                self.settings.gate_timeout,
                self.settings.kill_grace,
                &self.cancel,
                sandbox.as_ref(),
            )
            .await;
            match gate {
                Ok(gate) => {
                    self.emit(EventKind::GateFinished {
                        id: id.to_string(),
                        gate: gate.record.clone(),
                        output_tail: gate.output_tail.clone(),
                    });
                    self.report_left_running(id, &command, &gate.left_running);
                    if !gate.record.passed {
                        let failure = if gate.record.timed_out {
                            GateFailure::TimedOut {
                                after_ms: millis(self.settings.gate_timeout),
                            }
                        } else {
                            match gate.record.exit_code {
                                Some(code) => GateFailure::Exited { code },
                                None => GateFailure::Killed,
                            }
                        };
                        problems.push(Problem::GateFailed {
                            command: command.clone(),
                            failure,
                            output_tail: gate.output_tail,
                        });
                    }
                    records.push(gate.record);
                }
                Err(err) => problems.push(Problem::GateNotRun {
                    command: command.clone(),
                    error: err.to_string(),
                }),
            }
        }
        self.state.task_mut(id).gates = records;
    }

    /// Whether the runner commits the task's work: the user said so (`commit = "runner"`), or the
    /// agent cannot (Codex's sandbox keeps `.git` read-only).
    pub(crate) fn runner_commits(&self) -> bool {
        self.settings.commit == CommitMode::Runner || !self.adapter.commits_itself()
    }

    /// The work is committed: HEAD moved, nothing left uncommitted, still on the task's branch,
    /// and the commits from before the task still in its history. When the runner commits, it
    /// commits what is left once everything else passed, and until then says nothing of
    /// commits (the agent is told not to make them). Returns the tree it judged and, when HEAD
    /// moved onto a clean tree, the task's commits.
    fn check_commits(
        &mut self,
        task: &Task,
        baseline: &Baseline,
        passed_so_far: bool,
        problems: &mut Vec<Problem>,
    ) -> Result<(TreeState, Option<History>), RunError> {
        let mut tree = self.tree()?;
        // Sandboxed Claude commits by name; what its sandbox kept it from adding is committed
        // here once everything else passed, as the work of an agent that cannot commit is.
        let runner_commits = self.runner_commits() || self.adapter.commits_leftovers();
        if !tree.dirty.is_empty() && runner_commits && passed_so_far {
            self.repo
                .commit_all(&format!("Task {}: {}", task.id, task.title))?;
            tree = self.tree()?;
        }
        if runner_commits && !passed_so_far {
            // Nothing to say about commits yet: the runner makes them once the rest passes.
        } else if !tree.dirty.is_empty() {
            problems.push(Problem::Uncommitted {
                files: tree.dirty.clone(),
            });
        } else if tree.head == baseline.head {
            problems.push(Problem::NoCommit);
        }
        if let Some(before) = &baseline.branch
            && tree.branch.as_ref() != Some(before)
        {
            problems.push(Problem::BranchChanged {
                before: before.clone(),
                now: tree.branch.clone(),
            });
        }
        // `git log` only when HEAD moved; `merge-base` only when that log is not a line of
        // commits on top of the base.
        let mut history = None;
        if let (Some(base), Some(head)) = (baseline.head.as_deref(), tree.head.as_deref())
            && base != head
        {
            let since = self.repo.history_since(base)?;
            if !since.linear && !self.repo.is_ancestor(base, head)? {
                problems.push(Problem::HistoryRewritten {
                    base: base.to_string(),
                });
            }
            history = Some(since);
        }
        self.state.task_mut(&task.id).head_after = tree.head.clone();
        self.known_tree = Some(tree.clone());
        Ok((tree, history))
    }

    /// The task may not change what governs the agent and the checks, unless the user allowed
    /// it for this run.
    fn check_supervision(
        &mut self,
        task: &Task,
        baseline: &Baseline,
        problems: &mut Vec<Problem>,
    ) -> Result<(), RunError> {
        let now = Supervision::take(self.repo.root(), self.settings.source.as_deref());
        let files = now.changed_since(&baseline.supervision);
        if files.is_empty() {
            return Ok(());
        }
        if self.options.allow_config_changes {
            if let Some(trusted) = self.state.trusted_supervision.as_mut() {
                trusted.files = now.files;
            }
            return Ok(());
        }
        let tracked: Vec<&str> = files.iter().map(String::as_str).collect();
        let diff = match &baseline.head {
            Some(head) => self.repo.diff_of(head, &tracked, 40).unwrap_or_default(),
            None => String::new(),
        };
        if let Some(trusted) = self.state.trusted_supervision.as_mut() {
            trusted.changed_by = Some(task.id.clone());
        }
        problems.push(Problem::SupervisionChanged { files, diff });
        Ok(())
    }

    /// The unit-test quality check of the test files the task added or changed (DESIGN 5.4):
    /// HIGH findings are returned as problems for the agent; all findings are recorded.
    fn check_test_quality(
        &mut self,
        task: &Task,
        head_before: Option<&str>,
        tree: &TreeState,
        history: Option<History>,
    ) -> Result<Vec<Problem>, RunError> {
        // With a clean tree the task's changes are its commits, which one `git log` gave.
        let files = match head_before {
            Some(_) if tree.dirty.is_empty() => {
                let history = history.unwrap_or_default();
                self.state.task_mut(&task.id).commits = history.commits;
                history.files
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
        let findings = match crate::checks::check_paths(&changed, &self.settings.checks) {
            Ok(report) => report
                .findings
                .iter()
                .map(|f| TestFinding {
                    file: relative_to(&f.file, self.repo.root()),
                    line: f.line,
                    rule: f.rule.to_string(),
                    severity: f.severity.to_string(),
                    test: f.test.clone(),
                    message: f.message.clone(),
                    hint: f.fix_hint().to_string(),
                })
                .collect(),
            // A check that cannot run is recorded, never mistaken for a clean one; it does not
            // fail the task (the gates decide whether the tests work).
            Err(err) => vec![TestFinding {
                file: "-".to_string(),
                line: 0,
                rule: "check-error".to_string(),
                severity: "LOW".to_string(),
                test: "-".to_string(),
                message: format!("the check could not run: {err}"),
                hint: "make the test files readable UTF-8 text".to_string(),
            }],
        };
        let high: Vec<Problem> = findings
            .iter()
            .filter(|f| f.is_high())
            .cloned()
            .map(Problem::TestQuality)
            .collect();
        self.emit(EventKind::CheckFinished {
            id: task.id.clone(),
            files: changed.len(),
            findings: findings.clone(),
        });
        self.state.task_mut(&task.id).findings = findings;
        Ok(high)
    }
}

fn relative_to(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
