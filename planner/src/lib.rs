//! The `ss` core: load and evaluate a spec, build the graph, diff against state into a
//! [`plan::Plan`], and apply a plan on a dependency-graph scheduler.
//!
//! Architecture invariant: this crate never depends on a cloud SDK; it reaches clouds only
//! through [`provider_api::Provider`].

pub mod addr;
pub mod events;
pub mod fmt;
pub mod plan;
pub mod spec;
