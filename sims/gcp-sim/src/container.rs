//! GKE (container v1), location-based paths: `projects.locations.clusters` (`create`, `get`,
//! `list`, `delete`, `update`), `projects.locations.clusters.nodePools` (`create`, `get`,
//! `list`, `delete`) and `projects.locations.operations` (`get`, `list`).
//!
//! Clusters go `PROVISIONING` → `RUNNING` (`STOPPING` while deleted, `RECONCILING` while
//! updated or while a node pool is created or deleted); node pools `PROVISIONING` →
//! `RUNNING` (`STOPPING`). Like GKE, a cluster accepts one operation at a time: anything
//! else is answered `400 FAILED_PRECONDITION` until it is done.

use serde_json::{Value, json};

use crate::api::{Outcome, Req, begin_op, op_body};
use crate::discovery::Api;
use crate::world::{ApiError, Effect, World, base64, fake_pem, key, now_rfc3339, paginate};

/// The GKE version new clusters get.
pub const GKE_VERSION: &str = "1.33.5-gke.1162000";

pub fn dispatch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let name = r.method.name.as_str();
    match name {
        "projects.locations.clusters.create" => create_cluster(w, r),
        "projects.locations.clusters.get" => get(w, r, true),
        "projects.locations.clusters.list" => list_clusters(w, r),
        "projects.locations.clusters.delete" => delete(w, r, true),
        "projects.locations.clusters.update" => update_cluster(w, r),
        "projects.locations.clusters.nodePools.create" => create_node_pool(w, r),
        "projects.locations.clusters.nodePools.get" => get(w, r, false),
        "projects.locations.clusters.nodePools.list" => list_node_pools(w, r),
        "projects.locations.clusters.nodePools.delete" => delete(w, r, false),
        "projects.locations.operations.get" => {
            let k = key(Api::Container, &path_of(r));
            op_body(w, &k).map(|b| Outcome::op(k, b))
        }
        "projects.locations.operations.list" => {
            let prefix = format!("{}/", key(Api::Container, &path_of(r)));
            let ops: Vec<Value> = w
                .ops
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(_, o)| o.data.clone())
                .collect();
            Ok(Outcome::ok(json!({"operations": ops, "missingZones": []})))
        }
        _ => Err(r.unimplemented()),
    }
}

/// The resource path after `v1/`.
fn path_of(r: &Req) -> String {
    r.segs[1..].join("/")
}

fn base(r: &Req) -> String {
    format!("{}/v1/", r.urls.container)
}

fn not_found(what: &str, path: &str) -> ApiError {
    ApiError::not_found(format!("Not found: {path}. ({what})"))
}

fn busy(w: &World, cluster_key: &str, cluster_path: &str) -> Result<(), ApiError> {
    if let Some(op) = w.busy_with(cluster_key) {
        let name = op.rsplit('/').next().unwrap_or_default().to_string();
        return Err(ApiError::failed_precondition(format!(
            "Cluster is running incompatible operation {name} ({cluster_path})."
        )));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn start(
    w: &mut World,
    r: &Req,
    op_type: &str,
    target_path: &str,
    busy_key: &str,
    effects: Vec<Effect>,
) -> Outcome {
    let project = r.seg(2).to_string();
    let location = r.seg(4).to_string();
    let name = w.op_name();
    let op_path = format!("projects/{project}/locations/{location}/operations/{name}");
    let data = json!({
        "name": name,
        "zone": location,
        "operationType": op_type,
        "status": "PENDING",
        "selfLink": format!("{}{op_path}", base(r)),
        "targetLink": format!("{}{target_path}", base(r)),
        "location": location,
        "startTime": now_rfc3339(),
    });
    begin_op(w, Api::Container, &op_path, data, busy_key, effects)
}

fn zones_of(location: &str) -> Vec<String> {
    if location.matches('-').count() >= 2 {
        vec![location.to_string()]
    } else {
        ["b", "c", "d"]
            .iter()
            .map(|z| format!("{location}-{z}"))
            .collect()
    }
}

fn node_pool_defaults(w: &mut World, r: &Req, cluster_path: &str, np: &mut Value) {
    let location = r.seg(4).to_string();
    let name = np["name"].as_str().unwrap_or_default().to_string();
    let set = |np: &mut Value, k: &str, v: Value| {
        if np.get(k).is_none_or(Value::is_null) {
            np[k] = v;
        }
    };
    set(np, "initialNodeCount", json!(3));
    set(np, "config", json!({}));
    let cfg = &mut np["config"];
    for (k, v) in [
        ("machineType", json!("e2-medium")),
        ("diskSizeGb", json!(100)),
        ("diskType", json!("pd-balanced")),
        ("imageType", json!("COS_CONTAINERD")),
        ("serviceAccount", json!("default")),
    ] {
        if cfg.get(k).is_none() {
            cfg[k] = v;
        }
    }
    set(np, "locations", json!(zones_of(&location)));
    set(np, "version", json!(GKE_VERSION));
    set(
        np,
        "management",
        json!({"autoUpgrade": true, "autoRepair": true}),
    );
    set(np, "podIpv4CidrSize", json!(24));
    np["status"] = json!("PROVISIONING");
    np["selfLink"] = json!(format!("{}{cluster_path}/nodePools/{name}", base(r)));
    np["etag"] = json!(w.hex(16));
    let zone = zones_of(&location).into_iter().next().unwrap_or_default();
    let project = r.seg(2);
    let group = format!(
        "gke-{}-{name}-{}-grp",
        cluster_path.rsplit('/').next().unwrap_or_default(),
        w.hex(8)
    );
    np["instanceGroupUrls"] = json!([format!(
        "{}/compute/v1/projects/{project}/zones/{zone}/instanceGroupManagers/{group}",
        r.urls.compute
    )]);
}

fn create_cluster(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let mut cluster = r.body["cluster"].clone();
    if !cluster.is_object() {
        return Err(ApiError::invalid("Cluster is required."));
    }
    let name = cluster["name"].as_str().unwrap_or_default().to_string();
    if !crate::api::rfc1035(&name) || name.len() > 40 {
        return Err(ApiError::invalid(format!(
            "Cluster name \"{name}\" is invalid: it must be 1-40 characters, start with a letter, contain only lowercase letters, digits and hyphens, and end with a letter or digit."
        )));
    }
    let parent = path_of(r).trim_end_matches("/clusters").to_string();
    let cluster_path = format!("{parent}/clusters/{name}");
    let cluster_key = key(Api::Container, &cluster_path);
    if w.objects.contains_key(&cluster_key) {
        return Err(ApiError::already_exists(format!(
            "Already exists: {cluster_path}."
        )));
    }
    let autopilot = cluster["autopilot"]["enabled"] == json!(true);
    let mut pools: Vec<Value> = cluster["nodePools"].as_array().cloned().unwrap_or_default();
    let initial = cluster["initialNodeCount"].as_i64().or_else(|| {
        cluster["initialNodeCount"]
            .as_str()
            .and_then(|s| s.parse().ok())
    });
    if pools.is_empty() && !autopilot {
        match initial {
            Some(n) if n > 0 => pools.push(json!({
                "name": "default-pool",
                "initialNodeCount": n,
                "config": cluster["nodeConfig"].clone(),
            })),
            _ => {
                return Err(ApiError::invalid(
                    "Cluster.initial_node_count must be greater than zero.",
                ));
            }
        }
    } else if !pools.is_empty() && initial.is_some() {
        return Err(ApiError::invalid(
            "Cannot specify both node_pools and initial_node_count.",
        ));
    }
    let location = r.seg(4).to_string();
    let endpoint = if cluster["privateClusterConfig"]["enablePrivateEndpoint"] == json!(true) {
        w.address("172.16")
    } else {
        w.address("34.76")
    };
    let ca = base64(fake_pem(w).as_bytes());
    let set = |c: &mut Value, k: &str, v: Value| {
        if c.get(k).is_none_or(Value::is_null) {
            c[k] = v;
        }
    };
    if let Some(m) = cluster.as_object_mut() {
        m.remove("nodePools");
        m.remove("initialNodeCount");
        m.remove("nodeConfig");
    }
    cluster["selfLink"] = json!(format!("{}{cluster_path}", base(r)));
    cluster["id"] = json!(w.hex(32));
    cluster["location"] = json!(location);
    cluster["zone"] = json!(location);
    cluster["createTime"] = json!(now_rfc3339());
    cluster["status"] = json!("PROVISIONING");
    cluster["endpoint"] = json!(endpoint);
    set(&mut cluster, "masterAuth", json!({}));
    cluster["masterAuth"]["clusterCaCertificate"] = json!(ca);
    cluster["currentMasterVersion"] = json!(GKE_VERSION);
    cluster["currentNodeVersion"] = json!(GKE_VERSION);
    set(&mut cluster, "initialClusterVersion", json!(GKE_VERSION));
    set(&mut cluster, "network", json!("default"));
    set(&mut cluster, "subnetwork", json!("default"));
    set(&mut cluster, "locations", json!(zones_of(&location)));
    set(&mut cluster, "clusterIpv4Cidr", json!("10.4.0.0/14"));
    set(&mut cluster, "servicesIpv4Cidr", json!("34.118.224.0/20"));
    set(
        &mut cluster,
        "releaseChannel",
        json!({"channel": "REGULAR"}),
    );
    set(
        &mut cluster,
        "loggingService",
        json!("logging.googleapis.com/kubernetes"),
    );
    set(
        &mut cluster,
        "monitoringService",
        json!("monitoring.googleapis.com/kubernetes"),
    );
    cluster["etag"] = json!(w.hex(16));
    let mut effects = vec![Effect::Patch(
        cluster_key.clone(),
        vec![("/status".to_string(), json!("RUNNING"))],
    )];
    w.insert(cluster_key.clone(), "container:cluster", cluster);
    for mut np in pools {
        let np_name = np["name"].as_str().unwrap_or_default().to_string();
        if np_name.is_empty() {
            return Err(ApiError::invalid("Node pool name is required."));
        }
        node_pool_defaults(w, r, &cluster_path, &mut np);
        let np_key = format!("{cluster_key}/nodePools/{np_name}");
        effects.push(Effect::Patch(
            np_key.clone(),
            vec![("/status".to_string(), json!("RUNNING"))],
        ));
        w.insert(np_key, "container:nodePool", np);
    }
    Ok(start(
        w,
        r,
        "CREATE_CLUSTER",
        &cluster_path,
        &cluster_key,
        effects,
    ))
}

/// A cluster as the API shows it: its node pools embedded.
fn render_cluster(w: &World, cluster_key: &str) -> Option<Value> {
    let mut c = w.objects.get(cluster_key)?.data.clone();
    let prefix = format!("{cluster_key}/nodePools/");
    let pools: Vec<Value> = w
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(_, o)| o.data.clone())
        .collect();
    c["nodePools"] = json!(pools);
    Some(c)
}

fn get(w: &mut World, r: &Req, cluster: bool) -> Result<Outcome, ApiError> {
    let path = path_of(r);
    let k = key(Api::Container, &path);
    let found = if cluster {
        render_cluster(w, &k)
    } else {
        w.objects.get(&k).map(|o| o.data.clone())
    };
    found
        .map(Outcome::ok)
        .ok_or_else(|| not_found(if cluster { "cluster" } else { "node pool" }, &path))
}

fn list_clusters(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    // `GET …/locations/L/clusters`: the path already ends with the collection.
    let parent = path_of(r).trim_end_matches("/clusters").to_string();
    let prefix = format!("{}/clusters/", key(Api::Container, &parent));
    let keys: Vec<String> = w
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| !k[prefix.len()..].contains('/'))
        .map(|(k, _)| k.clone())
        .collect();
    let clusters: Vec<Value> = keys.iter().filter_map(|k| render_cluster(w, k)).collect();
    Ok(Outcome::ok(
        json!({"clusters": clusters, "missingZones": []}),
    ))
}

fn list_node_pools(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let cluster_path = path_of(r).trim_end_matches("/nodePools").to_string();
    let cluster_key = key(Api::Container, &cluster_path);
    let Some(c) = render_cluster(w, &cluster_key) else {
        return Err(not_found("cluster", &cluster_path));
    };
    let (max, token) = r.page();
    let (page, _) = paginate(
        c["nodePools"].as_array().cloned().unwrap_or_default(),
        max,
        token,
    );
    Ok(Outcome::ok(json!({"nodePools": page})))
}

fn create_node_pool(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let cluster_path = path_of(r).trim_end_matches("/nodePools").to_string();
    let cluster_key = key(Api::Container, &cluster_path);
    if !w.objects.contains_key(&cluster_key) {
        return Err(not_found("cluster", &cluster_path));
    }
    busy(w, &cluster_key, &cluster_path)?;
    let mut np = r.body["nodePool"].clone();
    let name = np["name"].as_str().unwrap_or_default().to_string();
    if !crate::api::rfc1035(&name) {
        return Err(ApiError::invalid(format!(
            "Node pool name \"{name}\" is invalid."
        )));
    }
    let np_path = format!("{cluster_path}/nodePools/{name}");
    let np_key = key(Api::Container, &np_path);
    if w.objects.contains_key(&np_key) {
        return Err(ApiError::already_exists(format!(
            "Already exists: {np_path}."
        )));
    }
    node_pool_defaults(w, r, &cluster_path, &mut np);
    w.insert(np_key.clone(), "container:nodePool", np);
    if let Some(c) = w.objects.get_mut(&cluster_key) {
        c.data["status"] = json!("RECONCILING");
    }
    let effects = vec![
        Effect::Patch(
            np_key.clone(),
            vec![("/status".to_string(), json!("RUNNING"))],
        ),
        Effect::Patch(
            cluster_key.clone(),
            vec![("/status".to_string(), json!("RUNNING"))],
        ),
    ];
    Ok(start(
        w,
        r,
        "CREATE_NODE_POOL",
        &np_path,
        &cluster_key,
        effects,
    ))
}

fn delete(w: &mut World, r: &Req, cluster: bool) -> Result<Outcome, ApiError> {
    let path = path_of(r);
    let k = key(Api::Container, &path);
    if !w.objects.contains_key(&k) {
        return Err(not_found(
            if cluster { "cluster" } else { "node pool" },
            &path,
        ));
    }
    let cluster_path = if cluster {
        path.clone()
    } else {
        path.split("/nodePools/")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let cluster_key = key(Api::Container, &cluster_path);
    busy(w, &cluster_key, &cluster_path)?;
    let mut effects = vec![Effect::Remove(k.clone())];
    if let Some(o) = w.objects.get_mut(&k) {
        o.deleting = true;
        o.data["status"] = json!("STOPPING");
    }
    if !cluster {
        if let Some(c) = w.objects.get_mut(&cluster_key) {
            c.data["status"] = json!("RECONCILING");
        }
        effects.push(Effect::Patch(
            cluster_key.clone(),
            vec![("/status".to_string(), json!("RUNNING"))],
        ));
    }
    let op_type = if cluster {
        "DELETE_CLUSTER"
    } else {
        "DELETE_NODE_POOL"
    };
    Ok(start(w, r, op_type, &path, &cluster_key, effects))
}

/// `PUT …/clusters/C` with `{"update": ClusterUpdate}`: each `desiredX` becomes `x` when the
/// operation is done (`desiredMasterVersion` → `currentMasterVersion`).
fn update_cluster(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = path_of(r);
    let k = key(Api::Container, &path);
    if !w.objects.contains_key(&k) {
        return Err(not_found("cluster", &path));
    }
    busy(w, &k, &path)?;
    let mut patch = vec![("/status".to_string(), json!("RUNNING"))];
    for (field, v) in r.body["update"].as_object().into_iter().flatten() {
        let Some(rest) = field.strip_prefix("desired") else {
            continue;
        };
        let target = match rest {
            "MasterVersion" => "currentMasterVersion".to_string(),
            _ => {
                let mut c = rest.chars();
                c.next()
                    .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
        };
        patch.push((format!("/{target}"), v.clone()));
    }
    if let Some(o) = w.objects.get_mut(&k) {
        o.data["status"] = json!("RECONCILING");
    }
    Ok(start(
        w,
        r,
        "UPDATE_CLUSTER",
        &path,
        &k,
        vec![Effect::Patch(k.clone(), patch)],
    ))
}
