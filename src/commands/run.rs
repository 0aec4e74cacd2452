//! `kmilestone run`: resolve the settings, prepare the run, build the views, hand over to the
//! runner.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::human::TerminalHuman;
use crate::cli::{GlobalArgs, RunArgs};
use crate::config::{Overrides, Settings};
use crate::errors::Error;
use crate::exit_codes;
use crate::plan::Milestone;
use crate::process::Cancel;
use crate::reporter::{ViewOptions, Views, preview};
use crate::runner::Selection;
use crate::runner::{
    self, Human, NoHuman, NoNotify, Notify, Range, RunError, RunOptions, RunParts, Runner,
};
use crate::vcs::Repo;

pub(crate) fn run(args: RunArgs, global: &GlobalArgs) -> Result<i32, Error> {
    // Before any child starts: what the agent or a gate leaves behind (a daemon, a double-forked
    // job) is adopted by kmilestone, killed and reported, instead of outliving the run.
    match crate::process::become_subreaper() {
        Ok(on) => tracing::debug!(subreaper = on, "supervision"),
        Err(error) => tracing::debug!(%error, "no subreaper; only process groups are killed"),
    }
    let plan_path = args.plan.plan_path();
    let milestone = Milestone::load(&plan_path, args.plan.handoff.as_deref())?;
    // A task a broken fence hides would be skipped and the milestone declared complete: nothing
    // starts until the plan is fixed.
    if let Some(err) = milestone.plan.hidden_tasks_error() {
        return Err(crate::plan::MilestoneError::Plan(err).into());
    }
    let range = Range {
        from: args.from.clone(),
        only: args.only.clone(),
        to: args.to.clone(),
    };
    let selection = Selection::select(&milestone, &range, None).map_err(RunError::from)?;
    let repo = Repo::discover(&plan_path);
    let root = match &repo {
        Ok(repo) => repo.root().to_path_buf(),
        Err(_) => plan_folder(&plan_path),
    };
    let overrides = Overrides {
        agent: args.agent.clone(),
        bypass_permissions: args.dangerously_skip_permissions,
        no_gates: args.no_gates,
        max_cost: args.max_cost,
        max_task_cost: args.max_task_cost,
        max_time: args.max_time,
        notify: args.notify.clone(),
    };
    let settings = Settings::resolve(&root, global.config.as_deref(), &overrides)?;
    if !args.dry_run {
        // What the first task needs, made ready while the repository and the state are read.
        std::thread::spawn(crate::process::start_watchdog);
        if settings
            .gates
            .iter()
            .any(|gate| settings.gate_sandbox.is_sandboxed(gate))
        {
            crate::process::sandbox::probe_in_background();
        }
    }
    super::warn_unknown_keys(&settings);
    let adapter = crate::agent::build(&settings, &root)?;
    let mut stdout = std::io::stdout();
    if let Some(blocked) = selection.blocked_start(&milestone, &range) {
        preview::blocked(
            &mut stdout,
            &selection.header(&milestone),
            &blocked.id,
            &milestone.handoff_path.display().to_string(),
            blocked.mark.line,
            &blocked.mark.heading,
        )?;
        return Ok(exit_codes::BLOCKED);
    }
    if args.dry_run {
        let tasks = runner::preview(&milestone, &selection, &settings, adapter.as_ref(), &root);
        let root = root.display().to_string();
        let header = selection.header(&milestone);
        let caps = runner::caps_preview(&settings, &milestone);
        preview::dry_run(&mut stdout, &header, &caps, &root, &settings.gates, &tasks)?;
        return Ok(exit_codes::SUCCESS);
    }

    let repo = repo.map_err(RunError::NotARepository)?;
    let prepare_options = runner::PrepareOptions {
        allow_dirty: args.allow_dirty,
        allow_config_changes: args.allow_config_changes,
        config: settings.source.clone(),
    };
    let prepared = runner::prepare(milestone, repo, &range, &prepare_options)?;
    tracing::debug!(
        state = %prepared.state_dir().display(),
        run = %prepared.run_dir().display(),
        "run prepared"
    );
    let started = Instant::now();
    let view_options = ViewOptions {
        json: global.json,
        color: global.color.into(),
        quiet: global.quiet,
        verbose: global.verbose > 0,
        root: prepared.root().display().to_string(),
        started,
    };
    let mut views = Views::build(&view_options, prepared.run_dir(), prepared.state_dir())?;
    let pr_body =
        crate::reporter::summary::pr_body_path(&prepared.state_dir().display().to_string());
    let pr_root = prepared.root().to_path_buf();
    let interactive =
        !global.json && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut terminal_human = TerminalHuman::new();
    let mut no_human = NoHuman;
    let human: &mut dyn Human = if interactive {
        &mut terminal_human
    } else {
        &mut no_human
    };
    let mut no_notify = NoNotify;
    let mut command_notify = settings.notify.clone().map(|argv| {
        super::notify::CommandNotifier::new(
            argv,
            settings.notify_timeout,
            pr_root.clone(),
            prepared.run_dir(),
        )
    });
    let notify: &mut dyn Notify = match &mut command_notify {
        Some(notifier) => notifier,
        None => &mut no_notify,
    };
    let cancel = Cancel::new();
    crate::process::signals::install(cancel.clone())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let parts = RunParts {
        settings,
        adapter,
        cancel,
        sink: &mut views,
        human,
        notify,
        options: RunOptions {
            answer: args.answer.clone(),
            no_wait: args.no_wait,
            allow_dirty: args.allow_dirty,
            allow_config_changes: args.allow_config_changes,
        },
        started,
    };
    let mut runner = Runner::new(prepared, parts);
    let code = runtime.block_on(runner.run());
    drop(runner);
    drop(views);
    if args.pr && code == exit_codes::SUCCESS {
        return super::pr::create_pull_request(
            &plan_path,
            args.plan.handoff.as_deref(),
            &pr_body,
            &pr_root,
        );
    }
    Ok(code)
}

/// The plan's folder, where `--dry-run` outside a repository looks for gates and config.
fn plan_folder(plan: &Path) -> PathBuf {
    plan.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
