//! State: the model, its on-disk format versions, backends (local file today) and locking.
//!
//! Architecture invariant: no cloud SDK and no spec parsing here.

pub mod model;

pub use model::{FORMAT_VERSION, OutputRecord, ResourceRecord, State};
