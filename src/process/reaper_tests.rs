//! Orphans of real children, found, killed, reported and reaped. The subreaper is a property of
//! the whole process, so every test that needs it runs in a re-executed test binary of its own,
//! where one child is supervised at a time as in the runner.

use std::os::unix::process::CommandExt;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::*;
use crate::process::test_support::{HELPER_ENV, Helper, dies, limits, sh};
use crate::process::{Cancel, EndedBy, ExitKind, LineVerdict, Outcome, Stream, is_alive, run};

const HELPER: &str = "process::reaper::tests::subreaper_helper";

/// An agent-like child: JSON lines on stdout, a daemon started with `setsid` and one started
/// with a double fork (both keep stdout open, as careless daemons do), then, once both run
/// `sleep`, its result, then exit.
const AGENT: &str = r#"
import json, os, time
def running_sleep(pid):
    while open(f"/proc/{pid}/comm").read().strip() != "sleep":
        time.sleep(0.01)
print(json.dumps({"type": "system", "subtype": "init"}), flush=True)
daemon = os.fork()
if daemon == 0:
    os.setsid()
    os.execvp("sleep", ["sleep", "1000"])
middle = os.fork()
if middle == 0:
    double = os.fork()
    if double == 0:
        print("double", os.getpid(), flush=True)
        os.execvp("sleep", ["sleep", "1000"])
    running_sleep(double)
    os._exit(0)
os.waitpid(middle, 0)
running_sleep(daemon)
print(json.dumps({"type": "result", "result": "done"}), flush=True)
"#;

/// A gate-like shell child doing the same, and failing.
const GATE: &str = "setsid sleep 1000 & echo setsid $!; (sleep 1000 & echo double $!); \
                    (setsid sleep 1000 & echo setsid $!); exit 3";

/// A runner-like process: its child leaves a member in its group and a `setsid` daemon that the
/// subreaper adopts while the child still runs.
const RUNNER_CHILD: &str = "sleep 1000 & echo member $!; (setsid sleep 1000 & echo adopted $!); \
                            echo leader $$; exec sleep 1000";

/// Processes of the helper that are none of the child's business: a plain child in the
/// helper's own group, and a daemon that was adopted before the child started.
fn start_unrelated() -> (std::process::Child, i32) {
    let plain = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .expect("plain sleep");
    let out = std::process::Command::new("sh")
        .args(["-c", "setsid sleep 1000 > /dev/null 2>&1 & echo $!"])
        .output()
        .expect("daemon");
    let daemon: i32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("daemon pid");
    // Start times count in clock ticks: the child must start in a later one.
    std::thread::sleep(Duration::from_millis(50));
    println!("unrelated {} {daemon}", plain.id());
    (plain, daemon)
}

fn print_outcome(outcome: &Outcome) {
    println!(
        "ended {:?} {:?} {}",
        outcome.ended_by,
        outcome.exit,
        outcome.duration.as_millis()
    );
    for survivor in &outcome.survivors_killed {
        println!("killed {} {}", survivor.pid, survivor.command);
        // Reaped, not only dead: no zombie is left behind either.
        let reaped = procfs::stat(survivor.pid as i32).is_none();
        println!("reaped {} {reaped}", survivor.pid);
    }
    println!("done");
}

#[test]
#[ignore = "helper process for the subreaper tests"]
fn subreaper_helper() {
    let mode = std::env::var(HELPER_ENV).unwrap_or_default();
    if mode.is_empty() {
        return;
    }
    assert!(become_subreaper().expect("prctl"), "Linux has subreapers");
    assert!(become_subreaper().expect("again"), "idempotent");
    let (_plain, _daemon) = start_unrelated();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let cancel = Cancel::new();
        match mode.as_str() {
            "agent" => {
                let mut spec = sh("");
                spec.program = "python3".into();
                spec.args = vec!["-c".into(), AGENT.into()];
                let outcome = run(&spec, &limits(), &cancel, &mut |_, line| {
                    println!("child {line}");
                    if line.contains("\"result\"") {
                        LineVerdict::Final
                    } else {
                        LineVerdict::Continue
                    }
                })
                .await
                .expect("spawn");
                print_outcome(&outcome);
            }
            "gate" => {
                let outcome = run(&sh(GATE), &limits(), &cancel, &mut |_, line| {
                    println!("child {line}");
                    LineVerdict::Continue
                })
                .await
                .expect("spawn");
                print_outcome(&outcome);
            }
            "runner" => {
                let (spec, limits) = (sh(RUNNER_CHILD), limits());
                let mut on_line = |_: Stream, line: &str| {
                    println!("child {line}");
                    LineVerdict::Continue
                };
                let supervised = run(&spec, &limits, &cancel, &mut on_line);
                let reporter = async {
                    // Says when the watchdog knows of the adopted daemon; the test kills this
                    // process then.
                    loop {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let told: Vec<i32> = registry().told.iter().map(|t| t.pid).collect();
                        if !told.is_empty() {
                            println!("armed {}", told[0]);
                            println!("watchdogs {}", watchdogs(std::process::id() as i32));
                            break;
                        }
                    }
                };
                let _ = tokio::join!(supervised, reporter);
            }
            "many" => {
                let (spec, limits) = (sh("echo $$; sleep 1"), limits());
                let quiet = |_: Stream, _: &str| LineVerdict::Continue;
                let (mut on_a, mut on_b, mut on_c) = (quiet, quiet, quiet);
                let count = async {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    let me = std::process::id() as i32;
                    let leaders = registry().runs.len();
                    println!("leaders {leaders} watchdogs {}", watchdogs(me));
                };
                let (a, b, c, ()) = tokio::join!(
                    run(&spec, &limits, &cancel, &mut on_a),
                    run(&spec, &limits, &cancel, &mut on_b),
                    run(&spec, &limits, &cancel, &mut on_c),
                    count,
                );
                assert!(a.is_ok() && b.is_ok() && c.is_ok());
            }
            other => panic!("unknown mode {other}"),
        }
    });
}

/// Watchdog processes among the children of `parent`.
fn watchdogs(parent: i32) -> usize {
    procfs::children(parent)
        .iter()
        .filter(|child| {
            let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.pid)).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).ends_with("kmilestone-watchdog\0")
        })
        .count()
}

/// Reads what [`print_outcome`] printed: the outcome line and the killed survivors.
fn read_outcome(helper: &Helper) -> (String, Vec<(i32, String)>) {
    let ended = helper.expect_line("ended ");
    let mut killed = Vec::new();
    loop {
        let line = helper.expect_line("");
        if line == "done" {
            return (ended, killed);
        }
        if let Some(rest) = line.strip_prefix("killed ") {
            let (pid, command) = rest.split_once(' ').expect("pid and command");
            killed.push((pid.parse().expect("pid"), command.to_owned()));
        } else if let Some(rest) = line.strip_prefix("reaped ") {
            assert!(rest.ends_with(" true"), "not reaped: {rest}");
        }
    }
}

fn unrelated(helper: &mut Helper) -> [i32; 2] {
    let line = helper.expect_line("unrelated ");
    let (plain, daemon) = line.split_once(' ').expect("two pids");
    let pids = [plain.parse().expect("pid"), daemon.parse().expect("pid")];
    for pid in pids {
        helper.also_kill(pid);
    }
    pids
}

fn assert_alive(pids: &[i32]) {
    for &pid in pids {
        assert!(
            is_alive(pid),
            "{pid} was none of the child's business but was killed"
        );
    }
}

#[test]
fn daemons_an_agent_leaves_are_killed_reported_and_reaped() {
    let mut helper = Helper::spawn(HELPER, "agent");
    let unrelated = unrelated(&mut helper);
    let double: i32 = helper.expect_line("child double ").parse().expect("pid");
    helper.also_kill(double);
    let (ended, killed) = read_outcome(&helper);
    assert!(helper.wait().success());
    let (ended_by, rest) = ended.split_once(' ').expect("fields");
    assert_eq!(ended_by, format!("{:?}", EndedBy::Exited));
    assert!(
        rest.starts_with(&format!("{:?}", ExitKind::Code(0))),
        "{rest}"
    );
    // Both daemons held stdout: killing them closes it at once, well before the drain bound.
    let millis: u64 = rest.rsplit(' ').next().unwrap().parse().expect("duration");
    assert!(millis < 1500, "took {millis} ms");

    assert_eq!(killed.len(), 2, "{killed:?}");
    assert!(
        killed.iter().all(|(_, command)| command == "sleep 1000"),
        "{killed:?}"
    );
    assert!(killed.iter().any(|&(pid, _)| pid == double), "{killed:?}");
    for &(pid, _) in &killed {
        assert!(!is_alive(pid), "{pid} survived");
        assert!(!unrelated.contains(&pid));
    }
    assert_alive(&unrelated);
}

#[test]
fn daemons_a_gate_leaves_are_killed_reported_and_reaped() {
    let mut helper = Helper::spawn(HELPER, "gate");
    let unrelated = unrelated(&mut helper);
    let mut started = Vec::new();
    for prefix in ["child setsid ", "child double ", "child setsid "] {
        let pid: i32 = helper.expect_line(prefix).parse().expect("pid");
        helper.also_kill(pid);
        started.push(pid);
    }
    let (ended, killed) = read_outcome(&helper);
    assert!(helper.wait().success());
    assert!(
        ended.starts_with(&format!("{:?} {:?}", EndedBy::Exited, ExitKind::Code(3))),
        "{ended}"
    );
    let mut killed_pids: Vec<i32> = killed.iter().map(|&(pid, _)| pid).collect();
    killed_pids.sort_unstable();
    started.sort_unstable();
    assert_eq!(killed_pids, started, "{killed:?}");
    for pid in started {
        assert!(!is_alive(pid), "{pid} survived");
    }
    assert_alive(&unrelated);
}

#[test]
fn a_sigkilled_runner_takes_its_childs_group_and_its_adopted_orphans_along() {
    let mut helper = Helper::spawn(HELPER, "runner");
    let unrelated = unrelated(&mut helper);
    let member: i32 = helper.expect_line("child member ").parse().expect("pid");
    let adopted: i32 = helper.expect_line("child adopted ").parse().expect("pid");
    let leader: i32 = helper.expect_line("child leader ").parse().expect("pid");
    for pid in [member, adopted, leader] {
        helper.also_kill(pid);
    }
    assert_eq!(
        helper.expect_line("armed ").parse::<i32>().expect("pid"),
        adopted
    );
    // One watchdog for the whole process, none per child.
    assert_eq!(helper.expect_line("watchdogs "), "1");
    assert!(is_alive(member) && is_alive(adopted) && is_alive(leader));

    helper.signal(Signal::SIGKILL);
    helper.wait();
    assert!(dies(leader), "the child outlived its SIGKILLed runner");
    assert!(dies(member), "its group member outlived the runner");
    assert!(dies(adopted), "the orphan the runner adopted outlived it");
    assert_alive(&unrelated);
}

#[test]
fn an_orphan_belongs_to_the_latest_run_that_started_before_it() {
    let run = |pid, start| Leader { pid, start };
    let orphan = |start| Stat {
        pid: 9,
        state: b'S',
        ppid: 1,
        pgrp: 9,
        start,
    };
    let registry = Registry {
        spawned: Vec::new(),
        runs: vec![run(100, 50), run(200, 80)],
        told: Vec::new(),
        warden: Warden::new(),
    };
    assert!(
        !registry.belongs(&orphan(40), run(100, 50)),
        "older than the run"
    );
    assert!(registry.belongs(&orphan(60), run(100, 50)));
    assert!(!registry.belongs(&orphan(60), run(200, 80)));
    assert!(
        !registry.belongs(&orphan(90), run(100, 50)),
        "the later run's"
    );
    assert!(registry.belongs(&orphan(90), run(200, 80)));
}

#[test]
fn group_members_as_ps_lists_them() {
    let mut leader = std::process::Command::new("sleep")
        .arg("30")
        .process_group(0)
        .spawn()
        .expect("leader");
    let pgid = leader.id() as i32;
    let members = ps_group_members(pgid);
    assert_eq!(
        members,
        [Survivor {
            pid: leader.id(),
            command: "sleep 30".to_owned()
        }]
    );
    let zombie = "  7 42 Z+ [sleep] <defunct>\n  8 42 S+ sleep 1\n  9 43 S+ sleep 2\n";
    assert_eq!(
        parse_ps(zombie, 42),
        [Survivor {
            pid: 8,
            command: "sleep 1".to_owned()
        }]
    );
    leader.kill().expect("kill");
    leader.wait().expect("reap");
}

#[test]
fn one_watchdog_however_many_children() {
    let mut helper = Helper::spawn(HELPER, "many");
    unrelated(&mut helper);
    assert_eq!(helper.expect_line("leaders "), "3 watchdogs 1");
    assert!(helper.wait().success());
}
