//! The Responses API's answer to one request, as Server-Sent Events in the shapes Codex 0.169.0
//! reads: `response.created`, per output item `response.output_item.added` (text streamed as
//! `response.output_text.delta`) and `response.output_item.done`, then `response.completed` with
//! the usage, or `response.failed` with an error.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::mock_openai::{Item, Usage};

/// Text deltas are sent in pieces of this many characters, as the API streams them.
const TEXT_CHUNK: usize = 40;

fn event(out: &mut String, data: Value) {
    let name = data["type"].as_str().expect("event type").to_string();
    out.push_str("event: ");
    out.push_str(&name);
    out.push_str("\ndata: ");
    out.push_str(&data.to_string());
    out.push_str("\n\n");
}

fn item_json(request: u64, index: usize, item: &Item) -> Value {
    match item {
        Item::Text(text) => json!({
            "type": "message", "id": format!("msg_mock_{request:04}_{index}"), "role": "assistant",
            "status": "completed",
            "content": [{ "type": "output_text", "text": text, "annotations": [] }],
        }),
        Item::Reasoning(summary) => json!({
            "type": "reasoning", "id": format!("rs_mock_{request:04}_{index}"),
            "summary": [{ "type": "summary_text", "text": summary }],
        }),
        Item::FunctionCall { name, arguments } => json!({
            "type": "function_call", "id": format!("fc_mock_{request:04}_{index}"),
            "call_id": format!("call_mock_{request:04}_{index}"), "name": name,
            "arguments": arguments.to_string(), "status": "completed",
        }),
        Item::CustomToolCall { name, input } => json!({
            "type": "custom_tool_call", "id": format!("ctc_mock_{request:04}_{index}"),
            "call_id": format!("call_mock_{request:04}_{index}"), "name": name,
            "input": input, "status": "completed",
        }),
    }
}

/// `response.created`, per item `response.output_item.added` (text streamed as
/// `response.output_text.delta`) and `response.output_item.done`, then `response.completed` with
/// the usage. Codex builds its items from the `.done` events and its token counts from
/// `response.completed`; without that event it treats the stream as broken and retries.
pub fn response_events(request: u64, model: &str, items: &[Item], usage: Usage) -> String {
    let id = format!("resp_mock_{request:04}");
    let mut out = String::new();
    event(
        &mut out,
        json!({ "type": "response.created", "response": { "id": id, "object": "response", "status": "in_progress", "model": model } }),
    );
    for (index, item) in items.iter().enumerate() {
        let done = item_json(request, index, item);
        let mut added = done.clone();
        if let Item::Text(text) = item {
            added["content"] = json!([]);
            added["status"] = json!("in_progress");
            event(
                &mut out,
                json!({ "type": "response.output_item.added", "output_index": index, "item": added }),
            );
            let chars: Vec<char> = text.chars().collect();
            for piece in chars.chunks(TEXT_CHUNK) {
                event(
                    &mut out,
                    json!({ "type": "response.output_text.delta", "item_id": done["id"], "output_index": index, "content_index": 0, "delta": piece.iter().collect::<String>() }),
                );
            }
        } else {
            event(
                &mut out,
                json!({ "type": "response.output_item.added", "output_index": index, "item": added }),
            );
        }
        event(
            &mut out,
            json!({ "type": "response.output_item.done", "output_index": index, "item": done }),
        );
    }
    event(
        &mut out,
        json!({ "type": "response.completed", "response": {
            "id": id, "object": "response", "status": "completed", "model": model,
            "usage": {
                "input_tokens": usage.input,
                "input_tokens_details": { "cached_tokens": usage.cached },
                "output_tokens": usage.output,
                "output_tokens_details": { "reasoning_tokens": usage.reasoning },
                "total_tokens": usage.input + usage.output,
            },
        }}),
    );
    out
}

pub fn failed_events(request: u64, model: &str, error: Value) -> String {
    let id = format!("resp_mock_{request:04}");
    let mut out = String::new();
    event(
        &mut out,
        json!({ "type": "response.created", "response": { "id": id, "object": "response", "status": "in_progress", "model": model } }),
    );
    event(
        &mut out,
        json!({ "type": "response.failed", "response": { "id": id, "object": "response", "status": "failed", "model": model, "error": error } }),
    );
    out
}

pub fn sse_response(body: String) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from(body))
        .expect("response")
}
