//! A scratch project for scenario tests: a git repository with a milestone plan, and the fake
//! `claude` and `codex` (tests/fake_agent/fake_claude.py, fake_codex.py) first on PATH, scripted
//! per test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

/// A three-task plan used by most scenarios.
pub const PLAN_3: &str = "# Milestone 1: Greeter\n\n## Task 1.1: Greeting module\n\n**Type:** CODING\n\nWrite greet.txt.\n\n**Acceptance Criteria:**\n- [ ] greet.txt exists\n\n## Task 1.2: Farewell module\n\n**Type:** CODING\n\nWrite bye.txt.\n\n**Acceptance Criteria:**\n- [ ] bye.txt exists\n\n## Task 1.3: Validate\n\n**Type:** VALIDATION\n\nRun the e2e scenario.\n\n**Acceptance Criteria:**\n- [ ] scenario passes\n";

pub const PLAN_NAME: &str = "M1_greeter.md";
pub const HANDOFF: &str = "HANDOFF_M1.md";

pub struct Project {
    dir: TempDir,
    bin: PathBuf,
    fake_dir: PathBuf,
}

/// One finished `kmilestone` run.
pub struct Run {
    pub output: Output,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// Everything the run printed, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code(),
            self.stdout,
            self.stderr
        )
    }
}

/// The action list of an invocation that does a task properly: append its Complete section
/// (with an E2E line, harmless for non-validation tasks), write a file, commit.
pub fn good_actions() -> Value {
    serde_json::json!([
        {"write": "work/task-{task}.txt", "content": "done {task}\n"},
        {"append": HANDOFF, "text": "\n## Task {task} Complete: done\n\nNotes for the next task about {task}.\n**E2E:** greeter-e2e — PASSED\n"},
        {"sh": "git add -A && git commit -qm 'Task {task}'"}
    ])
}

impl Project {
    pub fn new(plan: &str) -> Project {
        Project::with_config(plan, "[gates]\ncommands = [\"true\"]\n")
    }

    /// A project whose `kmilestone.toml` is `config`.
    pub fn with_config(plan: &str, config: &str) -> Project {
        let dir = tempfile::Builder::new()
            .prefix("kmilestone-test")
            .tempdir()
            .unwrap();
        let bin = dir.path().join("bin");
        let fake_dir = dir.path().join("fake");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&fake_dir).unwrap();
        let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake_agent/fake_claude.py");
        std::os::unix::fs::symlink(&fake, bin.join("claude")).unwrap();
        let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake_agent/fake_codex.py");
        std::os::unix::fs::symlink(&fake, bin.join("codex")).unwrap();
        let project = Project { dir, bin, fake_dir };
        std::fs::create_dir_all(project.root()).unwrap();
        project.git(&["init", "-q", "-b", "main"]);
        project.git(&["config", "user.email", "test@example.com"]);
        project.git(&["config", "user.name", "Test"]);
        project.git(&["config", "commit.gpgsign", "false"]);
        project.write(PLAN_NAME, plan);
        project.write("kmilestone.toml", config);
        project.commit_all("Plan");
        project.scenario(serde_json::json!({"default": {"actions": good_actions()}}));
        project
    }

    /// Puts an executable script on the PATH the runs see (next to the fake `claude`).
    pub fn write_executable(&self, name: &str, script: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.bin.join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    pub fn write(&self, relative: &str, content: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap_or_default()
    }

    pub fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .arg("-C")
            .arg(self.root())
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-qm", message]);
    }

    /// Commit subjects, oldest first.
    pub fn log(&self) -> Vec<String> {
        self.git(&["log", "--reverse", "--format=%s"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Scripts the fake agent (see tests/fake_agent/fake_claude.py and fake_codex.py).
    pub fn scenario(&self, scenario: Value) {
        std::fs::write(
            self.fake_dir.join("scenario.json"),
            serde_json::to_string_pretty(&scenario).unwrap(),
        )
        .unwrap();
    }

    /// Every invocation of the fake agent so far: argv, stdin, session, resume, task.
    pub fn calls(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.fake_dir.join("calls"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
            .collect()
    }

    /// `kmilestone <args>` in the repository, with the fake agent first on PATH and short limits.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kmilestone"));
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        command
            .args(args)
            .current_dir(self.root())
            .env("PATH", path)
            .env("FAKE_CLAUDE_DIR", &self.fake_dir)
            .env("FAKE_CLAUDE_SCENARIO", self.fake_dir.join("scenario.json"))
            .env("FAKE_CODEX_DIR", &self.fake_dir)
            .env("FAKE_CODEX_SCENARIO", self.fake_dir.join("scenario.json"))
            .env("KMILESTONE_IDLE_TIMEOUT", "20s")
            .env("KMILESTONE_TASK_TIMEOUT", "60s")
            .env("KMILESTONE_RESULT_GRACE", "2s")
            .env("KMILESTONE_KILL_GRACE", "1s")
            .env("NO_COLOR", "1")
            .env("KMILESTONE_STATE_DIR", self.state_base())
            .env_remove("KMILESTONE_CLAUDE_BIN")
            .env_remove("KMILESTONE_CODEX_BIN")
            .env_remove("KMILESTONE_AGENT")
            .env_remove("KMILESTONE_RETRIES")
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().unwrap();
        Run {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            output,
        }
    }

    /// `kmilestone run M1_greeter.md <args>`.
    pub fn kmilestone_run(&self, args: &[&str]) -> Run {
        let mut all = vec!["run", PLAN_NAME];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// `kmilestone <args>` with stdin, stdout and stderr on a pseudo-terminal (`script`), as a
    /// person at a terminal runs it; `typed` is what they type (buffered by the terminal until
    /// read). Returns the exit status and everything the terminal showed.
    pub fn run_on_a_terminal(
        &self,
        args: &[&str],
        typed: &str,
        ci: bool,
    ) -> (std::process::ExitStatus, String) {
        use std::io::Write as _;
        let base = self.command(&[]);
        let mut line = env!("CARGO_BIN_EXE_kmilestone").to_string();
        for arg in args {
            line.push_str(&format!(" '{}'", arg.replace('\'', "'\\''")));
        }
        let mut script = Command::new("script");
        script
            .args(["-q", "-e", "-c", &line, "/dev/null"])
            .current_dir(self.root());
        for (key, value) in base.get_envs() {
            match value {
                Some(value) => script.env(key, value),
                None => script.env_remove(key),
            };
        }
        for name in kmilestone::env_vars::CI_MARKERS {
            script.env_remove(name);
        }
        if ci {
            script.env("CI", "true");
        }
        script.env("TERM", "xterm");
        let mut child = script
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script(1) runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(typed.as_bytes())
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().ok();
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let output = child.wait_with_output().unwrap();
        let shown = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
        (output.status, shown)
    }

    /// Where this project's runs keep every repository's state (`KMILESTONE_STATE_DIR`).
    pub fn state_base(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The state folder of milestone `id` (there is one repository under the base).
    pub fn state_dir_of(&self, id: &str) -> PathBuf {
        let repos: Vec<PathBuf> = std::fs::read_dir(self.state_base())
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        match repos.as_slice() {
            [repo] => repo.join(id),
            [] => self.state_base().join("(no state yet)").join(id),
            more => panic!("one repository's state expected: {more:?}"),
        }
    }

    /// The state folder of M1.
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir_of("M1")
    }

    /// A file in M1's state folder (`state.json`, `report.md`, `runs`…).
    pub fn state_path(&self, name: &str) -> PathBuf {
        self.state_dir().join(name)
    }

    /// The text of a file in M1's state folder, or empty when it is absent.
    pub fn read_state(&self, name: &str) -> String {
        std::fs::read_to_string(self.state_path(name)).unwrap_or_default()
    }

    /// M1's state as kmilestone reads it (`state.json` with the saves logged after it).
    pub fn state(&self) -> Value {
        super::state::folded(
            &self.read_state("state.json"),
            &self.read_state("state.log"),
        )
    }
}
