//! An agent that works against its supervision: it kills the runner's verification half-way,
//! writes the runner's configuration, cleans the work tree, forges the runner's snapshot, swaps
//! the handoff for a FIFO, and wipes the handoff while the runner is killed. Each time the
//! runner still decides what passed, and no verified handoff byte is lost.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::json;

use crate::support::background::{Background, RUN_BOUND, outside, pid_in, signal, wait_for};
use crate::support::project::{HANDOFF, PLAN_3, Project, good_actions};

/// A gate that logs each run outside the repository, then fails after `seconds`.
fn slow_failing_gate(project: &Project, seconds: u32) -> String {
    let log = outside(project, "gate.log");
    project.write(
        "gate.sh",
        &format!("echo run >> '{log}'\nsleep {seconds}\nexit 1\n"),
    );
    // Unsandboxed: it logs each run outside the repository, where the test counts them.
    project.write(
        "kmilestone.toml",
        "[gates]\ncommands = [{ command = \"sh gate.sh\", sandbox = false }]\n",
    );
    project.commit_all("A gate that fails");
    log
}

fn lines_in(path: &str) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

#[test]
fn an_interrupted_task_is_verified_again_and_its_failing_gate_stops_the_run() {
    let project = Project::new(PLAN_3);
    let log = slow_failing_gate(&project, 3);
    let first = Background::start_with(
        &project,
        &["run", "M1_greeter.md", "--to", "1.2"],
        &[("KMILESTONE_RETRIES", "0")],
    );
    // The agent wrote its section and committed; the runner is killed while the gate runs.
    wait_for(RUN_BOUND, "the gate to start", || {
        (lines_in(&log) == 1).then_some(())
    });
    signal(first.pid(), Signal::SIGKILL);
    let (first, _) = first.finish(RUN_BOUND);
    assert_eq!(first.output.status.code(), None, "killed");
    assert!(project.read(HANDOFF).contains("## Task 1.1 Complete"));

    let mut rerun = project.command(&["run", "M1_greeter.md", "--to", "1.2"]);
    rerun.env("KMILESTONE_RETRIES", "0");
    let output = rerun.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Completed: (none - fresh start)\nStarting from: 1.1\nThe last run stopped during task 1.1 before its work was verified; it is verified again before it counts as complete.\n"),
        "{stdout}"
    );
    assert_eq!(lines_in(&log), 2, "the gate ran again");
    assert_eq!(
        project.calls().len(),
        1,
        "verified without a new agent call"
    );
    assert!(
        !stdout.contains("Task 1.2"),
        "the next task did not start: {stdout}"
    );
    assert_eq!(project.state()["tasks"]["1.1"]["result"], "failed");
}

#[test]
fn configuration_an_agent_writes_fails_its_task_and_a_later_run_refuses_it() {
    let project = Project::new(PLAN_3);
    let original = project.read("kmilestone.toml");
    project.scenario(json!({
        "invocations": [{"actions": [
            {"write": "kmilestone.toml", "content": "[agent.claude]\npermission = \"bypass\"\n[gates]\ncommands = [\"true\"]\n"},
            {"append": HANDOFF, "text": "\n## Task {task} Complete: done\n"},
            {"sh": "git add -A && git commit -qm 'Task {task}'"}
        ]}],
        "default": {"actions": good_actions()}
    }));
    let run = project.kmilestone_run(&["--to", "1.1"]);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert!(
        run.stdout.contains("    - the task changed kmilestone.toml: the runner's own configuration is the user's to change; put these files back as they were before the task. What changed:\n"),
        "{}",
        run.describe()
    );

    let calls_before = project.calls().len();
    let refused = project.kmilestone_run(&["--to", "1.2"]);
    assert_eq!(refused.code(), Some(2), "{}", refused.describe());
    assert!(
        refused.stderr.starts_with(
            "error: the configuration that governs the agent was changed by task 1.1, and a later run does not obey what a task wrote: kmilestone.toml in commit "
        ),
        "{}",
        refused.describe()
    );
    assert!(
        refused.stderr.contains("+permission = \"bypass\""),
        "{}",
        refused.describe()
    );
    assert_eq!(project.calls().len(), calls_before, "no agent started");

    // Reverted by the user, the next task runs under the user's configuration.
    project.write("kmilestone.toml", &original);
    project.commit_all("Revert the agent's configuration");
    let run = project.kmilestone_run(&["--to", "1.2"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let calls = project.calls();
    assert_eq!(calls.len(), calls_before + 1, "task 1.2 only");
    assert_eq!(calls[calls_before]["task"], "1.2");
    assert!(
        !calls[calls_before]["argv"]
            .to_string()
            .contains("--dangerously-skip-permissions"),
        "{}",
        calls[calls_before]["argv"]
    );
}

#[test]
fn a_config_change_can_be_accepted_for_a_run() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({
        "invocations": [{"actions": [
            {"write": "kmilestone.toml", "content": "[gates]\ncommands = [\"true\", \"true\"]\n"},
            {"append": HANDOFF, "text": "\n## Task {task} Complete: done\n"},
            {"sh": "git add -A && git commit -qm 'Task {task}'"}
        ]}],
        "default": {"actions": good_actions()}
    }));
    let run = project.kmilestone_run(&["--to", "1.1", "--allow-config-changes"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let next = project.kmilestone_run(&["--to", "1.2"]);
    assert_eq!(
        next.code(),
        Some(0),
        "accepted, so trusted: {}",
        next.describe()
    );
    assert!(
        next.stdout.contains("Gates: true, true\n"),
        "{}",
        next.describe()
    );
}

#[test]
fn git_clean_and_a_deleted_lock_change_nothing() {
    let project = Project::new(PLAN_3);
    let mut actions =
        vec![json!({"sh": "git clean -fdxq && rm -f \"$KMILESTONE_STATE_DIR\"/*/M1/lock"})];
    actions.extend(good_actions().as_array().unwrap().iter().cloned());
    project.scenario(json!({"default": {"actions": actions}}));
    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(project.calls().len(), 3, "one agent call per task");
    assert_eq!(project.state()["tasks"]["1.3"]["result"], "completed");
}

#[test]
fn a_forged_snapshot_is_refused() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({"invocations": [
        {"actions": [{"pid": outside(&project, "agent.pid")}, {"hang": true}]}
    ]}));
    let first = Background::start(&project, &["--only", "1.1"]);
    pid_in(&outside(&project, "agent.pid"));
    signal(first.pid(), Signal::SIGKILL);
    first.finish(RUN_BOUND);
    std::fs::write(
        project.state_path("handoff.before"),
        "## Task 1.1 Complete: forged\n",
    )
    .unwrap();
    let run = project.kmilestone_run(&["--only", "1.1"]);
    assert_eq!(run.code(), Some(2), "{}", run.describe());
    assert!(
        run.stderr.contains(
            "handoff.before: the handoff snapshot does not match the hash recorded when the task started"
        ),
        "{}",
        run.describe()
    );
    assert!(!project.read(HANDOFF).contains("forged"));
}

#[test]
fn a_handoff_replaced_by_a_fifo_is_put_back_and_nothing_hangs() {
    let project = Project::new(PLAN_3);
    project.write(HANDOFF, "# Handoff\n\n## Task 1.0 notes\n\nkeep me\n");
    project.commit_all("Handoff");
    project.scenario(json!({"invocations": [{"actions": [
        {"write": "work.txt", "content": "work\n"},
        {"sh": "git add work.txt && git commit -qm work && rm HANDOFF_M1.md && mkfifo HANDOFF_M1.md"}
    ]}]}));
    let mut command = project.command(&["run", "M1_greeter.md", "--only", "1.1"]);
    command.env("KMILESTONE_RETRIES", "0");
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("    - the handoff HANDOFF_M1.md was replaced by a FIFO; it was put back as a regular file with its content from before the task: append your section to that file\n"),
        "{stdout}"
    );
    let handoff = project.path(HANDOFF);
    assert!(std::fs::symlink_metadata(&handoff).unwrap().is_file());
    assert_eq!(
        project.read(HANDOFF),
        "# Handoff\n\n## Task 1.0 notes\n\nkeep me\n"
    );
}

#[test]
fn special_files_are_refused_at_once() {
    let project = Project::new(PLAN_3);
    let fifo = project.path("M2_fifo.md");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    for command in ["status", "lint"] {
        let run = project.run(&[command, "M2_fifo.md"]);
        assert_eq!(run.code(), Some(2), "{}", run.describe());
        assert_eq!(
            run.stderr, "error: M2_fifo.md: is a FIFO, expected a markdown file\n",
            "{command}"
        );
    }
    let run = project.run(&["--config", "/dev/zero", "run", "M1_greeter.md", "--dry-run"]);
    assert_eq!(run.code(), Some(2), "{}", run.describe());
    assert_eq!(
        run.stderr,
        "error: /dev/zero: is a character device, not a regular file\n"
    );
}

/// Agents that truncate or wipe the handoff before appending their section and committing, with
/// the runner SIGKILLed at random moments: when the milestone completes, every task's section
/// is there once, whole.
#[test]
fn killing_the_runner_while_agents_wipe_the_handoff_loses_no_verified_byte() {
    let project = Project::new(PLAN_3);
    let section = |id: &str| {
        format!(
            "\n## Task {id} Complete: done\n\nNotes for the next task about {id}.\n**E2E:** e2e — PASSED\n"
        )
    };
    project.scenario(json!({"default": {"actions": [
        {"sh": "if [ -f HANDOFF_M1.md ]; then head -c $(( $(wc -c < HANDOFF_M1.md) / 2 )) HANDOFF_M1.md > t && mv t HANDOFF_M1.md; fi"},
        {"sleep": 0.2},
        {"append": HANDOFF, "text": "\n## Task {task} Complete: done\n\nNotes for the next task about {task}.\n**E2E:** e2e — PASSED\n"},
        {"sh": "git add -A && git commit -qm 'Task {task}'"},
        {"sleep": 0.2}
    ]}}));
    let delays = [350, 700, 150, 900, 500, 250, 1200, 600];
    let mut completed = false;
    for (round, delay) in delays.iter().cycle().take(40).enumerate() {
        let run = Background::start(&project, &[]);
        std::thread::sleep(Duration::from_millis(*delay));
        let mut run = run;
        if !run.still_running() {
            let (run, _) = run.finish(RUN_BOUND);
            if run.code() == Some(0) {
                completed = true;
                break;
            }
            panic!("round {round}: {}", run.describe());
        }
        signal(run.pid(), Signal::SIGKILL);
        run.finish(RUN_BOUND);
    }
    if !completed {
        let last = project.kmilestone_run(&[]);
        assert_eq!(last.code(), Some(0), "{}", last.describe());
    }
    let handoff = project.read(HANDOFF);
    for id in ["1.1", "1.2", "1.3"] {
        assert_eq!(
            handoff.matches(&section(id)).count(),
            1,
            "task {id}'s section once, whole:\n{handoff}"
        );
    }
    // A wiped handoff never sends the runner back to a task it verified.
    let order: Vec<String> = project
        .calls()
        .iter()
        .map(|c| c["task"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "agent calls in plan order only");
}

/// An agent killed with the runner in the middle of its `git commit` leaves `.git/index.lock`;
/// the next run removes it (no process holds it) and says so, instead of failing every commit.
#[test]
fn a_git_lock_left_by_a_killed_attempt_is_removed_and_the_rerun_completes() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({
        "invocations": [{"actions": [
            {"append": HANDOFF, "text": "\n## Task 1.1 Complete: done\n"},
            {"sh": "touch .git/index.lock"},
            {"hang": true}
        ]}],
        "default": {"actions": good_actions()}
    }));
    let first = Background::start(&project, &["--only", "1.1"]);
    let lock = project.path(".git/index.lock");
    wait_for(RUN_BOUND, "the agent's git lock", || {
        lock.exists().then_some(())
    });
    signal(first.pid(), Signal::SIGKILL);
    first.finish(RUN_BOUND);
    assert!(lock.exists());

    let rerun = project.kmilestone_run(&["--only", "1.1"]);
    assert_eq!(rerun.code(), Some(0), "{}", rerun.describe());
    let note = format!(
        "Removed {}, which the interrupted attempt's git left behind and no process holds.\n",
        lock.display()
    );
    assert!(rerun.stdout.contains(&note), "{}", rerun.describe());
    assert!(!lock.exists());
    assert_eq!(project.log(), vec!["Plan", "Task 1.1"]);
}
