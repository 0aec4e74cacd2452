//! Table tests of the plan reader.

use std::path::{Path, PathBuf};

use super::*;

fn plan(source: &str) -> Plan {
    Plan::parse(Path::new("M4_workers.md"), source).expect("plan parses")
}

fn ids_and_titles(source: &str) -> Vec<(String, String)> {
    plan(source)
        .tasks
        .into_iter()
        .map(|t| (t.id, t.title))
        .collect()
}

#[test]
fn task_headings_in_every_real_form() {
    let cases: &[(&str, &str, &str)] = &[
        ("## Task 4.1: Add settings", "4.1", "Add settings"),
        ("### Task 3b.1: Multi output", "3b.1", "Multi output"),
        ("#### Task 4.1b — Follow-up", "4.1b", "Follow-up"),
        ("## Task 4.5.1 – Sub step", "4.5.1", "Sub step"),
        ("## Task 5.0 - Prerequisite", "5.0", "Prerequisite"),
        ("## Task 1.1", "1.1", ""),
        ("## Task 1.1 ##", "1.1", ""),
        ("## Task 1.1: Title ###", "1.1", "Title"),
        ("## Task 2: Whole number", "2", "Whole number"),
        ("## **Task 1.1**: Bold", "1.1", "Bold"),
        ("## *Task 1.1:* Emphasis", "1.1", "Emphasis"),
        ("## [Task 1.1] Bracketed", "1.1", "Bracketed"),
        ("##\tTask 1.1\tTabs", "1.1", "Tabs"),
        ("## Task 1.1: Trailing spaces   ", "1.1", "Trailing spaces"),
        ("## Task 1.1. Dot", "1.1", "Dot"),
        ("## task 1.1: lower case", "1.1", "lower case"),
        ("## ✅ Task 1.1: Emoji first", "1.1", "Emoji first"),
        ("   ## Task 1.1: Indented three", "1.1", "Indented three"),
        ("## Task 1.1: Use `cargo test`", "1.1", "Use `cargo test`"),
        ("## Task 1.1: C# support", "1.1", "C# support"),
    ];
    for (heading, id, title) in cases {
        let source = format!("# Milestone 4: Workers\n\n{heading}\n\nBody.\n");
        assert_eq!(
            ids_and_titles(&source),
            vec![(id.to_string(), title.to_string())],
            "{heading:?}"
        );
    }
}

#[test]
fn headings_that_are_not_tasks() {
    let cases = [
        "# Task 1.1: level one is the milestone title",
        "##### Task 1.1: level five",
        "## Tasks overview",
        "## Task list",
        "## Subtask 1.1",
        "## Task: no id",
        "##Task 1.1 no space after the hashes",
        "Task 1.1 setext\n---",
        "#Task 1.1 setext starting with a hash\n---",
        "    ## Task 1.1 indented code",
        "- not a heading ## Task 1.1",
        "## Task 1.1/1.2 slash",
        "## Task 1.1x2 letters and digits",
    ];
    for case in cases {
        let source = format!("# M\n\n{case}\n\n## Task 9.9: The real one\n");
        let ids: Vec<_> = plan(&source).tasks.into_iter().map(|t| t.id).collect();
        assert_eq!(ids, vec!["9.9"], "{case:?}");
    }
}

#[test]
fn crlf_bom_and_tilde_fences() {
    let source = "\u{feff}---\r\ndesign: docs/design.md\r\n---\r\n# Milestone 1: Windows\r\n\r\n## Task 1.1: First  \r\n**Type:** CODING\r\n\r\n~~~markdown\r\n## Task 9.1: example\r\n~~~\r\n**Acceptance Criteria:**\r\n- [ ] works\r\n\r\n## Task 1.2 — Second\r\n";
    let plan = plan(source);
    assert_eq!(plan.title.as_deref(), Some("Windows"));
    assert_eq!(
        plan.front_matter,
        vec![("design".to_string(), "docs/design.md".to_string())]
    );
    let tasks: Vec<_> = plan
        .tasks
        .iter()
        .map(|t| (t.id.as_str(), t.title.as_str(), t.line))
        .collect();
    assert_eq!(tasks, vec![("1.1", "First", 6), ("1.2", "Second", 15)]);
    assert_eq!(plan.tasks[0].task_type, Some(TaskType::Coding));
    assert_eq!(plan.tasks[0].acceptance_criteria, vec!["works"]);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.line == 10 && w.message.contains("task 9.1")),
        "{:?}",
        plan.warnings
    );
}

/// (plan text, expected body of each task).
#[test]
fn bodies_run_to_the_next_task_and_the_last_one_to_its_level() {
    let cases: &[(&str, &[&str])] = &[
        // Deeper headings belong to the task; the last task stops at a heading of its level.
        (
            "# M\n\n## Phase 1\n\n### Task 1.1: A\n\nA body.\n\n#### Notes\n\nStill A.\n\n### Task 1.2: B\n\nB body.\n\n## Phase 2\n\nNot B.\n",
            &[
                "### Task 1.1: A\n\nA body.\n\n#### Notes\n\nStill A.",
                "### Task 1.2: B\n\nB body.",
            ],
        ),
        // A level-2 section between two level-3 tasks is the first task's (real plans hold
        // the job and its criteria there).
        (
            "## Tasks\n\n### Task 6.1: A\n\nA.\n\n### Task 6.2: B\n\nSee below.\n\n## ⚠️ CRITICAL: DO NOT RE-IMPLEMENT ⚠️\n\nReuse `core.py`.\n\n### Task 6.3: C\n\nC.\n",
            &[
                "### Task 6.1: A\n\nA.",
                "### Task 6.2: B\n\nSee below.\n\n## ⚠️ CRITICAL: DO NOT RE-IMPLEMENT ⚠️\n\nReuse `core.py`.",
                "### Task 6.3: C\n\nC.",
            ],
        ),
        // So is the next phase's introduction; a level-1 heading after the last task ends it.
        (
            "## Phase 1\n\n### Task 1.1: A\n\nA.\n\n## Phase 2\n\nIntro.\n\n### Task 2.1: B\n\nB.\n\n# Appendix\n\nNot B.\n",
            &[
                "### Task 1.1: A\n\nA.\n\n## Phase 2\n\nIntro.",
                "### Task 2.1: B\n\nB.",
            ],
        ),
        // The last task at level 2 keeps its level-3 sections, up to the milestone's checklist.
        (
            "## Task 1.1: A\n\nA.\n\n## Task 1.2: B\n\n### Scenario 1\n\nrun\n\n## Completion Checklist\n\n- [ ] all\n",
            &[
                "## Task 1.1: A\n\nA.",
                "## Task 1.2: B\n\n### Scenario 1\n\nrun",
            ],
        ),
        // A last task with nothing after it runs to the end of the file.
        (
            "## Task 1.1: A\n\n#### Deep\n\nend\n\n\n",
            &["## Task 1.1: A\n\n#### Deep\n\nend"],
        ),
    ];
    for (source, expected) in cases {
        let bodies: Vec<_> = plan(source).tasks.into_iter().map(|t| t.body).collect();
        assert_eq!(bodies, *expected, "{source:?}");
    }
}

#[test]
fn criteria_and_fields_are_read_from_the_whole_body() {
    let source = "### Task 6.2: B\n\nSee below.\n\n## ⚠️ CRITICAL: REUSE EXISTING CODE ⚠️\n\n**Type:** CODING\n**File(s):** `cli.py`\n\n**Acceptance Criteria:**\n- [ ] reuses `core.py`\n\n### Task 6.3: C\n\n**Acceptance Criteria:**\n- [ ] c\n";
    let plan = plan(source);
    let task = &plan.tasks[0];
    assert_eq!(task.task_type, Some(TaskType::Coding));
    assert_eq!(task.files.as_deref(), Some("`cli.py`"));
    assert_eq!(task.acceptance_criteria, vec!["reuses `core.py`"]);
    assert_eq!(plan.tasks[1].acceptance_criteria, vec!["c"]);
    assert!(
        !plan
            .warnings
            .iter()
            .any(|w| w.message.contains("no acceptance")),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn body_keeps_headings_hidden_in_code_and_stops_at_a_deeper_next_task() {
    let source = "# M\n\n## Task 1.1: A\n\n```bash\n# comment\n## Task 9.9 example\n```\n\nMore A.\n\n### Task 1.2: B\n\nB.\n";
    let plan = plan(source);
    assert_eq!(
        plan.tasks[0].body,
        "## Task 1.1: A\n\n```bash\n# comment\n## Task 9.9 example\n```\n\nMore A."
    );
    assert_eq!(plan.tasks[1].body, "### Task 1.2: B\n\nB.");
}

#[test]
fn type_field_forms() {
    let cases: &[(&str, Option<TaskType>)] = &[
        ("**Type:** CODING", Some(TaskType::Coding)),
        ("**Type**: VALIDATION", Some(TaskType::Validation)),
        ("**Type** : research", Some(TaskType::Research)),
        ("- **Type:** MIXED (code + docs)", Some(TaskType::Mixed)),
        ("**Type:** `CODING`", Some(TaskType::Coding)),
        ("**Task Type:** Coding", Some(TaskType::Coding)),
        (
            "**Type:** DOCUMENTATION",
            Some(TaskType::Other("DOCUMENTATION".to_string())),
        ),
        ("**Type:**", None),
        ("Type: CODING", None),
        ("```\n**Type:** RESEARCH\n```", None),
    ];
    for (line, expected) in cases {
        let source = format!("# M\n\n## Task 1.1: A\n\n{line}\n");
        let task = &plan(&source).tasks[0];
        assert_eq!(&task.task_type, expected, "{line:?}");
    }
    let other = TaskType::Other("DOCUMENTATION".to_string());
    assert!(other.writes_code());
    assert!(!TaskType::Validation.writes_code());
    assert_eq!(other.to_string(), "DOCUMENTATION");
}

#[test]
fn acceptance_criteria_forms() {
    let cases: &[(&str, &[&str])] = &[
        (
            "**Acceptance Criteria:**\n- [ ] one\n- [x] two\n* [X] three",
            &["one", "two", "three"],
        ),
        (
            "**Acceptance Criteria**:\n- plain\n1. numbered",
            &["plain", "numbered"],
        ),
        (
            "### Acceptance Criteria\n\n- [ ] under a heading",
            &["under a heading"],
        ),
        (
            "**Acceptance Criteria:** all tests pass",
            &["all tests pass"],
        ),
        (
            "**Acceptance Criteria:**\n- [ ] a\n\n**Notes:**\n- not a criterion",
            &["a"],
        ),
        (
            "**Success Criteria:**\n- [ ] all scenarios pass\n- [ ] no errors in logs",
            &["all scenarios pass", "no errors in logs"],
        ),
        ("**Success Criteria**: one line", &["one line"]),
        (
            "### Success Criteria\n- [ ] command runs\n\n### Notes\n- not one",
            &["command runs"],
        ),
        ("#### ✅ Definition of Done\n- merged", &["merged"]),
        ("**Done when:**\n- it works", &["it works"]),
        ("**Success metrics:**\n- [ ] not criteria", &[]),
        ("- [ ] a checklist outside the section", &[]),
        (
            "**Acceptance Criteria:**\n```\n- [ ] in a code block\n```\n- [ ] real",
            &["real"],
        ),
    ];
    for (text, expected) in cases {
        let source = format!("# M\n\n## Task 1.1: A\n\n{text}\n");
        let plan = plan(&source);
        assert_eq!(plan.tasks[0].acceptance_criteria, *expected, "{text:?}");
        let warned = plan
            .warnings
            .iter()
            .any(|w| w.message == "task 1.1 has no acceptance criteria");
        assert_eq!(warned, expected.is_empty(), "{text:?}");
    }
}

#[test]
fn files_and_depends_on_fields() {
    let task =
        &plan("# M\n\n## Task 1.1: A\n\n**File(s):** `src/a.rs`\n**Depends on:** Task 0.1\n").tasks
            [0];
    assert_eq!(task.files.as_deref(), Some("`src/a.rs`"));
    assert_eq!(task.depends_on.as_deref(), Some("Task 0.1"));
}

#[test]
fn milestone_ids_from_file_names() {
    let cases = [
        ("M4_workers.md", "M4"),
        ("PLAN_M3_training.md", "M3"),
        ("M4.5_rest.md", "M4.5"),
        ("M3b_multi.md", "M3b"),
        ("M10-big.md", "M10"),
        ("M2.md", "M2"),
        ("dir/sub/M7_x.md", "M7"),
        ("parsing_edge_case.md", "parsing_edge_case"),
        ("Milestone.md", "Milestone"),
        ("MX_x.md", "MX_x"),
    ];
    for (file, id) in cases {
        assert_eq!(milestone_id(Path::new(file)), id, "{file}");
    }
}

#[test]
fn title_and_display_name_from_the_first_h1() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        (
            "# Milestone 4: Worker Settings",
            Some("Worker Settings"),
            "M4 - Worker Settings",
        ),
        (
            "# Milestone 4 — Worker Settings",
            Some("Worker Settings"),
            "M4 - Worker Settings",
        ),
        ("# milestone 4.5: Rest", Some("Rest"), "M4 - Rest"),
        (
            "# Worker Settings",
            Some("Worker Settings"),
            "M4 - Worker Settings",
        ),
        ("# Milestone 4", None, "M4"),
        // A leading copy of the ID is what the display name shows already.
        (
            "# M4: Worker Settings",
            Some("Worker Settings"),
            "M4 - Worker Settings",
        ),
        (
            "# M4 - Worker Settings",
            Some("Worker Settings"),
            "M4 - Worker Settings",
        ),
        (
            "# M4 Test Gap Analysis",
            Some("Test Gap Analysis"),
            "M4 - Test Gap Analysis",
        ),
        ("# m4: lower case", Some("lower case"), "M4 - lower case"),
        ("# M4", None, "M4"),
        // Another milestone's ID, or a longer one, is part of the title.
        (
            "# M41: Not this one",
            Some("M41: Not this one"),
            "M4 - M41: Not this one",
        ),
        ("# M4.5: Later", Some("M4.5: Later"), "M4 - M4.5: Later"),
        ("# M3: Earlier", Some("M3: Earlier"), "M4 - M3: Earlier"),
        (
            "Worker Settings\n===",
            Some("Worker Settings"),
            "M4 - Worker Settings",
        ),
        (
            "## No level-1 heading before the tasks",
            Some("Later H1"),
            "M4 - Later H1",
        ),
    ];
    for (h1, title, display) in cases {
        let plan = plan(&format!("{h1}\n\n## Task 4.1: A\n\n# Later H1\n"));
        assert_eq!(plan.title.as_deref(), *title, "{h1:?}");
        assert_eq!(plan.display_name(), *display, "{h1:?}");
    }
}

#[test]
fn front_matter_keys() {
    let plan = plan(
        "---\ndesign: docs/design.md\narchitecture: \"docs/arch.md\"\nlist:\n  - a\n# comment\nvalidation: ../V.md  # the checks\nnotes: 'a # b.md'\n---\n\n# M\n\n## Task 1.1: A\n",
    );
    assert_eq!(
        plan.front_matter,
        vec![
            ("design".to_string(), "docs/design.md".to_string()),
            ("architecture".to_string(), "docs/arch.md".to_string()),
            ("list".to_string(), String::new()),
            ("validation".to_string(), "../V.md".to_string()),
            ("notes".to_string(), "a # b.md".to_string()),
        ]
    );
}

#[test]
fn errors_no_task_and_duplicates_naming_both_lines() {
    let path = Path::new("M1_x.md");
    match Plan::parse(path, "# Only a title\n\n```\n## Task 1.1 hidden\n```\n") {
        Err(err @ PlanError::NoTasks { .. }) => {
            assert_eq!(
                err.to_string(),
                "M1_x.md: no task found (expected headings such as `## Task 1.1: Title`)"
            );
            assert_eq!(err.line(), None);
        }
        other => panic!("expected NoTasks, got {other:?}"),
    }
    let source =
        "# M\n\n## Task 1.1: A\n\n## Task 1.2: B\n\n### Task 1.1: again\n\n## Task 1.2: again\n";
    match Plan::parse(path, source) {
        Err(err @ PlanError::DuplicateTask { .. }) => {
            assert_eq!(
                err.to_string(),
                "M1_x.md:7: task 1.1 is defined twice (first at line 3)"
            );
            assert_eq!(err.line(), Some(7));
        }
        other => panic!("expected DuplicateTask, got {other:?}"),
    }
    let diagnosis = Plan::diagnose(path, source);
    let lines: Vec<_> = diagnosis
        .errors
        .iter()
        .map(super::PlanError::line)
        .collect();
    assert_eq!(lines, vec![Some(7), Some(9)]);
    let kept: Vec<_> = diagnosis
        .plan
        .tasks
        .iter()
        .map(|t| (t.id.as_str(), t.line))
        .collect();
    assert_eq!(kept, vec![("1.1", 3), ("1.2", 5)]);
}

/// (plan text, expected (line, message fragment) warnings besides "no acceptance criteria").
#[test]
fn warnings_name_the_line_and_the_hiding_block() {
    let cases: &[(&str, &[(usize, &str)])] = &[
        (
            "## Task 1.1: A\n\n```markdown\n## Task 2.1: example\n```\n",
            &[(
                4,
                "inside the code block opened at line 3 (```markdown) and is not read as task 2.1",
            )],
        ),
        (
            "## Task 1.1: A\n\n~~~\n### Task 2.1: example\n~~~\n",
            &[(4, "inside the code block opened at line 3 (~~~)")],
        ),
        (
            "## Task 1.1: A\n\n    ## Task 2.1 indented\n",
            &[(3, "inside an indented code block (line 3)")],
        ),
        (
            "## Task 1.1: A\n\n<div>\n## Task 2.1 in html\n</div>\n",
            &[(4, "inside the HTML block opened at line 3")],
        ),
        // A shell comment or a level-5 heading in a block is not task-like.
        (
            "## Task 1.1: A\n\n```bash\n# Task 2.1\n##### Task 2.2\n## build\n```\n",
            &[],
        ),
        (
            "## Task 1.1: A\n\n### Task 1.2: B\n",
            &[(
                3,
                "task 1.2 is a level-3 heading while task 1.1 is level 2: task headings at mixed levels",
            )],
        ),
    ];
    for (source, expected) in cases {
        let plan = plan(source);
        let got: Vec<_> = plan
            .warnings
            .iter()
            .filter(|w| !w.message.contains("no acceptance criteria"))
            .collect();
        assert_eq!(got.len(), expected.len(), "{source:?}: {got:?}");
        for (warning, (line, fragment)) in got.iter().zip(expected.iter()) {
            assert_eq!(warning.line, *line, "{source:?}");
            assert!(
                warning.message.contains(fragment),
                "{source:?}: {warning:?}"
            );
        }
    }
}

#[test]
fn wrongly_nested_fences_are_made_visible() {
    // The outer ```markdown block ends at line 7 (meant to close ```bash), so the example task
    // 9.2 becomes real, and the example's closing fence at line 9 opens a block hiding task 1.2.
    let source = "## Task 1.1: A\n\n```markdown\n## Task 9.1: example\n```bash\nls\n```\n## Task 9.2: example two\n```\n\n## Task 1.2: real\n\ntext\n";
    let plan = plan(source);
    let ids: Vec<_> = plan.tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, vec!["1.1", "9.2"]);
    let warnings: Vec<_> = plan
        .warnings
        .iter()
        .filter(|w| !w.message.contains("no acceptance criteria"))
        .map(|w| (w.line, w.message.as_str()))
        .collect();
    assert_eq!(
        warnings,
        vec![
            (
                4,
                "`## Task 9.1: example` is inside the code block opened at line 3 (```markdown) and is not read as task 9.1; if it is a real task, check that block's fences"
            ),
            (
                5,
                "```bash cannot open a block nested inside the code block opened at line 3 (```markdown): that block ends at the fence on line 7 and what follows is read as markdown, headings included; open the outer block with a longer fence (````markdown)"
            ),
            (
                8,
                "task 9.2 is read as a task, but it looks meant to be part of the example in the code block opened at line 3 (```markdown), which a fence nested inside it ends early; if it is an example, open that block with a longer fence (````markdown)"
            ),
        ]
    );
    // The real task 1.2 that the block opened at line 9 swallows is an error, not a warning.
    let hidden: Vec<_> = plan
        .hidden_tasks
        .iter()
        .map(|h| (h.id.as_str(), h.line))
        .collect();
    assert_eq!(hidden, vec![("1.2", 11)]);

    // A longer outer fence nests correctly: nothing to say, the examples stay hidden.
    let fixed = "## Task 1.1: A\n\n````markdown\n## Task 9.1: example\n```bash\nls\n```\n## Task 9.2: example two\n````\n\n## Task 1.2: real\n";
    let plan = self::plan(fixed);
    let ids: Vec<_> = plan.tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, vec!["1.1", "1.2"]);
    assert!(
        !plan
            .warnings
            .iter()
            .any(|w| w.message.contains("cannot open")),
        "{:?}",
        plan.warnings
    );

    // Unclosed: the block runs to the end of the file.
    let unclosed = "## Task 1.1: A\n\n```markdown\n```bash\nls\n";
    let plan = self::plan(unclosed);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.line == 4 && w.message.contains("that block runs to the end of the file")),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn ids_are_kept_as_written_and_in_document_order() {
    let ids: Vec<_> = plan("## Task 4.10: x\n## Task 4.2: y\n## Task 4.1b: z\n## Task 3b.1: w\n")
        .tasks
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, vec!["4.10", "4.2", "4.1b", "3b.1"]);
}

#[test]
fn loading_resolves_references_once_however_often_it_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join("DESIGN.md"), "").unwrap();
    let path = dir.path().join("M1_x.md");
    std::fs::write(
        &path,
        "---\ndesign: DESIGN.md\narchitecture: ARCH.md\n---\n\n## Task 1.1: A\n**Acceptance Criteria:** a\n",
    )
    .unwrap();
    let mut plan = Plan::load(&path).unwrap();
    let resolved: Vec<_> = plan
        .references
        .iter()
        .map(|r| (r.key.as_str(), r.line, r.resolved.clone()))
        .collect();
    assert_eq!(
        resolved,
        vec![
            ("design", 2, Some(PathBuf::from("DESIGN.md"))),
            ("architecture", 3, None)
        ]
    );
    assert_eq!(plan.warnings.len(), 1);
    // The missing file appears: asked again, the warning goes.
    std::fs::write(dir.path().join("ARCH.md"), "").unwrap();
    plan.resolve_references();
    plan.resolve_references();
    assert_eq!(plan.warnings, vec![]);
    assert_eq!(plan.references[1].resolved, Some(PathBuf::from("ARCH.md")));
    // Text alone names no file on disk.
    let parsed = Plan::parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(parsed.references.is_empty());
}
