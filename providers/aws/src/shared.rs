//! What the AWS service modules share: the SDK configuration (loaded once, from the
//! standard chain) and each service's lazily built client, the identity tags, and the small
//! conversions between SDK answers and attribute values.
//!
//! A service module (`ec2`, `iam`, `eks`, `secrets`, `rds`, `elasticache`, `elbv2`,
//! `cloudfront`) implements the kit's `Lifecycle` for the native types it owns: it creates them
//! tagged with the resource's identity, finds them by that identity, reads them in batches,
//! converges their in-place settings and deletes them. `lib.rs` lists the modules.

use std::sync::Arc;

use aws_sdk_ec2::config::SharedInterceptor;
use provider_api::{Attrs, Identity, ProviderError, Value};
use tokio::sync::OnceCell;

/// The name used in `provider "aws" { … }`.
pub const NAME: &str = "aws";

/// Tag keys every object carries.
pub const TAG_MANAGED: &str = "ss:managed";
pub const TAG_STACK: &str = "ss:stack";
pub const TAG_ADDRESS: &str = "ss:address";

/// Where the SDK clients come from: the standard chain (loaded at the first call, so
/// `ss validate` needs no credentials) or a caller's configuration, plus an endpoint
/// override and interceptors (tests count calls with one). Every service client is built
/// from this by [`client!`](crate::client).
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

/// The SDK client of one service, built from the [`Shared`] configuration at its first call
/// (so `ss validate` needs no credentials); [`client!`](crate::client) gets it.
pub struct LazyClient<C> {
    pub shared: Arc<Shared>,
    pub cell: OnceCell<C>,
}

impl<C> LazyClient<C> {
    pub fn new(shared: Arc<Shared>) -> LazyClient<C> {
        LazyClient {
            shared,
            cell: OnceCell::new(),
        }
    }
}

/// Shows the region only: the client's configuration holds the credential chain.
impl<C> std::fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyClient")
            .field("region", &self.shared.region)
            .finish_non_exhaustive()
    }
}

/// The client of one SDK crate held by a [`LazyClient`], built at the first call from its
/// [`Shared`]: the region, standard retries (5 attempts, with backoff and jitter), the endpoint
/// override and the interceptors.
#[macro_export]
#[doc(hidden)]
macro_rules! client {
    ($krate:ident, $lazy:expr) => {{
        let lazy: &$crate::shared::LazyClient<$krate::Client> = $lazy;
        lazy.cell
            .get_or_init(|| async {
                let shared = &lazy.shared;
                let sdk = shared.sdk().await;
                let mut builder = $krate::config::Builder::from(sdk)
                    .region($krate::config::Region::new(shared.region.clone()))
                    .retry_config(
                        $krate::config::retry::RetryConfig::standard().with_max_attempts(5),
                    );
                if let Some(endpoint) = &shared.endpoint {
                    builder = builder.endpoint_url(endpoint);
                }
                for interceptor in &shared.interceptors {
                    builder.push_interceptor(interceptor.clone());
                }
                $krate::Client::from_conf(builder.build())
            })
            .await
    }};
}

/// Every item of a paginated list or describe call, through the SDK's own paginator (every
/// page, in order), its error mapped under the call's name by `sdk`
/// ([`crate::error::sdk`]) or by the given mapping.
#[macro_export]
#[doc(hidden)]
macro_rules! all_items {
    ($what:expr, $call:expr) => {
        $crate::all_items!($what, $call, $crate::error::sdk)
    };
    ($what:expr, $call:expr, $map:expr) => {
        $call
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| $map($what, e))
    };
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

/// A required string attribute.
pub fn need_str<'a>(config: &'a Attrs, k: &str) -> Result<&'a str, ProviderError> {
    provider_api::kit::config::attr_str(config, k)
        .ok_or_else(|| ProviderError::Invalid(format!("`{k}` is required")))
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
    provider_api::kit::unknown_type(NAME, type_name)
}
