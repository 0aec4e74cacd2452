//! What an agent does to git history and to the files the runner trusts, and what the user is told.

use serde_json::json;

use crate::support::project::{PLAN_3, Project, good_actions};

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
