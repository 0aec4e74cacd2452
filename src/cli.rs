//! The command line as clap reads it. These types stay here: the rest of the crate sees resolved
//! settings, never clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "kmilestone",
    version,
    about = "Run a milestone plan through an AI coding agent, one verified task at a time",
    after_help = "Exit codes: 0 done, 1 task failed verification, 2 bad input, 3 blocked, \
4 waiting for an answer, 5 agent unavailable, 6 usage limit (--no-wait), 130 interrupted."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Machine output: JSON (an object for status, JSON lines of events for run).
    #[arg(long, global = true)]
    pub json: bool,
    /// When to use colours.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Less output.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More output (debug logs on stderr).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Configuration file (default: kmilestone.toml at the repository root).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl From<ColorChoice> for crate::reporter::Color {
    fn from(choice: ColorChoice) -> Self {
        match choice {
            ColorChoice::Auto => crate::reporter::Color::Auto,
            ColorChoice::Always => crate::reporter::Color::Always,
            ColorChoice::Never => crate::reporter::Color::Never,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the milestone's remaining tasks through the agent, verifying each.
    Run(RunArgs),
    /// Show what is done and what is next; never starts an agent.
    Status(PlanArgs),
    /// Check a plan for errors and warnings; exit 1 on errors.
    Lint(PlanArgs),
    /// Check unit-test files for tests that are not real unit tests (exit 1 on a HIGH finding).
    CheckTests(CheckTestsArgs),
    /// Show the last run's report again (`--json` for report.json).
    Report(PlanArgs),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The milestone plan (a leading `@` is ignored).
    #[arg(value_name = "MILESTONE.md")]
    pub plan: String,
    /// The handoff file (default: HANDOFF_<stem>.md or HANDOFF_<ID>.md beside the plan).
    #[arg(long, value_name = "FILE")]
    pub handoff: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Start at this task, whatever the handoff says.
    #[arg(long, value_name = "ID", conflicts_with = "only")]
    pub from: Option<String>,
    /// Run only this task.
    #[arg(long, value_name = "ID")]
    pub only: Option<String>,
    /// Stop after this task.
    #[arg(long, value_name = "ID", conflicts_with = "only")]
    pub to: Option<String>,
    /// Agent to use: claude, codex or command.
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// Print the prompt, agent command and gates for each task; start nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Start even if the working tree has uncommitted changes.
    #[arg(long)]
    pub allow_dirty: bool,
    /// Accept, for this run, changes to kmilestone.toml, Claude Code's settings and hooks, git's
    /// hooks and command settings (a task that makes them fails verification otherwise).
    #[arg(long)]
    pub allow_config_changes: bool,
    /// The answer to the question the agent asked; continues its session.
    #[arg(long, value_name = "TEXT")]
    pub answer: Option<String>,
    /// Do not wait for an agent usage limit to reset; stop instead.
    #[arg(long)]
    pub no_wait: bool,
    /// Skip the quality gates.
    #[arg(long)]
    pub no_gates: bool,
    /// Let the agent run any tool without asking (bypass permissions).
    #[arg(long)]
    pub dangerously_skip_permissions: bool,
    /// Run `gh pr create` when the milestone completes.
    #[arg(long)]
    pub pr: bool,
    /// Stop before a task when the milestone has spent this many dollars (across runs).
    #[arg(long, value_name = "USD")]
    pub max_cost: Option<f64>,
    /// Stop a task that spends this many dollars (passed to Claude as --max-budget-usd).
    #[arg(long, value_name = "USD")]
    pub max_task_cost: Option<f64>,
    /// Start no new task after this much time (e.g. 8h, 90m).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub max_time: Option<std::time::Duration>,
    /// Run this shell command when the run needs a human or ends (the event as JSON on stdin).
    #[arg(long, value_name = "CMD")]
    pub notify: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckTestsArgs {
    /// Test files to check (default: test files changed since --since, or since HEAD).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Check the test files changed since this git revision.
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,
}

impl PlanArgs {
    /// The plan path with the seed's leading `@` removed.
    pub(crate) fn plan_path(&self) -> PathBuf {
        PathBuf::from(self.plan.strip_prefix('@').unwrap_or(&self.plan))
    }
}
