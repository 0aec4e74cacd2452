//! `kmilestone report`: the last run's report again.

use std::io::Write;
use std::path::Path;

use crate::errors::Error;
use crate::exit_codes;
use crate::plan::milestone_id;
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
    let name = if json { "report.json" } else { "report.md" };
    let path = dir.path().join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            out.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                writeln!(out)?;
            }
            Ok(exit_codes::SUCCESS)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(Error::Usage(format!(
            "no report yet for milestone {id}: {} does not exist (run `kmilestone run {}` first)",
            path.display(),
            plan_path.display()
        ))),
        Err(err) => Err(Error::Usage(format!("{}: {err}", path.display()))),
    }
}
