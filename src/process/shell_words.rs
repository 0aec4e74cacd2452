//! Whether a command line needs a shell, and its words when it does not.
//!
//! A gate is configured as one string and was always run with `sh -c`. Most are plain
//! (`cargo test --all`, `npm run lint`): running their words directly saves a process and an
//! exec per gate and gives the same result. Plain means: words separated by spaces or tabs,
//! quoted with `'…'` or `"…"` or not at all, and nothing else the shell would act on. Any
//! character that means something to `sh` somewhere (`|`, `&`, `;`, `$`, a backquote, a
//! backslash, redirections, globs, `~`, `#`, braces, `!`, a newline), a first word that assigns
//! a variable, and a first word that is a shell keyword or builtin (`cd`, `exit`, `echo`, whose
//! builtin and program differ) all leave the line to `sh`. That is stricter than the shell's
//! grammar (a `|` inside quotes is plain to `sh`); the cost of being strict is only the shell
//! process kmilestone always started.
//!
//! Inside double quotes only `$`, a backquote and a backslash are special to `sh`, and all three
//! are refused anywhere, so both kinds of quotes keep their contents as they are.

/// Characters that make `sh` do something other than split words and remove quotes.
const SHELL_CHARS: &[char] = &[
    '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '*', '?', '[', ']', '{', '}', '~', '#', '!',
    '\n', '\r',
];

/// Keywords and builtins of POSIX `sh`, dash and bash. A line starting with one goes to `sh`,
/// which knows what it means; several have a program of the same name that behaves differently
/// (`echo -e`, `test` with odd arguments, `kill %1`).
const SHELL_FIRST_WORDS: &[&str] = &[
    "!",
    ".",
    ":",
    "[",
    "[[",
    "]]",
    "{",
    "}",
    "alias",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "case",
    "cd",
    "command",
    "compgen",
    "complete",
    "compopt",
    "continue",
    "coproc",
    "declare",
    "dirs",
    "disown",
    "do",
    "done",
    "echo",
    "elif",
    "else",
    "enable",
    "esac",
    "eval",
    "exec",
    "exit",
    "export",
    "false",
    "fc",
    "fg",
    "fi",
    "for",
    "function",
    "getopts",
    "hash",
    "help",
    "history",
    "if",
    "in",
    "jobs",
    "kill",
    "let",
    "local",
    "logout",
    "mapfile",
    "newgrp",
    "popd",
    "printf",
    "pushd",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "return",
    "select",
    "set",
    "shift",
    "shopt",
    "source",
    "suspend",
    "test",
    "then",
    "time",
    "times",
    "trap",
    "true",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "until",
    "wait",
    "while",
];

/// The words of `command` when it can be run without a shell with the same result, or `None`
/// when it needs `sh -c`.
pub(crate) fn plain_words(command: &str) -> Option<Vec<String>> {
    if command.contains(SHELL_CHARS) {
        return None;
    }
    let words = split(command)?;
    let first = words.first()?;
    // `NAME=value program` sets a variable for the program; `sh` decides what is a name. A
    // program with an empty name is for `sh` to report.
    if first.is_empty() || first.contains('=') || SHELL_FIRST_WORDS.contains(&first.as_str()) {
        return None;
    }
    Some(words)
}

/// Splits a line free of [`SHELL_CHARS`] into words the way `sh` does: at unquoted blanks,
/// quotes removed, adjacent pieces joined (`a"b c"` is one word). `None` for an unclosed quote.
fn split(command: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word may be empty (`''`): whether one was started is not whether it has characters.
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' | '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        close if close == c => break,
                        inner => word.push(inner),
                    }
                }
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn words(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|word| (*word).to_owned()).collect())
    }

    #[test]
    fn plain_lines_and_their_words() {
        assert_eq!(
            plain_words("cargo test --all"),
            words(&["cargo", "test", "--all"])
        );
        assert_eq!(
            plain_words("  npm\trun  lint  "),
            words(&["npm", "run", "lint"])
        );
        assert_eq!(
            plain_words(r#"pytest -k 'slow and not net' "a b"c ''"#),
            words(&["pytest", "-k", "slow and not net", "a bc", ""])
        );
        assert_eq!(
            plain_words("go vet -tags=integration ./..."),
            words(&["go", "vet", "-tags=integration", "./..."])
        );
    }

    #[test]
    fn anything_the_shell_acts_on_goes_to_the_shell() {
        for line in [
            "cargo test | tee log",
            "make && make check",
            "make; make check",
            "make || true",
            "echo $HOME",
            "cargo test > log",
            "cargo test 2>&1",
            "sort < input",
            "ls *.rs",
            "ls file?.rs",
            "ls [ab].rs",
            "ls ~/src",
            "cargo test # all of them",
            "cat `which cargo`",
            "printf 'a\\nb'",
            "(cd sub && make)",
            "{ make; }",
            "! make",
            "make\nmake check",
            "sleep 1 &",
            "'unclosed quote",
            "\"unclosed quote",
            "RUST_LOG=debug cargo test",
            "cd sub",
            "exit 3",
            "echo -e 'a'",
            "true",
            "test -f Cargo.toml",
            "",
            "   ",
            "\"\" arg",
        ] {
            assert_eq!(plain_words(line), None, "{line:?}");
        }
    }

    /// The words `sh` itself makes of `line`, as the arguments of a command.
    fn sh_words(line: &str) -> Vec<String> {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "for word in {line}; do printf '%s\\0' \"$word\"; done"
            ))
            .output()
            .expect("run sh");
        assert!(output.status.success(), "{line:?}: {output:?}");
        let text = String::from_utf8(output.stdout).expect("utf-8");
        text.split_terminator('\0').map(str::to_owned).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn words_are_split_as_sh_splits_them(line in "[ab\\-=./é \t'\"]{0,24}") {
            if let Some(words) = split(&line) {
                prop_assert_eq!(words, sh_words(&line), "{:?}", line);
            }
        }
    }
}
