//! Compute Engine v1: every global (`projects/P/global/C[/N]`) and regional
//! (`projects/P/regions/R/C[/N]`) collection through its `insert`, `get`, `list`, `delete`,
//! `patch` and `update` methods, and `globalOperations` / `regionOperations` (`get`, `list`,
//! `wait`, `delete`). Resource-specific defaults and reference checks for networks,
//! subnetworks, health checks, backend services (CDN), URL maps, target HTTP(S) proxies and
//! global forwarding rules.

use serde_json::{Value, json};

use crate::api::{Outcome, Req, begin_op, name_filter, op_body, rfc1035};
use crate::discovery::Api;
use crate::world::{self, ApiError, Effect, World, key, now_rfc3339, paginate};

/// The fields of a collection's objects that reference other compute objects (checked to
/// exist at insert; an object so referenced cannot be deleted).
pub fn ref_fields(coll: &str) -> &'static [&'static str] {
    match coll {
        "subnetworks" => &["network"],
        "backendServices" => &["healthChecks"],
        "urlMaps" => &["defaultService"],
        "targetHttpProxies" | "targetHttpsProxies" => &["urlMap"],
        "forwardingRules" => &["target", "network", "subnetwork"],
        _ => &[],
    }
}

/// The object key a reference (full URL, `projects/…` or `global/…` / `regions/…` partial
/// URL) designates; `None` for a bare name.
fn resolve_ref(project: &str, s: &str) -> Option<String> {
    if let Some(i) = s.find("projects/") {
        return Some(key(Api::Compute, &s[i..]));
    }
    if s.starts_with("global/") || s.starts_with("regions/") {
        return Some(key(Api::Compute, &format!("projects/{project}/{s}")));
    }
    None
}

fn refs_of(data: &Value, coll: &str, project: &str) -> Vec<String> {
    let mut out = Vec::new();
    for f in ref_fields(coll) {
        match &data[*f] {
            Value::String(s) => out.extend(resolve_ref(project, s)),
            Value::Array(a) => out.extend(
                a.iter()
                    .filter_map(Value::as_str)
                    .filter_map(|s| resolve_ref(project, s)),
            ),
            _ => {}
        }
    }
    out
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

pub fn dispatch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let resource = r.method.name.split('.').next().unwrap_or_default();
    if resource == "globalOperations" || resource == "regionOperations" {
        return operations(w, r);
    }
    if r.seg(0) != "projects" {
        return Err(r.unimplemented());
    }
    let scope_len = match r.seg(2) {
        "global" => 3,
        "regions" => 4,
        _ => return Err(r.unimplemented()),
    };
    let rest = r.segs.len().saturating_sub(scope_len);
    match (r.method.verb(), rest) {
        ("insert", 1) => insert(w, r, scope_len),
        ("list", 1) => list(w, r, scope_len),
        ("get", 2) => get(w, r),
        ("delete", 2) => delete(w, r, scope_len),
        ("patch" | "update", 2) => patch(w, r, scope_len),
        _ => Err(r.unimplemented()),
    }
}

fn base(r: &Req) -> String {
    format!("{}/compute/v1/", r.urls.compute)
}

fn path_of(r: &Req) -> String {
    r.segs.join("/")
}

fn not_found(path: &str) -> ApiError {
    ApiError::not_found(format!("The resource '{path}' was not found"))
}

/// Starts a compute operation on `target_key`.
#[allow(clippy::too_many_arguments)]
fn start(
    w: &mut World,
    r: &Req,
    region: Option<&str>,
    op_type: &str,
    target_link: &str,
    target_id: &str,
    target_key: &str,
    effects: Vec<Effect>,
) -> Outcome {
    let project = r.seg(1).to_string();
    let name = w.op_name();
    let scope = match region {
        Some(reg) => format!("projects/{project}/regions/{reg}"),
        None => format!("projects/{project}/global"),
    };
    let op_path = format!("{scope}/operations/{name}");
    let mut data = json!({
        "kind": "compute#operation",
        "id": w.numeric_id(),
        "name": name,
        "operationType": op_type,
        "targetLink": target_link,
        "targetId": target_id,
        "status": "PENDING",
        "user": r.user,
        "progress": 0,
        "insertTime": now_rfc3339(),
        "selfLink": format!("{}{op_path}", base(r)),
    });
    if let Some(reg) = region {
        data["region"] = json!(format!("{}projects/{project}/regions/{reg}", base(r)));
    }
    begin_op(w, Api::Compute, &op_path, data, target_key, effects)
}

fn insert(w: &mut World, r: &Req, scope_len: usize) -> Result<Outcome, ApiError> {
    let project = r.seg(1).to_string();
    let region = (scope_len == 4).then(|| r.seg(3).to_string());
    let coll = r.seg(scope_len).to_string();
    let mut data = r.body.clone();
    if !data.is_object() {
        data = json!({});
    }
    let name = data["name"].as_str().unwrap_or_default().to_string();
    if !rfc1035(&name) {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.name': '{name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?)'"
        )));
    }
    let path = format!("{}/{name}", path_of(r));
    let obj_key = key(Api::Compute, &path);
    if w.objects.contains_key(&obj_key) {
        return Err(ApiError::already_exists(format!(
            "The resource '{path}' already exists"
        )));
    }
    for target in refs_of(&data, &coll, &project) {
        if !w.objects.contains_key(&target) {
            let shown = target.split_once(':').map_or(target.as_str(), |(_, p)| p);
            return Err(not_found(shown));
        }
    }
    let self_link = format!("{}{path}", base(r));
    let id = w.numeric_id();
    let schema = r.method.request.clone().unwrap_or_default();
    data["kind"] = json!(format!("compute#{}", lower_first(&schema)));
    data["id"] = json!(id);
    data["creationTimestamp"] = json!(now_rfc3339());
    data["selfLink"] = json!(self_link);
    if let Some(reg) = &region {
        data["region"] = json!(format!("{}projects/{project}/regions/{reg}", base(r)));
    }
    defaults(w, r, &coll, &mut data)?;
    let effects = Vec::new();
    if coll == "subnetworks"
        && let Some(net) = data["network"]
            .as_str()
            .and_then(|s| resolve_ref(&project, s))
        && let Some(n) = w.objects.get_mut(&net)
    {
        // Compute keeps the network's subnetwork list up to date.
        match n.data["subnetworks"].as_array_mut() {
            Some(a) => a.push(json!(self_link)),
            None => n.data["subnetworks"] = json!([self_link]),
        }
        data["network"] = json!(format!(
            "{}{}",
            base(r),
            net.split_once(':').map_or("", |(_, p)| p)
        ));
    }
    if coll == "forwardingRules" && scope_len == 3 && data.get("IPAddress").is_none() {
        let ip = w.address("34.117");
        data["IPAddress"] = json!(ip);
    }
    w.insert(obj_key.clone(), &format!("compute:{coll}"), data);
    Ok(start(
        w,
        r,
        region.as_deref(),
        "insert",
        &self_link,
        &id,
        &obj_key,
        effects,
    ))
}

/// A fingerprint: 8 random bytes in URL-safe base64, as Compute Engine writes them (and as
/// Google's compute client decodes them).
fn fingerprint(w: &mut World) -> String {
    let bytes: Vec<u8> = (0..8).map(|_| w.roll().to_bits() as u8).collect();
    world::base64(&bytes).replace('+', "-").replace('/', "_")
}

/// Server-side defaults per collection.
fn defaults(w: &mut World, r: &Req, coll: &str, data: &mut Value) -> Result<(), ApiError> {
    let set = |data: &mut Value, k: &str, v: Value| {
        if data.get(k).is_none_or(Value::is_null) {
            data[k] = v;
        }
    };
    match coll {
        "networks" => {
            if data.get("autoCreateSubnetworks").is_none() && data.get("IPv4Range").is_none() {
                data["autoCreateSubnetworks"] = json!(true);
            }
            set(
                data,
                "routingConfig",
                json!({"routingMode": "REGIONAL", "bgpBestPathSelectionMode": "LEGACY"}),
            );
            set(data, "mtu", json!(1460));
            set(
                data,
                "networkFirewallPolicyEnforcementOrder",
                json!("AFTER_CLASSIC_FIREWALL"),
            );
            set(data, "subnetworks", json!([]));
        }
        "subnetworks" => {
            let Some(cidr) = data["ipCidrRange"].as_str().map(str::to_string) else {
                return Err(ApiError::invalid(
                    "Invalid value for field 'resource.ipCidrRange': ''. Invalid IPCidrRange: ",
                ));
            };
            let Some((net, bits)) = parse_cidr(&cidr) else {
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'resource.ipCidrRange': '{cidr}'. Invalid IPCidrRange: {cidr}"
                )));
            };
            // Overlap with another subnetwork of the same network.
            let network = data["network"].as_str().unwrap_or_default().to_string();
            let project = r.seg(1);
            let net_key = resolve_ref(project, &network);
            for (k, o) in &w.objects {
                if o.kind == "compute:subnetworks"
                    && o.data["network"]
                        .as_str()
                        .and_then(|s| resolve_ref(project, s))
                        == net_key
                    && let Some((n2, b2)) = o.data["ipCidrRange"].as_str().and_then(parse_cidr)
                    && overlaps(net, bits, n2, b2)
                {
                    return Err(ApiError::invalid(format!(
                        "Invalid IPCidrRange: {cidr} conflicts with existing subnetwork '{}' in region '{}'.",
                        o.data["name"].as_str().unwrap_or_default(),
                        k.rsplit("/regions/")
                            .next()
                            .and_then(|s| s.split('/').next())
                            .unwrap_or_default()
                    )));
                }
            }
            let gw = net + 1;
            data["gatewayAddress"] = json!(format!(
                "{}.{}.{}.{}",
                gw >> 24,
                (gw >> 16) & 255,
                (gw >> 8) & 255,
                gw & 255
            ));
            set(data, "privateIpGoogleAccess", json!(false));
            set(data, "purpose", json!("PRIVATE"));
            set(data, "stackType", json!("IPV4_ONLY"));
            data["fingerprint"] = json!(fingerprint(w));
        }
        "healthChecks" => {
            set(data, "checkIntervalSec", json!(5));
            set(data, "timeoutSec", json!(5));
            set(data, "healthyThreshold", json!(2));
            set(data, "unhealthyThreshold", json!(2));
        }
        "backendServices" => {
            set(data, "loadBalancingScheme", json!("EXTERNAL"));
            set(data, "protocol", json!("HTTP"));
            set(data, "port", json!(80));
            set(data, "portName", json!("http"));
            set(data, "timeoutSec", json!(30));
            set(data, "sessionAffinity", json!("NONE"));
            set(data, "affinityCookieTtlSec", json!(0));
            set(
                data,
                "connectionDraining",
                json!({"drainingTimeoutSec": 300}),
            );
            set(data, "enableCDN", json!(false));
            if data["enableCDN"] == json!(true) {
                let mut cdn = json!({
                    "cacheMode": "CACHE_ALL_STATIC",
                    "defaultTtl": 3600,
                    "clientTtl": 3600,
                    "maxTtl": 86400,
                    "negativeCaching": false,
                    "serveWhileStale": 0,
                    "signedUrlCacheMaxAgeSec": "0",
                    "cacheKeyPolicy": {"includeProtocol": true, "includeHost": true, "includeQueryString": true},
                });
                if let Some(given) = data.get("cdnPolicy").filter(|v| v.is_object()) {
                    world::merge(&mut cdn, given);
                }
                data["cdnPolicy"] = cdn;
            }
            data["fingerprint"] = json!(fingerprint(w));
        }
        "urlMaps" | "targetHttpProxies" | "targetHttpsProxies" => {
            if coll != "urlMaps" {
                set(data, "quicOverride", json!("NONE"));
            }
            data["fingerprint"] = json!(fingerprint(w));
        }
        "forwardingRules" => {
            set(data, "IPProtocol", json!("TCP"));
            set(data, "loadBalancingScheme", json!("EXTERNAL"));
            set(data, "networkTier", json!("PREMIUM"));
            set(data, "ipVersion", json!("IPV4"));
            data["fingerprint"] = json!(fingerprint(w));
            data["labelFingerprint"] = json!("42WmSpB8rSM=");
        }
        _ => {}
    }
    Ok(())
}

/// `a.b.c.d/n` → (network address, prefix length).
pub fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (ip, bits) = s.split_once('/')?;
    let bits: u32 = bits.parse().ok().filter(|b| *b <= 32)?;
    let octets: Vec<u32> = ip
        .split('.')
        .map(|o| o.parse::<u8>().map(u32::from))
        .collect::<Result<_, _>>()
        .ok()?;
    let [a, b, c, d] = octets.as_slice() else {
        return None;
    };
    let addr = (a << 24) | (b << 16) | (c << 8) | d;
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    Some((addr & mask, bits))
}

fn overlaps(n1: u32, b1: u32, n2: u32, b2: u32) -> bool {
    let b = b1.min(b2);
    let mask = if b == 0 { 0 } else { u32::MAX << (32 - b) };
    n1 & mask == n2 & mask
}

fn list(w: &mut World, r: &Req, scope_len: usize) -> Result<Outcome, ApiError> {
    let coll_path = path_of(r);
    let prefix = format!("{}/", key(Api::Compute, &coll_path));
    let wanted = name_filter(r.q("filter"));
    let items: Vec<Value> = w
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| !k[prefix.len()..].contains('/'))
        .filter(|(_, o)| wanted.as_deref().is_none_or(|n| o.data["name"] == json!(n)))
        .map(|(_, o)| o.data.clone())
        .collect();
    let (max, token) = r.page();
    let (page, next) = paginate(items, max, token);
    let schema = r
        .method
        .response
        .clone()
        .unwrap_or_else(|| format!("{}List", r.seg(scope_len)));
    let mut body = json!({
        "kind": format!("compute#{}", lower_first(&schema)),
        "id": coll_path,
        "items": page,
        "selfLink": format!("{}{coll_path}", base(r)),
    });
    if let Some(n) = next {
        body["nextPageToken"] = json!(n);
    }
    Ok(Outcome::ok(body))
}

fn get(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = path_of(r);
    match w.objects.get(&key(Api::Compute, &path)) {
        Some(o) => Ok(Outcome::ok(o.data.clone())),
        None => Err(not_found(&path)),
    }
}

fn delete(w: &mut World, r: &Req, scope_len: usize) -> Result<Outcome, ApiError> {
    let path = path_of(r);
    let obj_key = key(Api::Compute, &path);
    let project = r.seg(1).to_string();
    let Some(obj) = w.objects.get(&obj_key) else {
        return Err(not_found(&path));
    };
    let coll = r.seg(scope_len).to_string();
    let (self_link, id, data) = (
        obj.data["selfLink"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        obj.data["id"].as_str().unwrap_or_default().to_string(),
        obj.data.clone(),
    );
    for (k, o) in &w.objects {
        let other_coll = o.kind.strip_prefix("compute:").unwrap_or_default();
        if k != &obj_key && !o.deleting && refs_of(&o.data, other_coll, &project).contains(&obj_key)
        {
            let user = k.split_once(':').map_or(k.as_str(), |(_, p)| p);
            return Err(ApiError::new(
                400,
                "FAILED_PRECONDITION",
                "resourceInUseByAnotherResource",
                format!(
                    "The {} resource '{path}' is already being used by '{user}'",
                    singular(&coll)
                ),
            ));
        }
    }
    if coll == "networks"
        && data["subnetworks"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    {
        let first = data["subnetworks"][0]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let user = first
            .find("projects/")
            .map_or(first.as_str(), |i| &first[i..]);
        return Err(ApiError::new(
            400,
            "FAILED_PRECONDITION",
            "resourceInUseByAnotherResource",
            format!("The network resource '{path}' is already being used by '{user}'"),
        ));
    }
    let mut effects = vec![Effect::Remove(obj_key.clone())];
    if coll == "subnetworks"
        && let Some(net) = data["network"]
            .as_str()
            .and_then(|s| resolve_ref(&project, s))
    {
        effects.push(Effect::Unlink(
            net,
            "subnetworks".to_string(),
            self_link.clone(),
        ));
    }
    if let Some(o) = w.objects.get_mut(&obj_key) {
        o.deleting = true;
    }
    let region = (scope_len == 4).then(|| r.seg(3).to_string());
    Ok(start(
        w,
        r,
        region.as_deref(),
        "delete",
        &self_link,
        &id,
        &obj_key,
        effects,
    ))
}

fn singular(coll: &str) -> String {
    match coll {
        "networks" => "network".to_string(),
        "subnetworks" => "subnetwork".to_string(),
        other => other.trim_end_matches('s').to_string(),
    }
}

fn patch(w: &mut World, r: &Req, scope_len: usize) -> Result<Outcome, ApiError> {
    let path = path_of(r);
    let obj_key = key(Api::Compute, &path);
    let fp_new = fingerprint(w);
    let Some(obj) = w.objects.get_mut(&obj_key) else {
        return Err(not_found(&path));
    };
    if let (Some(given), Some(current)) = (
        r.body["fingerprint"].as_str(),
        obj.data["fingerprint"].as_str(),
    ) && given != current
    {
        return Err(ApiError::new(
            412,
            "FAILED_PRECONDITION",
            "conditionNotMet",
            format!("Supplied fingerprint does not match current fingerprint of '{path}'."),
        ));
    }
    let mut body = r.body.clone();
    if let Some(m) = body.as_object_mut() {
        for k in [
            "name",
            "kind",
            "id",
            "selfLink",
            "creationTimestamp",
            "fingerprint",
            "region",
        ] {
            m.remove(k);
        }
    }
    world::merge(&mut obj.data, &body);
    if obj.data.get("fingerprint").is_some() {
        obj.data["fingerprint"] = json!(fp_new);
    }
    let self_link = obj.data["selfLink"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let id = obj.data["id"].as_str().unwrap_or_default().to_string();
    let region = (scope_len == 4).then(|| r.seg(3).to_string());
    let verb = r.method.verb().to_string();
    Ok(start(
        w,
        r,
        region.as_deref(),
        &verb,
        &self_link,
        &id,
        &obj_key,
        Vec::new(),
    ))
}

fn operations(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = path_of(r);
    match r.method.verb() {
        "get" => {
            let k = key(Api::Compute, &path);
            op_body(w, &k).map(|b| Outcome::op(k, b))
        }
        "wait" => {
            let k = key(Api::Compute, path.trim_end_matches("/wait"));
            op_body(w, &k)?;
            Ok(Outcome::Wait(k))
        }
        "delete" => {
            let k = key(Api::Compute, &path);
            match w.ops.remove(&k) {
                Some(_) => Ok(Outcome::Reply {
                    status: 204,
                    body: Value::Null,
                    op: None,
                }),
                None => Err(not_found(&path)),
            }
        }
        "list" => {
            let prefix = format!("{}/", key(Api::Compute, &path));
            let items: Vec<Value> = w
                .ops
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(_, o)| o.data.clone())
                .collect();
            let (max, token) = r.page();
            let (page, next) = paginate(items, max, token);
            let mut body = json!({"kind": "compute#operationList", "id": path, "items": page, "selfLink": format!("{}{path}", base(r))});
            if let Some(n) = next {
                body["nextPageToken"] = json!(n);
            }
            Ok(Outcome::ok(body))
        }
        _ => Err(r.unimplemented()),
    }
}
