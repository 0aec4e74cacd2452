//! The Messages API's answer to one request, as Server-Sent Events or as one JSON message.
//!
//! Event order and shapes follow the streaming API: `message_start`, per block
//! `content_block_start` / `content_block_delta`… / `content_block_stop`, then `message_delta`
//! (stop reason and final usage) and `message_stop`.

use serde_json::{Value, json};

use super::mock_anthropic::{Block, Usage};

/// Tool input JSON is sent in pieces of this many characters, so the client's accumulation of
/// `input_json_delta` fragments is exercised as with the real API.
const JSON_CHUNK: usize = 40;

fn tool_use_id(request: u64, block: usize) -> String {
    format!("toolu_mock_{request:04}_{block}")
}

fn usage_json(usage: Usage, output_tokens: u64) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "output_tokens": output_tokens,
    })
}

fn event(out: &mut String, name: &str, data: Value) {
    out.push_str("event: ");
    out.push_str(name);
    out.push_str("\ndata: ");
    out.push_str(&data.to_string());
    out.push_str("\n\n");
}

/// Split on character boundaries: the fragments must each be valid UTF-8.
fn chunks(s: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

pub fn message_events(
    message_id: &str,
    request: u64,
    model: &str,
    blocks: &[Block],
    stop_reason: &str,
    usage: Usage,
) -> String {
    let mut out = String::new();
    event(
        &mut out,
        "message_start",
        json!({
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                // As the API does: output so far is one token; the final count comes in message_delta.
                "usage": usage_json(usage, 1),
            }
        }),
    );
    for (index, block) in blocks.iter().enumerate() {
        match block {
            Block::Text(text) => {
                event(
                    &mut out,
                    "content_block_start",
                    json!({ "type": "content_block_start", "index": index, "content_block": { "type": "text", "text": "" } }),
                );
                for piece in chunks(text, JSON_CHUNK) {
                    event(
                        &mut out,
                        "content_block_delta",
                        json!({ "type": "content_block_delta", "index": index, "delta": { "type": "text_delta", "text": piece } }),
                    );
                }
            }
            Block::ToolUse { name, input } => {
                event(
                    &mut out,
                    "content_block_start",
                    json!({
                        "type": "content_block_start",
                        "index": index,
                        "content_block": { "type": "tool_use", "id": tool_use_id(request, index), "name": name, "input": {} }
                    }),
                );
                for piece in chunks(&input.to_string(), JSON_CHUNK) {
                    event(
                        &mut out,
                        "content_block_delta",
                        json!({ "type": "content_block_delta", "index": index, "delta": { "type": "input_json_delta", "partial_json": piece } }),
                    );
                }
            }
        }
        event(
            &mut out,
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": index }),
        );
    }
    event(
        &mut out,
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop_reason, "stop_sequence": null },
            "usage": usage_json(usage, usage.output_tokens),
        }),
    );
    event(&mut out, "message_stop", json!({ "type": "message_stop" }));
    out
}

/// The same answer for a request made with `"stream": false`.
pub fn message_json(
    message_id: &str,
    request: u64,
    model: &str,
    blocks: &[Block],
    stop_reason: &str,
    usage: Usage,
) -> Value {
    let content: Vec<Value> = blocks
        .iter()
        .enumerate()
        .map(|(index, block)| match block {
            Block::Text(text) => json!({ "type": "text", "text": text }),
            Block::ToolUse { name, input } => {
                json!({ "type": "tool_use", "id": tool_use_id(request, index), "name": name, "input": input })
            }
        })
        .collect();
    json!({
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": usage_json(usage, usage.output_tokens),
    })
}
