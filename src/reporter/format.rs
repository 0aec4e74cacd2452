//! How the views write times and cut text.

/// `1m 05s`, `12.3s`, `1h 02m`.
pub(crate) fn duration_ms(ms: u64) -> String {
    let seconds = ms / 1000;
    match seconds {
        0..=59 => format!("{}.{}s", seconds, (ms % 1000) / 100),
        60..=3599 => format!("{}m {:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h {:02}m", seconds / 3600, (seconds % 3600) / 60),
    }
}

/// `m:ss`, or `h:mm:ss` past an hour.
pub(crate) fn clock(ms: u64) -> String {
    let seconds = ms / 1000;
    if seconds >= 3600 {
        format!(
            "{}:{:02}:{:02}",
            seconds / 3600,
            (seconds % 3600) / 60,
            seconds % 60
        )
    } else {
        format!("{}:{:02}", seconds / 60, seconds % 60)
    }
}

/// `text` cut to `max` characters, with `…` when cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `$0.1234`.
pub(crate) fn cost(usd: f64) -> String {
    format!("${usd:.4}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_clocks_and_cuts() {
        assert_eq!(duration_ms(400), "0.4s");
        assert_eq!(duration_ms(65_000), "1m 05s");
        assert_eq!(duration_ms(3_720_000), "1h 02m");
        assert_eq!(clock(0), "0:00");
        assert_eq!(clock(61_000), "1:01");
        assert_eq!(clock(3_661_000), "1:01:01");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
        assert_eq!(cost(0.25), "$0.2500");
    }
}
