//! End-to-end tests of the `ss` binary: one test binary (`e2e`) with a module per concern.
//!
//! - `corpus`: every bad spec under `tests/bad/` is rejected with its `file:line:col`.
//! - `lifecycle`: apply / plan / update / replace / drift / destroy, secrets, saved plans,
//!   confirmation, locking, fmt, validate, graph and the Superset example.
//! - `util`: temporary projects, running `ss` with a clean environment, assertions that print
//!   what the command said.

// A test reports failure by panicking, so the workspace's bans on `unwrap` and `panic!` do not
// apply here.
#![allow(clippy::unwrap_used, clippy::panic)]

mod corpus;
mod lifecycle;
mod util;
