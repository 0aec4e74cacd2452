//! The human view: the seed's header, then one line per event that matters, and the completion
//! summary or failure report at the end. Plain lines, no control characters unless colour is on.

use std::io::Write;

use owo_colors::OwoColorize;

use crate::agent::AgentEvent;
use crate::events::{AttemptEnd, Event, EventKind, EventSink, TaskResult};
use crate::runner::format_duration_ms;

pub struct Terminal<W: Write> {
    out: W,
    color: bool,
    quiet: bool,
    verbose: bool,
}

impl<W: Write> Terminal<W> {
    pub fn new(out: W, color: bool, quiet: bool, verbose: bool) -> Terminal<W> {
        Terminal {
            out,
            color,
            quiet,
            verbose,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn line(&mut self, text: &str) {
        writeln!(self.out, "{text}").ok();
        self.out.flush().ok();
    }

    fn paint_ok(&self, text: &str) -> String {
        if self.color {
            text.green().to_string()
        } else {
            text.to_string()
        }
    }

    fn paint_bad(&self, text: &str) -> String {
        if self.color {
            text.red().to_string()
        } else {
            text.to_string()
        }
    }

    fn paint_dim(&self, text: &str) -> String {
        if self.color {
            text.dimmed().to_string()
        } else {
            text.to_string()
        }
    }
}

/// One line of what the agent is doing, or `None` for events not worth a line.
pub fn agent_activity(event: &AgentEvent) -> Option<String> {
    match event {
        AgentEvent::Started { session_id, model } => Some(format!(
            "session {session_id}{}",
            model
                .as_ref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        )),
        AgentEvent::ToolUse { name, summary } if summary.is_empty() => Some(name.clone()),
        AgentEvent::ToolUse { name, summary } => Some(format!("{name} {summary}")),
        AgentEvent::Text { text } => {
            let last = text.lines().rev().find(|l| !l.trim().is_empty())?;
            Some(crate::agent::claude::truncate(last.trim(), 100))
        }
        AgentEvent::Retry { message } => Some(message.clone()),
        AgentEvent::ToolResult {
            is_error: true,
            summary,
        } => Some(format!("tool error: {summary}")),
        AgentEvent::ToolResult { .. } | AgentEvent::Finished(_) | AgentEvent::Unknown { .. } => {
            None
        }
    }
}

impl<W: Write> EventSink for Terminal<W> {
    fn emit(&mut self, event: &Event) {
        match &event.kind {
            EventKind::RunStarted {
                header,
                notes,
                agent,
                permission,
                gates,
                tasks,
                ..
            } => {
                for line in header {
                    self.line(line);
                }
                for note in notes {
                    self.line(note);
                }
                if !self.quiet {
                    self.line(&format!("Agent: {agent} (permissions: {permission})"));
                    let gates = if gates.is_empty() {
                        "none".to_string()
                    } else {
                        gates.join(", ")
                    };
                    self.line(&format!("Gates: {gates}"));
                    self.line(&format!(
                        "Tasks to run: {}",
                        if tasks.is_empty() {
                            "none".to_string()
                        } else {
                            tasks.join(", ")
                        }
                    ));
                }
            }
            EventKind::TaskStarted {
                id,
                title,
                task_type,
                note,
            } => {
                self.line("");
                self.line(&format!("▶ Task {id}: {title} [{task_type}]"));
                if let Some(note) = note {
                    self.line(&format!("  {note}"));
                }
            }
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
                if self.verbose {
                    let dim = self.paint_dim(&format!("  $ {command}"));
                    self.line(&dim);
                }
            }
            EventKind::Agent { event, .. } => {
                if self.quiet {
                    return;
                }
                let show = self.verbose
                    || matches!(
                        event,
                        AgentEvent::ToolUse { .. }
                            | AgentEvent::Retry { .. }
                            | AgentEvent::Started { .. }
                    );
                if show && let Some(activity) = agent_activity(event) {
                    let dim = self.paint_dim(&format!("  · {activity}"));
                    self.line(&dim);
                }
            }
            EventKind::AttemptFinished {
                end,
                duration_ms,
                stderr_tail,
                ..
            } => {
                let text = match end {
                    AttemptEnd::Result {
                        is_error: false, ..
                    } => None,
                    AttemptEnd::Result {
                        is_error: true,
                        subtype,
                    } if subtype.is_empty() || subtype == "success" => {
                        // An API failure: its status is in the verification report.
                        Some("agent ended with an error".to_string())
                    }
                    AttemptEnd::Result {
                        is_error: true,
                        subtype,
                    } => Some(format!("agent ended with an error ({subtype})")),
                    AttemptEnd::NoResult { exit } => {
                        Some(format!("agent ended without a result ({exit})"))
                    }
                    AttemptEnd::IdleTimeout => {
                        Some("agent stopped: no output for too long".to_string())
                    }
                    AttemptEnd::WallTimeout => Some("agent stopped: task timeout".to_string()),
                    AttemptEnd::Interrupted => Some("agent stopped: interrupted".to_string()),
                };
                if let Some(text) = text {
                    let bad = self.paint_bad(&format!(
                        "  ✗ {text} after {}",
                        format_duration_ms(*duration_ms)
                    ));
                    self.line(&bad);
                    if !stderr_tail.trim().is_empty() && !self.quiet {
                        for line in stderr_tail
                            .lines()
                            .rev()
                            .take(5)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                        {
                            self.line(&format!("    {line}"));
                        }
                    }
                }
            }
            EventKind::HandoffRestored { detail, .. } => {
                let bad = self.paint_bad(&format!("  ! {detail}"));
                self.line(&bad);
            }
            EventKind::GateStarted { .. } => {}
            EventKind::GateFinished { gate, .. } => {
                let time = format_duration_ms(gate.duration_ms);
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
                files,
                findings,
                high,
                ..
            } => {
                if findings.is_empty() {
                    let ok =
                        self.paint_ok(&format!("  ✓ unit-test quality: {files} file(s), no issue"));
                    self.line(&ok);
                } else {
                    let text = format!(
                        "  {} unit-test quality: {} finding(s), {high} HIGH",
                        if *high > 0 { "✗" } else { "!" },
                        findings.len()
                    );
                    let painted = if *high > 0 {
                        self.paint_bad(&text)
                    } else {
                        text
                    };
                    self.line(&painted);
                    for finding in findings {
                        self.line(&format!("    {finding}"));
                    }
                }
            }
            EventKind::VerificationFailed {
                attempt,
                problems,
                retrying,
                ..
            } => {
                let what = if *retrying {
                    "sending back to the agent"
                } else {
                    "no fix attempts left"
                };
                let bad = self.paint_bad(&format!(
                    "  ✗ verification failed (attempt {attempt}), {what}:"
                ));
                self.line(&bad);
                for problem in problems {
                    let mut lines = problem.lines();
                    if let Some(first) = lines.next() {
                        self.line(&format!("    - {first}"));
                    }
                    for line in lines.take(if self.verbose { usize::MAX } else { 12 }) {
                        self.line(&format!("      {line}"));
                    }
                }
            }
            EventKind::Question { id, question, .. } => {
                self.line("");
                self.line(&format!("? The agent asks (task {id}):"));
                for line in question.text.lines() {
                    self.line(&format!("  {line}"));
                }
                if !question.options.is_empty() {
                    self.line("  Options:");
                    for (n, option) in question.options.iter().enumerate() {
                        self.line(&format!("    {}. {option}", n + 1));
                    }
                }
                if let Some(recommendation) = &question.recommendation {
                    self.line(&format!("  Recommendation: {recommendation}"));
                }
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
                self.line(&format!(
                    "  ⏸ usage limit: waiting{when} ({} left): {}",
                    format_duration_ms(wait_seconds * 1000),
                    crate::agent::claude::truncate(message, 100)
                ));
            }
            EventKind::TaskFinished(summary) => {
                let cost = format!("${:.4}", summary.totals.cost_usd);
                let tokens = summary.totals.usage.total();
                let stats = format!(
                    "{} attempt{}, {}, {cost}, {tokens} tokens",
                    summary.attempts,
                    if summary.attempts == 1 { "" } else { "s" },
                    format_duration_ms(summary.duration_ms)
                );
                let text = match summary.result {
                    TaskResult::Completed => {
                        self.paint_ok(&format!("✓ Task {} complete ({stats})", summary.id))
                    }
                    other => self.paint_bad(&format!(
                        "✗ Task {} {} ({stats})",
                        summary.id,
                        other.as_str().replace('_', " ")
                    )),
                };
                self.line(&text);
            }
            EventKind::RunFinished {
                summary,
                message,
                exit_code,
                ..
            } => {
                self.line("");
                if let Some(summary) = summary {
                    for line in summary.lines() {
                        self.line(line);
                    }
                }
                if let Some(message) = message {
                    self.line(message);
                }
                if *exit_code != 0 && !self.quiet {
                    self.line(&format!("(exit code {exit_code})"));
                }
            }
        }
    }
}
