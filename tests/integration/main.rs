//! The one integration test binary: it runs the real `kmilestone` binary.

mod corpus;
mod lint;
mod no_panic;
mod status;
mod support;
