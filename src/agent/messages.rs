//! What the agent says in its final message that the runner acts on: a question for the human,
//! a blocker, or a usage limit with its reset time.

use std::sync::LazyLock;

use crate::events::Question;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use regex::Regex;

/// A usage limit the agent hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageLimit {
    /// The agent's message.
    pub message: String,
    /// When the limit resets, when the message says.
    pub resets_at: Option<Timestamp>,
}

/// The `QUESTION:` block that ends the agent's message, if it asked one.
pub fn find_question(text: &str) -> Option<Question> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .rposition(|line| strip_marker(line, "QUESTION:").is_some())?;
    let mut question = strip_marker(lines[start], "QUESTION:")?.trim().to_string();
    let mut options = Vec::new();
    let mut recommendation = None;
    let mut in_options = false;
    for line in &lines[start + 1..] {
        if let Some(rest) = strip_marker(line, "OPTIONS:") {
            in_options = true;
            options.extend(split_inline_options(rest));
        } else if let Some(rest) = strip_marker(line, "RECOMMENDATION:") {
            in_options = false;
            recommendation = Some(rest.trim().to_string()).filter(|r| !r.is_empty());
        } else if in_options {
            let item = line
                .trim()
                .trim_start_matches(['-', '*', '•'])
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ')')
                .trim();
            if !item.is_empty() {
                options.push(item.to_string());
            }
        } else if recommendation.is_none() && !line.trim().is_empty() {
            question.push('\n');
            question.push_str(line.trim_end());
        }
    }
    let question = question.trim().to_string();
    (!question.is_empty()).then_some(Question {
        text: question,
        options,
        recommendation,
    })
}

fn split_inline_options(rest: &str) -> Vec<String> {
    rest.split(['|', ';'])
        .map(|o| o.trim().to_string())
        .filter(|o| !o.is_empty())
        .collect()
}

/// `marker` at the start of a line, allowing markdown emphasis around it.
fn strip_marker<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let trimmed = line.trim_start().trim_start_matches(['*', '_', '#', ' ']);
    let rest = trimmed.strip_prefix(marker).or_else(|| {
        // `**QUESTION**:` as well as `**QUESTION:**`.
        let name = marker.trim_end_matches(':');
        trimmed
            .strip_prefix(name)
            .map(|r| r.trim_start_matches(['*', '_']))
            .and_then(|r| r.strip_prefix(':'))
    })?;
    Some(rest.trim_start_matches(['*', '_']))
}

static AUTH_FAILURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)invalid api key|please run /login|not logged in|authentication_error|oauth token (?:has )?expired|credit balance is too low")
        .expect("authentication failure pattern")
});

/// Whether an agent's error result says it cannot work at all (not logged in, bad key, no
/// credit): retrying would fail the same way, so the run stops at once.
pub fn is_auth_failure(text: &str, api_status: Option<u16>) -> bool {
    matches!(api_status, Some(401 | 403)) || AUTH_FAILURE.is_match(text)
}

/// The reason of a `BLOCKED: <reason>` line in the agent's final message.
pub fn find_blocker(text: &str) -> Option<String> {
    text.lines()
        .filter_map(|line| strip_marker(line, "BLOCKED:"))
        .map(|reason| reason.trim().to_string())
        .find(|reason| !reason.is_empty())
}

static LEGACY_LIMIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Claude AI usage limit reached\|(\d{9,11})").expect("legacy limit pattern")
});

static LIMIT_PHRASES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)you've hit your (?:session |org's monthly usage |individual spend )?limit|claude ai usage limit reached|usage limit reached|your usage allocation has been disabled",
    )
    .expect("limit phrases pattern")
});

/// `resets 8pm (America/New_York)`, `resets 8:30 pm (Europe/Paris)`, `resets at 20:00 (UTC)`.
static RESETS_AT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)resets\s+(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\s*(?:\(([A-Za-z_]+(?:/[A-Za-z_+\-]+)*)\))?")
        .expect("reset time pattern")
});

/// The usage limit an agent's message reports, if any, with its reset time resolved against `now`.
pub fn find_usage_limit(text: &str, now: &Zoned) -> Option<UsageLimit> {
    if let Some(captures) = LEGACY_LIMIT.captures(text) {
        let seconds: i64 = captures[1].parse().ok()?;
        return Some(UsageLimit {
            message: text.trim().to_string(),
            resets_at: Timestamp::from_second(seconds).ok(),
        });
    }
    if !LIMIT_PHRASES.is_match(text) {
        return None;
    }
    let resets_at = RESETS_AT.captures(text).and_then(|c| reset_time(&c, now));
    Some(UsageLimit {
        message: text.trim().to_string(),
        resets_at,
    })
}

/// Whether `text` is itself a usage-limit notice (it opens with one), rather than a message that
/// merely mentions a limit somewhere, as a report of finished work about rate limiting may.
pub fn is_limit_notice(text: &str) -> bool {
    let text = text.trim_start();
    LEGACY_LIMIT.find(text).is_some_and(|m| m.start() == 0)
        || LIMIT_PHRASES.find(text).is_some_and(|m| m.start() == 0)
}

fn reset_time(captures: &regex::Captures<'_>, now: &Zoned) -> Option<Timestamp> {
    let mut hour: i8 = captures.get(1)?.as_str().parse().ok()?;
    let minute: i8 = captures
        .get(2)
        .map_or(Some(0), |m| m.as_str().parse().ok())?;
    match captures.get(3).map(|m| m.as_str().to_ascii_lowercase()) {
        Some(ref meridiem) if meridiem == "pm" && hour < 12 => hour += 12,
        Some(ref meridiem) if meridiem == "am" && hour == 12 => hour = 0,
        _ => {}
    }
    let zone = match captures.get(4) {
        Some(name) => TimeZone::get(name.as_str()).ok()?,
        None => now.time_zone().clone(),
    };
    let local_now = now.with_time_zone(zone);
    let time = Time::new(hour, minute, 0, 0).ok()?;
    let mut candidate = local_now
        .date()
        .to_datetime(time)
        .to_zoned(local_now.time_zone().clone())
        .ok()?;
    if candidate <= local_now {
        candidate = candidate.checked_add(1.day()).ok()?;
    }
    Some(candidate.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_block_with_options_and_recommendation() {
        let text = "I looked at the schema.\n\nQUESTION: Which store should workers use?\nOPTIONS:\n- Postgres\n- SQLite\nRECOMMENDATION: SQLite, it is already a dependency";
        let question = find_question(text).unwrap();
        assert_eq!(question.text, "Which store should workers use?");
        assert_eq!(question.options, vec!["Postgres", "SQLite"]);
        assert_eq!(
            question.recommendation.as_deref(),
            Some("SQLite, it is already a dependency")
        );
    }

    #[test]
    fn bold_markers_and_inline_options() {
        let question =
            find_question("**QUESTION:** Keep the old API?\n**OPTIONS:** yes | no").unwrap();
        assert_eq!(question.text, "Keep the old API?");
        assert_eq!(question.options, vec!["yes", "no"]);
        assert!(find_question("No question here. The word QUESTION: inside text").is_none());
    }

    #[test]
    fn authentication_failures() {
        assert!(is_auth_failure("Invalid API key · Please run /login", None));
        assert!(is_auth_failure("API Error: 401", Some(401)));
        assert!(!is_auth_failure("API Error: 529 Overloaded", Some(529)));
        assert!(!is_auth_failure("Added login form validation", None));
    }

    #[test]
    fn blocker_reason() {
        assert_eq!(
            find_blocker("Tried twice.\nBLOCKED: the staging database is unreachable").as_deref(),
            Some("the staging database is unreachable")
        );
        assert_eq!(find_blocker("All good, nothing blocked."), None);
    }

    #[test]
    fn legacy_limit_with_unix_time() {
        let now = Zoned::now();
        let limit = find_usage_limit("Claude AI usage limit reached|1767225600", &now).unwrap();
        assert_eq!(
            limit.resets_at,
            Some(Timestamp::from_second(1767225600).unwrap())
        );
    }

    #[test]
    fn limit_with_time_and_zone_resolves_to_the_next_occurrence() {
        let now: Zoned = "2026-11-26T15:00:00-05:00[America/New_York]"
            .parse()
            .unwrap();
        let limit = find_usage_limit(
            "You've hit your limit · resets 8pm (America/New_York)",
            &now,
        )
        .unwrap();
        let expected: Zoned = "2026-11-26T20:00:00-05:00[America/New_York]"
            .parse()
            .unwrap();
        assert_eq!(limit.resets_at, Some(expected.timestamp()));
        // After 8pm the reset is tomorrow's.
        let late: Zoned = "2026-11-26T21:00:00-05:00[America/New_York]"
            .parse()
            .unwrap();
        let limit = find_usage_limit(
            "You've hit your limit · resets 8pm (America/New_York)",
            &late,
        )
        .unwrap();
        let tomorrow: Zoned = "2026-11-27T20:00:00-05:00[America/New_York]"
            .parse()
            .unwrap();
        assert_eq!(limit.resets_at, Some(tomorrow.timestamp()));
    }

    #[test]
    fn limit_without_reset_time_and_non_limits() {
        let now = Zoned::now();
        let limit = find_usage_limit("You've hit your org's monthly usage limit", &now).unwrap();
        assert_eq!(limit.resets_at, None);
        assert!(find_usage_limit("Implemented the rate limiter.", &now).is_none());
    }

    #[test]
    fn a_limit_notice_opens_the_message() {
        assert!(is_limit_notice(
            "You've hit your limit · resets 8pm (America/New_York)"
        ));
        assert!(is_limit_notice(
            "\nClaude AI usage limit reached|1767225600"
        ));
        assert!(!is_limit_notice(
            "Done. The client now backs off on \"usage limit reached\"."
        ));
    }
}
