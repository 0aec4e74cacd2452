//! Views of the event stream: the terminal, JSON lines, the events log and the report files.
//! Each consumes the same events and imports nothing but them (and the leaves). Each redacts
//! what it writes (`crate::redact`), the last step before its bytes leave the process.

pub(crate) mod format;
pub(crate) mod json;
pub(crate) mod preview;
pub(crate) mod report;
pub(crate) mod summary;
pub(crate) mod terminal;
pub(crate) mod wire;

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Stdout};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Instant;

use crate::events::{Event, EventSink};
use json::JsonLines;
use report::ReportWriter;
use terminal::{Terminal, TerminalOptions};

/// When the terminal view may use colour (`--color`); `NO_COLOR`, `CLICOLOR` and whether stdout
/// is a terminal decide the `Auto` case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Color {
    Auto,
    Always,
    Never,
}

/// How the run's views are set up.
#[derive(Debug, Clone)]
pub(crate) struct ViewOptions {
    /// `--json`: the events as JSON lines on stdout instead of the terminal view.
    pub json: bool,
    pub color: Color,
    pub quiet: bool,
    pub verbose: bool,
    /// The repository root, stripped from the paths the agent names.
    pub root: String,
    pub started: Instant,
}

/// Whether the live status line is wanted: stdout is a terminal and this is not a CI job.
pub(crate) fn live_terminal() -> bool {
    std::io::stdout().is_terminal() && !is_ci::cached()
}

/// Every view of one run: what the user sees on stdout, the events log, the report files.
pub(crate) struct Views {
    screen: Screen,
    log: JsonLines<BufWriter<File>>,
    report: ReportWriter,
}

enum Screen {
    Json(JsonLines<Stdout>),
    Terminal(Terminal<anstream::AutoStream<Stdout>>),
}

impl Views {
    /// The views of a run whose events log and report go into `run_dir` (and a copy of the
    /// report beside the state in `state_dir`).
    pub(crate) fn build(
        options: &ViewOptions,
        run_dir: &Path,
        state_dir: &Path,
    ) -> std::io::Result<Views> {
        // Agents' words land in the log: private to the user, as the rest of the state.
        let log = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(run_dir.join("events.jsonl"))?;
        let screen = if options.json {
            Screen::Json(JsonLines::new(std::io::stdout()))
        } else {
            let choice = match options.color {
                Color::Auto => anstream::ColorChoice::Auto,
                Color::Always => anstream::ColorChoice::Always,
                Color::Never => anstream::ColorChoice::Never,
            };
            let stdout = anstream::AutoStream::new(std::io::stdout(), choice);
            let color = stdout.current_choice() != anstream::ColorChoice::Never;
            Screen::Terminal(Terminal::new(
                stdout,
                TerminalOptions {
                    color,
                    quiet: options.quiet,
                    verbose: options.verbose,
                    tty: live_terminal(),
                    root: Some(options.root.clone()),
                    started: options.started,
                },
            ))
        };
        Ok(Views {
            screen,
            log: JsonLines::capped(BufWriter::new(log), json::EVENTS_LOG_CAP),
            report: ReportWriter::new(run_dir, state_dir),
        })
    }
}

impl EventSink for Views {
    fn emit(&mut self, event: &Event) {
        match &mut self.screen {
            Screen::Json(json) => json.emit(event),
            Screen::Terminal(terminal) => terminal.emit(event),
        }
        self.log.emit(event);
        self.report.emit(event);
    }
}
