use serde_json::json;

use super::*;

fn inputs(mode: Mode) -> PermissionInputs {
    let mut inputs = PermissionInputs::new(mode, "/home/u/project", "/home/u");
    inputs.gate_commands = vec!["make test-unit".to_string()];
    inputs.secret_paths.push("/srv/keys".to_string());
    inputs
}

fn bash(command: &str) -> Denial {
    Denial {
        tool: "Bash".to_string(),
        input: json!({ "command": command, "description": "x" }),
        tool_use_id: None,
        message: None,
    }
}

fn file_tool(tool: &str, path: &str) -> Denial {
    Denial {
        tool: tool.to_string(),
        input: json!({ "file_path": path }),
        tool_use_id: None,
        message: None,
    }
}

/// The `result` line's denials and two `system/permission_denied` lines of one 2.1.332 session
/// under the allowlist (ids and session shortened).
const RESULT: &str = r#"{"type":"result","subtype":"success","is_error":false,"permission_denials":[{"tool_name":"Bash","tool_use_id":"toolu_1","tool_input":{"command":"git log --output=/tmp/exp/outside/q","description":"x"}},{"tool_name":"Bash","tool_use_id":"toolu_3","tool_input":{"command":"touch q","description":"x"}},{"tool_name":"Read","tool_use_id":"toolu_5","tool_input":{"file_path":"/tmp/exp/secret/token.txt"}},{"tool_name":"Write","tool_use_id":"toolu_7","tool_input":{"file_path":"/tmp/exp/outside/w.txt","content":"x"}}]}"#;
const BY_RULE: &str = r#"{"type":"system","subtype":"permission_denied","tool_name":"Bash","tool_use_id":"toolu_1","decision_reason_type":"subcommandResults","message":"Permission to use Bash with command git log --output=/tmp/exp/outside/q has been denied.","uuid":"b4","session_id":"1a"}"#;
const BY_MODE: &str = r#"{"type":"system","subtype":"permission_denied","tool_name":"Bash","tool_use_id":"toolu_3","decision_reason_type":"mode","message":"Permission to use Bash has been denied because Claude Code is running in don't ask mode. IMPORTANT: …","uuid":"b5","session_id":"1a"}"#;

#[test]
fn result_denials_keep_tool_input_and_id() {
    let denials = denials_of_result(&serde_json::from_str(RESULT).unwrap());
    let tools: Vec<(&str, Option<&str>)> = denials
        .iter()
        .map(|d| (d.tool.as_str(), d.tool_use_id.as_deref()))
        .collect();
    assert_eq!(
        tools,
        [
            ("Bash", Some("toolu_1")),
            ("Bash", Some("toolu_3")),
            ("Read", Some("toolu_5")),
            ("Write", Some("toolu_7"))
        ]
    );
    assert_eq!(denials[1].input["command"], "touch q");
    assert!(denials_of_result(&json!({"type": "result"})).is_empty());
}

#[test]
fn system_lines_give_the_command_when_their_message_names_it() {
    let by_rule = denial_of_system_line(&serde_json::from_str(BY_RULE).unwrap()).unwrap();
    assert_eq!(
        by_rule.input["command"],
        "git log --output=/tmp/exp/outside/q"
    );
    assert_eq!(by_rule.tool_use_id.as_deref(), Some("toolu_1"));
    let by_mode = denial_of_system_line(&serde_json::from_str(BY_MODE).unwrap()).unwrap();
    assert_eq!(by_mode.input, Value::Null);
    assert!(by_mode.message.unwrap().contains("don't ask mode"));
    assert_eq!(
        denial_of_system_line(&json!({"type": "system", "subtype": "init"})),
        None
    );
    assert_eq!(
        explain_denial(&by_mode_denial(), &inputs(Mode::Allowlist)),
        "tool Bash was refused; the setting that would allow it is a Bash(…) rule in [agent.claude] allowed_tools, or [agent.claude] permission = \"sandbox\" (any command, sandboxed)"
    );
}

fn by_mode_denial() -> Denial {
    denial_of_system_line(&serde_json::from_str(BY_MODE).unwrap()).unwrap()
}

#[test]
fn allowlist_names_the_rule_for_each_part_no_rule_allows() {
    let allowlist = inputs(Mode::Allowlist);
    assert_eq!(
        explain_denial(&bash("python -m pytest tests/test_x.py -k one"), &allowlist),
        "command `python -m pytest tests/test_x.py -k one` was refused; the setting that would allow it is [agent.claude] allowed_tools = [\"Bash(python -m pytest:*)\"], or [agent.claude] permission = \"sandbox\" (any command, sandboxed)"
    );
    assert_eq!(
        explain_denial(
            &bash("git add a.txt && cargo test name && make test-unit"),
            &allowlist
        ),
        "command `git add a.txt && cargo test name && make test-unit` was refused; the setting that would allow it is [agent.claude] allowed_tools = [\"Bash(cargo test:*)\"], or [agent.claude] permission = \"sandbox\" (any command, sandboxed)"
    );
    assert_eq!(
        explain_denial(&bash("make test-unit -f evil.mk"), &allowlist),
        "command `make test-unit -f evil.mk` was refused; the gate command `make test-unit` is allowed only exactly as configured (options such as -f or --eval would run any code) and no setting widens it; [agent.claude] permission = \"sandbox\" runs any command inside the sandbox"
    );
}

#[test]
fn allowlist_git_options_that_reach_outside_have_no_setting() {
    let text = explain_denial(
        &bash("git log -1 --output=/tmp/x"),
        &inputs(Mode::Allowlist),
    );
    assert_eq!(
        text,
        "command `git log -1 --output=/tmp/x` was refused; kmilestone refuses it in allowlist mode (git's --output writes a file anywhere) and no setting allows it there; [agent.claude] permission = \"sandbox\" runs any command inside the sandbox"
    );
    assert!(
        explain_denial(
            &bash("git commit -q -F /etc/hostname"),
            &inputs(Mode::Allowlist)
        )
        .contains("git commit -F reads the message from any file")
    );
}

#[test]
fn hidden_paths_name_their_setting_or_say_there_is_none() {
    for mode in [Mode::Sandbox, Mode::Allowlist] {
        assert_eq!(
            explain_denial(&file_tool("Read", "/home/u/.ssh/id_rsa"), &inputs(mode)),
            "reading `/home/u/.ssh/id_rsa` was refused; `~/.ssh` holds credentials, always hidden from the agent; no setting shows it"
        );
        assert_eq!(
            explain_denial(&bash("cat /srv/keys/deploy.pem"), &inputs(mode)),
            "command `cat /srv/keys/deploy.pem` was refused; `/srv/keys` is a secret path, hidden from the agent; the setting that would show it is [agent] secret_paths (remove the path)"
        );
        // Configured paths add to the built-in ones, which no setting removes.
        assert_eq!(
            explain_denial(&bash("cat /etc/shadow"), &inputs(mode)),
            "command `cat /etc/shadow` was refused; `/etc/shadow` holds the machine's secrets, always hidden from the agent; no setting shows it"
        );
    }
    assert!(
        explain_denial(&bash("ls ~/notes"), &inputs(Mode::Sandbox))
            .contains("the home directory is hidden from the agent in sandbox mode; [agent] readable_paths (to read) or [agent] writable_paths (to write)")
    );
    // The Read tool runs outside the sandbox: a rule of its own would allow it.
    assert_eq!(
        explain_denial(
            &file_tool("Read", "/home/u/notes/todo.md"),
            &inputs(Mode::Sandbox)
        ),
        "reading `/home/u/notes/todo.md` was refused; the agent reads only inside the repository; the setting that would allow it is [agent.claude] allowed_tools = [\"Read(//home/u/notes/**)\"]"
    );
}

#[test]
fn file_tools_outside_the_repository_get_a_path_rule() {
    assert_eq!(
        explain_denial(
            &file_tool("Write", "/tmp/exp/outside/w.txt"),
            &inputs(Mode::Sandbox)
        ),
        "Write of `/tmp/exp/outside/w.txt` was refused; the agent writes only inside the repository; the setting that would allow it is [agent.claude] allowed_tools = [\"Edit(//tmp/exp/outside/**)\"]"
    );
    assert_eq!(
        explain_denial(&file_tool("Read", "/etc/passwd"), &inputs(Mode::Allowlist)),
        "reading `/etc/passwd` was refused; the agent reads only inside the repository; the setting that would allow it is [agent.claude] allowed_tools = [\"Read(//etc/**)\"]"
    );
}

#[test]
fn supervision_files_can_never_be_changed() {
    for path in [
        "/home/u/project/.git/hooks/pre-commit",
        "/home/u/project/.claude/settings.json",
    ] {
        assert_eq!(
            explain_denial(&file_tool("Write", path), &inputs(Mode::Sandbox)),
            format!(
                "Write of `{path}` was refused; the agent may never change its own supervision (.git config and hooks, .claude settings); no setting allows it"
            )
        );
    }
}

#[test]
fn sandbox_mode_web_fetch_and_bypass_mode() {
    let fetch = Denial {
        tool: "WebFetch".to_string(),
        input: json!({ "url": "https://docs.rs/serde", "prompt": "x" }),
        tool_use_id: None,
        message: None,
    };
    assert_eq!(
        explain_denial(&fetch, &inputs(Mode::Sandbox)),
        "WebFetch of `https://docs.rs/serde` was refused; WebFetch runs outside the sandbox, so sandbox mode refuses it; the setting that would allow it is [agent.claude] allowed_tools = [\"WebFetch(domain:docs.rs)\"]"
    );
    assert!(
        explain_denial(&bash("touch x"), &inputs(Mode::Sandbox))
            .contains("sandbox mode allows every command, so a deny rule")
    );
    assert!(
        explain_denial(&bash("touch x"), &inputs(Mode::Bypass))
            .ends_with("kmilestone adds no rules in bypass mode")
    );
}

#[test]
fn rule_matching_follows_prefix_and_wildcard_forms() {
    assert!(bash_rule_matches("Bash(git log:*)", "git log -1"));
    assert!(bash_rule_matches("Bash(git log:*)", "git log"));
    assert!(!bash_rule_matches("Bash(git log:*)", "git logx"));
    assert!(bash_rule_matches("Bash(make test-unit)", "make test-unit"));
    assert!(!bash_rule_matches(
        "Bash(make test-unit)",
        "make test-unit -f evil.mk"
    ));
    assert!(bash_rule_matches(
        "Bash(git * --output*)",
        "git diff HEAD --output=/x"
    ));
    assert!(!bash_rule_matches("Bash(git * --output*)", "git diff HEAD"));
    assert!(bash_rule_matches(
        "Bash(git commit *-F*)",
        "git commit -q -F msg"
    ));
    assert!(!bash_rule_matches("Read(./**)", "git log"));
}
