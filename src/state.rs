//! The runner's own state under `.kmilestone/<milestone ID>/`: `state.json` (written atomically),
//! the run lock, the handoff snapshot of the task in progress, and per-run folders.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::events::{GateRecord, Problem, Question, RunOutcome, TaskResult, TestFinding, Usage};
pub(crate) use crate::files::write_atomic;

/// Bumped when the file's meaning changes; a newer file is refused rather than misread.
pub(crate) const STATE_VERSION: u32 = 1;

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
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What is known about one task across runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct TaskState {
    pub attempts: u32,
    pub sessions: Vec<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub head_before: Option<String>,
    pub head_after: Option<String>,
    pub result: Option<TaskResult>,
    pub gates: Vec<GateRecord>,
    /// Latest cumulative cost per agent session (Claude reports cumulative cost after `--resume`).
    pub session_costs: BTreeMap<String, f64>,
    /// Cost of invocations without a session id.
    pub unattributed_cost_usd: f64,
    pub usage: Usage,
    pub e2e: Option<String>,
    /// The task's commits (`%h %s`), as of its last verification.
    #[serde(default)]
    pub commits: Vec<String>,
    /// Unit-test quality findings of the last check.
    #[serde(default, deserialize_with = "lenient_list")]
    pub findings: Vec<TestFinding>,
    /// What was still wrong when the task last stopped without completing.
    #[serde(default, deserialize_with = "lenient_list")]
    pub problems: Vec<Problem>,
    /// Time the agent and the checks took, over every attempt; time spent waiting for a human
    /// or a usage limit is not counted.
    #[serde(default)]
    pub duration_ms: u64,
}

/// A list whose entries an older kmilestone may have written in another form: entries that do
/// not read as `T` are dropped rather than making the whole state unreadable.
fn lenient_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let values: Vec<serde_json::Value> = Deserialize::deserialize(deserializer)?;
    Ok(values
        .into_iter()
        .filter_map(|value| serde_json::from_value(value).ok())
        .collect())
}

impl TaskState {
    pub(crate) fn cost_usd(&self) -> f64 {
        self.session_costs.values().sum::<f64>() + self.unattributed_cost_usd
    }
}

/// A task an attempt was started for and did not finish (the runner was stopped or killed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct InProgress {
    pub task: String,
    pub attempt: u32,
    pub session_id: Option<String>,
    pub head_before: Option<String>,
    pub started_at: String,
}

/// A question waiting for the human's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct PendingQuestion {
    pub task: String,
    pub session_id: String,
    pub question: Question,
    pub asked_at: String,
    /// The human's answer, saved before the session is resumed with it: a run interrupted after
    /// the answer was given resumes with it instead of asking again.
    #[serde(default)]
    pub answer: Option<String>,
}

/// How the last run ended, for `kmilestone report`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct LastRun {
    pub started_at: String,
    pub finished_at: String,
    pub outcome: RunOutcome,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct State {
    pub version: u32,
    pub milestone: String,
    /// The plan this state belongs to, relative to the repository root (two plans may share a
    /// milestone ID, and so a state folder).
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub tasks: BTreeMap<String, TaskState>,
    #[serde(default)]
    pub in_progress: Option<InProgress>,
    #[serde(default)]
    pub pending_question: Option<PendingQuestion>,
    #[serde(default)]
    pub last_run: Option<LastRun>,
}

impl State {
    pub(crate) fn new(milestone: &str) -> State {
        State {
            version: STATE_VERSION,
            milestone: milestone.to_string(),
            plan: None,
            tasks: BTreeMap::new(),
            in_progress: None,
            pending_question: None,
            last_run: None,
        }
    }

    pub(crate) fn task_mut(&mut self, id: &str) -> &mut TaskState {
        self.tasks.entry(id.to_string()).or_default()
    }
}

/// Whether a path (relative to the repository root, as git names it) is kmilestone's own state,
/// which never counts as uncommitted work.
pub(crate) fn is_state_path(path: &str) -> bool {
    path == ".kmilestone" || path.starts_with(".kmilestone/")
}

/// `.kmilestone/<ID>/` of one milestone.
#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// The folder for `milestone` under the repository `root`; created with a `.gitignore` that
    /// ignores the whole `.kmilestone` folder so it never dirties the tree.
    pub(crate) fn create(root: &Path, milestone: &str) -> Result<StateDir, StateError> {
        let base = root.join(".kmilestone");
        let dir = base.join(milestone);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let ignore = base.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "*\n").map_err(io(&ignore))?;
        }
        Ok(StateDir { dir })
    }

    /// The folder without creating it (for reading reports).
    pub(crate) fn at(root: &Path, milestone: &str) -> StateDir {
        StateDir {
            dir: root.join(".kmilestone").join(milestone),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The state file, which exists once a run was recorded.
    pub(crate) fn state_file(&self) -> PathBuf {
        self.state_path()
    }

    /// The handoff as it was before the task in progress started (`None`: there was none).
    pub(crate) fn handoff_snapshot_path(&self) -> PathBuf {
        self.dir.join("handoff.before")
    }

    pub(crate) fn load(&self, milestone: &str) -> Result<State, StateError> {
        let path = self.state_path();
        tracing::debug!(path = %path.display(), "reading state");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(State::new(milestone));
            }
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|err| StateError::Corrupt {
                path: path.clone(),
                message: err.to_string(),
            })?;
        let found = value["version"].as_u64().unwrap_or(0) as u32;
        if found > STATE_VERSION {
            return Err(StateError::TooNew { path, found });
        }
        serde_json::from_value(value).map_err(|err| StateError::Corrupt {
            path,
            message: err.to_string(),
        })
    }

    pub(crate) fn save(&self, state: &State) -> Result<(), StateError> {
        let text = serde_json::to_vec(state).expect("state serializes");
        tracing::debug!(path = %self.state_path().display(), bytes = text.len(), "saving state");
        Ok(write_atomic(&self.state_path(), &text)?)
    }

    /// Takes the run lock, or says who holds it. The OS releases it when the holder dies, so a
    /// lock left by a killed run is simply taken over.
    pub(crate) fn lock(&self) -> Result<RunLock, StateError> {
        let path = self.dir.join("lock");
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                file.read_to_string(&mut pid).ok();
                return Err(StateError::Locked {
                    path,
                    pid: pid.trim().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StateError::Io { path, source });
            }
        }
        file.set_len(0).map_err(io(&path))?;
        file.rewind().map_err(io(&path))?;
        write!(file, "{}", std::process::id()).map_err(io(&path))?;
        file.sync_all().map_err(io(&path))?;
        Ok(RunLock { _file: file })
    }

    /// Where the handoff an interrupted attempt at `task` left uncommitted is kept.
    pub(crate) fn interrupted_handoff_path(&self, task: &str) -> PathBuf {
        self.dir.join(format!("handoff-interrupted-{task}.md"))
    }

    /// Puts the handoff back as it was before the interrupted attempt of `state`, when that
    /// attempt left it changed (the caller passes only uncommitted changes). An unverified
    /// attempt's edits must neither decide where the next run starts nor be appended to twice;
    /// they are kept at [`interrupted_handoff_path`](Self::interrupted_handoff_path), whose path
    /// is returned.
    pub(crate) fn set_aside_interrupted_handoff(
        &self,
        state: &State,
        handoff: &Path,
    ) -> Result<Option<PathBuf>, StateError> {
        let Some(in_progress) = &state.in_progress else {
            return Ok(None);
        };
        let before = std::fs::read(self.handoff_snapshot_path()).ok();
        let current = std::fs::read(handoff).ok();
        let Some(current) = current.filter(|current| Some(current) != before.as_ref()) else {
            return Ok(None);
        };
        let kept = self.interrupted_handoff_path(&in_progress.task);
        write_atomic(&kept, &current)?;
        match before {
            Some(before) => write_atomic(handoff, &before)?,
            None => std::fs::remove_file(handoff).map_err(io(handoff))?,
        }
        Ok(Some(kept))
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
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(dir)
    }
}

/// Held for the whole run; dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct RunLock {
    _file: File,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_newer_versions_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = StateDir::create(root.path(), "M1").unwrap();
        assert_eq!(dir.load("M1").unwrap(), State::new("M1"));
        let mut state = State::new("M1");
        state.task_mut("1.1").attempts = 2;
        dir.save(&state).unwrap();
        assert_eq!(dir.load("M1").unwrap(), state);
        std::fs::write(
            dir.path().join("state.json"),
            r#"{"version": 99, "milestone": "M1"}"#,
        )
        .unwrap();
        assert!(matches!(
            dir.load("M1"),
            Err(StateError::TooNew { found: 99, .. })
        ));
        std::fs::write(dir.path().join("state.json"), "{not json").unwrap();
        assert!(matches!(dir.load("M1"), Err(StateError::Corrupt { .. })));
        assert_eq!(
            std::fs::read_to_string(root.path().join(".kmilestone/.gitignore")).unwrap(),
            "*\n"
        );
    }

    #[test]
    fn an_interrupted_attempts_handoff_is_set_aside() {
        let root = tempfile::tempdir().unwrap();
        let dir = StateDir::create(root.path(), "M1").unwrap();
        let handoff = root.path().join("HANDOFF_M1.md");
        let mut state = State::new("M1");
        std::fs::write(&handoff, "## Task 1.1 Complete\n").unwrap();
        assert_eq!(
            dir.set_aside_interrupted_handoff(&state, &handoff).unwrap(),
            None
        );

        state.in_progress = Some(InProgress {
            task: "1.2".into(),
            attempt: 1,
            session_id: None,
            head_before: None,
            started_at: String::new(),
        });
        std::fs::write(dir.handoff_snapshot_path(), "## Task 1.1 Complete\n").unwrap();
        assert_eq!(
            dir.set_aside_interrupted_handoff(&state, &handoff).unwrap(),
            None
        );

        std::fs::write(&handoff, "## Task 1.2 Complete: half\n").unwrap();
        let kept = dir
            .set_aside_interrupted_handoff(&state, &handoff)
            .unwrap()
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&handoff).unwrap(),
            "## Task 1.1 Complete\n"
        );
        assert_eq!(
            std::fs::read_to_string(&kept).unwrap(),
            "## Task 1.2 Complete: half\n"
        );

        // No handoff before the task: the one the attempt created is moved aside.
        std::fs::remove_file(dir.handoff_snapshot_path()).unwrap();
        let kept = dir
            .set_aside_interrupted_handoff(&state, &handoff)
            .unwrap()
            .unwrap();
        assert!(!handoff.exists());
        assert_eq!(
            std::fs::read_to_string(kept).unwrap(),
            "## Task 1.1 Complete\n"
        );
    }

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid() {
        let root = tempfile::tempdir().unwrap();
        let dir = StateDir::create(root.path(), "M1").unwrap();
        let held = dir.lock().unwrap();
        match dir.lock() {
            Err(StateError::Locked { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(held);
        dir.lock().unwrap();
    }
}
