//! Ctrl-C, SIGTERM and SIGHUP.
//!
//! The first signal cancels gracefully: the current child gets SIGTERM, a grace, then SIGKILL,
//! and the runner saves its state and exits 130. The second kills every live child group at once
//! and exits the process with 130, because a runner that did not stop after the first signal may
//! be stuck.
//!
//! Children run in process groups of their own, so a Ctrl-C typed at the terminal reaches only
//! kmilestone; the children are stopped by the runner through [`Cancel`], never by the terminal.

use std::io;
use std::sync::mpsc;

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::exit_codes;
use crate::process::Cancel;

/// What to do about one received signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response {
    /// Stop gracefully.
    Cancel,
    /// Kill every child group now and exit with [`exit_codes::INTERRUPTED`].
    KillAndExit,
}

/// Counts signals: the first cancels, every later one kills.
#[derive(Debug, Default)]
pub struct Escalation {
    received: u32,
}

impl Escalation {
    pub fn on_signal(&mut self) -> Response {
        self.received = self.received.saturating_add(1);
        if self.received == 1 {
            Response::Cancel
        } else {
            Response::KillAndExit
        }
    }
}

/// Starts listening for SIGINT, SIGTERM and SIGHUP and returns once the handlers are in place.
///
/// The listener runs on a thread of its own with its own small runtime rather than as a task of
/// the caller's runtime: with a current-thread runtime, a task could not run while the runner is
/// blocked in synchronous code, and the second Ctrl-C must work exactly then.
pub fn install(cancel: Cancel) -> io::Result<()> {
    let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
    std::thread::Builder::new()
        .name("kmilestone-signals".into())
        .spawn(move || {
            let listeners = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .and_then(|runtime| {
                    // Registration needs the runtime's driver, so it happens inside it.
                    let listeners = runtime.block_on(async { register() })?;
                    Ok((runtime, listeners))
                });
            match listeners {
                Ok((runtime, listeners)) => {
                    // The receiver waits for this; if it is gone the caller is gone too.
                    let _ = ready_tx.send(Ok(()));
                    runtime.block_on(listen(listeners, cancel));
                }
                Err(error) => {
                    let _ = ready_tx.send(Err(error));
                }
            }
        })?;
    ready_rx
        .recv()
        .unwrap_or_else(|_| Err(io::Error::other("signal listener thread ended early")))
}

struct Listeners {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

fn register() -> io::Result<Listeners> {
    Ok(Listeners {
        interrupt: signal(SignalKind::interrupt())?,
        terminate: signal(SignalKind::terminate())?,
        hangup: signal(SignalKind::hangup())?,
    })
}

async fn listen(mut listeners: Listeners, cancel: Cancel) {
    let mut escalation = Escalation::default();
    loop {
        let name = tokio::select! {
            Some(()) = listeners.interrupt.recv() => "SIGINT",
            Some(()) = listeners.terminate.recv() => "SIGTERM",
            Some(()) = listeners.hangup.recv() => "SIGHUP",
            else => return,
        };
        let response = escalation.on_signal();
        tracing::debug!(signal = name, ?response, "signal received");
        respond(response, &cancel);
    }
}

fn respond(response: Response, cancel: &Cancel) {
    match response {
        Response::Cancel => cancel.cancel(),
        Response::KillAndExit => {
            cancel.kill_now();
            std::process::exit(exit_codes::INTERRUPTED);
        }
    }
}
