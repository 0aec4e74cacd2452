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
use crate::process::secrets::is_secret_name;
use crate::redact::{self, Redactor};

/// Builds the process's redactor from its environment and installs it for every output: the
/// values of variables whose names look secret (the built-in patterns and `extra_names`, in
/// their glob form) and the `extra_values` themselves. Called once at start with no extras;
/// call it again once the configuration's own lists are known.
pub(crate) fn install_redactor(extra_names: &[String], extra_values: &[String]) {
    let redactor = Redactor::from_env(|name| is_secret_name(name, extra_names), extra_values);
    tracing::debug!(values = redactor.value_count(), "redacting secret values");
    redact::install(redactor);
}

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
