//! The milestone as its state knows it, across every run: each task's record turned into the
//! summaries the completion summary, the report files and `kmilestone report` are made of.

use crate::events::{
    CapsInfo, MilestoneSummary, MilestoneTask, TaskResult, TaskSummary, Totals, micros,
};
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
        caps: {
            let recorded = state.last_run.as_ref().map(|r| r.caps).unwrap_or_default();
            CapsInfo {
                max_cost: recorded.max_cost,
                spent: micros(totals.cost_usd),
                max_task_cost: recorded.max_task_cost,
                max_time_ms: recorded.max_time_ms,
            }
        },
        totals,
    }
}

/// The caps as `--dry-run` shows them: the settings', with what the milestone has spent so far
/// (read from its state, when there is one; nothing is locked or written).
pub(crate) fn caps_preview(settings: &crate::config::Settings, milestone: &Milestone) -> CapsInfo {
    let spent = crate::state::StateDir::locate(&milestone.plan.path, &milestone.plan.id)
        .ok()
        .filter(|dir| dir.state_file().is_file())
        .and_then(|dir| dir.load(&milestone.plan.id).ok())
        .map_or(0.0, |state| {
            state.tasks.values().map(TaskState::cost_usd).sum()
        });
    CapsInfo {
        max_cost: settings.caps.max_cost.map(micros),
        spent: micros(spent),
        max_task_cost: settings.caps.max_task_cost.map(micros),
        max_time_ms: settings.caps.max_time.map(crate::events::millis),
    }
}
