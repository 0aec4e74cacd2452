//! Table tests of the fence reading: which hidden task headings are swallowed by mistake (errors)
//! and which are examples (warnings), with the exact words of each diagnostic.

use std::path::Path;

use crate::plan::Plan;

/// (line, message) diagnostics.
type Lines = Vec<(usize, String)>;

/// The plan's hidden tasks and its fence warnings (criteria warnings left out).
fn read(source: &str) -> (Lines, Lines) {
    let plan = Plan::parse(Path::new("M1_x.md"), source).expect("plan parses");
    let hidden = plan
        .hidden_tasks
        .iter()
        .map(|h| (h.line, h.message.clone()))
        .collect();
    let warnings = plan
        .warnings
        .iter()
        .filter(|w| !w.message.contains("no acceptance criteria"))
        .map(|w| (w.line, w.message.clone()))
        .collect();
    (hidden, warnings)
}

const MISNESTED_BASH: &str = "```bash cannot open a block nested inside the code block opened at line 3 (```markdown): that block ends at the fence on line 7 and what follows is read as markdown, headings included; open the outer block with a longer fence (````markdown)";

#[test]
fn a_fence_meant_to_close_an_example_swallows_the_next_task() {
    // Line 7 closes the ```markdown block (it was meant for ```bash), so line 9, meant to close
    // the example, opens a block that hides task 1.2 up to line 14.
    let source = "## Task 1.1: A\n\n```markdown\n## Task 9.1: example\n```bash\nls\n```\n## Task 9.2: example two\n```\n\n## Task 1.2: real\n\ntext\n```\n\n## Task 1.3: C\n";
    let (hidden, warnings) = read(source);
    assert_eq!(
        hidden,
        vec![(
            11,
            "`## Task 1.2: real` is not read as task 1.2: the fence at line 9 (```) opens a code block that hides it; it was meant to close the block opened at line 3 (```markdown), but CommonMark cannot nest a fence inside a block opened by a fence as long, so the fences pair up otherwise; open that block with a longer fence (````markdown at line 3, closed by ```` at line 9)".to_string()
        )]
    );
    assert_eq!(
        warnings,
        vec![
            (
                4,
                "`## Task 9.1: example` is inside the code block opened at line 3 (```markdown) and is not read as task 9.1; if it is a real task, check that block's fences".to_string()
            ),
            (5, MISNESTED_BASH.to_string()),
            (
                8,
                "task 9.2 is read as a task, but it looks meant to be part of the example in the code block opened at line 3 (```markdown), which a fence nested inside it ends early; if it is an example, open that block with a longer fence (````markdown)".to_string()
            ),
        ]
    );
    let plan = Plan::parse(Path::new("M1_x.md"), source).unwrap();
    let ids: Vec<_> = plan.tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["1.1", "9.2", "1.3"],
        "read as CommonMark reads it"
    );
    let hidden = &plan.hidden_tasks[0];
    assert_eq!(
        (
            hidden.id.as_str(),
            hidden.heading.as_str(),
            hidden.fence_line,
            hidden.fence.as_str()
        ),
        ("1.2", "## Task 1.2: real", 9, "```")
    );
}

#[test]
fn a_bare_block_nested_in_a_broken_example_points_at_the_example() {
    // The ```markdown at line 5 closes the outer block at line 7; line 9 then closes nothing the
    // author opened, line 11 opens, line 13 closes — and the author's closing fence at line 13
    // opens the block hiding task 4.2. The fix is the block at line 3.
    let source = "## Task 4.1: A\n\n```markdown\n# Categories\n```markdown\nx\n```\n\n```\ntree\n```\n\n```\n\n## Task 4.2: B\n\ntext\n```\n\n## Task 4.3: C\n";
    let (hidden, _) = read(source);
    assert_eq!(
        hidden,
        vec![(
            15,
            "`## Task 4.2: B` is not read as task 4.2: the fence at line 13 (```) opens a code block that hides it, because CommonMark cannot nest a fence inside a block opened by a fence as long, and the block opened at line 3 (```markdown) holds such fences, so the fences after it pair up otherwise; open that block with a longer fence (````markdown at line 3, and ```` to close it)".to_string()
        )]
    );
}

#[test]
fn an_unclosed_fence_swallows_the_rest_of_the_file() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "## Task 1.1: A\n\n```bash\nls\n\n## Task 1.2: B\n",
            6,
            "`## Task 1.2: B` is not read as task 1.2: the code block opened at line 3 (```bash) is never closed and hides the rest of the file; close it with ``` where its code ends",
        ),
        // Even an example block must be closed: what follows it would be lost too.
        (
            "## Task 1.1: A\n\n````markdown\n## Task 9.1: example\n",
            4,
            "`## Task 9.1: example` is not read as task 9.1: the code block opened at line 3 (````markdown) is never closed and hides the rest of the file; close it with ```` where its code ends",
        ),
    ];
    for (source, line, message) in cases {
        let (hidden, _) = read(source);
        assert_eq!(hidden, vec![(*line, message.to_string())], "{source:?}");
    }
}

#[test]
fn tilde_fences_mispair_the_same_way() {
    let (hidden, _) =
        read("## Task 1.1: A\n\n~~~markdown\n~~~bash\nls\n~~~\n~~~\n\n## Task 1.2: real\n~~~\n");
    assert_eq!(
        hidden,
        vec![(
            9,
            "`## Task 1.2: real` is not read as task 1.2: the fence at line 7 (~~~) opens a code block that hides it; it was meant to close the block opened at line 3 (~~~markdown), but CommonMark cannot nest a fence inside a block opened by a fence as long, so the fences pair up otherwise; open that block with a longer fence (~~~~markdown at line 3, closed by ~~~~ at line 7)".to_string()
        )]
    );
}

/// Task headings inside blocks that both readings agree on stay warnings.
#[test]
fn examples_in_well_formed_blocks_are_warnings() {
    let cases: &[(&str, &[(usize, &str)])] = &[
        (
            "## Task 1.1: A\n\n````markdown\n## Task 9.1: example\n```bash\nls\n```\n````\n\n## Task 1.2: real\n",
            &[(
                4,
                "`## Task 9.1: example` is inside the code block opened at line 3 (````markdown) and is not read as task 9.1; if it is a real task, check that block's fences",
            )],
        ),
        // A block in a list item ends with the item, without a closing fence.
        (
            "## Task 1.1: A\n\n- item\n  ```bash\n  ## Task 9.1: x\n\n## Task 1.2: B\n",
            &[(
                5,
                "`## Task 9.1: x` is inside the code block opened at line 4 (```bash) and is not read as task 9.1; if it is a real task, check that block's fences",
            )],
        ),
        // Two plain examples one after the other.
        (
            "## Task 1.1: A\n\n```markdown\n## Task 9.1: x\n```\n\n```\n## Task 9.2: y\n```\n\n## Task 1.2: B\n",
            &[
                (
                    4,
                    "`## Task 9.1: x` is inside the code block opened at line 3 (```markdown) and is not read as task 9.1; if it is a real task, check that block's fences",
                ),
                (
                    8,
                    "`## Task 9.2: y` is inside the code block opened at line 7 (```) and is not read as task 9.2; if it is a real task, check that block's fences",
                ),
            ],
        ),
    ];
    for (source, expected) in cases {
        let (hidden, warnings) = read(source);
        assert_eq!(hidden, vec![], "{source:?}");
        let expected: Vec<_> = expected.iter().map(|(l, m)| (*l, m.to_string())).collect();
        assert_eq!(warnings, expected, "{source:?}");
    }
}

#[test]
fn the_error_run_refuses_with_lists_every_hidden_task() {
    let source = "## Task 1.1: A\n\n```bash\nls\n\n## Task 1.2: B\n\n## Task 1.3: C\n";
    let plan = Plan::parse(Path::new("M1_x.md"), source).unwrap();
    let err = plan.hidden_tasks_error().expect("hidden tasks");
    assert_eq!(
        err.to_string(),
        "M1_x.md:6: `## Task 1.2: B` is not read as task 1.2: the code block opened at line 3 (```bash) is never closed and hides the rest of the file; close it with ``` where its code ends\nM1_x.md:8: `## Task 1.3: C` is not read as task 1.3: the code block opened at line 3 (```bash) is never closed and hides the rest of the file; close it with ``` where its code ends"
    );
    assert_eq!(err.line(), Some(6));
    assert!(err.detail().ends_with("(and 1 more hidden task)"));
    let clean = Plan::parse(Path::new("M1_x.md"), "## Task 1.1: A\n").unwrap();
    assert!(clean.hidden_tasks_error().is_none());
}
