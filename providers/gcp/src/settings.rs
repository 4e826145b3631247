//! What every part of the provider needs to know of the provider block: the project, the
//! region and its zones.

/// The provider block's project, region and zones.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub project: String,
    pub region: String,
    pub zones: Vec<String>,
}

impl Settings {
    /// `projects/P/locations/R`: the parent of GKE clusters, Redis clusters and service
    /// connection policies.
    pub fn location(&self) -> String {
        format!("projects/{}/locations/{}", self.project, self.region)
    }
}

/// Zone letters of regions whose zones are not `a`, `b`, `c` (Compute Engine's zone list:
/// europe-west1 has no zone a, us-east1 none either).
const REGION_ZONE_LETTERS: [(&str, &str); 2] = [("europe-west1", "bcd"), ("us-east1", "bcd")];

/// The zones of a region as GKE and Memorystore place them, unless the provider block lists
/// them: the region's first three zones, `REGION-a`, `-b`, `-c` for the regions not in
/// [`REGION_ZONE_LETTERS`].
pub fn region_zones(region: &str) -> Vec<String> {
    let letters = REGION_ZONE_LETTERS
        .iter()
        .find(|(r, _)| *r == region)
        .map_or("abc", |(_, l)| *l);
    letters.chars().map(|z| format!("{region}-{z}")).collect()
}
