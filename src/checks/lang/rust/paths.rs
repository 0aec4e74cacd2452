//! Rust paths as the knowledge tables spell them: `use` trees, a crate's own items, type
//! arguments dropped; and the static values (strings, numbers, durations) the rules read.

use tree_sitter::Node;

use super::super::super::knowledge::rust;
use super::super::super::syntax::{NodeExt, descendants, matches_any};
use super::super::resolve::{Names, Resolve, Shapes};
use super::RustFile;

/// Marks a path that names an item of the file's own crate (`crate::mysql.Conn.new` inside the
/// `mysql` crate). Such paths match only the knowledge entries that name an item, not a whole
/// crate (`fred.*`), since everything inside a client crate is that crate's.
pub(super) const INTERNAL: &str = "crate::";

/// `a.B.<C<D>>.f` as `a.B.f`: drops type arguments and the separators left around them.
fn without_type_arguments(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut depth = 0usize;
    for c in path.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split('.')
        .filter(|segment| !segment.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

/// A path as Rust spells it, for messages.
pub(super) fn rust_path(path: &str) -> String {
    path.trim_start_matches(INTERNAL).replace('.', "::")
}

/// `Opts::from_url(…)`, `PoolOptions::from_url(…)`: reading settings from a URL connects nothing.
pub(super) fn parses_settings(path: &str) -> bool {
    let mut segments = path.rsplit('.');
    let _call = segments.next();
    segments.next().is_some_and(|receiver| {
        rust::SETTINGS_TYPES
            .iter()
            .any(|suffix| receiver.ends_with(suffix))
    })
}

/// True when a call path drives Docker: a client of a Docker crate, not its mock transport
/// (`Docker::connect_with_mock`).
pub(super) fn is_docker_path(path: &str) -> bool {
    matches_any(rust::DOCKER, path) && !path.to_ascii_lowercase().contains(rust::MOCK_TRANSPORT)
}

/// True when a call path opens a database connection.
pub(super) fn is_real_db_path(path: &str) -> bool {
    if path.contains(rust::EMBEDDED) {
        return false;
    }
    match path.strip_prefix(INTERNAL) {
        Some(own) => {
            // Crates re-export their client types at the root: `mysql_async::conn::Conn` is
            // known as `mysql_async::Conn`.
            let (name, rest) = own.split_once('.').unwrap_or((own, ""));
            let from_type = rest
                .split('.')
                .skip_while(|segment| !segment.starts_with(|c: char| c.is_ascii_uppercase()))
                .collect::<Vec<_>>()
                .join(".");
            let re_exported = format!("{name}.{from_type}");
            rust::REAL_DB
                .iter()
                .filter(|pattern| {
                    pattern
                        .split_once('.')
                        .is_some_and(|(_, item)| !item.starts_with('*'))
                })
                .any(|pattern| {
                    matches_any(&[pattern], own)
                        || (!from_type.is_empty() && matches_any(&[pattern], &re_exported))
                })
        }
        None => matches_any(rust::REAL_DB, path),
    }
}

/// An integer or float literal without its suffix (`5u64`, `1_000`).
fn rust_number(text: &str) -> Option<f64> {
    let digits: String = text
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '_')
        .filter(|c| *c != '_')
        .collect();
    digits.parse().ok()
}

/// Rust's node kinds, for the shared resolvers.
pub(super) static SHAPES: Shapes = Shapes {
    // Builder chains are deep: each `.method()` is two levels.
    path_depth: 40,
    names: &["identifier"],
    followed_values: &[
        "call_expression",
        "await_expression",
        "try_expression",
        "field_expression",
    ],
    members: &[("field_expression", "value", "field")],
    followed_members: &[],
    through_fields: &[
        ("call_expression", "function"),
        ("generic_function", "function"),
    ],
    path_wrappers: &[
        "await_expression",
        "try_expression",
        "parenthesized_expression",
        "reference_expression",
    ],
    self_names: &[],
    strings: &["string_literal", "raw_string_literal"],
    string_parts: &["string_content"],
    string_holes: &[],
    concatenations: &[],
    string_binary: &[],
    string_wrappers: &["reference_expression", "parenthesized_expression"],
    numbers: &["integer_literal", "float_literal"],
    parse_number: rust_number,
    number_binary: &["binary_expression"],
    signs: &[],
    number_wrappers: &["parenthesized_expression"],
};

impl<'t> Resolve<'t> for RustFile<'_, 't, '_> {
    fn names(&self) -> &Names<'_> {
        &self.names
    }

    fn bound(&self, name: &str, at: usize) -> Option<Node<'t>> {
        self.bindings.lookup(name, at)
    }

    fn name_path(&self, node: Node<'_>, name: &str, _bound: bool, out: &mut String) {
        // `use super::super::*;` then `get("https://…")` or `builder().build()`: a function of
        // the file's own crate.
        let called = node.parent().is_some_and(|parent| {
            parent.node_kind() == "call_expression" && parent.field("function") == Some(node)
        });
        match self.context.package_name {
            Some(crate_name) if called && self.crate_glob => {
                out.push_str(&format!("{INTERNAL}{crate_name}.{name}"));
            }
            _ => out.push_str(&self.own_crate_item(name)),
        }
    }

    fn special_path(&self, node: Node<'_>, _depth: usize, out: &mut String) -> Option<bool> {
        if node.node_kind() != "scoped_identifier" {
            return None;
        }
        let full = self.text(node).replace("::", ".");
        // `AsyncSmtpTransport::<Tokio1Executor>::relay`: type arguments name no item.
        let full = without_type_arguments(&full);
        let (first, rest) = full.split_once('.').unwrap_or((&full, ""));
        let base = self.resolve_name(first);
        out.push_str(&self.normalize(&if rest.is_empty() {
            base
        } else {
            format!("{base}.{rest}")
        }));
        Some(true)
    }

    fn special_string(&self, node: Node<'_>, depth: usize) -> Option<Option<String>> {
        match node.node_kind() {
            "macro_invocation" => Some(self.format_string(node, depth)),
            // `"...".to_string()`, `String::from("...")`.
            "call_expression" => Some((|| {
                let function = node.field("function")?;
                if function.node_kind() == "field_expression" {
                    return self.string(function.field("value")?, depth + 1);
                }
                self.string(node.field("arguments")?.named_child(0)?, depth + 1)
            })()),
            _ => None,
        }
    }
}

impl RustFile<'_, '_, '_> {
    /// A path as it compares with the knowledge lists. A path through `crate`, `super` or
    /// `self` names an item of the file's own crate: with the crate known it becomes
    /// `crate::<name>.<rest>` (see [`INTERNAL`]), without it the keywords are dropped.
    pub(super) fn normalize(&self, path: &str) -> String {
        let segments: Vec<&str> = path
            .split('.')
            .filter(|segment| !matches!(*segment, "" | "::"))
            .collect();
        let keyword = |segment: &&str| matches!(*segment, "crate" | "self" | "super");
        let kept: Vec<&str> = segments.iter().copied().filter(|s| !keyword(s)).collect();
        match (self.context.package_name, segments.first()) {
            (Some(name), Some(first)) if keyword(first) && !kept.is_empty() => {
                format!("{INTERNAL}{name}.{}", kept.join("."))
            }
            _ => kept.join("."),
        }
    }

    /// What a name stands for: its `use`, else (under a glob import from the file's own crate)
    /// that crate's item, else itself.
    pub(super) fn resolve_name(&self, name: &str) -> String {
        match self.names.imports.get(name) {
            Some(path) => path.clone(),
            None => self.own_crate_item(name),
        }
    }

    /// A type name the file neither defines nor imports, under a glob import from its own crate
    /// (`use super::*`), is that crate's item.
    fn own_crate_item(&self, name: &str) -> String {
        match self.context.package_name {
            Some(crate_name)
                if self.crate_glob && name.starts_with(|c: char| c.is_ascii_uppercase()) =>
            {
                format!("{INTERNAL}{crate_name}.{name}")
            }
            _ => name.to_string(),
        }
    }

    pub(super) fn use_tree(&mut self, node: Node<'_>, prefix: &str) {
        let join = |prefix: &str, rest: &str| {
            let rest = rest.replace("::", ".");
            if prefix.is_empty() {
                rest
            } else {
                format!("{prefix}.{rest}")
            }
        };
        match node.node_kind() {
            "identifier" | "scoped_identifier" => {
                let full = join(prefix, self.text(node));
                let local = full.rsplit('.').next().unwrap_or(&full).to_string();
                if local != "self" {
                    self.names.imports.insert(local, self.normalize(&full));
                } else if let Some(module) = full.strip_suffix(".self") {
                    let local = module.rsplit('.').next().unwrap_or(module).to_string();
                    self.names.imports.insert(local, self.normalize(module));
                }
            }
            "use_as_clause" => {
                if let (Some(path), Some(alias)) = (node.field("path"), node.field("alias")) {
                    self.names.imports.insert(
                        self.text(alias).to_string(),
                        self.normalize(&join(prefix, self.text(path))),
                    );
                }
            }
            "scoped_use_list" => {
                let path = node
                    .field("path")
                    .map_or_else(|| prefix.to_string(), |p| join(prefix, self.text(p)));
                if let Some(list) = node.field("list") {
                    self.use_tree(list, &path);
                }
            }
            "use_wildcard" => {
                let path = node
                    .named_child(0)
                    .map(|p| self.text(p))
                    .unwrap_or_default();
                let first = join(prefix, path);
                if prefix.is_empty()
                    && matches!(first.split('.').next(), Some("crate" | "super" | "self"))
                    || matches!(prefix.split('.').next(), Some("crate" | "super" | "self"))
                {
                    self.crate_glob = true;
                }
                // `use support::*;` (or `use crate::support::*;` in a test crate): names the
                // file does not define may come from that module.
                let module = if prefix.is_empty() {
                    first.as_str()
                } else {
                    prefix
                };
                let module = module
                    .trim_start_matches("crate.")
                    .trim_start_matches("self.");
                if !module.is_empty() && !module.contains('.') {
                    self.mod_globs.push(module.to_string());
                }
            }
            "use_list" => {
                let mut cursor = node.walk();
                let children: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
                for child in children {
                    if child.node_kind() == "self" {
                        let local = prefix.rsplit('.').next().unwrap_or(prefix).to_string();
                        self.names.imports.insert(local, self.normalize(prefix));
                    } else {
                        self.use_tree(child, prefix);
                    }
                }
            }
            _ => {}
        }
    }

    /// The text `format!` builds, as far as it is known.
    fn format_string(&self, node: Node<'_>, depth: usize) -> Option<String> {
        let name = node.field("macro").map(|m| self.text(m))?;
        if name != "format" {
            return None;
        }
        let format = descendants(node, |_| false)
            .into_iter()
            .find(|n| n.node_kind() == "string_literal")
            .and_then(|s| self.string(s, depth + 1))?;
        // `format!("{BASE}/path")`: an inlined constant at the start decides the host.
        if let Some(rest) = format.strip_prefix('{')
            && let Some((name, tail)) = rest.split_once('}')
        {
            let name = name.split(':').next().unwrap_or(name);
            if let Some(value) = self
                .bindings
                .lookup(name, node.start_byte())
                .and_then(|v| self.string(v, depth + 1))
            {
                return Some(value + tail);
            }
        }
        Some(format)
    }

    /// Seconds of a `Duration` expression.
    pub(super) fn duration(&self, node: Node<'_>, depth: usize) -> Option<f64> {
        if depth > 8 {
            return None;
        }
        match node.node_kind() {
            "call_expression" => {
                let path = self.path(node.field("function")?, 0)?;
                let args = node.field("arguments")?;
                let first = self.number(args.named_child(0)?, 0)?;
                let constructor = path.rsplit('.').next()?;
                Some(match constructor {
                    "from_secs" | "from_secs_f64" | "from_secs_f32" => first,
                    "from_millis" => first / 1e3,
                    "from_micros" => first / 1e6,
                    "from_nanos" => first / 1e9,
                    "new" => {
                        first
                            + args
                                .named_child(1)
                                .and_then(|n| self.number(n, 0))
                                .unwrap_or(0.0)
                                / 1e9
                    }
                    "from_mins" => first * 60.0,
                    _ => return None,
                })
            }
            "binary_expression" => {
                let operator = self.text(node.field("operator")?);
                let left = node.field("left")?;
                let right = node.field("right")?;
                match operator {
                    "*" => self
                        .duration(left, depth + 1)
                        .zip(self.number(right, 0))
                        .map(|(d, n)| d * n)
                        .or_else(|| {
                            self.number(left, 0)
                                .zip(self.duration(right, depth + 1))
                                .map(|(n, d)| d * n)
                        }),
                    "+" => Some(self.duration(left, depth + 1)? + self.duration(right, depth + 1)?),
                    _ => None,
                }
            }
            "identifier" => self.duration(
                self.bindings.lookup(self.text(node), node.start_byte())?,
                depth + 1,
            ),
            "reference_expression" | "parenthesized_expression" => {
                self.duration(node.named_child(0)?, depth + 1)
            }
            _ => None,
        }
    }
}
