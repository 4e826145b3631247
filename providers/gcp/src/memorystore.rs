//! Memorystore for Redis (redis v1 `projects.locations.instances`): one instance, a primary
//! with read replicas (`STANDARD_HA`, `READ_REPLICAS_ENABLED`), on the network's private
//! services access range (`PRIVATE_SERVICE_ACCESS`). The instances API has no request ids:
//! a create looks the deterministic name up first and again after a failure, as GKE and
//! Cloud SQL creates do. It is called with `reqwest` (`rest.rs`): the redis client crate
//! here is Redis Cluster's, and a second crate would be compiled for five calls.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use provider_api::component::SizeClass;
use provider_api::kit::Service;
use provider_api::kit::config::attr_i64;
use provider_api::kit::schema::{n, s};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{
    Attrs, CreateRequest, FindResult, Identity, ProviderError, ReadResult, ResourceState,
    StateResult, Value,
};
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::api::Api;
use crate::json::{cfg_str, last, num, partial, pick, state, text};
use crate::types::{NAME_LEN, base};

pub const REDIS_INSTANCE: &str = "gcp_redis_instance";

/// The `redisVersion` values Memorystore for Redis offers (the discovery document's list).
pub const REDIS_VERSIONS: [&str; 6] = ["3.2", "4.0", "5.0", "6.x", "7.0", "7.2"];

/// The memory of an instance of a size class, GB: Memorystore's capacity tiers M2 (5–10 GB,
/// the smallest with read replicas), M3 (11–35), M4 (36–100) and M5 (over 100).
pub fn memory_gb(class: SizeClass) -> i64 {
    match class {
        SizeClass::Small => 5,
        SizeClass::Medium => 16,
        SizeClass::Large => 64,
        SizeClass::XLarge => 128,
    }
}

/// The `redisVersion` of a portable version: the offered one equal to it, else the lowest
/// offered one above it in the same major (the portable default 7.1 is 7.2 here); `None`
/// when the major has none at or above it.
pub fn redis_version(version: &str) -> Option<String> {
    let (major, minor) = version.split_once('.').unwrap_or((version, "0"));
    let wanted: u32 = minor.parse().unwrap_or(0);
    REDIS_VERSIONS
        .iter()
        .filter_map(|v| v.split_once('.'))
        .filter(|(m, _)| *m == major)
        .find(|(_, n)| *n == "x" || n.parse::<u32>().is_ok_and(|n| n >= wanted))
        .map(|(m, n)| format!("REDIS_{m}_{}", n.to_uppercase()))
}

/// Memorystore for Redis: `gcp_redis_instance`.
#[derive(Debug)]
pub struct Memorystore {
    pub(crate) api: Arc<Api>,
}

impl Memorystore {
    fn base(&self) -> &str {
        &self.api.endpoints.redis
    }

    fn id(&self, name: &str) -> String {
        format!("{}/instances/{name}", self.api.location())
    }

    fn instance_state(&self, o: &Json) -> ResourceState {
        let id = o["name"].as_str().unwrap_or_default();
        state(
            id.to_string(),
            vec![
                ("name", Value::from(last(id))),
                (
                    "network",
                    Value::from(partial(o["authorizedNetwork"].as_str().unwrap_or_default())),
                ),
                ("tier", text(&o["tier"])),
                ("memory_gb", num(&o["memorySizeGb"])),
                ("redis_version", text(&o["redisVersion"])),
                ("replicas", num(&o["replicaCount"])),
                ("host", text(&o["host"])),
                ("port", num(&o["port"])),
                ("read_endpoint", text(&o["readEndpoint"])),
                ("read_endpoint_port", num(&o["readEndpointPort"])),
            ],
        )
    }

    async fn get(&self, id: &str) -> Result<Option<Json>, ProviderError> {
        let url = format!("{}/v1/{id}", self.base());
        let what = format!("get redis instance {}", last(id));
        self.api.rest_get(&url, &what).await
    }

    async fn list(&self) -> Result<BTreeMap<String, ResourceState>, ProviderError> {
        let url = format!("{}/v1/{}/instances", self.base(), self.api.location());
        let found = self
            .api
            .rest_list(&url, "instances", "list redis instances")
            .await?;
        Ok(found
            .iter()
            .map(|o| self.instance_state(o))
            .map(|s| (s.id.clone(), s))
            .collect())
    }

    /// Waits for the instance to be `READY`.
    async fn ready(&self, what: &str, id: &str) -> Result<ResourceState, ProviderError> {
        let o = self.api.wait_state(what, "READY", || self.get(id)).await?;
        Ok(self.instance_state(&o))
    }

    fn create_body(&self, config: &Attrs) -> Json {
        let zones = &self.api.settings.zones;
        let mut body = json!({
            "tier": cfg_str(config, "tier"),
            "memorySizeGb": attr_i64(config, "memory_gb", 5),
            "redisVersion": cfg_str(config, "redis_version"),
            "replicaCount": attr_i64(config, "replicas", 1),
            "readReplicasMode": "READ_REPLICAS_ENABLED",
            "authorizedNetwork": cfg_str(config, "network"),
            "connectMode": "PRIVATE_SERVICE_ACCESS",
            "transitEncryptionMode": "DISABLED",
            "authEnabled": false,
        });
        // The primary in the first zone, the first replica in the second: a zone's loss
        // leaves a replica to promote. Google places further replicas.
        if let [first, second, ..] = zones.as_slice() {
            body["locationId"] = json!(first);
            body["alternativeLocationId"] = json!(second);
        }
        body
    }

    async fn create_named(
        &self,
        name: &str,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let id = self.id(name);
        let what = format!("create redis instance {name}");
        if self.get(&id).await?.is_none() {
            let url = format!(
                "{}/v1/{}/instances?instanceId={name}",
                self.base(),
                self.api.location()
            );
            let body = self.create_body(config);
            match self.api.rest(Method::POST, &url, Some(&body), false).await {
                Ok(op) => {
                    self.api.rest_wait(&what, self.base(), op).await?;
                }
                Err(f) if f.status == Some(409) => {}
                Err(f) => {
                    if self.get(&id).await?.is_none() {
                        return Err(f.into_error(&what));
                    }
                }
            }
        }
        self.ready(&what, &id).await
    }

    /// Changes the memory, then the replica count, each awaited to `READY`: the API refuses
    /// an update while another runs, and only the fields that changed are sent.
    async fn update_instance(
        &self,
        prior: &ResourceState,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let name = last(&prior.id).to_string();
        let current = self
            .get(&prior.id)
            .await?
            .ok_or_else(|| ProviderError::NotFound(format!("redis instance {name}")))?;
        let steps = [
            ("memorySizeGb", attr_i64(config, "memory_gb", 5)),
            ("replicaCount", attr_i64(config, "replicas", 1)),
        ];
        let mut last_state = self.instance_state(&current);
        for (field, wanted) in steps {
            if current[field].as_i64() == Some(wanted) {
                continue;
            }
            let what = format!("update the {field} of redis instance {name}");
            let url = format!("{}/v1/{}?updateMask={field}", self.base(), prior.id);
            let mut body = json!({});
            body[field] = json!(wanted);
            let op = self
                .api
                .repeat(
                    &what,
                    || self.api.rest(Method::PATCH, &url, Some(&body), true),
                    |answer| matches!(answer, Err(f) if f.is_busy()),
                )
                .await
                .map_err(|f| f.into_error(&what))?;
            self.api.rest_wait(&what, self.base(), op).await?;
            last_state = self.ready(&what, &prior.id).await?;
        }
        Ok(last_state)
    }

    async fn delete_id(&self, id: &str) -> Result<(), ProviderError> {
        let what = format!("delete redis instance {}", last(id));
        let url = format!("{}/v1/{id}", self.base());
        let answer = self
            .api
            .repeat(
                &what,
                || self.api.rest(Method::DELETE, &url, None, true),
                |answer| matches!(answer, Err(f) if f.is_busy()),
            )
            .await;
        match answer {
            Ok(op) => self.api.rest_wait(&what, self.base(), op).await.map(drop)?,
            Err(f) if f.is_not_found() => return Ok(()),
            Err(f) => return Err(f.into_error(&what)),
        }
        self.api.wait_gone(&what, || self.get(id)).await
    }
}

#[async_trait]
impl Service for Memorystore {
    fn types(&self) -> &'static [&'static str] {
        &[REDIS_INSTANCE]
    }

    async fn create(&self, req: &CreateRequest<'_>) -> StateResult {
        self.create_named(&req.identity.name(NAME_LEN), req.config)
            .await
    }

    async fn find(&self, _type_name: &str, identity: &Identity) -> FindResult {
        let id = self.id(&identity.name(NAME_LEN));
        Ok(self.get(&id).await?.map(|o| self.instance_state(&o)))
    }

    async fn read_many(&self, _type_name: &str, ids: &[String]) -> ReadResult {
        let found = self.list().await?;
        Ok(pick(&found, ids))
    }

    async fn update(&self, _type_name: &str, prior: &ResourceState, config: &Attrs) -> StateResult {
        self.update_instance(prior, config).await
    }

    async fn delete(&self, _type_name: &str, prior: &ResourceState) -> Result<(), ProviderError> {
        self.delete_id(&prior.id).await
    }
}

pub fn schema() -> ResourceSchema {
    ResourceSchema::native(
        REDIS_INSTANCE,
        "A Memorystore for Redis instance: a primary and read replicas in other zones, \
         reached through the network's private services access",
        base()
            .attr(
                "network",
                A::required(s(), "The authorized network (private services access)").force_new(),
            )
            .attr(
                "tier",
                A::optional(s(), "BASIC or STANDARD_HA")
                    .default("STANDARD_HA")
                    .force_new(),
            )
            .attr(
                "memory_gb",
                A::required(n(), "Memory size, GB; changed in place"),
            )
            .attr(
                "redis_version",
                A::required(s(), "REDIS_7_2, …").force_new(),
            )
            .attr(
                "replicas",
                A::required(n(), "Read replicas, 1–5; changed in place"),
            )
            .attr("host", A::computed(s(), "Primary endpoint address"))
            .attr("port", A::computed(n(), "Primary endpoint port"))
            .attr(
                "read_endpoint",
                A::computed(s(), "Read endpoint address (spreads over the replicas)"),
            )
            .attr("read_endpoint_port", A::computed(n(), "Read endpoint port")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_the_offered_ones_at_or_above() {
        assert_eq!(redis_version("7.1").as_deref(), Some("REDIS_7_2"));
        assert_eq!(redis_version("7.0").as_deref(), Some("REDIS_7_0"));
        assert_eq!(redis_version("7.2").as_deref(), Some("REDIS_7_2"));
        assert_eq!(redis_version("6.2").as_deref(), Some("REDIS_6_X"));
        assert_eq!(redis_version("7.4"), None);
        assert_eq!(redis_version("8.0"), None);
    }
}
