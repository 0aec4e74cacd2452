//! One agent invocation: the command from the adapter, supervised, its stream turned into events
//! as it arrives, and its cost and tokens added to the task.

use std::time::Duration;

use super::Runner;
use crate::events::{AgentEvent, AttemptEnd, Event, EventKind, Finished, millis};
use crate::process::{self, EndedBy, ExitKind, Limits, LineVerdict, ProcessSpec, SpawnError};
use crate::process::{StdinSource, Stream};
use crate::text::tail_lines;

/// What one agent invocation produced.
pub(crate) struct AgentRun {
    pub(crate) session_id: Option<String>,
    pub(crate) finished: Option<Finished>,
    pub(crate) end: AttemptEnd,
    /// The last text the agent said, when the result line has none.
    pub(crate) last_text: String,
    pub(crate) duration: Duration,
    /// The last lines of its stderr.
    pub(crate) stderr_tail: String,
}

impl AgentRun {
    /// No agent ran: the work an interrupted run left is verified as it stands.
    pub(crate) fn not_run() -> AgentRun {
        AgentRun {
            session_id: None,
            finished: None,
            end: AttemptEnd::Result {
                is_error: false,
                subtype: "not run".to_string(),
            },
            last_text: String::new(),
            duration: Duration::ZERO,
            stderr_tail: String::new(),
        }
    }

    /// The agent's final message: the result line's text, else the last text it said.
    pub(crate) fn final_text(&self) -> String {
        self.finished
            .as_ref()
            .map(|f| f.result.clone())
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| self.last_text.clone())
    }
}

impl Runner<'_> {
    /// Runs the agent once with `prompt_text`, resuming `session` when given.
    pub(crate) async fn run_agent(
        &mut self,
        id: &str,
        attempt: u32,
        prompt_text: &str,
        session: Option<&str>,
    ) -> Result<AgentRun, SpawnError> {
        // The agent changes the tree: what the runner knew of it is out of date.
        self.known_tree = None;
        if let Some(session) = session {
            let recorded = self
                .state
                .tasks
                .get(id)
                .and_then(|record| record.session_usage.get(session))
                .copied()
                .unwrap_or_default();
            self.adapter.resuming(session, &recorded);
        }
        let command = self.adapter.command(prompt_text, session, self.repo.root());
        self.emit(EventKind::AttemptStarted {
            id: id.to_string(),
            attempt,
            resume: session.map(str::to_string),
            command: command.display(),
        });
        let spec = ProcessSpec {
            program: command.program.into_os_string(),
            args: command.args,
            cwd: self.repo.root().to_path_buf(),
            env_set: self
                .agent_env
                .iter()
                .chain(&self.adapter.env())
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            env_remove: Vec::new(),
            stdin: StdinSource::Bytes(command.stdin),
        };
        let limits = Limits {
            idle_timeout: Some(self.settings.idle_timeout),
            wall_timeout: Some(self.settings.task_timeout),
            after_final_grace: self.settings.result_grace,
            kill_grace: self.settings.kill_grace,
        };
        let mut session_id: Option<String> = None;
        let mut finished: Option<Finished> = None;
        let mut last_text = String::new();
        let started = self.started;
        let adapter = &mut self.adapter;
        let sink = &mut *self.sink;
        let outcome = process::run(&spec, &limits, &self.cancel, &mut |stream, line| {
            if stream == Stream::Stderr {
                return LineVerdict::Continue;
            }
            let mut verdict = LineVerdict::Continue;
            for event in adapter.parse_line(line) {
                match &event {
                    AgentEvent::Started { session_id: s, .. } if !s.is_empty() => {
                        session_id = Some(s.clone());
                    }
                    AgentEvent::Text { text } if !text.trim().is_empty() => {
                        last_text = text.clone();
                    }
                    AgentEvent::Finished(f) => {
                        finished = Some(f.clone());
                        verdict = LineVerdict::Final;
                    }
                    _ => {}
                }
                sink.emit(&Event {
                    timestamp: jiff::Timestamp::now().to_string(),
                    elapsed_ms: millis(started.elapsed()),
                    kind: EventKind::Agent {
                        id: id.to_string(),
                        event,
                    },
                });
            }
            // An agent that must not go on (it started without its sandbox) gets only the
            // grace of a finished one.
            if adapter.must_stop() {
                verdict = LineVerdict::Final;
            }
            verdict
        })
        .await?;
        self.report_left_running(id, "agent", &outcome.survivors_killed);
        if outcome.ended_by != EndedBy::Exited {
            // Stopped by kmilestone, perhaps in the middle of a `git commit`.
            self.repo.clear_stale_index_lock();
        }
        let resumable = self.adapter.can_resume();
        let (end, finished) = attempt_end(&outcome, finished, &last_text, resumable);
        let stderr_tail = tail_lines(&outcome.stderr_tail, 20);
        self.emit(EventKind::AttemptFinished {
            id: id.to_string(),
            attempt,
            end: end.clone(),
            session_id: session_id.clone(),
            duration_ms: millis(outcome.duration),
            stderr_tail: stderr_tail.clone(),
        });
        Ok(AgentRun {
            session_id,
            finished,
            end,
            last_text,
            duration: outcome.duration,
            stderr_tail,
        })
    }

    /// Says what a finished agent or gate (`by`) left running and kmilestone killed.
    pub(crate) fn report_left_running(&mut self, id: &str, by: &str, killed: &[process::Survivor]) {
        if killed.is_empty() {
            return;
        }
        let processes = killed
            .iter()
            .map(|s| crate::redact::text(&format!("{} {}", s.pid, s.command)).into_owned())
            .collect();
        self.emit(EventKind::LeftRunning {
            id: id.to_string(),
            by: by.to_string(),
            processes,
        });
    }

    /// Adds an invocation's cost and tokens to the task. The agents' cost is cumulative over a
    /// resumed session, so the latest figure per session replaces the earlier one.
    pub(crate) fn account(&mut self, id: &str, run: &AgentRun) {
        let Some(finished) = &run.finished else {
            return;
        };
        let record = self.state.task_mut(id);
        record.usage.add(&finished.usage);
        for denial in &finished.permission_denials {
            if !record.denials.contains(denial) {
                record.denials.push(denial.clone());
            }
        }
        if let Some(session) = &run.session_id {
            record.sessions.retain(|s| s != session);
            record.sessions.push(session.clone());
            record
                .session_usage
                .entry(session.clone())
                .or_default()
                .add(&finished.usage);
        }
        if let Some(cost) = finished.cost_usd {
            match &run.session_id {
                Some(session) => {
                    let entry = record.session_costs.entry(session.clone()).or_insert(0.0);
                    *entry = entry.max(cost);
                }
                None => record.unattributed_cost_usd += cost,
            }
        }
    }
}

/// How the attempt ended, from the supervision's outcome and the result line. An agent that
/// cannot resume (a plain command) has no result line: its exit code is its result.
fn attempt_end(
    outcome: &process::Outcome,
    finished: Option<Finished>,
    last_text: &str,
    resumable: bool,
) -> (AttemptEnd, Option<Finished>) {
    let from_result = |f: &Finished| AttemptEnd::Result {
        is_error: f.is_error,
        subtype: f.subtype.clone(),
    };
    match outcome.ended_by {
        EndedBy::Cancelled => return (AttemptEnd::Interrupted, finished),
        EndedBy::IdleTimeout => return (AttemptEnd::IdleTimeout, finished),
        EndedBy::WallTimeout => return (AttemptEnd::WallTimeout, finished),
        EndedBy::Exited | EndedBy::AfterFinal => {}
    }
    if let Some(f) = &finished {
        return (from_result(f), finished);
    }
    if !resumable {
        let f = Finished {
            is_error: !outcome.exit.success(),
            subtype: "exit".to_string(),
            result: last_text.to_string(),
            ..Finished::default()
        };
        return (from_result(&f), Some(f));
    }
    let exit = match outcome.exit {
        ExitKind::Code(code) => format!("exit code {code}"),
        ExitKind::Signal(signal) => format!("killed by signal {signal}"),
    };
    (AttemptEnd::NoResult { exit }, None)
}
