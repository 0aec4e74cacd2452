//! Unattended overnight: spend and time caps stop a run cleanly, and the notify command hears of
//! questions, blockers, cap stops and the end of the run, without ever changing the run.

use serde_json::{Value, json};

use crate::support::background::outside;
use crate::support::project::{HANDOFF, PLAN_3, Project, good_actions};

/// Every invocation costs `cost` dollars (a fresh session each).
fn costing(project: &Project, cost: f64) {
    project.scenario(json!({"default": {"actions": good_actions(), "result": {"cost": cost}}}));
}

#[test]
fn a_spend_cap_stops_before_the_next_task_and_a_larger_cap_resumes() {
    let project = Project::new(PLAN_3);
    costing(&project, 0.40);
    let run = project.kmilestone_run(&["--max-cost", "0.75"]);
    assert_eq!(run.code(), Some(7), "{}", run.describe());
    assert!(
        run.stdout
            .contains("\nCaps: $0.7500 for the milestone ($0.0000 spent so far)\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.ends_with("\nStopped before task 1.3: the milestone has spent $0.8000 of its $0.7500 cap (max_cost). To go on, run again with a larger cap: kmilestone run M1_greeter.md --max-cost 1.50\n(exit code 7)\n"),
        "{}",
        run.describe()
    );
    assert_eq!(project.calls().len(), 2, "task 1.3 did not start");
    let report = project.read_state("report.md");
    assert!(
        report.contains("\nCaps: $0.7500 for the milestone ($0.8000 spent so far)\n"),
        "{report}"
    );
    let again = project.kmilestone_run(&["--max-cost", "0.75"]);
    assert_eq!(
        again.code(),
        Some(7),
        "the same cap stops at once: {}",
        again.describe()
    );
    assert_eq!(project.calls().len(), 2);
    let larger = project.kmilestone_run(&["--max-cost", "2"]);
    assert_eq!(larger.code(), Some(0), "{}", larger.describe());
    assert_eq!(project.calls().len(), 3);
}

#[test]
fn the_task_cap_reaches_claude_and_a_task_over_it_fails_with_the_reason() {
    let project = Project::new(PLAN_3);
    costing(&project, 0.50);
    let run = project.kmilestone_run(&["--max-task-cost", "0.3", "--to", "1.2"]);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    let calls = project.calls();
    assert_eq!(calls.len(), 1, "no fix attempt after the cap");
    let argv: Vec<&str> = calls[0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let at = argv.iter().position(|a| *a == "--max-budget-usd").unwrap();
    assert_eq!(argv[at + 1], "0.3");
    assert!(
        run.stdout.contains("✗ Task 1.1 failed (1 attempt, "),
        "{}",
        run.describe()
    );
    let report = project.read_state("report.md");
    assert!(
        report.contains(
            "- the task has spent $0.5000 of its $0.3000 cap (max_task_cost) and was stopped\n"
        ),
        "{report}"
    );
}

#[test]
fn the_time_cap_starts_no_new_task() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({"default": {"actions": [
        {"sleep": 1.2},
        {"write": "work/task-{task}.txt", "content": "done\n"},
        {"append": HANDOFF, "text": "\n## Task {task} Complete: done\n**E2E:** e2e — PASSED\n"},
        {"sh": "git add -A && git commit -qm 'Task {task}'"}
    ]}}));
    let run = project.kmilestone_run(&["--max-time", "1s"]);
    assert_eq!(run.code(), Some(7), "{}", run.describe());
    assert_eq!(
        project.calls().len(),
        1,
        "the running task finished, no other started"
    );
    assert!(project.read(HANDOFF).contains("## Task 1.1 Complete"));
    assert!(
        run.stdout
            .contains("\nStopped before task 1.2: the run has taken "),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout
            .contains(" of its 1s (max_time). Run again to go on: kmilestone run M1_greeter.md\n"),
        "{}",
        run.describe()
    );
}

/// A notify command that records each call (its event and stdin) outside the repository.
fn recording_notify(project: &Project) -> String {
    let log = outside(project, "notified.jsonl");
    project.write_executable(
        "notify-me",
        &format!(
            "#!/bin/sh\nprintf '{{\"env\":\"%s\",\"payload\":%s}}\\n' \"$KMILESTONE_EVENT\" \"$(cat)\" >> '{log}'\n"
        ),
    );
    log
}

fn notifications(log: &str) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn the_notify_command_hears_of_a_question_a_blocker_a_cap_and_the_end() {
    let project = Project::new(PLAN_3);
    let log = recording_notify(&project);
    project.scenario(json!({
        "invocations": [
            {"actions": good_actions(), "result": {"cost": 0.5}},
            {"result": {"text": "QUESTION: Which farewell?\nOPTIONS:\n- bye\n- ciao"}},
            {"result": {"text": "BLOCKED: the farewell service is down"}}
        ]
    }));
    let asked = project.kmilestone_run(&["--notify", "notify-me"]);
    assert_eq!(asked.code(), Some(4), "{}", asked.describe());
    let blocked = project.kmilestone_run(&["--notify", "notify-me", "--answer", "bye"]);
    assert_eq!(blocked.code(), Some(3), "{}", blocked.describe());
    let capped = project.kmilestone_run(&[
        "--notify",
        "notify-me",
        "--from",
        "1.2",
        "--max-cost",
        "0.4",
    ]);
    assert_eq!(capped.code(), Some(7), "{}", capped.describe());

    let seen = notifications(&log);
    let events: Vec<&str> = seen.iter().map(|n| n["env"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        [
            "question",
            "run_finished",
            "blocked",
            "run_finished",
            "cap_reached",
            "run_finished"
        ]
    );
    for n in &seen {
        assert_eq!(n["payload"]["event"], n["env"]);
        assert_eq!(n["payload"]["milestone"], "M1");
        assert_eq!(n["payload"]["plan"], "M1_greeter.md");
        assert!(n["payload"]["timestamp"].is_string(), "{n}");
    }
    let question = &seen[0]["payload"]["data"];
    assert_eq!(question["id"], "1.2");
    assert_eq!(question["question"]["text"], "Which farewell?");
    assert_eq!(question["question"]["options"], json!(["bye", "ciao"]));
    assert_eq!(seen[1]["payload"]["data"]["outcome"], "question");
    assert_eq!(seen[1]["payload"]["data"]["exit_code"], 4);
    assert_eq!(seen[2]["payload"]["data"]["id"], "1.2");
    assert_eq!(
        seen[2]["payload"]["data"]["problems"][0]["message"],
        "the agent reported a blocker: the farewell service is down"
    );
    assert_eq!(seen[4]["payload"]["data"]["cap"]["cap"], "cost");
    assert_eq!(seen[5]["payload"]["data"]["outcome"], "cap_reached");
    assert_eq!(seen[5]["payload"]["data"]["exit_code"], 7);
}

#[test]
fn a_notify_command_that_hangs_or_fails_changes_nothing_else() {
    let project = Project::new(PLAN_3);
    project.write(
        "kmilestone.toml",
        "[gates]\ncommands = [\"true\"]\n[notify]\ncommand = [\"sh\", \"-c\", \"echo no route to host >&2; exit 9\"]\ntimeout = \"2s\"\n",
    );
    project.commit_all("A notify command that fails");
    let failing = project.kmilestone_run(&["--to", "1.1"]);
    assert_eq!(failing.code(), Some(0), "{}", failing.describe());
    let log = std::fs::read_dir(project.state_path("runs"))
        .unwrap()
        .map(|e| e.unwrap().path().join("notify.log"))
        .find(|p| p.is_file())
        .expect("a notify log");
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.contains(" run_finished: exit 9\nno route to host\n"),
        "{text}"
    );

    let hanging = project.kmilestone_run(&["--to", "1.2", "--notify", "sleep 1000"]);
    assert_eq!(hanging.code(), Some(0), "{}", hanging.describe());
    assert!(
        hanging.stdout.contains("## Tasks Complete: M1 - Greeter"),
        "{}",
        hanging.describe()
    );
    assert_eq!(project.calls().len(), 2);
}
