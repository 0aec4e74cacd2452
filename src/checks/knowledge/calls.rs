//! The one classification of calls shared by every language.
//!
//! A front end finds a call's dotted path (`redis.Redis`, `net/http.Get`) and offers its
//! arguments through [`CallSite`]; a language's table ([`Entry`] rows in `knowledge::python` and
//! the others) says what a matching call means; [`classify`] applies the first row that matches.
//! Rows are tried in order, so a specific row placed before a general one wins.

use tree_sitter::Node;

use super::super::facts::Fact;
use super::super::lang::resolve::Resolve;
use super::super::syntax::{matches_any, text};
use super::world::{
    is_database_connection_string, is_service_env, postgres_rejects_before_connecting,
    spawned_program, target_of, target_of_host_port,
};

/// Where a call keeps a value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg {
    /// The positional argument at this index.
    At(usize),
    /// A keyword argument (`url=` in Python) or a field of the options object given first
    /// (`{ url }` in JavaScript).
    Named(&'static str),
    /// An element of a tuple given as a positional argument: `(argument, element)`, as the
    /// `(host, port)` pair of `socket.create_connection(("h", 80))`.
    Element(usize, u32),
}

/// Places to look, in order: the first one that holds a known value is used.
pub(crate) type Args = &'static [Arg];

/// How a row recognises the callee.
#[derive(Debug)]
pub(crate) enum Callee {
    /// The whole dotted path matches one of these patterns (`*` is any run of characters).
    Path(&'static [&'static str]),
    /// The last segment is one of these names, whatever it is called on.
    Method(&'static [&'static str]),
    /// The path matches one of the patterns and its last segment is one of the names.
    PathMethod(&'static [&'static str], &'static [&'static str]),
    /// The path matches a pattern of each list.
    Both(&'static [&'static str], &'static [&'static str]),
    /// A method of these names called on a client whose path matches one of the patterns
    /// (`requests.Session().get`).
    ClientMethod(&'static [&'static str], &'static [&'static str]),
    /// A bare function of one of these names whose result is awaited (`await sleep(1000)`): a
    /// project's own promise-based sleep.
    Awaited(&'static [&'static str]),
}

impl Callee {
    /// True when the callee at `path` (last segment `last`) is one of the row's; `awaited`
    /// answers for [`Callee::Awaited`].
    pub(crate) fn matches(&self, path: &str, last: &str, awaited: impl Fn() -> bool) -> bool {
        match self {
            Callee::Path(patterns) => matches_any(patterns, path),
            Callee::Method(names) => names.contains(&last),
            Callee::PathMethod(patterns, names) => {
                names.contains(&last) && matches_any(patterns, path)
            }
            Callee::Both(first, second) => matches_any(first, path) && matches_any(second, path),
            Callee::ClientMethod(clients, methods) => {
                methods.contains(&last)
                    && path
                        .strip_suffix(last)
                        .and_then(|client| client.strip_suffix('.'))
                        .is_some_and(|client| matches_any(clients, client))
            }
            Callee::Awaited(names) => names.contains(&last) && awaited(),
        }
    }

    /// The path patterns of the row, for knowledge that asks which packages are clients.
    pub(crate) fn patterns(&self) -> &'static [&'static str] {
        match self {
            Callee::Path(patterns)
            | Callee::PathMethod(patterns, _)
            | Callee::Both(patterns, _)
            | Callee::ClientMethod(patterns, _) => patterns,
            Callee::Method(_) | Callee::Awaited(_) => &[],
        }
    }
}

/// When a database or cache client call really opens a connection.
#[derive(Debug)]
pub(crate) enum Connects {
    /// Always (`redis.Redis()`, `pg.Pool`).
    Always,
    /// When given a connection string that names a server (`Client.from_url("redis://…")`,
    /// whatever `Client` is). Otherwise the row does not match and later rows are tried.
    ConnectionString(Args),
    /// When its URL names a server database: not empty, not SQLite, with a scheme
    /// (`create_engine("postgresql://…")`).
    ServerUrl(Args),
    /// When its driver argument names a database server (`sql.Open("postgres", dsn)`).
    Driver(Args, &'static [&'static str]),
    /// When its configuration names a server dialect (`knex({ client: 'pg' })`,
    /// `gorm.Open(postgres.Open(dsn))`); how a configuration names one is the language's.
    Dialect(&'static [&'static str]),
}

/// What a matching call means.
#[derive(Debug)]
pub(crate) enum Meaning {
    /// Waits for the duration its argument gives.
    Sleep(Args),
    /// A timer that holds the test only when the test waits for it (`new Promise(r =>
    /// setTimeout(r, ms))`, `<-time.After(d)`); otherwise the row does not match.
    Timer(Args),
    /// Drives containers.
    Docker,
    /// Opens a database or cache connection.
    Database(Connects),
    /// Runs the program its argument names.
    Spawn(Args),
    /// Starts a server binary for the test (`testing.postgresql.Postgresql()`), unless the
    /// argument given with `off` has one of the listed texts (`auto_start=0`).
    Launch {
        program: &'static str,
        off: Option<(Arg, &'static [&'static str])>,
    },
    /// Sends a request to the URL its argument holds; failing that, to a host and port given
    /// apart (`http.get({ hostname, port })`).
    Request { url: Args, host: Args, port: Args },
    /// Opens a socket to the `host:port` address its argument holds (`net.Dial("tcp", addr)`).
    Dial(Args),
    /// Opens a socket to a host and port given apart, the host defaulting as given.
    HostPort {
        host: Args,
        port: Args,
        default_host: Option<&'static str>,
    },
    /// Builds a mail transport to the host its argument names, on this port unless the
    /// builder chain sets one; it connects only when the function sends.
    Smtp { host: Args, port: u32 },
    /// Always talks to this outside service, whatever its arguments (a WHOIS client).
    Contacts(&'static str),
    /// Mocks the network.
    NetworkMock,
    /// Starts a server inside the test.
    StartsServer,
    /// Fakes the clock.
    FakeClock,
    /// Sets environment variables.
    SetsEnv,
    /// Reads the environment variable its argument names.
    ReadsEnv(Args),
}

impl Meaning {
    /// True for rows naming a client a package can be (its own tests call it unqualified):
    /// container clients, database clients known by their calls, and HTTP clients. Not a
    /// dialect row (it takes another package's driver) nor a raw socket.
    pub(crate) fn is_client(&self) -> bool {
        matches!(
            self,
            Meaning::Docker
                | Meaning::Database(Connects::Always | Connects::Driver(..))
                | Meaning::Request { .. }
        )
    }
}

/// One row of a language's table: calls it recognises and what they mean.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) callee: Callee,
    pub(crate) meaning: Meaning,
}

/// Shorthand for table rows.
pub(crate) const fn row(callee: Callee, meaning: Meaning) -> Entry {
    Entry { callee, meaning }
}

/// A request whose URL is found in these places, with no host-and-port fallback.
pub(crate) const fn request(url: Args) -> Meaning {
    Meaning::Request {
        url,
        host: &[],
        port: &[],
    }
}

/// What a mocking call (`mock.patch("…")`, `jest.mock('…')`) stubs, read from the text of its
/// arguments.
#[derive(Debug)]
pub(crate) enum Mentions {
    /// Any of these words.
    Any(&'static [&'static str]),
    /// A quoted dotted name inside one of these modules (`"redis.Redis"` for `redis`).
    Module(&'static [&'static str]),
}

impl Mentions {
    fn found_in(&self, arguments: &str) -> bool {
        match self {
            Mentions::Any(words) => words.iter().any(|word| arguments.contains(word)),
            Mentions::Module(modules) => modules.iter().any(|module| {
                ["\"", "'"]
                    .iter()
                    .any(|quote| arguments.contains(&format!("{quote}{module}.")))
            }),
        }
    }
}

/// One kind of thing a mocking call can stub, and what stubbing it means.
#[derive(Debug)]
pub(crate) struct Patch {
    pub(crate) mentions: Mentions,
    pub(crate) means: Fact,
}

/// What a mocking call whose arguments read `arguments` stubs, in table order.
pub(crate) fn patched<'p>(
    arguments: &'p str,
    patches: &'p [Patch],
) -> impl Iterator<Item = Fact> + 'p {
    patches
        .iter()
        .filter(move |patch| patch.mentions.found_in(arguments))
        .map(|patch| patch.means.clone())
}

/// A call as a front end sees it: its arguments, and the language's way of reading values and
/// of deciding the few questions only its grammar can answer. Defaults suit languages where the
/// question does not arise.
pub(crate) trait CallSite<'t> {
    /// The file the call is in.
    type File: Resolve<'t>;
    fn file(&self) -> &Self::File;
    /// The call's arguments in order.
    fn positional(&self) -> &[Node<'t>];
    /// The node an argument place holds; languages without named arguments have only places.
    fn argument(&self, arg: Arg) -> Option<Node<'t>> {
        match arg {
            Arg::At(index) => self.positional().get(index).copied(),
            Arg::Named(_) | Arg::Element(..) => None,
        }
    }
    /// Seconds a sleep given this argument waits, in the language's units, after whatever
    /// around the call cuts it short (an enclosing timeout).
    fn seconds(&self, node: Node<'t>) -> Option<f64>;

    /// The static text of a string expression.
    fn string(&self, node: Node<'t>) -> Option<String> {
        self.file().string(node, 0)
    }
    /// The static value of a numeric expression.
    fn number(&self, node: Node<'t>) -> Option<f64> {
        self.file().number(node, 0)
    }
    /// True when the node's source text is one of `texts`.
    fn text_is(&self, node: Node<'t>, texts: &[&str]) -> bool {
        texts.contains(&text(node, self.file().source()))
    }
    /// The program a command argument runs.
    fn command(&self, node: Node<'t>) -> Option<String> {
        self.string(node)
    }
    /// True when the row recognises this call. Languages whose paths carry more than the
    /// library's name (a crate's own items) decide for themselves.
    fn matches(&self, entry: &Entry, path: &str, last: &str) -> bool {
        entry
            .callee
            .matches(path, last, || self.is_awaited_bare_call())
    }
    /// True when the callee is a bare name whose result is awaited.
    fn is_awaited_bare_call(&self) -> bool {
        false
    }
    /// True when the test waits for the timer this call sets.
    fn timer_waits(&self) -> bool {
        false
    }
    /// True when libpq-style strings without a host are refused by this language's PostgreSQL
    /// driver (rust-postgres) rather than sent to a local socket (libpq).
    fn postgres_requires_host(&self) -> bool {
        false
    }
    /// True when the call is given a connection string naming a database server.
    fn connection_string(&self, _path: &str, args: Args) -> bool {
        given_connection_string(self, args)
    }
    /// False when this client call cannot reach a real server (a connection refused before
    /// any socket opens, a connection the test injects). `what` names the call.
    fn reaches_server(&self, _connects: &Connects, _what: &str) -> bool {
        true
    }
    /// True when the call's configuration names one of these server dialects.
    fn names_dialect(&self, _dialects: &[&str]) -> bool {
        false
    }
    /// The name of another file's constant that starts the URL given in `args`, when the file
    /// does not know its value (`httpx.get(API + "/x")` with `API` imported).
    fn constant_name(&self, _args: Args) -> Option<String> {
        None
    }
    /// False when the request is built but never sent, or goes through a socket of the test.
    fn sends(&self) -> bool {
        true
    }
    /// True when the function around the call sends mail.
    fn sends_mail(&self) -> bool {
        false
    }
    /// The number a later method of the call's builder chain is given (`.port(2525)`).
    fn chained_number(&self, _method: &str) -> Option<f64> {
        None
    }
    /// The path as findings show it.
    fn display(&self, path: &str) -> String {
        path.to_string()
    }
}

/// True when the first of `args` holding a string holds a connection string naming a database
/// server that the language's driver would try to reach.
pub(crate) fn given_connection_string<'t>(site: &(impl CallSite<'t> + ?Sized), args: Args) -> bool {
    first_value(site, args, |node| site.string(node)).is_some_and(|value| {
        is_database_connection_string(&value)
            && !postgres_rejects_before_connecting(&value, site.postgres_requires_host())
    })
}

/// The value of the first place that holds one.
pub(crate) fn first_value<'t, S, T>(
    site: &S,
    args: Args,
    read: impl Fn(Node<'t>) -> Option<T>,
) -> Option<T>
where
    S: CallSite<'t> + ?Sized,
{
    args.iter()
        .find_map(|arg| site.argument(*arg).and_then(&read))
}

/// What a row decides about a call.
enum Decision {
    /// The row does not apply after all: try the next.
    Pass,
    /// The row applies; the call means this (or nothing worth a fact).
    Seen(Option<Fact>),
}

/// What the call at `path` means by the first row of `table` that applies, if anything.
pub(crate) fn classify<'t>(
    table: &[Entry],
    path: &str,
    site: &(impl CallSite<'t> + ?Sized),
) -> Option<Fact> {
    let last = path.rsplit('.').next().unwrap_or(path);
    for entry in table {
        if !site.matches(entry, path, last) {
            continue;
        }
        match decide(&entry.meaning, path, site) {
            Decision::Pass => continue,
            Decision::Seen(fact) => return fact,
        }
    }
    None
}

fn decide<'t>(meaning: &Meaning, path: &str, site: &(impl CallSite<'t> + ?Sized)) -> Decision {
    let string = |args: Args| first_value(site, args, |node| site.string(node));
    let number = |args: Args| first_value(site, args, |node| site.number(node));
    let fact = match meaning {
        Meaning::Timer(_) if !site.timer_waits() => return Decision::Pass,
        Meaning::Sleep(args) | Meaning::Timer(args) => {
            first_value(site, args, |node| site.seconds(node)).map(Fact::Sleep)
        }
        Meaning::Docker => Some(Fact::Docker(site.display(path))),
        Meaning::Database(connects) => return database(connects, path, site),
        Meaning::Spawn(args) => first_value(site, args, |node| site.command(node))
            .as_deref()
            .and_then(spawned_program),
        Meaning::Launch { program, off } => {
            let switched_off = off.is_some_and(|(arg, texts)| {
                site.argument(arg)
                    .is_some_and(|value| site.text_is(value, texts))
            });
            (!switched_off).then(|| Fact::ServiceSubprocess((*program).to_string()))
        }
        Meaning::Request { url, host, port } => {
            if !site.sends() {
                None
            } else if let Some(target) = string(url).and_then(|u| target_of(&u)) {
                Some(Fact::Network(target))
            } else if let Some(name) = site.constant_name(url) {
                Some(Fact::RequestToConstant(name))
            } else {
                let port = number(port);
                string(host)
                    .and_then(|h| target_of_host_port(&h, port.map(|p| p as u32)))
                    .map(Fact::Network)
            }
        }
        Meaning::Dial(args) => string(args)
            .and_then(|address| target_of(&address))
            .map(Fact::Network),
        Meaning::HostPort {
            host,
            port,
            default_host,
        } => {
            let host = string(host).or_else(|| default_host.map(String::from));
            let port = number(port);
            host.and_then(|h| target_of_host_port(&h, port.map(|p| p as u32)))
                .map(Fact::Network)
        }
        Meaning::Smtp { host, port } => string(host)
            .filter(|_| site.sends_mail())
            .and_then(|host| {
                let port = site.chained_number("port").unwrap_or(f64::from(*port));
                target_of_host_port(&host, Some(port as u32))
            })
            .map(Fact::Network),
        Meaning::Contacts(service) => Some(Fact::Network(super::super::facts::Target::Remote(
            (*service).to_string(),
        ))),
        Meaning::NetworkMock => Some(Fact::NetworkMock),
        Meaning::StartsServer => Some(Fact::StartsServer),
        Meaning::FakeClock => Some(Fact::FakeClock),
        Meaning::SetsEnv => Some(Fact::SetsEnv),
        Meaning::ReadsEnv(args) => string(args)
            .filter(|variable| is_service_env(variable))
            .map(Fact::ServiceFromEnv),
    };
    Decision::Seen(fact)
}

fn database<'t>(connects: &Connects, path: &str, site: &(impl CallSite<'t> + ?Sized)) -> Decision {
    let real = |what: &str| Some(Fact::RealDb(what.to_string()));
    let fact = match connects {
        Connects::Always => {
            if site.reaches_server(connects, path) {
                real(&site.display(path))
            } else {
                None
            }
        }
        Connects::ConnectionString(args) => {
            if !site.connection_string(path, args) {
                return Decision::Pass;
            }
            real(&site.display(path))
        }
        Connects::ServerUrl(args) => {
            let url = first_value(site, args, |node| site.string(node));
            url.filter(|url| !url.is_empty() && !url.starts_with("sqlite") && url.contains("://"))
                .and_then(|_| real(&site.display(path)))
        }
        Connects::Driver(args, drivers) => first_value(site, args, |node| site.string(node))
            .filter(|driver| drivers.contains(&driver.as_str()))
            .map(|driver| format!("{path}(\"{driver}\")"))
            .filter(|what| site.reaches_server(connects, what))
            .map(Fact::RealDb),
        Connects::Dialect(dialects) => {
            if site.names_dialect(dialects) {
                real(&site.display(path))
            } else {
                None
            }
        }
    };
    Decision::Seen(fact)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callees_match_as_their_rows_say() {
        let path = |callee: &Callee, path: &str| {
            let last = path.rsplit('.').next().unwrap_or(path);
            callee.matches(path, last, || true)
        };
        assert!(path(
            &Callee::Path(&["redis.*Redis"]),
            "redis.asyncio.Redis"
        ));
        assert!(!path(
            &Callee::Path(&["redis.*Redis"]),
            "fakeredis.FakeRedis"
        ));
        assert!(path(&Callee::Method(&["connect"]), "connect"));
        assert!(path(&Callee::Method(&["connect"]), "anything.connect"));
        assert!(!path(&Callee::Method(&["connect"]), "connector"));
        let http = Callee::PathMethod(&["net/http.Client.*"], &["Get"]);
        assert!(path(&http, "net/http.Client.Get"));
        assert!(!path(&http, "net/http.Client.Do"));
        let both = Callee::Both(&["ureq.*"], &["ureq.get", "ureq.agent*"]);
        assert!(path(&both, "ureq.agent.build"));
        assert!(!path(&both, "ureq.json"));
        let client = Callee::ClientMethod(&["requests.Session"], &["get"]);
        assert!(path(&client, "requests.Session.get"));
        assert!(!path(&client, "requests.get"));
        assert!(!path(&client, "requests.Session.close"));
        assert!(Callee::Awaited(&["sleep"]).matches("sleep", "sleep", || true));
        assert!(!Callee::Awaited(&["sleep"]).matches("sleep", "sleep", || false));
    }

    #[test]
    fn mocking_calls_stub_what_their_arguments_name() {
        const PATCHES: &[Patch] = &[
            Patch {
                mentions: Mentions::Any(&["sleep"]),
                means: Fact::FakeClock,
            },
            Patch {
                mentions: Mentions::Module(&["redis"]),
                means: Fact::DatabaseMock,
            },
        ];
        let facts: Vec<Fact> = patched("'redis.Redis', time.sleep", PATCHES).collect();
        assert_eq!(facts, [Fact::FakeClock, Fact::DatabaseMock]);
        // A module named without a member, or unquoted, is not a patch target.
        assert!(patched("redis, 'redis'", PATCHES).next().is_none());
    }

    #[test]
    fn only_named_clients_make_a_package_a_client() {
        assert!(Meaning::Docker.is_client());
        assert!(Meaning::Database(Connects::Always).is_client());
        assert!(!Meaning::Database(Connects::Dialect(&["pg"])).is_client());
        assert!(!Meaning::Dial(&[]).is_client());
        assert!(request(&[]).is_client());
    }
}
