//! `kmilestone status`: what is done, what is next.

use std::borrow::Cow;
use std::io::Write;

use serde::Serialize;

use crate::events::Header;
use crate::plan::Reference;
use crate::plan::milestone::Milestone;
use crate::plan::progress::TaskStatus;
use crate::reporter::summary::header_lines;
use crate::state::StateDir;

#[derive(Serialize)]
struct StatusJson<'a> {
    milestone: &'a str,
    name: String,
    plan: String,
    handoff: Option<String>,
    tasks: Vec<TaskJson<'a>>,
    completed: &'a [String],
    unknown_completed: &'a [String],
    blocked: &'a [String],
    next: Option<&'a str>,
    /// Tasks complete after `next` (a gap in the handoff).
    complete_after_next: &'a [String],
    /// Everything the author should know, errors included: task headings a fence swallows are
    /// listed here with `"level": "error"` (the plan is still read, so `status` exits 0).
    warnings: Vec<Diagnostic<'a>>,
    /// The front matter's paths: key, value as written, line, and the file found (relative to
    /// the repository root) or null.
    references: &'a [Reference],
    /// Where kmilestone keeps this milestone's state, or null outside a git repository.
    state_dir: Option<String>,
    /// The agent's question waiting for an answer, or null.
    pending_question: Option<PendingJson>,
    /// The task a run is working on (`running`) or was working on when it stopped, or null.
    in_progress: Option<InProgressJson>,
}

#[derive(Serialize)]
struct PendingJson {
    task: String,
    text: String,
    options: Vec<String>,
}

#[derive(Serialize)]
struct InProgressJson {
    task: String,
    attempt: u32,
    /// A run is working on it now (the PID of that run), else it was interrupted.
    running: bool,
    pid: Option<u32>,
}

/// What the milestone's state says about runs: where it is, a pending question, a task in
/// progress.
struct RunRecord {
    dir: String,
    pending: Option<PendingJson>,
    in_progress: Option<InProgressJson>,
}

fn run_record(milestone: &Milestone) -> Option<RunRecord> {
    let dir = StateDir::locate(&milestone.plan.path, &milestone.plan.id).ok()?;
    let state = dir
        .state_file()
        .is_file()
        .then(|| dir.load(&milestone.plan.id).ok())
        .flatten();
    let pid = dir.running_pid();
    Some(RunRecord {
        dir: dir.path().display().to_string(),
        pending: state.as_ref().and_then(|s| {
            let q = s.pending_question.as_ref()?;
            Some(PendingJson {
                task: q.task.clone(),
                text: q.question.text.clone(),
                options: q.question.options.clone(),
            })
        }),
        in_progress: state.as_ref().and_then(|s| {
            let p = s.in_progress.as_ref()?;
            Some(InProgressJson {
                task: p.task.clone(),
                attempt: p.attempt,
                running: pid.is_some(),
                pid,
            })
        }),
    })
}

/// One entry of `warnings`.
#[derive(Serialize)]
struct Diagnostic<'a> {
    level: &'static str,
    /// The file the line is in: the plan, or the handoff.
    file: String,
    line: usize,
    message: Cow<'a, str>,
}

/// The plan's and the handoff's diagnostics, errors first, each in line order.
fn diagnostics(milestone: &Milestone) -> Vec<Diagnostic<'_>> {
    let plan_file = milestone.plan.path.display().to_string();
    let errors = milestone.plan.hidden_tasks.iter().map(|hidden| Diagnostic {
        level: "error",
        file: plan_file.clone(),
        line: hidden.line,
        message: Cow::Borrowed(&hidden.message),
    });
    let warnings = milestone.plan.warnings.iter().map(|warning| Diagnostic {
        level: "warning",
        file: plan_file.clone(),
        line: warning.line,
        message: Cow::Borrowed(&warning.message),
    });
    let handoff = milestone
        .progress
        .unmarked_handoff
        .as_ref()
        .map(|unmarked| Diagnostic {
            level: "warning",
            file: milestone.handoff_path.display().to_string(),
            line: unmarked.line(),
            message: Cow::Owned(milestone.progress.unmarked_note().unwrap_or_default()),
        });
    errors.chain(warnings).chain(handoff).collect()
}

#[derive(Serialize)]
struct TaskJson<'a> {
    id: &'a str,
    title: &'a str,
    #[serde(rename = "type")]
    task_type: Option<String>,
    line: usize,
    level: u8,
    status: TaskStatus,
    acceptance_criteria: &'a [String],
}

pub(crate) fn render_json(milestone: &Milestone, out: &mut dyn Write) -> std::io::Result<()> {
    let progress = &milestone.progress;
    let mut record = run_record(milestone);
    let json = StatusJson {
        milestone: &milestone.plan.id,
        name: milestone.plan.display_name(),
        plan: milestone.plan.path.display().to_string(),
        handoff: milestone
            .handoff_exists
            .then(|| milestone.handoff_path.display().to_string()),
        tasks: milestone
            .plan
            .tasks
            .iter()
            .zip(&progress.statuses)
            .map(|(task, status)| TaskJson {
                id: &task.id,
                title: &task.title,
                task_type: task
                    .task_type
                    .as_ref()
                    .map(std::string::ToString::to_string),
                line: task.line,
                level: task.level,
                status: *status,
                acceptance_criteria: &task.acceptance_criteria,
            })
            .collect(),
        completed: &progress.completed,
        unknown_completed: &progress.unknown_completed,
        blocked: &progress.blocked,
        next: progress.next.as_deref(),
        complete_after_next: &progress.complete_after_next,
        warnings: diagnostics(milestone),
        references: &milestone.plan.references,
        state_dir: record.as_ref().map(|r| r.dir.clone()),
        pending_question: record.as_mut().and_then(|r| r.pending.take()),
        in_progress: record.as_mut().and_then(|r| r.in_progress.take()),
    };
    serde_json::to_writer_pretty(&mut *out, &json)?;
    writeln!(out)
}

/// The status view on `out`; the errors a plan still shows with (task headings a fence
/// swallows) go to stderr as `error: file:line: message`, where `run` would stop on them.
pub(crate) fn render_text(milestone: &Milestone, out: &mut dyn Write) -> std::io::Result<()> {
    for hidden in &milestone.plan.hidden_tasks {
        eprintln!(
            "error: {}:{}: {}",
            milestone.plan.path.display(),
            hidden.line,
            hidden.message
        );
    }
    let progress = &milestone.progress;
    let header = Header {
        name: milestone.plan.display_name(),
        task_count: milestone.plan.tasks.len(),
        completed: progress.completed.clone(),
        start: progress.next.clone(),
    };
    for line in header_lines(&header) {
        writeln!(out, "{line}")?;
    }
    if let Some(note) = progress.unmarked_note() {
        writeln!(out, "{note}")?;
    }
    if let Some(note) = progress.gap_note() {
        writeln!(out, "{note}")?;
    }
    if let Some(next) = progress.next.as_deref()
        && let Some(mark) = milestone.handoff.blocked_mark(next)
    {
        writeln!(
            out,
            "Task {next} is BLOCKED ({}:{}): {}",
            milestone.handoff_path.display(),
            mark.line,
            mark.heading
        )?;
    }
    if !progress.unknown_completed.is_empty() {
        writeln!(
            out,
            "Complete in the handoff but not in the plan: {}",
            progress.unknown_completed.join(", ")
        )?;
    }
    writeln!(out)?;
    let width = milestone
        .plan
        .tasks
        .iter()
        .map(|t| t.id.len())
        .max()
        .unwrap_or(0);
    for (task, status) in milestone.plan.tasks.iter().zip(&progress.statuses) {
        let label = match status {
            TaskStatus::Complete => "done",
            TaskStatus::Blocked => "BLOCKED",
            TaskStatus::Pending if progress.next.as_deref() == Some(task.id.as_str()) => "next",
            TaskStatus::Pending => "pending",
        };
        writeln!(out, "  {label:<8} {:<width$}  {}", task.id, task.title)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Handoff: {}{}",
        milestone.handoff_path.display(),
        if milestone.handoff_exists {
            ""
        } else {
            " (not created yet)"
        }
    )?;
    let Some(record) = run_record(milestone) else {
        return Ok(());
    };
    writeln!(out, "State: {}", record.dir)?;
    if let Some(q) = &record.pending {
        writeln!(
            out,
            "Waiting for your answer (task {}): {}\n  Continue with: kmilestone run {} --answer \"…\"",
            q.task,
            q.text.lines().next().unwrap_or_default(),
            milestone.plan.path.display()
        )?;
    }
    if let Some(p) = &record.in_progress {
        match p.pid {
            Some(pid) => writeln!(
                out,
                "Running: task {} (attempt {}), by kmilestone PID {pid}",
                p.task, p.attempt
            )?,
            None => writeln!(
                out,
                "Interrupted during task {} (attempt {}): the next run resumes it and verifies it again",
                p.task, p.attempt
            )?,
        }
    }
    Ok(())
}
