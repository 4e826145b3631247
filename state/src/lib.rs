//! State: the model, its on-disk format versions, backends (local file today) and locking.
//!
//! Architecture invariant: no cloud SDK and no spec parsing here.
//!
//! Every backend implements [`Backend`]: a snapshot with a serial-checked write, a write-ahead
//! [`journal`] appended after every step of an apply and folded into a new snapshot by
//! `compact`, and a lock that names its holder. The format (JSON, versioned, upgraded one step
//! at a time) lives in [`codec`] and [`upgrade`] so that remote backends store exactly the same
//! bytes as the local file. [`conformance`] (feature `conformance`) is the suite every backend
//! passes.
//!
//! How a caller uses the journal:
//! 1. [`Backend::load`] gives the state (snapshot with journal replayed), its `base` stamp, and
//!    the intents whose outcome is unknown; resolve those first.
//! 2. Before the first append there must be a stored snapshot: for a brand-new state,
//!    [`Backend::write`] one. `append` refuses a base that is not the stored snapshot.
//! 3. [`Backend::append`] entries against `base`, batching what is ready together: each call is
//!    one durable write. A crash may keep any prefix of a batch, so list a call's effects before
//!    the [`JournalEntry::Resolved`] that closes its intent.
//! 4. [`Backend::compact`] the final state (its serial is the base's plus one per mutation,
//!    as [`journal::replay`] counts) with no intent pending.
//!
//! Serials: the stored state's serial is its snapshot's plus one per mutation in the journal;
//! `write` and `compact` accept a state whose serial is above the snapshot's and not below
//! that ([`codec::check_successor`]), so a loaded state may be stored as it is and a copy from
//! before some journal entries is refused.

pub mod atomic;
pub mod backend;
pub mod codec;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod crypto;
pub mod error;
pub mod journal;
pub mod local;
pub mod lock;
pub mod model;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod release;
#[cfg(feature = "s3")]
pub mod s3;
pub mod upgrade;
pub mod workspace;

pub use atomic::write_atomic;
pub use backend::{Backend, LockGuard, Store};
pub use codec::Codec;
pub use error::StateError;
pub use journal::{Intent, IntentAction, JournalEntry, Loaded, Stamp};
pub use local::{LocalBackend, LocalStore};
pub use lock::LockInfo;
pub use model::{ComponentRecord, FORMAT_VERSION, OutputRecord, ResourceRecord, State};
