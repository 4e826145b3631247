//! The `cdn` component of the AWS provider against a moto server (real `aws-sdk-cloudfront`
//! clients, no stubs): a distribution planned, applied, refreshed, drifted, repaired and
//! destroyed through the real planner, and adoption and idempotent deletes through the
//! `Provider` trait. What moto holds is checked with the SDK directly.
//!
//! moto gaps met here: its `ListDistributions` summaries carry only id, ARN, status and domain
//! name (the provider reads each such distribution with `GetDistribution`, so a refresh here is
//! one list plus one get per distribution; on AWS it is the list alone); it ignores `IfMatch`
//! and does not refuse to delete an enabled distribution, so the tests check that the disable
//! is sent (the request body of each call, in order) instead of relying on moto refusing.
//!
//! Start moto with `export SS_TEST_MOTO_URL="$(scripts/moto-start)"`.

#![allow(clippy::panic)]

mod common;

use common::*;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_cloudfront::types::{
    CacheBehavior, DistributionConfig, DistributionConfigWithTags, HttpVersion,
    OriginProtocolPolicy, Tag, Tags,
};
use aws_sdk_ec2::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_ec2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ec2::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use planner::plan::{Action, PlanMode};
use provider_api::{Attrs, CreateRequest, Provider, Value};

const ADDRESS: &str = "cdn.main.aws_cloudfront_distribution.distribution";
const ORIGIN: &str = "lb-123.us-east-1.elb.amazonaws.com";

/// Every SDK call in order, with whether its body disables a distribution.
#[derive(Clone, Debug, Default)]
struct Sequence(Arc<Mutex<Vec<(String, bool)>>>);

impl Sequence {
    fn take(&self) -> Vec<(String, bool)> {
        std::mem::take(&mut *self.0.lock().expect("lock"))
    }
}

impl Intercept for Sequence {
    fn name(&self) -> &'static str {
        "ss-test-call-sequence"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            let disables = context
                .request()
                .body()
                .bytes()
                .and_then(|b| std::str::from_utf8(b).ok())
                .is_some_and(|b| b.contains("<Enabled>false</Enabled>"));
            self.0
                .lock()
                .expect("lock")
                .push((meta.name().to_string(), disables));
        }
        Ok(())
    }
}

fn cloudfront(moto: &Moto) -> aws_sdk_cloudfront::Client {
    aws_sdk_cloudfront::Client::new(&moto.sdk)
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
        .collect()
}

/// The distributions tagged with the stack (listed, then their tags read one by one).
async fn stack_distributions(moto: &Moto, stack: &str) -> Vec<String> {
    let c = cloudfront(moto);
    let list = c.list_distributions().send().await.expect("list");
    let mut out = Vec::new();
    for d in list.distribution_list().map(|l| l.items()).unwrap_or(&[]) {
        let tags = c
            .list_tags_for_resource()
            .resource(d.arn())
            .send()
            .await
            .expect("tags");
        let tags = tag_map(tags.tags().map(|t| t.items()).unwrap_or(&[]));
        if tags.get("ss:stack").map(String::as_str) == Some(stack) {
            out.push(d.id().to_string());
        }
    }
    out
}

async fn config_of(moto: &Moto, id: &str) -> (DistributionConfig, String) {
    let out = cloudfront(moto)
        .get_distribution_config()
        .id(id)
        .send()
        .await
        .expect("config");
    let etag = out.e_tag().expect("etag").to_string();
    (out.distribution_config.expect("config"), etag)
}

fn behaviors(cfg: &DistributionConfig) -> &[CacheBehavior] {
    cfg.cache_behaviors()
        .and_then(|c| c.items.as_deref())
        .unwrap_or(&[])
}

/// The legacy TTLs (deprecated in favour of cache policies, which moto lacks).
#[allow(deprecated)]
fn ttls_of_default(cfg: &DistributionConfig) -> Option<i64> {
    cfg.default_cache_behavior().and_then(|d| d.default_ttl)
}

#[allow(deprecated)]
fn ttls_of_rules(cfg: &DistributionConfig) -> Vec<(String, Option<i64>)> {
    behaviors(cfg)
        .iter()
        .map(|b| (b.path_pattern().to_string(), b.default_ttl))
        .collect()
}

#[allow(deprecated)]
fn set_ttls(cfg: &mut DistributionConfig, default: i64, first_rule: i64) {
    if let Some(d) = cfg.default_cache_behavior.as_mut() {
        d.default_ttl = Some(default);
        d.max_ttl = Some(default.max(d.max_ttl.unwrap_or(0)));
    }
    if let Some(b) = cfg
        .cache_behaviors
        .as_mut()
        .and_then(|c| c.items.as_mut())
        .and_then(|i| i.first_mut())
    {
        b.min_ttl = Some(first_rule);
        b.default_ttl = Some(first_rule);
        b.max_ttl = Some(first_rule);
    }
}

// ---------------------------------------------------------------------------------------------
// Through the planner, with a provider that also records the call sequence.

fn spec_text(moto: &Moto) -> String {
    format!(
        r#"{provider}
resource "cdn" "main" {{
  origin = "{ORIGIN}"
  cache_rule {{
    path = "/static/*"
    ttl  = 86400
  }}
  cache_rule {{
    path = "/api/*"
    ttl  = 0
  }}
  http3 = true
}}

output "cdn_host" {{
  value = cdn.main.domain_name
}}
"#,
        provider = moto.provider_block(REGION)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdn_plan_apply_refresh_drift_destroy() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let stack = unique_stack("awscdn");
    let calls = Calls::default();
    let mut work = Workdir::new(&stack, &moto, &calls, &spec_text(&moto));
    let sequence = Sequence::default();
    work.registry = registry(
        &moto.sdk,
        vec![
            aws::interceptor(calls.clone()),
            aws::interceptor(sequence.clone()),
        ],
    );

    // Create.
    let (engine, p, state) = work.plan(PlanMode::Apply).await;
    assert_eq!(changes(&p), [(ADDRESS.to_string(), Action::Create)]);
    let state = work.apply(engine, &p, state).await;
    assert_eq!(state.resources.len(), 1);

    // What moto holds, through the SDK directly.
    let ids = stack_distributions(&moto, &stack).await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = ids[0].clone();
    assert_eq!(state.resources[0].id, id);
    let (cfg, _) = config_of(&moto, &id).await;
    let origins = cfg.origins().expect("origins").items();
    assert_eq!(origins.len(), 1);
    assert_eq!(origins[0].domain_name(), ORIGIN);
    // Plain HTTP to port 443: where the ALB of a portable load_balancer listens by default.
    assert_eq!(
        origins[0]
            .custom_origin_config()
            .map(|c| (c.origin_protocol_policy().clone(), c.http_port())),
        Some((OriginProtocolPolicy::HttpOnly, 443))
    );
    assert_eq!(
        ttls_of_rules(&cfg),
        [
            ("/static/*".to_string(), Some(86400)),
            ("/api/*".to_string(), Some(0))
        ]
    );
    assert_eq!(ttls_of_default(&cfg), Some(0));
    assert_eq!(
        cfg.default_cache_behavior().and_then(|d| d.compress()),
        Some(true)
    );
    assert!(behaviors(&cfg).iter().all(|b| b.compress() == Some(true)));
    assert_eq!(cfg.http_version(), Some(&HttpVersion::Http2and3));
    assert!(cfg.enabled());
    let dist = cloudfront(&moto)
        .get_distribution()
        .id(&id)
        .send()
        .await
        .expect("distribution");
    let dist = dist.distribution().expect("distribution");
    let tags = cloudfront(&moto)
        .list_tags_for_resource()
        .resource(dist.arn())
        .send()
        .await
        .expect("tags");
    let tags = tag_map(tags.tags().map(|t| t.items()).unwrap_or(&[]));
    assert_eq!(tags.get("ss:managed").map(String::as_str), Some("true"));
    assert_eq!(tags.get("ss:stack"), Some(&stack));
    assert_eq!(tags.get("ss:address").map(String::as_str), Some(ADDRESS));
    assert!(tags.get("Name").is_some_and(|n| n.starts_with("ss-awscdn")));
    assert_eq!(cfg.caller_reference(), tags["Name"]);
    assert_eq!(cfg.comment(), tags["Name"]);
    // The export reaches the output.
    let out = state
        .outputs
        .get("cdn_host")
        .and_then(|o| o.value.as_str().map(String::from));
    assert_eq!(
        out.as_deref(),
        Some(dist.domain_name()),
        "{:?}",
        state.outputs
    );

    // A second plan: no changes; the refresh lists once.
    calls.take();
    let (_, p, _) = work.plan(PlanMode::Apply).await;
    let seen = calls.take();
    eprintln!("CloudFront calls of a refresh: {seen:?}");
    assert!(changes(&p).is_empty(), "{:?}", changes(&p));
    assert_eq!(seen.get("ListDistributions"), Some(&1), "{seen:?}");

    // TTLs changed outside ss: the refresh shows an update naming them; apply restores them.
    let (mut drifted, etag) = config_of(&moto, &id).await;
    set_ttls(&mut drifted, 3600, 10);
    cloudfront(&moto)
        .update_distribution()
        .id(&id)
        .if_match(etag)
        .distribution_config(drifted)
        .send()
        .await
        .expect("update by hand");
    let (engine, p, state) = work.plan(PlanMode::Apply).await;
    assert_eq!(changes(&p), [(ADDRESS.to_string(), Action::Update)]);
    let change = p
        .changes
        .iter()
        .find(|c| c.action == Action::Update)
        .expect("update");
    assert_eq!(
        change.changed_attributes(),
        ["cache_rules", "default_ttl"],
        "{change:?}"
    );
    work.apply(engine, &p, state).await;
    let (cfg, _) = config_of(&moto, &id).await;
    assert_eq!(ttls_of_default(&cfg), Some(0));
    assert_eq!(
        ttls_of_rules(&cfg),
        [
            ("/static/*".to_string(), Some(86400)),
            ("/api/*".to_string(), Some(0))
        ]
    );
    let (_, p, _) = work.plan(PlanMode::Apply).await;
    assert!(changes(&p).is_empty(), "{:?}", changes(&p));

    // Destroy: disabled first, then deleted; nothing of the stack is left.
    let (engine, p, state) = work.plan(PlanMode::Destroy).await;
    assert_eq!(changes(&p), [(ADDRESS.to_string(), Action::Delete)]);
    sequence.take();
    let state = work.apply(engine, &p, state).await;
    assert!(state.resources.is_empty());
    let sequence = sequence.take();
    let disable = sequence
        .iter()
        .position(|(op, disables)| op == "UpdateDistribution" && *disables);
    let delete = sequence
        .iter()
        .position(|(op, _)| op == "DeleteDistribution");
    assert!(
        matches!((disable, delete), (Some(a), Some(b)) if a < b),
        "{sequence:?}"
    );
    assert_eq!(
        sequence
            .iter()
            .filter(|(op, _)| op == "DeleteDistribution")
            .count(),
        1
    );
    assert!(stack_distributions(&moto, &stack).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Through the Provider trait.

fn native_config(p: &aws::AwsProvider) -> Attrs {
    let rule = |path: &str, ttl: i64| {
        Value::Map(BTreeMap::from([
            ("path".to_string(), Value::from(path)),
            ("ttl".to_string(), Value::from(ttl)),
        ]))
    };
    let config = Attrs::from([
        ("origin".to_string(), Value::from(ORIGIN)),
        (
            "cache_rule".to_string(),
            Value::List(vec![rule("/assets/*", 600)]),
        ),
        (
            "compression".to_string(),
            Value::List(vec!["gzip".into(), "br".into()]),
        ),
        ("http3".to_string(), Value::Bool(false)),
    ]);
    assert!(p.validate("cdn", &config).is_empty());
    let expansion = p.expand("cdn.direct", "cdn", &config).expect("expands");
    assert_eq!(expansion.resources.len(), 1);
    expansion.resources[0]
        .config
        .iter()
        .map(|(k, b)| (k.clone(), b.resolve(&|_, _| None)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_creates_adopt_and_deletes_are_idempotent() {
    let Some(moto) = Moto::connect().await else {
        return;
    };
    let stack = unique_stack("awscdndirect");
    let calls = Calls::default();
    let p = moto.provider(&calls);
    let config = native_config(&p);
    let type_name = "aws_cloudfront_distribution";
    let who = identity(
        &stack,
        "cdn.direct.aws_cloudfront_distribution.distribution",
    );

    let made = p
        .create(CreateRequest {
            type_name,
            identity: &who,
            config: &config,
        })
        .await
        .expect("create");
    // Created with every setting: nothing left to converge after the create.
    let seen = calls.take();
    assert_eq!(seen.get("CreateDistributionWithTags"), Some(&1), "{seen:?}");
    assert_eq!(seen.get("UpdateDistribution"), None, "{seen:?}");
    assert_eq!(made.attrs["status"], Value::from("Deployed"));
    assert_eq!(made.attrs["http_version"], Value::from("http2"));
    assert_eq!(made.attrs["origin_domain"], Value::from(ORIGIN));
    assert!(
        made.attrs["domain_name"]
            .as_str()
            .is_some_and(|d| d.ends_with(".cloudfront.net"))
    );

    // The same identity again: adopted (found), no create call, still one distribution.
    calls.take();
    let again = p
        .create(CreateRequest {
            type_name,
            identity: &who,
            config: &config,
        })
        .await
        .expect("adopts");
    assert_eq!(again.id, made.id);
    assert_eq!(again, made);
    let seen = calls.take();
    assert_eq!(seen.get("CreateDistributionWithTags"), None, "{seen:?}");
    assert_eq!(
        stack_distributions(&moto, &stack).await,
        vec![made.id.clone()]
    );
    let found = p.find(type_name, &who).await.expect("find").expect("found");
    assert_eq!(found.id, made.id);
    assert!(
        p.find(type_name, &identity(&stack, "cdn.direct.nope"))
            .await
            .expect("find")
            .is_none()
    );

    // A distribution holding this identity's caller reference but not found (no tags, another
    // comment: what a create lost in transit could leave if tagging were separate): the create
    // is answered DistributionAlreadyExists and adopts it, making no second one.
    let other = identity(&stack, "cdn.direct.aws_cloudfront_distribution.other");
    let c = cloudfront(&moto);
    let (mut by_hand, _) = config_of(&moto, &made.id).await;
    by_hand.caller_reference = other.name(64);
    by_hand.comment = "made by hand".into();
    let held = c
        .create_distribution_with_tags()
        .distribution_config_with_tags(
            DistributionConfigWithTags::builder()
                .distribution_config(by_hand)
                .tags(Tags::builder().build())
                .build(),
        )
        .send()
        .await
        .expect("create by hand");
    let held_id = held.distribution().expect("distribution").id().to_string();
    assert!(p.find(type_name, &other).await.expect("find").is_none());
    calls.take();
    let adopted = p
        .create(CreateRequest {
            type_name,
            identity: &other,
            config: &config,
        })
        .await
        .expect("adopts the holder");
    assert_eq!(adopted.id, held_id);
    let seen = calls.take();
    assert_eq!(seen.get("CreateDistributionWithTags"), Some(&1), "{seen:?}");

    // read_many: one listing for all ids; None for an id that does not exist.
    let ids = vec![made.id.clone(), "E0000000000000".into(), held_id.clone()];
    calls.take();
    let read = p.read_many(type_name, &ids).await.expect("read_many");
    let seen = calls.take();
    eprintln!("CloudFront calls of read_many(3 ids): {seen:?}");
    assert_eq!(seen.get("ListDistributions"), Some(&1), "{seen:?}");
    assert_eq!(read.len(), 3);
    assert_eq!(read[0].as_ref(), Some(&made));
    assert!(read[1].is_none());
    assert_eq!(
        read[2].as_ref().map(|s| s.id.as_str()),
        Some(held_id.as_str())
    );

    // Deleting disables first; deleting again succeeds.
    for state in [&made, &adopted] {
        calls.take();
        p.delete(type_name, state).await.expect("delete");
        let seen = calls.take();
        assert_eq!(seen.get("UpdateDistribution"), Some(&1), "{seen:?}");
        assert_eq!(seen.get("DeleteDistribution"), Some(&1), "{seen:?}");
        p.delete(type_name, state).await.expect("delete again");
        let seen = calls.take();
        assert_eq!(seen.get("DeleteDistribution"), None, "{seen:?}");
    }
    assert!(stack_distributions(&moto, &stack).await.is_empty());
    let gone = c.get_distribution().id(&held_id).send().await;
    assert!(gone.is_err());
}
