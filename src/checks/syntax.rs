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

/// Every node under `root` in source order, not descending into nodes `prune` accepts (those are
/// still yielded). Iterative, so deeply nested input cannot overflow the stack.
pub(crate) fn descendants<'t>(root: Node<'t>, prune: impl Fn(Node<'t>) -> bool) -> Vec<Node<'t>> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        out.push(node);
        if node != root && prune(node) {
            continue;
        }
        let mut cursor = node.walk();
        let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    out
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
