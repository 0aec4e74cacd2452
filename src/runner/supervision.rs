//! The files that govern the agent and the checks — kmilestone's configuration, Claude Code's
//! project settings and hooks, git's hooks, the parts of `.git/config` and `.gitattributes` that
//! make git run programs — taken as a fingerprint. A task that changes one fails verification;
//! a later run refuses configuration a task wrote until the user accepts or reverts it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::state::sha256_hex;

/// `.git/config` keys through which git runs a program or loads more config.
const GIT_CONFIG_KEYS: &[&str] = &[
    "core.fsmonitor",
    "core.hookspath",
    "core.sshcommand",
    "core.pager",
    "core.editor",
    "core.askpass",
    "core.attributesfile",
    "core.gitproxy",
    "sequence.editor",
    "diff.external",
    "gpg.program",
    "credential.helper",
];

/// `.git/config` key prefixes with the same power (per-driver and per-alias settings).
const GIT_CONFIG_PREFIXES: &[&str] = &[
    "alias.",
    "filter.",
    "diff.",
    "merge.",
    "include",
    "gpg.",
    "credential.",
    "url.",
];

/// `remote.<name>.*` keys that name a program.
const REMOTE_PROGRAM_KEYS: &[&str] = &[".uploadpack", ".receivepack", ".vcs", ".proxy"];

/// Whether a `.git/config` key (`section.subsection.key`, lower case) can make git run a program
/// or read more configuration.
fn runs_programs(key: &str) -> bool {
    if key.starts_with("remote.") {
        return REMOTE_PROGRAM_KEYS.iter().any(|k| key.ends_with(k));
    }
    GIT_CONFIG_KEYS.contains(&key) || GIT_CONFIG_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Fingerprints of the supervised files, by path relative to the repository root: the file's
/// hash, or `None` when it does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Supervision {
    pub(crate) files: BTreeMap<String, Option<String>>,
}

impl Supervision {
    /// The fingerprint now. `config` is the configuration file the run reads when it is not the
    /// repository's `kmilestone.toml`.
    pub(crate) fn take(root: &Path, config: Option<&Path>) -> Supervision {
        let mut files = BTreeMap::new();
        let mut add = |name: String, path: &Path| {
            let hash = std::fs::read(path).ok().map(|b| sha256_hex(&b));
            files.insert(name, hash);
        };
        let in_root = root.join("kmilestone.toml");
        add("kmilestone.toml".to_string(), &in_root);
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        if let Some(config) = config.filter(|c| !same(c, &in_root)) {
            let name = config.strip_prefix(root).unwrap_or(config);
            add(name.display().to_string(), config);
        }
        for name in [
            ".claude/settings.json",
            ".claude/settings.local.json",
            ".gitattributes",
            ".git/info/attributes",
        ] {
            add(name.to_string(), &root.join(name));
        }
        for dir in [".claude/hooks", ".git/hooks"] {
            for file in files_under(&root.join(dir)) {
                let name = file
                    .strip_prefix(root)
                    .unwrap_or(&file)
                    .display()
                    .to_string();
                add(name, &file);
            }
        }
        let git_config = git_config_powers(&root.join(".git/config"));
        files.insert(
            ".git/config".to_string(),
            (!git_config.is_empty()).then(|| sha256_hex(git_config.as_bytes())),
        );
        Supervision { files }
    }

    /// The supervised files that differ from `before`.
    pub(crate) fn changed_since(&self, before: &Supervision) -> Vec<String> {
        let names: std::collections::BTreeSet<&String> =
            self.files.keys().chain(before.files.keys()).collect();
        names
            .into_iter()
            .filter(|name| {
                self.files.get(*name).cloned().flatten()
                    != before.files.get(*name).cloned().flatten()
            })
            .cloned()
            .collect()
    }
}

/// Every file under `dir` (sample hooks included: a renamed sample is a new hook).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => found.extend(files_under(&path)),
            Ok(_) => found.push(path),
            Err(_) => {}
        }
    }
    found.sort();
    found
}

/// The lines of a git config file that can make git run a program, normalised (`section.key =
/// value`, sorted), so that ordinary changes (a new branch's upstream) do not count.
fn git_config_powers(path: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let mut section = String::new();
    let mut lines = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.split_once(']')) {
            // `[filter "x"]` → `filter.x`; `[core]` → `core`.
            section = header
                .0
                .split_whitespace()
                .map(|part| part.trim_matches('"'))
                .collect::<Vec<_>>()
                .join(".")
                .to_ascii_lowercase();
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, "true"));
        let key = format!("{section}.{}", key.trim().to_ascii_lowercase());
        if runs_programs(&key) {
            lines.push(format!("{key} = {}", value.trim()));
        }
    }
    lines.sort();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_setting_or_hook_is_seen_and_an_ordinary_git_change_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".git/hooks")).unwrap();
        std::fs::write(root.join(".git/config"), "[core]\n\tbare = false\n").unwrap();
        std::fs::write(
            root.join("kmilestone.toml"),
            "[gates]\ncommands = [\"make test\"]\n",
        )
        .unwrap();
        let before = Supervision::take(root, None);
        assert!(
            Supervision::take(root, None)
                .changed_since(&before)
                .is_empty()
        );

        std::fs::write(
            root.join(".git/config"),
            "[core]\n\tbare = false\n[branch \"main\"]\n\tremote = origin\n",
        )
        .unwrap();
        assert!(
            Supervision::take(root, None)
                .changed_since(&before)
                .is_empty(),
            "a branch's upstream is not supervision"
        );

        std::fs::write(
            root.join(".git/config"),
            "[core]\n\tfsmonitor = touch /tmp/x\n",
        )
        .unwrap();
        std::fs::write(
            root.join("kmilestone.toml"),
            "[gates]\ncommands = [\"true\"]\n",
        )
        .unwrap();
        std::fs::write(root.join(".git/hooks/post-checkout"), "#!/bin/sh\n").unwrap();
        std::fs::create_dir_all(root.join(".claude")).unwrap();
        std::fs::write(root.join(".claude/settings.json"), "{}").unwrap();
        std::fs::write(root.join(".gitattributes"), "* filter=evil\n").unwrap();
        assert_eq!(
            Supervision::take(root, None).changed_since(&before),
            vec![
                ".claude/settings.json",
                ".git/config",
                ".git/hooks/post-checkout",
                ".gitattributes",
                "kmilestone.toml",
            ]
        );
    }

    #[test]
    fn git_config_lines_that_run_programs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "[core]\n\trepositoryformatversion = 0\n\tsshCommand = evil\n[alias]\n\tx = !rm -rf /\n[filter \"lfs\"]\n\tclean = git-lfs clean\n[branch \"main\"]\n\tremote = origin\n[remote \"origin\"]\n\turl = git@h:r\n\tuploadpack = evil\n",
        )
        .unwrap();
        assert_eq!(
            git_config_powers(&path),
            "alias.x = !rm -rf /\ncore.sshcommand = evil\nfilter.lfs.clean = git-lfs clean\nremote.origin.uploadpack = evil"
        );
    }
}
