//! Fences read as their author meant them, beside CommonMark's reading: where the two disagree, a
//! task heading can vanish into a code block, and the plan must say so rather than lose the task.
//!
//! CommonMark cannot nest a fence inside a block opened by a fence of the same character and
//! length: in ```` ```markdown … ```bash … ``` … ``` ```` the first bare fence closes the
//! *outer* block, and the bare fence the author meant as its end opens a new block that hides
//! whatever follows, real task headings included. The author's reading is simulated here: a fence
//! with an info string always opens a block, a bare fence closes the innermost open block it can
//! close and opens one otherwise. A heading that CommonMark hides but the author's reading leaves
//! outside every block was swallowed by mistake; one that both readings put inside a block is an
//! example (plans hold example plans in fences).

use std::collections::HashSet;

use crate::plan::markdown::{
    Document, HiddenBlock, HidingBlock, MisnestedFence, fence_of, strip_atx,
};
use crate::plan::tasks::{HiddenTask, Task, Warning, parse_task_heading};

/// A fence line as the author's reading sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fence {
    line: usize,
    /// The fence line, trimmed (```` ```markdown ````).
    text: String,
    char: char,
    run: usize,
    has_info: bool,
}

impl Fence {
    fn new(line: usize, text: &str) -> Option<Fence> {
        let text = text.trim();
        let (char, run) = fence_of(text)?;
        Some(Fence {
            line,
            text: text.to_string(),
            char,
            run,
            has_info: !text[run..].trim().is_empty(),
        })
    }

    /// This fence made one character longer, so that it can hold fences like itself.
    fn longer(&self) -> String {
        format!("{}{}", self.char, self.text)
    }

    /// The closing fence that matches [`Fence::longer`].
    fn longer_closing(&self) -> String {
        self.char.to_string().repeat(self.run + 1)
    }
}

/// Why a task heading inside a fenced block is there by mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Swallowed {
    /// 1-based line and text of the fence that opens the block hiding the heading.
    pub fence_line: usize,
    pub fence: String,
    /// The block the author meant that fence (or an earlier one) to close, when known, as the
    /// fence that opened it, and whether it is that very fence that was meant to close it.
    meant_to_close: Option<(Fence, bool)>,
    /// The block is never closed: it runs to the end of the file.
    unclosed: bool,
}

impl Swallowed {
    /// The diagnostic for `heading` (as written) naming task `id`, with the fix.
    pub(super) fn message(&self, heading: &str, id: &str) -> String {
        let (fence_line, fence) = (self.fence_line, &self.fence);
        match &self.meant_to_close {
            Some((outer, true)) => format!(
                "`{heading}` is not read as task {id}: the fence at line {fence_line} ({fence}) opens a code block that hides it; it was meant to close the block opened at line {} ({}), but CommonMark cannot nest a fence inside a block opened by a fence as long, so the fences pair up otherwise; open that block with a longer fence ({} at line {}, closed by {} at line {fence_line})",
                outer.line,
                outer.text,
                outer.longer(),
                outer.line,
                outer.longer_closing()
            ),
            Some((outer, false)) => format!(
                "`{heading}` is not read as task {id}: the fence at line {fence_line} ({fence}) opens a code block that hides it, because CommonMark cannot nest a fence inside a block opened by a fence as long, and the block opened at line {} ({}) holds such fences, so the fences after it pair up otherwise; open that block with a longer fence ({} at line {}, and {} to close it)",
                outer.line,
                outer.text,
                outer.longer(),
                outer.line,
                outer.longer_closing()
            ),
            None if self.unclosed => format!(
                "`{heading}` is not read as task {id}: the code block opened at line {fence_line} ({fence}) is never closed and hides the rest of the file; close it with {} where its code ends",
                fence_of(fence).map_or_else(
                    || "```".to_string(),
                    |(char, run)| char.to_string().repeat(run)
                )
            ),
            None => format!(
                "`{heading}` is not read as task {id}: the fence at line {fence_line} ({fence}) opens a code block that hides it, though the fences before it look meant to pair up otherwise; check the fences before line {fence_line}"
            ),
        }
    }
}

/// An example block that a misnested fence ended early, leaving a task heading of the example
/// outside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exposed {
    pub block_line: usize,
    pub block_fence: String,
    pub longer: String,
}

/// What one fence event of the author's reading did.
#[derive(Debug, Clone)]
struct Step {
    line: usize,
    /// Open blocks after the event.
    depth: usize,
    /// The block the event closed, if it closed one.
    closed: Option<Fence>,
}

/// What moves the author's reading: a fence line, or the end of a block that its container
/// closed (named by the block's opening line).
#[derive(Debug, Clone)]
enum Event {
    Fence(Fence),
    End(usize),
}

/// The author's reading of a document's fences.
#[derive(Debug)]
pub(crate) struct FenceReading {
    steps: Vec<Step>,
    /// The innermost open block after each step, for headings read outside CommonMark's blocks.
    innermost: Vec<Option<Fence>>,
    /// Inner fences that CommonMark cannot nest, with the fence of the block they sit in.
    misnested: Vec<(usize, Fence)>,
    /// Opening lines of the fenced blocks that have a closing fence.
    closed: HashSet<usize>,
    /// Where the document's content ends (trailing white space excluded).
    content_end: usize,
}

impl FenceReading {
    pub(super) fn new(
        doc: &Document,
        source: &str,
        misnested_fences: &[MisnestedFence],
    ) -> FenceReading {
        // (line, then fences before block ends at one line, what happens).
        let mut events: Vec<(usize, u8, Event)> = Vec::new();
        let mut misnested = Vec::new();
        let mut closed = HashSet::new();
        for block in &doc.hidden {
            let HidingBlock::Fenced { fence } = &block.kind else {
                continue;
            };
            let Some(opening) = Fence::new(block.line, fence) else {
                continue;
            };
            events.push((block.line, 0, Event::Fence(opening.clone())));
            let inner = misnested_fences
                .iter()
                .filter(|m| m.outer_line == block.line);
            for found in inner {
                if let Some(fence) = Fence::new(found.line, &found.inner) {
                    misnested.push((found.line, opening.clone()));
                    events.push((found.line, 0, Event::Fence(fence)));
                }
            }
            match closing_fence(doc, source, block, &opening).and_then(|(l, t)| Fence::new(l, t)) {
                Some(closing) => {
                    closed.insert(block.line);
                    events.push((closing.line, 0, Event::Fence(closing)));
                }
                // A block in a list item or a quote also ends with its container: the author's
                // reading closes it there too, or it would stay open for the rest of the file.
                None => {
                    let last_line = doc.lines.line_of(block.span.end.saturating_sub(1));
                    events.push((last_line, 1, Event::End(block.line)));
                }
            }
        }
        events.sort_by_key(|(line, order, _)| (*line, *order));

        let mut stack: Vec<Fence> = Vec::new();
        let mut steps = Vec::with_capacity(events.len());
        let mut innermost = Vec::with_capacity(events.len());
        for (line, _, event) in events {
            let closed = match event {
                Event::Fence(fence) => {
                    let closes = !fence.has_info
                        && stack
                            .last()
                            .is_some_and(|open| open.char == fence.char && fence.run >= open.run);
                    if closes {
                        stack.pop()
                    } else {
                        stack.push(fence);
                        None
                    }
                }
                Event::End(opening_line) => {
                    if let Some(at) = stack.iter().rposition(|f| f.line == opening_line) {
                        stack.truncate(at);
                    }
                    None
                }
            };
            steps.push(Step {
                line,
                depth: stack.len(),
                closed,
            });
            innermost.push(stack.last().cloned());
        }
        FenceReading {
            steps,
            innermost,
            misnested,
            closed,
            content_end: source.trim_end().len(),
        }
    }

    /// The index of the last step before `line`.
    fn step_before(&self, line: usize) -> Option<usize> {
        self.steps.partition_point(|s| s.line < line).checked_sub(1)
    }

    /// Whether the heading at `line`, which CommonMark hides in `block` (opened by `fence`), is
    /// there by mistake: the block is never closed, or the author's reading has it outside.
    pub(super) fn swallowed(
        &self,
        block: &HiddenBlock,
        line: usize,
        fence: &str,
    ) -> Option<Swallowed> {
        let depth = self.step_before(line).map_or(0, |i| self.steps[i].depth);
        let unclosed = !self.closed.contains(&block.line) && block.span.end >= self.content_end;
        if depth > 0 && !unclosed {
            return None;
        }
        let opening = self.steps.iter().find(|s| s.line == block.line);
        let meant_to_close = match opening.and_then(|s| s.closed.as_ref()) {
            Some(outer) if outer.has_info => Some((outer.clone(), true)),
            // The fence closed a bare block, itself a product of the mispairing: name the last
            // block with an info string that a nested fence closed early, the one to fix.
            _ => self
                .misnested
                .iter()
                .rev()
                .find(|(inner_line, outer)| *inner_line < block.line && outer.has_info)
                .map(|(_, outer)| (outer.clone(), false)),
        };
        Some(Swallowed {
            fence_line: block.line,
            fence: fence.trim().to_string(),
            meant_to_close,
            unclosed,
        })
    }

    /// For a task heading CommonMark reads at `line`: the example block the author meant it to
    /// be in, when that block (opened with an info string, ```` ```markdown ````) was ended early
    /// by a fence nested inside it. After such a mispairing the author's reading is a guess, so
    /// only this plain case is named.
    pub(super) fn exposed(&self, line: usize) -> Option<Exposed> {
        let index = self.step_before(line)?;
        let open = self.innermost[index].as_ref()?;
        let ended_early = self
            .misnested
            .iter()
            .any(|(_, outer)| outer.line == open.line);
        (open.has_info && ended_early).then(|| Exposed {
            block_line: open.line,
            block_fence: open.text.clone(),
            longer: open.longer(),
        })
    }
}

/// What the fences of a plan hide or expose.
pub(crate) struct FenceFindings {
    pub warnings: Vec<Warning>,
    pub hidden_tasks: Vec<HiddenTask>,
}

/// The diagnostics about task headings that code blocks hide, and about the fences that cannot
/// nest: a task heading swallowed by mistake is a [`HiddenTask`]; one inside a well-formed block
/// (an example), a misnested fence, and an example task heading that a misnested fence lets out
/// are warnings.
pub(crate) fn diagnose(doc: &Document, source: &str, tasks: &[Task]) -> FenceFindings {
    let misnested_fences = doc.misnested_fences(source);
    let reading = FenceReading::new(doc, source, &misnested_fences);
    let mut warnings = Vec::new();
    let mut hidden_tasks = Vec::new();
    for (line, text, block) in doc.hidden_heading_lines(source) {
        let hashes = text.trim_start().bytes().take_while(|&b| b == b'#').count();
        if !(2..=4).contains(&hashes) {
            continue;
        }
        let Some((id, _)) = parse_task_heading(strip_atx(text)) else {
            continue;
        };
        let heading = text.trim();
        let hider = match &block.kind {
            HidingBlock::Fenced { fence } => {
                if let Some(swallowed) = reading.swallowed(block, line, fence) {
                    hidden_tasks.push(HiddenTask {
                        message: swallowed.message(heading, &id),
                        id,
                        line,
                        heading: heading.to_string(),
                        fence_line: swallowed.fence_line,
                        fence: swallowed.fence,
                    });
                    continue;
                }
                format!("the code block opened at line {} ({fence})", block.line)
            }
            HidingBlock::Indented => format!("an indented code block (line {})", block.line),
            HidingBlock::Html => format!("the HTML block opened at line {}", block.line),
        };
        warnings.push(Warning {
            line,
            message: format!(
                "`{heading}` is inside {hider} and is not read as task {id}; if it is a real task, check that block's fences"
            ),
        });
    }

    for fence in &misnested_fences {
        let consequence = match fence.closed_at {
            Some(closed_at) => format!(
                "that block ends at the fence on line {closed_at} and what follows is read as markdown, headings included"
            ),
            None => "that block runs to the end of the file".to_string(),
        };
        warnings.push(Warning {
            line: fence.line,
            message: format!(
                "{} cannot open a block nested inside the code block opened at line {} ({}): {consequence}; open the outer block with a longer fence ({}{})",
                fence.inner,
                fence.outer_line,
                fence.outer,
                fence.outer.chars().next().unwrap_or('`'),
                fence.outer
            ),
        });
    }

    for task in tasks {
        if let Some(exposed) = reading.exposed(task.line) {
            warnings.push(Warning {
                line: task.line,
                message: format!(
                    "task {} is read as a task, but it looks meant to be part of the example in the code block opened at line {} ({}), which a fence nested inside it ends early; if it is an example, open that block with a longer fence ({})",
                    task.id, exposed.block_line, exposed.block_fence, exposed.longer
                ),
            });
        }
    }
    FenceFindings {
        warnings,
        hidden_tasks,
    }
}

/// The closing fence line of a fenced `block`, when it has one (a block that runs to the end of
/// its container has none). Block-quote markers are looked through.
fn closing_fence<'a>(
    doc: &Document,
    source: &'a str,
    block: &HiddenBlock,
    opening: &Fence,
) -> Option<(usize, &'a str)> {
    let text = source[block.span.clone()].trim_end_matches(['\n', '\r']);
    let start = text.rfind('\n')? + 1;
    let last = text[start..]
        .trim_start()
        .trim_start_matches(['>', ' ', '\t'])
        .trim_end();
    let (char, run) = fence_of(last)?;
    (char == opening.char && run >= opening.run && last[run..].trim().is_empty())
        .then(|| (doc.lines.line_of(block.span.start + start), last))
}

#[cfg(test)]
#[path = "fences_tests.rs"]
mod tests;
