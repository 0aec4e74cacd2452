//! The CommonMark view of a markdown file that plans and handoffs share: its headings with their
//! exact spans, and the blocks (code, HTML) that hide heading-like lines from a reader.

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, MetadataBlockKind, Options, Parser, Tag, TagEnd};

use crate::input::LineIndex;

/// One ATX or setext heading as CommonMark reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    /// 1 to 6.
    pub level: u8,
    /// The rendered text: emphasis dropped, inline code kept in backticks.
    pub text: String,
    /// Byte range of the heading in the source.
    pub span: Range<usize>,
    /// 1-based line of the heading.
    pub line: usize,
    /// Whether it is an ATX (`## …`) heading; setext headings never name tasks.
    pub atx: bool,
}

/// What kind of block hides its content from the heading reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HidingBlock {
    /// A fenced code block with its opening fence line (e.g. "```markdown").
    Fenced { fence: String },
    /// An indented code block.
    Indented,
    /// A raw HTML block.
    Html,
}

/// A block whose lines are not headings, with where it starts.
#[derive(Debug, Clone)]
pub struct HiddenBlock {
    pub kind: HidingBlock,
    pub span: Range<usize>,
    /// 1-based line where the block opens.
    pub line: usize,
}

/// A scanned markdown document.
#[derive(Debug, Clone)]
pub struct Document {
    pub headings: Vec<Heading>,
    pub hidden: Vec<HiddenBlock>,
    /// The YAML front matter's content, without its `---` fences.
    pub front_matter: Option<String>,
    pub lines: LineIndex,
}

impl Document {
    pub fn scan(source: &str) -> Document {
        let lines = LineIndex::new(source);
        // Editors on Windows save a byte order mark; CommonMark would read it as text, so a first
        // `# Title` or `---` front matter would stop being one. Parse after it and shift every
        // range back, so spans still index `source`.
        let base = if source.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        let parser = Parser::new_ext(&source[base..], Options::ENABLE_YAML_STYLE_METADATA_BLOCKS);
        let mut headings = Vec::new();
        let mut hidden = Vec::new();
        let mut front_matter = None;
        // The heading being collected: its level, start, text so far.
        let mut open_heading: Option<(u8, Range<usize>, String)> = None;
        let mut in_metadata = false;
        for (event, range) in parser.into_offset_iter() {
            let range = range.start + base..range.end + base;
            match event {
                Event::Start(Tag::Heading { level, .. }) => {
                    open_heading = Some((level as u8, range, String::new()));
                }
                Event::End(TagEnd::Heading(_)) => {
                    if let Some((level, span, text)) = open_heading.take() {
                        // A setext heading's text may itself start with `#` (`#Task 1.1` over
                        // `---`), so look for a real ATX opening sequence.
                        let atx = looks_like_atx_heading(first_line(&source[span.clone()]));
                        headings.push(Heading {
                            level,
                            text: text.trim().to_string(),
                            line: lines.line_of(span.start),
                            span,
                            atx,
                        });
                    }
                }
                Event::Text(text) if open_heading.is_some() => {
                    if let Some((_, _, buffer)) = open_heading.as_mut() {
                        buffer.push_str(&text);
                    }
                }
                Event::Text(text) if in_metadata => {
                    front_matter.get_or_insert_with(String::new).push_str(&text);
                }
                Event::Code(code) => {
                    if let Some((_, _, buffer)) = open_heading.as_mut() {
                        buffer.push('`');
                        buffer.push_str(&code);
                        buffer.push('`');
                    }
                }
                Event::SoftBreak | Event::HardBreak => {
                    if let Some((_, _, buffer)) = open_heading.as_mut() {
                        buffer.push(' ');
                    }
                }
                Event::Start(Tag::MetadataBlock(MetadataBlockKind::YamlStyle)) => {
                    in_metadata = true;
                    front_matter = Some(String::new());
                }
                Event::End(TagEnd::MetadataBlock(_)) => in_metadata = false,
                Event::Start(Tag::CodeBlock(kind)) => {
                    let kind = match kind {
                        CodeBlockKind::Fenced(_) => HidingBlock::Fenced {
                            fence: first_line(&source[range.clone()]).trim().to_string(),
                        },
                        CodeBlockKind::Indented => HidingBlock::Indented,
                    };
                    hidden.push(HiddenBlock {
                        kind,
                        line: lines.line_of(range.start),
                        span: range,
                    });
                }
                Event::Start(Tag::HtmlBlock) => hidden.push(HiddenBlock {
                    kind: HidingBlock::Html,
                    line: lines.line_of(range.start),
                    span: range,
                }),
                _ => {}
            }
        }
        Document {
            headings,
            hidden,
            front_matter,
            lines,
        }
    }

    /// Whether byte `offset` of the source lies inside a code or HTML block.
    pub fn is_hidden(&self, offset: usize) -> bool {
        // Blocks are recorded in document order and do not overlap.
        let after = self.hidden.partition_point(|b| b.span.start <= offset);
        after > 0 && offset < self.hidden[after - 1].span.end
    }

    /// Fence lines with an info string inside a fenced block of the same fence: an author meant to
    /// nest a block (```` ```bash ```` inside ```` ```markdown ````), but CommonMark cannot, so
    /// the outer block ends at the inner closing fence, the rest of the example becomes part of
    /// the document, and the outer closing fence opens a new block that can hide real headings.
    pub fn misnested_fences(&self, source: &str) -> Vec<MisnestedFence> {
        let mut found = Vec::new();
        for block in &self.hidden {
            let HidingBlock::Fenced { fence } = &block.kind else {
                continue;
            };
            let Some((outer_char, outer_run)) = fence_of(fence) else {
                continue;
            };
            let body = &source[block.span.clone()];
            let mut offset = block.span.start;
            for (index, raw) in body.split_inclusive('\n').enumerate() {
                let start = offset;
                offset += raw.len();
                if index == 0 {
                    continue;
                }
                let line = raw.trim();
                let Some((inner_char, inner_run)) = fence_of(line) else {
                    continue;
                };
                let info = line[inner_run..].trim();
                if inner_char == outer_char && inner_run >= outer_run && !info.is_empty() {
                    found.push(MisnestedFence {
                        line: self.lines.line_of(start),
                        inner: line.to_string(),
                        outer_line: block.line,
                        outer: fence.clone(),
                        closed_at: closing_line(body, outer_char, outer_run)
                            .map(|at| self.lines.line_of(block.span.start + at)),
                    });
                }
            }
        }
        found
    }

    /// Lines inside hidden blocks that look like ATX headings, with the block hiding them.
    pub fn hidden_heading_lines<'a>(
        &'a self,
        source: &'a str,
    ) -> impl Iterator<Item = (usize, &'a str, &'a HiddenBlock)> + 'a {
        self.hidden.iter().flat_map(move |block| {
            let body = &source[block.span.clone()];
            let mut offset = block.span.start;
            body.split_inclusive('\n').filter_map(move |raw| {
                let start = offset;
                offset += raw.len();
                let line = raw.trim_end_matches(['\n', '\r']);
                looks_like_atx_heading(line).then(|| (self.lines.line_of(start), line, block))
            })
        })
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// `## Something` (or a bare `##`) with any indentation: what an author meant as a heading.
fn looks_like_atx_heading(line: &str) -> bool {
    let trimmed = line.trim_start().trim_end_matches(['\r', '\n']);
    let hashes = trimmed.bytes().take_while(|&b| b == b'#').count();
    (1..=6).contains(&hashes)
        && (trimmed.len() == hashes || trimmed[hashes..].starts_with([' ', '\t']))
}

/// The fence character and run length of a fence line (```` ```bash ```` → ('`', 3)).
fn fence_of(line: &str) -> Option<(char, usize)> {
    let trimmed = line.trim_start();
    let first = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let run = trimmed.bytes().take_while(|&b| b == first as u8).count();
    (run >= 3).then_some((first, run))
}

/// A fence that cannot be nested where its author put it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MisnestedFence {
    /// 1-based line of the inner fence that was meant to open a nested block.
    pub line: usize,
    /// The inner fence line, trimmed (e.g. "```bash").
    pub inner: String,
    /// 1-based line and text of the outer block's opening fence.
    pub outer_line: usize,
    pub outer: String,
    /// 1-based line where CommonMark closes the outer block (the fence meant to close the inner
    /// one), or `None` when the block runs to the end of the document.
    pub closed_at: Option<usize>,
}

/// Byte offset, within a fenced block's text, of its closing fence line, if it has one.
fn closing_line(block: &str, fence_char: char, fence_run: usize) -> Option<usize> {
    let body = block.trim_end_matches(['\n', '\r']);
    let start = body.rfind('\n').map_or(0, |i| i + 1);
    if start == 0 {
        return None;
    }
    let last = body[start..].trim();
    let (closing_char, run) = fence_of(last)?;
    (closing_char == fence_char && run >= fence_run && last[run..].trim().is_empty())
        .then_some(start)
}

/// Text with its ATX markers removed: `## Task 1.1 ##` → `Task 1.1`.
pub fn strip_atx(line: &str) -> &str {
    let trimmed = line.trim().trim_start_matches('#').trim();
    let without_closing = trimmed.trim_end_matches('#');
    if without_closing.len() < trimmed.len()
        && (without_closing.is_empty() || without_closing.ends_with([' ', '\t']))
    {
        without_closing.trim_end()
    } else {
        trimmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_have_text_level_and_line() {
        let doc = Document::scan("# Title\n\ntext\n\n## Task 1.1: Do `x` **now** ##\n");
        let found: Vec<_> = doc
            .headings
            .iter()
            .map(|h| (h.level, h.text.as_str(), h.line, h.atx))
            .collect();
        assert_eq!(
            found,
            vec![(1, "Title", 1, true), (2, "Task 1.1: Do `x` now", 5, true)]
        );
    }

    #[test]
    fn fenced_indented_and_html_blocks_hide_headings() {
        let source = "```markdown\n## Task 2.1: hidden\n```\n\n    ## Task 2.2 indented\n\n<div>\n## Task 2.3 html\n</div>\n\n## Task 1.1 real\n";
        let doc = Document::scan(source);
        let texts: Vec<_> = doc.headings.iter().map(|h| h.text.as_str()).collect();
        assert_eq!(texts, vec!["Task 1.1 real"]);
        let hidden: Vec<_> = doc
            .hidden_heading_lines(source)
            .map(|(line, text, block)| (line, text.trim(), block.line))
            .collect();
        assert_eq!(
            hidden,
            vec![
                (2, "## Task 2.1: hidden", 1),
                (5, "## Task 2.2 indented", 5),
                (8, "## Task 2.3 html", 7)
            ]
        );
    }

    #[test]
    fn front_matter_is_read_and_not_a_heading() {
        let doc = Document::scan("---\ndesign: a.md\n---\n\n# M\n");
        assert_eq!(doc.front_matter.as_deref(), Some("design: a.md\n"));
        assert_eq!(doc.headings.len(), 1);
    }

    #[test]
    fn setext_headings_are_marked() {
        let doc = Document::scan("Task 1.1\n--------\n");
        assert_eq!(doc.headings.len(), 1);
        assert!(!doc.headings[0].atx);
    }

    #[test]
    fn strip_atx_removes_only_real_closing_sequences() {
        assert_eq!(strip_atx("## Task 1.1 ##"), "Task 1.1");
        assert_eq!(strip_atx("## Task C#"), "Task C#");
        assert_eq!(strip_atx("  ### Task 2"), "Task 2");
    }
}
