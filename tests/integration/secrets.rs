//! Secrets never written down, and nothing kmilestone writes readable by others: real runs with
//! the fake agent, a secret in kmilestone's environment and in what the agent and a gate print.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::support::project::{HANDOFF, PLAN_3, PLAN_NAME, Project, Run, good_actions};

/// In kmilestone's environment: redacted by name.
const GITHUB_TOKEN: &str = "ghp_Zq7RtY2uI9oP3aS5dF8gH1jK4lX6cV0bN2mQ";
const ANTHROPIC_KEY: &str = "sk-ant-api03-Wm4Nq8Rx2Ty6Uz0Vb3Cd7Ef1Gh5Jk9Lp-AAAA";
/// Not in the environment: redacted by shape.
const SLACK_TOKEN: &str = "xoxb-2024-1234567890-QwErTyUiOpAsDfGh";

const PLAN: &str = "# Milestone 1: Greeter\n\n## Task 1.1: Validate the greeter\n\n**Type:** VALIDATION\n\nRun the e2e scenario.\n\n**Acceptance Criteria:**\n- [ ] scenario passes\n";

/// Whether `text` holds any secret, or enough of one to matter (a cut one's start or end).
fn leaks(text: &str) -> Vec<&'static str> {
    [GITHUB_TOKEN, ANTHROPIC_KEY, SLACK_TOKEN]
        .into_iter()
        .filter(|secret| {
            let (start, end) = (&secret[..12], &secret[secret.len() - 12..]);
            text.contains(start) || text.contains(end)
        })
        .collect()
}

/// Every file under `dir`, with its text.
fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            files.push((path, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    files
}

/// A one-task milestone whose agent prints the secrets every way it can, and whose gate prints
/// them on its first run and passes once the agent fixed things.
fn leaky_project() -> Project {
    let project = Project::new(PLAN);
    project.write(
        "kmilestone.toml",
        &format!(
            "[gates]\ncommands = [\"test -f work/fixed.txt || {{ echo 'auth failed: {GITHUB_TOKEN} {ANTHROPIC_KEY}'; echo 'slack {SLACK_TOKEN}'; exit 1; }}\"]\n[run]\nretries = 2\n"
        ),
    );
    project.commit_all("Leaky gate");
    let mut first = vec![
        json!({"text": format!("Using {GITHUB_TOKEN} and {ANTHROPIC_KEY}; also {SLACK_TOKEN}.")}),
        json!({"garbage": format!("not json: {ANTHROPIC_KEY}")}),
        json!({"sh": format!("echo {GITHUB_TOKEN} > /dev/null; echo \"key $ANTHROPIC_API_KEY\" >&2; exit 3")}),
        json!({"sh": "printf 'token %s\\n' \"$GITHUB_TOKEN\""}),
    ];
    first.extend(good_actions().as_array().unwrap().iter().cloned());
    first.push(
        json!({"append": HANDOFF, "text": format!("**E2E:** login as {GITHUB_TOKEN} — PASSED\n")}),
    );
    first.push(json!({"sh": "git add -A && git commit -qm 'E2E result'"}));
    project.scenario(json!({
        "invocations": [
            {"actions": first, "result": {"text": format!("Done; pushed with {GITHUB_TOKEN}")}},
            {"actions": [
                {"write": "work/fixed.txt", "content": "fixed\n"},
                {"sh": "git add -A && git commit -qm 'Fix the gate'"}
            ]}
        ]
    }));
    project
}

fn run_with_secrets(project: &Project, args: &[&str]) -> Run {
    let mut all = vec!["run", PLAN_NAME];
    all.extend_from_slice(args);
    let output = project
        .command(&all)
        .env("GITHUB_TOKEN", GITHUB_TOKEN)
        .env("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        .output()
        .unwrap();
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        output,
    }
}

/// Asserts that no secret is on screen or anywhere under the state folder, and returns the
/// events log's text.
fn assert_nothing_leaked(project: &Project, run: &Run) -> String {
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(
        project.calls().len(),
        2,
        "the gate failed once: {}",
        run.describe()
    );
    assert_eq!(
        leaks(&run.stdout),
        Vec::<&str>::new(),
        "stdout: {}",
        run.stdout
    );
    assert_eq!(
        leaks(&run.stderr),
        Vec::<&str>::new(),
        "stderr: {}",
        run.stderr
    );
    let files = files_under(&project.state_base());
    for (path, text) in &files {
        assert_eq!(
            leaks(text),
            Vec::<&str>::new(),
            "{}: {text}",
            path.display()
        );
    }
    let body = project.read_state("pr-body.md");
    assert!(
        body.contains("- 1.1: login as [REDACTED:GITHUB_TOKEN] — PASSED"),
        "{body}"
    );
    let events = files
        .iter()
        .find(|(path, _)| path.ends_with("events.jsonl"))
        .map(|(_, text)| text.clone())
        .expect("an events log");
    for marker in [
        "[REDACTED:GITHUB_TOKEN]",
        "[REDACTED:ANTHROPIC_API_KEY]",
        "[REDACTED:slack-token]",
    ] {
        assert!(events.contains(marker), "{marker} in the log: {events}");
    }
    events
}

#[test]
fn a_secret_in_the_environment_and_in_agent_output_appears_nowhere_on_disk_or_screen() {
    let project = leaky_project();
    let run = run_with_secrets(&project, &["-v"]);
    assert_nothing_leaked(&project, &run);
    // On screen, the redacted gate output explains the failure; the debug log had the agent's
    // unreadable line.
    assert!(
        run.stdout
            .contains("auth failed: [REDACTED:GITHUB_TOKEN] [REDACTED:ANTHROPIC_API_KEY]"),
        "{}",
        run.describe()
    );
    assert!(
        run.stderr
            .contains("not json: [REDACTED:ANTHROPIC_API_KEY]"),
        "{}",
        run.describe()
    );
    for args in [&["report", PLAN_NAME][..], &["report", PLAN_NAME, "--json"]] {
        let report = project
            .command(args)
            .env("GITHUB_TOKEN", GITHUB_TOKEN)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&report.stdout);
        assert!(report.status.success(), "{text}");
        assert_eq!(leaks(&text), Vec::<&str>::new(), "{text}");
        assert!(text.contains("[REDACTED:GITHUB_TOKEN]"), "{text}");
    }
}

#[test]
fn json_output_is_redacted_and_every_line_still_parses() {
    let project = leaky_project();
    let run = run_with_secrets(&project, &["--json"]);
    let events = assert_nothing_leaked(&project, &run);
    for text in [run.stdout.as_str(), events.as_str()] {
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|err| panic!("{err}: {line}"));
        }
    }
    let results: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|event| event["data"]["event"]["kind"] == "tool_result")
        .map(|event| event["data"]["event"]["summary"].clone())
        .collect();
    assert!(
        results.contains(&json!("no output")) && results.contains(&json!("1 line")),
        "tool results are summaries, not output: {results:?}"
    );
    assert!(
        results.contains(&json!("key [REDACTED:ANTHROPIC_API_KEY] (1 line)")),
        "a failed call's first line, redacted: {results:?}"
    );
}

/// Paths under `dir` (itself included) that group or others may read, write or enter.
fn not_private(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mode = std::fs::symlink_metadata(dir).unwrap().permissions().mode();
    if mode & 0o077 != 0 {
        found.push(format!("{} {:o}", dir.display(), mode & 0o777));
    }
    if std::fs::symlink_metadata(dir).unwrap().is_dir() {
        for entry in std::fs::read_dir(dir).unwrap() {
            found.extend(not_private(&entry.unwrap().path()));
        }
    }
    found
}

#[test]
fn nothing_kmilestone_writes_is_readable_by_others() {
    let project = Project::new(PLAN_3);
    project.write(
        HANDOFF,
        "# Handoff M1\n\n## Task 1.1 Complete: greeting\n\nUse greet().\n",
    );
    project.commit_all("Task 1.1");
    // The agent rewrites the handoff: its version is kept for the user to read, and the gate
    // fails once, so the state records problems.
    project.write(
        "kmilestone.toml",
        "[gates]\ncommands = [\"test -f work/fixed.txt || { echo broken; exit 1; }\"]\n",
    );
    project.commit_all("Gate");
    project.scenario(json!({"invocations": [
        {"actions": [
            {"write": HANDOFF, "content": "# Handoff M1\n\n## Task {task} Complete: done\n"},
            {"sh": "git add -A && git commit -qm 'Task {task}'"}
        ]},
        {"actions": [
            {"write": "work/fixed.txt", "content": "fixed\n"},
            {"sh": "git add -A && git commit -qm 'Fix'"}
        ]}
    ]}));
    let run = project.kmilestone_run(&["--only", "1.2"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let files: Vec<String> = files_under(&project.state_base())
        .into_iter()
        .map(|(path, _)| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "state.json",
        "lock",
        "events.jsonl",
        "report.md",
        "report.json",
    ] {
        assert!(
            files.iter().any(|f| f == expected),
            "{expected} in {files:?}"
        );
    }
    assert!(
        files.iter().any(|f| f.starts_with("handoff-rejected-")),
        "the agent's handoff is kept: {files:?}"
    );
    assert_eq!(not_private(&project.state_base()), Vec::<String>::new());
}
