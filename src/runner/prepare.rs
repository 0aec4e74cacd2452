//! Everything before the first task: the state folder and its lock, the state, a plan that would
//! share it, an interrupted attempt's handoff edits set aside, the header's notes, the dirty-tree
//! refusal, and the run's own folder.

use std::path::{Path, PathBuf};

use super::RunError;
use super::prompt::path_for_agent;
use super::selection::{Range, Selection};
use super::supervision::Supervision;
use crate::events::{Note, TaskResult};
use crate::plan::Milestone;
use crate::state::{RunLock, State, StateDir, TrustedSupervision};
use crate::vcs::{Repo, TreeState};

/// What the user allowed for this run.
#[derive(Debug, Clone, Default)]
pub(crate) struct PrepareOptions {
    /// `--allow-dirty`.
    pub allow_dirty: bool,
    /// `--allow-config-changes`: configuration a task changed is accepted for this run.
    pub allow_config_changes: bool,
    /// The configuration file, when it is not the repository's `kmilestone.toml`.
    pub config: Option<PathBuf>,
}

/// A run ready to start.
pub(crate) struct Prepared {
    pub(crate) milestone: Milestone,
    pub(crate) repo: Repo,
    pub(crate) state_dir: StateDir,
    pub(crate) lock: RunLock,
    pub(crate) state: State,
    pub(crate) selection: Selection,
    pub(crate) notes: Vec<Note>,
    pub(crate) run_dir: PathBuf,
    /// The tree as the start found it, when nothing changed it since: the first task's baseline.
    pub(crate) tree: Option<TreeState>,
    /// The repository's git identity (`user.name`, `user.email`), given to the agent.
    pub(crate) identity: Option<(String, String)>,
}

impl Prepared {
    /// The run's own folder (events log, report).
    pub(crate) fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The milestone's state folder.
    pub(crate) fn state_dir(&self) -> &Path {
        self.state_dir.path()
    }

    pub(crate) fn root(&self) -> &Path {
        self.repo.root()
    }
}

/// Takes the lock and reads the state of `milestone`'s run in `repo`, and decides where it
/// starts.
pub(crate) fn prepare(
    mut milestone: Milestone,
    repo: Repo,
    range: &Range,
    options: &PrepareOptions,
) -> Result<Prepared, RunError> {
    let allow_dirty = options.allow_dirty;
    let (state_dir, moved) = StateDir::create(repo.root(), &milestone.plan.id)?;
    let lock = state_dir.lock()?;
    let mut state = state_dir.load(&milestone.plan.id)?;
    // Another plan with the same milestone ID shares the state folder: its interrupted attempt or
    // pending question must not be taken for this plan's. A plan that was moved or renamed keeps
    // its state.
    let plan_in_repo = path_for_agent(&milestone.plan.path, repo.root())
        .display()
        .to_string();
    if let Some(other) = state.plan.as_deref()
        && other != plan_in_repo
        && repo.root().join(other).is_file()
    {
        return Err(RunError::SharedState {
            dir: state_dir.path().to_path_buf(),
            other: other.to_string(),
            id: milestone.plan.id.clone(),
        });
    }
    state.plan = Some(plan_in_repo);
    // The agent's git identity is read while the start goes on.
    let identity = repo.start_identity();
    // One `git status` serves the whole start: HEAD for the trusted supervision, the dirty files
    // for the interrupted attempt and the dirty-tree refusal, and the first task's baseline.
    let mut tree = Some(repo.tree_state()?);
    let head = tree.as_ref().and_then(|t| t.head.clone());
    let supervision = Supervision::take(repo.root(), options.config.as_deref());
    trust_supervision(
        &repo,
        head,
        &mut state,
        supervision,
        options.allow_config_changes,
    )?;

    let mut selection = Selection::select(&milestone, range, None)?;
    let mut notes = Vec::new();
    if let Some(text) = milestone.progress.unmarked_note() {
        notes.push(Note::UnmarkedHandoff { text });
    }
    if let (Some(next), false) = (&milestone.progress.next, selection.forced)
        && !milestone.progress.complete_after_next.is_empty()
    {
        notes.push(Note::HandoffGap {
            complete_after: milestone.progress.complete_after_next.clone(),
            next: next.clone(),
        });
    }
    if !milestone.progress.unknown_completed.is_empty() {
        notes.push(Note::UnknownCompleted {
            ids: milestone.progress.unknown_completed.clone(),
        });
    }

    if let Some(from) = moved {
        notes.push(Note::StateMoved {
            from: from.display().to_string(),
            to: state_dir.path().display().to_string(),
        });
    }
    // What an interrupted attempt left is settled before anything is decided from the handoff,
    // and its task is verified again before it counts.
    if let Some(in_progress) = state.in_progress.clone() {
        if let Some(lock) = repo.clear_stale_index_lock() {
            notes.push(Note::StaleGitLockRemoved {
                path: lock.display().to_string(),
            });
        }
        let dirty = tree
            .as_ref()
            .map(|t| t.dirty.as_slice())
            .unwrap_or_default();
        let settled =
            super::interrupted::settle(&repo, dirty, &state_dir, &in_progress, &mut milestone)?;
        if settled.changed_tree {
            tree = None;
        }
        notes.extend(settled.notes);
        selection = Selection::select(&milestone, range, Some(&in_progress.task))?;
    }

    // The handoff decides completion, but a task whose last run failed verification is not
    // skipped silently.
    if !selection.forced {
        for task in &milestone.plan.tasks {
            let failed =
                state.tasks.get(&task.id).and_then(|t| t.result) == Some(TaskResult::Failed);
            if failed && milestone.handoff.is_complete(&task.id) {
                notes.push(Note::CompleteButFailed {
                    id: task.id.clone(),
                    plan: milestone.plan.path.display().to_string(),
                });
            }
        }
    }

    // A dirty tree is refused before the run starts, unless it is the leftover of an interrupted
    // attempt at the task that comes next (that attempt's successor takes it over).
    let start = selection.start(&milestone.handoff).map(str::to_string);
    let continues_attempt = state
        .in_progress
        .as_ref()
        .is_some_and(|p| start.as_deref() == Some(p.task.as_str()));
    if start.is_some() && !allow_dirty && !continues_attempt {
        let now = match tree.take() {
            Some(tree) => tree,
            None => repo.tree_state()?,
        };
        if !now.dirty.is_empty() {
            return Err(RunError::Dirty(now.dirty));
        }
        tree = Some(now);
    }

    // In UTC: the local time zone's name costs a scan of the system's zone database.
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let run_dir = state_dir.new_run_dir(&stamp)?;
    Ok(Prepared {
        milestone,
        repo,
        state_dir,
        lock,
        state,
        selection,
        notes,
        run_dir,
        tree,
        identity: identity.finish(),
    })
}

/// Compares the supervised files with what the user last trusted. A change a task made (its
/// verification saw it, or the task was interrupted before verification) is refused until the
/// user accepts it (`--allow-config-changes`) or reverts it; a change made between runs is the
/// user's own and becomes the trusted state.
fn trust_supervision(
    repo: &Repo,
    head: Option<String>,
    state: &mut State,
    now: Supervision,
    allow: bool,
) -> Result<(), RunError> {
    if let Some(trusted) = &state.trusted_supervision {
        let before = Supervision {
            files: trusted.files.clone(),
        };
        let changed = now.changed_since(&before);
        let by_task = trusted
            .changed_by
            .clone()
            .or_else(|| state.in_progress.as_ref().map(|p| p.task.clone()));
        if let (false, Some(task), false) = (changed.is_empty(), by_task, allow) {
            let mut commits = Vec::new();
            let mut tracked = Vec::new();
            for file in &changed {
                let commit = match &trusted.head {
                    Some(head) => repo.last_commit_touching(head, file).ok().flatten(),
                    None => None,
                };
                match commit {
                    Some(commit) => {
                        commits.push(format!("{file} in commit {commit}"));
                        tracked.push(file.as_str());
                    }
                    None => commits.push(format!("{file} (not committed)")),
                }
            }
            let diff = match (&trusted.head, tracked.is_empty()) {
                (Some(head), false) => repo.diff_of(head, &tracked, 60).unwrap_or_default(),
                _ => String::new(),
            };
            return Err(RunError::SupervisionChanged {
                task,
                changes: commits.join("; "),
                diff,
            });
        }
    }
    state.trusted_supervision = Some(TrustedSupervision {
        files: now.files,
        head,
        changed_by: None,
    });
    Ok(())
}
