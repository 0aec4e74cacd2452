//! Python front end: pytest and unittest test files.

use std::collections::HashSet;

use tree_sitter::Node;

use super::super::facts::{Disabled, Fact, FileFacts, Unit, UnitKind};
use super::super::knowledge::calls::{Arg, CallSite, Connects, classify, first_value, patched};
use super::super::knowledge::{
    is_existence_assertion, is_service_env, looks_like_assertion_helper,
    postgres_rejects_before_connecting, python,
};
use super::super::syntax::{NodeExt, descendants, line, matches_any, text};
use super::Context;
use super::resolve::{Names, Resolve, Shapes, plain_number};
use super::scope::Bindings;

/// Nodes that hold statements (or the `with ... as` targets) rather than expressions.
const STATEMENT_CONTAINERS: &[&str] = &[
    "module",
    "block",
    "function_definition",
    "class_definition",
    "decorated_definition",
    "if_statement",
    "elif_clause",
    "else_clause",
    "for_statement",
    "while_statement",
    "try_statement",
    "except_clause",
    "except_group_clause",
    "finally_clause",
    "with_statement",
    "with_clause",
    "with_item",
    "expression_statement",
    "match_statement",
    "case_clause",
];

/// Reads a parsed Python test file into facts.
pub(crate) fn facts(root: Node<'_>, source: &str, context: &Context<'_>) -> FileFacts {
    let mut file = PythonFile {
        names: Names::new(source, &SHAPES),
        bindings: Bindings::new(Vec::new()),
        context,
        classes: HashSet::new(),
    };
    // Imports and bindings are statements: expressions need not be entered to find them.
    let statements = descendants(root, |node| {
        !STATEMENT_CONTAINERS.contains(&node.node_kind())
    });
    file.bindings = Bindings::new(
        statements
            .iter()
            .filter(|node| node.node_kind() == "function_definition")
            .map(|node| node.byte_range())
            .collect(),
    );
    for node in &statements {
        match node.node_kind() {
            "class_definition" => {
                if let Some(name) = node.field("name") {
                    file.classes.insert(text(name, source));
                }
            }
            "import_statement" | "import_from_statement" => file.import(*node),
            "assignment" => {
                if let (Some(left), Some(right)) = (node.field("left"), node.field("right")) {
                    file.bind(text(left, source), right);
                }
            }
            "as_pattern" => {
                if let (Some(value), Some(alias)) = (node.named_child(0), node.field("alias")) {
                    file.bind(text(alias, source), value);
                }
            }
            _ => {}
        }
    }

    let mut units = Vec::new();
    let mut module = Unit::new("<module>", UnitKind::Module, 1);
    for node in descendants(root, is_definition) {
        if node == root || is_definition(node) {
            continue;
        }
        file.observe(node, &mut module);
    }
    if let Some(marker) = file.bindings.first("pytestmark")
        && is_integration_mark(text(marker, source))
    {
        module.see(Fact::IntegrationMarker, line(marker));
    }
    units.push(module);
    file.collect_definitions(root, None, &mut units);
    FileFacts { units }
}

fn is_definition(node: Node<'_>) -> bool {
    matches!(
        node.node_kind(),
        "function_definition" | "class_definition" | "decorated_definition"
    )
}

fn is_integration_mark(mark: &str) -> bool {
    python::INTEGRATION_MARKS.iter().any(|m| mark.contains(m))
}

struct PythonFile<'s, 't, 'c> {
    /// Source and imports.
    names: Names<'s>,
    /// Assigned names (and `self.attr`) and their values, per function.
    bindings: Bindings<'t>,
    context: &'c Context<'c>,
    /// Names of the classes defined in the file, nested ones included.
    classes: HashSet<&'s str>,
}

/// Python's node kinds, for the shared resolvers.
static SHAPES: Shapes = Shapes {
    path_depth: 8,
    names: &["identifier"],
    followed_values: &["call", "attribute", "await"],
    members: &[("attribute", "object", "attribute")],
    followed_members: &["call"],
    through_fields: &[("call", "function")],
    path_wrappers: &["await", "parenthesized_expression"],
    self_names: &[],
    strings: &["string"],
    string_parts: &["string_content"],
    string_holes: &["interpolation"],
    concatenations: &["concatenated_string"],
    string_binary: &["binary_operator"],
    string_wrappers: &["parenthesized_expression"],
    numbers: &["integer", "float"],
    parse_number: plain_number,
    number_binary: &["binary_operator"],
    signs: &["unary_operator"],
    number_wrappers: &["parenthesized_expression"],
};

impl<'t> Resolve<'t> for PythonFile<'_, 't, '_> {
    fn names(&self) -> &Names<'_> {
        &self.names
    }

    fn bound(&self, name: &str, at: usize) -> Option<Node<'t>> {
        self.bindings.lookup(name, at)
    }
}

/// A call being classified, with its arguments split as Python passes them.
struct PythonCall<'f, 's, 't, 'c> {
    file: &'f PythonFile<'s, 't, 'c>,
    call: Node<'t>,
    positional: &'f [Node<'t>],
    keywords: &'f [(&'s str, Node<'t>)],
}

impl<'s, 't, 'c> CallSite<'t> for PythonCall<'_, 's, 't, 'c> {
    type File = PythonFile<'s, 't, 'c>;

    fn file(&self) -> &Self::File {
        self.file
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

    /// `create_connection(url, class_=DummySocket)`: a class of this file stands in for the
    /// socket, so nothing leaves the process.
    fn sends(&self) -> bool {
        !self.keywords.iter().any(|(_, value)| {
            value.node_kind() == "identifier" && self.file.classes.contains(self.file.text(*value))
        })
    }
}

/// The class a definition sits in, as far as test discovery cares.
#[derive(Clone, Copy)]
struct ClassInfo {
    is_test_class: bool,
}

impl<'s, 't, 'c> PythonFile<'s, 't, 'c> {
    fn text(&self, node: Node<'_>) -> &'s str {
        text(node, self.names.source)
    }

    fn bind(&mut self, name: &str, value: Node<'t>) {
        self.bindings.bind(name, value.start_byte(), value);
    }

    /// The value `name` holds where `at` uses it.
    fn binding(&self, name: &str, at: Node<'_>) -> Option<Node<'t>> {
        self.bindings.lookup(name, at.start_byte())
    }

    fn import(&mut self, node: Node<'t>) {
        let mut cursor = node.walk();
        let module = node
            .field("module_name")
            .map(|m| self.text(m).trim_start_matches('.').to_string());
        for name in node.children_by_field_name("name", &mut cursor) {
            let (full, alias) = match name.node_kind() {
                "aliased_import" => {
                    let full = name.field("name").map(|n| self.text(n)).unwrap_or("");
                    let alias = name.field("alias").map(|n| self.text(n)).unwrap_or(full);
                    (full.to_string(), alias.to_string())
                }
                _ => {
                    let full = self.text(name).to_string();
                    let alias = match &module {
                        Some(_) => full.clone(),
                        None => full.split('.').next().unwrap_or("").to_string(),
                    };
                    (full, alias)
                }
            };
            let path = match &module {
                Some(module) if !module.is_empty() => format!("{module}.{full}"),
                _ if module.is_none() && !self.text(name).contains(" as ") => {
                    full.split('.').next().unwrap_or("").to_string()
                }
                _ => full,
            };
            self.names.imports.insert(alias, path);
        }
    }

    fn arguments(&self, call: Node<'t>) -> (Vec<Node<'t>>, Vec<(&'s str, Node<'t>)>) {
        let mut positional = Vec::new();
        let mut keywords = Vec::new();
        if let Some(args) = call.field("arguments") {
            let mut cursor = args.walk();
            for arg in args.named_children(&mut cursor) {
                match arg.node_kind() {
                    "keyword_argument" => {
                        if let (Some(name), Some(value)) = (arg.field("name"), arg.field("value")) {
                            keywords.push((self.text(name), value));
                        }
                    }
                    "comment" => {}
                    _ => positional.push(arg),
                }
            }
        }
        (positional, keywords)
    }

    fn collect_definitions(&self, node: Node<'t>, class: Option<ClassInfo>, units: &mut Vec<Unit>) {
        let mut cursor = node.walk();
        let body: Vec<Node<'t>> = match node.node_kind() {
            "module" => node.named_children(&mut cursor).collect(),
            _ => node
                .field("body")
                .map(|b| b.named_children(&mut cursor).collect())
                .unwrap_or_default(),
        };
        for child in body {
            let (definition, decorators) = if child.node_kind() == "decorated_definition" {
                let mut c = child.walk();
                let decorators: Vec<Node<'t>> = child
                    .named_children(&mut c)
                    .filter(|d| d.node_kind() == "decorator")
                    .collect();
                match child.field("definition") {
                    Some(definition) => (definition, decorators),
                    None => continue,
                }
            } else {
                (child, Vec::new())
            };
            match definition.node_kind() {
                "class_definition" => {
                    let name = definition.field("name").map(|n| self.text(n)).unwrap_or("");
                    let bases = definition
                        .field("superclasses")
                        .map(|b| self.text(b))
                        .unwrap_or("");
                    // `test_*` classes are collected by projects that set `python_classes = test_*` (kombu, celery).
                    let is_test_class = name.starts_with("Test")
                        || name.starts_with("test_")
                        || bases.contains("TestCase");
                    let mut marker_unit = Unit::new(name, UnitKind::Setup, line(definition));
                    for decorator in &decorators {
                        self.decorator(*decorator, &mut marker_unit);
                    }
                    let class_units_start = units.len();
                    self.collect_definitions(definition, Some(ClassInfo { is_test_class }), units);
                    // Stubs made in the class's setUp cover the class's tests.
                    let class_stubs: Vec<_> = units[class_units_start..]
                        .iter()
                        .filter(|unit| unit.kind == UnitKind::Setup)
                        .flat_map(|unit| unit.seen.iter())
                        .filter(|seen| seen.fact == Fact::DatabaseMock)
                        .cloned()
                        .collect();
                    // Class decorators (skip, integration marks) apply to every method.
                    for unit in &mut units[class_units_start..] {
                        if unit.kind == UnitKind::Test {
                            unit.seen.extend(class_stubs.iter().cloned());
                        }
                        if unit.kind == UnitKind::Test {
                            if unit.disabled.is_none() {
                                unit.disabled = marker_unit.disabled.clone();
                            }
                            unit.seen.extend(marker_unit.seen.iter().cloned());
                        }
                    }
                }
                "function_definition" => {
                    units.push(self.function_unit(definition, &decorators, class));
                }
                _ => {}
            }
        }
    }

    fn function_unit(
        &self,
        function: Node<'t>,
        decorators: &[Node<'t>],
        class: Option<ClassInfo>,
    ) -> Unit {
        let name = function.field("name").map(|n| self.text(n)).unwrap_or("");
        let decorator_text: String = decorators.iter().map(|d| self.text(*d)).collect();
        let is_fixture = decorator_text.contains("fixture");
        let in_test_scope = class.is_none_or(|c| c.is_test_class);
        let kind = if is_fixture || python::SETUP_METHODS.contains(&name) {
            UnitKind::Setup
        } else if name.starts_with("test") && in_test_scope {
            UnitKind::Test
        } else {
            UnitKind::Helper
        };
        let mut unit = Unit::new(name, kind, line(function));
        for decorator in decorators {
            self.decorator(*decorator, &mut unit);
        }
        if let Some(parameters) = function.field("parameters") {
            let mut cursor = parameters.walk();
            for parameter in parameters.named_children(&mut cursor) {
                let name_node = match parameter.node_kind() {
                    "identifier" => Some(parameter),
                    _ => parameter.field("name").or_else(|| parameter.named_child(0)),
                };
                let Some(name_node) = name_node else { continue };
                let parameter_name = self.text(name_node);
                let at = line(parameter);
                if let Some((_, fact)) = python::PLUGIN_FIXTURES
                    .iter()
                    .find(|(names, _)| names.contains(&parameter_name))
                {
                    unit.see(fact.clone(), at);
                } else if python::DOCKER_FIXTURES.contains(&parameter_name) {
                    unit.see(Fact::Docker(format!("{parameter_name} fixture")), at);
                }
            }
        }
        if let Some(body) = function.field("body") {
            let mut cursor = body.walk();
            for statement in body.named_children(&mut cursor) {
                if self.is_unconditional_skip(statement) && unit.kind == UnitKind::Test {
                    unit.disabled = Some((Disabled::Skip, line(statement)));
                }
            }
            // Strings hold no calls worth seeing (f-string holes aside), only many nodes.
            for node in descendants(body, |n| n.node_kind() == "string") {
                self.observe(node, &mut unit);
            }
        }
        unit
    }

    fn is_unconditional_skip(&self, statement: Node<'_>) -> bool {
        let expression = match statement.node_kind() {
            "expression_statement" => statement.named_child(0),
            "raise_statement" => statement.named_child(0),
            _ => None,
        };
        let Some(expression) = expression else {
            return false;
        };
        if expression.node_kind() != "call" {
            return false;
        }
        let path = self.path(expression, 0).unwrap_or_default();
        matches_any(python::SKIP_CALLS, &path)
    }

    fn decorator(&self, decorator: Node<'t>, unit: &mut Unit) {
        let Some(expression) = decorator.named_child(0) else {
            return;
        };
        let at = line(decorator);
        let path = self.path(expression, 0).unwrap_or_default();
        let has_arguments = expression.node_kind() == "call";
        let (positional, _) = if has_arguments {
            self.arguments(expression)
        } else {
            (Vec::new(), Vec::new())
        };
        if matches_any(python::SKIP_DECORATORS, &path)
            || (matches_any(python::SKIP_IF_DECORATORS, &path)
                && positional
                    .first()
                    .is_some_and(|c| matches!(c.node_kind(), "true" | "integer")))
        {
            unit.disabled = Some((Disabled::Skip, at));
        }
        if is_integration_mark(&path) {
            unit.see(Fact::IntegrationMarker, at);
        }
        if matches_any(python::SERVICE_CONDITIONS, &path) {
            // `@skipUnless(HAVE_SERVER, ...)` where HAVE_SERVER comes from a service variable.
            for variable in self.environment_behind(expression, 0) {
                if is_service_env(&variable) {
                    unit.see(Fact::ServiceFromEnv(variable), at);
                }
            }
        }
        if matches_any(python::NETWORK_MOCKS, &path) {
            unit.see(Fact::NetworkMock, at);
        }
        if matches_any(python::CLOCK_FREEZERS, &path) && self.text(decorator).contains("tick=False")
        {
            unit.see(Fact::FakeClock, at);
        }
        for node in descendants(decorator, |_| false) {
            self.observe(node, unit);
        }
    }

    /// Environment variables an expression reads, directly or through module-level names.
    fn environment_behind(&self, expression: Node<'_>, depth: usize) -> Vec<String> {
        if depth > 4 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for node in descendants(expression, |_| false) {
            match node.node_kind() {
                "call" => {
                    let path = node
                        .field("function")
                        .and_then(|f| self.path(f, 0))
                        .unwrap_or_default();
                    if matches_any(python::ENV_READS, &path)
                        && let Some(variable) = node
                            .field("arguments")
                            .and_then(|a| a.named_child(0))
                            .and_then(|a| self.string(a, 0))
                    {
                        out.push(variable);
                    }
                }
                "identifier" => {
                    if let Some(value) = self.binding(self.text(node), node) {
                        out.extend(self.environment_behind(value, depth + 1));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Records what one node means for the unit it sits in.
    fn observe(&self, node: Node<'t>, unit: &mut Unit) {
        let at = line(node);
        match node.node_kind() {
            "assert_statement" => {
                let weak = node
                    .named_child(0)
                    .is_some_and(|e| self.is_weak_condition(e));
                unit.see(Fact::Assertion { weak }, at);
            }
            "subscript" => {
                if let Some(value) = node.field("value")
                    && self.text(value).ends_with("environ")
                    && self.path(value, 0).as_deref() == Some("os.environ")
                {
                    let is_target = node.parent().is_some_and(|p| {
                        p.node_kind() == "assignment" && p.field("left") == Some(node)
                    });
                    if is_target {
                        unit.see(Fact::SetsEnv, at);
                    } else if let Some(variable) =
                        node.field("subscript").and_then(|k| self.string(k, 0))
                        && is_service_env(&variable)
                    {
                        unit.see(Fact::ServiceFromEnv(variable), at);
                    }
                }
            }
            "call" => self.call(node, unit),
            "assignment" => {
                // `psycopg2._connect = stub`: the client module itself is replaced. A constant
                // (`pymysql.connections.DEFAULT_PLUGIN = "…"`) is a setting, not a stub.
                let constant = node.field("right").is_some_and(|value| {
                    matches!(
                        value.node_kind(),
                        "string"
                            | "integer"
                            | "float"
                            | "true"
                            | "false"
                            | "none"
                            | "concatenated_string"
                    )
                });
                let target = node
                    .field("left")
                    .filter(|l| l.node_kind() == "attribute" && !constant);
                let root = target
                    .and_then(|t| t.field("object"))
                    .and_then(|o| self.path(o, 0));
                if root.is_some_and(|root| {
                    python::DATABASE_MODULES.iter().any(|m| {
                        root.strip_prefix(m)
                            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
                    })
                }) {
                    unit.see(Fact::DatabaseMock, at);
                }
            }
            _ => {}
        }
    }

    fn call(&self, call: Node<'t>, unit: &mut Unit) {
        let Some(function) = call.field("function") else {
            return;
        };
        let (positional, keywords) = self.arguments(call);
        let Some(path) = self.path(function, 0) else {
            return;
        };
        // `self.assertRaises(Error, client.get, url)` calls `client.get(url)`.
        if matches_any(python::CALLS_ITS_ARGUMENT, &path)
            && let Some(callee) = positional.get(1)
            && let Some(callee_path) = self.path(*callee, 0)
        {
            self.classify(
                call,
                *callee,
                &callee_path,
                positional[2..].to_vec(),
                Vec::new(),
                unit,
            );
        }
        self.classify(call, function, &path, positional, keywords, unit);
    }

    /// The shortest timeout around `node`: `with env.timeout(0.15):`, `async with
    /// asyncio.timeout(1):`, `asyncio.wait_for(…, timeout=0.5)`. A sleep inside is cut short there.
    fn enclosing_timeout(&self, node: Node<'t>) -> Option<f64> {
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

    /// Records what calling `function` with these arguments means.
    fn classify(
        &self,
        call: Node<'t>,
        function: Node<'t>,
        path: &str,
        positional: Vec<Node<'t>>,
        keywords: Vec<(&str, Node<'t>)>,
        unit: &mut Unit,
    ) {
        let at = line(call);

        // Same-file helpers: `helper()` and `self.helper()`.
        match function.node_kind() {
            "identifier" => unit.calls.push(self.text(function).to_string()),
            "attribute" => {
                if let (Some(object), Some(attribute)) =
                    (function.field("object"), function.field("attribute"))
                    && matches!(self.text(object), "self" | "cls")
                {
                    unit.calls.push(self.text(attribute).to_string());
                }
            }
            _ => {}
        }
        let last = path.rsplit('.').next().unwrap_or(path);
        let site = PythonCall {
            file: self,
            call,
            positional: &positional,
            keywords: &keywords,
        };
        if let Some(fact) = classify(python::CALLS, path, &site) {
            unit.see(fact, at);
        }
        if matches_any(python::PATCHERS, path) {
            let arguments = call.field("arguments").map(|a| self.text(a)).unwrap_or("");
            for fact in patched(arguments, python::PATCHES) {
                unit.see(fact, at);
            }
        }

        if let Some(weak) = self.assertion_call(path, last, function, &positional) {
            unit.see(Fact::Assertion { weak }, at);
        }
    }

    /// `Some(weak)` when the call asserts something.
    fn assertion_call(
        &self,
        path: &str,
        last: &str,
        function: Node<'_>,
        positional: &[Node<'_>],
    ) -> Option<bool> {
        if self.context.is_configured_helper(path, last) {
            return Some(false);
        }
        if matches_any(python::ASSERTION_CALLS, path) {
            return Some(false);
        }
        if last.starts_with("assert") || last.starts_with("Assert") {
            let weak = match last {
                "assertTrue" | "assert_" | "failUnless" => positional
                    .first()
                    .is_some_and(|c| self.is_weak_condition(*c)),
                _ if is_existence_assertion(last) => true,
                "assertEqual" | "assertEquals" | "assertIs" => {
                    match (positional.first(), positional.get(1)) {
                        (Some(a), Some(b)) => self.text(*a) == self.text(*b),
                        _ => false,
                    }
                }
                _ => false,
            };
            return Some(weak);
        }
        let local_name = match function.node_kind() {
            "identifier" => Some(self.text(function)),
            "attribute" => function
                .field("object")
                .filter(|o| matches!(self.text(*o), "self" | "cls"))
                .and_then(|_| function.field("attribute"))
                .map(|a| self.text(a)),
            _ => None,
        };
        if let Some(name) = local_name.filter(|name| looks_like_assertion_helper(name))
            && !path.contains("subprocess")
        {
            return Some(is_existence_assertion(name));
        }
        None
    }

    /// True for conditions that hold whatever the code under test does.
    fn is_weak_condition(&self, condition: Node<'_>) -> bool {
        match condition.node_kind() {
            "true" | "integer" | "float" | "string" => true,
            "comparison_operator" => {
                let mut cursor = condition.walk();
                let operators: Vec<String> = condition
                    .children(&mut cursor)
                    .filter(|c| !c.is_named())
                    .map(|c| self.text(c).split_whitespace().collect::<String>())
                    .collect();
                let (Some(left), Some(right)) =
                    (condition.named_child(0), condition.named_child(1))
                else {
                    return false;
                };
                if condition.named_child_count() != 2 {
                    return false;
                }
                let is_not_none = operators.concat() == "isnot" && right.node_kind() == "none";
                // Two calls with the same text can differ (`Lock(p) is Lock(p)` tests a cache).
                let tautology = self.text(left) == self.text(right)
                    && !descendants(left, |_| false)
                        .iter()
                        .any(|n| n.node_kind() == "call")
                    && matches!(operators.concat().as_str(), "==" | "is" | "<=" | ">=");
                is_not_none || tautology
            }
            "parenthesized_expression" => condition
                .named_child(0)
                .is_some_and(|c| self.is_weak_condition(c)),
            _ => false,
        }
    }
}
