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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use nix::sys::signal::Signal as Sig;

    use super::*;
    use crate::process::test_support::{HELPER_ENV, Helper, dies, limits, sh};
    use crate::process::{EndedBy, Limits, LineVerdict, is_alive, run};

    const HELPER: &str = "process::signals::tests::signal_helper";

    #[test]
    fn first_signal_cancels_every_later_one_kills() {
        let mut escalation = Escalation::default();
        assert_eq!(escalation.on_signal(), Response::Cancel);
        assert_eq!(escalation.on_signal(), Response::KillAndExit);
        assert_eq!(escalation.on_signal(), Response::KillAndExit);
    }

    /// Runs in a re-executed test binary, because it installs process-wide signal handlers and
    /// may exit the process.
    #[test]
    #[ignore = "helper process for the signal tests"]
    fn signal_helper() {
        let mode = std::env::var(HELPER_ENV).unwrap_or_default();
        let script = match mode.as_str() {
            "graceful" => "echo $$; exec sleep 1000",
            "escalate" => "trap '' TERM; echo $$; while :; do sleep 0.05; done",
            _ => return,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let cancel = Cancel::new();
            install(cancel.clone()).expect("install signal handlers");
            let watcher = cancel.clone();
            let watcher = tokio::spawn(async move {
                watcher.cancelled().await;
                println!("cancelled");
            });
            let limits = Limits {
                kill_grace: Duration::from_secs(60),
                ..limits()
            };
            let outcome = run(&sh(script), &limits, &cancel, &mut |_, line| {
                println!("child {line}");
                LineVerdict::Continue
            })
            .await
            .expect("spawn");
            watcher.await.expect("watcher task");
            println!("ended {:?}", outcome.ended_by);
            if mode == "escalate" {
                // The listener kills the group and then exits the process; returning here would
                // race it with the test harness's own exit code.
                std::future::pending::<()>().await;
            }
        });
    }

    #[test]
    fn first_signal_stops_the_child_gracefully() {
        let mut helper = Helper::spawn(HELPER, "graceful");
        let child: i32 = helper.expect_line("child ").parse().expect("pid");
        helper.also_kill(child);
        helper.signal(Sig::SIGTERM);
        helper.expect_line("cancelled");
        assert_eq!(
            helper.expect_line("ended "),
            format!("{:?}", EndedBy::Cancelled)
        );
        assert!(helper.wait().success());
        assert!(dies(child));
    }

    #[test]
    fn second_signal_kills_the_group_and_exits_130() {
        let mut helper = Helper::spawn(HELPER, "escalate");
        let child: i32 = helper.expect_line("child ").parse().expect("pid");
        helper.also_kill(child);
        helper.signal(Sig::SIGINT);
        helper.expect_line("cancelled");
        // The child ignores SIGTERM and its grace is a minute: only the escalation can stop it.
        assert!(is_alive(child));
        helper.signal(Sig::SIGHUP);
        let status = helper.wait();
        assert_eq!(status.code(), Some(exit_codes::INTERRUPTED), "{status:?}");
        assert!(dies(child));
    }
}
