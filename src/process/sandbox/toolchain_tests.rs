//! Toolchains at work inside the gates' sandbox, with the real home directory and its caches:
//! what `cargo test` and `pytest` need must stay reachable, while the network and secrets do not.

use std::path::Path;

use super::*;
use crate::process::test_support::{bounded, sh};
use crate::process::{Cancel, Limits, LineVerdict, Outcome, ProcessSpec, run_sandboxed};

/// Toolchain runs take seconds, not the default bound's fraction of it.
fn slow_limits() -> Limits {
    Limits {
        wall_timeout: Some(std::time::Duration::from_secs(120)),
        ..crate::process::test_support::limits()
    }
}

fn gates_sandbox(repo: &Path) -> Sandbox {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let policy = SandboxPolicy::for_gates(repo, home.as_deref(), &|name| std::env::var_os(name));
    let sandbox = Sandbox::prepare(&policy, &probe()).expect("prepare the sandbox");
    assert!(sandbox.report().is_confined(), "{}", sandbox.report());
    sandbox
}

async fn run_in(spec: &ProcessSpec, sandbox: &Sandbox) -> (Outcome, String) {
    let mut output = String::new();
    let mut on_line = |_, line: &str| {
        output.push_str(line);
        output.push('\n');
        LineVerdict::Continue
    };
    let outcome = bounded(run_sandboxed(
        spec,
        sandbox,
        &slow_limits(),
        &Cancel::new(),
        &mut on_line,
    ))
    .await
    .expect("spawn");
    (outcome, output)
}

fn in_repo(repo: &Path, script: &str) -> ProcessSpec {
    let mut spec = sh(script);
    spec.cwd = repo.to_path_buf();
    spec
}

#[tokio::test]
async fn cargo_test_runs_inside_the_sandbox() {
    let scratch = tempfile::tempdir().unwrap();
    let repo = scratch.path();
    std::fs::write(
        repo.join("Cargo.toml"),
        "[package]\nname = \"scratch\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::create_dir(repo.join("src")).unwrap();
    std::fs::write(
        repo.join("src/lib.rs"),
        "#[test]\nfn adds() { assert_eq!(1 + 1, 2); }\n",
    )
    .unwrap();
    let sandbox = gates_sandbox(repo);
    let mut spec = in_repo(repo, "cargo --version && cargo test --offline 2>&1");
    // The outer cargo's settings for this test binary are not the scratch crate's.
    spec.env_set
        .push(("CARGO_TARGET_DIR".into(), repo.join("target").into()));
    let (outcome, output) = run_in(&spec, &sandbox).await;
    assert!(outcome.exit.success(), "{output}");
    assert!(output.contains("test adds ... ok"), "{output}");
    assert!(repo.join("target/debug").is_dir());
}

/// Where pytest can be imported from: the interpreter's own, or (when it has none) a copy pip
/// installs into `scratch`, so the test leaves nothing installed behind. `None` when pytest
/// cannot be had at all.
fn pytest_path(scratch: &Path) -> Option<Option<std::path::PathBuf>> {
    let has_pytest = |pythonpath: Option<&Path>| {
        let mut cmd = std::process::Command::new("python3");
        cmd.args(["-c", "import pytest"]);
        if let Some(path) = pythonpath {
            cmd.env("PYTHONPATH", path);
        }
        cmd.output().is_ok_and(|output| output.status.success())
    };
    if has_pytest(None) {
        return Some(None);
    }
    let target = scratch.join("pylib");
    let installed = std::process::Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg("--target")
        .arg(&target)
        .arg("pytest")
        .output()
        .is_ok_and(|output| output.status.success());
    (installed && has_pytest(Some(&target))).then_some(Some(target))
}

#[tokio::test]
async fn pytest_runs_inside_the_sandbox() {
    let scratch = tempfile::tempdir().unwrap();
    let repo = scratch.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    let Some(pythonpath) = pytest_path(scratch.path()) else {
        eprintln!("skipped: pytest is neither installed nor installable here");
        return;
    };
    std::fs::write(
        repo.join("test_tiny.py"),
        "import os, socket, tempfile\n\n\
         def test_adds():\n    assert 1 + 1 == 2\n\n\
         def test_temp_is_writable():\n    with tempfile.NamedTemporaryFile() as f:\n        f.write(b'x')\n\n\
         def test_own_loopback():\n    s = socket.socket()\n    s.bind(('127.0.0.1', 0))\n    s.listen()\n    socket.create_connection(s.getsockname()).close()\n",
    )
    .unwrap();
    let sandbox = gates_sandbox(&repo);
    let mut spec = in_repo(&repo, "python3 -m pytest -q 2>&1");
    if let Some(path) = pythonpath {
        spec.env_set.push(("PYTHONPATH".into(), path.into()));
    }
    let (outcome, output) = run_in(&spec, &sandbox).await;
    assert!(outcome.exit.success(), "{output}");
    assert!(output.contains("3 passed"), "{output}");
    assert!(
        repo.join(".pytest_cache").is_dir(),
        "pytest's cache is written in the repository"
    );
}

#[tokio::test]
async fn npm_test_runs_inside_the_sandbox() {
    if std::process::Command::new("npm")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: npm is not installed");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let repo = scratch.path();
    std::fs::write(
        repo.join("package.json"),
        r#"{"name": "scratch", "version": "1.0.0", "scripts": {"test": "node test.js"}}"#,
    )
    .unwrap();
    std::fs::write(
        repo.join("test.js"),
        "require('assert').strictEqual(1 + 1, 2); console.log('npm test passed');\n",
    )
    .unwrap();
    let sandbox = gates_sandbox(repo);
    let (outcome, output) = run_in(&in_repo(repo, "npm test 2>&1"), &sandbox).await;
    assert!(outcome.exit.success(), "{output}");
    assert!(output.contains("npm test passed"), "{output}");
}

#[tokio::test]
async fn cargo_credentials_stay_hidden_while_cargo_works() {
    let scratch = tempfile::tempdir().unwrap();
    let repo = scratch.path().join("repo");
    let cargo_home = scratch.path().join("cargo-home");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    std::fs::create_dir_all(&cargo_home).unwrap();
    std::fs::write(
        cargo_home.join("credentials.toml"),
        "[registry]\ntoken = \"cio_secret\"\n",
    )
    .unwrap();
    std::fs::write(
        repo.join("Cargo.toml"),
        "[package]\nname = \"scratch\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(repo.join("src/lib.rs"), "#[test]\nfn t() {}\n").unwrap();
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let var = |name: &str| match name {
        "CARGO_HOME" => Some(cargo_home.clone().into_os_string()),
        _ => std::env::var_os(name),
    };
    let policy = SandboxPolicy::for_gates(&repo, home.as_deref(), &var);
    let sandbox = Sandbox::prepare(&policy, &probe()).expect("prepare");
    let mut spec = in_repo(
        &repo,
        "cat \"$CARGO_HOME/credentials.toml\" 2>/dev/null || echo credentials-refused; \
         cargo test --offline 2>&1",
    );
    spec.env_set.extend([
        ("CARGO_HOME".into(), cargo_home.clone().into()),
        ("CARGO_TARGET_DIR".into(), repo.join("target").into()),
    ]);
    let (outcome, output) = run_in(&spec, &sandbox).await;
    assert!(outcome.exit.success(), "{output}");
    assert!(output.starts_with("credentials-refused\n"), "{output}");
    assert!(output.contains("test t ... ok"), "{output}");
}
