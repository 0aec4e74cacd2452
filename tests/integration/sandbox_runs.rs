//! `kmilestone run` with the real Claude Code CLI under the default settings (no permission key
//! in kmilestone.toml): the agent's commands run in Claude Code's sandbox and the gates in
//! kmilestone's own. A scripted agent does a real task and also tries what an untrusted one
//! would; the tests look at what really happened: marker files, hits on a local server, secrets
//! in what the mock received, the commits.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::real_sandbox::{LocalServer, PlacedRepo, home_env, path_without_bwrap, user_home};
use crate::require_claude;
use crate::support::claude::{ClaudeEnv, ClaudeRun, run_with_timeout};
use crate::support::mock_anthropic::{MockAnthropic, RecordedRequest, Script, ToolResult, Turn};

const PLAN_NAME: &str = "M1_made.md";
const PLAN: &str = "# Milestone 1: Made\n\n## Task 1.1: Make the file\n\n**Type:** CODING\n\nWrite made.txt with `made` and test it.\n\n**Acceptance Criteria:**\n- [ ] made.txt exists\n";
const HANDOFF: &str = "HANDOFF_M1.md";
const TEST_MADE_PY: &str = "import unittest\n\n\nclass Made(unittest.TestCase):\n    def test_made(self):\n        with open('made.txt') as f:\n            self.assertEqual(f.read(), 'made\\n')\n\n\nif __name__ == '__main__':\n    unittest.main()\n";

const SSH_SECRET: &str = "ssh-secret-60d1f7";
const NOTES_SECRET: &str = "notes-secret-2c9a41";

/// A sandboxed session makes a dozen tool calls, each in a fresh bubblewrap sandbox, then the
/// gates run.
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// A home directory with secrets, the repository in it (where most repositories live), a folder
/// outside both for marker files, and a local server.
struct Scene {
    home_dir: tempfile::TempDir,
    outside: tempfile::TempDir,
    server: LocalServer,
    repo: PlacedRepo,
    state: tempfile::TempDir,
}

impl Scene {
    /// `gates` for `[gates] commands`, the CLI as `[agent.claude] binary`; nothing else.
    fn new(claude: &Path, gates: &dyn Fn(&Scene) -> Vec<String>) -> Scene {
        let home_dir = user_home();
        let home = home_dir.path();
        std::fs::create_dir_all(home.join(".ssh")).expect(".ssh");
        std::fs::write(home.join(".ssh/id_rsa"), SSH_SECRET).expect("key");
        // Not a known secret: hidden only because the whole home is.
        std::fs::write(home.join("notes.txt"), NOTES_SECRET).expect("notes");
        let repo = PlacedRepo::new(
            home.join("code/made"),
            &[(PLAN_NAME, PLAN), ("tests/test_made.py", TEST_MADE_PY)],
        );
        let scene = Scene {
            home_dir,
            outside: tempfile::tempdir().expect("outside dir"),
            server: LocalServer::start(),
            repo,
            state: tempfile::tempdir().expect("state dir"),
        };
        // TOML literal strings: the gates hold no `'`.
        let gates: Vec<String> = gates(&scene)
            .iter()
            .inspect(|g| assert!(!g.contains('\''), "{g}"))
            .map(|g| format!("'{g}'"))
            .collect();
        let toml = format!(
            "[agent.claude]\nbinary = '{}'\n\n[gates]\ncommands = [{}]\n\n[run]\nretries = 0\n",
            claude.display(),
            gates.join(", ")
        );
        std::fs::write(scene.repo.path.join("kmilestone.toml"), toml).expect("kmilestone.toml");
        scene.repo.git(&["add", "kmilestone.toml"]);
        scene
            .repo
            .git(&["commit", "-q", "-m", "Configure kmilestone"]);
        scene
    }

    fn home(&self) -> &Path {
        self.home_dir.path()
    }

    fn outside(&self, name: &str) -> PathBuf {
        self.outside.path().join(name)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.server.port)
    }

    fn file(&self, rel: &str) -> String {
        self.repo.path.join(rel).display().to_string()
    }

    /// `kmilestone run M1_made.md` with the CLI's environment (its HOME is this scene's home),
    /// no human attached, short supervision limits; `path` replaces PATH when given.
    fn run(&self, env: &ClaudeEnv, path: Option<&str>) -> ClaudeRun {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kmilestone"));
        cmd.args(["run", PLAN_NAME])
            .current_dir(&self.repo.path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        env.apply(&mut cmd);
        cmd.env("KMILESTONE_IDLE_TIMEOUT", "90s")
            .env("KMILESTONE_TASK_TIMEOUT", "200s")
            .env("KMILESTONE_RESULT_GRACE", "5s")
            .env("KMILESTONE_KILL_GRACE", "2s")
            .env("NO_COLOR", "1")
            .env("KMILESTONE_STATE_DIR", self.state.path())
            .env_remove("KMILESTONE_CLAUDE_BIN")
            .env_remove("KMILESTONE_AGENT")
            .env_remove("KMILESTONE_RETRIES")
            .env_remove("KMILESTONE_GATE_TIMEOUT");
        if let Some(path) = path {
            cmd.env("PATH", path);
        }
        run_with_timeout(cmd, b"", RUN_TIMEOUT)
    }

    /// report.json of M1 (the only repository under this scene's state base).
    fn report(&self) -> Value {
        let repo = std::fs::read_dir(self.state.path())
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.expect("state entry").path())
            .expect("a state folder");
        let text = std::fs::read_to_string(repo.join("M1/report.json")).unwrap_or_default();
        serde_json::from_str(&text).expect("report.json is JSON")
    }
}

/// The tool results of the session, in call order (one call per turn in these scripts).
fn tool_results(mock: &MockAnthropic) -> Vec<ToolResult> {
    mock.requests()
        .last()
        .map(RecordedRequest::all_tool_results)
        .unwrap_or_default()
}

/// Every request body the mock received, as text.
fn request_bodies(mock: &MockAnthropic) -> String {
    mock.all_requests()
        .iter()
        .map(|r| r.body.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[track_caller]
fn assert_absent(path: &Path) {
    assert!(!path.exists(), "{} must not exist", path.display());
}

#[track_caller]
fn assert_line(run: &ClaudeRun, pattern: &str) {
    let re = regex::Regex::new(pattern).expect("pattern");
    assert!(
        run.stdout.lines().any(|l| re.is_match(l)),
        "no line matches {pattern:?}\n{}",
        run.describe()
    );
}

#[test]
fn a_task_runs_its_tests_in_the_sandbox_and_nothing_reaches_outside() {
    let claude = require_claude!();
    // The second gate passes only if it can neither write outside the repository nor reach
    // the local server.
    let scene = Scene::new(&claude, &|s: &Scene| {
        vec![
            "python3 tests/test_made.py".to_string(),
            format!(
                "! touch {} 2>/dev/null && ! curl -s -m 5 -o /dev/null {}",
                s.outside("gate-marker").display(),
                s.url("gate")
            ),
        ]
    });
    let home = scene.home();
    let ssh_key = home.join(".ssh/id_rsa").display().to_string();
    let notes = home.join("notes.txt").display().to_string();
    let touched = scene.outside("touched");
    let alias = scene.outside("alias");
    let commands = [
        "python3 -c \"open('made.txt','w').write('made\\n')\"".to_string(),
        "python3 tests/test_made.py 2>&1".to_string(),
        format!("touch {}; echo rc=$?", touched.display()),
        format!("git -c alias.x='!touch {}' x; echo rc=$?", alias.display()),
        format!("curl -sS -m 5 {}; echo rc=$?", scene.url("hit")),
        format!("cat {ssh_key}; cat ~/notes.txt; echo rc=$?"),
    ];
    let mut turns: Vec<Turn> = commands.iter().map(Turn::bash).collect();
    turns.push(Turn::read(&ssh_key));
    turns.push(Turn::read(&notes));
    turns.push(Turn::write(
        scene.file(HANDOFF),
        "## Task 1.1 Complete: Make the file\n\nmade.txt holds `made`; tests/test_made.py checks it.\n",
    ));
    // Left uncommitted: the runner commits it once everything else passed.
    turns.push(Turn::write(
        scene.file("notes/extra.md"),
        "left for the runner\n",
    ));
    turns.push(Turn::bash(
        "git add made.txt HANDOFF_M1.md && git commit -q -m 'Task 1.1: made' && git log --format=%s -1",
    ));
    turns.push(Turn::reply("Done."));
    let mock = MockAnthropic::start(Script::new().turns(turns));
    let env = home_env(&mock, home);

    let run = scene.run(&env, None);

    mock.assert_script_done();
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    // The header shows the mode and what confines the gates.
    assert_line(
        &run,
        r"^Agent: claude \(permissions: sandbox: any command, inside Claude Code's sandbox; writes only to the repository, ~/\.cache, .*; network only to pypi\.org, .*; home directory and secrets hidden\)$",
    );
    assert_line(
        &run,
        r"^Gate sandbox: Landlock ABI \d+: writes in the repository, caches and a private temp dir only, secret paths and variables hidden; no network .*$",
    );

    let results = tool_results(&mock);
    assert_eq!(results.len(), 11, "{results:#?}");
    let text = |i: usize| results[i].text.as_str();
    // Inside the repository any command runs, and the repository's test passes.
    assert_eq!(
        std::fs::read_to_string(scene.repo.path.join("made.txt")).unwrap(),
        "made\n"
    );
    assert!(text(1).contains("OK"), "{}", text(1));
    assert!(text(10).contains("Task 1.1: made"), "{}", text(10));
    // Nothing reaches outside: no marker, no hit, no secret.
    assert!(text(2).contains("Read-only file system"), "{}", text(2));
    assert!(!text(4).contains("rc=0"), "{}", text(4));
    for marker in [&touched, &alias, &scene.outside("gate-marker")] {
        assert_absent(marker);
    }
    assert_eq!(
        scene.server.hits(),
        0,
        "no command and no gate reached 127.0.0.1"
    );
    assert!(results[6].is_error, "Read of the key: {}", text(6));
    assert!(results[7].is_error, "Read of the home: {}", text(7));
    let everything = format!("{}\n{}", request_bodies(&mock), run.stdout);
    for secret in [SSH_SECRET, NOTES_SECRET, "sk-ant-mock-key"] {
        assert!(
            !everything.contains(secret),
            "{secret} reached the model or the output"
        );
    }

    // The agent's commit, then the runner's with what the agent left.
    assert_eq!(
        scene.repo.git(&["log", "--format=%s", "-3"]),
        "Task 1.1: Make the file\nTask 1.1: made\nConfigure kmilestone"
    );
    assert_eq!(
        scene
            .repo
            .git(&["show", "--format=", "--name-only", "HEAD"]),
        "notes/extra.md"
    );
    assert_eq!(scene.repo.git(&["status", "--porcelain"]), "");
    for gate in ["python3 tests/test_made.py", "! touch "] {
        assert_line(&run, &format!(r"^  ✓ gate {}", regex::escape(gate)));
    }

    // The refused Reads are listed under the task's summary and in the report.
    let key_refusal = format!(
        "reading `{ssh_key}` was refused; `~/.ssh` holds credentials, always hidden from the agent; no setting shows it"
    );
    assert!(
        run.stdout.contains(&format!("  ⊘ {key_refusal}\n")),
        "{}",
        run.describe()
    );
    let notes_refusal = format!(
        "reading `{notes}` was refused; the agent reads only inside the repository; the setting that would allow it is [agent.claude] allowed_tools = [\"Read(/{}/**)\"]",
        home.display()
    );
    assert!(
        run.stdout.contains(&format!("  ⊘ {notes_refusal}\n")),
        "{}",
        run.describe()
    );
    let report = scene.report();
    let denials = &report["milestone"]["tasks"][0]["record"]["denials"];
    assert_eq!(
        denials[0],
        json!({"call": format!("Read({ssh_key})"), "explanation": key_refusal}),
        "{denials:#}"
    );
}

#[test]
fn without_bubblewrap_the_run_stops_with_exit_5_and_the_fix() {
    let claude = require_claude!();
    let scene = Scene::new(&claude, &|_| vec!["true".to_string()]);
    let marker = scene.outside("ran-unsandboxed");
    let mock = MockAnthropic::start(Script::new().turns([
        Turn::bash(format!("touch {}", marker.display())),
        Turn::reply("Done."),
    ]));
    let env = home_env(&mock, scene.home());
    let (_bin, path) = path_without_bwrap();

    let run = scene.run(&env, Some(&path));

    assert_eq!(run.code(), Some(5), "{}", run.describe());
    assert_line(
        &run,
        r"^the agent cannot work here: Claude Code cannot start its sandbox: Sandbox required but unavailable: .*bubblewrap \(bwrap\) not installed.*Fix: install bubblewrap and socat \(Debian/Ubuntu: `apt install bubblewrap socat`; .*\), or choose another mode: \[agent\.claude\] permission = .allowlist. .* or .bypass. .*$",
    );
    assert_line(&run, r"^\(exit code 5\)$");
    assert!(mock.requests().is_empty(), "the model was never asked");
    assert_absent(&marker);
    assert_eq!(
        scene.repo.git(&["log", "--format=%s", "-1"]),
        "Configure kmilestone"
    );
    assert_eq!(scene.report()["outcome"], "agent_unavailable");
}

/// The real toolchains' homes, for a CLI whose HOME is elsewhere: kmilestone opens what these
/// variables name (`CARGO_HOME` writable, `RUSTUP_HOME` readable) inside the agent's sandbox.
fn toolchain_env(env: ClaudeEnv) -> ClaudeEnv {
    let mut env = env;
    for (var, rel) in [("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")] {
        let value = std::env::var_os(var)
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(rel)));
        if let Some(value) = value {
            env = env.var(var, value);
        }
    }
    env
}

#[test]
fn cargo_and_pytest_run_as_the_agent_s_commands_and_as_gates() {
    let claude = require_claude!();
    let have = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !(have("cargo", &["--version"]) && have("python3", &["-m", "pytest", "--version"])) {
        // Not a failure in CI either: the toolchains are the machine's, not the project's.
        eprintln!("SKIPPED: needs cargo and python3 -m pytest on PATH");
        return;
    }
    let pytest = "python3 -m pytest -q -p no:cacheprovider tests/test_one.py";
    let scene = Scene::new(&claude, &|_| {
        vec!["cargo test -q".to_string(), pytest.to_string()]
    });
    for (rel, content) in [
        (
            "Cargo.toml",
            "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
        ),
        (
            "src/lib.rs",
            "pub fn two() -> u32 {\n    2\n}\n\n#[test]\nfn two_is_two() {\n    assert_eq!(two(), 2);\n}\n",
        ),
        (
            "tests/test_one.py",
            "def test_one():\n    assert 1 + 1 == 2\n",
        ),
        (".gitignore", "target/\n__pycache__/\n"),
    ] {
        let path = scene.repo.path.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(path, content).expect("write");
    }
    scene.repo.git(&["add", "-A"]);
    scene
        .repo
        .git(&["commit", "-q", "-m", "A crate and a pytest file"]);
    let mock = MockAnthropic::start(Script::new().turns([
        Turn::bash("cargo test -q 2>&1"),
        Turn::bash(format!("{pytest} 2>&1")),
        Turn::write(
            scene.file(HANDOFF),
            "## Task 1.1 Complete: Make the file\n\nThe tests run.\n",
        ),
        Turn::bash("git add HANDOFF_M1.md && git commit -q -m 'Task 1.1: tests run'"),
        Turn::reply("Done."),
    ]));
    let env = toolchain_env(home_env(&mock, scene.home()))
        .var("CARGO_TARGET_DIR", scene.repo.path.join("target"));

    let run = scene.run(&env, None);

    mock.assert_script_done();
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let results = tool_results(&mock);
    assert!(
        results[0].text.contains("test result: ok. 1 passed"),
        "{}",
        results[0].text
    );
    assert!(results[1].text.contains("1 passed"), "{}", results[1].text);
    assert_line(&run, r"^  ✓ gate cargo test -q \(");
    assert_line(&run, &format!(r"^  ✓ gate {} \(", regex::escape(pytest)));
    assert_eq!(scene.repo.git(&["status", "--porcelain"]), "");
}
