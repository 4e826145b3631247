//! How each portable component becomes OVH native resources, and the provider's own checks.
//! The tables are in the crate documentation (`lib.rs`).

use std::collections::BTreeMap;

use provider_api::component::{self, Size, SizeClass};
use provider_api::kit::config::{LocalNames, Reader, field, local_suffix};
use provider_api::kit::net;
use provider_api::{Attrs, Binding, Diagnostic, Expansion, NativeSpec, Value};

use crate::app::{POOL_LABEL, Placement};
use crate::cdn::{CDN_BACKEND, CDN_DOMAIN, CDN_RULE};
use crate::database::{POSTGRES, VALKEY};
use crate::dbuser::{PG_USER, VALKEY_USER};
use crate::kube::{KUBE, NODEPOOL, k8s_minor};
use crate::loadbalancer::{LB, LISTENER, MONITOR, POOL};
use crate::network::{NETWORK, SUBNET};
use crate::settings::Settings;

/// A family of OVH flavors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Kubernetes nodes: general purpose `b3-*`.
    Node,
    /// Gen 3 managed database nodes, `b3-*`: the PostgreSQL `production`/`advanced` plans and
    /// every Managed Valkey service (its only plan is `production`).
    Gen3Database,
    /// Gen 2 managed database nodes, `db1-*`: the PostgreSQL `essential`/`business`/`enterprise`
    /// plans, sold in 1-AZ regions only.
    Gen2Database,
}

/// The OVH flavor of a size class.
pub fn flavor(family: Family, class: SizeClass) -> &'static str {
    match (family, class) {
        (Family::Node | Family::Gen3Database, SizeClass::Small) => "b3-8",
        (Family::Node | Family::Gen3Database, SizeClass::Medium) => "b3-16",
        (Family::Node | Family::Gen3Database, SizeClass::Large) => "b3-32",
        (Family::Node | Family::Gen3Database, SizeClass::XLarge) => "b3-64",
        (Family::Gen2Database, SizeClass::Small) => "db1-7",
        (Family::Gen2Database, SizeClass::Medium) => "db1-15",
        (Family::Gen2Database, SizeClass::Large) => "db1-30",
        (Family::Gen2Database, SizeClass::XLarge) => "db1-60",
    }
}

/// The flavor family of a PostgreSQL service: 3-AZ regions sell only the Gen 3 plans.
pub fn pg_family(settings: &Settings) -> Family {
    if settings.three_az() {
        Family::Gen3Database
    } else {
        Family::Gen2Database
    }
}

pub fn size_value(family: Family, size: &Value) -> Value {
    match size.peel() {
        Value::String(s) => match Size::parse(s) {
            Size::Class(class) => Value::from(flavor(family, class)),
            Size::Native(name) => Value::from(name),
        },
        _ => size.clone(),
    }
}

/// The Kubernetes minor a cluster gets when `version` is not set: the newest of
/// `cloud.kube.VersionEnum` in OVH's API description (1.31–1.34 in the copy of 2026-04-03,
/// `sims/api-specs/ovh/cloud.v1.json`). The plan-time offer check compares it with what the
/// API serves now.
pub const DEFAULT_K8S_VERSION: &str = "1.34";

/// The PostgreSQL major a service gets when `version` is not set.
pub const DEFAULT_PG_VERSION: &str = "16";

/// The Valkey version a service gets when `version` is not set.
pub const DEFAULT_VALKEY_VERSION: &str = "8.0";

/// How a PostgreSQL service is sized: the plan and its node count from `high_availability`
/// and `read_replicas`. 3-AZ regions sell only the Gen 3 plans, which have no single node:
/// `production` (2 nodes) and `advanced` (3); 1-AZ regions keep `essential` (1), `business`
/// (2) and `enterprise` (3). (OVH's guide "Migrate from Gen 2 to Gen 3", 2026-05-05.)
pub fn pg_plan(
    three_az: bool,
    high_availability: bool,
    read_replicas: i64,
) -> Option<(&'static str, i64)> {
    let standbys = read_replicas.max(i64::from(high_availability));
    match (three_az, standbys) {
        (true, 0 | 1) => Some(("production", 2)),
        (true, 2) => Some(("advanced", 3)),
        (false, 0) => Some(("essential", 1)),
        (false, 1) => Some(("business", 2)),
        (false, 2) => Some(("enterprise", 3)),
        _ => None,
    }
}

/// How a Managed Valkey service is sized: its only plan is `production`, with the primary and
/// its replicas as nodes.
pub fn valkey_plan(replicas: i64) -> (&'static str, i64) {
    ("production", replicas + 1)
}

/// The provider's own checks, on top of the portable ones. Unknown values are skipped.
pub fn validate(settings: &Settings, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let int = |k: &str| config.get(k).and_then(Value::as_i64);
    match type_name {
        component::NETWORK => {
            if !settings.zones.is_empty()
                && let Some(z) = int("zones")
                && z as usize > settings.zones.len()
            {
                out.push(
                    Diagnostic::error(format!(
                        "region {} has {} zones, `zones` is {z}",
                        settings.region,
                        settings.zones.len()
                    ))
                    .at(["zones"]),
                );
            }
        }
        component::KUBERNETES_CLUSTER => {
            // Which minors are on offer is asked of OVH at plan time; only the form is
            // checked here.
            if let Some(v) = config.get("version").and_then(Value::as_str)
                && (k8s_minor(v) != v || v.split('.').any(|n| n.parse::<u32>().is_err()))
            {
                out.push(
                    Diagnostic::error(format!(
                        "`version` is a Kubernetes minor version such as {DEFAULT_K8S_VERSION:?}, \
                         got {v:?}"
                    ))
                    .at(["version"]),
                );
            }
        }
        component::POSTGRES => {
            let ha = config
                .get("high_availability")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if let Some(r) = int("read_replicas")
                && pg_plan(settings.three_az(), ha, r).is_none()
            {
                out.push(
                    Diagnostic::error(format!(
                        "OVH Managed PostgreSQL has at most 3 nodes (primary and 2 standbys): \
                         `read_replicas` can be at most 2, got {r}"
                    ))
                    .at(["read_replicas"]),
                );
            }
            if config.get("password").is_some_and(|p| !p.is_null()) {
                out.push(
                    Diagnostic::error(
                        "OVH generates database passwords: remove `password` and reset the \
                         user's password with the OVH API or console",
                    )
                    .at(["password"]),
                );
            }
            if config.get("pooler").and_then(Value::as_bool) == Some(true) {
                out.push(
                    Diagnostic::warning(
                        "OVH Managed PostgreSQL connection pools are not created by ss yet: \
                         `pooler` is ignored and `pooler_endpoint` is null",
                    )
                    .at(["pooler"]),
                );
            }
        }
        component::REDIS_CLUSTER => {
            if let Some(shards) = int("shards")
                && shards != 1
            {
                out.push(
                    Diagnostic::error(format!(
                        "OVH Managed Valkey has no cluster mode: use `shards = 1` and a larger \
                         `size`, got {shards}"
                    ))
                    .at(["shards"]),
                );
            }
            if let Some(r) = int("replicas_per_shard")
                && r > 2
            {
                out.push(
                    Diagnostic::error(format!(
                        "OVH Managed Valkey has at most 3 nodes: `replicas_per_shard` can be at \
                         most 2, got {r}"
                    ))
                    .at(["replicas_per_shard"]),
                );
            }
        }
        component::REDIS => {
            if let Some(r) = int("replicas")
                && r > 2
            {
                out.push(
                    Diagnostic::error(format!(
                        "OVH Managed Valkey has at most 3 nodes: `replicas` can be at most 2, \
                         got {r}"
                    ))
                    .at(["replicas"]),
                );
            }
        }
        component::CDN if settings.cdn_service.is_none() || settings.cdn_zone.is_none() => {
            out.push(Diagnostic::error(
                "a `cdn` on OVH needs `cdn_service` (the CDN dedicated service name) and \
                 `cdn_zone` (a DNS zone you control) in the `provider \"ovh\"` block",
            ));
        }
        _ => {}
    }
    out
}

/// Expands a portable component; `None` when `type_name` is not one.
pub fn expand(
    settings: &Settings,
    type_name: &str,
    config: &Attrs,
) -> Option<Result<Expansion, Vec<Diagnostic>>> {
    let c = Reader::new(config);
    let result = match type_name {
        component::NETWORK => network(settings, &c),
        component::KUBERNETES_CLUSTER => kubernetes(settings, &c),
        component::POSTGRES => postgres(settings, &c),
        component::REDIS_CLUSTER => valkey(&c),
        component::REDIS => redis(&c),
        component::SUPERSET => kubernetes::app::superset(config, &Placement),
        component::LOAD_BALANCER => Ok(load_balancer(&c)),
        component::CDN => Ok(cdn(&c)),
        _ => return None,
    };
    Some(result.map_err(|d| vec![d]))
}

fn network(settings: &Settings, c: &Reader<'_>) -> Result<Expansion, Diagnostic> {
    let zone_names = net::zones(c, &settings.region, &settings.zones)?;
    let cidr = c.value("cidr", "10.0.0.0/16");
    // One zone takes the whole block; several split it (a block still unknown is passed on).
    let cidrs: Vec<Value> = match cidr.as_str() {
        Some(text) if zone_names.len() > 1 => net::split_cidr(text, zone_names.len())?
            .into_iter()
            .map(Value::from)
            .collect(),
        _ => vec![cidr.clone(); zone_names.len()],
    };
    let mut resources = vec![NativeSpec::new("network", NETWORK)];
    let mut subnet_ids = Vec::new();
    for (i, subnet_cidr) in cidrs.into_iter().enumerate() {
        let name = format!("subnet_{i}");
        resources.push(
            NativeSpec::new(&name, SUBNET)
                .set("network_id", Binding::attr("network", "id"))
                .set("cidr", subnet_cidr),
        );
        subnet_ids.push(Binding::attr(&name, "subnet_id"));
    }
    Ok(Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("network", "id")),
            ("subnet_ids", Binding::List(subnet_ids)),
            (
                "zone_names",
                Binding::Value(Value::List(
                    zone_names.into_iter().map(Value::from).collect(),
                )),
            ),
        ]),
    })
}

/// `n` spread over `zones` pools: each pool gets the ceiling, so the total is at least `n`.
fn per_zone(v: &Value, zones: usize) -> Value {
    match v.as_f64() {
        Some(n) if zones > 1 => Value::from((n / zones as f64).ceil()),
        _ => v.clone(),
    }
}

fn kubernetes(settings: &Settings, c: &Reader<'_>) -> Result<Expansion, Diagnostic> {
    let pools = c.known("node_pool", Value::Map(BTreeMap::new()), |v| {
        v.as_map().cloned()
    })?;
    let mut resources = vec![
        NativeSpec::new("cluster", KUBE)
            .set("network_id", c.value("network", Value::Null))
            .set("version", c.value("version", DEFAULT_K8S_VERSION)),
    ];
    let zones: Vec<Option<&String>> = if settings.zones.is_empty() {
        vec![None]
    } else {
        settings.zones.iter().map(Some).collect()
    };
    let mut taken = LocalNames::default();
    for (label, pool) in &pools {
        let get = |k: &str| pool.get(k).cloned().unwrap_or(Value::Null);
        let size = match get("size") {
            Value::Null => Value::from("medium"),
            v => v,
        };
        for zone in &zones {
            let local = match zone {
                Some(z) => format!(
                    "pool_{}_{}",
                    local_suffix(label),
                    local_suffix(z.rsplit('-').next().unwrap_or(z))
                ),
                None => format!("pool_{}", local_suffix(label)),
            };
            taken.claim(&local, label)?;
            let mut spec = NativeSpec::new(&local, NODEPOOL)
                .set("cluster_id", Binding::attr("cluster", "id"))
                .set("flavor", size_value(Family::Node, &size))
                .set("min_nodes", per_zone(&get("min"), zones.len()))
                .set("max_nodes", per_zone(&get("max"), zones.len()))
                .set("labels", pool_labels(label));
            if let Some(z) = zone {
                spec = spec.set("zone", Value::from(z.as_str()));
            }
            resources.push(spec);
        }
    }
    Ok(Expansion {
        resources,
        exports: Expansion::exports_of("cluster", component::CLUSTER_EXPORTS),
    })
}

/// The labels of a pool's nodes: the portable pool name under [`POOL_LABEL`], the same on the
/// pool's OVH node pools of every zone, so that one node selector finds them all.
fn pool_labels(label: &str) -> Value {
    Value::Map(Attrs::from([(POOL_LABEL.to_string(), Value::from(label))]))
}

fn postgres(settings: &Settings, c: &Reader<'_>) -> Result<Expansion, Diagnostic> {
    let ha = c.known("high_availability", false, Value::as_bool)?;
    let replicas = c.known("read_replicas", 0, Value::as_i64)?;
    let (plan, nodes) = pg_plan(settings.three_az(), ha, replicas).ok_or_else(|| {
        Diagnostic::error("OVH Managed PostgreSQL has at most 3 nodes").at(["read_replicas"])
    })?;
    let resources = vec![
        NativeSpec::new("service", POSTGRES)
            .set("network_id", c.value("network", Value::Null))
            .set("version", c.value("version", DEFAULT_PG_VERSION))
            .set("plan", Value::from(plan))
            .set("nodes", Value::from(nodes))
            .set(
                "flavor",
                size_value(pg_family(settings), &c.value("size", "medium")),
            )
            .set("disk_gb", c.value("storage_gb", 100)),
        // The service's administrator, whose password ss resets once and keeps: OVH shows a
        // password only when it makes one.
        NativeSpec::new("user", PG_USER).set("service_id", Binding::attr("service", "id")),
    ];
    Ok(Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("service", "id")),
            ("endpoint", Binding::attr("service", "endpoint")),
            (
                "reader_endpoints",
                Binding::attr("service", "reader_endpoints"),
            ),
            ("pooler_endpoint", Binding::Value(Value::Null)),
            ("port", Binding::attr("service", "port")),
            ("username", Binding::attr("user", "username")),
            ("password", Binding::attr("user", "password")),
        ]),
    })
}

/// The Managed Valkey service of a `redis_cluster` or a `redis`: the primary and `replicas`
/// replicas as nodes of the `production` plan.
fn valkey_service(c: &Reader<'_>, replicas: i64, default_size: &str) -> NativeSpec {
    let (plan, nodes) = valkey_plan(replicas);
    NativeSpec::new("service", VALKEY)
        .set("network_id", c.value("network", Value::Null))
        .set("version", c.value("version", DEFAULT_VALKEY_VERSION))
        .set("plan", Value::from(plan))
        .set("nodes", Value::from(nodes))
        .set(
            "flavor",
            size_value(Family::Gen3Database, &c.value("size", default_size)),
        )
}

fn valkey(c: &Reader<'_>) -> Result<Expansion, Diagnostic> {
    let replicas = c.known("replicas_per_shard", 1, Value::as_i64)?;
    Ok(Expansion {
        resources: vec![valkey_service(c, replicas, "medium")],
        exports: Expansion::exports(&[
            ("id", Binding::attr("service", "id")),
            (
                "configuration_endpoint",
                Binding::attr("service", "endpoint"),
            ),
            ("port", Binding::attr("service", "port")),
        ]),
    })
}

/// A `redis` (Celery's broker): a Managed Valkey service and the `default` user whose password
/// clients send. The service's one endpoint leads to the primary and follows a failover; OVH
/// gives no separate reader endpoint, so `reader_endpoint` is the same host.
fn redis(c: &Reader<'_>) -> Result<Expansion, Diagnostic> {
    let replicas = c.known("replicas", 1, Value::as_i64)?;
    let resources = vec![
        valkey_service(c, replicas, "small"),
        NativeSpec::new("user", VALKEY_USER).set("service_id", Binding::attr("service", "id")),
    ];
    Ok(Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("service", "id")),
            ("endpoint", Binding::attr("service", "endpoint")),
            ("reader_endpoint", Binding::attr("service", "endpoint")),
            ("port", Binding::attr("service", "port")),
            ("password", Binding::attr("user", "password")),
        ]),
    })
}

fn load_balancer(c: &Reader<'_>) -> Expansion {
    let health = c.value("health_check", Value::Null);
    let check = |key: &str, default: Value| field(&health, key, default);
    let port = c.value("port", 443);
    // Port 80 is plain HTTP; anything else passes TLS through to the cluster's ingress.
    let protocol = match port.as_i64() {
        Some(80) => Value::from("http"),
        Some(_) => Value::from("https"),
        None => Value::Unknown,
    };
    let interval = check("interval", Value::from(30));
    // A probe must end before the next one starts: half the interval, at most 10 s.
    let timeout = match interval.as_f64() {
        Some(i) => Value::from((i / 2.0).floor().clamp(1.0, 10.0)),
        None => Value::Unknown,
    };
    let resources = vec![
        NativeSpec::new("lb", LB).set("network_id", c.value("network", Value::Null)),
        NativeSpec::new("listener", LISTENER)
            .set("loadbalancer_id", Binding::attr("lb", "id"))
            .set("port", port)
            .set("protocol", protocol.clone()),
        NativeSpec::new("pool", POOL)
            .set("listener_id", Binding::attr("listener", "id"))
            .set("protocol", protocol.clone())
            .set("sticky_sessions", c.value("sticky_sessions", false)),
        NativeSpec::new("health_monitor", MONITOR)
            .set("pool_id", Binding::attr("pool", "id"))
            .set("monitor_type", protocol)
            .set("delay", interval)
            .set("timeout", timeout)
            .set("max_retries", check("healthy_threshold", Value::from(3)))
            .set("url_path", check("path", Value::from("/health"))),
    ];
    Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("lb", "id")),
            ("dns_name", Binding::attr("lb", "dns_name")),
        ]),
    }
}

/// How a portable cache rule path maps to an OVH rule: `(fileType, fileMatch)`.
/// `/static/*` and `/static/` → folder `/static/`; `*.js` → extension `js`; anything else →
/// file.
pub fn cache_rule_match(path: &str) -> (&'static str, String) {
    if let Some(ext) = path.strip_prefix("*.").or_else(|| path.strip_prefix("/*.")) {
        return ("extension", ext.to_string());
    }
    if let Some(folder) = path.strip_suffix('*') {
        return ("folder", folder.to_string());
    }
    if path.ends_with('/') {
        return ("folder", path.to_string());
    }
    ("file", path.to_string())
}

fn cdn(c: &Reader<'_>) -> Expansion {
    let mut resources = vec![
        NativeSpec::new("domain", CDN_DOMAIN),
        NativeSpec::new("backend", CDN_BACKEND)
            .set("domain", Binding::attr("domain", "id"))
            .set("ip", c.value("origin", Value::Null)),
    ];
    let rules = c.value("cache_rule", Value::List(Vec::new()));
    for (i, rule) in rules.as_list().unwrap_or_default().iter().enumerate() {
        let (file_type, file_match) = match rule.get("path").and_then(Value::as_str) {
            Some(p) => {
                let (t, m) = cache_rule_match(p);
                (Value::from(t), Value::from(m))
            }
            None => (Value::Unknown, Value::Unknown),
        };
        let ttl = rule.get("ttl").cloned().unwrap_or(Value::Unknown);
        let cache_type = match ttl.as_f64() {
            Some(t) if t <= 0.0 => Value::from("noCache"),
            Some(_) => Value::from("forceCache"),
            None => Value::Unknown,
        };
        resources.push(
            NativeSpec::new(&format!("cache_rule_{i}"), CDN_RULE)
                .set("domain", Binding::attr("domain", "id"))
                .set("file_match", file_match)
                .set("file_type", file_type)
                .set("cache_type", cache_type)
                .set("ttl", ttl)
                .after("backend"),
        );
    }
    Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("domain", "id")),
            ("domain_name", Binding::attr("domain", "domain")),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::region_zones;

    fn par() -> Settings {
        Settings {
            region: "EU-WEST-PAR".into(),
            zones: region_zones("EU-WEST-PAR"),
            cdn_service: Some("cdn-1".into()),
            cdn_zone: Some("cdn.example.com".into()),
        }
    }

    #[test]
    fn network_has_one_subnet_per_zone() {
        let cfg = Attrs::from([
            ("cidr".into(), Value::from("10.0.0.0/16")),
            ("zones".into(), Value::from(3)),
        ]);
        let e = expand(&par(), component::NETWORK, &cfg)
            .expect("component")
            .expect("ok");
        let names: Vec<_> = e.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["network", "subnet_0", "subnet_1", "subnet_2"]);
        assert_eq!(
            e.get("subnet_1").expect("s1").config["cidr"],
            Binding::Value(Value::from("10.0.16.0/20"))
        );
        let single = Settings {
            region: "GRA11".into(),
            ..Settings::default()
        };
        let e = expand(&single, component::NETWORK, &cfg)
            .expect("component")
            .expect("ok");
        assert_eq!(e.resources.len(), 2);
    }

    #[test]
    fn node_pools_are_spread_over_zones() {
        let pool = Value::Map(Attrs::from([
            ("size".into(), Value::from("large")),
            ("min".into(), Value::from(5)),
            ("max".into(), Value::from(20)),
        ]));
        let cfg = Attrs::from([
            ("network".into(), Value::from("net-1")),
            (
                "node_pool".into(),
                Value::Map(Attrs::from([("web".into(), pool)])),
            ),
        ]);
        let e = expand(&par(), component::KUBERNETES_CLUSTER, &cfg)
            .expect("component")
            .expect("ok");
        let a = e.get("pool_web_a").expect("zone a");
        assert_eq!(a.config["flavor"], Binding::Value(Value::from("b3-32")));
        assert_eq!(a.config["min_nodes"], Binding::Value(Value::from(2)));
        assert_eq!(a.config["max_nodes"], Binding::Value(Value::from(7)));
        assert_eq!(
            a.config["zone"],
            Binding::Value(Value::from("eu-west-par-a"))
        );
        assert!(e.get("pool_web_c").is_some());
    }

    #[test]
    fn postgres_plan_follows_ha_replicas_and_the_region() {
        // 1-AZ regions: the Gen 2 plans.
        assert_eq!(pg_plan(false, false, 0), Some(("essential", 1)));
        assert_eq!(pg_plan(false, true, 0), Some(("business", 2)));
        assert_eq!(pg_plan(false, true, 1), Some(("business", 2)));
        assert_eq!(pg_plan(false, true, 2), Some(("enterprise", 3)));
        assert_eq!(pg_plan(false, false, 3), None);
        // 3-AZ regions sell no business/enterprise plan and no single node.
        assert_eq!(pg_plan(true, false, 0), Some(("production", 2)));
        assert_eq!(pg_plan(true, true, 1), Some(("production", 2)));
        assert_eq!(pg_plan(true, true, 2), Some(("advanced", 3)));
        assert_eq!(pg_plan(true, true, 3), None);
    }

    #[test]
    fn databases_in_a_3az_region_use_plans_and_flavors_sold_there() {
        let pg = Attrs::from([
            ("network".into(), Value::from("net-1")),
            ("size".into(), Value::from("large")),
            ("high_availability".into(), Value::from(true)),
            ("read_replicas".into(), Value::from(2)),
        ]);
        let e = expand(&par(), component::POSTGRES, &pg)
            .expect("component")
            .expect("ok");
        let svc = &e.get("service").expect("service").config;
        assert_eq!(svc["plan"], Binding::Value(Value::from("advanced")));
        assert_eq!(svc["flavor"], Binding::Value(Value::from("b3-32")));
        assert_eq!(svc["nodes"], Binding::Value(Value::from(3)));
        // Superset connects as the service's administrator, with the password ss reset.
        assert_eq!(e.get("user").expect("user").type_name, PG_USER);
        assert_eq!(e.exports["username"], Binding::attr("user", "username"));
        assert_eq!(e.exports["password"], Binding::attr("user", "password"));
        let gra = Settings {
            region: "GRA11".into(),
            ..Settings::default()
        };
        let e = expand(&gra, component::POSTGRES, &pg)
            .expect("component")
            .expect("ok");
        let svc = &e.get("service").expect("service").config;
        assert_eq!(svc["plan"], Binding::Value(Value::from("enterprise")));
        assert_eq!(svc["flavor"], Binding::Value(Value::from("db1-30")));
        // Managed Valkey is sold only as production on b3, in every region.
        let cache = Attrs::from([
            ("size".into(), Value::from("medium")),
            ("replicas_per_shard".into(), Value::from(1)),
        ]);
        for settings in [par(), gra] {
            let e = expand(&settings, component::REDIS_CLUSTER, &cache)
                .expect("component")
                .expect("ok");
            let svc = &e.get("service").expect("service").config;
            assert_eq!(svc["plan"], Binding::Value(Value::from("production")));
            assert_eq!(svc["flavor"], Binding::Value(Value::from("b3-16")));
            assert_eq!(svc["nodes"], Binding::Value(Value::from(2)));
        }
    }

    #[test]
    fn a_redis_is_a_valkey_service_with_a_replica_and_its_default_user() {
        let cfg = Attrs::from([
            ("network".into(), Value::from("net-1")),
            ("version".into(), Value::from("8.0")),
            ("replicas".into(), Value::from(1)),
            ("size".into(), Value::from("small")),
        ]);
        let e = expand(&par(), component::REDIS, &cfg)
            .expect("component")
            .expect("ok");
        let svc = &e.get("service").expect("service").config;
        assert_eq!(svc["plan"], Binding::Value(Value::from("production")));
        assert_eq!(svc["nodes"], Binding::Value(Value::from(2)));
        assert_eq!(svc["flavor"], Binding::Value(Value::from("b3-8")));
        let user = e.get("user").expect("user");
        assert_eq!(user.type_name, VALKEY_USER);
        assert_eq!(user.config["service_id"], Binding::attr("service", "id"));
        assert_eq!(e.exports["password"], Binding::attr("user", "password"));
        assert_eq!(e.exports["endpoint"], Binding::attr("service", "endpoint"));
        let too_many = validate(
            &par(),
            component::REDIS,
            &Attrs::from([("replicas".into(), Value::from(3))]),
        );
        assert_eq!(too_many.len(), 1, "{too_many:?}");
    }

    #[test]
    fn every_zone_pool_of_a_portable_pool_carries_its_label() {
        let pool = Value::Map(Attrs::from([
            ("min".into(), Value::from(3)),
            ("max".into(), Value::from(6)),
        ]));
        let cfg = Attrs::from([
            ("network".into(), Value::from("net-1")),
            (
                "node_pool".into(),
                Value::Map(Attrs::from([("worker".into(), pool)])),
            ),
        ]);
        let e = expand(&par(), component::KUBERNETES_CLUSTER, &cfg)
            .expect("component")
            .expect("ok");
        for zone in ["a", "b", "c"] {
            let p = e.get(&format!("pool_worker_{zone}")).expect("pool");
            assert_eq!(p.config["labels"], Binding::Value(pool_labels("worker")));
        }
    }

    #[test]
    fn superset_runs_in_the_ovh_cluster_on_the_labelled_pools() {
        let cfg = Attrs::from([
            (
                "cluster".into(),
                Value::Map(Attrs::from([("id".into(), Value::from("kube-1"))])),
            ),
            ("database".into(), Value::Map(Attrs::new())),
            ("cache".into(), Value::Map(Attrs::new())),
            ("broker".into(), Value::Map(Attrs::new())),
            (
                "load_balancer".into(),
                Value::Map(Attrs::from([("id".into(), Value::from("lb-1"))])),
            ),
        ]);
        let e = expand(&par(), component::SUPERSET, &cfg)
            .expect("component")
            .expect("ok");
        let web = e.get("web_deployment").expect("web");
        assert_eq!(
            web.config["cluster"],
            Binding::Value(Value::from("ovh:kube-1"))
        );
        let manifest = format!("{:?}", web.config["manifest"]);
        assert!(manifest.contains(POOL_LABEL), "{manifest}");
        let service = format!("{:?}", e.get("web_service").expect("service").config);
        assert!(service.contains("NodePort"), "{service}");
    }

    #[test]
    fn the_cluster_gets_the_default_minor_and_exports_its_version() {
        let e = expand(
            &par(),
            component::KUBERNETES_CLUSTER,
            &Attrs::from([("network".into(), Value::from("net-1"))]),
        )
        .expect("component")
        .expect("ok");
        assert_eq!(
            e.get("cluster").expect("cluster").config["version"],
            Binding::Value(Value::from(DEFAULT_K8S_VERSION))
        );
        assert_eq!(
            e.exports.get("version"),
            Some(&Binding::attr("cluster", "version"))
        );
    }

    #[test]
    fn api_versions_are_cut_to_the_minor() {
        assert_eq!(k8s_minor("1.32.9-1"), "1.32");
        assert_eq!(k8s_minor("1.25.4-1"), "1.25");
        assert_eq!(k8s_minor("1.32"), "1.32");
        let bad = validate(
            &par(),
            component::KUBERNETES_CLUSTER,
            &Attrs::from([("version".into(), Value::from("1.32.9"))]),
        );
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(
            validate(
                &par(),
                component::KUBERNETES_CLUSTER,
                &Attrs::from([("version".into(), Value::from("1.33"))]),
            )
            .is_empty()
        );
    }

    #[test]
    fn cache_rules_map_to_ovh_kinds() {
        assert_eq!(
            cache_rule_match("/static/assets/*"),
            ("folder", "/static/assets/".into())
        );
        assert_eq!(cache_rule_match("*.js"), ("extension", "js".into()));
        assert_eq!(
            cache_rule_match("/index.html"),
            ("file", "/index.html".into())
        );
    }
}
