//! Cloud SQL Admin v1: `instances` (`insert`, `get`, `list`, `delete`, `patch`, `update`),
//! `databases` (`insert`, `get`, `list`, `delete`), `users` (`insert`, `list`, `delete`) and
//! `operations` (`get`, `list`).
//!
//! Instances go `PENDING_CREATE` → `RUNNABLE` (`PENDING_DELETE` while deleted, back to
//! `RUNNABLE` after a patch). A read replica is an insert with `masterInstanceName`: the
//! master must exist and be `RUNNABLE`; it lists the replica in `replicaNames` and cannot be
//! deleted while it has replicas. Like Cloud SQL, an instance accepts one operation at a time
//! (`409 operationInProgress` otherwise).

use serde_json::{Value, json};

use crate::api::{Outcome, Req, begin_op, op_body};
use crate::discovery::Api;
use crate::world::{ApiError, Effect, World, fake_pem, key, merge, now_rfc3339, paginate};

pub fn dispatch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    match r.method.name.as_str() {
        "instances.insert" => insert(w, r),
        "instances.get" => {
            let path = path_of(r);
            w.objects
                .get(&key(Api::Sqladmin, &path))
                .map(|o| Outcome::ok(o.data.clone()))
                .ok_or_else(|| not_found(r.seg(4)))
        }
        "instances.list" => {
            let prefix = format!("{}/", key(Api::Sqladmin, &path_of(r)));
            let items = children(w, &prefix);
            let (max, token) = r.page();
            let (page, next) = paginate(items, max, token);
            let mut body = json!({"kind": "sql#instancesList", "items": page});
            if let Some(n) = next {
                body["nextPageToken"] = json!(n);
            }
            Ok(Outcome::ok(body))
        }
        "instances.delete" => delete_instance(w, r),
        "instances.patch" | "instances.update" => patch(w, r),
        "databases.insert" => child_insert(w, r, "databases", "sql#database"),
        "users.insert" => child_insert(w, r, "users", "sql#user"),
        "databases.get" => {
            let path = path_of(r);
            w.objects
                .get(&key(Api::Sqladmin, &path))
                .map(|o| Outcome::ok(o.data.clone()))
                .ok_or_else(|| ApiError::not_found(format!("Not Found: database {}", r.seg(6))))
        }
        "databases.list" | "users.list" => {
            instance_of(w, r)?;
            let prefix = format!("{}/", key(Api::Sqladmin, &path_of(r)));
            let kind = if r.method.name.starts_with("users") {
                "sql#usersList"
            } else {
                "sql#databasesList"
            };
            Ok(Outcome::ok(
                json!({"kind": kind, "items": children(w, &prefix)}),
            ))
        }
        "databases.delete" => child_delete(w, r, path_of(r)),
        "users.delete" => {
            let name = r.q("name").unwrap_or_default().to_string();
            child_delete(w, r, format!("{}/{name}", path_of(r)))
        }
        "operations.get" => {
            let k = key(Api::Sqladmin, &path_of(r));
            op_body(w, &k).map(|b| Outcome::op(k, b)).map_err(|_| {
                ApiError::not_found(format!(
                    "The Cloud SQL operation {} does not exist.",
                    r.seg(4)
                ))
            })
        }
        "operations.list" => {
            let prefix = format!("{}/", key(Api::Sqladmin, &path_of(r)));
            let instance = r.q("instance");
            let items: Vec<Value> = w
                .ops
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .filter(|(_, o)| instance.is_none_or(|i| o.data["targetId"] == json!(i)))
                .map(|(_, o)| o.data.clone())
                .collect();
            Ok(Outcome::ok(
                json!({"kind": "sql#operationsList", "items": items}),
            ))
        }
        _ => Err(r.unimplemented()),
    }
}

/// The resource path after `v1/`.
fn path_of(r: &Req) -> String {
    r.segs[1..].join("/")
}

fn base(r: &Req) -> String {
    format!("{}/v1/", r.urls.sqladmin)
}

fn not_found(instance: &str) -> ApiError {
    ApiError::new(
        404,
        "NOT_FOUND",
        "instanceDoesNotExist",
        format!("The Cloud SQL instance {instance} does not exist."),
    )
}

fn children(w: &World, prefix: &str) -> Vec<Value> {
    w.objects
        .range(prefix.to_string()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .filter(|(k, _)| !k[prefix.len()..].contains('/'))
        .map(|(_, o)| o.data.clone())
        .collect()
}

fn in_progress(w: &World, k: &str) -> Result<(), ApiError> {
    if w.busy_with(k).is_some() {
        return Err(ApiError::in_progress(
            "Operation failed because another operation was already in progress. Try your request after the current operation is complete.",
        ));
    }
    Ok(())
}

/// The key of the instance `projects/P/instances/I` the request is about.
fn instance_of(w: &World, r: &Req) -> Result<String, ApiError> {
    let k = key(
        Api::Sqladmin,
        &format!("projects/{}/instances/{}", r.seg(2), r.seg(4)),
    );
    if w.objects.contains_key(&k) {
        Ok(k)
    } else {
        Err(not_found(r.seg(4)))
    }
}

fn start(
    w: &mut World,
    r: &Req,
    op_type: &str,
    instance: &str,
    target_key: &str,
    effects: Vec<Effect>,
) -> Outcome {
    let project = r.seg(2).to_string();
    let name = w.uuid();
    let op_path = format!("projects/{project}/operations/{name}");
    let data = json!({
        "kind": "sql#operation",
        "name": name,
        "operationType": op_type,
        "status": "PENDING",
        "user": r.user,
        "insertTime": now_rfc3339(),
        "targetId": instance,
        "targetProject": project,
        "targetLink": format!("{}projects/{project}/instances/{instance}", base(r)),
        "selfLink": format!("{}{op_path}", base(r)),
    });
    begin_op(w, Api::Sqladmin, &op_path, data, target_key, effects)
}

fn insert(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let project = r.seg(2).to_string();
    let mut inst = r.body.clone();
    let name = inst["name"].as_str().unwrap_or_default().to_string();
    if !crate::api::rfc1035(&name) || name.len() > 98 {
        return Err(ApiError::invalid(format!(
            "Invalid request: instance name ({name}) is invalid: use lowercase letters, numbers and hyphens, starting with a letter."
        )));
    }
    let path = format!("projects/{project}/instances/{name}");
    let k = key(Api::Sqladmin, &path);
    if w.objects.contains_key(&k) {
        return Err(ApiError::new(
            409,
            "ALREADY_EXISTS",
            "instanceAlreadyExists",
            "The Cloud SQL instance already exists.",
        ));
    }
    if inst["settings"]["tier"].as_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid(
            "Invalid request: Invalid Tier (null) for (SECOND_GEN) Edition (ENTERPRISE).",
        ));
    }
    let effects = vec![Effect::Patch(
        k.clone(),
        vec![("/state".to_string(), json!("RUNNABLE"))],
    )];
    let mut op_type = "CREATE";
    if let Some(master) = inst["masterInstanceName"].as_str().map(str::to_string) {
        let master_name = master.rsplit(':').next().unwrap_or_default().to_string();
        let mk = key(
            Api::Sqladmin,
            &format!("projects/{project}/instances/{master_name}"),
        );
        let Some(m) = w.objects.get(&mk) else {
            return Err(not_found(&master_name));
        };
        if m.data["state"] != json!("RUNNABLE") || w.busy_with(&mk).is_some() {
            return Err(ApiError::in_progress(format!(
                "The master instance {master_name} is not ready (state {}); try again when it is RUNNABLE.",
                m.data["state"]
            )));
        }
        let (version, region) = (m.data["databaseVersion"].clone(), m.data["region"].clone());
        if inst.get("databaseVersion").is_none() {
            inst["databaseVersion"] = version;
        }
        if inst.get("region").is_none() {
            inst["region"] = region;
        }
        inst["masterInstanceName"] = json!(master_name);
        inst["instanceType"] = json!("READ_REPLICA_INSTANCE");
        if let Some(m) = w.objects.get_mut(&mk) {
            match m.data["replicaNames"].as_array_mut() {
                Some(a) => a.push(json!(name)),
                None => m.data["replicaNames"] = json!([name]),
            }
        }
        op_type = "CREATE_REPLICA";
    } else {
        inst["instanceType"] = json!("CLOUD_SQL_INSTANCE");
    }
    let set = |d: &mut Value, k: &str, v: Value| {
        if d.get(k).is_none_or(Value::is_null) {
            d[k] = v;
        }
    };
    set(&mut inst, "databaseVersion", json!("MYSQL_8_0"));
    set(&mut inst, "region", json!("us-central1"));
    let region = inst["region"].as_str().unwrap_or("us-central1").to_string();
    let zone = inst["settings"]["locationPreference"]["zone"]
        .as_str()
        .map_or_else(|| format!("{region}-a"), str::to_string);
    let mut ips = Vec::new();
    let ipc = &inst["settings"]["ipConfiguration"];
    if ipc["ipv4Enabled"] != json!(false) {
        ips.push(json!({"type": "PRIMARY", "ipAddress": w.address("34.38")}));
    }
    if ipc["privateNetwork"]
        .as_str()
        .is_some_and(|s| !s.is_empty())
    {
        ips.push(json!({"type": "PRIVATE", "ipAddress": w.address("10.90")}));
    }
    let cert = fake_pem(w);
    inst["kind"] = json!("sql#instance");
    inst["state"] = json!("PENDING_CREATE");
    inst["project"] = json!(project);
    inst["connectionName"] = json!(format!("{project}:{region}:{name}"));
    inst["gceZone"] = json!(zone);
    inst["backendType"] = json!("SECOND_GEN");
    inst["ipAddresses"] = json!(ips);
    inst["selfLink"] = json!(format!("{}{path}", base(r)));
    inst["createTime"] = json!(now_rfc3339());
    inst["etag"] = json!(w.hex(64));
    inst["serviceAccountEmailAddress"] = json!(format!(
        "p{}-{}@gcp-sa-cloud-sql.iam.gserviceaccount.com",
        w.numeric_id().get(..12).unwrap_or("123456789012"),
        w.hex(6)
    ));
    inst["serverCaCert"] = json!({
        "kind": "sql#sslCert",
        "cert": cert,
        "certSerialNumber": "0",
        "commonName": format!("C=US,O=Google\\, Inc,CN=Google Cloud SQL Server CA,dnQualifier={}", w.uuid()),
        "createTime": now_rfc3339(),
        "instance": name,
        "sha1Fingerprint": w.hex(40),
    });
    let s = &mut inst["settings"];
    for (k, v) in [
        ("kind", json!("sql#settings")),
        ("activationPolicy", json!("ALWAYS")),
        ("availabilityType", json!("ZONAL")),
        ("dataDiskSizeGb", json!("10")),
        ("dataDiskType", json!("PD_SSD")),
        ("pricingPlan", json!("PER_USE")),
        ("storageAutoResize", json!(true)),
        ("edition", json!("ENTERPRISE")),
    ] {
        if s.get(k).is_none_or(Value::is_null) {
            s[k] = v;
        }
    }
    s["settingsVersion"] = json!("1");
    w.insert(k.clone(), "sql:instance", inst);
    Ok(start(w, r, op_type, &name, &k, effects))
}

fn delete_instance(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let k = instance_of(w, r)?;
    in_progress(w, &k)?;
    let name = r.seg(4).to_string();
    let (replicas, master) = match w.objects.get(&k) {
        Some(o) => (
            o.data["replicaNames"].as_array().map_or(0, Vec::len),
            o.data["masterInstanceName"].as_str().map(str::to_string),
        ),
        None => (0, None),
    };
    if replicas > 0 {
        return Err(ApiError::new(
            400,
            "FAILED_PRECONDITION",
            "invalidState",
            format!("The instance {name} has read replicas; delete them first."),
        ));
    }
    let mut effects = vec![Effect::Remove(k.clone())];
    if let Some(m) = master {
        let mk = key(
            Api::Sqladmin,
            &format!("projects/{}/instances/{m}", r.seg(2)),
        );
        effects.push(Effect::Unlink(mk, "replicaNames".to_string(), name.clone()));
    }
    if let Some(o) = w.objects.get_mut(&k) {
        o.deleting = true;
        o.data["state"] = json!("PENDING_DELETE");
    }
    Ok(start(w, r, "DELETE", &name, &k, effects))
}

fn patch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let k = instance_of(w, r)?;
    in_progress(w, &k)?;
    let name = r.seg(4).to_string();
    let etag = w.hex(64);
    let mut body = r.body.clone();
    if let Some(m) = body.as_object_mut() {
        for f in [
            "name",
            "project",
            "region",
            "masterInstanceName",
            "instanceType",
        ] {
            m.remove(f);
        }
    }
    if let Some(o) = w.objects.get_mut(&k) {
        let version = o.data["settings"]["settingsVersion"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1);
        merge(&mut o.data, &body);
        o.data["settings"]["settingsVersion"] = json!((version + 1).to_string());
        o.data["etag"] = json!(etag);
    }
    Ok(start(w, r, "UPDATE", &name, &k, Vec::new()))
}

fn child_insert(w: &mut World, r: &Req, coll: &str, kind: &str) -> Result<Outcome, ApiError> {
    let ik = instance_of(w, r)?;
    in_progress(w, &ik)?;
    let instance = r.seg(4).to_string();
    let project = r.seg(2).to_string();
    let mut data = r.body.clone();
    let name = data["name"].as_str().unwrap_or_default().to_string();
    if name.is_empty() {
        return Err(ApiError::invalid(format!(
            "Invalid request: missing {coll} name."
        )));
    }
    let k = format!("{ik}/{coll}/{name}");
    if w.objects.contains_key(&k) {
        return Err(ApiError::already_exists(format!(
            "The {coll} {name} already exists."
        )));
    }
    data["kind"] = json!(kind);
    data["instance"] = json!(instance);
    data["project"] = json!(project);
    if coll == "databases" {
        data["selfLink"] = json!(format!(
            "{}projects/{project}/instances/{instance}/databases/{name}",
            base(r)
        ));
        data["etag"] = json!(w.hex(16));
        if data.get("charset").is_none() {
            data["charset"] = json!("UTF8");
        }
    } else if let Some(m) = data.as_object_mut() {
        m.remove("password"); // never echoed
    }
    w.insert(k, &format!("sql:{coll}"), data);
    Ok(start(
        w,
        r,
        if coll == "databases" {
            "CREATE_DATABASE"
        } else {
            "CREATE_USER"
        },
        &instance,
        &ik,
        Vec::new(),
    ))
}

fn child_delete(w: &mut World, r: &Req, path: String) -> Result<Outcome, ApiError> {
    let ik = instance_of(w, r)?;
    in_progress(w, &ik)?;
    let k = key(Api::Sqladmin, &path);
    if !w.objects.contains_key(&k) {
        return Err(ApiError::not_found(format!("Not Found: {path}")));
    }
    let instance = r.seg(4).to_string();
    let op_type = if path.contains("/users/") {
        "DELETE_USER"
    } else {
        "DELETE_DATABASE"
    };
    Ok(start(
        w,
        r,
        op_type,
        &instance,
        &ik,
        vec![Effect::Remove(k)],
    ))
}
