//! Throughput of the unit-test quality check on the fixture corpus: the single-file fixtures
//! of each language, and its multi-file fixtures read with their package view.

use std::path::{Path, PathBuf};

use kmilestone::checks::{ChecksConfig, check_paths};

fn main() {
    divan::main();
}

fn fixture_files(language: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/checks")
        .join(language);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[divan::bench(args = ["python", "typescript", "rust", "go"])]
fn check_fixture_folder(bencher: divan::Bencher, language: &str) {
    let files = fixture_files(language);
    let config = ChecksConfig::default();
    bencher
        .counter(divan::counter::ItemsCount::new(files.len()))
        .bench(|| {
            check_paths(divan::black_box(&files), &config).map(|report| report.findings.len())
        });
}

/// The multi-file fixtures of a language (`python/conftest_chain`, `go/helper_package`…),
/// given as folders: each test file is checked with its package view.
fn package_folders(language: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/checks")
        .join(language);
    let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    folders.sort();
    folders
}

#[divan::bench(args = ["python", "typescript", "rust", "go"])]
fn check_package_folders(bencher: divan::Bencher, language: &str) {
    let folders = package_folders(language);
    let config = ChecksConfig::default();
    bencher.bench(|| {
        check_paths(divan::black_box(&folders), &config).map(|report| report.findings.len())
    });
}
