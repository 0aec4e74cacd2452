//! Git, through the `git` binary so that the user's hooks, signing and config apply.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git could not be run: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("`git {args}` failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("{0} is not inside a git repository")]
    NotARepository(PathBuf),
}

/// A git working tree.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
}

fn git_output(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::Spawn)?;
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
    pub fn discover(path: &Path) -> Result<Repo, GitError> {
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

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn git(&self, args: &[&str]) -> Result<String, GitError> {
        git_output(&self.root, args)
    }

    /// The commit HEAD points at, or `None` in a repository without commits.
    pub fn head(&self) -> Result<Option<String>, GitError> {
        match self.git(&["rev-parse", "--verify", "--quiet", "HEAD"]) {
            Ok(sha) => Ok(Some(sha.trim().to_string())),
            Err(GitError::Failed { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The current branch name, if HEAD is on one.
    pub fn branch(&self) -> Option<String> {
        self.git(&["symbolic-ref", "--quiet", "--short", "HEAD"])
            .ok()
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
    }

    /// Files with uncommitted changes (staged, unstaged or untracked), as `git status` names them.
    pub fn dirty_files(&self) -> Result<Vec<String>, GitError> {
        let output = self.git(&["status", "--porcelain=v1", "-z", "--untracked-files=all"])?;
        let mut files = Vec::new();
        let mut entries = output.split('\0').filter(|e| !e.is_empty());
        while let Some(entry) = entries.next() {
            if entry.len() < 4 {
                continue;
            }
            let (status, path) = entry.split_at(3);
            // A rename is followed by its source path, which is not a separate change.
            if status.starts_with('R') || status.starts_with('C') {
                entries.next();
            }
            files.push(path.to_string());
        }
        Ok(files)
    }

    /// Commits everything in the working tree with `message`; returns the new HEAD.
    pub fn commit_all(&self, message: &str) -> Result<String, GitError> {
        self.git(&["add", "-A"])?;
        self.git(&["commit", "--quiet", "-m", message])?;
        Ok(self.head()?.unwrap_or_default())
    }

    /// Commits only `path` (relative to the root or absolute).
    pub fn commit_path(&self, path: &Path, message: &str) -> Result<(), GitError> {
        let path = path.to_string_lossy();
        self.git(&["add", "--", &path])?;
        self.git(&["commit", "--quiet", "-m", message, "--", &path])?;
        Ok(())
    }

    /// One-line summaries of the commits after `base` (all commits when `base` is `None`), oldest first.
    pub fn commits_since(&self, base: Option<&str>) -> Result<Vec<String>, GitError> {
        let range = match base {
            Some(base) => format!("{base}..HEAD"),
            None => "HEAD".to_string(),
        };
        if self.head()?.is_none() {
            return Ok(Vec::new());
        }
        let output = self.git(&["log", "--reverse", "--format=%h %s", &range])?;
        Ok(output.lines().map(str::to_string).collect())
    }

    /// Files changed between `base` and the working tree, plus untracked files.
    pub fn changed_files_since(&self, base: Option<&str>) -> Result<Vec<String>, GitError> {
        let mut files: Vec<String> = match base {
            Some(base) => self
                .git(&["diff", "--name-only", "-z", base])?
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
        files.extend(
            self.git(&["ls-files", "--others", "--exclude-standard", "-z"])?
                .split('\0')
                .filter(|f| !f.is_empty())
                .map(str::to_string),
        );
        files.sort();
        files.dedup();
        Ok(files)
    }
}
