//! Whether a Go client call reaches a real server: the test may hand it a connection of its
//! own, point it at a server it started, or route it through a dialer that dials nothing.

use std::collections::HashSet;

use tree_sitter::Node;

use super::super::super::knowledge::go;
use super::super::super::syntax::{NodeExt, call_arguments, descendants, matches_any};
use super::super::resolve::Resolve;
use super::GoFile;

impl<'t> GoFile<'_, 't, '_> {
    /// Names of the file's functions that start a server themselves or through another one.
    pub(super) fn serving_functions(&self) -> HashSet<String> {
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
                                .is_some_and(|path| matches_any(go::SERVERS, &path))
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
    pub(super) fn registered_dialer(
        &self,
        call: Node<'t>,
    ) -> Option<(Option<usize>, String, bool)> {
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
                .is_some_and(|path| matches_any(go::SERVERS, &path))
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
    pub(super) fn connects_for_real(&self, call: Node<'t>, path: &str) -> bool {
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
                            .is_some_and(|p| matches_any(go::INJECTED_CONNECTIONS, &p))
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
        if matches_any(go::MYSQL_CONNECTS, path) || path.ends_with("(\"mysql\")") {
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
}
