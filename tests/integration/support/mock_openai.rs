//! A scripted mock of the OpenAI Responses API, served on 127.0.0.1 for the real Codex CLI.
//!
//! The same design as [`super::mock_anthropic`]: the test writes a [`Script`], a queue of
//! [`Turn`]s consumed in order by the requests of the main conversation. A turn is a model
//! response (assistant text, reasoning, and tool calls Codex really executes: `exec_command`
//! shell commands and freeform `apply_patch` edits), streamed as Server-Sent Events in the shapes
//! Codex 0.169.0 reads; or a `response.failed` event; or an HTTP error. A turn may carry
//! expectations about the request it answers (e.g. that it carries the output of the previous
//! turn's command). A request that does not meet them, or comes after the script ended, is
//! recorded for [`MockOpenAi::assert_script_done`] and answered with a final message naming the
//! problem, so the run ends at once instead of retrying.
//!
//! Requests that are not the main conversation (no tools offered: titles, summaries; other paths
//! such as a model list) get harmless answers and never consume the script. Every request is
//! logged; see [`RecordedRequest`].
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

pub use super::openai_request::{RecordedRequest, RequestKind};
use super::openai_sse::{failed_events, response_events, sse_response};
use super::serve::Served;

/// Token counts the mock reports in `response.completed`, in the API's terms: `cached` is part of
/// `input`, `reasoning` part of `output`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub cached: u64,
    pub output: u64,
    pub reasoning: u64,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            input: 1000,
            cached: 200,
            output: 50,
            reasoning: 7,
        }
    }
}

/// One output item of a scripted response.
#[derive(Clone, Debug)]
pub enum Item {
    /// An assistant `message` with one `output_text` part.
    Text(String),
    /// A `reasoning` item with one summary part (Codex shows it as a `reasoning` item).
    Reasoning(String),
    /// A JSON `function_call`: `exec_command` takes `{"cmd": "…"}`.
    FunctionCall { name: String, arguments: Value },
    /// A freeform `custom_tool_call`: `apply_patch` takes the patch text itself.
    CustomToolCall { name: String, input: String },
}

/// A check on the request a turn answers. The request carries the whole conversation so far in
/// `input`; "last" means the newest entries, i.e. the new prompt or the outputs of the previous
/// turn's tool calls.
#[derive(Clone)]
pub enum Expect {
    /// The newest user message has an `input_text` containing this (the prompt).
    UserTextContains(String),
    /// A tool output at the end of the conversation contains this.
    ToolOutputContains(String),
    /// Any text in the conversation (user, assistant, tool output) contains this. Used to check
    /// that a resumed thread still carries its earlier turns.
    ConversationContains(String),
    /// Anything else, with a description for the failure message.
    Custom(String, Arc<dyn Fn(&RecordedRequest) -> bool + Send + Sync>),
}

impl fmt::Debug for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::UserTextContains(s) => write!(f, "last user message contains {s:?}"),
            Expect::ToolOutputContains(s) => write!(f, "last tool output contains {s:?}"),
            Expect::ConversationContains(s) => write!(f, "conversation contains {s:?}"),
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
            Expect::ToolOutputContains(s) => req
                .last_tool_outputs()
                .iter()
                .any(|t| t.contains(s.as_str())),
            Expect::ConversationContains(s) => {
                req.all_texts().iter().any(|t| t.contains(s.as_str()))
            }
            Expect::Custom(_, f) => f(req),
        }
    }
}

#[derive(Clone, Debug)]
enum Answer {
    Response {
        items: Vec<Item>,
        usage: Usage,
    },
    /// `response.failed` with this `error` object, after `response.created`.
    Failed {
        error: Value,
    },
    Http {
        status: u16,
        body: Value,
    },
}

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
    fn new(answer: Answer) -> Turn {
        Turn {
            answer,
            expects: Vec::new(),
            repeat: Repeat::Times(1),
            delay: Duration::ZERO,
        }
    }

    /// A response with no items yet; add them with [`Turn::text`]-style modifiers.
    pub fn message() -> Turn {
        Turn::new(Answer::Response {
            items: Vec::new(),
            usage: Usage::default(),
        })
    }

    /// A response that is just this text: with no tool call in it, Codex ends the turn.
    pub fn reply(text: impl Into<String>) -> Turn {
        Turn::message().text(text)
    }

    /// A shell command through `exec_command`, run in the thread's working directory.
    pub fn exec(cmd: impl Into<String>) -> Turn {
        Turn::message().exec_call(cmd)
    }

    /// A freeform `apply_patch` call with this patch (`*** Begin Patch` … `*** End Patch`).
    pub fn apply_patch(patch: impl Into<String>) -> Turn {
        Turn::message().patch_call(patch)
    }

    /// `apply_patch` adding the file `path` (relative to the working directory) with `content`.
    pub fn add_file(path: &str, content: &str) -> Turn {
        Turn::apply_patch(add_file_patch(path, content))
    }

    /// A `function_call` of any tool, with its JSON arguments verbatim.
    pub fn tool(name: impl Into<String>, arguments: Value) -> Turn {
        Turn::message().function_call(name, arguments)
    }

    /// An HTTP error with this JSON body.
    pub fn http_error(status: u16, body: Value) -> Turn {
        Turn::new(Answer::Http { status, body })
    }

    /// The service's usage-limit answer: HTTP 429 with `error.type = "usage_limit_reached"`, the
    /// subscription plan and the reset time (Unix seconds). Codex does not retry it; it shows
    /// "You've hit your usage limit. … try again at <local time>." and fails the turn.
    pub fn usage_limit(plan_type: Option<&str>, resets_at: Option<i64>) -> Turn {
        let mut error = json!({
            "type": "usage_limit_reached",
            "message": "The usage limit has been reached",
        });
        if let Some(plan) = plan_type {
            error["plan_type"] = json!(plan);
        }
        if let Some(at) = resets_at {
            error["resets_at"] = json!(at);
        }
        Turn::http_error(429, json!({ "error": error }))
    }

    /// The API's answer to a bad or missing key (HTTP 401, `invalid_api_key`).
    pub fn unauthorized() -> Turn {
        Turn::http_error(
            401,
            json!({ "error": {
                "message": "Incorrect API key provided: sk-mock. You can find your API key at https://platform.openai.com/account/api-keys.",
                "type": "invalid_request_error",
                "param": null,
                "code": "invalid_api_key",
            }}),
        )
    }

    /// A server error (HTTP 500), which Codex retries.
    pub fn server_error() -> Turn {
        Turn::http_error(
            500,
            json!({ "error": {
                "message": "The server had an error while processing your request.",
                "type": "server_error",
                "param": null,
                "code": null,
            }}),
        )
    }

    /// A stream that starts and then reports `response.failed` with this error code and message
    /// (`insufficient_quota`, `rate_limit_exceeded`, `server_error`, …).
    pub fn failed(code: &str, message: &str) -> Turn {
        Turn::new(Answer::Failed {
            error: json!({ "code": code, "message": message }),
        })
    }

    /// Add an assistant text item.
    pub fn text(mut self, text: impl Into<String>) -> Turn {
        self.items_mut().push(Item::Text(text.into()));
        self
    }

    /// Add a reasoning item.
    pub fn reasoning(mut self, summary: impl Into<String>) -> Turn {
        self.items_mut().push(Item::Reasoning(summary.into()));
        self
    }

    /// Add an `exec_command` call.
    pub fn exec_call(self, cmd: impl Into<String>) -> Turn {
        self.function_call("exec_command", json!({ "cmd": cmd.into() }))
    }

    /// Add an `apply_patch` call.
    pub fn patch_call(mut self, patch: impl Into<String>) -> Turn {
        self.items_mut().push(Item::CustomToolCall {
            name: "apply_patch".into(),
            input: patch.into(),
        });
        self
    }

    /// Add a `function_call`; several in one turn are parallel calls.
    pub fn function_call(mut self, name: impl Into<String>, arguments: Value) -> Turn {
        self.items_mut().push(Item::FunctionCall {
            name: name.into(),
            arguments,
        });
        self
    }

    /// Token counts to report for this response.
    pub fn usage(mut self, value: Usage) -> Turn {
        match &mut self.answer {
            Answer::Response { usage, .. } => *usage = value,
            _ => panic!("usage() applies to response turns"),
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

    /// Require the newest user message to contain `s` (the prompt).
    pub fn expect_prompt(self, s: impl Into<String>) -> Turn {
        self.expect(Expect::UserTextContains(s.into()))
    }

    /// Require a tool output at the end of the conversation containing `s`.
    pub fn expect_tool_output(self, s: impl Into<String>) -> Turn {
        self.expect(Expect::ToolOutputContains(s.into()))
    }

    fn items_mut(&mut self) -> &mut Vec<Item> {
        match &mut self.answer {
            Answer::Response { items, .. } => items,
            _ => panic!("items apply to response turns"),
        }
    }
}

/// An `apply_patch` patch that adds one file.
pub fn add_file_patch(path: &str, content: &str) -> String {
    let mut patch = format!("*** Begin Patch\n*** Add File: {path}\n");
    for line in content.lines() {
        patch.push('+');
        patch.push_str(line);
        patch.push('\n');
    }
    patch.push_str("*** End Patch\n");
    patch
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
pub struct MockOpenAi {
    state: Shared,
    server: Served,
}

impl MockOpenAi {
    /// Bind 127.0.0.1 on a free port and serve `script`.
    pub fn start(script: Script) -> MockOpenAi {
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
        MockOpenAi {
            server: Served::start("mock-openai", app),
            state,
        }
    }

    /// `http://127.0.0.1:<port>/v1`, the `base_url` of a Codex model provider.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.server.addr)
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
        self.of_kind(RequestKind::Main)
    }

    /// Helper requests (`/v1/responses` without tools), in arrival order.
    pub fn side_requests(&self) -> Vec<RecordedRequest> {
        self.of_kind(RequestKind::Side)
    }

    fn of_kind(&self, kind: RequestKind) -> Vec<RecordedRequest> {
        lock(&self.state)
            .log
            .iter()
            .filter(|r| r.kind == kind)
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
            "mock OpenAI script not done:\n  {}",
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
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut record = RecordedRequest {
        method: method.to_string(),
        uri: uri.to_string(),
        kind: RequestKind::Other,
        authorization: header_text("authorization"),
        thread_id: header_text("thread-id"),
        turn_metadata: header_text("x-codex-turn-metadata")
            .and_then(|m| serde_json::from_str(&m).ok())
            .unwrap_or(Value::Null),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        turn: None,
    };

    if !(method == Method::POST && uri.path() == "/v1/responses") {
        let models = method == Method::GET && uri.path() == "/v1/models";
        lock(&state).log.push(record);
        return if models {
            json_response(StatusCode::OK, json!({ "object": "list", "data": [] }))
        } else {
            json_response(
                StatusCode::NOT_FOUND,
                json!({ "error": { "message": "not served by the mock", "type": "invalid_request_error" } }),
            )
        };
    }

    let model = record.model().unwrap_or("gpt-mock").to_string();
    let has_tools = record.body["tools"]
        .as_array()
        .is_some_and(|t| !t.is_empty());
    if !has_tools {
        // Whatever a helper request is for, a short final answer is valid.
        record.kind = RequestKind::Side;
        let id = {
            let mut s = lock(&state);
            s.log.push(record);
            s.next_id += 1;
            s.next_id
        };
        let usage = Usage {
            input: 1,
            cached: 0,
            output: 1,
            reasoning: 0,
        };
        return sse_response(response_events(
            id,
            &model,
            &[Item::Text("ok".into())],
            usage,
        ));
    }

    record.kind = RequestKind::Main;
    let (outcome, id) = {
        let mut s = lock(&state);
        s.next_id += 1;
        let id = s.next_id;
        let outcome = take_turn(&mut s, &mut record);
        s.log.push(record);
        (outcome, id)
    };
    match outcome {
        Outcome::Reject(message) => {
            let usage = Usage {
                input: 1,
                cached: 0,
                output: 1,
                reasoning: 0,
            };
            sse_response(response_events(id, &model, &[Item::Text(message)], usage))
        }
        Outcome::Turn(turn) => {
            if !turn.delay.is_zero() {
                tokio::time::sleep(turn.delay).await;
            }
            match turn.answer {
                Answer::Http { status, body } => json_response(
                    StatusCode::from_u16(status).expect("valid status code"),
                    body,
                ),
                Answer::Failed { error } => sse_response(failed_events(id, &model, error)),
                Answer::Response { items, usage } => {
                    sse_response(response_events(id, &model, &items, usage))
                }
            }
        }
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
        // The turn stays queued: the rejected request does not count as its use.
        let msg = format!(
            "main request #{request_no} did not meet turn {}: expected {}; conversation ends with: {}",
            front.index,
            unmet.join(", "),
            record.input().last().unwrap_or(&Value::Null)
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

fn json_response(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("response")
}
