//! Supervision seen from outside: what a gate leaves behind when kmilestone is SIGKILLed, and
//! the public API a runner uses to become a subreaper and learn what its children left.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kmilestone::process::{
    Cancel, Limits, LineVerdict, ProcessSpec, StdinSource, become_subreaper, is_alive, run,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::project::{PLAN_3, PLAN_NAME, Project};

const HELPER_ENV: &str = "KMILESTONE_SUPERVISION_HELPER";

fn wait_for<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < until, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn dead_within(pid: i32, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while is_alive(pid) {
        if Instant::now() >= until {
            kill(Pid::from_raw(pid), Signal::SIGKILL).ok();
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Children of `parent` whose command line ends with `name`.
fn children_named(parent: u32, name: &str) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().nth(1))
                .and_then(|ppid| ppid.parse::<u32>().ok());
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            ppid == Some(parent)
                && String::from_utf8_lossy(&cmdline).ends_with(&format!("{name}\0"))
        })
        .count()
}

#[test]
fn a_sigkilled_run_takes_a_hung_gate_and_its_background_process_along() {
    let project = Project::new(PLAN_3);
    let scratch = tempfile::tempdir().unwrap();
    let gate_pid = scratch.path().join("gate.pid").display().to_string();
    let sleeper_pid = scratch.path().join("sleeper.pid").display().to_string();
    project.write(
        "kmilestone.toml",
        &format!(
            "[gates]\ncommands = [\"echo $$ > {gate_pid}; sleep 1000 & echo $! > {sleeper_pid}; sleep 1000\"]\n[run]\nretries = 0\n"
        ),
    );
    project.commit_all("Hanging gate");
    let mut runner = project
        .command(&["run", PLAN_NAME])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid_in = |path: &str| {
        wait_for(Duration::from_secs(30), path, || {
            std::fs::read_to_string(path)
                .ok()?
                .trim()
                .parse::<i32>()
                .ok()
        })
    };
    let (gate, sleeper) = (pid_in(&gate_pid), pid_in(&sleeper_pid));
    // One watchdog for the run, not one per child.
    assert_eq!(children_named(runner.id(), "kmilestone-watchdog"), 1);
    kill(Pid::from_raw(runner.id() as i32), Signal::SIGKILL).unwrap();
    runner.wait().unwrap();
    assert!(
        dead_within(gate, Duration::from_secs(5)),
        "the gate outlived kmilestone"
    );
    assert!(
        dead_within(sleeper, Duration::from_secs(5)),
        "the gate's background process outlived kmilestone"
    );
}

/// A runner-like process of its own: becoming a subreaper changes the whole process, which the
/// other tests of this binary share.
#[test]
#[ignore = "helper process for the_public_api_reports_and_reaps_what_a_gate_left"]
fn subreaper_api_helper() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    assert!(become_subreaper().unwrap());
    let spec = ProcessSpec {
        program: "sh".into(),
        args: vec![
            "-c".into(),
            // Each waits until its daemon runs `sleep`, so the command reported is that.
            "setsid sleep 1000 & p=$!; echo $p; \
             while read -r c < /proc/$p/comm && [ \"$c\" != sleep ]; do :; done; \
             (sleep 1000 & p=$!; echo $p; \
              while read -r c < /proc/$p/comm && [ \"$c\" != sleep ]; do :; done); exit 1"
                .into(),
        ],
        cwd: std::env::temp_dir(),
        env_set: Vec::new(),
        env_remove: Vec::new(),
        stdin: StdinSource::Null,
    };
    let limits = Limits {
        idle_timeout: None,
        wall_timeout: Some(Duration::from_secs(30)),
        after_final_grace: Duration::from_secs(1),
        kill_grace: Duration::from_secs(1),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime
        .block_on(run(&spec, &limits, &Cancel::new(), &mut |_, line| {
            println!("started {line}");
            LineVerdict::Continue
        }))
        .unwrap();
    for survivor in &outcome.survivors_killed {
        let reaped = !std::path::Path::new(&format!("/proc/{}", survivor.pid)).exists();
        println!("killed {} {} {reaped}", survivor.pid, survivor.command);
    }
    println!("done");
}

#[test]
fn the_public_api_reports_and_reaps_what_a_gate_left() {
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args([
            "supervision::subreaper_api_helper",
            "--exact",
            "--include-ignored",
            "--nocapture",
        ])
        .env(HELPER_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines: Vec<String> = BufReader::new(helper.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .collect();
    assert!(helper.wait().unwrap().success(), "{lines:?}");
    let mut started: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("started "))
        .collect();
    let mut killed: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("killed "))
        .map(|rest| {
            assert!(rest.ends_with(" sleep 1000 true"), "{rest}");
            rest.split(' ').next().unwrap()
        })
        .collect();
    // Whatever the outcome, no sleep of this test outlives it.
    for pid in &started {
        let pid: i32 = pid.parse().unwrap();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if is_alive(pid) && cmdline == b"sleep\x001000\x00" {
            kill(Pid::from_raw(pid), Signal::SIGKILL).ok();
        }
    }
    started.sort_unstable();
    killed.sort_unstable();
    assert_eq!(started.len(), 2, "{lines:?}");
    assert_eq!(killed, started, "{lines:?}");
}
