//! The errors that end a command before or outside a run, each with its exit code.

use crate::exit_codes;
use crate::plan::milestone::MilestoneError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Milestone(#[from] MilestoneError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Milestone(_) | Error::Usage(_) => exit_codes::BAD_INPUT,
            Error::Output(_) => exit_codes::TASK_FAILED,
        }
    }
}
