//! What each OVH operation does to the simulated cloud. Reads, lists, updates and deletes are
//! generic (by object path); creates and the few actions are per resource type.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::{Value, json};

use crate::world::{ApiError, Reply, World, deleting_status, now_rfc3339, ptr, updating_status};

/// A validated request, as the handlers see it.
pub struct Req<'a> {
    pub method: &'a str,
    /// The schema's path template, e.g. `/cloud/project/{serviceName}/kube`.
    pub template: &'a str,
    /// The decoded concrete path, e.g. `/cloud/project/abc/kube`.
    pub path: &'a str,
    pub params: &'a BTreeMap<String, String>,
    pub query: &'a BTreeMap<String, String>,
    pub body: &'a Value,
    pub response_type: &'a str,
}

impl Req<'_> {
    fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }
    fn body_str(&self, field: &str) -> Option<&str> {
        self.body.get(field).and_then(Value::as_str)
    }
}

const PROJECT: &str = "/cloud/project/{serviceName}";

/// Parameters that name a container, not an object of the simulator.
fn is_container_param(name: &str) -> bool {
    matches!(name, "serviceName" | "regionName")
}

/// Answers one request (validated, authenticated) against the world.
pub fn dispatch(w: &mut World, r: &Req) -> Reply {
    if let Some(rest) = r.path.strip_prefix("/cdn/dedicated/") {
        let service = rest.split('/').next().unwrap_or_default();
        ensure_cdn_service(w, service);
    }
    if let (Some(region), true) = (
        r.params.get("regionName"),
        r.template.contains("/loadbalancing/"),
    ) {
        ensure_lb_flavors(w, r.param("serviceName"), region);
    }
    let Some(sub) = r.template.strip_prefix(PROJECT) else {
        return dispatch_other(w, r);
    };
    // Specific operations first.
    match (r.method, sub) {
        ("GET", "/database/availability") => return Ok((200, crate::offers::availability())),
        ("GET", "/database/capabilities") => return Ok((200, crate::offers::capabilities())),
        ("GET", "/capabilities/kube/flavors") => {
            let region = r.query.get("region").map(String::as_str);
            return Ok((200, crate::offers::kube_flavors(region)));
        }
        ("POST", "/network/private") => return create_private_network(w, r),
        ("POST", "/network/private/{networkId}/subnet") => {
            check_ancestors(w, r)?;
            return create_private_subnet(w, r);
        }
        ("POST", "/region/{regionName}/network") => return create_regional_network(w, r),
        ("POST", "/region/{regionName}/network/{networkId}/subnet") => {
            check_ancestors(w, r)?;
            let net = parent_path(r.path).to_string();
            let subnet = create_regional_subnet(w, &net, r.body)?;
            return Ok((200, subnet));
        }
        ("POST", "/kube") => return create_kube(w, r),
        ("POST", "/kube/{kubeId}/nodepool") => {
            check_ancestors(w, r)?;
            let kube = parent_path(r.path).to_string();
            return create_nodepool(w, r.param("serviceName"), &kube, r.body).map(|v| (200, v));
        }
        ("POST", "/kube/{kubeId}/update") => {
            check_ancestors(w, r)?;
            return update_kube(w, r);
        }
        ("POST", "/kube/{kubeId}/kubeconfig") => {
            check_ancestors(w, r)?;
            return kubeconfig(w, parent_path(r.path));
        }
        ("GET", "/kube/{kubeId}/ipRestrictions") => {
            check_ancestors(w, r)?;
            return Ok((200, kube_ips(w, parent_path(r.path))));
        }
        ("POST" | "PUT", "/kube/{kubeId}/ipRestrictions") => {
            check_ancestors(w, r)?;
            return set_kube_ips(w, parent_path(r.path), r);
        }
        ("DELETE", "/kube/{kubeId}/ipRestrictions/{ip}") => {
            let kube = parent_path(parent_path(r.path)).to_string();
            return delete_kube_ip(w, &kube, r.param("ip"));
        }
        ("PUT", "/kube/{kubeId}/nodepool/{nodePoolId}") => {
            check_ancestors(w, r)?;
            check_nodepool_bounds(w, r)?;
        }
        ("DELETE", "/network/private/{networkId}" | "/region/{regionName}/network/{networkId}")
        | (
            "DELETE",
            "/network/private/{networkId}/subnet/{subnetId}"
            | "/region/{regionName}/network/{networkId}/subnet/{subnetId}",
        ) => {
            check_ancestors(w, r)?;
            check_not_in_use(w, r)?;
        }
        ("POST", "/region/{regionName}/loadbalancing/loadbalancer") => {
            return create_loadbalancer(w, r);
        }
        ("POST", "/region/{regionName}/loadbalancing/listener") => {
            let base = parent_path(r.path).to_string();
            return create_listener(w, &base, r.body).map(|v| (200, v));
        }
        ("POST", "/region/{regionName}/loadbalancing/pool") => return create_pool(w, r),
        ("POST", "/region/{regionName}/loadbalancing/healthMonitor") => {
            return create_health_monitor(w, r);
        }
        ("POST", "/region/{regionName}/loadbalancing/pool/{poolId}/member") => {
            check_ancestors(w, r)?;
            return create_members(w, r);
        }
        _ => {}
    }
    if let Some(engine) = database_engine(sub) {
        match (r.method, &sub[("/database/".len() + engine.len())..]) {
            ("POST", "") => return create_database(w, r, engine),
            ("POST", "/{clusterId}/user") => {
                check_ancestors(w, r)?;
                return create_db_user(w, r);
            }
            ("POST", "/{clusterId}/user/{userId}/credentials/reset") => {
                let user = parent_path(parent_path(r.path)).to_string();
                return reset_db_password(w, &user);
            }
            ("PUT", "/{clusterId}") => {
                check_ancestors(w, r)?;
                return update_database(w, r);
            }
            ("DELETE", "/{clusterId}") => {
                check_ancestors(w, r)?;
                if w.get(r.path)
                    .is_some_and(|o| o.data["deletionProtection"] == json!(true))
                {
                    return Err(ApiError::forbidden(
                        "Deletion protection is enabled on this service",
                    ));
                }
            }
            _ => {}
        }
    }
    generic(w, r)
}

fn dispatch_other(w: &mut World, r: &Req) -> Reply {
    match (r.method, r.template) {
        ("GET", "/cdn/dedicated") => Ok((
            200,
            Value::Array(
                w.children("/cdn/dedicated")
                    .filter(|(_, o)| o.kind == "cdn-service")
                    .map(|(_, o)| o.data["service"].clone())
                    .collect(),
            ),
        )),
        ("POST", "/cdn/dedicated/{serviceName}/domains") => create_cdn_domain(w, r),
        ("POST", "/cdn/dedicated/{serviceName}/domains/{domain}/backends") => {
            check_ancestors(w, r)?;
            create_cdn_backend(w, r)
        }
        ("POST", "/cdn/dedicated/{serviceName}/domains/{domain}/cacheRules") => {
            check_ancestors(w, r)?;
            create_cdn_cache_rule(w, r)
        }
        ("GET", "/auth/currentCredential") => Ok((
            200,
            json!({
                "credentialId": 1, "applicationId": 1, "status": "validated", "ovhSupport": false,
                "creation": now_rfc3339(), "expiration": null, "lastUse": now_rfc3339(),
                "allowedIPs": null,
                "rules": [{"method": "GET", "path": "/*"}, {"method": "POST", "path": "/*"},
                          {"method": "PUT", "path": "/*"}, {"method": "DELETE", "path": "/*"}]
            }),
        )),
        _ => generic(w, r),
    }
}

/// `/database/<engine>...` → engine, for the engines whose service objects are simulated.
fn database_engine(sub: &str) -> Option<&str> {
    let rest = sub.strip_prefix("/database/")?;
    let engine = rest.split('/').next()?;
    matches!(engine, "postgresql" | "valkey" | "redis" | "mysql").then_some(engine)
}

fn parent_path(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

/// 404 unless every object named by a parameter of the path (up to and including the last
/// segment for item operations) exists.
fn check_ancestors(w: &World, r: &Req) -> Result<(), ApiError> {
    let tsegs: Vec<&str> = r.template.trim_start_matches('/').split('/').collect();
    let psegs: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
    for (i, t) in tsegs.iter().enumerate() {
        if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}'))
            && !is_container_param(name)
        {
            let Some(upto) = psegs.get(..=i) else {
                break;
            };
            let prefix = format!("/{}", upto.join("/"));
            if w.get(&prefix).is_none() {
                return Err(ApiError::not_found(format!(
                    "This object ({name}={}) does not exist",
                    psegs.get(i).copied().unwrap_or_default()
                )));
            }
        }
    }
    Ok(())
}

/// Reads, lists, updates and deletes, by path.
fn generic(w: &mut World, r: &Req) -> Reply {
    match r.method {
        "GET" => {
            if let Some(o) = w.get(r.path) {
                return Ok((200, o.data.clone()));
            }
            check_ancestors(w, r)?;
            if r.response_type.ends_with("[]") {
                let base = r.response_type.trim_end_matches("[]");
                let ids = crate::validate::is_primitive(base);
                let items = w
                    .children(r.path)
                    .filter(|(_, o)| matches_query(o, r.query))
                    .map(|(p, o)| {
                        if ids {
                            id_value(base, p.rsplit('/').next().unwrap_or_default())
                        } else {
                            o.data.clone()
                        }
                    })
                    .collect();
                return Ok((200, Value::Array(items)));
            }
            Err(ApiError::not_found(format!(
                "ovh-sim holds nothing at {} (this GET is not simulated)",
                r.path
            )))
        }
        "PUT" => {
            check_ancestors(w, r)?;
            let Some(obj) = w.get_mut(r.path) else {
                return Err(ApiError::not_found("This object does not exist"));
            };
            // Only fields the object shows are stored (an edit-only field such as a node
            // pool's `nodesToRemove` is an instruction, not state).
            if let (Value::Object(fields), Value::Object(data)) = (r.body, &mut obj.data) {
                for (k, v) in fields {
                    if let Some(slot) = data.get_mut(k) {
                        *slot = v.clone();
                    }
                }
            }
            if has_updated_at(obj.kind) {
                obj.data["updatedAt"] = json!(now_rfc3339());
            }
            let kind = obj.kind;
            if let Some((field, updating, ready)) = updating_status(kind) {
                obj.data[field] = json!(updating);
                let path = r.path.to_string();
                w.schedule(&path, 1, vec![(ptr(field), json!(ready))]);
            }
            if kind == "nodepool" {
                resize_nodepool(w, r.path);
            }
            respond_with_object(w, r)
        }
        "DELETE" => {
            check_ancestors(w, r)?;
            let Some(obj) = w.get(r.path) else {
                return Err(ApiError::not_found("This object does not exist"));
            };
            let kind = obj.kind;
            let id = r.path.rsplit('/').next().unwrap_or_default().to_string();
            match kind {
                "loadbalancer" => cascade_loadbalancer(w, r.path, &id),
                "pool" => cascade_pool(w, r.path, &id),
                _ => {}
            }
            if deleting_status(kind).is_some() {
                w.delete_tree(r.path);
            } else {
                w.objects
                    .retain(|p, _| p != r.path && !p.starts_with(&format!("{}/", r.path)));
            }
            match r.response_type {
                "cdnanycast.Task" => {
                    let function = if kind == "cdn-domain" {
                        "removeDomain"
                    } else {
                        "updateCacheRule"
                    };
                    let domain_path = domain_of(r.path);
                    let t = create_cdn_task(w, &domain_path, function);
                    Ok((200, t))
                }
                "ipv4" => Ok((200, json!(id))),
                _ => Ok((200, Value::Null)),
            }
        }
        _ => Err(ApiError::new(
            501,
            "Server::NotImplemented",
            format!("ovh-sim does not simulate {} {}", r.method, r.template),
        )),
    }
}

fn has_updated_at(kind: &str) -> bool {
    matches!(kind, "kube" | "nodepool" | "loadbalancer")
}

fn respond_with_object(w: &World, r: &Req) -> Reply {
    if r.response_type == "void" {
        return Ok((200, Value::Null));
    }
    Ok((
        200,
        w.get(r.path).map(|o| o.data.clone()).unwrap_or(Value::Null),
    ))
}

fn id_value(ty: &str, id: &str) -> Value {
    match ty {
        "long" => id.parse::<i64>().map_or_else(|_| json!(id), |n| json!(n)),
        _ => json!(id),
    }
}

/// List filters: `?loadbalancerId=` on pools and listeners, `?poolId=` on health monitors,
/// `?fileMatch=` on cache rules. Unknown filters are ignored.
fn matches_query(o: &crate::world::Obj, query: &BTreeMap<String, String>) -> bool {
    query.iter().all(|(k, v)| match o.data.get(k) {
        Some(Value::String(s)) => s == v,
        Some(Value::Null) => false,
        Some(other) => {
            let text = other.to_string();
            text == *v
        }
        None => match (k.as_str(), o.data.get("loadBalancerIds")) {
            ("loadbalancerId", Some(Value::Array(ids))) => {
                ids.iter().any(|i| i.as_str() == Some(v))
            }
            _ => true,
        },
    })
}

// ---------------------------------------------------------------------------------------
// Networks

fn project_number(service: &str) -> u64 {
    let h = service.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    1_000_000 + h % 9_000_000
}

fn create_private_network(w: &mut World, r: &Req) -> Reply {
    let service = r.param("serviceName");
    let base = r.path.to_string();
    let used: Vec<i64> = w
        .children(&base)
        .filter_map(|(_, o)| o.data["vlanId"].as_i64())
        .collect();
    let vlan = match r.body["vlanId"].as_i64() {
        Some(v) if !(0..=4000).contains(&v) => {
            return Err(ApiError::bad_request("[vlanId] must be between 0 and 4000"));
        }
        Some(v) if used.contains(&v) => {
            return Err(ApiError::conflict(format!(
                "vlanId {v} is already used in this project"
            )));
        }
        Some(v) => v,
        None => (0..=4000).find(|v| !used.contains(v)).unwrap_or(4000),
    };
    let id = format!("pn-{}_{vlan}", project_number(service));
    let regions: Vec<String> = r.body["regions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut region_objs = Vec::new();
    for reg in &regions {
        let os = w.uuid();
        region_objs.push(json!({"region": reg, "status": "BUILDING", "openstackId": os}));
    }
    let data = json!({
        "id": id, "name": r.body["name"], "vlanId": vlan, "type": "private",
        "status": "BUILDING", "regions": region_objs,
    });
    let path = format!("{base}/{id}");
    w.insert(path.clone(), "network", data.clone());
    let mut patch = vec![(ptr("status"), json!("ACTIVE"))];
    for i in 0..regions.len() {
        patch.push((format!("/regions/{i}/status"), json!("ACTIVE")));
    }
    w.schedule(&path, 1, patch);
    Ok((200, data))
}

fn create_private_subnet(w: &mut World, r: &Req) -> Reply {
    let net_path = parent_path(r.path).to_string();
    let b = r.body;
    let cidr = b["network"].as_str().unwrap_or_default().to_string();
    let (start, end) = (
        b["start"].as_str().unwrap_or_default(),
        b["end"].as_str().unwrap_or_default(),
    );
    let Some((net, len)) = parse_v4_cidr(&cidr) else {
        return Err(ApiError::bad_request(format!(
            "[network] {cidr} is not an IPv4 network"
        )));
    };
    for (name, ip) in [("start", start), ("end", end)] {
        if !ip.parse::<Ipv4Addr>().is_ok_and(|a| in_cidr(a, net, len)) {
            return Err(ApiError::bad_request(format!(
                "[{name}] {ip} is not inside {cidr}"
            )));
        }
    }
    let region = b["region"].as_str().unwrap_or_default();
    let net_regions = w
        .get(&net_path)
        .map(|o| o.data["regions"].clone())
        .unwrap_or_default();
    if !net_regions
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x["region"].as_str() == Some(region)))
    {
        return Err(ApiError::bad_request(format!(
            "[region] the private network is not activated in region {region}"
        )));
    }
    for (_, o) in w.children(r.path) {
        if o.data["ipPools"][0]["region"].as_str() == Some(region) {
            return Err(ApiError::conflict(format!(
                "a subnet already exists in region {region} for this network"
            )));
        }
    }
    let id = w.uuid();
    let gateway = if b["noGateway"] == json!(true) {
        Value::Null
    } else {
        json!(host(net, 1))
    };
    let data = json!({
        "id": id, "cidr": cidr, "dhcpEnabled": b["dhcp"], "gatewayIp": gateway,
        "ipPools": [{"network": cidr, "region": region, "dhcp": b["dhcp"], "start": start, "end": end}],
    });
    w.insert(format!("{}/{id}", r.path), "subnet", data.clone());
    Ok((200, data))
}

fn create_regional_network(w: &mut World, r: &Req) -> Reply {
    let region = r.param("regionName").to_string();
    let id = w.uuid();
    let path = format!("{}/{id}", r.path);
    let data = json!({
        "id": id, "name": r.body["name"], "region": region, "status": "BUILDING",
        "visibility": "private", "vlanId": r.body.get("vlanId").cloned().unwrap_or(Value::Null),
        "subnetIds": [],
    });
    w.insert(path.clone(), "regional-network", data);
    if r.body["subnet"].is_object() {
        let subnet_body = r.body["subnet"].clone();
        let subnet = create_regional_subnet(w, &path, &subnet_body)?;
        if let Some(o) = w.get_mut(&path) {
            o.data["subnetIds"] = json!([subnet["id"]]);
        }
    }
    w.schedule(&path, 1, vec![(ptr("status"), json!("ACTIVE"))]);
    let op = create_operation(w, r.param("serviceName"), "network#create", &region, &id);
    Ok((200, op))
}

fn create_regional_subnet(w: &mut World, net_path: &str, b: &Value) -> Result<Value, ApiError> {
    let cidr = b["cidr"].as_str().unwrap_or_default().to_string();
    let Some((net, _)) = parse_v4_cidr(&cidr) else {
        return Err(ApiError::bad_request(format!(
            "[cidr] {cidr} is not an IPv4 network"
        )));
    };
    let id = w.uuid();
    let gateway = match (b["enableGatewayIp"].as_bool(), b["gatewayIp"].as_str()) {
        (Some(false), _) => Value::Null,
        (_, Some(g)) => json!(g),
        _ => json!(host(net, 1)),
    };
    let data = json!({
        "id": id, "name": b.get("name").cloned().unwrap_or(json!("")), "cidr": cidr,
        "ipVersion": b.get("ipVersion").cloned().unwrap_or(json!(4)),
        "dhcpEnabled": b.get("enableDhcp").cloned().unwrap_or(json!(true)),
        "gatewayIp": gateway,
        "allocationPools": b.get("allocationPools").cloned().unwrap_or(json!([])),
        "dnsNameServers": b.get("dnsNameServers").cloned().unwrap_or(json!([])),
        "hostRoutes": b.get("hostRoutes").cloned().unwrap_or(json!([])),
    });
    w.insert(
        format!("{net_path}/subnet/{id}"),
        "regional-subnet",
        data.clone(),
    );
    if let Some(o) = w.get_mut(net_path)
        && let Some(ids) = o.data["subnetIds"].as_array_mut()
        && !ids.iter().any(|x| x.as_str() == Some(id.as_str()))
    {
        ids.push(json!(id));
    }
    Ok(data)
}

/// Whether `id` names a private network of the project, by its OpenStack id (the id the
/// Kubernetes, database and load-balancer APIs take).
fn network_exists(w: &World, service: &str, id: &str) -> bool {
    let project = format!("/cloud/project/{service}/");
    w.of_kind(&project, "regional-network")
        .any(|(p, _)| p.ends_with(&format!("/{id}")))
        || w.of_kind(&project, "network").any(|(_, o)| {
            o.data["regions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["openstackId"].as_str() == Some(id)))
        })
}

/// The subnet object with OpenStack id `id`, if any.
fn find_subnet(w: &World, service: &str, id: &str) -> Option<Value> {
    let project = format!("/cloud/project/{service}/");
    w.of_kind(&project, "subnet")
        .chain(w.of_kind(&project, "regional-subnet"))
        .find(|(p, _)| p.ends_with(&format!("/{id}")))
        .map(|(_, o)| o.data.clone())
}

fn check_network_refs(
    w: &World,
    service: &str,
    b: &Value,
    net_field: &str,
    subnet_fields: &[&str],
) -> Result<(), ApiError> {
    if let Some(id) = b.get(net_field).and_then(Value::as_str)
        && !network_exists(w, service, id)
    {
        return Err(ApiError::bad_request(format!(
            "[{net_field}] private network {id} not found in project (expected the network's OpenStack id)"
        )));
    }
    for f in subnet_fields {
        if let Some(id) = b.get(*f).and_then(Value::as_str)
            && find_subnet(w, service, id).is_none()
        {
            return Err(ApiError::bad_request(format!(
                "[{f}] subnet {id} not found in project"
            )));
        }
    }
    Ok(())
}

fn parse_v4_cidr(s: &str) -> Option<(u32, u8)> {
    let (a, l) = s.split_once('/')?;
    let addr: Ipv4Addr = a.parse().ok()?;
    let len: u8 = l.parse().ok().filter(|l| *l <= 32)?;
    Some((u32::from(addr), len))
}

fn in_cidr(a: Ipv4Addr, net: u32, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    u32::from(a) & mask == net & mask
}

fn host(net: u32, n: u32) -> String {
    Ipv4Addr::from(net.wrapping_add(n)).to_string()
}

// ---------------------------------------------------------------------------------------
// Managed Kubernetes

fn create_kube(w: &mut World, r: &Req) -> Reply {
    let service = r.param("serviceName").to_string();
    let b = r.body;
    check_network_refs(
        w,
        &service,
        b,
        "privateNetworkId",
        &["nodesSubnetId", "loadBalancersSubnetId"],
    )?;
    if b.get("nodepool").is_some() && b.get("nodepools").is_some() {
        return Err(ApiError::bad_request(
            "[nodepool] give either nodepool or nodepools, not both",
        ));
    }
    // Clusters are created (and upgraded) by minor; the API answers the patch build it runs.
    let minor = b
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_KUBE_MINOR)
        .to_string();
    let id = w.uuid();
    let region = b["region"].as_str().unwrap_or_default().to_lowercase();
    let short: String = id.chars().filter(|c| *c != '-').take(6).collect();
    let now = now_rfc3339();
    let data = json!({
        "id": id, "name": b.get("name").cloned().unwrap_or(json!(id)),
        "region": b["region"], "version": patch_build(&minor),
        "plan": b.get("plan").cloned().filter(|v| !v.is_null()).unwrap_or(json!("free")),
        "status": "INSTALLING", "url": format!("{short}.c1.{region}.k8s.ovh.net"),
        "nodesUrl": format!("{short}.nodes.c1.{region}.k8s.ovh.net"),
        "createdAt": now, "updatedAt": now, "isUpToDate": true, "controlPlaneIsUpToDate": true,
        "updatePolicy": b.get("updatePolicy").cloned().filter(|v| !v.is_null()).unwrap_or(json!("ALWAYS_UPDATE")),
        "kubeProxyMode": b.get("kubeProxyMode").cloned().unwrap_or(json!("iptables")),
        "privateNetworkId": b.get("privateNetworkId").cloned().unwrap_or(Value::Null),
        "nodesSubnetId": b.get("nodesSubnetId").cloned().unwrap_or(Value::Null),
        "loadBalancersSubnetId": b.get("loadBalancersSubnetId").cloned().unwrap_or(Value::Null),
        "privateNetworkConfiguration": b.get("privateNetworkConfiguration").cloned().unwrap_or(Value::Null),
        "customization": b.get("customization").cloned().filter(|v| !v.is_null()).unwrap_or_else(default_customization),
        "ipAllocationPolicy": b.get("ipAllocationPolicy").cloned().unwrap_or(Value::Null),
        "nextUpgradeVersions": next_upgrade_versions(&minor), "auditLogsSubscribed": false,
    });
    let path = format!("{}/{id}", r.path);
    w.insert(path.clone(), "kube", data.clone());
    if let Some(o) = w.get_mut(&path) {
        o.hidden = json!({"ipRestrictions": []});
    }
    w.schedule(&path, 1, vec![(ptr("status"), json!("READY"))]);
    let pools: Vec<Value> = match (b.get("nodepool"), b.get("nodepools")) {
        (Some(p), _) if p.is_object() => vec![p.clone()],
        (_, Some(Value::Array(ps))) => ps.clone(),
        _ => Vec::new(),
    };
    for p in pools {
        if let Err(e) = create_nodepool(w, &service, &path, &p) {
            w.objects
                .retain(|k, _| k != &path && !k.starts_with(&format!("{path}/")));
            return Err(e);
        }
    }
    Ok((200, data))
}

/// The minors of `cloud.kube.VersionEnum` in the vendored schema, oldest first: what a cluster
/// can be created on and upgraded to.
pub const KUBE_MINORS: [&str; 4] = ["1.31", "1.32", "1.33", "1.34"];

/// The minor a cluster created without `version` gets: OVH picks the newest.
const DEFAULT_KUBE_MINOR: &str = "1.34";

/// The version a cluster of `minor` reports: the full patch version with OVH's build suffix,
/// as in the real answers (`"1.25.4-1"`, `"1.24.8-1"`; `/work/shared/real/ovh/FACTS.md`). The
/// patch numbers are upstream patch releases of each minor (v1.31.13, v1.32.9, v1.33.5,
/// v1.34.1 were all released by 2025-09).
pub fn patch_build(minor: &str) -> Value {
    let patch = match minor {
        "1.31" => 13,
        "1.32" => 9,
        "1.33" => 5,
        "1.34" => 1,
        _ => 0,
    };
    json!(format!("{minor}.{patch}-1"))
}

/// The minors a cluster on `minor` can be upgraded to: the next one, when OVH offers it (the
/// real answers hold minors, like `["1.25"]`, or nothing).
pub fn next_upgrade_versions(minor: &str) -> Value {
    let next = KUBE_MINORS
        .iter()
        .position(|m| *m == minor)
        .and_then(|i| KUBE_MINORS.get(i + 1));
    json!(next.into_iter().collect::<Vec<_>>())
}

/// The `major.minor` of a version the API shows (`"1.32.9-1"` → `"1.32"`).
fn minor_of(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// What a cluster created without `customization` shows: OVH's default admission plugins and
/// empty kube-proxy settings (the keys of the real answers).
fn default_customization() -> Value {
    json!({
        "apiServer": {"admissionPlugins": {"enabled": ["AlwaysPullImages", "NodeRestriction"], "disabled": []}},
        "kubeProxy": {"iptables": {}, "ipvs": {}},
    })
}

/// `POST /kube/{kubeId}/update`: `NEXT_MINOR` moves the cluster to its next minor (refused
/// when there is none), `LATEST_PATCH` keeps its minor; either walks `UPDATING` → `READY`.
fn update_kube(w: &mut World, r: &Req) -> Reply {
    let Some(o) = w.get_mut(parent_path(r.path)) else {
        return Err(ApiError::not_found("This cluster does not exist"));
    };
    if o.data["status"] != "READY" {
        return Err(ApiError::conflict(format!(
            "The cluster is {}: it can only be updated when READY",
            o.data["status"]
        )));
    }
    let current = minor_of(o.data["version"].as_str().unwrap_or_default());
    let target = match r.body_str("strategy") {
        Some("NEXT_MINOR") => match o.data["nextUpgradeVersions"][0].as_str() {
            Some(next) => next.to_string(),
            None => {
                return Err(ApiError::bad_request(format!(
                    "No newer minor version than {current} is available"
                )));
            }
        },
        _ => current,
    };
    o.data["status"] = json!("UPDATING");
    o.data["updatedAt"] = json!(now_rfc3339());
    let path = parent_path(r.path).to_string();
    w.schedule(
        &path,
        1,
        vec![
            (ptr("status"), json!("READY")),
            (ptr("version"), patch_build(&target)),
            (ptr("nextUpgradeVersions"), next_upgrade_versions(&target)),
        ],
    );
    Ok((200, Value::Null))
}

fn valid_k8s_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn create_nodepool(
    w: &mut World,
    service: &str,
    kube_path: &str,
    b: &Value,
) -> Result<Value, ApiError> {
    let pools_path = format!("{kube_path}/nodepool");
    let name = match b.get("name").and_then(Value::as_str) {
        Some(n) => n.to_string(),
        None => format!("nodepool-{}", w.next_seq()),
    };
    if !valid_k8s_name(&name) {
        return Err(ApiError::bad_request(format!(
            "[name] {name:?} is not a valid node pool name (lowercase letters, digits and '-')"
        )));
    }
    if w.children(&pools_path)
        .any(|(_, o)| o.data["name"].as_str() == Some(&name))
    {
        return Err(ApiError::conflict(format!(
            "a node pool named {name} already exists"
        )));
    }
    let min = b["minNodes"].as_i64().unwrap_or(0);
    let max = b["maxNodes"].as_i64().unwrap_or(100);
    let desired = b["desiredNodes"].as_i64().unwrap_or(min.max(1));
    if min > desired || desired > max || min < 0 {
        return Err(ApiError::bad_request(format!(
            "[desiredNodes] must satisfy minNodes ({min}) <= desiredNodes ({desired}) <= maxNodes ({max})"
        )));
    }
    let id = w.uuid();
    let now = now_rfc3339();
    let data = json!({
        "id": id, "projectId": service, "name": name,
        "flavor": b.get("flavorName").cloned().unwrap_or(json!("b3-8")),
        "status": "INSTALLING", "sizeStatus": "UNDER_CAPACITY",
        "desiredNodes": desired, "minNodes": min, "maxNodes": max,
        "currentNodes": 0, "availableNodes": 0, "upToDateNodes": 0,
        "autoscale": b.get("autoscale").cloned().filter(|v| !v.is_null()).unwrap_or(json!(false)),
        "monthlyBilled": b.get("monthlyBilled").cloned().filter(|v| !v.is_null()).unwrap_or(json!(false)),
        "antiAffinity": b.get("antiAffinity").cloned().filter(|v| !v.is_null()).unwrap_or(json!(false)),
        "availabilityZones": b.get("availabilityZones").cloned().unwrap_or(Value::Null),
        "attachFloatingIps": b.get("attachFloatingIps").cloned().filter(|v| !v.is_null()).unwrap_or(json!({"enabled": false})),
        "autoscaling": b.get("autoscaling").cloned().filter(|v| !v.is_null()).unwrap_or(json!({
            "scaleDownUnneededTimeSeconds": 600, "scaleDownUnreadyTimeSeconds": 1200,
            "scaleDownUtilizationThreshold": 0.5})),
        "template": b.get("template").cloned().unwrap_or(json!({
            "metadata": {"annotations": {}, "finalizers": [], "labels": {}},
            "spec": {"taints": [], "unschedulable": false}})),
        "createdAt": now, "updatedAt": now,
    });
    let path = format!("{pools_path}/{id}");
    w.insert(path.clone(), "nodepool", data.clone());
    // The create answers an empty `projectId`; later reads show the project (FACTS.md).
    let mut answer = data;
    answer["projectId"] = json!("");
    w.schedule(
        &path,
        1,
        vec![
            (ptr("status"), json!("READY")),
            (ptr("sizeStatus"), json!("CAPACITY_OK")),
            (ptr("currentNodes"), json!(desired)),
            (ptr("availableNodes"), json!(desired)),
            (ptr("upToDateNodes"), json!(desired)),
        ],
    );
    Ok(answer)
}

fn check_nodepool_bounds(w: &World, r: &Req) -> Result<(), ApiError> {
    let Some(o) = w.get(r.path) else {
        return Ok(());
    };
    let get = |k: &str| {
        r.body
            .get(k)
            .and_then(Value::as_i64)
            .or_else(|| o.data[k].as_i64())
            .unwrap_or(0)
    };
    let (min, desired, max) = (get("minNodes"), get("desiredNodes"), get("maxNodes"));
    if min > desired || desired > max || min < 0 {
        return Err(ApiError::bad_request(format!(
            "[desiredNodes] must satisfy minNodes ({min}) <= desiredNodes ({desired}) <= maxNodes ({max})"
        )));
    }
    Ok(())
}

/// A network or subnet still used by a cluster, a database or a load balancer (even one
/// being deleted) cannot be deleted, as on OVH (its ports are in use).
fn check_not_in_use(w: &World, r: &Req) -> Result<(), ApiError> {
    let Some(o) = w.get(r.path) else {
        return Ok(());
    };
    let mut ids: Vec<String> = vec![r.path.rsplit('/').next().unwrap_or_default().to_string()];
    for region in o.data["regions"].as_array().into_iter().flatten() {
        if let Some(id) = region["openstackId"].as_str() {
            ids.push(id.to_string());
        }
    }
    let prefix = format!("{}/", r.path);
    for (p, sub) in w
        .objects
        .range(prefix.clone()..)
        .take_while(|(p, _)| p.starts_with(&prefix))
    {
        if sub.kind.ends_with("subnet") {
            ids.push(p.rsplit('/').next().unwrap_or_default().to_string());
        }
    }
    let project = format!("/cloud/project/{}/", r.param("serviceName"));
    let refs: [(&'static str, &[&str]); 3] = [
        (
            "kube",
            &["privateNetworkId", "nodesSubnetId", "loadBalancersSubnetId"],
        ),
        ("database", &["networkId", "subnetId"]),
        ("loadbalancer", &["vipNetworkId", "vipSubnetId"]),
    ];
    for (kind, fields) in refs {
        for (p, user) in w.of_kind(&project, kind) {
            if fields.iter().any(|f| {
                user.data[*f]
                    .as_str()
                    .is_some_and(|v| ids.iter().any(|i| i == v))
            }) {
                return Err(ApiError::conflict(format!(
                    "This network is still in use by {p} ({kind}); delete it first"
                )));
            }
        }
    }
    Ok(())
}

/// After a node pool update: check the bounds, walk UPSCALING/DOWNSCALING → READY.
fn resize_nodepool(w: &mut World, path: &str) {
    let Some(o) = w.get_mut(path) else { return };
    let desired = o.data["desiredNodes"].as_i64().unwrap_or(0);
    let current = o.data["currentNodes"].as_i64().unwrap_or(0);
    if desired != current {
        o.data["status"] = json!(if desired > current {
            "UPSCALING"
        } else {
            "DOWNSCALING"
        });
        w.schedule(
            path,
            0,
            vec![
                (ptr("currentNodes"), json!(desired)),
                (ptr("availableNodes"), json!(desired)),
                (ptr("upToDateNodes"), json!(desired)),
            ],
        );
    }
}

fn kubeconfig(w: &World, kube_path: &str) -> Reply {
    let Some(o) = w.get(kube_path) else {
        return Err(ApiError::not_found("This cluster does not exist"));
    };
    let url = o.data["url"].as_str().unwrap_or_default();
    let name = o.data["name"].as_str().unwrap_or_default();
    // The cluster's CA: a stand-in, the same at every request for one cluster, framed as PEM
    // (its body base64) so that Kubernetes clients parse the kubeconfig; it is no certificate.
    let id = o.data["id"].as_str().unwrap_or_default();
    let body = sim_kit::text::base64(format!("ovh-sim CA of cluster {id}").as_bytes());
    let ca = sim_kit::text::base64(
        format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n").as_bytes(),
    );
    Ok((
        200,
        json!({"content": format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: https://{url}\n  name: {name}\ncontexts:\n- context:\n    cluster: {name}\n    user: kubernetes-admin-{name}\n  name: kubernetes-admin@{name}\ncurrent-context: kubernetes-admin@{name}\nusers:\n- name: kubernetes-admin-{name}\n  user:\n    token: ovh-sim-token\n"
        )}),
    ))
}

fn kube_ips(w: &World, kube_path: &str) -> Value {
    w.get(kube_path)
        .map(|o| o.hidden["ipRestrictions"].clone())
        .filter(Value::is_array)
        .unwrap_or(json!([]))
}

fn set_kube_ips(w: &mut World, kube_path: &str, r: &Req) -> Reply {
    let Some(o) = w.get_mut(kube_path) else {
        return Err(ApiError::not_found("This cluster does not exist"));
    };
    let new: Vec<Value> = r.body["ips"].as_array().cloned().unwrap_or_default();
    let mut ips: Vec<Value> = if r.method == "PUT" {
        Vec::new()
    } else {
        o.hidden["ipRestrictions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    for ip in new {
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    o.hidden["ipRestrictions"] = Value::Array(ips.clone());
    Ok((200, Value::Array(ips)))
}

fn delete_kube_ip(w: &mut World, kube_path: &str, ip: &str) -> Reply {
    let Some(o) = w.get_mut(kube_path) else {
        return Err(ApiError::not_found("This cluster does not exist"));
    };
    let mut ips = o.hidden["ipRestrictions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let before = ips.len();
    ips.retain(|x| x.as_str() != Some(ip));
    if ips.len() == before {
        return Err(ApiError::not_found(format!(
            "IP restriction {ip} does not exist"
        )));
    }
    o.hidden["ipRestrictions"] = Value::Array(ips);
    Ok((200, Value::Null))
}

// ---------------------------------------------------------------------------------------
// Databases

fn create_database(w: &mut World, r: &Req, engine: &str) -> Reply {
    let service = r.param("serviceName").to_string();
    let b = r.body;
    for field in ["plan", "version"] {
        if b.get(field)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(ApiError::bad_request(format!(
                "[{field}] Property is mandatory"
            )));
        }
    }
    check_network_refs(w, &service, b, "networkId", &["subnetId"])?;
    let mut nodes_spec: Vec<(Value, Value)> = Vec::new();
    if let Some(list) = b["nodesList"].as_array() {
        for n in list {
            nodes_spec.push((n["flavor"].clone(), n["region"].clone()));
        }
    } else if b["nodesPattern"].is_object() {
        let p = &b["nodesPattern"];
        let count = p["number"].as_i64().unwrap_or(0);
        for _ in 0..count {
            nodes_spec.push((p["flavor"].clone(), p["region"].clone()));
        }
    }
    if nodes_spec.is_empty() {
        return Err(ApiError::bad_request(
            "[nodesList] one of nodesList or nodesPattern (with number >= 1) is mandatory",
        ));
    }
    if nodes_spec
        .iter()
        .any(|(f, reg)| !f.is_string() || !reg.is_string())
    {
        return Err(ApiError::bad_request(
            "[nodesList] every node needs a flavor and a region",
        ));
    }
    let id = w.uuid();
    let path = format!("{}/{id}", r.path);
    let now = now_rfc3339();
    let region = nodes_spec[0].1.clone();
    let flavor = nodes_spec[0].0.clone();
    let short: String = id.chars().filter(|c| *c != '-').take(8).collect();
    let port = 20184 + (w.next_seq() % 100) as i64;
    let domain = format!("{engine}-{short}.database.cloud.ovh.net");
    let user = if engine == "postgresql" || engine == "mysql" {
        "avnadmin"
    } else {
        "default"
    };
    let (scheme, tail) = match engine {
        "postgresql" => ("postgresql", "/defaultdb?sslmode=require"),
        "mysql" => ("mysql", "/defaultdb?ssl-mode=REQUIRED"),
        _ => ("rediss", ""),
    };
    let endpoints = json!([{
        "component": engine, "domain": domain, "port": port, "scheme": scheme, "ssl": true,
        "sslMode": if engine == "postgresql" { json!("require") } else { Value::Null },
        "path": if tail.is_empty() { Value::Null } else { json!("/defaultdb") },
        "uri": format!("{scheme}://{user}@{domain}:{port}{tail}"),
    }]);
    let ip_restrictions: Vec<Value> = b["ipRestrictions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| json!({"ip": x["ip"], "description": x.get("description").cloned().unwrap_or(json!("")), "status": "PENDING"}))
        .collect();
    let mut nodes = Vec::new();
    for (i, (fl, reg)) in nodes_spec.iter().enumerate() {
        let nid = w.uuid();
        nodes.push(json!({
            "id": nid, "name": format!("{engine}-{short}-{}.database.cloud.ovh.net", i + 1),
            "flavor": fl, "region": reg, "port": port, "role": "STANDARD",
            "status": "CREATING", "createdAt": now,
        }));
    }
    let data = json!({
        "id": id, "engine": engine, "category": "operational",
        "plan": b["plan"], "version": b["version"],
        "description": b.get("description").cloned().unwrap_or(json!("")),
        "status": "CREATING", "createdAt": now,
        "networkType": if b.get("networkId").is_some_and(|v| !v.is_null()) { "private" } else { "public" },
        "networkId": b.get("networkId").cloned().unwrap_or(Value::Null),
        "subnetId": b.get("subnetId").cloned().unwrap_or(Value::Null),
        "nodeNumber": nodes.len(), "flavor": flavor, "nodes": nodes,
        "disk": {"size": b["disk"]["size"].as_i64().unwrap_or(80), "type": "high-speed"},
        "storage": null,
        "ipRestrictions": ip_restrictions, "endpoints": endpoints,
        "backupTime": b.get("backupTime").cloned().filter(|v| !v.is_null()).unwrap_or(json!("22:00:00")),
        "maintenanceTime": b.get("maintenanceTime").cloned().filter(|v| !v.is_null()).unwrap_or(json!("04:00:00")),
        "backups": {"regions": [region], "time": b.get("backupTime").cloned().filter(|v| !v.is_null()).unwrap_or(json!("22:00:00")), "pitr": null, "retentionDays": 2},
        "capabilities": {}, "deletionProtection": false, "enablePrometheus": false,
    });
    w.insert(path.clone(), "database", data.clone());
    let mut patch = vec![(ptr("status"), json!("READY"))];
    for i in 0..nodes.len() {
        patch.push((format!("/nodes/{i}/status"), json!("READY")));
    }
    for i in 0..ip_restrictions.len() {
        patch.push((format!("/ipRestrictions/{i}/status"), json!("READY")));
    }
    w.schedule(&path, 1, patch);
    for n in &nodes {
        let np = format!("{path}/node/{}", n["id"].as_str().unwrap_or_default());
        w.insert(np.clone(), "db-node", n.clone());
        w.schedule(&np, 1, vec![(ptr("status"), json!("READY"))]);
    }
    let uid = w.uuid();
    let mut admin = json!({"id": uid, "username": user, "status": "READY", "createdAt": now});
    if engine == "postgresql" || engine == "mysql" {
        admin["roles"] = json!([]);
    } else {
        admin["categories"] = json!(["+@all"]);
        admin["channels"] = json!(["*"]);
        admin["commands"] = json!([]);
        admin["keys"] = json!(["*"]);
    }
    w.insert(format!("{path}/user/{uid}"), "db-user", admin);
    Ok((200, data))
}

fn update_database(w: &mut World, r: &Req) -> Reply {
    let Some(o) = w.get_mut(r.path) else {
        return Err(ApiError::not_found("This service does not exist"));
    };
    let mut patch = vec![(ptr("status"), json!("READY"))];
    if let Value::Object(fields) = r.body {
        for (k, v) in fields {
            if k == "ipRestrictions" {
                let list: Vec<Value> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| json!({"ip": x["ip"], "description": x.get("description").cloned().unwrap_or(json!("")), "status": "PENDING"}))
                    .collect();
                for i in 0..list.len() {
                    patch.push((format!("/ipRestrictions/{i}/status"), json!("READY")));
                }
                o.data[k] = Value::Array(list);
            } else if k == "disk" {
                o.data["disk"]["size"] = v["size"].clone();
            } else {
                o.data[k] = v.clone();
            }
        }
    }
    o.data["status"] = json!("UPDATING");
    w.schedule(r.path, 1, patch);
    Ok((
        200,
        w.get(r.path).map(|o| o.data.clone()).unwrap_or(Value::Null),
    ))
}

fn create_db_user(w: &mut World, r: &Req) -> Reply {
    let b = r.body;
    let Some(name) = b.get("name").and_then(Value::as_str) else {
        return Err(ApiError::bad_request("[name] Property is mandatory"));
    };
    if w.children(r.path)
        .any(|(_, o)| o.data["username"].as_str() == Some(name))
    {
        return Err(ApiError::conflict(format!("user {name} already exists")));
    }
    let id = w.uuid();
    let mut data =
        json!({"id": id, "username": name, "status": "READY", "createdAt": now_rfc3339()});
    if let Value::Object(fields) = b {
        for (k, v) in fields.iter().filter(|(k, _)| *k != "name") {
            data[k] = v.clone();
        }
    }
    w.insert(format!("{}/{id}", r.path), "db-user", data.clone());
    data["password"] = json!(w.password());
    Ok((200, data))
}

fn reset_db_password(w: &mut World, user_path: &str) -> Reply {
    let password = w.password();
    let Some(o) = w.get(user_path) else {
        return Err(ApiError::not_found("This user does not exist"));
    };
    let mut data = o.data.clone();
    data["password"] = json!(password);
    Ok((200, data))
}

// ---------------------------------------------------------------------------------------
// Load balancing (Octavia)

fn ensure_lb_flavors(w: &mut World, service: &str, region: &str) {
    let base = format!("/cloud/project/{service}/region/{region}/loadbalancing/flavor");
    if w.children(&base).next().is_some() {
        return;
    }
    for name in ["small", "medium", "large", "xl"] {
        let id = w.uuid();
        w.insert(
            format!("{base}/{id}"),
            "lb-flavor",
            json!({"id": id, "name": name, "region": region}),
        );
    }
}

fn create_operation(
    w: &mut World,
    service: &str,
    action: &str,
    region: &str,
    resource: &str,
) -> Value {
    let id = w.uuid();
    let now = now_rfc3339();
    let path = format!("/cloud/project/{service}/operation/{id}");
    let data = json!({
        "id": id, "action": action, "status": "in-progress", "progress": 0,
        "createdAt": now, "startedAt": now, "completedAt": null,
        "regions": [region], "resourceId": null, "subOperations": null,
    });
    w.insert(path.clone(), "operation", data.clone());
    w.schedule(
        &path,
        1,
        vec![
            (ptr("status"), json!("completed")),
            (ptr("progress"), json!(100)),
            (ptr("completedAt"), json!(now_rfc3339())),
            (ptr("resourceId"), json!(resource)),
        ],
    );
    data
}

fn provisioning_patch() -> Vec<(String, Value)> {
    vec![
        (ptr("provisioningStatus"), json!("active")),
        (ptr("operatingStatus"), json!("online")),
    ]
}

fn create_loadbalancer(w: &mut World, r: &Req) -> Reply {
    let service = r.param("serviceName").to_string();
    let region = r.param("regionName").to_string();
    let b = r.body;
    let flavor = b["flavorId"].as_str().unwrap_or_default();
    let flavor_path = format!("{}/flavor/{flavor}", parent_path(r.path));
    if w.get(&flavor_path).is_none() {
        return Err(ApiError::bad_request(format!(
            "[flavorId] load balancer flavor {flavor} does not exist in region {region}"
        )));
    }
    let net = &b["network"]["private"]["network"];
    let net_id = net["id"].as_str().unwrap_or_default();
    let subnet_id = net["subnetId"].as_str().unwrap_or_default();
    if !network_exists(w, &service, net_id) {
        return Err(ApiError::bad_request(format!(
            "[network.private.network.id] private network {net_id} not found"
        )));
    }
    let Some(subnet) = find_subnet(w, &service, subnet_id) else {
        return Err(ApiError::bad_request(format!(
            "[network.private.network.subnetId] subnet {subnet_id} not found"
        )));
    };
    let cidr = subnet["cidr"].as_str().unwrap_or("10.0.0.0/24").to_string();
    let vip = parse_v4_cidr(&cidr).map_or_else(
        || "10.0.0.10".to_string(),
        |(n, _)| host(n, 100 + (w.next_seq() % 100) as u32),
    );
    let id = w.uuid();
    let now = now_rfc3339();
    // `floatingIpCreate` attaches a new public IP to the VIP (`floatingIp` an existing one):
    // the load balancer shows it as `floatingIp {id, ip}`. The simulator keeps it inside the
    // load balancer, so it goes with it.
    let private = &b["network"]["private"];
    let floating_ip =
        if private["floatingIpCreate"].is_object() || private["floatingIp"].is_object() {
            let n = w.next_seq();
            let fip_id = private["floatingIp"]["id"]
                .as_str()
                .map_or_else(|| w.uuid(), str::to_string);
            json!({"id": fip_id, "ip": format!("51.159.{}.{}", (n / 250) % 250, 1 + n % 250)})
        } else {
            Value::Null
        };
    let data = json!({
        "id": id, "name": b.get("name").cloned().unwrap_or(json!("")), "region": region,
        "flavorId": flavor, "vipAddress": vip, "vipNetworkId": net_id, "vipSubnetId": subnet_id,
        "provisioningStatus": "creating", "operatingStatus": "offline", "floatingIp": floating_ip,
        "createdAt": now, "updatedAt": now,
    });
    let path = format!("{}/{id}", r.path);
    w.insert(path.clone(), "loadbalancer", data);
    w.schedule(&path, 1, provisioning_patch());
    let base = parent_path(r.path).to_string();
    for l in b["listeners"].as_array().cloned().unwrap_or_default() {
        let mut lb = json!({"loadbalancerId": id, "port": l["port"], "protocol": l["protocol"],
            "name": l.get("name").cloned().unwrap_or(json!(format!("listener-{}", l["port"])))});
        for k in [
            "allowedCidrs",
            "description",
            "timeoutClientData",
            "timeoutMemberData",
            "tlsVersions",
        ] {
            if let Some(v) = l.get(k) {
                lb[k] = v.clone();
            }
        }
        create_listener(w, &base, &lb)?;
    }
    let op = create_operation(w, &service, "loadbalancer#create", &region, &id);
    Ok((200, op))
}

fn lb_path(base: &str, id: &str) -> String {
    format!("{base}/loadbalancer/{id}")
}

fn create_listener(w: &mut World, base: &str, b: &Value) -> Result<Value, ApiError> {
    let lb = b["loadbalancerId"].as_str().unwrap_or_default();
    if w.get(&lb_path(base, lb))
        .is_none_or(|o| o.remove_at.is_some())
    {
        return Err(ApiError::bad_request(format!(
            "[loadbalancerId] load balancer {lb} not found"
        )));
    }
    let coll = format!("{base}/listener");
    if w.children(&coll).any(|(_, o)| {
        o.data["port"] == b["port"]
            && o.data["loadBalancerIds"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(lb)))
    }) {
        return Err(ApiError::conflict(format!(
            "a listener already uses port {} on {lb}",
            b["port"]
        )));
    }
    let id = w.uuid();
    let mut data = json!({
        "id": id, "name": b["name"], "port": b["port"], "protocol": b["protocol"],
        "loadBalancerIds": [lb], "provisioningStatus": "creating", "operatingStatus": "offline",
    });
    for k in [
        "allowedCidrs",
        "certificateId",
        "defaultPoolId",
        "description",
        "timeoutClientData",
        "timeoutMemberData",
        "tlsVersions",
    ] {
        data[k] = b.get(k).cloned().unwrap_or(Value::Null);
    }
    let path = format!("{coll}/{id}");
    w.insert(path.clone(), "listener", data.clone());
    w.schedule(&path, 1, provisioning_patch());
    Ok(data)
}

fn create_pool(w: &mut World, r: &Req) -> Reply {
    let base = parent_path(r.path).to_string();
    let b = r.body;
    let listener = b.get("listenerId").and_then(Value::as_str);
    let mut lb = b
        .get("loadbalancerId")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(l) = listener {
        let Some(lo) = w.get(&format!("{base}/listener/{l}")) else {
            return Err(ApiError::bad_request(format!(
                "[listenerId] listener {l} not found"
            )));
        };
        if lb.is_none() {
            lb = lo.data["loadBalancerIds"][0].as_str().map(str::to_string);
        }
    }
    let Some(lb) = lb else {
        return Err(ApiError::bad_request(
            "[loadbalancerId] one of loadbalancerId or listenerId is mandatory",
        ));
    };
    if w.get(&lb_path(&base, &lb)).is_none() {
        return Err(ApiError::bad_request(format!(
            "[loadbalancerId] load balancer {lb} not found"
        )));
    }
    let id = w.uuid();
    let data = json!({
        "id": id, "name": b.get("name").cloned().unwrap_or(json!("")), "algorithm": b["algorithm"],
        "protocol": b["protocol"], "listenerId": listener, "loadbalancerId": lb,
        "sessionPersistence": b.get("sessionPersistence").cloned().unwrap_or(Value::Null),
        "provisioningStatus": "creating", "operatingStatus": "offline",
    });
    let path = format!("{}/{id}", r.path);
    w.insert(path.clone(), "pool", data.clone());
    w.schedule(&path, 1, provisioning_patch());
    if let Some(l) = listener
        && let Some(lo) = w.get_mut(&format!("{base}/listener/{l}"))
        && lo.data["defaultPoolId"].is_null()
    {
        lo.data["defaultPoolId"] = json!(id);
    }
    Ok((200, data))
}

fn create_health_monitor(w: &mut World, r: &Req) -> Reply {
    let base = parent_path(r.path).to_string();
    let b = r.body;
    let pool = b["poolId"].as_str().unwrap_or_default();
    if w.get(&format!("{base}/pool/{pool}")).is_none() {
        return Err(ApiError::bad_request(format!(
            "[poolId] pool {pool} not found"
        )));
    }
    if w.children(r.path)
        .any(|(_, o)| o.data["poolId"].as_str() == Some(pool))
    {
        return Err(ApiError::conflict(format!(
            "pool {pool} already has a health monitor"
        )));
    }
    let id = w.uuid();
    let mut data = b.clone();
    data["id"] = json!(id);
    for k in ["maxRetriesDown", "httpConfiguration"] {
        if data.get(k).is_none() {
            data[k] = Value::Null;
        }
    }
    data["provisioningStatus"] = json!("creating");
    data["operatingStatus"] = json!("offline");
    let path = format!("{}/{id}", r.path);
    w.insert(path.clone(), "healthmonitor", data.clone());
    w.schedule(&path, 1, provisioning_patch());
    Ok((200, data))
}

fn create_members(w: &mut World, r: &Req) -> Reply {
    let mut out = Vec::new();
    for m in r.body["members"].as_array().cloned().unwrap_or_default() {
        let id = w.uuid();
        let mut data = m.clone();
        data["id"] = json!(id);
        data["name"] = m.get("name").cloned().unwrap_or(json!(""));
        data["weight"] = m
            .get("weight")
            .cloned()
            .filter(|v| !v.is_null())
            .unwrap_or(json!(1));
        data["provisioningStatus"] = json!("creating");
        data["operatingStatus"] = json!("noMonitor");
        let path = format!("{}/{id}", r.path);
        w.insert(path.clone(), "member", data.clone());
        w.schedule(&path, 1, vec![(ptr("provisioningStatus"), json!("active"))]);
        out.push(data);
    }
    Ok((200, Value::Array(out)))
}

/// Deleting a load balancer deletes its listeners, pools and their health monitors.
fn cascade_loadbalancer(w: &mut World, lb_path: &str, id: &str) {
    let base = parent_path(parent_path(lb_path)).to_string();
    let mut doomed = Vec::new();
    for (p, o) in w.children(&format!("{base}/listener")) {
        if o.data["loadBalancerIds"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(id)))
        {
            doomed.push(p.clone());
        }
    }
    let mut pools = Vec::new();
    for (p, o) in w.children(&format!("{base}/pool")) {
        if o.data["loadbalancerId"].as_str() == Some(id) {
            doomed.push(p.clone());
            pools.push(p.rsplit('/').next().unwrap_or_default().to_string());
        }
    }
    for (p, o) in w.children(&format!("{base}/healthMonitor")) {
        if o.data["poolId"]
            .as_str()
            .is_some_and(|x| pools.iter().any(|y| y == x))
        {
            doomed.push(p.clone());
        }
    }
    for p in doomed {
        w.delete_tree(&p);
    }
}

fn cascade_pool(w: &mut World, pool_path: &str, id: &str) {
    let base = parent_path(parent_path(pool_path)).to_string();
    let doomed: Vec<String> = w
        .children(&format!("{base}/healthMonitor"))
        .filter(|(_, o)| o.data["poolId"].as_str() == Some(id))
        .map(|(p, _)| p.clone())
        .collect();
    for p in doomed {
        w.delete_tree(&p);
    }
    let listeners: Vec<String> = w
        .children(&format!("{base}/listener"))
        .filter(|(_, o)| o.data["defaultPoolId"].as_str() == Some(id))
        .map(|(p, _)| p.clone())
        .collect();
    for p in listeners {
        if let Some(o) = w.get_mut(&p) {
            o.data["defaultPoolId"] = Value::Null;
        }
    }
}

// ---------------------------------------------------------------------------------------
// CDN dedicated

fn ensure_cdn_service(w: &mut World, service: &str) {
    if service.is_empty() {
        return;
    }
    let path = format!("/cdn/dedicated/{service}");
    if w.get(&path).is_none() {
        w.insert(
            path,
            "cdn-service",
            json!({
                "service": service, "anycast": "213.186.33.10", "backendLimit": 8, "backendUse": 0,
                "cacheRuleLimitPerDomain": 100, "logUrl": format!("https://logs.cdn.ovh.net/{service}"),
                "offer": "cdn-business", "quota": 1000, "lastQuotaOrder": null, "iam": null,
            }),
        );
    }
}

fn domain_of(path: &str) -> String {
    let segs: Vec<&str> = path.split('/').collect();
    // ["", "cdn", "dedicated", service, "domains", domain, ...]
    segs.iter().take(6).copied().collect::<Vec<_>>().join("/")
}

fn create_cdn_domain(w: &mut World, r: &Req) -> Reply {
    let domain = r.body_str("domain").unwrap_or_default().to_lowercase();
    if domain.is_empty() || !domain.contains('.') || domain.contains('/') {
        return Err(ApiError::bad_request(format!(
            "[domain] {domain:?} is not a domain name"
        )));
    }
    let path = format!("{}/{domain}", r.path);
    if w.get(&path).is_some() {
        return Err(ApiError::conflict(format!(
            "domain {domain} already exists on this CDN"
        )));
    }
    let service = r.param("serviceName");
    let data = json!({
        "domain": domain, "cname": format!("{domain}.{service}.cdn.ovh.net"),
        "status": "off", "type": "plain", "cacheRuleUse": 0,
    });
    w.insert(path.clone(), "cdn-domain", data.clone());
    w.schedule(&path, 1, vec![(ptr("status"), json!("on"))]);
    Ok((200, data))
}

fn create_cdn_backend(w: &mut World, r: &Req) -> Reply {
    let ip = r.body_str("ip").unwrap_or_default().to_string();
    if ip.parse::<Ipv4Addr>().is_err() {
        return Err(ApiError::bad_request(format!(
            "[ip] {ip} is not an IPv4 address"
        )));
    }
    let path = format!("{}/{ip}", r.path);
    if w.get(&path).is_some() {
        return Err(ApiError::conflict(format!("backend {ip} already exists")));
    }
    let service_path = format!("/cdn/dedicated/{}", r.param("serviceName"));
    let used = w
        .of_kind(&format!("{service_path}/"), "cdn-backend")
        .count() as i64;
    let limit = w
        .get(&service_path)
        .and_then(|o| o.data["backendLimit"].as_i64())
        .unwrap_or(8);
    if used >= limit {
        return Err(ApiError::forbidden(format!(
            "backend limit ({limit}) reached on this CDN"
        )));
    }
    let data = json!({"ip": ip});
    w.insert(path, "cdn-backend", data.clone());
    if let Some(o) = w.get_mut(&service_path) {
        o.data["backendUse"] = json!(used + 1);
    }
    Ok((200, data))
}

fn create_cdn_cache_rule(w: &mut World, r: &Req) -> Reply {
    let b = r.body;
    let domain = r.param("domain").to_string();
    let id = w.next_seq() as i64;
    let data = json!({
        "cacheRuleId": id, "domain": domain, "cacheType": b["cacheType"], "fileMatch": b["fileMatch"],
        "fileType": b["fileType"], "ttl": b["ttl"], "status": "creating",
    });
    let path = format!("{}/{id}", r.path);
    w.insert(path.clone(), "cdn-cacherule", data.clone());
    w.schedule(&path, 1, vec![(ptr("status"), json!("on"))]);
    let domain_path = parent_path(r.path).to_string();
    let count = w.children(r.path).count();
    if let Some(o) = w.get_mut(&domain_path) {
        o.data["cacheRuleUse"] = json!(count);
    }
    Ok((200, data))
}

fn create_cdn_task(w: &mut World, domain_path: &str, function: &str) -> Value {
    let id = w.next_seq() as i64;
    let data = json!({"taskId": id, "function": function, "status": "todo", "comment": null});
    let path = format!("{domain_path}/tasks/{id}");
    w.insert(path.clone(), "cdn-task", data.clone());
    w.schedule(&path, 0, vec![(ptr("status"), json!("doing"))]);
    w.schedule(&path, 1, vec![(ptr("status"), json!("done"))]);
    // A task outlives the removal of its domain long enough to be polled (three steps), then
    // goes with it.
    let removing = w.get(domain_path).is_none_or(|d| d.remove_at.is_some());
    let expiry = std::time::Instant::now() + w.step * 3;
    if let Some(o) = w.get_mut(&path) {
        o.remove_at = removing.then_some(expiry);
    }
    data
}
