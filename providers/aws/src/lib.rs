//! The AWS provider `aws`: the portable components as AWS objects, through the official
//! aws-sdk-rust crates (`aws-sdk-ec2`, with `aws-config` for credentials and endpoints).
//!
//! **Status:** only `network` is implemented; the provider is not registered in the `ss`
//! binary until every portable component is (`schema().components` lists what exists).
//!
//! ```hcl
//! provider "aws" {
//!   region = "eu-west-1"
//!   # zones         = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]  # default: region + a…f
//!   # endpoint      = "http://127.0.0.1:5000"  # tests (moto); else AWS_ENDPOINT_URL or AWS
//!   # ready_timeout = 600                      # seconds to wait for an object to be ready
//! }
//! ```
//!
//! Credentials and endpoints come from the standard chain of `aws-config`: environment
//! (`AWS_ACCESS_KEY_ID`…, `AWS_PROFILE`, `AWS_ENDPOINT_URL`), shared config and credentials
//! files, SSO, `credential_process`, web identity, container and instance metadata. They are
//! loaded by the first call, not by `configure`: `ss validate` works without them. Nothing
//! the provider logs or returns contains a credential (errors carry EC2's code and message).
//! The SDK retries throttled and transient requests itself (standard mode, 5 attempts),
//! except creates that carry no client token (`CreateVpc`, `CreateSubnet`,
//! `CreateInternetGateway`, `CreateSecurityGroup`): one answered 5xx or lost in transit may
//! have happened, so instead of repeating it the provider looks the identity up and adopts
//! what it finds (see below). What still fails is mapped to [`ProviderError`] kinds by its EC2
//! error code (`RequestLimitExceeded`, `Throttling` → throttled; `InternalError`,
//! `Unavailable`, 5xx, `DependencyViolation` → transient; `*.NotFound` → not found), so the
//! planner retries with backoff.
//!
//! # Components
//!
//! | component | native types (local names) |
//! |---|---|
//! | `network` | `aws_vpc` (`vpc`: the `cidr`, DNS support and host names on), `aws_internet_gateway` (`internet_gateway`, attached to the VPC), `aws_subnet` (`subnet_0`…: one per zone, the `cidr` split with 4 more prefix bits, public IPs on launch), `aws_route_table` (`route_table`: default route 0.0.0.0/0 to the gateway, associated with every subnet), `aws_security_group` (`security_group`: all traffic from the network's `cidr`; egress open) |
//!
//! Exports: `id` (the VPC id), `subnet_ids` (in zone order), `zone_names`.
//!
//! **Zones.** Expansion is a pure function of configuration, so zone names are not asked of
//! AWS while planning: they are the provider block's `zones`, or else the region name followed
//! by `a`, `b`, `c`…. The first subnet create checks them against `DescribeAvailabilityZones`
//! and fails with the zones the region really offers (some regions skip a letter, like
//! ap-northeast-1 without `b`): list them in `zones = [...]` then.
//!
//! # Native types
//!
//! | type | attributes (in place / *force new*) | EC2 calls |
//! |---|---|---|
//! | `aws_vpc` | *`cidr_block`*, `enable_dns_support`, `enable_dns_hostnames` | `CreateVpc`, `ModifyVpcAttribute`, `DescribeVpcs` + `DescribeVpcAttribute` ×2 per VPC, `DeleteVpc` |
//! | `aws_subnet` | *`vpc_id`*, *`cidr_block`*, *`availability_zone`*, `map_public_ip_on_launch` | `CreateSubnet`, `ModifySubnetAttribute`, `DescribeSubnets`, `DeleteSubnet` |
//! | `aws_internet_gateway` | `vpc_id` (detach + attach) | `CreateInternetGateway`, `Attach…`/`DetachInternetGateway`, `DescribeInternetGateways`, `Delete…` (detached first) |
//! | `aws_route_table` | *`vpc_id`*, `gateway_id` (the default route), `subnet_ids` (associations) | `CreateRouteTable` (with a client token), `CreateRoute`/`ReplaceRoute`/`DeleteRoute`, `Associate…`/`DisassociateRouteTable`, `DescribeRouteTables`, `DeleteRouteTable` (disassociated first) |
//! | `aws_security_group` | *`vpc_id`*, *`description`*, `ingress_cidrs` (all protocols) | `CreateSecurityGroup`, `Authorize…`/`RevokeSecurityGroupIngress`, `DescribeSecurityGroups`, `DeleteSecurityGroup` |
//!
//! Every type also has the computed `id` and `name`. List attributes are sets: reads and
//! plans sort them, so no reordering shows as a change. Only `-1` (all protocols) ingress
//! rules are read into `ingress_cidrs`; other rules added by hand are left alone.
//!
//! # Identity, adoption, refresh
//!
//! Every object is created with the tags `Name` (the deterministic name of its
//! [`Identity`]), `ss:managed=true`, `ss:stack=<stack>` and `ss:address=<address>`, in the
//! create call itself (`TagSpecifications`), so no object ever exists untagged. `find` is one
//! describe filtered on the `ss:stack` and `ss:address` tags. A create first calls `find` and
//! adopts what it finds; a create answered with a retryable error looks again before returning
//! it. After a create or an adoption the provider waits for `available` (polling with growing
//! pauses, bounded by `ready_timeout`), then converges the settings EC2 does not take at create
//! time (DNS attributes, public IPs, attachment, routes, associations, ingress rules) from what
//! a fresh read shows, so a repeated or adopted create ends in the configured state.
//! `CreateRouteTable` is the only one of these calls with a `ClientToken`: it is derived from
//! the identity and the VPC, so an SDK retry or a planner retry before the first table shows
//! in describes makes no second table (moto ignores client tokens; AWS honours them).
//!
//! `read_many` is one paginated describe per type, filtered on the ids (`vpc-id`,
//! `subnet-id`, …, at most 200 per filter); an id that no longer exists is `None`, never an
//! error. The VPC's DNS attributes are the exception EC2 imposes: `DescribeVpcs` does not
//! return them and `DescribeVpcAttribute` takes one VPC and one attribute, so each VPC costs
//! two more calls. A change made outside `ss` (a subnet's `map_public_ip_on_launch`, a VPC's
//! `enable_dns_hostnames`, a removed association) shows as a difference on the next plan.
//!
//! Deletes wait until the object is gone; deleting what is gone succeeds. The order (route
//! table, gateway, subnets, security group, then VPC) is the planner's, from the expansion's
//! bindings.
//!
//! # Build cost
//!
//! `aws-sdk-ec2` is the largest SDK crate (the whole EC2 API). Measured on the development
//! machine (2 shared cores, debug profile, `cargo build -p aws --timings` with the other AWS
//! crates already built for the S3 backend): `aws-sdk-ec2` alone took 250 s (200 s front end,
//! 49 s code generation) and the build peaked at 7.5 GB resident (`/usr/bin/time -v`: the one
//! `rustc` compiling it); `cargo clippy` (check mode) needs another 2 min 40 s for it, and
//! `cargo test -p aws` compiles it once more (the dev-dependencies change a shared
//! dependency's features), about 4 min 50 s. Incremental rebuilds of this crate take seconds.
//! This is why the provider is its own crate: nothing else depends on it.

mod cloudfront;
mod ec2;
mod eks;
mod elasticache;
mod elbv2;
mod error;
mod expand;
mod iam;
mod rds;
mod secrets;
mod service;
mod types;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::config::SharedInterceptor;
use provider_api::schema::{AttrType, AttributeSchema, Body, ProviderSchema, ResourceSchema};
use provider_api::{
    Attrs, CreateRequest, Diagnostic, Expansion, Identity, PlanRequest, PlanResponse, Provider,
    ProviderError, ResourceState, Value, component,
};

pub use ec2::{client_token, identity_tags};
pub use error::classify;
pub use expand::{Settings, default_zones, split_cidr};
pub use service::{TAG_ADDRESS, TAG_MANAGED, TAG_STACK};
pub use types::all as native_types;

use service::{Service, Shared};

pub const NAME: &str = "aws";

/// Default bound of a readiness or deletion wait.
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(600);

/// The portable components this provider implements so far.
pub const COMPONENTS: [&str; 1] = [component::NETWORK];

/// Schema of the provider block.
pub fn config_schema() -> Body {
    let s = AttrType::String;
    Body::default()
        .attr(
            "region",
            AttributeSchema::required(s.clone(), "AWS region, like eu-west-1"),
        )
        .attr(
            "zones",
            AttributeSchema::optional(
                AttrType::List(Box::new(s.clone())),
                "Availability zones to spread networks over (default: the region name + a, b, c…)",
            ),
        )
        .attr(
            "endpoint",
            AttributeSchema::optional(
                s,
                "Endpoint URL override (tests, moto); default: AWS_ENDPOINT_URL or AWS",
            ),
        )
        .attr(
            "ready_timeout",
            AttributeSchema::optional(
                AttrType::Number,
                "Seconds to wait for an object to become ready or gone (default 600)",
            ),
        )
}

/// The `aws` provider.
#[derive(Debug)]
pub struct AwsProvider {
    schema: ProviderSchema,
    settings: Settings,
    ready_timeout: Duration,
    /// One per AWS service; each owns some native types.
    services: Vec<Arc<dyn Service>>,
}

/// Builds the provider from the evaluated provider block; credentials come from the standard
/// chain at the first call.
pub fn configure(config: &Attrs, _spec_dir: &Path) -> Result<AwsProvider, Vec<Diagnostic>> {
    configure_with(config, None, Vec::new())
}

/// [`configure`] with an SDK configuration built by the caller (credentials without the
/// process environment) and interceptors added to the EC2 client.
pub fn configure_with(
    config: &Attrs,
    sdk: Option<aws_config::SdkConfig>,
    interceptors: Vec<SharedInterceptor>,
) -> Result<AwsProvider, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let text = |k: &str| {
        config
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let region = text("region").unwrap_or_default();
    if region.is_empty() {
        diags.push(Diagnostic::error("`region` must not be empty").at(["region"]));
    }
    let zones = match config.get("zones").and_then(Value::as_list) {
        Some(list) => {
            let zones: Vec<String> = list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            if zones.is_empty() {
                diags.push(Diagnostic::error("`zones` must name at least one zone").at(["zones"]));
            }
            zones
        }
        None => expand::default_zones(&region),
    };
    let ready_timeout =
        provider_api::seconds_setting(config, "ready_timeout", DEFAULT_READY_TIMEOUT, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    let shared = Arc::new(Shared::new(
        region.clone(),
        text("endpoint"),
        sdk,
        interceptors,
    ));
    let ec2 = Arc::new(ec2::Ec2::new(shared.clone()));
    let services: Vec<Arc<dyn Service>> = vec![
        ec2.clone(),
        Arc::new(iam::Iam::new(shared.clone())),
        Arc::new(eks::Eks::new(shared.clone(), ec2.clone())),
        Arc::new(secrets::Secrets::new(shared.clone())),
        Arc::new(rds::Rds::new(shared.clone(), ec2.clone())),
        Arc::new(elasticache::Elasticache::new(shared.clone(), ec2.clone())),
        Arc::new(elbv2::Elbv2::new(shared.clone(), ec2)),
        Arc::new(cloudfront::CloudFront::new(shared)),
    ];
    Ok(AwsProvider {
        schema: ProviderSchema {
            config: config_schema(),
            resources: types::schemas(),
            components: COMPONENTS.iter().map(|c| c.to_string()).collect(),
        },
        settings: Settings {
            region: region.clone(),
            zones,
        },
        ready_timeout,
        services,
    })
}

/// Wraps an interceptor for [`configure_with`] (added to every service's client).
pub fn interceptor(i: impl aws_sdk_ec2::config::Intercept + 'static) -> SharedInterceptor {
    SharedInterceptor::new(i)
}

impl AwsProvider {
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The service that owns a native type.
    fn service(&self, type_name: &str) -> Result<&dyn Service, ProviderError> {
        self.services
            .iter()
            .find(|s| s.types().contains(&type_name))
            .map(|s| s.as_ref())
            .ok_or_else(|| service::unknown_type(type_name))
    }

    /// The id of the object made for `identity`: found, or created (adopting what a create
    /// answered with a retryable error made after all).
    async fn find_or_create(
        &self,
        svc: &dyn Service,
        req: &CreateRequest<'_>,
    ) -> Result<String, ProviderError> {
        if let Some(found) = svc.find(req.type_name, req.identity).await? {
            tracing::debug!(type_name = req.type_name, id = %found.state.id, "aws create: adopting");
            return Ok(found.state.id);
        }
        match svc
            .create(req.type_name, req.identity, req.config, "")
            .await
        {
            Ok(id) => Ok(id),
            Err(e) if e.is_retryable() => match svc.find(req.type_name, req.identity).await {
                Ok(Some(found)) => {
                    tracing::debug!(
                        type_name = req.type_name,
                        id = %found.state.id,
                        "aws create: adopting what a failed create made"
                    );
                    Ok(found.state.id)
                }
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

/// Fills in schema defaults of attributes that are not configured.
fn with_defaults(schema: &ResourceSchema, proposed: &Attrs) -> Attrs {
    let mut out = proposed.clone();
    for (name, attr) in &schema.body.attributes {
        if let Some(default) = &attr.default
            && out.get(name).is_none_or(Value::is_null)
        {
            out.insert(name.clone(), default.clone());
        }
    }
    out
}

/// Sorts and deduplicates a wholly known list of strings (a set attribute).
fn as_set(v: &Value) -> Option<Value> {
    let items = v.as_list()?;
    if !v.is_wholly_known() {
        return None;
    }
    let mut texts: Vec<String> = items
        .iter()
        .map(|i| i.as_str().map(str::to_string))
        .collect::<Option<_>>()?;
    texts.sort();
    texts.dedup();
    Some(Value::List(texts.into_iter().map(Value::from).collect()))
}

#[async_trait]
impl Provider for AwsProvider {
    fn name(&self) -> &str {
        NAME
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn validate(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        expand::validate(&self.settings, type_name, config)
    }

    fn expand(
        &self,
        address: &str,
        type_name: &str,
        config: &Attrs,
    ) -> Result<Expansion, Vec<Diagnostic>> {
        let _ = address;
        expand::expand(&self.settings, type_name, config)
            .unwrap_or_else(|| provider_api::expand_native(NAME, &self.schema, type_name, config))
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, Vec<Diagnostic>> {
        let Some(schema) = self.schema.resources.get(req.type_name) else {
            return Err(vec![Diagnostic::error(format!(
                "the aws provider has no resource type {:?}",
                req.type_name
            ))]);
        };
        let mut proposed = with_defaults(schema, req.proposed);
        for key in types::set_like(req.type_name) {
            if let Some(sorted) = proposed.get(*key).and_then(as_set) {
                proposed.insert(key.to_string(), sorted);
            }
        }
        Ok(provider_api::default_plan(schema, req.prior, &proposed))
    }

    async fn create(&self, req: CreateRequest<'_>) -> Result<ResourceState, ProviderError> {
        let svc = self.service(req.type_name)?;
        let id = self.find_or_create(svc, &req).await?;
        let ready = match service::wait_ready(svc, req.type_name, &id, self.ready_timeout).await {
            Ok(obj) => obj,
            // A client token still remembered by EC2 for a table deleted since answers the
            // deleted table's id: create again under a fresh token.
            Err(ProviderError::NotFound(_)) if req.type_name == types::ROUTE_TABLE => {
                let salt = format!(
                    "{:?}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                );
                let id = svc
                    .create(req.type_name, req.identity, req.config, &salt)
                    .await?;
                service::wait_ready(svc, req.type_name, &id, self.ready_timeout).await?
            }
            Err(e) => return Err(e),
        };
        if svc.converge(req.type_name, &ready, req.config).await? {
            Ok(
                service::wait_ready(svc, req.type_name, &ready.state.id, self.ready_timeout)
                    .await?
                    .state,
            )
        } else {
            Ok(ready.state)
        }
    }

    async fn find(
        &self,
        type_name: &str,
        identity: &Identity,
    ) -> Result<Option<ResourceState>, ProviderError> {
        let svc = self.service(type_name)?;
        Ok(svc.find(type_name, identity).await?.map(|o| o.state))
    }

    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ResourceState>>, ProviderError> {
        let svc = self.service(type_name)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(svc
            .read_many(type_name, ids)
            .await?
            .into_iter()
            .map(|o| o.filter(|o| !svc.is_gone(type_name, o)).map(|o| o.state))
            .collect())
    }

    async fn update(
        &self,
        type_name: &str,
        prior: &ResourceState,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let svc = self.service(type_name)?;
        let current = service::read_one(svc, type_name, &prior.id)
            .await?
            .filter(|o| !svc.is_gone(type_name, o))
            .ok_or_else(|| ProviderError::NotFound(format!("{type_name} {}", prior.id)))?;
        if svc.converge(type_name, &current, config).await? {
            Ok(
                service::wait_ready(svc, type_name, &prior.id, self.ready_timeout)
                    .await?
                    .state,
            )
        } else {
            Ok(current.state)
        }
    }

    async fn delete(&self, type_name: &str, prior: &ResourceState) -> Result<(), ProviderError> {
        let svc = self.service(type_name)?;
        svc.delete(type_name, &prior.id).await?;
        service::wait_gone(svc, type_name, &prior.id, self.ready_timeout).await
    }
}
