//! Go packages: what their calls mean to a unit test.
//!
//! Paths start with the import path (`github.com/lib/pq.Open`); patterns begin with `*` where
//! the host or a major-version suffix may vary.

use super::calls::Arg::At;
use super::calls::Callee::{Path, PathMethod};
use super::calls::Meaning::{
    Database, Dial, Docker, FakeClock, NetworkMock, ReadsEnv, SetsEnv, Sleep, Spawn, StartsServer,
    Timer,
};
use super::calls::{Connects, Entry, request, row};

/// Container clients.
pub(crate) const DOCKER: &[&str] = &[
    "*testcontainers-go*",
    "*docker/docker/client*",
    "*docker/docker/api*",
    "*ory/dockertest*",
    "*fsouza/go-dockerclient*",
    "*docker/compose*",
];

/// Database, cache and broker clients' connecting calls.
pub(crate) const REAL_DB: &[&str] = &[
    "*jackc/pgx*.Connect*",
    "*pgxpool.New*",
    "*pgxpool.Connect*",
    "*go-redis*.NewClient",
    "*go-redis*.NewClusterClient",
    "*go-redis*.NewUniversalClient",
    "*go-redis*.NewFailoverClient",
    // redigo's connect calls; its options (`DialReadTimeout`, `DialNetDial`...) connect nothing.
    "*/redigo/redis.Dial",
    "*/redigo/redis.DialContext",
    "*/redigo/redis.DialURL",
    "*/redigo/redis.DialURLContext",
    "*/redigo/redis.DialTimeout",
    "*/redigo/redis.DialDefaultServer",
    "*mongo-driver*mongo.Connect",
    "*mongo-driver*mongo.NewClient",
    "*lib/pq.NewConnector",
    "*lib/pq.DialOpen",
    "*lib/pq.Open",
    "*jackc/pgconn.Connect",
    "*jackc/pgconn.ConnectConfig",
    "*go-sql-driver/mysql.NewConnector",
    "*go-sql-driver/mysql.MySQLDriver.Open",
    "*segmentio/kafka-go.Dial*",
    // mymysql's connections: `New(…)` makes one, `Connect()` opens it.
    "*ziutek/mymysql/native.New",
    "*ziutek/mymysql/thrsafe.New",
    "*ziutek/mymysql/autorc.New",
    "*amqp*.Dial",
    "*olivere/elastic*.NewClient",
    "*elastic/go-elasticsearch*.NewClient",
    "*bradfitz/gomemcache/memcache.New",
    "*nats-io/nats.go.Connect",
    // NewCluster only builds a configuration: the session connects.
    "*gocql/gocql.NewCluster*.CreateSession",
    // sarama's connecting pub(crate) constructors (`NewConfig`, `NewMockBroker` connect nothing).
    "*/sarama.NewClient",
    "*/sarama.NewSyncProducer",
    "*/sarama.NewAsyncProducer",
    "*/sarama.NewConsumer",
    "*/sarama.NewConsumerGroup",
    "*/sarama.NewClusterAdmin",
    "*rueidis.NewClient",
];

/// `sql.Open`-like calls whose first argument names the driver.
const SQL_OPENS: &[&str] = &[
    "database/sql.Open",
    "*jmoiron/sqlx.Open",
    "*jmoiron/sqlx.Connect",
    "*jmoiron/sqlx.MustConnect",
];
/// Drivers of database servers (not `sqlite3`, `ramsql`, `txdb`).
const SERVER_DRIVERS: &[&str] = &[
    "postgres",
    "pgx",
    "mysql",
    "mssql",
    "sqlserver",
    "clickhouse",
    "godror",
    "oracle",
    "cockroach",
    "redshift",
];

/// HTTP, WebSocket and gRPC clients.
const HTTP: &[&str] = &[
    "net/http.Get",
    "net/http.Post",
    "net/http.Head",
    "net/http.PostForm",
    "net/http.DefaultClient.*",
    "net/http.Client.*",
    "*gorilla/websocket.DefaultDialer.Dial",
    "*nhooyr.io/websocket.Dial",
    "*coder/websocket.Dial",
    "*grpc.Dial*",
    "*grpc.NewClient",
    // resty: `client.R().Get(url)`, whatever the request was configured with in between.
    "*go-resty/resty*.R.*",
];
/// Their methods that send or dial; `DialContext(ctx, url)` takes the URL second.
const HTTP_METHODS: &[&str] = &[
    "Get",
    "Post",
    "Head",
    "PostForm",
    "Dial",
    "NewClient",
    "Put",
    "Patch",
    "Delete",
    "Options",
];

/// Servers the test starts itself (the own-server search reads them too).
pub(crate) const SERVERS: &[&str] = &[
    "net/http/httptest.NewServer",
    "net/http/httptest.NewTLSServer",
    "net/http/httptest.NewUnstartedServer",
    "net.Listen",
    "net/http.ListenAndServe",
    "*grpc.NewServer",
    "*bufconn.Listen",
    "*alicebob/miniredis*",
    "net.ListenTCP",
];

/// What calls mean, first matching row first. Sleeps take a `time.Duration`.
pub(crate) const CALLS: &[Entry] = &[
    row(Path(&["time.Sleep"]), Sleep(&[At(0)])),
    // `<-time.After(d)` waits; a `select` case on it that fails the test is a timeout guard.
    row(Path(&["time.After"]), Timer(&[At(0)])),
    row(Path(DOCKER), Docker),
    row(Path(REAL_DB), Database(Connects::Always)),
    row(
        Path(SQL_OPENS),
        Database(Connects::Driver(&[At(0)], SERVER_DRIVERS)),
    ),
    row(
        Path(&["gorm.io/gorm.Open", "*jinzhu/gorm.Open"]),
        Database(Connects::Dialect(&[
            "postgres",
            "mysql",
            "sqlserver",
            "clickhouse",
        ])),
    ),
    row(Path(&["os/exec.CommandContext"]), Spawn(&[At(1)])),
    row(Path(&["os/exec.Command"]), Spawn(&[At(0)])),
    row(PathMethod(HTTP, &["DialContext"]), request(&[At(1)])),
    row(PathMethod(HTTP, HTTP_METHODS), request(&[At(0)])),
    row(
        Path(&[
            "net.Dial",
            "net.DialTimeout",
            "net.DialTCP",
            "crypto/tls.Dial",
        ]),
        Dial(&[At(1)]),
    ),
    row(
        Path(&[
            "*h2non/gock*",
            "*jarcoal/httpmock*",
            "*dnaeon/go-vcr*",
            "*seborama/govcr*",
        ]),
        NetworkMock,
    ),
    row(Path(SERVERS), StartsServer),
    row(
        Path(&[
            "testing/synctest.*",
            "*jonboulle/clockwork*",
            "*benbjohnson/clock.NewMock",
            "*k8s.io/utils/clock/testing*",
        ]),
        FakeClock,
    ),
    // `os.Setenv` and `t.Setenv`.
    row(Path(&["os.Setenv", "*.Setenv"]), SetsEnv),
    row(Path(&["os.Getenv", "os.LookupEnv"]), ReadsEnv(&[At(0)])),
];

/// Options that hand the client a connection the test made itself.
pub(crate) const INJECTED_CONNECTIONS: &[&str] = &[
    "*/redigo/redis.DialNetDial",
    "*/redigo/redis.DialContextFunc",
];
/// go-sql-driver/mysql's connect calls, whose DSN or `Config.Net` names a network.
pub(crate) const MYSQL_CONNECTS: &[&str] = &["*go-sql-driver/mysql.*"];

/// Units of `time.Duration`, in seconds.
pub(crate) const DURATIONS: &[(&str, f64)] = &[
    ("time.Nanosecond", 1e-9),
    ("time.Microsecond", 1e-6),
    ("time.Millisecond", 1e-3),
    ("time.Second", 1.0),
    ("time.Minute", 60.0),
    ("time.Hour", 3600.0),
];

/// Methods of `*testing.T` that fail the test.
pub(crate) const FAILING: &[&str] = &["Fatal", "Fatalf", "Error", "Errorf", "Fail", "FailNow"];
/// Assertion libraries, by a part of their import path.
pub(crate) const ASSERTION_LIBRARIES: &[&str] =
    &["testify", "gotest.tools", "quicktest", "gomega", "is.New"];
/// Methods of `*testing.T` that a call given `t` may be without checking anything.
pub(crate) const NOT_CHECKS: &[&str] = &[
    "Run", "Parallel", "Helper", "Cleanup", "TempDir", "Setenv", "Context", "Skip", "Skipf", "Log",
    "Logf",
];
/// Words of a build tag that make a file an integration test (`docker_integration` too).
pub(crate) const INTEGRATION_TAGS: &[&str] = &["integration", "e2e", "functional"];
