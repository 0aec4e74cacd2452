//! Table tests of the handoff reader and of where a run resumes.

use std::path::Path;

use super::*;
use crate::plan::progress::{Progress, TaskStatus};

fn plan() -> Plan {
    Plan::parse(
        Path::new("M4_workers.md"),
        "# Milestone 4: Workers\n\n## Task 4.1: a\n## Task 4.2: b\n## Task 4.3: c\n## Task 4.4: d\n## Task 4.5: e\n",
    )
    .unwrap()
}

fn complete_and_blocked(handoff: &str) -> (Vec<String>, Vec<String>, Vec<String>, Option<String>) {
    let plan = plan();
    let progress = Progress::compute(&plan, &Handoff::parse(handoff, &plan));
    (
        progress.completed,
        progress.unknown_completed,
        progress.blocked,
        progress.next,
    )
}

#[test]
fn completion_forms() {
    let cases: &[(&str, &[&str])] = &[
        ("## Task 4.1 Complete: Settings model", &["4.1"]),
        ("## Task 4.1 Complete", &["4.1"]),
        ("### Task 4.1 Completed", &["4.1"]),
        ("# Task 4.1 done", &["4.1"]),
        ("## Task 4.1 COMPLETE", &["4.1"]),
        ("## Task 4.1: Complete", &["4.1"]),
        ("## Task 4.1 — Done ✅", &["4.1"]),
        ("## ✅ Task 4.1 Complete", &["4.1"]),
        ("## **Task 4.1 Complete**", &["4.1"]),
        ("## M4 Task 4.1 Complete", &["4.1"]),
        ("## M4: Task 4.1 Complete", &["4.1"]),
        ("## Task 4.1 & 4.2 Complete", &["4.1", "4.2"]),
        ("## Task 4.1, 4.2 and 4.3 Completed", &["4.1", "4.2", "4.3"]),
        ("## Tasks 4.2-4.4 Complete", &["4.2", "4.3", "4.4"]),
        ("## Tasks 4.2 – 4.4 Complete", &["4.2", "4.3", "4.4"]),
        ("## Tasks 4.1 to 4.3 done", &["4.1", "4.2", "4.3"]),
        // A backwards range takes its two ends only.
        ("## Tasks 4.4-4.2 Complete", &["4.2", "4.4"]),
        ("Task 4.1 Complete\n---", &["4.1"]),
        ("##\tTask 4.1 Complete\t", &["4.1"]),
        ("\u{feff}## Task 4.1 Complete", &["4.1"]),
        (
            "## Task 4.1 Complete\r\n\r\n## Task 4.2 Complete\r\n",
            &["4.1", "4.2"],
        ),
    ];
    for (handoff, expected) in cases {
        let (completed, unknown, _, _) = complete_and_blocked(handoff);
        assert_eq!(completed, *expected, "{handoff:?}");
        assert!(unknown.is_empty(), "{handoff:?}");
    }
}

#[test]
fn headings_that_complete_nothing() {
    let cases = [
        "## Task 4.3: N/A",
        "## Task 4.1: Settings model",
        "## Task 4.1 Completely rewritten",
        "## Task 4.1 Incomplete",
        "## Task 4.1 not complete",
        "## Notes on Task 4.1 Complete",
        "Task 4.1 Complete (a paragraph, not a heading)",
        "```\n## Task 4.1 Complete\n```",
        "~~~markdown\n## Task 4.1 Complete\n~~~",
        "    ## Task 4.1 Complete",
        "<!--\n## Task 4.1 Complete\n-->",
    ];
    for handoff in cases {
        let (completed, unknown, blocked, next) = complete_and_blocked(handoff);
        assert!(completed.is_empty(), "{handoff:?}: {completed:?}");
        assert!(unknown.is_empty() && blocked.is_empty(), "{handoff:?}");
        assert_eq!(next.as_deref(), Some("4.1"), "{handoff:?}");
    }
}

#[test]
fn unknown_ids_are_reported_once_in_handoff_order() {
    let (completed, unknown, _, next) = complete_and_blocked(
        "## Task 4.9 Complete\n## Task 4.1 Complete\n## M2 Task 2.1 Complete\n## Task 4.9 Done\n",
    );
    assert_eq!(completed, vec!["4.1"]);
    assert_eq!(unknown, vec!["4.9", "2.1"]);
    assert_eq!(next.as_deref(), Some("4.2"));
}

#[test]
fn blocked_marks() {
    let plan = plan();
    let handoff = Handoff::parse(
        "## Task 4.1 Complete\n\n## Task 4.2 BLOCKED: waiting for E2E env\n",
        &plan,
    );
    let mark = handoff.blocked_mark("4.2").expect("4.2 blocked");
    assert_eq!(mark.line, 3);
    assert_eq!(mark.heading, "Task 4.2 BLOCKED: waiting for E2E env");
    assert!(handoff.blocked_mark("4.1").is_none());
    assert!(handoff.is_complete("4.1") && !handoff.is_complete("4.2"));
    let progress = Progress::compute(&plan, &handoff);
    assert_eq!(progress.blocked, vec!["4.2"]);
    assert_eq!(progress.next.as_deref(), Some("4.2"));
    assert_eq!(
        progress.statuses,
        vec![
            TaskStatus::Complete,
            TaskStatus::Blocked,
            TaskStatus::Pending,
            TaskStatus::Pending,
            TaskStatus::Pending
        ]
    );

    // Completed later: complete wins, the block is history.
    let (completed, _, blocked, next) =
        complete_and_blocked("## Task 4.1 blocked: env\n## Task 4.1 Complete\n");
    assert_eq!((completed, blocked), (vec!["4.1".to_string()], vec![]));
    assert_eq!(next.as_deref(), Some("4.2"));
}

#[test]
fn resume_rule_next_gap_and_all_done() {
    let plan = plan();
    let cases: &[(&str, Option<&str>, &[&str])] = &[
        ("", Some("4.1"), &[]),
        (
            "## Task 4.1 Complete\n## Task 4.2 Complete\n",
            Some("4.3"),
            &[],
        ),
        (
            "## Task 4.1 Complete\n## Task 4.3 Complete\n## Task 4.5 Complete\n",
            Some("4.2"),
            &["4.3", "4.5"],
        ),
        ("## Tasks 4.1-4.5 Complete\n", None, &[]),
    ];
    for (handoff, next, gap) in cases {
        let progress = Progress::compute(&plan, &Handoff::parse(handoff, &plan));
        assert_eq!(progress.next.as_deref(), *next, "{handoff:?}");
        assert_eq!(progress.complete_after_next, *gap, "{handoff:?}");
        assert_eq!(
            progress.gap_note().is_some(),
            !gap.is_empty(),
            "{handoff:?}"
        );
    }
    let progress = Progress::compute(
        &plan,
        &Handoff::parse("## Task 4.1 Complete\n## Task 4.3 Complete\n", &plan),
    );
    assert_eq!(
        progress.gap_note().as_deref(),
        Some("Handoff gap: 4.3 marked complete but 4.2 is not; starting at 4.2")
    );
}

#[test]
fn location_rules() {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("M4_workers.md");
    // Neither exists: HANDOFF_<ID>.md, which the first task creates.
    assert_eq!(locate(&plan_path, "M4"), dir.path().join("HANDOFF_M4.md"));
    std::fs::write(dir.path().join("HANDOFF_M4.md"), "").unwrap();
    assert_eq!(locate(&plan_path, "M4"), dir.path().join("HANDOFF_M4.md"));
    // HANDOFF_<stem>.md wins when it exists.
    std::fs::write(dir.path().join("HANDOFF_M4_workers.md"), "").unwrap();
    assert_eq!(
        locate(&plan_path, "M4"),
        dir.path().join("HANDOFF_M4_workers.md")
    );
    // A bare file name looks beside it, in the current directory.
    assert_eq!(
        locate(Path::new("M2_x.md"), "M2"),
        Path::new("HANDOFF_M2.md")
    );
}

#[test]
fn sections_between_thematic_breaks_count() {
    // `---` right before a heading is a thematic break, not the start of front matter.
    let (completed, _, _, next) = complete_and_blocked(
        "# Handoff\n\n## Task 4.1 Complete\nnotes\n\n---\n## Task 4.2 Complete\nmore\n\n---\n## Task 4.3 Complete\n",
    );
    assert_eq!(completed, vec!["4.1", "4.2", "4.3"]);
    assert_eq!(next.as_deref(), Some("4.4"));
}

/// (handoff, the note about a handoff that marks no task).
#[test]
fn a_handoff_that_marks_no_task_says_what_its_headings_look_like() {
    let plan = plan();
    let cases: &[(&str, Option<&str>)] = &[
        (
            "# Handoff: M4\n\n## Orchestrator Shell Complete\n\nNotes.\n",
            Some(
                "Handoff marks no task complete: none of its headings reads like `## Task 4.1 Complete` (its headings: line 3 `## Orchestrator Shell Complete`)",
            ),
        ),
        // Sections at the top level below the title; subsections and the title are left out.
        (
            "# Handoff\n\n## Gotchas\n\n### Ports\n\n## Patterns\n\n## Next\n\n## Testing\n\n## More\n",
            Some(
                "Handoff marks no task complete: none of its headings reads like `## Task 4.1 Complete` (its headings: line 3 `## Gotchas`, line 7 `## Patterns`, line 9 `## Next` and 2 more)",
            ),
        ),
        // Headings that only name tasks (a ✅ is no completion word).
        (
            "## Task 4.1: Settings model ✅\n",
            Some(
                "Handoff marks no task complete: none of its headings reads like `## Task 4.1 Complete` (its headings: line 1 `## Task 4.1: Settings model ✅`)",
            ),
        ),
        (
            "# Handoff\n",
            Some(
                "Handoff marks no task complete: none of its headings reads like `## Task 4.1 Complete` (its headings: line 1 `# Handoff`)",
            ),
        ),
        (
            "Prose only: tasks 4.1 and 4.2 are done.\n",
            Some(
                "Handoff marks no task complete: it has no headings, and a task counts as complete only under a heading such as `## Task 4.1 Complete`",
            ),
        ),
        // Nothing to say: an empty file, any mark (blocked or of an unknown task).
        ("", None),
        ("\n  \n", None),
        ("## Task 4.1 Complete\n", None),
        ("## Task 4.2 BLOCKED: env\n", None),
        ("## Task 9.9 Complete\n", None),
    ];
    for (text, expected) in cases {
        let progress = Progress::compute(&plan, &Handoff::parse(text, &plan));
        assert_eq!(progress.unmarked_note().as_deref(), *expected, "{text:?}");
    }
    // A missing handoff is a fresh start with nothing to say.
    assert_eq!(
        Progress::compute(&plan, &Handoff::default()).unmarked_note(),
        None
    );
    let progress = Progress::compute(&plan, &Handoff::parse("x\n\n## A\n", &plan));
    assert_eq!(progress.unmarked_handoff.unwrap().line(), 3);
}
