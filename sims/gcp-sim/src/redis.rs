//! Memorystore for Redis Cluster (redis v1): `projects.locations.clusters` (`create` with
//! `clusterId`, `get`, `list`, `delete`, `patch` with `updateMask`) and
//! `projects.locations.operations` (`get`, `list`, `delete`, `cancel`). Operations are
//! `google.longrunning.Operation`s (`done` false, then true with the cluster as `response`).
//!
//! Clusters go `CREATING` → `ACTIVE` (`UPDATING` while patched, `DELETING` while deleted).
//! Bodies have the field set of the real answers (`redis/basicrediscluster@…`,
//! `redis/replicationrediscluster@…`): the configuration blocks (`automatedBackupConfig`,
//! `persistenceConfig`, `encryptionInfo`, `zoneDistributionConfig`, …) from the create on,
//! and when `ACTIVE` the endpoints: `discoveryEndpoints[].pscConfig.network`,
//! `pscConnections[]`, `clusterEndpoints[].connections[].pscAutoConnection` and
//! `pscServiceAttachments[]`. The request's `pscConfigs` is never answered back: real
//! answers do not carry it.
//!
//! Google's refusals reproduced here:
//! * a create on a network with no service connection policy of class
//!   `gcp-memorystore-redis` in the cluster's region is accepted and its operation fails
//!   (Google's documentation: the network "must match the network ID used by the service
//!   connection policy. Otherwise, the create operation fails", cloud.google.com/memorystore/
//!   docs/cluster/manage-iam-auth). The error text is the simulator's own (no real one was
//!   found); the failed cluster is removed.
//! * a `patch` whose `updateMask` names more than one field is `400 INVALID_ARGUMENT`
//!   "exactly 1 update_mask field must be specified per update request" (the real answer,
//!   quoted in issue 13).

use serde_json::{Value, json};

use crate::api::{
    Outcome, Req, begin_op, camel, get_stored, list_stored, longrunning_operations, network_ref,
    project_number, resource_not_found, rfc1035, v1_path,
};
use crate::discovery::Api;
use crate::links::{SERVICE_CLASS, has_policy};
use crate::world::{ApiError, Effect, World, key, now_rfc3339, set_pointer};

pub fn dispatch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    match r.method.name.as_str() {
        "projects.locations.clusters.create" => create(w, r),
        "projects.locations.clusters.get" => get_stored(w, r),
        "projects.locations.clusters.list" => list_stored(w, r, "clusters"),
        "projects.locations.clusters.delete" => delete(w, r),
        "projects.locations.clusters.patch" => patch(w, r),
        name if name.starts_with("projects.locations.operations.") => {
            longrunning_operations(w, r, Api::Redis)
        }
        _ => Err(r.unimplemented()),
    }
}

/// The path of a new operation of the request's project and location.
fn new_op_path(w: &mut World, r: &Req) -> String {
    let name = w.op_name();
    format!(
        "projects/{}/locations/{}/operations/{name}",
        r.seg(2),
        r.seg(4)
    )
}

fn start(
    w: &mut World,
    r: &Req,
    verb: &str,
    target_path: &str,
    target_key: &str,
    effects: Vec<Effect>,
) -> Outcome {
    let op_path = new_op_path(w, r);
    start_at(w, op_path, verb, target_path, target_key, effects)
}

/// [`start`] with the operation's path chosen by the caller (whose effects name it).
fn start_at(
    w: &mut World,
    op_path: String,
    verb: &str,
    target_path: &str,
    target_key: &str,
    effects: Vec<Effect>,
) -> Outcome {
    let data = json!({
        "name": op_path,
        "metadata": {
            "@type": "type.googleapis.com/google.cloud.redis.cluster.v1.OperationMetadata",
            "createTime": now_rfc3339(),
            "target": target_path,
            "verb": verb,
            "requestedCancellation": false,
            "apiVersion": "v1",
        },
        "done": false,
    });
    begin_op(w, Api::Redis, &op_path, data, target_key, effects)
}

fn busy(w: &World, k: &str, path: &str) -> Result<(), ApiError> {
    if w.busy_with(k).is_some() {
        return Err(ApiError::failed_precondition(format!(
            "The cluster {path} is busy with another operation; try again later."
        )));
    }
    Ok(())
}

/// The memory of one node of a node type, in GB (Memorystore's published node
/// specifications; the real log shows 13 for `REDIS_HIGHMEM_MEDIUM` and 6.5 for
/// `REDIS_STANDARD_SMALL`).
fn node_gb(node_type: &str) -> f64 {
    match node_type {
        "REDIS_SHARED_CORE_NANO" => 1.4,
        "REDIS_STANDARD_SMALL" => 6.5,
        "REDIS_HIGHCPU_MEDIUM" => 6.5,
        "REDIS_HIGHMEM_XLARGE" => 58.0,
        "REDIS_STANDARD_LARGE" => 26.0,
        "REDIS_HIGHMEM_2XLARGE" => 116.0,
        _ => 13.0,
    }
}

/// Sets `sizeGb` and `preciseSizeGb` from the shards and node type: the memory of the
/// primaries only (the real log: 3 × `REDIS_STANDARD_SMALL` with one replica is 19.5, sized
/// up to 20).
fn set_size(c: &mut Value) {
    let shards = c["shardCount"].as_i64().unwrap_or(0) as f64;
    let precise = shards * node_gb(c["nodeType"].as_str().unwrap_or_default());
    c["preciseSizeGb"] = if precise.fract() == 0.0 {
        json!(precise as i64)
    } else {
        json!(precise)
    };
    c["sizeGb"] = json!(precise.ceil() as i64);
}

/// The endpoints an `ACTIVE` cluster on `network` shows, shaped as the real answers.
fn endpoints(w: &mut World, project: &str, region: &str, network: &str) -> Vec<(String, Value)> {
    let tenant = project_number(&format!("{project}/redis/{}", w.hex(8)));
    let sa_base = format!(
        "projects/{tenant}/regions/{region}/serviceAttachments/gcp-memorystore-auto-{}-psc-sa",
        w.hex(16)
    );
    let attachments = [sa_base.clone(), format!("{sa_base}-2")];
    let discovery = w.address("10.128");
    let mut psc_connections = Vec::new();
    let mut auto = Vec::new();
    for (i, sa) in attachments.iter().enumerate() {
        let rule = format!(
            "https://www.googleapis.com/compute/v1/projects/{project}/regions/{region}/forwardingRules/sca-auto-fr-{}",
            w.uuid()
        );
        let id = w.numeric_id();
        let address = if i == 0 {
            discovery.clone()
        } else {
            w.address("10.128")
        };
        psc_connections.push(json!({
            "address": address,
            "forwardingRule": rule,
            "network": network,
            "projectId": project,
            "pscConnectionId": id,
            "serviceAttachment": sa,
        }));
        let mut conn = json!({
            "address": address,
            "forwardingRule": rule,
            "network": network,
            "projectId": project,
            "pscConnectionId": id,
            "pscConnectionStatus": "PSC_CONNECTION_STATUS_ACTIVE",
            "serviceAttachment": sa,
        });
        // Only the discovery connection names its type in the real answers.
        if i == 0 {
            conn["connectionType"] = json!("CONNECTION_TYPE_DISCOVERY");
        }
        auto.push(json!({ "pscAutoConnection": conn }));
    }
    vec![
        ("/state".to_string(), json!("ACTIVE")),
        (
            "/discoveryEndpoints".to_string(),
            json!([{"address": discovery, "port": 6379, "pscConfig": {"network": network}}]),
        ),
        ("/pscConnections".to_string(), json!(psc_connections)),
        (
            "/clusterEndpoints".to_string(),
            json!([{ "connections": auto }]),
        ),
        (
            "/pscServiceAttachments".to_string(),
            json!([
                {"connectionType": "CONNECTION_TYPE_DISCOVERY", "serviceAttachment": attachments[0]},
                {"serviceAttachment": attachments[1]},
            ]),
        ),
    ]
}

fn create(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let Some(id) = r.q("clusterId").map(str::to_string) else {
        return Err(ApiError::invalid("cluster_id is required"));
    };
    if !rfc1035(&id) {
        return Err(ApiError::invalid(format!(
            "Invalid cluster_id '{id}': it must be 1-63 lowercase letters, digits or hyphens, starting with a letter."
        )));
    }
    let parent = v1_path(r).trim_end_matches("/clusters").to_string();
    let path = format!("{parent}/clusters/{id}");
    let k = key(Api::Redis, &path);
    if w.objects.contains_key(&k) {
        return Err(ApiError::already_exists(format!(
            "Resource '{path}' already exists"
        )));
    }
    let mut c = r.body.clone();
    if !c.is_object() {
        c = json!({});
    }
    let networks: Vec<String> = c["pscConfigs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["network"].as_str().map(str::to_string))
        .collect();
    let Some(network) = networks.first().cloned() else {
        return Err(ApiError::invalid(
            "psc_configs is required: give the consumer network (pscConfigs[].network).",
        ));
    };
    if network_ref(w, &network).is_none() {
        return Err(ApiError::invalid(format!(
            "Invalid network '{network}': expected projects/{{project}}/global/networks/{{network}}."
        )));
    }
    if c["shardCount"].as_i64().unwrap_or(0) <= 0 {
        return Err(ApiError::invalid("shard_count must be greater than 0."));
    }
    let (project, region) = (r.seg(2).to_string(), r.seg(4).to_string());
    // The discovery document marks `clusterRole` and `RemoteCluster.cluster` output-only, but
    // the real log's create sends `primaryCluster.cluster` and it takes effect: a cluster
    // created with a `primaryCluster` is that cluster's secondary.
    let primary =
        match r.sent["crossClusterReplicationConfig"]["primaryCluster"]["cluster"].as_str() {
            Some(p) => {
                if !w.objects.contains_key(&key(Api::Redis, p)) {
                    return Err(ApiError::invalid(format!(
                        "The primary cluster '{p}' does not exist."
                    )));
                }
                Some(p.to_string())
            }
            None => None,
        };
    if let Some(m) = c.as_object_mut() {
        m.remove("pscConfigs");
        m.remove("crossClusterReplicationConfig");
    }
    let set = |c: &mut Value, k: &str, v: Value| {
        if c.get(k).is_none_or(Value::is_null) {
            c[k] = v;
        }
    };
    c["name"] = json!(path);
    c["state"] = json!("CREATING");
    c["uid"] = json!(w.uuid());
    c["createTime"] = json!(now_rfc3339());
    set(&mut c, "replicaCount", json!(0));
    set(&mut c, "nodeType", json!("REDIS_HIGHMEM_MEDIUM"));
    set(&mut c, "authorizationMode", json!("AUTH_MODE_DISABLED"));
    set(
        &mut c,
        "transitEncryptionMode",
        json!("TRANSIT_ENCRYPTION_MODE_DISABLED"),
    );
    set(&mut c, "deletionProtectionEnabled", json!(false));
    set(
        &mut c,
        "automatedBackupConfig",
        json!({"automatedBackupMode": "DISABLED"}),
    );
    set(&mut c, "persistenceConfig", json!({"mode": "DISABLED"}));
    set(
        &mut c,
        "zoneDistributionConfig",
        json!({"mode": "MULTI_ZONE"}),
    );
    set(&mut c, "serverCaMode", json!("SERVER_CA_MODE_UNSPECIFIED"));
    c["encryptionInfo"] = json!({"encryptionType": "GOOGLE_DEFAULT_ENCRYPTION"});
    c["effectiveMaintenanceVersion"] = json!("REDISCLUSTER_20260512_00_00");
    c["satisfiesPzi"] = json!(false);
    set_size(&mut c);
    let op_path = new_op_path(w, r);
    let ready = has_policy(w, &project, &region, &network, SERVICE_CLASS);
    let effects = if ready {
        vec![Effect::Patch(
            k.clone(),
            endpoints(w, &project, &region, &network),
        )]
    } else {
        let message = format!(
            "Failed to create cluster {path}: no service connection policy with service class '{SERVICE_CLASS}' exists for network '{network}' in region '{region}'. Create one (networkconnectivity.googleapis.com serviceConnectionPolicies) and retry."
        );
        vec![
            Effect::Remove(k.clone()),
            Effect::SetOp(
                key(Api::Redis, &op_path),
                "/error".to_string(),
                json!({"code": 9, "message": message}),
            ),
        ]
    };
    w.insert(k.clone(), "redis:cluster", c);
    if ready && let Some(p) = primary {
        link(w, &p, std::slice::from_ref(&path));
    }
    Ok(start_at(w, op_path, "create", &path, &k, effects))
}

/// Writes the cross-cluster replication configuration of a primary and its secondaries,
/// shaped as the real answers: the primary has `secondaryClusters`, each secondary
/// `primaryCluster`, and all of them the same `membership`.
fn link(w: &mut World, primary: &str, secondaries: &[String]) {
    let uid = |w: &World, path: &str| {
        w.objects
            .get(&key(Api::Redis, path))
            .map_or(json!(""), |o| o.data["uid"].clone())
    };
    let p_ref = json!({"cluster": primary, "uid": uid(w, primary)});
    let s_refs: Vec<Value> = secondaries
        .iter()
        .map(|s| json!({"cluster": s, "uid": uid(w, s)}))
        .collect();
    let membership = json!({"primaryCluster": p_ref, "secondaryClusters": s_refs});
    let now = now_rfc3339();
    if let Some(o) = w.objects.get_mut(&key(Api::Redis, primary)) {
        o.data["crossClusterReplicationConfig"] = json!({
            "clusterRole": "PRIMARY",
            "membership": membership,
            "secondaryClusters": s_refs,
            "updateTime": now,
        });
    }
    for s in secondaries {
        if let Some(o) = w.objects.get_mut(&key(Api::Redis, s)) {
            o.data["crossClusterReplicationConfig"] = json!({
                "clusterRole": "SECONDARY",
                "membership": membership,
                "primaryCluster": p_ref,
                "updateTime": now,
            });
        }
    }
}

/// Takes a deleted cluster out of its replication group: the others are linked again
/// without it (a primary left alone loses its configuration).
fn unlink(w: &mut World, path: &str) {
    let Some(ccr) = w
        .objects
        .get(&key(Api::Redis, path))
        .map(|o| o.data["crossClusterReplicationConfig"].clone())
    else {
        return;
    };
    let members = &ccr["membership"];
    let Some(primary) = members["primaryCluster"]["cluster"].as_str() else {
        return;
    };
    let rest: Vec<String> = members["secondaryClusters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["cluster"].as_str().map(str::to_string))
        .filter(|s| s != path)
        .collect();
    if primary == path || rest.is_empty() {
        for member in rest.iter().map(String::as_str).chain([primary]) {
            if member != path
                && let Some(o) = w.objects.get_mut(&key(Api::Redis, member))
                && let Some(m) = o.data.as_object_mut()
            {
                m.remove("crossClusterReplicationConfig");
            }
        }
    } else {
        link(w, primary, &rest);
    }
}

fn delete(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = v1_path(r);
    let k = key(Api::Redis, &path);
    if !w.objects.contains_key(&k) {
        return Err(resource_not_found(&path));
    }
    busy(w, &k, &path)?;
    unlink(w, &path);
    if let Some(o) = w.objects.get_mut(&k) {
        o.deleting = true;
        o.data["state"] = json!("DELETING");
    }
    Ok(start(
        w,
        r,
        "delete",
        &path,
        &k,
        vec![Effect::Remove(k.clone())],
    ))
}

fn patch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = v1_path(r);
    let k = key(Api::Redis, &path);
    if !w.objects.contains_key(&k) {
        return Err(resource_not_found(&path));
    }
    let Some(mask) = r.q("updateMask").filter(|m| !m.is_empty()) else {
        return Err(ApiError::invalid("update_mask is required"));
    };
    let fields: Vec<String> = mask.split(',').map(|f| camel(f.trim())).collect();
    if fields.len() != 1 {
        return Err(ApiError::invalid(
            "exactly 1 update_mask field must be specified per update request",
        ));
    }
    busy(w, &k, &path)?;
    let field = fields.concat();
    if field == "crossClusterReplicationConfig" {
        // `clusterRole` is output-only: naming `secondaryClusters` makes this cluster their
        // primary (a switchover when it was their secondary, as in the real log).
        let secondaries: Vec<String> = r.sent["crossClusterReplicationConfig"]["secondaryClusters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["cluster"].as_str().map(str::to_string))
            .collect();
        if !secondaries.is_empty() {
            link(w, &path, &secondaries);
        }
    } else {
        let pointer = format!("/{}", field.replace('.', "/"));
        let value = r.body.pointer(&pointer).cloned().unwrap_or(Value::Null);
        if let Some(o) = w.objects.get_mut(&k) {
            set_pointer(&mut o.data, &pointer, value);
            set_size(&mut o.data);
        }
    }
    // The new values show at once; the state returns to ACTIVE when the operation is done.
    if let Some(o) = w.objects.get_mut(&k) {
        o.data["state"] = json!("UPDATING");
    }
    Ok(start(
        w,
        r,
        "update",
        &path,
        &k,
        vec![Effect::Patch(
            k.clone(),
            vec![("/state".to_string(), json!("ACTIVE"))],
        )],
    ))
}
