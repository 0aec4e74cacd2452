//! Helpers shared by the integration tests: the scripted Anthropic API mock, the real Claude Code
//! CLI harness, and scratch git repositories.
//!
//! A test against the real CLI:
//!
//! ```ignore
//! let claude = require_claude!(); // skips (or fails in CI) when the CLI is not installed
//! let repo = TempRepo::with_files(&[("README.md", "# demo\n")]);
//! let file = repo.file_str("a.txt"); // file tools need absolute paths
//! let mock = MockAnthropic::start(Script::new().turns([
//!     Turn::write(&file, "hi\n").expect_prompt("Task 1"),
//!     Turn::bash("git add -A && git commit -qm 'Task 1'").expect_tool_result("File created"),
//!     Turn::reply("Done."),
//! ]));
//! let env = ClaudeEnv::new(&mock).max_retries(1); // fresh HOME, offline, pointed at the mock
//! // Either drive the CLI directly …
//! let run = ClaudeCommand::new(&claude, &env, repo.path()).args(["--resume", &id]).run("Task 1");
//! // … or kmilestone, with `env.apply(&mut cmd)` and the CLI path in its configuration.
//! mock.assert_script_done();
//! assert!(mock.requests()[0].first_user_texts().last().unwrap().contains("Task 1"));
//! ```

// Each test module uses a different subset of these helpers.
#![allow(dead_code)]

mod anthropic_request;
pub mod background;
pub mod claude;
pub mod codex;
pub mod git_repo;
pub mod mock_anthropic;
pub mod mock_openai;
mod openai_request;
mod openai_sse;
pub mod pty;
mod sse;
pub mod state;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `kmilestone` binary under test.
pub fn kmilestone() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kmilestone"))
}

/// What a test that reads a folder of `../shared` does about it.
#[derive(Debug, PartialEq, Eq)]
pub enum SharedDir {
    /// The folder is there: read it.
    Read(PathBuf),
    /// The folder is absent and this is no CI run: pass, saying what was skipped.
    Skip(String),
    /// The folder is absent in CI: fail, because a CI run must not pass by reading nothing.
    Fail(String),
}

/// The rule for the folders of `../shared`: read when present; when absent, skip with a note
/// (the suite passes on a fresh clone with nothing beside it), except under `CI=true`.
pub fn shared_dir_decision(dir: &Path, present: bool, ci: bool) -> SharedDir {
    match (present, ci) {
        (true, _) => SharedDir::Read(dir.to_path_buf()),
        (false, false) => SharedDir::Skip(format!(
            "skipped: {} is not there (set CI=true to make its absence a failure)",
            dir.display()
        )),
        (false, true) => SharedDir::Fail(format!(
            "{} is not there, and under CI=true the tests that read it must run",
            dir.display()
        )),
    }
}

/// Whether this is a CI run: `CI=true`, as CI services set it (the same test as the real-client
/// tests use).
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `../shared/corpus`, read in place, or `None` after one skip line when it is absent (a failure
/// under `CI=true`).
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    match shared_dir_decision(&dir, dir.is_dir(), is_ci()) {
        SharedDir::Read(dir) => Some(dir),
        SharedDir::Skip(note) => {
            // Straight to the stream, not through the test harness's capture: a skip must show.
            use std::io::Write;
            writeln!(std::io::stderr(), "{note}").ok();
            None
        }
        SharedDir::Fail(message) => panic!("{message}"),
    }
}

/// Runs a command and returns its output, with stdout and stderr as text.
pub fn run(command: &mut Command) -> (Output, String, String) {
    let output = command.output().expect("run kmilestone");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

/// A temporary folder holding the files a test writes.
pub struct Dir {
    pub dir: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Writes `contents` to `name` and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write test file");
        path
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `kmilestone` with `args` in this folder.
    pub fn kmilestone(&self, args: &[&str]) -> (i32, String, String) {
        let (output, stdout, stderr) = run(kmilestone().current_dir(self.path()).args(args));
        (output.status.code().expect("exit code"), stdout, stderr)
    }
}

pub mod project;
mod serve;
