//! The human view: the seed's header, then one line per event that matters, and the completion
//! summary or failure report at the end. On a terminal, one status line below the permanent lines
//! is redrawn in place: the task, its elapsed time and what the agent is doing. Elsewhere plain
//! lines, no control characters unless colour is asked for. Times come from the events, so a
//! rendering of the same events is the same text.

use std::io::Write;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use owo_colors::OwoColorize;

use crate::agent::AgentEvent;
use crate::events::{AttemptEnd, Event, EventKind, EventSink, TaskResult};
use crate::runner::format_duration_ms;

/// How the terminal view prints.
#[derive(Debug, Clone, Default)]
pub struct TerminalOptions {
    pub color: bool,
    pub quiet: bool,
    pub verbose: bool,
    /// A terminal: one live status line is redrawn below the permanent lines. Otherwise plain
    /// lines only, one per event that matters, and no control characters.
    pub tty: bool,
    /// Columns of the terminal; the status line is cut to fit.
    pub width: usize,
    /// The repository root: paths under it are shown relative to it (`Edit src/lib.rs`).
    pub root: Option<String>,
}

/// The task being worked on, for the live status line.
#[derive(Debug)]
struct Live {
    id: String,
    title: String,
    started_ms: u64,
    attempt: u32,
    activity: String,
    /// The gate running and when it started.
    gate: Option<(String, u64)>,
    /// The agent asked a question: the status line stays off while the user answers.
    paused: bool,
}

pub struct Terminal<W: Write> {
    out: W,
    color: bool,
    quiet: bool,
    verbose: bool,
    tty: bool,
    width: usize,
    root: Option<String>,
    live: Option<Live>,
    /// Whether the status line is on the screen now.
    drawn: bool,
    /// The run's clock as the events (and ticks) tell it, in milliseconds since the run started.
    now_ms: u64,
    frame: usize,
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/// Carriage return and erase the line.
const ERASE: &str = "\r\x1b[2K";

impl<W: Write> Terminal<W> {
    pub fn new(out: W, options: TerminalOptions) -> Terminal<W> {
        Terminal {
            out,
            color: options.color,
            quiet: options.quiet,
            verbose: options.verbose,
            tty: options.tty,
            width: options.width,
            root: options
                .root
                .map(|r| format!("{}/", r.trim_end_matches('/'))),
            live: None,
            drawn: false,
            now_ms: 0,
            frame: 0,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// Redraws the status line with the run's clock at `now_ms` (a timer calls this between
    /// events so the elapsed time moves while the agent works).
    pub fn tick(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
        self.frame += 1;
        self.draw_status();
    }

    /// The terminal's width changed.
    pub fn set_width(&mut self, width: usize) {
        self.width = width;
    }

    /// Takes the status line off the screen (the run is over, or was cut short).
    pub fn finish(&mut self) {
        self.live = None;
        self.clear_status();
        self.out.flush().ok();
    }

    fn clear_status(&mut self) {
        if self.drawn {
            write!(self.out, "{ERASE}").ok();
            self.drawn = false;
        }
    }

    fn status_text(&self) -> Option<String> {
        let live = self.live.as_ref().filter(|l| !l.paused)?;
        let mut text = format!(
            "{} {} {} · {}",
            SPINNER[self.frame % SPINNER.len()],
            live.id,
            live.title,
            clock(self.now_ms.saturating_sub(live.started_ms))
        );
        if live.attempt > 1 {
            text.push_str(&format!(" · attempt {}", live.attempt));
        }
        let doing = match &live.gate {
            Some((command, started)) => format!(
                "gate {command} ({})",
                clock(self.now_ms.saturating_sub(*started))
            ),
            None => live.activity.clone(),
        };
        if !doing.is_empty() {
            text.push_str(" · ");
            text.push_str(&doing);
        }
        let width = if self.width == 0 { 80 } else { self.width };
        Some(cut(&text, width.saturating_sub(1).max(10)))
    }

    fn draw_status(&mut self) {
        if !self.tty {
            return;
        }
        let Some(text) = self.status_text() else {
            self.clear_status();
            self.out.flush().ok();
            return;
        };
        let text = self.paint_dim(&text);
        write!(self.out, "{ERASE}{text}").ok();
        self.drawn = true;
        self.out.flush().ok();
    }

    fn set_activity(&mut self, activity: String) {
        if let Some(live) = &mut self.live {
            live.activity = activity;
        }
    }

    /// A question for the human, with its numbered options; the status line waits meanwhile.
    fn show_question(&mut self, heading: &str, question: &crate::agent::Question) {
        if let Some(live) = &mut self.live {
            live.paused = true;
        }
        self.line("");
        self.line(heading);
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

    fn line(&mut self, text: &str) {
        self.clear_status();
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

/// `m:ss`, or `h:mm:ss` past an hour.
pub fn clock(ms: u64) -> String {
    let seconds = ms / 1000;
    if seconds >= 3600 {
        format!(
            "{}:{:02}:{:02}",
            seconds / 3600,
            (seconds % 3600) / 60,
            seconds % 60
        )
    } else {
        format!("{}:{:02}", seconds / 60, seconds % 60)
    }
}

/// `text` cut to `max` characters, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The last sentence of the last non-empty line of `text`.
pub fn last_sentence(text: &str) -> Option<String> {
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    let body = line.trim_end_matches(['.', '!', '?', ':']);
    let start = [". ", "! ", "? "]
        .iter()
        .filter_map(|end| body.rfind(end).map(|at| at + end.len()))
        .max()
        .unwrap_or(0);
    Some(line[start..].trim().to_string())
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
            last_sentence(text).map(|s| crate::agent::claude::truncate(&s, 100))
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
        self.now_ms = self.now_ms.max(event.elapsed_ms);
        self.frame += 1;
        self.show(event);
        self.draw_status();
    }
}

impl<W: Write> Terminal<W> {
    /// The permanent lines of `event`, and what it changes in the status line.
    fn show(&mut self, event: &Event) {
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
                self.live = Some(Live {
                    id: id.clone(),
                    title: title.clone(),
                    started_ms: event.elapsed_ms,
                    attempt: 1,
                    activity: String::new(),
                    gate: None,
                    paused: false,
                });
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
                if let Some(live) = &mut self.live {
                    live.attempt = *attempt;
                    live.paused = false;
                    live.gate = None;
                    live.activity = if resume.is_some() {
                        "resuming the agent's session".to_string()
                    } else {
                        "starting the agent".to_string()
                    };
                }
            }
            EventKind::Agent { event, .. } => {
                let activity = agent_activity(event).map(|a| match &self.root {
                    Some(root) => a.replace(root.as_str(), ""),
                    None => a,
                });
                if let Some(activity) = &activity {
                    self.set_activity(activity.clone());
                }
                if self.quiet {
                    return;
                }
                // On a terminal the status line shows what the agent does; a log keeps the
                // tool calls as lines.
                let show = self.verbose
                    || (!self.tty
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
            EventKind::AttemptFinished {
                end,
                duration_ms,
                stderr_tail,
                ..
            } => {
                self.set_activity("verifying the work".to_string());
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
            EventKind::GateStarted { command, .. } => {
                if let Some(live) = &mut self.live {
                    live.gate = Some((command.clone(), event.elapsed_ms));
                }
            }
            EventKind::GateFinished { gate, .. } => {
                if let Some(live) = &mut self.live {
                    live.gate = None;
                }
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
                self.set_activity(what.to_string());
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
                    format_duration_ms(wait_seconds * 1000),
                    crate::agent::claude::truncate(message, 100)
                ));
            }
            EventKind::TaskFinished(summary) => {
                self.live = None;
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
                self.live = None;
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

#[cfg(test)]
#[path = "terminal_tests.rs"]
mod tests;

/// The terminal view on a terminal, with a timer that redraws the status line every `every` so
/// its clock moves while the agent works. Dropping it stops the timer and clears the line.
pub struct Ticking<W: Write + Send + 'static> {
    terminal: Arc<Mutex<Terminal<W>>>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<W: Write + Send + 'static> Ticking<W> {
    /// `started` is the instant the run's `elapsed_ms` counts from; `width` reads the terminal's
    /// current width.
    pub fn start(
        terminal: Terminal<W>,
        started: Instant,
        every: Duration,
        width: fn() -> Option<usize>,
    ) -> Ticking<W> {
        let terminal = Arc::new(Mutex::new(terminal));
        let (stop, stopped) = mpsc::channel::<()>();
        let shared = Arc::clone(&terminal);
        let thread = std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                let mut terminal = shared.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(width) = width() {
                    terminal.set_width(width);
                }
                terminal.tick(crate::events::millis(started.elapsed()));
            }
        });
        Ticking {
            terminal,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl<W: Write + Send + 'static> EventSink for Ticking<W> {
    fn emit(&mut self, event: &Event) {
        self.terminal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .emit(event);
    }
}

impl<W: Write + Send + 'static> Drop for Ticking<W> {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
        self.terminal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .finish();
    }
}
