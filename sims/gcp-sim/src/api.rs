//! What every API module works with: the matched, validated request ([`Req`]), its result
//! ([`Outcome`]), and the helpers for operations, project numbers and names that several APIs
//! share. A leaf: the API modules use it, it uses none of them (the pipeline that dispatches
//! to them is `http.rs`).

use std::time::Instant;

use serde_json::{Value, json};

use crate::discovery::{Api, Doc, Method};
use crate::urls::Urls;
use crate::world::{ApiError, Effect, Op, Phase, World, key, paginate};

/// A matched and validated request.
pub struct Req<'a> {
    pub api: Api,
    pub doc: &'a Doc,
    pub method: &'a Method,
    /// Decoded path segments after the service path (`v1`, `projects`, …; for compute
    /// `projects`, …).
    pub segs: Vec<String>,
    pub query: &'a [(String, String)],
    /// The body (output-only fields already removed on creates and updates), or `null`.
    pub body: Value,
    /// The body as sent (enums as names), output-only fields included: for the few fields a
    /// discovery document marks output-only that real requests set (Redis
    /// `RemoteCluster.cluster`).
    pub sent: Value,
    pub urls: &'a Urls,
    /// The service account the token was issued to.
    pub user: String,
}

impl Req<'_> {
    /// The first value of a query parameter.
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A path segment (empty when absent).
    pub fn seg(&self, i: usize) -> &str {
        self.segs.get(i).map_or("", String::as_str)
    }

    /// The page size and token of a list call.
    pub fn page(&self) -> (Option<usize>, Option<&str>) {
        let max = self
            .q("maxResults")
            .or_else(|| self.q("pageSize"))
            .and_then(|v| v.parse().ok());
        (max, self.q("pageToken"))
    }

    pub fn unimplemented(&self) -> ApiError {
        ApiError::unimplemented(format!(
            "gcp-sim does not implement {} ({} {})",
            self.method.id, self.method.http_method, self.method.template
        ))
    }
}

/// The result of a request.
pub enum Outcome {
    /// An answer; `op` is the key of the operation it started or returned, if any.
    Reply {
        status: u16,
        body: Value,
        op: Option<String>,
    },
    /// Compute's `operations.wait`: answer the operation once it is done (or after 2 min).
    Wait(String),
}

impl Outcome {
    pub fn ok(body: Value) -> Self {
        Outcome::Reply {
            status: 200,
            body,
            op: None,
        }
    }
    pub fn op(key: String, body: Value) -> Self {
        Outcome::Reply {
            status: 200,
            body,
            op: Some(key),
        }
    }
}

/// The project number of a project id: stable (FNV-1a of the id), twelve digits like real
/// ones. Some APIs name a project by number (Service Networking's `network`, compute's
/// `removePeering` as Service Networking calls it), as the real logs show.
pub fn project_number(project_id: &str) -> String {
    if !project_id.is_empty() && project_id.bytes().all(|b| b.is_ascii_digit()) {
        return project_id.to_string();
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in project_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (100_000_000_000 + h % 900_000_000_000).to_string()
}

/// The project id a project id or number names: a number is looked up among the projects
/// that hold objects; an id (or an unknown number) is returned as is.
pub fn project_id(w: &World, project: &str) -> String {
    if project.is_empty() || !project.bytes().all(|b| b.is_ascii_digit()) {
        return project.to_string();
    }
    w.objects
        .keys()
        .filter_map(|k| k.split_once(":projects/")?.1.split('/').next())
        .find(|id| project_number(id) == project)
        .map_or_else(|| project.to_string(), str::to_string)
}

/// The `(project id, network name)` of a network reference in any of the forms Google
/// accepts (`projects/P/global/networks/N`, with P an id or a number, optionally behind a
/// compute URL), or `None` when it is not one.
pub fn network_ref(w: &World, reference: &str) -> Option<(String, String)> {
    let rel = reference
        .find("projects/")
        .map_or(reference, |i| &reference[i..]);
    let parts: Vec<&str> = rel.split('/').collect();
    match parts.as_slice() {
        ["projects", p, "global", "networks", n] if !p.is_empty() && !n.is_empty() => {
            Some((project_id(w, p), (*n).to_string()))
        }
        _ => None,
    }
}

/// Starts an operation at `op_path` on the object `target` (marked busy) and answers it as
/// the clock already shows it.
pub fn begin_op(
    w: &mut World,
    api: Api,
    op_path: &str,
    data: Value,
    target: &str,
    effects: Vec<Effect>,
) -> Outcome {
    let op_key = key(api, op_path);
    w.start_op(
        op_key.clone(),
        Op {
            api,
            start: Instant::now(),
            phase: Phase::Pending,
            data,
            target: target.to_string(),
            effects,
        },
    );
    w.tick(Instant::now());
    let body = w
        .ops
        .get(&op_key)
        .map(|o| o.data.clone())
        .unwrap_or_default();
    Outcome::op(op_key, body)
}

/// Finishes at once the operation an outcome started (its effects applied), and answers it
/// done: for the calls whose real answer is an operation already `DONE`.
pub fn finish_now(w: &mut World, out: Outcome) -> Outcome {
    let Outcome::Reply {
        status,
        op: Some(op_key),
        ..
    } = out
    else {
        return out;
    };
    let now = Instant::now();
    let back = w.step * 2;
    if let Some(op) = w.ops.get_mut(&op_key) {
        op.start = now.checked_sub(back).unwrap_or(op.start);
    }
    w.tick(now);
    let body = w
        .ops
        .get(&op_key)
        .map(|o| o.data.clone())
        .unwrap_or_default();
    Outcome::Reply {
        status,
        body,
        op: Some(op_key),
    }
}

/// The current rendering of an operation, by key.
pub fn op_body(w: &World, key: &str) -> Result<Value, ApiError> {
    w.ops
        .get(key)
        .map(|o| o.data.clone())
        .ok_or_else(|| ApiError::not_found(format!("The operation '{key}' was not found")))
}

/// Whether a name is an RFC 1035 label of at most 63 characters.
pub fn rfc1035(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

/// Whether `s` is a UUID other than the zero UUID (the form `requestId` must take).
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
        && s != "00000000-0000-0000-0000-000000000000"
}

/// The items of a collection whose `name` field matches a simple filter (`name = "x"`,
/// `name eq x`, `name:x`); other filters are ignored.
pub fn name_filter(filter: Option<&str>) -> Option<String> {
    let f = filter?
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    let rest = f.strip_prefix("name")?.trim_start();
    let rest = rest
        .strip_prefix("eq ")
        .or_else(|| rest.strip_prefix('='))
        .or_else(|| rest.strip_prefix(':'))?;
    Some(rest.trim().trim_matches('"').trim_matches('\'').to_string())
}

/// The resource path of a `v1/…` request (everything after the version segment).
pub fn v1_path(r: &Req) -> String {
    r.segs.get(1..).map(|s| s.join("/")).unwrap_or_default()
}

/// The 404 of the APIs whose operations are `google.longrunning` ones (Memorystore, Network
/// Connectivity).
pub fn resource_not_found(path: &str) -> ApiError {
    ApiError::not_found(format!("Resource '{path}' was not found"))
}

/// `get` of the object at the request's path, as it is stored (Memorystore clusters and
/// instances).
pub fn get_stored(w: &World, r: &Req) -> Result<Outcome, ApiError> {
    let path = v1_path(r);
    w.objects
        .get(&key(r.api, &path))
        .map(|o| Outcome::ok(o.data.clone()))
        .ok_or_else(|| resource_not_found(&path))
}

/// `list` of the objects directly under the request's path, a page of them under `field`
/// (Memorystore clusters and instances).
pub fn list_stored(w: &World, r: &Req, field: &str) -> Result<Outcome, ApiError> {
    let prefix = format!("{}/", key(r.api, &v1_path(r)));
    let items: Vec<Value> = w
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| !k[prefix.len()..].contains('/'))
        .map(|(_, o)| o.data.clone())
        .collect();
    let (max, token) = r.page();
    let (page, next) = paginate(items, max, token);
    let mut body = json!({ field: page });
    if let Some(n) = next {
        body["nextPageToken"] = json!(n);
    }
    Ok(Outcome::ok(body))
}

/// `projects.locations.operations` `get` / `list` / `delete` / `cancel` of an API whose
/// operations are `google.longrunning` ones (Memorystore, Network Connectivity): the same four
/// methods, the same shapes.
pub fn longrunning_operations(w: &mut World, r: &Req, api: Api) -> Result<Outcome, ApiError> {
    let path = v1_path(r);
    match r.method.name.as_str() {
        "projects.locations.operations.get" => {
            let k = key(api, &path);
            op_body(w, &k).map(|b| Outcome::op(k, b))
        }
        "projects.locations.operations.list" => {
            let prefix = format!("{}/", key(api, &path));
            let ops: Vec<Value> = w
                .ops
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(_, o)| o.data.clone())
                .collect();
            Ok(Outcome::ok(json!({ "operations": ops })))
        }
        "projects.locations.operations.delete" => w
            .ops
            .remove(&key(api, &path))
            .map(|_| Outcome::ok(json!({})))
            .ok_or_else(|| resource_not_found(&path)),
        "projects.locations.operations.cancel" => {
            match w.ops.get_mut(&key(api, path.trim_end_matches(":cancel"))) {
                Some(op) => {
                    op.data["metadata"]["requestedCancellation"] = json!(true);
                    Ok(Outcome::ok(json!({})))
                }
                None => Err(resource_not_found(&path)),
            }
        }
        _ => Err(r.unimplemented()),
    }
}

/// `snake_case` to `camelCase` (update masks may use either).
pub fn camel(field: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for ch in field.chars() {
        if ch == '_' {
            up = true;
        } else if up {
            out.push(ch.to_ascii_uppercase());
            up = false;
        } else {
            out.push(ch);
        }
    }
    out
}
