//! How each portable component becomes AWS native resources, and the provider's own checks.
//! The table is in the crate documentation (`lib.rs`).

use provider_api::component;
use provider_api::{Attrs, Binding, Diagnostic, Expansion, NativeSpec, Value};

use crate::types;

/// What expansion needs to know of the provider block.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub region: String,
    /// The zone names a network's subnets are spread over, in order.
    pub zones: Vec<String>,
}

/// The zone names assumed for a region when the provider block names none: the region name
/// followed by `a`…`f`. Expansion must be a pure function of configuration, so the names are
/// not asked of AWS here; the first subnet create checks them against
/// `DescribeAvailabilityZones` and names the real ones when they differ.
pub fn default_zones(region: &str) -> Vec<String> {
    ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|l| format!("{region}{l}"))
        .collect()
}

/// The provider's own checks, on top of the portable ones. Unknown values are skipped.
pub fn validate(settings: &Settings, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match type_name {
        component::KUBERNETES_CLUSTER => return crate::eks::validate(settings, config),
        component::POSTGRES => return crate::rds::validate(settings, config),
        component::REDIS_CLUSTER => return crate::elasticache::validate(settings, config),
        component::LOAD_BALANCER => return crate::elbv2::validate(settings, config),
        component::CDN => return crate::cloudfront::validate(settings, config),
        _ => {}
    }
    if type_name == component::NETWORK {
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
    }
    out
}

/// A configured value, or `default` when it is absent or null.
pub(crate) fn value(config: &Attrs, key: &str, default: impl Into<Value>) -> Value {
    match config.get(key) {
        Some(v) if !v.is_null() => v.clone(),
        _ => default.into(),
    }
}

/// Expands a portable component; `None` when `type_name` is not one this provider offers.
pub fn expand(
    settings: &Settings,
    type_name: &str,
    config: &Attrs,
) -> Option<Result<Expansion, Vec<Diagnostic>>> {
    match type_name {
        component::NETWORK => Some(network(settings, config).map_err(|d| vec![d])),
        component::KUBERNETES_CLUSTER => Some(crate::eks::expand(settings, config)),
        component::POSTGRES => Some(crate::rds::expand(settings, config)),
        component::REDIS_CLUSTER => Some(crate::elasticache::expand(settings, config)),
        component::LOAD_BALANCER => Some(crate::elbv2::expand(settings, config)),
        component::CDN => Some(crate::cloudfront::expand(settings, config)),
        _ => None,
    }
}

/// Splits `cidr` into `zones` subnets: 4 more prefix bits (room for 16 subnets, so adding
/// zones later keeps the existing ranges), more when there are more zones, at most /28.
pub fn split_cidr(cidr: &str, zones: usize) -> Result<Vec<String>, Diagnostic> {
    let net: ipnet::Ipv4Net = cidr.parse().map_err(|_| {
        Diagnostic::error(format!("`cidr` {cidr:?} is not a valid IPv4 CIDR block")).at(["cidr"])
    })?;
    let bits = (zones as u32).next_power_of_two().trailing_zeros() as u8;
    let prefix = (net.prefix_len() + bits.max(4)).min(28);
    let subnets: Vec<String> = net
        .trunc()
        .subnets(prefix)
        .map_err(|_| Diagnostic::error("cannot split `cidr`").at(["cidr"]))?
        .take(zones)
        .map(|s| s.to_string())
        .collect();
    if subnets.len() < zones {
        return Err(Diagnostic::error(format!(
            "`cidr` {cidr:?} is too small for {zones} subnets of at least /28"
        ))
        .at(["cidr"]));
    }
    Ok(subnets)
}

fn network(settings: &Settings, config: &Attrs) -> Result<Expansion, Diagnostic> {
    let zones_value = value(config, "zones", 3);
    if zones_value.is_unknown() {
        return Err(Diagnostic::error(
            "`zones` decides how many resources are created, so it must be known at plan time",
        )
        .at(["zones"]));
    }
    let zones = zones_value
        .as_i64()
        .ok_or_else(|| Diagnostic::error("`zones` must be a whole number").at(["zones"]))?
        .max(1) as usize;
    if zones > settings.zones.len() {
        return Err(Diagnostic::error(format!(
            "`zones` is {zones}, but the provider knows {} zones of {}",
            settings.zones.len(),
            settings.region
        ))
        .at(["zones"]));
    }
    let zone_names = &settings.zones[..zones];
    let cidr = value(config, "cidr", "10.0.0.0/16");
    let subnet_cidrs: Vec<Value> = match cidr.as_str() {
        Some(text) => split_cidr(text, zones)?
            .into_iter()
            .map(Value::from)
            .collect(),
        // Unknown until apply: each subnet's range is unknown too (and decided then).
        None => vec![Value::Unknown; zones],
    };
    let mut resources = vec![
        NativeSpec::new("vpc", types::VPC)
            .set("cidr_block", cidr.clone())
            .set("enable_dns_support", Value::Bool(true))
            .set("enable_dns_hostnames", Value::Bool(true)),
        NativeSpec::new("internet_gateway", types::IGW).set("vpc_id", Binding::attr("vpc", "id")),
    ];
    let mut subnet_ids = Vec::new();
    for (i, (zone, subnet_cidr)) in zone_names.iter().zip(subnet_cidrs).enumerate() {
        let name = format!("subnet_{i}");
        resources.push(
            NativeSpec::new(&name, types::SUBNET)
                .set("vpc_id", Binding::attr("vpc", "id"))
                .set("cidr_block", subnet_cidr)
                .set("availability_zone", Value::from(zone.as_str()))
                .set("map_public_ip_on_launch", Value::Bool(true)),
        );
        subnet_ids.push(Binding::attr(&name, "id"));
    }
    resources.push(
        NativeSpec::new("route_table", types::ROUTE_TABLE)
            .set("vpc_id", Binding::attr("vpc", "id"))
            .set("gateway_id", Binding::attr("internet_gateway", "id"))
            .set("subnet_ids", Binding::List(subnet_ids.clone())),
    );
    resources.push(
        NativeSpec::new("security_group", types::SECURITY_GROUP)
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
        let a = network(&settings(), &config).expect("expands");
        assert_eq!(a, network(&settings(), &config).expect("expands"));
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
        assert_eq!(
            validate(&settings(), component::NETWORK, &too_many).len(),
            1
        );
        let too_big = Attrs::from([("cidr".to_string(), Value::from("10.0.0.0/8"))]);
        assert_eq!(validate(&settings(), component::NETWORK, &too_big).len(), 1);
        assert!(split_cidr("10.0.0.0/28", 2).is_err());
        assert_eq!(
            split_cidr("10.0.0.0/24", 6).expect("splits"),
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
