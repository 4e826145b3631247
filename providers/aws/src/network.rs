//! The `network` component: one VPC, an internet gateway, one subnet per zone, a route
//! table and a security group (the table is in the crate documentation).

use provider_api::kit::config::Reader;
use provider_api::kit::net;
use provider_api::{Attrs, Binding, Diagnostic, Expansion, NativeSpec, Value};

use crate::ec2;
use crate::settings::Settings;

/// The provider's own checks of a `network`, on top of the portable ones. Unknown values are
/// skipped.
pub fn validate(settings: &Settings, config: &Attrs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(z) = config.get("zones").and_then(Value::as_i64)
        && z as usize > settings.zones.len()
    {
        out.push(
            Diagnostic::error(format!(
                "`zones` is {z}, but the provider knows {} zones of {} ({}); list more in \
                 `zones = [...]` of the `provider \"aws\"` block",
                settings.zones.len(),
                settings.region,
                settings.zones.join(", ")
            ))
            .at(["zones"]),
        );
    }
    if let Some(cidr) = config.get("cidr").and_then(Value::as_str)
        && let Ok(net) = cidr.parse::<ipnet::Ipv4Net>()
        && net.prefix_len() < 16
    {
        out.push(
            Diagnostic::error(format!(
                "`cidr` {cidr:?} is too large for a VPC: AWS accepts /16 to /28"
            ))
            .at(["cidr"]),
        );
    }
    out
}

/// Expands a `network` (table in the crate documentation).
pub fn expand(settings: &Settings, config: &Attrs) -> Result<Expansion, Diagnostic> {
    let c = Reader::new(config);
    let zone_names = net::zones(&c, &settings.region, &settings.zones)?;
    let zones = zone_names.len();
    let cidr = c.value("cidr", "10.0.0.0/16");
    let subnet_cidrs = net::subnet_cidrs(&cidr, zones)?;
    let mut resources = vec![
        NativeSpec::new("vpc", ec2::VPC)
            .set("cidr_block", cidr.clone())
            .set("enable_dns_support", Value::Bool(true))
            .set("enable_dns_hostnames", Value::Bool(true)),
        NativeSpec::new("internet_gateway", ec2::IGW).set("vpc_id", Binding::attr("vpc", "id")),
    ];
    let mut subnet_ids = Vec::new();
    for (i, (zone, subnet_cidr)) in zone_names.iter().zip(subnet_cidrs).enumerate() {
        let name = format!("subnet_{i}");
        resources.push(
            NativeSpec::new(&name, ec2::SUBNET)
                .set("vpc_id", Binding::attr("vpc", "id"))
                .set("cidr_block", subnet_cidr)
                .set("availability_zone", Value::from(zone.as_str()))
                .set("map_public_ip_on_launch", Value::Bool(true)),
        );
        subnet_ids.push(Binding::attr(&name, "id"));
    }
    resources.push(
        NativeSpec::new("route_table", ec2::ROUTE_TABLE)
            .set("vpc_id", Binding::attr("vpc", "id"))
            .set("gateway_id", Binding::attr("internet_gateway", "id"))
            .set("subnet_ids", Binding::List(subnet_ids.clone())),
    );
    resources.push(
        NativeSpec::new("security_group", ec2::SECURITY_GROUP)
            .set("vpc_id", Binding::attr("vpc", "id"))
            .set(
                "description",
                Value::from("ss: all traffic from inside the network"),
            )
            .set("ingress_cidrs", Binding::List(vec![Binding::Value(cidr)])),
    );
    Ok(Expansion {
        resources,
        exports: Expansion::exports(&[
            ("id", Binding::attr("vpc", "id")),
            ("subnet_ids", Binding::List(subnet_ids)),
            (
                "zone_names",
                Binding::Value(Value::List(
                    zone_names.iter().map(|z| Value::from(z.as_str())).collect(),
                )),
            ),
        ]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::default_zones;

    fn settings() -> Settings {
        Settings {
            region: "eu-west-1".into(),
            zones: default_zones("eu-west-1"),
        }
    }

    #[test]
    fn network_has_one_subnet_per_zone_and_is_deterministic() {
        let config = Attrs::from([
            ("cidr".to_string(), Value::from("10.1.0.0/16")),
            ("zones".to_string(), Value::from(3)),
        ]);
        let a = expand(&settings(), &config).expect("expands");
        assert_eq!(a, expand(&settings(), &config).expect("expands"));
        let names: Vec<&str> = a.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "vpc",
                "internet_gateway",
                "subnet_0",
                "subnet_1",
                "subnet_2",
                "route_table",
                "security_group"
            ]
        );
        let subnet = a.get("subnet_2").expect("subnet_2");
        assert_eq!(
            subnet.config["cidr_block"],
            Binding::Value(Value::from("10.1.32.0/20"))
        );
        assert_eq!(
            subnet.config["availability_zone"],
            Binding::Value(Value::from("eu-west-1c"))
        );
        assert_eq!(
            a.exports["zone_names"],
            Binding::Value(Value::List(vec![
                "eu-west-1a".into(),
                "eu-west-1b".into(),
                "eu-west-1c".into()
            ]))
        );
        let rt = a.get("route_table").expect("route table");
        assert!(rt.dependencies().contains("internet_gateway"));
        assert!(rt.dependencies().contains("subnet_0"));
    }

    #[test]
    fn checks() {
        let too_many = Attrs::from([("zones".to_string(), Value::from(7))]);
        assert_eq!(validate(&settings(), &too_many).len(), 1);
        let too_big = Attrs::from([("cidr".to_string(), Value::from("10.0.0.0/8"))]);
        assert_eq!(validate(&settings(), &too_big).len(), 1);
        assert!(crate::split_cidr("10.0.0.0/28", 2).is_err());
        assert_eq!(
            crate::split_cidr("10.0.0.0/24", 6).expect("splits"),
            [
                "10.0.0.0/28",
                "10.0.0.16/28",
                "10.0.0.32/28",
                "10.0.0.48/28",
                "10.0.0.64/28",
                "10.0.0.80/28"
            ]
        );
    }
}
