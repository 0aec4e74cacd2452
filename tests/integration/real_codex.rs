//! The real Codex CLI against the scripted Responses API mock: proof that the adapter's command
//! lines work (prompt on stdin, `resume`, the workspace-write sandbox), that its parser reads what
//! the CLI really prints, and a record of how the CLI behaves on errors (`docs/codex.md`).

use std::ffi::OsString;
use std::path::Path;

use jiff::{Timestamp, Zoned};
use kmilestone::agent::Adapter;
use kmilestone::agent::codex::{self, Codex, CodexSettings, Price, PriceTable};
use kmilestone::events::{AgentEvent, Finished, Usage};

use crate::require_codex;
use crate::support::codex::{CodexEnv, CodexRun, MOCK_KEY_VAR};
use crate::support::git_repo::TempRepo;
use crate::support::mock_openai::{Expect, MockOpenAi, Script, Turn};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/agents/codex_stream_sample.jsonl"
);

/// Set to rewrite the fixture from a live run (repository paths become /home/user/project).
const CAPTURE_VAR: &str = "KMILESTONE_CAPTURE_CODEX_SAMPLE";

fn adapter(binary: &Path) -> Codex {
    Codex::new(CodexSettings {
        binary: binary.to_path_buf(),
        ..CodexSettings::default()
    })
}

fn parse(codex: &mut Codex, run: &CodexRun) -> Vec<AgentEvent> {
    run.stdout
        .lines()
        .flat_map(|l| codex.parse_line(l))
        .collect()
}

fn finished(events: &[AgentEvent]) -> &Finished {
    match events.last() {
        Some(AgentEvent::Finished(finished)) => finished,
        other => panic!("the stream does not end with Finished: {other:?}"),
    }
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

#[test]
fn exec_edits_runs_a_command_and_ends_with_a_message() {
    let binary = require_codex!();
    let repo = TempRepo::with_files(&[("README.md", "# demo\n"), ("HANDOFF.md", "# Handoff\n")]);
    let mock = MockOpenAi::start(Script::new().turns([
        Turn::message()
            .text("Creating hello.txt.")
            .patch_call(crate::support::mock_openai::add_file_patch(
                "hello.txt",
                "hello from mock\n",
            ))
            .expect_prompt("Create hello.txt"),
        Turn::exec("echo hi >> hello.txt && cat hello.txt")
            .expect_tool_output("Success. Updated the following files:\nA hello.txt"),
        Turn::apply_patch(
            "*** Begin Patch\n*** Update File: HANDOFF.md\n@@\n # Handoff\n+## Task 1.1 Complete: hello\n*** End Patch\n",
        )
        .expect_tool_output("hello from mock\nhi\n"),
        Turn::reply("All done: hello.txt created, appended, HANDOFF.md updated.")
            .expect_tool_output("M HANDOFF.md"),
    ]));
    let env = CodexEnv::new(&mock);
    let mut prices = PriceTable::new();
    prices.insert(
        "gpt-5.5",
        Price {
            input: 1.25,
            cached_input: 0.125,
            output: 10.0,
        },
    );
    let mut codex = Codex::new(CodexSettings {
        binary: binary.clone(),
        model: Some("gpt-5.5".into()),
        prices,
        ..CodexSettings::default()
    });

    let command = codex.command("Create hello.txt, then say so.", None, repo.path());
    let run = env.run(&command, repo.path());

    mock.assert_script_done();
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(repo.read("hello.txt"), "hello from mock\nhi\n");
    assert_eq!(
        repo.read("HANDOFF.md"),
        "# Handoff\n## Task 1.1 Complete: hello\n"
    );
    let first = &mock.requests()[0];
    assert_eq!(
        first.last_user_texts(),
        ["Create hello.txt, then say so."],
        "the prompt arrives whole from stdin"
    );
    assert_eq!(first.sandbox_mode(), Some("workspace-write"));
    assert_eq!(first.model(), Some("gpt-5.5"));
    for tool in ["exec_command", "apply_patch"] {
        assert!(
            first.tool_names().iter().any(|t| t == tool),
            "{tool} not offered"
        );
    }

    let events = parse(&mut codex, &run);
    let thread = run.thread_id();
    assert_eq!(
        events[..events.len() - 1],
        [
            AgentEvent::Started {
                session_id: thread,
                model: Some("gpt-5.5".into())
            },
            AgentEvent::Text {
                text: "Creating hello.txt.".into()
            },
            AgentEvent::ToolUse {
                name: "apply_patch".into(),
                summary: "add hello.txt".into()
            },
            AgentEvent::ToolResult {
                is_error: false,
                summary: "completed: add hello.txt".into()
            },
            AgentEvent::ToolUse {
                name: "exec".into(),
                summary: "echo hi >> hello.txt && cat hello.txt".into()
            },
            AgentEvent::ToolResult {
                is_error: false,
                summary: "exit 0: 2 lines".into()
            },
            AgentEvent::ToolUse {
                name: "apply_patch".into(),
                summary: "update HANDOFF.md".into()
            },
            AgentEvent::ToolResult {
                is_error: false,
                summary: "completed: update HANDOFF.md".into()
            },
            AgentEvent::Text {
                text: "All done: hello.txt created, appended, HANDOFF.md updated.".into()
            },
        ]
    );
    let end = finished(&events);
    assert!(!end.is_error);
    assert_eq!(
        end.result,
        "All done: hello.txt created, appended, HANDOFF.md updated."
    );
    // Four requests of 1000 input (200 cached) and 50 output tokens each, summed by Codex.
    assert_eq!(
        end.usage,
        Usage {
            input_tokens: 3200,
            output_tokens: 200,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 800,
        }
    );
    assert_eq!(
        end.cost_usd,
        Some((3200.0 * 1.25 + 800.0 * 0.125 + 200.0 * 10.0) / 1e6)
    );
    assert!(
        !codex::is_sandbox_unavailable(&run.stderr),
        "{}",
        run.stderr
    );

    check_or_capture_fixture(&run, repo.path());
}

/// The committed sample must keep the shape of what the pinned CLI prints; with `CAPTURE_VAR`
/// set, this run becomes the new sample.
fn check_or_capture_fixture(run: &CodexRun, repo: &Path) {
    let repo = repo.to_str().expect("UTF-8 path");
    if std::env::var_os(CAPTURE_VAR).is_some() {
        std::fs::write(FIXTURE, run.stdout.replace(repo, "/home/user/project"))
            .expect("write fixture");
    }
    let fixture = std::fs::read_to_string(FIXTURE).expect("read fixture");
    let sample = CodexRun {
        status: run.status,
        events: fixture
            .lines()
            .map(|l| serde_json::from_str(l).expect("fixture line is JSON"))
            .collect(),
        stdout: fixture.clone(),
        stderr: String::new(),
        elapsed: run.elapsed,
    };
    assert_eq!(
        sample.shape(),
        run.shape(),
        "the CLI's stream changed shape"
    );
}

#[test]
fn resume_continues_the_thread_and_needs_every_flag_again() {
    let binary = require_codex!();
    let repo = TempRepo::with_files(&[("README.md", "# demo\n")]);
    let mock = MockOpenAi::start(
        Script::new().turns([
            Turn::reply("First answer.").expect_prompt("first prompt"),
            Turn::reply("Second answer.")
                .expect_prompt("second prompt")
                .expect(Expect::ConversationContains("first prompt".into()))
                .expect(Expect::ConversationContains("First answer.".into())),
            Turn::reply("Third answer.").expect_prompt("third prompt"),
        ]),
    );
    let env = CodexEnv::new(&mock);
    let mut codex = adapter(&binary);

    let run1 = env.run(
        &codex.command("first prompt", None, repo.path()),
        repo.path(),
    );
    let thread = run1.thread_id();
    let first = parse(&mut codex, &run1);
    let resume = codex.command("second prompt", Some(&thread), repo.path());
    let line = resume.display();
    assert!(
        line.ends_with(&format!(
            "exec --json --sandbox workspace-write -c shell_environment_policy.ignore_default_excludes=false resume {thread} -"
        )),
        "{line}"
    );
    let run2 = env.run(&resume, repo.path());
    let second = parse(&mut codex, &run2);

    assert_eq!(run2.code(), Some(0), "{}", run2.describe());
    assert_eq!(run2.thread_id(), thread, "resume keeps the thread id");
    let requests = mock.requests();
    assert_eq!(requests[1].thread_id.as_deref(), Some(thread.as_str()));
    assert_eq!(requests[1].sandbox_mode(), Some("workspace-write"));
    // Codex reports the thread's total after a resume; the adapter counts this invocation once.
    assert_eq!(run2.last()["usage"]["input_tokens"], 2000);
    assert_eq!(finished(&first).usage, finished(&second).usage);
    assert_eq!(finished(&second).usage.input_tokens, 800);
    assert_eq!(finished(&second).result, "Second answer.");

    // Without the flag the resumed thread runs read-only: the CLI does not remember it.
    let bare = os(&["exec", "--json", "resume", &thread, "-"]);
    let run3 = env.run_args(&binary, &bare, b"third prompt", repo.path());
    assert_eq!(run3.code(), Some(0), "{}", run3.describe());
    assert_eq!(mock.requests()[2].sandbox_mode(), Some("read-only"));
    mock.assert_script_done();

    // And `resume` itself does not take `--sandbox`: a usage error, nothing on stdout.
    let misplaced = os(&[
        "exec",
        "--json",
        "resume",
        "--sandbox",
        "workspace-write",
        &thread,
        "-",
    ]);
    let run4 = env.run_args(&binary, &misplaced, b"x", repo.path());
    assert_eq!(run4.code(), Some(2), "{}", run4.describe());
    assert!(run4.stdout.is_empty());
    assert!(
        run4.stderr.contains("unexpected argument '--sandbox'"),
        "{}",
        run4.stderr
    );
}

#[test]
fn unknown_thread_and_empty_prompt_exit_1_before_any_request() {
    let binary = require_codex!();
    let repo = TempRepo::with_files(&[("README.md", "# demo\n")]);
    let mock = MockOpenAi::start(Script::new());
    let env = CodexEnv::new(&mock);
    let codex = adapter(&binary);

    let unknown = "01a23eaa-0000-7000-8000-000000000000";
    let run = env.run(&codex.command("x", Some(unknown), repo.path()), repo.path());
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert!(run.stdout.is_empty(), "{}", run.describe());
    assert!(
        run.stderr
            .contains(&format!("no rollout found for thread id {unknown}")),
        "{}",
        run.stderr
    );

    let run = env.run(&codex.command("", None, repo.path()), repo.path());
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("No prompt provided via stdin."),
        "{}",
        run.stderr
    );
    assert!(mock.all_requests().is_empty());
}

#[test]
fn workspace_write_lets_the_repo_and_tmp_be_written_but_not_git_home_or_network() {
    let binary = require_codex!();
    let repo = TempRepo::with_files(&[("README.md", "# demo\n")]);
    let scratch = tempfile::tempdir().expect("temp dir");
    let in_tmp = scratch.path().join("in-tmp.txt");
    // A port that accepts connections: from outside the sandbox a connection would succeed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let mock = MockOpenAi::start(
        Script::new().turns([
            Turn::exec("echo data > inside.txt && cat inside.txt"),
            Turn::exec("git add -A && git commit -qm sneaky").expect_tool_output("data"),
            Turn::exec(format!(
                "curl -sS -m 3 http://127.0.0.1:{port}/ ; echo curl=$?"
            ))
            .expect_tool_output("index.lock': Read-only file system"),
            Turn::exec("touch \"$HOME/outside.txt\"").expect_tool_output("curl=7"),
            Turn::exec(format!("touch {}", in_tmp.display()))
                .expect_tool_output("Read-only file system"),
            Turn::reply("Done.").expect_tool_output("Process exited with code 0"),
        ]),
    );
    let env = CodexEnv::new(&mock);
    let codex = adapter(&binary);

    let run = env.run(
        &codex.command("Write things.", None, repo.path()),
        repo.path(),
    );

    mock.assert_script_done();
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(repo.read("inside.txt"), "data\n");
    assert_eq!(
        repo.log_subjects(),
        ["Initial commit"],
        "git commit must fail"
    );
    assert_eq!(repo.status(), "?? inside.txt");
    assert!(!env.home().join("outside.txt").exists());
    assert!(
        in_tmp.exists(),
        "the temp dir is writable in workspace-write"
    );
    // The model saw each failure; the stream may omit some denied commands entirely, so what
    // the agent did is judged from the repository, not from the stream.
    let outputs: Vec<String> = mock.requests()[1..]
        .iter()
        .flat_map(crate::support::mock_openai::RecordedRequest::last_tool_outputs)
        .collect();
    assert!(
        outputs[1].contains("Process exited with code 128"),
        "{outputs:?}"
    );
    assert!(
        outputs[3].contains("Process exited with code 1"),
        "{outputs:?}"
    );
}

#[test]
fn secrets_in_the_environment_are_hidden_from_commands() {
    let binary = require_codex!();
    let repo = TempRepo::with_files(&[("README.md", "# demo\n")]);
    let mock = MockOpenAi::start(Script::new().turns([
        Turn::exec("env | sort"),
        Turn::reply("Listed."),
        Turn::exec("env | sort"),
        Turn::reply("Listed."),
    ]));
    let env = CodexEnv::new(&mock)
        .var("DEPLOY_TOKEN", "tok-123")
        .var("PLAIN_SETTING", "visible");
    let codex = adapter(&binary);

    let run = env.run(&codex.command("List env.", None, repo.path()), repo.path());
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let hidden = mock.requests()[1].last_tool_outputs().join("\n");
    assert!(hidden.contains("PLAIN_SETTING=visible"), "{hidden}");
    assert!(!hidden.contains("tok-123"), "{hidden}");
    assert!(!hidden.contains("sk-mock-key"), "{hidden}");

    // Codex's default hands everything over, the provider's own key included.
    let bare = os(&["exec", "--json", "--sandbox", "workspace-write", "-"]);
    let run = env.run_args(&binary, &bare, b"List env.", repo.path());
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let shown = mock.requests()[3].last_tool_outputs().join("\n");
    assert!(shown.contains("DEPLOY_TOKEN=tok-123"), "{shown}");
    assert!(
        shown.contains(&format!("{MOCK_KEY_VAR}=sk-mock-key")),
        "{shown}"
    );
    mock.assert_script_done();
}

/// The reset time Codex prints is local to its own time zone and has minute precision.
fn expected_reset(resets_at: i64) -> Timestamp {
    Timestamp::from_second(resets_at - resets_at.rem_euclid(60)).expect("timestamp")
}

#[test]
fn usage_limit_is_an_error_line_then_turn_failed_with_the_local_reset_time() {
    let binary = require_codex!();
    let repo = TempRepo::with_files(&[("README.md", "# demo\n")]);
    let zone = "America/New_York";
    let now = Zoned::now().in_tz(zone).expect("time zone");
    let soon = now.timestamp().as_second() + 2 * 3600;
    let later = now.timestamp().as_second() + 50 * 3600;
    let cases: [(Option<&str>, Option<i64>, &str); 3] = [
        (
            Some("plus"),
            Some(soon),
            "You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again at ",
        ),
        (
            None,
            Some(later),
            "You’ve hit your usage limit. Try again at ",
        ),
        (
            Some("team"),
            None,
            "You’ve hit your usage limit. To get more access now, send a request to your admin or try again later.",
        ),
    ];
    for (plan, resets_at, opening) in cases {
        let mock = MockOpenAi::start(Script::new().turn(Turn::usage_limit(plan, resets_at)));
        let env = CodexEnv::new(&mock).var("TZ", zone);
        let mut codex = adapter(&binary);

        let run = env.run(&codex.command("Work.", None, repo.path()), repo.path());

        mock.assert_script_done();
        assert_eq!(run.code(), Some(1), "{}", run.describe());
        assert_eq!(mock.requests().len(), 1, "a usage limit is not retried");
        let shape: Vec<&str> = run
            .events
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            shape,
            ["thread.started", "turn.started", "error", "turn.failed"]
        );
        let message = run.errors()[0].clone();
        assert_eq!(run.last()["error"]["message"], message.as_str());
        assert!(message.starts_with(opening), "{message}");

        let events = parse(&mut codex, &run);
        let end = finished(&events);
        assert!(end.is_error);
        assert_eq!(end.result, message);
        let limit = codex::find_usage_limit(&end.result, &Zoned::now().in_tz(zone).unwrap())
            .unwrap_or_else(|| panic!("not recognised as a limit: {message}"));
        assert_eq!(limit.resets_at, resets_at.map(expected_reset), "{message}");
        assert!(!codex::is_auth_failure(&end.result));
    }
}

#[test]
fn quota_and_rate_limit_failures_read_as_limits_without_a_reset() {
    let binary = require_codex!();
    let repo = TempRepo::with_files(&[("README.md", "# demo\n")]);
    let rate_limited = serde_json::json!({ "error": {
        "message": "Rate limit reached for gpt-5.5 on tokens per min (TPM). Please try again in 1.2s.",
        "type": "tokens", "param": null, "code": "rate_limit_exceeded",
    }});
    let cases = [
        (
            Turn::failed(
                "insufficient_quota",
                "You exceeded your current quota, please check your plan and billing details.",
            ),
            "Quota exceeded. Check your plan and billing details.",
            None,
        ),
        (
            Turn::http_error(429, rate_limited),
            "exceeded retry limit, last status: 429 Too Many Requests",
            Some(429),
        ),
    ];
    for (turn, text, status) in cases {
        let mock = MockOpenAi::start(Script::new().turn(turn));
        let env = CodexEnv::new(&mock).retries(0, 0);
        let mut codex = adapter(&binary);

        let run = env.run(&codex.command("Work.", None, repo.path()), repo.path());

        assert_eq!(run.code(), Some(1), "{}", run.describe());
        assert_eq!(run.errors(), [text]);
        let events = parse(&mut codex, &run);
        let end = finished(&events);
        assert_eq!(end.result, text);
        assert_eq!(end.api_error_status, status);
        let limit = codex::find_usage_limit(text, &Zoned::now()).expect("a limit");
        assert_eq!(limit.resets_at, None);
    }
}

#[test]
fn persistent_server_error_is_retried_then_fails_the_turn() {
    let binary = require_codex!();
    let repo = TempRepo::with_files(&[("README.md", "# demo\n")]);
    let mock = MockOpenAi::start(Script::new().turn(Turn::server_error().forever()));
    let env = CodexEnv::new(&mock).retries(0, 2);
    let mut codex = adapter(&binary);

    let run = env.run(&codex.command("Work.", None, repo.path()), repo.path());

    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert_eq!(mock.requests().len(), 3, "one request and two reconnects");
    let busy = "We’re currently experiencing high demand, which may cause temporary errors.";
    assert_eq!(
        run.errors(),
        [
            format!("Reconnecting... 1/2 ({busy})"),
            format!("Reconnecting... 2/2 ({busy})"),
            busy.to_string(),
        ]
    );
    let events = parse(&mut codex, &run);
    let retries = events
        .iter()
        .filter(|e| matches!(e, AgentEvent::Retry { .. }))
        .count();
    assert_eq!(retries, 2);
    let end = finished(&events);
    assert!(end.is_error);
    assert_eq!(end.result, busy);
    assert!(codex::find_usage_limit(busy, &Zoned::now()).is_none());
    assert!(!codex::is_auth_failure(busy));
}

#[test]
fn a_refused_key_and_a_missing_key_read_as_auth_failures() {
    let binary = require_codex!();
    let repo = TempRepo::with_files(&[("README.md", "# demo\n")]);
    let mock = MockOpenAi::start(Script::new().turn(Turn::unauthorized().forever()));
    let env = CodexEnv::new(&mock).retries(0, 1);
    let mut codex = adapter(&binary);

    let run = env.run(&codex.command("Work.", None, repo.path()), repo.path());

    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert_eq!(mock.requests().len(), 2, "Codex retries even a 401");
    assert_eq!(
        mock.requests()[0].authorization.as_deref(),
        Some("Bearer sk-mock-key")
    );
    let end = finished(&parse(&mut codex, &run)).clone();
    assert_eq!(
        end.result,
        format!(
            "unexpected status 401 Unauthorized: Incorrect API key provided: sk-mock. You can find your API key at https://platform.openai.com/account/api-keys., url: {}/responses",
            mock.base_url()
        )
    );
    assert_eq!(end.api_error_status, Some(401));
    assert!(codex::is_auth_failure(&end.result));

    let env = CodexEnv::new(&mock).without_api_key();
    let run = env.run(&codex.command("Work.", None, repo.path()), repo.path());
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert_eq!(mock.requests().len(), 2, "no request without a key");
    let end = finished(&parse(&mut codex, &run)).clone();
    assert_eq!(
        end.result,
        format!("Missing environment variable: `{MOCK_KEY_VAR}`.")
    );
    assert!(codex::is_auth_failure(&end.result));
}

#[test]
fn codex_home_under_tmp_leaves_the_sandbox_unusable_while_the_run_succeeds() {
    let binary = require_codex!();
    let repo = TempRepo::with_files(&[("README.md", "# demo\n")]);
    let mock = MockOpenAi::start(
        Script::new().turns([
            Turn::add_file("new.txt", "x\n"),
            Turn::exec("echo hi").expect_tool_output("Failed to write file"),
            Turn::reply("Done.")
                .expect_tool_output("bwrap: execvp codex-linux-sandbox: No such file or directory"),
        ]),
    );
    let env = CodexEnv::under_tmp(&mock);
    let codex = adapter(&binary);

    let run = env.run(&codex.command("Write.", None, repo.path()), repo.path());

    mock.assert_script_done();
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(run.last()["type"], "turn.completed");
    assert!(!repo.file("new.txt").exists());
    let changes = run.items("file_change");
    assert_eq!(changes.len(), 1, "{}", run.describe());
    assert_eq!(changes[0]["status"], "failed");
    assert!(
        run.stderr.contains(&format!(
            "WARNING: proceeding, even though we could not create PATH aliases: Refusing to create helper binaries under temporary dir \"/tmp\" (codex_home: AbsolutePathBuf(\"{}\"))",
            env.codex_home().display()
        )),
        "{}",
        run.stderr
    );
    assert!(codex::is_sandbox_unavailable(&run.stderr));
}

#[test]
fn bypass_lets_the_agent_commit_needs_no_helper_and_is_accepted_on_resume() {
    let binary = require_codex!();
    let repo = TempRepo::with_files(&[("README.md", "# demo\n")]);
    let mock = MockOpenAi::start(Script::new().turns([
        Turn::exec("echo x > a.txt && git add a.txt && git commit -qm 'Task 1' && echo committed"),
        Turn::reply("Committed.").expect_tool_output("committed"),
        Turn::reply("Still here.").expect_prompt("again"),
    ]));
    // Even with CODEX_HOME under /tmp: without a sandbox no helper is needed.
    let env = CodexEnv::under_tmp(&mock);
    let codex = Codex::new(CodexSettings {
        binary: binary.clone(),
        sandbox: codex::Sandbox::Bypass,
        ..CodexSettings::default()
    });

    let run = env.run(&codex.command("Commit.", None, repo.path()), repo.path());
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(repo.log_subjects(), ["Task 1", "Initial commit"]);
    let thread = run.thread_id();
    let run = env.run(
        &codex.command("again", Some(&thread), repo.path()),
        repo.path(),
    );
    assert_eq!(run.code(), Some(0), "{}", run.describe());

    mock.assert_script_done();
    let modes: Vec<Option<String>> = mock
        .requests()
        .iter()
        .map(|r| r.sandbox_mode().map(str::to_string))
        .collect();
    assert_eq!(modes, vec![Some("danger-full-access".to_string()); 3]);
}
