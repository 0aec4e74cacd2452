//! One milestone's state folder: `state.json` (written atomically), the run lock, the handoff
//! snapshot of the task in progress (with its hash in the state), per-run folders. Private: the
//! folders are 0700 and the files 0600. What the state records of gates and agents (output
//! tails, messages) is redacted when it is saved; the snapshot is kept exact, to be restored.

use std::fs::{DirBuilder, File};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::journal::{self, Journal};
use super::location::{self, sha256_hex};
use super::{STATE_VERSION, State, StateError, io};
use crate::files::write_atomic;

/// The state folder of one milestone.
#[derive(Debug)]
pub(crate) struct StateDir {
    dir: PathBuf,
    /// The log this process appends its saves to, once its first save compacted the state.
    journal: Option<Journal>,
}

/// Creates `dir` and its missing parents, private to the user.
fn create_private_dir(dir: &Path) -> Result<(), StateError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))
}

impl StateDir {
    /// A state folder at `dir` (tests place one where they like).
    #[cfg(test)]
    pub(crate) fn at_path(dir: &Path) -> StateDir {
        StateDir {
            dir: dir.to_path_buf(),
            journal: None,
        }
    }

    /// The folder of `milestone` for the repository holding `start`, not created.
    pub(crate) fn locate(start: &Path, milestone: &str) -> Result<StateDir, StateError> {
        let dir =
            location::milestone_dir(start, milestone).ok_or_else(|| StateError::NoLocation {
                start: start.to_path_buf(),
            })?;
        Ok(StateDir { dir, journal: None })
    }

    /// The folder, created if needed; an older kmilestone's `.kmilestone/<milestone>/` in the
    /// repository `root` is moved into it the first time. Returns where the old state came from
    /// when it was moved.
    pub(crate) fn create(
        root: &Path,
        milestone: &str,
    ) -> Result<(StateDir, Option<PathBuf>), StateError> {
        let state = StateDir::locate(root, milestone)?;
        create_private_dir(&state.dir)?;
        let moved = state.migrate_from(&root.join(".kmilestone").join(milestone))?;
        Ok((state, moved))
    }

    /// Moves the files of a state folder kept in the work tree (before state moved out of the
    /// agent's reach) into this one, unless this one already has a state.
    fn migrate_from(&self, old: &Path) -> Result<Option<PathBuf>, StateError> {
        if !old.join("state.json").is_file() || self.state_file().exists() {
            return Ok(None);
        }
        for entry in std::fs::read_dir(old).map_err(io(old))? {
            let entry = entry.map_err(io(old))?;
            let to = self.dir.join(entry.file_name());
            if entry.file_name() == "lock" || to.exists() {
                continue;
            }
            std::fs::rename(entry.path(), &to).map_err(io(&to))?;
        }
        std::fs::remove_dir_all(old).map_err(io(old))?;
        // The old parent held only kmilestone's folders and its own `.gitignore`.
        if let Some(parent) = old.parent() {
            let empty = std::fs::read_dir(parent).is_ok_and(|entries| {
                entries
                    .filter_map(Result::ok)
                    .all(|e| e.file_name() == ".gitignore")
            });
            if empty {
                std::fs::remove_dir_all(parent).ok();
            }
        }
        tracing::debug!(from = %old.display(), to = %self.dir.display(), "state moved");
        Ok(Some(old.to_path_buf()))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// The state file, which exists once a run was recorded.
    pub(crate) fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The saves since `state.json` was written.
    pub(crate) fn log_file(&self) -> PathBuf {
        self.dir.join("state.log")
    }

    /// The handoff as it was before the task in progress started (absent: there was none).
    pub(crate) fn handoff_snapshot_path(&self) -> PathBuf {
        self.dir.join("handoff.before")
    }

    /// Keeps the handoff's bytes before a task; returns their hash, which the state records so
    /// that a snapshot changed behind the runner's back is refused rather than restored.
    ///
    /// Written in place with one `fdatasync`, not replaced: the snapshot a task starts from
    /// belongs to no recorded attempt until the state saved after it names its hash, so a crash
    /// mid-write leaves nothing that is used (at worst a mismatch, which is refused).
    pub(crate) fn write_snapshot(
        &self,
        bytes: Option<&[u8]>,
    ) -> Result<Option<String>, StateError> {
        let path = self.handoff_snapshot_path();
        let Some(bytes) = bytes else {
            std::fs::remove_file(&path).ok();
            return Ok(None);
        };
        let existed = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
        let mut file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)
            .map_err(io(&path))?;
        file.write_all(bytes).map_err(io(&path))?;
        file.set_len(bytes.len() as u64).map_err(io(&path))?;
        file.sync_data().map_err(io(&path))?;
        if !existed && let Ok(dir) = File::open(&self.dir) {
            // The new file's name, durable with it.
            dir.sync_all().ok();
        }
        Ok(Some(sha256_hex(bytes)))
    }

    /// The snapshot, checked against the hash the state recorded with it.
    pub(crate) fn read_snapshot(
        &self,
        sha256: Option<&str>,
    ) -> Result<Option<Vec<u8>>, StateError> {
        let path = self.handoff_snapshot_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => Some(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let found = bytes.as_deref().map(sha256_hex);
        if found.as_deref() != sha256 {
            return Err(StateError::SnapshotChanged { path });
        }
        Ok(bytes)
    }

    pub(crate) fn load(&self, milestone: &str) -> Result<State, StateError> {
        let path = self.state_file();
        tracing::debug!(path = %path.display(), "reading state");
        let text = match crate::files::read_regular(&path, crate::files::MAX_STATE_BYTES) {
            Ok(text) => text,
            Err(err) if err.is_not_found() => return Ok(State::new(milestone)),
            Err(err) => return Err(StateError::Read(err)),
        };
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|err| StateError::Corrupt {
                path: path.clone(),
                message: err.to_string(),
            })?;
        let found = value["version"].as_u64().unwrap_or(0) as u32;
        if found > STATE_VERSION {
            return Err(StateError::TooNew { path, found });
        }
        let mut state: State =
            serde_json::from_value(value).map_err(|err| StateError::Corrupt {
                path,
                message: err.to_string(),
            })?;
        let log_path = self.log_file();
        match crate::files::read_regular(&log_path, crate::files::MAX_STATE_BYTES) {
            Ok(log) => journal::replay(&mut state, &log, &log_path)?,
            Err(err) if err.is_not_found() => {}
            Err(err) => return Err(StateError::Read(err)),
        }
        // Version 1 kept no hash of the snapshot: the one it left is taken as it is, once.
        if found < 2
            && let Some(in_progress) = state.in_progress.as_mut()
        {
            in_progress.snapshot_sha256 = std::fs::read(self.handoff_snapshot_path())
                .ok()
                .map(|b| sha256_hex(&b));
        }
        state.version = STATE_VERSION;
        Ok(state)
    }

    /// Saves `state` durably: one line appended to `state.log`, or, on this process's first
    /// save and once the log is long, the whole state written to `state.json` afresh.
    pub(crate) fn save(&mut self, state: &mut State) -> Result<(), StateError> {
        let changed: Vec<String> = std::mem::take(&mut state.unsaved.0).into_iter().collect();
        let appended = match self.journal.as_mut().filter(|j| !j.is_full()) {
            Some(journal) => journal.append(state, &changed),
            None => return self.compact(state),
        };
        if appended.is_err() {
            // What a failed append left in the log is abandoned with its generation.
            self.journal = None;
            state.unsaved.0.extend(changed);
        }
        appended
    }

    /// Writes the whole state to `state.json` as a new generation and starts its log (a run's
    /// last save, so that between runs `state.json` is the whole state).
    pub(crate) fn compact(&mut self, state: &mut State) -> Result<(), StateError> {
        self.journal = None;
        state.journal += 1;
        let text = serde_json::to_string(state).expect("state serializes");
        // Problems hold gate output and agent messages: secrets in them are not written down.
        let text = crate::redact::json(&text);
        tracing::debug!(path = %self.state_file().display(), bytes = text.len(), "saving state");
        write_atomic(&self.state_file(), text.as_bytes())?;
        state.unsaved.0.clear();
        self.journal = Some(Journal::start(&self.log_file())?);
        Ok(())
    }

    /// Takes the run lock, or says who holds it. The lock is an OS lock on the state folder
    /// itself, held open for the whole run: removing or replacing a file cannot break it, and
    /// the OS releases it when the holder dies, so a killed run's lock is simply taken over.
    /// The `lock` file beside it only names the holder's PID for the message.
    pub(crate) fn lock(&self) -> Result<RunLock, StateError> {
        let folder = File::open(&self.dir).map_err(io(&self.dir))?;
        let pid_path = self.dir.join("lock");
        match folder.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                if let Ok(mut file) = File::open(&pid_path) {
                    file.read_to_string(&mut pid).ok();
                }
                return Err(StateError::Locked {
                    path: pid_path,
                    pid: pid.trim().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StateError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        }
        let mut pid_file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&pid_path)
            .map_err(io(&pid_path))?;
        pid_file.set_len(0).map_err(io(&pid_path))?;
        pid_file.rewind().map_err(io(&pid_path))?;
        write!(pid_file, "{}", std::process::id()).map_err(io(&pid_path))?;
        Ok(RunLock { _folder: folder })
    }

    /// The PID of the kmilestone run that holds the lock now, when one does. Read from the PID
    /// file and checked against the live processes, without touching the lock (a run starting
    /// at this moment must not find it taken).
    pub(crate) fn running_pid(&self) -> Option<u32> {
        let pid: u32 = std::fs::read_to_string(self.dir.join("lock"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let alive = crate::process::is_alive(pid as i32);
        (alive && String::from_utf8_lossy(&cmdline).contains("kmilestone")).then_some(pid)
    }

    /// Where the handoff an interrupted attempt at `task` left uncommitted is kept.
    pub(crate) fn interrupted_handoff_path(&self, task: &str) -> PathBuf {
        self.dir.join(format!("handoff-interrupted-{task}.md"))
    }

    /// Keeps `bytes` (an unverified version of the handoff, for the user to read) under the
    /// state folder, redacted, and returns where.
    pub(crate) fn keep_interrupted_handoff(
        &self,
        task: &str,
        bytes: &[u8],
    ) -> Result<PathBuf, StateError> {
        let kept = self.interrupted_handoff_path(task);
        write_atomic(&kept, &crate::redact::bytes(bytes))?;
        Ok(kept)
    }

    /// A new folder for one run's events and report.
    pub(crate) fn new_run_dir(&self, stamp: &str) -> Result<PathBuf, StateError> {
        let runs = self.dir.join("runs");
        let mut dir = runs.join(stamp);
        let mut n = 1;
        while dir.exists() {
            n += 1;
            dir = runs.join(format!("{stamp}-{n}"));
        }
        create_private_dir(&dir)?;
        Ok(dir)
    }
}

#[cfg(test)]
pub(crate) fn create_private_dir_for_test(dir: &Path) {
    create_private_dir(dir).unwrap();
}

#[cfg(test)]
impl StateDir {
    pub(crate) fn migrate_from_for_test(&self, old: &Path) -> Result<Option<PathBuf>, StateError> {
        self.migrate_from(old)
    }
}

/// Held for the whole run; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct RunLock {
    _folder: File,
}
