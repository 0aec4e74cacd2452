//! File helpers every layer may use.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}", path = path.display())]
pub(crate) struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// [`write_atomic`], leaving the file with permission bits `mode` (a user's file put back keeps
/// its mode; kmilestone's own files are private).
pub(crate) fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), WriteError> {
    use std::os::unix::fs::PermissionsExt;
    write_atomic(path, bytes)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| {
        WriteError {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// The permission bits of the file at `path` (following links), if there is one.
pub(crate) fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.permissions().mode() & 0o7777)
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new file, never a torn
/// one. A new file is private (0600).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let failed = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    temp.write_all(bytes).map_err(failed)?;
    temp.as_file().sync_all().map_err(failed)?;
    temp.persist(path).map_err(|err| failed(err.error))?;
    if let Ok(dir) = File::open(dir) {
        // Makes the rename itself durable.
        dir.sync_all().ok();
    }
    Ok(())
}

/// The most of `state.json` read; a bigger file is not ours.
pub(crate) const MAX_STATE_BYTES: u64 = 64 * 1024 * 1024;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {kind}", path = path.display())]
pub struct ReadError {
    pub path: PathBuf,
    pub kind: ReadErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadErrorKind {
    #[error("no such file")]
    NotFound,
    /// A FIFO, a device, a socket or a directory: reading it could block forever or never end.
    #[error("is {what}, not a regular file")]
    NotRegular { what: &'static str },
    #[error("file is {size} bytes, larger than the {limit}-byte limit")]
    TooLarge { size: u64, limit: u64 },
    #[error("cannot read: {0}")]
    Io(#[source] io::Error),
}

impl ReadError {
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self.kind, ReadErrorKind::NotFound)
    }
}

/// What a file that is not a regular one is, for messages.
pub(crate) fn kind_of(file_type: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Reads a regular file of at most `limit` bytes. It is opened without blocking (a FIFO would
/// wait for a writer forever) and checked on the open file itself, so that nothing swapped in
/// between a check and the read can make it hang or allocate without bound.
pub(crate) fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let error = |kind| ReadError {
        path: path.to_path_buf(),
        kind,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_NOCTTY).bits())
        .open(path)
        .map_err(|err| match err.kind() {
            io::ErrorKind::NotFound => error(ReadErrorKind::NotFound),
            _ => error(ReadErrorKind::Io(err)),
        })?;
    let metadata = file.metadata().map_err(|e| error(ReadErrorKind::Io(e)))?;
    if !metadata.is_file() {
        return Err(error(ReadErrorKind::NotRegular {
            what: kind_of(metadata.file_type()),
        }));
    }
    if metadata.len() > limit {
        return Err(error(ReadErrorKind::TooLarge {
            size: metadata.len(),
            limit,
        }));
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| error(ReadErrorKind::Io(e)))?;
    if bytes.len() as u64 > limit {
        return Err(error(ReadErrorKind::TooLarge {
            size: bytes.len() as u64,
            limit,
        }));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_are_read_and_never_block() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let err = read_regular(&fifo, 100).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}: is a FIFO, not a regular file", fifo.display())
        );
        let err = read_regular(dir.path(), 100).unwrap_err();
        assert!(
            err.to_string()
                .ends_with(": is a directory, not a regular file"),
            "{err}"
        );
        let err = read_regular(Path::new("/dev/zero"), 100).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/dev/zero: is a character device, not a regular file"
        );
        assert!(
            read_regular(&dir.path().join("none"), 100)
                .unwrap_err()
                .is_not_found()
        );
        let file = dir.path().join("f");
        std::fs::write(&file, "0123456789").unwrap();
        assert_eq!(read_regular(&file, 10).unwrap(), b"0123456789");
        let err = read_regular(&file, 9).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("file is 10 bytes, larger than the 9-byte limit"),
            "{err}"
        );
    }

    #[test]
    fn atomic_writes_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state.json");
        write_atomic(&file, b"{}").unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
