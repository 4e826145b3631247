//! `sim-kit`: the plumbing every cloud API simulator of this repository shares (`ovh-sim`,
//! `gcp-sim`, and the Kubernetes API simulator to come). Test-only: never a dependency of a
//! production crate.
//!
//! A simulator brings what makes it that cloud: its routes and dispatch (which request does
//! what to its objects), its validation against the published API description, its error
//! envelope and its authentication. The kit brings the rest:
//!
//! * **Settings** ([`config`]): [`sim_config!`] declares a simulator's `Config` with the
//!   settings every simulator has (listen address, request log, step delay, latency, fault
//!   rates, seed) next to its own, with their defaults; [`Args`] is the same on the command
//!   line, flattened into the simulator's `clap` parser, and [`run`] is the whole `main`
//!   once the simulator can start: check the flags, serve, print the URL line first on
//!   stdout, stop on Ctrl-C.
//! * **Serving** ([`serve`]): [`bind`] one or more listeners (consecutive ports from a
//!   non-zero `--listen` port), [`Server`] runs an axum router on each until
//!   [`Server::shutdown`] stops them gracefully.
//! * **The request log** ([`log`]): one JSON line per request (`api`, `method`, `path`,
//!   `query`, `body`, `status`, `injected`), secrets in form bodies shortened.
//! * **The world store** ([`store`]): objects under their API path in one ordered map, ids,
//!   sequence numbers, the seeded random source; the simulator wraps it with its own object
//!   type and lifecycle (status patches, operations).
//! * **Fault injection** ([`faults`]): throttling, server errors before or after the work is
//!   done, and added latency, drawn from the store's seeded random source so that a seed
//!   replays the same faults.
//! * **A wire-level client** ([`client`]): one raw HTTP/1.1 exchange, for tests and replays
//!   that must send exactly what they mean.
//! * **Schema glue** ([`schema`], [`text`]): API descriptions loaded once per directory and
//!   process, percent-decoding, query strings and forms, base64, timestamps.

pub mod client;
pub mod config;
pub mod faults;
pub mod log;
pub mod schema;
pub mod serve;
pub mod store;
pub mod text;

pub use config::{Args, Settings, parse_args, run};
pub use faults::{Fault, Faults};
pub use log::{Entry, RequestLog};
pub use serve::{Handle, Server, bind, lock, reply};
pub use store::{Store, Tokens};
