//! Rust crates: what their calls, types and attributes mean to a unit test.
//!
//! Paths are written with `.` for `::` (`tokio.time.sleep`); a crate's own items, seen from
//! inside it, are matched by the front end against the rows that name an item.

use super::calls::Arg::At;
use super::calls::Callee::{Both, Method, Path, PathMethod};
use super::calls::Meaning::{
    Database, Docker, FakeClock, NetworkMock, ReadsEnv, SetsEnv, Sleep, Smtp, Spawn, StartsServer,
};
use super::calls::{Connects, Entry, request, row};

/// Container clients.
pub(crate) const DOCKER: &[&str] = &[
    "bollard.*",
    "testcontainers.*",
    "testcontainers_modules.*",
    "dockertest.*",
    "shiplift.*",
    "docker_api.*",
];
/// A Docker client over this (lower-case) word is a mock transport (`connect_with_mock`).
pub(crate) const MOCK_TRANSPORT: &str = "mock";
/// A database client whose path holds this word is an embedded file database.
pub(crate) const EMBEDDED: &str = "Sqlite";

/// Calls that open a database, cache or broker connection.
pub(crate) const REAL_DB: &[&str] = &[
    "sqlx*Pg*connect*",
    "sqlx*MySql*connect*",
    "sqlx*Postgres*connect*",
    "sqlx*Any*connect*",
    "postgres.Client.connect",
    "postgres.Config*connect",
    "tokio_postgres.connect",
    "tokio_postgres.Config*connect",
    "redis.Client.open",
    "redis.cluster.ClusterClient*",
    "redis.aio.*",
    "mongodb.Client.with_uri_str",
    "mongodb.Client.with_options",
    "diesel*PgConnection.establish",
    "diesel*MysqlConnection.establish",
    "mysql.Pool.new",
    "mysql.Conn.new",
    "mysql_async.Pool.new",
    "mysql_async.Conn.new",
    "deadpool_postgres.*",
    "deadpool_redis.*",
    "bb8_postgres.*",
    "bb8_redis.*",
    "r2d2_postgres.*",
    "r2d2_redis.*",
    "elasticsearch.Elasticsearch.new",
    "lapin.Connection.connect",
    "scylla.*SessionBuilder*",
    "fred.*",
    "memcache.connect",
    "memcache.Client.connect",
    "r2d2_mysql.*",
    // A connection manager exists to fill a pool; inside its own crate only these names show it.
    "r2d2_mysql.MySqlConnectionManager.new",
    "r2d2_postgres.PostgresConnectionManager.new",
    "r2d2_redis.RedisConnectionManager.new",
    "bb8_postgres.PostgresConnectionManager.new*",
    "bb8_redis.RedisConnectionManager.new",
    // rdkafka connects when a configuration creates a client; building or inspecting a
    // configuration or a partition list connects nothing.
    "rdkafka.*ClientConfig*.create",
    "rdkafka.*ClientConfig*.create_with_context",
];

/// Types of connected clients: a helper taking or returning one works against the service.
pub(crate) const CLIENT_TYPES: &[&str] = &[
    "bollard.Docker",
    "redis.Client",
    "redis.Connection",
    "redis.aio.*Connection*",
    "redis.cluster.ClusterConnection",
    "tokio_postgres.Client",
    "postgres.Client",
    "sqlx.*Pool",
    "sqlx.*Connection",
    "mongodb.Client",
    "mongodb.Database",
    "mongodb.Collection",
    "deadpool_postgres.Pool",
    "deadpool_postgres.Client",
    "deadpool_redis.*Pool",
    "deadpool_redis.Connection",
    "mysql.Pool",
    "mysql.Conn",
    "mysql.PooledConn",
    "mysql_async.Pool",
    "mysql_async.Conn",
    "lapin.Connection",
    "lapin.Channel",
    "scylla.Session",
    "memcache.Client",
];

/// Receivers whose `from_url` or `connect`-like constructors only parse settings
/// (`Opts::from_url`, `PoolOptions::from_url`).
pub(crate) const SETTINGS_TYPES: &[&str] = &["Opts", "Options", "Config", "Settings", "Params"];

/// HTTP and socket clients.
const HTTP: &[&str] = &[
    "reqwest.get",
    "reqwest.blocking.get",
    "reqwest.*Client*",
    "ureq.get",
    "ureq.post",
    "ureq.put",
    "ureq.delete",
    "ureq.request",
    "ureq.agent*",
    "ureq.Agent*",
    "ureq.builder*",
    "surf.get",
    "surf.post",
    "isahc.get",
    "isahc.post",
    "attohttpc.get",
    "attohttpc.post",
    "minreq.get",
    "minreq.post",
    "tokio_tungstenite.connect_async",
    "tungstenite.connect",
    "std.net.TcpStream.connect",
    "tokio.net.TcpStream.connect",
    "async_std.net.TcpStream.connect",
    "std.net.UdpSocket.connect",
];
/// Methods of those clients that send.
const HTTP_VERBS: &[&str] = &[
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "head",
    "request",
    "connect",
    "connect_async",
    "call",
];
/// Clients whose every call sends, or builds what will (`ureq::agent()`), whatever its name.
const SENDING_CLIENTS: &[&str] = &[
    "reqwest.get",
    "reqwest.blocking.get",
    "ureq.*",
    "surf.*",
    "isahc.*",
    "attohttpc.*",
    "minreq.*",
];

/// Servers the test starts itself.
pub(crate) const SERVERS: &[&str] = &[
    "std.net.TcpListener.bind",
    "tokio.net.TcpListener.bind",
    "async_std.net.TcpListener.bind",
    "axum.serve",
    "hyper.Server.bind",
    "warp.serve",
    "actix_web.test.*",
    "tiny_http.Server.http",
    "*.bind",
];

/// What calls mean, first matching row first. Sleeps take a `Duration`.
pub(crate) const CALLS: &[Entry] = &[
    row(
        Path(&[
            "std.thread.sleep",
            "tokio.time.sleep",
            "async_std.task.sleep",
            "tokio.time.delay_for",
            // tokio 0.2's sleep, re-exported by mobc.
            "mobc.delay_for",
            "smol.Timer.after",
            "async_io.Timer.after",
            "futures_timer.Delay.new",
        ]),
        Sleep(&[At(0)]),
    ),
    row(Path(DOCKER), Docker),
    row(Path(REAL_DB), Database(Connects::Always)),
    // `Client::connect("host=localhost user=postgres", NoTls)` whatever `Client` is.
    row(
        Method(&["connect", "establish", "open", "with_uri_str", "from_url"]),
        Database(Connects::ConnectionString(&[At(0)])),
    ),
    row(
        Path(&[
            "std.process.Command.new",
            "tokio.process.Command.new",
            "async_process.Command.new",
            "duct.cmd",
            "assert_cmd.Command.new",
        ]),
        Spawn(&[At(0)]),
    ),
    row(PathMethod(HTTP, HTTP_VERBS), request(&[At(0)])),
    row(Both(HTTP, SENDING_CLIENTS), request(&[At(0)])),
    // A mail server: `builder_dangerous("127.0.0.1").port(2525)`; the port is 25, 465 for
    // `relay`, 587 for `starttls_relay` unless the builder sets one.
    row(
        Path(&["lettre.*SmtpTransport*.builder_dangerous"]),
        Smtp {
            host: &[At(0)],
            port: 25,
        },
    ),
    row(
        Path(&["lettre.*SmtpTransport*.relay"]),
        Smtp {
            host: &[At(0)],
            port: 465,
        },
    ),
    row(
        Path(&["lettre.*SmtpTransport*.starttls_relay"]),
        Smtp {
            host: &[At(0)],
            port: 587,
        },
    ),
    row(
        Path(&[
            "wiremock.*",
            "mockito.*",
            "httpmock.*",
            "httptest.*",
            "mock_http_connector.*",
        ]),
        NetworkMock,
    ),
    row(Path(SERVERS), StartsServer),
    row(
        Path(&[
            "tokio.time.pause",
            "tokio.time.advance",
            "mock_instant.*",
            "*.MockClock*",
            "sn_fake_clock.*",
        ]),
        FakeClock,
    ),
    row(
        Path(&[
            "std.env.set_var",
            "env.set_var",
            "std.env.remove_var",
            "temp_env.*",
        ]),
        SetsEnv,
    ),
    row(
        Path(&[
            "std.env.var",
            "std.env.var_os",
            "env.var",
            "env.var_os",
            "dotenvy.var",
        ]),
        ReadsEnv(&[At(0)]),
    ),
];

/// lettre sends only when the function calls one of these.
pub(crate) const MAIL_SENDS: &[&str] = &[".send(", ".send_raw(", ".test_connection("];
/// Methods that send a request built by a chain (`.build()` alone sends nothing).
pub(crate) const REQUEST_SENDS: &[&str] = &["send", "call", "execute", "send_string", "send_json"];

/// Methods whose call checks an outcome: a panic on failure fails the test.
pub(crate) const ASSERTION_METHODS: &[&str] = &[
    "unwrap",
    "expect",
    "unwrap_err",
    "expect_err",
    "assert",
    "success",
    "failure",
    "assert_eq",
    "assert_debug_eq",
    "stdout",
    "stderr",
    "code",
];
/// Attributes that make a function a test (`#[tokio::test]` ends in `::test`).
pub(crate) const TEST_ATTRIBUTES: &[&str] =
    &["test", "rstest", "test_case", "quickcheck", "proptest"];
/// Functions that run the closure or future they are given as the test's own body, and wait
/// for it (`rt.block_on(async { … })`, `thread::spawn(…)`, usually joined).
pub(crate) const BODY_RUNNERS: &[&str] = &["block_on", "run", "spawn", "spawn_blocking", "scope"];
/// Methods that set a timeout on a client or future.
pub(crate) const TIMEOUTS: &[&str] = &[
    "timeout",
    "read_timeout",
    "write_timeout",
    "connect_timeout",
];
