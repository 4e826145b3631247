//! GKE (container v1): regional clusters and their node pools. GKE runs one operation at a
//! time per cluster, so every mutation holds the cluster's lock and waits out a busy answer.

use std::collections::BTreeMap;

use google_cloud_container_v1::model;
use provider_api::{Attrs, ProviderError, ResourceState, Value};
use serde_json::{Value as Json, json};

use crate::error::{Kind, kind, provider_error};
use crate::ops::{Ops, cfg_num, cfg_str, js, last, model as to_model, num, state, text};
use crate::types;

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

impl Ops {
    /// What GKE offers in the region (`getServerConfig`); the provider keeps the answer.
    pub(crate) async fn ask_gke_offer(&self) -> Result<Offer, ProviderError> {
        let c = self.clients().await?;
        let config = c
            .gke
            .get_server_config()
            .set_name(self.location())
            .send()
            .await
            .map_err(|e| provider_error("get the GKE server configuration", &e))?;
        let mut j = js(&config);
        for (i, ch) in config.channels.iter().enumerate() {
            j["channels"][i]["channel"] = json!(ch.channel.name());
        }
        Ok(Offer::from_server_config(&j))
    }

    fn cluster_state(&self, c: &Json) -> ResourceState {
        let name = c["name"].as_str().unwrap_or_default();
        let project = self.project().to_string();
        let region = &self.settings.region;
        let net = last(c["network"].as_str().unwrap_or_default());
        let sub = last(c["subnetwork"].as_str().unwrap_or_default());
        let zones: Vec<Value> = c["locations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        state(
            format!("{}/clusters/{name}", self.location()),
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
            ],
        )
    }

    async fn gke_cluster_json(&self, id: &str) -> Result<Option<Json>, ProviderError> {
        let c = self.clients().await?;
        match c.gke.get_cluster().set_name(id).send().await {
            Ok(cl) => Ok(Some(cluster_json(&cl))),
            Err(e) if kind(&e) == Kind::NotFound => Ok(None),
            Err(e) => Err(provider_error(&format!("get cluster {}", last(id)), &e)),
        }
    }

    pub(crate) async fn gke_cluster(
        &self,
        name: &str,
    ) -> Result<Option<ResourceState>, ProviderError> {
        let id = format!("{}/clusters/{name}", self.location());
        Ok(self
            .gke_cluster_json(&id)
            .await?
            .map(|c| self.cluster_state(&c)))
    }

    pub(crate) async fn gke_list(
        &self,
        type_name: &str,
    ) -> Result<BTreeMap<String, ResourceState>, ProviderError> {
        let c = self.clients().await?;
        let list = c
            .gke
            .list_clusters()
            .set_parent(self.location())
            .send()
            .await
            .map_err(|e| provider_error("list clusters", &e))?;
        let mut out = BTreeMap::new();
        for cl in list.clusters.iter().map(cluster_json) {
            let cl = &cl;
            let cs = self.cluster_state(cl);
            if type_name == types::CLUSTER {
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
    async fn gke_wait(&self, what: &str, op: &model::Operation) -> Result<(), ProviderError> {
        let op = js(op);
        let name = format!(
            "{}/operations/{}",
            self.location(),
            last(op["name"].as_str().unwrap_or_default())
        );
        let c = self.clients().await?;
        let done = self
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

    /// The subnetwork of `network` in the provider's region.
    async fn subnetwork_of(&self, network: &str) -> Result<String, ProviderError> {
        let net = self
            .compute_get_json(types::NETWORK, last(network))
            .await?
            .ok_or_else(|| ProviderError::NotFound(format!("network {}", last(network))))?;
        let needle = format!("/regions/{}/", self.settings.region);
        net["subnetworks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .find(|s| s.contains(&needle))
            .map(crate::ops::partial)
            .ok_or_else(|| {
                ProviderError::Invalid(format!(
                    "network {} has no subnetwork in {}",
                    last(network),
                    self.settings.region
                ))
            })
    }

    pub(crate) async fn gke_cluster_create(
        &self,
        name: &str,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let id = format!("{}/clusters/{name}", self.location());
        let lock = self.lock(&id);
        let _held = lock.lock().await;
        let what = format!("create cluster {name}");
        if self.gke_cluster_json(&id).await?.is_none() {
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
                "locations": self.settings.zones,
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
            let c = self.clients().await?;
            match c
                .gke
                .create_cluster()
                .set_parent(self.location())
                .set_cluster(cluster)
                .send()
                .await
            {
                Ok(op) => self.gke_wait(&what, &op).await?,
                Err(e) if kind(&e) == Kind::AlreadyExists => {}
                Err(e) => {
                    if self.gke_cluster_json(&id).await?.is_none() {
                        return Err(provider_error(&what, &e));
                    }
                }
            }
        }
        // Adopted or made: wait until it runs, then drop the bootstrap pool.
        let cluster = self
            .wait_for(&what, || async {
                Ok(self
                    .gke_cluster_json(&id)
                    .await?
                    .filter(|c| c["status"].as_str() == Some("RUNNING")))
            })
            .await?;
        let has_default = cluster["nodePools"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"].as_str() == Some("default-pool"));
        if has_default {
            let c = self.clients().await?;
            let pool = format!("{id}/nodePools/default-pool");
            let what = format!("delete the default node pool of {name}");
            let deleted = self
                .while_busy(&what, || {
                    c.gke.delete_node_pool().set_name(pool.clone()).send()
                })
                .await;
            match deleted {
                Ok(op) => self.gke_wait(&what, &op).await?,
                Err(ProviderError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let cluster = self
            .wait_for(&what, || async {
                Ok(self
                    .gke_cluster_json(&id)
                    .await?
                    .filter(|c| c["status"].as_str() == Some("RUNNING")))
            })
            .await?;
        Ok(self.cluster_state(&cluster))
    }

    pub(crate) async fn gke_cluster_update(
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
            let lock = self.lock(&prior.id);
            let _held = lock.lock().await;
            let what = format!("upgrade cluster {}", last(&prior.id));
            let update: model::ClusterUpdate =
                to_model(&what, json!({"desiredMasterVersion": wanted}))?;
            let c = self.clients().await?;
            let op = self
                .while_busy(&what, || {
                    c.gke
                        .update_cluster()
                        .set_name(prior.id.clone())
                        .set_update(update.clone())
                        .send()
                })
                .await?;
            self.gke_wait(&what, &op).await?;
        }
        self.gke_cluster_json(&prior.id)
            .await?
            .map(|c| self.cluster_state(&c))
            .ok_or_else(|| ProviderError::NotFound(format!("cluster {}", last(&prior.id))))
    }

    pub(crate) async fn gke_cluster_delete(&self, id: &str) -> Result<(), ProviderError> {
        let lock = self.lock(id);
        let _held = lock.lock().await;
        let what = format!("delete cluster {}", last(id));
        let c = self.clients().await?;
        match self
            .while_busy(&what, || c.gke.delete_cluster().set_name(id).send())
            .await
        {
            Ok(op) => self.gke_wait(&what, &op).await?,
            Err(ProviderError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
        self.wait_for(&what, || async {
            Ok(self.gke_cluster_json(id).await?.is_none().then_some(()))
        })
        .await
    }

    async fn gke_pool_json(&self, id: &str) -> Result<Option<Json>, ProviderError> {
        let c = self.clients().await?;
        match c.gke.get_node_pool().set_name(id).send().await {
            Ok(p) => Ok(Some(pool_json(&p))),
            Err(e) if kind(&e) == Kind::NotFound => Ok(None),
            Err(e) => Err(provider_error(&format!("get node pool {}", last(id)), &e)),
        }
    }

    fn autoscaling(config: &Attrs) -> Json {
        json!({
            "enabled": true,
            "totalMinNodeCount": cfg_num(config, "min_nodes", 1),
            "totalMaxNodeCount": cfg_num(config, "max_nodes", 3),
            "locationPolicy": "BALANCED",
        })
    }

    pub(crate) async fn gke_pool_create(
        &self,
        name: &str,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let cluster_id = cfg_str(config, "cluster");
        let id = format!("{cluster_id}/nodePools/{name}");
        let lock = self.lock(&cluster_id);
        let _held = lock.lock().await;
        let what = format!("create node pool {name}");
        if self.gke_pool_json(&id).await?.is_none() {
            let body = json!({
                "name": name,
                "initialNodeCount": cfg_num(config, "initial_nodes_per_zone", 1),
                "config": {"machineType": cfg_str(config, "machine_type")},
                "autoscaling": Self::autoscaling(config),
                "management": {"autoUpgrade": true, "autoRepair": true},
            });
            let pool: model::NodePool = to_model(&what, body)?;
            let c = self.clients().await?;
            let created = self
                .while_busy(&what, || {
                    c.gke
                        .create_node_pool()
                        .set_parent(cluster_id.clone())
                        .set_node_pool(pool.clone())
                        .send()
                })
                .await;
            match created {
                Ok(op) => self.gke_wait(&what, &op).await?,
                Err(e) => {
                    if self.gke_pool_json(&id).await?.is_none() {
                        return Err(e);
                    }
                }
            }
        }
        let pool = self
            .wait_for(&what, || async {
                Ok(self
                    .gke_pool_json(&id)
                    .await?
                    .filter(|p| p["status"].as_str() == Some("RUNNING")))
            })
            .await?;
        Ok(self.pool_state(&cluster_id, &pool))
    }

    pub(crate) async fn gke_pool_update(
        &self,
        prior: &ResourceState,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let cluster_id = cfg_str(config, "cluster");
        let name = last(&prior.id).to_string();
        let lock = self.lock(&cluster_id);
        let _held = lock.lock().await;
        let what = format!("update the autoscaling of node pool {name}");
        let update: model::ClusterUpdate = to_model(
            &what,
            json!({
                "desiredNodePoolId": name,
                "desiredNodePoolAutoscaling": Self::autoscaling(config),
            }),
        )?;
        let c = self.clients().await?;
        let op = self
            .while_busy(&what, || {
                c.gke
                    .update_cluster()
                    .set_name(cluster_id.clone())
                    .set_update(update.clone())
                    .send()
            })
            .await?;
        self.gke_wait(&what, &op).await?;
        self.gke_pool_json(&prior.id)
            .await?
            .map(|p| self.pool_state(&cluster_id, &p))
            .ok_or_else(|| ProviderError::NotFound(format!("node pool {name}")))
    }

    pub(crate) async fn gke_pool_delete(&self, id: &str) -> Result<(), ProviderError> {
        let cluster_id = id
            .split("/nodePools/")
            .next()
            .unwrap_or_default()
            .to_string();
        let lock = self.lock(&cluster_id);
        let _held = lock.lock().await;
        let what = format!("delete node pool {}", last(id));
        let c = self.clients().await?;
        match self
            .while_busy(&what, || c.gke.delete_node_pool().set_name(id).send())
            .await
        {
            Ok(op) => self.gke_wait(&what, &op).await?,
            Err(ProviderError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
        self.wait_for(&what, || async {
            Ok(self.gke_pool_json(id).await?.is_none().then_some(()))
        })
        .await
    }
}
