//! The run's events: what the runner did, in typed form. The runner emits them and never prints;
//! every view (terminal, JSON lines, the events log, the report files) consumes the same events.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::agent::{AgentEvent, Denial, Question, Usage};
use super::note::{Leftovers, Note};
use super::problem::{CommandScope, GateRecord, Problem, TestFinding};
use crate::exit_codes;

/// Version of the JSON form of events, written in the first line of every events stream.
pub const EVENTS_SCHEMA_VERSION: u32 = 2;

/// One event with when it happened.
#[derive(Debug, Clone)]
pub struct Event {
    /// RFC 3339 time.
    pub timestamp: String,
    /// Milliseconds since the run started.
    pub elapsed_ms: u64,
    pub kind: EventKind,
}

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskResult {
    Completed,
    Failed,
    Blocked,
    Question,
    UsageLimit,
    Interrupted,
    AgentUnavailable,
}

impl TaskResult {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskResult::Completed => "completed",
            TaskResult::Failed => "failed",
            TaskResult::Blocked => "blocked",
            TaskResult::Question => "question",
            TaskResult::UsageLimit => "usage_limit",
            TaskResult::Interrupted => "interrupted",
            TaskResult::AgentUnavailable => "agent_unavailable",
        }
    }
}

/// How one agent attempt ended, before verification.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptEnd {
    /// The agent reported a result.
    Result {
        is_error: bool,
        subtype: String,
    },
    /// The process ended without a result line (crash, killed by a signal).
    NoResult {
        exit: String,
    },
    IdleTimeout,
    WallTimeout,
    Interrupted,
}

/// Totals of a task or run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub cost_usd: f64,
    pub usage: Usage,
}

impl Totals {
    pub fn add(&mut self, other: &Totals) {
        self.cost_usd += other.cost_usd;
        self.usage.add(&other.usage);
    }
}

/// One task as the run (or the milestone's whole history) knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSummary {
    pub id: String,
    pub title: String,
    pub result: TaskResult,
    /// Agent attempts, counted across runs.
    pub attempts: u32,
    /// The agent's and the checks' time, without time spent waiting for a human or a limit.
    pub duration_ms: u64,
    pub totals: Totals,
    pub gates: Vec<GateRecord>,
    pub commits: Vec<String>,
    pub e2e: Option<String>,
    pub findings: Vec<TestFinding>,
    /// What was still wrong when the task stopped.
    pub problems: Vec<Problem>,
    /// Tool calls the agent's permissions refused, over all its attempts.
    pub denials: Vec<Denial>,
}

/// The seed's run header: `Milestone: …`, `Completed: …`, `Resuming from: …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `M4 - Worker Settings`.
    pub name: String,
    pub task_count: usize,
    /// Complete per the handoff, plan order.
    pub completed: Vec<String>,
    /// The first task this run starts an agent for.
    pub start: Option<String>,
}

/// What the agent may do without asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permission {
    /// Claude Code's OS sandbox: any command, writes only to the repository and `writable`,
    /// the network only to `network` (none when empty), the home directory and secrets hidden.
    ClaudeSandbox {
        /// Besides the repository, as the header shows them (`~/.cache`).
        writable: Vec<String>,
        network: Vec<String>,
        project_rules: Vec<ProjectRules>,
    },
    /// No sandbox: reads and edits inside the repository, and only these commands.
    AllowList {
        commands: Vec<String>,
        /// Rules the user added (`[agent.claude] allowed_tools`).
        extra_rules: usize,
        project_rules: Vec<ProjectRules>,
    },
    /// Every tool without asking, no sandbox: the user's explicit choice.
    Bypass,
    /// Codex's `workspace-write` sandbox: writes in the repository, no network.
    CodexWorkspaceWrite,
    /// A command agent: whatever that program allows.
    ByCommand,
}

impl Permission {
    /// What the agent may run, as the fix prompt tells it after refused calls.
    pub fn command_scope(&self) -> CommandScope {
        match self {
            Permission::ClaudeSandbox { network, .. } => CommandScope::Sandboxed {
                network: network.clone(),
            },
            Permission::CodexWorkspaceWrite => CommandScope::Sandboxed {
                network: Vec::new(),
            },
            Permission::AllowList { commands, .. } => CommandScope::Listed {
                commands: commands.clone(),
            },
            Permission::Bypass | Permission::ByCommand => CommandScope::Unrestricted,
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules = |f: &mut fmt::Formatter<'_>, rules: &[ProjectRules]| -> fmt::Result {
            for file in rules {
                write!(f, "; {file}")?;
            }
            Ok(())
        };
        match self {
            Permission::ClaudeSandbox {
                writable,
                network,
                project_rules,
            } => {
                let mut places = vec!["the repository".to_string()];
                places.extend(writable.iter().cloned());
                let network = if network.is_empty() {
                    "no network".to_string()
                } else {
                    format!("network only to {}", network.join(", "))
                };
                write!(
                    f,
                    "sandbox: any command, inside Claude Code's sandbox; writes only to {}; {network}; home directory and secrets hidden",
                    places.join(", ")
                )?;
                rules(f, project_rules)
            }
            Permission::AllowList {
                commands,
                extra_rules,
                project_rules,
            } => {
                write!(
                    f,
                    "allowlist, not a security boundary: no sandbox; reads and edits in the repository; commands only {}",
                    commands.join(", ")
                )?;
                match extra_rules {
                    0 => {}
                    1 => f.write_str("; + 1 configured rule")?,
                    n => write!(f, "; + {n} configured rules")?,
                }
                rules(f, project_rules)
            }
            Permission::Bypass => f.write_str(
                "bypass: every tool and command allowed without asking, no sandbox (your explicit choice)",
            ),
            Permission::CodexWorkspaceWrite => f.write_str(
                "sandbox (workspace-write: writes in the repository, no network; the runner commits)",
            ),
            Permission::ByCommand => f.write_str("as the command allows"),
        }
    }
}

/// The allow rules of one of the project's own Claude Code settings files
/// (`.claude/settings.local.json`), which Claude Code adds to kmilestone's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRules {
    /// Relative to the repository.
    pub file: String,
    /// How many `permissions.allow` rules it has, or why they could not be counted.
    pub allow: Result<usize, String>,
}

impl fmt::Display for ProjectRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.allow {
            Ok(1) => write!(f, "+ 1 allow rule from {}", self.file),
            Ok(n) => write!(f, "+ {n} allow rules from {}", self.file),
            Err(why) => write!(f, "? allow rules of {} not counted: {why}", self.file),
        }
    }
}

/// How the gates are confined, for the run header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateSandbox {
    /// What confines the sandboxed gates, in the sandbox's own one-line description
    /// (`sandbox: Landlock ABI 7: …`, `sandbox: none (…): gates run unconfined …`).
    pub description: String,
    /// Gates the user chose to run unsandboxed (`[gates] sandbox = false`, or per gate).
    pub unsandboxed: Vec<String>,
}

/// Everything the run header says.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStart {
    /// The milestone ID.
    pub milestone: String,
    pub plan: String,
    pub handoff: String,
    /// Where the run's state, logs and reports are kept.
    pub state_dir: String,
    pub header: Header,
    pub notes: Vec<Note>,
    /// The tasks this run attempts, in order.
    pub tasks: Vec<String>,
    pub agent: String,
    pub permission: Permission,
    pub gates: Vec<String>,
    pub gate_sandbox: GateSandbox,
    pub caps: CapsInfo,
}

/// Why a usage limit stopped the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum LimitStop {
    /// `--no-wait`.
    NoWait { resets_at: Option<String> },
    /// No reset time was given and the bounded waits did not help.
    StillLimited { waits: u32 },
}

/// Micro-dollars: costs kept exact enough and comparable.
pub fn micros(usd: f64) -> u64 {
    (usd * 1_000_000.0).round().max(0.0) as u64
}

/// `$1.2345` of micro-dollars.
pub fn dollars(micros: u64) -> String {
    format!("${:.4}", micros as f64 / 1_000_000.0)
}

/// The caps a run works under, for its header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapsInfo {
    /// The milestone's spend cap and what it has spent before this run.
    pub max_cost: Option<u64>,
    pub spent: u64,
    pub max_task_cost: Option<u64>,
    pub max_time_ms: Option<u64>,
}

impl CapsInfo {
    pub fn is_empty(&self) -> bool {
        self.max_cost.is_none() && self.max_task_cost.is_none() && self.max_time_ms.is_none()
    }
}

impl fmt::Display for CapsInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(cap) = self.max_cost {
            parts.push(format!(
                "{} for the milestone ({} spent so far)",
                dollars(cap),
                dollars(self.spent)
            ));
        }
        if let Some(cap) = self.max_task_cost {
            parts.push(format!(
                "{} per task (checked after each agent turn, so a task may go a little over)",
                dollars(cap)
            ));
        }
        if let Some(ms) = self.max_time_ms {
            parts.push(format!(
                "no new task after {}",
                humantime::format_duration(Duration::from_secs(ms / 1000))
            ));
        }
        f.write_str(&parts.join("; "))
    }
}

/// The cap a run stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CapStop {
    /// The milestone has spent its `max_cost`.
    Cost { cap: u64, spent: u64 },
    /// The run has taken its `max_time`.
    Time { cap_ms: u64, elapsed_ms: u64 },
}

/// Why the agent cannot work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum Unavailable {
    NotFound {
        program: String,
    },
    NotAuthenticated {
        message: String,
    },
    /// It started but cannot work as configured (its sandbox is unavailable).
    CannotWork {
        message: String,
    },
    SpawnFailed {
        error: String,
    },
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum RunOutcome {
    /// Every selected task is done: the milestone, or the requested range.
    Complete,
    Failed {
        task: String,
        attempts: u32,
    },
    Blocked {
        task: String,
        reason: String,
    },
    Question {
        task: String,
        plan: String,
    },
    UsageLimit {
        task: String,
        message: String,
        stop: LimitStop,
    },
    Interrupted {
        task: Option<String>,
        waiting_for_limit: bool,
    },
    AgentUnavailable {
        task: String,
        /// The adapter's name (`claude`, `codex`, `command`): what to install or log in to, and
        /// which setting names the binary. Absent in records of older runs.
        #[serde(default)]
        agent: String,
        reason: Unavailable,
    },
    /// kmilestone's own state or git failed during the run.
    Error {
        message: String,
    },
    /// A cap stopped the run before `next` started.
    CapReached {
        stop: CapStop,
        next: String,
        plan: String,
    },
}

impl RunOutcome {
    /// The documented exit code of this outcome.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunOutcome::Complete => exit_codes::SUCCESS,
            RunOutcome::Failed { .. } => exit_codes::TASK_FAILED,
            RunOutcome::Blocked { .. } => exit_codes::BLOCKED,
            RunOutcome::Question { .. } => exit_codes::NEEDS_ANSWER,
            RunOutcome::UsageLimit { .. } => exit_codes::USAGE_LIMIT,
            RunOutcome::Interrupted { .. } => exit_codes::INTERRUPTED,
            RunOutcome::AgentUnavailable { .. } => exit_codes::AGENT_UNAVAILABLE,
            RunOutcome::Error { .. } => exit_codes::BAD_INPUT,
            RunOutcome::CapReached { .. } => exit_codes::CAP_REACHED,
        }
    }

    /// The outcome's name in the JSON forms and the report.
    pub fn name(&self) -> &'static str {
        match self {
            RunOutcome::Complete => "complete",
            RunOutcome::Failed { .. } => "failed",
            RunOutcome::Blocked { .. } => "blocked",
            RunOutcome::Question { .. } => "question",
            RunOutcome::UsageLimit { .. } => "usage_limit",
            RunOutcome::Interrupted { .. } => "interrupted",
            RunOutcome::AgentUnavailable { .. } => "agent_unavailable",
            RunOutcome::Error { .. } => "error",
            RunOutcome::CapReached { .. } => "cap_reached",
        }
    }

    /// What the run tells the user at its end, if anything beyond the summary.
    pub fn message(&self) -> Option<String> {
        let text = match self {
            RunOutcome::Complete => return None,
            RunOutcome::Failed { task, attempts } => format!(
                "Task {task} failed verification after {attempts} attempt{}",
                crate::text::plural(*attempts)
            ),
            RunOutcome::Blocked { task, reason } => format!("Task {task} is blocked: {reason}"),
            RunOutcome::Question { task, plan } => format!(
                "Task {task} waits for an answer. Continue with: kmilestone run {plan} --answer \"…\""
            ),
            RunOutcome::UsageLimit {
                task,
                message,
                stop: LimitStop::NoWait { resets_at },
            } => format!(
                "Usage limit hit during task {task}{}; not waiting (--no-wait). Run again later to resume: {message}",
                resets_at
                    .as_ref()
                    .map(|t| format!(" (resets at {t})"))
                    .unwrap_or_default()
            ),
            RunOutcome::UsageLimit {
                task,
                message,
                stop: LimitStop::StillLimited { waits },
            } => format!(
                "Usage limit hit during task {task} and still in force after {waits} waits: {message}"
            ),
            RunOutcome::Interrupted {
                task: Some(task),
                waiting_for_limit: true,
            } => format!("Interrupted while waiting for the usage limit during task {task}"),
            RunOutcome::Interrupted {
                task: Some(task), ..
            } => format!("Interrupted during task {task}; run again to resume it"),
            RunOutcome::Interrupted { task: None, .. } => {
                "Interrupted; run again to resume".to_string()
            }
            RunOutcome::AgentUnavailable {
                agent,
                reason: Unavailable::NotFound { program },
                ..
            } => format!(
                "the agent could not be started: `{program}` was not found or is not executable ({})",
                install_hint(agent)
            ),
            RunOutcome::AgentUnavailable {
                agent,
                reason: Unavailable::NotAuthenticated { message },
                ..
            } => format!(
                "the agent is not authenticated: {message} ({}, then run again)",
                login_hint(agent)
            ),
            RunOutcome::AgentUnavailable {
                reason: Unavailable::SpawnFailed { error },
                ..
            } => format!("the agent could not be started: {error}"),
            RunOutcome::AgentUnavailable {
                reason: Unavailable::CannotWork { message },
                ..
            } => format!("the agent cannot work here: {message}"),
            RunOutcome::Error { message } => message.clone(),
            RunOutcome::CapReached {
                stop: CapStop::Cost { cap, spent },
                next,
                plan,
            } => format!(
                "Stopped before task {next}: the milestone has spent {} of its {} cap (max_cost). To go on, run again with a larger cap: kmilestone run {plan} --max-cost {:.2}",
                dollars(*spent),
                dollars(*cap),
                (*cap as f64 / 1_000_000.0) * 2.0
            ),
            RunOutcome::CapReached {
                stop: CapStop::Time { cap_ms, elapsed_ms },
                next,
                plan,
            } => format!(
                "Stopped before task {next}: the run has taken {} of its {} (max_time). Run again to go on: kmilestone run {plan}",
                humantime::format_duration(Duration::from_secs(elapsed_ms / 1000)),
                humantime::format_duration(Duration::from_secs(cap_ms / 1000))
            ),
        };
        Some(text)
    }
}

/// How to install the agent, or tell kmilestone where it is.
fn install_hint(agent: &str) -> &'static str {
    match agent {
        "codex" => {
            "install Codex CLI: npm install -g @openai/codex, or set [agent.codex] binary / KMILESTONE_CODEX_BIN"
        }
        "command" => "check [agent.command] argv in kmilestone.toml",
        _ => "install it, or set [agent.claude] binary / KMILESTONE_CLAUDE_BIN",
    }
}

/// How to give the agent a login or a key.
fn login_hint(agent: &str) -> &'static str {
    match agent {
        "codex" => {
            "log in with `codex login` (or `codex login --with-api-key`), or set CODEX_API_KEY, or the variable your model provider's env_key names"
        }
        _ => "log in, e.g. `claude /login`, or set ANTHROPIC_API_KEY",
    }
}

/// One task of the milestone in the completion summary and the report.
#[derive(Debug, Clone, PartialEq)]
pub struct MilestoneTask {
    pub id: String,
    pub title: String,
    /// A VALIDATION task: the summary lists its E2E result.
    pub validation: bool,
    /// Complete per the handoff.
    pub complete: bool,
    /// What kmilestone recorded of it across all runs; `None` when no run worked on it (its
    /// completion came from the handoff alone).
    pub record: Option<TaskSummary>,
}

/// The whole milestone as its state knows it, across every run: what the completion summary,
/// the report files and `pr-body.md` are made of.
#[derive(Debug, Clone, PartialEq)]
pub struct MilestoneSummary {
    /// `M4 - Worker Settings`.
    pub name: String,
    /// `M4: Worker Settings`, the pull request's title.
    pub pr_title: String,
    pub handoff: String,
    /// Every task of the plan is complete.
    pub complete: bool,
    pub tasks: Vec<MilestoneTask>,
    /// The configured gates.
    pub gates: Vec<String>,
    /// Cost and tokens of every recorded task.
    pub totals: Totals,
    /// The caps the last run worked under.
    pub caps: CapsInfo,
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEnd {
    pub outcome: RunOutcome,
    /// When the run ended, as its state records it.
    pub finished_at: String,
    /// The tasks this run worked on.
    pub tasks: Vec<TaskSummary>,
    /// Cost and tokens of this run.
    pub totals: Totals,
    pub milestone: MilestoneSummary,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    RunStarted(RunStart),
    TaskStarted {
        id: String,
        title: String,
        task_type: String,
        /// What an interrupted attempt left uncommitted, handed to this one.
        leftovers: Option<Leftovers>,
    },
    AttemptStarted {
        id: String,
        attempt: u32,
        /// The session resumed, if any.
        resume: Option<String>,
        command: String,
    },
    Agent {
        id: String,
        event: AgentEvent,
    },
    AttemptFinished {
        id: String,
        attempt: u32,
        end: AttemptEnd,
        session_id: Option<String>,
        duration_ms: u64,
        stderr_tail: String,
    },
    /// What the agent or a gate left running when it ended (a daemon, a background job), which
    /// kmilestone killed.
    LeftRunning {
        id: String,
        /// `agent`, or the gate's command.
        by: String,
        /// `<pid> <command line>` each, redacted.
        processes: Vec<String>,
    },
    /// The agent removed or changed handoff bytes from before the task; they were put back.
    HandoffRestored {
        id: String,
        /// Where the agent's version is kept.
        kept: String,
    },
    GateStarted {
        id: String,
        command: String,
    },
    GateFinished {
        id: String,
        gate: GateRecord,
        output_tail: String,
    },
    CheckFinished {
        id: String,
        files: usize,
        findings: Vec<TestFinding>,
    },
    VerificationFailed {
        id: String,
        attempt: u32,
        problems: Vec<Problem>,
        retrying: bool,
    },
    Question {
        id: String,
        question: Question,
        session_id: String,
    },
    /// The task still fails verification after its fix attempts and a human is attached: they
    /// give instructions for one more attempt, accept the task (unit-test findings only) or stop.
    DecisionNeeded {
        id: String,
        question: Question,
    },
    WaitingForLimit {
        id: String,
        message: String,
        resets_at: Option<String>,
        wait_seconds: u64,
    },
    TaskFinished(TaskSummary),
    /// The run stops at a cap (its `run_finished` follows).
    CapReached {
        stop: CapStop,
    },
    /// The notify command ran for an earlier event.
    Notified(NotifyResult),
    RunFinished(RunEnd),
}

/// How one run of the notify command went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyResult {
    /// The event it was told about (`question`, `run_finished`, …).
    pub event: String,
    pub ok: bool,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    /// The last lines of its output.
    pub output_tail: String,
    /// It could not be started.
    pub error: Option<String>,
}

/// Receives every event of a run.
pub trait EventSink {
    fn emit(&mut self, event: &Event);
}

/// Milliseconds, saturating.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// One task as `--dry-run` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewTask {
    pub id: String,
    pub title: String,
    pub task_type: String,
    /// The agent's command line, as a shell would read it.
    pub command: String,
    pub prompt: String,
    /// What the agent's permissions cannot do of what the task asks (VALIDATION tasks).
    pub warnings: Vec<String>,
}
