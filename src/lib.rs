//! kmilestone: run a milestone plan through an AI coding agent, one verified task at a time.

pub mod checks;
pub mod exit_codes;
