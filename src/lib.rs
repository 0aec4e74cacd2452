//! kmilestone: run a milestone plan through an AI coding agent, one verified task at a time.

pub mod exit_codes;
pub mod process;
pub mod signals;
