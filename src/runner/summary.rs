//! The milestone as its state knows it, across every run: each task's record turned into the
//! summaries the completion summary, the report files and `kmilestone report` are made of.

use crate::events::{MilestoneSummary, MilestoneTask, TaskResult, TaskSummary, Totals};
use crate::plan::{Milestone, Task, TaskType};
use crate::state::{State, TaskState};

/// One task's record as a summary. A record with no result is a task a killed run was working
/// on: it reads as interrupted.
pub(crate) fn task_summary(task: &Task, record: &TaskState) -> TaskSummary {
    TaskSummary {
        id: task.id.clone(),
        title: task.title.clone(),
        result: record.result.unwrap_or(TaskResult::Interrupted),
        attempts: record.attempts,
        duration_ms: record.duration_ms,
        totals: Totals {
            cost_usd: record.cost_usd(),
            usage: record.usage,
        },
        gates: record.gates.clone(),
        commits: record.commits.clone(),
        e2e: record.e2e.clone(),
        findings: record.findings.clone(),
        problems: record.problems.clone(),
        denials: record.denials.clone(),
    }
}

/// The whole milestone: every plan task, with its record when a run worked on it.
pub(crate) fn milestone_summary(
    milestone: &Milestone,
    state: &State,
    gates: &[String],
) -> MilestoneSummary {
    let plan = &milestone.plan;
    let mut totals = Totals::default();
    let tasks: Vec<MilestoneTask> = plan
        .tasks
        .iter()
        .map(|task| {
            let record = state
                .tasks
                .get(&task.id)
                .filter(|r| r.attempts > 0 || r.result.is_some())
                .map(|record| task_summary(task, record));
            if let Some(record) = &record {
                totals.add(&record.totals);
            }
            MilestoneTask {
                id: task.id.clone(),
                title: task.title.clone(),
                validation: task.effective_type() == TaskType::Validation,
                complete: milestone.handoff.is_complete(&task.id),
                record,
            }
        })
        .collect();
    MilestoneSummary {
        name: plan.display_name(),
        pr_title: match &plan.title {
            Some(title) => format!("{}: {}", plan.id, title),
            None => plan.id.clone(),
        },
        handoff: milestone.handoff_path.display().to_string(),
        complete: milestone.progress.next.is_none(),
        tasks,
        gates: gates.to_vec(),
        totals,
    }
}
