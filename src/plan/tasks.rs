//! Reading a milestone plan: its tasks (`## Task X.Y: Title`), their bodies and fields, its ID and
//! name, its front matter, and the diagnostics an author needs to see.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::plan::fences;
use crate::plan::input::{InputError, read_text_file};
use crate::plan::markdown::Document;
use crate::plan::references::{self, Reference};

/// A task's kind, from its `**Type:**` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum TaskType {
    Coding,
    Validation,
    Research,
    Mixed,
    /// Any other value, kept verbatim; checked like CODING.
    Other(String),
}

impl TaskType {
    fn parse(value: &str) -> TaskType {
        let word: String = value
            .trim()
            .trim_matches(['*', '`', '_'])
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        match word.to_ascii_uppercase().as_str() {
            "CODING" => TaskType::Coding,
            "VALIDATION" => TaskType::Validation,
            "RESEARCH" => TaskType::Research,
            "MIXED" => TaskType::Mixed,
            _ => TaskType::Other(value.trim().to_string()),
        }
    }

    /// Whether the unit-test quality check applies after the task.
    pub fn writes_code(&self) -> bool {
        matches!(
            self,
            TaskType::Coding | TaskType::Mixed | TaskType::Other(_)
        )
    }
}

impl fmt::Display for TaskType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskType::Coding => "CODING",
            TaskType::Validation => "VALIDATION",
            TaskType::Research => "RESEARCH",
            TaskType::Mixed => "MIXED",
            TaskType::Other(value) => value,
        })
    }
}

impl From<TaskType> for String {
    fn from(value: TaskType) -> String {
        value.to_string()
    }
}

/// One `## Task X.Y` section of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: String,
    pub title: String,
    /// Heading level, 2 to 4.
    pub level: u8,
    /// 1-based line of the heading.
    pub line: usize,
    /// The section verbatim, heading included, up to the next task heading whatever the levels
    /// between; the last task's ends at the next heading of its level or above.
    pub body: String,
    /// `None` when the task has no `**Type:**` field.
    pub task_type: Option<TaskType>,
    pub acceptance_criteria: Vec<String>,
    pub files: Option<String>,
    pub depends_on: Option<String>,
}

impl Task {
    /// The type the runner acts on: a task without a type field is treated as CODING.
    pub fn effective_type(&self) -> TaskType {
        self.task_type.clone().unwrap_or(TaskType::Coding)
    }
}

/// Something an author should know about a plan; never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub line: usize,
    pub message: String,
}

/// A task heading that a code block swallows by mistake — a fence never closed, or fences that
/// pair up otherwise than their author meant — so that CommonMark, and so `status`, does not read
/// it as a task. `lint` reports it as an error and `run` must refuse to start (a plan whose
/// tasks vanish would be declared complete too early).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HiddenTask {
    /// The ID the heading names.
    pub id: String,
    /// 1-based line of the hidden heading.
    pub line: usize,
    /// The heading as written, trimmed (`## Task 4.2: Add checks`).
    pub heading: String,
    /// 1-based line and text of the fence that opens the block swallowing it.
    pub fence_line: usize,
    pub fence: String,
    /// The whole diagnostic, the fix included, as `lint` and `status` print it after
    /// `file:line:`.
    pub message: String,
}

/// A parsed milestone plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub path: PathBuf,
    /// `M4`, from the file name.
    pub id: String,
    /// The H1 title with a leading `Milestone N:` or copy of the ID (`M4:`) removed.
    pub title: Option<String>,
    pub tasks: Vec<Task>,
    /// `key: value` pairs of the YAML front matter (e.g. `design`, `architecture`).
    pub front_matter: Vec<(String, String)>,
    /// The line of each `front_matter` pair, for diagnostics.
    front_matter_lines: Vec<usize>,
    /// The front matter's paths found on disk (relative to the plan file, then to the
    /// repository root): filled by [`Plan::load`] and [`Plan::resolve_references`]; empty after
    /// [`Plan::parse`], which reads text only.
    pub references: Vec<Reference>,
    pub warnings: Vec<Warning>,
    /// Task headings swallowed by a misnested or unclosed fence, in document order. They are not
    /// in `tasks` (the plan reads as CommonMark does), not in `warnings` (they are errors), and
    /// not in `Diagnosis::errors` (`status` still shows the plan); [`Plan::hidden_tasks_error`]
    /// turns them into the error `run` stops with.
    pub hidden_tasks: Vec<HiddenTask>,
}

/// Why a plan cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{path}: no task found (expected headings such as `## Task 1.1: Title`)")]
    NoTasks { path: PathBuf },
    #[error("{path}:{second_line}: task {id} is defined twice (first at line {first_line})")]
    DuplicateTask {
        path: PathBuf,
        id: String,
        first_line: usize,
        second_line: usize,
    },
    /// One `file:line: message` line per hidden task.
    #[error("{}", hidden.iter().map(|h| format!("{}:{}: {}", path.display(), h.line, h.message)).collect::<Vec<_>>().join("\n"))]
    HiddenTasks {
        path: PathBuf,
        hidden: Vec<HiddenTask>,
    },
}

impl PlanError {
    /// What went wrong, without the file name (for `file:line: message` output).
    pub fn detail(&self) -> String {
        match self {
            PlanError::Input(err) => err.detail(),
            PlanError::NoTasks { .. } => {
                "no task found (expected headings such as `## Task 1.1: Title`)".to_string()
            }
            PlanError::DuplicateTask { id, first_line, .. } => {
                format!("task {id} is defined twice (first at line {first_line})")
            }
            PlanError::HiddenTasks { hidden, .. } => match hidden.as_slice() {
                [] => "no hidden task".to_string(),
                [only] => only.message.clone(),
                [first, rest @ ..] => format!(
                    "{} (and {} more hidden task{})",
                    first.message,
                    rest.len(),
                    if rest.len() == 1 { "" } else { "s" }
                ),
            },
        }
    }

    /// 1-based line the error points at, for `lint`'s `file:line:` output.
    pub fn line(&self) -> Option<usize> {
        match self {
            PlanError::Input(InputError::NotUtf8 { line, .. }) => Some(*line),
            PlanError::DuplicateTask { second_line, .. } => Some(*second_line),
            PlanError::HiddenTasks { hidden, .. } => hidden.first().map(|h| h.line),
            _ => None,
        }
    }
}

/// `Task <ID>` then an optional separator and title. The ID grammar is the contract's:
/// `\d+[a-z]?(\.\d+[a-z]?)*`. What may follow the ID is narrow so that `Task 1.1/1.2` or
/// `Task 1.1x2` is no task at all rather than task `1` found by backtracking.
static TASK_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\W*task\s+(\d+[a-z]?(?:\.\d+[a-z]?)*)\**(?:$|[\s:—–\-)\]*]|\.(?:$|\s))")
        .expect("task heading pattern")
});

static MILESTONE_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:PLAN_)?(M\d+[a-z]?(?:\.\d+[a-z]?)*)(?:[_\-]|$)").expect("milestone id pattern")
});

static MILESTONE_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^milestone\s+[\w.]+\s*(?:[:—–\-]\s*|$)").expect("milestone prefix pattern")
});

/// `**Name:** value` or `**Name**: value`, optionally as a list item: the field's name (letters,
/// spaces and parentheses) and its value.
fn field(line: &str) -> Option<(&str, &str)> {
    let mut rest = line.trim_start();
    if let Some(after) = rest.strip_prefix(['-', '*', '+'])
        && after.starts_with([' ', '\t'])
    {
        rest = after.trim_start();
    }
    let rest = rest.strip_prefix("**")?;
    let name_end = rest.find(|c: char| !(c.is_ascii_alphabetic() || " ()".contains(c)))?;
    let (name, after) = rest.split_at(name_end);
    let value = after.strip_prefix(":**").or_else(|| {
        after
            .strip_prefix("**")
            .map(str::trim_start)
            .and_then(|a| a.strip_prefix(':'))
    })?;
    (!name.is_empty()).then(|| (name, value.trim()))
}

/// A list item, checklist (`- [ ] x`) or plain (`- x`, `1. x`): authors write criteria both ways.
fn list_item(line: &str) -> Option<&str> {
    let rest = line.trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let rest = if digits > 0 {
        rest[digits..].strip_prefix(['.', ')'])?
    } else {
        rest.strip_prefix(['-', '*', '+'])?
    };
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let rest = rest.trim_start();
    let rest = match rest.as_bytes() {
        [b'[', b' ' | b'x' | b'X', b']', ..] => rest[3..].trim_start(),
        _ => rest,
    };
    Some(rest)
}

/// `Task <ID>` at the very start of `text`, in the plain form nearly every heading uses: the ID
/// and what follows it. Anything unusual (case, emphasis, brackets) is left to the patterns.
pub(crate) fn leading_task_id(text: &str) -> Option<(&str, &str)> {
    let after = text.strip_prefix("Task ")?;
    let end = after
        .find(|c: char| !(c.is_ascii_digit() || c.is_ascii_lowercase() || c == '.'))
        .unwrap_or(after.len());
    let id = after[..end].trim_end_matches('.');
    is_task_id(id).then(|| (id, &after[id.len()..]))
}

/// `\d+[a-z]?(\.\d+[a-z]?)*`.
fn is_task_id(id: &str) -> bool {
    !id.is_empty()
        && id.split('.').all(|part| {
            let digits = part.bytes().take_while(u8::is_ascii_digit).count();
            digits > 0
                && part.len() - digits <= 1
                && part[digits..].bytes().all(|b| b.is_ascii_lowercase())
        })
}

/// Splits a heading's text into a task ID and title when it names a task.
pub fn parse_task_heading(text: &str) -> Option<(String, String)> {
    // The common form is read directly: the pattern costs more than the rest of a large plan.
    let (id, rest) = match leading_task_id(text) {
        Some((id, rest)) if rest.is_empty() || rest.starts_with([' ', ':']) => (id, rest),
        _ => {
            let captures = TASK_HEADING.captures(text)?;
            let id_match = captures.get(1)?;
            (id_match.as_str(), &text[id_match.end()..])
        }
    };
    let title = rest
        .trim_start_matches(['*', '_', ']', ')'])
        .trim_start()
        .trim_start_matches([':', '—', '–', '-', '.'])
        .trim_start_matches(['*', '_'])
        .trim();
    Some((id.to_string(), title.to_string()))
}

/// The milestone ID from a plan's file name: `M4_workers.md` → `M4`, `PLAN_M3_x.md` → `M3`.
pub fn milestone_id(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    MILESTONE_ID
        .captures(&stem)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
        .unwrap_or(stem)
}

/// A plan's title from its H1: without a leading `Milestone N:`, and without a leading copy of the
/// milestone's ID (`# M11: Regime Labeler` in `M11_regime.md`), which the display name shows
/// already (`M11 - Regime Labeler`, not `M11 - M11: Regime Labeler`).
fn milestone_title(heading: &str, id: &str) -> String {
    let title = MILESTONE_PREFIX.replace(heading, "");
    let title = title.trim();
    let without_id = title
        .get(..id.len())
        .filter(|head| !id.is_empty() && head.eq_ignore_ascii_case(id))
        .map(|_| &title[id.len()..])
        .filter(|rest| rest.is_empty() || rest.starts_with([' ', '\t', ':', '—', '–', '-']));
    match without_id {
        Some(rest) => rest
            .trim_start()
            .trim_start_matches([':', '—', '–', '-'])
            .trim()
            .to_string(),
        None => title.to_string(),
    }
}

/// Everything a plan's text says, errors included: what `lint` lists in full.
#[derive(Debug)]
pub struct Diagnosis {
    /// The plan as far as it could be read; when there are duplicates, the first of each ID is kept.
    pub plan: Plan,
    /// Errors in document order; any of them stops `status` and `run`.
    pub errors: Vec<PlanError>,
}

impl Plan {
    /// Reads and parses the plan at `path`, and resolves its front matter's paths.
    pub fn load(path: &Path) -> Result<Plan, PlanError> {
        let source = read_text_file(path)?;
        let mut plan = Plan::parse(path, &source)?;
        plan.resolve_references();
        Ok(plan)
    }

    /// Looks up on disk each path the front matter names (relative to the plan file, then to
    /// the repository root: the folder holding `.git` at or above the plan) and fills
    /// `references`; one that exists nowhere is a warning.
    pub fn resolve_references(&mut self) {
        let entries: Vec<(usize, String, String)> = self
            .front_matter_lines
            .iter()
            .zip(&self.front_matter)
            .map(|(line, (key, value))| (*line, key.clone(), value.clone()))
            .collect();
        let (references, warnings) = references::resolve(&self.path, &entries);
        self.references = references;
        // Called again (the files changed), the previous findings go: nothing else is ever
        // reported on a front-matter line, which is not read as markdown.
        let lines = &self.front_matter_lines;
        self.warnings.retain(|w| !lines.contains(&w.line));
        self.warnings.extend(warnings);
        self.warnings.sort_by_key(|w| w.line);
    }

    /// Parses plan text; `path` names the file in diagnostics and gives the milestone ID.
    /// Returns the first error `diagnose` finds.
    pub fn parse(path: &Path, source: &str) -> Result<Plan, PlanError> {
        let Diagnosis { plan, errors } = Plan::diagnose(path, source);
        match errors.into_iter().next() {
            Some(err) => Err(err),
            None => Ok(plan),
        }
    }

    /// Reads plan text without stopping at the first error, so that every problem can be listed.
    pub fn diagnose(path: &Path, source: &str) -> Diagnosis {
        let doc = Document::scan(source);
        let mut warnings = Vec::new();
        let mut errors = Vec::new();

        let id = milestone_id(path);
        let title = doc
            .headings
            .iter()
            .find(|h| h.level == 1)
            .map(|h| milestone_title(&h.text, &id))
            .filter(|t| !t.is_empty());

        // Task headings first, so that a body can stop at the next task whatever its level.
        let task_headings: Vec<(usize, String, String)> = doc
            .headings
            .iter()
            .enumerate()
            .filter(|(_, h)| h.atx && (2..=4).contains(&h.level))
            .filter_map(|(index, h)| {
                parse_task_heading(&h.text).map(|(id, title)| (index, id, title))
            })
            .collect();

        let mut tasks: Vec<Task> = Vec::with_capacity(task_headings.len());
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(task_headings.len());
        for (position, (index, id, title)) in task_headings.iter().enumerate() {
            let heading = &doc.headings[*index];
            if let Some(&first_line) = seen.get(id.as_str()) {
                errors.push(PlanError::DuplicateTask {
                    path: path.to_path_buf(),
                    id: id.clone(),
                    first_line,
                    second_line: heading.line,
                });
                continue;
            }
            seen.insert(id, heading.line);
            // A body runs to the next task heading whatever the levels between: real plans put
            // level-2 sections (`## ⚠️ CRITICAL: …`) holding the real job and its criteria
            // between `### Task` headings, and a reader takes them as the task's. After the last
            // task nothing marks the end, so the body stops at the next heading of its level or
            // above (`## Completion Checklist` is the milestone's, not the task's).
            let end = match task_headings.get(position + 1) {
                Some((next, _, _)) => doc.headings[*next].span.start,
                None => doc.headings[index + 1..]
                    .iter()
                    .find(|next| next.level <= heading.level)
                    .map_or(source.len(), |next| next.span.start),
            };
            let body_start = heading.span.start;
            let body = source[body_start..end].trim_end().to_string();
            let fields = read_fields(&body, body_start, &doc);
            if fields.acceptance_criteria.is_empty() {
                warnings.push(Warning {
                    line: heading.line,
                    message: format!("task {id} has no acceptance criteria"),
                });
            }
            tasks.push(Task {
                id: id.clone(),
                title: title.clone(),
                level: heading.level,
                line: heading.line,
                body,
                task_type: fields.task_type,
                acceptance_criteria: fields.acceptance_criteria,
                files: fields.files,
                depends_on: fields.depends_on,
            });
        }

        let fence_findings = fences::diagnose(&doc, source, &tasks);
        warnings.extend(fence_findings.warnings);

        let first_level = tasks.first().map(|t| t.level);
        if let (Some(first_level), Some(odd)) = (
            first_level,
            tasks.iter().find(|t| Some(t.level) != first_level),
        ) {
            warnings.push(Warning {
                line: odd.line,
                message: format!(
                    "task {} is a level-{} heading while task {} is level {}: task headings at mixed levels",
                    odd.id, odd.level, tasks[0].id, first_level
                ),
            });
        }
        // Stable: at one line, the order the checks ran in.
        warnings.sort_by_key(|w| w.line);

        if task_headings.is_empty() {
            errors.insert(
                0,
                PlanError::NoTasks {
                    path: path.to_path_buf(),
                },
            );
        }

        let front_matter = doc
            .front_matter
            .as_deref()
            .map(parse_front_matter)
            .unwrap_or_default();
        Diagnosis {
            plan: Plan {
                path: path.to_path_buf(),
                id,
                title,
                tasks,
                front_matter: front_matter
                    .iter()
                    .map(|(_, key, value)| (key.clone(), value.clone()))
                    .collect(),
                front_matter_lines: front_matter.iter().map(|(line, _, _)| *line).collect(),
                references: Vec::new(),
                warnings,
                hidden_tasks: fence_findings.hidden_tasks,
            },
            errors,
        }
    }

    /// The error `run` refuses to start with when a fence swallows task headings (exit 2): one
    /// `file:line: message` line per hidden task. `None` when nothing is hidden.
    pub fn hidden_tasks_error(&self) -> Option<PlanError> {
        (!self.hidden_tasks.is_empty()).then(|| PlanError::HiddenTasks {
            path: self.path.clone(),
            hidden: self.hidden_tasks.clone(),
        })
    }

    /// `M4 - Worker Settings`, or the ID alone when the plan has no title.
    pub fn display_name(&self) -> String {
        match &self.title {
            Some(title) => format!("{} - {}", self.id, title),
            None => self.id.clone(),
        }
    }

    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    pub fn position(&self, id: &str) -> Option<usize> {
        self.tasks.iter().position(|t| t.id == id)
    }

    /// The plan's IDs, comma separated, for error messages.
    pub fn id_list(&self) -> String {
        self.tasks
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Default)]
struct Fields {
    task_type: Option<TaskType>,
    acceptance_criteria: Vec<String>,
    files: Option<String>,
    depends_on: Option<String>,
}

/// Reads the bold `**Name:**` fields of a task body, tolerant of both `**Type:**` and `**Type**:`.
/// `body_start` is the body's offset in the document, whose code and HTML blocks are skipped the
/// way CommonMark reads them (a `**Type:**` line in an example block is not the task's).
fn read_fields(body: &str, body_start: usize, doc: &Document) -> Fields {
    let mut fields = Fields::default();
    let mut in_acceptance = false;
    let mut offset = body_start;
    for (index, raw) in body.split_inclusive('\n').enumerate() {
        let line_start = offset;
        offset += raw.len();
        if index == 0 || doc.is_hidden(line_start) {
            continue;
        }
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        if let Some((name, value)) = field(line) {
            let name = name.trim().to_ascii_lowercase();
            let value = value.to_string();
            in_acceptance = names_criteria(&name);
            match name.as_str() {
                "type" | "task type" if fields.task_type.is_none() && !value.is_empty() => {
                    fields.task_type = Some(TaskType::parse(&value));
                }
                "file" | "files" | "file(s)" if fields.files.is_none() => {
                    fields.files = Some(value);
                }
                "depends on" | "dependencies" if fields.depends_on.is_none() => {
                    fields.depends_on = Some(value);
                }
                // `**Acceptance Criteria:** all tests pass` on one line.
                _ if in_acceptance && !value.is_empty() => {
                    fields.acceptance_criteria.push(value);
                }
                _ => {}
            }
            continue;
        }
        if trimmed.starts_with('#') {
            in_acceptance = names_criteria(&trimmed.to_ascii_lowercase());
            continue;
        }
        if in_acceptance && let Some(item) = list_item(line) {
            let item = item.trim();
            if !item.is_empty() {
                fields.acceptance_criteria.push(item.to_string());
            }
        }
    }
    fields
}

/// Whether a field name or heading text (lower case) introduces the task's criteria: plans write
/// `**Acceptance Criteria:**` mostly, `**Success Criteria:**` or `### Success Criteria` often, and
/// a few other names for the same list.
fn names_criteria(text: &str) -> bool {
    const NAMES: [&str; 5] = [
        "acceptance",
        "success criteria",
        "definition of done",
        "done when",
        "exit criteria",
    ];
    NAMES.iter().any(|name| text.contains(name))
}

/// Top-level `key: value` lines of YAML front matter, with their 1-based lines in the plan (the
/// content starts on line 2, after the opening `---`); nested values are kept as their raw text.
fn parse_front_matter(text: &str) -> Vec<(usize, String, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.starts_with([' ', '\t', '#', '-']))
        .filter_map(|(index, line)| line.split_once(':').map(|pair| (index + 2, pair)))
        .map(|(line, (key, value))| {
            let value = value.trim();
            // YAML: a quoted value is taken whole; a plain one ends at a ` #` comment.
            let value = match value.chars().next() {
                Some(quote @ ('"' | '\'')) => value[1..].split(quote).next().unwrap_or(""),
                _ => value.split(" #").next().unwrap_or("").trim_end(),
            };
            (line, key.trim().to_string(), value.to_string())
        })
        .filter(|(_, key, _)| !key.is_empty())
        .collect()
}

#[cfg(test)]
mod field_tests {
    use super::*;

    #[test]
    fn fields_in_both_bold_forms() {
        assert_eq!(field("**Type:** CODING"), Some(("Type", "CODING")));
        assert_eq!(field("- **Type**: MIXED "), Some(("Type", "MIXED")));
        assert_eq!(field("**File(s):** `a.rs`"), Some(("File(s)", "`a.rs`")));
        assert_eq!(
            field("**Acceptance Criteria:**"),
            Some(("Acceptance Criteria", ""))
        );
        assert_eq!(field("**bold** text"), None);
        assert_eq!(field("**Type 2:** x"), None);
        assert_eq!(field("-**Type:** x"), None);
    }

    #[test]
    fn list_items_plain_numbered_and_checklists() {
        assert_eq!(list_item("- [ ] tests pass"), Some("tests pass"));
        assert_eq!(list_item("  * [x] done"), Some("done"));
        assert_eq!(list_item("1. first"), Some("first"));
        assert_eq!(list_item("2) second"), Some("second"));
        assert_eq!(list_item("-not an item"), None);
        assert_eq!(list_item("12 apples"), None);
        assert_eq!(list_item("plain"), None);
    }
}

#[cfg(test)]
#[path = "tasks_tests.rs"]
mod tests;
