//! The operations on each native type: request bodies (built from the API models' writable
//! fields only), lookups by deterministic name, batched reads, readiness waits.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use provider_api::{Attrs, ProviderError, ResourceState, Value};
use serde_json::{Value as Json, json};
use tokio::sync::OnceCell;

use crate::client::Client;
use crate::expand::{Settings, k8s_minor};
use crate::routes::{self as r, Route};
use crate::types as t;

/// Bounds of the pause between two polls of an object that is not ready yet.
const MIN_POLL: Duration = Duration::from_millis(100);
const MAX_POLL: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Ops {
    pub client: Client,
    pub project: String,
    pub settings: Settings,
    pub ready_timeout: Duration,
    lb_flavors: OnceCell<Vec<(String, String)>>,
}

/// Where an object is in its lifecycle.
#[derive(Debug, PartialEq, Eq)]
pub enum Phase {
    Ready,
    Pending(String),
    Failed(String),
}

fn attr_str<'a>(config: &'a Attrs, k: &str) -> Option<&'a str> {
    config.get(k).and_then(Value::as_str)
}

fn need_str<'a>(config: &'a Attrs, k: &str) -> Result<&'a str, ProviderError> {
    attr_str(config, k).ok_or_else(|| ProviderError::Invalid(format!("`{k}` is required")))
}

fn attr_i64(config: &Attrs, k: &str) -> Option<i64> {
    config.get(k).and_then(Value::as_i64)
}

fn need_i64(config: &Attrs, k: &str) -> Result<i64, ProviderError> {
    attr_i64(config, k)
        .ok_or_else(|| ProviderError::Invalid(format!("`{k}` must be a whole number")))
}

fn attr_bool(config: &Attrs, k: &str, default: bool) -> bool {
    config.get(k).and_then(Value::as_bool).unwrap_or(default)
}

fn js<'a>(j: &'a Json, k: &str) -> Option<&'a str> {
    j.get(k).and_then(Json::as_str)
}

fn jv(j: &Json, k: &str) -> Value {
    j.get(k).map(Value::from_json).unwrap_or(Value::Null)
}

fn jstr(j: &Json, k: &str) -> Value {
    js(j, k).map(Value::from).unwrap_or(Value::Null)
}

/// Splits a `PARENT/CHILD` id.
pub fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once('/')
        .ok_or_else(|| ProviderError::Invalid(format!("id {id:?} is not PARENT/CHILD")))
}

fn not_found_is_none<T>(r: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(ProviderError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn list(j: Json) -> Vec<Json> {
    match j {
        Json::Array(items) => items,
        _ => Vec::new(),
    }
}

/// The `id` of a create's answer.
fn answer_id<'a>(j: &'a Json, what: &str) -> Result<&'a str, ProviderError> {
    js(j, "id").ok_or_else(|| ProviderError::Other(format!("the {what} answer has no id")))
}

fn id_text(j: &Json) -> Option<String> {
    match j {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The routes of one native type by verb (`put` where the API can change an object in place),
/// and the path parameters its id fills: one, or a parent's and a child's for a
/// `PARENT/CHILD` id.
#[derive(Clone, Copy, Debug)]
struct TypeRoutes {
    list: Route,
    create: Route,
    get: Route,
    put: Option<Route>,
    delete: Route,
    id_params: &'static [&'static str],
}

/// The routes of a database engine (`postgresql`, `redis`, else `valkey`).
#[rustfmt::skip]
fn engine_routes(engine: &str) -> TypeRoutes {
    use r::*;
    let (list, create, get, put, delete) = match engine {
        "postgresql" => (PG_LIST,     PG_CREATE,     PG_GET,     PG_PUT,     PG_DELETE),
        "redis"      => (REDIS_LIST,  REDIS_CREATE,  REDIS_GET,  REDIS_PUT,  REDIS_DELETE),
        _            => (VALKEY_LIST, VALKEY_CREATE, VALKEY_GET, VALKEY_PUT, VALKEY_DELETE),
    };
    TypeRoutes { list, create, get, put: Some(put), delete, id_params: &["clusterId"] }
}

/// The routes of every type but the databases, whose routes depend on the engine: list,
/// create, get, put (where an object can be changed in place), delete, and the path parameters
/// an id fills.
#[rustfmt::skip]
fn type_routes(type_name: &str) -> Result<TypeRoutes, ProviderError> {
    use r::*;
    let (list, create, get, put, delete, id_params): (_, _, _, _, _, &'static [&'static str]) =
        match type_name {
            t::NETWORK     => (NETWORK_LIST,     NETWORK_CREATE,     NETWORK_GET,     None,                 NETWORK_DELETE,     &["networkId"]),
            t::SUBNET      => (SUBNET_LIST,      SUBNET_CREATE,      SUBNET_GET,      None,                 SUBNET_DELETE,      &["networkId", "subnetId"]),
            t::KUBE        => (KUBE_LIST,        KUBE_CREATE,        KUBE_GET,        Some(KUBE_PUT),       KUBE_DELETE,        &["kubeId"]),
            t::NODEPOOL    => (NODEPOOL_LIST,    NODEPOOL_CREATE,    NODEPOOL_GET,    Some(NODEPOOL_PUT),   NODEPOOL_DELETE,    &["kubeId", "nodePoolId"]),
            t::LB          => (LB_LIST,          LB_CREATE,          LB_GET,          None,                 LB_DELETE,          &["loadBalancerId"]),
            t::LISTENER    => (LISTENER_LIST,    LISTENER_CREATE,    LISTENER_GET,    None,                 LISTENER_DELETE,    &["listenerId"]),
            t::POOL        => (POOL_LIST,        POOL_CREATE,        POOL_GET,        Some(POOL_PUT),       POOL_DELETE,        &["poolId"]),
            t::MONITOR     => (MONITOR_LIST,     MONITOR_CREATE,     MONITOR_GET,     Some(MONITOR_PUT),    MONITOR_DELETE,     &["healthMonitorId"]),
            t::CDN_DOMAIN  => (CDN_DOMAIN_LIST,  CDN_DOMAIN_CREATE,  CDN_DOMAIN_GET,  Some(CDN_DOMAIN_PUT), CDN_DOMAIN_DELETE,  &["domain"]),
            t::CDN_BACKEND => (CDN_BACKEND_LIST, CDN_BACKEND_CREATE, CDN_BACKEND_GET, None,                 CDN_BACKEND_DELETE, &["domain", "ip"]),
            t::CDN_RULE    => (CDN_RULE_LIST,    CDN_RULE_CREATE,    CDN_RULE_GET,    Some(CDN_RULE_PUT),   CDN_RULE_DELETE,    &["domain", "cacheRuleId"]),
            other => return Err(ProviderError::Invalid(format!("unknown type {other}"))),
        };
    Ok(TypeRoutes { list, create, get, put, delete, id_params })
}

/// A database id is the service uuid; a Valkey service on the Redis engine is `redis/UUID`.
fn db_parts<'a>(type_name: &str, id: &'a str) -> (String, &'a str) {
    if type_name == t::POSTGRES {
        return ("postgresql".into(), id);
    }
    match id.split_once('/') {
        Some((engine, uuid)) => (engine.to_string(), uuid),
        None => ("valkey".into(), id),
    }
}

/// Path parameters by name (`{kubeId}` → the id).
type Params<'a> = Vec<(&'static str, &'a str)>;

/// The routes of an object's type and the path parameters its id fills.
fn object<'a>(type_name: &str, id: &'a str) -> Result<(TypeRoutes, Params<'a>), ProviderError> {
    let (routes, id) = match type_name {
        t::POSTGRES | t::VALKEY => {
            let (engine, uuid) = db_parts(type_name, id);
            (engine_routes(&engine), uuid)
        }
        _ => (type_routes(type_name)?, id),
    };
    let params = match routes.id_params {
        &[parent, child] => {
            let (p, c) = split_id(id)?;
            vec![(parent, p), (child, c)]
        }
        keys => keys.iter().map(|&k| (k, id)).collect(),
    };
    Ok((routes, params))
}

fn db_engine(type_name: &str, config: &Attrs) -> String {
    if type_name == t::POSTGRES {
        "postgresql".into()
    } else {
        attr_str(config, "engine").unwrap_or("valkey").to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Request bodies: pure functions, checked against the API models by the tests.

pub fn network_body(name: &str, config: &Attrs) -> Json {
    let mut b = json!({ "name": name });
    if let Some(v) = attr_i64(config, "vlan_id") {
        b["vlanId"] = json!(v);
    }
    b
}

pub fn subnet_body(name: &str, config: &Attrs) -> Result<Json, ProviderError> {
    Ok(json!({
        "name": name,
        "cidr": need_str(config, "cidr")?,
        "enableDhcp": attr_bool(config, "enable_dhcp", true),
        "enableGatewayIp": attr_bool(config, "enable_gateway_ip", true),
        "ipVersion": 4,
    }))
}

pub fn kube_body(
    name: &str,
    region: &str,
    config: &Attrs,
    subnet_id: Option<&str>,
) -> Result<Json, ProviderError> {
    let mut b = json!({
        "name": name,
        "region": region,
        "version": need_str(config, "version")?,
        "privateNetworkId": need_str(config, "network_id")?,
        "updatePolicy": attr_str(config, "update_policy").unwrap_or("MINIMAL_DOWNTIME"),
    });
    if let Some(s) = subnet_id {
        b["nodesSubnetId"] = json!(s);
    }
    Ok(b)
}

pub fn nodepool_body(name: &str, config: &Attrs) -> Result<Json, ProviderError> {
    let min = need_i64(config, "min_nodes")?;
    let max = need_i64(config, "max_nodes")?;
    let mut b = json!({
        "name": name,
        "flavorName": need_str(config, "flavor")?,
        "autoscale": attr_bool(config, "autoscale", true),
        "minNodes": min,
        "maxNodes": max,
        "desiredNodes": min.max(1).min(max),
    });
    if let Some(zone) = attr_str(config, "zone") {
        b["availabilityZones"] = json!([zone]);
    }
    Ok(b)
}

pub fn nodepool_update_body(
    config: &Attrs,
    current_desired: Option<i64>,
) -> Result<Json, ProviderError> {
    let min = need_i64(config, "min_nodes")?;
    let max = need_i64(config, "max_nodes")?;
    Ok(json!({
        "autoscale": attr_bool(config, "autoscale", true),
        "minNodes": min,
        "maxNodes": max,
        "desiredNodes": current_desired.unwrap_or(min).clamp(min, max.max(min)),
    }))
}

fn ip_restrictions(cidrs: &[String]) -> Json {
    Json::Array(
        cidrs
            .iter()
            .map(|c| json!({ "ip": c, "description": "ss: private network" }))
            .collect(),
    )
}

/// A database body with the configured disk size, if any.
fn with_disk(mut b: Json, config: &Attrs) -> Json {
    if let Some(gb) = attr_i64(config, "disk_gb") {
        b["disk"] = json!({ "size": gb });
    }
    b
}

pub fn db_body(
    name: &str,
    region: &str,
    config: &Attrs,
    subnet_id: &str,
    allowed: &[String],
) -> Result<Json, ProviderError> {
    let b = json!({
        "description": name,
        "plan": need_str(config, "plan")?,
        "version": need_str(config, "version")?,
        "nodesPattern": {
            "flavor": need_str(config, "flavor")?,
            "number": need_i64(config, "nodes")?,
            "region": region,
        },
        "networkId": need_str(config, "network_id")?,
        "subnetId": subnet_id,
        "ipRestrictions": ip_restrictions(allowed),
    });
    Ok(with_disk(b, config))
}

pub fn db_update_body(
    name: &str,
    config: &Attrs,
    allowed: &[String],
) -> Result<Json, ProviderError> {
    let b = json!({
        "description": name,
        "plan": need_str(config, "plan")?,
        "version": need_str(config, "version")?,
        "flavor": need_str(config, "flavor")?,
        "nodeNumber": need_i64(config, "nodes")?,
        "ipRestrictions": ip_restrictions(allowed),
    });
    Ok(with_disk(b, config))
}

pub fn lb_body(
    name: &str,
    flavor_id: &str,
    config: &Attrs,
    subnet_id: &str,
) -> Result<Json, ProviderError> {
    let mut private = json!({
        "network": { "id": need_str(config, "network_id")?, "subnetId": subnet_id },
    });
    if attr_bool(config, "public", true) {
        private["floatingIpCreate"] = json!({ "description": name });
    }
    Ok(json!({
        "name": name,
        "flavorId": flavor_id,
        "network": { "private": private },
    }))
}

pub fn listener_body(name: &str, config: &Attrs) -> Result<Json, ProviderError> {
    Ok(json!({
        "name": name,
        "loadbalancerId": need_str(config, "loadbalancer_id")?,
        "port": need_i64(config, "port")?,
        "protocol": need_str(config, "protocol")?,
    }))
}

fn persistence(config: &Attrs) -> Json {
    if attr_bool(config, "sticky_sessions", false) {
        json!({ "type": "httpCookie" })
    } else {
        json!({ "type": "disabled" })
    }
}

pub fn pool_body(name: &str, config: &Attrs) -> Result<Json, ProviderError> {
    Ok(json!({
        "name": name,
        "listenerId": need_str(config, "listener_id")?,
        "protocol": need_str(config, "protocol")?,
        "algorithm": attr_str(config, "algorithm").unwrap_or("roundRobin"),
        "sessionPersistence": persistence(config),
    }))
}

pub fn pool_update_body(config: &Attrs) -> Json {
    json!({
        "algorithm": attr_str(config, "algorithm").unwrap_or("roundRobin"),
        "sessionPersistence": persistence(config),
    })
}

fn http_configuration(config: &Attrs) -> Option<Json> {
    let kind = attr_str(config, "monitor_type")?;
    (kind == "http" || kind == "https").then(|| {
        json!({
            "httpMethod": "GET",
            "urlPath": attr_str(config, "url_path").unwrap_or("/"),
            "expectedCodes": "200",
        })
    })
}

pub fn monitor_body(name: &str, config: &Attrs) -> Result<Json, ProviderError> {
    let mut b = json!({
        "name": name,
        "poolId": need_str(config, "pool_id")?,
        "monitorType": need_str(config, "monitor_type")?,
        "delay": need_i64(config, "delay")?,
        "timeout": need_i64(config, "timeout")?,
        "maxRetries": need_i64(config, "max_retries")?,
    });
    if let Some(h) = http_configuration(config) {
        b["httpConfiguration"] = h;
    }
    Ok(b)
}

pub fn monitor_update_body(config: &Attrs) -> Result<Json, ProviderError> {
    let mut b = json!({
        "delay": need_i64(config, "delay")?,
        "timeout": need_i64(config, "timeout")?,
        "maxRetries": need_i64(config, "max_retries")?,
    });
    if let Some(h) = http_configuration(config) {
        b["httpConfiguration"] = h;
    }
    Ok(b)
}

pub fn cache_rule_body(config: &Attrs) -> Result<Json, ProviderError> {
    Ok(json!({
        "cacheType": need_str(config, "cache_type")?,
        "fileMatch": need_str(config, "file_match")?,
        "fileType": need_str(config, "file_type")?,
        "ttl": need_i64(config, "ttl")?,
    }))
}

// ---------------------------------------------------------------------------------------------
// Readiness.

pub fn phase(type_name: &str, j: &Json) -> Phase {
    let status = |k: &str| js(j, k).unwrap_or("").to_string();
    match type_name {
        t::NETWORK => match status("status").as_str() {
            "ACTIVE" => Phase::Ready,
            "ERROR" => Phase::Failed("ERROR".into()),
            s => Phase::Pending(s.into()),
        },
        t::KUBE | t::NODEPOOL => match status("status").as_str() {
            "READY" => Phase::Ready,
            s if s == "ERROR" || s.starts_with("USER_") => Phase::Failed(s.into()),
            s => Phase::Pending(s.into()),
        },
        t::POSTGRES | t::VALKEY => match status("status").as_str() {
            "READY" => Phase::Ready,
            "ERROR" => Phase::Failed("ERROR".into()),
            s => Phase::Pending(s.into()),
        },
        t::LB | t::LISTENER | t::POOL | t::MONITOR => match status("provisioningStatus").as_str() {
            "active" => Phase::Ready,
            "error" => Phase::Failed("error".into()),
            s => Phase::Pending(s.into()),
        },
        t::CDN_DOMAIN | t::CDN_RULE => match status("status").as_str() {
            "on" | "off" | "" => Phase::Ready,
            "error" => Phase::Failed("error".into()),
            s => Phase::Pending(s.into()),
        },
        _ => Phase::Ready,
    }
}

/// The CA certificate in a kubeconfig (`certificate-authority-data`).
pub fn kubeconfig_ca(content: &str) -> Option<String> {
    content.lines().find_map(|l| {
        l.trim()
            .strip_prefix("certificate-authority-data:")
            .map(|v| v.trim().trim_matches('"').to_string())
    })
}

fn endpoints<'a>(j: &'a Json, component: &str) -> Vec<&'a Json> {
    j.get("endpoints")
        .and_then(Json::as_array)
        .map(|e| {
            e.iter()
                .filter(|x| js(x, "component") == Some(component))
                .collect()
        })
        .unwrap_or_default()
}

impl Ops {
    pub fn new(
        client: Client,
        project: String,
        settings: Settings,
        ready_timeout: Duration,
    ) -> Ops {
        Ops {
            client,
            project,
            settings,
            ready_timeout,
            lb_flavors: OnceCell::new(),
        }
    }

    fn region(&self) -> &str {
        &self.settings.region
    }

    fn cdn_service(&self) -> Result<&str, ProviderError> {
        self.settings.cdn_service.as_deref().ok_or_else(|| {
            ProviderError::Invalid("`cdn_service` is not set in the provider block".into())
        })
    }

    pub(crate) async fn call(
        &self,
        route: Route,
        extra: &[(&str, &str)],
        body: Option<&Json>,
    ) -> Result<Json, ProviderError> {
        let mut params: Vec<(&str, &str)> = vec![
            ("serviceName", self.project.as_str()),
            ("regionName", self.region()),
        ];
        if route.path.starts_with("/cdn/") {
            params[0] = ("serviceName", self.cdn_service()?);
        }
        params.extend_from_slice(extra);
        self.client.call(route, &params, &[], body).await
    }

    /// Waits for an OVH operation to complete; answers its `resourceId`.
    async fn wait_operation(&self, op: &Json) -> Result<Option<String>, ProviderError> {
        let Some(id) = js(op, "id").map(str::to_string) else {
            return Ok(js(op, "resourceId").map(str::to_string));
        };
        let start = Instant::now();
        let mut pause = MIN_POLL;
        let mut current = op.clone();
        loop {
            match js(&current, "status").unwrap_or("") {
                "completed" => return Ok(js(&current, "resourceId").map(str::to_string)),
                s @ ("in-error" | "canceled") => {
                    return Err(ProviderError::Other(format!(
                        "operation {id} ({}) ended {s}",
                        js(&current, "action").unwrap_or("?")
                    )));
                }
                _ => {}
            }
            if start.elapsed() >= self.ready_timeout {
                return Err(ProviderError::Timeout(format!(
                    "operation {id} not completed after {:?}",
                    self.ready_timeout
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause.mul_f64(1.5)).min(MAX_POLL);
            current = self
                .call(r::OPERATION_GET, &[("operationId", &id)], None)
                .await?;
        }
    }

    /// The raw object behind an id, `None` when it does not exist.
    async fn get_raw(&self, type_name: &str, id: &str) -> Result<Option<Json>, ProviderError> {
        let (routes, params) = object(type_name, id)?;
        not_found_is_none(self.call(routes.get, &params, None).await)
    }

    /// Sends a change to an object in place.
    async fn put(&self, type_name: &str, id: &str, body: &Json) -> Result<Json, ProviderError> {
        let (routes, params) = object(type_name, id)?;
        let put = routes.put.ok_or_else(|| {
            ProviderError::Invalid(format!("a {type_name} cannot be changed in place"))
        })?;
        self.call(put, &params, Some(body)).await
    }

    /// Polls until the object is ready, with growing pauses, within `ready_timeout`.
    pub async fn wait_ready(&self, type_name: &str, id: &str) -> Result<(), ProviderError> {
        let start = Instant::now();
        let mut pause = MIN_POLL;
        loop {
            let obj = self.get_raw(type_name, id).await?.ok_or_else(|| {
                ProviderError::NotFound(format!(
                    "{type_name} {id} disappeared while waiting for it to become ready"
                ))
            })?;
            match phase(type_name, &obj) {
                Phase::Ready => return Ok(()),
                Phase::Failed(s) => {
                    return Err(ProviderError::Other(format!(
                        "{type_name} {id} is in status {s}"
                    )));
                }
                Phase::Pending(s) => {
                    if start.elapsed() >= self.ready_timeout {
                        return Err(ProviderError::Timeout(format!(
                            "{type_name} {id} not ready after {:?} (still {s})",
                            self.ready_timeout
                        )));
                    }
                }
            }
            tokio::time::sleep(pause).await;
            pause = pause.mul_f64(1.5).min(MAX_POLL);
        }
    }

    /// Polls until the object is gone.
    async fn wait_gone(&self, type_name: &str, id: &str) -> Result<(), ProviderError> {
        let start = Instant::now();
        let mut pause = MIN_POLL;
        while self.get_raw(type_name, id).await?.is_some() {
            if start.elapsed() >= self.ready_timeout {
                return Err(ProviderError::Timeout(format!(
                    "{type_name} {id} still exists after {:?}",
                    self.ready_timeout
                )));
            }
            tokio::time::sleep(pause).await;
            pause = pause.mul_f64(1.5).min(MAX_POLL);
        }
        Ok(())
    }

    async fn subnets_of(&self, network_id: &str) -> Result<Vec<Json>, ProviderError> {
        Ok(list(
            self.call(r::SUBNET_LIST, &[("networkId", network_id)], None)
                .await?,
        ))
    }

    /// The subnet to use when none is configured: the network's subnet with the lowest CIDR.
    async fn first_subnet(&self, network_id: &str) -> Result<String, ProviderError> {
        let mut subnets = self.subnets_of(network_id).await?;
        subnets.sort_by(|a, b| js(a, "cidr").cmp(&js(b, "cidr")));
        subnets
            .first()
            .and_then(|s| js(s, "id"))
            .map(str::to_string)
            .ok_or_else(|| {
                ProviderError::Invalid(format!("private network {network_id} has no subnet"))
            })
    }

    /// The configured `subnet_id`, else the network's first subnet.
    async fn configured_subnet(&self, config: &Attrs, net: &str) -> Result<String, ProviderError> {
        match attr_str(config, "subnet_id") {
            Some(s) => Ok(s.to_string()),
            None => self.first_subnet(net).await,
        }
    }

    /// The id of the object an operation created: its `resourceId`, else found by name.
    async fn created_by(
        &self,
        op: &Json,
        type_name: &str,
        name: &str,
        what: &str,
    ) -> Result<String, ProviderError> {
        match self.wait_operation(op).await? {
            Some(id) => Ok(id),
            None => self.lookup(type_name, name, None).await?.ok_or_else(|| {
                ProviderError::Other(format!("{what} {name} not found after creation"))
            }),
        }
    }

    async fn lb_flavor_id(&self, name: &str) -> Result<String, ProviderError> {
        let flavors = self
            .lb_flavors
            .get_or_try_init(|| async {
                let all = list(self.call(r::LB_FLAVOR_LIST, &[], None).await?);
                Ok::<_, ProviderError>(
                    all.iter()
                        .filter_map(|f| {
                            Some((js(f, "id")?.to_string(), js(f, "name")?.to_string()))
                        })
                        .collect(),
                )
            })
            .await?;
        flavors
            .iter()
            .find(|(_, n)| n == name)
            .map(|(id, _)| id.clone())
            .ok_or_else(|| {
                ProviderError::Invalid(format!(
                    "no load balancer flavor {name:?} in region {}",
                    self.region()
                ))
            })
    }

    /// The name of a load balancer flavor id; `None` when the region lists no such flavor.
    /// A failure to list the flavors is an error: guessing would show a changed flavor.
    async fn lb_flavor_name(&self, id: &str) -> Result<Option<String>, ProviderError> {
        if self.lb_flavors.get().is_none() {
            match self.lb_flavor_id("").await {
                Ok(_) | Err(ProviderError::Invalid(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self
            .lb_flavors
            .get()
            .and_then(|all| all.iter().find(|(i, _)| i == id))
            .map(|(_, n)| n.clone()))
    }

    /// The CDN domain a `ovh_cdn_domain` is created under.
    pub fn cdn_domain_name(&self, name: &str, config: &Attrs) -> Result<String, ProviderError> {
        if let Some(d) = attr_str(config, "domain") {
            return Ok(d.to_string());
        }
        let zone = self.settings.cdn_zone.as_deref().ok_or_else(|| {
            ProviderError::Invalid("`cdn_zone` is not set in the provider block".into())
        })?;
        Ok(format!("{name}.{}", zone.trim_matches('.')))
    }

    // -----------------------------------------------------------------------------------------
    // Lookups by deterministic name.

    /// Finds the object a create for `name` would make. `config` narrows the search to the
    /// parent when the type lives under one; without it every parent is searched.
    pub async fn lookup(
        &self,
        type_name: &str,
        name: &str,
        config: Option<&Attrs>,
    ) -> Result<Option<String>, ProviderError> {
        let by_name = |items: Vec<Json>, key: &str| {
            items
                .into_iter()
                .find(|i| js(i, key) == Some(name))
                .and_then(|i| i.get("id").and_then(id_text))
        };
        Ok(match type_name {
            t::NETWORK | t::LB | t::LISTENER | t::POOL | t::MONITOR => {
                let route = type_routes(type_name)?.list;
                by_name(list(self.call(route, &[], None).await?), "name")
            }
            t::SUBNET => {
                let networks: Vec<String> = match config.and_then(|c| attr_str(c, "network_id")) {
                    Some(n) => vec![n.to_string()],
                    None => list(self.call(r::NETWORK_LIST, &[], None).await?)
                        .iter()
                        .filter_map(|n| js(n, "id").map(str::to_string))
                        .collect(),
                };
                for net in networks {
                    let subs = not_found_is_none(self.subnets_of(&net).await)?.unwrap_or_default();
                    if let Some(id) = by_name(subs, "name") {
                        return Ok(Some(format!("{net}/{id}")));
                    }
                }
                None
            }
            t::KUBE => {
                for id in self.kube_ids().await? {
                    if let Some(k) = self.get_raw(t::KUBE, &id).await?
                        && js(&k, "name") == Some(name)
                    {
                        return Ok(Some(id));
                    }
                }
                None
            }
            t::NODEPOOL => {
                let kubes = match config.and_then(|c| attr_str(c, "cluster_id")) {
                    Some(k) => vec![k.to_string()],
                    None => self.kube_ids().await?,
                };
                for kube in kubes {
                    let pools = not_found_is_none(
                        self.call(r::NODEPOOL_LIST, &[("kubeId", &kube)], None)
                            .await,
                    )?
                    .map(list)
                    .unwrap_or_default();
                    if let Some(id) = by_name(pools, "name") {
                        return Ok(Some(format!("{kube}/{id}")));
                    }
                }
                None
            }
            t::POSTGRES | t::VALKEY => {
                let engines: Vec<String> = if type_name == t::POSTGRES {
                    vec!["postgresql".into()]
                } else {
                    match config.and_then(|c| attr_str(c, "engine")) {
                        Some(e) => vec![e.to_string()],
                        None => vec!["valkey".into(), "redis".into()],
                    }
                };
                for engine in engines {
                    let routes = engine_routes(&engine);
                    let Some(ids) = not_found_is_none(self.call(routes.list, &[], None).await)?
                    else {
                        continue;
                    };
                    for id in list(ids).iter().filter_map(id_text) {
                        let svc = not_found_is_none(
                            self.call(routes.get, &[("clusterId", &id)], None).await,
                        )?;
                        if svc.as_ref().and_then(|s| js(s, "description")) == Some(name) {
                            return Ok(Some(self.db_id(&engine, &id)));
                        }
                    }
                }
                None
            }
            t::CDN_DOMAIN => {
                let domain = self.cdn_domain_name(name, config.unwrap_or(&Attrs::new()))?;
                self.get_raw(t::CDN_DOMAIN, &domain).await?.map(|_| domain)
            }
            // Backends and cache rules have no name: they are found by their natural key,
            // which only the configuration gives.
            t::CDN_BACKEND => match config {
                Some(c) => {
                    let id = format!("{}/{}", need_str(c, "domain")?, need_str(c, "ip")?);
                    self.get_raw(t::CDN_BACKEND, &id).await?.map(|_| id)
                }
                None => None,
            },
            t::CDN_RULE => match config {
                Some(c) => {
                    let domain = need_str(c, "domain")?;
                    let ids = list(
                        self.call(r::CDN_RULE_LIST, &[("domain", domain)], None)
                            .await?,
                    );
                    let mut found = None;
                    for rule in ids.iter().filter_map(id_text) {
                        let id = format!("{domain}/{rule}");
                        if let Some(j) = self.get_raw(t::CDN_RULE, &id).await?
                            && js(&j, "fileMatch") == attr_str(c, "file_match")
                            && js(&j, "fileType") == attr_str(c, "file_type")
                        {
                            found = Some(id);
                            break;
                        }
                    }
                    found
                }
                None => None,
            },
            other => return Err(ProviderError::Invalid(format!("unknown type {other}"))),
        })
    }

    fn db_id(&self, engine: &str, uuid: &str) -> String {
        match engine {
            "redis" => format!("redis/{uuid}"),
            _ => uuid.to_string(),
        }
    }

    async fn kube_ids(&self) -> Result<Vec<String>, ProviderError> {
        Ok(list(self.call(r::KUBE_LIST, &[], None).await?)
            .iter()
            .filter_map(id_text)
            .collect())
    }

    // -----------------------------------------------------------------------------------------
    // Create, update, delete.

    /// Sends the create request; answers the new object's id.
    pub async fn post_create(
        &self,
        type_name: &str,
        name: &str,
        config: &Attrs,
    ) -> Result<String, ProviderError> {
        let region = self.region().to_string();
        match type_name {
            t::NETWORK => {
                let op = self
                    .call(r::NETWORK_CREATE, &[], Some(&network_body(name, config)))
                    .await?;
                self.created_by(&op, type_name, name, "network").await
            }
            t::SUBNET => {
                let net = need_str(config, "network_id")?;
                let s = self
                    .call(
                        r::SUBNET_CREATE,
                        &[("networkId", net)],
                        Some(&subnet_body(name, config)?),
                    )
                    .await?;
                let id = answer_id(&s, "subnet")?;
                Ok(format!("{net}/{id}"))
            }
            t::KUBE => {
                let subnet = match attr_str(config, "nodes_subnet_id") {
                    Some(s) => s.to_string(),
                    None => self.first_subnet(need_str(config, "network_id")?).await?,
                };
                let k = self
                    .call(
                        r::KUBE_CREATE,
                        &[],
                        Some(&kube_body(name, &region, config, Some(&subnet))?),
                    )
                    .await?;
                answer_id(&k, "cluster").map(str::to_string)
            }
            t::NODEPOOL => {
                let kube = need_str(config, "cluster_id")?;
                let p = self
                    .call(
                        r::NODEPOOL_CREATE,
                        &[("kubeId", kube)],
                        Some(&nodepool_body(name, config)?),
                    )
                    .await?;
                let id = answer_id(&p, "node pool")?;
                Ok(format!("{kube}/{id}"))
            }
            t::POSTGRES | t::VALKEY => {
                let engine = db_engine(type_name, config);
                let net = need_str(config, "network_id")?;
                let subnet = self.configured_subnet(config, net).await?;
                let allowed = self.allowed_ranges(config, net).await?;
                let create = engine_routes(&engine).create;
                let svc = self
                    .call(
                        create,
                        &[],
                        Some(&db_body(name, &region, config, &subnet, &allowed)?),
                    )
                    .await?;
                let id = answer_id(&svc, "database")?;
                Ok(self.db_id(&engine, id))
            }
            t::LB => {
                let net = need_str(config, "network_id")?;
                let subnet = self.configured_subnet(config, net).await?;
                let flavor = self
                    .lb_flavor_id(attr_str(config, "flavor").unwrap_or("small"))
                    .await?;
                let op = self
                    .call(
                        r::LB_CREATE,
                        &[],
                        Some(&lb_body(name, &flavor, config, &subnet)?),
                    )
                    .await?;
                self.created_by(&op, type_name, name, "load balancer").await
            }
            t::LISTENER | t::POOL | t::MONITOR => {
                let body = match type_name {
                    t::LISTENER => listener_body(name, config)?,
                    t::POOL => pool_body(name, config)?,
                    _ => monitor_body(name, config)?,
                };
                let route = type_routes(type_name)?.create;
                let j = self.call(route, &[], Some(&body)).await?;
                answer_id(&j, type_name).map(str::to_string)
            }
            t::CDN_DOMAIN => {
                let domain = self.cdn_domain_name(name, config)?;
                self.call(
                    r::CDN_DOMAIN_CREATE,
                    &[],
                    Some(&json!({ "domain": domain })),
                )
                .await?;
                Ok(domain)
            }
            t::CDN_BACKEND => {
                let domain = need_str(config, "domain")?;
                let ip = need_str(config, "ip")?;
                if ip.parse::<std::net::Ipv4Addr>().is_err() {
                    return Err(ProviderError::Invalid(format!(
                        "an OVH CDN backend is an IPv4 address, got origin {ip:?}"
                    )));
                }
                self.call(
                    r::CDN_BACKEND_CREATE,
                    &[("domain", domain)],
                    Some(&json!({ "ip": ip })),
                )
                .await?;
                Ok(format!("{domain}/{ip}"))
            }
            t::CDN_RULE => {
                let domain = need_str(config, "domain")?;
                let j = self
                    .call(
                        r::CDN_RULE_CREATE,
                        &[("domain", domain)],
                        Some(&cache_rule_body(config)?),
                    )
                    .await?;
                let id = j.get("cacheRuleId").and_then(id_text).ok_or_else(|| {
                    ProviderError::Other("the cache rule answer has no cacheRuleId".into())
                })?;
                Ok(format!("{domain}/{id}"))
            }
            other => Err(ProviderError::Invalid(format!("unknown type {other}"))),
        }
    }

    /// The IP ranges allowed to reach a database: the configured ones, else the CIDRs of the
    /// network's subnets.
    async fn allowed_ranges(
        &self,
        config: &Attrs,
        net: &str,
    ) -> Result<Vec<String>, ProviderError> {
        if let Some(list) = config.get("ip_restrictions").and_then(Value::as_list) {
            return Ok(list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect());
        }
        let mut cidrs: Vec<String> = self
            .subnets_of(net)
            .await?
            .iter()
            .filter_map(|s| js(s, "cidr").map(str::to_string))
            .collect();
        cidrs.sort();
        Ok(cidrs)
    }

    /// After a create: waits until ready and, for a CDN domain left off, turns it on.
    pub async fn settle(&self, type_name: &str, id: &str) -> Result<(), ProviderError> {
        self.wait_ready(type_name, id).await?;
        if type_name == t::CDN_DOMAIN
            && let Some(d) = self.get_raw(t::CDN_DOMAIN, id).await?
            && js(&d, "status") == Some("off")
        {
            self.put(t::CDN_DOMAIN, id, &json!({ "status": "on" }))
                .await?;
        }
        Ok(())
    }

    pub async fn update(
        &self,
        type_name: &str,
        prior: &ResourceState,
        config: &Attrs,
    ) -> Result<(), ProviderError> {
        let id = prior.id.as_str();
        let changed = |k: &str| {
            let new = config.get(k).cloned().unwrap_or(Value::Null);
            let old = prior.attrs.get(k).cloned().unwrap_or(Value::Null);
            !new.is_null() && !provider_api::same(&new, &old)
        };
        match type_name {
            t::KUBE => {
                if changed("update_policy") {
                    self.put(
                        t::KUBE,
                        id,
                        &json!({ "updatePolicy": need_str(config, "update_policy")? }),
                    )
                    .await?;
                }
                if changed("version") {
                    let from = k8s_minor(
                        prior
                            .attrs
                            .get("version")
                            .and_then(Value::as_str)
                            .unwrap_or(""),
                    );
                    let to = need_str(config, "version")?;
                    if !is_next_minor(from, to) {
                        return Err(ProviderError::Invalid(format!(
                            "OVH upgrades Kubernetes one minor version at a time: {from} → {to} \
                             is not possible in one step"
                        )));
                    }
                    self.call(
                        r::KUBE_UPDATE,
                        &[("kubeId", id)],
                        Some(&json!({ "strategy": "NEXT_MINOR" })),
                    )
                    .await?;
                }
            }
            t::NODEPOOL => {
                let current = self
                    .get_raw(t::NODEPOOL, id)
                    .await?
                    .and_then(|p| p.get("desiredNodes").and_then(Json::as_i64));
                self.put(type_name, id, &nodepool_update_body(config, current)?)
                    .await?;
            }
            t::POSTGRES | t::VALKEY => {
                let name = prior
                    .attrs
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let net = need_str(config, "network_id")?;
                let allowed = self.allowed_ranges(config, net).await?;
                self.put(type_name, id, &db_update_body(name, config, &allowed)?)
                    .await?;
            }
            t::POOL => {
                self.put(type_name, id, &pool_update_body(config)).await?;
            }
            t::MONITOR => {
                self.put(type_name, id, &monitor_update_body(config)?)
                    .await?;
            }
            t::CDN_RULE => {
                self.put(type_name, id, &json!({ "ttl": need_i64(config, "ttl")? }))
                    .await?;
            }
            _ => {}
        }
        // An update is accepted before it is applied: the object passes through UPDATING.
        self.wait_ready(type_name, id).await
    }

    pub async fn delete(&self, type_name: &str, id: &str) -> Result<(), ProviderError> {
        let (routes, params) = object(type_name, id)?;
        let res = self.call(routes.delete, &params, None).await;
        if not_found_is_none(res)?.is_none() {
            return Ok(());
        }
        self.wait_gone(type_name, id).await
    }

    // -----------------------------------------------------------------------------------------
    // Batched reads.

    /// Reads every id: one list per type (per parent for nested types), details only where the
    /// list answers ids alone.
    pub async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ResourceState>>, ProviderError> {
        let mut found: BTreeMap<String, ResourceState> = BTreeMap::new();
        match type_name {
            t::NETWORK | t::LB | t::LISTENER | t::POOL | t::MONITOR => {
                let route = type_routes(type_name)?.list;
                for item in list(self.call(route, &[], None).await?) {
                    if let Some(id) = js(&item, "id")
                        && ids.iter().any(|i| i == id)
                    {
                        let state = self.state(type_name, id, &item).await?;
                        found.insert(id.to_string(), state);
                    }
                }
            }
            t::SUBNET | t::NODEPOOL | t::CDN_BACKEND | t::CDN_RULE => {
                let mut by_parent: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for id in ids {
                    let (parent, child) = split_id(id)?;
                    by_parent.entry(parent).or_default().push(child);
                }
                for (parent, children) in by_parent {
                    let items = match type_name {
                        t::SUBNET => not_found_is_none(self.subnets_of(parent).await)?,
                        t::NODEPOOL => not_found_is_none(
                            self.call(r::NODEPOOL_LIST, &[("kubeId", parent)], None)
                                .await,
                        )?
                        .map(list),
                        t::CDN_BACKEND => not_found_is_none(
                            self.call(r::CDN_BACKEND_LIST, &[("domain", parent)], None)
                                .await,
                        )?
                        .map(|l| {
                            list(l)
                                .into_iter()
                                .map(|ip| json!({ "id": ip, "ip": ip }))
                                .collect()
                        }),
                        _ => {
                            let listed = not_found_is_none(
                                self.call(r::CDN_RULE_LIST, &[("domain", parent)], None)
                                    .await,
                            )?;
                            match listed {
                                None => None,
                                Some(l) => {
                                    let mut rules = Vec::new();
                                    for rule in list(l).iter().filter_map(id_text) {
                                        if children.contains(&rule.as_str())
                                            && let Some(j) = self
                                                .get_raw(t::CDN_RULE, &format!("{parent}/{rule}"))
                                                .await?
                                        {
                                            let mut j = j;
                                            j["id"] = json!(rule);
                                            rules.push(j);
                                        }
                                    }
                                    Some(rules)
                                }
                            }
                        }
                    };
                    for item in items.unwrap_or_default() {
                        if let Some(child) = item.get("id").and_then(id_text)
                            && children.contains(&child.as_str())
                        {
                            let id = format!("{parent}/{child}");
                            let state = self.state(type_name, &id, &item).await?;
                            found.insert(id, state);
                        }
                    }
                }
            }
            t::KUBE | t::POSTGRES | t::VALKEY | t::CDN_DOMAIN => {
                let lists: Vec<(Route, String)> = match type_name {
                    t::KUBE => vec![(r::KUBE_LIST, String::new())],
                    t::POSTGRES => vec![(r::PG_LIST, "postgresql".into())],
                    t::VALKEY => {
                        let mut l = vec![(r::VALKEY_LIST, "valkey".to_string())];
                        if ids.iter().any(|i| i.starts_with("redis/")) {
                            l.push((r::REDIS_LIST, "redis".into()));
                        }
                        l
                    }
                    _ => vec![(r::CDN_DOMAIN_LIST, String::new())],
                };
                for (route, engine) in lists {
                    let Some(listed) = not_found_is_none(self.call(route, &[], None).await)? else {
                        continue;
                    };
                    for raw in list(listed).iter().filter_map(id_text) {
                        let id = if type_name == t::VALKEY {
                            self.db_id(&engine, &raw)
                        } else {
                            raw
                        };
                        if ids.contains(&id)
                            && let Some(item) = self.get_raw(type_name, &id).await?
                        {
                            let state = self.state(type_name, &id, &item).await?;
                            found.insert(id, state);
                        }
                    }
                }
            }
            other => return Err(ProviderError::Invalid(format!("unknown type {other}"))),
        }
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    /// The resource state of one object as the API shows it.
    async fn state(
        &self,
        type_name: &str,
        id: &str,
        j: &Json,
    ) -> Result<ResourceState, ProviderError> {
        let mut a = Attrs::new();
        a.insert("id".into(), Value::from(id));
        let parent = id.split_once('/').map(|(p, _)| p.to_string());
        match type_name {
            t::NETWORK => {
                a.insert("name".into(), jstr(j, "name"));
                a.insert("vlan_id".into(), jv(j, "vlanId"));
                a.insert(
                    "region".into(),
                    js(j, "region")
                        .map(Value::from)
                        .unwrap_or_else(|| Value::from(self.region())),
                );
            }
            t::SUBNET => {
                a.insert("name".into(), jstr(j, "name"));
                a.insert(
                    "network_id".into(),
                    parent.map(Value::from).unwrap_or_default(),
                );
                a.insert("cidr".into(), jstr(j, "cidr"));
                a.insert(
                    "enable_dhcp".into(),
                    Value::from(j.get("dhcpEnabled").and_then(Json::as_bool).unwrap_or(true)),
                );
                a.insert(
                    "enable_gateway_ip".into(),
                    Value::from(j.get("gatewayIp").is_some_and(|g| !g.is_null())),
                );
                a.insert("subnet_id".into(), jstr(j, "id"));
                a.insert("gateway_ip".into(), jstr(j, "gatewayIp"));
            }
            t::KUBE => {
                a.insert("name".into(), jstr(j, "name"));
                a.insert("network_id".into(), jstr(j, "privateNetworkId"));
                a.insert("nodes_subnet_id".into(), jstr(j, "nodesSubnetId"));
                // The API answers the patch build (`1.32.9-1`); the configuration and the
                // upgrades deal in minors, as OVH's own Terraform provider does.
                a.insert(
                    "version".into(),
                    js(j, "version")
                        .map(|v| Value::from(k8s_minor(v)))
                        .unwrap_or_default(),
                );
                a.insert("update_policy".into(), jstr(j, "updatePolicy"));
                a.insert("endpoint".into(), jstr(j, "url"));
                // A throttled or failed kubeconfig request fails the read (it is retried), so
                // that a passing error never shows as a changed certificate.
                let ca = match self.call(r::KUBE_KUBECONFIG, &[("kubeId", id)], None).await {
                    Ok(k) => js(&k, "content")
                        .and_then(kubeconfig_ca)
                        .map(Value::from)
                        .unwrap_or_default(),
                    Err(e) if e.is_retryable() => return Err(e),
                    Err(e) => {
                        tracing::debug!(error = %e, "kubeconfig not available");
                        Value::Null
                    }
                };
                a.insert("ca_certificate".into(), ca);
            }
            t::NODEPOOL => {
                a.insert("name".into(), jstr(j, "name"));
                a.insert(
                    "cluster_id".into(),
                    parent.map(Value::from).unwrap_or_default(),
                );
                a.insert("flavor".into(), jstr(j, "flavor"));
                let zone = j
                    .get("availabilityZones")
                    .and_then(Json::as_array)
                    .and_then(|z| z.first())
                    .and_then(Json::as_str)
                    .map(Value::from)
                    .unwrap_or_default();
                a.insert("zone".into(), zone);
                a.insert("autoscale".into(), jv(j, "autoscale"));
                a.insert("min_nodes".into(), jv(j, "minNodes"));
                a.insert("max_nodes".into(), jv(j, "maxNodes"));
            }
            t::POSTGRES | t::VALKEY => {
                let (engine, _) = db_parts(type_name, id);
                a.insert("name".into(), jstr(j, "description"));
                a.insert("network_id".into(), jstr(j, "networkId"));
                a.insert("subnet_id".into(), jstr(j, "subnetId"));
                a.insert("version".into(), jstr(j, "version"));
                a.insert("plan".into(), jstr(j, "plan"));
                a.insert("flavor".into(), jstr(j, "flavor"));
                a.insert("nodes".into(), jv(j, "nodeNumber"));
                let ips: Vec<Value> = j
                    .get("ipRestrictions")
                    .and_then(Json::as_array)
                    .map(|l| {
                        l.iter()
                            .filter_map(|x| js(x, "ip"))
                            .map(Value::from)
                            .collect()
                    })
                    .unwrap_or_default();
                a.insert("ip_restrictions".into(), Value::List(ips));
                let main = endpoints(j, &engine);
                let first = main.first();
                a.insert(
                    "endpoint".into(),
                    first.map(|e| jstr(e, "domain")).unwrap_or_default(),
                );
                a.insert(
                    "port".into(),
                    first.map(|e| jv(e, "port")).unwrap_or_default(),
                );
                let readers: Vec<Value> = if type_name == t::POSTGRES {
                    endpoints(j, "postgresqlRead")
                        .into_iter()
                        .chain(endpoints(j, "postgresqlReadReplica"))
                        .map(|e| jstr(e, "domain"))
                        .collect()
                } else {
                    Vec::new()
                };
                a.insert("reader_endpoints".into(), Value::List(readers));
                if type_name == t::POSTGRES {
                    a.insert(
                        "disk_gb".into(),
                        j.get("disk").map(|d| jv(d, "size")).unwrap_or_default(),
                    );
                } else {
                    a.insert("engine".into(), Value::from(engine));
                }
            }
            t::LB => {
                a.insert("name".into(), jstr(j, "name"));
                a.insert("network_id".into(), jstr(j, "vipNetworkId"));
                a.insert("subnet_id".into(), jstr(j, "vipSubnetId"));
                let flavor = match js(j, "flavorId") {
                    Some(f) => self
                        .lb_flavor_name(f)
                        .await?
                        .map(Value::from)
                        .unwrap_or_else(|| Value::from(f)),
                    None => Value::Null,
                };
                a.insert("flavor".into(), flavor);
                let fip = j
                    .get("floatingIp")
                    .filter(|f| !f.is_null())
                    .map(|f| jstr(f, "ip"))
                    .unwrap_or_default();
                a.insert("public".into(), Value::from(!fip.is_null()));
                let vip = jstr(j, "vipAddress");
                a.insert(
                    "dns_name".into(),
                    if fip.is_null() {
                        vip.clone()
                    } else {
                        fip.clone()
                    },
                );
                a.insert("floating_ip".into(), fip);
                a.insert("vip_address".into(), vip);
            }
            t::LISTENER => {
                a.insert("name".into(), jstr(j, "name"));
                let lb = j
                    .get("loadBalancerIds")
                    .and_then(Json::as_array)
                    .and_then(|l| l.first())
                    .and_then(Json::as_str)
                    .map(Value::from)
                    .unwrap_or_default();
                a.insert("loadbalancer_id".into(), lb);
                a.insert("port".into(), jv(j, "port"));
                a.insert("protocol".into(), jstr(j, "protocol"));
            }
            t::POOL => {
                a.insert("name".into(), jstr(j, "name"));
                a.insert("listener_id".into(), jstr(j, "listenerId"));
                a.insert("protocol".into(), jstr(j, "protocol"));
                a.insert("algorithm".into(), jstr(j, "algorithm"));
                let sticky = j
                    .get("sessionPersistence")
                    .and_then(|p| js(p, "type"))
                    .is_some_and(|t| t != "disabled");
                a.insert("sticky_sessions".into(), Value::from(sticky));
            }
            t::MONITOR => {
                a.insert("name".into(), jstr(j, "name"));
                a.insert("pool_id".into(), jstr(j, "poolId"));
                a.insert("monitor_type".into(), jstr(j, "monitorType"));
                a.insert("delay".into(), jv(j, "delay"));
                a.insert("timeout".into(), jv(j, "timeout"));
                a.insert("max_retries".into(), jv(j, "maxRetries"));
                a.insert(
                    "url_path".into(),
                    j.get("httpConfiguration")
                        .filter(|h| !h.is_null())
                        .map(|h| jstr(h, "urlPath"))
                        .unwrap_or_default(),
                );
            }
            t::CDN_DOMAIN => {
                a.insert("domain".into(), Value::from(id));
                a.insert("cname".into(), jstr(j, "cname"));
            }
            t::CDN_BACKEND => {
                a.insert("domain".into(), parent.map(Value::from).unwrap_or_default());
                a.insert("ip".into(), jstr(j, "ip"));
            }
            t::CDN_RULE => {
                a.insert("domain".into(), parent.map(Value::from).unwrap_or_default());
                a.insert("file_match".into(), jstr(j, "fileMatch"));
                a.insert("file_type".into(), jstr(j, "fileType"));
                a.insert("cache_type".into(), jstr(j, "cacheType"));
                a.insert("ttl".into(), jv(j, "ttl"));
            }
            _ => {}
        }
        Ok(ResourceState {
            id: id.to_string(),
            attrs: a,
        })
    }
}

/// Whether `to` is the minor version right after `from` (`1.31` → `1.32`).
pub fn is_next_minor(from: &str, to: &str) -> bool {
    let parse = |v: &str| {
        let mut it = v.split('.');
        Some((
            it.next()?.parse::<u32>().ok()?,
            it.next()?.parse::<u32>().ok()?,
        ))
    };
    matches!((parse(from), parse(to)), (Some((a, b)), Some((c, d))) if a == c && d == b + 1)
}
