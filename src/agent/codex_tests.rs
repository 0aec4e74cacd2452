use std::path::PathBuf;

use super::*;

/// Real stdout of Codex 0.169.0 against the project's mock (paths rewritten to
/// /home/user/project); `real_codex` checks that the pinned CLI still prints this shape.
const SAMPLE: &str = include_str!("../../tests/fixtures/agents/codex_stream_sample.jsonl");

fn settings() -> CodexSettings {
    CodexSettings {
        binary: PathBuf::from("codex"),
        ..CodexSettings::default()
    }
}

fn finished_of(events: &[AgentEvent]) -> &Finished {
    match events.last() {
        Some(AgentEvent::Finished(finished)) => finished,
        other => panic!("no Finished at the end: {other:?}"),
    }
}

fn zoned(text: &str) -> Zoned {
    text.parse().expect("zoned time")
}

#[test]
fn reads_the_captured_real_sample() {
    let mut codex = Codex::new(settings());
    let events: Vec<AgentEvent> = SAMPLE.lines().flat_map(|l| codex.parse_line(l)).collect();
    assert_eq!(
        events,
        vec![
            AgentEvent::Started {
                session_id: "01a23ebf-6408-7042-a28e-62f4d9522f0c".into(),
                model: None,
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
            AgentEvent::Finished(Finished {
                is_error: false,
                subtype: "success".into(),
                result: "All done: hello.txt created, appended, HANDOFF.md updated.".into(),
                cost_usd: None,
                usage: Usage {
                    input_tokens: 3200,
                    output_tokens: 200,
                    cache_creation_input_tokens: 0,
                    cache_read_input_tokens: 800,
                },
                turns: None,
                permission_denials: Vec::new(),
                api_error_status: None,
            }),
        ]
    );
}

#[test]
fn the_pure_parser_leaves_the_result_and_the_cumulative_usage_as_reported() {
    let events: Vec<AgentEvent> = SAMPLE.lines().flat_map(parse_stream_line).collect();
    let finished = finished_of(&events);
    assert_eq!(finished.result, "");
    assert_eq!(finished.usage.input_tokens, 3200);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, AgentEvent::Unknown { .. }))
    );
}

#[test]
fn command_line_for_a_new_thread_and_a_resume() {
    let codex = Codex::new(settings());
    let fresh = codex.command("Do task 1.1", None, Path::new("."));
    assert_eq!(
        fresh.display(),
        "codex exec --json --sandbox workspace-write -c shell_environment_policy.ignore_default_excludes=false -"
    );
    assert_eq!(fresh.stdin, b"Do task 1.1");
    let resumed = codex.command("Fix the gate", Some("01a2-thread"), Path::new("."));
    assert_eq!(
        resumed.display(),
        "codex exec --json --sandbox workspace-write -c shell_environment_policy.ignore_default_excludes=false resume 01a2-thread -"
    );
    assert_eq!(resumed.stdin, b"Fix the gate");
}

#[test]
fn every_option_goes_before_resume_and_is_repeated_on_it() {
    let codex = Codex::new(CodexSettings {
        binary: PathBuf::from("/opt/codex"),
        model: Some("gpt-5.5".into()),
        sandbox: Sandbox::Bypass,
        config: vec!["model_reasoning_effort=\"high\"".into()],
        extra_args: vec!["--skip-git-repo-check".into()],
        prices: PriceTable::new(),
    });
    let line = codex.command("p", Some("T"), Path::new(".")).display();
    assert_eq!(
        line,
        "/opt/codex exec --json --model gpt-5.5 --dangerously-bypass-approvals-and-sandbox -c shell_environment_policy.ignore_default_excludes=false -c 'model_reasoning_effort=\"high\"' --skip-git-repo-check resume T -"
    );
    assert!(codex.can_resume());
    assert_eq!(codex.name(), "codex");
}

#[test]
fn a_resumed_thread_counts_only_the_new_tokens() {
    let mut codex = Codex::new(settings());
    let run = |codex: &mut Codex, thread: &str, input: u64, output: u64| {
        let lines = [
            format!(r#"{{"type":"thread.started","thread_id":"{thread}"}}"#),
            format!(
                r#"{{"type":"turn.completed","usage":{{"input_tokens":{input},"cached_input_tokens":100,"cache_write_input_tokens":0,"output_tokens":{output},"reasoning_output_tokens":5}}}}"#
            ),
        ];
        let events: Vec<AgentEvent> = lines.iter().flat_map(|l| codex.parse_line(l)).collect();
        finished_of(&events).usage
    };
    let first = run(&mut codex, "A", 1000, 50);
    assert_eq!(first.input_tokens, 900);
    assert_eq!(first.cache_read_input_tokens, 100);
    // Resume: Codex reports the thread's total (1000 + 1500 input, 50 + 70 output).
    let second = run(&mut codex, "A", 2500, 120);
    assert_eq!(
        second,
        Usage {
            input_tokens: 1500,
            output_tokens: 70,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
        }
    );
    // Another thread starts from zero.
    assert_eq!(run(&mut codex, "B", 400, 10).input_tokens, 300);
    // A thread seen by an earlier process, seeded from its recorded total.
    codex.remember_usage("C", first);
    let third = run(&mut codex, "C", 1000, 50);
    assert_eq!(third.total(), 0);
}

#[test]
fn cost_comes_from_the_price_table_of_the_configured_model() {
    let mut prices = PriceTable::new();
    let price = Price {
        input: 2.0,
        cached_input: 0.5,
        output: 8.0,
    };
    prices.insert("gpt-5.5", price);
    let usage = Usage {
        input_tokens: 1_000_000,
        output_tokens: 500_000,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 2_000_000,
    };
    assert_eq!(prices.cost_usd("gpt-5.5", &usage), Some(2.0 + 1.0 + 4.0));
    assert_eq!(
        prices.cost_usd("gpt-5.5-2026-10-01", &usage),
        Some(7.0),
        "a dated snapshot has its base model's price"
    );
    assert_eq!(prices.cost_usd("gpt-5.5-mini", &usage), None);
    assert_eq!(prices.cost_usd("o9", &usage), None);

    let table: PriceTable =
        toml::from_str("\"gpt-5.5\" = { input = 2.0, cached_input = 0.5, output = 8.0 }")
            .expect("price table from TOML");
    assert_eq!(table.price("gpt-5.5"), Some(&price));

    let mut codex = Codex::new(CodexSettings {
        model: Some("gpt-5.5".into()),
        prices,
        ..settings()
    });
    let events: Vec<AgentEvent> = SAMPLE.lines().flat_map(|l| codex.parse_line(l)).collect();
    assert_eq!(
        finished_of(&events).cost_usd,
        Some((3200.0 * 2.0 + 800.0 * 0.5 + 200.0 * 8.0) / 1e6)
    );
    let mut unpriced = Codex::new(settings());
    let events: Vec<AgentEvent> = SAMPLE
        .lines()
        .flat_map(|l| unpriced.parse_line(l))
        .collect();
    assert_eq!(finished_of(&events).cost_usd, None, "no model, no price");
}

#[test]
fn a_failed_turn_finishes_with_the_error_and_its_status() {
    let line = r#"{"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized: Incorrect API key provided: sk-mock., url: http://127.0.0.1:1/v1/responses"}}"#;
    let events = parse_stream_line(line);
    let finished = finished_of(&events);
    assert!(finished.is_error);
    assert_eq!(finished.subtype, "turn_failed");
    assert!(
        finished
            .result
            .starts_with("unexpected status 401 Unauthorized")
    );
    assert_eq!(finished.api_error_status, Some(401));
    let retry_limit = r#"{"type":"turn.failed","error":{"message":"exceeded retry limit, last status: 429 Too Many Requests"}}"#;
    assert_eq!(
        finished_of(&parse_stream_line(retry_limit)).api_error_status,
        Some(429)
    );
}

#[test]
fn a_failed_turn_keeps_the_usage_baseline_for_the_next_resume() {
    let mut codex = Codex::new(settings());
    for line in [
        r#"{"type":"thread.started","thread_id":"T"}"#,
        r#"{"type":"turn.completed","usage":{"input_tokens":1000,"cached_input_tokens":0,"output_tokens":10}}"#,
        r#"{"type":"thread.started","thread_id":"T"}"#,
        r#"{"type":"error","message":"You’ve hit your usage limit. Try again later."}"#,
        r#"{"type":"turn.failed","error":{"message":"You’ve hit your usage limit. Try again later."}}"#,
        r#"{"type":"thread.started","thread_id":"T"}"#,
    ] {
        codex.parse_line(line);
    }
    let events = codex.parse_line(
        r#"{"type":"turn.completed","usage":{"input_tokens":1600,"cached_input_tokens":0,"output_tokens":30}}"#,
    );
    assert_eq!(finished_of(&events).usage.input_tokens, 600);
    assert_eq!(finished_of(&events).usage.output_tokens, 20);
}

#[test]
fn errors_are_retries_while_reconnecting_and_text_otherwise() {
    assert_eq!(
        parse_stream_line(
            r#"{"type":"error","message":"Reconnecting... 1/5 (We’re currently experiencing high demand, which may cause temporary errors.)"}"#
        ),
        vec![AgentEvent::Retry {
            message: "Reconnecting... 1/5 (We’re currently experiencing high demand, which may cause temporary errors.)".into()
        }]
    );
    assert_eq!(
        parse_stream_line(
            r#"{"type":"error","message":"Quota exceeded. Check your plan and billing details."}"#
        ),
        vec![AgentEvent::Text {
            text: "Quota exceeded. Check your plan and billing details.".into()
        }]
    );
    assert_eq!(
        parse_stream_line(
            r#"{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Falling back from WebSockets to HTTPS transport."}}"#
        ),
        vec![AgentEvent::Text {
            text: "Falling back from WebSockets to HTTPS transport.".into()
        }]
    );
}

#[test]
fn a_failed_command_and_a_failed_edit_are_error_results() {
    let command = r#"{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"/bin/bash -lc 'git commit -qm t2'","aggregated_output":"fatal: Unable to create '/repo/.git/index.lock': Read-only file system\n","exit_code":128,"status":"failed"}}"#;
    assert_eq!(
        parse_stream_line(command),
        vec![AgentEvent::ToolResult {
            is_error: true,
            summary:
                "exit 128: fatal: Unable to create '/repo/.git/index.lock': Read-only file system (1 line)"
                    .into()
        }]
    );
    let edit = r#"{"type":"item.completed","item":{"id":"item_0","type":"file_change","changes":[{"path":"/repo/new.txt","kind":"add"}],"status":"failed"}}"#;
    assert_eq!(
        parse_stream_line(edit),
        vec![AgentEvent::ToolResult {
            is_error: true,
            summary: "failed: add new.txt".into()
        }]
    );
    let quoted = r#"{"type":"item.started","item":{"id":"item_2","type":"command_execution","command":"/bin/bash -lc 'echo '\\''hi'\\'''","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#;
    assert_eq!(
        parse_stream_line(quoted),
        vec![AgentEvent::ToolUse {
            name: "exec".into(),
            summary: "echo 'hi'".into()
        }]
    );
}

#[test]
fn garbage_and_unknown_lines_are_tolerated() {
    assert!(parse_stream_line("").is_empty());
    assert!(parse_stream_line("not json").is_empty());
    assert!(parse_stream_line("[1,2]").is_empty());
    assert!(parse_stream_line(r#"{"type":"turn.started"}"#).is_empty());
    assert_eq!(
        parse_stream_line(r#"{"type":"thread.archived"}"#),
        vec![AgentEvent::Unknown {
            line_type: "thread.archived".into()
        }]
    );
    assert_eq!(
        parse_stream_line(
            r#"{"type":"item.completed","item":{"id":"item_1","type":"reasoning","text":"**Planning**"}}"#
        ),
        vec![AgentEvent::Unknown {
            line_type: "item/reasoning".into()
        }]
    );
    // A line without usage still finishes, with zero tokens.
    let finished = parse_stream_line(r#"{"type":"turn.completed"}"#);
    assert_eq!(finished_of(&finished).usage, Usage::default());
}

#[test]
fn usage_limit_with_a_time_today_is_local_and_never_moved_to_tomorrow() {
    let now = zoned("2026-12-04T10:00:00-05:00[America/New_York]");
    let text = "You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again at 3:28 PM.";
    let limit = find_usage_limit(text, &now).expect("a limit");
    assert_eq!(
        limit.resets_at,
        Some(zoned("2026-12-04T15:28:00-05:00[America/New_York]").timestamp())
    );
    assert_eq!(limit.message, text);
    // Read a minute late, the reset is past: resume now, not in 24 hours.
    let late = zoned("2026-12-04T15:29:00-05:00[America/New_York]");
    assert_eq!(
        find_usage_limit(text, &late).unwrap().resets_at,
        Some(zoned("2026-12-04T15:28:00-05:00[America/New_York]").timestamp())
    );
    let midnight = "You've hit your usage limit. Try again at 12:05 AM.";
    assert_eq!(
        find_usage_limit(midnight, &now).unwrap().resets_at,
        Some(zoned("2026-12-04T00:05:00-05:00[America/New_York]").timestamp()),
        "a straight apostrophe works too; 12 AM is midnight"
    );
}

#[test]
fn usage_limit_with_a_date_or_a_delay() {
    let now = zoned("2026-12-04T10:00:00+00:00[UTC]");
    let dated = "You’ve hit your usage limit. Try again at Dec 5th, 2026 8:28 PM.";
    assert_eq!(
        find_usage_limit(dated, &now).unwrap().resets_at,
        Some(zoned("2026-12-05T20:28:00+00:00[UTC]").timestamp())
    );
    let first = "You’ve hit your usage limit. Try again at Jan 1st, 2027 12:30 PM.";
    assert_eq!(
        find_usage_limit(first, &now).unwrap().resets_at,
        Some(zoned("2027-01-01T12:30:00+00:00[UTC]").timestamp())
    );
    let delay = "You've hit your usage limit. To get more access now, send a request to your admin or try again in 3 days 6 hours 57 minutes.";
    let expected = now.timestamp() + SignedDuration::from_secs(3 * 86_400 + 6 * 3_600 + 57 * 60);
    assert_eq!(
        find_usage_limit(delay, &now).unwrap().resets_at,
        Some(expected)
    );
    let rate = "rate limit exceeded: Rate limit reached for gpt-5.5. Please try again in 1.5s.";
    assert_eq!(
        find_usage_limit(rate, &now).unwrap().resets_at,
        Some(now.timestamp() + SignedDuration::from_millis(1500))
    );
}

#[test]
fn limits_without_a_reset_and_texts_that_are_no_limit() {
    let now = zoned("2026-12-04T10:00:00+00:00[UTC]");
    for text in [
        "You’ve hit your usage limit. To get more access now, send a request to your admin or try again later.",
        "exceeded retry limit, last status: 429 Too Many Requests",
        "Quota exceeded. Check your plan and billing details.",
        "insufficient_quota",
        "Rate limit exceeded",
    ] {
        let limit = find_usage_limit(text, &now).unwrap_or_else(|| panic!("{text}"));
        assert_eq!(limit.resets_at, None, "{text}");
    }
    for text in [
        "Implemented the rate limiter; try again at 3 PM to see it.",
        "We’re currently experiencing high demand, which may cause temporary errors.",
        "All done.",
    ] {
        assert!(find_usage_limit(text, &now).is_none(), "{text}");
    }
}

#[test]
fn sandbox_unavailable_is_recognised_from_stderr_and_command_output() {
    for text in [
        "WARNING: proceeding, even though we could not create PATH aliases: Refusing to create helper binaries under temporary dir \"/tmp\" (codex_home: AbsolutePathBuf(\"/tmp/x\"))",
        "bwrap: execvp codex-linux-sandbox: No such file or directory",
        "Output:\nbwrap: No permissions to create new namespace, likely because the kernel does not allow non-privileged user namespaces.",
        "codex-linux-sandbox was required but not provided",
    ] {
        assert!(is_sandbox_unavailable(text), "{text}");
    }
    for text in [
        "fatal: Unable to create '/repo/.git/index.lock': Read-only file system",
        "ERROR codex_core::tools::router: error=request_user_input is unavailable in Default mode",
        "the bwrap package is installed",
    ] {
        assert!(!is_sandbox_unavailable(text), "{text}");
    }
}

#[test]
fn auth_failures_are_recognised() {
    for text in [
        "unexpected status 401 Unauthorized: Incorrect API key provided: sk-x., url: http://127.0.0.1:1/v1/responses",
        "unexpected status 401 Unauthorized: Missing bearer or basic authentication in header, url: https://api.openai.com/v1/responses",
        "Missing environment variable: `OPENAI_API_KEY`.",
        "Not logged in",
        "To use Codex with your ChatGPT plan, upgrade to Plus: https://chatgpt.com/explore/plus.",
        "Your access token could not be refreshed. Please log out and sign in again.",
    ] {
        assert!(is_auth_failure(text), "{text}");
    }
    for text in [
        "unexpected status 404 Not Found: nope",
        "Added a login form",
        "You’ve hit your usage limit. Try again later.",
    ] {
        assert!(!is_auth_failure(text), "{text}");
    }
}

#[test]
fn the_permission_names_the_sandbox() {
    assert_eq!(
        Codex::new(settings()).granted().to_string(),
        "sandbox (workspace-write: writes in the repository, no network; the runner commits)"
    );
    let bypass = Codex::new(CodexSettings {
        sandbox: Sandbox::Bypass,
        ..settings()
    });
    assert_eq!(bypass.granted(), crate::events::Permission::Bypass);
}
