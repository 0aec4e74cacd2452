//! `report.md`, `report.json` and `pr-body.md`: the milestone across every run, written when a
//! run finishes and rendered again by `kmilestone report` from the milestone's state. Each is
//! redacted as rendered: problems quote gate output and agent messages, the body the handoff.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::format;
use super::summary;
use super::wire::{WireCaps, WireMilestone, WireProblem};
use crate::events::{Event, EventKind, EventSink, MilestoneSummary, RunOutcome};
use crate::files::write_atomic;

/// How the last run ended, as far as the record tells.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ended<'a> {
    Finished(&'a RunOutcome),
    /// The run was stopped before it could record its end (killed).
    Unfinished,
    /// No run recorded yet.
    NeverRun,
}

/// What a report is made of.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Report<'a> {
    pub milestone: &'a MilestoneSummary,
    pub ended: Ended<'a>,
    /// When the last run ended (or was last heard of).
    pub finished_at: &'a str,
}

impl Report<'_> {
    fn outcome_name(&self) -> &'static str {
        match self.ended {
            Ended::Finished(outcome) => outcome.name(),
            Ended::Unfinished => "unfinished",
            Ended::NeverRun => "not run",
        }
    }

    fn exit_code(&self) -> Option<i32> {
        match self.ended {
            Ended::Finished(outcome) => Some(outcome.exit_code()),
            Ended::Unfinished | Ended::NeverRun => None,
        }
    }

    fn message(&self) -> Option<String> {
        match self.ended {
            Ended::Finished(outcome) => outcome.message(),
            Ended::Unfinished => Some(
                "The last run stopped before it finished (it was killed); the next run resumes the task it was working on and verifies it again.".to_string(),
            ),
            Ended::NeverRun => None,
        }
    }
}

fn check(passed: bool) -> &'static str {
    if passed { "✓" } else { "✗" }
}

/// `report.md`.
pub(crate) fn render_markdown(report: &Report<'_>) -> String {
    let milestone = report.milestone;
    let mut md = String::from("# kmilestone run report\n\n");
    md.push_str(&format!(
        "Milestone: {} ({} task{})  \n",
        milestone.name,
        milestone.tasks.len(),
        crate::text::plural(milestone.tasks.len() as u64)
    ));
    let exit = report
        .exit_code()
        .map(|code| format!(" (exit code {code})"))
        .unwrap_or_default();
    md.push_str(&format!("Outcome: **{}**{exit}  \n", report.outcome_name()));
    md.push_str(&format!("Finished: {}\n", report.finished_at));
    if !milestone.caps.is_empty() {
        md.push_str(&format!("Caps: {}\n", milestone.caps));
    }
    md.push('\n');
    if matches!(report.ended, Ended::Finished(RunOutcome::Complete)) {
        md.push_str(summary::completion_summary(milestone).trim_end());
        md.push_str("\n\n");
    }
    if let Some(message) = report.message() {
        md.push_str(&message);
        md.push_str("\n\n");
    }
    md.push_str(
        "| Task | Result | Attempts | Duration | Cost | Tokens | Gates | Findings | Commits |\n",
    );
    md.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for task in &milestone.tasks {
        let title = task.title.replace('|', "\\|");
        let Some(record) = &task.record else {
            let result = if task.complete {
                "complete (handoff)"
            } else {
                "pending"
            };
            md.push_str(&format!(
                "| {} {title} | {result} | - | - | - | - | - | - | - |\n",
                task.id
            ));
            continue;
        };
        let gates = record
            .gates
            .iter()
            .map(|g| format!("{} {}", g.command, check(g.passed)))
            .collect::<Vec<_>>()
            .join(", ");
        md.push_str(&format!(
            "| {} {title} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            task.id,
            record.result.as_str(),
            record.attempts,
            format::duration_ms(record.duration_ms),
            format::cost(record.totals.cost_usd),
            record.totals.usage.total(),
            if gates.is_empty() {
                "-".to_string()
            } else {
                gates
            },
            record.findings.len(),
            record
                .commits
                .iter()
                .map(|c| c.split(' ').next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    let totals = &milestone.totals;
    md.push_str(&format!(
        "\nTotal: {}, {} tokens ({} in, {} out, {} cache read, {} cache write)\n",
        format::cost(totals.cost_usd),
        totals.usage.total(),
        totals.usage.input_tokens,
        totals.usage.output_tokens,
        totals.usage.cache_read_input_tokens,
        totals.usage.cache_creation_input_tokens
    ));
    let records = milestone
        .tasks
        .iter()
        .filter_map(|t| t.record.as_ref().map(|r| (t, r)));
    for (task, record) in records.clone().filter(|(_, r)| !r.findings.is_empty()) {
        md.push_str(&format!("\n## Task {}: unit-test findings\n\n", task.id));
        for finding in &record.findings {
            md.push_str(&format!("- {finding}\n"));
        }
    }
    for (task, record) in records.clone().filter(|(_, r)| !r.denials.is_empty()) {
        md.push_str(&format!("\n## Task {}: refused tool calls\n\n", task.id));
        for denial in &record.denials {
            md.push_str(&format!("- {denial}\n"));
        }
    }
    for (task, record) in records.filter(|(_, r)| !r.problems.is_empty()) {
        md.push_str(&format!("\n## Task {}: what was still wrong\n\n", task.id));
        for problem in &record.problems {
            md.push_str(&format!(
                "- {}\n",
                problem.to_string().replace('\n', "\n  ")
            ));
        }
    }
    crate::redact::text(&md).into_owned()
}

/// `report.json`.
pub(crate) fn render_json(report: &Report<'_>) -> String {
    let value = json!({
        "exit_code": report.exit_code(),
        "outcome": report.outcome_name(),
        "message": report.message(),
        "finished_at": report.finished_at,
        "milestone": WireMilestone::from(report.milestone),
        "caps": WireCaps::from(&report.milestone.caps),
        "problems": report.milestone.tasks.iter()
            .filter_map(|t| t.record.as_ref())
            .flat_map(|r| r.problems.iter().map(WireProblem::from))
            .collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&value).expect("the report serializes");
    text.push('\n');
    crate::redact::json(&text).into_owned()
}

/// Writes the report files into the run's folder and beside the state when the run finishes,
/// and `pr-body.md` when the milestone is complete.
pub(crate) struct ReportWriter {
    run_dir: PathBuf,
    state_dir: PathBuf,
    pub written: Option<PathBuf>,
}

impl ReportWriter {
    pub(crate) fn new(run_dir: &Path, state_dir: &Path) -> ReportWriter {
        ReportWriter {
            run_dir: run_dir.to_path_buf(),
            state_dir: state_dir.to_path_buf(),
            written: None,
        }
    }
}

impl EventSink for ReportWriter {
    fn emit(&mut self, event: &Event) {
        // The report is one more consumer, written on the run's last event; every other kind
        // is part of that summary already.
        match &event.kind {
            EventKind::RunFinished(end) => {
                let report = Report {
                    milestone: &end.milestone,
                    ended: Ended::Finished(&end.outcome),
                    finished_at: &end.finished_at,
                };
                let md = render_markdown(&report);
                let json_text = render_json(&report);
                for dir in [&self.run_dir, &self.state_dir] {
                    write_atomic(&dir.join("report.md"), md.as_bytes()).ok();
                    write_atomic(&dir.join("report.json"), json_text.as_bytes()).ok();
                }
                if end.outcome == RunOutcome::Complete && end.milestone.complete {
                    let body = crate::redact::text(&summary::pr_body(&end.milestone)).into_owned();
                    write_atomic(&self.state_dir.join("pr-body.md"), body.as_bytes()).ok();
                }
                self.written = Some(self.run_dir.join("report.md"));
            }
            EventKind::RunStarted(_)
            | EventKind::TaskStarted { .. }
            | EventKind::AttemptStarted { .. }
            | EventKind::Agent { .. }
            | EventKind::AttemptFinished { .. }
            | EventKind::HandoffRestored { .. }
            | EventKind::LeftRunning { .. }
            | EventKind::GateStarted { .. }
            | EventKind::GateFinished { .. }
            | EventKind::CheckFinished { .. }
            | EventKind::VerificationFailed { .. }
            | EventKind::Question { .. }
            | EventKind::DecisionNeeded { .. }
            | EventKind::WaitingForLimit { .. }
            | EventKind::TaskFinished(_)
            | EventKind::CapReached { .. }
            | EventKind::Notified(_) => {}
        }
    }
}
