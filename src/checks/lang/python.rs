//! Python front end: pytest and unittest test files.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::super::facts::{Disabled, Fact, FileFacts, Unit, UnitKind};
use super::super::knowledge::{
    is_database_connection_string, is_existence_assertion, is_service_env,
    looks_like_assertion_helper, postgres_rejects_before_connecting, spawned_program, target_of,
    target_of_host_port,
};
use super::super::syntax::{NodeExt, descendants, line, matches_any, text};
use super::Context;
use super::scope::Bindings;

const SLEEPS: &[&str] = &[
    "time.sleep",
    "asyncio.sleep",
    "trio.sleep",
    "anyio.sleep",
    "gevent.sleep",
    "eventlet.sleep",
];
const DOCKER: &[&str] = &[
    "docker.from_env",
    "docker.DockerClient*",
    "docker.APIClient*",
    "docker.client.*",
    "testcontainers.*",
    "python_on_whales.*",
];
/// Libraries that start a real server process for the test, and the program they run.
const SERVICE_LAUNCHERS: &[(&str, &str)] = &[
    ("testing.postgresql.Postgresql", "postgres"),
    ("testing.postgresql.PostgresqlFactory", "postgres"),
    ("testing.mysqld.Mysqld", "mysqld"),
    ("testing.mysqld.MysqldFactory", "mysqld"),
    ("testing.redis.RedisServer", "redis-server"),
    ("testing.memcached.Memcached", "memcached"),
    ("testing.elasticsearch.Elasticsearch", "elasticsearch"),
];
const REAL_DB: &[&str] = &[
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
    "clickhouse_driver.Client",
    "neo4j.GraphDatabase.driver",
    "peewee.PostgresqlDatabase",
    "peewee.MySQLDatabase",
];
/// Calls that open a connection to the server their first argument names.
const CONNECTORS: &[&str] = &["connect", "from_url", "create_pool", "create_connection"];
/// Engines that are only real when their URL names a server database.
const ENGINES: &[&str] = &[
    "sqlalchemy.create_engine",
    "sqlalchemy.ext.asyncio.create_async_engine",
    "databases.Database",
];
/// Roots of database and cache client modules: patching or reassigning them stubs the server.
const DATABASE_MODULES: &[&str] = &[
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
];
const SUBPROCESS: &[&str] = &[
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
];
const HTTP_FUNCTIONS: &[&str] = &[
    "requests.get",
    "requests.post",
    "requests.put",
    "requests.patch",
    "requests.delete",
    "requests.head",
    "requests.options",
    "requests.request",
    "httpx.get",
    "httpx.post",
    "httpx.put",
    "httpx.patch",
    "httpx.delete",
    "httpx.head",
    "httpx.options",
    "httpx.request",
    "httpx.stream",
    "urllib.request.urlopen",
    "urllib.request.urlretrieve",
    "urllib3.request",
    "aiohttp.request",
    "websockets.connect",
    "websockets.client.connect",
    "websocket.create_connection",
    "websocket.*.connect",
    "websocket.*.create_connection",
    "urllib2.urlopen",
];
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
    "request",
    "stream",
    "urlopen",
    "ws_connect",
    "connect",
];
const HOST_CONNECTIONS: &[&str] = &[
    "http.client.HTTPConnection",
    "http.client.HTTPSConnection",
    "ftplib.FTP",
    "smtplib.SMTP",
    "smtplib.SMTP_SSL",
    "telnetlib.Telnet",
    "poplib.POP3",
    "imaplib.IMAP4",
];
const SOCKET_CONNECTS: &[&str] = &[
    "socket.create_connection",
    "socket.socket.connect",
    "socket.socket.connect_ex",
    "asyncio.open_connection",
];
const NETWORK_MOCKS: &[&str] = &[
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
const SERVERS: &[&str] = &[
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
];
const PATCHERS: &[&str] = &[
    "unittest.mock.patch*",
    "mock.patch*",
    "*.patch",
    "*.patch.object",
    "*.patch.dict",
    "*.setattr",
    "*.patch.multiple",
];
const ENV_SETTERS: &[&str] = &[
    "*.setenv",
    "os.environ.update",
    "os.environ.setdefault",
    "os.putenv",
];
const ENV_READS: &[&str] = &[
    "os.environ.get",
    "os.getenv",
    "os.environ.__getitem__",
    "environ.get",
];
const MOCK_FIXTURES: &[&str] = &[
    "httpx_mock",
    "respx_mock",
    "requests_mock",
    "aioresponses",
    "mock_aioresponse",
    "responses_mock",
    "vcr",
    "vcr_cassette",
];
const SERVER_FIXTURES: &[&str] = &[
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
];
const DOCKER_FIXTURES: &[&str] = &[
    "docker_services",
    "docker_ip",
    "docker_compose",
    "docker_client",
];
const SETUP_METHODS: &[&str] = &[
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

/// Nodes that hold statements (or the `with ... as` targets) rather than expressions.
const STATEMENT_CONTAINERS: &[&str] = &[
    "module",
    "block",
    "function_definition",
    "class_definition",
    "decorated_definition",
    "if_statement",
    "elif_clause",
    "else_clause",
    "for_statement",
    "while_statement",
    "try_statement",
    "except_clause",
    "except_group_clause",
    "finally_clause",
    "with_statement",
    "with_clause",
    "with_item",
    "expression_statement",
    "match_statement",
    "case_clause",
];

/// Reads a parsed Python test file into facts.
pub(crate) fn facts(root: Node<'_>, source: &str, context: &Context<'_>) -> FileFacts {
    let mut file = PythonFile {
        source,
        context,
        imports: HashMap::new(),
        bindings: Bindings::new(Vec::new()),
        classes: HashSet::new(),
    };
    // Imports and bindings are statements: expressions need not be entered to find them.
    let statements = descendants(root, |node| {
        !STATEMENT_CONTAINERS.contains(&node.node_kind())
    });
    file.bindings = Bindings::new(
        statements
            .iter()
            .filter(|node| node.node_kind() == "function_definition")
            .map(|node| node.byte_range())
            .collect(),
    );
    for node in &statements {
        match node.node_kind() {
            "class_definition" => {
                if let Some(name) = node.field("name") {
                    file.classes.insert(text(name, source));
                }
            }
            "import_statement" | "import_from_statement" => file.import(*node),
            "assignment" => {
                if let (Some(left), Some(right)) = (node.field("left"), node.field("right")) {
                    file.bind(text(left, source), right);
                }
            }
            "as_pattern" => {
                if let (Some(value), Some(alias)) = (node.named_child(0), node.field("alias")) {
                    file.bind(text(alias, source), value);
                }
            }
            _ => {}
        }
    }

    let mut units = Vec::new();
    let mut module = Unit::new("<module>", UnitKind::Module, 1);
    for node in descendants(root, is_definition) {
        if node == root || is_definition(node) {
            continue;
        }
        file.observe(node, &mut module);
    }
    if let Some(marker) = file.bindings.first("pytestmark")
        && is_integration_mark(text(marker, source))
    {
        module.see(Fact::IntegrationMarker, line(marker));
    }
    units.push(module);
    file.collect_definitions(root, None, &mut units);
    FileFacts { units }
}

fn is_definition(node: Node<'_>) -> bool {
    matches!(
        node.node_kind(),
        "function_definition" | "class_definition" | "decorated_definition"
    )
}

fn is_integration_mark(mark: &str) -> bool {
    [
        "mark.integration",
        "mark.e2e",
        "mark.functional",
        "mark.end_to_end",
        "mark.docker",
    ]
    .iter()
    .any(|m| mark.contains(m))
}

struct PythonFile<'s, 't, 'c> {
    source: &'s str,
    context: &'c Context<'c>,
    /// Local name → dotted import path.
    imports: HashMap<String, String>,
    /// Assigned names (and `self.attr`) and their values, per function.
    bindings: Bindings<'t>,
    /// Names of the classes defined in the file, nested ones included.
    classes: HashSet<&'s str>,
}

/// The class a definition sits in, as far as test discovery cares.
#[derive(Clone, Copy)]
struct ClassInfo {
    is_test_class: bool,
}

impl<'s, 't, 'c> PythonFile<'s, 't, 'c> {
    fn text(&self, node: Node<'_>) -> &'s str {
        text(node, self.source)
    }

    fn bind(&mut self, name: &str, value: Node<'t>) {
        self.bindings.bind(name, value.start_byte(), value);
    }

    /// The value `name` holds where `at` uses it.
    fn binding(&self, name: &str, at: Node<'_>) -> Option<Node<'t>> {
        self.bindings.lookup(name, at.start_byte())
    }

    fn import(&mut self, node: Node<'t>) {
        let mut cursor = node.walk();
        let module = node
            .field("module_name")
            .map(|m| self.text(m).trim_start_matches('.').to_string());
        for name in node.children_by_field_name("name", &mut cursor) {
            let (full, alias) = match name.node_kind() {
                "aliased_import" => {
                    let full = name.field("name").map(|n| self.text(n)).unwrap_or("");
                    let alias = name.field("alias").map(|n| self.text(n)).unwrap_or(full);
                    (full.to_string(), alias.to_string())
                }
                _ => {
                    let full = self.text(name).to_string();
                    let alias = match &module {
                        Some(_) => full.clone(),
                        None => full.split('.').next().unwrap_or("").to_string(),
                    };
                    (full, alias)
                }
            };
            let path = match &module {
                Some(module) if !module.is_empty() => format!("{module}.{full}"),
                _ if module.is_none() && !self.text(name).contains(" as ") => {
                    full.split('.').next().unwrap_or("").to_string()
                }
                _ => full,
            };
            self.imports.insert(alias, path);
        }
    }

    /// The dotted path an expression names after resolving imports and simple bindings.
    fn path(&self, node: Node<'_>, depth: usize) -> Option<String> {
        let mut out = String::new();
        self.path_into(node, depth, &mut out).then_some(out)
    }

    /// Appends the dotted path of `node` to `out`; false (with `out` in any state) when the
    /// expression names nothing.
    fn path_into(&self, node: Node<'_>, depth: usize, out: &mut String) -> bool {
        if depth > 8 {
            return false;
        }
        match node.node_kind() {
            "identifier" => {
                let name = self.text(node);
                if let Some(path) = self.imports.get(name) {
                    out.push_str(path);
                    return true;
                }
                if let Some(value) = self.binding(name, node)
                    && matches!(value.node_kind(), "call" | "attribute" | "await")
                {
                    return self.path_into(value, depth + 1, out);
                }
                out.push_str(name);
                true
            }
            "attribute" => {
                if let Some(value) = self.binding(self.text(node), node)
                    && value.node_kind() == "call"
                {
                    return self.path_into(value, depth + 1, out);
                }
                let (Some(object), Some(attribute)) =
                    (node.field("object"), node.field("attribute"))
                else {
                    return false;
                };
                let mark = out.len();
                if !self.path_into(object, depth + 1, out) {
                    out.truncate(mark);
                    out.push('?');
                }
                out.push('.');
                out.push_str(self.text(attribute));
                true
            }
            "call" => node
                .field("function")
                .is_some_and(|f| self.path_into(f, depth + 1, out)),
            "await" | "parenthesized_expression" => node
                .named_child(0)
                .is_some_and(|c| self.path_into(c, depth + 1, out)),
            _ => false,
        }
    }

    /// The static value of a string expression (literal, f-string prefix, bound name).
    fn string(&self, node: Node<'_>, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "string" => {
                let mut cursor = node.walk();
                let mut out = String::new();
                for child in node.named_children(&mut cursor) {
                    match child.node_kind() {
                        "string_content" => out.push_str(self.text(child)),
                        "interpolation" => {
                            match child.named_child(0).and_then(|e| self.string(e, depth + 1)) {
                                Some(value) => out.push_str(&value),
                                None => {
                                    out.push('{');
                                    break;
                                }
                            }
                        }
                        _ => {}
                    }
                }
                Some(out)
            }
            "concatenated_string" => {
                let mut cursor = node.walk();
                let parts: Vec<String> = node
                    .named_children(&mut cursor)
                    .filter_map(|c| self.string(c, depth + 1))
                    .collect();
                Some(parts.concat())
            }
            "binary_operator" => self.string(node.field("left")?, depth + 1),
            "identifier" => self.string(self.binding(self.text(node), node)?, depth + 1),
            "parenthesized_expression" => self.string(node.named_child(0)?, depth + 1),
            _ => None,
        }
    }

    /// The static value of a numeric expression, in its own unit.
    fn number(&self, node: Node<'_>, depth: usize) -> Option<f64> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "integer" => self.text(node).replace('_', "").parse().ok(),
            "float" => self.text(node).replace('_', "").parse().ok(),
            "parenthesized_expression" => self.number(node.named_child(0)?, depth + 1),
            "unary_operator" => {
                let value = self.number(node.field("argument")?, depth + 1)?;
                Some(if self.text(node).starts_with('-') {
                    -value
                } else {
                    value
                })
            }
            "binary_operator" => {
                let left = self.number(node.field("left")?, depth + 1)?;
                let right = self.number(node.field("right")?, depth + 1)?;
                match self.text(node.field("operator")?) {
                    "*" => Some(left * right),
                    "/" if right != 0.0 => Some(left / right),
                    "+" => Some(left + right),
                    "-" => Some(left - right),
                    _ => None,
                }
            }
            "identifier" => self.number(self.binding(self.text(node), node)?, depth + 1),
            _ => None,
        }
    }

    fn arguments(&self, call: Node<'t>) -> (Vec<Node<'t>>, Vec<(&'s str, Node<'t>)>) {
        let mut positional = Vec::new();
        let mut keywords = Vec::new();
        if let Some(args) = call.field("arguments") {
            let mut cursor = args.walk();
            for arg in args.named_children(&mut cursor) {
                match arg.node_kind() {
                    "keyword_argument" => {
                        if let (Some(name), Some(value)) = (arg.field("name"), arg.field("value")) {
                            keywords.push((self.text(name), value));
                        }
                    }
                    "comment" => {}
                    _ => positional.push(arg),
                }
            }
        }
        (positional, keywords)
    }

    fn collect_definitions(&self, node: Node<'t>, class: Option<ClassInfo>, units: &mut Vec<Unit>) {
        let mut cursor = node.walk();
        let body: Vec<Node<'t>> = match node.node_kind() {
            "module" => node.named_children(&mut cursor).collect(),
            _ => node
                .field("body")
                .map(|b| b.named_children(&mut cursor).collect())
                .unwrap_or_default(),
        };
        for child in body {
            let (definition, decorators) = if child.node_kind() == "decorated_definition" {
                let mut c = child.walk();
                let decorators: Vec<Node<'t>> = child
                    .named_children(&mut c)
                    .filter(|d| d.node_kind() == "decorator")
                    .collect();
                match child.field("definition") {
                    Some(definition) => (definition, decorators),
                    None => continue,
                }
            } else {
                (child, Vec::new())
            };
            match definition.node_kind() {
                "class_definition" => {
                    let name = definition.field("name").map(|n| self.text(n)).unwrap_or("");
                    let bases = definition
                        .field("superclasses")
                        .map(|b| self.text(b))
                        .unwrap_or("");
                    // `test_*` classes are collected by projects that set `python_classes = test_*` (kombu, celery).
                    let is_test_class = name.starts_with("Test")
                        || name.starts_with("test_")
                        || bases.contains("TestCase");
                    let mut marker_unit = Unit::new(name, UnitKind::Setup, line(definition));
                    for decorator in &decorators {
                        self.decorator(*decorator, &mut marker_unit);
                    }
                    let class_units_start = units.len();
                    self.collect_definitions(definition, Some(ClassInfo { is_test_class }), units);
                    // Stubs made in the class's setUp cover the class's tests.
                    let class_stubs: Vec<_> = units[class_units_start..]
                        .iter()
                        .filter(|unit| unit.kind == UnitKind::Setup)
                        .flat_map(|unit| unit.seen.iter())
                        .filter(|seen| seen.fact == Fact::DatabaseMock)
                        .cloned()
                        .collect();
                    // Class decorators (skip, integration marks) apply to every method.
                    for unit in &mut units[class_units_start..] {
                        if unit.kind == UnitKind::Test {
                            unit.seen.extend(class_stubs.iter().cloned());
                        }
                        if unit.kind == UnitKind::Test {
                            if unit.disabled.is_none() {
                                unit.disabled = marker_unit.disabled.clone();
                            }
                            unit.seen.extend(marker_unit.seen.iter().cloned());
                        }
                    }
                }
                "function_definition" => {
                    units.push(self.function_unit(definition, &decorators, class));
                }
                _ => {}
            }
        }
    }

    fn function_unit(
        &self,
        function: Node<'t>,
        decorators: &[Node<'t>],
        class: Option<ClassInfo>,
    ) -> Unit {
        let name = function.field("name").map(|n| self.text(n)).unwrap_or("");
        let decorator_text: String = decorators.iter().map(|d| self.text(*d)).collect();
        let is_fixture = decorator_text.contains("fixture");
        let in_test_scope = class.is_none_or(|c| c.is_test_class);
        let kind = if is_fixture || SETUP_METHODS.contains(&name) {
            UnitKind::Setup
        } else if name.starts_with("test") && in_test_scope {
            UnitKind::Test
        } else {
            UnitKind::Helper
        };
        let mut unit = Unit::new(name, kind, line(function));
        for decorator in decorators {
            self.decorator(*decorator, &mut unit);
        }
        if let Some(parameters) = function.field("parameters") {
            let mut cursor = parameters.walk();
            for parameter in parameters.named_children(&mut cursor) {
                let name_node = match parameter.node_kind() {
                    "identifier" => Some(parameter),
                    _ => parameter.field("name").or_else(|| parameter.named_child(0)),
                };
                let Some(name_node) = name_node else { continue };
                let parameter_name = self.text(name_node);
                let at = line(parameter);
                if MOCK_FIXTURES.contains(&parameter_name) {
                    unit.see(Fact::NetworkMock, at);
                } else if SERVER_FIXTURES.contains(&parameter_name) {
                    unit.see(Fact::StartsServer, at);
                } else if DOCKER_FIXTURES.contains(&parameter_name) {
                    unit.see(Fact::Docker(format!("{parameter_name} fixture")), at);
                }
            }
        }
        if let Some(body) = function.field("body") {
            let mut cursor = body.walk();
            for statement in body.named_children(&mut cursor) {
                if self.is_unconditional_skip(statement) && unit.kind == UnitKind::Test {
                    unit.disabled = Some((Disabled::Skip, line(statement)));
                }
            }
            // Strings hold no calls worth seeing (f-string holes aside), only many nodes.
            for node in descendants(body, |n| n.node_kind() == "string") {
                self.observe(node, &mut unit);
            }
        }
        unit
    }

    fn is_unconditional_skip(&self, statement: Node<'_>) -> bool {
        let expression = match statement.node_kind() {
            "expression_statement" => statement.named_child(0),
            "raise_statement" => statement.named_child(0),
            _ => None,
        };
        let Some(expression) = expression else {
            return false;
        };
        if expression.node_kind() != "call" {
            return false;
        }
        let path = self.path(expression, 0).unwrap_or_default();
        matches_any(
            &[
                "pytest.skip",
                "*.skipTest",
                "unittest.SkipTest",
                "SkipTest",
                "unittest.case.SkipTest",
            ],
            &path,
        )
    }

    fn decorator(&self, decorator: Node<'t>, unit: &mut Unit) {
        let Some(expression) = decorator.named_child(0) else {
            return;
        };
        let at = line(decorator);
        let path = self.path(expression, 0).unwrap_or_default();
        let has_arguments = expression.node_kind() == "call";
        let (positional, _) = if has_arguments {
            self.arguments(expression)
        } else {
            (Vec::new(), Vec::new())
        };
        if matches_any(
            &[
                "pytest.mark.skip",
                "unittest.skip",
                "unittest.case.skip",
                "skip",
            ],
            &path,
        ) || (matches_any(&["pytest.mark.skipif", "unittest.skipIf"], &path)
            && positional
                .first()
                .is_some_and(|c| matches!(c.node_kind(), "true" | "integer")))
        {
            unit.disabled = Some((Disabled::Skip, at));
        }
        if is_integration_mark(&path) {
            unit.see(Fact::IntegrationMarker, at);
        }
        if matches_any(&["*.skipIf", "*.skipUnless", "pytest.mark.skipif"], &path) {
            // `@skipUnless(HAVE_SERVER, ...)` where HAVE_SERVER comes from a service variable.
            for variable in self.environment_behind(expression, 0) {
                if is_service_env(&variable) {
                    unit.see(Fact::ServiceFromEnv(variable), at);
                }
            }
        }
        if matches_any(NETWORK_MOCKS, &path) {
            unit.see(Fact::NetworkMock, at);
        }
        if matches_any(&["freezegun.freeze_time", "time_machine.travel"], &path)
            && self.text(decorator).contains("tick=False")
        {
            unit.see(Fact::FakeClock, at);
        }
        for node in descendants(decorator, |_| false) {
            self.observe(node, unit);
        }
    }

    /// Environment variables an expression reads, directly or through module-level names.
    fn environment_behind(&self, expression: Node<'_>, depth: usize) -> Vec<String> {
        if depth > 4 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for node in descendants(expression, |_| false) {
            match node.node_kind() {
                "call" => {
                    let path = node
                        .field("function")
                        .and_then(|f| self.path(f, 0))
                        .unwrap_or_default();
                    if matches_any(ENV_READS, &path)
                        && let Some(variable) = node
                            .field("arguments")
                            .and_then(|a| a.named_child(0))
                            .and_then(|a| self.string(a, 0))
                    {
                        out.push(variable);
                    }
                }
                "identifier" => {
                    if let Some(value) = self.binding(self.text(node), node) {
                        out.extend(self.environment_behind(value, depth + 1));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Records what one node means for the unit it sits in.
    fn observe(&self, node: Node<'t>, unit: &mut Unit) {
        let at = line(node);
        match node.node_kind() {
            "assert_statement" => {
                let weak = node
                    .named_child(0)
                    .is_some_and(|e| self.is_weak_condition(e));
                unit.see(Fact::Assertion { weak }, at);
            }
            "subscript" => {
                if let Some(value) = node.field("value")
                    && self.text(value).ends_with("environ")
                    && self.path(value, 0).as_deref() == Some("os.environ")
                {
                    let is_target = node.parent().is_some_and(|p| {
                        p.node_kind() == "assignment" && p.field("left") == Some(node)
                    });
                    if is_target {
                        unit.see(Fact::SetsEnv, at);
                    } else if let Some(variable) =
                        node.field("subscript").and_then(|k| self.string(k, 0))
                        && is_service_env(&variable)
                    {
                        unit.see(Fact::ServiceFromEnv(variable), at);
                    }
                }
            }
            "call" => self.call(node, unit),
            "assignment" => {
                // `psycopg2._connect = stub`: the client module itself is replaced. A constant
                // (`pymysql.connections.DEFAULT_PLUGIN = "…"`) is a setting, not a stub.
                let constant = node.field("right").is_some_and(|value| {
                    matches!(
                        value.node_kind(),
                        "string"
                            | "integer"
                            | "float"
                            | "true"
                            | "false"
                            | "none"
                            | "concatenated_string"
                    )
                });
                let target = node
                    .field("left")
                    .filter(|l| l.node_kind() == "attribute" && !constant);
                let root = target
                    .and_then(|t| t.field("object"))
                    .and_then(|o| self.path(o, 0));
                if root.is_some_and(|root| {
                    DATABASE_MODULES.iter().any(|m| {
                        root.strip_prefix(m)
                            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
                    })
                }) {
                    unit.see(Fact::DatabaseMock, at);
                }
            }
            _ => {}
        }
    }

    fn call(&self, call: Node<'t>, unit: &mut Unit) {
        let Some(function) = call.field("function") else {
            return;
        };
        let (positional, keywords) = self.arguments(call);
        let Some(path) = self.path(function, 0) else {
            return;
        };
        // `self.assertRaises(Error, client.get, url)` calls `client.get(url)`.
        if matches_any(
            &["*.assertRaises", "*.assertRaisesRegex", "pytest.raises"],
            &path,
        ) && let Some(callee) = positional.get(1)
            && let Some(callee_path) = self.path(*callee, 0)
        {
            self.classify(
                call,
                *callee,
                &callee_path,
                positional[2..].to_vec(),
                Vec::new(),
                unit,
            );
        }
        self.classify(call, function, &path, positional, keywords, unit);
    }

    /// The shortest timeout around `node`: `with env.timeout(0.15):`, `async with
    /// asyncio.timeout(1):`, `asyncio.wait_for(…, timeout=0.5)`. A sleep inside is cut short there.
    fn enclosing_timeout(&self, node: Node<'t>) -> Option<f64> {
        let is_timeout = |call: Node<'_>| {
            call.field("function").is_some_and(|f| {
                let name = match f.node_kind() {
                    "attribute" => f.field("attribute").map(|a| self.text(a)),
                    _ => Some(self.text(f)),
                };
                name.is_some_and(|n| n == "timeout" || n == "wait_for")
            })
        };
        // Positional arguments come before keywords in Python, so this is source order.
        let duration = |call: Node<'t>| {
            let (positional, keywords) = self.arguments(call);
            positional
                .iter()
                .find_map(|argument| self.number(*argument, 0))
                .or_else(|| {
                    keywords
                        .iter()
                        .filter(|(name, _)| matches!(*name, "timeout" | "seconds" | "delay"))
                        .find_map(|(_, value)| self.number(*value, 0))
                })
        };
        let mut bound: Option<f64> = None;
        let mut current = node.parent();
        while let Some(parent) = current {
            let timeout = match parent.node_kind() {
                "with_statement" => descendants(parent, |n| n.node_kind() == "block")
                    .into_iter()
                    .filter(|n| n.node_kind() == "with_item")
                    .filter_map(|item| item.named_child(0))
                    .filter_map(|value| match value.node_kind() {
                        "as_pattern" => value.named_child(0),
                        _ => Some(value),
                    })
                    .filter(|value| value.node_kind() == "call" && is_timeout(*value))
                    .filter_map(duration)
                    .reduce(f64::min),
                "call" if is_timeout(parent) => duration(parent),
                "function_definition" => break,
                _ => None,
            };
            if let Some(timeout) = timeout {
                bound = Some(bound.map_or(timeout, |b| b.min(timeout)));
            }
            current = parent.parent();
        }
        bound
    }

    /// Records what calling `function` with these arguments means.
    fn classify(
        &self,
        call: Node<'t>,
        function: Node<'t>,
        path: &str,
        positional: Vec<Node<'t>>,
        keywords: Vec<(&str, Node<'t>)>,
        unit: &mut Unit,
    ) {
        let at = line(call);
        let keyword = |name: &str| keywords.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let first = positional.first().copied();

        // Same-file helpers: `helper()` and `self.helper()`.
        match function.node_kind() {
            "identifier" => unit.calls.push(self.text(function).to_string()),
            "attribute" => {
                if let (Some(object), Some(attribute)) =
                    (function.field("object"), function.field("attribute"))
                    && matches!(self.text(object), "self" | "cls")
                {
                    unit.calls.push(self.text(attribute).to_string());
                }
            }
            _ => {}
        }
        let last = path.rsplit('.').next().unwrap_or(path);

        if matches_any(SLEEPS, path) {
            if let Some(seconds) = first
                .or(keyword("seconds"))
                .or(keyword("delay"))
                .and_then(|a| self.number(a, 0))
            {
                let bound = self.enclosing_timeout(call).unwrap_or(f64::INFINITY);
                unit.see(Fact::Sleep(seconds.min(bound)), at);
            }
        } else if matches_any(DOCKER, path) {
            unit.see(Fact::Docker(path.to_string()), at);
        } else if matches_any(REAL_DB, path) {
            // libpq refuses some key/value strings before connecting (`host=a port=1,2`): such a
            // test checks the driver's configuration, not a server.
            let refused = path.contains("psycopg")
                && first
                    .or(keyword("dsn"))
                    .and_then(|a| self.string(a, 0))
                    .is_some_and(|s| postgres_rejects_before_connecting(&s, false));
            if !refused {
                unit.see(Fact::RealDb(path.to_string()), at);
            }
        } else if CONNECTORS.contains(&last)
            && first
                .or(keyword("url"))
                .or(keyword("dsn"))
                .and_then(|a| self.string(a, 0))
                .is_some_and(|s| {
                    is_database_connection_string(&s)
                        && !postgres_rejects_before_connecting(&s, false)
                })
        {
            // `Client.from_url("redis://...")` whatever `Client` is.
            unit.see(Fact::RealDb(path.to_string()), at);
        } else if matches_any(ENGINES, path) {
            let url = first.or(keyword("url")).and_then(|a| self.string(a, 0));
            if url.is_some_and(|url| {
                !url.is_empty() && !url.starts_with("sqlite") && url.contains("://")
            }) {
                unit.see(Fact::RealDb(path.to_string()), at);
            }
        } else if let Some((_, program)) = SERVICE_LAUNCHERS
            .iter()
            .find(|(pattern, _)| matches_any(&[pattern], path))
        {
            // `Postgresql(auto_start=0)` only describes the server it could start.
            let started = keyword("auto_start")
                .is_none_or(|value| !matches!(self.text(value), "0" | "False"));
            if started {
                unit.see(Fact::ServiceSubprocess((*program).to_string()), at);
            }
        } else if matches_any(SUBPROCESS, path) {
            let command = first.or(keyword("args")).and_then(|a| match a.node_kind() {
                "list" | "tuple" => a.named_child(0).and_then(|c| self.string(c, 0)),
                _ => self.string(a, 0),
            });
            if let Some(fact) = command.as_deref().and_then(spawned_program) {
                unit.see(fact, at);
            }
        } else if matches_any(HTTP_FUNCTIONS, path)
            || (HTTP_VERBS.contains(&last)
                && path
                    .strip_suffix(last)
                    .and_then(|client| client.strip_suffix('.'))
                    .is_some_and(|client| matches_any(HTTP_CLIENTS, client)))
        {
            let url = if last == "request" && positional.len() > 1 {
                positional.get(1).copied()
            } else {
                first
            };
            // `create_connection(url, class_=DummySocket)`: a class of this file stands in for
            // the socket, so nothing leaves the process.
            let injected = keywords.iter().any(|(_, value)| {
                value.node_kind() == "identifier" && self.classes.contains(self.text(*value))
            });
            if let Some(target) = url
                .or(keyword("url"))
                .and_then(|a| self.string(a, 0))
                .and_then(|u| target_of(&u))
                .filter(|_| !injected)
            {
                unit.see(Fact::Network(target), at);
            }
        } else if matches_any(HOST_CONNECTIONS, path) {
            let host = first.or(keyword("host")).and_then(|a| self.string(a, 0));
            let port = positional
                .get(1)
                .copied()
                .or(keyword("port"))
                .and_then(|p| self.number(p, 0));
            if let Some(target) = host.and_then(|h| target_of_host_port(&h, port.map(|p| p as u32)))
            {
                unit.see(Fact::Network(target), at);
            }
        } else if matches_any(SOCKET_CONNECTS, path) {
            let address = first.filter(|a| a.node_kind() == "tuple");
            let host = address
                .and_then(|a| a.named_child(0))
                .and_then(|h| self.string(h, 0));
            let port = address
                .and_then(|a| a.named_child(1))
                .and_then(|p| self.number(p, 0));
            let host = host.or_else(|| first.and_then(|h| self.string(h, 0)));
            let port = port.or_else(|| positional.get(1).and_then(|p| self.number(*p, 0)));
            if let Some(target) = host.and_then(|h| target_of_host_port(&h, port.map(|p| p as u32)))
            {
                unit.see(Fact::Network(target), at);
            }
        } else if matches_any(NETWORK_MOCKS, path) {
            unit.see(Fact::NetworkMock, at);
        } else if matches_any(SERVERS, path) {
            unit.see(Fact::StartsServer, at);
        } else if matches_any(ENV_SETTERS, path) {
            unit.see(Fact::SetsEnv, at);
        } else if matches_any(ENV_READS, path)
            && let Some(variable) = first.or(keyword("key")).and_then(|a| self.string(a, 0))
            && is_service_env(&variable)
        {
            unit.see(Fact::ServiceFromEnv(variable), at);
        }

        if matches_any(PATCHERS, path) {
            let arguments = call.field("arguments").map(|a| self.text(a)).unwrap_or("");
            if arguments.contains("sleep") {
                unit.see(Fact::FakeClock, at);
            }
            if [
                "requests",
                "httpx",
                "urlopen",
                "urllib",
                "aiohttp",
                "socket",
                "http.client",
                "HTTPConnection",
            ]
            .iter()
            .any(|lib| arguments.contains(lib))
            {
                unit.see(Fact::NetworkMock, at);
            }
            if arguments.contains("environ") {
                unit.see(Fact::SetsEnv, at);
            }
            if DATABASE_MODULES.iter().any(|module| {
                arguments.contains(&format!("\"{module}."))
                    || arguments.contains(&format!("'{module}."))
            }) {
                unit.see(Fact::DatabaseMock, at);
            }
        }

        if let Some(weak) = self.assertion_call(path, last, function, &positional) {
            unit.see(Fact::Assertion { weak }, at);
        }
    }

    /// `Some(weak)` when the call asserts something.
    fn assertion_call(
        &self,
        path: &str,
        last: &str,
        function: Node<'_>,
        positional: &[Node<'_>],
    ) -> Option<bool> {
        if self.context.is_configured_helper(path, last) {
            return Some(false);
        }
        if matches_any(
            &[
                "pytest.raises",
                "pytest.warns",
                "pytest.fail",
                "pytest.approx",
                "*.fail",
                "pytest.deprecated_call",
            ],
            path,
        ) {
            return Some(false);
        }
        if last.starts_with("assert") || last.starts_with("Assert") {
            let weak = match last {
                "assertTrue" | "assert_" | "failUnless" => positional
                    .first()
                    .is_some_and(|c| self.is_weak_condition(*c)),
                _ if is_existence_assertion(last) => true,
                "assertEqual" | "assertEquals" | "assertIs" => {
                    match (positional.first(), positional.get(1)) {
                        (Some(a), Some(b)) => self.text(*a) == self.text(*b),
                        _ => false,
                    }
                }
                _ => false,
            };
            return Some(weak);
        }
        let local_name = match function.node_kind() {
            "identifier" => Some(self.text(function)),
            "attribute" => function
                .field("object")
                .filter(|o| matches!(self.text(*o), "self" | "cls"))
                .and_then(|_| function.field("attribute"))
                .map(|a| self.text(a)),
            _ => None,
        };
        if let Some(name) = local_name.filter(|name| looks_like_assertion_helper(name))
            && !path.contains("subprocess")
        {
            return Some(is_existence_assertion(name));
        }
        None
    }

    /// True for conditions that hold whatever the code under test does.
    fn is_weak_condition(&self, condition: Node<'_>) -> bool {
        match condition.node_kind() {
            "true" | "integer" | "float" | "string" => true,
            "comparison_operator" => {
                let mut cursor = condition.walk();
                let operators: Vec<String> = condition
                    .children(&mut cursor)
                    .filter(|c| !c.is_named())
                    .map(|c| self.text(c).split_whitespace().collect::<String>())
                    .collect();
                let (Some(left), Some(right)) =
                    (condition.named_child(0), condition.named_child(1))
                else {
                    return false;
                };
                if condition.named_child_count() != 2 {
                    return false;
                }
                let is_not_none = operators.concat() == "isnot" && right.node_kind() == "none";
                // Two calls with the same text can differ (`Lock(p) is Lock(p)` tests a cache).
                let tautology = self.text(left) == self.text(right)
                    && !descendants(left, |_| false)
                        .iter()
                        .any(|n| n.node_kind() == "call")
                    && matches!(operators.concat().as_str(), "==" | "is" | "<=" | ">=");
                is_not_none || tautology
            }
            "parenthesized_expression" => condition
                .named_child(0)
                .is_some_and(|c| self.is_weak_condition(c)),
            _ => false,
        }
    }
}
