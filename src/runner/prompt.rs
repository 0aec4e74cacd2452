//! The prompt of a task: the ktask workflow first (stable, cache friendly), then the seed's
//! execution state, handoff and task sections; and the short prompts of fix attempts.

use std::path::{Path, PathBuf};

use crate::agent::Adapter;
use crate::config::{Settings, WorkflowMode};
use crate::events::{PreviewTask, Problem};
use crate::plan::{Milestone, Task, TaskType};
use crate::runner::Selection;

/// The built-in workflow text; `[workflow] template` in config replaces it.
pub(crate) const BUILTIN_WORKFLOW: &str = include_str!("../../templates/ktask.md");

/// Fills the workflow template's `{{…}}` fields. Only values that hold for the whole milestone
/// go here (the task's own come after the handoff), so that consecutive prompts share their
/// longest possible prefix and the model's prompt cache works. `{{task_id}}` and
/// `{{task_title}}` are still filled for templates of the user's own.
pub(crate) fn render_workflow(
    template: &str,
    milestone: &Milestone,
    task: &Task,
    gates: &[String],
    commit: &str,
) -> String {
    let gates_text = if gates.is_empty() {
        "   (no gate commands are configured; run the project's own tests)".to_string()
    } else {
        gates
            .iter()
            .map(|g| format!("   - `{g}`"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    template
        .replace("{{gates}}", &gates_text)
        .replace("{{handoff}}", &milestone.handoff_path.display().to_string())
        .replace("{{task_id}}", &task.id)
        .replace("{{task_title}}", &task.title)
        .replace("{{milestone}}", &milestone.plan.display_name())
        .replace("{{commit}}", commit)
}

/// `path` (relative to the runner's folder, or absolute) as the agent working in the repository
/// `root` must name it: relative to the root when it is inside, else absolute.
pub(crate) fn path_for_agent(path: &Path, root: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    // Compare real paths (symlinked temp folders), resolving the parent: the file may not exist.
    let real = match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map_or_else(|_| absolute.clone(), |p| p.join(name)),
        _ => absolute.clone(),
    };
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    match real.strip_prefix(&root) {
        Ok(relative) => relative.to_path_buf(),
        Err(_) => real,
    }
}

/// The milestone with its plan and handoff paths as the agent, working in `root`, must use them.
pub(crate) fn milestone_for_agent(milestone: &Milestone, root: &Path) -> Milestone {
    let mut seen = milestone.clone();
    seen.plan.path = path_for_agent(&milestone.plan.path, root);
    seen.handoff_path = path_for_agent(&milestone.handoff_path, root);
    seen
}

/// The context block: the seed's sections, the handoff first because it only grows from one
/// task to the next (a shared prefix), then the execution state and the task itself.
pub(crate) fn context(milestone: &Milestone, task: &Task, handoff_text: &str) -> String {
    let completed = if milestone.progress.completed.is_empty() {
        "(none)".to_string()
    } else {
        milestone.progress.completed.join(", ")
    };
    let mut out = String::new();
    out.push_str("## Handoff Content\n\n");
    if handoff_text.trim().is_empty() {
        out.push_str("(no handoff yet: this is the first task; create the file)\n");
    } else {
        out.push_str(handoff_text.trim_end());
        out.push('\n');
    }
    out.push_str("\n## Current Execution State\n\n");
    out.push_str(&format!("- Milestone: {}\n", milestone.plan.path.display()));
    out.push_str(&format!(
        "- Handoff: {}\n",
        milestone.handoff_path.display()
    ));
    out.push_str(&format!("- Completed tasks: {completed}\n"));
    out.push_str(&format!("- Current task: {} {}\n", task.id, task.title));
    for reference in &milestone.plan.references {
        match &reference.resolved {
            Some(path) => out.push_str(&format!(
                "- Reference ({}): {}\n",
                reference.key,
                path.display()
            )),
            None => out.push_str(&format!(
                "- Reference ({}): {} (the plan names it, but no such file exists beside the plan or from the repository root)\n",
                reference.key, reference.value
            )),
        }
    }
    out.push_str("\n## Current Task\n\n");
    out.push_str(task.body.trim_end());
    out.push('\n');
    out
}

/// The whole first prompt of `task`: the workflow (or the repository's `/ktask`), then the
/// execution state, the handoff and the task. The agent works in the repository `root`, so paths
/// are given from there; the task itself is never listed as completed.
pub(crate) fn first_prompt(
    milestone: &Milestone,
    task: &Task,
    handoff_text: &str,
    settings: &Settings,
    root: &Path,
    commit_instruction: &str,
) -> String {
    let mut seen = milestone_for_agent(milestone, root);
    seen.progress.completed.retain(|c| c != &task.id);
    let context = context(&seen, task, handoff_text);
    match settings.workflow {
        WorkflowMode::SlashCommand => slash_command_prompt(&seen.plan.path, task, &context),
        WorkflowMode::Builtin => {
            let template = settings
                .workflow_text
                .as_deref()
                .unwrap_or(BUILTIN_WORKFLOW);
            let workflow =
                render_workflow(template, &seen, task, &settings.gates, commit_instruction);
            task_prompt(&workflow, &context)
        }
    }
}

/// The workflow text and the context, joined.
pub(crate) fn task_prompt(workflow: &str, context: &str) -> String {
    format!("{}\n\n---\n\n{}", workflow.trim_end(), context)
}

/// The prompt that runs the repository's own `/ktask` command with the same context.
pub(crate) fn slash_command_prompt(plan: &Path, task: &Task, context: &str) -> String {
    format!(
        "/ktask {} --task {}\n\n{}",
        plan.display(),
        task.id,
        context
    )
}

/// The prompt of a fix attempt: what verification found, and what to do. An agent that cannot
/// commit (the runner commits for it) is reminded to leave its work uncommitted.
pub(crate) fn fix_prompt(task: &Task, problems: &[Problem], cannot_commit: bool) -> String {
    let commits = if cannot_commit {
        "and leave your changes uncommitted (the runner commits them)"
    } else {
        "and everything is committed"
    };
    let mut out = format!(
        "The runner checked task {} and it is not done yet. Fix the following, then make sure the gates pass, the handoff has its `## Task {} Complete` section, {commits}:\n\n",
        task.id, task.id
    );
    for problem in problems {
        out.push_str("- ");
        out.push_str(&problem.to_string().replace('\n', "\n  "));
        out.push('\n');
    }
    out
}

/// The human's instructions for one more attempt, appended to the fix prompt.
pub(crate) fn guidance_section(guidance: &str) -> String {
    format!("\nThe human looked at these problems and says:\n\n{guidance}\n")
}

/// The runner's note in front of a task that the handoff already marks complete and the user
/// asked to run again (`--from`, `--only`).
pub(crate) fn redo_note(task: &Task) -> String {
    format!(
        "The handoff already marks task {} complete; it runs again because the user asked for it (--from/--only). Check what the earlier run left, redo or fix what this task asks, and append a new `## Task {} Complete` section.",
        task.id, task.id
    )
}

/// A note from the runner, appended to the first prompt.
pub(crate) fn with_note(prompt: &str, note: &str) -> String {
    format!("{prompt}\n\n## Note from the runner\n\n{note}\n")
}

/// The prompt that carries the human's answer back into the session.
pub(crate) fn answer_prompt(answer: &str) -> String {
    format!("The human answered your question:\n\n{answer}\n\nContinue the task with this answer.")
}

/// `--dry-run`: each task the run would start, with its command line and first prompt.
pub(crate) fn preview(
    milestone: &Milestone,
    selection: &Selection,
    settings: &Settings,
    adapter: &dyn Adapter,
    root: &Path,
) -> Vec<PreviewTask> {
    let handoff_text = std::fs::read_to_string(&milestone.handoff_path).unwrap_or_default();
    selection
        .tasks
        .iter()
        .filter(|id| selection.runs(id, &milestone.handoff))
        .filter_map(|id| milestone.plan.task(id))
        .map(|task| {
            let prompt = first_prompt(
                milestone,
                task,
                &handoff_text,
                settings,
                root,
                adapter.commit_instruction(),
            );
            let warnings = if task.effective_type() == TaskType::Validation {
                adapter.preflight(&task.body)
            } else {
                Vec::new()
            };
            PreviewTask {
                id: task.id.clone(),
                title: task.title.clone(),
                task_type: task.effective_type().to_string(),
                command: adapter.command(&prompt, None, root).display(),
                prompt,
                warnings,
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "prompt_tests.rs"]
mod tests;
