//! How facts reach a test: its own; those of the helpers it calls; those of the fixtures it
//! requests (by parameter, `usefixtures`, `autouse`); those of the set-up that runs for it (its
//! class's and base classes' `setUp`, its suites' hooks, setup files, Go's `TestMain`) — in its
//! own file or anywhere in its package view.
//!
//! Only facts move; what they mean is still decided by the rules. A fact found in another file
//! points at the line of the test's file that leads to it (the call, the requested fixture, the
//! test itself for set-up) and keeps where it really is in `via`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use super::super::facts::{Call, Fact, Serves, Unit, UnitKind};
use super::super::knowledge::target_of;
use super::super::lang::Language;
use super::{Parsed, Role, Run};

/// How many helpers, fixtures and files deep a test's facts are followed.
const MAX_DEPTH: usize = 16;

/// A fact as it reaches a unit.
#[derive(Debug, Clone)]
pub(crate) struct Reached {
    pub(crate) fact: Fact,
    /// The line of the unit's file the finding points at: the fact's own, or, for a fact in
    /// another file, the line where the unit uses what holds it.
    pub(crate) line: usize,
    /// Where the fact is, when it is in another file.
    pub(crate) via: Option<Place>,
}

/// A place in another file, and the fixture, helper or set-up it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    pub(crate) through: String,
}

/// The facts of every unit of a file, gathered through its package view.
pub(crate) struct Linked {
    /// Per unit, in the file's order: the facts that reach it (empty for helpers).
    pub(crate) facts: Vec<Vec<Reached>>,
    /// Set-up units of the file that run for at least one of its tests: what they do is
    /// reported under those tests, not again under their own name.
    pub(crate) serving: HashSet<usize>,
}

/// What a provider gives the unit it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Give {
    /// A helper the unit calls: everything it does, its checks included.
    Everything,
    /// A helper named as an existence check (`assertNotNil(t, v)`): what it does, its checks
    /// as weak ones whatever they compare.
    WeakChecks,
    /// A fixture or set-up: what it needs and starts, not its checks (they do not check the
    /// test's result) nor its markers.
    Services,
}

impl Give {
    /// The fact as the served unit gets it, if at all.
    fn give(self, fact: &Fact) -> Option<Fact> {
        match (self, fact) {
            (Give::Services, Fact::Assertion { .. } | Fact::IntegrationMarker) => None,
            (Give::WeakChecks, Fact::Assertion { .. }) => Some(Fact::Assertion { weak: true }),
            _ => Some(fact.clone()),
        }
    }

    /// What a helper called from a unit served so gives.
    fn through(self, call: &Call) -> Give {
        match self {
            Give::Everything if call.asserts_by_name == Some(true) => Give::WeakChecks,
            other => other,
        }
    }
}

/// A unit of a file, as the linker names it.
type Target = (Arc<Parsed>, usize);

/// Gathers the facts that reach each unit of `home`.
pub(crate) fn link(run: &Run<'_>, home: &Arc<Parsed>) -> Linked {
    let mut serving = HashSet::new();
    let facts = home
        .facts
        .units
        .iter()
        .enumerate()
        .map(|(index, unit)| {
            if unit.kind == UnitKind::Helper {
                return Vec::new();
            }
            let mut walk = Walk {
                run,
                home,
                receiver: Vec::new(),
                out: Vec::new(),
                visited: HashSet::new(),
                serving: &mut serving,
            };
            walk.receiver = walk.class_chain(home, unit.owner.as_deref());
            walk.unit(home, index, None, Give::Everything, 0);
            if unit.kind == UnitKind::Test {
                walk.fixtures_for_test(unit);
                walk.setup_for_test(unit);
            }
            walk.out
        })
        .collect();
    Linked { facts, serving }
}

struct Walk<'w, 'r, 'c> {
    run: &'r Run<'c>,
    home: &'r Arc<Parsed>,
    /// The classes of the unit being gathered, most derived first: `self.method()` anywhere in
    /// its set-up or helpers runs the definition these give first.
    receiver: Vec<(Arc<Parsed>, String)>,
    out: Vec<Reached>,
    /// Units already gathered for this test.
    visited: HashSet<(usize, usize)>,
    serving: &'w mut HashSet<usize>,
}

impl Walk<'_, '_, '_> {
    /// The entry line into `target` from a place whose entry is `entry`, leaving at `here`.
    fn enter(&self, target: &Arc<Parsed>, entry: Option<usize>, here: usize) -> Option<usize> {
        if Arc::ptr_eq(target, self.home) {
            entry
        } else {
            entry.or(Some(here))
        }
    }

    fn push(
        &mut self,
        fact: Fact,
        line: usize,
        file: &Parsed,
        entry: Option<usize>,
        through: &str,
    ) {
        let reached = match entry {
            None => Reached {
                fact,
                line,
                via: None,
            },
            Some(use_line) => Reached {
                fact,
                line: use_line,
                via: Some(Place {
                    file: file.shown.clone(),
                    line,
                    through: through.to_string(),
                }),
            },
        };
        self.out.push(reached);
    }

    /// Gathers unit `index` of `file`, reached through `entry` (`None` while in the home file).
    fn unit(
        &mut self,
        file: &Arc<Parsed>,
        index: usize,
        entry: Option<usize>,
        give: Give,
        depth: usize,
    ) {
        if depth > MAX_DEPTH || !self.visited.insert((Arc::as_ptr(file) as usize, index)) {
            return;
        }
        let Some(unit) = file.facts.units.get(index) else {
            return;
        };
        if depth > 0 && Arc::ptr_eq(file, self.home) && unit.kind == UnitKind::Setup {
            self.serving.insert(index);
        }
        for seen in &unit.seen {
            let Some(fact) = give.give(&seen.fact) else {
                continue;
            };
            if let Fact::RequestToConstant(name) = &fact {
                self.constant(file, name, seen.line, entry);
                continue;
            }
            self.push(fact, seen.line, file, entry, &unit.name);
        }
        for call in &unit.calls {
            self.call(file, unit, call, entry, give, depth);
        }
        // A fixture's or test's requests; a test's own are gathered with its autouse fixtures.
        if depth > 0 {
            let owner = unit.owner.clone();
            for (name, line) in &unit.requests {
                self.fixture(
                    file,
                    owner.as_deref(),
                    name,
                    *line,
                    entry,
                    Some(index),
                    depth,
                );
            }
        }
    }

    fn call(
        &mut self,
        file: &Arc<Parsed>,
        unit: &Unit,
        call: &Call,
        entry: Option<usize>,
        give: Give,
        depth: usize,
    ) {
        let targets = self.resolve_call(file, unit, call);
        if targets.is_empty() {
            // A check known by its name counts as the unit's own would, weakened likewise.
            if let Some(weak) = call.asserts_by_name
                && let Some(fact) = give.give(&Fact::Assertion { weak })
            {
                self.push(fact, call.line, file, entry, &unit.name);
            }
            return;
        }
        for (target, index) in targets {
            let next = self.enter(&target, entry, call.line);
            self.unit(&target, index, next, give.through(call), depth + 1);
        }
    }

    /// The helpers a call reaches: same-file functions of its name, methods of base classes,
    /// functions of the Go package, then what its import path names.
    fn resolve_call(&self, file: &Arc<Parsed>, unit: &Unit, call: &Call) -> Vec<Target> {
        let named = |parsed: &Arc<Parsed>, name: &str, owner: Option<&str>| -> Vec<Target> {
            parsed
                .helpers_named(name)
                .iter()
                .filter(|index| {
                    owner.is_none_or(|owner| {
                        parsed.facts.units[**index].owner.as_deref() == Some(owner)
                    })
                })
                .map(|index| (parsed.clone(), *index))
                .collect()
        };
        if call.on_self {
            for (class_file, class) in &self.receiver {
                let found = named(class_file, &call.name, Some(class));
                if !found.is_empty() {
                    return found;
                }
            }
        }
        if !call.name.is_empty() {
            let local = named(file, &call.name, None);
            if !local.is_empty() {
                return local;
            }
            for (class_file, class) in self.class_chain(file, unit.owner.as_deref()) {
                if !Arc::ptr_eq(&class_file, file) {
                    let inherited = named(&class_file, &call.name, Some(&class));
                    if !inherited.is_empty() {
                        return inherited;
                    }
                }
            }
            if file.language == Language::Go {
                let view = self.run.view(file);
                for sibling in view.with(|role| *role == Role::Sibling) {
                    if sibling.facts.package == file.facts.package {
                        let found = named(sibling, &call.name, None);
                        if !found.is_empty() {
                            return found;
                        }
                    }
                }
            }
        }
        let Some(path) = &call.path else {
            return Vec::new();
        };
        self.imported_all(file, path)
            .into_iter()
            .flat_map(|(module, member)| match member.rsplit_once('.') {
                Some((owner, name)) => named(&module, name, Some(owner)),
                None => named(&module, &member, None),
            })
            .collect()
    }

    /// The imported support files a dotted path goes into (a Go package has several), and the
    /// rest of the path there.
    fn imported_all(&self, file: &Arc<Parsed>, path: &str) -> Vec<(Arc<Parsed>, String)> {
        let view = self.run.view(file);
        let matches: Vec<(usize, Arc<Parsed>, String)> = view
            .support
            .iter()
            .filter_map(|support| match &support.role {
                Role::Import(name) => path
                    .strip_prefix(name.as_str())
                    .and_then(|rest| rest.strip_prefix('.'))
                    .filter(|member| !member.is_empty())
                    .map(|member| (name.len(), support.parsed.clone(), member.to_string())),
                _ => None,
            })
            .collect();
        // The longest import that prefixes the path names the module.
        let longest = matches.iter().map(|(length, _, _)| *length).max();
        matches
            .into_iter()
            .filter(|(length, _, _)| Some(*length) == longest)
            .map(|(_, parsed, member)| (parsed, member))
            .collect()
    }

    /// The first imported support file a dotted path goes into.
    fn imported(&self, file: &Arc<Parsed>, path: &str) -> Option<(Arc<Parsed>, String)> {
        self.imported_all(file, path).into_iter().next()
    }

    /// A request to a constant of another file: a network call when it holds a remote URL.
    fn constant(&mut self, file: &Arc<Parsed>, name: &str, line: usize, entry: Option<usize>) {
        let found = match self.imported(file, name) {
            Some((module, member)) => module
                .constant(&member)
                .cloned()
                .map(|constant| (module, constant)),
            None if file.language == Language::Go => {
                let view = self.run.view(file);
                view.with(|role| *role == Role::Sibling)
                    .filter(|sibling| sibling.facts.package == file.facts.package)
                    .find_map(|sibling| {
                        sibling
                            .constant(name)
                            .cloned()
                            .map(|c| (sibling.clone(), c))
                    })
            }
            None => None,
        };
        let Some((module, constant)) = found else {
            return;
        };
        let Some(target) = target_of(&constant.value) else {
            return;
        };
        let entry = self.enter(&module, entry, line);
        self.push(
            Fact::Network(target),
            constant.line,
            &module,
            entry,
            &constant.name,
        );
    }

    /// A fixture requested by `name` from a unit of `file` (owned by `owner`).
    #[allow(clippy::too_many_arguments)]
    fn fixture(
        &mut self,
        file: &Arc<Parsed>,
        owner: Option<&str>,
        name: &str,
        line: usize,
        entry: Option<usize>,
        requester: Option<usize>,
        depth: usize,
    ) {
        let exclude = requester.map(|index| (Arc::as_ptr(file) as usize, index));
        if let Some((target, index)) = self.find_fixture(file, owner, name, exclude) {
            let next = self.enter(&target, entry, line);
            self.unit(&target, index, next, Give::Services, depth + 1);
        }
    }

    /// Where pytest finds a fixture requested from `file`: the test's classes, the requester's
    /// class, its module, the `conftest.py` files from its folder up, then plugins. The
    /// requester itself is skipped, so a fixture that requests its own name gets the one it
    /// overrides.
    fn find_fixture(
        &self,
        file: &Arc<Parsed>,
        owner: Option<&str>,
        name: &str,
        exclude: Option<(usize, usize)>,
    ) -> Option<Target> {
        let usable = |parsed: &Arc<Parsed>, index: &usize, wanted: Option<&str>| {
            exclude != Some((Arc::as_ptr(parsed) as usize, *index))
                && parsed.facts.units[*index].owner.as_deref() == wanted
        };
        let pick = |parsed: &Arc<Parsed>, wanted: Option<&str>| {
            parsed
                .fixtures_named(name)
                .iter()
                .rev()
                .find(|index| usable(parsed, index, wanted))
                .map(|index| (parsed.clone(), *index))
        };
        // pytest looks a request up from the test: its class, then its base classes, so a
        // base class's fixture requesting `make_cache` gets the test class's override.
        for (parsed, class) in &self.receiver {
            if let Some(found) = pick(parsed, Some(class)) {
                return Some(found);
            }
        }
        if let Some(owner) = owner
            && let Some(found) = pick(file, Some(owner))
        {
            return Some(found);
        }
        if let Some(found) = pick(file, None) {
            return Some(found);
        }
        let view = self.run.view(file);
        let conftests = view.with(|role| matches!(role, Role::Conftest(_)));
        for conftest in conftests {
            if let Some(found) = pick(conftest, None) {
                return Some(found);
            }
        }
        view.with(|role| *role == Role::Plugin)
            .find_map(|plugin| pick(plugin, None))
    }

    /// The test's requested fixtures: its own, its module's `usefixtures`, and the `autouse`
    /// fixtures of its class, module, `conftest.py` chain and plugins.
    fn fixtures_for_test(&mut self, test: &Unit) {
        let home = self.home.clone();
        let owner = test.owner.as_deref();
        for (name, line) in &test.requests {
            self.fixture(&home, owner, name, *line, None, None, 0);
        }
        let module_requests: Vec<(String, usize)> = home
            .facts
            .units
            .iter()
            .filter(|unit| unit.kind == UnitKind::Module)
            .flat_map(|unit| unit.requests.iter().cloned())
            .collect();
        for (name, line) in module_requests {
            self.fixture(&home, owner, &name, line, None, None, 0);
        }
        let chain = self.class_chain(&home, owner);
        let in_scope = |parsed: &Arc<Parsed>, unit: &Unit| {
            unit.fixture.as_ref().is_some_and(|fixture| fixture.autouse)
                && match &unit.owner {
                    None => true,
                    Some(class) => chain
                        .iter()
                        .any(|(file, name)| Arc::ptr_eq(file, parsed) && name == class),
                }
        };
        let mut autouse: Vec<Target> = Vec::new();
        let view = self.run.view(&home);
        let files = std::iter::once(&home)
            .chain(view.with(|role| matches!(role, Role::Conftest(_) | Role::Plugin)));
        for parsed in files {
            for (index, unit) in parsed.facts.units.iter().enumerate() {
                if in_scope(parsed, unit) {
                    autouse.push((parsed.clone(), index));
                }
            }
        }
        for (target, index) in autouse {
            let next = self.enter(&target, None, test.line);
            self.unit(&target, index, next, Give::Services, 1);
        }
    }

    /// The set-up the framework runs for the test: of its class and base classes, its suites,
    /// its file, its Go package and its setup files.
    fn setup_for_test(&mut self, test: &Unit) {
        let home = self.home.clone();
        let chain = self.class_chain(&home, test.owner.as_deref());
        let serves_test = |parsed: &Arc<Parsed>, unit: &Unit| match unit.serves {
            Serves::Nothing | Serves::Requesters => false,
            Serves::File | Serves::Package => Arc::ptr_eq(parsed, &home),
            Serves::Owner => unit.owner.as_deref().is_some_and(|owner| {
                chain
                    .iter()
                    .any(|(file, class)| Arc::ptr_eq(file, parsed) && class == owner)
                    || Arc::ptr_eq(parsed, &home)
                        && test.owner.as_deref().is_some_and(|test_owner| {
                            test_owner
                                .strip_prefix(owner)
                                .is_some_and(|rest| rest.starts_with('/'))
                        })
            }),
        };
        let mut providers: Vec<Target> = Vec::new();
        let mut files = vec![home.clone()];
        files.extend(chain.iter().map(|(file, _)| file.clone()));
        let view = self.run.view(&home);
        for parsed in &files {
            for (index, unit) in parsed.facts.units.iter().enumerate() {
                if unit.kind == UnitKind::Setup && serves_test(parsed, unit) {
                    providers.push((parsed.clone(), index));
                }
            }
        }
        // `TestMain` and `init` run for the package's test binary, external tests included.
        let binary = |parsed: &Parsed| {
            parsed
                .facts
                .package
                .as_deref()
                .map(|package| package.strip_suffix("_test").unwrap_or(package).to_string())
        };
        for sibling in view.with(|role| *role == Role::Sibling) {
            if binary(sibling) != binary(&home) {
                continue;
            }
            for (index, unit) in sibling.facts.units.iter().enumerate() {
                if unit.serves == Serves::Package {
                    providers.push((sibling.clone(), index));
                }
            }
        }
        // A setup file is all set-up: its module-level code and its hooks run for every test.
        for setup in view.with(|role| *role == Role::Setup) {
            for (index, unit) in setup.facts.units.iter().enumerate() {
                if matches!(unit.kind, UnitKind::Module | UnitKind::Setup) {
                    providers.push((setup.clone(), index));
                }
            }
        }
        for (target, index) in providers {
            let next = self.enter(&target, None, test.line);
            self.unit(&target, index, next, Give::Services, 1);
        }
    }

    /// The class `owner` of `file` and every base class found in the file or its package view.
    fn class_chain(&self, file: &Arc<Parsed>, owner: Option<&str>) -> Vec<(Arc<Parsed>, String)> {
        let mut chain: Vec<(Arc<Parsed>, String)> = Vec::new();
        let Some(owner) = owner.filter(|owner| !owner.contains('/')) else {
            return chain;
        };
        let mut pending = vec![(file.clone(), owner.to_string())];
        let mut seen: HashSet<(usize, String)> = HashSet::new();
        while let Some((parsed, class)) = pending.pop() {
            if chain.len() > 16 || !seen.insert((Arc::as_ptr(&parsed) as usize, class.clone())) {
                continue;
            }
            let bases: Vec<String> = parsed
                .facts
                .classes
                .iter()
                .find(|c| c.name == class)
                .map(|c| c.bases.clone())
                .unwrap_or_default();
            chain.push((parsed.clone(), class));
            for base in bases {
                if parsed.facts.classes.iter().any(|c| c.name == base) {
                    pending.push((parsed.clone(), base));
                } else if let Some((module, member)) = self.imported(&parsed, &base)
                    && module.facts.classes.iter().any(|c| c.name == member)
                {
                    pending.push((module, member));
                }
            }
        }
        chain
    }
}
