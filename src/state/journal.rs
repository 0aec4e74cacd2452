//! The state's write path: `state.json` holds a whole [`State`], `state.log` the saves since,
//! one compact JSON line each with the run-wide fields and only the tasks that changed. A save
//! during a run is one append and one `fdatasync`, whose size does not grow with the run's
//! history; the first save of a process (and any once the log passes [`COMPACT_AFTER`]) writes
//! `state.json` afresh instead and starts a new log.
//!
//! Each `state.json` carries a generation (`journal`) and each line the generation it extends:
//! lines of an older generation, left when a compaction was cut short, are ignored, so a crash at
//! any point leaves the last durable save readable. A torn last line (a crash mid-append) is
//! dropped; a damaged line before it makes the state unreadable, with its line number.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::libc;
use serde::{Deserialize, Serialize};

use super::record::{InProgress, LastRun, PendingQuestion, State, TaskState, TrustedSupervision};
use super::{StateError, io};

/// The log size past which the next save compacts.
pub(crate) const COMPACT_AFTER: u64 = 1024 * 1024;

/// One save, as it is appended.
#[derive(Serialize)]
struct EntryOut<'a> {
    journal: u64,
    plan: &'a Option<String>,
    in_progress: &'a Option<InProgress>,
    pending_question: &'a Option<PendingQuestion>,
    last_run: &'a Option<LastRun>,
    trusted_supervision: &'a Option<TrustedSupervision>,
    tasks: BTreeMap<&'a str, &'a TaskState>,
}

/// One save, as it is read back.
#[derive(Deserialize)]
struct EntryIn {
    journal: u64,
    plan: Option<String>,
    in_progress: Option<InProgress>,
    pending_question: Option<PendingQuestion>,
    last_run: Option<LastRun>,
    trusted_supervision: Option<TrustedSupervision>,
    tasks: BTreeMap<String, TaskState>,
}

/// The open log of this process's saves.
#[derive(Debug)]
pub(crate) struct Journal {
    file: File,
    path: PathBuf,
    bytes: u64,
}

impl Journal {
    /// Starts the log at `path` empty (after the `state.json` it extends is durable).
    pub(crate) fn start(path: &Path) -> Result<Journal, StateError> {
        let file = File::options()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(io(path))?;
        Ok(Journal {
            file,
            path: path.to_path_buf(),
            bytes: 0,
        })
    }

    pub(crate) fn is_full(&self) -> bool {
        self.bytes > COMPACT_AFTER
    }

    /// Appends the run-wide fields and the `changed` tasks of `state`, durably.
    pub(crate) fn append(&mut self, state: &State, changed: &[String]) -> Result<(), StateError> {
        let entry = EntryOut {
            journal: state.journal,
            plan: &state.plan,
            in_progress: &state.in_progress,
            pending_question: &state.pending_question,
            last_run: &state.last_run,
            trusted_supervision: &state.trusted_supervision,
            tasks: changed
                .iter()
                .filter_map(|id| Some((id.as_str(), state.tasks.get(id)?)))
                .collect(),
        };
        let text = serde_json::to_string(&entry).expect("a state entry serializes");
        // Problems hold gate output and agent messages: secrets in them are not written down.
        let mut line = crate::redact::json(&text).into_owned();
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(io(&self.path))?;
        self.file.sync_data().map_err(io(&self.path))?;
        self.bytes += line.len() as u64;
        Ok(())
    }
}

/// Applies the lines of `log` (the text of `state.log` at `path`) that extend `state`'s
/// generation.
pub(crate) fn replay(state: &mut State, log: &[u8], path: &Path) -> Result<(), StateError> {
    let complete = log.strip_suffix(b"\n").unwrap_or(log);
    let torn_tail = !log.ends_with(b"\n") && !log.is_empty();
    let lines: Vec<&[u8]> = complete.split(|&b| b == b'\n').collect();
    for (index, line) in lines.iter().enumerate() {
        if line.is_empty() {
            continue;
        }
        let entry: EntryIn = match serde_json::from_slice(line) {
            Ok(entry) => entry,
            // The append a crash cut short was never a durable save.
            Err(_) if torn_tail && index + 1 == lines.len() => break,
            Err(err) => {
                return Err(StateError::Corrupt {
                    path: path.to_path_buf(),
                    message: format!("line {}: {err}", index + 1),
                });
            }
        };
        if entry.journal != state.journal {
            continue;
        }
        state.plan = entry.plan;
        state.in_progress = entry.in_progress;
        state.pending_question = entry.pending_question;
        state.last_run = entry.last_run;
        state.trusted_supervision = entry.trusted_supervision;
        state.tasks.extend(entry.tasks);
    }
    Ok(())
}
