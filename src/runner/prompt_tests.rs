//! The first prompt's layout: stable text first, the task's own last; references as the agent
//! must read them.

use std::path::Path;

use super::*;
use crate::agent::COMMIT_BY_NAME;

/// A repository with a plan in `docs/plans/`, its design one folder up, and a handoff.
fn milestone_in_repo(handoff: &str) -> (tempfile::TempDir, Milestone) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::create_dir_all(root.join("docs/plans")).unwrap();
    std::fs::write(root.join("docs/DESIGN.md"), "# Design\n").unwrap();
    std::fs::write(
        root.join("docs/plans/M2_thing.md"),
        "---\ndesign: ../DESIGN.md\narchitecture: ../ARCH.md\n---\n# M2: Thing\n\n## Task 2.1: First\n\nDo one.\n\n## Task 2.2: Second\n\nDo two.\n",
    )
    .unwrap();
    std::fs::write(root.join("docs/plans/HANDOFF_M2.md"), handoff).unwrap();
    let milestone = Milestone::load(&root.join("docs/plans/M2_thing.md"), None).unwrap();
    (dir, milestone)
}

fn prompt(milestone: &Milestone, id: &str, handoff: &str, root: &Path) -> String {
    let settings = Settings {
        gates: vec!["make test".to_string()],
        ..Settings::default()
    };
    let task = milestone.plan.task(id).unwrap();
    first_prompt(milestone, task, handoff, &settings, root, COMMIT_BY_NAME)
}

#[test]
fn consecutive_prompts_share_the_workflow_and_the_handoff_as_a_prefix() {
    let handoff_1 = "# Handoff\n";
    let (dir, milestone) = milestone_in_repo(handoff_1);
    let first = prompt(&milestone, "2.1", handoff_1, dir.path());
    let handoff_2 = "# Handoff\n\n## Task 2.1 Complete: First\n\nNotes.\n";
    let second = prompt(&milestone, "2.2", handoff_2, dir.path());
    let stable = first.find("## Current Execution State").unwrap();
    let handoff_start = first.find("## Handoff Content").unwrap();
    // Everything before the handoff is the same, and the first prompt's handoff is a prefix of
    // the second's: only the task's own values come after.
    assert_eq!(first[..handoff_start], second[..handoff_start]);
    assert!(second.starts_with(first[..stable].trim_end()), "{second}");
    let workflow = &first[..handoff_start];
    assert!(
        !workflow.contains("2.1") && !workflow.contains("First"),
        "{workflow}"
    );
    assert!(
        first.find("## Current Execution State").unwrap() < first.find("## Current Task").unwrap()
    );
    assert!(first.trim_end().ends_with("Do one."), "{first}");
}

#[test]
fn references_are_given_from_the_repository_root_and_missing_ones_said() {
    let (dir, milestone) = milestone_in_repo("");
    let text = prompt(&milestone, "2.1", "", dir.path());
    assert!(
        text.contains("- Reference (design): docs/DESIGN.md\n"),
        "{text}"
    );
    assert!(
        text.contains("- Reference (architecture): ../ARCH.md (the plan names it, but no such file exists beside the plan or from the repository root)\n"),
        "{text}"
    );
    assert!(
        text.contains("- Milestone: docs/plans/M2_thing.md\n"),
        "the plan file is named: {text}"
    );
}
