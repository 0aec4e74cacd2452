//! `kmilestone lint`: `file:line: level: message`, exit 1 on errors, 0 otherwise.

use crate::support::Dir;

#[test]
fn a_clean_plan_prints_nothing_and_exits_0() {
    let dir = Dir::new();
    dir.write(
        "M1_x.md",
        "# Milestone 1: X\n\n## Task 1.1: A\n**Type:** CODING\n\n**Acceptance Criteria:**\n- [ ] a\n",
    );
    assert_eq!(
        dir.kmilestone(&["lint", "M1_x.md"]),
        (0, String::new(), String::new())
    );
}

#[test]
fn warnings_alone_exit_0() {
    let dir = Dir::new();
    dir.write(
        "M1_x.md",
        "# M\n\n## Task 1.1: A\n\n**Acceptance Criteria:**\n- [ ] a\n\n### Task 1.2: B\n\n    ## Task 1.3 indented\n",
    );
    let (code, stdout, _) = dir.kmilestone(&["lint", "M1_x.md"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "M1_x.md:8: warning: task 1.2 has no acceptance criteria
M1_x.md:8: warning: task 1.2 is a level-3 heading while task 1.1 is level 2: task headings at mixed levels
M1_x.md:10: warning: `## Task 1.3 indented` is inside an indented code block (line 10) and is not read as task 1.3; if it is a real task, check that block's fences
"
    );
}

#[test]
fn every_error_and_warning_is_listed_and_exits_1() {
    let dir = Dir::new();
    dir.write(
        "M1_x.md",
        "## Task 1.1: A\n\n## Task 1.2: B\n\n## Task 1.1: again\n\n<div>\n## Task 1.4 html\n</div>\n\n## Task 1.2: again\n",
    );
    let (code, stdout, stderr) = dir.kmilestone(&["lint", "M1_x.md"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stdout,
        "M1_x.md:1: warning: task 1.1 has no acceptance criteria
M1_x.md:3: warning: task 1.2 has no acceptance criteria
M1_x.md:5: error: task 1.1 is defined twice (first at line 1)
M1_x.md:8: warning: `## Task 1.4 html` is inside the HTML block opened at line 7 and is not read as task 1.4; if it is a real task, check that block's fences
M1_x.md:11: error: task 1.2 is defined twice (first at line 3)
"
    );
}

#[test]
fn file_level_errors_exit_1() {
    let dir = Dir::new();
    dir.write("M1_none.md", "# Nothing here\n");
    dir.write("M1_latin1.md", b"# ok\n## Task 1.1: caf\xe9\n".as_slice());
    let big = std::fs::File::create(dir.path().join("M1_big.md")).unwrap();
    big.set_len(16 * 1024 * 1024 + 1).unwrap();
    let cases = [
        (
            "M1_none.md",
            "M1_none.md: error: no task found (expected headings such as `## Task 1.1: Title`)\n",
        ),
        (
            "M1_latin1.md",
            "M1_latin1.md:2: error: not valid UTF-8 (byte offset 21)\n",
        ),
        (
            "M1_big.md",
            "M1_big.md: error: file is 16777217 bytes, larger than the 16 MiB limit\n",
        ),
    ];
    for (file, expected) in cases {
        let (code, stdout, _) = dir.kmilestone(&["lint", file]);
        assert_eq!((code, stdout.as_str()), (1, expected), "{file}");
    }
}

#[test]
fn a_path_that_is_not_a_plan_exits_2() {
    let dir = Dir::new();
    std::fs::create_dir(dir.path().join("M1_dir.md")).unwrap();
    let (code, stdout, stderr) = dir.kmilestone(&["lint", "M1_missing.md"]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (2, "", "error: M1_missing.md: no such file\n")
    );
    let (code, _, stderr) = dir.kmilestone(&["lint", "M1_dir.md"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: M1_dir.md: is a directory, expected a markdown file\n"
    );
}

#[test]
fn handoff_findings_name_the_handoff_file() {
    let dir = Dir::new();
    dir.write(
        "M1_x.md",
        "## Task 1.1: A\n- **Acceptance Criteria:** a\n\n## Task 1.2: B\n**Acceptance Criteria:** b\n\n## Task 1.3: C\n**Acceptance Criteria:** c\n",
    );
    dir.write(
        "HANDOFF_M1.md",
        "## Task 1.1 Complete\n\n## Task 1.3 Complete\n\n## Task 2.1 Complete\n\n## Task 2.2 BLOCKED: x\n",
    );
    let (code, stdout, _) = dir.kmilestone(&["lint", "M1_x.md"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "HANDOFF_M1.md:5: warning: task 2.1 is marked complete but the plan has no task 2.1 (plan tasks: 1.1, 1.2, 1.3)
HANDOFF_M1.md:7: warning: task 2.2 is marked blocked but the plan has no task 2.2 (plan tasks: 1.1, 1.2, 1.3)
HANDOFF_M1.md: warning: Handoff gap: 1.3 marked complete but 1.2 is not; starting at 1.2
"
    );
    // An unreadable handoff is bad input.
    dir.write("HANDOFF_M1.md", b"\xff".as_slice());
    let (code, _, stderr) = dir.kmilestone(&["lint", "M1_x.md"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: handoff HANDOFF_M1.md:1: not valid UTF-8 (byte offset 0)\n"
    );
}

#[test]
fn misnested_fences_are_shown_where_they_go_wrong_and_a_swallowed_task_exits_1() {
    let dir = Dir::new();
    dir.write(
        "M1_x.md",
        "## Task 1.1: A\n**Acceptance Criteria:** a\n\n```markdown\n## Task 9.1: example\n**Acceptance Criteria:** x\n```bash\nls\n```\n## Task 9.2: example two\n**Acceptance Criteria:** y\n```\n\n## Task 1.2: real\n",
    );
    let (code, stdout, _) = dir.kmilestone(&["lint", "M1_x.md"]);
    assert_eq!(code, 1);
    assert_eq!(
        stdout,
        "M1_x.md:5: warning: `## Task 9.1: example` is inside the code block opened at line 4 (```markdown) and is not read as task 9.1; if it is a real task, check that block's fences
M1_x.md:7: warning: ```bash cannot open a block nested inside the code block opened at line 4 (```markdown): that block ends at the fence on line 9 and what follows is read as markdown, headings included; open the outer block with a longer fence (````markdown)
M1_x.md:10: warning: task 9.2 is read as a task, but it looks meant to be part of the example in the code block opened at line 4 (```markdown), which a fence nested inside it ends early; if it is an example, open that block with a longer fence (````markdown)
M1_x.md:14: error: `## Task 1.2: real` is not read as task 1.2: the fence at line 12 (```) opens a code block that hides it; it was meant to close the block opened at line 4 (```markdown), but CommonMark cannot nest a fence inside a block opened by a fence as long, so the fences pair up otherwise; open that block with a longer fence (````markdown at line 4, closed by ```` at line 12)
"
    );
}

#[test]
fn a_task_swallowed_by_a_fence_is_an_error() {
    let dir = Dir::new();
    dir.write(
        "M1_x.md",
        "## Task 1.1: A\n**Acceptance Criteria:** a\n\n```python\nprint()\n\n## Task 1.2: B\n**Acceptance Criteria:** b\n",
    );
    let (code, stdout, _) = dir.kmilestone(&["lint", "M1_x.md"]);
    assert_eq!(code, 1);
    assert_eq!(
        stdout,
        "M1_x.md:7: error: `## Task 1.2: B` is not read as task 1.2: the code block opened at line 4 (```python) is never closed and hides the rest of the file; close it with ``` where its code ends\n"
    );
}
