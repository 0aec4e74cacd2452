//! Where a milestone's state lives: in the user's state directory, out of the work tree the
//! agent works in (`$XDG_STATE_HOME/kmilestone/…` or `~/.local/state/kmilestone/…` on Linux,
//! `~/Library/Application Support/kmilestone/…` on macOS), keyed by the repository's git common
//! dir (so every worktree of one repository shares it) and the milestone ID.

use std::path::{Path, PathBuf};

use etcetera::BaseStrategy;
use sha2::{Digest, Sha256};

use crate::env_vars;

/// The folder holding every repository's state, or `None` when no home directory is known.
pub(crate) fn base() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(env_vars::STATE_DIR).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let strategy = etcetera::choose_base_strategy().ok()?;
    // Only the XDG strategy has a state directory; elsewhere the data directory is the place.
    let dir = strategy.state_dir().unwrap_or_else(|| strategy.data_dir());
    Some(dir.join("kmilestone"))
}

/// The git common dir of the repository holding `start`, found without running git: the nearest
/// `.git` at or above it — a folder, or in a worktree a file naming the worktree's git dir, whose
/// `commondir` names the shared one.
pub(crate) fn git_common_dir(start: &Path) -> Option<PathBuf> {
    let start = start.canonicalize().ok()?;
    let mut dir = if start.is_dir() {
        start.as_path()
    } else {
        start.parent()?
    };
    loop {
        let dot_git = dir.join(".git");
        if dot_git.is_dir() {
            return dot_git.canonicalize().ok();
        }
        if dot_git.is_file() {
            let text = std::fs::read_to_string(&dot_git).ok()?;
            let git_dir = dir.join(text.strip_prefix("gitdir:")?.trim());
            return match std::fs::read_to_string(git_dir.join("commondir")) {
                Ok(common) => git_dir.join(common.trim()).canonicalize().ok(),
                Err(_) => git_dir.canonicalize().ok(),
            };
        }
        dir = dir.parent()?;
    }
}

/// `<repository folder name>-<12 hex digits>`: readable, and unique per git common dir.
pub(crate) fn repository_key(common_dir: &Path) -> String {
    let digest = Sha256::digest(common_dir.as_os_str().as_encoded_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let name = common_dir
        .parent()
        .filter(|_| common_dir.file_name().is_some_and(|n| n == ".git"))
        .unwrap_or(common_dir)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}-{hex}")
}

/// The state folder of `milestone` in the repository holding `start`, or `None` outside a git
/// repository or without a home directory.
pub(crate) fn milestone_dir(start: &Path, milestone: &str) -> Option<PathBuf> {
    let common = git_common_dir(start)?;
    Some(base()?.join(repository_key(&common)).join(milestone))
}

/// The hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worktrees_of_one_repository_share_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("proj");
        std::fs::create_dir_all(main.join(".git/worktrees/wt")).unwrap();
        std::fs::write(main.join(".git/worktrees/wt/commondir"), "../..\n").unwrap();
        let tree = dir.path().join("wt");
        std::fs::create_dir_all(tree.join("docs")).unwrap();
        std::fs::write(
            tree.join(".git"),
            format!("gitdir: {}\n", main.join(".git/worktrees/wt").display()),
        )
        .unwrap();
        let from_main = git_common_dir(&main).unwrap();
        let from_tree = git_common_dir(&tree.join("docs")).unwrap();
        assert_eq!(from_main, from_tree);
        let key = repository_key(&from_main);
        assert!(
            key.starts_with("proj-") && key.len() == "proj-".len() + 12,
            "{key}"
        );
        assert!(git_common_dir(Path::new("/")).is_none());
    }

    #[test]
    fn hashes_are_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
