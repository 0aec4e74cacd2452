//! The three permission modes and the command-line arguments each gives Claude Code.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::domains::{self, DEFAULT_ALLOWED_DOMAINS, DomainError};
use super::paths::{
    self, DEFAULT_SECRET_PATHS, DEFAULT_TOOLCHAIN_PATHS, DEFAULT_WRITABLE_PATHS, HOME_SECRETS,
    PathError,
};

/// How far the agent may act without asking (`[agent.claude] permission`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Any command, inside Claude Code's OS sandbox (bubblewrap and socat on Linux).
    #[default]
    Sandbox,
    /// No sandbox; only the listed tools and commands.
    Allowlist,
    /// Everything, no sandbox: the user's explicit choice.
    Bypass,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Sandbox => "sandbox",
            Mode::Allowlist => "allowlist",
            Mode::Bypass => "bypass",
        }
    }
}

/// What the permissions of one run depend on, resolved by the caller from the configuration and
/// the environment. [`PermissionInputs::new`] fills in the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionInputs {
    pub mode: Mode,
    /// The repository (absolute): the agent's working directory.
    pub repo: PathBuf,
    /// The user's home directory (absolute), hidden from commands in sandbox mode.
    pub home: PathBuf,
    /// `$TMPDIR`, opened for writing when it is private to the user.
    pub tmpdir: Option<PathBuf>,
    /// Gate commands, allowed verbatim in allowlist mode.
    pub gate_commands: Vec<String>,
    /// More permission rules (`[agent.claude] allowed_tools`), added in every mode but bypass.
    pub extra_rules: Vec<String>,
    /// Hosts sandboxed commands may reach (`[agent] network`).
    pub allowed_domains: Vec<String>,
    /// Paths sandboxed commands may write besides the repository (`~/` and `$TMPDIR` expand).
    pub writable_paths: Vec<String>,
    /// Paths under the hidden home that commands may read (toolchains).
    pub readable_paths: Vec<String>,
    /// Paths hidden from commands and from the Read tool besides the home directory.
    pub secret_paths: Vec<String>,
    /// Names of the variables in the agent's environment; secret-looking ones are hidden.
    pub env_names: Vec<String>,
    /// `ANTHROPIC_BASE_URL`, whose host commands must never reach.
    pub api_base_url: Option<String>,
    /// Claude Code refuses bypass as root unless `IS_SANDBOX=1`.
    pub running_as_root: bool,
}

impl PermissionInputs {
    /// The defaults: registries only, the usual tool caches and toolchains, the machine's secret
    /// files; no gates, no extra rules, an empty environment.
    pub fn new(mode: Mode, repo: impl Into<PathBuf>, home: impl Into<PathBuf>) -> PermissionInputs {
        let strings = |list: &[&str]| list.iter().map(std::string::ToString::to_string).collect();
        PermissionInputs {
            mode,
            repo: repo.into(),
            home: home.into(),
            tmpdir: None,
            gate_commands: Vec::new(),
            extra_rules: Vec::new(),
            allowed_domains: strings(DEFAULT_ALLOWED_DOMAINS),
            writable_paths: strings(DEFAULT_WRITABLE_PATHS),
            readable_paths: strings(DEFAULT_TOOLCHAIN_PATHS),
            secret_paths: strings(DEFAULT_SECRET_PATHS),
            env_names: Vec::new(),
            api_base_url: None,
            running_as_root: false,
        }
    }

    fn api_hosts(&self) -> Vec<String> {
        let mut hosts = vec![domains::api_host(self.api_base_url.as_deref())];
        let default = domains::api_host(None);
        if !hosts.contains(&default) {
            hosts.push(default);
        }
        hosts
    }
}

/// Why the permissions cannot be built; the run must not start (bad configuration, exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{0}")]
    Path(#[from] PathError),
    #[error("the repository path {0:?} must be absolute")]
    RelativeRepo(PathBuf),
    #[error(
        "the repository {0:?} is the home directory or holds it: the sandbox could not hide the home directory's secrets; run kmilestone in a project folder"
    )]
    RepoHoldsHome(PathBuf),
}

/// The arguments (and environment) that give Claude Code the permissions of one mode.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaudePermissions {
    /// To append to `claude -p --output-format stream-json --verbose`.
    pub args: Vec<String>,
    /// Variables to set for the CLI process.
    pub env: Vec<(String, String)>,
    /// The `--settings` document, when the mode has one.
    pub settings: Option<Value>,
}

/// The permission arguments of `inputs.mode`:
/// - sandbox: `--permission-mode dontAsk --settings <sandbox_settings>`;
/// - allowlist: `--permission-mode dontAsk --settings <allowlist_settings>`;
/// - bypass: `--dangerously-skip-permissions`, plus `IS_SANDBOX=1` when running as root.
///
/// `dontAsk` denies whatever no rule allows, with an error the model reads, instead of waiting
/// for an approval nobody can give headless.
pub fn claude_permissions(inputs: &PermissionInputs) -> Result<ClaudePermissions, SettingsError> {
    let settings = match inputs.mode {
        Mode::Sandbox => sandbox_settings(inputs)?,
        Mode::Allowlist => allowlist_settings(inputs)?,
        Mode::Bypass => {
            let env = if inputs.running_as_root {
                vec![("IS_SANDBOX".to_string(), "1".to_string())]
            } else {
                Vec::new()
            };
            return Ok(ClaudePermissions {
                args: vec!["--dangerously-skip-permissions".to_string()],
                env,
                settings: None,
            });
        }
    };
    Ok(ClaudePermissions {
        args: vec![
            "--permission-mode".to_string(),
            "dontAsk".to_string(),
            "--settings".to_string(),
            settings.to_string(),
        ],
        env: Vec::new(),
        settings: Some(settings),
    })
}

/// Tools the sandbox cannot contain, denied in sandbox mode unless an extra rule names them:
/// WebFetch runs in the CLI's own process, outside the sandbox's network; the worktree tools move
/// the session to another branch and directory behind the runner's back.
const SANDBOX_DENIED_TOOLS: &[&str] = &["WebFetch", "EnterWorktree", "ExitWorktree"];

/// The `--settings` document of sandbox mode.
///
/// Every Bash command is allowed and runs sandboxed: `Bash` as an allow rule rather than
/// `autoAllowBashIfSandboxed` alone, because the CLI still asks (and so, headless, denies) for
/// shell forms it cannot analyse, such as `for` loops and `eval`; with
/// `allowUnsandboxedCommands: false` a call's `dangerouslyDisableSandbox` is ignored. Writes go
/// to the repository (`Edit(./**)`, which also covers Write and opens the working directory to
/// commands) and the tool caches; the home directory becomes an empty throw-away directory
/// except the toolchains; secrets are hidden from commands (`denyRead`) and from the Read tool
/// (deny rules), credentials from the environment.
pub fn sandbox_settings(inputs: &PermissionInputs) -> Result<Value, SettingsError> {
    let (repo, home) = checked_roots(inputs)?;
    domains::validate_domains(&inputs.allowed_domains, &inputs.api_hosts())?;
    let tmpdir = inputs.tmpdir.as_deref();
    let writable = paths::writable_paths(&inputs.writable_paths, home, repo, tmpdir)?;
    let secrets = secret_paths(inputs)?;

    let mut deny_read = vec![home.to_path_buf()];
    for path in &secrets {
        paths::push_unique(&mut deny_read, path.clone());
    }
    let mut allow_read = vec![repo.to_path_buf()];
    for path in paths::expand_all(&inputs.readable_paths, home, tmpdir)? {
        paths::push_unique(&mut allow_read, path);
    }

    let mut allow = vec!["Edit(./**)".to_string(), "Bash".to_string()];
    allow.extend(inputs.extra_rules.iter().cloned());
    let mut deny = read_deny_rules(repo, home, &secrets);
    deny.extend(
        SANDBOX_DENIED_TOOLS
            .iter()
            .filter(|tool| !inputs.extra_rules.iter().any(|r| rule_tool(r) == **tool))
            .map(std::string::ToString::to_string),
    );
    let env_vars: Vec<Value> = paths::secret_env_vars(inputs.env_names.iter().map(String::as_str))
        .into_iter()
        .map(|name| json!({ "name": name, "mode": "deny" }))
        .collect();

    Ok(json!({
        "sandbox": {
            "enabled": true,
            "failIfUnavailable": true,
            "autoAllowBashIfSandboxed": true,
            "allowUnsandboxedCommands": false,
            "filesystem": {
                "denyRead": path_strings(&deny_read),
                "allowRead": path_strings(&allow_read),
                "allowWrite": path_strings(&writable),
            },
            "network": { "allowedDomains": inputs.allowed_domains },
            "credentials": { "envVars": env_vars },
        },
        "permissions": {
            "allow": allow,
            "deny": deny,
            "denyInsteadOfPrompting": true,
        },
    }))
}

/// Git subcommands the agent needs to record its work; everything else of git is refused.
const ALLOWLIST_GIT: &[&str] = &["add", "commit", "status", "diff", "log"];

/// Options of the allowed git subcommands that reach outside the repository, refused by deny
/// rules (a `*` matches anything, options included). Observed with 2.1.332: without them
/// `git log --output=/elsewhere` and `git diff --output=…` write any file, `git diff --no-index`
/// reads any file, `git commit -F /elsewhere` copies any file into a commit message.
pub(super) const ALLOWLIST_GIT_DENY: &[(&str, &str)] = &[
    (
        "Bash(git * --output*)",
        "git's --output writes a file anywhere",
    ),
    (
        "Bash(git *--no-index*)",
        "git diff --no-index reads files outside the repository",
    ),
    (
        "Bash(git commit *-F*)",
        "git commit -F reads the message from any file",
    ),
    (
        "Bash(git commit *--file*)",
        "git commit --file reads the message from any file",
    ),
    (
        "Bash(git commit *--template*)",
        "git commit --template reads any file",
    ),
    (
        "Bash(git *--pathspec-from-file*)",
        "--pathspec-from-file reads any file",
    ),
];

/// The `--settings` document of allowlist mode: reads and edits inside the repository, the git
/// subcommands of [`ALLOWLIST_GIT`], each gate command exactly (no `:*`, so `make test-unit -f
/// evil.mk` is refused), the extra rules; secrets denied to Read as in sandbox mode. Compound
/// commands pass when each part is allowed (`git add a && git commit -m b`).
pub fn allowlist_settings(inputs: &PermissionInputs) -> Result<Value, SettingsError> {
    // Glob and Grep are not tools of 2.1.332 (commands do that work); the rules keep older
    // versions, which have them, inside the repository. They are harmless otherwise.
    let mut allow: Vec<String> = ["Read(./**)", "Edit(./**)", "Glob(./**)", "Grep(./**)"]
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    allow.extend(ALLOWLIST_GIT.iter().map(|sub| format!("Bash(git {sub}:*)")));
    allow.extend(
        inputs
            .gate_commands
            .iter()
            .map(|gate| format!("Bash({gate})")),
    );
    allow.extend(inputs.extra_rules.iter().cloned());
    let secrets = secret_paths(inputs)?;
    let mut deny: Vec<String> = ALLOWLIST_GIT_DENY
        .iter()
        .map(|(rule, _)| rule.to_string())
        .collect();
    deny.extend(read_deny_rules(&inputs.repo, &inputs.home, &secrets));
    Ok(json!({
        "permissions": {
            "allow": allow,
            "deny": deny,
            "denyInsteadOfPrompting": true,
        },
    }))
}

/// The paths sandboxed commands may write besides the repository, as the header shows them
/// (`~/.cache`); paths that cannot be opened are left out (the settings report them).
pub fn sandbox_writable(inputs: &PermissionInputs) -> Vec<String> {
    paths::writable_paths(
        &inputs.writable_paths,
        &inputs.home,
        &inputs.repo,
        inputs.tmpdir.as_deref(),
    )
    .unwrap_or_default()
    .iter()
    .map(|p| paths::display_path(p, &inputs.home))
    .collect()
}

/// The commands allowlist mode lets through: git's recording subcommands, then each gate.
pub fn allowlist_commands(inputs: &PermissionInputs) -> Vec<String> {
    let mut commands = vec![format!("git {}", ALLOWLIST_GIT.join("/"))];
    commands.extend(inputs.gate_commands.iter().cloned());
    commands
}

/// One line for the run header.
pub fn describe_mode(inputs: &PermissionInputs) -> String {
    match inputs.mode {
        Mode::Sandbox => {
            let home = &inputs.home;
            let writable = paths::writable_paths(
                &inputs.writable_paths,
                home,
                &inputs.repo,
                inputs.tmpdir.as_deref(),
            )
            .unwrap_or_default();
            let mut places = vec!["the repository".to_string()];
            places.extend(writable.iter().map(|p| paths::display_path(p, home)));
            let network = if inputs.allowed_domains.is_empty() {
                "no network".to_string()
            } else {
                format!("network only to {}", inputs.allowed_domains.join(", "))
            };
            format!(
                "sandbox: any command, inside Claude Code's sandbox; writes only to {}; {network}; home directory and secrets hidden",
                places.join(", ")
            )
        }
        Mode::Allowlist => {
            let mut bash: Vec<String> = vec![format!("git {}", ALLOWLIST_GIT.join("/"))];
            bash.extend(inputs.gate_commands.iter().cloned());
            let extra = match inputs.extra_rules.len() {
                0 => String::new(),
                1 => "; + 1 configured rule".to_string(),
                n => format!("; + {n} configured rules"),
            };
            format!(
                "allowlist: no sandbox; reads and edits in the repository; commands only {}{extra}",
                bash.join(", ")
            )
        }
        Mode::Bypass => {
            "bypass: every tool and command allowed without asking, no sandbox (your explicit choice)"
                .to_string()
        }
    }
}

/// The tool a permission rule is about: `WebFetch(domain:x)` → `WebFetch`.
pub(super) fn rule_tool(rule: &str) -> &str {
    rule.split('(').next().unwrap_or(rule).trim()
}

fn checked_roots(inputs: &PermissionInputs) -> Result<(&Path, &Path), SettingsError> {
    let repo = inputs.repo.as_path();
    if !repo.is_absolute() {
        return Err(SettingsError::RelativeRepo(inputs.repo.clone()));
    }
    let home = inputs.home.as_path();
    if home.starts_with(repo) {
        return Err(SettingsError::RepoHoldsHome(inputs.repo.clone()));
    }
    Ok((repo, home))
}

/// The configured secret paths and the home directory's well-known secrets, absolute.
fn secret_paths(inputs: &PermissionInputs) -> Result<Vec<PathBuf>, PathError> {
    let home_secrets = HOME_SECRETS.iter().map(|rel| format!("~/{rel}"));
    let configured = inputs.secret_paths.iter().cloned();
    paths::expand_all(
        configured.chain(home_secrets),
        &inputs.home,
        inputs.tmpdir.as_deref(),
    )
}

/// Deny rules that hide `secrets` (and the whole home, when the repository is not under it) from
/// the Read tool, which runs outside the sandbox. A path that holds the repository gets no rule:
/// Read and Edit deny rules also cover everything below them, and would lock the agent out of
/// its own repository (observed: `Read(~/**)` with the repository under `~` refuses both).
fn read_deny_rules(repo: &Path, home: &Path, secrets: &[PathBuf]) -> Vec<String> {
    let mut rules = Vec::new();
    let mut add = |path: &Path| {
        if repo.starts_with(path) {
            return;
        }
        let rule_path = paths::rule_path(path);
        rules.push(format!("Read({rule_path})"));
        rules.push(format!("Read({rule_path}/**)"));
    };
    add(home);
    for path in secrets {
        if !path.starts_with(home) || repo.starts_with(home) {
            add(path);
        }
    }
    rules
}

fn path_strings(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

#[cfg(test)]
#[path = "modes_tests.rs"]
mod tests;
