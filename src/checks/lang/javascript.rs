//! JavaScript and TypeScript front end: jest, vitest, mocha and node:test files.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::super::facts::{Disabled, Fact, FileFacts, Unit, UnitKind};
use super::super::knowledge::{
    is_existence_assertion, is_service_env, looks_like_assertion_helper, spawned_program,
    target_of, target_of_host_port,
};
use super::super::syntax::{NodeExt, call_arguments, descendants, line, matches_any, text};
use super::Context;

const TEST_FUNCTIONS: &[&str] = &["it", "test", "specify", "xit", "xtest", "fit", "xspecify"];
const SUITE_FUNCTIONS: &[&str] = &[
    "describe",
    "context",
    "suite",
    "xdescribe",
    "fdescribe",
    "xcontext",
];
const HOOKS: &[&str] = &[
    "beforeAll",
    "beforeEach",
    "afterAll",
    "afterEach",
    "before",
    "after",
    "setup",
    "teardown",
];
const DOCKER: &[&str] = &[
    "testcontainers.*",
    "@testcontainers/*",
    "dockerode*",
    "docker-compose.*",
    "node-docker-api*",
];
const REAL_DB: &[&str] = &[
    "pg.Pool",
    "pg.Client",
    "pg.default.Pool",
    "pg.default.Client",
    "pg-promise*",
    "postgres",
    "mysql.createConnection",
    "mysql.createPool",
    "mysql2.createConnection",
    "mysql2.createPool",
    "mysql2/promise.createConnection",
    "mysql2/promise.createPool",
    "redis.createClient",
    "redis.createCluster",
    "ioredis",
    "ioredis.Redis",
    "ioredis.Cluster",
    "ioredis.default",
    "mongodb.MongoClient",
    "mongodb.MongoClient.connect",
    "mongoose.connect",
    "mongoose.createConnection",
    "@prisma/client.PrismaClient",
    "cassandra-driver.Client",
    "kafkajs.Kafka",
    "amqplib.connect",
    "amqplib/callback_api.connect",
    "@elastic/elasticsearch.Client",
    "memjs.Client.create",
    "@neondatabase/serverless.*",
    "@vercel/postgres.*",
];
const SUBPROCESS: &[&str] = &[
    "child_process.exec",
    "child_process.execSync",
    "child_process.spawn",
    "child_process.spawnSync",
    "child_process.execFile",
    "child_process.execFileSync",
    "execa",
    "execa.*",
    "cross-spawn*",
];
const HTTP_FUNCTIONS: &[&str] = &[
    "fetch",
    "node-fetch",
    "node-fetch.default",
    "cross-fetch",
    "undici.fetch",
    "undici.request",
    "needle",
    "needle.get",
    "needle.head",
    "needle.post",
    "needle.put",
    "needle.patch",
    "needle.delete",
    "needle.request",
    "axios",
    "axios.get",
    "axios.post",
    "axios.put",
    "axios.patch",
    "axios.delete",
    "axios.head",
    "axios.request",
    "axios.default.*",
    "axios.create.*",
    "got",
    "got.*",
    "superagent.*",
    "request",
    "request.*",
    "http.get",
    "http.request",
    "https.get",
    "https.request",
    "ky",
    "ky.*",
    "needle",
    "needle.*",
    "ws",
    "WebSocket",
    "ws.WebSocket",
];
/// True when `package` is itself a client the knowledge lists name exactly (`ioredis`,
/// `needle`), not merely one a wildcard would match (`pg-promise*` for `pg-promise-extras`).
fn is_known_client(package: &str) -> bool {
    [REAL_DB, HTTP_FUNCTIONS, DOCKER].iter().any(|list| {
        list.iter()
            .any(|pattern| pattern.split('.').next() == Some(package))
    })
}

const SOCKET_CONNECTS: &[&str] = &["net.connect", "net.createConnection", "tls.connect"];
const NETWORK_MOCKS: &[&str] = &[
    "nock*",
    "msw*",
    "msw/node*",
    "fetch-mock*",
    "jest-fetch-mock*",
    "undici.MockAgent",
    "axios-mock-adapter*",
    "vitest-fetch-mock*",
    "*.stubGlobal",
    "supertest*",
];
const SERVERS: &[&str] = &[
    "http.createServer",
    "https.createServer",
    "net.createServer",
    "*.listen",
    "express",
    "fastify",
    "http2.createServer",
];
const FAKE_CLOCKS: &[&str] = &[
    "*.useFakeTimers",
    "*.install",
    "*.timers.enable",
    "*.advanceTimersByTime",
    "*.runAllTimers",
];
const MOCKERS: &[&str] = &[
    "jest.mock",
    "vi.mock",
    "vi.doMock",
    "jest.doMock",
    "jest.spyOn",
    "vi.spyOn",
    "sinon.stub",
    "*.mock.method",
];

/// Reads a parsed JavaScript or TypeScript test file into facts.
pub(crate) fn facts(root: Node<'_>, source: &str, context: &Context<'_>) -> FileFacts {
    let mut file = JsFile {
        source,
        context,
        imports: HashMap::new(),
        bindings: HashMap::new(),
    };
    let all = descendants(root, |_| false);
    for node in &all {
        match node.node_kind() {
            "import_statement" => file.import(*node),
            "variable_declarator" => file.declarator(*node),
            _ => {}
        }
    }
    let mut units = Vec::new();
    let mut boundaries: HashSet<usize> = HashSet::new();
    for node in &all {
        if let Some(kind) = file.framework_call(*node) {
            // Suite bodies run at load time, like the module: only tests and hooks are units.
            if kind != Framework::Suite {
                boundaries.insert(node.id());
            }
            if let Some(unit) = file.framework_unit(*node, kind) {
                units.push(unit);
            }
        } else if let Some((name, body)) = file.helper(*node) {
            boundaries.insert(node.id());
            let mut unit = Unit::new(name, UnitKind::Helper, line(*node));
            for inner in descendants(body, |n| file.framework_call(n).is_some()) {
                file.observe(inner, &mut unit);
            }
            units.push(unit);
        }
    }
    let mut module = Unit::new("<module>", UnitKind::Module, 1);
    for node in descendants(root, |n| boundaries.contains(&n.id())) {
        if !boundaries.contains(&node.id()) {
            file.observe(node, &mut module);
        }
    }
    units.push(module);
    FileFacts { units }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Framework {
    Test,
    Suite,
    Hook,
}

struct JsFile<'s, 't, 'c> {
    source: &'s str,
    context: &'c Context<'c>,
    imports: HashMap<String, String>,
    /// Name → the first value bound to it anywhere in the file. Unlike the other languages these
    /// are not kept per function: suites declare `let client;` in a `describe` and assign it in a
    /// `beforeEach` callback, so the value a test sees is bound in a sibling closure.
    bindings: HashMap<String, Node<'t>>,
}

impl<'s, 't, 'c> JsFile<'s, 't, 'c> {
    fn text(&self, node: Node<'_>) -> &'s str {
        text(node, self.source)
    }

    fn module_name(&self, string: Node<'_>) -> Option<String> {
        let name = self.string(string, 0)?;
        // A test of a client package requires the client by a path that climbs out of the
        // test folder (`require('../')`, `require('../../lib/redis')`): that is the package.
        // Paths inside the test folder (`./helpers`) stay what they are.
        let climbs = name.trim_start_matches("./");
        if (climbs.starts_with("../") || climbs == "..")
            && let Some(package) = self.context.package_name
            && is_known_client(package)
        {
            return Some(package.to_string());
        }
        Some(name.strip_prefix("node:").unwrap_or(&name).to_string())
    }

    fn import(&mut self, node: Node<'t>) {
        let Some(module) = node.field("source").and_then(|s| self.module_name(s)) else {
            return;
        };
        for inner in descendants(node, |_| false) {
            match inner.node_kind() {
                "import_clause" => {
                    if let Some(first) = inner
                        .named_child(0)
                        .filter(|n| n.node_kind() == "identifier")
                    {
                        self.imports
                            .insert(self.text(first).to_string(), module.clone());
                    }
                }
                "namespace_import" => {
                    if let Some(name) = inner.named_child(0) {
                        self.imports
                            .insert(self.text(name).to_string(), module.clone());
                    }
                }
                "import_specifier" => {
                    let name = inner.field("name").map(|n| self.text(n)).unwrap_or("");
                    let alias = inner.field("alias").map(|n| self.text(n)).unwrap_or(name);
                    self.imports
                        .insert(alias.to_string(), format!("{module}.{name}"));
                }
                _ => {}
            }
        }
    }

    fn declarator(&mut self, node: Node<'t>) {
        let (Some(name), Some(value)) = (node.field("name"), node.field("value")) else {
            return;
        };
        let required = self.required_module(value);
        match (name.node_kind(), required) {
            ("identifier", Some(module)) => {
                self.imports.insert(self.text(name).to_string(), module);
            }
            ("object_pattern", Some(module)) => {
                let mut cursor = name.walk();
                for property in name.named_children(&mut cursor) {
                    match property.node_kind() {
                        "shorthand_property_identifier_pattern" => {
                            let local = self.text(property).to_string();
                            self.imports
                                .insert(local.clone(), format!("{module}.{local}"));
                        }
                        "pair_pattern" => {
                            if let (Some(key), Some(value)) =
                                (property.field("key"), property.field("value"))
                            {
                                self.imports.insert(
                                    self.text(value).to_string(),
                                    format!("{module}.{}", self.text(key)),
                                );
                            }
                        }
                        _ => {}
                    }
                }
            }
            ("identifier", None) => {
                self.bindings
                    .entry(self.text(name).to_string())
                    .or_insert(value);
            }
            _ => {}
        }
    }

    /// `require("m")`, `await import("m")`, `require("m").x`.
    fn required_module(&self, value: Node<'_>) -> Option<String> {
        match value.node_kind() {
            "call_expression" => {
                let function = value.field("function")?;
                if !matches!(self.text(function), "require" | "import") {
                    return None;
                }
                let argument = value.field("arguments")?.named_child(0)?;
                self.module_name(argument)
            }
            "await_expression" => self.required_module(value.named_child(0)?),
            "member_expression" => {
                let base = self.required_module(value.field("object")?)?;
                Some(format!("{base}.{}", self.text(value.field("property")?)))
            }
            _ => None,
        }
    }

    fn path(&self, node: Node<'_>, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "identifier" => {
                let name = self.text(node);
                if let Some(path) = self.imports.get(name) {
                    return Some(path.clone());
                }
                if let Some(value) = self.bindings.get(name)
                    && matches!(
                        value.node_kind(),
                        "call_expression"
                            | "new_expression"
                            | "await_expression"
                            | "member_expression"
                    )
                {
                    return self.path(*value, depth + 1);
                }
                Some(name.to_string())
            }
            "member_expression" => {
                let object = node.field("object")?;
                let property = node.field("property")?;
                let base = self
                    .path(object, depth + 1)
                    .unwrap_or_else(|| "?".to_string());
                Some(format!("{base}.{}", self.text(property)))
            }
            "call_expression" => self.path(node.field("function")?, depth + 1),
            "new_expression" => self.path(node.field("constructor")?, depth + 1),
            "await_expression" | "parenthesized_expression" | "non_null_expression" => {
                self.path(node.named_child(0)?, depth + 1)
            }
            "this" => Some("this".to_string()),
            _ => None,
        }
    }

    fn string(&self, node: Node<'_>, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "string" | "template_string" => {
                let mut cursor = node.walk();
                let mut out = String::new();
                for child in node.named_children(&mut cursor) {
                    match child.node_kind() {
                        "string_fragment" | "escape_sequence" => out.push_str(self.text(child)),
                        "template_substitution" => {
                            match child.named_child(0).and_then(|e| self.string(e, depth + 1)) {
                                Some(value) => out.push_str(&value),
                                None => {
                                    out.push('{');
                                    break;
                                }
                            }
                        }
                        _ => {}
                    }
                }
                Some(out)
            }
            "binary_expression" => self.string(node.field("left")?, depth + 1),
            "identifier" => self.string(*self.bindings.get(self.text(node))?, depth + 1),
            "parenthesized_expression" | "as_expression" => {
                self.string(node.named_child(0)?, depth + 1)
            }
            _ => None,
        }
    }

    fn number(&self, node: Node<'_>, depth: usize) -> Option<f64> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "number" => self.text(node).replace('_', "").parse().ok(),
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
            "identifier" => self.number(*self.bindings.get(self.text(node))?, depth + 1),
            _ => None,
        }
    }

    /// The base name of a framework call (`it`, `test.only`, `describe.each(...)`).
    fn framework_call(&self, node: Node<'_>) -> Option<Framework> {
        if node.node_kind() != "call_expression" {
            return None;
        }
        let callee = self.callee_chain(node)?;
        let base = callee.split('.').next()?;
        if TEST_FUNCTIONS.contains(&base) || (base == "t" && callee.starts_with("t.test")) {
            Some(Framework::Test)
        } else if SUITE_FUNCTIONS.contains(&base) {
            Some(Framework::Suite)
        } else if HOOKS.contains(&base) {
            Some(Framework::Hook)
        } else {
            None
        }
    }

    /// `it.only`, `test.each`, `describe.skip`: the callee with call arguments removed.
    fn callee_chain(&self, call: Node<'_>) -> Option<String> {
        let mut function = call.field("function")?;
        while function.node_kind() == "call_expression" {
            function = function.field("function")?;
        }
        let text = self.text(function);
        if text
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '_' || c == '$')
        {
            Some(text.to_string())
        } else {
            None
        }
    }

    fn framework_unit(&self, call: Node<'t>, kind: Framework) -> Option<Unit> {
        let callee = self.callee_chain(call)?;
        let arguments = call.field("arguments")?;
        let mut cursor = arguments.walk();
        let args: Vec<Node<'t>> = arguments.named_children(&mut cursor).collect();
        let name = args
            .first()
            .and_then(|a| self.string(*a, 0))
            .unwrap_or_else(|| callee.clone());
        let options = args
            .iter()
            .find(|a| a.node_kind() == "object")
            .map(|o| self.text(*o))
            .unwrap_or("");
        let has_body = args.iter().any(|a| {
            matches!(
                a.node_kind(),
                "arrow_function" | "function_expression" | "function"
            )
        });
        let parts: Vec<&str> = callee.split('.').collect();
        let disabled = if parts.contains(&"only")
            || callee.starts_with('f') && (callee == "fit" || callee == "fdescribe")
            || has_flag(options, "only")
        {
            Some(Disabled::Only)
        } else if parts.contains(&"skip") || callee.starts_with('x') || has_flag(options, "skip") {
            Some(Disabled::Skip)
        } else {
            None
        };
        if self.inside_skipped_suite(call) {
            return None;
        }
        let unit_kind = match kind {
            Framework::Test if has_body && !parts.contains(&"todo") => UnitKind::Test,
            Framework::Test | Framework::Suite => {
                // A suite only reports how it is disabled; its body belongs to the module.
                let disabled = disabled?;
                let mut unit = Unit::new(name, UnitKind::Test, line(call));
                unit.disabled = Some((disabled, line(call)));
                unit.checks_assertions = false;
                return Some(unit);
            }
            Framework::Hook => UnitKind::Setup,
        };
        let mut unit = Unit::new(name, unit_kind, line(call));
        if let Some(disabled) = disabled {
            unit.disabled = Some((disabled, line(call)));
        }
        // A callback test (`function (done) {...}`) that calls `done` from inside another
        // callback passes only when that code path is reached: the call is its check.
        let callback = args.iter().rev().find(|a| {
            matches!(
                a.node_kind(),
                "arrow_function" | "function_expression" | "function"
            )
        });
        let done_name = callback
            .and_then(|f| f.field("parameters").or_else(|| f.field("parameter")))
            .and_then(|p| {
                // `done`, `(done)`, `(done: DoneCallback)`: the first identifier is the name.
                descendants(p, |_| false)
                    .into_iter()
                    .find(|n| n.node_kind() == "identifier")
            })
            .map(|p| self.text(p));
        for node in descendants(call, |n| n != call && self.framework_call(n).is_some()) {
            if node != call && self.framework_call(node).is_some() {
                continue;
            }
            let completes_test = |done: &str, callback: Node<'_>| match node.node_kind() {
                "call_expression" => {
                    node.field("function").is_some_and(|f| self.text(f) == done)
                        && self.nested_function_between(node, callback)
                }
                // `promise.then(done, done)`: done runs when the promise settles.
                "identifier" => {
                    self.text(node) == done
                        && node.parent().is_some_and(|p| p.node_kind() == "arguments")
                }
                _ => false,
            };
            if let (Some(done), Some(callback)) = (done_name, callback)
                && completes_test(done, *callback)
            {
                unit.see(Fact::Assertion { weak: false }, line(node));
            }
            self.observe(node, &mut unit);
        }
        Some(unit)
    }

    /// True when a function other than `outer` encloses `node` below `outer`.
    fn nested_function_between(&self, node: Node<'_>, outer: Node<'_>) -> bool {
        let mut current = node.parent();
        while let Some(ancestor) = current {
            if ancestor == outer {
                return false;
            }
            if matches!(
                ancestor.node_kind(),
                "arrow_function" | "function_expression" | "function"
            ) {
                return true;
            }
            current = ancestor.parent();
        }
        false
    }

    /// `expect(x).to.be.true;` and other property assertions of chai and its plugins. Not in
    /// expect.js, where unknown properties such as `.to.be.truthy` are silently undefined.
    fn property_assertion(&self, statement: Node<'_>) -> bool {
        let Some(mut node) = statement
            .named_child(0)
            .filter(|n| n.node_kind() == "member_expression")
        else {
            return false;
        };
        loop {
            match node.node_kind() {
                "member_expression" => match node.field("object") {
                    Some(object) => node = object,
                    None => return false,
                },
                "call_expression" => {
                    let Some(function) = node.field("function") else {
                        return false;
                    };
                    if function.node_kind() == "identifier"
                        && matches!(self.text(function), "expect" | "should")
                    {
                        return self
                            .path(function, 0)
                            .is_none_or(|path| path != "expect.js");
                    }
                    node = function;
                }
                _ => return false,
            }
        }
    }

    fn inside_skipped_suite(&self, node: Node<'_>) -> bool {
        let mut current = node.parent();
        while let Some(ancestor) = current {
            if self.framework_call(ancestor) == Some(Framework::Suite)
                && let Some(callee) = self.callee_chain(ancestor)
                && (callee.split('.').any(|p| p == "skip") || callee.starts_with('x'))
            {
                return true;
            }
            current = ancestor.parent();
        }
        false
    }

    /// A named same-file function: `function f() {}` or `const f = () => {}`.
    fn helper(&self, node: Node<'t>) -> Option<(String, Node<'t>)> {
        match node.node_kind() {
            "function_declaration" => Some((
                self.text(node.field("name")?).to_string(),
                node.field("body")?,
            )),
            "variable_declarator" => {
                let value = node.field("value")?;
                if !matches!(
                    value.node_kind(),
                    "arrow_function" | "function_expression" | "function"
                ) {
                    return None;
                }
                Some((
                    self.text(node.field("name")?).to_string(),
                    value.field("body")?,
                ))
            }
            _ => None,
        }
    }

    fn observe(&self, node: Node<'t>, unit: &mut Unit) {
        let at = line(node);
        match node.node_kind() {
            "expression_statement" if self.property_assertion(node) => {
                unit.see(Fact::Assertion { weak: false }, at);
            }
            "call_expression" | "new_expression" => self.call(node, unit),
            "member_expression" | "subscript_expression" => {
                let Some(object) = node.field("object") else {
                    return;
                };
                if self.text(object) != "process.env" {
                    return;
                }
                let variable = match node.node_kind() {
                    "member_expression" => node.field("property").map(|p| self.text(p).to_string()),
                    _ => node.field("index").and_then(|i| self.string(i, 0)),
                };
                let is_target = node.parent().is_some_and(|p| {
                    matches!(
                        p.node_kind(),
                        "assignment_expression" | "augmented_assignment_expression"
                    ) && p.field("left") == Some(node)
                });
                if is_target {
                    unit.see(Fact::SetsEnv, at);
                } else if let Some(variable) = variable.filter(|v| is_service_env(v)) {
                    unit.see(Fact::ServiceFromEnv(variable), at);
                }
            }
            "assignment_expression" => {
                // `global.fetch = jest.fn()` replaces the network.
                if let Some(left) = node.field("left") {
                    let target = self.text(left);
                    if target.ends_with(".fetch") || target == "fetch" {
                        unit.see(Fact::NetworkMock, at);
                    }
                }
            }
            _ => {}
        }
    }

    fn call(&self, call: Node<'t>, unit: &mut Unit) {
        let at = line(call);
        let function = call.field("function").or_else(|| call.field("constructor"));
        let Some(function) = function else { return };
        let Some(path) = self.path(function, 0) else {
            return;
        };
        let args: Vec<Node<'t>> = call_arguments(call);
        let first = args.first().copied();
        let last = path.rsplit('.').next().unwrap_or(&path);
        if function.node_kind() == "identifier" {
            unit.calls.push(self.text(function).to_string());
        }

        if path == "setTimeout"
            && call.node_kind() == "call_expression"
            && self.inside_promise(call)
        {
            if let Some(ms) = args.get(1).and_then(|a| self.number(*a, 0)) {
                unit.see(Fact::Sleep(ms / 1000.0), at);
            }
        } else if matches_any(
            &[
                "timers/promises.setTimeout",
                "timers/promises.scheduler.wait",
                "*.waitForTimeout",
            ],
            &path,
        ) || (function.node_kind() == "identifier"
            && matches!(last, "sleep" | "delay" | "wait" | "pause")
            && call
                .parent()
                .is_some_and(|p| p.node_kind() == "await_expression"))
        {
            if let Some(ms) = first.and_then(|a| self.number(a, 0)) {
                unit.see(Fact::Sleep(ms / 1000.0), at);
            }
        } else if matches_any(DOCKER, &path) {
            unit.see(Fact::Docker(path.clone()), at);
        } else if matches_any(REAL_DB, &path) {
            unit.see(Fact::RealDb(path.clone()), at);
        } else if matches_any(
            &["knex", "knex.knex", "knex.default", "sequelize.Sequelize"],
            &path,
        ) {
            let config = args.iter().map(|a| self.text(*a)).collect::<String>();
            let server = ["pg", "postgres", "mysql", "mssql", "oracledb", "mariadb"]
                .iter()
                .any(|d| {
                    config.contains(&format!("'{d}'"))
                        || config.contains(&format!("\"{d}\""))
                        || config.contains(&format!("{d}://"))
                });
            if server && !config.contains("sqlite") {
                unit.see(Fact::RealDb(path.clone()), at);
            }
        } else if matches_any(SUBPROCESS, &path) {
            if let Some(fact) = first
                .and_then(|a| self.string(a, 0))
                .as_deref()
                .and_then(spawned_program)
            {
                unit.see(fact, at);
            }
        } else if matches_any(HTTP_FUNCTIONS, &path) {
            let url = first.and_then(|a| self.string(a, 0).or_else(|| self.object_field(a, "url")));
            if let Some(target) = url.and_then(|u| target_of(&u)) {
                unit.see(Fact::Network(target), at);
            } else if let Some(host) = first.and_then(|a| {
                self.object_field(a, "hostname")
                    .or_else(|| self.object_field(a, "host"))
            }) {
                let port = first.and_then(|a| self.object_number(a, "port"));
                if let Some(target) = target_of_host_port(&host, port.map(|p| p as u32)) {
                    unit.see(Fact::Network(target), at);
                }
            }
        } else if matches_any(SOCKET_CONNECTS, &path) {
            let (host, port) = match first {
                Some(a) if a.node_kind() == "object" => {
                    (self.object_field(a, "host"), self.object_number(a, "port"))
                }
                Some(a) => (
                    args.get(1).and_then(|h| self.string(*h, 0)),
                    self.number(a, 0),
                ),
                None => (None, None),
            };
            if let Some(target) = target_of_host_port(
                &host.unwrap_or_else(|| "localhost".to_string()),
                port.map(|p| p as u32),
            ) {
                unit.see(Fact::Network(target), at);
            }
        } else if matches_any(NETWORK_MOCKS, &path) {
            unit.see(Fact::NetworkMock, at);
        } else if matches_any(SERVERS, &path) {
            unit.see(Fact::StartsServer, at);
        } else if matches_any(FAKE_CLOCKS, &path) {
            unit.see(Fact::FakeClock, at);
        } else if matches_any(&["vi.stubEnv", "*.stubEnv"], &path) {
            unit.see(Fact::SetsEnv, at);
        }

        if matches_any(MOCKERS, &path) {
            let arguments = args
                .iter()
                .map(|a| self.text(*a))
                .collect::<Vec<_>>()
                .join(",");
            if [
                "fetch",
                "axios",
                "node-fetch",
                "got",
                "undici",
                "http",
                "request",
                "superagent",
                "ky",
            ]
            .iter()
            .any(|l| arguments.contains(l))
            {
                unit.see(Fact::NetworkMock, at);
            }
            if [
                "'pg'",
                "\"pg\"",
                "ioredis",
                "'redis'",
                "\"redis\"",
                "mongodb",
                "mysql",
                "mongoose",
            ]
            .iter()
            .any(|l| arguments.contains(l))
            {
                unit.see(Fact::DatabaseMock, at);
            }
            if arguments.contains("setTimeout")
                || arguments.contains("sleep")
                || arguments.contains("delay")
            {
                unit.see(Fact::FakeClock, at);
            }
        }

        if let Some(weak) = self.assertion(call, &path, last, function, &args) {
            unit.see(Fact::Assertion { weak }, at);
        }
    }

    fn inside_promise(&self, node: Node<'_>) -> bool {
        let mut current = node.parent();
        let mut steps = 0;
        while let Some(ancestor) = current {
            if ancestor.node_kind() == "new_expression"
                && ancestor
                    .field("constructor")
                    .is_some_and(|c| self.text(c) == "Promise")
            {
                return true;
            }
            steps += 1;
            if steps > 6 {
                return false;
            }
            current = ancestor.parent();
        }
        false
    }

    fn object_field(&self, object: Node<'_>, key: &str) -> Option<String> {
        self.object_value(object, key)
            .and_then(|v| self.string(v, 0))
    }

    fn object_number(&self, object: Node<'_>, key: &str) -> Option<f64> {
        self.object_value(object, key)
            .and_then(|v| self.number(v, 0))
    }

    fn object_value<'n>(&self, object: Node<'n>, key: &str) -> Option<Node<'n>> {
        if object.node_kind() != "object" {
            return None;
        }
        let mut cursor = object.walk();
        let pairs: Vec<Node<'n>> = object.named_children(&mut cursor).collect();
        pairs.into_iter().find_map(|pair| {
            let name = pair.field("key")?;
            (self.text(name).trim_matches(['"', '\'']) == key)
                .then(|| pair.field("value"))
                .flatten()
        })
    }

    fn assertion(
        &self,
        call: Node<'_>,
        path: &str,
        last: &str,
        function: Node<'_>,
        args: &[Node<'_>],
    ) -> Option<bool> {
        if self.context.is_configured_helper(path, last) {
            return Some(false);
        }
        let chain = self.text(function);
        if (path.starts_with("expect.")
            || chain.starts_with("expect(")
            || path.starts_with("@jest/globals.expect.")
            || path.starts_with("vitest.expect."))
            && function.node_kind() == "member_expression"
        {
            return Some(self.is_weak_expect(call, last, args));
        }
        if path.starts_with("expect.") && matches!(last, "assertions" | "hasAssertions") {
            return Some(false);
        }
        let is_assert_module = path == "assert"
            || path.starts_with("assert.")
            || path.starts_with("assert/strict")
            || path.starts_with("chai.")
            || path.starts_with("sinon.assert.")
            || path.contains(".should.")
            || chain.starts_with("t.assert")
            || matches_any(
                &[
                    "t.equal",
                    "t.deepEqual",
                    "t.strictEqual",
                    "t.ok",
                    "t.is",
                    "t.true",
                    "t.throws",
                    "t.rejects",
                    "t.same",
                    "t.match",
                    "*.expectTypeOf",
                    "expectTypeOf",
                    "assertType",
                ],
                chain,
            );
        if is_assert_module {
            let weak = matches!(last, "ok" | "assert" | "true" | "equal" | "strictEqual")
                && args.first().is_some_and(|a| a.node_kind() == "true")
                && args.len() <= 2
                && (matches!(last, "ok" | "assert" | "true")
                    || args.get(1).is_some_and(|b| b.node_kind() == "true"))
                || path == "assert" && args.first().is_some_and(|a| a.node_kind() == "true");
            return Some(weak);
        }
        // A bare `expect(x)` asserts nothing until a matcher is called on it.
        if function.node_kind() == "identifier"
            && last != "expect"
            && looks_like_assertion_helper(last)
        {
            return Some(is_existence_assertion(last));
        }
        None
    }

    /// `expect(x).toBeDefined()`, `expect(true).toBe(true)`, `expect(a).toEqual(a)`.
    fn is_weak_expect(&self, call: Node<'_>, matcher: &str, args: &[Node<'_>]) -> bool {
        let function = call.field("function");
        let negated = function.is_some_and(|f| self.text(f).contains(".not."));
        let mut subject = function.and_then(|f| f.field("object"));
        while let Some(node) = subject {
            if node.node_kind() == "call_expression"
                && node
                    .field("function")
                    .is_some_and(|f| self.text(f) == "expect")
            {
                break;
            }
            subject = match node.node_kind() {
                "member_expression" => node.field("object"),
                "call_expression" => node.field("function"),
                _ => None,
            };
        }
        let subject = subject
            .and_then(|s| s.field("arguments"))
            .and_then(|a| a.named_child(0));
        match (matcher, negated) {
            ("toBeDefined", false) | ("toBeUndefined", true) | ("toBeNull", true) => true,
            ("toBe" | "toEqual" | "toStrictEqual", false) => match (subject, args.first()) {
                (Some(s), Some(e)) => {
                    (self.text(s) == self.text(*e)
                        && !descendants(s, |_| false)
                            .iter()
                            .any(|n| matches!(n.node_kind(), "call_expression" | "new_expression")))
                        || (s.node_kind() == "true" && e.node_kind() == "true")
                }
                _ => false,
            },
            ("toBeTruthy", false) => subject.is_some_and(|s| s.node_kind() == "true"),
            _ => false,
        }
    }
}

fn has_flag(options: &str, flag: &str) -> bool {
    let compact: String = options.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains(&format!("{flag}:true"))
        || compact.contains(&format!("{flag}:'"))
        || compact.contains(&format!("{flag}:\""))
}
