//! The rules: turn the facts that reach each test into findings, the same way for every
//! language. Which facts reach a test (its own, its helpers', its fixtures', its set-up's, in
//! its file or its package view) is the linker's answer; the rules only read facts.

use std::collections::HashSet;
use std::path::Path;

use super::facts::{Disabled, Fact, FileFacts, Target, Unit, UnitKind};
use super::model::{Finding, IntegrationPolicy, Rule, Severity, Via};
use super::package::link::{Linked, Reached};

/// Sleeps longer than this many seconds slow the suite down for nothing.
const SLOW_SLEEP_SECONDS: f64 = 1.0;

/// Rules reported at the first offending line of each test only.
const ONCE_PER_UNIT: &[Rule] = &[
    Rule::Docker,
    Rule::RealDb,
    Rule::ServiceSubprocess,
    Rule::Network,
    Rule::NeedsService,
];

/// How the file's tests count: unit tests, or integration tests by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Treatment {
    pub(crate) integration_path: bool,
    pub(crate) policy: IntegrationPolicy,
}

/// Flags that hold for the whole file because some unit in it sets them up.
#[derive(Default)]
struct FileScope {
    fake_clock: bool,
    network_mock: bool,
    database_mock: bool,
    starts_server: bool,
    sets_env: bool,
    integration: bool,
}

impl FileScope {
    fn of(facts: &FileFacts) -> FileScope {
        let mut scope = FileScope::default();
        // What a test sets up for itself covers that test only; what the module, a fixture or
        // a hook sets up covers the file.
        for unit in facts
            .units
            .iter()
            .filter(|unit| unit.kind != UnitKind::Test)
        {
            for seen in &unit.seen {
                match seen.fact {
                    Fact::FakeClock => scope.fake_clock = true,
                    Fact::NetworkMock => scope.network_mock = true,
                    // A stubbed client only covers the class or test that stubs it.
                    Fact::DatabaseMock if unit.kind == UnitKind::Module => {
                        scope.database_mock = true;
                    }
                    Fact::StartsServer => scope.starts_server = true,
                    Fact::SetsEnv => scope.sets_env = true,
                    Fact::IntegrationMarker if unit.kind == UnitKind::Module => {
                        scope.integration = true;
                    }
                    _ => {}
                }
            }
        }
        scope
    }
}

/// Applies every rule to one file's units, each with the facts that reach it.
pub(crate) fn findings(
    path: &Path,
    facts: &FileFacts,
    linked: &Linked,
    treatment: Treatment,
) -> Vec<Finding> {
    let scope = FileScope::of(facts);
    let file_is_integration = treatment.integration_path || scope.integration;
    if file_is_integration && treatment.policy == IntegrationPolicy::Skip {
        return Vec::new();
    }

    let mut out = Vec::new();
    // A helper shared by several tests is reported once per test that reaches it.
    let mut reported: HashSet<(Rule, usize, &str)> = HashSet::new();
    for (index, unit) in facts.units.iter().enumerate() {
        // Set-up that runs for a test of the file is reported under that test.
        if unit.kind == UnitKind::Helper || linked.serving.contains(&index) {
            continue;
        }
        let seen: Vec<&Reached> = linked.facts.get(index).into_iter().flatten().collect();
        let unit_is_integration =
            file_is_integration || seen.iter().any(|s| s.fact == Fact::IntegrationMarker);
        if unit_is_integration && treatment.policy == IntegrationPolicy::Skip {
            continue;
        }
        let mut unit_findings = Vec::new();
        rules_for_unit(unit, &seen, &scope, &mut unit_findings);
        let mut unit_rules: HashSet<Rule> = HashSet::new();
        for (rule, severity, line, message, via) in unit_findings {
            // One dependency on a service is enough to tell per test; later uses of the same
            // client would only repeat it.
            if ONCE_PER_UNIT.contains(&rule) && !unit_rules.insert(rule) {
                continue;
            }
            if !reported.insert((rule, line, unit.name.as_str())) {
                continue;
            }
            let severity = if unit_is_integration {
                Severity::Low
            } else {
                severity
            };
            let message = match &via {
                Some(place) => format!(
                    "{message} → {}:{} (in `{}`)",
                    place.file.display(),
                    place.line,
                    place.through
                ),
                None => message,
            };
            out.push(Finding {
                rule,
                severity,
                file: path.to_path_buf(),
                line,
                test: unit.name.clone(),
                message,
                via: via.map(|place| Via {
                    file: place.file,
                    line: place.line,
                }),
            });
        }
    }
    out.sort_by_key(|a| (a.line, a.rule));
    out
}

/// A finding before it is attached to its unit: rule, severity, line, message, other place.
type Raw = (
    Rule,
    Severity,
    usize,
    String,
    Option<super::package::link::Place>,
);

fn rules_for_unit(unit: &Unit, seen: &[&Reached], scope: &FileScope, out: &mut Vec<Raw>) {
    if let Some((how, line)) = &unit.disabled {
        match how {
            Disabled::Skip => {
                // A skipped test never runs, so nothing else about it matters.
                out.push((
                    Rule::DisabledTest,
                    Severity::Medium,
                    *line,
                    "test is skipped unconditionally".to_string(),
                    None,
                ));
                return;
            }
            Disabled::Only => out.push((
                Rule::DisabledTest,
                Severity::High,
                *line,
                "test is focused with .only, which skips every other test".to_string(),
                None,
            )),
        }
    }
    let has = |wanted: fn(&Fact) -> bool| seen.iter().any(|s| wanted(&s.fact));
    let fake_clock = scope.fake_clock || has(|f| *f == Fact::FakeClock);
    let network_mock = scope.network_mock || has(|f| *f == Fact::NetworkMock);
    let database_mock = scope.database_mock || has(|f| *f == Fact::DatabaseMock);
    let starts_server = scope.starts_server || has(|f| *f == Fact::StartsServer);
    let sets_env = scope.sets_env || has(|f| *f == Fact::SetsEnv);
    let uses_real_service = has(|f| matches!(f, Fact::RealDb(_) | Fact::Docker(_)));

    for s in seen {
        let message = match &s.fact {
            Fact::Docker(what) => format!("starts or drives containers ({what})"),
            Fact::RealDb(what) if !database_mock => {
                format!("connects to a real database or cache ({what})")
            }
            Fact::ServiceSubprocess(program) => format!("spawns the service binary `{program}`"),
            // The seed's checker treats a sleep over a second as a failing unit test.
            Fact::Sleep(seconds) if *seconds > SLOW_SLEEP_SECONDS && !fake_clock => {
                format!("sleeps {} s", format_seconds(*seconds))
            }
            Fact::Network(Target::Remote(host)) if !network_mock => {
                format!("calls the real host {host} with no mock in scope")
            }
            // A test that already connects a real database or container is reported for that;
            // the local port it also dials is the same missing service.
            Fact::Network(Target::LoopbackPort(address))
                if !network_mock && !starts_server && !uses_real_service =>
            {
                format!("needs a service already listening on {address}")
            }
            Fact::ServiceFromEnv(variable) if !sets_env && !uses_real_service => {
                format!("needs a running service whose address comes from ${variable}")
            }
            _ => continue,
        };
        let rule = match &s.fact {
            Fact::Docker(_) => Rule::Docker,
            Fact::RealDb(_) => Rule::RealDb,
            Fact::ServiceSubprocess(_) => Rule::ServiceSubprocess,
            Fact::Sleep(_) => Rule::SlowSleep,
            Fact::Network(Target::Remote(_)) => Rule::Network,
            _ => Rule::NeedsService,
        };
        out.push((rule, Severity::High, s.line, message, s.via.clone()));
    }

    if unit.kind == UnitKind::Test && unit.checks_assertions {
        let assertions: Vec<(bool, usize)> = seen
            .iter()
            .filter_map(|s| match s.fact {
                Fact::Assertion { weak } => Some((weak, s.line)),
                _ => None,
            })
            .collect();
        if assertions.is_empty() {
            out.push((
                Rule::NoAssertion,
                Severity::High,
                unit.line,
                "test makes no assertion".to_string(),
                None,
            ));
        } else if assertions.iter().all(|(weak, _)| *weak) {
            let line = assertions
                .iter()
                .map(|(_, line)| *line)
                .min()
                .unwrap_or(unit.line);
            out.push((
                Rule::WeakAssertion,
                Severity::Medium,
                line,
                "test only makes assertions that cannot fail on a wrong value".to_string(),
                None,
            ));
        }
    }
}

fn format_seconds(seconds: f64) -> String {
    if seconds.fract() == 0.0 {
        format!("{seconds:.0}")
    } else {
        format!("{seconds}")
    }
}
