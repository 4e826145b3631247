//! The EC2 calls behind each native type: creates tagged with the resource's identity, lookups
//! by tag, batched describes, in-place convergence, readiness and deletion waits.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    AttachmentStatus, AttributeBooleanValue, Filter, IpPermission, IpRange,
    RouteTableAssociationStateCode, SubnetState, Tag, TagSpecification, VpcAttributeName, VpcState,
};
use provider_api::{Attrs, Identity, ProviderError, ResourceState, Value};
use tokio::sync::OnceCell;

use crate::error::sdk;
use crate::service::{
    Obj, Service, Shared, TAG_ADDRESS, TAG_MANAGED, TAG_STACK, already_ok, attr_bool, attr_str,
    attr_strings, gone_ok, identity_tag_pairs, need_str, opt, strings, unknown_type,
};
use crate::types as t;

/// EC2 accepts at most 200 values in one filter: larger batches are split.
const FILTER_VALUES: usize = 200;

/// The route everything leaves by.
const DEFAULT_ROUTE: &str = "0.0.0.0/0";

fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

/// The filters that find the object of an identity.
pub fn identity_filters(identity: &Identity) -> Vec<Filter> {
    vec![
        filter(&format!("tag:{TAG_STACK}"), [identity.stack.clone()]),
        filter(&format!("tag:{TAG_ADDRESS}"), [identity.address.clone()]),
    ]
}

/// The tags of an object made for `identity`.
pub fn identity_tags(identity: &Identity) -> Vec<Tag> {
    identity_tag_pairs(identity, t::NAME_LEN)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn tag_spec(resource: aws_sdk_ec2::types::ResourceType, identity: &Identity) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(identity_tags(identity)))
        .build()
}

fn name_tag(tags: &[Tag]) -> Value {
    tags.iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| t.value())
        .map(Value::from)
        .unwrap_or(Value::Null)
}

fn bool_value(b: bool) -> AttributeBooleanValue {
    AttributeBooleanValue::builder().value(b).build()
}

/// The configuration override of a create without a client token: no SDK retry. A create
/// answered 5xx (or lost in transit) may have happened; repeating it blindly could make a
/// second object, so the provider looks the identity up instead (and the planner retries with
/// backoff, which looks it up first again). Throttled creates, which did not happen, are
/// retried by the planner too.
fn no_retry() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::new()
        .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
}

/// The attributes changed in place (by [`Ec2::converge`]).
fn in_place(type_name: &str) -> &'static [&'static str] {
    match type_name {
        t::VPC => &["enable_dns_support", "enable_dns_hostnames"],
        t::SUBNET => &["map_public_ip_on_launch"],
        t::IGW => &["vpc_id"],
        t::ROUTE_TABLE => &["gateway_id", "subnet_ids"],
        t::SECURITY_GROUP => &["ingress_cidrs"],
        _ => &[],
    }
}

/// The value an in-place attribute should have, normalised as reads answer it.
fn desired(config: &Attrs, key: &str) -> Value {
    match key {
        "enable_dns_support" | "enable_dns_hostnames" => Value::Bool(attr_bool(config, key, true)),
        "map_public_ip_on_launch" => Value::Bool(attr_bool(config, key, false)),
        "subnet_ids" | "ingress_cidrs" => strings(attr_strings(config, key)),
        _ => opt(attr_str(config, key)),
    }
}

/// The describe filter naming an object's id.
fn id_filter(type_name: &str) -> &'static str {
    match type_name {
        t::VPC => "vpc-id",
        t::SUBNET => "subnet-id",
        t::IGW => "internet-gateway-id",
        t::ROUTE_TABLE => "route-table-id",
        _ => "group-id",
    }
}

/// A deterministic EC2 client token (at most 64 ASCII characters): a create retried by the
/// SDK, or repeated by the planner before the first one shows in describes, makes nothing new.
pub fn client_token(identity: &Identity, salt: &str) -> String {
    provider_api::deterministic_name(
        &identity.stack,
        &format!("{}\u{0}{salt}", identity.address),
        64,
    )
}

/// The EC2 operations, on a client built at the first call.
pub struct Ec2 {
    shared: Arc<Shared>,
    client: OnceCell<Client>,
    /// The zones `DescribeAvailabilityZones` lists, asked once.
    zones: OnceCell<Vec<String>>,
}

impl std::fmt::Debug for Ec2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ec2")
            .field("region", &self.shared.region)
            .finish_non_exhaustive()
    }
}

impl Ec2 {
    pub fn new(shared: Arc<Shared>) -> Ec2 {
        Ec2 {
            shared,
            client: OnceCell::new(),
            zones: OnceCell::new(),
        }
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async { crate::client!(aws_sdk_ec2, &self.shared) })
            .await
    }

    // -----------------------------------------------------------------------------------------
    // What other services need of a network made by ss (components name their network by
    // its VPC id only).

    /// The subnets `ss` made in a VPC (tagged `ss:managed`), as (subnet id, zone), in zone
    /// order. An error when there are none: the VPC is not a `network` of ss.
    pub async fn network_subnets(
        &self,
        vpc_id: &str,
    ) -> Result<Vec<(String, String)>, ProviderError> {
        let c = self.client().await;
        let mut pages = c
            .describe_subnets()
            .filters(filter("vpc-id", [vpc_id.to_string()]))
            .filters(filter(&format!("tag:{TAG_MANAGED}"), ["true".to_string()]))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("DescribeSubnets", e))?;
            for s in page.subnets() {
                if let (Some(id), Some(zone)) = (s.subnet_id(), s.availability_zone()) {
                    out.push((id.to_string(), zone.to_string()));
                }
            }
        }
        out.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        if out.is_empty() {
            return Err(ProviderError::Invalid(format!(
                "VPC {vpc_id:?} has no subnet made by ss: `network` must be the `id` of a \
                 `network` resource of this provider"
            )));
        }
        Ok(out)
    }

    /// The security group of the `network` that made a VPC (all traffic from inside it).
    pub async fn network_security_group(&self, vpc_id: &str) -> Result<String, ProviderError> {
        let c = self.client().await;
        let answer = c
            .describe_security_groups()
            .filters(filter("vpc-id", [vpc_id.to_string()]))
            .filters(filter(&format!("tag:{TAG_MANAGED}"), ["true".to_string()]))
            .send()
            .await
            .map_err(|e| sdk("DescribeSecurityGroups", e))?;
        let mut found: Vec<String> = answer
            .security_groups()
            .iter()
            .filter(|g| {
                g.tags().iter().any(|t| {
                    t.key() == Some(TAG_ADDRESS)
                        && t.value()
                            .is_some_and(|v| v.ends_with(".aws_security_group.security_group"))
                })
            })
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect();
        found.sort();
        found.into_iter().next().ok_or_else(|| {
            ProviderError::Invalid(format!(
                "VPC {vpc_id:?} has no security group made by an ss `network`"
            ))
        })
    }

    // -----------------------------------------------------------------------------------------
    // Describes.

    /// Every object of `type_name` matching `filters`: one paginated describe (plus, for VPCs,
    /// the two DNS attributes, which `DescribeVpcs` does not return and EC2 only answers one
    /// VPC and one attribute at a time).
    pub async fn describe(
        &self,
        type_name: &str,
        filters: Vec<Filter>,
    ) -> Result<Vec<Obj>, ProviderError> {
        let c = self.client().await;
        let mut out = Vec::new();
        match type_name {
            t::VPC => {
                let mut pages = c
                    .describe_vpcs()
                    .set_filters(Some(filters))
                    .into_paginator()
                    .send();
                let mut vpcs = Vec::new();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| sdk("DescribeVpcs", e))?;
                    vpcs.extend(page.vpcs().iter().cloned());
                }
                for v in vpcs {
                    let Some(id) = v.vpc_id() else { continue };
                    let Some((support, hostnames)) = self.vpc_dns(id).await? else {
                        continue;
                    };
                    let attrs = Attrs::from([
                        ("id".into(), Value::from(id)),
                        ("name".into(), name_tag(v.tags())),
                        ("cidr_block".into(), opt(v.cidr_block())),
                        ("enable_dns_support".into(), Value::Bool(support)),
                        ("enable_dns_hostnames".into(), Value::Bool(hostnames)),
                    ]);
                    out.push(Obj {
                        state: ResourceState {
                            id: id.to_string(),
                            attrs,
                        },
                        ready: v.state() == Some(&VpcState::Available),
                        extra: BTreeMap::new(),
                    });
                }
            }
            t::SUBNET => {
                let mut pages = c
                    .describe_subnets()
                    .set_filters(Some(filters))
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| sdk("DescribeSubnets", e))?;
                    for s in page.subnets() {
                        let Some(id) = s.subnet_id() else { continue };
                        let attrs = Attrs::from([
                            ("id".into(), Value::from(id)),
                            ("name".into(), name_tag(s.tags())),
                            ("vpc_id".into(), opt(s.vpc_id())),
                            ("cidr_block".into(), opt(s.cidr_block())),
                            ("availability_zone".into(), opt(s.availability_zone())),
                            (
                                "map_public_ip_on_launch".into(),
                                Value::Bool(s.map_public_ip_on_launch().unwrap_or(false)),
                            ),
                        ]);
                        out.push(Obj {
                            state: ResourceState {
                                id: id.to_string(),
                                attrs,
                            },
                            ready: s.state() == Some(&SubnetState::Available),
                            extra: BTreeMap::new(),
                        });
                    }
                }
            }
            t::IGW => {
                let mut pages = c
                    .describe_internet_gateways()
                    .set_filters(Some(filters))
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| sdk("DescribeInternetGateways", e))?;
                    for g in page.internet_gateways() {
                        let Some(id) = g.internet_gateway_id() else {
                            continue;
                        };
                        let attachment = g.attachments().iter().find(|a| {
                            !matches!(
                                a.state(),
                                Some(AttachmentStatus::Detached | AttachmentStatus::Detaching)
                            )
                        });
                        // moto answers `available` for an attached gateway, AWS `attached`.
                        let ready = attachment.is_none_or(|a| {
                            matches!(a.state(), None | Some(AttachmentStatus::Attached))
                                || a.state().map(AttachmentStatus::as_str) == Some("available")
                        });
                        let attrs = Attrs::from([
                            ("id".into(), Value::from(id)),
                            ("name".into(), name_tag(g.tags())),
                            ("vpc_id".into(), opt(attachment.and_then(|a| a.vpc_id()))),
                        ]);
                        out.push(Obj {
                            state: ResourceState {
                                id: id.to_string(),
                                attrs,
                            },
                            ready,
                            extra: BTreeMap::new(),
                        });
                    }
                }
            }
            t::ROUTE_TABLE => {
                let mut pages = c
                    .describe_route_tables()
                    .set_filters(Some(filters))
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| sdk("DescribeRouteTables", e))?;
                    for r in page.route_tables() {
                        let Some(id) = r.route_table_id() else {
                            continue;
                        };
                        let gateway = r
                            .routes()
                            .iter()
                            .find(|x| x.destination_cidr_block() == Some(DEFAULT_ROUTE))
                            .and_then(|x| x.gateway_id());
                        let associations: BTreeMap<String, String> = r
                            .associations()
                            .iter()
                            .filter(|a| a.main() != Some(true))
                            .filter(|a| {
                                a.association_state()
                                    .and_then(|s| s.state())
                                    .is_none_or(|s| {
                                        matches!(
                                            s,
                                            RouteTableAssociationStateCode::Associated
                                                | RouteTableAssociationStateCode::Associating
                                        )
                                    })
                            })
                            .filter_map(|a| {
                                Some((
                                    a.subnet_id()?.to_string(),
                                    a.route_table_association_id()?.to_string(),
                                ))
                            })
                            .collect();
                        let attrs = Attrs::from([
                            ("id".into(), Value::from(id)),
                            ("name".into(), name_tag(r.tags())),
                            ("vpc_id".into(), opt(r.vpc_id())),
                            ("gateway_id".into(), opt(gateway)),
                            (
                                "subnet_ids".into(),
                                strings(associations.keys().cloned().collect()),
                            ),
                        ]);
                        out.push(Obj {
                            state: ResourceState {
                                id: id.to_string(),
                                attrs,
                            },
                            ready: true,
                            extra: associations,
                        });
                    }
                }
            }
            t::SECURITY_GROUP => {
                let mut pages = c
                    .describe_security_groups()
                    .set_filters(Some(filters))
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| sdk("DescribeSecurityGroups", e))?;
                    for g in page.security_groups() {
                        let Some(id) = g.group_id() else { continue };
                        let cidrs: Vec<String> = g
                            .ip_permissions()
                            .iter()
                            .filter(|p| p.ip_protocol() == Some("-1"))
                            .flat_map(|p| p.ip_ranges())
                            .filter_map(|r| r.cidr_ip().map(str::to_string))
                            .collect();
                        let attrs = Attrs::from([
                            ("id".into(), Value::from(id)),
                            ("name".into(), opt(g.group_name())),
                            ("vpc_id".into(), opt(g.vpc_id())),
                            ("description".into(), opt(g.description())),
                            ("ingress_cidrs".into(), strings(cidrs)),
                        ]);
                        out.push(Obj {
                            state: ResourceState {
                                id: id.to_string(),
                                attrs,
                            },
                            ready: true,
                            extra: BTreeMap::new(),
                        });
                    }
                }
            }
            other => {
                return Err(ProviderError::Invalid(format!(
                    "the aws provider has no resource type {other:?}"
                )));
            }
        }
        Ok(out)
    }

    /// The DNS attributes of a VPC; `None` when it does not exist.
    async fn vpc_dns(&self, id: &str) -> Result<Option<(bool, bool)>, ProviderError> {
        let c = self.client().await;
        let mut values = [false, false];
        for (slot, attribute) in [
            VpcAttributeName::EnableDnsSupport,
            VpcAttributeName::EnableDnsHostnames,
        ]
        .into_iter()
        .enumerate()
        {
            let answer = c
                .describe_vpc_attribute()
                .vpc_id(id)
                .attribute(attribute)
                .send()
                .await
                .map_err(|e| sdk("DescribeVpcAttribute", e));
            let answer = match answer {
                Ok(a) => a,
                Err(ProviderError::NotFound(_)) => return Ok(None),
                Err(e) => return Err(e),
            };
            let v = if slot == 0 {
                answer.enable_dns_support()
            } else {
                answer.enable_dns_hostnames()
            };
            values[slot] = v.and_then(|v| v.value()).unwrap_or(false);
        }
        Ok(Some((values[0], values[1])))
    }

    /// Reads objects by id: one describe per 200 ids, filtered (a filter, unlike the id
    /// parameters, does not fail the whole call when one id no longer exists).
    pub async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Obj>>, ProviderError> {
        let mut found: BTreeMap<String, Obj> = BTreeMap::new();
        for chunk in ids.chunks(FILTER_VALUES) {
            let f = filter(id_filter(type_name), chunk.iter().cloned());
            for obj in self.describe(type_name, vec![f]).await? {
                found.insert(obj.state.id.clone(), obj);
            }
        }
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    pub async fn read_one(&self, type_name: &str, id: &str) -> Result<Option<Obj>, ProviderError> {
        Ok(self
            .read_many(type_name, &[id.to_string()])
            .await?
            .into_iter()
            .next()
            .flatten())
    }

    /// The object made for `identity`, by its tags (one describe).
    pub async fn find(
        &self,
        type_name: &str,
        identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError> {
        let mut found = self.describe(type_name, identity_filters(identity)).await?;
        if found.len() > 1 {
            tracing::warn!(
                type_name,
                address = %identity.address,
                count = found.len(),
                "several objects carry the same ss:address tag; adopting the first"
            );
        }
        found.sort_by(|a, b| a.state.id.cmp(&b.state.id));
        Ok(found.into_iter().next())
    }

    // -----------------------------------------------------------------------------------------
    // Creates.

    /// Checks a zone name against `DescribeAvailabilityZones` (asked once).
    async fn check_zone(&self, zone: &str) -> Result<(), ProviderError> {
        let zones = self
            .zones
            .get_or_try_init(|| async {
                let answer = self
                    .client()
                    .await
                    .describe_availability_zones()
                    .send()
                    .await
                    .map_err(|e| sdk("DescribeAvailabilityZones", e))?;
                Ok::<_, ProviderError>(
                    answer
                        .availability_zones()
                        .iter()
                        .filter_map(|z| z.zone_name().map(str::to_string))
                        .collect::<Vec<_>>(),
                )
            })
            .await?;
        if zones.iter().any(|z| z == zone) {
            Ok(())
        } else {
            Err(ProviderError::Invalid(format!(
                "availability zone {zone:?} is not offered in region {} (it offers: {}); name \
                 the zones to use in `zones = [...]` of the `provider \"aws\"` block",
                self.shared.region,
                zones.join(", ")
            )))
        }
    }

    /// Sends the create call; answers the new object's id. Settings that EC2 does not take at
    /// create time are left to [`Ec2::converge`].
    pub async fn create(
        &self,
        type_name: &str,
        identity: &Identity,
        config: &Attrs,
        salt: &str,
    ) -> Result<String, ProviderError> {
        use aws_sdk_ec2::types::ResourceType as R;
        let c = self.client().await;
        let missing = |what: &str| ProviderError::Other(format!("{what} answered no id"));
        match type_name {
            t::VPC => c
                .create_vpc()
                .cidr_block(need_str(config, "cidr_block")?)
                .tag_specifications(tag_spec(R::Vpc, identity))
                .customize()
                .config_override(no_retry())
                .send()
                .await
                .map_err(|e| sdk("CreateVpc", e))?
                .vpc()
                .and_then(|v| v.vpc_id())
                .map(str::to_string)
                .ok_or_else(|| missing("CreateVpc")),
            t::SUBNET => {
                let zone = need_str(config, "availability_zone")?;
                self.check_zone(zone).await?;
                c.create_subnet()
                    .vpc_id(need_str(config, "vpc_id")?)
                    .cidr_block(need_str(config, "cidr_block")?)
                    .availability_zone(zone)
                    .tag_specifications(tag_spec(R::Subnet, identity))
                    .customize()
                    .config_override(no_retry())
                    .send()
                    .await
                    .map_err(|e| sdk("CreateSubnet", e))?
                    .subnet()
                    .and_then(|s| s.subnet_id())
                    .map(str::to_string)
                    .ok_or_else(|| missing("CreateSubnet"))
            }
            t::IGW => c
                .create_internet_gateway()
                .tag_specifications(tag_spec(R::InternetGateway, identity))
                .customize()
                .config_override(no_retry())
                .send()
                .await
                .map_err(|e| sdk("CreateInternetGateway", e))?
                .internet_gateway()
                .and_then(|g| g.internet_gateway_id())
                .map(str::to_string)
                .ok_or_else(|| missing("CreateInternetGateway")),
            t::ROUTE_TABLE => {
                let vpc = need_str(config, "vpc_id")?;
                c.create_route_table()
                    .vpc_id(vpc)
                    .client_token(client_token(identity, &format!("{vpc}{salt}")))
                    .tag_specifications(tag_spec(R::RouteTable, identity))
                    .send()
                    .await
                    .map_err(|e| sdk("CreateRouteTable", e))?
                    .route_table()
                    .and_then(|r| r.route_table_id())
                    .map(str::to_string)
                    .ok_or_else(|| missing("CreateRouteTable"))
            }
            t::SECURITY_GROUP => c
                .create_security_group()
                .group_name(identity.name(t::NAME_LEN))
                .description(attr_str(config, "description").unwrap_or("Managed by ss"))
                .vpc_id(need_str(config, "vpc_id")?)
                .tag_specifications(tag_spec(R::SecurityGroup, identity))
                .customize()
                .config_override(no_retry())
                .send()
                .await
                .map_err(|e| sdk("CreateSecurityGroup", e))?
                .group_id()
                .map(str::to_string)
                .ok_or_else(|| missing("CreateSecurityGroup")),
            other => Err(unknown_type(other)),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Convergence: the in-place settings, from what the object is now to the configuration.

    /// Brings the in-place settings of an existing object to `config`: reads it, then changes
    /// only what differs (so it is safe to repeat, and after an adoption).
    pub async fn converge(
        &self,
        type_name: &str,
        current: &Obj,
        config: &Attrs,
    ) -> Result<bool, ProviderError> {
        let now = &current.state.attrs;
        if in_place(type_name)
            .iter()
            .all(|k| now.get(*k).unwrap_or(&Value::Null) == &desired(config, k))
        {
            return Ok(false);
        }
        let c = self.client().await;
        let id = current.state.id.as_str();
        let now_str = |k: &str| attr_str(now, k).map(str::to_string);
        match type_name {
            t::VPC => {
                let support = attr_bool(config, "enable_dns_support", true);
                let hostnames = attr_bool(config, "enable_dns_hostnames", true);
                let mut steps: Vec<(VpcAttributeName, bool)> = Vec::new();
                if attr_bool(now, "enable_dns_support", false) != support {
                    steps.push((VpcAttributeName::EnableDnsSupport, support));
                }
                if attr_bool(now, "enable_dns_hostnames", false) != hostnames {
                    steps.push((VpcAttributeName::EnableDnsHostnames, hostnames));
                }
                // Host names need DNS support: enable support first, disable it last.
                if !support {
                    steps.reverse();
                }
                for (attribute, value) in steps {
                    let call = c.modify_vpc_attribute().vpc_id(id);
                    let call = match attribute {
                        VpcAttributeName::EnableDnsSupport => {
                            call.enable_dns_support(bool_value(value))
                        }
                        _ => call.enable_dns_hostnames(bool_value(value)),
                    };
                    call.send()
                        .await
                        .map_err(|e| sdk("ModifyVpcAttribute", e))?;
                }
            }
            t::SUBNET => {
                let want = attr_bool(config, "map_public_ip_on_launch", false);
                if attr_bool(now, "map_public_ip_on_launch", false) != want {
                    c.modify_subnet_attribute()
                        .subnet_id(id)
                        .map_public_ip_on_launch(bool_value(want))
                        .send()
                        .await
                        .map_err(|e| sdk("ModifySubnetAttribute", e))?;
                }
            }
            t::IGW => {
                let want = attr_str(config, "vpc_id");
                let have = now_str("vpc_id");
                if have.as_deref() != want {
                    if let Some(old) = &have {
                        self.detach_gateway(id, old).await?;
                    }
                    if let Some(vpc) = want {
                        already_ok(
                            c.attach_internet_gateway()
                                .internet_gateway_id(id)
                                .vpc_id(vpc)
                                .send()
                                .await
                                .map(|_| ())
                                .map_err(|e| sdk("AttachInternetGateway", e)),
                            &["Resource.AlreadyAssociated"],
                        )?;
                    }
                }
            }
            t::ROUTE_TABLE => {
                let want = attr_str(config, "gateway_id");
                let have = now_str("gateway_id");
                match (have.as_deref(), want) {
                    (None, Some(gw)) => {
                        c.create_route()
                            .route_table_id(id)
                            .destination_cidr_block(DEFAULT_ROUTE)
                            .gateway_id(gw)
                            .send()
                            .await
                            .map_err(|e| sdk("CreateRoute", e))?;
                    }
                    (Some(old), Some(gw)) if old != gw => {
                        c.replace_route()
                            .route_table_id(id)
                            .destination_cidr_block(DEFAULT_ROUTE)
                            .gateway_id(gw)
                            .send()
                            .await
                            .map_err(|e| sdk("ReplaceRoute", e))?;
                    }
                    (Some(_), None) => {
                        gone_ok(
                            c.delete_route()
                                .route_table_id(id)
                                .destination_cidr_block(DEFAULT_ROUTE)
                                .send()
                                .await
                                .map(|_| ())
                                .map_err(|e| sdk("DeleteRoute", e)),
                        )?;
                    }
                    _ => {}
                }
                let want = attr_strings(config, "subnet_ids");
                for (subnet, association) in &current.extra {
                    if !want.contains(subnet) {
                        self.disassociate(association).await?;
                    }
                }
                for subnet in &want {
                    if !current.extra.contains_key(subnet) {
                        already_ok(
                            c.associate_route_table()
                                .route_table_id(id)
                                .subnet_id(subnet)
                                .send()
                                .await
                                .map(|_| ())
                                .map_err(|e| sdk("AssociateRouteTable", e)),
                            &["Resource.AlreadyAssociated"],
                        )?;
                    }
                }
            }
            t::SECURITY_GROUP => {
                let want = attr_strings(config, "ingress_cidrs");
                let have = attr_strings(now, "ingress_cidrs");
                let rule = |cidrs: Vec<&String>| {
                    IpPermission::builder()
                        .ip_protocol("-1")
                        .set_ip_ranges(Some(
                            cidrs
                                .into_iter()
                                .map(|c| IpRange::builder().cidr_ip(c).build())
                                .collect(),
                        ))
                        .build()
                };
                let added: Vec<&String> = want.iter().filter(|c| !have.contains(c)).collect();
                let removed: Vec<&String> = have.iter().filter(|c| !want.contains(c)).collect();
                if !removed.is_empty() {
                    gone_ok(
                        c.revoke_security_group_ingress()
                            .group_id(id)
                            .ip_permissions(rule(removed))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| sdk("RevokeSecurityGroupIngress", e)),
                    )?;
                }
                if !added.is_empty() {
                    already_ok(
                        c.authorize_security_group_ingress()
                            .group_id(id)
                            .ip_permissions(rule(added))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| sdk("AuthorizeSecurityGroupIngress", e)),
                        &["InvalidPermission.Duplicate"],
                    )?;
                }
            }
            _ => {}
        }
        Ok(true)
    }

    async fn detach_gateway(&self, id: &str, vpc: &str) -> Result<(), ProviderError> {
        let r = self
            .client()
            .await
            .detach_internet_gateway()
            .internet_gateway_id(id)
            .vpc_id(vpc)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk("DetachInternetGateway", e));
        already_ok(gone_ok(r), &["Gateway.NotAttached"])
    }

    async fn disassociate(&self, association: &str) -> Result<(), ProviderError> {
        gone_ok(
            self.client()
                .await
                .disassociate_route_table()
                .association_id(association)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk("DisassociateRouteTable", e)),
        )
    }

    // -----------------------------------------------------------------------------------------
    // Waits and deletes.

    /// Deletes the object (detaching and disassociating first where EC2 requires it) and waits
    /// until describes no longer show it. What is already gone is fine.
    pub async fn delete(&self, type_name: &str, id: &str) -> Result<(), ProviderError> {
        let c = self.client().await;
        let r = match type_name {
            t::VPC => c
                .delete_vpc()
                .vpc_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk("DeleteVpc", e)),
            t::SUBNET => c
                .delete_subnet()
                .subnet_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk("DeleteSubnet", e)),
            t::IGW => {
                if let Some(obj) = self.read_one(type_name, id).await?
                    && let Some(vpc) = attr_str(&obj.state.attrs, "vpc_id")
                {
                    self.detach_gateway(id, vpc).await?;
                }
                c.delete_internet_gateway()
                    .internet_gateway_id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk("DeleteInternetGateway", e))
            }
            t::ROUTE_TABLE => {
                if let Some(obj) = self.read_one(type_name, id).await? {
                    for association in obj.extra.values() {
                        self.disassociate(association).await?;
                    }
                }
                c.delete_route_table()
                    .route_table_id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk("DeleteRouteTable", e))
            }
            t::SECURITY_GROUP => c
                .delete_security_group()
                .group_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| sdk("DeleteSecurityGroup", e)),
            other => Err(unknown_type(other)),
        };
        gone_ok(r)
    }
}

#[async_trait::async_trait]
impl Service for Ec2 {
    fn types(&self) -> &'static [&'static str] {
        &t::EC2
    }

    async fn find(
        &self,
        type_name: &str,
        identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError> {
        Ec2::find(self, type_name, identity).await
    }

    async fn create(
        &self,
        type_name: &str,
        identity: &Identity,
        config: &Attrs,
        salt: &str,
    ) -> Result<String, ProviderError> {
        Ec2::create(self, type_name, identity, config, salt).await
    }

    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Obj>>, ProviderError> {
        Ec2::read_many(self, type_name, ids).await
    }

    async fn converge(
        &self,
        type_name: &str,
        current: &Obj,
        config: &Attrs,
    ) -> Result<bool, ProviderError> {
        Ec2::converge(self, type_name, current, config).await
    }

    async fn delete(&self, type_name: &str, id: &str) -> Result<(), ProviderError> {
        Ec2::delete(self, type_name, id).await
    }
}
