//! The CommonMark view of a markdown file that plans and handoffs share: its headings with their
//! exact spans, and the blocks (code, HTML) that hide heading-like lines from a reader.

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

use crate::plan::input::LineIndex;

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
        let scanned = scan_range(source, 0..source.len(), &|offset| lines.line_of(offset));
        Document {
            headings: scanned.headings,
            hidden: scanned.hidden,
            front_matter: scanned.front_matter,
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

/// What one CommonMark parse of a part of a source found, with spans into the whole source.
struct Scanned {
    headings: Vec<Heading>,
    hidden: Vec<HiddenBlock>,
    front_matter: Option<String>,
}

/// Parses `source[range]` as a document of its own; spans and lines refer to `source`.
/// `line_of` maps an offset of `source` to its 1-based line.
fn scan_range(source: &str, range: Range<usize>, line_of: &dyn Fn(usize) -> usize) -> Scanned {
    // Editors on Windows save a byte order mark; CommonMark would read it as text, so a first
    // `# Title` or `---` front matter would stop being one. Parse after it and shift every
    // range back, so spans still index `source`.
    let base = if range.start == 0 && source.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let mut base = range.start + base;
    // Front matter only counts at the very start of the file, as GitHub shows it. (pulldown-cmark
    // would take any `---` … `---` pair for a metadata block, swallowing the headings between two
    // thematic breaks, so it is read here instead.)
    let mut front_matter = None;
    if range.start == 0 {
        let end = front_matter_end(source);
        if end > 0 {
            let text = &source[base..end];
            let inner = text.split_inclusive('\n').skip(1).collect::<Vec<_>>();
            let content = &inner[..inner.len().saturating_sub(1)];
            front_matter = Some(content.concat());
            base = end;
        }
    }
    let parser = Parser::new_ext(&source[base..range.end], Options::empty());
    let mut headings = Vec::new();
    let mut hidden = Vec::new();
    // The heading being collected: its level, start, text so far.
    let mut open_heading: Option<(u8, Range<usize>, String)> = None;
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
                        line: line_of(span.start),
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
            Event::Start(Tag::CodeBlock(kind)) => {
                let kind = match kind {
                    CodeBlockKind::Fenced(_) => HidingBlock::Fenced {
                        fence: first_line(&source[range.clone()]).trim().to_string(),
                    },
                    CodeBlockKind::Indented => HidingBlock::Indented,
                };
                hidden.push(HiddenBlock {
                    kind,
                    line: line_of(range.start),
                    span: range,
                });
            }
            Event::Start(Tag::HtmlBlock) => hidden.push(HiddenBlock {
                kind: HidingBlock::Html,
                line: line_of(range.start),
                span: range,
            }),
            _ => {}
        }
    }
    Scanned {
        headings,
        hidden,
        front_matter,
    }
}

/// The headings of `source`, exactly as [`Document::scan`] finds them, without parsing all of a
/// large document.
///
/// An ATX heading line at column 0 is a heading wherever it stands, unless a fenced code block or
/// an HTML block is still open there: nothing else at the top level can hold it. So the source is
/// cut before such lines into segments. A segment whose body cannot open a block or hold another
/// heading (no `#`, no fence or `<` opening a line, no setext underline) contributes just its
/// first line; the others are parsed with pulldown-cmark, joined with the next segments while the
/// parse ends inside an open fenced or HTML block. A handoff is mostly prose, so most of it is
/// only scanned for newlines.
pub fn headings(source: &str) -> Vec<Heading> {
    let bytes = source.as_bytes();
    // YAML front matter may hold `#` lines; cut nowhere before its closing line.
    let front_matter_end = front_matter_end(source);
    let mut cuts = vec![0];
    // The 1-based line of each cut, counted on the way: no index of every line is built.
    let mut cut_lines = vec![1];
    let mut line_number = 1;
    let mut line_start = 0;
    while line_start < bytes.len() {
        let line_end =
            memchr::memchr(b'\n', &bytes[line_start..]).map_or(bytes.len(), |i| line_start + i + 1);
        if line_start > front_matter_end
            && bytes[line_start] == b'#'
            && looks_like_atx_heading(&source[line_start..line_end])
        {
            cuts.push(line_start);
            cut_lines.push(line_number);
        }
        line_start = line_end;
        line_number += 1;
    }
    cuts.push(source.len());
    let segments: Vec<Range<usize>> = cuts.windows(2).map(|w| w[0]..w[1]).collect();

    let mut headings = Vec::new();
    let mut index = 0;
    while index < segments.len() {
        let segment = segments[index].clone();
        if index > 0 && !segment_needs_parse(&source[segment.clone()]) {
            headings.push(plain_heading(source, segment, cut_lines[index]));
            index += 1;
            continue;
        }
        // Parse from here, taking in more segments (twice as many each time) while the parse
        // ends inside a block that a later heading line would belong to.
        let mut last = index;
        loop {
            let range = segment.start..segments[last].end;
            let chunk_lines = LineIndex::new(&source[range.clone()]);
            let first_line = cut_lines[index];
            let scanned = scan_range(source, range.clone(), &|offset| {
                first_line + chunk_lines.line_of(offset - range.start) - 1
            });
            let content_end = range.start + source[range.clone()].trim_end().len();
            let open_at_end = scanned.hidden.iter().any(|block| {
                !matches!(block.kind, HidingBlock::Indented) && block.span.end >= content_end
            });
            if !open_at_end || last + 1 == segments.len() {
                headings.extend(scanned.headings);
                break;
            }
            last = (last + (last - index + 1)).min(segments.len() - 1);
        }
        index = last + 1;
    }
    headings
}

/// Where a possible front matter block ends: after the first `---` or `...` line that follows an
/// opening `---` line; 0 when the source does not open with one.
fn front_matter_end(source: &str) -> usize {
    let text = source.strip_prefix('\u{feff}').unwrap_or(source);
    let base = source.len() - text.len();
    let mut lines = text.split_inclusive('\n');
    let Some(first) = lines
        .next()
        .filter(|l| l.trim_end() == "---" && l.ends_with('\n'))
    else {
        return 0;
    };
    let mut offset = base + first.len();
    for line in lines {
        offset += line.len();
        if matches!(line.trim_end(), "---" | "...") {
            return offset;
        }
    }
    0
}

/// Whether a segment's lines after its first could open a block that outlives the segment or be
/// a heading, judged conservatively: anything unusual sends the segment to the parser.
///
/// Fenced code at column 0 is followed here by the CommonMark rules (a column-0 fence line is
/// always top level, and its block ends at a closing fence indented at most three spaces), so the
/// code samples common in handoffs do not force a parse; a fence anywhere else does.
fn segment_needs_parse(segment: &str) -> bool {
    let mut body = segment.split_inclusive('\n');
    body.next();
    // The open fence: its character and length.
    let mut open: Option<(u8, usize)> = None;
    let mut previous_blank = true;
    for line in body {
        let content = line.trim_end_matches(['\n', '\r']);
        if let Some((fence_char, fence_len)) = open {
            if is_closing_fence(content, fence_char, fence_len) {
                open = None;
                previous_blank = true;
            }
            continue;
        }
        let trimmed = content.trim_start_matches([' ', '\t']);
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            let fence_char = trimmed.as_bytes()[0];
            let fence_len = trimmed.bytes().take_while(|&b| b == fence_char).count();
            let info = &trimmed[fence_len..];
            if trimmed.len() != content.len() || (fence_char == b'`' && info.contains('`')) {
                return true;
            }
            open = Some((fence_char, fence_len));
            continue;
        }
        if content.contains('#')
            || trimmed.starts_with('<')
            || (!previous_blank && is_setext_underline(trimmed))
        {
            return true;
        }
        previous_blank = trimmed.is_empty();
    }
    open.is_some()
}

/// A closing fence for an open `fence_char` × `fence_len` fence: at most three spaces, at least as
/// many fence characters, nothing but white space after.
fn is_closing_fence(line: &str, fence_char: u8, fence_len: usize) -> bool {
    let indent = line.bytes().take_while(|&b| b == b' ').count();
    if indent > 3 {
        return false;
    }
    let rest = &line[indent..];
    let run = rest.bytes().take_while(|&b| b == fence_char).count();
    run >= fence_len && rest[run..].trim().is_empty()
}

fn is_setext_underline(trimmed: &str) -> bool {
    let line = trimmed.trim_end();
    !line.is_empty() && (line.bytes().all(|b| b == b'=') || line.bytes().all(|b| b == b'-'))
}

/// The heading on the first line of a segment that needs no parse; inline markup in it is
/// rendered by pulldown-cmark, plain text is taken as it is.
fn plain_heading(source: &str, segment: Range<usize>, line: usize) -> Heading {
    let line_number = line;
    let line_end = source[segment.clone()]
        .find('\n')
        .map_or(segment.end, |i| segment.start + i + 1);
    let line = &source[segment.start..line_end];
    let text = strip_atx(line);
    if text.contains(['\\', '`', '*', '_', '[', ']', '<', '>', '&', '!', '~'])
        && let Some(heading) = scan_range(source, segment.start..line_end, &|_| line_number)
            .headings
            .into_iter()
            .next()
    {
        return heading;
    }
    let level = line.bytes().take_while(|&b| b == b'#').count() as u8;
    Heading {
        level,
        text: text.to_string(),
        span: segment.start..line_end,
        line: line_number,
        atx: true,
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
pub(crate) fn fence_of(line: &str) -> Option<(char, usize)> {
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

    /// Lines that exercise every way a heading can be hidden, interrupted or merged.
    fn markdownish() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let line = prop_oneof![
            Just("## Task 1.1 Complete: done".to_string()),
            Just("# Title".to_string()),
            Just("### Task 2.1 **Completed** `x` &amp; y ###".to_string()),
            Just("#nospace".to_string()),
            Just("  ## indented heading".to_string()),
            Just("```".to_string()),
            Just("```markdown".to_string()),
            Just("~~~".to_string()),
            Just("    ## indented code".to_string()),
            Just("<div>".to_string()),
            Just("<!-- comment".to_string()),
            Just("-->".to_string()),
            Just("</div>".to_string()),
            Just("> # quoted heading".to_string()),
            Just("- item with # hash".to_string()),
            Just("===".to_string()),
            Just("---".to_string()),
            Just("".to_string()),
            Just("plain prose about task 1.1".to_string()),
            Just("\u{feff}# bom".to_string()),
            Just("  ```".to_string()),
            Just("````".to_string()),
            Just("```py`x".to_string()),
            Just("~~~~ text".to_string()),
            Just("\t```".to_string()),
            Just("- ```".to_string()),
            Just("> ```".to_string()),
            Just("1. item".to_string()),
            Just("   ```   ".to_string()),
            Just("    ```".to_string()),
            Just("***".to_string()),
            "[a-z #`*]{0,12}".prop_map(|s| s),
        ];
        proptest::collection::vec(line, 0..40).prop_map(|lines| lines.join("\n"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]
        #[test]
        fn segmented_headings_equal_a_full_parse(source in markdownish()) {
            proptest::prop_assert_eq!(headings(&source), Document::scan(&source).headings);
        }
    }

    #[test]
    fn segmented_headings_on_a_large_handoff() {
        let mut source = String::from("---\nkey: v\n---\n# Handoff\n");
        for i in 0..300 {
            source.push_str(&format!("\n## Task 1.{i} Complete: step {i}\n\nNotes.\n"));
            if i % 7 == 0 {
                source.push_str("```bash\n# not a heading\n## Task 9.9 Complete\n");
                if i % 14 != 0 {
                    source.push_str("```\n");
                }
            }
        }
        assert_eq!(headings(&source), Document::scan(&source).headings);
    }
}

#[cfg(test)]
mod front_matter_tests {
    use super::*;

    #[test]
    fn thematic_breaks_around_a_heading_are_not_front_matter() {
        let doc = Document::scan("# Handoff\n---\n## Task 1.1 Complete\nnotes\n\n---\n");
        let texts: Vec<_> = doc.headings.iter().map(|h| h.text.as_str()).collect();
        assert_eq!(texts, vec!["Handoff", "Task 1.1 Complete"]);
        assert_eq!(doc.front_matter, None);
    }

    #[test]
    fn front_matter_at_the_start_hides_its_lines() {
        let doc = Document::scan("---\n# not a heading\ndesign: x.md\n---\n## Task 1.1\n");
        let texts: Vec<_> = doc.headings.iter().map(|h| h.text.as_str()).collect();
        assert_eq!(texts, vec!["Task 1.1"]);
        assert_eq!(
            doc.front_matter.as_deref(),
            Some("# not a heading\ndesign: x.md\n")
        );
        assert_eq!(doc.headings[0].line, 5);
    }
}
