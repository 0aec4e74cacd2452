//! Go's static values: paths through imports and a client package's own names, strings
//! (with `fmt.Sprintf`'s known prefix), `time.Duration`s and plain numbers.

use tree_sitter::Node;

use super::super::super::knowledge::go;
use super::super::super::syntax::{NodeExt, matches_any};
use super::super::resolve::{Names, Resolve, Shapes, plain_number};
use super::GoFile;

/// Go's node kinds, for the shared resolvers.
pub(super) static SHAPES: Shapes = Shapes {
    path_depth: 8,
    names: &["identifier", "type_identifier", "package_identifier"],
    followed_values: &[
        "call_expression",
        "composite_literal",
        "unary_expression",
        "selector_expression",
    ],
    members: &[
        ("selector_expression", "operand", "field"),
        ("qualified_type", "package", "name"),
    ],
    followed_members: &[],
    through_fields: &[
        ("call_expression", "function"),
        ("composite_literal", "type"),
        ("unary_expression", "operand"),
    ],
    path_wrappers: &["parenthesized_expression", "pointer_type"],
    self_names: &[],
    strings: &[],
    string_parts: &[],
    string_holes: &[],
    concatenations: &[],
    string_binary: &["binary_expression"],
    string_wrappers: &[],
    numbers: &[],
    parse_number: plain_number,
    number_binary: &[],
    signs: &[],
    number_wrappers: &[],
};

impl<'t> Resolve<'t> for GoFile<'_, 't, '_> {
    fn names(&self) -> &Names<'_> {
        &self.names
    }

    fn bound(&self, name: &str, at: usize) -> Option<Node<'t>> {
        self.bindings.lookup(name, at)
    }

    /// A name bound to a value that is not followed stays itself; an unbound one may be a
    /// client package's own member.
    fn name_path(&self, node: Node<'_>, name: &str, bound: bool, out: &mut String) {
        match self.own_package_member(node) {
            Some(path) if !bound => out.push_str(&path),
            _ => out.push_str(name),
        }
    }

    fn special_string(&self, node: Node<'_>, depth: usize) -> Option<Option<String>> {
        match node.node_kind() {
            "interpreted_string_literal" | "raw_string_literal" => {
                let raw = self.text(node);
                Some(Some(
                    raw.get(1..raw.len().saturating_sub(1))
                        .unwrap_or("")
                        .to_string(),
                ))
            }
            // fmt.Sprintf("http://host:%d", port) keeps its static prefix.
            "call_expression" => Some((|| {
                let function = self.path(node.field("function")?, 0)?;
                if function != "fmt.Sprintf" {
                    return None;
                }
                let format = self.string(node.field("arguments")?.named_child(0)?, depth + 1)?;
                Some(
                    format.split('%').next().unwrap_or("").to_string()
                        + if format.contains('%') { "{" } else { "" },
                )
            })()),
            _ => None,
        }
    }
}

impl GoFile<'_, '_, '_> {
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
            go::CALLS
                .iter()
                .filter(|entry| entry.meaning.is_client())
                .any(|entry| matches_any(entry.callee.patterns(), path))
        };
        self.own_package
            .iter()
            .map(member)
            .find(known)
            .or_else(|| self.own_package.first().map(member))
    }

    /// Seconds of a `time.Duration` expression; bare numbers are nanoseconds.
    pub(super) fn duration(&self, node: Node<'_>, depth: usize) -> Option<f64> {
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
                go::DURATIONS
                    .iter()
                    .find(|(unit, _)| *unit == path)
                    .map(|(_, seconds)| *seconds)
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
}
