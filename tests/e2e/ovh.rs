//! The OVH provider end to end: the real `ss` binary applies `examples/superset-ovh` to the OVH
//! API simulator (`sims/ovh-sim`, started in-process), which checks every request against the
//! published schema and signature. Covered: what the simulator holds after the apply, a clean
//! re-plan, out-of-band changes reported by `ss diff` and undone by `ss apply`, a destroy that
//! leaves nothing, convergence under injected 5xx and 429 answers without duplicates, and a
//! wrong application secret reported once, without a retry storm. Every logged request is
//! re-validated against the schema with the simulator's own validator.
//!
//! The example's application (`superset "app"`) is deployed into kube-sim (in-process, through
//! `SS_VAR_kubeconfig`); its broker, a Managed Valkey service with its `default` user, is read
//! back over HTTP with signed requests, as another OVH API client would.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::util::{Project, Run, location_of, repo_root, test_seed};

const APP_KEY: &str = "sim-app-key";
/// The provider's default Kubernetes minor (`ovh::DEFAULT_K8S_VERSION`, not named here so that
/// these tests build without the provider crate).
const DEFAULT_MINOR: &str = "1.34";
const APP_SECRET: &str = "sim-app-secret";
const CONSUMER_KEY: &str = "sim-consumer-key";

/// Kinds of simulator objects that are not cloud resources: catalogs the simulator creates on
/// first use (the CDN dedicated service, load balancer flavors) and records of past work
/// (operations, CDN tasks). A destroy leaves them.
const NOT_RESOURCES: [&str; 4] = ["cdn-service", "lb-flavor", "operation", "cdn-task"];

/// How many native resources the infrastructure of `examples/superset-ovh` expands to: with the
/// database's administrator (whose password ss resets) and the broker (a Valkey service and
/// its user).
const INFRASTRUCTURE: usize = 24;

/// How many the `superset` component expands to: its `SECRET_KEY` (a generated secret), KEDA
/// (a `kubernetes_manifest`, left alone when the cluster has KEDA, as kube-sim here does) and
/// its Kubernetes objects (namespace, Secret, init Job, three Deployments, web Service, HPA,
/// ScaledObject and the TriggerAuthentication that gives it the broker's password, two
/// PodDisruptionBudgets).
const APPLICATION: usize = 14;

const RESOURCES: usize = INFRASTRUCTURE + APPLICATION;

/// The node label ss puts on every node of a pool (`ovh`'s `POOL_LABEL`, not named here so
/// that these tests build without the provider crate).
const POOL_LABEL: &str = "node.ss.internal/pool";

/// An ovh-sim server on its own runtime, with its request log, and the kube-sim the
/// application is deployed into.
struct Sim {
    runtime: tokio::runtime::Runtime,
    handle: Option<ovh_sim::Handle>,
    endpoint: String,
    log: PathBuf,
    kube: crate::kube::KubeSim,
    _dir: tempfile::TempDir,
}

impl Sim {
    /// A simulator with 20 ms status steps and the given fault rates.
    fn start(fail_rate: f64, throttle_rate: f64, seed: Option<u64>) -> Sim {
        let dir = tempfile::tempdir().expect("temporary directory");
        let log = dir.path().join("requests.jsonl");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let config = ovh_sim::Config {
            request_log: Some(log.clone()),
            delay: Duration::from_millis(20),
            fail_rate,
            throttle_rate,
            seed,
            ..ovh_sim::Config::default()
        };
        let (addr, handle) = runtime
            .block_on(ovh_sim::serve(config))
            .expect("the simulator starts");
        Sim {
            runtime,
            handle: Some(handle),
            endpoint: format!("http://{addr}/v1"),
            log,
            kube: crate::kube::KubeSim::start(),
            _dir: dir,
        }
    }

    fn handle(&self) -> &ovh_sim::Handle {
        self.handle.as_ref().expect("running")
    }

    /// Every object the simulator holds: `{path, kind, object, deleting}`.
    fn objects(&self) -> Vec<Json> {
        match self.handle().objects() {
            Json::Array(items) => items,
            other => panic!("objects: {other}"),
        }
    }

    /// The cloud resources (not catalogs or records) the simulator holds.
    fn resources(&self) -> Vec<Json> {
        self.objects()
            .into_iter()
            .filter(|o| !NOT_RESOURCES.contains(&o["kind"].as_str().unwrap_or_default()))
            .collect()
    }

    /// The logged requests, oldest first.
    fn requests(&self) -> Vec<Json> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l}: {e}")))
            .collect()
    }

    /// `ss ARGS` in `p`, pointed at the simulator (`SS_VAR_ovh_endpoint`) and the application
    /// at kube-sim (`SS_VAR_kubeconfig`), with credentials whose secret is `secret`.
    fn ss_with_secret(&self, p: &Project, args: &[&str], secret: &str) -> Run {
        let kubeconfig = self.kube.kubeconfig().display().to_string();
        p.ss_env(
            args,
            &[
                ("SS_VAR_ovh_endpoint", self.endpoint.as_str()),
                ("SS_VAR_kubeconfig", kubeconfig.as_str()),
                ("OVH_APPLICATION_KEY", APP_KEY),
                ("OVH_APPLICATION_SECRET", secret),
                ("OVH_CONSUMER_KEY", CONSUMER_KEY),
                ("SS_LOG", "ovh=debug"),
            ],
        )
    }

    fn ss(&self, p: &Project, args: &[&str]) -> Run {
        self.ss_with_secret(p, args, APP_SECRET)
    }

    /// Reads an API object over HTTP as another client would (the OVH console, ovhcloud-cli),
    /// with a request signed by the application's keys.
    fn read(&self, path: &str) -> Json {
        let url = format!("{}{path}", self.endpoint);
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
            .to_string();
        let signature = ovh_sim::signature(APP_SECRET, CONSUMER_KEY, "GET", &url, "", &ts);
        self.runtime.block_on(async {
            let answer = reqwest::Client::new()
                .get(&url)
                .header("X-Ovh-Application", APP_KEY)
                .header("X-Ovh-Consumer", CONSUMER_KEY)
                .header("X-Ovh-Timestamp", &ts)
                .header("X-Ovh-Signature", &signature)
                .send()
                .await
                .expect("the simulator answers");
            assert!(
                answer.status().is_success(),
                "GET {url}: {}",
                answer.status()
            );
            answer.json().await.expect("a JSON answer")
        })
    }

    /// Checks the broker as another client reads it: a Managed Valkey service on the
    /// `production` plan (a primary and a replica), in the private network, reached over TLS
    /// at the endpoint ss exports, with its `default` user.
    #[track_caller]
    fn assert_broker(&self, p: &Project) {
        let base = "/cloud/project/p0123456789/database/valkey";
        let ids = self.read(base);
        let services: Vec<Json> = ids
            .as_array()
            .expect("a list of ids")
            .iter()
            .map(|id| self.read(&format!("{base}/{}", id.as_str().expect("an id"))))
            .collect();
        let broker: Vec<&Json> = services
            .iter()
            .filter(|s| {
                s["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("redis-broker"))
            })
            .collect();
        assert_eq!(broker.len(), 1, "one broker: {services:?}");
        let b = broker[0];
        assert_eq!(b["engine"], "valkey", "{b}");
        assert_eq!(b["plan"], "production", "{b}");
        assert_eq!(b["nodeNumber"], 2, "a primary and its replica: {b}");
        assert_eq!(b["nodes"].as_array().map(Vec::len), Some(2), "{b}");
        assert_eq!(b["flavor"], "b3-8", "{b}");
        assert_eq!(b["networkType"], "private", "{b}");
        assert_eq!(b["status"], "READY", "{b}");
        let endpoint = &b["endpoints"][0];
        assert_eq!(endpoint["ssl"], true, "TLS only: {endpoint}");
        let host = endpoint["domain"].as_str().expect("a host name");
        let exported = p.ss(&["output", "broker_endpoint"]);
        assert_eq!(
            exported.stdout.trim(),
            host,
            "ss exports the broker's endpoint: {exported}"
        );
        let id = b["id"].as_str().expect("an id");
        let users: Vec<Json> = self
            .read(&format!("{base}/{id}/user"))
            .as_array()
            .expect("a list of ids")
            .iter()
            .map(|u| self.read(&format!("{base}/{id}/user/{}", u.as_str().expect("an id"))))
            .collect();
        assert!(
            users.iter().any(|u| u["username"] == "default"),
            "the default user whose password ss holds: {users:?}"
        );
    }

    /// Checks that the application's objects are in kube-sim, the web Service a NodePort and
    /// the pods on the node pools' label.
    #[track_caller]
    fn assert_application(&self) {
        self.kube.assert_application(true);
        let service = &self.kube.of_kind("Service", "superset")[0];
        assert_eq!(service["spec"]["type"], "NodePort", "{service}");
        assert_eq!(service["spec"]["ports"][0]["nodePort"], 30080, "{service}");
        let secret = &self.kube.of_kind("Secret", "superset")[0];
        assert!(
            secret["data"]["BROKER_REDIS_PASSWORD"]
                .as_str()
                .is_some_and(|p| !p.is_empty()),
            "the broker's password reaches the pods"
        );
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.runtime.block_on(handle.shutdown());
        }
    }
}

/// The objects of `kind`, as the API shows them.
fn of_kind(objects: &[Json], kind: &str) -> Vec<Json> {
    objects
        .iter()
        .filter(|o| o["kind"] == kind && o["deleting"] != json!(true))
        .map(|o| o["object"].clone())
        .collect()
}

/// The API path of the first object of `kind` that satisfies `pred`.
#[track_caller]
fn path_of(objects: &[Json], kind: &str, pred: impl Fn(&Json) -> bool) -> String {
    objects
        .iter()
        .find(|o| o["kind"] == kind && pred(&o["object"]))
        .and_then(|o| o["path"].as_str())
        .unwrap_or_else(|| panic!("no {kind} as wanted in {}", Json::from(objects.to_vec())))
        .to_string()
}

/// What names an object of `kind` among its siblings: two with the same key are duplicates.
fn name_key(kind: &str, o: &Json) -> Option<String> {
    let field = |k: &str| o[k].as_str().map(str::to_string);
    match kind {
        "cdn-cacherule" => Some(format!(
            "{}|{}|{}",
            o["domain"], o["fileType"], o["fileMatch"]
        )),
        "cdn-domain" => field("domain"),
        "cdn-backend" => field("ip"),
        "database" => field("description").map(|d| format!("{}|{d}", o["engine"])),
        "db-node" | "db-user" => None,
        _ => field("name"),
    }
}

/// `(kind, name)` pairs held more than once.
fn duplicates(objects: &[Json]) -> Vec<(String, String)> {
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for o in objects {
        let kind = o["kind"].as_str().unwrap_or_default().to_string();
        if let Some(name) = name_key(&kind, &o["object"]) {
            *seen.entry((kind, name)).or_default() += 1;
        }
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k)
        .collect()
}

/// Every logged API request matches a path and method of the schema and, re-checked with the
/// simulator's validator, has parameters and a body the schema allows; none was answered 400.
/// Answers how many requests were checked.
#[track_caller]
fn assert_conform(sim: &Sim) -> usize {
    let schema = ovh_sim::schema::Schema::load_cached(&ovh_sim::default_schema_dir())
        .expect("the schema loads");
    let requests = sim.requests();
    for r in &requests {
        assert_ne!(r["status"], 400, "a request the schema does not allow: {r}");
        let method = r["method"].as_str().expect("method");
        let Some(api_path) = r["path"].as_str().and_then(|p| p.strip_prefix("/v1")) else {
            continue;
        };
        // The API's own description, read for the Kubernetes versions on offer: a document,
        // not an operation it describes.
        if method == "GET" && api_path == "/cloud.json" {
            continue;
        }
        let m = schema
            .find(method, api_path)
            .unwrap_or_else(|e| panic!("{method} {api_path} is not in the schema ({e:?})"));
        let query: BTreeMap<String, String> = r["query"]
            .as_object()
            .map(|q| {
                q.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let body = Some(&r["body"]).filter(|b| !b.is_null());
        ovh_sim::validate::check_request(&schema, m.operation, &m.path_params, &query, body)
            .unwrap_or_else(|e| panic!("{method} {api_path}: {e}\n{r}"));
    }
    requests.len()
}

/// Counts of logged statuses and injected faults, for the test's report.
fn tally(requests: &[Json]) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
    let mut statuses = BTreeMap::new();
    let mut injected = BTreeMap::new();
    for r in requests {
        *statuses.entry(r["status"].to_string()).or_default() += 1;
        if let Some(i) = r["injected"].as_str() {
            *injected.entry(i.to_string()).or_default() += 1;
        }
    }
    (statuses, injected)
}

/// Checks that the simulator holds the Superset architecture of `examples/superset-ovh`.
#[track_caller]
fn assert_superset(objects: &[Json]) {
    assert_eq!(of_kind(objects, "regional-network").len(), 1, "one network");
    assert_eq!(
        of_kind(objects, "regional-subnet").len(),
        3,
        "a subnet per zone"
    );
    let kubes = of_kind(objects, "kube");
    assert_eq!(kubes.len(), 1, "one cluster");
    // The real API's version format: the patch build of the default minor, with OVH's suffix.
    let version = kubes[0]["version"].as_str().unwrap_or_default();
    let (patch, build) = version
        .strip_prefix(&format!("{DEFAULT_MINOR}."))
        .and_then(|rest| rest.split_once('-'))
        .unwrap_or_else(|| panic!("version {version:?} is not X.Y.Z-N of the default minor"));
    assert!(
        patch.parse::<u32>().is_ok() && build.parse::<u32>().is_ok(),
        "{version}"
    );

    let pools = of_kind(objects, "nodepool");
    assert_eq!(pools.len(), 6, "web and worker pools in 3 zones: {pools:?}");
    let zones: BTreeSet<&str> = pools
        .iter()
        .filter_map(|p| p["availabilityZones"][0].as_str())
        .collect();
    assert_eq!(
        zones,
        BTreeSet::from(["eu-west-par-a", "eu-west-par-b", "eu-west-par-c"])
    );
    for p in &pools {
        assert_eq!(p["autoscale"], true, "{p}");
        assert_eq!(p["flavor"], "b3-32", "{p}");
        assert!(p["minNodes"].as_i64() < p["maxNodes"].as_i64(), "{p}");
    }
    // The portable pool's name on its nodes, what Superset's pods select: three OVH node pools
    // (one per zone) of each.
    let mut labels: Vec<&str> = pools
        .iter()
        .filter_map(|p| p["template"]["metadata"]["labels"][POOL_LABEL].as_str())
        .collect();
    labels.sort_unstable();
    assert_eq!(labels, ["web", "web", "web", "worker", "worker", "worker"]);
    // web: 5–20 nodes in all, worker: 10–30, split over three zones.
    let bounds: BTreeSet<(i64, i64)> = pools
        .iter()
        .map(|p| {
            (
                p["minNodes"].as_i64().unwrap_or(-1),
                p["maxNodes"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(bounds, BTreeSet::from([(2, 7), (4, 10)]));

    let dbs = of_kind(objects, "database");
    let pg: Vec<&Json> = dbs.iter().filter(|d| d["engine"] == "postgresql").collect();
    assert_eq!(pg.len(), 1, "{dbs:?}");
    // EU-WEST-PAR is a 3-AZ region: Gen 3 plans on b3 flavors only.
    assert_eq!(pg[0]["plan"], "advanced", "HA + 2 replicas: {}", pg[0]);
    assert_eq!(pg[0]["nodeNumber"], 3, "{}", pg[0]);
    assert_eq!(pg[0]["nodes"].as_array().map(Vec::len), Some(3));
    assert_eq!(pg[0]["flavor"], "b3-32");
    assert_eq!(pg[0]["disk"]["size"], 200);
    assert_eq!(pg[0]["networkType"], "private");
    assert_eq!(pg[0]["ipRestrictions"].as_array().map(Vec::len), Some(3));
    let valkey: Vec<&Json> = dbs.iter().filter(|d| d["engine"] == "valkey").collect();
    assert_eq!(valkey.len(), 2, "the caches and the broker: {dbs:?}");
    let mut flavors: Vec<&str> = valkey.iter().filter_map(|v| v["flavor"].as_str()).collect();
    flavors.sort_unstable();
    assert_eq!(
        flavors,
        ["b3-32", "b3-8"],
        "the caches large, the broker small"
    );
    for v in &valkey {
        assert_eq!(v["plan"], "production", "{v}");
        assert_eq!(v["nodeNumber"], 2, "{v}");
    }

    let lbs = of_kind(objects, "loadbalancer");
    assert_eq!(lbs.len(), 1);
    let public_ip = lbs[0]["floatingIp"]["ip"]
        .as_str()
        .unwrap_or_else(|| panic!("the load balancer has no floating IP: {}", lbs[0]));
    let listeners = of_kind(objects, "listener");
    assert_eq!(listeners.len(), 1);
    assert_eq!(listeners[0]["port"], 443);
    let pools = of_kind(objects, "pool");
    assert_eq!(pools.len(), 1);
    let monitors = of_kind(objects, "healthmonitor");
    assert_eq!(monitors.len(), 1, "a health monitor");
    assert_eq!(monitors[0]["poolId"], pools[0]["id"]);
    assert_eq!(monitors[0]["httpConfiguration"]["urlPath"], "/health");
    assert_eq!(monitors[0]["delay"], 10);
    assert_eq!(monitors[0]["maxRetries"], 2);

    assert_eq!(of_kind(objects, "cdn-domain").len(), 1);
    let backends = of_kind(objects, "cdn-backend");
    assert_eq!(backends.len(), 1);
    assert_eq!(backends[0]["ip"], public_ip, "the CDN's origin is the LB");
    let mut rules: Vec<(String, String, i64)> = of_kind(objects, "cdn-cacherule")
        .iter()
        .map(|r| {
            (
                r["fileMatch"].as_str().unwrap_or_default().to_string(),
                r["cacheType"].as_str().unwrap_or_default().to_string(),
                r["ttl"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            ("/".to_string(), "noCache".to_string(), 0),
            (
                "/static/assets/".to_string(),
                "forceCache".to_string(),
                31_536_000
            ),
        ]
    );
}

/// The passwords of the database users the state holds (`password` of each
/// `ovh_cloud_database_*_user`).
fn reset_passwords(p: &Project) -> Vec<String> {
    let state: Json = serde_json::from_str(&p.read("ss.state.json")).expect("the state is JSON");
    state["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter(|r| {
            r["type_name"]
                .as_str()
                .is_some_and(|t| t.starts_with("ovh_cloud_database_") && t.ends_with("_user"))
        })
        .filter_map(|r| r["attributes"]["password"].as_str().map(str::to_string))
        .collect()
}

fn superset_project() -> Project {
    Project::copy_of(&repo_root().join("examples/superset-ovh"))
}

/// Destroys everything and checks that no resource is left.
#[track_caller]
fn destroy_all(sim: &Sim, p: &Project) {
    sim.ss(p, &["destroy", "--auto-approve"])
        .success()
        .contains(&format!("{RESOURCES} destroyed"));
    // Deleted objects linger one status step (`DELETING`); wait them out.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sim.resources().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = sim.resources();
    assert!(left.is_empty(), "left behind: {}", Json::from(left));
    sim.kube.assert_application_gone();
}

#[test]
fn superset_on_ovh_apply_plan_drift_destroy() {
    let started = Instant::now();
    let sim = Sim::start(0.0, 0.0, None);
    let p = superset_project();

    sim.ss(&p, &["validate"]).success().contains("valid");
    let plan = sim.ss(&p, &["plan"]);
    plan.success()
        .contains(&format!(
            "Plan: {RESOURCES} to add, 0 to change, 0 to destroy."
        ))
        .contains("plan             = \"advanced\"")
        .contains("zone       = \"eu-west-par-c\"");

    let apply = sim.ss(&p, &["apply", "--auto-approve"]);
    apply
        .success()
        .no_panic()
        .contains(&format!("{RESOURCES} added"))
        .lacks(APP_SECRET, "the application secret")
        .lacks(CONSUMER_KEY, "the consumer key");
    let objects = sim.objects();
    assert_superset(&objects);
    sim.assert_broker(&p);
    sim.assert_application();
    assert!(
        duplicates(&objects).is_empty(),
        "{:?}",
        duplicates(&objects)
    );
    let created = sim.resources().len();
    let after_apply = sim.requests().len();
    // The passwords ss reset (the database's administrator, the broker's user) are in the state
    // alone: not in the apply's output nor in any request ss sent.
    let passwords = reset_passwords(&p);
    assert_eq!(passwords.len(), 2, "two users: {}", passwords.len());
    let requests = Json::from(sim.requests()).to_string();
    for pw in &passwords {
        apply.lacks(pw, "a database password");
        assert!(
            !requests.contains(pw.as_str()),
            "a password in the request log"
        );
    }

    // The acceptance of issue 13: with the real version format in the simulator's answers, a
    // second apply changes nothing and the plan after it is empty.
    sim.ss(&p, &["apply", "--auto-approve"])
        .success()
        .contains("No changes");
    sim.ss(&p, &["plan", "--detailed-exitcode"])
        .code(0)
        .contains("No changes");

    // Out-of-band changes, as from the OVH console: a node pool's maximum and the database's
    // plan.
    let pool = path_of(&objects, "nodepool", |o| {
        o["availabilityZones"][0] == "eu-west-par-a" && o["maxNodes"] == 7
    });
    sim.handle()
        .patch(&pool, &json!({"maxNodes": 9}))
        .expect("patch the pool");
    let db = path_of(&objects, "database", |o| o["engine"] == "postgresql");
    sim.handle()
        .patch(&db, &json!({"plan": "production", "nodeNumber": 2}))
        .expect("patch the database");

    sim.ss(&p, &["diff", "--detailed-exitcode"])
        .code(2)
        .contains("pool_web_a has changed")
        .contains("max_nodes = 7 -> 9")
        .contains("plan  = \"advanced\" -> \"production\"")
        .contains("Drift: 2 changed");
    sim.ss(&p, &["apply", "--auto-approve"])
        .success()
        .contains("0 added, 2 changed, 0 destroyed");
    let objects = sim.objects();
    assert_superset(&objects);
    sim.ss(&p, &["plan", "--detailed-exitcode"])
        .code(0)
        .contains("No changes");

    destroy_all(&sim, &p);
    let checked = assert_conform(&sim);
    eprintln!(
        "ovh e2e: {created} objects created by {after_apply} requests; {checked} requests in all \
         (apply, plans, drift, destroy), all valid; {:?}",
        started.elapsed()
    );
}

#[test]
fn superset_on_ovh_converges_under_injected_faults() {
    let started = Instant::now();
    let seed = test_seed(5);
    let sim = Sim::start(0.1, 0.1, Some(seed));
    let p = superset_project();

    // One apply converges: 429s and failed reads are repeated by the client, failed creates
    // are looked up by name (adopted when they happened) and retried by ss.
    let apply = sim.ss(&p, &["apply", "--auto-approve"]);
    apply
        .success()
        .no_panic()
        .contains(&format!("{RESOURCES} added"));
    let adopted = apply
        .stderr
        .matches("adopting what a failed create made")
        .count();
    let objects = sim.objects();
    assert_superset(&objects);
    let dups = duplicates(&objects);
    assert!(dups.is_empty(), "duplicates (seed {seed}): {dups:?}");
    let (statuses, injected) = tally(&sim.requests());
    eprintln!(
        "ovh faults (seed {seed}): apply in {:?}, statuses {statuses:?}, injected {injected:?}, \
         {adopted} creates adopted after a 500",
        apply.elapsed
    );
    assert!(
        injected.get("throttled").copied().unwrap_or(0) > 0,
        "no 429 injected: {injected:?}"
    );

    sim.ss(&p, &["plan", "--detailed-exitcode"])
        .code(0)
        .contains("No changes");
    destroy_all(&sim, &p);
    assert!(duplicates(&sim.objects()).is_empty());
    assert_conform(&sim);
    eprintln!("ovh faults: whole test {:?}", started.elapsed());
}

#[test]
fn validate_needs_no_credentials_and_apply_names_the_missing_ones() {
    let sim = Sim::start(0.0, 0.0, None);
    let p = superset_project();
    // No OVH_* variables at all (and none inherited).
    let bare = |args: &[&str]| {
        let mut cmd = p.cmd(args);
        for k in [
            "OVH_APPLICATION_KEY",
            "OVH_APPLICATION_SECRET",
            "OVH_CONSUMER_KEY",
            "OVH_CLIENT_ID",
            "OVH_CLIENT_SECRET",
        ] {
            cmd.env_remove(k);
        }
        cmd.env("SS_VAR_ovh_endpoint", &sim.endpoint);
        Run::of(&mut cmd, format!("ss {} (no credentials)", args.join(" ")))
    };
    bare(&["validate"]).success().contains("valid");
    let apply = bare(&["apply", "--auto-approve"]);
    apply
        .code(1)
        .no_panic()
        .contains("OVH credentials are missing")
        .contains("OVH_APPLICATION_SECRET");
    assert!(
        sim.requests().is_empty(),
        "nothing is sent without credentials"
    );
}

#[test]
fn a_wrong_ovh_secret_is_one_clear_error() {
    let sim = Sim::start(0.0, 0.0, None);
    let p = superset_project();
    let run = sim.ss_with_secret(&p, &["apply", "--auto-approve"], "not-the-secret");
    run.code(1)
        .no_panic()
        .contains("OVH authentication failed")
        .contains("OVH_APPLICATION_SECRET")
        .lacks("not-the-secret", "the secret given");
    // One failed step, reported by its progress line and the summary; the rest is skipped.
    assert!(
        run.all().matches("OVH authentication failed").count() <= 2,
        "{run}"
    );
    let requests = sim.requests();
    assert!(
        requests.len() <= 5,
        "a handful of requests at most, not a retry storm: {}",
        Json::from(requests)
    );
    assert!(sim.resources().is_empty());

    // With objects in the state, the refresh of a plan meets the error first: one message too.
    sim.ss(&p, &["apply", "--auto-approve"]).success();
    let before = sim.requests().len();
    let plan = sim.ss_with_secret(&p, &["plan"], "not-the-secret");
    plan.code(1)
        .contains("OVH authentication failed")
        .contains("OVH_APPLICATION_SECRET")
        .lacks("not-the-secret", "the secret given");
    // One error, said once (a cause already in the message is not repeated).
    assert_eq!(
        plan.all().matches("OVH authentication failed").count(),
        1,
        "{plan}"
    );
    assert_eq!(plan.all().matches("Error:").count(), 1, "{plan}");
    let during = sim.requests().len() - before;
    assert!(during <= 5, "{during} requests for a refused plan");
    assert_conform(&sim);
    eprintln!(
        "ovh wrong secret: apply refused after {} requests, plan after {during}",
        requests.len()
    );
}

#[test]
fn what_the_region_does_not_sell_fails_the_plan_where_it_is_written() {
    let sim = Sim::start(0.0, 0.0, None);
    let p = superset_project();
    // A Kubernetes minor OVH no longer offers, a Gen 2 node flavor and a Gen 2 database
    // flavor in a 3-AZ region.
    let main = p
        .read("main.hcl")
        .replace(
            "  network = network.main.id\n\n  # The web pool",
            "  network = network.main.id\n  version = \"1.29\"\n\n  # The web pool",
        )
        .replace(
            "  size              = \"large\"",
            "  size              = \"db1-30\"",
        )
        .replacen("    size = \"large\"", "    size = \"b2-30\"", 1);
    p.write("main.hcl", &main);
    let plan = sim.ss(&p, &["plan"]);
    plan.code(1)
        .no_panic()
        .contains(&location_of("main.hcl", &main, "\"1.29\""))
        .contains("does not offer version \"1.29\"; offered: 1.31, 1.32, 1.33, 1.34")
        .contains(&location_of("main.hcl", &main, "\"db1-30\""))
        .contains(&location_of("main.hcl", &main, "\"b2-30\""))
        .contains("has no node flavor \"b2-30\" in region EU-WEST-PAR; offered: b3-8,")
        .contains("has no flavor \"db1-30\"; offered: b3-8, b3-16, b3-32, b3-64, b3-128, b3-256");
    // Nothing was created: the plan asked what OVH sells and stopped there.
    assert!(sim.resources().is_empty());
    assert!(
        sim.requests().iter().all(|r| r["method"] == "GET"),
        "only reads before the refusal"
    );
    assert_conform(&sim);
}
