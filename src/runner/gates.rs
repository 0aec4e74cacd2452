//! Running one quality gate under supervision, with the tail of its output for the fix prompt.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use crate::events::GateRecord;
use crate::process::{self, Cancel, EndedBy, Limits, LineVerdict, ProcessSpec, StdinSource};

/// The result of one gate run, with the tail of its output for the fix prompt.
#[derive(Debug, Clone)]
pub(crate) struct GateRun {
    pub record: GateRecord,
    pub output_tail: String,
}

/// How many lines of a failed gate's output go back to the agent.
const TAIL_LINES: usize = 40;
/// The most of one output line kept in the tail: its end, where the failure usually is.
const TAIL_LINE_CHARS: usize = 2000;

/// The last `max` characters of `line`, marked when cut.
fn line_end(line: &str, max: usize) -> String {
    let count = line.chars().count();
    if count <= max {
        return line.to_string();
    }
    let kept: String = line.chars().skip(count - max).collect();
    format!("[… {} characters cut] {kept}", count - max)
}

/// Runs `command` with `sh -c` in `root`, stdin closed, in its own process group, with `timeout`.
pub(crate) async fn run_gate(
    command: &str,
    root: &Path,
    timeout: Duration,
    kill_grace: Duration,
    cancel: &Cancel,
) -> Result<GateRun, process::SpawnError> {
    let spec = ProcessSpec {
        program: OsString::from("sh"),
        args: vec![OsString::from("-c"), OsString::from(command)],
        cwd: root.to_path_buf(),
        env_set: Vec::new(),
        env_remove: Vec::new(),
        stdin: StdinSource::Null,
    };
    let limits = Limits {
        idle_timeout: None,
        wall_timeout: Some(timeout),
        after_final_grace: Duration::ZERO,
        kill_grace,
    };
    let mut combined: Vec<String> = Vec::new();
    let outcome = process::run(&spec, &limits, cancel, &mut |_, line| {
        if combined.len() == TAIL_LINES * 4 {
            combined.drain(..TAIL_LINES * 3);
        }
        combined.push(line_end(line, TAIL_LINE_CHARS));
        LineVerdict::Continue
    })
    .await?;
    let timed_out = outcome.ended_by == EndedBy::WallTimeout;
    let start = combined.len().saturating_sub(TAIL_LINES);
    let mut output_tail = combined[start..].join("\n");
    if timed_out {
        output_tail.push_str(&format!(
            "\n(killed after the gate timeout of {})",
            humantime::format_duration(timeout)
        ));
    }
    let exit_code = match outcome.exit {
        process::ExitKind::Code(code) => Some(code),
        process::ExitKind::Signal(_) => None,
    };
    Ok(GateRun {
        record: GateRecord {
            command: command.to_string(),
            passed: outcome.ended_by == EndedBy::Exited && outcome.exit.success(),
            exit_code,
            timed_out,
            duration_ms: crate::events::millis(outcome.duration),
        },
        output_tail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn gate_results_and_timeouts() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = Cancel::new();
        let pass = run_gate(
            "echo ok",
            dir.path(),
            Duration::from_secs(10),
            Duration::from_secs(1),
            &cancel,
        )
        .await
        .unwrap();
        assert!(pass.record.passed);
        let fail = run_gate(
            "echo broken test; exit 3",
            dir.path(),
            Duration::from_secs(10),
            Duration::from_secs(1),
            &cancel,
        )
        .await
        .unwrap();
        assert!(!fail.record.passed);
        assert_eq!(fail.record.exit_code, Some(3));
        assert!(fail.output_tail.contains("broken test"));
        // One huge line (a minified bundle, a JSON dump) must not flood the fix prompt.
        let long = run_gate(
            "head -c 3000000 /dev/zero | tr '\\0' x; echo END; exit 1",
            dir.path(),
            Duration::from_secs(10),
            Duration::from_secs(1),
            &cancel,
        )
        .await
        .unwrap();
        assert!(
            long.output_tail.len() < 10_000,
            "{}",
            long.output_tail.len()
        );
        assert!(
            long.output_tail.ends_with("xxxxEND"),
            "the end of the line is kept"
        );
        assert!(long.output_tail.contains("characters cut]"));
        let hung = run_gate(
            "sleep 30",
            dir.path(),
            Duration::from_millis(300),
            Duration::from_millis(200),
            &cancel,
        )
        .await
        .unwrap();
        assert!(hung.record.timed_out);
        assert!(!hung.record.passed);
    }
}
