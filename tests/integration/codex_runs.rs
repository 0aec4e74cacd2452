//! `kmilestone run` with `[agent] name = "codex"` driving the pinned Codex CLI, which talks to the
//! scripted Responses API mock: the task loop judged on the real `exec --json` stream, with real
//! `apply_patch` edits and commands changing a scratch repository under Codex's own
//! `workspace-write` sandbox, where `.git` is read-only and the runner commits.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::require_codex;
use crate::support::claude::{ClaudeRun, run_with_timeout};
use crate::support::codex::CodexEnv;
use crate::support::git_repo::TempRepo;
use crate::support::mock_openai::{Expect, MockOpenAi, RecordedRequest, Script, Turn};

const PLAN_NAME: &str = "M1_greeter.md";
const HANDOFF: &str = "HANDOFF_M1.md";
const PLAN: &str = "# Milestone 1: Greeter\n\n## Task 1.1: Greeting module\n\n**Type:** CODING\n\nWrite greet.txt with a greeting.\n\n**Acceptance Criteria:**\n- [ ] greet.txt exists\n\n## Task 1.2: Farewell module\n\n**Type:** CODING\n\nWrite bye.txt with a farewell.\n\n**Acceptance Criteria:**\n- [ ] bye.txt exists\n";
/// The gate: the greeting of task 1.1 must exist.
const MAKEFILE: &str = "test-unit:\n\ttest -f greet.txt\n";
const GATE: &str = "make test-unit";
const FIRST_SECTION: &str =
    "# Handoff M1\n\n## Task 1.1 Complete: Greeting module\n\ngreet.txt holds the greeting.\n";

/// Dollars per million tokens the project's config gives the mock's model.
const PRICE_INPUT: f64 = 1.25;
const PRICE_CACHED: f64 = 0.125;
const PRICE_OUTPUT: f64 = 10.0;

/// Whole-run limit: generous for a busy machine, far below anything that looks like a hang.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// A scratch repository holding the plan, its gate and a `kmilestone.toml` naming Codex.
struct CodexProject {
    repo: TempRepo,
    /// Holds kmilestone's state.
    tools: TempDir,
}

impl CodexProject {
    fn new(codex: &Path, retries: u32) -> CodexProject {
        let toml = format!(
            "[agent]\nname = \"codex\"\n\n[agent.codex]\nbinary = '{}'\nmodel = \"gpt-5.5\"\n\n[agent.codex.prices]\n\"gpt-5.5\" = {{ input = {PRICE_INPUT}, cached_input = {PRICE_CACHED}, output = {PRICE_OUTPUT} }}\n\n[gates]\ncommands = [\"{GATE}\"]\n\n[run]\nretries = {retries}\n",
            codex.display()
        );
        let repo = TempRepo::with_files(&[
            (PLAN_NAME, PLAN),
            ("Makefile", MAKEFILE),
            ("kmilestone.toml", &toml),
        ]);
        let tools = tempfile::Builder::new()
            .prefix("kmilestone-tools-")
            .tempdir()
            .expect("temp dir");
        CodexProject { repo, tools }
    }

    /// `kmilestone run M1_greeter.md <args>` with Codex's environment applied, stdin at
    /// /dev/null (no human attached) and short supervision limits.
    fn run(&self, env: &CodexEnv, args: &[&str]) -> ClaudeRun {
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
            .env_remove("KMILESTONE_CODEX_BIN")
            .env_remove("KMILESTONE_AGENT")
            .env_remove("KMILESTONE_RETRIES")
            .env_remove("KMILESTONE_GATE_TIMEOUT");
        run_with_timeout(cmd, b"", RUN_TIMEOUT)
    }

    /// A file of M1's state folder (the only repository under this project's state base).
    fn state_file(&self, name: &str) -> String {
        let base = self.tools.path().join("state");
        let repo = std::fs::read_dir(&base)
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.expect("state entry").path());
        repo.and_then(|r| std::fs::read_to_string(r.join("M1").join(name)).ok())
            .unwrap_or_default()
    }

    fn state_json(&self) -> Value {
        let state = crate::support::state::folded(
            &self.state_file("state.json"),
            &self.state_file("state.log"),
        );
        assert!(!state.is_null(), "state.json is JSON");
        state
    }

    fn report_json(&self) -> Value {
        serde_json::from_str(&self.state_file("report.json")).expect("report.json is JSON")
    }

    /// report.json's record of task `id`.
    fn task_report(&self, id: &str) -> Value {
        let report = self.report_json();
        report["milestone"]["tasks"]
            .as_array()
            .expect("milestone tasks")
            .iter()
            .find(|t| t["id"] == id)
            .map_or_else(
                || panic!("no task {id} in {report}"),
                |t| t["record"].clone(),
            )
    }

    /// Every event kmilestone logged of this type, across its runs.
    fn logged(&self, event_type: &str) -> Vec<Value> {
        let runs = self
            .tools
            .path()
            .join("state")
            .read_dir()
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.expect("state entry").path().join("M1/runs"));
        let mut dirs: Vec<_> = runs
            .and_then(|r| std::fs::read_dir(r).ok())
            .map(|d| d.map(|e| e.expect("run dir").path()).collect())
            .unwrap_or_default();
        dirs.sort();
        dirs.iter()
            .filter_map(|d| std::fs::read_to_string(d.join("events.jsonl")).ok())
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .collect::<Vec<_>>()
            })
            .filter(|e| e["type"] == event_type)
            .collect()
    }
}

/// The tokens of `requests` mock requests of the default size (1000 input of which 200 cached,
/// 50 output), as kmilestone counts them: cached input apart from the rest.
fn tokens(requests: u64) -> Value {
    json!({
        "input_tokens": 800 * requests,
        "output_tokens": 50 * requests,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 200 * requests,
    })
}

/// What that many requests cost at the configured price.
fn cost(requests: u64) -> f64 {
    let r = requests as f64;
    (800.0 * r * PRICE_INPUT + 200.0 * r * PRICE_CACHED + 50.0 * r * PRICE_OUTPUT) / 1e6
}

fn thread_of(request: &RecordedRequest) -> String {
    request
        .thread_id
        .clone()
        .expect("the request names its thread")
}

#[track_caller]
fn assert_contains_all(run: &ClaudeRun, expected: &[&str]) {
    for text in expected {
        assert!(run.stdout.contains(text), "{text:?}\n{}", run.describe());
    }
}

#[test]
fn a_two_task_milestone_is_built_by_codex_and_committed_by_the_runner() {
    let codex = require_codex!();
    let project = CodexProject::new(&codex, 2);
    let second_section = "\n## Task 1.2 Complete: Farewell module\n\nbye.txt holds the farewell.\n";
    let mock = MockOpenAi::start(Script::new().turns([
        // Task 1.1, a fresh thread: the prompt carries the task, and says not to commit.
        Turn::add_file("greet.txt", "Hello!\n")
            .expect_prompt("## Current Task\n\n## Task 1.1: Greeting module")
            .expect_prompt("(no handoff yet")
            .expect_prompt("Do not commit: in this sandbox `.git` is read-only"),
        Turn::add_file(HANDOFF, FIRST_SECTION).expect_tool_output("A greet.txt"),
        // Codex tries anyway: the sandbox refuses.
        Turn::exec("git add -A && git commit -qm 'Task 1.1'").expect_tool_output("A HANDOFF_M1.md"),
        Turn::reply("Task 1.1 is done; the sandbox would not let me commit.")
            .expect_tool_output("index.lock': Read-only file system"),
        // Task 1.2, a new thread: the handoff so far and the second task only.
        Turn::add_file("bye.txt", "Goodbye!\n")
            .expect_prompt("greet.txt holds the greeting.")
            .expect_prompt("- Completed tasks: 1.1\n")
            .expect_prompt("## Current Task\n\n## Task 1.2: Farewell module")
            .expect(Expect::Custom(
                "the prompt leaves out task 1.1's plan text".into(),
                std::sync::Arc::new(|r: &RecordedRequest| {
                    !r.last_user_texts()
                        .iter()
                        .any(|t| t.contains("## Task 1.1: Greeting module"))
                }),
            )),
        Turn::apply_patch(format!(
            "*** Begin Patch\n*** Update File: {HANDOFF}\n@@\n greet.txt holds the greeting.\n+\n+## Task 1.2 Complete: Farewell module\n+\n+bye.txt holds the farewell.\n*** End Patch\n"
        ))
        .expect_tool_output("A bye.txt"),
        Turn::exec(GATE).expect_tool_output("M HANDOFF_M1.md"),
        Turn::reply("Task 1.2 is done.").expect_tool_output("Process exited with code 0"),
    ]));
    let env = CodexEnv::new(&mock);

    let run = project.run(&env, &[]);

    mock.assert_script_done();
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(
        run.stdout.starts_with(
            "Milestone: M1 - Greeter (2 tasks)\nCompleted: (none - fresh start)\nStarting from: 1.1\nAgent: codex (permissions: sandbox (workspace-write: writes in the repository, no network; the runner commits))\n"
        ),
        "{}",
        run.describe()
    );
    let total = cost(8);
    assert_contains_all(
        &run,
        &[
            "✓ gate make test-unit",
            "✓ Task 1.1 complete (1 attempt",
            "✓ Task 1.2 complete (1 attempt",
            "## Milestone Complete: M1 - Greeter",
            "**Tasks completed:** 2/2",
            "**Quality gates:** make test-unit ✓",
            &format!("**Agent cost:** ${total:.4}, 8400 tokens"),
            "gh pr create --title 'M1: Greeter'",
        ],
    );

    // What Codex's tools really did, and the runner's commits of it.
    assert_eq!(project.repo.read("greet.txt"), "Hello!\n");
    assert_eq!(project.repo.read("bye.txt"), "Goodbye!\n");
    assert_eq!(
        project.repo.read(HANDOFF),
        format!("{FIRST_SECTION}{second_section}")
    );
    assert_eq!(
        project.repo.log_subjects(),
        [
            "Task 1.2: Farewell module",
            "Task 1.1: Greeting module",
            "Initial commit"
        ]
    );
    assert_eq!(project.repo.status(), "");
    let task1_files = project
        .repo
        .git(&["show", "--name-only", "--format=", "HEAD~1"]);
    assert_eq!(task1_files, format!("{HANDOFF}\ngreet.txt"));

    // A fresh thread per task, each under the workspace-write sandbox.
    let requests = mock.requests();
    assert_eq!(requests.len(), 8);
    let (first, second) = (thread_of(&requests[0]), thread_of(&requests[4]));
    assert_ne!(first, second);
    assert!(requests[..4].iter().all(|r| thread_of(r) == first));
    assert!(requests[4..].iter().all(|r| thread_of(r) == second));
    assert!(
        requests
            .iter()
            .all(|r| r.sandbox_mode() == Some("workspace-write"))
    );

    // Tokens from turn.completed, cost from the configured price table.
    let report = project.report_json();
    assert_eq!(report["outcome"], "complete");
    for (id, thread) in [("1.1", &first), ("1.2", &second)] {
        let task = project.task_report(id);
        assert_eq!(task["result"], "completed", "{task}");
        assert_eq!(task["totals"]["usage"], tokens(4), "{task}");
        assert_eq!(task["totals"]["cost_usd"].as_f64(), Some(cost(4)), "{task}");
        assert_eq!(task["commits"].as_array().map(Vec::len), Some(1), "{task}");
        assert_eq!(
            project.state_json()["tasks"][id]["sessions"],
            json!([thread])
        );
    }
    assert_eq!(report["milestone"]["totals"]["usage"], tokens(8));
    let md = project.state_file("report.md");
    assert!(
        md.contains(&format!(
            "Total: ${total:.4}, 8400 tokens (6400 in, 400 out, 1600 cache read, 0 cache write)"
        )),
        "{md}"
    );
}

#[test]
fn a_missing_handoff_section_goes_back_to_the_same_thread_with_exec_resume() {
    let codex = require_codex!();
    let project = CodexProject::new(&codex, 2);
    let section = "## Task 1.1 Complete: Greeting module\n\ngreet.txt holds the greeting.\n";
    let mock = MockOpenAi::start(
        Script::new().turns([
            Turn::add_file("greet.txt", "Hello!\n").expect_prompt("## Task 1.1: Greeting module"),
            // The first invocation ends without the handoff section.
            Turn::reply("The greeting is written.").expect_tool_output("A greet.txt"),
            // The fix attempt arrives in the same conversation, and asks for no commit.
            Turn::add_file(HANDOFF, section)
                .expect_prompt("has no new `## Task 1.1 Complete: Greeting module` section")
                .expect_prompt("leave your changes uncommitted (the runner commits them)")
                .expect(Expect::ConversationContains(
                    "The greeting is written.".into(),
                ))
                .expect(Expect::ConversationContains(
                    "## Task 1.1: Greeting module".into(),
                ))
                .expect(Expect::Custom(
                    "the fix names no commit problem".into(),
                    std::sync::Arc::new(|r: &RecordedRequest| {
                        !r.last_user_texts()
                            .iter()
                            .any(|t| t.contains("uncommitted:") || t.contains("no commit was made"))
                    }),
                )),
            Turn::reply("The handoff section is there now.").expect_tool_output("A HANDOFF_M1.md"),
        ]),
    );
    let env = CodexEnv::new(&mock);

    let run = project.run(&env, &["--to", "1.1"]);

    mock.assert_script_done();
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let requests = mock.requests();
    assert_eq!(requests.len(), 4);
    let thread = thread_of(&requests[0]);
    assert!(
        requests.iter().all(|r| thread_of(r) == thread),
        "the fix attempt resumes the first thread"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.sandbox_mode() == Some("workspace-write")),
        "the resume is sandboxed too: every flag is given again"
    );
    assert_contains_all(
        &run,
        &[
            "✗ verification failed (attempt 1), sending back to the agent:",
            "has no new `## Task 1.1 Complete: Greeting module` section",
            &format!("attempt 2 (resuming session {thread})"),
            "✓ Task 1.1 complete (2 attempts",
        ],
    );
    assert_eq!(project.repo.read(HANDOFF), section);
    assert_eq!(
        project.repo.log_subjects(),
        ["Task 1.1: Greeting module", "Initial commit"]
    );
    assert_eq!(project.repo.status(), "");
    // Codex reported the thread's total after the resume; each request counts once.
    let task = project.task_report("1.1");
    assert_eq!(task["attempts"], 2, "{task}");
    assert_eq!(task["totals"]["usage"], tokens(4), "{task}");
    assert_eq!(task["totals"]["cost_usd"].as_f64(), Some(cost(4)), "{task}");
    assert_eq!(
        project.state_json()["tasks"]["1.1"]["sessions"],
        json!([thread])
    );
}

#[test]
fn a_question_exits_4_and_the_answer_continues_the_thread() {
    let codex = require_codex!();
    let project = CodexProject::new(&codex, 2);
    let question = "Should the greeting be in English or in French?";
    let mock = MockOpenAi::start(Script::new().turns([
        Turn::reply(format!(
            "Before I write anything I need a decision.\n\nQUESTION: {question}\nOPTIONS:\n- English\n- French\nRECOMMENDATION: English, like the rest of the project"
        ))
        .expect_prompt("## Task 1.1: Greeting module"),
        // The answer, in the thread that asked.
        Turn::add_file("greet.txt", "Bonjour !\n")
            .expect_prompt("French, for the Paris office")
            .expect(Expect::ConversationContains(question.into())),
        Turn::add_file(
            HANDOFF,
            "## Task 1.1 Complete: Greeting module\n\nThe greeting is French, as the human asked.\n",
        )
        .expect_tool_output("A greet.txt"),
        Turn::reply("Done: the greeting is French.").expect_tool_output("A HANDOFF_M1.md"),
    ]));
    let env = CodexEnv::new(&mock);

    let asked = project.run(&env, &[]);

    assert_eq!(asked.code(), Some(4), "{}", asked.describe());
    assert_contains_all(
        &asked,
        &[
            "? The agent asks (task 1.1):",
            question,
            "1. English",
            "2. French",
            "Recommendation: English, like the rest of the project",
            "--answer",
        ],
    );
    let thread = thread_of(&mock.requests()[0]);
    assert_eq!(
        project.state_json()["pending_question"]["session_id"],
        thread.as_str()
    );
    assert_eq!(project.repo.log_subjects(), ["Initial commit"]);

    let answered = project.run(
        &env,
        &["--answer", "French, for the Paris office", "--to", "1.1"],
    );

    mock.assert_script_done();
    assert_eq!(answered.code(), Some(0), "{}", answered.describe());
    assert_contains_all(
        &answered,
        &[&format!("resuming session {thread}"), "✓ Task 1.1 complete"],
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 4);
    assert!(
        requests.iter().all(|r| thread_of(r) == thread),
        "the answer goes to the thread that asked"
    );
    assert_eq!(project.repo.read("greet.txt"), "Bonjour !\n");
    assert_eq!(
        project.repo.log_subjects(),
        ["Task 1.1: Greeting module", "Initial commit"]
    );
    assert!(project.state_json()["pending_question"].is_null());
    // The second kmilestone process resumed a thread the first one started: Codex's total for
    // it (four requests) is counted once, not on top of the first process's request.
    let task = project.task_report("1.1");
    assert_eq!(task["totals"]["usage"], tokens(4), "{task}");
    assert_eq!(task["totals"]["cost_usd"].as_f64(), Some(cost(4)), "{task}");
}

#[test]
fn a_usage_limit_is_waited_for_and_the_thread_resumed() {
    let codex = require_codex!();
    let project = CodexProject::new(&codex, 2);
    // Codex prints the reset in its local time, minute precision, no zone. A zone ahead of UTC:
    // read as UTC, the reset would be hours away and the run would not end in time.
    let zone = "Asia/Tokyo";
    let resets_at = jiff::Timestamp::now().as_second() + 1;
    let mock = MockOpenAi::start(
        Script::new().turns([
            Turn::usage_limit(Some("plus"), Some(resets_at))
                .expect_prompt("## Task 1.1: Greeting module"),
            Turn::add_file("greet.txt", "Hello!\n")
                .expect_prompt("You were stopped by a usage limit, which has now reset."),
            Turn::add_file(
                HANDOFF,
                "## Task 1.1 Complete: Greeting module\n\ngreet.txt holds the greeting.\n",
            )
            .expect_tool_output("A greet.txt"),
            Turn::reply("Done.").expect_tool_output("A HANDOFF_M1.md"),
        ]),
    );
    let env = CodexEnv::new(&mock).var("TZ", zone);

    let run = project.run(&env, &["--to", "1.1"]);

    mock.assert_script_done();
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_contains_all(
        &run,
        &[
            "⏸ usage limit: waiting until ",
            "You’ve hit your usage limit. Upgrade to Pro",
            "✓ Task 1.1 complete",
        ],
    );
    let waits = project.logged("waiting_for_limit");
    assert!(!waits.is_empty(), "no wait logged");
    let minute = resets_at - resets_at.rem_euclid(60);
    let expected = jiff::Timestamp::from_second(minute).expect("timestamp");
    assert_eq!(
        waits[0]["data"]["resets_at"],
        expected.to_string().as_str(),
        "{}",
        waits[0]
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 4);
    let thread = thread_of(&requests[0]);
    assert!(requests.iter().all(|r| thread_of(r) == thread));
    assert_eq!(
        project.repo.log_subjects(),
        ["Task 1.1: Greeting module", "Initial commit"]
    );
}

#[test]
fn a_persistent_turn_failure_is_retried_in_the_fix_budget_then_exits_1() {
    let codex = require_codex!();
    let project = CodexProject::new(&codex, 1);
    let mock = MockOpenAi::start(Script::new().turn(Turn::server_error().forever()));
    // One request per invocation: Codex's own retries off.
    let env = CodexEnv::new(&mock).retries(0, 0);

    let run = project.run(&env, &[]);

    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert_contains_all(
        &run,
        &[
            "the agent's run ended with an error (turn_failed): We’re currently experiencing high demand, which may cause temporary errors.",
            "✗ Task 1.1 failed",
            "Task 1.1 failed verification after 2 attempts",
            "(exit code 1)",
        ],
    );
    assert!(
        !run.stdout.contains("Milestone Complete"),
        "{}",
        run.describe()
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 2, "the first attempt and one fix");
    assert_eq!(thread_of(&requests[0]), thread_of(&requests[1]));
    assert_eq!(project.repo.log_subjects(), ["Initial commit"]);
    let report = project.report_json();
    assert_eq!(report["outcome"], "failed");
    let problems = project.task_report("1.1")["problems"].to_string();
    assert!(problems.contains("experiencing high demand"), "{problems}");
}

#[test]
fn no_api_key_exits_5_before_any_request() {
    let codex = require_codex!();
    let project = CodexProject::new(&codex, 2);
    let mock = MockOpenAi::start(Script::new());
    let env = CodexEnv::new(&mock).without_api_key();

    let run = project.run(&env, &[]);

    assert_eq!(run.code(), Some(5), "{}", run.describe());
    assert_contains_all(
        &run,
        &[
            "the agent is not authenticated: Missing environment variable: `KMILESTONE_MOCK_OPENAI_KEY`.",
            "codex login",
        ],
    );
    assert!(mock.all_requests().is_empty());
}

#[test]
fn codex_home_under_tmp_stops_the_run_naming_codex_home() {
    let codex = require_codex!();
    let project = CodexProject::new(&codex, 2);
    let mock = MockOpenAi::start(Script::new().turns([
        Turn::add_file("greet.txt", "Hello!\n"),
        Turn::exec("test -f greet.txt"),
        Turn::reply("Done."),
    ]));
    let env = CodexEnv::under_tmp(&mock);

    let run = project.run(&env, &[]);

    assert_eq!(run.code(), Some(5), "{}", run.describe());
    assert_contains_all(
        &run,
        &[
            "the agent cannot work here: Codex's sandbox does not work here (",
            "set CODEX_HOME to a folder outside /tmp",
            "bubblewrap",
        ],
    );
    assert!(!project.repo.file("greet.txt").exists());
    assert_eq!(project.repo.log_subjects(), ["Initial commit"]);
}
