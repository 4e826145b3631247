//! The provider's native resource types and their schemas.

use std::collections::BTreeMap;

use provider_api::schema::{AttrType, AttributeSchema as A, Body, ResourceSchema};

pub const VPC: &str = "aws_vpc";
pub const SUBNET: &str = "aws_subnet";
pub const IGW: &str = "aws_internet_gateway";
pub const ROUTE_TABLE: &str = "aws_route_table";
pub const SECURITY_GROUP: &str = "aws_security_group";

/// The types of the `ec2` module.
pub const EC2: [&str; 5] = [VPC, SUBNET, IGW, ROUTE_TABLE, SECURITY_GROUP];

/// Every native type, in module order.
pub fn all() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = EC2.to_vec();
    for module in MODULES {
        out.extend_from_slice(module.types);
    }
    out
}

/// The native types, schemas and set-like attributes of a service module other than EC2.
pub struct Module {
    pub types: &'static [&'static str],
    /// Description and body of one of `types`.
    pub schema: fn(&str) -> Option<(&'static str, Body)>,
    /// List attributes whose order carries no meaning (sorted by reads and plans alike).
    pub set_like: fn(&str) -> &'static [&'static str],
}

/// The service modules besides EC2.
pub const MODULES: [Module; 7] = [
    crate::iam::MODULE,
    crate::eks::MODULE,
    crate::secrets::MODULE,
    crate::rds::MODULE,
    crate::elasticache::MODULE,
    crate::elbv2::MODULE,
    crate::cloudfront::MODULE,
];

/// Length of deterministic names (the `Name` tag, security group names). EC2 accepts 255;
/// 64 keeps them readable in the console.
pub const NAME_LEN: usize = 64;

pub fn s() -> AttrType {
    AttrType::String
}
pub fn n() -> AttrType {
    AttrType::Number
}
pub fn b() -> AttrType {
    AttrType::Bool
}
pub fn list(t: AttrType) -> AttrType {
    AttrType::List(Box::new(t))
}

/// The attributes every type has: the computed `id` and `name`.
pub fn base() -> Body {
    Body::default()
        .attr("id", A::computed(s(), "Cloud id"))
        .attr(
            "name",
            A::computed(
                s(),
                "Deterministic name (the `Name` tag) derived from the resource's identity",
            ),
        )
}

/// Every native schema, by type name.
pub fn schemas() -> BTreeMap<String, ResourceSchema> {
    all().iter().map(|t| (t.to_string(), schema(t))).collect()
}

/// List attributes whose order carries no meaning: the provider sorts them (reads and plans
/// alike) so that a re-plan never shows a reordering as a change.
pub fn set_like(type_name: &str) -> &'static [&'static str] {
    match type_name {
        ROUTE_TABLE => &["subnet_ids"],
        SECURITY_GROUP => &["ingress_cidrs"],
        other => MODULES
            .iter()
            .find(|m| m.types.contains(&other))
            .map(|m| (m.set_like)(other))
            .unwrap_or(&[]),
    }
}

pub fn schema(type_name: &str) -> ResourceSchema {
    let (description, body) = match type_name {
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
                        .default(provider_api::Value::List(Vec::new())),
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
                        .default(provider_api::Value::List(Vec::new())),
                ),
        ),
        other => MODULES
            .iter()
            .find_map(|m| (m.schema)(other))
            .unwrap_or(("", Body::default())),
    };
    ResourceSchema::native(type_name, description, body)
}
