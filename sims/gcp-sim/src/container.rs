//! GKE (container v1), location-based paths: `projects.locations.clusters` (`create`, `get`,
//! `list`, `delete`, `update`, `setResourceLabels`), `projects.locations.clusters.nodePools`
//! (`create`, `get`, `list`, `delete`, `update`, `setAutoscaling`),
//! `projects.locations.operations` (`get`, `list`) and `projects.locations.getServerConfig`;
//! plus the zonal `projects.zones` forms of the reads (`clusters.get`, `nodePools.get`,
//! `operations.get`, `getServerconfig`), since zonal clusters' links use them.
//!
//! The answers follow the real GKE traffic recorded by k8s-config-connector
//! (`containercluster@…`, `containercluster-minimal@…`, `containernodepool@…`):
//!
//! * Clusters carry the full server-side field set of a 2026 Standard cluster
//!   (`addonsConfig`, `autoscaling.autoprovisioningNodePoolDefaults`,
//!   `controlPlaneEndpointsConfig`, `ipAllocationPolicy`, `networkConfig`, `nodeConfig`,
//!   `instanceGroupUrls`, …); node pools carry `config`, `networkConfig`,
//!   `instanceGroupUrls` (one instance group per zone), `upgradeSettings`, ….
//! * Like every proto3 JSON answer, zero values a client sends (`false`, `0`, `""`, `[]`) are
//!   not echoed, except the few optional fields GKE does echo (`allowExternalTraffic`,
//!   `enableK8sTokensViaDns`, …). So a node pool created with per-zone limits and
//!   `totalMinNodeCount: 0` answers only `minNodeCount`/`maxNodeCount`, and one created with
//!   total limits answers only `totalMinNodeCount`/`totalMaxNodeCount`.
//! * Links of a zonal cluster use `projects/P/zones/Z/…`, of a regional one
//!   `projects/P/locations/R/…`; operation `selfLink`/`targetLink` carry the project number.
//! * Operations start `RUNNING` when they target a cluster and `PENDING` when they target a
//!   node pool; a request is never answered `DONE`. Done operations carry `endTime` and, for
//!   `CREATE_CLUSTER` and node updates, `progress.metrics`.
//! * 404 bodies: `Not found: projects/P/{locations|zones}/L/clusters/C.` for clusters,
//!   `Not found: node pool "N" not found.` for node pools.
//!
//! Clusters go `PROVISIONING` → `RUNNING` (`STOPPING` while deleted, `RECONCILING` while
//! updated or while a node pool is created or deleted); node pools `PROVISIONING` →
//! `RUNNING` (`STOPPING`). Like GKE, a cluster accepts one operation at a time: anything
//! else is answered `400 FAILED_PRECONDITION` until it is done. Versions are checked against
//! the server configuration ([`server_config`]): an unsupported `initialClusterVersion` or
//! `desiredMasterVersion` is `400 INVALID_ARGUMENT`.

use serde_json::{Map, Value, json};

use rand::Rng;

use crate::api::{self, Outcome, Req, begin_op, project_number};
use crate::discovery::Api;
use crate::world::{ApiError, Effect, World, base64, fake_pem, key, merge, now_rfc3339};

/// GKE patch builds by minor, newest first. Every build below is a real one, seen in GKE's
/// release notes and changelogs of 2026 (docs.cloud.google.com/kubernetes-engine: the
/// Rapid/Regular/Stable/Extended channel feeds, 2026-R29 to 2026-R40, and the 1.35–1.37
/// changelogs): 1.37.1-gke.1552000 follows 1.37.0-gke.3503000; 1.36.4-gke.1391000 was the
/// Rapid default on 2026-09-23; 1.35.8-gke.1036000 the Regular default on 2026-09-17 and
/// 1.35.8-gke.1225000 the static and Extended default on 2026-09-23; 1.34.11-gke.1209000,
/// 1.33.12-gke.1165000 and 1.32.12-gke.1076000 the last builds published for those minors.
const BUILDS: &[(&str, &[&str])] = &[
    ("1.37", &["1.37.1-gke.1552000", "1.37.0-gke.3503000"]),
    ("1.36", &["1.36.4-gke.1391000", "1.36.4-gke.1247000"]),
    (
        "1.35",
        &[
            "1.35.8-gke.1439000",
            "1.35.8-gke.1225000",
            "1.35.8-gke.1036000",
        ],
    ),
    ("1.34", &["1.34.11-gke.1209000"]),
    ("1.33", &["1.33.12-gke.1165000"]),
    ("1.32", &["1.32.12-gke.1076000"]),
];

/// What GKE offers in December 2026, per release channel: the minors (newest first) and the
/// default minor. Change the offer here. Based on GKE's release schedule and versioning
/// policy (about 14 months of standard support after Regular availability, then Extended up
/// to 24 months; endoflife.date/google-kubernetes-engine: 1.33 end of life 2026-08-03, 1.34
/// 2026-10-01, 1.35 end of standard support 2027-02-28) and the mid-2026 "current versions"
/// table of the GKE release notes (Rapid 1.33–1.36, Regular 1.33–1.36, Stable 1.33–1.35,
/// Extended 1.30–1.36, defaults Rapid 1.36 / Regular 1.35 / Stable 1.34), moved on by one
/// minor: 1.37 reached Rapid in September 2026 (2026-R38), 1.33 and 1.34 left every channel
/// but Extended at their end of life, and 1.31 left Extended 24 months after its Regular
/// release (October 2024).
pub const CHANNELS: &[(&str, &[&str], &str)] = &[
    ("RAPID", &["1.37", "1.36", "1.35"], "1.37"),
    ("REGULAR", &["1.36", "1.35"], "1.36"),
    ("STABLE", &["1.36", "1.35"], "1.35"),
    (
        "EXTENDED",
        &["1.36", "1.35", "1.34", "1.33", "1.32"],
        "1.36",
    ),
];

/// The channel a cluster is enrolled in when the request names none (GKE's default).
const DEFAULT_CHANNEL: &str = "REGULAR";

/// Minors a cluster outside any channel (`releaseChannel.channel: UNSPECIFIED`) can run
/// (`validMasterVersions`); the static default is the default channel's default version.
const STATIC_MINORS: &[&str] = &["1.36", "1.35"];

/// Node pools may run up to two minors behind the control plane (Kubernetes version skew),
/// so `validNodeVersions` also lists these.
const NODE_ONLY_MINORS: &[&str] = &["1.34", "1.33"];

/// The image types GKE offers for Linux and Windows nodes (the Docker-based types left with
/// Kubernetes 1.24).
const IMAGE_TYPES: &[&str] = &[
    "COS_CONTAINERD",
    "UBUNTU_CONTAINERD",
    "WINDOWS_LTSC_CONTAINERD",
];

/// The scopes GKE gives nodes that name none (as the recorded clusters show).
const DEFAULT_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/devstorage.read_only",
    "https://www.googleapis.com/auth/logging.write",
    "https://www.googleapis.com/auth/monitoring",
    "https://www.googleapis.com/auth/service.management.readonly",
    "https://www.googleapis.com/auth/servicecontrol",
    "https://www.googleapis.com/auth/trace.append",
];

/// Optional (explicit-presence) fields GKE echoes even when `false`; every other zero value
/// is left out of its answers.
const ECHOED_FALSE: &[&str] = &[
    "allowExternalTraffic",
    "enableK8sCertsViaDns",
    "enableK8sTokensViaDns",
    "insecureKubeletReadonlyPortEnabled",
    "enablePublicEndpoint",
];

/// The map fields (string → string) of clusters and node pools: their entries are kept
/// whatever their values, and an empty map is left out.
const MAPS: &[&str] = &["resourceLabels", "labels", "metadata", "sysctls"];

/// The stored field keeping a node pool's creation order (never shown).
const SEQ: &str = "_simSeq";

/// The zones of the regions whose zones are not `a`, `b`, `c` (Compute Engine's regions and
/// zones list: europe-west1 has b, c and d; us-east1 b, c and d; us-central1 a, b, c and f);
/// every other region has `a`, `b` and `c`.
const REGION_ZONES: &[(&str, &str)] = &[
    ("us-central1", "abcf"),
    ("us-east1", "bcd"),
    ("europe-west1", "bcd"),
];

fn builds(minors: &[&str]) -> Vec<String> {
    minors
        .iter()
        .flat_map(|m| {
            BUILDS
                .iter()
                .filter(move |(minor, _)| minor == m)
                .flat_map(|(_, b)| b.iter().map(|s| (*s).to_string()))
        })
        .collect()
}

fn channel(name: &str) -> Option<&'static (&'static str, &'static [&'static str], &'static str)> {
    CHANNELS.iter().find(|(c, _, _)| *c == name)
}

/// The valid versions of a channel (`None`: no channel), newest first.
fn channel_versions(name: Option<&str>) -> Vec<String> {
    match name.and_then(channel) {
        Some((_, minors, _)) => builds(minors),
        None => builds(STATIC_MINORS),
    }
}

/// The default version of a channel (`None`: no channel).
fn channel_default(name: Option<&str>) -> String {
    let minor = name
        .and_then(channel)
        .or_else(|| channel(DEFAULT_CHANNEL))
        .map_or("", |(_, _, d)| *d);
    builds(&[minor]).into_iter().next().unwrap_or_default()
}

/// The answer of `getServerConfig`: the same offer in every location.
pub fn server_config() -> Value {
    let channels: Vec<Value> = CHANNELS
        .iter()
        .map(|(name, minors, _)| {
            json!({
                "channel": name,
                "defaultVersion": channel_default(Some(name)),
                "validVersions": builds(minors),
            })
        })
        .collect();
    let mut nodes = builds(STATIC_MINORS);
    nodes.extend(builds(NODE_ONLY_MINORS));
    json!({
        "defaultClusterVersion": channel_default(None),
        "validMasterVersions": builds(STATIC_MINORS),
        "validNodeVersions": nodes,
        "defaultImageType": IMAGE_TYPES[0],
        "validImageTypes": IMAGE_TYPES,
        "channels": channels,
    })
}

/// Resolves a requested version (`latest`, a minor `1.35`, a patch `1.35.8` or a build)
/// among `valid` (newest first).
fn resolve(wanted: &str, valid: &[String]) -> Option<String> {
    if wanted == "latest" {
        return valid.first().cloned();
    }
    valid
        .iter()
        .find(|v| {
            *v == wanted
                || v.starts_with(&format!("{wanted}."))
                || v.starts_with(&format!("{wanted}-"))
        })
        .cloned()
}

fn minor_of(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// The channel (`None`: none) and master version of a new cluster. Without a channel, GKE
/// enrolls a cluster whose version is given in the most mature channel that offers it
/// (STABLE, REGULAR, then RAPID), otherwise in REGULAR.
fn pick_version(req: &Value) -> Result<(Option<String>, String), ApiError> {
    let wanted = req["initialClusterVersion"]
        .as_str()
        .filter(|v| !v.is_empty() && *v != "-");
    let asked = req["releaseChannel"]["channel"].as_str();
    let unsupported =
        |v: &str| ApiError::invalid(format!("Master version \"{v}\" is unsupported."));
    match asked {
        Some("UNSPECIFIED") => match wanted {
            Some(v) => resolve(v, &channel_versions(None))
                .map(|b| (None, b))
                .ok_or_else(|| unsupported(v)),
            None => Ok((None, channel_default(None))),
        },
        Some(c) => match wanted {
            Some(v) => resolve(v, &channel_versions(Some(c)))
                .map(|b| (Some(c.to_string()), b))
                .ok_or_else(|| unsupported(v)),
            None => Ok((Some(c.to_string()), channel_default(Some(c)))),
        },
        None => match wanted {
            Some(v) => ["STABLE", "REGULAR", "RAPID"]
                .iter()
                .find_map(|c| {
                    resolve(v, &channel_versions(Some(c))).map(|b| (Some((*c).to_string()), b))
                })
                .ok_or_else(|| unsupported(v)),
            None => Ok((
                Some(DEFAULT_CHANNEL.to_string()),
                channel_default(Some(DEFAULT_CHANNEL)),
            )),
        },
    }
}

pub fn dispatch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    match r.method.name.as_str() {
        "projects.locations.getServerConfig" | "projects.zones.getServerconfig" => {
            check_location(r.seg(4))?;
            Ok(Outcome::ok(server_config()))
        }
        "projects.locations.clusters.create" => create_cluster(w, r),
        "projects.locations.clusters.get" | "projects.zones.clusters.get" => get_cluster(w, r),
        "projects.locations.clusters.list" => list_clusters(w, r),
        "projects.locations.clusters.delete" => delete(w, r, false),
        "projects.locations.clusters.update" => update_cluster(w, r),
        "projects.locations.clusters.setResourceLabels" => set_resource_labels(w, r),
        "projects.locations.clusters.nodePools.create" => create_node_pool(w, r),
        "projects.locations.clusters.nodePools.get" | "projects.zones.clusters.nodePools.get" => {
            get_node_pool(w, r)
        }
        "projects.locations.clusters.nodePools.list" => list_node_pools(w, r),
        "projects.locations.clusters.nodePools.delete" => delete(w, r, true),
        "projects.locations.clusters.nodePools.update" => update_node_pool(w, r),
        "projects.locations.clusters.nodePools.setAutoscaling" => set_autoscaling(w, r),
        "projects.locations.operations.get" | "projects.zones.operations.get" => {
            let path = canonical(w, r);
            let k = key(Api::Container, &path);
            let op = w.ops.get(&k).map(|o| o.data.clone()).ok_or_else(|| {
                ApiError::not_found(format!("Not found: {}.", public_path(&path)))
            })?;
            Ok(Outcome::op(k, present(op)))
        }
        "projects.locations.operations.list" => list_operations(w, r),
        _ => Err(r.unimplemented()),
    }
}

// ---- Locations, paths and links ----

fn is_zone(location: &str) -> bool {
    location.matches('-').count() >= 2
}

fn region_of(location: &str) -> &str {
    if is_zone(location) {
        location.rsplit_once('-').map_or(location, |(r, _)| r)
    } else {
        location
    }
}

/// The zones of a region.
fn zones_of(region: &str) -> Vec<String> {
    let suffixes = REGION_ZONES
        .iter()
        .find(|(r, _)| *r == region)
        .map_or("abc", |(_, z)| *z);
    suffixes.chars().map(|z| format!("{region}-{z}")).collect()
}

/// A location must be a region (`europe-west1`) or a zone (`europe-west1-b`).
fn check_location(location: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = location.split('-').collect();
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let numbered = |s: &str| {
        let letters = s.trim_end_matches(|c: char| c.is_ascii_digit());
        word(letters) && letters.len() < s.len()
    };
    let ok = match parts.as_slice() {
        [a, b] => word(a) && numbered(b),
        [a, b, z] => word(a) && numbered(b) && z.len() == 1 && word(z),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Location \"{location}\" does not exist."
        )))
    }
}

/// The project id a path segment names: the segment itself, or the id of a known project
/// whose number it is (operation links carry numbers, and an operation outlives the cluster
/// it deleted, so operations are searched too).
fn project_id(w: &World, seg: &str) -> String {
    let id = api::project_id(w, seg);
    if id != seg || !seg.bytes().all(|b| b.is_ascii_digit()) {
        return id;
    }
    let prefix = format!("{}:projects/", Api::Container.name());
    w.ops
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix))
        .filter_map(|rest| rest.split('/').next())
        .find(|id| project_number(id) == seg)
        .map_or_else(|| seg.to_string(), str::to_string)
}

/// The resource path of a request, as the world keys it: `projects/{id}/locations/{l}/…`
/// (zonal `zones/` paths and project numbers mapped, a custom method's `:verb` removed).
fn canonical(w: &World, r: &Req) -> String {
    let mut segs: Vec<String> = r.segs.iter().skip(1).cloned().collect();
    if let Some(p) = segs.get_mut(1) {
        *p = project_id(w, p);
    }
    if segs.get(2).is_some_and(|s| s == "zones") {
        segs[2] = "locations".to_string();
    }
    if let Some(last) = segs.last_mut()
        && let Some((name, _verb)) = last.split_once(':')
    {
        *last = name.to_string();
    }
    segs.join("/")
}

/// A canonical path as GKE shows it: `zones/` for a zonal location.
fn public_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["projects", p, "locations", l, rest @ ..] if is_zone(l) => {
            let mut s = format!("projects/{p}/zones/{l}");
            for x in rest {
                s.push('/');
                s.push_str(x);
            }
            s
        }
        _ => path.to_string(),
    }
}

/// A link to a canonical path.
fn link(r: &Req, path: &str) -> String {
    format!("{}/v1/{}", r.urls.container, public_path(path))
}

/// An operation's link: the project number in place of the id, as GKE writes them.
fn op_link(r: &Req, path: &str) -> String {
    let mut parts: Vec<String> = path.split('/').map(str::to_string).collect();
    if let Some(p) = parts.get_mut(1) {
        *p = project_number(p);
    }
    link(r, &parts.join("/"))
}

/// `(project, location)` of a canonical path.
fn scope(path: &str) -> (String, String) {
    let parts: Vec<&str> = path.split('/').collect();
    (
        parts.get(1).copied().unwrap_or_default().to_string(),
        parts.get(3).copied().unwrap_or_default().to_string(),
    )
}

fn cluster_not_found(path: &str) -> ApiError {
    ApiError::not_found(format!("Not found: {}.", public_path(path)))
}

fn pool_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("Not found: node pool \"{name}\" not found."))
}

fn busy(w: &World, cluster_key: &str) -> Result<(), ApiError> {
    if let Some(op) = w.busy_with(cluster_key) {
        let name = op.rsplit('/').next().unwrap_or_default().to_string();
        return Err(ApiError::failed_precondition(format!(
            "Cluster is running incompatible operation {name}."
        )));
    }
    Ok(())
}

/// The cluster path of a node pool path.
fn cluster_of(pool_path: &str) -> String {
    pool_path
        .split("/nodePools/")
        .next()
        .unwrap_or_default()
        .to_string()
}

// ---- Operations ----

/// Starts an operation on `target` (a canonical cluster or node pool path) and answers it as
/// GKE does at once: `RUNNING` for a cluster, `PENDING` for a node pool, never `DONE` (the
/// world may already have finished it when `--delay-ms` is 0).
fn start(w: &mut World, r: &Req, op_type: &str, target: &str, effects: Vec<Effect>) -> Outcome {
    let (project, location) = scope(target);
    let name = w.op_name();
    let op_path = format!("projects/{project}/locations/{location}/operations/{name}");
    let data = json!({
        "name": name,
        "zone": location,
        "operationType": op_type,
        "status": "PENDING",
        "selfLink": op_link(r, &op_path),
        "targetLink": op_link(r, target),
        "startTime": now_rfc3339(),
    });
    let busy_key = key(Api::Container, &cluster_of(target));
    let first = present(data.clone());
    match begin_op(w, Api::Container, &op_path, data, &busy_key, effects) {
        Outcome::Reply { status, op, .. } => Outcome::Reply {
            status,
            body: first,
            op,
        },
        other => other,
    }
}

/// An operation as GKE shows it: cluster operations never show `PENDING`; done ones carry
/// the progress metrics the recorded operations had.
fn present(mut op: Value) -> Value {
    let on_pool = op["targetLink"]
        .as_str()
        .is_some_and(|t| t.contains("/nodePools/"));
    if op["status"] == "PENDING" && !on_pool {
        op["status"] = json!("RUNNING");
    }
    if op["status"] == "DONE" {
        let metric = |name: &str, v: &str| json!({"name": name, "intValue": v});
        let metrics = match op["operationType"].as_str() {
            Some("CREATE_CLUSTER") => Some(vec![
                metric("CLUSTER_CONFIGURING", "8"),
                metric("CLUSTER_CONFIGURING_TOTAL", "8"),
                metric("CLUSTER_DEPLOYING", "12"),
                metric("CLUSTER_DEPLOYING_TOTAL", "12"),
                metric("CLUSTER_HEALTHCHECKING", "1"),
                metric("CLUSTER_HEALTHCHECKING_TOTAL", "2"),
            ]),
            Some("UPGRADE_NODES") => Some(vec![metric("NODES_TOTAL", "0")]),
            Some("UPDATE_CLUSTER") if on_pool => Some(vec![metric("NODES_TOTAL", "0")]),
            _ => None,
        };
        if let Some(m) = metrics {
            op["progress"] = json!({"metrics": m});
        }
    } else if let Some(o) = op.as_object_mut() {
        o.remove("endTime");
    }
    op
}

fn list_operations(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let project = project_id(w, r.seg(2));
    let location = r.seg(4);
    let prefix = format!("{}:projects/{project}/locations/", Api::Container.name());
    let ops: Vec<Value> = w
        .ops
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix(&prefix).is_some_and(|rest| {
                location == "-" || rest.starts_with(&format!("{location}/operations/"))
            })
        })
        .map(|(_, o)| present(o.data.clone()))
        .collect();
    Ok(Outcome::ok(if ops.is_empty() {
        json!({})
    } else {
        json!({"operations": ops})
    }))
}

// ---- Shapes ----

/// Removes the zero values a proto3 answer leaves out (`false`, `0`, `""`, `[]`), except the
/// optional fields GKE echoes.
fn strip_zeros(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, x| {
                let zero = match x {
                    Value::Bool(b) => !*b && !ECHOED_FALSE.contains(&k.as_str()),
                    Value::Number(n) => n.as_f64() == Some(0.0),
                    Value::String(s) => s.is_empty(),
                    Value::Array(a) => a.is_empty(),
                    Value::Null => true,
                    // An empty map is left out; an empty message is shown.
                    Value::Object(o) => o.is_empty() && MAPS.contains(&k.as_str()),
                };
                !zero
            });
            for (k, x) in m.iter_mut() {
                // A map's entries are shown whatever their values.
                if !MAPS.contains(&k.as_str()) {
                    strip_zeros(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_zeros),
        _ => {}
    }
}

/// Removes the empty objects under `v` (but not `v` itself).
fn drop_empty(v: &mut Value, field: &str) {
    if v[field].as_object().is_some_and(Map::is_empty)
        && let Some(m) = v.as_object_mut()
    {
        m.remove(field);
    }
}

/// An integer field that clients send as a number or a string.
fn int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// The last segment of a resource path (`projects/p/global/networks/n` → `n`).
fn last(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// Node pool autoscaling as GKE keeps it: the limits as sent, zero ones dropped (the recorded
/// pool sent `totalMinNodeCount: 0` with per-zone limits and read back only the per-zone ones;
/// k8s-config-connector PR #1051 shows a pool created with `totalMaxNodeCount: 4` reading it
/// back), `locationPolicy` defaulted to BALANCED (as recorded), per-zone and total limits
/// mutually exclusive (discovery: "The total_*_node_count fields are mutually exclusive with
/// the *_node_count fields").
fn autoscaling(a: &Value) -> Result<Value, ApiError> {
    let mut a = a.clone();
    strip_zeros(&mut a);
    if a.as_object().is_none_or(Map::is_empty) {
        return Ok(json!({}));
    }
    let per_zone = a.get("minNodeCount").is_some() || a.get("maxNodeCount").is_some();
    let total = a.get("totalMinNodeCount").is_some() || a.get("totalMaxNodeCount").is_some();
    if per_zone && total {
        return Err(ApiError::invalid(
            "Autoscaling: total_min_node_count/total_max_node_count cannot be set together with min_node_count/max_node_count.",
        ));
    }
    for (lo, hi) in [
        ("minNodeCount", "maxNodeCount"),
        ("totalMinNodeCount", "totalMaxNodeCount"),
    ] {
        let min = int(&a[lo]).unwrap_or(0);
        let max = int(&a[hi]).unwrap_or(0);
        if a["enabled"] == json!(true) && (min > max || (a.get(lo).is_some() && max == 0)) {
            return Err(ApiError::invalid(format!(
                "Autoscaling: {lo} ({min}) must be at most {hi} ({max})."
            )));
        }
    }
    if a["enabled"] == json!(true) && a.get("locationPolicy").is_none() {
        a["locationPolicy"] = json!("BALANCED");
    }
    Ok(a)
}

/// The defaults of a node's configuration (as the recorded pools show them).
fn node_config(request: &Value) -> Value {
    let machine = request["machineType"].as_str().unwrap_or("e2-medium");
    // Third- and fourth-generation machine families attach Hyperdisk only.
    let hyperdisk = ["n4", "c4", "c4a", "c4d", "n4a", "n4d", "x4"]
        .iter()
        .any(|f| machine.starts_with(&format!("{f}-")));
    let disk_type = request["diskType"].as_str().unwrap_or(if hyperdisk {
        "hyperdisk-balanced"
    } else {
        "pd-balanced"
    });
    let size = int(&request["diskSizeGb"]).unwrap_or(100);
    let mut c = json!({
        "bootDisk": {"diskType": disk_type, "sizeGb": size.to_string()},
        "diskSizeGb": size,
        "diskType": disk_type,
        "effectiveCgroupMode": "EFFECTIVE_CGROUP_MODE_V2",
        "imageType": "COS_CONTAINERD",
        "kubeletConfig": {"insecureKubeletReadonlyPortEnabled": false, "maxParallelImagePulls": 2},
        "machineType": machine,
        "metadata": {"disable-legacy-endpoints": "true"},
        "oauthScopes": DEFAULT_SCOPES,
        "resourceLabels": {"goog-gke-node-pool-provisioning-model": "on-demand"},
        "serviceAccount": "default",
        "shieldedInstanceConfig": {"enableIntegrityMonitoring": true},
        "windowsNodeConfig": {},
    });
    if request.is_object() {
        merge(&mut c, request);
    }
    strip_zeros(&mut c);
    c
}

/// The instance group manager name GKE gives a pool's group in one zone:
/// `gke-{cluster}-{pool}-{8 hex}-grp`, the two names cut to 32 characters together.
fn group_name(w: &mut World, cluster: &str, pool: &str) -> String {
    let (c, p) = (cluster.len(), pool.len());
    let (cn, pn) = if c + p <= 32 {
        (c, p)
    } else if p < 16 {
        (32 - p, p)
    } else if c < 16 {
        (c, 32 - c)
    } else {
        (16, 16)
    };
    format!(
        "gke-{}-{}-{}-grp",
        &cluster[..cn.min(c)],
        &pool[..pn.min(p)],
        w.hex(8)
    )
}

/// A new node pool of the cluster `c` (stored JSON) from its request.
fn new_pool(
    w: &mut World,
    r: &Req,
    cluster_path: &str,
    c: &Value,
    request: &Value,
) -> Result<Value, ApiError> {
    let name = request["name"].as_str().unwrap_or_default().to_string();
    if !crate::api::rfc1035(&name) || name.len() > 40 {
        return Err(ApiError::invalid(format!(
            "Node pool name \"{name}\" is invalid: it must be 1-40 characters, start with a letter, contain only lowercase letters, digits and hyphens, and end with a letter or digit."
        )));
    }
    let mut req = request.clone();
    strip_zeros(&mut req);
    let region = region_of(c["location"].as_str().unwrap_or_default()).to_string();
    let zones: Vec<String> = match requested_zones(&req["locations"], &region)? {
        Some(zones) => zones,
        None => c["locations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
    };
    let master = c["currentMasterVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let version = match req["version"].as_str().filter(|v| *v != "-") {
        None => master.clone(),
        Some(v) => {
            let mut valid = builds(STATIC_MINORS);
            valid.extend(builds(NODE_ONLY_MINORS));
            valid.extend(channel_versions(c["releaseChannel"]["channel"].as_str()));
            let b = resolve(v, &valid).ok_or_else(|| {
                ApiError::invalid(format!("Node version \"{v}\" is unsupported."))
            })?;
            if newer(&b, &master) {
                return Err(ApiError::invalid(format!(
                    "Node version \"{b}\" must not be newer than the master version \"{master}\"."
                )));
            }
            b
        }
    };
    let cluster_name = c["name"].as_str().unwrap_or_default().to_string();
    let project = scope(cluster_path).0;
    let groups: Vec<String> = zones
        .iter()
        .map(|z| {
            format!(
                "{}/compute/v1/projects/{project}/zones/{z}/instanceGroupManagers/{}",
                r.urls.compute,
                group_name(w, &cluster_name, &name)
            )
        })
        .collect();
    let ip = &c["ipAllocationPolicy"];
    let mut np = json!({
        "config": node_config(&req["config"]),
        "etag": w.uuid(),
        "instanceGroupUrls": groups,
        "locations": zones,
        "management": {"autoRepair": true, "autoUpgrade": true},
        "maxPodsConstraint": {"maxPodsPerNode": "110"},
        "name": name,
        "networkConfig": {
            "networkTierConfig": {"networkTier": "NETWORK_TIER_DEFAULT"},
            "podIpv4CidrBlock": ip["clusterIpv4CidrBlock"],
            "podRange": ip["clusterSecondaryRangeName"],
            "subnetwork": c["networkConfig"]["subnetwork"],
        },
        "podIpv4CidrSize": 24,
        "selfLink": link(r, &format!("{cluster_path}/nodePools/{name}")),
        "status": "PROVISIONING",
        "upgradeSettings": {"maxSurge": 1, "strategy": "SURGE"},
        "version": version,
    });
    let a = autoscaling(&req["autoscaling"])?;
    let mut req = request.clone();
    if let Some(m) = req.as_object_mut() {
        for k in [
            "config",
            "locations",
            "version",
            "autoscaling",
            "status",
            "selfLink",
        ] {
            m.remove(k);
        }
    }
    merge(&mut np, &req);
    strip_zeros(&mut np);
    if a.as_object().is_some_and(|m| !m.is_empty()) {
        np["autoscaling"] = a;
    }
    // GKE keeps auto-upgraded nodes within one minor of the control plane.
    let minor = |v: &str| -> Option<u32> { v.split('.').nth(1)?.parse().ok() };
    if np["management"]["autoUpgrade"] == json!(true)
        && let (Some(m), Some(n)) = (minor(&master), minor(&version))
        && m > n + 1
    {
        return Err(ApiError::invalid(format!(
            "Auto-upgrade is enabled, node version \"{version}\" must be within one minor version of master version \"{master}\"."
        )));
    }
    Ok(np)
}

/// Whether GKE build `a` is newer than build `b` (by minor, patch and `gke.N`).
pub fn newer(a: &str, b: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> {
        v.split(['.', '-'])
            .filter_map(|p| p.parse::<u64>().ok())
            .collect()
    };
    parse(a) > parse(b)
}

/// The zones a request names in `locations`, checked against the region's; `None` when it
/// names none.
fn requested_zones(locations: &Value, region: &str) -> Result<Option<Vec<String>>, ApiError> {
    let Some(list) = locations.as_array() else {
        return Ok(None);
    };
    let zones: Vec<String> = list
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    check_zones(region, &zones)?;
    Ok(Some(zones))
}

/// Every zone must exist and lie in the cluster's region.
fn check_zones(region: &str, zones: &[String]) -> Result<(), ApiError> {
    let known = zones_of(region);
    match zones.iter().find(|z| !known.contains(z)) {
        Some(z) if is_zone(z) && region_of(z) == region => Err(ApiError::invalid(format!(
            "Location \"{z}\" does not exist."
        ))),
        Some(z) => Err(ApiError::invalid(format!(
            "Location \"{z}\" is not a zone of region \"{region}\"."
        ))),
        None => Ok(()),
    }
}

// ---- Clusters ----

/// A cluster create request, checked, and what it resolves to.
struct NewCluster {
    /// The request's `cluster`, zero values removed.
    req: Value,
    project: String,
    location: String,
    region: String,
    name: String,
    path: String,
    key: String,
    /// The node pools to create with it (a `default-pool` for `initialNodeCount`).
    pools: Vec<Value>,
    initial: Option<i64>,
    channel: Option<String>,
    version: String,
    zones: Vec<String>,
    network: String,
    subnetwork: String,
}

/// The addresses and id drawn for a new cluster.
struct ClusterIps {
    id: String,
    pods: String,
    services: String,
    public_ip: String,
    private_ip: String,
    endpoint: String,
}

fn create_cluster(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let n = new_cluster(w, r)?;
    let mut c = cluster_defaults(w, r, &n);
    merge(&mut c, &cluster_overrides(r));
    strip_zeros(&mut c);
    if let Some(m) = c.get_mut("maintenancePolicy") {
        drop_empty(m, "window");
    }
    drop_empty(&mut c, "networkPolicy");
    if c["loggingService"] == json!("none") {
        c["loggingConfig"]["componentConfig"] = json!({});
    }
    if let Some(initial) = n.initial {
        c["initialNodeCount"] = json!(initial);
    }
    insert_cluster(w, r, &n, c)
}

/// Checks a cluster create request: location, name, node pools or initial node count,
/// version, zones.
fn new_cluster(w: &World, r: &Req) -> Result<NewCluster, ApiError> {
    let project = project_id(w, r.seg(2));
    let location = r.seg(4).to_string();
    check_location(&location)?;
    let region = region_of(&location).to_string();
    if is_zone(&location) {
        check_zones(&region, std::slice::from_ref(&location))?;
    }
    if !r.body["cluster"].is_object() {
        return Err(ApiError::invalid("Cluster is required."));
    }
    let mut req = r.body["cluster"].clone();
    strip_zeros(&mut req);
    let name = req["name"].as_str().unwrap_or_default().to_string();
    if !crate::api::rfc1035(&name) || name.len() > 40 {
        return Err(ApiError::invalid(format!(
            "Cluster name \"{name}\" is invalid: it must be 1-40 characters, start with a letter, contain only lowercase letters, digits and hyphens, and end with a letter or digit."
        )));
    }
    let path = format!("projects/{project}/locations/{location}/clusters/{name}");
    let key = key(Api::Container, &path);
    if w.objects.contains_key(&key) {
        return Err(ApiError::already_exists(format!(
            "Already exists: {}.",
            public_path(&path)
        )));
    }
    let initial = int(&req["initialNodeCount"]);
    let pools = initial_pools(&req, initial)?;
    let (channel, version) = pick_version(&req)?;
    let zones: Vec<String> = match requested_zones(&req["locations"], &region)? {
        Some(zones) => zones,
        None if is_zone(&location) => vec![location.clone()],
        None => zones_of(&region).into_iter().take(3).collect(),
    };
    let network = last(req["network"].as_str().unwrap_or("default")).to_string();
    let subnetwork = req["subnetwork"]
        .as_str()
        .map_or_else(|| network.clone(), |s| last(s).to_string());
    Ok(NewCluster {
        req,
        project,
        location,
        region,
        name,
        path,
        key,
        pools,
        initial,
        channel,
        version,
        zones,
        network,
        subnetwork,
    })
}

/// The node pools a cluster create makes: those given, or a `default-pool` of
/// `initialNodeCount` nodes (not both; an Autopilot cluster needs neither).
fn initial_pools(req: &Value, initial: Option<i64>) -> Result<Vec<Value>, ApiError> {
    let autopilot = req["autopilot"]["enabled"] == json!(true);
    let mut pools: Vec<Value> = req["nodePools"].as_array().cloned().unwrap_or_default();
    if pools.is_empty() && !autopilot {
        match initial {
            Some(n) if n > 0 => pools.push(json!({
                "name": "default-pool",
                "initialNodeCount": n,
                "config": req["nodeConfig"].clone(),
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
    Ok(pools)
}

/// Draws the id and addresses of a new cluster.
fn cluster_ips(w: &mut World, req: &Value) -> ClusterIps {
    let id = w.hex(32);
    // A pod range given as an address keeps it; a bare size (`/20`) or none gets a /14 in
    // 10.0.0.0/8, as the recorded clusters got.
    let pods = req["ipAllocationPolicy"]["clusterIpv4CidrBlock"]
        .as_str()
        .filter(|c| !c.starts_with('/'))
        .map_or_else(
            || {
                let n = w.rng.random_range(2..60u32) * 4;
                format!("10.{n}.0.0/14")
            },
            str::to_string,
        );
    let services = req["ipAllocationPolicy"]["servicesIpv4CidrBlock"]
        .as_str()
        .filter(|c| !c.starts_with('/'))
        .unwrap_or("34.118.224.0/20")
        .to_string();
    let public_ip = w.address("34.102");
    let private_ip = w.address("10.128");
    let endpoint = if req["privateClusterConfig"]["enablePrivateEndpoint"] == json!(true) {
        private_ip.clone()
    } else {
        public_ip.clone()
    };
    ClusterIps {
        id,
        pods,
        services,
        public_ip,
        private_ip,
        endpoint,
    }
}

/// The node pool defaults of node auto-provisioning (the scopes differ when it is on).
fn autoprovisioning_defaults(req: &Value) -> Value {
    let nap = req["autoscaling"]["enableNodeAutoprovisioning"] == json!(true);
    let nap_scopes: Vec<&str> = if nap {
        vec![
            "https://www.googleapis.com/auth/userinfo.email",
            "https://www.googleapis.com/auth/cloud-platform",
        ]
    } else {
        DEFAULT_SCOPES.to_vec()
    };
    let mut nap_defaults = json!({
        "imageType": "COS_CONTAINERD",
        "management": {"autoRepair": true, "autoUpgrade": true},
        "oauthScopes": nap_scopes,
        "serviceAccount": "default",
    });
    if nap {
        nap_defaults["upgradeSettings"] = json!({"strategy": "SURGE"});
    }
    nap_defaults
}

/// Everything GKE fills in on a new Standard cluster (the field set of a 2026 cluster), in
/// three parts: addresses and add-ons, logging and monitoring, network and security.
fn cluster_defaults(w: &mut World, r: &Req, n: &NewCluster) -> Value {
    let ClusterIps {
        id,
        pods,
        services,
        public_ip,
        private_ip,
        endpoint,
    } = cluster_ips(w, &n.req);
    let (project, location, name, version) = (&n.project, &n.location, &n.name, &n.version);
    let nap_defaults = autoprovisioning_defaults(&n.req);
    let mut c = json!({
        "addonsConfig": {
            "dnsCacheConfig": {"enabled": true},
            "gcePersistentDiskCsiDriverConfig": {"enabled": true},
            "kubernetesDashboard": {"disabled": true},
            "networkPolicyConfig": {"disabled": true},
        },
        "anonymousAuthenticationConfig": {"mode": "LIMITED"},
        "autopilot": {},
        "autoscaling": {
            "autoprovisioningNodePoolDefaults": nap_defaults,
            "autoscalingProfile": "BALANCED",
        },
        "binaryAuthorization": {},
        "clusterIpv4Cidr": pods,
        "controlPlaneEgress": {"mode": "VIA_CONTROL_PLANE"},
        "controlPlaneEndpointsConfig": {
            "dnsEndpointConfig": {
                "allowExternalTraffic": false,
                "enableK8sCertsViaDns": false,
                "enableK8sTokensViaDns": false,
                "endpoint": format!("gke-{id}{}-{}.{location}.gke.goog", w.hex(4), project_number(project)),
            },
            "ipEndpointsConfig": {
                "authorizedNetworksConfig": {"gcpPublicCidrsAccessEnabled": true},
                "enablePublicEndpoint": true,
                "enabled": true,
                "privateEndpoint": private_ip,
                "publicEndpoint": public_ip,
            },
        },
        "createTime": now_rfc3339(),
        "currentMasterVersion": version,
        "databaseEncryption": {"currentState": "CURRENT_STATE_DECRYPTED", "state": "DECRYPTED"},
        "defaultMaxPodsConstraint": {"maxPodsPerNode": "110"},
        "endpoint": endpoint,
        "enterpriseConfig": {"clusterTier": "STANDARD"},
        "etag": w.hex(16),
        "id": id,
        "initialClusterVersion": version,
        "ipAllocationPolicy": {
            "clusterIpv4Cidr": pods,
            "clusterIpv4CidrBlock": pods,
            "clusterSecondaryRangeName": format!("gke-{name}-pods-{}", &id[..8]),
            "networkTierConfig": {"networkTier": "NETWORK_TIER_DEFAULT"},
            "podCidrOverprovisionConfig": {},
            "servicesIpv4Cidr": services,
            "servicesIpv4CidrBlock": services,
            "stackType": "IPV4",
            "useIpAliases": true,
        },
    });
    let label_fingerprint = w.hex(8);
    let resource_version = w.hex(8);
    let ca = base64(fake_pem(w).as_bytes());
    merge(
        &mut c,
        &json!({
            "labelFingerprint": label_fingerprint,
            "legacyAbac": {},
            "location": location,
            "locations": n.zones,
            "loggingConfig": {"componentConfig": {"enableComponents": ["SYSTEM_COMPONENTS", "WORKLOADS"]}},
            "loggingService": "logging.googleapis.com/kubernetes",
            "maintenancePolicy": {"resourceVersion": resource_version},
            "masterAuth": {"clientCertificateConfig": {}, "clusterCaCertificate": ca},
            "masterAuthorizedNetworksConfig": {"gcpPublicCidrsAccessEnabled": true},
            "monitoringConfig": {
                "advancedDatapathObservabilityConfig": {},
                "componentConfig": {"enableComponents": [
                    "SYSTEM_COMPONENTS", "DAEMONSET", "DEPLOYMENT", "STATEFULSET", "JOBSET", "STORAGE",
                    "HPA", "POD", "CADVISOR", "KUBELET", "DCGM",
                ]},
                "managedPrometheusConfig": {"enabled": true},
            },
            "monitoringService": "monitoring.googleapis.com/kubernetes",
        }),
    );
    merge(
        &mut c,
        &cluster_network_defaults(r, n, &private_ip, &public_ip, &services),
    );
    c
}

/// The network and security part of a new cluster's defaults.
fn cluster_network_defaults(
    r: &Req,
    n: &NewCluster,
    private_ip: &str,
    public_ip: &str,
    services: &str,
) -> Value {
    let (project, region, network, subnetwork) = (&n.project, &n.region, &n.network, &n.subnetwork);
    json!({
        "name": n.name,
        "network": network,
        "networkConfig": {
            "defaultSnatStatus": {},
            "network": format!("projects/{project}/global/networks/{network}"),
            "serviceExternalIpsConfig": {},
            "subnetwork": format!("projects/{project}/regions/{region}/subnetworks/{subnetwork}"),
        },
        "nodePoolAutoConfig": {"nodeKubeletConfig": {"insecureKubeletReadonlyPortEnabled": false}},
        "nodePoolDefaults": {"nodeConfigDefaults": {
            "loggingConfig": {"variantConfig": {"variant": "DEFAULT"}},
            "nodeKubeletConfig": {"insecureKubeletReadonlyPortEnabled": false},
        }},
        "notificationConfig": {"pubsub": {}},
        "podAutoscaling": {"hpaProfile": "PERFORMANCE"},
        "privateClusterConfig": {"privateEndpoint": private_ip, "publicEndpoint": public_ip},
        "rbacBindingConfig": {
            "enableInsecureBindingSystemAuthenticated": true,
            "enableInsecureBindingSystemUnauthenticated": true,
        },
        "releaseChannel": n.channel.as_ref().map_or_else(|| json!({}), |ch| json!({"channel": ch})),
        "securityPostureConfig": {"mode": "BASIC", "vulnerabilityMode": "VULNERABILITY_MODE_UNSPECIFIED"},
        "selfLink": link(r, &n.path),
        "servicesIpv4Cidr": services,
        "shieldedNodes": {"enabled": true},
        "status": "PROVISIONING",
        "subnetwork": subnetwork,
        "userManagedKeysConfig": {},
        "zone": n.location,
    })
}

/// What a cluster create request sets over the defaults: everything but what was resolved
/// from it, its zero values included (a `false` sent overrides a `true` default, and is then
/// not shown).
fn cluster_overrides(r: &Req) -> Value {
    let mut req = r.body["cluster"].clone();
    remove_fields(
        &mut req,
        "",
        &[
            "nodePools",
            "nodeConfig",
            "initialNodeCount",
            "initialClusterVersion",
            "releaseChannel",
            "network",
            "subnetwork",
            "locations",
            "location",
            "zone",
            "name",
        ],
    );
    remove_fields(
        &mut req,
        "/ipAllocationPolicy",
        &[
            "clusterIpv4CidrBlock",
            "servicesIpv4CidrBlock",
            "clusterIpv4Cidr",
            "servicesIpv4Cidr",
            "useIpAliases",
        ],
    );
    // Deprecated: GKE accepts it and no longer shows it.
    remove_fields(
        &mut req,
        "/autoscaling/autoprovisioningNodePoolDefaults",
        &["minCpuPlatform"],
    );
    req
}

/// Removes `fields` from the object at `pointer` in `v`, if there is one.
fn remove_fields(v: &mut Value, pointer: &str, fields: &[&str]) {
    if let Some(m) = v.pointer_mut(pointer).and_then(Value::as_object_mut) {
        for f in fields {
            m.remove(*f);
        }
    }
}

/// Stores a new cluster and its node pools, and starts its `CREATE_CLUSTER` operation.
fn insert_cluster(w: &mut World, r: &Req, n: &NewCluster, c: Value) -> Result<Outcome, ApiError> {
    let (cluster_key, cluster_path) = (&n.key, &n.path);
    let mut effects = vec![Effect::Patch(
        cluster_key.clone(),
        vec![("/status".to_string(), json!("RUNNING"))],
    )];
    let mut made = Vec::new();
    for p in &n.pools {
        let np = new_pool(w, r, cluster_path, &c, p)?;
        let np_name = np["name"].as_str().unwrap_or_default().to_string();
        if made.iter().any(|(n, _)| *n == np_name) {
            return Err(ApiError::invalid(format!(
                "Node pool \"{np_name}\" is given twice."
            )));
        }
        made.push((np_name, np));
    }
    w.insert(cluster_key.clone(), "container:cluster", c);
    for (np_name, mut np) in made {
        np[SEQ] = json!(w.next_seq());
        let np_key = format!("{cluster_key}/nodePools/{np_name}");
        effects.push(Effect::Patch(
            np_key.clone(),
            vec![("/status".to_string(), json!("RUNNING"))],
        ));
        w.insert(np_key, "container:nodePool", np);
    }
    Ok(start(w, r, "CREATE_CLUSTER", cluster_path, effects))
}

/// The node pools of a cluster, in creation order (as GKE lists them).
fn pools_of(w: &World, cluster_key: &str) -> Vec<Value> {
    let prefix = format!("{cluster_key}/nodePools/");
    let mut pools: Vec<&Value> = w
        .objects
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(_, o)| &o.data)
        .collect();
    pools.sort_by_key(|p| p[SEQ].as_u64().unwrap_or(0));
    pools.into_iter().map(render_pool).collect()
}

/// A pool as GKE shows it: without the simulator's creation order, an emptied autoscaling
/// or emptied node fields.
fn render_pool(data: &Value) -> Value {
    let mut p = data.clone();
    if let Some(m) = p.as_object_mut() {
        m.remove(SEQ);
    }
    drop_empty(&mut p, "autoscaling");
    if let Some(cfg) = p["config"].as_object_mut() {
        // An emptied map (`labels`) is left out like an emptied list; messages stay.
        cfg.retain(|k, v| {
            !(v.is_null()
                || v.as_array().is_some_and(Vec::is_empty)
                || (k == "labels" && v.as_object().is_some_and(Map::is_empty)))
        });
    }
    p
}

/// A cluster as the API shows it: its node pools embedded, its node configuration, instance
/// groups, node count and node version derived from them.
fn render_cluster(w: &World, cluster_key: &str) -> Option<Value> {
    let mut c = w.objects.get(cluster_key)?.data.clone();
    let mut pools = pools_of(w, cluster_key);
    let groups: Vec<Value> = pools
        .iter()
        .flat_map(|p| {
            p["instanceGroupUrls"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    let nodes: i64 = pools
        .iter()
        .map(|p| {
            let zones = p["locations"].as_array().map_or(1, Vec::len) as i64;
            let a = &p["autoscaling"];
            int(&p["initialNodeCount"])
                .map(|n| n * zones)
                .or_else(|| int(&a["minNodeCount"]).map(|n| n * zones))
                .or_else(|| int(&a["totalMinNodeCount"]))
                .unwrap_or(0)
        })
        .sum();
    if let Some(first) = pools.first() {
        c["nodeConfig"] = first["config"].clone();
        c["currentNodeVersion"] = first["version"].clone();
    } else if let Some(m) = c.as_object_mut() {
        m.remove("currentNodeVersion");
    }
    if nodes > 0 {
        c["currentNodeCount"] = json!(nodes);
    }
    if !groups.is_empty() {
        c["instanceGroupUrls"] = json!(groups);
    }
    // GKE reports how much of the pod range the nodes use (each node takes a /24) on the
    // cluster and on the pools it embeds, not on a node pool read alone.
    let range = c["ipAllocationPolicy"]["clusterIpv4CidrBlock"]
        .as_str()
        .and_then(|cidr| cidr.split_once('/'))
        .and_then(|(_, bits)| bits.parse::<i32>().ok())
        .filter(|bits| (8..24).contains(bits));
    if let Some(bits) = range
        && c["status"] == json!("RUNNING")
    {
        let used = (nodes.max(1) * 256) as f64 / 2f64.powi(32 - bits);
        let ratio = (used * 10_000.0).round() / 10_000.0;
        c["ipAllocationPolicy"]["defaultPodIpv4RangeUtilization"] = json!(ratio);
        for p in &mut pools {
            p["networkConfig"]["podIpv4RangeUtilization"] = json!(ratio);
        }
    }
    if !pools.is_empty() {
        c["nodePools"] = json!(pools);
    }
    Some(c)
}

fn get_cluster(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = canonical(w, r);
    render_cluster(w, &key(Api::Container, &path))
        .map(Outcome::ok)
        .ok_or_else(|| cluster_not_found(&path))
}

fn list_clusters(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    // `GET …/locations/L/clusters`: the path already ends with the collection; `-` is every
    // location of the project.
    let project = project_id(w, r.seg(2));
    let location = r.seg(4);
    let prefix = format!("{}:projects/{project}/locations/", Api::Container.name());
    let keys: Vec<String> = w
        .objects
        .keys()
        .filter(|k| {
            k.strip_prefix(&prefix).is_some_and(|rest| {
                let parts: Vec<&str> = rest.split('/').collect();
                parts.len() == 3
                    && parts[1] == "clusters"
                    && (location == "-" || parts[0] == location)
            })
        })
        .cloned()
        .collect();
    let clusters: Vec<Value> = keys.iter().filter_map(|k| render_cluster(w, k)).collect();
    Ok(Outcome::ok(if clusters.is_empty() {
        json!({})
    } else {
        json!({"clusters": clusters})
    }))
}

fn delete(w: &mut World, r: &Req, pool: bool) -> Result<Outcome, ApiError> {
    let path = canonical(w, r);
    let k = key(Api::Container, &path);
    let cluster_path = cluster_of(&path);
    let cluster_key = key(Api::Container, &cluster_path);
    if !w.objects.contains_key(&cluster_key) {
        return Err(cluster_not_found(&cluster_path));
    }
    if !w.objects.contains_key(&k) {
        return Err(pool_not_found(last(&path)));
    }
    busy(w, &cluster_key)?;
    let mut effects = vec![Effect::Remove(k.clone())];
    if let Some(o) = w.objects.get_mut(&k) {
        o.deleting = true;
        o.data["status"] = json!("STOPPING");
    }
    if pool {
        if let Some(c) = w.objects.get_mut(&cluster_key) {
            c.data["status"] = json!("RECONCILING");
        }
        effects.push(Effect::Patch(
            cluster_key.clone(),
            vec![("/status".to_string(), json!("RUNNING"))],
        ));
    }
    let op_type = if pool {
        "DELETE_NODE_POOL"
    } else {
        "DELETE_CLUSTER"
    };
    Ok(start(w, r, op_type, &path, effects))
}

/// The node version a cluster update asks for (`-`: the master's), among the versions GKE
/// offers nodes.
fn node_version(cluster: &Value, channel: Option<&str>, wanted: &str) -> Result<String, ApiError> {
    if wanted == "-" {
        return Ok(cluster["currentMasterVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string());
    }
    let mut valid = builds(STATIC_MINORS);
    valid.extend(builds(NODE_ONLY_MINORS));
    valid.extend(channel_versions(channel));
    resolve(wanted, &valid)
        .ok_or_else(|| ApiError::invalid(format!("Node version \"{wanted}\" is unsupported.")))
}

/// The master version a cluster update asks for (`-`: the channel's default): offered by the
/// channel, no downgrade, one minor version at a time.
fn master_version(
    cluster: &Value,
    channel: Option<&str>,
    wanted: &str,
) -> Result<String, ApiError> {
    let current = cluster["currentMasterVersion"].as_str().unwrap_or_default();
    let b = if wanted == "-" {
        channel_default(channel)
    } else {
        resolve(wanted, &channel_versions(channel)).ok_or_else(|| {
            ApiError::invalid(format!("Master version \"{wanted}\" is unsupported."))
        })?
    };
    if newer(current, &b) {
        return Err(ApiError::invalid(format!(
            "Master version \"{b}\" is older than the current version \"{current}\"; downgrades are not supported."
        )));
    }
    if minor_of(&b) != minor_of(current) {
        let next = |m: &str| -> Option<(u32, u32)> {
            let mut it = m.split('.');
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        };
        if let (Some((_, cm)), Some((_, bm))) = (next(&minor_of(current)), next(&minor_of(&b)))
            && bm > cm + 1
        {
            return Err(ApiError::invalid(format!(
                "Master version \"{b}\" skips a minor version: upgrade one minor version at a time from \"{current}\"."
            )));
        }
    }
    Ok(b)
}

/// The cluster field a `desiredX` update field sets (`x`), when the Cluster schema has it.
fn desired_field(r: &Req, desired: &str) -> Option<String> {
    let rest = desired.strip_prefix("desired")?;
    let mut chars = rest.chars();
    let target = chars
        .next()
        .map(|f| f.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default();
    r.doc
        .schema("Cluster")
        .is_some_and(|s| s["properties"].get(&target).is_some())
        .then_some(target)
}

/// `PUT …/clusters/C` with `{"update": ClusterUpdate}`: each `desiredX` is applied when the
/// operation is done. With `desiredNodePoolId`, the node pool fields (`desiredNodePoolAutoscaling`,
/// `desiredNodeVersion`, `desiredImageType`) change that pool and the operation targets it.
fn update_cluster(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = canonical(w, r);
    let k = key(Api::Container, &path);
    let Some(cluster) = w.objects.get(&k).map(|o| o.data.clone()) else {
        return Err(cluster_not_found(&path));
    };
    busy(w, &k)?;
    let update = r.body["update"].as_object().cloned().unwrap_or_default();
    let pool = update
        .get("desiredNodePoolId")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let pool_path = pool.as_ref().map(|p| format!("{path}/nodePools/{p}"));
    let pool_key = pool_path.as_ref().map(|p| key(Api::Container, p));
    if let (Some(p), Some(pk)) = (&pool, &pool_key)
        && !w.objects.contains_key(pk)
    {
        return Err(pool_not_found(p));
    }
    // The pools a node field applies to: the named one, else every pool.
    let targets: Vec<String> = match &pool_key {
        Some(pk) => vec![pk.clone()],
        None => {
            let prefix = format!("{k}/nodePools/");
            w.objects
                .keys()
                .filter(|x| x.starts_with(&prefix))
                .cloned()
                .collect()
        }
    };
    let mut cluster_patch = vec![("/status".to_string(), json!("RUNNING"))];
    let mut effects = Vec::new();
    let channel = cluster["releaseChannel"]["channel"].as_str();
    for (field, v) in &update {
        match field.as_str() {
            "desiredNodePoolId" => {}
            "desiredNodePoolAutoscaling" => {
                let Some(pk) = &pool_key else {
                    return Err(ApiError::invalid(
                        "desired_node_pool_autoscaling requires desired_node_pool_id.",
                    ));
                };
                effects.push(Effect::Patch(
                    pk.clone(),
                    vec![("/autoscaling".to_string(), autoscaling(v)?)],
                ));
            }
            "desiredNodeVersion" => {
                let b = node_version(&cluster, channel, v.as_str().unwrap_or("-"))?;
                for t in &targets {
                    effects.push(Effect::Patch(
                        t.clone(),
                        vec![("/version".to_string(), json!(b))],
                    ));
                }
            }
            "desiredImageType" => {
                for t in &targets {
                    effects.push(Effect::Patch(
                        t.clone(),
                        vec![("/config/imageType".to_string(), v.clone())],
                    ));
                }
            }
            "desiredMasterVersion" => {
                let b = master_version(&cluster, channel, v.as_str().unwrap_or_default())?;
                cluster_patch.push(("/currentMasterVersion".to_string(), json!(b)));
            }
            "desiredLoggingService" => {
                cluster_patch.push(("/loggingService".to_string(), v.clone()));
                if v == "none" {
                    cluster_patch.push(("/loggingConfig/componentConfig".to_string(), json!({})));
                }
            }
            "desiredMonitoringService" => {
                cluster_patch.push(("/monitoringService".to_string(), v.clone()));
                if v == "none" {
                    // What the recorded cluster showed after `desiredMonitoringService: none`.
                    cluster_patch.push((
                        "/monitoringConfig/componentConfig/enableComponents".to_string(),
                        json!(["APISERVER", "SCHEDULER", "CONTROLLER_MANAGER"]),
                    ));
                }
            }
            "desiredLocations" => {
                let region = region_of(cluster["location"].as_str().unwrap_or_default());
                let zones = requested_zones(v, region)?.unwrap_or_default();
                cluster_patch.push(("/locations".to_string(), json!(zones)));
            }
            other => {
                // Any other `desiredX` sets the cluster field `x` when the Cluster schema has it.
                if let Some(target) = desired_field(r, other) {
                    cluster_patch.push((format!("/{target}"), v.clone()));
                }
            }
        }
    }
    if let Some(o) = w.objects.get_mut(&k) {
        o.data["status"] = json!("RECONCILING");
    }
    effects.push(Effect::Patch(k.clone(), cluster_patch));
    let target = pool_path.unwrap_or(path);
    Ok(start(w, r, "UPDATE_CLUSTER", &target, effects))
}

/// `POST …/clusters/C:setResourceLabels`: replaces the labels and their fingerprint.
fn set_resource_labels(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = canonical(w, r);
    let k = key(Api::Container, &path);
    if !w.objects.contains_key(&k) {
        return Err(cluster_not_found(&path));
    }
    busy(w, &k)?;
    let mut labels = r.body["resourceLabels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    let fingerprint = w.hex(8);
    let effects = vec![Effect::Patch(
        k,
        vec![
            ("/resourceLabels".to_string(), labels),
            ("/labelFingerprint".to_string(), json!(fingerprint)),
        ],
    )];
    Ok(start(w, r, "UPDATE_CLUSTER", &path, effects))
}

// ---- Node pools ----

fn get_node_pool(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = canonical(w, r);
    let cluster_path = cluster_of(&path);
    if !w.objects.contains_key(&key(Api::Container, &cluster_path)) {
        return Err(cluster_not_found(&cluster_path));
    }
    w.objects
        .get(&key(Api::Container, &path))
        .map(|o| Outcome::ok(render_pool(&o.data)))
        .ok_or_else(|| pool_not_found(last(&path)))
}

fn list_node_pools(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let cluster_path = canonical(w, r).trim_end_matches("/nodePools").to_string();
    let cluster_key = key(Api::Container, &cluster_path);
    if !w.objects.contains_key(&cluster_key) {
        return Err(cluster_not_found(&cluster_path));
    }
    let pools = pools_of(w, &cluster_key);
    Ok(Outcome::ok(if pools.is_empty() {
        json!({})
    } else {
        json!({"nodePools": pools})
    }))
}

fn create_node_pool(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let cluster_path = canonical(w, r).trim_end_matches("/nodePools").to_string();
    let cluster_key = key(Api::Container, &cluster_path);
    let Some(cluster) = w.objects.get(&cluster_key).map(|o| o.data.clone()) else {
        return Err(cluster_not_found(&cluster_path));
    };
    busy(w, &cluster_key)?;
    let name = r.body["nodePool"]["name"].as_str().unwrap_or_default();
    let np_path = format!("{cluster_path}/nodePools/{name}");
    let np_key = key(Api::Container, &np_path);
    if w.objects.contains_key(&np_key) {
        return Err(ApiError::already_exists(format!(
            "Already exists: {}.",
            public_path(&np_path)
        )));
    }
    let mut np = new_pool(w, r, &cluster_path, &cluster, &r.body["nodePool"])?;
    np[SEQ] = json!(w.next_seq());
    w.insert(np_key.clone(), "container:nodePool", np);
    if let Some(c) = w.objects.get_mut(&cluster_key) {
        c.data["status"] = json!("RECONCILING");
    }
    let effects = vec![
        Effect::Patch(np_key, vec![("/status".to_string(), json!("RUNNING"))]),
        Effect::Patch(cluster_key, vec![("/status".to_string(), json!("RUNNING"))]),
    ];
    Ok(start(w, r, "CREATE_NODE_POOL", &np_path, effects))
}

/// `PUT …/nodePools/N` (UpdateNodePoolRequest): the node fields it names change when the
/// operation (`UPGRADE_NODES`, as GKE types it) is done.
fn update_node_pool(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = canonical(w, r);
    let cluster_path = cluster_of(&path);
    let cluster_key = key(Api::Container, &cluster_path);
    let Some(cluster) = w.objects.get(&cluster_key).map(|o| o.data.clone()) else {
        return Err(cluster_not_found(&cluster_path));
    };
    let np_key = key(Api::Container, &path);
    if !w.objects.contains_key(&np_key) {
        return Err(pool_not_found(last(&path)));
    }
    busy(w, &cluster_key)?;
    let b = &r.body;
    let mut patch = Vec::new();
    if let Some(v) = b["nodeVersion"].as_str().filter(|v| !v.is_empty()) {
        let master = cluster["currentMasterVersion"].as_str().unwrap_or_default();
        let version = if v == "-" {
            master.to_string()
        } else {
            let mut valid = builds(STATIC_MINORS);
            valid.extend(builds(NODE_ONLY_MINORS));
            valid.extend(channel_versions(
                cluster["releaseChannel"]["channel"].as_str(),
            ));
            resolve(v, &valid)
                .ok_or_else(|| ApiError::invalid(format!("Node version \"{v}\" is unsupported.")))?
        };
        if newer(&version, master) {
            return Err(ApiError::invalid(format!(
                "Node version \"{version}\" must not be newer than the master version \"{master}\"."
            )));
        }
        patch.push(("/version".to_string(), json!(version)));
    }
    if let Some(v) = b["imageType"]
        .as_str()
        .filter(|v| !v.is_empty() && *v != "-")
    {
        patch.push(("/config/imageType".to_string(), json!(v)));
    }
    let region = region_of(cluster["location"].as_str().unwrap_or_default());
    if let Some(zones) = requested_zones(&b["locations"], region)?.filter(|z| !z.is_empty()) {
        patch.push(("/locations".to_string(), json!(zones)));
    }
    // Wrapped lists (`{"taints": {"taints": [...]}}`) and maps replace the whole field;
    // an empty one clears it.
    for (field, inner) in [("taints", "taints"), ("tags", "tags"), ("labels", "labels")] {
        if let Some(wrapper) = b.get(field).filter(|v| v.is_object()) {
            let mut v = wrapper[inner].clone();
            strip_zeros(&mut v);
            patch.push((format!("/config/{field}"), v));
        }
    }
    if let Some(rl) = b["resourceLabels"]["labels"].as_object() {
        let mut labels = json!({"goog-gke-node-pool-provisioning-model": "on-demand"});
        merge(&mut labels, &Value::Object(rl.clone()));
        patch.push(("/config/resourceLabels".to_string(), labels));
    }
    for field in ["machineType", "diskType", "diskSizeGb"] {
        if let Some(v) = b
            .get(field)
            .filter(|v| !v.is_null() && **v != json!("") && **v != json!(0))
        {
            patch.push((format!("/config/{field}"), v.clone()));
        }
    }
    for field in ["kubeletConfig", "linuxNodeConfig", "loggingConfig"] {
        if let Some(v) = b.get(field).filter(|v| v.is_object()) {
            patch.push((format!("/config/{field}"), v.clone()));
        }
    }
    Ok(start(
        w,
        r,
        "UPGRADE_NODES",
        &path,
        vec![Effect::Patch(np_key, patch)],
    ))
}

/// `POST …/nodePools/N:setAutoscaling`: the same change as a cluster update with
/// `desiredNodePoolAutoscaling` (GKE types both `UPDATE_CLUSTER`).
fn set_autoscaling(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    let path = canonical(w, r);
    let cluster_path = cluster_of(&path);
    let cluster_key = key(Api::Container, &cluster_path);
    if !w.objects.contains_key(&cluster_key) {
        return Err(cluster_not_found(&cluster_path));
    }
    let np_key = key(Api::Container, &path);
    if !w.objects.contains_key(&np_key) {
        return Err(pool_not_found(last(&path)));
    }
    busy(w, &cluster_key)?;
    let a = autoscaling(&r.body["autoscaling"])?;
    Ok(start(
        w,
        r,
        "UPDATE_CLUSTER",
        &path,
        vec![Effect::Patch(np_key, vec![("/autoscaling".to_string(), a)])],
    ))
}
