//! Builder chains, closures and timeouts around a call: whether a request is sent, a mail
//! transport used, a sleep cut short.

use tree_sitter::Node;

use super::super::super::knowledge::rust;
use super::super::super::syntax::NodeExt;
use super::super::resolve::Resolve;
use super::{RustFile, connects_to_database};

impl<'s> RustFile<'s, '_, '_> {
    /// The duration of a `timeout(d, future)` call whose arguments hold `node`.
    pub(super) fn enclosing_timeout_call(&self, node: Node<'_>) -> Option<f64> {
        let mut current = node.parent();
        while let Some(parent) = current {
            match parent.node_kind() {
                "call_expression" => {
                    let is_timeout = parent
                        .field("function")
                        .and_then(|f| self.path(f, 0))
                        .is_some_and(|p| p.rsplit('.').next() == Some("timeout"));
                    if is_timeout {
                        let first = parent.field("arguments")?.named_child(0)?;
                        return self.duration(first, 0);
                    }
                }
                "function_item" | "closure_expression" => return None,
                _ => {}
            }
            current = parent.parent();
        }
        None
    }

    /// True when the function around `node` sends mail or tests the connection.
    pub(super) fn function_sends_mail(&self, node: Node<'_>) -> bool {
        let mut current = node.parent();
        while let Some(parent) = current {
            if parent.node_kind() == "function_item" {
                // Read as text: the call is often inside `assert!(…)`, whose tokens are not
                // parsed as expressions.
                let body = self.text(parent);
                return rust::MAIL_SENDS.iter().any(|call| body.contains(call));
            }
            current = parent.parent();
        }
        false
    }

    /// The method accesses made on what `call` returns, in chain order: `.port` and `.build` in
    /// `builder(host).port(2525).build()` (through `?` and `.await`).
    fn chain_after<'n>(&self, call: Node<'n>) -> Vec<Node<'n>> {
        let mut methods = Vec::new();
        let mut node = call;
        for _ in 0..64 {
            let Some(parent) = node.parent() else { break };
            match parent.node_kind() {
                "field_expression" if parent.field("value") == Some(node) => {
                    methods.push(parent);
                    node = parent;
                }
                "call_expression" | "try_expression" | "await_expression" => node = parent,
                _ => break,
            }
        }
        methods
    }

    /// The name of a method access (`port` in `.port`).
    fn method_name(&self, access: Node<'_>) -> &'s str {
        access
            .field("field")
            .map(|f| self.text(f))
            .unwrap_or_default()
    }

    /// The number given to a later method of the same chain: `.port(2525)` in
    /// `builder(host).port(2525).build()`.
    pub(super) fn chained_argument(&self, call: Node<'_>, method: &str) -> Option<f64> {
        let access = self
            .chain_after(call)
            .into_iter()
            .find(|access| self.method_name(*access) == method)?;
        let arguments = access.parent()?.field("arguments")?;
        self.number(arguments.named_child(0)?, 0)
    }

    /// `client.post(url).json(&body).build()`: the request is built and inspected, never sent.
    pub(super) fn built_but_not_sent(&self, call: Node<'_>) -> bool {
        let methods: Vec<&str> = self
            .chain_after(call)
            .into_iter()
            .map(|access| self.method_name(access))
            .collect();
        methods.contains(&"build") && !methods.iter().any(|m| rust::REQUEST_SENDS.contains(m))
    }

    /// True when `node` sits in a closure or async block that the function hands to someone else
    /// (a server's handler, a spawned task), not one it runs as its own body (`rt.block_on(async {
    /// … })`).
    pub(super) fn in_closure(&self, node: Node<'_>) -> bool {
        let mut current = node.parent();
        while let Some(parent) = current {
            match parent.node_kind() {
                "closure_expression" | "async_block" => {
                    let runner = parent
                        .parent()
                        .filter(|p| p.node_kind() == "arguments")
                        .and_then(|arguments| arguments.parent())
                        .and_then(|call| call.field("function"))
                        .map(|function| self.text(function))
                        // The test waits for its own body (`rt.block_on(async { … })`) and for
                        // what it spawns (`thread::spawn(…)`, usually joined).
                        .is_some_and(|text| {
                            rust::BODY_RUNNERS
                                .iter()
                                .any(|runner| text.ends_with(runner))
                        });
                    if !runner {
                        return true;
                    }
                    current = parent.parent();
                }
                "function_item" => return false,
                _ => current = parent.parent(),
            }
        }
        false
    }

    /// The shortest timeout set among these nodes: `.timeout(Duration::from_millis(500))`,
    /// `.read_timeout(…)`, `tokio::time::timeout(d, future)`.
    pub(super) fn shortest_timeout(&self, nodes: &[Node<'_>]) -> Option<f64> {
        nodes
            .iter()
            .filter(|n| n.node_kind() == "call_expression")
            .filter_map(|call| {
                let function = call.field("function")?;
                // A method sets one (`.read_timeout(d)`); of free functions only `timeout(d, …)`.
                let name = match function.node_kind() {
                    "field_expression" => self.text(function.field("field")?),
                    _ if self.path(function, 0)?.rsplit('.').next() == Some("timeout") => "timeout",
                    _ => return None,
                };
                if !rust::TIMEOUTS.contains(&name) {
                    return None;
                }
                let first = call.field("arguments")?.named_child(0)?;
                self.duration(first, 0)
            })
            .reduce(f64::min)
    }

    /// True when the receiver chain of a method call (`a(..).b(..).connect`) starts from a
    /// call given a database connection string.
    pub(super) fn configured_from_connection_string(&self, function: Node<'_>) -> bool {
        let mut node = function;
        for _ in 0..16 {
            node = match node.node_kind() {
                "field_expression" => match node.field("value") {
                    Some(value) => value,
                    None => return false,
                },
                "try_expression" | "await_expression" => match node.named_child(0) {
                    Some(inner) => inner,
                    None => return false,
                },
                "call_expression" => {
                    let connection_string = node
                        .field("arguments")
                        .and_then(|a| a.named_child(0))
                        .and_then(|a| self.string(a, 0))
                        .is_some_and(|s| connects_to_database(&s));
                    if connection_string {
                        return true;
                    }
                    match node.field("function") {
                        Some(inner) => inner,
                        None => return false,
                    }
                }
                _ => return false,
            };
        }
        false
    }
}
