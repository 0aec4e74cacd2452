//! A VALIDATION task's preflight: does its text ask for something the chosen permissions cannot
//! do? Warned before the agent starts, with the setting to change, rather than found out after a
//! paid session that could not run `docker compose up`.
//!
//! In sandbox mode every command has its own empty network (a server started and queried in the
//! same command works, one already running on this machine is unreachable) and no access to the
//! Docker socket (`socket: operation not permitted`); only the allowed domains are reachable
//! through the sandbox's proxy. In allowlist mode a command runs only if a rule allows it.

use std::sync::LazyLock;

use regex::Regex;

use super::domains;
use super::keys;
use super::modes::{Mode, PermissionInputs};

/// What a task's text may need, and how it shows.
struct Need {
    what: &'static str,
    pattern: &'static str,
    /// The rule allowlist mode needs for it, if any.
    allowlist_rule: Option<&'static str>,
}

const NEEDS: &[Need] = &[
    Need {
        what: "Docker",
        pattern: r"(?i)\b(docker(-compose)?|podman|testcontainers)\b",
        allowlist_rule: Some("Bash(docker:*)"),
    },
    Need {
        what: "a service on this machine",
        pattern: r"(?i)(\blocalhost\b|\b127\.0\.0\.1\b|\[::1\]|\b0\.0\.0\.0\b)",
        allowlist_rule: None,
    },
    Need {
        what: "curl",
        pattern: r"(?i)\b(curl|wget|httpie)\b",
        allowlist_rule: Some("Bash(curl:*)"),
    },
    Need {
        what: "a running service",
        pattern: r"(?i)\b(postgres(ql)?|mysql|mariadb|redis|mongo(db)?|rabbitmq|kafka|elasticsearch|memcached|systemctl|service (is )?running|running service|dev server|api server)\b",
        allowlist_rule: None,
    },
];

static NEED_PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    NEEDS
        .iter()
        .map(|need| Regex::new(need.pattern).expect("valid pattern"))
        .collect()
});

static URL_HOSTS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\bhttps?://([a-z0-9.-]+)").expect("valid pattern"));

/// Warnings for `task_text` under `inputs`' mode, one per need, each naming the setting to
/// change. Bypass mode allows everything: no warnings.
pub fn validation_preflight(task_text: &str, inputs: &PermissionInputs) -> Vec<String> {
    if inputs.mode == Mode::Bypass {
        return Vec::new();
    }
    let mut warnings: Vec<String> = NEEDS
        .iter()
        .zip(NEED_PATTERNS.iter())
        .filter_map(|(need, pattern)| {
            let found = pattern.find(task_text)?.as_str().to_string();
            warning(need, &found, inputs)
        })
        .collect();
    warnings.extend(unreachable_hosts(task_text, inputs));
    warnings
}

fn warning(need: &Need, found: &str, inputs: &PermissionInputs) -> Option<String> {
    let bypass = format!("{} = \"bypass\"", keys::PERMISSION);
    match inputs.mode {
        Mode::Sandbox => {
            let why = match need.what {
                "Docker" => "sandboxed commands cannot reach the Docker daemon",
                "curl" => {
                    "sandboxed commands reach only the allowed domains, never this machine's services"
                }
                _ => {
                    "each sandboxed command has its own empty network: a service already running on this machine is unreachable (one started and queried in the same command works)"
                }
            };
            Some(format!(
                "the task names {found:?} ({}), but {why}; to run it, set {} = \"allowlist\" with the commands it needs in {}, or {bypass}",
                need.what,
                keys::PERMISSION,
                keys::ALLOWED_TOOLS
            ))
        }
        Mode::Allowlist => {
            let rule = need.allowlist_rule?;
            let prefix = rule
                .trim_start_matches("Bash(")
                .split(':')
                .next()
                .unwrap_or(rule);
            let allowed = inputs
                .extra_rules
                .iter()
                .chain(inputs.gate_commands.iter())
                .any(|r| r.trim_start_matches("Bash(").starts_with(prefix));
            (!allowed).then(|| {
                format!(
                    "the task names {found:?} ({}), which no rule allows; add \"{rule}\" to {}, or set {bypass}",
                    need.what,
                    keys::ALLOWED_TOOLS
                )
            })
        }
        Mode::Bypass => None,
    }
}

/// In sandbox mode, the outside hosts a task's URLs name that the network list does not open.
fn unreachable_hosts(task_text: &str, inputs: &PermissionInputs) -> Vec<String> {
    if inputs.mode != Mode::Sandbox {
        return Vec::new();
    }
    let mut hosts: Vec<String> = URL_HOSTS
        .captures_iter(task_text)
        .map(|c| c[1].trim_end_matches('.').to_ascii_lowercase())
        .filter(|host| domains::validate_domains(std::slice::from_ref(host), &[]).is_ok())
        .filter(|host| {
            !inputs
                .allowed_domains
                .iter()
                .any(|d| domain_covers(d, host))
        })
        .collect();
    hosts.dedup();
    hosts
        .into_iter()
        .map(|host| {
            format!(
                "the task names {host}, which sandboxed commands cannot reach; add \"{host}\" to {}",
                keys::ALLOWED_DOMAINS
            )
        })
        .collect()
}

fn domain_covers(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(mode: Mode) -> PermissionInputs {
        PermissionInputs::new(mode, "/work/repo", "/home/u")
    }

    const COMPOSE_TASK: &str = "### Task 9: VALIDATION\nRun `docker compose up -d`, then `curl http://localhost:8080/health` must answer 200.";

    #[test]
    fn sandbox_mode_warns_about_docker_local_services_and_curl() {
        let warnings = validation_preflight(COMPOSE_TASK, &inputs(Mode::Sandbox));
        assert_eq!(warnings.len(), 3, "{warnings:#?}");
        assert!(warnings[0].starts_with("the task names \"docker\" (Docker), but sandboxed commands cannot reach the Docker daemon"), "{}", warnings[0]);
        assert!(
            warnings[1].contains("\"localhost\" (a service on this machine)"),
            "{}",
            warnings[1]
        );
        assert!(warnings[2].contains("\"curl\""), "{}", warnings[2]);
        for w in &warnings {
            assert!(
                w.contains("[agent.claude] permission = \"allowlist\""),
                "{w}"
            );
            assert!(w.contains("[agent.claude] permission = \"bypass\""), "{w}");
        }
    }

    #[test]
    fn allowlist_mode_warns_only_about_commands_no_rule_allows() {
        let mut allowlist = inputs(Mode::Allowlist);
        let warnings = validation_preflight(COMPOSE_TASK, &allowlist);
        assert_eq!(
            warnings,
            [
                "the task names \"docker\" (Docker), which no rule allows; add \"Bash(docker:*)\" to [agent.claude] allowed_tools, or set [agent.claude] permission = \"bypass\"",
                "the task names \"curl\" (curl), which no rule allows; add \"Bash(curl:*)\" to [agent.claude] allowed_tools, or set [agent.claude] permission = \"bypass\"",
            ]
        );
        allowlist.extra_rules = vec![
            "Bash(docker compose:*)".to_string(),
            "Bash(curl:*)".to_string(),
        ];
        assert_eq!(
            validation_preflight(COMPOSE_TASK, &allowlist),
            Vec::<String>::new()
        );
    }

    #[test]
    fn bypass_mode_and_plain_tasks_get_no_warning() {
        assert!(validation_preflight(COMPOSE_TASK, &inputs(Mode::Bypass)).is_empty());
        let plain =
            "### Task 3: VALIDATION\nRun `pytest tests/test_api.py -k health` and `cargo test`.";
        assert!(validation_preflight(plain, &inputs(Mode::Sandbox)).is_empty());
        assert!(validation_preflight(plain, &inputs(Mode::Allowlist)).is_empty());
    }

    #[test]
    fn services_are_named_by_their_software() {
        let task = "The integration tests need PostgreSQL and Redis running.";
        let warnings = validation_preflight(task, &inputs(Mode::Sandbox));
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].contains("\"PostgreSQL\" (a running service)"),
            "{}",
            warnings[0]
        );
    }

    #[test]
    fn sandbox_mode_names_hosts_outside_the_network_list() {
        let task = "Fetch https://api.github.com/repos and https://pypi.org/simple/ and https://files.example.com/x.";
        let mut sandbox = inputs(Mode::Sandbox);
        sandbox.allowed_domains.push("*.example.com".to_string());
        assert_eq!(
            validation_preflight(task, &sandbox),
            [
                "the task names api.github.com, which sandboxed commands cannot reach; add \"api.github.com\" to [agent] network"
            ]
        );
        sandbox.allowed_domains.clear();
        assert_eq!(validation_preflight(task, &sandbox).len(), 3);
    }
}
