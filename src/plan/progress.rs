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
    /// The handoff's note when it has text but marks no task at all (no `Task X.Y Complete` nor
    /// `BLOCKED` heading) while the plan has tasks: a handoff kept in another shape, which
    /// would otherwise read silently as a fresh start. See [`Progress::unmarked_note`].
    pub unmarked_handoff: Option<UnmarkedHandoff>,
}

/// A handoff with text that marks no task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmarkedHandoff {
    /// Up to three of its section headings, as (line, heading as written: `## Gotchas`), and
    /// how many more it has.
    pub headings: Vec<(usize, String)>,
    pub more: usize,
    /// The plan's first task, for the example of a heading that would count.
    pub first_task: String,
}

impl UnmarkedHandoff {
    /// Headings shown in the note.
    const SHOWN: usize = 3;

    fn new(handoff: &Handoff, first_task: &str) -> UnmarkedHandoff {
        // Sections are what a `Task X.Y Complete` heading would be: show the top level below
        // the title (`## Gotchas`, not the title nor the subsections under it), or the title
        // when there is nothing else.
        let level = handoff
            .headings
            .iter()
            .map(|h| h.1)
            .filter(|level| *level > 1)
            .min()
            .unwrap_or(1);
        let shown: Vec<_> = handoff.headings.iter().filter(|h| h.1 == level).collect();
        UnmarkedHandoff {
            headings: shown
                .iter()
                .take(Self::SHOWN)
                .map(|(line, level, text)| {
                    (*line, format!("{} {text}", "#".repeat(*level as usize)))
                })
                .collect(),
            more: shown.len().saturating_sub(Self::SHOWN),
            first_task: first_task.to_string(),
        }
    }

    /// 1-based line the note points at in the handoff: its first heading shown, else line 1.
    pub fn line(&self) -> usize {
        self.headings.first().map_or(1, |(line, _)| *line)
    }
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
        let unmarked_handoff = match plan.tasks.first() {
            Some(first) if handoff.marks.is_empty() && handoff.has_text => {
                Some(UnmarkedHandoff::new(handoff, &first.id))
            }
            _ => None,
        };
        Progress {
            unmarked_handoff,
            completed: ids_with(TaskStatus::Complete),
            blocked: ids_with(TaskStatus::Blocked),
            next: next_index.map(|i| plan.tasks[i].id.clone()),
            statuses,
            unknown_completed,
            complete_after_next,
        }
    }

    /// The one-line warning about a handoff that marks no task, if it is one: it names what
    /// the handoff's headings look like and what one that counts looks like.
    pub fn unmarked_note(&self) -> Option<String> {
        let unmarked = self.unmarked_handoff.as_ref()?;
        let example = format!("`## Task {} Complete`", unmarked.first_task);
        if unmarked.headings.is_empty() {
            return Some(format!(
                "Handoff marks no task complete: it has no headings, and a task counts as complete only under a heading such as {example}"
            ));
        }
        let shown: Vec<String> = unmarked
            .headings
            .iter()
            .map(|(line, heading)| format!("line {line} `{heading}`"))
            .collect();
        let more = match unmarked.more {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        Some(format!(
            "Handoff marks no task complete: none of its headings reads like {example} (its headings: {}{more})",
            shown.join(", ")
        ))
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
