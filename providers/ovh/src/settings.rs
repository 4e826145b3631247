//! What the provider block says about where objects go: the region, its zones and the CDN
//! service.

/// The zones of the known 3-AZ regions. Other regions have none: their networks get one
/// subnet and their clusters one node pool per `node_pool` block.
pub fn region_zones(region: &str) -> Vec<String> {
    let zones: &[&str] = match region {
        "EU-WEST-PAR" => &["eu-west-par-a", "eu-west-par-b", "eu-west-par-c"],
        "EU-SOUTH-MIL" => &["eu-south-mil-a", "eu-south-mil-b", "eu-south-mil-c"],
        _ => &[],
    };
    zones.iter().map(|z| z.to_string()).collect()
}

/// What expansion and the operations need to know of the provider block.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub region: String,
    pub zones: Vec<String>,
    pub cdn_service: Option<String>,
    pub cdn_zone: Option<String>,
}

impl Settings {
    /// Whether the region is a 3-AZ one (it has zones, built in or configured).
    pub fn three_az(&self) -> bool {
        !self.zones.is_empty()
    }
}
