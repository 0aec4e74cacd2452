//! Supervision of child processes (agents and gates).
//!
//! [`run`] starts one child and supervises it until it is gone:
//! - the child leads a process group of its own and has `PR_SET_PDEATHSIG(SIGKILL)`, so it dies
//!   with the thread that started it even if kmilestone itself is SIGKILLed;
//! - stdout and stderr are drained together and handed over line by line as they arrive;
//! - an idle child, the wall-clock limit, a child that keeps running after its final line, and
//!   [`Cancel::cancel`] all stop it the same way: SIGTERM (and SIGCONT, for a stopped child) to the
//!   group, `kill_grace`, then SIGKILL; [`Cancel::kill_now`] sends SIGKILL at once;
//! - when the leader exits, the rest of its group is SIGKILLed before the leader is reaped, so
//!   background processes it left behind (a gate's `sleep 1000 &`, an agent's server) never
//!   survive it, and a group id is never signalled after it could have been reused.
//!
//! Requirements on the caller:
//! - the tokio runtime needs its I/O and time drivers (`enable_all`): exits are noticed through
//!   SIGCHLD;
//! - the parent-death signal belongs to the *thread* that forked the child. Poll [`run`] on a
//!   thread that lives as long as the child: the thread of a current-thread runtime, or a worker
//!   of a multi-thread runtime, never a `spawn_blocking` thread, which exits when idle;
//! - when kmilestone is SIGKILLed, only the group leader gets the parent-death signal; processes
//!   it started inherit nothing and are reparented. Processes that leave the group (`setsid`)
//!   are out of reach of the group kill too; [`run`] stops waiting for their output after a short
//!   bound rather than hang.
//!
//! [`run_sandboxed`] does the same inside a [`sandbox::Sandbox`].

#[cfg(test)]
mod bench;
mod cancel;
mod imp;
mod lines;
pub mod sandbox;
pub mod secrets;
pub mod signals;
#[cfg(test)]
pub(crate) mod test_support;
mod unix;

pub use cancel::Cancel;
pub use imp::{
    EndedBy, ExitKind, Limits, LineVerdict, Outcome, ProcessSpec, SpawnError, StdinSource, Stream,
    run, run_sandboxed,
};
pub use unix::{group_members, is_alive};
