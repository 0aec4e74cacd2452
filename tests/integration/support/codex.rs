//! Finding the pinned Codex CLI, the environment that keeps it offline and pointed at the mock,
//! and running it under a timeout.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use kmilestone::agent::AgentCommand;
use serde_json::Value;
use tempfile::TempDir;

use super::claude::run_with_timeout;
use super::mock_openai::MockOpenAi;

/// Overrides where the tests look for the CLI.
pub const CODEX_OVERRIDE_VAR: &str = "KMILESTONE_TEST_CODEX";

/// The variable the mock provider reads its API key from (`env_key` in its config).
pub const MOCK_KEY_VAR: &str = "KMILESTONE_MOCK_OPENAI_KEY";

/// Where `.ci/install-codex` puts the pinned CLI.
pub fn installed_codex_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".codex-cli/node_modules/.bin/codex")
}

/// The CLI to test against, or `None` when it is not installed and the test should be skipped.
///
/// In CI (`CI=true`) a missing CLI fails the test: there these tests must run, not skip.
#[track_caller]
pub fn find_codex() -> Option<PathBuf> {
    let (path, origin) = match std::env::var_os(CODEX_OVERRIDE_VAR) {
        Some(p) if !p.is_empty() => (PathBuf::from(p), format!("${CODEX_OVERRIDE_VAR}")),
        _ => (
            installed_codex_path(),
            "the project-local install".to_string(),
        ),
    };
    if path.is_file() {
        return Some(path);
    }
    let why = format!("Codex CLI not found at {} ({origin})", path.display());
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}; CI must run the real-client tests: run .ci/install-codex first");
    }
    eprintln!(
        "SKIPPED: {why}. Install it with `.ci/install-codex` (or set ${CODEX_OVERRIDE_VAR})."
    );
    None
}

/// `let codex = require_codex!();` — the CLI's path, or return from the test (skip) when absent.
#[macro_export]
macro_rules! require_codex {
    () => {
        match $crate::support::codex::find_codex() {
            Some(path) => path,
            None => return,
        }
    };
}

/// Inherited variables with these prefixes are dropped: a developer's real key, base URL or
/// settings must not reach a test.
const SCRUBBED_PREFIXES: &[&str] = &["OPENAI_", "CODEX_", "AZURE_OPENAI"];

/// The environment of one CLI run: a fresh `CODEX_HOME` whose `config.toml` names the mock as the
/// model provider (so the command line under test is exactly the adapter's), a fresh `HOME`, and
/// the mock's key. Keep it alive across `resume`: threads are stored under its `CODEX_HOME`.
///
/// `CODEX_HOME` lives under the build's temp dir, not `/tmp`: Codex refuses to install its
/// sandbox helper under a temp dir, and then every sandboxed command fails. (In a checkout that
/// is itself under `/tmp`, it lives under `~/.cache/kmilestone-tests` instead.)
pub struct CodexEnv {
    dir: TempDir,
    base_url: String,
    request_max_retries: Option<u32>,
    stream_max_retries: Option<u32>,
    vars: Vec<(String, OsString)>,
}

/// A folder for scratch `CODEX_HOME`s that is not under the system's temp dir: the build's temp
/// dir, unless the checkout is under the temp dir too.
fn outside_the_temp_dir() -> std::path::PathBuf {
    let target = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let temp = std::env::temp_dir();
    let temp = temp.canonicalize().unwrap_or(temp);
    if !target
        .canonicalize()
        .unwrap_or(target.clone())
        .starts_with(&temp)
    {
        return target;
    }
    let home = std::env::var_os("HOME").expect("HOME, for a CODEX_HOME outside the temp dir");
    let cache = std::path::Path::new(&home).join(".cache/kmilestone-tests");
    std::fs::create_dir_all(&cache).expect("create ~/.cache/kmilestone-tests");
    cache
}

impl CodexEnv {
    pub fn new(mock: &MockOpenAi) -> CodexEnv {
        let dir = tempfile::Builder::new()
            .prefix("codex-env-")
            .tempdir_in(outside_the_temp_dir())
            .expect("temp dir for CODEX_HOME");
        CodexEnv::in_dir(dir, mock)
    }

    /// `CODEX_HOME` under the system temp dir (`/tmp`), where Codex cannot sandbox anything.
    pub fn under_tmp(mock: &MockOpenAi) -> CodexEnv {
        let dir = tempfile::Builder::new()
            .prefix("codex-env-")
            .tempdir_in("/tmp")
            .expect("temp dir under /tmp");
        CodexEnv::in_dir(dir, mock)
    }

    fn in_dir(dir: TempDir, mock: &MockOpenAi) -> CodexEnv {
        let home = dir.path().join("home");
        let codex_home = dir.path().join("codex-home");
        std::fs::create_dir_all(&home).expect("create HOME");
        std::fs::create_dir_all(&codex_home).expect("create CODEX_HOME");
        let vars = vec![
            ("HOME".into(), home.into_os_string()),
            ("CODEX_HOME".into(), codex_home.into_os_string()),
            (MOCK_KEY_VAR.into(), "sk-mock-key".into()),
        ];
        let env = CodexEnv {
            dir,
            base_url: mock.base_url(),
            request_max_retries: None,
            stream_max_retries: None,
            vars,
        };
        env.write_config();
        env
    }

    /// Cap Codex's retries: `request` HTTP retries per attempt (default 4) and `stream`
    /// reconnects (default 5). With the defaults a persistent 500 takes 30 requests and ~25 s.
    pub fn retries(mut self, request: u32, stream: u32) -> CodexEnv {
        self.request_max_retries = Some(request);
        self.stream_max_retries = Some(stream);
        self.write_config();
        self
    }

    /// Set one more variable (replacing an earlier value).
    pub fn var(mut self, key: impl Into<String>, value: impl Into<OsString>) -> CodexEnv {
        let key = key.into();
        self.vars.retain(|(k, _)| *k != key);
        self.vars.push((key, value.into()));
        self
    }

    /// Drop the mock's API key, as for a user who never set one.
    pub fn without_api_key(mut self) -> CodexEnv {
        self.vars.retain(|(k, _)| k != MOCK_KEY_VAR);
        self
    }

    pub fn codex_home(&self) -> PathBuf {
        self.dir.path().join("codex-home")
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn write_config(&self) {
        // `analytics` and `plugins` off: both would call outside hosts.
        let mut provider = format!(
            "name = \"mock\"\nbase_url = \"{}\"\nwire_api = \"responses\"\nenv_key = \"{MOCK_KEY_VAR}\"\n",
            self.base_url
        );
        if let Some(n) = self.request_max_retries {
            provider.push_str(&format!("request_max_retries = {n}\n"));
        }
        if let Some(n) = self.stream_max_retries {
            provider.push_str(&format!("stream_max_retries = {n}\n"));
        }
        let config = format!(
            "model = \"gpt-5.5\"\nmodel_provider = \"mock\"\n\n[analytics]\nenabled = false\n\n[features]\nplugins = false\n\n[model_providers.mock]\n{provider}"
        );
        std::fs::write(self.codex_home().join("config.toml"), config).expect("write config.toml");
    }

    /// Apply to a command: for the CLI itself, or for kmilestone running it.
    pub fn apply(&self, cmd: &mut Command) {
        for (k, _) in std::env::vars_os() {
            let name = k.to_string_lossy();
            if SCRUBBED_PREFIXES.iter().any(|p| name.starts_with(p)) || name == MOCK_KEY_VAR {
                cmd.env_remove(&k);
            }
        }
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
    }

    /// Run `command` (the adapter's command line) in `cwd`, its stdin written and closed.
    #[track_caller]
    pub fn run(&self, command: &AgentCommand, cwd: &Path) -> CodexRun {
        self.run_args(&command.program, &command.args, &command.stdin, cwd)
    }

    /// Run the CLI with any arguments, e.g. ones the adapter would never build.
    #[track_caller]
    pub fn run_args(&self, binary: &Path, args: &[OsString], stdin: &[u8], cwd: &Path) -> CodexRun {
        let mut cmd = Command::new(binary);
        cmd.args(args)
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.apply(&mut cmd);
        let run = run_with_timeout(cmd, stdin, DEFAULT_TIMEOUT);
        CodexRun {
            status: run.status,
            events: run.events,
            stdout: run.stdout,
            stderr: run.stderr,
            elapsed: run.elapsed,
        }
    }
}

/// Long enough for a cold start on a busy 2-core machine, short enough that a stuck run fails the
/// test instead of hanging the suite.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How one CLI run ended.
#[derive(Debug)]
pub struct CodexRun {
    pub status: ExitStatus,
    /// Every stdout line that parsed as JSON, in order.
    pub events: Vec<Value>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl CodexRun {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The `thread.started` line's thread id.
    #[track_caller]
    pub fn thread_id(&self) -> String {
        self.events
            .iter()
            .find(|e| e["type"] == "thread.started")
            .and_then(|e| e["thread_id"].as_str())
            .unwrap_or_else(|| panic!("no thread.started line\n{}", self.describe()))
            .to_string()
    }

    /// The last line, which ends every turn: `turn.completed` or `turn.failed`.
    #[track_caller]
    pub fn last(&self) -> &Value {
        self.events
            .last()
            .unwrap_or_else(|| panic!("no JSON line\n{}", self.describe()))
    }

    /// `(type, item.type, item.status)` of every line, e.g. `("item.completed",
    /// "command_execution", "failed")`: the shape of the stream without ids and paths.
    pub fn shape(&self) -> Vec<(String, String, String)> {
        self.events
            .iter()
            .map(|e| {
                let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
                (
                    text(&e["type"]),
                    text(&e["item"]["type"]),
                    text(&e["item"]["status"]),
                )
            })
            .collect()
    }

    /// Completed items of this type.
    pub fn items(&self, item_type: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == item_type)
            .map(|e| &e["item"])
            .collect()
    }

    /// The `message` of every top-level `error` line.
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e["type"] == "error")
            .filter_map(|e| e["message"].as_str().map(str::to_string))
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
