//! Temporary entry for `check-tests` until the full command line is wired in.

use std::path::PathBuf;
use std::process::ExitCode;

use kmilestone::checks::{ChecksConfig, run_command};
use kmilestone::exit_codes;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some("check-tests") {
        eprintln!("usage: kmilestone check-tests [PATH...] [--since REV] [--json]");
        return ExitCode::from(exit_codes::BAD_INPUT as u8);
    }
    let mut paths = Vec::new();
    let mut since = None;
    let mut json = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--since" => since = args.next(),
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    let repo_root = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut stdout = std::io::stdout().lock();
    match run_command(
        &paths,
        since.as_deref(),
        json,
        &ChecksConfig::default(),
        &repo_root,
        &mut stdout,
    ) {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(exit_codes::BAD_INPUT as u8)
        }
    }
}
