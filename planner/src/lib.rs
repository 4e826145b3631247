//! The `ss` core: load and evaluate a spec, build the graph, diff against state into a
//! [`plan::Plan`], and apply a plan on a dependency-graph scheduler.
//!
//! Architecture invariant: this crate never depends on a cloud SDK; it reaches clouds only
//! through [`provider_api::Provider`].

pub mod addr;
pub mod apply;
pub mod dag;
pub mod engine;
pub mod events;
pub mod fmt;
pub mod graph;
pub mod plan;
pub mod recover;
pub mod refresh;
pub mod spec;
pub mod walk;

pub use engine::{Engine, ProviderRegistry};
pub use recover::{RecoverError, recover};
pub use walk::{PlanError, PlanOptions, plan};
