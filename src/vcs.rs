//! Git, through the user's `git` binary, hardened so that nothing the repository says can make
//! kmilestone's own git calls run a command: no fsmonitor, no hooks, no pager, no external diff
//! or text conversion, no system config, no prompts. The user's global config still applies, so
//! a commit kmilestone makes is signed when the user's `commit.gpgsign` and key say so.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub(crate) enum GitError {
    #[error("git could not be run: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("`git {args}` failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("{0} is not inside a git repository")]
    NotARepository(PathBuf),
}

/// HEAD, its branch and the files with uncommitted changes, from one `git status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TreeState {
    /// `None` in a repository without commits.
    pub head: Option<String>,
    /// `None` when HEAD is detached.
    pub branch: Option<String>,
    pub dirty: Vec<String>,
}

/// The commits after a base, as one `git log` tells them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct History {
    /// `%h %s`, oldest first.
    pub commits: Vec<String>,
    /// The files they touch, sorted.
    pub files: Vec<String>,
    /// Each commit's only parent is the one before it, the first's is the base: the base is
    /// in HEAD's history without asking `git merge-base`.
    pub linear: bool,
}

/// A `git config` reading the identity, still running.
#[derive(Debug)]
pub(crate) struct PendingIdentity(Option<std::process::Child>);

impl PendingIdentity {
    /// Its answer: both keys, the last value of each winning as with `--get`.
    pub(crate) fn finish(self) -> Option<(String, String)> {
        let output = self.0?.wait_with_output().ok()?;
        if !output.status.success() {
            return None;
        }
        let (mut name, mut email) = (None, None);
        for entry in String::from_utf8_lossy(&output.stdout).split('\0') {
            let (key, value) = entry.split_once('\n').unwrap_or((entry, ""));
            let value = Some(value.trim().to_string()).filter(|v| !v.is_empty());
            match key {
                "user.name" => name = value,
                "user.email" => email = value,
                _ => {}
            }
        }
        Some((name?, email?))
    }
}

/// A git working tree.
#[derive(Debug, Clone)]
pub(crate) struct Repo {
    root: PathBuf,
}

/// Settings on every git call, ahead of the repository's own: each names a way the repository's
/// config (which an agent can write) would make git run a program.
const HARDENING: &[&str] = &[
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.pager=cat",
    "-c",
    "diff.external=",
    "-c",
    "core.sshCommand=false",
    "-c",
    "protocol.ext.allow=never",
    "--no-pager",
];

/// The `git` on PATH, looked up once: every call would otherwise search PATH again.
fn git_program() -> &'static Path {
    static GIT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    GIT.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join("git"))
            .find(|path| {
                path.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
            .unwrap_or_else(|| PathBuf::from("git"))
    })
}

/// `git -C dir <hardening> <args>` with stdin closed and the environment that keeps it from
/// reading the system config or asking anything.
fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(git_program());
    command
        .arg("-C")
        .arg(dir)
        .args(HARDENING)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_EXTERNAL_DIFF")
        .env_remove("GIT_PAGER")
        .stdin(Stdio::null());
    command
}

fn git_output(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let started = std::time::Instant::now();
    let output = git_command(dir, args).output().map_err(GitError::Spawn)?;
    tracing::debug!(
        args = %args.join(" "),
        status = %output.status,
        ms = started.elapsed().as_millis() as u64,
        "git"
    );
    if !output.status.success() {
        return Err(GitError::Failed {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

impl Repo {
    /// The repository holding `path` (a file or folder).
    pub(crate) fn discover(path: &Path) -> Result<Repo, GitError> {
        let dir = if path.is_dir() {
            path.to_path_buf()
        } else {
            match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            }
        };
        match git_output(&dir, &["rev-parse", "--show-toplevel"]) {
            Ok(root) => Ok(Repo {
                root: PathBuf::from(root.trim()),
            }),
            Err(GitError::Failed { .. }) => Err(GitError::NotARepository(dir)),
            Err(err) => Err(err),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn git(&self, args: &[&str]) -> Result<String, GitError> {
        git_output(&self.root, args)
    }

    /// The commit HEAD points at, or `None` in a repository without commits.
    pub(crate) fn head(&self) -> Result<Option<String>, GitError> {
        match self.git(&["rev-parse", "--verify", "--quiet", "HEAD"]) {
            Ok(sha) => Ok(Some(sha.trim().to_string())),
            Err(GitError::Failed { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The author identity git would commit with here (`user.name`, `user.email`, when both are
    /// configured), started: the `git config` runs while the caller goes on.
    pub(crate) fn start_identity(&self) -> PendingIdentity {
        let child = git_command(
            &self.root,
            &["config", "-z", "--get-regexp", r"^user\.(name|email)$"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
        PendingIdentity(child.ok())
    }

    /// The repository's git folder: `.git`, or in a worktree the folder its `.git` file names.
    fn git_dir(&self) -> PathBuf {
        let dot_git = self.root.join(".git");
        if let Ok(text) = std::fs::read_to_string(&dot_git)
            && let Some(dir) = text.strip_prefix("gitdir:")
        {
            return self.root.join(dir.trim());
        }
        dot_git
    }

    /// Removes `index.lock` when no live process holds it open, and returns its path: a git
    /// killed in the middle of a commit (an agent kmilestone stopped, or a run killed with it)
    /// leaves it behind, and every later `git add` or `git commit` fails until it is removed.
    /// Left alone when another process has it open, or where that cannot be known.
    pub(crate) fn clear_stale_index_lock(&self) -> Option<PathBuf> {
        use std::os::unix::fs::MetadataExt;
        let lock = self.git_dir().join("index.lock");
        // The git that made it owns it: another user's is left to them.
        let mine = std::fs::symlink_metadata(&lock)
            .is_ok_and(|m| m.is_file() && m.uid() == nix::unistd::getuid().as_raw());
        if !mine || crate::process::held_open(&lock) != Some(false) {
            return None;
        }
        std::fs::remove_file(&lock).ok()?;
        tracing::debug!(path = %lock.display(), "removed a stale git index lock");
        Some(lock)
    }

    /// Whether `ancestor` is in the history of `commit` (the same commit counts).
    pub(crate) fn is_ancestor(&self, ancestor: &str, commit: &str) -> Result<bool, GitError> {
        let args = ["merge-base", "--is-ancestor", ancestor, commit];
        let output = git_command(&self.root, &args)
            .output()
            .map_err(GitError::Spawn)?;
        match output.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(GitError::Failed {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            }),
        }
    }

    /// HEAD and the uncommitted files, from one `git status`.
    pub(crate) fn tree_state(&self) -> Result<TreeState, GitError> {
        let output = self.git(&[
            "status",
            "--porcelain=v2",
            "--branch",
            "-z",
            "--untracked-files=all",
        ])?;
        let mut state = TreeState::default();
        let mut entries = output.split('\0').filter(|e| !e.is_empty());
        while let Some(entry) = entries.next() {
            if let Some(oid) = entry.strip_prefix("# branch.oid ") {
                state.head = (oid != "(initial)").then(|| oid.to_string());
                continue;
            }
            if let Some(branch) = entry.strip_prefix("# branch.head ") {
                state.branch = (branch != "(detached)").then(|| branch.to_string());
                continue;
            }
            // Fields before the path: ordinary 8, renamed or copied 9 (then the source path as a
            // separate entry), unmerged 10, untracked 1.
            let fields_before_path = match entry.as_bytes().first() {
                Some(b'1') => 8,
                Some(b'2') => 9,
                Some(b'u') => 10,
                Some(b'?') => 1,
                _ => continue,
            };
            if let Some(path) = entry
                .splitn(fields_before_path + 1, ' ')
                .nth(fields_before_path)
            {
                state.dirty.push(path.to_string());
            }
            if entry.starts_with('2') {
                entries.next();
            }
        }
        Ok(state)
    }

    /// The commits after `base`, the files they touch, and whether they descend from `base` in
    /// a line, from one `git log`.
    pub(crate) fn history_since(&self, base: &str) -> Result<History, GitError> {
        let output = self.git(&[
            "log",
            "--reverse",
            "--format=%x1e%H %P%x1f%h %s",
            "--name-only",
            "-z",
            &format!("{base}..HEAD"),
        ])?;
        let mut history = History {
            linear: true,
            ..History::default()
        };
        let mut previous = base.to_string();
        for record in output.split('\x1e').filter(|r| !r.is_empty()) {
            let (ids, rest) = record.split_once('\x1f').unwrap_or((record, ""));
            let mut ids = ids.split_whitespace();
            let hash = ids.next().unwrap_or_default();
            let parents: Vec<&str> = ids.collect();
            history.linear &= parents == [previous.as_str()];
            previous = hash.to_string();
            let mut parts = rest.split(['\0', '\n']).filter(|p| !p.is_empty());
            if let Some(subject) = parts.next() {
                history.commits.push(subject.to_string());
            }
            history.files.extend(parts.map(str::to_string));
        }
        // No commits after the base says nothing of where the base stands.
        history.linear &= !history.commits.is_empty();
        history.files.sort();
        history.files.dedup();
        Ok(history)
    }

    /// Commits everything in the working tree with `message`; returns the new HEAD.
    pub(crate) fn commit_all(&self, message: &str) -> Result<String, GitError> {
        self.git(&["add", "-A"])?;
        self.git(&["commit", "--quiet", "-m", message])?;
        Ok(self.head()?.unwrap_or_default())
    }

    /// Commits only `path` (relative to the root or absolute).
    pub(crate) fn commit_path(&self, path: &Path, message: &str) -> Result<(), GitError> {
        let path = path.to_string_lossy();
        self.git(&["add", "--", &path])?;
        self.git(&["commit", "--quiet", "-m", message, "--", &path])?;
        Ok(())
    }

    /// One-line summaries of the commits after `base` (all commits when `base` is `None`), oldest first.
    pub(crate) fn commits_since(&self, base: Option<&str>) -> Result<Vec<String>, GitError> {
        let range = match base {
            Some(base) => format!("{base}..HEAD"),
            None if self.head()?.is_none() => return Ok(Vec::new()),
            None => "HEAD".to_string(),
        };
        let output = self.git(&["log", "--reverse", "--format=%h %s", &range])?;
        Ok(output.lines().map(str::to_string).collect())
    }

    /// The diff of `paths` between `base` and the working tree (no external diff, no text
    /// conversion), at most `max_lines` lines.
    pub(crate) fn diff_of(
        &self,
        base: &str,
        paths: &[&str],
        max_lines: usize,
    ) -> Result<String, GitError> {
        let mut args = vec![
            "diff",
            "--no-ext-diff",
            "--no-textconv",
            "--no-color",
            base,
            "--",
        ];
        args.extend_from_slice(paths);
        let diff = self.git(&args)?;
        let lines: Vec<&str> = diff.lines().collect();
        let mut text = lines[..lines.len().min(max_lines)].join("\n");
        if lines.len() > max_lines {
            text.push_str(&format!("\n… ({} more lines)", lines.len() - max_lines));
        }
        Ok(text)
    }

    /// The last commit after `base` that touched `path` (`%h %s`), if any.
    pub(crate) fn last_commit_touching(
        &self,
        base: &str,
        path: &str,
    ) -> Result<Option<String>, GitError> {
        let range = format!("{base}..HEAD");
        let out = self.git(&["log", "-1", "--format=%h %s", &range, "--", path])?;
        Ok(Some(out.trim().to_string()).filter(|c| !c.is_empty()))
    }

    /// Files changed between `base` and the working tree, plus untracked files when asked.
    pub(crate) fn changed_files_since(
        &self,
        base: Option<&str>,
        include_untracked: bool,
    ) -> Result<Vec<String>, GitError> {
        let mut files: Vec<String> = match base {
            Some(base) => self
                .git(&[
                    "diff",
                    "--no-ext-diff",
                    "--no-textconv",
                    "--name-only",
                    "-z",
                    base,
                ])?
                .split('\0')
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect(),
            None => self
                .git(&["ls-files", "-z"])?
                .split('\0')
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect(),
        };
        if include_untracked {
            files.extend(
                self.git(&["ls-files", "--others", "--exclude-standard", "-z"])?
                    .split('\0')
                    .filter(|f| !f.is_empty())
                    .map(str::to_string),
            );
        }
        files.sort();
        files.dedup();
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[test]
    fn the_repositorys_config_cannot_make_kmilestones_git_run_a_command() {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        git(dir.path(), &["config", "user.email", "t@example.com"]);
        git(dir.path(), &["config", "user.name", "t"]);
        let marker = dir.path().join("ran");
        let command = format!("touch {}", marker.display());
        git(dir.path(), &["config", "core.fsmonitor", &command]);
        git(dir.path(), &["config", "core.pager", &command]);
        std::fs::create_dir_all(dir.path().join(".git/hooks")).unwrap();
        let hook = dir.path().join(".git/hooks/pre-commit");
        std::fs::write(&hook, format!("#!/bin/sh\n{command}\n")).unwrap();
        std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let repo = Repo::discover(dir.path()).unwrap();
        std::fs::write(dir.path().join("a.txt"), "1").unwrap();
        repo.tree_state().unwrap();
        repo.commit_all("first").unwrap();
        repo.commits_since(None).unwrap();
        assert!(!marker.exists(), "fsmonitor, pager or hook ran");
    }

    #[test]
    fn tree_state_and_commits_since() {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        git(dir.path(), &["config", "user.email", "t@example.com"]);
        git(dir.path(), &["config", "user.name", "t"]);
        let repo = Repo::discover(dir.path()).unwrap();
        assert_eq!(
            repo.tree_state().unwrap(),
            TreeState {
                branch: Some("main".to_string()),
                ..TreeState::default()
            }
        );
        std::fs::write(dir.path().join("a b.txt"), "1").unwrap();
        assert_eq!(repo.tree_state().unwrap().dirty, vec!["a b.txt"]);
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-qm", "first"]);
        let base = repo.head().unwrap().unwrap();
        assert_eq!(
            repo.tree_state().unwrap().head.as_deref(),
            Some(base.as_str())
        );
        std::fs::write(dir.path().join("c.txt"), "2").unwrap();
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-qm", "second: c"]);
        git(dir.path(), &["mv", "a b.txt", "d.txt"]);
        std::fs::write(dir.path().join("c.txt"), "3").unwrap();
        let mut dirty = repo.tree_state().unwrap().dirty;
        dirty.sort();
        assert_eq!(
            dirty,
            vec!["c.txt", "d.txt"],
            "a rename is one entry, by its new path"
        );
        git(dir.path(), &["commit", "-qam", "third"]);
        let history = repo.history_since(&base).unwrap();
        assert!(history.linear);
        let (commits, files) = (history.commits, history.files);
        let subjects: Vec<&str> = commits
            .iter()
            .map(|c| c.split_once(' ').unwrap().1)
            .collect();
        assert_eq!(subjects, vec!["second: c", "third"]);
        // A renamed file is named by its new path.
        assert_eq!(files, vec!["c.txt", "d.txt"]);
    }

    #[test]
    fn history_with_a_merge_is_not_linear_and_a_detached_head_has_no_branch() {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        git(dir.path(), &["config", "user.email", "t@example.com"]);
        git(dir.path(), &["config", "user.name", "t"]);
        let repo = Repo::discover(dir.path()).unwrap();
        git(dir.path(), &["commit", "-q", "--allow-empty", "-m", "base"]);
        let base = repo.head().unwrap().unwrap();
        assert_eq!(repo.history_since(&base).unwrap(), History::default());
        git(dir.path(), &["checkout", "-q", "-b", "side"]);
        std::fs::write(dir.path().join("s.txt"), "s").unwrap();
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-qm", "side"]);
        git(dir.path(), &["checkout", "-q", "main"]);
        std::fs::write(dir.path().join("m.txt"), "m").unwrap();
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-qm", "main"]);
        git(dir.path(), &["merge", "-q", "--no-edit", "side"]);
        let history = repo.history_since(&base).unwrap();
        assert!(!history.linear, "a merge is not a line of commits");
        assert_eq!(history.commits.len(), 3);
        assert_eq!(history.files, vec!["m.txt", "s.txt"]);
        git(dir.path(), &["checkout", "-q", "--detach"]);
        assert_eq!(repo.tree_state().unwrap().branch, None);
    }

    #[test]
    fn identity_takes_the_last_value_of_each_key() {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        let repo = Repo::discover(dir.path()).unwrap();
        git(dir.path(), &["config", "user.name", "first"]);
        git(
            dir.path(),
            &["config", "--add", "user.name", "Ada Lovelace"],
        );
        git(dir.path(), &["config", "user.email", "ada@example.com"]);
        // The repository's values come after the user's global ones, so they win too.
        assert_eq!(
            repo.start_identity().finish(),
            Some(("Ada Lovelace".to_string(), "ada@example.com".to_string()))
        );
    }

    #[test]
    fn a_git_lock_is_removed_only_when_no_process_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        let repo = Repo::discover(dir.path()).unwrap();
        assert_eq!(repo.clear_stale_index_lock(), None, "no lock");
        let lock = dir.path().join(".git/index.lock");
        let held = std::fs::File::create(&lock).unwrap();
        assert_eq!(repo.clear_stale_index_lock(), None, "this process holds it");
        assert!(lock.exists());
        drop(held);
        assert_eq!(repo.clear_stale_index_lock(), Some(lock.clone()));
        assert!(!lock.exists());
    }
}
