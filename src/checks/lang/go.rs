//! Go front end: `func TestX(t *testing.T)` in `_test.go` files.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::super::facts::{Disabled, Fact, FileFacts, Unit, UnitKind};
use super::super::knowledge::{
    is_existence_assertion, is_service_env, looks_like_assertion_helper, spawned_program, target_of,
};
use super::super::syntax::{NodeExt, call_arguments, descendants, line, matches_any, text};
use super::Context;
use super::scope::Bindings;

const DOCKER: &[&str] = &[
    "*testcontainers-go*",
    "*docker/docker/client*",
    "*docker/docker/api*",
    "*ory/dockertest*",
    "*fsouza/go-dockerclient*",
    "*docker/compose*",
];
const REAL_DB: &[&str] = &[
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
    "*amqp*.Dial",
    "*olivere/elastic*.NewClient",
    "*elastic/go-elasticsearch*.NewClient",
    "*bradfitz/gomemcache/memcache.New",
    "*nats-io/nats.go.Connect",
    // NewCluster only builds a configuration: the session connects.
    "*gocql/gocql.NewCluster*.CreateSession",
    // sarama's connecting constructors (`NewConfig`, `NewMockBroker` connect nothing).
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
const HTTP_METHODS: &[&str] = &[
    "Get",
    "Post",
    "Head",
    "PostForm",
    "Dial",
    "DialContext",
    "NewClient",
    "Put",
    "Patch",
    "Delete",
    "Options",
];
const DIALS: &[&str] = &[
    "net.Dial",
    "net.DialTimeout",
    "net.DialTCP",
    "crypto/tls.Dial",
];
const NETWORK_MOCKS: &[&str] = &[
    "*h2non/gock*",
    "*jarcoal/httpmock*",
    "*dnaeon/go-vcr*",
    "*seborama/govcr*",
];
const SERVERS: &[&str] = &[
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
const FAKE_CLOCKS: &[&str] = &[
    "testing/synctest.*",
    "*jonboulle/clockwork*",
    "*benbjohnson/clock.NewMock",
    "*k8s.io/utils/clock/testing*",
];

/// Options that hand the client a connection the test made itself.
const INJECTED_CONNECTIONS: &[&str] = &[
    "*/redigo/redis.DialNetDial",
    "*/redigo/redis.DialContextFunc",
];
/// go-sql-driver/mysql's connect calls, whose DSN or `Config.Net` names a network.
const MYSQL_CONNECTS: &[&str] = &["*go-sql-driver/mysql.*"];

/// Client calls an unqualified name stands for inside the client's own package.
const OWN_PACKAGE_CLIENTS: &[&[&str]] = &[REAL_DB, SQL_OPENS, HTTP];

/// `github.com/redis/go-redis/v9` as `github.com/redis/go-redis`.
fn without_version_suffix(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((rest, last))
            if last.len() > 1
                && last.starts_with('v')
                && last[1..].chars().all(|c| c.is_ascii_digit()) =>
        {
            rest
        }
        _ => path,
    }
}

/// The name a package is known by when imported without an alias: the import path's last
/// element, less a major-version suffix and `go-`/`-go`/`.go` decorations.
fn default_package_name(path: &str) -> String {
    let path = without_version_suffix(path);
    let name = path.rsplit('/').next().unwrap_or(path);
    name.trim_start_matches("go-")
        .trim_end_matches(".go")
        .trim_end_matches("-go")
        .replace('-', "_")
}

/// The import path a client pattern names (`*lib/pq.NewConnector` → `lib/pq`, wildcards
/// dropped) and that package's name, for patterns whose member starts with a capital.
fn pattern_package(pattern: &str) -> Option<(String, String)> {
    let after_slash = pattern.rfind('/').map_or(0, |at| at + 1);
    let member = pattern[after_slash..]
        .match_indices('.')
        .map(|(at, _)| after_slash + at)
        .find(|at| {
            pattern[at + 1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase() || c == '*')
        })?;
    let import = &pattern[..member];
    let trimmed = import.trim_end_matches('*');
    let last = trimmed.rsplit(['/', '*']).next().unwrap_or(trimmed);
    Some((import.replace('*', ""), default_package_name(last)))
}

/// Reads a parsed Go test file into facts.
pub(crate) fn facts(root: Node<'_>, source: &str, context: &Context<'_>) -> FileFacts {
    let mut file = GoFile {
        source,
        context,
        imports: HashMap::new(),
        bindings: Bindings::new(Vec::new()),
        functions: HashSet::new(),
        types: HashSet::new(),
        scopes: Vec::new(),
        own_package: Vec::new(),
        function_nodes: HashMap::new(),
        method_nodes: Vec::new(),
        serving: HashSet::new(),
        dialers: Vec::new(),
    };
    let all = descendants(root, |_| false);
    // A test file inside a client library calls the client's functions without a qualifier.
    let mut cursor = root.walk();
    if let Some(package) = root
        .named_children(&mut cursor)
        .find(|n| n.node_kind() == "package_clause")
        .and_then(|clause| clause.named_child(0))
    {
        let package = file.text(package);
        let package = package.strip_suffix("_test").unwrap_or(package);
        for pattern in OWN_PACKAGE_CLIENTS.iter().flat_map(|list| list.iter()) {
            if let Some((import, name)) = pattern_package(pattern)
                && name == package
                && !file.own_package.contains(&import)
            {
                file.own_package.push(import);
            }
        }
    }
    file.scopes = all
        .iter()
        .filter(|node| {
            matches!(
                node.node_kind(),
                "function_declaration" | "method_declaration"
            )
        })
        .map(|node| node.byte_range())
        .collect();
    file.bindings = Bindings::new(file.scopes.clone());
    for node in &all {
        match node.node_kind() {
            "import_spec" => file.import(*node),
            "function_declaration" | "method_declaration" => {
                if let Some(name) = node.field("name") {
                    let name = file.text(name).to_string();
                    file.functions.insert(name.clone());
                    if node.node_kind() == "function_declaration" {
                        file.function_nodes.insert(name, *node);
                    } else {
                        file.method_nodes.push((name, *node));
                    }
                }
            }
            "type_spec" => {
                if let Some(name) = node.field("name") {
                    file.types.insert(file.text(name).to_string());
                }
            }
            "short_var_declaration" | "assignment_statement" | "var_spec" | "const_spec" => {
                file.bind(*node)
            }
            _ => {}
        }
    }
    // A package that imports the client it is named after wraps it: its own calls are its own.
    let imported: Vec<String> = file
        .imports
        .values()
        .map(|path| without_version_suffix(path).to_string())
        .collect();
    file.own_package
        .retain(|own| !imported.iter().any(|path| path.ends_with(own.as_str())));
    file.serving = file.serving_functions();
    file.dialers = all
        .iter()
        .filter(|node| node.node_kind() == "call_expression")
        .filter_map(|call| file.registered_dialer(*call))
        .collect();
    let mut module = Unit::new("<module>", UnitKind::Module, 1);
    let mut cursor = root.walk();
    for comment in root
        .named_children(&mut cursor)
        .filter(|c| c.node_kind() == "comment")
    {
        let comment_text = file.text(comment);
        if (comment_text.starts_with("//go:build") || comment_text.starts_with("// +build"))
            && comment_text
                .split(|c: char| !c.is_alphanumeric() && c != '!' && c != '_')
                .filter(|tag| !tag.starts_with('!'))
                // `docker_integration` names an integration build as `integration` does.
                .flat_map(|tag| tag.split('_'))
                .any(|word| ["integration", "e2e", "functional"].contains(&word))
        {
            module.see(Fact::IntegrationMarker, line(comment));
        }
    }
    let mut units = vec![];
    for node in &all {
        if matches!(
            node.node_kind(),
            "function_declaration" | "method_declaration"
        ) {
            units.push(file.function_unit(*node));
        } else if matches!(node.node_kind(), "var_declaration")
            && node
                .parent()
                .is_some_and(|p| p.node_kind() == "source_file")
        {
            for inner in descendants(*node, |_| false) {
                file.observe(inner, &mut module, "");
            }
        }
    }
    units.push(module);
    FileFacts { units }
}

struct GoFile<'s, 't, 'c> {
    source: &'s str,
    context: &'c Context<'c>,
    imports: HashMap<String, String>,
    /// Assigned name → every value bound to it, with the function it is bound in.
    bindings: Bindings<'t>,
    functions: HashSet<String>,
    /// Types the file declares.
    types: HashSet<String>,
    /// Import paths of the client packages the file belongs to (see [`pattern_package`]).
    own_package: Vec<String>,
    /// The file's functions by name.
    function_nodes: HashMap<String, Node<'t>>,
    /// The file's methods by name.
    method_nodes: Vec<(String, Node<'t>)>,
    /// Functions of the file that start a server, directly or through another one.
    serving: HashSet<String>,
    /// Networks registered with go-sql-driver/mysql (`RegisterDialContext("name", dial)`): the
    /// function they are registered in, the name, and whether the dialer leaves the machine.
    dialers: Vec<(Option<usize>, String, bool)>,
    /// Byte ranges of the file's functions and methods: a name bound in one means nothing
    /// in another.
    scopes: Vec<std::ops::Range<usize>>,
}

impl<'s, 't, 'c> GoFile<'s, 't, 'c> {
    fn text(&self, node: Node<'_>) -> &'s str {
        text(node, self.source)
    }

    fn import(&mut self, spec: Node<'_>) {
        let Some(path) = spec.field("path").and_then(|p| self.string(p, 0)) else {
            return;
        };
        let local = match spec.field("name") {
            Some(name) => self.text(name).to_string(),
            None => default_package_name(&path),
        };
        if local != "_" && local != "." {
            self.imports.insert(local, path);
        }
    }

    fn bind(&mut self, node: Node<'t>) {
        let (left, right) = match node.node_kind() {
            "var_spec" | "const_spec" => (node.field("name"), node.field("value")),
            _ => (node.field("left"), node.field("right")),
        };
        let (Some(left), Some(right)) = (left, right) else {
            return;
        };
        let names: Vec<Node<'t>> = if left.node_kind() == "expression_list" {
            left.named_children(&mut left.walk()).collect()
        } else {
            vec![left]
        };
        let values: Vec<Node<'t>> = if right.node_kind() == "expression_list" {
            right.named_children(&mut right.walk()).collect()
        } else {
            vec![right]
        };
        // `x, err := f()` binds x to the call.
        for (index, name) in names.iter().enumerate() {
            let value = values.get(index).or(if values.len() == 1 {
                values.first()
            } else {
                None
            });
            if let (Some(value), "identifier") = (value, name.node_kind()) {
                self.bindings
                    .bind(self.text(*name), name.start_byte(), *value);
            }
        }
    }

    /// Start of the function or method holding `byte`, or `None` at package level.
    fn scope_of(&self, byte: usize) -> Option<usize> {
        self.scopes
            .iter()
            .find(|range| range.contains(&byte))
            .map(|range| range.start)
    }

    /// The value the identifier `at` holds where it is used.
    fn binding(&self, at: Node<'_>) -> Option<Node<'t>> {
        self.bindings.lookup(self.text(at), at.start_byte())
    }

    fn path(&self, node: Node<'_>, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "identifier" | "type_identifier" | "package_identifier" => {
                let name = self.text(node);
                if let Some(path) = self.imports.get(name) {
                    return Some(path.clone());
                }
                if let Some(value) = self.binding(node) {
                    if matches!(
                        value.node_kind(),
                        "call_expression"
                            | "composite_literal"
                            | "unary_expression"
                            | "selector_expression"
                    ) {
                        return self.path(value, depth + 1);
                    }
                    return Some(name.to_string());
                }
                Some(
                    self.own_package_member(node)
                        .unwrap_or_else(|| name.to_string()),
                )
            }
            "selector_expression" | "qualified_type" => {
                let (operand, field) = match node.node_kind() {
                    "selector_expression" => (node.field("operand")?, node.field("field")?),
                    _ => (node.field("package")?, node.field("name")?),
                };
                let base = self
                    .path(operand, depth + 1)
                    .unwrap_or_else(|| "?".to_string());
                Some(format!("{base}.{}", self.text(field)))
            }
            "call_expression" => self.path(node.field("function")?, depth + 1),
            "composite_literal" => self.path(node.field("type")?, depth + 1),
            "unary_expression" => self.path(node.field("operand")?, depth + 1),
            "parenthesized_expression" => self.path(node.named_child(0)?, depth + 1),
            "pointer_type" => self.path(node.named_child(0)?, depth + 1),
            _ => None,
        }
    }

    /// `New` called (or `Driver{}` built) without a qualifier in a file of a client package:
    /// the client's own `New`, when it is not the file's own function or type.
    fn own_package_member(&self, node: Node<'_>) -> Option<String> {
        if self.own_package.is_empty() {
            return None;
        }
        let name = self.text(node);
        if self.functions.contains(name) || self.types.contains(name) {
            return None;
        }
        let parent = node.parent()?;
        let field = match parent.node_kind() {
            "call_expression" => "function",
            "composite_literal" => "type",
            _ => return None,
        };
        if parent.field(field) != Some(node) {
            return None;
        }
        let member = |import: &String| format!("{import}.{name}");
        let known = |path: &String| {
            OWN_PACKAGE_CLIENTS
                .iter()
                .any(|list| matches_any(list, path))
        };
        self.own_package
            .iter()
            .map(member)
            .find(known)
            .or_else(|| self.own_package.first().map(member))
    }

    fn string(&self, node: Node<'_>, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "interpreted_string_literal" | "raw_string_literal" => {
                let raw = self.text(node);
                Some(
                    raw.get(1..raw.len().saturating_sub(1))
                        .unwrap_or("")
                        .to_string(),
                )
            }
            "binary_expression" => self.string(node.field("left")?, depth + 1),
            "identifier" => self.string(self.binding(node)?, depth + 1),
            "call_expression" => {
                // fmt.Sprintf("http://host:%d", port) keeps its static prefix.
                let function = self.path(node.field("function")?, 0)?;
                if function != "fmt.Sprintf" {
                    return None;
                }
                let format = self.string(node.field("arguments")?.named_child(0)?, depth + 1)?;
                Some(
                    format.split('%').next().unwrap_or("").to_string()
                        + if format.contains('%') { "{" } else { "" },
                )
            }
            _ => None,
        }
    }

    /// Seconds of a `time.Duration` expression; bare numbers are nanoseconds.
    fn duration(&self, node: Node<'_>, depth: usize) -> Option<f64> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "int_literal" | "float_literal" => self
                .text(node)
                .replace('_', "")
                .parse::<f64>()
                .ok()
                .map(|n| n / 1e9),
            "selector_expression" => {
                let path = self.path(node, 0)?;
                Some(match path.as_str() {
                    "time.Nanosecond" => 1e-9,
                    "time.Microsecond" => 1e-6,
                    "time.Millisecond" => 1e-3,
                    "time.Second" => 1.0,
                    "time.Minute" => 60.0,
                    "time.Hour" => 3600.0,
                    _ => return None,
                })
            }
            "binary_expression" => {
                let operator = self.text(node.field("operator")?);
                let left = node.field("left")?;
                let right = node.field("right")?;
                let scalar = |n: Node<'_>| self.scalar(n, depth + 1);
                match operator {
                    "*" => match (self.is_unitless(left, 0), self.is_unitless(right, 0)) {
                        (true, false) => Some(scalar(left)? * self.duration(right, depth + 1)?),
                        (false, true) => Some(self.duration(left, depth + 1)? * scalar(right)?),
                        _ => None,
                    },
                    "/" => Some(
                        self.duration(left, depth + 1)? / scalar(right).filter(|d| *d != 0.0)?,
                    ),
                    "+" => Some(self.duration(left, depth + 1)? + self.duration(right, depth + 1)?),
                    "-" => Some(self.duration(left, depth + 1)? - self.duration(right, depth + 1)?),
                    _ => None,
                }
            }
            "call_expression" => {
                // time.Duration(n) converts nanoseconds.
                let function = self.path(node.field("function")?, 0)?;
                (function == "time.Duration").then_some(())?;
                self.duration(node.field("arguments")?.named_child(0)?, depth + 1)
            }
            "parenthesized_expression" => self.duration(node.named_child(0)?, depth + 1),
            "identifier" => self.duration(self.binding(node)?, depth + 1),
            _ => None,
        }
    }

    /// True for plain numbers (`3`, `time.Duration(3)`), as opposed to durations.
    fn is_unitless(&self, node: Node<'_>, depth: usize) -> bool {
        if depth > 8 {
            return false;
        }
        match node.node_kind() {
            "int_literal" | "float_literal" => true,
            "call_expression" => node
                .field("function")
                .is_some_and(|f| self.text(f) == "time.Duration"),
            "parenthesized_expression" => node
                .named_child(0)
                .is_some_and(|n| self.is_unitless(n, depth + 1)),
            "identifier" => self
                .binding(node)
                .is_some_and(|v| self.is_unitless(v, depth + 1)),
            _ => false,
        }
    }

    fn scalar(&self, node: Node<'_>, depth: usize) -> Option<f64> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "int_literal" | "float_literal" => self.text(node).replace('_', "").parse().ok(),
            "call_expression" => self.scalar(node.field("arguments")?.named_child(0)?, depth + 1),
            "parenthesized_expression" => self.scalar(node.named_child(0)?, depth + 1),
            "identifier" => self.scalar(self.binding(node)?, depth + 1),
            _ => None,
        }
    }

    /// Names of the file's functions that start a server themselves or through another one.
    fn serving_functions(&self) -> HashSet<String> {
        let calls: Vec<(String, Vec<Node<'t>>)> = self
            .function_nodes
            .iter()
            .map(|(name, node)| (name.clone(), *node))
            .chain(
                self.method_nodes
                    .iter()
                    .map(|(name, node)| (format!(".{name}"), *node)),
            )
            .map(|(name, node)| {
                let calls = descendants(node, |_| false)
                    .into_iter()
                    .filter(|n| n.node_kind() == "call_expression")
                    .filter_map(|n| n.field("function"))
                    .collect();
                (name, calls)
            })
            .collect();
        let mut serving = HashSet::new();
        loop {
            let before = serving.len();
            for (name, callees) in &calls {
                if !serving.contains(name)
                    && callees.iter().any(|callee| {
                        self.local_callee(*callee)
                            .is_some_and(|key| serving.contains(&key))
                            || self
                                .path(*callee, 0)
                                .is_some_and(|path| matches_any(SERVERS, &path))
                    })
                {
                    serving.insert(name.clone());
                }
            }
            if serving.len() == before {
                return serving;
            }
        }
    }

    /// How [`Self::serving_functions`] names a callee: `f` for a function, `.m` for a method.
    fn local_callee(&self, callee: Node<'_>) -> Option<String> {
        match callee.node_kind() {
            "identifier" => Some(self.text(callee).to_string()),
            "selector_expression" => Some(format!(".{}", self.text(callee.field("field")?))),
            _ => None,
        }
    }

    /// `RegisterDial[Context]("name", dialer)`: where, which name, and whether the dialer
    /// dials anything itself (a dialer that hands back a fake connection or an error does not).
    fn registered_dialer(&self, call: Node<'t>) -> Option<(Option<usize>, String, bool)> {
        let function = call.field("function")?;
        let path = self.path(function, 0)?;
        let last = path.rsplit('.').next().unwrap_or(&path);
        if !matches!(last, "RegisterDial" | "RegisterDialContext") {
            return None;
        }
        let arguments = call.field("arguments")?;
        let name = self.string(arguments.named_child(0)?, 0)?;
        let mut dialer = arguments.named_child(1)?;
        if dialer.node_kind() == "identifier" {
            dialer = self.binding(dialer)?;
        }
        let dials = dialer.node_kind() != "func_literal"
            || descendants(dialer, |_| false).into_iter().any(|n| {
                n.node_kind() == "call_expression"
                    && n.field("function")
                        .and_then(|f| self.path(f, 0))
                        .is_some_and(|p| {
                            p.rsplit('.').next().is_some_and(|l| l.starts_with("Dial"))
                        })
            });
        Some((self.scope_of(call.start_byte()), name, dials))
    }

    /// True when a call starts a server: a known one, or a function of the file that does.
    fn starts_server(&self, call: Node<'_>) -> bool {
        let Some(function) = call.field("function") else {
            return false;
        };
        self.local_callee(function)
            .is_some_and(|key| self.serving.contains(&key))
            || self
                .path(function, 0)
                .is_some_and(|path| matches_any(SERVERS, &path))
    }

    /// True when `node`'s value comes from a server the test started itself
    /// (`l.Addr().String()` after `l, _ := net.Listen(...)`).
    fn comes_from_own_server(&self, node: Node<'t>, depth: usize) -> bool {
        // Each bound value is explored once: names used many times over would otherwise make
        // the search exponential.
        self.comes_from_own_server_seen(node, depth, &mut HashSet::new())
    }

    fn comes_from_own_server_seen(
        &self,
        node: Node<'t>,
        depth: usize,
        seen: &mut HashSet<usize>,
    ) -> bool {
        if depth > 6 || !seen.insert(node.start_byte()) {
            return false;
        }
        descendants(node, |_| false)
            .into_iter()
            .any(|n| match n.node_kind() {
                "call_expression" => self.starts_server(n),
                "identifier" => self.binding(n).is_some_and(|value| {
                    value != node && self.comes_from_own_server_seen(value, depth + 1, seen)
                }),
                _ => false,
            })
    }

    /// True when `identifier` is a parameter of a function literal around it, in a function
    /// that starts a server: the test hands its own address to the closure.
    fn closure_gets_own_address(&self, identifier: Node<'t>) -> bool {
        if identifier.node_kind() != "identifier" || self.binding(identifier).is_some() {
            return false;
        }
        let name = self.text(identifier);
        let mut node = identifier;
        let mut is_parameter = false;
        while let Some(parent) = node.parent() {
            if parent.node_kind() == "func_literal"
                && parent.field("parameters").is_some_and(|p| {
                    descendants(p, |_| false)
                        .into_iter()
                        .any(|n| n.node_kind() == "identifier" && self.text(n) == name)
                })
            {
                is_parameter = true;
            }
            if matches!(
                parent.node_kind(),
                "function_declaration" | "method_declaration"
            ) {
                return is_parameter
                    && descendants(parent, |_| false)
                        .into_iter()
                        .any(|n| n.node_kind() == "call_expression" && self.starts_server(n));
            }
            node = parent;
        }
        false
    }

    /// The arguments of a call and of the calls its receiver comes from
    /// (`cluster.CreateSession()` after `cluster := gocql.NewCluster(addr)`).
    fn connection_args(&self, call: Node<'t>, depth: usize) -> Vec<Node<'t>> {
        let mut out: Vec<Node<'t>> = call_arguments(call);
        if depth > 4 {
            return out;
        }
        let receiver = call
            .field("function")
            .filter(|f| f.node_kind() == "selector_expression")
            .and_then(|f| f.field("operand"));
        let source = match receiver {
            Some(r) if r.node_kind() == "identifier" => self.binding(r),
            other => other,
        };
        if let Some(source) = source.filter(|s| s.node_kind() == "call_expression") {
            out.extend(self.connection_args(source, depth + 1));
        }
        out
    }

    /// The text of a string, or the format of a `fmt.Sprintf`, with its `%` verbs.
    fn template(&self, node: Node<'_>, depth: usize) -> Option<String> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "identifier" => self.template(self.binding(node)?, depth + 1),
            "call_expression" => {
                let function = self.path(node.field("function")?, 0)?;
                (function == "fmt.Sprintf").then_some(())?;
                self.template(node.field("arguments")?.named_child(0)?, depth + 1)
            }
            _ => self.string(node, depth),
        }
    }

    /// Networks a go-sql-driver/mysql connection goes through: the `NET` of a DSN's
    /// `user@NET(addr)/db`, or a `cfg.Net = "NET"` on a configuration passed in.
    fn mysql_networks(&self, args: &[Node<'t>]) -> Vec<String> {
        let mut out = Vec::new();
        for arg in args {
            if let Some(dsn) = self.template(*arg, 0)
                && let Some((_, rest)) = dsn.rsplit_once('@')
                && let Some((network, _)) = rest.split_once('(')
                && !network.contains('/')
            {
                out.push(network.to_string());
            }
            if arg.node_kind() != "identifier" {
                continue;
            }
            let name = self.text(*arg);
            let scope = self.scope_of(arg.start_byte());
            let Some(function) = self
                .function_nodes
                .values()
                .find(|f| Some(f.start_byte()) == scope)
            else {
                continue;
            };
            for assignment in descendants(*function, |_| false)
                .into_iter()
                .filter(|n| n.node_kind() == "assignment_statement")
            {
                if let (Some(left), Some(right)) =
                    (assignment.field("left"), assignment.field("right"))
                    && self.text(left) == format!("{name}.Net")
                    && let Some(network) = right
                        .named_child(0)
                        .filter(|_| right.node_kind() == "expression_list")
                        .or(Some(right))
                        .and_then(|value| self.string(value, 0))
                {
                    out.push(network);
                }
            }
        }
        out
    }

    /// False when a client call cannot reach a real server: the test hands it a connection of
    /// its own, points it at a server it started itself, or routes a MySQL connection through a
    /// registered dialer that dials nothing.
    fn connects_for_real(&self, call: Node<'t>, path: &str) -> bool {
        let args = self.connection_args(call, 0);
        let injected = |arg: &Node<'t>| {
            if arg.node_kind() != "call_expression" {
                return false;
            }
            let Some(function) = arg.field("function") else {
                return false;
            };
            let calls_injection = |node: Node<'t>| {
                descendants(node, |_| false).into_iter().any(|n| {
                    n.node_kind() == "call_expression"
                        && n.field("function")
                            .and_then(|f| self.path(f, 0))
                            .is_some_and(|p| matches_any(INJECTED_CONNECTIONS, &p))
                })
            };
            calls_injection(*arg)
                || (function.node_kind() == "identifier"
                    && self
                        .function_nodes
                        .get(self.text(function))
                        .is_some_and(|f| calls_injection(*f)))
        };
        if args.iter().any(injected) {
            return false;
        }
        if args
            .iter()
            .any(|arg| self.comes_from_own_server(*arg, 0) || self.closure_gets_own_address(*arg))
        {
            return false;
        }
        if matches_any(MYSQL_CONNECTS, path) || path.ends_with("(\"mysql\")") {
            let scope = self.scope_of(call.start_byte());
            let fake = |network: &String| {
                let named = || self.dialers.iter().filter(|(_, name, _)| name == network);
                let dialer = named()
                    .find(|(s, _, _)| *s == scope)
                    .or_else(|| named().next());
                !matches!(network.as_str(), "tcp" | "unix")
                    && dialer.is_some_and(|(_, _, dials)| !dials)
            };
            if self.mysql_networks(&args).iter().any(fake) {
                return false;
            }
        }
        true
    }

    /// True when the test waits out a `time.After(d)` on its passing path: `<-time.After(d)` as
    /// a statement, or a `select` case on it that does not fail the test (a case that fails is
    /// a timeout guard: the test passes as soon as another case is ready).
    fn waits_for_timer(&self, call: Node<'_>) -> bool {
        let Some(receive) = call
            .parent()
            .filter(|p| p.node_kind() == "unary_expression" && self.text(*p).starts_with("<-"))
        else {
            return false;
        };
        let Some(holder) = receive.parent() else {
            return false;
        };
        match holder.node_kind() {
            "expression_statement" => true,
            "receive_statement" => {
                let Some(case) = holder
                    .parent()
                    .filter(|c| c.node_kind() == "communication_case")
                else {
                    return false;
                };
                let mut cursor = case.walk();
                let body: Vec<Node<'_>> = case
                    .named_children(&mut cursor)
                    .filter(|n| n.node_kind() == "statement_list")
                    .flat_map(|list| {
                        let mut cursor = list.walk();
                        list.named_children(&mut cursor).collect::<Vec<_>>()
                    })
                    .collect();
                !body.iter().any(|statement| self.fails_the_test(*statement))
            }
            _ => false,
        }
    }

    /// True for a statement that fails the test outright: `t.Fatal(...)`, `t.Error(...)`,
    /// `t.FailNow()`, `panic(...)`.
    /// True when the statement reports a failure: `t.Fatal(…)`, `require.FailNow(t, …)`,
    /// `assert.Fail(t, …)`, ginkgo's `Fail(…)`, `panic(…)`, or a helper handed the test's `t`.
    fn fails_the_test(&self, statement: Node<'_>) -> bool {
        let Some(call) = statement
            .named_child(0)
            .filter(|_| statement.node_kind() == "expression_statement")
            .filter(|c| c.node_kind() == "call_expression")
        else {
            return false;
        };
        let Some(function) = call.field("function") else {
            return false;
        };
        const FAILING: &[&str] = &["Fatal", "Fatalf", "Error", "Errorf", "Fail", "FailNow"];
        let hands_over_t = call_arguments(call)
            .iter()
            .any(|argument| matches!(self.text(*argument), "t" | "b"));
        hands_over_t
            || match function.node_kind() {
                "identifier" => matches!(self.text(function), "panic" | "Fail"),
                "selector_expression" => {
                    let operand = function
                        .field("operand")
                        .map(|o| self.text(o))
                        .unwrap_or("");
                    let field = function.field("field").map(|f| self.text(f)).unwrap_or("");
                    let testify = self
                        .imports
                        .get(operand)
                        .is_some_and(|path| path.contains("testify/"));
                    testify || (!self.imports.contains_key(operand) && FAILING.contains(&field))
                }
                _ => false,
            }
    }

    fn function_unit(&self, function: Node<'t>) -> Unit {
        let name = function.field("name").map(|n| self.text(n)).unwrap_or("");
        let parameters = function.field("parameters");
        let parameters_text = parameters.map(|p| self.text(p)).unwrap_or("");
        let is_method = function.node_kind() == "method_declaration";
        // `TestMain` and a test file's `init` run before its tests, like a fixture: what they do
        // (`init() { ConnectAll() }`) is reported once, under their name.
        let kind = if !is_method && matches!(name, "TestMain" | "init") {
            UnitKind::Setup
        } else if !is_method
            && name.starts_with("Test")
            && parameters_text.contains("testing.T")
            && !name[4..].starts_with(|c: char| c.is_lowercase())
        {
            UnitKind::Test
        } else {
            UnitKind::Helper
        };
        // The name the test's *testing.T goes by, to recognise helpers that take it.
        let t_name = parameters
            .and_then(|p| p.named_child(0))
            .and_then(|d| d.field("name"))
            .map(|n| self.text(n))
            .unwrap_or("t");
        let mut unit = Unit::new(name, kind, line(function));
        if let Some(body) = function.field("body") {
            // Comments before the first statement sit beside the statement list.
            let statements = body
                .named_children(&mut body.walk())
                .find(|s| s.node_kind() == "statement_list")
                .unwrap_or(body);
            let mut cursor = statements.walk();
            for statement in statements.named_children(&mut cursor) {
                if kind == UnitKind::Test && statement.node_kind() == "expression_statement" {
                    let call = statement
                        .named_child(0)
                        .filter(|c| c.node_kind() == "call_expression");
                    let callee = call
                        .and_then(|c| c.field("function"))
                        .map(|f| self.text(f))
                        .unwrap_or("");
                    if [".Skip", ".SkipNow", ".Skipf"]
                        .iter()
                        .any(|s| callee == format!("{t_name}{s}"))
                    {
                        unit.disabled = Some((Disabled::Skip, line(statement)));
                        break;
                    }
                }
            }
            for node in descendants(body, |_| false) {
                self.observe(node, &mut unit, t_name);
            }
        }
        unit
    }

    fn observe(&self, node: Node<'t>, unit: &mut Unit, t_name: &str) {
        match node.node_kind() {
            "call_expression" => self.call(node, unit, t_name),
            // `var _ Interface = value`: the compiler checks that the value implements it.
            "var_spec"
                if node.field("type").is_some()
                    && node.field("value").is_some()
                    && node.field("name").is_some_and(|n| self.text(n) == "_") =>
            {
                unit.see(Fact::Assertion { weak: false }, line(node));
            }
            _ => {}
        }
    }

    fn call(&self, call: Node<'t>, unit: &mut Unit, t_name: &str) {
        let at = line(call);
        let Some(function) = call.field("function") else {
            return;
        };
        let Some(path) = self.path(function, 0) else {
            return;
        };
        let args: Vec<Node<'t>> = call_arguments(call);
        let first = args.first().copied();
        let last = path.rsplit('.').next().unwrap_or(&path);
        let local_function =
            function.node_kind() == "identifier" && self.functions.contains(self.text(function));
        if local_function {
            unit.calls.push(self.text(function).to_string());
        }

        if path == "time.Sleep" || (path == "time.After" && self.waits_for_timer(call)) {
            if let Some(seconds) = first.and_then(|a| self.duration(a, 0)) {
                unit.see(Fact::Sleep(seconds), at);
            }
        } else if matches_any(DOCKER, &path) {
            unit.see(Fact::Docker(path.clone()), at);
        } else if matches_any(REAL_DB, &path) {
            if self.connects_for_real(call, &path) {
                unit.see(Fact::RealDb(path.clone()), at);
            }
        } else if matches_any(SQL_OPENS, &path) {
            if let Some(driver) = first.and_then(|a| self.string(a, 0))
                && SERVER_DRIVERS.contains(&driver.as_str())
            {
                let what = format!("{path}(\"{driver}\")");
                if self.connects_for_real(call, &what) {
                    unit.see(Fact::RealDb(what), at);
                }
            }
        } else if matches_any(&["gorm.io/gorm.Open", "*jinzhu/gorm.Open"], &path) {
            let dialector = first
                .map(|a| self.path(a, 0).unwrap_or_default())
                .unwrap_or_default();
            if ["postgres", "mysql", "sqlserver", "clickhouse"]
                .iter()
                .any(|d| dialector.contains(d))
            {
                unit.see(Fact::RealDb(path.clone()), at);
            }
        } else if matches_any(&["os/exec.Command", "os/exec.CommandContext"], &path) {
            let program = if last == "CommandContext" {
                args.get(1)
            } else {
                first.as_ref()
            };
            if let Some(fact) = program
                .and_then(|a| self.string(*a, 0))
                .as_deref()
                .and_then(spawned_program)
            {
                unit.see(fact, at);
            }
        } else if matches_any(HTTP, &path) && HTTP_METHODS.contains(&last) {
            let url = if last == "DialContext" {
                args.get(1).copied()
            } else {
                first
            };
            if let Some(target) = url
                .and_then(|a| self.string(a, 0))
                .and_then(|u| target_of(&u))
            {
                unit.see(Fact::Network(target), at);
            }
        } else if matches_any(DIALS, &path) {
            if let Some(target) = args
                .get(1)
                .and_then(|a| self.string(*a, 0))
                .and_then(|u| target_of(&u))
            {
                unit.see(Fact::Network(target), at);
            }
        } else if matches_any(NETWORK_MOCKS, &path) {
            unit.see(Fact::NetworkMock, at);
        } else if matches_any(SERVERS, &path) {
            unit.see(Fact::StartsServer, at);
        } else if matches_any(FAKE_CLOCKS, &path) {
            unit.see(Fact::FakeClock, at);
        } else if path == "os.Setenv"
            || (last == "Setenv" && function.node_kind() == "selector_expression")
        {
            unit.see(Fact::SetsEnv, at);
        } else if matches_any(&["os.Getenv", "os.LookupEnv"], &path)
            && let Some(variable) = first
                .and_then(|a| self.string(a, 0))
                .filter(|v| is_service_env(v))
        {
            unit.see(Fact::ServiceFromEnv(variable), at);
        }

        if let Some(weak) = self.assertion(&path, last, function, &args, local_function, t_name) {
            unit.see(Fact::Assertion { weak }, at);
        }
    }

    fn assertion(
        &self,
        path: &str,
        last: &str,
        function: Node<'_>,
        args: &[Node<'_>],
        local_function: bool,
        t_name: &str,
    ) -> Option<bool> {
        if self.context.is_configured_helper(path, last) {
            return Some(false);
        }
        if function.node_kind() == "selector_expression" {
            let operand = function
                .field("operand")
                .map(|o| self.text(o))
                .unwrap_or("");
            let is_package = self.imports.contains_key(operand);
            if !is_package
                && matches!(
                    last,
                    "Error" | "Errorf" | "Fatal" | "Fatalf" | "Fail" | "FailNow"
                )
            {
                return Some(false);
            }
            if path.contains("testify")
                || path.contains("gotest.tools")
                || path.contains("quicktest")
                || path.contains("gomega")
                || path.contains("is.New")
            {
                let weak = matches!(last, "NotNil" | "NotNilf")
                    || (matches!(last, "True" | "Truef")
                        && args.get(1).is_some_and(|a| a.node_kind() == "true"));
                return Some(weak);
            }
            if matches!(last, "Assert" | "Expect" | "Equal" | "Equals" | "Check") && !is_package {
                return Some(false);
            }
        }
        let passes_t = args.first().is_some_and(|a| self.text(*a) == t_name);
        if passes_t
            && !local_function
            && !matches!(
                last,
                "Run"
                    | "Parallel"
                    | "Helper"
                    | "Cleanup"
                    | "TempDir"
                    | "Setenv"
                    | "Context"
                    | "Skip"
                    | "Skipf"
                    | "Log"
                    | "Logf"
            )
        {
            return Some(is_existence_assertion(last));
        }
        if function.node_kind() == "identifier"
            && !local_function
            && looks_like_assertion_helper(last)
        {
            return Some(is_existence_assertion(last));
        }
        None
    }
}
