//! One module per subcommand; each returns its exit code or an error rendered by `crate::run`.

pub(crate) mod check_tests;
mod human;
pub(crate) mod lint;
mod notify;
mod pr;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod status;

use std::path::Path;

use crate::config::Settings;

/// Unknown configuration keys are warnings, never fatal.
fn warn_unknown_keys(settings: &Settings) {
    for key in &settings.unknown_keys {
        eprintln!(
            "warning: {}: unknown key `{key}` (ignored)",
            settings
                .source
                .as_deref()
                .unwrap_or(Path::new("kmilestone.toml"))
                .display()
        );
    }
}
