//! How each portable component becomes sandbox native resources, and the sandbox's own checks
//! of configurations.
//!
//! | component | native resources (local names) |
//! |---|---|
//! | `network` | `vpc`, `subnet_0` … `subnet_{zones-1}` (one per zone, the `cidr` split evenly), `security_group` |
//! | `kubernetes_cluster` | `cluster_role` (the IAM role the control plane assumes), `cluster`, `pool_<label>` per `node_pool` block |
//! | `postgres` | `subnet_group`, `parameter_group` (family `postgres<major>`, settings for a 10k-user metadata DB), `primary` (`multi_az` = `high_availability`), `replica_0` … per read replica (inheriting the primary's groups), `pooler` when `pooler` |
//! | `redis_cluster` | `subnet_group`, `cluster` |
//! | `load_balancer` | `lb`, `target_group` (health check, stickiness), `listener` |
//! | `cdn` | `distribution` |
//!
//! This follows the AWS column of the design's component table: a Kubernetes control plane
//! acts as an IAM role, and an RDS instance lives in a DB subnet group and takes its settings
//! from a DB parameter group. The simulated cloud refuses to delete a role or group that is
//! still in use, so they are created first and deleted last.
//!
//! Size classes map to sandbox machine types as follows; a `size` that is not a class must be a
//! sandbox type name of the right family and is passed through unchanged.
//!
//! | class | postgres (`db.sandbox.*`) | node pool (`node.sandbox.*`) | redis (`cache.sandbox.*`) |
//! |---|---|---|---|
//! | `small` | `db.sandbox.small` (2 vCPU, 4 GiB) | `node.sandbox.small` (2 vCPU, 4 GiB) | `cache.sandbox.small` (3 GiB) |
//! | `medium` | `db.sandbox.medium` (2 vCPU, 8 GiB) | `node.sandbox.medium` (4 vCPU, 16 GiB) | `cache.sandbox.medium` (6 GiB) |
//! | `large` | `db.sandbox.large` (4 vCPU, 32 GiB) | `node.sandbox.large` (8 vCPU, 32 GiB) | `cache.sandbox.large` (13 GiB) |
//! | `xlarge` | `db.sandbox.xlarge` (8 vCPU, 64 GiB) | `node.sandbox.xlarge` (16 vCPU, 64 GiB) | `cache.sandbox.xlarge` (26 GiB) |

use std::collections::BTreeMap;

use provider_api::component::{self, Size, SizeClass};
use provider_api::kit::{config, net};
use provider_api::{Attrs, Binding, Diagnostic, Expansion, NativeSpec, Value};

use crate::types;

/// A family of sandbox machine types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Db,
    Node,
    Cache,
}

impl Family {
    fn prefix(self) -> &'static str {
        match self {
            Family::Db => "db.sandbox.",
            Family::Node => "node.sandbox.",
            Family::Cache => "cache.sandbox.",
        }
    }
}

/// The sandbox machine type for a size class.
pub fn machine_type(family: Family, class: SizeClass) -> String {
    let suffix = match class {
        SizeClass::Small => "small",
        SizeClass::Medium => "medium",
        SizeClass::Large => "large",
        SizeClass::XLarge => "xlarge",
    };
    format!("{}{suffix}", family.prefix())
}

/// Maps a `size` value to a machine type, keeping unknown values unknown and sensitive ones
/// marked.
fn size_value(family: Family, size: &Value) -> Value {
    match size.peel() {
        Value::String(s) => {
            let native = match Size::parse(s) {
                Size::Class(class) => machine_type(family, class),
                Size::Native(name) => name,
            };
            Value::from(native).mark_if(size.is_sensitive())
        }
        _ => size.clone(),
    }
}

/// Checks a known size: a class, or a machine type of the family.
fn check_size(family: Family, size: Option<&Value>, path: &[&str], out: &mut Vec<Diagnostic>) {
    let Some(s) = size.and_then(Value::as_str) else {
        return;
    };
    if let Size::Native(name) = Size::parse(s)
        && !(name.starts_with(family.prefix()) && name.len() > family.prefix().len())
    {
        out.push(
            Diagnostic::error(format!(
                "unknown sandbox size {name:?}: use small, medium, large, xlarge or a {}* type",
                family.prefix()
            ))
            .at(path.iter().copied()),
        );
    }
}

/// Checks a known version against the versions the sandbox offers.
fn check_version(what: &str, value: Option<&Value>, supported: &[&str], out: &mut Vec<Diagnostic>) {
    let Some(v) = value.and_then(Value::as_str) else {
        return;
    };
    let ok = supported
        .iter()
        .any(|s| v == *s || v.strip_prefix(s).is_some_and(|rest| rest.starts_with('.')));
    if !ok {
        out.push(
            Diagnostic::error(format!(
                "the sandbox does not offer {what} {v:?}; supported: {}",
                supported.join(", ")
            ))
            .at(["version"]),
        );
    }
}

const PG_VERSIONS: [&str; 5] = ["13", "14", "15", "16", "17"];
const K8S_VERSIONS: [&str; 6] = ["1.28", "1.29", "1.30", "1.31", "1.32", "1.33"];
/// The version a cluster gets when the spec names none: the newest the sandbox offers.
const DEFAULT_K8S_VERSION: &str = "1.33";
const REDIS_VERSIONS: [&str; 2] = ["6", "7"];

/// The sandbox's own checks, on top of the portable ones. Unknown values are skipped.
pub fn validate(type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match type_name {
        component::NETWORK => {
            if let (Some(cidr), Some(zones)) = (
                config.get("cidr").and_then(Value::as_str),
                config.get("zones").and_then(Value::as_i64),
            ) && cidr.parse::<ipnet::Ipv4Net>().is_ok()
                && (1..=6).contains(&zones)
                && net::split_cidr(cidr, zones as usize).is_err()
            {
                out.push(
                    Diagnostic::error(format!(
                        "`cidr` {cidr:?} is too small for {zones} zones of at least 16 addresses"
                    ))
                    .at(["cidr"]),
                );
            }
        }
        component::KUBERNETES_CLUSTER => {
            check_version("Kubernetes", config.get("version"), &K8S_VERSIONS, &mut out);
            if let Some(pools) = config.get("node_pool").and_then(Value::as_map) {
                for (label, pool) in pools {
                    check_size(
                        Family::Node,
                        pool.get("size"),
                        &["node_pool", label, "size"],
                        &mut out,
                    );
                }
            }
        }
        component::POSTGRES => {
            check_version("PostgreSQL", config.get("version"), &PG_VERSIONS, &mut out);
            check_size(Family::Db, config.get("size"), &["size"], &mut out);
        }
        component::REDIS_CLUSTER | component::REDIS => {
            check_version("Redis", config.get("version"), &REDIS_VERSIONS, &mut out);
            check_size(Family::Cache, config.get("size"), &["size"], &mut out);
        }
        types::PG_INSTANCE | types::PG_REPLICA => check_size(
            Family::Db,
            config.get("instance_class"),
            &["instance_class"],
            &mut out,
        ),
        types::DB_PARAMETER_GROUP => {
            if let Some(family) = config.get("family").and_then(Value::as_str)
                && !family
                    .strip_prefix("postgres")
                    .is_some_and(|major| PG_VERSIONS.contains(&major))
            {
                out.push(
                    Diagnostic::error(format!(
                        "unknown parameter group family {family:?}; supported: {}",
                        PG_VERSIONS.map(|v| format!("postgres{v}")).join(", ")
                    ))
                    .at(["family"]),
                );
            }
        }
        types::NODE_POOL => check_size(
            Family::Node,
            config.get("instance_type"),
            &["instance_type"],
            &mut out,
        ),
        types::REDIS_CLUSTER | types::REDIS => check_size(
            Family::Cache,
            config.get("node_type"),
            &["node_type"],
            &mut out,
        ),
        types::OBJECT => {
            if let Some(latency) = config.get("create_latency").and_then(Value::as_str)
                && humantime::parse_duration(latency).is_err()
            {
                out.push(
                    Diagnostic::error(format!(
                        "`create_latency` {latency:?} is not a duration like \"200ms\" or \"2s\""
                    ))
                    .at(["create_latency"]),
                );
            }
        }
        _ => {}
    }
    out
}

/// Reads a component's (defaulted) configuration.
struct Config<'a> {
    attrs: &'a Attrs,
}

impl Config<'_> {
    /// The value of `key`, or `default` when it is absent or null.
    fn value(&self, key: &str, default: impl Into<Value>) -> Value {
        match self.attrs.get(key) {
            Some(v) if !v.is_null() => v.clone(),
            _ => default.into(),
        }
    }

    /// A value that decides how many native resources there are: it must be known.
    fn count(&self, key: &str, default: i64) -> Result<usize, Diagnostic> {
        let v = self.value(key, default);
        if v.is_unknown() {
            return Err(must_be_known(key));
        }
        v.as_i64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| Diagnostic::error(format!("`{key}` must be a whole number")).at([key]))
    }

    fn flag(&self, key: &str, default: bool) -> Result<bool, Diagnostic> {
        let v = self.value(key, default);
        if v.is_unknown() {
            return Err(must_be_known(key));
        }
        v.as_bool()
            .ok_or_else(|| Diagnostic::error(format!("`{key}` must be true or false")).at([key]))
    }
}

fn must_be_known(key: &str) -> Diagnostic {
    Diagnostic::error(format!(
        "`{key}` decides how many resources are created, so it must be known at plan time"
    ))
    .with_detail("it depends on a value only known after apply")
    .at([key])
}

/// Expands a portable component; `None` when `type_name` is not one.
pub fn expand(type_name: &str, config: &Attrs) -> Option<Result<Expansion, Vec<Diagnostic>>> {
    let c = Config { attrs: config };
    let result = match type_name {
        component::NETWORK => network(&c),
        component::KUBERNETES_CLUSTER => kubernetes_cluster(&c),
        component::POSTGRES => postgres(&c),
        component::REDIS_CLUSTER => redis_cluster(&c),
        component::LOAD_BALANCER => load_balancer(&c),
        component::CDN => Ok(cdn(&c)),
        component::REDIS => redis(&c),
        component::SUPERSET => kubernetes::app::superset(config, &Placement),
        _ => return None,
    };
    Some(result.map_err(|d| vec![d]))
}

fn network(c: &Config<'_>) -> Result<Expansion, Diagnostic> {
    let zones = c.count("zones", 3)?;
    if !(1..=types::ZONES.len()).contains(&zones) {
        return Err(
            Diagnostic::error(format!("`zones` must be from 1 to {}", types::ZONES.len()))
                .at(["zones"]),
        );
    }
    let cidr = c.value("cidr", "10.0.0.0/16");
    let subnet_cidrs = net::subnet_cidrs(&cidr, zones)?;
    let mut resources = vec![NativeSpec::new("vpc", types::VPC).set("cidr", cidr.clone())];
    let mut subnet_ids = Vec::new();
    let mut zone_names = Vec::new();
    for (i, subnet_cidr) in subnet_cidrs.into_iter().enumerate() {
        let name = format!("subnet_{i}");
        resources.push(
            NativeSpec::new(&name, types::SUBNET)
                .set("vpc_id", Binding::attr("vpc", "id"))
                .set("cidr", subnet_cidr)
                .set("zone", Value::from(types::ZONES[i])),
        );
        subnet_ids.push(Binding::attr(&name, "id"));
        zone_names.push(Binding::Value(Value::from(types::ZONES[i])));
    }
    resources.push(
        NativeSpec::new("security_group", types::SECURITY_GROUP)
            .set("vpc_id", Binding::attr("vpc", "id"))
            .set("description", Value::from("Traffic inside the network"))
            .set("ingress_cidrs", Value::List(vec![cidr])),
    );
    Ok(Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("vpc", "id")),
            ("subnet_ids", Binding::List(subnet_ids)),
            ("zone_names", Binding::List(zone_names)),
        ]),
    })
}

fn kubernetes_cluster(c: &Config<'_>) -> Result<Expansion, Diagnostic> {
    let pools = c.value("node_pool", Value::Map(BTreeMap::new()));
    if pools.is_unknown() {
        return Err(must_be_known("node_pool"));
    }
    let pools = pools.as_map().cloned().unwrap_or_default();
    let mut resources = vec![
        NativeSpec::new("cluster_role", types::IAM_ROLE)
            .set("assume_role_service", Value::from(K8S_SERVICE))
            .set("policies", string_list(&K8S_CLUSTER_POLICIES)),
        NativeSpec::new("cluster", types::K8S_CLUSTER)
            .set("vpc_id", c.value("network", Value::Null))
            .set("role_id", Binding::attr("cluster_role", "id"))
            .set("version", c.value("version", DEFAULT_K8S_VERSION)),
    ];
    let mut taken = config::LocalNames::default();
    for (label, pool) in &pools {
        let local = format!("pool_{}", config::local_suffix(label));
        taken.claim(&local, label)?;
        let get = |key: &str| pool.get(key).cloned().unwrap_or(Value::Null);
        let size = match get("size") {
            Value::Null => Value::from("medium"),
            v => v,
        };
        resources.push(
            NativeSpec::new(&local, types::NODE_POOL)
                .set("cluster_id", Binding::attr("cluster", "id"))
                .set("pool_name", Value::from(label.as_str()))
                .set("instance_type", size_value(Family::Node, &size))
                .set("min_size", get("min"))
                .set("max_size", get("max")),
        );
    }
    Ok(Expansion {
        resources,
        exports: Expansion::exports_of("cluster", component::CLUSTER_EXPORTS),
    })
}

/// The service a Kubernetes control plane's role trusts.
const K8S_SERVICE: &str = "k8s.sandbox";

/// The managed policies a control plane's role needs, as AmazonEKSClusterPolicy on AWS.
const K8S_CLUSTER_POLICIES: [&str; 1] = ["SandboxK8sClusterPolicy"];

/// Server settings of the Superset metadata database at 10,000 users. Values are strings, as
/// parameter group APIs take them; sizes are in kB and times in ms, PostgreSQL's units.
const PG_PARAMETERS: [(&str, &str); 6] = [
    // Web workers and Celery workers connect through the pooler; 500 leaves room for
    // direct connections of migrations and monitoring.
    ("max_connections", "500"),
    // Per-query statistics, to find the slow dashboard queries.
    ("shared_preload_libraries", "pg_stat_statements"),
    // Log statements slower than a second.
    ("log_min_duration_statement", "1000"),
    // A web worker that dies inside a transaction must not hold locks for long.
    ("idle_in_transaction_session_timeout", "60000"),
    // Network SSD storage: random reads cost little more than sequential ones.
    ("random_page_cost", "1.1"),
    // 16 MB per sort or hash, enough for Superset's metadata queries at 500 connections.
    ("work_mem", "16384"),
];

fn pg_parameters() -> Value {
    Value::Map(
        PG_PARAMETERS
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect(),
    )
}

fn string_list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|s| Value::from(*s)).collect())
}

/// The parameter group family of a PostgreSQL version: `postgres` and the major version
/// (`16.4` → `postgres16`). Unknown while the version is.
fn pg_family(version: &Value) -> Value {
    match version.peel() {
        Value::String(v) => {
            let major = v.split('.').next().unwrap_or(v);
            Value::from(format!("postgres{major}")).mark_if(version.is_sensitive())
        }
        Value::Number(n) => Value::from(format!("postgres{}", n.trunc())),
        _ => version.clone(),
    }
}

fn postgres(c: &Config<'_>) -> Result<Expansion, Diagnostic> {
    let replicas = c.count("read_replicas", 0)?;
    let pooler = c.flag("pooler", false)?;
    let instance_class = size_value(Family::Db, &c.value("size", "medium"));
    let network = c.value("network", Value::Null);
    let version = c.value("version", "16");
    let subnet_group = NativeSpec::new("subnet_group", types::DB_SUBNET_GROUP)
        .set("vpc_id", network.clone())
        .set("description", Value::from("PostgreSQL primary and standby"));
    // A major upgrade needs a group of the new family before the primary can switch to it,
    // and the old group cannot be deleted while the primary uses it.
    let parameter_group = NativeSpec::new("parameter_group", types::DB_PARAMETER_GROUP)
        .create_before_destroy()
        .set("family", pg_family(&version))
        .set("parameters", pg_parameters())
        .set("description", Value::from("Superset metadata database"));
    let mut primary = NativeSpec::new("primary", types::PG_INSTANCE)
        .set("vpc_id", network.clone())
        .set("subnet_group_id", Binding::attr("subnet_group", "id"))
        .set("parameter_group_id", Binding::attr("parameter_group", "id"))
        .set("version", version)
        .set("instance_class", instance_class.clone())
        .set("storage_gb", c.value("storage_gb", 100))
        .set("multi_az", c.value("high_availability", false))
        .set("username", c.value("username", "superset"));
    let password = c.value("password", Value::Null);
    if !password.is_null() {
        primary = primary.set("password", password);
    }
    let mut resources = vec![subnet_group, parameter_group, primary];
    // Replicas take their placement and settings from the primary they replicate, as RDS
    // read replicas do, so they refer to neither group.
    let mut readers = Vec::new();
    for i in 0..replicas {
        let name = format!("replica_{i}");
        resources.push(
            NativeSpec::new(&name, types::PG_REPLICA)
                .set("source_id", Binding::attr("primary", "id"))
                .set("instance_class", instance_class.clone()),
        );
        readers.push(Binding::attr(&name, "endpoint"));
    }
    let pooler_endpoint = if pooler {
        resources.push(
            NativeSpec::new("pooler", types::PG_POOLER)
                .set("target_id", Binding::attr("primary", "id"))
                .set("vpc_id", network),
        );
        Binding::attr("pooler", "endpoint")
    } else {
        Binding::Value(Value::Null)
    };
    Ok(Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("primary", "id")),
            ("endpoint", Binding::attr("primary", "endpoint")),
            ("reader_endpoints", Binding::List(readers)),
            ("pooler_endpoint", pooler_endpoint),
            ("port", Binding::attr("primary", "port")),
            ("password", Binding::attr("primary", "password")),
        ]),
    })
}

fn redis_cluster(c: &Config<'_>) -> Result<Expansion, Diagnostic> {
    let resources = vec![
        NativeSpec::new("subnet_group", types::CACHE_SUBNET_GROUP)
            .set("vpc_id", c.value("network", Value::Null))
            .set("description", Value::from("Redis cluster nodes")),
        NativeSpec::new("cluster", types::REDIS_CLUSTER)
            .set("subnet_group_id", Binding::attr("subnet_group", "id"))
            .set("version", c.value("version", "7.1"))
            .set(
                "node_type",
                size_value(Family::Cache, &c.value("size", "medium")),
            )
            .set("shards", c.value("shards", 3))
            .set("replicas_per_shard", c.value("replicas_per_shard", 1)),
    ];
    Ok(Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("cluster", "id")),
            (
                "configuration_endpoint",
                Binding::attr("cluster", "configuration_endpoint"),
            ),
            ("port", Binding::attr("cluster", "port")),
        ]),
    })
}

fn redis(c: &Config<'_>) -> Result<Expansion, Diagnostic> {
    let resources = vec![
        NativeSpec::new("subnet_group", types::CACHE_SUBNET_GROUP)
            .set("vpc_id", c.value("network", Value::Null))
            .set("description", Value::from("Redis nodes")),
        NativeSpec::new("redis", types::REDIS)
            .set("subnet_group_id", Binding::attr("subnet_group", "id"))
            .set("version", c.value("version", "7.1"))
            .set(
                "node_type",
                size_value(Family::Cache, &c.value("size", "small")),
            )
            .set("replicas", c.value("replicas", 1)),
    ];
    Ok(Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("redis", "id")),
            ("endpoint", Binding::attr("redis", "primary_endpoint")),
            ("reader_endpoint", Binding::attr("redis", "reader_endpoint")),
            ("port", Binding::attr("redis", "port")),
            ("password", Binding::Value(Value::Null)),
        ]),
    })
}

/// Where the `superset` component's objects go in the sandbox: its simulated clusters, whose
/// nodes carry their pool's name as a label; with a kubeconfig, a real cluster.
struct Placement;

impl kubernetes::app::Placement for Placement {
    fn cloud(&self) -> &'static str {
        crate::NAME
    }

    fn object_type(&self, kubeconfig: bool) -> &'static str {
        if kubeconfig {
            kubernetes::object::OBJECT
        } else {
            types::K8S_OBJECT
        }
    }

    fn cluster_ref(&self, cluster: &Attrs) -> Value {
        cluster.get("id").cloned().unwrap_or(Value::Unknown)
    }

    fn pool_label(&self, _cluster: &Attrs, pool: &Value) -> (String, Value) {
        ("node.sandbox.internal/pool".into(), pool.clone())
    }
}

fn load_balancer(c: &Config<'_>) -> Result<Expansion, Diagnostic> {
    let network = c.value("network", Value::Null);
    let health = c.value("health_check", Value::Null);
    let check = |key: &str, default: Value| config::field(&health, key, default);
    let port = c.value("port", 443);
    // Port 80 is plain HTTP; anything else is served with TLS, as the reference stack does.
    let protocol = match port.as_i64() {
        Some(80) => Value::from("HTTP"),
        Some(_) => Value::from("HTTPS"),
        None => Value::Unknown,
    };
    let resources = vec![
        NativeSpec::new("lb", types::LB).set("vpc_id", network.clone()),
        NativeSpec::new("target_group", types::TARGET_GROUP)
            .set("vpc_id", network)
            // The cluster's ingress controller listens on plain HTTP behind the balancer.
            .set("port", Value::from(80))
            .set("protocol", Value::from("HTTP"))
            .set("target_id", c.value("target", Value::Null))
            .set("health_check_path", check("path", Value::from("/health")))
            .set("health_check_interval", check("interval", Value::from(30)))
            .set(
                "healthy_threshold",
                check("healthy_threshold", Value::from(3)),
            )
            .set("stickiness", c.value("sticky_sessions", false)),
        NativeSpec::new("listener", types::LISTENER)
            .set("lb_id", Binding::attr("lb", "id"))
            .set("port", port)
            .set("protocol", protocol)
            .set("target_group_id", Binding::attr("target_group", "id")),
    ];
    Ok(Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("lb", "id")),
            ("dns_name", Binding::attr("lb", "dns_name")),
        ]),
    })
}

fn cdn(c: &Config<'_>) -> Expansion {
    let resources = vec![
        NativeSpec::new("distribution", types::CDN_DISTRIBUTION)
            .set("origin", c.value("origin", Value::Null))
            .set(
                "cache_rules",
                c.value("cache_rule", Value::List(Vec::new())),
            )
            .set(
                "compression",
                c.value(
                    "compression",
                    Value::List(vec![Value::from("br"), Value::from("gzip")]),
                ),
            )
            .set("http3", c.value("http3", true)),
    ];
    Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("distribution", "id")),
            ("domain_name", Binding::attr("distribution", "domain_name")),
        ]),
    }
}
