//! Where a run starts: the plan read against its handoff (DESIGN section 4).

use std::collections::HashSet;

use serde::Serialize;

use crate::plan::Plan;
use crate::plan::handoff::{Handoff, MarkState};

/// A task's state as the handoff tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Complete,
    Blocked,
    Pending,
}

/// The plan's progress.
#[derive(Debug, Clone)]
pub struct Progress {
    /// One status per plan task, in plan order.
    pub statuses: Vec<TaskStatus>,
    pub completed: Vec<String>,
    /// IDs marked complete in the handoff that the plan does not have, in handoff order.
    pub unknown_completed: Vec<String>,
    pub blocked: Vec<String>,
    /// The first task, in plan order, that is not complete.
    pub next: Option<String>,
    /// Tasks complete after `next`: a gap in the handoff.
    pub complete_after_next: Vec<String>,
}

impl Progress {
    pub fn compute(plan: &Plan, handoff: &Handoff) -> Progress {
        // Sets rather than `Handoff::is_complete` per task: a long handoff against a long plan
        // would otherwise cost tasks × marks comparisons.
        let mut complete: HashSet<&str> = HashSet::new();
        let mut blocked: HashSet<&str> = HashSet::new();
        for mark in &handoff.marks {
            let set = match mark.state {
                MarkState::Complete => &mut complete,
                MarkState::Blocked => &mut blocked,
            };
            set.extend(mark.ids.iter().map(String::as_str));
        }
        let statuses: Vec<TaskStatus> = plan
            .tasks
            .iter()
            .map(|task| {
                if complete.contains(task.id.as_str()) {
                    TaskStatus::Complete
                } else if blocked.contains(task.id.as_str()) {
                    TaskStatus::Blocked
                } else {
                    TaskStatus::Pending
                }
            })
            .collect();
        let ids_with = |wanted: TaskStatus| -> Vec<String> {
            plan.tasks
                .iter()
                .zip(&statuses)
                .filter(|(_, s)| **s == wanted)
                .map(|(t, _)| t.id.clone())
                .collect()
        };
        let plan_ids: HashSet<&str> = plan.tasks.iter().map(|t| t.id.as_str()).collect();
        let mut unknown_completed: Vec<String> = Vec::new();
        let mut reported: HashSet<&str> = HashSet::new();
        for mark in handoff
            .marks
            .iter()
            .filter(|m| m.state == MarkState::Complete)
        {
            for id in &mark.ids {
                if !plan_ids.contains(id.as_str()) && reported.insert(id.as_str()) {
                    unknown_completed.push(id.clone());
                }
            }
        }
        let next_index = statuses.iter().position(|s| *s != TaskStatus::Complete);
        let complete_after_next = match next_index {
            Some(index) => plan.tasks[index + 1..]
                .iter()
                .zip(&statuses[index + 1..])
                .filter(|(_, s)| **s == TaskStatus::Complete)
                .map(|(t, _)| t.id.clone())
                .collect(),
            None => Vec::new(),
        };
        Progress {
            completed: ids_with(TaskStatus::Complete),
            blocked: ids_with(TaskStatus::Blocked),
            next: next_index.map(|i| plan.tasks[i].id.clone()),
            statuses,
            unknown_completed,
            complete_after_next,
        }
    }

    /// The one-line note about a handoff gap, if there is one.
    pub fn gap_note(&self) -> Option<String> {
        let next = self.next.as_ref()?;
        if self.complete_after_next.is_empty() {
            return None;
        }
        Some(format!(
            "Handoff gap: {} marked complete but {next} is not; starting at {next}",
            self.complete_after_next.join(", ")
        ))
    }
}
