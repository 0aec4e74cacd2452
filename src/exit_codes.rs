//! Every exit code kmilestone returns, documented in one place.
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | milestone complete, or the requested range done; `lint`/`check-tests` found no error |
//! | 1    | a task failed verification after its retries; `lint` found errors; `check-tests` found a HIGH issue; `--pr` could not create the pull request |
//! | 2    | bad usage or bad input (plan, handoff, config, arguments, dirty tree) |
//! | 3    | the agent reported a blocker, or the next task is marked BLOCKED in the handoff |
//! | 4    | waiting for a human answer (`run --answer "…"` continues) |
//! | 5    | the agent could not be started or cannot work (not installed, not authenticated, its sandbox unavailable) |
//! | 6    | stopped at an agent usage limit with `--no-wait` (or no reset time was given) |
//! | 7    | stopped at a cap before a task: the milestone's spend (`max_cost`) or the run's time (`max_time`) |
//! | 130  | interrupted (Ctrl-C, SIGTERM, SIGHUP) |

/// Milestone complete, range done, or a check found nothing wrong.
pub const SUCCESS: i32 = 0;
/// A task failed verification after its retries, or a check found errors.
pub const TASK_FAILED: i32 = 1;
/// Bad usage or bad input.
pub const BAD_INPUT: i32 = 2;
/// A blocker was reported by the agent or recorded in the handoff.
pub const BLOCKED: i32 = 3;
/// A question waits for the human.
pub const NEEDS_ANSWER: i32 = 4;
/// The agent could not be started.
pub const AGENT_UNAVAILABLE: i32 = 5;
/// Stopped at a usage limit instead of waiting for its reset.
pub const USAGE_LIMIT: i32 = 6;
/// Stopped at a spend or time cap before starting a task.
pub const CAP_REACHED: i32 = 7;
/// Interrupted by a signal.
pub const INTERRUPTED: i32 = 130;
