//! What every AWS service module implements, and the helpers they share: the SDK
//! configuration (loaded once, from the standard chain), attribute access, identity tags,
//! and the generic readiness and deletion waits.
//!
//! A service module (`ec2`, `iam`, `eks`, `rds`, `elasticache`, `elbv2`, `cloudfront`) owns
//! some native types: it creates them tagged with the resource's identity, finds them by
//! that identity, reads them in batches, converges their in-place settings and deletes them.
//! `lib.rs` routes each native type to the module that owns it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_ec2::config::SharedInterceptor;
use provider_api::{Attrs, Identity, ProviderError, ResourceState, Value};
use tokio::sync::OnceCell;

/// Tag keys every object carries.
pub const TAG_MANAGED: &str = "ss:managed";
pub const TAG_STACK: &str = "ss:stack";
pub const TAG_ADDRESS: &str = "ss:address";

/// Bounds of the pause between two polls.
pub const MIN_POLL: Duration = Duration::from_millis(100);
pub const MAX_POLL: Duration = Duration::from_secs(5);

/// How long an object just created may be missing from describes (AWS is eventually
/// consistent) before a wait says it does not exist.
pub const NOT_YET_VISIBLE: Duration = Duration::from_secs(20);

/// One object as read, with what its attributes do not show.
#[derive(Clone, Debug)]
pub struct Obj {
    pub state: ResourceState,
    /// Ready to be used (`available`, `ACTIVE`, `Deployed`, attached…).
    pub ready: bool,
    /// Service-specific facts a later call needs and no attribute holds (route tables:
    /// subnet id → association id; CloudFront: the `ETag`; …).
    pub extra: BTreeMap<String, String>,
}

impl Obj {
    pub fn new(id: impl Into<String>, attrs: Attrs, ready: bool) -> Obj {
        Obj {
            state: ResourceState {
                id: id.into(),
                attrs,
            },
            ready,
            extra: BTreeMap::new(),
        }
    }
}

/// The operations of one AWS service on the native types it owns.
#[async_trait]
pub trait Service: Send + Sync + std::fmt::Debug {
    /// The native types this service owns.
    fn types(&self) -> &'static [&'static str];

    /// The object made for `identity` (by its deterministic name or its tags), if any.
    async fn find(
        &self,
        type_name: &str,
        identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError>;

    /// Sends the create call and answers the new object's id. `salt` is empty, except when a
    /// create must be repeated under a fresh idempotency token.
    async fn create(
        &self,
        type_name: &str,
        identity: &Identity,
        config: &Attrs,
        salt: &str,
    ) -> Result<String, ProviderError>;

    /// Reads objects by id, in batches (one paginated describe per type where the API
    /// allows); `None` for an id that no longer exists.
    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Obj>>, ProviderError>;

    /// Brings the in-place settings of `current` to `config`, changing only what differs.
    /// Answers whether anything was changed (the caller then waits for readiness again).
    async fn converge(
        &self,
        type_name: &str,
        current: &Obj,
        config: &Attrs,
    ) -> Result<bool, ProviderError>;

    /// Sends the delete call (after what must come first, like detaching). Deleting what is
    /// already gone succeeds. The caller waits until reads no longer show the object.
    async fn delete(&self, type_name: &str, id: &str) -> Result<(), ProviderError>;

    /// Whether an object still shown by reads counts as gone (some services keep deleted
    /// objects visible for a while in a `deleting`/`deleted` state).
    fn is_gone(&self, _type_name: &str, _obj: &Obj) -> bool {
        false
    }
}

/// Reads one object by id.
pub async fn read_one(
    svc: &dyn Service,
    type_name: &str,
    id: &str,
) -> Result<Option<Obj>, ProviderError> {
    Ok(svc
        .read_many(type_name, &[id.to_string()])
        .await?
        .into_iter()
        .next()
        .flatten())
}

/// Polls until the object is ready, with growing pauses, within `timeout`. An object missing
/// just after its create is waited for a little (eventual consistency), then reported as not
/// found.
pub async fn wait_ready(
    svc: &dyn Service,
    type_name: &str,
    id: &str,
    timeout: Duration,
) -> Result<Obj, ProviderError> {
    let start = Instant::now();
    let mut pause = MIN_POLL;
    loop {
        match read_one(svc, type_name, id).await? {
            Some(obj) if obj.ready => return Ok(obj),
            Some(_) => {
                if start.elapsed() >= timeout {
                    return Err(ProviderError::Timeout(format!(
                        "{type_name} {id} not available after {timeout:?}"
                    )));
                }
            }
            None => {
                if start.elapsed() >= NOT_YET_VISIBLE.min(timeout) {
                    return Err(ProviderError::NotFound(format!(
                        "{type_name} {id} does not exist"
                    )));
                }
            }
        }
        tokio::time::sleep(pause).await;
        pause = pause.mul_f64(1.5).min(MAX_POLL);
    }
}

/// Polls until reads no longer show the object (or show it as gone), within `timeout`.
pub async fn wait_gone(
    svc: &dyn Service,
    type_name: &str,
    id: &str,
    timeout: Duration,
) -> Result<(), ProviderError> {
    let start = Instant::now();
    let mut pause = MIN_POLL;
    loop {
        match read_one(svc, type_name, id).await? {
            None => return Ok(()),
            Some(obj) if svc.is_gone(type_name, &obj) => return Ok(()),
            Some(_) => {}
        }
        if start.elapsed() >= timeout {
            return Err(ProviderError::Timeout(format!(
                "{type_name} {id} still exists after {timeout:?}"
            )));
        }
        tokio::time::sleep(pause).await;
        pause = pause.mul_f64(1.5).min(MAX_POLL);
    }
}

/// Where the SDK clients come from: the standard chain (loaded at the first call, so
/// `ss validate` needs no credentials) or a caller's configuration, plus an endpoint
/// override and interceptors (tests count calls with one). Every service client is built
/// from this with [`client!`](crate::client).
pub struct Shared {
    pub region: String,
    pub endpoint: Option<String>,
    pub given: Option<aws_config::SdkConfig>,
    pub interceptors: Vec<SharedInterceptor>,
    loaded: OnceCell<aws_config::SdkConfig>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub fn new(
        region: String,
        endpoint: Option<String>,
        given: Option<aws_config::SdkConfig>,
        interceptors: Vec<SharedInterceptor>,
    ) -> Shared {
        Shared {
            region,
            endpoint,
            given,
            interceptors,
            loaded: OnceCell::new(),
        }
    }

    /// The SDK configuration: the caller's, or the standard chain's (loaded once).
    pub async fn sdk(&self) -> &aws_config::SdkConfig {
        if let Some(given) = &self.given {
            return given;
        }
        self.loaded
            .get_or_init(|| async {
                aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new(self.region.clone()))
                    .load()
                    .await
            })
            .await
    }
}

/// Builds a client of one SDK crate from a [`Shared`]: the region, standard retries (5
/// attempts, with backoff and jitter), the endpoint override and the interceptors.
#[macro_export]
#[doc(hidden)]
macro_rules! client {
    ($krate:ident, $shared:expr) => {{
        let shared: &$crate::service::Shared = $shared;
        let sdk = shared.sdk().await;
        let mut builder = $krate::config::Builder::from(sdk)
            .region($krate::config::Region::new(shared.region.clone()))
            .retry_config($krate::config::retry::RetryConfig::standard().with_max_attempts(5));
        if let Some(endpoint) = &shared.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        for interceptor in &shared.interceptors {
            builder.push_interceptor(interceptor.clone());
        }
        $krate::Client::from_conf(builder.build())
    }};
}

/// The `(key, value)` tags of an object made for `identity`: `Name` (its deterministic name,
/// at most `name_len` characters), `ss:managed`, `ss:stack`, `ss:address`.
pub fn identity_tag_pairs(identity: &Identity, name_len: usize) -> Vec<(String, String)> {
    vec![
        ("Name".into(), identity.name(name_len)),
        (TAG_MANAGED.into(), "true".into()),
        (TAG_STACK.into(), identity.stack.clone()),
        (TAG_ADDRESS.into(), identity.address.clone()),
    ]
}

/// Whether tags (as pairs) name `identity`.
pub fn tags_match<'a>(
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    identity: &Identity,
) -> bool {
    let mut stack = false;
    let mut address = false;
    for (k, v) in tags {
        stack |= k == TAG_STACK && v == identity.stack;
        address |= k == TAG_ADDRESS && v == identity.address;
    }
    stack && address
}

pub fn opt(v: Option<&str>) -> Value {
    v.map(Value::from).unwrap_or(Value::Null)
}

/// A set of strings as a sorted, deduplicated list value.
pub fn strings(mut items: Vec<String>) -> Value {
    items.sort();
    items.dedup();
    Value::List(items.into_iter().map(Value::from).collect())
}

pub fn attr_str<'a>(config: &'a Attrs, k: &str) -> Option<&'a str> {
    config.get(k).and_then(Value::as_str)
}

pub fn need_str<'a>(config: &'a Attrs, k: &str) -> Result<&'a str, ProviderError> {
    attr_str(config, k).ok_or_else(|| ProviderError::Invalid(format!("`{k}` is required")))
}

pub fn attr_bool(config: &Attrs, k: &str, default: bool) -> bool {
    config.get(k).and_then(Value::as_bool).unwrap_or(default)
}

pub fn attr_i64(config: &Attrs, k: &str, default: i64) -> i64 {
    config.get(k).and_then(Value::as_i64).unwrap_or(default)
}

/// A list of strings attribute as a sorted, deduplicated vector.
pub fn attr_strings(config: &Attrs, k: &str) -> Vec<String> {
    let mut out = attr_list(config, k);
    out.sort();
    out.dedup();
    out
}

/// A list of strings attribute, in its order.
pub fn attr_list(config: &Attrs, k: &str) -> Vec<String> {
    config
        .get(k)
        .and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Deleting what is already gone succeeds.
pub fn gone_ok(r: Result<(), ProviderError>) -> Result<(), ProviderError> {
    match r {
        Err(ProviderError::NotFound(_)) => Ok(()),
        other => other,
    }
}

/// Ignores the answer "that is already so" of an idempotent change.
pub fn already_ok(r: Result<(), ProviderError>, codes: &[&str]) -> Result<(), ProviderError> {
    match r {
        Err(ProviderError::Invalid(m)) if codes.iter().any(|c| m.contains(c)) => Ok(()),
        other => other,
    }
}

/// The error of a type name routed to a service that does not own it.
pub fn unknown_type(type_name: &str) -> ProviderError {
    ProviderError::Invalid(format!(
        "the aws provider has no resource type {type_name:?}"
    ))
}
