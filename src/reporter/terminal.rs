//! The human view: the seed's header, then one line per event that matters, and the completion
//! summary or the failure report at the end. On a terminal (and not in CI) a status line below
//! the permanent lines shows the task, its elapsed time and what the agent is doing; indicatif
//! draws and ticks it. Elsewhere plain lines, with no control characters unless colour is asked
//! for. Permanent lines come from the events alone, so the same events give the same text.
//! Every line is redacted as it is written, and any text cut short is redacted before the cut,
//! so that no part of a secret is left at the edge.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use owo_colors::OwoColorize;

use super::format::{clock, cut};
use crate::events::{AgentEvent, Event, EventSink, Question};
use crate::redact::Redactor;
use crate::text::first_line;

/// How the terminal view prints.
#[derive(Debug, Clone)]
pub(crate) struct TerminalOptions {
    pub color: bool,
    pub quiet: bool,
    pub verbose: bool,
    /// A terminal: a live status line is drawn below the permanent lines. Otherwise plain lines
    /// only, one per event that matters, and no control characters.
    pub tty: bool,
    /// The repository root: paths under it are shown relative to it (`Edit src/lib.rs`).
    pub root: Option<String>,
    /// The instant the run's `elapsed_ms` counts from (the status line's clock).
    pub started: Instant,
}

/// The task being worked on, for the live status line.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    pub id: String,
    pub title: String,
    pub started_ms: u64,
    pub attempt: u32,
    pub activity: String,
    /// The gate running and when it started.
    pub gate: Option<(String, u64)>,
}

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// The status line's text at `now_ms` on the run's clock, redacted and cut to `width` columns.
pub(crate) fn status_text(live: &Live, now_ms: u64, width: usize, redactor: &Redactor) -> String {
    let mut text = format!(
        "{} {} · {}",
        live.id,
        live.title,
        clock(now_ms.saturating_sub(live.started_ms))
    );
    if live.attempt > 1 {
        text.push_str(&format!(" · attempt {}", live.attempt));
    }
    let doing = match &live.gate {
        Some((command, started)) => {
            format!(
                "gate {command} ({})",
                clock(now_ms.saturating_sub(*started))
            )
        }
        None => live.activity.clone(),
    };
    if !doing.is_empty() {
        text.push_str(" · ");
        text.push_str(&doing);
    }
    // Two columns for the spinner, one spare so the line never wraps.
    cut(&redactor.text(&text), width.saturating_sub(3).max(10))
}

/// The live line: an indicatif spinner whose text is read from the shared [`Live`] at each tick.
struct StatusLine {
    live: Arc<Mutex<Option<Live>>>,
    started: Instant,
    bar: Option<ProgressBar>,
    /// Off the screen while someone answers a question (it would draw over what they type),
    /// until the next attempt starts.
    paused: bool,
    redactor: Arc<Redactor>,
}

impl StatusLine {
    fn set(&mut self, live: Option<Live>) {
        *self.live.lock().unwrap_or_else(PoisonError::into_inner) = live;
    }

    fn update(&mut self, change: impl FnOnce(&mut Live)) {
        if let Some(live) = self
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            change(live);
        }
    }

    /// Shows the line (when a task is live); a fresh bar after a pause.
    fn show(&mut self) {
        let active = self
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if !active || self.paused || self.bar.is_some() {
            return;
        }
        let shared = Arc::clone(&self.live);
        let started = self.started;
        let redactor = Arc::clone(&self.redactor);
        let style = ProgressStyle::with_template("{spinner} {status}")
            .expect("the status template is valid")
            .tick_strings(&SPINNER)
            .with_key(
                "status",
                move |_: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                    let now_ms = crate::events::millis(started.elapsed());
                    let width =
                        terminal_size::terminal_size().map_or(80, |(w, _)| usize::from(w.0));
                    if let Some(live) = shared
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .as_ref()
                    {
                        let text = status_text(live, now_ms, width, &redactor);
                        // Dim, as the permanent lines' agent activity.
                        write!(out, "{}", text.dimmed()).ok();
                    }
                },
            );
        let bar =
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout()).with_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bar = Some(bar);
    }

    /// Takes the line off the screen (a question is being asked, or the run is over).
    fn hide(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for StatusLine {
    fn drop(&mut self) {
        self.hide();
    }
}

pub(crate) struct Terminal<W: Write> {
    out: W,
    options: TerminalOptions,
    /// `<root>/`, stripped from paths the agent names.
    root: Option<String>,
    status: Option<StatusLine>,
    /// Where the run's state is, for the pull-request command.
    state_dir: String,
    redactor: Arc<Redactor>,
}

impl<W: Write> Terminal<W> {
    pub(crate) fn new(out: W, options: TerminalOptions) -> Terminal<W> {
        let redactor = crate::redact::current();
        let status = options.tty.then(|| StatusLine {
            live: Arc::new(Mutex::new(None)),
            started: options.started,
            bar: None,
            paused: false,
            redactor: Arc::clone(&redactor),
        });
        Terminal {
            out,
            root: options
                .root
                .as_ref()
                .map(|r| format!("{}/", r.trim_end_matches('/'))),
            options,
            status,
            state_dir: String::new(),
            redactor,
        }
    }

    /// Redacts with `redactor` instead of the process's.
    #[cfg(test)]
    pub(crate) fn with_redactor(mut self, redactor: Redactor) -> Terminal<W> {
        let redactor = Arc::new(redactor);
        if let Some(status) = &mut self.status {
            status.redactor = Arc::clone(&redactor);
        }
        self.redactor = redactor;
        self
    }

    /// `text` redacted, owned: for texts the view cuts or splits into lines before writing.
    fn redacted(&self, text: &str) -> String {
        self.redactor.text(text).into_owned()
    }

    #[cfg(test)]
    pub(crate) fn into_inner(mut self) -> W {
        self.finish();
        self.out
    }

    /// Takes the status line off the screen (the run is over, or was cut short).
    #[cfg(test)]
    pub(crate) fn finish(&mut self) {
        if let Some(status) = &mut self.status {
            status.set(None);
            status.hide();
        }
        self.out.flush().ok();
    }

    fn line(&mut self, text: &str) {
        let text = self.redactor.text(text);
        let out = &mut self.out;
        match self.status.as_ref().and_then(|s| s.bar.as_ref()) {
            Some(bar) => bar.suspend(|| {
                writeln!(out, "{text}").ok();
                out.flush().ok();
            }),
            None => {
                writeln!(out, "{text}").ok();
                out.flush().ok();
            }
        }
    }

    // Painting redacts first: a colour code before a token would hide where the token starts.
    fn paint_ok(&self, text: &str) -> String {
        let text = self.redacted(text);
        if self.options.color {
            text.green().to_string()
        } else {
            text.clone()
        }
    }

    fn paint_bad(&self, text: &str) -> String {
        let text = self.redacted(text);
        if self.options.color {
            text.red().to_string()
        } else {
            text.clone()
        }
    }

    fn paint_dim(&self, text: &str) -> String {
        let text = self.redacted(text);
        if self.options.color {
            text.dimmed().to_string()
        } else {
            text.clone()
        }
    }

    fn set_activity(&mut self, activity: String) {
        if let Some(status) = &mut self.status {
            status.update(|live| live.activity = activity);
        }
    }

    /// A question for the human, with its numbered options; the status line is taken off the
    /// screen while they answer (it would erase what they type).
    fn show_question(&mut self, heading: &str, question: &Question) {
        self.line("");
        self.line(heading);
        for line in self.redacted(&question.text).lines() {
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
        if let Some(status) = &mut self.status {
            status.hide();
            status.paused = true;
        }
    }
}

/// The last sentence of the last non-empty line of `text`.
pub(crate) fn last_sentence(text: &str) -> Option<String> {
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    let body = line.trim_end_matches(['.', '!', '?', ':']);
    let start = [". ", "! ", "? "]
        .iter()
        .filter_map(|end| body.rfind(end).map(|at| at + end.len()))
        .max()
        .unwrap_or(0);
    Some(line[start..].trim().to_string())
}

/// One line of what the agent is doing, or `None` for events not worth a line. Agent text is
/// redacted before its last sentence is cut out of it.
pub(crate) fn agent_activity(event: &AgentEvent, redactor: &Redactor) -> Option<String> {
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
            last_sentence(&redactor.text(text)).map(|s| first_line(&s, 100))
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
        self.show(event);
        if let Some(status) = &mut self.status {
            status.show();
        }
    }
}

#[path = "terminal_events.rs"]
mod events;

#[cfg(test)]
#[path = "terminal_tests.rs"]
mod tests;
