//! Plans against their `expected.json`: the project's own fixtures on every run, and the real
//! plans of `../shared/corpus` when that folder is there.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{SharedDir, corpus_dir, kmilestone, run, shared_dir_decision};

#[test]
fn the_shared_folder_rule_reads_skips_or_fails() {
    let dir = Path::new("/nowhere/shared/corpus");
    assert_eq!(
        shared_dir_decision(dir, true, false),
        SharedDir::Read(dir.to_path_buf())
    );
    assert_eq!(
        shared_dir_decision(dir, true, true),
        SharedDir::Read(dir.to_path_buf())
    );
    assert_eq!(
        shared_dir_decision(dir, false, false),
        SharedDir::Skip(
            "skipped: /nowhere/shared/corpus is not there (set CI=true to make its absence a failure)"
                .to_string()
        )
    );
    assert_eq!(
        shared_dir_decision(dir, false, true),
        SharedDir::Fail(
            "/nowhere/shared/corpus is not there, and under CI=true the tests that read it must run"
                .to_string()
        )
    );
}

#[test]
fn every_corpus_plan_matches_its_expected_status() {
    let Some(corpus) = corpus_dir() else {
        return;
    };
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(corpus)
        .expect("read the corpus folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    for dir in entries {
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
                .unwrap();
        let plan = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.ends_with(".md") && !name.starts_with("HANDOFF")
            })
            .expect("a plan in each corpus folder");
        let (output, stdout, stderr) = run(kmilestone().args(["status", "--json"]).arg(&plan));
        let duplicates = expected["duplicates"].as_array().unwrap();
        if !duplicates.is_empty() {
            assert_eq!(
                output.status.code(),
                Some(2),
                "{}: {stderr}",
                plan.display()
            );
            for id in duplicates {
                assert!(stderr.contains(id.as_str().unwrap()), "{stderr}");
            }
            checked += 1;
            continue;
        }
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {stderr}",
            plan.display()
        );
        let got: Value = serde_json::from_str(&stdout).unwrap();
        let context = dir.display();
        assert_eq!(got["milestone"], expected["milestone"], "{context}");
        let ids: Vec<&Value> = got["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| &t["id"])
            .collect();
        let expected_ids: Vec<&Value> = expected["tasks"].as_array().unwrap().iter().collect();
        assert_eq!(ids, expected_ids, "{context}");
        let handoff_name = got["handoff"].as_str().map(|p| {
            std::path::Path::new(p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        });
        assert_eq!(
            handoff_name.as_deref(),
            expected["handoff"].as_str(),
            "{context}"
        );
        for field in ["completed", "unknown_completed", "blocked", "next"] {
            assert_eq!(got[field], expected[field], "{context}: {field}");
        }
        checked += 1;
    }
    assert!(checked >= 11, "only {checked} corpus folders found");
}

/// The folders of `dir`, sorted.
fn folders(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("a list, got {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// The project's own plans (tests/fixtures/plans/README.md lists the variant each holds), each
/// read in a scratch repository of its own so that paths from the repository root are the
/// fixture's, against its `expected.json`: status fields, diagnostics and lint output exactly.
#[test]
fn every_fixture_plan_matches_its_expected_status() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans");
    let cases = folders(&fixtures);
    assert!(cases.len() >= 16, "only {} fixture folders", cases.len());
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap())
                .unwrap_or_else(|err| panic!("{name}/expected.json: {err}"));
        let repo = tempfile::tempdir().unwrap();
        copy_dir(&case, repo.path());
        std::fs::create_dir(repo.path().join(".git")).unwrap();
        let plan = expected["plan"].as_str().expect("plan");
        let in_repo = |args: &[&str]| run(kmilestone().current_dir(repo.path()).args(args));

        let (output, stdout, stderr) = in_repo(&["status", "--json", plan]);
        match expected.get("status_exit") {
            Some(code) => {
                assert_eq!(
                    output.status.code(),
                    code.as_i64().map(|c| c as i32),
                    "{name}"
                );
                assert_eq!(
                    lines(&stderr),
                    strings(&expected["status_stderr"]),
                    "{name}"
                );
            }
            None => {
                assert_eq!(output.status.code(), Some(0), "{name}: {stderr}");
                let got: Value = serde_json::from_str(&stdout).unwrap();
                let ids: Vec<_> = got["tasks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| &t["id"])
                    .collect();
                let expected_ids: Vec<_> = expected["tasks"].as_array().unwrap().iter().collect();
                assert_eq!(ids, expected_ids, "{name}: tasks");
                let handoff = got["handoff"].as_str().map(|p| {
                    Path::new(p)
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned()
                });
                assert_eq!(
                    handoff.as_deref(),
                    expected["handoff"].as_str(),
                    "{name}: handoff"
                );
                for field in [
                    "milestone",
                    "name",
                    "completed",
                    "unknown_completed",
                    "blocked",
                    "next",
                ] {
                    assert_eq!(got[field], expected[field], "{name}: {field}");
                }
                let diagnostics: Vec<String> = got["warnings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|w| {
                        format!(
                            "{}:{}: {}: {}",
                            w["file"].as_str().unwrap(),
                            w["line"],
                            w["level"].as_str().unwrap(),
                            w["message"].as_str().unwrap()
                        )
                    })
                    .collect();
                assert_eq!(
                    diagnostics,
                    strings(&expected["diagnostics"]),
                    "{name}: diagnostics"
                );
            }
        }

        let (output, stdout, _) = in_repo(&["lint", plan]);
        assert_eq!(
            output.status.code().map(i64::from),
            expected["lint_exit"].as_i64(),
            "{name}: lint exit"
        );
        assert_eq!(lines(&stdout), strings(&expected["lint"]), "{name}: lint");
    }
}
