//! Python libraries: what their calls, fixtures and markers mean to a unit test.

use super::super::facts::Fact;
use super::calls::Arg::{At, Element, Named};
use super::calls::Callee::{ClientMethod, Method, Path};
use super::calls::Meaning::{
    Contacts, Database, Docker, HostPort, Launch, NetworkMock, ReadsEnv, SetsEnv, Sleep, Spawn,
    StartsServer,
};
use super::calls::{Args, Connects, Entry, Mentions, Patch, request, row};

/// Where a sleep's seconds are given.
const SECONDS: Args = &[At(0), Named("seconds"), Named("delay")];
/// Where a request's URL is given; `request(method, url)` takes it second.
const URL: Args = &[At(0), Named("url")];
const METHOD_AND_URL: Args = &[At(1), At(0), Named("url")];

/// Client objects whose HTTP-verb methods reach the network.
const HTTP_CLIENTS: &[&str] = &[
    "requests.Session",
    "requests.session",
    "requests.sessions.Session",
    "httpx.Client",
    "httpx.AsyncClient",
    "aiohttp.ClientSession",
    "urllib3.PoolManager",
    "urllib3.*ConnectionPool",
    "websocket.WebSocket",
    "websocket.WebSocketApp",
];
const HTTP_VERBS: &[&str] = &[
    "get",
    "post",
    "put",
    "patch",
    "delete",
    "head",
    "options",
    "stream",
    "urlopen",
    "ws_connect",
    "connect",
];

/// Libraries that mock the network, as calls, decorators and context managers.
pub(crate) const NETWORK_MOCKS: &[&str] = &[
    "responses.*",
    "respx.*",
    "httpretty.*",
    "requests_mock.*",
    "aioresponses.*",
    "vcr.*",
    "betamax.*",
    "pytest_httpx.*",
    "httpx.MockTransport",
    "pytest.mark.vcr",
    "pytest.mark.block_network",
    "pook.*",
];

/// Calls that read the environment.
pub(crate) const ENV_READS: &[&str] = &[
    "os.environ.get",
    "os.getenv",
    "os.environ.__getitem__",
    "environ.get",
];

/// Modules whose functions every network client goes through: replacing one of them
/// (`socket.socket = FakeSocket`) stubs every server and host at once.
pub(crate) const TRANSPORT_MODULES: &[&str] = &["socket"];

/// Roots of database and cache client modules: patching or reassigning them stubs the server.
pub(crate) const DATABASE_MODULES: &[&str] = &[
    "psycopg2",
    "psycopg",
    "asyncpg",
    "pymysql",
    "MySQLdb",
    "mysql",
    "aiomysql",
    "redis",
    "aioredis",
    "pymongo",
    "motor",
    "cassandra",
    "elasticsearch",
    "pika",
    "kafka",
    "pymemcache",
    "memcache",
    "pylibmc",
];

/// Clients that hand their DSN to libpq, which refuses some key/value strings before it
/// connects (`host=a port=1,2`): such a test checks the driver's configuration, not a server.
pub(crate) const LIBPQ_CLIENTS: &str = "psycopg";
/// Where those clients take the DSN.
pub(crate) const DSN: Args = &[At(0), Named("dsn")];

/// What calls mean, first matching row first.
pub(crate) const CALLS: &[Entry] = &[
    row(
        Path(&[
            "time.sleep",
            "asyncio.sleep",
            "trio.sleep",
            "anyio.sleep",
            "gevent.sleep",
            "eventlet.sleep",
        ]),
        Sleep(SECONDS),
    ),
    row(
        Path(&[
            "docker.from_env",
            "docker.DockerClient*",
            "docker.APIClient*",
            "docker.client.*",
            "testcontainers.*",
            "python_on_whales.*",
        ]),
        Docker,
    ),
    row(
        Path(&[
            "psycopg2.connect",
            "psycopg.connect",
            "psycopg.AsyncConnection.connect",
            "psycopg_pool.*Pool",
            "asyncpg.connect",
            "asyncpg.create_pool",
            "pg8000.connect",
            "pg8000.dbapi.connect",
            "pg8000.native.Connection",
            "pymysql.connect",
            "MySQLdb.connect",
            "mysql.connector.connect",
            "aiomysql.connect",
            "aiomysql.create_pool",
            "aiomysql.sa.create_engine",
            "aiopg.sa.create_engine",
            "redis.Redis",
            "redis.StrictRedis",
            "redis.from_url",
            "redis.Redis.from_url",
            "redis.client.Redis",
            "redis.asyncio.Redis",
            "redis.asyncio.from_url",
            "redis.asyncio.Redis.from_url",
            "redis.asyncio.client.Redis",
            "redis.ConnectionPool*",
            "redis.cluster.RedisCluster",
            "aioredis.*",
            "pymongo.MongoClient",
            "motor.*MotorClient",
            "cassandra.cluster.Cluster",
            "elasticsearch.Elasticsearch",
            "elasticsearch.AsyncElasticsearch",
            "pika.BlockingConnection",
            "kafka.KafkaProducer",
            "kafka.KafkaConsumer",
            "aiokafka.AIOKafka*",
            "pymemcache.client.*Client",
            // python-memcached and pylibmc: the servers a client is given.
            "memcache.Client",
            "pylibmc.Client",
            // huey's task queues over Redis and PostgreSQL.
            "huey.RedisHuey",
            "huey.PriorityRedisHuey",
            "huey.RedisExpireHuey",
            "huey.api.RedisHuey",
            "huey.api.PostgresHuey",
            "huey.PostgresHuey",
            // arq's Redis pool, aiocache's and flask-caching's server backends.
            "arq.connections.ArqRedis",
            "arq.connections.create_pool",
            "arq.create_pool",
            "aiocache.RedisCache",
            "aiocache.MemcachedCache",
            "aiocache.backends.redis.RedisCache",
            "aiocache.backends.memcached.MemcachedCache",
            "flask_caching.backends.*RedisCache",
            "flask_caching.backends.*RedisClusterCache",
            "flask_caching.backends.*MemcachedCache",
            "flask_caching.backends.*SASLMemcachedCache",
            "clickhouse_driver.Client",
            "neo4j.GraphDatabase.driver",
            "peewee.PostgresqlDatabase",
            "peewee.MySQLDatabase",
        ]),
        Database(Connects::Always),
    ),
    // `Client.from_url("redis://...")` whatever `Client` is.
    row(
        Method(&["connect", "from_url", "create_pool", "create_connection"]),
        Database(Connects::ConnectionString(&[
            At(0),
            Named("url"),
            Named("dsn"),
        ])),
    ),
    // Caches configured by name: `Cache(Cache.REDIS)`, `Cache(config={"CACHE_TYPE": "RedisCache"})`.
    row(
        Path(&["aiocache.Cache", "flask_caching.Cache"]),
        Database(Connects::Dialect(&[
            "REDIS",
            "MEMCACHED",
            "RedisCache",
            "MemcachedCache",
            "RedisClusterCache",
        ])),
    ),
    // Engines are only real when their URL names a server database.
    row(
        Path(&[
            "sqlalchemy.create_engine",
            "sqlalchemy.ext.asyncio.create_async_engine",
            "databases.Database",
        ]),
        Database(Connects::ServerUrl(&[At(0), Named("url")])),
    ),
    // Libraries that start a real server process for the test; `Postgresql(auto_start=0)`
    // only describes the server it could start.
    row(
        Path(&[
            "testing.postgresql.Postgresql",
            "testing.postgresql.PostgresqlFactory",
        ]),
        Launch {
            program: "postgres",
            off: Some((Named("auto_start"), &["0", "False"])),
        },
    ),
    row(
        Path(&["testing.mysqld.Mysqld", "testing.mysqld.MysqldFactory"]),
        Launch {
            program: "mysqld",
            off: Some((Named("auto_start"), &["0", "False"])),
        },
    ),
    row(
        Path(&["testing.redis.RedisServer"]),
        Launch {
            program: "redis-server",
            off: Some((Named("auto_start"), &["0", "False"])),
        },
    ),
    row(
        Path(&["testing.memcached.Memcached"]),
        Launch {
            program: "memcached",
            off: Some((Named("auto_start"), &["0", "False"])),
        },
    ),
    row(
        Path(&["testing.elasticsearch.Elasticsearch"]),
        Launch {
            program: "elasticsearch",
            off: Some((Named("auto_start"), &["0", "False"])),
        },
    ),
    row(
        Path(&[
            "subprocess.run",
            "subprocess.call",
            "subprocess.check_call",
            "subprocess.check_output",
            "subprocess.Popen",
            "os.system",
            "os.popen",
            "asyncio.create_subprocess_exec",
            "asyncio.create_subprocess_shell",
            "pexpect.spawn",
            // process-tests' `TestProcess("redis-server", …)` runs its first argument.
            "process_tests.TestProcess",
        ]),
        Spawn(&[At(0), Named("args")]),
    ),
    row(
        Path(&[
            "requests.request",
            "httpx.request",
            "urllib3.request",
            "aiohttp.request",
        ]),
        request(METHOD_AND_URL),
    ),
    row(
        ClientMethod(HTTP_CLIENTS, &["request"]),
        request(METHOD_AND_URL),
    ),
    row(
        Path(&[
            "requests.get",
            "requests.post",
            "requests.put",
            "requests.patch",
            "requests.delete",
            "requests.head",
            "requests.options",
            "httpx.get",
            "httpx.post",
            "httpx.put",
            "httpx.patch",
            "httpx.delete",
            "httpx.head",
            "httpx.options",
            "httpx.stream",
            "urllib.request.urlopen",
            "urllib.request.urlretrieve",
            "websockets.connect",
            "websockets.client.connect",
            "websocket.create_connection",
            "websocket.*.connect",
            "websocket.*.create_connection",
            "urllib2.urlopen",
        ]),
        request(URL),
    ),
    row(ClientMethod(HTTP_CLIENTS, HTTP_VERBS), request(URL)),
    row(
        Path(&[
            "http.client.HTTPConnection",
            "http.client.HTTPSConnection",
            "ftplib.FTP",
            "smtplib.SMTP",
            "smtplib.SMTP_SSL",
            "telnetlib.Telnet",
            "poplib.POP3",
            "imaplib.IMAP4",
        ]),
        HostPort {
            host: &[At(0), Named("host")],
            port: &[At(1), Named("port")],
            default_host: None,
        },
    ),
    // `create_connection(("host", 80))` or `connect(host, port)`.
    row(
        Path(&[
            "socket.create_connection",
            "socket.socket.connect",
            "socket.socket.connect_ex",
            "asyncio.open_connection",
        ]),
        HostPort {
            host: &[Element(0, 0), At(0)],
            port: &[Element(0, 1), At(1)],
            default_host: None,
        },
    ),
    // python-whois asks the registries' WHOIS servers whatever domain it is given.
    row(
        Path(&["whois.whois", "whois.query"]),
        Contacts("WHOIS servers"),
    ),
    row(Path(NETWORK_MOCKS), NetworkMock),
    row(
        Path(&[
            "http.server.*",
            "socketserver.*",
            "pytest_httpserver.*",
            "aiohttp.test_utils.*",
            "werkzeug.serving.make_server",
            "uvicorn.*",
            "socket.socket.bind",
            "socket.socket.listen",
            "asyncio.start_server",
            "*.create_server",
            "aiohttp.web.TCPSite",
            "threading.Thread",
        ]),
        StartsServer,
    ),
    row(
        Path(&[
            "*.setenv",
            "os.environ.update",
            "os.environ.setdefault",
            "os.putenv",
        ]),
        SetsEnv,
    ),
    row(Path(ENV_READS), ReadsEnv(&[At(0), Named("key")])),
];

/// Calls that patch something, and what patching it means by what the arguments name.
pub(crate) const PATCHERS: &[&str] = &[
    "unittest.mock.patch*",
    "mock.patch*",
    "*.patch",
    "*.patch.object",
    "*.patch.dict",
    "*.setattr",
    "*.patch.multiple",
];
pub(crate) const PATCHES: &[Patch] = &[
    Patch {
        mentions: Mentions::Any(&["sleep"]),
        means: Fact::FakeClock,
    },
    Patch {
        mentions: Mentions::Any(&[
            "requests",
            "httpx",
            "urlopen",
            "urllib",
            "aiohttp",
            "socket",
            "http.client",
            "HTTPConnection",
        ]),
        means: Fact::NetworkMock,
    },
    Patch {
        mentions: Mentions::Any(&["environ"]),
        means: Fact::SetsEnv,
    },
    Patch {
        mentions: Mentions::Module(DATABASE_MODULES),
        means: Fact::DatabaseMock,
    },
];

/// Fixtures of pytest plugins, by parameter name, and what requesting one means.
pub(crate) const PLUGIN_FIXTURES: &[(&[&str], Fact)] = &[
    (
        &[
            "httpx_mock",
            "respx_mock",
            "requests_mock",
            "aioresponses",
            "mock_aioresponse",
            "responses_mock",
            "vcr",
            "vcr_cassette",
        ],
        Fact::NetworkMock,
    ),
    (
        &[
            "httpserver",
            "aiohttp_server",
            "aiohttp_raw_server",
            "aiohttp_client",
            "live_server",
            "unused_tcp_port",
            "unused_tcp_port_factory",
            "aiohttp_unused_port",
            "free_port",
            "httpbin",
        ],
        Fact::StartsServer,
    ),
];
/// pytest-docker's fixtures: requesting one starts the compose services.
pub(crate) const DOCKER_FIXTURES: &[&str] = &[
    "docker_services",
    "docker_ip",
    "docker_compose",
    "docker_client",
];

/// unittest and pytest methods that run around tests.
pub(crate) const SETUP_METHODS: &[&str] = &[
    "setUp",
    "setUpClass",
    "asyncSetUp",
    "setup_method",
    "setup_class",
    "setup_module",
    "setup_function",
    "tearDown",
    "tearDownClass",
    "teardown_method",
    "teardown_class",
    "teardown_module",
];

/// Calls whose second argument is a callable they call with the rest
/// (`self.assertRaises(Error, client.get, url)`).
pub(crate) const CALLS_ITS_ARGUMENT: &[&str] =
    &["*.assertRaises", "*.assertRaisesRegex", "pytest.raises"];
/// Calls that check something whatever their name.
pub(crate) const ASSERTION_CALLS: &[&str] = &[
    "pytest.raises",
    "pytest.warns",
    "pytest.fail",
    "pytest.approx",
    "*.fail",
    "pytest.deprecated_call",
];
/// Calls that skip the test they run in.
pub(crate) const SKIP_CALLS: &[&str] = &[
    "pytest.skip",
    "*.skipTest",
    "unittest.SkipTest",
    "SkipTest",
    "unittest.case.SkipTest",
];
/// Decorators that skip a test unconditionally.
pub(crate) const SKIP_DECORATORS: &[&str] = &[
    "pytest.mark.skip",
    "unittest.skip",
    "unittest.case.skip",
    "skip",
];
/// Conditional skips: unconditional when the condition is a literal true.
pub(crate) const SKIP_IF_DECORATORS: &[&str] = &["pytest.mark.skipif", "unittest.skipIf"];
/// Conditional skips whose condition may come from a service variable.
pub(crate) const SERVICE_CONDITIONS: &[&str] = &["*.skipIf", "*.skipUnless", "pytest.mark.skipif"];
/// Marks that make a test an integration test.
pub(crate) const INTEGRATION_MARKS: &[&str] = &[
    "mark.integration",
    "mark.e2e",
    "mark.functional",
    "mark.end_to_end",
    "mark.docker",
];
/// Clock freezers; with `tick=False` time does not pass at all.
pub(crate) const CLOCK_FREEZERS: &[&str] = &["freezegun.freeze_time", "time_machine.travel"];

/// Decorators that make a function a fixture (`@pytest.fixture`, `@pytest.fixture(autouse=True)`).
pub(crate) const FIXTURE_DECORATORS: &[&str] = &[
    "pytest.fixture",
    "fixture",
    "pytest_asyncio.fixture",
    "*.fixture",
];
/// Marks that request fixtures by name for a test, a class or a module.
pub(crate) const USEFIXTURES: &[&str] = &[
    "pytest.mark.usefixtures",
    "*.mark.usefixtures",
    "usefixtures",
];
/// `request.getfixturevalue("name")`: a fixture requested from inside a test or fixture.
pub(crate) const FIXTURE_BY_NAME: &[&str] = &["*.getfixturevalue"];
/// Parameters that are not fixture requests.
pub(crate) const NOT_FIXTURES: &[&str] = &["self", "cls"];
