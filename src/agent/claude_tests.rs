//! The Claude Code adapter: its stream reader, the command line of each permission mode, the
//! sandbox check of `system/init`, and refusals with the setting that would allow them.

use std::ffi::OsString;
use std::path::PathBuf;

use serde_json::Value;

use super::*;
use crate::config::Settings;

/// Real stdout of the pinned Claude Code against the project's mock (paths rewritten),
/// captured by `tests/integration/claude_sample.rs`.
fn sample() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/agents/claude_stream_sample.jsonl"
    );
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// The adapter for `settings` in `/work/repo`, for a user whose home is `/home/ann`.
fn claude(settings: &Settings) -> Claude {
    let env = |name: &str| (name == "HOME").then(|| OsString::from("/home/ann"));
    let inputs =
        super::super::claude_setup::permission_inputs(settings, Path::new("/work/repo"), &env)
            .unwrap();
    Claude::new(settings.claude.clone(), inputs).unwrap()
}

fn with_permission(permission: crate::config::Permission) -> Settings {
    let mut settings = Settings::default();
    settings.claude.permission = permission;
    settings.gates = vec!["make test-unit".to_string()];
    settings
}

fn args_of(command: &AgentCommand) -> Vec<String> {
    command
        .args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// The `--settings` document of a command line.
fn settings_json(args: &[String]) -> Value {
    let at = args
        .iter()
        .position(|a| a == "--settings")
        .unwrap_or_else(|| panic!("no --settings in {args:?}"));
    serde_json::from_str(&args[at + 1]).expect("--settings is JSON")
}

fn finished_of(events: &[AgentEvent]) -> &Finished {
    match events.last() {
        Some(AgentEvent::Finished(finished)) => finished,
        other => panic!("no result event: {other:?}"),
    }
}

const INIT_SANDBOXED: &str =
    r#"{"type":"system","subtype":"init","session_id":"s1","model":"m","sandbox_enabled":true}"#;
const INIT_UNSANDBOXED: &str =
    r#"{"type":"system","subtype":"init","session_id":"s1","model":"m","sandbox_enabled":false}"#;
const RESULT_OK: &str = r#"{"type":"result","subtype":"success","is_error":false,"result":"Done.","total_cost_usd":0.01,"usage":{},"permission_denials":[]}"#;
/// The only stdout line of 2.1.332 with `bwrap` missing from PATH (abridged).
const NO_BWRAP: &str = r#"{"type":"result","subtype":"error_during_execution","is_error":true,"num_turns":0,"session_id":"9ab7","total_cost_usd":0,"permission_denials":[],"errors":["Sandbox required but unavailable: sandbox is enabled but dependencies are missing: bubblewrap (bwrap) not installed · install missing tools (e.g. apt install bubblewrap socat) or see https://code.claude.com/docs/en/sandboxing. Set sandbox.failIfUnavailable=false to allow unsandboxed execution."],"startup_failure_reason":"sandbox_required_unavailable"}"#;

/// How the invocation that printed `lines` ends for the runner.
fn stop_after(claude: &mut Claude, lines: &[&str]) -> Option<AgentStop> {
    let events: Vec<AgentEvent> = lines.iter().flat_map(|l| claude.parse_line(l)).collect();
    let finished = events.iter().find_map(|e| match e {
        AgentEvent::Finished(f) => Some(f.clone()),
        _ => None,
    });
    let text = finished
        .as_ref()
        .map(|f| f.result.clone())
        .unwrap_or_default();
    claude.stop_reason(&EndFacts {
        final_text: &text,
        finished: finished.as_ref(),
        stderr_tail: "",
    })
}

#[test]
fn reads_the_real_stream_sample() {
    let events: Vec<AgentEvent> = sample().lines().flat_map(parse_stream_line).collect();
    assert!(matches!(
        &events[0],
        AgentEvent::Started { session_id, .. } if session_id == "c6dcea63-47e6-40b7-8c29-94960464962b"
    ));
    let tools: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::ToolUse { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(tools, vec!["Write", "Bash", "Read", "Write"]);
    let finished = finished_of(&events);
    assert!(!finished.is_error);
    assert_eq!(finished.cost_usd, Some(0.003));
    assert_eq!(finished.usage.input_tokens, 500);
    assert_eq!(finished.usage.output_tokens, 50);
    assert_eq!(finished.turns, Some(5));
    assert_eq!(
        finished.result,
        "All done: hello.txt created, appended, HANDOFF.md updated."
    );
}

#[test]
fn error_under_success_subtype_and_denials() {
    let line = r#"{"type":"result","subtype":"success","is_error":true,"api_error_status":529,"result":"API Error: 529 overloaded","permission_denials":[{"tool_name":"Bash","tool_use_id":"t1","tool_input":{"command":"touch b.txt"}}],"total_cost_usd":0,"usage":{}}"#;
    let events = parse_stream_line(line);
    let finished = finished_of(&events);
    assert!(finished.is_error);
    assert_eq!(finished.api_error_status, Some(529));
    assert_eq!(
        finished.permission_denials,
        vec![Denial::unexplained("Bash(touch b.txt)")]
    );
}

#[test]
fn garbage_and_unknown_lines_are_tolerated() {
    assert!(parse_stream_line("not json at all").is_empty());
    assert!(parse_stream_line("[1,2]").is_empty());
    assert!(parse_stream_line("").is_empty());
    assert_eq!(
        parse_stream_line(r#"{"type":"stream_event","event":{}}"#),
        vec![AgentEvent::Unknown {
            line_type: "stream_event".to_string()
        }]
    );
}

#[test]
fn sandbox_is_the_default_and_its_settings_go_with_dont_ask() {
    let claude = claude(&with_permission(crate::config::Permission::default()));
    let command = claude.command("prompt", Some("abc"), Path::new("/work/repo"));
    let args = args_of(&command);
    assert_eq!(
        args[..8],
        [
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--resume",
            "abc",
            "--permission-mode",
            "dontAsk"
        ]
    );
    assert_eq!(args.len(), 10, "{args:?}");
    assert!(
        !args.iter().any(|a| a.contains("skip-permissions")
            || a == "--allowedTools"
            || a.contains("prompt")),
        "no bypass, no allow-list flag, the prompt on stdin: {args:?}"
    );
    assert_eq!(command.stdin, b"prompt");
    let json = settings_json(&args);
    let sandbox = &json["sandbox"];
    assert_eq!(sandbox["enabled"], true);
    assert_eq!(sandbox["failIfUnavailable"], true);
    assert_eq!(sandbox["allowUnsandboxedCommands"], false);
    assert!(sandbox.get("excludedCommands").is_none(), "{sandbox}");
    assert_eq!(sandbox["filesystem"]["allowRead"][0], "/work/repo");
    assert_eq!(sandbox["filesystem"]["denyRead"][0], "/home/ann");
    let domains = sandbox["network"]["allowedDomains"].to_string();
    assert!(
        domains.contains("pypi.org") && domains.contains("crates.io"),
        "{domains}"
    );
    assert!(
        !domains.contains("127.0.0.1") && !domains.contains("localhost"),
        "{domains}"
    );
    assert!(
        sandbox["credentials"]["envVars"]
            .to_string()
            .contains("ANTHROPIC_API_KEY"),
        "{sandbox}"
    );
    assert_eq!(json["permissions"]["denyInsteadOfPrompting"], true);
    let allow = json["permissions"]["allow"].to_string();
    assert!(allow.contains("Edit(./**)"), "{allow}");
    assert!(claude.env().is_empty(), "{:?}", claude.env());
    assert!(claude.commits_leftovers());
    assert!(claude.commit_instruction().contains("`git add -A`"));
}

#[test]
fn allowlist_and_bypass_give_their_own_arguments() {
    let allowlist = claude(&with_permission(crate::config::Permission::Allowlist));
    let args = args_of(&allowlist.command("p", None, Path::new("/work/repo")));
    let json = settings_json(&args);
    assert!(json.get("sandbox").is_none(), "no sandbox: {json}");
    let allow: Vec<&str> = json["permissions"]["allow"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(allow.contains(&"Bash(make test-unit)"), "{allow:?}");
    assert!(allow.contains(&"Bash(git commit:*)"), "{allow:?}");
    assert!(!allow.contains(&"Bash(git:*)"), "{allow:?}");
    assert!(!allowlist.commits_leftovers());

    let settings = with_permission(crate::config::Permission::Bypass);
    let bypass = claude(&settings);
    let args = args_of(&bypass.command("p", None, Path::new("/work/repo")));
    assert_eq!(args[4..], ["--dangerously-skip-permissions"]);
    // As root the CLI refuses bypass without IS_SANDBOX=1.
    let env = |name: &str| (name == "HOME").then(|| OsString::from("/home/ann"));
    let mut inputs =
        super::super::claude_setup::permission_inputs(&settings, Path::new("/work/repo"), &env)
            .unwrap();
    inputs.running_as_root = true;
    let as_root = Claude::new(settings.claude.clone(), inputs).unwrap();
    assert_eq!(as_root.env(), [("IS_SANDBOX".to_string(), "1".to_string())]);
}

#[test]
fn a_loopback_network_entry_is_refused_before_anything_runs() {
    let mut settings = Settings::default();
    settings.sandbox.network = Some(vec!["127.0.0.1".to_string()]);
    let env = |name: &str| (name == "HOME").then(|| OsString::from("/home/ann"));
    let inputs =
        super::super::claude_setup::permission_inputs(&settings, Path::new("/work/repo"), &env)
            .unwrap();
    let err = Claude::new(settings.claude.clone(), inputs)
        .err()
        .expect("a loopback domain is an error");
    assert!(err.to_string().contains("loopback"), "{err}");
}

#[test]
fn a_sandboxed_run_goes_on_only_when_init_says_the_sandbox_is_on() {
    let mut sandboxed = claude(&Settings::default());
    assert_eq!(
        stop_after(&mut sandboxed, &[INIT_SANDBOXED, RESULT_OK]),
        None
    );
    assert!(!sandboxed.must_stop());

    sandboxed.parse_line(INIT_UNSANDBOXED);
    assert!(sandboxed.must_stop(), "stopped without waiting for its end");
    let Some(AgentStop::Unavailable(message)) = stop_after(&mut sandboxed, &[RESULT_OK]) else {
        panic!("an unsandboxed start stops the task")
    };
    assert!(message.contains("started without its sandbox"), "{message}");

    // The next invocation starts sandboxed again: the state is per invocation.
    assert_eq!(
        stop_after(&mut sandboxed, &[INIT_SANDBOXED, RESULT_OK]),
        None
    );

    let Some(AgentStop::Unavailable(message)) = stop_after(&mut sandboxed, &[NO_BWRAP]) else {
        panic!("a start the sandbox refused stops the task")
    };
    assert!(
        message.contains("bubblewrap (bwrap) not installed"),
        "{message}"
    );
    assert!(
        message.contains("apt install bubblewrap socat"),
        "{message}"
    );
    assert!(message.contains("permission = \"allowlist\""), "{message}");
    assert!(!message.contains("failIfUnavailable=false"), "{message}");

    // Other modes ask for no sandbox: an unsandboxed init is what they expect.
    let mut allowlist = claude(&with_permission(crate::config::Permission::Allowlist));
    assert_eq!(
        stop_after(&mut allowlist, &[INIT_UNSANDBOXED, RESULT_OK]),
        None
    );
    assert!(!allowlist.must_stop());
}

#[test]
fn refusals_are_explained_with_the_setting_that_would_allow_them() {
    let mut claude = claude(&Settings::default());
    let lines = [
        INIT_SANDBOXED,
        r#"{"type":"system","subtype":"permission_denied","tool_name":"WebFetch","tool_use_id":"t2","message":"Permission to use WebFetch has been denied."}"#,
        r#"{"type":"result","subtype":"success","is_error":false,"result":"Done.","usage":{},"permission_denials":[{"tool_name":"Read","tool_use_id":"t1","tool_input":{"file_path":"/home/ann/.ssh/id_rsa"}}]}"#,
    ];
    let events: Vec<AgentEvent> = lines.iter().flat_map(|l| claude.parse_line(l)).collect();
    let denials = &finished_of(&events).permission_denials;
    assert_eq!(denials.len(), 2, "{denials:#?}");
    assert_eq!(denials[0].call, "Read(/home/ann/.ssh/id_rsa)");
    assert_eq!(
        denials[0].explanation,
        "reading `/home/ann/.ssh/id_rsa` was refused; `~/.ssh` holds credentials, always hidden from the agent; no setting shows it"
    );
    assert_eq!(
        denials[1].call, "WebFetch",
        "the system line's refusal is kept"
    );
    assert!(
        denials[1]
            .explanation
            .contains("WebFetch runs outside the sandbox"),
        "{}",
        denials[1].explanation
    );
}

#[test]
fn the_header_says_what_each_mode_allows() {
    let mut settings = Settings {
        gates: vec!["make test-unit".to_string()],
        ..Settings::default()
    };
    settings.sandbox.network = Some(vec!["pypi.org".to_string()]);
    assert_eq!(
        claude(&settings).permission().to_string(),
        "sandbox: any command, inside Claude Code's sandbox; writes only to the repository, ~/.cache, ~/.cargo, ~/.npm, ~/.local/share/uv, ~/go/pkg; network only to pypi.org; home directory and secrets hidden"
    );
    settings.sandbox.network = Some(Vec::new());
    assert!(
        claude(&settings)
            .permission()
            .to_string()
            .contains("; no network;")
    );
    settings.claude.permission = crate::config::Permission::Allowlist;
    settings.claude.allowed_tools = vec!["Bash(npm run lint)".to_string()];
    assert_eq!(
        claude(&settings).permission().to_string(),
        "allowlist, not a security boundary: no sandbox; reads and edits in the repository; commands only git add/commit/status/diff/log, make test-unit; + 1 configured rule"
    );
    settings.claude.permission = crate::config::Permission::Bypass;
    assert_eq!(
        claude(&settings).permission().to_string(),
        "bypass: every tool and command allowed without asking, no sandbox (your explicit choice)"
    );
}

#[test]
fn the_project_s_own_allow_rules_are_counted_in_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".claude")).unwrap();
    let rules: Vec<String> = (0..45).map(|i| format!("\"Bash(t{i}:*)\"")).collect();
    std::fs::write(
        repo.join(".claude/settings.local.json"),
        format!(r#"{{"permissions":{{"allow":[{}]}}}}"#, rules.join(",")),
    )
    .unwrap();
    std::fs::write(repo.join(".claude/settings.json"), "{}").unwrap();
    let home: PathBuf = dir.path().join("home");
    let env = |name: &str| (name == "HOME").then(|| home.clone().into_os_string());
    let settings = Settings::default();
    let inputs = super::super::claude_setup::permission_inputs(&settings, &repo, &env).unwrap();
    let claude = Claude::new(settings.claude.clone(), inputs).unwrap();
    let header = claude.permission().to_string();
    assert!(
        header.ends_with(
            "; home directory and secrets hidden; + 45 allow rules from .claude/settings.local.json"
        ),
        "{header}"
    );
}

#[test]
fn a_validation_task_s_docker_is_warned_about() {
    let claude = claude(&Settings::default());
    let warnings = claude.preflight("### Task 9: VALIDATION\nRun `docker compose up -d`.");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("sandboxed commands cannot reach the Docker daemon"),
        "{}",
        warnings[0]
    );
    assert!(
        warnings[0].contains("[agent.claude] permission = \"allowlist\""),
        "{}",
        warnings[0]
    );
}
