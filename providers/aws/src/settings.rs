//! What expansion and validation need to know of the provider block.

/// The region and the zones a network's subnets are spread over.
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
