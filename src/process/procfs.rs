//! What `/proc` says about processes: state, parent, group, session, start time, command line.
//! Where there is no `/proc` (macOS), every lookup finds nothing.

use std::sync::atomic::{AtomicU8, Ordering};

/// One line of `/proc/<pid>/stat`, the fields supervision needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) pid: i32,
    pub(crate) state: u8,
    pub(crate) ppid: i32,
    pub(crate) pgrp: i32,
    /// Clock ticks from boot to the start of the process. With the pid it names one process:
    /// a pid can be reused, a (pid, start) pair only after the clock ticked past it.
    pub(crate) start: u64,
}

impl Stat {
    /// A zombie has finished running and only waits for its parent to collect its status.
    pub(crate) fn is_dead(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// Reads `/proc/<pid>/stat`.
pub(crate) fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &text)
}

/// The command name (field 2) may contain spaces and parentheses, so the fields are read after
/// its last `)`.
fn parse_stat(pid: i32, text: &[u8]) -> Option<Stat> {
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    // Fields from 3 (state) on; start time is field 22.
    let fields: Vec<&str> = rest.split_ascii_whitespace().take(20).collect();
    if fields.len() < 20 {
        return None;
    }
    Some(Stat {
        pid,
        state: *fields[0].as_bytes().first()?,
        ppid: fields[1].parse().ok()?,
        pgrp: fields[2].parse().ok()?,
        start: fields[19].parse().ok()?,
    })
}

/// Every pid in `/proc`.
pub(crate) fn pids() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .collect()
}

/// Whether some live process of this user holds `path` open, from `/proc/<pid>/fd`; `None` where that cannot be known (no `/proc`, or a process of this
/// user whose descriptors are not readable).
pub(crate) fn held_open(path: &std::path::Path) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    let pids = pids();
    if pids.is_empty() {
        return None;
    }
    let me = nix::unistd::getuid().as_raw();
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            match std::fs::metadata(format!("/proc/{pid}")) {
                // Another user's, which cannot hold this user's file for writing; or gone.
                Ok(meta) if meta.uid() != me => continue,
                Err(_) => continue,
                Ok(_) => return None,
            }
        };
        if fds
            .filter_map(Result::ok)
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == path))
        {
            return Some(true);
        }
    }
    Some(false)
}

/// Whether the kernel has `/proc/<pid>/task/<tid>/children` (it needs `CONFIG_PROC_CHILDREN`):
/// 0 not known yet, 1 yes, 2 no.
static CHILDREN_FILES: AtomicU8 = AtomicU8::new(0);

fn has_children_files() -> bool {
    match CHILDREN_FILES.load(Ordering::Relaxed) {
        0 => {
            let yes = std::path::Path::new("/proc/thread-self/children").exists();
            CHILDREN_FILES.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
            yes
        }
        known => known == 1,
    }
}

/// The processes whose parent is `parent`: from the `children` files of its threads where the
/// kernel has them (a few reads), otherwise from a walk of all of `/proc`.
pub(crate) fn children(parent: i32) -> Vec<Stat> {
    if has_children_files() {
        return children_from_tasks(parent);
    }
    pids()
        .into_iter()
        .filter_map(stat)
        .filter(|stat| stat.ppid == parent)
        .collect()
}

fn children_from_tasks(parent: i32) -> Vec<Stat> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
        return Vec::new();
    };
    let mut children = Vec::new();
    for task in tasks.flatten() {
        // A thread that ended while this was read has no children left to list.
        let Ok(text) = std::fs::read_to_string(task.path().join("children")) else {
            continue;
        };
        children.extend(
            text.split_ascii_whitespace()
                .filter_map(|pid| stat(pid.parse().ok()?))
                // Read from the child: the list and the child's own view can disagree for a
                // moment while it is being reparented.
                .filter(|stat| stat.ppid == parent),
        );
    }
    children
}

/// Most of a command line kept for a report: enough to recognise the program and its
/// arguments, not a whole generated script.
const COMMAND_CHARS: usize = 500;

/// The command line of `pid`, arguments separated by spaces; the command name in brackets for
/// a process that has none (a zombie, a kernel thread). Empty if the process is gone.
pub(crate) fn command(pid: i32) -> String {
    let line = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = line
        .split(|&b| b == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    let command = if args.is_empty() {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|name| format!("[{}]", name.trim_end()))
            .unwrap_or_default()
    } else {
        args.join(" ")
    };
    shorten(command)
}

fn shorten(command: String) -> String {
    match command.char_indices().nth(COMMAND_CHARS) {
        Some((cut, _)) => format!("{}…", &command[..cut]),
        None => command,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_command_name_with_spaces_and_parentheses() {
        let line = b"4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 \
                     987654 1000 10 18446744073709551615";
        let stat = parse_stat(4242, line).expect("parsed");
        assert_eq!(
            stat,
            Stat {
                pid: 4242,
                state: b'S',
                ppid: 1,
                pgrp: 4242,
                start: 987654,
            }
        );
        assert!(!stat.is_dead());
        assert_eq!(parse_stat(1, b"1 (init) S 0 1"), None, "too short");
    }

    #[test]
    fn this_process_and_its_children() {
        let me = std::process::id() as i32;
        let mine = stat(me).expect("own stat");
        assert_eq!(mine.pgrp, nix::unistd::getpgrp().as_raw());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        let pid = child.id() as i32;
        let found = children(me).into_iter().find(|stat| stat.pid == pid);
        let child_stat = found.expect("the child is listed");
        assert!(child_stat.start >= mine.start);
        // The new program's arguments are in place a moment after spawn returns.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while command(pid) != "sleep 30" && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(command(pid), "sleep 30");
        child.kill().expect("kill");
        child.wait().expect("reap");
        assert_eq!(command(pid), "", "gone");
    }

    #[test]
    fn long_commands_are_shortened() {
        let long = "x".repeat(COMMAND_CHARS + 10);
        let short = shorten(long);
        assert_eq!(short.chars().count(), COMMAND_CHARS + 1);
        assert!(short.ends_with('…'));
    }
}
