//! [`probe`] once per run, [`Sandbox::prepare`] once per sandboxed child.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::policy::SandboxPolicy;
use super::report::{SandboxKind, SandboxReport, Support};
use crate::process::secrets::{glob_matches, is_secret_name};

/// Variables that name the temporary directory, all pointed at the private one.
const TEMP_VARS: &[&str] = &["TMPDIR", "TMP", "TEMP", "TEMPDIR"];

/// Finds what this machine can confine. On Linux this asks the kernel for its Landlock ABI and
/// starts a short-lived child in a new network namespace (directly, then inside a user
/// namespace), so what it reports is what worked, not what should.
///
/// The answer is kept: a second call, or one while [`probe_in_background`] works, gets it.
pub fn probe() -> Support {
    static SUPPORT: std::sync::OnceLock<Support> = std::sync::OnceLock::new();
    SUPPORT.get_or_init(probe_here).clone()
}

/// Probes in a thread of its own, so that a later [`probe`] finds the answer ready.
pub fn probe_in_background() {
    std::thread::spawn(probe);
}

#[cfg(target_os = "linux")]
fn probe_here() -> Support {
    Support {
        landlock: super::linux::landlock_abi(),
        netns: super::linux::netns_mode(),
        sandbox_exec: Err("not macOS".to_string()),
    }
}

#[cfg(target_os = "macos")]
fn probe_here() -> Support {
    Support {
        landlock: Err("not Linux".to_string()),
        netns: Err("not Linux".to_string()),
        sandbox_exec: super::macos::available(),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn probe_here() -> Support {
    let why = "no sandbox for this operating system".to_string();
    Support {
        landlock: Err(why.clone()),
        netns: Err(why.clone()),
        sandbox_exec: Err(why),
    }
}

/// A policy made ready for one child: the kernel rules built, the private temporary directory
/// made (and removed when this is dropped), the secret variables of this process listed.
/// Prepare one per run: each gets a temporary directory of its own.
#[derive(Debug)]
pub struct Sandbox {
    report: SandboxReport,
    temp: tempfile::TempDir,
    secret_patterns: Vec<String>,
    /// Names of this process's variables that look secret.
    inherited_secrets: Vec<OsString>,
    #[cfg(target_os = "linux")]
    linux: Option<super::linux::Prepared>,
    #[cfg(target_os = "macos")]
    profile: Option<String>,
}

/// A sandbox could not be prepared on a machine that supports one.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("could not make a private temporary directory in {}: {source}", parent.display())]
    TempDir {
        parent: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not build the sandbox rules: {0}")]
    Rules(String),
}

impl Sandbox {
    /// Makes `policy` ready with what `support` says this machine can do. Where nothing can
    /// confine the child ([`SandboxKind::Unavailable`]), the child still gets its private
    /// temporary directory and no secret variables.
    pub fn prepare(policy: &SandboxPolicy, support: &Support) -> Result<Self, SandboxError> {
        let temp = tempfile::Builder::new()
            .prefix("kmilestone-gate-")
            .tempdir_in(&policy.temp_parent)
            .map_err(|source| SandboxError::TempDir {
                parent: policy.temp_parent.clone(),
                source,
            })?;
        let report = support.report(policy.network);
        let paths = resolve(policy, temp.path());
        let inherited_secrets = std::env::vars_os()
            .map(|(name, _)| name)
            .filter(|name| is_secret_name(&name.to_string_lossy(), &policy.secret_env_patterns))
            .collect();
        #[cfg(target_os = "linux")]
        let linux = match &report.kind {
            SandboxKind::Landlock { network, .. } => {
                let prepared = super::linux::Prepared::new(
                    &super::linux::Paths {
                        writable: paths.writable.clone(),
                        denied: paths.denied.clone(),
                    },
                    network,
                )
                .map_err(SandboxError::Rules)?;
                tracing::debug!(rules = prepared.rules, "Landlock ruleset built");
                Some(prepared)
            }
            _ => None,
        };
        #[cfg(target_os = "macos")]
        let profile = matches!(report.kind, SandboxKind::SandboxExec { .. }).then(|| {
            super::macos::profile(&super::macos::ProfilePaths {
                writable: paths.writable.clone(),
                denied: paths.denied_patterns.clone(),
                network: policy.network,
            })
        });
        let _ = &paths;
        Ok(Self {
            report,
            temp,
            secret_patterns: policy.secret_env_patterns.clone(),
            inherited_secrets,
            #[cfg(target_os = "linux")]
            linux,
            #[cfg(target_os = "macos")]
            profile,
        })
    }

    /// What is in force, for the run header.
    pub fn report(&self) -> &SandboxReport {
        &self.report
    }

    /// The private temporary directory (`TMPDIR` inside).
    pub fn temp_dir(&self) -> &Path {
        self.temp.path()
    }

    /// Whether a variable of this name is kept from the child.
    pub fn removes_env(&self, name: &OsStr) -> bool {
        is_secret_name(&name.to_string_lossy(), &self.secret_patterns)
    }

    /// The command that runs `program` with `args` inside the sandbox: on macOS through
    /// `sandbox-exec`, elsewhere the program itself (the rules are applied before exec).
    pub(crate) fn command(&self, program: &OsStr, args: &[OsString]) -> Command {
        #[cfg(target_os = "macos")]
        if let Some(profile) = &self.profile {
            let mut cmd = Command::new(super::macos::SANDBOX_EXEC);
            cmd.arg("-p").arg(profile).arg(program).args(args);
            return cmd;
        }
        let mut cmd = Command::new(program);
        cmd.args(args);
        cmd
    }

    /// Removes the secret variables (those of this process, and any of `set_by_caller`), points
    /// the temporary-directory variables at the private one, and on Linux makes the child enter
    /// the sandbox between fork and exec.
    pub(crate) fn configure<'a>(
        &self,
        cmd: &mut Command,
        set_by_caller: impl Iterator<Item = &'a OsStr>,
    ) {
        for name in &self.inherited_secrets {
            cmd.env_remove(name);
        }
        for name in set_by_caller.filter(|name| self.removes_env(name)) {
            cmd.env_remove(name);
        }
        for var in TEMP_VARS {
            cmd.env(var, self.temp.path());
        }
        #[cfg(target_os = "linux")]
        if let Some(linux) = &self.linux {
            linux.install(cmd);
        }
    }
}

/// The policy's paths as the kernel sees them: canonical, existing, globs expanded.
#[derive(Debug, Default)]
struct Resolved {
    writable: Vec<PathBuf>,
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    denied: Vec<PathBuf>,
    /// For profiles that match names themselves (macOS): canonical parent, glob kept; paths
    /// that do not exist yet are kept too.
    #[cfg_attr(not(target_os = "macos"), allow(dead_code))]
    denied_patterns: Vec<PathBuf>,
}

fn resolve(policy: &SandboxPolicy, temp: &Path) -> Resolved {
    let mut resolved = Resolved::default();
    for raw in &policy.readable_denied {
        let (Some(parent), Some(name)) = (raw.parent(), raw.file_name()) else {
            continue;
        };
        let parent = parent
            .canonicalize()
            .unwrap_or_else(|_| parent.to_path_buf());
        let name = name.to_string_lossy();
        resolved.denied_patterns.push(parent.join(&*name));
        if name.contains('*') {
            let Ok(entries) = std::fs::read_dir(&parent) else {
                continue;
            };
            for entry in entries.flatten() {
                if glob_matches(&name, &entry.file_name().to_string_lossy()) {
                    resolved.denied.extend(entry.path().canonicalize());
                }
            }
        } else {
            resolved.denied.extend(parent.join(&*name).canonicalize());
        }
    }
    // A writable path inside a denied one stays denied: the secret wins.
    let writable = policy.writable.iter().map(PathBuf::as_path).chain([temp]);
    for path in writable {
        let Ok(path) = path.canonicalize() else {
            tracing::debug!(path = %path.display(), "writable path missing; left out");
            continue;
        };
        if resolved
            .denied
            .iter()
            .any(|hidden| path.starts_with(hidden))
        {
            tracing::debug!(path = %path.display(), "writable path is inside a denied one");
            continue;
        }
        if !resolved.writable.contains(&path) {
            resolved.writable.push(path);
        }
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_paths_are_resolved_through_links_and_globs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let home = root.join("home");
        let keys = root.join("elsewhere/keys");
        for path in [&home.join(".claude"), &home.join(".clau"), &keys] {
            std::fs::create_dir_all(path).unwrap();
        }
        std::fs::write(home.join(".claude.json"), "{}").unwrap();
        // ~/.ssh is a link: the folder it points to is what must be hidden.
        std::os::unix::fs::symlink(&keys, home.join(".ssh")).unwrap();
        let policy = SandboxPolicy {
            writable: vec![
                root.join("repo-missing"),
                home.join(".claude/cache"),
                root.join("elsewhere"),
            ],
            readable_denied: vec![home.join(".ssh"), home.join(".claude*"), home.join(".aws")],
            network: false,
            secret_env_patterns: Vec::new(),
            temp_parent: root.clone(),
        };
        std::fs::create_dir_all(home.join(".claude/cache")).unwrap();
        let temp = root.join("temp");
        std::fs::create_dir(&temp).unwrap();
        let resolved = resolve(&policy, &temp);
        let mut denied = resolved.denied.clone();
        denied.sort();
        assert_eq!(
            denied,
            [
                keys.clone(),
                home.join(".claude"),
                home.join(".claude.json")
            ]
        );
        assert_eq!(
            resolved.writable,
            [root.join("elsewhere"), temp],
            "missing and denied writable paths are left out; the temp dir is always in"
        );
        assert_eq!(
            resolved.denied_patterns,
            [home.join(".ssh"), home.join(".claude*"), home.join(".aws")],
            "patterns keep globs and paths that do not exist yet"
        );
    }

    #[test]
    fn caller_set_secrets_are_removed_too() {
        let dir = tempfile::tempdir().unwrap();
        let mut policy = SandboxPolicy::for_gates(dir.path(), None, &|_| None);
        policy.temp_parent = dir.path().to_path_buf();
        policy.secret_env_patterns = vec!["DATABASE_URL".to_string()];
        let unsupported = Support {
            landlock: Err("none here".to_string()),
            netns: Err("none here".to_string()),
            sandbox_exec: Err("none here".to_string()),
        };
        let sandbox = Sandbox::prepare(&policy, &unsupported).unwrap();
        assert!(!sandbox.report().is_confined());
        assert!(sandbox.removes_env(OsStr::new("GH_TOKEN")));
        assert!(sandbox.removes_env(OsStr::new("DATABASE_URL")));
        assert!(!sandbox.removes_env(OsStr::new("PATH")));
        assert!(sandbox.temp_dir().starts_with(dir.path()));
    }
}
