//! How each portable component becomes Google Cloud native resources, and the provider's own
//! checks. The tables are in the crate documentation (`lib.rs`).

use std::collections::BTreeMap;

use provider_api::component::{self, Size, SizeClass};
use provider_api::kit::config::{LocalNames, Reader, field, local_suffix};
use provider_api::kit::net;
use provider_api::{Attrs, Binding, Diagnostic, Expansion, NativeSpec, Value};

use crate::cdn::{CDN, CDN_TTL_DEFAULTS, ORIGIN_HEADERS};
use crate::gke::{CLUSTER, NODE_POOL};
use crate::lb::{BACKEND_SERVICE, FORWARDING_RULE, HEALTH_CHECK, HTTP_PROXY, URL_MAP};
use crate::memorystore::{REDIS_INSTANCE, REDIS_VERSIONS, memory_gb, redis_version};
use crate::network::{ADDRESS, NETWORK, SUBNETWORK};
use crate::networkconnectivity::{REDIS_SERVICE_CLASS, SC_POLICY};
use crate::redis::REDIS;
use crate::servicenetworking::SN_CONNECTION;
use crate::settings::Settings;
use crate::sql::{SQL_INSTANCE, SQL_USER};

/// A family of Google Cloud machine / tier names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// GKE nodes: Compute Engine machine types.
    Node,
    /// Cloud SQL tiers.
    Sql,
    /// Memorystore Redis Cluster node types.
    Redis,
}

/// The native name of a size class.
pub fn machine(family: Family, class: SizeClass) -> &'static str {
    match (family, class) {
        (Family::Node, SizeClass::Small) => "e2-standard-2",
        (Family::Node, SizeClass::Medium) => "e2-standard-4",
        (Family::Node, SizeClass::Large) => "e2-standard-8",
        (Family::Node, SizeClass::XLarge) => "e2-standard-16",
        (Family::Sql, SizeClass::Small) => "db-custom-2-7680",
        (Family::Sql, SizeClass::Medium) => "db-custom-4-15360",
        (Family::Sql, SizeClass::Large) => "db-custom-8-30720",
        (Family::Sql, SizeClass::XLarge) => "db-custom-16-61440",
        (Family::Redis, SizeClass::Small) => "REDIS_SHARED_CORE_NANO",
        (Family::Redis, SizeClass::Medium) => "REDIS_STANDARD_SMALL",
        (Family::Redis, SizeClass::Large) => "REDIS_HIGHMEM_MEDIUM",
        (Family::Redis, SizeClass::XLarge) => "REDIS_HIGHMEM_XLARGE",
    }
}

fn size_value(family: Family, size: &Value) -> Value {
    match size.peel() {
        Value::String(s) => match Size::parse(s) {
            Size::Class(class) => Value::from(machine(family, class)),
            Size::Native(name) => Value::from(name),
        },
        _ => size.clone(),
    }
}

/// The provider's own checks, on top of the portable ones. Unknown values are skipped.
pub fn validate(settings: &Settings, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let int = |k: &str| config.get(k).and_then(Value::as_i64);
    match type_name {
        component::NETWORK => {
            if let Some(z) = int("zones")
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
        component::POSTGRES => {
            if let Some(v) = config.get("version").and_then(Value::as_str)
                && !PG_VERSIONS.contains(&v)
            {
                out.push(
                    Diagnostic::error(format!(
                        "Cloud SQL does not offer PostgreSQL {v:?}; supported: {}",
                        PG_VERSIONS.join(", ")
                    ))
                    .at(["version"]),
                );
            }
            if config.get("pooler").and_then(Value::as_bool) == Some(true) {
                out.push(
                    Diagnostic::warning(
                        "Cloud SQL's managed connection pooling is not created by ss yet: \
                         `pooler` is ignored and `pooler_endpoint` is null",
                    )
                    .at(["pooler"]),
                );
            }
        }
        component::REDIS_CLUSTER => {
            if let Some(r) = int("replicas_per_shard")
                && r > 2
            {
                out.push(
                    Diagnostic::error(format!(
                        "Memorystore Redis Cluster has at most 2 replicas per shard, got {r}"
                    ))
                    .at(["replicas_per_shard"]),
                );
            }
        }
        component::REDIS => validate_redis(config, &mut out),
        component::LOAD_BALANCER => {
            if let Some(p) = int("port")
                && p != 80
                && p != 8080
            {
                out.push(
                    Diagnostic::warning(format!(
                        "the GCP load balancer is an HTTP proxy (TLS certificates are not \
                         mapped yet); Google accepts ports 80 and 8080 for it, not {p}"
                    ))
                    .at(["port"]),
                );
            }
        }
        CDN if config.get("cache_mode").and_then(Value::as_str) == Some(ORIGIN_HEADERS) => {
            for (ttl, _) in CDN_TTL_DEFAULTS {
                if config.get(ttl).is_some_and(|v| !v.is_null()) {
                    out.push(
                        Diagnostic::error(format!(
                            "with cache_mode = \"{}\" the origin's Cache-Control decides and \
                             Cloud CDN refuses `{ttl}`: remove it",
                            ORIGIN_HEADERS
                        ))
                        .at([ttl]),
                    );
                }
            }
        }
        _ => {}
    }
    out
}

/// The minor a cluster gets when `version` is not set: the default of GKE's default release
/// channel (REGULAR, which a cluster created without a channel joins) in December 2026, and
/// one it offers there (1.36 and 1.35; `sims/gcp-sim/src/container.rs` holds the same offer).
pub const DEFAULT_K8S_VERSION: &str = "1.36";

pub const PG_VERSIONS: [&str; 5] = ["13", "14", "15", "16", "17"];

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
        component::POSTGRES => postgres(&c),
        component::REDIS_CLUSTER => Ok(redis(&c)),
        component::REDIS => Ok(redis_instance(&c)),
        component::SUPERSET => crate::placement::superset(config),
        component::LOAD_BALANCER => Ok(load_balancer(&c)),
        component::CDN => Ok(cdn(&c)),
        _ => return None,
    };
    Some(result.map_err(|d| vec![d]))
}

/// Size of the range private services access allocates Cloud SQL's addresses from: a /16,
/// Google's recommendation for the allocated range (room for every producer service that
/// peers through it, and for instances added later without re-allocating).
const PEERING_PREFIX: i64 = 16;

fn network(settings: &Settings, c: &Reader<'_>) -> Result<Expansion, Diagnostic> {
    let zone_names: Vec<Value> = net::zones(c, &settings.region, &settings.zones)?
        .into_iter()
        .map(Value::from)
        .collect();
    // A GCP subnetwork is regional: one subnetwork serves every zone of the region. The
    // prerequisites of Cloud SQL's private IP (a VPC_PEERING range and the private services
    // access connection) and of Memorystore (a service connection policy) are made here, once
    // per network: every postgres and redis_cluster on the network depends on the network's
    // resources, so they are created first and destroyed last (see the crate docs).
    let resources = vec![
        NativeSpec::new("network", NETWORK),
        NativeSpec::new("subnet", SUBNETWORK)
            .set("network", Binding::attr("network", "id"))
            .set("cidr", c.value("cidr", "10.0.0.0/16")),
        NativeSpec::new("peering_range", ADDRESS)
            .set("network", Binding::attr("network", "id"))
            .set("purpose", Value::from("VPC_PEERING"))
            .set("prefix_length", Value::from(PEERING_PREFIX)),
        NativeSpec::new("private_services", SN_CONNECTION)
            .set("network", Binding::attr("network", "id"))
            .set(
                "reserved_peering_ranges",
                Binding::List(vec![Binding::attr("peering_range", "name")]),
            ),
        NativeSpec::new("psc_policy", SC_POLICY)
            .set("network", Binding::attr("network", "id"))
            .set("service_class", Value::from(REDIS_SERVICE_CLASS))
            .set(
                "subnetworks",
                Binding::List(vec![Binding::attr("subnet", "id")]),
            ),
    ];
    Ok(Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("network", "id")),
            (
                "subnet_ids",
                Binding::List(vec![Binding::attr("subnet", "id")]),
            ),
            ("zone_names", Binding::Value(Value::List(zone_names))),
        ]),
    })
}

/// Nodes per zone at creation: the pool's minimum spread over the zones, at least one.
fn per_zone(min: &Value, zones: usize) -> Value {
    match min.as_f64() {
        Some(n) => Value::from((n / zones.max(1) as f64).ceil().max(1.0)),
        None => min.clone(),
    }
}

fn kubernetes(settings: &Settings, c: &Reader<'_>) -> Result<Expansion, Diagnostic> {
    let pools = c.known("node_pool", Value::Map(BTreeMap::new()), |v| {
        v.as_map().cloned()
    })?;
    let mut resources = vec![
        NativeSpec::new("cluster", CLUSTER)
            .set("network", c.value("network", Value::Null))
            .set("version", c.value("version", DEFAULT_K8S_VERSION)),
    ];
    let mut taken = LocalNames::default();
    let mut previous: Option<String> = None;
    for (label, pool) in &pools {
        let get = |k: &str| pool.get(k).cloned().unwrap_or(Value::Null);
        let size = match get("size") {
            Value::Null => Value::from("medium"),
            v => v,
        };
        let local = format!("pool_{}", local_suffix(label));
        taken.claim(&local, label)?;
        let mut spec = NativeSpec::new(&local, NODE_POOL)
            .set("cluster", Binding::attr("cluster", "id"))
            .set("machine_type", size_value(Family::Node, &size))
            .set("min_nodes", get("min"))
            .set("max_nodes", get("max"))
            .set("pool_label", Value::from(label.as_str()))
            .set(
                "initial_nodes_per_zone",
                per_zone(&get("min"), settings.zones.len()),
            );
        // GKE runs one operation at a time per cluster: node pools are made one after another.
        if let Some(prev) = &previous {
            spec = spec.after(prev);
        }
        previous = Some(local.clone());
        resources.push(spec);
    }
    Ok(Expansion {
        resources,
        exports: Expansion::exports_of("cluster", component::CLUSTER_EXPORTS),
    })
}

fn postgres(c: &Reader<'_>) -> Result<Expansion, Diagnostic> {
    let ha = c.known("high_availability", false, Value::as_bool)?;
    let replicas = c.known("read_replicas", 0, Value::as_i64)?.max(0);
    let version = match c.value("version", "16") {
        Value::String(v) => Value::from(format!("POSTGRES_{}", v.replace('.', "_"))),
        other => other,
    };
    let tier = size_value(Family::Sql, &c.value("size", "medium"));
    let primary = NativeSpec::new("primary", SQL_INSTANCE)
        .set("database_version", version.clone())
        .set("tier", tier.clone())
        .set("disk_gb", c.value("storage_gb", 100))
        .set(
            "availability_type",
            Value::from(if ha { "REGIONAL" } else { "ZONAL" }),
        )
        .set("network", c.value("network", Value::Null));
    let mut resources = vec![primary];
    let mut readers = Vec::new();
    let mut previous = "user".to_string();
    for i in 0..replicas {
        let name = format!("replica_{i}");
        resources.push(
            NativeSpec::new(&name, SQL_INSTANCE)
                .set("database_version", version.clone())
                .set("tier", tier.clone())
                .set("disk_gb", c.value("storage_gb", 100))
                .set("availability_type", Value::from("ZONAL"))
                .set("network", c.value("network", Value::Null))
                .set("master", Binding::attr("primary", "name"))
                // Cloud SQL runs one operation at a time per primary: replicas one by one.
                .after(&previous),
        );
        readers.push(Binding::attr(&name, "private_ip"));
        previous = name;
    }
    resources.insert(
        1,
        NativeSpec::new("user", SQL_USER)
            .set("instance", Binding::attr("primary", "name"))
            .set("username", c.value("username", "superset"))
            .set("password", c.value("password", Value::Null)),
    );
    Ok(Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("primary", "id")),
            ("endpoint", Binding::attr("primary", "private_ip")),
            ("reader_endpoints", Binding::List(readers)),
            ("pooler_endpoint", Binding::Value(Value::Null)),
            ("port", Binding::attr("primary", "port")),
            ("password", Binding::attr("user", "password")),
        ]),
    })
}

fn redis(c: &Reader<'_>) -> Expansion {
    let resources = vec![
        NativeSpec::new("cluster", REDIS)
            .set("network", c.value("network", Value::Null))
            .set("shards", c.value("shards", 3))
            .set("replicas_per_shard", c.value("replicas_per_shard", 1))
            .set(
                "node_type",
                size_value(Family::Redis, &c.value("size", "medium")),
            ),
    ];
    Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("cluster", "id")),
            (
                "configuration_endpoint",
                Binding::attr("cluster", "endpoint"),
            ),
            ("port", Binding::attr("cluster", "port")),
        ]),
    }
}

/// Memorystore for Redis's checks: a version it offers (or one below an offered one of the
/// same major) and a size it can make.
fn validate_redis(config: &Attrs, out: &mut Vec<Diagnostic>) {
    if let Some(v) = config.get("version").and_then(Value::as_str) {
        match redis_version(v) {
            None => out.push(
                Diagnostic::error(format!(
                    "Memorystore for Redis does not offer Redis {v:?}; offered: {}",
                    REDIS_VERSIONS.join(", ")
                ))
                .at(["version"]),
            ),
            Some(served) if !REDIS_VERSIONS.contains(&v) => out.push(
                Diagnostic::warning(format!(
                    "Memorystore for Redis does not offer Redis {v:?}: {served} is created \
                     (offered: {})",
                    REDIS_VERSIONS.join(", ")
                ))
                .at(["version"]),
            ),
            Some(_) => {}
        }
    }
    if let Some(size) = config.get("size").and_then(Value::as_str)
        && let Size::Native(name) = Size::parse(size)
        && name.parse::<i64>().map_or(true, |gb| gb < 5)
    {
        out.push(
            Diagnostic::error(format!(
                "a Memorystore for Redis size is a class (small, medium, large, xlarge) or a \
                 memory size in GB of at least 5 (read replicas need 5), got {size:?}"
            ))
            .at(["size"]),
        );
    }
}

/// The memory of a `redis`, GB, from its size (a class or a number of GB).
fn redis_memory(size: &Value) -> Value {
    match size.peel() {
        Value::String(s) => match Size::parse(s) {
            Size::Class(class) => Value::from(memory_gb(class)),
            Size::Native(name) => name.parse::<i64>().map_or(Value::Unknown, Value::from),
        },
        _ => size.clone(),
    }
}

/// A `redis`: a Memorystore for Redis instance, `STANDARD_HA` with read replicas, on the
/// network's private services access range (made by the `network` component for Cloud SQL).
/// No AUTH and no TLS (`authEnabled` false, `transitEncryptionMode` DISABLED): the instance is
/// reachable only inside the VPC, as the Cloud SQL instances are.
fn redis_instance(c: &Reader<'_>) -> Expansion {
    let version = match c.value("version", "7.1") {
        Value::String(v) => redis_version(&v).map_or(Value::Unknown, Value::from),
        other => other,
    };
    let resources = vec![
        NativeSpec::new("redis", REDIS_INSTANCE)
            .set("network", c.value("network", Value::Null))
            .set("memory_gb", redis_memory(&c.value("size", "small")))
            .set("redis_version", version)
            .set("replicas", c.value("replicas", 1)),
    ];
    Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("redis", "id")),
            ("endpoint", Binding::attr("redis", "host")),
            ("reader_endpoint", Binding::attr("redis", "read_endpoint")),
            ("port", Binding::attr("redis", "port")),
            ("password", Binding::Value(Value::Null)),
        ]),
    }
}

fn load_balancer(c: &Reader<'_>) -> Expansion {
    let health = c.value("health_check", Value::Null);
    let check = |key: &str, default: Value| field(&health, key, default);
    let interval = check("interval", Value::from(30));
    // A probe must end before the next one starts: half the interval, at most 10 s.
    let timeout = match interval.as_f64() {
        Some(i) => Value::from((i / 2.0).floor().clamp(1.0, 10.0)),
        None => Value::Unknown,
    };
    let affinity = match c.value("sticky_sessions", false).as_bool() {
        Some(true) => Value::from("GENERATED_COOKIE"),
        Some(false) => Value::from("NONE"),
        None => Value::Unknown,
    };
    let resources = vec![
        NativeSpec::new("health_check", HEALTH_CHECK)
            .set("path", check("path", Value::from("/health")))
            .set("interval", interval)
            .set("timeout", timeout)
            .set(
                "healthy_threshold",
                check("healthy_threshold", Value::from(3)),
            ),
        NativeSpec::new("backend_service", BACKEND_SERVICE)
            .set("health_check", Binding::attr("health_check", "id"))
            .set("session_affinity", affinity),
        NativeSpec::new("url_map", URL_MAP)
            .set("default_service", Binding::attr("backend_service", "id")),
        NativeSpec::new("proxy", HTTP_PROXY).set("url_map", Binding::attr("url_map", "id")),
        NativeSpec::new("forwarding_rule", FORWARDING_RULE)
            .set("target", Binding::attr("proxy", "id"))
            .set("port", c.value("port", 443)),
    ];
    Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("backend_service", "id")),
            ("dns_name", Binding::attr("forwarding_rule", "ip_address")),
        ]),
    }
}

/// Cloud CDN caches per backend service, not per path: the `/*` rule's TTL (else the
/// shortest) becomes `defaultTtl`, the longest becomes `maxTtl` and `clientTtl` (what an
/// origin's `Cache-Control` may ask for, as Superset does for its hashed bundle).
pub fn ttls(rules: &[(String, f64)]) -> (f64, f64) {
    let default = rules
        .iter()
        .find(|(p, _)| p == "/*" || p == "/")
        .map(|(_, t)| *t)
        .or_else(|| rules.iter().map(|(_, t)| *t).reduce(f64::min))
        .unwrap_or(3600.0);
    let max = rules
        .iter()
        .map(|(_, t)| *t)
        .fold(default, f64::max)
        .max(default);
    (default, max)
}

fn cdn(c: &Reader<'_>) -> Expansion {
    let rules = c.value("cache_rule", Value::List(Vec::new()));
    let parsed: Option<Vec<(String, f64)>> = rules.as_list().map(|list| {
        list.iter()
            .filter_map(|r| {
                Some((
                    r.get("path")?.as_str()?.to_string(),
                    r.get("ttl")?.as_f64()?,
                ))
            })
            .collect()
    });
    let known = rules.is_wholly_known()
        && parsed.as_ref().map(Vec::len) == rules.as_list().map(<[Value]>::len);
    let (default_ttl, max_ttl) = match (&parsed, known) {
        (Some(p), true) => {
            let (d, m) = ttls(p);
            (Value::from(d), Value::from(m))
        }
        _ => (Value::Unknown, Value::Unknown),
    };
    let compression = match c.value("compression", Value::List(Vec::new())).as_list() {
        Some(list) => Value::from(!list.is_empty()),
        None => Value::Unknown,
    };
    let resources = vec![
        NativeSpec::new("cdn", CDN)
            .set("origin", c.value("origin", Value::Null))
            .set("default_ttl", default_ttl)
            .set("max_ttl", max_ttl.clone())
            .set("client_ttl", max_ttl)
            .set("compression", compression),
    ];
    Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("cdn", "id")),
            ("domain_name", Binding::attr("cdn", "domain_name")),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::settings::region_zones;

    fn settings() -> Settings {
        Settings {
            project: "p".into(),
            region: "europe-west1".into(),
            zones: region_zones("europe-west1"),
        }
    }

    #[test]
    fn postgres_ha_with_replicas() {
        let cfg = Attrs::from([
            (
                "network".into(),
                Value::from("projects/p/global/networks/n"),
            ),
            ("high_availability".into(), Value::from(true)),
            ("read_replicas".into(), Value::from(2)),
            ("size".into(), Value::from("large")),
        ]);
        let e = expand(&settings(), component::POSTGRES, &cfg)
            .expect("component")
            .expect("ok");
        let names: Vec<_> = e.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["primary", "user", "replica_0", "replica_1"]);
        let p = e.get("primary").expect("primary");
        assert_eq!(
            p.config["availability_type"],
            Binding::Value(Value::from("REGIONAL"))
        );
        assert_eq!(
            p.config["tier"],
            Binding::Value(Value::from("db-custom-8-30720"))
        );
        assert_eq!(
            p.config["database_version"],
            Binding::Value(Value::from("POSTGRES_16"))
        );
        assert!(
            e.get("replica_1")
                .expect("r1")
                .depends_on
                .contains(&"replica_0".to_string())
        );
    }

    #[test]
    fn node_pools_are_serialised_and_sized_per_zone() {
        let pool = |min: i64, max: i64| {
            Value::Map(Attrs::from([
                ("size".into(), Value::from("large")),
                ("min".into(), Value::from(min)),
                ("max".into(), Value::from(max)),
            ]))
        };
        let cfg = Attrs::from([
            ("network".into(), Value::from("n")),
            (
                "node_pool".into(),
                Value::Map(Attrs::from([
                    ("web".into(), pool(5, 20)),
                    ("worker".into(), pool(10, 30)),
                ])),
            ),
        ]);
        let e = expand(&settings(), component::KUBERNETES_CLUSTER, &cfg)
            .expect("component")
            .expect("ok");
        let web = e.get("pool_web").expect("web");
        assert_eq!(
            web.config["initial_nodes_per_zone"],
            Binding::Value(Value::from(2))
        );
        assert_eq!(
            web.config["machine_type"],
            Binding::Value(Value::from("e2-standard-8"))
        );
        assert_eq!(e.get("pool_worker").expect("w").depends_on, ["pool_web"]);
    }

    #[test]
    fn a_redis_is_a_memorystore_instance_of_an_offered_version() {
        let cfg = |version: &str, size: &str| {
            Attrs::from([
                (
                    "network".into(),
                    Value::from("projects/p/global/networks/n"),
                ),
                ("version".into(), Value::from(version)),
                ("size".into(), Value::from(size)),
                ("replicas".into(), Value::from(2)),
            ])
        };
        let e = expand(&settings(), component::REDIS, &cfg("7.1", "medium"))
            .expect("component")
            .expect("ok");
        let r = e.get("redis").expect("redis");
        assert_eq!(
            r.config["redis_version"],
            Binding::Value(Value::from("REDIS_7_2"))
        );
        assert_eq!(r.config["memory_gb"], Binding::Value(Value::from(16)));
        assert_eq!(e.exports["password"], Binding::Value(Value::Null));
        let check = |version: &str, size: &str| {
            validate(&settings(), component::REDIS, &cfg(version, size))
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert!(check("7.2", "small").is_empty());
        let served = check("7.1", "12");
        assert_eq!(served.len(), 1, "{served:?}");
        assert!(served[0].contains("REDIS_7_2 is created"), "{served:?}");
        let refused = check("8.0", "4");
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(refused[0].contains("offered: 3.2"), "{refused:?}");
        assert!(refused[1].contains("at least 5"), "{refused:?}");
    }

    #[test]
    fn cdn_ttls() {
        let rules = vec![
            ("/static/assets/*".to_string(), 31_536_000.0),
            ("/*".to_string(), 0.0),
        ];
        assert_eq!(ttls(&rules), (0.0, 31_536_000.0));
        assert_eq!(ttls(&[]), (3600.0, 3600.0));
    }
}
