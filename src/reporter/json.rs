//! JSON lines: a schema line first, then one `{"type", "data", "timestamp", "elapsed_ms"}` object
//! per event. Documented in docs/events.md.

use std::io::Write;

use serde_json::json;

use crate::events::{EVENTS_SCHEMA_VERSION, Event, EventSink};

pub struct JsonLines<W: Write> {
    out: W,
    /// Set when a write failed (e.g. a closed pipe); later events are dropped, the run goes on.
    broken: bool,
}

impl<W: Write> JsonLines<W> {
    /// Writes the schema line and returns the sink.
    pub fn new(mut out: W) -> JsonLines<W> {
        let header = json!({"type": "schema", "data": {"name": "kmilestone-events", "version": EVENTS_SCHEMA_VERSION}});
        let broken = writeln!(out, "{header}").and_then(|_| out.flush()).is_err();
        JsonLines { out, broken }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> EventSink for JsonLines<W> {
    fn emit(&mut self, event: &Event) {
        if self.broken {
            return;
        }
        let line = serde_json::to_string(event).expect("events serialize");
        if writeln!(self.out, "{line}")
            .and_then(|_| self.out.flush())
            .is_err()
        {
            self.broken = true;
        }
    }
}
