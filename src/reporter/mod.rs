//! Views of the event stream: the terminal, JSON lines, the events log and the report files.
//! Each consumes the same events; none reads runner internals.

pub mod json;
pub mod report;
pub mod terminal;
pub mod wire;

use crate::events::{Event, EventSink};

/// Sends every event to each sink in turn.
pub struct Fanout<'a> {
    pub sinks: Vec<&'a mut dyn EventSink>,
}

impl EventSink for Fanout<'_> {
    fn emit(&mut self, event: &Event) {
        for sink in self.sinks.iter_mut() {
            sink.emit(event);
        }
    }
}
