//! Compute Engine v1: every global (`projects/P/global/C[/N]`) and regional
//! (`projects/P/regions/R/C[/N]`) collection through its `insert`, `get`, `list`, `delete`,
//! `patch` and `update` methods, the custom methods the real logs use (`setLabels`,
//! `setTarget`, `setQuicOverride`, `setUrlMap`, `networks.removePeering`), `projects.get`,
//! and `globalOperations` / `regionOperations` (`get`, `list`, `wait`, `delete`).
//!
//! Every answer is shaped as the real Compute Engine answers in the recorded logs
//! (`../shared/real/gcp/compute/*.log` and the compute exchanges of the GKE, Redis and SQL
//! logs):
//!
//! * errors carry `code`, `message` and `errors[]` and no `status` (the envelope is cut in
//!   `lib.rs`; the messages and reasons are the real ones);
//! * a mutation answers its operation already `RUNNING` (`progress` 0, `startTime`), and the
//!   operation is `DONE` with `endTime` once done; `setLabels` answers an operation already
//!   `DONE`;
//! * empty lists are omitted (a network without subnetworks has no `subnetworks`), and
//!   references come back as full URLs;
//! * per collection, the server-side fields of the real GET answers (see [`defaults`]).
//!
//! References (`network`, `healthChecks`, the services of a URL map, `urlMap`,
//! `sslCertificates`, `service`, `target`) must exist (404), and a referenced object cannot
//! be deleted (`400 resourceInUseByAnotherResource`, with the real message).

use rand::Rng;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::api::{
    Outcome, Req, begin_op, name_filter, op_body, project_id, project_number, rfc1035,
};
use crate::discovery::Api;
use crate::world::set_default as set;
use crate::world::{self, ApiError, Effect, World, key, now_rfc3339, paginate};

/// The `labelFingerprint` of a resource without labels (the value Compute Engine answers
/// for an empty label set).
const EMPTY_LABELS_FINGERPRINT: &str = "42WmSpB8rSM=";

/// A request with its path made canonical: the project as an id (a project number is
/// accepted, as Google accepts it: the real `removePeering` of `sql/*privatenetwork*` is
/// sent to `projects/${projectNumber}/…`), and the scope segment spelled out (the real
/// `targetHttpsProxies.setUrlMap` path has no `global/`, as its discovery `flatPath`).
struct Call<'a> {
    r: &'a Req<'a>,
    segs: Vec<String>,
}

impl Call<'_> {
    fn seg(&self, i: usize) -> &str {
        self.segs.get(i).map_or("", String::as_str)
    }

    fn project(&self) -> &str {
        self.seg(1)
    }

    /// `projects/P/global` or `projects/P/regions/R`: 3 or 4 segments.
    fn scope_len(&self) -> usize {
        if self.seg(2) == "regions" { 4 } else { 3 }
    }

    fn region(&self) -> Option<&str> {
        (self.scope_len() == 4).then(|| self.seg(3))
    }

    fn coll(&self) -> &str {
        self.seg(self.scope_len())
    }

    /// The resource path (`projects/P/global/C/N`), without a custom method's verb.
    fn object_path(&self) -> String {
        let n = (self.scope_len() + 2).min(self.segs.len());
        self.segs[..n].join("/")
    }

    fn path(&self) -> String {
        self.segs.join("/")
    }

    fn base(&self) -> String {
        format!("{}/compute/v1/", self.r.urls.compute)
    }
}

pub fn dispatch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    if r.seg(0) != "projects" {
        return Err(r.unimplemented());
    }
    let mut segs = r.segs.clone();
    if let Some(p) = segs.get_mut(1) {
        *p = project_id(w, r.seg(1));
    }
    if !matches!(r.seg(2), "" | "global" | "regions" | "zones") {
        segs.insert(2, "global".to_string());
    }
    let c = Call { r, segs };
    let name = r.method.name.as_str();
    let resource = name.split('.').next().unwrap_or_default();
    if resource == "globalOperations" || resource == "regionOperations" {
        return operations(w, &c);
    }
    if name == "projects.get" {
        return Ok(Outcome::ok(project(w, &c)));
    }
    if !matches!(c.seg(2), "global" | "regions") {
        return Err(r.unimplemented());
    }
    let rest = c.segs.len().saturating_sub(c.scope_len());
    match (r.method.verb(), rest) {
        ("insert", 1) => insert(w, &c),
        ("list", 1) => list(w, &c),
        ("get", 2) => get(w, &c),
        ("delete", 2) => delete(w, &c),
        ("patch" | "update", 2) => patch(w, &c),
        ("setLabels", 3) => set_labels(w, &c),
        ("setTarget", 3) => set_field(w, &c, "target", "SetTarget"),
        ("setUrlMap", 3) => set_field(w, &c, "urlMap", "SetUrlMap"),
        ("setQuicOverride", 3) => set_field(
            w,
            &c,
            "quicOverride",
            "compute.targetHttpsProxies.setQuicOverride",
        ),
        ("removePeering", 3) => remove_peering(w, &c),
        _ => Err(r.unimplemented()),
    }
}

/// `projects.get`: the project, whose `id` is its number (what the real API answers, and
/// what callers read the project number from).
fn project(w: &mut World, c: &Call) -> Value {
    let p = c.project().to_string();
    json!({
        "kind": "compute#project",
        "id": project_number(&p),
        "name": p,
        "creationTimestamp": now_rfc3339(),
        "defaultNetworkTier": "PREMIUM",
        "xpnProjectStatus": "UNSPECIFIED_XPN_PROJECT_STATUS",
        "selfLink": format!("{}projects/{p}", c.base()),
        "defaultServiceAccount": format!("{}-compute@developer.gserviceaccount.com", project_number(&p)),
        "commonInstanceMetadata": {"kind": "compute#metadata", "fingerprint": fingerprint(w)},
    })
}

/// The fields of a collection's objects that reference other compute objects (checked to
/// exist at insert, returned as full URLs; an object so referenced cannot be deleted). URL
/// maps reference services at any depth (see [`URL_MAP_REF_KEYS`]).
fn ref_fields(coll: &str) -> &'static [&'static str] {
    match coll {
        "subnetworks" | "addresses" => &["network"],
        "backendServices" => &["healthChecks"],
        "targetHttpProxies" => &["urlMap"],
        "targetHttpsProxies" => &["urlMap", "sslCertificates"],
        "targetTcpProxies" => &["service"],
        "forwardingRules" => &["target", "network", "subnetwork"],
        _ => &[],
    }
}

/// The keys under which a URL map names a backend service or bucket, at any depth
/// (`defaultService`, `pathMatchers[].defaultService`, `pathRules[].service`, the
/// `errorService` of custom error response policies, weighted backend services).
const URL_MAP_REF_KEYS: &[&str] = &[
    "defaultService",
    "service",
    "errorService",
    "backendService",
];

/// The object key a reference (full URL, `projects/…` or `global/…` / `regions/…` partial
/// URL) designates; `None` for a bare name.
fn resolve_ref(w: &World, project: &str, s: &str) -> Option<String> {
    if let Some(i) = s.find("projects/") {
        let rel = &s[i..];
        let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
        if parts.len() > 1 {
            parts[1] = project_id(w, &parts[1]);
        }
        return Some(key(Api::Compute, &parts.join("/")));
    }
    if s.starts_with("global/") || s.starts_with("regions/") {
        return Some(key(Api::Compute, &format!("projects/{project}/{s}")));
    }
    None
}

/// Calls `f` on every reference string of an object of `coll`.
fn visit_refs(data: &mut Value, coll: &str, f: &mut dyn FnMut(&mut Value)) {
    fn strings(v: &mut Value, f: &mut dyn FnMut(&mut Value)) {
        match v {
            Value::String(_) => f(v),
            Value::Array(a) => a.iter_mut().for_each(|x| strings(x, f)),
            _ => {}
        }
    }
    fn deep(v: &mut Value, f: &mut dyn FnMut(&mut Value)) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if URL_MAP_REF_KEYS.contains(&k.as_str()) {
                        strings(x, f);
                    } else {
                        deep(x, f);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| deep(x, f)),
            _ => {}
        }
    }
    if coll == "urlMaps" {
        deep(data, f);
        return;
    }
    if let Some(m) = data.as_object_mut() {
        for field in ref_fields(coll) {
            if let Some(v) = m.get_mut(*field) {
                strings(v, f);
            }
        }
    }
}

/// The object keys an object of `coll` references.
fn refs_of(w: &World, data: &Value, coll: &str, project: &str) -> Vec<String> {
    let mut copy = data.clone();
    let mut out = Vec::new();
    visit_refs(&mut copy, coll, &mut |v| {
        if let Some(k) = v.as_str().and_then(|s| resolve_ref(w, project, s)) {
            out.push(k);
        }
    });
    out
}

/// Rewrites every reference of an object as the full URL Compute answers.
fn normalize_refs(w: &World, c: &Call, coll: &str, data: &mut Value) {
    let base = c.base();
    let project = c.project().to_string();
    visit_refs(data, coll, &mut |v| {
        if let Some(k) = v.as_str().and_then(|s| resolve_ref(w, &project, s)) {
            let path = k.split_once(':').map_or(k.as_str(), |(_, p)| p);
            *v = json!(format!("{base}{path}"));
        }
    });
}

/// The path of an object key (`compute:projects/…` → `projects/…`).
fn path_of_key(k: &str) -> &str {
    k.split_once(':').map_or(k, |(_, p)| p)
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

fn not_found(path: &str) -> ApiError {
    ApiError::not_found(format!("The resource '{path}' was not found"))
}

/// The answer to a mutation: its operation as just accepted, `RUNNING` with `progress` 0
/// and no `endTime`, whatever the clock already says (the real answers are so; a later
/// `get` shows it `DONE`).
fn accepted(out: Outcome) -> Outcome {
    match out {
        Outcome::Reply {
            status,
            mut body,
            op,
        } => {
            if let Some(m) = body.as_object_mut() {
                m.insert("status".to_string(), json!("RUNNING"));
                m.insert("progress".to_string(), json!(0));
                m.remove("endTime");
            }
            Outcome::Reply { status, body, op }
        }
        other => other,
    }
}

/// Starts a compute operation on `target_key` and answers it `RUNNING`.
fn start(
    w: &mut World,
    c: &Call,
    op_type: &str,
    target_key: &str,
    effects: Vec<Effect>,
) -> Outcome {
    let data = op_data(w, c, op_type, target_key);
    let op_path = op_path(c, &data);
    accepted(begin_op(
        w,
        Api::Compute,
        &op_path,
        data,
        target_key,
        effects,
    ))
}

/// Records an operation already done (its change made by the caller) and answers it
/// `DONE`, as the real `setLabels` answers.
fn done(w: &mut World, c: &Call, op_type: &str, target_key: &str) -> Outcome {
    let mut data = op_data(w, c, op_type, target_key);
    let op_path = op_path(c, &data);
    data["status"] = json!("DONE");
    data["progress"] = json!(100);
    data["startTime"] = data["insertTime"].clone();
    data["endTime"] = json!(now_rfc3339());
    let out = begin_op(w, Api::Compute, &op_path, data, target_key, Vec::new());
    let k = key(Api::Compute, &op_path);
    if let Some(op) = w.ops.get_mut(&k) {
        op.phase = world::Phase::Done;
        world::render_phase(op);
    }
    if let Some(obj) = w.objects.get_mut(target_key)
        && obj.busy.as_deref() == Some(k.as_str())
    {
        obj.busy = None;
    }
    match w.ops.get(&k) {
        Some(op) => Outcome::op(k, op.data.clone()),
        None => out,
    }
}

fn op_path(c: &Call, data: &Value) -> String {
    let name = data["name"].as_str().unwrap_or_default();
    match c.region() {
        Some(reg) => format!("projects/{}/regions/{reg}/operations/{name}", c.project()),
        None => format!("projects/{}/global/operations/{name}", c.project()),
    }
}

/// An operation resource with the fields of the real answers: `kind`, `id`, `name`,
/// `operationType`, `targetLink`, `targetId`, `status`, `user`, `progress`, `insertTime`,
/// `startTime`, `selfLink`, and `region` on regional ones.
fn op_data(w: &mut World, c: &Call, op_type: &str, target_key: &str) -> Value {
    let (target_link, target_id) = match w.objects.get(target_key) {
        Some(o) => (
            o.data["selfLink"].as_str().unwrap_or_default().to_string(),
            o.data["id"].as_str().unwrap_or_default().to_string(),
        ),
        None => (
            format!("{}{}", c.base(), path_of_key(target_key)),
            String::new(),
        ),
    };
    let name = w.op_name();
    let now = now_rfc3339();
    let mut data = json!({
        "kind": "compute#operation",
        "id": w.numeric_id(),
        "name": name,
        "operationType": op_type,
        "targetLink": target_link,
        "targetId": target_id,
        "status": "RUNNING",
        "user": c.r.user,
        "progress": 0,
        "insertTime": now,
        "startTime": now,
    });
    let op = op_path(c, &data);
    data["selfLink"] = json!(format!("{}{op}", c.base()));
    if let Some(reg) = c.region() {
        data["region"] = json!(format!(
            "{}projects/{}/regions/{reg}",
            c.base(),
            c.project()
        ));
    }
    data
}

fn insert(w: &mut World, c: &Call) -> Result<Outcome, ApiError> {
    let coll = c.coll().to_string();
    let mut data = c.r.body.clone();
    if !data.is_object() {
        data = json!({});
    }
    let name = data["name"].as_str().unwrap_or_default().to_string();
    if !rfc1035(&name) {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.name': '{name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?)'"
        )));
    }
    let path = format!("{}/{name}", c.path());
    let obj_key = key(Api::Compute, &path);
    if w.objects.contains_key(&obj_key) {
        return Err(ApiError::already_exists(format!(
            "The resource '{path}' already exists"
        )));
    }
    for target in refs_of(w, &data, &coll, c.project()) {
        if !w.objects.contains_key(&target) {
            return Err(not_found(path_of_key(&target)));
        }
    }
    check(&coll, &data)?;
    let self_link = format!("{}{path}", c.base());
    let id = w.numeric_id();
    let schema = c.r.method.request.clone().unwrap_or_default();
    if let Some(m) = data.as_object_mut() {
        // Global addresses and global forwarding rules take their labels through
        // `setLabels` only: the real GET after an insert that carried labels has none (both
        // `compute/globalcomputeforwardingruletcp-direct@…` and the SQL private network logs).
        if c.region().is_none() && matches!(coll.as_str(), "addresses" | "forwardingRules") {
            m.remove("labels");
        }
    }
    data["kind"] = json!(format!("compute#{}", lower_first(&schema)));
    data["id"] = json!(id);
    data["creationTimestamp"] = json!(now_rfc3339());
    data["selfLink"] = json!(self_link);
    if let Some(reg) = c.region() {
        data["region"] = json!(format!(
            "{}projects/{}/regions/{reg}",
            c.base(),
            c.project()
        ));
    }
    normalize_refs(w, c, &coll, &mut data);
    defaults(w, c, &coll, &mut data)?;
    if coll == "subnetworks"
        && let Some(net) = data["network"]
            .as_str()
            .and_then(|s| resolve_ref(w, c.project(), s))
        && let Some(n) = w.objects.get_mut(&net)
    {
        // Compute keeps the network's subnetwork list up to date.
        match n.data["subnetworks"].as_array_mut() {
            Some(a) => a.push(json!(self_link)),
            None => n.data["subnetworks"] = json!([self_link]),
        }
    }
    w.insert(obj_key.clone(), &format!("compute:{coll}"), data);
    Ok(start(w, c, "insert", &obj_key, Vec::new()))
}

/// Refusals that depend on the body alone.
fn check(coll: &str, data: &Value) -> Result<(), ApiError> {
    if coll == "backendServices" {
        let cdn = &data["cdnPolicy"];
        if cdn["cacheMode"] == json!("USE_ORIGIN_HEADERS") {
            // The real text for `defaultTtl` (hashicorp/terraform#35505,
            // hashicorp/terraform-provider-google#18860: "googleapi: Error 400: Invalid value
            // for field 'resource.cdnPolicy.defaultTtl': '3600'. default_ttl cannot be
            // specified with USE_ORIGIN_HEADERS cache_mode., invalid"); the `maxTtl` and
            // `clientTtl` texts are written on the same pattern (not seen).
            for (field, snake) in [
                ("defaultTtl", "default_ttl"),
                ("maxTtl", "max_ttl"),
                ("clientTtl", "client_ttl"),
            ] {
                if let Some(v) = cdn.get(field).filter(|v| !v.is_null()) {
                    let shown = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    return Err(ApiError::new(
                        400,
                        "INVALID_ARGUMENT",
                        "invalid",
                        format!(
                            "Invalid value for field 'resource.cdnPolicy.{field}': '{shown}'. {snake} cannot be specified with USE_ORIGIN_HEADERS cache_mode."
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A fingerprint: 8 random bytes in base64, as Compute Engine writes them (and as Google's
/// compute client decodes them).
fn fingerprint(w: &mut World) -> String {
    let bytes: Vec<u8> = (0..8).map(|_| w.roll().to_bits() as u8).collect();
    world::base64(&bytes).replace('+', "-").replace('/', "_")
}

/// Fills in what Compute Engine sets on a new object of the collection `coll`, as the real
/// answers show it: one function per collection with more than a few fields.
fn defaults(w: &mut World, c: &Call, coll: &str, data: &mut Value) -> Result<(), ApiError> {
    match coll {
        "networks" => network_defaults(w, c, data),
        "subnetworks" => subnetwork_defaults(w, c, data)?,
        "addresses" => address_defaults(w, c, data)?,
        "healthChecks" => {
            set(data, "checkIntervalSec", json!(5));
            set(data, "timeoutSec", json!(5));
            set(data, "healthyThreshold", json!(2));
            set(data, "unhealthyThreshold", json!(2));
            for typed in ["httpHealthCheck", "httpsHealthCheck", "http2HealthCheck"] {
                if let Some(h) = data.get_mut(typed).filter(|v| v.is_object()) {
                    set(h, "proxyHeader", json!("NONE"));
                    set(h, "requestPath", json!("/"));
                }
            }
        }
        "backendServices" => backend_service_defaults(w, data),
        "backendBuckets" => {
            set(data, "enableCdn", json!(false));
        }
        "urlMaps" => url_map_defaults(w, data),
        "targetHttpProxies" => {
            data["fingerprint"] = json!(fingerprint(w));
        }
        "targetHttpsProxies" => {
            set(data, "quicOverride", json!("NONE"));
            set(data, "tlsEarlyData", json!("DISABLED"));
            data["fingerprint"] = json!(fingerprint(w));
        }
        "targetTcpProxies" => {
            set(data, "proxyHeader", json!("NONE"));
        }
        "sslCertificates" => ssl_certificate_defaults(data),
        "forwardingRules" => forwarding_rule_defaults(w, data),
        _ => {}
    }
    Ok(())
}

/// A network: auto subnetworks unless a mode is given, regional routing, its id link.
fn network_defaults(w: &mut World, c: &Call, data: &mut Value) {
    if data.get("autoCreateSubnetworks").is_none() && data.get("IPv4Range").is_none() {
        data["autoCreateSubnetworks"] = json!(true);
    }
    let mut routing = json!({"routingMode": "REGIONAL", "bgpBestPathSelectionMode": "LEGACY"});
    if let Some(given) = data.get("routingConfig").filter(|v| v.is_object()) {
        world::merge(&mut routing, given);
    }
    data["routingConfig"] = routing;
    set(
        data,
        "networkFirewallPolicyEnforcementOrder",
        json!("AFTER_CLASSIC_FIREWALL"),
    );
    if let Some(profile) = data["networkProfile"].as_str()
        && let Some(i) = profile.find("projects/")
    {
        data["networkProfile"] = json!(format!("{}{}", c.base(), &profile[i..]));
    }
    network_ipv6(w, data);
    let id = data["id"].as_str().unwrap_or_default().to_string();
    data["selfLinkWithId"] = json!(format!(
        "{}projects/{}/global/networks/{id}",
        c.base(),
        c.project()
    ));
}

/// A subnetwork: its range checked against the network's other subnetworks, its gateway.
fn subnetwork_defaults(w: &mut World, c: &Call, data: &mut Value) -> Result<(), ApiError> {
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
    let project = c.project();
    let net_key = resolve_ref(w, project, &network);
    for (k, o) in &w.objects {
        if o.kind == "compute:subnetworks"
            && o.data["network"]
                .as_str()
                .and_then(|s| resolve_ref(w, project, s))
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
    data["gatewayAddress"] = json!(ipv4(net + 1));
    set(data, "allowSubnetCidrRoutesOverlap", json!(false));
    let flow_logs = data["logConfig"]["enable"].as_bool().unwrap_or(false);
    set(data, "enableFlowLogs", json!(flow_logs));
    set(data, "privateIpGoogleAccess", json!(false));
    set(
        data,
        "privateIpv6GoogleAccess",
        json!("DISABLE_GOOGLE_ACCESS"),
    );
    set(data, "purpose", json!("PRIVATE"));
    set(data, "stackType", json!("IPV4_ONLY"));
    data["fingerprint"] = json!(fingerprint(w));
    Ok(())
}

/// An address: reserved, allocated from the right range when none is given.
fn address_defaults(w: &mut World, c: &Call, data: &mut Value) -> Result<(), ApiError> {
    set(data, "addressType", json!("EXTERNAL"));
    set(data, "description", json!(""));
    set(data, "networkTier", json!("PREMIUM"));
    if data.get("address").is_none_or(Value::is_null) {
        let address = if data["purpose"] == json!("VPC_PEERING") {
            internal_range(w, c, data)?
        } else if data["addressType"] == json!("INTERNAL") {
            w.address("10.128")
        } else {
            w.address("34.8")
        };
        data["address"] = json!(address);
    }
    data["status"] = json!("RESERVED");
    data["labelFingerprint"] = json!(label_fingerprint(w, data));
    Ok(())
}

/// A backend service: the classic external HTTP defaults, CDN and IAP settings.
fn backend_service_defaults(w: &mut World, data: &mut Value) {
    set(data, "loadBalancingScheme", json!("EXTERNAL"));
    set(data, "protocol", json!("HTTP"));
    set(data, "description", json!(""));
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
    // The real GETs show `enableCDN: false` on an EXTERNAL_MANAGED service
    // (`compute/globalcomputeurlmap@…`) and on an EXTERNAL TCP one
    // (`…forwardingruletcp-direct@…`), and no `enableCDN` on a classic EXTERNAL HTTP
    // one (`compute/globaltargethttpsproxy@…`); none of them set it.
    let classic_http =
        data["loadBalancingScheme"] == json!("EXTERNAL") && data["protocol"] == json!("HTTP");
    if !classic_http {
        set(data, "enableCDN", json!(false));
    }
    if data["enableCDN"] == json!(true) {
        cdn_defaults(data);
    }
    iap_secret(data);
    data["fingerprint"] = json!(fingerprint(w));
}

/// A URL map: its fingerprint and, for a routed map, its quota usage.
fn url_map_defaults(w: &mut World, data: &mut Value) {
    data["fingerprint"] = json!(fingerprint(w));
    url_map_status(data);
}

/// Only the URL map with host rules and path matchers of the real logs carries
/// `status.quotaUsage` (`compute/globalcomputeurlmap@…`; the plain maps of
/// `compute/globaltargethttpsproxy@…` do not). The units figure is the one the real map
/// answered; its formula is not published.
fn url_map_status(data: &mut Value) {
    let routed = data["pathMatchers"]
        .as_array()
        .is_some_and(|a| !a.is_empty());
    if routed {
        data["status"] = json!({"quotaUsage": {"forwardingRules": 0, "units": "61"}});
    } else if let Some(m) = data.as_object_mut() {
        m.remove("status");
    }
}

/// An SSL certificate: never its private key; a self-managed one expires in a year.
fn ssl_certificate_defaults(data: &mut Value) {
    if let Some(m) = data.as_object_mut() {
        // The private key is write-only: no answer carries it.
        m.remove("privateKey");
    }
    if data["type"].as_str().is_none_or(|t| t == "SELF_MANAGED") {
        data["type"] = json!("SELF_MANAGED");
        let cert = data["certificate"].clone();
        data["selfManaged"] = json!({"certificate": cert});
        let year = std::time::SystemTime::now() + std::time::Duration::from_secs(365 * 86_400);
        data["expireTime"] = json!(humantime::format_rfc3339_millis(year).to_string());
    }
}

/// A forwarding rule: an external TCP rule with an address and a port range.
fn forwarding_rule_defaults(w: &mut World, data: &mut Value) {
    set(data, "IPProtocol", json!("TCP"));
    set(data, "loadBalancingScheme", json!("EXTERNAL"));
    set(data, "networkTier", json!("PREMIUM"));
    if data.get("IPAddress").is_none_or(Value::is_null) {
        data["IPAddress"] = json!(w.address("34.117"));
    }
    // A single port comes back as a range: `portRange "110"` is answered "110-110"
    // (`compute/globalcomputeforwardingruletcp-direct@…`).
    if let Some(p) = data["portRange"].as_str()
        && !p.contains('-')
    {
        data["portRange"] = json!(format!("{p}-{p}"));
    }
    data["fingerprint"] = json!(fingerprint(w));
    data["labelFingerprint"] = json!(label_fingerprint(w, data));
}

/// The `labelFingerprint` of an object's labels: the constant of an empty set, else a new
/// fingerprint.
fn label_fingerprint(w: &mut World, data: &Value) -> String {
    match data["labels"].as_object() {
        Some(l) if !l.is_empty() => fingerprint(w),
        _ => EMPTY_LABELS_FINGERPRINT.to_string(),
    }
}

/// `enableUlaInternalIpv6`: `true` allocates `internalIpv6Range` (a /48 in `fd20::/20`, as
/// the real PATCH of `compute/computenetworkbasic@…` shows); `false` is not answered (the
/// real GET after an insert with `false` has no such field).
fn network_ipv6(w: &mut World, data: &mut Value) {
    match data["enableUlaInternalIpv6"].as_bool() {
        Some(true) if data.get("internalIpv6Range").is_none_or(Value::is_null) => {
            let (a, b) = (w.hex(3), w.hex(3));
            data["internalIpv6Range"] = json!(format!("fd20:{a}:{b}:0:0:0:0:0/48"));
        }
        Some(false) => {
            if let Some(m) = data.as_object_mut() {
                m.remove("enableUlaInternalIpv6");
                m.remove("internalIpv6Range");
            }
        }
        _ => {}
    }
}

/// The full CDN policy Compute answers when CDN is enabled, the given fields kept. With
/// `USE_ORIGIN_HEADERS` the TTLs are not answered (they cannot be set).
fn cdn_defaults(data: &mut Value) {
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
    if cdn["cacheMode"] == json!("USE_ORIGIN_HEADERS")
        && let Some(m) = cdn.as_object_mut()
    {
        for ttl in ["defaultTtl", "clientTtl", "maxTtl"] {
            m.remove(ttl);
        }
    }
    data["cdnPolicy"] = cdn;
}

/// IAP's OAuth2 client secret is write-only: Compute answers its SHA-256
/// (`oauth2ClientSecretSha256`, `e3b0…` for the empty secret of the real logs).
fn iap_secret(data: &mut Value) {
    if let Some(iap) = data.get_mut("iap").and_then(Value::as_object_mut)
        && let Some(secret) = iap.remove("oauth2ClientSecret")
    {
        let digest = Sha256::digest(secret.as_str().unwrap_or_default().as_bytes());
        iap.insert(
            "oauth2ClientSecretSha256".to_string(),
            json!(hex::encode(digest)),
        );
    }
}

fn ipv4(a: u32) -> String {
    format!(
        "{}.{}.{}.{}",
        a >> 24,
        (a >> 16) & 255,
        (a >> 8) & 255,
        a & 255
    )
}

/// A free block of `prefixLength` in `10.0.0.0/8` for an internal (`VPC_PEERING`) global
/// address: overlapping neither the network's other reserved ranges nor its subnetworks.
/// The real allocation of `sql/postgresinstance@…` was `10.104.0.0/16`.
fn internal_range(w: &mut World, c: &Call, data: &Value) -> Result<String, ApiError> {
    let bits = data["prefixLength"].as_u64().unwrap_or(16);
    if !(8..=29).contains(&bits) {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.prefixLength': '{bits}'. Must be between 8 and 29."
        )));
    }
    let bits = bits as u32;
    let network = data["network"].as_str().unwrap_or_default();
    let net_key = resolve_ref(w, c.project(), network);
    let taken: Vec<(u32, u32)> = w
        .objects
        .values()
        .filter(|o| {
            o.data["network"]
                .as_str()
                .and_then(|s| resolve_ref(w, c.project(), s))
                == net_key
        })
        .filter_map(|o| match o.kind.as_str() {
            "compute:subnetworks" => o.data["ipCidrRange"].as_str().and_then(parse_cidr),
            "compute:addresses" => {
                let ip = o.data["address"].as_str()?;
                let len = o.data["prefixLength"].as_u64()?;
                parse_cidr(&format!("{ip}/{len}"))
            }
            _ => None,
        })
        .collect();
    let size = 1u64 << (32 - bits);
    let blocks = (1u64 << 24) / size;
    let first = w.rng.random_range(0..blocks);
    for i in 0..blocks {
        let n = (10u32 << 24) + (((first + i) % blocks) * size) as u32;
        if !taken.iter().any(|(t, tb)| overlaps(n, bits, *t, *tb)) {
            return Ok(ipv4(n));
        }
    }
    Err(ApiError::new(
        400,
        "FAILED_PRECONDITION",
        "ipSpaceExhausted",
        format!("No free /{bits} range left in 10.0.0.0/8 for '{network}'."),
    ))
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

/// An object as answered: backend services and buckets list their referrers in `usedBy`
/// (as the real GETs of `compute/globalcomputeurlmap@…` show while a URL map uses them).
fn rendered(w: &World, k: &str, data: &Value) -> Value {
    let mut out = data.clone();
    let kind = w.objects.get(k).map_or("", |o| o.kind.as_str());
    if matches!(kind, "compute:backendServices" | "compute:backendBuckets") {
        let project = path_of_key(k).split('/').nth(1).unwrap_or_default();
        let users: Vec<Value> = w
            .objects
            .iter()
            .filter(|(uk, o)| {
                uk.as_str() != k && {
                    let coll = o.kind.strip_prefix("compute:").unwrap_or_default();
                    refs_of(w, &o.data, coll, project).iter().any(|r| r == k)
                }
            })
            .filter_map(|(_, o)| o.data["selfLink"].as_str())
            .map(|link| json!({"reference": link}))
            .collect();
        if !users.is_empty() {
            out["usedBy"] = json!(users);
        }
    }
    out
}

fn list(w: &mut World, c: &Call) -> Result<Outcome, ApiError> {
    let coll_path = c.path();
    let prefix = format!("{}/", key(Api::Compute, &coll_path));
    let wanted = name_filter(c.r.q("filter"));
    let items: Vec<Value> = w
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| !k[prefix.len()..].contains('/'))
        .filter(|(_, o)| wanted.as_deref().is_none_or(|n| o.data["name"] == json!(n)))
        .map(|(k, o)| rendered(w, k, &o.data))
        .collect();
    let (max, token) = c.r.page();
    let (page, next) = paginate(items, max, token);
    let schema =
        c.r.method
            .response
            .clone()
            .unwrap_or_else(|| format!("{}List", c.coll()));
    let mut body = json!({
        "kind": format!("compute#{}", lower_first(&schema)),
        "id": coll_path,
        "items": page,
        "selfLink": format!("{}{coll_path}", c.base()),
    });
    if let Some(n) = next {
        body["nextPageToken"] = json!(n);
    }
    Ok(Outcome::ok(body))
}

fn get(w: &mut World, c: &Call) -> Result<Outcome, ApiError> {
    let path = c.path();
    let k = key(Api::Compute, &path);
    match w.objects.get(&k) {
        Some(o) => Ok(Outcome::ok(rendered(w, &k, &o.data))),
        None => Err(not_found(&path)),
    }
}

/// How the in-use refusal names a resource: by path, or — when the refused object is a
/// health check — by scope, project number and type
/// (`GLOBAL:global/PROJECT:${projectNumber}/HEALTH_CHECK:name`), as the three real refusals
/// of `compute/globalcomputeurlmap@…` show.
fn in_use_name(k: &str, coll_of_k: &str, by_number: bool) -> String {
    let path = path_of_key(k);
    if !by_number {
        return path.to_string();
    }
    let parts: Vec<&str> = path.split('/').collect();
    let number = project_number(parts.get(1).copied().unwrap_or_default());
    let scope = match parts.get(2) {
        Some(&"regions") => format!("REGION:{}", parts.get(3).copied().unwrap_or_default()),
        _ => "GLOBAL:global".to_string(),
    };
    format!(
        "{scope}/PROJECT:{number}/{}:{}",
        snake(coll_of_k).to_ascii_uppercase(),
        parts.last().copied().unwrap_or_default()
    )
}

/// The singular snake_case name of a collection (`healthChecks` → `health_check`), as the
/// in-use refusal spells the resource type.
fn snake(coll: &str) -> String {
    let singular = if let Some(s) = coll.strip_suffix("ies") {
        format!("{s}y")
    } else if let Some(s) = coll.strip_suffix("sses") {
        format!("{s}ss")
    } else {
        coll.trim_end_matches('s').to_string()
    };
    let mut out = String::new();
    for ch in singular.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

fn delete(w: &mut World, c: &Call) -> Result<Outcome, ApiError> {
    let path = c.path();
    let obj_key = key(Api::Compute, &path);
    let Some(obj) = w.objects.get(&obj_key) else {
        return Err(not_found(&path));
    };
    let coll = c.coll().to_string();
    let data = obj.data.clone();
    for (k, o) in &w.objects {
        let other_coll = o.kind.strip_prefix("compute:").unwrap_or_default();
        if k != &obj_key
            && !o.deleting
            && refs_of(w, &o.data, other_coll, c.project()).contains(&obj_key)
        {
            let message = format!(
                "The {} resource '{}' is already being used by '{}'",
                snake(&coll),
                in_use_name(&obj_key, &coll, coll == "healthChecks"),
                in_use_name(k, other_coll, coll == "healthChecks")
            );
            return Err(ApiError::new(
                400,
                "FAILED_PRECONDITION",
                "resourceInUseByAnotherResource",
                message,
            ));
        }
    }
    let mut effects = vec![Effect::Remove(obj_key.clone())];
    if coll == "subnetworks"
        && let Some(net) = data["network"]
            .as_str()
            .and_then(|s| resolve_ref(w, c.project(), s))
    {
        let self_link = data["selfLink"].as_str().unwrap_or_default().to_string();
        effects.push(Effect::Detach(net, "subnetworks".to_string(), self_link));
    }
    if let Some(o) = w.objects.get_mut(&obj_key) {
        o.deleting = true;
    }
    Ok(start(w, c, "delete", &obj_key, effects))
}

/// The fields a client may not set through `patch` / `update`.
const SERVER_FIELDS: &[&str] = &[
    "name",
    "kind",
    "id",
    "selfLink",
    "selfLinkWithId",
    "creationTimestamp",
    "fingerprint",
    "labelFingerprint",
    "region",
    "usedBy",
    "status",
];

/// Answers 412 when the body carries a `fingerprint` other than the object's.
fn check_fingerprint(w: &World, obj_key: &str, body: &Value, path: &str) -> Result<(), ApiError> {
    if let (Some(given), Some(current)) = (
        body["fingerprint"].as_str(),
        w.objects
            .get(obj_key)
            .and_then(|o| o.data["fingerprint"].as_str()),
    ) && given != current
    {
        return Err(ApiError::new(
            412,
            "FAILED_PRECONDITION",
            "conditionNotMet",
            format!("Supplied fingerprint does not match current fingerprint of '{path}'."),
        ));
    }
    Ok(())
}

/// `patch` (JSON merge) and `update` (`PUT`: the body replaces the resource), both checking a
/// given `fingerprint` (412).
fn patch(w: &mut World, c: &Call) -> Result<Outcome, ApiError> {
    let path = c.path();
    let obj_key = key(Api::Compute, &path);
    let coll = c.coll().to_string();
    let Some(current) = w.objects.get(&obj_key).map(|o| o.data.clone()) else {
        return Err(not_found(&path));
    };
    check_fingerprint(w, &obj_key, &c.r.body, &path)?;
    let mut body = c.r.body.clone();
    if let Some(m) = body.as_object_mut() {
        for k in SERVER_FIELDS {
            m.remove(*k);
        }
    }
    for target in refs_of(w, &body, &coll, c.project()) {
        if !w.objects.contains_key(&target) {
            return Err(not_found(path_of_key(&target)));
        }
    }
    check(&coll, &body)?;
    let verb = c.r.method.verb().to_string();
    let mut data = if verb == "update" {
        let mut kept = Map::new();
        for k in SERVER_FIELDS {
            if let Some(v) = current.get(*k) {
                kept.insert((*k).to_string(), v.clone());
            }
        }
        let mut d = Value::Object(kept);
        world::merge(&mut d, &body);
        d
    } else {
        let mut d = current;
        world::merge(&mut d, &body);
        if coll == "backendServices"
            && body["cdnPolicy"]["cacheMode"] == json!("USE_ORIGIN_HEADERS")
        {
            // Origin-header caching has no TTLs: those answered under the previous mode go.
            if let Some(cdn) = d.get_mut("cdnPolicy").and_then(Value::as_object_mut) {
                for ttl in ["defaultTtl", "clientTtl", "maxTtl"] {
                    cdn.remove(ttl);
                }
            }
        }
        d
    };
    normalize_refs(w, c, &coll, &mut data);
    refresh(w, &coll, &mut data);
    if let Some(o) = w.objects.get_mut(&obj_key) {
        o.data = data;
    }
    // The real `networks.patch` operation is an `updateNetwork`
    // (`compute/computenetworkbasic@…`); URL maps' `PUT` is an `update`.
    let op_type = if coll == "networks" {
        "updateNetwork"
    } else {
        verb.as_str()
    };
    Ok(start(w, c, op_type, &obj_key, Vec::new()))
}

/// What the server recomputes after a change: fingerprints, and the fields derived from
/// others.
fn refresh(w: &mut World, coll: &str, data: &mut Value) {
    if data.get("fingerprint").is_some()
        || matches!(
            coll,
            "urlMaps" | "targetHttpProxies" | "targetHttpsProxies" | "backendServices"
        )
    {
        data["fingerprint"] = json!(fingerprint(w));
    }
    match coll {
        "networks" => network_ipv6(w, data),
        "backendServices" => {
            if data["enableCDN"] == json!(true) {
                cdn_defaults(data);
            }
            iap_secret(data);
        }
        "forwardingRules" => {
            if let Some(p) = data["portRange"].as_str()
                && !p.contains('-')
            {
                data["portRange"] = json!(format!("{p}-{p}"));
            }
        }
        "urlMaps" => url_map_status(data),
        _ => {}
    }
}

/// `setLabels`: replaces the labels at once (the real answer is an operation already
/// `DONE`), given the current `labelFingerprint` (else 412 with the real text, as
/// googleapis/google-cloud-go#7802 and hashicorp/terraform-provider-google#18826 quote it).
fn set_labels(w: &mut World, c: &Call) -> Result<Outcome, ApiError> {
    let path = c.object_path();
    let obj_key = key(Api::Compute, &path);
    let Some(obj) = w.objects.get(&obj_key) else {
        return Err(not_found(&path));
    };
    let current = obj.data["labelFingerprint"].as_str().unwrap_or_default();
    if c.r.body["labelFingerprint"].as_str().unwrap_or_default() != current {
        return Err(ApiError::new(
            412,
            "FAILED_PRECONDITION",
            "conditionNotMet",
            "Labels fingerprint either invalid or resource labels have changed",
        ));
    }
    let labels = c.r.body["labels"].clone();
    let fp = match labels.as_object() {
        Some(l) if !l.is_empty() => fingerprint(w),
        _ => EMPTY_LABELS_FINGERPRINT.to_string(),
    };
    if let Some(o) = w.objects.get_mut(&obj_key)
        && let Some(m) = o.data.as_object_mut()
    {
        match labels {
            Value::Object(l) if !l.is_empty() => {
                m.insert("labels".to_string(), Value::Object(l));
            }
            _ => {
                m.remove("labels");
            }
        }
        m.insert("labelFingerprint".to_string(), json!(fp));
    }
    Ok(done(w, c, "setLabels", &obj_key))
}

/// The custom methods that set one field (`setTarget`, `setUrlMap`, `setQuicOverride`),
/// with the real operation types (`SetTarget`, `SetUrlMap`,
/// `compute.targetHttpsProxies.setQuicOverride`).
fn set_field(w: &mut World, c: &Call, field: &str, op_type: &str) -> Result<Outcome, ApiError> {
    let path = c.object_path();
    let obj_key = key(Api::Compute, &path);
    if !w.objects.contains_key(&obj_key) {
        return Err(not_found(&path));
    }
    let mut value = c.r.body[field].clone();
    if value.is_null() {
        return Err(ApiError::invalid(format!(
            "Invalid value for field '{field}': ''. Must be set."
        )));
    }
    if field != "quicOverride" {
        let Some(target) = value.as_str().and_then(|s| resolve_ref(w, c.project(), s)) else {
            return Err(ApiError::invalid(format!(
                "Invalid value for field '{field}': '{}'.",
                value.as_str().unwrap_or_default()
            )));
        };
        if !w.objects.contains_key(&target) {
            return Err(not_found(path_of_key(&target)));
        }
        value = json!(format!("{}{}", c.base(), path_of_key(&target)));
    }
    let fp = fingerprint(w);
    if let Some(o) = w.objects.get_mut(&obj_key) {
        o.data[field] = value;
        if o.data.get("fingerprint").is_some() {
            o.data["fingerprint"] = json!(fp);
        }
    }
    Ok(start(w, c, op_type, &obj_key, Vec::new()))
}

/// `networks.removePeering`: removes the named peering (the real SQL private network logs
/// tear the servicenetworking connection down this way).
fn remove_peering(w: &mut World, c: &Call) -> Result<Outcome, ApiError> {
    let path = c.object_path();
    let obj_key = key(Api::Compute, &path);
    let Some(net) = w.objects.get_mut(&obj_key) else {
        return Err(not_found(&path));
    };
    let name = c.r.body["name"].as_str().unwrap_or_default().to_string();
    let Some(m) = net.data.as_object_mut() else {
        return Err(not_found(&path));
    };
    let before = m
        .get("peerings")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if let Some(list) = m.get_mut("peerings").and_then(Value::as_array_mut) {
        list.retain(|p| p["name"].as_str() != Some(name.as_str()));
    }
    let after = m
        .get("peerings")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if after == before {
        // Not seen in the real logs; written in Compute's style.
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'name': '{name}'. There is no peering named '{name}' in network '{path}'."
        )));
    }
    if after == 0 {
        m.remove("peerings");
    }
    Ok(start(w, c, "removePeering", &obj_key, Vec::new()))
}

fn operations(w: &mut World, c: &Call) -> Result<Outcome, ApiError> {
    let path = c.path();
    match c.r.method.verb() {
        "get" => {
            let k = key(Api::Compute, &path);
            op_body(w, &k)
                .map(|b| Outcome::op(k, b))
                .map_err(|_| not_found(&path))
        }
        "wait" => {
            let k = key(Api::Compute, path.trim_end_matches("/wait"));
            op_body(w, &k).map_err(|_| not_found(path.trim_end_matches("/wait")))?;
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
            let (max, token) = c.r.page();
            let (page, next) = paginate(items, max, token);
            let mut body = json!({"kind": "compute#operationList", "id": path, "items": page, "selfLink": format!("{}{path}", c.base())});
            if let Some(n) = next {
                body["nextPageToken"] = json!(n);
            }
            Ok(Outcome::ok(body))
        }
        _ => Err(c.r.unimplemented()),
    }
}
