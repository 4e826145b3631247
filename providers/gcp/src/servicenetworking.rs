//! Private services access (servicenetworking v1
//! `services/servicenetworking.googleapis.com/connections`), what Cloud SQL's private IP needs
//! on a network (the flow of the real log `sql/sqlinstanceprivatenetwork@…`): the connection
//! peers the network with Google's producer network and allocates from a `VPC_PEERING` global
//! address (a compute address, [`crate::network::GlobalAddress`]).
//!
//! A network has at most one connection per service, which has no name of its own: it is
//! found by listing the network's connections (the API lists per network only, so a refresh
//! makes one list per network), adopted when it exists, and created without a request id
//! (the API has none) then looked up again after a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use provider_api::kit::Service;
use provider_api::kit::config::{attr_list, attr_str};
use provider_api::kit::schema::{list, s, with_id};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{
    Attrs, CreateRequest, FindResult, Identity, ProviderError, ReadResult, ResourceState,
    StateResult, Value,
};
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::api::Api;
use crate::error::provider_error;
use crate::json::{cfg_str, last, list_value, partial, pick, state, text};
use crate::rest::op_error;

pub const SN_CONNECTION: &str = "gcp_service_networking_connection";

/// The service whose connection Cloud SQL uses.
const SERVICE: &str = "services/servicenetworking.googleapis.com";

/// The id of the connection of `network`.
fn connection_id(network: &str) -> String {
    format!("{SERVICE}/{}", partial(network))
}

/// `gcp_service_networking_connection`.
#[derive(Debug)]
pub struct ServiceNetworking {
    api: Arc<Api>,
    /// The project's number (servicenetworking names networks by it), asked once.
    project_number: tokio::sync::OnceCell<String>,
}

impl ServiceNetworking {
    pub fn new(api: Arc<Api>) -> ServiceNetworking {
        ServiceNetworking {
            api,
            project_number: tokio::sync::OnceCell::new(),
        }
    }

    fn base(&self) -> &str {
        &self.api.endpoints.servicenetworking
    }

    /// The project's number: servicenetworking names networks `projects/NUMBER/global/networks/N`
    /// (its discovery document: "`{project}` is a project number"). Compute's `projects.get`
    /// answers it as the project's `id`.
    async fn project_number(&self) -> Result<&str, ProviderError> {
        self.project_number
            .get_or_try_init(|| async {
                let c = self.api.clients().await?;
                let p = c
                    .projects
                    .get()
                    .set_project(self.api.project())
                    .send()
                    .await
                    .map_err(|e| provider_error("get the project's number", &e))?;
                p.id.map(|n| n.to_string()).ok_or_else(|| {
                    ProviderError::Other(format!("project {}: no number", self.api.project()))
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

    fn connection_state(&self, network: &str, o: &Json) -> ResourceState {
        let network = format!(
            "projects/{}/global/networks/{}",
            self.api.project(),
            last(network)
        );
        state(
            connection_id(&network),
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
    async fn find_on(&self, network: &str) -> Result<Option<ResourceState>, ProviderError> {
        let numbered = self.numbered_network(network).await?;
        let url = format!(
            "{}/v1/{SERVICE}/connections?network={}",
            self.base(),
            numbered.replace('/', "%2F")
        );
        let what = format!("list the connections of network {}", last(network));
        let answer = match self.api.rest(Method::GET, &url, None, true).await {
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
    async fn list(&self, ids: &[String]) -> Result<BTreeMap<String, ResourceState>, ProviderError> {
        let networks: BTreeSet<&str> = ids
            .iter()
            .filter_map(|id| id.strip_prefix(&format!("{SERVICE}/")))
            .collect();
        let mut out = BTreeMap::new();
        for network in networks {
            if let Some(s) = self.find_on(network).await? {
                out.insert(s.id.clone(), s);
            }
        }
        Ok(out)
    }

    async fn connect(&self, config: &Attrs) -> Result<ResourceState, ProviderError> {
        let network = cfg_str(config, "network");
        let what = format!("connect network {} to {SERVICE}", last(&network));
        if let Some(found) = self.find_on(&network).await? {
            tracing::debug!(network, "adopting the private services access connection");
            return Ok(found);
        }
        let body = json!({
            "network": self.numbered_network(&network).await?,
            "reservedPeeringRanges": attr_list(config, "reserved_peering_ranges"),
        });
        let url = format!("{}/v1/{SERVICE}/connections", self.base());
        // No request id: not repeated on a 5xx, looked up instead.
        match self.api.rest(Method::POST, &url, Some(&body), false).await {
            Ok(op) => {
                self.api.rest_wait(&what, self.base(), op).await?;
            }
            Err(f) => {
                if let Some(found) = self.find_on(&network).await? {
                    return Ok(found);
                }
                return Err(f.into_error(&what));
            }
        }
        self.find_on(&network).await?.ok_or_else(|| {
            ProviderError::Transient(format!("{what}: not found after its operation"))
        })
    }

    async fn disconnect(&self, prior: &ResourceState) -> Result<(), ProviderError> {
        let network = attr_str(&prior.attrs, "network").unwrap_or_default();
        let what = format!("disconnect network {} from {SERVICE}", last(network));
        if self.find_on(network).await?.is_none() {
            return Ok(());
        }
        let body = json!({"consumerNetwork": self.numbered_network(network).await?});
        let url = format!(
            "{}/v1/{SERVICE}/connections/servicenetworking-googleapis-com:deleteConnection",
            self.base()
        );
        // The API refuses (a failed operation, code 9 FAILED_PRECONDITION: "Producer
        // services … are still using this connection") while a Cloud SQL instance being
        // deleted still uses the connection: wait for it, up to the ready timeout.
        let answer = self
            .api
            .repeat(
                &what,
                || async {
                    match self.api.rest(Method::POST, &url, Some(&body), true).await {
                        Ok(op) => self.api.rest_poll(&what, self.base(), op).await.map(Ok),
                        Err(f) => Ok(Err(f)),
                    }
                },
                |answer| match answer {
                    Ok(Ok(done)) => op_error(done).is_some_and(|e| e["code"].as_i64() == Some(9)),
                    Ok(Err(f)) => f.is_busy(),
                    Err(_) => false,
                },
            )
            .await?;
        match answer {
            Ok(done) => match op_error(&done) {
                None => Ok(()),
                Some(e) => Err(ProviderError::Invalid(format!(
                    "{what}: operation failed: {}",
                    e["message"].as_str().unwrap_or_default()
                ))),
            },
            Err(f) if f.is_not_found() => Ok(()),
            Err(f) => Err(f.into_error(&what)),
        }
    }
}

#[async_trait]
impl Service for ServiceNetworking {
    fn types(&self) -> &'static [&'static str] {
        &[SN_CONNECTION]
    }

    async fn create(&self, req: &CreateRequest<'_>) -> StateResult {
        self.connect(req.config).await
    }

    /// The connection has no name of its own to find it by.
    async fn find(&self, _type_name: &str, _identity: &Identity) -> FindResult {
        Ok(None)
    }

    async fn read_many(&self, _type_name: &str, ids: &[String]) -> ReadResult {
        let found = self.list(ids).await?;
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
        self.disconnect(prior).await
    }
}

pub fn schema() -> ResourceSchema {
    ResourceSchema::native(
        SN_CONNECTION,
        "The private services access connection of a network (servicenetworking.googleapis.com): \
         a peering to Google's producer network, needed by Cloud SQL private IP",
        with_id("services/servicenetworking.googleapis.com/NETWORK")
            .attr(
                "network",
                A::required(s(), "The consumer network").force_new(),
            )
            .attr(
                "reserved_peering_ranges",
                A::required(list(s()), "Names of VPC_PEERING global addresses").force_new(),
            )
            .attr("peering", A::computed(s(), "Name of the VPC peering")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_named_after_its_network() {
        assert_eq!(
            connection_id("https://www.googleapis.com/compute/v1/projects/p/global/networks/n"),
            "services/servicenetworking.googleapis.com/projects/p/global/networks/n"
        );
    }
}
