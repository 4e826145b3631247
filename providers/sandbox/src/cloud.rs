//! The simulated cloud on disk.
//!
//! Layout of `<dir>`:
//! - `objects/<type>/<id>.json`: one JSON file per object, the source of truth. Listing a type
//!   reads its directory; reading by id opens one file.
//! - `names/<type>/<name>`: the name index. The entry is a hard link to the first version of
//!   the object created under that deterministic name, and gives its id, so finding (adopting)
//!   an object by identity costs two small reads whatever the number of objects, and a create
//!   makes one new file, not two (allocating inodes is the costliest step of a create on ext4).
//! - `locks/<type>.<shard>`: OS locks. A change of an object holds the lock of its name's shard
//!   exclusively, so two creates of one name (from two threads or two `ss` processes) are
//!   serialised and exactly one object results, while creates of other names proceed.
//! - `locks/<type>.refs`: held shared by a create or update of an object that refers to an
//!   object of `<type>`, and exclusively by a delete of an object of `<type>`, so a reference
//!   check and a delete of its target never interleave. Every `.refs` lock is taken before any
//!   shard lock, in type order, so lock waits never form a cycle.
//!
//! Readers (`list`, reads by id or name, readiness polls) take no lock: every file is written to
//! a temporary file and renamed or linked into place, so a reader sees the old or the new object, never
//! half of one. A create writes the name index before the object, and a delete removes the
//! object before the name index: an interrupted create leaves an index entry naming no object,
//! which reads as absent and is overwritten by the next create, and never an object that its
//! name cannot find (which a retry would duplicate). Critical sections hold no directory
//! listing: a create reads one index entry, checks the referenced objects exist, and writes two
//! small files.
//!
//! Durability: files are not fsynced. The simulated cloud must survive the `ss` process being
//! killed at any instant (the kernel's page cache outlives the process, and rename is atomic),
//! which is what crash tests exercise; it does not try to survive a power loss or kernel crash,
//! which could lose recent objects. An fsync per object would cost milliseconds each and make
//! the cloud, not `ss`, the bottleneck of benchmarks at 10,000 objects.
//!
//! Objects become ready some time after a change: the object records its `status` (`creating`
//! or `updating`) and `ready_at_ms`, and reads show `available` once that time has passed. Files
//! are created 0600: like a real cloud's database they hold secrets.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use provider_api::schema::Presence;
use provider_api::{Attrs, Value};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::types::{self, NativeType};

/// Shown instead of the value of a sensitive attribute by [`Cloud::list`] and [`Cloud::set`].
pub const REDACTED: &str = "(sensitive value)";

/// How many lock shards the names of one type are spread over: enough that concurrent creates
/// of different names rarely wait on each other.
const NAME_SHARDS: u64 = 16;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("sandbox cloud: {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("sandbox cloud: {path} is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("sandbox cloud: object file {path} is unreadable: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("sandbox cloud: no object with id {0:?}")]
    UnknownObject(String),
    #[error("sandbox cloud: {type_name} has no attribute {key:?}")]
    UnknownAttribute { type_name: String, key: String },
    /// The simulated API refused the request (a missing reference, an object still in use, an
    /// attribute that cannot change in place). The message never contains attribute values.
    #[error("{0}")]
    Rejected(String),
}

type Result<T, E = SandboxError> = std::result::Result<T, E>;

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError {
    let path = path.to_path_buf();
    move |source| SandboxError::Io {
        action,
        path,
        source,
    }
}

/// Where an object is in its lifecycle, as a real cloud's `status` field says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created: not usable until its ready time.
    Creating,
    /// Being changed: usable, but the change is not complete until its ready time.
    Updating,
    #[default]
    Available,
}

/// One object as the simulated cloud shows it. Sensitive attribute values are replaced by
/// `"(sensitive value)"`: like a real console, the cloud never displays a master password.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CloudObject {
    pub id: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// The deterministic name the object was created under.
    pub name: String,
    pub status: Status,
    pub attributes: Map<String, Json>,
    /// RFC 3339 time of creation.
    pub created_at: String,
}

/// An object file. It deliberately has no `Debug`: it holds secrets in clear.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct StoredObject {
    pub id: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub name: String,
    pub attributes: Map<String, Json>,
    /// Attributes whose values are sensitive: those the schema says, and those configured
    /// from a sensitive value.
    #[serde(default)]
    pub sensitive: BTreeSet<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The status of the last change while it runs; [`StoredObject::status`] says
    /// `available` once `ready_at_ms` has passed.
    #[serde(default)]
    pub status: Status,
    /// Milliseconds since the Unix epoch when the last create or update completes; zero when
    /// the cloud gives no completion time.
    #[serde(default)]
    pub ready_at_ms: u64,
}

impl StoredObject {
    fn to_cloud_object(&self) -> CloudObject {
        let attributes = self
            .attributes
            .iter()
            .map(|(k, v)| {
                let shown = if self.sensitive.contains(k) && !v.is_null() {
                    Json::from(REDACTED)
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect();
        CloudObject {
            id: self.id.clone(),
            type_name: self.type_name.clone(),
            name: self.name.clone(),
            status: self.status(),
            attributes,
            created_at: self.created_at.clone(),
        }
    }

    /// The attributes as provider values, every schema attribute present, sensitive ones
    /// marked.
    pub fn attrs(&self, ty: &NativeType) -> Attrs {
        ty.schema()
            .body
            .attributes
            .keys()
            .map(|k| {
                let v = self
                    .attributes
                    .get(k)
                    .map(Value::from_json)
                    .unwrap_or(Value::Null);
                (k.clone(), v.mark_if(self.sensitive.contains(k)))
            })
            .collect()
    }

    /// The status now: the running change's, or `available` once its ready time has passed.
    pub fn status(&self) -> Status {
        if since_epoch() >= Duration::from_millis(self.ready_at_ms) {
            Status::Available
        } else {
            self.status
        }
    }

    /// How long until the running change completes, when the cloud says; zero when it
    /// already has.
    pub fn eta(&self) -> Option<Duration> {
        (self.ready_at_ms > 0)
            .then(|| Duration::from_millis(self.ready_at_ms).saturating_sub(since_epoch()))
    }
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The completion time of a change that takes `d` from now, in milliseconds since the epoch,
/// rounded down so a change that takes no time is complete at once.
fn ready_at(d: Duration) -> u64 {
    millis(since_epoch().saturating_add(d))
}

fn timestamp() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LockMode {
    Shared,
    Exclusive,
}

/// OS locks held until dropped: closing a file releases its lock, also when the process dies.
struct Held {
    _files: Vec<File>,
}

/// A handle on the simulated cloud in a directory. Cheap to clone; holds no open file.
#[derive(Clone, Debug)]
pub struct Cloud {
    dir: PathBuf,
}

impl Cloud {
    /// Opens the cloud in `dir`. Nothing is created until the first change, so looking at a
    /// cloud that does not exist yet shows an empty one.
    pub fn open(dir: &Path) -> Result<Cloud> {
        match fs::metadata(dir) {
            Ok(meta) if !meta.is_dir() => Err(SandboxError::NotADirectory {
                path: dir.to_path_buf(),
            }),
            Ok(_) => Ok(Cloud {
                dir: dir.to_path_buf(),
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Cloud {
                dir: dir.to_path_buf(),
            }),
            Err(e) => Err(io_err("open", dir)(e)),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every object, sorted by type then id, sensitive values redacted.
    pub fn list(&self) -> Result<Vec<CloudObject>> {
        let mut out = Vec::new();
        for ty in &types::TYPES {
            out.extend(
                self.list_type(ty.name)?
                    .iter()
                    .map(StoredObject::to_cloud_object),
            );
        }
        out.sort_by(|a, b| (&a.type_name, &a.id).cmp(&(&b.type_name, &b.id)));
        Ok(out)
    }

    /// Changes one attribute of an object behind ss's back, to simulate drift. The value is
    /// converted to the attribute's type (`"7"` becomes `7` for a number); the id cannot be
    /// changed.
    pub fn set(&self, id: &str, key: &str, value: Json) -> Result<CloudObject> {
        let seen = self
            .locate(id)?
            .ok_or_else(|| SandboxError::UnknownObject(id.to_string()))?;
        let ty = type_of(&seen)?;
        let _held = self.lock(&[(shard_lock(ty, &seen.name), LockMode::Exclusive)])?;
        let mut obj = self
            .read(ty.name, id)?
            .ok_or_else(|| SandboxError::UnknownObject(id.to_string()))?;
        let attr = ty
            .schema()
            .attribute(key)
            .ok_or_else(|| SandboxError::UnknownAttribute {
                type_name: obj.type_name.clone(),
                key: key.to_string(),
            })?;
        if key == "id" {
            return Err(SandboxError::Rejected(
                "the id of an object cannot be changed".into(),
            ));
        }
        let converted = attr.ty.convert(Value::from_json(&value));
        attr.ty
            .check(&converted)
            .map_err(|e| SandboxError::Rejected(format!("{key}: {e}")))?;
        obj.attributes
            .insert(key.to_string(), converted.to_json().unwrap_or(value));
        obj.updated_at = timestamp();
        self.write_object(&obj)?;
        tracing::info!(id, key, "sandbox object edited out of band");
        Ok(obj.to_cloud_object())
    }

    fn type_dir(&self, type_name: &str) -> PathBuf {
        self.dir.join("objects").join(type_name)
    }

    fn object_path(&self, type_name: &str, id: &str) -> PathBuf {
        self.type_dir(type_name).join(format!("{id}.json"))
    }

    fn name_path(&self, type_name: &str, name: &str) -> PathBuf {
        self.dir.join("names").join(type_name).join(name)
    }

    /// Takes `locks` in the order given, which callers build in the global lock order (see
    /// the module documentation).
    fn lock(&self, locks: &[(String, LockMode)]) -> Result<Held> {
        let mut files = Vec::with_capacity(locks.len());
        for (name, mode) in locks {
            let path = self.dir.join("locks").join(name);
            let file = with_parent(&path, || {
                OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
            })
            .map_err(io_err("open", &path))?;
            match mode {
                LockMode::Shared => file.lock_shared(),
                LockMode::Exclusive => file.lock(),
            }
            .map_err(io_err("lock", &path))?;
            files.push(file);
        }
        Ok(Held { _files: files })
    }

    /// Every object of one type, read in one pass over its directory (the simulated API's
    /// "list" call).
    pub(crate) fn list_type(&self, type_name: &str) -> Result<Vec<StoredObject>> {
        let dir = self.type_dir(type_name);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("list", &dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(io_err("list", &dir))?.path();
            let is_object = path.extension().is_some_and(|e| e == "json")
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('.'));
            if is_object && let Some(obj) = read_file(&path)? {
                out.push(obj);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The object of one type with this id, `None` when there is none (also for an id that
    /// could not name an object file).
    pub(crate) fn read(&self, type_name: &str, id: &str) -> Result<Option<StoredObject>> {
        if !is_file_name(id) {
            return Ok(None);
        }
        read_file(&self.object_path(type_name, id))
    }

    /// The object of one type created under `name`, found through the name index.
    pub(crate) fn find_by_name(&self, ty: &NativeType, name: &str) -> Result<Option<StoredObject>> {
        if !is_file_name(name) {
            return Ok(None);
        }
        let Some(record) = read_file(&self.name_path(ty.name, name))? else {
            return Ok(None);
        };
        Ok(self.read(ty.name, &record.id)?.filter(|o| o.name == name))
    }

    /// Finds an object by id whatever its type.
    fn locate(&self, id: &str) -> Result<Option<StoredObject>> {
        for ty in &types::TYPES {
            if let Some(obj) = self.read(ty.name, id)? {
                return Ok(Some(obj));
            }
        }
        Ok(None)
    }

    /// Writes a new version of an object file.
    fn write_object(&self, obj: &StoredObject) -> Result<()> {
        let path = self.object_path(&obj.type_name, &obj.id);
        let tmp = write_temporary(&path, &serialize(obj, &path)?)?;
        fs::rename(&tmp, &path).map_err(io_err("rename", &path))
    }

    /// Creates an object under `name`, or, when one of this type already has that name,
    /// adopts it: its configuration is brought to `config` and it is returned with
    /// `adopted = true`. A new object is `creating` until `ready_in` from now.
    pub(crate) fn create_or_adopt(
        &self,
        ty: &NativeType,
        name: &str,
        config: &Attrs,
        ready_in: Duration,
    ) -> Result<(StoredObject, bool)> {
        if !is_file_name(name) {
            return Err(SandboxError::Rejected(format!(
                "{}: {name:?} is not a valid object name",
                ty.name
            )));
        }
        let _held = self.lock(&write_locks(ty, name))?;
        if let Some(mut obj) = self.find_by_name(ty, name)? {
            let (attrs, sensitive) = apply_config(ty, config, Some(&obj))?;
            self.check_refs(ty, &attrs)?;
            obj.attributes = attrs;
            obj.sensitive = sensitive;
            types::refresh_derived(ty, &mut obj.attributes);
            obj.updated_at = timestamp();
            self.write_object(&obj)?;
            return Ok((obj, true));
        }
        let (configured, sensitive) = apply_config(ty, config, None)?;
        self.check_refs(ty, &configured)?;
        let now = timestamp();
        loop {
            let id = format!(
                "{}-{:010x}",
                ty.id_prefix,
                rand::random::<u64>() & 0xff_ffff_ffff
            );
            let mut attrs = configured.clone();
            types::fill_computed(ty, &id, name, &mut attrs);
            types::refresh_derived(ty, &mut attrs);
            let obj = StoredObject {
                id,
                type_name: ty.name.to_string(),
                name: name.to_string(),
                attributes: attrs,
                sensitive: sensitive.clone(),
                created_at: now.clone(),
                updated_at: now.clone(),
                status: Status::Creating,
                ready_at_ms: ready_at(ready_in),
            };
            // The object is written once, as the name index entry, then linked under its id:
            // one new file per object. The entry first, so a crash in between leaves an entry
            // whose id names nothing, never an object its name cannot find. The entry keeps
            // the first version of the object; only its id is ever read from it.
            let index = self.name_path(ty.name, name);
            let tmp = write_temporary(&index, &serialize(&obj, &index)?)?;
            fs::rename(&tmp, &index).map_err(io_err("rename", &index))?;
            let path = self.object_path(ty.name, &obj.id);
            // A hard link fails when the target exists, so two creates that drew the same
            // random id cannot overwrite each other's object; the entry just written then
            // names an object of another name, which reads as absent, and is replaced.
            match with_parent(&path, || fs::hard_link(&index, &path)) {
                Ok(()) => return Ok((obj, false)),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err("link", &path)(e)),
            }
        }
    }

    /// Changes an object in place; attributes that force replacement must not change. The
    /// object is `updating` until `ready_in` from now.
    pub(crate) fn update(
        &self,
        ty: &NativeType,
        id: &str,
        config: &Attrs,
        ready_in: Duration,
    ) -> Result<StoredObject> {
        let unknown = || SandboxError::UnknownObject(id.to_string());
        // An object's name never changes, so the unlocked read finds the right lock.
        let seen = self.read(ty.name, id)?.ok_or_else(unknown)?;
        let _held = self.lock(&write_locks(ty, &seen.name))?;
        let mut obj = self.read(ty.name, id)?.ok_or_else(unknown)?;
        let (attrs, sensitive) = apply_config(ty, config, Some(&obj))?;
        for (key, attr) in &ty.schema().body.attributes {
            if attr.force_new && obj.attributes.get(key) != attrs.get(key) {
                return Err(SandboxError::Rejected(format!(
                    "{} {id}: `{key}` cannot be changed in place; the object must be replaced",
                    ty.name
                )));
            }
        }
        self.check_refs(ty, &attrs)?;
        obj.attributes = attrs;
        obj.sensitive = sensitive;
        types::refresh_derived(ty, &mut obj.attributes);
        obj.updated_at = timestamp();
        obj.status = Status::Updating;
        obj.ready_at_ms = ready_at(ready_in);
        self.write_object(&obj)?;
        Ok(obj)
    }

    /// Deletes an object; `false` when it was already gone. Refused while another object
    /// refers to it.
    pub(crate) fn delete(&self, ty: &NativeType, id: &str) -> Result<bool> {
        // An object's name never changes, so the unlocked read finds the right lock; whether
        // the object still exists is settled under the lock, by removing it.
        let Some(seen) = self.read(ty.name, id)? else {
            return Ok(false);
        };
        let mut locks = Vec::with_capacity(2);
        if ty.is_referenced() {
            locks.push((refs_lock(ty.name), LockMode::Exclusive));
        }
        locks.push((shard_lock(ty, &seen.name), LockMode::Exclusive));
        let _held = self.lock(&locks)?;
        if ty.is_referenced() {
            self.check_unused(ty, id)?;
        }
        let path = self.object_path(ty.name, id);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_err("delete", &path)(e)),
        }
        // The object first, then its index entry: see the module documentation.
        let index = self.name_path(ty.name, &seen.name);
        if read_file(&index)?.is_some_and(|record| record.id == id) {
            match fs::remove_file(&index) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("delete", &index)(e)),
            }
        }
        Ok(true)
    }

    /// Refuses to delete an object of `ty` that another object refers to, as a real cloud
    /// refuses to delete a VPC that still has subnets. Only the few types that can refer to
    /// `ty` are listed.
    fn check_unused(&self, ty: &NativeType, id: &str) -> Result<()> {
        let mut users = Vec::new();
        for other in &types::TYPES {
            let attrs: Vec<&str> = other
                .refs
                .iter()
                .filter(|(_, target)| *target == ty.name)
                .map(|(attr, _)| *attr)
                .collect();
            if attrs.is_empty() {
                continue;
            }
            for obj in self.list_type(other.name)? {
                if attrs
                    .iter()
                    .any(|a| obj.attributes.get(*a).and_then(Json::as_str) == Some(id))
                {
                    users.push(format!("{} {}", other.name, obj.id));
                }
            }
        }
        if users.is_empty() {
            Ok(())
        } else {
            Err(SandboxError::Rejected(format!(
                "DependencyViolation: {} {id} is still used by {}",
                ty.name,
                users.join(", ")
            )))
        }
    }

    /// Refuses a configuration that refers to an object that does not exist, as a real API
    /// answers "InvalidVpcID.NotFound".
    fn check_refs(&self, ty: &NativeType, attrs: &Map<String, Json>) -> Result<()> {
        for (attr, target) in ty.refs {
            if let Some(id) = attrs.get(*attr).and_then(Json::as_str)
                && !(is_file_name(id) && self.object_path(target, id).exists())
            {
                return Err(SandboxError::Rejected(format!(
                    "{}: `{attr}` refers to {target} {id:?}, which does not exist",
                    ty.name
                )));
            }
        }
        Ok(())
    }
}

/// The lock of the shard of `name`'s among the names of `ty`.
fn shard_lock(ty: &NativeType, name: &str) -> String {
    // FNV-1a: stable across processes and releases, unlike the standard library's hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{}.{}", ty.name, hash % NAME_SHARDS)
}

fn refs_lock(type_name: &str) -> String {
    format!("{type_name}.refs")
}

/// The locks of a create or update of `name`: shared on the types it may refer to, sorted,
/// then its shard.
fn write_locks(ty: &NativeType, name: &str) -> Vec<(String, LockMode)> {
    let targets: BTreeSet<&str> = ty.refs.iter().map(|(_, target)| *target).collect();
    let mut locks: Vec<_> = targets
        .into_iter()
        .map(|t| (refs_lock(t), LockMode::Shared))
        .collect();
    locks.push((shard_lock(ty, name), LockMode::Exclusive));
    locks
}

/// Whether `s` can be used as one file name: ids and names are made of letters, digits, `-`
/// and `_`, so a crafted id cannot reach outside the cloud directory.
fn is_file_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Runs `op`; when it fails because the parent directory of `path` does not exist yet,
/// creates it and runs `op` again. Directories appear on first use, so a cloud nobody changed
/// stays absent, and the common case costs no extra system call.
fn with_parent<T>(path: &Path, mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    match op() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            op()
        }
        other => other,
    }
}

/// Writes `body` to a new temporary file beside `path` (0600, hidden from listings) and
/// returns its path, for the caller to rename or link into place.
fn write_temporary(path: &Path, body: &[u8]) -> Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{stem}.{}.{n}.tmp", std::process::id()));
    let mut options = OpenOptions::new();
    options.create(true).truncate(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file: File = with_parent(&tmp, || options.open(&tmp)).map_err(io_err("write", &tmp))?;
    file.write_all(body).map_err(io_err("write", &tmp))?;
    Ok(tmp)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn type_of(obj: &StoredObject) -> Result<&'static NativeType> {
    types::find(&obj.type_name).ok_or_else(|| SandboxError::Corrupt {
        path: PathBuf::from(&obj.id),
        reason: format!("unknown type {:?}", obj.type_name),
    })
}

fn serialize(obj: &StoredObject, path: &Path) -> Result<Vec<u8>> {
    serde_json::to_vec(obj).map_err(|e| SandboxError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn read_file(path: &Path) -> Result<Option<StoredObject>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        // Deleted between listing the directory and reading it.
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| SandboxError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Applies a configuration to an object's attributes (those of `existing`, or none on create):
/// configured values as given (converted to the schema type), defaults for what is not
/// configured, null for unset optional attributes; optional+computed attributes that are not
/// configured keep their value. Returns the attributes and which are sensitive.
fn apply_config(
    ty: &NativeType,
    config: &Attrs,
    existing: Option<&StoredObject>,
) -> Result<(Map<String, Json>, BTreeSet<String>)> {
    let schema = ty.schema();
    if let Some(unknown) = config.keys().find(|k| schema.attribute(k).is_none()) {
        return Err(SandboxError::Rejected(format!(
            "{}: unknown attribute `{unknown}`",
            ty.name
        )));
    }
    let mut attrs = existing.map(|o| o.attributes.clone()).unwrap_or_default();
    let mut sensitive = existing.map(|o| o.sensitive.clone()).unwrap_or_default();
    for (key, attr) in &schema.body.attributes {
        if !attr.is_configurable() {
            continue;
        }
        let configured = config.get(key).filter(|v| !v.is_null());
        let (value, is_sensitive) = match (configured, &attr.default) {
            (Some(v), _) => {
                let v = attr.ty.convert(v.clone());
                attr.ty
                    .check(&v)
                    .map_err(|e| SandboxError::Rejected(format!("{}: `{key}`: {e}", ty.name)))?;
                let json = v.to_json().ok_or_else(|| {
                    SandboxError::Rejected(format!("{}: `{key}` is not known yet", ty.name))
                })?;
                (json, v.is_sensitive())
            }
            (None, Some(default)) => (default.to_json().unwrap_or(Json::Null), false),
            (None, None) => match attr.presence {
                Presence::Required => {
                    return Err(SandboxError::Rejected(format!(
                        "{}: missing required attribute `{key}`",
                        ty.name
                    )));
                }
                Presence::OptionalComputed => continue,
                Presence::Optional | Presence::Computed => (Json::Null, false),
            },
        };
        attrs.insert(key.clone(), value);
        if is_sensitive {
            sensitive.insert(key.clone());
        } else {
            sensitive.remove(key);
        }
    }
    // A value computed from a sensitive one is sensitive.
    if ty.name == types::OBJECT {
        if sensitive.contains("input") {
            sensitive.insert("output".into());
        } else {
            sensitive.remove("output");
        }
    }
    sensitive.extend(schema.sensitive_attributes().map(str::to_string));
    Ok((attrs, sensitive))
}
