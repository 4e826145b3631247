//! Every (method, path template) the provider sends, in one table. The paths are those of the
//! published API descriptions (`cloud.json`, `cdn.json`, `auth.json`); a unit test checks each
//! one against them.

/// One API operation: an HTTP method and a path template relative to the API base URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
}

const fn get(path: &'static str) -> Route {
    Route {
        method: "GET",
        path,
    }
}
const fn post(path: &'static str) -> Route {
    Route {
        method: "POST",
        path,
    }
}
const fn put(path: &'static str) -> Route {
    Route {
        method: "PUT",
        path,
    }
}
const fn delete(path: &'static str) -> Route {
    Route {
        method: "DELETE",
        path,
    }
}

pub const AUTH_TIME: Route = get("/auth/time");

pub const OPERATION_GET: Route = get("/cloud/project/{serviceName}/operation/{operationId}");

pub const NETWORK_LIST: Route = get("/cloud/project/{serviceName}/region/{regionName}/network");
pub const NETWORK_CREATE: Route = post("/cloud/project/{serviceName}/region/{regionName}/network");
pub const NETWORK_GET: Route =
    get("/cloud/project/{serviceName}/region/{regionName}/network/{networkId}");
pub const NETWORK_DELETE: Route =
    delete("/cloud/project/{serviceName}/region/{regionName}/network/{networkId}");

pub const SUBNET_LIST: Route =
    get("/cloud/project/{serviceName}/region/{regionName}/network/{networkId}/subnet");
pub const SUBNET_CREATE: Route =
    post("/cloud/project/{serviceName}/region/{regionName}/network/{networkId}/subnet");
pub const SUBNET_GET: Route =
    get("/cloud/project/{serviceName}/region/{regionName}/network/{networkId}/subnet/{subnetId}");
pub const SUBNET_DELETE: Route = delete(
    "/cloud/project/{serviceName}/region/{regionName}/network/{networkId}/subnet/{subnetId}",
);

pub const KUBE_LIST: Route = get("/cloud/project/{serviceName}/kube");
pub const KUBE_CREATE: Route = post("/cloud/project/{serviceName}/kube");
pub const KUBE_GET: Route = get("/cloud/project/{serviceName}/kube/{kubeId}");
pub const KUBE_PUT: Route = put("/cloud/project/{serviceName}/kube/{kubeId}");
pub const KUBE_DELETE: Route = delete("/cloud/project/{serviceName}/kube/{kubeId}");
pub const KUBE_UPDATE: Route = post("/cloud/project/{serviceName}/kube/{kubeId}/update");
pub const KUBE_KUBECONFIG: Route = post("/cloud/project/{serviceName}/kube/{kubeId}/kubeconfig");

pub const NODEPOOL_LIST: Route = get("/cloud/project/{serviceName}/kube/{kubeId}/nodepool");
pub const NODEPOOL_CREATE: Route = post("/cloud/project/{serviceName}/kube/{kubeId}/nodepool");
pub const NODEPOOL_GET: Route =
    get("/cloud/project/{serviceName}/kube/{kubeId}/nodepool/{nodePoolId}");
pub const NODEPOOL_PUT: Route =
    put("/cloud/project/{serviceName}/kube/{kubeId}/nodepool/{nodePoolId}");
pub const NODEPOOL_DELETE: Route =
    delete("/cloud/project/{serviceName}/kube/{kubeId}/nodepool/{nodePoolId}");

pub const PG_LIST: Route = get("/cloud/project/{serviceName}/database/postgresql");
pub const PG_CREATE: Route = post("/cloud/project/{serviceName}/database/postgresql");
pub const PG_GET: Route = get("/cloud/project/{serviceName}/database/postgresql/{clusterId}");
pub const PG_PUT: Route = put("/cloud/project/{serviceName}/database/postgresql/{clusterId}");
pub const PG_DELETE: Route = delete("/cloud/project/{serviceName}/database/postgresql/{clusterId}");

pub const PG_USER_LIST: Route =
    get("/cloud/project/{serviceName}/database/postgresql/{clusterId}/user");
pub const PG_USER_CREATE: Route =
    post("/cloud/project/{serviceName}/database/postgresql/{clusterId}/user");
pub const PG_USER_GET: Route =
    get("/cloud/project/{serviceName}/database/postgresql/{clusterId}/user/{userId}");
pub const PG_USER_DELETE: Route =
    delete("/cloud/project/{serviceName}/database/postgresql/{clusterId}/user/{userId}");
pub const PG_USER_RESET: Route = post(
    "/cloud/project/{serviceName}/database/postgresql/{clusterId}/user/{userId}/credentials/reset",
);

pub const VALKEY_LIST: Route = get("/cloud/project/{serviceName}/database/valkey");
pub const VALKEY_CREATE: Route = post("/cloud/project/{serviceName}/database/valkey");
pub const VALKEY_GET: Route = get("/cloud/project/{serviceName}/database/valkey/{clusterId}");
pub const VALKEY_PUT: Route = put("/cloud/project/{serviceName}/database/valkey/{clusterId}");
pub const VALKEY_DELETE: Route = delete("/cloud/project/{serviceName}/database/valkey/{clusterId}");

pub const VALKEY_USER_LIST: Route =
    get("/cloud/project/{serviceName}/database/valkey/{clusterId}/user");
pub const VALKEY_USER_CREATE: Route =
    post("/cloud/project/{serviceName}/database/valkey/{clusterId}/user");
pub const VALKEY_USER_GET: Route =
    get("/cloud/project/{serviceName}/database/valkey/{clusterId}/user/{userId}");
pub const VALKEY_USER_DELETE: Route =
    delete("/cloud/project/{serviceName}/database/valkey/{clusterId}/user/{userId}");
pub const VALKEY_USER_RESET: Route = post(
    "/cloud/project/{serviceName}/database/valkey/{clusterId}/user/{userId}/credentials/reset",
);

pub const REDIS_LIST: Route = get("/cloud/project/{serviceName}/database/redis");
pub const REDIS_CREATE: Route = post("/cloud/project/{serviceName}/database/redis");
pub const REDIS_GET: Route = get("/cloud/project/{serviceName}/database/redis/{clusterId}");
pub const REDIS_PUT: Route = put("/cloud/project/{serviceName}/database/redis/{clusterId}");
pub const REDIS_DELETE: Route = delete("/cloud/project/{serviceName}/database/redis/{clusterId}");

pub const KUBE_FLAVORS: Route = get("/cloud/project/{serviceName}/capabilities/kube/flavors");
pub const DB_AVAILABILITY: Route = get("/cloud/project/{serviceName}/database/availability");
pub const DB_CAPABILITIES: Route = get("/cloud/project/{serviceName}/database/capabilities");

/// The API's own description of the `/cloud` section, served without authentication. It is
/// not an operation of that description, so it is not in [`ROUTES`]; OVH's control panel reads
/// the Kubernetes versions on offer from its `cloud.kube.VersionEnum` model
/// (`ovh/manager@6e0e20a4:packages/manager/apps/pci-kubernetes/src/api/data/cloud.ts`).
pub const CLOUD_DESCRIPTION: Route = get("/cloud.json");

pub const LB_FLAVOR_LIST: Route =
    get("/cloud/project/{serviceName}/region/{regionName}/loadbalancing/flavor");
pub const LB_LIST: Route =
    get("/cloud/project/{serviceName}/region/{regionName}/loadbalancing/loadbalancer");
pub const LB_CREATE: Route =
    post("/cloud/project/{serviceName}/region/{regionName}/loadbalancing/loadbalancer");
pub const LB_GET: Route = get(
    "/cloud/project/{serviceName}/region/{regionName}/loadbalancing/loadbalancer/{loadBalancerId}",
);
pub const LB_DELETE: Route = delete(
    "/cloud/project/{serviceName}/region/{regionName}/loadbalancing/loadbalancer/{loadBalancerId}",
);

pub const LISTENER_LIST: Route =
    get("/cloud/project/{serviceName}/region/{regionName}/loadbalancing/listener");
pub const LISTENER_CREATE: Route =
    post("/cloud/project/{serviceName}/region/{regionName}/loadbalancing/listener");
pub const LISTENER_GET: Route =
    get("/cloud/project/{serviceName}/region/{regionName}/loadbalancing/listener/{listenerId}");
pub const LISTENER_DELETE: Route =
    delete("/cloud/project/{serviceName}/region/{regionName}/loadbalancing/listener/{listenerId}");

pub const POOL_LIST: Route =
    get("/cloud/project/{serviceName}/region/{regionName}/loadbalancing/pool");
pub const POOL_CREATE: Route =
    post("/cloud/project/{serviceName}/region/{regionName}/loadbalancing/pool");
pub const POOL_GET: Route =
    get("/cloud/project/{serviceName}/region/{regionName}/loadbalancing/pool/{poolId}");
pub const POOL_PUT: Route =
    put("/cloud/project/{serviceName}/region/{regionName}/loadbalancing/pool/{poolId}");
pub const POOL_DELETE: Route =
    delete("/cloud/project/{serviceName}/region/{regionName}/loadbalancing/pool/{poolId}");

pub const MONITOR_LIST: Route =
    get("/cloud/project/{serviceName}/region/{regionName}/loadbalancing/healthMonitor");
pub const MONITOR_CREATE: Route =
    post("/cloud/project/{serviceName}/region/{regionName}/loadbalancing/healthMonitor");
pub const MONITOR_GET: Route = get(
    "/cloud/project/{serviceName}/region/{regionName}/loadbalancing/healthMonitor/{healthMonitorId}",
);
pub const MONITOR_PUT: Route = put(
    "/cloud/project/{serviceName}/region/{regionName}/loadbalancing/healthMonitor/{healthMonitorId}",
);
pub const MONITOR_DELETE: Route = delete(
    "/cloud/project/{serviceName}/region/{regionName}/loadbalancing/healthMonitor/{healthMonitorId}",
);

pub const CDN_DOMAIN_LIST: Route = get("/cdn/dedicated/{serviceName}/domains");
pub const CDN_DOMAIN_CREATE: Route = post("/cdn/dedicated/{serviceName}/domains");
pub const CDN_DOMAIN_GET: Route = get("/cdn/dedicated/{serviceName}/domains/{domain}");
pub const CDN_DOMAIN_PUT: Route = put("/cdn/dedicated/{serviceName}/domains/{domain}");
pub const CDN_DOMAIN_DELETE: Route = delete("/cdn/dedicated/{serviceName}/domains/{domain}");
pub const CDN_BACKEND_LIST: Route = get("/cdn/dedicated/{serviceName}/domains/{domain}/backends");
pub const CDN_BACKEND_CREATE: Route =
    post("/cdn/dedicated/{serviceName}/domains/{domain}/backends");
pub const CDN_BACKEND_GET: Route =
    get("/cdn/dedicated/{serviceName}/domains/{domain}/backends/{ip}");
pub const CDN_BACKEND_DELETE: Route =
    delete("/cdn/dedicated/{serviceName}/domains/{domain}/backends/{ip}");
pub const CDN_RULE_LIST: Route = get("/cdn/dedicated/{serviceName}/domains/{domain}/cacheRules");
pub const CDN_RULE_CREATE: Route = post("/cdn/dedicated/{serviceName}/domains/{domain}/cacheRules");
pub const CDN_RULE_GET: Route =
    get("/cdn/dedicated/{serviceName}/domains/{domain}/cacheRules/{cacheRuleId}");
pub const CDN_RULE_PUT: Route =
    put("/cdn/dedicated/{serviceName}/domains/{domain}/cacheRules/{cacheRuleId}");
pub const CDN_RULE_DELETE: Route =
    delete("/cdn/dedicated/{serviceName}/domains/{domain}/cacheRules/{cacheRuleId}");

/// Every route the provider may send.
pub const ROUTES: &[Route] = &[
    AUTH_TIME,
    OPERATION_GET,
    NETWORK_LIST,
    NETWORK_CREATE,
    NETWORK_GET,
    NETWORK_DELETE,
    SUBNET_LIST,
    SUBNET_CREATE,
    SUBNET_GET,
    SUBNET_DELETE,
    KUBE_LIST,
    KUBE_CREATE,
    KUBE_GET,
    KUBE_PUT,
    KUBE_DELETE,
    KUBE_UPDATE,
    KUBE_KUBECONFIG,
    NODEPOOL_LIST,
    NODEPOOL_CREATE,
    NODEPOOL_GET,
    NODEPOOL_PUT,
    NODEPOOL_DELETE,
    PG_LIST,
    PG_CREATE,
    PG_GET,
    PG_PUT,
    PG_DELETE,
    PG_USER_LIST,
    PG_USER_CREATE,
    PG_USER_GET,
    PG_USER_DELETE,
    PG_USER_RESET,
    VALKEY_LIST,
    VALKEY_CREATE,
    VALKEY_GET,
    VALKEY_PUT,
    VALKEY_DELETE,
    VALKEY_USER_LIST,
    VALKEY_USER_CREATE,
    VALKEY_USER_GET,
    VALKEY_USER_DELETE,
    VALKEY_USER_RESET,
    REDIS_LIST,
    REDIS_CREATE,
    REDIS_GET,
    REDIS_PUT,
    REDIS_DELETE,
    KUBE_FLAVORS,
    DB_AVAILABILITY,
    DB_CAPABILITIES,
    LB_FLAVOR_LIST,
    LB_LIST,
    LB_CREATE,
    LB_GET,
    LB_DELETE,
    LISTENER_LIST,
    LISTENER_CREATE,
    LISTENER_GET,
    LISTENER_DELETE,
    POOL_LIST,
    POOL_CREATE,
    POOL_GET,
    POOL_PUT,
    POOL_DELETE,
    MONITOR_LIST,
    MONITOR_CREATE,
    MONITOR_GET,
    MONITOR_PUT,
    MONITOR_DELETE,
    CDN_DOMAIN_LIST,
    CDN_DOMAIN_CREATE,
    CDN_DOMAIN_GET,
    CDN_DOMAIN_PUT,
    CDN_DOMAIN_DELETE,
    CDN_BACKEND_LIST,
    CDN_BACKEND_CREATE,
    CDN_BACKEND_GET,
    CDN_BACKEND_DELETE,
    CDN_RULE_LIST,
    CDN_RULE_CREATE,
    CDN_RULE_GET,
    CDN_RULE_PUT,
    CDN_RULE_DELETE,
];

impl Route {
    /// The path with each `{name}` replaced by its percent-encoded value.
    pub fn render(&self, params: &[(&str, &str)]) -> String {
        let mut out = String::with_capacity(self.path.len() + 32);
        let mut rest = self.path;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let name = &after[..end];
            match params.iter().find(|(k, _)| *k == name) {
                Some((_, v)) => out.push_str(&encode_segment(v)),
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// Percent-encodes one path segment (RFC 3986 unreserved characters stay as they are).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
