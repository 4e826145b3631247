//! The sandbox's native resource types: their schemas, id prefixes, relative latencies, the
//! references between them, and the attributes the simulated cloud computes on create.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use provider_api::kit::schema::{b, list, n, s};
use provider_api::schema::{AttrType, AttributeSchema as A, Body, ResourceSchema};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Map, Value as Json};

pub const VPC: &str = "sandbox_vpc";
pub const SUBNET: &str = "sandbox_subnet";
pub const SECURITY_GROUP: &str = "sandbox_security_group";
pub const IAM_ROLE: &str = "sandbox_iam_role";
pub const K8S_CLUSTER: &str = "sandbox_k8s_cluster";
pub const NODE_POOL: &str = "sandbox_node_pool";
pub const DB_SUBNET_GROUP: &str = "sandbox_db_subnet_group";
pub const DB_PARAMETER_GROUP: &str = "sandbox_db_parameter_group";
pub const PG_INSTANCE: &str = "sandbox_pg_instance";
pub const PG_REPLICA: &str = "sandbox_pg_replica";
pub const PG_POOLER: &str = "sandbox_pg_pooler";
pub const CACHE_SUBNET_GROUP: &str = "sandbox_cache_subnet_group";
pub const REDIS_CLUSTER: &str = "sandbox_redis_cluster";
pub const REDIS: &str = "sandbox_redis";
pub const LB: &str = "sandbox_lb";
pub const TARGET_GROUP: &str = "sandbox_target_group";
pub const LISTENER: &str = "sandbox_listener";
pub const CDN_DISTRIBUTION: &str = "sandbox_cdn_distribution";
pub const K8S_OBJECT: &str = "sandbox_k8s_object";
pub const OBJECT: &str = "sandbox_object";

/// The simulated region every object lives in.
pub const REGION: &str = "sandbox-1";

/// The simulated account that owns every object (it appears in ARNs).
const ACCOUNT: &str = "000000000000";

/// The zones of [`REGION`], in order; a network uses the first `zones` of them.
pub const ZONES: [&str; 6] = [
    "sandbox-1a",
    "sandbox-1b",
    "sandbox-1c",
    "sandbox-1d",
    "sandbox-1e",
    "sandbox-1f",
];

/// Length of the deterministic names given to objects: a DNS label, so endpoints built from
/// the name stay valid host names.
pub const NAME_LEN: usize = 63;

/// One native type of the simulated cloud.
pub struct NativeType {
    pub name: &'static str,
    /// Prefix of the ids of its objects (`vpc-3f9a1c2b7d`).
    pub id_prefix: &'static str,
    /// The service and resource kind shown in its ARN-like `arn` attribute.
    pub arn_kind: Option<(&'static str, &'static str)>,
    /// How long a create takes relative to the provider's `latency` (updates and deletes take
    /// a fraction of it). The ratios follow what the real clouds take: a managed Kubernetes
    /// control plane takes ten times a VPC.
    pub weight: f64,
    /// Attributes that hold the id of another object, with that object's type. The referenced
    /// object must exist when this one is created or updated, and cannot be deleted while this
    /// one refers to it, as on a real cloud (a VPC with subnets cannot be deleted).
    pub refs: &'static [(&'static str, &'static str)],
    pub description: &'static str,
    body: fn() -> Body,
}

impl NativeType {
    /// The type's schema, built once: every object read and write consults it, and building
    /// it allocates every attribute's description.
    pub fn schema(&self) -> &'static ResourceSchema {
        static SCHEMAS: LazyLock<Vec<ResourceSchema>> = LazyLock::new(|| {
            TYPES
                .iter()
                .map(|t| ResourceSchema::native(t.name, t.description, (t.body)()))
                .collect()
        });
        let index = TYPES
            .iter()
            .position(|t| t.name == self.name)
            .unwrap_or_default();
        &SCHEMAS[index]
    }

    /// Whether objects of some type hold the id of objects of this one.
    pub fn is_referenced(&self) -> bool {
        TYPES
            .iter()
            .any(|t| t.refs.iter().any(|(_, target)| *target == self.name))
    }
}

/// Every native type's name, in the order of [`TYPES`].
pub static NAMES: [&str; 20] = [
    VPC,
    SUBNET,
    SECURITY_GROUP,
    IAM_ROLE,
    K8S_CLUSTER,
    NODE_POOL,
    DB_SUBNET_GROUP,
    DB_PARAMETER_GROUP,
    PG_INSTANCE,
    PG_REPLICA,
    PG_POOLER,
    CACHE_SUBNET_GROUP,
    REDIS_CLUSTER,
    REDIS,
    LB,
    TARGET_GROUP,
    LISTENER,
    CDN_DISTRIBUTION,
    K8S_OBJECT,
    OBJECT,
];

/// Every native type, in the order of the DESIGN.md component table.
pub static TYPES: [NativeType; 20] = [
    NativeType {
        name: VPC,
        id_prefix: "vpc",
        arn_kind: Some(("ec2", "vpc")),
        weight: 1.0,
        refs: &[],
        description: "A virtual private network",
        body: vpc,
    },
    NativeType {
        name: SUBNET,
        id_prefix: "subnet",
        arn_kind: Some(("ec2", "subnet")),
        weight: 0.5,
        refs: &[("vpc_id", VPC)],
        description: "A subnet of a VPC in one zone",
        body: subnet,
    },
    NativeType {
        name: SECURITY_GROUP,
        id_prefix: "sg",
        arn_kind: Some(("ec2", "security-group")),
        weight: 0.5,
        refs: &[("vpc_id", VPC)],
        description: "Firewall rules for the objects of a VPC",
        body: security_group,
    },
    NativeType {
        name: IAM_ROLE,
        id_prefix: "role",
        arn_kind: Some(("iam", "role")),
        weight: 0.5,
        refs: &[],
        description: "An identity a cloud service assumes to act on the account's objects",
        body: iam_role,
    },
    NativeType {
        name: K8S_CLUSTER,
        id_prefix: "k8s",
        arn_kind: Some(("k8s", "cluster")),
        weight: 10.0,
        refs: &[("vpc_id", VPC), ("role_id", IAM_ROLE)],
        description: "A managed Kubernetes control plane spread over the VPC's zones",
        body: k8s_cluster,
    },
    NativeType {
        name: NODE_POOL,
        id_prefix: "np",
        arn_kind: Some(("k8s", "nodepool")),
        weight: 6.0,
        refs: &[("cluster_id", K8S_CLUSTER)],
        description: "An autoscaling group of Kubernetes worker nodes",
        body: node_pool,
    },
    NativeType {
        name: DB_SUBNET_GROUP,
        id_prefix: "dbsg",
        arn_kind: Some(("rds", "subgrp")),
        weight: 0.5,
        refs: &[("vpc_id", VPC)],
        description: "The subnets a PostgreSQL instance and its standby are placed in",
        body: db_subnet_group,
    },
    NativeType {
        name: DB_PARAMETER_GROUP,
        id_prefix: "dbpg",
        arn_kind: Some(("rds", "pg")),
        weight: 0.5,
        refs: &[],
        description: "Server settings of the PostgreSQL instances of one major version",
        body: db_parameter_group,
    },
    NativeType {
        name: PG_INSTANCE,
        id_prefix: "db",
        arn_kind: Some(("rds", "db")),
        weight: 8.0,
        refs: &[
            ("vpc_id", VPC),
            ("subnet_group_id", DB_SUBNET_GROUP),
            ("parameter_group_id", DB_PARAMETER_GROUP),
        ],
        description: "A PostgreSQL primary, optionally with a synchronous standby (multi_az)",
        body: pg_instance,
    },
    NativeType {
        name: PG_REPLICA,
        id_prefix: "dbr",
        arn_kind: Some(("rds", "db")),
        weight: 6.0,
        refs: &[("source_id", PG_INSTANCE)],
        description: "An asynchronous PostgreSQL read replica",
        body: pg_replica,
    },
    NativeType {
        name: PG_POOLER,
        id_prefix: "pgb",
        arn_kind: Some(("rds", "db-proxy")),
        weight: 3.0,
        refs: &[("target_id", PG_INSTANCE), ("vpc_id", VPC)],
        description: "A PgBouncer-style connection pooler in front of a primary",
        body: pg_pooler,
    },
    NativeType {
        name: CACHE_SUBNET_GROUP,
        id_prefix: "csg",
        arn_kind: Some(("elasticache", "subnetgroup")),
        weight: 0.5,
        refs: &[("vpc_id", VPC)],
        description: "The subnets a Redis cluster places its nodes in",
        body: cache_subnet_group,
    },
    NativeType {
        name: REDIS_CLUSTER,
        id_prefix: "redis",
        arn_kind: Some(("elasticache", "replicationgroup")),
        weight: 7.0,
        refs: &[("subnet_group_id", CACHE_SUBNET_GROUP)],
        description: "A Redis cluster-mode replication group: shards with replicas",
        body: redis_cluster,
    },
    NativeType {
        name: REDIS,
        id_prefix: "rg",
        arn_kind: Some(("elasticache", "replicationgroup")),
        weight: 5.0,
        refs: &[("subnet_group_id", CACHE_SUBNET_GROUP)],
        description: "A Redis replication group without shards: a primary, replicas in other zones, automatic failover",
        body: redis,
    },
    NativeType {
        name: LB,
        id_prefix: "lb",
        arn_kind: Some(("elasticloadbalancing", "loadbalancer")),
        weight: 3.0,
        refs: &[("vpc_id", VPC)],
        description: "An HTTP(S) load balancer",
        body: lb,
    },
    NativeType {
        name: TARGET_GROUP,
        id_prefix: "tg",
        arn_kind: Some(("elasticloadbalancing", "targetgroup")),
        weight: 1.0,
        refs: &[("vpc_id", VPC)],
        description: "The backends of a load balancer and how they are health-checked",
        body: target_group,
    },
    NativeType {
        name: LISTENER,
        id_prefix: "lsn",
        arn_kind: Some(("elasticloadbalancing", "listener")),
        weight: 0.5,
        refs: &[("lb_id", LB), ("target_group_id", TARGET_GROUP)],
        description: "A port of a load balancer forwarding to a target group",
        body: listener,
    },
    NativeType {
        name: CDN_DISTRIBUTION,
        id_prefix: "cdn",
        arn_kind: Some(("cdn", "distribution")),
        weight: 8.0,
        refs: &[],
        description: "A CDN distribution in front of an origin",
        body: cdn_distribution,
    },
    NativeType {
        name: K8S_OBJECT,
        id_prefix: "k8so",
        arn_kind: None,
        weight: 1.0,
        refs: &[("cluster", K8S_CLUSTER)],
        description: "An object of a simulated Kubernetes cluster (what `kubernetes_object` applies to a real one)",
        body: k8s_object,
    },
    NativeType {
        name: OBJECT,
        id_prefix: "obj",
        arn_kind: None,
        weight: 0.0,
        refs: &[],
        description: "A generic object for tests and benchmarks: `output` mirrors `input`",
        body: object,
    },
];

/// The native type called `name`.
pub fn find(name: &str) -> Option<&'static NativeType> {
    TYPES.iter().find(|t| t.name == name)
}

/// Every native schema, by type name.
pub fn schemas() -> BTreeMap<String, ResourceSchema> {
    TYPES
        .iter()
        .map(|t| (t.name.to_string(), t.schema().clone()))
        .collect()
}

/// The attributes every cloud object except `sandbox_object` has.
fn base() -> Body {
    Body::default()
        .attr("id", A::computed(s(), "Cloud id"))
        .attr("arn", A::computed(s(), "Globally unique resource name"))
}

fn vpc() -> Body {
    base()
        .attr("cidr", A::required(s(), "IPv4 range").force_new())
        .attr(
            "enable_dns_hostnames",
            A::optional(b(), "Give instances DNS host names").default(true),
        )
}

fn subnet() -> Body {
    base()
        .attr("vpc_id", A::required(s(), "The VPC").force_new())
        .attr(
            "cidr",
            A::required(s(), "IPv4 range inside the VPC's").force_new(),
        )
        .attr("zone", A::required(s(), "Availability zone").force_new())
        .attr(
            "available_ip_count",
            A::computed(n(), "Addresses left for instances"),
        )
}

fn security_group() -> Body {
    base()
        .attr("vpc_id", A::required(s(), "The VPC").force_new())
        .attr(
            "description",
            A::optional(s(), "What the group is for")
                .default("Managed by ss")
                .force_new(),
        )
        .attr(
            "ingress_cidrs",
            A::optional(list(s()), "Source ranges allowed in"),
        )
        .attr(
            "ingress_ports",
            A::optional(list(n()), "Ports allowed in; empty means all"),
        )
}

fn iam_role() -> Body {
    base()
        .attr(
            "name",
            A::optional_computed(
                s(),
                "Role name; derived from the resource's identity when not configured",
            )
            .force_new(),
        )
        .attr(
            "assume_role_service",
            A::required(s(), "The service allowed to assume the role (k8s.sandbox)"),
        )
        .attr(
            "policies",
            A::optional(list(s()), "Managed policies attached to the role"),
        )
}

fn k8s_cluster() -> Body {
    base()
        .attr("vpc_id", A::required(s(), "The VPC").force_new())
        .attr(
            "role_id",
            A::required(s(), "The IAM role the control plane acts as").force_new(),
        )
        .attr(
            "version",
            A::required(s(), "Kubernetes minor version; upgraded in place"),
        )
        .attr(
            "endpoint_public_access",
            A::optional(b(), "Reach the API server from the internet").default(true),
        )
        .attr("endpoint", A::computed(s(), "API server URL"))
        .attr(
            "ca_certificate",
            A::computed(s(), "API server CA certificate (PEM, base64)"),
        )
}

fn node_pool() -> Body {
    base()
        .attr("cluster_id", A::required(s(), "The cluster").force_new())
        .attr(
            "pool_name",
            A::required(s(), "Name inside the cluster").force_new(),
        )
        .attr(
            "instance_type",
            A::required(s(), "Machine type (node.sandbox.*)").force_new(),
        )
        .attr("min_size", A::required(n(), "Fewest nodes"))
        .attr("max_size", A::required(n(), "Most nodes"))
        .attr(
            "disk_gb",
            A::optional(n(), "Root disk per node")
                .default(50)
                .force_new(),
        )
}

fn db_subnet_group() -> Body {
    base()
        .attr("vpc_id", A::required(s(), "The VPC").force_new())
        .attr(
            "description",
            A::optional(s(), "What the group is for").default("Managed by ss"),
        )
}

fn db_parameter_group() -> Body {
    base()
        .attr(
            "family",
            A::required(
                s(),
                "Engine and major version the settings are for (postgres16)",
            )
            .force_new(),
        )
        .attr(
            "parameters",
            A::optional(
                AttrType::Map(Box::new(s())),
                "Server settings by name; changed in place",
            ),
        )
        .attr(
            "description",
            A::optional(s(), "What the group is for").default("Managed by ss"),
        )
}

fn pg_instance() -> Body {
    base()
        .attr("vpc_id", A::required(s(), "The VPC").force_new())
        .attr(
            "subnet_group_id",
            A::required(s(), "The DB subnet group; moved in place, as RDS allows"),
        )
        .attr(
            "parameter_group_id",
            A::required(s(), "The DB parameter group; switched in place"),
        )
        .attr(
            "version",
            A::required(s(), "PostgreSQL version; upgraded in place"),
        )
        .attr(
            "instance_class",
            A::required(s(), "Instance type (db.sandbox.*)"),
        )
        .attr("storage_gb", A::required(n(), "Allocated storage"))
        .attr(
            "multi_az",
            A::optional(b(), "A synchronous standby in another zone").default(false),
        )
        .attr("username", A::required(s(), "Master user name").force_new())
        .attr(
            "password",
            A::optional_computed(s(), "Master password; generated when not configured").sensitive(),
        )
        .attr(
            "backup_retention_days",
            A::optional(n(), "Days of automated backups").default(7),
        )
        .attr("endpoint", A::computed(s(), "Host name"))
        .attr("port", A::computed(n(), "Port"))
}

fn pg_replica() -> Body {
    base()
        .attr(
            "source_id",
            A::required(s(), "The primary replicated from").force_new(),
        )
        .attr(
            "instance_class",
            A::required(s(), "Instance type (db.sandbox.*)"),
        )
        .attr("endpoint", A::computed(s(), "Host name"))
        .attr("port", A::computed(n(), "Port"))
}

fn pg_pooler() -> Body {
    base()
        .attr(
            "target_id",
            A::required(s(), "The primary pooled").force_new(),
        )
        .attr("vpc_id", A::required(s(), "The VPC").force_new())
        .attr(
            "pool_mode",
            A::optional(s(), "session, transaction or statement").default("transaction"),
        )
        .attr(
            "max_client_connections",
            A::optional(n(), "Client connections accepted").default(5000),
        )
        .attr("endpoint", A::computed(s(), "Host name"))
        .attr("port", A::computed(n(), "Port"))
}

fn cache_subnet_group() -> Body {
    base()
        .attr("vpc_id", A::required(s(), "The VPC").force_new())
        .attr(
            "description",
            A::optional(s(), "What the group is for").default("Managed by ss"),
        )
}

/// What every Redis replication group has, sharded or not: its subnets, version, node type
/// and port.
fn redis_group() -> Body {
    base()
        .attr(
            "subnet_group_id",
            A::required(s(), "The cache subnet group").force_new(),
        )
        .attr(
            "version",
            A::required(s(), "Redis version; upgraded in place"),
        )
        .attr("node_type", A::required(s(), "Node type (cache.sandbox.*)"))
        .attr("port", A::computed(n(), "Port"))
}

fn redis_cluster() -> Body {
    redis_group()
        .attr(
            "shards",
            A::required(n(), "Number of shards; resharded online"),
        )
        .attr(
            "replicas_per_shard",
            A::required(n(), "Replicas of each shard's primary"),
        )
        .attr(
            "configuration_endpoint",
            A::computed(s(), "Cluster configuration endpoint"),
        )
}

fn lb() -> Body {
    base()
        .attr("vpc_id", A::required(s(), "The VPC").force_new())
        .attr(
            "internal",
            A::optional(b(), "Reachable from the VPC only")
                .default(false)
                .force_new(),
        )
        .attr("dns_name", A::computed(s(), "Public DNS name"))
}

fn target_group() -> Body {
    base()
        .attr("vpc_id", A::required(s(), "The VPC").force_new())
        .attr(
            "port",
            A::required(n(), "Port traffic is sent to").force_new(),
        )
        .attr(
            "protocol",
            A::optional(s(), "HTTP or HTTPS")
                .default("HTTP")
                .force_new(),
        )
        .attr(
            "target_id",
            A::required(s(), "The Kubernetes cluster whose nodes receive traffic"),
        )
        .attr(
            "health_check_path",
            A::optional(s(), "HTTP path probed").default("/health"),
        )
        .attr(
            "health_check_interval",
            A::optional(n(), "Seconds between probes").default(30),
        )
        .attr(
            "healthy_threshold",
            A::optional(n(), "Consecutive successes to be healthy").default(3),
        )
        .attr(
            "stickiness",
            A::optional(b(), "Pin clients to one target with a cookie").default(false),
        )
}

fn listener() -> Body {
    base()
        .attr("lb_id", A::required(s(), "The load balancer").force_new())
        .attr("port", A::required(n(), "Port listened on"))
        .attr(
            "protocol",
            A::optional(s(), "HTTP or HTTPS").default("HTTPS"),
        )
        .attr(
            "target_group_id",
            A::required(s(), "Where requests are forwarded"),
        )
}

fn redis() -> Body {
    redis_group()
        .attr(
            "replicas",
            A::required(n(), "Replicas of the primary, each in another zone"),
        )
        .attr(
            "primary_endpoint",
            A::computed(s(), "The primary's host name (follows a failover)"),
        )
        .attr(
            "reader_endpoint",
            A::computed(s(), "Host name spreading reads over the replicas"),
        )
}

fn k8s_object() -> Body {
    Body::default()
        .attr("id", A::computed(s(), "Cloud id"))
        .attr(
            "cluster",
            A::required(s(), "The id of the cluster the object is in").force_new(),
        )
        .attr(
            "manifest",
            A::required(
                AttrType::Any,
                "The object: apiVersion, kind, metadata, spec…",
            ),
        )
        .attr(
            "wait",
            A::optional(s(), "What to wait for: \"ready\" or \"none\"").default("ready"),
        )
        .attr("uid", A::computed(s(), "The object's uid"))
}

fn cdn_distribution() -> Body {
    base()
        .attr("origin", A::required(s(), "Origin host name"))
        .attr(
            "cache_rules",
            A::optional(
                list(AttrType::Map(Box::new(AttrType::Any))),
                "Cache lifetimes: objects with `path` and `ttl`",
            ),
        )
        .attr(
            "compression",
            A::optional(list(s()), "Encodings offered: br, gzip"),
        )
        .attr("http3", A::optional(b(), "Offer HTTP/3").default(true))
        .attr("enabled", A::optional(b(), "Serve traffic").default(true))
        .attr("domain_name", A::computed(s(), "The CDN host name"))
}

fn object() -> Body {
    Body::default()
        .attr("id", A::computed(s(), "A fresh unique id"))
        .attr(
            "input",
            A::optional(AttrType::Any, "Any value; changed in place"),
        )
        .attr(
            "output",
            A::computed(AttrType::Any, "Equals `input` after apply"),
        )
        .attr(
            "replace_on",
            A::optional(AttrType::Any, "Any value whose change replaces the object").force_new(),
        )
        .attr(
            "create_latency",
            A::optional(s(), "Extra time a create takes, like \"200ms\""),
        )
}

/// Fills in the attributes the cloud computes when it creates an object. `attrs` already holds
/// the configured values; only what is missing is added.
pub fn fill_computed(ty: &NativeType, id: &str, name: &str, attrs: &mut Map<String, Json>) {
    let subnet_ips = attrs
        .get("cidr")
        .and_then(Json::as_str)
        .and_then(|c| c.parse::<ipnet::Ipv4Net>().ok())
        // Five addresses of each subnet are reserved, as on AWS.
        .map(|net| (1u64 << (32 - u32::from(net.prefix_len()))).saturating_sub(5));
    let mut set = |key: &str, value: Json| {
        if attrs.get(key).is_none_or(Json::is_null) {
            attrs.insert(key.to_string(), value);
        }
    };
    set("id", Json::from(id));
    if let Some((service, kind)) = ty.arn_kind {
        set(
            "arn",
            Json::from(format!(
                "arn:sandbox:{service}:{REGION}:{ACCOUNT}:{kind}/{id}"
            )),
        );
    }
    match ty.name {
        // A role not named in the configuration is named after its identity, as the
        // deterministic name makes a retried create find it again.
        IAM_ROLE => set("name", Json::from(name)),
        K8S_CLUSTER => {
            set(
                "endpoint",
                Json::from(format!("https://{name}.k8s.{REGION}.sandbox.internal")),
            );
            set("ca_certificate", Json::from(fake_ca_certificate(name)));
        }
        PG_INSTANCE => {
            set("password", Json::from(generate_password()));
            set(
                "endpoint",
                Json::from(format!("{name}.pg.sandbox.internal")),
            );
            set("port", Json::from(5432));
        }
        PG_REPLICA => {
            set(
                "endpoint",
                Json::from(format!("{name}.pg.sandbox.internal")),
            );
            set("port", Json::from(5432));
        }
        PG_POOLER => {
            set(
                "endpoint",
                Json::from(format!("{name}.pooler.sandbox.internal")),
            );
            set("port", Json::from(6432));
        }
        REDIS_CLUSTER => {
            set(
                "configuration_endpoint",
                Json::from(format!("clustercfg.{name}.redis.sandbox.internal")),
            );
            set("port", Json::from(6379));
        }
        REDIS => {
            set(
                "primary_endpoint",
                Json::from(format!("master.{name}.redis.sandbox.internal")),
            );
            set(
                "reader_endpoint",
                Json::from(format!("replica.{name}.redis.sandbox.internal")),
            );
            set("port", Json::from(6379));
        }
        K8S_OBJECT => set("uid", Json::from(uuid_like(id))),
        LB => set(
            "dns_name",
            Json::from(format!("{name}.{REGION}.lb.sandbox.net")),
        ),
        CDN_DISTRIBUTION => {
            // Like CloudFront, the domain is random rather than derived from the name.
            let token: String = rand::rng()
                .sample_iter(Alphanumeric)
                .take(13)
                .map(|c| char::from(c).to_ascii_lowercase())
                .collect();
            set(
                "domain_name",
                Json::from(format!("d{token}.cdn.sandbox.net")),
            );
        }
        SUBNET => {
            if let Some(count) = subnet_ips {
                set("available_ip_count", Json::from(count));
            }
        }
        _ => {}
    }
}

/// Recomputes the attributes that follow configuration after an update.
pub fn refresh_derived(ty: &NativeType, attrs: &mut Map<String, Json>) {
    if ty.name == OBJECT {
        let input = attrs.get("input").cloned().unwrap_or(Json::Null);
        attrs.insert("output".into(), input);
    }
}

/// A Kubernetes uid (a UUID's shape) for the object `id`, the same on every read.
fn uuid_like(id: &str) -> String {
    let mut hex: String = id.bytes().map(|b| format!("{b:02x}")).collect();
    hex.extend(std::iter::repeat_n('0', 32usize.saturating_sub(hex.len())));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A random master password: 32 letters and digits, far above the 24 characters asked of
/// generated secrets.
fn generate_password() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// A PEM block that looks like a CA certificate, base64-encoded as Kubernetes clients expect
/// it in kubeconfig files. The body is random: nothing verifies it in the sandbox.
fn fake_ca_certificate(name: &str) -> String {
    let mut der = Vec::with_capacity(96);
    der.extend_from_slice(name.as_bytes());
    der.extend((0..48).map(|_| rand::random::<u8>()));
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64(&der)
    );
    base64(pem.as_bytes())
}

/// Standard base64 with padding (RFC 4648).
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected, "{input:?}");
        }
    }

    #[test]
    fn names_list_every_type_in_order() {
        let names: Vec<&str> = TYPES.iter().map(|t| t.name).collect();
        assert_eq!(names, NAMES);
    }

    #[test]
    fn every_reference_names_a_known_type_and_attribute() {
        for ty in &TYPES {
            let schema = ty.schema();
            assert!(schema.attribute("id").is_some(), "{}", ty.name);
            for (attr, target) in ty.refs {
                assert!(schema.attribute(attr).is_some(), "{}.{attr}", ty.name);
                assert!(find(target).is_some(), "{target}");
            }
        }
        let prefixes: std::collections::BTreeSet<_> = TYPES.iter().map(|t| t.id_prefix).collect();
        assert_eq!(prefixes.len(), TYPES.len(), "id prefixes are distinct");
    }

    #[test]
    fn generated_password_is_long_and_random() {
        let (a, b) = (generate_password(), generate_password());
        assert!(a.len() >= 24);
        assert_ne!(a, b);
    }
}
