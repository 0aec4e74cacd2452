//! Finding a file's package view on disk, language by language, without running anything.
//!
//! Only test support is followed: `conftest.py` files, pytest plugins, modules that are
//! themselves test files (under `tests/`, named `test_*`…), other `_test.go` files, jest and
//! vitest setup files, a Rust test crate's `mod` files. Production modules are not: a test
//! that calls the code under test checks it, it does not run what that code could reach.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::super::command::is_test_file;
use super::super::lang::Language;
use super::super::syntax::{NodeExt, descendants, text};
use super::{Parsed, Role, Run, Support, View};

/// Files that mark pytest's rootdir: the `conftest.py` search stops there.
const PYTHON_ROOT_MARKERS: &[&str] = &[
    "pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
    "setup.py",
];
/// How many folders up a search goes when no marker stops it.
const MAX_ASCENT: usize = 12;
/// Extensions a JavaScript or TypeScript import may leave out, in resolution order.
const SCRIPT_EXTENSIONS: &[&str] = &["ts", "tsx", "js", "mjs", "cjs", "jsx", "mts", "cts"];
/// jest and vitest configuration files, in the order the tools look for them.
const SCRIPT_CONFIGS: &[&str] = &[
    "jest.config.js",
    "jest.config.ts",
    "jest.config.mjs",
    "jest.config.cjs",
    "jest.config.json",
    "vitest.config.ts",
    "vitest.config.js",
    "vitest.config.mts",
    "vitest.config.mjs",
    "vite.config.ts",
    "vite.config.js",
    "vite.config.mts",
    "vite.config.mjs",
];
/// Keys of those configurations that name files run before the tests.
const SETUP_KEYS: &[&str] = &["setupFiles", "setupFilesAfterEnv", "globalSetup"];

/// The support files of `file`.
pub(super) fn view(run: &Run<'_>, file: &Arc<Parsed>) -> View {
    let Some(dir) = file.key.parent() else {
        return View::default();
    };
    let mut support = Vec::new();
    match file.language {
        Language::Python => python(run, file, dir, &mut support),
        Language::Go => go(run, file, dir, &mut support),
        Language::JavaScript | Language::TypeScript | Language::Tsx => {
            script(run, file, dir, &mut support);
        }
        Language::Rust => rust(run, file, dir, &mut support),
    }
    View { support }
}

/// The folder and its ancestors, up to `MAX_ASCENT` of them.
fn ancestors(dir: &Path) -> impl Iterator<Item = &Path> {
    dir.ancestors().take(MAX_ASCENT)
}

/// pytest's rootdir for `dir`: the nearest folder up with a configuration file or a `.git`.
fn python_root<'d>(run: &Run<'_>, dir: &'d Path) -> Option<&'d Path> {
    ancestors(dir).find(|candidate| {
        PYTHON_ROOT_MARKERS
            .iter()
            .any(|marker| run.is_file(&candidate.join(marker)))
            || candidate.join(".git").exists()
    })
}

fn push(support: &mut Vec<Support>, role: Role, parsed: Arc<Parsed>, file: &Parsed) {
    let known = support
        .iter()
        .any(|s| Arc::ptr_eq(&s.parsed, &parsed) && s.role == role);
    if parsed.key != file.key && !known {
        support.push(Support { role, parsed });
    }
}

fn python(run: &Run<'_>, file: &Parsed, dir: &Path, support: &mut Vec<Support>) {
    let root = python_root(run, dir);
    let searched: Vec<&Path> = match root {
        Some(root) => ancestors(dir).take_while(|d| d.starts_with(root)).collect(),
        None => ancestors(dir).collect(),
    };
    let mut conftests = Vec::new();
    for (depth, folder) in searched.iter().enumerate() {
        if let Some(conftest) = run.support(&folder.join("conftest.py")) {
            conftests.push(conftest.clone());
            push(support, Role::Conftest(depth), conftest, file);
        }
    }
    let mut roots: Vec<PathBuf> = searched.iter().map(|d| d.to_path_buf()).collect();
    if let Some(root) = root {
        roots.push(root.join("src"));
    }
    let plugins = file
        .facts
        .plugins
        .iter()
        .chain(conftests.iter().flat_map(|c| c.facts.plugins.iter()));
    for plugin in plugins {
        if let Some(found) = python_module(run, dir, &roots, plugin).and_then(|p| run.support(&p)) {
            push(support, Role::Plugin, found, file);
        }
    }
    for import in &file.facts.imports {
        // Decided by the path before anything is read: a test suite importing its library
        // (`from redis.commands import …`) must not cost a parse of the library.
        if let Some(found) = python_module(run, dir, &roots, import)
            .filter(|path| is_support(path))
            .and_then(|path| run.support(&path))
        {
            let name = import.trim_start_matches('.').to_string();
            push(support, Role::Import(name), found, file);
        }
    }
}

/// True when a module is test support: a test file, a `conftest.py`, a file under `tests/`, or
/// a module named for tests (`testutils.py`, `pylibmc/test.py`).
fn is_support(path: &Path) -> bool {
    is_test_file(path)
        || path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .is_some_and(|stem| stem.to_ascii_lowercase().contains("test"))
}

/// The file a Python module name stands for: relative to the file's package for leading
/// dots, else under one of `roots` (the file's folder and those above it, `src/`).
fn python_module(run: &Run<'_>, dir: &Path, roots: &[PathBuf], module: &str) -> Option<PathBuf> {
    let level = module.chars().take_while(|c| *c == '.').count();
    let name = &module[level..];
    if name.is_empty() {
        return None;
    }
    let relative: PathBuf = name.split('.').collect();
    let candidates = |base: &Path| {
        [
            base.join(&relative).with_extension("py"),
            base.join(&relative).join("__init__.py"),
        ]
    };
    if level > 0 {
        let base = dir.ancestors().nth(level - 1)?;
        return candidates(base).into_iter().find(|path| run.is_file(path));
    }
    roots
        .iter()
        .flat_map(|root| candidates(root))
        .find(|path| run.is_file(path))
}

fn go(run: &Run<'_>, file: &Parsed, dir: &Path, support: &mut Vec<Support>) {
    for path in run.listing(dir).iter() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with("_test.go")
            && let Some(sibling) = run.support(path)
        {
            push(support, Role::Sibling, sibling, file);
        }
    }
    for import in &file.facts.imports {
        let Some(folder) = go_package_dir(run, dir, import) else {
            continue;
        };
        for path in run.listing(&folder).iter() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".go")
                && !name.ends_with("_test.go")
                && let Some(found) = run.support(path)
            {
                push(support, Role::Import(import.clone()), found, file);
            }
        }
    }
}

/// The folder of an imported package of the same repository: `github.com/mna/redisc/redistest`
/// from `…/github.com/mna/redisc` is `…/github.com/mna/redisc/redistest`. Tried against the
/// file's folder and those above it, joined with the import path's last segments.
fn go_package_dir(run: &Run<'_>, dir: &Path, import: &str) -> Option<PathBuf> {
    let segments: Vec<&str> = import.split('/').collect();
    for base in ancestors(dir).take(6) {
        for take in 1..=segments.len().min(4) {
            let candidate = segments[segments.len() - take..]
                .iter()
                .fold(base.to_path_buf(), |path, segment| path.join(segment));
            if candidate != dir
                && run
                    .listing(&candidate)
                    .iter()
                    .any(|f| f.extension().is_some_and(|e| e == "go"))
            {
                return Some(candidate);
            }
        }
    }
    None
}

fn script(run: &Run<'_>, file: &Parsed, dir: &Path, support: &mut Vec<Support>) {
    for import in &file.facts.imports {
        if let Some(found) = script_module(run, &dir.join(import))
            .filter(|path| is_support(path))
            .and_then(|path| run.support(&path))
        {
            push(support, Role::Import(import.clone()), found, file);
        }
    }
    for setup in setup_files(run, dir) {
        if let Some(found) = run.support(&setup) {
            push(support, Role::Setup, found, file);
        }
    }
}

/// The file an import specifier resolves to, as Node and the TypeScript bundlers resolve it:
/// the path itself, with an extension added, or its `index` file.
fn script_module(run: &Run<'_>, target: &Path) -> Option<PathBuf> {
    if Language::of(target).is_some() && run.is_file(target) {
        return Some(target.to_path_buf());
    }
    let with_extension = SCRIPT_EXTENSIONS.iter().map(|extension| {
        let mut name = target.as_os_str().to_os_string();
        name.push(".");
        name.push(extension);
        PathBuf::from(name)
    });
    let index = SCRIPT_EXTENSIONS
        .iter()
        .map(|extension| target.join(format!("index.{extension}")));
    with_extension
        .chain(index)
        .find(|path| Language::of(path).is_some() && run.is_file(path))
}

/// The setup files of the jest or vitest configuration that covers `dir`: the nearest
/// configuration file or `package.json` `jest` key, up to the package's root.
fn setup_files(run: &Run<'_>, dir: &Path) -> Vec<PathBuf> {
    for folder in ancestors(dir) {
        for config in SCRIPT_CONFIGS {
            let path = folder.join(config);
            if run.is_file(&path) {
                return run.setup_files_of(&path, folder);
            }
        }
        let manifest = folder.join("package.json");
        if run.is_file(&manifest) {
            return run.setup_files_of(&manifest, folder);
        }
    }
    Vec::new()
}

/// The files a configuration names under its setup keys, relative to its folder.
pub(super) fn read_setup_files(config: &Path, folder: &Path) -> Vec<PathBuf> {
    let Ok(source) = std::fs::read_to_string(config) else {
        return Vec::new();
    };
    let names = if config.extension().is_some_and(|e| e == "json") {
        json_setup_files(config, &source)
    } else {
        script_setup_files(config, &source)
    };
    names
        .into_iter()
        .map(|name| {
            let name = name.replace("<rootDir>", ".");
            folder.join(name.trim_start_matches("./"))
        })
        .collect()
}

/// `setupFiles` and the like in a `package.json` (under `jest`) or a `jest.config.json`.
fn json_setup_files(config: &Path, source: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(source) else {
        return Vec::new();
    };
    let settings = if config.file_name().is_some_and(|n| n == "package.json") {
        match value.get("jest") {
            Some(jest) => jest.clone(),
            None => return Vec::new(),
        }
    } else {
        value
    };
    let mut out = Vec::new();
    for key in SETUP_KEYS {
        match settings.get(key) {
            Some(serde_json::Value::String(name)) => out.push(name.clone()),
            Some(serde_json::Value::Array(names)) => {
                out.extend(names.iter().filter_map(|n| n.as_str().map(String::from)));
            }
            _ => {}
        }
    }
    out
}

/// The string literals under a setup key of a JavaScript or TypeScript configuration
/// (`setupFiles: ['./test/setup.ts']`, `globalSetup: './global.js'`).
fn script_setup_files(config: &Path, source: &str) -> Vec<String> {
    let Some(language) = Language::of(config) else {
        return Vec::new();
    };
    let mut parser = tree_sitter::Parser::new();
    if parser.set_language(&language.grammar()).is_err() {
        return Vec::new();
    }
    let Some(tree) = parser.parse(source, None) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for pair in descendants(tree.root_node(), |_| false) {
        if pair.node_kind() != "pair" {
            continue;
        }
        let key = pair
            .field("key")
            .map_or("", |k| text(k, source).trim_matches(['"', '\'']));
        if !SETUP_KEYS.contains(&key) {
            continue;
        }
        let Some(value) = pair.field("value") else {
            continue;
        };
        for node in descendants(value, |_| false) {
            if node.node_kind() == "string_fragment" {
                out.push(text(node, source).to_string());
            }
        }
    }
    out
}

fn rust(run: &Run<'_>, file: &Parsed, dir: &Path, support: &mut Vec<Support>) {
    let name = file.key.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = file.key.file_stem().and_then(|n| n.to_str()).unwrap_or("");
    // A crate root or `mod.rs` keeps its modules beside it; `foo.rs` keeps them in `foo/`;
    // each file directly under `tests/` is a crate root.
    let is_root = matches!(name, "mod.rs" | "lib.rs" | "main.rs")
        || dir.file_name().is_some_and(|d| d == "tests");
    let base = if is_root {
        dir.to_path_buf()
    } else {
        dir.join(stem)
    };
    for module in &file.facts.imports {
        let candidates = [
            base.join(format!("{module}.rs")),
            base.join(module).join("mod.rs"),
            dir.join(module),
        ];
        if let Some(found) = candidates
            .iter()
            .filter(|path| Language::of(path) == Some(Language::Rust))
            .find_map(|path| run.support(path))
        {
            push(support, Role::Import(module.clone()), found, file);
        }
    }
}
