//! Memorystore for Redis (redis v1): `projects.locations.instances` (`create` with
//! `instanceId`, `get`, `list`, `patch` with `updateMask`, `delete`); their operations are
//! the redis API's `projects.locations.operations` ([`crate::redis`]), `google.longrunning`
//! ones whose `response` is the instance.
//!
//! Instances go `CREATING` → `READY` (`UPDATING` while patched, `DELETING` while deleted).
//! When `READY` they show `host` and `port` and, with read replicas on, `readEndpoint` and
//! `readEndpointPort`, one `nodes[]` entry per node (the primary in `locationId`, the first
//! replica in `alternativeLocationId`, the others spread over the region's other zones).
//!
//! What the discovery document (`redis.v1.json`, the `Instance` field descriptions) allows,
//! and so what is refused here with `400 INVALID_ARGUMENT` (the texts are the simulator's
//! own; no real answer was recorded):
//! * `instanceId`: 1–40 lowercase letters, digits or hyphens, starting with a letter and
//!   ending with a letter or a digit;
//! * `tier` (`BASIC` or `STANDARD_HA`) and `memorySizeGb` are required;
//! * `replicaCount`: 0 on `BASIC`; on `STANDARD_HA` 1–5 with `readReplicasMode`
//!   `READ_REPLICAS_ENABLED` (default 2), else only 1 (default 1);
//! * read replicas only on `STANDARD_HA`, and (Memorystore's "read replicas" page) on an
//!   instance of 5 GB or more;
//! * `alternativeLocationId` only on `STANDARD_HA`, and not `locationId`;
//! * `redisVersion` one of those the description lists;
//! * `connectMode` `PRIVATE_SERVICE_ACCESS` needs a private services access connection on
//!   `authorizedNetwork` (refused `400 FAILED_PRECONDITION`, as Cloud SQL's private IP is);
//! * `patch`: `updateMask` only `displayName`, `labels`, `memorySizeGb`, `redisConfigs`,
//!   `replicaCount` (the description's list), the replica count in the range above.

use serde_json::{Value, json};

use crate::api::{
    Outcome, Req, begin_op, camel, get_stored, list_stored, network_ref, resource_not_found,
    v1_path,
};
use crate::discovery::Api;
use crate::links::connection;
use crate::world::{ApiError, Effect, World, key, now_rfc3339, set_pointer};

/// The `redisVersion` values the discovery document lists.
const VERSIONS: [&str; 6] = [
    "REDIS_3_2",
    "REDIS_4_0",
    "REDIS_5_0",
    "REDIS_6_X",
    "REDIS_7_0",
    "REDIS_7_2",
];

/// The fields `patch` takes (`updateMask`), camelCase.
const PATCHABLE: [&str; 5] = [
    "displayName",
    "labels",
    "memorySizeGb",
    "redisConfigs",
    "replicaCount",
];

/// The smallest instance with read replicas, GB.
const READ_REPLICAS_MIN_GB: i64 = 5;

pub fn dispatch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    match r.method.name.as_str() {
        "projects.locations.instances.create" => create(w, r),
        "projects.locations.instances.get" => get_stored(w, r),
        "projects.locations.instances.list" => list_stored(w, r, "instances"),
        "projects.locations.instances.patch" => patch(w, r),
        "projects.locations.instances.delete" => delete(w, r),
        _ => Err(r.unimplemented()),
    }
}

/// Starts an operation of the instance at `path` (`verb`: create, update, delete).
fn start(w: &mut World, r: &Req, verb: &str, path: &str, effects: Vec<Effect>) -> Outcome {
    let op_path = format!(
        "projects/{}/locations/{}/operations/{}",
        r.seg(2),
        r.seg(4),
        w.op_name()
    );
    let data = json!({
        "name": op_path,
        "metadata": {
            "@type": "type.googleapis.com/google.cloud.redis.v1.OperationMetadata",
            "createTime": now_rfc3339(),
            "target": path,
            "verb": verb,
            "cancelRequested": false,
            "apiVersion": "v1",
        },
        "done": false,
    });
    let k = key(Api::Redis, path);
    begin_op(w, Api::Redis, &op_path, data, &k, effects)
}

fn valid_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    (1..=40).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.last().is_some_and(|b| *b != b'-')
}

/// The replica counts a tier and read-replicas mode allow, and the default.
fn replica_range(tier: &str, read_replicas: bool) -> (i64, i64, i64) {
    match (tier, read_replicas) {
        ("STANDARD_HA", true) => (1, 5, 2),
        ("STANDARD_HA", false) => (1, 1, 1),
        _ => (0, 0, 0),
    }
}

fn check_replicas(i: &Value) -> Result<(), ApiError> {
    let tier = i["tier"].as_str().unwrap_or_default();
    let read = i["readReplicasMode"] == json!("READ_REPLICAS_ENABLED");
    let (low, high, _) = replica_range(tier, read);
    let count = i["replicaCount"].as_i64().unwrap_or(0);
    if !(low..=high).contains(&count) {
        return Err(ApiError::invalid(format!(
            "replica_count {count} is not valid for tier {tier} with read replicas {}: \
             the valid range is [{low}-{high}].",
            if read { "enabled" } else { "disabled" }
        )));
    }
    Ok(())
}

/// Checks a create's body against what the discovery document allows.
fn check_create(w: &World, i: &Value) -> Result<(), ApiError> {
    let tier = i["tier"].as_str().unwrap_or_default();
    if tier != "BASIC" && tier != "STANDARD_HA" {
        return Err(ApiError::invalid("tier is required: BASIC or STANDARD_HA."));
    }
    let gb = i["memorySizeGb"].as_i64().unwrap_or(0);
    if gb <= 0 {
        return Err(ApiError::invalid("memory_size_gb must be greater than 0."));
    }
    if i["readReplicasMode"] == json!("READ_REPLICAS_ENABLED") {
        if tier != "STANDARD_HA" {
            return Err(ApiError::invalid(
                "Read replicas are only supported on the STANDARD_HA tier.",
            ));
        }
        if gb < READ_REPLICAS_MIN_GB {
            return Err(ApiError::invalid(format!(
                "Read replicas need an instance of at least {READ_REPLICAS_MIN_GB} GB, got {gb}."
            )));
        }
    }
    check_replicas(i)?;
    if let Some(alt) = i["alternativeLocationId"].as_str() {
        if tier != "STANDARD_HA" {
            return Err(ApiError::invalid(
                "alternative_location_id is only applicable to the STANDARD_HA tier.",
            ));
        }
        if Some(alt) == i["locationId"].as_str() {
            return Err(ApiError::invalid(
                "alternative_location_id must be a different zone from location_id.",
            ));
        }
    }
    let version = i["redisVersion"].as_str().unwrap_or_default();
    if !VERSIONS.contains(&version) {
        return Err(ApiError::invalid(format!(
            "Unsupported redis_version '{version}'; supported: {}.",
            VERSIONS.join(", ")
        )));
    }
    let network = i["authorizedNetwork"].as_str().unwrap_or_default();
    if network_ref(w, network).is_none() {
        return Err(ApiError::invalid(format!(
            "Invalid authorized_network '{network}': expected projects/{{project}}/global/networks/{{network}}."
        )));
    }
    if i["connectMode"] == json!("PRIVATE_SERVICE_ACCESS") && connection(w, network).is_none() {
        return Err(ApiError::failed_precondition(format!(
            "Private services access is not set up on network '{network}': create a Service \
             Networking connection with service 'servicenetworking.googleapis.com' first."
        )));
    }
    Ok(())
}

/// What a `READY` instance shows: its endpoints and nodes.
fn ready_fields(w: &mut World, i: &Value, region: &str) -> Vec<(String, Value)> {
    let zone = |s: &str| format!("{region}-{s}");
    let primary = i["locationId"]
        .as_str()
        .map_or_else(|| zone("b"), str::to_string);
    let alternative = i["alternativeLocationId"]
        .as_str()
        .map_or_else(|| zone("c"), str::to_string);
    let others: Vec<String> = ["b", "c", "d"]
        .into_iter()
        .map(zone)
        .filter(|z| *z != primary && *z != alternative)
        .collect();
    let count = i["replicaCount"].as_i64().unwrap_or(0).max(0) as usize;
    let mut zones = vec![primary.clone()];
    if count > 0 {
        zones.push(alternative);
    }
    while zones.len() < count + 1 {
        let next = others
            .get((zones.len() - 2) % others.len().max(1))
            .cloned()
            .unwrap_or_else(|| primary.clone());
        zones.push(next);
    }
    let nodes: Vec<Value> = zones
        .iter()
        .enumerate()
        .map(|(n, z)| json!({"id": format!("node-{n}"), "zone": z}))
        .collect();
    let mut out = vec![
        ("/state".to_string(), json!("READY")),
        ("/host".to_string(), json!(w.address("10.90"))),
        ("/port".to_string(), json!(6379)),
        ("/currentLocationId".to_string(), json!(primary)),
        ("/nodes".to_string(), json!(nodes)),
    ];
    if i["readReplicasMode"] == json!("READ_REPLICAS_ENABLED") {
        out.push(("/readEndpoint".to_string(), json!(w.address("10.90"))));
        out.push(("/readEndpointPort".to_string(), json!(6379)));
    }
    out
}

fn create(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let Some(id) = r.q("instanceId").map(str::to_string) else {
        return Err(ApiError::invalid("instance_id is required"));
    };
    if !valid_id(&id) {
        return Err(ApiError::invalid(format!(
            "Invalid instance_id '{id}': it must be 1-40 lowercase letters, digits or hyphens, \
             starting with a letter and ending with a letter or a digit."
        )));
    }
    let parent = v1_path(r).trim_end_matches("/instances").to_string();
    let path = format!("{parent}/instances/{id}");
    let k = key(Api::Redis, &path);
    if w.objects.contains_key(&k) {
        return Err(ApiError::already_exists(format!(
            "Resource '{path}' already exists"
        )));
    }
    let mut i = if r.body.is_object() {
        r.body.clone()
    } else {
        json!({})
    };
    let set = |i: &mut Value, k: &str, v: Value| {
        if i.get(k).is_none_or(Value::is_null) {
            i[k] = v;
        }
    };
    let tier = i["tier"].as_str().unwrap_or_default().to_string();
    let read = i["readReplicasMode"] == json!("READ_REPLICAS_ENABLED");
    set(&mut i, "replicaCount", json!(replica_range(&tier, read).2));
    set(&mut i, "redisVersion", json!("REDIS_7_0"));
    set(
        &mut i,
        "authorizedNetwork",
        json!(format!("projects/{}/global/networks/default", r.seg(2))),
    );
    check_create(w, &i)?;
    let project = r.seg(2).to_string();
    set(&mut i, "connectMode", json!("DIRECT_PEERING"));
    set(&mut i, "readReplicasMode", json!("READ_REPLICAS_DISABLED"));
    set(&mut i, "transitEncryptionMode", json!("DISABLED"));
    set(&mut i, "authEnabled", json!(false));
    set(
        &mut i,
        "persistenceConfig",
        json!({"persistenceMode": "DISABLED"}),
    );
    set(
        &mut i,
        "reservedIpRange",
        json!(format!("{}/29", w.address("10.90"))),
    );
    i["name"] = json!(path);
    i["state"] = json!("CREATING");
    i["createTime"] = json!(now_rfc3339());
    i["persistenceIamIdentity"] = json!(format!(
        "serviceAccount:service-{}@cloud-redis.iam.gserviceaccount.com",
        crate::api::project_number(&project)
    ));
    i["maintenanceVersion"] = json!("20261110_00_00");
    let ready = ready_fields(w, &i, r.seg(4));
    w.insert(k.clone(), "redis:instance", i);
    Ok(start(w, r, "create", &path, vec![Effect::Patch(k, ready)]))
}

fn busy(w: &World, k: &str, path: &str) -> Result<(), ApiError> {
    if w.busy_with(k).is_some() {
        return Err(ApiError::failed_precondition(format!(
            "The instance {path} is busy with another operation; try again later."
        )));
    }
    Ok(())
}

fn patch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = v1_path(r);
    let k = key(Api::Redis, &path);
    let Some(current) = w.objects.get(&k).map(|o| o.data.clone()) else {
        return Err(resource_not_found(&path));
    };
    let Some(mask) = r.q("updateMask").filter(|m| !m.is_empty()) else {
        return Err(ApiError::invalid("update_mask is required"));
    };
    let fields: Vec<String> = mask.split(',').map(|f| camel(f.trim())).collect();
    if let Some(bad) = fields.iter().find(|f| !PATCHABLE.contains(&f.as_str())) {
        return Err(ApiError::invalid(format!(
            "Field '{bad}' cannot be updated; the mask may name {}.",
            PATCHABLE.join(", ")
        )));
    }
    busy(w, &k, &path)?;
    let mut next = current;
    for field in &fields {
        let pointer = format!("/{field}");
        let value = r.body.pointer(&pointer).cloned().unwrap_or(Value::Null);
        set_pointer(&mut next, &pointer, value);
    }
    check_replicas(&next)?;
    next["state"] = json!("UPDATING");
    let region = r.seg(4).to_string();
    let mut ready = ready_fields(w, &next, &region);
    // An update keeps the endpoints: only the nodes follow the replica count.
    ready.retain(|(p, _)| p == "/state" || p == "/nodes");
    if let Some(o) = w.objects.get_mut(&k) {
        o.data = next;
    }
    Ok(start(w, r, "update", &path, vec![Effect::Patch(k, ready)]))
}

fn delete(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = v1_path(r);
    let k = key(Api::Redis, &path);
    if !w.objects.contains_key(&k) {
        return Err(resource_not_found(&path));
    }
    busy(w, &k, &path)?;
    if let Some(o) = w.objects.get_mut(&k) {
        o.deleting = true;
        o.data["state"] = json!("DELETING");
    }
    Ok(start(
        w,
        r,
        "delete",
        &path,
        vec![Effect::Remove(k.clone())],
    ))
}
