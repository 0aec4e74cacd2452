//! What verification found: typed problems, the gate records and the unit-test findings. The
//! views and the fix prompt render them with the same words, from [`std::fmt::Display`].

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::text::{shell_quote, tail_lines};

/// One gate run, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GateRecord {
    pub command: String,
    pub passed: bool,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: u64,
}

/// A finding of the unit-test quality check, as the run records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestFinding {
    /// Relative to the repository root.
    pub file: String,
    pub line: usize,
    /// The rule's ID (`slow-sleep`).
    pub rule: String,
    /// `HIGH`, `MEDIUM`, `LOW`.
    pub severity: String,
    /// The test (or fixture) it was found in.
    pub test: String,
    pub message: String,
    /// What to do instead.
    pub hint: String,
}

impl TestFinding {
    /// Whether the finding fails the check.
    pub fn is_high(&self) -> bool {
        self.severity == "HIGH"
    }
}

impl fmt::Display for TestFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} [{} {}] {}: {}",
            self.file, self.line, self.rule, self.severity, self.test, self.message
        )
    }
}

/// Why a gate did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "how")]
pub enum GateFailure {
    TimedOut { after_ms: u64 },
    Exited { code: i32 },
    Killed,
}

/// What the agent may run, for the fix prompt after refused calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum CommandScope {
    /// Any command, inside a sandbox that keeps it to the repository; the network only to these
    /// hosts.
    Sandboxed { network: Vec<String> },
    /// Only these commands (and file edits inside the repository).
    Listed { commands: Vec<String> },
    /// Every command: what refused the calls is the agent's own configuration.
    #[default]
    Unrestricted,
}

impl fmt::Display for CommandScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandScope::Sandboxed { network } => {
                let network = if network.is_empty() {
                    "no network".to_string()
                } else {
                    format!("the network only to {}", network.join(", "))
                };
                write!(
                    f,
                    "any command runs, inside a sandbox: writes only inside the repository and the tool caches, {network}, no local services (a server a command starts and queries itself works), nothing outside the repository readable; do the work inside the repository with commands that stay there"
                )
            }
            CommandScope::Listed { commands } => write!(
                f,
                "the only commands allowed are {}, besides reading and editing files inside the repository; use those instead, or report a blocker if the task cannot be done with them",
                commands.join(", ")
            ),
            CommandScope::Unrestricted => f.write_str(
                "they were refused by Claude Code's own settings, which the runner does not change; do the task without them",
            ),
        }
    }
}

/// One thing verification found wrong with a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Problem {
    /// The agent's run ended with an error result.
    AgentError {
        /// The result's subtype, when it says more than `success`.
        subtype: Option<String>,
        api_status: Option<u16>,
        message: String,
    },
    /// The agent's process ended without a result (crash, signal).
    AgentNoResult {
        exit: String,
    },
    AgentIdle {
        after_ms: u64,
    },
    AgentTimeout {
        after_ms: u64,
    },
    /// The handoff gained no `Task X.Y Complete` section.
    HandoffSectionMissing {
        handoff: String,
        id: String,
        title: String,
    },
    E2eFailed {
        name: String,
    },
    E2eMissing {
        id: String,
    },
    GateFailed {
        command: String,
        failure: GateFailure,
        output_tail: String,
    },
    GateNotRun {
        command: String,
        error: String,
    },
    Uncommitted {
        files: Vec<String>,
    },
    NoCommit,
    BranchChanged {
        before: String,
        now: Option<String>,
    },
    HistoryRewritten {
        base: String,
    },
    /// Tool calls the agent's permissions refused.
    PermissionDenials {
        /// The calls: `Bash(touch x)`.
        denials: Vec<String>,
        /// What the agent may run instead.
        #[serde(default)]
        scope: CommandScope,
    },
    /// A HIGH finding of the unit-test quality check.
    TestQuality(TestFinding),
    /// The agent reported that something outside its control blocks the task.
    Blocker {
        reason: String,
    },
    /// The task changed files that govern the agent or the checks (kmilestone's configuration,
    /// Claude Code's settings and hooks, git's hooks and command settings).
    SupervisionChanged {
        files: Vec<String>,
        /// What changed in the files git tracks.
        diff: String,
    },
    /// The handoff was replaced by something that is not a regular file.
    HandoffReplaced {
        handoff: String,
        what: String,
    },
    /// The task spent its `max_task_cost` (micro-dollars).
    TaskCostCap {
        cap: u64,
        spent: u64,
    },
}

impl Problem {
    /// The kind's name in the JSON forms.
    pub fn kind(&self) -> &'static str {
        match self {
            Problem::AgentError { .. } => "agent_error",
            Problem::AgentNoResult { .. } => "agent_no_result",
            Problem::AgentIdle { .. } => "agent_idle",
            Problem::AgentTimeout { .. } => "agent_timeout",
            Problem::HandoffSectionMissing { .. } => "handoff_section_missing",
            Problem::E2eFailed { .. } => "e2e_failed",
            Problem::E2eMissing { .. } => "e2e_missing",
            Problem::GateFailed { .. } => "gate_failed",
            Problem::GateNotRun { .. } => "gate_not_run",
            Problem::Uncommitted { .. } => "uncommitted",
            Problem::NoCommit => "no_commit",
            Problem::BranchChanged { .. } => "branch_changed",
            Problem::HistoryRewritten { .. } => "history_rewritten",
            Problem::PermissionDenials { .. } => "permission_denials",
            Problem::TestQuality(_) => "test_quality",
            Problem::Blocker { .. } => "blocker",
            Problem::SupervisionChanged { .. } => "supervision_changed",
            Problem::HandoffReplaced { .. } => "handoff_replaced",
            Problem::TaskCostCap { .. } => "task_cost_cap",
        }
    }

    /// Whether only the unit-test check complains here (it has a fix budget of its own, and a
    /// human may accept it).
    pub fn is_test_quality(&self) -> bool {
        matches!(self, Problem::TestQuality(_))
    }
}

fn duration(ms: u64) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_millis(ms))
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::AgentError {
                subtype,
                api_status,
                message,
            } => {
                let what: Vec<String> = [
                    subtype.clone(),
                    api_status.map(|s| format!("API status {s}")),
                ]
                .into_iter()
                .flatten()
                .collect();
                let what = if what.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", what.join(", "))
                };
                let message = message.trim();
                let message = if message.is_empty() {
                    "no message".to_string()
                } else {
                    tail_lines(message, 5)
                };
                write!(f, "the agent's run ended with an error{what}: {message}")
            }
            Problem::AgentNoResult { exit } => write!(
                f,
                "the agent ended without a result ({exit}); it may have crashed"
            ),
            Problem::AgentIdle { after_ms } => write!(
                f,
                "the agent produced no output for {} and was stopped",
                duration(*after_ms)
            ),
            Problem::AgentTimeout { after_ms } => write!(
                f,
                "the agent ran longer than the task timeout of {} and was stopped",
                duration(*after_ms)
            ),
            Problem::HandoffSectionMissing { handoff, id, title } => write!(
                f,
                "the handoff {handoff} has no new `## Task {id} Complete: {title}` section; append one with what the next task must know"
            ),
            Problem::E2eFailed { name } => write!(
                f,
                "the E2E scenario {name} FAILED; fix what it found and run it again"
            ),
            Problem::E2eMissing { id } => write!(
                f,
                "the Complete section of task {id} records no E2E result; run the scenario and add `**E2E:** <name> — PASSED` (or FAILED)"
            ),
            Problem::GateFailed {
                command,
                failure,
                output_tail,
            } => {
                let why = match failure {
                    GateFailure::TimedOut { after_ms } => {
                        format!("timed out after {}", duration(*after_ms))
                    }
                    GateFailure::Exited { code } => format!("exited with {code}"),
                    GateFailure::Killed => "was killed".to_string(),
                };
                write!(
                    f,
                    "gate `{command}` failed ({why}). Last lines of its output:\n{output_tail}"
                )
            }
            Problem::GateNotRun { command, error } => {
                write!(f, "gate `{command}` could not be run: {error}")
            }
            Problem::Uncommitted { files } => write!(
                f,
                "work is left uncommitted: {}; commit it, adding the files by name (git add <files> && git commit)",
                files.join(", ")
            ),
            Problem::NoCommit => f.write_str("no commit was made for this task; commit the work"),
            Problem::BranchChanged { before, now } => write!(
                f,
                "the task started on branch {before}, but HEAD is now on {}; the work belongs on {before}: switch back and bring the task's commits with it (git checkout {} && git merge <commits>)",
                now.as_deref().unwrap_or("a detached commit"),
                shell_quote(before)
            ),
            Problem::HistoryRewritten { base } => {
                let short = &base[..base.len().min(7)];
                write!(
                    f,
                    "history was rewritten: HEAD no longer contains {short}, the commit this task started from, so earlier commits may be lost; bring them back without rewriting history (see `git reflog`; e.g. git merge {short}) and only add new commits"
                )
            }
            Problem::PermissionDenials { denials, scope } => write!(
                f,
                "tool calls were denied by the permission settings: {}; {scope}",
                denials.join(", ")
            ),
            Problem::TestQuality(finding) => write!(
                f,
                "unit-test quality, {}:{} in `{}` [{}]: {}. Instead: {}",
                finding.file,
                finding.line,
                finding.test,
                finding.rule,
                finding.message,
                finding.hint
            ),
            Problem::Blocker { reason } => write!(f, "the agent reported a blocker: {reason}"),
            Problem::SupervisionChanged { files, diff } => {
                write!(
                    f,
                    "the task changed {}: the runner's own configuration is the user's to change; put these files back as they were before the task",
                    files.join(", ")
                )?;
                if !diff.is_empty() {
                    write!(f, ". What changed:\n{diff}")?;
                }
                Ok(())
            }
            Problem::TaskCostCap { cap, spent } => write!(
                f,
                "the task has spent {} of its {} cap (max_task_cost) and was stopped",
                super::dollars(*spent),
                super::dollars(*cap)
            ),
            Problem::HandoffReplaced { handoff, what } => write!(
                f,
                "the handoff {handoff} was replaced by {what}; it was put back as a regular file with its content from before the task: append your section to that file"
            ),
        }
    }
}
