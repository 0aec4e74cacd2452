//! Finding the pinned Claude Code CLI, the environment that keeps it offline and pointed at the
//! mock, and running it under a timeout.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use super::mock_anthropic::MockAnthropic;

/// Overrides where the tests look for the CLI.
pub const CLAUDE_OVERRIDE_VAR: &str = "KMILESTONE_TEST_CLAUDE";

/// Where `.ci/install-claude` puts the pinned CLI.
pub fn installed_claude_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".claude-cli/node_modules/.bin/claude")
}

/// The CLI to test against, or `None` when it is not installed and the test should be skipped.
///
/// In CI (`CI=true`) a missing CLI fails the test: there these tests must run, not skip.
#[track_caller]
pub fn find_claude() -> Option<PathBuf> {
    let (path, origin) = match std::env::var_os(CLAUDE_OVERRIDE_VAR) {
        Some(p) if !p.is_empty() => (PathBuf::from(p), format!("${CLAUDE_OVERRIDE_VAR}")),
        _ => (
            installed_claude_path(),
            "the project-local install".to_string(),
        ),
    };
    if path.is_file() {
        return Some(path);
    }
    let why = format!("Claude Code CLI not found at {} ({origin})", path.display());
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}; CI must run the real-client tests: run .ci/install-claude first");
    }
    eprintln!(
        "SKIPPED: {why}. Install it with `.ci/install-claude` (or set ${CLAUDE_OVERRIDE_VAR})."
    );
    None
}

/// `let claude = require_claude!();` — the CLI's path, or return from the test (skip) when absent.
#[macro_export]
macro_rules! require_claude {
    () => {
        match $crate::support::claude::find_claude() {
            Some(path) => path,
            None => return,
        }
    };
}

/// The environment of one CLI run: a fresh `HOME` (config, credentials and session transcripts
/// live there, so runs never see the developer's own or each other's), the mock as API, and every
/// switch that stops traffic to other hosts. Keep it alive across `--resume`: sessions are stored
/// under its `HOME`.
pub struct ClaudeEnv {
    home: TempDir,
    vars: Vec<(String, OsString)>,
}

/// Inherited variables with these prefixes are dropped: a developer's real credentials, base URL
/// or model settings must not leak into a test.
const SCRUBBED_PREFIXES: &[&str] = &["ANTHROPIC_", "CLAUDE_", "CLAUDECODE", "OTEL_", "DISABLE_"];

impl ClaudeEnv {
    pub fn new(mock: &MockAnthropic) -> ClaudeEnv {
        let home = tempfile::Builder::new()
            .prefix("claude-home-")
            .tempdir()
            .expect("temp HOME");
        let h = home.path().as_os_str().to_owned();
        let vars: Vec<(String, OsString)> = vec![
            ("HOME".into(), h.clone()),
            (
                "XDG_CONFIG_HOME".into(),
                home.path().join(".config").into_os_string(),
            ),
            (
                "XDG_CACHE_HOME".into(),
                home.path().join(".cache").into_os_string(),
            ),
            (
                "XDG_DATA_HOME".into(),
                home.path().join(".local/share").into_os_string(),
            ),
            ("ANTHROPIC_BASE_URL".into(), mock.base_url().into()),
            ("ANTHROPIC_API_KEY".into(), "sk-ant-mock-key".into()),
            (
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                "1".into(),
            ),
            ("DISABLE_AUTOUPDATER".into(), "1".into()),
            ("DISABLE_TELEMETRY".into(), "1".into()),
            ("DISABLE_ERROR_REPORTING".into(), "1".into()),
            // Tests run as root on CI machines; the CLI refuses bypass modes as root without it.
            ("IS_SANDBOX".into(), "1".into()),
        ];
        ClaudeEnv { home, vars }
    }

    /// Cap the CLI's own retries of 429/5xx/529 (default 10, which with back-off takes minutes).
    pub fn max_retries(self, n: u32) -> ClaudeEnv {
        self.var("CLAUDE_CODE_MAX_RETRIES", n.to_string())
    }

    /// Set one more variable (replacing an earlier value).
    pub fn var(mut self, key: impl Into<String>, value: impl Into<OsString>) -> ClaudeEnv {
        let key = key.into();
        self.vars.retain(|(k, _)| *k != key);
        self.vars.push((key, value.into()));
        self
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The variables to set; everything in [`ClaudeEnv::removed`] must be unset.
    pub fn vars(&self) -> &[(String, OsString)] {
        &self.vars
    }

    /// Inherited variable names to unset (credentials and settings of the real user).
    pub fn removed(&self) -> Vec<OsString> {
        std::env::vars_os()
            .map(|(k, _)| k)
            .filter(|k| {
                let k = k.to_string_lossy();
                SCRUBBED_PREFIXES.iter().any(|p| k.starts_with(p))
                    && !self.vars.iter().any(|(v, _)| *v == *k)
            })
            .collect()
    }

    /// Apply to a command: for the CLI itself, or for kmilestone running it.
    pub fn apply(&self, cmd: &mut Command) {
        for k in self.removed() {
            cmd.env_remove(k);
        }
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
    }
}

/// How one CLI run ended.
#[derive(Debug)]
pub struct ClaudeRun {
    pub status: ExitStatus,
    /// Every stdout line that parsed as JSON, in order.
    pub events: Vec<Value>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl ClaudeRun {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The final `result` line; panics (with the output) if there is none.
    #[track_caller]
    pub fn result(&self) -> &Value {
        self.events
            .iter()
            .rev()
            .find(|e| e["type"] == "result")
            .unwrap_or_else(|| panic!("no result line\n{}", self.describe()))
    }

    /// The `system/init` line's session id.
    #[track_caller]
    pub fn session_id(&self) -> String {
        self.events
            .iter()
            .find(|e| e["type"] == "system" && e["subtype"] == "init")
            .and_then(|e| e["session_id"].as_str())
            .unwrap_or_else(|| panic!("no system/init line\n{}", self.describe()))
            .to_string()
    }

    /// `tool_use` blocks of the assistant lines, as `(name, input)`.
    pub fn tool_uses(&self) -> Vec<(String, Value)> {
        self.events
            .iter()
            .filter(|e| e["type"] == "assistant")
            .filter_map(|e| e["message"]["content"].as_array())
            .flatten()
            .filter(|b| b["type"] == "tool_use")
            .map(|b| {
                (
                    b["name"].as_str().unwrap_or_default().to_string(),
                    b["input"].clone(),
                )
            })
            .collect()
    }

    /// Exit status, stderr and stdout, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "status: {:?} after {:.1?}\n--- stderr ---\n{}\n--- stdout ---\n{}",
            self.status, self.elapsed, self.stderr, self.stdout
        )
    }
}

/// A CLI invocation: `claude -p --output-format stream-json --verbose <args>`, prompt on stdin.
pub struct ClaudeCommand<'a> {
    binary: &'a Path,
    env: &'a ClaudeEnv,
    cwd: &'a Path,
    args: Vec<OsString>,
    timeout: Duration,
}

/// Long enough for a cold start of the CLI on a busy 2-core machine, short enough that a stuck run
/// fails the test instead of hanging the suite.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

impl<'a> ClaudeCommand<'a> {
    pub fn new(binary: &'a Path, env: &'a ClaudeEnv, cwd: &'a Path) -> ClaudeCommand<'a> {
        ClaudeCommand {
            binary,
            env,
            cwd,
            args: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> ClaudeCommand<'a> {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> ClaudeCommand<'a>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> ClaudeCommand<'a> {
        self.timeout = timeout;
        self
    }

    /// Run to completion with `prompt` on stdin; panics (killing the CLI) past the timeout.
    #[track_caller]
    pub fn run(self, prompt: &str) -> ClaudeRun {
        let mut cmd = Command::new(self.binary);
        cmd.args(["-p", "--output-format", "stream-json", "--verbose"])
            .args(&self.args)
            .current_dir(self.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.env.apply(&mut cmd);
        run_with_timeout(cmd, prompt.as_bytes(), self.timeout)
    }
}

/// Spawn `cmd` in its own process group, feed `stdin` and close it (when `cmd` has a piped stdin),
/// collect output, and kill the whole group (the CLI and the shells its tools started) if it
/// outlives `timeout`.
#[track_caller]
pub fn run_with_timeout(mut cmd: Command, stdin: &[u8], timeout: Duration) -> ClaudeRun {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);

    // Closing stdin after the prompt matters: with an open, silent pipe the CLI waits and warns.
    // A command set up with its stdin elsewhere (e.g. `Stdio::null()`) gets nothing written.
    let input = child.stdin.take();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(mut input) = input {
            let _ = input.write_all(&data);
        }
    });
    // Drained on their own threads so a full pipe never blocks the child.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });

    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
            break child.wait().expect("wait for killed child");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Tool shells left in the group would keep the pipes open and the readers waiting.
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    let elapsed = start.elapsed();
    let _ = writer.join();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let events = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let run = ClaudeRun {
        status,
        events,
        stdout,
        stderr,
        elapsed,
    };
    assert!(
        !timed_out,
        "{:?} killed after {timeout:?}\n{}",
        cmd.get_program(),
        run.describe()
    );
    run
}
