//! JSON lines: a schema line first, then one `{"timestamp", "elapsed_ms", "type", "data"}`
//! object per event, in the wire types of [`crate::reporter::wire`]. Documented in docs/events.md.
//!
//! Every line is redacted before it is written. The events log is capped ([`LogCap`]): an
//! oversized run keeps its first part as it goes, its last part in memory until the end, and a
//! `log_truncated` line between them says what was left out. `--json` stdout is never capped.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;

use crate::events::{Event, EventSink};
use crate::redact::Redactor;
use crate::reporter::wire::{LogTruncated, SchemaLine, WireEvent};

/// How much of a run the events log keeps: the first `head_bytes`, then the last `tail_bytes`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogCap {
    pub head_bytes: usize,
    pub tail_bytes: usize,
}

/// The events log's cap: at most 24 MiB on disk and 8 MiB held, whatever the agent prints.
pub(crate) const EVENTS_LOG_CAP: LogCap = LogCap {
    head_bytes: 16 * 1024 * 1024,
    tail_bytes: 8 * 1024 * 1024,
};

/// The lines past the head, the last of them kept, and what was left out before them.
#[derive(Debug, Default)]
struct Tail {
    /// Each line with its event's `elapsed_ms`.
    lines: VecDeque<(String, u64)>,
    bytes: usize,
    left_out: LogTruncated,
}

pub(crate) struct JsonLines<W: Write> {
    out: W,
    /// Set when a write failed (e.g. a closed pipe); later events are dropped, the run goes on.
    broken: bool,
    redactor: Arc<Redactor>,
    cap: Option<LogCap>,
    /// Bytes written so far (the schema line included).
    written: usize,
    /// Once the head is full: every later line goes here.
    tail: Option<Tail>,
}

impl<W: Write> JsonLines<W> {
    /// Writes the schema line and returns the sink.
    pub(crate) fn new(mut out: W) -> JsonLines<W> {
        let header =
            serde_json::to_string(&SchemaLine::current()).expect("the schema line serializes");
        let broken = writeln!(out, "{header}").and_then(|_| out.flush()).is_err();
        JsonLines {
            out,
            broken,
            redactor: crate::redact::current(),
            cap: None,
            written: header.len() + 1,
            tail: None,
        }
    }

    /// A sink that keeps at most what `cap` allows.
    pub(crate) fn capped(out: W, cap: LogCap) -> JsonLines<W> {
        let mut lines = JsonLines::new(out);
        lines.cap = Some(cap);
        lines
    }

    /// Redacts with `redactor` instead of the process's.
    #[cfg(test)]
    pub(crate) fn with_redactor(mut self, redactor: Redactor) -> JsonLines<W> {
        self.redactor = Arc::new(redactor);
        self
    }

    fn write_line(&mut self, line: &str) {
        if self.broken {
            return;
        }
        if writeln!(self.out, "{line}")
            .and_then(|_| self.out.flush())
            .is_err()
        {
            self.broken = true;
        }
        self.written += line.len() + 1;
    }

    /// Keeps `line` among the last ones, forgetting the oldest beyond the cap.
    fn keep_in_tail(&mut self, line: String, elapsed_ms: u64, cap: LogCap) {
        let tail = self.tail.get_or_insert_with(Tail::default);
        tail.bytes += line.len() + 1;
        tail.lines.push_back((line, elapsed_ms));
        while tail.bytes > cap.tail_bytes {
            let Some((old, old_ms)) = tail.lines.pop_front() else {
                break;
            };
            tail.bytes -= old.len() + 1;
            let left_out = &mut tail.left_out;
            left_out.events_left_out += 1;
            left_out.bytes_left_out += old.len() as u64 + 1;
            left_out.first_elapsed_ms.get_or_insert(old_ms);
            left_out.last_elapsed_ms = Some(old_ms);
        }
    }
}

impl<W: Write> EventSink for JsonLines<W> {
    fn emit(&mut self, event: &Event) {
        if self.broken {
            return;
        }
        let line = serde_json::to_string(&WireEvent::from(event)).expect("events serialize");
        let line = self.redactor.json(&line).into_owned();
        match self.cap {
            Some(cap) if self.tail.is_some() || self.written + line.len() + 1 > cap.head_bytes => {
                self.keep_in_tail(line, event.elapsed_ms, cap);
            }
            _ => self.write_line(&line),
        }
    }
}

impl<W: Write> Drop for JsonLines<W> {
    /// Writes what the tail kept, after a line saying what was left out.
    fn drop(&mut self) {
        let Some(tail) = self.tail.take() else {
            return;
        };
        if tail.left_out.events_left_out > 0 {
            let line = serde_json::to_string(&tail.left_out.line()).expect("the line serializes");
            self.write_line(&line);
        }
        for (line, _) in &tail.lines {
            self.write_line(line);
        }
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
