//! Networks spread over zones: how many zones a `network` asks for, and its address block
//! split into one subnet per zone.

use crate::diag::Diagnostic;

use super::config::Reader;
use crate::value::Value;

/// The zones a `network` component uses: its `zones` count (default 3, known at plan time,
/// at least 1), taken in order from the provider's `available` zones. A cloud without zones
/// (`available` empty) gets the region alone.
pub fn zones(
    c: &Reader<'_>,
    region: &str,
    available: &[String],
) -> Result<Vec<String>, Diagnostic> {
    let wanted = c.known("zones", 3, Value::as_i64)?.max(1) as usize;
    if available.is_empty() {
        return Ok(vec![region.to_string()]);
    }
    if wanted > available.len() {
        return Err(Diagnostic::error(format!(
            "`zones` is {wanted}, but the provider knows {} zones of {region}",
            available.len()
        ))
        .at(["zones"]));
    }
    Ok(available[..wanted].to_vec())
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

/// The ranges of a network's `zones` subnets: `cidr` split by [`split_cidr`]; while `cidr` is
/// unknown (decided at apply time), each subnet's range is unknown too.
pub fn subnet_cidrs(cidr: &Value, zones: usize) -> Result<Vec<Value>, Diagnostic> {
    match cidr.as_str() {
        Some(text) => Ok(split_cidr(text, zones)?
            .into_iter()
            .map(Value::from)
            .collect()),
        None => Ok(vec![Value::Unknown; zones]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Attrs;

    #[test]
    fn splits_with_room_to_grow() {
        assert_eq!(
            split_cidr("10.0.0.0/16", 3).expect("splits"),
            vec!["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"]
        );
        assert_eq!(split_cidr("10.0.0.0/24", 6).expect("splits").len(), 6);
        assert!(split_cidr("10.0.0.0/28", 2).is_err());
        assert!(split_cidr("nonsense", 2).is_err());
    }

    #[test]
    fn subnet_ranges_are_unknown_while_the_block_is() {
        assert_eq!(
            subnet_cidrs(&Value::from("10.0.0.0/16"), 2).expect("splits"),
            vec![Value::from("10.0.0.0/20"), Value::from("10.0.16.0/20")]
        );
        assert_eq!(
            subnet_cidrs(&Value::Unknown, 3).expect("unknown"),
            vec![Value::Unknown; 3]
        );
        assert!(subnet_cidrs(&Value::from("10.0.0.0/28"), 2).is_err());
    }

    #[test]
    fn zones_are_taken_in_order_and_bounded() {
        let available: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let two = Attrs::from([("zones".into(), Value::from(2))]);
        assert_eq!(
            zones(&Reader::new(&two), "r", &available).expect("two"),
            vec!["a", "b"]
        );
        let four = Attrs::from([("zones".into(), Value::from(4))]);
        assert!(zones(&Reader::new(&four), "r", &available).is_err());
        assert_eq!(
            zones(&Reader::new(&four), "r", &[]).expect("regional"),
            vec!["r"]
        );
    }
}
