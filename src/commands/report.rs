//! `kmilestone report`: the last run's report, re-rendered from its events log.

use std::io::Write;
use std::path::Path;

use crate::errors::Error;
use crate::exit_codes;
use crate::plan::milestone_id;
use crate::reporter::report::{from_events, render_json, render_markdown};
use crate::reporter::wire::read_events;
use crate::state::StateDir;
use crate::vcs::Repo;

pub fn run(plan_path: &Path, json: bool, out: &mut dyn Write) -> Result<i32, Error> {
    if !plan_path.is_file() {
        return Err(Error::Usage(format!(
            "{}: no such file",
            plan_path.display()
        )));
    }
    let repo = Repo::discover(plan_path).map_err(|e| Error::Usage(e.to_string()))?;
    let id = milestone_id(plan_path);
    let dir = StateDir::at(repo.root(), &id);
    let no_report = || {
        Error::Usage(format!(
            "no report yet for milestone {id}: no run recorded in {} (run `kmilestone run {}` first)",
            dir.path().join("runs").display(),
            plan_path.display()
        ))
    };
    let run_dir = dir.last_run_dir().ok_or_else(no_report)?;
    let log = run_dir.join("events.jsonl");
    let text = match std::fs::read_to_string(&log) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(no_report()),
        Err(err) => return Err(Error::Usage(format!("{}: {err}", log.display()))),
    };
    let read =
        read_events(&text).map_err(|err| Error::Usage(format!("{}: {err}", log.display())))?;
    if read.skipped > 0 {
        eprintln!(
            "warning: {}: {} line(s) could not be read and were left out",
            log.display(),
            read.skipped
        );
    }
    let report = from_events(&read.events);
    let text = if json {
        render_json(&report)
    } else {
        render_markdown(&report)
    };
    out.write_all(text.as_bytes())?;
    Ok(exit_codes::SUCCESS)
}
