//! The paths and environment variables the sandbox opens or hides, and how `~/` entries become
//! absolute paths.

use std::path::{Path, PathBuf};

/// Tool caches a test or build command writes to. Inside the sandbox the home directory is hidden
/// (an empty, throw-away directory), so a cache left out of this list still "works" but is lost
/// after each command, and a cache kept in the real home must be opened here to be reused.
pub const DEFAULT_WRITABLE_PATHS: &[&str] = &[
    "~/.cache",
    "~/.cargo",
    "~/.npm",
    "~/.local/share/uv",
    "~/go/pkg",
    "$TMPDIR",
];

/// Toolchains installed under the home directory, re-opened for reading inside the hidden home.
/// Without `~/.rustup`, for one, `cargo` fails inside the sandbox with "rustup could not choose a
/// version of cargo to run" (its toolchains are invisible).
pub const DEFAULT_TOOLCHAIN_PATHS: &[&str] = &[
    "~/.rustup",
    "~/.pyenv",
    "~/.nvm",
    "~/.volta",
    "~/.bun",
    "~/.deno",
    "~/.asdf",
    "~/.sdkman",
    "~/.local/bin",
    "~/.local/lib",
    "~/go/bin",
];

/// Paths outside the home directory that hold other users' or the machine's secrets. Denying a
/// path that does not exist is harmless.
pub const DEFAULT_SECRET_PATHS: &[&str] = &["/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/root"];

/// Secrets that live in the home directory. The whole home is hidden from commands already; these
/// are named again because some sit inside paths the sandbox re-opens (`~/.cargo/credentials.toml`
/// in the writable `~/.cargo`) and because the Read tool needs them one by one when the repository
/// is itself under the home directory (a `Read(~/**)` rule would then hide the repository too).
pub(super) const HOME_SECRETS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config",
    ".docker",
    ".kube",
    ".netrc",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".claude",
    ".claude.json",
    ".password-store",
    ".local/share/keyrings",
];

/// The model credentials: always hidden from commands, whether set or not.
const MODEL_CREDENTIALS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
];

/// Parts of a variable name that mark its value as a secret.
const SECRET_NAME_PARTS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "API_KEY",
    "APIKEY",
    "ACCESS_KEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
    "AUTH",
];

/// Shared temporary directories: opening one for writing would open every other program's files
/// in it. Commands get a private `$TMPDIR` from the sandbox instead.
const SHARED_TEMP_DIRS: &[&str] = &["/tmp", "/var/tmp", "/private/tmp", "/dev/shm"];

/// The variables to hide from sandboxed commands: the model credentials, then every name in
/// `present` that looks like a secret, sorted and without duplicates.
pub fn secret_env_vars<'a>(present: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut names: Vec<String> = MODEL_CREDENTIALS
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    let mut found: Vec<String> = present
        .into_iter()
        .filter(|name| is_secret_name(name))
        .filter(|name| !MODEL_CREDENTIALS.contains(name))
        .map(str::to_string)
        .collect();
    found.sort();
    found.dedup();
    names.extend(found);
    names
}

fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.ends_with("_KEY")
        || upper.ends_with("_PAT")
        || SECRET_NAME_PARTS.iter().any(|part| upper.contains(part))
}

/// Why a configured path cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("{0:?} is relative: name an absolute path or one under ~/")]
    Relative(String),
    #[error("{0:?} would make the whole home directory (or more) writable")]
    OpensHome(String),
}

/// `~/x` under `home`, `$TMPDIR` as `tmpdir` (`None` when unset), an absolute path as it is.
pub(super) fn expand(
    entry: &str,
    home: &Path,
    tmpdir: Option<&Path>,
) -> Result<Option<PathBuf>, PathError> {
    if entry == "$TMPDIR" {
        return Ok(tmpdir.map(Path::to_path_buf));
    }
    if entry == "~" || entry == "~/" {
        return Ok(Some(home.to_path_buf()));
    }
    if let Some(rest) = entry.strip_prefix("~/") {
        return Ok(Some(home.join(rest)));
    }
    let path = Path::new(entry);
    if path.is_absolute() {
        Ok(Some(path.to_path_buf()))
    } else {
        Err(PathError::Relative(entry.to_string()))
    }
}

/// The writable paths, expanded. `$TMPDIR` is dropped when it is a shared temporary directory
/// (or holds the home or the repository), because opening it would open far more than one
/// program's scratch files; any other entry that holds the home directory is an error.
pub(super) fn writable_paths(
    entries: &[String],
    home: &Path,
    repo: &Path,
    tmpdir: Option<&Path>,
) -> Result<Vec<PathBuf>, PathError> {
    let mut out = Vec::new();
    for entry in entries {
        let Some(path) = expand(entry, home, tmpdir)? else {
            continue;
        };
        let too_wide = home.starts_with(&path);
        if entry == "$TMPDIR" {
            let shared = SHARED_TEMP_DIRS.iter().any(|d| path == Path::new(d));
            if shared || too_wide || repo.starts_with(&path) {
                continue;
            }
        } else if too_wide {
            return Err(PathError::OpensHome(entry.clone()));
        }
        push_unique(&mut out, path);
    }
    Ok(out)
}

/// Absolute paths from `entries`; entries that do not expand (an unset `$TMPDIR`) are skipped.
pub(super) fn expand_all(
    entries: impl IntoIterator<Item = impl AsRef<str>>,
    home: &Path,
    tmpdir: Option<&Path>,
) -> Result<Vec<PathBuf>, PathError> {
    let mut out = Vec::new();
    for entry in entries {
        if let Some(path) = expand(entry.as_ref(), home, tmpdir)? {
            push_unique(&mut out, path);
        }
    }
    Ok(out)
}

pub(super) fn push_unique(list: &mut Vec<PathBuf>, path: PathBuf) {
    if !list.contains(&path) {
        list.push(path);
    }
}

/// A permission rule's path for an absolute path: rules read `/x` as relative to the settings
/// file and `//x` as absolute.
pub(super) fn rule_path(path: &Path) -> String {
    format!("/{}", path.display())
}

/// `~/x` for a path under `home`, else the path itself: shorter in the run header.
pub(super) fn display_path(path: &Path, home: &Path) -> String {
    match path.strip_prefix(home) {
        Ok(rest) if rest.as_os_str().is_empty() => "~".to_string(),
        Ok(rest) => format!("~/{}", rest.display()),
        Err(_) => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_credentials_come_first_then_secret_looking_names() {
        let present = [
            "PATH",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "ANTHROPIC_API_KEY",
            "HOME",
            "DB_PASSWORD",
            "STRIPE_KEY",
            "GITLAB_PAT",
            "SSH_AUTH_SOCK",
            "GITHUB_TOKEN",
            "CARGO_TERM_COLOR",
        ];
        assert_eq!(
            secret_env_vars(present),
            [
                "ANTHROPIC_API_KEY",
                "ANTHROPIC_AUTH_TOKEN",
                "CLAUDE_CODE_OAUTH_TOKEN",
                "AWS_SECRET_ACCESS_KEY",
                "DB_PASSWORD",
                "GITHUB_TOKEN",
                "GITLAB_PAT",
                "SSH_AUTH_SOCK",
                "STRIPE_KEY",
            ]
        );
    }

    #[test]
    fn tilde_and_tmpdir_expand_and_relative_paths_are_refused() {
        let home = Path::new("/home/u");
        let tmp = Some(Path::new("/var/folders/x/T"));
        assert_eq!(
            expand("~/.cache", home, tmp),
            Ok(Some(PathBuf::from("/home/u/.cache")))
        );
        assert_eq!(expand("~/", home, tmp), Ok(Some(PathBuf::from("/home/u"))));
        assert_eq!(
            expand("$TMPDIR", home, tmp),
            Ok(Some(PathBuf::from("/var/folders/x/T")))
        );
        assert_eq!(expand("$TMPDIR", home, None), Ok(None));
        assert_eq!(
            expand("/opt/cache", home, tmp),
            Ok(Some(PathBuf::from("/opt/cache")))
        );
        assert_eq!(
            expand("cache", home, tmp),
            Err(PathError::Relative("cache".to_string()))
        );
    }

    #[test]
    fn a_shared_tmpdir_is_left_closed_and_a_private_one_opened() {
        let entries: Vec<String> = ["~/.cache", "$TMPDIR"]
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        let home = Path::new("/home/u");
        let repo = Path::new("/tmp/work/repo");
        for shared in ["/tmp", "/var/tmp", "/tmp/work"] {
            assert_eq!(
                writable_paths(&entries, home, repo, Some(Path::new(shared))),
                Ok(vec![PathBuf::from("/home/u/.cache")]),
                "{shared}"
            );
        }
        assert_eq!(
            writable_paths(&entries, home, repo, Some(Path::new("/var/folders/x/T"))),
            Ok(vec![
                PathBuf::from("/home/u/.cache"),
                PathBuf::from("/var/folders/x/T")
            ])
        );
    }

    #[test]
    fn a_writable_entry_holding_the_home_directory_is_an_error() {
        let home = Path::new("/home/u");
        for entry in ["~/", "/home", "/"] {
            assert_eq!(
                writable_paths(&[entry.to_string()], home, Path::new("/srv/r"), None),
                Err(PathError::OpensHome(entry.to_string())),
                "{entry}"
            );
        }
    }

    #[test]
    fn rule_paths_are_absolute_and_display_paths_short() {
        assert_eq!(rule_path(Path::new("/etc/shadow")), "//etc/shadow");
        let home = Path::new("/home/u");
        assert_eq!(display_path(Path::new("/home/u/.cache"), home), "~/.cache");
        assert_eq!(display_path(home, home), "~");
        assert_eq!(display_path(Path::new("/opt/x"), home), "/opt/x");
    }
}
