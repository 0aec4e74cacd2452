//! Unit-test quality check: reads test files with tree-sitter and reports tests that are not
//! real unit tests (containers, databases, network, services, long sleeps) or that do not test
//! anything (no or weak assertions, skipped or focused tests).

mod allocator;
mod command;
mod facts;
mod knowledge;
mod lang;
mod model;
mod package;
mod rules;
mod syntax;

#[cfg(test)]
mod fixture_tests;

pub use allocator::use_fast_parser_allocator;
pub use command::{check_paths, is_test_file, render_text, run_command, test_files_since};
pub use model::{
    CheckError, CheckReport, ChecksConfig, Finding, IntegrationPolicy, Rule, Severity, Via,
};
