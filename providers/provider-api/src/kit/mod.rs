//! The provider kit: what every provider needs and no provider should write again.
//!
//! A provider crate writes its cloud's service modules and a small [`Cloud`] value (its
//! settings, validation, expansion and plan adjustments); [`Kit`] turns them into a
//! [`Provider`](crate::Provider): it routes each native type to the [`Service`] that owns it,
//! refuses types nobody owns with one wording, applies schema defaults before planning, and
//! falls back to the identity expansion for native types. A service whose cloud answers
//! "created, not ready yet" implements the smaller [`Lifecycle`] instead and is wrapped in
//! [`Converging`], which adopts, waits, converges and waits for deletion the same way for every
//! cloud.
//!
//! The rest are the small pieces every provider repeated: schema type shorthands
//! ([`schema`]), reading configuration values ([`config`]), the per-zone subnet split
//! ([`net`]), readiness polling with one default bound ([`wait`]), pagination ([`pages`]) and
//! the provider [`Factory`] the binary's registry and the test harnesses list.

pub mod config;
mod factory;
pub mod net;
pub mod pages;
mod provider;
pub mod schema;
mod service;
pub mod wait;

pub use factory::Factory;
pub use provider::{Cloud, Expanded, Kit};
pub use service::{Converging, Lifecycle, Obj, Service, read_one, unknown_type};
