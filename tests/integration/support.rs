//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `kmilestone` binary under test.
pub fn kmilestone() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kmilestone"))
}

/// `../shared/corpus`, read in place.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
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
