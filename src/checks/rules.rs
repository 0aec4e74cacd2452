//! The rules: turn a file's facts into findings, the same way for every language.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::facts::{Disabled, Fact, FileFacts, Seen, Target, Unit, UnitKind};
use super::model::{Finding, IntegrationPolicy, Rule, Severity};

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
                        scope.database_mock = true
                    }
                    Fact::StartsServer => scope.starts_server = true,
                    Fact::SetsEnv => scope.sets_env = true,
                    Fact::IntegrationMarker if unit.kind == UnitKind::Module => {
                        scope.integration = true
                    }
                    _ => {}
                }
            }
        }
        scope
    }
}

/// Applies every rule to one file's facts.
pub(crate) fn findings(path: &Path, facts: &FileFacts, treatment: Treatment) -> Vec<Finding> {
    let scope = FileScope::of(facts);
    let file_is_integration = treatment.integration_path || scope.integration;
    if file_is_integration && treatment.policy == IntegrationPolicy::Skip {
        return Vec::new();
    }
    let helpers: HashMap<&str, Vec<&Unit>> = facts
        .units
        .iter()
        .filter(|unit| unit.kind == UnitKind::Helper)
        .fold(HashMap::new(), |mut by_name, unit| {
            by_name.entry(unit.name.as_str()).or_default().push(unit);
            by_name
        });

    let mut out = Vec::new();
    // A helper shared by several tests is reported once per test that reaches it.
    let mut reported: HashSet<(Rule, usize, &str)> = HashSet::new();
    for unit in facts
        .units
        .iter()
        .filter(|unit| unit.kind != UnitKind::Helper)
    {
        let seen = reachable_facts(unit, &helpers);
        let unit_is_integration =
            file_is_integration || seen.iter().any(|s| s.fact == Fact::IntegrationMarker);
        if unit_is_integration && treatment.policy == IntegrationPolicy::Skip {
            continue;
        }
        let mut unit_findings = Vec::new();
        rules_for_unit(unit, &seen, &scope, &mut unit_findings);
        let mut unit_rules: HashSet<Rule> = HashSet::new();
        for (rule, severity, line, message) in unit_findings {
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
            out.push(Finding {
                rule,
                severity,
                file: path.to_path_buf(),
                line,
                test: unit.name.clone(),
                message,
            });
        }
    }
    out.sort_by_key(|a| (a.line, a.rule));
    out
}

/// The unit's own facts plus those of every same-file helper it reaches.
fn reachable_facts<'a>(unit: &'a Unit, helpers: &HashMap<&str, Vec<&'a Unit>>) -> Vec<&'a Seen> {
    let mut seen: Vec<&Seen> = unit.seen.iter().collect();
    let mut visited: HashSet<&str> = HashSet::new();
    let mut pending: Vec<&str> = unit.calls.iter().map(String::as_str).collect();
    while let Some(name) = pending.pop() {
        if !visited.insert(name) {
            continue;
        }
        for helper in helpers.get(name).into_iter().flatten() {
            seen.extend(helper.seen.iter());
            pending.extend(helper.calls.iter().map(String::as_str));
        }
    }
    seen
}

type Raw = (Rule, Severity, usize, String);

fn rules_for_unit(unit: &Unit, seen: &[&Seen], scope: &FileScope, out: &mut Vec<Raw>) {
    if let Some((how, line)) = &unit.disabled {
        match how {
            Disabled::Skip => {
                // A skipped test never runs, so nothing else about it matters.
                out.push((
                    Rule::DisabledTest,
                    Severity::Medium,
                    *line,
                    "test is skipped unconditionally".to_string(),
                ));
                return;
            }
            Disabled::Only => out.push((
                Rule::DisabledTest,
                Severity::High,
                *line,
                "test is focused with .only, which skips every other test".to_string(),
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
        let line = s.line;
        match &s.fact {
            Fact::Docker(what) => out.push((
                Rule::Docker,
                Severity::High,
                line,
                format!("starts or drives containers ({what})"),
            )),
            Fact::RealDb(what) if !database_mock => out.push((
                Rule::RealDb,
                Severity::High,
                line,
                format!("connects to a real database or cache ({what})"),
            )),
            Fact::ServiceSubprocess(program) => out.push((
                Rule::ServiceSubprocess,
                Severity::High,
                line,
                format!("spawns the service binary `{program}`"),
            )),
            // The seed's checker treats a sleep over a second as a failing unit test.
            Fact::Sleep(seconds) if *seconds > SLOW_SLEEP_SECONDS && !fake_clock => out.push((
                Rule::SlowSleep,
                Severity::High,
                line,
                format!("sleeps {} s", format_seconds(*seconds)),
            )),
            Fact::Network(Target::Remote(host)) if !network_mock => out.push((
                Rule::Network,
                Severity::High,
                line,
                format!("calls the real host {host} with no mock in scope"),
            )),
            // A test that already connects a real database or container is reported for that;
            // the local port it also dials is the same missing service.
            Fact::Network(Target::LoopbackPort(address))
                if !network_mock && !starts_server && !uses_real_service =>
            {
                out.push((
                    Rule::NeedsService,
                    Severity::High,
                    line,
                    format!("needs a service already listening on {address}"),
                ))
            }
            Fact::ServiceFromEnv(variable) if !sets_env && !uses_real_service => out.push((
                Rule::NeedsService,
                Severity::High,
                line,
                format!("needs a running service whose address comes from ${variable}"),
            )),
            _ => {}
        }
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
