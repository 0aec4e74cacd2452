//! The errors that end a command before or outside a run, each with its documented exit code
//! (`exit_codes`). Rendered once, with their causes, by `crate::run`.

use crate::checks::CheckError;
use crate::config::ConfigError;
use crate::exit_codes;
use crate::plan::MilestoneError;
use crate::runner::RunError;
use crate::state::StateError;
use crate::vcs::GitError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The plan or handoff cannot be read.
    #[error(transparent)]
    Plan(#[from] MilestoneError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configuration cannot make the agent's permissions.
    #[error(transparent)]
    Agent(#[from] crate::agent::SetupError),
    /// The run could not start (state, lock, dirty tree, range…).
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Check(#[from] CheckError),
    /// Nothing to report yet, or an unreadable record.
    #[error("{0}")]
    Report(String),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl Error {
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Error::Plan(_)
            | Error::Config(_)
            | Error::Agent(_)
            | Error::State(_)
            | Error::Git(_)
            | Error::Check(_)
            | Error::Report(_) => exit_codes::BAD_INPUT,
            Error::Run(err) => err.exit_code(),
            Error::Output(_) => exit_codes::TASK_FAILED,
        }
    }
}
