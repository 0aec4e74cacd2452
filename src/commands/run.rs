//! `kmilestone run`: resolve everything, then hand the selected tasks to the runner.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::agent::claude::Claude;
use crate::agent::command::CommandAgent;
use crate::agent::{Adapter, Question};
use crate::cli::{ColorChoice, GlobalArgs, RunArgs};
use crate::config::{AgentKind, Permission, Settings};
use crate::errors::Error;
use crate::events::EventSink;
use crate::exit_codes;
use crate::plan::milestone::Milestone;
use crate::process::Cancel;
use crate::reporter::Fanout;
use crate::reporter::json::JsonLines;
use crate::reporter::report::ReportWriter;
use crate::reporter::terminal::{Terminal, TerminalOptions, Ticking};
use crate::runner::{Human, RunRequest, Runner, select_tasks};
use crate::state::{StateDir, StateError};
use crate::vcs::Repo;

/// Whether colour is on for `stream`, per `--color` and `NO_COLOR`.
pub fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_terminal && std::env::var_os(crate::env_vars::NO_COLOR).is_none_or(|v| v.is_empty())
        }
    }
}

/// Whether this runs in a CI job: the live status line is off there, whatever the terminal.
pub fn is_ci() -> bool {
    let set = |name: &str| {
        std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
    };
    crate::env_vars::CI_MARKERS.iter().any(|name| set(name))
}

/// The width of the terminal on stdout.
fn terminal_width() -> Option<usize> {
    terminal_size::terminal_size().map(|(width, _)| usize::from(width.0))
}

/// Asks on the terminal.
struct TerminalHuman;

impl TerminalHuman {
    /// One line from the terminal, trimmed; None at end of input.
    fn read_line(prompt: &str) -> Option<String> {
        let mut stderr = std::io::stderr();
        write!(stderr, "{prompt}").ok();
        stderr.flush().ok();
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim().to_string()),
        }
    }
}

impl Human for TerminalHuman {
    fn ask(&mut self, question: &Question) -> Option<String> {
        let hint = if question.options.is_empty() {
            ""
        } else {
            " (a number picks an option)"
        };
        let answer = Self::read_line(&format!(
            "Your answer{hint}, empty to stop and answer later: "
        ))?;
        if answer.is_empty() {
            return None;
        }
        match answer.parse::<usize>() {
            Ok(n) if n >= 1 && n <= question.options.len() => Some(question.options[n - 1].clone()),
            _ => Some(answer),
        }
    }

    fn decide(&mut self, question: &Question) -> Option<String> {
        let count = question.options.len();
        loop {
            let answer = Self::read_line(&format!(
                "Instructions for the agent, or 1-{count} for an option; empty or \"stop\" stops: "
            ))?;
            if answer.is_empty() || answer.eq_ignore_ascii_case("stop") {
                return None;
            }
            match answer.parse::<usize>() {
                Ok(n) if n >= 1 && n <= count => return Some(question.options[n - 1].clone()),
                // A bare number that is no option is a slip, not instructions for the agent.
                Ok(_) => continue,
                Err(_) => return Some(answer),
            }
        }
    }
}

/// Nobody to ask: questions are saved and the run exits 4.
struct NoHuman;

impl Human for NoHuman {
    fn ask(&mut self, _question: &Question) -> Option<String> {
        None
    }

    fn is_present(&self) -> bool {
        false
    }
}

pub fn run(args: RunArgs, global: &GlobalArgs) -> Result<i32, Error> {
    let plan_path = args.plan.plan_path();
    let milestone = Milestone::load(&plan_path, args.plan.handoff.as_deref())?;
    let request = RunRequest {
        from: args.from.clone(),
        only: args.only.clone(),
        to: args.to.clone(),
        allow_dirty: args.allow_dirty,
        answer: args.answer.clone(),
        no_wait: args.no_wait,
        no_gates: args.no_gates,
    };
    let selection = select_tasks(&milestone, &request).map_err(Error::Usage)?;

    let repo = Repo::discover(&plan_path);
    let root: PathBuf = match &repo {
        Ok(repo) => repo.root().to_path_buf(),
        Err(_) => plan_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    let mut settings = Settings::load(Some(&root), global.config.as_deref())
        .map_err(|err| Error::Usage(err.to_string()))?;
    for key in &settings.unknown_keys {
        eprintln!(
            "warning: {}: unknown key `{key}` (ignored)",
            settings
                .source
                .as_deref()
                .unwrap_or(Path::new("kmilestone.toml"))
                .display()
        );
    }
    if let Some(name) = &args.agent {
        settings.agent = AgentKind::parse(name).ok_or_else(|| {
            Error::Usage(format!(
                "--agent {name}: unknown agent (expected claude or command)"
            ))
        })?;
    }
    if args.dangerously_skip_permissions {
        settings.claude.permission = Permission::Bypass;
    }
    if settings.agent == AgentKind::Command && settings.command_agent.argv.is_empty() {
        return Err(Error::Usage(
            "agent = \"command\" needs [agent.command] argv = [\"program\", \"arg\"…] in kmilestone.toml".to_string(),
        ));
    }
    let gates = if args.no_gates {
        Vec::new()
    } else {
        settings
            .gate_commands
            .clone()
            .unwrap_or_else(|| crate::gates::detect(&root))
    };
    let workflow_template = match &settings.workflow_template {
        Some(path) => std::fs::read_to_string(path).map_err(|err| {
            Error::Usage(format!(
                "{}: cannot read the workflow template: {err}",
                path.display()
            ))
        })?,
        None => crate::prompt::BUILTIN_WORKFLOW.to_string(),
    };
    if settings.workflow == crate::config::WorkflowMode::SlashCommand
        && !root.join(".claude/commands/ktask.md").is_file()
    {
        return Err(Error::Usage(format!(
            "[workflow] mode = \"slashcommand\" needs {}",
            root.join(".claude/commands/ktask.md").display()
        )));
    }
    let adapter: Box<dyn Adapter> = match settings.agent {
        AgentKind::Claude => Box::new(Claude::new(settings.claude.clone(), gates.clone())),
        AgentKind::Command => Box::new(CommandAgent::new(settings.command_agent.argv.clone())),
    };

    let stdout = std::io::stdout();
    let color = use_color(global.color, stdout.is_terminal());
    let start = first_to_run(&milestone, &selection);
    let header = milestone.header(start.as_deref());
    let mut notes = Vec::new();
    if let Some(note) = milestone.progress.gap_note()
        && !selection.forced
    {
        notes.push(note);
    }
    if !milestone.progress.unknown_completed.is_empty() {
        notes.push(format!(
            "Complete in the handoff but not in the plan: {}",
            milestone.progress.unknown_completed.join(", ")
        ));
    }

    // A task the handoff marks BLOCKED stops the run before it starts, unless --from names it.
    if let Some(start) = &start
        && let Some(mark) = milestone.handoff.blocked_mark(start)
        && request.from.as_deref() != Some(start.as_str())
        && request.only.as_deref() != Some(start.as_str())
    {
        let mut out = stdout.lock();
        for line in &header {
            writeln!(out, "{line}")?;
        }
        writeln!(
            out,
            "Task {start} is blocked in the handoff ({}:{}): {}\nResolve the blocker, then run again with --from {start}.",
            milestone.handoff_path.display(),
            mark.line,
            mark.heading
        )?;
        return Ok(exit_codes::BLOCKED);
    }

    if args.dry_run {
        let mut out = stdout.lock();
        return dry_run(
            &milestone,
            &selection.tasks,
            &header,
            adapter.as_ref(),
            &gates,
            &workflow_template,
            &root,
            &mut out,
        )
        .map_err(Error::from);
    }

    let repo = repo.map_err(|err| {
        Error::Usage(format!("{err}: kmilestone run needs the plan inside a git repository (use --dry-run to preview)"))
    })?;
    let state_dir = StateDir::create(repo.root(), &milestone.plan.id)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let _lock = state_dir.lock().map_err(|err| match err {
        StateError::Locked { .. } => Error::Usage(err.to_string()),
        other => Error::Usage(other.to_string()),
    })?;
    let mut state = state_dir
        .load(&milestone.plan.id)
        .map_err(|e| Error::Usage(e.to_string()))?;
    // Another plan with the same milestone ID shares the state folder: its interrupted attempt or
    // pending question must not be taken for this plan's. A plan that was moved or renamed keeps
    // its state.
    let plan_in_repo = crate::prompt::path_for_agent(&milestone.plan.path, repo.root())
        .display()
        .to_string();
    if let Some(other) = state.plan.as_deref()
        && other != plan_in_repo
        && repo.root().join(other).is_file()
    {
        return Err(Error::Usage(format!(
            "{} holds the state of {other}, another plan with milestone ID {}; give one of the plans a different ID (its file name, e.g. M{}b_…), or remove that folder",
            state_dir.path().display(),
            milestone.plan.id,
            milestone.plan.id.trim_start_matches('M'),
        )));
    }
    state.plan = Some(plan_in_repo);

    // Uncommitted handoff edits of an interrupted attempt are set aside before anything is
    // decided from the handoff: the attempt was never verified, and its task resumes from the
    // handoff it started with.
    let (milestone, selection, start, header) = match set_aside_interrupted_handoff(
        &repo,
        &state_dir,
        &state,
        &milestone.handoff_path,
    )? {
        Some(kept) => {
            let mut milestone = milestone;
            milestone
                .reload_handoff()
                .map_err(|e| Error::Usage(e.to_string()))?;
            notes.push(format!(
                "The interrupted attempt at task {} left uncommitted handoff changes; the handoff is back to what it was before that task (the changed version is kept at {}).",
                state.in_progress.as_ref().map_or("?", |p| p.task.as_str()),
                kept.display()
            ));
            let selection = select_tasks(&milestone, &request).map_err(Error::Usage)?;
            let start = first_to_run(&milestone, &selection);
            let header = milestone.header(start.as_deref());
            (milestone, selection, start, header)
        }
        None => (milestone, selection, start, header),
    };

    // The handoff decides completion, but a task whose last run failed verification is not
    // skipped silently.
    if !selection.forced {
        for task in &milestone.plan.tasks {
            let failed = state.tasks.get(&task.id).and_then(|t| t.result.as_deref())
                == Some(crate::events::TaskResult::Failed.as_str());
            if failed && milestone.handoff.is_complete(&task.id) {
                notes.push(format!(
                    "Task {id} is complete in the handoff, but its last run failed verification (see `kmilestone report`); it is not run again. To redo it: kmilestone run {} --from {id}",
                    milestone.plan.path.display(),
                    id = task.id
                ));
            }
        }
    }

    if start.is_none() && state.pending_question.is_none() {
        // Nothing to run: the milestone (or the requested range) is complete.
        let mut out = stdout.lock();
        for line in &header {
            writeln!(out, "{line}")?;
        }
    }

    // A dirty tree is refused before the run starts, unless it is the leftover of an interrupted
    // attempt at the task that comes next (the runner hands that to the new attempt).
    let continues_attempt = state
        .in_progress
        .as_ref()
        .is_some_and(|p| start.as_deref() == Some(p.task.as_str()));
    if start.is_some() && !args.allow_dirty && !continues_attempt {
        let dirty: Vec<String> = repo
            .dirty_files()
            .map_err(|e| Error::Usage(e.to_string()))?
            .into_iter()
            .filter(|f| !crate::state::is_state_path(f))
            .collect();
        if !dirty.is_empty() {
            return Err(Error::Usage(
                crate::runner::RunError::Dirty(dirty).to_string(),
            ));
        }
    }

    let stamp = jiff::Zoned::now().strftime("%Y%m%dT%H%M%S").to_string();
    let pr_body = state_dir.path().join("pr-body.md");
    let pr_root = repo.root().to_path_buf();
    let run_dir = state_dir
        .new_run_dir(&stamp)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let log_file = std::fs::File::create(run_dir.join("events.jsonl"))?;
    let mut log = JsonLines::new(std::io::BufWriter::new(log_file));
    let mut report = ReportWriter::new(&run_dir, state_dir.path());
    let started = Instant::now();
    let tty = stdout.is_terminal() && !is_ci();
    let options = TerminalOptions {
        color,
        quiet: global.quiet,
        verbose: global.verbose > 0,
        tty,
        width: terminal_width().unwrap_or(80),
        root: Some(repo.root().to_string_lossy().into_owned()),
    };
    let mut plain;
    let mut live;
    let mut json;
    let view: &mut dyn EventSink = if global.json {
        json = JsonLines::new(stdout.lock());
        &mut json
    } else if tty {
        live = Ticking::start(
            Terminal::new(std::io::stdout(), options),
            started,
            Duration::from_millis(250),
            terminal_width,
        );
        &mut live
    } else {
        plain = Terminal::new(stdout.lock(), options);
        &mut plain
    };
    let mut fanout = Fanout {
        sinks: vec![view, &mut log, &mut report],
    };
    let interactive =
        !global.json && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut terminal_human = TerminalHuman;
    let mut no_human = NoHuman;
    let human: &mut dyn Human = if interactive {
        &mut terminal_human
    } else {
        &mut no_human
    };

    let cancel = Cancel::new();
    crate::process::signals::install(cancel.clone())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut runner = Runner {
        milestone,
        settings,
        repo,
        state_dir,
        state,
        adapter,
        gates,
        cancel,
        sink: &mut fanout,
        human,
        workflow_template,
        run_dir,
        started,
        agent_env: Vec::new(),
    };
    let mut selection = selection;
    if start.is_none() {
        selection.tasks.clear();
    }
    let code = runtime.block_on(runner.run(&selection, &request, header, notes));
    drop(runner);
    if args.pr && code == exit_codes::SUCCESS {
        return create_pull_request(&plan_path, args.plan.handoff.as_deref(), &pr_body, &pr_root);
    }
    Ok(code)
}

/// `--pr`: runs the summary's `gh pr create` when the whole milestone is complete.
fn create_pull_request(
    plan_path: &Path,
    handoff: Option<&Path>,
    body: &Path,
    root: &Path,
) -> Result<i32, Error> {
    let milestone = Milestone::load(plan_path, handoff)?;
    if milestone.progress.next.is_some() {
        eprintln!("--pr: the milestone is not complete yet; no pull request created");
        return Ok(exit_codes::SUCCESS);
    }
    let title = match &milestone.plan.title {
        Some(title) => format!("{}: {}", milestone.plan.id, title),
        None => milestone.plan.id.clone(),
    };
    let status = std::process::Command::new("gh")
        .args(["pr", "create", "--title", &title, "--body-file"])
        .arg(body)
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .status();
    match status {
        Ok(status) if status.success() => Ok(exit_codes::SUCCESS),
        Ok(status) => {
            eprintln!("error: the milestone is complete, but `gh pr create` failed ({status})");
            Ok(exit_codes::TASK_FAILED)
        }
        Err(err) => {
            eprintln!(
                "error: the milestone is complete, but `gh` could not be run ({err}); install the GitHub CLI or run the command printed above"
            );
            Ok(exit_codes::TASK_FAILED)
        }
    }
}

/// The first selected task this run starts an agent for.
fn first_to_run(milestone: &Milestone, selection: &crate::runner::Selection) -> Option<String> {
    selection
        .tasks
        .iter()
        .find(|id| selection.forced || !milestone.handoff.is_complete(id))
        .cloned()
}

/// [`StateDir::set_aside_interrupted_handoff`] when the handoff has uncommitted changes.
fn set_aside_interrupted_handoff(
    repo: &Repo,
    state_dir: &StateDir,
    state: &crate::state::State,
    handoff: &Path,
) -> Result<Option<PathBuf>, Error> {
    if state.in_progress.is_none() {
        return Ok(None);
    }
    let usage = |e: &dyn std::fmt::Display| Error::Usage(e.to_string());
    let canonical = |path: &Path| {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        parent
            .unwrap_or(Path::new("."))
            .canonicalize()
            .ok()
            .zip(path.file_name())
            .map(|(dir, name)| dir.join(name))
    };
    let handoff_abs = canonical(handoff);
    let dirty = repo.dirty_files().map_err(|e| usage(&e))?;
    if !dirty
        .iter()
        .any(|f| handoff_abs.is_some() && canonical(&repo.root().join(f)) == handoff_abs)
    {
        return Ok(None);
    }
    state_dir
        .set_aside_interrupted_handoff(state, handoff)
        .map_err(|e| usage(&e))
}

#[allow(clippy::too_many_arguments)]
fn dry_run(
    milestone: &Milestone,
    tasks: &[String],
    header: &[String],
    adapter: &dyn Adapter,
    gates: &[String],
    workflow_template: &str,
    root: &Path,
    out: &mut dyn Write,
) -> std::io::Result<i32> {
    for line in header {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "Dry run: nothing is started.")?;
    let milestone = &crate::prompt::milestone_for_agent(milestone, root);
    let handoff_text = std::fs::read_to_string(&milestone.handoff_path).unwrap_or_default();
    let tasks: Vec<_> = tasks
        .iter()
        .filter_map(|id| milestone.plan.task(id))
        .collect();
    if tasks.is_empty() {
        writeln!(out, "No task to run: the milestone is complete.")?;
    }
    for task in tasks {
        let context = crate::prompt::context(milestone, task, &handoff_text);
        let prompt = crate::prompt::task_prompt(
            &crate::prompt::render_workflow(workflow_template, milestone, task, gates),
            &context,
        );
        let command = adapter.command(&prompt, None, root);
        writeln!(out)?;
        writeln!(
            out,
            "=== Task {}: {} [{}]",
            task.id,
            task.title,
            task.effective_type()
        )?;
        writeln!(
            out,
            "Agent command (in {}): {} < prompt",
            root.display(),
            command.display()
        )?;
        writeln!(
            out,
            "Gates: {}",
            if gates.is_empty() {
                "none".to_string()
            } else {
                gates.join(", ")
            }
        )?;
        writeln!(out, "--- prompt ---")?;
        writeln!(out, "{}", prompt.trim_end())?;
        writeln!(out, "--- end of prompt ---")?;
    }
    Ok(exit_codes::SUCCESS)
}
