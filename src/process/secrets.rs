//! Which environment variables look like they hold a secret.
//!
//! One pure function, [`is_secret_name`], shared by everything that must keep secrets away from
//! a child (the gate sandbox removes these variables) or out of what kmilestone prints and
//! records (redaction). Names are matched case-insensitively against glob patterns, where `*`
//! stands for any run of characters, so a project's own names can be added in configuration in
//! the same form as the built-in ones.

/// The built-in patterns. Each covers a family of names seen in the wild: provider keys
/// (`ANTHROPIC_API_KEY`, `AWS_SECRET_ACCESS_KEY`), registry and forge tokens (`NPM_TOKEN`,
/// `CARGO_REGISTRY_TOKEN`, `GH_TOKEN`), database passwords (`PGPASSWORD`), and the path of a
/// credential agent's socket, which grants the same as the key it guards.
pub const DEFAULT_SECRET_NAME_PATTERNS: &[&str] = &[
    "*_TOKEN",
    "*_KEY",
    "*_SECRET",
    "*_SECRET_*",
    "*PASSWORD*",
    "*PASSWD*",
    "*_CREDENTIALS",
    "ANTHROPIC_*",
    "OPENAI_*",
    "AWS_*",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "SSH_AUTH_SOCK",
];

/// Whether an environment variable called `name` looks like it holds a secret (or grants access
/// to one): it matches one of [`DEFAULT_SECRET_NAME_PATTERNS`] or of `extra_patterns` (the
/// user's additions, same glob form). Case does not matter.
pub fn is_secret_name(name: &str, extra_patterns: &[String]) -> bool {
    DEFAULT_SECRET_NAME_PATTERNS
        .iter()
        .copied()
        .chain(extra_patterns.iter().map(String::as_str))
        .any(|pattern| glob_matches(pattern, name))
}

/// Whether `name` matches `pattern`, ASCII case ignored; `*` matches any run of characters,
/// including none. Every other character stands for itself.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.as_bytes();
    let name = name.as_bytes();
    // The classic greedy matcher with one backtrack point: on a mismatch after a `*`, let that
    // star swallow one more character and retry. Linear in practice, no recursion.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && pattern[p].eq_ignore_ascii_case(&name[n]) {
            p += 1;
            n += 1;
        } else if let Some((star_p, star_n)) = star {
            p = star_p + 1;
            n = star_n + 1;
            star = Some((star_p, star_n + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        let secret = [
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            "OPENAI_API_KEY",
            "OPENAI_ORG_ID",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_PROFILE",
            "GITHUB_TOKEN",
            "GH_TOKEN",
            "NPM_TOKEN",
            "CARGO_REGISTRY_TOKEN",
            "CLAUDE_CODE_OAUTH_TOKEN",
            "STRIPE_SECRET_KEY",
            "CLIENT_SECRET",
            "DJANGO_SECRET_KEY_FALLBACK",
            "PGPASSWORD",
            "DB_PASSWORD_FILE",
            "MYSQL_PASSWD",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "SSH_AUTH_SOCK",
            "github_token",
            "anthropic_api_key",
        ];
        for name in secret {
            assert!(is_secret_name(name, &[]), "{name} should look secret");
        }
    }

    #[test]
    fn ordinary_names() {
        let ordinary = [
            "PATH",
            "HOME",
            "TMPDIR",
            "CARGO_HOME",
            "RUSTUP_TOOLCHAIN",
            "TOKENIZERS_PARALLELISM",
            "KEYBOARD",
            "MONKEY",
            "SECRETARY",
            "LANG",
            "PYTHONPATH",
            "TOKEN_COUNT_LIMIT",
        ];
        for name in ordinary {
            assert!(!is_secret_name(name, &[]), "{name} should not look secret");
        }
    }

    #[test]
    fn extra_patterns_add_names() {
        let extra = vec!["DATABASE_URL".to_string(), "MYCO_*".to_string()];
        assert!(is_secret_name("DATABASE_URL", &extra));
        assert!(is_secret_name("myco_anything", &extra));
        assert!(!is_secret_name("DATABASE_URL", &[]));
        assert!(!is_secret_name("DATABASE_URLS", &extra));
    }

    #[test]
    fn glob() {
        let cases = [
            ("*", "", true),
            ("*", "ANY", true),
            ("", "", true),
            ("", "A", false),
            ("A*", "A", true),
            ("A*", "BA", false),
            ("*_KEY", "API_KEY", true),
            ("*_KEY", "API_KEYS", false),
            ("*_KEY", "_KEY", true),
            ("*_KEY", "KEY", false),
            ("*PASS*", "XPASSY", true),
            ("*_SECRET_*", "A_SECRET_B", true),
            ("*_SECRET_*", "A_SECRET", false),
            ("A*B*C", "AXXBYYC", true),
            ("A*B*C", "AXXBYY", false),
            ("A*B*C", "ABBBC", true),
            ("**", "X", true),
            ("a_key", "A_KEY", true),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                glob_matches(pattern, name),
                expected,
                "{pattern:?} against {name:?}"
            );
        }
    }
}
