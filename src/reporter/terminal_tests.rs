//! The terminal view rendered into a string from a made-up run, for a terminal and for a log.

use super::*;
use crate::events::{
    AttemptEnd, CapsInfo, Denial, EventKind, Finished, GateFailure, GateRecord, GateSandbox,
    Header, MilestoneSummary, MilestoneTask, Permission, Problem, ProjectRules, RunEnd, RunOutcome,
    RunStart, TaskResult, TaskSummary, Totals, Usage,
};

fn event(elapsed_ms: u64, kind: EventKind) -> Event {
    Event {
        timestamp: format!("2026-11-26T11:40:{:02}.000Z", elapsed_ms / 1000 % 60),
        elapsed_ms,
        kind,
    }
}

fn agent(id: &str, event: AgentEvent) -> EventKind {
    EventKind::Agent {
        id: id.to_string(),
        event,
    }
}

fn tool(name: &str, summary: &str) -> AgentEvent {
    AgentEvent::ToolUse {
        name: name.to_string(),
        summary: summary.to_string(),
    }
}

fn gate(command: &str, passed: bool, duration_ms: u64) -> GateRecord {
    GateRecord {
        command: command.to_string(),
        passed,
        exit_code: Some(if passed { 0 } else { 2 }),
        timed_out: false,
        duration_ms,
    }
}

fn totals(cost_usd: f64, input: u64, output: u64) -> Totals {
    Totals {
        cost_usd,
        usage: Usage {
            input_tokens: input,
            output_tokens: output,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
        },
    }
}

fn summary(
    id: &str,
    title: &str,
    result: TaskResult,
    attempts: u32,
    ms: u64,
    t: Totals,
) -> TaskSummary {
    TaskSummary {
        id: id.to_string(),
        title: title.to_string(),
        result,
        attempts,
        duration_ms: ms,
        totals: t,
        gates: vec![gate(
            "make test-unit",
            result == TaskResult::Completed,
            3_100,
        )],
        commits: vec!["a1b2c3d Task".to_string()],
        e2e: None,
        findings: Vec::new(),
        problems: Vec::new(),
        denials: Vec::new(),
    }
}

/// Two tasks: the first passes at once, the second fails a gate, is sent back and then passes.
fn run_events() -> Vec<Event> {
    let s = |text: &str| text.to_string();
    let mut task1 = summary(
        "1.1",
        "Greeting module",
        TaskResult::Completed,
        1,
        41_000,
        totals(0.1234, 12_000, 800),
    );
    task1.denials = vec![Denial {
        call: s("Read(/home/ann/.ssh/id_rsa)"),
        explanation: s(
            "reading `/home/ann/.ssh/id_rsa` was refused; `~/.ssh` holds credentials, always hidden from the agent; no setting shows it",
        ),
    }];
    let task2 = summary(
        "1.2",
        "Farewell module",
        TaskResult::Completed,
        2,
        95_000,
        totals(0.25, 30_000, 2_000),
    );
    let mut events = first_task_events(&task1);
    events.extend(second_task_events(&task1, &task2));
    events
}

/// The run's start and task 1.1, which passes at once.
fn first_task_events(task1: &TaskSummary) -> Vec<Event> {
    let s = |text: &str| text.to_string();
    vec![
        event(
            0,
            EventKind::RunStarted(RunStart {
                milestone: s("M1"),
                plan: s("M1_greeter.md"),
                handoff: s("HANDOFF_M1.md"),
                state_dir: s("/home/ann/greeter/.kmilestone/M1"),
                header: Header {
                    name: s("M1 - Greeter"),
                    task_count: 2,
                    completed: Vec::new(),
                    start: Some(s("1.1")),
                },
                notes: Vec::new(),
                tasks: vec![s("1.1"), s("1.2")],
                agent: s("claude"),
                permission: Permission::ClaudeSandbox {
                    writable: vec![s("~/.cache")],
                    network: vec![s("pypi.org")],
                    project_rules: vec![ProjectRules {
                        file: s(".claude/settings.local.json"),
                        allow: Ok(45),
                    }],
                },
                gates: vec![s("make test-unit"), s("make e2e")],
                gate_sandbox: GateSandbox {
                    description: s(
                        "sandbox: Landlock ABI 7: writes in the repository, caches and a private temp dir only, secret paths and variables hidden; no network (own namespace)",
                    ),
                    unsandboxed: vec![s("make e2e")],
                },
                caps: CapsInfo::default(),
            }),
        ),
        event(
            10,
            EventKind::TaskStarted {
                id: s("1.1"),
                title: s("Greeting module"),
                task_type: s("CODING"),
                leftovers: None,
            },
        ),
        event(
            12,
            EventKind::AttemptStarted {
                id: s("1.1"),
                attempt: 1,
                resume: None,
                command: s("claude -p --output-format stream-json"),
            },
        ),
        event(
            900,
            agent(
                "1.1",
                AgentEvent::Started {
                    session_id: s("5f1c"),
                    model: Some(s("claude-sonnet")),
                },
            ),
        ),
        event(
            4_000,
            agent(
                "1.1",
                AgentEvent::Text {
                    text: s("I'll start with the module. Then the tests."),
                },
            ),
        ),
        event(
            9_000,
            agent("1.1", tool("Write", "/home/ann/greeter/src/greet.rs")),
        ),
        event(
            9_100,
            agent(
                "1.1",
                AgentEvent::ToolResult {
                    is_error: false,
                    summary: s("ok"),
                },
            ),
        ),
        event(21_000, agent("1.1", tool("Bash", "make test-unit"))),
        event(
            30_000,
            agent(
                "1.1",
                AgentEvent::Finished(Finished {
                    is_error: false,
                    subtype: s("success"),
                    result: s("Done."),
                    cost_usd: Some(0.1234),
                    usage: Usage::default(),
                    turns: Some(5),
                    permission_denials: Vec::new(),
                    api_error_status: None,
                }),
            ),
        ),
        event(
            30_100,
            EventKind::AttemptFinished {
                id: s("1.1"),
                attempt: 1,
                end: AttemptEnd::Result {
                    is_error: false,
                    subtype: s("success"),
                },
                session_id: Some(s("5f1c")),
                duration_ms: 30_088,
                stderr_tail: String::new(),
            },
        ),
        event(
            30_200,
            EventKind::GateStarted {
                id: s("1.1"),
                command: s("make test-unit"),
            },
        ),
        event(
            33_300,
            EventKind::GateFinished {
                id: s("1.1"),
                gate: gate("make test-unit", true, 3_100),
                output_tail: String::new(),
            },
        ),
        event(
            33_500,
            EventKind::CheckFinished {
                id: s("1.1"),
                files: 1,
                findings: Vec::new(),
            },
        ),
        event(41_010, EventKind::TaskFinished(task1.clone())),
    ]
}

/// Task 1.2, which fails a gate, is sent back and passes, and the run's end.
fn second_task_events(task1: &TaskSummary, task2: &TaskSummary) -> Vec<Event> {
    let s = |text: &str| text.to_string();
    vec![
        event(
            41_020,
            EventKind::TaskStarted {
                id: s("1.2"),
                title: s("Farewell module"),
                task_type: s("CODING"),
                leftovers: None,
            },
        ),
        event(
            41_030,
            EventKind::AttemptStarted {
                id: s("1.2"),
                attempt: 1,
                resume: None,
                command: s("claude -p"),
            },
        ),
        event(52_000, agent("1.2", tool("Edit", "src/lib.rs"))),
        event(
            70_000,
            EventKind::AttemptFinished {
                id: s("1.2"),
                attempt: 1,
                end: AttemptEnd::Result {
                    is_error: false,
                    subtype: s("success"),
                },
                session_id: Some(s("77aa")),
                duration_ms: 28_970,
                stderr_tail: String::new(),
            },
        ),
        event(
            70_100,
            EventKind::GateStarted {
                id: s("1.2"),
                command: s("make test-unit"),
            },
        ),
        event(
            72_200,
            EventKind::GateFinished {
                id: s("1.2"),
                gate: gate("make test-unit", false, 2_100),
                output_tail: s("FAILED test_bye"),
            },
        ),
        event(
            72_300,
            EventKind::VerificationFailed {
                id: s("1.2"),
                attempt: 1,
                problems: vec![Problem::GateFailed {
                    command: s("make test-unit"),
                    failure: GateFailure::Exited { code: 2 },
                    output_tail: s("FAILED test_bye"),
                }],
                retrying: true,
            },
        ),
        event(
            72_400,
            EventKind::AttemptStarted {
                id: s("1.2"),
                attempt: 2,
                resume: Some(s("77aa")),
                command: s("claude -p --resume 77aa"),
            },
        ),
        event(80_000, agent("1.2", tool("Edit", "tests/bye.rs"))),
        event(
            90_000,
            EventKind::AttemptFinished {
                id: s("1.2"),
                attempt: 2,
                end: AttemptEnd::Result {
                    is_error: false,
                    subtype: s("success"),
                },
                session_id: Some(s("77aa")),
                duration_ms: 17_600,
                stderr_tail: String::new(),
            },
        ),
        event(
            90_100,
            EventKind::GateStarted {
                id: s("1.2"),
                command: s("make test-unit"),
            },
        ),
        event(
            93_200,
            EventKind::GateFinished {
                id: s("1.2"),
                gate: gate("make test-unit", true, 3_100),
                output_tail: String::new(),
            },
        ),
        event(
            93_300,
            EventKind::CheckFinished {
                id: s("1.2"),
                files: 1,
                findings: Vec::new(),
            },
        ),
        event(136_020, EventKind::TaskFinished(task2.clone())),
        event(
            136_100,
            EventKind::RunFinished(RunEnd {
                outcome: RunOutcome::Complete,
                finished_at: s("2026-11-26T11:42:16Z"),
                tasks: vec![task1.clone(), task2.clone()],
                totals: totals(0.3734, 42_000, 2_800),
                milestone: MilestoneSummary {
                    name: s("M1 - Greeter"),
                    pr_title: s("M1: Greeter"),
                    handoff: s("HANDOFF_M1.md"),
                    complete: true,
                    tasks: [task1.clone(), task2.clone()]
                        .into_iter()
                        .map(|record| MilestoneTask {
                            id: record.id.clone(),
                            title: record.title.clone(),
                            validation: false,
                            complete: true,
                            record: Some(record),
                        })
                        .collect(),
                    gates: vec![s("make test-unit")],
                    totals: totals(0.3734, 42_000, 2_800),
                    caps: CapsInfo::default(),
                },
            }),
        ),
    ]
}

fn options(tty: bool) -> TerminalOptions {
    TerminalOptions {
        color: false,
        quiet: false,
        verbose: false,
        tty,
        root: Some("/home/ann/greeter".to_string()),
        started: std::time::Instant::now(),
    }
}

fn render(events: &[Event], options: TerminalOptions) -> String {
    let mut terminal = Terminal::new(Vec::new(), options);
    for event in events {
        terminal.emit(event);
    }
    String::from_utf8(terminal.into_inner()).unwrap()
}

#[test]
fn plain_view_is_one_line_per_event_that_matters_without_control_characters() {
    let out = render(&run_events(), options(false));
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    insta::assert_snapshot!("plain", out);
}

#[test]
fn on_a_terminal_the_permanent_lines_leave_the_agent_activity_to_the_status_line() {
    // The status line itself is drawn by indicatif on the real terminal (a test's stdout is
    // none); the permanent lines are the log's without the tool calls.
    let out = render(&run_events(), options(true));
    assert!(!out.contains("· Write"), "{out}");
    assert!(out.contains("✓ Task 1.1 complete (1 attempt, 41.0s, $0.1234, 12800 tokens)\n"));
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
}

fn live() -> Live {
    Live {
        id: "1.1".to_string(),
        title: "Greeting module".to_string(),
        started_ms: 1_000,
        attempt: 1,
        activity: "Write src/greet.rs".to_string(),
        gate: None,
    }
}

#[test]
fn the_status_line_tells_the_task_its_clock_the_attempt_and_what_runs() {
    assert_eq!(
        status_text(&live(), 66_000, 80, &Redactor::default()),
        "1.1 Greeting module · 1:05 · Write src/greet.rs"
    );
    assert_eq!(
        status_text(&live(), 3_727_000, 80, &Redactor::default()),
        "1.1 Greeting module · 1:02:06 · Write src/greet.rs"
    );
    let gate = Live {
        attempt: 2,
        gate: Some(("make test-unit".to_string(), 60_000)),
        ..live()
    };
    assert_eq!(
        status_text(&gate, 63_500, 80, &Redactor::default()),
        "1.1 Greeting module · 1:02 · attempt 2 · gate make test-unit (0:03)"
    );
    // Cut to the terminal's width, with room for the spinner.
    let cut = status_text(&gate, 63_500, 30, &Redactor::default());
    assert_eq!(cut, "1.1 Greeting module · 1:02…");
    assert_eq!(cut.chars().count(), 27);
}

#[test]
fn a_question_is_shown_with_its_numbered_options() {
    let mut events = run_events()[..6].to_vec();
    events.push(event(
        7_000,
        EventKind::Question {
            id: "1.1".to_string(),
            question: Question {
                text: "Which greeting?".to_string(),
                options: vec!["Hello".to_string(), "Hi".to_string()],
                recommendation: Some("Hello".to_string()),
            },
            session_id: "5f1c".to_string(),
        },
    ));
    let out = render(&events, options(true));
    assert!(
        out.ends_with(
            "\n? The agent asks (task 1.1):\n  Which greeting?\n  Options:\n    1. Hello\n    2. Hi\n  Recommendation: Hello\n"
        ),
        "{out}"
    );
}

#[test]
fn quiet_keeps_the_header_and_results_and_verbose_adds_agent_activity() {
    let quiet = render(
        &run_events(),
        TerminalOptions {
            quiet: true,
            ..options(false)
        },
    );
    assert!(!quiet.contains("· Write src/greet.rs"), "{quiet}");
    assert!(!quiet.contains("Agent: claude"), "{quiet}");
    assert!(
        quiet.contains("✓ Task 1.1 complete (1 attempt, 41.0s, $0.1234, 12800 tokens)"),
        "{quiet}"
    );
    let verbose = render(
        &run_events(),
        TerminalOptions {
            verbose: true,
            ..options(true)
        },
    );
    assert!(verbose.contains("  · Then the tests.\n"), "{verbose}");
    assert!(
        verbose.contains("  $ claude -p --resume 77aa\n"),
        "{verbose}"
    );
}

#[test]
fn colour_only_when_asked() {
    let coloured = render(
        &run_events(),
        TerminalOptions {
            color: true,
            ..options(false)
        },
    );
    assert!(
        coloured.contains("\x1b[32m✓ Task 1.1 complete"),
        "{coloured:?}"
    );
    let plain = render(&run_events(), options(false));
    assert!(!plain.contains('\x1b'));
}

#[test]
fn last_sentence_of_agent_text() {
    let cases = [
        (
            "I'll write the module. Then run the tests.",
            Some("Then run the tests."),
        ),
        (
            "First line.\n\nAll 12 tests pass!",
            Some("All 12 tests pass!"),
        ),
        ("Version 1.2 is out", Some("Version 1.2 is out")),
        ("Done. ", Some("Done.")),
        ("\n  \n", None),
    ];
    for (text, expected) in cases {
        assert_eq!(last_sentence(text).as_deref(), expected, "{text:?}");
    }
}

#[test]
fn secrets_are_redacted_on_screen_even_where_a_line_is_cut() {
    const SECRET: &str = "deploy-secret-0123456789";
    let vars = [("DEPLOY_TOKEN".to_string(), SECRET.to_string())];
    let redactor = Redactor::from_vars(vars, |name| name.ends_with("_TOKEN"), &[]);
    let s = |text: &str| text.to_string();
    let mut events = run_events()[..3].to_vec();
    // The token straddles the 100th character, where agent text is cut.
    let long = format!("{} {SECRET} and then more words.", "x".repeat(90));
    events.push(event(4_000, agent("1.1", AgentEvent::Text { text: long })));
    events.push(event(
        5_000,
        agent(
            "1.1",
            AgentEvent::ToolResult {
                is_error: true,
                summary: s("fatal: -----BEGIN RSA PRIVATE KEY-----"),
            },
        ),
    ));
    events.push(event(
        30_100,
        EventKind::AttemptFinished {
            id: s("1.1"),
            attempt: 1,
            end: AttemptEnd::NoResult { exit: s("exit 1") },
            session_id: None,
            duration_ms: 29_000,
            stderr_tail: format!(
                "auth {SECRET}\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n"
            ),
        },
    ));
    events.push(event(
        40_000,
        EventKind::VerificationFailed {
            id: s("1.1"),
            attempt: 1,
            problems: vec![Problem::GateFailed {
                command: s("make test-unit"),
                failure: GateFailure::Exited { code: 1 },
                output_tail: format!("token xoxb-1234567890-abcdefghij\n{SECRET}"),
            }],
            retrying: true,
        },
    ));
    let options = TerminalOptions {
        verbose: true,
        color: true,
        ..options(false)
    };
    let mut terminal = Terminal::new(Vec::new(), options).with_redactor(redactor);
    for event in &events {
        terminal.emit(event);
    }
    let out = String::from_utf8(terminal.into_inner()).unwrap();
    for leak in ["deploy-se", "xoxb-", "MIIEow"] {
        assert!(!out.contains(leak), "{leak} shown: {out}");
    }
    assert!(out.contains("    auth [REDACTED:DEPLOY_TOKEN]\n"), "{out}");
    assert!(out.contains("[REDACTED:private-key]"), "{out}");
    assert!(out.contains("token [REDACTED:slack-token]"), "{out}");
    assert!(
        out.contains(&format!("  · {} [REDACTED", "x".repeat(90))),
        "{out}"
    );
}
