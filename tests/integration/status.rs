//! `kmilestone status` on files written to a temp folder.

use serde_json::Value;

use crate::support::Dir;

const PLAN: &str = "# Milestone 4: Worker Settings

## Task 4.1: Settings model
**Type:** CODING

**Acceptance Criteria:**
- [ ] model exists

## Task 4.2: Load settings
**Type**: MIXED

**Acceptance Criteria:**
- [ ] loads

## Task 4.3: Validate
**Type:** VALIDATION

**Acceptance Criteria:**
- [ ] validated

## Task 4.4: Docs
**Type:** RESEARCH

**Acceptance Criteria:**
- [ ] written
";

#[test]
fn resumes_after_the_completed_tasks() {
    let dir = Dir::new();
    dir.write("M4_workers.md", PLAN);
    dir.write(
        "HANDOFF_M4.md",
        "# Handoff\n\n## Task 4.1 Complete: model\n\nNotes.\n\n## Task 4.2 Completed\n",
    );
    let (code, stdout, stderr) = dir.kmilestone(&["status", "M4_workers.md"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "Milestone: M4 - Worker Settings (4 tasks)
Completed: 4.1, 4.2 (from handoff)
Resuming from: 4.3

  done     4.1  Settings model
  done     4.2  Load settings
  next     4.3  Validate
  pending  4.4  Docs

Handoff: HANDOFF_M4.md
"
    );
    assert_eq!(stderr, "");
}

#[test]
fn fresh_start_without_a_handoff_and_with_the_at_prefix() {
    let dir = Dir::new();
    dir.write("M4_workers.md", PLAN);
    let (code, stdout, _) = dir.kmilestone(&["status", "@M4_workers.md"]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with(
            "Milestone: M4 - Worker Settings (4 tasks)\nCompleted: (none - fresh start)\nStarting from: 4.1\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("Handoff: HANDOFF_M4.md (not created yet)\n"),
        "{stdout}"
    );
}

#[test]
fn all_complete_gap_blocked_and_unknown_ids() {
    let dir = Dir::new();
    dir.write("M4_workers.md", PLAN);
    dir.write("HANDOFF_M4.md", "## Tasks 4.1-4.4 Complete\n");
    let (code, stdout, _) = dir.kmilestone(&["status", "M4_workers.md"]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("Milestone: M4 - Worker Settings (4 tasks)\nCompleted: 4.1, 4.2, 4.3, 4.4 (from handoff)\nAll tasks complete\n"),
        "{stdout}"
    );

    dir.write(
        "HANDOFF_M4.md",
        "## Task 4.1 Complete\n\n## Task 4.2 BLOCKED: no test database\n\n## Task 4.3 Complete\n\n## Task 4.9 Complete\n",
    );
    let (code, stdout, _) = dir.kmilestone(&["status", "M4_workers.md"]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with(
            "Milestone: M4 - Worker Settings (4 tasks)
Completed: 4.1, 4.3 (from handoff)
Resuming from: 4.2
Handoff gap: 4.3 marked complete but 4.2 is not; starting at 4.2
Task 4.2 is BLOCKED (HANDOFF_M4.md:3): Task 4.2 BLOCKED: no test database
Complete in the handoff but not in the plan: 4.9
"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("  BLOCKED  4.2  Load settings\n"),
        "{stdout}"
    );
}

#[test]
fn json_object_has_the_contract_fields() {
    let dir = Dir::new();
    let plan = dir.write("M4_workers.md", PLAN);
    let handoff = dir.write(
        "HANDOFF_M4.md",
        "## Task 4.1 Complete\n## Task 4.3 Complete\n## Task 4.4 BLOCKED: x\n## Task 7.7 Complete\n",
    );
    let (code, stdout, stderr) = dir.kmilestone(&["status", "--json", plan.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["milestone"], "M4");
    assert_eq!(json["name"], "M4 - Worker Settings");
    assert_eq!(json["plan"], plan.to_str().unwrap());
    assert_eq!(json["handoff"], handoff.to_str().unwrap());
    let tasks: Vec<_> = json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap(),
                t["title"].as_str().unwrap(),
                t["type"].as_str().unwrap(),
                t["line"].as_u64().unwrap(),
                t["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tasks,
        vec![
            ("4.1", "Settings model", "CODING", 3, "complete"),
            ("4.2", "Load settings", "MIXED", 9, "pending"),
            ("4.3", "Validate", "VALIDATION", 15, "complete"),
            ("4.4", "Docs", "RESEARCH", 21, "blocked"),
        ]
    );
    assert_eq!(json["completed"], serde_json::json!(["4.1", "4.3"]));
    assert_eq!(json["unknown_completed"], serde_json::json!(["7.7"]));
    assert_eq!(json["blocked"], serde_json::json!(["4.4"]));
    assert_eq!(json["next"], "4.2");
    assert_eq!(json["warnings"], serde_json::json!([]));

    // No handoff: null, and a missing type is null too.
    let dir = Dir::new();
    dir.write("M1_x.md", "## Task 1.1: Untyped\n");
    let (_, stdout, _) = dir.kmilestone(&["status", "--json", "M1_x.md"]);
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["handoff"], Value::Null);
    assert_eq!(json["tasks"][0]["type"], Value::Null);
    assert_eq!(json["next"], "1.1");
    assert_eq!(
        json["warnings"],
        serde_json::json!([{
            "level": "warning",
            "file": "M1_x.md",
            "line": 1,
            "message": "task 1.1 has no acceptance criteria"
        }])
    );
}

/// A plan whose `## Task 1.2` a mispaired fence swallows, as real plans have them.
const SWALLOWED: &str = "# Milestone 1: X

## Task 1.1: A
**Acceptance Criteria:** a

```markdown
## Task 9.1: example
```bash
ls
```
```

## Task 1.2: B
**Acceptance Criteria:** b
";

const SWALLOWED_ERROR: &str = "`## Task 1.2: B` is not read as task 1.2: the fence at line 11 (```) opens a code block that hides it; it was meant to close the block opened at line 6 (```markdown), but CommonMark cannot nest a fence inside a block opened by a fence as long, so the fences pair up otherwise; open that block with a longer fence (````markdown at line 6, closed by ```` at line 11)";

#[test]
fn a_swallowed_task_is_an_error_line_but_status_reads_on() {
    let dir = Dir::new();
    dir.write("M1_x.md", SWALLOWED);
    let (code, stdout, stderr) = dir.kmilestone(&["status", "M1_x.md"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "Milestone: M1 - X (1 task)
Completed: (none - fresh start)
Starting from: 1.1

  next     1.1  A

Handoff: HANDOFF_M1.md (not created yet)
"
    );
    assert_eq!(
        stderr,
        format!(
            "error: M1_x.md:13: {SWALLOWED_ERROR}
warning: M1_x.md:7: `## Task 9.1: example` is inside the code block opened at line 6 (```markdown) and is not read as task 9.1; if it is a real task, check that block's fences
warning: M1_x.md:8: ```bash cannot open a block nested inside the code block opened at line 6 (```markdown): that block ends at the fence on line 10 and what follows is read as markdown, headings included; open the outer block with a longer fence (````markdown)
"
        )
    );

    let (code, stdout, _) = dir.kmilestone(&["status", "--json", "M1_x.md"]);
    assert_eq!(code, 0);
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(
        json["warnings"][0],
        serde_json::json!({
            "level": "error",
            "file": "M1_x.md",
            "line": 13,
            "message": SWALLOWED_ERROR
        })
    );
    assert_eq!(json["warnings"].as_array().unwrap().len(), 3);
}

#[test]
fn handoff_location_rules() {
    let dir = Dir::new();
    dir.write("M4_workers.md", PLAN);
    dir.write("HANDOFF_M4.md", "## Task 4.1 Complete\n");
    dir.write(
        "HANDOFF_M4_workers.md",
        "## Task 4.1 Complete\n## Task 4.2 Complete\n",
    );
    dir.write("other.md", "## Tasks 4.1-4.3 Complete\n");
    // HANDOFF_<stem>.md beside the plan wins over HANDOFF_<ID>.md.
    let (_, stdout, _) = dir.kmilestone(&["status", "M4_workers.md"]);
    assert!(stdout.contains("Resuming from: 4.3\n"), "{stdout}");
    assert!(
        stdout.ends_with("Handoff: HANDOFF_M4_workers.md\n"),
        "{stdout}"
    );
    // --handoff overrides both.
    let (_, stdout, _) = dir.kmilestone(&["status", "M4_workers.md", "--handoff", "other.md"]);
    assert!(stdout.contains("Resuming from: 4.4\n"), "{stdout}");
    // A --handoff that does not exist yet means a fresh start.
    let (code, stdout, _) = dir.kmilestone(&["status", "M4_workers.md", "--handoff", "new.md"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Starting from: 4.1\n"), "{stdout}");
}

#[test]
fn plan_warnings_go_to_stderr_with_file_and_line() {
    let dir = Dir::new();
    dir.write(
        "M1_x.md",
        "# M\n\n## Task 1.1: A\n\n```markdown\n## Task 9.1: example\n```\n",
    );
    let (code, stdout, stderr) = dir.kmilestone(&["status", "M1_x.md"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Starting from: 1.1"), "{stdout}");
    assert_eq!(
        stderr,
        "warning: M1_x.md:3: task 1.1 has no acceptance criteria
warning: M1_x.md:6: `## Task 9.1: example` is inside the code block opened at line 5 (```markdown) and is not read as task 9.1; if it is a real task, check that block's fences
"
    );
}

/// Every input error exits 2, names the file (and lines) on stderr, and prints nothing on stdout.
#[test]
fn input_errors_exit_2_naming_the_file() {
    let dir = Dir::new();
    dir.write(
        "M1_none.md",
        "# Milestone 1: Nothing\n\n```\n## Task 1.1 hidden\n```\n",
    );
    dir.write(
        "M1_dup.md",
        "## Task 1.1: A\n\n## Task 1.2: B\n\n## Task 1.1: C\n",
    );
    dir.write("M1_latin1.md", b"## Task 1.1: caf\xe9\n".as_slice());
    std::fs::create_dir(dir.path().join("M1_dir.md")).unwrap();
    let big = std::fs::File::create(dir.path().join("M1_big.md")).unwrap();
    big.set_len(16 * 1024 * 1024 + 1).unwrap();
    dir.write("M2_ok.md", "## Task 2.1: A\n");
    std::fs::create_dir(dir.path().join("HANDOFF_M2.md")).unwrap();
    dir.write("M3_ok.md", "## Task 3.1: A\n");
    dir.write("HANDOFF_M3.md", b"## Task 3.1 Complete\n\xff\n".as_slice());

    let cases: &[(&[&str], &str)] = &[
        (
            &["status", "M1_missing.md"],
            "error: M1_missing.md: no such file\n",
        ),
        (
            &["status", "M1_dir.md"],
            "error: M1_dir.md: is a directory, expected a markdown file\n",
        ),
        (
            &["status", "M1_latin1.md"],
            "error: M1_latin1.md:1: not valid UTF-8 (byte offset 16)\n",
        ),
        (
            &["status", "M1_big.md"],
            "error: M1_big.md: file is 16777217 bytes, larger than the 16 MiB limit\n",
        ),
        (
            &["status", "M1_none.md"],
            "error: M1_none.md: no task found (expected headings such as `## Task 1.1: Title`)\n",
        ),
        (
            &["status", "M1_dup.md"],
            "error: M1_dup.md:5: task 1.1 is defined twice (first at line 1)\n",
        ),
        (
            &["status", "M2_ok.md"],
            "error: handoff HANDOFF_M2.md: is a directory, expected a markdown file\n",
        ),
        (
            &["status", "M3_ok.md"],
            "error: handoff HANDOFF_M3.md:2: not valid UTF-8 (byte offset 21)\n",
        ),
        (
            &["status", "M2_ok.md", "--handoff", "M1_big.md"],
            "error: handoff M1_big.md: file is 16777217 bytes, larger than the 16 MiB limit\n",
        ),
        (
            &["status", "--json", "M1_dup.md"],
            "error: M1_dup.md:5: task 1.1 is defined twice (first at line 1)\n",
        ),
    ];
    for (args, expected) in cases {
        let (code, stdout, stderr) = dir.kmilestone(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}");
        assert_eq!(stderr, *expected, "{args:?}");
    }
}

#[test]
fn the_example_milestone_resumes_at_1_2() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/M1_greeter.md");
    let (output, stdout, stderr) =
        crate::support::run(crate::support::kmilestone().arg("status").arg(&example));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // The example names a design document that the repository does not have.
    assert_eq!(
        stderr,
        format!(
            "warning: {}:2: front matter `design: docs/greeter-design.md` names a file that exists neither relative to the plan (examples/docs/greeter-design.md) nor from the repository root (docs/greeter-design.md)\n",
            example.display()
        ),
        "the example plan's only warning"
    );
    let header: Vec<_> = stdout.lines().take(3).collect();
    assert_eq!(
        header,
        vec![
            "Milestone: M1 - Greeter (3 tasks)",
            "Completed: 1.1 (from handoff)",
            "Resuming from: 1.2",
        ]
    );
}

#[test]
fn front_matter_paths_resolve_from_the_plan_then_the_repository_root() {
    let dir = Dir::new();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::create_dir_all(dir.path().join("docs/feature/implementation")).unwrap();
    dir.write("docs/feature/DESIGN.md", "# Design\n");
    dir.write("docs/feature/ARCHITECTURE.md", "# Architecture\n");
    dir.write(
        "docs/feature/implementation/M2_x.md",
        "---\ndesign: ../DESIGN.md\narchitecture: docs/feature/ARCHITECTURE.md\nvalidation: ../VALIDATION.md\n---\n\n# M2: X\n\n## Task 2.1: A\n**Acceptance Criteria:** a\n",
    );
    let missing = "front matter `validation: ../VALIDATION.md` names a file that exists neither relative to the plan (docs/feature/VALIDATION.md) nor from the repository root (../VALIDATION.md)";
    let plan = "docs/feature/implementation/M2_x.md";
    let (code, stdout, stderr) = dir.kmilestone(&["status", plan]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("Milestone: M2 - X (1 task)\n"),
        "{stdout}"
    );
    assert_eq!(stderr, format!("warning: {plan}:4: {missing}\n"));

    let (_, stdout, _) = dir.kmilestone(&["status", "--json", plan]);
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json["references"],
        serde_json::json!([
            {"key": "design", "value": "../DESIGN.md", "line": 2, "resolved": "docs/feature/DESIGN.md"},
            {"key": "architecture", "value": "docs/feature/ARCHITECTURE.md", "line": 3, "resolved": "docs/feature/ARCHITECTURE.md"},
            {"key": "validation", "value": "../VALIDATION.md", "line": 4, "resolved": null},
        ])
    );
    assert_eq!(
        json["warnings"],
        serde_json::json!([{"level": "warning", "file": plan, "line": 4, "message": missing}])
    );

    let (code, stdout, _) = dir.kmilestone(&["lint", plan]);
    assert_eq!(
        (code, stdout),
        (0, format!("{plan}:4: warning: {missing}\n"))
    );
}

#[test]
fn a_handoff_that_marks_no_task_is_named_beside_the_fresh_start() {
    let dir = Dir::new();
    dir.write("M4_workers.md", PLAN);
    dir.write(
        "HANDOFF_M4.md",
        "# Handoff\n\n## Orchestrator Shell Complete\n\nThe shell works.\n\n## Gotchas\n",
    );
    let note = "Handoff marks no task complete: none of its headings reads like `## Task 4.1 Complete` (its headings: line 3 `## Orchestrator Shell Complete`, line 7 `## Gotchas`)";
    let (code, stdout, stderr) = dir.kmilestone(&["status", "M4_workers.md"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        format!(
            "Milestone: M4 - Worker Settings (4 tasks)
Completed: (none - fresh start)
Starting from: 4.1
{note}

  next     4.1  Settings model
  pending  4.2  Load settings
  pending  4.3  Validate
  pending  4.4  Docs

Handoff: HANDOFF_M4.md
"
        )
    );
    let (_, stdout, _) = dir.kmilestone(&["status", "--json", "M4_workers.md"]);
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json["warnings"],
        serde_json::json!([{"level": "warning", "file": "HANDOFF_M4.md", "line": 3, "message": note}])
    );
    let (code, stdout, _) = dir.kmilestone(&["lint", "M4_workers.md"]);
    assert_eq!(
        (code, stdout),
        (0, format!("HANDOFF_M4.md:3: warning: {note}\n"))
    );
}
