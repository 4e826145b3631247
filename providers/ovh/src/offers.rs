//! The plan-time check of a configuration against what OVH sells in the configured region
//! ([`provider_api::Provider::check_offers`]).
//!
//! * Kubernetes: the minors of `cloud.kube.VersionEnum` in the API's own description,
//!   `GET /cloud.json` (what OVH's control panel offers; not per region), and the node
//!   flavors of the region, `GET …/capabilities/kube/flavors?region=R`.
//! * Databases: `GET /cloud/project/{serviceName}/database/capabilities` for each engine's
//!   versions, and `GET …/database/availability` for what each region sells: one row per
//!   engine, version, plan, flavor and region, with the plan's node counts. (The capabilities
//!   model lists plans and flavors without regions, so only the availability rows can say
//!   that `EU-WEST-PAR` has no `business` plan.)
//!
//! Each answer is asked once per provider and kept, a failure included: a failure to ask (no
//! credentials, an outage, a refused request) is logged and the check is skipped, since the
//! create would fail later with OVH's own answer if the choice really were wrong.

use std::collections::{BTreeMap, BTreeSet};

use provider_api::{Attrs, Diagnostic, Value, component};
use serde_json::Value as Json;
use tokio::sync::OnceCell;

use crate::api::Api;
use crate::database::{POSTGRES, VALKEY};
use crate::expand::{
    DEFAULT_K8S_VERSION, DEFAULT_PG_VERSION, DEFAULT_VALKEY_VERSION, Family, pg_family, pg_plan,
    size_value, valkey_plan,
};
use crate::kube::{KUBE, NODEPOOL};
use crate::routes as r;
use crate::settings::Settings;

/// The answers kept for the provider's life; `None` when asking failed.
#[derive(Debug, Default)]
pub struct Cache {
    k8s_versions: OnceCell<Option<Vec<String>>>,
    kube_flavors: OnceCell<Option<Vec<String>>>,
    engine_versions: OnceCell<Option<BTreeMap<String, Vec<String>>>>,
    availability: OnceCell<Option<Vec<Row>>>,
}

/// One row of `GET /database/availability`: one combination OVH sells.
#[derive(Debug, Clone)]
struct Row {
    engine: String,
    version: String,
    plan: String,
    flavor: String,
    region: String,
    min_nodes: i64,
    max_nodes: i64,
}

impl Row {
    fn from_json(j: &Json) -> Option<Row> {
        let s = |k: &str| j.get(k).and_then(Json::as_str).map(str::to_string);
        let n = |k: &str| j.get(k).and_then(Json::as_i64);
        Some(Row {
            engine: s("engine")?,
            version: s("version")?,
            plan: s("plan")?,
            flavor: s("flavor")?,
            region: s("region")?,
            min_nodes: n("minNodeNumber").unwrap_or(1),
            max_nodes: n("maxNodeNumber").unwrap_or(i64::MAX),
        })
    }
}

/// A database configuration to check, and where each of its choices is written in the spec.
struct DbChoice<'a> {
    engine: String,
    version: Option<String>,
    plan: Option<String>,
    flavor: Option<String>,
    nodes: Option<i64>,
    /// The attribute that decided the plan, the flavor and the node count.
    plan_at: &'a str,
    flavor_at: &'a str,
    nodes_at: &'a str,
}

/// A known string of the configuration (`None` when absent, null or unknown).
fn known_str(config: &Attrs, k: &str) -> Option<String> {
    config.get(k).and_then(Value::as_str).map(str::to_string)
}

/// `default` for an absent or null attribute, `None` for an unknown one.
fn str_or(config: &Attrs, k: &str, default: &str) -> Option<String> {
    match config.get(k) {
        None | Some(Value::Null) => Some(default.to_string()),
        Some(v) => v.as_str().map(str::to_string),
    }
}

fn int_or(config: &Attrs, k: &str, default: i64) -> Option<i64> {
    match config.get(k) {
        None | Some(Value::Null) => Some(default),
        Some(v) => v.as_i64(),
    }
}

fn bool_or(config: &Attrs, k: &str, default: bool) -> Option<bool> {
    match config.get(k) {
        None | Some(Value::Null) => Some(default),
        Some(v) => v.as_bool(),
    }
}

/// The flavor a portable `size` stands for.
fn size_flavor(config: &Attrs, family: Family) -> Option<String> {
    let size = match config.get("size") {
        None | Some(Value::Null) => Value::from("medium"),
        Some(v) => v.clone(),
    };
    size_value(family, &size).as_str().map(str::to_string)
}

fn engine_name(engine: &str) -> &str {
    match engine {
        "postgresql" => "PostgreSQL",
        "valkey" => "Valkey",
        "redis" => "Redis",
        other => other,
    }
}

/// The choices of a database resource: a portable component's through its expansion, a native
/// resource's as written.
fn db_choice<'a>(settings: &Settings, type_name: &str, config: &'a Attrs) -> Option<DbChoice<'a>> {
    match type_name {
        component::POSTGRES => {
            let ha = bool_or(config, "high_availability", false);
            let replicas = int_or(config, "read_replicas", 0);
            let plan = match (ha, replicas) {
                (Some(ha), Some(r)) => pg_plan(settings.three_az(), ha, r),
                _ => None,
            };
            let plan_at = if replicas.unwrap_or(0) > 0 {
                "read_replicas"
            } else {
                "high_availability"
            };
            Some(DbChoice {
                engine: "postgresql".into(),
                version: str_or(config, "version", DEFAULT_PG_VERSION),
                plan: plan.map(|(p, _)| p.to_string()),
                flavor: size_flavor(config, pg_family(settings)),
                nodes: plan.map(|(_, n)| n),
                plan_at,
                flavor_at: "size",
                nodes_at: plan_at,
            })
        }
        component::REDIS_CLUSTER | component::REDIS => {
            let replicas_at = if type_name == component::REDIS {
                "replicas"
            } else {
                "replicas_per_shard"
            };
            let plan = int_or(config, replicas_at, 1).map(valkey_plan);
            Some(DbChoice {
                engine: "valkey".into(),
                version: str_or(config, "version", DEFAULT_VALKEY_VERSION),
                plan: plan.map(|(p, _)| p.to_string()),
                flavor: size_flavor(config, Family::Gen3Database),
                nodes: plan.map(|(_, n)| n),
                plan_at: replicas_at,
                flavor_at: "size",
                nodes_at: replicas_at,
            })
        }
        POSTGRES | VALKEY => Some(DbChoice {
            engine: if type_name == POSTGRES {
                "postgresql".into()
            } else {
                str_or(config, "engine", "valkey")?
            },
            version: known_str(config, "version"),
            plan: known_str(config, "plan"),
            flavor: known_str(config, "flavor"),
            nodes: config.get("nodes").and_then(Value::as_i64),
            plan_at: "plan",
            flavor_at: "flavor",
            nodes_at: "nodes",
        }),
        _ => None,
    }
}

fn listed<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let set: BTreeSet<&str> = items.into_iter().collect();
    let mut list: Vec<&str> = set.into_iter().collect();
    // Flavors read best by size: b3-8 before b3-16.
    list.sort_by_key(|s| {
        let (head, n) = s.rsplit_once('-').unwrap_or((s, ""));
        (
            head.to_string(),
            n.parse::<u64>().unwrap_or(0),
            s.to_string(),
        )
    });
    list.join(", ")
}

/// The first choice of `c` that `rows` (everything OVH sells) does not offer in `region`.
fn check_database(
    c: &DbChoice<'_>,
    region: &str,
    engine_versions: Option<&Vec<String>>,
    rows: &[Row],
) -> Option<Diagnostic> {
    let name = engine_name(&c.engine);
    let of_engine: Vec<&Row> = rows.iter().filter(|r| r.engine == c.engine).collect();
    let here: Vec<&Row> = of_engine
        .iter()
        .copied()
        .filter(|r| r.region == region)
        .collect();
    if here.is_empty() {
        return Some(Diagnostic::error(format!(
            "OVH does not sell Managed {name} in region {region}; regions that sell it: {}",
            listed(of_engine.iter().map(|r| r.region.as_str()))
        )));
    }
    if let Some(version) = &c.version {
        let versions: Vec<&str> = match engine_versions {
            Some(v) => v.iter().map(String::as_str).collect(),
            None => here.iter().map(|r| r.version.as_str()).collect(),
        };
        if !versions.contains(&version.as_str()) {
            return Some(
                Diagnostic::error(format!(
                    "OVH Managed {name} has no version {version:?}; offered: {}",
                    listed(versions)
                ))
                .at(["version"]),
            );
        }
    }
    let here: Vec<&Row> = match &c.version {
        Some(v) if here.iter().any(|r| &r.version == v) => {
            here.into_iter().filter(|r| &r.version == v).collect()
        }
        _ => here,
    };
    let Some(plan) = &c.plan else { return None };
    let of_plan: Vec<&Row> = here.iter().copied().filter(|r| &r.plan == plan).collect();
    if of_plan.is_empty() {
        let plans: BTreeMap<&str, (i64, i64)> = here
            .iter()
            .map(|r| (r.plan.as_str(), (r.min_nodes, r.max_nodes)))
            .collect();
        let offered: Vec<String> = plans
            .iter()
            .map(|(p, (lo, hi))| match lo == hi {
                true => format!("{p} ({lo} nodes)"),
                false => format!("{p} ({lo}–{hi} nodes)"),
            })
            .collect();
        return Some(
            Diagnostic::error(format!(
                "region {region} does not sell the {plan:?} plan of Managed {name}; it sells: {}",
                offered.join(", ")
            ))
            .at([c.plan_at]),
        );
    }
    let Some(flavor) = &c.flavor else { return None };
    let Some(row) = of_plan.iter().find(|r| &r.flavor == flavor) else {
        return Some(
            Diagnostic::error(format!(
                "the {plan:?} plan of Managed {name} in region {region} has no flavor \
                 {flavor:?}; offered: {}",
                listed(of_plan.iter().map(|r| r.flavor.as_str()))
            ))
            .at([c.flavor_at]),
        );
    };
    match c.nodes {
        Some(n) if n < row.min_nodes || n > row.max_nodes => Some(
            Diagnostic::error(format!(
                "the {plan:?} plan of Managed {name} has {} nodes, not {n}",
                if row.min_nodes == row.max_nodes {
                    row.min_nodes.to_string()
                } else {
                    format!("{}–{}", row.min_nodes, row.max_nodes)
                }
            ))
            .at([c.nodes_at]),
        ),
        _ => None,
    }
}

/// Logs a failure to ask OVH what it sells. The error's text stays at `trace`: the same
/// failure (wrong credentials, say) is reported once, by the operation that needs the answer.
fn skipped(what: &str, e: &provider_api::ProviderError) {
    tracing::debug!("could not ask OVH for {what}: its offers are not checked");
    tracing::trace!(error = %e, "asking OVH for {what}");
}

impl Cache {
    async fn k8s_versions(&self, api: &Api) -> Option<&Vec<String>> {
        self.k8s_versions
            .get_or_init(|| async {
                match api.call(r::CLOUD_DESCRIPTION, &[], None).await {
                    Ok(doc) => doc
                        .pointer("/models/cloud.kube.VersionEnum/enum")
                        .and_then(Json::as_array)
                        .map(|l| {
                            l.iter()
                                .filter_map(Json::as_str)
                                .map(str::to_string)
                                .collect()
                        }),
                    Err(e) => {
                        skipped("the Kubernetes versions", &e);
                        None
                    }
                }
            })
            .await
            .as_ref()
    }

    /// The node flavors available in the region.
    async fn kube_flavors(&self, api: &Api) -> Option<&Vec<String>> {
        self.kube_flavors
            .get_or_init(|| async {
                let region = api.settings.region.as_str();
                let params = [("serviceName", api.project.as_str())];
                let query = [("region", region)];
                match api
                    .client
                    .call(r::KUBE_FLAVORS, &params, &query, None)
                    .await
                {
                    Ok(Json::Array(flavors)) => Some(
                        flavors
                            .iter()
                            .filter(|f| {
                                f.get("state").and_then(Json::as_str) != Some("unavailable")
                            })
                            .filter_map(|f| f.get("name").and_then(Json::as_str))
                            .map(str::to_string)
                            .collect(),
                    ),
                    Ok(_) => None,
                    Err(e) => {
                        skipped("the Kubernetes node flavors", &e);
                        None
                    }
                }
            })
            .await
            .as_ref()
    }

    /// The node pools whose flavor the region does not offer.
    async fn check_node_flavors(
        &self,
        api: &Api,
        type_name: &str,
        config: &Attrs,
    ) -> Vec<Diagnostic> {
        // (flavor, where it is written)
        let pools: Vec<(String, Vec<String>)> = match type_name {
            NODEPOOL => known_str(config, "flavor")
                .map(|f| (f, vec!["flavor".to_string()]))
                .into_iter()
                .collect(),
            _ => config
                .get("node_pool")
                .and_then(Value::as_map)
                .into_iter()
                .flatten()
                .filter_map(|(label, pool)| {
                    let size = match pool.get("size") {
                        None | Some(Value::Null) => Value::from("medium"),
                        Some(v) => v.clone(),
                    };
                    let flavor = size_value(Family::Node, &size).as_str()?.to_string();
                    Some((
                        flavor,
                        vec!["node_pool".into(), label.clone(), "size".into()],
                    ))
                })
                .collect(),
        };
        if pools.is_empty() {
            return Vec::new();
        }
        let Some(offered) = self.kube_flavors(api).await else {
            return Vec::new();
        };
        pools
            .into_iter()
            .filter(|(flavor, _)| !offered.contains(flavor))
            .map(|(flavor, at)| {
                Diagnostic::error(format!(
                    "OVH Managed Kubernetes has no node flavor {flavor:?} in region {}; \
                     offered: {}",
                    api.settings.region,
                    listed(offered.iter().map(String::as_str))
                ))
                .at(at)
            })
            .collect()
    }

    async fn engine_versions(&self, api: &Api) -> Option<&BTreeMap<String, Vec<String>>> {
        self.engine_versions
            .get_or_init(|| async {
                match api.call(r::DB_CAPABILITIES, &[], None).await {
                    Ok(caps) => Some(
                        caps.get("engines")
                            .and_then(Json::as_array)
                            .into_iter()
                            .flatten()
                            .filter_map(|e| {
                                let name = e.get("name")?.as_str()?.to_string();
                                let versions = e
                                    .get("versions")?
                                    .as_array()?
                                    .iter()
                                    .filter_map(Json::as_str)
                                    .map(str::to_string)
                                    .collect();
                                Some((name, versions))
                            })
                            .collect(),
                    ),
                    Err(e) => {
                        skipped("the database capabilities", &e);
                        None
                    }
                }
            })
            .await
            .as_ref()
    }

    async fn availability(&self, api: &Api) -> Option<&Vec<Row>> {
        self.availability
            .get_or_init(|| async {
                match api.call(r::DB_AVAILABILITY, &[], None).await {
                    Ok(Json::Array(rows)) => Some(rows.iter().filter_map(Row::from_json).collect()),
                    Ok(_) => None,
                    Err(e) => {
                        skipped("the database availability", &e);
                        None
                    }
                }
            })
            .await
            .as_ref()
    }

    /// The diagnostics of one resource's configuration against what OVH sells.
    pub async fn check(&self, api: &Api, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        if !api.client.has_credentials() {
            return Vec::new();
        }
        match type_name {
            NODEPOOL => self.check_node_flavors(api, type_name, config).await,
            component::KUBERNETES_CLUSTER | KUBE => {
                let version = match type_name {
                    KUBE => known_str(config, "version"),
                    _ => str_or(config, "version", DEFAULT_K8S_VERSION),
                };
                let mut out = Vec::new();
                if let Some(version) = version
                    && let Some(offered) = self.k8s_versions(api).await
                    && !offered.contains(&version)
                {
                    out.push(
                        Diagnostic::error(format!(
                            "OVH Managed Kubernetes does not offer version {version:?}; \
                             offered: {}",
                            offered.join(", ")
                        ))
                        .at(["version"]),
                    );
                }
                out.extend(self.check_node_flavors(api, type_name, config).await);
                out
            }
            _ => {
                let Some(choice) = db_choice(&api.settings, type_name, config) else {
                    return Vec::new();
                };
                let Some(rows) = self.availability(api).await else {
                    return Vec::new();
                };
                let versions = self
                    .engine_versions(api)
                    .await
                    .and_then(|all| all.get(&choice.engine));
                check_database(&choice, &api.settings.region, versions, rows)
                    .into_iter()
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(engine: &str, plan: &str, flavor: &str, region: &str, nodes: i64) -> Row {
        Row {
            engine: engine.into(),
            version: "16".into(),
            plan: plan.into(),
            flavor: flavor.into(),
            region: region.into(),
            min_nodes: nodes,
            max_nodes: nodes,
        }
    }

    fn rows() -> Vec<Row> {
        vec![
            row("postgresql", "production", "b3-8", "EU-WEST-PAR", 2),
            row("postgresql", "production", "b3-32", "EU-WEST-PAR", 2),
            row("postgresql", "advanced", "b3-32", "EU-WEST-PAR", 3),
            row("postgresql", "business", "db1-15", "GRA11", 2),
        ]
    }

    fn choice(plan: &str, flavor: &str, nodes: i64) -> DbChoice<'static> {
        DbChoice {
            engine: "postgresql".into(),
            version: Some("16".into()),
            plan: Some(plan.into()),
            flavor: Some(flavor.into()),
            nodes: Some(nodes),
            plan_at: "read_replicas",
            flavor_at: "size",
            nodes_at: "read_replicas",
        }
    }

    #[test]
    fn what_a_region_does_not_sell_is_named_with_what_it_sells() {
        let rows = rows();
        let ok = check_database(&choice("advanced", "b3-32", 3), "EU-WEST-PAR", None, &rows);
        assert!(ok.is_none(), "{ok:?}");
        let d = check_database(&choice("business", "db1-15", 2), "EU-WEST-PAR", None, &rows)
            .expect("no business plan in a 3-AZ region");
        assert_eq!(d.path, vec!["read_replicas".to_string()]);
        assert!(
            d.summary
                .contains("it sells: advanced (3 nodes), production (2 nodes)"),
            "{}",
            d.summary
        );
        let d = check_database(
            &choice("production", "b3-64", 2),
            "EU-WEST-PAR",
            None,
            &rows,
        )
        .expect("no b3-64 here");
        assert_eq!(d.path, vec!["size".to_string()]);
        assert!(d.summary.contains("offered: b3-8, b3-32"), "{}", d.summary);
        let d = check_database(&choice("advanced", "b3-32", 2), "EU-WEST-PAR", None, &rows)
            .expect("advanced has 3 nodes");
        assert!(d.summary.contains("has 3 nodes, not 2"), "{}", d.summary);
        let d = check_database(&choice("business", "db1-15", 2), "SGP1", None, &rows)
            .expect("no databases there");
        assert!(d.summary.contains("EU-WEST-PAR, GRA11"), "{}", d.summary);
        let mut old = choice("production", "b3-8", 2);
        old.version = Some("12".into());
        let versions = vec!["15".to_string(), "16".to_string()];
        let d = check_database(&old, "EU-WEST-PAR", Some(&versions), &rows).expect("version");
        assert_eq!(d.path, vec!["version".to_string()]);
        assert!(d.summary.contains("offered: 15, 16"), "{}", d.summary);
    }
}
