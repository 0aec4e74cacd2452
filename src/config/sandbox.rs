//! The settings that confine the agent and the gates: how far Claude Code may act
//! (`[agent.claude] permission`), what the agent's sandboxed commands may reach (`[agent]
//! network` and the path lists) and which gates kmilestone runs sandboxed (`[gates] sandbox`,
//! or `sandbox = false` on one gate).

use serde::{Deserialize, Deserializer};

/// How far Claude Code may act without asking (`[agent.claude] permission`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Permission {
    /// Any command, inside Claude Code's OS sandbox.
    #[default]
    Sandbox,
    /// No sandbox; only git's recording subcommands, the gate commands and the configured rules.
    Allowlist,
    /// Every tool and command without asking, no sandbox: the user's explicit choice.
    Bypass,
}

/// Why `permission = "default"` is refused. It was the name of the allow-list mode when that was
/// the default; mapping it silently to either mode would change what an existing configuration
/// means without the user knowing, so the user chooses.
pub(crate) const OLD_DEFAULT: &str = "permission = \"default\" no longer names a mode: the default is now \"sandbox\" (any command, inside Claude Code's sandbox); the former default, git and the gate commands only with no sandbox, is \"allowlist\". Write one of \"sandbox\", \"allowlist\" or \"bypass\"";

impl Permission {
    pub fn parse(name: &str) -> Result<Permission, String> {
        match name {
            "sandbox" => Ok(Permission::Sandbox),
            "allowlist" => Ok(Permission::Allowlist),
            "bypass" => Ok(Permission::Bypass),
            "default" => Err(OLD_DEFAULT.to_string()),
            other => Err(format!(
                "permission = \"{other}\": expected \"sandbox\", \"allowlist\" or \"bypass\""
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Permission::Sandbox => "sandbox",
            Permission::Allowlist => "allowlist",
            Permission::Bypass => "bypass",
        }
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Permission, D::Error> {
        let name = String::deserialize(deserializer)?;
        Permission::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// What the agent's sandboxed commands may reach (`[agent]` keys). The path lists add to the
/// built-in ones; `network` replaces the package registries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxSettings {
    /// `[agent] network`: the hosts commands may reach; `None`: the package registries; empty:
    /// no network at all.
    pub network: Option<Vec<String>>,
    /// `[agent] writable_paths`: more paths commands (and gates) may write, `~/…` or absolute.
    pub writable_paths: Vec<String>,
    /// `[agent] readable_paths`: more paths under the hidden home commands may read
    /// (toolchains kept elsewhere than the usual places).
    pub readable_paths: Vec<String>,
    /// `[agent] secret_paths`: more paths hidden from the agent and the gates.
    pub secret_paths: Vec<String>,
}

impl SandboxSettings {
    /// Every path must be absolute or under `~/` (`$TMPDIR` too, for writable paths): a
    /// relative path would mean a different place for the agent, the gates and kmilestone.
    pub(super) fn check(&self) -> Result<(), String> {
        let lists = [
            ("agent.writable_paths", &self.writable_paths, true),
            ("agent.readable_paths", &self.readable_paths, false),
            ("agent.secret_paths", &self.secret_paths, false),
        ];
        for (key, list, tmpdir) in lists {
            for entry in list {
                let fine = entry == "~"
                    || entry.starts_with("~/")
                    || (tmpdir && entry == "$TMPDIR")
                    || std::path::Path::new(entry).is_absolute();
                if !fine {
                    return Err(format!(
                        "{key}: {entry:?} is relative: name an absolute path or one under ~/"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Which gates kmilestone runs in its own sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateSandboxSettings {
    /// `[gates] sandbox` (default true).
    pub enabled: bool,
    /// Gates the user marked `sandbox = false` one by one.
    pub unsandboxed: Vec<String>,
}

impl Default for GateSandboxSettings {
    fn default() -> Self {
        GateSandboxSettings {
            enabled: true,
            unsandboxed: Vec::new(),
        }
    }
}

impl GateSandboxSettings {
    /// Whether `command` runs sandboxed.
    pub fn is_sandboxed(&self, command: &str) -> bool {
        self.enabled && !self.unsandboxed.iter().any(|c| c == command)
    }
}

/// One entry of `[gates] commands`: `"make test"` or `{ command = "make e2e", sandbox = false }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct GateEntry {
    pub command: String,
    pub sandbox: bool,
}

/// Reads `[gates] commands`; unknown keys of a table entry are pushed to `unknown` as
/// `gates.commands[1].key`.
pub(super) fn gate_entries(
    value: &toml::Value,
    unknown: &mut Vec<String>,
) -> Result<Vec<GateEntry>, String> {
    const SHAPE: &str = "gates.commands: expected a list of commands, each \"command\" or { command = \"…\", sandbox = false }";
    let list = value.as_array().ok_or(SHAPE)?;
    let mut entries = Vec::new();
    for (index, item) in list.iter().enumerate() {
        let entry = match item {
            toml::Value::String(command) => GateEntry {
                command: command.clone(),
                sandbox: true,
            },
            toml::Value::Table(table) => {
                let command = table
                    .get("command")
                    .and_then(toml::Value::as_str)
                    .ok_or_else(|| {
                        format!("gates.commands[{index}]: a table needs command = \"…\"")
                    })?;
                let sandbox = match table.get("sandbox") {
                    None => true,
                    Some(toml::Value::Boolean(b)) => *b,
                    Some(_) => {
                        return Err(format!(
                            "gates.commands[{index}].sandbox: expected true or false"
                        ));
                    }
                };
                unknown.extend(
                    table
                        .keys()
                        .filter(|k| !matches!(k.as_str(), "command" | "sandbox"))
                        .map(|k| format!("gates.commands[{index}].{k}")),
                );
                GateEntry {
                    command: command.to_string(),
                    sandbox,
                }
            }
            _ => return Err(SHAPE.to_string()),
        };
        entries.push(entry);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn parse(text: &str) -> Result<Settings, String> {
        let mut settings = Settings::default();
        settings
            .apply_file(std::path::Path::new("kmilestone.toml"), text)
            .map_err(|e| e.to_string())?;
        Ok(settings)
    }

    #[test]
    fn the_sandbox_keys_of_kmilestone_toml() {
        let settings = parse(
            r#"
[agent]
name = "claude"
network = []
writable_paths = ["~/.m2"]
readable_paths = ["/opt/sdk"]
secret_paths = ["~/.vault-token"]
[agent.claude]
permission = "allowlist"
[gates]
commands = ["make test-unit", { command = "make test-integration", sandbox = false }]
"#,
        )
        .unwrap();
        assert_eq!(settings.claude.permission, Permission::Allowlist);
        assert_eq!(
            settings.sandbox.network,
            Some(Vec::new()),
            "[] cuts the network"
        );
        assert_eq!(settings.sandbox.writable_paths, ["~/.m2"]);
        assert_eq!(settings.sandbox.readable_paths, ["/opt/sdk"]);
        assert_eq!(settings.sandbox.secret_paths, ["~/.vault-token"]);
        assert_eq!(
            settings.gate_commands,
            Some(vec![
                "make test-unit".to_string(),
                "make test-integration".to_string()
            ])
        );
        assert!(settings.gate_sandbox.is_sandboxed("make test-unit"));
        assert!(!settings.gate_sandbox.is_sandboxed("make test-integration"));
        assert!(
            settings.unknown_keys.is_empty(),
            "{:?}",
            settings.unknown_keys
        );

        let defaults = parse("").unwrap();
        assert_eq!(defaults.claude.permission, Permission::Sandbox);
        assert_eq!(defaults.sandbox, SandboxSettings::default());
        let off = parse("[gates]\nsandbox = false\n").unwrap();
        assert!(!off.gate_sandbox.is_sandboxed("make test-unit"));
    }

    #[test]
    fn the_old_default_and_relative_paths_are_errors_naming_the_file() {
        let old = parse("[agent.claude]\npermission = \"default\"\n").unwrap_err();
        assert!(old.starts_with("kmilestone.toml: "), "{old}");
        assert!(old.contains("no longer names a mode"), "{old}");
        let relative = parse("[agent]\nsecret_paths = [\"keys\"]\n").unwrap_err();
        assert!(
            relative.contains("agent.secret_paths: \"keys\" is relative"),
            "{relative}"
        );
    }

    #[test]
    fn permission_names_and_the_old_default() {
        assert_eq!(Permission::default(), Permission::Sandbox);
        for mode in [
            Permission::Sandbox,
            Permission::Allowlist,
            Permission::Bypass,
        ] {
            assert_eq!(Permission::parse(mode.name()), Ok(mode));
        }
        let old = Permission::parse("default").unwrap_err();
        assert!(old.contains("the default is now \"sandbox\""), "{old}");
        assert!(old.contains("is \"allowlist\""), "{old}");
        assert_eq!(
            Permission::parse("yolo"),
            Err("permission = \"yolo\": expected \"sandbox\", \"allowlist\" or \"bypass\"".into())
        );
    }

    #[test]
    fn gate_entries_are_strings_or_tables() {
        let value: toml::Value = toml::from_str::<toml::Table>(
            "commands = [\"make test\", { command = \"make e2e\", sandbox = false, colour = 1 }]",
        )
        .unwrap()["commands"]
            .clone();
        let mut unknown = Vec::new();
        assert_eq!(
            gate_entries(&value, &mut unknown),
            Ok(vec![
                GateEntry {
                    command: "make test".into(),
                    sandbox: true
                },
                GateEntry {
                    command: "make e2e".into(),
                    sandbox: false
                },
            ])
        );
        assert_eq!(unknown, ["gates.commands[1].colour"]);
        let bad: toml::Value =
            toml::from_str::<toml::Table>("c = [{ sandbox = false }]").unwrap()["c"].clone();
        assert_eq!(
            gate_entries(&bad, &mut unknown),
            Err("gates.commands[0]: a table needs command = \"…\"".into())
        );
    }

    #[test]
    fn sandbox_paths_must_be_absolute_or_under_home() {
        let mut sandbox = SandboxSettings {
            writable_paths: vec!["~/.m2".into(), "$TMPDIR".into(), "/opt/cache".into()],
            secret_paths: vec!["~/.vault-token".into()],
            ..SandboxSettings::default()
        };
        assert_eq!(sandbox.check(), Ok(()));
        sandbox.readable_paths = vec!["tools".into()];
        assert_eq!(
            sandbox.check(),
            Err("agent.readable_paths: \"tools\" is relative: name an absolute path or one under ~/".into())
        );
        sandbox.readable_paths = vec!["$TMPDIR".into()];
        assert!(
            sandbox.check().is_err(),
            "$TMPDIR is for writable paths only"
        );
    }

    #[test]
    fn gates_are_sandboxed_unless_turned_off() {
        let mut gates = GateSandboxSettings::default();
        assert!(gates.is_sandboxed("make test"));
        gates.unsandboxed.push("make e2e".into());
        assert!(!gates.is_sandboxed("make e2e"));
        assert!(gates.is_sandboxed("make test"));
        gates.enabled = false;
        assert!(!gates.is_sandboxed("make test"));
    }
}
