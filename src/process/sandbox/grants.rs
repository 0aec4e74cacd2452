//! Turning "everything under `root` except these paths" into the allow-list Landlock needs.
//!
//! A Landlock rule grants access to a whole hierarchy: the directory it names and everything
//! beneath it, with no way to carve a hole out of it later. To keep `/` readable while hiding
//! `~/.ssh`, the grant has to be split along the way down to each denied path: `/` is not
//! granted, but each of its entries is, except `/root` (or `/home`), which is split again, down
//! to the home directory, whose entries are all granted except `.ssh`.
//!
//! The walk never grants through a symbolic link: a link is covered by whatever covers its
//! target, since Landlock judges the path a link resolves to. Granting a link would grant its
//! target, so `~/keys -> ~/.ssh` would open the hidden folder again. Denied paths are therefore
//! given canonical (links resolved) by the caller.
//!
//! What the split cannot do: an entry created after the rules were built, in a directory that was
//! split, is covered by no rule (fail-closed: it is unreadable); and a directory reachable
//! through a second mount (a bind mount of the home directory elsewhere) is judged by the path
//! used, so a denied folder seen through another mount point is readable.

use std::path::{Path, PathBuf};

/// What a directory entry is, without following links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Dir,
    /// A regular file, or a device, socket or pipe: anything opened as a file.
    File,
    Symlink,
}

/// One hierarchy to grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grant {
    pub(crate) path: PathBuf,
    /// Landlock refuses directory-only rights (listing, creating) on a file.
    pub(crate) is_dir: bool,
}

/// Read access to the directory tree, so the walk can be tested on a fake one.
pub(crate) trait Tree {
    /// The entries of `dir`. A directory that cannot be listed has no entries to grant.
    fn entries(&self, dir: &Path) -> Vec<(PathBuf, EntryKind)>;
}

/// The real filesystem.
pub(crate) struct RealTree;

impl Tree for RealTree {
    fn entries(&self, dir: &Path) -> Vec<(PathBuf, EntryKind)> {
        let Ok(read) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut entries: Vec<(PathBuf, EntryKind)> = read
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let file_type = entry.file_type().ok()?;
                let kind = if file_type.is_symlink() {
                    EntryKind::Symlink
                } else if file_type.is_dir() {
                    EntryKind::Dir
                } else {
                    EntryKind::File
                };
                Some((entry.path(), kind))
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries
    }
}

/// The hierarchies that together cover `root` except every path of `denied` (absolute,
/// canonical). `root` itself is granted whole when no denied path lies strictly beneath it, and
/// not at all when it is denied or lies beneath a denied path.
pub(crate) fn cover_except(
    root: &Path,
    root_is_dir: bool,
    denied: &[PathBuf],
    tree: &dyn Tree,
) -> Vec<Grant> {
    let mut grants = Vec::new();
    cover_into(root, root_is_dir, denied, tree, &mut grants);
    grants
}

fn cover_into(
    path: &Path,
    is_dir: bool,
    denied: &[PathBuf],
    tree: &dyn Tree,
    grants: &mut Vec<Grant>,
) {
    if denied.iter().any(|hidden| path.starts_with(hidden)) {
        return;
    }
    let splits = is_dir
        && denied
            .iter()
            .any(|hidden| hidden != path && hidden.starts_with(path));
    if !splits {
        grants.push(Grant {
            path: path.to_path_buf(),
            is_dir,
        });
        return;
    }
    for (entry, kind) in tree.entries(path) {
        match kind {
            EntryKind::Dir => cover_into(&entry, true, denied, tree, grants),
            EntryKind::File => cover_into(&entry, false, denied, tree, grants),
            EntryKind::Symlink => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A fake tree: each directory with its entries.
    struct FakeTree(BTreeMap<PathBuf, Vec<(PathBuf, EntryKind)>>);

    impl FakeTree {
        fn new(dirs: &[(&str, &[(&str, EntryKind)])]) -> Self {
            let map = dirs
                .iter()
                .map(|(dir, entries)| {
                    let entries = entries
                        .iter()
                        .map(|(name, kind)| (Path::new(dir).join(name), *kind))
                        .collect();
                    (PathBuf::from(dir), entries)
                })
                .collect();
            Self(map)
        }
    }

    impl Tree for FakeTree {
        fn entries(&self, dir: &Path) -> Vec<(PathBuf, EntryKind)> {
            self.0.get(dir).cloned().unwrap_or_default()
        }
    }

    use EntryKind::{Dir, File, Symlink};

    fn tree() -> FakeTree {
        FakeTree::new(&[
            (
                "/",
                &[
                    ("usr", Dir),
                    ("bin", Symlink),
                    ("etc", Dir),
                    ("home", Dir),
                    ("vmlinuz", File),
                ],
            ),
            ("/home", &[("ann", Dir), ("bob", Dir)]),
            (
                "/home/ann",
                &[
                    (".ssh", Dir),
                    (".config", Dir),
                    (".bashrc", File),
                    ("keys", Symlink),
                    ("src", Dir),
                ],
            ),
            ("/home/ann/.config", &[("gh", Dir), ("git", Dir)]),
        ])
    }

    fn paths(grants: &[Grant]) -> Vec<(&str, bool)> {
        grants
            .iter()
            .map(|grant| (grant.path.to_str().unwrap(), grant.is_dir))
            .collect()
    }

    #[test]
    fn nothing_denied_grants_the_root_whole() {
        let grants = cover_except(Path::new("/"), true, &[], &tree());
        assert_eq!(paths(&grants), [("/", true)]);
    }

    #[test]
    fn denied_paths_split_their_ancestors_down_to_them() {
        let denied = [
            PathBuf::from("/home/ann/.ssh"),
            PathBuf::from("/home/ann/.config/gh"),
        ];
        let grants = cover_except(Path::new("/"), true, &denied, &tree());
        assert_eq!(
            paths(&grants),
            [
                ("/usr", true),
                ("/etc", true),
                ("/home/ann/.config/git", true),
                ("/home/ann/.bashrc", false),
                ("/home/ann/src", true),
                ("/home/bob", true),
                ("/vmlinuz", false),
            ],
            "links (/bin, ~/keys) are never granted, denied paths never appear"
        );
    }

    #[test]
    fn a_root_inside_a_denied_path_gets_nothing() {
        let denied = [PathBuf::from("/home/ann")];
        assert!(cover_except(Path::new("/home/ann/src"), true, &denied, &tree()).is_empty());
        assert!(cover_except(Path::new("/home/ann"), true, &denied, &tree()).is_empty());
    }

    #[test]
    fn a_denied_path_elsewhere_does_not_split_the_root() {
        let denied = [PathBuf::from("/home/ann/.ssh")];
        let grants = cover_except(Path::new("/home/bob"), true, &denied, &tree());
        assert_eq!(paths(&grants), [("/home/bob", true)]);
        // A sibling whose name merely starts the same is not beneath the denied path.
        let denied = [PathBuf::from("/home/an")];
        let grants = cover_except(Path::new("/home/ann"), true, &denied, &tree());
        assert_eq!(paths(&grants), [("/home/ann", true)]);
    }

    #[test]
    fn a_file_root_is_granted_as_a_file() {
        let grants = cover_except(Path::new("/dev/null"), false, &[], &tree());
        assert_eq!(paths(&grants), [("/dev/null", false)]);
    }

    #[test]
    fn real_tree_lists_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("f"), "").unwrap();
        std::os::unix::fs::symlink(dir.path().join("d"), dir.path().join("l")).unwrap();
        let entries = RealTree.entries(dir.path());
        assert_eq!(
            entries,
            [
                (dir.path().join("d"), Dir),
                (dir.path().join("f"), File),
                (dir.path().join("l"), Symlink),
            ]
        );
        assert!(RealTree.entries(&dir.path().join("missing")).is_empty());
    }
}
