//! The provider's native resource types and their schemas. Ids of objects that live under a
//! parent in the API (a subnet under its network, a node pool under its cluster, a CDN backend
//! or cache rule under its domain) are `PARENT/CHILD`, so a batch read knows which list to ask.

use std::collections::BTreeMap;

use provider_api::schema::{AttrType, AttributeSchema as A, Body, ResourceSchema};

pub const NETWORK: &str = "ovh_cloud_network";
pub const SUBNET: &str = "ovh_cloud_subnet";
pub const KUBE: &str = "ovh_cloud_kube";
pub const NODEPOOL: &str = "ovh_cloud_kube_nodepool";
pub const POSTGRES: &str = "ovh_cloud_database_postgresql";
pub const VALKEY: &str = "ovh_cloud_database_valkey";
pub const LB: &str = "ovh_cloud_loadbalancer";
pub const LISTENER: &str = "ovh_cloud_loadbalancer_listener";
pub const POOL: &str = "ovh_cloud_loadbalancer_pool";
pub const MONITOR: &str = "ovh_cloud_loadbalancer_health_monitor";
pub const CDN_DOMAIN: &str = "ovh_cdn_domain";
pub const CDN_BACKEND: &str = "ovh_cdn_backend";
pub const CDN_RULE: &str = "ovh_cdn_cache_rule";

pub const ALL: [&str; 13] = [
    NETWORK,
    SUBNET,
    KUBE,
    NODEPOOL,
    POSTGRES,
    VALKEY,
    LB,
    LISTENER,
    POOL,
    MONITOR,
    CDN_DOMAIN,
    CDN_BACKEND,
    CDN_RULE,
];

/// Length of deterministic names: OVH accepts longer names for most objects, but node pool
/// and Kubernetes names must be DNS labels.
pub const NAME_LEN: usize = 40;

fn s() -> AttrType {
    AttrType::String
}
fn n() -> AttrType {
    AttrType::Number
}
fn b() -> AttrType {
    AttrType::Bool
}
fn list(t: AttrType) -> AttrType {
    AttrType::List(Box::new(t))
}

fn base() -> Body {
    Body::default()
        .attr("id", A::computed(s(), "Cloud id"))
        .attr(
            "name",
            A::computed(
                s(),
                "Deterministic name derived from the resource's identity",
            ),
        )
}

/// Every native schema, by type name.
pub fn schemas() -> BTreeMap<String, ResourceSchema> {
    ALL.iter().map(|t| (t.to_string(), schema(t))).collect()
}

pub fn schema(type_name: &str) -> ResourceSchema {
    let (description, body) = match type_name {
        NETWORK => (
            "A private network in the provider's region (vRack)",
            base()
                .attr(
                    "vlan_id",
                    A::optional_computed(n(), "vRack VLAN id; chosen by OVH when omitted")
                        .force_new(),
                )
                .attr("region", A::computed(s(), "Region")),
        ),
        SUBNET => (
            "An IPv4 subnet of a private network",
            base()
                .attr(
                    "network_id",
                    A::required(s(), "The private network").force_new(),
                )
                .attr("cidr", A::required(s(), "IPv4 range").force_new())
                .attr(
                    "enable_dhcp",
                    A::optional(b(), "DHCP on the subnet")
                        .default(true)
                        .force_new(),
                )
                .attr(
                    "enable_gateway_ip",
                    A::optional(b(), "Reserve a gateway address")
                        .default(true)
                        .force_new(),
                )
                .attr("subnet_id", A::computed(s(), "OpenStack subnet id"))
                .attr("gateway_ip", A::computed(s(), "Gateway address")),
        ),
        KUBE => (
            "A Managed Kubernetes cluster on a private network",
            base()
                .attr(
                    "network_id",
                    A::required(s(), "Private network of the nodes").force_new(),
                )
                .attr(
                    "nodes_subnet_id",
                    A::optional_computed(
                        s(),
                        "Subnet of the nodes; the network's first subnet when omitted",
                    )
                    .force_new(),
                )
                .attr(
                    "version",
                    A::required(
                        s(),
                        "Kubernetes minor version; upgraded one minor at a time",
                    ),
                )
                .attr(
                    "update_policy",
                    A::optional(s(), "ALWAYS_UPDATE, MINIMAL_DOWNTIME or NEVER_UPDATE")
                        .default("MINIMAL_DOWNTIME"),
                )
                .attr("endpoint", A::computed(s(), "API server URL"))
                .attr(
                    "ca_certificate",
                    A::computed(s(), "API server CA certificate (base64 PEM)"),
                ),
        ),
        NODEPOOL => (
            "An autoscaling node pool of a Managed Kubernetes cluster",
            base()
                .attr("cluster_id", A::required(s(), "The cluster").force_new())
                .attr(
                    "flavor",
                    A::required(s(), "Instance flavor (b3-16, …)").force_new(),
                )
                .attr(
                    "zone",
                    A::optional(s(), "Availability zone (3-AZ regions)").force_new(),
                )
                .attr(
                    "autoscale",
                    A::optional(b(), "Let the autoscaler move between min and max").default(true),
                )
                .attr("min_nodes", A::required(n(), "Fewest nodes"))
                .attr("max_nodes", A::required(n(), "Most nodes")),
        ),
        POSTGRES | VALKEY => (
            if type_name == POSTGRES {
                "A Managed PostgreSQL service"
            } else {
                "A Managed Valkey (Redis-compatible) service"
            },
            {
                let body = base()
                    .attr(
                        "network_id",
                        A::required(s(), "Private network").force_new(),
                    )
                    .attr(
                        "subnet_id",
                        A::optional_computed(
                            s(),
                            "Subnet; the network's first subnet when omitted",
                        )
                        .force_new(),
                    )
                    .attr(
                        "version",
                        A::required(s(), "Engine version; upgraded in place"),
                    )
                    .attr(
                        "plan",
                        A::required(s(), "essential, business or enterprise; changed in place"),
                    )
                    .attr("flavor", A::required(s(), "Node flavor (db1-15, …)"))
                    .attr("nodes", A::required(n(), "Number of nodes"))
                    .attr(
                        "ip_restrictions",
                        A::optional_computed(
                            list(s()),
                            "IPv4 ranges allowed in; the network's subnets when omitted",
                        ),
                    )
                    .attr("endpoint", A::computed(s(), "Primary host name"))
                    .attr("port", A::computed(n(), "Port"))
                    .attr(
                        "reader_endpoints",
                        A::computed(list(s()), "Read-only host names"),
                    );
                if type_name == POSTGRES {
                    body.attr("disk_gb", A::optional(n(), "Disk per node in GB"))
                } else {
                    body.attr(
                        "engine",
                        A::optional(s(), "valkey, or redis where valkey is not offered")
                            .default("valkey")
                            .force_new(),
                    )
                }
            },
        ),
        LB => (
            "An Octavia load balancer on a private network",
            base()
                .attr(
                    "network_id",
                    A::required(s(), "Private network of the VIP").force_new(),
                )
                .attr(
                    "subnet_id",
                    A::optional_computed(
                        s(),
                        "Subnet of the VIP; the network's first when omitted",
                    )
                    .force_new(),
                )
                .attr(
                    "flavor",
                    A::optional(s(), "small, medium, large or xl")
                        .default("small")
                        .force_new(),
                )
                .attr(
                    "public",
                    A::optional(b(), "Attach a new floating IP")
                        .default(true)
                        .force_new(),
                )
                .attr("vip_address", A::computed(s(), "Private VIP"))
                .attr(
                    "floating_ip",
                    A::computed(s(), "Public IP (null when private)"),
                )
                .attr(
                    "dns_name",
                    A::computed(s(), "Address clients use: the floating IP, else the VIP"),
                ),
        ),
        LISTENER => (
            "A listener of an Octavia load balancer",
            base()
                .attr(
                    "loadbalancer_id",
                    A::required(s(), "The load balancer").force_new(),
                )
                .attr("port", A::required(n(), "Port").force_new())
                .attr(
                    "protocol",
                    A::required(s(), "http, https (TLS passthrough), tcp, …").force_new(),
                ),
        ),
        POOL => (
            "A pool of backends behind a listener",
            base()
                .attr("listener_id", A::required(s(), "The listener").force_new())
                .attr(
                    "protocol",
                    A::required(s(), "http, https, tcp, …").force_new(),
                )
                .attr(
                    "algorithm",
                    A::optional(s(), "roundRobin, leastConnections or sourceIP")
                        .default("roundRobin"),
                )
                .attr(
                    "sticky_sessions",
                    A::optional(b(), "Pin clients with an HTTP cookie").default(false),
                ),
        ),
        MONITOR => (
            "How the members of a pool are health-checked",
            base()
                .attr("pool_id", A::required(s(), "The pool").force_new())
                .attr(
                    "monitor_type",
                    A::required(s(), "http, https, tcp, …").force_new(),
                )
                .attr("delay", A::required(n(), "Seconds between probes"))
                .attr("timeout", A::required(n(), "Seconds a probe may take"))
                .attr(
                    "max_retries",
                    A::required(n(), "Successes before a member is healthy"),
                )
                .attr("url_path", A::optional(s(), "HTTP path probed")),
        ),
        CDN_DOMAIN => (
            "A domain served by the CDN dedicated service",
            Body::default()
                .attr("id", A::computed(s(), "The domain"))
                .attr(
                    "domain",
                    A::optional_computed(
                        s(),
                        "Host name served; NAME.`cdn_zone` (the provider setting) when omitted",
                    )
                    .force_new(),
                )
                .attr("cname", A::computed(s(), "CNAME target for the domain")),
        ),
        CDN_BACKEND => (
            "An origin IPv4 address of a CDN domain",
            Body::default()
                .attr("id", A::computed(s(), "DOMAIN/IP"))
                .attr("domain", A::required(s(), "The CDN domain").force_new())
                .attr("ip", A::required(s(), "Origin IPv4 address").force_new()),
        ),
        CDN_RULE => (
            "A cache rule of a CDN domain",
            Body::default()
                .attr("id", A::computed(s(), "DOMAIN/RULE_ID"))
                .attr("domain", A::required(s(), "The CDN domain").force_new())
                .attr(
                    "file_match",
                    A::required(s(), "Folder, file or extension matched").force_new(),
                )
                .attr(
                    "file_type",
                    A::required(s(), "folder, file or extension").force_new(),
                )
                .attr(
                    "cache_type",
                    A::required(s(), "forceCache or noCache").force_new(),
                )
                .attr("ttl", A::required(n(), "Seconds cached; changed in place")),
        ),
        _ => ("", Body::default()),
    };
    ResourceSchema::native(type_name, description, body)
}

pub fn is_native(type_name: &str) -> bool {
    ALL.contains(&type_name)
}
