//! The integration test binary (one binary for all integration tests: `autotests = false`).

// Helpers are `pub` so that every test module can use them; nothing outside this binary can.
#![allow(unreachable_pub)]

mod caps;
mod claude_sample;
mod codex_runs;
mod codex_scenarios;
mod corpus;
mod faults;
mod hostile;
mod lint;
mod logging;
mod mock_api;
mod no_panic;
mod questions;
mod real_claude;
mod real_codex;
mod real_runs;
mod real_sandbox;
mod rewrites;
mod run_loop;
mod sandbox_runs;
mod sandbox_scenarios;
mod secrets;
mod status;
mod supervision;
mod support;
mod views;
