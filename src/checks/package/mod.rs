//! The package view: for each test file, the files its tests reach without running anything
//! (the `conftest.py` chain, imported support modules, the other `_test.go` files of a Go
//! package, jest and vitest setup files, a Rust test crate's `mod` files), each parsed once per
//! run and shared by every test that needs it.
//!
//! Files are read into [`FileFacts`] by the same front ends as test files; how a test's facts
//! are gathered from them is `link`'s job, what the facts mean is still the rules'.

mod discover;
pub(crate) mod link;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::facts::{FileFacts, UnitKind};
use super::lang::{self, Context, Language};
use super::model::{CheckError, ChecksConfig};

/// One file read into facts, with indexes the linker looks names up in.
pub(crate) struct Parsed {
    /// The path as findings name it: relative to the working directory when inside it.
    pub(crate) shown: PathBuf,
    /// Absolute and without `.`/`..`: the cache key and the base of relative lookups.
    pub(crate) key: PathBuf,
    pub(crate) language: Language,
    pub(crate) facts: FileFacts,
    /// Units a call can run by name: helpers, and tests called like helpers.
    helpers: HashMap<String, Vec<usize>>,
    /// Fixture units by the name they are requested by.
    fixtures: HashMap<String, Vec<usize>>,
    /// Module-level constants by name.
    constants: HashMap<String, usize>,
}

impl Parsed {
    fn new(shown: PathBuf, key: PathBuf, language: Language, facts: FileFacts) -> Parsed {
        let mut helpers: HashMap<String, Vec<usize>> = HashMap::new();
        let mut fixtures: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, unit) in facts.units.iter().enumerate() {
            // A pytest test called by name from another test (`await test_enqueue_job(…)`) is
            // a helper there. Rust and Go tests take no arguments but `t`, and a Rust macro's
            // tokens (`select! { recv(r) -> … }`) look like calls, so only Python follows them.
            let called_test = unit.kind == UnitKind::Test && language == Language::Python;
            if unit.kind == UnitKind::Helper || called_test {
                helpers.entry(unit.name.clone()).or_default().push(index);
            }
            if let Some(fixture) = &unit.fixture {
                fixtures
                    .entry(fixture.name.clone())
                    .or_default()
                    .push(index);
            }
        }
        let constants = facts
            .constants
            .iter()
            .enumerate()
            .map(|(index, constant)| (constant.name.clone(), index))
            .collect();
        Parsed {
            shown,
            key,
            language,
            facts,
            helpers,
            fixtures,
            constants,
        }
    }

    /// Helper units of this name.
    pub(crate) fn helpers_named(&self, name: &str) -> &[usize] {
        self.helpers
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Fixture units requested by this name.
    pub(crate) fn fixtures_named(&self, name: &str) -> &[usize] {
        self.fixtures
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The module-level string constant of this name.
    pub(crate) fn constant(&self, name: &str) -> Option<&super::facts::Constant> {
        self.constants
            .get(name)
            .map(|index| &self.facts.constants[*index])
    }
}

/// A support file and how its tests' file reaches it.
#[derive(Clone)]
pub(crate) struct Support {
    pub(crate) role: Role,
    pub(crate) parsed: Arc<Parsed>,
}

/// How a support file is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    /// A `conftest.py` of the file's folder or one above it (`0` is the nearest).
    Conftest(usize),
    /// A module named in `pytest_plugins`.
    Plugin,
    /// A module the file imports, by the name the file imports it as (`tests.utils`,
    /// `./helpers`, `common`).
    Import(String),
    /// Another test file of the same Go package.
    Sibling,
    /// A jest or vitest setup file.
    Setup,
}

/// The support files of one file, nearest first within each role.
#[derive(Default)]
pub(crate) struct View {
    pub(crate) support: Vec<Support>,
}

impl View {
    /// Support files with this role.
    pub(crate) fn with<'v>(
        &'v self,
        wanted: impl Fn(&Role) -> bool + 'v,
    ) -> impl Iterator<Item = &'v Arc<Parsed>> + 'v {
        self.support
            .iter()
            .filter(move |support| wanted(&support.role))
            .map(|support| &support.parsed)
    }
}

/// A file's slot in the cache: filled once, by whichever worker asks first.
type Slot<T> = Arc<OnceLock<T>>;
/// A file read into facts, or why it could not be (shared by everything that asked for it).
type Read = Result<Arc<Parsed>, Arc<CheckError>>;

/// Everything one run of the check has read, shared by its workers.
pub(crate) struct Run<'c> {
    config: &'c ChecksConfig,
    /// Where relative paths are shown from.
    cwd: Option<PathBuf>,
    packages: PackageNames,
    parsed: Mutex<HashMap<PathBuf, Slot<Read>>>,
    /// Keyed by the address of the `Parsed` (which lives as long as the run): hashing a path
    /// for every lookup the linker makes showed in profiles.
    views: Mutex<HashMap<usize, Slot<Arc<View>>>>,
    /// Whether a path is a file, asked once.
    files: Mutex<HashMap<PathBuf, bool>>,
    /// The files of a folder, listed once.
    listings: Mutex<HashMap<PathBuf, Arc<Vec<PathBuf>>>>,
    /// The setup files a jest or vitest configuration names, read once.
    setups: Mutex<HashMap<PathBuf, Arc<Vec<PathBuf>>>>,
}

impl<'c> Run<'c> {
    pub(crate) fn new(config: &'c ChecksConfig) -> Run<'c> {
        Run {
            config,
            cwd: std::env::current_dir().ok(),
            packages: PackageNames::default(),
            parsed: Mutex::new(HashMap::new()),
            views: Mutex::new(HashMap::new()),
            files: Mutex::new(HashMap::new()),
            listings: Mutex::new(HashMap::new()),
            setups: Mutex::new(HashMap::new()),
        }
    }

    /// The files of `dir`, sorted, listed once per run.
    pub(crate) fn listing(&self, dir: &Path) -> Arc<Vec<PathBuf>> {
        once(&self.listings, dir, || {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .map(|entry| entry.path())
                        .filter(|path| path.is_file())
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            files
        })
    }

    /// The setup files the configuration at `config` names, read once per run.
    pub(crate) fn setup_files_of(&self, config: &Path, folder: &Path) -> Vec<PathBuf> {
        once(&self.setups, config, || {
            discover::read_setup_files(config, folder)
        })
        .to_vec()
    }

    pub(crate) fn config(&self) -> &ChecksConfig {
        self.config
    }

    /// The file at `path` read into facts, once per run.
    pub(crate) fn parse(&self, path: &Path) -> Result<Arc<Parsed>, CheckError> {
        let key = normalized(path);
        let slot = slot(&self.parsed, &key);
        slot.get_or_init(|| self.read(path, key.clone()).map(Arc::new).map_err(Arc::new))
            .clone()
            .map_err(|error| error.duplicate())
    }

    /// A support file: a file that cannot be read or parsed is left out of the view.
    pub(crate) fn support(&self, path: &Path) -> Option<Arc<Parsed>> {
        Language::of(path)?;
        self.is_file(path).then(|| self.parse(path).ok()).flatten()
    }

    /// The support files of `file`, found once per run.
    pub(crate) fn view(&self, file: &Arc<Parsed>) -> Arc<View> {
        let slot = slot(&self.views, &(Arc::as_ptr(file) as usize));
        slot.get_or_init(|| Arc::new(discover::view(self, file)))
            .clone()
    }

    /// True when `path` is a file, asked of the file system once per run.
    pub(crate) fn is_file(&self, path: &Path) -> bool {
        if let Some(known) = self.files.lock().ok().and_then(|f| f.get(path).copied()) {
            return known;
        }
        let is_file = path.is_file();
        if let Ok(mut files) = self.files.lock() {
            files.insert(path.to_path_buf(), is_file);
        }
        is_file
    }

    /// `key` as findings show it: relative to the working directory when inside it. Support
    /// files are found from absolute roots (a Python rootdir, a crate's folder), so only the
    /// place decides, not how the path was spelled.
    fn shown(&self, key: &Path, given: &Path) -> PathBuf {
        if let Some(cwd) = &self.cwd
            && let Ok(relative) = key.strip_prefix(cwd)
        {
            return relative.to_path_buf();
        }
        given.to_path_buf()
    }

    fn read(&self, path: &Path, key: PathBuf) -> Result<Parsed, CheckError> {
        let language = Language::of(path).ok_or_else(|| CheckError::UnsupportedLanguage {
            path: path.to_path_buf(),
        })?;
        let package_name = match language {
            Language::Rust => self.packages.of(&key, "Cargo.toml"),
            Language::JavaScript | Language::TypeScript | Language::Tsx => {
                self.packages.of(&key, "package.json")
            }
            Language::Python | Language::Go => None,
        };
        let context = Context {
            assertion_helpers: &self.config.assertion_helpers,
            package_name: package_name.as_deref(),
        };
        let bytes = std::fs::read(path).map_err(|source| CheckError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let source = String::from_utf8(bytes).map_err(|_| CheckError::NotUtf8 {
            path: path.to_path_buf(),
        })?;
        // One bad file must not take the whole report down with it.
        let facts = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            lang::facts(path, language, &source, &context)
        }))
        .unwrap_or_else(|_| {
            Err(CheckError::Crashed {
                path: path.to_path_buf(),
            })
        })?;
        let shown = self.shown(&key, path);
        Ok(Parsed::new(shown, key, language, facts))
    }
}

/// The value for `key`, computed by `make` the first time it is asked for.
fn once<T>(map: &Mutex<HashMap<PathBuf, Arc<T>>>, key: &Path, make: impl FnOnce() -> T) -> Arc<T> {
    if let Some(known) = map.lock().ok().and_then(|m| m.get(key).cloned()) {
        return known;
    }
    let value = Arc::new(make());
    if let Ok(mut map) = map.lock() {
        map.insert(key.to_path_buf(), value.clone());
    }
    value
}

/// The slot for `key`, made empty on first use.
fn slot<K, Q, T>(map: &Mutex<HashMap<K, Slot<T>>>, key: &Q) -> Slot<T>
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: ToOwned<Owned = K> + std::hash::Hash + Eq + ?Sized,
{
    let mut map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = map.get(key) {
        return known.clone();
    }
    map.entry(key.to_owned()).or_default().clone()
}

/// `path` made absolute, with `.` and `..` resolved by their names (no symlinks followed), so
/// `tests/../tests/conftest.py` and `tests/conftest.py` are one file.
pub(crate) fn normalized(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The package each folder belongs to, read once per folder from the nearest manifest above
/// it: `Cargo.toml` for Rust, `package.json` for JavaScript and TypeScript.
#[derive(Default)]
struct PackageNames {
    by_folder: Mutex<HashMap<(PathBuf, &'static str), Option<String>>>,
}

impl PackageNames {
    fn of(&self, file: &Path, manifest: &'static str) -> Option<String> {
        let folder = file.parent()?.to_path_buf();
        let key = (folder, manifest);
        if let Some(known) = self.by_folder.lock().ok()?.get(&key) {
            return known.clone();
        }
        let name = key
            .0
            .ancestors()
            .map(|dir| dir.join(manifest))
            .find(|path| path.is_file())
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| match manifest {
                "Cargo.toml" => crate_name_in(&text),
                _ => npm_name_in(&text),
            });
        self.by_folder.lock().ok()?.insert(key, name.clone());
        name
    }
}

/// `[package] name` of a Cargo manifest, as Rust code spells it (`mysql-async` is `mysql_async`).
/// A workspace manifest without a package names no crate.
fn crate_name_in(manifest: &str) -> Option<String> {
    let value: toml::Table = manifest.parse().ok()?;
    let name = value.get("package")?.get("name")?.as_str()?;
    Some(name.replace('-', "_"))
}

/// `name` of a `package.json`.
fn npm_name_in(manifest: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(manifest).ok()?;
    Some(value.get("name")?.as_str()?.to_string())
}
