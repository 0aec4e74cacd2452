//! What a name holds where it is used: bindings kept per function, so a client bound in one
//! test never explains a name in another.

use std::collections::HashMap;
use std::ops::Range;

use tree_sitter::Node;

/// Values bound to names (`x = f()`, `x := f()`, `let x = f();`, constants), each with the
/// function it was bound in.
pub(crate) struct Bindings<'t> {
    /// Byte ranges of the file's functions (nested ones included).
    functions: Vec<Range<usize>>,
    /// Name → (start of the innermost function binding it, or None at file level; value).
    values: HashMap<String, Vec<(Option<usize>, Node<'t>)>>,
    /// Every use of a name sees its first value, wherever it is bound (see [`Bindings::file_wide`]).
    file_wide: bool,
}

impl<'t> Bindings<'t> {
    /// Bindings for a file whose functions span these byte ranges.
    pub(crate) fn new(functions: Vec<Range<usize>>) -> Self {
        Bindings {
            functions,
            values: HashMap::new(),
            file_wide: false,
        }
    }

    /// Bindings where a name holds the first value bound to it anywhere in the file. JavaScript
    /// suites declare `let client;` in a `describe` and assign it in a `beforeEach` callback, so
    /// the value a test sees is bound in a sibling closure.
    pub(crate) fn file_wide() -> Self {
        Bindings {
            file_wide: true,
            ..Bindings::new(Vec::new())
        }
    }

    /// Start of the innermost function holding `byte`, or `None` at file level.
    fn scope_of(&self, byte: usize) -> Option<usize> {
        self.functions
            .iter()
            .filter(|range| range.contains(&byte))
            .max_by_key(|range| range.start)
            .map(|range| range.start)
    }

    /// Records that `name`, written at byte `at`, holds `value` from there on.
    pub(crate) fn bind(&mut self, name: &str, at: usize, value: Node<'t>) {
        let scope = self.scope_of(at);
        self.values
            .entry(name.to_string())
            .or_default()
            .push((scope, value));
    }

    /// The value `name` holds where byte `at` uses it: the last binding before it in the same
    /// function, else the first one there (a closure may run after a later assignment), else
    /// the last file-level one before it, else the first file-level one.
    pub(crate) fn lookup(&self, name: &str, at: usize) -> Option<Node<'t>> {
        if self.file_wide {
            return self.first(name);
        }
        let candidates = self.values.get(name)?;
        let scope = self.scope_of(at);
        let before = |value: &Node<'t>| value.start_byte() < at;
        let local = || {
            candidates
                .iter()
                .filter(move |(s, _)| scope.is_some() && *s == scope)
        };
        let file_level = || candidates.iter().filter(|(s, _)| s.is_none());
        local()
            .rev()
            .find(|(_, value)| before(value))
            .or_else(|| local().next())
            .or_else(|| file_level().rev().find(|(_, value)| before(value)))
            .or_else(|| file_level().next())
            .map(|(_, value)| *value)
    }

    /// The first value ever bound to `name`, wherever (module markers such as `pytestmark`).
    pub(crate) fn first(&self, name: &str) -> Option<Node<'t>> {
        self.values.get(name)?.first().map(|(_, value)| *value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(source: &str) -> tree_sitter::Tree {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_rust::LANGUAGE.into())
            .unwrap();
        parser.parse(source, None).unwrap()
    }

    /// Binds every `let` and `const` of a Rust snippet.
    fn bindings<'t>(tree: &'t tree_sitter::Tree, source: &str) -> Bindings<'t> {
        let all = crate::checks::syntax::descendants(tree.root_node(), |_| false);
        let functions = all
            .iter()
            .filter(|n| n.kind() == "function_item")
            .map(tree_sitter::Node::byte_range)
            .collect();
        let mut out = Bindings::new(functions);
        for node in &all {
            let (name, value) = match node.kind() {
                "let_declaration" => (
                    node.child_by_field_name("pattern"),
                    node.child_by_field_name("value"),
                ),
                "const_item" => (
                    node.child_by_field_name("name"),
                    node.child_by_field_name("value"),
                ),
                _ => continue,
            };
            if let (Some(name), Some(value)) = (name, value) {
                out.bind(&source[name.byte_range()], name.start_byte(), value);
            }
        }
        out
    }

    fn value_at(bindings: &Bindings<'_>, source: &str, name: &str, marker: &str) -> String {
        let at = source.find(marker).expect("marker in source");
        let value = bindings.lookup(name, at).expect("a binding");
        source[value.byte_range()].to_string()
    }

    #[test]
    fn a_name_resolves_within_its_own_function() {
        let source = "fn a() { let c = real(); c.get(); /*A*/ }\nfn b() { let c = fake(); c.get(); /*B*/ }\n";
        let tree = parse(source);
        let bindings = bindings(&tree, source);
        assert_eq!(value_at(&bindings, source, "c", "/*A*/"), "real()");
        assert_eq!(value_at(&bindings, source, "c", "/*B*/"), "fake()");
    }

    #[test]
    fn the_last_binding_before_the_use_wins_then_the_file_level_one() {
        let source = "const URL: &str = \"x\";\nfn a() { let c = one(); /*1*/ let c = two(); /*2*/ }\nfn b() { /*3*/ }\n";
        let tree = parse(source);
        let bindings = bindings(&tree, source);
        assert_eq!(value_at(&bindings, source, "c", "/*1*/"), "one()");
        assert_eq!(value_at(&bindings, source, "c", "/*2*/"), "two()");
        assert_eq!(value_at(&bindings, source, "URL", "/*3*/"), "\"x\"");
        assert!(
            bindings
                .lookup("c", source.find("/*3*/").unwrap())
                .is_none()
        );
    }
}
