//! Pure readers of the user's plan and handoff, with line spans for diagnostics: the markdown
//! scan, the plan's tasks and fields, the handoff's marks, the progress of one against the other,
//! and the size and encoding limits every input shares.

mod fences;
pub mod handoff;
pub mod handoff_text;
pub mod input;
pub mod markdown;
pub mod milestone;
pub mod progress;
pub mod references;
mod tasks;

pub use handoff::{Handoff, Mark, MarkState};
pub use input::{InputError, LineIndex, MAX_INPUT_BYTES, read_text_file};
pub use milestone::{Milestone, MilestoneError};
pub use progress::{Progress, TaskStatus, UnmarkedHandoff};
pub use references::{Reference, repository_root};
pub(crate) use tasks::leading_task_id;
pub use tasks::{
    Diagnosis, HiddenTask, Plan, PlanError, Task, TaskType, Warning, milestone_id,
    parse_task_heading,
};
