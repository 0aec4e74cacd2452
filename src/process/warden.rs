//! The one watchdog process of a kmilestone process: when kmilestone dies without saying goodbye
//! (SIGKILL, abort), it SIGKILLs the process groups and the adopted orphans that were still
//! armed. The parent-death signal reaches only a supervised child itself; the watchdog takes care
//! of what that child started in its group, and of what kmilestone adopted as a subreaper.
//!
//! It is a small `sh` outside every child's group, started at the first use, reading lines on a
//! pipe that only this process holds (std opens pipes close-on-exec, so no other child inherits
//! it): `g <pgid> <start>` arms a group, `G <pgid>` disarms it, `p <pid> <start>` and `P <pid>`
//! do the same for one process. End of file means the holder is gone: every armed entry is
//! killed. The pipe keeps the order of the lines and end of file comes after all of them, so a
//! disarm written before a reap is always read before the watchdog acts.
//!
//! Each entry carries the start time of the process with that id (0 when there was none): a
//! group is killed only while its id names no process or still names that one, a process only
//! while it is that one, so an id reused after the entry was written is left alone. Without
//! `/proc` there is nothing to compare and every armed entry is killed.

use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};

/// What an entry kills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// Every process of this group.
    Group(i32),
    /// This process.
    Pid(i32),
}

impl Target {
    fn arm_line(self, start: u64) -> String {
        match self {
            Target::Group(id) => format!("g {id} {start}\n"),
            Target::Pid(id) => format!("p {id} {start}\n"),
        }
    }

    fn disarm_line(self) -> String {
        match self {
            Target::Group(id) => format!("G {id}\n"),
            Target::Pid(id) => format!("P {id}\n"),
        }
    }
}

/// `start_of` reads field 22 of /proc/<id>/stat into `st` with builtins only (no fork); `read`
/// is a regular builtin, so a missing file fails it without ending the shell.
///
/// It holds no directory that something may want to remove or unmount (`cd /` in the script
/// rather than a working directory for the spawn, which would make std fork instead of
/// `posix_spawn`, copying this process's page tables).
const SCRIPT: &str = r#"trap '' HUP INT
cd /
procfs=; [ -r /proc/self/stat ] && procfs=1
g=; p=
drop() { out=; for e in $1; do [ "${e%%:*}" = "$2" ] || out="$out $e"; done; }
start_of() {
  st=; s=
  [ -r "/proc/$1/stat" ] && read -r s < "/proc/$1/stat" 2>/dev/null
  [ -n "$s" ] || return 0
  s=${s##*) }; set -- $s
  [ $# -ge 20 ] && shift 19 && st=$1
}
while read -r op id start; do
  case $op in
    g) g="$g $id:$start" ;;
    G) drop "$g" "$id"; g=$out ;;
    p) p="$p $id:$start" ;;
    P) drop "$p" "$id"; p=$out ;;
  esac
done
for e in $g; do
  id=${e%%:*}; start_of "$id"
  if [ -z "$st" ] || [ "$st" = "${e#*:}" ]; then kill -s KILL -- "-$id" 2>/dev/null; fi
done
for e in $p; do
  id=${e%%:*}; start_of "$id"
  if [ -z "$procfs" ] || [ "$st" = "${e#*:}" ]; then kill -s KILL -- "$id" 2>/dev/null; fi
done
"#;

/// The watchdog and what is armed. One lives in the supervision registry; tests make their own.
#[derive(Debug, Default)]
pub(crate) struct Warden {
    process: Option<(Child, ChildStdin)>,
    armed: Vec<(Target, u64)>,
}

impl Warden {
    pub(crate) const fn new() -> Self {
        Self {
            process: None,
            armed: Vec::new(),
        }
    }

    /// The watchdog's pid, if one is running.
    pub(crate) fn pid(&self) -> Option<i32> {
        self.process.as_ref().map(|(child, _)| child.id() as i32)
    }

    pub(crate) fn is_armed(&self, target: Target) -> bool {
        self.armed.iter().any(|&(armed, _)| armed == target)
    }

    /// Arms `target`, whose process with the same id started at `start` (0: none).
    pub(crate) fn arm(&mut self, target: Target, start: u64) {
        if self.is_armed(target) {
            return;
        }
        self.armed.push((target, start));
        self.send(&target.arm_line(start));
    }

    pub(crate) fn disarm(&mut self, target: Target) {
        if !self.is_armed(target) {
            return;
        }
        self.armed.retain(|&(armed, _)| armed != target);
        self.send(&target.disarm_line());
    }

    /// Starts the watchdog now if none runs, so that the first child does not wait for it.
    pub(crate) fn ensure_started(&mut self) {
        if self.process.is_none() {
            self.restart();
        }
    }

    /// Writes one line; a watchdog that is gone (killed by someone) is replaced and told
    /// everything still armed.
    fn send(&mut self, line: &str) {
        if let Some((_, stdin)) = &mut self.process {
            // One short write: the pipe never holds more than a few lines, so it never blocks.
            if stdin.write_all(line.as_bytes()).is_ok() {
                return;
            }
        }
        self.restart();
    }

    /// Replaces the watchdog (or starts the first) and tells it everything armed.
    fn restart(&mut self) {
        if let Some((mut child, stdin)) = self.process.take() {
            drop(stdin);
            if let Err(error) = child.wait() {
                tracing::debug!(%error, "could not reap the watchdog");
            }
        }
        match start() {
            Ok((child, mut stdin)) => {
                let replay: String = self
                    .armed
                    .iter()
                    .map(|&(target, start)| target.arm_line(start))
                    .collect();
                match stdin.write_all(replay.as_bytes()) {
                    Ok(()) => self.process = Some((child, stdin)),
                    Err(error) => tracing::debug!(%error, "the new watchdog is gone already"),
                }
            }
            Err(error) => tracing::debug!(
                %error,
                "no watchdog; only supervised children themselves die with kmilestone"
            ),
        }
    }

    /// Closes the pipe as a dying holder would, and waits for the watchdog to act on it.
    #[cfg(test)]
    pub(crate) fn close_and_wait(&mut self) {
        if let Some((mut child, stdin)) = self.process.take() {
            drop(stdin);
            child.wait().expect("reap the watchdog");
        }
    }
}

fn start() -> io::Result<(Child, ChildStdin)> {
    let mut child = Command::new("/bin/sh")
        .args(["-c", SCRIPT, "kmilestone-watchdog"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own group: a Ctrl-C at the terminal or a signal to a child's group spares it.
        .process_group(0)
        .spawn()?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("watchdog stdin was not piped"))?;
    tracing::debug!(pid = child.id(), "watchdog started");
    Ok((child, stdin))
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use super::*;
    use crate::process::procfs;
    use crate::process::test_support::dies;
    use crate::process::{group_members, is_alive};

    /// A `sleep` leading a group of its own, with a second `sleep` in that group.
    fn group_of_two() -> (std::process::Child, std::process::Child) {
        let leader = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .stdin(Stdio::null())
            .spawn()
            .expect("leader");
        let member = Command::new("sleep")
            .arg("30")
            .process_group(leader.id() as i32)
            .stdin(Stdio::null())
            .spawn()
            .expect("member");
        (leader, member)
    }

    fn reap(mut child: std::process::Child) {
        child.kill().ok();
        child.wait().expect("reap");
    }

    fn start_time(pid: i32) -> u64 {
        procfs::stat(pid).expect("stat").start
    }

    #[test]
    fn end_of_file_kills_what_is_armed_and_spares_the_rest() {
        let (leader, member) = group_of_two();
        let (lone, spared, disarmed) = {
            let spawn = || Command::new("sleep").arg("30").spawn().expect("sleep");
            (spawn(), spawn(), spawn())
        };
        let pgid = leader.id() as i32;
        let mut warden = Warden::new();
        warden.arm(Target::Group(pgid), start_time(pgid));
        warden.arm(Target::Pid(lone.id() as i32), start_time(lone.id() as i32));
        warden.arm(
            Target::Pid(disarmed.id() as i32),
            start_time(disarmed.id() as i32),
        );
        // An entry whose process started at another time is a pid reused since: left alone.
        warden.arm(Target::Pid(spared.id() as i32), 1);
        warden.disarm(Target::Pid(disarmed.id() as i32));
        assert!(warden.pid().is_some());
        assert_eq!(group_members(pgid).len(), 2);

        warden.close_and_wait();
        assert!(dies(member.id() as i32), "group member survived");
        assert!(dies(pgid), "group leader survived");
        assert!(dies(lone.id() as i32), "armed process survived");
        assert!(is_alive(spared.id() as i32), "a reused pid was killed");
        assert!(
            is_alive(disarmed.id() as i32),
            "a disarmed process was killed"
        );
        for child in [leader, member, lone, spared, disarmed] {
            reap(child);
        }
    }

    #[test]
    fn a_killed_watchdog_is_replaced_and_told_everything_armed() {
        let (leader, member) = group_of_two();
        let pgid = leader.id() as i32;
        let mut warden = Warden::new();
        warden.arm(Target::Group(pgid), start_time(pgid));
        let first = warden.pid().expect("started");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(first),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill the watchdog");
        assert!(dies(first));
        // The next line finds the pipe broken and starts a new watchdog.
        let other = Command::new("sleep").arg("30").spawn().expect("sleep");
        warden.arm(
            Target::Pid(other.id() as i32),
            start_time(other.id() as i32),
        );
        let second = warden.pid().expect("restarted");
        assert_ne!(first, second);

        warden.close_and_wait();
        assert!(
            dies(member.id() as i32),
            "the group armed before the restart survived"
        );
        assert!(dies(other.id() as i32));
        for child in [leader, member, other] {
            reap(child);
        }
    }
}
