//! Small helpers over tree-sitter nodes shared by the language front ends.

use std::sync::OnceLock;

use tree_sitter::Node;

use super::lang::Language;

/// Node kind names and field ids of one grammar, read once: `Node::kind` measures and
/// validates a C string on every call and `child_by_field_name` compares the name against
/// every field of the grammar, and the front ends ask both for nearly every node.
struct Grammar {
    language: tree_sitter::Language,
    kinds: Vec<Box<str>>,
    /// Field names, sorted, with their ids.
    fields: Vec<(Box<str>, u16)>,
}

fn grammars() -> &'static [Grammar] {
    static GRAMMARS: OnceLock<Vec<Grammar>> = OnceLock::new();
    GRAMMARS.get_or_init(|| {
        Language::ALL
            .iter()
            .map(|language| {
                let language = language.grammar();
                let kinds = (0..language.node_kind_count())
                    .map(|id| {
                        u16::try_from(id)
                            .ok()
                            .and_then(|id| language.node_kind_for_id(id))
                            .unwrap_or("")
                            .into()
                    })
                    .collect();
                let mut fields: Vec<(Box<str>, u16)> = (1..=language.field_count())
                    .filter_map(|id| {
                        let id = u16::try_from(id).ok()?;
                        Some((language.field_name_for_id(id)?.into(), id))
                    })
                    .collect();
                fields.sort();
                Grammar {
                    language,
                    kinds,
                    fields,
                }
            })
            .collect()
    })
}

fn grammar_of(node: Node<'_>) -> Option<&'static Grammar> {
    let language = node.language();
    grammars().iter().find(|g| g.language == *language)
}

/// Fast lookups on nodes of the grammars the check knows.
pub(crate) trait NodeExt<'t> {
    /// The node's kind, as [`Node::kind`].
    fn node_kind(&self) -> &'t str;
    /// The child in field `name`, as [`Node::child_by_field_name`].
    fn field(&self, name: &str) -> Option<Node<'t>>;
}

impl<'t> NodeExt<'t> for Node<'t> {
    fn node_kind(&self) -> &'t str {
        grammar_of(*self)
            .and_then(|g| g.kinds.get(usize::from(self.kind_id())))
            .map_or_else(|| self.kind(), |kind| &**kind)
    }

    fn field(&self, name: &str) -> Option<Node<'t>> {
        let Some(grammar) = grammar_of(*self) else {
            return self.child_by_field_name(name);
        };
        let index = grammar
            .fields
            .binary_search_by(|(field, _)| (**field).cmp(name))
            .ok()?;
        self.child_by_field_id(grammar.fields[index].1)
    }
}

/// The source text of a node. Nodes always lie on character boundaries of the UTF-8 input.
pub(crate) fn text<'s>(node: Node<'_>, source: &'s str) -> &'s str {
    source.get(node.byte_range()).unwrap_or("")
}

/// The 1-based line a node starts on.
pub(crate) fn line(node: Node<'_>) -> usize {
    node.start_position().row + 1
}

/// Every named node under `root` (and `root` itself) in source order, not descending into
/// nodes `prune` accepts (those are still yielded). One cursor walks the tree, so the cost is
/// linear and deeply nested input cannot overflow the stack.
pub(crate) fn descendants<'t>(root: Node<'t>, prune: impl Fn(Node<'t>) -> bool) -> Vec<Node<'t>> {
    let mut out = vec![root];
    let mut cursor = root.walk();
    if !cursor.goto_first_child() {
        return out;
    }
    loop {
        let node = cursor.node();
        let mut descend = false;
        if node.is_named() {
            out.push(node);
            descend = !prune(node);
        }
        if descend && cursor.goto_first_child() {
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() || cursor.node() == root {
                return out;
            }
        }
    }
}

/// The arguments of a call, comments left out.
pub(crate) fn call_arguments<'t>(call: Node<'t>) -> Vec<Node<'t>> {
    call.field("arguments")
        .map(|a| {
            let mut cursor = a.walk();
            a.named_children(&mut cursor)
                .filter(|n| n.node_kind() != "comment")
                .collect()
        })
        .unwrap_or_default()
}

/// Matches `path` against a pattern where `*` stands for any run of characters.
pub(crate) fn glob(pattern: &str, path: &str) -> bool {
    let (pattern, path) = (pattern.as_bytes(), path.as_bytes());
    let (mut p, mut s) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while s < path.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            backtrack = Some((p, s));
            p += 1;
        } else if p < pattern.len() && pattern[p] == path[s] {
            p += 1;
            s += 1;
        } else if let Some((star, matched)) = backtrack {
            p = star + 1;
            s = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// True when `path` matches any of the patterns.
pub(crate) fn matches_any(patterns: &[&str], path: &str) -> bool {
    patterns.iter().any(|pattern| glob(pattern, path))
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_runs_of_characters() {
        assert!(glob("redis.*Redis", "redis.asyncio.Redis"));
        assert!(glob(
            "testcontainers.*",
            "testcontainers.postgres.PostgresContainer"
        ));
        assert!(!glob("redis.*", "fakeredis.FakeRedis"));
        assert!(glob(
            "*go-redis*.NewClient",
            "github.com/redis/go-redis/v9.NewClient"
        ));
        assert!(!glob("time.sleep", "time.sleeper"));
    }
}
