//! What a run shows: the `--json` event stream against its documented schema, the report files
//! against the events, costs across a resumed session, and the live view on a terminal.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::support::project::{HANDOFF, PLAN_3, Project};

/// A run of 1.1 and 1.2 where 1.2's first attempt forgets the handoff and is sent back.
fn run_with_a_fix(project: &Project, args: &[&str]) -> crate::support::project::Run {
    project.scenario(json!({
        "invocations": [
            {"actions": [
                {"write": "greet.py", "content": "def greet(name):\n    return f'Hello, {name}!'\n"},
                {"write": "test_greet.py", "content": "from greet import greet\n\n\ndef test_greet():\n    assert greet('Ann') == 'Hello, Ann!'\n"},
                {"append": HANDOFF, "text": "\n## Task {task} Complete: done\n"},
                {"sh": "git add -A && git commit -qm 'Task {task}'"}
            ], "result": {"cost": 0.05, "input_tokens": 1000, "output_tokens": 50}},
            {"actions": [
                {"text": "I'll write bye.txt. Then commit."},
                {"write": "bye.txt", "content": "bye\n"},
                {"sh": "git add -A && git commit -qm 'bye without handoff'"}
            ], "result": {"cost": 0.10, "input_tokens": 100, "output_tokens": 10}},
            {"actions": [
                {"append": HANDOFF, "text": "\n## Task {task} Complete: done\n"},
                {"sh": "git add -A && git commit -qm 'Handoff {task}'"}
            ], "result": {"cost": 0.25, "input_tokens": 200, "output_tokens": 20}}
        ]
    }));
    let mut all = vec!["--to", "1.2"];
    all.extend_from_slice(args);
    project.kmilestone_run(&all)
}

/// The `data` field names docs/events.md lists for each `type`, from its table.
fn documented_fields() -> BTreeMap<String, BTreeSet<String>> {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/events.md")).unwrap();
    let code = regex::Regex::new(r"`([a-z0-9_]+)`").unwrap();
    doc.lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix("| `")?.splitn(2, '|');
            let kind = cells.next()?.trim().trim_end_matches('`').to_string();
            let fields = code
                .captures_iter(cells.next()?)
                .map(|c| c[1].to_string())
                .collect();
            Some((kind, fields))
        })
        .collect()
}

#[test]
fn json_lines_follow_the_documented_schema() {
    let project = Project::new(PLAN_3);
    let run = run_with_a_fix(&project, &["--json"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let mut lines = run.stdout.lines();
    assert_eq!(
        serde_json::from_str::<Value>(lines.next().unwrap()).unwrap(),
        json!({"type": "schema", "data": {"name": "kmilestone-events", "version": 2}})
    );
    let documented = documented_fields();
    let mut seen = BTreeSet::new();
    for line in lines {
        let value: Value = serde_json::from_str(line).expect("every line is one JSON object");
        let keys: BTreeSet<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["timestamp", "elapsed_ms", "type", "data"]),
            "{line}"
        );
        let kind = value["type"].as_str().unwrap().to_string();
        let fields = documented
            .get(&kind)
            .unwrap_or_else(|| panic!("type {kind} is not in docs/events.md"));
        if let Some(data) = value["data"].as_object() {
            for key in data.keys() {
                assert!(
                    fields.contains(key),
                    "docs/events.md does not list `{key}` for `{kind}`"
                );
            }
        }
        assert!(
            value["timestamp"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .is_ok(),
            "{line}"
        );
        seen.insert(kind);
    }
    for kind in [
        "run_started",
        "task_started",
        "attempt_started",
        "agent",
        "attempt_finished",
        "gate_started",
        "gate_finished",
        "check_finished",
        "verification_failed",
        "task_finished",
        "run_finished",
    ] {
        assert!(seen.contains(kind), "no {kind} event in {seen:?}");
    }
}

/// The `data` of every event of `type` in a JSON lines text.
fn events_of(text: &str, kind: &str) -> Vec<Value> {
    text.lines()
        .skip(1)
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["type"] == kind)
        .map(|e| e["data"].clone())
        .collect()
}

#[test]
fn report_files_agree_with_the_events_and_report_renders_them_from_the_state() {
    let project = Project::new(PLAN_3);
    let run = run_with_a_fix(&project, &[]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let runs = project.state_path("runs");
    let run_dir = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let log = std::fs::read_to_string(run_dir.join("events.jsonl")).unwrap();
    let finished = events_of(&log, "task_finished");
    assert_eq!(finished.len(), 2);

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["outcome"], "complete");
    assert_eq!(report["exit_code"], 0);
    let records: Vec<Value> = report["milestone"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["record"].clone())
        .filter(|r| !r.is_null())
        .collect();
    assert_eq!(
        records, finished,
        "the report's records are the tasks' final data"
    );
    let cost: f64 = finished
        .iter()
        .map(|t| t["totals"]["cost_usd"].as_f64().unwrap())
        .sum();
    let totals = &report["milestone"]["totals"];
    assert!((totals["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-9);
    assert_eq!(
        totals["usage"]["input_tokens"].as_u64().unwrap()
            + totals["usage"]["output_tokens"].as_u64().unwrap(),
        1380
    );

    let md = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(
        md.starts_with("# kmilestone run report\n\nMilestone: M1 - Greeter (3 tasks)  \nOutcome: **complete** (exit code 0)  \n"),
        "{md}"
    );
    let row = |id: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| {id} ")))
            .unwrap_or_else(|| panic!("no row for {id}: {md}"))
            .to_string()
    };
    let commit = project.git(&["log", "-1", "--format=%h", "--grep", "Handoff 1.2"]);
    let row_2 = row("1.2");
    assert!(
        row_2.starts_with("| 1.2 Farewell module | completed | 2 | "),
        "{row_2}"
    );
    assert!(row_2.contains("| $0.2500 | 330 | true ✓ | 0 | "), "{row_2}");
    assert!(row_2.contains(commit.trim()), "{row_2} / {commit}");
    assert!(
        row("1.1").contains("| $0.0500 | 1050 | true ✓ | 0 | "),
        "{md}"
    );
    assert_eq!(
        row("1.3"),
        "| 1.3 Validate | pending | - | - | - | - | - | - | - |"
    );
    assert!(
        md.contains("\nTotal: $0.3000, 1380 tokens (1300 in, 80 out"),
        "{md}"
    );

    // The copy beside the state is the same, and `report` renders the same from the state.
    assert_eq!(project.read_state("report.md"), md);
    let shown = project.run(&["report", "M1_greeter.md"]);
    assert_eq!(shown.code(), Some(0), "{}", shown.describe());
    assert_eq!(shown.stdout, md);
    let shown = project.run(&["report", "M1_greeter.md", "--json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&shown.stdout).unwrap(),
        report
    );
    // The saved files are not what `report` reads.
    std::fs::remove_file(project.state_path("report.md")).unwrap();
    std::fs::remove_file(run_dir.join("report.md")).unwrap();
    assert_eq!(project.run(&["report", "M1_greeter.md"]).stdout, md);
}

#[test]
fn report_after_a_killed_run_says_it_did_not_finish() {
    let project = Project::new(PLAN_3);
    let run = project.kmilestone_run(&["--to", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    // As if a later run were killed during task 1.2: the state shows it in progress, started
    // after the last recorded end.
    let mut state = project.state();
    state["in_progress"] = json!({
        "task": "1.2", "attempt": 1, "session_id": null, "head_before": null,
        "started_at": "2099-01-01T00:00:00Z"
    });
    std::fs::write(
        project.state_path("state.json"),
        serde_json::to_string(&state).unwrap(),
    )
    .unwrap();
    let shown = project.run(&["report", "M1_greeter.md"]);
    assert_eq!(shown.code(), Some(0), "{}", shown.describe());
    assert!(
        shown
            .stdout
            .contains("Outcome: **unfinished**  \nFinished: 2099-01-01T00:00:00Z\n"),
        "{}",
        shown.stdout
    );
    assert!(
        shown
            .stdout
            .contains("| 1.1 Greeting module | completed | 1 |"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("| 1.2 Farewell module | pending |"),
        "{}",
        shown.stdout
    );
}

#[test]
fn a_resumed_session_is_costed_once_and_its_tokens_summed() {
    // Claude Code reports the session's cumulative cost after --resume: 0.10 then 0.25.
    let project = Project::new(PLAN_3);
    project.scenario(json!({
        "invocations": [
            {"actions": [{"write": "greet.txt", "content": "hi\n"}, {"sh": "git add -A && git commit -qm 'greet without handoff'"}],
             "result": {"cost": 0.10, "input_tokens": 100, "output_tokens": 10}},
            {"actions": [{"append": HANDOFF, "text": "\n## Task {task} Complete: done\n"}, {"sh": "git add -A && git commit -qm 'Handoff {task}'"}],
             "result": {"cost": 0.25, "input_tokens": 200, "output_tokens": 20}}
        ]
    }));
    let run = project.kmilestone_run(&["--only", "1.1", "--json"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let calls = project.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1]["resume"], calls[0]["session"],
        "the fix resumes the session"
    );
    let task = events_of(&run.stdout, "task_finished").remove(0);
    assert_eq!(task["result"], "completed");
    assert_eq!(task["attempts"], 2);
    assert!(
        (task["totals"]["cost_usd"].as_f64().unwrap() - 0.25).abs() < 1e-9,
        "{task}"
    );
    assert_eq!(task["totals"]["usage"]["input_tokens"], 300);
    assert_eq!(task["totals"]["usage"]["output_tokens"], 30);
    let end = events_of(&run.stdout, "run_finished").remove(0);
    let totals = &end["totals"];
    assert!(
        (totals["cost_usd"].as_f64().unwrap() - 0.25).abs() < 1e-9,
        "{totals}"
    );
    assert_eq!(
        totals["usage"]["input_tokens"].as_u64().unwrap()
            + totals["usage"]["output_tokens"].as_u64().unwrap(),
        330
    );
    let report = project.read_state("report.md");
    assert!(
        report.contains("| 1.1 Greeting module | completed | 2 | ")
            && report.contains("| $0.2500 | 330 |"),
        "{report}"
    );
}

#[test]
fn without_a_terminal_the_view_is_plain_lines() {
    let project = Project::new(PLAN_3);
    let run = project.kmilestone_run(&["--to", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        !run.stdout.chars().any(|c| c.is_control() && c != '\n'),
        "{:?}",
        run.stdout
    );
    assert!(run.stdout.contains("\n  · Edit "), "{}", run.stdout);
    assert!(
        run.stdout.contains("\n✓ Task 1.1 complete (1 attempt, "),
        "{}",
        run.stdout
    );
}

/// `kmilestone run` on a pseudo-terminal, returning what it showed.
fn run_on_a_terminal(project: &Project, ci: bool) -> String {
    let (status, shown) =
        project.run_on_a_terminal(&["run", "M1_greeter.md", "--to", "1.1"], "", ci);
    assert!(status.success(), "{status:?}\n{shown}");
    shown
}

#[test]
fn on_a_terminal_a_status_line_is_redrawn_but_not_in_ci() {
    let project = Project::new(PLAN_3);
    let shown = run_on_a_terminal(&project, false);
    assert!(shown.contains("\r\x1b[2K"), "{shown:?}");
    assert!(shown.contains("1.1 Greeting module · 0:0"), "{shown:?}");
    assert!(
        shown.contains("✓ Task 1.1 complete (1 attempt, "),
        "{shown:?}"
    );

    let project = Project::new(PLAN_3);
    let shown = run_on_a_terminal(&project, true);
    assert!(!shown.contains('\x1b'), "{shown:?}");
    assert!(shown.contains("\n  · Edit "), "{shown:?}");
}
