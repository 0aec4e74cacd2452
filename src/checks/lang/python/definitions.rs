//! Python definitions: tests, fixtures, set-up methods and helpers, with their decorators,
//! classes and the fixtures they request.

use tree_sitter::Node;

use super::super::super::facts::{Class, Disabled, Fact, Fixture, Serves, Unit, UnitKind};
use super::super::super::knowledge::{is_service_env, python};
use super::super::super::syntax::{NodeExt, descendants, line, matches_any};
use super::super::resolve::Resolve;
use super::{PythonFile, is_integration_mark};

/// What a fixture requests when it calls `request.getfixturevalue(request.param)`: each of its
/// parameters, resolved once the decorator has been read.
pub(super) const PARAM_FIXTURE: &str = "request.param";

/// The class a definition sits in, as far as test discovery and set-up care.
pub(super) struct ClassInfo {
    is_test_class: bool,
    /// Its path of nested names (`TestA.Nested`).
    path: String,
}

/// What the definitions of a file add up to.
#[derive(Default)]
pub(super) struct Definitions {
    pub(super) units: Vec<Unit>,
    pub(super) classes: Vec<Class>,
    /// Paths of the classes found to be test classes so far.
    pub(super) test_classes: Vec<String>,
}

impl<'t> PythonFile<'_, 't, '_> {
    pub(super) fn collect_definitions(
        &self,
        node: Node<'t>,
        class: Option<&ClassInfo>,
        out: &mut Definitions,
    ) {
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
                    let name = definition.field("name").map_or("", |n| self.text(n));
                    let superclasses = definition.field("superclasses");
                    let bases_text = superclasses.map_or("", |b| self.text(b));
                    // `test_*` classes are collected by projects that set `python_classes = test_*` (kombu, celery).
                    let bases: Vec<String> = superclasses
                        .map(|list| {
                            let mut cursor = list.walk();
                            list.named_children(&mut cursor)
                                .filter(|base| base.node_kind() != "keyword_argument")
                                .filter_map(|base| self.path(base, 0))
                                .collect()
                        })
                        .unwrap_or_default();
                    // A class deriving from a test class of the file is one too
                    // (`class EqualityTest(_ComparisonTest)`).
                    let is_test_class = name.starts_with("Test")
                        || name.starts_with("test_")
                        || bases_text.contains("TestCase")
                        || bases.iter().any(|base| out.test_classes.contains(base));
                    let path = match class {
                        Some(outer) => format!("{}.{name}", outer.path),
                        None => name.to_string(),
                    };
                    if is_test_class {
                        out.test_classes.push(path.clone());
                    }
                    out.classes.push(Class {
                        name: path.clone(),
                        bases,
                    });
                    let mut marker_unit = Unit::new(name, UnitKind::Setup, line(definition));
                    for decorator in &decorators {
                        self.decorator(*decorator, &mut marker_unit);
                    }
                    let class_units_start = out.units.len();
                    let info = ClassInfo {
                        is_test_class,
                        path,
                    };
                    self.collect_definitions(definition, Some(&info), out);
                    let units = &mut out.units;
                    // Stubs made in the class's setUp cover the class's tests.
                    let class_stubs: Vec<_> = units[class_units_start..]
                        .iter()
                        .filter(|unit| unit.kind == UnitKind::Setup)
                        .flat_map(|unit| unit.seen.iter())
                        .filter(|seen| seen.fact == Fact::DatabaseMock)
                        .cloned()
                        .collect();
                    // Class decorators (skip, integration marks, `usefixtures`) apply to every
                    // method.
                    for unit in &mut units[class_units_start..] {
                        if unit.kind == UnitKind::Test {
                            unit.seen.extend(class_stubs.iter().cloned());
                            if unit.disabled.is_none() {
                                unit.disabled = marker_unit.disabled.clone();
                            }
                            unit.seen.extend(marker_unit.seen.iter().cloned());
                            unit.requests.extend(marker_unit.requests.iter().cloned());
                        }
                    }
                }
                "function_definition" => {
                    out.units
                        .push(self.function_unit(definition, &decorators, class));
                }
                "expression_statement" => {
                    if let Some(unit) = class.and_then(|c| self.property_alias(definition, c)) {
                        out.units.push(unit);
                    }
                }
                _ => {}
            }
        }
    }

    fn function_unit(
        &self,
        function: Node<'t>,
        decorators: &[Node<'t>],
        class: Option<&ClassInfo>,
    ) -> Unit {
        let name = function.field("name").map_or("", |n| self.text(n));
        let is_fixture = decorators.iter().any(|decorator| {
            decorator
                .named_child(0)
                .and_then(|expression| self.path(expression, 0))
                .is_some_and(|path| matches_any(python::FIXTURE_DECORATORS, &path))
        });
        let in_test_scope = class.is_none_or(|c| c.is_test_class);
        let kind = if is_fixture || python::SETUP_METHODS.contains(&name) {
            UnitKind::Setup
        } else if name.starts_with("test") && in_test_scope {
            UnitKind::Test
        } else {
            UnitKind::Helper
        };
        let mut unit = Unit::new(name, kind, line(function));
        unit.owner = class.map(|c| c.path.clone());
        if is_fixture {
            unit.serves = Serves::Requesters;
            unit.fixture = Some(Fixture {
                name: name.to_string(),
                autouse: false,
                params: Vec::new(),
            });
        } else if kind == UnitKind::Setup {
            // `setUp` serves its class; `setup_module` and `setup_function` the whole file.
            unit.serves = if class.is_some() {
                Serves::Owner
            } else {
                Serves::File
            };
        }
        for decorator in decorators {
            self.decorator(*decorator, &mut unit);
        }
        let requests_fixtures = kind == UnitKind::Test || is_fixture;
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
                // A parameter with a default, `*args` or `**kwargs` requests no fixture.
                if requests_fixtures
                    && matches!(parameter.node_kind(), "identifier" | "typed_parameter")
                    && name_node.node_kind() == "identifier"
                    && !python::NOT_FIXTURES.contains(&parameter_name)
                {
                    unit.requests.push((parameter_name.to_string(), at));
                }
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
                // A helper that raises when a condition fails is a check (`if r.status != 200:
                // raise AssertionError(r)`).
                if kind == UnitKind::Helper
                    && node.node_kind() == "raise_statement"
                    && within_if(node, body)
                {
                    unit.see(Fact::Assertion { weak: false }, line(node));
                }
            }
        }
        // `request.getfixturevalue(request.param)` fetches each fixture named in `params`.
        if let Some(fixture) = &unit.fixture
            && let Some(at) = unit
                .requests
                .iter()
                .position(|(name, _)| name == PARAM_FIXTURE)
        {
            let (_, line) = unit.requests.remove(at);
            let params = fixture.params.clone();
            unit.requests
                .extend(params.into_iter().map(|param| (param, line)));
        }
        unit
    }

    /// `conn = property(_get_conn, _set_conn)` in a class: reading `self.conn` calls the getter.
    fn property_alias(&self, statement: Node<'t>, class: &ClassInfo) -> Option<Unit> {
        let assignment = statement
            .named_child(0)
            .filter(|a| a.node_kind() == "assignment")?;
        let name = assignment
            .field("left")
            .filter(|n| n.node_kind() == "identifier")?;
        let value = assignment
            .field("right")
            .filter(|v| v.node_kind() == "call")?;
        if value.field("function").map(|f| self.text(f)) != Some("property") {
            return None;
        }
        let (positional, keywords) = self.arguments(value);
        let getter = positional
            .first()
            .copied()
            .or_else(|| keywords.iter().find(|(k, _)| *k == "fget").map(|(_, v)| *v))
            .filter(|g| g.node_kind() == "identifier")?;
        let mut unit = Unit::new(self.text(name), UnitKind::Helper, line(assignment));
        unit.owner = Some(class.path.clone());
        unit.call(self.text(getter), None, line(getter), None);
        Some(unit)
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
        let (positional, keywords) = if has_arguments {
            self.arguments(expression)
        } else {
            (Vec::new(), Vec::new())
        };
        if matches_any(python::USEFIXTURES, &path) {
            for argument in &positional {
                if let Some(name) = self.string(*argument, 0) {
                    unit.requests.push((name, at));
                }
            }
        }
        if let Some(fixture) = unit.fixture.as_mut()
            && matches_any(python::FIXTURE_DECORATORS, &path)
        {
            for (keyword, value) in &keywords {
                match *keyword {
                    "autouse" => fixture.autouse = self.text(*value) == "True",
                    "name" => {
                        if let Some(name) = self.string(*value, 0) {
                            fixture.name = name;
                        }
                    }
                    // `params=["a", pytest.param("b", marks=…)]`.
                    "params" => {
                        let mut cursor = value.walk();
                        for item in value.named_children(&mut cursor) {
                            let item = match item.node_kind() {
                                "call" => self.arguments(item).0.first().copied(),
                                _ => Some(item),
                            };
                            if let Some(param) = item.and_then(|i| self.string(i, 0)) {
                                fixture.params.push(param);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
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
}

/// True when `node` sits in an `if` inside `body`.
fn within_if(node: Node<'_>, body: Node<'_>) -> bool {
    let mut current = node.parent();
    while let Some(parent) = current {
        if parent == body {
            return false;
        }
        if matches!(
            parent.node_kind(),
            "if_statement" | "elif_clause" | "else_clause"
        ) {
            return true;
        }
        current = parent.parent();
    }
    false
}
