//! The AWS provider end to end: the real `ss` binary applies `examples/superset-aws` to a moto
//! server (real aws-sdk-rust clients on both sides, no stubs), and the test checks what moto
//! holds through the SDK directly, not through ss. Covered: the reference architecture as
//! built (zones, Multi-AZ and replicas, proxy, cluster-mode shards, the broker's unsharded
//! group with failover, also read with boto3, ALB health check and stickiness, CloudFront
//! origin, EKS node groups, their scaling and pool labels), the application deployed into a
//! kube-sim that the example's `kubeconfig` variable names (EKS on moto has no API server), a
//! clean re-plan, an instance
//! class changed outside ss reported by `ss diff` and put back by `ss apply`, a destroy that
//! leaves nothing tagged with the stack, and an apply killed with SIGKILL mid-way then re-run,
//! which leaves no duplicate and no object the state does not record.
//!
//! Start moto with `export SS_TEST_MOTO_URL="$(scripts/moto-start)"` (`.ci/run` does). Without
//! it the tests say so and pass, except under CI, where they fail. Each test uses its own
//! stack name, so they share one server (other tests use it at the same time: every check
//! filters on the `ss:stack` tag).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use serde_json::Value as Json;

use crate::kube::KubeSim;
use crate::util::{Project, Run, copy_files, repo_root, str_field};

const REGION: &str = "us-east-1";

/// One object moto holds that carries the `ss:stack` tag of a test's stack.
#[derive(Clone, Debug)]
struct Tagged {
    kind: &'static str,
    id: String,
    address: String,
}

/// A moto server, SDK clients to it, and a runtime to call them from synchronous tests; and a
/// Kubernetes API of the test's own for the example's application.
struct Moto {
    url: String,
    sdk: SdkConfig,
    rt: tokio::runtime::Runtime,
    kube: KubeSim,
}

fn tags_of<'a>(
    pairs: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .filter_map(|(k, v)| Some((k?.to_string(), v.unwrap_or_default().to_string())))
        .collect()
}

impl Moto {
    fn connect() -> Option<Moto> {
        let url = match std::env::var("SS_TEST_MOTO_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "SS_TEST_MOTO_URL is not set: the AWS end-to-end tests need a moto server; \
                     start one with `export SS_TEST_MOTO_URL=\"$(scripts/moto-start)\"`"
                );
                eprintln!(
                    "note: skipping the AWS end-to-end tests: SS_TEST_MOTO_URL is not set (start \
                     moto with `export SS_TEST_MOTO_URL=\"$(scripts/moto-start)\"`)"
                );
                return None;
            }
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let sdk = rt.block_on(
            aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new(REGION))
                .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                    "test", "test", None, None, "ss-e2e",
                ))
                .endpoint_url(&url)
                .load(),
        );
        let moto = Moto {
            url,
            sdk,
            rt,
            kube: KubeSim::start(),
        };
        // What an EKS cluster running the AWS Load Balancer Controller has, and what the
        // application's binding of its web Service to the target group needs.
        moto.kube
            .install_crd(&kube_sim::fixtures::target_group_binding_crd());
        Some(moto)
    }

    /// The environment of an `ss` run against this server: dummy credentials, no instance
    /// metadata lookups, and the example's variables (the application goes to kube-sim).
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("SS_VAR_aws_endpoint", self.url.clone()),
            ("SS_VAR_aws_region", REGION.into()),
            (
                "SS_VAR_kubeconfig",
                self.kube.kubeconfig().display().to_string(),
            ),
        ]
    }

    fn ss(&self, p: &Project, args: &[&str]) -> Run {
        let env = self.env();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        p.ss_env(args, &pairs)
    }

    fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk)
    }
    fn rds(&self) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.sdk)
    }
    fn cache(&self) -> aws_sdk_elasticache::Client {
        aws_sdk_elasticache::Client::new(&self.sdk)
    }
    fn elb(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk)
    }
    fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        aws_sdk_cloudfront::Client::new(&self.sdk)
    }
    fn eks(&self) -> aws_sdk_eks::Client {
        aws_sdk_eks::Client::new(&self.sdk)
    }
    fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.sdk)
    }
    fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.sdk)
    }

    /// Every object moto holds tagged `ss:stack = stack`, of every service the provider uses
    /// (objects moto keeps in a `deleting` state are left out: they are on their way out).
    fn inventory(&self, stack: &str) -> Vec<Tagged> {
        self.rt.block_on(self.inventory_async(stack))
    }

    async fn inventory_async(&self, stack: &str) -> Vec<Tagged> {
        let mut out = Vec::new();
        let mut push = |kind: &'static str, id: &str, tags: &BTreeMap<String, String>| {
            if tags.get("ss:stack").map(String::as_str) == Some(stack) {
                out.push(Tagged {
                    kind,
                    id: id.to_string(),
                    address: tags.get("ss:address").cloned().unwrap_or_default(),
                });
            }
        };

        // EC2.
        let ec2 = self.ec2();
        let f = aws_sdk_ec2::types::Filter::builder()
            .name("tag:ss:stack")
            .values(stack)
            .build();
        let ec2_tags =
            |t: &[aws_sdk_ec2::types::Tag]| tags_of(t.iter().map(|t| (t.key(), t.value())));
        for v in ec2
            .describe_vpcs()
            .filters(f.clone())
            .send()
            .await
            .expect("vpcs")
            .vpcs()
        {
            push("vpc", v.vpc_id().unwrap_or_default(), &ec2_tags(v.tags()));
        }
        for s in ec2
            .describe_subnets()
            .filters(f.clone())
            .send()
            .await
            .expect("subnets")
            .subnets()
        {
            push(
                "subnet",
                s.subnet_id().unwrap_or_default(),
                &ec2_tags(s.tags()),
            );
        }
        for g in ec2
            .describe_internet_gateways()
            .filters(f.clone())
            .send()
            .await
            .expect("igws")
            .internet_gateways()
        {
            push(
                "igw",
                g.internet_gateway_id().unwrap_or_default(),
                &ec2_tags(g.tags()),
            );
        }
        for r in ec2
            .describe_route_tables()
            .filters(f.clone())
            .send()
            .await
            .expect("route tables")
            .route_tables()
        {
            push(
                "route_table",
                r.route_table_id().unwrap_or_default(),
                &ec2_tags(r.tags()),
            );
        }
        for g in ec2
            .describe_security_groups()
            .filters(f)
            .send()
            .await
            .expect("security groups")
            .security_groups()
        {
            push(
                "security_group",
                g.group_id().unwrap_or_default(),
                &ec2_tags(g.tags()),
            );
        }

        // RDS.
        let rds = self.rds();
        let rds_tags =
            |t: &[aws_sdk_rds::types::Tag]| tags_of(t.iter().map(|t| (t.key(), t.value())));
        for i in rds
            .describe_db_instances()
            .send()
            .await
            .expect("db instances")
            .db_instances()
        {
            if i.db_instance_status() == Some("deleting") {
                continue;
            }
            push(
                "db_instance",
                i.db_instance_identifier().unwrap_or_default(),
                &rds_tags(i.tag_list()),
            );
        }
        let arn_tags = |arn: String| {
            let rds = rds.clone();
            async move {
                let answer = rds.list_tags_for_resource().resource_name(arn).send().await;
                unless_gone("rds tags", answer)
                    .map(|a| tags_of(a.tag_list().iter().map(|t| (t.key(), t.value()))))
                    .unwrap_or_default()
            }
        };
        for g in rds
            .describe_db_subnet_groups()
            .send()
            .await
            .expect("db subnet groups")
            .db_subnet_groups()
        {
            let tags = arn_tags(g.db_subnet_group_arn().unwrap_or_default().to_string()).await;
            push(
                "db_subnet_group",
                g.db_subnet_group_name().unwrap_or_default(),
                &tags,
            );
        }
        for g in rds
            .describe_db_parameter_groups()
            .send()
            .await
            .expect("db parameter groups")
            .db_parameter_groups()
        {
            let tags = arn_tags(g.db_parameter_group_arn().unwrap_or_default().to_string()).await;
            push(
                "db_parameter_group",
                g.db_parameter_group_name().unwrap_or_default(),
                &tags,
            );
        }
        for p in rds
            .describe_db_proxies()
            .send()
            .await
            .expect("db proxies")
            .db_proxies()
        {
            let tags = arn_tags(p.db_proxy_arn().unwrap_or_default().to_string()).await;
            push("db_proxy", p.db_proxy_name().unwrap_or_default(), &tags);
        }

        // Secrets Manager.
        for s in self
            .secrets()
            .list_secrets()
            .send()
            .await
            .expect("secrets")
            .secret_list()
        {
            if s.deleted_date().is_some() {
                continue;
            }
            let tags = tags_of(s.tags().iter().map(|t| (t.key(), t.value())));
            push("secret", s.name().unwrap_or_default(), &tags);
        }

        // ElastiCache.
        let cache = self.cache();
        let cache_tags = |arn: String| {
            let cache = cache.clone();
            async move {
                let answer = cache
                    .list_tags_for_resource()
                    .resource_name(arn)
                    .send()
                    .await;
                unless_gone("elasticache tags", answer)
                    .map(|a| tags_of(a.tag_list().iter().map(|t| (t.key(), t.value()))))
                    .unwrap_or_default()
            }
        };
        for g in cache
            .describe_replication_groups()
            .send()
            .await
            .expect("replication groups")
            .replication_groups()
        {
            if matches!(g.status(), Some("deleting" | "deleted")) {
                continue;
            }
            let tags = cache_tags(g.arn().unwrap_or_default().to_string()).await;
            push(
                "replication_group",
                g.replication_group_id().unwrap_or_default(),
                &tags,
            );
        }
        for g in cache
            .describe_cache_subnet_groups()
            .send()
            .await
            .expect("cache subnet groups")
            .cache_subnet_groups()
        {
            let tags = cache_tags(g.arn().unwrap_or_default().to_string()).await;
            push(
                "cache_subnet_group",
                g.cache_subnet_group_name().unwrap_or_default(),
                &tags,
            );
        }

        // ELBv2: load balancers, their listeners, target groups.
        let elb = self.elb();
        let mut arns: Vec<(&'static str, String)> = Vec::new();
        for lb in elb
            .describe_load_balancers()
            .send()
            .await
            .expect("load balancers")
            .load_balancers()
        {
            let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
            let listeners = elb
                .describe_listeners()
                .load_balancer_arn(&arn)
                .send()
                .await;
            let Some(listeners) = unless_gone("listeners", listeners) else {
                continue;
            };
            for l in listeners.listeners() {
                arns.push(("listener", l.listener_arn().unwrap_or_default().to_string()));
            }
            arns.push(("load_balancer", arn));
        }
        for tg in elb
            .describe_target_groups()
            .send()
            .await
            .expect("target groups")
            .target_groups()
        {
            arns.push((
                "target_group",
                tg.target_group_arn().unwrap_or_default().to_string(),
            ));
        }
        for (kind, arn) in &arns {
            let answer = elb.describe_tags().resource_arns(arn).send().await;
            let Some(answer) = unless_gone("elbv2 tags", answer) else {
                continue;
            };
            for d in answer.tag_descriptions() {
                let tags = tags_of(d.tags().iter().map(|t| (t.key(), t.value())));
                push(kind, arn, &tags);
            }
        }

        // EKS.
        let eks = self.eks();
        for name in eks
            .list_clusters()
            .send()
            .await
            .expect("clusters")
            .clusters()
        {
            let cluster = eks.describe_cluster().name(name).send().await;
            let Some(cluster) = unless_gone("cluster", cluster) else {
                continue;
            };
            let Some(c) = cluster.cluster() else { continue };
            let tags: BTreeMap<String, String> = c
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            push("eks_cluster", name, &tags);
            let groups = eks.list_nodegroups().cluster_name(name).send().await;
            let Some(groups) = unless_gone("node groups", groups) else {
                continue;
            };
            for ng in groups.nodegroups() {
                let answer = eks
                    .describe_nodegroup()
                    .cluster_name(name)
                    .nodegroup_name(ng)
                    .send()
                    .await;
                let Some(answer) = unless_gone("node group", answer) else {
                    continue;
                };
                let tags: BTreeMap<String, String> = answer
                    .nodegroup()
                    .and_then(|n| n.tags())
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                push("eks_node_group", &format!("{name}:{ng}"), &tags);
            }
        }

        // IAM roles (ss puts its roles under the path /ss/).
        let iam = self.iam();
        for role in iam
            .list_roles()
            .path_prefix("/ss/")
            .send()
            .await
            .expect("roles")
            .roles()
        {
            let answer = iam
                .list_role_tags()
                .role_name(role.role_name())
                .send()
                .await;
            let Some(answer) = unless_gone("role tags", answer) else {
                continue;
            };
            let tags = tags_of(
                answer
                    .tags()
                    .iter()
                    .map(|t| (Some(t.key()), Some(t.value()))),
            );
            push("iam_role", role.role_name(), &tags);
        }

        // CloudFront.
        let cf = self.cloudfront();
        let list = cf.list_distributions().send().await.expect("distributions");
        if let Some(items) = list.distribution_list() {
            for d in items.items() {
                let answer = cf.list_tags_for_resource().resource(d.arn()).send().await;
                let Some(answer) = unless_gone("cloudfront tags", answer) else {
                    continue;
                };
                let tags = tags_of(
                    answer
                        .tags()
                        .map(|t| t.items())
                        .unwrap_or_default()
                        .iter()
                        .map(|t| (Some(t.key()), t.value())),
                );
                push("distribution", d.id(), &tags);
            }
        }
        out
    }
}

/// The answer of a follow-up call about one object a listing showed a moment ago, or `None`
/// when the object has gone since: other tests share the server and delete their own stacks
/// at the same time. Any other error fails the test.
fn unless_gone<T, E>(
    what: &str,
    answer: Result<T, aws_sdk_ec2::error::SdkError<E, aws_sdk_ec2::config::http::HttpResponse>>,
) -> Option<T>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::fmt::Debug,
{
    use aws_sdk_ec2::error::ProvideErrorMetadata;
    match answer {
        Ok(v) => Some(v),
        Err(e)
            if e.raw_response().is_some_and(|r| r.status().as_u16() == 404)
                || e.code()
                    .is_some_and(|c| c.contains("NotFound") || c == "NoSuchEntity") =>
        {
            None
        }
        Err(e) => panic!("{what}: {e:?}"),
    }
}

/// A copy of `examples/superset-aws` with its own stack name.
fn example(stack: &str) -> Project {
    let p = Project::new(&[]);
    copy_files(&repo_root().join("examples/superset-aws"), &p.dir);
    let main = p.read("main.hcl");
    assert!(
        main.contains("stack = \"superset\""),
        "the example names its stack"
    );
    p.write(
        "main.hcl",
        &main.replace("stack = \"superset\"", &format!("stack = \"{stack}\"")),
    );
    p
}

fn unique_stack(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{prefix}{}{nanos:x}", std::process::id())
}

/// Whether a state address is an AWS object (not one of the application's Kubernetes objects
/// or its generated secret, which moto does not hold).
fn in_aws(address: &str) -> bool {
    address
        .split('.')
        .nth(2)
        .is_some_and(|t| t.starts_with("aws_"))
}

/// The addresses the state records (`ss state list --json`), with their ids.
fn state_records(moto: &Moto, p: &Project) -> BTreeMap<String, String> {
    let run = moto.ss(p, &["state", "list", "--json"]);
    run.success();
    match run.json() {
        Json::Array(items) => items
            .iter()
            .map(|r| {
                (
                    str_field(r, "address").to_string(),
                    str_field(r, "id").to_string(),
                )
            })
            .collect(),
        other => panic!("state list: {other}\n{run}"),
    }
}

/// No two objects of the stack carry the same address (a duplicate), and every object is
/// recorded in the state under its address (nothing untracked); answers how many there are.
#[track_caller]
fn assert_tracked_once(moto: &Moto, p: &Project, stack: &str) -> usize {
    let objects = moto.inventory(stack);
    let mut records = state_records(moto, p);
    records.retain(|address, _| in_aws(address));
    let mut seen: BTreeMap<&str, &Tagged> = BTreeMap::new();
    for o in &objects {
        if let Some(first) = seen.insert(o.address.as_str(), o) {
            panic!(
                "two objects carry the address {}: {first:?} and {o:?}",
                o.address
            );
        }
        assert!(
            records.contains_key(&o.address),
            "{o:?} exists in moto but the state does not record {}; state: {records:?}",
            o.address
        );
    }
    let addresses: BTreeSet<&str> = objects.iter().map(|o| o.address.as_str()).collect();
    for address in records.keys() {
        assert!(
            addresses.contains(address.as_str()),
            "the state records {address}, which moto does not hold; moto: {objects:?}"
        );
    }
    objects.len()
}

/// The broker's replication group as boto3 (another client than the SDK ss uses) reads it
/// from moto: cluster mode disabled, Multi-AZ, automatic failover, one replica.
fn assert_broker_by_boto3(url: &str, id: &str) {
    const CHECK: &str = r#"
import sys, boto3
url, group_id = sys.argv[1], sys.argv[2]
client = boto3.client("elasticache", endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
g = client.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]
assert g["ClusterEnabled"] is False, g
assert g["MultiAZ"] == "enabled", g
assert g["AutomaticFailover"] == "enabled", g
assert len(g["NodeGroups"]) == 1, g
members = g["NodeGroups"][0]["NodeGroupMembers"]
assert len(members) == 2, members
assert g["NodeGroups"][0]["PrimaryEndpoint"]["Address"], g
print("boto3: broker ok")
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", CHECK, url, id])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "boto3's check of the broker failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The application's objects in kube-sim (the kinds every cloud's have; the broker takes no
/// AUTH password on AWS), and the web Service bound to the stack's target group.
fn assert_application(moto: &Moto) {
    let kube = &moto.kube;
    kube.assert_application(false);
    let bindings = kube.of_kind("TargetGroupBinding", "superset");
    assert_eq!(
        bindings.len(),
        1,
        "the web Service bound to the target group"
    );
    assert!(
        bindings[0]["spec"]["targetGroupARN"]
            .as_str()
            .is_some_and(|arn| arn.contains(":targetgroup/")),
        "{bindings:?}"
    );
}

/// The reference architecture as the acceptance list of issue 4 describes it, read from moto.
fn assert_superset(moto: &Moto, stack: &str) {
    moto.rt.block_on(async {
        let objects = moto.inventory_async(stack).await;
        let of =
            |kind: &str| -> Vec<&Tagged> { objects.iter().filter(|o| o.kind == kind).collect() };

        // A VPC with 3 subnets in 3 zones.
        assert_eq!(of("vpc").len(), 1, "{objects:?}");
        let subnets = moto
            .ec2()
            .describe_subnets()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag:ss:stack")
                    .values(stack)
                    .build(),
            )
            .send()
            .await
            .expect("subnets");
        let zones: BTreeSet<&str> = subnets
            .subnets()
            .iter()
            .filter_map(|s| s.availability_zone())
            .collect();
        assert_eq!(subnets.subnets().len(), 3);
        assert_eq!(zones.len(), 3, "subnets in 3 zones: {zones:?}");

        // An RDS primary with Multi-AZ and 2 read replicas whose source is the primary.
        let ids: BTreeSet<String> = of("db_instance").iter().map(|o| o.id.clone()).collect();
        let answer = moto
            .rds()
            .describe_db_instances()
            .send()
            .await
            .expect("instances");
        let ours: Vec<_> = answer
            .db_instances()
            .iter()
            .filter(|i| ids.contains(i.db_instance_identifier().unwrap_or_default()))
            .collect();
        let primaries: Vec<_> = ours
            .iter()
            .filter(|i| i.read_replica_source_db_instance_identifier().is_none())
            .collect();
        assert_eq!(primaries.len(), 1, "one primary: {ours:?}");
        let primary = primaries[0];
        assert_eq!(primary.multi_az(), Some(true), "the primary is Multi-AZ");
        assert_eq!(primary.storage_encrypted(), Some(true));
        let primary_id = primary.db_instance_identifier().unwrap_or_default();
        let replicas: Vec<_> = ours
            .iter()
            .filter(|i| {
                i.read_replica_source_db_instance_identifier()
                    .is_some_and(|s| s == primary_id || s.ends_with(&format!(":{primary_id}")))
            })
            .collect();
        assert_eq!(replicas.len(), 2, "two replicas of the primary: {ours:?}");

        // An RDS proxy.
        assert_eq!(of("db_proxy").len(), 1, "one RDS proxy: {objects:?}");

        // The cache: a replication group with 3 node groups of 2 members.
        let groups = of("replication_group");
        assert_eq!(groups.len(), 2, "the cache and the broker: {objects:?}");
        let group: Vec<&&Tagged> = groups
            .iter()
            .filter(|g| g.address.contains(".aws_elasticache_replication_group."))
            .collect();
        assert_eq!(group.len(), 1, "{objects:?}");
        let answer = moto
            .cache()
            .describe_replication_groups()
            .replication_group_id(&group[0].id)
            .send()
            .await
            .expect("replication group");
        let rg = &answer.replication_groups()[0];
        assert_eq!(rg.node_groups().len(), 3, "3 shards: {rg:?}");
        for ng in rg.node_groups() {
            assert_eq!(
                ng.node_group_members().len(),
                2,
                "2 members per shard: {ng:?}"
            );
        }

        // The broker: cluster mode disabled, a primary and its replica, failover, Multi-AZ.
        let broker: Vec<&&Tagged> = groups
            .iter()
            .filter(|g| g.address == "redis.broker.aws_elasticache_unsharded_group.redis")
            .collect();
        assert_eq!(broker.len(), 1, "{objects:?}");
        let answer = moto
            .cache()
            .describe_replication_groups()
            .replication_group_id(&broker[0].id)
            .send()
            .await
            .expect("the broker's replication group");
        let rg = &answer.replication_groups()[0];
        assert_eq!(rg.cluster_enabled(), Some(false), "{rg:?}");
        assert_eq!(rg.node_groups().len(), 1, "one node group: {rg:?}");
        assert_eq!(rg.node_groups()[0].node_group_members().len(), 2);
        assert_eq!(
            rg.automatic_failover(),
            Some(&aws_sdk_elasticache::types::AutomaticFailoverStatus::Enabled)
        );
        assert_eq!(
            rg.multi_az(),
            Some(&aws_sdk_elasticache::types::MultiAzStatus::Enabled)
        );
        assert_eq!(rg.transit_encryption_enabled(), Some(true));
        assert_broker_by_boto3(&moto.url, &broker[0].id);

        // An ALB, a target group with the health check path, stickiness disabled.
        let lbs = of("load_balancer");
        assert_eq!(lbs.len(), 1, "{objects:?}");
        let answer = moto
            .elb()
            .describe_load_balancers()
            .load_balancer_arns(&lbs[0].id)
            .send()
            .await
            .expect("load balancer");
        let lb = &answer.load_balancers()[0];
        assert_eq!(
            lb.r#type(),
            Some(&aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum::Application)
        );
        let dns_name = lb.dns_name().unwrap_or_default().to_string();
        let tgs = of("target_group");
        assert_eq!(tgs.len(), 1, "{objects:?}");
        let answer = moto
            .elb()
            .describe_target_groups()
            .target_group_arns(&tgs[0].id)
            .send()
            .await
            .expect("target group");
        assert_eq!(
            answer.target_groups()[0].health_check_path(),
            Some("/health")
        );
        let attrs = moto
            .elb()
            .describe_target_group_attributes()
            .target_group_arn(&tgs[0].id)
            .send()
            .await
            .expect("target group attributes");
        let sticky = attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some("stickiness.enabled"))
            .and_then(|a| a.value());
        assert_eq!(sticky, Some("false"), "stickiness explicitly off");
        assert_eq!(of("listener").len(), 1, "{objects:?}");

        // A CloudFront distribution whose origin is the ALB's DNS name.
        let dists = of("distribution");
        assert_eq!(dists.len(), 1, "{objects:?}");
        let answer = moto
            .cloudfront()
            .get_distribution()
            .id(&dists[0].id)
            .send()
            .await
            .expect("distribution");
        let origins: Vec<String> = answer
            .distribution()
            .and_then(|d| d.distribution_config())
            .and_then(|c| c.origins())
            .map(|o| {
                o.items()
                    .iter()
                    .map(|o| o.domain_name().to_string())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(origins, vec![dns_name], "the CDN's origin is the ALB");

        // An EKS cluster with 2 node groups, their scaling, and the node label the
        // application's pods select each pool by.
        assert_eq!(of("eks_cluster").len(), 1, "{objects:?}");
        let cluster = &of("eks_cluster")[0].id;
        let mut scaling = Vec::new();
        let mut pools = Vec::new();
        for ng in of("eks_node_group") {
            let name = ng.id.rsplit(':').next().unwrap_or_default();
            let answer = moto
                .eks()
                .describe_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(name)
                .send()
                .await
                .expect("node group");
            let s = answer
                .nodegroup()
                .and_then(|n| n.scaling_config())
                .expect("scaling");
            scaling.push((s.min_size(), s.max_size()));
            pools.extend(
                answer
                    .nodegroup()
                    .and_then(|n| n.labels())
                    .and_then(|l| l.get("node.ss.internal/pool"))
                    .cloned(),
            );
        }
        scaling.sort();
        pools.sort();
        assert_eq!(pools, ["web", "worker"]);
        // web: 5–20, worker: 10–30 (the example's locals for 10,000 users).
        assert_eq!(scaling, vec![(Some(5), Some(20)), (Some(10), Some(30))]);
    });
}

#[test]
fn superset_on_moto_apply_replan_drift_destroy() {
    let Some(moto) = Moto::connect() else { return };
    let stack = unique_stack("sa");
    let p = example(&stack);

    let applied = moto.ss(&p, &["apply", "--auto-approve"]);
    applied.success();
    assert_superset(&moto, &stack);
    assert_application(&moto);
    let count = assert_tracked_once(&moto, &p, &stack);
    eprintln!(
        "aws e2e: {count} objects after the apply ({:?})",
        applied.elapsed
    );

    moto.ss(&p, &["plan", "--detailed-exitcode"])
        .code(0)
        .contains("No changes");

    // An instance class changed outside ss.
    let records = state_records(&moto, &p);
    let primary = records
        .get("postgres.metadata.aws_db_instance.primary")
        .unwrap_or_else(|| panic!("no primary in {records:?}"))
        .clone();
    let class_of = |id: &str| {
        moto.rt.block_on(async {
            moto.rds()
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
                .expect("primary")
                .db_instances()[0]
                .db_instance_class()
                .unwrap_or_default()
                .to_string()
        })
    };
    let configured = class_of(&primary);
    moto.rt.block_on(async {
        moto.rds()
            .modify_db_instance()
            .db_instance_identifier(&primary)
            .db_instance_class("db.m5.large")
            .apply_immediately(true)
            .send()
            .await
            .expect("modify the class outside ss")
    });
    assert_eq!(class_of(&primary), "db.m5.large");
    moto.ss(&p, &["diff", "--detailed-exitcode"])
        .code(2)
        .contains("instance_class")
        .contains("db.m5.large");
    moto.ss(&p, &["apply", "--auto-approve"]).success();
    assert_eq!(
        class_of(&primary),
        configured,
        "ss apply puts the class back"
    );
    moto.ss(&p, &["plan", "--detailed-exitcode"]).code(0);

    moto.ss(&p, &["destroy", "--auto-approve"]).success();
    let left = moto.inventory(&stack);
    assert!(
        left.is_empty(),
        "objects tagged with the stack after destroy: {left:?}"
    );
    moto.kube.assert_application_gone();
}

#[test]
fn a_killed_apply_then_apply_leaves_no_duplicate_or_untracked_object() {
    let Some(moto) = Moto::connect() else { return };
    let stack = unique_stack("sk");
    let p = example(&stack);
    let env = moto.env();
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut watched = p.spawn_watched_env(&["apply", "--auto-approve"], &[], &pairs);
    // Kill while the database tier is being created: the network and roles are done, other
    // creates are in flight.
    let mid_way = watched.wait_for_line(Duration::from_secs(300), |l| {
        l.contains("aws_db_instance") && l.contains("Creating")
    });
    // `Child::kill` sends SIGKILL on Unix: no handler runs, nothing is flushed.
    watched.child.kill().expect("SIGKILL the apply");
    let (killed, _) = watched.finish(Duration::from_secs(10));
    assert!(mid_way, "the apply never reached the databases\n{killed}");
    assert!(
        killed.code.is_none(),
        "the apply was still running when killed\n{killed}"
    );

    moto.ss(&p, &["apply", "--auto-approve"]).success();
    let count = assert_tracked_once(&moto, &p, &stack);
    assert_superset(&moto, &stack);
    assert_application(&moto);
    moto.ss(&p, &["plan", "--detailed-exitcode"]).code(0);
    eprintln!("aws e2e: killed mid-way, re-applied: {count} objects, each once and tracked");

    moto.ss(&p, &["destroy", "--auto-approve"]).success();
    let left = moto.inventory(&stack);
    assert!(
        left.is_empty(),
        "objects tagged with the stack after destroy: {left:?}"
    );
    moto.kube.assert_application_gone();
}
