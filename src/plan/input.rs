//! Reading the user's text files (plans, handoffs) with the limits every reader shares.

use std::path::{Path, PathBuf};

/// Plans and handoffs larger than this are refused before they are read.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Why a text input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: no such file")]
    NotFound { path: PathBuf },
    #[error("{path}: is a directory, expected a markdown file")]
    IsDirectory { path: PathBuf },
    /// A FIFO, a device or a socket: reading it could block forever or never end.
    #[error("{path}: is {what}, expected a markdown file")]
    NotRegular { path: PathBuf, what: &'static str },
    #[error("{path}: file is {size} bytes, larger than the 16 MiB limit")]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{path}:{line}: not valid UTF-8 (byte offset {offset})")]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        offset: usize,
    },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl InputError {
    /// What went wrong, without the file name (for `file:line: message` output).
    pub fn detail(&self) -> String {
        match self {
            InputError::NotFound { .. } => "no such file".to_string(),
            InputError::IsDirectory { .. } => {
                "is a directory, expected a markdown file".to_string()
            }
            InputError::NotRegular { what, .. } => format!("is {what}, expected a markdown file"),
            InputError::TooLarge { size, .. } => {
                format!("file is {size} bytes, larger than the 16 MiB limit")
            }
            InputError::NotUtf8 { offset, .. } => format!("not valid UTF-8 (byte offset {offset})"),
            InputError::Io { source, .. } => format!("cannot read: {source}"),
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            InputError::NotFound { path }
            | InputError::IsDirectory { path }
            | InputError::NotRegular { path, .. }
            | InputError::TooLarge { path, .. }
            | InputError::NotUtf8 { path, .. }
            | InputError::Io { path, .. } => path,
        }
    }
}

/// Reads a UTF-8 text file of at most [`MAX_INPUT_BYTES`].
///
/// The size is checked from the metadata before reading, and again while reading, so that a
/// file that grows (or a device that never ends) cannot make us allocate without bound.
pub fn read_text_file(path: &Path) -> Result<String, InputError> {
    use crate::files::{ReadErrorKind, read_regular};
    let path_buf = || path.to_path_buf();
    let bytes = read_regular(path, MAX_INPUT_BYTES).map_err(|err| match err.kind {
        ReadErrorKind::NotFound => InputError::NotFound { path: path_buf() },
        ReadErrorKind::NotRegular {
            what: "a directory",
        } => InputError::IsDirectory { path: path_buf() },
        ReadErrorKind::NotRegular { what } => InputError::NotRegular {
            path: path_buf(),
            what,
        },
        ReadErrorKind::TooLarge { size, .. } => InputError::TooLarge {
            path: path_buf(),
            size,
        },
        ReadErrorKind::Io(source) => InputError::Io {
            path: path_buf(),
            source,
        },
    })?;
    String::from_utf8(bytes).map_err(|err| {
        let offset = err.utf8_error().valid_up_to();
        let line = 1 + err.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        InputError::NotUtf8 {
            path: path.to_path_buf(),
            line,
            offset,
        }
    })
}

/// Maps byte offsets of a text to 1-based line numbers.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        // Handoffs reach megabytes: a vectorised newline search keeps this off the profile.
        let mut starts = Vec::with_capacity(text.len() / 32 + 1);
        starts.push(0);
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { starts }
    }

    /// The 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(index) => index + 1,
            Err(index) => index,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::*;

    #[test]
    fn line_index_maps_offsets_to_lines() {
        let index = LineIndex::new("ab\ncd\n\nef");
        assert_eq!(index.line_of(0), 1);
        assert_eq!(index.line_of(2), 1);
        assert_eq!(index.line_of(3), 2);
        assert_eq!(index.line_of(6), 3);
        assert_eq!(index.line_of(7), 4);
        assert_eq!(index.line_of(100), 4);
    }

    #[test]
    fn refuses_directories_missing_and_non_utf8() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_text_file(dir.path()),
            Err(InputError::IsDirectory { .. })
        ));
        assert!(matches!(
            read_text_file(&dir.path().join("nope.md")),
            Err(InputError::NotFound { .. })
        ));
        let bad = dir.path().join("bad.md");
        std::fs::write(&bad, b"line one\nline two \xff\n").unwrap();
        match read_text_file(&bad) {
            Err(InputError::NotUtf8 { line, offset, .. }) => {
                assert_eq!(line, 2);
                assert_eq!(offset, 18);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn refuses_files_over_the_limit_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.md");
        let file = File::create(&big).unwrap();
        // A sparse file: the size is refused from metadata, nothing is read.
        file.set_len(MAX_INPUT_BYTES + 1).unwrap();
        assert!(matches!(
            read_text_file(&big),
            Err(InputError::TooLarge { .. })
        ));
    }
}
