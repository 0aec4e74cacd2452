//! Which tasks a run attempts and where it starts (DESIGN section 4): the one place that decides.

use std::path::PathBuf;

use crate::events::Header;
use crate::plan::{Handoff, Mark, Milestone, TaskStatus};

/// `--from`, `--only`, `--to` as the user gave them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Range {
    pub from: Option<String>,
    pub only: Option<String>,
    pub to: Option<String>,
}

/// Why a range cannot be selected.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SelectionError {
    #[error("{flag} {id}: no such task in {} (tasks: {ids})", plan.display())]
    UnknownTask {
        flag: &'static str,
        id: String,
        plan: PathBuf,
        ids: String,
    },
    #[error("--to {to} comes before --from {from} in the plan")]
    ToBeforeFrom { from: String, to: String },
}

/// The tasks a run attempts, in plan order.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    pub tasks: Vec<String>,
    /// `--from`/`--only`: they run even when the handoff marks them complete.
    pub forced: bool,
    /// A task an interrupted run left unverified: it runs (is verified) whatever the handoff
    /// says.
    pub unverified: Option<String>,
}

/// The task a run would start at is marked BLOCKED in the handoff.
#[derive(Debug, Clone)]
pub(crate) struct BlockedStart {
    pub id: String,
    pub mark: Mark,
}

impl Selection {
    /// The tasks `range` selects from the milestone: without `--from`/`--only`, those the handoff
    /// does not mark complete.
    pub(crate) fn select(
        milestone: &Milestone,
        range: &Range,
        unverified: Option<&str>,
    ) -> Result<Selection, SelectionError> {
        let plan = &milestone.plan;
        let position = |id: &str, flag: &'static str| {
            plan.position(id)
                .ok_or_else(|| SelectionError::UnknownTask {
                    flag,
                    id: id.to_string(),
                    plan: plan.path.clone(),
                    ids: plan.id_list(),
                })
        };
        let from = range
            .from
            .as_deref()
            .map(|id| position(id, "--from"))
            .transpose()?;
        let only = range
            .only
            .as_deref()
            .map(|id| position(id, "--only"))
            .transpose()?;
        let to = range
            .to
            .as_deref()
            .map(|id| position(id, "--to"))
            .transpose()?;
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            return Err(SelectionError::ToBeforeFrom {
                from: plan.tasks[from].id.clone(),
                to: plan.tasks[to].id.clone(),
            });
        }
        let ids = |range: std::ops::Range<usize>| -> Vec<String> {
            plan.tasks[range].iter().map(|t| t.id.clone()).collect()
        };
        if let Some(only) = only {
            return Ok(Selection {
                tasks: ids(only..only + 1),
                forced: true,
                unverified: unverified.map(str::to_string),
            });
        }
        let end = to.map_or(plan.tasks.len(), |to| to + 1);
        Ok(match from {
            Some(from) => Selection {
                tasks: ids(from..end.max(from)),
                forced: true,
                unverified: unverified.map(str::to_string),
            },
            None => Selection {
                tasks: plan.tasks[..end]
                    .iter()
                    .zip(&milestone.progress.statuses)
                    .filter(|(task, status)| {
                        **status != TaskStatus::Complete || unverified == Some(task.id.as_str())
                    })
                    .map(|(task, _)| task.id.clone())
                    .collect(),
                forced: false,
                unverified: unverified.map(str::to_string),
            },
        })
    }

    /// Whether `id` is the task an interrupted run left unverified.
    pub(crate) fn is_unverified(&self, id: &str) -> bool {
        self.unverified.as_deref() == Some(id)
    }

    /// Whether the run starts an agent for `id`, the handoff being what it is now (an earlier
    /// task's agent may have marked later tasks complete).
    pub(crate) fn runs(&self, id: &str, handoff: &Handoff) -> bool {
        self.forced || self.is_unverified(id) || !handoff.is_complete(id)
    }

    /// The first task this run starts an agent for.
    pub(crate) fn start(&self, handoff: &Handoff) -> Option<&str> {
        self.tasks
            .iter()
            .find(|id| self.runs(id, handoff))
            .map(String::as_str)
    }

    /// The task the run would start at, when the handoff marks it BLOCKED and the user did not
    /// name it with `--from`/`--only`: the run stops before it starts.
    pub(crate) fn blocked_start(
        &self,
        milestone: &Milestone,
        range: &Range,
    ) -> Option<BlockedStart> {
        let start = self.start(&milestone.handoff)?;
        let named = [range.from.as_deref(), range.only.as_deref()].contains(&Some(start));
        let mark = milestone.handoff.blocked_mark(start).filter(|_| !named)?;
        Some(BlockedStart {
            id: start.to_string(),
            mark: mark.clone(),
        })
    }

    /// The run header for this selection.
    pub(crate) fn header(&self, milestone: &Milestone) -> Header {
        Header {
            name: milestone.plan.display_name(),
            task_count: milestone.plan.tasks.len(),
            completed: milestone
                .progress
                .completed
                .iter()
                .filter(|id| !self.is_unverified(id))
                .cloned()
                .collect(),
            start: self.start(&milestone.handoff).map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn milestone(handoff: &str) -> Milestone {
        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("M1_x.md");
        std::fs::write(
            &plan,
            "# M1: X\n\n## Task 1.1: A\n\n## Task 1.2: B\n\n## Task 1.3: C\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("HANDOFF_M1.md"), handoff).unwrap();
        Milestone::load(&plan, None).unwrap()
    }

    fn range(from: Option<&str>, only: Option<&str>, to: Option<&str>) -> Range {
        Range {
            from: from.map(str::to_string),
            only: only.map(str::to_string),
            to: to.map(str::to_string),
        }
    }

    #[test]
    fn the_handoff_decides_unless_the_user_forces() {
        let m = milestone("## Task 1.1 Complete\n## Task 1.3 Complete\n");
        let plain = Selection::select(&m, &Range::default(), None).unwrap();
        assert_eq!(plain.tasks, vec!["1.2"]);
        assert_eq!(plain.start(&m.handoff), Some("1.2"));
        let from = Selection::select(&m, &range(Some("1.1"), None, Some("1.2")), None).unwrap();
        assert_eq!(from.tasks, vec!["1.1", "1.2"]);
        assert_eq!(from.start(&m.handoff), Some("1.1"));
        let only = Selection::select(&m, &range(None, Some("1.3"), None), None).unwrap();
        assert_eq!(only.tasks, vec!["1.3"]);
        assert!(only.runs("1.3", &m.handoff));
        let header = plain.header(&m);
        assert_eq!(header.completed, vec!["1.1", "1.3"]);
        assert_eq!(header.start.as_deref(), Some("1.2"));
    }

    #[test]
    fn unknown_ids_and_backwards_ranges_are_refused() {
        let m = milestone("");
        let err = Selection::select(&m, &range(Some("9.9"), None, None), None).unwrap_err();
        assert!(
            err.to_string().starts_with("--from 9.9: no such task in "),
            "{err}"
        );
        assert!(
            err.to_string().ends_with(" (tasks: 1.1, 1.2, 1.3)"),
            "{err}"
        );
        let err = Selection::select(&m, &range(Some("1.3"), None, Some("1.1")), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--to 1.1 comes before --from 1.3 in the plan"
        );
    }

    #[test]
    fn an_unverified_task_runs_whatever_the_handoff_says() {
        let m = milestone("## Task 1.1 Complete\n## Task 1.2 Complete\n");
        let plain = Selection::select(&m, &Range::default(), Some("1.2")).unwrap();
        assert_eq!(plain.tasks, vec!["1.2", "1.3"]);
        assert!(plain.runs("1.2", &m.handoff));
        assert_eq!(plain.header(&m).completed, vec!["1.1"]);
        let to = Selection::select(&m, &range(None, None, Some("1.1")), Some("1.2")).unwrap();
        assert!(
            to.tasks.is_empty(),
            "outside the asked range: {:?}",
            to.tasks
        );
    }

    #[test]
    fn a_blocked_start_stops_the_run_unless_named() {
        let m = milestone("## Task 1.1 Complete\n## Task 1.2 BLOCKED: no env\n");
        let plain = Selection::select(&m, &Range::default(), None).unwrap();
        let blocked = plain.blocked_start(&m, &Range::default()).unwrap();
        assert_eq!(blocked.id, "1.2");
        assert_eq!(blocked.mark.heading, "Task 1.2 BLOCKED: no env");
        let named = range(Some("1.2"), None, None);
        let forced = Selection::select(&m, &named, None).unwrap();
        assert!(forced.blocked_start(&m, &named).is_none());
    }
}
