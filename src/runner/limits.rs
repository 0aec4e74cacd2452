//! Waiting out an agent's usage limit: until its reset time with a countdown, or with a bounded
//! backoff when the message gives none (DESIGN 6).

use std::time::Duration;

use super::Runner;
use crate::agent::UsageLimit;
use crate::events::{EventKind, LimitStop};

/// Waits when the limit gives no reset time, in order; after the last the run stops.
const BACKOFF_SECONDS: [u64; 3] = [60, 300, 900];

/// What came of a wait.
pub(crate) enum LimitWait {
    Resume,
    Stop(LimitStop),
    Interrupted,
}

impl Runner<'_> {
    /// Waits for `limit` to reset (`waits` earlier waits in this task), or says why not.
    pub(crate) async fn wait_for_limit(
        &mut self,
        id: &str,
        limit: &UsageLimit,
        waits: u32,
    ) -> LimitWait {
        if self.options.no_wait {
            return LimitWait::Stop(LimitStop::NoWait {
                resets_at: limit.resets_at.map(|t| t.to_string()),
            });
        }
        let wait = match limit.resets_at {
            Some(resets_at) => {
                let seconds = resets_at.as_second() - jiff::Timestamp::now().as_second();
                Duration::from_secs(seconds.max(0).unsigned_abs() + 1)
            }
            None => match BACKOFF_SECONDS.get(waits as usize) {
                Some(&seconds) => Duration::from_secs(seconds),
                None => return LimitWait::Stop(LimitStop::StillLimited { waits }),
            },
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if remaining.is_zero() {
                return LimitWait::Resume;
            }
            self.emit(EventKind::WaitingForLimit {
                id: id.to_string(),
                message: limit.message.clone(),
                resets_at: limit.resets_at.map(|t| t.to_string()),
                wait_seconds: remaining.as_secs(),
            });
            let step = remaining.min(Duration::from_secs(60));
            tokio::select! {
                () = tokio::time::sleep(step) => {}
                () = self.cancel.cancelled() => return LimitWait::Interrupted,
            }
        }
    }
}
