//! What the check knows about libraries and the outside world, kept as data apart from the code
//! that reads syntax: a new client, sleep function or mock is a table entry, not a new branch.
//!
//! `world` holds what does not depend on the language (hosts, programs, environment names);
//! `calls` is the one classification of calls every front end uses; `python`, `javascript`,
//! `rust` and `go` are each language's tables.

pub(crate) mod calls;
pub(crate) mod go;
pub(crate) mod javascript;
pub(crate) mod python;
pub(crate) mod rust;
mod world;

pub(crate) use world::{
    is_database_connection_string, is_existence_assertion, is_service_env,
    looks_like_assertion_helper, postgres_rejects_before_connecting, target_of,
};
