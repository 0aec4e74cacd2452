//! The texts a run ends with, rendered from event data: the seed's header, the completion
//! summary with its ready `gh pr create` command, and `pr-body.md`.

use std::path::{Path, PathBuf};

use super::format;
use crate::events::{Header, MilestoneSummary};
use crate::text::{plural, shell_quote};

/// The seed's header: `Milestone: …`, `Completed: …`, `Resuming from: …`.
pub(crate) fn header_lines(header: &Header) -> Vec<String> {
    let mut lines = vec![format!(
        "Milestone: {} ({} task{})",
        header.name,
        header.task_count,
        plural(header.task_count as u64)
    )];
    if header.completed.is_empty() {
        lines.push("Completed: (none - fresh start)".to_string());
        if let Some(start) = &header.start {
            lines.push(format!("Starting from: {start}"));
        }
    } else {
        lines.push(format!(
            "Completed: {} (from handoff)",
            header.completed.join(", ")
        ));
        match &header.start {
            Some(start) => lines.push(format!("Resuming from: {start}")),
            None => lines.push("All tasks complete".to_string()),
        }
    }
    lines
}

/// Where the pull request's body is written, in the milestone's state folder.
pub(crate) fn pr_body_path(state_dir: &str) -> PathBuf {
    Path::new(state_dir).join("pr-body.md")
}

/// The seed's completion summary, without the pull-request command.
pub(crate) fn completion_summary(milestone: &MilestoneSummary) -> String {
    let mut out = String::new();
    let heading = if milestone.complete {
        "Milestone Complete"
    } else {
        "Tasks Complete"
    };
    out.push_str(&format!("## {heading}: {}\n\n", milestone.name));
    let done = milestone.tasks.iter().filter(|t| t.complete).count();
    out.push_str(&format!(
        "**Tasks completed:** {done}/{}\n",
        milestone.tasks.len()
    ));
    for task in milestone.tasks.iter().filter(|t| t.complete) {
        let note = match &task.record {
            Some(record) => format!(
                " ({} attempt{}, {})",
                record.attempts,
                plural(record.attempts),
                format::duration_ms(record.duration_ms)
            ),
            None => " (from handoff)".to_string(),
        };
        out.push_str(&format!("- [x] {}: {}{note}\n", task.id, task.title));
    }
    for task in milestone.tasks.iter().filter(|t| !t.complete) {
        out.push_str(&format!("- [ ] {}: {}\n", task.id, task.title));
    }
    out.push('\n');
    if milestone.gates.is_empty() {
        out.push_str("**Quality gates:** none configured\n");
    } else {
        let passed = |gate: &String| {
            milestone
                .tasks
                .iter()
                .filter_map(|t| t.record.as_ref())
                .flat_map(|r| &r.gates)
                .any(|r| &r.command == gate && r.passed)
        };
        let gates: Vec<String> = milestone
            .gates
            .iter()
            .map(|g| {
                if passed(g) {
                    format!("{g} ✓")
                } else {
                    g.clone()
                }
            })
            .collect();
        out.push_str(&format!("**Quality gates:** {}\n", gates.join(", ")));
    }
    let validation: Vec<String> = milestone
        .tasks
        .iter()
        .filter(|t| t.validation)
        .map(|t| {
            let result = t
                .record
                .as_ref()
                .and_then(|r| r.e2e.clone())
                .unwrap_or_else(|| "not recorded".to_string());
            format!("- {}: {result}", t.id)
        })
        .collect();
    if !validation.is_empty() {
        out.push_str("**E2E validation:**\n");
        for line in validation {
            out.push_str(&line);
            out.push('\n');
        }
    }
    if milestone.tasks.iter().any(|t| t.record.is_some()) {
        out.push_str(&format!(
            "**Agent cost:** {}, {} tokens\n",
            format::cost(milestone.totals.cost_usd),
            milestone.totals.usage.total()
        ));
    }
    out.push_str(&format!("**Handoff:** {}\n", milestone.handoff));
    out
}

/// The ready-to-paste command that opens the pull request.
pub(crate) fn pr_command(milestone: &MilestoneSummary, state_dir: &str) -> String {
    format!(
        "Ready for PR creation. Run:\n  gh pr create --title {} --body-file {}\n",
        shell_quote(&milestone.pr_title),
        shell_quote(&pr_body_path(state_dir).display().to_string())
    )
}

/// `pr-body.md`: the completion summary.
pub(crate) fn pr_body(milestone: &MilestoneSummary) -> String {
    completion_summary(milestone)
}
