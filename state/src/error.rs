//! The errors every backend reports. The binary turns them into messages and exit codes.

use crate::lock::LockInfo;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another process holds the lock; the holder is named so the user can find it. The record
    /// is boxed to keep every `Result<_, StateError>` small.
    #[error(
        "state is locked by {}@{} (pid {}) running `{}` since {}; lock id {}",
        holder.user, holder.host, holder.pid, holder.operation, holder.created, holder.id
    )]
    Locked { holder: Box<LockInfo> },

    /// The write does not follow the stored state (other lineage, or a serial not above the
    /// stored one): someone else wrote in between, or the caller works from a stale copy.
    #[error("state conflict: {reason}")]
    Conflict { reason: String },

    /// The stored state cannot be understood. It is never overwritten, so nothing is lost.
    #[error("state at {path} is corrupt and was left untouched: {reason}")]
    Corrupt { path: String, reason: String },

    /// The stored state was written by a newer ss.
    #[error(
        "state format version {found} is newer than this ss supports (version {supported}); upgrade ss"
    )]
    UnsupportedVersion { found: u32, supported: u32 },

    #[error("cannot access {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// A force-unlock named a lock id that is not the current holder's.
    #[error("the lock is held under id {}, not {given}: by {}@{} (pid {}) running `{}` since {}", holder.id, holder.user, holder.host, holder.pid, holder.operation, holder.created)]
    LockMismatch {
        given: String,
        holder: Box<LockInfo>,
    },

    /// A force-unlock found nobody holding the lock.
    #[error("the state at {path} is not locked")]
    NotLocked { path: String },

    /// The backend cannot do this (a local file lock cannot be broken from outside: the OS
    /// releases it when its holder exits).
    #[error("{0}")]
    Unsupported(String),

    /// The storage service failed (connection refused, authentication, an unexpected answer).
    /// `reason` never holds a connection password.
    #[error("{backend}: {reason}")]
    Backend { backend: String, reason: String },

    /// The state is encrypted and cannot be decrypted with the key given (or no key was given).
    #[error("cannot decrypt the state at {path}: {reason}")]
    Decrypt { path: String, reason: String },

    #[error(
        "invalid workspace name {name:?}: use 1 to 64 letters, digits, `_` or `-`, starting with a letter or digit"
    )]
    InvalidWorkspace { name: String },

    /// The state could not be encoded (it holds a value JSON cannot represent).
    #[error("cannot encode the state: {reason}")]
    Encode { reason: String },
}

impl StateError {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> StateError {
        StateError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
