//! Reading what Claude Code sent: one request to the mock, its conversation and its tool results.

use serde_json::{Value, json};

/// What kind of request the mock took a request for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// `POST /v1/messages` of the main conversation: answered from the script.
    Main,
    /// `POST /v1/messages` without tools (title, quota check, …): answered harmlessly.
    Side,
    /// Everything else: probes, `count_tokens`, model lists.
    Other,
}

/// One `tool_result` block, its content flattened to text.
#[derive(Clone, Debug)]
pub struct ToolResult {
    pub tool_use_id: String,
    pub text: String,
    pub is_error: bool,
}

/// One request as the mock saw it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, e.g. `/v1/messages?beta=true`.
    pub uri: String,
    pub kind: RequestKind,
    /// From `X-Claude-Code-Session-Id`, else from `metadata.user_id`.
    pub session_id: Option<String>,
    /// The parsed JSON body (`Value::Null` for none or non-JSON).
    pub body: Value,
    /// Index of the script turn that answered it (main requests only).
    pub turn: Option<usize>,
}

impl RecordedRequest {
    /// `body.messages`, or empty.
    pub fn messages(&self) -> &[Value] {
        self.body["messages"].as_array().map_or(&[], Vec::as_slice)
    }

    pub fn model(&self) -> Option<&str> {
        self.body["model"].as_str()
    }

    /// Names of the tools offered to the model.
    pub fn tool_names(&self) -> Vec<String> {
        self.body["tools"]
            .as_array()
            .map(|tools| {
                tools
                    .iter()
                    .filter_map(|t| t["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn user_messages(&self) -> impl Iterator<Item = &Value> {
        self.messages().iter().filter(|m| m["role"] == "user")
    }

    /// Text blocks of the first user message: context reminders the CLI adds, then the prompt.
    pub fn first_user_texts(&self) -> Vec<String> {
        self.user_messages()
            .next()
            .map(texts_of)
            .unwrap_or_default()
    }

    /// Text blocks of the last user message (a new prompt, e.g. after `--resume`).
    pub fn last_user_texts(&self) -> Vec<String> {
        self.user_messages()
            .last()
            .map(texts_of)
            .unwrap_or_default()
    }

    /// `tool_result` blocks of the last user message: the results of the previous turn's calls.
    pub fn last_tool_results(&self) -> Vec<ToolResult> {
        self.user_messages()
            .last()
            .map(tool_results_of)
            .unwrap_or_default()
    }

    /// Every `tool_result` in the conversation, oldest first.
    pub fn all_tool_results(&self) -> Vec<ToolResult> {
        self.user_messages().flat_map(tool_results_of).collect()
    }

    /// Every piece of text in the conversation: text blocks of any role and tool results.
    pub fn all_texts(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in self.messages() {
            out.extend(texts_of(m));
            out.extend(tool_results_of(m).into_iter().map(|r| r.text));
        }
        out
    }

    /// `tool_use` blocks the assistant sent earlier in the conversation, as `(name, input)`.
    pub fn assistant_tool_uses(&self) -> Vec<(String, Value)> {
        self.messages()
            .iter()
            .filter(|m| m["role"] == "assistant")
            .flat_map(content_blocks)
            .filter(|b| b["type"] == "tool_use")
            .map(|b| {
                (
                    b["name"].as_str().unwrap_or_default().to_string(),
                    b["input"].clone(),
                )
            })
            .collect()
    }
}

fn content_blocks(message: &Value) -> Vec<Value> {
    match &message["content"] {
        Value::String(s) => vec![json!({ "type": "text", "text": s })],
        Value::Array(blocks) => blocks.clone(),
        _ => Vec::new(),
    }
}

fn texts_of(message: &Value) -> Vec<String> {
    content_blocks(message)
        .iter()
        .filter(|b| b["type"] == "text")
        .filter_map(|b| b["text"].as_str().map(str::to_string))
        .collect()
}

fn tool_results_of(message: &Value) -> Vec<ToolResult> {
    content_blocks(message)
        .iter()
        .filter(|b| b["type"] == "tool_result")
        .map(|b| ToolResult {
            tool_use_id: b["tool_use_id"].as_str().unwrap_or_default().to_string(),
            text: texts_of(&json!({ "content": b["content"] })).join("\n"),
            is_error: b["is_error"].as_bool().unwrap_or(false),
        })
        .collect()
}
