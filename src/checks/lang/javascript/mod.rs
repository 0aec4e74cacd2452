//! JavaScript and TypeScript front end: jest, vitest, mocha and node:test files.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::super::facts::{Constant, Fact, FileFacts, Serves, Unit, UnitKind};
use super::super::knowledge::calls::{Arg, Args, CallSite, classify, patched};
use super::super::knowledge::{is_service_env, javascript};
use super::super::syntax::{NodeExt, call_arguments, descendants, line, matches_any, text};
use super::Context;

mod assertions;
mod frameworks;
use super::resolve::{Names, Resolve, Shapes, plain_number};
use super::scope::Bindings;

/// Reads a parsed JavaScript or TypeScript test file into facts.
pub(crate) fn facts(root: Node<'_>, source: &str, context: &Context<'_>) -> FileFacts {
    let mut file = JsFile {
        names: Names::new(source, &SHAPES),
        bindings: Bindings::file_wide(),
        context,
        imports: Vec::new(),
    };
    let all = descendants(root, |_| false);
    let mut assigned: HashMap<&str, Vec<Node<'_>>> = HashMap::new();
    for node in &all {
        match node.node_kind() {
            "import_statement" => file.import(*node),
            "variable_declarator" => file.declarator(*node),
            "assignment_expression" => {
                if let Some(name) = node.field("left").filter(|n| n.node_kind() == "identifier") {
                    assigned.entry(file.text(name)).or_default().push(*node);
                }
            }
            _ => {}
        }
    }
    // `url = 'http://…'` in a `before` hook, for a `let url;` of the suite, is the value its
    // tests read; a name assigned in several places (one per suite) has no one value.
    for nodes in assigned.values() {
        if let [node] = nodes.as_slice()
            && let (Some(name), Some(value)) = (node.field("left"), node.field("right"))
        {
            file.bindings
                .bind(file.text(name), name.start_byte(), value);
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
            if let Some(mut unit) = file.framework_unit(*node, kind) {
                unit.owner = file.suite_path(*node);
                if unit.kind == UnitKind::Setup {
                    // A hook runs for the tests of its suite, or of the file at top level.
                    unit.serves = if unit.owner.is_some() {
                        Serves::Owner
                    } else {
                        Serves::File
                    };
                }
                units.push(unit);
            }
        } else if let Some((name, body)) = file.helper(*node) {
            boundaries.insert(node.id());
            let mut unit = Unit::new(name, UnitKind::Helper, line(*node));
            for inner in descendants(body, |n| file.framework_call(n).is_some()) {
                file.observe(inner, &mut unit);
                // A helper that throws when a condition fails is a check.
                if inner.node_kind() == "throw_statement" && within_if(inner, body) {
                    unit.see(Fact::Assertion { weak: false }, line(inner));
                }
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
    FileFacts {
        units,
        imports: std::mem::take(&mut file.imports),
        constants: file.constants(root),
        ..FileFacts::default()
    }
}

/// True when `node` sits in an `if` inside `body`.
fn within_if(node: Node<'_>, body: Node<'_>) -> bool {
    let mut current = node.parent();
    while let Some(parent) = current {
        if parent == body {
            return false;
        }
        if matches!(parent.node_kind(), "if_statement" | "else_clause") {
            return true;
        }
        current = parent.parent();
    }
    false
}

/// JavaScript's and TypeScript's node kinds, for the shared resolvers.
static SHAPES: Shapes = Shapes {
    path_depth: 8,
    names: &["identifier"],
    followed_values: &[
        "call_expression",
        "new_expression",
        "await_expression",
        "member_expression",
    ],
    members: &[("member_expression", "object", "property")],
    followed_members: &[],
    through_fields: &[
        ("call_expression", "function"),
        ("new_expression", "constructor"),
    ],
    path_wrappers: &[
        "await_expression",
        "parenthesized_expression",
        "non_null_expression",
    ],
    self_names: &["this"],
    strings: &["string", "template_string"],
    string_parts: &["string_fragment", "escape_sequence"],
    string_holes: &["template_substitution"],
    concatenations: &[],
    string_binary: &["binary_expression"],
    string_wrappers: &["parenthesized_expression", "as_expression"],
    numbers: &["number"],
    parse_number: plain_number,
    number_binary: &["binary_expression"],
    signs: &[],
    number_wrappers: &["parenthesized_expression"],
};

impl<'t> Resolve<'t> for JsFile<'_, 't, '_> {
    fn names(&self) -> &Names<'_> {
        &self.names
    }

    fn bound(&self, name: &str, at: usize) -> Option<Node<'t>> {
        self.bindings.lookup(name, at)
    }
}

/// A call being classified. An argument's name is a field of the options object given first.
struct JsCall<'f, 's, 't, 'c> {
    file: &'f JsFile<'s, 't, 'c>,
    call: Node<'t>,
    function: Node<'t>,
    args: &'f [Node<'t>],
}

impl<'s, 't, 'c> CallSite<'t> for JsCall<'_, 's, 't, 'c> {
    type File = JsFile<'s, 't, 'c>;

    fn file(&self) -> &Self::File {
        self.file
    }

    fn positional(&self) -> &[Node<'t>] {
        self.args
    }

    fn argument(&self, arg: Arg) -> Option<Node<'t>> {
        match arg {
            Arg::At(index) => self.args.get(index).copied(),
            Arg::Named(key) => self
                .args
                .first()
                .and_then(|object| self.file.object_value(*object, key)),
            Arg::Element(..) => None,
        }
    }

    fn seconds(&self, node: Node<'t>) -> Option<f64> {
        Some(self.file.number(node, 0)? / 1000.0)
    }

    fn is_awaited_bare_call(&self) -> bool {
        self.function.node_kind() == "identifier"
            && self
                .call
                .parent()
                .is_some_and(|p| p.node_kind() == "await_expression")
    }

    fn timer_waits(&self) -> bool {
        self.call.node_kind() == "call_expression"
            && (self.file.inside_promise(self.call) || self.file.completes_test(self.call))
    }

    /// `fetch(API + '/x')` or `` fetch(`${API}/x`) `` with `API` imported.
    fn constant_name(&self, args: Args) -> Option<String> {
        let argument = args.iter().find_map(|arg| self.argument(*arg))?;
        let start = match argument.node_kind() {
            "binary_expression" => argument.field("left")?,
            "template_string" => argument
                .named_children(&mut argument.walk())
                .next()
                .filter(|part| part.node_kind() == "template_substitution")?
                .named_child(0)?,
            _ => argument,
        };
        match start.node_kind() {
            "identifier" => self.file.imported(self.file.text(start)).map(String::from),
            "member_expression" => self.file.path(start, 0),
            _ => None,
        }
    }

    fn names_dialect(&self, dialects: &[&str]) -> bool {
        let config = self
            .args
            .iter()
            .map(|a| self.file.text(*a))
            .collect::<String>();
        dialects.iter().any(|d| {
            config.contains(&format!("'{d}'"))
                || config.contains(&format!("\"{d}\""))
                || config.contains(&format!("{d}://"))
        }) && !config.contains("sqlite")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Framework {
    Test,
    Suite,
    Hook,
}

struct JsFile<'s, 't, 'c> {
    /// Source and imports.
    names: Names<'s>,
    /// Each name's first value anywhere in the file (see [`Bindings::file_wide`]).
    bindings: Bindings<'t>,
    context: &'c Context<'c>,
    /// Relative modules the file imports or requires (`./helpers`).
    imports: Vec<String>,
}

impl<'s, 't, 'c> JsFile<'s, 't, 'c> {
    fn text(&self, node: Node<'_>) -> &'s str {
        text(node, self.names.source)
    }

    fn module_name(&self, string: Node<'_>) -> Option<String> {
        let name = self.string(string, 0)?;
        // A test of a client package requires the client by a path that climbs out of the
        // test folder (`require('../')`, `require('../../lib/redis')`): that is the package.
        // Paths inside the test folder (`./helpers`) stay what they are.
        let climbs = name.trim_start_matches("./");
        if (climbs.starts_with("../") || climbs == "..")
            && let Some(package) = self.context.package_name
            && javascript::is_known_client(package)
        {
            return Some(package.to_string());
        }
        Some(name.strip_prefix("node:").unwrap_or(&name).to_string())
    }

    fn import(&mut self, node: Node<'t>) {
        let Some(module) = node.field("source").and_then(|s| self.module_name(s)) else {
            return;
        };
        self.note_import(&module);
        for inner in descendants(node, |_| false) {
            match inner.node_kind() {
                "import_clause" => {
                    if let Some(first) = inner
                        .named_child(0)
                        .filter(|n| n.node_kind() == "identifier")
                    {
                        self.names
                            .imports
                            .insert(self.text(first).to_string(), module.clone());
                    }
                }
                "namespace_import" => {
                    if let Some(name) = inner.named_child(0) {
                        self.names
                            .imports
                            .insert(self.text(name).to_string(), module.clone());
                    }
                }
                "import_specifier" => {
                    let name = inner.field("name").map_or("", |n| self.text(n));
                    let alias = inner.field("alias").map_or(name, |n| self.text(n));
                    self.names
                        .imports
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
        if required.is_some()
            && let Some(spec) = self.required_spec(value)
        {
            self.note_import(&spec);
        }
        match (name.node_kind(), required) {
            ("identifier", Some(module)) => {
                self.names
                    .imports
                    .insert(self.text(name).to_string(), module);
            }
            ("object_pattern", Some(module)) => {
                let mut cursor = name.walk();
                for property in name.named_children(&mut cursor) {
                    match property.node_kind() {
                        "shorthand_property_identifier_pattern" => {
                            let local = self.text(property).to_string();
                            self.names
                                .imports
                                .insert(local.clone(), format!("{module}.{local}"));
                        }
                        "pair_pattern" => {
                            if let (Some(key), Some(value)) =
                                (property.field("key"), property.field("value"))
                            {
                                self.names.imports.insert(
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
                    .bind(self.text(name), name.start_byte(), value);
            }
            _ => {}
        }
    }

    /// The specifier of `require("m")`, `await import("m")`, `require("m").x`, as written.
    fn required_spec(&self, value: Node<'_>) -> Option<String> {
        match value.node_kind() {
            "call_expression" => self.string(value.field("arguments")?.named_child(0)?, 0),
            "await_expression" => self.required_spec(value.named_child(0)?),
            "member_expression" => self.required_spec(value.field("object")?),
            _ => None,
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

    /// A named same-file function: `function f() {}` or `const f = () => {}`.
    fn helper(&self, node: Node<'t>) -> Option<(String, Node<'t>)> {
        match node.node_kind() {
            // `exports.connect = function () {…}`, `module.exports.connect = async () => {…}`.
            "assignment_expression" => {
                let left = node.field("left")?;
                let value = node.field("right")?;
                let target = self.text(left);
                let name = target
                    .strip_prefix("exports.")
                    .or_else(|| target.strip_prefix("module.exports."))?;
                if !matches!(
                    value.node_kind(),
                    "arrow_function" | "function_expression" | "function"
                ) || name.contains('.')
                {
                    return None;
                }
                Some((name.to_string(), value.field("body")?))
            }
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
        let last = path.rsplit('.').next().unwrap_or(&path);

        let site = JsCall {
            file: self,
            call,
            function,
            args: &args,
        };
        if let Some(fact) = classify(javascript::CALLS, &path, &site) {
            unit.see(fact, at);
        }
        if matches_any(javascript::MOCKERS, &path) {
            let arguments = args
                .iter()
                .map(|a| self.text(*a))
                .collect::<Vec<_>>()
                .join(",");
            for fact in patched(&arguments, javascript::PATCHES) {
                unit.see(fact, at);
            }
        }

        // A function the file or its package may define is judged by its definition; by its
        // name (an assertion helper's) only where none is found.
        let verdict = self.assertion(call, &path, last, function, &args);
        let followed = match function.node_kind() {
            "identifier" => {
                let name = self.text(function);
                Some((name, self.imported(name).map(String::from)))
            }
            "member_expression" => function
                .field("object")
                .filter(|object| object.node_kind() == "identifier")
                .filter(|object| self.imported(self.text(*object)).is_some())
                .map(|_| ("", Some(path.clone()))),
            _ => None,
        };
        match followed {
            Some((name, import)) if !self.context.is_configured_helper(&path, last) => {
                unit.call(name, import, at, verdict);
            }
            _ => {
                if let Some(weak) = verdict {
                    unit.see(Fact::Assertion { weak }, at);
                }
            }
        }
    }

    /// True when a timer's callback finishes the callback test around it (`done()` inside
    /// `setTimeout(function () { …; done(); }, 1100)`): the test lasts as long as the timer.
    fn completes_test(&self, timer: Node<'_>) -> bool {
        let Some(callback) = timer.field("arguments").and_then(|a| a.named_child(0)) else {
            return false;
        };
        let mut current = timer.parent();
        while let Some(ancestor) = current {
            if self.framework_call(ancestor) == Some(Framework::Test) {
                let done = call_arguments(ancestor)
                    .into_iter()
                    .rev()
                    .find(|a| {
                        matches!(
                            a.node_kind(),
                            "arrow_function" | "function_expression" | "function"
                        )
                    })
                    .and_then(|f| f.field("parameters").or_else(|| f.field("parameter")))
                    .and_then(|p| {
                        descendants(p, |_| false)
                            .into_iter()
                            .find(|n| n.node_kind() == "identifier")
                    })
                    .map(|n| self.text(n));
                return done.is_some_and(|done| {
                    descendants(callback, |_| false).into_iter().any(|n| {
                        n.node_kind() == "call_expression"
                            && n.field("function").is_some_and(|f| self.text(f) == done)
                    })
                });
            }
            current = ancestor.parent();
        }
        false
    }

    /// Records a relative module the file imports.
    fn note_import(&mut self, module: &str) {
        if module.starts_with("./") || module.starts_with("../") {
            self.imports.push(module.to_string());
        }
    }

    /// The suites around `node`, outermost first, as `/start/start` byte positions: a hook of
    /// a suite runs for the tests of that suite and of the suites inside it.
    fn suite_path(&self, node: Node<'_>) -> Option<String> {
        let mut starts = Vec::new();
        let mut current = node.parent();
        while let Some(ancestor) = current {
            if self.framework_call(ancestor) == Some(Framework::Suite) {
                starts.push(ancestor.start_byte());
            }
            current = ancestor.parent();
        }
        (!starts.is_empty()).then(|| {
            starts
                .iter()
                .rev()
                .map(|start| format!("/{start}"))
                .collect()
        })
    }

    /// Top-level `const NAME = "…"` (exported or not) with a known start.
    fn constants(&self, root: Node<'t>) -> Vec<Constant> {
        let mut out = Vec::new();
        let mut cursor = root.walk();
        for statement in root.named_children(&mut cursor) {
            let declaration = match statement.node_kind() {
                "export_statement" => statement.field("declaration"),
                _ => Some(statement),
            };
            let Some(declaration) = declaration.filter(|d| {
                matches!(
                    d.node_kind(),
                    "lexical_declaration" | "variable_declaration"
                )
            }) else {
                continue;
            };
            let mut inner = declaration.walk();
            for declarator in declaration.named_children(&mut inner) {
                if let (Some(name), Some(value)) =
                    (declarator.field("name"), declarator.field("value"))
                    && name.node_kind() == "identifier"
                    && let Some(text) = self.string(value, 0).filter(|t| !t.is_empty())
                {
                    out.push(Constant {
                        name: self.text(name).to_string(),
                        value: text,
                        line: line(declarator),
                    });
                }
            }
        }
        out
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
}
