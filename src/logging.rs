//! Debug logs on stderr, behind `-v` (debug) and `-vv` (trace), or `RUST_LOG`. Never on stdout,
//! so `--json` output is never mixed with them. Each log line is redacted before it is written:
//! debug logs quote agents' lines.

use tracing_subscriber::EnvFilter;

/// Sets up the logger for the process; `verbose` counts `-v` flags. Without either, only
/// warnings are shown.
pub(crate) fn init(verbose: u8) {
    let filter = match verbose {
        0 => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        1 => EnvFilter::new("kmilestone=debug,warn"),
        _ => EnvFilter::new("kmilestone=trace,debug"),
    };
    // A second call (tests calling `run` twice in one process) keeps the first logger.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::redact::RedactingWriter::new(std::io::stderr(), false))
        .with_target(false)
        .with_ansi(false)
        .try_init()
        .ok();
}
