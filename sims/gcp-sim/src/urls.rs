//! The base URL of each API the simulator serves, and of its token endpoint.

use serde_json::{Value, json};

use crate::discovery::Api;

/// The base URL of each API and the token URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Urls {
    pub sqladmin: String,
    pub redis: String,
    pub container: String,
    /// Without `/compute/v1` (requests carry it).
    pub compute: String,
    /// The full token URL (`…/token`).
    pub token: String,
    pub servicenetworking: String,
    pub networkconnectivity: String,
}

impl Urls {
    /// The JSON object the binary prints first.
    pub fn to_json(&self) -> Value {
        json!({
            "sqladmin": self.sqladmin,
            "redis": self.redis,
            "container": self.container,
            "compute": self.compute,
            "token": self.token,
            "servicenetworking": self.servicenetworking,
            "networkconnectivity": self.networkconnectivity,
        })
    }

    /// The base URL of an API.
    pub fn of(&self, api: Api) -> &str {
        match api {
            Api::Sqladmin => &self.sqladmin,
            Api::Redis => &self.redis,
            Api::Container => &self.container,
            Api::Compute => &self.compute,
            Api::Servicenetworking => &self.servicenetworking,
            Api::Networkconnectivity => &self.networkconnectivity,
        }
    }
}
