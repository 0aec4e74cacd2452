//! The integration test binary (one binary for all integration tests: `autotests = false`).

mod corpus;
mod faults;
mod lint;
mod mock_api;
mod no_panic;
mod real_claude;
mod real_codex;
mod real_runs;
mod rewrites;
mod run_loop;
mod status;
mod support;
mod views;
