//! `report.md` and `report.json`, from the events alone: written when the run finishes, and
//! re-rendered by `kmilestone report` from the last run's `events.jsonl`.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::events::{Event, EventKind, EventSink, TaskSummary, Totals};
use crate::reporter::wire::{WireTask, WireTotals};
use crate::runner::format_duration_ms;
use crate::state::write_atomic;

/// What a report says about one run.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub header: Vec<String>,
    pub gates: Vec<String>,
    /// The time of the last event.
    pub finished_at: String,
    /// `None` when the log ends before the run finished (the runner was killed).
    pub exit_code: Option<i32>,
    pub outcome: String,
    pub tasks: Vec<TaskSummary>,
    pub totals: Totals,
    pub summary: Option<String>,
    pub message: Option<String>,
}

/// Gathers a [`RunReport`] from events.
#[derive(Debug, Default)]
pub struct ReportBuilder {
    header: Vec<String>,
    gates: Vec<String>,
    tasks: Vec<TaskSummary>,
    last_timestamp: String,
    finished: Option<RunReport>,
}

impl ReportBuilder {
    pub fn observe(&mut self, event: &Event) {
        self.last_timestamp = event.timestamp.clone();
        match &event.kind {
            EventKind::RunStarted { header, gates, .. } => {
                self.header = header.clone();
                self.gates = gates.clone();
            }
            EventKind::TaskFinished(summary) => self.tasks.push(summary.clone()),
            EventKind::RunFinished {
                exit_code,
                outcome,
                tasks,
                totals,
                summary,
                message,
            } => {
                self.finished = Some(RunReport {
                    header: self.header.clone(),
                    gates: self.gates.clone(),
                    finished_at: event.timestamp.clone(),
                    exit_code: Some(*exit_code),
                    outcome: outcome.clone(),
                    tasks: tasks.clone(),
                    totals: *totals,
                    summary: summary.clone(),
                    message: message.clone(),
                });
            }
            EventKind::TaskStarted { .. }
            | EventKind::AttemptStarted { .. }
            | EventKind::Agent { .. }
            | EventKind::AttemptFinished { .. }
            | EventKind::HandoffRestored { .. }
            | EventKind::GateStarted { .. }
            | EventKind::GateFinished { .. }
            | EventKind::CheckFinished { .. }
            | EventKind::VerificationFailed { .. }
            | EventKind::Question { .. }
            | EventKind::DecisionNeeded { .. }
            | EventKind::WaitingForLimit { .. } => {}
        }
    }

    /// The report of a finished run, if the run finished.
    pub fn finished(&self) -> Option<&RunReport> {
        self.finished.as_ref()
    }

    /// The report: the finished run's, or what the events of a run that never finished show.
    pub fn build(self) -> RunReport {
        if let Some(report) = self.finished {
            return report;
        }
        let mut totals = Totals::default();
        for task in &self.tasks {
            totals.cost_usd += task.totals.cost_usd;
            totals.usage.add(&task.totals.usage);
        }
        RunReport {
            header: self.header,
            gates: self.gates,
            finished_at: self.last_timestamp,
            exit_code: None,
            outcome: "unfinished".to_string(),
            tasks: self.tasks,
            totals,
            summary: None,
            message: Some(
                "The run stopped before it finished (its events log has no run_finished event); the tasks below are those that finished.".to_string(),
            ),
        }
    }
}

/// The report from a run's events.
pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> RunReport {
    let mut builder = ReportBuilder::default();
    for event in events {
        builder.observe(event);
    }
    builder.build()
}

fn check(passed: bool) -> &'static str {
    if passed { "✓" } else { "✗" }
}

/// `report.md`.
pub fn render_markdown(report: &RunReport) -> String {
    let mut md = String::new();
    md.push_str("# kmilestone run report\n\n");
    for line in &report.header {
        md.push_str(line);
        md.push_str("  \n");
    }
    let exit = report
        .exit_code
        .map(|code| format!(" (exit code {code})"))
        .unwrap_or_default();
    md.push_str(&format!("\nOutcome: **{}**{exit}  \n", report.outcome));
    md.push_str(&format!("Finished: {}\n\n", report.finished_at));
    if let Some(summary) = &report.summary {
        md.push_str(summary.trim_end());
        md.push_str("\n\n");
    }
    if let Some(message) = &report.message {
        md.push_str(message);
        md.push_str("\n\n");
    }
    md.push_str(
        "| Task | Result | Attempts | Duration | Cost | Tokens | Gates | Findings | Commits |\n",
    );
    md.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for task in &report.tasks {
        let gates = task
            .gates
            .iter()
            .map(|g| format!("{} {}", g.command, check(g.passed)))
            .collect::<Vec<_>>()
            .join(", ");
        md.push_str(&format!(
            "| {} {} | {} | {} | {} | ${:.4} | {} | {} | {} | {} |\n",
            task.id,
            task.title.replace('|', "\\|"),
            task.result.as_str(),
            task.attempts,
            format_duration_ms(task.duration_ms),
            task.totals.cost_usd,
            task.totals.usage.total(),
            if gates.is_empty() {
                "-".to_string()
            } else {
                gates
            },
            task.findings.len(),
            task.commits
                .iter()
                .map(|c| c.split(' ').next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    let totals = &report.totals;
    md.push_str(&format!(
        "\nTotal: ${:.4}, {} tokens ({} in, {} out, {} cache read, {} cache write)\n",
        totals.cost_usd,
        totals.usage.total(),
        totals.usage.input_tokens,
        totals.usage.output_tokens,
        totals.usage.cache_read_input_tokens,
        totals.usage.cache_creation_input_tokens
    ));
    for task in report.tasks.iter().filter(|t| !t.findings.is_empty()) {
        md.push_str(&format!("\n## Task {}: unit-test findings\n\n", task.id));
        for finding in &task.findings {
            md.push_str(&format!("- {finding}\n"));
        }
    }
    for task in report.tasks.iter().filter(|t| !t.problems.is_empty()) {
        md.push_str(&format!("\n## Task {}: what was still wrong\n\n", task.id));
        for problem in &task.problems {
            md.push_str(&format!("- {}\n", problem.replace('\n', "\n  ")));
        }
    }
    md
}

/// `report.json`.
pub fn render_json(report: &RunReport) -> String {
    let tasks: Vec<WireTask> = report.tasks.iter().cloned().map(WireTask::from).collect();
    let value = json!({
        "exit_code": report.exit_code,
        "outcome": report.outcome,
        "finished_at": report.finished_at,
        "header": report.header,
        "gates": report.gates,
        "tasks": tasks,
        "totals": WireTotals::from(report.totals),
        "summary": report.summary,
        "message": report.message,
    });
    let mut text = serde_json::to_string_pretty(&value).expect("the report serializes");
    text.push('\n');
    text
}

/// Writes the report files into the run's folder (and a copy beside the state) on `RunFinished`.
pub struct ReportWriter {
    run_dir: PathBuf,
    latest_dir: PathBuf,
    builder: ReportBuilder,
    pub written: Option<PathBuf>,
}

impl ReportWriter {
    pub fn new(run_dir: &Path, latest_dir: &Path) -> ReportWriter {
        ReportWriter {
            run_dir: run_dir.to_path_buf(),
            latest_dir: latest_dir.to_path_buf(),
            builder: ReportBuilder::default(),
            written: None,
        }
    }
}

impl EventSink for ReportWriter {
    fn emit(&mut self, event: &Event) {
        self.builder.observe(event);
        let Some(report) = self.builder.finished().filter(|_| self.written.is_none()) else {
            return;
        };
        let md = render_markdown(report);
        let json_text = render_json(report);
        for dir in [&self.run_dir, &self.latest_dir] {
            write_atomic(&dir.join("report.md"), md.as_bytes()).ok();
            write_atomic(&dir.join("report.json"), json_text.as_bytes()).ok();
        }
        self.written = Some(self.run_dir.join("report.md"));
    }
}
