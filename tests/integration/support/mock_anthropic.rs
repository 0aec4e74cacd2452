//! A scripted mock of the Anthropic Messages API, served on 127.0.0.1 for the real Claude Code CLI.
//!
//! The test writes a [`Script`]: a queue of [`Turn`]s, consumed in order by the requests that
//! belong to the main conversation. Each turn is either an assistant message (text and `tool_use`
//! blocks, streamed as Server-Sent Events in the real event format) or an HTTP error. A turn may
//! carry expectations about the request it answers (e.g. that it carries the `tool_result` of the
//! previous turn's tool call); a request that does not meet them — or that comes after the script
//! ended — is recorded for [`MockAnthropic::assert_script_done`] and answered with a final text
//! message naming the problem, so the run ends at once. (An HTTP error would not do: the CLI
//! retries even a 400, rewriting the request, up to its retry limit.)
//!
//! Requests that are not the main conversation (probes, `count_tokens`, model lists, and side
//! requests the CLI may make without tools, e.g. a title or a quota check) get harmless answers and
//! never consume the script. Every request is logged; see [`RecordedRequest`].
//!
//! The server runs on its own thread with its own runtime, so tests stay synchronous and the mock
//! keeps answering while a test blocks on the CLI process.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

pub use super::anthropic_request::{RecordedRequest, RequestKind, ToolResult};
use super::serve::Served;
use super::sse;

/// Token counts the mock reports for one assistant message.
///
/// They go into `message_start` and again, complete, into `message_delta` (as the API does), so the
/// CLI's `result` line can be checked against them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            input_tokens: 100,
            output_tokens: 10,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
        }
    }
}

/// One content block of a scripted assistant message.
#[derive(Clone, Debug)]
pub enum Block {
    Text(String),
    ToolUse { name: String, input: Value },
}

/// A check on the request a turn answers. The request is the whole conversation so far; "last user
/// message" is the newest entry, i.e. the new prompt or the tool results of the previous turn.
#[derive(Clone)]
pub enum Expect {
    /// A text block of the last user message contains this.
    UserTextContains(String),
    /// A `tool_result` in the last user message contains this (in its text content).
    ToolResultContains(String),
    /// The last user message has a `tool_result` whose `is_error` flag is this.
    ToolResultIsError(bool),
    /// Any text, anywhere in the conversation (user or assistant, text or tool result), contains
    /// this. Used to check that a resumed session still carries its earlier turns.
    ConversationContains(String),
    /// The request came from this Claude Code session (`X-Claude-Code-Session-Id`).
    Session(String),
    /// Anything else, with a description for the failure message.
    Custom(String, Arc<dyn Fn(&RecordedRequest) -> bool + Send + Sync>),
}

impl fmt::Debug for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::UserTextContains(s) => write!(f, "last user message has text containing {s:?}"),
            Expect::ToolResultContains(s) => {
                write!(f, "last user message has a tool_result containing {s:?}")
            }
            Expect::ToolResultIsError(b) => {
                write!(f, "last user message has a tool_result with is_error={b}")
            }
            Expect::ConversationContains(s) => write!(f, "conversation contains {s:?}"),
            Expect::Session(s) => write!(f, "session id is {s:?}"),
            Expect::Custom(d, _) => write!(f, "{d}"),
        }
    }
}

impl Expect {
    fn check(&self, req: &RecordedRequest) -> bool {
        match self {
            Expect::UserTextContains(s) => {
                req.last_user_texts().iter().any(|t| t.contains(s.as_str()))
            }
            Expect::ToolResultContains(s) => req
                .last_tool_results()
                .iter()
                .any(|r| r.text.contains(s.as_str())),
            Expect::ToolResultIsError(b) => {
                req.last_tool_results().iter().any(|r| r.is_error == *b)
            }
            Expect::ConversationContains(s) => {
                req.all_texts().iter().any(|t| t.contains(s.as_str()))
            }
            Expect::Session(s) => req.session_id.as_deref() == Some(s.as_str()),
            Expect::Custom(_, f) => f(req),
        }
    }
}

#[derive(Clone, Debug)]
enum Answer {
    Message {
        blocks: Vec<Block>,
        stop_reason: Option<String>,
        usage: Usage,
    },
    Error {
        status: u16,
        retry_after: Option<String>,
        message: String,
    },
}

/// How many requests a turn answers before the next turn takes over.
#[derive(Clone, Copy, Debug)]
enum Repeat {
    Times(usize),
    Forever,
}

/// One scripted answer, built with the constructors and chained modifiers below.
#[derive(Clone, Debug)]
pub struct Turn {
    answer: Answer,
    expects: Vec<Expect>,
    repeat: Repeat,
    delay: Duration,
}

impl Turn {
    /// An assistant message with no blocks yet; add them with [`Turn::text`]-style modifiers.
    pub fn message() -> Turn {
        Turn {
            answer: Answer::Message {
                blocks: Vec::new(),
                stop_reason: None,
                usage: Usage::default(),
            },
            expects: Vec::new(),
            repeat: Repeat::Times(1),
            delay: Duration::ZERO,
        }
    }

    /// An assistant message that is just this text (ends the CLI's turn: `end_turn`).
    pub fn reply(text: impl Into<String>) -> Turn {
        Turn::message().text(text)
    }

    /// An assistant message calling one tool; the input is what the tool gets, verbatim.
    pub fn tool(name: impl Into<String>, input: Value) -> Turn {
        Turn::message().tool_use(name, input)
    }

    /// `Write` a whole file (`file_path` must be absolute).
    pub fn write(file_path: impl Into<String>, content: impl Into<String>) -> Turn {
        Turn::tool(
            "Write",
            json!({ "file_path": file_path.into(), "content": content.into() }),
        )
    }

    /// `Read` a file (`file_path` must be absolute).
    pub fn read(file_path: impl Into<String>) -> Turn {
        Turn::tool("Read", json!({ "file_path": file_path.into() }))
    }

    /// `Edit` a file: replace the single occurrence of `old` by `new`.
    pub fn edit(
        file_path: impl Into<String>,
        old: impl Into<String>,
        new: impl Into<String>,
    ) -> Turn {
        Turn::tool(
            "Edit",
            json!({
                "file_path": file_path.into(),
                "old_string": old.into(),
                "new_string": new.into(),
                "replace_all": false,
            }),
        )
    }

    /// Run a shell command through the `Bash` tool (in the CLI's working directory).
    pub fn bash(command: impl Into<String>) -> Turn {
        let command = command.into();
        Turn::tool(
            "Bash",
            json!({ "description": format!("Run {command}"), "command": command }),
        )
    }

    /// An HTTP error with the API's error body. Retried by the CLI for 429, 5xx and 529.
    pub fn error(status: u16) -> Turn {
        Turn {
            answer: Answer::Error {
                status,
                retry_after: None,
                message: default_error_message(status),
            },
            expects: Vec::new(),
            repeat: Repeat::Times(1),
            delay: Duration::ZERO,
        }
    }

    /// Add a text block.
    pub fn text(mut self, text: impl Into<String>) -> Turn {
        self.blocks_mut().push(Block::Text(text.into()));
        self
    }

    /// Add a `tool_use` block; several in one turn are parallel tool calls.
    pub fn tool_use(mut self, name: impl Into<String>, input: Value) -> Turn {
        self.blocks_mut().push(Block::ToolUse {
            name: name.into(),
            input,
        });
        self
    }

    /// Override the stop reason (default: `tool_use` if the turn calls a tool, else `end_turn`).
    pub fn stop_reason(mut self, reason: impl Into<String>) -> Turn {
        match &mut self.answer {
            Answer::Message { stop_reason, .. } => *stop_reason = Some(reason.into()),
            Answer::Error { .. } => panic!("stop_reason() applies to message turns"),
        }
        self
    }

    /// Token counts to report for this message.
    pub fn usage(mut self, value: Usage) -> Turn {
        match &mut self.answer {
            Answer::Message { usage, .. } => *usage = value,
            Answer::Error { .. } => panic!("usage() applies to message turns"),
        }
        self
    }

    /// `retry-after` header of an error turn, in seconds (the CLI honours it).
    pub fn retry_after(mut self, seconds: u64) -> Turn {
        match &mut self.answer {
            Answer::Error { retry_after, .. } => *retry_after = Some(seconds.to_string()),
            Answer::Message { .. } => panic!("retry_after() applies to error turns"),
        }
        self
    }

    /// The `error.message` of an error turn.
    pub fn error_message(mut self, text: impl Into<String>) -> Turn {
        match &mut self.answer {
            Answer::Error { message, .. } => *message = text.into(),
            Answer::Message { .. } => panic!("error_message() applies to error turns"),
        }
        self
    }

    /// Answer this many consecutive requests with this turn (e.g. errors the CLI retries).
    pub fn times(mut self, n: usize) -> Turn {
        assert!(n > 0, "a turn answers at least one request");
        self.repeat = Repeat::Times(n);
        self
    }

    /// Answer every further main request with this turn; later turns are never reached.
    pub fn forever(mut self) -> Turn {
        self.repeat = Repeat::Forever;
        self
    }

    /// Wait this long before answering, e.g. to test a caller's timeout or interruption.
    pub fn delay(mut self, delay: Duration) -> Turn {
        self.delay = delay;
        self
    }

    /// Require something of the request this turn answers.
    pub fn expect(mut self, expect: Expect) -> Turn {
        self.expects.push(expect);
        self
    }

    /// Require the last user message to have a text block containing `s` (the prompt).
    pub fn expect_prompt(self, s: impl Into<String>) -> Turn {
        self.expect(Expect::UserTextContains(s.into()))
    }

    /// Require a `tool_result` containing `s` in the last user message.
    pub fn expect_tool_result(self, s: impl Into<String>) -> Turn {
        self.expect(Expect::ToolResultContains(s.into()))
    }

    /// Require a check written as a closure, described for the failure message.
    pub fn expect_that(
        self,
        description: impl Into<String>,
        check: impl Fn(&RecordedRequest) -> bool + Send + Sync + 'static,
    ) -> Turn {
        self.expect(Expect::Custom(description.into(), Arc::new(check)))
    }

    fn blocks_mut(&mut self) -> &mut Vec<Block> {
        match &mut self.answer {
            Answer::Message { blocks, .. } => blocks,
            Answer::Error { .. } => panic!("content blocks apply to message turns"),
        }
    }
}

fn default_error_message(status: u16) -> String {
    match status {
        529 => "Overloaded",
        429 => "Number of request tokens has exceeded your per-minute rate limit",
        401 => "invalid x-api-key",
        500 => "Internal server error",
        _ => "Error",
    }
    .to_string()
}

fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// The ordered turns of one test, shared by all the CLI invocations the test makes.
#[derive(Clone, Debug, Default)]
pub struct Script {
    turns: Vec<Turn>,
}

impl Script {
    pub fn new() -> Script {
        Script::default()
    }

    pub fn turn(mut self, turn: Turn) -> Script {
        self.turns.push(turn);
        self
    }

    pub fn turns(mut self, turns: impl IntoIterator<Item = Turn>) -> Script {
        self.turns.extend(turns);
        self
    }
}

struct Pending {
    index: usize,
    turn: Turn,
    /// Requests still to answer with this turn (`None` = forever).
    left: Option<usize>,
}

#[derive(Default)]
struct MockState {
    queue: VecDeque<Pending>,
    log: Vec<RecordedRequest>,
    failures: Vec<String>,
    next_id: u64,
}

type Shared = Arc<Mutex<MockState>>;

fn lock(state: &Shared) -> MutexGuard<'_, MockState> {
    // A panic while holding the lock only happens in a failing test; keep serving its log.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running mock. Dropping it stops the server.
pub struct MockAnthropic {
    state: Shared,
    server: Served,
}

impl MockAnthropic {
    /// Bind 127.0.0.1 on a free port and serve `script`.
    pub fn start(script: Script) -> MockAnthropic {
        let queue = script
            .turns
            .into_iter()
            .enumerate()
            .map(|(index, turn)| {
                let left = match turn.repeat {
                    Repeat::Times(n) => Some(n),
                    Repeat::Forever => None,
                };
                Pending { index, turn, left }
            })
            .collect();
        let state: Shared = Arc::new(Mutex::new(MockState {
            queue,
            ..MockState::default()
        }));

        let app = Router::new().fallback(handle).with_state(state.clone());
        MockAnthropic {
            server: Served::start("mock-anthropic", app),
            state,
        }
    }

    /// `http://127.0.0.1:<port>`, the value for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    pub fn port(&self) -> u16 {
        self.server.addr.port()
    }

    /// Every request, in arrival order.
    pub fn all_requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).log.clone()
    }

    /// The main-conversation requests, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state)
            .log
            .iter()
            .filter(|r| r.kind == RequestKind::Main)
            .cloned()
            .collect()
    }

    /// Side requests (`/v1/messages` without tools), in arrival order.
    pub fn side_requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state)
            .log
            .iter()
            .filter(|r| r.kind == RequestKind::Side)
            .cloned()
            .collect()
    }

    /// Turns not yet (fully) consumed; a `forever` turn always counts.
    pub fn remaining_turns(&self) -> usize {
        lock(&self.state).queue.len()
    }

    /// Unmet expectations and requests beyond the end of the script.
    pub fn failures(&self) -> Vec<String> {
        lock(&self.state).failures.clone()
    }

    /// Panic unless every expectation held and every turn was used (except a `forever` one).
    #[track_caller]
    pub fn assert_script_done(&self) {
        let state = lock(&self.state);
        let mut problems = state.failures.clone();
        for p in &state.queue {
            if p.left.is_some() {
                problems.push(format!(
                    "turn {} was never (fully) used: {:?}",
                    p.index, p.turn.answer
                ));
            }
        }
        assert!(
            problems.is_empty(),
            "mock Anthropic script not done:\n  {}",
            problems.join("\n  ")
        );
    }
}

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = uri.path();
    let mut record = RecordedRequest {
        method: method.to_string(),
        uri: uri.to_string(),
        kind: RequestKind::Other,
        session_id: session_id(&headers, &body),
        body,
        turn: None,
    };

    if method == Method::HEAD {
        lock(&state).log.push(record);
        return empty(StatusCode::OK);
    }
    match (method, path) {
        (Method::POST, "/v1/messages") => {}
        (Method::POST, "/v1/messages/count_tokens") => {
            let tokens = serde_json::to_string(&record.body).map_or(0, |s| s.len() / 4);
            lock(&state).log.push(record);
            return json_response(StatusCode::OK, json!({ "input_tokens": tokens }));
        }
        (Method::GET, "/v1/models") => {
            lock(&state).log.push(record);
            return json_response(
                StatusCode::OK,
                json!({ "data": [], "has_more": false, "first_id": null, "last_id": null }),
            );
        }
        _ => {
            lock(&state).log.push(record);
            return error_response(404, None, "not served by the mock");
        }
    }

    let stream = record.body["stream"].as_bool().unwrap_or(false);
    let model = record.model().unwrap_or("claude-mock").to_string();
    if is_side_request(&record.body) {
        record.kind = RequestKind::Side;
        let id = {
            let mut s = lock(&state);
            s.log.push(record);
            s.next_id += 1;
            s.next_id
        };
        // Short, plain and final: whatever the side request was for, it gets a valid answer.
        let blocks = [Block::Text("ok".into())];
        let usage = Usage {
            input_tokens: 1,
            output_tokens: 1,
            ..Usage::default()
        };
        return message_response(stream, id, &model, &blocks, "end_turn", usage);
    }

    record.kind = RequestKind::Main;
    let (outcome, delay) = {
        let mut s = lock(&state);
        s.next_id += 1;
        let id = s.next_id;
        let outcome = take_turn(&mut s, &mut record);
        let delay = match &outcome {
            Outcome::Turn(turn) => turn.delay,
            Outcome::Reject(_) => Duration::ZERO,
        };
        s.log.push(record);
        ((outcome, id), delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (outcome, id) = outcome;
    match outcome {
        Outcome::Reject(message) => {
            let usage = Usage {
                input_tokens: 1,
                output_tokens: 1,
                ..Usage::default()
            };
            message_response(
                stream,
                id,
                &model,
                &[Block::Text(message)],
                "end_turn",
                usage,
            )
        }
        Outcome::Turn(turn) => match turn.answer {
            Answer::Error {
                status,
                retry_after,
                message,
            } => error_response(status, retry_after.as_deref(), &message),
            Answer::Message {
                blocks,
                stop_reason,
                usage,
            } => {
                let calls_tool = blocks.iter().any(|b| matches!(b, Block::ToolUse { .. }));
                let default_reason = if calls_tool { "tool_use" } else { "end_turn" };
                let reason = stop_reason.as_deref().unwrap_or(default_reason);
                message_response(stream, id, &model, &blocks, reason, usage)
            }
        },
    }
}

enum Outcome {
    Turn(Turn),
    Reject(String),
}

/// Pop (or reuse) the next turn for a main request, checking its expectations.
fn take_turn(state: &mut MockState, record: &mut RecordedRequest) -> Outcome {
    let request_no = state
        .log
        .iter()
        .filter(|r| r.kind == RequestKind::Main)
        .count()
        + 1;
    let Some(front) = state.queue.front_mut() else {
        let msg = format!("main request #{request_no} came after the script ended");
        state.failures.push(msg.clone());
        return Outcome::Reject(format!("mock script: {msg}"));
    };
    let unmet: Vec<String> = front
        .turn
        .expects
        .iter()
        .filter(|e| !e.check(record))
        .map(|e| format!("{e:?}"))
        .collect();
    if !unmet.is_empty() {
        // The turn stays queued: the request answered with an error does not count as its use.
        let msg = format!(
            "main request #{request_no} did not meet turn {}: expected {}; last user message: {}",
            front.index,
            unmet.join(", "),
            record
                .messages()
                .iter()
                .rev()
                .find(|m| m["role"] == "user")
                .unwrap_or(&Value::Null)
        );
        state.failures.push(msg.clone());
        return Outcome::Reject(format!("mock script: {msg}"));
    }
    record.turn = Some(front.index);
    let turn = front.turn.clone();
    if let Some(left) = &mut front.left {
        *left -= 1;
        if *left == 0 {
            state.queue.pop_front();
        }
    }
    Outcome::Turn(turn)
}

/// Claude Code's main loop always offers tools; requests without any (titles, summaries, quota
/// checks) are helpers that must not eat the scripted conversation.
fn is_side_request(body: &Value) -> bool {
    let has_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let quota_probe = body["max_tokens"].as_u64() == Some(1);
    !has_tools || quota_probe
}

fn session_id(headers: &HeaderMap, body: &Value) -> Option<String> {
    if let Some(id) = headers
        .get("x-claude-code-session-id")
        .and_then(|v| v.to_str().ok())
    {
        return Some(id.to_string());
    }
    // metadata.user_id is itself a JSON string carrying the session id.
    let user_id: Value = serde_json::from_str(body["metadata"]["user_id"].as_str()?).ok()?;
    user_id["session_id"].as_str().map(str::to_string)
}

fn message_response(
    stream: bool,
    id: u64,
    model: &str,
    blocks: &[Block],
    stop_reason: &str,
    usage: Usage,
) -> Response {
    let message_id = format!("msg_mock_{id:06}");
    if stream {
        let body = sse::message_events(&message_id, id, model, blocks, stop_reason, usage);
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache")
            .header("request-id", format!("req_mock_{id}"))
            .body(Body::from(body))
            .expect("response")
    } else {
        json_response(
            StatusCode::OK,
            sse::message_json(&message_id, id, model, blocks, stop_reason, usage),
        )
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("response")
}

fn error_response(status: u16, retry_after: Option<&str>, message: &str) -> Response {
    let body =
        json!({ "type": "error", "error": { "type": error_type(status), "message": message } });
    let status = StatusCode::from_u16(status).expect("valid status code");
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(seconds) = retry_after {
        builder = builder.header(header::RETRY_AFTER, seconds);
    }
    builder
        .body(Body::from(body.to_string()))
        .expect("response")
}

fn empty(status: StatusCode) -> Response {
    Response::builder()
        .status(status)
        .body(Body::empty())
        .expect("response")
}
