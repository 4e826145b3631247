//! ElastiCache: cache subnet groups, cluster-mode replication groups (`redis_cluster`) and
//! unsharded replication groups (`redis`).
//!
//! # `redis_cluster`
//!
//! | local name | type | settings |
//! |---|---|---|
//! | `subnet_group` | `aws_elasticache_subnet_group` | every subnet `ss` made in the network's VPC |
//! | `cluster` | `aws_elasticache_replication_group` | Redis in cluster mode: `num_node_groups = shards`, `replicas_per_node_group = replicas_per_shard`, the network's security group, encryption at rest and in transit, automatic failover, Multi-AZ when there are replicas |
//!
//! Exports: `id` (the replication group id), `configuration_endpoint`, `port`.
//!
//! # `redis`
//!
//! | local name | type | settings |
//! |---|---|---|
//! | `subnet_group` | `aws_elasticache_subnet_group` | as above |
//! | `redis` | `aws_elasticache_unsharded_group` | Redis with cluster mode disabled: one node group (`NumNodeGroups = 1`), `ReplicasPerNodeGroup = replicas` (1–5), the primary in the first zone and the replicas in the next ones (`NodeGroupConfiguration`), automatic failover, Multi-AZ, encryption at rest and in transit, the non-cluster default parameter group |
//!
//! Exports: `id`, `endpoint` (the node group's `PrimaryEndpoint`, which follows a failover),
//! `reader_endpoint` (its `ReaderEndpoint`), `port`, and `password` null: the group takes no
//! AUTH token, it is reached over TLS from the network's security group only (the same as the
//! `redis_cluster`).
//!
//! Why a native type of its own and not a mode of `aws_elasticache_replication_group`: the two
//! have different attributes (a shard count and a configuration endpoint on one, a primary
//! and a reader endpoint on the other), AWS cannot switch a group between them in place
//! (cluster mode goes from disabled to enabled only through `compatible`, and never back), and
//! the states of existing `redis_cluster` groups stay as they are. Both share this module's
//! calls: create, reads, in-place steps and delete differ only where the mode does.
//!
//! Node types of the portable sizes (Graviton, memory-optimised from `medium` on); any other
//! `size` is passed through as an ElastiCache node type (`cache.m7g.large`…):
//!
//! | size | node type | memory |
//! |---|---|---|
//! | `small` | `cache.t4g.medium` | 3.09 GiB |
//! | `medium` | `cache.r6g.large` | 13.07 GiB |
//! | `large` | `cache.r6g.xlarge` | 26.32 GiB |
//! | `xlarge` | `cache.r6g.2xlarge` | 52.82 GiB |
//!
//! Why `r6g` and not the newer `r7g`: r7g is not sold in every region the provider may
//! default to. AWS's ElastiCache price list of 2025-03-14 (as vendored by `yeo/ec2.shop@73696e38`,
//! `data/elasticache/elasticache.json`) lists no `cache.r7g` in 16 regions, among them
//! eu-west-3 (Paris, the example's region: r4, r5, r6g and r6gd only), eu-south-1, il-central-1,
//! ap-east-1 and ca-west-1, while `cache.r6g` and `cache.t4g.medium` are listed in Paris,
//! Ireland, Frankfurt, Virginia and the other large regions (that file lists neither in a
//! few of the newest regions, such as eu-central-2 and eu-south-2). The plan checks the node type
//! against the region's offers either way (`offers.rs`), naming the types it has.
//!
//! Cluster mode needs automatic failover whatever the replica count, so it is always on;
//! Multi-AZ needs a replica, so it is on when `replicas_per_shard ≥ 1`.
//!
//! # Native types
//!
//! | type | attributes (in place / *force new*) | calls |
//! |---|---|---|
//! | `aws_elasticache_subnet_group` | *`vpc_id`*; computed `subnet_ids`, `arn` | `CreateCacheSubnetGroup`, `DescribeCacheSubnetGroups`, `DeleteCacheSubnetGroup` |
//! | `aws_elasticache_replication_group` | *`subnet_group_name`*, `engine_version`, `node_type`, `num_node_groups`, `replicas_per_node_group`; computed `configuration_endpoint`, `port`, `arn`, `status`, `security_group_ids`, `automatic_failover`, `multi_az`, `at_rest_encryption`, `transit_encryption` | `CreateReplicationGroup`, `DescribeReplicationGroups`, `DescribeCacheClusters`, `ModifyReplicationGroup`, `ModifyReplicationGroupShardConfiguration`, `Increase…`/`DecreaseReplicaCount`, `ListTagsForResource`, `AddTagsToResource`, `DeleteReplicationGroup` |
//! | `aws_elasticache_unsharded_group` | *`subnet_group_name`*, `engine_version`, `node_type`, `replicas`; computed `primary_endpoint`, `reader_endpoint`, `port`, `arn`, `status`, `security_group_ids`, `automatic_failover`, `multi_az`, `at_rest_encryption`, `transit_encryption`, `cluster_mode` | the same calls, but no `ModifyReplicationGroupShardConfiguration` |
//!
//! All three are named by their identity (`ss-<stack>-<address>-<hash>`; a replication group id
//! has at most 40 characters), so `find` is a describe by name, then `ListTagsForResource`
//! checks the object carries the identity's tags. A subnet group takes the network's subnets
//! at create time (not changed afterwards); a replication group takes the security group of
//! the network its subnet group is in (found through the subnet group's VPC).
//!
//! **Reads.** Neither describe filters by several names: `read_many` lists them all (one
//! paginated `DescribeReplicationGroups` / `DescribeCacheSubnetGroups`) and picks the ids. A
//! replication group does not show its engine version, subnet group or security groups; its
//! member clusters do, so one more paginated `DescribeCacheClusters` reads them. When no
//! member cluster is listed (moto never lists them; AWS may not yet while creating), the
//! values come from the tags `ss:engine_version` and `ss:subnet_group` written at create
//! time and kept up to date by `converge` (one `ListTagsForResource` per such group).
//!
//! **Changes in place** (AWS; moto answers 500 to every modify call): node type and engine
//! version (`ModifyReplicationGroup`), then the shard count
//! (`ModifyReplicationGroupShardConfiguration`, removing the highest node group ids), then
//! the replica count (`IncreaseReplicaCount` / `DecreaseReplicaCount`, Multi-AZ switched off
//! before going to no replica and on after leaving it), each applied immediately and waited
//! for (`available`) before the next.
//!
//! **Deletes.** A delete waits until the replication group has really gone from describes (AWS
//! takes minutes; the wait is bounded by `ready_timeout`), so its subnet group is deleted after
//! it, never while still in use (`CacheSubnetGroupInUse` is retryable all the same). moto 5.2
//! keeps a deleted group in `deleting` forever and does not implement `DeleteCacheSubnetGroup`;
//! the tests run moto through `scripts/moto-server.py`, which fills in both as the API
//! reference describes them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_elasticache::Client;
use aws_sdk_elasticache::types::{
    AutomaticFailoverStatus, CacheCluster, CacheSubnetGroup, ClusterMode, MultiAzStatus,
    NodeGroupConfiguration, ReplicationGroup, Tag,
};
use provider_api::CreateRequest;
use provider_api::component::{Size, SizeClass};
use provider_api::kit::config::{Reader, attr_i64, attr_str};
use provider_api::kit::schema::{b, list, n, s};
use provider_api::kit::wait::{Poll, until};
use provider_api::kit::{Lifecycle, Obj, read_one};
use provider_api::schema::{AttributeSchema as A, Body};
use provider_api::{
    Attrs, Binding, Diagnostic, Expansion, Identity, NativeSpec, ProviderError, Value,
};

use crate::ec2::Ec2;
use crate::error::{Sent, sdk};
use crate::settings::Settings;
use crate::shared::{
    LazyClient, Shared, TAG_ADDRESS, TAG_STACK, gone_ok, identity_tag_pairs, need_str, opt,
    strings, tags_match, unknown_type,
};
use crate::types::{Module, NAME_LEN, base};

pub const SUBNET_GROUP: &str = "aws_elasticache_subnet_group";
pub const REPLICATION_GROUP: &str = "aws_elasticache_replication_group";
pub const UNSHARDED_GROUP: &str = "aws_elasticache_unsharded_group";

/// The native types of this module, their schemas and set-like attributes.
pub const MODULE: Module = Module {
    types: &[SUBNET_GROUP, REPLICATION_GROUP, UNSHARDED_GROUP],
    schema,
    set_like,
};

/// ElastiCache limits replication group ids to 40 characters.
pub const REPLICATION_GROUP_ID_LEN: usize = 40;

/// The default Redis version (the portable default).
const DEFAULT_VERSION: &str = "7.1";

/// Tags recording what a replication group's describe does not show (read back when its
/// member clusters are not listed).
const TAG_ENGINE_VERSION: &str = "ss:engine_version";
const TAG_SUBNET_GROUP: &str = "ss:subnet_group";

/// Bound of the wait between two steps of one in-place change (a reshard can take long).
const STEP_TIMEOUT: Duration = Duration::from_secs(3600);

/// How long a replication group may be missing from describes between two steps before the
/// wait says it does not exist (the kit's bound for a fresh object).
const NOT_YET_VISIBLE: Duration = Duration::from_secs(20);

/// ElastiCache's limit of nodes in one cluster-mode replication group.
const MAX_NODES: i64 = 500;

/// The replicas of an unsharded group: automatic failover needs one, a node group holds at
/// most five.
const UNSHARDED_REPLICAS: std::ops::RangeInclusive<i64> = 1..=5;

/// The attributes both kinds of replication group have, configured and computed.
fn group_base() -> Body {
    base()
        .attr(
            "subnet_group_name",
            A::required(s(), "The cache subnet group").force_new(),
        )
        .attr(
            "engine_version",
            A::optional(s(), "Redis version, like 7.1 (upgrades in place)")
                .default(DEFAULT_VERSION),
        )
        .attr(
            "node_type",
            A::required(s(), "Node type, like cache.r6g.large"),
        )
        .attr("port", A::computed(n(), "Port"))
        .attr("arn", A::computed(s(), "ARN"))
        .attr("status", A::computed(s(), "Status, like available"))
        .attr(
            "security_group_ids",
            A::computed(
                list(s()),
                "Security groups (the network's; null while no member cluster is listed)",
            ),
        )
        .attr("automatic_failover", A::computed(b(), "Automatic failover"))
        .attr("multi_az", A::computed(b(), "Multi-AZ"))
        .attr("at_rest_encryption", A::computed(b(), "Encryption at rest"))
        .attr(
            "transit_encryption",
            A::computed(b(), "Encryption in transit (TLS)"),
        )
}

fn schema(type_name: &str) -> Option<(&'static str, Body)> {
    match type_name {
        SUBNET_GROUP => Some((
            "An ElastiCache subnet group over every subnet ss made in a VPC",
            base()
                .attr(
                    "vpc_id",
                    A::required(s(), "The VPC of an ss `network`").force_new(),
                )
                .attr(
                    "subnet_ids",
                    A::computed(list(s()), "The subnets (the network's, at create time)"),
                )
                .attr("arn", A::computed(s(), "ARN")),
        )),
        REPLICATION_GROUP => Some((
            "A Redis replication group in cluster mode, encrypted at rest and in transit, with \
             automatic failover, and Multi-AZ when it has replicas",
            group_base()
                .attr(
                    "num_node_groups",
                    A::optional(n(), "Shards (node groups), 1–500").default(1),
                )
                .attr(
                    "replicas_per_node_group",
                    A::optional(n(), "Replicas in each shard, 0–5").default(1),
                )
                .attr(
                    "configuration_endpoint",
                    A::computed(s(), "Cluster configuration endpoint host name"),
                ),
        )),
        UNSHARDED_GROUP => Some((
            "A Redis replication group with cluster mode disabled: a primary and its replicas \
             in other zones, automatic failover, Multi-AZ, encrypted at rest and in transit",
            group_base()
                .attr(
                    "replicas",
                    A::optional(n(), "Replicas of the primary, 1–5").default(1),
                )
                .attr(
                    "primary_endpoint",
                    A::computed(s(), "The primary's host name (follows a failover)"),
                )
                .attr(
                    "reader_endpoint",
                    A::computed(s(), "Host name spreading reads over the replicas"),
                )
                .attr(
                    "cluster_mode",
                    A::computed(s(), "Cluster mode as ElastiCache reports it (disabled)"),
                ),
        )),
        _ => None,
    }
}

fn set_like(type_name: &str) -> &'static [&'static str] {
    match type_name {
        SUBNET_GROUP => &["subnet_ids"],
        REPLICATION_GROUP | UNSHARDED_GROUP => &["security_group_ids"],
        _ => &[],
    }
}

/// The node type of a portable size (see the module table); native names pass through.
pub fn node_type(size: &str) -> String {
    match Size::parse(size) {
        Size::Class(SizeClass::Small) => "cache.t4g.medium".into(),
        Size::Class(SizeClass::Medium) => "cache.r6g.large".into(),
        Size::Class(SizeClass::Large) => "cache.r6g.xlarge".into(),
        Size::Class(SizeClass::XLarge) => "cache.r6g.2xlarge".into(),
        Size::Native(name) => name,
    }
}

/// The provider's own checks of a `redis_cluster`, on top of the portable ones (which check
/// `shards` 1–500 and `replicas_per_shard` 0–5). Unknown values are skipped.
pub fn validate(_settings: &Settings, config: &Attrs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let int = |k: &str, default: i64| match config.get(k) {
        None | Some(Value::Null) => Some(default),
        Some(v) => v.as_i64(),
    };
    if let (Some(shards), Some(replicas)) = (int("shards", 3), int("replicas_per_shard", 1))
        && shards * (replicas + 1) > MAX_NODES
    {
        out.push(
            Diagnostic::error(format!(
                "{shards} shards of {} nodes make {} nodes: an ElastiCache cluster has at most \
                 {MAX_NODES}",
                replicas + 1,
                shards * (replicas + 1)
            ))
            .at(["shards"]),
        );
    }
    check_size_and_version(config, &mut out);
    out
}

/// The provider's own checks of a `redis`, on top of the portable ones (which check
/// `replicas` 1–5): its size and version, as for a `redis_cluster`.
pub fn validate_redis(_settings: &Settings, config: &Attrs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    check_size_and_version(config, &mut out);
    out
}

/// Checks of the native `aws_elasticache_unsharded_group`: its replica count.
pub fn validate_native(type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
    match config.get("replicas").and_then(Value::as_i64) {
        Some(r) if type_name == UNSHARDED_GROUP && !UNSHARDED_REPLICAS.contains(&r) => {
            vec![
                Diagnostic::error(format!(
                    "`replicas` must be from 1 to 5 (automatic failover needs a replica), not {r}"
                ))
                .at(["replicas"]),
            ]
        }
        _ => Vec::new(),
    }
}

/// The size and version checks a `redis_cluster` and a `redis` share.
fn check_size_and_version(config: &Attrs, out: &mut Vec<Diagnostic>) {
    if let Some(size) = config.get("size").and_then(Value::as_str)
        && let Size::Native(name) = Size::parse(size)
        && !name.starts_with("cache.")
    {
        out.push(
            Diagnostic::error(format!(
                "`size` {name:?} is neither small, medium, large nor xlarge, nor an ElastiCache \
                 node type (like cache.r6g.large)"
            ))
            .at(["size"]),
        );
    }
    if let Some(version) = config.get("version").and_then(Value::as_str)
        && parse_version(version).is_none_or(|(major, minor)| (major, minor) < (3, 2))
    {
        out.push(
            Diagnostic::error(format!(
                "`version` {version:?} is not a Redis version with cluster mode (3.2 or later, \
                 like 7.1)"
            ))
            .at(["version"]),
        );
    }
    if let Some(version) = config.get("version").and_then(Value::as_str)
        && parse_version(version).is_some_and(|(major, _)| major >= 6)
        && version_name(version) != version
    {
        out.push(
            Diagnostic::error(format!(
                "from Redis 6 on, ElastiCache takes `major.minor` and picks the patch: use \
                 `version = {:?}`",
                version_name(version)
            ))
            .at(["version"]),
        );
    }
}

/// `major.minor` of a version like `7.1` or `6.2.6`.
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = match parts.next() {
        Some(m) => m.parse().ok()?,
        None => 0,
    };
    Some((major, minor))
}

/// A version as configurations name it: from Redis 6 on, AWS takes `major.minor` and reports
/// `major.minor.patch`; before, the full version is the name.
fn version_name(v: &str) -> String {
    match parse_version(v) {
        Some((major, minor)) if major >= 6 => format!("{major}.{minor}"),
        _ => v.to_string(),
    }
}

/// The default parameter group of a Redis version, with cluster mode on or off
/// (`default.redis7.cluster.on`, `default.redis7`).
fn default_parameter_group(version: &str, cluster: bool) -> Option<String> {
    let (major, minor) = parse_version(version)?;
    let family = match major {
        7.. => format!("default.redis{major}"),
        6 => "default.redis6.x".into(),
        _ => format!("default.redis{major}.{minor}"),
    };
    Some(if cluster {
        format!("{family}.cluster.on")
    } else {
        family
    })
}

/// The node type of a component's `size` (default `default`), unknown while it is.
fn node_value(r: &Reader<'_>, default: &str) -> Result<Value, Vec<Diagnostic>> {
    match r.value("size", default) {
        Value::String(size) => Ok(Value::from(node_type(&size))),
        other if other.is_unknown() => Ok(Value::Unknown),
        _ => Err(vec![
            Diagnostic::error("`size` must be a string").at(["size"]),
        ]),
    }
}

/// The cache subnet group of a component's network.
fn subnet_group(r: &Reader<'_>) -> NativeSpec {
    NativeSpec::new("subnet_group", SUBNET_GROUP).set("vpc_id", r.value("network", Value::Null))
}

/// Expands a `redis` into native resources (see the module table).
pub fn expand_redis(_settings: &Settings, config: &Attrs) -> Result<Expansion, Vec<Diagnostic>> {
    let r = Reader::new(config);
    let resources = vec![
        subnet_group(&r),
        NativeSpec::new("redis", UNSHARDED_GROUP)
            .set("subnet_group_name", Binding::attr("subnet_group", "id"))
            .set("engine_version", r.value("version", DEFAULT_VERSION))
            .set("node_type", node_value(&r, "small")?)
            .set("replicas", r.value("replicas", 1)),
    ];
    let exports = Expansion::exports(&[
        ("id", Binding::attr("redis", "id")),
        ("endpoint", Binding::attr("redis", "primary_endpoint")),
        ("reader_endpoint", Binding::attr("redis", "reader_endpoint")),
        ("port", Binding::attr("redis", "port")),
        ("password", Binding::Value(Value::Null)),
    ]);
    Ok(Expansion { resources, exports })
}

/// Expands a `redis_cluster` into native resources (see the module table).
pub fn expand(_settings: &Settings, config: &Attrs) -> Result<Expansion, Vec<Diagnostic>> {
    let r = Reader::new(config);
    let node = node_value(&r, "medium")?;
    let resources = vec![
        subnet_group(&r),
        NativeSpec::new("cluster", REPLICATION_GROUP)
            .set("subnet_group_name", Binding::attr("subnet_group", "id"))
            .set("engine_version", r.value("version", DEFAULT_VERSION))
            .set("node_type", node)
            .set("num_node_groups", r.value("shards", 3))
            .set("replicas_per_node_group", r.value("replicas_per_shard", 1)),
    ];
    let exports = Expansion::exports(&[
        ("id", Binding::attr("cluster", "id")),
        (
            "configuration_endpoint",
            Binding::attr("cluster", "configuration_endpoint"),
        ),
        ("port", Binding::attr("cluster", "port")),
    ]);
    Ok(Expansion { resources, exports })
}

fn tags(identity: &Identity, extra: &[(&str, &str)]) -> Vec<Tag> {
    identity_tag_pairs(identity, NAME_LEN)
        .into_iter()
        .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The one node group of an unsharded replication group: its primary in the first zone,
/// replica `i` in the zone after the previous one (round the list when there are more
/// replicas than other zones).
fn spread(zones: &[String], replicas: i64) -> NodeGroupConfiguration {
    let at = |i: usize| zones.get(i % zones.len().max(1)).cloned();
    let count = usize::try_from(replicas).unwrap_or(0);
    NodeGroupConfiguration::builder()
        .node_group_id("0001")
        .replica_count(replicas as i32)
        .set_primary_availability_zone(at(0))
        .set_replica_availability_zones(Some((1..=count).filter_map(at).collect()))
        .build()
}

/// The attribute holding the replicas per node group of a replication group type.
fn replica_key(type_name: &str) -> &'static str {
    if type_name == UNSHARDED_GROUP {
        "replicas"
    } else {
        "replicas_per_node_group"
    }
}

/// A create answered "already exists": the planner's look-up adopts it (a create retried by
/// the SDK after a lost answer ends here).
fn exists_is_transient(e: ProviderError, codes: &[&str]) -> ProviderError {
    match e {
        ProviderError::Invalid(m) if codes.iter().any(|c| m.contains(c)) => {
            ProviderError::Transient(m)
        }
        other => other,
    }
}

fn subnet_group_obj(g: &CacheSubnetGroup) -> Option<Obj> {
    let name = g.cache_subnet_group_name()?;
    let subnets = g
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_string))
        .collect();
    let attrs = Attrs::from([
        ("id".into(), Value::from(name)),
        ("name".into(), Value::from(name)),
        ("vpc_id".into(), opt(g.vpc_id())),
        ("subnet_ids".into(), strings(subnets)),
        ("arn".into(), opt(g.arn())),
    ]);
    Some(Obj::new(name, attrs, true))
}

/// What the member clusters of a replication group show.
#[derive(Clone, Debug, Default)]
struct Members {
    engine_version: Option<String>,
    subnet_group: Option<String>,
    security_groups: Option<Vec<String>>,
}

impl Members {
    fn of(c: &CacheCluster) -> Members {
        Members {
            engine_version: c.engine_version().map(version_name),
            subnet_group: c.cache_subnet_group_name().map(str::to_string),
            security_groups: Some(
                c.security_groups()
                    .iter()
                    .filter_map(|g| g.security_group_id().map(str::to_string))
                    .collect(),
            ),
        }
    }
}

/// The ElastiCache operations, on a client built at the first call.
#[derive(Debug)]
pub struct Elasticache {
    ec2: Arc<Ec2>,
    client: LazyClient<Client>,
}

impl Elasticache {
    pub fn new(shared: Arc<Shared>, ec2: Arc<Ec2>) -> Elasticache {
        Elasticache {
            ec2,
            client: LazyClient::new(shared),
        }
    }

    async fn client(&self) -> &Client {
        crate::client!(aws_sdk_elasticache, &self.client)
    }

    async fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, ProviderError> {
        let answer = self
            .client()
            .await
            .list_tags_for_resource()
            .resource_name(arn)
            .send()
            .await
            .map_err(|e| sdk("ListTagsForResource", e))?;
        Ok(answer
            .tag_list()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect())
    }

    /// Every subnet group, by name (one paginated describe).
    async fn subnet_groups(&self) -> Result<BTreeMap<String, Obj>, ProviderError> {
        Ok(crate::all_items!(
            "DescribeCacheSubnetGroups",
            self.client().await.describe_cache_subnet_groups()
        )?
        .iter()
        .filter_map(subnet_group_obj)
        .map(|obj| (obj.state.id.clone(), obj))
        .collect())
    }

    /// Every replication group, by id (one paginated describe).
    async fn replication_groups(
        &self,
    ) -> Result<BTreeMap<String, ReplicationGroup>, ProviderError> {
        Ok(crate::all_items!(
            "DescribeReplicationGroups",
            self.client().await.describe_replication_groups()
        )?
        .into_iter()
        .filter_map(|g| Some((g.replication_group_id()?.to_string(), g)))
        .collect())
    }

    /// What the member clusters show, by replication group id (one paginated describe of
    /// every cache cluster).
    async fn members(&self) -> Result<BTreeMap<String, Members>, ProviderError> {
        let clusters = crate::all_items!(
            "DescribeCacheClusters",
            self.client().await.describe_cache_clusters()
        )?;
        let mut out = BTreeMap::new();
        for c in &clusters {
            if let Some(group) = c.replication_group_id() {
                out.entry(group.to_string())
                    .or_insert_with(|| Members::of(c));
            }
        }
        Ok(out)
    }

    /// A replication group as an object of `type_name` (the attributes of its mode);
    /// `members` from its clusters, or else from its tags.
    async fn replication_group_obj(
        &self,
        type_name: &str,
        g: &ReplicationGroup,
        members: Option<&Members>,
    ) -> Result<Obj, ProviderError> {
        let id = g.replication_group_id().unwrap_or_default();
        let mut seen = members.cloned().unwrap_or_default();
        if (seen.engine_version.is_none() || seen.subnet_group.is_none())
            && let Some(arn) = g.arn()
        {
            let tags = self.list_tags(arn).await?;
            seen.engine_version = seen
                .engine_version
                .or_else(|| tags.get(TAG_ENGINE_VERSION).cloned());
            seen.subnet_group = seen
                .subnet_group
                .or_else(|| tags.get(TAG_SUBNET_GROUP).cloned());
        }
        let groups = g.node_groups();
        let first = groups.first();
        let replicas = first
            .map(|ng| ng.node_group_members().len().saturating_sub(1))
            .unwrap_or(0);
        let status = g.status().unwrap_or_default();
        let mut attrs = if type_name == UNSHARDED_GROUP {
            let primary = first.and_then(|ng| ng.primary_endpoint());
            let port = primary.and_then(|e| e.port()).unwrap_or(6379);
            Attrs::from([
                ("replicas".into(), Value::from(replicas as i64)),
                (
                    "primary_endpoint".into(),
                    opt(primary.and_then(|e| e.address())),
                ),
                (
                    "reader_endpoint".into(),
                    opt(first
                        .and_then(|ng| ng.reader_endpoint())
                        .and_then(|e| e.address())),
                ),
                ("port".into(), Value::from(i64::from(port))),
                (
                    "cluster_mode".into(),
                    opt(g.cluster_mode().map(|m| m.as_str())),
                ),
            ])
        } else {
            let endpoint = g.configuration_endpoint();
            let port = endpoint.and_then(|e| e.port()).unwrap_or(6379);
            Attrs::from([
                ("num_node_groups".into(), Value::from(groups.len() as i64)),
                (
                    "replicas_per_node_group".into(),
                    Value::from(replicas as i64),
                ),
                (
                    "configuration_endpoint".into(),
                    opt(endpoint.and_then(|e| e.address())),
                ),
                ("port".into(), Value::from(i64::from(port))),
            ])
        };
        attrs.extend([
            ("id".into(), Value::from(id)),
            ("name".into(), Value::from(id)),
            (
                "subnet_group_name".into(),
                opt(seen.subnet_group.as_deref()),
            ),
            ("engine_version".into(), opt(seen.engine_version.as_deref())),
            ("node_type".into(), opt(g.cache_node_type())),
            ("arn".into(), opt(g.arn())),
            ("status".into(), Value::from(status)),
            (
                "security_group_ids".into(),
                seen.security_groups.map(strings).unwrap_or(Value::Null),
            ),
            (
                "automatic_failover".into(),
                Value::Bool(matches!(
                    g.automatic_failover(),
                    Some(AutomaticFailoverStatus::Enabled | AutomaticFailoverStatus::Enabling)
                )),
            ),
            (
                "multi_az".into(),
                Value::Bool(g.multi_az() == Some(&MultiAzStatus::Enabled)),
            ),
            (
                "at_rest_encryption".into(),
                Value::Bool(g.at_rest_encryption_enabled().unwrap_or(false)),
            ),
            (
                "transit_encryption".into(),
                Value::Bool(g.transit_encryption_enabled().unwrap_or(false)),
            ),
        ]);
        Ok(Obj::new(id, attrs, status == "available"))
    }

    /// Checks that an object found by its deterministic name carries the identity's tags.
    async fn check_owner(
        &self,
        type_name: &str,
        obj: Obj,
        identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError> {
        let Some(arn) = attr_str(&obj.state.attrs, "arn") else {
            return Ok(Some(obj));
        };
        let tags = self.list_tags(arn).await?;
        if tags_match(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())), identity) {
            Ok(Some(obj))
        } else {
            Err(ProviderError::Invalid(format!(
                "{type_name} {:?} exists but is not tagged {TAG_STACK}={} {TAG_ADDRESS}={}: it \
                 was not made by ss for this resource; delete or rename it",
                obj.state.id, identity.stack, identity.address
            )))
        }
    }

    /// Waits until the replication group is `available` again (between two steps of a change).
    async fn settle(&self, id: &str) -> Result<Obj, ProviderError> {
        let start = Instant::now();
        until(
            STEP_TIMEOUT,
            &format!("{REPLICATION_GROUP} {id} not available"),
            || async move {
                match read_one(self, REPLICATION_GROUP, id).await? {
                    Some(obj) if obj.ready => Ok(Poll::Ready(obj)),
                    // Just changed: reads may not show it for a moment (eventual consistency).
                    None if start.elapsed() >= NOT_YET_VISIBLE => Err(ProviderError::NotFound(
                        format!("{REPLICATION_GROUP} {id} does not exist"),
                    )),
                    _ => Ok(Poll::Pending),
                }
            },
        )
        .await
    }

    /// The in-place steps of a replication group of either kind, each waited for before the
    /// next (a group with cluster mode disabled has no shard step).
    async fn converge_replication_group(
        &self,
        type_name: &str,
        current: &Obj,
        config: &Attrs,
    ) -> Result<bool, ProviderError> {
        let c = self.client().await;
        let id = current.state.id.as_str();
        let now = &current.state.attrs;
        let mut changed = false;

        let want_type = need_str(config, "node_type")?;
        let want_version = attr_str(config, "engine_version").unwrap_or(DEFAULT_VERSION);
        let type_differs = attr_str(now, "node_type") != Some(want_type);
        let version_differs = attr_str(now, "engine_version") != Some(want_version);
        if type_differs || version_differs {
            let mut call = c
                .modify_replication_group()
                .replication_group_id(id)
                .apply_immediately(true);
            if type_differs {
                call = call.cache_node_type(want_type);
            }
            if version_differs {
                call = call.engine_version(want_version);
            }
            call.send()
                .await
                .map_err(|e| sdk("ModifyReplicationGroup", e))?;
            if version_differs && let Some(arn) = attr_str(now, "arn") {
                c.add_tags_to_resource()
                    .resource_name(arn)
                    .tags(
                        Tag::builder()
                            .key(TAG_ENGINE_VERSION)
                            .value(want_version)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| sdk("AddTagsToResource", e))?;
            }
            self.settle(id).await?;
            changed = true;
        }

        let want_shards = attr_i64(config, "num_node_groups", 1);
        let have_shards = attr_i64(now, "num_node_groups", want_shards);
        if type_name == REPLICATION_GROUP && want_shards != have_shards {
            let mut call = c
                .modify_replication_group_shard_configuration()
                .replication_group_id(id)
                .node_group_count(want_shards as i32)
                .apply_immediately(true);
            if want_shards < have_shards {
                // AWS needs the node groups to remove: the highest ids go.
                let fresh = self.replication_groups().await?;
                let mut ids: Vec<String> = fresh
                    .get(id)
                    .map(|g| {
                        g.node_groups()
                            .iter()
                            .filter_map(|ng| ng.node_group_id().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                ids.sort();
                let keep = usize::try_from(want_shards).unwrap_or(0);
                for gone in ids.into_iter().skip(keep) {
                    call = call.node_groups_to_remove(gone);
                }
            }
            call.send()
                .await
                .map_err(|e| sdk("ModifyReplicationGroupShardConfiguration", e))?;
            self.settle(id).await?;
            changed = true;
        }

        let key = replica_key(type_name);
        let want_replicas = attr_i64(config, key, 1);
        let have_replicas = attr_i64(now, key, want_replicas);
        if want_replicas != have_replicas {
            self.change_replicas(id, have_replicas, want_replicas)
                .await?;
            changed = true;
        }
        Ok(changed)
    }

    /// Creates a replication group of either kind in the network of its subnet group: the
    /// network's security group, encrypted at rest and in transit, automatic failover.
    async fn create_group(&self, req: &CreateRequest<'_>) -> Result<String, ProviderError> {
        let (type_name, identity, config) = (req.type_name, req.identity, req.config);
        let c = self.client().await;
        let id = identity.name(REPLICATION_GROUP_ID_LEN);
        let subnet_group = need_str(config, "subnet_group_name")?;
        let vpc = c
            .describe_cache_subnet_groups()
            .cache_subnet_group_name(subnet_group)
            .send()
            .await
            .map_err(|e| sdk("DescribeCacheSubnetGroups", e))?
            .cache_subnet_groups()
            .first()
            .and_then(|g| g.vpc_id())
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::Invalid(format!("cache subnet group {subnet_group:?} has no VPC"))
            })?;
        let security_group = self.ec2.network_security_group(&vpc).await?;
        let version = attr_str(config, "engine_version").unwrap_or(DEFAULT_VERSION);
        let replicas = attr_i64(config, replica_key(type_name), 1);
        let call = c
            .create_replication_group()
            .replication_group_id(&id)
            .replication_group_description(format!("ss: {}", identity.address))
            .engine("redis")
            .engine_version(version)
            .cache_node_type(need_str(config, "node_type")?)
            .replicas_per_node_group(replicas as i32)
            .cache_subnet_group_name(subnet_group)
            .security_group_ids(security_group)
            .automatic_failover_enabled(true)
            .multi_az_enabled(replicas >= 1)
            .at_rest_encryption_enabled(true)
            .transit_encryption_enabled(true)
            .set_tags(Some(tags(
                identity,
                &[
                    (TAG_ENGINE_VERSION, version),
                    (TAG_SUBNET_GROUP, subnet_group),
                ],
            )));
        let call = if type_name == UNSHARDED_GROUP {
            // One node group, its primary in the network's first zone and each replica in
            // the next one (AWS spreads them only when told to).
            let zones: Vec<String> = self
                .ec2
                .network_subnets(&vpc)
                .await?
                .into_iter()
                .map(|(_, zone)| zone)
                .collect();
            call.set_cache_parameter_group_name(default_parameter_group(version, false))
                .cluster_mode(ClusterMode::Disabled)
                .num_node_groups(1)
                .node_group_configuration(spread(&zones, replicas))
        } else {
            call.set_cache_parameter_group_name(default_parameter_group(version, true))
                .cluster_mode(ClusterMode::Enabled)
                .num_node_groups(attr_i64(config, "num_node_groups", 1) as i32)
        };
        call.send()
            .await
            .map_err(|e| sdk("CreateReplicationGroup", e))
            .map_err(|e| exists_is_transient(e, &["ReplicationGroupAlreadyExists"]))?;
        Ok(id)
    }

    /// Moves a replication group from `have` to `want` replicas per node group (Multi-AZ
    /// switched off before going to no replica and on after leaving it).
    async fn change_replicas(
        &self,
        id: &str,
        have_replicas: i64,
        want_replicas: i64,
    ) -> Result<(), ProviderError> {
        let c = self.client().await;
        if want_replicas == 0 {
            // Multi-AZ needs a replica: off first.
            c.modify_replication_group()
                .replication_group_id(id)
                .multi_az_enabled(false)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| sdk("ModifyReplicationGroup", e))?;
            self.settle(id).await?;
        }
        if want_replicas > have_replicas {
            c.increase_replica_count()
                .replication_group_id(id)
                .new_replica_count(want_replicas as i32)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| sdk("IncreaseReplicaCount", e))?;
        } else {
            c.decrease_replica_count()
                .replication_group_id(id)
                .new_replica_count(want_replicas as i32)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| sdk("DecreaseReplicaCount", e))?;
        }
        if have_replicas == 0 {
            self.settle(id).await?;
            c.modify_replication_group()
                .replication_group_id(id)
                .multi_az_enabled(true)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| sdk("ModifyReplicationGroup", e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl Lifecycle for Elasticache {
    fn types(&self) -> &'static [&'static str] {
        MODULE.types
    }

    async fn find(
        &self,
        type_name: &str,
        identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError> {
        let c = self.client().await;
        match type_name {
            SUBNET_GROUP => {
                let name = identity.name(NAME_LEN);
                let answer = c
                    .describe_cache_subnet_groups()
                    .cache_subnet_group_name(&name)
                    .send()
                    .await
                    .map_err(|e| sdk("DescribeCacheSubnetGroups", e));
                let answer = match answer {
                    Ok(a) => a,
                    Err(ProviderError::NotFound(_)) => return Ok(None),
                    Err(e) => return Err(e),
                };
                let Some(obj) = answer
                    .cache_subnet_groups()
                    .first()
                    .and_then(subnet_group_obj)
                else {
                    return Ok(None);
                };
                self.check_owner(type_name, obj, identity).await
            }
            REPLICATION_GROUP | UNSHARDED_GROUP => {
                let id = identity.name(REPLICATION_GROUP_ID_LEN);
                let answer = c
                    .describe_replication_groups()
                    .replication_group_id(&id)
                    .send()
                    .await
                    .map_err(|e| sdk("DescribeReplicationGroups", e));
                let answer = match answer {
                    Ok(a) => a,
                    Err(ProviderError::NotFound(_)) => return Ok(None),
                    Err(e) => return Err(e),
                };
                let Some(g) = answer.replication_groups().first() else {
                    return Ok(None);
                };
                let obj = self.replication_group_obj(type_name, g, None).await?;
                if self.is_gone(type_name, &obj) {
                    return Ok(None);
                }
                self.check_owner(type_name, obj, identity).await
            }
            other => Err(unknown_type(other)),
        }
    }

    async fn create(&self, req: &CreateRequest<'_>, _salt: &str) -> Result<String, ProviderError> {
        let (type_name, identity, config) = (req.type_name, req.identity, req.config);
        let c = self.client().await;
        match type_name {
            SUBNET_GROUP => {
                let name = identity.name(NAME_LEN);
                let vpc = need_str(config, "vpc_id")?;
                let subnets = self.ec2.network_subnets(vpc).await?;
                c.create_cache_subnet_group()
                    .cache_subnet_group_name(&name)
                    .cache_subnet_group_description(format!("ss: {}", identity.address))
                    .set_subnet_ids(Some(subnets.into_iter().map(|(id, _)| id).collect()))
                    .set_tags(Some(tags(identity, &[])))
                    .send()
                    .await
                    .map_err(|e| sdk("CreateCacheSubnetGroup", e))
                    .map_err(|e| exists_is_transient(e, &["CacheSubnetGroupAlreadyExists"]))?;
                Ok(name)
            }
            REPLICATION_GROUP | UNSHARDED_GROUP => self.create_group(req).await,
            other => Err(unknown_type(other)),
        }
    }

    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Obj>>, ProviderError> {
        match type_name {
            SUBNET_GROUP => {
                let all = self.subnet_groups().await?;
                Ok(ids.iter().map(|id| all.get(id).cloned()).collect())
            }
            REPLICATION_GROUP | UNSHARDED_GROUP => {
                let all = self.replication_groups().await?;
                let members = if ids.iter().any(|id| all.contains_key(id)) {
                    self.members().await?
                } else {
                    BTreeMap::new()
                };
                let mut out = Vec::with_capacity(ids.len());
                for id in ids {
                    out.push(match all.get(id) {
                        Some(g) => Some(
                            self.replication_group_obj(type_name, g, members.get(id))
                                .await?,
                        ),
                        None => None,
                    });
                }
                Ok(out)
            }
            other => Err(unknown_type(other)),
        }
    }

    async fn converge(
        &self,
        type_name: &str,
        current: &Obj,
        config: &Attrs,
    ) -> Result<bool, ProviderError> {
        match type_name {
            SUBNET_GROUP => Ok(false),
            REPLICATION_GROUP | UNSHARDED_GROUP => {
                self.converge_replication_group(type_name, current, config)
                    .await
            }
            other => Err(unknown_type(other)),
        }
    }

    async fn delete(&self, type_name: &str, id: &str) -> Result<(), ProviderError> {
        let c = self.client().await;
        match type_name {
            SUBNET_GROUP => gone_ok(
                c.delete_cache_subnet_group()
                    .cache_subnet_group_name(id)
                    .send()
                    .await
                    .sent("DeleteCacheSubnetGroup"),
            ),
            REPLICATION_GROUP | UNSHARDED_GROUP => {
                let r = c
                    .delete_replication_group()
                    .replication_group_id(id)
                    .send()
                    .await
                    .sent("DeleteReplicationGroup");
                match gone_ok(r) {
                    // Being created or modified: the planner retries; already being
                    // deleted: nothing to do.
                    Err(ProviderError::Invalid(m))
                        if m.contains("InvalidReplicationGroupState") =>
                    {
                        match read_one(self, type_name, id).await? {
                            Some(obj) if !self.is_gone(type_name, &obj) => {
                                Err(ProviderError::Transient(m))
                            }
                            _ => Ok(()),
                        }
                    }
                    other => other,
                }
            }
            other => Err(unknown_type(other)),
        }
    }

    fn is_gone(&self, type_name: &str, obj: &Obj) -> bool {
        matches!(type_name, REPLICATION_GROUP | UNSHARDED_GROUP)
            && attr_str(&obj.state.attrs, "status") == Some("deleted")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            region: "eu-west-1".into(),
            zones: crate::settings::default_zones("eu-west-1"),
        }
    }

    #[test]
    fn sizes_map_to_node_types() {
        assert_eq!(node_type("small"), "cache.t4g.medium");
        assert_eq!(node_type("medium"), "cache.r6g.large");
        assert_eq!(node_type("large"), "cache.r6g.xlarge");
        assert_eq!(node_type("xlarge"), "cache.r6g.2xlarge");
        assert_eq!(node_type("cache.m7g.large"), "cache.m7g.large");
    }

    #[test]
    fn expansion_and_checks() {
        let config = Attrs::from([
            ("network".to_string(), Value::from("vpc-1")),
            ("shards".to_string(), Value::from(3)),
            ("replicas_per_shard".to_string(), Value::from(2)),
            ("size".to_string(), Value::from("large")),
        ]);
        let e = expand(&settings(), &config).expect("expands");
        let cluster = e.get("cluster").expect("cluster");
        assert_eq!(
            cluster.config["node_type"],
            Binding::Value(Value::from("cache.r6g.xlarge"))
        );
        assert_eq!(
            cluster.config["replicas_per_node_group"],
            Binding::Value(Value::from(2))
        );
        assert!(cluster.dependencies().contains("subnet_group"));
        let keys: Vec<&str> = e.exports.keys().map(String::as_str).collect();
        assert_eq!(keys, ["configuration_endpoint", "id", "port"]);
        assert!(validate(&settings(), &config).is_empty());
        let too_big = Attrs::from([
            ("shards".to_string(), Value::from(100)),
            ("replicas_per_shard".to_string(), Value::from(5)),
        ]);
        assert_eq!(validate(&settings(), &too_big).len(), 1);
        let bad = Attrs::from([
            ("size".to_string(), Value::from("db.r7g.large")),
            ("version".to_string(), Value::from("2.8")),
        ]);
        assert_eq!(validate(&settings(), &bad).len(), 2);
        let patch = Attrs::from([("version".to_string(), Value::from("7.1.0"))]);
        assert_eq!(validate(&settings(), &patch).len(), 1);
    }

    #[test]
    fn a_redis_is_one_unsharded_group_with_its_replicas_in_the_next_zones() {
        let config = Attrs::from([
            ("network".to_string(), Value::from("vpc-1")),
            ("replicas".to_string(), Value::from(2)),
        ]);
        let e = expand_redis(&settings(), &config).expect("expands");
        let redis = e.get("redis").expect("redis");
        assert_eq!(redis.type_name, UNSHARDED_GROUP);
        assert_eq!(
            redis.config["node_type"],
            Binding::Value(Value::from("cache.t4g.medium"))
        );
        assert_eq!(redis.config["replicas"], Binding::Value(Value::from(2)));
        assert!(redis.dependencies().contains("subnet_group"));
        assert_eq!(
            e.exports["endpoint"],
            Binding::attr("redis", "primary_endpoint")
        );
        assert_eq!(e.exports["password"], Binding::Value(Value::Null));
        let keys: Vec<&str> = e.exports.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["endpoint", "id", "password", "port", "reader_endpoint"]
        );
        assert!(validate_redis(&settings(), &config).is_empty());
        let bad = Attrs::from([("size".to_string(), Value::from("db.r7g.large"))]);
        assert_eq!(validate_redis(&settings(), &bad).len(), 1);
        let none = Attrs::from([("replicas".to_string(), Value::from(0))]);
        assert_eq!(validate_native(UNSHARDED_GROUP, &none).len(), 1);
        assert!(validate_native(REPLICATION_GROUP, &none).is_empty());

        let zones: Vec<String> = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
            .map(String::from)
            .to_vec();
        let ng = spread(&zones, 2);
        assert_eq!(ng.primary_availability_zone(), Some("eu-west-1a"));
        assert_eq!(
            ng.replica_availability_zones(),
            ["eu-west-1b", "eu-west-1c"]
        );
        assert_eq!(ng.replica_count(), Some(2));
        // More replicas than other zones: round the list.
        let ng = spread(&zones[..2], 3);
        assert_eq!(
            ng.replica_availability_zones(),
            ["eu-west-1b", "eu-west-1a", "eu-west-1b"]
        );
    }

    #[test]
    fn versions() {
        assert_eq!(version_name("7.1.0"), "7.1");
        assert_eq!(version_name("6.2.6"), "6.2");
        assert_eq!(version_name("5.0.6"), "5.0.6");
        assert_eq!(
            default_parameter_group("7.1", true).as_deref(),
            Some("default.redis7.cluster.on")
        );
        assert_eq!(
            default_parameter_group("6.2", true).as_deref(),
            Some("default.redis6.x.cluster.on")
        );
        assert_eq!(
            default_parameter_group("5.0.6", true).as_deref(),
            Some("default.redis5.0.cluster.on")
        );
        assert_eq!(
            default_parameter_group("7.1", false).as_deref(),
            Some("default.redis7")
        );
        assert_eq!(
            default_parameter_group("6.2", false).as_deref(),
            Some("default.redis6.x")
        );
    }
}
