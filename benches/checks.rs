//! Throughput of the unit-test quality check on the fixture corpus: the single-file fixtures
//! of each language, and its multi-file fixtures read with their package view.

use std::path::{Path, PathBuf};

use kmilestone::checks::{ChecksConfig, check_paths};

fn main() {
    divan::main();
}

/// The entries of a language's fixture folder that are files (the single-file fixtures) or
/// folders (the multi-file ones, `python/conftest_chain`, `go/helper_package`…), sorted.
fn fixture_entries(language: &str, folders: bool) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/checks")
        .join(language);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| if folders { p.is_dir() } else { p.is_file() })
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    entries
}

#[divan::bench(args = ["python", "typescript", "rust", "go"])]
fn check_fixture_folder(bencher: divan::Bencher, language: &str) {
    let files = fixture_entries(language, false);
    let config = ChecksConfig::default();
    bencher
        .counter(divan::counter::ItemsCount::new(files.len()))
        .bench(|| {
            check_paths(divan::black_box(&files), &config).map(|report| report.findings.len())
        });
}

/// The multi-file fixtures, given as folders: each test file is checked with its package view.
#[divan::bench(args = ["python", "typescript", "rust", "go"])]
fn check_package_folders(bencher: divan::Bencher, language: &str) {
    let folders = fixture_entries(language, true);
    let config = ChecksConfig::default();
    bencher.bench(|| {
        check_paths(divan::black_box(&folders), &config).map(|report| report.findings.len())
    });
}
