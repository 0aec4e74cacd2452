//! Helpers for tests that run real processes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{Limits, ProcessSpec, StdinSource, group_members, is_alive};

/// Set in a re-executed test binary to pick the helper behaviour.
pub(crate) const HELPER_ENV: &str = "KMILESTONE_TEST_HELPER";

/// Upper bound for any single test, so a bug shows up as a failure and never as a hang.
pub(crate) const TEST_BOUND: Duration = Duration::from_secs(30);

pub(crate) fn sh(script: &str) -> ProcessSpec {
    ProcessSpec {
        program: "sh".into(),
        args: vec!["-c".into(), script.into()],
        cwd: std::env::temp_dir(),
        env_set: Vec::new(),
        env_remove: Vec::new(),
        stdin: StdinSource::Null,
    }
}

pub(crate) fn limits() -> Limits {
    Limits {
        idle_timeout: None,
        wall_timeout: None,
        after_final_grace: Duration::from_secs(5),
        kill_grace: Duration::from_secs(1),
    }
}

pub(crate) async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(TEST_BOUND, future)
        .await
        .expect("test exceeded its time bound")
}

/// Polls until `pid` is gone; false if it is still alive after `within`.
pub(crate) fn wait_dead(pid: i32, within: Duration) -> bool {
    let until = Instant::now() + within;
    while is_alive(pid) {
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// A process that was sent SIGKILL is gone once the kernel schedules it to exit; it closes its
/// files (so pipes report end of file) a moment before it stops being a live process.
pub(crate) const DEATH_BOUND: Duration = Duration::from_secs(2);

/// [`wait_dead`] with [`DEATH_BOUND`].
pub(crate) fn dies(pid: i32) -> bool {
    wait_dead(pid, DEATH_BOUND)
}

/// Polls until no live process is left in group `pgid`.
pub(crate) fn group_dies(pgid: u32) -> bool {
    let until = Instant::now() + DEATH_BOUND;
    while !group_members(pgid as i32).is_empty() {
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// This test binary re-executed to run one `#[ignore]`d helper test with [`HELPER_ENV`] set.
/// Dropping it kills the helper and any pid handed to [`Helper::also_kill`], so a failing test
/// leaves nothing behind.
pub(crate) struct Helper {
    child: Child,
    lines: mpsc::Receiver<String>,
    leftovers: Vec<i32>,
}

impl Helper {
    pub(crate) fn spawn(test: &str, mode: &str) -> Self {
        let exe = std::env::current_exe().expect("test binary path");
        let mut child = Command::new(exe)
            .args([test, "--exact", "--include-ignored", "--nocapture"])
            .env(HELPER_ENV, mode)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("re-execute the test binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            leftovers: Vec::new(),
        }
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub(crate) fn also_kill(&mut self, pid: i32) {
        self.leftovers.push(pid);
    }

    /// The rest of the first line starting with `prefix`.
    pub(crate) fn expect_line(&self, prefix: &str) -> String {
        let until = Instant::now() + TEST_BOUND;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.trim().to_owned();
                    }
                }
                Err(error) => panic!("helper never printed {prefix:?}: {error}"),
            }
        }
    }

    pub(crate) fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid()), signal).expect("signal the helper");
    }

    pub(crate) fn wait(&mut self) -> ExitStatus {
        let until = Instant::now() + TEST_BOUND;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the helper") {
                return status;
            }
            assert!(Instant::now() < until, "helper did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        for &pid in &self.leftovers {
            if is_alive(pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
