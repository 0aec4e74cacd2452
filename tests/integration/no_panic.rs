//! No input makes the readers panic: arbitrary bytes and strings, and markdown-ish text built
//! from the pieces real plans and handoffs are made of.

use std::path::Path;

use kmilestone::plan::Plan;
use kmilestone::plan::handoff::Handoff;
use kmilestone::plan::input::{InputError, read_text_file};
use kmilestone::plan::progress::Progress;
use proptest::prelude::*;

const PIECES: &[&str] = &[
    "# ",
    "## ",
    "### ",
    "#### ",
    "##### ",
    "#",
    "Task ",
    "Tasks ",
    "task ",
    "M2 ",
    "1.1",
    "4.5.1",
    "3b.1",
    "4.1b",
    "5.0",
    "0",
    ": ",
    " — ",
    " – ",
    " - ",
    "-",
    " & ",
    ", ",
    " and ",
    " to ",
    "Complete",
    "Completed",
    "done",
    "BLOCKED",
    "N/A",
    "Title",
    "**",
    "*",
    "_",
    "`",
    "```",
    "```markdown",
    "```bash",
    "````",
    "~~~",
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    "\t",
    "    ",
    "   ",
    "<div>",
    "</div>",
    "<!--",
    "-->",
    "> ",
    "- ",
    "1. ",
    "- [ ] ",
    "- [x] ",
    "**Type:**",
    "**Type**:",
    " CODING",
    "**Acceptance Criteria:**",
    "**Success Criteria:**",
    "### Success Criteria",
    "## ⚠️ CRITICAL ⚠️",
    "# M4: ",
    "---\ndesign: ../DESIGN.md\n---\n",
    "**File(s):**",
    "**Depends on:**",
    "---\n",
    "===\n",
    "design: x.md\n",
    "\u{feff}",
    "é",
    "\u{200b}",
    "🦀",
    "[",
    "]",
    "(",
    ")",
    "\\",
    "|",
    "\0",
];

fn markdownish() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..80).prop_map(|pieces| pieces.concat())
}

/// Parses a plan and, when it has tasks, a handoff against it, checking what must always hold.
fn check(plan_text: &str, handoff_text: &str) {
    let path = Path::new("M4_workers.md");
    let diagnosis = Plan::diagnose(path, plan_text);
    for task in &diagnosis.plan.tasks {
        assert!(task.line >= 1 && (2..=4).contains(&task.level));
        assert!(
            task.body
                .starts_with(|c: char| c == '#' || c.is_whitespace())
        );
    }
    let mut ids: Vec<_> = diagnosis.plan.tasks.iter().map(|t| &t.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), diagnosis.plan.tasks.len(), "task IDs are unique");
    assert!(
        diagnosis
            .plan
            .warnings
            .windows(2)
            .all(|w| w[0].line <= w[1].line)
    );
    let lines = plan_text.split('\n').count();
    assert!(
        diagnosis
            .plan
            .warnings
            .iter()
            .all(|w| w.line >= 1 && w.line <= lines)
    );
    let hidden = &diagnosis.plan.hidden_tasks;
    assert!(hidden.windows(2).all(|h| h[0].line < h[1].line));
    for task in hidden {
        assert!(task.fence_line < task.line && task.line <= lines);
        assert!(task.message.contains(&format!("task {}", task.id)));
        assert!(diagnosis.plan.tasks.iter().all(|t| t.line != task.line));
    }
    if let Some(err) = diagnosis.plan.hidden_tasks_error() {
        assert_eq!(err.to_string().lines().count(), hidden.len());
    }
    match Plan::parse(path, plan_text) {
        Ok(plan) => {
            assert!(!plan.tasks.is_empty());
            let handoff = Handoff::parse(handoff_text, &plan);
            let progress = Progress::compute(&plan, &handoff);
            assert_eq!(progress.statuses.len(), plan.tasks.len());
            if let Some(next) = &progress.next {
                assert!(plan.task(next).is_some());
            }
            progress.gap_note();
            if progress.unmarked_note().is_some() {
                assert!(handoff.marks.is_empty() && progress.completed.is_empty());
            }
        }
        Err(err) => {
            assert!(!diagnosis.errors.is_empty());
            err.to_string();
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_strings(plan in any::<String>(), handoff in any::<String>()) {
        check(&plan, &handoff);
    }

    #[test]
    fn markdownish_text(plan in markdownish(), handoff in markdownish()) {
        check(&plan, &handoff);
    }

    #[test]
    fn markdownish_with_a_valid_task_first(rest in markdownish(), handoff in markdownish()) {
        check(&format!("## Task 1.1: First\n{rest}"), &handoff);
    }

    #[test]
    fn arbitrary_bytes_read_as_utf8_or_refused_with_the_line(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("M1_x.md");
        std::fs::write(&path, &bytes).unwrap();
        match (read_text_file(&path), std::str::from_utf8(&bytes)) {
            (Ok(text), Ok(expected)) => {
                prop_assert_eq!(text.as_str(), expected);
                check(&text, &text);
                // Loading also looks up the front matter's paths on disk.
                if let Ok(plan) = Plan::load(&path) {
                    prop_assert!(plan.references.iter().all(|r| plan.front_matter.iter().any(|(k, _)| *k == r.key)));
                }
            }
            (Err(InputError::NotUtf8 { line, offset, .. }), Err(err)) => {
                prop_assert_eq!(offset, err.valid_up_to());
                prop_assert_eq!(line, 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count());
            }
            (got, expected) => prop_assert!(false, "read {:?}, expected {:?}", got, expected),
        }
    }
}

/// Fence lines, prose and task headings in any order (every task ID different).
fn fenced_plan() -> impl Strategy<Value = String> {
    let line = prop::sample::select(vec![
        "```",
        "```markdown",
        "```bash",
        "````",
        "````markdown",
        "~~~",
        "~~~md",
        "- item",
        "  ```",
        "text",
        "",
        "task",
    ]);
    prop::collection::vec(line, 0..40).prop_map(|lines| {
        lines
            .iter()
            .enumerate()
            .map(|(i, line)| match *line {
                "task" => format!("## Task 1.{i}: t"),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

proptest! {
    /// Nothing is hidden silently: every task heading at the start of a line is a task, a hidden
    /// task (an error) or the subject of a warning at its line.
    #[test]
    fn every_task_heading_is_read_or_reported(rest in fenced_plan()) {
        let source = format!("## Task 0.1: first\n{rest}\n");
        let plan = Plan::diagnose(Path::new("M1_x.md"), &source).plan;
        for (index, line) in source.lines().enumerate() {
            let number = index + 1;
            if !line.starts_with("## Task") {
                continue;
            }
            let read = plan.tasks.iter().any(|t| t.line == number);
            let hidden = plan.hidden_tasks.iter().any(|h| h.line == number);
            let warned = plan.warnings.iter().any(|w| w.line == number && w.message.contains("is inside"));
            prop_assert!(read || hidden || warned, "line {}: {:?}\n{}", number, line, source);
        }
        // And an error has a cause to show: a fence that cannot nest, or one never closed.
        let misnested = plan.warnings.iter().any(|w| w.message.contains("cannot open a block nested"));
        for hidden in &plan.hidden_tasks {
            prop_assert!(misnested || hidden.message.contains("is never closed"), "{:?}\n{}", hidden, source);
        }
    }
}
