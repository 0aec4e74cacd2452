//! Small text helpers that every layer may use: they know nothing of plans, agents or runs.

/// Quotes `text` for a POSIX shell when it needs it.
pub(crate) fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// At most `max` characters of the first line of `text`, with `…` when anything was left out.
pub(crate) fn first_line(text: &str, max: usize) -> String {
    let first = text.lines().next().unwrap_or_default();
    if first.chars().count() <= max && first.len() == text.trim_end().len() {
        return first.to_string();
    }
    let mut cut: String = first.chars().take(max).collect();
    cut.push('…');
    cut
}

/// The last `lines` lines of `text`.
pub(crate) fn tail_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `s` when `n` is not 1: `attempt{}`.
pub(crate) fn plural(n: impl Into<u64>) -> &'static str {
    if n.into() == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_only_when_needed() {
        assert_eq!(shell_quote("M1: Greeter"), "'M1: Greeter'");
        assert_eq!(shell_quote("/tmp/a.md"), "/tmp/a.md");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn first_line_marks_what_it_leaves_out() {
        assert_eq!(first_line("short", 10), "short");
        assert_eq!(first_line("one\ntwo", 10), "one…");
        assert_eq!(first_line("abcdef", 3), "abc…");
        assert_eq!(tail_lines("a\nb\nc", 2), "b\nc");
        assert_eq!(plural(1u32), "");
        assert_eq!(plural(2u32), "s");
    }
}
