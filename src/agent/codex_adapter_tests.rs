//! The Codex adapter as the runner uses it: who commits, why an invocation stops the task, and
//! how a thread's usage and cost are carried across resumes.

use super::*;

fn sandboxed() -> Codex {
    Codex::new(CodexSettings::default())
}

fn bypass() -> Codex {
    Codex::new(CodexSettings {
        sandbox: Sandbox::Bypass,
        ..CodexSettings::default()
    })
}

/// Feeds `lines` to `codex` and returns the `Finished` they end with, if any.
fn feed(codex: &mut Codex, lines: &[&str]) -> Option<Finished> {
    lines
        .iter()
        .flat_map(|l| codex.parse_line(l))
        .filter_map(|e| match e {
            AgentEvent::Finished(f) => Some(f),
            _ => None,
        })
        .last()
}

/// The stop reason of an invocation that printed `lines`, with `stderr`.
fn stop(codex: &mut Codex, lines: &[&str], stderr: &str) -> Option<AgentStop> {
    let finished = feed(codex, lines);
    let text = finished
        .as_ref()
        .map(|f| f.result.clone())
        .unwrap_or_default();
    codex.stop_reason(&EndFacts {
        final_text: &text,
        finished: finished.as_ref(),
        stderr_tail: stderr,
    })
}

const STARTED: &str = r#"{"type":"thread.started","thread_id":"T1"}"#;
const COMPLETED: &str = r#"{"type":"turn.completed","usage":{"input_tokens":1000,"cached_input_tokens":200,"output_tokens":50}}"#;

fn failed(message: &str) -> String {
    serde_json::json!({"type": "turn.failed", "error": {"message": message}}).to_string()
}

#[test]
fn sandboxed_codex_leaves_commits_to_the_runner_and_is_told_so() {
    let codex = sandboxed();
    assert!(!codex.commits_itself());
    assert!(
        codex
            .commit_instruction()
            .starts_with("Do not commit: in this sandbox `.git` is read-only")
    );
    let codex = bypass();
    assert!(codex.commits_itself());
    assert_eq!(codex.commit_instruction(), COMMIT_BY_NAME);
}

#[test]
fn a_refused_or_missing_key_stops_at_once() {
    let refused = failed(
        "unexpected status 401 Unauthorized: Incorrect API key provided: sk-x., url: http://127.0.0.1:1/v1/responses",
    );
    assert!(matches!(
        stop(&mut sandboxed(), &[STARTED, &refused], ""),
        Some(AgentStop::NotAuthenticated(m)) if m.starts_with("unexpected status 401")
    ));
    // No stream at all, the reason on stderr.
    assert_eq!(
        stop(&mut sandboxed(), &[], "Error: Not logged in\n"),
        Some(AgentStop::NotAuthenticated("Error: Not logged in".into()))
    );
    // A finished turn that talks about logins is work to verify.
    let talk = r#"{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"Fixed the not logged in banner."}}"#;
    assert_eq!(
        stop(&mut sandboxed(), &[STARTED, talk, COMPLETED], ""),
        None
    );
}

#[test]
fn a_usage_limit_is_read_from_the_text_or_from_a_structured_field() {
    let limit = failed("You’ve hit your usage limit. Try again at Dec 5th, 2036 8:28 PM.");
    match stop(&mut sandboxed(), &[STARTED, &limit], "") {
        Some(AgentStop::UsageLimit(found)) => assert!(found.resets_at.is_some(), "{found:?}"),
        other => panic!("{other:?}"),
    }
    // A reset time in a field of its own completes a text that has none, or makes a limit of a
    // failure the text alone does not name.
    let structured = serde_json::json!({"type": "turn.failed", "error": {
        "message": "You’ve hit your usage limit. Try again later.",
        "codex_error_info": {"usage_limit_exceeded": {"resets_at": 2_000_000_000}}
    }})
    .to_string();
    let expected = Timestamp::from_second(2_000_000_000).unwrap();
    assert_eq!(
        stop(&mut sandboxed(), &[STARTED, &structured], ""),
        Some(AgentStop::UsageLimit(UsageLimit {
            message: "You’ve hit your usage limit. Try again later.".into(),
            resets_at: Some(expected),
        }))
    );
    let unnamed = serde_json::json!({"type": "turn.failed", "error": {
        "message": "slow down", "resets_at": "2033-05-18T03:33:20Z"
    }})
    .to_string();
    assert!(matches!(
        stop(&mut sandboxed(), &[STARTED, &unnamed], ""),
        Some(AgentStop::UsageLimit(UsageLimit { resets_at: Some(at), .. })) if at == expected
    ));
    // The field belongs to its invocation: the next thread starts without it.
    let mut codex = sandboxed();
    stop(&mut codex, &[STARTED, &unnamed], "");
    assert_eq!(
        stop(&mut codex, &[STARTED, &failed("stream disconnected")], ""),
        None
    );
    // A completed turn that mentions a limit is verified, not waited on.
    let talk = r#"{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"Handled 429 Too Many Requests in the client."}}"#;
    assert_eq!(
        stop(&mut sandboxed(), &[STARTED, talk, COMPLETED], ""),
        None
    );
}

#[test]
fn an_unusable_sandbox_is_seen_in_command_output_or_stderr() {
    let denied = r#"{"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc 'ls'","aggregated_output":"bwrap: execvp codex-linux-sandbox: No such file or directory\n","exit_code":1,"status":"failed"}}"#;
    match stop(&mut sandboxed(), &[STARTED, denied, COMPLETED], "") {
        Some(AgentStop::Unavailable(message)) => {
            assert!(
                message.starts_with("Codex's sandbox does not work here (bwrap: execvp codex-linux-sandbox: No such file or directory)."),
                "{message}"
            );
            for part in ["CODEX_HOME", "bubblewrap", "permission = \"bypass\""] {
                assert!(message.contains(part), "{part}: {message}");
            }
        }
        other => panic!("{other:?}"),
    }
    let warning = "2026-11-30 WARN something\nWARNING: proceeding, even though we could not create PATH aliases: Refusing to create helper binaries under temporary dir \"/tmp\" (codex_home: AbsolutePathBuf(\"/tmp/c\"))\n";
    assert!(matches!(
        stop(&mut sandboxed(), &[STARTED, COMPLETED], warning),
        Some(AgentStop::Unavailable(m)) if m.contains("(WARNING: proceeding, even though")
    ));
    // Without a sandbox such output is the project's own business.
    assert_eq!(
        stop(&mut bypass(), &[STARTED, denied, COMPLETED], warning),
        None
    );
    // A later invocation that ran fine is not judged by an earlier one.
    let mut codex = sandboxed();
    stop(&mut codex, &[STARTED, denied, COMPLETED], "");
    assert_eq!(stop(&mut codex, &[STARTED, COMPLETED], ""), None);
}

#[test]
fn an_incomplete_install_and_a_lost_thread_name_their_fix() {
    let launcher = "file:///usr/lib/node_modules/@openai/codex/bin/codex.js:100\n  throw new Error(\nError: Missing optional dependency @openai/codex-linux-x64. Reinstall Codex: npm install -g @openai/codex@latest\n";
    assert!(matches!(
        stop(&mut sandboxed(), &[], launcher),
        Some(AgentStop::Unavailable(m)) if m.starts_with("Codex CLI is not completely installed (Error: Missing optional dependency @openai/codex-linux-x64.")
            && m.ends_with("reinstall it: npm install -g @openai/codex")
    ));
    let lost = "Error: thread/resume: thread/resume failed: no rollout found for thread id 0199-abc (code -32600)\n";
    assert!(matches!(
        stop(&mut sandboxed(), &[], lost),
        Some(AgentStop::Unavailable(m)) if m.starts_with("Codex has no thread 0199-abc to resume") && m.contains("CODEX_HOME")
    ));
    // A crash with nothing recognisable is the runner's to judge (a fix attempt).
    assert_eq!(
        stop(&mut sandboxed(), &[STARTED], "Segmentation fault\n"),
        None
    );
}

#[test]
fn a_thread_resumed_by_a_new_process_is_seeded_from_the_record_once() {
    let mut codex = sandboxed();
    let recorded = Usage {
        input_tokens: 800,
        output_tokens: 50,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 200,
    };
    codex.resuming("T1", &recorded);
    let second = r#"{"type":"turn.completed","usage":{"input_tokens":2500,"cached_input_tokens":500,"output_tokens":120}}"#;
    let usage = feed(&mut codex, &[STARTED, second]).unwrap().usage;
    assert_eq!(usage.input_tokens, 2000 - 800);
    assert_eq!(usage.cache_read_input_tokens, 300);
    assert_eq!(usage.output_tokens, 70);
    // What this process saw itself is newer than any record handed in later.
    codex.resuming("T1", &recorded);
    let third = r#"{"type":"turn.completed","usage":{"input_tokens":2600,"cached_input_tokens":500,"output_tokens":130}}"#;
    let usage = feed(&mut codex, &[STARTED, third]).unwrap().usage;
    assert_eq!((usage.input_tokens, usage.output_tokens), (100, 10));
}

#[test]
fn the_cost_is_the_threads_so_far_as_for_claude() {
    let mut prices = PriceTable::new();
    prices.insert(
        "gpt-5.5",
        Price {
            input: 1.0,
            cached_input: 0.1,
            output: 10.0,
        },
    );
    let mut codex = Codex::new(CodexSettings {
        model: Some("gpt-5.5".into()),
        prices,
        ..CodexSettings::default()
    });
    let first = feed(&mut codex, &[STARTED, COMPLETED]).unwrap();
    assert_eq!(first.cost_usd, Some((800.0 + 20.0 + 500.0) / 1e6));
    let resumed = r#"{"type":"turn.completed","usage":{"input_tokens":3000,"cached_input_tokens":1000,"output_tokens":100}}"#;
    let second = feed(&mut codex, &[STARTED, resumed]).unwrap();
    assert_eq!(second.usage.input_tokens, 2000 - 800, "tokens: this turn's");
    assert_eq!(
        second.cost_usd,
        Some((2000.0 + 100.0 + 1000.0) / 1e6),
        "cost: the thread's, which the runner keeps the latest of"
    );
}
