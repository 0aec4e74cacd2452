//! JSON lines: a schema line first, then one `{"timestamp", "elapsed_ms", "type", "data"}`
//! object per event, in the wire types of [`crate::reporter::wire`]. Documented in docs/events.md.

use std::io::Write;

use crate::events::{Event, EventSink};
use crate::reporter::wire::{SchemaLine, WireEvent};

pub(crate) struct JsonLines<W: Write> {
    out: W,
    /// Set when a write failed (e.g. a closed pipe); later events are dropped, the run goes on.
    broken: bool,
}

impl<W: Write> JsonLines<W> {
    /// Writes the schema line and returns the sink.
    pub(crate) fn new(mut out: W) -> JsonLines<W> {
        let header =
            serde_json::to_string(&SchemaLine::current()).expect("the schema line serializes");
        let broken = writeln!(out, "{header}").and_then(|_| out.flush()).is_err();
        JsonLines { out, broken }
    }
}

impl<W: Write> EventSink for JsonLines<W> {
    fn emit(&mut self, event: &Event) {
        if self.broken {
            return;
        }
        let line = serde_json::to_string(&WireEvent::from(event)).expect("events serialize");
        if writeln!(self.out, "{line}")
            .and_then(|_| self.out.flush())
            .is_err()
        {
            self.broken = true;
        }
    }
}
