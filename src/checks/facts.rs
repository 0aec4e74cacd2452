//! What a language front end reports about one test file, in terms every rule understands.
//!
//! Front ends read the syntax tree; rules only read these facts, so each rule is written once for
//! all four languages. Facts also say how a file's units connect to other files (the helpers
//! they call, the fixtures they request, the set-up that serves them), so that the package view
//! can carry a fixture's or a helper's facts to the tests that use it.

/// Where a piece of code runs from the test framework's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnitKind {
    /// A test: a function or block the framework runs and reports.
    Test,
    /// Code that runs around tests: fixtures, setUp, beforeEach, TestMain.
    Setup,
    /// A same-file function tests may call; its facts count only through the callers.
    Helper,
    /// Top-level code of the file.
    Module,
}

/// How a test is switched off or focused, as written in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Disabled {
    /// Skipped without a condition (`@pytest.mark.skip`, `it.skip`, `#[ignore]`, `t.Skip()`).
    Skip,
    /// Focused (`.only`, `fit`), which silently disables every other test.
    Only,
}

/// A kind of host a network call goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A host outside this machine.
    Remote(String),
    /// A loopback host with a fixed, non-zero port: a service must already listen there.
    LoopbackPort(String),
}

/// One observation inside a unit, with its 1-based line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fact {
    /// A container client, container runtime subprocess or compose call.
    Docker(String),
    /// A client that connects to a real database or cache.
    RealDb(String),
    /// A spawned service or database binary.
    ServiceSubprocess(String),
    /// A sleep of a known duration in seconds.
    Sleep(f64),
    /// A network call with a known target.
    Network(Target),
    /// A service address taken from the environment.
    ServiceFromEnv(String),
    /// An assertion; `weak` when it cannot fail on a wrong value.
    Assertion { weak: bool },
    /// Time is faked (fake timers, patched sleep, paused tokio clock).
    FakeClock,
    /// Network is mocked (responses, respx, nock, msw, wiremock, patched clients).
    NetworkMock,
    /// The database or cache client itself is patched or replaced with a stub.
    DatabaseMock,
    /// The test starts a server itself (httptest, a listener, a fake server fixture).
    StartsServer,
    /// The test sets environment variables itself.
    SetsEnv,
    /// The unit is marked as an integration or end-to-end test.
    IntegrationMarker,
    /// A request to the URL a name from another file holds (`httpx.get(API + "/x")` with `API`
    /// imported): the package view turns it into a [`Fact::Network`] when it finds the constant.
    RequestToConstant(String),
}

/// A fact with the line it was seen on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Seen {
    pub(crate) fact: Fact,
    pub(crate) line: usize,
}

/// A call to a function the unit does not define, followed into the helper wherever the file
/// or its package view defines it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    /// The name the file calls it by (`helper()`, `self.helper()` and Go's `helper(t)` as
    /// `helper`); empty when only an import path names it (`utils.helper()`).
    pub(crate) name: String,
    /// The dotted path an import gives it (`tests.utils.start_redis`, `./helpers.connectDb`,
    /// `common.connect`), when it comes from another file.
    pub(crate) path: Option<String>,
    pub(crate) line: usize,
    /// Where no definition is found: `Some(weak)` when the call reads as an assertion by its
    /// name alone (`assert_valid(x)`, a Go helper handed `t`).
    pub(crate) asserts_by_name: Option<bool>,
    /// Called on the instance (`self.helper()`): the most derived class of the test that runs
    /// it decides which definition runs, as for any method.
    pub(crate) on_self: bool,
}

/// Which tests a piece of set-up runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Serves {
    /// None: the unit is a test, a helper or the module.
    Nothing,
    /// The tests that request it by name, directly or through other fixtures (a pytest fixture).
    Requesters,
    /// Every test of its class or suite (its `owner`), nested ones and subclasses included.
    Owner,
    /// Every test of its file; in a `conftest.py` or a setup file, of every file it covers.
    File,
    /// Every test of its package (Go's `TestMain` and `init`).
    Package,
}

/// A pytest fixture's name and how it is requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fixture {
    /// The name tests request it by (the function's, or `name=`).
    pub(crate) name: String,
    /// `autouse=True`: every test in its scope requests it.
    pub(crate) autouse: bool,
    /// Its string parameters (`params=["redis_cache", "memory_cache"]`), which
    /// `request.getfixturevalue(request.param)` requests in turn.
    pub(crate) params: Vec<String>,
}

/// A test, fixture, helper or the module itself.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub(crate) name: String,
    pub(crate) kind: UnitKind,
    /// 1-based line of the definition (where no-assertion findings point).
    pub(crate) line: usize,
    /// How the unit is disabled, and the line that does it.
    pub(crate) disabled: Option<(Disabled, usize)>,
    pub(crate) seen: Vec<Seen>,
    /// Functions this unit calls that it does not define (followed for assertions and services).
    pub(crate) calls: Vec<Call>,
    /// Fixtures it requests by name (parameters, `usefixtures`), with the line that asks.
    pub(crate) requests: Vec<(String, usize)>,
    /// For set-up: which tests it runs for.
    pub(crate) serves: Serves,
    /// For a fixture: how it is requested.
    pub(crate) fixture: Option<Fixture>,
    /// The class or suite the unit is defined in, as a path of nested names (`TestA.Nested`,
    /// or suite positions in JavaScript); `None` at file level.
    pub(crate) owner: Option<String>,
    /// Containers such as `describe` blocks or JS suites have no body of their own to check.
    pub(crate) checks_assertions: bool,
}

impl Unit {
    pub(crate) fn new(name: impl Into<String>, kind: UnitKind, line: usize) -> Unit {
        Unit {
            name: name.into(),
            kind,
            line,
            disabled: None,
            seen: Vec::new(),
            calls: Vec::new(),
            requests: Vec::new(),
            serves: Serves::Nothing,
            fixture: None,
            owner: None,
            checks_assertions: kind == UnitKind::Test,
        }
    }

    pub(crate) fn see(&mut self, fact: Fact, line: usize) {
        self.seen.push(Seen { fact, line });
    }

    /// Records a call to a function defined elsewhere in the file or the package.
    pub(crate) fn call(
        &mut self,
        name: impl Into<String>,
        path: Option<String>,
        line: usize,
        asserts_by_name: Option<bool>,
    ) {
        self.calls.push(Call {
            name: name.into(),
            path,
            line,
            asserts_by_name,
            on_self: false,
        });
    }

    /// Records a call of a method on the instance (`self.helper()`, `self.conn`).
    pub(crate) fn call_on_self(
        &mut self,
        name: impl Into<String>,
        line: usize,
        asserts_by_name: Option<bool>,
    ) {
        self.call(name, None, line, asserts_by_name);
        if let Some(call) = self.calls.last_mut() {
            call.on_self = true;
        }
    }
}

/// A class of the file and what it inherits from, for set-up and helpers of base classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Class {
    /// Its path of nested names, as units' `owner` gives it.
    pub(crate) name: String,
    /// Its bases as dotted paths through the file's imports (`tests.base.DatabaseTestCase`).
    pub(crate) bases: Vec<String>,
}

/// A module-level name bound to a static string (`API = "https://…"`), with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Constant {
    pub(crate) name: String,
    pub(crate) value: String,
    pub(crate) line: usize,
}

/// Everything a front end found in one file.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileFacts {
    pub(crate) units: Vec<Unit>,
    /// Classes with their bases (Python).
    pub(crate) classes: Vec<Class>,
    /// What the file imports from the repository, as written: Python dotted modules (leading
    /// dots for relative ones), JavaScript relative specifiers, Rust `mod` files.
    pub(crate) imports: Vec<String>,
    /// Modules named in `pytest_plugins`.
    pub(crate) plugins: Vec<String>,
    /// Module-level string constants, for hosts read from a constant.
    pub(crate) constants: Vec<Constant>,
    /// The Go package clause (`store`, `store_test`).
    pub(crate) package: Option<String>,
}
