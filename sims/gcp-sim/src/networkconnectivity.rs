//! Network Connectivity v1, the part Memorystore needs: `projects.locations.
//! serviceConnectionPolicies` (`create` with `serviceConnectionPolicyId`, `get`, `list`,
//! `patch`, `delete`) and `projects.locations.operations` (`get`, `list`, `delete`,
//! `cancel`).
//!
//! Shapes follow the real logs (`redis/basicrediscluster@…`,
//! `redis/replicationrediscluster@…`): a policy is `{"name", "network", "serviceClass",
//! "pscConfig", "description", "infrastructure": "PSC", "etag", "createTime",
//! "updateTime"}`; operations are `google.longrunning.Operation`s with
//! `networkconnectivity.v1.OperationMetadata`, and a done create or update carries as
//! `response` only the policy's `@type`, `name`, `etag`, `createTime` and `updateTime`
//! (a delete: `google.protobuf.Empty`). One policy per network, region and service class.

use serde_json::{Value, json};

use crate::api::{
    Outcome, Req, begin_op, camel, longrunning_operations, network_ref, resource_not_found,
    rfc1035, v1_path,
};
use crate::discovery::Api;
use crate::links::{SERVICE_CLASS, has_policy};
use crate::world::{ApiError, Effect, World, key, merge, now_rfc3339, paginate};

pub fn dispatch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    match r.method.name.as_str() {
        "projects.locations.serviceConnectionPolicies.create" => create(w, r),
        "projects.locations.serviceConnectionPolicies.get" => {
            let path = v1_path(r);
            w.objects
                .get(&key(Api::Networkconnectivity, &path))
                .map(|o| Outcome::ok(with_connections(w, &o.data)))
                .ok_or_else(|| resource_not_found(&path))
        }
        "projects.locations.serviceConnectionPolicies.list" => {
            let prefix = format!("{}/", key(Api::Networkconnectivity, &v1_path(r)));
            let items: Vec<Value> = w
                .objects
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .filter(|(k, _)| !k[prefix.len()..].contains('/'))
                .map(|(_, o)| with_connections(w, &o.data))
                .collect();
            let (max, token) = r.page();
            let (page, next) = paginate(items, max, token);
            // proto3 JSON leaves an empty list out.
            let mut body = json!({});
            if !page.is_empty() {
                body["serviceConnectionPolicies"] = json!(page);
            }
            if let Some(n) = next {
                body["nextPageToken"] = json!(n);
            }
            Ok(Outcome::ok(body))
        }
        "projects.locations.serviceConnectionPolicies.patch" => patch(w, r),
        "projects.locations.serviceConnectionPolicies.delete" => delete(w, r),
        name if name.starts_with("projects.locations.operations.") => {
            longrunning_operations(w, r, Api::Networkconnectivity)
        }
        _ => Err(r.unimplemented()),
    }
}

/// A policy as answered: with the `pscConnections` the service producers made under it,
/// as the real log shows after a Memorystore cluster is created (`redis/
/// replicationrediscluster@…`, two per live cluster on the network and region; none once
/// the clusters are gone).
fn with_connections(w: &World, policy: &Value) -> Value {
    let mut out = policy.clone();
    let name = policy["name"].as_str().unwrap_or_default();
    let parts: Vec<&str> = name.split('/').collect();
    let (Some(project), Some(region)) = (parts.get(1), parts.get(3)) else {
        return out;
    };
    if policy["serviceClass"] != json!(SERVICE_CLASS) {
        return out;
    }
    let Some(network) = policy["network"].as_str().and_then(|n| network_ref(w, n)) else {
        return out;
    };
    let subnetwork = policy["pscConfig"]["subnetworks"][0]
        .as_str()
        .map(|s| format!("https://www.googleapis.com/compute/v1/{s}"));
    let prefix = key(
        Api::Redis,
        &format!("projects/{project}/locations/{region}/clusters/"),
    );
    let mut conns = Vec::new();
    for (_, cluster) in w
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(_, o)| !o.deleting)
    {
        for c in cluster.data["pscConnections"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if c["network"].as_str().and_then(|n| network_ref(w, n)) != Some(network.clone()) {
                continue;
            }
            let id = c["pscConnectionId"].as_str().unwrap_or_default();
            let mut conn = json!({
                "consumerAddress": format!("https://www.googleapis.com/compute/v1/projects/{project}/regions/{region}/addresses/sca-auto-addr-{id}"),
                "consumerForwardingRule": c["forwardingRule"],
                "consumerTargetProject": project,
                "gceOperation": format!("operation-{id}"),
                "ipVersion": "IP_VERSION_UNSPECIFIED",
                "pscConnectionId": id,
                "serviceClass": SERVICE_CLASS,
                "state": "ACTIVE",
            });
            if let Some(s) = &subnetwork {
                conn["selectedSubnetwork"] = json!(s);
            }
            conns.push(conn);
        }
    }
    if !conns.is_empty() {
        out["pscConnections"] = json!(conns);
    }
    out
}

/// Starts an operation on the policy `path`; `response` is what the done operation carries.
fn start(
    w: &mut World,
    r: &Req,
    verb: &str,
    path: &str,
    response: Value,
    mut effects: Vec<Effect>,
) -> Outcome {
    let (project, location) = (r.seg(2).to_string(), r.seg(4).to_string());
    let name = w.op_name();
    let op_path = format!("projects/{project}/locations/{location}/operations/{name}");
    let data = json!({
        "name": op_path,
        "metadata": {
            "@type": "type.googleapis.com/google.cloud.networkconnectivity.v1.OperationMetadata",
            "apiVersion": "v1",
            "createTime": now_rfc3339(),
            "requestedCancellation": false,
            "target": path,
            "verb": verb,
        },
        "done": false,
    });
    effects.push(Effect::SetOp(
        key(Api::Networkconnectivity, &op_path),
        "/response".to_string(),
        response,
    ));
    let k = key(Api::Networkconnectivity, path);
    begin_op(w, Api::Networkconnectivity, &op_path, data, &k, effects)
}

/// The `response` of a done create or update: the policy's identity and times only, as
/// the real log shows.
fn summary(policy: &Value) -> Value {
    json!({
        "@type": "type.googleapis.com/google.cloud.networkconnectivity.v1.ServiceConnectionPolicy",
        "createTime": policy["createTime"],
        "etag": policy["etag"],
        "name": policy["name"],
        "updateTime": policy["updateTime"],
    })
}

fn busy(w: &World, k: &str, path: &str) -> Result<(), ApiError> {
    if w.busy_with(k).is_some() {
        return Err(ApiError::new(
            409,
            "ABORTED",
            "aborted",
            format!("Resource '{path}' is being modified by another operation; try again later."),
        ));
    }
    Ok(())
}

/// Checks the network of a policy: a reference to an existing compute network.
fn check_network(w: &World, network: &str) -> Result<(), ApiError> {
    let Some((project, name)) = network_ref(w, network) else {
        return Err(ApiError::invalid(format!(
            "Invalid network '{network}': expected projects/{{project}}/global/networks/{{network}}."
        )));
    };
    let net_key = key(
        Api::Compute,
        &format!("projects/{project}/global/networks/{name}"),
    );
    if !w.objects.contains_key(&net_key) {
        return Err(ApiError::invalid(format!(
            "Network '{network}' does not exist."
        )));
    }
    Ok(())
}

fn create(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let Some(id) = r.q("serviceConnectionPolicyId").map(str::to_string) else {
        return Err(ApiError::invalid(
            "service_connection_policy_id is required",
        ));
    };
    if !rfc1035(&id) {
        return Err(ApiError::invalid(format!(
            "Invalid service_connection_policy_id '{id}': it must be 1-63 lowercase letters, digits or hyphens, starting with a letter."
        )));
    }
    let parent = v1_path(r)
        .trim_end_matches("/serviceConnectionPolicies")
        .to_string();
    let path = format!("{parent}/serviceConnectionPolicies/{id}");
    let k = key(Api::Networkconnectivity, &path);
    if w.objects.contains_key(&k) {
        return Err(ApiError::already_exists(format!(
            "Resource '{path}' already exists"
        )));
    }
    let mut p = r.body.clone();
    if !p.is_object() {
        p = json!({});
    }
    let network = p["network"].as_str().unwrap_or_default().to_string();
    let class = p["serviceClass"].as_str().unwrap_or_default().to_string();
    if network.is_empty() || class.is_empty() {
        return Err(ApiError::invalid("network and service_class are required."));
    }
    check_network(w, &network)?;
    if has_policy(w, r.seg(2), r.seg(4), &network, &class) {
        return Err(ApiError::already_exists(format!(
            "A service connection policy for service class '{class}' already exists for network '{network}' in region '{}'.",
            r.seg(4)
        )));
    }
    let now = now_rfc3339();
    p["name"] = json!(path);
    p["infrastructure"] = json!("PSC");
    p["etag"] = json!(w.hex(16));
    p["createTime"] = json!(now);
    p["updateTime"] = json!(now);
    let response = summary(&p);
    w.insert(k, "networkconnectivity:serviceConnectionPolicy", p);
    Ok(start(w, r, "create", &path, response, Vec::new()))
}

fn patch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = v1_path(r);
    let k = key(Api::Networkconnectivity, &path);
    if !w.objects.contains_key(&k) {
        return Err(resource_not_found(&path));
    }
    busy(w, &k, &path)?;
    let mut changes = r.body.clone();
    if let Some(m) = changes.as_object_mut() {
        m.remove("name");
        // Without a mask every field given is replaced; with one, only the fields it names.
        if let Some(mask) = r.q("updateMask").filter(|m| !m.is_empty() && *m != "*") {
            let kept: Vec<String> = mask
                .split(',')
                .map(|f| {
                    let f = f.trim();
                    camel(f.split('.').next().unwrap_or(f))
                })
                .collect();
            m.retain(|name, _| kept.iter().any(|f| f == name));
        }
    }
    if let Some(network) = changes["network"].as_str() {
        check_network(w, network)?;
    }
    let etag = w.hex(16);
    let response = match w.objects.get_mut(&k) {
        Some(o) => {
            merge(&mut o.data, &changes);
            o.data["etag"] = json!(etag);
            o.data["updateTime"] = json!(now_rfc3339());
            summary(&o.data)
        }
        None => return Err(resource_not_found(&path)),
    };
    Ok(start(w, r, "update", &path, response, Vec::new()))
}

fn delete(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = v1_path(r);
    let k = key(Api::Networkconnectivity, &path);
    let Some(obj) = w.objects.get(&k) else {
        return Err(resource_not_found(&path));
    };
    if let Some(etag) = r.q("etag")
        && obj.data["etag"].as_str() != Some(etag)
    {
        return Err(ApiError::new(
            409,
            "ABORTED",
            "aborted",
            format!("The etag '{etag}' does not match the current etag of '{path}'."),
        ));
    }
    busy(w, &k, &path)?;
    if let Some(o) = w.objects.get_mut(&k) {
        o.deleting = true;
    }
    Ok(start(
        w,
        r,
        "delete",
        &path,
        json!({"@type": "type.googleapis.com/google.protobuf.Empty"}),
        vec![Effect::Remove(k.clone())],
    ))
}
