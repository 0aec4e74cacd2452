//! Runs the check over every fixture and compares findings with the `expect:` comments.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::model::{ChecksConfig, IntegrationPolicy, Rule};
use super::{check_paths, is_test_file};

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/checks")
}

fn fixtures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![fixture_root()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("fixture folder is readable") {
            let path = entry.expect("fixture entry is readable").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `(line, rule)` pairs from `expect: rule[, rule]` comments.
fn expectations(path: &Path) -> BTreeSet<(usize, String)> {
    let source = std::fs::read_to_string(path).expect("fixture is UTF-8");
    let mut out = BTreeSet::new();
    for (index, line) in source.lines().enumerate() {
        if let Some((_, rules)) = line.split_once("expect: ") {
            for rule in rules.split(',') {
                let rule = rule.trim();
                assert!(
                    Rule::from_id(rule).is_some(),
                    "{}:{}: unknown rule {rule}",
                    path.display(),
                    index + 1
                );
                out.insert((index + 1, rule.to_string()));
            }
        }
    }
    out
}

#[test]
fn every_fixture_yields_exactly_its_expected_findings() {
    let config = ChecksConfig::default();
    let mut failures = Vec::new();
    let files = fixtures();
    assert!(
        files.len() >= 36,
        "expected the fixture corpus, found {} files",
        files.len()
    );
    for path in files {
        let report =
            check_paths(std::slice::from_ref(&path), &config).expect("fixture is checkable");
        let found: BTreeSet<(usize, String)> = report
            .findings
            .iter()
            .map(|f| (f.line, f.rule.id().to_string()))
            .collect();
        let expected = expectations(&path);
        if found != expected {
            let missing: Vec<_> = expected.difference(&found).collect();
            let extra: Vec<_> = found.difference(&expected).collect();
            failures.push(format!(
                "{}\n  missing: {missing:?}\n  extra:   {extra:?}",
                path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "fixtures disagree with the checker:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_rule_has_a_positive_fixture_in_every_language() {
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for path in fixtures() {
        let language = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_string();
        let language = if language == "js" {
            "ts".to_string()
        } else {
            language
        };
        for (_, rule) in expectations(&path) {
            seen.insert((language.clone(), rule));
        }
    }
    let mut missing = Vec::new();
    for language in ["py", "ts", "rs", "go"] {
        for rule in Rule::ALL {
            if !seen.contains(&(language.to_string(), rule.id().to_string())) {
                missing.push(format!("{language}:{rule}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "rules without a positive fixture: {missing:?}"
    );
}

#[test]
fn integration_files_are_downgraded_when_configured() {
    let path = fixture_root().join("integration/test_db_integration.py");
    let config = ChecksConfig {
        integration: IntegrationPolicy::Downgrade,
        ..ChecksConfig::default()
    };
    let report = check_paths(&[path], &config).expect("fixture is checkable");
    assert!(!report.findings.is_empty());
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.severity == super::Severity::Low)
    );
}

#[test]
fn unreadable_and_non_utf8_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("test_bad.py");
    std::fs::write(&bad, [0xff, 0xfe, 0x00]).expect("write");
    let error = check_paths(std::slice::from_ref(&bad), &ChecksConfig::default()).unwrap_err();
    assert!(error.to_string().contains("test_bad.py"), "{error}");
    let missing = dir.path().join("test_missing.py");
    let error = check_paths(&[missing], &ChecksConfig::default()).unwrap_err();
    assert!(error.to_string().contains("test_missing.py"), "{error}");
}

#[test]
fn test_files_are_recognised_by_name() {
    assert!(is_test_file(Path::new("tests/test_api.py")));
    assert!(is_test_file(Path::new("src/app.test.ts")));
    assert!(is_test_file(Path::new("pkg/server_test.go")));
    assert!(is_test_file(Path::new("tests/cli.rs")));
    assert!(!is_test_file(Path::new("src/app.ts")));
    assert!(!is_test_file(Path::new("README.md")));
}

#[test]
fn arbitrary_bytes_never_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let garbage = "def test_(:\n  assert (((\n}}} fn #[test] func Test( it('x', () => { expect(";
    for extension in ["py", "ts", "tsx", "js", "rs", "go"] {
        let path = dir.path().join(format!("test_garbage.{extension}"));
        std::fs::write(&path, garbage).expect("write");
        check_paths(&[path], &ChecksConfig::default()).expect("garbage still parses");
    }
}
