//! One module per subcommand; each returns its exit code or an error rendered by `crate::run`.

pub mod lint;
pub mod report;
pub mod run;
pub mod status;
