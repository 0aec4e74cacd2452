//! What a language front end reports about one test file, in terms every rule understands.
//!
//! Front ends read the syntax tree; rules only read these facts, so each rule is written once for
//! all four languages.

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
}

/// A fact with the line it was seen on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Seen {
    pub(crate) fact: Fact,
    pub(crate) line: usize,
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
    /// Names of same-file functions this unit calls (followed for assertions and services).
    pub(crate) calls: Vec<String>,
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
            checks_assertions: kind == UnitKind::Test,
        }
    }

    pub(crate) fn see(&mut self, fact: Fact, line: usize) {
        self.seen.push(Seen { fact, line });
    }
}

/// Everything a front end found in one file.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileFacts {
    pub(crate) units: Vec<Unit>,
}
