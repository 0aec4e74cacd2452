//! The terminal view rendered into a string from a made-up run, for a terminal and for a log.

use super::*;
use crate::agent::{Finished, Usage};
use crate::events::{TaskSummary, Totals};
use crate::state::GateRecord;

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
    }
}

/// Two tasks: the first passes at once, the second fails a gate, is sent back and then passes.
fn run_events() -> Vec<Event> {
    let s = |text: &str| text.to_string();
    let task1 = summary(
        "1.1",
        "Greeting module",
        TaskResult::Completed,
        1,
        41_000,
        totals(0.1234, 12_000, 800),
    );
    let task2 = summary(
        "1.2",
        "Farewell module",
        TaskResult::Completed,
        2,
        95_000,
        totals(0.25, 30_000, 2_000),
    );
    vec![
        event(
            0,
            EventKind::RunStarted {
                milestone: s("M1"),
                name: s("Greeter"),
                plan: s("M1_greeter.md"),
                handoff: s("HANDOFF_M1.md"),
                header: vec![
                    s("Milestone: M1 - Greeter (2 tasks)"),
                    s("Completed: (none - fresh start)"),
                    s("Starting from: 1.1"),
                ],
                notes: Vec::new(),
                tasks: vec![s("1.1"), s("1.2")],
                agent: s("claude"),
                permission: s("default"),
                gates: vec![s("make test-unit")],
            },
        ),
        event(
            10,
            EventKind::TaskStarted {
                id: s("1.1"),
                title: s("Greeting module"),
                task_type: s("CODING"),
                note: None,
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
                high: 0,
            },
        ),
        event(41_010, EventKind::TaskFinished(task1.clone())),
        event(
            41_020,
            EventKind::TaskStarted {
                id: s("1.2"),
                title: s("Farewell module"),
                task_type: s("CODING"),
                note: None,
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
                problems: vec![s(
                    "gate `make test-unit` failed with exit code 2:\nFAILED test_bye",
                )],
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
                high: 0,
            },
        ),
        event(136_020, EventKind::TaskFinished(task2.clone())),
        event(
            136_100,
            EventKind::RunFinished {
                exit_code: 0,
                outcome: s("complete"),
                tasks: vec![task1, task2],
                totals: totals(0.3734, 42_000, 2_800),
                summary: Some(s(
                    "## Milestone Complete: M1 - Greeter\n\n**Tasks completed:** 2/2",
                )),
                message: None,
            },
        ),
    ]
}

fn options(tty: bool) -> TerminalOptions {
    TerminalOptions {
        color: false,
        quiet: false,
        verbose: false,
        tty,
        width: 60,
        root: Some("/home/ann/greeter".to_string()),
    }
}

fn render(events: &[Event], options: TerminalOptions) -> String {
    let mut terminal = Terminal::new(Vec::new(), options);
    for event in events {
        terminal.emit(event);
    }
    String::from_utf8(terminal.into_inner()).unwrap()
}

/// What a terminal shows at the end (permanent lines plus the status line, if one is left), and
/// each status line drawn on the way, in order.
fn screen_and_frames(raw: &str) -> (String, Vec<String>) {
    let mut screen = String::new();
    let mut frames = Vec::new();
    let mut segments = raw.split(ERASE);
    screen.push_str(segments.next().unwrap_or_default());
    let mut status = String::new();
    for segment in segments {
        if segment.contains('\n') {
            screen.push_str(segment);
            status.clear();
        } else if !segment.is_empty() {
            frames.push(segment.to_string());
            status = segment.to_string();
        } else {
            status.clear();
        }
    }
    screen.push_str(&status);
    (screen, frames)
}

#[test]
fn plain_view_is_one_line_per_event_that_matters_without_control_characters() {
    let out = render(&run_events(), options(false));
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    insta::assert_snapshot!("plain", out);
}

#[test]
fn terminal_view_redraws_one_status_line_below_the_permanent_lines() {
    let raw = render(&run_events(), options(true));
    let (screen, frames) = screen_and_frames(&raw);
    // Nothing but the erase sequence controls the screen; the run ends with the line cleared.
    assert!(
        !raw.replace(ERASE, "")
            .chars()
            .any(|c| c.is_control() && c != '\n'),
        "{raw:?}"
    );
    assert!(raw.ends_with(ERASE) || raw.ends_with('\n'), "{raw:?}");
    assert!(frames.iter().all(|f| f.chars().count() < 60), "{frames:#?}");
    insta::assert_snapshot!("tty_screen", screen);
    insta::assert_snapshot!("tty_status_lines", frames.join("\n"));
}

#[test]
fn the_status_line_clock_moves_with_ticks_between_events() {
    let events = run_events();
    let mut terminal = Terminal::new(Vec::new(), options(true));
    for event in &events[..6] {
        terminal.emit(event);
    }
    terminal.tick(65_000);
    terminal.tick(3_726_000);
    let raw = String::from_utf8(terminal.into_inner()).unwrap();
    let (screen, frames) = screen_and_frames(&raw);
    assert_eq!(
        &frames[frames.len() - 2..],
        [
            "⠧ 1.1 Greeting module · 1:04 · Write src/greet.rs",
            "⠇ 1.1 Greeting module · 1:02:05 · Write src/greet.rs",
        ]
    );
    assert!(
        screen.ends_with("▶ Task 1.1: Greeting module [CODING]\n⠇ 1.1 Greeting module · 1:02:05 · Write src/greet.rs"),
        "{screen}"
    );
}

#[test]
fn a_question_takes_the_status_line_off_while_the_user_answers() {
    let mut events = run_events()[..6].to_vec();
    events.push(event(
        7_000,
        EventKind::Question {
            id: "1.1".to_string(),
            question: crate::agent::Question {
                text: "Which greeting?".to_string(),
                options: vec!["Hello".to_string(), "Hi".to_string()],
                recommendation: None,
            },
            session_id: "5f1c".to_string(),
        },
    ));
    let raw = render(&events, options(true));
    let (screen, _) = screen_and_frames(&raw);
    assert!(screen.ends_with("    2. Hi\n"), "{screen}");
    assert!(
        raw.ends_with("    2. Hi\n"),
        "nothing drawn after the question: {raw:?}"
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
            tty: true,
            ..options(true)
        },
    );
    let (screen, _) = screen_and_frames(&verbose);
    assert!(screen.contains("  · Then the tests.\n"), "{screen}");
    assert!(screen.contains("  $ claude -p --resume 77aa\n"), "{screen}");
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
fn clock_formats() {
    assert_eq!(clock(0), "0:00");
    assert_eq!(clock(59_999), "0:59");
    assert_eq!(clock(61_000), "1:01");
    assert_eq!(clock(3_600_000), "1:00:00");
}
