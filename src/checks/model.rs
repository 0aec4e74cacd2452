//! Report types, rule identities, configuration and errors of the test-quality check.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How bad a finding is. Only `High` fails `check-tests` and goes back to the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
        })
    }
}

/// One rule of the check; the serialized name is the rule ID printed in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    Docker,
    RealDb,
    SlowSleep,
    Network,
    NeedsService,
    ServiceSubprocess,
    NoAssertion,
    WeakAssertion,
    DisabledTest,
}

impl Rule {
    /// Every rule, in report order.
    pub const ALL: [Rule; 9] = [
        Rule::Docker,
        Rule::RealDb,
        Rule::SlowSleep,
        Rule::Network,
        Rule::NeedsService,
        Rule::ServiceSubprocess,
        Rule::NoAssertion,
        Rule::WeakAssertion,
        Rule::DisabledTest,
    ];

    /// The rule ID used in text and JSON output and in fixture expectations.
    pub fn id(self) -> &'static str {
        match self {
            Rule::Docker => "docker",
            Rule::RealDb => "real-db",
            Rule::SlowSleep => "slow-sleep",
            Rule::Network => "network",
            Rule::NeedsService => "needs-service",
            Rule::ServiceSubprocess => "service-subprocess",
            Rule::NoAssertion => "no-assertion",
            Rule::WeakAssertion => "weak-assertion",
            Rule::DisabledTest => "disabled-test",
        }
    }

    /// Parses a rule ID as printed by [`Rule::id`].
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.id() == id)
    }

    /// What to do instead, phrased for the agent that has to fix the test.
    pub fn fix_hint(self) -> &'static str {
        match self {
            Rule::Docker => {
                "Do not start containers in a unit test: replace the container with an in-memory fake or a mock of the client, or move the test under an integration/ path."
            }
            Rule::RealDb => {
                "Do not connect to a real database or cache in a unit test: use an in-memory SQLite database, a fake (fakeredis, mongomock, miniredis, pg-mem) or a mock of the repository layer."
            }
            Rule::SlowSleep => {
                "Do not sleep for more than a second: use a fake clock (jest/vitest fake timers, tokio::time::pause, an injected clock) or wait on the condition itself."
            }
            Rule::Network => {
                "Do not call real hosts from a unit test: mock the transport (responses, respx, httpx.MockTransport, nock, msw, httptest, wiremock) or inject a fake client."
            }
            Rule::NeedsService => {
                "Do not depend on a service that must already be running (a localhost port or a URL from the environment): start a fake server inside the test on port 0, or mock the client."
            }
            Rule::ServiceSubprocess => {
                "Do not spawn database or service binaries from a unit test: use an in-process fake or mock, or move the test under an integration/ path."
            }
            Rule::NoAssertion => {
                "Assert on the behaviour under test: check the returned value, the state change or the raised error, not just that the code ran."
            }
            Rule::WeakAssertion => {
                "Replace the weak assertion (always true, or only 'not None'/'defined') with one that checks the actual value."
            }
            Rule::DisabledTest => {
                "Do not skip tests unconditionally or focus them with .only: make the test pass, or delete it if it is obsolete."
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One problem in one test, pointing at the line that causes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    pub file: PathBuf,
    /// 1-based line of the call, statement or declaration at fault.
    pub line: usize,
    /// The test (or fixture, hook, `<module>`) the problem belongs to.
    pub test: String,
    pub message: String,
    /// Where the problem is when it is in another file than the test (a `conftest.py` fixture,
    /// a helper module, a setup file); `line` is then where the test uses it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
}

/// A place in another file that a finding comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Via {
    pub file: PathBuf,
    /// 1-based line of the call, statement or declaration at fault there.
    pub line: usize,
}

impl Finding {
    /// What to do instead, for the prompt that asks the agent to fix this finding.
    pub fn fix_hint(&self) -> &str {
        self.rule.fix_hint()
    }
}

/// The outcome of checking a set of test files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// Every file that was checked, in the order given.
    pub files: Vec<PathBuf>,
    /// Findings ordered by file (as given), then line, then rule.
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// True when at least one finding is HIGH: the check fails.
    pub fn has_high(&self) -> bool {
        self.findings
            .iter()
            .any(|finding| finding.severity == Severity::High)
    }

    /// The HIGH findings only: what goes back to the agent.
    pub fn high_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|finding| finding.severity == Severity::High)
    }
}

/// What to do with tests that are not unit tests (integration paths or markers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationPolicy {
    /// Report nothing for them.
    #[default]
    Skip,
    /// Report their findings, all as LOW.
    Downgrade,
}

/// Settings of the check (`[checks]` in kmilestone.toml).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct ChecksConfig {
    /// Names of project assertion helpers defined outside the test file (last path segment or
    /// full dotted name), counted as assertions.
    pub assertion_helpers: Vec<String>,
    /// A file with any path component equal to one of these is an integration test.
    pub integration_paths: Vec<String>,
    /// What happens to integration tests.
    pub integration: IntegrationPolicy,
}

impl Default for ChecksConfig {
    fn default() -> Self {
        ChecksConfig {
            assertion_helpers: Vec::new(),
            integration_paths: ["integration", "e2e", "integration_tests", "functional"]
                .into_iter()
                .map(String::from)
                .collect(),
            integration: IntegrationPolicy::Skip,
        }
    }
}

/// Why a check could not run. Every variant names the file or revision at fault.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot read test file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("test file {path} is not valid UTF-8")]
    NotUtf8 { path: PathBuf },
    #[error("{path} is not a Python, JavaScript, TypeScript, Rust or Go file")]
    UnsupportedLanguage { path: PathBuf },
    #[error("the parser gave up on {path}")]
    ParseFailed { path: PathBuf },
    #[error("checking {path} failed unexpectedly (a bug in the checker)")]
    Crashed { path: PathBuf },
    #[error("cannot list test files changed since {rev}: {detail}")]
    Git { rev: String, detail: String },
    #[error("cannot write the report: {0}")]
    Output(#[source] std::io::Error),
}

impl CheckError {
    /// The same error again, for a file whose failed read is shared by everything that asked
    /// for it (I/O errors cannot be cloned; their kind and text are kept).
    pub(crate) fn duplicate(&self) -> CheckError {
        match self {
            CheckError::Unreadable { path, source } => CheckError::Unreadable {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            CheckError::NotUtf8 { path } => CheckError::NotUtf8 { path: path.clone() },
            CheckError::UnsupportedLanguage { path } => {
                CheckError::UnsupportedLanguage { path: path.clone() }
            }
            CheckError::ParseFailed { path } => CheckError::ParseFailed { path: path.clone() },
            CheckError::Crashed { path } => CheckError::Crashed { path: path.clone() },
            CheckError::Git { rev, detail } => CheckError::Git {
                rev: rev.clone(),
                detail: detail.clone(),
            },
            CheckError::Output(source) => {
                CheckError::Output(std::io::Error::new(source.kind(), source.to_string()))
            }
        }
    }
}
