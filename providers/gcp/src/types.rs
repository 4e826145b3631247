//! The provider's native resource types and their schemas.
//!
//! Ids are the objects' resource names as the APIs write references to them
//! (`projects/P/global/networks/N`, `projects/P/locations/L/clusters/C`, …), so that one object's
//! id can be given to another as a reference without translation; Cloud SQL instances are
//! named by their instance name, users by `INSTANCE/USER`.

use std::collections::BTreeMap;

use provider_api::schema::{AttrType, AttributeSchema as A, Body, ResourceSchema};

pub const NETWORK: &str = "gcp_compute_network";
pub const SUBNETWORK: &str = "gcp_compute_subnetwork";
pub const CLUSTER: &str = "gcp_container_cluster";
pub const NODE_POOL: &str = "gcp_container_node_pool";
pub const SQL_INSTANCE: &str = "gcp_sql_instance";
pub const SQL_USER: &str = "gcp_sql_user";
pub const REDIS: &str = "gcp_redis_cluster";
pub const HEALTH_CHECK: &str = "gcp_compute_health_check";
pub const BACKEND_SERVICE: &str = "gcp_compute_backend_service";
pub const URL_MAP: &str = "gcp_compute_url_map";
pub const HTTP_PROXY: &str = "gcp_compute_target_http_proxy";
pub const FORWARDING_RULE: &str = "gcp_compute_global_forwarding_rule";
pub const CDN: &str = "gcp_compute_backend_service_cdn";
pub const ADDRESS: &str = "gcp_compute_global_address";
pub const SN_CONNECTION: &str = "gcp_service_networking_connection";
pub const SC_POLICY: &str = "gcp_network_connectivity_service_connection_policy";

/// The service class of Memorystore for Redis Cluster's service connection policies.
pub const REDIS_SERVICE_CLASS: &str = "gcp-memorystore-redis";

/// The Cloud CDN cache mode in which the origin's headers decide and no TTL may be sent.
pub const ORIGIN_HEADERS: &str = "USE_ORIGIN_HEADERS";
/// The TTL attributes of [`CDN`] and their defaults outside USE_ORIGIN_HEADERS.
pub const CDN_TTL_DEFAULTS: [(&str, i64); 3] = [
    ("default_ttl", 3600),
    ("max_ttl", 86400),
    ("client_ttl", 3600),
];

pub const ALL: [&str; 16] = [
    NETWORK,
    SUBNETWORK,
    CLUSTER,
    NODE_POOL,
    SQL_INSTANCE,
    SQL_USER,
    REDIS,
    HEALTH_CHECK,
    BACKEND_SERVICE,
    URL_MAP,
    HTTP_PROXY,
    FORWARDING_RULE,
    CDN,
    ADDRESS,
    SN_CONNECTION,
    SC_POLICY,
];

/// Length of deterministic names: GKE cluster and node pool names are at most 40 characters;
/// every other name here allows 63.
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
        .attr(
            "id",
            A::computed(s(), "Resource name (the id other objects refer to)"),
        )
        .attr(
            "name",
            A::computed(
                s(),
                "Deterministic name derived from the resource's identity",
            ),
        )
}

pub fn schemas() -> BTreeMap<String, ResourceSchema> {
    ALL.iter().map(|t| (t.to_string(), schema(t))).collect()
}

pub fn is_native(type_name: &str) -> bool {
    ALL.contains(&type_name)
}

pub fn schema(type_name: &str) -> ResourceSchema {
    let (description, body) = match type_name {
        NETWORK => (
            "A VPC network in custom subnet mode",
            base()
                .attr(
                    "routing_mode",
                    A::optional(s(), "REGIONAL or GLOBAL dynamic routing").default("REGIONAL"),
                )
                .attr("self_link", A::computed(s(), "Full URL")),
        ),
        SUBNETWORK => (
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
        ),
        CLUSTER => (
            "A regional GKE cluster (its default node pool removed: node pools are separate)",
            base()
                .attr("network", A::required(s(), "VPC network").force_new())
                .attr(
                    "subnetwork",
                    A::optional_computed(
                        s(),
                        "Subnetwork of the nodes; the network's subnetwork in the region when omitted",
                    )
                    .force_new(),
                )
                .attr(
                    "version",
                    A::required(s(), "Minimum master version (1.31, …); upgraded in place"),
                )
                .attr("zones", A::computed(list(s()), "Zones of the nodes"))
                .attr("endpoint", A::computed(s(), "API server address"))
                .attr(
                    "ca_certificate",
                    A::computed(s(), "Cluster CA certificate (base64 PEM)"),
                ),
        ),
        NODE_POOL => (
            "An autoscaling node pool of a regional GKE cluster",
            base()
                .attr("cluster", A::required(s(), "The cluster").force_new())
                .attr(
                    "machine_type",
                    A::required(s(), "Machine type (e2-standard-8, …)").force_new(),
                )
                .attr(
                    "min_nodes",
                    A::required(n(), "Fewest nodes in total (all zones)"),
                )
                .attr("max_nodes", A::required(n(), "Most nodes in total (all zones)"))
                .attr(
                    "initial_nodes_per_zone",
                    A::required(n(), "Nodes per zone at creation").force_new(),
                ),
        ),
        SQL_INSTANCE => (
            "A Cloud SQL instance (a primary, or a read replica of one)",
            base()
                .attr(
                    "database_version",
                    A::required(s(), "POSTGRES_16, …").force_new(),
                )
                .attr("tier", A::required(s(), "Machine tier (db-custom-4-15360, …)"))
                .attr("disk_gb", A::optional(n(), "Data disk size in GB; grows in place"))
                .attr(
                    "availability_type",
                    A::optional(s(), "ZONAL, or REGIONAL (a standby in another zone)")
                        .default("ZONAL"),
                )
                .attr(
                    "network",
                    A::required(s(), "VPC network of the private IP").force_new(),
                )
                .attr(
                    "master",
                    A::optional(s(), "Primary instance name: this is its read replica")
                        .force_new(),
                )
                .attr("private_ip", A::computed(s(), "Private IPv4 address"))
                .attr(
                    "connection_name",
                    A::computed(s(), "PROJECT:REGION:INSTANCE"),
                )
                .attr("port", A::computed(n(), "Port")),
        ),
        SQL_USER => (
            "A built-in database user of a Cloud SQL instance",
            Body::default()
                .attr("id", A::computed(s(), "INSTANCE/USER"))
                .attr("instance", A::required(s(), "The instance").force_new())
                .attr("username", A::required(s(), "User name").force_new())
                .attr(
                    "password",
                    A::optional_computed(s(), "Password; generated when omitted")
                        .sensitive()
                        .write_only()
                        .force_new(),
                ),
        ),
        REDIS => (
            "A Memorystore for Redis Cluster instance, spread over the region's zones",
            base()
                .attr("network", A::required(s(), "Consumer VPC network").force_new())
                .attr("shards", A::required(n(), "Shard count; changed in place"))
                .attr(
                    "replicas_per_shard",
                    A::required(n(), "Replicas per shard; changed in place"),
                )
                .attr(
                    "node_type",
                    A::required(s(), "REDIS_HIGHMEM_MEDIUM, …").force_new(),
                )
                .attr(
                    "endpoint",
                    A::computed(s(), "Discovery endpoint address"),
                )
                .attr("port", A::computed(n(), "Discovery endpoint port")),
        ),
        HEALTH_CHECK => (
            "An HTTP health check (global)",
            base()
                .attr("port", A::optional(n(), "Port probed").default(80))
                .attr("path", A::optional(s(), "HTTP path probed").default("/health"))
                .attr(
                    "interval",
                    A::optional(n(), "Seconds between probes").default(30),
                )
                .attr(
                    "timeout",
                    A::optional(n(), "Seconds a probe may take").default(5),
                )
                .attr(
                    "healthy_threshold",
                    A::optional(n(), "Successes to be healthy").default(3),
                ),
        ),
        BACKEND_SERVICE => (
            "A global backend service (external Application Load Balancer)",
            base()
                .attr("health_check", A::required(s(), "The health check"))
                .attr(
                    "session_affinity",
                    A::optional(s(), "NONE, or GENERATED_COOKIE for sticky sessions")
                        .default("NONE"),
                )
                .attr(
                    "timeout_sec",
                    A::optional(n(), "Backend response timeout").default(30),
                ),
        ),
        URL_MAP => (
            "A URL map sending every request to one backend service",
            base().attr("default_service", A::required(s(), "The backend service")),
        ),
        HTTP_PROXY => (
            "A target HTTP proxy",
            base().attr("url_map", A::required(s(), "The URL map").force_new()),
        ),
        FORWARDING_RULE => (
            "A global forwarding rule: the load balancer's public address and port",
            base()
                .attr("target", A::required(s(), "The target proxy").force_new())
                .attr("port", A::required(n(), "Port").force_new())
                .attr("ip_address", A::computed(s(), "Public IPv4 address")),
        ),
        CDN => (
            "Cloud CDN enabled on the backend service behind an origin address",
            Body::default()
                .attr("id", A::computed(s(), "The backend service"))
                .attr(
                    "origin",
                    A::required(
                        s(),
                        "Address of a load balancer of this project (its forwarding rule)",
                    )
                    .force_new(),
                )
                .attr(
                    "cache_mode",
                    A::optional(s(), "CACHE_ALL_STATIC, USE_ORIGIN_HEADERS or FORCE_CACHE_ALL")
                        .default("CACHE_ALL_STATIC"),
                )
                // Their defaults depend on the cache mode (none with USE_ORIGIN_HEADERS): the
                // provider's `plan` applies them (`CDN_TTL_DEFAULTS`).
                .attr(
                    "default_ttl",
                    A::optional(n(), "Seconds (default 3600; none with USE_ORIGIN_HEADERS)"),
                )
                .attr(
                    "max_ttl",
                    A::optional(n(), "Seconds (default 86400; none with USE_ORIGIN_HEADERS)"),
                )
                .attr(
                    "client_ttl",
                    A::optional(n(), "Seconds (default 3600; none with USE_ORIGIN_HEADERS)"),
                )
                .attr(
                    "compression",
                    A::optional(b(), "Dynamic compression (brotli, gzip)").default(true),
                )
                .attr("backend_service", A::computed(s(), "Backend service name"))
                .attr("domain_name", A::computed(s(), "The address clients use")),
        ),
        ADDRESS => (
            "A global internal address range (purpose VPC_PEERING: the range private services \
             access allocates producer subnetworks from)",
            base()
                .attr("network", A::required(s(), "The network").force_new())
                .attr(
                    "purpose",
                    A::optional(s(), "VPC_PEERING").default("VPC_PEERING").force_new(),
                )
                .attr(
                    "prefix_length",
                    A::optional(n(), "Size of the range (16: 65,536 addresses)")
                        .default(16)
                        .force_new(),
                )
                .attr("address", A::computed(s(), "First address of the range")),
        ),
        SN_CONNECTION => (
            "The private services access connection of a network (servicenetworking.googleapis.com): \
             a peering to Google's producer network, needed by Cloud SQL private IP",
            Body::default()
                .attr(
                    "id",
                    A::computed(s(), "services/servicenetworking.googleapis.com/NETWORK"),
                )
                .attr("network", A::required(s(), "The consumer network").force_new())
                .attr(
                    "reserved_peering_ranges",
                    A::required(list(s()), "Names of VPC_PEERING global addresses").force_new(),
                )
                .attr("peering", A::computed(s(), "Name of the VPC peering")),
        ),
        SC_POLICY => (
            "A service connection policy: lets a service class (Memorystore for Redis Cluster) \
             create Private Service Connect endpoints on a network",
            base()
                .attr("network", A::required(s(), "The consumer network").force_new())
                .attr(
                    "service_class",
                    A::optional(s(), "The producer's service class")
                        .default(REDIS_SERVICE_CLASS)
                        .force_new(),
                )
                .attr(
                    "subnetworks",
                    A::required(list(s()), "Subnetworks the endpoints take addresses from")
                        .force_new(),
                ),
        ),
        _ => ("", Body::default()),
    };
    ResourceSchema::native(type_name, description, body)
}
