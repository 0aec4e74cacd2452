//! The lines a run header adds about the plan, the handoff or the state, and what an
//! interrupted attempt left for the next.

use std::fmt;

/// A line the run header adds about the plan, the handoff or the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Later tasks are complete while an earlier one is not.
    HandoffGap {
        complete_after: Vec<String>,
        next: String,
    },
    /// Complete in the handoff, absent from the plan.
    UnknownCompleted { ids: Vec<String> },
    /// An interrupted attempt left uncommitted handoff edits; they were set aside.
    InterruptedHandoffSetAside { task: String, kept: String },
    /// Complete in the handoff although its last run failed verification.
    CompleteButFailed { id: String, plan: String },
    /// The handoff exists but marks no task complete in a form kmilestone reads.
    UnmarkedHandoff { text: String },
    /// A run was stopped during this task: it is verified again before it counts.
    Reverify { task: String },
    /// That run's commits had removed earlier handoff bytes; they were put back.
    HandoffRestoredAtStart { task: String },
    /// An interrupted attempt's git left `index.lock`, which no process held; it was removed.
    StaleGitLockRemoved { path: String },
    /// The state was moved out of the work tree, where an older kmilestone kept it.
    StateMoved { from: String, to: String },
    /// A VALIDATION task asks for something the agent's permissions cannot do; the warning
    /// names the setting to change.
    Preflight { task: String, warning: String },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::HandoffGap {
                complete_after,
                next,
            } => write!(
                f,
                "Handoff gap: {} marked complete but {next} is not; starting at {next}",
                complete_after.join(", ")
            ),
            Note::UnknownCompleted { ids } => write!(
                f,
                "Complete in the handoff but not in the plan: {}",
                ids.join(", ")
            ),
            Note::InterruptedHandoffSetAside { task, kept } => write!(
                f,
                "The interrupted attempt at task {task} left uncommitted handoff changes; the handoff is back to what it was before that task (the changed version is kept at {kept})."
            ),
            Note::CompleteButFailed { id, plan } => write!(
                f,
                "Task {id} is complete in the handoff, but its last run failed verification (see `kmilestone report`); it is not run again. To redo it: kmilestone run {plan} --from {id}"
            ),
            Note::UnmarkedHandoff { text } => f.write_str(text),
            Note::Reverify { task } => write!(
                f,
                "The last run stopped during task {task} before its work was verified; it is verified again before it counts as complete."
            ),
            Note::HandoffRestoredAtStart { task } => write!(
                f,
                "Task {task}'s unverified commits removed or changed handoff content from before it; that content was put back and committed."
            ),
            Note::StaleGitLockRemoved { path } => write!(
                f,
                "Removed {path}, which the interrupted attempt's git left behind and no process holds."
            ),
            Note::StateMoved { from, to } => write!(
                f,
                "kmilestone's state for this milestone moved from {from} to {to}, out of the agent's reach."
            ),
            Note::Preflight { task, warning } => {
                write!(f, "Warning: task {task} (VALIDATION): {warning}")
            }
        }
    }
}

/// The uncommitted files an interrupted attempt left for the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftovers(pub Vec<String>);

impl fmt::Display for Leftovers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "An earlier attempt at this task was interrupted. The working tree still has its uncommitted changes ({}). Review them and continue from there.",
            self.0.join(", ")
        )
    }
}
