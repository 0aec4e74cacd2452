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
            // Unsandboxed: it writes its pids outside the repository, where the test reads them.
            "[gates]\ncommands = [\"echo $$ > {gate_pid}; sleep 1000 & echo $! > {sleeper_pid}; sleep 1000\"]\nsandbox = false\n[run]\nretries = 0\n"
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

/// Live processes whose command line is exactly `argv`.
fn processes_running(argv: &[&str]) -> usize {
    let wanted: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok().as_ref() == Some(&wanted))
        .count()
}

#[test]
fn daemons_the_agent_and_a_gate_leave_are_stopped_and_reported() {
    let project = Project::with_config(
        PLAN_3,
        "[gates]\ncommands = [\"true\", \"setsid sleep 4322 > /dev/null 2>&1 < /dev/null &\"]\n",
    );
    let mut actions = vec![serde_json::json!({
        "sh": "setsid sleep 4321 > /dev/null 2>&1 < /dev/null &"
    })];
    actions.extend(
        crate::support::project::good_actions()
            .as_array()
            .unwrap()
            .iter()
            .cloned(),
    );
    project.scenario(serde_json::json!({"default": {"actions": actions}}));
    let run = project.kmilestone_run(&["--only", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    // `<pid> <command line>`: the pid differs from run to run, and the command line is what the
    // process was when killed (`sh -c …`, `setsid sleep …` or `sleep …`, as far as it got).
    let stopped: Vec<(&str, bool)> = run
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("  ! "))
        .filter_map(|line| line.split_once(": "))
        .map(|(what, process)| (what, process.contains("sleep 432")))
        .collect();
    assert_eq!(
        stopped,
        vec![
            (
                "the agent left a process running; kmilestone stopped it",
                true
            ),
            (
                "gate setsid sleep 4322 > /dev/null 2>&1 < /dev/null & left a process running; kmilestone stopped it",
                true
            ),
        ],
        "{}",
        run.describe()
    );
    assert_eq!(processes_running(&["sleep", "4321"]), 0);
    assert_eq!(processes_running(&["sleep", "4322"]), 0);
    let events = std::fs::read_dir(project.state_path("runs"))
        .unwrap()
        .map(|entry| entry.unwrap().path().join("events.jsonl"))
        .next()
        .unwrap();
    let left: Vec<serde_json::Value> = std::fs::read_to_string(events)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|event| event["type"] == "left_running")
        .map(|event| event["data"]["by"].clone())
        .collect();
    assert_eq!(
        left,
        vec![
            serde_json::json!("agent"),
            serde_json::json!("setsid sleep 4322 > /dev/null 2>&1 < /dev/null &")
        ]
    );
}
