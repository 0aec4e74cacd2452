//! `kmilestone run` driving the real Claude Code CLI, which talks to the scripted API mock: the
//! task loop judged on the real stream, with real tool calls changing a scratch repository under
//! kmilestone's default permission settings (sandbox mode: the agent adds its files by name).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::require_claude;
use crate::support::claude::{ClaudeEnv, ClaudeRun, run_with_timeout};
use crate::support::git_repo::TempRepo;
use crate::support::mock_anthropic::{Expect, MockAnthropic, RecordedRequest, Script, Turn, Usage};

const PLAN_NAME: &str = "M1_greeter.md";
const HANDOFF: &str = "HANDOFF_M1.md";
const PLAN: &str = "# Milestone 1: Greeter\n\n## Task 1.1: Greeting module\n\n**Type:** CODING\n\nWrite greet.txt with a greeting.\n\n**Acceptance Criteria:**\n- [ ] greet.txt exists\n\n## Task 1.2: Farewell module\n\n**Type:** CODING\n\nWrite bye.txt with a farewell.\n\n**Acceptance Criteria:**\n- [ ] bye.txt exists\n";
/// The gate: the greeting of task 1.1 must exist.
const MAKEFILE: &str = "test-unit:\n\ttest -f greet.txt\n";
const GATE: &str = "make test-unit";

/// Whole-run limit: generous for a busy machine, far below anything that looks like a hang.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// How kmilestone finds the CLI in a test.
#[derive(Clone, Copy)]
enum Wiring {
    /// `[agent.claude] binary` names the CLI.
    Config,
    /// `[agent.claude] binary` names a wrapper that records the CLI's stdout.
    RecordedConfig,
    /// `KMILESTONE_CLAUDE_BIN` names that recording wrapper.
    RecordedEnv,
}

/// A scratch repository holding the plan, its gate and a `kmilestone.toml`.
struct RealProject {
    repo: TempRepo,
    /// Holds the recording wrapper of the CLI and its log.
    tools: TempDir,
    /// The value of `KMILESTONE_CLAUDE_BIN`, if set.
    env_binary: Option<PathBuf>,
}

impl RealProject {
    fn new(claude: &Path, wiring: Wiring, retries: u32) -> RealProject {
        RealProject::with_permission(claude, wiring, retries, None)
    }

    /// A project whose `kmilestone.toml` sets `[agent.claude] permission` when given.
    fn with_permission(
        claude: &Path,
        wiring: Wiring,
        retries: u32,
        permission: Option<&str>,
    ) -> RealProject {
        let tools = tempfile::Builder::new()
            .prefix("kmilestone-tools-")
            .tempdir()
            .expect("temp dir");
        let stream_log = tools.path().join("stream.jsonl");
        let recorded = || recording_wrapper(claude, tools.path(), &stream_log);
        let (config_binary, env_binary) = match wiring {
            Wiring::Config => (Some(claude.to_path_buf()), None),
            Wiring::RecordedConfig => (Some(recorded()), None),
            Wiring::RecordedEnv => (None, Some(recorded())),
        };
        let mut toml = String::from("[agent.claude]\n");
        if let Some(binary) = config_binary {
            toml.push_str(&format!("binary = '{}'\n", binary.display()));
        }
        if let Some(permission) = permission {
            toml.push_str(&format!("permission = \"{permission}\"\n"));
        }
        toml.push('\n');
        toml.push_str(&format!(
            "[gates]\ncommands = [\"{GATE}\"]\n\n[run]\nretries = {retries}\n"
        ));
        let repo = TempRepo::with_files(&[
            (PLAN_NAME, PLAN),
            ("Makefile", MAKEFILE),
            ("kmilestone.toml", &toml),
        ]);
        RealProject {
            repo,
            tools,
            env_binary,
        }
    }

    fn file(&self, rel: &str) -> String {
        self.repo.file_str(rel)
    }

    /// `kmilestone run M1_greeter.md <args>` with the CLI's environment applied, stdin at
    /// /dev/null (no human attached) and short supervision limits.
    fn run(&self, env: &ClaudeEnv, args: &[&str]) -> ClaudeRun {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kmilestone"));
        cmd.arg("run")
            .arg(PLAN_NAME)
            .args(args)
            .current_dir(self.repo.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        env.apply(&mut cmd);
        cmd.env("KMILESTONE_IDLE_TIMEOUT", "60s")
            .env("KMILESTONE_TASK_TIMEOUT", "120s")
            .env("KMILESTONE_RESULT_GRACE", "5s")
            .env("KMILESTONE_KILL_GRACE", "2s")
            .env("NO_COLOR", "1")
            .env("KMILESTONE_STATE_DIR", self.tools.path().join("state"))
            .env_remove("KMILESTONE_CLAUDE_BIN")
            .env_remove("KMILESTONE_AGENT")
            .env_remove("KMILESTONE_RETRIES")
            .env_remove("KMILESTONE_GATE_TIMEOUT");
        if let Some(binary) = &self.env_binary {
            cmd.env("KMILESTONE_CLAUDE_BIN", binary);
        }
        run_with_timeout(cmd, b"", RUN_TIMEOUT)
    }

    /// A file of M1's state folder (the only repository under this project's state base).
    fn read_state_file(&self, name: &str) -> String {
        let base = self.tools.path().join("state");
        let repo = std::fs::read_dir(&base)
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.unwrap().path());
        repo.and_then(|r| std::fs::read_to_string(r.join("M1").join(name)).ok())
            .unwrap_or_default()
    }

    fn stream_log(&self) -> PathBuf {
        self.tools.path().join("stream.jsonl")
    }

    /// The lines the CLI printed, as recorded by the wrapper, of one type (`result`, `system`).
    fn stream_lines(&self, line_type: &str) -> Vec<Value> {
        std::fs::read_to_string(self.stream_log())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["type"] == line_type)
            .collect()
    }

    /// report.json, with the records of the tasks a run worked on as `tasks` and the milestone's
    /// totals as `totals`, for short assertions.
    fn report_json(&self) -> Value {
        let text = self.read_state_file("report.json");
        let mut report: Value = serde_json::from_str(&text).expect("report.json is JSON");
        let records: Vec<Value> = report["milestone"]["tasks"]
            .as_array()
            .expect("milestone tasks")
            .iter()
            .map(|t| t["record"].clone())
            .filter(|r| !r.is_null())
            .collect();
        report["tasks"] = Value::Array(records);
        report["totals"] = report["milestone"]["totals"].clone();
        report
    }

    fn state_json(&self) -> Value {
        let state = crate::support::state::folded(
            &self.read_state_file("state.json"),
            &self.read_state_file("state.log"),
        );
        assert!(!state.is_null(), "state.json is JSON");
        state
    }
}

/// A wrapper around the CLI that also appends its stdout to `log`, so a test can compare
/// kmilestone's report with the CLI's own `result` lines. Returns the wrapper's path.
fn recording_wrapper(claude: &Path, dir: &Path, log: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let wrapper = dir.join("claude-recorded");
    let script = format!(
        "#!/usr/bin/env bash\nset -o pipefail\n'{}' \"$@\" | tee -a '{}'\n",
        claude.display(),
        log.display()
    );
    std::fs::write(&wrapper, script).expect("write wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
        .expect("chmod wrapper");
    wrapper
}

fn usage(input: u64, output: u64, cache_write: u64, cache_read: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_creation_input_tokens: cache_write,
        cache_read_input_tokens: cache_read,
    }
}

fn sum(usages: &[Usage]) -> Usage {
    usages.iter().fold(usage(0, 0, 0, 0), |acc, u| {
        usage(
            acc.input_tokens + u.input_tokens,
            acc.output_tokens + u.output_tokens,
            acc.cache_creation_input_tokens + u.cache_creation_input_tokens,
            acc.cache_read_input_tokens + u.cache_read_input_tokens,
        )
    })
}

/// A usage object as kmilestone and the CLI both spell it.
fn usage_json(u: Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_creation_input_tokens,
        "cache_read_input_tokens": u.cache_read_input_tokens,
    })
}

fn total(u: Usage) -> u64 {
    u.input_tokens + u.output_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
}

/// The four token counts of a `usage` object (extra fields the CLI adds are left out).
fn token_counts(value: &Value) -> Value {
    json!({
        "input_tokens": value["input_tokens"],
        "output_tokens": value["output_tokens"],
        "cache_creation_input_tokens": value["cache_creation_input_tokens"],
        "cache_read_input_tokens": value["cache_read_input_tokens"],
    })
}

/// The prompt kmilestone sent: the last text block of the request's first user message.
fn prompt_of(request: &RecordedRequest) -> String {
    request
        .first_user_texts()
        .last()
        .cloned()
        .unwrap_or_default()
}

fn session_of(request: &RecordedRequest) -> String {
    request
        .session_id
        .clone()
        .expect("the request names its session")
}

#[test]
fn a_two_task_milestone_is_built_committed_and_accounted() {
    let claude = require_claude!();
    let project = RealProject::new(&claude, Wiring::RecordedConfig, 2);
    let greet = project.file("greet.txt");
    let bye = project.file("bye.txt");
    let handoff = project.file(HANDOFF);
    let first_section =
        "# Handoff M1\n\n## Task 1.1 Complete: Greeting module\n\ngreet.txt holds the greeting.\n";
    let second_section = "\n## Task 1.2 Complete: Farewell module\n\nbye.txt holds the farewell.\n";
    let task1 = [
        usage(1200, 30, 500, 0),
        usage(1300, 25, 0, 1700),
        usage(1400, 20, 0, 1800),
        usage(1500, 15, 0, 1900),
    ];
    let task2 = [
        usage(2100, 40, 600, 0),
        usage(2200, 35, 0, 2600),
        usage(2300, 30, 0, 2700),
        usage(2400, 25, 0, 2800),
        usage(2500, 20, 0, 2900),
        usage(2600, 15, 0, 3000),
    ];
    let mock = MockAnthropic::start(
        Script::new().turns([
            // Task 1.1, first session: the prompt carries the task and says there is no handoff yet.
            Turn::write(&greet, "Hello!\n")
                .usage(task1[0])
                .expect_prompt("## Current Task\n\n## Task 1.1: Greeting module")
                .expect_prompt("(no handoff yet"),
            Turn::write(&handoff, first_section)
                .usage(task1[1])
                .expect_tool_result("File created"),
            Turn::bash("git add greet.txt HANDOFF_M1.md && git commit -m 'Task 1.1: greeting'")
                .usage(task1[2])
                .expect_tool_result("File created"),
            Turn::reply("Task 1.1 is done.")
                .usage(task1[3])
                .expect_tool_result("Task 1.1: greeting"),
            // Task 1.2, a new session: the prompt carries the handoff so far and the second task only.
            Turn::read(&handoff)
                .usage(task2[0])
                .expect_prompt("greet.txt holds the greeting.")
                .expect_prompt("- Completed tasks: 1.1\n")
                .expect_prompt("## Current Task\n\n## Task 1.2: Farewell module")
                .expect_that("the prompt leaves out task 1.1's plan text", |r| {
                    !prompt_of(r).contains("## Task 1.1: Greeting module")
                }),
            Turn::edit(
                &handoff,
                "greet.txt holds the greeting.\n",
                format!("greet.txt holds the greeting.\n{second_section}"),
            )
            .usage(task2[1])
            .expect_tool_result("greet.txt holds the greeting."),
            Turn::write(&bye, "Goodbye!\n")
                .usage(task2[2])
                .expect_tool_result("updated successfully"),
            Turn::bash(GATE)
                .usage(task2[3])
                .expect_tool_result("File created"),
            Turn::bash("git add bye.txt HANDOFF_M1.md && git commit -m 'Task 1.2: farewell'")
                .usage(task2[4])
                .expect_tool_result("test -f greet.txt")
                .expect(Expect::ToolResultIsError(false)),
            Turn::reply("Task 1.2 is done.")
                .usage(task2[5])
                .expect_tool_result("Task 1.2: farewell"),
        ]),
    );
    let env = ClaudeEnv::new(&mock);

    let run = project.run(&env, &[]);

    mock.assert_script_done();
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        run.stdout.starts_with(
            "Milestone: M1 - Greeter (2 tasks)\nCompleted: (none - fresh start)\nStarting from: 1.1\n"
        ),
        "{}",
        run.describe()
    );
    for expected in [
        "✓ gate make test-unit",
        "✓ Task 1.1 complete (1 attempt",
        "✓ Task 1.2 complete (1 attempt",
        "## Milestone Complete: M1 - Greeter",
        "**Tasks completed:** 2/2",
        "**Quality gates:** make test-unit ✓",
        "gh pr create --title 'M1: Greeter'",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?}\n{}",
            run.describe()
        );
    }

    // What the CLI's tools really did.
    assert_eq!(project.repo.read("greet.txt"), "Hello!\n");
    assert_eq!(project.repo.read("bye.txt"), "Goodbye!\n");
    assert_eq!(
        project.repo.read(HANDOFF),
        format!("{first_section}{second_section}")
    );
    assert_eq!(
        project.repo.log_subjects(),
        ["Task 1.2: farewell", "Task 1.1: greeting", "Initial commit"]
    );
    assert_eq!(
        project.repo.status(),
        "",
        "kmilestone's state stays ignored"
    );

    // A fresh session per task, under the default permissions, with nothing denied.
    let requests = mock.requests();
    assert_eq!(requests.len(), 10);
    let first_session = session_of(&requests[0]);
    let second_session = session_of(&requests[4]);
    assert_ne!(first_session, second_session);
    assert!(requests[..4].iter().all(|r| session_of(r) == first_session));
    assert!(
        requests[4..]
            .iter()
            .all(|r| session_of(r) == second_session)
    );
    let inits = project.stream_lines("system");
    let inits: Vec<&Value> = inits.iter().filter(|l| l["subtype"] == "init").collect();
    assert_eq!(inits.len(), 2);
    for init in &inits {
        assert_eq!(init["permissionMode"], "dontAsk", "{init}");
        assert_eq!(
            init["sandbox_enabled"], true,
            "the default is sandbox mode: {init}"
        );
    }
    let results = project.stream_lines("result");
    assert_eq!(results.len(), 2, "one result line per task");
    for result in &results {
        assert_eq!(result["is_error"], false, "{result}");
        assert_eq!(result["permission_denials"], json!([]), "{result}");
    }

    // Tokens as the mock reported them, carried by the result lines into the report; cost as the
    // CLI computed it.
    let expected = [sum(&task1), sum(&task2)];
    let report = project.report_json();
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["outcome"], "complete");
    let tasks = report["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 2);
    for ((task, result), expected) in tasks.iter().zip(&results).zip(expected) {
        assert_eq!(task["result"], "completed", "{task}");
        assert_eq!(task["attempts"], 1, "{task}");
        assert_eq!(token_counts(&result["usage"]), usage_json(expected));
        assert_eq!(task["totals"]["usage"], usage_json(expected), "{task}");
        let cost = result["total_cost_usd"].as_f64().expect("total_cost_usd");
        assert!(cost > 0.0, "{result}");
        assert_eq!(task["totals"]["cost_usd"].as_f64(), Some(cost), "{task}");
        assert_eq!(task["commits"].as_array().map(Vec::len), Some(1), "{task}");
    }
    let run_usage = sum(&expected);
    let run_cost: f64 = results
        .iter()
        .map(|r| r["total_cost_usd"].as_f64().unwrap())
        .sum();
    assert_eq!(report["totals"]["usage"], usage_json(run_usage));
    let reported_cost = report["totals"]["cost_usd"].as_f64().expect("cost");
    assert!(
        (reported_cost - run_cost).abs() < 1e-9,
        "{reported_cost} vs {run_cost}"
    );

    let md = project.read_state_file("report.md");
    assert!(md.contains("Outcome: **complete** (exit code 0)"), "{md}");
    for (row, (result, expected)) in [
        "| 1.1 Greeting module | completed | 1 |",
        "| 1.2 Farewell module | completed | 1 |",
    ]
    .iter()
    .zip(results.iter().zip(expected))
    {
        let line = md
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no row {row:?} in\n{md}"));
        let cost = format!("${:.4}", result["total_cost_usd"].as_f64().unwrap());
        assert!(
            line.contains(&format!("| {cost} | {} |", total(expected))),
            "{line}"
        );
    }
    assert!(
        md.contains(&format!(
            "Total: ${run_cost:.4}, {} tokens ({} in, {} out, {} cache read, {} cache write)",
            total(run_usage),
            run_usage.input_tokens,
            run_usage.output_tokens,
            run_usage.cache_read_input_tokens,
            run_usage.cache_creation_input_tokens
        )),
        "{md}"
    );
    assert!(
        run.stdout.contains(&format!(
            "**Agent cost:** ${run_cost:.4}, {} tokens",
            total(run_usage)
        )),
        "{}",
        run.describe()
    );
}

#[test]
fn a_forgotten_handoff_section_is_fixed_in_the_resumed_session() {
    let claude = require_claude!();
    // The CLI comes from the environment this time.
    let project = RealProject::new(&claude, Wiring::RecordedEnv, 2);
    let greet = project.file("greet.txt");
    let handoff = project.file(HANDOFF);
    let section = "## Task 1.1 Complete: Greeting module\n\ngreet.txt holds the greeting.\n";
    let turns = [
        usage(1000, 20, 400, 0),
        usage(1100, 15, 0, 1400),
        usage(1200, 10, 0, 1500),
        usage(1300, 25, 0, 1600),
        usage(1400, 20, 0, 1700),
        usage(1500, 15, 0, 1800),
    ];
    let mock = MockAnthropic::start(
        Script::new().turns([
            Turn::write(&greet, "Hello!\n")
                .usage(turns[0])
                .expect_prompt("## Task 1.1: Greeting module"),
            Turn::bash("git add greet.txt && git commit -m 'Add the greeting'")
                .usage(turns[1])
                .expect_tool_result("File created"),
            // The first session ends without the handoff section.
            Turn::reply("The greeting is written and committed.")
                .usage(turns[2])
                .expect_tool_result("Add the greeting"),
            // The fix attempt: kmilestone's report arrives in the same conversation.
            Turn::write(&handoff, section)
                .usage(turns[3])
                .expect_prompt("has no new `## Task 1.1 Complete: Greeting module` section")
                .expect(Expect::ConversationContains(
                    "The greeting is written and committed.".into(),
                ))
                .expect(Expect::ConversationContains(
                    "## Task 1.1: Greeting module".into(),
                )),
            Turn::bash("git add HANDOFF_M1.md && git commit -m 'Hand off task 1.1'")
                .usage(turns[4])
                .expect_tool_result("File created"),
            Turn::reply("The handoff section is there now.")
                .usage(turns[5])
                .expect_tool_result("Hand off task 1.1"),
        ]),
    );
    let env = ClaudeEnv::new(&mock);

    let run = project.run(&env, &["--to", "1.1"]);

    mock.assert_script_done();
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let requests = mock.requests();
    assert_eq!(requests.len(), 6);
    let session = session_of(&requests[0]);
    assert!(
        requests.iter().all(|r| session_of(r) == session),
        "the fix attempt resumes the first session"
    );
    // The resumed request carries the first attempt's tool calls.
    let earlier: Vec<String> = requests[3]
        .assistant_tool_uses()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(earlier, ["Write", "Bash"]);
    for expected in [
        "✗ verification failed (attempt 1), sending back to the agent:",
        "has no new `## Task 1.1 Complete: Greeting module` section",
        &format!("attempt 2 (resuming session {session})"),
        "✓ Task 1.1 complete (2 attempts",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?}\n{}",
            run.describe()
        );
    }
    assert_eq!(project.repo.read(HANDOFF), section);
    assert_eq!(
        project.repo.log_subjects(),
        ["Hand off task 1.1", "Add the greeting", "Initial commit"]
    );
    assert_eq!(project.repo.status(), "");

    // Tokens add up over both invocations; the session's cost is cumulative, so it counts once.
    let results = project.stream_lines("result");
    assert_eq!(results.len(), 2);
    let first_cost = results[0]["total_cost_usd"].as_f64().unwrap();
    let session_cost = results[1]["total_cost_usd"].as_f64().unwrap();
    assert!(session_cost > first_cost && first_cost > 0.0);
    let report = project.report_json();
    let task = &report["tasks"][0];
    assert_eq!(task["attempts"], 2, "{task}");
    assert_eq!(task["totals"]["usage"], usage_json(sum(&turns)), "{task}");
    assert_eq!(task["totals"]["cost_usd"].as_f64(), Some(session_cost));
    let state = project.state_json();
    assert_eq!(state["tasks"]["1.1"]["sessions"], json!([session]));
}

#[test]
fn a_persistent_api_error_fails_the_task_with_its_status() {
    let claude = require_claude!();
    let project = RealProject::new(&claude, Wiring::Config, 1);
    let mock = MockAnthropic::start(
        Script::new().turn(
            Turn::error(529)
                .retry_after(0)
                .error_message("Overloaded")
                .forever(),
        ),
    );
    // The CLI retries each failed request once itself.
    let env = ClaudeEnv::new(&mock).max_retries(1);

    let run = project.run(&env, &[]);

    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert!(
        run.elapsed < Duration::from_secs(90),
        "took {:?}",
        run.elapsed
    );
    for expected in [
        "✗ agent ended with an error after",
        "the agent's run ended with an error (API status 529): API Error: 529 Overloaded",
        "✗ Task 1.1 failed",
        "Task 1.1 failed verification after 2 attempts",
        "(exit code 1)",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?}\n{}",
            run.describe()
        );
    }
    assert!(
        !run.stdout.contains("Milestone Complete"),
        "{}",
        run.describe()
    );
    // The CLI says `subtype: "success"` even for this failure; the user is not told so.
    assert!(!run.stdout.contains("(success"), "{}", run.describe());
    // Two attempts (the first and one fix), each a request and the CLI's own retry.
    assert_eq!(mock.requests().len(), 4);
    assert!(mock.failures().is_empty(), "{:?}", mock.failures());
    assert_eq!(project.repo.log_subjects(), ["Initial commit"]);
    assert!(!project.repo.file(HANDOFF).exists());
    let report = project.report_json();
    assert_eq!(report["outcome"], "failed");
    let problems = report["tasks"][0]["problems"].to_string();
    assert!(problems.contains("API status 529"), "{problems}");
}

#[test]
fn a_question_exits_4_and_the_answer_resumes_the_session() {
    let claude = require_claude!();
    let project = RealProject::new(&claude, Wiring::Config, 2);
    let greet = project.file("greet.txt");
    let handoff = project.file(HANDOFF);
    let question = "Should the greeting be in English or in French?";
    let mock = MockAnthropic::start(Script::new().turns([
        Turn::reply(format!(
            "Before I write anything I need a decision.\n\nQUESTION: {question}\nOPTIONS:\n- English\n- French\nRECOMMENDATION: English, like the rest of the project"
        ))
        .expect_prompt("## Task 1.1: Greeting module"),
        // The answer, in the same conversation as the question.
        Turn::write(&greet, "Bonjour !\n")
            .expect_prompt("French, for the Paris office")
            .expect(Expect::ConversationContains(question.into())),
        Turn::write(
            &handoff,
            "## Task 1.1 Complete: Greeting module\n\nThe greeting is French, as the human asked.\n",
        )
        .expect_tool_result("File created"),
        Turn::bash("git add greet.txt HANDOFF_M1.md && git commit -m 'French greeting'").expect_tool_result("File created"),
        Turn::reply("Done: the greeting is French.").expect_tool_result("French greeting"),
    ]));
    let env = ClaudeEnv::new(&mock);

    let asked = project.run(&env, &[]);

    assert_eq!(asked.code(), Some(4), "{}", asked.describe());
    for expected in [
        "? The agent asks (task 1.1):",
        question,
        "1. English",
        "2. French",
        "Recommendation: English, like the rest of the project",
        "--answer",
    ] {
        assert!(
            asked.stdout.contains(expected),
            "{expected:?}\n{}",
            asked.describe()
        );
    }
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(project.report_json()["outcome"], "question");
    assert!(!project.repo.file("greet.txt").exists());
    assert_eq!(project.repo.log_subjects(), ["Initial commit"]);
    let session = session_of(&mock.requests()[0]);
    assert_eq!(
        project.state_json()["pending_question"]["session_id"],
        session.as_str()
    );

    let answered = project.run(
        &env,
        &["--answer", "French, for the Paris office", "--to", "1.1"],
    );

    mock.assert_script_done();
    assert_eq!(answered.code(), Some(0), "{}", answered.describe());
    assert!(
        answered
            .stdout
            .contains(&format!("resuming session {session}")),
        "{}",
        answered.describe()
    );
    assert!(
        answered.stdout.contains("✓ Task 1.1 complete"),
        "{}",
        answered.describe()
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 5);
    assert!(
        requests.iter().all(|r| session_of(r) == session),
        "the answer goes to the session that asked"
    );
    assert_eq!(project.repo.read("greet.txt"), "Bonjour !\n");
    assert_eq!(
        project.repo.log_subjects(),
        ["French greeting", "Initial commit"]
    );
    assert_eq!(project.repo.status(), "");
    assert!(project.state_json()["pending_question"].is_null());
}

/// In allowlist mode a command no rule allows is refused, and reported with the rule that would
/// allow it. (In sandbox mode it would run: `sandbox_runs.rs`.)
#[test]
fn a_denied_tool_call_is_reported_as_such() {
    let claude = require_claude!();
    let project = RealProject::with_permission(&claude, Wiring::Config, 0, Some("allowlist"));
    let mock = MockAnthropic::start(
        Script::new().turns([
            Turn::bash("touch stray.txt").expect_prompt("## Task 1.1: Greeting module"),
            // dontAsk answers the call with an error instead of running it.
            Turn::reply("I could not prepare the workspace, so I stopped.")
                .expect(Expect::ToolResultIsError(true)),
        ]),
    );
    let env = ClaudeEnv::new(&mock);

    let run = project.run(&env, &[]);

    mock.assert_script_done();
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    for expected in [
        "✗ verification failed (attempt 1), no fix attempts left:",
        "tool calls were denied by the permission settings: Bash(touch stray.txt); the only commands allowed are git add/commit/status/diff/log, make test-unit",
        "✗ Task 1.1 failed",
        "  ⊘ command `touch stray.txt` was refused; the setting that would allow it is [agent.claude] allowed_tools = [\"Bash(touch stray.txt:*)\"]",
        "Task 1.1 failed verification after 1 attempt",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?}\n{}",
            run.describe()
        );
    }
    assert!(
        !run.stdout.contains("Milestone Complete"),
        "{}",
        run.describe()
    );
    assert!(
        !project.repo.file("stray.txt").exists(),
        "the command never ran"
    );
    assert_eq!(project.repo.log_subjects(), ["Initial commit"]);
    let report = project.report_json();
    assert_eq!(report["outcome"], "failed");
    assert_eq!(report["tasks"][0]["result"], "failed");
    let problems = report["tasks"][0]["problems"].to_string();
    assert!(problems.contains("denied"), "{problems}");
    assert!(problems.contains("touch stray.txt"), "{problems}");
}
