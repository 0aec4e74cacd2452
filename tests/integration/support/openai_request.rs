//! Reading what Codex sent: one request to the mock, its conversation and its headers.

use serde_json::Value;

/// What kind of request the mock took a request for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// `POST /v1/responses` offering tools: the main conversation, answered from the script.
    Main,
    /// `POST /v1/responses` without tools: a helper request, answered harmlessly.
    Side,
    /// Everything else.
    Other,
}

/// One request as the mock saw it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub uri: String,
    pub kind: RequestKind,
    /// `Authorization` header, as sent.
    pub authorization: Option<String>,
    /// The `thread-id` header Codex sends (its thread id, the id `resume` takes).
    pub thread_id: Option<String>,
    /// Codex's `x-codex-turn-metadata` header, parsed (it names the sandbox mode in force).
    pub turn_metadata: Value,
    /// The parsed JSON body (`Value::Null` for none or non-JSON).
    pub body: Value,
    /// Index of the script turn that answered it (main requests only).
    pub turn: Option<usize>,
}

impl RecordedRequest {
    /// `body.input`: the conversation so far.
    pub fn input(&self) -> &[Value] {
        self.body["input"].as_array().map_or(&[], Vec::as_slice)
    }

    pub fn model(&self) -> Option<&str> {
        self.body["model"].as_str()
    }

    /// `read-only`, `workspace-write` or `danger-full-access`, as Codex reports it.
    pub fn sandbox_mode(&self) -> Option<&str> {
        self.turn_metadata["sandbox_mode"].as_str()
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

    /// Texts of every user message, oldest first (Codex's environment context comes first).
    pub fn user_texts(&self) -> Vec<String> {
        self.input()
            .iter()
            .filter(|m| m["type"] == "message" && m["role"] == "user")
            .flat_map(texts_of)
            .collect()
    }

    /// Texts of the newest user message (a new prompt, e.g. after `resume`).
    pub fn last_user_texts(&self) -> Vec<String> {
        self.input()
            .iter()
            .rev()
            .find(|m| m["type"] == "message" && m["role"] == "user")
            .map(texts_of)
            .unwrap_or_default()
    }

    /// Outputs of the previous turn's tool calls: the calls of the newest response with calls,
    /// known by the request number the mock put in their `call_id` (`call_mock_<request>_<n>`).
    pub fn last_tool_outputs(&self) -> Vec<String> {
        let outputs: Vec<&Value> = self
            .input()
            .iter()
            .filter(|item| tool_output_text(item).is_some())
            .collect();
        let Some(last) = outputs.last() else {
            return Vec::new();
        };
        let call_id = last["call_id"].as_str().unwrap_or_default();
        let group = call_id.rsplit_once('_').map_or(call_id, |(group, _)| group);
        outputs
            .iter()
            .filter(|item| {
                item["call_id"]
                    .as_str()
                    .is_some_and(|id| id.rsplit_once('_').is_some_and(|(g, _)| g == group))
            })
            .filter_map(|item| tool_output_text(item))
            .collect()
    }

    /// Every text in the conversation: user and assistant messages and tool outputs.
    pub fn all_texts(&self) -> Vec<String> {
        let mut out = Vec::new();
        for item in self.input() {
            out.extend(texts_of(item));
            out.extend(tool_output_text(item));
        }
        out
    }
}

fn texts_of(item: &Value) -> Vec<String> {
    match &item["content"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn tool_output_text(item: &Value) -> Option<String> {
    let kind = item["type"].as_str()?;
    if !kind.ends_with("_call_output") {
        return None;
    }
    match &item["output"] {
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}
