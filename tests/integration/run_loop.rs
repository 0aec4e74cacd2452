//! `kmilestone run` against the fake agent: the verified task loop as a user sees it.

use serde_json::json;

use crate::support::project::{HANDOFF, PLAN_3, Project, good_actions};

fn prompt_of(call: &serde_json::Value) -> &str {
    call["stdin"].as_str().unwrap()
}

#[test]
fn happy_path_runs_three_tasks_in_fresh_sessions() {
    let project = Project::new(PLAN_3);
    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        run.stdout.starts_with(
            "Milestone: M1 - Greeter (3 tasks)\nCompleted: (none - fresh start)\nStarting from: 1.1\n"
        ),
        "{}",
        run.describe()
    );
    let handoff = project.read(HANDOFF);
    for id in ["1.1", "1.2", "1.3"] {
        assert!(
            handoff.contains(&format!("## Task {id} Complete: done")),
            "{handoff}"
        );
    }
    let log = project.log();
    assert_eq!(log, vec!["Plan", "Task 1.1", "Task 1.2", "Task 1.3"]);
    let calls = project.calls();
    assert_eq!(calls.len(), 3);
    for call in &calls {
        assert!(call["resume"].is_null(), "a fresh session per task: {call}");
        let argv: Vec<&str> = call["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            &argv[..4],
            &["-p", "--output-format", "stream-json", "--verbose"]
        );
    }
    assert!(
        run.stdout.contains("## Milestone Complete: M1 - Greeter"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("**Tasks completed:** 3/3"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("- 1.3: greeter-e2e — PASSED"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("gh pr create --title 'M1: Greeter'"),
        "{}",
        run.describe()
    );
    // kmilestone's own state never dirties the tree.
    assert_eq!(project.git(&["status", "--porcelain"]), "");
    let report = project.read_state("report.md");
    assert!(
        report.contains("| 1.2 Farewell module | completed | 1 |"),
        "{report}"
    );
}

#[test]
fn each_prompt_carries_the_handoff_so_far_and_only_its_own_task() {
    let project = Project::new(PLAN_3);
    let run = project.kmilestone_run(&["--to", "1.2"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let calls = project.calls();
    assert_eq!(calls.len(), 2);
    let second = prompt_of(&calls[1]);
    assert!(second.contains("## Current Execution State"));
    assert!(second.contains("- Completed tasks: 1.1\n"), "{second}");
    assert!(
        second.contains("- Current task: 1.2 Farewell module"),
        "{second}"
    );
    let handoff_part = &second
        [second.find("## Handoff Content").unwrap()..second.find("## Current Task").unwrap()];
    assert!(
        handoff_part.contains("## Task 1.1 Complete: done"),
        "{handoff_part}"
    );
    let task_part = &second[second.find("## Current Task").unwrap()..];
    assert!(task_part.contains("## Task 1.2: Farewell module"));
    assert!(
        !task_part.contains("Task 1.1: Greeting"),
        "only the current task's text"
    );
    assert!(
        !task_part.contains("Task 1.3"),
        "only the current task's text"
    );
    // The workflow comes first, the task text last.
    assert!(second.find("# ktask").unwrap() < second.find("## Current Execution State").unwrap());
}

#[test]
fn rerun_of_a_complete_milestone_starts_no_agent() {
    let project = Project::new(PLAN_3);
    assert_eq!(project.kmilestone_run(&[]).code(), Some(0));
    let calls = project.calls().len();
    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(project.calls().len(), calls, "no agent started");
    assert!(
        run.stdout
            .contains("Completed: 1.1, 1.2, 1.3 (from handoff)"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("## Milestone Complete"),
        "{}",
        run.describe()
    );
}

#[test]
fn from_only_and_to_choose_the_tasks() {
    let project = Project::new(PLAN_3);
    let run = project.kmilestone_run(&["--only", "1.2"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let calls = project.calls();
    assert_eq!(
        calls
            .iter()
            .map(|c| c["task"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["1.2"]
    );

    let run = project.kmilestone_run(&["--to", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(run.stdout.contains("Handoff gap"), "{}", run.describe());
    let tasks: Vec<String> = project
        .calls()
        .iter()
        .map(|c| c["task"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tasks, vec!["1.2", "1.1"]);

    // --from forces a restart of complete tasks.
    let run = project.kmilestone_run(&["--from", "1.2", "--to", "1.2"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let tasks: Vec<String> = project
        .calls()
        .iter()
        .map(|c| c["task"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tasks, vec!["1.2", "1.1", "1.2"]);
    assert_eq!(
        project
            .read(HANDOFF)
            .matches("## Task 1.2 Complete")
            .count(),
        2
    );
}

#[test]
fn unknown_ids_are_rejected_before_anything_runs() {
    let project = Project::new(PLAN_3);
    let run = project.kmilestone_run(&["--from", "7.7"]);
    assert_eq!(run.code(), Some(2), "{}", run.describe());
    assert!(
        run.stderr.contains("--from 7.7: no such task"),
        "{}",
        run.describe()
    );
    assert!(run.stderr.contains("1.1, 1.2, 1.3"), "{}", run.describe());
    assert!(project.calls().is_empty());
    assert!(!project.state_base().exists(), "nothing was recorded");
}

#[test]
fn a_missing_handoff_section_goes_back_to_the_same_session() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({
        "invocations": [
            {"actions": [{"write": "greet.txt", "content": "hi\n"}, {"sh": "git add -A && git commit -qm 'Task 1.1 without handoff'"}]},
            {"actions": [{"append": HANDOFF, "text": "## Task {task} Complete: done\n"}, {"sh": "git add -A && git commit -qm 'Handoff 1.1'"}]}
        ],
        "default": {"actions": good_actions()}
    }));
    let run = project.kmilestone_run(&["--only", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let calls = project.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1]["resume"], calls[0]["session"],
        "the fix resumes the same session"
    );
    let fix = prompt_of(&calls[1]);
    assert!(fix.contains("no new `## Task 1.1 Complete"), "{fix}");
    assert!(!fix.contains("# ktask"), "a fix prompt is short: {fix}");
    assert!(
        run.stdout.contains("verification failed (attempt 1)"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_failing_gate_is_reported_and_bounded_by_retries() {
    let project = Project::new(PLAN_3);
    project.write(
        "kmilestone.toml",
        "[gates]\ncommands = [\"echo 'FAILED test_greet - assert 1 == 2'; exit 1\"]\n[run]\nretries = 1\n",
    );
    project.commit_all("Failing gate");
    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    let calls = project.calls();
    assert_eq!(calls.len(), 2, "one attempt plus one fix");
    assert!(prompt_of(&calls[1]).contains("FAILED test_greet - assert 1 == 2"));
    assert!(run.stdout.contains("✗ gate"), "{}", run.describe());
    assert!(
        run.stdout
            .contains("Task 1.1 failed verification after 2 attempts"),
        "{}",
        run.describe()
    );
    let report = project.read_state("report.md");
    assert!(report.contains("FAILED test_greet"), "{report}");
}

#[test]
fn deleted_handoff_sections_are_restored() {
    let project = Project::new(PLAN_3);
    let earlier = "# Handoff M1\n\n## Task 1.1 Complete: greeting\n\nUse greet() from greet.py; it trims input.\n";
    project.write(HANDOFF, earlier);
    project.commit_all("Task 1.1");
    project.scenario(json!({"default": {"actions": [
        {"write": HANDOFF, "content": "# Handoff M1\n\n## Task {task} Complete: done\n\nnew notes\n"},
        {"sh": "git add -A && git commit -qm 'Task {task}'"}
    ]}}));
    let run = project.kmilestone_run(&["--only", "1.2"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let handoff = project.read(HANDOFF);
    assert!(
        handoff.starts_with(earlier),
        "earlier bytes restored: {handoff}"
    );
    assert!(
        handoff.contains("## Task 1.2 Complete: done\n\nnew notes"),
        "{handoff}"
    );
    assert!(run.stdout.contains("restored"), "{}", run.describe());
    assert_eq!(
        project.git(&["status", "--porcelain"]),
        "",
        "the restoration is committed"
    );
    assert!(project.log().last().unwrap().starts_with("Restore handoff"));
}

#[test]
fn a_dirty_tree_is_refused_naming_the_files() {
    let project = Project::new(PLAN_3);
    project.write("notes.txt", "uncommitted\n");
    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(2), "{}", run.describe());
    assert!(run.stderr.contains("notes.txt"), "{}", run.describe());
    assert!(project.calls().is_empty());
    let run = project.kmilestone_run(&["--allow-dirty", "--only", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
}

#[test]
fn an_agent_error_is_retried_then_fails_with_exit_1() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({"default": {"result": {"is_error": true, "subtype": "success", "api_error_status": 529, "text": "API Error: 529 Overloaded"}}}));
    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert_eq!(project.calls().len(), 3, "first attempt and two retries");
    assert!(run.stdout.contains("API status 529"), "{}", run.describe());
}

/// Outside the sandbox the agent can add every file itself: what it leaves goes back to it.
/// (In sandbox mode the runner commits it: `sandbox_scenarios.rs`.)
#[test]
fn uncommitted_work_is_caught() {
    let project = Project::new(PLAN_3);
    project.write(
        "kmilestone.toml",
        "[agent.claude]\npermission = \"allowlist\"\n[gates]\ncommands = [\"true\"]\n",
    );
    project.commit_all("Allowlist mode");
    project.scenario(json!({
        "invocations": [{"actions": [
            {"write": "greet.txt", "content": "hi\n"},
            {"append": HANDOFF, "text": "## Task {task} Complete: done\n"}
        ]}],
        "default": {"actions": [{"sh": "git add -A && git commit -qm 'Task {task}'"}]}
    }));
    let run = project.kmilestone_run(&["--only", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let fix = prompt_of(&project.calls()[1]).to_string();
    assert!(fix.contains("work is left uncommitted"), "{fix}");
    assert!(fix.contains("greet.txt"), "{fix}");
}

#[test]
fn runner_commits_when_configured() {
    let project = Project::new(PLAN_3);
    project.write(
        "kmilestone.toml",
        "[gates]\ncommands = [\"true\"]\n[run]\ncommit = \"runner\"\n",
    );
    project.commit_all("Runner commits");
    project.scenario(json!({"default": {"actions": [
        {"write": "greet.txt", "content": "hi\n"},
        {"append": HANDOFF, "text": "## Task {task} Complete: done\n"}
    ]}}));
    let run = project.kmilestone_run(&["--only", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(project.log().last().unwrap(), "Task 1.1: Greeting module");
    assert_eq!(project.calls().len(), 1);
}

#[test]
fn a_blocker_stops_the_run_with_exit_3() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({"default": {"result": {"text": "I could not reach the staging API.\nBLOCKED: staging credentials are missing"}}}));
    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(3), "{}", run.describe());
    assert!(
        run.stdout.contains("staging credentials are missing"),
        "{}",
        run.describe()
    );
    assert_eq!(project.calls().len(), 1);
}

#[test]
fn a_task_blocked_in_the_handoff_stops_before_it_starts() {
    let project = Project::new(PLAN_3);
    project.write(HANDOFF, "## Task 1.1 BLOCKED: waiting for the API team\n");
    project.commit_all("Blocked");
    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(3), "{}", run.describe());
    assert!(
        run.stdout
            .contains("Task 1.1 BLOCKED: waiting for the API team"),
        "{}",
        run.describe()
    );
    assert!(project.calls().is_empty());
    let run = project.kmilestone_run(&["--from", "1.1", "--to", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
}

#[test]
fn a_question_without_a_terminal_exits_4_and_answer_resumes_the_session() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({
        "invocations": [{"result": {"text": "QUESTION: Should greetings be localized?\nOPTIONS:\n- yes\n- no\nRECOMMENDATION: no"}}],
        "default": {"actions": good_actions()}
    }));
    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(4), "{}", run.describe());
    assert!(
        run.stdout.contains("Should greetings be localized?"),
        "{}",
        run.describe()
    );
    assert!(run.stdout.contains("--answer"), "{}", run.describe());
    let run = project.kmilestone_run(&["--answer", "no, English only", "--to", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let calls = project.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["resume"], calls[0]["session"]);
    assert!(prompt_of(&calls[1]).contains("no, English only"));
}

#[test]
fn at_a_terminal_a_question_is_answered_there_and_the_session_goes_on() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({
        "invocations": [{"result": {"text": "QUESTION: Should greetings be localized?\nOPTIONS:\n- yes\n- no\nRECOMMENDATION: no"}}],
        "default": {"actions": good_actions()}
    }));
    // "2" picks the second option.
    let (status, shown) =
        project.run_on_a_terminal(&["run", "M1_greeter.md", "--to", "1.1"], "2\n", false);
    assert_eq!(status.code(), Some(0), "{shown}");
    assert!(shown.contains("? The agent asks (task 1.1):"), "{shown}");
    assert!(shown.contains("2. no"), "{shown}");
    let calls = project.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["resume"], calls[0]["session"]);
    assert!(
        prompt_of(&calls[1]).contains("The human answered your question:\n\nno\n"),
        "{}",
        prompt_of(&calls[1])
    );
}

#[test]
fn a_missing_agent_exits_5() {
    let project = Project::new(PLAN_3);
    let run = project.run(&["run", "M1_greeter.md"]);
    assert_eq!(
        run.code(),
        Some(0),
        "the fake agent is found: {}",
        run.describe()
    );
    let project = Project::new(PLAN_3);
    let run = {
        let mut command = project.command(&["run", "M1_greeter.md"]);
        command.env("KMILESTONE_CLAUDE_BIN", "/nonexistent/claude");
        let output = command.output().unwrap();
        crate::support::project::Run {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            output,
        }
    };
    assert_eq!(run.code(), Some(5), "{}", run.describe());
    assert!(
        run.stdout.contains("/nonexistent/claude"),
        "{}",
        run.describe()
    );
}

#[test]
fn dry_run_prints_prompt_command_and_gates_outside_git() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("M1_greeter.md"), PLAN_3).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kmilestone"))
        .args(["run", "M1_greeter.md", "--dry-run", "--only", "1.2"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("=== Task 1.2: Farewell module [CODING]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("claude -p --output-format stream-json --verbose"),
        "{stdout}"
    );
    assert!(stdout.contains("## Current Task"), "{stdout}");
    assert!(!dir.path().join(".kmilestone").exists());
}

#[test]
fn report_shows_the_last_run_and_json_events_parse() {
    let project = Project::new(PLAN_3);
    let missing = project.run(&["report", "M1_greeter.md"]);
    assert_eq!(missing.code(), Some(2), "{}", missing.describe());
    assert!(
        missing.stderr.contains("no report yet"),
        "{}",
        missing.describe()
    );
    let run = project.kmilestone_run(&["--json", "--to", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    assert_eq!(lines[0]["type"], "schema");
    assert_eq!(lines[0]["data"]["version"], 2);
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types[1], "run_started");
    assert!(types.contains(&"task_started") && types.contains(&"gate_finished"));
    assert_eq!(*types.last().unwrap(), "run_finished");
    for line in &lines[1..] {
        assert!(
            line["timestamp"].is_string() && line["elapsed_ms"].is_u64(),
            "{line}"
        );
    }
    let report = project.run(&["report", "M1_greeter.md"]);
    assert_eq!(report.code(), Some(0), "{}", report.describe());
    assert!(
        report
            .stdout
            .contains("| 1.1 Greeting module | completed | 1 |"),
        "{}",
        report.describe()
    );
    let report = project.run(&["report", "M1_greeter.md", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(json["outcome"], "complete");
    assert_eq!(json["milestone"]["tasks"][0]["id"], "1.1");
    assert_eq!(
        json["milestone"]["tasks"][0]["record"]["result"],
        "completed"
    );
    let events_dir = project.state_path("runs");
    let run_dirs: Vec<_> = std::fs::read_dir(events_dir).unwrap().collect();
    assert_eq!(run_dirs.len(), 1);
}

/// A first attempt that leaves a 5-second sleep in a new unit test, and a second one that
/// removes it.
fn slow_sleep_then_fixed(project: &Project) {
    project.scenario(json!({
        "invocations": [{"actions": [
            {"write": "tests/test_greet.py", "content": "import time\n\nfrom greeter import greet\n\n\ndef test_greet():\n    time.sleep(5)\n    assert greet(\"Ada\") == \"Hello, Ada!\"\n"},
            {"append": HANDOFF, "text": "## Task {task} Complete: done\n"},
            {"sh": "git add -A && git commit -qm 'Task {task}'"}
        ]},
        {"actions": [
            {"write": "tests/test_greet.py", "content": "from greeter import greet\n\n\ndef test_greet():\n    assert greet(\"Ada\") == \"Hello, Ada!\"\n"},
            {"sh": "git add -A && git commit -qm 'Drop the sleep'"}
        ]}]
    }));
}

#[test]
fn a_slow_sleep_in_a_new_unit_test_goes_back_and_is_fixed() {
    let project = Project::new(PLAN_3);
    slow_sleep_then_fixed(&project);
    let run = project.kmilestone_run(&["--only", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let calls = project.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["resume"], calls[0]["session"]);
    let fix = prompt_of(&calls[1]);
    assert!(fix.contains("tests/test_greet.py:7"), "{fix}");
    assert!(fix.contains("slow-sleep"), "{fix}");
    assert!(
        run.stdout.contains("unit-test quality"),
        "{}",
        run.describe()
    );
}

#[test]
fn check_tests_command_reports_findings_and_exit_codes() {
    let project = Project::new(PLAN_3);
    project.write(
        "tests/test_slow.py",
        "import time\n\ndef test_slow():\n    time.sleep(3)\n    assert 1 + 1 == 2\n",
    );
    project.write(
        "tests/test_ok.py",
        "def test_ok():\n    assert [1, 2][0] == 1\n",
    );
    let run = project.run(&["check-tests", "tests/test_slow.py", "tests/test_ok.py"]);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert!(
        run.stdout
            .contains("## Unit Test Quality Check: ISSUES FOUND"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("tests/test_slow.py:4"),
        "{}",
        run.describe()
    );
    let run = project.run(&["check-tests", "--json", "tests/test_ok.py"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["findings"].as_array().unwrap().len(), 0);
    let run = project.run(&["check-tests", "tests/missing_test.py"]);
    assert_eq!(run.code(), Some(2), "{}", run.describe());
    assert!(run.stderr.contains("missing_test.py"), "{}", run.describe());
}

#[test]
fn pr_flag_runs_gh_pr_create_when_the_milestone_completes() {
    let project = Project::new(PLAN_3);
    let log = project.path("../gh.log");
    project.write_executable(
        "gh",
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\ncat \"$6\" >> {}\n",
            log.display(),
            log.display()
        ),
    );
    let run = project.kmilestone_run(&["--pr", "--to", "1.2"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(!log.exists(), "no pull request for a partial milestone");
    assert!(
        run.stderr.contains("not complete yet"),
        "{}",
        run.describe()
    );
    let run = project.kmilestone_run(&["--pr"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let gh = std::fs::read_to_string(&log).unwrap();
    assert!(
        gh.starts_with("pr\ncreate\n--title\nM1: Greeter\n--body-file\n"),
        "{gh}"
    );
    assert!(
        gh.contains("## Milestone Complete: M1 - Greeter"),
        "the body file: {gh}"
    );
}

#[test]
fn a_validation_task_needs_a_passed_e2e_result() {
    let project = Project::new(PLAN_3);
    project.write(
        HANDOFF,
        "## Task 1.1 Complete: a\n\n## Task 1.2 Complete: b\n",
    );
    project.commit_all("Tasks 1.1 and 1.2");
    project.scenario(json!({
        "invocations": [
            {"actions": [
                {"append": HANDOFF, "text": "\n## Task {task} Complete: validated\n\nRan it.\n"},
                {"sh": "git add -A && git commit -qm 'Task {task}'"}
            ]},
            {"actions": [
                {"append": HANDOFF, "text": "**E2E:** greeter-e2e — FAILED\n"},
                {"sh": "git add -A && git commit -qm 'E2E result'"}
            ]},
            {"actions": [
                {"append": HANDOFF, "text": "**E2E:** greeter-e2e — PASSED\n"},
                {"sh": "git add -A && git commit -qm 'E2E passes'"}
            ]}
        ]
    }));
    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let calls = project.calls();
    assert_eq!(calls.len(), 3);
    assert!(
        prompt_of(&calls[1]).contains("records no E2E result"),
        "{}",
        prompt_of(&calls[1])
    );
    assert!(
        prompt_of(&calls[2]).contains("greeter-e2e FAILED"),
        "{}",
        prompt_of(&calls[2])
    );
    assert!(
        run.stdout.contains("- 1.3: greeter-e2e — PASSED"),
        "{}",
        run.describe()
    );
}

#[test]
fn an_agent_that_is_not_logged_in_stops_the_run_with_exit_5() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({"default": {"result": {"is_error": true, "api_error_status": 401, "text": "Invalid API key · Please run /login"}}}));
    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(5), "{}", run.describe());
    assert_eq!(project.calls().len(), 1, "no retry can help");
    assert!(
        run.stdout.contains("not authenticated"),
        "{}",
        run.describe()
    );
}

#[test]
fn the_readme_configuration_example_is_accepted_without_warnings() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme
        .find("### Configuration")
        .expect("configuration section")..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let project = Project::new(PLAN_3);
    project.write("kmilestone.toml", example);
    project.commit_all("README configuration");
    let run = project.kmilestone_run(&["--dry-run", "--only", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(!run.stderr.contains("warning"), "{}", run.describe());
    assert!(
        run.stdout.contains("Gates: make test-unit, make quality"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_rerun_says_when_a_task_complete_in_the_handoff_failed_verification() {
    let project = Project::new(PLAN_3);
    project.write(
        "kmilestone.toml",
        "[gates]\ncommands = [\"test -f gate-ok\"]\n[run]\nretries = 0\n",
    );
    project.commit_all("Gate");
    // The agent writes its Complete section and commits, but the gate fails.
    let run = project.kmilestone_run(&["--only", "1.1"]);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert!(project.read(HANDOFF).contains("## Task 1.1 Complete"));
    // The handoff now says 1.1 is complete, so a rerun moves on; it must not do so silently.
    project.write("gate-ok", "");
    project.commit_all("Gate passes");
    let run = project.kmilestone_run(&["--to", "1.2"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        run.stdout
            .contains("Task 1.1 is complete in the handoff, but its last run failed verification"),
        "{}",
        run.describe()
    );
    assert!(run.stdout.contains("--from 1.1"), "{}", run.describe());
}

/// A project whose config allows no automatic quality fix, so the human is asked at once, with
/// the scenario of `slow_sleep_then_fixed`.
fn slow_sleep_project() -> Project {
    let project = Project::new(PLAN_3);
    project.write("kmilestone.toml", "[run]\nquality_retries = 0\n");
    project.commit_all("No automatic quality fixes");
    slow_sleep_then_fixed(&project);
    project
}

#[test]
fn without_a_terminal_remaining_findings_stop_the_run_with_exit_1() {
    let project = slow_sleep_project();
    let run = project.kmilestone_run(&["--only", "1.1"]);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert_eq!(project.calls().len(), 1);
    assert!(
        run.stdout
            .contains("Task 1.1 failed verification after 1 attempt"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("tests/test_greet.py:7"),
        "{}",
        run.describe()
    );
    assert_eq!(project.state()["tasks"]["1.1"]["result"], "failed");
    assert!(
        !run.stdout.contains("Your decision"),
        "nobody is asked without a terminal: {}",
        run.describe()
    );
}

#[test]
fn at_a_terminal_the_human_may_accept_remaining_test_findings() {
    let project = slow_sleep_project();
    let (status, shown) =
        project.run_on_a_terminal(&["run", "M1_greeter.md", "--only", "1.1"], "1\n", false);
    assert_eq!(status.code(), Some(0), "{shown}");
    assert!(shown.contains("? Your decision (task 1.1):"), "{shown}");
    assert!(
        shown.contains("1. Accept the task with these unit-test findings"),
        "{shown}"
    );
    assert!(shown.contains("2. Stop the run here"), "{shown}");
    assert_eq!(project.calls().len(), 1, "accepting starts no new attempt");
    assert_eq!(project.state()["tasks"]["1.1"]["result"], "completed");
    // The accepted finding stays on record.
    let report = project.read_state("report.md");
    assert!(report.contains("tests/test_greet.py:7"), "{report}");
}

#[test]
fn at_a_terminal_the_humans_instructions_go_to_the_same_session() {
    let project = slow_sleep_project();
    let (status, shown) = project.run_on_a_terminal(
        &["run", "M1_greeter.md", "--only", "1.1"],
        "Drop the sleep, the greeting does not wait for anything\n",
        false,
    );
    assert_eq!(status.code(), Some(0), "{shown}");
    let calls = project.calls();
    assert_eq!(calls.len(), 2, "{shown}");
    assert_eq!(calls[1]["resume"], calls[0]["session"]);
    let fix = prompt_of(&calls[1]);
    assert!(fix.contains("tests/test_greet.py:7"), "{fix}");
    assert!(
        fix.contains("Drop the sleep, the greeting does not wait for anything"),
        "{fix}"
    );
    assert_eq!(project.state()["tasks"]["1.1"]["result"], "completed");
}

#[test]
fn at_a_terminal_a_failing_gate_cannot_be_accepted_and_stop_ends_the_run() {
    let project = Project::new(PLAN_3);
    project.write(
        "kmilestone.toml",
        "[gates]\ncommands = [\"echo 'FAILED test_greet'; exit 1\"]\n[run]\nretries = 0\n",
    );
    project.commit_all("Failing gate");
    let (status, shown) =
        project.run_on_a_terminal(&["run", "M1_greeter.md", "--only", "1.1"], "1\n", false);
    assert_eq!(status.code(), Some(1), "{shown}");
    assert!(shown.contains("? Your decision (task 1.1):"), "{shown}");
    assert!(shown.contains("1. Stop the run here"), "{shown}");
    assert!(!shown.contains("Accept the task"), "{shown}");
    assert_eq!(project.calls().len(), 1);
    assert_eq!(project.state()["tasks"]["1.1"]["result"], "failed");
}

#[test]
fn check_tests_reads_the_crate_name_whatever_the_working_folder() {
    let project = Project::new(PLAN_3);
    project.write(
        "client/Cargo.toml",
        "[package]\nname = \"mysql\"\nversion = \"0.1.0\"\n",
    );
    project.write(
        "client/src/conn/mod.rs",
        "#[cfg(test)]\nmod tests {\n    use crate::{Conn, Opts};\n\n    #[test]\n    fn connects() {\n        let mut conn = Conn::new(Opts::default()).unwrap();\n        assert!(conn.ping());\n    }\n}\n",
    );
    for (folder, file) in [("client", "src/conn/mod.rs"), ("client/src/conn", "mod.rs")] {
        let output = project
            .command(&["check-tests", "--json", file])
            .current_dir(project.path(folder))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "from {folder}: {stdout}");
        assert!(
            stdout.contains("connects to a real database or cache (mysql::Conn::new)"),
            "from {folder}: {stdout}"
        );
    }
}

#[test]
fn at_a_terminal_a_number_that_is_no_option_is_asked_again_and_stop_stops() {
    let project = slow_sleep_project();
    let (status, shown) = project.run_on_a_terminal(
        &["run", "M1_greeter.md", "--only", "1.1"],
        "7\nstop\n",
        false,
    );
    assert_eq!(status.code(), Some(1), "{shown}");
    assert_eq!(
        shown
            .matches("or 1-2 for an option; empty or \"stop\" stops")
            .count(),
        2,
        "{shown}"
    );
    assert_eq!(
        project.calls().len(),
        1,
        "no instructions went to the agent"
    );
    assert_eq!(project.state()["tasks"]["1.1"]["result"], "failed");
}

/// The git subcommands kmilestone itself ran (not the agent's), in order, from a `git` wrapper
/// first on PATH that logs only calls whose parent is kmilestone.
fn kmilestone_git_calls(project: &Project, args: &[&str]) -> Vec<String> {
    let real_git = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("git"))
        .find(|path| path.is_file())
        .expect("git on PATH");
    let log = project.root().with_file_name("git-calls.log");
    project.write_executable(
        "git",
        &format!(
            "#!/bin/sh\nif [ \"$(cat /proc/$PPID/comm)\" = kmilestone ]; then\n  \
             printf '%s\\n' \"$*\" >> '{}'\nfi\nexec '{}' \"$@\"\n",
            log.display(),
            real_git.display()
        ),
    );
    let run = project.kmilestone_run(args);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            // After `-C <dir>` and the hardening (`-c key=value` pairs, `--no-pager`), the
            // subcommand and its first argument.
            let mut words = line.split(' ').peekable();
            while let Some(word) = words.next_if(|w| w.starts_with('-')) {
                if word == "-C" || word == "-c" {
                    words.next();
                }
            }
            words.take(2).collect::<Vec<_>>().join(" ")
        })
        .collect()
}

#[test]
fn each_task_costs_kmilestone_one_git_status_and_one_git_log() {
    let project = Project::new(PLAN_3);
    let calls = kmilestone_git_calls(&project, &[]);
    let per_task = ["status --porcelain=v2", "log --reverse"];
    // At the start: the repository, and the identity's `git config` running beside the status
    // (in either order).
    let mut start = calls[..3.min(calls.len())].to_vec();
    start.sort();
    assert_eq!(
        start,
        [
            "config -z",
            "rev-parse --show-toplevel",
            "status --porcelain=v2"
        ],
        "{calls:?}"
    );
    // The start's status is the first task's baseline; each verification's, the next one's.
    let expected: Vec<&str> = per_task
        .iter()
        .copied()
        .cycle()
        .take(per_task.len() * 3)
        .collect();
    assert_eq!(calls[3..], expected);
}
