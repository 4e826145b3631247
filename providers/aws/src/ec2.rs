//! The EC2 calls behind each native type: creates tagged with the resource's identity, lookups
//! by tag, batched describes, in-place convergence, readiness and deletion waits.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    AttachmentStatus, AttributeBooleanValue, Filter, InternetGateway, IpPermission, IpRange,
    RouteTable, RouteTableAssociationStateCode, SecurityGroup, Subnet, SubnetState, Tag,
    TagSpecification, VpcAttributeName, VpcState,
};
use provider_api::CreateRequest;
use provider_api::kit::config::{attr_bool, attr_set as attr_strings, attr_str};
use provider_api::kit::schema::{b, list, s};
use provider_api::kit::{Lifecycle, Obj, read_one};
use provider_api::schema::{AttributeSchema as A, Body};
use provider_api::{Attrs, Identity, ProviderError, Value};
use tokio::sync::OnceCell;

use crate::error::{Sent, sdk};
use crate::shared::{
    LazyClient, Shared, TAG_ADDRESS, TAG_MANAGED, TAG_STACK, already_ok, gone_ok,
    identity_tag_pairs, need_str, opt, strings, unknown_type,
};
use crate::types::{Module, NAME_LEN, base};

pub const VPC: &str = "aws_vpc";
pub const SUBNET: &str = "aws_subnet";
pub const IGW: &str = "aws_internet_gateway";
pub const ROUTE_TABLE: &str = "aws_route_table";
pub const SECURITY_GROUP: &str = "aws_security_group";

/// The native types of this module, their schemas and set-like attributes.
pub const MODULE: Module = Module {
    types: &[VPC, SUBNET, IGW, ROUTE_TABLE, SECURITY_GROUP],
    schema,
    set_like,
};

fn schema(type_name: &str) -> Option<(&'static str, Body)> {
    Some(match type_name {
        VPC => (
            "A VPC",
            base()
                .attr(
                    "cidr_block",
                    A::required(s(), "IPv4 range, /16 to /28").force_new(),
                )
                .attr(
                    "enable_dns_support",
                    A::optional(b(), "Amazon DNS server in the VPC").default(true),
                )
                .attr(
                    "enable_dns_hostnames",
                    A::optional(b(), "DNS host names for instances with public IPs").default(true),
                ),
        ),
        SUBNET => (
            "A subnet of a VPC in one availability zone",
            base()
                .attr("vpc_id", A::required(s(), "The VPC").force_new())
                .attr(
                    "cidr_block",
                    A::required(s(), "IPv4 range inside the VPC's").force_new(),
                )
                .attr(
                    "availability_zone",
                    A::required(s(), "Availability zone name, like eu-west-1a").force_new(),
                )
                .attr(
                    "map_public_ip_on_launch",
                    A::optional(b(), "Give instances launched here a public IPv4 address")
                        .default(false),
                ),
        ),
        IGW => (
            "An internet gateway, attached to a VPC",
            base().attr(
                "vpc_id",
                A::optional(s(), "The VPC it is attached to (detached when null)"),
            ),
        ),
        ROUTE_TABLE => (
            "A route table with an optional default route (0.0.0.0/0) to an internet gateway, \
             associated with subnets",
            base()
                .attr("vpc_id", A::required(s(), "The VPC").force_new())
                .attr(
                    "gateway_id",
                    A::optional(
                        s(),
                        "Target of the default route 0.0.0.0/0 (none when null)",
                    ),
                )
                .attr(
                    "subnet_ids",
                    A::optional(list(s()), "Subnets associated with the table")
                        .default(Value::List(Vec::new())),
                ),
        ),
        SECURITY_GROUP => (
            "A VPC security group allowing all traffic from the given ranges (egress open)",
            base()
                .attr("vpc_id", A::required(s(), "The VPC").force_new())
                .attr(
                    "description",
                    A::optional(s(), "Description")
                        .default("Managed by ss")
                        .force_new(),
                )
                .attr(
                    "ingress_cidrs",
                    A::optional(list(s()), "IPv4 ranges allowed in, all protocols and ports")
                        .default(Value::List(Vec::new())),
                ),
        ),
        _ => return None,
    })
}

fn set_like(type_name: &str) -> &'static [&'static str] {
    match type_name {
        ROUTE_TABLE => &["subnet_ids"],
        SECURITY_GROUP => &["ingress_cidrs"],
        _ => &[],
    }
}

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
    identity_tag_pairs(identity, NAME_LEN)
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

/// The attributes changed in place (by `converge`).
fn in_place(type_name: &str) -> &'static [&'static str] {
    match type_name {
        VPC => &["enable_dns_support", "enable_dns_hostnames"],
        SUBNET => &["map_public_ip_on_launch"],
        IGW => &["vpc_id"],
        ROUTE_TABLE => &["gateway_id", "subnet_ids"],
        SECURITY_GROUP => &["ingress_cidrs"],
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
        VPC => "vpc-id",
        SUBNET => "subnet-id",
        IGW => "internet-gateway-id",
        ROUTE_TABLE => "route-table-id",
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

/// A subnet as read.
fn subnet_obj(s: &Subnet) -> Option<Obj> {
    let id = s.subnet_id()?;
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
    Some(Obj::new(
        id,
        attrs,
        s.state() == Some(&SubnetState::Available),
    ))
}

/// An internet gateway as read: ready when attached (or detached on purpose).
fn gateway_obj(g: &InternetGateway) -> Option<Obj> {
    let id = g.internet_gateway_id()?;
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
    Some(Obj::new(id, attrs, ready))
}

/// A route table as read, with subnet id → association id in `extra`.
fn route_table_obj(r: &RouteTable) -> Option<Obj> {
    let id = r.route_table_id()?;
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
    let mut obj = Obj::new(id, attrs, true);
    obj.extra = associations;
    Some(obj)
}

/// A security group as read: only `-1` (all protocols) ingress rules are its `ingress_cidrs`.
fn security_group_obj(g: &SecurityGroup) -> Option<Obj> {
    let id = g.group_id()?;
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
    Some(Obj::new(id, attrs, true))
}

/// The ingress rule allowing all traffic from `cidrs`.
fn all_traffic_from(cidrs: Vec<&String>) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("-1")
        .set_ip_ranges(Some(
            cidrs
                .into_iter()
                .map(|c| IpRange::builder().cidr_ip(c).build())
                .collect(),
        ))
        .build()
}

/// The EC2 operations, on a client built at the first call.
#[derive(Debug)]
pub struct Ec2 {
    client: LazyClient<Client>,
    /// The zones `DescribeAvailabilityZones` lists, asked once.
    zones: OnceCell<Vec<String>>,
}

impl Ec2 {
    pub fn new(shared: Arc<Shared>) -> Ec2 {
        Ec2 {
            client: LazyClient::new(shared),
            zones: OnceCell::new(),
        }
    }

    async fn client(&self) -> &Client {
        crate::client!(aws_sdk_ec2, &self.client)
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
        let subnets = crate::all_items!(
            "DescribeSubnets",
            self.client()
                .await
                .describe_subnets()
                .filters(filter("vpc-id", [vpc_id.to_string()]))
                .filters(filter(&format!("tag:{TAG_MANAGED}"), ["true".to_string()]))
        )?;
        let mut out: Vec<(String, String)> = subnets
            .iter()
            .filter_map(|s| {
                Some((
                    s.subnet_id()?.to_string(),
                    s.availability_zone()?.to_string(),
                ))
            })
            .collect();
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
        let filters = Some(filters);
        Ok(match type_name {
            VPC => return self.describe_vpcs(filters).await,
            SUBNET => {
                crate::all_items!("DescribeSubnets", c.describe_subnets().set_filters(filters))?
                    .iter()
                    .filter_map(subnet_obj)
                    .collect()
            }
            IGW => crate::all_items!(
                "DescribeInternetGateways",
                c.describe_internet_gateways().set_filters(filters)
            )?
            .iter()
            .filter_map(gateway_obj)
            .collect(),
            ROUTE_TABLE => crate::all_items!(
                "DescribeRouteTables",
                c.describe_route_tables().set_filters(filters)
            )?
            .iter()
            .filter_map(route_table_obj)
            .collect(),
            SECURITY_GROUP => crate::all_items!(
                "DescribeSecurityGroups",
                c.describe_security_groups().set_filters(filters)
            )?
            .iter()
            .filter_map(security_group_obj)
            .collect(),
            other => return Err(unknown_type(other)),
        })
    }

    /// VPCs with their DNS attributes (a VPC deleted between the two calls is left out).
    async fn describe_vpcs(&self, filters: Option<Vec<Filter>>) -> Result<Vec<Obj>, ProviderError> {
        let vpcs = crate::all_items!(
            "DescribeVpcs",
            self.client().await.describe_vpcs().set_filters(filters)
        )?;
        let mut out = Vec::new();
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
            out.push(Obj::new(id, attrs, v.state() == Some(&VpcState::Available)));
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
                self.client.shared.region,
                zones.join(", ")
            )))
        }
    }

    // -----------------------------------------------------------------------------------------
    // Convergence: the in-place settings, from what the object is now to the configuration.

    /// The DNS attributes: host names need DNS support, so support is enabled first and
    /// disabled last.
    async fn converge_vpc(
        &self,
        id: &str,
        now: &Attrs,
        config: &Attrs,
    ) -> Result<(), ProviderError> {
        let support = attr_bool(config, "enable_dns_support", true);
        let hostnames = attr_bool(config, "enable_dns_hostnames", true);
        let mut steps: Vec<(VpcAttributeName, bool)> = Vec::new();
        if attr_bool(now, "enable_dns_support", false) != support {
            steps.push((VpcAttributeName::EnableDnsSupport, support));
        }
        if attr_bool(now, "enable_dns_hostnames", false) != hostnames {
            steps.push((VpcAttributeName::EnableDnsHostnames, hostnames));
        }
        if !support {
            steps.reverse();
        }
        let c = self.client().await;
        for (attribute, value) in steps {
            let call = c.modify_vpc_attribute().vpc_id(id);
            let call = match attribute {
                VpcAttributeName::EnableDnsSupport => call.enable_dns_support(bool_value(value)),
                _ => call.enable_dns_hostnames(bool_value(value)),
            };
            call.send()
                .await
                .map_err(|e| sdk("ModifyVpcAttribute", e))?;
        }
        Ok(())
    }

    async fn converge_subnet(
        &self,
        id: &str,
        now: &Attrs,
        config: &Attrs,
    ) -> Result<(), ProviderError> {
        let want = attr_bool(config, "map_public_ip_on_launch", false);
        if attr_bool(now, "map_public_ip_on_launch", false) != want {
            self.client()
                .await
                .modify_subnet_attribute()
                .subnet_id(id)
                .map_public_ip_on_launch(bool_value(want))
                .send()
                .await
                .map_err(|e| sdk("ModifySubnetAttribute", e))?;
        }
        Ok(())
    }

    /// The attachment: detached from the VPC it has, attached to the configured one.
    async fn converge_gateway(
        &self,
        id: &str,
        now: &Attrs,
        config: &Attrs,
    ) -> Result<(), ProviderError> {
        let want = attr_str(config, "vpc_id");
        let have = attr_str(now, "vpc_id");
        if have == want {
            return Ok(());
        }
        if let Some(old) = have {
            self.detach_gateway(id, old).await?;
        }
        if let Some(vpc) = want {
            already_ok(
                self.client()
                    .await
                    .attach_internet_gateway()
                    .internet_gateway_id(id)
                    .vpc_id(vpc)
                    .send()
                    .await
                    .sent("AttachInternetGateway"),
                &["Resource.AlreadyAssociated"],
            )?;
        }
        Ok(())
    }

    /// The default route, then the subnet associations.
    async fn converge_route_table(
        &self,
        current: &Obj,
        config: &Attrs,
    ) -> Result<(), ProviderError> {
        let c = self.client().await;
        let id = current.state.id.as_str();
        let want = attr_str(config, "gateway_id");
        match (attr_str(&current.state.attrs, "gateway_id"), want) {
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
                        .sent("DeleteRoute"),
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
                        .sent("AssociateRouteTable"),
                    &["Resource.AlreadyAssociated"],
                )?;
            }
        }
        Ok(())
    }

    /// The all-traffic ingress rules: revokes the ranges no longer wanted, authorizes the new.
    async fn converge_security_group(
        &self,
        id: &str,
        now: &Attrs,
        config: &Attrs,
    ) -> Result<(), ProviderError> {
        let c = self.client().await;
        let want = attr_strings(config, "ingress_cidrs");
        let have = attr_strings(now, "ingress_cidrs");
        let added: Vec<&String> = want.iter().filter(|c| !have.contains(c)).collect();
        let removed: Vec<&String> = have.iter().filter(|c| !want.contains(c)).collect();
        if !removed.is_empty() {
            gone_ok(
                c.revoke_security_group_ingress()
                    .group_id(id)
                    .ip_permissions(all_traffic_from(removed))
                    .send()
                    .await
                    .sent("RevokeSecurityGroupIngress"),
            )?;
        }
        if !added.is_empty() {
            already_ok(
                c.authorize_security_group_ingress()
                    .group_id(id)
                    .ip_permissions(all_traffic_from(added))
                    .send()
                    .await
                    .sent("AuthorizeSecurityGroupIngress"),
                &["InvalidPermission.Duplicate"],
            )?;
        }
        Ok(())
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
            .sent("DetachInternetGateway");
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
                .sent("DisassociateRouteTable"),
        )
    }
}

#[async_trait]
impl Lifecycle for Ec2 {
    fn types(&self) -> &'static [&'static str] {
        MODULE.types
    }

    /// The object made for `identity`, by its tags (one describe).
    async fn find(
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

    /// Sends the create call; answers the new object's id. Settings that EC2 does not take at
    /// create time are left to `converge`.
    async fn create(&self, req: &CreateRequest<'_>, salt: &str) -> Result<String, ProviderError> {
        let (type_name, identity, config) = (req.type_name, req.identity, req.config);
        use aws_sdk_ec2::types::ResourceType as R;
        let c = self.client().await;
        let missing = |what: &str| ProviderError::Other(format!("{what} answered no id"));
        match type_name {
            VPC => c
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
            SUBNET => {
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
            IGW => c
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
            ROUTE_TABLE => {
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
            SECURITY_GROUP => c
                .create_security_group()
                .group_name(identity.name(NAME_LEN))
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

    /// Reads objects by id: one describe per 200 ids, filtered (a filter, unlike the id
    /// parameters, does not fail the whole call when one id no longer exists).
    async fn read_many(
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

    /// Brings the in-place settings of an existing object to `config`, changing only what
    /// differs (so it is safe to repeat, and after an adoption).
    async fn converge(
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
        let id = current.state.id.as_str();
        match type_name {
            VPC => self.converge_vpc(id, now, config).await?,
            SUBNET => self.converge_subnet(id, now, config).await?,
            IGW => self.converge_gateway(id, now, config).await?,
            ROUTE_TABLE => self.converge_route_table(current, config).await?,
            SECURITY_GROUP => self.converge_security_group(id, now, config).await?,
            _ => {}
        }
        Ok(true)
    }

    /// Deletes the object (detaching and disassociating first where EC2 requires it); the kit
    /// then waits until describes no longer show it. What is already gone is fine.
    async fn delete(&self, type_name: &str, id: &str) -> Result<(), ProviderError> {
        let c = self.client().await;
        let r = match type_name {
            VPC => c.delete_vpc().vpc_id(id).send().await.sent("DeleteVpc"),
            SUBNET => c
                .delete_subnet()
                .subnet_id(id)
                .send()
                .await
                .sent("DeleteSubnet"),
            IGW => {
                if let Some(obj) = read_one(self, type_name, id).await?
                    && let Some(vpc) = attr_str(&obj.state.attrs, "vpc_id")
                {
                    self.detach_gateway(id, vpc).await?;
                }
                c.delete_internet_gateway()
                    .internet_gateway_id(id)
                    .send()
                    .await
                    .sent("DeleteInternetGateway")
            }
            ROUTE_TABLE => {
                if let Some(obj) = read_one(self, type_name, id).await? {
                    for association in obj.extra.values() {
                        self.disassociate(association).await?;
                    }
                }
                c.delete_route_table()
                    .route_table_id(id)
                    .send()
                    .await
                    .sent("DeleteRouteTable")
            }
            SECURITY_GROUP => c
                .delete_security_group()
                .group_id(id)
                .send()
                .await
                .sent("DeleteSecurityGroup"),
            other => Err(unknown_type(other)),
        };
        gone_ok(r)
    }

    /// A client token still remembered by EC2 for a table deleted since answers the deleted
    /// table's id: the create is sent again under a fresh token.
    fn recreate_if_vanished(&self, type_name: &str) -> bool {
        type_name == ROUTE_TABLE
    }
}
