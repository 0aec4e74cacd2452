//! The engine (DESIGN 5): which tasks run, each task's attempts and their verification, the
//! prompts and the gates. It decides and records, emits events, and never prints.

mod attempt;
mod gates;
mod human;
mod imp;
mod limits;
mod prepare;
pub mod prompt;
mod selection;
mod spawn;
mod summary;
mod verify;

pub use gates::{GateRun, run_gate};
pub use human::{Answer, Human, NoHuman};
pub use imp::{RunError, RunOptions, RunParts, Runner};
pub use prepare::{Prepared, prepare};
pub use prompt::preview;
pub use selection::{BlockedStart, Range, Selection, SelectionError};
pub use summary::{milestone_summary, task_summary};
