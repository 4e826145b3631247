//! The simulated cloud: every object kept in memory under its own API path, walked through
//! its status values by scheduled patches that are applied lazily (on the next request).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sim_kit::Store;

/// An OVH-shaped error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub class: &'static str,
    pub message: String,
    pub error_code: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: u16, class: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            class,
            message: message.into(),
            error_code: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "Client::BadRequest", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "Client::NotFound", message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "Client::Conflict", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Client::Forbidden", message)
    }
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.error_code = Some(code);
        self
    }
    pub fn body(&self) -> Value {
        let mut b = json!({"class": self.class, "message": self.message});
        if let Some(code) = self.error_code {
            b["errorCode"] = json!(code);
        }
        b
    }
}

pub type Reply = Result<(u16, Value), ApiError>;

/// One simulated object.
#[derive(Debug, Clone)]
pub struct Obj {
    pub kind: &'static str,
    pub data: Value,
    /// Patches (JSON pointer → value) applied when their instant has passed, in order.
    pub pending: Vec<(Instant, Vec<(String, Value)>)>,
    /// When set, the object disappears at that instant.
    pub remove_at: Option<Instant>,
    /// Simulator-only data (never returned by the API).
    pub hidden: Value,
}

/// The whole simulated cloud: the kit's store of objects by API path (which it derefs to),
/// walked through their status values here.
pub struct World {
    store: Store<Obj>,
}

sim_kit::world_store!(World, Obj);

/// The current time as OVH writes it (RFC 3339, whole seconds).
pub fn now_rfc3339() -> String {
    sim_kit::text::rfc3339_seconds()
}

impl World {
    pub fn new(step: Duration, seed: Option<u64>) -> Self {
        World {
            store: Store::new(step, seed),
        }
    }

    /// A random password or token of 20 characters, without the look-alikes (`0`/`O`, `1`/`l`).
    pub fn password(&mut self) -> String {
        self.pick(
            b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789",
            20,
        )
    }

    /// Applies every due patch and removes the objects whose time has come.
    pub fn tick(&mut self, now: Instant) {
        let mut gone = Vec::new();
        for (path, obj) in &mut self.objects {
            if obj.remove_at.is_some_and(|t| t <= now) {
                gone.push(path.clone());
                continue;
            }
            while obj.pending.first().is_some_and(|(t, _)| *t <= now) {
                let (_, patch) = obj.pending.remove(0);
                apply_patch(&mut obj.data, patch);
            }
        }
        for path in gone {
            self.objects.remove(&path);
        }
    }

    pub fn insert(&mut self, path: String, kind: &'static str, data: Value) {
        self.objects.insert(
            path,
            Obj {
                kind,
                data,
                pending: Vec::new(),
                remove_at: None,
                hidden: Value::Null,
            },
        );
    }

    /// Schedules `patch` on `path` `steps` status steps after the object's last scheduled
    /// patch (or after now).
    pub fn schedule(&mut self, path: &str, steps: u32, patch: Vec<(String, Value)>) {
        let now = Instant::now();
        let step = self.step;
        if let Some(obj) = self.objects.get_mut(path) {
            let base = obj.pending.last().map_or(now, |(t, _)| (*t).max(now));
            obj.pending.push((base + step * steps, patch));
        }
    }

    /// Marks `path` and everything under it for removal after one step, setting the status
    /// field of those that have one.
    pub fn delete_tree(&mut self, path: &str) {
        let at = Instant::now() + self.step;
        let prefix = format!("{path}/");
        for (p, obj) in self.objects.iter_mut() {
            if p == path || p.starts_with(&prefix) {
                obj.pending.clear();
                if let Some((field, value)) = deleting_status(obj.kind) {
                    obj.data[field] = json!(value);
                }
                obj.remove_at = Some(obj.remove_at.map_or(at, |t| t.min(at)));
            }
        }
    }

    /// Every object of `kind` whose path starts with `prefix`.
    pub fn of_kind<'a>(
        &'a self,
        prefix: &'a str,
        kind: &'static str,
    ) -> impl Iterator<Item = (&'a String, &'a Obj)> + 'a {
        self.prefixed(prefix).filter(move |(_, o)| o.kind == kind)
    }

    /// Everything, as JSON (for `GET /_sim/objects`).
    pub fn dump(&self) -> Value {
        Value::Array(
            self.objects
                .iter()
                .map(|(path, o)| {
                    json!({
                        "path": path,
                        "kind": o.kind,
                        "object": o.data,
                        "deleting": o.remove_at.is_some(),
                    })
                })
                .collect(),
        )
    }
}

fn apply_patch(data: &mut Value, patch: Vec<(String, Value)>) {
    for (pointer, value) in patch {
        if let Some(slot) = data.pointer_mut(&pointer) {
            *slot = value;
        } else if let Some((parent, key)) = pointer.rsplit_once('/')
            && let Some(Value::Object(m)) = data.pointer_mut(parent)
        {
            m.insert(key.to_string(), value);
        }
    }
}

/// The status field and value an object of `kind` shows while it is being deleted.
pub fn deleting_status(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        "kube" | "nodepool" | "database" | "db-node" => Some(("status", "DELETING")),
        "network" | "regional-network" => Some(("status", "DELETING")),
        "loadbalancer" | "listener" | "pool" | "healthmonitor" | "member" => {
            Some(("provisioningStatus", "deleting"))
        }
        "cdn-domain" => Some(("status", "removing")),
        "cdn-cacherule" => Some(("status", "deleting")),
        _ => None,
    }
}

/// `(field, updating value, ready value)` for kinds whose updates take a status step.
pub fn updating_status(kind: &str) -> Option<(&'static str, &'static str, &'static str)> {
    match kind {
        "nodepool" => Some(("status", "UPDATING", "READY")),
        "database" => Some(("status", "UPDATING", "READY")),
        "loadbalancer" | "listener" | "pool" | "healthmonitor" | "member" => {
            Some(("provisioningStatus", "updating", "active"))
        }
        "cdn-cacherule" => Some(("status", "updating", "on")),
        _ => None,
    }
}

/// A JSON pointer for a top-level field.
pub fn ptr(field: &str) -> String {
    format!("/{field}")
}
