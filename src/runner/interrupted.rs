//! What an interrupted attempt left, settled before anything is decided from the handoff: the
//! runner was stopped or killed during a task, so nothing that task did was verified.
//!
//! - Uncommitted handoff edits are set aside (kept in the state folder) and the handoff is put
//!   back as it was before the task: they must neither decide where the run starts nor be
//!   appended to twice.
//! - Committed edits that removed or changed earlier bytes are undone (the bytes from before the
//!   task come back, followed by the task's own section), and the fix is committed.
//! - Whatever the handoff now says, the task is verified again before it counts as complete.

use std::path::Path;

use super::RunError;
use super::prompt::path_for_agent;
use crate::events::Note;
use crate::files::write_atomic_mode;
use crate::plan::Milestone;
use crate::plan::handoff_text::restore;
use crate::state::{InProgress, StateDir};
use crate::vcs::Repo;

/// What settling an interrupted attempt did.
pub(crate) struct Settled {
    /// For the run header.
    pub(crate) notes: Vec<Note>,
    /// The handoff was put back or a commit made: a `git status` from before is out of date.
    pub(crate) changed_tree: bool,
}

/// Settles the handoff of the interrupted attempt `in_progress`, given the files `dirty` in the
/// tree now. Reloads the milestone's handoff when it changed.
pub(crate) fn settle(
    repo: &Repo,
    dirty: &[String],
    state_dir: &StateDir,
    in_progress: &InProgress,
    milestone: &mut Milestone,
) -> Result<Settled, RunError> {
    let task = &in_progress.task;
    let before = state_dir.read_snapshot(in_progress.snapshot_sha256.as_deref())?;
    let handoff = milestone.handoff_path.clone();
    let current = crate::files::read_regular(&handoff, crate::plan::MAX_INPUT_BYTES).ok();
    let mut notes = vec![Note::Reverify { task: task.clone() }];
    if current == before {
        return Ok(Settled {
            notes,
            changed_tree: false,
        });
    }
    let in_tree = path_for_agent(&handoff, repo.root());
    let uncommitted =
        in_tree.is_relative() && dirty.iter().any(|f| Path::new(f) == in_tree.as_path());
    let mut changed_tree = true;
    if uncommitted || in_tree.is_absolute() && current.is_some() {
        if let Some(current) = &current {
            let kept = state_dir.keep_interrupted_handoff(task, current)?;
            notes.push(Note::InterruptedHandoffSetAside {
                task: task.clone(),
                kept: kept.display().to_string(),
            });
        }
        put_back(&handoff, before.as_deref())?;
    } else if let Some(before) = &before
        && !current.as_deref().unwrap_or_default().starts_with(before)
    {
        let current_text = String::from_utf8_lossy(current.as_deref().unwrap_or_default());
        let restored = restore(before, &current_text, &milestone.plan, task);
        // Whatever stood there (a FIFO, a folder, a link) becomes a regular file again.
        put_back(&handoff, Some(restored.as_bytes()))?;
        if in_tree.is_relative() {
            repo.commit_path(
                &in_tree,
                &format!("Restore handoff content removed during task {task}"),
            )?;
        }
        notes.push(Note::HandoffRestoredAtStart { task: task.clone() });
    } else {
        changed_tree = false;
    }
    milestone.reload_handoff()?;
    Ok(Settled {
        notes,
        changed_tree,
    })
}

/// Writes `bytes` as the handoff (a regular file, replacing whatever is there), or removes it
/// when there was none.
fn put_back(handoff: &Path, bytes: Option<&[u8]>) -> Result<(), RunError> {
    if let Ok(meta) = std::fs::symlink_metadata(handoff)
        && meta.is_dir()
    {
        std::fs::remove_dir_all(handoff).map_err(|source| crate::files::WriteError {
            path: handoff.to_path_buf(),
            source,
        })?;
    }
    match bytes {
        Some(bytes) => {
            let mode = crate::files::mode_of(handoff).unwrap_or(0o644);
            if std::fs::symlink_metadata(handoff).is_ok_and(|m| !m.is_file()) {
                std::fs::remove_file(handoff).ok();
            }
            write_atomic_mode(handoff, bytes, mode)?;
        }
        None => {
            std::fs::remove_file(handoff).ok();
        }
    }
    Ok(())
}
