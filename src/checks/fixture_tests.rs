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
            } else if super::lang::Language::of(&path).is_some() {
                // Manifests beside the fixtures (a `Cargo.toml` naming a crate) are context.
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `(line, rule)` pairs from `# expect: rule[, rule]` or `// expect: ...` comments.
fn expectations(path: &Path) -> BTreeSet<(usize, String)> {
    expected_places(path)
        .into_iter()
        .map(|(line, rule, _)| (line, rule))
        .collect()
}

/// An expected finding: its line, its rule, and the other file and line it comes from.
type Expected = (usize, String, Option<(String, usize)>);

/// Expectations with the other file they name, if any: `# expect: real-db (via
/// tests/conftest.py:11)` says the finding comes from line 11 of a file whose path ends so.
fn expected_places(path: &Path) -> BTreeSet<Expected> {
    let source = std::fs::read_to_string(path).expect("fixture is UTF-8");
    let mut out = BTreeSet::new();
    for (index, line) in source.lines().enumerate() {
        let marker = line
            .split_once("# expect: ")
            .or_else(|| line.split_once("// expect: "));
        if let Some((_, rules)) = marker {
            for expected in rules.split(',') {
                let (rule, via) = match expected.split_once("(via ") {
                    Some((rule, place)) => {
                        let place = place.trim().trim_end_matches(')');
                        let (file, at) = place.rsplit_once(':').expect("via FILE:LINE");
                        let at = at.parse().expect("via line is a number");
                        (rule.trim(), Some((file.to_string(), at)))
                    }
                    None => (expected.trim(), None),
                };
                assert!(
                    Rule::from_id(rule).is_some(),
                    "{}:{}: unknown rule {rule}",
                    path.display(),
                    index + 1
                );
                out.insert((index + 1, rule.to_string(), via));
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
        // A finding that comes from another file names it, as the expectation says.
        for (line, rule, via) in expected_places(&path) {
            let Some((file, at)) = via else { continue };
            let named = report.findings.iter().any(|f| {
                f.line == line
                    && f.rule.id() == rule
                    && f.via
                        .as_ref()
                        .is_some_and(|v| v.file.ends_with(&file) && v.line == at)
            });
            if !named {
                let vias: Vec<_> = report
                    .findings
                    .iter()
                    .filter(|f| f.line == line && f.rule.id() == rule)
                    .map(|f| &f.via)
                    .collect();
                failures.push(format!(
                    "{}:{line}: {rule} should come from {file}:{at}, comes from {vias:?}",
                    path.display()
                ));
            }
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

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?} failed");
}

#[test]
fn since_checks_changed_and_untracked_test_files_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    git(root, &["init", "-q"]);
    std::fs::write(
        root.join("test_old.py"),
        "def test_old():\n    assert 1 + 1 == 2\n",
    )
    .unwrap();
    std::fs::write(root.join("app.py"), "x = 1\n").unwrap();
    git(root, &["add", "."]);
    git(root, &["commit", "-qm", "start"]);
    std::fs::write(
        root.join("test_new.py"),
        "import time\n\ndef test_new():\n    time.sleep(3)\n    assert 2 * 2 == 4\n",
    )
    .unwrap();
    std::fs::write(root.join("app.py"), "x = 2\n").unwrap();

    let mut out = Vec::new();
    let code = super::run_command(
        &[],
        Some("HEAD"),
        true,
        &ChecksConfig::default(),
        root,
        &mut out,
    )
    .expect("check runs");
    let report: serde_json::Value = serde_json::from_slice(&out).expect("JSON output");
    let files: Vec<String> = report["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            f.as_str()
                .unwrap_or("")
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(files, ["test_new.py"]);
    assert_eq!(report["findings"][0]["rule"], "slow-sleep");
    assert_eq!(report["findings"][0]["line"], 4);
    assert_eq!(report["findings"][0]["severity"], "HIGH");
    assert_eq!(code, 1, "a slow sleep fails the check");
}

#[test]
fn bad_revision_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    git(dir.path(), &["init", "-q"]);
    let mut out = Vec::new();
    let error = super::run_command(
        &[],
        Some("no-such-rev"),
        false,
        &ChecksConfig::default(),
        dir.path(),
        &mut out,
    )
    .unwrap_err();
    assert!(error.to_string().contains("no-such-rev"), "{error}");
}

#[test]
fn text_report_has_the_table_and_high_findings_exit_1() {
    let path = fixture_root().join("python/test_docker.py");
    let mut out = Vec::new();
    let code = super::run_command(
        &[path],
        None,
        false,
        &ChecksConfig::default(),
        Path::new("."),
        &mut out,
    )
    .expect("check runs");
    let text = String::from_utf8(out).expect("UTF-8");
    assert!(
        text.starts_with("## Unit Test Quality Check: ISSUES FOUND\n"),
        "{text}"
    );
    assert!(
        text.contains("| File:Line | Test | Issue | Severity |"),
        "{text}"
    );
    assert!(
        text.contains("test_docker.py:8 | test_container_starts | docker: "),
        "{text}"
    );
    assert_eq!(code, 1);

    let clean = fixture_root().join("python/test_negatives.py");
    let mut out = Vec::new();
    let code = super::run_command(
        &[clean],
        None,
        false,
        &ChecksConfig::default(),
        Path::new("."),
        &mut out,
    )
    .expect("check runs");
    assert!(
        String::from_utf8(out)
            .unwrap()
            .starts_with("## Unit Test Quality Check: PASS")
    );
    assert_eq!(code, 0);
}

#[test]
fn configured_assertion_helpers_count_as_assertions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("test_helpers.py");
    std::fs::write(
        &path,
        "from support import verify_shape\n\ndef test_shape():\n    ensure_shape([1])\n",
    )
    .unwrap();
    let default = check_paths(std::slice::from_ref(&path), &ChecksConfig::default()).unwrap();
    assert_eq!(default.findings.len(), 1, "{:?}", default.findings);
    let config = ChecksConfig {
        assertion_helpers: vec!["ensure_shape".to_string()],
        ..ChecksConfig::default()
    };
    assert!(check_paths(&[path], &config).unwrap().findings.is_empty());
}

mod no_panic {
    use proptest::prelude::*;

    use super::super::model::ChecksConfig;

    /// Fragments of real test code, so random mixes reach deep into the front ends.
    const FRAGMENTS: &[&str] = &[
        "def test_x(self):\n",
        "    assert ",
        "time.sleep(",
        "2 * ",
        "x = requests.Session()\n",
        "it('a', async (done) => {",
        "expect(x).toBe(",
        "});\n",
        "#[test]\nfn t() {",
        "assert_eq!(",
        "}\n",
        "func TestX(t *testing.T) {",
        "time.Sleep(2 * time.Second)\n",
        "\"http://localhost:80\"",
        "(",
        ")",
        "[",
        "]",
        "{",
        ",",
        "\n",
        "    ",
        "@pytest.mark.skip\n",
        "import os\n",
        "os.environ['DATABASE_URL']",
        "a := b\n",
        "b = a\n",
        "`${x}`",
        "'''",
        "\"",
        "!",
        "::",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn any_mix_of_fragments_is_checked_without_panicking(
            picks in proptest::collection::vec(0..FRAGMENTS.len(), 0..80),
            language in 0usize..5,
        ) {
            let source: String = picks.iter().map(|&i| FRAGMENTS[i]).collect();
            let name = ["test_x.py", "x.test.ts", "x.test.js", "x.rs", "x_test.go"][language];
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join(name);
            std::fs::write(&path, &source).expect("write");
            super::super::check_paths(&[path], &ChecksConfig::default()).expect("checks");
        }
    }
}
