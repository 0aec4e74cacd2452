//! Static values of expressions — the dotted path a callee names, the text of a string, the
//! value of a number — read one way for every grammar.
//!
//! The four grammars differ in node names, not in how these values are found, so each language
//! describes its nodes in a [`Shapes`] table and answers only what its scoping decides
//! (imports, bindings, names it resolves its own way); [`Resolve`] does the rest.

use std::collections::HashMap;

use tree_sitter::Node;

use super::super::syntax::{NodeExt, text};

/// How deep strings and numbers are followed through names and operators.
const VALUE_DEPTH: usize = 8;

/// The node kinds of one grammar that the resolvers read.
pub(crate) struct Shapes {
    /// How many steps a path may take through names, members and calls.
    pub(crate) path_depth: usize,
    /// Nodes that are a name (`identifier`, Go's `package_identifier`).
    pub(crate) names: &'static [&'static str],
    /// Values a bound name stands for when its path is asked (`c = redis.Redis()` makes
    /// `c.get` a `redis.Redis.get`). Other values leave the name as it is.
    pub(crate) followed_values: &'static [&'static str],
    /// Member accesses: node kind, field of the object, field of the member.
    pub(crate) members: &'static [(&'static str, &'static str, &'static str)],
    /// Values a member access stands for when the whole access was bound (Python's
    /// `self.client = Redis()` in `setUp`).
    pub(crate) followed_members: &'static [&'static str],
    /// Nodes whose path is the path of one of their fields (a call's function).
    pub(crate) through_fields: &'static [(&'static str, &'static str)],
    /// Nodes whose path is the path of their first named child (`await`, parentheses).
    pub(crate) path_wrappers: &'static [&'static str],
    /// Nodes that name themselves (JavaScript's `this`).
    pub(crate) self_names: &'static [&'static str],
    /// String literals, read part by part.
    pub(crate) strings: &'static [&'static str],
    /// Literal parts of a string.
    pub(crate) string_parts: &'static [&'static str],
    /// Holes of a string (`{x}` of an f-string, `${x}` of a template): the value of the
    /// expression inside, or the end of what is known.
    pub(crate) string_holes: &'static [&'static str],
    /// Adjacent literals joined into one (`"a" "b"`).
    pub(crate) concatenations: &'static [&'static str],
    /// Binary operators over strings: the known start is the left operand's.
    pub(crate) string_binary: &'static [&'static str],
    /// Nodes whose string is their first named child's.
    pub(crate) string_wrappers: &'static [&'static str],
    /// Numeric literals, read by `parse_number`.
    pub(crate) numbers: &'static [&'static str],
    pub(crate) parse_number: fn(&str) -> Option<f64>,
    /// Binary operators over numbers (`*`, `/`, `+`, `-` are computed).
    pub(crate) number_binary: &'static [&'static str],
    /// Unary operators over a number (`-1`), with the operand in field `argument`.
    pub(crate) signs: &'static [&'static str],
    /// Nodes whose number is their first named child's.
    pub(crate) number_wrappers: &'static [&'static str],
}

/// A number literal with `_` separators (`1_000`, `0.5`).
pub(crate) fn plain_number(text: &str) -> Option<f64> {
    text.replace('_', "").parse().ok()
}

/// What the resolvers read of one file besides its bindings: its source, its grammar's node
/// kinds and the names it imports.
pub(crate) struct Names<'s> {
    pub(crate) source: &'s str,
    pub(crate) shapes: &'static Shapes,
    /// Local name → the dotted path it was imported as.
    pub(crate) imports: HashMap<String, String>,
}

impl<'s> Names<'s> {
    /// Nothing imported yet.
    pub(crate) fn new(source: &'s str, shapes: &'static Shapes) -> Self {
        Names {
            source,
            shapes,
            imports: HashMap::new(),
        }
    }
}

/// Static values of expressions in one file.
pub(crate) trait Resolve<'t> {
    /// The file's source, node kinds and imports.
    fn names(&self) -> &Names<'_>;
    /// The value `name` holds where byte `at` uses it.
    fn bound(&self, name: &str, at: usize) -> Option<Node<'t>>;

    /// The path a name was imported as.
    fn imported(&self, name: &str) -> Option<&str> {
        self.names().imports.get(name).map(String::as_str)
    }
    /// The file's source.
    fn source(&self) -> &str {
        self.names().source
    }
    /// The grammar's node kinds.
    fn shapes(&self) -> &'static Shapes {
        self.names().shapes
    }

    /// Appends what a name that is neither imported nor followed stands for; `bound` says
    /// whether it holds a value that is not followed.
    fn name_path(&self, _node: Node<'_>, name: &str, _bound: bool, out: &mut String) {
        out.push_str(name);
    }
    /// A path construct only this grammar has; `None` when `node` is not one.
    fn special_path(&self, _node: Node<'_>, _depth: usize, _out: &mut String) -> Option<bool> {
        None
    }
    /// A string construct only this grammar has; `None` when `node` is not one.
    fn special_string(&self, _node: Node<'_>, _depth: usize) -> Option<Option<String>> {
        None
    }

    /// The dotted path an expression names after resolving imports and bindings.
    fn path(&self, node: Node<'_>, depth: usize) -> Option<String> {
        let mut out = String::new();
        self.path_into(node, depth, &mut out).then_some(out)
    }

    /// Appends the dotted path of `node` to `out`; false (with `out` in any state) when the
    /// expression names nothing. One buffer serves the whole path.
    fn path_into(&self, node: Node<'_>, depth: usize, out: &mut String) -> bool {
        let shapes = self.shapes();
        if depth > shapes.path_depth {
            return false;
        }
        if let Some(done) = self.special_path(node, depth, out) {
            return done;
        }
        let kind = node.node_kind();
        if shapes.names.contains(&kind) {
            let name = text(node, self.source());
            if let Some(path) = self.imported(name) {
                out.push_str(path);
                return true;
            }
            let value = self.bound(name, node.start_byte());
            if let Some(value) = value
                && shapes.followed_values.contains(&value.node_kind())
            {
                return self.path_into(value, depth + 1, out);
            }
            self.name_path(node, name, value.is_some(), out);
            return true;
        }
        if let Some((_, object, member)) = shapes.members.iter().find(|(k, _, _)| *k == kind) {
            if !shapes.followed_members.is_empty()
                && let Some(value) = self.bound(text(node, self.source()), node.start_byte())
                && shapes.followed_members.contains(&value.node_kind())
            {
                return self.path_into(value, depth + 1, out);
            }
            let (Some(object), Some(member)) = (node.field(object), node.field(member)) else {
                return false;
            };
            let mark = out.len();
            if !self.path_into(object, depth + 1, out) {
                out.truncate(mark);
                out.push('?');
            }
            out.push('.');
            out.push_str(text(member, self.source()));
            return true;
        }
        if let Some((_, field)) = shapes.through_fields.iter().find(|(k, _)| *k == kind) {
            return node
                .field(field)
                .is_some_and(|inner| self.path_into(inner, depth + 1, out));
        }
        if shapes.path_wrappers.contains(&kind) {
            return node
                .named_child(0)
                .is_some_and(|inner| self.path_into(inner, depth + 1, out));
        }
        if shapes.self_names.contains(&kind) {
            out.push_str(text(node, self.source()));
            return true;
        }
        false
    }

    /// The static value of a string expression: literals, the known start of interpolations
    /// and concatenations, bound names.
    fn string(&self, node: Node<'_>, depth: usize) -> Option<String> {
        if depth > VALUE_DEPTH {
            return None;
        }
        if let Some(value) = self.special_string(node, depth) {
            return value;
        }
        let shapes = self.shapes();
        let kind = node.node_kind();
        if shapes.strings.contains(&kind) {
            let mut cursor = node.walk();
            let mut out = String::new();
            for child in node.named_children(&mut cursor) {
                let part = child.node_kind();
                if shapes.string_parts.contains(&part) {
                    out.push_str(text(child, self.source()));
                } else if shapes.string_holes.contains(&part) {
                    match child.named_child(0).and_then(|e| self.string(e, depth + 1)) {
                        Some(value) => out.push_str(&value),
                        None => {
                            // What follows an unknown hole is not the value's start.
                            out.push('{');
                            break;
                        }
                    }
                }
            }
            return Some(out);
        }
        if shapes.concatenations.contains(&kind) {
            let mut cursor = node.walk();
            let parts: Vec<String> = node
                .named_children(&mut cursor)
                .filter_map(|c| self.string(c, depth + 1))
                .collect();
            return Some(parts.concat());
        }
        if shapes.string_binary.contains(&kind) {
            return self.string(node.field("left")?, depth + 1);
        }
        if kind == "identifier" {
            let value = self.bound(text(node, self.source()), node.start_byte())?;
            return self.string(value, depth + 1);
        }
        if shapes.string_wrappers.contains(&kind) {
            return self.string(node.named_child(0)?, depth + 1);
        }
        None
    }

    /// The static value of a numeric expression, in its own unit.
    fn number(&self, node: Node<'_>, depth: usize) -> Option<f64> {
        if depth > VALUE_DEPTH {
            return None;
        }
        let shapes = self.shapes();
        let kind = node.node_kind();
        if shapes.numbers.contains(&kind) {
            return (shapes.parse_number)(text(node, self.source()));
        }
        if shapes.number_wrappers.contains(&kind) {
            return self.number(node.named_child(0)?, depth + 1);
        }
        if shapes.signs.contains(&kind) {
            let value = self.number(node.field("argument")?, depth + 1)?;
            return Some(if text(node, self.source()).starts_with('-') {
                -value
            } else {
                value
            });
        }
        if shapes.number_binary.contains(&kind) {
            let left = self.number(node.field("left")?, depth + 1)?;
            let right = self.number(node.field("right")?, depth + 1)?;
            return match text(node.field("operator")?, self.source()) {
                "*" => Some(left * right),
                "/" if right != 0.0 => Some(left / right),
                "+" => Some(left + right),
                "-" => Some(left - right),
                _ => None,
            };
        }
        if kind == "identifier" {
            let value = self.bound(text(node, self.source()), node.start_byte())?;
            return self.number(value, depth + 1);
        }
        None
    }
}
