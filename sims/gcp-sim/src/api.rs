//! What a matched, validated request does to the world: routed by API to [`crate::compute`],
//! [`crate::container`], [`crate::sql`] and [`crate::redis`].

use std::time::Instant;

use serde_json::Value;

use crate::Urls;
use crate::discovery::{Api, Doc, Method};
use crate::world::{ApiError, Effect, Op, Phase, World, key};

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

/// Runs a request against the world.
pub fn dispatch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    match r.api {
        Api::Compute => crate::compute::dispatch(w, r),
        Api::Container => crate::container::dispatch(w, r),
        Api::Sqladmin => crate::sql::dispatch(w, r),
        Api::Redis => crate::redis::dispatch(w, r),
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
