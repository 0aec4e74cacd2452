//! Rust front end: `#[test]`, `#[tokio::test]` and friends, in `tests/` or inline test modules.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::super::facts::{Disabled, Fact, FileFacts, Unit, UnitKind};
use super::super::knowledge::{
    is_database_connection_string, is_existence_assertion, is_service_env,
    looks_like_assertion_helper, postgres_rejects_before_connecting, spawned_program, target_of,
    target_of_host_port,
};
use super::super::syntax::{NodeExt, descendants, line, matches_any, text};
use super::Context;
use super::scope::Bindings;

const SLEEPS: &[&str] = &[
    "std.thread.sleep",
    "tokio.time.sleep",
    "async_std.task.sleep",
    "tokio.time.delay_for",
    // tokio 0.2's sleep, re-exported by mobc.
    "mobc.delay_for",
    "smol.Timer.after",
    "async_io.Timer.after",
    "futures_timer.Delay.new",
];
const DOCKER: &[&str] = &[
    "bollard.*",
    "testcontainers.*",
    "testcontainers_modules.*",
    "dockertest.*",
    "shiplift.*",
    "docker_api.*",
];
const REAL_DB: &[&str] = &[
    "sqlx*Pg*connect*",
    "sqlx*MySql*connect*",
    "sqlx*Postgres*connect*",
    "sqlx*Any*connect*",
    "postgres.Client.connect",
    "postgres.Config*connect",
    "tokio_postgres.connect",
    "tokio_postgres.Config*connect",
    "redis.Client.open",
    "redis.cluster.ClusterClient*",
    "redis.aio.*",
    "mongodb.Client.with_uri_str",
    "mongodb.Client.with_options",
    "diesel*PgConnection.establish",
    "diesel*MysqlConnection.establish",
    "mysql.Pool.new",
    "mysql.Conn.new",
    "mysql_async.Pool.new",
    "mysql_async.Conn.new",
    "deadpool_postgres.*",
    "deadpool_redis.*",
    "bb8_postgres.*",
    "bb8_redis.*",
    "r2d2_postgres.*",
    "r2d2_redis.*",
    "elasticsearch.Elasticsearch.new",
    "lapin.Connection.connect",
    "scylla.*SessionBuilder*",
    "fred.*",
    "memcache.connect",
    "memcache.Client.connect",
    "r2d2_mysql.*",
    // A connection manager exists to fill a pool; inside its own crate only these names show it.
    "r2d2_mysql.MySqlConnectionManager.new",
    "r2d2_postgres.PostgresConnectionManager.new",
    "r2d2_redis.RedisConnectionManager.new",
    "bb8_postgres.PostgresConnectionManager.new*",
    "bb8_redis.RedisConnectionManager.new",
    "rdkafka.*",
];

/// Marks a path that names an item of the file's own crate (`crate::mysql.Conn.new` inside the
/// `mysql` crate). Such paths match only the knowledge entries that name an item, not a whole
/// crate (`fred.*`), since everything inside a client crate is that crate's.
const INTERNAL: &str = "crate::";

/// `a.B.<C<D>>.f` as `a.B.f`: drops type arguments and the separators left around them.
fn without_type_arguments(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0usize;
    for c in path.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split('.')
        .filter(|segment| !segment.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

/// A path as Rust spells it, for messages.
fn rust_path(path: &str) -> String {
    path.trim_start_matches(INTERNAL).replace('.', "::")
}

/// `Opts::from_url(…)`, `PoolOptions::from_url(…)`: reading settings from a URL connects nothing.
fn parses_settings(path: &str) -> bool {
    let mut segments = path.rsplit('.');
    let _call = segments.next();
    segments.next().is_some_and(|receiver| {
        ["Opts", "Options", "Config", "Settings", "Params"]
            .iter()
            .any(|suffix| receiver.ends_with(suffix))
    })
}

/// True when a call path drives Docker: a client of a Docker crate, not its mock transport
/// (`Docker::connect_with_mock`).
fn is_docker_path(path: &str) -> bool {
    matches_any(DOCKER, path) && !path.to_ascii_lowercase().contains("mock")
}

/// True when a call path opens a database connection.
fn is_real_db_path(path: &str) -> bool {
    if path.contains("Sqlite") {
        return false;
    }
    match path.strip_prefix(INTERNAL) {
        Some(own) => {
            // Crates re-export their client types at the root: `mysql_async::conn::Conn` is
            // known as `mysql_async::Conn`.
            let (name, rest) = own.split_once('.').unwrap_or((own, ""));
            let from_type = rest
                .split('.')
                .skip_while(|segment| !segment.starts_with(|c: char| c.is_ascii_uppercase()))
                .collect::<Vec<_>>()
                .join(".");
            let re_exported = format!("{name}.{from_type}");
            REAL_DB
                .iter()
                .filter(|pattern| {
                    pattern
                        .split_once('.')
                        .is_some_and(|(_, item)| !item.starts_with('*'))
                })
                .any(|pattern| {
                    matches_any(&[pattern], own)
                        || (!from_type.is_empty() && matches_any(&[pattern], &re_exported))
                })
        }
        None => matches_any(REAL_DB, path),
    }
}

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

/// Types of connected clients: a helper taking or returning one works against the service.
const CLIENT_TYPES: &[&str] = &[
    "bollard.Docker",
    "redis.Client",
    "redis.Connection",
    "redis.aio.*Connection*",
    "redis.cluster.ClusterConnection",
    "tokio_postgres.Client",
    "postgres.Client",
    "sqlx.*Pool",
    "sqlx.*Connection",
    "mongodb.Client",
    "mongodb.Database",
    "mongodb.Collection",
    "deadpool_postgres.Pool",
    "deadpool_postgres.Client",
    "deadpool_redis.*Pool",
    "deadpool_redis.Connection",
    "mysql.Pool",
    "mysql.Conn",
    "mysql.PooledConn",
    "mysql_async.Pool",
    "mysql_async.Conn",
    "lapin.Connection",
    "lapin.Channel",
    "scylla.Session",
    "memcache.Client",
];

/// Calls that open a connection to the server their first argument names.
const CONNECTORS: &[&str] = &["connect", "establish", "open", "with_uri_str", "from_url"];
const HTTP: &[&str] = &[
    "reqwest.get",
    "reqwest.blocking.get",
    "reqwest.*Client*",
    "ureq.get",
    "ureq.post",
    "ureq.put",
    "ureq.delete",
    "ureq.request",
    "ureq.agent*",
    "ureq.Agent*",
    "ureq.builder*",
    "surf.get",
    "surf.post",
    "isahc.get",
    "isahc.post",
    "attohttpc.get",
    "attohttpc.post",
    "minreq.get",
    "minreq.post",
    "tokio_tungstenite.connect_async",
    "tungstenite.connect",
    "std.net.TcpStream.connect",
    "tokio.net.TcpStream.connect",
    "async_std.net.TcpStream.connect",
    "std.net.UdpSocket.connect",
];
const HTTP_VERBS: &[&str] = &[
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "head",
    "request",
    "connect",
    "connect_async",
    "call",
];
const NETWORK_MOCKS: &[&str] = &[
    "wiremock.*",
    "mockito.*",
    "httpmock.*",
    "httptest.*",
    "mock_http_connector.*",
];
const SERVERS: &[&str] = &[
    "std.net.TcpListener.bind",
    "tokio.net.TcpListener.bind",
    "async_std.net.TcpListener.bind",
    "axum.serve",
    "hyper.Server.bind",
    "warp.serve",
    "actix_web.test.*",
    "tiny_http.Server.http",
    "*.bind",
];
const FAKE_CLOCKS: &[&str] = &[
    "tokio.time.pause",
    "tokio.time.advance",
    "mock_instant.*",
    "*.MockClock*",
    "sn_fake_clock.*",
];
const ASSERTION_METHODS: &[&str] = &[
    "unwrap",
    "expect",
    "unwrap_err",
    "expect_err",
    "assert",
    "success",
    "failure",
    "assert_eq",
    "assert_debug_eq",
    "stdout",
    "stderr",
    "code",
];

/// Reads a parsed Rust file into facts.
pub(crate) fn facts(root: Node<'_>, source: &str, context: &Context<'_>) -> FileFacts {
    let mut file = RustFile {
        source,
        timeout_bound: std::cell::Cell::new(None),
        context,
        uses: HashMap::new(),
        bindings: Bindings::new(Vec::new()),
        static_checks: HashSet::new(),
        crate_glob: false,
        test_types: HashSet::new(),
    };
    let all = descendants(root, |_| false);
    file.bindings = Bindings::new(
        all.iter()
            .filter(|node| node.node_kind() == "function_item")
            .map(|node| node.byte_range())
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
    FileFacts { units }
}

fn is_integration_cfg(attribute: &str) -> bool {
    attribute.contains("cfg")
        && ["integration", "e2e", "docker"]
            .iter()
            .any(|w| attribute.contains(w))
        && !attribute.contains("not(")
}

struct RustFile<'s, 't, 'c> {
    source: &'s str,
    /// The shortest timeout the function being read sets (see `shortest_timeout`).
    timeout_bound: std::cell::Cell<Option<f64>>,
    context: &'c Context<'c>,
    uses: HashMap<String, String>,
    /// `let` and `const` values, per function.
    bindings: Bindings<'t>,
    /// Empty generic functions whose type parameters carry bounds (`fn is_send<T: Send>() {}`):
    /// calling one asserts at compile time that a type meets the bounds.
    static_checks: HashSet<&'s str>,
    /// `use super::*` or `use crate::…::*`: names the file does not define or import come from
    /// its own crate.
    crate_glob: bool,
    /// Types whose `impl` is test support: inside a `#[cfg(test)]` module, or anywhere in a file
    /// that is all tests (no `#[cfg(test)]`, as under `tests/`).
    test_types: HashSet<&'s str>,
}

impl<'s, 't, 'c> RustFile<'s, 't, 'c> {
    fn text(&self, node: Node<'_>) -> &'s str {
        text(node, self.source)
    }

    /// A path as it compares with the knowledge lists. A path through `crate`, `super` or
    /// `self` names an item of the file's own crate: with the crate known it becomes
    /// `crate::<name>.<rest>` (see [`INTERNAL`]), without it the keywords are dropped.
    fn normalize(&self, path: &str) -> String {
        let segments: Vec<&str> = path
            .split('.')
            .filter(|segment| !matches!(*segment, "" | "::"))
            .collect();
        let keyword = |segment: &&str| matches!(*segment, "crate" | "self" | "super");
        let kept: Vec<&str> = segments.iter().copied().filter(|s| !keyword(s)).collect();
        match (self.context.package_name, segments.first()) {
            (Some(name), Some(first)) if keyword(first) && !kept.is_empty() => {
                format!("{INTERNAL}{name}.{}", kept.join("."))
            }
            _ => kept.join("."),
        }
    }

    /// What a name stands for: its `use`, else (under a glob import from the file's own crate)
    /// that crate's item, else itself.
    fn resolve_name(&self, name: &str) -> String {
        match self.uses.get(name) {
            Some(path) => path.clone(),
            None => self.own_crate_item(name),
        }
    }

    /// A type name the file neither defines nor imports, under a glob import from its own crate
    /// (`use super::*`), is that crate's item.
    fn own_crate_item(&self, name: &str) -> String {
        match self.context.package_name {
            Some(crate_name)
                if self.crate_glob && name.starts_with(|c: char| c.is_ascii_uppercase()) =>
            {
                format!("{INTERNAL}{crate_name}.{name}")
            }
            _ => name.to_string(),
        }
    }

    fn use_tree(&mut self, node: Node<'_>, prefix: &str) {
        let join = |prefix: &str, rest: &str| {
            let rest = rest.replace("::", ".");
            if prefix.is_empty() {
                rest
            } else {
                format!("{prefix}.{rest}")
            }
        };
        match node.node_kind() {
            "identifier" | "scoped_identifier" => {
                let full = join(prefix, self.text(node));
                let local = full.rsplit('.').next().unwrap_or(&full).to_string();
                if local != "self" {
                    self.uses.insert(local, self.normalize(&full));
                } else if let Some(module) = full.strip_suffix(".self") {
                    let local = module.rsplit('.').next().unwrap_or(module).to_string();
                    self.uses.insert(local, self.normalize(module));
                }
            }
            "use_as_clause" => {
                if let (Some(path), Some(alias)) = (node.field("path"), node.field("alias")) {
                    self.uses.insert(
                        self.text(alias).to_string(),
                        self.normalize(&join(prefix, self.text(path))),
                    );
                }
            }
            "scoped_use_list" => {
                let path = node
                    .field("path")
                    .map(|p| join(prefix, self.text(p)))
                    .unwrap_or_else(|| prefix.to_string());
                if let Some(list) = node.field("list") {
                    self.use_tree(list, &path);
                }
            }
            "use_wildcard" => {
                let path = node
                    .named_child(0)
                    .map(|p| self.text(p))
                    .unwrap_or_default();
                let first = join(prefix, path);
                if prefix.is_empty()
                    && matches!(first.split('.').next(), Some("crate" | "super" | "self"))
                    || matches!(prefix.split('.').next(), Some("crate" | "super" | "self"))
                {
                    self.crate_glob = true;
                }
            }
            "use_list" => {
                let mut cursor = node.walk();
                let children: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
                for child in children {
                    if child.node_kind() == "self" {
                        let local = prefix.rsplit('.').next().unwrap_or(prefix).to_string();
                        self.uses.insert(local, self.normalize(prefix));
                    } else {
                        self.use_tree(child, prefix);
                    }
                }
            }
            _ => {}
        }
    }

    fn path(&self, node: Node<'_>, depth: usize) -> Option<String> {
        // Builder chains are deep: each `.method()` is two levels.
        if depth > 40 {
            return None;
        }
        match node.node_kind() {
            "identifier" => {
                let name = self.text(node);
                if let Some(path) = self.uses.get(name) {
                    return Some(path.clone());
                }
                if let Some(value) = self.bindings.lookup(name, node.start_byte())
                    && matches!(
                        value.node_kind(),
                        "call_expression"
                            | "await_expression"
                            | "try_expression"
                            | "field_expression"
                    )
                {
                    return self.path(value, depth + 1);
                }
                // `use super::super::*;` then `get("https://…")` or `builder().build()`: a
                // function of the file's own crate.
                let called = node.parent().is_some_and(|parent| {
                    parent.node_kind() == "call_expression"
                        && parent.field("function") == Some(node)
                });
                match self.context.package_name {
                    Some(crate_name) if called && self.crate_glob => {
                        Some(format!("{INTERNAL}{crate_name}.{name}"))
                    }
                    _ => Some(self.own_crate_item(name)),
                }
            }
            "scoped_identifier" => {
                let full = self.text(node).replace("::", ".");
                // `AsyncSmtpTransport::<Tokio1Executor>::relay`: type arguments name no item.
                let full = without_type_arguments(&full);
                let (first, rest) = full.split_once('.').unwrap_or((&full, ""));
                let base = self.resolve_name(first);
                Some(self.normalize(&if rest.is_empty() {
                    base
                } else {
                    format!("{base}.{rest}")
                }))
            }
            "field_expression" => {
                let value = node.field("value")?;
                let field = node.field("field")?;
                let base = self
                    .path(value, depth + 1)
                    .unwrap_or_else(|| "?".to_string());
                Some(format!("{base}.{}", self.text(field)))
            }
            "call_expression" => self.path(node.field("function")?, depth + 1),
            "generic_function" => self.path(node.field("function")?, depth + 1),
            "await_expression"
            | "try_expression"
            | "parenthesized_expression"
            | "reference_expression" => self.path(node.named_child(0)?, depth + 1),
            _ => None,
        }
    }

    fn string(&self, node: Node<'_>, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "string_literal" | "raw_string_literal" => {
                let mut cursor = node.walk();
                let content: String = node
                    .named_children(&mut cursor)
                    .filter(|c| c.node_kind() == "string_content")
                    .map(|c| self.text(c))
                    .collect();
                Some(content)
            }
            "macro_invocation" => {
                let name = node.field("macro").map(|m| self.text(m))?;
                if name != "format" {
                    return None;
                }
                let format = descendants(node, |_| false)
                    .into_iter()
                    .find(|n| n.node_kind() == "string_literal")
                    .and_then(|s| self.string(s, depth + 1))?;
                // `format!("{BASE}/path")`: an inlined constant at the start decides the host.
                if let Some(rest) = format.strip_prefix('{')
                    && let Some((name, tail)) = rest.split_once('}')
                {
                    let name = name.split(':').next().unwrap_or(name);
                    if let Some(value) = self
                        .bindings
                        .lookup(name, node.start_byte())
                        .and_then(|v| self.string(v, depth + 1))
                    {
                        return Some(value + tail);
                    }
                }
                Some(format)
            }
            "reference_expression" | "parenthesized_expression" => {
                self.string(node.named_child(0)?, depth + 1)
            }
            "identifier" => self.string(
                self.bindings.lookup(self.text(node), node.start_byte())?,
                depth + 1,
            ),
            "call_expression" => {
                // `"...".to_string()`, `String::from("...")`.
                let function = node.field("function")?;
                if function.node_kind() == "field_expression" {
                    return self.string(function.field("value")?, depth + 1);
                }
                self.string(node.field("arguments")?.named_child(0)?, depth + 1)
            }
            _ => None,
        }
    }

    fn number(&self, node: Node<'_>, depth: usize) -> Option<f64> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "integer_literal" | "float_literal" => {
                let digits: String = self
                    .text(node)
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '_')
                    .filter(|c| *c != '_')
                    .collect();
                digits.parse().ok()
            }
            "parenthesized_expression" => self.number(node.named_child(0)?, depth + 1),
            "binary_expression" => {
                let left = self.number(node.field("left")?, depth + 1)?;
                let right = self.number(node.field("right")?, depth + 1)?;
                match self.text(node.field("operator")?) {
                    "*" => Some(left * right),
                    "/" if right != 0.0 => Some(left / right),
                    "+" => Some(left + right),
                    "-" => Some(left - right),
                    _ => None,
                }
            }
            "identifier" => self.number(
                self.bindings.lookup(self.text(node), node.start_byte())?,
                depth + 1,
            ),
            _ => None,
        }
    }

    /// Seconds of a `Duration` expression.
    fn duration(&self, node: Node<'_>, depth: usize) -> Option<f64> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "call_expression" => {
                let path = self.path(node.field("function")?, 0)?;
                let args = node.field("arguments")?;
                let first = self.number(args.named_child(0)?, 0)?;
                let constructor = path.rsplit('.').next()?;
                Some(match constructor {
                    "from_secs" | "from_secs_f64" | "from_secs_f32" => first,
                    "from_millis" => first / 1e3,
                    "from_micros" => first / 1e6,
                    "from_nanos" => first / 1e9,
                    "new" => {
                        first
                            + args
                                .named_child(1)
                                .and_then(|n| self.number(n, 0))
                                .unwrap_or(0.0)
                                / 1e9
                    }
                    "from_mins" => first * 60.0,
                    _ => return None,
                })
            }
            "binary_expression" => {
                let operator = self.text(node.field("operator")?);
                let left = node.field("left")?;
                let right = node.field("right")?;
                match operator {
                    "*" => self
                        .duration(left, depth + 1)
                        .zip(self.number(right, 0))
                        .map(|(d, n)| d * n)
                        .or_else(|| {
                            self.number(left, 0)
                                .zip(self.duration(right, depth + 1))
                                .map(|(n, d)| d * n)
                        }),
                    "+" => Some(self.duration(left, depth + 1)? + self.duration(right, depth + 1)?),
                    _ => None,
                }
            }
            "identifier" => self.duration(
                self.bindings.lookup(self.text(node), node.start_byte())?,
                depth + 1,
            ),
            "reference_expression" | "parenthesized_expression" => {
                self.duration(node.named_child(0)?, depth + 1)
            }
            _ => None,
        }
    }

    fn function_unit(&self, function: Node<'t>, attributes: &[Node<'t>]) -> Unit {
        let name = function.field("name").map(|n| self.text(n)).unwrap_or("");
        let is_test = attributes.iter().any(|a| {
            let attribute = self.text(*a);
            let inner = attribute.trim_start_matches("#[").trim_end_matches(']');
            let head = inner.split('(').next().unwrap_or("").trim();
            head == "test"
                || head.ends_with("::test")
                || head == "rstest"
                || head == "test_case"
                || head == "quickcheck"
                || head == "proptest"
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
        let in_impl = function
            .parent()
            .and_then(|list| list.parent())
            .is_some_and(|owner| matches!(owner.node_kind(), "impl_item" | "trait_item"));
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
            if matches_any(CLIENT_TYPES, bare) && !bare.contains("Sqlite") {
                let fact = if matches_any(DOCKER, bare) {
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
                let base = match self.uses.get(first) {
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

    fn macro_call(&self, node: Node<'_>, unit: &mut Unit) {
        let at = line(node);
        let Some(name) = node.field("macro").map(|m| self.text(m)) else {
            return;
        };
        let last = name.rsplit("::").next().unwrap_or(name);
        let arguments = node
            .named_children(&mut node.walk())
            .find(|c| c.node_kind() == "token_tree")
            .map(|t| self.text(t))
            .unwrap_or("");
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
                        unit.calls.push(name.to_string());
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
                                .map(|n| format!("{}::connect", self.text(*n)))
                                .unwrap_or_else(|| "connect".to_string());
                            unit.see(Fact::RealDb(client), line(*token));
                        } else if let Some(target) = target_of(&address) {
                            unit.see(Fact::Network(target), line(*token));
                        }
                    }
                }
            }
        }
    }

    /// The duration of a `timeout(d, future)` call whose arguments hold `node`.
    fn enclosing_timeout_call(&self, node: Node<'_>) -> Option<f64> {
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
    fn function_sends_mail(&self, node: Node<'_>) -> bool {
        let mut current = node.parent();
        while let Some(parent) = current {
            if parent.node_kind() == "function_item" {
                // Read as text: the call is often inside `assert!(…)`, whose tokens are not
                // parsed as expressions.
                let body = self.text(parent);
                return [".send(", ".send_raw(", ".test_connection("]
                    .iter()
                    .any(|call| body.contains(call));
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
    fn chained_argument(&self, call: Node<'_>, method: &str) -> Option<f64> {
        let access = self
            .chain_after(call)
            .into_iter()
            .find(|access| self.method_name(*access) == method)?;
        let arguments = access.parent()?.field("arguments")?;
        self.number(arguments.named_child(0)?, 0)
    }

    /// `client.post(url).json(&body).build()`: the request is built and inspected, never sent.
    fn built_but_not_sent(&self, call: Node<'_>) -> bool {
        let methods: Vec<&str> = self
            .chain_after(call)
            .into_iter()
            .map(|access| self.method_name(access))
            .collect();
        methods.contains(&"build")
            && !methods.iter().any(|m| {
                matches!(
                    *m,
                    "send" | "call" | "execute" | "send_string" | "send_json"
                )
            })
    }

    /// True when `node` sits in a closure or async block that the function hands to someone else
    /// (a server's handler, a spawned task), not one it runs as its own body (`rt.block_on(async {
    /// … })`).
    fn in_closure(&self, node: Node<'_>) -> bool {
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
                            ["block_on", "run", "spawn", "spawn_blocking", "scope"]
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
    fn shortest_timeout(&self, nodes: &[Node<'_>]) -> Option<f64> {
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
                if !matches!(
                    name,
                    "timeout" | "read_timeout" | "write_timeout" | "connect_timeout"
                ) {
                    return None;
                }
                let first = call.field("arguments")?.named_child(0)?;
                self.duration(first, 0)
            })
            .reduce(f64::min)
    }

    /// True when the receiver chain of a method call (`a(..).b(..).connect`) starts from a
    /// call given a database connection string.
    fn configured_from_connection_string(&self, function: Node<'_>) -> bool {
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
        let first = args.first().copied();
        let last = path.rsplit('.').next().unwrap_or(&path);
        if function.node_kind() == "identifier" {
            unit.calls.push(self.text(function).to_string());
        } else if function.node_kind() == "scoped_identifier"
            && let (Some(owner), Some(method)) = (function.field("path"), function.field("name"))
            && (self.text(owner) == "Self" || self.test_types.contains(self.text(owner)))
        {
            // `RedisEnv::new()` on a test-support type of this file, or `Self::open()` inside
            // one. Production types in the same file are not followed: a test that calls
            // `Config::from_env()` checks it, it does not run what it reads.
            unit.calls.push(self.text(method).to_string());
        } else if function.node_kind() == "field_expression"
            && function
                .field("value")
                .is_some_and(|v| self.text(v) == "self")
        {
            unit.calls.push(last.to_string());
        }

        let static_check = match function.node_kind() {
            "generic_function" => function.field("function"),
            "identifier" => Some(function),
            _ => None,
        };
        if static_check.is_some_and(|f| self.static_checks.contains(self.text(f))) {
            unit.see(Fact::Assertion { weak: false }, at);
        }
        if matches_any(SLEEPS, &path) {
            if let Some(mut seconds) = first.and_then(|a| self.duration(a, 0)) {
                // A sleep in a closure (a server's handler, a spawned task) holds the test up
                // only until the test's own timeout gives up on it.
                if let Some(bound) = self.timeout_bound.get()
                    && self.in_closure(call)
                {
                    seconds = seconds.min(bound);
                }
                // `timeout(Duration::from_millis(10), sleep(Duration::from_secs(5)))`.
                if let Some(bound) = self.enclosing_timeout_call(call) {
                    seconds = seconds.min(bound);
                }
                unit.see(Fact::Sleep(seconds), at);
            }
        } else if is_docker_path(&path) {
            unit.see(Fact::Docker(rust_path(&path)), at);
        } else if is_real_db_path(&path) {
            let refused = path.contains("postgres")
                && first
                    .and_then(|a| self.string(a, 0))
                    .is_some_and(|s| postgres_rejects_before_connecting(&s, true));
            if !refused {
                unit.see(Fact::RealDb(rust_path(&path)), at);
            }
        } else if CONNECTORS.contains(&last)
            && !parses_settings(&path)
            && (first
                .and_then(|a| self.string(a, 0))
                .is_some_and(|s| connects_to_database(&s))
                || self.configured_from_connection_string(function))
        {
            // `Client::connect("host=localhost user=postgres", NoTls)` whatever `Client` is, or
            // `Config::from_str("host=localhost user=postgres")?.connect(NoTls)`.
            unit.see(Fact::RealDb(rust_path(&path)), at);
        } else if matches_any(
            &[
                "std.process.Command.new",
                "tokio.process.Command.new",
                "async_process.Command.new",
                "duct.cmd",
                "assert_cmd.Command.new",
            ],
            &path,
        ) {
            if let Some(fact) = first
                .and_then(|a| self.string(a, 0))
                .as_deref()
                .and_then(spawned_program)
            {
                unit.see(fact, at);
            }
        } else if matches_any(HTTP, path.trim_start_matches(INTERNAL))
            && (HTTP_VERBS.contains(&last)
                || matches_any(
                    &[
                        "reqwest.get",
                        "reqwest.blocking.get",
                        "ureq.*",
                        "surf.*",
                        "isahc.*",
                        "attohttpc.*",
                        "minreq.*",
                    ],
                    path.trim_start_matches(INTERNAL),
                ))
        {
            if let Some(target) = first
                .filter(|_| !self.built_but_not_sent(call))
                .and_then(|a| self.string(a, 0))
                .and_then(|u| target_of(&u))
            {
                unit.see(Fact::Network(target), at);
            }
        } else if matches_any(
            &[
                "lettre.*SmtpTransport*.builder_dangerous",
                "lettre.*SmtpTransport*.relay",
                "lettre.*SmtpTransport*.starttls_relay",
            ],
            &path,
        ) {
            // A mail server: `builder_dangerous("127.0.0.1").port(2525)`. lettre connects only
            // when the function sends (or tests the connection); the port is 25, 465 for
            // `relay`, 587 for `starttls_relay` unless set.
            if let Some(host) = first.and_then(|a| self.string(a, 0))
                && self.function_sends_mail(call)
            {
                let default_port = match last {
                    "relay" => 465.0,
                    "starttls_relay" => 587.0,
                    _ => 25.0,
                };
                let port = self.chained_argument(call, "port").unwrap_or(default_port);
                if let Some(target) = target_of_host_port(&host, Some(port as u32)) {
                    unit.see(Fact::Network(target), at);
                }
            }
        } else if matches_any(NETWORK_MOCKS, &path) {
            unit.see(Fact::NetworkMock, at);
        } else if matches_any(SERVERS, &path) {
            unit.see(Fact::StartsServer, at);
        } else if matches_any(FAKE_CLOCKS, &path) {
            unit.see(Fact::FakeClock, at);
        } else if matches_any(
            &[
                "std.env.set_var",
                "env.set_var",
                "std.env.remove_var",
                "temp_env.*",
            ],
            &path,
        ) {
            unit.see(Fact::SetsEnv, at);
        } else if matches_any(
            &[
                "std.env.var",
                "std.env.var_os",
                "env.var",
                "env.var_os",
                "dotenvy.var",
            ],
            &path,
        ) && let Some(variable) = first
            .and_then(|a| self.string(a, 0))
            .filter(|v| is_service_env(v))
        {
            unit.see(Fact::ServiceFromEnv(variable), at);
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
        if (is_method && ASSERTION_METHODS.contains(&last))
            || last.starts_with("assert")
            || self.context.is_configured_helper(&path, last)
            || (function.node_kind() == "identifier" && looks_like_assertion_helper(last))
        {
            let weak = function.node_kind() == "identifier"
                && !self.context.is_configured_helper(&path, last)
                && is_existence_assertion(last);
            unit.see(Fact::Assertion { weak }, at);
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
