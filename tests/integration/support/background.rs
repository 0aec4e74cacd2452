//! A `kmilestone run` in the background, and the waits and checks of tests that signal it, kill
//! it or look for the processes it left.

use std::io::Read;
use std::process::{Child, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kmilestone::process::{group_members, is_alive};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::project::{Project, Run};

/// The longest any single run in these tests may take before the test gives up on it.
pub const RUN_BOUND: Duration = Duration::from_secs(30);

/// A file outside the repository (so it never dirties the tree) for the fake agent to write.
pub fn outside(project: &Project, name: &str) -> String {
    project
        .root()
        .parent()
        .unwrap()
        .join(name)
        .display()
        .to_string()
}

/// Polls `check` every 20 ms until it returns something, or panics after `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid the fake agent (or its sleeper) wrote to `path`, once it is there.
pub fn pid_in(path: &str) -> i32 {
    wait_for(RUN_BOUND, &format!("a pid in {path}"), || {
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    })
}

/// Asserts that none of `pids` is alive within `limit`: killed and gone, not orphaned.
pub fn assert_dead_within(pids: &[i32], limit: Duration) {
    let start = Instant::now();
    while pids.iter().any(|&pid| is_alive(pid)) {
        if start.elapsed() > limit {
            let alive: Vec<i32> = pids.iter().copied().filter(|&p| is_alive(p)).collect();
            // Clean up before failing, so a failing test leaves nothing behind either.
            for &pid in &alive {
                kill(Pid::from_raw(pid), Signal::SIGKILL).ok();
            }
            panic!("still alive after {limit:?}: {alive:?} (of {pids:?})");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for &pid in pids {
        assert!(
            group_members(pid).is_empty(),
            "process group {pid} still has members: {:?}",
            group_members(pid)
        );
    }
}

/// How long `pid` lives from now on (polled), at most `limit`.
pub fn lifetime(pid: i32, limit: Duration) -> Duration {
    let start = Instant::now();
    wait_for(limit, &format!("process {pid} to end"), || {
        (!is_alive(pid)).then_some(())
    });
    start.elapsed()
}

pub fn signal(pid: u32, signal: Signal) {
    kill(Pid::from_raw(pid as i32), signal).unwrap();
}

/// A `kmilestone` spawned in the background, its output collected as it comes.
pub struct Background {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Background {
    pub fn start(project: &Project, args: &[&str]) -> Background {
        let mut all = vec!["run", crate::support::project::PLAN_NAME];
        all.extend_from_slice(args);
        Background::start_with(project, &all, &[])
    }

    pub fn start_with(project: &Project, args: &[&str], env: &[(&str, &str)]) -> Background {
        let mut command = project.command(args);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let collect = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                pipe.read_to_string(&mut text).ok();
                text
            })
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Background {
            child,
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn still_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the exit, at most `limit` (then kills it and fails), and returns the run.
    pub fn finish(mut self, limit: Duration) -> (Run, Duration) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > limit {
                self.child.kill().ok();
                self.child.wait().ok();
                panic!("kmilestone did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let waited = start.elapsed();
        let stdout = self.stdout.take().unwrap().join().unwrap();
        let stderr = self.stderr.take().unwrap().join().unwrap();
        let output = std::process::Output {
            status,
            stdout: stdout.clone().into_bytes(),
            stderr: stderr.clone().into_bytes(),
        };
        (
            Run {
                output,
                stdout,
                stderr,
            },
            waited,
        )
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // A test that failed half-way must not leave its runner behind.
        if self.stdout.is_some() {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}
