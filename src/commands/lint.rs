//! `kmilestone lint`: plan diagnostics as `file:line: level: message`.

use std::io::Write;
use std::path::Path;

use crate::exit_codes;
use crate::plan::handoff::{self, Handoff, MarkState};
use crate::plan::input::{InputError, read_text_file};
use crate::plan::milestone::MilestoneError;
use crate::plan::progress::Progress;
use crate::plan::{Plan, PlanError};

/// Lints the plan (and its handoff); returns the exit code: 1 when the plan has errors, else 0.
///
/// A plan path that is missing, a directory or unreadable is bad input (the error is returned and
/// exits 2); everything wrong *in* a file is listed, every error and warning, not just the first.
pub(crate) fn run(
    plan_path: &Path,
    handoff_override: Option<&Path>,
    out: &mut dyn Write,
) -> Result<i32, MilestoneError> {
    let plan_file = plan_path.display();
    let source = match read_text_file(plan_path) {
        Ok(source) => source,
        Err(err @ (InputError::NotUtf8 { .. } | InputError::TooLarge { .. })) => {
            let location = match &err {
                InputError::NotUtf8 { line, .. } => format!("{plan_file}:{line}"),
                _ => plan_file.to_string(),
            };
            writeln!(out, "{location}: error: {}", err.detail()).ok();
            return Ok(exit_codes::TASK_FAILED);
        }
        Err(err) => return Err(MilestoneError::Plan(PlanError::Input(err))),
    };
    let diagnosis = Plan::diagnose(plan_path, &source);
    let mut plan = diagnosis.plan;
    plan.resolve_references();

    // (line, is_warning, message): errors before warnings at the same line, file-level first.
    // A task heading a fence swallows is an error here although `status` reads on: `run` would
    // otherwise skip that task without a word.
    let mut findings: Vec<(usize, bool, String)> = diagnosis
        .errors
        .iter()
        .map(|err| (err.line().unwrap_or(0), false, err.detail()))
        .chain(
            plan.hidden_tasks
                .iter()
                .map(|h| (h.line, false, h.message.clone())),
        )
        .chain(
            plan.warnings
                .iter()
                .map(|w| (w.line, true, w.message.clone())),
        )
        .collect();
    findings.sort_by_key(|(line, is_warning, _)| (*line, *is_warning));
    for (line, is_warning, message) in &findings {
        let level = if *is_warning { "warning" } else { "error" };
        if *line == 0 {
            writeln!(out, "{plan_file}: {level}: {message}").ok();
        } else {
            writeln!(out, "{plan_file}:{line}: {level}: {message}").ok();
        }
    }

    let handoff_path = match handoff_override {
        Some(path) => path.to_path_buf(),
        None => handoff::locate(plan_path, &plan.id),
    };
    let handoff = match read_text_file(&handoff_path) {
        Ok(source) => Some(Handoff::parse(&source, &plan)),
        // A missing handoff means nothing is complete yet, wherever it was looked for.
        Err(InputError::NotFound { .. }) => None,
        Err(err) => return Err(MilestoneError::Handoff(err)),
    };
    if let Some(handoff) = handoff.filter(|_| !plan.tasks.is_empty()) {
        let handoff_file = handoff_path.display();
        for mark in &handoff.marks {
            for id in &mark.ids {
                if plan.task(id).is_none() {
                    let what = match mark.state {
                        MarkState::Complete => "complete",
                        MarkState::Blocked => "blocked",
                    };
                    writeln!(
                        out,
                        "{handoff_file}:{}: warning: task {id} is marked {what} but the plan has no task {id} (plan tasks: {})",
                        mark.line,
                        plan.id_list()
                    )
                    .ok();
                }
            }
        }
        let progress = Progress::compute(&plan, &handoff);
        if let (Some(unmarked), Some(note)) = (&progress.unmarked_handoff, progress.unmarked_note())
        {
            writeln!(out, "{handoff_file}:{}: warning: {note}", unmarked.line()).ok();
        }
        if let Some(note) = progress.gap_note() {
            writeln!(out, "{handoff_file}: warning: {note}").ok();
        }
    }
    Ok(
        if diagnosis.errors.is_empty() && plan.hidden_tasks.is_empty() {
            exit_codes::SUCCESS
        } else {
            exit_codes::TASK_FAILED
        },
    )
}
