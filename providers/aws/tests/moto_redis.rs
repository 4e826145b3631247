//! The `redis` component of the AWS provider (an ElastiCache replication group with cluster
//! mode disabled) end to end against a moto server, with the real SDK clients: planned,
//! applied, checked through the SDK directly, re-planned and destroyed through the real
//! planner.
//!
//! Start moto with `export SS_TEST_MOTO_URL="$(scripts/moto-start)"`. Without it the test says
//! so and passes, except under CI (env `CI` set), where it fails.
//!
//! moto 5.2 gaps met here: it places a cluster-mode-disabled group's replicas by
//! `PreferredCacheClusterAZs` and ignores the `NodeGroupConfiguration` zones the provider sends
//! (AWS's way with `ReplicasPerNodeGroup`), so the zones are not checked here (the unit tests
//! check what is sent); and it keeps a node group's reader address without answering it as
//! `ReaderEndpoint`, so `reader_endpoint` is null on moto.

#![allow(clippy::panic)]

mod common;

use common::*;

use aws_sdk_elasticache::Client as CacheClient;
use aws_sdk_elasticache::types::{AutomaticFailoverStatus, ClusterMode, MultiAzStatus};
use planner::plan::PlanMode;

const GROUP: &str = "redis.broker.aws_elasticache_unsharded_group.redis";

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
    assert_eq!(state.resources.len(), 9);

    let cache = CacheClient::new(&moto.sdk);
    let id = provider_api::deterministic_name(&stack, GROUP, 40);
    let groups = cache
        .describe_replication_groups()
        .replication_group_id(&id)
        .send()
        .await
        .expect("replication group");
    let g = &groups.replication_groups()[0];
    assert_eq!(g.status(), Some("available"));
    assert_eq!(g.cluster_enabled(), Some(false), "cluster mode disabled");
    assert_eq!(g.cluster_mode(), Some(&ClusterMode::Disabled));
    assert_eq!(g.node_groups().len(), 1, "one node group: {g:?}");
    let ng = &g.node_groups()[0];
    assert_eq!(ng.node_group_members().len(), 3, "a primary and 2 replicas");
    assert_eq!(
        g.automatic_failover(),
        Some(&AutomaticFailoverStatus::Enabled)
    );
    assert_eq!(g.multi_az(), Some(&MultiAzStatus::Enabled));
    assert_eq!(g.at_rest_encryption_enabled(), Some(true));
    assert_eq!(g.transit_encryption_enabled(), Some(true));
    assert_eq!(g.cache_node_type(), Some("cache.t4g.medium"));
    let primary = ng
        .primary_endpoint()
        .and_then(|e| e.address())
        .expect("primary endpoint");
    // moto answers no `ReaderEndpoint` (see above): the export is then null, as AWS's
    // answer would make it.
    let reader = ng.reader_endpoint().and_then(|e| e.address());
    let output = |k: &str| state.outputs.get(k).and_then(|o| o.value.as_str());
    assert_eq!(output("endpoint"), Some(primary), "{:?}", state.outputs);
    assert_eq!(output("reader"), reader, "{:?}", state.outputs);

    // A second plan changes nothing.
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert!(changes(&plan).is_empty(), "{:?}", changes(&plan));

    let (engine, plan, state) = work.plan(PlanMode::Destroy).await;
    assert_eq!(changes(&plan).len(), 9);
    let after = work.apply(engine, &plan, state).await;
    assert!(
        after.resources.is_empty(),
        "the state is empty after destroy"
    );
    let left = cache
        .describe_replication_groups()
        .send()
        .await
        .expect("replication groups");
    assert!(
        !left
            .replication_groups()
            .iter()
            .any(|g| g.replication_group_id() == Some(id.as_str())),
        "the replication group is gone"
    );
}
