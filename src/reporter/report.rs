//! `report.md` and `report.json`, written when the run finishes, from the events alone.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::events::{Event, EventKind, EventSink};
use crate::runner::format_duration_ms;
use crate::state::write_atomic;

/// Writes the report files into the run's folder (and a copy beside the state) on `RunFinished`.
pub struct ReportWriter {
    run_dir: PathBuf,
    latest_dir: PathBuf,
    header: Vec<String>,
    gates: Vec<String>,
    pub written: Option<PathBuf>,
}

impl ReportWriter {
    pub fn new(run_dir: &Path, latest_dir: &Path) -> ReportWriter {
        ReportWriter {
            run_dir: run_dir.to_path_buf(),
            latest_dir: latest_dir.to_path_buf(),
            header: Vec::new(),
            gates: Vec::new(),
            written: None,
        }
    }
}

impl EventSink for ReportWriter {
    fn emit(&mut self, event: &Event) {
        match &event.kind {
            EventKind::RunStarted { header, gates, .. } => {
                self.header = header.clone();
                self.gates = gates.clone();
            }
            EventKind::RunFinished {
                exit_code,
                outcome,
                tasks,
                totals,
                summary,
                message,
            } => {
                let mut md = String::new();
                md.push_str("# kmilestone run report\n\n");
                for line in &self.header {
                    md.push_str(line);
                    md.push_str("  \n");
                }
                md.push_str(&format!(
                    "\nOutcome: **{outcome}** (exit code {exit_code})  \n"
                ));
                md.push_str(&format!("Finished: {}\n\n", event.timestamp));
                if let Some(summary) = summary {
                    md.push_str(summary.trim_end());
                    md.push_str("\n\n");
                }
                if let Some(message) = message {
                    md.push_str(message);
                    md.push_str("\n\n");
                }
                md.push_str("| Task | Result | Attempts | Duration | Cost | Tokens | Gates | Findings | Commits |\n");
                md.push_str("|---|---|---|---|---|---|---|---|---|\n");
                for task in tasks {
                    let gates = task
                        .gates
                        .iter()
                        .map(|g| format!("{} {}", g.command, if g.passed { "✓" } else { "✗" }))
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
                md.push_str(&format!(
                    "\nTotal: ${:.4}, {} tokens ({} in, {} out, {} cache read, {} cache write)\n",
                    totals.cost_usd,
                    totals.usage.total(),
                    totals.usage.input_tokens,
                    totals.usage.output_tokens,
                    totals.usage.cache_read_input_tokens,
                    totals.usage.cache_creation_input_tokens
                ));
                for task in tasks.iter().filter(|t| !t.problems.is_empty()) {
                    md.push_str(&format!("\n## Task {}: what was still wrong\n\n", task.id));
                    for problem in &task.problems {
                        md.push_str(&format!("- {}\n", problem.replace('\n', "\n  ")));
                    }
                }
                let report = json!({
                    "exit_code": exit_code,
                    "outcome": outcome,
                    "finished_at": event.timestamp,
                    "header": self.header,
                    "gates": self.gates,
                    "tasks": tasks,
                    "totals": totals,
                    "summary": summary,
                    "message": message,
                });
                let json_text = serde_json::to_string_pretty(&report).expect("report serializes");
                for dir in [&self.run_dir, &self.latest_dir] {
                    write_atomic(&dir.join("report.md"), md.as_bytes()).ok();
                    write_atomic(&dir.join("report.json"), json_text.as_bytes()).ok();
                }
                self.written = Some(self.run_dir.join("report.md"));
            }
            _ => {}
        }
    }
}
