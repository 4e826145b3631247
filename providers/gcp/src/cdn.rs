//! Cloud CDN: enabled on the backend service of the load balancer in front of an origin
//! address, as a patch of that backend service (so repeating it is harmless).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use provider_api::kit::Service;
use provider_api::kit::config::{attr_bool, attr_i64};
use provider_api::kit::schema::{b, n, s};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{
    Attrs, CreateRequest, FindResult, Identity, ProviderError, ReadResult, ResourceState,
    StateResult, Value,
};
use serde_json::{Value as Json, json};

use crate::api::Api;
use crate::compute::{self, id};
use crate::json::{cfg_str, last, num, pick, state, text};
use crate::lb::{BackendService, ForwardingRule, TargetHttpProxy, UrlMap};

pub const CDN: &str = "gcp_compute_backend_service_cdn";

/// The Cloud CDN cache mode in which the origin's headers decide and no TTL may be sent.
pub const ORIGIN_HEADERS: &str = "USE_ORIGIN_HEADERS";
/// The TTL attributes of [`CDN`] and their defaults outside USE_ORIGIN_HEADERS.
pub const CDN_TTL_DEFAULTS: [(&str, i64); 3] = [
    ("default_ttl", 3600),
    ("max_ttl", 86400),
    ("client_ttl", 3600),
];

pub fn schema() -> ResourceSchema {
    ResourceSchema::native(
        CDN,
        "Cloud CDN enabled on the backend service behind an origin address",
        provider_api::kit::schema::with_id("The backend service")
            .attr(
                "origin",
                A::required(
                    s(),
                    "Address of a load balancer of this project (its forwarding rule)",
                )
                .force_new(),
            )
            .attr(
                "cache_mode",
                A::optional(
                    s(),
                    "CACHE_ALL_STATIC, USE_ORIGIN_HEADERS or FORCE_CACHE_ALL",
                )
                .default("CACHE_ALL_STATIC"),
            )
            // Their defaults depend on the cache mode (none with USE_ORIGIN_HEADERS): the
            // provider's `normalise` applies them (`CDN_TTL_DEFAULTS`).
            .attr(
                "default_ttl",
                A::optional(n(), "Seconds (default 3600; none with USE_ORIGIN_HEADERS)"),
            )
            .attr(
                "max_ttl",
                A::optional(n(), "Seconds (default 86400; none with USE_ORIGIN_HEADERS)"),
            )
            .attr(
                "client_ttl",
                A::optional(n(), "Seconds (default 3600; none with USE_ORIGIN_HEADERS)"),
            )
            .attr(
                "compression",
                A::optional(b(), "Dynamic compression (brotli, gzip)").default(true),
            )
            .attr("backend_service", A::computed(s(), "Backend service name"))
            .attr("domain_name", A::computed(s(), "The address clients use")),
    )
}

/// With USE_ORIGIN_HEADERS Cloud CDN holds no TTL (the API refuses them, and reads answer
/// none); the other modes have defaults.
pub fn normalise(proposed: &mut Attrs) {
    if proposed.get("cache_mode").and_then(Value::as_str) == Some(ORIGIN_HEADERS) {
        return;
    }
    for (ttl, default) in CDN_TTL_DEFAULTS {
        if proposed.get(ttl).is_none_or(Value::is_null) {
            proposed.insert(ttl.into(), Value::from(default));
        }
    }
}

/// `gcp_compute_backend_service_cdn`.
#[derive(Debug)]
pub struct Cdn {
    pub(crate) api: Arc<Api>,
}

impl Cdn {
    /// backend service name → the address of the forwarding rule in front of it, through the
    /// proxy and URL map (one list of each).
    async fn origins(&self) -> Result<BTreeMap<String, String>, ProviderError> {
        let rules = compute::list::<ForwardingRule>(&self.api).await?;
        let proxies = compute::list::<TargetHttpProxy>(&self.api).await?;
        let maps = compute::list::<UrlMap>(&self.api).await?;
        let by_name = |list: &[Json], name: &str, field: &str| -> Option<String> {
            list.iter()
                .find(|o| o["name"].as_str() == Some(name))
                .and_then(|o| o[field].as_str())
                .map(|s| last(s).to_string())
        };
        let mut out = BTreeMap::new();
        for rule in &rules {
            let (Some(target), Some(ip)) = (rule["target"].as_str(), rule["IPAddress"].as_str())
            else {
                continue;
            };
            if !target.contains("/targetHttpProxies/") {
                continue;
            }
            if let Some(map) = by_name(&proxies, last(target), "urlMap")
                && let Some(service) = by_name(&maps, &map, "defaultService")
            {
                out.entry(service).or_insert_with(|| ip.to_string());
            }
        }
        Ok(out)
    }

    fn state(&self, o: &Json, origin: &str) -> Option<ResourceState> {
        if o["enableCDN"].as_bool() != Some(true) {
            return None;
        }
        let name = o["name"].as_str().unwrap_or_default();
        let p = &o["cdnPolicy"];
        Some(state(
            id::<BackendService>(&self.api.settings, name),
            vec![
                ("origin", Value::from(origin)),
                ("cache_mode", text(&p["cacheMode"])),
                ("default_ttl", num(&p["defaultTtl"])),
                ("max_ttl", num(&p["maxTtl"])),
                ("client_ttl", num(&p["clientTtl"])),
                (
                    "compression",
                    Value::from(o["compressionMode"].as_str() == Some("AUTOMATIC")),
                ),
                ("backend_service", Value::from(name)),
                ("domain_name", Value::from(origin)),
            ],
        ))
    }

    async fn list(&self) -> Result<BTreeMap<String, ResourceState>, ProviderError> {
        let origins = self.origins().await?;
        let services = compute::list::<BackendService>(&self.api).await?;
        Ok(services
            .iter()
            .filter_map(|o| {
                let name = o["name"].as_str()?;
                let origin = origins.get(name).map_or("", String::as_str);
                self.state(o, origin)
            })
            .map(|s| (s.id.clone(), s))
            .collect())
    }

    /// Enables (or re-configures) Cloud CDN on the backend service behind `origin`.
    async fn apply(&self, config: &Attrs) -> Result<ResourceState, ProviderError> {
        let origin = cfg_str(config, "origin");
        let origins = self.origins().await?;
        let Some(service) = origins
            .iter()
            .find(|(_, ip)| **ip == origin)
            .map(|(s, _)| s.clone())
        else {
            return Err(ProviderError::Invalid(format!(
                "cdn: no load balancer of project {} answers at {origin:?}: Cloud CDN is enabled \
                 on the backend service of a load balancer, so `origin` must be a \
                 load_balancer's dns_name",
                self.api.project()
            )));
        };
        let mode = cfg_str(config, "cache_mode");
        // With USE_ORIGIN_HEADERS the origin's Cache-Control decides, and the API refuses any
        // TTL (400); the other modes take all three.
        let policy = if mode == ORIGIN_HEADERS {
            json!({"cacheMode": mode})
        } else {
            json!({
                "cacheMode": mode,
                "defaultTtl": attr_i64(config, "default_ttl", 3600),
                "maxTtl": attr_i64(config, "max_ttl", 86400),
                "clientTtl": attr_i64(config, "client_ttl", 3600),
            })
        };
        let body = json!({
            "enableCDN": true,
            "cdnPolicy": policy,
            "compressionMode": if attr_bool(config, "compression", true) { "AUTOMATIC" } else { "DISABLED" },
        });
        compute::patch::<BackendService>(&self.api, &service, body).await?;
        let o = compute::get::<BackendService>(&self.api, &service)
            .await?
            .ok_or_else(|| ProviderError::NotFound(format!("backend service {service}")))?;
        self.state(&o, &origin)
            .ok_or_else(|| ProviderError::Transient(format!("cdn on {service}: not enabled yet")))
    }
}

#[async_trait]
impl Service for Cdn {
    fn types(&self) -> &'static [&'static str] {
        &[CDN]
    }

    async fn create(&self, req: &CreateRequest<'_>) -> StateResult {
        self.apply(req.config).await
    }

    /// Cloud CDN has no object of its own to find by name.
    async fn find(&self, _type_name: &str, _identity: &Identity) -> FindResult {
        Ok(None)
    }

    async fn read_many(&self, _type_name: &str, ids: &[String]) -> ReadResult {
        let found = self.list().await?;
        Ok(pick(&found, ids))
    }

    async fn update(
        &self,
        _type_name: &str,
        _prior: &ResourceState,
        config: &Attrs,
    ) -> StateResult {
        self.apply(config).await
    }

    async fn delete(&self, _type_name: &str, prior: &ResourceState) -> Result<(), ProviderError> {
        let service = last(&prior.id);
        if compute::get::<BackendService>(&self.api, service)
            .await?
            .is_none()
        {
            return Ok(());
        }
        compute::patch::<BackendService>(&self.api, service, json!({"enableCDN": false})).await
    }
}
