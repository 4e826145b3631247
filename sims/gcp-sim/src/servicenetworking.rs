//! Service Networking v1 (private services access, the VPC peering Cloud SQL private IP
//! needs): `services.connections` `list` (by `network`), `create`, `patch` (which creates
//! the connection when there is none, as the real log's `PATCH …/connections/-?updateMask=
//! reservedPeeringRanges&force=true` does) and `deleteConnection`, and `operations.get`.
//!
//! Shapes follow the real logs (`sql/postgresinstance@…`, `sql/sqlinstanceprivatenetwork@…`):
//! a mutation answers `{"name": "operations/pssn.p24-NUMBER-UUID"}`; the done operation is
//! `{"name", "done": true, "response": {"@type": "…Connection", "network", "peering",
//! "reservedPeeringRanges"}}`; a list is `{}` when there is no connection and
//! `{"connections": [{"network", "peering", "reservedPeeringRanges", "service"}]}` otherwise,
//! with `network` in the `projects/NUMBER/global/networks/N` form.
//!
//! A connection needs each reserved range to be a compute global address of the same
//! network with `purpose: VPC_PEERING`; creating it adds the peering
//! `servicenetworking-googleapis-com` to the compute network (`peerings[]`, as the real
//! network GET after it shows) and deleting it removes the peering. Refusals are failed
//! operations (`error.code` 9, FAILED_PRECONDITION), as Google's are: the texts "Allocated IP
//! range '…' not found in network.", "Cannot modify allocated ranges in CreateConnection.
//! Please use UpdateConnection." and "Failed to delete connection; Producer services (e.g.
//! CloudSQL, Cloud Memstore, etc.) are still using this connection." are the real ones users
//! report from `Error waiting for … Service Networking Connection: Error code 9, message: …`
//! (hashicorp/terraform-provider-google issues 11100 and 3294 for the first two; the third is
//! quoted in many public Terraform write-ups). The missing-network text is not from a real
//! answer.

use serde_json::{Value, json};

use crate::api::{Outcome, Req, begin_op, network_ref, op_body, project_number};
use crate::discovery::Api;
use crate::links::{connection_key, uses_network};
use crate::world::{ApiError, Effect, World, key, now_rfc3339};

/// The peering every Google-managed private services access connection creates.
pub const PEERING: &str = "servicenetworking-googleapis-com";

pub fn dispatch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    match r.method.name.as_str() {
        "services.connections.list" => list(w, r),
        "services.connections.create" => connect(w, r, false),
        "services.connections.patch" => connect(w, r, true),
        "services.connections.deleteConnection" => delete(w, r),
        "operations.get" => {
            let k = key(Api::Servicenetworking, &r.segs[1..].join("/"));
            op_body(w, &k).map(|b| Outcome::op(k, b))
        }
        _ => Err(r.unimplemented()),
    }
}

fn list(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let service = r.seg(2).to_string();
    let Some(network) = r.q("network").filter(|n| !n.is_empty()) else {
        return Err(ApiError::invalid(
            "Request contains an invalid argument: network is required.",
        ));
    };
    let Some((project, name)) = network_ref(w, network) else {
        return Err(ApiError::invalid(format!(
            "Invalid network name '{network}': expected projects/{{project}}/global/networks/{{network}}."
        )));
    };
    let found = w
        .objects
        .get(&connection_key(&service, &project, &name))
        .map(|o| o.data.clone());
    // proto3 JSON: an empty repeated field is left out, so "no connection" is `{}`.
    Ok(Outcome::ok(match found {
        Some(c) => json!({ "connections": [c] }),
        None => json!({}),
    }))
}

/// Starts a Service Networking operation: `{"name"}` now, `response` or `error` when done.
fn start(w: &mut World, project: &str, target: &str, outcome: Result<Value, String>) -> Outcome {
    let id = w.uuid();
    let op_path = format!("operations/pssn.p24-{}-{id}", project_number(project));
    let op_key = key(Api::Servicenetworking, &op_path);
    let effect = match outcome {
        Ok(response) => Effect::SetOp(op_key, "/response".to_string(), response),
        Err(message) => Effect::SetOp(
            op_key,
            "/error".to_string(),
            json!({"code": 9, "message": message}),
        ),
    };
    begin_op(
        w,
        Api::Servicenetworking,
        &op_path,
        json!({ "name": op_path }),
        target,
        vec![effect],
    )
}

/// `create`, or `patch` (`update`): the connection of the body's `network` with its
/// `reservedPeeringRanges`.
fn connect(w: &mut World, r: &Req, update: bool) -> Result<Outcome, ApiError> {
    let service = r.seg(2).to_string();
    let network = r.body["network"].as_str().unwrap_or_default().to_string();
    let Some((project, name)) = network_ref(w, &network) else {
        return Err(ApiError::invalid(format!(
            "Invalid network name '{network}': expected projects/{{project}}/global/networks/{{network}}."
        )));
    };
    let ranges: Vec<String> = r.body["reservedPeeringRanges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let ck = connection_key(&service, &project, &name);
    let net_key = key(
        Api::Compute,
        &format!("projects/{project}/global/networks/{name}"),
    );
    let existing = w.objects.get(&ck).map(|o| o.data.clone());
    let refusal = if !w.objects.contains_key(&net_key) {
        Some(format!(
            "Network 'projects/{}/global/networks/{name}' not found.",
            project_number(&project)
        ))
    } else if let Some(missing) = ranges
        .iter()
        .find(|range| !is_peering_range(w, &project, range, &name))
    {
        Some(format!(
            "Allocated IP range '{missing}' not found in network."
        ))
    } else {
        match &existing {
            Some(c) if !update && c["reservedPeeringRanges"] != json!(ranges) => Some(
                "Cannot modify allocated ranges in CreateConnection. Please use UpdateConnection."
                    .to_string(),
            ),
            _ => None,
        }
    };
    if let Some(message) = refusal {
        return Ok(start(w, &project, &ck, Err(message)));
    }
    let canonical = format!(
        "projects/{}/global/networks/{name}",
        project_number(&project)
    );
    let conn = json!({
        "network": canonical,
        "peering": PEERING,
        "reservedPeeringRanges": ranges,
        "service": format!("services/{service}"),
    });
    if existing.is_none() {
        add_peering(w, r, &net_key);
    }
    w.insert(ck.clone(), "servicenetworking:connection", conn.clone());
    let mut response = conn;
    if let Some(m) = response.as_object_mut() {
        m.remove("service");
        m.insert(
            "@type".to_string(),
            json!("type.googleapis.com/google.cloud.servicenetworking.v1.Connection"),
        );
    }
    Ok(start(w, &project, &ck, Ok(response)))
}

/// Whether `range` names a compute global address of `project` reserved for VPC peering on
/// the network `network`.
fn is_peering_range(w: &World, project: &str, range: &str, network: &str) -> bool {
    let k = key(
        Api::Compute,
        &format!("projects/{project}/global/addresses/{range}"),
    );
    w.objects.get(&k).is_some_and(|o| {
        o.data["purpose"] == json!("VPC_PEERING")
            && o.data["network"]
                .as_str()
                .and_then(|n| network_ref(w, n))
                .is_some_and(|(p, n)| p == project && n == network)
    })
}

/// Adds the service producer's peering to the compute network, shaped like the real
/// network GET shows it.
fn add_peering(w: &mut World, r: &Req, net_key: &str) {
    let tenant = format!("g{}-tp", w.hex(16));
    let peering = json!({
        "autoCreateRoutes": true,
        "exchangeSubnetRoutes": true,
        "exportCustomRoutes": false,
        "exportSubnetRoutesWithPublicIp": false,
        "importCustomRoutes": false,
        "importSubnetRoutesWithPublicIp": false,
        "name": PEERING,
        "network": format!("{}/compute/v1/projects/{tenant}/global/networks/servicenetworking", r.urls.compute),
        "stackType": "IPV4_ONLY",
        "state": "ACTIVE",
        "stateDetails": format!("[{}]: Connected.", now_rfc3339()),
    });
    if let Some(net) = w.objects.get_mut(net_key) {
        match net.data["peerings"].as_array_mut() {
            Some(list) => list.push(peering),
            None => net.data["peerings"] = json!([peering]),
        }
    }
}

/// Removes the peering named `name` from a compute network (what deleting the connection
/// does to the consumer network).
pub fn remove_peering(w: &mut World, net_key: &str, name: &str) {
    if let Some(net) = w.objects.get_mut(net_key)
        && let Some(m) = net.data.as_object_mut()
    {
        if let Some(list) = m.get_mut("peerings").and_then(Value::as_array_mut) {
            list.retain(|p| p["name"].as_str() != Some(name));
        }
        if m.get("peerings")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            m.remove("peerings");
        }
    }
}

fn delete(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let service = r.seg(2).to_string();
    let network = r.body["consumerNetwork"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some((project, name)) = network_ref(w, &network) else {
        return Err(ApiError::invalid(format!(
            "Invalid consumer network '{network}': expected projects/{{project}}/global/networks/{{network}}."
        )));
    };
    let ck = connection_key(&service, &project, &name);
    if !w.objects.contains_key(&ck) {
        return Err(ApiError::not_found(format!(
            "Connection for network 'projects/{}/global/networks/{name}' not found.",
            project_number(&project)
        )));
    }
    if uses_network(w, &project, &name) {
        return Ok(start(
            w,
            &project,
            &ck,
            Err("Failed to delete connection; Producer services (e.g. CloudSQL, Cloud Memstore, etc.) are still using this connection.".to_string()),
        ));
    }
    w.objects.remove(&ck);
    let net_key = key(
        Api::Compute,
        &format!("projects/{project}/global/networks/{name}"),
    );
    remove_peering(w, &net_key, PEERING);
    Ok(start(
        w,
        &project,
        &ck,
        Ok(json!({"@type": "type.googleapis.com/google.protobuf.Empty"})),
    ))
}
