//! Macro arguments are unparsed tokens: assertions, helpers and clients are found among them
//! token by token.

use tree_sitter::Node;

use super::super::super::facts::{Fact, Unit};
use super::super::super::knowledge::target_of;
use super::super::super::syntax::{NodeExt, descendants, line};
use super::super::resolve::Resolve;
use super::paths::{is_docker_path, is_real_db_path, rust_path};
use super::{RustFile, connects_to_database};

impl RustFile<'_, '_, '_> {
    pub(super) fn macro_call(&self, node: Node<'_>, unit: &mut Unit) {
        let at = line(node);
        let Some(name) = node.field("macro").map(|m| self.text(m)) else {
            return;
        };
        let last = name.rsplit("::").next().unwrap_or(name);
        let arguments = node
            .named_children(&mut node.walk())
            .find(|c| c.node_kind() == "token_tree")
            .map_or("", |t| self.text(t));
        let inner = arguments
            .get(1..arguments.len().saturating_sub(1))
            .unwrap_or("")
            .trim();
        if last.starts_with("assert")
            || last.starts_with("prop_assert")
            || last.starts_with("debug_assert")
            || matches!(last, "panic" | "unreachable" | "expect")
            || self.context.is_configured_helper(name, last)
        {
            let weak = match last {
                "assert" | "debug_assert" => {
                    let condition = inner.split(',').next().unwrap_or("").trim();
                    condition == "true" || condition.ends_with(".is_some()")
                }
                "assert_eq" | "assert_ne" => {
                    let parts = split_top_level(inner);
                    parts.len() >= 2 && parts[0] == parts[1] && last == "assert_eq"
                }
                _ => false,
            };
            unit.see(Fact::Assertion { weak }, at);
        } else if let Some(tokens) = node
            .named_children(&mut node.walk())
            .find(|c| c.node_kind() == "token_tree")
        {
            // Macro arguments stay unparsed tokens (`select!`, `tokio::join!`, local macros):
            // find assertion macros and `.unwrap()` among them, and names of same-file helpers.
            // Tokens are compared with their neighbours by index: tree-sitter finds a sibling
            // by walking from the parent, which would make long token trees quadratic.
            let token_trees: Vec<Node<'_>> = descendants(tokens, |_| false)
                .into_iter()
                .filter(|n| n.node_kind() == "token_tree")
                .collect();
            for tree in token_trees {
                let mut cursor = tree.walk();
                let children: Vec<Node<'_>> = tree.children(&mut cursor).collect();
                for (index, token) in children.iter().enumerate() {
                    if token.node_kind() != "identifier" {
                        continue;
                    }
                    let name = self.text(*token);
                    let next = children.get(index + 1).map(|n| self.text(*n));
                    let previous = index
                        .checked_sub(1)
                        .and_then(|i| children.get(i))
                        .map(|n| self.text(*n));
                    let is_assertion_macro = next == Some("!")
                        && (name.starts_with("assert") || matches!(name, "panic" | "unreachable"));
                    let is_unwrap =
                        previous == Some(".") && matches!(name, "unwrap" | "expect" | "unwrap_err");
                    if is_assertion_macro || is_unwrap {
                        unit.see(Fact::Assertion { weak: false }, line(*token));
                    } else if next != Some("!") && previous != Some(".") {
                        unit.call(name, None, line(*token), None);
                    }
                    // `rt_exec!(Docker::connect_with_defaults().unwrap().version(), …)`: a
                    // client's constructor called inside a macro's arguments.
                    if next == Some("::")
                        && let Some(item) = children
                            .get(index + 2)
                            .filter(|n| n.node_kind() == "identifier")
                        && children
                            .get(index + 3)
                            .is_some_and(|n| n.node_kind() == "token_tree")
                    {
                        let path = format!("{}.{}", self.resolve_name(name), self.text(*item));
                        if is_docker_path(&path) {
                            unit.see(Fact::Docker(rust_path(&path)), line(*token));
                        } else if is_real_db_path(&path) {
                            unit.see(Fact::RealDb(rust_path(&path)), line(*token));
                        }
                    }
                    // `TcpStream::connect("host:443")` and `"host:443".to_socket_addrs()`
                    // written inside a macro such as `t!(...)`.
                    let address = if matches!(name, "connect" | "get" | "post" | "connect_async") {
                        children
                            .get(index + 1)
                            .filter(|n| n.node_kind() == "token_tree")
                            .and_then(|arguments| arguments.named_child(0))
                    } else if name == "to_socket_addrs" && previous == Some(".") {
                        index.checked_sub(2).and_then(|i| children.get(i)).copied()
                    } else {
                        None
                    };
                    let address = address
                        .filter(|a| a.node_kind() == "string_literal")
                        .and_then(|a| self.string(a, 0));
                    if let Some(address) = address {
                        if name == "connect" && connects_to_database(&address) {
                            // `vec![Client::connect("memcache://localhost:12345")?]`.
                            let client = previous
                                .filter(|p| *p == "::")
                                .and_then(|_| index.checked_sub(2))
                                .and_then(|i| children.get(i))
                                .map_or_else(
                                    || "connect".to_string(),
                                    |n| format!("{}::connect", self.text(*n)),
                                );
                            unit.see(Fact::RealDb(client), line(*token));
                        } else if let Some(target) = target_of(&address) {
                            unit.see(Fact::Network(target), line(*token));
                        }
                    }
                }
            }
        }
    }
}

/// Splits macro arguments at top-level commas.
fn split_top_level(arguments: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    let mut in_string = false;
    for c in arguments.chars() {
        match c {
            '"' => in_string = !in_string,
            '(' | '[' | '{' if !in_string => depth += 1,
            ')' | ']' | '}' if !in_string => depth -= 1,
            ',' if depth == 0 && !in_string => {
                parts.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_string());
    }
    parts
}
