//! `kmilestone lint`: plan diagnostics as `file:line: level: message`.

use std::io::Write;
use std::path::Path;

use crate::exit_codes;
use crate::handoff::MarkState;
use crate::input::InputError;
use crate::milestone::{Milestone, MilestoneError};
use crate::plan::PlanError;

/// Lints the plan (and its handoff); returns the exit code.
pub fn run(
    plan_path: &Path,
    handoff: Option<&Path>,
    out: &mut dyn Write,
) -> Result<i32, MilestoneError> {
    let milestone = match Milestone::load(plan_path, handoff) {
        Ok(milestone) => milestone,
        // The file itself is missing or not a file: bad input, not a lint finding.
        Err(MilestoneError::Plan(PlanError::Input(
            err @ (InputError::NotFound { .. }
            | InputError::IsDirectory { .. }
            | InputError::Io { .. }),
        ))) => return Err(MilestoneError::Plan(PlanError::Input(err))),
        Err(MilestoneError::Plan(err)) => {
            let location = match err.line() {
                Some(line) => format!("{}:{line}", plan_path.display()),
                None => plan_path.display().to_string(),
            };
            writeln!(out, "{location}: error: {}", err.detail()).ok();
            return Ok(exit_codes::TASK_FAILED);
        }
        Err(err) => return Err(err),
    };
    let plan_file = plan_path.display();
    for warning in &milestone.plan.warnings {
        writeln!(
            out,
            "{plan_file}:{}: warning: {}",
            warning.line, warning.message
        )
        .ok();
    }
    let handoff_file = milestone.handoff_path.display();
    for mark in &milestone.handoff.marks {
        for id in &mark.ids {
            if milestone.plan.task(id).is_none() {
                let what = match mark.state {
                    MarkState::Complete => "complete",
                    MarkState::Blocked => "blocked",
                };
                writeln!(
                    out,
                    "{handoff_file}:{}: warning: task {id} is marked {what} but the plan has no task {id} (plan tasks: {})",
                    mark.line,
                    milestone.plan.id_list()
                )
                .ok();
            }
        }
    }
    if let Some(note) = milestone.progress.gap_note() {
        writeln!(out, "{handoff_file}: warning: {note}").ok();
    }
    Ok(exit_codes::SUCCESS)
}
