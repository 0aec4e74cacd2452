//! Every real plan of the corpus, read in place, against its `expected.json`.

use serde_json::Value;

use std::path::Path;

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
