//! The permanent lines of each event kind, and what each changes in the live status line.

use std::io::Write;

use super::{Live, Terminal, agent_activity};
use crate::events::{
    AgentEvent, AttemptEnd, Event, EventKind, Problem, RunEnd, RunOutcome, RunStart, TaskResult,
    TaskSummary, TestFinding,
};
use crate::reporter::format::{self, cost};
use crate::reporter::summary;
use crate::text::{first_line, plural};

impl<W: Write> Terminal<W> {
    fn task_started(
        &mut self,
        id: &str,
        title: &str,
        task_type: &str,
        leftovers: Option<&crate::events::Leftovers>,
        elapsed_ms: u64,
    ) {
        self.line("");
        self.line(&format!("▶ Task {id}: {title} [{task_type}]"));
        if let Some(leftovers) = leftovers {
            self.line(&format!("  {leftovers}"));
        }
        if let Some(status) = &mut self.status {
            status.set(Some(Live {
                id: id.to_string(),
                title: title.to_string(),
                started_ms: elapsed_ms,
                attempt: 1,
                activity: String::new(),
                gate: None,
            }));
        }
    }

    /// What the agent or a gate (`by`) left running, which kmilestone stopped.
    fn left_running(&mut self, by: &str, processes: &[String]) {
        let by = match by {
            "agent" => "the agent".to_string(),
            gate => format!("gate {gate}"),
        };
        let (count, them) = match processes.len() {
            1 => ("a process".to_string(), "it"),
            n => (format!("{n} processes"), "them"),
        };
        let bad = self.paint_bad(&format!(
            "  ! {by} left {count} running; kmilestone stopped {them}: {}",
            processes.join("; ")
        ));
        self.line(&bad);
    }

    /// The permanent lines of `event`, and what it changes in the status line.
    pub(super) fn show(&mut self, event: &Event) {
        match &event.kind {
            EventKind::RunStarted(start) => self.run_started(start),
            EventKind::TaskStarted {
                id,
                title,
                task_type,
                leftovers,
            } => self.task_started(id, title, task_type, leftovers.as_ref(), event.elapsed_ms),
            EventKind::AttemptStarted {
                attempt,
                resume,
                command,
                ..
            } => {
                if *attempt > 1 || resume.is_some() {
                    let how = resume
                        .as_ref()
                        .map(|s| format!(" (resuming session {s})"))
                        .unwrap_or_default();
                    self.line(&format!("  attempt {attempt}{how}"));
                }
                if self.options.verbose {
                    let dim = self.paint_dim(&format!("  $ {command}"));
                    self.line(&dim);
                }
                if let Some(status) = &mut self.status {
                    let resuming = resume.is_some();
                    status.paused = false;
                    status.update(|live| {
                        live.attempt = *attempt;
                        live.gate = None;
                        live.activity = if resuming {
                            "resuming the agent's session".to_string()
                        } else {
                            "starting the agent".to_string()
                        };
                    });
                }
            }
            EventKind::Agent { event, .. } => self.agent_event(event),
            EventKind::AttemptFinished {
                end,
                duration_ms,
                stderr_tail,
                ..
            } => self.attempt_finished(end, *duration_ms, stderr_tail),
            EventKind::LeftRunning { by, processes, .. } => self.left_running(by, processes),
            EventKind::HandoffRestored { id, kept } => {
                let bad = self.paint_bad(&format!(
                    "  ! the agent removed or changed handoff content that was there before task {id}; it was restored (the agent's version is kept at {kept})"
                ));
                self.line(&bad);
            }
            EventKind::GateStarted { command, .. } => {
                if let Some(status) = &mut self.status {
                    let started = event.elapsed_ms;
                    status.update(|live| live.gate = Some((command.clone(), started)));
                }
            }
            EventKind::GateFinished { gate, .. } => {
                if let Some(status) = &mut self.status {
                    status.update(|live| live.gate = None);
                }
                let time = format::duration_ms(gate.duration_ms);
                let text = if gate.passed {
                    self.paint_ok(&format!("  ✓ gate {} ({time})", gate.command))
                } else if gate.timed_out {
                    self.paint_bad(&format!("  ✗ gate {} timed out ({time})", gate.command))
                } else {
                    self.paint_bad(&format!(
                        "  ✗ gate {} failed{} ({time})",
                        gate.command,
                        gate.exit_code
                            .map(|c| format!(" with exit code {c}"))
                            .unwrap_or_default()
                    ))
                };
                self.line(&text);
            }
            EventKind::CheckFinished {
                files, findings, ..
            } => self.check_finished(*files, findings),
            EventKind::VerificationFailed {
                attempt,
                problems,
                retrying,
                ..
            } => self.verification_failed(*attempt, problems, *retrying),
            EventKind::Question { id, question, .. } => {
                self.show_question(&format!("? The agent asks (task {id}):"), question);
            }
            EventKind::DecisionNeeded { id, question } => {
                self.show_question(&format!("? Your decision (task {id}):"), question);
            }
            EventKind::WaitingForLimit {
                message,
                resets_at,
                wait_seconds,
                ..
            } => {
                let when = resets_at
                    .as_ref()
                    .map(|t| format!(" until {t}"))
                    .unwrap_or_default();
                self.set_activity(format!("usage limit: waiting{when}"));
                self.line(&format!(
                    "  ⏸ usage limit: waiting{when} ({} left): {}",
                    format::duration_ms(wait_seconds * 1000),
                    first_line(&self.redacted(message), 100)
                ));
            }
            EventKind::TaskFinished(summary) => self.task_finished(summary),
            // The run's last message says which cap and how to go on.
            EventKind::CapReached { .. } => {}
            EventKind::Notified(result) => {
                if !result.ok && !self.options.quiet {
                    let why = match (&result.error, result.timed_out, result.exit_code) {
                        (Some(error), _, _) => error.clone(),
                        (None, true, _) => "timed out".to_string(),
                        (None, false, Some(code)) => format!("exited with {code}"),
                        (None, false, None) => "was killed".to_string(),
                    };
                    let text = self.paint_bad(&format!(
                        "  ! the notify command for {} failed ({why}); the run goes on",
                        result.event
                    ));
                    self.line(&text);
                }
            }
            EventKind::RunFinished(end) => self.run_finished(end),
        }
    }

    fn run_started(&mut self, start: &RunStart) {
        self.state_dir = start.state_dir.clone();
        for line in summary::header_lines(&start.header) {
            self.line(&line);
        }
        for note in &start.notes {
            self.line(&note.to_string());
        }
        if self.options.quiet {
            return;
        }
        self.line(&format!(
            "Agent: {} (permissions: {})",
            start.agent, start.permission
        ));
        let list = |items: &[String]| {
            if items.is_empty() {
                "none".to_string()
            } else {
                items.join(", ")
            }
        };
        let unsandboxed = &start.gate_sandbox.unsandboxed;
        let gates: Vec<String> = start
            .gates
            .iter()
            .map(|gate| {
                if unsandboxed.contains(gate) {
                    format!("{gate} (unsandboxed)")
                } else {
                    gate.clone()
                }
            })
            .collect();
        self.line(&format!("Gates: {}", list(&gates)));
        if !start.gates.is_empty() {
            self.line(&format!("Gate {}", start.gate_sandbox.description));
        }
        if !start.caps.is_empty() {
            self.line(&format!("Caps: {}", start.caps));
        }
        self.line(&format!("Tasks to run: {}", list(&start.tasks)));
    }

    fn agent_event(&mut self, event: &AgentEvent) {
        let activity = agent_activity(event, &self.redactor).map(|a| match &self.root {
            Some(root) => a.replace(root.as_str(), ""),
            None => a,
        });
        if let Some(activity) = &activity {
            self.set_activity(activity.clone());
        }
        if self.options.quiet {
            return;
        }
        // On a terminal the status line shows what the agent does; a log keeps the tool calls
        // as lines.
        let show = self.options.verbose
            || (!self.options.tty
                && matches!(
                    event,
                    AgentEvent::ToolUse { .. }
                        | AgentEvent::Retry { .. }
                        | AgentEvent::Started { .. }
                ));
        if show && let Some(activity) = activity {
            let dim = self.paint_dim(&format!("  · {activity}"));
            self.line(&dim);
        }
    }

    fn attempt_finished(&mut self, end: &AttemptEnd, duration_ms: u64, stderr_tail: &str) {
        self.set_activity("verifying the work".to_string());
        let text = match end {
            AttemptEnd::Result {
                is_error: false, ..
            } => return,
            // An API failure: its status is in the verification report.
            AttemptEnd::Result {
                is_error: true,
                subtype,
            } if subtype.is_empty() || subtype == "success" => {
                "agent ended with an error".to_string()
            }
            AttemptEnd::Result {
                is_error: true,
                subtype,
            } => format!("agent ended with an error ({subtype})"),
            AttemptEnd::NoResult { exit } => format!("agent ended without a result ({exit})"),
            AttemptEnd::IdleTimeout => "agent stopped: no output for too long".to_string(),
            AttemptEnd::WallTimeout => "agent stopped: task timeout".to_string(),
            AttemptEnd::Interrupted => "agent stopped: interrupted".to_string(),
        };
        let bad = self.paint_bad(&format!(
            "  ✗ {text} after {}",
            format::duration_ms(duration_ms)
        ));
        self.line(&bad);
        if !stderr_tail.trim().is_empty() && !self.options.quiet {
            let stderr_tail = self.redacted(stderr_tail);
            let lines: Vec<&str> = stderr_tail.lines().collect();
            for line in &lines[lines.len().saturating_sub(5)..] {
                self.line(&format!("    {line}"));
            }
        }
    }

    fn check_finished(&mut self, files: usize, findings: &[TestFinding]) {
        if findings.is_empty() {
            let ok = self.paint_ok(&format!("  ✓ unit-test quality: {files} file(s), no issue"));
            self.line(&ok);
            return;
        }
        let high = findings.iter().filter(|f| f.is_high()).count();
        let text = format!(
            "  {} unit-test quality: {} finding(s), {high} HIGH",
            if high > 0 { "✗" } else { "!" },
            findings.len()
        );
        let painted = if high > 0 {
            self.paint_bad(&text)
        } else {
            text
        };
        self.line(&painted);
        for finding in findings {
            self.line(&format!("    {finding}"));
        }
    }

    fn verification_failed(&mut self, attempt: u32, problems: &[Problem], retrying: bool) {
        let what = if retrying {
            "sending back to the agent"
        } else {
            "no fix attempts left"
        };
        self.set_activity(what.to_string());
        let bad = self.paint_bad(&format!(
            "  ✗ verification failed (attempt {attempt}), {what}:"
        ));
        self.line(&bad);
        let limit = if self.options.verbose { usize::MAX } else { 12 };
        for problem in problems {
            let text = self.redacted(&problem.to_string());
            let mut lines = text.lines();
            if let Some(first) = lines.next() {
                self.line(&format!("    - {first}"));
            }
            for line in lines.take(limit) {
                self.line(&format!("      {line}"));
            }
        }
    }

    fn task_finished(&mut self, summary: &TaskSummary) {
        if let Some(status) = &mut self.status {
            status.set(None);
            status.hide();
        }
        let spent = format!(
            "{}, {}, {} tokens",
            format::duration_ms(summary.duration_ms),
            cost(summary.totals.cost_usd),
            summary.totals.usage.total()
        );
        let stats = format!(
            "{} attempt{}, {spent}",
            summary.attempts,
            plural(summary.attempts)
        );
        let text = match summary.result {
            TaskResult::Completed => {
                self.paint_ok(&format!("✓ Task {} complete ({stats})", summary.id))
            }
            // Asking is not failing: the attempt that asked is not counted.
            TaskResult::Question => format!("? Task {} waits for an answer ({spent})", summary.id),
            other => self.paint_bad(&format!(
                "✗ Task {} {} ({stats})",
                summary.id,
                other.as_str().replace('_', " ")
            )),
        };
        self.line(&text);
        for denial in &summary.denials {
            self.line(&format!("  ⊘ {denial}"));
        }
    }

    fn run_finished(&mut self, end: &RunEnd) {
        if let Some(status) = &mut self.status {
            status.set(None);
            status.hide();
        }
        self.line("");
        if end.outcome == RunOutcome::Complete {
            for line in summary::completion_summary(&end.milestone).lines() {
                self.line(line);
            }
            if end.milestone.complete {
                self.line("");
                let command = summary::pr_command(&end.milestone, &self.state_dir);
                for line in command.lines() {
                    self.line(line);
                }
            }
        }
        if let Some(message) = end.outcome.message() {
            self.line(&message);
        }
        let code = end.outcome.exit_code();
        if code != 0 && !self.options.quiet {
            self.line(&format!("(exit code {code})"));
        }
    }
}
