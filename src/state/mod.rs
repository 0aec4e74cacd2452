//! The runner's own state, out of the agent's reach (see [`location`]): `state.json` and
//! `state.log` (see [`journal`]) with every task's record across runs, the run lock, the handoff snapshot of the task in progress, and the
//! per-run folders with their events and reports.

mod dir;
mod journal;
mod location;
mod record;

use std::path::{Path, PathBuf};

pub(crate) use dir::{RunLock, StateDir};
pub(crate) use location::sha256_hex;
pub(crate) use record::{
    InProgress, LastRun, PendingQuestion, RecordedCaps, State, TaskState, TrustedSupervision,
};

/// Bumped when the file's meaning changes; a newer file is refused rather than misread.
/// Version 3 added `state.log`, which an older kmilestone would not read.
pub(crate) const STATE_VERSION: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    #[error(transparent)]
    Write(#[from] crate::files::WriteError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a kmilestone state file: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error(
        "{path}: written by a newer kmilestone (state version {found}, this one reads {STATE_VERSION})"
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error("another kmilestone run of this milestone is in progress (PID {pid}); lock: {path}")]
    Locked { path: PathBuf, pid: String },
    #[error(transparent)]
    Read(#[from] crate::files::ReadError),
    #[error(
        "{path}: the handoff snapshot does not match the hash recorded when the task started; it was changed outside kmilestone and is not restored (remove it and the state's in_progress entry to start the task afresh)"
    )]
    SnapshotChanged { path: PathBuf },
    #[error(
        "no place for kmilestone's state: {start} is not inside a git repository, or no home directory is known (set KMILESTONE_STATE_DIR)",
        start = start.display()
    )]
    NoLocation { start: PathBuf },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests;
