//! The user's notify command: run with one event as a JSON object on stdin and its kind in
//! `KMILESTONE_EVENT`, when the run needs a human (a question, a decision, a blocker), when a
//! task fails for good, when a cap stops the run, and when the run ends. Each runs supervised
//! like a gate (its own process group, a timeout of 30 s by default, its output kept in the run's
//! `notify.log`), on a thread of its own so that it never delays the run; a failure is reported,
//! never fatal.

use std::io::Write;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};

use crate::events::{Event, EventKind, NotifyResult, TaskResult};
use crate::process::{self, Cancel, Limits, LineVerdict, ProcessSpec, StdinSource};
use crate::reporter::wire::WireEvent;
use crate::runner::Notify;

/// Lines of its output kept.
const TAIL_LINES: usize = 20;

pub(crate) struct CommandNotifier {
    argv: Vec<String>,
    timeout: Duration,
    cwd: PathBuf,
    log: PathBuf,
    milestone: String,
    plan: String,
    running: Vec<JoinHandle<NotifyResult>>,
}

impl CommandNotifier {
    pub(crate) fn new(
        argv: Vec<String>,
        timeout: Duration,
        cwd: PathBuf,
        run_dir: &std::path::Path,
    ) -> Self {
        CommandNotifier {
            argv,
            timeout,
            cwd,
            log: run_dir.join("notify.log"),
            milestone: String::new(),
            plan: String::new(),
            running: Vec::new(),
        }
    }

    /// The event's name and payload, for the events worth telling.
    fn notice(&mut self, event: &Event) -> Option<(&'static str, Value)> {
        let wire = serde_json::to_value(WireEvent::from(event)).ok()?;
        let name = match &event.kind {
            EventKind::RunStarted(start) => {
                self.milestone.clone_from(&start.milestone);
                self.plan.clone_from(&start.plan);
                return None;
            }
            EventKind::Question { .. } => "question",
            EventKind::DecisionNeeded { .. } => "decision_needed",
            EventKind::TaskFinished(task) => match task.result {
                TaskResult::Blocked => "blocked",
                TaskResult::Failed => "task_failed",
                _ => return None,
            },
            EventKind::CapReached { .. } => "cap_reached",
            EventKind::RunFinished(_) => "run_finished",
            _ => return None,
        };
        Some((
            name,
            json!({
                "event": name,
                "milestone": self.milestone,
                "plan": self.plan,
                "timestamp": wire["timestamp"],
                "data": wire["data"],
            }),
        ))
    }

    fn start(&mut self, name: &'static str, payload: Value) {
        let mut args = self.argv.iter().map(Into::into);
        let Some(program) = args.next() else { return };
        let spec = ProcessSpec {
            program,
            args: args.collect(),
            cwd: self.cwd.clone(),
            env_set: vec![("KMILESTONE_EVENT".into(), name.into())],
            env_remove: Vec::new(),
            // It goes to another service: nothing secret in it.
            stdin: StdinSource::Bytes(
                format!("{}\n", crate::redact::json(&payload.to_string())).into_bytes(),
            ),
        };
        let log = self.log.clone();
        let timeout = self.timeout;
        // Its own thread and runtime: the run never waits for it, and its child (whose
        // parent-death signal belongs to this thread) lives exactly as long as it runs.
        self.running.push(std::thread::spawn(move || {
            let result = run_one(name, &spec, timeout);
            append_log(&log, &result);
            result
        }));
    }
}

fn run_one(name: &str, spec: &ProcessSpec, timeout: Duration) -> NotifyResult {
    let failed = |error: String| NotifyResult {
        event: name.to_string(),
        ok: false,
        exit_code: None,
        timed_out: false,
        output_tail: String::new(),
        error: Some(error),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return failed(err.to_string()),
    };
    let limits = Limits {
        idle_timeout: None,
        wall_timeout: Some(timeout),
        after_final_grace: Duration::ZERO,
        kill_grace: Duration::from_secs(2),
    };
    // Ctrl-C stops the run, not the notification that tells of it.
    let cancel = Cancel::new();
    let mut lines: Vec<String> = Vec::new();
    let outcome = runtime.block_on(process::run(spec, &limits, &cancel, &mut |_, line| {
        if lines.len() == TAIL_LINES {
            lines.remove(0);
        }
        lines.push(line.to_string());
        LineVerdict::Continue
    }));
    match outcome {
        Ok(outcome) => NotifyResult {
            event: name.to_string(),
            ok: outcome.ended_by == process::EndedBy::Exited && outcome.exit.success(),
            exit_code: match outcome.exit {
                process::ExitKind::Code(code) => Some(code),
                process::ExitKind::Signal(_) => None,
            },
            timed_out: outcome.ended_by == process::EndedBy::WallTimeout,
            output_tail: lines.join("\n"),
            error: None,
        },
        Err(err) => failed(err.to_string()),
    }
}

fn append_log(log: &std::path::Path, result: &NotifyResult) {
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(mut file) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(log)
    else {
        return;
    };
    let status = match (&result.error, result.timed_out, result.exit_code) {
        (Some(error), _, _) => format!("could not run: {error}"),
        (None, true, _) => "timed out".to_string(),
        (None, false, Some(code)) => format!("exit {code}"),
        (None, false, None) => "killed".to_string(),
    };
    writeln!(
        file,
        "{} {}: {status}\n{}",
        jiff::Timestamp::now(),
        result.event,
        result.output_tail
    )
    .ok();
}

impl Notify for CommandNotifier {
    fn observe(&mut self, event: &Event) {
        if let Some((name, payload)) = self.notice(event) {
            self.start(name, payload);
        }
    }

    fn results(&mut self, wait: bool) -> Vec<NotifyResult> {
        let (done, still): (Vec<_>, Vec<_>) = std::mem::take(&mut self.running)
            .into_iter()
            .partition(|handle| wait || handle.is_finished());
        self.running = still;
        done.into_iter()
            .filter_map(|handle| handle.join().ok())
            .collect()
    }
}
