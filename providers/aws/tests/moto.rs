//! The AWS provider end to end against a moto server (real `aws-sdk-ec2` clients, no stubs):
//! a `network` planned, applied, refreshed, drifted, repaired and destroyed through the real
//! planner, and the provider's adoption, batching and idempotent deletes through the
//! `Provider` trait.
//!
//! Start moto with `export SS_TEST_MOTO_URL="$(scripts/moto-start)"`. Without it the tests say
//! so and pass, except under CI (env `CI` set), where they fail. Every test uses its own stack
//! name, so tests share one server in parallel (no `/moto-api/reset`).

#![allow(clippy::panic)]

mod common;

use common::*;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_ec2::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_ec2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ec2::error::BoxError;
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter};
use planner::plan::{Action, PlanMode};
use provider_api::{Attrs, CreateRequest, Provider, ResourceState, Value};

fn stack_filter(stack: &str) -> Filter {
    Filter::builder().name("tag:ss:stack").values(stack).build()
}

/// Ids of every object of the stack, by kind.
async fn ec2_objects(moto: &Moto, stack: &str) -> BTreeMap<&'static str, Vec<String>> {
    let c = &moto.client;
    let f = || stack_filter(stack);
    let mut out = BTreeMap::new();
    let vpcs = c.describe_vpcs().filters(f()).send().await.expect("vpcs");
    out.insert(
        "vpc",
        vpcs.vpcs()
            .iter()
            .filter_map(|v| v.vpc_id())
            .map(String::from)
            .collect(),
    );
    let subnets = c
        .describe_subnets()
        .filters(f())
        .send()
        .await
        .expect("subnets");
    out.insert(
        "subnet",
        subnets
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id())
            .map(String::from)
            .collect(),
    );
    let igws = c
        .describe_internet_gateways()
        .filters(f())
        .send()
        .await
        .expect("igws");
    out.insert(
        "igw",
        igws.internet_gateways()
            .iter()
            .filter_map(|g| g.internet_gateway_id())
            .map(String::from)
            .collect(),
    );
    let rts = c
        .describe_route_tables()
        .filters(f())
        .send()
        .await
        .expect("route tables");
    out.insert(
        "route_table",
        rts.route_tables()
            .iter()
            .filter_map(|r| r.route_table_id())
            .map(String::from)
            .collect(),
    );
    let sgs = c
        .describe_security_groups()
        .filters(f())
        .send()
        .await
        .expect("security groups");
    out.insert(
        "security_group",
        sgs.security_groups()
            .iter()
            .filter_map(|g| g.group_id())
            .map(String::from)
            .collect(),
    );
    out
}

fn spec_text(moto: &Moto) -> String {
    format!(
        r#"{provider}
resource "network" "main" {{
  cidr  = "10.20.0.0/16"
  zones = 3
}}

output "subnets" {{
  value = network.main.subnet_ids
}}
"#,
        provider = moto.provider_block(REGION)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_plan_apply_refresh_drift_destroy() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let stack = unique_stack("awsnet");
    let calls = Calls::default();
    let work = Workdir::new(&stack, &moto, &calls, &spec_text(&moto));

    // Create.
    let (engine, plan, state) = work.plan(PlanMode::Apply).await;
    let created = changes(&plan);
    assert_eq!(created.len(), 7, "{created:?}");
    assert!(created.iter().all(|(_, a)| *a == Action::Create));
    let state = work.apply(engine, &plan, state).await;
    assert_eq!(state.resources.len(), 7);

    // What moto holds, seen through the SDK directly.
    let objects = ec2_objects(&moto, &stack).await;
    let count = |k: &str| objects.get(k).map_or(0, Vec::len);
    assert_eq!(
        (
            count("vpc"),
            count("subnet"),
            count("igw"),
            count("route_table"),
            count("security_group")
        ),
        (1, 3, 1, 1, 1),
        "{objects:?}"
    );
    let vpc_id = objects["vpc"][0].clone();
    let vpc = moto
        .client
        .describe_vpcs()
        .vpc_ids(&vpc_id)
        .send()
        .await
        .expect("vpc");
    let vpc = &vpc.vpcs()[0];
    assert_eq!(vpc.cidr_block(), Some("10.20.0.0/16"));
    let tags: BTreeMap<&str, &str> = vpc
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?, t.value()?)))
        .collect();
    assert_eq!(tags.get("ss:managed"), Some(&"true"));
    assert_eq!(tags.get("ss:stack"), Some(&stack.as_str()));
    assert_eq!(
        tags.get("ss:address"),
        Some(&"network.main.aws_vpc.vpc"),
        "{tags:?}"
    );
    assert!(tags.get("Name").is_some_and(|n| n.starts_with("ss-awsnet")));
    let subnets = moto
        .client
        .describe_subnets()
        .filters(stack_filter(&stack))
        .send()
        .await
        .expect("subnets");
    let zones: BTreeSet<&str> = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.availability_zone())
        .collect();
    assert_eq!(
        zones,
        BTreeSet::from(["us-east-1a", "us-east-1b", "us-east-1c"])
    );
    assert!(
        subnets
            .subnets()
            .iter()
            .all(|s| s.vpc_id() == Some(vpc_id.as_str())
                && s.map_public_ip_on_launch() == Some(true))
    );
    let igw = moto
        .client
        .describe_internet_gateways()
        .filters(stack_filter(&stack))
        .send()
        .await
        .expect("igw");
    assert_eq!(
        igw.internet_gateways()[0].attachments()[0].vpc_id(),
        Some(vpc_id.as_str())
    );
    let rt = moto
        .client
        .describe_route_tables()
        .filters(stack_filter(&stack))
        .send()
        .await
        .expect("route table");
    let rt = &rt.route_tables()[0];
    assert!(
        rt.routes()
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
                && r.gateway_id() == igw.internet_gateways()[0].internet_gateway_id())
    );
    assert_eq!(
        rt.associations()
            .iter()
            .filter(|a| a.subnet_id().is_some())
            .count(),
        3
    );

    // A second plan: no changes, and the refresh is one describe per type.
    calls.take();
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    let seen = calls.take();
    eprintln!("EC2 calls of a refresh: {seen:?}");
    assert!(changes(&plan).is_empty(), "{:?}", changes(&plan));
    for action in [
        "DescribeVpcs",
        "DescribeSubnets",
        "DescribeInternetGateways",
        "DescribeRouteTables",
        "DescribeSecurityGroups",
    ] {
        assert_eq!(seen.get(action), Some(&1), "{action}: {seen:?}");
    }
    assert_eq!(seen.get("DescribeVpcAttribute"), Some(&2), "{seen:?}");

    // Changes made outside show as differences, and apply repairs them.
    let subnet_id = objects["subnet"][0].clone();
    moto.client
        .modify_subnet_attribute()
        .subnet_id(&subnet_id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(false).build())
        .send()
        .await
        .expect("modify subnet");
    moto.client
        .modify_vpc_attribute()
        .vpc_id(&vpc_id)
        .enable_dns_hostnames(AttributeBooleanValue::builder().value(false).build())
        .send()
        .await
        .expect("modify vpc");
    let (engine, plan, state) = work.plan(PlanMode::Apply).await;
    let drift = changes(&plan);
    assert_eq!(drift.len(), 2, "{drift:?}");
    assert!(drift.iter().all(|(_, a)| *a == Action::Update), "{drift:?}");
    assert!(
        drift.iter().any(|(a, _)| a == "network.main.aws_vpc.vpc"),
        "{drift:?}"
    );
    assert!(
        drift
            .iter()
            .any(|(a, _)| a.starts_with("network.main.aws_subnet.subnet_")),
        "{drift:?}"
    );
    work.apply(engine, &plan, state).await;
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert!(changes(&plan).is_empty(), "{:?}", changes(&plan));
    let subnet = moto
        .client
        .describe_subnets()
        .subnet_ids(&subnet_id)
        .send()
        .await
        .expect("subnet");
    assert_eq!(subnet.subnets()[0].map_public_ip_on_launch(), Some(true));

    // Destroy: nothing of the stack is left.
    let (engine, plan, state) = work.plan(PlanMode::Destroy).await;
    assert_eq!(changes(&plan).len(), 7);
    let state = work.apply(engine, &plan, state).await;
    assert!(state.resources.is_empty());
    let left = ec2_objects(&moto, &stack).await;
    assert!(left.values().all(Vec::is_empty), "{left:?}");
}

// ---------------------------------------------------------------------------------------------
// Through the Provider trait.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_batch_read_drift_and_idempotent_delete() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let stack = unique_stack("awsdirect");
    let calls = Calls::default();
    let p = moto.provider(&calls);
    let config = Attrs::from([
        ("cidr".to_string(), Value::from("10.30.0.0/16")),
        ("zones".to_string(), Value::from(3)),
    ]);
    assert!(p.validate("network", &config).is_empty());
    let expansion = p
        .expand("network.direct", "network", &config)
        .expect("expands");
    let made: BTreeMap<String, ResourceState> =
        create_all(&p, &stack, "network.direct", &expansion)
            .await
            .into_iter()
            .map(|(name, _, state)| (name, state))
            .collect();
    let vpc = &made["vpc"];
    assert_eq!(vpc.attrs["enable_dns_hostnames"], Value::Bool(true));
    assert_eq!(vpc.attrs["enable_dns_support"], Value::Bool(true));
    assert_eq!(
        made["route_table"].attrs["gateway_id"],
        made["internet_gateway"].attrs["id"]
    );
    assert_eq!(
        made["security_group"].attrs["ingress_cidrs"],
        Value::List(vec!["10.30.0.0/16".into()])
    );

    // A second create for the same identity adopts: no second VPC.
    let again = p
        .create(CreateRequest {
            type_name: "aws_vpc",
            identity: &identity(&stack, "network.direct.aws_vpc.vpc"),
            config: &Attrs::from([("cidr_block".to_string(), Value::from("10.30.0.0/16"))]),
        })
        .await
        .expect("adopts");
    assert_eq!(again.id, vpc.id);
    assert_eq!(ec2_objects(&moto, &stack).await["vpc"].len(), 1);
    let found = p
        .find(
            "aws_subnet",
            &identity(&stack, "network.direct.aws_subnet.subnet_1"),
        )
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.id, made["subnet_1"].id);
    assert!(
        p.find(
            "aws_subnet",
            &identity(&stack, "network.direct.aws_subnet.nope")
        )
        .await
        .expect("find")
        .is_none()
    );

    // read_many: one describe for all the subnets, None for an id that does not exist.
    let mut ids: Vec<String> = (0..3)
        .map(|i| made[&format!("subnet_{i}")].id.clone())
        .collect();
    ids.insert(1, "subnet-0123456789abcdef0".into());
    calls.take();
    let read = p.read_many("aws_subnet", &ids).await.expect("read_many");
    let seen = calls.take();
    eprintln!("EC2 calls of read_many(aws_subnet, 4 ids): {seen:?}");
    assert_eq!(seen, BTreeMap::from([("DescribeSubnets".to_string(), 1)]));
    assert_eq!(read.len(), 4);
    assert!(read[1].is_none());
    assert_eq!(read[0].as_ref(), Some(&made["subnet_0"]));
    assert_eq!(read[3].as_ref(), Some(&made["subnet_2"]));

    // Drift on read, repaired by update.
    moto.client
        .modify_subnet_attribute()
        .subnet_id(&made["subnet_0"].id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(false).build())
        .send()
        .await
        .expect("modify");
    let drifted = p
        .read_many("aws_subnet", &[made["subnet_0"].id.clone()])
        .await
        .expect("read")
        .remove(0)
        .expect("exists");
    assert_eq!(drifted.attrs["map_public_ip_on_launch"], Value::Bool(false));
    let subnet_config = Attrs::from([
        ("vpc_id".to_string(), vpc.attrs["id"].clone()),
        (
            "cidr_block".to_string(),
            made["subnet_0"].attrs["cidr_block"].clone(),
        ),
        (
            "availability_zone".to_string(),
            made["subnet_0"].attrs["availability_zone"].clone(),
        ),
        ("map_public_ip_on_launch".to_string(), Value::Bool(true)),
    ]);
    let repaired = p
        .update("aws_subnet", &drifted, &subnet_config)
        .await
        .expect("update");
    assert_eq!(repaired, made["subnet_0"]);

    // Delete in the planner's order (dependents first); deleting again succeeds.
    for name in [
        "security_group",
        "route_table",
        "subnet_2",
        "subnet_1",
        "subnet_0",
        "internet_gateway",
        "vpc",
    ] {
        let prior = &made[name];
        let type_name = expansion.get(name).expect("spec").type_name.clone();
        p.delete(&type_name, prior)
            .await
            .unwrap_or_else(|e| panic!("delete {name}: {e}"));
        p.delete(&type_name, prior)
            .await
            .unwrap_or_else(|e| panic!("delete {name} again: {e}"));
    }
    let left = ec2_objects(&moto, &stack).await;
    assert!(left.values().all(Vec::is_empty), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_the_region_lacks_is_a_clear_error() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let stack = unique_stack("awszone");
    let p = moto.provider(&Calls::default());
    let vpc = p
        .create(CreateRequest {
            type_name: "aws_vpc",
            identity: &identity(&stack, "network.z.aws_vpc.vpc"),
            config: &Attrs::from([("cidr_block".to_string(), Value::from("10.40.0.0/16"))]),
        })
        .await
        .expect("vpc");
    let err = p
        .create(CreateRequest {
            type_name: "aws_subnet",
            identity: &identity(&stack, "network.z.aws_subnet.subnet_0"),
            config: &Attrs::from([
                ("vpc_id".to_string(), Value::from(vpc.id.as_str())),
                ("cidr_block".to_string(), Value::from("10.40.0.0/20")),
                ("availability_zone".to_string(), Value::from("us-east-1z")),
            ]),
        })
        .await
        .expect_err("no such zone");
    let text = err.to_string();
    assert!(
        text.contains("us-east-1z") && text.contains("us-east-1a"),
        "{text}"
    );
    assert!(!err.is_retryable());
    p.delete("aws_vpc", &vpc).await.expect("delete");
}

/// Answers the first `CreateVpc` that moto carried out with a 500 `InternalError`, as AWS
/// may: the VPC exists, the caller is told the call failed. (The response hook cannot see the
/// request, so the request hook arms it; the provider's calls in this test are sequential.)
#[derive(Clone, Debug, Default)]
struct LoseFirstCreateVpc {
    armed: Arc<AtomicBool>,
    fired: Arc<AtomicBool>,
}

impl Intercept for LoseFirstCreateVpc {
    fn name(&self) -> &'static str {
        "ss-test-lose-create-vpc"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context.request().body().bytes().unwrap_or_default();
        let create_vpc = String::from_utf8_lossy(body).contains("Action=CreateVpc&");
        self.armed.store(
            create_vpc && !self.fired.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.armed.swap(false, Ordering::SeqCst) && !self.fired.swap(true, Ordering::SeqCst) {
            let response = context.response_mut();
            *response.status_mut() = 500u16.try_into()?;
            *response.body_mut() = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors>\
                <Error><Code>InternalError</Code><Message>injected by the test</Message></Error>\
                </Errors><RequestID>test</RequestID></Response>"
                .into();
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answered_500_is_adopted_not_repeated() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let stack = unique_stack("awslost");
    let calls = Calls::default();
    let fault = LoseFirstCreateVpc::default();
    let p = moto.provider_with(vec![
        aws::interceptor(calls.clone()),
        aws::interceptor(fault.clone()),
    ]);
    let vpc = p
        .create(CreateRequest {
            type_name: "aws_vpc",
            identity: &identity(&stack, "network.lost.aws_vpc.vpc"),
            config: &Attrs::from([("cidr_block".to_string(), Value::from("10.50.0.0/16"))]),
        })
        .await
        .expect("the create that was answered 500 is found and adopted");
    assert!(fault.fired.load(Ordering::SeqCst), "the fault was injected");
    let seen = calls.take();
    assert_eq!(seen.get("CreateVpc"), Some(&1), "{seen:?}");
    assert_eq!(
        ec2_objects(&moto, &stack).await["vpc"],
        vec![vpc.id.clone()]
    );
    assert_eq!(vpc.attrs["enable_dns_hostnames"], Value::Bool(true));
    p.delete("aws_vpc", &vpc).await.expect("delete");
}
