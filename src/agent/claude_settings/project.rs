//! The project's own Claude Code allow rules, which the CLI adds to kmilestone's in every mode
//! but bypass; the run header counts them so that a permissive project file is not a surprise.

use std::path::Path;

use serde_json::Value;

/// The project settings files the CLI reads, relative to the repository.
const PROJECT_FILES: &[&str] = &[".claude/settings.json", ".claude/settings.local.json"];

/// The allow rules of one project settings file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRules {
    /// Relative to the repository: `.claude/settings.local.json`.
    pub file: &'static str,
    /// The number of `permissions.allow` entries, or why they could not be counted.
    pub allow: Result<usize, String>,
}

/// The number of `permissions.allow` entries in a settings document (0 when there is none).
pub fn count_allow_rules(text: &str) -> Result<usize, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    match &value["permissions"]["allow"] {
        Value::Null => Ok(0),
        Value::Array(rules) => Ok(rules.len()),
        _ => Err("permissions.allow is not a list".to_string()),
    }
}

/// The project settings files present in `repo`, with their allow rules counted.
pub fn project_allow_rules(repo: &Path) -> Vec<ProjectRules> {
    PROJECT_FILES
        .iter()
        .filter_map(|file| {
            let text = match std::fs::read_to_string(repo.join(file)) {
                Ok(text) => text,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
                Err(err) => {
                    return Some(ProjectRules {
                        file,
                        allow: Err(err.to_string()),
                    });
                }
            };
            Some(ProjectRules {
                file,
                allow: count_allow_rules(&text),
            })
        })
        .collect()
}

/// Header lines: `+ 45 allow rules from .claude/settings.local.json`; files without rules say
/// nothing.
pub fn describe_project_rules(rules: &[ProjectRules]) -> Vec<String> {
    rules
        .iter()
        .filter_map(|r| match &r.allow {
            Ok(0) => None,
            Ok(1) => Some(format!("+ 1 allow rule from {}", r.file)),
            Ok(n) => Some(format!("+ {n} allow rules from {}", r.file)),
            Err(why) => Some(format!("? allow rules of {} not counted: {why}", r.file)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_allow_list() {
        let text = r#"{"permissions":{"allow":["Bash(npm test:*)","WebFetch","Read"],"deny":["Bash(rm:*)"]}}"#;
        assert_eq!(count_allow_rules(text), Ok(3));
        assert_eq!(count_allow_rules(r#"{"model":"x"}"#), Ok(0));
        assert!(count_allow_rules(r#"{"permissions":{"allow":"Bash"}}"#).is_err());
        assert!(
            count_allow_rules("{not json")
                .unwrap_err()
                .starts_with("not valid JSON")
        );
    }

    #[test]
    fn reads_both_project_files_and_describes_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".claude")).unwrap();
        let allow: Vec<String> = (0..45).map(|i| format!("\"Bash(tool{i}:*)\"")).collect();
        std::fs::write(
            dir.path().join(".claude/settings.local.json"),
            format!(r#"{{"permissions":{{"allow":[{}]}}}}"#, allow.join(",")),
        )
        .unwrap();
        std::fs::write(
            dir.path().join(".claude/settings.json"),
            r#"{"permissions":{"allow":["Read"]}}"#,
        )
        .unwrap();
        let rules = project_allow_rules(dir.path());
        assert_eq!(
            describe_project_rules(&rules),
            [
                "+ 1 allow rule from .claude/settings.json",
                "+ 45 allow rules from .claude/settings.local.json"
            ]
        );
    }

    #[test]
    fn absent_and_empty_files_say_nothing_and_broken_ones_say_so() {
        let dir = tempfile::tempdir().unwrap();
        assert!(project_allow_rules(dir.path()).is_empty());
        std::fs::create_dir(dir.path().join(".claude")).unwrap();
        std::fs::write(dir.path().join(".claude/settings.json"), "{}").unwrap();
        std::fs::write(dir.path().join(".claude/settings.local.json"), "{").unwrap();
        let lines = describe_project_rules(&project_allow_rules(dir.path()));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with(
                "? allow rules of .claude/settings.local.json not counted: not valid JSON"
            ),
            "{lines:?}"
        );
    }
}
