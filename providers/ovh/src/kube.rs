//! Managed Kubernetes clusters and their node pools: `/cloud/project/{serviceName}/kube
//! [/{kubeId}/nodepool]`. A cluster's version is upgraded one minor at a time
//! (`/kube/{kubeId}/update`); its CA certificate is read from its kubeconfig.

use std::sync::Arc;

use async_trait::async_trait;
use provider_api::kit::config::{attr_bool, attr_str};
use provider_api::kit::schema::{b, map, n, s};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{Attrs, ProviderError, ResourceState, Value};
use serde_json::{Value as Json, json};

use crate::api::{Api, Result, TypeRoutes};
use crate::json::{
    answer_id, id_text, js, jstr, jv, list, need_i64, need_str, not_found_is_none, parent_value,
};
use crate::network::first_subnet;
use crate::object::{Objects, Phase, base, in_order, named, under_parents};
use crate::routes as r;

pub const KUBE: &str = "ovh_cloud_kube";
pub const NODEPOOL: &str = "ovh_cloud_kube_nodepool";

pub fn schemas() -> Vec<ResourceSchema> {
    vec![
        ResourceSchema::native(
            KUBE,
            "A Managed Kubernetes cluster on a private network",
            base()
                .attr(
                    "network_id",
                    A::required(s(), "Private network of the nodes").force_new(),
                )
                .attr(
                    "nodes_subnet_id",
                    A::optional_computed(
                        s(),
                        "Subnet of the nodes; the network's first subnet when omitted",
                    )
                    .force_new(),
                )
                .attr(
                    "version",
                    A::required(
                        s(),
                        "Kubernetes minor version; upgraded one minor at a time",
                    ),
                )
                .attr(
                    "update_policy",
                    A::optional(s(), "ALWAYS_UPDATE, MINIMAL_DOWNTIME or NEVER_UPDATE")
                        .default("MINIMAL_DOWNTIME"),
                )
                .attr("endpoint", A::computed(s(), "API server URL"))
                .attr(
                    "ca_certificate",
                    A::computed(s(), "API server CA certificate (base64 PEM)"),
                ),
        ),
        ResourceSchema::native(
            NODEPOOL,
            "An autoscaling node pool of a Managed Kubernetes cluster",
            base()
                .attr("cluster_id", A::required(s(), "The cluster").force_new())
                .attr(
                    "flavor",
                    A::required(s(), "Instance flavor (b3-16, …)").force_new(),
                )
                .attr(
                    "zone",
                    A::optional(s(), "Availability zone (3-AZ regions)").force_new(),
                )
                .attr(
                    "autoscale",
                    A::optional(b(), "Let the autoscaler move between min and max").default(true),
                )
                .attr("min_nodes", A::required(n(), "Fewest nodes"))
                .attr("max_nodes", A::required(n(), "Most nodes"))
                .attr(
                    "labels",
                    A::optional_computed(
                        map(s()),
                        "Kubernetes labels of the pool's nodes (its node template); changed in place",
                    ),
                ),
        ),
    ]
}

const KUBE_ROUTES: TypeRoutes = TypeRoutes {
    list: r::KUBE_LIST,
    create: r::KUBE_CREATE,
    get: r::KUBE_GET,
    put: Some(r::KUBE_PUT),
    delete: r::KUBE_DELETE,
    id_params: &["kubeId"],
};

const NODEPOOL_ROUTES: TypeRoutes = TypeRoutes {
    list: r::NODEPOOL_LIST,
    create: r::NODEPOOL_CREATE,
    get: r::NODEPOOL_GET,
    put: Some(r::NODEPOOL_PUT),
    delete: r::NODEPOOL_DELETE,
    id_params: &["kubeId", "nodePoolId"],
};

/// The `major.minor` of a Kubernetes version as the API shows it: `"1.32.9-1"` → `"1.32"`
/// (OVH's own Terraform provider cuts it the same way).
pub fn k8s_minor(version: &str) -> &str {
    match version.match_indices('.').nth(1) {
        Some((i, _)) => &version[..i],
        None => version,
    }
}

/// Whether `to` is the minor version right after `from` (`1.31` → `1.32`).
pub fn is_next_minor(from: &str, to: &str) -> bool {
    let parse = |v: &str| {
        let mut it = v.split('.');
        Some((
            it.next()?.parse::<u32>().ok()?,
            it.next()?.parse::<u32>().ok()?,
        ))
    };
    matches!((parse(from), parse(to)), (Some((a, b)), Some((c, d))) if a == c && d == b + 1)
}

/// The CA certificate in a kubeconfig (`certificate-authority-data`).
pub fn kubeconfig_ca(content: &str) -> Option<String> {
    content.lines().find_map(|l| {
        l.trim()
            .strip_prefix("certificate-authority-data:")
            .map(|v| v.trim().trim_matches('"').to_string())
    })
}

/// Where a cluster or a node pool is: `READY`, failed in `ERROR` or a `USER_*` status.
pub fn phase(j: &Json) -> Phase {
    match js(j, "status").unwrap_or("") {
        "READY" => Phase::Ready,
        s if s == "ERROR" || s.starts_with("USER_") => Phase::Failed(s.into()),
        s => Phase::Pending(s.into()),
    }
}

pub fn kube_body(
    name: &str,
    region: &str,
    config: &Attrs,
    subnet_id: Option<&str>,
) -> Result<Json> {
    let mut b = json!({
        "name": name,
        "region": region,
        "version": need_str(config, "version")?,
        "privateNetworkId": need_str(config, "network_id")?,
        "updatePolicy": attr_str(config, "update_policy").unwrap_or("MINIMAL_DOWNTIME"),
    });
    if let Some(s) = subnet_id {
        b["nodesSubnetId"] = json!(s);
    }
    Ok(b)
}

pub fn nodepool_body(name: &str, config: &Attrs) -> Result<Json> {
    let min = need_i64(config, "min_nodes")?;
    let max = need_i64(config, "max_nodes")?;
    let mut b = json!({
        "name": name,
        "flavorName": need_str(config, "flavor")?,
        "autoscale": attr_bool(config, "autoscale", true),
        "minNodes": min,
        "maxNodes": max,
        "desiredNodes": min.max(1).min(max),
    });
    if let Some(zone) = attr_str(config, "zone") {
        b["availabilityZones"] = json!([zone]);
    }
    if let Some(t) = template(config) {
        b["template"] = t;
    }
    Ok(b)
}

/// The node template carrying the configured `labels`, when some are configured. The API
/// takes the whole template (`cloud.kube.NodePoolTemplate`: none of its fields may be null).
fn template(config: &Attrs) -> Option<Json> {
    let labels: serde_json::Map<String, Json> = config
        .get("labels")?
        .as_map()?
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), json!(v.as_str()?))))
        .collect();
    Some(json!({
        "metadata": {"annotations": {}, "finalizers": [], "labels": labels},
        "spec": {"taints": [], "unschedulable": false},
    }))
}

pub fn nodepool_update_body(config: &Attrs, current_desired: Option<i64>) -> Result<Json> {
    let min = need_i64(config, "min_nodes")?;
    let max = need_i64(config, "max_nodes")?;
    let mut b = json!({
        "autoscale": attr_bool(config, "autoscale", true),
        "minNodes": min,
        "maxNodes": max,
        "desiredNodes": current_desired.unwrap_or(min).clamp(min, max.max(min)),
    });
    if let Some(t) = template(config) {
        b["template"] = t;
    }
    Ok(b)
}

/// Clusters and node pools.
#[derive(Debug)]
pub struct Kube {
    api: Arc<Api>,
}

impl Kube {
    pub fn new(api: Arc<Api>) -> Kube {
        Kube { api }
    }

    async fn kube_ids(&self) -> Result<Vec<String>> {
        Ok(list(self.api.call(r::KUBE_LIST, &[], None).await?)
            .iter()
            .filter_map(id_text)
            .collect())
    }

    async fn pools_of(&self, kube: &str) -> Result<Option<Vec<Json>>> {
        Ok(not_found_is_none(
            self.api
                .call(r::NODEPOOL_LIST, &[("kubeId", kube)], None)
                .await,
        )?
        .map(list))
    }

    /// The cluster's CA certificate. A throttled or failed kubeconfig request fails the read
    /// (it is retried), so that a passing error never shows as a changed certificate.
    async fn ca_certificate(&self, id: &str) -> Result<Value> {
        match self
            .api
            .call(r::KUBE_KUBECONFIG, &[("kubeId", id)], None)
            .await
        {
            Ok(k) => Ok(js(&k, "content")
                .and_then(kubeconfig_ca)
                .map(Value::from)
                .unwrap_or_default()),
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "kubeconfig not available");
                Ok(Value::Null)
            }
        }
    }

    async fn cluster_state(&self, id: &str, j: &Json) -> Result<ResourceState> {
        let mut a = Attrs::new();
        a.insert("id".into(), Value::from(id));
        a.insert("name".into(), jstr(j, "name"));
        a.insert("network_id".into(), jstr(j, "privateNetworkId"));
        a.insert("nodes_subnet_id".into(), jstr(j, "nodesSubnetId"));
        // The API answers the patch build (`1.32.9-1`); the configuration and the upgrades
        // deal in minors, as OVH's own Terraform provider does.
        a.insert(
            "version".into(),
            js(j, "version")
                .map(|v| Value::from(k8s_minor(v)))
                .unwrap_or_default(),
        );
        a.insert("update_policy".into(), jstr(j, "updatePolicy"));
        a.insert("endpoint".into(), jstr(j, "url"));
        a.insert("ca_certificate".into(), self.ca_certificate(id).await?);
        Ok(ResourceState {
            id: id.to_string(),
            attrs: a,
        })
    }

    fn pool_state(id: &str, j: &Json) -> ResourceState {
        let mut a = Attrs::new();
        a.insert("id".into(), Value::from(id));
        a.insert("name".into(), jstr(j, "name"));
        a.insert("cluster_id".into(), parent_value(id));
        a.insert("flavor".into(), jstr(j, "flavor"));
        let zone = j
            .get("availabilityZones")
            .and_then(Json::as_array)
            .and_then(|z| z.first())
            .and_then(Json::as_str)
            .map(Value::from)
            .unwrap_or_default();
        a.insert("zone".into(), zone);
        a.insert("autoscale".into(), jv(j, "autoscale"));
        a.insert("min_nodes".into(), jv(j, "minNodes"));
        a.insert("max_nodes".into(), jv(j, "maxNodes"));
        let labels = j
            .pointer("/template/metadata/labels")
            .map(Value::from_json)
            .unwrap_or_else(|| Value::Map(Attrs::new()));
        a.insert("labels".into(), labels);
        ResourceState {
            id: id.to_string(),
            attrs: a,
        }
    }

    /// Changes a cluster's update policy and version (one minor at a time).
    async fn change_cluster(&self, prior: &ResourceState, config: &Attrs) -> Result<()> {
        let id = prior.id.as_str();
        let changed = |k: &str| {
            let new = config.get(k).cloned().unwrap_or(Value::Null);
            let old = prior.attrs.get(k).cloned().unwrap_or(Value::Null);
            !new.is_null() && !provider_api::same(&new, &old)
        };
        if changed("update_policy") {
            self.put(
                KUBE,
                id,
                &json!({ "updatePolicy": need_str(config, "update_policy")? }),
            )
            .await?;
        }
        if changed("version") {
            let from = k8s_minor(
                prior
                    .attrs
                    .get("version")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            );
            let to = need_str(config, "version")?;
            if !is_next_minor(from, to) {
                return Err(ProviderError::Invalid(format!(
                    "OVH upgrades Kubernetes one minor version at a time: {from} → {to} \
                     is not possible in one step"
                )));
            }
            self.api
                .call(
                    r::KUBE_UPDATE,
                    &[("kubeId", id)],
                    Some(&json!({ "strategy": "NEXT_MINOR" })),
                )
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Objects for Kube {
    fn types(&self) -> &'static [&'static str] {
        &[KUBE, NODEPOOL]
    }

    fn api(&self) -> &Api {
        &self.api
    }

    fn routes<'a>(&self, type_name: &str, id: &'a str) -> (TypeRoutes, &'a str) {
        match type_name {
            NODEPOOL => (NODEPOOL_ROUTES, id),
            _ => (KUBE_ROUTES, id),
        }
    }

    fn phase(&self, _type_name: &str, j: &Json) -> Phase {
        phase(j)
    }

    async fn lookup(
        &self,
        type_name: &str,
        name: &str,
        config: Option<&Attrs>,
    ) -> Result<Option<String>> {
        if type_name == KUBE {
            for id in self.kube_ids().await? {
                if let Some(k) = self.get_raw(KUBE, &id).await?
                    && js(&k, "name") == Some(name)
                {
                    return Ok(Some(id));
                }
            }
            return Ok(None);
        }
        let kubes = match config.and_then(|c| attr_str(c, "cluster_id")) {
            Some(k) => vec![k.to_string()],
            None => self.kube_ids().await?,
        };
        for kube in kubes {
            let pools = self.pools_of(&kube).await?.unwrap_or_default();
            if let Some(id) = named(pools, name) {
                return Ok(Some(format!("{kube}/{id}")));
            }
        }
        Ok(None)
    }

    async fn post_create(&self, type_name: &str, name: &str, config: &Attrs) -> Result<String> {
        if type_name == KUBE {
            let subnet = match attr_str(config, "nodes_subnet_id") {
                Some(s) => s.to_string(),
                None => first_subnet(&self.api, need_str(config, "network_id")?).await?,
            };
            let body = kube_body(name, self.api.region(), config, Some(&subnet))?;
            let k = self.api.call(r::KUBE_CREATE, &[], Some(&body)).await?;
            return answer_id(&k, "cluster").map(str::to_string);
        }
        let kube = need_str(config, "cluster_id")?;
        let p = self
            .api
            .call(
                r::NODEPOOL_CREATE,
                &[("kubeId", kube)],
                Some(&nodepool_body(name, config)?),
            )
            .await?;
        let id = answer_id(&p, "node pool")?;
        Ok(format!("{kube}/{id}"))
    }

    async fn change(&self, type_name: &str, prior: &ResourceState, config: &Attrs) -> Result<()> {
        if type_name == KUBE {
            return self.change_cluster(prior, config).await;
        }
        let current = self
            .get_raw(NODEPOOL, &prior.id)
            .await?
            .and_then(|p| p.get("desiredNodes").and_then(Json::as_i64));
        self.put(NODEPOOL, &prior.id, &nodepool_update_body(config, current)?)
            .await?;
        Ok(())
    }

    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ResourceState>>> {
        if type_name == NODEPOOL {
            let found = under_parents(ids, |kube, _| async move {
                Ok(self.pools_of(kube).await?.unwrap_or_default())
            })
            .await?;
            let states = found.iter().map(|(id, j)| Kube::pool_state(id, j));
            return Ok(in_order(ids, states));
        }
        let listed = self.api.list_ids(r::KUBE_LIST, &[]).await?;
        let mut states = Vec::new();
        for (id, item) in self.fetch(KUBE, listed.unwrap_or_default(), ids).await? {
            states.push(self.cluster_state(&id, &item).await?);
        }
        Ok(in_order(ids, states))
    }
}
