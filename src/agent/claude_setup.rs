//! What Claude Code's permissions depend on, gathered from the configuration and the
//! environment of this run: the mode, the repository and home directory, the gates, the network
//! and path lists, the names of the variables the agent inherits, the model API's address.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::SetupError;
use super::claude_settings::{
    DEFAULT_ALLOWED_DOMAINS, DEFAULT_SECRET_PATHS, DEFAULT_TOOLCHAIN_PATHS, DEFAULT_WRITABLE_PATHS,
    Mode, PermissionInputs,
};
use crate::config::{Permission, Settings};

/// The mode of `[agent.claude] permission`.
pub(super) fn mode(permission: Permission) -> Mode {
    match permission {
        Permission::Sandbox => Mode::Sandbox,
        Permission::Allowlist => Mode::Allowlist,
        Permission::Bypass => Mode::Bypass,
    }
}

/// Toolchain variables that move a cache the agent's commands must write (`CARGO_HOME`) or a
/// toolchain they must read (`RUSTUP_HOME`), with the part of the path that is meant.
const MOVED_CACHES: &[(&str, &str)] = &[
    ("XDG_CACHE_HOME", ""),
    ("CARGO_HOME", ""),
    ("GOPATH", "pkg"),
    ("GOMODCACHE", ""),
    ("GOCACHE", ""),
    ("npm_config_cache", ""),
    ("UV_CACHE_DIR", ""),
];
const MOVED_TOOLCHAINS: &[&str] = &["RUSTUP_HOME", "PYENV_ROOT", "NVM_DIR", "VOLTA_HOME"];

/// The inputs of one run: the defaults, then the configured lists (the network list replaces
/// the registries; the path lists add to the built-in ones), then what the environment moves.
/// `var` reads the environment (`std::env::var_os` outside tests).
pub(super) fn permission_inputs(
    settings: &Settings,
    repo: &Path,
    var: &dyn Fn(&str) -> Option<OsString>,
) -> Result<PermissionInputs, SetupError> {
    let home = var("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(account_home)
        .ok_or(SetupError::NoHome)?;
    let repo = std::path::absolute(repo).unwrap_or_else(|_| repo.to_path_buf());
    let mut inputs = PermissionInputs::new(mode(settings.claude.permission), repo, &home);
    let configured = &settings.sandbox;
    inputs.tmpdir = var("TMPDIR")
        .filter(|t| !t.is_empty())
        .map(PathBuf::from)
        .filter(|t| t.is_absolute());
    inputs.gate_commands = settings.gates.clone();
    inputs.extra_rules = settings.claude.allowed_tools.clone();
    inputs.allowed_domains = match &configured.network {
        Some(hosts) => hosts.clone(),
        None => strings(DEFAULT_ALLOWED_DOMAINS),
    };
    inputs.writable_paths = strings(DEFAULT_WRITABLE_PATHS);
    inputs.readable_paths = strings(DEFAULT_TOOLCHAIN_PATHS);
    inputs.secret_paths = strings(DEFAULT_SECRET_PATHS);
    let absolute = |name: &str, rel: &str| {
        var(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .map(|p| if rel.is_empty() { p } else { p.join(rel) })
            .filter(|p| p.is_absolute())
    };
    for (name, rel) in MOVED_CACHES {
        // A variable pointing at the home directory itself (or above) would open all of it.
        if let Some(path) = absolute(name, rel).filter(|p| !home.starts_with(p)) {
            push_unique(&mut inputs.writable_paths, path.display().to_string());
        }
    }
    if let Some(cargo_home) = absolute("CARGO_HOME", "") {
        for secret in ["credentials", "credentials.toml"] {
            push_unique(
                &mut inputs.secret_paths,
                cargo_home.join(secret).display().to_string(),
            );
        }
    }
    for name in MOVED_TOOLCHAINS {
        if let Some(path) = absolute(name, "") {
            push_unique(&mut inputs.readable_paths, path.display().to_string());
        }
    }
    for (from, to) in [
        (&configured.writable_paths, &mut inputs.writable_paths),
        (&configured.readable_paths, &mut inputs.readable_paths),
        (&configured.secret_paths, &mut inputs.secret_paths),
    ] {
        for entry in from {
            push_unique(to, entry.clone());
        }
    }
    inputs.env_names = std::env::vars_os()
        .map(|(name, _)| name.to_string_lossy().into_owned())
        .collect();
    inputs.api_base_url = var("ANTHROPIC_BASE_URL")
        .filter(|v| !v.is_empty())
        .map(|v| v.to_string_lossy().into_owned());
    inputs.running_as_root = nix::unistd::geteuid().is_root();
    Ok(inputs)
}

/// The home directory of the account, for a process started without `HOME`.
fn account_home() -> Option<PathBuf> {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|user| user.dir)
        .filter(|dir| dir.is_absolute() && dir != Path::new("/"))
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

fn push_unique(list: &mut Vec<String>, entry: String) {
    if !list.contains(&entry) {
        list.push(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            list.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_configured_lists_and_the_environment_shape_the_inputs() {
        let mut settings = Settings {
            gates: vec!["make test-unit".to_string()],
            ..Settings::default()
        };
        settings.claude.allowed_tools = vec!["Bash(npm run lint)".to_string()];
        settings.sandbox.network = Some(vec!["example.com".to_string()]);
        settings.sandbox.writable_paths = vec!["~/.m2".to_string()];
        settings.sandbox.readable_paths = vec!["/opt/sdk".to_string()];
        settings.sandbox.secret_paths = vec!["~/.vault-token".to_string()];
        let env = vars(&[
            ("HOME", "/home/ann"),
            ("TMPDIR", "/var/folders/ann/T"),
            ("CARGO_HOME", "/opt/cargo"),
            ("XDG_CACHE_HOME", "/home/ann"),
            ("RUSTUP_HOME", "/opt/rustup"),
            ("ANTHROPIC_BASE_URL", "https://gateway.example.org"),
        ]);
        let inputs = permission_inputs(&settings, Path::new("/work/repo"), &env).unwrap();
        assert_eq!(inputs.mode, Mode::Sandbox);
        assert_eq!(inputs.home, PathBuf::from("/home/ann"));
        assert_eq!(inputs.tmpdir, Some(PathBuf::from("/var/folders/ann/T")));
        assert_eq!(inputs.gate_commands, ["make test-unit"]);
        assert_eq!(inputs.extra_rules, ["Bash(npm run lint)"]);
        assert_eq!(inputs.allowed_domains, ["example.com"], "the list replaces");
        let tail = |list: &[String], n: usize| list[list.len() - n..].to_vec();
        assert_eq!(
            inputs.writable_paths[..DEFAULT_WRITABLE_PATHS.len()],
            strings(DEFAULT_WRITABLE_PATHS)
        );
        assert_eq!(
            tail(&inputs.writable_paths, 2),
            ["/opt/cargo", "~/.m2"],
            "a cache variable at the home directory is not opened"
        );
        assert_eq!(tail(&inputs.readable_paths, 2), ["/opt/rustup", "/opt/sdk"]);
        assert_eq!(
            tail(&inputs.secret_paths, 3),
            [
                "/opt/cargo/credentials",
                "/opt/cargo/credentials.toml",
                "~/.vault-token"
            ]
        );
        assert_eq!(
            inputs.api_base_url.as_deref(),
            Some("https://gateway.example.org")
        );
    }

    #[test]
    fn no_network_key_keeps_the_registries() {
        let settings = Settings::default();
        let env = vars(&[("HOME", "/home/ann")]);
        let inputs = permission_inputs(&settings, Path::new("/work/repo"), &env).unwrap();
        assert_eq!(inputs.allowed_domains, strings(DEFAULT_ALLOWED_DOMAINS));
        assert_eq!(inputs.tmpdir, None);
        assert_eq!(inputs.api_base_url, None);
    }
}
