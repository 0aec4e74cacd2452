//! What a sandboxed child may do, as data: the caller (the gate runner, from the configuration)
//! builds a [`SandboxPolicy`], [`Sandbox::prepare`](super::Sandbox::prepare) turns it into
//! kernel rules.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Paths that stay writable in the home directory, as `~/…`: the caches of the usual
/// toolchains, so builds and test runs can fill them. `CARGO_HOME`, `XDG_CACHE_HOME`, `GOPATH`,
/// `npm_config_cache` and `UV_CACHE_DIR` move the matching entry (see
/// [`SandboxPolicy::for_gates`]).
///
/// Cargo's cache is `~/.cargo` minus the secrets in [`DEFAULT_DENIED_IN_HOME`]; Go's is the
/// module cache `~/go/pkg`, not `~/go/bin`. On Linux a folder holding a denied path is granted
/// entry by entry: with `~/.cargo/credentials.toml` present, the entries of `~/.cargo` stay
/// writable but no new file can be made in `~/.cargo` itself (cargo's lock files are there once
/// cargo has run outside the sandbox).
pub const DEFAULT_WRITABLE_IN_HOME: &[&str] = &[
    "~/.cache",
    "~/.cargo",
    "~/.npm",
    "~/.local/share/uv",
    "~/go/pkg",
];

/// Writable outside the home directory. `/dev/shm` is where POSIX semaphores and shared memory
/// live (Python's `multiprocessing` locks, for one); it is a memory file system emptied at boot.
pub const DEFAULT_WRITABLE_SYSTEM: &[&str] = &["/dev/shm"];

/// Paths no sandboxed child may read, as `~/…`; a `*` in the last component matches names in
/// that folder (`~/.claude*` is `~/.claude` and `~/.claude.json`). Credentials of shells,
/// clouds, forges, registries and coding agents.
pub const DEFAULT_DENIED_IN_HOME: &[&str] = &[
    "~/.ssh",
    "~/.aws",
    "~/.azure",
    "~/.gnupg",
    "~/.config/gh",
    "~/.config/gcloud",
    "~/.netrc",
    "~/.git-credentials",
    "~/.docker",
    "~/.kube",
    "~/.claude*",
    "~/.codex",
    "~/.pypirc",
    "~/.npmrc",
    "~/.cargo/credentials",
    "~/.cargo/credentials.toml",
];

/// What a sandboxed child may do. Every path is absolute; those that do not exist when the
/// sandbox is prepared are left out of the rules (a writable one cannot be created then).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxPolicy {
    /// Hierarchies the child may write, and read: the repository, the tool caches.
    pub writable: Vec<PathBuf>,
    /// Hierarchies the child may neither read nor write, even inside `writable`. The last
    /// component may hold `*` globs.
    pub readable_denied: Vec<PathBuf>,
    /// Whether the child may use the network. `false` is the point of the sandbox; `true` keeps
    /// the file rules only.
    pub network: bool,
    /// Patterns of secret environment variable names on top of
    /// [`DEFAULT_SECRET_NAME_PATTERNS`](crate::process::secrets::DEFAULT_SECRET_NAME_PATTERNS).
    pub secret_env_patterns: Vec<String>,
    /// Where the private temporary directory of each sandboxed run is made.
    pub temp_parent: PathBuf,
}

impl SandboxPolicy {
    /// The gates' policy: writes in `repo`, the caches of [`DEFAULT_WRITABLE_IN_HOME`] and
    /// [`DEFAULT_WRITABLE_SYSTEM`]; the paths of [`DEFAULT_DENIED_IN_HOME`] unreadable; no
    /// network. `home` is `$HOME` (`None`: no home entries), `var` reads the environment (the
    /// toolchains' variables that move their caches).
    pub fn for_gates(
        repo: &Path,
        home: Option<&Path>,
        var: &dyn Fn(&str) -> Option<OsString>,
    ) -> Self {
        let mut writable = vec![repo.to_path_buf()];
        writable.extend(
            DEFAULT_WRITABLE_IN_HOME
                .iter()
                .filter_map(|raw| expand_home(raw, home)),
        );
        writable.extend(DEFAULT_WRITABLE_SYSTEM.iter().map(PathBuf::from));
        let moved = |name: &str, suffix: &str| {
            var(name)
                .filter(|value| !value.is_empty())
                .map(|value| {
                    let path = PathBuf::from(value);
                    if suffix.is_empty() {
                        path
                    } else {
                        path.join(suffix)
                    }
                })
                .filter(|path| path.is_absolute())
        };
        writable.extend(
            [
                moved("XDG_CACHE_HOME", ""),
                moved("CARGO_HOME", ""),
                moved("GOPATH", "pkg"),
                moved("GOMODCACHE", ""),
                moved("GOCACHE", ""),
                moved("npm_config_cache", ""),
                moved("UV_CACHE_DIR", ""),
            ]
            .into_iter()
            .flatten(),
        );
        let mut readable_denied: Vec<PathBuf> = DEFAULT_DENIED_IN_HOME
            .iter()
            .filter_map(|raw| expand_home(raw, home))
            .collect();
        if let Some(cargo_home) = moved("CARGO_HOME", "") {
            readable_denied.push(cargo_home.join("credentials"));
            readable_denied.push(cargo_home.join("credentials.toml"));
        }
        let mut policy = Self {
            writable,
            readable_denied,
            network: false,
            secret_env_patterns: Vec::new(),
            temp_parent: std::env::temp_dir(),
        };
        policy.dedup();
        policy
    }

    /// Adds the user's paths (`~/…` or absolute; others are returned as not understood).
    pub fn add_paths(
        &mut self,
        writable: &[String],
        denied: &[String],
        home: Option<&Path>,
    ) -> Result<(), String> {
        let expand = |raw: &String| {
            expand_home(raw, home)
                .ok_or_else(|| format!("`{raw}` is neither absolute nor under `~/`"))
        };
        let writable = writable.iter().map(expand).collect::<Result<Vec<_>, _>>()?;
        let denied = denied.iter().map(expand).collect::<Result<Vec<_>, _>>()?;
        self.writable.extend(writable);
        self.readable_denied.extend(denied);
        self.dedup();
        Ok(())
    }

    fn dedup(&mut self) {
        for list in [&mut self.writable, &mut self.readable_denied] {
            let mut seen = std::collections::HashSet::new();
            list.retain(|path| seen.insert(path.clone()));
        }
    }
}

/// `~/x` under `home`, an absolute path as itself; `None` for a relative path, or `~/…` without
/// a home directory.
pub fn expand_home(raw: &str, home: Option<&Path>) -> Option<PathBuf> {
    if raw == "~" {
        return home.map(Path::to_path_buf);
    }
    if let Some(rest) = raw.strip_prefix("~/") {
        return home.map(|home| home.join(rest));
    }
    let path = PathBuf::from(raw);
    path.is_absolute().then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_vars(_: &str) -> Option<OsString> {
        None
    }

    #[test]
    fn gates_policy_from_the_defaults() {
        let policy = SandboxPolicy::for_gates(
            Path::new("/work/repo"),
            Some(Path::new("/home/ann")),
            &no_vars,
        );
        let writable: Vec<&str> = policy
            .writable
            .iter()
            .map(|path| path.to_str().unwrap())
            .collect();
        assert_eq!(
            writable,
            [
                "/work/repo",
                "/home/ann/.cache",
                "/home/ann/.cargo",
                "/home/ann/.npm",
                "/home/ann/.local/share/uv",
                "/home/ann/go/pkg",
                "/dev/shm",
            ]
        );
        assert!(!policy.network);
        assert_eq!(policy.readable_denied.len(), DEFAULT_DENIED_IN_HOME.len());
        assert!(
            policy
                .readable_denied
                .contains(&PathBuf::from("/home/ann/.ssh"))
        );
        assert!(
            policy
                .readable_denied
                .contains(&PathBuf::from("/home/ann/.claude*"))
        );
    }

    #[test]
    fn toolchain_variables_move_their_caches() {
        let vars = |name: &str| match name {
            "CARGO_HOME" => Some(OsString::from("/opt/cargo")),
            "GOPATH" => Some(OsString::from("/opt/go")),
            "XDG_CACHE_HOME" => Some(OsString::from("relative/is/ignored")),
            "UV_CACHE_DIR" => Some(OsString::new()),
            _ => None,
        };
        let policy = SandboxPolicy::for_gates(Path::new("/r"), None, &vars);
        let writable: Vec<&str> = policy
            .writable
            .iter()
            .map(|path| path.to_str().unwrap())
            .collect();
        assert_eq!(writable, ["/r", "/dev/shm", "/opt/cargo", "/opt/go/pkg"]);
        assert_eq!(
            policy.readable_denied,
            [
                PathBuf::from("/opt/cargo/credentials"),
                PathBuf::from("/opt/cargo/credentials.toml"),
            ],
            "without a home only the moved cargo home's secrets are known"
        );
    }

    #[test]
    fn user_paths_are_added_once() {
        let home = Some(Path::new("/home/ann"));
        let mut policy = SandboxPolicy::for_gates(Path::new("/r"), home, &no_vars);
        let before = policy.writable.len();
        policy
            .add_paths(
                &["~/.m2".to_string(), "/r".to_string()],
                &["~/.vault-token".to_string()],
                home,
            )
            .unwrap();
        assert_eq!(policy.writable.len(), before + 1);
        assert_eq!(policy.writable.last().unwrap(), Path::new("/home/ann/.m2"));
        assert_eq!(
            policy.readable_denied.last().unwrap(),
            Path::new("/home/ann/.vault-token")
        );
        let error = policy.add_paths(&["cache".to_string()], &[], home);
        assert_eq!(
            error,
            Err("`cache` is neither absolute nor under `~/`".to_string())
        );
    }

    #[test]
    fn home_expansion() {
        let home = Some(Path::new("/h"));
        assert_eq!(expand_home("~", home), Some(PathBuf::from("/h")));
        assert_eq!(expand_home("~/a/b", home), Some(PathBuf::from("/h/a/b")));
        assert_eq!(expand_home("/abs", home), Some(PathBuf::from("/abs")));
        assert_eq!(expand_home("~/a", None), None);
        assert_eq!(expand_home("rel", home), None);
        assert_eq!(expand_home("~user/x", home), None);
    }
}
