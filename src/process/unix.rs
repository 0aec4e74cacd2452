//! The Unix (Linux) side of supervision: process groups, parent-death signal, exit detection
//! without reaping, and what /proc says of a pid or a group.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::{Pid, getpid, getppid};

use super::procfs;

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

/// Waits until the child has exited, without reaping it.
pub(crate) fn wait_exited(pid: i32) -> io::Result<()> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    loop {
        match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => {}
            Err(errno) => return Err(io::Error::from(errno)),
        }
    }
}

/// Whether a process with this pid exists and is not a zombie (a zombie has finished running;
/// it only waits for its parent to collect its status).
pub fn is_alive(pid: i32) -> bool {
    procfs::stat(pid).is_some_and(|stat| !stat.is_dead())
}

/// Pids of the live (non-zombie) processes whose process group is `pgid`, read from /proc.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let mut members: Vec<i32> = procfs::pids()
        .into_iter()
        .filter(|&pid| procfs::stat(pid).is_some_and(|stat| stat.pgrp == pgid && !stat.is_dead()))
        .collect();
    members.sort_unstable();
    members
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
