//! Python front end: pytest and unittest test files.

use std::collections::HashSet;

use tree_sitter::Node;

use super::super::facts::{Constant, Fact, FileFacts, Unit, UnitKind};
use super::super::knowledge::calls::{classify, patched};
use super::super::knowledge::{is_service_env, python};
use super::super::syntax::{NodeExt, descendants, line, matches_any, text};
use super::Context;
use super::resolve::{Names, Resolve, Shapes, plain_number};
use super::scope::Bindings;
use definitions::Definitions;
use site::PythonCall;

mod assertions;
mod definitions;
mod site;

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
        imports: Vec::new(),
    };
    // Imports and bindings are statements: expressions need not be entered to find them.
    let statements = descendants(root, |node| {
        !STATEMENT_CONTAINERS.contains(&node.node_kind())
    });
    file.bindings = Bindings::new(
        statements
            .iter()
            .filter(|node| node.node_kind() == "function_definition")
            .map(tree_sitter::Node::byte_range)
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
            // A parameter holds its default unless a caller passes another:
            // `def make_client(cls=pylibmc.Client)` then `cls([server])`.
            "function_definition" => {
                let mut cursor = node.walk();
                for parameter in node
                    .field("parameters")
                    .map(|p| p.named_children(&mut cursor).collect::<Vec<_>>())
                    .unwrap_or_default()
                {
                    if matches!(
                        parameter.node_kind(),
                        "default_parameter" | "typed_default_parameter"
                    ) && let (Some(name), Some(value)) =
                        (parameter.field("name"), parameter.field("value"))
                        && value.node_kind() != "none"
                    {
                        file.bind(text(name, source), value);
                    }
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
    if let Some(marker) = file.bindings.first("pytestmark") {
        if is_integration_mark(text(marker, source)) {
            module.see(Fact::IntegrationMarker, line(marker));
        }
        // `pytestmark = pytest.mark.usefixtures("db")` requests them for every test.
        for call in descendants(marker, |_| false) {
            if call.node_kind() == "call"
                && file
                    .path(call, 0)
                    .is_some_and(|path| matches_any(python::USEFIXTURES, &path))
            {
                let (names, _) = file.arguments(call);
                for name in names {
                    if let Some(name) = file.string(name, 0) {
                        module.requests.push((name, line(call)));
                    }
                }
            }
        }
    }
    units.push(module);
    let mut definitions = Definitions {
        units,
        ..Definitions::default()
    };
    file.collect_definitions(root, None, &mut definitions);
    FileFacts {
        units: definitions.units,
        classes: definitions.classes,
        imports: std::mem::take(&mut file.imports),
        plugins: file.plugins(),
        constants: file.constants(root),
        package: None,
    }
}

fn is_definition(node: Node<'_>) -> bool {
    matches!(
        node.node_kind(),
        "function_definition" | "class_definition" | "decorated_definition"
    )
}

pub(super) fn is_integration_mark(mark: &str) -> bool {
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
    /// Modules the file imports, as written (leading dots for relative ones), and the modules
    /// an imported name could be (`from tests import utils` may import `tests.utils`).
    imports: Vec<String>,
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
        let written = node.field("module_name").map(|m| self.text(m));
        if let Some(written) = written.filter(|w| !w.trim_start_matches('.').is_empty()) {
            self.imports.push(written.to_string());
        }
        let module = written.map(|m| m.trim_start_matches('.').to_string());
        for name in node.children_by_field_name("name", &mut cursor) {
            let (full, alias) = match name.node_kind() {
                "aliased_import" => {
                    let full = name.field("name").map_or("", |n| self.text(n));
                    let alias = name.field("alias").map_or(full, |n| self.text(n));
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
            // `import a.b` imports `a.b`; `from a import b` may import the module `a.b`.
            let imported = match written {
                Some(written) if written.ends_with('.') => format!("{written}{full}"),
                Some(written) => format!("{written}.{full}"),
                None => full.clone(),
            };
            self.imports.push(imported);
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

    /// Modules named in `pytest_plugins`.
    fn plugins(&self) -> Vec<String> {
        let Some(value) = self.bindings.first("pytest_plugins") else {
            return Vec::new();
        };
        let mut cursor = value.walk();
        match value.node_kind() {
            "list" | "tuple" => value
                .named_children(&mut cursor)
                .filter_map(|item| self.string(item, 0))
                .collect(),
            _ => self.string(value, 0).into_iter().collect(),
        }
    }

    /// Module-level names bound to a string whose start is known.
    fn constants(&self, root: Node<'t>) -> Vec<Constant> {
        let mut cursor = root.walk();
        root.named_children(&mut cursor)
            .filter(|statement| statement.node_kind() == "expression_statement")
            .filter_map(|statement| statement.named_child(0))
            .filter(|assignment| assignment.node_kind() == "assignment")
            .filter_map(|assignment| {
                let name = assignment.field("left")?;
                let value = assignment.field("right")?;
                (name.node_kind() == "identifier").then_some(())?;
                let text = self.string(value, 0).filter(|t| !t.is_empty())?;
                Some(Constant {
                    name: self.text(name).to_string(),
                    value: text,
                    line: line(assignment),
                })
            })
            .collect()
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
            // `self.conn` may be a property of the class or of a base class: followed like a
            // call (`conn = property(_get_conn)`, `@property def conn`).
            "attribute" if self.is_self_property(node) => {
                let name = node.field("attribute").map_or("", |a| self.text(a));
                if !unit.calls.iter().any(|c| c.on_self && c.name == name) {
                    unit.call_on_self(name, at, None);
                }
            }
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
                // Only a module itself (`psycopg2._connect`, `socket.socket`), not a client made
                // from it (`client.behaviors = {…}` after `client = pylibmc.Client(…)`).
                let module = target.and_then(|t| t.field("object")).filter(|object| {
                    descendants(*object, |_| false)
                        .into_iter()
                        .find(|n| n.node_kind() == "identifier")
                        .is_some_and(|first| {
                            self.imported(self.text(first)).is_some()
                                && self.binding(self.text(first), first).is_none()
                        })
                });
                let root = module.and_then(|o| self.path(o, 0));
                let within = |modules: &[&str]| {
                    root.as_deref().is_some_and(|root| {
                        modules.iter().any(|m| {
                            root.strip_prefix(m)
                                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
                        })
                    })
                };
                if within(python::DATABASE_MODULES) {
                    unit.see(Fact::DatabaseMock, at);
                }
                if within(python::TRANSPORT_MODULES) {
                    unit.see(Fact::DatabaseMock, at);
                    unit.see(Fact::NetworkMock, at);
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
            let arguments = call.field("arguments").map_or("", |a| self.text(a));
            for fact in patched(arguments, python::PATCHES) {
                unit.see(fact, at);
            }
            // `mock.patch.object(_Host, "send_cmd")` with `_Host` from a client module.
            let target = positional.first().and_then(|t| self.path(*t, 0));
            if target.is_some_and(|target| {
                python::DATABASE_MODULES.iter().any(|m| {
                    target
                        .strip_prefix(m)
                        .is_some_and(|rest| rest.starts_with('.'))
                })
            }) {
                unit.see(Fact::DatabaseMock, at);
            }
        }

        if matches_any(python::FIXTURE_BY_NAME, path)
            && let Some(argument) = positional.first()
        {
            if let Some(name) = self.string(*argument, 0) {
                unit.requests.push((name, at));
            } else if self.text(*argument) == definitions::PARAM_FIXTURE {
                unit.requests
                    .push((definitions::PARAM_FIXTURE.to_string(), at));
            }
        }

        // A call the file or its package may define is judged by that definition; by its name
        // (an assertion helper's) only where none is found.
        let verdict = self.assertion_call(path, last, function, &positional);
        let on_self = function.node_kind() == "attribute"
            && function
                .field("object")
                .is_some_and(|o| matches!(self.text(o), "self" | "cls"));
        match self.followed(function) {
            Some((name, _)) if on_self && !self.context.is_configured_helper(path, last) => {
                unit.call_on_self(name, at, verdict);
            }
            Some((name, import)) if !self.context.is_configured_helper(path, last) => {
                unit.call(name, import, at, verdict);
            }
            _ => {
                if let Some(weak) = verdict {
                    unit.see(Fact::Assertion { weak }, at);
                }
            }
        }
    }

    /// True for `self.x` read (not called, not assigned): what a property returns.
    fn is_self_property(&self, node: Node<'_>) -> bool {
        let Some(object) = node.field("object") else {
            return false;
        };
        if !matches!(self.text(object), "self" | "cls") {
            return false;
        }
        node.parent().is_none_or(|parent| match parent.node_kind() {
            "call" => parent.field("function") != Some(node),
            "assignment" | "augmented_assignment" => parent.field("left") != Some(node),
            _ => true,
        })
    }

    /// How a call names a function that may be defined in the file or its package view:
    /// `helper()` (and its import path, if imported), `self.helper()`, `module.helper()` of an
    /// imported module.
    fn followed(&self, function: Node<'_>) -> Option<(String, Option<String>)> {
        match function.node_kind() {
            "identifier" => {
                let name = self.text(function);
                Some((name.to_string(), self.imported(name).map(String::from)))
            }
            "attribute" => {
                let object = function.field("object")?;
                let attribute = self.text(function.field("attribute")?);
                if matches!(self.text(object), "self" | "cls") {
                    return Some((attribute.to_string(), None));
                }
                let root = descendants(object, |_| false)
                    .into_iter()
                    .find(|n| n.node_kind() == "identifier")?;
                self.imported(self.text(root))?;
                Some((String::new(), self.path(function, 0)))
            }
            _ => None,
        }
    }
}
