//! What a supervised child leaves behind, found and killed when it ends.
//!
//! A child's process group is killed when its leader exits, but a process that called `setsid`
//! (or `setpgid`) is in no group of the child's any more, and one whose parent exited is
//! reparented. On Linux, [`become_subreaper`] makes kmilestone the process those orphans are
//! reparented to (`PR_SET_CHILD_SUBREAPER`) instead of PID 1, so when a leader exits, every
//! process still running that descended from it is, or is below, a child of kmilestone. Killing
//! is then done one level at a time, only ever signalling kmilestone's own unreaped children
//! (whose pids cannot be reused before kmilestone reaps them): SIGKILL the orphans, wait until
//! they are zombies, by then their own children have been reparented to kmilestone, repeat. The
//! zombies are reaped at the end.
//!
//! Which children are orphans, and whose: kmilestone keeps in a registry every child it starts
//! through [`run`](super::run) (and the watchdog). Any other child that is not in kmilestone's
//! own process group was not started by kmilestone: it was adopted. An adopted process belongs
//! to the run whose leader started last at or before it did. That is exact when one child is
//! supervised at a time, as the runner does; with two at once, an orphan of the earlier one
//! started after the later one began is left to the later one. The contract this puts on the
//! rest of kmilestone: once it is a subreaper, a child it starts outside `process` must stay in
//! kmilestone's process group (the default), or a supervised run that ends meanwhile takes it for
//! an orphan.
//!
//! While a run goes on, [`watch`] tells the [`Warden`] about new orphans, so that a kmilestone
//! killed by SIGKILL still takes them down. Without the subreaper (other systems, or Linux before
//! [`become_subreaper`]), the survivors that can be seen are the leader's group, listed before
//! the group is killed.

use std::io;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::{Pid, getpgrp, getpid};

use super::procfs::{self, Stat};
use super::unix;
use super::warden::{Target, Warden};

/// A process a child left running when it ended, killed by kmilestone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Survivor {
    pub pid: u32,
    /// Its command line as it was when killed (arguments joined by spaces, shortened), or its
    /// command name in brackets. Raw: it may hold whatever the child put on a command line.
    pub command: String,
}

static SUBREAPER: OnceLock<Result<bool, i32>> = OnceLock::new();

/// Makes this process the one that orphans of its descendants are reparented to, so that a
/// daemon a supervised child starts with `setsid` or a double fork is found and killed when the
/// child ends. Call it once at start, before any child is started; calling it again only returns
/// the first answer.
///
/// `Ok(true)`: on Linux, from now on. `Ok(false)`: this system has no subreapers; only the
/// leader's process group is found and killed. `Err`: the kernel refused.
pub fn become_subreaper() -> io::Result<bool> {
    let result = SUBREAPER.get_or_init(|| {
        #[cfg(target_os = "linux")]
        {
            nix::sys::prctl::set_child_subreaper(true)
                .map(|()| true)
                .map_err(|errno| errno as i32)
        }
        #[cfg(not(target_os = "linux"))]
        {
            Ok(false)
        }
    });
    result.map_err(io::Error::from_raw_os_error)
}

/// Starts the watchdog now rather than with the first child (call it from a thread of its own
/// while the run gets ready: the first agent then starts without waiting for it).
pub fn start_watchdog() {
    registry().warden.ensure_started();
}

fn is_subreaper() -> bool {
    matches!(SUBREAPER.get(), Some(Ok(true)))
}

/// A supervised child's leader: its pid, which is its group id, and its start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Leader {
    pub(crate) pid: i32,
    pub(crate) start: u64,
}

/// An orphan the watchdog was told about, and the group armed with it (if any).
#[derive(Debug)]
struct Told {
    pid: i32,
    group: Option<i32>,
}

#[derive(Debug)]
struct Registry {
    /// Children started through `process` and not reaped yet. A pid appears once per child: a
    /// pid reused after its reap is a second entry until that child is reaped.
    spawned: Vec<i32>,
    /// Leaders of the runs going on.
    runs: Vec<Leader>,
    told: Vec<Told>,
    warden: Warden,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    spawned: Vec::new(),
    runs: Vec::new(),
    told: Vec::new(),
    warden: Warden::new(),
});

fn registry() -> MutexGuard<'static, Registry> {
    // Every update is a push or a removal; a holder that panicked left the lists usable.
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How many levels of descendants are killed at most when a child ends.
const MAX_ROUNDS: usize = 64;

/// How long killing what a child left may take: SIGKILL is not delayed by the process, only by
/// a kernel wait (a hung network file system).
const KILL_BOUND: Duration = Duration::from_secs(2);

impl Registry {
    /// This process's children that it did not start: everything adopted, zombies included.
    fn adopted(&self) -> Vec<Stat> {
        let own_group = getpgrp().as_raw();
        let watchdog = self.warden.pid();
        procfs::children(getpid().as_raw())
            .into_iter()
            .filter(|child| {
                child.pgrp != own_group
                    && !self.spawned.contains(&child.pid)
                    && Some(child.pid) != watchdog
            })
            .collect()
    }

    /// Whether `orphan` belongs to the run of `leader`: the latest leader started at or before
    /// it is that one.
    fn belongs(&self, orphan: &Stat, leader: Leader) -> bool {
        orphan.start >= leader.start
            && !self.runs.iter().any(|run| {
                run.pid != leader.pid && run.start > leader.start && orphan.start >= run.start
            })
    }

    /// Forgets a told orphan before it is reaped, disarming its group once no other told orphan
    /// is in it.
    fn forget(&mut self, pid: i32) {
        let Some(index) = self.told.iter().position(|told| told.pid == pid) else {
            return;
        };
        let told = self.told.swap_remove(index);
        self.warden.disarm(Target::Pid(pid));
        if let Some(group) = told.group
            && !self.told.iter().any(|other| other.group == Some(group))
        {
            self.warden.disarm(Target::Group(group));
        }
    }
}

/// Starts `cmd` as the leader of a supervised run: registered, its group armed with the
/// watchdog. Under the registry lock, so that no run ending meanwhile takes it for an orphan.
pub(crate) fn spawn(cmd: &mut Command) -> io::Result<(Child, Leader)> {
    let mut registry = registry();
    let child = cmd.spawn()?;
    let pid = child.id() as i32;
    let start = procfs::stat(pid).map_or(0, |stat| stat.start);
    let leader = Leader { pid, start };
    registry.spawned.push(pid);
    registry.runs.push(leader);
    registry.warden.arm(Target::Group(pid), start);
    Ok((child, leader))
}

/// Reaps the leader, which has exited, once the watchdog can no longer fire on its group id.
/// The caller has killed what is left of the group.
pub(crate) fn reap_leader(child: &mut Child, leader: Leader) -> io::Result<ExitStatus> {
    let mut registry = registry();
    registry.warden.disarm(Target::Group(leader.pid));
    let status = child.wait();
    if let Some(index) = registry.spawned.iter().position(|&pid| pid == leader.pid) {
        registry.spawned.swap_remove(index);
    }
    registry.runs.retain(|run| *run != leader);
    status
}

/// Tells the watchdog about orphans adopted since a run began, so that they die with
/// kmilestone even if it is SIGKILLed before the run ends.
pub(crate) fn watch() {
    if !is_subreaper() {
        return;
    }
    let mut registry = registry();
    let Some(earliest) = registry.runs.iter().map(|run| run.start).min() else {
        return;
    };
    for orphan in registry.adopted() {
        if orphan.is_dead()
            || orphan.start < earliest
            || registry.told.iter().any(|told| told.pid == orphan.pid)
        {
            continue;
        }
        registry.warden.arm(Target::Pid(orphan.pid), orphan.start);
        // Its own group (a `setsid` daemon's) goes with it; a leader's group is armed already.
        let group = (!registry.runs.iter().any(|run| run.pid == orphan.pgrp)).then(|| {
            let start = procfs::stat(orphan.pgrp).map_or(0, |stat| stat.start);
            registry.warden.arm(Target::Group(orphan.pgrp), start);
            orphan.pgrp
        });
        registry.told.push(Told {
            pid: orphan.pid,
            group,
        });
    }
}

/// Kills what the run of `leader` left running, and says what that was. Called once the
/// leader has exited and before it is reaped; `group_killed` says the leader's group was sent
/// SIGKILL already, so its members are dying, not surviving.
pub(crate) fn end_run(leader: Leader, group_killed: bool) -> Vec<Survivor> {
    if is_subreaper() {
        let survivors = kill_adopted(leader, group_killed);
        reap_adopted();
        survivors
    } else if group_killed {
        Vec::new()
    } else {
        // The caller kills the group right after this.
        visible_group_members(leader.pid)
            .into_iter()
            .filter(|survivor| survivor.pid != leader.pid as u32)
            .collect()
    }
}

fn kill_adopted(leader: Leader, group_killed: bool) -> Vec<Survivor> {
    let deadline = Instant::now() + KILL_BOUND;
    let mut survivors: Vec<Survivor> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let killed: Vec<i32> = {
            let registry = registry();
            let mut killed = Vec::new();
            for orphan in registry.adopted() {
                if orphan.is_dead() || !registry.belongs(&orphan, leader) {
                    continue;
                }
                let pid = orphan.pid as u32;
                let dying = group_killed && orphan.pgrp == leader.pid;
                if !dying && !survivors.iter().any(|survivor| survivor.pid == pid) {
                    survivors.push(Survivor {
                        pid,
                        command: procfs::command(orphan.pid),
                    });
                }
                // An unreaped child of this process: the pid cannot name anyone else.
                signal(orphan.pid, Signal::SIGKILL);
                killed.push(orphan.pid);
            }
            killed
        };
        // Once they are zombies their children are this process's: the next round's.
        if killed.is_empty() || !wait_exited(&killed, deadline) {
            break;
        }
    }
    if !survivors.is_empty() {
        tracing::debug!(
            leader = leader.pid,
            ?survivors,
            "killed what the child left"
        );
    }
    survivors
}

/// Reaps every adopted zombie: nobody else waits for an orphan. Reaping them here, not only
/// those of the run that ended, also collects orphans that other processes left and that exited.
fn reap_adopted() {
    let mut registry = registry();
    for orphan in registry.adopted() {
        if orphan.is_dead() {
            registry.forget(orphan.pid);
            if let Err(errno) = waitpid(Pid::from_raw(orphan.pid), Some(WaitPidFlag::WNOHANG)) {
                tracing::debug!(pid = orphan.pid, %errno, "could not reap an orphan");
            }
        }
    }
}

/// SIGKILLs, at once, the orphans of the runs whose leaders are `leaders` (a second Ctrl-C).
pub(crate) fn kill_adopted_now(leaders: &[i32]) {
    if !is_subreaper() {
        return;
    }
    let registry = registry();
    for orphan in registry.adopted() {
        let ours = registry
            .runs
            .iter()
            .any(|run| leaders.contains(&run.pid) && registry.belongs(&orphan, *run));
        if ours && !orphan.is_dead() {
            signal(orphan.pid, Signal::SIGKILL);
        }
    }
}

fn signal(pid: i32, signal: Signal) {
    if let Err(errno) = kill(Pid::from_raw(pid), signal) {
        tracing::debug!(pid, ?signal, %errno, "could not signal an orphan");
    }
}

/// Polls until every one of `pids` (children of this process) has exited; false at the
/// deadline.
fn wait_exited(pids: &[i32], deadline: Instant) -> bool {
    loop {
        if pids
            .iter()
            .all(|&pid| unix::has_exited(pid).unwrap_or(true))
        {
            return true;
        }
        if Instant::now() >= deadline {
            tracing::debug!(?pids, "killed orphans still running");
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The live members of group `pgid` with their commands, from `/proc`.
#[cfg(target_os = "linux")]
fn visible_group_members(pgid: i32) -> Vec<Survivor> {
    unix::group_members(pgid)
        .into_iter()
        .map(|pid| Survivor {
            pid: pid as u32,
            command: procfs::command(pid),
        })
        .collect()
}

/// The live members of group `pgid` with their commands, from `ps` (no `/proc` here).
#[cfg(not(target_os = "linux"))]
fn visible_group_members(pgid: i32) -> Vec<Survivor> {
    ps_group_members(pgid)
}

#[cfg_attr(target_os = "linux", allow(dead_code))]
fn ps_group_members(pgid: i32) -> Vec<Survivor> {
    let output = Command::new("ps")
        .args([
            "-A", "-o", "pid=", "-o", "pgid=", "-o", "stat=", "-o", "command=",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match output {
        Ok(output) => parse_ps(&String::from_utf8_lossy(&output.stdout), pgid),
        Err(error) => {
            tracing::debug!(%error, "could not list processes with ps");
            Vec::new()
        }
    }
}

/// Lines of `pid pgid stat command…`; zombies (`Z` in stat) have finished.
#[cfg_attr(target_os = "linux", allow(dead_code))]
fn parse_ps(text: &str, pgid: i32) -> Vec<Survivor> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let pid: u32 = fields.next()?.parse().ok()?;
            let group: i32 = fields.next()?.parse().ok()?;
            let stat = fields.next()?;
            let command = fields.collect::<Vec<_>>().join(" ");
            (group == pgid && !stat.starts_with('Z')).then_some(Survivor { pid, command })
        })
        .collect()
}

#[cfg(test)]
#[path = "reaper_tests.rs"]
mod tests;
