//! What `run` prints when it starts nothing: `--dry-run`'s preview of each task, and a start at a
//! task the handoff marks BLOCKED.

use std::io::Write;

use super::summary::header_lines;
use crate::events::{CapsInfo, Header, PreviewTask};

/// `--dry-run`: the header, then each task's command, gates and prompt.
pub(crate) fn dry_run(
    out: &mut dyn Write,
    header: &Header,
    caps: &CapsInfo,
    root: &str,
    gates: &[String],
    tasks: &[PreviewTask],
) -> std::io::Result<()> {
    for line in header_lines(header) {
        writeln!(out, "{line}")?;
    }
    if !caps.is_empty() {
        writeln!(out, "Caps: {caps}")?;
    }
    writeln!(out, "Dry run: nothing is started.")?;
    if tasks.is_empty() {
        writeln!(out, "No task to run: the milestone is complete.")?;
    }
    let gates = if gates.is_empty() {
        "none".to_string()
    } else {
        gates.join(", ")
    };
    for task in tasks {
        writeln!(out)?;
        writeln!(
            out,
            "=== Task {}: {} [{}]",
            task.id, task.title, task.task_type
        )?;
        writeln!(out, "Agent command (in {root}): {} < prompt", task.command)?;
        writeln!(out, "Gates: {gates}")?;
        for warning in &task.warnings {
            writeln!(out, "Warning: {warning}")?;
        }
        writeln!(out, "--- prompt ---")?;
        writeln!(out, "{}", task.prompt.trim_end())?;
        writeln!(out, "--- end of prompt ---")?;
    }
    Ok(())
}

/// The run stops before it starts: its first task is BLOCKED in the handoff.
pub(crate) fn blocked(
    out: &mut dyn Write,
    header: &Header,
    id: &str,
    handoff: &str,
    line: usize,
    heading: &str,
) -> std::io::Result<()> {
    for text in header_lines(header) {
        writeln!(out, "{text}")?;
    }
    writeln!(
        out,
        "Task {id} is blocked in the handoff ({handoff}:{line}): {heading}\nResolve the blocker, then run again with --from {id}."
    )
}
