//! The `check-tests` command: choose the files, check them, print the report.

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use super::lang::Language;
use super::model::{CheckError, CheckReport, ChecksConfig, Finding};
use super::package::Run;
use super::package::link::link;
use super::rules::{self, Treatment};

/// Folders never searched for tests when a directory is given.
const SKIPPED_DIRECTORIES: &[&str] = &[
    "node_modules",
    "target",
    "vendor",
    "dist",
    "build",
    "__pycache__",
];

/// True when `path` names a test file of a supported language.
///
/// Rust keeps unit tests beside the code, so a `.rs` file outside `tests/` counts when it
/// contains a test attribute.
pub fn is_test_file(path: &Path) -> bool {
    let Some(language) = Language::of(path) else {
        return false;
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let in_dir = |dirs: &[&str]| {
        path.parent().is_some_and(|parent| {
            parent
                .components()
                .any(|c| matches!(c, Component::Normal(n) if dirs.iter().any(|d| n == *d)))
        })
    };
    match language {
        Language::Python => {
            name.starts_with("test_")
                || name.ends_with("_test.py")
                || name == "tests.py"
                || name == "conftest.py"
                || in_dir(&["tests", "test"])
        }
        Language::JavaScript | Language::TypeScript | Language::Tsx => {
            let stem_parts: Vec<&str> = name.split('.').collect();
            stem_parts.len() > 2
                && stem_parts[..stem_parts.len() - 1]
                    .iter()
                    .any(|p| *p == "test" || *p == "spec")
                || in_dir(&["__tests__", "test", "tests"])
        }
        Language::Go => name.ends_with("_test.go"),
        Language::Rust => {
            in_dir(&["tests"])
                || name == "tests.rs"
                || name.ends_with("_test.rs")
                || name.ends_with("_tests.rs")
                || std::fs::read_to_string(path).is_ok_and(|source| {
                    source.contains("#[test]")
                        || source.contains("#[cfg(test)]")
                        || source.contains("::test]")
                })
        }
    }
}

/// Checks every file in `paths` (directories are searched for test files).
///
/// Files are spread over the available cores; the report keeps the order of the input. Every
/// file a test reaches through its package view (a `conftest.py`, a helper module, another
/// `_test.go` file) is read once per run, by whichever worker needs it first.
pub fn check_paths(paths: &[PathBuf], config: &ChecksConfig) -> Result<CheckReport, CheckError> {
    let files = expand(paths)?;
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(files.len().max(1));
    // Workers take the next unchecked file as they finish one, so a few large files do not
    // leave the other cores idle.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let run = Run::new(config);
    let mut results: Vec<Option<Result<Vec<Finding>, CheckError>>> =
        (0..files.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (files, next, run) = (&files, &next, &run);
                scope.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(path) = files.get(index) else {
                            return done;
                        };
                        // One bad file must not take the whole report down with it.
                        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            check_file(path, run)
                        }))
                        .unwrap_or_else(|_| Err(CheckError::Crashed { path: path.clone() }));
                        done.push((index, result));
                    }
                })
            })
            .collect();
        for handle in handles {
            // Workers catch panics per file, so joining cannot fail in practice.
            if let Ok(done) = handle.join() {
                for (index, result) in done {
                    results[index] = Some(result);
                }
            }
        }
    });
    let mut report = CheckReport::default();
    for (path, findings) in files.into_iter().zip(results) {
        let findings = findings.unwrap_or_else(|| Err(CheckError::Crashed { path: path.clone() }));
        report.findings.extend(findings?);
        report.files.push(path);
    }
    Ok(report)
}

/// Checks one file, with the facts its package view gives its tests.
fn check_file(path: &Path, run: &Run<'_>) -> Result<Vec<Finding>, CheckError> {
    let parsed = run.parse(path)?;
    let linked = link(run, &parsed);
    let treatment = Treatment {
        integration_path: is_integration_path(path, run.config()),
        policy: run.config().integration,
    };
    Ok(rules::findings(path, &parsed.facts, &linked, treatment))
}

fn is_integration_path(path: &Path, config: &ChecksConfig) -> bool {
    path.components().any(|component| match component {
        Component::Normal(name) => config.integration_paths.iter().any(|p| name == p.as_str()),
        _ => false,
    })
}

/// Files as given, with directories replaced by the test files under them.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CheckError> {
    let mut out = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|source| CheckError::Unreadable {
            path: path.clone(),
            source,
        })?;
        if metadata.is_dir() {
            let mut pending = vec![path.clone()];
            let mut found = Vec::new();
            while let Some(dir) = pending.pop() {
                let entries = std::fs::read_dir(&dir).map_err(|source| CheckError::Unreadable {
                    path: dir.clone(),
                    source,
                })?;
                for entry in entries {
                    let entry = entry.map_err(|source| CheckError::Unreadable {
                        path: dir.clone(),
                        source,
                    })?;
                    let child = entry.path();
                    let name = entry.file_name();
                    let name = name.to_string_lossy();
                    if child.is_dir() {
                        if !name.starts_with('.') && !SKIPPED_DIRECTORIES.contains(&name.as_ref()) {
                            pending.push(child);
                        }
                    } else if is_test_file(&child) {
                        found.push(child);
                    }
                }
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

/// Test files changed since `rev` (committed, staged or not) plus untracked test files.
pub fn test_files_since(rev: &str, repo_root: &Path) -> Result<Vec<PathBuf>, CheckError> {
    let git = |args: &[&str]| -> Result<String, CheckError> {
        let output = Command::new("git")
            .arg("-C")
            .arg(repo_root)
            .args(args)
            .output()
            .map_err(|error| CheckError::Git {
                rev: rev.to_string(),
                detail: error.to_string(),
            })?;
        if !output.status.success() {
            return Err(CheckError::Git {
                rev: rev.to_string(),
                detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let changed = git(&["diff", "--name-only", "--relative", rev, "--"])?;
    let untracked = git(&["ls-files", "--others", "--exclude-standard"])?;
    let mut files: Vec<PathBuf> = changed
        .lines()
        .chain(untracked.lines())
        .filter(|line| !line.is_empty())
        .map(|line| repo_root.join(line))
        .filter(|path| path.is_file() && is_test_file(path))
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// Renders the report as the markdown table `check-tests` prints.
pub fn render_text(report: &CheckReport) -> String {
    let mut out = String::new();
    if report.findings.is_empty() {
        out.push_str("## Unit Test Quality Check: PASS\n\n");
        out.push_str(&format!(
            "Checked {} test file(s): no issues found.\n",
            report.files.len()
        ));
        return out;
    }
    out.push_str("## Unit Test Quality Check: ISSUES FOUND\n\n");
    out.push_str("| File:Line | Test | Issue | Severity |\n");
    out.push_str("|-----------|------|-------|----------|\n");
    let cell = |s: &str| s.replace('|', "\\|");
    for finding in &report.findings {
        out.push_str(&format!(
            "| {}:{} | {} | {}: {} | {} |\n",
            cell(&finding.file.display().to_string()),
            finding.line,
            cell(&finding.test),
            finding.rule,
            cell(&finding.message),
            finding.severity
        ));
    }
    let high = report.high_findings().count();
    out.push_str(&format!(
        "\n{} issue(s) in {} test file(s), {} HIGH.\n",
        report.findings.len(),
        report.files.len(),
        high
    ));
    out
}

/// Runs `check-tests`: the given paths, or the test files changed since `since` (with neither,
/// the uncommitted and untracked test files). Returns the exit code: 0 when no finding is HIGH,
/// 1 otherwise.
pub fn run_command(
    paths: &[PathBuf],
    since: Option<&str>,
    json: bool,
    config: &ChecksConfig,
    repo_root: &Path,
    out: &mut dyn Write,
) -> Result<i32, CheckError> {
    let mut files = paths.to_vec();
    if since.is_some() || paths.is_empty() {
        files.extend(test_files_since(since.unwrap_or("HEAD"), repo_root)?);
    }
    let report = check_paths(&files, config)?;
    if json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| CheckError::Output(e.into()))?;
        writeln!(out, "{text}").map_err(CheckError::Output)?;
    } else {
        out.write_all(render_text(&report).as_bytes())
            .map_err(CheckError::Output)?;
    }
    Ok(if report.has_high() {
        crate::exit_codes::TASK_FAILED
    } else {
        crate::exit_codes::SUCCESS
    })
}
