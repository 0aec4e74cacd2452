//! Helpers shared by the integration tests: the scripted Anthropic API mock, the real Claude Code
//! CLI harness, and scratch git repositories.

// Each test module uses a different subset of these helpers.
#![allow(dead_code)]

pub mod claude;
pub mod git_repo;
pub mod mock_anthropic;
mod sse;
