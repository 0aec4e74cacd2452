//! Questions are never lost: Ctrl-C at the prompt keeps the question pending, an answer is saved
//! before the agent is resumed with it, `--answer 2` picks option 2, and what the milestone did
//! before a question stays in its summary and report.

use serde_json::json;

use crate::support::project::{HANDOFF, PLAN_3, Project, good_actions};
use crate::support::pty::Terminal;

const QUESTION: &str = "QUESTION: Should greetings be localized?\nOPTIONS:\n- yes, every locale\n- no, English only\nRECOMMENDATION: no";

/// Task 1.1 is done at once; task 1.2's agent asks, then does its work once answered.
fn asking_at_1_2(project: &Project) {
    project.scenario(json!({
        "invocations": [
            {"actions": good_actions(), "result": {"cost": 0.10, "input_tokens": 1000, "output_tokens": 100}},
            {"result": {"text": QUESTION, "cost": 0.02, "input_tokens": 200, "output_tokens": 20}}
        ],
        "default": {"actions": good_actions(), "result": {"cost": 0.05, "input_tokens": 300, "output_tokens": 30}}
    }));
}

#[test]
fn ctrl_c_at_the_question_prompt_exits_at_once_and_the_question_stays_pending() {
    let project = Project::new(PLAN_3);
    asking_at_1_2(&project);
    let mut terminal = Terminal::start(&project, &["run", "M1_greeter.md", "--to", "1.2"]);
    terminal.wait_for("empty to stop and answer later: ");
    terminal.type_keys("\x03");
    let (code, shown) = terminal.finish();
    assert_eq!(code, Some(130), "{shown}");
    assert_eq!(project.calls().len(), 2, "nothing resumed");
    let pending = &project.state()["pending_question"];
    assert_eq!(pending["task"], "1.2", "{pending}");
    assert!(pending["answer"].is_null());

    let status = project.run(&["status", "M1_greeter.md"]);
    assert!(
        status.stdout.contains(
            "Waiting for your answer (task 1.2): Should greetings be localized?\n  Continue with: kmilestone run M1_greeter.md --answer \"…\"\n"
        ),
        "{}",
        status.describe()
    );

    // Option 2, by its number, as the terminal would take it.
    let run = project.kmilestone_run(&["--answer", "2", "--to", "1.2"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let calls = project.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[2]["resume"], calls[1]["session"], "the same session");
    assert_eq!(
        calls[2]["stdin"],
        "The human answered your question:\n\nno, English only\n\nContinue the task with this answer."
    );
}

#[test]
fn an_answer_typed_is_saved_before_the_agent_resumes_with_it() {
    let project = Project::new(PLAN_3);
    project.scenario(json!({
        "invocations": [
            {"actions": good_actions()},
            {"result": {"text": QUESTION}},
            {"actions": [{"hang": true}]}
        ],
        "default": {"actions": good_actions()}
    }));
    let mut terminal = Terminal::start(&project, &["run", "M1_greeter.md", "--to", "1.2"]);
    terminal.wait_for("empty to stop and answer later: ");
    terminal.type_keys("1\n");
    terminal.wait_for("attempt 1 (resuming session");
    terminal.wait_for("· session 00000000-0000-0000-0000-000000000002");
    // Stopped while the resumed agent works: the answer was saved first.
    terminal.type_keys("\x03");
    let (code, shown) = terminal.finish();
    assert_eq!(code, Some(130), "{shown}");
    assert_eq!(
        project.state()["pending_question"]["answer"],
        "yes, every locale",
        "{shown}\n{}",
        project.state()
    );
    assert_eq!(
        project.state()["pending_question"]["answer"],
        "yes, every locale"
    );
    // Without a terminal and without --answer, the next run resumes with the saved answer.
    let run = project.kmilestone_run(&["--to", "1.2"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let calls = project.calls();
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[3]["resume"], calls[1]["session"]);
    assert!(
        calls[3]["stdin"]
            .as_str()
            .unwrap()
            .contains("\n\nyes, every locale\n\n"),
        "{}",
        calls[3]["stdin"]
    );
    assert!(project.state()["pending_question"].is_null());
}

#[test]
fn the_summary_and_the_report_cover_the_milestone_across_a_question() {
    let project = Project::new(PLAN_3);
    asking_at_1_2(&project);
    let asked = project.kmilestone_run(&["--to", "1.2"]);
    assert_eq!(asked.code(), Some(4), "{}", asked.describe());
    assert!(
        asked.stdout.contains("\n? Task 1.2 waits for an answer ("),
        "asking is not failing: {}",
        asked.describe()
    );
    let answered = project.kmilestone_run(&["--answer", "no", "--to", "1.2"]);
    assert_eq!(answered.code(), Some(0), "{}", answered.describe());
    let summary = &answered.stdout[answered.stdout.find("## Tasks Complete").unwrap()..];
    assert!(
        summary.starts_with("## Tasks Complete: M1 - Greeter\n\n**Tasks completed:** 2/3\n- [x] 1.1: Greeting module (1 attempt, "),
        "1.1 is not \"(from handoff)\": {summary}"
    );
    assert!(
        summary.contains("\n- [x] 1.2: Farewell module (1 attempt, "),
        "{summary}"
    );
    assert!(summary.contains("\n- [ ] 1.3: Validate\n"), "{summary}");
    // Each invocation's tokens counted once; a resumed session's cumulative cost once.
    assert!(
        summary.contains("**Agent cost:** $0.1500, 1650 tokens\n"),
        "{summary}"
    );
    let report = project.read_state("report.md");
    assert!(
        report.contains("| 1.1 Greeting module | completed | 1 |"),
        "{report}"
    );
    assert!(
        report.contains("| 1.2 Farewell module | completed | 1 |"),
        "{report}"
    );
    assert!(report.contains("\nTotal: $0.1500, 1650 tokens"), "{report}");
    let body = project.read_state("pr-body.md");
    assert!(
        body.is_empty(),
        "no pull request before the milestone is complete: {body}"
    );
}

#[test]
fn a_complete_milestone_prints_its_header_once() {
    let project = Project::new(PLAN_3);
    assert_eq!(project.kmilestone_run(&[]).code(), Some(0));
    let run = project.kmilestone_run(&[]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert_eq!(
        run.stdout
            .matches("Milestone: M1 - Greeter (3 tasks)")
            .count(),
        1,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.starts_with("Milestone: M1 - Greeter (3 tasks)\nCompleted: 1.1, 1.2, 1.3 (from handoff)\nAll tasks complete\n"),
        "{}",
        run.stdout
    );
    let body = project.read_state("pr-body.md");
    assert_eq!(
        body.matches("Handoff").count(),
        1,
        "one handoff line: {body}"
    );
}

#[test]
fn from_over_a_finished_task_tells_the_agent_it_is_a_redo() {
    let project = Project::new(PLAN_3);
    assert_eq!(project.kmilestone_run(&["--to", "1.1"]).code(), Some(0));
    let run = project.kmilestone_run(&["--from", "1.1", "--to", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let calls = project.calls();
    let prompt = calls[1]["stdin"].as_str().unwrap();
    assert!(
        prompt.ends_with("## Note from the runner\n\nThe handoff already marks task 1.1 complete; it runs again because the user asked for it (--from/--only). Check what the earlier run left, redo or fix what this task asks, and append a new `## Task 1.1 Complete` section.\n"),
        "{prompt}"
    );
}

#[test]
fn the_run_header_says_what_status_says_about_the_handoff() {
    let project = Project::new(PLAN_3);
    project.write(HANDOFF, "# Handoff\n\n## Task 1.2 Complete: done early\n");
    project.commit_all("A gap");
    let status = project.run(&["status", "M1_greeter.md"]);
    let run = project.kmilestone_run(&["--to", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    let gap = "Handoff gap: 1.2 marked complete but 1.1 is not; starting at 1.1\n";
    assert!(status.stdout.contains(gap), "{}", status.describe());
    assert!(
        run.stdout.starts_with(&format!("Milestone: M1 - Greeter (3 tasks)\nCompleted: 1.2 (from handoff)\nResuming from: 1.1\n{gap}")),
        "{}",
        run.stdout
    );
}

#[test]
fn a_missing_agent_is_no_attempt() {
    let project = Project::new(PLAN_3);
    project.write(
        "kmilestone.toml",
        "[agent.claude]\nbinary = \"/nonexistent/claude\"\n[gates]\ncommands = [\"true\"]\n",
    );
    project.commit_all("No agent");
    let run = project.kmilestone_run(&["--to", "1.1"]);
    assert_eq!(run.code(), Some(5), "{}", run.describe());
    assert_eq!(project.state()["tasks"]["1.1"]["attempts"], 0);
    assert!(
        run.stdout
            .contains("✗ Task 1.1 agent unavailable (0 attempts, "),
        "{}",
        run.describe()
    );
}
