//! Faults a long unattended run meets: hung, slow, chatty, crashing and lingering agents, hung
//! gates, signals, a killed runner, concurrent runs, stale locks, usage limits, questions and
//! blockers. Every scenario runs real processes and checks what a user would check: exit codes,
//! output, files, commits, and which process IDs are still alive.

use std::time::{Duration, Instant};

use kmilestone::process::is_alive;
use nix::sys::signal::Signal;
use serde_json::{Value, json};

use crate::support::background::{
    Background, RUN_BOUND, assert_dead_within, lifetime, outside, pid_in, signal, wait_for,
};
use crate::support::project::{HANDOFF, PLAN_3, Project, Run, good_actions};

/// Seconds between the starts of two fake-agent calls.
fn gap(calls: &[Value], a: usize, b: usize) -> f64 {
    calls[b]["time"].as_f64().unwrap() - calls[a]["time"].as_f64().unwrap()
}

fn prompt_of(call: &Value) -> &str {
    call["stdin"].as_str().unwrap()
}

/// Actions of an agent that writes its pid and starts a background sleeper, then `then`.
fn traced(project: &Project, then: Value) -> Value {
    let mut actions = vec![
        json!({"pid": outside(project, "agent.pid")}),
        json!({"spawn_sleeper": outside(project, "sleeper.pid")}),
    ];
    actions.extend(then.as_array().unwrap().iter().cloned());
    Value::Array(actions)
}

fn traced_pids(project: &Project) -> Vec<i32> {
    vec![
        pid_in(&outside(project, "agent.pid")),
        pid_in(&outside(project, "sleeper.pid")),
    ]
}

#[test]
fn an_idle_agent_is_killed_at_the_idle_timeout_and_the_task_retried() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({
        "invocations": [{"actions": traced(&project, json!([
            {"text": "Looking at the code"},
            {"ignore_term": true},
            {"hang": true}
        ]))}],
        "default": {"actions": good_actions()}
    }));
    let run = Background::start_with(
        &project,
        &["run", "M1_greeter.md", "--only", "1.1"],
        &[
            ("KMILESTONE_IDLE_TIMEOUT", "1s"),
            ("KMILESTONE_KILL_GRACE", "500ms"),
        ],
    );
    let pids = traced_pids(&project);
    // Its last output came just after its pids: idle timeout 1 s, then SIGTERM (ignored),
    // 0.5 s, SIGKILL.
    let lived = lifetime(pids[0], RUN_BOUND);
    assert!(
        (Duration::from_millis(1300)..Duration::from_millis(3500)).contains(&lived),
        "the hung agent lived {lived:?} after its last output"
    );
    let (run, _) = run.finish(RUN_BOUND);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_dead_within(&pids, Duration::ZERO);
    assert!(
        run.stdout.contains("agent stopped: no output for too long"),
        "{}",
        run.describe()
    );
    let calls = project.calls();
    assert_eq!(calls.len(), 2, "the hung attempt and one retry");
    assert_eq!(calls[1]["resume"], calls[0]["session"]);
    assert!(
        prompt_of(&calls[1]).contains("produced no output for 1s and was stopped"),
        "{}",
        prompt_of(&calls[1])
    );
    assert_eq!(project.state()["tasks"]["1.1"]["attempts"], 2);
    assert_eq!(project.log().last().unwrap(), "Task 1.1");
}

#[test]
fn an_agent_that_hangs_after_its_result_is_stopped_and_judged_on_its_work() {
    let project = Project::new(PLAN_3);
    let mut actions = good_actions().as_array().unwrap().clone();
    actions.insert(0, json!({"pid": outside(&project, "agent.pid")}));
    project.scenario(json!({
        "default": {"actions": actions, "result": {"text": "All done.", "after": "hang"}}
    }));
    let run = Background::start_with(
        &project,
        &["run", "M1_greeter.md", "--only", "1.1"],
        &[("KMILESTONE_RESULT_GRACE", "500ms")],
    );
    let agent = pid_in(&outside(&project, "agent.pid"));
    let (run, took) = run.finish(RUN_BOUND);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_dead_within(&[agent], Duration::ZERO);
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert_eq!(project.calls().len(), 1, "no retry: the work was right");
    assert!(
        run.stdout.contains("✓ Task 1.1 complete (1 attempt"),
        "{}",
        run.describe()
    );
    assert!(
        !run.stdout.contains("agent stopped"),
        "lingering after the result is not a failure: {}",
        run.describe()
    );
    assert!(project.read(HANDOFF).contains("## Task 1.1 Complete"));
}

#[test]
fn an_agent_that_hangs_after_its_result_without_doing_the_work_is_sent_back() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({
        "invocations": [{"result": {"text": "Done, trust me.", "after": "hang"}}],
        "default": {"actions": good_actions()}
    }));
    let run = project.kmilestone_run(&["--only", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let calls = project.calls();
    assert_eq!(calls.len(), 2);
    assert!(prompt_of(&calls[1]).contains("no new `## Task 1.1 Complete"));
}

#[test]
fn an_agent_that_keeps_talking_is_stopped_at_the_task_timeout() {
    let project = Project::new(PLAN_3);
    project.write(
        "kmilestone.toml",
        "[gates]\ncommands = [\"true\"]\n[run]\nretries = 1\n",
    );
    project.commit_all("One retry");
    project.scenario(json!({
        "default": {"actions": traced(&project, json!([{"chatter": 0.1}]))}
    }));
    let run = Background::start_with(
        &project,
        &["run", "M1_greeter.md"],
        &[
            ("KMILESTONE_TASK_TIMEOUT", "1500ms"),
            ("KMILESTONE_IDLE_TIMEOUT", "1s"),
            ("KMILESTONE_KILL_GRACE", "300ms"),
        ],
    );
    let first = traced_pids(&project);
    // Its pids appear once it is up; it is stopped at the 1.5 s task timeout although it talks.
    let lived = lifetime(first[0], RUN_BOUND);
    assert!(
        (Duration::from_millis(700)..Duration::from_millis(4000)).contains(&lived),
        "the talking agent lived {lived:?}"
    );
    let (run, took) = run.finish(RUN_BOUND);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert_dead_within(&first, Duration::ZERO);
    assert!(
        run.stdout.contains("agent stopped: task timeout"),
        "{}",
        run.describe()
    );
    assert!(
        !run.stdout.contains("no output for too long"),
        "a talking agent is not idle: {}",
        run.describe()
    );
    let calls = project.calls();
    assert_eq!(calls.len(), 2, "one attempt and one fix");
    assert!(
        prompt_of(&calls[1]).contains("ran longer than the task timeout of 1s 500ms"),
        "{}",
        prompt_of(&calls[1])
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    // The second attempt's processes are gone too (its pid files overwrote the first's).
    assert_dead_within(&traced_pids(&project), Duration::ZERO);
}

#[test]
fn garbage_and_unknown_stream_lines_are_tolerated() {
    let project = Project::new(PLAN_3);
    let mut actions = vec![
        json!({"garbage": "this is not json"}),
        json!({"garbage": "{\"type\": \"mystery_event\", \"payload\": [1, 2, 3]}"}),
        json!({"garbage": "{\"type\": \"assistant\", \"message\": \"truncated"}),
        json!({"garbage": "[1, 2"}),
        json!({"garbage": "\u{1b}[31mcoloured\u{1b}[0m ünïcödé ✓"}),
        json!({"garbage": "x".repeat(300_000)}),
        json!({"garbage": ""}),
    ];
    actions.extend(good_actions().as_array().unwrap().iter().cloned());
    project.scenario(json!({"default": {"actions": actions}}));
    let run = project.kmilestone_run(&["--only", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(project.calls().len(), 1);
    assert_eq!(project.log().last().unwrap(), "Task 1.1");
    // Unknown line types are kept in the event log, not dropped.
    let runs = project.state_path("runs");
    let run_dir = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap();
    let events = std::fs::read_to_string(run_dir.path().join("events.jsonl")).unwrap();
    assert!(events.contains("mystery_event"), "{events}");
}

#[test]
fn a_crashed_agent_is_retried_and_its_children_killed() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({
        "invocations": [{"actions": traced(&project, json!([
            {"text": "Editing files"},
            {"crash": 9}
        ]))}],
        "default": {"actions": good_actions()}
    }));
    let run = project.kmilestone_run(&["--only", "1.1"]);
    let pids = traced_pids(&project);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_dead_within(&pids, Duration::ZERO);
    assert!(
        run.stdout
            .contains("agent ended without a result (killed by signal 9)"),
        "{}",
        run.describe()
    );
    let calls = project.calls();
    assert_eq!(calls.len(), 2);
    assert!(
        prompt_of(&calls[1]).contains("it may have crashed"),
        "{}",
        prompt_of(&calls[1])
    );
    assert_eq!(project.state()["tasks"]["1.1"]["attempts"], 2);
}

#[test]
fn a_hung_gate_is_killed_at_its_timeout_with_its_children() {
    let project = Project::new(PLAN_3);
    // Inside the repository: the gate runs sandboxed, and may write only there.
    let in_repo = |name: &str| project.path(name).display().to_string();
    let gate_pid = in_repo("gate.pid");
    let gate_sleeper = in_repo("gate-sleeper.pid");
    project.write(
        "kmilestone.toml",
        &format!(
            "[gates]\ncommands = [\"echo $$ > {gate_pid}; sleep 1000 & echo $! > {gate_sleeper}; echo running e2e; sleep 1000\"]\n[run]\nretries = 0\n"
        ),
    );
    project.commit_all("Hanging gate");
    let run = Background::start_with(
        &project,
        &["run", "M1_greeter.md"],
        &[
            ("KMILESTONE_GATE_TIMEOUT", "1s"),
            ("KMILESTONE_KILL_GRACE", "300ms"),
        ],
    );
    let pids = vec![pid_in(&gate_pid), pid_in(&gate_sleeper)];
    let (run, took) = run.finish(RUN_BOUND);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert_dead_within(&pids, Duration::ZERO);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(run.stdout.contains("timed out"), "{}", run.describe());
    let report = project.read_state("report.md");
    assert!(report.contains("timed out after 1s"), "{report}");
    assert!(
        report.contains("running e2e"),
        "the gate's output: {report}"
    );
}

/// Task 1.1 is done; task 1.2's first agent leaves `bye.txt` behind, writes `handoff_edit` to the
/// handoff, then hangs, and the runner is SIGKILLed. Checks that nothing survives the runner and
/// that the next run resumes task 1.2 from the handoff it started with, then finishes.
fn sigkill_mid_task_then_resume(handoff_edit: Value) {
    let project = Project::new(PLAN_3);
    let before_12 =
        "# Handoff M1\n\n## Task 1.1 Complete: greeting\n\nUse greet() from greet.py.\n";
    project.write(HANDOFF, before_12);
    project.write("greet.txt", "hello\n");
    project.commit_all("Task 1.1");
    project.scenario(json!({
        "invocations": [{"actions": traced(&project, json!([
            {"write": "bye.txt", "content": "half a farew"},
            handoff_edit,
            {"text": "Working on it"},
            {"hang": true}
        ]))}],
        "default": {"actions": good_actions()}
    }));
    let mut first = Background::start(&project, &[]);
    let pids = traced_pids(&project);
    wait_for(RUN_BOUND, "the agent's handoff edit", || {
        (project.read(HANDOFF) != before_12).then_some(())
    });
    let interrupted_handoff = project.read(HANDOFF);
    assert!(first.still_running());
    signal(first.pid(), Signal::SIGKILL);
    let (killed, _) = first.finish(RUN_BOUND);
    assert_eq!(killed.code(), None, "killed by a signal");
    // The agent dies with the runner, and so does what it started in the background.
    assert_dead_within(&pids, Duration::from_secs(5));
    let state = project.state();
    assert_eq!(state["in_progress"]["task"], "1.2", "{state}");

    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        run.stdout
            .contains("Completed: 1.1 (from handoff)\nResuming from: 1.2\n"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("left uncommitted handoff changes"),
        "{}",
        run.describe()
    );
    assert_eq!(
        project.read_state("handoff-interrupted-1.2.md"),
        interrupted_handoff,
        "the interrupted version is kept"
    );
    let calls = project.calls();
    let tasks: Vec<&str> = calls.iter().map(|c| c["task"].as_str().unwrap()).collect();
    assert_eq!(tasks, vec!["1.2", "1.2", "1.3"]);
    let resumed = prompt_of(&calls[1]);
    assert!(
        resumed.contains("An earlier attempt at this task was interrupted"),
        "{resumed}"
    );
    assert!(
        resumed.contains("bye.txt"),
        "told about leftovers: {resumed}"
    );
    assert!(
        resumed.contains("Use greet() from greet.py."),
        "the prompt carries the handoff from before the task: {resumed}"
    );
    let handoff = project.read(HANDOFF);
    assert!(handoff.starts_with(before_12), "no byte lost: {handoff}");
    for id in ["1.1", "1.2", "1.3"] {
        assert_eq!(
            handoff.matches(&format!("## Task {id} Complete")).count(),
            1,
            "one section for {id}: {handoff}"
        );
    }
    assert!(!handoff.contains("half done"), "{handoff}");
    assert_eq!(project.git(&["status", "--porcelain"]), "");
    assert!(project.state()["in_progress"].is_null());
}

#[test]
fn a_sigkilled_runner_leaves_no_orphan_and_resumes_after_a_truncated_handoff() {
    sigkill_mid_task_then_resume(json!({"write": HANDOFF, "content": "# Handoff M1\n"}));
}

#[test]
fn a_sigkilled_runner_resumes_without_a_duplicated_complete_section() {
    sigkill_mid_task_then_resume(
        json!({"append": HANDOFF, "text": "\n## Task 1.2 Complete: half done\n"}),
    );
}

/// Starts a run whose first agent traces its pids, then hangs (ignoring SIGTERM if asked).
fn hanging_run(
    project: &Project,
    ignore_term: bool,
    env: &[(&str, &str)],
) -> (Background, Vec<i32>) {
    let mut then = vec![json!({"text": "Thinking"})];
    if ignore_term {
        then.push(json!({"ignore_term": true}));
    }
    then.push(json!({"hang": true}));
    project.scenario(json!({
        "invocations": [{"actions": traced(project, Value::Array(then))}],
        "default": {"actions": good_actions()}
    }));
    let run = Background::start_with(project, &["run", "M1_greeter.md"], env);
    let pids = traced_pids(project);
    (run, pids)
}

fn assert_interrupted_and_saved(project: &Project, run: &Run) {
    assert_eq!(run.code(), Some(130), "{}", run.describe());
    let state = project.state();
    assert_eq!(state["in_progress"]["task"], "1.1", "{state}");
    assert_eq!(state["tasks"]["1.1"]["result"], "interrupted", "{state}");
    assert!(
        state["in_progress"]["session_id"].is_string(),
        "the session is saved: {state}"
    );
}

#[test]
fn ctrl_c_stops_the_agent_saves_state_and_exits_130() {
    let project = Project::new(PLAN_3);
    let (run, pids) = hanging_run(&project, false, &[]);
    signal(run.pid(), Signal::SIGINT);
    let (run, took) = run.finish(RUN_BOUND);
    assert_interrupted_and_saved(&project, &run);
    assert_dead_within(&pids, Duration::ZERO);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        run.stdout.contains("agent stopped: interrupted"),
        "{}",
        run.describe()
    );
    assert!(
        run.stdout.contains("run again to resume"),
        "{}",
        run.describe()
    );
    assert_eq!(project.calls().len(), 1);
}

#[test]
fn sigterm_behaves_like_the_first_ctrl_c() {
    let project = Project::new(PLAN_3);
    let (run, pids) = hanging_run(&project, false, &[]);
    signal(run.pid(), Signal::SIGTERM);
    let (run, _) = run.finish(RUN_BOUND);
    assert_interrupted_and_saved(&project, &run);
    assert_dead_within(&pids, Duration::ZERO);
    assert!(
        run.stdout.contains("agent stopped: interrupted"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_second_ctrl_c_kills_at_once() {
    let project = Project::new(PLAN_3);
    // The agent ignores SIGTERM and the kill grace is long: only the second Ctrl-C ends it soon.
    let (mut run, pids) = hanging_run(&project, true, &[("KMILESTONE_KILL_GRACE", "60s")]);
    signal(run.pid(), Signal::SIGINT);
    std::thread::sleep(Duration::from_millis(500));
    assert!(run.still_running(), "the first Ctrl-C waits for the grace");
    assert!(is_alive(pids[0]), "the agent ignores SIGTERM");
    signal(run.pid(), Signal::SIGINT);
    let (run, took) = run.finish(RUN_BOUND);
    assert_eq!(run.code(), Some(130), "{}", run.describe());
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_dead_within(&pids, Duration::from_secs(2));
    assert_eq!(project.state()["in_progress"]["task"], "1.1");
}

#[test]
fn a_concurrent_run_is_refused_naming_the_holder() {
    let project = Project::new(PLAN_3);
    let (first, pids) = hanging_run(&project, false, &[]);
    let started = Instant::now();
    let second = project.kmilestone_run(&[]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused fast, took {:?}",
        started.elapsed()
    );
    assert_eq!(second.code(), Some(2), "{}", second.describe());
    assert!(
        second
            .stderr
            .contains(&format!("in progress (PID {})", first.pid())),
        "{}",
        second.describe()
    );
    assert_eq!(project.calls().len(), 1, "the second run started no agent");
    signal(first.pid(), Signal::SIGINT);
    let (first, _) = first.finish(RUN_BOUND);
    assert_eq!(first.code(), Some(130), "{}", first.describe());
    assert_dead_within(&pids, Duration::ZERO);
}

#[test]
fn a_stale_lock_is_taken_over() {
    let project = Project::new(PLAN_3);
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let dead_pid = gone.id();
    assert!(!is_alive(dead_pid as i32));
    assert_eq!(project.kmilestone_run(&["--only", "1.1"]).code(), Some(0));
    std::fs::write(project.state_path("lock"), dead_pid.to_string()).unwrap();
    let run = Background::start(&project, &["--only", "1.2"]);
    let pid = run.pid();
    let (run, _) = run.finish(RUN_BOUND);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(project.read_state("lock"), pid.to_string());
}

fn usage_limit_scenario(project: &Project) {
    let resets = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    project.scenario(json!({
        "invocations": [{
            "actions": [{"write": "greet.txt", "content": "hel"}],
            "result": {"is_error": true, "text": format!("Claude AI usage limit reached|{resets}")}
        }],
        "default": {"actions": good_actions()}
    }));
}

#[test]
fn a_usage_limit_is_waited_out_and_the_same_session_resumed() {
    let project = Project::new(PLAN_3);
    usage_limit_scenario(&project);
    let run = project.kmilestone_run(&["--only", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        run.stdout.contains("usage limit: waiting until"),
        "{}",
        run.describe()
    );
    let calls = project.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1]["resume"], calls[0]["session"], "the same session");
    assert!(prompt_of(&calls[1]).contains("usage limit"));
    let waited = gap(&calls, 0, 1);
    assert!((1.0..6.0).contains(&waited), "waited {waited:.2}s");
    assert_eq!(
        project.state()["tasks"]["1.1"]["attempts"],
        1,
        "a usage limit is not a failed attempt"
    );
}

#[test]
fn a_usage_limit_with_no_wait_exits_6() {
    let project = Project::new(PLAN_3);
    usage_limit_scenario(&project);
    let started = Instant::now();
    let run = project.kmilestone_run(&["--no-wait"]);
    assert_eq!(run.code(), Some(6), "{}", run.describe());
    assert!(started.elapsed() < Duration::from_secs(5));
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("Usage limit hit during task 1.1"), "{all}");
    assert!(all.contains("not waiting (--no-wait)"), "{all}");
    assert_eq!(project.calls().len(), 1);
    assert_eq!(project.state()["tasks"]["1.1"]["result"], "usage_limit");
}

#[test]
fn a_finished_task_that_mentions_a_usage_limit_is_verified_not_waited_on() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({"default": {
        "actions": good_actions(),
        "result": {"text": "Done. The client now backs off when the API answers \"usage limit reached\"."}
    }}));
    let run = project.kmilestone_run(&["--only", "1.1", "--no-wait"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        !run.stdout.contains("Usage limit hit"),
        "{}",
        run.describe()
    );
    assert_eq!(project.calls().len(), 1);
    assert_eq!(project.state()["tasks"]["1.1"]["result"], "completed");
}

#[test]
fn a_question_without_a_terminal_exits_4_and_the_answer_continues_the_session() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({
        "invocations": [{
            "actions": [{"write": "greet.txt", "content": "draft\n"}],
            "result": {"text": "QUESTION: Formal or casual greeting?\nOPTIONS:\n- formal\n- casual"}
        }],
        "default": {"actions": good_actions()}
    }));
    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(4), "{}", run.describe());
    assert!(
        run.stdout.contains("Formal or casual greeting?"),
        "{}",
        run.describe()
    );
    let state = project.state();
    let session = project.calls()[0]["session"].clone();
    assert_eq!(state["pending_question"]["session_id"], session, "{state}");

    let run = project.kmilestone_run(&["--answer", "casual"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let calls = project.calls();
    assert_eq!(calls.len(), 4, "the answer, then tasks 1.2 and 1.3");
    assert_eq!(calls[1]["resume"], session);
    assert!(prompt_of(&calls[1]).contains("casual"));
    assert!(project.state()["pending_question"].is_null());
}

#[test]
fn a_blocker_stops_the_run_with_exit_3_and_nothing_else_runs() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({
        "default": {"result": {"text": "Tried twice.\nBLOCKED: the greeting service needs an API key"}}
    }));
    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(3), "{}", run.describe());
    assert!(
        run.stdout.contains("the greeting service needs an API key"),
        "{}",
        run.describe()
    );
    assert_eq!(project.calls().len(), 1);
    assert_eq!(project.state()["tasks"]["1.1"]["result"], "blocked");
    assert_eq!(project.log(), vec!["Plan"]);
}
