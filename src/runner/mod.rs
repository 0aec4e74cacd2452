//! The engine (DESIGN 5): which tasks run, each task's attempts and their verification, the
//! prompts and the gates. It decides and records, emits events, and never prints.

mod attempt;
mod gates;
mod human;
mod imp;
mod interrupted;
mod limits;
mod notify;
mod prepare;
pub(crate) mod prompt;
mod selection;
mod spawn;
mod summary;
mod supervision;
mod verify;

pub(crate) use human::{Answer, Human, NoHuman};
pub(crate) use imp::{RunError, RunOptions, RunParts, Runner};
pub(crate) use notify::{NoNotify, Notify};
pub(crate) use prepare::{PrepareOptions, prepare};
pub(crate) use prompt::preview;
pub(crate) use selection::{Range, Selection};
pub(crate) use summary::{caps_preview, milestone_summary};
