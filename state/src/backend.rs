//! The storage contract every state backend (local file, PostgreSQL, S3) implements, and that
//! [`crate::conformance`] checks.

use std::sync::Arc;

use crate::error::StateError;
use crate::journal::{JournalEntry, Loaded, Stamp};
use crate::lock::LockInfo;
use crate::model::State;

/// Storage for one state plus its lock.
///
/// Exactly one writer at a time: callers take [`Backend::lock`] before a read-modify-write cycle
/// and hold the guard until their last write. `write` additionally refuses anything that does not
/// follow the stored state, so a stale copy can never overwrite a newer one.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// Where the state lives, for messages (`local file ./ss.state.json`).
    fn describe(&self) -> String;

    /// Takes the lock, or fails promptly (within a second) with [`StateError::Locked`] naming
    /// the holder. The lock is released when the guard is dropped, and also when the holding
    /// process dies.
    async fn lock(&self, info: LockInfo) -> Result<Box<dyn LockGuard>, StateError>;

    /// Who holds the lock now, if anyone (for `ss force-unlock` and messages). A lease that has
    /// expired counts as not held.
    async fn lock_holder(&self) -> Result<Option<LockInfo>, StateError>;

    /// Releases a lock left by a holder that cannot release it (crashed on another machine),
    /// naming it by id so that a lock taken since by someone else is never broken by mistake:
    /// [`StateError::LockMismatch`] when the current holder has another id,
    /// [`StateError::NotLocked`] when nobody holds it. A backend whose locks cannot outlive
    /// their holder refuses with [`StateError::Unsupported`].
    async fn force_unlock(&self, id: &str) -> Result<(), StateError>;

    /// The stored state, upgraded to the current format version; `None` when nothing is stored
    /// yet. A state from a newer ss is refused with [`StateError::UnsupportedVersion`].
    async fn read(&self) -> Result<Option<State>, StateError>;

    /// Stores `state` as the snapshot. When a state is already stored, `state.lineage` must
    /// equal its lineage and `state.serial` must be greater than its snapshot's serial and at
    /// least the serial its journal brings it to ([`crate::codec::check_successor`]);
    /// otherwise [`StateError::Conflict`]. A journal written against the previous snapshot no
    /// longer applies after this.
    async fn write(&self, state: &State) -> Result<(), StateError>;

    /// The stored snapshot with its journal replayed ([`crate::journal::replay`]), and the
    /// intents still pending; `None` when nothing is stored. A journal whose stamp is not the
    /// stored snapshot's is ignored, and so is a torn last entry (a crash in mid-append).
    async fn load(&self) -> Result<Option<Loaded>, StateError>;

    /// Appends entries to the journal of the snapshot `base`, durably (on disk, or committed)
    /// before returning. A journal for another stamp is replaced by a new one for `base`.
    /// `base` must be the stored snapshot's stamp (write a snapshot before the first append):
    /// otherwise [`StateError::Conflict`], since entries for another snapshot would be ignored.
    /// Callers batch concurrent entries into one call (group commit); concurrent calls never
    /// interleave their entries. A crash in mid-call may keep any prefix of the entries.
    async fn append(&self, base: &Stamp, entries: &[JournalEntry]) -> Result<(), StateError>;

    /// Folds everything into a new snapshot: stores `state` as [`Backend::write`] does and
    /// empties the journal. Only call it with no intent pending. A state identical to the
    /// stored snapshot, when no journal entry changed anything, only empties the journal.
    async fn compact(&self, state: &State) -> Result<(), StateError>;
}

/// A held lock. [`LockGuard::release`] releases it and reports failure; dropping it releases it
/// as well as it can (a remote backend starts the release in the background, see
/// [`crate::release::settle`], and a lease expires in any case).
#[async_trait::async_trait]
pub trait LockGuard: Send + Sync {
    fn info(&self) -> &LockInfo;

    /// Releases the lock now.
    async fn release(self: Box<Self>) -> Result<(), StateError>;
}

/// Every state of one configuration: one per workspace, each with its own lock. The workspace
/// `default` always exists (it may hold no state yet); others exist once created.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Where the states live, for messages (`PostgreSQL schema ss at db.example:5432`).
    fn describe(&self) -> String;

    /// The workspaces with a stored state, sorted, with `default` first and always present.
    async fn workspaces(&self) -> Result<Vec<String>, StateError>;

    /// The backend of one workspace (whether or not it holds a state yet). The name must pass
    /// [`crate::workspace::check_name`].
    async fn backend(&self, workspace: &str) -> Result<Arc<dyn Backend>, StateError>;

    /// Removes a workspace's state, journal and lock record. The caller holds its lock and has
    /// checked that the state is empty; `default` cannot be deleted.
    async fn delete_workspace(&self, workspace: &str) -> Result<(), StateError>;
}
