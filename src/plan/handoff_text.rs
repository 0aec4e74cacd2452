//! Text surgery on a handoff the runner needs after a task: counting a task's Complete headings,
//! cutting out its latest Complete section, and putting back bytes an agent removed.

use super::Plan;
use super::handoff::{Handoff, MarkState, parse_mark_heading};
use super::markdown::{Heading, headings};

/// How many headings of the handoff text mark `id` complete.
pub fn complete_marks(text: &str, plan: &Plan, id: &str) -> usize {
    Handoff::parse(text, plan)
        .marks
        .iter()
        .filter(|m| m.state == MarkState::Complete && m.ids.iter().any(|i| i == id))
        .count()
}

/// The last heading of `headings` that marks `id` complete, with its index.
fn last_complete_heading<'h>(
    headings: &'h [Heading],
    plan: &Plan,
    id: &str,
) -> Option<(usize, &'h Heading)> {
    headings.iter().enumerate().rev().find(|(_, h)| {
        parse_mark_heading(&h.text, plan)
            .is_some_and(|(ids, state)| state == MarkState::Complete && ids.iter().any(|i| i == id))
    })
}

/// The last `Task <id> Complete` section of the handoff text, from its heading to the next
/// heading of the same or a higher level.
pub fn complete_section(text: &str, plan: &Plan, id: &str) -> String {
    let headings = headings(text);
    let Some((index, heading)) = last_complete_heading(&headings, plan, id) else {
        return String::new();
    };
    let end = headings[index + 1..]
        .iter()
        .find(|h| h.level <= heading.level)
        .map_or(text.len(), |h| h.span.start);
    text[heading.span.start..end].to_string()
}

/// The handoff with every byte from before the task back in place, followed by what the agent
/// appended for this task (its Complete section onwards), when it wrote one.
pub fn restore(before: &[u8], current: &str, plan: &Plan, id: &str) -> String {
    let mut restored = String::from_utf8_lossy(before).into_owned();
    let headings = headings(current);
    if let Some((_, heading)) = last_complete_heading(&headings, plan, id) {
        let appended = &current[heading.span.start..];
        if !restored.contains(appended.trim_end()) {
            if !restored.ends_with('\n') && !restored.is_empty() {
                restored.push('\n');
            }
            if !restored.ends_with("\n\n") && !restored.is_empty() {
                restored.push('\n');
            }
            restored.push_str(appended);
        }
    }
    restored
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn plan() -> Plan {
        Plan::parse(
            Path::new("M1_x.md"),
            "# M\n\n## Task 1.1: A\n\n## Task 1.2: B\n",
        )
        .unwrap()
    }

    #[test]
    fn the_latest_complete_section_is_cut_out() {
        let text = "## Task 1.1 Complete: A\n\nold\n\n## Task 1.1 Complete: A again\n\n**E2E:** x — PASSED\n\n## Task 1.2 Complete\n";
        assert_eq!(complete_marks(text, &plan(), "1.1"), 2);
        assert_eq!(
            complete_section(text, &plan(), "1.1"),
            "## Task 1.1 Complete: A again\n\n**E2E:** x — PASSED\n\n"
        );
        assert_eq!(complete_section(text, &plan(), "9.9"), "");
    }

    #[test]
    fn restoring_keeps_what_was_there_and_the_new_section() {
        let before = b"# Handoff\n\n## Task 1.1 Complete: A\n\nnotes\n";
        let wiped = "## Task 1.2 Complete: B\n\nnew notes\n";
        assert_eq!(
            restore(before, wiped, &plan(), "1.2"),
            "# Handoff\n\n## Task 1.1 Complete: A\n\nnotes\n\n## Task 1.2 Complete: B\n\nnew notes\n"
        );
        // Nothing of this task's: the old text alone comes back.
        assert_eq!(
            restore(before, "", &plan(), "1.2"),
            String::from_utf8_lossy(before)
        );
    }
}
