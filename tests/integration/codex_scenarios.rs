//! `kmilestone run` with `[agent] name = "codex"` against the fake `codex`
//! (tests/fake_agent/fake_codex.py, which speaks Codex's `exec --json` stream): the edge cases a
//! real CLI cannot be made to show on demand, and what the user sees of each.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::project::{HANDOFF, PLAN_3, Project, Run, good_actions};

/// Codex, sandboxed (the default), with a price for its model and a gate that always passes.
const CODEX_CONFIG: &str = "[agent]\nname = \"codex\"\n\n[agent.codex]\nmodel = \"gpt-5.5\"\n\n[agent.codex.prices]\n\"gpt-5.5\" = { input = 1.0, cached_input = 0.1, output = 10.0 }\n\n[gates]\ncommands = [\"true\"]\n";

/// The command line every sandboxed invocation starts with.
const SANDBOXED: [&str; 8] = [
    "exec",
    "--json",
    "--model",
    "gpt-5.5",
    "--sandbox",
    "workspace-write",
    "-c",
    "shell_environment_policy.ignore_default_excludes=false",
];

fn codex_project() -> Project {
    Project::with_config(PLAN_3, CODEX_CONFIG)
}

fn argv(call: &Value) -> Vec<&str> {
    call["argv"]
        .as_array()
        .expect("argv")
        .iter()
        .map(|a| a.as_str().expect("argument"))
        .collect()
}

fn prompt_of(call: &Value) -> &str {
    call["stdin"].as_str().expect("prompt")
}

/// The thread id a call started or resumed: fresh threads are numbered by invocation.
fn thread_of(call: &Value, index: usize) -> String {
    call["resume"].as_str().map_or_else(
        || format!("0199a000-0000-7000-8000-{:012}", index + 1),
        str::to_string,
    )
}

fn run_with(project: &Project, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec!["run", "M1_greeter.md"];
    all.extend_from_slice(args);
    let mut command = project.command(&all);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run kmilestone");
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        output,
    }
}

/// The cost at the configured price of a thread's cumulative tokens.
fn cost(input: u64, cached: u64, output: u64) -> f64 {
    ((input - cached) as f64 * 1.0 + cached as f64 * 0.1 + output as f64 * 10.0) / 1e6
}

/// The cost and tokens report.json gives task `id`.
fn totals(project: &Project, id: &str) -> Value {
    let report: Value =
        serde_json::from_str(&project.read_state("report.json")).expect("report.json");
    report["milestone"]["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["id"] == id)
        .map_or_else(
            || panic!("no task {id} in {report}"),
            |t| t["record"]["totals"].clone(),
        )
}

#[test]
fn sandboxed_codex_tasks_are_committed_by_the_runner_with_their_tokens_and_cost() {
    let project = codex_project();

    let run = project.kmilestone_run(&["--to", "1.2"]);

    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        run.stdout.contains(
            "Agent: codex (permissions: sandbox (workspace-write: writes in the repository, no network; the runner commits))\n"
        ),
        "{}",
        run.describe()
    );
    // The fake refuses `git commit` as the real sandbox does; the runner commits instead.
    assert_eq!(
        project.log(),
        [
            "Plan",
            "Task 1.1: Greeting module",
            "Task 1.2: Farewell module"
        ]
    );
    assert_eq!(project.git(&["status", "--porcelain"]), "");
    assert_eq!(project.read("work/task-1.2.txt"), "done 1.2\n");
    let calls = project.calls();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_eq!(argv(call), [&SANDBOXED[..], &["-"]].concat());
        let prompt = prompt_of(call);
        assert!(
            prompt.contains("Do not commit: in this sandbox `.git` is read-only"),
            "{prompt}"
        );
        assert!(
            !prompt.contains("git add <files> && git commit"),
            "{prompt}"
        );
    }
    // Each task: one turn of 1000 input tokens (200 cached) and 50 output, priced from config.
    for id in ["1.1", "1.2"] {
        let totals = totals(&project, id);
        assert_eq!(
            totals["usage"],
            json!({"input_tokens": 800, "output_tokens": 50, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 200}),
            "{totals}"
        );
        assert_eq!(totals["cost_usd"].as_f64(), Some(cost(1000, 200, 50)));
    }
    assert!(
        run.stdout.contains("✓ Task 1.2 complete (1 attempt, ")
            && run.stdout.contains(", $0.0013, 1050 tokens)"),
        "{}",
        run.describe()
    );
}

#[test]
fn the_runners_commit_is_the_users_git_commit_with_their_identity_and_signature() {
    let project = codex_project();
    // The user's own global config: identity and signing (with a stand-in for gpg).
    for key in ["user.email", "user.name", "commit.gpgsign"] {
        project.git(&["config", "--unset", key]);
    }
    let home = tempfile::tempdir().expect("temp dir");
    let gpg = home.path().join("fake-gpg");
    std::fs::write(
        &gpg,
        "#!/bin/sh\ncat > /dev/null\nprintf '\\n[GNUPG:] SIG_CREATED D 1 8 00 0 FAKE\\n' >&2\nprintf -- '-----BEGIN PGP SIGNATURE-----\\n\\nZmFrZQ==\\n-----END PGP SIGNATURE-----\\n'\n",
    )
    .expect("write fake gpg");
    make_executable(&gpg);
    let global = home.path().join("gitconfig");
    std::fs::write(
        &global,
        format!(
            "[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n[commit]\n\tgpgsign = true\n[gpg]\n\tprogram = {}\n",
            gpg.display()
        ),
    )
    .expect("write global git config");
    let global = global.to_str().expect("UTF-8 path");

    let run = run_with(
        &project,
        &["--only", "1.1"],
        &[("GIT_CONFIG_GLOBAL", global)],
    );

    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let show = |format: &str| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(project.root())
            .args(["log", "-1", &format!("--format={format}")])
            .env("GIT_CONFIG_GLOBAL", global)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .expect("git log")
    };
    assert_eq!(
        show("%s | %an <%ae> | %cn"),
        "Task 1.1: Greeting module | Ada Lovelace <ada@example.com> | Ada Lovelace"
    );
    let commit = project.git(&["cat-file", "commit", "HEAD"]);
    assert!(
        commit.contains("gpgsig -----BEGIN PGP SIGNATURE-----"),
        "{commit}"
    );
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn with_permission_bypass_codex_commits_itself_and_the_header_says_so() {
    let project = Project::with_config(
        PLAN_3,
        "[agent]\nname = \"codex\"\n[agent.codex]\npermission = \"bypass\"\n[gates]\ncommands = [\"true\"]\n",
    );

    let run = project.kmilestone_run(&["--only", "1.1"]);

    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        run.stdout
            .contains("Agent: codex (permissions: bypass: every tool and command allowed without asking, no sandbox (your explicit choice))\n"),
        "{}",
        run.describe()
    );
    assert_eq!(
        project.log(),
        ["Plan", "Task 1.1"],
        "the agent's own commit"
    );
    let call = &project.calls()[0];
    assert_eq!(
        argv(call),
        [
            "exec",
            "--json",
            "--dangerously-bypass-approvals-and-sandbox",
            "-c",
            "shell_environment_policy.ignore_default_excludes=false",
            "-"
        ]
    );
    assert!(
        prompt_of(call).contains("git add <files> && git commit"),
        "{}",
        prompt_of(call)
    );
    // No model, no price: tokens are still counted and shown.
    assert!(run.stdout.contains(", 1050 tokens)"), "{}", run.describe());
    let totals = totals(&project, "1.1");
    assert_eq!(totals["usage"]["input_tokens"], 800, "{totals}");
}

#[test]
fn an_answer_resumes_the_thread_in_a_new_process_and_its_tokens_count_once() {
    let project = codex_project();
    project.scenario(json!({
        "invocations": [{"result": {
            "text": "I need a decision.\n\nQUESTION: English or French?\nOPTIONS:\n- English\n- French",
            "input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": 50
        }}],
        "default": {"actions": good_actions(), "result": {
            "input_tokens": 3000, "cached_input_tokens": 1000, "output_tokens": 70
        }}
    }));

    let asked = project.kmilestone_run(&["--only", "1.1"]);
    assert_eq!(asked.code(), Some(4), "{}", asked.describe());
    assert!(
        asked.stdout.contains("English or French?"),
        "{}",
        asked.describe()
    );

    let answered = project.kmilestone_run(&["--only", "1.1", "--answer", "2"]);

    assert_eq!(answered.code(), Some(0), "{}", answered.describe());
    let calls = project.calls();
    assert_eq!(calls.len(), 2);
    let thread = thread_of(&calls[0], 0);
    assert_eq!(calls[1]["resume"], thread.as_str(), "the thread that asked");
    assert_eq!(
        argv(&calls[1]),
        [&SANDBOXED[..], &["resume", thread.as_str(), "-"]].concat(),
        "every flag again, before `resume`"
    );
    assert!(
        prompt_of(&calls[1]).contains("The human answered your question:\n\nFrench"),
        "{}",
        prompt_of(&calls[1])
    );
    assert_eq!(project.log(), ["Plan", "Task 1.1: Greeting module"]);
    // Codex reported 4000/1200/120 for the thread after the resume: counted once, not again on
    // top of the first process's 1000/200/50.
    let totals = totals(&project, "1.1");
    assert_eq!(
        totals["usage"],
        json!({"input_tokens": 2800, "output_tokens": 120, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1200}),
        "{totals}"
    );
    assert_eq!(totals["cost_usd"].as_f64(), Some(cost(4000, 1200, 120)));
}

#[test]
fn a_hung_exec_is_stopped_at_the_idle_timeout_and_resumed_in_its_thread() {
    let project = codex_project();
    project.scenario(json!({
        "invocations": [{"actions": [{"text": "Looking at the code"}, {"hang": true}]}],
        "default": {"actions": good_actions()}
    }));

    let run = run_with(
        &project,
        &["--only", "1.1"],
        &[
            ("KMILESTONE_IDLE_TIMEOUT", "1s"),
            ("KMILESTONE_KILL_GRACE", "500ms"),
        ],
    );

    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        run.stdout.contains("agent stopped: no output for too long"),
        "{}",
        run.describe()
    );
    let calls = project.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["resume"], thread_of(&calls[0], 0).as_str());
    assert!(
        prompt_of(&calls[1]).contains("produced no output for 1s and was stopped"),
        "{}",
        prompt_of(&calls[1])
    );
    assert_eq!(project.log(), ["Plan", "Task 1.1: Greeting module"]);
}

#[test]
fn an_early_exit_without_a_turn_end_is_sent_back_to_the_same_thread() {
    let project = codex_project();
    project.scenario(json!({
        "invocations": [{"actions": [{"text": "Starting"}], "no_result": true, "exit": 1}],
        "default": {"actions": good_actions()}
    }));

    let run = project.kmilestone_run(&["--only", "1.1"]);

    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        run.stdout
            .contains("agent ended without a result (exit code 1)"),
        "{}",
        run.describe()
    );
    let calls = project.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["resume"], thread_of(&calls[0], 0).as_str());
    assert!(
        prompt_of(&calls[1]).contains("it may have crashed"),
        "{}",
        prompt_of(&calls[1])
    );
    assert_eq!(project.log(), ["Plan", "Task 1.1: Greeting module"]);
}

#[test]
fn garbage_lines_in_the_stream_are_skipped() {
    let project = codex_project();
    let mut actions = vec![
        json!({"garbage": "not json at all"}),
        json!({"garbage": "{\"type\": \"turn.mystery\", \"x\": 1}"}),
        json!({"garbage": "{\"type\": \"item.completed\", \"item\": "}),
        json!({"garbage": "[1, 2]"}),
        json!({"garbage": "x".repeat(200_000)}),
    ];
    actions.extend(good_actions().as_array().expect("actions").iter().cloned());
    project.scenario(json!({"default": {"actions": actions}}));

    let run = project.kmilestone_run(&["--only", "1.1"]);

    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(project.calls().len(), 1);
    assert_eq!(project.log(), ["Plan", "Task 1.1: Greeting module"]);
    let totals = totals(&project, "1.1");
    assert_eq!(totals["usage"]["input_tokens"], 800, "{totals}");
}

#[test]
fn a_missing_codex_exits_5_with_the_install_command() {
    let project = codex_project();
    let missing = project.root().join("no-such-codex");
    let missing = missing.to_str().expect("UTF-8 path");

    let run = run_with(&project, &[], &[("KMILESTONE_CODEX_BIN", missing)]);

    assert_eq!(run.code(), Some(5), "{}", run.describe());
    assert!(
        run.stdout.contains(&format!(
            "the agent could not be started: `{missing}` was not found or is not executable (install Codex CLI: npm install -g @openai/codex, or set [agent.codex] binary / KMILESTONE_CODEX_BIN)"
        )),
        "{}",
        run.describe()
    );
    assert_eq!(project.log(), ["Plan"]);
}

#[test]
fn a_missing_key_exits_5_at_once() {
    let project = codex_project();
    project.scenario(json!({"default": {"result": {
        "failed": "Missing environment variable: `OPENAI_API_KEY`."
    }}}));

    let run = project.kmilestone_run(&[]);

    assert_eq!(run.code(), Some(5), "{}", run.describe());
    assert!(
        run.stdout.contains(
            "the agent is not authenticated: Missing environment variable: `OPENAI_API_KEY`. (log in with `codex login` (or `codex login --with-api-key`), or set CODEX_API_KEY, or the variable your model provider's env_key names, then run again)"
        ),
        "{}",
        run.describe()
    );
    assert_eq!(project.calls().len(), 1, "no retry can help");
}

#[test]
fn an_unusable_sandbox_exits_5_naming_codex_home_and_bubblewrap() {
    let project = codex_project();
    project.scenario(json!({"default": {
        "actions": [
            {"stderr": "WARNING: proceeding, even though we could not create PATH aliases: Refusing to create helper binaries under temporary dir \"/tmp\" (codex_home: AbsolutePathBuf(\"/tmp/codex-home\"))"},
            {"exec": "ls", "output": "bwrap: execvp codex-linux-sandbox: No such file or directory\n", "exit_code": 1},
            {"append": HANDOFF, "text": "## Task {task} Complete: done\n"}
        ],
        "result": {"text": "Done."}
    }}));

    let run = project.kmilestone_run(&[]);

    assert_eq!(run.code(), Some(5), "{}", run.describe());
    for expected in [
        "the agent cannot work here: Codex's sandbox does not work here (bwrap: execvp codex-linux-sandbox: No such file or directory).",
        "set CODEX_HOME to a folder outside /tmp",
        "On Linux the sandbox is bubblewrap",
        "[agent.codex] permission = \"bypass\"",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?}\n{}",
            run.describe()
        );
    }
    assert_eq!(project.calls().len(), 1);
    assert_eq!(project.log(), ["Plan"], "nothing of it is committed");
}

#[test]
fn dry_run_shows_the_codex_command_line_from_the_settings() {
    let project = Project::with_config(
        PLAN_3,
        "[agent.codex]\nbinary = \"/opt/codex/bin/codex\"\nmodel = \"gpt-5.5\"\nconfig = [\"model_reasoning_effort=\\\"high\\\"\"]\nextra_args = [\"--skip-git-repo-check\"]\ncolour = \"blue\"\n",
    );

    let run = project.kmilestone_run(&["--agent", "codex", "--only", "1.1", "--dry-run"]);

    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        run.stdout.contains(
            "/opt/codex/bin/codex exec --json --model gpt-5.5 --sandbox workspace-write -c shell_environment_policy.ignore_default_excludes=false -c 'model_reasoning_effort=\"high\"' --skip-git-repo-check -"
        ),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr.contains("agent.codex.colour"),
        "unknown keys warn: {}",
        run.describe()
    );

    let run = project.kmilestone_run(&[
        "--agent",
        "codex",
        "--only",
        "1.1",
        "--dry-run",
        "--dangerously-skip-permissions",
    ]);

    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        run.stdout.contains(
            "/opt/codex/bin/codex exec --json --model gpt-5.5 --dangerously-bypass-approvals-and-sandbox -c"
        ),
        "{}",
        run.describe()
    );
    assert!(project.calls().is_empty());
}

#[test]
fn a_blocker_in_codexs_final_message_stops_the_run_with_exit_3() {
    let project = codex_project();
    project.scenario(json!({"default": {"result": {
        "text": "I looked for the greeting spec.\n\nBLOCKED: the greeting spec the task names does not exist"
    }}}));

    let run = project.kmilestone_run(&[]);

    assert_eq!(run.code(), Some(3), "{}", run.describe());
    assert!(
        run.stdout
            .contains("Task 1.1 is blocked: the greeting spec the task names does not exist"),
        "{}",
        run.describe()
    );
    assert_eq!(project.calls().len(), 1);
    assert_eq!(project.log(), ["Plan"]);
}
