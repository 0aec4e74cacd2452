//! JavaScript and TypeScript front end: jest, vitest, mocha and node:test files.

use std::collections::HashSet;

use tree_sitter::Node;

use super::super::facts::{Disabled, Fact, FileFacts, Unit, UnitKind};
use super::super::knowledge::calls::{Arg, CallSite, classify, patched};
use super::super::knowledge::{
    is_existence_assertion, is_service_env, javascript, looks_like_assertion_helper,
};
use super::super::syntax::{NodeExt, call_arguments, descendants, line, matches_any, text};
use super::Context;
use super::resolve::{Names, Resolve, Shapes, plain_number};
use super::scope::Bindings;

/// Reads a parsed JavaScript or TypeScript test file into facts.
pub(crate) fn facts(root: Node<'_>, source: &str, context: &Context<'_>) -> FileFacts {
    let mut file = JsFile {
        names: Names::new(source, &SHAPES),
        bindings: Bindings::file_wide(),
        context,
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
        self.call.node_kind() == "call_expression" && self.file.inside_promise(self.call)
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
                    let name = inner.field("name").map(|n| self.text(n)).unwrap_or("");
                    let alias = inner.field("alias").map(|n| self.text(n)).unwrap_or(name);
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

    /// The base name of a framework call (`it`, `test.only`, `describe.each(...)`).
    fn framework_call(&self, node: Node<'_>) -> Option<Framework> {
        if node.node_kind() != "call_expression" {
            return None;
        }
        let callee = self.callee_chain(node)?;
        let base = callee.split('.').next()?;
        if javascript::TEST_FUNCTIONS.contains(&base)
            || (base == "t" && callee.starts_with("t.test"))
        {
            Some(Framework::Test)
        } else if javascript::SUITE_FUNCTIONS.contains(&base) {
            Some(Framework::Suite)
        } else if javascript::HOOKS.contains(&base) {
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
        let last = path.rsplit('.').next().unwrap_or(&path);
        if function.node_kind() == "identifier" {
            unit.calls.push(self.text(function).to_string());
        }

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
        if (javascript::EXPECT_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix))
            || chain.starts_with("expect("))
            && function.node_kind() == "member_expression"
        {
            return Some(self.is_weak_expect(call, last, args));
        }
        if path.starts_with("expect.") && matches!(last, "assertions" | "hasAssertions") {
            return Some(false);
        }
        let is_assert_module = path == "assert"
            || javascript::ASSERT_MODULE_PREFIXES
                .iter()
                .any(|prefix| path.starts_with(prefix))
            || path.contains(".should.")
            || chain.starts_with("t.assert")
            || matches_any(javascript::TAP_ASSERTIONS, chain);
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
