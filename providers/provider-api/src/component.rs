//! The portable components: their schemas and checks are the public interface of `ss`, the same
//! on every provider. Each provider decides how to decompose them into native resources.

use std::collections::BTreeMap;

use crate::Diagnostic;
use crate::kit::schema::{b, n, s};
use crate::schema::{
    AttrType, AttributeSchema as A, BlockSchema, Body, Nesting, ResourceKind, ResourceSchema,
};
use crate::value::Value;

pub const NETWORK: &str = "network";
pub const KUBERNETES_CLUSTER: &str = "kubernetes_cluster";
pub const POSTGRES: &str = "postgres";
pub const REDIS_CLUSTER: &str = "redis_cluster";
pub const LOAD_BALANCER: &str = "load_balancer";
pub const CDN: &str = "cdn";
pub const REDIS: &str = "redis";
pub const SUPERSET: &str = "superset";

mod app;
pub use app::{KEDA_MANIFEST, METRICS_SERVER_MANIFEST, SUPERSET_VERSION};

/// The infrastructure components, which every provider implements.
pub const INFRASTRUCTURE: [&str; 6] = [
    NETWORK,
    KUBERNETES_CLUSTER,
    POSTGRES,
    REDIS_CLUSTER,
    LOAD_BALANCER,
    CDN,
];

/// Every portable component type, in the order the README documents them.
pub const ALL: [&str; 8] = [
    NETWORK,
    KUBERNETES_CLUSTER,
    POSTGRES,
    REDIS_CLUSTER,
    REDIS,
    LOAD_BALANCER,
    CDN,
    SUPERSET,
];

/// What a `kubernetes_cluster` exports, each an attribute of the same name of the native
/// cluster resource its expansion calls `cluster`.
pub const CLUSTER_EXPORTS: &[&str] = &["id", "endpoint", "ca_certificate", "version"];

pub fn is_component(type_name: &str) -> bool {
    ALL.contains(&type_name)
}

/// A portable size class; anything else given as `size` is a provider-native type name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeClass {
    Small,
    Medium,
    Large,
    XLarge,
}

/// A `size` attribute: a portable class, or a native type name passed through unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Size {
    Class(SizeClass),
    Native(String),
}

impl Size {
    pub fn parse(s: &str) -> Size {
        match s {
            "small" => Size::Class(SizeClass::Small),
            "medium" => Size::Class(SizeClass::Medium),
            "large" => Size::Class(SizeClass::Large),
            "xlarge" => Size::Class(SizeClass::XLarge),
            other => Size::Native(other.to_string()),
        }
    }
}

/// The schema of a portable component; `None` when `type_name` is not one.
pub fn schema(type_name: &str) -> Option<ResourceSchema> {
    let body = match type_name {
        NETWORK => Body::default()
            .attr(
                "cidr",
                A::optional(
                    s(),
                    "IPv4 range of the network, split into one subnet per zone",
                )
                .default("10.0.0.0/16")
                .force_new(),
            )
            .attr(
                "zones",
                A::optional(n(), "Number of availability zones, 1–6")
                    .default(3)
                    .force_new(),
            )
            .attr("id", A::computed(s(), "Cloud id of the network"))
            .attr(
                "subnet_ids",
                A::computed(AttrType::List(Box::new(s())), "One subnet id per zone"),
            )
            .attr(
                "zone_names",
                A::computed(AttrType::List(Box::new(s())), "The zones' names"),
            ),
        KUBERNETES_CLUSTER => Body::default()
            .attr("network", A::required(s(), "Id of the network").force_new())
            .attr(
                "version",
                A::optional(
                    s(),
                    "Kubernetes minor version (default: the provider's newest minor in standard support)",
                ),
            )
            .block(
                "node_pool",
                BlockSchema {
                    nesting: Nesting::Labelled,
                    min_items: 1,
                    max_items: None,
                    force_new: false,
                    description: "A node pool, autoscaling between min and max nodes",
                    body: Body::default()
                        .attr(
                            "size",
                            A::optional(s(), "Node size class or native machine type")
                                .default("medium"),
                        )
                        .attr("min", A::required(n(), "Minimum number of nodes"))
                        .attr("max", A::required(n(), "Maximum number of nodes")),
                },
            )
            .attr("id", A::computed(s(), "Cloud id of the cluster"))
            .attr("endpoint", A::computed(s(), "API server URL"))
            .attr(
                "ca_certificate",
                A::computed(s(), "API server CA certificate (PEM, base64)"),
            ),
        POSTGRES => Body::default()
            .attr("network", A::required(s(), "Id of the network").force_new())
            .attr(
                "version",
                A::optional(s(), "PostgreSQL major version").default("16"),
            )
            .attr(
                "size",
                A::optional(s(), "Size class or native instance type").default("medium"),
            )
            .attr(
                "storage_gb",
                A::optional(n(), "Allocated storage in GB").default(100),
            )
            .attr(
                "high_availability",
                A::optional(b(), "A synchronous standby in another zone").default(false),
            )
            .attr(
                "read_replicas",
                A::optional(n(), "Number of read replicas, 0–5").default(0),
            )
            .attr(
                "pooler",
                A::optional(b(), "A connection pooler in front of the primary").default(false),
            )
            .attr(
                "username",
                A::optional(s(), "Master user name")
                    .default("superset")
                    .force_new(),
            )
            .attr(
                "password",
                A::optional_computed(s(), "Master password; generated when omitted").sensitive(),
            )
            .attr("id", A::computed(s(), "Cloud id of the primary"))
            .attr("endpoint", A::computed(s(), "Primary host name"))
            .attr(
                "reader_endpoints",
                A::computed(AttrType::List(Box::new(s())), "Read replica host names"),
            )
            .attr(
                "pooler_endpoint",
                A::computed(s(), "Pooler host name (null without a pooler)"),
            )
            .attr("port", A::computed(n(), "Port")),
        REDIS_CLUSTER => Body::default()
            .attr("network", A::required(s(), "Id of the network").force_new())
            .attr("version", A::optional(s(), "Redis version").default("7.1"))
            .attr("shards", A::optional(n(), "Number of shards").default(3))
            .attr(
                "replicas_per_shard",
                A::optional(n(), "Replicas per shard, 0–5").default(1),
            )
            .attr(
                "size",
                A::optional(s(), "Node size class or native node type").default("medium"),
            )
            .attr("id", A::computed(s(), "Cloud id of the cluster"))
            .attr(
                "configuration_endpoint",
                A::computed(s(), "Cluster configuration endpoint"),
            )
            .attr("port", A::computed(n(), "Port")),
        LOAD_BALANCER => Body::default()
            .attr("network", A::required(s(), "Id of the network").force_new())
            .attr(
                "target",
                A::required(s(), "Id of the kubernetes_cluster to send traffic to"),
            )
            .attr("port", A::optional(n(), "Listener port").default(443))
            .block(
                "health_check",
                BlockSchema {
                    nesting: Nesting::Single,
                    min_items: 0,
                    max_items: Some(1),
                    force_new: false,
                    description: "How targets are checked",
                    body: health_check(Body::default()),
                },
            )
            .attr(
                "sticky_sessions",
                A::optional(b(), "Pin clients to one target").default(false),
            )
            .attr("id", A::computed(s(), "Cloud id of the load balancer"))
            .attr("dns_name", A::computed(s(), "Public DNS name")),
        CDN => Body::default()
            .attr("origin", A::required(s(), "Origin host name"))
            .block(
                "cache_rule",
                BlockSchema {
                    nesting: Nesting::List,
                    min_items: 0,
                    max_items: None,
                    force_new: false,
                    description: "Cache lifetime for a path pattern",
                    body: Body::default()
                        .attr("path", A::required(s(), "Path pattern, e.g. /static/*"))
                        .attr("ttl", A::required(n(), "Seconds to cache")),
                },
            )
            .attr(
                "compression",
                A::optional(AttrType::List(Box::new(s())), "Encodings: br, gzip")
                    .default(Value::List(vec!["br".into(), "gzip".into()])),
            )
            .attr("http3", A::optional(b(), "Offer HTTP/3").default(true))
            .attr("id", A::computed(s(), "Cloud id of the distribution"))
            .attr("domain_name", A::computed(s(), "The CDN host name")),
        REDIS => app::redis(),
        SUPERSET => app::superset(),
        _ => return None,
    };
    Some(ResourceSchema {
        type_name: type_name.to_string(),
        kind: ResourceKind::Component,
        description: description(type_name),
        body,
    })
}

/// `body` with the attributes of an HTTP health check and their portable defaults (what a
/// `load_balancer`'s `health_check` block holds, and what a native health check starts from).
pub fn health_check(body: Body) -> Body {
    body.attr(
        "path",
        A::optional(s(), "HTTP path probed").default("/health"),
    )
    .attr(
        "interval",
        A::optional(n(), "Seconds between probes").default(30),
    )
    .attr(
        "healthy_threshold",
        A::optional(n(), "Consecutive successes to be healthy").default(3),
    )
}

fn description(type_name: &str) -> &'static str {
    match type_name {
        NETWORK => "A private network spread over availability zones",
        KUBERNETES_CLUSTER => "A managed Kubernetes cluster with autoscaling node pools",
        POSTGRES => "Managed PostgreSQL: HA primary, read replicas, pooler",
        REDIS_CLUSTER => "Redis in cluster mode: shards with replicas",
        LOAD_BALANCER => "An HTTP(S) load balancer with health checks",
        CDN => "A CDN in front of an origin",
        REDIS => "Redis without sharding: a primary with replicas and automatic failover",
        SUPERSET => "Apache Superset on a kubernetes_cluster, wired to the stack",
        _ => "",
    }
}

fn int(attrs: &BTreeMap<String, Value>, key: &str) -> Option<i64> {
    attrs.get(key).and_then(Value::as_i64)
}

fn range_check(
    out: &mut Vec<Diagnostic>,
    attrs: &BTreeMap<String, Value>,
    path: &[&str],
    min: i64,
    max: i64,
) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let _ = parents;
    let Some(value) = attrs.get(*last) else {
        return;
    };
    if value.is_unknown() || value.is_null() {
        return;
    }
    match value.as_f64() {
        Some(v) if v.fract() == 0.0 && (min as f64..=max as f64).contains(&v) => {}
        _ => out.push(
            Diagnostic::error(format!(
                "`{last}` must be a whole number from {min} to {max}, got {value}"
            ))
            .at(path.iter().copied()),
        ),
    }
}

/// Checks the portable rules of a component's (evaluated, defaulted) configuration. Unknown
/// values are skipped: they are checked again at apply time.
pub fn validate(type_name: &str, attrs: &BTreeMap<String, Value>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let required: &[&str] = match type_name {
        KUBERNETES_CLUSTER => &["version"],
        POSTGRES => &["version", "size", "username"],
        REDIS_CLUSTER | REDIS => &["version", "size"],
        CDN => &["origin"],
        SUPERSET => &["image", "version", "namespace"],
        _ => &[],
    };
    for key in required {
        nonempty(&mut out, attrs, key);
    }
    match type_name {
        NETWORK => validate_network(&mut out, attrs),
        KUBERNETES_CLUSTER => validate_node_pools(&mut out, attrs),
        POSTGRES => {
            range_check(&mut out, attrs, &["read_replicas"], 0, 5);
            range_check(&mut out, attrs, &["storage_gb"], 20, 65536);
            if let Some(pw) = attrs.get("password").and_then(Value::as_str)
                && pw.len() < 8
            {
                out.push(
                    Diagnostic::error("`password` must be at least 8 characters").at(["password"]),
                );
            }
        }
        REDIS_CLUSTER => {
            range_check(&mut out, attrs, &["shards"], 1, 500);
            range_check(&mut out, attrs, &["replicas_per_shard"], 0, 5);
        }
        LOAD_BALANCER => validate_load_balancer(&mut out, attrs),
        CDN => validate_cdn(&mut out, attrs),
        REDIS => app::validate_redis(&mut out, attrs),
        SUPERSET => app::validate_superset(&mut out, attrs),
        _ => {}
    }
    out
}

/// A string attribute, when known, must have more than whitespace in it.
fn nonempty(out: &mut Vec<Diagnostic>, attrs: &BTreeMap<String, Value>, key: &str) {
    if let Some(v) = attrs.get(key).and_then(Value::as_str)
        && v.trim().is_empty()
    {
        out.push(Diagnostic::error(format!("`{key}` must not be empty")).at([key]));
    }
}

/// Runs `check` on a nested block's attributes and files what it finds under `prefix`.
fn nested(out: &mut Vec<Diagnostic>, prefix: &[&str], check: impl FnOnce(&mut Vec<Diagnostic>)) {
    let mut inner = Vec::new();
    check(&mut inner);
    for mut d in inner {
        for (i, p) in prefix.iter().enumerate() {
            d.path.insert(i, (*p).to_string());
        }
        out.push(d);
    }
}

fn validate_network(out: &mut Vec<Diagnostic>, attrs: &BTreeMap<String, Value>) {
    if let Some(cidr) = attrs.get("cidr").and_then(Value::as_str) {
        let problem = match cidr.parse::<ipnet::Ipv4Net>() {
            Ok(net) if net.prefix_len() > 28 => Some(format!(
                "`cidr` {cidr:?} is too small: use a /28 or larger range"
            )),
            Ok(net) if net.network() != net.addr() => Some(format!(
                "`cidr` {cidr:?} has host bits set; did you mean {:?}?",
                net.trunc().to_string()
            )),
            Ok(_) => None,
            Err(_) => Some(format!(
                "`cidr` {cidr:?} is not a valid IPv4 CIDR block (like \"10.0.0.0/16\")"
            )),
        };
        if let Some(message) = problem {
            out.push(Diagnostic::error(message).at(["cidr"]));
        }
    }
    range_check(out, attrs, &["zones"], 1, 6);
}

fn validate_node_pools(out: &mut Vec<Diagnostic>, attrs: &BTreeMap<String, Value>) {
    let Some(pools) = attrs.get("node_pool").and_then(Value::as_map) else {
        return;
    };
    for (name, pool) in pools {
        let Some(pool) = pool.as_map() else { continue };
        nested(out, &["node_pool", name.as_str()], |inner| {
            range_check(inner, pool, &["min"], 0, 1000);
            range_check(inner, pool, &["max"], 1, 1000);
            if let (Some(min), Some(max)) = (int(pool, "min"), int(pool, "max"))
                && min > max
            {
                inner.push(
                    Diagnostic::error(format!(
                        "node pool {name:?}: `min` ({min}) is greater than `max` ({max})"
                    ))
                    .at(["min"]),
                );
            }
        });
    }
}

fn validate_load_balancer(out: &mut Vec<Diagnostic>, attrs: &BTreeMap<String, Value>) {
    range_check(out, attrs, &["port"], 1, 65535);
    let Some(hc) = attrs.get("health_check").and_then(Value::as_map) else {
        return;
    };
    nested(out, &["health_check"], |inner| {
        range_check(inner, hc, &["interval"], 5, 300);
        range_check(inner, hc, &["healthy_threshold"], 2, 10);
        if let Some(path) = hc.get("path").and_then(Value::as_str)
            && !path.starts_with('/')
        {
            inner.push(
                Diagnostic::error(format!(
                    "health check `path` must start with '/', got {path:?}"
                ))
                .at(["path"]),
            );
        }
    });
}

fn validate_cdn(out: &mut Vec<Diagnostic>, attrs: &BTreeMap<String, Value>) {
    if let Some(list) = attrs.get("compression").and_then(Value::as_list) {
        for enc in list.iter().filter_map(Value::as_str) {
            if enc != "br" && enc != "gzip" {
                out.push(
                    Diagnostic::error(format!(
                        "`compression` accepts \"br\" and \"gzip\", got {enc:?}"
                    ))
                    .at(["compression"]),
                );
            }
        }
    }
    if let Some(rules) = attrs.get("cache_rule").and_then(Value::as_list) {
        for (i, rule) in rules.iter().enumerate() {
            if let Some(rule) = rule.as_map() {
                let index = i.to_string();
                nested(out, &["cache_rule", index.as_str()], |inner| {
                    range_check(inner, rule, &["ttl"], 0, 31_536_000 * 10);
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn every_component_has_a_schema() {
        for t in ALL {
            let schema = schema(t).expect(t);
            assert!(schema.attribute("id").is_some(), "{t} exports id");
        }
        assert!(schema("sandbox_object").is_none());
    }

    #[test]
    fn network_checks() {
        let bad = validate(
            NETWORK,
            &attrs(&[("cidr", "10.0.0.0/33".into()), ("zones", 7.into())]),
        );
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert_eq!(bad[0].path, vec!["cidr"]);
        assert_eq!(bad[1].path, vec!["zones"]);
        assert!(
            validate(
                NETWORK,
                &attrs(&[("cidr", "10.0.0.0/16".into()), ("zones", 3.into())])
            )
            .is_empty()
        );
        assert!(validate(NETWORK, &attrs(&[("zones", Value::Unknown)])).is_empty());
    }

    #[test]
    fn node_pool_min_max() {
        let pool = Value::Map(attrs(&[("min", 5.into()), ("max", 2.into())]));
        let cfg = attrs(&[(
            "node_pool",
            Value::Map(BTreeMap::from([("web".into(), pool)])),
        )]);
        let d = validate(KUBERNETES_CLUSTER, &cfg);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].path, vec!["node_pool", "web", "min"]);
    }
}
