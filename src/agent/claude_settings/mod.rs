//! How Claude Code is allowed to act: the `--settings` JSON and permission arguments of each
//! permission mode, and the readers that tell what those permissions did (the sandbox check of
//! `system/init`, refused tool calls, the project's own allow rules, a VALIDATION preflight).
//!
//! Everything here is pure data in, data out, so that the runner decides and the reporters word
//! it. The facts behind each choice were observed with Claude Code 2.1.332 (see the tests in
//! `tests/integration/real_sandbox.rs`).

mod denials;
mod domains;
mod modes;
mod paths;
mod preflight;
mod project;
mod sandbox_check;

pub use denials::{Denial, denial_of_system_line, denials_of_result, explain_denial};
pub use domains::{DEFAULT_ALLOWED_DOMAINS, DomainError, api_host, validate_domains};
pub use modes::{
    ClaudePermissions, Mode, PermissionInputs, SettingsError, allowlist_commands,
    allowlist_settings, claude_permissions, describe_mode, sandbox_settings, sandbox_writable,
};
pub use paths::{
    DEFAULT_SECRET_PATHS, DEFAULT_TOOLCHAIN_PATHS, DEFAULT_WRITABLE_PATHS, PathError,
    secret_env_vars,
};
pub use preflight::validation_preflight;
pub use project::{ProjectRules, count_allow_rules, describe_project_rules, project_allow_rules};
pub use sandbox_check::{SANDBOX_FIX, SandboxState, sandbox_refusal, sandbox_state};

/// The configuration keys the explanations name, in one place so the texts stay in step with
/// `kmilestone.toml`.
pub mod keys {
    pub const PERMISSION: &str = "[agent.claude] permission";
    pub const ALLOWED_TOOLS: &str = "[agent.claude] allowed_tools";
    pub const ALLOWED_DOMAINS: &str = "[agent] network";
    pub const WRITABLE_PATHS: &str = "[agent] writable_paths";
    pub const READABLE_PATHS: &str = "[agent] readable_paths";
    pub const SECRET_PATHS: &str = "[agent] secret_paths";
}
