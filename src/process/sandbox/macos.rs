//! The macOS sandbox: `sandbox-exec -p PROFILE program args…`, with a profile (SBPL, the
//! Seatbelt profile language) generated from the policy.
//!
//! The profile starts from `(allow default)` and takes away: every write except the writable
//! hierarchies and the usual devices, every read of the denied paths, and the network except unix
//! sockets. In SBPL the last matching rule wins, so the denials of secrets come after the
//! writable grants: a secret inside a writable folder stays hidden. Paths must be canonical
//! (`/private/tmp`, not `/tmp`): Seatbelt matches the path a link resolves to.
//!
//! The generation is pure and tested on every platform; only running it needs macOS.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where macOS keeps the tool. An absolute path: a `sandbox-exec` earlier on PATH could be
/// anything.
pub(crate) const SANDBOX_EXEC: &str = "/usr/bin/sandbox-exec";

/// The inputs of a profile, canonical paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProfilePaths {
    pub(crate) writable: Vec<PathBuf>,
    /// The last component may hold `*` globs.
    pub(crate) denied: Vec<PathBuf>,
    pub(crate) network: bool,
}

const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/random",
    "/dev/urandom",
    "/dev/dtracehelper",
];

/// The SBPL profile for `paths`.
pub(crate) fn profile(paths: &ProfilePaths) -> String {
    let mut out = String::from("(version 1)\n(allow default)\n(deny file-write*)\n");
    out.push_str("(allow file-write*\n");
    for path in &paths.writable {
        let _ = writeln!(
            out,
            "    (subpath {})",
            string(path.to_string_lossy().as_ref())
        );
    }
    for device in DEVICES {
        let _ = writeln!(out, "    (literal {})", string(device));
    }
    // /dev/stdout and friends are /dev/fd/N: the descriptors the child already holds.
    out.push_str("    (regex #\"^/dev/fd/[0-9]+$\"))\n");
    if !paths.denied.is_empty() {
        out.push_str("(deny file-read* file-write*\n");
        for path in &paths.denied {
            let _ = writeln!(out, "    {}", path_filter(path));
        }
        out.push_str(")\n");
    }
    if !paths.network {
        out.push_str("(deny network*)\n");
        // Unix sockets are local IPC (test harnesses, language servers), not the network.
        out.push_str("(allow network* (local unix-socket) (remote unix-socket))\n");
    }
    out
}

/// `(subpath "…")` for a plain path, a regex for one whose last component has a `*`.
fn path_filter(path: &Path) -> String {
    let text = path.to_string_lossy();
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    if !name.contains('*') {
        return format!("(subpath {})", string(&text));
    }
    let parent = path.parent().map(Path::to_string_lossy).unwrap_or_default();
    let mut regex = String::from("^");
    regex.push_str(&regex_escape(parent.trim_end_matches('/')));
    regex.push('/');
    let pieces: Vec<String> = name.split('*').map(regex_escape).collect();
    regex.push_str(&pieces.join("[^/]*"));
    regex.push_str("(/.*)?$");
    format!("(regex {})", regex_literal(&regex))
}

/// An SBPL string literal: backslashes and quotes escaped, so no path can end the string and
/// add a rule of its own.
fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A `#"…"` regex literal; inside it only `"` needs escaping for the reader.
fn regex_literal(regex: &str) -> String {
    format!("#\"{}\"", regex.replace('"', "\\\""))
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(target_os = "macos")]
pub(crate) fn available() -> Result<(), String> {
    if Path::new(SANDBOX_EXEC).is_file() {
        Ok(())
    } else {
        Err(format!("{SANDBOX_EXEC} is missing"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_for_a_repository() {
        let paths = ProfilePaths {
            writable: vec![
                PathBuf::from("/Users/ann/src/app"),
                PathBuf::from("/private/var/folders/x/T/kmilestone-gate-1"),
            ],
            denied: vec![
                PathBuf::from("/Users/ann/.ssh"),
                PathBuf::from("/Users/ann/.claude*"),
            ],
            network: false,
        };
        assert_eq!(
            profile(&paths),
            r#"(version 1)
(allow default)
(deny file-write*)
(allow file-write*
    (subpath "/Users/ann/src/app")
    (subpath "/private/var/folders/x/T/kmilestone-gate-1")
    (literal "/dev/null")
    (literal "/dev/zero")
    (literal "/dev/random")
    (literal "/dev/urandom")
    (literal "/dev/dtracehelper")
    (regex #"^/dev/fd/[0-9]+$"))
(deny file-read* file-write*
    (subpath "/Users/ann/.ssh")
    (regex #"^/Users/ann/\.claude[^/]*(/.*)?$")
)
(deny network*)
(allow network* (local unix-socket) (remote unix-socket))
"#
        );
    }

    #[test]
    fn network_allowed_keeps_file_rules_only() {
        let text = profile(&ProfilePaths {
            writable: vec![PathBuf::from("/r")],
            denied: Vec::new(),
            network: true,
        });
        assert!(!text.contains("network"), "{text}");
        assert!(!text.contains("(deny file-read*"), "{text}");
        assert!(text.contains("(subpath \"/r\")"), "{text}");
    }

    #[test]
    fn quotes_and_backslashes_cannot_end_a_string() {
        let text = profile(&ProfilePaths {
            writable: vec![PathBuf::from(
                "/r/a\"b) (allow file-read* (subpath \"/\")\\",
            )],
            denied: vec![PathBuf::from("/h/x\"*")],
            network: true,
        });
        assert!(
            text.contains(r#"(subpath "/r/a\"b) (allow file-read* (subpath \"/\")\\")"#),
            "{text}"
        );
        assert!(text.contains(r#"(regex #"^/h/x\"[^/]*(/.*)?$")"#), "{text}");
    }

    #[test]
    fn globs_in_the_last_component() {
        assert_eq!(
            path_filter(Path::new("/h/a*b*")),
            r#"(regex #"^/h/a[^/]*b[^/]*(/.*)?$")"#
        );
        assert_eq!(
            path_filter(Path::new("/h/*.key")),
            r#"(regex #"^/h/[^/]*\.key(/.*)?$")"#
        );
        assert_eq!(
            path_filter(Path::new("/h/plain")),
            r#"(subpath "/h/plain")"#
        );
    }
}
