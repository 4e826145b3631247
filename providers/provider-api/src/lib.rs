//! The contract between the `ss` core and its providers.
//!
//! This crate deliberately has no cloud SDK: the planner and state crates depend on it alone,
//! and every provider crate implements [`Provider`], through the [`kit`] (whose waits use
//! tokio's timer, the runtime every provider runs on).
//!
//! The pieces:
//! - [`Value`]: a configuration value that is known, unknown ("known after apply") or sensitive.
//! - [`schema`]: what a resource type accepts and exports, which attributes force replacement.
//! - [`component`]: the portable components (`network`, `postgres`, …), their shared schemas and
//!   validation, identical on every provider.
//! - [`Expansion`]: how a provider decomposes one resource (portable or native) into native
//!   resources with internal edges.
//! - [`Provider`]: the request/response operations a provider implements.
//! - [`conformance`] (feature `conformance`): the suite every provider runs against its
//!   simulator.
//! - [`kit`]: the provider kit: the one `Provider` implementation over a cloud's service
//!   modules, and the helpers every provider needs (schema shorthands, settings, zones and
//!   subnets, waits, pagination, factories).

pub mod component;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod diag;
mod expansion;
mod identity;
pub mod kit;
mod provider;
pub mod schema;
mod value;

pub use diag::{Diagnostic, Severity};
pub use expansion::{Binding, Expansion, NativeSpec};
pub use identity::deterministic_name;
pub use provider::{
    Attrs, CreateRequest, FindResult, Identity, PlanRequest, PlanResponse, Provider, ProviderError,
    ReadResult, ResourceState, StateResult, default_plan, expand_native, same, seconds_setting,
    with_defaults,
};
pub use value::{Value, ValueKind};
