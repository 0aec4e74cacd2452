//! Whether the agent's commands really run sandboxed, read from its stream.
//!
//! Claude Code 2.1.332 says so in `system/init` (`"sandbox_enabled": true`). When the sandbox
//! cannot start and `failIfUnavailable` is set there is no `system/init` at all: the only line is
//! a `result` with `subtype: "error_during_execution"`, `startup_failure_reason:
//! "sandbox_required_unavailable"` and the reason in `errors` ("Sandbox required but unavailable:
//! sandbox is enabled but dependencies are missing: bubblewrap (bwrap) not installed …"), exit 1.
//! Without `failIfUnavailable` the CLI only warns on stderr, says `"sandbox_enabled": false`, and
//! runs the commands unsandboxed — which sandbox mode must never allow.

use serde_json::Value;

use super::keys;

/// What the fix is when the sandbox cannot run.
pub const SANDBOX_FIX: &str = "install bubblewrap and socat (Debian/Ubuntu: `apt install bubblewrap socat`; Fedora: `dnf install bubblewrap socat`), or choose another mode: [agent.claude] permission = \"allowlist\" (listed commands only) or \"bypass\" (everything, unsandboxed)";

/// The `startup_failure_reason` of a run the sandbox kept from starting.
const UNAVAILABLE_REASON: &str = "sandbox_required_unavailable";

/// What a stream line says about the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxState {
    /// `system/init` with `"sandbox_enabled": true`.
    Enabled,
    /// `system/init` without it (or with `false`, or `"unknown"`): commands would run unsandboxed.
    Disabled,
    /// The CLI refused to start without its sandbox; the reason is its own words.
    Unavailable { reason: String },
}

/// The sandbox state a line reports, or `None` for lines that say nothing about it.
pub fn sandbox_state(line: &Value) -> Option<SandboxState> {
    match (line["type"].as_str(), line["subtype"].as_str()) {
        (Some("system"), Some("init")) => Some(if line["sandbox_enabled"] == Value::Bool(true) {
            SandboxState::Enabled
        } else {
            SandboxState::Disabled
        }),
        (Some("result"), _) => {
            unavailable_reason(line).map(|reason| SandboxState::Unavailable { reason })
        }
        _ => None,
    }
}

fn unavailable_reason(result: &Value) -> Option<String> {
    let errors: Vec<&str> = result["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let by_reason = result["startup_failure_reason"] == UNAVAILABLE_REASON;
    let by_text = errors.iter().any(|e| {
        e.to_ascii_lowercase()
            .contains("sandbox required but unavailable")
    });
    if !(by_reason || by_text) {
        return None;
    }
    Some(errors.first().map_or_else(
        || "the sandbox is unavailable".to_string(),
        std::string::ToString::to_string,
    ))
}

/// In sandbox mode, the message that stops the run (exit 5) for a state that is not
/// [`SandboxState::Enabled`]; `None` when the sandbox is on.
pub fn sandbox_refusal(state: &SandboxState) -> Option<String> {
    let why = match state {
        SandboxState::Enabled => return None,
        SandboxState::Disabled => {
            "Claude Code started without its sandbox (system/init has no \"sandbox_enabled\": true)"
                .to_string()
        }
        SandboxState::Unavailable { reason } => {
            // The CLI's own advice ("Set sandbox.failIfUnavailable=false …") would run the
            // agent unsandboxed; the fix below replaces it.
            let reason = reason
                .split(". Set sandbox.failIfUnavailable")
                .next()
                .unwrap_or(reason);
            format!("Claude Code cannot start its sandbox: {reason}")
        }
    };
    Some(format!(
        "{why}. kmilestone does not run the agent unsandboxed in sandbox mode ({}). Fix: {SANDBOX_FIX}.",
        keys::PERMISSION
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The only stdout line of 2.1.332 with `bwrap` missing from PATH (abridged: usage dropped).
    const NO_BWRAP: &str = r#"{"type":"result","subtype":"error_during_execution","duration_ms":0,"is_error":true,"num_turns":0,"stop_reason":null,"session_id":"9ab7e7cd-9187-45d9-8bd4-96af62526195","total_cost_usd":0,"permission_denials":[],"errors":["Sandbox required but unavailable: sandbox is enabled but dependencies are missing: bubblewrap (bwrap) not installed · install missing tools (e.g. apt install bubblewrap socat) or see https://code.claude.com/docs/en/sandboxing. Set sandbox.failIfUnavailable=false to allow unsandboxed execution."],"startup_failure_reason":"sandbox_required_unavailable"}"#;

    #[test]
    fn init_says_whether_commands_are_sandboxed() {
        let init = |enabled: Value| json!({"type": "system", "subtype": "init", "sandbox_enabled": enabled});
        assert_eq!(
            sandbox_state(&init(json!(true))),
            Some(SandboxState::Enabled)
        );
        assert_eq!(
            sandbox_state(&init(json!(false))),
            Some(SandboxState::Disabled)
        );
        assert_eq!(
            sandbox_state(&init(json!("unknown"))),
            Some(SandboxState::Disabled)
        );
        assert_eq!(
            sandbox_state(&json!({"type": "system", "subtype": "init"})),
            Some(SandboxState::Disabled),
            "an older CLI that does not say is not sandboxed"
        );
    }

    #[test]
    fn the_startup_failure_is_recognised_and_its_fix_named() {
        let line: Value = serde_json::from_str(NO_BWRAP).unwrap();
        let state = sandbox_state(&line).expect("a sandbox state");
        let SandboxState::Unavailable { reason } = &state else {
            panic!("{state:?}")
        };
        assert!(
            reason.contains("bubblewrap (bwrap) not installed"),
            "{reason}"
        );
        let message = sandbox_refusal(&state).unwrap();
        assert!(
            message.contains("bubblewrap (bwrap) not installed"),
            "{message}"
        );
        assert!(
            message.contains("apt install bubblewrap socat"),
            "{message}"
        );
        assert!(message.contains("permission = \"allowlist\""), "{message}");
        assert!(
            !message.contains("failIfUnavailable=false"),
            "the CLI's advice to run unsandboxed is dropped: {message}"
        );
    }

    #[test]
    fn the_failure_is_recognised_by_its_text_alone() {
        let line = json!({"type": "result", "subtype": "error_during_execution", "is_error": true,
            "errors": ["Sandbox required but unavailable: socat not installed"]});
        assert!(matches!(
            sandbox_state(&line),
            Some(SandboxState::Unavailable { .. })
        ));
    }

    #[test]
    fn other_lines_say_nothing() {
        let ok_result =
            json!({"type": "result", "subtype": "success", "is_error": false, "errors": []});
        assert_eq!(sandbox_state(&ok_result), None);
        assert_eq!(
            sandbox_state(&json!({"type": "system", "subtype": "api_retry"})),
            None
        );
        assert_eq!(sandbox_state(&json!({"type": "assistant"})), None);
        assert_eq!(sandbox_refusal(&SandboxState::Enabled), None);
        assert!(
            sandbox_refusal(&SandboxState::Disabled)
                .unwrap()
                .contains("without its sandbox")
        );
    }
}
