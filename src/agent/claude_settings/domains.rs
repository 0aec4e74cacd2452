//! The hosts sandboxed commands may reach, and the ones they never may.
//!
//! Claude Code's sandbox gives every command its own empty network; the only way out is its
//! proxy, which lets through the domains in `sandbox.network.allowedDomains`. Listing a loopback
//! address there would open every service on this machine, the model API's port included, and
//! listing the model API's host would let a command talk to the model with the user's account.

use std::net::{IpAddr, Ipv4Addr};

/// The package registries a task needs to add a dependency: PyPI, npm, crates.io, the Go module
/// proxy. `[agent] network` replaces the list (`[]` cuts the network entirely).
pub const DEFAULT_ALLOWED_DOMAINS: &[&str] = &[
    "pypi.org",
    "files.pythonhosted.org",
    "registry.npmjs.org",
    "crates.io",
    "index.crates.io",
    "static.crates.io",
    "proxy.golang.org",
    "sum.golang.org",
];

/// The model API's host when `ANTHROPIC_BASE_URL` is not set.
const DEFAULT_API_HOST: &str = "api.anthropic.com";

/// Why a domain cannot be opened to sandboxed commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("an allowed domain is empty")]
    Empty,
    #[error(
        "allowed domain {0:?} is a URL or a path: name the host only (e.g. \"pypi.org\" or \"*.example.com\")"
    )]
    NotAHost(String),
    #[error(
        "allowed domain {0:?} opens every host: name the hosts a task needs (e.g. \"*.example.com\")"
    )]
    Everything(String),
    #[error(
        "allowed domain {0:?} is this machine (loopback): sandboxed commands must never reach local services, the model API's port among them"
    )]
    Loopback(String),
    #[error(
        "allowed domain {domain:?} reaches the model API ({api_host}): commands must not talk to the model with the user's credentials"
    )]
    ModelApi { domain: String, api_host: String },
}

/// The host of the model API: that of `base_url` (`ANTHROPIC_BASE_URL`) when given, else
/// `api.anthropic.com`. Lower case, without port or brackets.
pub fn api_host(base_url: Option<&str>) -> String {
    base_url
        .and_then(host_of_url)
        .unwrap_or_else(|| DEFAULT_API_HOST.to_string())
}

/// Checks every entry; the first bad one is the error. The model API's hosts are `api_hosts`
/// (normally [`api_host`] plus `api.anthropic.com`).
pub fn validate_domains(domains: &[String], api_hosts: &[String]) -> Result<(), DomainError> {
    for domain in domains {
        check_domain(domain, api_hosts)?;
    }
    Ok(())
}

fn check_domain(domain: &str, api_hosts: &[String]) -> Result<(), DomainError> {
    let trimmed = domain.trim();
    if trimmed.is_empty() {
        return Err(DomainError::Empty);
    }
    if trimmed.contains("://") || trimmed.contains('/') || trimmed.contains('@') {
        return Err(DomainError::NotAHost(domain.to_string()));
    }
    let host = strip_port(&trimmed.to_ascii_lowercase())
        .trim_end_matches('.')
        .to_string();
    if host == "*" || host == "*." || host.is_empty() {
        return Err(DomainError::Everything(domain.to_string()));
    }
    if is_loopback_host(&host) {
        return Err(DomainError::Loopback(domain.to_string()));
    }
    if let Some(api_host) = api_hosts.iter().find(|api| pattern_matches(&host, api)) {
        return Err(DomainError::ModelApi {
            domain: domain.to_string(),
            api_host: api_host.clone(),
        });
    }
    Ok(())
}

/// Whether the allowed-domain `pattern` (`example.com` exactly, `*.example.com` any subdomain)
/// lets a command reach `host`.
fn pattern_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.len() > suffix.len() && host.ends_with(&format!(".{suffix}")),
        None => pattern == host,
    }
}

/// Loopback and "this host" in every spelling a resolver accepts: `localhost` and its
/// subdomains, `127.0.0.0/8`, `0.0.0.0`, `::1`, `::`, IPv4-mapped forms, and the shorthand or
/// hexadecimal IPv4 forms (`127.1`, `0x7f000001`, `2130706433`) that curl resolves to 127.0.0.1.
fn is_loopback_host(host: &str) -> bool {
    let host = host.strip_prefix("*.").unwrap_or(host);
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return is_local_ip(ip);
    }
    match parse_ipv4_shorthand(bare) {
        Some(ip) => is_local_ip(IpAddr::V4(ip)),
        None => false,
    }
}

fn is_local_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_unspecified())
        }
    }
}

/// `inet_aton` rules: one to four parts, each decimal, octal (leading 0) or hex (0x); the last
/// part fills the remaining bytes.
fn parse_ipv4_shorthand(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let numbers: Vec<u64> = parts
        .iter()
        .map(|p| parse_number(p))
        .collect::<Option<_>>()?;
    let (last, leading) = numbers.split_last()?;
    let mut value: u64 = 0;
    for (i, n) in leading.iter().enumerate() {
        if *n > 255 {
            return None;
        }
        value |= n << (24 - 8 * i);
    }
    let room = 32 - 8 * leading.len() as u32;
    if *last >= 1u64 << room {
        return None;
    }
    Some(Ipv4Addr::from((value | last) as u32))
}

fn parse_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok();
    }
    if part.len() > 1 && part.starts_with('0') {
        return u64::from_str_radix(&part[1..], 8).ok();
    }
    part.parse().ok()
}

/// `host:443` → `host`; `[::1]:80` → `[::1]`; a bare IPv6 address is left alone.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

fn host_of_url(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = strip_port(host_port)
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<String> {
        vec![
            "api.anthropic.com".to_string(),
            "llm.corp.example".to_string(),
        ]
    }

    fn check(domain: &str) -> Result<(), DomainError> {
        check_domain(domain, &hosts())
    }

    #[test]
    fn registries_and_other_hosts_pass() {
        for domain in DEFAULT_ALLOWED_DOMAINS.iter().chain(&[
            "*.example.com",
            "example.com:443",
            "10.1.2.3",
            "anthropic.com",
        ]) {
            assert_eq!(check(domain), Ok(()), "{domain}");
        }
    }

    #[test]
    fn every_spelling_of_loopback_is_refused() {
        for domain in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.1",
            "127.255.0.9",
            "0x7f000001",
            "2130706433",
            "0177.0.0.1",
            "0.0.0.0",
            "0",
            "localhost",
            "LOCALHOST:3000",
            "api.localhost",
            "*.localhost",
            "::1",
            "[::1]",
            "[::1]:8080",
            "::",
            "::ffff:127.0.0.1",
            "localhost.",
        ] {
            assert!(
                matches!(check(domain), Err(DomainError::Loopback(_))),
                "{domain}: {:?}",
                check(domain)
            );
        }
    }

    #[test]
    fn the_model_api_host_is_refused_also_through_a_wildcard() {
        for domain in [
            "api.anthropic.com",
            "*.anthropic.com",
            "llm.corp.example:443",
            "*.corp.example",
        ] {
            assert!(
                matches!(check(domain), Err(DomainError::ModelApi { .. })),
                "{domain}: {:?}",
                check(domain)
            );
        }
    }

    #[test]
    fn urls_wildcards_and_blanks_are_refused() {
        assert!(matches!(
            check("https://pypi.org"),
            Err(DomainError::NotAHost(_))
        ));
        assert!(matches!(
            check("pypi.org/simple"),
            Err(DomainError::NotAHost(_))
        ));
        assert!(matches!(check("*"), Err(DomainError::Everything(_))));
        assert_eq!(check("  "), Err(DomainError::Empty));
    }

    #[test]
    fn validate_reports_the_first_bad_entry() {
        let list = vec![
            "pypi.org".to_string(),
            "localhost".to_string(),
            "api.anthropic.com".to_string(),
        ];
        assert_eq!(
            validate_domains(&list, &hosts()),
            Err(DomainError::Loopback("localhost".to_string()))
        );
        assert_eq!(validate_domains(&[], &hosts()), Ok(()));
    }

    #[test]
    fn the_api_host_comes_from_the_base_url() {
        assert_eq!(api_host(None), "api.anthropic.com");
        assert_eq!(api_host(Some("http://127.0.0.1:41234")), "127.0.0.1");
        assert_eq!(
            api_host(Some("https://user:pw@LLM.corp.example:8443/v1?x")),
            "llm.corp.example"
        );
        assert_eq!(api_host(Some("http://[::1]:9/")), "::1");
        assert_eq!(api_host(Some("")), "api.anthropic.com");
    }

    #[test]
    fn ipv4_shorthand_follows_inet_aton() {
        assert_eq!(
            parse_ipv4_shorthand("127.1"),
            Some(Ipv4Addr::new(127, 0, 0, 1))
        );
        assert_eq!(
            parse_ipv4_shorthand("10.0.258"),
            Some(Ipv4Addr::new(10, 0, 1, 2))
        );
        assert_eq!(parse_ipv4_shorthand("256.1"), None);
        assert_eq!(parse_ipv4_shorthand("pypi.org"), None);
        assert_eq!(parse_ipv4_shorthand("1.2.3.4.5"), None);
    }
}
