use serde_json::json;

use super::*;

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(std::string::ToString::to_string).collect()
}

/// A repository outside the home directory, as in CI checkouts.
fn outside_home() -> PermissionInputs {
    let mut inputs = PermissionInputs::new(Mode::Sandbox, "/srv/work/repo", "/home/u");
    inputs.env_names = strings(&["PATH", "GITHUB_TOKEN", "ANTHROPIC_API_KEY", "LANG"]);
    inputs
}

/// A repository under the home directory, as on most laptops.
fn under_home() -> PermissionInputs {
    PermissionInputs::new(Mode::Sandbox, "/home/u/code/repo", "/home/u")
}

fn list(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string"))
        .collect()
}

#[test]
fn sandbox_mode_fails_closed_and_allows_every_command_sandboxed() {
    let settings = sandbox_settings(&outside_home()).unwrap();
    let sandbox = &settings["sandbox"];
    assert_eq!(sandbox["enabled"], true);
    assert_eq!(sandbox["failIfUnavailable"], true, "never run unsandboxed");
    assert_eq!(sandbox["autoAllowBashIfSandboxed"], true);
    assert_eq!(
        sandbox["allowUnsandboxedCommands"], false,
        "dangerouslyDisableSandbox is ignored"
    );
    assert_eq!(sandbox.get("excludedCommands"), None);
    assert_eq!(
        list(&settings["permissions"]["allow"]),
        ["Edit(./**)", "Bash"]
    );
    assert_eq!(settings["permissions"]["denyInsteadOfPrompting"], true);
}

#[test]
fn sandbox_mode_hides_home_and_secrets_and_reopens_repository_and_toolchains() {
    let settings = sandbox_settings(&outside_home()).unwrap();
    let fs = &settings["sandbox"]["filesystem"];
    let deny_read = list(&fs["denyRead"]);
    assert_eq!(deny_read[0], "/home/u");
    for secret in [
        "/etc/shadow",
        "/root",
        "/home/u/.ssh",
        "/home/u/.cargo/credentials.toml",
    ] {
        assert!(deny_read.contains(&secret), "{secret} in {deny_read:?}");
    }
    let allow_read = list(&fs["allowRead"]);
    assert_eq!(
        allow_read[..3],
        ["/srv/work/repo", "/home/u/.rustup", "/home/u/.pyenv"]
    );
    assert_eq!(
        list(&fs["allowWrite"]),
        [
            "/home/u/.cache",
            "/home/u/.cargo",
            "/home/u/.npm",
            "/home/u/.local/share/uv",
            "/home/u/go/pkg"
        ],
        "no $TMPDIR when it is unset"
    );
    let deny = list(&settings["permissions"]["deny"]);
    assert_eq!(
        deny,
        [
            "Read(//home/u)",
            "Read(//home/u/**)",
            "Read(//etc/shadow)",
            "Read(//etc/shadow/**)",
            "Read(//etc/gshadow)",
            "Read(//etc/gshadow/**)",
            "Read(//etc/sudoers)",
            "Read(//etc/sudoers/**)",
            "Read(//root)",
            "Read(//root/**)",
            "WebFetch",
            "EnterWorktree",
            "ExitWorktree",
        ],
        "home secrets need no rules of their own when the whole home is denied"
    );
}

#[test]
fn a_repository_under_home_gets_no_rule_that_would_hide_it() {
    let settings = sandbox_settings(&under_home()).unwrap();
    let deny = list(&settings["permissions"]["deny"]);
    assert!(
        !deny
            .iter()
            .any(|r| *r == "Read(//home/u)" || *r == "Read(//home/u/**)"),
        "{deny:?}"
    );
    for rule in [
        "Read(//home/u/.ssh/**)",
        "Read(//home/u/.aws/**)",
        "Read(//home/u/.claude.json)",
    ] {
        assert!(deny.contains(&rule), "{rule} in {deny:?}");
    }
    let fs = &settings["sandbox"]["filesystem"];
    assert_eq!(
        list(&fs["denyRead"])[0],
        "/home/u",
        "commands still see an empty home"
    );
    assert_eq!(list(&fs["allowRead"])[0], "/home/u/code/repo");
}

#[test]
fn a_secret_path_holding_the_repository_is_hidden_from_commands_only() {
    let mut inputs = PermissionInputs::new(Mode::Sandbox, "/root/work/repo", "/home/u");
    inputs.secret_paths = strings(&["/root", "~/.vault"]);
    let settings = sandbox_settings(&inputs).unwrap();
    let deny = list(&settings["permissions"]["deny"]);
    assert!(
        !deny.iter().any(|r| r.starts_with("Read(//root")),
        "{deny:?}"
    );
    assert!(list(&settings["sandbox"]["filesystem"]["denyRead"]).contains(&"/root"));
    assert!(list(&settings["sandbox"]["filesystem"]["denyRead"]).contains(&"/home/u/.vault"));
}

#[test]
fn model_credentials_and_secret_looking_variables_are_hidden_from_commands() {
    let settings = sandbox_settings(&outside_home()).unwrap();
    assert_eq!(
        settings["sandbox"]["credentials"]["envVars"],
        json!([
            {"name": "ANTHROPIC_API_KEY", "mode": "deny"},
            {"name": "ANTHROPIC_AUTH_TOKEN", "mode": "deny"},
            {"name": "CLAUDE_CODE_OAUTH_TOKEN", "mode": "deny"},
            {"name": "GITHUB_TOKEN", "mode": "deny"},
        ])
    );
}

#[test]
fn the_network_is_the_registries_by_default_replaceable_and_cut_by_an_empty_list() {
    let settings = sandbox_settings(&outside_home()).unwrap();
    assert_eq!(
        list(&settings["sandbox"]["network"]["allowedDomains"]),
        DEFAULT_ALLOWED_DOMAINS
    );
    let mut inputs = outside_home();
    inputs.allowed_domains = Vec::new();
    let settings = sandbox_settings(&inputs).unwrap();
    assert_eq!(settings["sandbox"]["network"]["allowedDomains"], json!([]));
}

#[test]
fn loopback_and_the_model_api_are_refused_as_allowed_domains() {
    let mut inputs = outside_home();
    inputs.allowed_domains = strings(&["pypi.org", "127.0.0.1"]);
    assert_eq!(
        sandbox_settings(&inputs),
        Err(SettingsError::Domain(DomainError::Loopback(
            "127.0.0.1".to_string()
        )))
    );
    inputs.allowed_domains = strings(&["llm.corp.example"]);
    inputs.api_base_url = Some("https://llm.corp.example/v1".to_string());
    assert!(matches!(
        sandbox_settings(&inputs),
        Err(SettingsError::Domain(DomainError::ModelApi { .. }))
    ));
    inputs.allowed_domains = strings(&["api.anthropic.com"]);
    assert!(
        matches!(
            sandbox_settings(&inputs),
            Err(SettingsError::Domain(DomainError::ModelApi { .. }))
        ),
        "the default API host is refused even behind a gateway"
    );
}

#[test]
fn a_private_tmpdir_is_writable_and_bad_paths_are_errors() {
    let mut inputs = outside_home();
    inputs.tmpdir = Some(PathBuf::from("/var/folders/ab/T"));
    let settings = sandbox_settings(&inputs).unwrap();
    assert!(list(&settings["sandbox"]["filesystem"]["allowWrite"]).contains(&"/var/folders/ab/T"));

    inputs.writable_paths = strings(&["~/"]);
    assert_eq!(
        sandbox_settings(&inputs),
        Err(SettingsError::Path(PathError::OpensHome("~/".to_string())))
    );
    inputs.writable_paths = strings(&["build-cache"]);
    assert!(matches!(
        sandbox_settings(&inputs),
        Err(SettingsError::Path(PathError::Relative(_)))
    ));

    let home_repo = PermissionInputs::new(Mode::Sandbox, "/home/u", "/home/u");
    assert!(matches!(
        sandbox_settings(&home_repo),
        Err(SettingsError::RepoHoldsHome(_))
    ));
    let relative = PermissionInputs::new(Mode::Sandbox, "repo", "/home/u");
    assert!(matches!(
        sandbox_settings(&relative),
        Err(SettingsError::RelativeRepo(_))
    ));
}

#[test]
fn an_extra_rule_naming_a_denied_tool_lifts_its_denial() {
    let mut inputs = outside_home();
    inputs.extra_rules = strings(&["WebFetch(domain:docs.rs)"]);
    let settings = sandbox_settings(&inputs).unwrap();
    assert_eq!(
        list(&settings["permissions"]["allow"]),
        ["Edit(./**)", "Bash", "WebFetch(domain:docs.rs)"]
    );
    let deny = list(&settings["permissions"]["deny"]);
    assert!(!deny.contains(&"WebFetch"), "{deny:?}");
    assert!(deny.contains(&"EnterWorktree"), "{deny:?}");
}

#[test]
fn allowlist_mode_allows_five_git_subcommands_and_the_exact_gates() {
    let mut inputs = under_home();
    inputs.mode = Mode::Allowlist;
    inputs.gate_commands = strings(&["make test-unit", "make quality"]);
    inputs.extra_rules = strings(&["Bash(npm test:*)"]);
    let settings = allowlist_settings(&inputs).unwrap();
    assert_eq!(
        list(&settings["permissions"]["allow"]),
        [
            "Read(./**)",
            "Edit(./**)",
            "Glob(./**)",
            "Grep(./**)",
            "Bash(git add:*)",
            "Bash(git commit:*)",
            "Bash(git status:*)",
            "Bash(git diff:*)",
            "Bash(git log:*)",
            "Bash(make test-unit)",
            "Bash(make quality)",
            "Bash(npm test:*)",
        ]
    );
    let deny = list(&settings["permissions"]["deny"]);
    assert_eq!(
        deny[..6],
        [
            "Bash(git * --output*)",
            "Bash(git *--no-index*)",
            "Bash(git commit *-F*)",
            "Bash(git commit *--file*)",
            "Bash(git commit *--template*)",
            "Bash(git *--pathspec-from-file*)",
        ]
    );
    assert!(deny.contains(&"Read(//home/u/.ssh/**)"), "{deny:?}");
    assert!(deny.contains(&"Read(//etc/shadow)"), "{deny:?}");
    assert_eq!(settings.get("sandbox"), None);
}

#[test]
fn each_mode_has_its_arguments() {
    let sandbox = claude_permissions(&outside_home()).unwrap();
    assert_eq!(
        sandbox.args[..3],
        ["--permission-mode", "dontAsk", "--settings"]
    );
    let parsed: Value = serde_json::from_str(&sandbox.args[3]).unwrap();
    assert_eq!(Some(parsed), sandbox.settings);
    assert!(sandbox.env.is_empty());

    let mut inputs = outside_home();
    inputs.mode = Mode::Allowlist;
    let allowlist = claude_permissions(&inputs).unwrap();
    assert_eq!(
        allowlist.args[..3],
        ["--permission-mode", "dontAsk", "--settings"]
    );
    assert_eq!(allowlist.settings, allowlist_settings(&inputs).ok());

    inputs.mode = Mode::Bypass;
    let bypass = claude_permissions(&inputs).unwrap();
    assert_eq!(bypass.args, ["--dangerously-skip-permissions"]);
    assert_eq!(bypass.settings, None);
    assert!(bypass.env.is_empty());
    inputs.running_as_root = true;
    assert_eq!(
        claude_permissions(&inputs).unwrap().env,
        [("IS_SANDBOX".to_string(), "1".to_string())],
        "the CLI refuses bypass as root without it"
    );
}

#[test]
fn the_header_line_of_each_mode() {
    let mut inputs = outside_home();
    assert_eq!(
        describe_mode(&inputs),
        "sandbox: any command, inside Claude Code's sandbox; writes only to the repository, ~/.cache, ~/.cargo, ~/.npm, ~/.local/share/uv, ~/go/pkg; network only to pypi.org, files.pythonhosted.org, registry.npmjs.org, crates.io, index.crates.io, static.crates.io, proxy.golang.org, sum.golang.org; home directory and secrets hidden"
    );
    inputs.allowed_domains.clear();
    assert!(
        describe_mode(&inputs).contains("; no network;"),
        "{}",
        describe_mode(&inputs)
    );
    inputs.mode = Mode::Allowlist;
    inputs.gate_commands = strings(&["make test-unit"]);
    inputs.extra_rules = strings(&["Bash(npm test:*)", "WebFetch"]);
    assert_eq!(
        describe_mode(&inputs),
        "allowlist: no sandbox; reads and edits in the repository; commands only git add/commit/status/diff/log, make test-unit; + 2 configured rules"
    );
    inputs.mode = Mode::Bypass;
    assert_eq!(
        describe_mode(&inputs),
        "bypass: every tool and command allowed without asking, no sandbox (your explicit choice)"
    );
}

#[test]
fn modes_read_from_configuration_words() {
    let mode: Mode = serde_json::from_str("\"allowlist\"").unwrap();
    assert_eq!(mode, Mode::Allowlist);
    assert_eq!(Mode::default(), Mode::Sandbox);
    assert_eq!(Mode::Bypass.name(), "bypass");
    assert!(serde_json::from_str::<Mode>("\"default\"").is_err());
}

#[test]
fn a_relative_secret_path_is_an_error_in_both_modes() {
    for mode in [Mode::Sandbox, Mode::Allowlist] {
        let mut inputs = outside_home();
        inputs.mode = mode;
        inputs.secret_paths.push("keys".to_string());
        assert_eq!(
            claude_permissions(&inputs),
            Err(SettingsError::Path(PathError::Relative("keys".to_string()))),
            "{mode:?}"
        );
    }
}
