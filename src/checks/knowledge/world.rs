//! Facts about the outside world that do not depend on the language: which programs are
//! services, which hosts are local, which environment variables carry service addresses, which
//! names read as assertions.

use super::super::facts::{Fact, Target};

/// Container runtimes and their compose front ends.
const CONTAINER_PROGRAMS: &[&str] = &[
    "docker",
    "docker-compose",
    "podman",
    "podman-compose",
    "nerdctl",
];

/// Database, cache, broker and cluster binaries a unit test has no business starting.
const SERVICE_PROGRAMS: &[&str] = &[
    "psql",
    "pg_ctl",
    "postgres",
    "initdb",
    "pg_ctlcluster",
    "redis-server",
    "redis-cli",
    "mysqld",
    "mysql",
    "mariadb",
    "mongod",
    "mongo",
    "mongosh",
    "memcached",
    "etcd",
    "consul",
    "nats-server",
    "minio",
    "elasticsearch",
    "rabbitmq-server",
    "zookeeper-server-start.sh",
    "kafka-server-start.sh",
    "localstack",
    "kubectl",
    "kind",
    "minikube",
    "vault",
    "cockroach",
    "clickhouse-server",
    "valkey-server",
];

/// What spawning `command` (a program path or a whole shell line) means, if anything.
pub(crate) fn spawned_program(command: &str) -> Option<Fact> {
    let first = command
        .split_whitespace()
        .find(|word| !word.contains('='))?;
    let program = first.rsplit('/').next().unwrap_or(first);
    if CONTAINER_PROGRAMS.contains(&program) {
        return Some(Fact::Docker(format!("`{program}` subprocess")));
    }
    if SERVICE_PROGRAMS.contains(&program) {
        return Some(Fact::ServiceSubprocess(program.to_string()));
    }
    None
}

/// Hosts that never leave the machine.
fn is_loopback(host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.starts_with("127.")
        || host == "::1"
        || host == "0.0.0.0"
}

/// Hosts reserved by RFC 2606/6761 or used by in-process test clients: no real host answers.
fn is_placeholder(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    // An IPv6 literal has no dot but is as real a host as any.
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    !host.contains('.') && !is_loopback(&host) && !is_ip
        || [".test", ".invalid", ".example", ".local", ".internal"]
            .iter()
            .any(|suffix| host.ends_with(suffix))
}

/// Where a URL (`scheme://host:port/...`) or an address (`host:port`) points, when it points
/// somewhere a test would notice. `None` for placeholders, port 0 and anything unparseable.
pub(crate) fn target_of(address: &str) -> Option<Target> {
    let address = address.trim();
    let rest = match address.split_once("://") {
        Some((scheme, rest)) => {
            if !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
            {
                return None;
            }
            rest
        }
        None => address,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = split_host_port(authority);
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '{' || c == '%') {
        return None;
    }
    if is_loopback(host) {
        let port = port.filter(|port| *port != 0)?;
        return Some(Target::LoopbackPort(format!("{host}:{port}")));
    }
    if is_placeholder(host) {
        return None;
    }
    if !address.contains("://") && port.is_none() {
        // A bare word with a dot is as likely a file name as a host.
        return None;
    }
    Some(Target::Remote(host.to_string()))
}

fn split_host_port(authority: &str) -> (&str, Option<u32>) {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (host, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().ok()),
        _ => (authority, None),
    }
}

/// URL schemes of database, cache and message-broker servers.
const DATABASE_SCHEMES: &[&str] = &[
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "redis",
    "rediss",
    "valkey",
    "mongodb",
    "mongodb+srv",
    "amqp",
    "amqps",
    "cassandra",
    "clickhouse",
    "neo4j",
    "bolt",
    "memcached",
    "memcache",
    "memcache+tls",
    "memcache+udp",
    "nats",
];

/// True when `value` is a connection string that names a database or cache server: a URL with
/// such a scheme and a host, or a libpq-style `key=value` list with a `host` and at least one
/// other connection key. Passed to a `connect` call, it means the test talks to that server.
pub(crate) fn is_database_connection_string(value: &str) -> bool {
    let value = value.trim();
    if let Some((scheme, rest)) = value.split_once("://") {
        let host = rest
            .split(['/', '?', '#'])
            .next()
            .unwrap_or("")
            .rsplit('@')
            .next()
            .unwrap_or("");
        return DATABASE_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str())
            && !host.is_empty()
            && !host.contains(['{', '%']);
    }
    let pairs: Vec<(&str, &str)> = value
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .collect();
    if pairs.len() < 2 || pairs.len() != value.split_whitespace().count() {
        return false;
    }
    let has = |keys: &[&str]| pairs.iter().any(|(key, _)| keys.contains(key));
    has(&["host", "hostaddr"]) && has(&["user", "dbname", "port", "password"])
}

/// The `key=value` pairs of a libpq-style connection string (`host=a,b port='5432'`), with
/// libpq's quoting: a value in single quotes may hold spaces, `\'` and `\\`. None when the
/// text is not such a string.
fn libpq_pairs(value: &str) -> Option<Vec<(&str, String)>> {
    let mut pairs = Vec::new();
    let mut rest = value.trim_start();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = key.trim_end();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        let after = after.trim_start();
        let mut parsed = String::new();
        if let Some(quoted) = after.strip_prefix('\'') {
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((at, c)) = chars.next() {
                match c {
                    '\\' => parsed.push(chars.next()?.1),
                    '\'' => {
                        end = Some(at + 1);
                        break;
                    }
                    c => parsed.push(c),
                }
            }
            rest = quoted[end?..].trim_start();
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            parsed.push_str(&after[..end]);
            rest = after[end..].trim_start();
        }
        pairs.push((key, parsed));
    }
    (!pairs.is_empty()).then_some(pairs)
}

/// True when a PostgreSQL driver refuses the libpq-style connection string `value` before it
/// opens any socket, so a test passing it checks the driver's configuration, not a server:
/// `host` and `hostaddr` lists of different lengths, or several ports that cannot be matched
/// one to one with the hosts (libpq and rust-postgres both check this). rust-postgres also
/// refuses a string with neither `host` nor `hostaddr` (`host_required`), where libpq would
/// use its default Unix socket.
pub(crate) fn postgres_rejects_before_connecting(value: &str, host_required: bool) -> bool {
    let Some(pairs) = libpq_pairs(value) else {
        return false;
    };
    let count = |key: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map_or(0, |(_, v)| {
                if v.is_empty() {
                    0
                } else {
                    v.split(',').count()
                }
            })
    };
    let (hosts, addresses, ports) = (count("host"), count("hostaddr"), count("port"));
    if host_required && hosts == 0 && addresses == 0 {
        return true;
    }
    if hosts > 0 && addresses > 0 && hosts != addresses {
        return true;
    }
    ports > 1 && ports != hosts.max(addresses).max(1)
}

/// A host and port given separately (`("localhost", 6379)`, `connect(host, port)`).
pub(crate) fn target_of_host_port(host: &str, port: Option<u32>) -> Option<Target> {
    match port {
        Some(port) => target_of(&format!("{host}:{port}")),
        None if is_loopback(host) || is_placeholder(host) => None,
        None => Some(Target::Remote(host.to_string())),
    }
}

/// True for environment variables that carry the address of a service.
pub(crate) fn is_service_env(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if upper == "HOSTNAME" || upper.contains("PROXY") || upper.starts_with("GITHUB_") {
        return false;
    }
    const ADDRESS_WORDS: &[&str] = &["URL", "URI", "DSN", "HOST", "ADDR", "ENDPOINT", "SERVER"];
    const SERVICE_WORDS: &[&str] = &[
        "DATABASE",
        "POSTGRES",
        "PG",
        "MYSQL",
        "REDIS",
        "MONGO",
        "KAFKA",
        "RABBIT",
        "AMQP",
        "ELASTIC",
        "MEMCACHE",
        "CASSANDRA",
        "NATS",
        "ETCD",
        "CLICKHOUSE",
        "S3",
        "MINIO",
    ];
    // A connection string is an address only when the name says which database it is for.
    const CONNECTION_STRING_WORDS: &[&str] = &[
        "CONN_STRING",
        "CONNSTRING",
        "CONNECTION_STRING",
        "CONNECTIONSTRING",
        "CONN_STR",
        "CONNSTR",
    ];
    const DATABASE_PREFIXES: &[&str] = &[
        "DATABASE",
        "DB",
        "POSTGRES",
        "PG",
        "MYSQL",
        "MARIADB",
        "MSSQL",
        "SQLSERVER",
        "MONGO",
        "REDIS",
        "CASSANDRA",
        "CLICKHOUSE",
        "COCKROACH",
        "ORACLE",
    ];
    let words: Vec<&str> = upper.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    let names_database = || {
        words
            .iter()
            .any(|word| DATABASE_PREFIXES.iter().any(|d| word.starts_with(d)))
    };
    words
        .iter()
        .any(|word| ADDRESS_WORDS.iter().any(|w| word.ends_with(w)))
        || words.iter().any(|word| SERVICE_WORDS.contains(word))
        || (CONNECTION_STRING_WORDS.iter().any(|w| upper.contains(w)) && names_database())
}

/// Process-wide knowledge of names that mean "an assertion" in test helpers written elsewhere.
pub(crate) fn looks_like_assertion_helper(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["assert", "check", "verify", "expect", "validate"]
        .iter()
        .any(|prefix| lower.starts_with(prefix))
}

/// True for assertion helper names that only check that a value is not null (`assertNotNil`,
/// `assert_is_not_none`, `assertDefined`): they cannot fail on a wrong value. `assertExists`
/// is not one of them: a file or a record that should exist can be missing.
pub(crate) fn is_existence_assertion(name: &str) -> bool {
    let lower = name.replace('_', "").to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("assert") else {
        return false;
    };
    let rest = rest.strip_prefix("is").unwrap_or(rest);
    matches!(
        rest,
        "notnil" | "notnull" | "notnone" | "notundefined" | "defined"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_classified() {
        assert_eq!(
            target_of("https://api.github.com/repos"),
            Some(Target::Remote("api.github.com".into()))
        );
        assert_eq!(
            target_of("http://localhost:8080/x"),
            Some(Target::LoopbackPort("localhost:8080".into()))
        );
        assert_eq!(target_of("http://127.0.0.1:0"), None);
        assert_eq!(target_of("http://testserver/items"), None);
        assert_eq!(target_of("config.json"), None);
        assert_eq!(
            target_of("redis://user:pw@cache.example.com:6379/0"),
            Some(Target::Remote("cache.example.com".into()))
        );
    }

    #[test]
    fn database_connection_strings_are_recognised() {
        assert!(is_database_connection_string(
            "host=localhost port=5433 user=postgres"
        ));
        assert!(is_database_connection_string(
            "postgres://user@db.example.org/app"
        ));
        assert!(is_database_connection_string("redis://127.0.0.1:6379/0"));
        assert!(!is_database_connection_string("host=localhost"));
        assert!(!is_database_connection_string("http://localhost:8080/"));
        assert!(!is_database_connection_string("sqlite:///:memory:"));
        assert!(!is_database_connection_string("a=b and some words"));
        assert!(!is_database_connection_string("redis://{host}:{port}"));
    }

    #[test]
    fn postgres_configurations_refused_before_connecting_are_told_apart() {
        // The three configuration errors rust-postgres reports before any connection.
        assert!(postgres_rejects_before_connecting(
            "host=localhost port=5433,5433 user=postgres",
            true
        ));
        assert!(postgres_rejects_before_connecting(
            "hostaddr=127.0.0.1,127.0.0.2 host=localhost port=5433 user=u",
            true
        ));
        assert!(postgres_rejects_before_connecting(
            "port=5433 user=pass_user dbname=postgres",
            true
        ));
        // libpq falls back to its Unix socket when no host is given: that connects.
        assert!(!postgres_rejects_before_connecting(
            "port=5433 user=pass_user dbname=postgres",
            false
        ));
        // Valid ones connect.
        assert!(!postgres_rejects_before_connecting(
            "host=localhost port=5433 user=postgres",
            true
        ));
        assert!(!postgres_rejects_before_connecting(
            "host=a,b port=5433,5434 user=postgres",
            true
        ));
        assert!(!postgres_rejects_before_connecting(
            "host=a,b port=5433 user=postgres",
            true
        ));
        assert!(!postgres_rejects_before_connecting(
            "hostaddr=127.0.0.1 port=5433 user=u options='-c a=b'",
            true
        ));
        // Quoted values hold spaces and commas without splitting pairs.
        assert!(!postgres_rejects_before_connecting(
            "host=localhost password='a b,c' port=5433",
            true
        ));
        // Not a key/value string at all: nothing is claimed.
        assert!(!postgres_rejects_before_connecting(
            "postgres://a,b/db",
            true
        ));
        assert!(!postgres_rejects_before_connecting("", true));
        assert!(!postgres_rejects_before_connecting(
            "host='unterminated",
            true
        ));
    }

    #[test]
    fn existence_only_helpers_are_told_apart() {
        for weak in [
            "assertNotNil",
            "assertNotNull",
            "assertIsNotNone",
            "assert_is_not_none",
            "assertDefined",
        ] {
            assert!(is_existence_assertion(weak), "{weak}");
        }
        for strong in [
            "assertEqual",
            "assertNil",
            "assertNotEqual",
            "checkExists",
            "assertExists",
            "assert_exists",
            "exists",
        ] {
            assert!(!is_existence_assertion(strong), "{strong}");
        }
    }

    #[test]
    fn service_variables_are_recognised() {
        assert!(is_service_env("DATABASE_URL"));
        assert!(is_service_env("REDIS_HOST"));
        assert!(is_service_env("PG_DSN"));
        assert!(is_service_env("PGX_TEST_CONN_STRING"));
        assert!(is_service_env("PGX_TEST_UNIX_SOCKET_CONN_STRING"));
        assert!(is_service_env("MYSQL_CONNECTION_STRING"));
        assert!(is_service_env("TEST_DB_CONNSTRING"));
        assert!(is_service_env("MONGODB_DSN"));
        // A connection string for nothing in particular, and sqlite's local files, are not.
        assert!(!is_service_env("LOG_CONN_STRING"));
        assert!(!is_service_env("SQLITE_CONN_STRING"));
        assert!(!is_service_env("HOME"));
        assert!(!is_service_env("HOSTNAME"));
        assert!(!is_service_env("CI"));
    }
}
