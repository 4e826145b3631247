//! State: the model, its on-disk format versions, backends (local file today) and locking.
//!
//! Architecture invariant: no cloud SDK and no spec parsing here.
//!
//! Every backend implements [`Backend`]: read, a serial-checked write, and a lock that names its
//! holder. The format (JSON, versioned, upgraded one step at a time) lives in [`codec`] and
//! [`upgrade`] so that remote backends store exactly the same bytes as the local file.

pub mod atomic;
pub mod backend;
pub mod codec;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod error;
pub mod journal;
pub mod local;
pub mod lock;
pub mod model;
pub mod upgrade;

pub use atomic::write_atomic;
pub use backend::{Backend, LockGuard};
pub use error::StateError;
pub use journal::{Intent, IntentAction, JournalEntry, Loaded, Stamp};
pub use local::LocalBackend;
pub use lock::LockInfo;
pub use model::{ComponentRecord, FORMAT_VERSION, OutputRecord, ResourceRecord, State};
