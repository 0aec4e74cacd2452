//! kmilestone: run a milestone plan through an AI coding agent, one verified task at a time.
//!
//! The binary is a thin shell over [`run`]; everything is here so that tests can call it.

pub mod agent;
pub mod checks;
mod cli;
mod commands;
mod config;
pub mod env_vars;
mod errors;
pub mod events;
pub mod exit_codes;
mod files;
mod logging;
pub mod plan;
pub mod process;
mod redact;
mod reporter;
mod runner;
mod state;
mod text;
mod vcs;

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
    // Before anything can be printed: even an error message may quote a secret.
    commands::install_redactor(&[], &[]);
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
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(Error::Output(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => {
            exit_codes::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {}", redact::text(&err.to_string()));
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                // thiserror's transparent variants repeat their inner message; skip duplicates.
                let text = cause.to_string();
                if !err.to_string().contains(&text) {
                    eprintln!("  caused by: {}", redact::text(&text));
                }
                source = cause.source();
            }
            err.exit_code()
        }
    };
    if let Ok(usage) = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF) {
        // ru_maxrss is in KiB on Linux. A target of its own, so that a benchmark can ask for this
        // line alone (`RUST_LOG=warn,kmilestone::peak=debug`) without debug logging's own cost.
        tracing::debug!(target: "kmilestone::peak", peak_rss_kib = usage.max_rss(), code, "done");
    }
    code
}

fn dispatch(cli: Cli) -> Result<i32, Error> {
    logging::init(cli.global.verbose);
    tracing::debug!(command = ?cli.command, "starting");
    // `run` writes to stdout itself, from more than one thread (the live status line): it must
    // not run while this thread holds the stdout lock.
    let command = match cli.command {
        Command::Run(args) => return commands::run::run(args, &cli.global),
        other => other,
    };
    let stdout = std::io::stdout();
    let out = &mut redact::RedactingWriter::new(stdout.lock(), cli.global.json);
    match command {
        Command::Run(_) => unreachable!("`run` returned above"),
        Command::Status(args) => {
            let started = std::time::Instant::now();
            let milestone = Milestone::load(&args.plan_path(), args.handoff.as_deref())?;
            tracing::debug!(
                plan = %milestone.plan.path.display(),
                tasks = milestone.plan.tasks.len(),
                handoff = %milestone.handoff_path.display(),
                marks = milestone.handoff.marks.len(),
                ms = started.elapsed().as_millis() as u64,
                "plan and handoff read"
            );
            if cli.global.json {
                commands::status::render_json(&milestone, out)?;
            } else {
                commands::status::render_text(&milestone, out)?;
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
            out,
        )?),
        Command::CheckTests(args) => commands::check_tests::run(&args, &cli.global, out),
        Command::Report(args) => commands::report::run(
            &args.plan_path(),
            args.handoff.as_deref(),
            cli.global.json,
            out,
        ),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "kmilestone", out);
            out.flush()?;
            Ok(exit_codes::SUCCESS)
        }
    }
}
