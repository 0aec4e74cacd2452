//! The permission modes as the fake agent meets them: the header, the sandbox check of
//! `system/init` (exit 5 with the fix), leftovers of a sandboxed task committed by the runner,
//! refused calls in the summary, the report and the fix prompt, the VALIDATION preflight. The
//! fake sandboxes nothing: it reports the sandbox its `--settings` ask for, as the real CLI
//! does, so these tests judge kmilestone's side; `sandbox_runs.rs` judges the real sandbox.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::project::{HANDOFF, PLAN_3, Project, Run, good_actions};

/// Runs `kmilestone <args>` with a home directory of its own and none of the variables that
/// move the toolchains' caches, so that the header's paths are the same on every machine.
fn run_in(project: &Project, home: &std::path::Path, args: &[&str]) -> Run {
    let mut command: Command = project.command(args);
    command.env("HOME", home).env_remove("TMPDIR");
    for name in [
        "XDG_CACHE_HOME",
        "CARGO_HOME",
        "GOPATH",
        "GOMODCACHE",
        "GOCACHE",
        "npm_config_cache",
        "UV_CACHE_DIR",
    ] {
        command.env_remove(name);
    }
    let output = command.output().unwrap();
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        output,
    }
}

fn prompt_of(call: &Value) -> &str {
    call["stdin"].as_str().unwrap()
}

/// The `--settings` document the fake agent was given.
fn settings_of(call: &Value) -> Value {
    let argv: Vec<&str> = call["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let at = argv
        .iter()
        .position(|a| *a == "--settings")
        .expect("--settings");
    serde_json::from_str(argv[at + 1]).unwrap()
}

#[test]
fn the_header_names_the_sandbox_the_project_s_rules_and_the_gate_sandbox() {
    let project = Project::new(PLAN_3);
    let home = tempfile::tempdir().unwrap();
    project.write(
        "kmilestone.toml",
        "[gates]\ncommands = [\"true\", { command = \"test -f HANDOFF_M1.md\", sandbox = false }]\n",
    );
    project.write(
        ".claude/settings.local.json",
        r#"{"permissions":{"allow":["Bash(npm test:*)","WebFetch","Read"]}}"#,
    );
    project.commit_all("Config");

    let run = run_in(
        &project,
        home.path(),
        &["run", "M1_greeter.md", "--only", "1.1"],
    );

    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let lines: Vec<&str> = run.stdout.lines().take(7).collect();
    assert_eq!(
        [lines[..5].to_vec(), lines[6..].to_vec()].concat(),
        [
            "Milestone: M1 - Greeter (3 tasks)",
            "Completed: (none - fresh start)",
            "Starting from: 1.1",
            "Agent: claude (permissions: sandbox: any command, inside Claude Code's sandbox; writes only to the repository, ~/.cache, ~/.cargo, ~/.npm, ~/.local/share/uv, ~/go/pkg; network only to pypi.org, files.pythonhosted.org, registry.npmjs.org, crates.io, index.crates.io, static.crates.io, proxy.golang.org, sum.golang.org; home directory and secrets hidden; + 3 allow rules from .claude/settings.local.json)",
            "Gates: true, test -f HANDOFF_M1.md (unsandboxed)",
            "Tasks to run: 1.1",
        ],
        "{}",
        run.describe()
    );
    // What confines the gates depends on the machine; that something is said does not.
    let gate_line = regex::Regex::new(
        r"^Gate sandbox: (Landlock ABI \d+: writes in the repository, caches and a private temp dir only, secret paths and variables hidden; .+|sandbox-exec: .+|none \(.+\): gates run unconfined, secret variables removed)$",
    )
    .unwrap();
    assert!(gate_line.is_match(lines[5]), "{}", lines[5]);

    let calls = project.calls();
    let settings = settings_of(&calls[0]);
    assert_eq!(settings["sandbox"]["enabled"], true, "{settings}");
    assert_eq!(settings["sandbox"]["failIfUnavailable"], true, "{settings}");
    let argv = calls[0]["argv"].to_string();
    assert!(argv.contains(r#""--permission-mode","dontAsk""#), "{argv}");
    assert!(
        prompt_of(&calls[0]).contains("`git add -A` and `git add .` fail inside the sandbox"),
        "the prompt tells the agent to add its files by name"
    );
}

#[test]
fn what_a_sandboxed_task_leaves_uncommitted_the_runner_commits() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({"invocations": [{"actions": [
        {"write": "greet.txt", "content": "hi\n"},
        {"write": "notes/greet.md", "content": "left behind\n"},
        {"append": HANDOFF, "text": "## Task {task} Complete: done\n"},
        {"sh": "git add greet.txt HANDOFF_M1.md && git commit -qm 'Task {task}: the greeting'"}
    ]}]}));

    let run = project.kmilestone_run(&["--only", "1.1"]);

    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(project.calls().len(), 1, "nothing went back to the agent");
    assert_eq!(
        project.log(),
        [
            "Plan",
            "Task 1.1: the greeting",
            "Task 1.1: Greeting module"
        ]
    );
    assert_eq!(project.git(&["status", "--porcelain"]), "");
    assert_eq!(
        project.git(&["show", "--format=", "--name-only", "HEAD"]),
        "notes/greet.md\n"
    );
}

#[test]
fn a_run_the_sandbox_cannot_start_stops_with_exit_5_and_the_fix() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({"sandbox": "unavailable", "default": {"actions": good_actions()}}));

    let run = project.kmilestone_run(&[]);

    assert_eq!(run.code(), Some(5), "{}", run.describe());
    let last: Vec<&str> = run.stdout.lines().rev().take(2).collect();
    assert_eq!(last[0], "(exit code 5)");
    assert_eq!(
        last[1],
        "the agent cannot work here: Claude Code cannot start its sandbox: Sandbox required but unavailable: sandbox is enabled but dependencies are missing: bubblewrap (bwrap) not installed · install missing tools (e.g. apt install bubblewrap socat) or see https://code.claude.com/docs/en/sandboxing. kmilestone does not run the agent unsandboxed in sandbox mode ([agent.claude] permission). Fix: install bubblewrap and socat (Debian/Ubuntu: `apt install bubblewrap socat`; Fedora: `dnf install bubblewrap socat`), or choose another mode: [agent.claude] permission = \"allowlist\" (listed commands only) or \"bypass\" (everything, unsandboxed).",
        "{}",
        run.describe()
    );
    assert_eq!(project.calls().len(), 1, "no retry can help");
    assert_eq!(project.log(), ["Plan"]);
    assert_eq!(
        project.state()["tasks"]["1.1"]["result"],
        "agent_unavailable"
    );
}

#[test]
fn an_agent_that_starts_unsandboxed_is_stopped_with_exit_5() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({"sandbox": "off", "default": {"actions": good_actions()}}));

    let run = project.kmilestone_run(&[]);

    assert_eq!(run.code(), Some(5), "{}", run.describe());
    assert!(
        run.stdout.contains(
            "the agent cannot work here: Claude Code started without its sandbox (system/init has no \"sandbox_enabled\": true). kmilestone does not run the agent unsandboxed"
        ),
        "{}",
        run.describe()
    );
    assert_eq!(
        project.state()["tasks"]["1.1"]["result"],
        "agent_unavailable"
    );
    assert!(
        !run.stdout.contains("✓ Task 1.1 complete"),
        "{}",
        run.describe()
    );
}

#[test]
fn other_modes_ask_for_no_sandbox_and_run_without_one() {
    let project = Project::new(PLAN_3);
    project.write(
        "kmilestone.toml",
        "[agent.claude]\npermission = \"bypass\"\n[gates]\ncommands = [\"true\"]\nsandbox = false\n",
    );
    project.commit_all("Bypass");

    let run = project.kmilestone_run(&["--only", "1.1"]);

    assert_eq!(run.code(), Some(0), "{}", run.describe());
    for line in [
        "Agent: claude (permissions: bypass: every tool and command allowed without asking, no sandbox (your explicit choice))",
        "Gates: true (unsandboxed)",
        "Gate sandbox: off by configuration",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == line),
            "{line:?}\n{}",
            run.describe()
        );
    }
    let argv = project.calls()[0]["argv"].to_string();
    assert!(argv.contains("--dangerously-skip-permissions"), "{argv}");
    assert!(!argv.contains("--settings"), "{argv}");
}

#[test]
fn refused_calls_are_listed_with_the_setting_that_would_allow_them() {
    let project = Project::new(PLAN_3);
    project.write(
        "kmilestone.toml",
        "[agent.claude]\npermission = \"allowlist\"\n[gates]\ncommands = [\"true\"]\n",
    );
    project.commit_all("Allowlist");
    project.scenario(json!({
        "invocations": [{
            "actions": [{"write": "greet.txt", "content": "hi\n"}],
            "result": {"denials": ["docker compose up -d"]}
        }],
        "default": {"actions": good_actions()}
    }));

    let run = project.kmilestone_run(&["--only", "1.1"]);

    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let explanation = "command `docker compose up -d` was refused; the setting that would allow it is [agent.claude] allowed_tools = [\"Bash(docker compose:*)\"], or [agent.claude] permission = \"sandbox\" (any command, sandboxed)";
    let lines: Vec<&str> = run.stdout.lines().collect();
    let done = lines
        .iter()
        .position(|l| l.starts_with("✓ Task 1.1 complete"))
        .unwrap_or_else(|| panic!("{}", run.describe()));
    assert_eq!(lines[done + 1], format!("  ⊘ {explanation}"));

    // The fix prompt says what was refused and what the agent may run instead.
    let calls = project.calls();
    let fix = prompt_of(&calls[1]);
    assert!(
        fix.contains("- tool calls were denied by the permission settings: Bash(docker compose up -d); the only commands allowed are git add/commit/status/diff/log, true, besides reading and editing files inside the repository; use those instead"),
        "{fix}"
    );

    let report = project.read_state("report.md");
    assert!(
        report.contains(&format!(
            "## Task 1.1: refused tool calls\n\n- {explanation}\n"
        )),
        "{report}"
    );
    let json: Value = serde_json::from_str(&project.read_state("report.json")).unwrap();
    assert_eq!(
        json["milestone"]["tasks"][0]["record"]["denials"],
        json!([{"call": "Bash(docker compose up -d)", "explanation": explanation}])
    );
}

/// A VALIDATION task that brings up docker compose and queries it with curl.
const COMPOSE_PLAN: &str = "# Milestone 1: Greeter\n\n## Task 1.1: Greeting module\n\n**Type:** CODING\n\nWrite greet.txt.\n\n**Acceptance Criteria:**\n- [ ] greet.txt exists\n\n## Task 1.2: Stack check\n\n**Type:** VALIDATION\n\nRun `docker compose up -d`, then `curl http://localhost:8080/health` must answer 200.\n\n**Acceptance Criteria:**\n- [ ] the health check answers\n";

#[test]
fn a_validation_task_the_sandbox_cannot_run_is_warned_about_before_it_starts() {
    let project = Project::new(COMPOSE_PLAN);
    let docker = "the task names \"docker\" (Docker), but sandboxed commands cannot reach the Docker daemon; to run it, set [agent.claude] permission = \"allowlist\" with the commands it needs in [agent.claude] allowed_tools, or [agent.claude] permission = \"bypass\"";

    let dry = project.kmilestone_run(&["--dry-run"]);

    assert_eq!(dry.code(), Some(0), "{}", dry.describe());
    let lines: Vec<&str> = dry.stdout.lines().collect();
    let task = lines
        .iter()
        .position(|l| l.starts_with("=== Task 1.2: Stack check [VALIDATION]"))
        .unwrap_or_else(|| panic!("{}", dry.describe()));
    assert_eq!(lines[task + 2], "Gates: true");
    assert_eq!(lines[task + 3], format!("Warning: {docker}"));
    assert!(lines[task + 4].starts_with("Warning: the task names \"localhost\""));
    assert!(lines[task + 5].starts_with("Warning: the task names \"curl\""));
    assert_eq!(lines[task + 6], "--- prompt ---");
    let coding = lines
        .iter()
        .position(|l| l.starts_with("=== Task 1.1"))
        .unwrap();
    assert_eq!(
        lines[coding + 3],
        "--- prompt ---",
        "a CODING task gets no warning"
    );

    let run = project.kmilestone_run(&[]);

    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let warnings: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("Warning: task "))
        .collect();
    assert_eq!(warnings.len(), 3, "{}", run.describe());
    assert_eq!(
        warnings[0],
        format!("Warning: task 1.2 (VALIDATION): {docker}")
    );
}

#[test]
fn the_old_default_permission_is_refused_with_the_choice_explained() {
    let project = Project::new(PLAN_3);
    project.write(
        "kmilestone.toml",
        "[agent.claude]\npermission = \"default\"\n",
    );
    project.commit_all("Old config");

    let run = project.kmilestone_run(&[]);

    assert_eq!(run.code(), Some(2), "{}", run.describe());
    assert!(
        run.stderr.contains(
            "permission = \"default\" no longer names a mode: the default is now \"sandbox\""
        ),
        "{}",
        run.describe()
    );
    assert!(project.calls().is_empty(), "nothing started");
}
