//! The port to the user's notify command (`[notify] command`, `--notify`): told of every event,
//! it runs the command for those that need a human or end the run. It never stops or slows the
//! run; its results come back as `notified` events.

use crate::events::{Event, NotifyResult};

/// Someone to tell when the run needs a human or ends.
pub(crate) trait Notify {
    /// Every event of the run, in order.
    fn observe(&mut self, event: &Event);
    /// The results of the commands that have finished; with `wait`, of all of them (each is
    /// bounded by its own timeout).
    fn results(&mut self, wait: bool) -> Vec<NotifyResult>;
}

/// No notify command configured.
pub(crate) struct NoNotify;

impl Notify for NoNotify {
    fn observe(&mut self, _event: &Event) {}

    fn results(&mut self, _wait: bool) -> Vec<NotifyResult> {
        Vec::new()
    }
}
