//! `run --pr`: the summary's `gh pr create`, run when the whole milestone is complete.

use std::path::Path;

use crate::errors::Error;
use crate::exit_codes;
use crate::plan::Milestone;

pub(super) fn create_pull_request(
    plan_path: &Path,
    handoff: Option<&Path>,
    body: &Path,
    root: &Path,
) -> Result<i32, Error> {
    let milestone = Milestone::load(plan_path, handoff)?;
    if milestone.progress.next.is_some() {
        eprintln!("--pr: the milestone is not complete yet; no pull request created");
        return Ok(exit_codes::SUCCESS);
    }
    let title = match &milestone.plan.title {
        Some(title) => format!("{}: {}", milestone.plan.id, title),
        None => milestone.plan.id.clone(),
    };
    let status = std::process::Command::new("gh")
        .args(["pr", "create", "--title", &title, "--body-file"])
        .arg(body)
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .status();
    match status {
        Ok(status) if status.success() => Ok(exit_codes::SUCCESS),
        Ok(status) => {
            eprintln!("error: the milestone is complete, but `gh pr create` failed ({status})");
            Ok(exit_codes::TASK_FAILED)
        }
        Err(err) => {
            eprintln!(
                "error: the milestone is complete, but `gh` could not be run ({err}); install the GitHub CLI or run the command printed above"
            );
            Ok(exit_codes::TASK_FAILED)
        }
    }
}
