//! Compute Engine's network objects: VPC networks, their regional subnetworks, and the
//! global internal address ranges private services access allocates from.

use provider_api::kit::config::{attr_bool, attr_i64};
use provider_api::kit::schema::{b, n, s};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{Attrs, Value};
use serde_json::{Value as Json, json};

use crate::compute::{Resource, collection};
use crate::json::{cfg_str, last, num, reference, text};
use crate::types::base;

pub const NETWORK: &str = "gcp_compute_network";
pub const SUBNETWORK: &str = "gcp_compute_subnetwork";
pub const ADDRESS: &str = "gcp_compute_global_address";

/// `gcp_compute_network`.
pub struct Network;
collection!(
    Network = NETWORK,
    networks,
    Network,
    "networks",
    global,
    set_network,
    patch
);

impl Resource for Network {
    fn schema() -> ResourceSchema {
        ResourceSchema::native(
            NETWORK,
            "A VPC network in custom subnet mode",
            base()
                .attr(
                    "routing_mode",
                    A::optional(s(), "REGIONAL or GLOBAL dynamic routing").default("REGIONAL"),
                )
                .attr("self_link", A::computed(s(), "Full URL")),
        )
    }

    fn body(config: &Attrs) -> Json {
        json!({
            "autoCreateSubnetworks": false,
            "routingConfig": {"routingMode": cfg_str(config, "routing_mode")},
        })
    }

    fn attrs(o: &Json) -> Vec<(&'static str, Value)> {
        vec![
            ("routing_mode", text(&o["routingConfig"]["routingMode"])),
            ("self_link", text(&o["selfLink"])),
        ]
    }
}

/// `gcp_compute_subnetwork`.
pub struct Subnetwork;
collection!(
    Subnetwork = SUBNETWORK,
    subnetworks,
    Subnetwork,
    "subnetworks",
    regional,
    set_subnetwork,
    patch
);

impl Resource for Subnetwork {
    fn schema() -> ResourceSchema {
        ResourceSchema::native(
            SUBNETWORK,
            "A regional subnetwork of a VPC network, in the provider's region",
            base()
                .attr("network", A::required(s(), "The network").force_new())
                .attr("cidr", A::required(s(), "Primary IPv4 range").force_new())
                .attr(
                    "private_ip_google_access",
                    A::optional(b(), "Reach Google APIs without external IPs")
                        .default(true)
                        .force_new(),
                )
                .attr("region", A::computed(s(), "Region"))
                .attr("gateway_address", A::computed(s(), "Gateway IPv4 address")),
        )
    }

    fn body(config: &Attrs) -> Json {
        json!({
            "network": cfg_str(config, "network"),
            "ipCidrRange": cfg_str(config, "cidr"),
            "privateIpGoogleAccess": attr_bool(config, "private_ip_google_access", true),
        })
    }

    fn attrs(o: &Json) -> Vec<(&'static str, Value)> {
        vec![
            ("network", reference(&o["network"])),
            ("cidr", text(&o["ipCidrRange"])),
            (
                "private_ip_google_access",
                Value::from(o["privateIpGoogleAccess"].as_bool().unwrap_or(false)),
            ),
            (
                "region",
                Value::from(last(o["region"].as_str().unwrap_or_default())),
            ),
            ("gateway_address", text(&o["gatewayAddress"])),
        ]
    }
}

/// `gcp_compute_global_address`: no `patch` in the API, so replaced on every change.
pub struct GlobalAddress;
collection!(
    GlobalAddress = ADDRESS,
    addresses,
    Address,
    "addresses",
    global,
    set_address
);

impl Resource for GlobalAddress {
    fn schema() -> ResourceSchema {
        ResourceSchema::native(
            ADDRESS,
            "A global internal address range (purpose VPC_PEERING: the range private services \
             access allocates producer subnetworks from)",
            base()
                .attr("network", A::required(s(), "The network").force_new())
                .attr(
                    "purpose",
                    A::optional(s(), "VPC_PEERING")
                        .default("VPC_PEERING")
                        .force_new(),
                )
                .attr(
                    "prefix_length",
                    A::optional(n(), "Size of the range (16: 65,536 addresses)")
                        .default(16)
                        .force_new(),
                )
                .attr("address", A::computed(s(), "First address of the range")),
        )
    }

    // No `address`: Google picks a free range of that size.
    fn body(config: &Attrs) -> Json {
        json!({
            "network": cfg_str(config, "network"),
            "purpose": cfg_str(config, "purpose"),
            "addressType": "INTERNAL",
            "prefixLength": attr_i64(config, "prefix_length", 16),
        })
    }

    fn attrs(o: &Json) -> Vec<(&'static str, Value)> {
        vec![
            ("network", reference(&o["network"])),
            ("purpose", text(&o["purpose"])),
            ("prefix_length", num(&o["prefixLength"])),
            ("address", text(&o["address"])),
        ]
    }
}
