//! The test frameworks' own calls: `it`/`test`, `describe` and hooks, how they are skipped or
//! focused, and the callback styles that complete a test.

use tree_sitter::Node;

use super::super::super::facts::{Disabled, Fact, Unit, UnitKind};
use super::super::super::knowledge::javascript;
use super::super::super::syntax::{NodeExt, descendants, line};
use super::super::resolve::Resolve;
use super::{Framework, JsFile};

impl<'t> JsFile<'_, 't, '_> {
    /// The base name of a framework call (`it`, `test.only`, `describe.each(...)`).
    pub(super) fn framework_call(&self, node: Node<'_>) -> Option<Framework> {
        if node.node_kind() != "call_expression" {
            return None;
        }
        let callee = self.callee_chain(node)?;
        let base = callee.split('.').next()?;
        if javascript::TEST_FUNCTIONS.contains(&base)
            || (base == "t" && callee.starts_with("t.test"))
        {
            Some(Framework::Test)
        } else if javascript::SUITE_FUNCTIONS.contains(&base) {
            Some(Framework::Suite)
        } else if javascript::HOOKS.contains(&base) {
            Some(Framework::Hook)
        } else {
            None
        }
    }

    /// `it.only`, `test.each`, `describe.skip`: the callee with call arguments removed.
    pub(super) fn callee_chain(&self, call: Node<'_>) -> Option<String> {
        let mut function = call.field("function")?;
        while function.node_kind() == "call_expression" {
            function = function.field("function")?;
        }
        let text = self.text(function);
        if text
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '_' || c == '$')
        {
            Some(text.to_string())
        } else {
            None
        }
    }

    pub(super) fn framework_unit(&self, call: Node<'t>, kind: Framework) -> Option<Unit> {
        let callee = self.callee_chain(call)?;
        let arguments = call.field("arguments")?;
        let mut cursor = arguments.walk();
        let args: Vec<Node<'t>> = arguments.named_children(&mut cursor).collect();
        let name = args
            .first()
            .and_then(|a| self.string(*a, 0))
            .unwrap_or_else(|| callee.clone());
        let options = args
            .iter()
            .find(|a| a.node_kind() == "object")
            .map_or("", |o| self.text(*o));
        let has_body = args.iter().any(|a| {
            matches!(
                a.node_kind(),
                "arrow_function" | "function_expression" | "function"
            )
        });
        let parts: Vec<&str> = callee.split('.').collect();
        let disabled = if parts.contains(&"only")
            || callee.starts_with('f') && (callee == "fit" || callee == "fdescribe")
            || has_flag(options, "only")
        {
            Some(Disabled::Only)
        } else if parts.contains(&"skip") || callee.starts_with('x') || has_flag(options, "skip") {
            Some(Disabled::Skip)
        } else {
            None
        };
        if self.inside_skipped_suite(call) {
            return None;
        }
        let unit_kind = match kind {
            Framework::Test if has_body && !parts.contains(&"todo") => UnitKind::Test,
            Framework::Test | Framework::Suite => {
                // A suite only reports how it is disabled; its body belongs to the module.
                let disabled = disabled?;
                let mut unit = Unit::new(name, UnitKind::Test, line(call));
                unit.disabled = Some((disabled, line(call)));
                unit.checks_assertions = false;
                return Some(unit);
            }
            Framework::Hook => UnitKind::Setup,
        };
        let mut unit = Unit::new(name, unit_kind, line(call));
        if let Some(disabled) = disabled {
            unit.disabled = Some((disabled, line(call)));
        }
        // A callback test (`function (done) {...}`) that calls `done` from inside another
        // callback passes only when that code path is reached: the call is its check.
        let callback = args.iter().rev().find(|a| {
            matches!(
                a.node_kind(),
                "arrow_function" | "function_expression" | "function"
            )
        });
        let done_name = callback
            .and_then(|f| f.field("parameters").or_else(|| f.field("parameter")))
            .and_then(|p| {
                // `done`, `(done)`, `(done: DoneCallback)`: the first identifier is the name.
                descendants(p, |_| false)
                    .into_iter()
                    .find(|n| n.node_kind() == "identifier")
            })
            .map(|p| self.text(p));
        for node in descendants(call, |n| n != call && self.framework_call(n).is_some()) {
            if node != call && self.framework_call(node).is_some() {
                continue;
            }
            let completes_test = |done: &str, callback: Node<'_>| match node.node_kind() {
                "call_expression" => {
                    node.field("function").is_some_and(|f| self.text(f) == done)
                        && self.nested_function_between(node, callback)
                }
                // `promise.then(done, done)`: done runs when the promise settles.
                "identifier" => {
                    self.text(node) == done
                        && node.parent().is_some_and(|p| p.node_kind() == "arguments")
                }
                _ => false,
            };
            if let (Some(done), Some(callback)) = (done_name, callback)
                && completes_test(done, *callback)
            {
                unit.see(Fact::Assertion { weak: false }, line(node));
            }
            self.observe(node, &mut unit);
        }
        Some(unit)
    }

    /// True when a function other than `outer` encloses `node` below `outer`.
    fn nested_function_between(&self, node: Node<'_>, outer: Node<'_>) -> bool {
        let mut current = node.parent();
        while let Some(ancestor) = current {
            if ancestor == outer {
                return false;
            }
            if matches!(
                ancestor.node_kind(),
                "arrow_function" | "function_expression" | "function"
            ) {
                return true;
            }
            current = ancestor.parent();
        }
        false
    }

    /// `expect(x).to.be.true;` and other property assertions of chai and its plugins. Not in
    /// expect.js, where unknown properties such as `.to.be.truthy` are silently undefined.
    pub(super) fn property_assertion(&self, statement: Node<'_>) -> bool {
        let Some(mut node) = statement
            .named_child(0)
            .filter(|n| n.node_kind() == "member_expression")
        else {
            return false;
        };
        loop {
            match node.node_kind() {
                "member_expression" => match node.field("object") {
                    Some(object) => node = object,
                    None => return false,
                },
                "call_expression" => {
                    let Some(function) = node.field("function") else {
                        return false;
                    };
                    if function.node_kind() == "identifier"
                        && matches!(self.text(function), "expect" | "should")
                    {
                        return self
                            .path(function, 0)
                            .is_none_or(|path| path != "expect.js");
                    }
                    node = function;
                }
                _ => return false,
            }
        }
    }

    fn inside_skipped_suite(&self, node: Node<'_>) -> bool {
        let mut current = node.parent();
        while let Some(ancestor) = current {
            if self.framework_call(ancestor) == Some(Framework::Suite)
                && let Some(callee) = self.callee_chain(ancestor)
                && (callee.split('.').any(|p| p == "skip") || callee.starts_with('x'))
            {
                return true;
            }
            current = ancestor.parent();
        }
        false
    }
}

pub(super) fn has_flag(options: &str, flag: &str) -> bool {
    let compact: String = options.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains(&format!("{flag}:true"))
        || compact.contains(&format!("{flag}:'"))
        || compact.contains(&format!("{flag}:\""))
}
