//! kmilestone: run a milestone plan through an AI coding agent, one verified task at a time.
//!
//! The binary is a thin shell over [`run`]; everything is here so that tests can call it.

pub mod agent;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod config;
pub mod env_vars;
pub mod errors;
pub mod events;
pub mod exit_codes;
pub mod gates;
pub mod plan;
pub mod process;
pub mod prompt;
pub mod reporter;
pub mod runner;
pub mod state;
pub mod vcs;

use std::ffi::OsString;
use std::io::Write;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};
use crate::errors::Error;
use crate::plan::milestone::Milestone;

/// Parses `args` and runs the command; returns the process exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                exit_codes::BAD_INPUT
            } else {
                exit_codes::SUCCESS
            };
            err.print().ok();
            return code;
        }
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(Error::Output(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => {
            exit_codes::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                // thiserror's transparent variants repeat their inner message; skip duplicates.
                let text = cause.to_string();
                if !err.to_string().contains(&text) {
                    eprintln!("  caused by: {text}");
                }
                source = cause.source();
            }
            err.exit_code()
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32, Error> {
    // `run` takes stdout itself: its live view redraws from a timer thread.
    let Command::Run(args) = cli.command else {
        let stdout = std::io::stdout();
        return dispatch_with(cli, &mut stdout.lock());
    };
    commands::run::run(args, &cli.global)
}

fn dispatch_with(cli: Cli, mut out: &mut std::io::StdoutLock<'_>) -> Result<i32, Error> {
    match cli.command {
        Command::Status(args) => {
            let milestone = Milestone::load(&args.plan_path(), args.handoff.as_deref())?;
            if cli.global.json {
                commands::status::render_json(&milestone, &mut out)?;
            } else {
                commands::status::render_text(&milestone, &mut out)?;
                for warning in &milestone.plan.warnings {
                    eprintln!(
                        "warning: {}:{}: {}",
                        milestone.plan.path.display(),
                        warning.line,
                        warning.message
                    );
                }
            }
            Ok(exit_codes::SUCCESS)
        }
        Command::Lint(args) => Ok(commands::lint::run(
            &args.plan_path(),
            args.handoff.as_deref(),
            &mut out,
        )?),
        Command::Run(_) => unreachable!("`run` is dispatched without the stdout lock"),
        Command::CheckTests(args) => {
            let cwd = std::env::current_dir()?;
            let root = vcs::Repo::discover(&cwd)
                .map(|repo| repo.root().to_path_buf())
                .unwrap_or(cwd);
            let settings = config::Settings::load(Some(&root), cli.global.config.as_deref())
                .map_err(|err| Error::Usage(err.to_string()))?;
            checks::run_command(
                &args.paths,
                args.since.as_deref(),
                cli.global.json,
                &settings.checks,
                &root,
                &mut out,
            )
            .map_err(|err| Error::Usage(err.to_string()))
        }
        Command::Report(args) => {
            commands::report::run(&args.plan_path(), cli.global.json, &mut out)
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "kmilestone", &mut out);
            out.flush()?;
            Ok(exit_codes::SUCCESS)
        }
    }
}
