//! Cloud SQL Admin v1: `instances` (`insert`, `get`, `list`, `delete`, `patch`, `update`),
//! `databases` (`insert`, `get`, `list`, `delete`), `users` (`insert`, `list`, `delete`) and
//! `operations` (`get`, `list`).
//!
//! Instances go `PENDING_CREATE` → `RUNNABLE` (`PENDING_DELETE` while deleted, back to
//! `RUNNABLE` after a patch), with the field set of the real answers (`sql/*.log`:
//! `databaseInstalledVersion`, `maintenanceVersion`, `geminiConfig`, `serverCaCert`, the
//! defaulted `settings` blocks, …). Like Cloud SQL, an instance accepts one operation at a
//! time (`409 operationInProgress` otherwise). As the real logs show:
//! * a read replica is an insert with `masterInstanceName` (answered in the
//!   `project:instance` form): its `CREATE_REPLICA` operation targets the master
//!   (`targetId` `project:master`), which is busy until it is done; the master lists the
//!   replica in `replicaNames` and cannot be deleted while it has replicas;
//! * every instance has its built-in user (`postgres`, `root`) in `users.list` from the
//!   create on; `users.insert` and the delete of a created user answer an operation
//!   already `DONE`;
//! * the 404 is `instanceDoesNotExist` "The Cloud SQL instance does not exist.";
//! * a private IP (`settings.ipConfiguration.privateNetwork`) needs a Service Networking
//!   connection on that network: without one the create is accepted and its operation fails
//!   (see [`missing_connection`]).

use serde_json::{Value, json};

use crate::api::{Outcome, Req, begin_op, finish_now, network_ref, op_body, project_number};
use crate::discovery::Api;
use crate::links::connection;
use crate::world::{
    ApiError, Effect, World, fake_pem, key, merge, now_rfc3339, paginate, set_default,
};

pub fn dispatch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    match r.method.name.as_str() {
        "instances.insert" => insert(w, r),
        "instances.get" => {
            let path = path_of(r);
            w.objects
                .get(&key(Api::Sqladmin, &path))
                .map(|o| Outcome::ok(o.data.clone()))
                .ok_or_else(not_found)
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

/// Cloud SQL's 404 (the real logs: the message does not name the instance).
fn not_found() -> ApiError {
    ApiError::new(
        404,
        "NOT_FOUND",
        "instanceDoesNotExist",
        "The Cloud SQL instance does not exist.",
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
        Err(not_found())
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
    let name = w.uuid();
    start_named(w, r, name, op_type, instance, target_key, effects)
}

/// The key an operation named `name` of the request's project will have.
fn op_key(r: &Req, name: &str) -> String {
    key(
        Api::Sqladmin,
        &format!("projects/{}/operations/{name}", r.seg(2)),
    )
}

/// [`start`] with the operation's name chosen by the caller (whose effects name it).
fn start_named(
    w: &mut World,
    r: &Req,
    name: String,
    op_type: &str,
    instance: &str,
    target_key: &str,
    effects: Vec<Effect>,
) -> Outcome {
    let project = r.seg(2).to_string();
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

/// The built-in user every new instance has, as `users.list` shows it right after the
/// create (the real logs: `postgres` on PostgreSQL, `root` on MySQL).
fn builtin_user(version: &str) -> &'static str {
    if version.starts_with("POSTGRES") {
        "postgres"
    } else if version.starts_with("SQLSERVER") {
        "sqlserver"
    } else {
        "root"
    }
}

/// The version a `databaseVersion` installs and its maintenance version (shaped as the real
/// answers: `POSTGRES_16` → `POSTGRES_16_9`, `POSTGRES_16_9.R20250302.00_31`).
fn installed_version(version: &str) -> (String, String) {
    let patch = match version {
        v if v.starts_with("POSTGRES") => "9",
        "MYSQL_5_7" => "44",
        _ => "40",
    };
    let installed = format!("{version}_{patch}");
    let maintenance = format!("{installed}.R20250302.00_31");
    (installed, maintenance)
}

/// The versions an instance may upgrade to (`upgradableDatabaseVersions`).
fn upgradable(version: &str) -> Value {
    // The newest majors Cloud SQL offers (PostgreSQL 17, MySQL 8.4).
    let next: Vec<(String, String)> = match version {
        v if v.starts_with("POSTGRES_") => {
            let major = v
                .trim_start_matches("POSTGRES_")
                .split('_')
                .next()
                .and_then(|m| m.parse::<u32>().ok())
                .unwrap_or(17);
            (major + 1..=17)
                .map(|n| (format!("POSTGRES_{n}"), format!("PostgreSQL {n}")))
                .collect()
        }
        "MYSQL_5_7" => vec![("MYSQL_8_0".to_string(), "MySQL 8.0".to_string())],
        "MYSQL_8_0" => vec![("MYSQL_8_4".to_string(), "MySQL 8.4".to_string())],
        _ => Vec::new(),
    };
    next.into_iter()
        .map(|(name, display)| json!({"displayName": display, "majorVersion": name, "name": name}))
        .collect()
}

/// Keeps the backup settings an engine has, as the real answers do: MySQL drops
/// `pointInTimeRecoveryEnabled` (its recovery uses binary logs), PostgreSQL drops
/// `binaryLogEnabled` and reports `replicationLogArchivingEnabled` with point-in-time
/// recovery (`sql/sqluser@…`, `sql/sqlinstanceprivatenetwork@…`). Point-in-time recovery
/// keeps its logs in Cloud Storage: enabled backups with it or with binary logs say
/// `CLOUD_STORAGE`, others the unspecified value.
fn normalize_backup(b: &mut Value, version: &str) {
    let Some(m) = b.as_object_mut() else { return };
    if version.starts_with("POSTGRES") {
        m.remove("binaryLogEnabled");
        if let Some(pitr) = m.get("pointInTimeRecoveryEnabled").and_then(Value::as_bool) {
            let on = pitr && m.get("enabled").and_then(Value::as_bool) == Some(true);
            m.insert("replicationLogArchivingEnabled".to_string(), json!(on));
        }
    } else {
        m.remove("pointInTimeRecoveryEnabled");
    }
    let flag = |k: &str| m.get(k).and_then(Value::as_bool) == Some(true);
    let archived =
        flag("enabled") && (flag("pointInTimeRecoveryEnabled") || flag("binaryLogEnabled"));
    m.insert(
        "transactionalLogStorageState".to_string(),
        json!(if archived {
            "CLOUD_STORAGE"
        } else {
            "TRANSACTIONAL_LOG_STORAGE_STATE_UNSPECIFIED"
        }),
    );
}

/// Fills the output-only and defaulted fields of a new instance's `settings`, as the real
/// answers have them.
fn settings_defaults(s: &mut Value, version: &str, zone: &str) {
    let set = |d: &mut Value, k: &str, v: Value| {
        if d.get(k).is_none_or(Value::is_null) {
            d[k] = v;
        }
    };
    set(s, "activationPolicy", json!("ALWAYS"));
    set(s, "availabilityType", json!("ZONAL"));
    set(s, "dataDiskSizeGb", json!("10"));
    set(s, "dataDiskType", json!("PD_SSD"));
    set(s, "pricingPlan", json!("PER_USE"));
    set(s, "storageAutoResize", json!(true));
    set(s, "storageAutoResizeLimit", json!("0"));
    set(s, "edition", json!("ENTERPRISE"));
    set(s, "connectorEnforcement", json!("NOT_REQUIRED"));
    set(s, "deletionProtectionEnabled", json!(false));
    set(s, "replicationType", json!("SYNCHRONOUS"));
    set(s, "authorizedGaeApplications", json!([]));
    s["kind"] = json!("sql#settings");
    set(s, "locationPreference", json!({}));
    s["locationPreference"]["kind"] = json!("sql#locationPreference");
    set(&mut s["locationPreference"], "zone", json!(zone));
    set(s, "ipConfiguration", json!({}));
    let ip = &mut s["ipConfiguration"];
    set(ip, "ipv4Enabled", json!(true));
    set(ip, "requireSsl", json!(false));
    set(ip, "sslMode", json!("ALLOW_UNENCRYPTED_AND_ENCRYPTED"));
    set(ip, "authorizedNetworks", json!([]));
    set(s, "backupConfiguration", json!({}));
    let b = &mut s["backupConfiguration"];
    b["kind"] = json!("sql#backupConfiguration");
    set(b, "enabled", json!(false));
    set(b, "startTime", json!("12:00"));
    set(b, "transactionLogRetentionDays", json!(7));
    set(
        b,
        "backupRetentionSettings",
        json!({"retainedBackups": 7, "retentionUnit": "COUNT"}),
    );
    normalize_backup(b, version);
    if version.starts_with("POSTGRES") {
        set(b, "backupTier", json!("STANDARD"));
        set(s, "replicationLagMaxSeconds", json!(31_536_000));
    }
    s["settingsVersion"] = json!("1");
}

/// The message of a create that needs private services access on a network without it:
/// the operation fails with the text users report (for example
/// hashicorp/terraform-provider-google issue 3697: "Failed to create subnetwork. Please
/// create Service Networking connection with service 'servicenetworking.googleapis.com'
/// from consumer project '…' network '…' again."), and the instance stays `FAILED`
/// (crossplane-contrib/provider-gcp#89: instances "fail permanently if one does not exist
/// at creation time"). The operation error's `code` is not in those reports; the simulator
/// says `INTERNAL_ERROR`.
fn missing_connection(w: &World, network: &str) -> Option<String> {
    if connection(w, network).is_some() {
        return None;
    }
    let (project, name) = network_ref(w, network).unwrap_or_else(|| {
        (
            String::new(),
            network.rsplit('/').next().unwrap_or(network).to_string(),
        )
    });
    Some(format!(
        "Failed to create subnetwork. Please create Service Networking connection with service 'servicenetworking.googleapis.com' from consumer project '{}' network '{name}' again.",
        project_number(&project)
    ))
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
    // A read replica's create is an operation on its master (the real log: `CREATE_REPLICA`
    // with `targetId` `project:master`), which is busy until it is done.
    let (op_type, (target_id, target_key)) = match replica_master(w, &project, &name, &mut inst)? {
        Some(master) => ("CREATE_REPLICA", master),
        None => ("CREATE", (name.clone(), k.clone())),
    };
    let (version, refusal) = instance_defaults(w, r, &project, &path, &mut inst);
    let user = builtin_user(&version);
    let user_data = json!({
        "etag": w.hex(16),
        "host": "",
        "instance": name,
        "kind": "sql#user",
        "name": user,
        "project": project,
    });
    w.insert(k.clone(), "sql:instance", inst);
    w.insert(format!("{k}/users/{user}"), "sql:users", user_data);
    let op_name = w.uuid();
    let mut effects = Vec::new();
    match refusal {
        Some(message) => {
            effects.push(Effect::Patch(
                k,
                vec![("/state".to_string(), json!("FAILED"))],
            ));
            effects.push(Effect::SetOp(
                op_key(r, &op_name),
                "/error".to_string(),
                json!({
                    "kind": "sql#operationErrors",
                    "errors": [{"kind": "sql#operationError", "code": "INTERNAL_ERROR", "message": message}],
                }),
            ));
        }
        None => effects.push(Effect::Patch(
            k,
            vec![("/state".to_string(), json!("RUNNABLE"))],
        )),
    }
    Ok(start_named(
        w,
        r,
        op_name,
        op_type,
        &target_id,
        &target_key,
        effects,
    ))
}

/// For a read replica (`masterInstanceName`), checks its master and registers the replica
/// on it; answers the master's qualified name and key, the operation's target. Sets the
/// instance type either way.
fn replica_master(
    w: &mut World,
    project: &str,
    name: &str,
    inst: &mut Value,
) -> Result<Option<(String, String)>, ApiError> {
    let Some(master) = inst["masterInstanceName"].as_str().map(str::to_string) else {
        inst["instanceType"] = json!("CLOUD_SQL_INSTANCE");
        return Ok(None);
    };
    let master_name = master.rsplit(':').next().unwrap_or_default().to_string();
    let mk = key(
        Api::Sqladmin,
        &format!("projects/{project}/instances/{master_name}"),
    );
    let Some(m) = w.objects.get(&mk) else {
        return Err(not_found());
    };
    if m.data["state"] != json!("RUNNABLE") || w.busy_with(&mk).is_some() {
        return Err(ApiError::in_progress(
            "Operation failed because another operation was already in progress. Try your request after the current operation is complete.",
        ));
    }
    let (version, region) = (m.data["databaseVersion"].clone(), m.data["region"].clone());
    if inst.get("databaseVersion").is_none() {
        inst["databaseVersion"] = version;
    }
    if inst.get("region").is_none() {
        inst["region"] = region;
    }
    let qualified = format!("{project}:{master_name}");
    inst["masterInstanceName"] = json!(qualified);
    inst["instanceType"] = json!("READ_REPLICA_INSTANCE");
    if let Some(m) = w.objects.get_mut(&mk) {
        match m.data["replicaNames"].as_array_mut() {
            Some(a) => a.push(json!(name)),
            None => m.data["replicaNames"] = json!([name]),
        }
    }
    Ok(Some((qualified, mk)))
}

/// Fills in what Cloud SQL sets on a new instance (the field set of the real answers);
/// answers its database version and, when its private network has no Service Networking
/// connection, why its creation fails.
fn instance_defaults(
    w: &mut World,
    r: &Req,
    project: &str,
    path: &str,
    inst: &mut Value,
) -> (String, Option<String>) {
    let name = inst["name"].as_str().unwrap_or_default().to_string();
    set_default(inst, "databaseVersion", json!("MYSQL_8_0"));
    set_default(inst, "region", json!("us-central1"));
    let version = inst["databaseVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let region = inst["region"].as_str().unwrap_or("us-central1").to_string();
    let zone = inst["settings"]["locationPreference"]["zone"]
        .as_str()
        .map_or_else(|| format!("{region}-a"), str::to_string);
    let private = inst["settings"]["ipConfiguration"]["privateNetwork"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let refusal = private.as_deref().and_then(|n| missing_connection(w, n));
    settings_defaults(&mut inst["settings"], &version, &zone);
    let ips = instance_ips(w, inst, &version, private.is_some());
    if inst["settings"]["availabilityType"] == json!("REGIONAL") {
        inst["failoverReplica"] = json!({"available": true});
        let secondary = if zone.ends_with("-a") {
            format!("{region}-b")
        } else {
            format!("{region}-a")
        };
        inst["secondaryGceZone"] = json!(secondary);
    }
    let (installed, maintenance) = installed_version(&version);
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
    inst["databaseInstalledVersion"] = json!(installed);
    set_default(inst, "maintenanceVersion", json!(maintenance));
    inst["sqlNetworkArchitecture"] = json!("NEW_NETWORK_ARCHITECTURE");
    inst["satisfiesPzi"] = json!(true);
    inst["upgradableDatabaseVersions"] = upgradable(&version);
    let mut gemini =
        json!({"activeQueryEnabled": false, "entitled": false, "indexAdvisorEnabled": false});
    if version.starts_with("POSTGRES") {
        gemini["googleVacuumMgmtEnabled"] = json!(false);
        gemini["oomSessionCancelEnabled"] = json!(true);
        inst["includeReplicasForMajorVersionUpgrade"] = json!(false);
    } else {
        gemini["flagRecommenderEnabled"] = json!(false);
    }
    inst["geminiConfig"] = gemini;
    inst["serviceAccountEmailAddress"] = json!(format!(
        "p{}-{}@gcp-sa-cloud-sql.iam.gserviceaccount.com",
        project_number(project),
        w.hex(6)
    ));
    inst["serverCaCert"] = json!({
        "kind": "sql#sslCert",
        "cert": cert,
        "certSerialNumber": "0",
        "commonName": format!("C=US,O=Google\\, Inc,CN=Google Cloud SQL Server CA,dnQualifier={}", w.uuid()),
        "createTime": now_rfc3339(),
        "expirationTime": humantime::format_rfc3339_millis(std::time::SystemTime::now() + std::time::Duration::from_secs(10 * 365 * 86_400)).to_string(),
        "instance": name,
        "sha1Fingerprint": w.hex(40),
    });
    (version, refusal)
}

/// The addresses of a new instance: public (and, for PostgreSQL, outgoing) when IPv4 is
/// enabled, private on a private network.
fn instance_ips(w: &mut World, inst: &Value, version: &str, private: bool) -> Vec<Value> {
    let mut ips = Vec::new();
    if inst["settings"]["ipConfiguration"]["ipv4Enabled"] == json!(true) {
        ips.push(json!({"type": "PRIMARY", "ipAddress": w.address("34.38")}));
        if version.starts_with("POSTGRES") {
            ips.push(json!({"type": "OUTGOING", "ipAddress": w.address("34.39")}));
        }
    }
    if private {
        ips.push(json!({"type": "PRIVATE", "ipAddress": w.address("10.90")}));
    }
    ips
}

fn delete_instance(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let k = instance_of(w, r)?;
    in_progress(w, &k)?;
    let name = r.seg(4).to_string();
    let (replicas, master) = match w.objects.get(&k) {
        Some(o) => (
            o.data["replicaNames"].as_array().map_or(0, Vec::len),
            o.data["masterInstanceName"]
                .as_str()
                .map(|m| m.rsplit(':').next().unwrap_or(m).to_string()),
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
        // The master's `replicaNames` goes with its last replica (real answers omit it).
        effects.push(Effect::Detach(mk, "replicaNames".to_string(), name.clone()));
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
        let engine = o.data["databaseVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        normalize_backup(&mut o.data["settings"]["backupConfiguration"], &engine);
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
    data["etag"] = json!(w.hex(16));
    if coll == "databases" {
        data["selfLink"] = json!(format!(
            "{}projects/{project}/instances/{instance}/databases/{name}",
            base(r)
        ));
        if data.get("charset").is_none() {
            data["charset"] = json!("UTF8");
        }
    } else {
        if data.get("host").is_none_or(Value::is_null) {
            data["host"] = json!("");
        }
        if let Some(m) = data.as_object_mut() {
            m.remove("password"); // never echoed
        }
    }
    w.insert(k, &format!("sql:{coll}"), data);
    if coll == "databases" {
        return Ok(start(w, r, "CREATE_DATABASE", &instance, &ik, Vec::new()));
    }
    // A user is created at once: the real answer to `users.insert` is an operation already
    // `DONE` (`sql/sqluser@…`).
    let out = start(w, r, "CREATE_USER", &instance, &ik, Vec::new());
    Ok(finish_now(w, out))
}

fn child_delete(w: &mut World, r: &Req, path: String) -> Result<Outcome, ApiError> {
    let ik = instance_of(w, r)?;
    in_progress(w, &ik)?;
    let k = key(Api::Sqladmin, &path);
    if !w.objects.contains_key(&k) {
        return Err(ApiError::not_found(format!("Not Found: {path}")));
    }
    let instance = r.seg(4).to_string();
    if !path.contains("/users/") {
        return Ok(start(
            w,
            r,
            "DELETE_DATABASE",
            &instance,
            &ik,
            vec![Effect::Remove(k)],
        ));
    }
    let version = w
        .objects
        .get(&ik)
        .and_then(|o| o.data["databaseVersion"].as_str())
        .unwrap_or_default()
        .to_string();
    let user = path.rsplit('/').next().unwrap_or_default().to_string();
    let builtin = user == builtin_user(&version);
    // MySQL's built-in root lives at host `%`: dropping it at another host fails in MySQL
    // itself, and Cloud SQL answers with MySQL's error (the real `sql/sqluser@…` log, a
    // delete without `host`).
    let host = r.q("host").unwrap_or_default();
    if builtin && version.starts_with("MYSQL") && host != "%" {
        return Err(ApiError::new(
            400,
            "INVALID_ARGUMENT",
            "invalid",
            format!(
                "Invalid request: Error 1396: Operation DROP USER failed for '{user}'@'{host}'."
            ),
        ));
    }
    let out = start(w, r, "DELETE_USER", &instance, &ik, vec![Effect::Remove(k)]);
    // The real logs answer the built-in user's delete `PENDING` and a created user's
    // already `DONE`.
    Ok(if builtin { out } else { finish_now(w, out) })
}
