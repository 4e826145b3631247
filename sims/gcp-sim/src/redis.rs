//! Memorystore for Redis Cluster (redis v1): `projects.locations.clusters` (`create` with
//! `clusterId`, `get`, `list`, `delete`, `patch` with `updateMask`) and
//! `projects.locations.operations` (`get`, `list`, `delete`, `cancel`). Operations are
//! `google.longrunning.Operation`s (`done` false, then true with the cluster as `response`).
//!
//! Clusters go `CREATING` → `ACTIVE` (`UPDATING` while patched, `DELETING` while deleted);
//! `discoveryEndpoints` and `pscConnections` appear when the cluster becomes `ACTIVE`.

use serde_json::{Value, json};

use crate::api::{Outcome, Req, begin_op, op_body, rfc1035};
use crate::discovery::Api;
use crate::world::{ApiError, Effect, World, key, now_rfc3339, paginate, set_pointer};

pub fn dispatch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    match r.method.name.as_str() {
        "projects.locations.clusters.create" => create(w, r),
        "projects.locations.clusters.get" => {
            let path = path_of(r);
            w.objects
                .get(&key(Api::Redis, &path))
                .map(|o| Outcome::ok(o.data.clone()))
                .ok_or_else(|| not_found(&path))
        }
        "projects.locations.clusters.list" => {
            let prefix = format!("{}/", key(Api::Redis, &path_of(r)));
            let items: Vec<Value> = w
                .objects
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .filter(|(k, _)| !k[prefix.len()..].contains('/'))
                .map(|(_, o)| o.data.clone())
                .collect();
            let (max, token) = r.page();
            let (page, next) = paginate(items, max, token);
            let mut body = json!({"clusters": page, "unreachable": []});
            if let Some(n) = next {
                body["nextPageToken"] = json!(n);
            }
            Ok(Outcome::ok(body))
        }
        "projects.locations.clusters.delete" => delete(w, r),
        "projects.locations.clusters.patch" => patch(w, r),
        "projects.locations.operations.get" => {
            let k = key(Api::Redis, &path_of(r));
            op_body(w, &k).map(|b| Outcome::op(k, b))
        }
        "projects.locations.operations.list" => {
            let prefix = format!(
                "{}/operations/",
                key(Api::Redis, path_of(r).trim_end_matches("/operations"))
            );
            let ops: Vec<Value> = w
                .ops
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(_, o)| o.data.clone())
                .collect();
            Ok(Outcome::ok(json!({"operations": ops})))
        }
        "projects.locations.operations.delete" => {
            let k = key(Api::Redis, &path_of(r));
            w.ops
                .remove(&k)
                .map(|_| Outcome::ok(json!({})))
                .ok_or_else(|| not_found(&path_of(r)))
        }
        "projects.locations.operations.cancel" => {
            let path = path_of(r);
            let k = key(Api::Redis, path.trim_end_matches(":cancel"));
            match w.ops.get_mut(&k) {
                Some(op) => {
                    op.data["metadata"]["requestedCancellation"] = json!(true);
                    Ok(Outcome::ok(json!({})))
                }
                None => Err(not_found(&path)),
            }
        }
        _ => Err(r.unimplemented()),
    }
}

/// The resource path after `v1/`.
fn path_of(r: &Req) -> String {
    r.segs[1..].join("/")
}

fn not_found(path: &str) -> ApiError {
    ApiError::not_found(format!("Resource '{path}' was not found"))
}

fn start(
    w: &mut World,
    r: &Req,
    verb: &str,
    target_path: &str,
    target_key: &str,
    effects: Vec<Effect>,
) -> Outcome {
    let (project, location) = (r.seg(2).to_string(), r.seg(4).to_string());
    let name = w.op_name();
    let op_path = format!("projects/{project}/locations/{location}/operations/{name}");
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

fn create(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let Some(id) = r.q("clusterId").map(str::to_string) else {
        return Err(ApiError::invalid("cluster_id is required"));
    };
    if !rfc1035(&id) {
        return Err(ApiError::invalid(format!(
            "Invalid cluster_id '{id}': it must be 1-63 lowercase letters, digits or hyphens, starting with a letter."
        )));
    }
    let parent = path_of(r).trim_end_matches("/clusters").to_string();
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
    if networks.is_empty() {
        return Err(ApiError::invalid(
            "psc_configs is required: give the consumer network (pscConfigs[].network).",
        ));
    }
    let shards = c["shardCount"].as_i64().unwrap_or(0);
    if shards <= 0 {
        return Err(ApiError::invalid("shard_count must be greater than 0."));
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
    let replicas = c["replicaCount"].as_i64().unwrap_or(0);
    let size = shards * (1 + replicas) * 13;
    c["sizeGb"] = json!(size);
    c["preciseSizeGb"] = json!(size as f64 * 1.0);
    let project = r.seg(2).to_string();
    let address = w.address("10.128");
    let net = networks.first().cloned().unwrap_or_default();
    let conns: Vec<Value> = (0..2)
        .map(|i| {
            json!({
                "pscConnectionId": format!("{}", 1000 + i),
                "address": if i == 0 { address.clone() } else { w.address("10.128") },
                "forwardingRule": format!("https://www.googleapis.com/compute/v1/projects/{project}/regions/{}/forwardingRules/sca-auto-fr-{}", r.seg(4), w.uuid()),
                "projectId": project,
                "network": net,
            })
        })
        .collect();
    let patch = vec![
        ("/state".to_string(), json!("ACTIVE")),
        (
            "/discoveryEndpoints".to_string(),
            json!([{"address": address, "port": 6379, "pscConfig": {"network": net}}]),
        ),
        ("/pscConnections".to_string(), json!(conns)),
    ];
    w.insert(k.clone(), "redis:cluster", c);
    Ok(start(
        w,
        r,
        "create",
        &path,
        &k,
        vec![Effect::Patch(k.clone(), patch)],
    ))
}

fn delete(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = path_of(r);
    let k = key(Api::Redis, &path);
    if !w.objects.contains_key(&k) {
        return Err(not_found(&path));
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
        &k,
        vec![Effect::Remove(k.clone())],
    ))
}

fn patch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = path_of(r);
    let k = key(Api::Redis, &path);
    if !w.objects.contains_key(&k) {
        return Err(not_found(&path));
    }
    busy(w, &k, &path)?;
    let Some(mask) = r.q("updateMask").filter(|m| !m.is_empty()) else {
        return Err(ApiError::invalid("update_mask is required"));
    };
    let mut patch = vec![("/state".to_string(), json!("ACTIVE"))];
    for field in mask.split(',') {
        let field = field.trim();
        let camel: String = {
            // update masks may be snake_case
            let mut out = String::new();
            let mut up = false;
            for ch in field.chars() {
                if ch == '_' {
                    up = true;
                } else if up {
                    out.push(ch.to_ascii_uppercase());
                    up = false;
                } else {
                    out.push(ch);
                }
            }
            out
        };
        let pointer = format!("/{}", camel.replace('.', "/"));
        let value = r.body.pointer(&pointer).cloned().unwrap_or(Value::Null);
        patch.push((pointer, value));
    }
    if let Some(o) = w.objects.get_mut(&k) {
        o.data["state"] = json!("UPDATING");
        // The new values show at once; the state returns to ACTIVE when the operation is done.
        for (p, v) in patch.iter().skip(1) {
            set_pointer(&mut o.data, p, v.clone());
        }
    }
    Ok(start(
        w,
        r,
        "update",
        &path,
        &k,
        vec![Effect::Patch(k.clone(), patch)],
    ))
}
