//! Supervision of child processes (agents and gates).
//!
//! Every child runs in its own process group with `PR_SET_PDEATHSIG(SIGKILL)`, both pipes are
//! drained concurrently and delivered line by line, and idle, wall-clock, after-final-line and
//! cancellation stops all go SIGTERM to the group, a grace period, then SIGKILL. When [`run`]
//! returns the group has been killed, so no grandchild survives it.

mod cancel;
mod imp;
mod lines;
#[cfg(test)]
pub(crate) mod test_support;
mod unix;

pub use cancel::Cancel;
pub use imp::{
    EndedBy, ExitKind, Limits, LineVerdict, Outcome, ProcessSpec, SpawnError, StdinSource, Stream,
    run,
};
pub use unix::{group_members, is_alive};
