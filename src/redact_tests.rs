//! The redactor's rules, on text and JSON as an output would hold them.

use std::io::Write;

use super::*;

const GITHUB: &str = "ghp_0123456789abcdefABCDEF0123456789abcd";
const ANTHROPIC: &str = "sk-ant-api03-Zx9_Yw8-Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0";

fn secret_name(name: &str) -> bool {
    crate::process::secrets::is_secret_name(name, &[])
}

fn redactor(vars: &[(&str, &str)]) -> Redactor {
    let vars = vars.iter().map(|(n, v)| (n.to_string(), v.to_string()));
    Redactor::from_vars(vars, secret_name, &[])
}

#[test]
fn secret_looking_variables_are_redacted_by_name() {
    let r = redactor(&[
        ("GITHUB_TOKEN", GITHUB),
        ("DB_PASSWORD", "hunter2hunter2"),
        ("HOME", "/home/someone"),
    ]);
    assert_eq!(
        r.text(&format!(
            "push with {GITHUB} as hunter2hunter2 from /home/someone"
        )),
        "push with [REDACTED:GITHUB_TOKEN] as [REDACTED:DB_PASSWORD] from /home/someone"
    );
    assert!(matches!(r.text("nothing secret here"), Cow::Borrowed(_)));
}

#[test]
fn short_values_and_settings_are_not_secrets() {
    let r = redactor(&[
        ("X_KEY", "1"),
        ("API_TOKEN", "abc1234"),
        ("AWS_PROFILE", "production"),
        ("ANTHROPIC_MODEL", "claude-sonnet-4-5"),
        ("AWS_REGION", "eu-west-1a"),
    ]);
    let text = "task 1 of abc1234 in production with claude-sonnet-4-5 in eu-west-1a";
    assert_eq!(r.text(text), text);
    assert_eq!(r.value_count(), 0);
}

#[test]
fn each_line_of_a_multi_line_value_is_redacted_too() {
    let r = redactor(&[("SERVICE_KEY", "first-line-1234\nsecond-line-5678\n")]);
    assert_eq!(
        r.text("a first-line-1234\nsecond-line-5678 b, then second-line-5678 alone"),
        "a [REDACTED:SERVICE_KEY] b, then [REDACTED:SERVICE_KEY] alone"
    );
}

#[test]
fn explicit_values_are_redacted_whatever_their_name_and_length() {
    let vars = vec![("PLAIN".to_string(), "not-a-secret-value".to_string())];
    let r = Redactor::from_vars(vars, secret_name, &["s3cr".to_string(), String::new()]);
    assert_eq!(
        r.text("a s3cr b not-a-secret-value"),
        "a [REDACTED] b not-a-secret-value"
    );
}

#[test]
fn a_value_containing_another_is_replaced_whole() {
    let r = redactor(&[("SHORT_KEY", "abcdefgh"), ("LONG_KEY", "abcdefgh-and-more")]);
    assert_eq!(
        r.text("abcdefgh-and-more / abcdefgh"),
        "[REDACTED:LONG_KEY] / [REDACTED:SHORT_KEY]"
    );
}

#[test]
fn a_value_found_in_a_marker_is_not_used_and_markers_stay() {
    let r = redactor(&[
        ("A_TOKEN", "[REDACTED:x]"),
        ("GITHUB_TOKEN", "GITHUB_TOKEN"),
    ]);
    assert_eq!(r.value_count(), 0);
    let r = redactor(&[("GITHUB_TOKEN", GITHUB)]);
    let once = r.text(GITHUB).into_owned();
    assert_eq!(once, "[REDACTED:GITHUB_TOKEN]");
    assert_eq!(r.text(&once), once);
}

#[test]
fn token_shapes_are_redacted_wherever_they_come_from() {
    let r = Redactor::default();
    let cases = [
        (ANTHROPIC, "[REDACTED:anthropic-key]"),
        (
            "sk-proj-AbCdEf0123456789GhIjKl_mn-op",
            "[REDACTED:openai-key]",
        ),
        (GITHUB, "[REDACTED:github-token]"),
        (
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "[REDACTED:github-token]",
        ),
        ("xoxb-1234567890-abcdefghij", "[REDACTED:slack-token]"),
        ("xoxp-1234567890-abcdefghij", "[REDACTED:slack-token]"),
        ("AKIAIOSFODNN7EXAMPLE", "[REDACTED:aws-key-id]"),
        ("glpat-abcdefghij0123456789", "[REDACTED:gitlab-token]"),
        (
            "npm_abcdefghijklmnopqrstuvwxyz0123456789",
            "[REDACTED:npm-token]",
        ),
        (
            "AIzaSyA-0123456789abcdefghijklmnopqrstu",
            "[REDACTED:google-api-key]",
        ),
        ("sk_live_0123456789abcdefgh", "[REDACTED:stripe-key]"),
    ];
    for (token, marker) in cases {
        assert_eq!(
            r.text(&format!("key=\"{token}\", then")),
            format!("key=\"{marker}\", then"),
            "{token}"
        );
    }
}

#[test]
fn words_that_only_look_like_tokens_stay() {
    let r = Redactor::default();
    for text in [
        "risk-assessment-for-the-new-api-version",
        "sk-learn-compatible-estimators-everywhere",
        "task-0123456789abcdefghijklmnop",
        "XAKIAIOSFODNN7EXAMPLE",
        "AKIAIOSFODNN7EXAMPLEX",
        "commit 3b0fe51c540d3a51fd4f1e8a3c0b9d7f2e6a1b4c",
        "session 3cc4f1c9-8df7-4d72-bac1-5a4572ffb6d6",
        "the ghp_ prefix and sk-ant- alone",
    ] {
        assert_eq!(r.text(text), text);
    }
}

#[test]
fn a_private_key_block_goes_whole_even_when_cut() {
    let r = Redactor::default();
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQyNTUxOQAAACB\n-----END OPENSSH PRIVATE KEY-----";
    assert_eq!(
        r.text(&format!("cat id:\n{key}\ndone")),
        "cat id:\n[REDACTED:private-key]\ndone"
    );
    assert_eq!(
        r.text("head\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nqwerty"),
        "head\n[REDACTED:private-key]"
    );
}

#[test]
fn json_strings_are_decoded_redacted_and_encoded_again() {
    let tricky = "pa\"ss\\word-1234";
    let r = redactor(&[
        ("GITHUB_TOKEN", GITHUB),
        ("DB_PASSWORD", tricky),
        ("ODD_SECRET", "creation_input"),
    ]);
    let mut value = serde_json::json!({
        "text": format!("token {GITHUB}\nand {tricky}"),
        "tail": format!("line\n{ANTHROPIC}"),
        "cache_creation_input_tokens": "creation_input",
        "n": 3,
    });
    value[GITHUB] = serde_json::json!("a session keyed by a secret");
    let line = serde_json::to_string(&value).unwrap();
    assert!(line.contains("\\nsk-ant-"), "{line}");
    let redacted = r.json(&line);
    let back: serde_json::Value = serde_json::from_str(&redacted).expect("still JSON");
    assert_eq!(
        back["text"],
        "token [REDACTED:GITHUB_TOKEN]\nand [REDACTED:DB_PASSWORD]"
    );
    assert_eq!(back["tail"], "line\n[REDACTED:anthropic-key]");
    // A field name stays (the file is read back), its value does not.
    assert_eq!(back["cache_creation_input_tokens"], "[REDACTED:ODD_SECRET]");
    assert_eq!(
        back["[REDACTED:GITHUB_TOKEN]"],
        "a session keyed by a secret"
    );
    assert_eq!(back["n"], 3);
    let pretty = serde_json::to_string_pretty(&value).unwrap();
    let redacted = r.json(&pretty);
    assert!(!redacted.contains("word-1234"), "{redacted}");
    assert!(!redacted.contains(GITHUB), "{redacted}");
    serde_json::from_str::<serde_json::Value>(&redacted).expect("still JSON");
    let clean = r#"{"type":"schema","data":{"name":"kmilestone-events","version":2}}"#;
    assert!(matches!(r.json(clean), Cow::Borrowed(_)));
}

#[test]
fn what_is_not_json_is_still_redacted_as_text() {
    let r = redactor(&[("GITHUB_TOKEN", GITHUB)]);
    assert_eq!(
        r.json(&format!(
            "warning: {GITHUB} said \"{GITHUB}\" and \"unterminated {GITHUB}"
        )),
        "warning: [REDACTED:GITHUB_TOKEN] said \"[REDACTED:GITHUB_TOKEN]\" and \"unterminated [REDACTED:GITHUB_TOKEN]"
    );
}

#[test]
fn the_writer_redacts_whole_lines_across_writes() {
    let mut out = Vec::new();
    {
        let mut writer = RedactingWriter {
            inner: &mut out,
            pending: Vec::new(),
            json: false,
            redactor: Arc::new(redactor(&[("GITHUB_TOKEN", GITHUB)])),
        };
        let (a, b) = GITHUB.split_at(10);
        write!(writer, "one {a}").unwrap();
        write!(writer, "{b} two\nlast {GITHUB}").unwrap();
    }
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "one [REDACTED:GITHUB_TOKEN] two\nlast [REDACTED:GITHUB_TOKEN]"
    );
}

#[test]
fn bytes_kept_for_reading_are_redacted() {
    assert_eq!(
        &*bytes(format!("x {GITHUB}\n").as_bytes()),
        b"x [REDACTED:github-token]\n"
    );
    assert_eq!(&*bytes(b"plain \xff"), "plain \u{fffd}".as_bytes());
}
