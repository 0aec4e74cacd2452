//! The cancellation token shared by the signal handler, the runner and every supervised process.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use nix::sys::signal::Signal;
use tokio::sync::watch;

use super::{reaper, unix};

/// How far cancellation has gone. Ordered: a request never moves backwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Running,
    /// Stop the current child the polite way (SIGTERM, grace, SIGKILL).
    Graceful,
    /// Kill at once.
    KillNow,
}

/// A cheap, clonable cancellation token.
///
/// It also keeps the process groups of the children that [`run`](super::run) is currently
/// supervising, so that [`Cancel::kill_now`] can kill them from any thread even when the task
/// running them is not being polled (a runner stuck in blocking code).
#[derive(Clone, Debug)]
pub struct Cancel {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    level: watch::Sender<Level>,
    /// Process group ids whose leader has not been reaped yet. A group id stays reserved by the
    /// kernel while its leader is unreaped (even as a zombie), so signalling an id in this list
    /// can never hit an unrelated group that reused the number. Entries are removed under this
    /// lock before the leader is reaped.
    groups: Mutex<Vec<i32>>,
}

impl Default for Cancel {
    fn default() -> Self {
        Self::new()
    }
}

impl Cancel {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                level: watch::Sender::new(Level::Running),
                groups: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Asks for a graceful stop: the current child gets SIGTERM, then SIGKILL after its grace.
    pub fn cancel(&self) {
        self.raise(Level::Graceful);
    }

    /// Kills every live child group with SIGKILL right now, from the calling thread, and marks
    /// the token so that a running [`run`](super::run) returns as soon as its child is gone.
    /// What those children left and the subreaper adopted is killed too: the caller may exit
    /// the process next.
    pub fn kill_now(&self) {
        self.raise(Level::KillNow);
        let groups = self.groups();
        for &pgid in groups.iter() {
            unix::signal_group(pgid, Signal::SIGKILL);
        }
        reaper::kill_adopted_now(&groups);
    }

    /// True once [`cancel`](Self::cancel) or [`kill_now`](Self::kill_now) was called.
    pub fn is_cancelled(&self) -> bool {
        self.level() >= Level::Graceful
    }

    /// True once [`kill_now`](Self::kill_now) was called.
    pub fn is_killed(&self) -> bool {
        self.level() == Level::KillNow
    }

    /// Completes when the token is cancelled (at once if it already is).
    pub async fn cancelled(&self) {
        let mut rx = self.inner.level.subscribe();
        // The sender lives in `self`, so the channel cannot close while this waits.
        let _ = rx.wait_for(|level| *level >= Level::Graceful).await;
    }

    /// Process group ids of the children being supervised right now.
    pub fn live_groups(&self) -> Vec<i32> {
        self.groups().clone()
    }

    pub(crate) fn level(&self) -> Level {
        *self.inner.level.borrow()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Level> {
        self.inner.level.subscribe()
    }

    pub(crate) fn register(&self, pgid: i32) {
        self.groups().push(pgid);
    }

    /// SIGKILLs the group and forgets it, under the lock, so that no other thread can signal the
    /// group id after the caller reaps the leader.
    pub(crate) fn release(&self, pgid: i32) {
        let mut groups = self.groups();
        unix::signal_group(pgid, Signal::SIGKILL);
        groups.retain(|&g| g != pgid);
    }

    fn raise(&self, to: Level) {
        self.inner.level.send_if_modified(|level| {
            if *level < to {
                *level = to;
                true
            } else {
                false
            }
        });
    }

    fn groups(&self) -> MutexGuard<'_, Vec<i32>> {
        // The list stays consistent even if a holder panicked: every update is a single push or
        // retain.
        self.inner
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_only_go_up() {
        let cancel = Cancel::new();
        assert!(!cancel.is_cancelled());
        cancel.kill_now();
        cancel.cancel();
        assert!(cancel.is_cancelled());
        assert!(cancel.is_killed());
    }

    #[test]
    fn clones_share_state() {
        let cancel = Cancel::new();
        let other = cancel.clone();
        other.cancel();
        assert!(cancel.is_cancelled());
        assert!(!cancel.is_killed());
    }

    #[tokio::test]
    async fn cancelled_resolves() {
        let cancel = Cancel::new();
        let waiter = cancel.clone();
        let task = tokio::spawn(async move { waiter.cancelled().await });
        tokio::task::yield_now().await;
        cancel.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .expect("cancelled() did not resolve")
            .expect("task panicked");
        // Already cancelled: resolves at once.
        cancel.cancelled().await;
    }
}
