//! GKE (container v1): regional clusters and their node pools. GKE runs one operation at a
//! time per cluster, so every mutation holds the cluster's lock and waits out a busy answer.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use google_cloud_container_v1::model;
use google_cloud_gax::error::Error as GaxError;
use provider_api::kit::Service;
use provider_api::kit::config::{attr_i64, attr_str};
use provider_api::kit::schema::{list, n, s};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{
    Attrs, CreateRequest, FindResult, Identity, ProviderError, ReadResult, ResourceState,
    StateResult, Value,
};
use serde_json::{Value as Json, json};

use crate::api::Api;
use crate::compute;
use crate::error::{Kind, kind, provider_error};
use crate::json::{cfg_str, js, last, model as to_model, num, partial, pick, state, text};
use crate::network::Network;
use crate::types::{NAME_LEN, base};

pub const CLUSTER: &str = "gcp_container_cluster";
/// The node label a pool's nodes carry with the pool's label in the spec as value.
pub use kubernetes::app::POOL_LABEL;

pub const NODE_POOL: &str = "gcp_container_node_pool";

/// `1.33.5-gke.1162000` → `1.33`.
pub fn minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// Whether the running version `current` (`1.33`) satisfies the minimum `wanted` (`1.31`).
pub fn satisfies(current: &str, wanted: &str) -> bool {
    let parse = |v: &str| -> Option<(u32, u32)> {
        let mut it = v.split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parse(current), parse(wanted)) {
        (Some(c), Some(w)) => c >= w,
        _ => current == wanted,
    }
}

/// A GKE version is a minimum: a cluster already at or above it (GKE upgrades masters on its
/// release channel) needs no change, so the plan keeps the running version.
pub fn normalise(prior: Option<&ResourceState>, proposed: &mut Attrs) {
    let Some(current) = prior.and_then(|p| attr_str(&p.attrs, "version")) else {
        return;
    };
    if attr_str(proposed, "version").is_some_and(|wanted| satisfies(current, wanted)) {
        proposed.insert("version".into(), Value::from(current));
    }
}

/// What GKE offers in the provider's region (`projects.locations.getServerConfig`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// The minors a new cluster can run, newest first: those of the default channel
    /// (REGULAR), since clusters are created without a channel; `validMasterVersions` when
    /// the answer lists no channel.
    pub minors: Vec<String>,
}

impl Offer {
    pub fn from_server_config(config: &Json) -> Offer {
        let channel = config["channels"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["channel"].as_str() == Some("REGULAR"));
        let versions = match channel {
            Some(c) => &c["validVersions"],
            None => &config["validMasterVersions"],
        };
        let mut minors: Vec<String> = Vec::new();
        for v in versions.as_array().into_iter().flatten() {
            if let Some(v) = v.as_str().map(minor)
                && !minors.contains(&v)
            {
                minors.push(v);
            }
        }
        Offer { minors }
    }

    pub fn offers(&self, version: &str) -> bool {
        self.minors.iter().any(|m| *m == minor(version))
    }
}

fn pool_json(p: &model::NodePool) -> Json {
    let mut j = js(p);
    j["status"] = json!(p.status.name());
    j
}

/// A cluster as JSON, its status (and its pools') by name.
fn cluster_json(c: &model::Cluster) -> Json {
    let mut j = js(c);
    j["status"] = json!(c.status.name());
    j["nodePools"] = Json::Array(c.node_pools.iter().map(pool_json).collect());
    j
}

/// What GKE offers in the region (`getServerConfig`); the provider keeps the answer.
pub async fn ask_offer(api: &Api) -> Result<Offer, ProviderError> {
    let c = api.clients().await?;
    let config = c
        .gke
        .get_server_config()
        .set_name(api.location())
        .send()
        .await
        .map_err(|e| provider_error("get the GKE server configuration", &e))?;
    let mut j = js(&config);
    for (i, ch) in config.channels.iter().enumerate() {
        j["channels"][i]["channel"] = json!(ch.channel.name());
    }
    Ok(Offer::from_server_config(&j))
}

/// GKE: `gcp_container_cluster` and `gcp_container_node_pool`.
#[derive(Debug)]
pub struct Gke {
    pub(crate) api: Arc<Api>,
}

impl Gke {
    fn cluster_state(&self, c: &Json) -> ResourceState {
        let name = c["name"].as_str().unwrap_or_default();
        let project = self.api.project().to_string();
        let region = &self.api.settings.region;
        let net = last(c["network"].as_str().unwrap_or_default());
        let sub = last(c["subnetwork"].as_str().unwrap_or_default());
        let zones: Vec<Value> = c["locations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        state(
            format!("{}/clusters/{name}", self.api.location()),
            vec![
                ("name", Value::from(name)),
                (
                    "network",
                    Value::from(format!("projects/{project}/global/networks/{net}")),
                ),
                (
                    "subnetwork",
                    Value::from(format!(
                        "projects/{project}/regions/{region}/subnetworks/{sub}"
                    )),
                ),
                (
                    "version",
                    Value::from(minor(
                        c["currentMasterVersion"].as_str().unwrap_or_default(),
                    )),
                ),
                ("zones", Value::List(zones)),
                ("endpoint", text(&c["endpoint"])),
                (
                    "ca_certificate",
                    text(&c["masterAuth"]["clusterCaCertificate"]),
                ),
            ],
        )
    }

    fn pool_state(&self, cluster_id: &str, p: &Json) -> ResourceState {
        let name = p["name"].as_str().unwrap_or_default();
        let a = &p["autoscaling"];
        state(
            format!("{cluster_id}/nodePools/{name}"),
            vec![
                ("name", Value::from(name)),
                ("cluster", Value::from(cluster_id)),
                ("machine_type", text(&p["config"]["machineType"])),
                ("min_nodes", num(&a["totalMinNodeCount"])),
                ("max_nodes", num(&a["totalMaxNodeCount"])),
                ("initial_nodes_per_zone", num(&p["initialNodeCount"])),
                ("pool_label", text(&p["config"]["labels"][POOL_LABEL])),
            ],
        )
    }

    async fn get_cluster(&self, id: &str) -> Result<Option<Json>, ProviderError> {
        let c = self.api.clients().await?;
        match c.gke.get_cluster().set_name(id).send().await {
            Ok(cl) => Ok(Some(cluster_json(&cl))),
            Err(e) if kind(&e) == Kind::NotFound => Ok(None),
            Err(e) => Err(provider_error(&format!("get cluster {}", last(id)), &e)),
        }
    }

    async fn cluster(&self, name: &str) -> Result<Option<ResourceState>, ProviderError> {
        let id = format!("{}/clusters/{name}", self.api.location());
        Ok(self.get_cluster(&id).await?.map(|c| self.cluster_state(&c)))
    }

    async fn list(
        &self,
        type_name: &str,
    ) -> Result<BTreeMap<String, ResourceState>, ProviderError> {
        let c = self.api.clients().await?;
        let list = c
            .gke
            .list_clusters()
            .set_parent(self.api.location())
            .send()
            .await
            .map_err(|e| provider_error("list clusters", &e))?;
        let mut out = BTreeMap::new();
        for cl in list.clusters.iter().map(cluster_json) {
            let cl = &cl;
            let cs = self.cluster_state(cl);
            if type_name == CLUSTER {
                out.insert(cs.id.clone(), cs);
            } else {
                for p in cl["nodePools"].as_array().into_iter().flatten() {
                    let ps = self.pool_state(&cs.id, p);
                    out.insert(ps.id.clone(), ps);
                }
            }
        }
        Ok(out)
    }

    /// Waits for a GKE operation (`name` as the API gave it) to be done.
    async fn wait_op(&self, what: &str, op: &model::Operation) -> Result<(), ProviderError> {
        let op = js(op);
        let name = format!(
            "{}/operations/{}",
            self.api.location(),
            last(op["name"].as_str().unwrap_or_default())
        );
        let c = self.api.clients().await?;
        let done = self
            .api
            .wait_for(what, || async {
                let o = c
                    .gke
                    .get_operation()
                    .set_name(name.clone())
                    .send()
                    .await
                    .map_err(|e| provider_error(what, &e))?;
                let done = o.status.name() == Some("DONE");
                Ok(done.then(|| js(&o)))
            })
            .await?;
        let message = done["error"]["message"]
            .as_str()
            .filter(|m| !m.is_empty())
            .or(done["statusMessage"].as_str().filter(|m| !m.is_empty()));
        match message {
            Some(m) if done.get("error").is_some_and(|e| !e.is_null()) => Err(
                ProviderError::Invalid(format!("{what}: operation failed: {m}")),
            ),
            _ => Ok(()),
        }
    }

    /// Sends a delete, repeated while the cluster is busy, and waits for its operation;
    /// `false` when the object was already gone.
    async fn send_delete<F, Fut>(&self, what: &str, call: F) -> Result<bool, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<model::Operation, GaxError>>,
    {
        match self.api.while_busy(what, call).await {
            Ok(op) => self.wait_op(what, &op).await.map(|()| true),
            Err(ProviderError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Waits until the cluster runs; the cluster then.
    async fn running(&self, what: &str, id: &str) -> Result<Json, ProviderError> {
        self.api
            .wait_for(what, || async {
                Ok(self
                    .get_cluster(id)
                    .await?
                    .filter(|c| c["status"].as_str() == Some("RUNNING")))
            })
            .await
    }

    /// The subnetwork of `network` in the provider's region.
    async fn subnetwork_of(&self, network: &str) -> Result<String, ProviderError> {
        let net = compute::get::<Network>(&self.api, last(network))
            .await?
            .ok_or_else(|| ProviderError::NotFound(format!("network {}", last(network))))?;
        let needle = format!("/regions/{}/", self.api.settings.region);
        net["subnetworks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .find(|s| s.contains(&needle))
            .map(partial)
            .ok_or_else(|| {
                ProviderError::Invalid(format!(
                    "network {} has no subnetwork in {}",
                    last(network),
                    self.api.settings.region
                ))
            })
    }

    async fn create_cluster(
        &self,
        name: &str,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let id = format!("{}/clusters/{name}", self.api.location());
        let lock = self.api.lock(&id);
        let _held = lock.lock().await;
        let what = format!("create cluster {name}");
        if self.get_cluster(&id).await?.is_none() {
            let network = cfg_str(config, "network");
            let subnetwork = match config.get("subnetwork").and_then(Value::as_str) {
                Some(s) if !s.is_empty() => s.to_string(),
                _ => self.subnetwork_of(&network).await?,
            };
            let body = json!({
                "name": name,
                "network": last(&network),
                "subnetwork": last(&subnetwork),
                "initialClusterVersion": cfg_str(config, "version"),
                "locations": self.api.settings.zones,
                "ipAllocationPolicy": {"useIpAliases": true},
                // GKE needs a node pool to create a cluster; this one is removed at once and
                // the configured pools are separate resources.
                "nodePools": [{
                    "name": "default-pool",
                    "initialNodeCount": 1,
                    "config": {"machineType": "e2-small"},
                }],
            });
            let cluster: model::Cluster = to_model(&what, body)?;
            let c = self.api.clients().await?;
            match c
                .gke
                .create_cluster()
                .set_parent(self.api.location())
                .set_cluster(cluster)
                .send()
                .await
            {
                Ok(op) => self.wait_op(&what, &op).await?,
                Err(e) if kind(&e) == Kind::AlreadyExists => {}
                Err(e) => {
                    if self.get_cluster(&id).await?.is_none() {
                        return Err(provider_error(&what, &e));
                    }
                }
            }
        }
        // Adopted or made: wait until it runs, then drop the bootstrap pool.
        let cluster = self.running(&what, &id).await?;
        let has_default = cluster["nodePools"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"].as_str() == Some("default-pool"));
        if has_default {
            let c = self.api.clients().await?;
            let pool = format!("{id}/nodePools/default-pool");
            let what = format!("delete the default node pool of {name}");
            self.send_delete(&what, || {
                c.gke.delete_node_pool().set_name(pool.clone()).send()
            })
            .await?;
        }
        let cluster = self.running(&what, &id).await?;
        Ok(self.cluster_state(&cluster))
    }

    async fn update_cluster(
        &self,
        prior: &ResourceState,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let wanted = cfg_str(config, "version");
        let current = prior
            .attrs
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !satisfies(current, &wanted) {
            let lock = self.api.lock(&prior.id);
            let _held = lock.lock().await;
            let what = format!("upgrade cluster {}", last(&prior.id));
            let update: model::ClusterUpdate =
                to_model(&what, json!({"desiredMasterVersion": wanted}))?;
            let c = self.api.clients().await?;
            let op = self
                .api
                .while_busy(&what, || {
                    c.gke
                        .update_cluster()
                        .set_name(prior.id.clone())
                        .set_update(update.clone())
                        .send()
                })
                .await?;
            self.wait_op(&what, &op).await?;
        }
        self.get_cluster(&prior.id)
            .await?
            .map(|c| self.cluster_state(&c))
            .ok_or_else(|| ProviderError::NotFound(format!("cluster {}", last(&prior.id))))
    }

    async fn delete_cluster(&self, id: &str) -> Result<(), ProviderError> {
        let lock = self.api.lock(id);
        let _held = lock.lock().await;
        let what = format!("delete cluster {}", last(id));
        let c = self.api.clients().await?;
        if !self
            .send_delete(&what, || c.gke.delete_cluster().set_name(id).send())
            .await?
        {
            return Ok(());
        }
        self.api
            .wait_for(&what, || async {
                Ok(self.get_cluster(id).await?.is_none().then_some(()))
            })
            .await
    }

    async fn get_pool(&self, id: &str) -> Result<Option<Json>, ProviderError> {
        let c = self.api.clients().await?;
        match c.gke.get_node_pool().set_name(id).send().await {
            Ok(p) => Ok(Some(pool_json(&p))),
            Err(e) if kind(&e) == Kind::NotFound => Ok(None),
            Err(e) => Err(provider_error(&format!("get node pool {}", last(id)), &e)),
        }
    }

    fn autoscaling(config: &Attrs) -> Json {
        json!({
            "enabled": true,
            "totalMinNodeCount": attr_i64(config, "min_nodes", 1),
            "totalMaxNodeCount": attr_i64(config, "max_nodes", 3),
            "locationPolicy": "BALANCED",
        })
    }

    /// A pool's node configuration: its machine type and, when the pool has a label, the
    /// node label [`POOL_LABEL`] that workloads select the pool's nodes by (the node pool's
    /// own name, in `cloud.google.com/gke-nodepool`, is derived from its identity and so is
    /// not known to the components that schedule onto it).
    fn node_config(config: &Attrs) -> Json {
        let mut c = json!({"machineType": cfg_str(config, "machine_type")});
        if let Some(label) = attr_str(config, "pool_label") {
            c["labels"] = json!({ POOL_LABEL: label });
        }
        c
    }

    async fn create_pool(
        &self,
        name: &str,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let cluster_id = cfg_str(config, "cluster");
        let id = format!("{cluster_id}/nodePools/{name}");
        let lock = self.api.lock(&cluster_id);
        let _held = lock.lock().await;
        let what = format!("create node pool {name}");
        if self.get_pool(&id).await?.is_none() {
            let body = json!({
                "name": name,
                "initialNodeCount": attr_i64(config, "initial_nodes_per_zone", 1),
                "config": Self::node_config(config),
                "autoscaling": Self::autoscaling(config),
                "management": {"autoUpgrade": true, "autoRepair": true},
            });
            let pool: model::NodePool = to_model(&what, body)?;
            let c = self.api.clients().await?;
            let created = self
                .api
                .while_busy(&what, || {
                    c.gke
                        .create_node_pool()
                        .set_parent(cluster_id.clone())
                        .set_node_pool(pool.clone())
                        .send()
                })
                .await;
            match created {
                Ok(op) => self.wait_op(&what, &op).await?,
                Err(e) => {
                    if self.get_pool(&id).await?.is_none() {
                        return Err(e);
                    }
                }
            }
        }
        let pool = self
            .api
            .wait_for(&what, || async {
                Ok(self
                    .get_pool(&id)
                    .await?
                    .filter(|p| p["status"].as_str() == Some("RUNNING")))
            })
            .await?;
        Ok(self.pool_state(&cluster_id, &pool))
    }

    async fn update_pool(
        &self,
        prior: &ResourceState,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let cluster_id = cfg_str(config, "cluster");
        let name = last(&prior.id).to_string();
        let lock = self.api.lock(&cluster_id);
        let _held = lock.lock().await;
        let what = format!("update the autoscaling of node pool {name}");
        let update: model::ClusterUpdate = to_model(
            &what,
            json!({
                "desiredNodePoolId": name,
                "desiredNodePoolAutoscaling": Self::autoscaling(config),
            }),
        )?;
        let c = self.api.clients().await?;
        let op = self
            .api
            .while_busy(&what, || {
                c.gke
                    .update_cluster()
                    .set_name(cluster_id.clone())
                    .set_update(update.clone())
                    .send()
            })
            .await?;
        self.wait_op(&what, &op).await?;
        self.get_pool(&prior.id)
            .await?
            .map(|p| self.pool_state(&cluster_id, &p))
            .ok_or_else(|| ProviderError::NotFound(format!("node pool {name}")))
    }

    async fn delete_pool(&self, id: &str) -> Result<(), ProviderError> {
        let cluster_id = id
            .split("/nodePools/")
            .next()
            .unwrap_or_default()
            .to_string();
        let lock = self.api.lock(&cluster_id);
        let _held = lock.lock().await;
        let what = format!("delete node pool {}", last(id));
        let c = self.api.clients().await?;
        if !self
            .send_delete(&what, || c.gke.delete_node_pool().set_name(id).send())
            .await?
        {
            return Ok(());
        }
        self.api
            .wait_for(&what, || async {
                Ok(self.get_pool(id).await?.is_none().then_some(()))
            })
            .await
    }
}

#[async_trait]
impl Service for Gke {
    fn types(&self) -> &'static [&'static str] {
        &[CLUSTER, NODE_POOL]
    }

    async fn create(&self, req: &CreateRequest<'_>) -> StateResult {
        let name = req.identity.name(NAME_LEN);
        match req.type_name {
            CLUSTER => self.create_cluster(&name, req.config).await,
            _ => self.create_pool(&name, req.config).await,
        }
    }

    async fn find(&self, type_name: &str, identity: &Identity) -> FindResult {
        let name = identity.name(NAME_LEN);
        match type_name {
            CLUSTER => self.cluster(&name).await,
            // A pool's name is unique enough: look for it in every cluster of the location.
            _ => Ok(self
                .list(type_name)
                .await?
                .into_values()
                .find(|s| attr_str(&s.attrs, "name") == Some(name.as_str()))),
        }
    }

    async fn read_many(&self, type_name: &str, ids: &[String]) -> ReadResult {
        let found = self.list(type_name).await?;
        Ok(pick(&found, ids))
    }

    async fn update(&self, type_name: &str, prior: &ResourceState, config: &Attrs) -> StateResult {
        match type_name {
            CLUSTER => self.update_cluster(prior, config).await,
            _ => self.update_pool(prior, config).await,
        }
    }

    async fn delete(&self, type_name: &str, prior: &ResourceState) -> Result<(), ProviderError> {
        match type_name {
            CLUSTER => self.delete_cluster(&prior.id).await,
            _ => self.delete_pool(&prior.id).await,
        }
    }
}

pub fn schemas() -> [ResourceSchema; 2] {
    [
        ResourceSchema::native(
            CLUSTER,
            "A regional GKE cluster (its default node pool removed: node pools are separate)",
            base()
                .attr("network", A::required(s(), "VPC network").force_new())
                .attr(
                    "subnetwork",
                    A::optional_computed(
                        s(),
                        "Subnetwork of the nodes; the network's subnetwork in the region when omitted",
                    )
                    .force_new(),
                )
                .attr(
                    "version",
                    A::required(s(), "Minimum master version (1.31, …); upgraded in place"),
                )
                .attr("zones", A::computed(list(s()), "Zones of the nodes"))
                .attr("endpoint", A::computed(s(), "API server address"))
                .attr(
                    "ca_certificate",
                    A::computed(s(), "Cluster CA certificate (base64 PEM)"),
                ),
        ),
        ResourceSchema::native(
            NODE_POOL,
            "An autoscaling node pool of a regional GKE cluster",
            base()
                .attr("cluster", A::required(s(), "The cluster").force_new())
                .attr(
                    "machine_type",
                    A::required(s(), "Machine type (e2-standard-8, …)").force_new(),
                )
                .attr(
                    "min_nodes",
                    A::required(n(), "Fewest nodes in total (all zones)"),
                )
                .attr("max_nodes", A::required(n(), "Most nodes in total (all zones)"))
                .attr(
                    "initial_nodes_per_zone",
                    A::required(n(), "Nodes per zone at creation").force_new(),
                )
                .attr(
                    "pool_label",
                    A::optional(
                        s(),
                        "The value of the node label node.ss.internal/pool on the pool's nodes",
                    )
                    .force_new(),
                ),
        ),
    ]
}
