//! End-to-end tests of the `ss` binary: one test binary (`e2e`) with a module per concern.
//!
//! - `corpus`: every bad spec under `tests/bad/` is rejected with its `file:line:col`.
//! - `lifecycle`: apply / plan / update / replace / drift / destroy, secrets, saved plans,
//!   confirmation, locking, fmt, validate, graph and the Superset example.
//! - `targeting`: `--target` and `--exclude` for plan, apply and destroy.
//! - `state_cmds`: `ss state list | show | mv | rm`.
//! - `failures`: partial apply failures and `prevent_destroy`.
//! - `vars`: var files, `SS_VAR_*`, precedence, sensitive variables, validation.
//! - `lifecycle2`: count / for_each shrinking, create_before_destroy, show, output, graph,
//!   help texts, plans applied to another directory's state.
//! - `crash`: SIGKILL during apply at random instants, then re-apply: no orphans, no
//!   duplicates, with and without injected faults.
//! - `interrupt`: Ctrl-C (SIGINT) during apply, once and twice.
//! - `concurrency`: two applies on one state at once.
//! - `limits`: how many operations apply runs at once under `max_in_flight`, `--parallelism`
//!   and the graph, and `requests_per_second` pacing.
//! - `backends`: the PostgreSQL and S3 state backends (servers from `scripts/pg-start` and
//!   `scripts/moto-start`): a fleet of workspaces applied in parallel, lock races, leases of
//!   killed holders, force-unlock, encryption at rest, S3 workspaces.
//! - `team`: workspaces, import, encryption at rest, state pull / push / migrate on the local
//!   backend.
//! - `ovh`: `examples/superset-ovh` against the OVH API simulator (in-process): apply, clean
//!   re-plan, out-of-band changes found by `ss diff` and undone, destroy, convergence under
//!   injected 5xx / 429 without duplicates, a wrong secret; every request re-validated against
//!   the schema.
//! - `gcp`: `examples/superset-gcp` against the Google Cloud API simulator (in-process):
//!   apply, clean re-plan, out-of-band changes found by `ss diff` and undone, destroy,
//!   convergence under injected 5xx / 429 without duplicates, missing credentials; every
//!   request re-validated against the discovery documents.
//! - `kube`: kube-sim in-process (a Kubernetes API with KEDA's CRD) for the tests that deploy
//!   the `superset` component into it; the sandbox example's application deployed there.
//! - `util`: temporary projects, running `ss` with a clean environment, assertions that print
//!   what the command said.

// A test reports failure by panicking, so the workspace's bans on `unwrap` and `panic!` do not
// apply here.
#![allow(clippy::unwrap_used, clippy::panic)]

#[cfg(feature = "aws")]
mod aws;
mod backends;
mod concurrency;
mod corpus;
mod crash;
mod failures;
#[cfg(feature = "gcp")]
mod gcp;
mod interrupt;
mod kube;
mod lifecycle;
mod lifecycle2;
mod limits;
mod ovh;
mod state_cmds;
mod targeting;
mod team;
mod util;
mod vars;
