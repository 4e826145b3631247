//! Superset on OVH Managed Kubernetes: where the `superset` component's objects go
//! ([`Placement`]) and how ss reaches an OVH cluster ([`OvhClusters`]: the kubeconfig the API
//! makes, `POST /cloud/project/{serviceName}/kube/{kubeId}/kubeconfig`).

use std::sync::Arc;

use async_trait::async_trait;
use kubernetes::object::{Clusters, kubeconfig_text_config};
use kubernetes::superset::LoadBalancer;
use provider_api::{Attrs, ProviderError, Value};

use crate::api::Api;
use crate::json::js;
use crate::routes as r;

/// The node label ss gives the nodes of each pool (through the OVH node pools' template), its
/// value the portable pool name. OVH's own `nodepool` label names one OVH node pool, and a
/// portable pool is three of them in a 3-AZ region (one per zone).
pub use kubernetes::app::POOL_LABEL;

/// The NodePort of the web Service: what the load balancer's pool reaches on the nodes. Fixed,
/// in the cluster's default NodePort range (30000–32767), so that the load balancer and the
/// Service agree without reading each other.
pub const WEB_NODE_PORT: i64 = 30080;

/// The database Superset keeps its metadata in: the one OVH Managed PostgreSQL creates with
/// every service.
pub const DATABASE_NAME: &str = "defaultdb";

/// The cluster reference prefix OVH clusters are registered under.
pub const CLOUD: &str = "ovh";

/// Where Superset runs on OVH.
pub struct Placement;

impl kubernetes::app::Placement for Placement {
    fn cloud(&self) -> &'static str {
        CLOUD
    }

    fn load_balancer(&self, load_balancer: Option<&Attrs>) -> LoadBalancer {
        match load_balancer {
            Some(_) => LoadBalancer::OvhNodePort {
                node_port: Value::from(WEB_NODE_PORT),
            },
            None => LoadBalancer::None,
        }
    }

    /// OVH's managed Valkey is reached over TLS only (`rediss`).
    fn redis_tls(&self) -> bool {
        true
    }

    fn database_name(&self) -> &'static str {
        DATABASE_NAME
    }
}

/// OVH clusters, reached through the kubeconfig the API makes for them.
#[derive(Debug)]
pub struct OvhClusters {
    api: Arc<Api>,
}

impl OvhClusters {
    pub fn new(api: Arc<Api>) -> OvhClusters {
        OvhClusters { api }
    }
}

#[async_trait]
impl Clusters for OvhClusters {
    async fn connect(&self, cluster_id: &str) -> Result<kube::Config, ProviderError> {
        let answer = self
            .api
            .call(r::KUBE_KUBECONFIG, &[("kubeId", cluster_id)], None)
            .await?;
        let text = js(&answer, "content").ok_or_else(|| {
            ProviderError::Other(format!(
                "the kubeconfig of the OVH cluster {cluster_id} has no content"
            ))
        })?;
        kubeconfig_text_config(text, None).await
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use std::time::Duration;

    use kubernetes::app::Placement as _;
    use provider_api::{CreateRequest, Identity, Provider};

    use super::*;
    use crate::client::{Client, Credentials};
    use crate::settings::Settings;

    fn signed() -> Credentials {
        Credentials::Signed {
            application_key: "sim-app-key".into(),
            application_secret: "sim-app-secret".into(),
            consumer_key: "sim-consumer-key".into(),
        }
    }

    /// Creates `type_name` through the provider; answers its id.
    async fn create(p: &crate::OvhProvider, type_name: &str, config: &[(&str, Value)]) -> String {
        let config: Attrs = config
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let identity = Identity {
            stack: "apptest".into(),
            address: format!("x.y.{type_name}"),
        };
        p.create(CreateRequest {
            type_name,
            identity: &identity,
            config: &config,
        })
        .await
        .unwrap_or_else(|e| panic!("{type_name}: {e}"))
        .id
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cluster_is_reached_through_the_kubeconfig_ovh_makes() {
        let (addr, sim) = ovh_sim::serve(ovh_sim::Config {
            delay: Duration::from_millis(20),
            ..ovh_sim::Config::default()
        })
        .await
        .expect("simulator starts");
        let endpoint = format!("http://{addr}/v1");
        let provider_config = Attrs::from([
            ("endpoint".into(), Value::from(endpoint.as_str())),
            ("project_id".into(), Value::from("p0123456789")),
            ("region".into(), Value::from("GRA11")),
            ("ready_timeout".into(), Value::from(60)),
        ]);
        let p = crate::configure_with_env(&provider_config, |k| {
            Some(match k {
                "OVH_APPLICATION_KEY" => "sim-app-key".to_string(),
                "OVH_APPLICATION_SECRET" => "sim-app-secret".to_string(),
                "OVH_CONSUMER_KEY" => "sim-consumer-key".to_string(),
                _ => return None,
            })
        })
        .expect("configured");
        let net = create(&p, "ovh_cloud_network", &[]).await;
        let net_value = Value::from(net.as_str());
        create(
            &p,
            "ovh_cloud_subnet",
            &[
                ("network_id", net_value.clone()),
                ("cidr", Value::from("10.0.0.0/16")),
            ],
        )
        .await;
        let kube = create(
            &p,
            "ovh_cloud_kube",
            &[("network_id", net_value), ("version", Value::from("1.33"))],
        )
        .await;
        let api = Arc::new(Api {
            client: Client::new(&endpoint, signed()).expect("client"),
            project: "p0123456789".into(),
            settings: Settings {
                region: "GRA11".into(),
                ..Settings::default()
            },
            ready_timeout: Duration::from_secs(60),
        });
        let clusters = OvhClusters::new(api);
        let config = clusters.connect(&kube).await.expect("connected");
        assert_eq!(config.cluster_url.scheme_str(), Some("https"));
        assert!(
            config
                .cluster_url
                .host()
                .is_some_and(|h| h.ends_with(".k8s.ovh.net")),
            "{}",
            config.cluster_url
        );
        let missing = clusters.connect("no-such-kube").await.expect_err("404");
        assert!(matches!(missing, ProviderError::NotFound(_)), "{missing:?}");
        sim.shutdown().await;
    }

    #[test]
    fn the_placement_names_the_cluster_its_pools_and_the_node_port() {
        let cluster = Attrs::from([("id".into(), Value::from("kube-1"))]);
        assert_eq!(Placement.cluster_ref(&cluster), Value::from("ovh:kube-1"));
        assert_eq!(Placement.cluster_ref(&Attrs::new()), Value::Unknown);
        assert_eq!(
            Placement.pool_label(&cluster, &Value::from("web")),
            (POOL_LABEL.to_string(), Value::from("web"))
        );
        let lb = Attrs::from([("id".into(), Value::from("lb-1"))]);
        assert!(matches!(
            Placement.load_balancer(Some(&lb)),
            LoadBalancer::OvhNodePort { node_port } if node_port == Value::from(WEB_NODE_PORT)
        ));
        assert!(matches!(Placement.load_balancer(None), LoadBalancer::None));
        assert!(Placement.redis_tls());
    }
}
