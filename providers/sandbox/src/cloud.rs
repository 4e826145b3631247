//! The simulated cloud on disk.
//!
//! Layout: `<dir>/objects/<type>/<id>.json`, one JSON file per object, and `<dir>/lock`.
//! Every read-modify-write (create-or-adopt, update, delete, out-of-band edit) holds an
//! exclusive OS lock on `<dir>/lock`, so several `ss` processes (and several threads of one) can
//! share a cloud. Object files are written to a temporary file, synced and renamed into place,
//! so readers, which take no lock, never see half an object. Files are created 0600: like a
//! real cloud's database they hold secrets.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use provider_api::schema::Presence;
use provider_api::{Attrs, Value};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::types::{self, NativeType};

/// Shown instead of the value of a sensitive attribute by [`Cloud::list`] and [`Cloud::set`].
pub const REDACTED: &str = "(sensitive value)";

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

/// One object as the simulated cloud shows it. Sensitive attribute values are replaced by
/// `"(sensitive value)"`: like a real console, the cloud never displays a master password.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CloudObject {
    pub id: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// The deterministic name the object was created under.
    pub name: String,
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
    /// Milliseconds since the Unix epoch when the last create or update completes; callers
    /// that adopt an object still being created wait until then.
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

    /// How long until the object is ready, zero when it already is.
    pub fn ready_in(&self) -> Duration {
        Duration::from_millis(self.ready_at_ms.saturating_sub(now_ms()))
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn timestamp() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
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
        self.locked(|| {
            let mut obj = self
                .locate(id)?
                .ok_or_else(|| SandboxError::UnknownObject(id.to_string()))?;
            let schema = type_of(&obj)?.schema();
            let attr = schema
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
            self.write(&obj)?;
            tracing::info!(id, key, "sandbox object edited out of band");
            Ok(obj.to_cloud_object())
        })
    }

    fn objects_dir(&self) -> PathBuf {
        self.dir.join("objects")
    }

    fn type_dir(&self, type_name: &str) -> PathBuf {
        self.objects_dir().join(type_name)
    }

    fn object_path(&self, type_name: &str, id: &str) -> PathBuf {
        self.type_dir(type_name).join(format!("{id}.json"))
    }

    /// Runs `f` holding the cloud's exclusive lock. The lock is released when the file is
    /// closed, also when the process dies.
    fn locked<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        fs::create_dir_all(&self.dir).map_err(io_err("create", &self.dir))?;
        let path = self.dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        file.lock().map_err(io_err("lock", &path))?;
        let out = f();
        drop(file);
        out
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

    fn read(&self, type_name: &str, id: &str) -> Result<Option<StoredObject>> {
        read_file(&self.object_path(type_name, id))
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

    fn write(&self, obj: &StoredObject) -> Result<()> {
        let dir = self.type_dir(&obj.type_name);
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        let path = self.object_path(&obj.type_name, &obj.id);
        let tmp = dir.join(format!(".{}.{}.tmp", obj.id, std::process::id()));
        let body = serde_json::to_vec_pretty(obj).map_err(|e| SandboxError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let mut options = OpenOptions::new();
        options.create(true).truncate(true).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file: File = options.open(&tmp).map_err(io_err("write", &tmp))?;
        file.write_all(&body).map_err(io_err("write", &tmp))?;
        file.sync_all().map_err(io_err("sync", &tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(io_err("rename", &path))
    }

    /// Creates an object under `name`, or, when one of this type already has that name,
    /// adopts it: its configuration is brought to `config` and it is returned with
    /// `adopted = true`. A new object completes `ready_in` from now.
    pub(crate) fn create_or_adopt(
        &self,
        ty: &NativeType,
        name: &str,
        config: &Attrs,
        ready_in: Duration,
    ) -> Result<(StoredObject, bool)> {
        self.locked(|| {
            let existing = self
                .list_type(ty.name)?
                .into_iter()
                .find(|o| o.name == name);
            if let Some(mut obj) = existing {
                let (attrs, sensitive) = apply_config(ty, config, Some(&obj))?;
                self.check_refs(ty, &attrs)?;
                obj.attributes = attrs;
                obj.sensitive = sensitive;
                types::refresh_derived(ty, &mut obj.attributes);
                obj.updated_at = timestamp();
                self.write(&obj)?;
                return Ok((obj, true));
            }
            let (mut attrs, sensitive) = apply_config(ty, config, None)?;
            self.check_refs(ty, &attrs)?;
            let id = self.fresh_id(ty);
            types::fill_computed(ty, &id, name, &mut attrs);
            types::refresh_derived(ty, &mut attrs);
            let now = timestamp();
            let obj = StoredObject {
                id,
                type_name: ty.name.to_string(),
                name: name.to_string(),
                attributes: attrs,
                sensitive,
                created_at: now.clone(),
                updated_at: now,
                ready_at_ms: now_ms().saturating_add(millis(ready_in)),
            };
            self.write(&obj)?;
            Ok((obj, false))
        })
    }

    /// Changes an object in place; attributes that force replacement must not change.
    pub(crate) fn update(
        &self,
        ty: &NativeType,
        id: &str,
        config: &Attrs,
        ready_in: Duration,
    ) -> Result<StoredObject> {
        self.locked(|| {
            let mut obj = self
                .read(ty.name, id)?
                .ok_or_else(|| SandboxError::UnknownObject(id.to_string()))?;
            let (attrs, sensitive) = apply_config(ty, config, Some(&obj))?;
            let schema = ty.schema();
            for (key, attr) in &schema.body.attributes {
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
            obj.ready_at_ms = now_ms().saturating_add(millis(ready_in));
            self.write(&obj)?;
            Ok(obj)
        })
    }

    /// Deletes an object; `false` when it was already gone. Refused while another object
    /// refers to it.
    pub(crate) fn delete(&self, ty: &NativeType, id: &str) -> Result<bool> {
        self.locked(|| {
            let path = self.object_path(ty.name, id);
            if !path.exists() {
                return Ok(false);
            }
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
            if !users.is_empty() {
                return Err(SandboxError::Rejected(format!(
                    "DependencyViolation: {} {id} is still used by {}",
                    ty.name,
                    users.join(", ")
                )));
            }
            match fs::remove_file(&path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
                Err(e) => Err(io_err("delete", &path)(e)),
            }
        })
    }

    /// Refuses a configuration that refers to an object that does not exist, as a real API
    /// answers "InvalidVpcID.NotFound".
    fn check_refs(&self, ty: &NativeType, attrs: &Map<String, Json>) -> Result<()> {
        for (attr, target) in ty.refs {
            if let Some(id) = attrs.get(*attr).and_then(Json::as_str)
                && !self.object_path(target, id).exists()
            {
                return Err(SandboxError::Rejected(format!(
                    "{}: `{attr}` refers to {target} {id:?}, which does not exist",
                    ty.name
                )));
            }
        }
        Ok(())
    }

    /// A random id with the type's prefix that no object has (`vpc-3f9a1c2b7d`). Called under
    /// the lock, so no other writer can take it between the check and the write.
    fn fresh_id(&self, ty: &NativeType) -> String {
        loop {
            let id = format!(
                "{}-{:010x}",
                ty.id_prefix,
                rand::random::<u64>() & 0xff_ffff_ffff
            );
            if !self.object_path(ty.name, &id).exists() {
                return id;
            }
        }
    }
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
