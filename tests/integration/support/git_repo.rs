//! Scratch git repositories, driven with the real `git` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// A temporary git repository on branch `main`, with a local identity so commits work under a
/// fresh `HOME` that has no global git config.
pub struct TempRepo {
    dir: TempDir,
}

impl TempRepo {
    /// An empty repository (no commits).
    pub fn new() -> TempRepo {
        let dir = tempfile::Builder::new()
            .prefix("kmilestone-repo-")
            .tempdir()
            .expect("temp repo dir");
        let repo = TempRepo { dir };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.name", "kmilestone test"]);
        repo.git(&["config", "user.email", "test@kmilestone.invalid"]);
        // A developer's global signing setup must not make test commits prompt or fail.
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo
    }

    /// A repository whose first commit holds `files` (relative path, content).
    pub fn with_files(files: &[(&str, &str)]) -> TempRepo {
        let repo = TempRepo::new();
        for (path, content) in files {
            repo.write(path, content);
        }
        repo.commit_all("Initial commit");
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Absolute path of a file in the repository (the form the CLI's file tools need).
    pub fn file(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Absolute path as a `String`, for tool inputs in a script.
    pub fn file_str(&self, rel: &str) -> String {
        self.file(rel)
            .to_str()
            .expect("UTF-8 temp path")
            .to_string()
    }

    pub fn write(&self, rel: &str, content: &str) {
        let path = self.file(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent dirs");
        }
        std::fs::write(&path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    pub fn read(&self, rel: &str) -> String {
        let path = self.file(rel);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    /// Run git in the repository; panics on failure, returns trimmed stdout.
    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(self.dir.path())
            // Only the repository's own config counts, whatever HOME the test process has.
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Subjects of the commits on HEAD, newest first (empty for an unborn branch).
    pub fn log_subjects(&self) -> Vec<String> {
        if !self.has_commits() {
            return Vec::new();
        }
        self.git(&["log", "--format=%s"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn has_commits(&self) -> bool {
        Command::new("git")
            .args(["rev-parse", "--verify", "-q", "HEAD"])
            .current_dir(self.dir.path())
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// `git status --porcelain`: empty when the work tree is clean.
    pub fn status(&self) -> String {
        self.git(&["status", "--porcelain"])
    }
}
