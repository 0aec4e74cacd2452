//! Supervision of child processes (agents and gates).
//!
//! [`run`] starts one child and supervises it until it is gone:
//! - the child leads a process group of its own and has `PR_SET_PDEATHSIG(SIGKILL)`, so it dies
//!   with the thread that started it even if kmilestone itself is SIGKILLed;
//! - stdout and stderr are drained together and handed over line by line as they arrive;
//! - an idle child, the wall-clock limit, a child that keeps running after its final line, and
//!   [`Cancel::cancel`] all stop it the same way: SIGTERM (and SIGCONT, for a stopped child) to the
//!   group, `kill_grace`, then SIGKILL; [`Cancel::kill_now`] sends SIGKILL at once;
//! - when the leader exits, what it left running is SIGKILLed before the leader is reaped, so
//!   background processes (a gate's `sleep 1000 &`, an agent's server) never survive it, and a
//!   group id is never signalled after it could have been reused. [`Outcome::survivors_killed`]
//!   says what that was. With [`become_subreaper`] (Linux), that includes daemons that left the
//!   group with `setsid` or were orphaned by a double fork: they are reparented to kmilestone and
//!   found there. Elsewhere only the members of the leader's group can be seen;
//! - one watchdog process per kmilestone process (a small `sh`, started at the first child)
//!   SIGKILLs the group of every child still running, and the orphans adopted meanwhile, if
//!   kmilestone dies without reaping them (SIGKILL).
//!
//! Requirements on the caller:
//! - the tokio runtime needs its I/O and time drivers (`enable_all`): exits are noticed through
//!   SIGCHLD;
//! - the parent-death signal belongs to the *thread* that forked the child. Poll [`run`] on a
//!   thread that lives as long as the child: the thread of a current-thread runtime, or a worker
//!   of a multi-thread runtime, never a `spawn_blocking` thread, which exits when idle;
//! - call [`become_subreaper`] once at start, before any child is started. From then on, a child
//!   that kmilestone starts *outside* this module must stay in kmilestone's process group (what
//!   `std::process::Command` does by default): a child of kmilestone in another group that this
//!   module did not start is taken for an orphan;
//! - orphans are attributed to the run whose leader started last before them: exact when one
//!   child is supervised at a time, as the runner does.
//!
//! What is out of reach when kmilestone is SIGKILLed: a process that left the group and is still
//! below a running child (neither in an armed group nor adopted yet), and an orphan adopted less
//! than half a second before (the watchdog learns of new orphans that often). At any time, a
//! process that moves itself into kmilestone's own process group passes for a child kmilestone
//! started itself and is left alone.
//!
//! [`run_sandboxed`] does the same inside a [`sandbox::Sandbox`].

#[cfg(test)]
mod bench;
mod cancel;
mod imp;
mod lines;
mod procfs;
mod reaper;
pub mod sandbox;
pub mod secrets;
mod shell_words;
pub mod signals;
#[cfg(test)]
pub(crate) mod test_support;
mod unix;
mod warden;

pub use cancel::Cancel;
pub use imp::{
    EndedBy, ExitKind, Limits, LineVerdict, Outcome, ProcessSpec, SpawnError, StdinSource, Stream,
    run, run_sandboxed,
};
pub(crate) use procfs::held_open;
pub use reaper::{Survivor, become_subreaper, start_watchdog};
pub(crate) use shell_words::plain_words;
pub use unix::{group_members, is_alive};
