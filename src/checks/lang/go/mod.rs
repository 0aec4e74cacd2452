//! Go front end: `func TestX(t *testing.T)` in `_test.go` files.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::super::facts::{Constant, Disabled, Fact, FileFacts, Serves, Unit, UnitKind};
use super::super::knowledge::calls::{CallSite, Connects, classify};
use super::super::knowledge::{go, is_existence_assertion, looks_like_assertion_helper};
use super::super::syntax::{NodeExt, call_arguments, descendants, line, text};
use super::Context;
use super::resolve::{Names, Resolve};
use super::scope::Bindings;

mod servers;
mod values;

/// `github.com/redis/go-redis/v9` as `github.com/redis/go-redis`.
fn without_version_suffix(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((rest, last))
            if last.len() > 1
                && last.starts_with('v')
                && last[1..].chars().all(|c| c.is_ascii_digit()) =>
        {
            rest
        }
        _ => path,
    }
}

/// The name a package is known by when imported without an alias: the import path's last
/// element, less a major-version suffix and `go-`/`-go`/`.go` decorations.
fn default_package_name(path: &str) -> String {
    let path = without_version_suffix(path);
    let name = path.rsplit('/').next().unwrap_or(path);
    name.trim_start_matches("go-")
        .trim_end_matches(".go")
        .trim_end_matches("-go")
        .replace('-', "_")
}

/// The import path a client pattern names (`*lib/pq.NewConnector` → `lib/pq`, wildcards
/// dropped) and that package's name, for patterns whose member starts with a capital.
fn pattern_package(pattern: &str) -> Option<(String, String)> {
    let after_slash = pattern.rfind('/').map_or(0, |at| at + 1);
    let member = pattern[after_slash..]
        .match_indices('.')
        .map(|(at, _)| after_slash + at)
        .find(|at| {
            pattern[at + 1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase() || c == '*')
        })?;
    let import = &pattern[..member];
    let trimmed = import.trim_end_matches('*');
    let last = trimmed.rsplit(['/', '*']).next().unwrap_or(trimmed);
    Some((import.replace('*', ""), default_package_name(last)))
}

/// Reads a parsed Go test file into facts.
pub(crate) fn facts(root: Node<'_>, source: &str, context: &Context<'_>) -> FileFacts {
    let mut file = GoFile {
        package: None,
        names: Names::new(source, &values::SHAPES),
        bindings: Bindings::new(Vec::new()),
        context,
        functions: HashSet::new(),
        types: HashSet::new(),
        scopes: Vec::new(),
        own_package: Vec::new(),
        function_nodes: HashMap::new(),
        method_nodes: Vec::new(),
        serving: HashSet::new(),
        dialers: Vec::new(),
    };
    let all = descendants(root, |_| false);
    // A test file inside a client library calls the client's functions without a qualifier.
    let mut cursor = root.walk();
    if let Some(package) = root
        .named_children(&mut cursor)
        .find(|n| n.node_kind() == "package_clause")
        .and_then(|clause| clause.named_child(0))
    {
        let package = file.text(package);
        file.package = Some(package.to_string());
        let package = package.strip_suffix("_test").unwrap_or(package);
        for pattern in go::CALLS
            .iter()
            .filter(|entry| entry.meaning.is_client())
            .flat_map(|entry| entry.callee.patterns())
        {
            if let Some((import, name)) = pattern_package(pattern)
                && name == package
                && !file.own_package.contains(&import)
            {
                file.own_package.push(import);
            }
        }
    }
    file.scopes = all
        .iter()
        .filter(|node| {
            matches!(
                node.node_kind(),
                "function_declaration" | "method_declaration"
            )
        })
        .map(tree_sitter::Node::byte_range)
        .collect();
    file.bindings = Bindings::new(file.scopes.clone());
    for node in &all {
        match node.node_kind() {
            "import_spec" => file.import(*node),
            "function_declaration" | "method_declaration" => {
                if let Some(name) = node.field("name") {
                    let name = file.text(name).to_string();
                    file.functions.insert(name.clone());
                    if node.node_kind() == "function_declaration" {
                        file.function_nodes.insert(name, *node);
                    } else {
                        file.method_nodes.push((name, *node));
                    }
                }
            }
            "type_spec" => {
                if let Some(name) = node.field("name") {
                    file.types.insert(file.text(name).to_string());
                }
            }
            "short_var_declaration" | "assignment_statement" | "var_spec" | "const_spec" => {
                file.bind(*node);
            }
            _ => {}
        }
    }
    // A package that imports the client it is named after wraps it: its own calls are its own.
    let imported: Vec<String> = file
        .names
        .imports
        .values()
        .map(|path| without_version_suffix(path).to_string())
        .collect();
    file.own_package
        .retain(|own| !imported.iter().any(|path| path.ends_with(own.as_str())));
    file.serving = file.serving_functions();
    file.dialers = all
        .iter()
        .filter(|node| node.node_kind() == "call_expression")
        .filter_map(|call| file.registered_dialer(*call))
        .collect();
    let mut module = Unit::new("<module>", UnitKind::Module, 1);
    let mut cursor = root.walk();
    for comment in root
        .named_children(&mut cursor)
        .filter(|c| c.node_kind() == "comment")
    {
        let comment_text = file.text(comment);
        if (comment_text.starts_with("//go:build") || comment_text.starts_with("// +build"))
            && comment_text
                .split(|c: char| !c.is_alphanumeric() && c != '!' && c != '_')
                .filter(|tag| !tag.starts_with('!'))
                // `docker_integration` names an integration build as `integration` does.
                .flat_map(|tag| tag.split('_'))
                .any(|word| go::INTEGRATION_TAGS.contains(&word))
        {
            module.see(Fact::IntegrationMarker, line(comment));
        }
    }
    let mut units = vec![];
    for node in &all {
        if matches!(
            node.node_kind(),
            "function_declaration" | "method_declaration"
        ) {
            units.push(file.function_unit(*node));
        } else if matches!(node.node_kind(), "var_declaration")
            && node
                .parent()
                .is_some_and(|p| p.node_kind() == "source_file")
        {
            for inner in descendants(*node, |_| false) {
                file.observe(inner, &mut module, "");
            }
        }
    }
    units.push(module);
    FileFacts {
        units,
        constants: file.constants(root),
        package: file.package.clone(),
        imports: support_imports(&file.names),
        ..FileFacts::default()
    }
}

/// Packages of the repository the tests import for support (`…/redistest`): their code is
/// followed like the package's own test files.
fn support_imports(names: &Names<'_>) -> Vec<String> {
    names
        .imports
        .values()
        .filter(|path| {
            path.rsplit('/')
                .next()
                .is_some_and(|last| last.to_ascii_lowercase().contains("test"))
                && path.contains('.')
        })
        .cloned()
        .collect()
}

struct GoFile<'s, 't, 'c> {
    /// The package clause.
    package: Option<String>,
    /// Source and imports by local name.
    names: Names<'s>,
    /// Every value bound to a name, with the function it is bound in.
    bindings: Bindings<'t>,
    context: &'c Context<'c>,
    functions: HashSet<String>,
    /// Types the file declares.
    types: HashSet<String>,
    /// Import paths of the client packages the file belongs to (see [`pattern_package`]).
    own_package: Vec<String>,
    /// The file's functions by name.
    function_nodes: HashMap<String, Node<'t>>,
    /// The file's methods by name.
    method_nodes: Vec<(String, Node<'t>)>,
    /// Functions of the file that start a server, directly or through another one.
    serving: HashSet<String>,
    /// Networks registered with go-sql-driver/mysql (`RegisterDialContext("name", dial)`): the
    /// function they are registered in, the name, and whether the dialer leaves the machine.
    dialers: Vec<(Option<usize>, String, bool)>,
    /// Byte ranges of the file's functions and methods: a name bound in one means nothing
    /// in another.
    scopes: Vec<std::ops::Range<usize>>,
}

impl<'s, 't, 'c> GoFile<'s, 't, 'c> {
    fn text(&self, node: Node<'_>) -> &'s str {
        text(node, self.names.source)
    }

    fn import(&mut self, spec: Node<'_>) {
        let Some(path) = spec.field("path").and_then(|p| self.string(p, 0)) else {
            return;
        };
        let local = match spec.field("name") {
            Some(name) => self.text(name).to_string(),
            None => default_package_name(&path),
        };
        if local != "_" && local != "." {
            self.names.imports.insert(local, path);
        }
    }

    fn bind(&mut self, node: Node<'t>) {
        let (left, right) = match node.node_kind() {
            "var_spec" | "const_spec" => (node.field("name"), node.field("value")),
            _ => (node.field("left"), node.field("right")),
        };
        let (Some(left), Some(right)) = (left, right) else {
            return;
        };
        let names: Vec<Node<'t>> = if left.node_kind() == "expression_list" {
            left.named_children(&mut left.walk()).collect()
        } else {
            vec![left]
        };
        let values: Vec<Node<'t>> = if right.node_kind() == "expression_list" {
            right.named_children(&mut right.walk()).collect()
        } else {
            vec![right]
        };
        // `x, err := f()` binds x to the call.
        for (index, name) in names.iter().enumerate() {
            let value = values.get(index).or(if values.len() == 1 {
                values.first()
            } else {
                None
            });
            if let (Some(value), "identifier") = (value, name.node_kind()) {
                self.bindings
                    .bind(self.text(*name), name.start_byte(), *value);
            }
        }
    }

    /// Start of the function or method holding `byte`, or `None` at package level.
    fn scope_of(&self, byte: usize) -> Option<usize> {
        self.scopes
            .iter()
            .find(|range| range.contains(&byte))
            .map(|range| range.start)
    }

    /// The value the identifier `at` holds where it is used.
    fn binding(&self, at: Node<'_>) -> Option<Node<'t>> {
        self.bindings.lookup(self.text(at), at.start_byte())
    }

    /// True when the test waits out a `time.After(d)` on its passing path: `<-time.After(d)` as
    /// a statement, or a `select` case on it that does not fail the test (a case that fails is
    /// a timeout guard: the test passes as soon as another case is ready).
    fn waits_for_timer(&self, call: Node<'_>) -> bool {
        let Some(receive) = call
            .parent()
            .filter(|p| p.node_kind() == "unary_expression" && self.text(*p).starts_with("<-"))
        else {
            return false;
        };
        let Some(holder) = receive.parent() else {
            return false;
        };
        match holder.node_kind() {
            "expression_statement" => true,
            "receive_statement" => {
                let Some(case) = holder
                    .parent()
                    .filter(|c| c.node_kind() == "communication_case")
                else {
                    return false;
                };
                let mut cursor = case.walk();
                let body: Vec<Node<'_>> = case
                    .named_children(&mut cursor)
                    .filter(|n| n.node_kind() == "statement_list")
                    .flat_map(|list| {
                        let mut cursor = list.walk();
                        list.named_children(&mut cursor).collect::<Vec<_>>()
                    })
                    .collect();
                !body.iter().any(|statement| self.fails_the_test(*statement))
            }
            _ => false,
        }
    }

    /// True for a statement that fails the test outright: `t.Fatal(...)`, `t.Error(...)`,
    /// `t.FailNow()`, `panic(...)`.
    /// True when the statement reports a failure: `t.Fatal(…)`, `require.FailNow(t, …)`,
    /// `assert.Fail(t, …)`, ginkgo's `Fail(…)`, `panic(…)`, or a helper handed the test's `t`.
    fn fails_the_test(&self, statement: Node<'_>) -> bool {
        let Some(call) = statement
            .named_child(0)
            .filter(|_| statement.node_kind() == "expression_statement")
            .filter(|c| c.node_kind() == "call_expression")
        else {
            return false;
        };
        let Some(function) = call.field("function") else {
            return false;
        };
        let hands_over_t = call_arguments(call)
            .iter()
            .any(|argument| matches!(self.text(*argument), "t" | "b"));
        hands_over_t
            || match function.node_kind() {
                "identifier" => matches!(self.text(function), "panic" | "Fail"),
                "selector_expression" => {
                    let operand = function.field("operand").map_or("", |o| self.text(o));
                    let field = function.field("field").map_or("", |f| self.text(f));
                    let testify = self
                        .names
                        .imports
                        .get(operand)
                        .is_some_and(|path| path.contains("testify/"));
                    testify
                        || (!self.names.imports.contains_key(operand)
                            && go::FAILING.contains(&field))
                }
                _ => false,
            }
    }

    fn function_unit(&self, function: Node<'t>) -> Unit {
        let name = function.field("name").map_or("", |n| self.text(n));
        let parameters = function.field("parameters");
        let parameters_text = parameters.map_or("", |p| self.text(p));
        let is_method = function.node_kind() == "method_declaration";
        // `TestMain` and a test file's `init` run before its tests, like a fixture: what they do
        // (`init() { ConnectAll() }`) is reported once, under their name.
        let kind = if !is_method && matches!(name, "TestMain" | "init") {
            UnitKind::Setup
        } else if !is_method
            && name.starts_with("Test")
            && parameters_text.contains("testing.T")
            && !name[4..].starts_with(|c: char| c.is_lowercase())
        {
            UnitKind::Test
        } else {
            UnitKind::Helper
        };
        // The name the test's *testing.T goes by, to recognise helpers that take it: the
        // parameter typed from `testing`, or a first one named like it. A helper's other first
        // parameters (`isNil(v interface{})`) hand nothing to check with.
        let declarations: Vec<Node<'t>> = parameters
            .map(|p| {
                let mut cursor = p.walk();
                p.named_children(&mut cursor).collect()
            })
            .unwrap_or_default();
        let name_of = |d: &Node<'t>| d.field("name").map(|n| self.text(n));
        let t_name = declarations
            .iter()
            .find(|d| {
                d.field("type")
                    .is_some_and(|t| self.text(t).contains("testing."))
            })
            .and_then(name_of)
            .or_else(|| {
                declarations
                    .first()
                    .and_then(name_of)
                    .filter(|n| matches!(*n, "t" | "tb"))
            })
            .unwrap_or("");
        let mut unit = Unit::new(name, kind, line(function));
        if kind == UnitKind::Setup {
            unit.serves = Serves::Package;
        }
        if let Some(body) = function.field("body") {
            // Comments before the first statement sit beside the statement list.
            let statements = body
                .named_children(&mut body.walk())
                .find(|s| s.node_kind() == "statement_list")
                .unwrap_or(body);
            let mut cursor = statements.walk();
            for statement in statements.named_children(&mut cursor) {
                if kind == UnitKind::Test && statement.node_kind() == "expression_statement" {
                    let call = statement
                        .named_child(0)
                        .filter(|c| c.node_kind() == "call_expression");
                    let callee = call
                        .and_then(|c| c.field("function"))
                        .map_or("", |f| self.text(f));
                    if [".Skip", ".SkipNow", ".Skipf"]
                        .iter()
                        .any(|s| callee == format!("{t_name}{s}"))
                    {
                        unit.disabled = Some((Disabled::Skip, line(statement)));
                        break;
                    }
                }
            }
            for node in descendants(body, |_| false) {
                self.observe(node, &mut unit, t_name);
            }
        }
        unit
    }

    fn observe(&self, node: Node<'t>, unit: &mut Unit, t_name: &str) {
        match node.node_kind() {
            "call_expression" => self.call(node, unit, t_name),
            // `var _ Interface = value`: the compiler checks that the value implements it.
            "var_spec"
                if node.field("type").is_some()
                    && node.field("value").is_some()
                    && node.field("name").is_some_and(|n| self.text(n) == "_") =>
            {
                unit.see(Fact::Assertion { weak: false }, line(node));
            }
            _ => {}
        }
    }

    fn call(&self, call: Node<'t>, unit: &mut Unit, t_name: &str) {
        let at = line(call);
        let Some(function) = call.field("function") else {
            return;
        };
        let Some(path) = self.path(function, 0) else {
            return;
        };
        let args: Vec<Node<'t>> = call_arguments(call);
        let last = path.rsplit('.').next().unwrap_or(&path);

        let site = GoCall {
            file: self,
            call,
            args: &args,
            helper: unit.kind == UnitKind::Helper,
        };
        if let Some(fact) = classify(go::CALLS, &path, &site) {
            unit.see(fact, at);
        }

        // A bare function of the file or the package is judged by its definition; by its name
        // (an assertion helper's, one handed `t`) only where none is found.
        let verdict = self.assertion(&path, last, function, &args, t_name);
        // `redistest.StartServer(t)`: a function of an imported package, followed where the
        // package is test support of the repository.
        let of_package = function.node_kind() == "selector_expression"
            && function
                .field("operand")
                .is_some_and(|o| self.names.imports.contains_key(self.text(o)));
        if self.context.is_configured_helper(&path, last) {
            if let Some(weak) = verdict {
                unit.see(Fact::Assertion { weak }, at);
            }
        } else if function.node_kind() == "identifier" {
            unit.call(self.text(function), None, at, verdict);
        } else if of_package {
            unit.call("", Some(path.clone()), at, verdict);
        } else if let Some(weak) = verdict {
            unit.see(Fact::Assertion { weak }, at);
        }
    }

    /// True when `node` sits in a function literal that serves HTTP requests.
    fn in_handler(&self, node: Node<'_>) -> bool {
        let mut current = node.parent();
        while let Some(parent) = current {
            match parent.node_kind() {
                "func_literal"
                    if parent
                        .field("parameters")
                        .is_some_and(|p| self.text(p).contains("ResponseWriter")) =>
                {
                    return true;
                }
                "function_declaration" | "method_declaration" => return false,
                _ => {}
            }
            current = parent.parent();
        }
        false
    }

    /// Package-level `const` and `var` names bound to a string with a known start.
    fn constants(&self, root: Node<'t>) -> Vec<Constant> {
        let mut out = Vec::new();
        let mut cursor = root.walk();
        for declaration in root.named_children(&mut cursor) {
            if !matches!(
                declaration.node_kind(),
                "const_declaration" | "var_declaration"
            ) {
                continue;
            }
            for spec in descendants(declaration, |_| false) {
                if !matches!(spec.node_kind(), "const_spec" | "var_spec") {
                    continue;
                }
                if let (Some(name), Some(value)) = (spec.field("name"), spec.field("value"))
                    && let Some(first) = value.named_child(0).or(Some(value))
                    && let Some(text) = self.string(first, 0).filter(|t| !t.is_empty())
                {
                    out.push(Constant {
                        name: self.text(name).to_string(),
                        value: text,
                        line: line(spec),
                    });
                }
            }
        }
        out
    }

    fn assertion(
        &self,
        path: &str,
        last: &str,
        function: Node<'_>,
        args: &[Node<'_>],
        t_name: &str,
    ) -> Option<bool> {
        if self.context.is_configured_helper(path, last) {
            return Some(false);
        }
        if function.node_kind() == "selector_expression" {
            let operand = function.field("operand").map_or("", |o| self.text(o));
            let is_package = self.names.imports.contains_key(operand);
            if !is_package && go::FAILING.contains(&last) {
                return Some(false);
            }
            if go::ASSERTION_LIBRARIES
                .iter()
                .any(|library| path.contains(library))
            {
                let weak = matches!(last, "NotNil" | "NotNilf")
                    || (matches!(last, "True" | "Truef")
                        && args.get(1).is_some_and(|a| a.node_kind() == "true"));
                return Some(weak);
            }
            if matches!(last, "Assert" | "Expect" | "Equal" | "Equals" | "Check") && !is_package {
                return Some(false);
            }
        }
        let passes_t = args.first().is_some_and(|a| self.text(*a) == t_name);
        if passes_t && !go::NOT_CHECKS.contains(&last) {
            return Some(is_existence_assertion(last));
        }
        if function.node_kind() == "identifier" && looks_like_assertion_helper(last) {
            return Some(is_existence_assertion(last));
        }
        None
    }
}

/// A call being classified, with Go's answers: durations, timers waited on, and whether a
/// client reaches a real server.
struct GoCall<'f, 's, 't, 'c> {
    file: &'f GoFile<'s, 't, 'c>,
    call: Node<'t>,
    args: &'f [Node<'t>],
    /// The call is in a helper, followed into whichever test calls it.
    helper: bool,
}

impl<'s, 't, 'c> CallSite<'t> for GoCall<'_, 's, 't, 'c> {
    /// `http.Get(apiURL + "/x")` with `apiURL` a constant of another file of the package.
    fn constant_name(&self, args: crate::checks::knowledge::calls::Args) -> Option<String> {
        let argument = args.iter().find_map(|arg| self.argument(*arg))?;
        let start = match argument.node_kind() {
            "binary_expression" => argument.field("left")?,
            "call_expression" => argument.field("arguments")?.named_child(0)?,
            _ => argument,
        };
        let name = self.file.text(start);
        (start.node_kind() == "identifier" && self.file.bound(name, start.start_byte()).is_none())
            .then(|| name.to_string())
    }

    type File = GoFile<'s, 't, 'c>;

    fn file(&self) -> &Self::File {
        self.file
    }

    fn positional(&self) -> &[Node<'t>] {
        self.args
    }

    /// A sleep in a server handler (`func(w http.ResponseWriter, r *http.Request)`) that a
    /// helper sets up holds up the reply to the one path it serves, which most tests of the
    /// helper never request; a handler the test writes itself is there for the test to call.
    fn seconds(&self, node: Node<'t>) -> Option<f64> {
        if self.helper && self.file.in_handler(self.call) {
            return None;
        }
        self.file.duration(node, 0)
    }

    fn timer_waits(&self) -> bool {
        self.file.waits_for_timer(self.call)
    }

    fn reaches_server(&self, connects: &Connects, what: &str) -> bool {
        match connects {
            Connects::Always | Connects::Driver(..) => self.file.connects_for_real(self.call, what),
            _ => true,
        }
    }

    /// `gorm.Open(postgres.Open(dsn))`: the dialector's package names the server.
    fn names_dialect(&self, dialects: &[&str]) -> bool {
        let dialector = self
            .args
            .first()
            .map(|a| self.file.path(*a, 0).unwrap_or_default())
            .unwrap_or_default();
        dialects.iter().any(|d| dialector.contains(d))
    }
}
