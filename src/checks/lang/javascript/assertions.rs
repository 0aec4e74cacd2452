//! What counts as a check in JavaScript: `expect` matchers, assertion modules (node's
//! `assert`, chai, sinon, tap's `t`), property assertions; and which cannot fail.

use tree_sitter::Node;

use super::super::super::knowledge::{
    is_existence_assertion, javascript, looks_like_assertion_helper,
};
use super::super::super::syntax::{NodeExt, descendants, matches_any};
use super::JsFile;

impl JsFile<'_, '_, '_> {
    pub(super) fn assertion(
        &self,
        call: Node<'_>,
        path: &str,
        last: &str,
        function: Node<'_>,
        args: &[Node<'_>],
    ) -> Option<bool> {
        if self.context.is_configured_helper(path, last) {
            return Some(false);
        }
        let chain = self.text(function);
        if (javascript::EXPECT_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix))
            || chain.starts_with("expect("))
            && function.node_kind() == "member_expression"
        {
            return Some(self.is_weak_expect(call, last, args));
        }
        if path.starts_with("expect.") && matches!(last, "assertions" | "hasAssertions") {
            return Some(false);
        }
        let is_assert_module = path == "assert"
            || javascript::ASSERT_MODULE_PREFIXES
                .iter()
                .any(|prefix| path.starts_with(prefix))
            || path.contains(".should.")
            || chain.starts_with("t.assert")
            || matches_any(javascript::TAP_ASSERTIONS, chain);
        if is_assert_module {
            let weak = matches!(last, "ok" | "assert" | "true" | "equal" | "strictEqual")
                && args.first().is_some_and(|a| a.node_kind() == "true")
                && args.len() <= 2
                && (matches!(last, "ok" | "assert" | "true")
                    || args.get(1).is_some_and(|b| b.node_kind() == "true"))
                || path == "assert" && args.first().is_some_and(|a| a.node_kind() == "true");
            return Some(weak);
        }
        // A bare `expect(x)` asserts nothing until a matcher is called on it.
        if function.node_kind() == "identifier"
            && last != "expect"
            && looks_like_assertion_helper(last)
        {
            return Some(is_existence_assertion(last));
        }
        None
    }

    /// `expect(x).toBeDefined()`, `expect(true).toBe(true)`, `expect(a).toEqual(a)`.
    fn is_weak_expect(&self, call: Node<'_>, matcher: &str, args: &[Node<'_>]) -> bool {
        let function = call.field("function");
        let negated = function.is_some_and(|f| self.text(f).contains(".not."));
        let mut subject = function.and_then(|f| f.field("object"));
        while let Some(node) = subject {
            if node.node_kind() == "call_expression"
                && node
                    .field("function")
                    .is_some_and(|f| self.text(f) == "expect")
            {
                break;
            }
            subject = match node.node_kind() {
                "member_expression" => node.field("object"),
                "call_expression" => node.field("function"),
                _ => None,
            };
        }
        let subject = subject
            .and_then(|s| s.field("arguments"))
            .and_then(|a| a.named_child(0));
        match (matcher, negated) {
            ("toBeDefined", false) | ("toBeUndefined" | "toBeNull", true) => true,
            ("toBe" | "toEqual" | "toStrictEqual", false) => match (subject, args.first()) {
                (Some(s), Some(e)) => {
                    (self.text(s) == self.text(*e)
                        && !descendants(s, |_| false)
                            .iter()
                            .any(|n| matches!(n.node_kind(), "call_expression" | "new_expression")))
                        || (s.node_kind() == "true" && e.node_kind() == "true")
                }
                _ => false,
            },
            ("toBeTruthy", false) => subject.is_some_and(|s| s.node_kind() == "true"),
            _ => false,
        }
    }
}
