//! Redaction: secrets never written down. Every output kmilestone has — the terminal view,
//! `--json` stdout, `events.jsonl`, the report files, `pr-body.md`, `state.json`, the handoff
//! copies it keeps, stderr and its debug logs — passes its final text through the one
//! [`Redactor`] of the process ([`current`]) just before it is written.
//!
//! What is redacted:
//! - the values of environment variables whose names look secret (the caller decides which
//!   names: `process::secrets::is_secret_name`, with the user's extra patterns), as they appear
//!   in text and as they appear JSON-escaped; values shorter than [`MIN_SECRET_CHARS`] are left
//!   alone (`X_KEY=1` must not redact every `1`), and so are the values of names that hold
//!   settings rather than secrets (`*_MODEL`, `*_REGION`, `*_PROFILE`, e.g. `AWS_PROFILE`);
//!   each line of a multi-line value is redacted on its own too;
//! - values given explicitly (configuration), whatever their name;
//! - well-known token shapes wherever they come from: Anthropic and OpenAI keys (`sk-ant-…`,
//!   `sk-…` with a digit), GitHub tokens (`ghp_…`, `gho_…`, `ghs_…`, `github_pat_…`), Slack
//!   tokens (`xoxb-…`, `xoxp-…`), AWS access key ids (`AKIA…`), GitLab, npm, Google API and
//!   Stripe keys, and PEM private key blocks (to the end of the text when it was cut).
//!
//! Each is replaced by a marker that names what it was: `[REDACTED:GITHUB_TOKEN]`,
//! `[REDACTED:github-token]`.
//!
//! What is not: a secret split across lines or across separate writes, one cut short before it
//! reached an output (the tail of a long line kept elsewhere may start inside a token), encoded
//! (base64, URL-encoding, hex) or otherwise transformed, a short value, a token of a shape not
//! listed, and a secret inside a JSON key that looks like a field name (`input_tokens`). The handoff
//! snapshot kept to restore the user's handoff byte for byte is not redacted: it is the user's
//! own file, restored exactly.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use regex::Regex;

/// The shortest environment value redacted: shorter ones are too likely to be ordinary words
/// or numbers, and too short to be a credential worth the name.
pub(crate) const MIN_SECRET_CHARS: usize = 8;

/// How every marker starts.
pub(crate) const MARKER_PREFIX: &str = "[REDACTED";

/// Name suffixes whose values are settings, not secrets, even under a secret-looking prefix
/// (`ANTHROPIC_MODEL`, `AWS_REGION`, `AWS_PROFILE`): redacting `production` or a model name
/// everywhere would garble the output and protect nothing.
const SETTING_SUFFIXES: &[&str] = &["_MODEL", "_REGION", "_PROFILE"];

/// One token shape.
struct Shape {
    /// Marker label: `[REDACTED:<label>]`.
    label: &'static str,
    pattern: &'static str,
    /// The token must hold a digit: keeps `sk-learn-compatible-estimators` readable.
    needs_digit: bool,
}

/// Most specific first: the first alternative that matches at a position wins.
const SHAPES: &[Shape] = &[
    Shape {
        label: "private-key",
        pattern: r"-----BEGIN[A-Z0-9 ]* PRIVATE KEY-----(?s:.*?)(?:-----END[A-Z0-9 ]* PRIVATE KEY-----|\z)",
        needs_digit: false,
    },
    Shape {
        label: "anthropic-key",
        pattern: r"sk-ant-[A-Za-z0-9_-]{16,}",
        needs_digit: false,
    },
    Shape {
        label: "openai-key",
        pattern: r"sk-[A-Za-z0-9_-]{20,}",
        needs_digit: true,
    },
    Shape {
        label: "github-token",
        pattern: r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}",
        needs_digit: false,
    },
    Shape {
        label: "slack-token",
        pattern: r"xox[abposr]-[A-Za-z0-9-]{10,}",
        needs_digit: false,
    },
    Shape {
        label: "aws-key-id",
        pattern: r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
        needs_digit: false,
    },
    Shape {
        label: "gitlab-token",
        pattern: r"glpat-[A-Za-z0-9_-]{20,}",
        needs_digit: false,
    },
    Shape {
        label: "npm-token",
        pattern: r"npm_[A-Za-z0-9]{36}",
        needs_digit: false,
    },
    Shape {
        label: "google-api-key",
        pattern: r"AIza[0-9A-Za-z_-]{35}",
        needs_digit: false,
    },
    Shape {
        label: "stripe-key",
        pattern: r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
        needs_digit: false,
    },
];

/// All shapes in one regex, one capture group each, in [`SHAPES`] order.
static SHAPE_REGEX: LazyLock<Regex> = LazyLock::new(|| {
    let alternation: Vec<String> = SHAPES.iter().map(|s| format!("({})", s.pattern)).collect();
    Regex::new(&alternation.join("|")).expect("the token shapes are valid regexes")
});

/// One literal to replace, and its marker.
#[derive(Debug, Clone)]
struct Needle {
    text: String,
    marker: String,
}

/// The redactor of one process: secret values (from the environment and configuration) and
/// the token shapes. [`Redactor::default`] knows no values, only the shapes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Redactor {
    /// Longest first, so that a value containing another is replaced whole.
    needles: Vec<Needle>,
    /// The JSON-escaped forms of the needles that escaping changes (quotes, backslashes,
    /// control characters): what to look for in JSON text before decoding it.
    escaped: Vec<String>,
}

impl Redactor {
    /// A redactor for the secret-looking variables among `vars` (`is_secret_name` decides which
    /// names are) and the `extra_values` the user listed.
    pub(crate) fn from_vars<I>(
        vars: I,
        is_secret_name: impl Fn(&str) -> bool,
        extra_values: &[String],
    ) -> Redactor
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut needles: Vec<Needle> = Vec::new();
        let mut add = |text: &str, marker: &str, min: usize| {
            let text = text.trim();
            if text.chars().count() >= min.max(1) && !needles.iter().any(|n| n.text == text) {
                needles.push(Needle {
                    text: text.to_string(),
                    marker: marker.to_string(),
                });
            }
        };
        for (name, value) in vars {
            let upper = name.to_ascii_uppercase();
            if !is_secret_name(&name) || SETTING_SUFFIXES.iter().any(|s| upper.ends_with(s)) {
                continue;
            }
            let marker = format!("{MARKER_PREFIX}:{name}]");
            add(&value, &marker, MIN_SECRET_CHARS);
            for line in value.lines() {
                add(line, &marker, MIN_SECRET_CHARS);
            }
        }
        for value in extra_values {
            add(value, &format!("{MARKER_PREFIX}]"), 1);
        }
        // A value that is part of a marker would be redacted again on every pass.
        let markers: Vec<String> = needles
            .iter()
            .map(|n| n.marker.clone())
            .chain(
                SHAPES
                    .iter()
                    .map(|s| format!("{MARKER_PREFIX}:{}]", s.label)),
            )
            .collect();
        needles.retain(|needle| {
            !needle.text.contains(MARKER_PREFIX)
                && !markers.iter().any(|m| m.contains(needle.text.as_str()))
        });
        needles.sort_by_key(|n| std::cmp::Reverse(n.text.len()));
        let escaped = needles
            .iter()
            .map(|n| json_escape(&n.text))
            .filter(|e| needles.iter().all(|n| &n.text != e))
            .collect();
        Redactor { needles, escaped }
    }

    /// [`Redactor::from_vars`] over this process's environment (variables whose name or value
    /// is not UTF-8 are skipped: nothing prints them as text).
    pub(crate) fn from_env(
        is_secret_name: impl Fn(&str) -> bool,
        extra_values: &[String],
    ) -> Redactor {
        let vars = std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        });
        Redactor::from_vars(vars, is_secret_name, extra_values)
    }

    /// How many literal values it redacts (for the debug log; never the values).
    pub(crate) fn value_count(&self) -> usize {
        self.needles.len()
    }

    /// `text` with every secret value and token replaced by its marker.
    pub(crate) fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for needle in &self.needles {
            if out.contains(needle.text.as_str()) {
                out = Cow::Owned(out.replace(needle.text.as_str(), &needle.marker));
            }
        }
        match redact_shapes(&out) {
            Some(redacted) => Cow::Owned(redacted),
            None => out,
        }
    }

    /// JSON `text` (one document, a line of JSON lines, or pretty-printed) with every string
    /// redacted as [`Redactor::text`] would, decoded first so that escapes neither hide a
    /// secret nor get cut, and encoded again: the result is valid JSON whenever the input was.
    /// Object keys that are field names (`input_tokens`) are kept, so that what is read back
    /// (`state.json`) keeps its shape whatever a value happens to contain; other keys (task IDs,
    /// session ids) are redacted as values. Text outside strings is redacted as plain text, so
    /// that what is not JSON after all is still covered.
    pub(crate) fn json<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let suspect = SHAPE_REGEX.is_match(text)
            || self.needles.iter().any(|n| text.contains(n.text.as_str()))
            || self.escaped.iter().any(|e| text.contains(e.as_str()));
        if !suspect {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('"') {
            out.push_str(&self.text(&rest[..start]));
            let literal_len = string_literal_len(&rest[start..]);
            let Some(len) = literal_len else {
                // An unterminated string: not JSON we wrote; plain text from here on.
                out.push_str(&self.text(&rest[start..]));
                return Cow::Owned(out);
            };
            let literal = &rest[start..start + len];
            let after = &rest[start + len..];
            if after.trim_start().starts_with(':') && is_field_name(&literal[1..len - 1]) {
                out.push_str(literal);
            } else {
                out.push_str(&self.literal(literal));
            }
            rest = after;
        }
        out.push_str(&self.text(rest));
        Cow::Owned(out)
    }

    /// One JSON string literal (quotes included), redacted.
    fn literal<'a>(&self, literal: &'a str) -> Cow<'a, str> {
        let inner = &literal[1..literal.len() - 1];
        if !inner.contains('\\') {
            return match self.text(inner) {
                Cow::Borrowed(_) => Cow::Borrowed(literal),
                Cow::Owned(redacted) => Cow::Owned(json_escape_quoted(&redacted)),
            };
        }
        match serde_json::from_str::<String>(literal) {
            Ok(decoded) => match self.text(&decoded) {
                Cow::Borrowed(_) => Cow::Borrowed(literal),
                Cow::Owned(redacted) => Cow::Owned(json_escape_quoted(&redacted)),
            },
            // Not a valid literal: redact it as it stands.
            Err(_) => self.text(literal),
        }
    }
}

/// Whether a key is a field name of ours: lowercase words joined by `_`.
fn is_field_name(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The length in bytes of the JSON string literal at the start of `text` (which starts with
/// `"`), closing quote included; `None` when it does not end.
fn string_literal_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// `text` as inside a JSON string, without the quotes.
fn json_escape(text: &str) -> String {
    let quoted = json_escape_quoted(text);
    quoted[1..quoted.len() - 1].to_string()
}

fn json_escape_quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// `text` with every token shape replaced, or `None` when it holds none.
fn redact_shapes(text: &str) -> Option<String> {
    if !SHAPE_REGEX.is_match(text) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for caps in SHAPE_REGEX.captures_iter(text) {
        let whole = caps.get(0).expect("a match has group 0");
        let Some(shape) = SHAPES
            .iter()
            .enumerate()
            .find_map(|(i, shape)| caps.get(i + 1).map(|_| shape))
        else {
            continue;
        };
        if !is_token(text, whole.start(), whole.end(), shape) {
            continue;
        }
        out.push_str(&text[last..whole.start()]);
        out.push_str(MARKER_PREFIX);
        out.push(':');
        out.push_str(shape.label);
        out.push(']');
        last = whole.end();
    }
    if last == 0 {
        return None;
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// Whether the match `start..end` is a whole token: not the middle of a longer word
/// (`task-…` holds `sk-…`), and with a digit when its shape needs one.
fn is_token(text: &str, start: usize, end: usize, shape: &Shape) -> bool {
    if shape.label == "private-key" {
        return true;
    }
    let alnum_before = text[..start]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let alnum_after = text[end..]
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let digit = !shape.needs_digit || text[start..end].bytes().any(|b| b.is_ascii_digit());
    !alnum_before && !alnum_after && digit
}

/// The redactor of this process; none is installed before the command line is read.
static CURRENT: RwLock<Option<Arc<Redactor>>> = RwLock::new(None);

/// Makes `redactor` the one every output uses from now on.
pub(crate) fn install(redactor: Redactor) {
    *CURRENT.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(redactor));
}

/// The installed redactor, or one that knows the token shapes only.
pub(crate) fn current() -> Arc<Redactor> {
    CURRENT
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .unwrap_or_default()
}

/// `text` redacted by the [`current`] redactor.
pub(crate) fn text(text: &str) -> Cow<'_, str> {
    current().text(text)
}

/// JSON `text` redacted by the [`current`] redactor.
pub(crate) fn json(text: &str) -> Cow<'_, str> {
    current().json(text)
}

/// Bytes kept for a person to read (a handoff set aside), redacted as text; bytes that are not
/// UTF-8 are redacted as their lossy text.
pub(crate) fn bytes(bytes: &[u8]) -> Cow<'_, [u8]> {
    let redactor = current();
    match std::str::from_utf8(bytes) {
        Ok(text) => match redactor.text(text) {
            Cow::Borrowed(_) => Cow::Borrowed(bytes),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        },
        Err(_) => Cow::Owned(
            redactor
                .text(&String::from_utf8_lossy(bytes))
                .into_owned()
                .into_bytes(),
        ),
    }
}

/// A writer that redacts what goes through it, a line at a time: complete lines are redacted
/// and passed on as they come, the last partial line on `flush` or when dropped. `json` lines
/// are redacted as JSON.
pub(crate) struct RedactingWriter<W: Write> {
    inner: W,
    pending: Vec<u8>,
    json: bool,
    redactor: Arc<Redactor>,
}

impl<W: Write> RedactingWriter<W> {
    pub(crate) fn new(inner: W, json: bool) -> RedactingWriter<W> {
        RedactingWriter {
            inner,
            pending: Vec::new(),
            json,
            redactor: current(),
        }
    }

    fn write_redacted(&mut self, upto: usize) -> io::Result<()> {
        let chunk: Vec<u8> = self.pending.drain(..upto).collect();
        match std::str::from_utf8(&chunk) {
            Ok(text) if self.json => self.inner.write_all(self.redactor.json(text).as_bytes()),
            Ok(text) => self.inner.write_all(self.redactor.text(text).as_bytes()),
            Err(_) => {
                let lossy = String::from_utf8_lossy(&chunk);
                self.inner.write_all(self.redactor.text(&lossy).as_bytes())
            }
        }
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(last) = memchr::memrchr(b'\n', &self.pending) {
            self.write_redacted(last + 1)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.write_redacted(self.pending.len())?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        self.flush().ok();
    }
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
