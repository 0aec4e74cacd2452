//! JavaScript and TypeScript libraries and test frameworks: what their calls mean to a unit test.
//!
//! Modules are named as they are imported (`ioredis`, `node:child_process` as
//! `child_process`); a call's path is the module followed by the members used.

use super::super::facts::Fact;
use super::calls::Arg::{At, Named};
use super::calls::Callee::{Awaited, Path};
use super::calls::Meaning::{
    Database, Docker, FakeClock, HostPort, NetworkMock, Request, SetsEnv, Sleep, Spawn,
    StartsServer, Timer,
};
use super::calls::{Connects, Entry, Mentions, Patch, row};

/// Test functions of jest, vitest, mocha and jasmine (`x…` skips, `f…` focuses).
pub(crate) const TEST_FUNCTIONS: &[&str] =
    &["it", "test", "specify", "xit", "xtest", "fit", "xspecify"];
pub(crate) const SUITE_FUNCTIONS: &[&str] = &[
    "describe",
    "context",
    "suite",
    "xdescribe",
    "fdescribe",
    "xcontext",
];
pub(crate) const HOOKS: &[&str] = &[
    "beforeAll",
    "beforeEach",
    "afterAll",
    "afterEach",
    "before",
    "after",
    "setup",
    "teardown",
];

/// What calls mean, first matching row first. Durations are in milliseconds.
pub(crate) const CALLS: &[Entry] = &[
    // `new Promise(r => setTimeout(r, 3000))`, or a callback that finishes the test
    // (`setTimeout(() => { …; done(); }, 1100)`); otherwise `setTimeout` only schedules.
    row(Path(&["setTimeout"]), Timer(&[At(1)])),
    row(
        Path(&[
            "timers/promises.setTimeout",
            "timers/promises.scheduler.wait",
            "*.waitForTimeout",
        ]),
        Sleep(&[At(0)]),
    ),
    row(
        Awaited(&["sleep", "delay", "wait", "pause"]),
        Sleep(&[At(0)]),
    ),
    row(
        Path(&[
            "testcontainers.*",
            "@testcontainers/*",
            "dockerode*",
            "docker-compose.*",
            "node-docker-api*",
        ]),
        Docker,
    ),
    row(
        Path(&[
            "pg.Pool",
            "pg.Client",
            "pg.default.Pool",
            "pg.default.Client",
            "pg-promise*",
            "postgres",
            "mysql.createConnection",
            "mysql.createPool",
            "mysql2.createConnection",
            "mysql2.createPool",
            "mysql2/promise.createConnection",
            "mysql2/promise.createPool",
            "redis.createClient",
            "redis.createCluster",
            "ioredis",
            "ioredis.Redis",
            "ioredis.Cluster",
            "ioredis.default",
            "mongodb.MongoClient",
            "mongodb.MongoClient.connect",
            "mongoose.connect",
            "mongoose.createConnection",
            "@prisma/client.PrismaClient",
            "cassandra-driver.Client",
            "kafkajs.Kafka",
            "amqplib.connect",
            "amqplib/callback_api.connect",
            "@elastic/elasticsearch.Client",
            "memjs.Client.create",
            "memcached",
            "@neondatabase/serverless.*",
            "@vercel/postgres.*",
        ]),
        Database(Connects::Always),
    ),
    // Query builders connect to the server their `client` names; SQLite is a file.
    row(
        Path(&["knex", "knex.knex", "knex.default", "sequelize.Sequelize"]),
        Database(Connects::Dialect(&[
            "pg", "postgres", "mysql", "mssql", "oracledb", "mariadb",
        ])),
    ),
    row(
        Path(&[
            "child_process.exec",
            "child_process.execSync",
            "child_process.spawn",
            "child_process.spawnSync",
            "child_process.execFile",
            "child_process.execFileSync",
            "execa",
            "execa.*",
            "cross-spawn*",
        ]),
        Spawn(&[At(0)]),
    ),
    // `fetch(url)`, `axios({ url })`, `http.get({ hostname, port })`.
    row(
        Path(&[
            "fetch",
            "node-fetch",
            "node-fetch.default",
            "cross-fetch",
            "undici.fetch",
            "undici.request",
            "needle",
            "needle.get",
            "needle.head",
            "needle.post",
            "needle.put",
            "needle.patch",
            "needle.delete",
            "needle.request",
            "axios",
            "axios.get",
            "axios.post",
            "axios.put",
            "axios.patch",
            "axios.delete",
            "axios.head",
            "axios.request",
            "axios.default.*",
            "axios.create.*",
            "got",
            "got.*",
            "superagent.*",
            "request",
            "request.*",
            "http.get",
            "http.request",
            "https.get",
            "https.request",
            "ky",
            "ky.*",
            "needle",
            "needle.*",
            "ws",
            "WebSocket",
            "ws.WebSocket",
        ]),
        Request {
            url: &[At(0), Named("url")],
            host: &[Named("hostname"), Named("host")],
            port: &[Named("port")],
        },
    ),
    // `net.connect({ host, port })` or `net.connect(port, host)`; the host defaults to local.
    row(
        Path(&["net.connect", "net.createConnection", "tls.connect"]),
        HostPort {
            host: &[Named("host"), At(1)],
            port: &[Named("port"), At(0)],
            default_host: Some("localhost"),
        },
    ),
    row(
        Path(&[
            "nock*",
            "msw*",
            "msw/node*",
            "fetch-mock*",
            "jest-fetch-mock*",
            "undici.MockAgent",
            "axios-mock-adapter*",
            "vitest-fetch-mock*",
            "*.stubGlobal",
            "supertest*",
        ]),
        NetworkMock,
    ),
    row(
        Path(&[
            "http.createServer",
            "https.createServer",
            "net.createServer",
            "*.listen",
            "express",
            "fastify",
            "http2.createServer",
        ]),
        StartsServer,
    ),
    row(
        Path(&[
            "*.useFakeTimers",
            "*.install",
            "*.timers.enable",
            "*.advanceTimersByTime",
            "*.runAllTimers",
        ]),
        FakeClock,
    ),
    row(Path(&["vi.stubEnv", "*.stubEnv"]), SetsEnv),
];

/// True when `package` is itself a client the table names exactly (`ioredis`, `needle`), not
/// merely one a wildcard would match (`pg-promise*` for `pg-promise-extras`).
pub(crate) fn is_known_client(package: &str) -> bool {
    CALLS
        .iter()
        .filter(|entry| entry.meaning.is_client())
        .flat_map(|entry| entry.callee.patterns())
        .any(|pattern| pattern.split('.').next() == Some(package))
}

/// Calls that replace a module or function, and what replacing it means by what the
/// arguments name.
pub(crate) const MOCKERS: &[&str] = &[
    "jest.mock",
    "vi.mock",
    "vi.doMock",
    "jest.doMock",
    "jest.spyOn",
    "vi.spyOn",
    "sinon.stub",
    "*.mock.method",
];
pub(crate) const PATCHES: &[Patch] = &[
    Patch {
        mentions: Mentions::Any(&[
            "fetch",
            "axios",
            "node-fetch",
            "got",
            "undici",
            "http",
            "request",
            "superagent",
            "ky",
        ]),
        means: Fact::NetworkMock,
    },
    Patch {
        mentions: Mentions::Any(&[
            "'pg'",
            "\"pg\"",
            "ioredis",
            "'redis'",
            "\"redis\"",
            "mongodb",
            "mysql",
            "mongoose",
        ]),
        means: Fact::DatabaseMock,
    },
    Patch {
        mentions: Mentions::Any(&["setTimeout", "sleep", "delay"]),
        means: Fact::FakeClock,
    },
];

/// `expect` as jest, vitest and their imports name it.
pub(crate) const EXPECT_PREFIXES: &[&str] = &["expect.", "@jest/globals.expect.", "vitest.expect."];
/// Assertion modules: node's `assert`, chai, sinon, should.js.
pub(crate) const ASSERT_MODULE_PREFIXES: &[&str] =
    &["assert.", "assert/strict", "chai.", "sinon.assert."];
/// Assertions of tap and ava's `t`, and type-level checks.
pub(crate) const TAP_ASSERTIONS: &[&str] = &[
    "t.equal",
    "t.deepEqual",
    "t.strictEqual",
    "t.ok",
    "t.is",
    "t.true",
    "t.throws",
    "t.rejects",
    "t.same",
    "t.match",
    "*.expectTypeOf",
    "expectTypeOf",
    "assertType",
];
