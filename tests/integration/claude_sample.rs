//! The project's own sample of Claude Code's stream (`tests/fixtures/agents/`), which the
//! adapter's unit tests read: captured from the pinned CLI against the project's mock, and
//! checked here to keep the shape the pinned CLI prints. With `KMILESTONE_CAPTURE_CLAUDE_SAMPLE`
//! set, this run becomes the new sample.

use serde_json::{Value, json};

use crate::require_claude;
use crate::support::claude::{ClaudeCommand, ClaudeEnv};
use crate::support::git_repo::TempRepo;
use crate::support::mock_anthropic::{MockAnthropic, Script, Turn};

const CAPTURE_VAR: &str = "KMILESTONE_CAPTURE_CLAUDE_SAMPLE";
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/agents/claude_stream_sample.jsonl"
);

/// Each line's `type` (and `subtype`, or the content blocks' types), which is what the adapter
/// reads; ids, times and texts may differ between captures.
fn shape(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|line| {
            let blocks: Vec<&str> = line["message"]["content"]
                .as_array()
                .map(|b| b.iter().filter_map(|b| b["type"].as_str()).collect())
                .unwrap_or_default();
            format!(
                "{}/{}{}",
                line["type"].as_str().unwrap_or("?"),
                line["subtype"].as_str().unwrap_or(""),
                if blocks.is_empty() {
                    String::new()
                } else {
                    format!("[{}]", blocks.join(","))
                }
            )
        })
        .collect()
}

#[test]
fn the_committed_stream_sample_has_the_shape_the_pinned_cli_prints() {
    let claude = require_claude!();
    let repo = TempRepo::with_files(&[("README.md", "# demo\n")]);
    let hello = repo.file_str("hello.txt");
    let handoff = repo.file_str("HANDOFF.md");
    let mock = MockAnthropic::start(
        Script::new().turns([
            Turn::message()
                .text("I'll create hello.txt.")
                .tool_use("Write", json!({ "file_path": hello, "content": "hello\n" })),
            Turn::bash("echo again >> hello.txt && cat hello.txt"),
            Turn::read(&handoff),
            Turn::write(&handoff, "## Task 1 Complete: hello\n"),
            Turn::reply("All done: hello.txt created, appended, HANDOFF.md updated."),
        ]),
    );
    std::fs::write(repo.file("HANDOFF.md"), "# Handoff\n").unwrap();
    let env = ClaudeEnv::new(&mock);
    let run = ClaudeCommand::new(&claude, &env, repo.path())
        .args([
            "--permission-mode",
            "acceptEdits",
            "--allowedTools",
            "Bash(echo:*)",
            "Bash(cat:*)",
        ])
        .run("Create hello.txt, append to it, then update HANDOFF.md.");
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let root = repo.path().to_str().expect("UTF-8 path");
    if std::env::var_os(CAPTURE_VAR).is_some() {
        std::fs::write(FIXTURE, run.stdout.replace(root, "/home/user/project"))
            .expect("write the sample");
    }
    let sample: Vec<Value> = std::fs::read_to_string(FIXTURE)
        .expect("read the sample")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each sample line is JSON"))
        .collect();
    assert_eq!(
        shape(&sample),
        shape(&run.events),
        "the CLI's stream changed shape"
    );
}
