//! Small helpers over tree-sitter nodes shared by the language front ends.

use tree_sitter::Node;

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
