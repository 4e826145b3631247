//! End-to-end tests of the simulator over HTTP, with a minimal HTTP/1.1 client.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ovh_sim::{Config, Handle, serve, signature};
use serde_json::{Value, json};

struct Sim {
    addr: SocketAddr,
    handle: Handle,
    cfg: Config,
}

async fn start(mut cfg: Config) -> Sim {
    if cfg.seed.is_none() {
        cfg.seed = Some(7);
    }
    let (addr, handle) = serve(cfg.clone()).await.unwrap();
    Sim { addr, handle, cfg }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Resp {
    status: u16,
    headers: String,
    body: Value,
}

impl Sim {
    /// A signed request; `path` is under `/v1`.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call_with(method, path, body, now(), None).await
    }

    async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        ts: i64,
        bad_secret: Option<&str>,
    ) -> Resp {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let target = format!("/v1{path}");
        let url = format!("http://{}{target}", self.addr);
        let secret = bad_secret.unwrap_or(&self.cfg.app_secret);
        let sig = signature(
            secret,
            &self.cfg.consumer_key,
            method,
            &url,
            &body,
            &ts.to_string(),
        );
        let headers = format!(
            "X-Ovh-Application: {}\r\nX-Ovh-Consumer: {}\r\nX-Ovh-Timestamp: {ts}\r\nX-Ovh-Signature: {sig}\r\n",
            self.cfg.app_key, self.cfg.consumer_key
        );
        raw(self.addr, method, &target, &headers, &body).await
    }

    async fn objects(&self) -> Value {
        raw(self.addr, "GET", "/_sim/objects", "", "").await.body
    }
}

async fn raw(addr: SocketAddr, method: &str, target: &str, headers: &str, body: &str) -> Resp {
    let headers = format!("Content-Type: application/json\r\n{headers}");
    let answer = sim_kit::client::send(&addr.to_string(), method, target, &headers, body)
        .await
        .unwrap();
    let body = if answer.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&answer.body).unwrap()
    };
    Resp {
        status: answer.status,
        headers: answer.head.to_ascii_lowercase(),
        body,
    }
}

fn fast() -> Config {
    Config {
        delay: Duration::from_millis(100),
        ..Config::default()
    }
}

/// A fresh directory named after `name` for a request log, and the log's path in it.
fn log_dir(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("ovh-sim-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("requests.jsonl");
    (dir, log)
}

const P: &str = "/cloud/project/proj1";

fn kube_body() -> Value {
    json!({"name": "superset", "region": "GRA11", "version": "1.32",
           "nodepool": {"name": "web", "flavorName": "b3-8", "desiredNodes": 3, "minNodes": 1, "maxNodes": 10}})
}

#[tokio::test]
async fn validator_rejects_bad_requests_and_accepts_a_valid_kube_create() {
    let sim = start(fast()).await;
    let kube = format!("{P}/kube");
    let cases = [
        (json!({"region": "GRA11", "colour": "red"}), "colour"),
        (json!({"region": "GRA11", "name": 123}), "name"),
        (json!({"name": "x"}), "region"),
        (
            json!({"region": "GRA11", "nodepool": {"name": "a"}}),
            "nodepool.flavorName",
        ),
        (json!({"region": "GRA11", "version": "1.2"}), "version"),
        (
            json!({"region": "GRA11", "nodepools": [{"flavorName": "b3-8", "desiredNodes": "3"}]}),
            "nodepools[0].desiredNodes",
        ),
    ];
    for (body, field) in cases {
        let r = sim.call("POST", &kube, Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.body["class"], "Client::BadRequest");
        let msg = r.body["message"].as_str().unwrap();
        assert!(msg.contains(&format!("[{field}]")), "{body}: {msg}");
    }
    // A read-only field sent (the health monitor's id).
    let hm = format!("{P}/region/GRA11/loadbalancing/healthMonitor");
    let r = sim
        .call("POST", &hm, Some(json!({"id": "0b5b8a3e-0000-4000-8000-000000000000", "delay": 5, "maxRetries": 3,
            "monitorType": "http", "name": "hm", "poolId": "0b5b8a3e-0000-4000-8000-000000000001", "timeout": 3})))
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("[id] Property is read-only"),
        "{}",
        r.body
    );
    // Unknown path, wrong method, wrong path parameter type, unknown query parameter.
    let r = sim.call("GET", &format!("{P}/kubernetes"), None).await;
    assert_eq!(r.status, 400);
    assert!(r.body["message"].as_str().unwrap().contains("No such path"));
    let r = sim.call("DELETE", &kube, None).await;
    assert_eq!(r.status, 400);
    assert!(r.body["message"].as_str().unwrap().contains("not allowed"));
    let r = sim
        .call("GET", &format!("{P}/database/postgresql/not-a-uuid"), None)
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["message"].as_str().unwrap().contains("[clusterId]"));
    let r = sim.call("GET", &format!("{P}/kube?foo=1"), None).await;
    assert_eq!(r.status, 400);
    // Valid.
    let r = sim.call("POST", &kube, Some(kube_body())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "INSTALLING");
    assert_eq!(r.body["name"], "superset");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn signatures_and_timestamps_are_checked() {
    let sim = start(fast()).await;
    let path = format!("{P}/kube");
    let r = sim.call("GET", &path, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!([]));
    assert!(r.headers.contains("x-ovh-queryid:"));
    let r = sim
        .call_with("GET", &path, None, now(), Some("wrong-secret"))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        json!({"class": "Client::Forbidden", "message": "Invalid signature", "errorCode": "INVALID_SIGNATURE"})
    );
    assert!(r.headers.contains("x-ovh-queryid:"));
    let r = sim.call_with("GET", &path, None, now() - 120, None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errorCode"], "QUERY_TIME_OUT");
    // Unsigned.
    let r = raw(sim.addr, "GET", &format!("/v1{path}"), "", "").await;
    assert_eq!(r.status, 401);
    let r = raw(sim.addr, "GET", "/v1/auth/time", "", "").await;
    assert_eq!(r.status, 200);
    assert!((r.body.as_i64().unwrap() - now()).abs() <= 2);
    // OAuth2 client credentials.
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope=all",
        sim.cfg.app_key, sim.cfg.app_secret
    );
    let r = raw(sim.addr, "POST", "/auth/oauth2/token", "", &form).await;
    assert_eq!(r.status, 200);
    let token = r.body["access_token"].as_str().unwrap().to_string();
    let r = raw(
        sim.addr,
        "GET",
        &format!("/v1{path}"),
        &format!("Authorization: Bearer {token}\r\n"),
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    sim.handle.shutdown().await;
}

async fn wait_for(sim: &Sim, path: &str, field: &str, want: &str) -> Value {
    for _ in 0..100 {
        let r = sim.call("GET", path, None).await;
        if r.body[field] == want {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} never reached {field}={want}");
}

#[tokio::test]
async fn kube_cluster_and_node_pools_walk_their_lifecycle() {
    let sim = start(fast()).await;
    let r = sim
        .call("POST", &format!("{P}/kube"), Some(kube_body()))
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("{P}/kube/{id}");
    let got = sim.call("GET", &path, None).await;
    assert_eq!(got.body["status"], "INSTALLING");
    let ready = wait_for(&sim, &path, "status", "READY").await;
    assert!(ready["createdAt"].is_string());
    let ids = sim.call("GET", &format!("{P}/kube"), None).await;
    assert_eq!(ids.body, json!([id]));
    let pools = sim.call("GET", &format!("{path}/nodepool"), None).await;
    assert_eq!(
        pools.body.as_array().unwrap().len(),
        1,
        "node pools are listed as full objects"
    );
    let pool = &pools.body[0];
    let pool_path = format!("{path}/nodepool/{}", pool["id"].as_str().unwrap());
    let pool = wait_for(&sim, &pool_path, "status", "READY").await;
    assert_eq!(pool["currentNodes"], 3);
    // Duplicate node pool name.
    let r = sim
        .call(
            "POST",
            &format!("{path}/nodepool"),
            Some(json!({"name": "web", "flavorName": "b3-8"})),
        )
        .await;
    assert_eq!(r.status, 409);
    // Resize.
    let r = sim
        .call(
            "PUT",
            &pool_path,
            Some(json!({"desiredNodes": 5, "maxNodes": 10})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let pool = sim.call("GET", &pool_path, None).await.body;
    assert_eq!(pool["status"], "UPSCALING");
    let pool = wait_for(&sim, &pool_path, "status", "READY").await;
    assert_eq!(pool["currentNodes"], 5);
    // Delete: DELETING, then gone.
    let r = sim.call("DELETE", &path, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        sim.call("GET", &path, None).await.body["status"],
        "DELETING"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    let r = sim.call("GET", &path, None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["class"], "Client::NotFound");
    assert_eq!(sim.call("GET", &pool_path, None).await.status, 404);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn injected_failures_sometimes_create_anyway() {
    let sim = start(Config {
        fail_rate: 1.0,
        seed: Some(42),
        ..fast()
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..20 {
        let body = json!({"name": format!("c{i}"), "region": "GRA11"});
        let r = sim.call("POST", &format!("{P}/kube"), Some(body)).await;
        assert_eq!(r.body["class"], "Server::InternalServerError");
        statuses.push(r.status);
    }
    assert!(statuses.iter().all(|s| *s == 500));
    // GETs are never failed: list what really exists.
    let ids = sim.call("GET", &format!("{P}/kube"), None).await;
    assert_eq!(ids.status, 200);
    let created = ids.body.as_array().unwrap().len();
    assert!(created > 0 && created < 20, "created {created} of 20");
    let objects = sim.objects().await;
    assert_eq!(
        objects
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["kind"] == "kube")
            .count(),
        created
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn throttling_answers_429() {
    let sim = start(Config {
        throttle_rate: 1.0,
        ..fast()
    })
    .await;
    let r = sim.call("GET", &format!("{P}/kube"), None).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["class"], "Client::TooManyRequests");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn network_database_load_balancer_and_cdn_and_the_object_listing() {
    let (dir, log) = log_dir("test");
    let sim = start(Config {
        request_log: Some(log.clone()),
        ..fast()
    })
    .await;
    // Private network (global API) with a subnet in GRA11.
    let net = sim
        .call(
            "POST",
            &format!("{P}/network/private"),
            Some(json!({"name": "main", "regions": ["GRA11"], "vlanId": 7})),
        )
        .await;
    assert_eq!(net.status, 200, "{}", net.body);
    let net_id = net.body["id"].as_str().unwrap().to_string();
    assert_eq!(net.body["status"], "BUILDING");
    let os_id = net.body["regions"][0]["openstackId"]
        .as_str()
        .unwrap()
        .to_string();
    let dup = sim
        .call(
            "POST",
            &format!("{P}/network/private"),
            Some(json!({"name": "other", "vlanId": 7})),
        )
        .await;
    assert_eq!(dup.status, 409);
    let subnet = sim
        .call(
            "POST",
            &format!("{P}/network/private/{net_id}/subnet"),
            Some(json!({"dhcp": true, "noGateway": false, "network": "10.0.0.0/16", "region": "GRA11",
                        "start": "10.0.0.2", "end": "10.0.255.254"})),
        )
        .await;
    assert_eq!(subnet.status, 200, "{}", subnet.body);
    let subnet_id = subnet.body["id"].as_str().unwrap().to_string();
    wait_for(
        &sim,
        &format!("{P}/network/private/{net_id}"),
        "status",
        "ACTIVE",
    )
    .await;

    // Regional network: POST answers an operation.
    let op = sim
        .call("POST", &format!("{P}/region/EU-WEST-PAR/network"),
            Some(json!({"name": "par", "subnet": {"cidr": "10.1.0.0/16", "enableDhcp": true, "enableGatewayIp": true, "ipVersion": 4}})))
        .await;
    assert_eq!(op.status, 200, "{}", op.body);
    let op_path = format!("{P}/operation/{}", op.body["id"].as_str().unwrap());
    let done = wait_for(&sim, &op_path, "status", "completed").await;
    let rnet = done["resourceId"].as_str().unwrap().to_string();
    let rn = sim
        .call(
            "GET",
            &format!("{P}/region/EU-WEST-PAR/network/{rnet}"),
            None,
        )
        .await;
    assert_eq!(rn.body["subnetIds"].as_array().unwrap().len(), 1);

    // PostgreSQL: unknown network is refused, then created and READY.
    let pg = format!("{P}/database/postgresql");
    let mut body = json!({"plan": "business", "version": "16", "description": "meta",
        "nodesPattern": {"flavor": "b3-8", "number": 2, "region": "GRA"},
        "networkId": "00000000-0000-4000-8000-000000000000", "ipRestrictions": [{"ip": "10.0.0.0/16", "description": "vpc"}]});
    assert_eq!(sim.call("POST", &pg, Some(body.clone())).await.status, 400);
    body["networkId"] = json!(os_id);
    body["subnetId"] = json!(subnet_id);
    let db = sim.call("POST", &pg, Some(body)).await;
    assert_eq!(db.status, 200, "{}", db.body);
    assert_eq!(db.body["status"], "CREATING");
    let db_path = format!("{pg}/{}", db.body["id"].as_str().unwrap());
    let ready = wait_for(&sim, &db_path, "status", "READY").await;
    assert_eq!(ready["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(ready["ipRestrictions"][0]["status"], "READY");
    let ids = sim.call("GET", &pg, None).await.body;
    assert_eq!(ids, json!([db.body["id"]]));
    let users = sim.call("GET", &format!("{db_path}/user"), None).await.body;
    let reset = sim
        .call(
            "POST",
            &format!(
                "{db_path}/user/{}/credentials/reset",
                users[0].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(reset.body["username"], "avnadmin");
    assert!(reset.body["password"].is_string());
    let ro = sim
        .call("PUT", &db_path, Some(json!({"status": "READY"})))
        .await;
    assert_eq!(ro.status, 400);
    let upd = sim
        .call("PUT", &db_path, Some(json!({"description": "meta2"})))
        .await;
    assert_eq!(upd.status, 200, "{}", upd.body);
    assert_eq!(upd.body["status"], "UPDATING");

    // Valkey.
    let vk = sim
        .call("POST", &format!("{P}/database/valkey"),
            Some(json!({"plan": "business", "version": "8.0", "nodesList": [{"flavor": "b3-8", "region": "GRA"}, {"flavor": "b3-8", "region": "GRA"}]})))
        .await;
    assert_eq!(vk.status, 200, "{}", vk.body);
    assert_eq!(vk.body["engine"], "valkey");

    // Load balancer: flavors, create (operation), listener, pool, health monitor.
    let lbase = format!("{P}/region/GRA11/loadbalancing");
    let flavors = sim.call("GET", &format!("{lbase}/flavor"), None).await.body;
    let flavor = flavors
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "small")
        .unwrap()["id"]
        .clone();
    let op = sim
        .call("POST", &format!("{lbase}/loadbalancer"),
            Some(json!({"name": "web", "flavorId": flavor, "network": {"private": {"network": {"id": os_id, "subnetId": subnet_id}}}})))
        .await;
    assert_eq!(op.status, 200, "{}", op.body);
    assert_eq!(op.body["action"], "loadbalancer#create");
    let done = wait_for(
        &sim,
        &format!("{P}/operation/{}", op.body["id"].as_str().unwrap()),
        "status",
        "completed",
    )
    .await;
    let lb_id = done["resourceId"].as_str().unwrap().to_string();
    let lb = wait_for(
        &sim,
        &format!("{lbase}/loadbalancer/{lb_id}"),
        "provisioningStatus",
        "active",
    )
    .await;
    assert!(lb["vipAddress"].as_str().unwrap().starts_with("10.0."));
    let listener = sim
        .call(
            "POST",
            &format!("{lbase}/listener"),
            Some(json!({"name": "http", "port": 80, "protocol": "http", "loadbalancerId": lb_id})),
        )
        .await;
    assert_eq!(listener.status, 200, "{}", listener.body);
    let pool = sim
        .call("POST", &format!("{lbase}/pool"),
            Some(json!({"name": "web", "algorithm": "roundRobin", "protocol": "http", "listenerId": listener.body["id"]})))
        .await;
    assert_eq!(pool.status, 200, "{}", pool.body);
    let hm = sim
        .call("POST", &format!("{lbase}/healthMonitor"),
            Some(json!({"name": "hc", "delay": 5, "maxRetries": 3, "timeout": 3, "monitorType": "http",
                        "poolId": pool.body["id"], "httpConfiguration": {"httpMethod": "GET", "urlPath": "/health"}})))
        .await;
    assert_eq!(hm.status, 200, "{}", hm.body);
    let pools = sim
        .call("GET", &format!("{lbase}/pool?loadbalancerId={lb_id}"), None)
        .await
        .body;
    assert_eq!(pools.as_array().unwrap().len(), 1);
    let l = sim
        .call(
            "GET",
            &format!("{lbase}/listener/{}", listener.body["id"].as_str().unwrap()),
            None,
        )
        .await
        .body;
    assert_eq!(l["defaultPoolId"], pool.body["id"]);

    // CDN: domain, backend, cache rule.
    let cdn = "/cdn/dedicated/cdn-sim-1";
    let d = sim
        .call(
            "POST",
            &format!("{cdn}/domains"),
            Some(json!({"domain": "static.example.com"})),
        )
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    let b = sim
        .call(
            "POST",
            &format!("{cdn}/domains/static.example.com/backends"),
            Some(json!({"ip": "51.1.2.3"})),
        )
        .await;
    assert_eq!(b.status, 200, "{}", b.body);
    let c = sim
        .call("POST", &format!("{cdn}/domains/static.example.com/cacheRules"),
            Some(json!({"cacheType": "forceCache", "fileMatch": "/assets", "fileType": "folder", "ttl": 3600})))
        .await;
    assert_eq!(c.status, 200, "{}", c.body);
    let rules = sim
        .call(
            "GET",
            &format!("{cdn}/domains/static.example.com/cacheRules"),
            None,
        )
        .await
        .body;
    assert_eq!(rules, json!([c.body["cacheRuleId"]]));
    let backends = sim
        .call(
            "GET",
            &format!("{cdn}/domains/static.example.com/backends"),
            None,
        )
        .await
        .body;
    assert_eq!(backends, json!(["51.1.2.3"]));
    let task = sim
        .call("DELETE", &format!("{cdn}/domains/static.example.com"), None)
        .await;
    assert_eq!(task.body["function"], "removeDomain");

    // Everything is listed.
    let objects = sim.objects().await;
    let kinds: Vec<&str> = objects
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    for k in [
        "network",
        "subnet",
        "regional-network",
        "database",
        "db-node",
        "loadbalancer",
        "listener",
        "pool",
        "healthmonitor",
        "cdn-domain",
        "operation",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    sim.handle.shutdown().await;
    // The request log has one JSON line per request.
    let text = std::fs::read_to_string(&log).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], format!("/v1{P}/network/private"));
    assert_eq!(first["status"], 200);
    assert_eq!(first["body"]["name"], "main");
    assert!(text.lines().count() > 20);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_network_in_use_cannot_be_deleted_until_its_users_are_gone() {
    let sim = start(fast()).await;
    let net = sim
        .call(
            "POST",
            &format!("{P}/network/private"),
            Some(json!({"name": "main", "regions": ["GRA11"]})),
        )
        .await;
    let net_path = format!("{P}/network/private/{}", net.body["id"].as_str().unwrap());
    let os_id = net.body["regions"][0]["openstackId"].clone();
    let subnet = sim
        .call("POST", &format!("{net_path}/subnet"),
            Some(json!({"dhcp": true, "noGateway": false, "network": "10.0.0.0/16", "region": "GRA11",
                        "start": "10.0.0.2", "end": "10.0.255.254"})))
        .await;
    assert_eq!(subnet.status, 200, "{}", subnet.body);
    let mut body = kube_body();
    body["privateNetworkId"] = os_id;
    body["nodesSubnetId"] = subnet.body["id"].clone();
    let kube = sim.call("POST", &format!("{P}/kube"), Some(body)).await;
    assert_eq!(kube.status, 200, "{}", kube.body);
    let kube_path = format!("{P}/kube/{}", kube.body["id"].as_str().unwrap());
    // Out-of-bounds resize is refused.
    let pools = sim
        .call("GET", &format!("{kube_path}/nodepool"), None)
        .await
        .body;
    let pool_path = format!("{kube_path}/nodepool/{}", pools[0]["id"].as_str().unwrap());
    let r = sim
        .call("PUT", &pool_path, Some(json!({"desiredNodes": 50})))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // In use: 409, for the subnet and for the network.
    let subnet_path = format!("{net_path}/subnet/{}", subnet.body["id"].as_str().unwrap());
    assert_eq!(sim.call("DELETE", &subnet_path, None).await.status, 409);
    assert_eq!(sim.call("DELETE", &net_path, None).await.status, 409);
    assert_eq!(sim.call("DELETE", &kube_path, None).await.status, 200);
    // Still DELETING: still in use.
    assert_eq!(sim.call("DELETE", &net_path, None).await.status, 409);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(sim.call("DELETE", &subnet_path, None).await.status, 200);
    assert_eq!(sim.call("DELETE", &net_path, None).await.status, 200);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn a_load_balancer_with_floating_ip_create_gets_a_public_ip_and_patches_are_out_of_band() {
    let (dir, log) = log_dir("fip");
    let sim = start(Config {
        delay: Duration::from_millis(10),
        request_log: Some(log.clone()),
        ..Config::default()
    })
    .await;
    let region = format!("{P}/region/GRA11");
    let op = sim
        .call(
            "POST",
            &format!("{region}/network"),
            Some(json!({"name": "n"})),
        )
        .await;
    assert_eq!(op.status, 200, "{}", op.body);
    let op_path = format!("{P}/operation/{}", op.body["id"].as_str().unwrap());
    let net = wait_for(&sim, &op_path, "status", "completed").await["resourceId"]
        .as_str()
        .unwrap()
        .to_string();
    let subnet = sim
        .call(
            "POST",
            &format!("{region}/network/{net}/subnet"),
            Some(json!({"name": "s", "cidr": "10.0.0.0/24", "ipVersion": 4,
                        "enableDhcp": true, "enableGatewayIp": true})),
        )
        .await;
    assert_eq!(subnet.status, 200, "{}", subnet.body);
    let lbase = format!("{region}/loadbalancing");
    let flavors = sim.call("GET", &format!("{lbase}/flavor"), None).await.body;
    let flavor = flavors[0]["id"].clone();
    let op = sim
        .call(
            "POST",
            &format!("{lbase}/loadbalancer"),
            Some(
                json!({"name": "web", "flavorId": flavor, "network": {"private": {
                "network": {"id": net, "subnetId": subnet.body["id"]},
                "floatingIpCreate": {"description": "web"}}}}),
            ),
        )
        .await;
    assert_eq!(op.status, 200, "{}", op.body);
    let op_path = format!("{P}/operation/{}", op.body["id"].as_str().unwrap());
    let lb_id = wait_for(&sim, &op_path, "status", "completed").await["resourceId"]
        .as_str()
        .unwrap()
        .to_string();
    let lb_path = format!("{lbase}/loadbalancer/{lb_id}");
    let lb = sim.call("GET", &lb_path, None).await.body;
    let ip: std::net::Ipv4Addr = lb["floatingIp"]["ip"].as_str().unwrap().parse().unwrap();
    assert!(!ip.is_private(), "{lb}");
    assert!(ovh_sim::validate::is_uuid(
        lb["floatingIp"]["id"].as_str().unwrap()
    ));

    // An out-of-band change, in-process and over HTTP: no schema, no signature.
    let changed = sim
        .handle
        .patch(&lb_path, &json!({"name": "renamed"}))
        .unwrap();
    assert_eq!(changed["name"], "renamed");
    let r = raw(
        sim.addr,
        "POST",
        "/_sim/patch",
        "",
        &json!({"path": lb_path, "set": {"name": "again"}}).to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sim.call("GET", &lb_path, None).await.body["name"], "again");
    let missing = raw(
        sim.addr,
        "POST",
        "/_sim/patch",
        "",
        &json!({"path": "/nothing", "set": {}}).to_string(),
    )
    .await;
    assert_eq!(missing.status, 404);

    // The floating IP goes with the load balancer.
    let del = sim.call("DELETE", &lb_path, None).await;
    assert_eq!(del.status, 200, "{}", del.body);
    sim.handle.shutdown().await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.lines().all(|l| !l.contains("\"injected\"")), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn injected_answers_are_marked_in_the_request_log() {
    let (dir, log) = log_dir("inj");
    let sim = start(Config {
        throttle_rate: 1.0,
        request_log: Some(log.clone()),
        ..fast()
    })
    .await;
    assert_eq!(
        sim.call("GET", &format!("{P}/kube"), None).await.status,
        429
    );
    sim.handle.shutdown().await;
    let text = std::fs::read_to_string(&log).unwrap();
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["status"], 429);
    assert_eq!(line["injected"], "throttled");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_oauth2_client_secret_never_reaches_the_request_log() {
    let (dir, log) = log_dir("secret");
    let sim = start(Config {
        request_log: Some(log.clone()),
        ..fast()
    })
    .await;
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope=all",
        sim.cfg.app_key, sim.cfg.app_secret
    );
    let r = raw(sim.addr, "POST", "/auth/oauth2/token", "", &form).await;
    assert_eq!(r.status, 200);
    sim.handle.shutdown().await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(&sim.cfg.app_secret), "{text}");
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["body"]["client_secret"], "(hidden)");
    assert_eq!(line["body"]["client_id"], sim.cfg.app_key.as_str());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Checks an answer against the schema's response model: every field the model has and no
/// other, each of its type (nested models, arrays, enums); `null` only where allowed.
fn check_answer(schema: &ovh_sim::schema::Schema, ty: &str, v: &Value, at: &str) {
    if let Some(inner) = ty.strip_suffix("[]") {
        for (i, item) in v
            .as_array()
            .unwrap_or_else(|| panic!("{at}: not a list"))
            .iter()
            .enumerate()
        {
            check_answer(schema, inner, item, &format!("{at}[{i}]"));
        }
        return;
    }
    let base = ty.split('<').next().unwrap_or(ty);
    let Some(model) = schema.models.get(ty).or_else(|| schema.models.get(base)) else {
        match ty {
            "long" => assert!(v.is_i64() || v.is_u64(), "{at}: {v} is not a long"),
            "boolean" => assert!(v.is_boolean(), "{at}: {v} is not a boolean"),
            "string" | "date" | "datetime" | "uuid" => {
                assert!(v.is_string(), "{at}: {v} is not a {ty}")
            }
            _ => {}
        }
        return;
    };
    if let Some(values) = &model.enum_values {
        assert!(values.contains(v), "{at}: {v} is not one of {values:?}");
        return;
    }
    let fields = v
        .as_object()
        .unwrap_or_else(|| panic!("{at}: {v} is not a {ty}"));
    let want: Vec<&String> = model.properties.keys().collect();
    let got: Vec<&String> = fields
        .keys()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(got, want, "{at}: the fields of {ty}");
    for (k, prop) in &model.properties {
        let item = &fields[k];
        if item.is_null() {
            assert!(prop.can_be_null, "{at}.{k} is null");
            continue;
        }
        let prop_ty = if model.generics.contains(&prop.type_name) {
            "long"
        } else {
            prop.type_name.as_str()
        };
        check_answer(schema, prop_ty, item, &format!("{at}.{k}"));
    }
}

#[tokio::test]
async fn kube_versions_are_patch_builds_and_upgrades_go_one_minor_at_a_time() {
    let sim = start(fast()).await;
    let mut body = kube_body();
    body["version"] = json!("1.32");
    let r = sim.call("POST", &format!("{P}/kube"), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The real API answers the patch build with OVH's suffix, and the next minors as minors.
    assert_eq!(r.body["version"], "1.32.9-1");
    assert_eq!(r.body["nextUpgradeVersions"], json!(["1.33"]));
    assert!(r.body["customization"]["apiServer"]["admissionPlugins"]["enabled"].is_array());
    let path = format!("{P}/kube/{}", r.body["id"].as_str().unwrap());
    let update = format!("{path}/update");
    // Not while it is being installed.
    let r = sim
        .call("POST", &update, Some(json!({"strategy": "NEXT_MINOR"})))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    wait_for(&sim, &path, "status", "READY").await;
    let r = sim
        .call("POST", &update, Some(json!({"strategy": "NEXT_MINOR"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        sim.call("GET", &path, None).await.body["status"],
        "UPDATING"
    );
    let k = wait_for(&sim, &path, "status", "READY").await;
    assert_eq!(k["version"], "1.33.5-1");
    assert_eq!(k["nextUpgradeVersions"], json!(["1.34"]));
    // The newest minor has nothing to upgrade to.
    sim.call("POST", &update, Some(json!({"strategy": "NEXT_MINOR"})))
        .await;
    let k = wait_for(&sim, &path, "status", "READY").await;
    assert_eq!(k["version"], "1.34.1-1");
    assert_eq!(k["nextUpgradeVersions"], json!([]));
    let r = sim
        .call("POST", &update, Some(json!({"strategy": "NEXT_MINOR"})))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn a_node_pool_create_answers_an_empty_project_id_and_reads_show_it() {
    let sim = start(fast()).await;
    let r = sim
        .call(
            "POST",
            &format!("{P}/kube"),
            Some(json!({"region": "GRA11", "name": "k"})),
        )
        .await;
    let kube = format!("{P}/kube/{}", r.body["id"].as_str().unwrap());
    let r = sim
        .call(
            "POST",
            &format!("{kube}/nodepool"),
            Some(json!({"name": "web", "flavorName": "b3-16"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["projectId"], "");
    assert_eq!(r.body["flavor"], "b3-16");
    assert!(r.body.get("flavorName").is_none());
    assert_eq!(r.body["status"], "INSTALLING");
    assert_eq!(r.body["sizeStatus"], "UNDER_CAPACITY");
    assert_eq!(r.body["autoscaling"]["scaleDownUnneededTimeSeconds"], 600);
    assert_eq!(r.body["autoscaling"]["scaleDownUnreadyTimeSeconds"], 1200);
    assert_eq!(r.body["autoscaling"]["scaleDownUtilizationThreshold"], 0.5);
    let got = sim
        .call(
            "GET",
            &format!("{kube}/nodepool/{}", r.body["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(got.body["projectId"], "proj1");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn database_offers_follow_the_catalogue_and_the_schema() {
    let sim = start(fast()).await;
    let schema = ovh_sim::schema::Schema::load_cached(&ovh_sim::default_schema_dir()).unwrap();
    let r = sim
        .call("GET", &format!("{P}/database/availability"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    check_answer(
        &schema,
        "cloud.project.database.Availability[]",
        &r.body,
        "availability",
    );
    let rows = r.body.as_array().unwrap();
    let offered = |engine: &str, region: &str| -> std::collections::BTreeSet<String> {
        rows.iter()
            .filter(|x| x["engine"] == engine && x["region"] == region)
            .map(|x| {
                format!(
                    "{}/{}",
                    x["plan"].as_str().unwrap(),
                    x["flavor"].as_str().unwrap()
                )
            })
            .collect()
    };
    // A 3-AZ region sells PostgreSQL production/advanced on b3 (plan codes ending .3az), no
    // Gen 2 plan; Valkey only as production on b3.
    let par = offered("postgresql", "EU-WEST-PAR");
    assert!(
        par.contains("production/b3-32") && par.contains("advanced/b3-64"),
        "{par:?}"
    );
    assert!(
        par.iter()
            .all(|p| p.starts_with("production/b3-") || p.starts_with("advanced/b3-")),
        "{par:?}"
    );
    assert!(
        rows.iter()
            .filter(|x| x["region"] == "EU-WEST-PAR")
            .all(|x| x["planCode"].as_str().unwrap().ends_with(".3az"))
    );
    let valkey = offered("valkey", "EU-WEST-PAR");
    assert!(
        valkey.iter().all(|p| p.starts_with("production/b3-"))
            && valkey.contains("production/b3-16")
    );
    // A 1-AZ region still sells the Gen 2 plans.
    let gra = offered("postgresql", "GRA11");
    assert!(
        gra.contains("essential/db1-7") && gra.contains("enterprise/db1-30"),
        "{gra:?}"
    );
    assert!(
        !gra.contains("essential/db1-60"),
        "essential stops at db1-30"
    );
    let advanced = rows.iter().find(|x| x["plan"] == "advanced").unwrap();
    assert_eq!(
        (
            advanced["minNodeNumber"].as_i64(),
            advanced["maxNodeNumber"].as_i64()
        ),
        (Some(3), Some(3))
    );
    let r = sim
        .call("GET", &format!("{P}/database/capabilities"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    check_answer(
        &schema,
        "cloud.project.database.Capabilities",
        &r.body,
        "capabilities",
    );
    let pg = r.body["engines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "postgresql")
        .unwrap();
    assert!(pg["versions"].as_array().unwrap().contains(&json!("16")));
    let r = sim
        .call(
            "GET",
            &format!("{P}/capabilities/kube/flavors?region=EU-WEST-PAR"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    check_answer(&schema, "cloud.kube.Flavor[]", &r.body, "flavors");
    let names: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"b3-32") && !names.contains(&"b2-30"),
        "{names:?}"
    );
    let r = sim
        .call(
            "GET",
            &format!("{P}/capabilities/kube/flavors?region=GRA11"),
            None,
        )
        .await;
    assert!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "b2-30")
    );
    // The API description is served without authentication, with the Kubernetes versions.
    let r = raw(sim.addr, "GET", "/v1/cloud.json", "", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["models"]["cloud.kube.VersionEnum"]["enum"],
        json!(ovh_sim::api::KUBE_MINORS)
    );
    sim.handle.shutdown().await;
}
