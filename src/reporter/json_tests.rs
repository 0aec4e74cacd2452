//! JSON lines as written: the cap of the events log, and redaction of every line.

use serde_json::Value;

use super::*;
use crate::events::EventKind;

fn gate_started(n: u64) -> Event {
    Event {
        timestamp: "2026-11-26T11:40:00.000Z".to_string(),
        elapsed_ms: n,
        kind: EventKind::GateStarted {
            id: "1.1".to_string(),
            command: format!("make test-unit # run {n:04}"),
        },
    }
}

/// Emits events `0..count` into a sink made by `make` and returns the lines written.
fn written(count: u64, make: impl FnOnce(&mut Vec<u8>) -> JsonLines<&mut Vec<u8>>) -> Vec<Value> {
    let mut out = Vec::new();
    {
        let mut sink = make(&mut out);
        for n in 0..count {
            sink.emit(&gate_started(n));
        }
    }
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is JSON"))
        .collect()
}

fn run_number(line: &Value) -> u64 {
    line["elapsed_ms"].as_u64().expect("an event line")
}

#[test]
fn an_oversized_log_keeps_its_first_and_last_parts_and_says_what_is_missing() {
    let cap = LogCap {
        head_bytes: 2_000,
        tail_bytes: 1_000,
    };
    let lines = written(200, |out| JsonLines::capped(out, cap));
    let bytes: usize = lines.iter().map(|l| l.to_string().len() + 1).sum();
    assert!(bytes < 2_000 + 1_000 + 200, "{bytes} bytes written");
    assert_eq!(lines[0]["type"], "schema");
    let marker = lines
        .iter()
        .position(|l| l["type"] == "log_truncated")
        .expect("a log_truncated line");
    let head: Vec<u64> = lines[1..marker].iter().map(run_number).collect();
    let tail: Vec<u64> = lines[marker + 1..].iter().map(run_number).collect();
    assert_eq!(head, (0..head.len() as u64).collect::<Vec<_>>());
    assert!(!head.is_empty() && !tail.is_empty());
    assert_eq!(*tail.last().unwrap(), 199, "the run's end is kept");
    let data = &lines[marker]["data"];
    let left_out = data["events_left_out"].as_u64().unwrap();
    assert_eq!(head.len() as u64 + left_out + tail.len() as u64, 200);
    assert_eq!(data["first_elapsed_ms"], *head.last().unwrap() + 1);
    assert_eq!(data["last_elapsed_ms"], tail[0] - 1);
    assert!(data["bytes_left_out"].as_u64().unwrap() > 0);
}

#[test]
fn a_log_within_its_cap_and_stdout_are_whole() {
    let cap = LogCap {
        head_bytes: 2_000,
        tail_bytes: 1_000,
    };
    // Past the head but within the tail: nothing is missing, so nothing says so.
    let lines = written(20, |out| JsonLines::capped(out, cap));
    assert_eq!(lines.len(), 21);
    assert!(lines.iter().all(|l| l["type"] != "log_truncated"));
    assert_eq!(
        lines[1..].iter().map(run_number).collect::<Vec<_>>(),
        (0..20).collect::<Vec<_>>()
    );
    let lines = written(200, |out| JsonLines::new(out));
    assert_eq!(lines.len(), 201, "--json output is never capped");
}

#[test]
fn every_line_is_redacted_and_stays_json() {
    let secret = "make-\"quoted\"-secret-value";
    let vars = [("DEPLOY_TOKEN".to_string(), secret.to_string())];
    let redactor = Redactor::from_vars(vars, |name| name.ends_with("_TOKEN"), &[]);
    let mut out = Vec::new();
    {
        let mut sink = JsonLines::new(&mut out).with_redactor(redactor);
        let mut event = gate_started(1);
        event.kind = EventKind::GateStarted {
            id: "1.1".to_string(),
            command: format!("deploy --token {secret} && echo xoxb-1234567890-abcdefghij"),
        };
        sink.emit(&event);
    }
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("secret-value"), "{text}");
    assert!(!text.contains("xoxb-"), "{text}");
    let line: Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(
        line["data"]["command"],
        "deploy --token [REDACTED:DEPLOY_TOKEN] && echo [REDACTED:slack-token]"
    );
}
