//! What a tool call returned, as the runner records it: a short summary, never the output
//! itself. A tool's output is whatever the agent read or ran — a key file, a token printed by a
//! command — and every event is shown, logged and kept; only its size, and for a failure its
//! first line (redacted, cut short), say enough to follow the run.

use crate::text::first_line;

/// The most characters of a failed call's first line that are kept.
const ERROR_LINE_CHARS: usize = 100;

/// `3 lines`, `no output`; for a failure its first non-empty line first:
/// `fatal: not a git repository (3 lines)`.
pub(crate) fn summary(output: &str, is_error: bool) -> String {
    let count = output.lines().count();
    let size = match count {
        0 => "no output".to_string(),
        1 => "1 line".to_string(),
        n => format!("{n} lines"),
    };
    let first = output.lines().map(str::trim).find(|l| !l.is_empty());
    match first {
        Some(first) if is_error => format!("{} ({size})", one_line(first, ERROR_LINE_CHARS)),
        _ => size,
    }
}

/// The first line of `text`, redacted, then cut to `max` characters: redacting after the cut
/// could leave the start of a secret that no longer looks like one.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    first_line(&crate::redact::text(text), max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_counted_and_only_a_failure_says_its_first_line() {
        let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        assert_eq!(summary(key, false), "3 lines");
        assert_eq!(summary("", false), "no output");
        assert_eq!(summary("ok", false), "1 line");
        assert_eq!(
            summary("\nfatal: not a git repository\nhint: run git init\n", true),
            "fatal: not a git repository (3 lines)"
        );
        assert_eq!(summary("", true), "no output");
        let long = format!("error: {} end", "x".repeat(200));
        assert_eq!(
            summary(&long, true),
            format!("error: {}… (1 line)", "x".repeat(93))
        );
    }

    #[test]
    fn a_token_at_the_cut_is_redacted_whole() {
        let token = "ghp_0123456789abcdefABCDEF0123456789abcd";
        let text = format!("{} {token}", "x".repeat(90));
        assert_eq!(
            one_line(&text, 100),
            format!("{} [REDACTED…", "x".repeat(90))
        );
        assert_eq!(
            summary(&format!("auth failed for {token}\n"), true),
            "auth failed for [REDACTED:github-token] (1 line)"
        );
    }
}
