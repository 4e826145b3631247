//! CloudFront: distributions (`cdn`).
//!
//! A `cdn` is one `aws_cloudfront_distribution` with one custom origin (the origin host name,
//! normally a `load_balancer`'s `dns_name`), a default behaviour for the application and one
//! ordered cache behaviour per `cache_rule`.
//!
//! **Caching.** Behaviours use the legacy `ForwardedValues` + `MinTTL`/`DefaultTTL`/`MaxTTL`
//! settings rather than cache policies: moto has no cache policies, and AWS still accepts
//! them. The default behaviour forwards query strings, all cookies and the `Authorization`
//! header (the application behind it is dynamic) and caches what the origin's
//! `Cache-Control` allows, `default_ttl` seconds when the origin says nothing. A rule with a
//! `ttl` above 0 caches its path for exactly that long (`MinTTL = DefaultTTL = MaxTTL`),
//! keyed on the query string only (static content: no cookies, no headers); a rule with
//! `ttl = 0` forwards like the default behaviour and caches nothing. Viewers are redirected
//! to HTTPS; every behaviour allows all methods and caches GET and HEAD. `compress` turns on
//! `Compress` in every behaviour; with these legacy settings AWS compresses with gzip (Brotli
//! needs a cache policy that accepts it).
//!
//! **Origin protocol.** The ALB of a portable `load_balancer` has no certificate, so it
//! listens with plain HTTP on the component's `port` (443 unless set). A `cdn` only knows its
//! origin's host name, so its expansion sets `origin_protocol = "http-only"` and
//! `origin_http_port = 443`: what reaches such an ALB. A load balancer on another port needs
//! the native type (or a change of this default). The native type's defaults are AWS's
//! (`http-only` on 80, HTTPS on 443); `https-only` or `match-viewer` suit an origin with a
//! certificate.
//!
//! **Identity.** The `CallerReference` is the identity's deterministic name and the
//! `Comment` carries it too; the distribution is created with its tags
//! (`CreateDistributionWithTags`). `find` is one paginated `ListDistributions` matching the
//! `Comment`, confirmed by the tags (`ListTagsForResource`). A create answered
//! `DistributionAlreadyExists` (a retried create) adopts the distribution that holds the
//! reference (read one by one with `GetDistribution`: the reference is in no summary); when
//! none does (AWS may remember the reference of a deleted distribution), it creates again
//! under a reference with a time suffix — the `Comment` still names the identity.
//!
//! **Refresh.** `read_many` is one paginated `ListDistributions` for all ids: AWS's summaries
//! carry everything read (origins, behaviours, TTLs, HTTP version, price class, status). moto's
//! summaries carry only the id, ARN, status and domain name; for those (a summary without
//! origins) the distribution is read with one `GetDistribution` each.
//!
//! **Changes** are made in place: `GetDistributionConfig` → the managed settings changed →
//! `UpdateDistribution` with the `ETag` as `IfMatch` (a stale `ETag` answers
//! `PreconditionFailed`, retried by the planner). **Deletes** disable first
//! (`UpdateDistribution` with `Enabled = false`), poll `GetDistribution` until `Deployed`
//! (growing pauses, at most [`DISABLE_TIMEOUT`]), then `DeleteDistribution` with the fresh
//! `ETag`; a distribution already gone is deleted. A distribution is ready when `Deployed`.

// The legacy cache settings (ForwardedValues, MinTTL/DefaultTTL/MaxTTL) are deprecated in
// favour of cache policies, which moto does not have; AWS still accepts them.
#![allow(deprecated)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_cloudfront::Client;
use aws_sdk_cloudfront::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudfront::types::{
    AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, CookiePreference,
    CustomOriginConfig, DefaultCacheBehavior, Distribution, DistributionConfig,
    DistributionConfigWithTags, DistributionSummary, ForwardedValues, Headers, HttpVersion,
    ItemSelection, Method, Origin, OriginProtocolPolicy, Origins, PriceClass, Tag, Tags,
    ViewerProtocolPolicy,
};
use provider_api::CreateRequest;
use provider_api::Value;
use provider_api::kit::config::{attr_bool, attr_i64, attr_str};
use provider_api::kit::schema::{b, list, n, s};
use provider_api::kit::wait::Backoff;
use provider_api::kit::{Lifecycle, Obj};
use provider_api::schema::{AttrType, AttributeSchema as A, Body};
use provider_api::{Attrs, Binding, Diagnostic, Expansion, Identity, NativeSpec, ProviderError};

use crate::error::sdk;
use crate::settings::Settings;
use crate::shared::{LazyClient, Shared, identity_tag_pairs, need_str, tags_match};
use crate::types::{Module, NAME_LEN, base};

pub const DISTRIBUTION: &str = "aws_cloudfront_distribution";

/// The native types of this module, their schemas and set-like attributes.
pub const MODULE: Module = Module {
    types: &[DISTRIBUTION],
    schema,
    set_like,
};

/// The id of the one origin of a distribution made by ss.
const ORIGIN_ID: &str = "ss-origin";

/// The longest a delete waits for the disabled distribution to be deployed (AWS takes minutes).
pub const DISABLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// `MaxTTL` of the default behaviour: the origin's `Cache-Control` decides, up to a year.
const MAX_TTL: i64 = 31_536_000;

/// The port a `cdn` reaches its origin on with plain HTTP: the portable `load_balancer`'s
/// default `port`, where its ALB listens with HTTP (it has no certificate).
const ORIGIN_HTTP_PORT: i64 = 443;

/// Defaults of the native attributes (also what expansion sets).
const DEFAULT_PROTOCOL: &str = "http-only";
const DEFAULT_PRICE_CLASS: &str = "PriceClass_All";

/// Error codes handled here rather than by [`crate::error`].
const ALREADY_EXISTS: &str = "DistributionAlreadyExists";
/// A stale `IfMatch` (someone changed the distribution since it was read), or a delete of a
/// distribution whose disabling is not deployed yet: read again and retry.
const RETRY_CODES: [&str; 2] = ["PreconditionFailed", "DistributionNotDisabled"];

fn schema(type_name: &str) -> Option<(&'static str, Body)> {
    if type_name != DISTRIBUTION {
        return None;
    }
    let body = base()
        .attr(
            "origin_domain",
            A::required(s(), "Host name of the origin (a load balancer's dns_name)"),
        )
        .attr(
            "origin_protocol",
            A::optional(
                s(),
                "How CloudFront reaches the origin: http-only (the ss ALB listens on plain \
                 HTTP), match-viewer or https-only",
            )
            .default(DEFAULT_PROTOCOL),
        )
        .attr(
            "origin_http_port",
            A::optional(n(), "Origin port for HTTP").default(80),
        )
        .attr(
            "origin_https_port",
            A::optional(n(), "Origin port for HTTPS").default(443),
        )
        .attr(
            "cache_rules",
            A::optional(
                list(AttrType::Map(Box::new(AttrType::Any))),
                "Ordered cache behaviours, {path, ttl}: the path pattern is cached ttl seconds",
            )
            .default(Value::List(Vec::new())),
        )
        .attr(
            "default_ttl",
            A::optional(
                n(),
                "Seconds the default behaviour caches what the origin gives no lifetime",
            )
            .default(0),
        )
        .attr(
            "compress",
            A::optional(b(), "Compress (gzip, br) what viewers accept compressed").default(true),
        )
        .attr(
            "http_version",
            A::optional(s(), "http1.1, http2, http3 or http2and3").default("http2and3"),
        )
        .attr(
            "price_class",
            A::optional(s(), "PriceClass_100, PriceClass_200 or PriceClass_All")
                .default(DEFAULT_PRICE_CLASS),
        )
        .attr(
            "enabled",
            A::optional(b(), "Serve viewers' requests").default(true),
        )
        .attr("arn", A::computed(s(), "ARN of the distribution"))
        .attr(
            "domain_name",
            A::computed(s(), "The distribution's host name (*.cloudfront.net)"),
        )
        .attr("status", A::computed(s(), "InProgress or Deployed"));
    Some((
        "A CloudFront distribution in front of one custom origin",
        body,
    ))
}

fn set_like(_type_name: &str) -> &'static [&'static str] {
    &[]
}

/// The provider's own checks of a `cdn`, on top of the portable ones: CloudFront refuses two
/// behaviours with the same path pattern, and patterns longer than 255 characters.
pub fn validate(_settings: &Settings, config: &Attrs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let Some(rules) = config.get("cache_rule").and_then(Value::as_list) else {
        return out;
    };
    let mut seen = BTreeSet::new();
    for (i, rule) in rules.iter().enumerate() {
        let Some(path) = rule
            .as_map()
            .and_then(|r| r.get("path"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let at = || ["cache_rule".to_string(), i.to_string(), "path".to_string()];
        if path.len() > 255 {
            out.push(Diagnostic::error("a cache rule `path` is at most 255 characters").at(at()));
        }
        if !seen.insert(path) {
            out.push(
                Diagnostic::error(format!(
                    "two cache rules have the path {path:?}: CloudFront needs distinct paths"
                ))
                .at(at()),
            );
        }
    }
    out
}

/// Expands a `cdn` into one distribution. Exports: `id`, `domain_name`.
pub fn expand(_settings: &Settings, config: &Attrs) -> Result<Expansion, Vec<Diagnostic>> {
    let get = |k: &str| config.get(k).cloned().unwrap_or(Value::Null);
    let rules = match get("cache_rule") {
        Value::Null => Value::List(Vec::new()),
        Value::List(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let rule = item.as_map();
                let path = rule
                    .and_then(|r| r.get("path"))
                    .cloned()
                    .unwrap_or(Value::Null);
                let ttl = match rule.and_then(|r| r.get("ttl")) {
                    Some(v) if v.is_unknown() => Value::Unknown,
                    Some(v) => match v.as_i64() {
                        Some(t) => Value::from(t),
                        None => {
                            return Err(vec![
                                Diagnostic::error("a cache rule `ttl` must be a whole number")
                                    .at(["cache_rule".to_string(), i.to_string(), "ttl".into()]),
                            ]);
                        }
                    },
                    None => Value::Null,
                };
                out.push(Value::Map(BTreeMap::from([
                    ("path".to_string(), path),
                    ("ttl".to_string(), ttl),
                ])));
            }
            Value::List(out)
        }
        other => other,
    };
    let compress = match get("compression") {
        Value::Null => Value::Bool(true),
        v if v.is_unknown() => Value::Unknown,
        v => Value::Bool(v.as_list().is_some_and(|l| !l.is_empty())),
    };
    let http_version = match get("http3") {
        v if v.is_unknown() => Value::Unknown,
        v => Value::from(if v.as_bool().unwrap_or(true) {
            "http2and3"
        } else {
            "http2"
        }),
    };
    let distribution = NativeSpec::new("distribution", DISTRIBUTION)
        .set("origin_domain", get("origin"))
        .set("origin_protocol", Value::from(DEFAULT_PROTOCOL))
        .set("origin_http_port", Value::from(ORIGIN_HTTP_PORT))
        .set("origin_https_port", Value::from(443))
        .set("cache_rules", rules)
        .set("default_ttl", Value::from(0))
        .set("compress", compress)
        .set("http_version", http_version)
        .set("price_class", Value::from(DEFAULT_PRICE_CLASS))
        .set("enabled", Value::Bool(true));
    Ok(Expansion {
        resources: vec![distribution],
        exports: BTreeMap::from([
            ("id".to_string(), Binding::attr("distribution", "id")),
            (
                "domain_name".to_string(),
                Binding::attr("distribution", "domain_name"),
            ),
        ]),
    })
}

// ---------------------------------------------------------------------------------------------
// The configuration sent to CloudFront, and what is read back.

fn built<T>(r: Result<T, BuildError>) -> Result<T, ProviderError> {
    r.map_err(|e| ProviderError::Invalid(format!("CloudFront request: {e}")))
}

/// Maps an SDK error, answering the codes meaning "read again and retry" as transient.
fn cf_err<E>(
    what: &str,
    err: SdkError<E, aws_sdk_cloudfront::config::http::HttpResponse>,
) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err.code() {
        Some(c) if RETRY_CODES.contains(&c) => {
            ProviderError::Transient(format!("{what}: {c}: {}", err.message().unwrap_or("")))
        }
        _ => sdk(what, err),
    }
}

/// One cache rule of the configuration.
#[derive(Clone, Debug, PartialEq)]
struct Rule {
    path: String,
    ttl: i64,
}

fn rules_of(config: &Attrs) -> Result<Vec<Rule>, ProviderError> {
    let Some(items) = config.get("cache_rules").and_then(Value::as_list) else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|item| {
            let map = item.as_map();
            let path = map.and_then(|m| m.get("path")).and_then(Value::as_str);
            let ttl = map.and_then(|m| m.get("ttl")).and_then(Value::as_i64);
            match (path, ttl) {
                (Some(path), Some(ttl)) if !path.is_empty() && ttl >= 0 => Ok(Rule {
                    path: path.to_string(),
                    ttl,
                }),
                _ => Err(ProviderError::Invalid(
                    "every entry of `cache_rules` needs a `path` and a `ttl` of 0 or more".into(),
                )),
            }
        })
        .collect()
}

fn all_methods() -> Result<AllowedMethods, ProviderError> {
    let allowed = [
        Method::Get,
        Method::Head,
        Method::Options,
        Method::Put,
        Method::Post,
        Method::Patch,
        Method::Delete,
    ];
    let cached = built(
        CachedMethods::builder()
            .quantity(2)
            .items(Method::Get)
            .items(Method::Head)
            .build(),
    )?;
    built(
        AllowedMethods::builder()
            .quantity(allowed.len() as i32)
            .set_items(Some(allowed.to_vec()))
            .cached_methods(cached)
            .build(),
    )
}

/// What is forwarded to the origin (and keys the cache): everything an application needs
/// (`dynamic`), or only the query string (static content).
fn forwarded(dynamic: bool) -> Result<ForwardedValues, ProviderError> {
    let cookies = built(
        CookiePreference::builder()
            .forward(if dynamic {
                ItemSelection::All
            } else {
                ItemSelection::None
            })
            .build(),
    )?;
    let headers = if dynamic {
        built(
            Headers::builder()
                .quantity(1)
                .items("Authorization")
                .build(),
        )?
    } else {
        built(Headers::builder().quantity(0).build())?
    };
    built(
        ForwardedValues::builder()
            .query_string(true)
            .cookies(cookies)
            .headers(headers)
            .build(),
    )
}

fn protocol_policy(config: &Attrs) -> Result<OriginProtocolPolicy, ProviderError> {
    let p = attr_str(config, "origin_protocol").unwrap_or(DEFAULT_PROTOCOL);
    match p {
        "http-only" | "https-only" | "match-viewer" => Ok(OriginProtocolPolicy::from(p)),
        other => Err(ProviderError::Invalid(format!(
            "`origin_protocol` must be http-only, https-only or match-viewer, got {other:?}"
        ))),
    }
}

fn http_version(config: &Attrs) -> Result<HttpVersion, ProviderError> {
    let v = attr_str(config, "http_version").unwrap_or("http2and3");
    match v {
        "http1.1" | "http2" | "http3" | "http2and3" => Ok(HttpVersion::from(v)),
        other => Err(ProviderError::Invalid(format!(
            "`http_version` must be http1.1, http2, http3 or http2and3, got {other:?}"
        ))),
    }
}

fn price_class(config: &Attrs) -> Result<PriceClass, ProviderError> {
    let v = attr_str(config, "price_class").unwrap_or(DEFAULT_PRICE_CLASS);
    match v {
        "PriceClass_100" | "PriceClass_200" | "PriceClass_All" => Ok(PriceClass::from(v)),
        other => Err(ProviderError::Invalid(format!(
            "`price_class` must be PriceClass_100, PriceClass_200 or PriceClass_All, got \
             {other:?}"
        ))),
    }
}

fn port(config: &Attrs, key: &str, default: i64) -> Result<i32, ProviderError> {
    match attr_i64(config, key, default) {
        p @ 1..=65535 => Ok(p as i32),
        p => Err(ProviderError::Invalid(format!(
            "`{key}` must be a port number, got {p}"
        ))),
    }
}

fn origin_config(config: &Attrs) -> Result<CustomOriginConfig, ProviderError> {
    built(
        CustomOriginConfig::builder()
            .http_port(port(config, "origin_http_port", 80)?)
            .https_port(port(config, "origin_https_port", 443)?)
            .origin_protocol_policy(protocol_policy(config)?)
            .build(),
    )
}

fn new_behavior(rule: &Rule, compress: bool) -> Result<CacheBehavior, ProviderError> {
    built(
        CacheBehavior::builder()
            .path_pattern(&rule.path)
            .target_origin_id(ORIGIN_ID)
            .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
            .allowed_methods(all_methods()?)
            .forwarded_values(forwarded(rule.ttl == 0)?)
            .compress(compress)
            .min_ttl(rule.ttl)
            .default_ttl(rule.ttl)
            .max_ttl(rule.ttl)
            .build(),
    )
}

/// The configuration of a new distribution.
fn new_config(
    caller_reference: &str,
    comment: &str,
    config: &Attrs,
) -> Result<DistributionConfig, ProviderError> {
    let origin = built(
        Origin::builder()
            .id(ORIGIN_ID)
            .domain_name(need_str(config, "origin_domain")?)
            .custom_origin_config(origin_config(config)?)
            .build(),
    )?;
    let default_behavior = built(
        DefaultCacheBehavior::builder()
            .target_origin_id(ORIGIN_ID)
            .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
            .allowed_methods(all_methods()?)
            .forwarded_values(forwarded(true)?)
            .build(),
    )?;
    let mut cfg = built(
        DistributionConfig::builder()
            .caller_reference(caller_reference)
            .comment(comment)
            .enabled(true)
            .origins(built(Origins::builder().quantity(1).items(origin).build())?)
            .default_cache_behavior(default_behavior)
            .build(),
    )?;
    apply_settings(&mut cfg, config)?;
    Ok(cfg)
}

/// Sets the managed settings of `cfg` to `config`'s, leaving everything else as it is (what
/// AWS filled in, what was set by hand on what ss does not manage).
fn apply_settings(cfg: &mut DistributionConfig, config: &Attrs) -> Result<(), ProviderError> {
    let compress = attr_bool(config, "compress", true);
    let default_ttl = attr_i64(config, "default_ttl", 0).max(0);
    cfg.enabled = attr_bool(config, "enabled", true);
    cfg.http_version = Some(http_version(config)?);
    cfg.price_class = Some(price_class(config)?);

    let domain = need_str(config, "origin_domain")?.to_string();
    let custom = origin_config(config)?;
    if cfg.origins.is_none() {
        cfg.origins = Some(built(
            Origins::builder()
                .quantity(0)
                .set_items(Some(Vec::new()))
                .build(),
        )?);
    }
    let Some(origins) = cfg.origins.as_mut() else {
        return Err(ProviderError::Other(
            "a distribution without origins".into(),
        ));
    };
    let index =
        origins
            .items
            .iter()
            .position(|o| o.id == ORIGIN_ID)
            .or(if origins.items.is_empty() {
                None
            } else {
                Some(0)
            });
    match index {
        Some(i) => {
            let o = &mut origins.items[i];
            o.domain_name = domain;
            o.s3_origin_config = None;
            match &mut o.custom_origin_config {
                Some(c) => {
                    c.http_port = custom.http_port;
                    c.https_port = custom.https_port;
                    c.origin_protocol_policy = custom.origin_protocol_policy;
                }
                None => o.custom_origin_config = Some(custom),
            }
        }
        None => origins.items.push(built(
            Origin::builder()
                .id(ORIGIN_ID)
                .domain_name(domain)
                .custom_origin_config(custom)
                .build(),
        )?),
    }
    origins.quantity = origins.items.len() as i32;
    let target = origins
        .items
        .iter()
        .find(|o| o.id == ORIGIN_ID)
        .or(origins.items.first())
        .map(|o| o.id.clone())
        .unwrap_or_else(|| ORIGIN_ID.to_string());

    if let Some(d) = &mut cfg.default_cache_behavior {
        d.target_origin_id = target.clone();
        d.compress = Some(compress);
        d.min_ttl = Some(0);
        d.default_ttl = Some(default_ttl);
        d.max_ttl = Some(default_ttl.max(MAX_TTL));
        if d.forwarded_values.is_none() && d.cache_policy_id.as_deref().unwrap_or("").is_empty() {
            d.forwarded_values = Some(forwarded(true)?);
        }
    }

    let existing: Vec<CacheBehavior> = cfg
        .cache_behaviors
        .as_ref()
        .and_then(|c| c.items.clone())
        .unwrap_or_default();
    let mut items = Vec::new();
    for rule in rules_of(config)? {
        let behavior = match existing.iter().find(|b| b.path_pattern == rule.path) {
            Some(old) => {
                let mut b = old.clone();
                b.target_origin_id = target.clone();
                b.compress = Some(compress);
                b.min_ttl = Some(rule.ttl);
                b.default_ttl = Some(rule.ttl);
                b.max_ttl = Some(rule.ttl);
                if b.forwarded_values.is_none()
                    && b.cache_policy_id.as_deref().unwrap_or("").is_empty()
                {
                    b.forwarded_values = Some(forwarded(rule.ttl == 0)?);
                }
                b
            }
            None => new_behavior(&rule, compress)?,
        };
        items.push(behavior);
    }
    cfg.cache_behaviors = Some(built(
        CacheBehaviors::builder()
            .quantity(items.len() as i32)
            .set_items((!items.is_empty()).then_some(items))
            .build(),
    )?);
    Ok(())
}

/// Domain, protocol policy, HTTP and HTTPS ports of the origin.
type OriginSettings = (String, Option<String>, Option<i32>, Option<i32>);

/// The settings ss manages, as a distribution's configuration holds them: two
/// configurations that agree on these need no update.
#[derive(Debug, PartialEq)]
struct Managed {
    enabled: bool,
    http_version: Option<String>,
    price_class: Option<String>,
    origin: Option<OriginSettings>,
    /// Compress, MinTTL, DefaultTTL, MaxTTL of the default behaviour.
    default: Option<(bool, i64, i64, i64)>,
    /// Path, compress, MinTTL, DefaultTTL, MaxTTL of each cache behaviour, in order.
    rules: Vec<(String, bool, i64, i64, i64)>,
}

fn managed(cfg: &DistributionConfig) -> Managed {
    let origin = cfg.origins.as_ref().and_then(|o| {
        o.items
            .iter()
            .find(|o| o.id == ORIGIN_ID)
            .or(o.items.first())
    });
    Managed {
        enabled: cfg.enabled,
        http_version: cfg.http_version.as_ref().map(|v| v.as_str().to_string()),
        price_class: cfg.price_class.as_ref().map(|v| v.as_str().to_string()),
        origin: origin.map(|o| {
            let c = o.custom_origin_config.as_ref();
            (
                o.domain_name.clone(),
                c.map(|c| c.origin_protocol_policy.as_str().to_string()),
                c.map(|c| c.http_port),
                c.map(|c| c.https_port),
            )
        }),
        default: cfg.default_cache_behavior.as_ref().map(|d| {
            (
                d.compress.unwrap_or(false),
                d.min_ttl.unwrap_or(0),
                d.default_ttl.unwrap_or(0),
                d.max_ttl.unwrap_or(0),
            )
        }),
        rules: behaviors(cfg)
            .iter()
            .map(|b| {
                (
                    b.path_pattern.clone(),
                    b.compress.unwrap_or(false),
                    b.min_ttl.unwrap_or(0),
                    b.default_ttl.unwrap_or(0),
                    b.max_ttl.unwrap_or(0),
                )
            })
            .collect(),
    }
}

fn behaviors(cfg: &DistributionConfig) -> &[CacheBehavior] {
    cfg.cache_behaviors
        .as_ref()
        .and_then(|c| c.items.as_deref())
        .unwrap_or(&[])
}

/// A distribution as read: its configuration (from a summary, `caller_reference` empty, or
/// from `GetDistribution`) and what CloudFront computed.
#[derive(Clone, Debug)]
struct View {
    id: String,
    arn: String,
    domain_name: String,
    status: String,
    etag: Option<String>,
    config: DistributionConfig,
}

impl View {
    /// From a summary of the listing; `None` when the summary lacks the configuration
    /// (moto's carry only id, ARN, status and domain name).
    fn from_summary(s: &DistributionSummary) -> Option<View> {
        let origins = s.origins.clone().filter(|o| !o.items.is_empty())?;
        let config = DistributionConfig::builder()
            .caller_reference("")
            .comment(s.comment.clone())
            .enabled(s.enabled)
            .origins(origins)
            .set_default_cache_behavior(s.default_cache_behavior.clone())
            .set_cache_behaviors(s.cache_behaviors.clone())
            .http_version(s.http_version.clone())
            .price_class(s.price_class.clone())
            .build()
            .ok()?;
        Some(View {
            id: s.id.clone(),
            arn: s.arn.clone(),
            domain_name: s.domain_name.clone(),
            status: s.status.clone(),
            etag: s.e_tag.clone(),
            config,
        })
    }

    fn from_distribution(d: &Distribution, etag: Option<&str>) -> Option<View> {
        Some(View {
            id: d.id.clone(),
            arn: d.arn.clone(),
            domain_name: d.domain_name.clone(),
            status: d.status.clone(),
            etag: etag.map(str::to_string),
            config: d.distribution_config.clone()?,
        })
    }

    fn obj(&self) -> Obj {
        let m = managed(&self.config);
        let (domain, protocol, http_port, https_port) = m.origin.clone().unwrap_or_default();
        let opt_str = |v: Option<String>| v.map(Value::from).unwrap_or(Value::Null);
        let opt_num = |v: Option<i32>| v.map(|p| Value::from(i64::from(p))).unwrap_or(Value::Null);
        let (default_compress, _, default_ttl, _) = m.default.unwrap_or((false, 0, 0, 0));
        let rules: Vec<Value> = m
            .rules
            .iter()
            .map(|(path, _, _, ttl, _)| {
                Value::Map(BTreeMap::from([
                    ("path".to_string(), Value::from(path.as_str())),
                    ("ttl".to_string(), Value::from(*ttl)),
                ]))
            })
            .collect();
        let compress = default_compress && m.rules.iter().all(|r| r.1);
        let name = if self.config.comment.is_empty() {
            Value::Null
        } else {
            Value::from(self.config.comment.as_str())
        };
        let attrs = Attrs::from([
            ("id".to_string(), Value::from(self.id.as_str())),
            ("name".to_string(), name),
            ("origin_domain".to_string(), Value::from(domain)),
            ("origin_protocol".to_string(), opt_str(protocol)),
            ("origin_http_port".to_string(), opt_num(http_port)),
            ("origin_https_port".to_string(), opt_num(https_port)),
            ("cache_rules".to_string(), Value::List(rules)),
            ("default_ttl".to_string(), Value::from(default_ttl)),
            ("compress".to_string(), Value::Bool(compress)),
            ("http_version".to_string(), opt_str(m.http_version)),
            ("price_class".to_string(), opt_str(m.price_class)),
            ("enabled".to_string(), Value::Bool(m.enabled)),
            ("arn".to_string(), Value::from(self.arn.as_str())),
            (
                "domain_name".to_string(),
                Value::from(self.domain_name.as_str()),
            ),
            ("status".to_string(), Value::from(self.status.as_str())),
        ]);
        let mut obj = Obj::new(self.id.clone(), attrs, self.status == "Deployed");
        if let Some(etag) = &self.etag {
            obj.extra.insert("etag".into(), etag.clone());
        }
        if !self.config.caller_reference.is_empty() {
            obj.extra.insert(
                "caller_reference".into(),
                self.config.caller_reference.clone(),
            );
        }
        obj
    }
}

// ---------------------------------------------------------------------------------------------
// The service.

#[derive(Debug)]
pub struct CloudFront {
    client: LazyClient<Client>,
}

impl CloudFront {
    pub fn new(shared: Arc<Shared>) -> CloudFront {
        CloudFront {
            client: LazyClient::new(shared),
        }
    }

    async fn client(&self) -> &Client {
        crate::client!(aws_sdk_cloudfront, &self.client)
    }

    /// Every distribution of the account (one paginated `ListDistributions`).
    async fn list_all(&self) -> Result<Vec<DistributionSummary>, ProviderError> {
        crate::all_items!(
            "ListDistributions",
            self.client().await.list_distributions(),
            cf_err
        )
    }

    /// One distribution (`GetDistribution`), with its `ETag`; `None` when it does not exist.
    async fn get(&self, id: &str) -> Result<Option<View>, ProviderError> {
        match self.client().await.get_distribution().id(id).send().await {
            Ok(out) => Ok(out
                .distribution()
                .and_then(|d| View::from_distribution(d, out.e_tag()))),
            Err(e) => match cf_err("GetDistribution", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    /// Whether the distribution `arn` carries `identity`'s tags.
    async fn tagged(&self, arn: &str, identity: &Identity) -> Result<bool, ProviderError> {
        let out = match self
            .client()
            .await
            .list_tags_for_resource()
            .resource(arn)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                return match cf_err("ListTagsForResource", e) {
                    ProviderError::NotFound(_) => Ok(false),
                    other => Err(other),
                };
            }
        };
        let items = out.tags().map(Tags::items).unwrap_or(&[]);
        Ok(tags_match(
            items
                .iter()
                .map(|t| (t.key.as_str(), t.value.as_deref().unwrap_or(""))),
            identity,
        ))
    }

    /// The distribution made for `identity`: a listed one whose `Comment` is its name,
    /// confirmed by the tags. Summaries without the configuration (moto) are read one by one.
    /// When `thorough` (a create was answered `DistributionAlreadyExists`), every distribution
    /// is read, and the one whose `CallerReference` is the identity's name is adopted even
    /// without the tags: that reference is derived from the stack and the address, so only
    /// this identity's creates use it.
    async fn search(
        &self,
        identity: &Identity,
        thorough: bool,
    ) -> Result<Option<Obj>, ProviderError> {
        let name = identity.name(NAME_LEN);
        for summary in self.list_all().await? {
            let view = match View::from_summary(&summary) {
                Some(v) if v.config.comment == name => v,
                Some(_) if !thorough => continue,
                _ => match self.get(&summary.id).await? {
                    Some(v) if thorough && v.config.caller_reference == name => {
                        return Ok(Some(v.obj()));
                    }
                    Some(v) if v.config.comment == name => v,
                    _ => continue,
                },
            };
            if self.tagged(&view.arn, identity).await? {
                return Ok(Some(view.obj()));
            }
        }
        Ok(None)
    }

    async fn create_with_reference(
        &self,
        identity: &Identity,
        config: &Attrs,
        caller_reference: &str,
    ) -> Result<String, SdkOrProvider> {
        let name = identity.name(NAME_LEN);
        let dist_config = new_config(caller_reference, &name, config)?;
        let mut tags = Vec::new();
        for (k, v) in identity_tag_pairs(identity, NAME_LEN) {
            tags.push(built(Tag::builder().key(k).value(v).build())?);
        }
        let with_tags = DistributionConfigWithTags::builder()
            .distribution_config(dist_config)
            .tags(Tags::builder().set_items(Some(tags)).build())
            .build();
        let out = self
            .client()
            .await
            .create_distribution_with_tags()
            .distribution_config_with_tags(with_tags)
            .send()
            .await
            .map_err(|e| {
                if e.code() == Some(ALREADY_EXISTS) {
                    SdkOrProvider::AlreadyExists
                } else {
                    SdkOrProvider::Provider(cf_err("CreateDistributionWithTags", e))
                }
            })?;
        out.distribution().map(|d| d.id.clone()).ok_or_else(|| {
            SdkOrProvider::Provider(ProviderError::Other(
                "CreateDistributionWithTags answered no distribution".into(),
            ))
        })
    }

    /// The distribution's configuration and `ETag` (`GetDistributionConfig`); `None` when it
    /// does not exist.
    async fn get_config(
        &self,
        id: &str,
    ) -> Result<Option<(DistributionConfig, String)>, ProviderError> {
        match self
            .client()
            .await
            .get_distribution_config()
            .id(id)
            .send()
            .await
        {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or("").to_string();
                Ok(out.distribution_config.map(|c| (c, etag)))
            }
            Err(e) => match cf_err("GetDistributionConfig", e) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn update(
        &self,
        id: &str,
        cfg: DistributionConfig,
        etag: &str,
    ) -> Result<(), ProviderError> {
        self.client()
            .await
            .update_distribution()
            .id(id)
            .if_match(etag)
            .distribution_config(cfg)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| cf_err("UpdateDistribution", e))
    }

    /// Polls `GetDistribution` until the distribution is `Deployed` (growing pauses, within
    /// [`DISABLE_TIMEOUT`]) and answers its `ETag`; `None` when it is gone.
    async fn wait_deployed(&self, id: &str) -> Result<Option<String>, ProviderError> {
        let start = Instant::now();
        let mut backoff = Backoff::polling();
        loop {
            let Some(view) = self.get(id).await? else {
                return Ok(None);
            };
            if view.status == "Deployed" {
                return Ok(Some(view.etag.unwrap_or_default()));
            }
            if start.elapsed() >= DISABLE_TIMEOUT {
                return Err(ProviderError::Timeout(format!(
                    "{DISTRIBUTION} {id} still {} after {DISABLE_TIMEOUT:?}",
                    view.status
                )));
            }
            backoff.sleep().await;
        }
    }
}

/// A create's failure: the caller reference is taken, or another error.
enum SdkOrProvider {
    AlreadyExists,
    Provider(ProviderError),
}

impl From<ProviderError> for SdkOrProvider {
    fn from(e: ProviderError) -> Self {
        SdkOrProvider::Provider(e)
    }
}

#[async_trait]
impl Lifecycle for CloudFront {
    fn types(&self) -> &'static [&'static str] {
        MODULE.types
    }

    async fn find(
        &self,
        _type_name: &str,
        identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError> {
        self.search(identity, false).await
    }

    /// Creates under the identity's name as `CallerReference`; a retried create (the
    /// reference is taken) adopts the distribution holding it.
    async fn create(&self, req: &CreateRequest<'_>, salt: &str) -> Result<String, ProviderError> {
        let (identity, config) = (req.identity, req.config);
        let name = identity.name(NAME_LEN);
        let reference = if salt.is_empty() {
            name.clone()
        } else {
            format!(
                "{name}-{}",
                salt.replace(|c: char| !c.is_ascii_alphanumeric(), "")
            )
        };
        match self
            .create_with_reference(identity, config, &reference)
            .await
        {
            Ok(id) => Ok(id),
            Err(SdkOrProvider::Provider(e)) => Err(e),
            Err(SdkOrProvider::AlreadyExists) => {
                if let Some(found) = self.search(identity, true).await? {
                    tracing::debug!(id = %found.state.id, "CloudFront: adopting the distribution holding the caller reference");
                    return Ok(found.state.id);
                }
                // The reference is remembered but no distribution holds it any more (AWS may
                // remember a deleted distribution's): a fresh reference; the Comment still
                // names the identity, so `find` sees what this makes.
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis();
                let fresh = format!("{name}-{stamp}");
                match self.create_with_reference(identity, config, &fresh).await {
                    Ok(id) => Ok(id),
                    Err(SdkOrProvider::Provider(e)) => Err(e),
                    Err(SdkOrProvider::AlreadyExists) => Err(ProviderError::Transient(format!(
                        "CreateDistributionWithTags: {ALREADY_EXISTS} for {fresh:?}"
                    ))),
                }
            }
        }
    }

    async fn read_many(
        &self,
        _type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Obj>>, ProviderError> {
        let listed: HashMap<String, DistributionSummary> = self
            .list_all()
            .await?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let obj = match listed.get(id) {
                None => None,
                Some(summary) => match View::from_summary(summary) {
                    Some(view) => Some(view.obj()),
                    // A summary without the configuration (moto): read it alone.
                    None => self.get(id).await?.map(|v| v.obj()),
                },
            };
            out.push(obj);
        }
        Ok(out)
    }

    async fn converge(
        &self,
        _type_name: &str,
        current: &Obj,
        config: &Attrs,
    ) -> Result<bool, ProviderError> {
        let id = &current.state.id;
        let (cfg, etag) = self
            .get_config(id)
            .await?
            .ok_or_else(|| ProviderError::NotFound(format!("{DISTRIBUTION} {id}")))?;
        let mut desired = cfg.clone();
        apply_settings(&mut desired, config)?;
        if managed(&desired) == managed(&cfg) {
            return Ok(false);
        }
        self.update(id, desired, &etag).await?;
        Ok(true)
    }

    /// Disables, waits until that is deployed, then deletes with the fresh `ETag`.
    async fn delete(&self, _type_name: &str, id: &str) -> Result<(), ProviderError> {
        let Some((mut cfg, etag)) = self.get_config(id).await? else {
            return Ok(());
        };
        if cfg.enabled {
            cfg.enabled = false;
            match self.update(id, cfg, &etag).await {
                Ok(()) => {}
                Err(ProviderError::NotFound(_)) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        let Some(etag) = self.wait_deployed(id).await? else {
            return Ok(());
        };
        match self
            .client()
            .await
            .delete_distribution()
            .id(id)
            .if_match(etag)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match cf_err("DeleteDistribution", e) {
                ProviderError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            region: "us-east-1".into(),
            zones: Vec::new(),
        }
    }

    fn rule(path: &str, ttl: i64) -> Value {
        Value::Map(BTreeMap::from([
            ("path".to_string(), Value::from(path)),
            ("ttl".to_string(), Value::from(ttl)),
        ]))
    }

    fn native(expansion: &Expansion) -> Attrs {
        expansion.resources[0]
            .config
            .iter()
            .map(|(k, b)| (k.clone(), b.resolve(&|_, _| None)))
            .collect()
    }

    #[test]
    fn expansion_maps_the_component() {
        let config = Attrs::from([
            ("origin".to_string(), Value::from("lb.example.com")),
            (
                "cache_rule".to_string(),
                Value::List(vec![rule("/static/*", 86400), rule("/api/*", 0)]),
            ),
            ("compression".to_string(), Value::List(Vec::new())),
            ("http3".to_string(), Value::Bool(false)),
        ]);
        let e = expand(&settings(), &config).expect("expands");
        assert_eq!(e.resources.len(), 1);
        assert_eq!(e.exports.keys().collect::<Vec<_>>(), ["domain_name", "id"]);
        let attrs = native(&e);
        assert_eq!(attrs["compress"], Value::Bool(false));
        assert_eq!(attrs["http_version"], Value::from("http2"));
        assert_eq!(
            attrs["cache_rules"],
            Value::List(vec![rule("/static/*", 86400), rule("/api/*", 0)])
        );
        let unknown = Attrs::from([
            ("origin".to_string(), Value::Unknown),
            ("http3".to_string(), Value::Bool(true)),
        ]);
        let attrs = native(&expand(&settings(), &unknown).expect("expands"));
        assert_eq!(attrs["origin_domain"], Value::Unknown);
        assert_eq!(attrs["http_version"], Value::from("http2and3"));
        assert_eq!(attrs["compress"], Value::Bool(true));
        assert_eq!(attrs["cache_rules"], Value::List(Vec::new()));
    }

    #[test]
    fn duplicate_paths_are_refused() {
        let config = Attrs::from([(
            "cache_rule".to_string(),
            Value::List(vec![rule("/a/*", 1), rule("/a/*", 2)]),
        )]);
        assert_eq!(validate(&settings(), &config).len(), 1);
    }

    #[test]
    fn settings_round_trip_through_the_configuration() {
        let config = Attrs::from([
            ("origin_domain".to_string(), Value::from("lb.example.com")),
            (
                "cache_rules".to_string(),
                Value::List(vec![rule("/static/*", 600), rule("/api/*", 0)]),
            ),
            ("default_ttl".to_string(), Value::from(5)),
            ("compress".to_string(), Value::Bool(true)),
            ("http_version".to_string(), Value::from("http2and3")),
        ]);
        let cfg = new_config("ref", "ss-name", &config).expect("config");
        let mut again = cfg.clone();
        apply_settings(&mut again, &config).expect("applies");
        assert_eq!(again, cfg, "applying the same settings changes nothing");
        let view = View {
            id: "E1".into(),
            arn: "arn".into(),
            domain_name: "d.cloudfront.net".into(),
            status: "Deployed".into(),
            etag: Some("ETAG".into()),
            config: cfg.clone(),
        };
        let obj = view.obj();
        assert!(obj.ready);
        assert_eq!(obj.extra["etag"], "ETAG");
        for key in [
            "origin_domain",
            "cache_rules",
            "default_ttl",
            "compress",
            "http_version",
        ] {
            assert_eq!(obj.state.attrs[key], config[key], "{key}");
        }
        assert_eq!(obj.state.attrs["origin_protocol"], Value::from("http-only"));
        assert_eq!(
            obj.state.attrs["price_class"],
            Value::from("PriceClass_All")
        );
        let mut changed = config.clone();
        changed.insert(
            "cache_rules".into(),
            Value::List(vec![rule("/api/*", 0), rule("/img/*", 60)]),
        );
        let mut updated = cfg.clone();
        apply_settings(&mut updated, &changed).expect("applies");
        assert_ne!(managed(&updated), managed(&cfg));
        let paths: Vec<&str> = behaviors(&updated)
            .iter()
            .map(|b| b.path_pattern.as_str())
            .collect();
        assert_eq!(paths, ["/api/*", "/img/*"]);
    }
}
