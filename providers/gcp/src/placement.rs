//! The `superset` component on Google Cloud: where its Kubernetes objects go ([`Placement`])
//! and how the `kubernetes_object` service reaches a GKE cluster ([`GkeClusters`]).
//!
//! - The cluster reference is `gke:<cluster id>` (`gke:projects/P/locations/L/clusters/C`,
//!   the `kubernetes_cluster`'s `id`). Connecting asks `clusters.get` for `endpoint` (an IP
//!   address, reached over HTTPS) and `masterAuth.clusterCaCertificate`, and authenticates
//!   with the provider's own access token (the ADC or service-account credentials' bearer
//!   token), as `gke-gcloud-auth-plugin` does with the user's.
//! - Node pools: a GKE node pool's name (`cloud.google.com/gke-nodepool`) is derived from its
//!   identity, which the `superset` component does not know; so every pool made by a
//!   `kubernetes_cluster` carries the node label [`POOL_LABEL`](kubernetes::app::POOL_LABEL) = the pool's label in the
//!   spec (`web`, `worker`), which the pods select.
//! - The load balancer reaches the web pods through a standalone NEG named after the
//!   `load_balancer`'s backend service (the last segment of its `id`), which the GKE NEG
//!   controller makes from the Service's `cloud.google.com/neg` annotation.
//! - Redis is reached without TLS (Memorystore's `transitEncryptionMode` is DISABLED here);
//!   Cloud SQL's database is `postgres`, the one every instance is created with.

use std::sync::Arc;

use async_trait::async_trait;
use kubernetes::app::Placement;
use kubernetes::object::{Clusters, bearer_config};
use kubernetes::superset::LoadBalancer;
use provider_api::{Attrs, Diagnostic, Expansion, ProviderError, Value};

use crate::api::Api;
use crate::error::provider_error;
use crate::json::last;

/// The prefix of GKE cluster references.
pub const CLOUD: &str = "gke";

/// Where a `superset`'s objects go on Google Cloud.
struct Gke;

impl Placement for Gke {
    fn cloud(&self) -> &'static str {
        CLOUD
    }

    fn load_balancer(&self, load_balancer: Option<&Attrs>) -> LoadBalancer {
        let Some(lb) = load_balancer else {
            return LoadBalancer::None;
        };
        let name = match lb.get("id") {
            Some(Value::String(id)) => Value::from(last(id)),
            _ => Value::Unknown,
        };
        LoadBalancer::GcpNeg { name }
    }
}

/// Expands a `superset` component on Google Cloud.
pub fn superset(config: &Attrs) -> Result<Expansion, Diagnostic> {
    kubernetes::app::superset(config, &Gke)
}

/// Reaches GKE clusters by their id, with the provider's credentials.
#[derive(Debug)]
pub struct GkeClusters {
    api: Arc<Api>,
}

impl GkeClusters {
    pub(crate) fn new(api: Arc<Api>) -> GkeClusters {
        GkeClusters { api }
    }

    /// The bearer token of the provider's credentials (the `Authorization` header they give).
    async fn token(&self) -> Result<String, ProviderError> {
        let c = self.api.clients().await?;
        let failed = |why: &str| ProviderError::Other(format!("no access token for GKE: {why}"));
        let headers = match c.creds.headers(http::Extensions::new()).await {
            Ok(google_cloud_auth::credentials::CacheableResource::New { data, .. }) => data,
            Ok(google_cloud_auth::credentials::CacheableResource::NotModified) => {
                return Err(failed("the credentials gave no headers"));
            }
            Err(e) => return Err(failed(&e.to_string())),
        };
        headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string)
            .ok_or_else(|| failed("the credentials give no bearer token"))
    }
}

/// The API server's URL from a cluster's `endpoint`: an address, reached over HTTPS, or a
/// whole URL (a simulator's).
fn server_url(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("https://{endpoint}")
    }
}

#[async_trait]
impl Clusters for GkeClusters {
    async fn connect(&self, cluster_id: &str) -> Result<kube::Config, ProviderError> {
        let c = self.api.clients().await?;
        let what = format!("get cluster {}", last(cluster_id));
        let cluster = c
            .gke
            .get_cluster()
            .set_name(cluster_id)
            .send()
            .await
            .map_err(|e| provider_error(&what, &e))?;
        if cluster.endpoint.is_empty() {
            return Err(ProviderError::Transient(format!(
                "cluster {} has no endpoint yet",
                last(cluster_id)
            )));
        }
        let ca = cluster
            .master_auth
            .as_ref()
            .map(|m| m.cluster_ca_certificate.clone())
            .unwrap_or_default();
        let token = self.token().await?;
        bearer_config(&server_url(&cluster.endpoint), &ca, &token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubernetes::app::POOL_LABEL;

    fn attrs(pairs: &[(&str, Value)]) -> Attrs {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn a_gke_cluster_is_referenced_by_its_id() {
        let id = "projects/p/locations/europe-west1/clusters/c";
        assert_eq!(
            Gke.cluster_ref(&attrs(&[("id", Value::from(id))])),
            Value::from(format!("gke:{id}"))
        );
        assert_eq!(Gke.cluster_ref(&Attrs::new()), Value::Unknown);
        assert_eq!(
            Gke.pool_label(&Attrs::new(), &Value::from("web")),
            (POOL_LABEL.to_string(), Value::from("web"))
        );
        assert!(!Gke.redis_tls());
    }

    #[test]
    fn the_neg_is_named_after_the_backend_service() {
        let lb = attrs(&[(
            "id",
            Value::from("projects/p/global/backendServices/ss-web-1a2b"),
        )]);
        assert!(matches!(
            Gke.load_balancer(Some(&lb)),
            LoadBalancer::GcpNeg { name } if name == Value::from("ss-web-1a2b")
        ));
        assert!(matches!(Gke.load_balancer(None), LoadBalancer::None));
        assert_eq!(server_url("34.1.2.3"), "https://34.1.2.3");
        assert_eq!(server_url("http://127.0.0.1:9"), "http://127.0.0.1:9");
    }
}
