//! Splitting a byte stream into lines, and keeping the tail of a stream for reports.

/// A line longer than this is delivered in pieces of this size. Agents print multi-megabyte JSON
/// lines, so the limit is generous; it only exists so that a program printing gigabytes without a
/// newline cannot make the supervisor's memory grow without bound.
pub(crate) const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// How much of each stream [`Tail`] keeps.
pub(crate) const TAIL_BYTES: usize = 8 * 1024;

/// Cuts chunks of bytes into lines. Each byte is scanned once and copied at most once, so a line
/// that arrives in many small chunks costs time linear in its length.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    pending: Vec<u8>,
    max_line: usize,
}

impl LineSplitter {
    pub(crate) fn new() -> Self {
        Self::with_max_line(MAX_LINE_BYTES)
    }

    pub(crate) fn with_max_line(max_line: usize) -> Self {
        Self {
            pending: Vec::new(),
            max_line: max_line.max(1),
        }
    }

    /// Feeds a chunk; `emit` receives every line it completes, without its line ending.
    pub(crate) fn push(&mut self, mut chunk: &[u8], emit: &mut dyn FnMut(&[u8])) {
        while let Some(pos) = chunk.iter().position(|&b| b == b'\n') {
            let (line, rest) = chunk.split_at(pos);
            if self.pending.is_empty() {
                emit(strip_cr(line));
            } else {
                self.pending.extend_from_slice(line);
                emit(strip_cr(&self.pending));
                self.pending.clear();
            }
            chunk = &rest[1..];
        }
        self.pending.extend_from_slice(chunk);
        while self.pending.len() >= self.max_line {
            let rest = self.pending.split_off(self.max_line);
            emit(&self.pending);
            self.pending = rest;
        }
    }

    /// Delivers a last line that had no newline.
    pub(crate) fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if !self.pending.is_empty() {
            emit(strip_cr(&self.pending));
            self.pending.clear();
        }
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The last [`TAIL_BYTES`] of a stream. It trims only when it holds twice the limit, so keeping
/// the tail of a large output costs amortised constant time per byte.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    buf: Vec<u8>,
}

impl Tail {
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        if chunk.len() >= TAIL_BYTES {
            self.buf.clear();
            self.buf
                .extend_from_slice(&chunk[chunk.len() - TAIL_BYTES..]);
            return;
        }
        self.buf.extend_from_slice(chunk);
        if self.buf.len() > 2 * TAIL_BYTES {
            let cut = self.buf.len() - TAIL_BYTES;
            self.buf.drain(..cut);
        }
    }

    /// The kept bytes as text. A cut through a multi-byte character would show as a replacement
    /// character, so the text starts at the first character boundary instead.
    pub(crate) fn into_string(self) -> String {
        let start = self.buf.len().saturating_sub(TAIL_BYTES);
        let mut kept = &self.buf[start..];
        if start > 0 {
            let skip = kept
                .iter()
                .take(3)
                .take_while(|&&b| (0x80..0xC0).contains(&b))
                .count();
            kept = &kept[skip..];
        }
        String::from_utf8_lossy(kept).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]], max_line: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut splitter = LineSplitter::with_max_line(max_line);
        for chunk in chunks {
            splitter.push(chunk, &mut |line| out.push(line.to_vec()));
        }
        splitter.finish(&mut |line| out.push(line.to_vec()));
        out
    }

    #[test]
    fn lines_across_chunk_boundaries() {
        let got = split(&[b"a\nb", b"c", b"d\n\ne\r\nf"], 1024);
        let want: Vec<&[u8]> = vec![b"a", b"bcd", b"", b"e", b"f"];
        assert_eq!(got, want);
    }

    #[test]
    fn no_trailing_empty_line_after_final_newline() {
        assert_eq!(split(&[b"x\n"], 1024), vec![b"x".to_vec()]);
        assert!(split(&[b""], 1024).is_empty());
    }

    #[test]
    fn overlong_line_is_delivered_in_pieces() {
        let got = split(&[b"abcdefg", b"h\nij"], 3);
        let want: Vec<&[u8]> = vec![b"abc", b"def", b"gh", b"ij"];
        assert_eq!(got, want);
    }

    #[test]
    fn tail_keeps_the_end() {
        let mut tail = Tail::default();
        for i in 0..10_000u32 {
            tail.push(format!("{i}\n").as_bytes());
        }
        let text = tail.into_string();
        assert!(text.len() <= TAIL_BYTES);
        assert!(text.ends_with("9998\n9999\n"));
    }

    #[test]
    fn tail_does_not_start_inside_a_character() {
        let mut tail = Tail::default();
        tail.push("é".repeat(TAIL_BYTES).as_bytes());
        let text = tail.into_string();
        assert!(!text.contains('\u{FFFD}'));
        assert!(text.starts_with('é'));
    }
}
