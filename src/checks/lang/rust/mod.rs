//! Rust front end: `#[test]`, `#[tokio::test]` and friends, in `tests/` or inline test modules.

use std::collections::HashSet;

use tree_sitter::Node;

use super::super::facts::{Disabled, Fact, FileFacts, Unit, UnitKind};
use super::super::knowledge::calls::{
    Arg, CallSite, Connects, Entry, Meaning, classify, first_value, given_connection_string,
};
use super::super::knowledge::{
    is_database_connection_string, is_existence_assertion, looks_like_assertion_helper,
    postgres_rejects_before_connecting, rust, target_of,
};
use super::super::syntax::{NodeExt, descendants, line, matches_any, text};
use super::Context;
use super::resolve::{Names, Resolve};
use super::scope::Bindings;
use paths::{INTERNAL, is_real_db_path, parses_settings, rust_path};

mod chains;
mod macros;
mod paths;

/// True when the type parameters of a function or struct carry bounds (`<T: Send>`).
fn has_trait_bounds(item: Node<'_>) -> bool {
    item.field("type_parameters").is_some_and(|parameters| {
        descendants(parameters, |_| false)
            .iter()
            .any(|n| n.node_kind() == "trait_bounds")
    })
}

/// True when `node` sits in a module marked `#[cfg(test)]`.
fn in_test_module(node: Node<'_>, source: &str) -> bool {
    let mut current = node.parent();
    while let Some(parent) = current {
        if parent.node_kind() == "mod_item" {
            let mut sibling = parent.prev_named_sibling();
            while let Some(attribute) = sibling.filter(|s| s.node_kind() == "attribute_item") {
                if text(attribute, source).contains("cfg(test)") {
                    return true;
                }
                sibling = attribute.prev_named_sibling();
            }
        }
        current = parent.parent();
    }
    false
}

/// True when `value` names a database server that a connect call given it would reach. Key/value
/// strings are read as rust-postgres reads them: one it refuses before connecting (hosts and
/// ports that do not match, no host at all) makes a test of the configuration, not of a server.
fn connects_to_database(value: &str) -> bool {
    is_database_connection_string(value) && !postgres_rejects_before_connecting(value, true)
}

/// Reads a parsed Rust file into facts.
pub(crate) fn facts(root: Node<'_>, source: &str, context: &Context<'_>) -> FileFacts {
    let mut file = RustFile {
        names: Names::new(source, &paths::SHAPES),
        bindings: Bindings::new(Vec::new()),
        timeout_bound: std::cell::Cell::new(None),
        context,
        static_checks: HashSet::new(),
        crate_glob: false,
        test_types: HashSet::new(),
        mods: std::collections::BTreeSet::new(),
        mod_globs: Vec::new(),
    };
    let all = descendants(root, |_| false);
    file.bindings = Bindings::new(
        all.iter()
            .filter(|node| node.node_kind() == "function_item")
            .map(tree_sitter::Node::byte_range)
            .collect(),
    );
    for node in &all {
        match node.node_kind() {
            "use_declaration" => {
                if let Some(argument) = node.field("argument") {
                    file.use_tree(argument, "");
                }
            }
            "let_declaration" => {
                if let (Some(pattern), Some(value)) = (node.field("pattern"), node.field("value")) {
                    let name = if pattern.node_kind() == "mut_pattern" {
                        pattern.named_child(0).unwrap_or(pattern)
                    } else {
                        pattern
                    };
                    if name.node_kind() == "identifier" {
                        file.bindings
                            .bind(file.text(name), name.start_byte(), value);
                    }
                }
            }
            "function_item" => {
                let bounded = has_trait_bounds(*node)
                    || node
                        .named_children(&mut node.walk())
                        .any(|n| n.node_kind() == "where_clause");
                let empty = node
                    .field("body")
                    .is_some_and(|b| b.named_child_count() == 0);
                if bounded
                    && empty
                    && let Some(name) = node.field("name")
                {
                    file.static_checks.insert(file.text(name));
                }
            }
            "struct_item" => {
                // `struct A<T: Send + Sync>(T);` then `A(value)`: a compile-time bound check.
                if has_trait_bounds(*node)
                    && let Some(name) = node.field("name")
                {
                    file.static_checks.insert(file.text(name));
                }
            }
            "mod_item" if node.field("body").is_none() => {
                // `mod common;`: a module file beside the test, part of its package view.
                if let Some(name) = node.field("name") {
                    file.mods.insert(file.text(name));
                }
            }
            "const_item" | "static_item" => {
                if let (Some(name), Some(value)) = (node.field("name"), node.field("value")) {
                    file.bindings
                        .bind(file.text(name), name.start_byte(), value);
                }
            }
            _ => {}
        }
    }
    let all_tests = !all
        .iter()
        .any(|n| n.node_kind() == "attribute_item" && file.text(*n).contains("cfg(test)"));
    for node in all.iter().filter(|n| n.node_kind() == "impl_item") {
        if (all_tests || in_test_module(*node, source))
            && let Some(kind) = node.field("type")
        {
            let name = file.text(kind);
            file.test_types
                .insert(name.split('<').next().unwrap_or(name).trim());
        }
    }
    let mut units = vec![];
    let mut module = Unit::new("<module>", UnitKind::Module, 1);
    for node in &all {
        if matches!(
            node.node_kind(),
            "source_file" | "declaration_list" | "block"
        ) {
            // Attributes are the items just before a function in the same list.
            let mut attributes = Vec::new();
            let mut cursor = node.walk();
            for item in node.named_children(&mut cursor) {
                match item.node_kind() {
                    "attribute_item" => attributes.push(item),
                    "line_comment" | "block_comment" => {}
                    "function_item" => {
                        units.push(file.function_unit(item, &attributes));
                        attributes.clear();
                    }
                    _ => attributes.clear(),
                }
            }
        }
        if node.node_kind() == "attribute_item"
            && node
                .parent()
                .is_some_and(|p| p.node_kind() == "source_file")
        {
            // Inner attributes such as `#![cfg(feature = "integration")]` mark the whole file.
            let attribute = file.text(*node);
            if attribute.starts_with("#!") && is_integration_cfg(attribute) {
                module.see(Fact::IntegrationMarker, line(*node));
            }
        }
    }
    units.push(module);
    FileFacts {
        units,
        imports: file
            .mods
            .iter()
            .map(std::string::ToString::to_string)
            .collect(),
        ..FileFacts::default()
    }
}

fn is_integration_cfg(attribute: &str) -> bool {
    attribute.contains("cfg")
        && ["integration", "e2e", "docker"]
            .iter()
            .any(|w| attribute.contains(w))
        && !attribute.contains("not(")
}

struct RustFile<'s, 't, 'c> {
    /// Source and `use` paths by local name.
    names: Names<'s>,
    /// `let` and `const` values, per function.
    bindings: Bindings<'t>,
    /// The shortest timeout the function being read sets (see `shortest_timeout`).
    timeout_bound: std::cell::Cell<Option<f64>>,
    context: &'c Context<'c>,
    /// Empty generic functions whose type parameters carry bounds (`fn is_send<T: Send>() {}`):
    /// calling one asserts at compile time that a type meets the bounds.
    static_checks: HashSet<&'s str>,
    /// `use super::*` or `use crate::…::*`: names the file does not define or import come from
    /// its own crate.
    crate_glob: bool,
    /// Modules the file declares without a body (`mod common;`), kept in other files.
    mods: std::collections::BTreeSet<&'s str>,
    /// Modules whose items the file imports with a glob (`use support::*;`).
    mod_globs: Vec<String>,
    /// Types whose `impl` is test support: inside a `#[cfg(test)]` module, or anywhere in a file
    /// that is all tests (no `#[cfg(test)]`, as under `tests/`).
    test_types: HashSet<&'s str>,
}

impl<'s, 't, 'c> RustFile<'s, 't, 'c> {
    fn text(&self, node: Node<'_>) -> &'s str {
        text(node, self.names.source)
    }

    fn function_unit(&self, function: Node<'t>, attributes: &[Node<'t>]) -> Unit {
        let name = function.field("name").map_or("", |n| self.text(n));
        let is_test = attributes.iter().any(|a| {
            let attribute = self.text(*a);
            let inner = attribute.trim_start_matches("#[").trim_end_matches(']');
            let head = inner.split('(').next().unwrap_or("").trim();
            rust::TEST_ATTRIBUTES.contains(&head) || head.ends_with("::test")
        });
        let mut unit = Unit::new(
            name,
            if is_test {
                UnitKind::Test
            } else {
                UnitKind::Helper
            },
            line(function),
        );
        for attribute in attributes {
            let attribute_text = self.text(*attribute);
            let at = line(*attribute);
            let compact: String = attribute_text
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            if compact == "#[ignore]" || compact.starts_with("#[ignore=") {
                unit.disabled = Some((Disabled::Skip, at));
            }
            if compact.starts_with("#[should_panic") {
                unit.see(Fact::Assertion { weak: false }, at);
            }
            if compact.contains("start_paused=true") {
                unit.see(Fact::FakeClock, at);
            }
            if compact.starts_with("#[sqlx::test") {
                unit.see(Fact::RealDb("sqlx::test".to_string()), at);
            }
            if is_integration_cfg(&compact) {
                unit.see(Fact::IntegrationMarker, at);
            }
        }
        let impl_owner = function
            .parent()
            .and_then(|list| list.parent())
            .filter(|owner| matches!(owner.node_kind(), "impl_item" | "trait_item"));
        let in_impl = impl_owner.is_some();
        // `impl TestContext { fn new() … }`: called as `TestContext::new()` from other files.
        unit.owner = impl_owner
            .and_then(|owner| owner.field("type").or_else(|| owner.field("name")))
            .map(|kind| {
                let name = self.text(kind);
                name.split('<').next().unwrap_or(name).trim().to_string()
            });
        if !is_test && !in_impl {
            self.client_signature(function, &mut unit);
        }
        if let Some(body) = function.field("body") {
            let nodes = descendants(body, |n| n.node_kind() == "function_item");
            self.timeout_bound.set(self.shortest_timeout(&nodes));
            // Nested functions are their own units; closures belong to the test.
            for node in nodes {
                if node.node_kind() != "function_item" {
                    self.observe(node, &mut unit);
                }
            }
        }
        unit
    }

    /// A helper that takes or returns a real client (`fn create_network_test(docker: Docker)`,
    /// `fn create_pool() -> Pool`) works against that service, however the client is made
    /// (often in a support file or a macro the check cannot see).
    fn client_signature(&self, function: Node<'t>, unit: &mut Unit) {
        let mut types = Vec::new();
        if let Some(parameters) = function.field("parameters") {
            let mut cursor = parameters.walk();
            for parameter in parameters.named_children(&mut cursor) {
                if let Some(kind) = parameter.field("type") {
                    types.push(kind);
                }
            }
        }
        types.extend(function.field("return_type"));
        for kind in types {
            let Some(path) = self.type_path(kind, 0) else {
                continue;
            };
            // Inside the client's own crate its types are everywhere: only a client used
            // from outside says something about a helper.
            if path.starts_with(INTERNAL) {
                continue;
            }
            let bare = path.as_str();
            if matches_any(rust::CLIENT_TYPES, bare) && !bare.contains(rust::EMBEDDED) {
                let fact = if matches_any(rust::DOCKER, bare) {
                    Fact::Docker(rust_path(&path))
                } else {
                    Fact::RealDb(rust_path(&path))
                };
                unit.see(fact, line(kind));
            }
        }
    }

    /// The path of a type, through references and generics (`&mut Pool<M>` is `Pool`).
    fn type_path(&self, node: Node<'_>, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "type_identifier" => Some(self.resolve_name(self.text(node))),
            "scoped_type_identifier" => {
                let full = self.text(node).replace("::", ".");
                let (first, rest) = full.split_once('.').unwrap_or((&full, ""));
                let base = match self.names.imports.get(first) {
                    Some(path) => path.clone(),
                    None => first.to_string(),
                };
                Some(self.normalize(&format!("{base}.{rest}")))
            }
            "reference_type" | "generic_type" => self.type_path(node.field("type")?, depth + 1),
            _ => None,
        }
    }

    fn observe(&self, node: Node<'t>, unit: &mut Unit) {
        let at = line(node);
        match node.node_kind() {
            "macro_invocation" => self.macro_call(node, unit),
            "try_expression" => unit.see(Fact::Assertion { weak: false }, at),
            "call_expression" => self.call(node, unit),
            _ => {}
        }
    }

    fn call(&self, call: Node<'t>, unit: &mut Unit) {
        let at = line(call);
        let Some(function) = call.field("function") else {
            return;
        };
        let Some(path) = self.path(function, 0) else {
            return;
        };
        let arguments = call.field("arguments");
        let args: Vec<Node<'t>> = arguments
            .map(|a| {
                let mut cursor = a.walk();
                a.named_children(&mut cursor)
                    .filter(|n| {
                        !matches!(
                            n.node_kind(),
                            "line_comment" | "block_comment" | "attribute_item"
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let last = path.rsplit('.').next().unwrap_or(&path);
        let followed = self.followed(function, &path, last);

        let static_check = match function.node_kind() {
            "generic_function" => function.field("function"),
            "identifier" => Some(function),
            _ => None,
        };
        if static_check.is_some_and(|f| self.static_checks.contains(self.text(f))) {
            unit.see(Fact::Assertion { weak: false }, at);
        }
        let site = RustCall {
            file: self,
            call,
            function,
            args: &args,
        };
        if let Some(fact) = classify(rust::CALLS, &path, &site) {
            unit.see(fact, at);
        }

        if last == "to_socket_addrs"
            && let Some(target) = function
                .field("value")
                .filter(|v| v.node_kind() == "string_literal")
                .and_then(|v| self.string(v, 0))
                .and_then(|v| target_of(&v))
        {
            unit.see(Fact::Network(target), at);
        }
        let is_method = function.node_kind() == "field_expression";
        let configured = self.context.is_configured_helper(&path, last);
        let verdict = ((is_method && rust::ASSERTION_METHODS.contains(&last))
            || last.starts_with("assert")
            || configured
            || (function.node_kind() == "identifier" && looks_like_assertion_helper(last)))
        .then(|| {
            function.node_kind() == "identifier" && !configured && is_existence_assertion(last)
        });
        // A function of the file, a test-support type or a `mod` of the test crate is judged by
        // its definition; by its name only where none is found.
        match followed {
            Some((name, import)) if !configured => unit.call(name, import, at, verdict),
            _ => {
                if let Some(weak) = verdict {
                    unit.see(Fact::Assertion { weak }, at);
                }
            }
        }
    }

    /// How a call names a function the file or its test crate may define: `helper()` (with
    /// its `use` path), `Self::open()` or `RedisEnv::new()` on a test-support type of the file,
    /// `self.method()`, `common::connect()` of a `mod` the file declares.
    fn followed(
        &self,
        function: Node<'_>,
        path: &str,
        last: &str,
    ) -> Option<(String, Option<String>)> {
        // An item the file neither defines nor imports may come from a glob-imported module
        // of the test crate (`use support::*;` then `TestContext::new()`).
        let from_glob = |path: &str| {
            self.mod_globs
                .iter()
                .find(|module| self.mods.contains(module.as_str()))
                .map(|module| format!("{module}.{path}"))
        };
        match function.node_kind() {
            "identifier" => {
                let name = self.text(function);
                let import = self
                    .names
                    .imports
                    .get(name)
                    .cloned()
                    .or_else(|| from_glob(name));
                Some((name.to_string(), import))
            }
            "scoped_identifier" => {
                let owner = function.field("path")?;
                let method = function.field("name")?;
                // Production types in the same file are not followed: a test that calls
                // `Config::from_env()` checks it, it does not run what it reads.
                if self.text(owner) == "Self" || self.test_types.contains(self.text(owner)) {
                    return Some((self.text(method).to_string(), None));
                }
                let root = path.split('.').next().unwrap_or(path);
                if self.mods.contains(root) {
                    return Some((String::new(), Some(path.to_string())));
                }
                let unknown = owner.node_kind() == "identifier"
                    && !self.names.imports.contains_key(self.text(owner));
                unknown
                    .then(|| from_glob(path).map(|p| (String::new(), Some(p))))
                    .flatten()
            }
            "field_expression" => function
                .field("value")
                .filter(|v| self.text(*v) == "self")
                .map(|_| (last.to_string(), None)),
            _ => None,
        }
    }
}

/// A call being classified, with the Rust-specific answers: paths of a crate's own items,
/// durations, builder chains and timeouts around the call.
struct RustCall<'f, 's, 't, 'c> {
    file: &'f RustFile<'s, 't, 'c>,
    call: Node<'t>,
    function: Node<'t>,
    args: &'f [Node<'t>],
}

impl<'s, 't, 'c> CallSite<'t> for RustCall<'_, 's, 't, 'c> {
    type File = RustFile<'s, 't, 'c>;

    fn file(&self) -> &Self::File {
        self.file
    }

    fn positional(&self) -> &[Node<'t>] {
        self.args
    }

    fn seconds(&self, node: Node<'t>) -> Option<f64> {
        let mut seconds = self.file.duration(node, 0)?;
        // A sleep in a closure (a server's handler, a spawned task) holds the test up only
        // until the test's own timeout gives up on it.
        if let Some(bound) = self.file.timeout_bound.get()
            && self.file.in_closure(self.call)
        {
            seconds = seconds.min(bound);
        }
        // `timeout(Duration::from_millis(10), sleep(Duration::from_secs(5)))`.
        if let Some(bound) = self.file.enclosing_timeout_call(self.call) {
            seconds = seconds.min(bound);
        }
        Some(seconds)
    }

    /// Docker rows skip mock transports; database rows see a crate's own items by their
    /// re-exported names; HTTP rows see them as the client's own.
    fn matches(&self, entry: &Entry, path: &str, last: &str) -> bool {
        match &entry.meaning {
            Meaning::Docker => paths::is_docker_path(path),
            Meaning::Database(Connects::Always) => is_real_db_path(path),
            Meaning::Request { .. } => {
                entry
                    .callee
                    .matches(path.trim_start_matches(INTERNAL), last, || false)
            }
            _ => entry.callee.matches(path, last, || false),
        }
    }

    fn postgres_requires_host(&self) -> bool {
        true
    }

    /// `Opts::from_url(…)` only parses settings; `Config::from_str("host=…")?.connect(NoTls)`
    /// connects with the string its builder was given.
    fn connection_string(&self, path: &str, args: crate::checks::knowledge::calls::Args) -> bool {
        !parses_settings(path)
            && (given_connection_string(self, args)
                || self.file.configured_from_connection_string(self.function))
    }

    fn reaches_server(&self, connects: &Connects, path: &str) -> bool {
        let refused = matches!(connects, Connects::Always)
            && path.contains("postgres")
            && first_value(self, &[Arg::At(0)], |node| self.file.string(node, 0))
                .is_some_and(|s| postgres_rejects_before_connecting(&s, true));
        !refused
    }

    fn sends(&self) -> bool {
        !self.file.built_but_not_sent(self.call)
    }

    fn sends_mail(&self) -> bool {
        self.file.function_sends_mail(self.call)
    }

    fn chained_number(&self, method: &str) -> Option<f64> {
        self.file.chained_argument(self.call, method)
    }

    fn display(&self, path: &str) -> String {
        rust_path(path)
    }
}
