//! Gates detected from the project when the configuration names none: the seed's Makefile
//! targets first, then the usual test command of the project's language.

use std::path::Path;

/// Gates from the project when none are configured: the seed's Makefile targets first, then the
/// usual test command of the project's language.
pub(crate) fn detect_gates(root: &Path) -> Vec<String> {
    let makefile = ["Makefile", "makefile", "GNUmakefile"]
        .iter()
        .map(|name| root.join(name))
        .find(|path| path.is_file())
        .and_then(|path| std::fs::read_to_string(path).ok());
    if let Some(makefile) = makefile {
        let targets: Vec<String> = ["test-unit", "quality"]
            .iter()
            .filter(|target| has_make_target(&makefile, target))
            .map(|target| format!("make {target}"))
            .collect();
        if !targets.is_empty() {
            return targets;
        }
    }
    let detected = if root.join("Cargo.toml").is_file() {
        "cargo test"
    } else if root.join("go.mod").is_file() {
        "go test ./..."
    } else if root.join("package.json").is_file() {
        "npm test"
    } else if [
        "pyproject.toml",
        "pytest.ini",
        "setup.py",
        "setup.cfg",
        "tox.ini",
    ]
    .iter()
    .any(|f| root.join(f).is_file())
    {
        "pytest"
    } else {
        return Vec::new();
    };
    vec![detected.to_string()]
}

fn has_make_target(makefile: &str, target: &str) -> bool {
    makefile.lines().any(|line| {
        line.split_once(':').is_some_and(|(names, rest)| {
            !rest.starts_with('=')
                && !line.starts_with(['\t', ' ', '#'])
                && names.split_whitespace().any(|name| name == target)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makefile_targets_come_first() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();
        assert_eq!(detect_gates(dir.path()), vec!["cargo test"]);
        std::fs::write(
            dir.path().join("Makefile"),
            "VAR := 1\ntest-unit: build\n\tpytest\nquality:\n\truff check\n",
        )
        .unwrap();
        assert_eq!(
            detect_gates(dir.path()),
            vec!["make test-unit", "make quality"]
        );
    }

    #[test]
    fn variables_and_recipes_are_not_targets() {
        assert!(!has_make_target("test-unit := x\n", "test-unit"));
        assert!(!has_make_target("\techo test-unit: no\n", "test-unit"));
        assert!(has_make_target("all test-unit: dep\n", "test-unit"));
    }

    #[test]
    fn nothing_detected_in_an_empty_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(detect_gates(dir.path()).is_empty());
    }
}
