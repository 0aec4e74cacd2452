//! What counts as a check in Python: assert statements, `assert*` methods, pytest's raising
//! and approximating helpers; and which of them cannot fail on a wrong value.

use tree_sitter::Node;

use super::super::super::knowledge::{is_existence_assertion, looks_like_assertion_helper, python};
use super::super::super::syntax::{NodeExt, descendants, matches_any};
use super::PythonFile;

impl PythonFile<'_, '_, '_> {
    /// `Some(weak)` when the call asserts something.
    pub(super) fn assertion_call(
        &self,
        path: &str,
        last: &str,
        function: Node<'_>,
        positional: &[Node<'_>],
    ) -> Option<bool> {
        if self.context.is_configured_helper(path, last) {
            return Some(false);
        }
        if matches_any(python::ASSERTION_CALLS, path) {
            return Some(false);
        }
        if last.starts_with("assert") || last.starts_with("Assert") {
            let weak = match last {
                "assertTrue" | "assert_" | "failUnless" => positional
                    .first()
                    .is_some_and(|c| self.is_weak_condition(*c)),
                _ if is_existence_assertion(last) => true,
                // Two calls or subscripts with the same text can make different objects
                // (`conn[db] == conn[db]` tests `__eq__`).
                "assertEqual" | "assertEquals" | "assertIs" => {
                    match (positional.first(), positional.get(1)) {
                        (Some(a), Some(b)) => {
                            self.text(*a) == self.text(*b)
                                && !descendants(*a, |_| false)
                                    .iter()
                                    .any(|n| matches!(n.node_kind(), "call" | "subscript"))
                        }
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
    pub(super) fn is_weak_condition(&self, condition: Node<'_>) -> bool {
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
