//! The integration test binary (one binary for all integration tests: `autotests = false`).

mod corpus;
mod mock_api;
mod real_claude;
mod real_runs;
mod run_loop;
mod support;
