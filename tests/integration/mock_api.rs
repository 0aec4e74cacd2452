//! The scripted API mock on its own, spoken to over plain HTTP/1.1: no CLI needed, so these run
//! everywhere and pin down the behaviour the real-client tests rely on.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::mock_anthropic::{MockAnthropic, RequestKind, Script, Turn, Usage};

struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// One request on a fresh connection (`Connection: close`, so reading to EOF gets the whole answer).
fn send(mock: &MockAnthropic, method: &str, path: &str, body: Option<&Value>) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", mock.port())).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         x-claude-code-session-id: sess-1\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    Reply {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

fn conversation(messages: Value) -> Value {
    json!({
        "model": "claude-test",
        "stream": true,
        "max_tokens": 32000,
        "tools": [{ "name": "Write", "input_schema": {} }],
        "messages": messages,
    })
}

fn prompt(text: &str) -> Value {
    conversation(json!([{ "role": "user", "content": [{ "type": "text", "text": text }] }]))
}

/// The SSE events of a streamed answer, as (event name, data).
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .expect("event line");
            let data = e
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .expect("data line");
            (
                name.to_string(),
                serde_json::from_str(data).expect("data JSON"),
            )
        })
        .collect()
}

/// The text of a streamed answer: its `text_delta` pieces joined.
fn streamed_text(body: &str) -> String {
    events(body)
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "text_delta")
        .filter_map(|(_, d)| d["delta"]["text"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn streams_tool_use_in_the_api_event_format() {
    let input = json!({ "file_path": "/tmp/x/a file with a long name.txt", "content": "ünïcode\n".repeat(20) });
    let usage = Usage {
        input_tokens: 7,
        output_tokens: 9,
        cache_creation_input_tokens: 3,
        cache_read_input_tokens: 5,
    };
    let mock = MockAnthropic::start(
        Script::new().turn(
            Turn::message()
                .text("Writing.")
                .tool_use("Write", input.clone())
                .usage(usage),
        ),
    );

    let reply = send(&mock, "POST", "/v1/messages?beta=true", Some(&prompt("go")));
    assert_eq!(reply.status, 200);
    assert!(
        reply.head.contains("content-type: text/event-stream"),
        "{}",
        reply.head
    );
    let events = events(&reply.body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(&names[names.len() - 2..], ["message_delta", "message_stop"]);
    assert_eq!(
        names
            .iter()
            .filter(|n| **n == "content_block_start")
            .count(),
        2
    );

    // The tool input arrives in several input_json_delta pieces that join to the scripted input.
    let pieces: Vec<&str> = events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "input_json_delta")
        .map(|(_, d)| d["delta"]["partial_json"].as_str().expect("partial_json"))
        .collect();
    assert!(pieces.len() > 1);
    assert_eq!(
        serde_json::from_str::<Value>(&pieces.concat()).expect("joined JSON"),
        input
    );
    let start = &events
        .iter()
        .find(|(_, d)| d["content_block"]["type"] == "tool_use")
        .expect("tool_use")
        .1;
    assert_eq!(start["content_block"]["name"], "Write");
    assert!(
        start["content_block"]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("toolu_"))
    );

    let delta = &events
        .iter()
        .find(|(n, _)| n == "message_delta")
        .expect("message_delta")
        .1;
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(
        delta["usage"],
        json!({ "input_tokens": 7, "output_tokens": 9, "cache_creation_input_tokens": 3, "cache_read_input_tokens": 5 })
    );
    assert_eq!(events[0].1["message"]["model"], "claude-test");
    mock.assert_script_done();
    assert_eq!(mock.requests()[0].session_id.as_deref(), Some("sess-1"));
}

#[test]
fn probes_and_side_requests_do_not_consume_the_script() {
    let mock = MockAnthropic::start(Script::new().turn(Turn::reply("main answer")));

    assert_eq!(send(&mock, "HEAD", "/api/hello", None).status, 200);
    assert_eq!(send(&mock, "GET", "/v1/models", None).status, 200);
    let count = send(
        &mock,
        "POST",
        "/v1/messages/count_tokens",
        Some(&prompt("hi")),
    );
    assert!(serde_json::from_str::<Value>(&count.body).expect("JSON")["input_tokens"].is_u64());
    // A helper call without tools (e.g. a title), here not streamed: a JSON message.
    let mut side = prompt("title please");
    side["tools"] = json!([]);
    side["stream"] = json!(false);
    let side = send(&mock, "POST", "/v1/messages", Some(&side));
    assert_eq!(
        serde_json::from_str::<Value>(&side.body).expect("JSON")["content"][0]["text"],
        "ok"
    );
    assert_eq!(mock.remaining_turns(), 1);

    let main = send(&mock, "POST", "/v1/messages", Some(&prompt("hi")));
    assert_eq!(streamed_text(&main.body), "main answer");
    mock.assert_script_done();
    let kinds: Vec<RequestKind> = mock.all_requests().iter().map(|r| r.kind).collect();
    use RequestKind::{Main, Other, Side};
    assert_eq!(kinds, [Other, Other, Other, Side, Main]);
}

#[test]
fn unmet_expectations_are_reported_and_keep_the_turn() {
    let mock =
        MockAnthropic::start(Script::new().turn(Turn::reply("hello back").expect_prompt("hello")));

    let wrong = send(&mock, "POST", "/v1/messages", Some(&prompt("goodbye")));
    // Answered as a normal final message, so a client ends its turn instead of retrying.
    assert_eq!(wrong.status, 200);
    assert!(
        streamed_text(&wrong.body).starts_with("mock script: "),
        "{}",
        wrong.body
    );
    assert_eq!(mock.failures().len(), 1);
    assert!(
        mock.failures()[0].contains("goodbye"),
        "{:?}",
        mock.failures()
    );
    assert_eq!(mock.remaining_turns(), 1);

    let right = send(&mock, "POST", "/v1/messages", Some(&prompt("hello there")));
    assert_eq!(streamed_text(&right.body), "hello back");
    assert_eq!(mock.remaining_turns(), 0);
    let past_end = send(&mock, "POST", "/v1/messages", Some(&prompt("more?")));
    assert!(streamed_text(&past_end.body).ends_with("after the script ended"));
    assert_eq!(mock.failures().len(), 2);
}

#[test]
fn error_turns_repeat_then_give_way() {
    let mock = MockAnthropic::start(
        Script::new()
            .turn(Turn::error(529).retry_after(2).times(2))
            .turn(Turn::reply("recovered")),
    );

    for _ in 0..2 {
        let reply = send(&mock, "POST", "/v1/messages", Some(&prompt("hi")));
        assert_eq!(reply.status, 529);
        assert!(reply.head.contains("retry-after: 2"), "{}", reply.head);
        let body: Value = serde_json::from_str(&reply.body).expect("error JSON");
        assert_eq!(body["error"]["type"], "overloaded_error");
    }
    assert!(
        send(&mock, "POST", "/v1/messages", Some(&prompt("hi")))
            .body
            .contains("recovered")
    );
    mock.assert_script_done();
}
