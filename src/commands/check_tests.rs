//! `kmilestone check-tests`: the unit-test quality check on its own.

use std::io::Write;

use crate::cli::{CheckTestsArgs, GlobalArgs};
use crate::config::Settings;
use crate::errors::Error;
use crate::vcs::Repo;

pub(crate) fn run(
    args: &CheckTestsArgs,
    global: &GlobalArgs,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let cwd = std::env::current_dir()?;
    let root = Repo::discover(&cwd)
        .map(|repo| repo.root().to_path_buf())
        .unwrap_or(cwd);
    let settings = Settings::load(Some(&root), global.config.as_deref())?;
    Ok(crate::checks::run_command(
        &args.paths,
        args.since.as_deref(),
        global.json,
        &settings.checks,
        &root,
        out,
    )?)
}
