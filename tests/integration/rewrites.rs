//! What an agent does to git history and to the files the runner trusts, and what the user is told.

use serde_json::json;

use crate::support::project::{PLAN_3, Project, Run, good_actions};

fn retries(project: &Project, retries: u32) {
    project.write(
        "kmilestone.toml",
        &format!("[gates]\ncommands = [\"true\"]\n[run]\nretries = {retries}\n"),
    );
    project.commit_all("Config");
}

#[test]
fn an_agent_that_resets_away_earlier_commits_fails_verification() {
    let project = Project::new(PLAN_3);
    retries(&project, 0);
    assert_eq!(project.kmilestone_run(&["--only", "1.1"]).code(), Some(0));
    let before = project
        .git(&["rev-parse", "--short", "HEAD"])
        .trim()
        .to_string();
    // Task 1.2's agent drops task 1.1's commit, then does its own work: HEAD moves, the tree is
    // clean and the handoff is restored, yet task 1.1's file is gone from the branch.
    let mut actions = vec![json!({"sh": "git reset -q --hard HEAD~1"})];
    actions.extend(good_actions().as_array().unwrap().iter().cloned());
    project.scenario(json!({"default": {"actions": actions}}));
    let run = project.kmilestone_run(&["--only", "1.2"]);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert!(
        run.stdout.contains(&format!("no longer contains {before}")),
        "{}",
        run.describe()
    );
    assert_eq!(project.state()["tasks"]["1.2"]["result"], "failed");
}

#[test]
fn an_agent_that_commits_on_another_branch_fails_verification() {
    let project = Project::new(PLAN_3);
    retries(&project, 0);
    let mut actions = vec![json!({"sh": "git checkout -q -b side"})];
    actions.extend(good_actions().as_array().unwrap().iter().cloned());
    project.scenario(json!({"default": {"actions": actions}}));
    let run = project.kmilestone_run(&["--only", "1.1"]);
    assert_eq!(run.code(), Some(1), "{}", run.describe());
    assert!(
        run.stdout
            .contains("the task started on branch main, but HEAD is now on side"),
        "{}",
        run.describe()
    );
}

/// The plan moved to `docs/`, committed; runs start from inside `docs/`.
fn plan_in_docs(project: &Project) {
    project.git(&["mv", "M1_greeter.md", "docs/M1_greeter.md"]);
    project.commit_all("Plan in docs");
}

fn run_in(project: &Project, dir: &str, args: &[&str]) -> Run {
    let output = project
        .command(args)
        .current_dir(project.path(dir))
        .output()
        .unwrap();
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        output,
    }
}

#[test]
fn a_plan_in_a_subfolder_run_from_there_is_named_from_the_agents_folder() {
    let project = Project::new(PLAN_3);
    std::fs::create_dir_all(project.path("docs")).unwrap();
    plan_in_docs(&project);
    project.scenario(json!({"default": {"actions": [
        {"write": "work/task-{task}.txt", "content": "done\n"},
        {"append": "docs/HANDOFF_M1.md", "text": "\n## Task {task} Complete: done\n"},
        {"sh": "git add -A && git commit -qm 'Task {task}'"}
    ]}}));
    let run = run_in(&project, "docs", &["run", "M1_greeter.md", "--only", "1.1"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    // The agent works in the repository root: the paths it is given must lead there.
    let prompt = project.calls()[0]["stdin"].as_str().unwrap().to_string();
    assert!(
        prompt.contains("- Milestone: docs/M1_greeter.md\n"),
        "{prompt}"
    );
    assert!(
        prompt.contains("- Handoff: docs/HANDOFF_M1.md\n"),
        "{prompt}"
    );
}

#[test]
fn a_handoff_restored_in_a_subfolder_run_from_there_is_committed() {
    let project = Project::new(PLAN_3);
    let earlier = "# Handoff M1\n\n## Task 1.1 Complete: greeting\n\nKeep this.\n";
    project.write("docs/HANDOFF_M1.md", earlier);
    plan_in_docs(&project);
    project.scenario(json!({"default": {"actions": [
        {"write": "docs/HANDOFF_M1.md", "content": "## Task {task} Complete: done\n"},
        {"sh": "git add -A && git commit -qm 'Task {task}'"}
    ]}}));
    let run = run_in(&project, "docs", &["run", "M1_greeter.md", "--only", "1.2"]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(project.read("docs/HANDOFF_M1.md").starts_with(earlier));
    assert_eq!(project.git(&["status", "--porcelain"]), "");
}

#[test]
fn a_handoff_outside_the_repository_is_restored_without_committing_it() {
    let project = Project::new(PLAN_3);
    let handoff = project.root().parent().unwrap().join("HANDOFF_outside.md");
    let earlier = "# Handoff M1\n\n## Task 1.1 Complete: greeting\n\nKeep this.\n";
    std::fs::write(&handoff, earlier).unwrap();
    let handoff = handoff.display().to_string();
    project.scenario(json!({"default": {"actions": [
        {"write": handoff, "content": "## Task {task} Complete: done\n"},
        {"write": "work/{task}.txt", "content": "done\n"},
        {"sh": "git add -A && git commit -qm 'Task {task}'"}
    ]}}));
    let run = project.kmilestone_run(&["--only", "1.2", "--handoff", &handoff]);
    assert_eq!(run.code(), Some(0), "{}", run.describe());
    assert!(run.stdout.contains("restored"), "{}", run.describe());
    let now = std::fs::read_to_string(&handoff).unwrap();
    assert!(now.starts_with(earlier), "{now}");
    assert!(now.contains("## Task 1.2 Complete: done"), "{now}");
}

#[test]
fn two_plans_with_the_same_milestone_id_do_not_share_a_pending_question() {
    let project = Project::new(PLAN_3);
    project.write("a/M1_first.md", PLAN_3);
    project.write("b/M1_second.md", PLAN_3);
    project.commit_all("Two plans");
    project.scenario(json!({
        "invocations": [{"result": {"text": "QUESTION: Should plan a greet in French?"}}],
        "default": {"actions": good_actions()}
    }));
    let run = project.run(&["run", "a/M1_first.md"]);
    assert_eq!(run.code(), Some(4), "{}", run.describe());
    // Plan b's task 1.1 is not plan a's: it must not be shown plan a's question.
    let run = project.run(&["run", "b/M1_second.md"]);
    assert!(!run.stdout.contains("plan a greet"), "{}", run.describe());
    assert_eq!(run.code(), Some(2), "{}", run.describe());
    assert!(run.stderr.contains("a/M1_first.md"), "{}", run.describe());
}
