//! The simulated cloud: objects and long-running operations in memory.
//!
//! Every object is kept under `"{api}:{resource path}"` (for example
//! `compute:projects/p/global/networks/n`, `container:projects/p/locations/l/clusters/c`).
//! An operation is created in phase `PENDING`; one `step` (`--delay-ms`) later it is `RUNNING`,
//! two steps later `DONE`, and at that moment its effects (status patches, removals) are
//! applied to the objects. Phases are computed lazily, at the next request (`tick`).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use serde_json::{Value, json};
use sim_kit::Store;
pub use sim_kit::text::{base64, base64_decode};

use crate::discovery::Api;

/// How an API shapes its error bodies. The real logs show three families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorShape {
    /// `code`, `message`, `errors[]`, no `status`: Compute Engine (every error of
    /// `compute/*.log`) and Cloud SQL Admin (`sql/sqluser@…`).
    Legacy,
    /// `code`, `message`, `errors[]` and `status`: GKE (`gke/containercluster-minimal@…`).
    Full,
    /// `code`, `message`, `status`, no `errors[]`: Memorystore for Redis, Network
    /// Connectivity and the other one-platform APIs (`redis/replicationrediscluster@…`).
    Status,
}

/// The error shape each API answers (see [`ErrorShape`]).
pub fn default_shape(api: Api) -> ErrorShape {
    match api {
        Api::Compute | Api::Sqladmin => ErrorShape::Legacy,
        Api::Container => ErrorShape::Full,
        _ => ErrorShape::Status,
    }
}

/// A Google-shaped error: `{"error": {"code", "message", "status", "errors": [...]}}`, cut
/// to the API's [`ErrorShape`] where the answer is written.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub status: &'static str,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(
        code: u16,
        status: &'static str,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            code,
            status,
            reason,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "INVALID_ARGUMENT", "badRequest", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "NOT_FOUND", "notFound", message)
    }
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(409, "ALREADY_EXISTS", "alreadyExists", message)
    }
    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Self::new(400, "FAILED_PRECONDITION", "failedPrecondition", message)
    }
    /// Another operation is in progress on the object (Cloud SQL answers 409).
    pub fn in_progress(message: impl Into<String>) -> Self {
        Self::new(409, "ABORTED", "operationInProgress", message)
    }
    pub fn unimplemented(message: impl Into<String>) -> Self {
        Self::new(501, "UNIMPLEMENTED", "notImplemented", message)
    }
    pub fn body(&self) -> Value {
        json!({"error": {
            "code": self.code,
            "message": self.message,
            "status": self.status,
            "errors": [{"message": self.message, "domain": "global", "reason": self.reason}],
        }})
    }
}

/// The phase of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Pending,
    Running,
    Done,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "PENDING",
            Phase::Running => "RUNNING",
            Phase::Done => "DONE",
        }
    }
}

/// What happens to the objects when an operation is done.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Sets fields (JSON pointers) of an object.
    Patch(String, Vec<(String, Value)>),
    /// Removes an object and everything under it (`key/…`).
    Remove(String),
    /// Removes a string from an array field of an object.
    Unlink(String, String, String),
    /// Removes a string from an array field of an object, and the field once it is empty
    /// (Compute omits empty lists, e.g. a network's `subnetworks`).
    Detach(String, String, String),
    /// Sets a field (JSON pointer) of an operation (by key): what only a finished operation
    /// shows, such as a `response` or an `error`.
    SetOp(String, String, Value),
}

/// One simulated object.
#[derive(Debug, Clone)]
pub struct Obj {
    pub kind: String,
    pub data: Value,
    /// The operation in progress on it, if any.
    pub busy: Option<String>,
    /// Set while a delete operation runs.
    pub deleting: bool,
}

/// One long-running operation.
#[derive(Debug, Clone)]
pub struct Op {
    pub api: Api,
    pub start: Instant,
    pub phase: Phase,
    /// The API-shaped operation resource; its phase fields are kept up to date by `tick`.
    pub data: Value,
    /// The key of the object the operation works on.
    pub target: String,
    pub effects: Vec<Effect>,
}

/// The whole simulated cloud: the kit's store of objects (which it derefs to), the
/// operations and the `requestId`s seen.
pub struct World {
    store: Store<Obj>,
    pub ops: BTreeMap<String, Op>,
    /// `(api, requestId)` → (operation key, when first seen).
    pub request_ids: HashMap<(Api, String), (String, Instant)>,
}

sim_kit::world_store!(World, Obj);

/// How long a `requestId` is remembered.
pub const REQUEST_ID_TTL: Duration = Duration::from_secs(600);

/// The current time, RFC 3339 with milliseconds.
pub fn now_rfc3339() -> String {
    sim_kit::text::rfc3339_millis()
}

/// The object key of an API and resource path.
pub fn key(api: Api, path: &str) -> String {
    format!("{}:{path}", api.name())
}

impl World {
    pub fn new(step: Duration, seed: Option<u64>) -> Self {
        World {
            store: Store::new(step, seed),
            ops: BTreeMap::new(),
            request_ids: HashMap::new(),
        }
    }

    /// A compute-style numeric id (uint64 as a decimal string).
    pub fn numeric_id(&mut self) -> String {
        let n: u64 = self
            .rng
            .random_range(1_000_000_000_000_000_000..10_000_000_000_000_000_000);
        n.to_string()
    }

    pub fn token(&mut self) -> String {
        let body = self.pick(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
            64,
        );
        format!("ya29.sim-{body}")
    }

    /// An address in `a.b.0.0/16` style ranges: `prefix` + two random octets.
    pub fn address(&mut self, prefix: &str) -> String {
        let c: u8 = self.rng.random_range(0..=255);
        let d: u8 = self.rng.random_range(2..=254);
        format!("{prefix}.{c}.{d}")
    }

    /// An operation name: `operation-<millis>-<hex>-<hex>-<hex>` (compute, GKE, Redis style).
    pub fn op_name(&mut self) -> String {
        let ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let (a, b, c) = (self.hex(13), self.hex(8), self.hex(8));
        format!("operation-{ms}-{a}-{b}-{c}")
    }

    pub fn insert(&mut self, key: String, kind: &str, data: Value) {
        self.objects.insert(
            key,
            Obj {
                kind: kind.to_string(),
                data,
                busy: None,
                deleting: false,
            },
        );
    }

    /// Registers an operation (phase from the clock at the next `tick`) and marks its target
    /// busy.
    pub fn start_op(&mut self, op_key: String, op: Op) {
        if let Some(obj) = self.objects.get_mut(&op.target) {
            obj.busy = Some(op_key.clone());
        }
        self.ops.insert(op_key, op);
    }

    /// The operation in progress on an object, if any.
    pub fn busy_with(&self, key: &str) -> Option<String> {
        let op = self.objects.get(key)?.busy.clone()?;
        self.ops
            .get(&op)
            .is_some_and(|o| o.phase != Phase::Done)
            .then_some(op)
    }

    /// Advances every operation to the phase its age gives, applying the effects of those
    /// that become done.
    pub fn tick(&mut self, now: Instant) {
        let step = self.step;
        let mut finished = Vec::new();
        for (k, op) in &mut self.ops {
            if op.phase == Phase::Done {
                continue;
            }
            let age = now.saturating_duration_since(op.start);
            let phase = if age >= step * 2 {
                Phase::Done
            } else if age >= step {
                Phase::Running
            } else {
                Phase::Pending
            };
            if phase != op.phase {
                op.phase = phase;
                if phase == Phase::Done {
                    finished.push(k.clone());
                }
            }
        }
        for k in finished {
            let Some(op) = self.ops.get(&k).cloned() else {
                continue;
            };
            for effect in op.effects {
                self.apply(effect);
            }
            if let Some(obj) = self.objects.get_mut(&op.target)
                && obj.busy.as_deref() == Some(k.as_str())
            {
                obj.busy = None;
            }
            // Redis operations carry the resource they produced (a failed one only its
            // `error`).
            if op.api == Api::Redis
                && let Some(slot) = self.ops.get_mut(&k)
                && slot.data.get("error").is_none()
            {
                let response = match self.store.objects.get(&op.target) {
                    Some(obj) if slot.data["metadata"]["verb"] != json!("delete") => {
                        let mut r = obj.data.clone();
                        let kind = if obj.kind == "redis:instance" {
                            "type.googleapis.com/google.cloud.redis.v1.Instance"
                        } else {
                            "type.googleapis.com/google.cloud.redis.cluster.v1.Cluster"
                        };
                        if let Some(m) = r.as_object_mut() {
                            m.insert("@type".to_string(), json!(kind));
                        }
                        r
                    }
                    _ => json!({"@type": "type.googleapis.com/google.protobuf.Empty"}),
                };
                slot.data["response"] = response;
            }
        }
        for op in self.ops.values_mut() {
            render_phase(op);
        }
    }

    fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::Patch(key, patch) => {
                if let Some(obj) = self.objects.get_mut(&key) {
                    for (pointer, value) in patch {
                        set_pointer(&mut obj.data, &pointer, value);
                    }
                }
            }
            Effect::Remove(key) => self.remove_tree(&key),
            Effect::SetOp(key, pointer, value) => {
                if let Some(op) = self.ops.get_mut(&key) {
                    set_pointer(&mut op.data, &pointer, value);
                }
            }
            Effect::Unlink(key, field, value) => {
                if let Some(obj) = self.objects.get_mut(&key)
                    && let Some(arr) = obj.data.get_mut(&field).and_then(Value::as_array_mut)
                {
                    arr.retain(|v| v.as_str() != Some(value.as_str()));
                }
            }
            Effect::Detach(key, field, value) => {
                if let Some(obj) = self.objects.get_mut(&key)
                    && let Some(m) = obj.data.as_object_mut()
                {
                    let empty =
                        m.get_mut(&field)
                            .and_then(Value::as_array_mut)
                            .is_some_and(|arr| {
                                arr.retain(|v| v.as_str() != Some(value.as_str()));
                                arr.is_empty()
                            });
                    if empty {
                        m.remove(&field);
                    }
                }
            }
        }
    }

    /// Everything, as JSON (for `GET /_sim/objects`).
    pub fn dump(&self) -> Value {
        json!({
            "objects": self.objects.iter().map(|(k, o)| {
                let (api, path) = k.split_once(':').unwrap_or(("", k));
                json!({"api": api, "path": path, "kind": o.kind, "deleting": o.deleting, "object": o.data})
            }).collect::<Vec<_>>(),
            "operations": self.ops.iter().map(|(k, o)| {
                let (api, path) = k.split_once(':').unwrap_or(("", k));
                json!({"api": api, "path": path, "phase": o.phase.as_str(), "target": o.target, "operation": o.data})
            }).collect::<Vec<_>>(),
        })
    }
}

/// Sets a JSON pointer, creating intermediate objects.
pub fn set_pointer(data: &mut Value, pointer: &str, value: Value) {
    let mut cur = data;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(m) = cur.as_object_mut() else { return };
        if i + 1 == parts.len() {
            m.insert((*part).to_string(), value);
            return;
        }
        cur = m.entry((*part).to_string()).or_insert_with(|| json!({}));
    }
}

/// Writes the phase into the API-specific operation resource.
pub fn render_phase(op: &mut Op) {
    let phase = op.phase;
    let d = &mut op.data;
    match op.api {
        Api::Redis | Api::Networkconnectivity => {
            d["done"] = json!(phase == Phase::Done);
            if phase == Phase::Done && d["metadata"].get("endTime").is_none() {
                d["metadata"]["endTime"] = json!(now_rfc3339());
            }
        }
        // Service Networking operations answer only `name` until done (proto3 JSON omits
        // `done: false`), as the real log shows.
        Api::Servicenetworking => {
            if phase == Phase::Done {
                d["done"] = json!(true);
            }
        }
        Api::Compute => {
            // Compute operations are `RUNNING` (with `startTime`, `progress` 0) from the
            // answer to the mutation on: every insert / patch / delete answer of the real
            // logs shows them so, never `PENDING`.
            let done = phase == Phase::Done;
            d["status"] = json!(if done { "DONE" } else { "RUNNING" });
            d["progress"] = json!(if done { 100 } else { 0 });
            if d.get("startTime").is_none() {
                d["startTime"] = json!(now_rfc3339());
            }
            if done && d.get("endTime").is_none() {
                d["endTime"] = json!(now_rfc3339());
            }
        }
        Api::Container | Api::Sqladmin => {
            d["status"] = json!(phase.as_str());
            if phase != Phase::Pending && d.get("startTime").is_none() {
                d["startTime"] = json!(now_rfc3339());
            }
            if phase == Phase::Done && d.get("endTime").is_none() {
                d["endTime"] = json!(now_rfc3339());
            }
        }
    }
}

/// Offset pagination: the page starting at `token` and the next token.
pub fn paginate(
    items: Vec<Value>,
    max: Option<usize>,
    token: Option<&str>,
) -> (Vec<Value>, Option<String>) {
    let start = token.and_then(|t| t.parse::<usize>().ok()).unwrap_or(0);
    let max = max.filter(|m| *m > 0).unwrap_or(500);
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    (
        items
            .into_iter()
            .skip(start)
            .take(end.saturating_sub(start))
            .collect(),
        next,
    )
}

/// Sets the field `k` of `data` to `v` unless it holds a value already.
pub fn set_default(data: &mut Value, k: &str, v: Value) {
    if data.get(k).is_none_or(Value::is_null) {
        data[k] = v;
    }
}

/// Merges `patch` into `target` (JSON merge, objects recursively, everything else replaced).
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// A fake but well-formed PEM certificate (base64 of random bytes; not a real certificate).
pub fn fake_pem(w: &mut World) -> String {
    let bytes: Vec<u8> = (0..600).map(|_| w.rng.random::<u8>()).collect();
    let b64 = base64(&bytes);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}
