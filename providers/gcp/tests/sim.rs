//! The GCP provider against gcp-sim (started in-process), driven through the real planner
//! with a local state file: full apply of the reference stack, re-plan, drift, destroy, the
//! request log checked against the discovery documents, injected faults, missing credentials.

#![allow(clippy::panic, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gcp_sim::{Config, Handle, Urls};
use planner::apply::{ApplyOptions, apply};
use planner::events::NoEvents;
use planner::plan::{Action, Plan, PlanMode};
use planner::spec::{self, VarInputs};
use planner::{Engine, PlanOptions};
use provider_api::kit::Factory;
use provider_api::{Attrs, Provider, Value};
use serde_json::{Value as Json, json};
use state::{Backend, LocalBackend, State};

const PROJECT: &str = "sim-project";
const REGION: &str = "europe-west1";

struct Sim {
    urls: Urls,
    handle: Handle,
    log: PathBuf,
    key: PathBuf,
    _tmp: tempfile::TempDir,
}

async fn start_sim(fail_rate: f64, throttle_rate: f64) -> Sim {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("requests.jsonl");
    eprintln!("gcp-sim request log: {}", log.display());
    let (urls, handle) = gcp_sim::serve(Config {
        request_log: Some(log.clone()),
        delay: Duration::from_millis(10),
        fail_rate,
        throttle_rate,
        seed: Some(7),
        ..Config::default()
    })
    .await
    .unwrap();
    let key_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../sims/gcp-sim/testdata/service-account.json"
    ))
    .unwrap()
    .replace("http://GCP_SIM_TOKEN_URL/token", &urls.token);
    let key = tmp.path().join("key.json");
    std::fs::write(&key, key_text).unwrap();
    Sim {
        urls,
        handle,
        log,
        key,
        _tmp: tmp,
    }
}

impl Sim {
    fn requests(&self) -> Vec<Json> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The objects the simulator holds, `(api, path)` → object.
    fn objects(&self) -> BTreeMap<(String, String), Json> {
        self.handle.objects()["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    (
                        o["api"].as_str().unwrap().to_string(),
                        o["path"].as_str().unwrap().to_string(),
                    ),
                    o["object"].clone(),
                )
            })
            .collect()
    }

    fn of_kind(&self, kind: &str) -> Vec<Json> {
        self.handle.objects()["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["kind"] == json!(kind))
            .map(|o| o["object"].clone())
            .collect()
    }

    fn provider_block(&self) -> String {
        let u = &self.urls;
        format!(
            r#"
provider "gcp" {{
  project = "{PROJECT}"
  region  = "{REGION}"
  endpoint_overrides = {{
    sqladmin  = "{}"
    redis     = "{}"
    container = "{}"
    compute   = "{}"
    servicenetworking   = "{}"
    networkconnectivity = "{}"
    token     = "{}"
  }}
  ready_timeout = 120
}}
"#,
            u.sqladmin,
            u.redis,
            u.container,
            u.compute,
            u.servicenetworking,
            u.networkconnectivity,
            u.token
        )
    }
}

const STACK: &str = r#"
resource "network" "main" {
  cidr  = "10.0.0.0/16"
  zones = 3
}

resource "kubernetes_cluster" "k8s" {
  network = network.main.id
  node_pool "web" {
    size = "large"
    min  = 5
    max  = 20
  }
  node_pool "worker" {
    size = "large"
    min  = 10
    max  = 30
  }
}

resource "postgres" "meta" {
  network           = network.main.id
  size              = "large"
  storage_gb        = 200
  high_availability = true
  read_replicas     = 2
}

resource "redis_cluster" "cache" {
  network            = network.main.id
  shards             = 3
  replicas_per_shard = 1
  size               = "large"
}

resource "load_balancer" "web" {
  network = network.main.id
  target  = kubernetes_cluster.k8s.id
  port    = 80
  health_check {
    path              = "/health"
    interval          = 10
    healthy_threshold = 2
  }
}

resource "cdn" "static" {
  origin = load_balancer.web.dns_name
  cache_rule {
    path = "/static/assets/*"
    ttl  = 31536000
  }
  cache_rule {
    path = "/*"
    ttl  = 0
  }
}
"#;

/// The provider as the only entry of the registry, with the simulator's service-account key.
fn registry(key: &Path) -> Vec<Factory> {
    let key = key.display().to_string();
    vec![Factory::new(
        gcp::NAME,
        gcp::config_schema,
        move |config, _dir| {
            let key = key.clone();
            gcp::configure_with_env(config, move |k| {
                (k == "GOOGLE_APPLICATION_CREDENTIALS").then(|| key.clone())
            })
        },
    )]
}

struct Workdir {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    backend: Arc<LocalBackend>,
    registry: Vec<Factory>,
}

impl Workdir {
    fn new(stack: &str, sim: &Sim, spec_text: &str) -> Workdir {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(stack);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("main.hcl"), spec_text).unwrap();
        let backend = Arc::new(LocalBackend::new(dir.join("ss.state.json")));
        Workdir {
            _tmp: tmp,
            dir,
            backend,
            registry: registry(&sim.key),
        }
    }

    async fn state(&self) -> Option<State> {
        self.backend.read().await.unwrap()
    }

    fn engine(&self, state: Option<&State>) -> Engine {
        let config = spec::load_dir(&self.dir).unwrap();
        let variables = spec::resolve_variables(&config, &VarInputs::default()).unwrap();
        let providers: BTreeSet<String> = state
            .map(|s| s.resources.iter().map(|r| r.provider.clone()).collect())
            .unwrap_or_default();
        match Engine::new(config, variables, &self.registry, "default", &providers) {
            Ok(e) => e,
            Err(d) => panic!("engine: {d:?}"),
        }
    }

    async fn plan(&self, mode: PlanMode) -> (Engine, Plan, Option<State>) {
        let state = self.state().await;
        let engine = self.engine(state.as_ref());
        let opts = PlanOptions {
            mode,
            ..PlanOptions::default()
        };
        let plan = match planner::plan(&engine, state.as_ref(), &opts).await {
            Ok(p) => p,
            Err(e) => panic!("plan: {e:?}"),
        };
        (engine, plan, state)
    }

    /// Applies the plan; the failures' messages (empty when it all succeeded).
    async fn apply(&self, engine: Engine, plan: &Plan, state: Option<State>) -> Vec<String> {
        let report = apply(
            Arc::new(engine),
            plan,
            state,
            self.backend.clone(),
            Arc::new(NoEvents),
            &ApplyOptions::default(),
        )
        .await
        .unwrap();
        report
            .failures
            .iter()
            .map(|f| format!("{}: {}", f.address, f.message))
            .collect()
    }

    async fn converge(&self, mode: PlanMode) {
        let (engine, plan, state) = self.plan(mode).await;
        let failures = self.apply(engine, &plan, state).await;
        assert!(failures.is_empty(), "apply failed: {failures:#?}");
    }
}

fn changes(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes
        .iter()
        .filter(|c| c.action.is_change())
        .map(|c| (c.address.to_string(), c.action))
        .collect()
}

fn count(sim: &Sim, kind: &str) -> usize {
    sim.of_kind(kind).len()
}

/// The stack as the simulator holds it: one of each object, two node pools, three
/// instances, and nothing else.
fn check_stack(sim: &Sim) {
    assert_eq!(count(sim, "compute:networks"), 1);
    assert_eq!(count(sim, "compute:subnetworks"), 1);
    check_prerequisites(sim);
    let clusters = sim.of_kind("container:cluster");
    assert_eq!(clusters.len(), 1, "{clusters:#?}");
    // No `version`: the provider's default, a minor GKE offers on the REGULAR channel.
    assert!(
        clusters[0]["currentMasterVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.36.")),
        "{:#}",
        clusters[0]
    );
    assert_eq!(
        clusters[0]["locations"],
        json!(["europe-west1-b", "europe-west1-c", "europe-west1-d"])
    );
    let pools = sim.of_kind("container:nodePool");
    let mut names: Vec<&str> = pools.iter().filter_map(|p| p["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(pools.len(), 2, "the default pool is gone: {names:?}");
    for p in &pools {
        assert_eq!(p["autoscaling"]["enabled"], json!(true), "{p:#}");
        assert_eq!(p["config"]["machineType"], json!("e2-standard-8"));
    }
    let mins: BTreeSet<i64> = pools
        .iter()
        .filter_map(|p| p["autoscaling"]["totalMinNodeCount"].as_i64())
        .collect();
    assert_eq!(mins, BTreeSet::from([5, 10]));
    let instances = sim.of_kind("sql:instance");
    assert_eq!(instances.len(), 3, "{instances:#?}");
    let primary: Vec<&Json> = instances
        .iter()
        .filter(|i| i.get("masterInstanceName").is_none())
        .collect();
    assert_eq!(primary.len(), 1);
    let primary = primary[0];
    // Google's clients send enums as numbers (`$alt=json;enum-encoding=int`): the simulator
    // keeps what it was sent.
    use google_cloud_sql_v1::model::{SqlAvailabilityType, SqlDatabaseVersion};
    let is = |v: &Json, name: &str, number: Json| *v == json!(name) || *v == number;
    assert!(
        is(
            &primary["settings"]["availabilityType"],
            "REGIONAL",
            json!(SqlAvailabilityType::Regional)
        ),
        "{primary:#}"
    );
    assert!(
        is(
            &primary["databaseVersion"],
            "POSTGRES_16",
            json!(SqlDatabaseVersion::Postgres16)
        ),
        "{primary:#}"
    );
    assert_eq!(primary["settings"]["tier"], json!("db-custom-8-30720"));
    assert_eq!(
        primary["replicaNames"].as_array().map(Vec::len),
        Some(2),
        "{primary:#}"
    );
    // The stack's user, besides the built-in user of each instance.
    let users: Vec<Json> = sim
        .of_kind("sql:users")
        .into_iter()
        .filter(|u| u["name"] == json!("superset"))
        .collect();
    assert_eq!(users.len(), 1, "{users:#?}");
    let redis = sim.of_kind("redis:cluster");
    assert_eq!(redis.len(), 1);
    assert_eq!(redis[0]["shardCount"], json!(3));
    assert_eq!(redis[0]["replicaCount"], json!(1));
    assert_eq!(redis[0]["state"], json!("ACTIVE"));
    assert_eq!(count(sim, "compute:healthChecks"), 1);
    assert_eq!(count(sim, "compute:urlMaps"), 1);
    assert_eq!(count(sim, "compute:targetHttpProxies"), 1);
    assert_eq!(count(sim, "compute:forwardingRules"), 1);
    let services = sim.of_kind("compute:backendServices");
    assert_eq!(services.len(), 1);
    assert_eq!(services[0]["enableCDN"], json!(true), "{:#}", services[0]);
    assert_eq!(services[0]["cdnPolicy"]["maxTtl"], json!(31_536_000));
    assert_eq!(services[0]["cdnPolicy"]["defaultTtl"], json!(0));
    assert_eq!(services[0]["compressionMode"], json!("AUTOMATIC"));
}

/// The prerequisites of Cloud SQL's private IP and of Memorystore, once on the network.
fn check_prerequisites(sim: &Sim) {
    let addresses = sim.of_kind("compute:addresses");
    assert_eq!(addresses.len(), 1, "{addresses:#?}");
    assert_eq!(addresses[0]["purpose"], json!("VPC_PEERING"));
    assert_eq!(addresses[0]["prefixLength"], json!(16));
    let connections = sim.of_kind("servicenetworking:connection");
    assert_eq!(connections.len(), 1, "{connections:#?}");
    assert_eq!(
        connections[0]["reservedPeeringRanges"],
        json!([addresses[0]["name"]]),
        "{connections:#?}"
    );
    let policies = sim.of_kind("networkconnectivity:serviceConnectionPolicy");
    assert_eq!(policies.len(), 1, "{policies:#?}");
    assert_eq!(policies[0]["serviceClass"], json!("gcp-memorystore-redis"));
    let subnet = sim.of_kind("compute:subnetworks")[0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        policies[0]["pscConfig"]["subnetworks"][0]
            .as_str()
            .is_some_and(|s| s.ends_with(&format!("/subnetworks/{subnet}"))),
        "{policies:#?}"
    );
}

/// Every request matched a discovery method and its body validated (the simulator answers
/// 400 otherwise, and 501 to a valid method it does not implement).
fn check_conformance(sim: &Sim) {
    check_conformance_of(sim, 50);
}

/// [`check_conformance`] of a log of more than `min` requests.
fn check_conformance_of(sim: &Sim, min: usize) {
    let requests = sim.requests();
    assert!(requests.len() > min, "{} requests", requests.len());
    let rejected: Vec<&Json> = requests
        .iter()
        .filter(|r| r["status"] == json!(400) || r["status"] == json!(501))
        .collect();
    assert!(rejected.is_empty(), "rejected requests: {rejected:#?}");
    // Every mutation of an API that declares requestId carried one.
    for r in &requests {
        let method = r["method"].as_str().unwrap_or_default();
        // (The test's own out-of-band change is the one request without `$alt`.)
        if r["api"] == json!("compute") && method != "GET" && r["query"]["$alt"].is_string() {
            assert!(
                r["query"]["requestId"].is_string(),
                "compute mutation without requestId: {r}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_stack_lifecycle() {
    let sim = start_sim(0.0, 0.0).await;
    let work = Workdir::new(
        "superset",
        &sim,
        &format!("{}{STACK}", sim.provider_block()),
    );

    let (engine, plan, state) = work.plan(PlanMode::Apply).await;
    let planned = changes(&plan);
    assert!(
        planned.iter().all(|(_, a)| *a == Action::Create),
        "{planned:?}"
    );
    let failures = work.apply(engine, &plan, state).await;
    assert!(failures.is_empty(), "apply failed: {failures:#?}");
    check_stack(&sim);

    // Outputs of the components are known.
    let state = work.state().await.unwrap();
    assert_eq!(
        state.resources.len(),
        19,
        "{:#?}",
        state
            .resources
            .iter()
            .map(|r| &r.address)
            .collect::<Vec<_>>()
    );

    // Nothing to do on a second plan.
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert_eq!(changes(&plan), vec![], "re-plan after apply");

    // An out-of-band change is seen and converged back.
    let token = sim.handle.issue_token("someone@example.com");
    let hc = sim.of_kind("compute:healthChecks")[0]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = reqwest::Client::new()
        .patch(format!(
            "{}/compute/v1/projects/{PROJECT}/global/healthChecks/{hc}",
            sim.urls.compute
        ))
        .bearer_auth(&token)
        .json(&json!({"checkIntervalSec": 60}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (engine, plan, state) = work.plan(PlanMode::Apply).await;
    assert!(
        plan.drift
            .iter()
            .any(|d| d.address.to_string().contains("health_check")),
        "drift: {:?}",
        plan.drift
            .iter()
            .map(|d| d.address.to_string())
            .collect::<Vec<_>>()
    );
    let planned = changes(&plan);
    assert_eq!(planned.len(), 1, "{planned:?}");
    assert_eq!(planned[0].1, Action::Update);
    let failures = work.apply(engine, &plan, state).await;
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(
        sim.of_kind("compute:healthChecks")[0]["checkIntervalSec"],
        json!(10)
    );
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert_eq!(changes(&plan), vec![]);

    // Destroy leaves the simulator empty.
    work.converge(PlanMode::Destroy).await;
    let left = sim.objects();
    assert!(left.is_empty(), "left behind: {:#?}", left.keys());
    assert!(work.state().await.unwrap().resources.is_empty());

    check_conformance(&sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn converges_under_injected_faults_without_duplicates() {
    // 5 % of requests throttled (429) and 5 % of mutations failed (500 / 503, half of the
    // failed creates carried out anyway).
    let sim = start_sim(0.05, 0.05).await;
    let work = Workdir::new("faulty", &sim, &format!("{}{STACK}", sim.provider_block()));
    let mut rounds = 0;
    loop {
        rounds += 1;
        let (engine, plan, state) = work.plan(PlanMode::Apply).await;
        if changes(&plan).is_empty() {
            break;
        }
        assert!(
            rounds <= 3,
            "not converged after 3 applies: {:?}",
            changes(&plan)
        );
        let failures = work.apply(engine, &plan, state).await;
        if !failures.is_empty() {
            eprintln!("round {rounds}: {failures:#?}");
        }
    }
    check_stack(&sim);
    let statuses: BTreeSet<u64> = sim
        .requests()
        .iter()
        .filter_map(|r| r["status"].as_u64())
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(statuses.iter().any(|s| *s >= 500), "{statuses:?}");
    check_conformance(&sim);

    work.converge(PlanMode::Destroy).await;
    let left = sim.objects();
    assert!(left.is_empty(), "left behind: {:#?}", left.keys());
}

#[tokio::test]
async fn missing_credentials_name_every_place_looked() {
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().display().to_string();
    let config = Attrs::from([
        ("project".to_string(), Value::from(PROJECT)),
        ("region".to_string(), Value::from(REGION)),
        (
            "endpoint_overrides".to_string(),
            Value::Map(BTreeMap::from([(
                "compute".to_string(),
                Value::from("http://127.0.0.1:1"),
            )])),
        ),
    ]);
    // No key file, no gcloud ADC file, and a metadata server that is not there (a closed
    // loopback port, so nothing leaves the machine).
    let provider = gcp::configure_with_env(&config, move |k| match k {
        "HOME" => Some(home_path.clone()),
        "GCE_METADATA_HOST" => Some("127.0.0.1:1".to_string()),
        _ => None,
    })
    .unwrap();
    let err = provider
        .read_many(
            "gcp_compute_network",
            &["projects/p/global/networks/n".into()],
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(!err.is_retryable(), "{err:?}");
    assert!(
        text.contains("GOOGLE_APPLICATION_CREDENTIALS is not set"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{}/.config/gcloud/application_default_credentials.json does not exist",
            home.path().display()
        )),
        "{text}"
    );
    assert!(
        text.contains("metadata server at http://127.0.0.1:1"),
        "{text}"
    );
    assert_eq!(
        text.matches("no Google Cloud credentials found").count(),
        1,
        "{text}"
    );

    // A key file that is not there is named as such.
    let provider = gcp::configure_with_env(&config, |k| {
        (k == "GOOGLE_APPLICATION_CREDENTIALS").then(|| "/nonexistent/key.json".to_string())
    })
    .unwrap();
    let err = provider
        .read_many(
            "gcp_compute_network",
            &["projects/p/global/networks/n".into()],
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/key.json"), "{err}");
}

const NETWORK: &str = r#"
resource "network" "main" {
  cidr  = "10.0.0.0/16"
  zones = 3
}
"#;

/// The logged requests of `api` with `method` whose path contains `part`.
fn requests_to(sim: &Sim, api: &str, method: &str, part: &str) -> Vec<Json> {
    sim.requests()
        .into_iter()
        .filter(|r| {
            r["api"] == json!(api)
                && r["method"] == json!(method)
                && r["path"].as_str().is_some_and(|p| p.contains(part))
        })
        .collect()
}

/// The state's record of the native type `type_name`.
async fn record(work: &Workdir, type_name: &str) -> state::ResourceRecord {
    let state = work.state().await.unwrap();
    let found: Vec<_> = state
        .resources
        .iter()
        .filter(|r| r.type_name == type_name)
        .cloned()
        .collect();
    assert_eq!(found.len(), 1, "{type_name}: {found:#?}");
    found.into_iter().next().unwrap()
}

fn redis_spec(sim: &Sim, shards: u32, replicas: u32) -> String {
    format!(
        r#"{}{NETWORK}
resource "redis_cluster" "cache" {{
  network            = network.main.id
  shards             = {shards}
  replicas_per_shard = {replicas}
  size               = "medium"
}}
"#,
        sim.provider_block()
    )
}

/// Issue 13, items 1 and 3: the cluster's network is read from what the API answers (never
/// `pscConfigs`, which real answers do not carry), so a re-plan keeps the cluster; scaling
/// shards and replicas in one plan sends one `updateMask` field per update, shards first, each
/// awaited, and converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_keeps_its_network_and_scales_one_field_at_a_time() {
    let sim = start_sim(0.0, 0.0).await;
    let work = Workdir::new("cache", &sim, &redis_spec(&sim, 3, 1));
    work.converge(PlanMode::Apply).await;
    let cluster = sim.of_kind("redis:cluster");
    assert_eq!(cluster.len(), 1);
    assert!(
        cluster[0].get("pscConfigs").is_none(),
        "the simulator answers as the real API: {:#}",
        cluster[0]
    );
    let network = record(&work, "gcp_compute_network").await.id;
    let redis = record(&work, "gcp_redis_cluster").await;
    assert_eq!(redis.attributes["network"], json!(network), "{redis:#?}");
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert_eq!(changes(&plan), vec![], "re-plan after apply");

    std::fs::write(work.dir.join("main.hcl"), redis_spec(&sim, 4, 2)).unwrap();
    let (engine, plan, state) = work.plan(PlanMode::Apply).await;
    let planned = changes(&plan);
    assert_eq!(planned.len(), 1, "{planned:?}");
    assert_eq!(planned[0].1, Action::Update, "{planned:?}");
    let failures = work.apply(engine, &plan, state).await;
    assert!(failures.is_empty(), "{failures:#?}");
    let patches = requests_to(&sim, "redis", "PATCH", "/clusters/");
    let masks: Vec<String> = patches
        .iter()
        .map(|r| {
            r["query"]["updateMask"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase()
                .replace('_', "")
        })
        .collect();
    assert_eq!(masks, ["shardcount", "replicacount"], "{patches:#?}");
    let cluster = &sim.of_kind("redis:cluster")[0];
    assert_eq!(cluster["shardCount"], json!(4));
    assert_eq!(cluster["replicaCount"], json!(2));
    assert_eq!(cluster["state"], json!("ACTIVE"));
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert_eq!(changes(&plan), vec![], "re-plan after scaling");

    work.converge(PlanMode::Destroy).await;
    let left = sim.objects();
    assert!(left.is_empty(), "left behind: {:#?}", left.keys());
}

/// Issue 13, item 6: on a network with no prerequisites, the network component creates the
/// VPC_PEERING range, the private services access connection and the service connection
/// policy, so that Cloud SQL's private IP and Memorystore creates succeed; destroy removes
/// them after the instance and the cluster that use them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fresh_network_gets_the_prerequisites_and_loses_them_last() {
    let sim = start_sim(0.0, 0.0).await;
    let spec = format!(
        r#"{}{NETWORK}
resource "postgres" "meta" {{
  network = network.main.id
  size    = "small"
}}

resource "redis_cluster" "cache" {{
  network            = network.main.id
  shards             = 3
  replicas_per_shard = 1
  size               = "small"
}}
"#,
        sim.provider_block()
    );
    let work = Workdir::new("fresh", &sim, &spec);
    work.converge(PlanMode::Apply).await;
    check_prerequisites(&sim);
    assert_eq!(count(&sim, "sql:instance"), 1);
    assert_eq!(count(&sim, "redis:cluster"), 1);
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert_eq!(changes(&plan), vec![], "re-plan after apply");

    work.converge(PlanMode::Destroy).await;
    let left = sim.objects();
    assert!(left.is_empty(), "left behind: {:#?}", left.keys());
    // The connection went after the instance, the policy after the cluster.
    let requests = sim.requests();
    let position = |pred: &dyn Fn(&Json) -> bool| {
        requests
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("no such request"))
    };
    let path = |r: &Json| r["path"].as_str().unwrap_or_default().to_string();
    let instance_deleted =
        position(&|r| r["api"] == json!("sqladmin") && r["method"] == json!("DELETE"));
    let disconnected = position(&|r| path(r).ends_with(":deleteConnection"));
    let cluster_deleted = position(&|r| {
        r["api"] == json!("redis")
            && r["method"] == json!("DELETE")
            && path(r).contains("/clusters/")
    });
    let policy_deleted = position(&|r| {
        r["method"] == json!("DELETE") && path(r).contains("/serviceConnectionPolicies/")
    });
    assert!(instance_deleted < disconnected);
    assert!(cluster_deleted < policy_deleted);
    check_conformance_of(&sim, 10);
}

/// Issue 13, item 4: a delete refused because another object still uses the object (Compute
/// answers 400 `resourceInUseByAnotherResource`, without `status`) waits until that object is
/// gone, instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delete_waits_for_a_dependant_being_deleted() {
    let sim = start_sim(0.0, 0.0).await;
    let spec = format!(
        "{}\nresource \"gcp_compute_health_check\" \"probe\" {{\n  path = \"/health\"\n}}\n",
        sim.provider_block()
    );
    let work = Workdir::new("busy", &sim, &spec);
    work.converge(PlanMode::Apply).await;
    let hc = record(&work, "gcp_compute_health_check").await.id;

    // Someone else's backend service uses the health check.
    let token = sim.handle.issue_token("someone@example.com");
    let http = reqwest::Client::new();
    let services = format!(
        "{}/compute/v1/projects/{PROJECT}/global/backendServices",
        sim.urls.compute
    );
    let answer = http
        .post(&services)
        .bearer_auth(&token)
        .json(&json!({
            "name": "someone-else",
            "healthChecks": [hc],
            "loadBalancingScheme": "EXTERNAL_MANAGED",
        }))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    wait_until(|| count(&sim, "compute:backendServices") == 1).await;

    // Its owner deletes it once ss's delete has been refused.
    let refused = async {
        wait_until(|| {
            requests_to(&sim, "compute", "DELETE", "/healthChecks/")
                .iter()
                .any(|r| r["status"] == json!(400))
        })
        .await;
        let answer = http
            .delete(format!("{services}/someone-else"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
    };
    let ((), ()) = tokio::join!(work.converge(PlanMode::Destroy), refused);
    let left = sim.objects();
    assert!(left.is_empty(), "left behind: {:#?}", left.keys());
}

/// Polls `done` every 20 ms for up to 60 s.
async fn wait_until(done: impl Fn() -> bool) {
    for _ in 0..3000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("not reached in 60 s");
}

/// Issue 13, item 5: with `cache_mode = USE_ORIGIN_HEADERS` no TTL is sent (the API refuses
/// them), none is read back, and the plan is stable.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cdn_with_origin_headers_sends_no_ttl_and_stays_planned() {
    let sim = start_sim(0.0, 0.0).await;
    let spec = format!(
        r#"{}
resource "load_balancer" "web" {{
  network = "projects/{PROJECT}/global/networks/none"
  target  = "none"
  port    = 80
}}

resource "gcp_compute_backend_service_cdn" "static" {{
  origin     = load_balancer.web.dns_name
  cache_mode = "USE_ORIGIN_HEADERS"
}}
"#,
        sim.provider_block()
    );
    let work = Workdir::new("origin", &sim, &spec);
    work.converge(PlanMode::Apply).await;
    let service = &sim.of_kind("compute:backendServices")[0];
    assert_eq!(service["enableCDN"], json!(true), "{service:#}");
    assert_eq!(
        service["cdnPolicy"]["cacheMode"],
        json!("USE_ORIGIN_HEADERS")
    );
    for patch in requests_to(&sim, "compute", "PATCH", "/backendServices/") {
        for ttl in ["defaultTtl", "maxTtl", "clientTtl"] {
            assert!(
                patch["body"]["cdnPolicy"].get(ttl).is_none(),
                "{ttl} sent: {patch:#}"
            );
        }
    }
    let cdn = record(&work, "gcp_compute_backend_service_cdn").await;
    assert_eq!(cdn.attributes["default_ttl"], Json::Null, "{cdn:#?}");
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert_eq!(changes(&plan), vec![], "re-plan after apply");
    work.converge(PlanMode::Destroy).await;
    let left = sim.objects();
    assert!(left.is_empty(), "left behind: {:#?}", left.keys());
}

/// Issue 13, item 8: the plan refuses a Kubernetes minor GKE does not offer in the region,
/// naming the offered ones (from `getServerConfig`), before anything is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gke_version_not_offered_is_refused_at_plan_time() {
    let sim = start_sim(0.0, 0.0).await;
    let spec = format!(
        r#"{}{NETWORK}
resource "kubernetes_cluster" "k8s" {{
  network = network.main.id
  version = "1.31"
  node_pool "web" {{
    min = 1
    max = 3
  }}
}}
"#,
        sim.provider_block()
    );
    let work = Workdir::new("old", &sim, &spec);
    let engine = work.engine(None);
    let refused = planner::plan(&engine, None, &PlanOptions::default())
        .await
        .err()
        .map(|e| format!("{e:?}"))
        .unwrap_or_default();
    assert!(
        refused.contains("GKE does not offer Kubernetes 1.31 in europe-west1")
            && refused.contains("offered: 1.36, 1.35"),
        "{refused}"
    );
    // Located at the `version` value.
    let at = spec.find("\"1.31\"").unwrap();
    assert!(
        refused.contains(&format!("start: {at}, end: {}", at + 6)),
        "{refused}"
    );
    assert!(sim.objects().is_empty());
    // The server configuration is asked once for the provider's life.
    let asked = requests_to(&sim, "container", "GET", "/serverConfig");
    assert_eq!(asked.len(), 1, "{asked:#?}");
}

fn broker_spec(sim: &Sim, replicas: u32) -> String {
    format!(
        r#"{}{NETWORK}
resource "kubernetes_cluster" "k8s" {{
  network = network.main.id
  node_pool "web" {{
    min = 1
    max = 3
  }}
}}

resource "redis" "broker" {{
  network  = network.main.id
  replicas = {replicas}
}}
"#,
        sim.provider_block()
    )
}

/// The provider itself, configured against the simulator, for what the planner does not
/// reach (its GKE connections).
fn provider(sim: &Sim) -> gcp::GcpProvider {
    let u = &sim.urls;
    let overrides: Attrs = [
        ("sqladmin", &u.sqladmin),
        ("redis", &u.redis),
        ("container", &u.container),
        ("compute", &u.compute),
        ("servicenetworking", &u.servicenetworking),
        ("networkconnectivity", &u.networkconnectivity),
        ("token", &u.token),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), Value::from(v.as_str())))
    .collect();
    let config: Attrs = [
        ("project".to_string(), Value::from(PROJECT)),
        ("region".to_string(), Value::from(REGION)),
        ("endpoint_overrides".to_string(), Value::Map(overrides)),
    ]
    .into_iter()
    .collect();
    let key = sim.key.display().to_string();
    gcp::configure_with_env(&config, move |k| {
        (k == "GOOGLE_APPLICATION_CREDENTIALS").then(|| key.clone())
    })
    .unwrap()
}

/// Issue 14: the `redis` component is a Memorystore for Redis instance, STANDARD_HA with
/// read replicas in other zones, on the network's private services access; its replica
/// count changes in place. The GKE node pools carry the pool label the `superset` pods
/// select, and a cluster is reached by its id with the provider's access token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_is_a_standard_ha_instance_and_gke_clusters_are_reachable() {
    let sim = start_sim(0.0, 0.0).await;
    let work = Workdir::new("broker", &sim, &broker_spec(&sim, 2));
    work.converge(PlanMode::Apply).await;
    let instances = sim.of_kind("redis:instance");
    assert_eq!(instances.len(), 1, "{instances:#?}");
    let i = &instances[0];
    assert_eq!(i["tier"], json!("STANDARD_HA"));
    assert_eq!(i["replicaCount"], json!(2));
    assert_eq!(i["readReplicasMode"], json!("READ_REPLICAS_ENABLED"));
    assert_eq!(i["connectMode"], json!("PRIVATE_SERVICE_ACCESS"));
    assert_eq!(i["redisVersion"], json!("REDIS_7_2"));
    assert_eq!(i["memorySizeGb"], json!(5));
    let zones: BTreeSet<&str> = i["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["zone"].as_str())
        .collect();
    assert_eq!(zones.len(), 3, "{i:#}");
    let redis = record(&work, "gcp_redis_instance").await;
    assert_eq!(redis.attributes["host"], i["host"]);
    assert_eq!(redis.attributes["read_endpoint"], i["readEndpoint"]);
    let pools = sim.of_kind("container:nodePool");
    assert!(!pools.is_empty());
    for p in &pools {
        assert_eq!(
            p["config"]["labels"]["node.ss.internal/pool"],
            json!("web"),
            "{p:#}"
        );
    }
    let (_, plan, _) = work.plan(PlanMode::Apply).await;
    assert_eq!(changes(&plan), vec![], "re-plan after apply");

    std::fs::write(work.dir.join("main.hcl"), broker_spec(&sim, 3)).unwrap();
    let (engine, plan, state) = work.plan(PlanMode::Apply).await;
    let planned = changes(&plan);
    assert_eq!(planned.len(), 1, "{planned:?}");
    assert_eq!(planned[0].1, Action::Update, "{planned:?}");
    let failures = work.apply(engine, &plan, state).await;
    assert!(failures.is_empty(), "{failures:#?}");
    let patches = requests_to(&sim, "redis", "PATCH", "/instances/");
    assert_eq!(patches.len(), 1, "{patches:#?}");
    assert_eq!(patches[0]["query"]["updateMask"], json!("replicaCount"));
    assert_eq!(sim.of_kind("redis:instance")[0]["replicaCount"], json!(3));

    let cluster = record(&work, "gcp_container_cluster").await;
    let config = provider(&sim).clusters().connect(&cluster.id).await;
    let config = config.unwrap_or_else(|e| panic!("{e}"));
    let endpoint = cluster.attributes["endpoint"].as_str().unwrap().to_string();
    assert_eq!(config.cluster_url.host(), Some(endpoint.as_str()));
    assert!(config.root_cert.is_some_and(|c| !c.is_empty()));
    assert!(config.auth_info.token.is_some());
    let missing = provider(&sim)
        .clusters()
        .connect(&format!(
            "projects/{PROJECT}/locations/{REGION}/clusters/nope"
        ))
        .await;
    assert!(missing.is_err());

    work.converge(PlanMode::Destroy).await;
    let left = sim.objects();
    assert!(left.is_empty(), "left behind: {:#?}", left.keys());
    check_conformance_of(&sim, 20);
}
