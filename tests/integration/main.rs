//! The integration test binary (one binary for all integration tests: `autotests = false`).

mod corpus;
mod faults;
mod mock_api;
mod real_claude;
mod run_loop;
mod support;
