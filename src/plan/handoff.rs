//! Reading a handoff file: which tasks it marks complete or blocked, and where it lives.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use crate::plan::Plan;
use crate::plan::input::{InputError, read_text_file};

/// One heading of the handoff that marks tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// IDs as written (a range is expanded over the plan's order when the plan knows both ends).
    pub ids: Vec<String>,
    pub state: MarkState,
    /// 1-based line of the heading.
    pub line: usize,
    /// The heading's text, for messages (`Task 5.0 BLOCKED: waiting for E2E env`).
    pub heading: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkState {
    Complete,
    Blocked,
}

/// What a handoff says.
#[derive(Debug, Clone, Default)]
pub struct Handoff {
    pub marks: Vec<Mark>,
    /// Every heading outside code blocks, as (line, level, text): what a note about a handoff
    /// that marks nothing shows of it.
    pub headings: Vec<(usize, u8, String)>,
    /// Whether the file holds any text besides white space.
    pub has_text: bool,
}

/// `[M2[:] ]Task[s] <id list> [sep] Complete|Completed|Done|BLOCKED`.
static MARK_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    let id = r"\d+[a-z]?(?:\.\d+[a-z]?)*";
    Regex::new(&format!(
        r"(?i)^[^\w]*(?:M{id}\s*[:—–\-]?\s+)?tasks?\s+({id}(?:\s*(?:&|,|\band\b|\bto\b|-|–|—|/)\s*{id})*)\s*[:—–\-]?\s*(complete|completed|done|blocked)\b"
    ))
    .expect("handoff heading pattern")
});

static ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\d+[a-z]?(?:\.\d+[a-z]?)*").expect("id pattern"));

static RANGE_SEPARATOR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:-|–|—|\bto\b)\s*$").expect("range pattern"));

/// Reads the marks of a handoff heading's text, expanding ranges over the plan's order.
pub fn parse_mark_heading(text: &str, plan: &Plan) -> Option<(Vec<String>, MarkState)> {
    // `Task 4.1 Complete…`, the form nearly every handoff uses, is read without the pattern.
    if let Some((id, rest)) = crate::plan::leading_task_id(text)
        && let Some(rest) = rest.strip_prefix(' ')
    {
        let word_end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let boundary = rest[word_end..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let state = match rest[..word_end].to_ascii_lowercase().as_str() {
            "complete" | "completed" | "done" if boundary => Some(MarkState::Complete),
            "blocked" if boundary => Some(MarkState::Blocked),
            _ => None,
        };
        if let Some(state) = state {
            return Some((vec![id.to_string()], state));
        }
    }
    let captures = MARK_HEADING.captures(text)?;
    let list = captures.get(1)?.as_str();
    let state = if captures[2].eq_ignore_ascii_case("blocked") {
        MarkState::Blocked
    } else {
        MarkState::Complete
    };
    let found: Vec<_> = ID.find_iter(list).collect();
    let mut ids: Vec<String> = Vec::new();
    for (index, id) in found.iter().enumerate() {
        let is_range_end = index > 0
            && RANGE_SEPARATOR.is_match(&list[found[index - 1].end()..id.start()])
            && !list[found[index - 1].end()..id.start()].trim().is_empty();
        if is_range_end {
            let from = found[index - 1].as_str();
            if let (Some(start), Some(end)) = (plan.position(from), plan.position(id.as_str()))
                && start < end
            {
                ids.extend(plan.tasks[start + 1..end].iter().map(|t| t.id.clone()));
            }
        }
        ids.push(id.as_str().to_string());
    }
    Some((ids, state))
}

impl Handoff {
    pub fn load(path: &Path, plan: &Plan) -> Result<Handoff, InputError> {
        let source = read_text_file(path)?;
        Ok(Handoff::parse(&source, plan))
    }

    pub fn parse(source: &str, plan: &Plan) -> Handoff {
        // Only the headings matter here: the segmented scan skips parsing most of a large handoff.
        let found = crate::plan::markdown::headings(source);
        let marks = found
            .iter()
            .filter_map(|heading| {
                let (ids, state) = parse_mark_heading(&heading.text, plan)?;
                Some(Mark {
                    ids,
                    state,
                    line: heading.line,
                    heading: heading.text.clone(),
                })
            })
            .collect();
        Handoff {
            marks,
            headings: found
                .into_iter()
                .map(|h| (h.line, h.level, h.text))
                .collect(),
            has_text: !source.trim().is_empty(),
        }
    }

    /// Whether a heading marks `id` complete.
    pub fn is_complete(&self, id: &str) -> bool {
        self.marks
            .iter()
            .any(|m| m.state == MarkState::Complete && m.ids.iter().any(|i| i == id))
    }

    /// The BLOCKED heading of `id`, if any.
    pub fn blocked_mark(&self, id: &str) -> Option<&Mark> {
        self.marks
            .iter()
            .find(|m| m.state == MarkState::Blocked && m.ids.iter().any(|i| i == id))
    }
}

/// Where a plan's handoff is: `HANDOFF_<stem>.md` beside it when that exists, else
/// `HANDOFF_<ID>.md` (which the first task creates).
pub fn locate(plan_path: &Path, milestone_id: &str) -> PathBuf {
    let dir = plan_path.parent().unwrap_or(Path::new("."));
    let stem = plan_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let by_stem = dir.join(format!("HANDOFF_{stem}.md"));
    if by_stem.is_file() {
        return by_stem;
    }
    dir.join(format!("HANDOFF_{milestone_id}.md"))
}

#[cfg(test)]
#[path = "handoff_tests.rs"]
mod tests;
