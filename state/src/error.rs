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
