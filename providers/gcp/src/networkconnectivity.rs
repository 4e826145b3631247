//! Service connection policies (networkconnectivity v1 `serviceConnectionPolicies`), what
//! Memorystore's Private Service Connect needs on a network (the flow of the real logs
//! `redis/…`): a policy for the service class `gcp-memorystore-redis` lets Memorystore create
//! its endpoints in the subnetwork. Policies have deterministic names and carry a
//! `requestId`; a refresh is one list per location.

use std::sync::Arc;

use async_trait::async_trait;
use provider_api::kit::Service;
use provider_api::kit::config::attr_list;
use provider_api::kit::schema::{list, s};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{
    Attrs, CreateRequest, FindResult, Identity, ProviderError, ReadResult, ResourceState,
    StateResult, Value,
};
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::api::Api;
use crate::json::{cfg_str, last, partial, pick, reference, request_id, state, text};
use crate::types::{NAME_LEN, base};

pub const SC_POLICY: &str = "gcp_network_connectivity_service_connection_policy";

/// The service class of Memorystore for Redis Cluster's service connection policies.
pub const REDIS_SERVICE_CLASS: &str = "gcp-memorystore-redis";

/// `gcp_network_connectivity_service_connection_policy`.
#[derive(Debug)]
pub struct NetworkConnectivity {
    pub(crate) api: Arc<Api>,
}

impl NetworkConnectivity {
    fn base(&self) -> &str {
        &self.api.endpoints.networkconnectivity
    }

    fn policy_id(&self, name: &str) -> String {
        format!("{}/serviceConnectionPolicies/{name}", self.api.location())
    }

    fn policy_state(&self, o: &Json) -> ResourceState {
        let id = o["name"].as_str().unwrap_or_default();
        let subnetworks = Value::List(
            o["pscConfig"]["subnetworks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .map(|s| Value::from(partial(s)))
                .collect(),
        );
        state(
            id.to_string(),
            vec![
                ("name", Value::from(last(id))),
                ("network", reference(&o["network"])),
                ("service_class", text(&o["serviceClass"])),
                ("subnetworks", subnetworks),
            ],
        )
    }

    async fn get(&self, id: &str) -> Result<Option<ResourceState>, ProviderError> {
        let url = format!("{}/v1/{id}", self.base());
        let found = self
            .api
            .rest_get(&url, &format!("get policy {}", last(id)))
            .await?;
        Ok(found.map(|o| self.policy_state(&o)))
    }

    async fn list(&self) -> Result<Vec<ResourceState>, ProviderError> {
        let url = format!(
            "{}/v1/{}/serviceConnectionPolicies",
            self.base(),
            self.api.location()
        );
        let found = self
            .api
            .rest_list(
                &url,
                "serviceConnectionPolicies",
                "list service connection policies",
            )
            .await?;
        Ok(found.iter().map(|o| self.policy_state(o)).collect())
    }

    async fn create_named(
        &self,
        name: &str,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let id = self.policy_id(name);
        let what = format!("create service connection policy {name}");
        if let Some(found) = self.get(&id).await? {
            tracing::debug!(name, "adopting");
            return Ok(found);
        }
        let body = json!({
            "network": cfg_str(config, "network"),
            "serviceClass": cfg_str(config, "service_class"),
            "pscConfig": {"subnetworks": attr_list(config, "subnetworks")},
            "description": "Private Service Connect for Memorystore (created by ss)",
        });
        // One requestId for every attempt: a repeated create answers the first one's operation.
        let url = format!(
            "{}/v1/{}/serviceConnectionPolicies?serviceConnectionPolicyId={name}&requestId={}",
            self.base(),
            self.api.location(),
            request_id()
        );
        match self.api.rest(Method::POST, &url, Some(&body), true).await {
            Ok(op) => {
                self.api.rest_wait(&what, self.base(), op).await?;
            }
            Err(f) if f.status == Some(409) => {}
            Err(f) => {
                if let Some(found) = self.get(&id).await? {
                    return Ok(found);
                }
                return Err(f.into_error(&what));
            }
        }
        self.get(&id).await?.ok_or_else(|| {
            ProviderError::Transient(format!("{what}: not found after its operation"))
        })
    }

    async fn delete_id(&self, id: &str) -> Result<(), ProviderError> {
        let what = format!("delete service connection policy {}", last(id));
        let url = format!("{}/v1/{id}?requestId={}", self.base(), request_id());
        // Refused while Memorystore endpoints made under it remain (a cluster being deleted):
        // wait for them, up to the ready timeout.
        let answer = self
            .api
            .repeat(
                &what,
                || self.api.rest(Method::DELETE, &url, None, true),
                |answer| matches!(answer, Err(f) if f.is_busy()),
            )
            .await;
        match answer {
            Ok(op) => self.api.rest_wait(&what, self.base(), op).await.map(drop),
            Err(f) if f.is_not_found() => Ok(()),
            Err(f) => Err(f.into_error(&what)),
        }
    }
}

#[async_trait]
impl Service for NetworkConnectivity {
    fn types(&self) -> &'static [&'static str] {
        &[SC_POLICY]
    }

    async fn create(&self, req: &CreateRequest<'_>) -> StateResult {
        self.create_named(&req.identity.name(NAME_LEN), req.config)
            .await
    }

    async fn find(&self, _type_name: &str, identity: &Identity) -> FindResult {
        self.get(&self.policy_id(&identity.name(NAME_LEN))).await
    }

    async fn read_many(&self, _type_name: &str, ids: &[String]) -> ReadResult {
        let found = self.list().await?;
        let found = found.into_iter().map(|s| (s.id.clone(), s)).collect();
        Ok(pick(&found, ids))
    }

    async fn update(
        &self,
        type_name: &str,
        _prior: &ResourceState,
        _config: &Attrs,
    ) -> StateResult {
        Err(ProviderError::Invalid(format!(
            "a {type_name} is replaced, never updated"
        )))
    }

    async fn delete(&self, _type_name: &str, prior: &ResourceState) -> Result<(), ProviderError> {
        self.delete_id(&prior.id).await
    }
}

pub fn schema() -> ResourceSchema {
    ResourceSchema::native(
        SC_POLICY,
        "A service connection policy: lets a service class (Memorystore for Redis Cluster) \
         create Private Service Connect endpoints on a network",
        base()
            .attr(
                "network",
                A::required(s(), "The consumer network").force_new(),
            )
            .attr(
                "service_class",
                A::optional(s(), "The producer's service class")
                    .default(REDIS_SERVICE_CLASS)
                    .force_new(),
            )
            .attr(
                "subnetworks",
                A::required(list(s()), "Subnetworks the endpoints take addresses from").force_new(),
            ),
    )
}
