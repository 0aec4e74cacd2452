//! `kmilestone report`: the milestone's report, rendered again from its state (every run's
//! record), exactly as the last run wrote `report.md` / `report.json`.

use std::io::Write;
use std::path::Path;

use crate::errors::Error;
use crate::exit_codes;
use crate::plan::Milestone;
use crate::reporter::report::{Ended, Report, render_json, render_markdown};
use crate::state::{State, StateDir};
use crate::vcs::Repo;

pub(crate) fn run(
    plan_path: &Path,
    handoff: Option<&Path>,
    json: bool,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let milestone = Milestone::load(plan_path, handoff)?;
    let repo = Repo::discover(plan_path)?;
    let id = &milestone.plan.id;
    let dir = StateDir::locate(repo.root(), id)?;
    if !dir.state_file().is_file() {
        return Err(Error::Report(format!(
            "no report yet for milestone {id}: no run recorded in {} (run `kmilestone run {}` first)",
            dir.path().display(),
            plan_path.display()
        )));
    }
    let state = dir.load(id)?;
    let summary = crate::runner::milestone_summary(&milestone, &state, &recorded_gates(&state));
    let (ended, finished_at) = how_it_ended(&state);
    let report = Report {
        milestone: &summary,
        ended,
        finished_at: &finished_at,
    };
    let text = if json {
        render_json(&report)
    } else {
        render_markdown(&report)
    };
    out.write_all(text.as_bytes())?;
    Ok(exit_codes::SUCCESS)
}

/// The gates the records name, in the order they first ran.
fn recorded_gates(state: &State) -> Vec<String> {
    let mut gates: Vec<String> = Vec::new();
    for record in state.tasks.values() {
        for gate in &record.gates {
            if !gates.contains(&gate.command) {
                gates.push(gate.command.clone());
            }
        }
    }
    gates
}

/// The last run's end; a task in progress that started after it means a run was killed before
/// it could record its own end.
fn how_it_ended(state: &State) -> (Ended<'_>, String) {
    let time = |text: &str| text.parse::<jiff::Timestamp>().ok();
    let killed_since = |finished: &str| {
        state
            .in_progress
            .as_ref()
            .is_some_and(|p| match (time(&p.started_at), time(finished)) {
                (Some(started), Some(finished)) => started > finished,
                _ => false,
            })
    };
    match (&state.last_run, &state.in_progress) {
        (Some(last), _) if !killed_since(&last.finished_at) => {
            (Ended::Finished(&last.outcome), last.finished_at.clone())
        }
        (_, Some(in_progress)) => (Ended::Unfinished, in_progress.started_at.clone()),
        (None, None) => (Ended::NeverRun, String::from("-")),
        (Some(last), None) => (Ended::Finished(&last.outcome), last.finished_at.clone()),
    }
}
