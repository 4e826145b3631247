//! What Cloud SQL's private IP and Memorystore's Private Service Connect need on a network
//! (the flows of the real logs `sql/sqlinstanceprivatenetwork@…` and `redis/…`):
//!
//! - the private services access connection (servicenetworking v1
//!   `services/servicenetworking.googleapis.com/connections`), which peers the network with
//!   Google's producer network and allocates from a `VPC_PEERING` global address (a compute
//!   address, created through the compute client like the other compute objects);
//! - a service connection policy (networkconnectivity v1 `serviceConnectionPolicies`,
//!   `serviceClass: gcp-memorystore-redis`), which lets Memorystore create its endpoints in
//!   the subnetwork.
//!
//! A network has at most one connection per service, which has no name of its own: it is
//! found by listing the network's connections (the API lists per network only, so a refresh
//! makes one list per network), adopted when it exists, and created without a request id
//! (the API has none) then looked up again after a failure. Policies have deterministic names
//! and carry a `requestId`; a refresh is one list per location.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use provider_api::{Attrs, ProviderError, ResourceState, Value};
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::error::provider_error;
use crate::ops::{Ops, cfg_str, last, partial, request_id, state, text};
use crate::rest::op_error;

/// The service whose connection Cloud SQL uses.
const SERVICE: &str = "services/servicenetworking.googleapis.com";

fn strings(config: &Attrs, k: &str) -> Vec<String> {
    config
        .get(k)
        .and_then(Value::as_list)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn list_value(items: &Json) -> Value {
    Value::List(items.as_array().into_iter().flatten().map(text).collect())
}

impl Ops {
    /// The project's number: servicenetworking names networks `projects/NUMBER/global/networks/N`
    /// (its discovery document: "`{project}` is a project number"). Compute's `projects.get`
    /// answers it as the project's `id`.
    async fn project_number(&self) -> Result<&str, ProviderError> {
        self.project_number
            .get_or_try_init(|| async {
                let c = self.clients().await?;
                let p = c
                    .projects
                    .get()
                    .set_project(self.project())
                    .send()
                    .await
                    .map_err(|e| provider_error("get the project's number", &e))?;
                p.id.map(|n| n.to_string()).ok_or_else(|| {
                    ProviderError::Other(format!("project {}: no number", self.project()))
                })
            })
            .await
            .map(String::as_str)
    }

    /// `projects/P/global/networks/N` as servicenetworking names it (the project's number).
    async fn numbered_network(&self, network: &str) -> Result<String, ProviderError> {
        Ok(format!(
            "projects/{}/global/networks/{}",
            self.project_number().await?,
            last(network)
        ))
    }

    fn connection_id(network: &str) -> String {
        format!("{SERVICE}/{}", partial(network))
    }

    fn connection_state(&self, network: &str, o: &Json) -> ResourceState {
        let network = format!(
            "projects/{}/global/networks/{}",
            self.project(),
            last(network)
        );
        state(
            Self::connection_id(&network),
            vec![
                ("network", Value::from(network.as_str())),
                (
                    "reserved_peering_ranges",
                    list_value(&o["reservedPeeringRanges"]),
                ),
                ("peering", text(&o["peering"])),
            ],
        )
    }

    /// The connection of the service on `network` (project-id form), if any.
    async fn connection_find(&self, network: &str) -> Result<Option<ResourceState>, ProviderError> {
        let numbered = self.numbered_network(network).await?;
        let url = format!(
            "{}/v1/{SERVICE}/connections?network={}",
            self.endpoints.servicenetworking,
            numbered.replace('/', "%2F")
        );
        let what = format!("list the connections of network {}", last(network));
        let answer = match self.rest(Method::GET, &url, None, true).await {
            Ok(a) => a,
            // The network itself is gone: so is its connection.
            Err(f) if f.is_not_found() => return Ok(None),
            Err(f) => return Err(f.into_error(&what)),
        };
        Ok(answer["connections"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| {
                c["service"]
                    .as_str()
                    .is_none_or(|s| s == SERVICE || s.is_empty())
                    && last(c["network"].as_str().unwrap_or_default()) == last(network)
            })
            .map(|c| self.connection_state(network, c)))
    }

    /// One list per network of the ids.
    pub(crate) async fn connection_list(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, ResourceState>, ProviderError> {
        let networks: BTreeSet<&str> = ids
            .iter()
            .filter_map(|id| id.strip_prefix(&format!("{SERVICE}/")))
            .collect();
        let mut out = BTreeMap::new();
        for network in networks {
            if let Some(s) = self.connection_find(network).await? {
                out.insert(s.id.clone(), s);
            }
        }
        Ok(out)
    }

    pub(crate) async fn connection_create(
        &self,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let network = cfg_str(config, "network");
        let what = format!("connect network {} to {SERVICE}", last(&network));
        if let Some(found) = self.connection_find(&network).await? {
            tracing::debug!(network, "adopting the private services access connection");
            return Ok(found);
        }
        let body = json!({
            "network": self.numbered_network(&network).await?,
            "reservedPeeringRanges": strings(config, "reserved_peering_ranges"),
        });
        let url = format!(
            "{}/v1/{SERVICE}/connections",
            self.endpoints.servicenetworking
        );
        // No request id: not repeated on a 5xx, looked up instead.
        match self.rest(Method::POST, &url, Some(&body), false).await {
            Ok(op) => {
                self.rest_wait(&what, &self.endpoints.servicenetworking, op)
                    .await?;
            }
            Err(f) => {
                if let Some(found) = self.connection_find(&network).await? {
                    return Ok(found);
                }
                return Err(f.into_error(&what));
            }
        }
        self.connection_find(&network).await?.ok_or_else(|| {
            ProviderError::Transient(format!("{what}: not found after its operation"))
        })
    }

    pub(crate) async fn connection_delete(
        &self,
        prior: &ResourceState,
    ) -> Result<(), ProviderError> {
        let network = prior
            .attrs
            .get("network")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let what = format!("disconnect network {} from {SERVICE}", last(&network));
        if self.connection_find(&network).await?.is_none() {
            return Ok(());
        }
        let body = json!({"consumerNetwork": self.numbered_network(&network).await?});
        let url = format!(
            "{}/v1/{SERVICE}/connections/servicenetworking-googleapis-com:deleteConnection",
            self.endpoints.servicenetworking
        );
        // The API refuses (a failed operation, code 9 FAILED_PRECONDITION: "Producer
        // services … are still using this connection") while a Cloud SQL instance being
        // deleted still uses the connection: wait for it, up to the ready timeout.
        let deadline = Instant::now() + self.ready_timeout;
        let mut delay = Duration::from_millis(200);
        loop {
            match self.rest(Method::POST, &url, Some(&body), true).await {
                Ok(op) => {
                    let done = self
                        .rest_poll(&what, &self.endpoints.servicenetworking, op)
                        .await?;
                    match op_error(&done) {
                        None => return Ok(()),
                        Some(e) if e["code"].as_i64() == Some(9) && Instant::now() < deadline => {}
                        Some(e) => {
                            return Err(ProviderError::Invalid(format!(
                                "{what}: operation failed: {}",
                                e["message"].as_str().unwrap_or_default()
                            )));
                        }
                    }
                }
                Err(f) if f.is_not_found() => return Ok(()),
                Err(f) if f.is_busy() && Instant::now() < deadline => {}
                Err(f) => return Err(f.into_error(&what)),
            }
            tracing::debug!(what, "still in use, waiting");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }

    // -----------------------------------------------------------------------------------------
    // Service connection policies.

    pub(crate) fn policy_id(&self, name: &str) -> String {
        format!("{}/serviceConnectionPolicies/{name}", self.location())
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
                (
                    "network",
                    Value::from(partial(o["network"].as_str().unwrap_or_default())),
                ),
                ("service_class", text(&o["serviceClass"])),
                ("subnetworks", subnetworks),
            ],
        )
    }

    pub(crate) async fn policy_get(
        &self,
        id: &str,
    ) -> Result<Option<ResourceState>, ProviderError> {
        let url = format!("{}/v1/{id}", self.endpoints.networkconnectivity);
        match self.rest(Method::GET, &url, None, true).await {
            Ok(o) => Ok(Some(self.policy_state(&o))),
            Err(f) if f.is_not_found() => Ok(None),
            Err(f) => Err(f.into_error(&format!("get policy {}", last(id)))),
        }
    }

    pub(crate) async fn policy_list(
        &self,
    ) -> Result<BTreeMap<String, ResourceState>, ProviderError> {
        let mut out = BTreeMap::new();
        let mut token = String::new();
        loop {
            let mut url = format!(
                "{}/v1/{}/serviceConnectionPolicies",
                self.endpoints.networkconnectivity,
                self.location()
            );
            if !token.is_empty() {
                url.push_str(&format!("?pageToken={token}"));
            }
            let page = self
                .rest(Method::GET, &url, None, true)
                .await
                .map_err(|f| f.into_error("list service connection policies"))?;
            for o in page["serviceConnectionPolicies"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let s = self.policy_state(o);
                out.insert(s.id.clone(), s);
            }
            match page["nextPageToken"].as_str() {
                Some(t) if !t.is_empty() => token = t.to_string(),
                _ => return Ok(out),
            }
        }
    }

    pub(crate) async fn policy_create(
        &self,
        name: &str,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let id = self.policy_id(name);
        let what = format!("create service connection policy {name}");
        if let Some(found) = self.policy_get(&id).await? {
            tracing::debug!(name, "adopting");
            return Ok(found);
        }
        let body = json!({
            "network": cfg_str(config, "network"),
            "serviceClass": cfg_str(config, "service_class"),
            "pscConfig": {"subnetworks": strings(config, "subnetworks")},
            "description": "Private Service Connect for Memorystore (created by ss)",
        });
        // One requestId for every attempt: a repeated create answers the first one's operation.
        let url = format!(
            "{}/v1/{}/serviceConnectionPolicies?serviceConnectionPolicyId={name}&requestId={}",
            self.endpoints.networkconnectivity,
            self.location(),
            request_id()
        );
        match self.rest(Method::POST, &url, Some(&body), true).await {
            Ok(op) => {
                self.rest_wait(&what, &self.endpoints.networkconnectivity, op)
                    .await?;
            }
            Err(f) if f.status == Some(409) => {}
            Err(f) => {
                if let Some(found) = self.policy_get(&id).await? {
                    return Ok(found);
                }
                return Err(f.into_error(&what));
            }
        }
        self.policy_get(&id).await?.ok_or_else(|| {
            ProviderError::Transient(format!("{what}: not found after its operation"))
        })
    }

    pub(crate) async fn policy_delete(&self, id: &str) -> Result<(), ProviderError> {
        let what = format!("delete service connection policy {}", last(id));
        let url = format!(
            "{}/v1/{id}?requestId={}",
            self.endpoints.networkconnectivity,
            request_id()
        );
        // Refused while Memorystore endpoints made under it remain (a cluster being deleted):
        // wait for them, up to the ready timeout.
        let deadline = Instant::now() + self.ready_timeout;
        let mut delay = Duration::from_millis(200);
        loop {
            match self.rest(Method::DELETE, &url, None, true).await {
                Ok(op) => {
                    self.rest_wait(&what, &self.endpoints.networkconnectivity, op)
                        .await?;
                    return Ok(());
                }
                Err(f) if f.is_not_found() => return Ok(()),
                Err(f) if f.is_busy() && Instant::now() < deadline => {
                    tracing::debug!(what, "still in use, waiting");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                Err(f) => return Err(f.into_error(&what)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_named_after_its_network() {
        assert_eq!(
            Ops::connection_id(
                "https://www.googleapis.com/compute/v1/projects/p/global/networks/n"
            ),
            "services/servicenetworking.googleapis.com/projects/p/global/networks/n"
        );
    }
}
