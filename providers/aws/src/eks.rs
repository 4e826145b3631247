//! EKS: clusters and managed node groups, and the `kubernetes_cluster` component made of them.
//!
//! # `kubernetes_cluster`
//!
//! | local name | native type | what |
//! |---|---|---|
//! | `cluster_role` | `aws_iam_role` | assumed by `eks.amazonaws.com`, with `AmazonEKSClusterPolicy` |
//! | `node_role` | `aws_iam_role` | assumed by `ec2.amazonaws.com`, with `AmazonEKSWorkerNodePolicy`, `AmazonEKS_CNI_Policy`, `AmazonEC2ContainerRegistryReadOnly` |
//! | `cluster` | `aws_eks_cluster` | the control plane, in every subnet of the `network`, with its security group |
//! | `node_pool_<label>` | `aws_eks_node_group` | one managed node group per `node_pool` block, in every subnet of the network, scaling between `min` and `max`, its nodes labelled `node.ss.internal/pool=<label>` (what the `superset` pods select) |
//!
//! Exports: `id` (the cluster's name), `endpoint`, `ca_certificate` (base64 PEM, as EKS
//! answers it), `version` (the Kubernetes minor version, the default when none is given).
//!
//! **Default version.** Without `version`, a cluster gets [`DEFAULT_VERSION`], `1.35`: a
//! minor in EKS standard support when it was chosen (2026-12-07), and for the longest time
//! after of those whose dates are published. The EKS Kubernetes release calendar (EKS user
//! guide, "Understand the Kubernetes version lifecycle on EKS", as listed on
//! endoflife.date/amazon-eks and in aws-samples' EKS version calendar, checked 2026-04-24):
//!
//! | minor | released on EKS | end of standard support | end of extended support | on 2026-12-07 |
//! |---|---|---|---|---|
//! | 1.35 | 2026-01-28 | 2027-03-27 | 2028-03-27 | standard |
//! | 1.34 | 2025-10-06 | 2026-12-02 | 2027-12-02 | extended |
//! | 1.33 | 2025-05-28 | 2026-07-29 | 2027-07-29 | extended |
//! | 1.32 | 2025-01-25 | 2026-03-23 | 2027-03-23 | extended |
//! | 1.31 | 2024-09-26 | 2025-11-26 | 2026-11-26 | no longer offered |
//!
//! A minor is in standard support for 14 months after its EKS release, then in extended
//! support for 12 more at six times the control plane price ($0.60 per cluster-hour instead of
//! $0.10). Kubernetes 1.36 is out upstream, but no EKS date for it was found, so it is not the
//! default. Whatever the default, the plan asks EKS (`DescribeClusterVersions`) whether the
//! version is offered and in which support (`offers.rs`): an extended-support version is a
//! warning naming the price and the standard-support versions, a version no longer offered an
//! error naming those offered. Move this default when 1.35 nears 2027-03-27. The policy ARNs use the region's partition (`aws`, `aws-cn`, `aws-us-gov`).
//!
//! Node sizes (`size` of a `node_pool`): a portable class maps to an instance type, any other
//! value is an EC2 instance type passed through unchanged (it must look like one: `m7g.large`).
//!
//! | class | instance type | why |
//! |---|---|---|
//! | `small` | `t3.large` (2 vCPU, 8 GiB) | burstable and cheap for light pools; below 8 GiB the kubelet, VPC CNI and kube-proxy reservations leave little room for pods |
//! | `medium` | `m6i.xlarge` (4 vCPU, 16 GiB) | general purpose, steady CPU, offered in every commercial region |
//! | `large` | `m6i.2xlarge` (8 vCPU, 32 GiB) | same family, twice the size |
//! | `xlarge` | `m6i.4xlarge` (16 vCPU, 64 GiB) | same family, four times the size |
//!
//! Checks on top of the portable ones (which already hold `min` ≥ 0, `max` ≥ 1, `min` ≤ `max`,
//! so they are not repeated here): `version` is a Kubernetes minor version like `1.35`; a
//! `size` that is not a class looks like an instance type; node pool labels stay distinct once
//! turned into local names.
//!
//! # Native types
//!
//! | type | attributes (in place / *force new*) | EKS calls |
//! |---|---|---|
//! | `aws_eks_cluster` | `version`, *`role_arn`*, *`vpc_id`*; computed `arn`, `endpoint`, `ca_certificate`, `status`, `subnet_ids`, `security_group_ids` | `CreateCluster`, `DescribeCluster`, `UpdateClusterVersion`, `DeleteCluster` |
//! | `aws_eks_node_group` | *`cluster_name`*, *`node_role_arn`*, *`vpc_id`*, *`instance_types`*, `min_size`, `max_size`, `desired_size`, `labels`; computed `arn`, `status`, `subnet_ids` | `CreateNodegroup`, `ListClusters` (find), `DescribeNodegroup`, `UpdateNodegroupConfig`, `DeleteNodegroup` |
//!
//! **Names and ids.** A cluster's name is the deterministic name of its identity (EKS allows
//! 100 characters) and is its id. A node group's name is its identity's name cut to 63
//! characters; node groups live inside a cluster, so its id is `<cluster>:<node group>` (a
//! cluster name cannot hold `:`). Both are tagged with the identity tags in the create call.
//! `find` of a cluster is one `DescribeCluster` by name (the tags must name the identity); `find`
//! of a node group does not know its cluster (an identity carries no configuration), so it
//! lists the clusters and asks each with `DescribeNodegroup`: creates only, never refreshes.
//! A create repeated after an answer that was lost meets `ResourceInUseException` ("already
//! exists"), which is retryable, so the caller finds and adopts the object; SDK retries reuse
//! the SDK's own `clientRequestToken`.
//!
//! **Network.** Both types take the network's VPC id, and the create resolves the subnets ss made
//! in it (`Ec2::network_subnets`, all zones) and, for a cluster, the network's security group.
//! `vpc_id` is read back from the cluster (`resourcesVpcConfig.vpcId`); EKS does not report a
//! node group's VPC, so it is derived from its subnets by one `DescribeSubnets` for the whole
//! batch (moto omits the cluster's `vpcId` too, which the same lookup covers).
//!
//! **Scaling and labels.** `min_size`, `max_size` and `labels` are converged with
//! `UpdateNodegroupConfig` (only the parts that differ are sent).
//! `desired_size` belongs to the cluster autoscaler: the expansion leaves it out, the create
//! starts the group at `min_size`, and the read value is then kept as it is (no difference is
//! planned when the autoscaler moves it); a scaling change sends the current desired size
//! clamped into the new `[min, max]`, as EKS requires. A configuration that does set
//! `desired_size` on a native `aws_eks_node_group` has it tracked and enforced.
//!
//! **Version.** `version` is changed in place with `UpdateClusterVersion` (EKS moves one minor
//! version at a time and never down; the cluster is `UPDATING`, then `ACTIVE`, which the update
//! waits for). Node groups keep the version they were created with (their AMI release is
//! not managed here).
//!
//! **Refresh.** EKS has no batch describe, and `ListClusters` / `ListNodegroups` answer names
//! only: `read_many` is one `DescribeCluster` / `DescribeNodegroup` per object (a gone object
//! answers `ResourceNotFoundException`: `None`), plus the one `DescribeSubnets` above. Listing
//! first would add calls, not save any.
//!
//! **IAM propagation.** A role just created may not be assumable by EKS yet: `CreateCluster` and
//! `CreateNodegroup` answer `InvalidParameterException` ("Role could not be assumed…", "Error in
//! role params", "…doesn't have the Amazon EKS Managed Policies…"). Those answers are
//! transient here, so the planner retries with backoff. `CreateNodegroup` on a cluster that is
//! not `ACTIVE` (being upgraded) is transient too.
//!
//! **Readiness.** A cluster or node group is ready when `ACTIVE`. Creating an EKS cluster takes
//! 10–15 minutes on AWS and a node group a few more: the provider's `ready_timeout` must allow
//! for it. A node group stuck in `CREATE_FAILED` or `DEGRADED` is never ready, so the wait
//! times out naming it.
//!
//! **moto** (5.2) holds clusters and node groups (`ACTIVE` at once), their tags at create, and
//! `UpdateNodegroupConfig`; it has no `UpdateClusterVersion` (a version change cannot be tested
//! there), does not report `resourcesVpcConfig.vpcId`, and `TagResource` only tags clusters.
//! It has no `DescribeClusterVersions` either: `scripts/moto-server.py` answers it with the
//! calendar above as of 2026-12-07.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_eks::Client;
use aws_sdk_eks::config::http::HttpResponse;
use aws_sdk_eks::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eks::types::{
    Cluster, ClusterStatus, Nodegroup, NodegroupScalingConfig, NodegroupStatus,
    UpdateLabelsPayload, VpcConfigRequest,
};
use provider_api::CreateRequest;
use provider_api::component::{self, Size, SizeClass};
use provider_api::kit::config::{
    LocalNames, Reader, attr_i64, attr_set as attr_strings, attr_str, local_suffix,
};
use provider_api::kit::schema::{list, map, n, s};
use provider_api::kit::{Lifecycle, Obj};
use provider_api::schema::{AttributeSchema as A, Body};
use provider_api::{
    Attrs, Binding, Diagnostic, Expansion, Identity, NativeSpec, ProviderError, Value,
};

use crate::ec2::{self, Ec2};
use crate::error::sdk;
use crate::iam;
use crate::settings::Settings;
use crate::shared::{
    LazyClient, Shared, TAG_ADDRESS, TAG_STACK, gone_ok, identity_tag_pairs, need_str, opt,
    strings, tags_match, unknown_type,
};
use crate::types::{Module, base};

pub const CLUSTER: &str = "aws_eks_cluster";
pub const NODE_GROUP: &str = "aws_eks_node_group";

/// The native types of this module, their schemas and set-like attributes.
pub const MODULE: Module = Module {
    types: &[CLUSTER, NODE_GROUP],
    schema,
    set_like,
};

/// The Kubernetes minor version of a cluster that names none (see the module doc).
pub const DEFAULT_VERSION: &str = "1.35";

/// The node label ss gives the nodes of a `node_pool`, its block label as the value: what the
/// `superset` component's pods select their pool by. EKS's own `eks.amazonaws.com/nodegroup`
/// label holds the node group's name, which derives from the stack's name, and an expansion
/// does not know the stack.
pub use kubernetes::app::POOL_LABEL;

/// EKS's limits on names.
pub const CLUSTER_NAME_LEN: usize = 100;
pub const NODE_GROUP_NAME_LEN: usize = 63;

/// Managed policies of the cluster role and of the node role (names under
/// `arn:<partition>:iam::aws:policy/`).
pub const CLUSTER_POLICIES: [&str; 1] = ["AmazonEKSClusterPolicy"];
pub const NODE_POLICIES: [&str; 3] = [
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
];

fn schema(type_name: &str) -> Option<(&'static str, Body)> {
    match type_name {
        CLUSTER => Some((
            "An EKS cluster (control plane) in the subnets of an ss network",
            base()
                .attr(
                    "version",
                    A::required(
                        s(),
                        "Kubernetes minor version, like 1.35 (upgraded in place)",
                    ),
                )
                .attr(
                    "role_arn",
                    A::required(s(), "ARN of the IAM role EKS assumes").force_new(),
                )
                .attr(
                    "vpc_id",
                    A::required(
                        s(),
                        "VPC of an ss network: the cluster uses its subnets and security group",
                    )
                    .force_new(),
                )
                .attr("arn", A::computed(s(), "ARN of the cluster"))
                .attr("endpoint", A::computed(s(), "API server URL"))
                .attr(
                    "ca_certificate",
                    A::computed(s(), "API server CA certificate (PEM, base64)"),
                )
                .attr("status", A::computed(s(), "CREATING, ACTIVE, UPDATING…"))
                .attr(
                    "subnet_ids",
                    A::computed(list(s()), "Subnets of the cluster"),
                )
                .attr(
                    "security_group_ids",
                    A::computed(list(s()), "Security groups of the cluster"),
                ),
        )),
        NODE_GROUP => Some((
            "An EKS managed node group in the subnets of an ss network",
            base()
                .attr(
                    "cluster_name",
                    A::required(s(), "Name of the EKS cluster").force_new(),
                )
                .attr(
                    "node_role_arn",
                    A::required(s(), "ARN of the IAM role the nodes run as").force_new(),
                )
                .attr(
                    "vpc_id",
                    A::required(s(), "VPC of an ss network: the nodes go in its subnets")
                        .force_new(),
                )
                .attr(
                    "instance_types",
                    A::required(list(s()), "EC2 instance types of the nodes").force_new(),
                )
                .attr("min_size", A::required(n(), "Minimum number of nodes"))
                .attr("max_size", A::required(n(), "Maximum number of nodes"))
                .attr(
                    "desired_size",
                    A::optional_computed(
                        n(),
                        "Current number of nodes; left to the autoscaler when not set (starts \
                         at min_size)",
                    ),
                )
                .attr(
                    "labels",
                    A::optional(
                        map(s()),
                        "Kubernetes labels of the nodes (changed in place)",
                    ),
                )
                .attr("arn", A::computed(s(), "ARN of the node group"))
                .attr("status", A::computed(s(), "CREATING, ACTIVE, UPDATING…"))
                .attr(
                    "subnet_ids",
                    A::computed(list(s()), "Subnets of the node group"),
                ),
        )),
        _ => None,
    }
}

fn set_like(type_name: &str) -> &'static [&'static str] {
    match type_name {
        NODE_GROUP => &["instance_types"],
        _ => &[],
    }
}

// ---------------------------------------------------------------------------------------------
// The component.

/// The instance type of a node size: a class's (table in the module doc) or a native type.
pub fn instance_type(size: &str) -> String {
    match Size::parse(size) {
        Size::Class(SizeClass::Small) => "t3.large".into(),
        Size::Class(SizeClass::Medium) => "m6i.xlarge".into(),
        Size::Class(SizeClass::Large) => "m6i.2xlarge".into(),
        Size::Class(SizeClass::XLarge) => "m6i.4xlarge".into(),
        Size::Native(t) => t,
    }
}

/// Whether a native size looks like an EC2 instance type (`family.size`).
fn looks_like_instance_type(t: &str) -> bool {
    let mut parts = t.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(family), Some(size), None) => {
            !family.is_empty()
                && !size.is_empty()
                && family.starts_with(|c: char| c.is_ascii_lowercase())
                && t.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        }
        _ => false,
    }
}

/// Whether `v` is a Kubernetes minor version as EKS names them (`1.35`).
fn is_minor_version(v: &str) -> bool {
    match v.split_once('.') {
        Some(("1", minor)) => !minor.is_empty() && minor.chars().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// The AWS partition of a region (for the ARNs of AWS-managed policies).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

fn policy_arns(region: &str, names: &[&str]) -> Value {
    let p = partition(region);
    strings(
        names
            .iter()
            .map(|n| format!("arn:{p}:iam::aws:policy/{n}"))
            .collect(),
    )
}

/// The local name of a node pool's node group.
fn pool_local_name(label: &str) -> String {
    format!("node_pool_{}", local_suffix(label))
}

/// The `node_pool` blocks, by label (empty when absent).
fn pools(config: &Attrs) -> Result<BTreeMap<String, Value>, Diagnostic> {
    match config.get("node_pool") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(v) => match v.peel() {
            Value::Map(m) => Ok(m.clone()),
            Value::Unknown => Err(Diagnostic::error(
                "`node_pool` decides how many node groups are created, so it must be known at \
                 plan time",
            )
            .at(["node_pool"])),
            _ => Err(Diagnostic::error("`node_pool` must be labelled blocks").at(["node_pool"])),
        },
    }
}

/// The provider's own checks of a `kubernetes_cluster`, on top of the portable ones (see the
/// module doc). Unknown values are skipped.
pub fn validate(_settings: &Settings, config: &Attrs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(v) = config.get("version").and_then(Value::as_str)
        && !is_minor_version(v)
    {
        out.push(
            Diagnostic::error(format!(
                "`version` {v:?} is not a Kubernetes minor version as EKS names them, like \"1.35\""
            ))
            .at(["version"]),
        );
    }
    let pools = match pools(config) {
        Ok(p) => p,
        Err(d) => {
            out.push(d);
            return out;
        }
    };
    let mut taken: BTreeMap<String, &str> = BTreeMap::new();
    for (label, pool) in &pools {
        if let Some(other) = taken.insert(pool_local_name(label), label) {
            out.push(
                Diagnostic::error(format!(
                    "node pools {other:?} and {label:?} differ only in punctuation or case: \
                     rename one"
                ))
                .at(["node_pool", label.as_str()]),
            );
        }
        if let Some(size) = pool.get("size").and_then(Value::as_str)
            && let Size::Native(t) = Size::parse(size)
            && !looks_like_instance_type(&t)
        {
            out.push(
                Diagnostic::error(format!(
                    "`size` {t:?} is neither a size class (small, medium, large, xlarge) nor an \
                     EC2 instance type like \"m6i.xlarge\""
                ))
                .at(["node_pool", label.as_str(), "size"]),
            );
        }
    }
    out
}

/// Expands a `kubernetes_cluster` into native resources (table in the module doc).
pub fn expand(settings: &Settings, config: &Attrs) -> Result<Expansion, Vec<Diagnostic>> {
    let pools = pools(config).map_err(|d| vec![d])?;
    if pools.is_empty() {
        return Err(vec![
            Diagnostic::error("a `kubernetes_cluster` needs at least one `node_pool` block")
                .at(["node_pool"]),
        ]);
    }
    let c = Reader::new(config);
    let network = c.value("network", Value::Null);
    let mut resources = vec![
        NativeSpec::new("cluster_role", iam::ROLE)
            .set("assume_role_service", Value::from("eks.amazonaws.com"))
            .set(
                "managed_policy_arns",
                policy_arns(&settings.region, &CLUSTER_POLICIES),
            ),
        NativeSpec::new("node_role", iam::ROLE)
            .set("assume_role_service", Value::from("ec2.amazonaws.com"))
            .set(
                "managed_policy_arns",
                policy_arns(&settings.region, &NODE_POLICIES),
            ),
        NativeSpec::new("cluster", CLUSTER)
            .set("version", c.value("version", DEFAULT_VERSION))
            .set("role_arn", Binding::attr("cluster_role", "arn"))
            .set("vpc_id", network.clone()),
    ];
    let mut taken = LocalNames::default();
    for (label, pool) in &pools {
        let local = pool_local_name(label);
        taken.claim(&local, label).map_err(|d| vec![d])?;
        let get = |k: &str| pool.get(k).cloned().unwrap_or(Value::Null);
        let instance = match get("size") {
            Value::Null => Value::from(instance_type("medium")),
            v => match v.as_str() {
                Some(size) => Value::from(instance_type(size)),
                None => v,
            },
        };
        resources.push(
            NativeSpec::new(&local, NODE_GROUP)
                .set("cluster_name", Binding::attr("cluster", "id"))
                .set("node_role_arn", Binding::attr("node_role", "arn"))
                .set("vpc_id", network.clone())
                .set("instance_types", Value::List(vec![instance]))
                .set("min_size", get("min"))
                .set("max_size", get("max"))
                .set(
                    "labels",
                    Value::Map(Attrs::from([(
                        POOL_LABEL.to_string(),
                        Value::from(label.as_str()),
                    )])),
                ),
        );
    }
    Ok(Expansion {
        resources,
        exports: Expansion::exports_of("cluster", component::CLUSTER_EXPORTS),
    })
}

// ---------------------------------------------------------------------------------------------
// Errors.

/// `InvalidParameterException` messages of EKS that mean "the IAM role is not usable yet"
/// (IAM is eventually consistent; the same ones Terraform's AWS provider retries).
const ROLE_NOT_READY: [&str; 5] = [
    "could not be assumed",
    "cannot be assumed",
    "Error in role params",
    "doesn't have the Amazon EKS Managed Policies",
    "IAM role's policy must include",
];

/// Whether an EKS error text says the role is not usable yet.
fn role_not_ready(text: &str) -> bool {
    text.contains("InvalidParameterException")
        && (ROLE_NOT_READY.iter().any(|m| text.contains(m))
            || (text.contains("does not exist") && text.to_ascii_lowercase().contains("role")))
}

/// Maps an EKS SDK error: [`sdk`], plus the answers that are retryable here (a role not yet
/// assumable, a cluster not `ACTIVE` yet) and the older "no cluster" form of not found.
fn eks_err<E>(what: &str, err: SdkError<E, HttpResponse>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match sdk(what, err) {
        ProviderError::Invalid(m) if role_not_ready(&m) => ProviderError::Transient(m),
        ProviderError::Invalid(m)
            if m.contains("InvalidRequestException") && m.contains("is not in ACTIVE status") =>
        {
            ProviderError::Transient(m)
        }
        ProviderError::Invalid(m) if m.contains("No cluster found for name") => {
            ProviderError::NotFound(m)
        }
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Reads.

fn tags_of(tags: Option<&HashMap<String, String>>) -> impl Iterator<Item = (&str, &str)> {
    tags.into_iter()
        .flat_map(|t| t.iter())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(k, _)| *k == TAG_STACK || *k == TAG_ADDRESS)
}

fn identity_tag_map(identity: &Identity, len: usize) -> HashMap<String, String> {
    identity_tag_pairs(identity, len).into_iter().collect()
}

fn cluster_obj(c: &Cluster, vpcs: &HashMap<String, String>) -> Option<Obj> {
    let name = c.name()?;
    let vpc_config = c.resources_vpc_config();
    let subnets: Vec<String> = vpc_config
        .map(|v| v.subnet_ids().to_vec())
        .unwrap_or_default();
    let vpc = vpc_config
        .and_then(|v| v.vpc_id())
        .or_else(|| subnets.iter().find_map(|s| vpcs.get(s)).map(String::as_str));
    let attrs = Attrs::from([
        ("id".into(), Value::from(name)),
        ("name".into(), Value::from(name)),
        ("version".into(), opt(c.version())),
        ("role_arn".into(), opt(c.role_arn())),
        ("vpc_id".into(), opt(vpc)),
        ("arn".into(), opt(c.arn())),
        ("endpoint".into(), opt(c.endpoint())),
        (
            "ca_certificate".into(),
            opt(c.certificate_authority().and_then(|a| a.data())),
        ),
        ("status".into(), opt(c.status().map(ClusterStatus::as_str))),
        ("subnet_ids".into(), strings(subnets.clone())),
        (
            "security_group_ids".into(),
            strings(
                vpc_config
                    .map(|v| v.security_group_ids().to_vec())
                    .unwrap_or_default(),
            ),
        ),
    ]);
    Some(Obj::new(
        name,
        attrs,
        c.status() == Some(&ClusterStatus::Active),
    ))
}

fn node_group_obj(g: &Nodegroup, vpcs: &HashMap<String, String>) -> Option<Obj> {
    let cluster = g.cluster_name()?;
    let name = g.nodegroup_name()?;
    let id = format!("{cluster}:{name}");
    let scaling = g.scaling_config();
    let size = |v: Option<i32>| v.map(|n| Value::from(i64::from(n))).unwrap_or(Value::Null);
    let attrs = Attrs::from([
        ("id".into(), Value::from(id.as_str())),
        ("name".into(), Value::from(name)),
        ("cluster_name".into(), Value::from(cluster)),
        ("node_role_arn".into(), opt(g.node_role())),
        (
            "vpc_id".into(),
            opt(g
                .subnets()
                .iter()
                .find_map(|s| vpcs.get(s))
                .map(String::as_str)),
        ),
        (
            "instance_types".into(),
            strings(g.instance_types().to_vec()),
        ),
        ("min_size".into(), size(scaling.and_then(|s| s.min_size()))),
        ("max_size".into(), size(scaling.and_then(|s| s.max_size()))),
        (
            "desired_size".into(),
            size(scaling.and_then(|s| s.desired_size())),
        ),
        (
            "labels".into(),
            match g.labels() {
                Some(l) if !l.is_empty() => Value::Map(
                    l.iter()
                        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                        .collect(),
                ),
                _ => Value::Null,
            },
        ),
        ("arn".into(), opt(g.nodegroup_arn())),
        (
            "status".into(),
            opt(g.status().map(NodegroupStatus::as_str)),
        ),
        ("subnet_ids".into(), strings(g.subnets().to_vec())),
    ]);
    Some(Obj::new(
        id,
        attrs,
        g.status() == Some(&NodegroupStatus::Active),
    ))
}

/// Splits a node group id `<cluster>:<node group>`.
fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once(':').ok_or_else(|| {
        ProviderError::Invalid(format!(
            "{id:?} is not a node group id: expected <cluster name>:<node group name>"
        ))
    })
}

/// The node labels a node group's configuration gives (none when it gives none).
fn labels(config: &Attrs) -> Option<HashMap<String, String>> {
    let m = config.get("labels")?.as_map()?;
    Some(
        m.iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect(),
    )
}

/// The label change from the labels a node group has to those its configuration gives:
/// `None` when they are the same.
fn label_change(now: &Attrs, config: &Attrs) -> Option<UpdateLabelsPayload> {
    let want = labels(config).unwrap_or_default();
    let have = labels(now).unwrap_or_default();
    if want == have {
        return None;
    }
    let remove: Vec<String> = have
        .keys()
        .filter(|k| !want.contains_key(*k))
        .cloned()
        .collect();
    Some(
        UpdateLabelsPayload::builder()
            .set_add_or_update_labels((!want.is_empty()).then_some(want))
            .set_remove_labels((!remove.is_empty()).then_some(remove))
            .build(),
    )
}

/// The scaling a node group should have: `config`'s `min_size` / `max_size`, and its
/// `desired_size` when set, else `current` (the autoscaler's, or `min_size` at create)
/// clamped into `[min, max]`.
fn scaling(config: &Attrs, current: Option<i64>) -> (i64, i64, i64) {
    let min = attr_i64(config, "min_size", 1).max(0);
    let max = attr_i64(config, "max_size", min.max(1)).max(min).max(1);
    let desired = match config.get("desired_size").and_then(Value::as_i64) {
        Some(d) => d,
        None => current.unwrap_or(min).clamp(min, max),
    };
    (min, max, desired)
}

/// Sizes fit in EKS's 32-bit fields.
fn i32_of(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// The EKS operations, on a client built at the first call.
#[derive(Debug)]
pub struct Eks {
    ec2: Arc<Ec2>,
    client: LazyClient<Client>,
}

impl Eks {
    pub fn new(shared: Arc<Shared>, ec2: Arc<Ec2>) -> Eks {
        Eks {
            ec2,
            client: LazyClient::new(shared),
        }
    }

    async fn client(&self) -> &Client {
        crate::client!(aws_sdk_eks, &self.client)
    }

    /// The VPC of each subnet: one paginated `DescribeSubnets` per 200 subnets (none for none).
    async fn subnet_vpcs(
        &self,
        mut subnets: Vec<String>,
    ) -> Result<HashMap<String, String>, ProviderError> {
        subnets.sort();
        subnets.dedup();
        Ok(self
            .ec2
            .read_many(ec2::SUBNET, &subnets)
            .await?
            .into_iter()
            .flatten()
            .filter_map(|obj| {
                let vpc = attr_str(&obj.state.attrs, "vpc_id")?.to_string();
                Some((obj.state.id, vpc))
            })
            .collect())
    }

    async fn describe_cluster(&self, name: &str) -> Result<Option<Cluster>, ProviderError> {
        match self
            .client()
            .await
            .describe_cluster()
            .name(name)
            .send()
            .await
            .map_err(|e| eks_err("DescribeCluster", e))
        {
            Ok(out) => Ok(out.cluster().cloned()),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn describe_node_group(
        &self,
        cluster: &str,
        name: &str,
    ) -> Result<Option<Nodegroup>, ProviderError> {
        match self
            .client()
            .await
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await
            .map_err(|e| eks_err("DescribeNodegroup", e))
        {
            Ok(out) => Ok(out.nodegroup().cloned()),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn cluster_names(&self) -> Result<Vec<String>, ProviderError> {
        crate::all_items!("ListClusters", self.client().await.list_clusters(), eks_err)
    }

    /// Clusters as objects, filling in the VPC where EKS does not report it.
    async fn cluster_objs(
        &self,
        found: Vec<Option<Cluster>>,
    ) -> Result<Vec<Option<Obj>>, ProviderError> {
        let lacking: Vec<String> = found
            .iter()
            .flatten()
            .filter_map(|c| c.resources_vpc_config())
            .filter(|v| v.vpc_id().is_none())
            .flat_map(|v| v.subnet_ids().iter().take(1).cloned())
            .collect();
        let vpcs = self.subnet_vpcs(lacking).await?;
        Ok(found
            .iter()
            .map(|c| c.as_ref().and_then(|c| cluster_obj(c, &vpcs)))
            .collect())
    }

    async fn node_group_objs(
        &self,
        found: Vec<Option<Nodegroup>>,
    ) -> Result<Vec<Option<Obj>>, ProviderError> {
        let subnets: Vec<String> = found
            .iter()
            .flatten()
            .flat_map(|g| g.subnets().iter().take(1).cloned())
            .collect();
        let vpcs = self.subnet_vpcs(subnets).await?;
        Ok(found
            .iter()
            .map(|g| g.as_ref().and_then(|g| node_group_obj(g, &vpcs)))
            .collect())
    }

    /// An object found under an identity's name must carry that identity's tags.
    fn check_owner(
        what: &str,
        name: &str,
        tags: Option<&HashMap<String, String>>,
        identity: &Identity,
    ) -> Result<(), ProviderError> {
        if tags_match(tags_of(tags), identity) {
            Ok(())
        } else {
            Err(ProviderError::Invalid(format!(
                "an EKS {what} named {name:?} exists but was not made by ss for {:?}: delete or \
                 rename it",
                identity.address
            )))
        }
    }
}

#[async_trait]
impl Lifecycle for Eks {
    fn types(&self) -> &'static [&'static str] {
        MODULE.types
    }

    async fn find(
        &self,
        type_name: &str,
        identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError> {
        match type_name {
            CLUSTER => {
                let name = identity.name(CLUSTER_NAME_LEN);
                let Some(c) = self.describe_cluster(&name).await? else {
                    return Ok(None);
                };
                Self::check_owner("cluster", &name, c.tags(), identity)?;
                Ok(self
                    .cluster_objs(vec![Some(c)])
                    .await?
                    .into_iter()
                    .flatten()
                    .next())
            }
            NODE_GROUP => {
                let name = identity.name(NODE_GROUP_NAME_LEN);
                for cluster in self.cluster_names().await? {
                    if let Some(g) = self.describe_node_group(&cluster, &name).await? {
                        Self::check_owner("node group", &name, g.tags(), identity)?;
                        return Ok(self
                            .node_group_objs(vec![Some(g)])
                            .await?
                            .into_iter()
                            .flatten()
                            .next());
                    }
                }
                Ok(None)
            }
            other => Err(unknown_type(other)),
        }
    }

    async fn create(&self, req: &CreateRequest<'_>, _salt: &str) -> Result<String, ProviderError> {
        let (type_name, identity, config) = (req.type_name, req.identity, req.config);
        let c = self.client().await;
        match type_name {
            CLUSTER => {
                let vpc = need_str(config, "vpc_id")?;
                let subnets: Vec<String> = self
                    .ec2
                    .network_subnets(vpc)
                    .await?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect();
                let group = self.ec2.network_security_group(vpc).await?;
                let name = identity.name(CLUSTER_NAME_LEN);
                c.create_cluster()
                    .name(&name)
                    .version(need_str(config, "version")?)
                    .role_arn(need_str(config, "role_arn")?)
                    .resources_vpc_config(
                        VpcConfigRequest::builder()
                            .set_subnet_ids(Some(subnets))
                            .security_group_ids(group)
                            .build(),
                    )
                    .set_tags(Some(identity_tag_map(identity, CLUSTER_NAME_LEN)))
                    .send()
                    .await
                    .map_err(|e| eks_err("CreateCluster", e))?;
                Ok(name)
            }
            NODE_GROUP => {
                let cluster = need_str(config, "cluster_name")?;
                let vpc = need_str(config, "vpc_id")?;
                let subnets: Vec<String> = self
                    .ec2
                    .network_subnets(vpc)
                    .await?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect();
                let instance_types = attr_strings(config, "instance_types");
                if instance_types.is_empty() {
                    return Err(ProviderError::Invalid(
                        "`instance_types` must name at least one instance type".into(),
                    ));
                }
                let (min, max, desired) = scaling(config, None);
                let name = identity.name(NODE_GROUP_NAME_LEN);
                c.create_nodegroup()
                    .cluster_name(cluster)
                    .nodegroup_name(&name)
                    .node_role(need_str(config, "node_role_arn")?)
                    .set_subnets(Some(subnets))
                    .set_instance_types(Some(instance_types))
                    .scaling_config(
                        NodegroupScalingConfig::builder()
                            .min_size(i32_of(min))
                            .max_size(i32_of(max))
                            .desired_size(i32_of(desired))
                            .build(),
                    )
                    .set_labels(labels(config))
                    .set_tags(Some(identity_tag_map(identity, NODE_GROUP_NAME_LEN)))
                    .send()
                    .await
                    .map_err(|e| eks_err("CreateNodegroup", e))?;
                Ok(format!("{cluster}:{name}"))
            }
            other => Err(unknown_type(other)),
        }
    }

    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Obj>>, ProviderError> {
        match type_name {
            CLUSTER => {
                let mut found = Vec::with_capacity(ids.len());
                for id in ids {
                    found.push(self.describe_cluster(id).await?);
                }
                self.cluster_objs(found).await
            }
            NODE_GROUP => {
                let mut found = Vec::with_capacity(ids.len());
                for id in ids {
                    let (cluster, name) = split_id(id)?;
                    found.push(self.describe_node_group(cluster, name).await?);
                }
                self.node_group_objs(found).await
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
        let c = self.client().await;
        let now = &current.state.attrs;
        match type_name {
            CLUSTER => {
                let want = need_str(config, "version")?;
                if attr_str(now, "version") == Some(want) {
                    return Ok(false);
                }
                c.update_cluster_version()
                    .name(&current.state.id)
                    .version(want)
                    .send()
                    .await
                    .map_err(|e| eks_err("UpdateClusterVersion", e))?;
                Ok(true)
            }
            NODE_GROUP => {
                let have = (
                    attr_i64(now, "min_size", -1),
                    attr_i64(now, "max_size", -1),
                    attr_i64(now, "desired_size", -1),
                );
                let current_desired = now.get("desired_size").and_then(Value::as_i64);
                let want = scaling(config, current_desired);
                let relabel = label_change(now, config);
                if have == want && relabel.is_none() {
                    return Ok(false);
                }
                let (cluster, name) = split_id(&current.state.id)?;
                let scaling_config = (have != want).then(|| {
                    NodegroupScalingConfig::builder()
                        .min_size(i32_of(want.0))
                        .max_size(i32_of(want.1))
                        .desired_size(i32_of(want.2))
                        .build()
                });
                c.update_nodegroup_config()
                    .cluster_name(cluster)
                    .nodegroup_name(name)
                    .set_scaling_config(scaling_config)
                    .set_labels(relabel)
                    .send()
                    .await
                    .map_err(|e| eks_err("UpdateNodegroupConfig", e))?;
                Ok(true)
            }
            other => Err(unknown_type(other)),
        }
    }

    async fn delete(&self, type_name: &str, id: &str) -> Result<(), ProviderError> {
        let c = self.client().await;
        match type_name {
            CLUSTER => gone_ok(
                c.delete_cluster()
                    .name(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| eks_err("DeleteCluster", e)),
            ),
            NODE_GROUP => {
                let (cluster, name) = split_id(id)?;
                gone_ok(
                    c.delete_nodegroup()
                        .cluster_name(cluster)
                        .nodegroup_name(name)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| eks_err("DeleteNodegroup", e)),
                )
            }
            other => Err(unknown_type(other)),
        }
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

    fn pool(size: Option<&str>, min: i64, max: i64) -> Value {
        let mut m = BTreeMap::from([
            ("min".to_string(), Value::from(min)),
            ("max".to_string(), Value::from(max)),
        ]);
        if let Some(s) = size {
            m.insert("size".into(), Value::from(s));
        }
        Value::Map(m)
    }

    fn config(pools: Vec<(&str, Value)>) -> Attrs {
        Attrs::from([
            ("network".to_string(), Value::from("vpc-123")),
            ("version".to_string(), Value::from("1.31")),
            (
                "node_pool".to_string(),
                Value::Map(pools.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
            ),
        ])
    }

    #[test]
    fn expands_roles_cluster_and_one_node_group_per_pool() {
        let cfg = config(vec![
            ("web", pool(Some("small"), 1, 3)),
            ("batch-jobs", pool(Some("c6i.2xlarge"), 0, 10)),
            ("default", pool(None, 2, 2)),
        ]);
        let e = expand(&settings(), &cfg).expect("expands");
        assert_eq!(e, expand(&settings(), &cfg).expect("expands"));
        let names: Vec<&str> = e.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "cluster_role",
                "node_role",
                "cluster",
                "node_pool_batch_jobs",
                "node_pool_default",
                "node_pool_web"
            ]
        );
        let web = e.get("node_pool_web").expect("web");
        assert_eq!(
            web.config["instance_types"],
            Binding::Value(Value::List(vec!["t3.large".into()]))
        );
        assert_eq!(web.config["min_size"], Binding::Value(Value::from(1)));
        assert!(!web.config.contains_key("desired_size"));
        assert!(web.dependencies().contains("cluster"));
        assert!(web.dependencies().contains("node_role"));
        assert_eq!(
            e.get("node_pool_batch_jobs").expect("batch").config["instance_types"],
            Binding::Value(Value::List(vec!["c6i.2xlarge".into()]))
        );
        assert_eq!(
            e.get("node_pool_default").expect("default").config["instance_types"],
            Binding::Value(Value::List(vec!["m6i.xlarge".into()]))
        );
        let node_role = e.get("node_role").expect("node role");
        assert_eq!(
            node_role.config["managed_policy_arns"],
            Binding::Value(Value::List(vec![
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly".into(),
                "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy".into(),
                "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy".into(),
            ]))
        );
        let exports: Vec<&str> = e.exports.keys().map(String::as_str).collect();
        assert_eq!(exports, ["ca_certificate", "endpoint", "id", "version"]);
        let mut unversioned = cfg.clone();
        unversioned.remove("version");
        assert_eq!(
            expand(&settings(), &unversioned)
                .expect("expands")
                .get("cluster")
                .expect("cluster")
                .config["version"],
            Binding::Value(Value::from(DEFAULT_VERSION))
        );
        let cn = Settings {
            region: "cn-north-1".into(),
            zones: Vec::new(),
        };
        let e = expand(&cn, &cfg).expect("expands");
        assert_eq!(
            e.get("cluster_role").expect("role").config["managed_policy_arns"],
            Binding::Value(Value::List(vec![
                "arn:aws-cn:iam::aws:policy/AmazonEKSClusterPolicy".into()
            ]))
        );
    }

    #[test]
    fn checks() {
        let ok = config(vec![("web", pool(Some("m7g.large"), 0, 2))]);
        assert!(validate(&settings(), &ok).is_empty());
        let mut bad = config(vec![
            ("web", pool(Some("huge"), 0, 2)),
            ("Web", pool(None, 0, 2)),
        ]);
        bad.insert("version".into(), Value::from("v1.31"));
        let d = validate(&settings(), &bad);
        assert_eq!(d.len(), 3, "{d:?}");
        let mut unknown = ok.clone();
        unknown.insert("version".into(), Value::Unknown);
        assert!(validate(&settings(), &unknown).is_empty());
        assert!(is_minor_version("1.9") && !is_minor_version("1.") && !is_minor_version("2.0"));
        assert!(expand(&settings(), &config(vec![])).is_err());
    }

    #[test]
    fn desired_size_follows_the_autoscaler_within_bounds() {
        let cfg = Attrs::from([
            ("min_size".to_string(), Value::from(2)),
            ("max_size".to_string(), Value::from(5)),
        ]);
        assert_eq!(scaling(&cfg, None), (2, 5, 2));
        assert_eq!(scaling(&cfg, Some(4)), (2, 5, 4));
        assert_eq!(scaling(&cfg, Some(9)), (2, 5, 5));
        assert_eq!(scaling(&cfg, Some(0)), (2, 5, 2));
        let mut fixed = cfg.clone();
        fixed.insert("desired_size".into(), Value::from(3));
        assert_eq!(scaling(&fixed, Some(4)), (2, 5, 3));
    }

    #[test]
    fn role_propagation_answers_are_transient() {
        assert!(role_not_ready(
            "CreateCluster: InvalidParameterException: Role with arn: arn:aws:iam::1:role/x, \
             could not be assumed because it does not exist or the trusted entity is not correct"
        ));
        assert!(role_not_ready(
            "CreateCluster: InvalidParameterException: roleArn, arn:aws:iam::1:role/x, does not \
             exist"
        ));
        assert!(!role_not_ready(
            "CreateCluster: InvalidParameterException: Subnet subnet-1 does not exist"
        ));
        assert!(!role_not_ready(
            "CreateCluster: InvalidParameterException: unsupported Kubernetes version 1.99"
        ));
    }
}
