//! The Unix (Linux) side of supervision: process groups, parent-death signal, exit detection
//! without reaping, and /proc inspection.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::{Pid, getpid, getppid};

/// Puts the child in a process group of its own and asks the kernel to SIGKILL it when its
/// parent dies.
///
/// The parent-death signal fires when the *thread* that forked the child exits, not the process.
/// [`run`](super::run) forks from the thread that polls it, which for a current-thread runtime is
/// the thread that called `block_on` and lives as long as the run.
pub(crate) fn configure(cmd: &mut Command) {
    cmd.process_group(0);
    let parent = getpid();
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe system
    // calls (prctl, getppid); building the error from a raw code does not allocate.
    unsafe {
        cmd.pre_exec(move || {
            #[cfg(target_os = "linux")]
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                .map_err(|errno| io::Error::from_raw_os_error(errno as i32))?;
            // The parent may have died before the prctl took effect; the signal would then never
            // come, so give up instead of running as an orphan.
            if getppid() != parent {
                return Err(io::Error::from_raw_os_error(Errno::ESRCH as i32));
            }
            Ok(())
        });
    }
}

/// Sends `signal` to every process of the group. A group that is already gone is not an error.
pub(crate) fn signal_group(pgid: i32, signal: Signal) {
    match killpg(Pid::from_raw(pgid), signal) {
        Ok(()) => tracing::debug!(pgid, ?signal, "signalled process group"),
        Err(Errno::ESRCH) => {}
        Err(errno) => tracing::debug!(pgid, ?signal, %errno, "could not signal process group"),
    }
}

/// A small `sh` outside the child's group that SIGKILLs the group if this process dies without
/// disarming it first (SIGKILL, abort). The parent-death signal reaches only the direct child;
/// the watchdog takes care of what the child started in its group.
///
/// It waits for one line on a pipe only this process holds (std opens pipes close-on-exec, so no
/// other child inherits it): `done` disarms it, end of file (its holder died) fires it.
pub(crate) struct Watchdog {
    child: std::process::Child,
}

const WATCHDOG_SCRIPT: &str =
    r#"trap '' HUP INT; read line; [ "$line" = done ] || kill -s KILL -- "-$1""#;

impl Watchdog {
    pub(crate) fn start(pgid: i32) -> io::Result<Watchdog> {
        let child = Command::new("/bin/sh")
            .args(["-c", WATCHDOG_SCRIPT, "kmilestone-watchdog"])
            .arg(pgid.to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            // Its own group: a Ctrl-C at the terminal or a signal to the child's group spares it.
            .process_group(0)
            .spawn()?;
        Ok(Watchdog { child })
    }

    /// Tells the watchdog the group is taken care of, and reaps it.
    pub(crate) fn disarm(mut self) {
        use std::io::Write;
        if let Some(mut stdin) = self.child.stdin.take() {
            // A watchdog that is already gone has nothing left to do.
            stdin.write_all(b"done\n").ok();
        }
        if let Err(error) = self.child.wait() {
            tracing::debug!(%error, "could not reap the watchdog");
        }
    }
}

/// Whether the child has exited, without reaping it: while the leader stays a zombie its pid,
/// and so its process group id, cannot be reused, which keeps group signals safe.
pub(crate) fn has_exited(pid: i32) -> io::Result<bool> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
        Ok(WaitStatus::StillAlive) => Ok(false),
        Ok(_) => Ok(true),
        Err(Errno::EINTR) => Ok(false),
        Err(errno) => Err(io::Error::from(errno)),
    }
}

/// Whether a process with this pid exists and is not a zombie (a zombie has finished running;
/// it only waits for its parent to collect its status).
pub fn is_alive(pid: i32) -> bool {
    match read_stat(pid) {
        Some(stat) => !stat.is_dead(),
        None => false,
    }
}

/// Pids of the live (non-zombie) processes whose process group is `pgid`, read from /proc.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut members: Vec<i32> = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| read_stat(pid).is_some_and(|stat| stat.pgrp == pgid && !stat.is_dead()))
        .collect();
    members.sort_unstable();
    members
}

struct Stat {
    state: u8,
    pgrp: i32,
}

impl Stat {
    fn is_dead(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) may contain spaces and parentheses, so
/// the fields are read after its last `)`.
fn read_stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Stat { state, pgrp })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_in_its_group() {
        let me = std::process::id() as i32;
        assert!(is_alive(me));
        let pgid = nix::unistd::getpgrp().as_raw();
        assert!(group_members(pgid).contains(&me));
    }

    #[test]
    fn nonexistent_pid_is_not_alive() {
        // Above the kernel's maximum pid (4194304), so it can never exist.
        assert!(!is_alive(i32::MAX));
        assert!(group_members(i32::MAX).is_empty());
    }
}
