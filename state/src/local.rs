//! The local file backend: the state snapshot as a pretty JSON file, replaced atomically, the
//! previous copy kept as `<path>.backup`; its write-ahead journal in `<path>.journal`; locked with
//! an OS file lock on `<path>.lock`. Every file is created with mode 0600.
//!
//! The lock is `flock`-style (`File::try_lock`): the OS releases it when the holder's file handle
//! closes, including when the process dies, so a crashed `ss` never leaves a stale lock. The lock
//! file also carries the holder's [`LockInfo`] as JSON so that a process refused the lock can
//! name the holder; it is emptied on release.
//!
//! # The journal file
//!
//! JSON Lines: a header line with the [`Stamp`] of the snapshot the journal applies to, then one
//! [`JournalEntry`] per line ([`crate::journal::encode_header`]). [`Backend::append`] writes a
//! whole batch with one write and one `fdatasync`, through a handle kept open between calls, so
//! recording progress costs O(entries) and never touches the snapshot. Only the first append
//! after opening the backend or after a compaction reads anything: the snapshot's stamp (to
//! refuse a base that is not the stored snapshot) and the existing journal (to resume it).
//!
//! Why a crash at any instant loses nothing and never leaves an unreadable state:
//! - In mid-append, the file may end with a torn line: [`Backend::load`] ignores it and the next
//!   append cuts it off. That append call never returned, so nothing relied on it. The whole
//!   lines before it do count: a crash may keep any prefix of a batch, so a batch must list a
//!   call's effects before the entry that resolves it.
//! - A new journal (for a new base) is written to a temporary file and renamed into place, so
//!   the file is always either the old journal, complete, or the new one, complete.
//! - [`Backend::compact`] renames the new snapshot into place first and removes the journal
//!   after. A crash in between leaves a journal whose header names the previous snapshot, not
//!   the stored one, so `load` ignores it; its effects are already in the new snapshot. A crash
//!   before the rename leaves the old snapshot and its journal, as if compaction never started.
//! - [`Backend::write`] is the same without removing the journal: its header goes stale at the
//!   rename.
//!
//! Serials: the stored state's serial is the snapshot's plus one per mutation in its journal,
//! and `write` and `compact` check against that ([`codec::check_successor`]).

use std::fs::{File, Metadata, TryLockError};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::atomic::{copy_atomic, private_options, write_atomic};
use crate::backend::{Backend, LockGuard};
use crate::codec::{self, Codec};
use crate::error::StateError;
use crate::journal::{self, JournalEntry, Loaded, Stamp};
use crate::lock::LockInfo;
use crate::model::State;

/// How long a refused locker waits for the holder to record itself before reporting it as
/// unknown. A holder writes its record right after taking the lock, so this is rarely used; it
/// stays well under the one second within which a refusal must be reported.
const HOLDER_WAIT: Duration = Duration::from_millis(600);
const HOLDER_POLL: Duration = Duration::from_millis(25);

pub struct LocalBackend {
    files: Files,
    /// The journal's append handle, kept between appends. Every file operation of this backend
    /// holds this mutex, so batches appended by concurrent tasks never interleave, and a write
    /// or compaction never races an append.
    journal: Arc<Mutex<Option<OpenJournal>>>,
}

/// The paths of one state's files.
#[derive(Clone)]
struct Files {
    /// How bytes are stored (sealed when a key is set).
    codec: Codec,
    snapshot: PathBuf,
    backup: PathBuf,
    journal: PathBuf,
}

impl LocalBackend {
    /// A backend storing plain JSON at `path`.
    pub fn new(path: impl Into<PathBuf>) -> LocalBackend {
        LocalBackend::with_codec(path, Codec::plain())
    }

    /// A backend storing at `path` through `codec` (encrypting when it has a key).
    pub fn with_codec(path: impl Into<PathBuf>, codec: Codec) -> LocalBackend {
        let snapshot = path.into();
        LocalBackend {
            files: Files {
                codec,
                backup: with_suffix(&snapshot, ".backup"),
                journal: with_suffix(&snapshot, ".journal"),
                snapshot,
            },
            journal: Arc::new(Mutex::new(None)),
        }
    }

    /// The state file (the snapshot).
    pub fn path(&self) -> &Path {
        &self.files.snapshot
    }

    /// Where the previous state is kept after each write.
    pub fn backup_path(&self) -> PathBuf {
        self.files.backup.clone()
    }

    /// The file locked by [`Backend::lock`], holding the holder's record.
    pub fn lock_path(&self) -> PathBuf {
        with_suffix(&self.files.snapshot, ".lock")
    }

    /// The journal of the snapshot.
    pub fn journal_path(&self) -> PathBuf {
        self.files.journal.clone()
    }

    /// Runs `work` off the async executor (state files can be megabytes and are flushed to
    /// disk) while holding the journal mutex.
    async fn with_files<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Files, &mut Option<OpenJournal>) -> Result<T, StateError> + Send + 'static,
    ) -> Result<T, StateError> {
        let files = self.files.clone();
        let journal = Arc::clone(&self.journal);
        tokio::task::spawn_blocking(move || work(&files, &mut lock_journal(&journal)))
            .await
            .map_err(|e| StateError::io(&self.files.snapshot, std::io::Error::other(e)))?
    }
}

fn lock_journal(journal: &Mutex<Option<OpenJournal>>) -> MutexGuard<'_, Option<OpenJournal>> {
    match journal.lock() {
        Ok(guard) => guard,
        Err(poisoned) => {
            // A panic in mid-append may have left a partial line after the handle's position:
            // dropping the handle makes the next append re-read the file and cut it off.
            let mut guard = poisoned.into_inner();
            *guard = None;
            journal.clear_poison();
            guard
        }
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
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

/// Reads the stored bytes, or `None` when there is no such file.
fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StateError::io(path, e)),
    }
}

/// The stored snapshot and the entries of its journal (none when there is no journal or it
/// belongs to another snapshot).
struct Stored {
    snapshot: State,
    entries: Vec<JournalEntry>,
}

fn read_stored(files: &Files) -> Result<Option<Stored>, StateError> {
    let Some(bytes) = read_bytes(&files.snapshot)? else {
        refuse_orphan_journal(files)?;
        return Ok(None);
    };
    let snapshot = files
        .codec
        .decode(&bytes, &files.snapshot.display().to_string())?;
    let entries = journal_entries(files, &Stamp::of(&snapshot))?;
    drop(bytes);
    Ok(Some(Stored { snapshot, entries }))
}

/// A journal with entries but no snapshot cannot come from ss, which writes a snapshot before
/// the first append; it means the state file was removed by hand. Its entries may record cloud
/// objects, so rather than silently starting from nothing this is reported. An empty journal
/// is harmless and reads as no state.
fn refuse_orphan_journal(files: &Files) -> Result<(), StateError> {
    let Some(bytes) = read_bytes(&files.journal)? else {
        return Ok(());
    };
    let origin = files.journal.display().to_string();
    let Some((_, start)) = journal::decode_header(&bytes, &origin)? else {
        return Ok(());
    };
    let (entries, _) = files.codec.decode_entries(&bytes[start..], &origin)?;
    if entries.is_empty() {
        return Ok(());
    }
    Err(StateError::Corrupt {
        path: origin,
        reason: format!(
            "it records {} changes but there is no state snapshot at {}; restore the snapshot \
             (or its .backup), or remove the journal if the state was deleted on purpose",
            entries.len(),
            files.snapshot.display()
        ),
    })
}

/// The entries of the journal if it applies to the snapshot `base`. Reads only the header of a
/// journal for another snapshot.
fn journal_entries(files: &Files, base: &Stamp) -> Result<Vec<JournalEntry>, StateError> {
    let path = &files.journal;
    let io = |e| StateError::io(path, e);
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let origin = path.display().to_string();
    let mut reader = BufReader::new(file);
    let mut header = Vec::new();
    reader.read_until(b'\n', &mut header).map_err(io)?;
    match journal::decode_header(&header, &origin)? {
        Some((stamp, _)) if stamp == *base => {
            let mut rest = Vec::new();
            reader.read_to_end(&mut rest).map_err(io)?;
            Ok(files.codec.decode_entries(&rest, &origin)?.0)
        }
        Some((stamp, _)) => {
            tracing::debug!(
                journal = %origin,
                journal_serial = stamp.serial,
                snapshot_serial = base.serial,
                "ignoring a journal already folded into the snapshot"
            );
            Ok(Vec::new())
        }
        None => Ok(Vec::new()),
    }
}

/// The stored snapshot's stamp and how many changes its journal adds, read without decoding
/// either (for the serial check of a write, which must stay cheap at any state size).
fn stored_stamp(files: &Files) -> Result<Option<(Stamp, u64)>, StateError> {
    let Some(bytes) = read_bytes(&files.snapshot)? else {
        refuse_orphan_journal(files)?;
        return Ok(None);
    };
    let stamp = files
        .codec
        .decode_stamp(&bytes, &files.snapshot.display().to_string())?;
    drop(bytes);
    let mutations = journal_mutations(files, &stamp)?;
    Ok(Some((stamp, mutations)))
}

/// The number of state changes in the journal if it applies to `base`.
fn journal_mutations(files: &Files, base: &Stamp) -> Result<u64, StateError> {
    let path = &files.journal;
    let io = |e| StateError::io(path, e);
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(e)),
    };
    let origin = path.display().to_string();
    let mut reader = BufReader::new(file);
    let mut header = Vec::new();
    reader.read_until(b'\n', &mut header).map_err(io)?;
    match journal::decode_header(&header, &origin)? {
        Some((stamp, _)) if stamp == *base => {
            let mut rest = Vec::new();
            reader.read_to_end(&mut rest).map_err(io)?;
            files.codec.count_mutations(&rest, &origin)
        }
        _ => Ok(0),
    }
}

/// How `store` treats the journal.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Store {
    /// Leave it: its header no longer names the stored snapshot.
    Write,
    /// Remove it, after the snapshot is in place.
    Compact,
}

/// Stores `plain` (the encoding of a state stamped `next`), sealed by the codec, as the
/// snapshot, serial-checked against the stored state with its journal, keeping the previous
/// snapshot as the backup.
fn store(
    files: &Files,
    open: &mut Option<OpenJournal>,
    plain: Vec<u8>,
    next: &Stamp,
    mode: Store,
) -> Result<(), StateError> {
    // Whatever happens next, the cached handle may belong to a snapshot that is no longer the
    // stored one: the next append must check its base again.
    *open = None;
    match stored_stamp(files)? {
        Some((snapshot, mutations)) => {
            // Compacting a state identical to the snapshot when the journal changed nothing
            // (it holds only intents and their resolutions): there is nothing to fold in, and a
            // new snapshot would need a new serial for no change.
            if mode == Store::Compact && mutations == 0 {
                let origin = files.snapshot.display().to_string();
                if let Some(stored) = read_bytes(&files.snapshot)?
                    && *files.codec.opened(&stored, &origin)? == *plain
                {
                    return remove_journal(files);
                }
            }
            codec::check_successor(&snapshot, snapshot.serial + mutations, next)?;
            copy_atomic(&files.snapshot, &files.backup)
                .map_err(|e| StateError::io(&files.backup, e))?;
        }
        None => ensure_parent(&files.snapshot)?,
    }
    let bytes = files.codec.seal(plain, next)?;
    write_atomic(&files.snapshot, &bytes).map_err(|e| StateError::io(&files.snapshot, e))?;
    tracing::debug!(path = %files.snapshot.display(), serial = next.serial, "state written");
    match mode {
        Store::Write => Ok(()),
        Store::Compact => remove_journal(files),
    }
}

fn remove_journal(files: &Files) -> Result<(), StateError> {
    match std::fs::remove_file(&files.journal) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StateError::io(&files.journal, e)),
    }
}

/// The journal file open for appending, and the snapshot it applies to.
struct OpenJournal {
    file: File,
    base: Stamp,
    /// Which file the handle is, to notice when the path names another one (another backend
    /// object compacted, or started a journal for a new base).
    identity: Option<FileId>,
}

impl OpenJournal {
    fn is_current(&self, path: &Path) -> bool {
        self.identity.is_some()
            && std::fs::metadata(path).ok().and_then(|m| file_id(&m)) == self.identity
    }

    /// One write and one data flush for the whole batch.
    fn write(&mut self, lines: &[u8]) -> std::io::Result<()> {
        self.file.write_all(lines)?;
        self.file.sync_data()
    }
}

type FileId = (u64, u64);

#[cfg(unix)]
fn file_id(meta: &Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

/// Without a stable file identity a kept handle cannot be checked, so every append reopens
/// the journal: correct, but linear in its size.
#[cfg(not(unix))]
fn file_id(_meta: &Metadata) -> Option<FileId> {
    None
}

/// Appends `lines` (encoded entries) to the journal of `base`, through the kept handle when it
/// is still the journal of `base`.
fn append_lines(
    files: &Files,
    open: &mut Option<OpenJournal>,
    base: &Stamp,
    lines: &[u8],
) -> Result<(), StateError> {
    let reusable = open
        .as_ref()
        .is_some_and(|o| o.base == *base && o.is_current(&files.journal));
    if !reusable {
        *open = None;
        *open = Some(open_journal(files, base, lines)?);
        return Ok(());
    }
    if let Some(journal) = open.as_mut()
        && let Err(e) = journal.write(lines)
    {
        // The file may now end with part of the batch: the next append reopens it, which cuts
        // that part off.
        *open = None;
        return Err(StateError::io(&files.journal, e));
    }
    Ok(())
}

/// Opens the journal of `base` for appending, after checking that `base` is the stored
/// snapshot, and appends `lines`: resumes the journal of `base` if there is one (cutting off a
/// torn last line), or starts a new one holding `lines`.
fn open_journal(files: &Files, base: &Stamp, lines: &[u8]) -> Result<OpenJournal, StateError> {
    let snapshot_origin = files.snapshot.display().to_string();
    let stored = match read_bytes(&files.snapshot)? {
        Some(bytes) => files.codec.decode_stamp(&bytes, &snapshot_origin)?,
        None => {
            return Err(StateError::Conflict {
                reason: format!(
                    "there is no state snapshot at {snapshot_origin} to journal changes against; \
                     a snapshot must be written before the first append"
                ),
            });
        }
    };
    codec::check_base(&stored, base)?;
    let path = &files.journal;
    let io = |e| StateError::io(path, e);
    let origin = path.display().to_string();
    let existing = read_bytes(path)?.unwrap_or_default();
    let resume = match journal::decode_header(&existing, &origin)? {
        Some((stamp, start)) if stamp == *base => {
            Some(start + files.codec.decode_entries(&existing[start..], &origin)?.1)
        }
        _ => None,
    };
    let file = match resume {
        Some(valid) => {
            let mut file = private_options().append(true).open(path).map_err(io)?;
            if valid < existing.len() {
                file.set_len(valid as u64).map_err(io)?;
                tracing::info!(journal = %origin, "cut off a torn last line before appending");
            }
            file.write_all(lines).map_err(io)?;
            file.sync_data().map_err(io)?;
            file
        }
        None => {
            let mut content = journal::encode_header(base)?;
            content.extend_from_slice(lines);
            write_atomic(path, &content).map_err(io)?;
            private_options().append(true).open(path).map_err(io)?
        }
    };
    let identity = file_id(&file.metadata().map_err(io)?);
    tracing::debug!(journal = %origin, serial = base.serial, "journal opened");
    Ok(OpenJournal {
        file,
        base: base.clone(),
        identity,
    })
}

#[async_trait::async_trait]
impl Backend for LocalBackend {
    fn describe(&self) -> String {
        format!("local file {}", self.files.snapshot.display())
    }

    async fn lock(&self, mut info: LockInfo) -> Result<Box<dyn LockGuard>, StateError> {
        info.path = self.files.snapshot.display().to_string();
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

    async fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        let lock_path = self.lock_path();
        if lock_path
            .parent()
            .is_some_and(|dir| !dir.as_os_str().is_empty() && !dir.exists())
        {
            return Ok(None);
        }
        match try_acquire(&lock_path, &LockInfo::new("lock-holder probe"))? {
            // Nobody held it; the probe's guard releases it again at once.
            Some(_probe) => Ok(None),
            None => Ok(Some(read_holder(&lock_path).unwrap_or_else(|| {
                LockInfo::unknown(&self.files.snapshot.display().to_string())
            }))),
        }
    }

    /// An OS file lock dies with its holder, so there is never a stale lock to break.
    async fn force_unlock(&self, _id: &str) -> Result<(), StateError> {
        Err(StateError::Unsupported(format!(
            "the lock of {} is an OS file lock, released by the system when its holder exits; \
             a lock that is held belongs to a running process: stop that process instead",
            self.describe()
        )))
    }

    /// The snapshot with its journal replayed: what [`Backend::load`] returns, without the
    /// pending intents.
    async fn read(&self) -> Result<Option<State>, StateError> {
        Ok(self.load().await?.map(|loaded| loaded.state))
    }

    async fn write(&self, state: &State) -> Result<(), StateError> {
        let plain = codec::encode(state)?;
        let next = Stamp::of(state);
        self.with_files(move |files, open| store(files, open, plain, &next, Store::Write))
            .await
    }

    async fn load(&self) -> Result<Option<Loaded>, StateError> {
        self.with_files(|files, _| {
            Ok(read_stored(files)?.map(|stored| journal::replay(stored.snapshot, &stored.entries)))
        })
        .await
    }

    async fn append(&self, base: &Stamp, entries: &[JournalEntry]) -> Result<(), StateError> {
        if entries.is_empty() {
            return Ok(());
        }
        let lines = self.files.codec.encode_entries(entries)?;
        let base = base.clone();
        self.with_files(move |files, open| append_lines(files, open, &base, &lines))
            .await
    }

    async fn compact(&self, state: &State) -> Result<(), StateError> {
        let plain = codec::encode(state)?;
        let next = Stamp::of(state);
        self.with_files(move |files, open| store(files, open, plain, &next, Store::Compact))
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

#[async_trait::async_trait]
impl LockGuard for LocalLock {
    fn info(&self) -> &LockInfo {
        &self.info
    }

    /// Closing the locked file releases the lock (see `Drop`); nothing can fail that matters.
    async fn release(self: Box<Self>) -> Result<(), StateError> {
        drop(self);
        Ok(())
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

/// The states of every workspace of one configuration on the local disk: `default` at the
/// configured path, any other workspace `W` at `<dir>/ss.state.d/W/<file name>` beside it
/// (Terraform's `terraform.tfstate.d` layout).
pub struct LocalStore {
    default: PathBuf,
    codec: Codec,
}

/// The directory, beside the default state file, holding the other workspaces' states.
const WORKSPACES_DIR: &str = "ss.state.d";

impl LocalStore {
    pub fn new(default: impl Into<PathBuf>, codec: Codec) -> LocalStore {
        LocalStore {
            default: default.into(),
            codec,
        }
    }

    fn workspaces_dir(&self) -> PathBuf {
        match self.default.parent() {
            Some(dir) => dir.join(WORKSPACES_DIR),
            None => PathBuf::from(WORKSPACES_DIR),
        }
    }

    /// The state file of `workspace`.
    pub fn path(&self, workspace: &str) -> Result<PathBuf, StateError> {
        crate::workspace::check_name(workspace)?;
        if workspace == crate::workspace::DEFAULT {
            return Ok(self.default.clone());
        }
        let file = self
            .default
            .file_name()
            .map(std::ffi::OsStr::to_os_string)
            .unwrap_or_else(|| "ss.state.json".into());
        Ok(self.workspaces_dir().join(workspace).join(file))
    }
}

#[async_trait::async_trait]
impl crate::backend::Store for LocalStore {
    fn describe(&self) -> String {
        format!(
            "local files ({} and {}/)",
            self.default.display(),
            self.workspaces_dir().display()
        )
    }

    async fn workspaces(&self) -> Result<Vec<String>, StateError> {
        let dir = self.workspaces_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Ok(crate::workspace::sorted(Vec::new()));
            }
            Err(e) => return Err(StateError::io(&dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| StateError::io(&dir, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if crate::workspace::check_name(&name).is_err() {
                continue;
            }
            let path = self.path(&name)?;
            if path.exists() || with_suffix(&path, ".journal").exists() {
                names.push(name);
            }
        }
        Ok(crate::workspace::sorted(names))
    }

    async fn backend(&self, workspace: &str) -> Result<Arc<dyn Backend>, StateError> {
        Ok(Arc::new(LocalBackend::with_codec(
            self.path(workspace)?,
            self.codec.clone(),
        )))
    }

    async fn delete_workspace(&self, workspace: &str) -> Result<(), StateError> {
        if workspace == crate::workspace::DEFAULT {
            return Err(StateError::Unsupported(
                "the default workspace cannot be deleted".to_string(),
            ));
        }
        let path = self.path(workspace)?;
        // The lock file goes last: its holder (the caller) still has it open, and removing the
        // name does not release the lock it holds.
        for file in [
            with_suffix(&path, ".journal"),
            path.clone(),
            with_suffix(&path, ".backup"),
            with_suffix(&path, ".lock"),
        ] {
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(StateError::io(&file, e)),
            }
        }
        if let Some(dir) = path.parent() {
            // Only when empty: anything else a user put there stays.
            let _ = std::fs::remove_dir(dir);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let counter = std::sync::atomic::AtomicUsize::new(0);
        crate::conformance::run_all(async || {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            LocalBackend::new(dir.path().join(format!("case-{n}")).join("ss.state.json"))
        })
        .await;
    }

    #[tokio::test]
    async fn passes_the_conformance_suite_encrypted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let counter = std::sync::atomic::AtomicUsize::new(0);
        let cipher = Arc::new(crate::crypto::Cipher::from_passphrase("test key").expect("cipher"));
        crate::conformance::run_all(async || {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            LocalBackend::with_codec(
                dir.path().join(format!("case-{n}")).join("ss.state.json"),
                Codec::encrypted(Arc::clone(&cipher)),
            )
        })
        .await;
        // Nothing the suite wrote is readable without the key.
        for entry in walk(dir.path()) {
            let bytes = std::fs::read(&entry).expect("read");
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("hunter2") && !text.contains("sandbox_object"),
                "{} holds plaintext",
                entry.display()
            );
        }
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
        files
    }

    #[tokio::test]
    async fn store_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let counter = std::sync::atomic::AtomicUsize::new(0);
        crate::conformance::run_store(async || {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            LocalStore::new(
                dir.path().join(format!("case-{n}")).join("ss.state.json"),
                Codec::plain(),
            )
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
