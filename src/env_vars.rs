//! Every environment variable kmilestone reads, in one place.

/// Where kmilestone keeps every repository's state (default: the user's state directory,
/// `$XDG_STATE_HOME/kmilestone` or `~/.local/state/kmilestone`).
pub const STATE_DIR: &str = "KMILESTONE_STATE_DIR";
/// The Claude Code binary to run (default: `claude` on PATH).
pub const CLAUDE_BIN: &str = "KMILESTONE_CLAUDE_BIN";
/// The Codex CLI binary to run (default: `codex` on PATH).
pub const CODEX_BIN: &str = "KMILESTONE_CODEX_BIN";
/// The agent: `claude`, `codex` or `command`.
pub const AGENT: &str = "KMILESTONE_AGENT";
/// Fix attempts after a failed verification.
pub const RETRIES: &str = "KMILESTONE_RETRIES";
/// Wall-clock limit per agent attempt (`60m`).
pub const TASK_TIMEOUT: &str = "KMILESTONE_TASK_TIMEOUT";
/// No agent output for this long means it hangs (`10m`).
pub const IDLE_TIMEOUT: &str = "KMILESTONE_IDLE_TIMEOUT";
/// How long an agent may live after its final result line (`30s`).
pub const RESULT_GRACE: &str = "KMILESTONE_RESULT_GRACE";
/// SIGTERM to SIGKILL grace (`5s`).
pub const KILL_GRACE: &str = "KMILESTONE_KILL_GRACE";
/// Time limit per gate command (`20m`).
pub const GATE_TIMEOUT: &str = "KMILESTONE_GATE_TIMEOUT";
/// Standard: no colours when set.
pub const NO_COLOR: &str = "NO_COLOR";
/// Set by CI services (`CI` by most of them): any of these turns the live status line off.
pub const CI_MARKERS: &[&str] = &["CI", "CONTINUOUS_INTEGRATION", "BUILD_NUMBER", "RUN_ID"];
