//! The integration test binary (one binary for all integration tests: `autotests = false`).

mod real_claude;
mod support;
