//! Octavia load balancers and their listeners, pools and health monitors:
//! `/cloud/project/{serviceName}/region/{regionName}/loadbalancing/…`. A load balancer is
//! created by an operation, with a new floating IP when it is public.

use std::sync::Arc;

use async_trait::async_trait;
use provider_api::kit::config::{attr_bool, attr_str};
use provider_api::kit::schema::{b, n, s};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{Attrs, ProviderError, ResourceState, Value};
use serde_json::{Value as Json, json};
use tokio::sync::OnceCell;

use crate::api::{Api, Result, TypeRoutes};
use crate::json::{answer_id, js, jstr, jv, list, need_i64, need_str};
use crate::network::configured_subnet;
use crate::object::{Objects, Phase, base, created_by, in_order, named, status_phase, wanted};
use crate::routes as r;

pub const LB: &str = "ovh_cloud_loadbalancer";
pub const LISTENER: &str = "ovh_cloud_loadbalancer_listener";
pub const POOL: &str = "ovh_cloud_loadbalancer_pool";
pub const MONITOR: &str = "ovh_cloud_loadbalancer_health_monitor";

pub fn schemas() -> Vec<ResourceSchema> {
    vec![
        ResourceSchema::native(
            LB,
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
        ResourceSchema::native(
            LISTENER,
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
        ResourceSchema::native(
            POOL,
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
        ResourceSchema::native(
            MONITOR,
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
    ]
}

/// The routes of each type: list, create, get, put (where an object can be changed in place),
/// delete, and the path parameter an id fills.
#[rustfmt::skip]
fn type_routes(type_name: &str) -> TypeRoutes {
    use r::*;
    let (list, create, get, put, delete, id_params): (_, _, _, _, _, &'static [&'static str]) =
        match type_name {
            LB       => (LB_LIST,       LB_CREATE,       LB_GET,       None,              LB_DELETE,       &["loadBalancerId"]),
            LISTENER => (LISTENER_LIST, LISTENER_CREATE, LISTENER_GET, None,              LISTENER_DELETE, &["listenerId"]),
            POOL     => (POOL_LIST,     POOL_CREATE,     POOL_GET,     Some(POOL_PUT),    POOL_DELETE,     &["poolId"]),
            _        => (MONITOR_LIST,  MONITOR_CREATE,  MONITOR_GET,  Some(MONITOR_PUT), MONITOR_DELETE,  &["healthMonitorId"]),
        };
    TypeRoutes { list, create, get, put, delete, id_params }
}

pub fn lb_body(name: &str, flavor_id: &str, config: &Attrs, subnet_id: &str) -> Result<Json> {
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

pub fn listener_body(name: &str, config: &Attrs) -> Result<Json> {
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

pub fn pool_body(name: &str, config: &Attrs) -> Result<Json> {
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

/// The probe settings a monitor's create and update share.
fn probes(mut b: Json, config: &Attrs) -> Result<Json> {
    b["delay"] = json!(need_i64(config, "delay")?);
    b["timeout"] = json!(need_i64(config, "timeout")?);
    b["maxRetries"] = json!(need_i64(config, "max_retries")?);
    if let Some(h) = http_configuration(config) {
        b["httpConfiguration"] = h;
    }
    Ok(b)
}

pub fn monitor_body(name: &str, config: &Attrs) -> Result<Json> {
    let b = json!({
        "name": name,
        "poolId": need_str(config, "pool_id")?,
        "monitorType": need_str(config, "monitor_type")?,
    });
    probes(b, config)
}

pub fn monitor_update_body(config: &Attrs) -> Result<Json> {
    probes(json!({}), config)
}

/// Where a load-balancing object is: its `provisioningStatus`.
pub fn phase(j: &Json) -> Phase {
    status_phase(j, "provisioningStatus", &["active"], &["error"])
}

fn first_of(j: &Json, k: &str) -> Value {
    j.get(k)
        .and_then(Json::as_array)
        .and_then(|l| l.first())
        .and_then(Json::as_str)
        .map(Value::from)
        .unwrap_or_default()
}

/// The attributes of a listener, a pool or a health monitor.
fn part_attrs(type_name: &str, j: &Json, a: &mut Attrs) {
    match type_name {
        LISTENER => {
            a.insert("loadbalancer_id".into(), first_of(j, "loadBalancerIds"));
            a.insert("port".into(), jv(j, "port"));
            a.insert("protocol".into(), jstr(j, "protocol"));
        }
        POOL => {
            a.insert("listener_id".into(), jstr(j, "listenerId"));
            a.insert("protocol".into(), jstr(j, "protocol"));
            a.insert("algorithm".into(), jstr(j, "algorithm"));
            let sticky = j
                .get("sessionPersistence")
                .and_then(|p| js(p, "type"))
                .is_some_and(|t| t != "disabled");
            a.insert("sticky_sessions".into(), Value::from(sticky));
        }
        _ => {
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
    }
}

/// Load balancers, listeners, pools and health monitors.
#[derive(Debug)]
pub struct LoadBalancing {
    api: Arc<Api>,
    /// The region's flavors, `(id, name)`, asked once.
    flavors: OnceCell<Vec<(String, String)>>,
}

impl LoadBalancing {
    pub fn new(api: Arc<Api>) -> LoadBalancing {
        LoadBalancing {
            api,
            flavors: OnceCell::new(),
        }
    }

    async fn flavor_id(&self, name: &str) -> Result<String> {
        let flavors = self
            .flavors
            .get_or_try_init(|| async {
                let all = list(self.api.call(r::LB_FLAVOR_LIST, &[], None).await?);
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
                    self.api.region()
                ))
            })
    }

    /// The name of a load balancer flavor id; `None` when the region lists no such flavor.
    /// A failure to list the flavors is an error: guessing would show a changed flavor.
    async fn flavor_name(&self, id: &str) -> Result<Option<String>> {
        if self.flavors.get().is_none() {
            match self.flavor_id("").await {
                Ok(_) | Err(ProviderError::Invalid(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self
            .flavors
            .get()
            .and_then(|all| all.iter().find(|(i, _)| i == id))
            .map(|(_, n)| n.clone()))
    }

    async fn state(&self, type_name: &str, id: &str, j: &Json) -> Result<ResourceState> {
        let mut a = Attrs::new();
        a.insert("id".into(), Value::from(id));
        a.insert("name".into(), jstr(j, "name"));
        if type_name != LB {
            part_attrs(type_name, j, &mut a);
            return Ok(ResourceState {
                id: id.to_string(),
                attrs: a,
            });
        }
        a.insert("network_id".into(), jstr(j, "vipNetworkId"));
        a.insert("subnet_id".into(), jstr(j, "vipSubnetId"));
        let flavor = match js(j, "flavorId") {
            Some(f) => self
                .flavor_name(f)
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
        let dns = if fip.is_null() { &vip } else { &fip };
        a.insert("dns_name".into(), dns.clone());
        a.insert("floating_ip".into(), fip);
        a.insert("vip_address".into(), vip);
        Ok(ResourceState {
            id: id.to_string(),
            attrs: a,
        })
    }
}

#[async_trait]
impl Objects for LoadBalancing {
    fn types(&self) -> &'static [&'static str] {
        &[LB, LISTENER, POOL, MONITOR]
    }

    fn api(&self) -> &Api {
        &self.api
    }

    fn routes<'a>(&self, type_name: &str, id: &'a str) -> (TypeRoutes, &'a str) {
        (type_routes(type_name), id)
    }

    fn phase(&self, _type_name: &str, j: &Json) -> Phase {
        phase(j)
    }

    async fn lookup(
        &self,
        type_name: &str,
        name: &str,
        _config: Option<&Attrs>,
    ) -> Result<Option<String>> {
        let route = type_routes(type_name).list;
        Ok(named(list(self.api.call(route, &[], None).await?), name))
    }

    async fn post_create(&self, type_name: &str, name: &str, config: &Attrs) -> Result<String> {
        let body = match type_name {
            LB => {
                let net = need_str(config, "network_id")?;
                let subnet = configured_subnet(&self.api, config, net).await?;
                let flavor = self
                    .flavor_id(attr_str(config, "flavor").unwrap_or("small"))
                    .await?;
                let body = lb_body(name, &flavor, config, &subnet)?;
                let op = self.api.call(r::LB_CREATE, &[], Some(&body)).await?;
                return created_by(self, &op, type_name, name, "load balancer").await;
            }
            LISTENER => listener_body(name, config)?,
            POOL => pool_body(name, config)?,
            _ => monitor_body(name, config)?,
        };
        let route = type_routes(type_name).create;
        let j = self.api.call(route, &[], Some(&body)).await?;
        answer_id(&j, type_name).map(str::to_string)
    }

    async fn change(&self, type_name: &str, prior: &ResourceState, config: &Attrs) -> Result<()> {
        let body = match type_name {
            POOL => pool_update_body(config),
            MONITOR => monitor_update_body(config)?,
            _ => return Ok(()),
        };
        self.put(type_name, &prior.id, &body).await?;
        Ok(())
    }

    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ResourceState>>> {
        let route = type_routes(type_name).list;
        let listed = list(self.api.call(route, &[], None).await?);
        let mut states = Vec::new();
        for (id, item) in wanted(listed, ids) {
            states.push(self.state(type_name, &id, &item).await?);
        }
        Ok(in_order(ids, states))
    }
}
