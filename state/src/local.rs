//! The local file backend: the state as a pretty JSON file, replaced atomically, the previous
//! copy kept as `<path>.backup`, locked with an OS file lock on `<path>.lock`.
//!
//! The lock is `flock`-style (`File::try_lock`): the OS releases it when the holder's file handle
//! closes, including when the process dies, so a crashed `ss` never leaves a stale lock. The lock
//! file also carries the holder's [`LockInfo`] as JSON so that a process refused the lock can
//! name the holder; it is emptied on release.

use std::fs::{File, TryLockError};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::atomic::{private_options, write_atomic};
use crate::backend::{Backend, LockGuard};
use crate::codec;
use crate::error::StateError;
use crate::lock::LockInfo;
use crate::model::State;

/// How long a refused locker waits for the holder to record itself before reporting it as
/// unknown. A holder writes its record right after taking the lock, so this is rarely used; it
/// stays well under the one second within which a refusal must be reported.
const HOLDER_WAIT: Duration = Duration::from_millis(600);
const HOLDER_POLL: Duration = Duration::from_millis(25);

pub struct LocalBackend {
    path: PathBuf,
}

impl LocalBackend {
    pub fn new(path: impl Into<PathBuf>) -> LocalBackend {
        LocalBackend { path: path.into() }
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the previous state is kept after each write.
    pub fn backup_path(&self) -> PathBuf {
        with_suffix(&self.path, ".backup")
    }

    /// The file locked by [`Backend::lock`], holding the holder's record.
    pub fn lock_path(&self) -> PathBuf {
        with_suffix(&self.path, ".lock")
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Runs blocking file work off the async executor; state files can be megabytes and are fsynced.
async fn blocking<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Result<T, StateError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StateError::io(path, std::io::Error::other(e)))?
}

/// Creates the directory that will hold `path` if it does not exist yet.
fn ensure_parent(path: &Path) -> Result<(), StateError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| StateError::io(dir, e))
        }
        _ => Ok(()),
    }
}

/// Reads the stored bytes, or `None` when there is no state file.
fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StateError::io(path, e)),
    }
}

#[async_trait::async_trait]
impl Backend for LocalBackend {
    fn describe(&self) -> String {
        format!("local file {}", self.path.display())
    }

    async fn lock(&self, mut info: LockInfo) -> Result<Box<dyn LockGuard>, StateError> {
        info.path = self.path.display().to_string();
        let lock_path = self.lock_path();
        ensure_parent(&lock_path)?;
        let deadline = tokio::time::Instant::now() + HOLDER_WAIT;
        loop {
            if let Some(guard) = try_acquire(&lock_path, &info)? {
                tracing::debug!(path = %lock_path.display(), id = %info.id, "state lock taken");
                return Ok(Box::new(guard));
            }
            // The holder may be between taking the lock and recording itself, or may have just
            // released it: look again briefly before reporting an unknown holder.
            if let Some(holder) = read_holder(&lock_path) {
                return Err(StateError::Locked {
                    holder: Box::new(holder),
                });
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StateError::Locked {
                    holder: Box::new(LockInfo::unknown(&info.path)),
                });
            }
            tokio::time::sleep(HOLDER_POLL).await;
        }
    }

    async fn read(&self) -> Result<Option<State>, StateError> {
        let path = self.path.clone();
        blocking(&self.path, move || {
            let origin = path.display().to_string();
            read_bytes(&path)?
                .map(|bytes| codec::decode(&bytes, &origin))
                .transpose()
        })
        .await
    }

    async fn write(&self, state: &State) -> Result<(), StateError> {
        let bytes = codec::encode(state)?;
        let path = self.path.clone();
        let backup = self.backup_path();
        let (lineage, serial) = (state.lineage.clone(), state.serial);
        blocking(&self.path, move || {
            let origin = path.display().to_string();
            match read_bytes(&path)? {
                Some(old) => {
                    // Decoding first means a corrupt file is reported, never overwritten.
                    let stored = codec::decode(&old, &origin)?;
                    codec::check_successor(
                        codec::Stamp::of(&stored),
                        codec::Stamp {
                            lineage: &lineage,
                            serial,
                        },
                    )?;
                    let backup_path = backup.clone();
                    write_atomic(&backup, &old).map_err(|e| StateError::io(&backup_path, e))?;
                }
                None => ensure_parent(&path)?,
            }
            write_atomic(&path, &bytes).map_err(|e| StateError::io(&path, e))?;
            tracing::debug!(path = %origin, serial, "state written");
            Ok(())
        })
        .await
    }
}

/// A held lock: the open, locked lock file. Dropping it empties the record and closes the file,
/// which releases the lock.
struct LocalLock {
    file: File,
    info: LockInfo,
    path: PathBuf,
}

impl LockGuard for LocalLock {
    fn info(&self) -> &LockInfo {
        &self.info
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        // Empty the record while still holding the lock, so nobody reads a stale holder.
        if let Err(e) = self.file.set_len(0) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot clear the lock record");
        }
        if let Err(e) = self.file.unlock() {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot release the state lock; it is released when ss exits");
        }
        tracing::debug!(path = %self.path.display(), id = %self.info.id, "state lock released");
    }
}

/// Takes the OS lock on `lock_path` and records `info` in it; `None` when someone else holds it.
fn try_acquire(lock_path: &Path, info: &LockInfo) -> Result<Option<LocalLock>, StateError> {
    let io = |e| StateError::io(lock_path, e);
    // Not truncated on open: the content is the current holder's record until we hold the lock.
    let mut file = private_options()
        .read(true)
        .create(true)
        .truncate(false)
        .open(lock_path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(None),
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    let record = serde_json::to_vec_pretty(info).map_err(|e| StateError::Encode {
        reason: e.to_string(),
    })?;
    file.set_len(0).map_err(io)?;
    file.write_all(&record).map_err(io)?;
    file.sync_data().map_err(io)?;
    Ok(Some(LocalLock {
        file,
        info: info.clone(),
        path: lock_path.to_path_buf(),
    }))
}

/// The holder recorded in the lock file, if there is a complete record.
fn read_holder(lock_path: &Path) -> Option<LockInfo> {
    let mut text = String::new();
    File::open(lock_path).ok()?.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let counter = std::sync::atomic::AtomicUsize::new(0);
        crate::conformance::run_all(|| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            LocalBackend::new(dir.path().join(format!("case-{n}")).join("ss.state.json"))
        })
        .await;
    }

    #[test]
    fn paths_and_description() {
        let backend = LocalBackend::new("dir/ss.state.json");
        assert_eq!(backend.describe(), "local file dir/ss.state.json");
        assert_eq!(
            backend.backup_path(),
            PathBuf::from("dir/ss.state.json.backup")
        );
        assert_eq!(backend.lock_path(), PathBuf::from("dir/ss.state.json.lock"));
    }
}
