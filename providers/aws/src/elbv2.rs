//! Elastic Load Balancing v2: application load balancers, target groups, listeners (`load_balancer`).
//!
//! # `load_balancer`
//!
//! | local name | type | settings |
//! |---|---|---|
//! | `lb_security_group` | `aws_security_group` | the load balancer's own group: all traffic from `0.0.0.0/0` |
//! | `lb` | `aws_lb` | internet-facing ALB over every subnet of the network, with that group |
//! | `target_group` | `aws_lb_target_group` | HTTP to IP targets on port 80, the `health_check` (path, interval, healthy threshold), stickiness on only when `sticky_sessions`, tagged `ss:target = target` |
//! | `listener` | `aws_lb_listener` | HTTP on `port`, default action: forward to the target group |
//!
//! Exports: `id` (the load balancer ARN), `dns_name`, `target_group_arn` (what the `superset`
//! component binds its web Service to).
//!
//! **Security group.** `aws_security_group` only models all-protocol ingress rules, so the
//! load balancer's group lets everything in from anywhere: an ALB only accepts connections
//! on its listeners' ports, so what gets through is exactly the listener port.
//!
//! **Targets.** `target` (the `kubernetes_cluster` id) is recorded as the target group's
//! `ss:target` tag. Registering pods in the group is the job of the AWS Load Balancer
//! Controller running in that cluster (a `TargetGroupBinding` naming the group's ARN):
//! `ss` does not register targets, and the group's port 80 is only the default for targets
//! registered without one.
//!
//! **HTTPS.** A listener is HTTP unless it is given a `certificate_arn` (an ACM certificate),
//! then HTTPS; the portable component has no certificate, so its listener is HTTP.
//!
//! # Native types
//!
//! | type | attributes (in place / *force new*) | calls |
//! |---|---|---|
//! | `aws_lb` | *`vpc_id`*, `security_group_ids`; computed `arn` (= `id`), `dns_name`, `subnet_ids` | `CreateLoadBalancer`, `DescribeLoadBalancers`, `SetSecurityGroups`, `DeleteLoadBalancer` |
//! | `aws_lb_target_group` | *`vpc_id`*, *`port`*, *`protocol`*, *`target_type`*, `health_check_path`, `health_check_interval`, `healthy_threshold`, `stickiness_enabled`, `target`; computed `arn` | `CreateTargetGroup`, `DescribeTargetGroups`, `DescribeTargetGroupAttributes`, `ModifyTargetGroup`, `ModifyTargetGroupAttributes`, `AddTags`/`RemoveTags`, `DeleteTargetGroup` |
//! | `aws_lb_listener` | *`load_balancer_arn`*, `target_group_arn`, `port`, `certificate_arn`; computed `protocol`, `arn` | `CreateListener`, `DescribeListeners`, `ModifyListener`, `DeleteListener` |
//!
//! Every object is created with the identity tags (`DescribeTags` reads them, 20 ARNs per
//! call). Load balancer and target group names are unique per region and derived from the
//! identity (at most 32 characters), so `find` describes them by name and checks the tags;
//! a listener has no name: `find` looks through the listeners of the stack's load balancers
//! for the identity's tags.
//!
//! **Refresh.** `DescribeLoadBalancers` and `DescribeTargetGroups` take 20 ARNs per call
//! (AWS documents 20 for load balancers; 20 is kept for target groups and listeners too),
//! `DescribeListeners` takes listener ARNs. One ARN that no longer exists fails the whole
//! call (`…NotFound`): the batch is then read again without it (an unfiltered listing for
//! load balancers and target groups, one call per ARN for listeners). Stickiness is a target
//! group attribute, and `DescribeTargetGroupAttributes` takes one group: one call per group
//! (ELBv2 has no batch for it).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, IpAddressType, Listener, LoadBalancer,
    LoadBalancerSchemeEnum, LoadBalancerStateEnum, LoadBalancerTypeEnum, ProtocolEnum, Tag,
    TargetGroup, TargetGroupAttribute, TargetTypeEnum,
};
use provider_api::CreateRequest;
use provider_api::kit::config::{
    Reader, attr_bool, attr_i64, attr_set as attr_strings, attr_str, field,
};
use provider_api::kit::schema::{b, list, n, s};
use provider_api::kit::{Lifecycle, Obj};
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
use crate::types::{Module, base};

pub const LB: &str = "aws_lb";
pub const TARGET_GROUP: &str = "aws_lb_target_group";
pub const LISTENER: &str = "aws_lb_listener";

/// The native types of this module, their schemas and set-like attributes.
pub const MODULE: Module = Module {
    types: &[LB, TARGET_GROUP, LISTENER],
    schema,
    set_like,
};

/// ELBv2 limits load balancer and target group names to 32 characters.
pub const NAME_LEN: usize = 32;

/// ARNs per describe call.
const BATCH: usize = 20;

/// The tag naming the `kubernetes_cluster` a target group's targets belong to.
pub const TAG_TARGET: &str = "ss:target";

/// Port of the targets (the default for targets registered without one).
const TARGET_PORT: i64 = 80;

fn schema(type_name: &str) -> Option<(&'static str, Body)> {
    match type_name {
        LB => Some((
            "An internet-facing application load balancer over every subnet ss made in a VPC",
            base()
                .attr(
                    "vpc_id",
                    A::required(s(), "The VPC of an ss `network`").force_new(),
                )
                .attr(
                    "security_group_ids",
                    A::required(list(s()), "Security groups of the load balancer"),
                )
                .attr("arn", A::computed(s(), "ARN (the id)"))
                .attr("dns_name", A::computed(s(), "Public DNS name"))
                .attr(
                    "subnet_ids",
                    A::computed(list(s()), "Subnets (the network's, at create time)"),
                ),
        )),
        TARGET_GROUP => Some((
            "A target group with an HTTP health check",
            base()
                .attr("vpc_id", A::required(s(), "The VPC").force_new())
                .attr(
                    "port",
                    A::optional(n(), "Default port of the targets")
                        .default(TARGET_PORT)
                        .force_new(),
                )
                .attr(
                    "protocol",
                    A::optional(s(), "Protocol to the targets: HTTP or HTTPS")
                        .default("HTTP")
                        .force_new(),
                )
                .attr(
                    "target_type",
                    A::optional(s(), "ip (pods), instance or lambda")
                        .default("ip")
                        .force_new(),
                )
                .attr(
                    "health_check_path",
                    A::optional(s(), "HTTP path probed").default("/"),
                )
                .attr(
                    "health_check_interval",
                    A::optional(n(), "Seconds between probes, 5–300").default(30),
                )
                .attr(
                    "healthy_threshold",
                    A::optional(n(), "Consecutive successes to be healthy, 2–10").default(5),
                )
                .attr(
                    "stickiness_enabled",
                    A::optional(b(), "Pin clients to one target (load balancer cookie)")
                        .default(false),
                )
                .attr(
                    "target",
                    A::optional(
                        s(),
                        "What the targets are (the `ss:target` tag: a kubernetes_cluster id)",
                    ),
                )
                .attr("arn", A::computed(s(), "ARN (the id)")),
        )),
        LISTENER => Some((
            "A listener forwarding everything to a target group: HTTP, or HTTPS with a \
             certificate",
            base()
                .attr(
                    "load_balancer_arn",
                    A::required(s(), "The load balancer").force_new(),
                )
                .attr(
                    "target_group_arn",
                    A::required(s(), "Target group of the default (forward) action"),
                )
                .attr("port", A::required(n(), "Port, 1–65535"))
                .attr(
                    "certificate_arn",
                    A::optional(s(), "ACM certificate: the listener is HTTPS when set"),
                )
                .attr("protocol", A::computed(s(), "HTTP or HTTPS"))
                .attr("arn", A::computed(s(), "ARN (the id)")),
        )),
        _ => None,
    }
}

fn set_like(type_name: &str) -> &'static [&'static str] {
    match type_name {
        LB => &["security_group_ids", "subnet_ids"],
        _ => &[],
    }
}

/// The provider's own checks of a `load_balancer`, on top of the portable ones (port,
/// interval, threshold and path are checked there). Unknown values are skipped.
pub fn validate(_settings: &Settings, config: &Attrs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(path) = config
        .get("health_check")
        .and_then(|h| h.get("path"))
        .and_then(Value::as_str)
        && path.len() > 1024
    {
        out.push(
            Diagnostic::error("an ELB health check `path` has at most 1024 characters")
                .at(["health_check", "path"]),
        );
    }
    if config
        .get("target")
        .and_then(Value::as_str)
        .is_some_and(|t| t.trim().is_empty() || t.len() > 256)
    {
        out.push(
            Diagnostic::error("`target` must name a kubernetes_cluster (1–256 characters)")
                .at(["target"]),
        );
    }
    out
}

/// Expands a `load_balancer` into native resources (see the module table).
pub fn expand(_settings: &Settings, config: &Attrs) -> Result<Expansion, Vec<Diagnostic>> {
    let r = Reader::new(config);
    let network = r.value("network", Value::Null);
    let health = r.value("health_check", Value::Null);
    let check = |key: &str, default: Value| field(&health, key, default);
    let resources = vec![
        NativeSpec::new("lb_security_group", crate::ec2::SECURITY_GROUP)
            .set("vpc_id", network.clone())
            .set(
                "description",
                Value::from(
                    "ss: load balancer, open to the internet (an ALB only accepts its listener \
                     ports)",
                ),
            )
            .set("ingress_cidrs", Value::List(vec![Value::from("0.0.0.0/0")])),
        NativeSpec::new("lb", LB)
            .set("vpc_id", network.clone())
            .set(
                "security_group_ids",
                Binding::List(vec![Binding::attr("lb_security_group", "id")]),
            ),
        NativeSpec::new("target_group", TARGET_GROUP)
            .set("vpc_id", network)
            .set("port", Value::from(TARGET_PORT))
            .set("protocol", Value::from("HTTP"))
            .set("target_type", Value::from("ip"))
            .set("health_check_path", check("path", Value::from("/health")))
            .set("health_check_interval", check("interval", Value::from(30)))
            .set(
                "healthy_threshold",
                check("healthy_threshold", Value::from(3)),
            )
            .set("stickiness_enabled", r.value("sticky_sessions", false))
            .set("target", r.value("target", Value::Null)),
        NativeSpec::new("listener", LISTENER)
            .set("load_balancer_arn", Binding::attr("lb", "id"))
            .set("target_group_arn", Binding::attr("target_group", "id"))
            .set("port", r.value("port", 443)),
    ];
    let exports = Expansion::exports(&[
        ("id", Binding::attr("lb", "id")),
        ("dns_name", Binding::attr("lb", "dns_name")),
        // The `superset` component binds its web Service to it (placement.rs).
        ("target_group_arn", Binding::attr("target_group", "id")),
    ]);
    Ok(Expansion { resources, exports })
}

fn tags(identity: &Identity, extra: &[(&str, &str)]) -> Vec<Tag> {
    identity_tag_pairs(identity, crate::types::NAME_LEN)
        .into_iter()
        .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

type TagMap = BTreeMap<String, String>;

/// A health check must end before the next one starts: at most 5 s, less than the interval.
fn health_timeout(interval: i64) -> i32 {
    (interval - 1).clamp(2, 5) as i32
}

/// A create answered "already exists": the provider's look-up adopts it (a create retried by
/// the SDK after a lost answer ends here; ELBv2 answers an identical repeat with the object).
fn exists_is_transient(e: ProviderError, codes: &[&str]) -> ProviderError {
    match e {
        ProviderError::Invalid(m) if codes.iter().any(|c| m.contains(c)) => {
            ProviderError::Transient(m)
        }
        other => other,
    }
}

fn forward(target_group: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group)
        .build()
}

/// The target group a listener forwards to.
fn forwarded_group(l: &Listener) -> Option<&str> {
    let action = l
        .default_actions()
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))?;
    action.target_group_arn().or_else(|| {
        action
            .forward_config()
            .and_then(|f| f.target_groups().first())
            .and_then(|t| t.target_group_arn())
    })
}

fn lb_obj(lb: &LoadBalancer) -> Option<Obj> {
    let arn = lb.load_balancer_arn()?;
    let subnets = lb
        .availability_zones()
        .iter()
        .filter_map(|z| z.subnet_id().map(str::to_string))
        .collect();
    let attrs = Attrs::from([
        ("id".into(), Value::from(arn)),
        ("name".into(), opt(lb.load_balancer_name())),
        ("vpc_id".into(), opt(lb.vpc_id())),
        (
            "security_group_ids".into(),
            strings(lb.security_groups().to_vec()),
        ),
        ("arn".into(), Value::from(arn)),
        ("dns_name".into(), opt(lb.dns_name())),
        ("subnet_ids".into(), strings(subnets)),
    ]);
    let ready = lb.state().and_then(|s| s.code()) == Some(&LoadBalancerStateEnum::Active);
    Some(Obj::new(arn, attrs, ready))
}

fn tg_obj(tg: &TargetGroup, tags: Option<&TagMap>, sticky: bool) -> Option<Obj> {
    let arn = tg.target_group_arn()?;
    let attrs = Attrs::from([
        ("id".into(), Value::from(arn)),
        ("name".into(), opt(tg.target_group_name())),
        ("vpc_id".into(), opt(tg.vpc_id())),
        (
            "port".into(),
            tg.port()
                .map(i64::from)
                .map(Value::from)
                .unwrap_or(Value::Null),
        ),
        ("protocol".into(), opt(tg.protocol().map(|p| p.as_str()))),
        (
            "target_type".into(),
            opt(tg.target_type().map(|t| t.as_str())),
        ),
        ("health_check_path".into(), opt(tg.health_check_path())),
        (
            "health_check_interval".into(),
            tg.health_check_interval_seconds()
                .map(i64::from)
                .map(Value::from)
                .unwrap_or(Value::Null),
        ),
        (
            "healthy_threshold".into(),
            tg.healthy_threshold_count()
                .map(i64::from)
                .map(Value::from)
                .unwrap_or(Value::Null),
        ),
        ("stickiness_enabled".into(), Value::Bool(sticky)),
        (
            "target".into(),
            opt(tags.and_then(|t| t.get(TAG_TARGET)).map(String::as_str)),
        ),
        ("arn".into(), Value::from(arn)),
    ]);
    Some(Obj::new(arn, attrs, true))
}

fn listener_obj(l: &Listener, tags: Option<&TagMap>) -> Option<Obj> {
    let arn = l.listener_arn()?;
    let attrs = Attrs::from([
        ("id".into(), Value::from(arn)),
        (
            "name".into(),
            opt(tags.and_then(|t| t.get("Name")).map(String::as_str)),
        ),
        ("load_balancer_arn".into(), opt(l.load_balancer_arn())),
        ("target_group_arn".into(), opt(forwarded_group(l))),
        (
            "port".into(),
            l.port()
                .map(i64::from)
                .map(Value::from)
                .unwrap_or(Value::Null),
        ),
        (
            "certificate_arn".into(),
            opt(l.certificates().first().and_then(|c| c.certificate_arn())),
        ),
        ("protocol".into(), opt(l.protocol().map(|p| p.as_str()))),
        ("arn".into(), Value::from(arn)),
    ]);
    Some(Obj::new(arn, attrs, true))
}

/// The listener protocol of a configuration: HTTPS with a certificate, else HTTP.
fn listener_protocol(config: &Attrs) -> ProtocolEnum {
    if attr_str(config, "certificate_arn").is_some() {
        ProtocolEnum::Https
    } else {
        ProtocolEnum::Http
    }
}

/// The ELBv2 operations, on a client built at the first call.
#[derive(Debug)]
pub struct Elbv2 {
    ec2: Arc<Ec2>,
    client: LazyClient<Client>,
}

impl Elbv2 {
    pub fn new(shared: Arc<Shared>, ec2: Arc<Ec2>) -> Elbv2 {
        Elbv2 {
            ec2,
            client: LazyClient::new(shared),
        }
    }

    async fn client(&self) -> &Client {
        crate::client!(aws_sdk_elasticloadbalancingv2, &self.client)
    }

    /// The tags of objects by ARN (20 ARNs per `DescribeTags`).
    async fn tags_of(&self, arns: &[String]) -> Result<BTreeMap<String, TagMap>, ProviderError> {
        let c = self.client().await;
        let mut out = BTreeMap::new();
        for chunk in arns.chunks(BATCH) {
            let answer = c
                .describe_tags()
                .set_resource_arns(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| sdk("DescribeTags", e))?;
            for d in answer.tag_descriptions() {
                if let Some(arn) = d.resource_arn() {
                    let tags: TagMap = d
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                        .collect();
                    out.insert(arn.to_string(), tags);
                }
            }
        }
        Ok(out)
    }

    /// Load balancers by ARN: `None` lists them all.
    async fn describe_lbs(
        &self,
        arns: Option<&[String]>,
    ) -> Result<Vec<LoadBalancer>, ProviderError> {
        crate::all_items!(
            "DescribeLoadBalancers",
            self.client()
                .await
                .describe_load_balancers()
                .set_load_balancer_arns(arns.map(<[String]>::to_vec))
        )
    }

    /// Target groups by ARN: `None` lists them all.
    async fn describe_tgs(
        &self,
        arns: Option<&[String]>,
    ) -> Result<Vec<TargetGroup>, ProviderError> {
        crate::all_items!(
            "DescribeTargetGroups",
            self.client()
                .await
                .describe_target_groups()
                .set_target_group_arns(arns.map(<[String]>::to_vec))
        )
    }

    async fn describe_listeners(
        &self,
        arns: Option<&[String]>,
        load_balancer: Option<&str>,
    ) -> Result<Vec<Listener>, ProviderError> {
        crate::all_items!(
            "DescribeListeners",
            self.client()
                .await
                .describe_listeners()
                .set_listener_arns(arns.map(<[String]>::to_vec))
                .set_load_balancer_arn(load_balancer.map(str::to_string))
        )
    }

    /// Whether a target group has stickiness on (one call per group: no batch exists).
    async fn sticky(&self, arn: &str) -> Result<Option<bool>, ProviderError> {
        let answer = self
            .client()
            .await
            .describe_target_group_attributes()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(|e| sdk("DescribeTargetGroupAttributes", e));
        match answer {
            Ok(a) => Ok(Some(a.attributes().iter().any(|x| {
                x.key() == Some("stickiness.enabled") && x.value() == Some("true")
            }))),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads objects by ARN (see the module documentation), keyed by ARN.
    async fn read(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<BTreeMap<String, Obj>, ProviderError> {
        let mut found: BTreeMap<String, Obj> = BTreeMap::new();
        match type_name {
            LB => {
                let mut lbs = Vec::new();
                for chunk in ids.chunks(BATCH) {
                    match self.describe_lbs(Some(chunk)).await {
                        Ok(batch) => lbs.extend(batch),
                        Err(ProviderError::NotFound(_)) => {
                            lbs.extend(self.describe_lbs(None).await?.into_iter().filter(|l| {
                                l.load_balancer_arn()
                                    .is_some_and(|a| chunk.iter().any(|i| i == a))
                            }));
                        }
                        Err(e) => return Err(e),
                    }
                }
                for lb in &lbs {
                    if let Some(obj) = lb_obj(lb) {
                        found.insert(obj.state.id.clone(), obj);
                    }
                }
            }
            TARGET_GROUP => {
                let mut tgs = Vec::new();
                for chunk in ids.chunks(BATCH) {
                    match self.describe_tgs(Some(chunk)).await {
                        Ok(batch) => tgs.extend(batch),
                        Err(ProviderError::NotFound(_)) => {
                            tgs.extend(self.describe_tgs(None).await?.into_iter().filter(|t| {
                                t.target_group_arn()
                                    .is_some_and(|a| chunk.iter().any(|i| i == a))
                            }));
                        }
                        Err(e) => return Err(e),
                    }
                }
                let arns: Vec<String> = tgs
                    .iter()
                    .filter_map(|t| t.target_group_arn().map(str::to_string))
                    .collect();
                let tags = self.tags_of(&arns).await?;
                for tg in &tgs {
                    let Some(arn) = tg.target_group_arn() else {
                        continue;
                    };
                    let Some(sticky) = self.sticky(arn).await? else {
                        continue;
                    };
                    if let Some(obj) = tg_obj(tg, tags.get(arn), sticky) {
                        found.insert(obj.state.id.clone(), obj);
                    }
                }
            }
            LISTENER => {
                let mut listeners = Vec::new();
                for chunk in ids.chunks(BATCH) {
                    match self.describe_listeners(Some(chunk), None).await {
                        Ok(batch) => listeners.extend(batch),
                        Err(ProviderError::NotFound(_)) => {
                            for arn in chunk {
                                match self
                                    .describe_listeners(Some(std::slice::from_ref(arn)), None)
                                    .await
                                {
                                    Ok(one) => listeners.extend(one),
                                    Err(ProviderError::NotFound(_)) => {}
                                    Err(e) => return Err(e),
                                }
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
                let arns: Vec<String> = listeners
                    .iter()
                    .filter_map(|l| l.listener_arn().map(str::to_string))
                    .collect();
                let tags = self.tags_of(&arns).await?;
                for l in &listeners {
                    let tags = l.listener_arn().and_then(|a| tags.get(a));
                    if let Some(obj) = listener_obj(l, tags) {
                        found.insert(obj.state.id.clone(), obj);
                    }
                }
            }
            other => return Err(unknown_type(other)),
        }
        Ok(found)
    }

    /// Checks that an object found by its name carries the identity's tags.
    async fn owned(
        &self,
        type_name: &str,
        obj: Obj,
        identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError> {
        let tags = self.tags_of(std::slice::from_ref(&obj.state.id)).await?;
        let mine = tags
            .get(&obj.state.id)
            .is_some_and(|t| tags_match(t.iter().map(|(k, v)| (k.as_str(), v.as_str())), identity));
        if mine {
            Ok(Some(obj))
        } else {
            Err(ProviderError::Invalid(format!(
                "{type_name} {:?} exists but is not tagged {TAG_STACK}={} {TAG_ADDRESS}={}: it \
                 was not made by ss for this resource (ELB names are unique per region); \
                 delete or rename it",
                attr_str(&obj.state.attrs, "name").unwrap_or_default(),
                identity.stack,
                identity.address
            )))
        }
    }

    /// The listener of an identity: among the listeners of the stack's load balancers, the
    /// one carrying its tags.
    async fn find_listener(&self, identity: &Identity) -> Result<Option<Obj>, ProviderError> {
        let all: Vec<String> = self
            .describe_lbs(None)
            .await?
            .iter()
            .filter_map(|l| l.load_balancer_arn().map(str::to_string))
            .collect();
        let tags = self.tags_of(&all).await?;
        for (lb, t) in &tags {
            if t.get(TAG_STACK) != Some(&identity.stack) {
                continue;
            }
            let listeners = match self.describe_listeners(None, Some(lb)).await {
                Ok(l) => l,
                Err(ProviderError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let arns: Vec<String> = listeners
                .iter()
                .filter_map(|l| l.listener_arn().map(str::to_string))
                .collect();
            let listener_tags = self.tags_of(&arns).await?;
            for l in &listeners {
                let Some(t) = l.listener_arn().and_then(|a| listener_tags.get(a)) else {
                    continue;
                };
                if tags_match(t.iter().map(|(k, v)| (k.as_str(), v.as_str())), identity) {
                    return Ok(listener_obj(l, Some(t)));
                }
            }
        }
        Ok(None)
    }

    async fn set_stickiness(&self, arn: &str, on: bool) -> Result<(), ProviderError> {
        let mut call = self
            .client()
            .await
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(
                TargetGroupAttribute::builder()
                    .key("stickiness.enabled")
                    .value(on.to_string())
                    .build(),
            );
        if on {
            call = call.attributes(
                TargetGroupAttribute::builder()
                    .key("stickiness.type")
                    .value("lb_cookie")
                    .build(),
            );
        }
        call.send().await.sent("ModifyTargetGroupAttributes")
    }
}

#[async_trait]
impl Lifecycle for Elbv2 {
    fn types(&self) -> &'static [&'static str] {
        MODULE.types
    }

    async fn find(
        &self,
        type_name: &str,
        identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError> {
        let c = self.client().await;
        let name = identity.name(NAME_LEN);
        let arn = match type_name {
            LB => c
                .describe_load_balancers()
                .names(&name)
                .send()
                .await
                .map_err(|e| sdk("DescribeLoadBalancers", e))
                .map(|a| {
                    a.load_balancers()
                        .first()
                        .and_then(|l| l.load_balancer_arn())
                        .map(str::to_string)
                }),
            TARGET_GROUP => c
                .describe_target_groups()
                .names(&name)
                .send()
                .await
                .map_err(|e| sdk("DescribeTargetGroups", e))
                .map(|a| {
                    a.target_groups()
                        .first()
                        .and_then(|t| t.target_group_arn())
                        .map(str::to_string)
                }),
            LISTENER => return self.find_listener(identity).await,
            other => return Err(unknown_type(other)),
        };
        let arn = match arn {
            Ok(Some(arn)) => arn,
            Ok(None) | Err(ProviderError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        match self
            .read(type_name, std::slice::from_ref(&arn))
            .await?
            .remove(&arn)
        {
            Some(obj) => self.owned(type_name, obj, identity).await,
            None => Ok(None),
        }
    }

    async fn create(&self, req: &CreateRequest<'_>, _salt: &str) -> Result<String, ProviderError> {
        let (type_name, identity, config) = (req.type_name, req.identity, req.config);
        let c = self.client().await;
        let missing = |what: &str| ProviderError::Other(format!("{what} answered no ARN"));
        match type_name {
            LB => {
                let vpc = need_str(config, "vpc_id")?;
                let subnets = self.ec2.network_subnets(vpc).await?;
                c.create_load_balancer()
                    .name(identity.name(NAME_LEN))
                    .r#type(LoadBalancerTypeEnum::Application)
                    .scheme(LoadBalancerSchemeEnum::InternetFacing)
                    .ip_address_type(IpAddressType::Ipv4)
                    .set_subnets(Some(subnets.into_iter().map(|(id, _)| id).collect()))
                    .set_security_groups(Some(attr_strings(config, "security_group_ids")))
                    .set_tags(Some(tags(identity, &[])))
                    .send()
                    .await
                    .map_err(|e| sdk("CreateLoadBalancer", e))
                    .map_err(|e| exists_is_transient(e, &["DuplicateLoadBalancerName"]))?
                    .load_balancers()
                    .first()
                    .and_then(|l| l.load_balancer_arn())
                    .map(str::to_string)
                    .ok_or_else(|| missing("CreateLoadBalancer"))
            }
            TARGET_GROUP => {
                let interval = attr_i64(config, "health_check_interval", 30);
                let protocol = ProtocolEnum::from(attr_str(config, "protocol").unwrap_or("HTTP"));
                let target = attr_str(config, "target");
                let extra: Vec<(&str, &str)> =
                    target.map(|t| (TAG_TARGET, t)).into_iter().collect();
                let arn = c
                    .create_target_group()
                    .name(identity.name(NAME_LEN))
                    .vpc_id(need_str(config, "vpc_id")?)
                    .port(attr_i64(config, "port", TARGET_PORT) as i32)
                    .protocol(protocol.clone())
                    .target_type(TargetTypeEnum::from(
                        attr_str(config, "target_type").unwrap_or("ip"),
                    ))
                    .health_check_protocol(protocol)
                    .health_check_path(attr_str(config, "health_check_path").unwrap_or("/"))
                    .health_check_interval_seconds(interval as i32)
                    .health_check_timeout_seconds(health_timeout(interval))
                    .healthy_threshold_count(attr_i64(config, "healthy_threshold", 5) as i32)
                    .set_tags(Some(tags(identity, &extra)))
                    .send()
                    .await
                    .map_err(|e| sdk("CreateTargetGroup", e))
                    .map_err(|e| exists_is_transient(e, &["DuplicateTargetGroupName"]))?
                    .target_groups()
                    .first()
                    .and_then(|t| t.target_group_arn())
                    .map(str::to_string)
                    .ok_or_else(|| missing("CreateTargetGroup"))?;
                // Stickiness is explicit, on or off, never left to a default.
                self.set_stickiness(&arn, attr_bool(config, "stickiness_enabled", false))
                    .await?;
                Ok(arn)
            }
            LISTENER => {
                let certificate = attr_str(config, "certificate_arn")
                    .map(|a| Certificate::builder().certificate_arn(a).build());
                c.create_listener()
                    .load_balancer_arn(need_str(config, "load_balancer_arn")?)
                    .port(attr_i64(config, "port", 443) as i32)
                    .protocol(listener_protocol(config))
                    .set_certificates(certificate.map(|c| vec![c]))
                    .default_actions(forward(need_str(config, "target_group_arn")?))
                    .set_tags(Some(tags(identity, &[])))
                    .send()
                    .await
                    .map_err(|e| sdk("CreateListener", e))
                    .map_err(|e| exists_is_transient(e, &["DuplicateListener"]))?
                    .listeners()
                    .first()
                    .and_then(|l| l.listener_arn())
                    .map(str::to_string)
                    .ok_or_else(|| missing("CreateListener"))
            }
            other => Err(unknown_type(other)),
        }
    }

    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Obj>>, ProviderError> {
        let found = self.read(type_name, ids).await?;
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    async fn converge(
        &self,
        type_name: &str,
        current: &Obj,
        config: &Attrs,
    ) -> Result<bool, ProviderError> {
        let c = self.client().await;
        let id = current.state.id.as_str();
        let now = &current.state.attrs;
        let mut changed = false;
        match type_name {
            LB => {
                let want = attr_strings(config, "security_group_ids");
                if attr_strings(now, "security_group_ids") != want {
                    c.set_security_groups()
                        .load_balancer_arn(id)
                        .set_security_groups(Some(want))
                        .send()
                        .await
                        .map_err(|e| sdk("SetSecurityGroups", e))?;
                    changed = true;
                }
            }
            TARGET_GROUP => {
                let path = attr_str(config, "health_check_path").unwrap_or("/");
                let interval = attr_i64(config, "health_check_interval", 30);
                let threshold = attr_i64(config, "healthy_threshold", 5);
                if attr_str(now, "health_check_path") != Some(path)
                    || attr_i64(now, "health_check_interval", 0) != interval
                    || attr_i64(now, "healthy_threshold", 0) != threshold
                {
                    c.modify_target_group()
                        .target_group_arn(id)
                        .health_check_path(path)
                        .health_check_interval_seconds(interval as i32)
                        .health_check_timeout_seconds(health_timeout(interval))
                        .healthy_threshold_count(threshold as i32)
                        .send()
                        .await
                        .map_err(|e| sdk("ModifyTargetGroup", e))?;
                    changed = true;
                }
                let sticky = attr_bool(config, "stickiness_enabled", false);
                if attr_bool(now, "stickiness_enabled", !sticky) != sticky {
                    self.set_stickiness(id, sticky).await?;
                    changed = true;
                }
                let target = attr_str(config, "target");
                if attr_str(now, "target") != target {
                    match target {
                        Some(t) => c
                            .add_tags()
                            .resource_arns(id)
                            .tags(Tag::builder().key(TAG_TARGET).value(t).build())
                            .send()
                            .await
                            .sent("AddTags")?,
                        None => c
                            .remove_tags()
                            .resource_arns(id)
                            .tag_keys(TAG_TARGET)
                            .send()
                            .await
                            .sent("RemoveTags")?,
                    }
                    changed = true;
                }
            }
            LISTENER => {
                let group = need_str(config, "target_group_arn")?;
                let port = attr_i64(config, "port", 443);
                let certificate = attr_str(config, "certificate_arn");
                let protocol = listener_protocol(config);
                if attr_str(now, "target_group_arn") != Some(group)
                    || attr_i64(now, "port", 0) != port
                    || attr_str(now, "certificate_arn") != certificate
                    || attr_str(now, "protocol") != Some(protocol.as_str())
                {
                    c.modify_listener()
                        .listener_arn(id)
                        .port(port as i32)
                        .protocol(protocol)
                        .set_certificates(
                            certificate
                                .map(|a| vec![Certificate::builder().certificate_arn(a).build()]),
                        )
                        .default_actions(forward(group))
                        .send()
                        .await
                        .map_err(|e| sdk("ModifyListener", e))?;
                    changed = true;
                }
            }
            other => return Err(unknown_type(other)),
        }
        Ok(changed)
    }

    async fn delete(&self, type_name: &str, id: &str) -> Result<(), ProviderError> {
        let c = self.client().await;
        let r = match type_name {
            LB => c
                .delete_load_balancer()
                .load_balancer_arn(id)
                .send()
                .await
                .sent("DeleteLoadBalancer"),
            TARGET_GROUP => c
                .delete_target_group()
                .target_group_arn(id)
                .send()
                .await
                .sent("DeleteTargetGroup"),
            LISTENER => c
                .delete_listener()
                .listener_arn(id)
                .send()
                .await
                .sent("DeleteListener"),
            other => Err(unknown_type(other)),
        };
        gone_ok(r)
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
    fn expansion() {
        let config = Attrs::from([
            ("network".to_string(), Value::from("vpc-1")),
            ("target".to_string(), Value::from("cluster-1")),
            ("port".to_string(), Value::from(80)),
            (
                "health_check".to_string(),
                Value::Map(BTreeMap::from([(
                    "path".to_string(),
                    Value::from("/healthz"),
                )])),
            ),
            ("sticky_sessions".to_string(), Value::Bool(true)),
        ]);
        let e = expand(&settings(), &config).expect("expands");
        let names: Vec<&str> = e.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["lb_security_group", "lb", "target_group", "listener"]
        );
        let tg = e.get("target_group").expect("target group");
        assert_eq!(
            tg.config["health_check_path"],
            Binding::Value(Value::from("/healthz"))
        );
        assert_eq!(
            tg.config["health_check_interval"],
            Binding::Value(Value::from(30))
        );
        assert_eq!(
            tg.config["stickiness_enabled"],
            Binding::Value(Value::Bool(true))
        );
        assert_eq!(
            tg.config["target"],
            Binding::Value(Value::from("cluster-1"))
        );
        let listener = e.get("listener").expect("listener");
        assert!(listener.dependencies().contains("lb"));
        assert!(listener.dependencies().contains("target_group"));
        assert!(
            e.get("lb")
                .expect("lb")
                .dependencies()
                .contains("lb_security_group")
        );
        let keys: Vec<&str> = e.exports.keys().map(String::as_str).collect();
        assert_eq!(keys, ["dns_name", "id", "target_group_arn"]);
        assert!(validate(&settings(), &config).is_empty());
        assert_eq!(health_timeout(5), 4);
        assert_eq!(health_timeout(30), 5);
    }
}
