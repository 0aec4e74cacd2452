//! A Python call as the shared classification sees it: positional and keyword arguments, and
//! the timeouts around a sleep.

use tree_sitter::Node;

use super::super::super::knowledge::calls::{Arg, Args, CallSite, Connects, first_value};
use super::super::super::knowledge::{postgres_rejects_before_connecting, python};
use super::super::super::syntax::{NodeExt, descendants};
use super::super::resolve::Resolve;
use super::PythonFile;

/// A call being classified, with its arguments split as Python passes them.
pub(super) struct PythonCall<'f, 's, 't, 'c> {
    pub(super) file: &'f PythonFile<'s, 't, 'c>,
    pub(super) call: Node<'t>,
    pub(super) positional: &'f [Node<'t>],
    pub(super) keywords: &'f [(&'s str, Node<'t>)],
}

impl<'s, 't, 'c> CallSite<'t> for PythonCall<'_, 's, 't, 'c> {
    type File = PythonFile<'s, 't, 'c>;

    fn file(&self) -> &Self::File {
        self.file
    }

    fn positional(&self) -> &[Node<'t>] {
        self.positional
    }

    fn argument(&self, arg: Arg) -> Option<Node<'t>> {
        match arg {
            Arg::At(index) => self.positional.get(index).copied(),
            Arg::Named(name) => self
                .keywords
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| *v),
            Arg::Element(index, element) => self
                .positional
                .get(index)
                .filter(|a| a.node_kind() == "tuple")
                .and_then(|a| a.named_child(element)),
        }
    }

    fn seconds(&self, node: Node<'t>) -> Option<f64> {
        let seconds = self.file.number(node, 0)?;
        let bound = self
            .file
            .enclosing_timeout(self.call)
            .unwrap_or(f64::INFINITY);
        Some(seconds.min(bound))
    }

    /// `subprocess.run(["redis-server", …])` runs the list's first element.
    fn command(&self, node: Node<'t>) -> Option<String> {
        match node.node_kind() {
            "list" | "tuple" => node.named_child(0).and_then(|c| self.file.string(c, 0)),
            _ => self.file.string(node, 0),
        }
    }

    fn reaches_server(&self, connects: &Connects, path: &str) -> bool {
        let refused = matches!(connects, Connects::Always)
            && path.contains(python::LIBPQ_CLIENTS)
            && first_value(self, python::DSN, |node| self.file.string(node, 0))
                .is_some_and(|dsn| postgres_rejects_before_connecting(&dsn, false));
        !refused
    }

    /// `Cache(Cache.REDIS)`, `Cache(config={"CACHE_TYPE": "RedisCache"})`: the arguments name a
    /// server backend (a whole word of them, so `SimpleCache` names none).
    fn names_dialect(&self, dialects: &[&str]) -> bool {
        let arguments = self
            .call
            .field("arguments")
            .map_or("", |a| self.file.text(a));
        arguments
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|word| dialects.contains(&word))
    }

    /// `httpx.get(API + "/repos")` with `API` imported: the name, as its import spells it.
    fn constant_name(&self, args: Args) -> Option<String> {
        let argument = args.iter().find_map(|arg| self.argument(*arg))?;
        let start = match argument.node_kind() {
            "binary_operator" => argument.field("left")?,
            "string" => argument
                .named_children(&mut argument.walk())
                .find(|part| part.node_kind() != "string_start")
                .filter(|part| part.node_kind() == "interpolation")?
                .named_child(0)?,
            _ => argument,
        };
        match start.node_kind() {
            "identifier" => self.file.imported(self.file.text(start)).map(String::from),
            "attribute" => self.file.path(start, 0),
            _ => None,
        }
    }

    /// `create_connection(url, class_=DummySocket)`: a class of this file stands in for the
    /// socket, so nothing leaves the process.
    fn sends(&self) -> bool {
        !self.keywords.iter().any(|(_, value)| {
            value.node_kind() == "identifier" && self.file.classes.contains(self.file.text(*value))
        })
    }
}

impl<'t> PythonFile<'_, 't, '_> {
    /// The shortest timeout around `node`: `with env.timeout(0.15):`, `async with
    /// asyncio.timeout(1):`, `asyncio.wait_for(…, timeout=0.5)`. A sleep inside is cut short there.
    pub(super) fn enclosing_timeout(&self, node: Node<'t>) -> Option<f64> {
        let is_timeout = |call: Node<'_>| {
            call.field("function").is_some_and(|f| {
                let name = match f.node_kind() {
                    "attribute" => f.field("attribute").map(|a| self.text(a)),
                    _ => Some(self.text(f)),
                };
                name.is_some_and(|n| n == "timeout" || n == "wait_for")
            })
        };
        // Positional arguments come before keywords in Python, so this is source order.
        let duration = |call: Node<'t>| {
            let (positional, keywords) = self.arguments(call);
            positional
                .iter()
                .find_map(|argument| self.number(*argument, 0))
                .or_else(|| {
                    keywords
                        .iter()
                        .filter(|(name, _)| matches!(*name, "timeout" | "seconds" | "delay"))
                        .find_map(|(_, value)| self.number(*value, 0))
                })
        };
        let mut bound: Option<f64> = None;
        let mut current = node.parent();
        while let Some(parent) = current {
            let timeout = match parent.node_kind() {
                "with_statement" => descendants(parent, |n| n.node_kind() == "block")
                    .into_iter()
                    .filter(|n| n.node_kind() == "with_item")
                    .filter_map(|item| item.named_child(0))
                    .filter_map(|value| match value.node_kind() {
                        "as_pattern" => value.named_child(0),
                        _ => Some(value),
                    })
                    .filter(|value| value.node_kind() == "call" && is_timeout(*value))
                    .filter_map(duration)
                    .reduce(f64::min),
                "call" if is_timeout(parent) => duration(parent),
                "function_definition" => break,
                _ => None,
            };
            if let Some(timeout) = timeout {
                bound = Some(bound.map_or(timeout, |b| b.min(timeout)));
            }
            current = parent.parent();
        }
        bound
    }
}
