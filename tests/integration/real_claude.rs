//! The real Claude Code CLI against the scripted API mock: proof that the harness drives it as
//! kmilestone will (stream-json on stdout, prompt on stdin, `--resume`, the permission arguments
//! kmilestone generates) and a record of how it behaves.

use std::path::Path;
use std::time::Duration;

use kmilestone::agent::claude_settings::{Mode, PermissionInputs, claude_permissions};
use serde_json::{Value, json};

use crate::require_claude;
use crate::support::claude::{ClaudeCommand, ClaudeEnv};
use crate::support::git_repo::TempRepo;
use crate::support::mock_anthropic::{Expect, MockAnthropic, Script, Turn, Usage};

/// The permission arguments kmilestone passes in `mode` for `repo`, with the CLI's home and the
/// mock as the model API, and `make test-unit` as the gate.
fn permission_args(mode: Mode, repo: &Path, env: &ClaudeEnv, mock: &MockAnthropic) -> Vec<String> {
    let mut inputs = PermissionInputs::new(mode, repo, env.home());
    inputs.gate_commands = vec!["make test-unit".to_string()];
    inputs.api_base_url = Some(mock.base_url());
    claude_permissions(&inputs).expect("valid settings").args
}

/// What kmilestone passes by default: sandbox mode.
fn default_permission_args(repo: &Path, env: &ClaudeEnv, mock: &MockAnthropic) -> Vec<String> {
    permission_args(Mode::Sandbox, repo, env, mock)
}

/// Allowlist mode allows what a task needs and nothing else, headless: file edits inside the
/// working directory (`Edit(./**)` also covers Write), reads, git's recording subcommands, and
/// the configured gate commands. `dontAsk` denies everything else with an explicit tool error
/// instead of a prompt.
#[test]
fn edits_and_commits_under_the_allowlist_and_denies_other_bash() {
    let claude = require_claude!();
    let repo = TempRepo::with_files(&[
        ("README.md", "# demo\n"),
        ("Makefile", "test-unit:\n\techo unit-ok > unit.out\n"),
    ]);
    let notes = repo.file_str("notes.txt");
    let outside_dir = tempfile::tempdir().expect("temp dir");
    let outside = outside_dir
        .path()
        .join("outside.txt")
        .to_str()
        .expect("UTF-8 path")
        .to_string();
    let mock = MockAnthropic::start(
        Script::new().turns([
            Turn::message()
                .text("I'll create notes.txt.")
                .tool_use("Write", json!({ "file_path": notes, "content": "alpha\n" }))
                .expect_prompt("Create notes.txt"),
            Turn::read(&notes).expect_tool_result("File created"),
            Turn::edit(&notes, "alpha", "beta").expect_tool_result("alpha"),
            Turn::bash("make test-unit").expect_tool_result("updated successfully"),
            Turn::bash("git add -A && git commit -q -m 'Add notes'").expect_tool_result("unit-ok"),
            Turn::bash("touch stray.txt").expect(Expect::ToolResultIsError(false)),
            Turn::write(&outside, "no\n").expect(Expect::ToolResultIsError(true)),
            Turn::reply("Notes written and committed.").expect(Expect::ToolResultIsError(true)),
        ]),
    );
    let env = ClaudeEnv::new(&mock);

    let run = ClaudeCommand::new(&claude, &env, repo.path())
        .args(permission_args(Mode::Allowlist, repo.path(), &env, &mock))
        .run("Create notes.txt, then commit it.");

    mock.assert_script_done();
    let result = run.result();
    // Denied tools do not make the run fail: only permission_denials tells.
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(result["is_error"], false, "{}", run.describe());
    assert_eq!(result["result"], "Notes written and committed.");
    assert_eq!(result["num_turns"], 8);
    assert_eq!(repo.read("notes.txt"), "beta\n");
    assert_eq!(repo.log_subjects(), ["Add notes", "Initial commit"]);
    assert_eq!(repo.status(), "", "the gate's output was committed too");
    assert!(
        !repo.file("stray.txt").exists(),
        "plain Bash must be denied"
    );
    assert!(
        !std::path::Path::new(&outside).exists(),
        "writes outside the repo must be denied"
    );
    let denials = result["permission_denials"]
        .as_array()
        .expect("permission_denials");
    assert_eq!(denials.len(), 2, "{denials:?}");
    assert_eq!(denials[0]["tool_name"], "Bash");
    assert_eq!(denials[0]["tool_input"]["command"], "touch stray.txt");
    assert_eq!(denials[1]["tool_name"], "Write");
    assert_eq!(denials[1]["tool_input"]["file_path"], outside.as_str());

    // The prompt is the last text block of the first user message (context reminders come first).
    let first = &mock.requests()[0];
    assert_eq!(
        first.first_user_texts().last().map(|t| t.trim()),
        Some("Create notes.txt, then commit it.")
    );
    for tool in ["Bash", "Edit", "Read", "Write"] {
        assert!(
            first.tool_names().iter().any(|t| t == tool),
            "{tool} not offered: {:?}",
            first.tool_names()
        );
    }
}

/// Why allowlist mode does not use `acceptEdits`: it also lets through shell commands that only
/// change files inside the working directory (`touch`, `rm`, redirections, even after an allowed
/// `git status;`), whatever `--allowedTools` says. Other commands are still denied.
#[test]
fn accept_edits_lets_file_changing_shell_commands_through() {
    let claude = require_claude!();
    let repo = TempRepo::with_files(&[("README.md", "# demo\n")]);
    let mock =
        MockAnthropic::start(
            Script::new().turns([
                Turn::bash("touch stray.txt && rm README.md"),
                Turn::bash("git status; echo hi > redirected.txt")
                    .expect(Expect::ToolResultIsError(false)),
                Turn::bash("cargo --version").expect(Expect::ToolResultIsError(false)),
                Turn::reply("Done.").expect(Expect::ToolResultIsError(true)),
            ]),
        );
    let env = ClaudeEnv::new(&mock);

    let run = ClaudeCommand::new(&claude, &env, repo.path())
        .args([
            "--permission-mode",
            "acceptEdits",
            "--allowedTools",
            "Bash(git:*)",
            "Bash(make test-unit)",
        ])
        .run("Tidy up.");

    mock.assert_script_done();
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(repo.file("stray.txt").exists());
    assert!(!repo.file("README.md").exists());
    assert_eq!(repo.read("redirected.txt"), "hi\n");
    let denials = run.result()["permission_denials"]
        .as_array()
        .expect("permission_denials")
        .clone();
    assert_eq!(denials.len(), 1, "{denials:?}");
    assert_eq!(denials[0]["tool_input"]["command"], "cargo --version");
}

#[test]
fn resume_continues_the_same_conversation() {
    let claude = require_claude!();
    let repo = TempRepo::with_files(&[("README.md", "# demo\n")]);
    let a = repo.file_str("a.txt");
    let b = repo.file_str("b.txt");
    let mock = MockAnthropic::start(
        Script::new().turns([
            Turn::write(&a, "first\n").expect_prompt("Write a.txt"),
            Turn::reply("Wrote a.txt.").expect_tool_result("File created"),
            // The fix attempt: its prompt is new, the earlier exchange must still be there.
            Turn::write(&b, "second\n")
                .expect_prompt("Verification failed")
                .expect(Expect::ConversationContains("Write a.txt".into()))
                .expect(Expect::ConversationContains("Wrote a.txt.".into())),
            Turn::reply("Wrote b.txt too."),
        ]),
    );
    let env = ClaudeEnv::new(&mock);

    let first = ClaudeCommand::new(&claude, &env, repo.path())
        .args(default_permission_args(repo.path(), &env, &mock))
        .run("Write a.txt.");
    assert_eq!(first.code(), Some(0), "{}", first.describe());
    let session = first.session_id();
    let requests_before = mock.requests().len();

    let second = ClaudeCommand::new(&claude, &env, repo.path())
        .args(default_permission_args(repo.path(), &env, &mock))
        .args(["--resume", session.as_str()])
        .run("Verification failed: b.txt is missing.");
    assert_eq!(second.code(), Some(0), "{}", second.describe());
    mock.assert_script_done();

    assert_eq!(
        second.session_id(),
        session,
        "--resume keeps the session id"
    );
    assert_eq!(second.result()["session_id"], session.as_str());
    assert_eq!(second.result()["result"], "Wrote b.txt too.");
    assert_eq!(repo.read("b.txt"), "second\n");
    let resumed = &mock.requests()[requests_before];
    assert_eq!(resumed.session_id.as_deref(), Some(session.as_str()));
    let uses = resumed.assistant_tool_uses();
    assert_eq!(uses.len(), 1, "{uses:?}");
    assert_eq!(uses[0].0, "Write");
    assert_eq!(uses[0].1["file_path"], a.as_str());
}

/// The `system/api_retry` lines: the CLI's own retries of failed API calls.
fn api_retries(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["type"] == "system" && e["subtype"] == "api_retry")
        .cloned()
        .collect()
}

#[test]
fn persistent_overload_ends_with_an_error_quickly() {
    let claude = require_claude!();
    let repo = TempRepo::new();
    let mock = MockAnthropic::start(Script::new().turn(Turn::error(529).retry_after(0).forever()));
    let env = ClaudeEnv::new(&mock).max_retries(1);

    let run = ClaudeCommand::new(&claude, &env, repo.path())
        .args(default_permission_args(repo.path(), &env, &mock))
        .run("Do the task.");

    assert_eq!(run.code(), Some(1), "{}", run.describe());
    let result = run.result();
    assert_eq!(result["is_error"], true);
    assert_eq!(result["api_error_status"], 529);
    let retries = api_retries(&run.events);
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert_eq!(retries[0]["error_status"], 529);
    assert_eq!(retries[0]["max_retries"], 1);
    assert!(
        run.elapsed < Duration::from_secs(20),
        "took {:?}",
        run.elapsed
    );
    assert_eq!(mock.requests().len(), 2, "one attempt and one retry");
    assert!(mock.failures().is_empty(), "{:?}", mock.failures());
}

#[test]
fn persistent_server_error_ends_with_an_error_quickly() {
    let claude = require_claude!();
    let repo = TempRepo::new();
    let mock = MockAnthropic::start(Script::new().turn(Turn::error(500).retry_after(1).forever()));
    let env = ClaudeEnv::new(&mock).max_retries(1);

    let run = ClaudeCommand::new(&claude, &env, repo.path())
        .args(default_permission_args(repo.path(), &env, &mock))
        .run("Do the task.");

    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert_eq!(run.result()["is_error"], true);
    assert_eq!(run.result()["api_error_status"], 500);
    // retry-after is honoured: one second, where the CLI's own back-off starts near half of that.
    let retries = api_retries(&run.events);
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert_eq!(retries[0]["error_status"], 500);
    assert!(
        retries[0]["retry_delay_ms"]
            .as_u64()
            .is_some_and(|ms| ms >= 1000),
        "{retries:?}"
    );
    assert!(
        run.elapsed < Duration::from_secs(20),
        "took {:?}",
        run.elapsed
    );
    assert_eq!(mock.requests().len(), 2, "one attempt and one retry");
}

#[test]
fn result_line_reports_the_usage_the_api_reported() {
    let claude = require_claude!();
    let repo = TempRepo::new();
    let path = repo.file_str("x.txt");
    let first = Usage {
        input_tokens: 1200,
        output_tokens: 30,
        cache_creation_input_tokens: 500,
        cache_read_input_tokens: 2000,
    };
    let second = Usage {
        input_tokens: 1300,
        output_tokens: 20,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 2500,
    };
    let mock = MockAnthropic::start(Script::new().turns([
        Turn::write(&path, "x\n").usage(first),
        Turn::reply("Done.").usage(second),
    ]));
    let env = ClaudeEnv::new(&mock);

    let run = ClaudeCommand::new(&claude, &env, repo.path())
        .args(default_permission_args(repo.path(), &env, &mock))
        .run("Write x.txt.");
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    mock.assert_script_done();
    let result = run.result();

    let usage = &result["usage"];
    assert_eq!(usage["input_tokens"], 2500);
    assert_eq!(usage["output_tokens"], 50);
    assert_eq!(usage["cache_creation_input_tokens"], 500);
    assert_eq!(usage["cache_read_input_tokens"], 4500);
    let model = mock.requests()[0].model().expect("model").to_string();
    let per_model = &result["modelUsage"][&model];
    assert_eq!(per_model["inputTokens"], 2500);
    assert_eq!(per_model["outputTokens"], 50);
    assert_eq!(per_model["cacheCreationInputTokens"], 500);
    assert_eq!(per_model["cacheReadInputTokens"], 4500);
    // The CLI prices tokens itself from its own list prices (0.0144 USD here for the default
    // model); what matters is that the result line carries it and it agrees with modelUsage.
    let cost = result["total_cost_usd"].as_f64().expect("total_cost_usd");
    assert!(cost > 0.0);
    assert_eq!(per_model["costUSD"].as_f64(), Some(cost));
}

/// A CLI stuck on a silent API is killed at the harness timeout, with its output in the panic,
/// instead of hanging the suite.
#[test]
fn a_hung_run_is_killed_at_the_timeout() {
    let claude = require_claude!();
    let repo = TempRepo::new();
    let mock = MockAnthropic::start(
        Script::new().turn(Turn::reply("too late").delay(Duration::from_secs(600))),
    );
    let env = ClaudeEnv::new(&mock);

    // Caught here rather than with #[should_panic], which would fail when the CLI is absent and
    // the test is skipped.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ClaudeCommand::new(&claude, &env, repo.path())
            .args(default_permission_args(repo.path(), &env, &mock))
            .timeout(Duration::from_secs(3))
            .run("Wait for it.")
    }));
    let panic = outcome.expect_err("the run must time out");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("killed after 3s"), "{message}");
    assert!(
        message.contains("\"subtype\":\"init\""),
        "output kept: {message}"
    );
    assert_eq!(mock.requests().len(), 1);
}
