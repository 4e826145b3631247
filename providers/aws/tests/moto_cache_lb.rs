//! `redis_cluster`, `redis` (ElastiCache) and `load_balancer` (ELBv2) of the AWS provider end to end
//! against a moto server, with the real SDK clients: planned, applied, checked through the
//! SDK directly, re-planned, drifted, changed in place and destroyed through the real
//! planner, and refreshed in batches through the `Provider` trait.
//!
//! Start moto with `export SS_TEST_MOTO_URL="$(scripts/moto-start)"`. Without it the tests say
//! so and pass, except under CI (env `CI` set), where they fail. Every test uses its own stack
//! name, so tests share one server in parallel.
//!
//! moto 5.2 gaps met here (each is said again where a test meets it):
//! - `ModifyReplicationGroup`, `ModifyReplicationGroupShardConfiguration`,
//!   `Increase…`/`DecreaseReplicaCount` answer 500: the in-place changes of a replication
//!   group cannot be applied on moto; the tests check that the plan is an in-place update and
//!   that moto refuses the call, nothing more.
//! - `DeleteCacheSubnetGroup` is not implemented (500), and a deleted replication group stays
//!   `deleting` forever: `scripts/moto-server.py` (which `scripts/moto-start` runs) fills in
//!   both, so a destroy completes as on AWS.
//! - Member cache clusters of a replication group are not listed by `DescribeCacheClusters`:
//!   the provider reads the engine version and subnet group from its tags instead.
//! - A cluster-mode-disabled group's replicas are placed by `PreferredCacheClusterAZs`; the
//!   `NodeGroupConfiguration` zones the provider sends (AWS's way with `ReplicasPerNodeGroup`)
//!   are ignored, so the zones are not checked here (the unit tests check what is sent). Its
//!   node group's reader address is kept but not answered as `ReaderEndpoint`, so a `redis`'s
//!   `reader_endpoint` is null on moto.

#![allow(clippy::panic)]

mod common;

use common::*;

use std::collections::BTreeMap;

use aws_sdk_elasticache::Client as CacheClient;
use aws_sdk_elasticache::types::{
    AutomaticFailoverStatus, ClusterMode, MultiAzStatus, ReplicationGroup,
};
use aws_sdk_elasticloadbalancingv2::Client as ElbClient;
use aws_sdk_elasticloadbalancingv2::types::{
    ActionTypeEnum, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, ProtocolEnum, TargetTypeEnum,
};
use planner::plan::{Action, Plan, PlanMode};
use provider_api::{Attrs, CreateRequest, Provider, ResourceState, Value};

fn name(stack: &str, address: &str, len: usize) -> String {
    provider_api::deterministic_name(stack, address, len)
}

fn change<'a>(plan: &'a Plan, address: &str) -> &'a planner::plan::ResourceChange {
    plan.changes
        .iter()
        .find(|c| c.address.to_string() == address)
        .unwrap_or_else(|| panic!("no change for {address}"))
}

/// A replication group as both Redis components make it: available, automatic failover,
/// Multi-AZ, encrypted at rest and in transit, on nodes of `node_type`.
fn assert_ha_and_encrypted(g: &ReplicationGroup, node_type: &str) {
    assert_eq!(g.status(), Some("available"));
    assert_eq!(
        g.automatic_failover(),
        Some(&AutomaticFailoverStatus::Enabled)
    );
    assert_eq!(g.multi_az(), Some(&MultiAzStatus::Enabled));
    assert_eq!(g.at_rest_encryption_enabled(), Some(true));
    assert_eq!(g.transit_encryption_enabled(), Some(true));
    assert_eq!(g.cache_node_type(), Some(node_type));
}

/// The replication group `id` as moto describes it.
async fn replication_group(cache: &CacheClient, id: &str) -> ReplicationGroup {
    let groups = cache
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
        .expect("replication group");
    groups.replication_groups()[0].clone()
}

/// Destroys a stack of a network and one Redis component (9 objects): the replication group
/// is waited for until it is gone, then its subnet group and the network go.
async fn destroy_redis(work: &Workdir, cache: &CacheClient, id: &str) {
    let (engine, plan, state) = work.plan(PlanMode::Destroy).await;
    assert_eq!(changes(&plan).len(), 9);
    let after = work.apply(engine, &plan, state).await;
    assert!(
        after.resources.is_empty(),
        "the state is empty after destroy"
    );
    assert!(
        !group_listed(cache, id).await,
        "the replication group is gone"
    );
}

/// Whether moto still lists the replication group `id`.
async fn group_listed(cache: &CacheClient, id: &str) -> bool {
    let groups = cache
        .describe_replication_groups()
        .send()
        .await
        .expect("replication groups");
    groups
        .replication_groups()
        .iter()
        .any(|g| g.replication_group_id() == Some(id))
}

/// Ids of the stack's EC2 objects (VPCs, subnets, security groups), by kind.
async fn ec2_left(moto: &Moto, stack: &str) -> Vec<String> {
    let f = || {
        aws_sdk_ec2::types::Filter::builder()
            .name("tag:ss:stack")
            .values(stack)
            .build()
    };
    let c = &moto.client;
    let mut out = Vec::new();
    let vpcs = c.describe_vpcs().filters(f()).send().await.expect("vpcs");
    out.extend(
        vpcs.vpcs()
            .iter()
            .filter_map(|v| v.vpc_id())
            .map(String::from),
    );
    let subnets = c
        .describe_subnets()
        .filters(f())
        .send()
        .await
        .expect("subnets");
    out.extend(
        subnets
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id())
            .map(String::from),
    );
    let groups = c
        .describe_security_groups()
        .filters(f())
        .send()
        .await
        .expect("security groups");
    out.extend(
        groups
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id())
            .map(String::from),
    );
    out
}

// ---------------------------------------------------------------------------------------------
// redis_cluster

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_plan_apply_check_destroy() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let stack = unique_stack("awsredis");
    let calls = Calls::default();
    let spec = |shards: i64| {
        format!(
            r#"{}
resource "network" "main" {{
  cidr  = "10.60.0.0/16"
  zones = 3
}}

resource "redis_cluster" "cache" {{
  network            = network.main.id
  shards             = {shards}
  replicas_per_shard = 1
}}

output "endpoint" {{
  value = redis_cluster.cache.configuration_endpoint
}}
"#,
            moto.provider_block(REGION)
        )
    };
    let work = Workdir::new(&stack, &moto, &calls, &spec(3));
    let (engine, plan, state) = work.plan(PlanMode::Apply).await;
    let created = changes(&plan);
    assert_eq!(created.len(), 9, "{created:?}");
    let state = work.apply(engine, &plan, state).await;
    assert_eq!(state.resources.len(), 9);

    // What moto holds, through the SDK.
    let cache = CacheClient::new(&moto.sdk);
    let id = name(
        &stack,
        "redis_cluster.cache.aws_elasticache_replication_group.cluster",
        40,
    );
    let g = &replication_group(&cache, &id).await;
    assert_eq!(g.cluster_enabled(), Some(true));
    assert_eq!(g.node_groups().len(), 3);
    assert!(
        g.node_groups()
            .iter()
            .all(|ng| ng.node_group_members().len() == 2),
        "{:?}",
        g.node_groups()
    );
    assert_ha_and_encrypted(g, "cache.r6g.large");
    let endpoint = g
        .configuration_endpoint()
        .and_then(|e| e.address())
        .expect("configuration endpoint");
    let tags = cache
        .list_tags_for_resource()
        .resource_name(g.arn().expect("arn"))
        .send()
        .await
        .expect("tags");
    let tags: BTreeMap<&str, &str> = tags
        .tag_list()
        .iter()
        .filter_map(|t| Some((t.key()?, t.value()?)))
        .collect();
    assert_eq!(tags.get("ss:stack"), Some(&stack.as_str()));
    assert_eq!(tags.get("ss:managed"), Some(&"true"));
    let subnet_group_name = name(
        &stack,
        "redis_cluster.cache.aws_elasticache_subnet_group.subnet_group",
        64,
    );
    let subnet_group = cache
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(&subnet_group_name)
        .send()
        .await
        .expect("subnet group");
    assert_eq!(
        subnet_group.cache_subnet_groups()[0].subnets().len(),
        3,
        "one subnet per zone"
    );
    let outputs = &state.outputs;
    assert_eq!(
        outputs.get("endpoint").and_then(|o| o.value.as_str()),
        Some(endpoint),
        "{outputs:?}"
    );

    // A second plan changes nothing; the refresh of the replication group is one listing of
    // the groups and one of the cache clusters (moto lists no member clusters, so the tags
    // are read too: one call).
    calls.take();
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    let seen = calls.take();
    assert!(changes(&plan).is_empty(), "{:?}", changes(&plan));
    assert_eq!(seen.get("DescribeReplicationGroups"), Some(&1), "{seen:?}");
    assert_eq!(seen.get("DescribeCacheClusters"), Some(&1), "{seen:?}");
    assert_eq!(seen.get("DescribeCacheSubnetGroups"), Some(&1), "{seen:?}");

    // Resharding is an in-place update of the replication group (AWS:
    // ModifyReplicationGroupShardConfiguration). moto answers 500 to every modify call of a
    // replication group, so the change itself cannot be applied here: the test only shows
    // the plan, and that moto refuses the call the provider would make.
    std::fs::write(work.dir.join("main.hcl"), spec(4)).expect("spec");
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert_eq!(
        changes(&plan),
        vec![(
            "redis_cluster.cache.aws_elasticache_replication_group.cluster".to_string(),
            Action::Update
        )]
    );
    let rg = change(
        &plan,
        "redis_cluster.cache.aws_elasticache_replication_group.cluster",
    );
    assert_eq!(rg.changed_attributes(), ["num_node_groups"]);
    let refused = cache
        .modify_replication_group_shard_configuration()
        .replication_group_id(&id)
        .node_group_count(4)
        .apply_immediately(true)
        .customize()
        .config_override(
            aws_sdk_elasticache::config::Builder::new()
                .retry_config(aws_sdk_elasticache::config::retry::RetryConfig::disabled()),
        )
        .send()
        .await
        .expect_err("moto does not implement resharding");
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(500)
    );
    std::fs::write(work.dir.join("main.hcl"), spec(3)).expect("spec");

    destroy_redis(&work, &cache, &id).await;
    let subnet_groups = cache
        .describe_cache_subnet_groups()
        .send()
        .await
        .expect("cache subnet groups");
    assert!(
        !subnet_groups.cache_subnet_groups().iter().any(|g| g
            .cache_subnet_group_name()
            .is_some_and(|n| n.contains(&stack.to_lowercase()))),
        "no cache subnet group of the stack is left"
    );
}

// ---------------------------------------------------------------------------------------------
// redis

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_primary_with_replicas_plan_apply_check_destroy() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let stack = unique_stack("awsbroker");
    let calls = Calls::default();
    let spec = format!(
        r#"{}
resource "network" "main" {{
  cidr  = "10.61.0.0/16"
  zones = 3
}}

resource "redis" "broker" {{
  network  = network.main.id
  replicas = 2
}}

output "endpoint" {{
  value = redis.broker.endpoint
}}

output "reader" {{
  value = redis.broker.reader_endpoint
}}
"#,
        moto.provider_block(REGION)
    );
    let work = Workdir::new(&stack, &moto, &calls, &spec);
    let (engine, plan, state) = work.plan(PlanMode::Apply).await;
    // The network's 7 objects, the cache subnet group and the replication group.
    assert_eq!(changes(&plan).len(), 9, "{:?}", changes(&plan));
    let state = work.apply(engine, &plan, state).await;

    let cache = CacheClient::new(&moto.sdk);
    let id = name(
        &stack,
        "redis.broker.aws_elasticache_unsharded_group.redis",
        40,
    );
    let g = &replication_group(&cache, &id).await;
    assert_eq!(g.cluster_enabled(), Some(false), "cluster mode disabled");
    assert_eq!(g.cluster_mode(), Some(&ClusterMode::Disabled));
    assert_eq!(g.node_groups().len(), 1, "one node group: {g:?}");
    let ng = &g.node_groups()[0];
    assert_eq!(ng.node_group_members().len(), 3, "a primary and 2 replicas");
    assert_ha_and_encrypted(g, "cache.t4g.medium");
    let primary = ng.primary_endpoint().and_then(|e| e.address());
    assert!(primary.is_some(), "{ng:?}");
    // moto answers no `ReaderEndpoint` (see above): the export is then null, as AWS's
    // answer would make it.
    let reader = ng.reader_endpoint().and_then(|e| e.address());
    let output = |k: &str| state.outputs.get(k).and_then(|o| o.value.as_str());
    assert_eq!(output("endpoint"), primary, "{:?}", state.outputs);
    assert_eq!(output("reader"), reader, "{:?}", state.outputs);

    // A second plan changes nothing.
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert!(changes(&plan).is_empty(), "{:?}", changes(&plan));

    destroy_redis(&work, &cache, &id).await;
}

// ---------------------------------------------------------------------------------------------
// load_balancer

fn lb_spec(moto: &Moto, sticky: bool) -> String {
    format!(
        r#"{}
resource "network" "main" {{
  cidr  = "10.61.0.0/16"
  zones = 3
}}

resource "load_balancer" "web" {{
  network = network.main.id
  target  = "cluster-demo"
  port    = 80
  health_check {{
    path = "/health"
  }}
  sticky_sessions = {sticky}
}}

output "dns" {{
  value = load_balancer.web.dns_name
}}
"#,
        moto.provider_block(REGION)
    )
}

async fn stickiness(elb: &ElbClient, arn: &str) -> Option<String> {
    elb.describe_target_group_attributes()
        .target_group_arn(arn)
        .send()
        .await
        .expect("attributes")
        .attributes()
        .iter()
        .find(|a| a.key() == Some("stickiness.enabled"))
        .and_then(|a| a.value())
        .map(String::from)
}

const TG: &str = "load_balancer.web.aws_lb_target_group.target_group";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_plan_apply_drift_update_destroy() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let stack = unique_stack("awslb");
    let calls = Calls::default();
    let work = Workdir::new(&stack, &moto, &calls, &lb_spec(&moto, false));
    let (engine, plan, state) = work.plan(PlanMode::Apply).await;
    assert_eq!(changes(&plan).len(), 11, "{:?}", changes(&plan));
    let state = work.apply(engine, &plan, state).await;
    assert_eq!(state.resources.len(), 11);
    // Stickiness is set explicitly (off), not left to the default.
    let seen = calls.take();
    assert_eq!(
        seen.get("ModifyTargetGroupAttributes"),
        Some(&1),
        "{seen:?}"
    );

    // What moto holds, through the SDK.
    let elb = ElbClient::new(&moto.sdk);
    let lb_name = name(&stack, "load_balancer.web.aws_lb.lb", 32);
    let lbs = elb
        .describe_load_balancers()
        .names(&lb_name)
        .send()
        .await
        .expect("load balancer");
    let lb = &lbs.load_balancers()[0];
    let lb_arn = lb.load_balancer_arn().expect("arn").to_string();
    assert_eq!(lb.r#type(), Some(&LoadBalancerTypeEnum::Application));
    assert_eq!(lb.scheme(), Some(&LoadBalancerSchemeEnum::InternetFacing));
    assert_eq!(
        lb.availability_zones().len(),
        3,
        "{:?}",
        lb.availability_zones()
    );
    assert_eq!(lb.security_groups().len(), 1);
    assert_eq!(
        state.outputs.get("dns").and_then(|o| o.value.as_str()),
        lb.dns_name()
    );
    let tg_name = name(&stack, TG, 32);
    let tgs = elb
        .describe_target_groups()
        .names(&tg_name)
        .send()
        .await
        .expect("target group");
    let tg = &tgs.target_groups()[0];
    let tg_arn = tg.target_group_arn().expect("arn").to_string();
    assert_eq!(tg.health_check_path(), Some("/health"));
    assert_eq!(tg.health_check_interval_seconds(), Some(30));
    assert_eq!(tg.healthy_threshold_count(), Some(3));
    assert_eq!(tg.target_type(), Some(&TargetTypeEnum::Ip));
    assert_eq!(tg.protocol(), Some(&ProtocolEnum::Http));
    assert_eq!(
        stickiness(&elb, &tg_arn).await.as_deref(),
        Some("false"),
        "stickiness is off"
    );
    let tags = elb
        .describe_tags()
        .resource_arns(&tg_arn)
        .send()
        .await
        .expect("tags");
    assert!(
        tags.tag_descriptions()[0]
            .tags()
            .iter()
            .any(|t| t.key() == Some("ss:target") && t.value() == Some("cluster-demo"))
    );
    let listeners = elb
        .describe_listeners()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
        .expect("listeners");
    assert_eq!(listeners.listeners().len(), 1);
    let listener = &listeners.listeners()[0];
    assert_eq!(listener.port(), Some(80));
    assert_eq!(listener.protocol(), Some(&ProtocolEnum::Http));
    let action = &listener.default_actions()[0];
    assert_eq!(action.r#type(), Some(&ActionTypeEnum::Forward));
    assert_eq!(action.target_group_arn(), Some(tg_arn.as_str()));

    // A second plan changes nothing.
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert!(changes(&plan).is_empty(), "{:?}", changes(&plan));

    // A health check path changed outside ss shows as an update naming the attribute; apply
    // puts it back.
    elb.modify_target_group()
        .target_group_arn(&tg_arn)
        .health_check_path("/elsewhere")
        .send()
        .await
        .expect("modify");
    let (engine, plan, state) = work.plan(PlanMode::Apply).await;
    assert_eq!(changes(&plan), vec![(TG.to_string(), Action::Update)]);
    let c = change(&plan, TG);
    assert_eq!(c.changed_attributes(), ["health_check_path"]);
    assert_eq!(
        c.before.as_ref().and_then(|b| b.get("health_check_path")),
        Some(&Value::from("/elsewhere"))
    );
    work.apply(engine, &plan, state).await;
    let tgs = elb
        .describe_target_groups()
        .target_group_arns(&tg_arn)
        .send()
        .await
        .expect("target group");
    assert_eq!(tgs.target_groups()[0].health_check_path(), Some("/health"));
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert!(changes(&plan).is_empty(), "{:?}", changes(&plan));

    // Sticky sessions on: the same target group, updated in place.
    std::fs::write(work.dir.join("main.hcl"), lb_spec(&moto, true)).expect("spec");
    let (engine, plan, state) = work.plan(PlanMode::Apply).await;
    assert_eq!(changes(&plan), vec![(TG.to_string(), Action::Update)]);
    assert_eq!(
        change(&plan, TG).changed_attributes(),
        ["stickiness_enabled"]
    );
    work.apply(engine, &plan, state).await;
    assert_eq!(stickiness(&elb, &tg_arn).await.as_deref(), Some("true"));
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert!(changes(&plan).is_empty(), "{:?}", changes(&plan));

    // Destroy: nothing of the stack is left.
    let (engine, plan, state) = work.plan(PlanMode::Destroy).await;
    assert_eq!(changes(&plan).len(), 11);
    let state = work.apply(engine, &plan, state).await;
    assert!(state.resources.is_empty());
    let lb_gone = elb.describe_load_balancers().names(&lb_name).send().await;
    assert!(lb_gone.is_err(), "{lb_gone:?}");
    let tg_gone = elb.describe_target_groups().names(&tg_name).send().await;
    assert!(tg_gone.is_err(), "{tg_gone:?}");
    let left = ec2_left(&moto, &stack).await;
    assert!(left.is_empty(), "{left:?}");
}

// ---------------------------------------------------------------------------------------------
// Batched refresh through the Provider trait.

async fn create(
    p: &aws::AwsProvider,
    stack: &str,
    address: &str,
    type_name: &str,
    config: Attrs,
) -> ResourceState {
    p.create(CreateRequest {
        type_name,
        identity: &identity(stack, address),
        config: &config,
    })
    .await
    .unwrap_or_else(|e| panic!("create {address}: {e}"))
}

fn attrs<const N: usize>(pairs: [(&str, Value); N]) -> Attrs {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_reads_in_batches() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let stack = unique_stack("awslbbatch");
    let calls = Calls::default();
    let p = moto.provider(&calls);

    // A network, made through its expansion.
    let config = attrs([
        ("cidr", Value::from("10.62.0.0/16")),
        ("zones", Value::from(3)),
    ]);
    let expansion = p
        .expand("network.batch", "network", &config)
        .expect("expands");
    let made: BTreeMap<String, ResourceState> = create_all(&p, &stack, "network.batch", &expansion)
        .await
        .into_iter()
        .map(|(name, _, state)| (name, state))
        .collect();
    let vpc = made["vpc"].id.clone();
    let sg = made["security_group"].id.clone();

    // Three load balancers, target groups and listeners.
    let mut lbs = Vec::new();
    let mut tgs = Vec::new();
    let mut listeners = Vec::new();
    for i in 0..3 {
        let lb = create(
            &p,
            &stack,
            &format!("load_balancer.b{i}.aws_lb.lb"),
            "aws_lb",
            attrs([
                ("vpc_id", Value::from(vpc.as_str())),
                ("security_group_ids", Value::List(vec![sg.as_str().into()])),
            ]),
        )
        .await;
        let tg = create(
            &p,
            &stack,
            &format!("load_balancer.b{i}.aws_lb_target_group.target_group"),
            "aws_lb_target_group",
            attrs([
                ("vpc_id", Value::from(vpc.as_str())),
                ("health_check_path", Value::from(format!("/h{i}"))),
                ("stickiness_enabled", Value::Bool(i == 1)),
                ("target", Value::from("cluster-x")),
            ]),
        )
        .await;
        let listener = create(
            &p,
            &stack,
            &format!("load_balancer.b{i}.aws_lb_listener.listener"),
            "aws_lb_listener",
            attrs([
                ("load_balancer_arn", Value::from(lb.id.as_str())),
                ("target_group_arn", Value::from(tg.id.as_str())),
                ("port", Value::from(8080 + i)),
            ]),
        )
        .await;
        lbs.push(lb);
        tgs.push(tg);
        listeners.push(listener);
    }
    assert_eq!(tgs[1].attrs["stickiness_enabled"], Value::Bool(true));
    assert_eq!(tgs[0].attrs["stickiness_enabled"], Value::Bool(false));
    assert_eq!(tgs[2].attrs["target"], Value::from("cluster-x"));
    assert_eq!(listeners[2].attrs["protocol"], Value::from("HTTP"));

    // A second create of the same identity adopts (the listener by its tags).
    let again = create(
        &p,
        &stack,
        "load_balancer.b1.aws_lb_listener.listener",
        "aws_lb_listener",
        attrs([
            ("load_balancer_arn", Value::from(lbs[1].id.as_str())),
            ("target_group_arn", Value::from(tgs[1].id.as_str())),
            ("port", Value::from(8081)),
        ]),
    )
    .await;
    assert_eq!(again.id, listeners[1].id);

    let ids = |v: &[ResourceState]| v.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    calls.take();
    let read = p.read_many("aws_lb", &ids(&lbs)).await.expect("read lbs");
    let seen = calls.take();
    eprintln!("calls of read_many(aws_lb, 3): {seen:?}");
    assert_eq!(
        seen,
        BTreeMap::from([("DescribeLoadBalancers".to_string(), 1)])
    );
    assert_eq!(read.iter().flatten().count(), 3);
    assert_eq!(read[0].as_ref(), Some(&lbs[0]));

    let read = p
        .read_many("aws_lb_target_group", &ids(&tgs))
        .await
        .expect("read target groups");
    let seen = calls.take();
    eprintln!("calls of read_many(aws_lb_target_group, 3): {seen:?}");
    // DescribeTargetGroupAttributes takes one group: ELBv2 has no batch for it.
    assert_eq!(
        seen,
        BTreeMap::from([
            ("DescribeTargetGroups".to_string(), 1),
            ("DescribeTags".to_string(), 1),
            ("DescribeTargetGroupAttributes".to_string(), 3),
        ])
    );
    assert_eq!(read[2].as_ref(), Some(&tgs[2]));

    let read = p
        .read_many("aws_lb_listener", &ids(&listeners))
        .await
        .expect("read listeners");
    let seen = calls.take();
    assert_eq!(
        seen,
        BTreeMap::from([
            ("DescribeListeners".to_string(), 1),
            ("DescribeTags".to_string(), 1),
        ])
    );
    assert_eq!(read[1].as_ref(), Some(&listeners[1]));

    // An ARN that no longer exists fails ELBv2's whole batch: it is read again without it.
    let lb0 = lbs[0].clone();
    p.delete("aws_lb_listener", &listeners[0])
        .await
        .expect("delete");
    p.delete("aws_lb", &lb0).await.expect("delete lb");
    calls.take();
    let read = p.read_many("aws_lb", &ids(&lbs)).await.expect("read lbs");
    let seen = calls.take();
    assert_eq!(seen.get("DescribeLoadBalancers"), Some(&2), "{seen:?}");
    assert!(read[0].is_none());
    assert_eq!(read[1].as_ref(), Some(&lbs[1]));

    // Clean up (dependents first); deleting again succeeds.
    for i in 1..3 {
        p.delete("aws_lb_listener", &listeners[i])
            .await
            .expect("delete listener");
        p.delete("aws_lb", &lbs[i]).await.expect("delete lb");
    }
    for tg in &tgs {
        p.delete("aws_lb_target_group", tg)
            .await
            .expect("delete tg");
        p.delete("aws_lb_target_group", tg)
            .await
            .expect("delete tg again");
    }
    for local in [
        "security_group",
        "route_table",
        "subnet_2",
        "subnet_1",
        "subnet_0",
        "internet_gateway",
        "vpc",
    ] {
        let type_name = expansion.get(local).expect("spec").type_name.clone();
        p.delete(&type_name, &made[local])
            .await
            .unwrap_or_else(|e| panic!("delete {local}: {e}"));
    }
    assert!(ec2_left(&moto, &stack).await.is_empty());
}
