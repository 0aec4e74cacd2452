//! The files a plan's front matter names (`design: ../DESIGN.md`), found on disk the way authors
//! write them: relative to the plan file (93 of 178 real plans), else from the repository root
//! (68 of them), so that the agent can be handed repository-relative paths that exist.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::plan::tasks::Warning;

/// A path named in the plan's front matter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    /// The front-matter key (`design`, `architecture`).
    pub key: String,
    /// The value as written (`../DESIGN.md`).
    pub value: String,
    /// 1-based line of the key in the plan.
    pub line: usize,
    /// The file found, relative to the repository root (`docs/feature/DESIGN.md`); absolute when
    /// it lies outside the repository or no repository holds the plan. `None` when the value
    /// names nothing that exists, relative to the plan or to the root.
    pub resolved: Option<PathBuf>,
}

/// The repository holding `start`: the nearest folder at or above it with a `.git` entry (a
/// folder, or a file in worktrees and submodules). No git command is run.
pub fn repository_root(start: &Path) -> Option<PathBuf> {
    let start = start.canonicalize().ok()?;
    start
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
}

/// Whether a front-matter value names a file: it has a folder separator or a file extension
/// (`DESIGN.md`), and is no URL. `title: Worker Settings` or `version: 1.2` are not paths.
fn looks_like_path(value: &str) -> bool {
    if value.is_empty() || value.contains("://") {
        return false;
    }
    let has_extension = Path::new(value)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.starts_with(|c: char| c.is_ascii_alphabetic()));
    value.contains(['/', '\\']) || has_extension
}

/// `a/b/../c` → `a/c`, without touching the disk (the path may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // Above the root is the root.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    out
}

/// `path` relative to `root` when it lies inside it, else as it is.
fn relative_to(path: &Path, root: Option<&Path>) -> PathBuf {
    root.and_then(|root| path.strip_prefix(root).ok())
        .map_or_else(|| path.to_path_buf(), Path::to_path_buf)
}

/// Resolves the path-like `entries` (line, key, value) of the front matter of the plan at
/// `plan_path`, with a warning for each that exists nowhere.
pub(crate) fn resolve(
    plan_path: &Path,
    entries: &[(usize, String, String)],
) -> (Vec<Reference>, Vec<Warning>) {
    let given_dir = match plan_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let plan_dir = given_dir
        .canonicalize()
        .unwrap_or_else(|_| given_dir.clone());
    let root = repository_root(&plan_dir);
    let mut references = Vec::new();
    let mut warnings = Vec::new();
    for (line, key, value) in entries {
        let value = value.trim_matches('`');
        if !looks_like_path(value) {
            continue;
        }
        let beside_plan = plan_dir.join(value);
        let candidates = [
            Some(beside_plan.clone()),
            root.as_ref().map(|r| r.join(value)),
        ];
        let found = candidates
            .iter()
            .flatten()
            .find(|candidate| candidate.exists())
            .map(|found| {
                let found = found.canonicalize().unwrap_or_else(|_| normalize(found));
                relative_to(&found, root.as_deref())
            });
        if found.is_none() {
            // Shown from the repository root, or else as the plan's path was given.
            let beside = match &root {
                Some(root) => relative_to(&normalize(&beside_plan), Some(root)),
                None => normalize(&given_dir.join(value)),
            };
            let message = match &root {
                Some(_) => format!(
                    "front matter `{key}: {value}` names a file that exists neither relative to the plan ({}) nor from the repository root ({})",
                    beside.display(),
                    normalize(Path::new(value)).display()
                ),
                None => format!(
                    "front matter `{key}: {value}` names a file that does not exist relative to the plan ({}), and no repository root (a folder holding .git) is above the plan",
                    beside.display()
                ),
            };
            warnings.push(Warning {
                line: *line,
                message,
            });
        }
        references.push(Reference {
            key: key.clone(),
            value: value.to_string(),
            line: *line,
            resolved: found,
        });
    }
    (references, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_like_values() {
        for value in [
            "../DESIGN.md",
            "docs/a",
            "DESIGN.md",
            "docs\\win.md",
            "/abs/x",
        ] {
            assert!(looks_like_path(value), "{value}");
        }
        for value in [
            "",
            "Worker Settings",
            "1.2",
            "https://example.com/a.md",
            "M4",
        ] {
            assert!(!looks_like_path(value), "{value}");
        }
    }

    #[test]
    fn normalize_folds_parent_components() {
        assert_eq!(normalize(Path::new("a/b/../c")), PathBuf::from("a/c"));
        assert_eq!(normalize(Path::new("./a/./b")), PathBuf::from("a/b"));
        assert_eq!(normalize(Path::new("../a")), PathBuf::from("../a"));
        assert_eq!(normalize(Path::new("/r/a/../../..")), PathBuf::from("/"));
    }

    /// A repository with a plan in `docs/feature/implementation/` and the files it may name.
    fn repository(git_is_a_file: bool) -> (tempfile::TempDir, PathBuf) {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path();
        if git_is_a_file {
            std::fs::write(root.join(".git"), "gitdir: /elsewhere\n").unwrap();
        } else {
            std::fs::create_dir(root.join(".git")).unwrap();
        }
        std::fs::create_dir_all(root.join("docs/feature/implementation")).unwrap();
        std::fs::write(root.join("docs/feature/DESIGN.md"), "# D\n").unwrap();
        std::fs::write(root.join("docs/feature/implementation/NOTES.md"), "").unwrap();
        std::fs::write(root.join("ARCHITECTURE.md"), "# A\n").unwrap();
        let plan = root.join("docs/feature/implementation/M1_x.md");
        std::fs::write(&plan, "").unwrap();
        (repo, plan)
    }

    fn entry(line: usize, key: &str, value: &str) -> (usize, String, String) {
        (line, key.to_string(), value.to_string())
    }

    #[test]
    fn resolved_relative_to_the_plan_then_the_root() {
        for git_is_a_file in [false, true] {
            let (_repo, plan) = repository(git_is_a_file);
            let entries = [
                entry(2, "design", "../DESIGN.md"),
                entry(3, "architecture", "ARCHITECTURE.md"),
                entry(4, "notes", "`NOTES.md`"),
                entry(5, "root_design", "docs/feature/DESIGN.md"),
                entry(6, "validation", "../VALIDATION.md"),
                entry(7, "title", "Worker Settings"),
            ];
            let (references, warnings) = resolve(&plan, &entries);
            let got: Vec<_> = references
                .iter()
                .map(|r| {
                    (
                        r.line,
                        r.key.as_str(),
                        r.value.as_str(),
                        r.resolved
                            .as_ref()
                            .map(|p| p.to_string_lossy().into_owned()),
                    )
                })
                .collect();
            let some = |p: &str| Some(p.to_string());
            assert_eq!(
                got,
                vec![
                    (2, "design", "../DESIGN.md", some("docs/feature/DESIGN.md")),
                    (
                        3,
                        "architecture",
                        "ARCHITECTURE.md",
                        some("ARCHITECTURE.md")
                    ),
                    (
                        4,
                        "notes",
                        "NOTES.md",
                        some("docs/feature/implementation/NOTES.md")
                    ),
                    (
                        5,
                        "root_design",
                        "docs/feature/DESIGN.md",
                        some("docs/feature/DESIGN.md")
                    ),
                    (6, "validation", "../VALIDATION.md", None),
                ],
                "git is a file: {git_is_a_file}"
            );
            assert_eq!(
                warnings,
                vec![Warning {
                    line: 6,
                    message: "front matter `validation: ../VALIDATION.md` names a file that exists neither relative to the plan (docs/feature/VALIDATION.md) nor from the repository root (../VALIDATION.md)".to_string()
                }]
            );
        }
    }

    #[test]
    fn without_a_repository_only_the_plan_folder_counts() {
        let dir = tempfile::tempdir().unwrap();
        // A temp folder may itself sit in a repository; this test needs one that does not.
        if repository_root(dir.path()).is_some() {
            return;
        }
        let plan = dir.path().join("M1_x.md");
        std::fs::write(&plan, "").unwrap();
        std::fs::write(dir.path().join("DESIGN.md"), "").unwrap();
        let (references, warnings) = resolve(
            &plan,
            &[
                entry(2, "design", "DESIGN.md"),
                entry(3, "arch", "docs/A.md"),
            ],
        );
        let real = dir.path().canonicalize().unwrap();
        assert_eq!(references[0].resolved, Some(real.join("DESIGN.md")));
        assert_eq!(references[1].resolved, None);
        assert_eq!(
            warnings[0].message,
            format!(
                "front matter `arch: docs/A.md` names a file that does not exist relative to the plan ({}), and no repository root (a folder holding .git) is above the plan",
                dir.path().join("docs/A.md").display()
            )
        );
    }
}
