//! Language front ends: each turns one parsed test file into [`FileFacts`].

pub(crate) mod go;
pub(crate) mod javascript;
pub(crate) mod python;
pub(crate) mod resolve;
pub(crate) mod rust;
pub(crate) mod scope;

use std::path::Path;

use super::facts::FileFacts;
use super::model::CheckError;

/// The languages the check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Language {
    Python,
    JavaScript,
    TypeScript,
    Tsx,
    Rust,
    Go,
}

impl Language {
    /// Every language, each once.
    pub(crate) const ALL: [Language; 6] = [
        Language::Python,
        Language::JavaScript,
        Language::TypeScript,
        Language::Tsx,
        Language::Rust,
        Language::Go,
    ];

    /// The language of a file, from its extension.
    pub(crate) fn of(path: &Path) -> Option<Language> {
        let extension = path.extension()?.to_str()?;
        Some(match extension {
            "py" => Language::Python,
            "js" | "mjs" | "cjs" | "jsx" => Language::JavaScript,
            "ts" | "mts" | "cts" => Language::TypeScript,
            "tsx" => Language::Tsx,
            "rs" => Language::Rust,
            "go" => Language::Go,
            _ => return None,
        })
    }

    pub(crate) fn grammar(self) -> tree_sitter::Language {
        match self {
            Language::Python => tree_sitter_python::LANGUAGE.into(),
            Language::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Language::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Language::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Language::Rust => tree_sitter_rust::LANGUAGE.into(),
            Language::Go => tree_sitter_go::LANGUAGE.into(),
        }
    }
}

/// What front ends need from the configuration and the file's surroundings.
pub(crate) struct Context<'c> {
    pub(crate) assertion_helpers: &'c [String],
    /// The package the file belongs to, from the nearest manifest: a Rust crate (`Cargo.toml`,
    /// `-` read as `_`; inside a client crate, `crate::Conn` is that client's `Conn`) or an npm
    /// package (`package.json`; inside it, `require('../lib/redis')` is the package itself).
    pub(crate) package_name: Option<&'c str>,
}

impl Context<'_> {
    /// True when the configuration names this callee as an assertion helper.
    pub(crate) fn is_configured_helper(&self, path: &str, last: &str) -> bool {
        self.assertion_helpers
            .iter()
            .any(|helper| helper == path || helper == last)
    }
}

/// Parses `source` and reads its facts.
pub(crate) fn facts(
    path: &Path,
    language: Language,
    source: &str,
    context: &Context<'_>,
) -> Result<FileFacts, CheckError> {
    // A parser keeps its buffers between files; each thread keeps one.
    thread_local! {
        static PARSER: std::cell::RefCell<tree_sitter::Parser> =
            std::cell::RefCell::new(tree_sitter::Parser::new());
    }
    let failed = || CheckError::ParseFailed {
        path: path.to_path_buf(),
    };
    let tree = PARSER.with(|parser| {
        let mut parser = parser.try_borrow_mut().map_err(|_| failed())?;
        parser
            .set_language(&language.grammar())
            .map_err(|_| failed())?;
        // A parse cut short (by a panic in an earlier file) leaves state behind.
        parser.reset();
        parser.parse(source, None).ok_or_else(failed)
    })?;
    let root = tree.root_node();
    Ok(match language {
        Language::Python => python::facts(root, source, context),
        Language::JavaScript | Language::TypeScript | Language::Tsx => {
            javascript::facts(root, source, context)
        }
        Language::Rust => rust::facts(root, source, context),
        Language::Go => go::facts(root, source, context),
    })
}
