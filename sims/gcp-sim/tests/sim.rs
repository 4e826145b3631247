//! End-to-end tests of the simulator over HTTP, with a minimal HTTP/1.1 client.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gcp_sim::{Config, Handle, Urls, serve};
use serde_json::{Value, json};

struct Sim {
    urls: Urls,
    handle: Handle,
    token: String,
}

#[derive(Debug)]
struct Resp {
    status: u16,
    body: Value,
}

fn b64url(bytes: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An (unsigned, but well-formed) service-account JWT assertion.
fn assertion(token_url: &str, exp: i64) -> String {
    let header = b64url(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = b64url(
        json!({"iss": "ss-test@sim-project.iam.gserviceaccount.com", "aud": token_url,
               "scope": "https://www.googleapis.com/auth/cloud-platform",
               "iat": now(), "exp": exp})
        .to_string()
        .as_bytes(),
    );
    format!("{header}.{payload}.{}", b64url(b"not-a-real-signature"))
}

fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").unwrap();
    match rest.split_once('/') {
        Some((host, path)) => (host.to_string(), format!("/{path}")),
        None => (rest.to_string(), String::new()),
    }
}

async fn raw(url: &str, method: &str, target: &str, headers: &str, body: &str) -> Resp {
    let (host, prefix) = split_url(url);
    let answer = sim_kit::client::send(&host, method, &format!("{prefix}{target}"), headers, body)
        .await
        .unwrap();
    let body = if answer.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&answer.body).unwrap()
    };
    Resp {
        status: answer.status,
        body,
    }
}

async fn get_token(urls: &Urls, exp: i64) -> Resp {
    let form = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={}",
        assertion(&urls.token, exp)
    );
    raw(
        &urls.token,
        "POST",
        "",
        "Content-Type: application/x-www-form-urlencoded\r\n",
        &form,
    )
    .await
}

async fn start(mut cfg: Config) -> Sim {
    if cfg.seed.is_none() {
        cfg.seed = Some(7);
    }
    let (urls, handle) = serve(cfg).await.unwrap();
    let t = get_token(&urls, now() + 3600).await;
    assert_eq!(t.status, 200, "{:?}", t.body);
    assert_eq!(t.body["token_type"], "Bearer");
    let token = t.body["access_token"].as_str().unwrap().to_string();
    Sim {
        urls,
        handle,
        token,
    }
}

fn fast() -> Config {
    Config {
        delay: Duration::from_millis(40),
        ..Config::default()
    }
}

impl Sim {
    async fn call(&self, base: &str, method: &str, target: &str, body: Option<Value>) -> Resp {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let headers = format!(
            "Authorization: Bearer {}\r\nContent-Type: application/json\r\n",
            self.token
        );
        raw(base, method, target, &headers, &body).await
    }

    async fn objects(&self) -> Value {
        let (host, _) = split_url(&self.urls.token);
        raw(&format!("http://{host}"), "GET", "/_sim/objects", "", "")
            .await
            .body
    }

    /// Polls an operation by its `selfLink` (or Redis name) until it is done.
    async fn wait_done(&self, base: &str, op_path: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = self.call(base, "GET", op_path, None).await;
            assert_eq!(r.status, 200, "{op_path}: {:?}", r.body);
            if r.body["status"] == "DONE" || r.body["done"] == true {
                return r.body;
            }
            assert!(Instant::now() < deadline, "{op_path} never done");
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    }
}

/// The path of a link under its base URL.
fn path_of(link: &Value, base: &str) -> String {
    link.as_str()
        .unwrap()
        .strip_prefix(base)
        .unwrap()
        .to_string()
}

/// A simulator logging its requests to a fresh file named after `name`, and that file.
async fn start_logged(name: &str) -> (Sim, PathBuf) {
    let log = std::env::temp_dir().join(format!("gcp-sim-{name}-{}.log", std::process::id()));
    let sim = start(Config {
        request_log: Some(log.clone()),
        ..fast()
    })
    .await;
    (sim, log)
}

/// Stops a simulator from `start_logged` and removes its log.
async fn stop_logged(sim: Sim, log: &Path) {
    sim.handle.shutdown().await;
    let _ = std::fs::remove_file(log);
}

fn read_log(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn missing_schema_dir_is_a_clear_error() {
    let cfg = Config {
        schema_dir: "/nonexistent/gcp".into(),
        ..Config::default()
    };
    let e = serve(cfg).await.err().unwrap();
    assert!(
        e.contains("/nonexistent/gcp") && e.contains("--schema-dir"),
        "{e}"
    );
}

#[tokio::test]
async fn authentication() {
    let sim = start(fast()).await;
    let path = "/compute/v1/projects/p/global/networks";
    let r = raw(&sim.urls.compute, "GET", path, "", "").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["code"], 401);
    let r = raw(
        &sim.urls.compute,
        "GET",
        path,
        "Authorization: Bearer forged\r\n",
        "",
    )
    .await;
    assert_eq!(r.status, 401);
    let r = sim.call(&sim.urls.compute, "GET", path, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["kind"], "compute#networkList");
    // Expired assertion, wrong grant, malformed JWT.
    assert_eq!(get_token(&sim.urls, now() - 10).await.status, 400);
    let bad = raw(
        &sim.urls.token,
        "POST",
        "",
        "",
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(bad.body["error"], "unsupported_grant_type");
    let bad = raw(
        &sim.urls.token,
        "POST",
        "",
        "",
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=abc",
    )
    .await;
    assert_eq!(bad.status, 400);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn invalid_requests_are_400() {
    let sim = start(fast()).await;
    let c = &sim.urls.compute;
    let cases = [
        ("GET", "/compute/v1/projects/p/global/nosuch", None),
        ("GET", "/v1/projects/p/global/networks", None),
        (
            "PUT",
            "/compute/v1/projects/p/global/networks",
            Some(json!({"name": "n"})),
        ),
        (
            "POST",
            "/compute/v1/projects/p/global/networks",
            Some(json!({"name": "n", "colour": "red"})),
        ),
        (
            "POST",
            "/compute/v1/projects/p/global/networks",
            Some(json!({"name": "n", "mtu": "big"})),
        ),
        (
            "POST",
            "/compute/v1/projects/p/global/networks",
            Some(json!({"name": "n", "routingConfig": {"routingMode": "SIDEWAYS"}})),
        ),
        (
            "POST",
            "/compute/v1/projects/p/global/networks?bogus=1",
            Some(json!({"name": "n"})),
        ),
        (
            "POST",
            "/compute/v1/projects/p/global/networks?requestId=not-a-uuid",
            Some(json!({"name": "n"})),
        ),
        (
            "POST",
            "/compute/v1/projects/p/global/networks",
            Some(json!({"name": "Bad_Name"})),
        ),
    ];
    for (m, p, b) in cases {
        let r = sim.call(c, m, p, b.clone()).await;
        assert_eq!(r.status, 400, "{m} {p} {b:?}: {:?}", r.body);
        assert_eq!(r.body["error"]["code"], 400);
        assert!(r.body["error"]["errors"][0]["message"].is_string());
    }
    // Nothing was created; unknown names are 404.
    let r = sim
        .call(c, "GET", "/compute/v1/projects/p/global/networks/n", None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["error"]["errors"][0]["reason"], "notFound");
    // A valid method the simulator does not implement.
    let r = sim
        .call(c, "GET", "/compute/v1/projects/p/zones/z/instances", None)
        .await;
    assert_eq!(r.status, 501, "{:?}", r.body);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn compute_operations_start_running() {
    let sim = start(Config {
        delay: Duration::from_millis(150),
        ..Config::default()
    })
    .await;
    let c = &sim.urls.compute;
    let r = sim
        .call(c, "POST", "/compute/v1/projects/p/global/networks", Some(json!({"name": "net", "autoCreateSubnetworks": false, "id": "1", "selfLink": "forged"})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["kind"], "compute#operation");
    // Answered RUNNING, as every real compute mutation answer is.
    assert_eq!(r.body["status"], "RUNNING");
    assert_eq!(r.body["progress"], 0);
    assert!(r.body["startTime"].is_string() && r.body.get("endTime").is_none());
    assert_eq!(r.body["operationType"], "insert");
    let op = path_of(&r.body["selfLink"], c);
    assert!(
        op.starts_with("/compute/v1/projects/p/global/operations/operation-"),
        "{op}"
    );
    let mut seen = vec!["RUNNING".to_string()];
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.last().unwrap() != "DONE" {
        let s = sim.call(c, "GET", &op, None).await.body["status"]
            .as_str()
            .unwrap()
            .to_string();
        if seen.last() != Some(&s) {
            seen.push(s);
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, ["RUNNING", "DONE"]);
    let n = sim
        .call(c, "GET", "/compute/v1/projects/p/global/networks/net", None)
        .await;
    assert_eq!(n.status, 200);
    // Output-only fields sent by the client did not override the server's.
    assert_ne!(n.body["id"], "1");
    assert!(n.body["id"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(
        n.body["selfLink"],
        format!("{c}/compute/v1/projects/p/global/networks/net")
    );
    assert!(n.body["creationTimestamp"].is_string());
    // Create again: 409.
    let again = sim
        .call(
            c,
            "POST",
            "/compute/v1/projects/p/global/networks",
            Some(json!({"name": "net"})),
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body["error"]["errors"][0]["reason"], "alreadyExists");
    // wait blocks until done.
    let d = sim
        .call(
            c,
            "DELETE",
            "/compute/v1/projects/p/global/networks/net",
            None,
        )
        .await;
    assert_eq!(d.status, 200);
    let op = path_of(&d.body["selfLink"], c);
    let t = Instant::now();
    let w = sim.call(c, "POST", &format!("{op}/wait"), None).await;
    assert_eq!(w.body["status"], "DONE");
    assert!(t.elapsed() >= Duration::from_millis(100));
    let gone = sim
        .call(c, "GET", "/compute/v1/projects/p/global/networks/net", None)
        .await;
    assert_eq!(gone.status, 404);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn request_id_deduplicates() {
    let sim = start(fast()).await;
    let c = &sim.urls.compute;
    let p =
        "/compute/v1/projects/p/global/healthChecks?requestId=0b5b8a3e-1234-4000-8000-000000000001";
    let body = json!({"name": "hc", "type": "HTTP", "httpHealthCheck": {"port": 80, "requestPath": "/health"}});
    let a = sim.call(c, "POST", p, Some(body.clone())).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let b = sim.call(c, "POST", p, Some(body.clone())).await;
    assert_eq!(b.status, 200, "{:?}", b.body);
    assert_eq!(a.body["name"], b.body["name"]);
    let other = sim
        .call(c, "POST", "/compute/v1/projects/p/global/healthChecks?requestId=0b5b8a3e-1234-4000-8000-000000000002", Some(body))
        .await;
    assert_eq!(other.status, 409);
    let objs = sim.objects().await;
    let n = objs["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "compute:healthChecks")
        .count();
    assert_eq!(n, 1);
    let ops = objs["operations"].as_array().unwrap().len();
    assert_eq!(ops, 1);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn fail_rate_creates_behind_a_500() {
    let sim = start(Config {
        fail_rate: 1.0,
        seed: Some(3),
        ..fast()
    })
    .await;
    let c = &sim.urls.compute;
    let mut statuses = Vec::new();
    for i in 0..16 {
        let r = sim
            .call(
                c,
                "POST",
                "/compute/v1/projects/p/global/networks",
                Some(json!({"name": format!("n{i}")})),
            )
            .await;
        statuses.push(r.status);
        assert!(matches!(r.status, 500 | 503), "{:?}", r.body);
        assert_eq!(r.body["error"]["errors"][0]["reason"], "backendError");
    }
    // GETs are not failed.
    let list = sim
        .call(c, "GET", "/compute/v1/projects/p/global/networks", None)
        .await;
    assert_eq!(list.status, 200);
    let created = list.body["items"].as_array().unwrap().len();
    assert!(
        created > 0 && created < 16,
        "{created} of 16 created behind a failure"
    );
    let objs = sim.objects().await;
    assert_eq!(objs["objects"].as_array().unwrap().len(), created);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn throttle_rate_answers_429() {
    let sim = start(Config {
        throttle_rate: 1.0,
        ..fast()
    })
    .await;
    let r = sim
        .call(
            &sim.urls.redis,
            "GET",
            "/v1/projects/p/locations/l/clusters",
            None,
        )
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["error"]["status"], "RESOURCE_EXHAUSTED");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn compute_network_and_subnetwork() {
    let (sim, log) = start_logged("net").await;
    let c = &sim.urls.compute;
    let r = sim
        .call(
            c,
            "POST",
            "/compute/v1/projects/p/global/networks",
            Some(json!({"name": "vpc", "autoCreateSubnetworks": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    sim.wait_done(c, &path_of(&r.body["selfLink"], c)).await;
    let sub = json!({"name": "sub", "network": "projects/p/global/networks/vpc", "ipCidrRange": "10.0.0.0/20",
                     "secondaryIpRanges": [{"rangeName": "pods", "ipCidrRange": "10.4.0.0/14"}]});
    let r = sim
        .call(
            c,
            "POST",
            "/compute/v1/projects/p/regions/europe-west1/subnetworks",
            Some(sub),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(
        r.body["region"]
            .as_str()
            .unwrap()
            .ends_with("/regions/europe-west1")
    );
    let op = path_of(&r.body["selfLink"], c);
    assert!(op.starts_with("/compute/v1/projects/p/regions/europe-west1/operations/"));
    sim.wait_done(c, &op).await;
    let s = sim
        .call(
            c,
            "GET",
            "/compute/v1/projects/p/regions/europe-west1/subnetworks/sub",
            None,
        )
        .await;
    assert_eq!(s.body["gatewayAddress"], "10.0.0.1");
    assert_eq!(
        s.body["network"],
        format!("{c}/compute/v1/projects/p/global/networks/vpc")
    );
    // An overlapping range and a missing network are refused.
    let r = sim
        .call(c, "POST", "/compute/v1/projects/p/regions/europe-west1/subnetworks", Some(json!({"name": "sub2", "network": "global/networks/vpc", "ipCidrRange": "10.0.8.0/24"})))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = sim
        .call(c, "POST", "/compute/v1/projects/p/regions/europe-west1/subnetworks", Some(json!({"name": "sub3", "network": "global/networks/nope", "ipCidrRange": "10.9.0.0/24"})))
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let n = sim
        .call(c, "GET", "/compute/v1/projects/p/global/networks/vpc", None)
        .await;
    assert_eq!(n.body["subnetworks"].as_array().unwrap().len(), 1);
    // The network is in use.
    let r = sim
        .call(
            c,
            "DELETE",
            "/compute/v1/projects/p/global/networks/vpc",
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let r = sim
        .call(
            c,
            "DELETE",
            "/compute/v1/projects/p/regions/europe-west1/subnetworks/sub",
            None,
        )
        .await;
    sim.wait_done(c, &path_of(&r.body["selfLink"], c)).await;
    let r = sim
        .call(
            c,
            "DELETE",
            "/compute/v1/projects/p/global/networks/vpc",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    sim.wait_done(c, &path_of(&r.body["selfLink"], c)).await;
    assert_eq!(sim.objects().await["objects"], json!([]));

    let lines = read_log(&log);
    assert!(
        lines
            .iter()
            .all(|l| l["api"].is_string() && l["status"].is_u64())
    );
    assert_eq!(lines[0]["api"], "token");
    assert!(lines.iter().any(|l| l["api"] == "compute"
        && l["method"] == "POST"
        && l["path"] == "/compute/v1/projects/p/regions/europe-west1/subnetworks"
        && l["body"]["ipCidrRange"] == "10.0.0.0/20"
        && l["status"] == 200));
    assert!(
        lines
            .iter()
            .any(|l| l["method"] == "DELETE" && l["status"] == 400)
    );
    stop_logged(sim, &log).await;
}

/// Sends a compute mutation, checks it is answered with an operation `RUNNING` (as every real
/// compute mutation answer is, `setLabels` excepted), waits for it and returns that answer.
async fn compute_op(sim: &Sim, method: &str, path: &str, body: Value) -> Value {
    let c = &sim.urls.compute;
    let r = sim.call(c, method, path, Some(body)).await;
    assert_eq!(r.status, 200, "{method} {path}: {:?}", r.body);
    assert_eq!(r.body["status"], "RUNNING", "{:?}", r.body);
    assert_eq!(r.body["progress"], 0);
    assert!(r.body.get("endTime").is_none());
    let done = sim.wait_done(c, &path_of(&r.body["selfLink"], c)).await;
    assert!(done["endTime"].is_string());
    r.body
}

/// A compute GET that must succeed.
async fn compute_get(sim: &Sim, path: &str) -> Value {
    let r = sim.call(&sim.urls.compute, "GET", path, None).await;
    assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    r.body
}

#[tokio::test]
async fn compute_networks_and_addresses_answer_as_recorded() {
    // No delay: even an operation already done is answered RUNNING first.
    let sim = start(Config {
        delay: Duration::ZERO,
        ..Config::default()
    })
    .await;
    let c = &sim.urls.compute;
    let g = "/compute/v1/projects/p/global";
    compute_op(
        &sim,
        "POST",
        &format!("{g}/networks"),
        json!({"name": "vpc", "autoCreateSubnetworks": false, "enableUlaInternalIpv6": false,
               "routingConfig": {"routingMode": "GLOBAL"}}),
    )
    .await;
    let n = compute_get(&sim, &format!("{g}/networks/vpc")).await;
    // As `compute/computenetworkbasic@…`: no mtu, no empty subnetworks, no false ULA flag,
    // the BGP mode added to the given routing config, a link by id.
    for absent in ["mtu", "subnetworks", "enableUlaInternalIpv6", "peerings"] {
        assert!(n.get(absent).is_none(), "{absent}: {n}");
    }
    assert_eq!(
        n["routingConfig"],
        json!({"routingMode": "GLOBAL", "bgpBestPathSelectionMode": "LEGACY"})
    );
    assert_eq!(
        n["selfLinkWithId"],
        format!("{c}{g}/networks/{}", n["id"].as_str().unwrap())
    );
    let op = compute_op(
        &sim,
        "PATCH",
        &format!("{g}/networks/vpc"),
        json!({"enableUlaInternalIpv6": true}),
    )
    .await;
    assert_eq!(op["operationType"], "updateNetwork");
    let n = compute_get(&sim, &format!("{g}/networks/vpc")).await;
    assert!(n["internalIpv6Range"].as_str().unwrap().ends_with("/48"));

    // VPC_PEERING ranges: allocated, disjoint, labels only through setLabels.
    let mut ranges = Vec::new();
    for name in ["psa", "psa2"] {
        compute_op(
            &sim,
            "POST",
            &format!("{g}/addresses"),
            json!({"name": name, "purpose": "VPC_PEERING", "addressType": "INTERNAL", "prefixLength": 16,
                   "network": "projects/p/global/networks/vpc", "labels": {"a": "b"}}),
        )
        .await;
        let a = compute_get(&sim, &format!("{g}/addresses/{name}")).await;
        assert_eq!(a["kind"], "compute#address");
        assert_eq!(a["purpose"], "VPC_PEERING");
        assert_eq!(a["addressType"], "INTERNAL");
        assert_eq!(a["prefixLength"], 16);
        assert_eq!(a["status"], "RESERVED");
        assert_eq!(a["networkTier"], "PREMIUM");
        assert_eq!(a["description"], "");
        assert_eq!(a["network"], format!("{c}{g}/networks/vpc"));
        assert!(a.get("labels").is_none(), "{a}");
        assert!(a["labelFingerprint"].is_string());
        let address = a["address"].as_str().unwrap().to_string();
        assert!(
            address.starts_with("10.") && address.ends_with(".0.0"),
            "{address}"
        );
        ranges.push(address);
    }
    assert_ne!(ranges[0], ranges[1]);
    // setLabels needs the current label fingerprint (412 with the real text otherwise) and is
    // answered DONE.
    let set_labels = format!("{g}/addresses/psa/setLabels");
    let r = sim
        .call(
            c,
            "POST",
            &set_labels,
            Some(json!({"labels": {"team": "data"}, "labelFingerprint": "abcdef0123A="})),
        )
        .await;
    assert_eq!(r.status, 412, "{:?}", r.body);
    assert_eq!(
        r.body["error"]["message"],
        "Labels fingerprint either invalid or resource labels have changed"
    );
    assert_eq!(r.body["error"]["errors"][0]["reason"], "conditionNotMet");
    let current =
        compute_get(&sim, &format!("{g}/addresses/psa")).await["labelFingerprint"].clone();
    let r = sim
        .call(
            c,
            "POST",
            &set_labels,
            Some(json!({"labels": {"team": "data"}, "labelFingerprint": current})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["operationType"], "setLabels");
    assert_eq!(r.body["status"], "DONE");
    assert!(r.body["endTime"].is_string());
    let a = compute_get(&sim, &format!("{g}/addresses/psa")).await;
    assert_eq!(a["labels"], json!({"team": "data"}));

    // The network is in use by its ranges: a compute-shaped 400, no `status`.
    let r = sim
        .call(c, "DELETE", &format!("{g}/networks/vpc"), None)
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"].get("status").is_none(), "{:?}", r.body);
    assert_eq!(
        r.body["error"]["errors"][0]["reason"],
        "resourceInUseByAnotherResource"
    );
    assert_eq!(
        r.body["error"]["message"],
        "The network resource 'projects/p/global/networks/vpc' is already being used by 'projects/p/global/addresses/psa'"
    );

    // The project number names the project too; projects.get answers it as `id`.
    let number = gcp_sim::api::project_number("p");
    let proj = compute_get(&sim, "/compute/v1/projects/p").await;
    assert_eq!(proj["id"], number);
    let r = sim
        .call(
            c,
            "POST",
            &format!("/compute/v1/projects/{number}/global/networks/vpc/removePeering"),
            Some(json!({"name": "servicenetworking-googleapis-com"})),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no peering named 'servicenetworking-googleapis-com'")
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn compute_load_balancer_answers_as_recorded() {
    let sim = start(fast()).await;
    let c = &sim.urls.compute;
    let g = "/compute/v1/projects/p/global";
    compute_op(
        &sim,
        "POST",
        &format!("{g}/healthChecks"),
        json!({"name": "hc", "type": "HTTP", "httpHealthCheck": {"port": 80}}),
    )
    .await;
    let hc = compute_get(&sim, &format!("{g}/healthChecks/hc")).await;
    assert_eq!(
        hc["httpHealthCheck"],
        json!({"port": 80, "proxyHeader": "NONE", "requestPath": "/"})
    );
    // `enableCDN` is answered false on an EXTERNAL_MANAGED service and absent on a classic
    // EXTERNAL HTTP one, as the real logs show; IAP's secret comes back as its SHA-256.
    for (name, scheme) in [("be", "EXTERNAL_MANAGED"), ("classic", "EXTERNAL")] {
        compute_op(
            &sim,
            "POST",
            &format!("{g}/backendServices"),
            json!({"name": name, "loadBalancingScheme": scheme, "healthChecks": [format!("{g}/healthChecks/hc")],
                   "iap": {"enabled": false, "oauth2ClientId": "", "oauth2ClientSecret": ""}}),
        )
        .await;
    }
    let be = compute_get(&sim, &format!("{g}/backendServices/be")).await;
    assert_eq!(be["enableCDN"], false);
    assert_eq!(be["description"], "");
    assert_eq!(
        be["iap"],
        json!({"enabled": false, "oauth2ClientId": "",
               "oauth2ClientSecretSha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})
    );
    let classic = compute_get(&sim, &format!("{g}/backendServices/classic")).await;
    assert!(classic.get("enableCDN").is_none(), "{classic}");
    compute_op(
        &sim,
        "POST",
        &format!("{g}/backendBuckets"),
        json!({"name": "bucket", "bucketName": "b"}),
    )
    .await;
    assert_eq!(
        compute_get(&sim, &format!("{g}/backendBuckets/bucket")).await["enableCdn"],
        false
    );
    let routed = json!({"name": "um", "defaultService": format!("{g}/backendServices/be"),
        "hostRules": [{"hosts": ["example.com"], "pathMatcher": "all"}],
        "pathMatchers": [{"name": "all", "defaultService": "global/backendBuckets/bucket"}]});
    compute_op(&sim, "POST", &format!("{g}/urlMaps"), routed).await;
    let um = compute_get(&sim, &format!("{g}/urlMaps/um")).await;
    assert_eq!(
        um["pathMatchers"][0]["defaultService"],
        format!("{c}{g}/backendBuckets/bucket")
    );
    assert!(um["status"]["quotaUsage"]["units"].is_string());
    let be = compute_get(&sim, &format!("{g}/backendServices/be")).await;
    assert_eq!(
        be["usedBy"],
        json!([{"reference": format!("{c}{g}/urlMaps/um")}])
    );
    // The three refusals of `compute/globalcomputeurlmap@…`, word for word.
    let number = gcp_sim::api::project_number("p");
    for (path, message) in [
        (
            "healthChecks/hc",
            format!(
                "The health_check resource 'GLOBAL:global/PROJECT:{number}/HEALTH_CHECK:hc' is already being used by 'GLOBAL:global/PROJECT:{number}/BACKEND_SERVICE:be'"
            ),
        ),
        (
            "backendBuckets/bucket",
            "The backend_bucket resource 'projects/p/global/backendBuckets/bucket' is already being used by 'projects/p/global/urlMaps/um'".to_string(),
        ),
        (
            "backendServices/be",
            "The backend_service resource 'projects/p/global/backendServices/be' is already being used by 'projects/p/global/urlMaps/um'".to_string(),
        ),
    ] {
        let r = sim.call(c, "DELETE", &format!("{g}/{path}"), None).await;
        assert_eq!(r.status, 400, "{path}");
        // The whole body, as recorded: no `status` in Compute's envelope.
        assert_eq!(
            r.body,
            json!({"error": {"code": 400, "message": message,
                "errors": [{"message": message, "domain": "global", "reason": "resourceInUseByAnotherResource"}]}})
        );
    }
    // PUT replaces the map: the routing is gone, and so is its quota status.
    let op = compute_op(
        &sim,
        "PUT",
        &format!("{g}/urlMaps/um"),
        json!({"name": "um", "defaultService": format!("{g}/backendServices/be"), "fingerprint": um["fingerprint"]}),
    )
    .await;
    assert_eq!(op["operationType"], "update");
    let um = compute_get(&sim, &format!("{g}/urlMaps/um")).await;
    assert!(
        um.get("pathMatchers").is_none() && um.get("status").is_none(),
        "{um}"
    );

    // Proxies: no quicOverride on HTTP; HTTPS answers quicOverride and tlsEarlyData.
    compute_op(
        &sim,
        "POST",
        &format!("{g}/targetHttpProxies"),
        json!({"name": "http", "urlMap": "projects/p/global/urlMaps/um"}),
    )
    .await;
    let http = compute_get(&sim, &format!("{g}/targetHttpProxies/http")).await;
    assert!(http.get("quicOverride").is_none(), "{http}");
    compute_op(
        &sim,
        "POST",
        &format!("{g}/sslCertificates"),
        json!({"name": "cert", "certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
               "privateKey": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"}),
    )
    .await;
    let cert = compute_get(&sim, &format!("{g}/sslCertificates/cert")).await;
    assert!(cert.get("privateKey").is_none());
    assert_eq!(cert["type"], "SELF_MANAGED");
    assert_eq!(cert["selfManaged"]["certificate"], cert["certificate"]);
    assert!(cert["expireTime"].is_string());
    compute_op(
        &sim,
        "POST",
        &format!("{g}/targetHttpsProxies"),
        json!({"name": "https", "urlMap": "projects/p/global/urlMaps/um",
               "sslCertificates": ["projects/p/global/sslCertificates/cert"]}),
    )
    .await;
    let https = compute_get(&sim, &format!("{g}/targetHttpsProxies/https")).await;
    assert_eq!(https["quicOverride"], "NONE");
    assert_eq!(https["tlsEarlyData"], "DISABLED");
    assert_eq!(
        https["sslCertificates"],
        json!([format!("{c}{g}/sslCertificates/cert")])
    );
    let op = compute_op(
        &sim,
        "POST",
        &format!("{g}/targetHttpsProxies/https/setQuicOverride"),
        json!({"quicOverride": "ENABLE"}),
    )
    .await;
    assert_eq!(
        op["operationType"],
        "compute.targetHttpsProxies.setQuicOverride"
    );
    // setUrlMap's path has no `global/` (its discovery flatPath); its operation is global.
    compute_op(
        &sim,
        "POST",
        &format!("{g}/urlMaps"),
        json!({"name": "um2", "defaultService": format!("{g}/backendServices/be")}),
    )
    .await;
    let op = compute_op(
        &sim,
        "POST",
        "/compute/v1/projects/p/targetHttpsProxies/https/setUrlMap",
        json!({"urlMap": "projects/p/global/urlMaps/um2"}),
    )
    .await;
    assert_eq!(op["operationType"], "SetUrlMap");
    assert!(
        op["selfLink"]
            .as_str()
            .unwrap()
            .contains("/global/operations/")
    );
    let https = compute_get(&sim, &format!("{g}/targetHttpsProxies/https")).await;
    assert_eq!(https["quicOverride"], "ENABLE");
    assert_eq!(https["urlMap"], format!("{c}{g}/urlMaps/um2"));

    // A global forwarding rule: one port comes back as a range, labels only via setLabels.
    compute_op(
        &sim,
        "POST",
        &format!("{g}/forwardingRules"),
        json!({"name": "fr", "portRange": "110", "IPProtocol": "TCP", "labels": {"a": "b"},
               "target": format!("{c}{g}/targetHttpProxies/http")}),
    )
    .await;
    let fr = compute_get(&sim, &format!("{g}/forwardingRules/fr")).await;
    assert_eq!(fr["portRange"], "110-110");
    assert!(
        fr.get("labels").is_none() && fr.get("ipVersion").is_none(),
        "{fr}"
    );
    let op = compute_op(
        &sim,
        "POST",
        &format!("{g}/forwardingRules/fr/setTarget"),
        json!({"target": format!("{g}/targetHttpsProxies/https")}),
    )
    .await;
    assert_eq!(op["operationType"], "SetTarget");
    let fr = compute_get(&sim, &format!("{g}/forwardingRules/fr")).await;
    assert_eq!(fr["target"], format!("{c}{g}/targetHttpsProxies/https"));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn compute_origin_header_caching_refuses_ttls() {
    let sim = start(fast()).await;
    let c = &sim.urls.compute;
    let g = "/compute/v1/projects/p/global";
    compute_op(
        &sim,
        "POST",
        &format!("{g}/healthChecks"),
        json!({"name": "hc", "type": "HTTP", "httpHealthCheck": {"port": 80}}),
    )
    .await;
    let mut be = json!({"name": "be", "loadBalancingScheme": "EXTERNAL_MANAGED", "enableCDN": true,
        "healthChecks": [format!("{g}/healthChecks/hc")],
        "cdnPolicy": {"cacheMode": "USE_ORIGIN_HEADERS", "defaultTtl": 3600}});
    let r = sim
        .call(c, "POST", &format!("{g}/backendServices"), Some(be.clone()))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(
        r.body["error"]["message"],
        "Invalid value for field 'resource.cdnPolicy.defaultTtl': '3600'. default_ttl cannot be specified with USE_ORIGIN_HEADERS cache_mode."
    );
    assert_eq!(r.body["error"]["errors"][0]["reason"], "invalid");
    be["cdnPolicy"] = json!({"cacheMode": "USE_ORIGIN_HEADERS"});
    compute_op(&sim, "POST", &format!("{g}/backendServices"), be).await;
    let got = compute_get(&sim, &format!("{g}/backendServices/be")).await;
    assert_eq!(got["cdnPolicy"]["cacheMode"], "USE_ORIGIN_HEADERS");
    for ttl in ["defaultTtl", "maxTtl", "clientTtl"] {
        assert!(got["cdnPolicy"].get(ttl).is_none(), "{ttl}: {got}");
    }
    let r = sim
        .call(
            c,
            "PATCH",
            &format!("{g}/backendServices/be"),
            Some(json!({"cdnPolicy": {"cacheMode": "USE_ORIGIN_HEADERS", "maxTtl": 86400}})),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(
        r.body["error"]["message"],
        "Invalid value for field 'resource.cdnPolicy.maxTtl': '86400'. max_ttl cannot be specified with USE_ORIGIN_HEADERS cache_mode."
    );
    sim.handle.shutdown().await;
}

/// A GKE answer is valid against the v1 discovery schema it is documented with.
fn assert_v1(schema: &str, body: &Value) {
    let d = gcp_sim::discovery::Discovery::load_cached(&gcp_sim::default_schema_dir()).unwrap();
    let doc = d.doc(gcp_sim::discovery::Api::Container).unwrap();
    assert_eq!(
        gcp_sim::validate::check_body(doc, schema, body),
        Ok(()),
        "{schema}: {body}"
    );
}

/// Creates a zonal cluster `c` in `parent` and waits for it.
async fn gke_cluster(sim: &Sim, parent: &str) {
    let g = &sim.urls.container;
    let r = sim
        .call(
            g,
            "POST",
            &format!("{parent}/clusters"),
            Some(json!({"cluster": {"name": "c", "initialNodeCount": 1}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    sim.wait_done(g, &path_of(&r.body["selfLink"], g)).await;
}

#[tokio::test]
async fn gke_answers_have_the_recorded_shapes() {
    let sim = start(fast()).await;
    let g = &sim.urls.container;
    let parent = "/v1/projects/p/locations/us-central1-a";
    // A zonal cluster's 404 names it under `zones/`, as the real API does.
    let r = sim
        .call(g, "GET", &format!("{parent}/clusters/c"), None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body["error"]["message"],
        "Not found: projects/p/zones/us-central1-a/clusters/c."
    );
    assert_eq!(r.body["error"]["errors"][0]["reason"], "notFound");
    let r = sim
        .call(
            g,
            "POST",
            &format!("{parent}/clusters"),
            Some(json!({"cluster": {"name": "c", "initialNodeCount": 1,
                "autopilot": {"enabled": false}, "legacyAbac": {"enabled": false},
                "ipAllocationPolicy": {"useIpAliases": false, "stackType": "IPV4"},
                "nodeConfig": {"machineType": "n4-standard-2"}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // A cluster operation is answered RUNNING, with the project number in its links.
    assert_eq!(r.body["status"], "RUNNING");
    assert_eq!(r.body["zone"], "us-central1-a");
    assert!(r.body.get("endTime").is_none() && r.body.get("location").is_none());
    let number = gcp_sim::api::project_number("p");
    assert!(
        r.body["targetLink"].as_str().unwrap().ends_with(&format!(
            "/v1/projects/{number}/zones/us-central1-a/clusters/c"
        )),
        "{}",
        r.body
    );
    assert_v1("Operation", &r.body);
    let done = sim.wait_done(g, &path_of(&r.body["selfLink"], g)).await;
    assert_eq!(
        done["progress"]["metrics"][0]["name"],
        "CLUSTER_CONFIGURING"
    );
    assert!(done["endTime"].is_string());
    let c = sim
        .call(g, "GET", &format!("{parent}/clusters/c"), None)
        .await;
    assert_eq!(c.status, 200);
    assert_v1("Cluster", &c.body);
    // Zero values sent are not echoed; server-side defaults are filled in.
    assert_eq!(c.body["autopilot"], json!({}));
    assert_eq!(c.body["legacyAbac"], json!({}));
    assert_eq!(c.body["ipAllocationPolicy"]["useIpAliases"], true);
    assert_eq!(c.body["locations"], json!(["us-central1-a"]));
    assert_eq!(c.body["releaseChannel"]["channel"], "REGULAR");
    assert_eq!(c.body["network"], "default");
    assert!(
        c.body["selfLink"]
            .as_str()
            .unwrap()
            .ends_with("/v1/projects/p/zones/us-central1-a/clusters/c")
    );
    // N4 machines attach Hyperdisk only.
    assert_eq!(c.body["nodeConfig"]["diskType"], "hyperdisk-balanced");
    let pool = &c.body["nodePools"][0];
    assert_eq!(pool["name"], "default-pool");
    assert_eq!(pool["instanceGroupUrls"].as_array().unwrap().len(), 1);
    assert_eq!(c.body["instanceGroupUrls"], pool["instanceGroupUrls"]);
    assert!(c.body["masterAuth"]["clusterCaCertificate"].is_string());
    let l = sim
        .call(g, "GET", &format!("{parent}/clusters"), None)
        .await;
    assert!(l.body.get("missingZones").is_none(), "{}", l.body);
    // Node pool operations start PENDING; a missing pool has its own 404.
    let r = sim
        .call(
            g,
            "GET",
            &format!("{parent}/clusters/c/nodePools/nope"),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.body["error"]["message"],
        "Not found: node pool \"nope\" not found."
    );
    let r = sim
        .call(
            g,
            "DELETE",
            &format!("{parent}/clusters/c/nodePools/default-pool"),
            None,
        )
        .await;
    assert_eq!(r.body["operationType"], "DELETE_NODE_POOL");
    assert_eq!(r.body["status"], "PENDING");
    sim.wait_done(g, &path_of(&r.body["selfLink"], g)).await;
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn gke_node_pool_autoscaling_is_kept_as_sent_and_updated() {
    let sim = start(fast()).await;
    let g = &sim.urls.container;
    let parent = "/v1/projects/p/locations/europe-west1";
    gke_cluster(&sim, parent).await;
    let pools = format!("{parent}/clusters/c/nodePools");
    let create = |name: &str, a: Value| json!({"nodePool": {"name": name, "autoscaling": a}});
    // Per-zone limits (the real log's form, total limits sent as 0).
    let r = sim
        .call(
            g,
            "POST",
            &pools,
            Some(create(
                "zonal",
                json!({"enabled": true, "minNodeCount": 1, "maxNodeCount": 3,
                       "totalMinNodeCount": 0, "totalMaxNodeCount": 0}),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    sim.wait_done(g, &path_of(&r.body["selfLink"], g)).await;
    // Total limits (the provider's form).
    let r = sim
        .call(
            g,
            "POST",
            &pools,
            Some(create(
                "total",
                json!({"enabled": true, "totalMinNodeCount": 2, "totalMaxNodeCount": 6}),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    sim.wait_done(g, &path_of(&r.body["selfLink"], g)).await;
    // Both forms at once are refused.
    let r = sim
        .call(
            g,
            "POST",
            &pools,
            Some(create(
                "both",
                json!({"enabled": true, "minNodeCount": 1, "maxNodeCount": 3, "totalMaxNodeCount": 6}),
            )),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let get = |name: &str| format!("{pools}/{name}");
    let zonal = sim.call(g, "GET", &get("zonal"), None).await;
    assert_v1("NodePool", &zonal.body);
    assert_eq!(
        zonal.body["autoscaling"],
        json!({"enabled": true, "minNodeCount": 1, "maxNodeCount": 3, "locationPolicy": "BALANCED"})
    );
    assert_eq!(zonal.body["locations"].as_array().unwrap().len(), 3);
    let total = sim.call(g, "GET", &get("total"), None).await;
    assert_eq!(
        total.body["autoscaling"],
        json!({"enabled": true, "totalMinNodeCount": 2, "totalMaxNodeCount": 6, "locationPolicy": "BALANCED"})
    );
    // The cluster update the provider sends changes the pool once its operation is done.
    let r = sim
        .call(
            g,
            "PUT",
            &format!("{parent}/clusters/c"),
            Some(json!({"update": {"desiredNodePoolId": "total",
                "desiredNodePoolAutoscaling": {"enabled": true, "totalMinNodeCount": 3, "totalMaxNodeCount": 9}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["operationType"], "UPDATE_CLUSTER");
    assert_eq!(r.body["status"], "PENDING");
    assert!(
        r.body["targetLink"]
            .as_str()
            .unwrap()
            .ends_with("/nodePools/total")
    );
    let done = sim.wait_done(g, &path_of(&r.body["selfLink"], g)).await;
    assert_eq!(done["progress"]["metrics"][0]["name"], "NODES_TOTAL");
    let total = sim.call(g, "GET", &get("total"), None).await;
    assert_eq!(total.body["autoscaling"]["totalMinNodeCount"], 3);
    assert_eq!(total.body["autoscaling"]["totalMaxNodeCount"], 9);
    // setAutoscaling does the same.
    let r = sim
        .call(
            g,
            "POST",
            &format!("{}:setAutoscaling", get("zonal")),
            Some(json!({"autoscaling": {"enabled": true, "minNodeCount": 2, "maxNodeCount": 5}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    sim.wait_done(g, &path_of(&r.body["selfLink"], g)).await;
    let zonal = sim.call(g, "GET", &get("zonal"), None).await;
    assert_eq!(zonal.body["autoscaling"]["minNodeCount"], 2);
    assert_eq!(zonal.body["autoscaling"]["maxNodeCount"], 5);
    // The cluster embeds the pools as they are now.
    let c = sim
        .call(g, "GET", &format!("{parent}/clusters/c"), None)
        .await;
    let embedded: Vec<&Value> = c.body["nodePools"].as_array().unwrap().iter().collect();
    assert_eq!(embedded.len(), 3);
    assert_eq!(embedded[2]["autoscaling"]["totalMaxNodeCount"], 9);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn gke_node_pool_management_and_version_skew() {
    let sim = start(fast()).await;
    let g = &sim.urls.container;
    let parent = "/v1/projects/p/locations/europe-west1";
    gke_cluster(&sim, parent).await;
    let pools = format!("{parent}/clusters/c/nodePools");
    // A `false` sent overrides GKE's `true` default, and is then not shown.
    let r = sim
        .call(
            g,
            "POST",
            &pools,
            Some(json!({"nodePool": {"name": "manual", "initialNodeCount": 1,
                "management": {"autoUpgrade": false, "autoRepair": true},
                "config": {"labels": {"team": ""}}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    sim.wait_done(g, &path_of(&r.body["selfLink"], g)).await;
    let p = sim.call(g, "GET", &format!("{pools}/manual"), None).await;
    assert_eq!(p.body["management"], json!({"autoRepair": true}));
    // Map entries are shown whatever their values.
    assert_eq!(p.body["config"]["labels"], json!({"team": ""}));
    // Auto-upgraded nodes stay within one minor of the control plane (1.36 by default).
    let r = sim
        .call(
            g,
            "POST",
            &pools,
            Some(json!({"nodePool": {"name": "old", "initialNodeCount": 1, "version": "1.34"}})),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Auto-upgrade is enabled, node version \"1.34.11-gke.1209000\""),
        "{:?}",
        r.body
    );
    let r = sim
        .call(
            g,
            "POST",
            &pools,
            Some(json!({"nodePool": {"name": "old", "initialNodeCount": 1, "version": "1.35"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn gke_node_pool_update_and_resource_labels() {
    let sim = start(fast()).await;
    let g = &sim.urls.container;
    let parent = "/v1/projects/p/locations/us-central1-a";
    gke_cluster(&sim, parent).await;
    let pool = format!("{parent}/clusters/c/nodePools/default-pool");
    // nodePools.update (the recorded taints change): UPGRADE_NODES, PENDING, applied when done.
    let r = sim
        .call(
            g,
            "PUT",
            &pool,
            Some(json!({"name": "default-pool", "taints": {"taints": [
                {"effect": "NO_SCHEDULE", "key": "newKey", "value": "newValue"}]}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["operationType"], "UPGRADE_NODES");
    assert_eq!(r.body["status"], "PENDING");
    let done = sim.wait_done(g, &path_of(&r.body["selfLink"], g)).await;
    assert_eq!(done["progress"]["metrics"][0]["name"], "NODES_TOTAL");
    let p = sim.call(g, "GET", &pool, None).await;
    assert_eq!(p.body["config"]["taints"][0]["key"], "newKey");
    // An empty list clears them, and an emptied list is not shown.
    let r = sim
        .call(g, "PUT", &pool, Some(json!({"taints": {"taints": []}})))
        .await;
    sim.wait_done(g, &path_of(&r.body["selfLink"], g)).await;
    let p = sim.call(g, "GET", &pool, None).await;
    assert!(p.body["config"].get("taints").is_none(), "{}", p.body);
    // setResourceLabels (the recorded POST …/clusters/C:setResourceLabels): UPDATE_CLUSTER,
    // RUNNING, the labels replaced and their fingerprint changed.
    let cluster = format!("{parent}/clusters/c");
    let before = sim.call(g, "GET", &cluster, None).await;
    let r = sim
        .call(
            g,
            "POST",
            &format!("{cluster}:setResourceLabels"),
            Some(json!({"resourceLabels": {"team": "data"},
                "labelFingerprint": before.body["labelFingerprint"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["operationType"], "UPDATE_CLUSTER");
    assert_eq!(r.body["status"], "RUNNING");
    sim.wait_done(g, &path_of(&r.body["selfLink"], g)).await;
    let after = sim.call(g, "GET", &cluster, None).await;
    assert_eq!(after.body["resourceLabels"], json!({"team": "data"}));
    assert_ne!(
        after.body["labelFingerprint"],
        before.body["labelFingerprint"]
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn gke_server_config_offers_the_late_2026_versions() {
    let sim = start(fast()).await;
    let g = &sim.urls.container;
    let r = sim
        .call(
            g,
            "GET",
            "/v1/projects/p/locations/europe-west1/serverConfig",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_v1("ServerConfig", &r.body);
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let masters = strings(&r.body["validMasterVersions"]);
    assert!(masters.iter().all(|v| {
        let (k8s, build) = v.split_once("-gke.").unwrap();
        k8s.split('.').count() == 3 && build.parse::<u64>().is_ok()
    }));
    assert!(
        masters.contains(
            &r.body["defaultClusterVersion"]
                .as_str()
                .unwrap()
                .to_string()
        )
    );
    assert!(!masters.iter().any(|v| v.starts_with("1.31.")));
    let regular = r.body["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "REGULAR")
        .unwrap();
    assert!(
        strings(&regular["validVersions"])
            .contains(&regular["defaultVersion"].as_str().unwrap().to_string())
    );
    assert_eq!(r.body["defaultImageType"], "COS_CONTAINERD");
    assert!(
        strings(&r.body["validNodeVersions"]).len() > masters.len(),
        "nodes may run older minors than masters"
    );
    // The zonal form answers the same.
    let z = sim
        .call(
            g,
            "GET",
            "/v1/projects/p/zones/europe-west1-b/serverconfig",
            None,
        )
        .await;
    assert_eq!(z.body, r.body);
    // A create checks its zones: europe-west1 has b, c and d, no a.
    let parent = "/v1/projects/p/locations/europe-west1";
    let r = sim
        .call(
            g,
            "POST",
            &format!("{parent}/clusters"),
            Some(json!({"cluster": {"name": "c", "initialNodeCount": 1,
                "locations": ["europe-west1-a", "europe-west1-b"]}})),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(
        r.body["error"]["message"],
        "Location \"europe-west1-a\" does not exist."
    );
    // And its version against the offer.
    let create = |v: &str| json!({"cluster": {"name": "c", "initialNodeCount": 1, "initialClusterVersion": v}});
    let r = sim
        .call(
            g,
            "POST",
            &format!("{parent}/clusters"),
            Some(create("1.31")),
        )
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(
        r.body["error"]["message"],
        "Master version \"1.31\" is unsupported."
    );
    let r = sim
        .call(
            g,
            "POST",
            &format!("{parent}/clusters"),
            Some(create("1.35")),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let c = sim
        .call(g, "GET", &format!("{parent}/clusters/c"), None)
        .await;
    let version = c.body["currentMasterVersion"].as_str().unwrap();
    assert!(version.starts_with("1.35."), "{version}");
    // Without a channel, the most mature channel offering the version.
    assert_eq!(c.body["releaseChannel"]["channel"], "STABLE");
    assert_eq!(c.body["nodePools"][0]["version"], version);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn gke_cluster_and_node_pool() {
    let (sim, log) = start_logged("gke").await;
    let g = &sim.urls.container;
    let parent = "/v1/projects/p/locations/europe-west1";
    let body = json!({"cluster": {"name": "main", "initialNodeCount": 1, "releaseChannel": {"channel": "REGULAR"}, "status": "RUNNING"}});
    let r = sim
        .call(g, "POST", &format!("{parent}/clusters"), Some(body.clone()))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["operationType"], "CREATE_CLUSTER");
    let op = path_of(&r.body["selfLink"], g);
    let c = sim
        .call(g, "GET", &format!("{parent}/clusters/main"), None)
        .await;
    assert_eq!(c.body["status"], "PROVISIONING", "{:?}", c.body);
    // One operation at a time.
    let np = json!({"nodePool": {"name": "workers", "initialNodeCount": 2, "config": {"machineType": "e2-standard-4"},
                                 "autoscaling": {"enabled": true, "minNodeCount": 1, "maxNodeCount": 4}}});
    let busy = sim
        .call(
            g,
            "POST",
            &format!("{parent}/clusters/main/nodePools"),
            Some(np.clone()),
        )
        .await;
    assert_eq!(busy.status, 400);
    assert_eq!(busy.body["error"]["status"], "FAILED_PRECONDITION");
    assert_eq!(
        sim.call(g, "POST", &format!("{parent}/clusters"), Some(body))
            .await
            .status,
        409
    );
    sim.wait_done(g, &op).await;
    let c = sim
        .call(g, "GET", &format!("{parent}/clusters/main"), None)
        .await;
    assert_eq!(c.body["status"], "RUNNING");
    assert!(c.body["endpoint"].is_string());
    assert!(
        c.body["masterAuth"]["clusterCaCertificate"]
            .as_str()
            .unwrap()
            .len()
            > 100
    );
    assert_eq!(c.body["nodePools"][0]["name"], "default-pool");
    let r = sim
        .call(
            g,
            "POST",
            &format!("{parent}/clusters/main/nodePools"),
            Some(np),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["operationType"], "CREATE_NODE_POOL");
    sim.wait_done(g, &path_of(&r.body["selfLink"], g)).await;
    let p = sim
        .call(
            g,
            "GET",
            &format!("{parent}/clusters/main/nodePools/workers"),
            None,
        )
        .await;
    assert_eq!(p.body["status"], "RUNNING");
    assert_eq!(p.body["autoscaling"]["maxNodeCount"], 4);
    let l = sim
        .call(g, "GET", &format!("{parent}/clusters/main/nodePools"), None)
        .await;
    assert_eq!(l.body["nodePools"].as_array().unwrap().len(), 2);
    let l = sim
        .call(g, "GET", &format!("{parent}/clusters"), None)
        .await;
    assert_eq!(
        l.body["clusters"].as_array().unwrap().len(),
        1,
        "{}",
        l.body
    );
    let r = sim
        .call(g, "DELETE", &format!("{parent}/clusters/main"), None)
        .await;
    assert_eq!(r.body["operationType"], "DELETE_CLUSTER");
    sim.wait_done(g, &path_of(&r.body["selfLink"], g)).await;
    assert_eq!(
        sim.call(g, "GET", &format!("{parent}/clusters/main"), None)
            .await
            .status,
        404
    );
    assert_eq!(sim.objects().await["objects"], json!([]));
    let lines = read_log(&log);
    let creates: Vec<_> = lines
        .iter()
        .filter(|l| l["api"] == "container" && l["method"] == "POST")
        .map(|l| {
            (
                l["path"].as_str().unwrap().to_string(),
                l["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        creates,
        [
            (format!("{parent}/clusters"), 200),
            (format!("{parent}/clusters/main/nodePools"), 400),
            (format!("{parent}/clusters"), 409),
            (format!("{parent}/clusters/main/nodePools"), 200),
        ]
    );
    stop_logged(sim, &log).await;
}

impl Sim {
    /// Creates the compute network `projects/p/global/networks/{name}` and waits for it.
    async fn network(&self, name: &str) {
        let c = &self.urls.compute;
        let r = self
            .call(
                c,
                "POST",
                "/compute/v1/projects/p/global/networks",
                Some(json!({"name": name, "autoCreateSubnetworks": false})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        self.wait_done(c, &path_of(&r.body["selfLink"], c)).await;
    }

    /// Gives the network `vpc` of project `p` private services access, as the real log does:
    /// a `VPC_PEERING` global address, then the connection through `PATCH …/connections/-`
    /// with the project NUMBER in `network`. Answers the done operation.
    async fn private_services_access(&self) -> Value {
        let c = &self.urls.compute;
        let r = self
            .call(
                c,
                "POST",
                "/compute/v1/projects/p/global/addresses",
                Some(
                    json!({"name": "psa", "addressType": "INTERNAL", "purpose": "VPC_PEERING",
                            "prefixLength": 16, "network": "projects/p/global/networks/vpc"}),
                ),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        self.wait_done(c, &path_of(&r.body["selfLink"], c)).await;
        let sn = &self.urls.servicenetworking;
        let number = gcp_sim::api::project_number("p");
        let r = self
            .call(
                sn,
                "PATCH",
                "/v1/services/servicenetworking.googleapis.com/connections/-?updateMask=reservedPeeringRanges&force=true",
                Some(json!({"network": format!("projects/{number}/global/networks/vpc"), "reservedPeeringRanges": ["psa"]})),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        // Only the name until done, as the real answer.
        assert_eq!(r.body.as_object().unwrap().len(), 1, "{:?}", r.body);
        let name = r.body["name"].as_str().unwrap();
        assert!(
            name.starts_with(&format!("operations/pssn.p24-{number}-")),
            "{name}"
        );
        self.wait_done(sn, &format!("/v1/{name}")).await
    }
}

#[tokio::test]
async fn sql_private_ip_needs_private_services_access() {
    let (sim, log) = start_logged("sql-psa").await;
    let s = &sim.urls.sqladmin;
    sim.network("vpc").await;
    let instance = |name: &str| {
        json!({"name": name, "databaseVersion": "POSTGRES_16", "region": "europe-west1",
               "settings": {"tier": "db-custom-2-7680",
                            "ipConfiguration": {"ipv4Enabled": false, "privateNetwork": "projects/p/global/networks/vpc"}}})
    };
    // No connection on the network: the create is accepted and its operation fails.
    let r = sim
        .call(
            s,
            "POST",
            "/v1/projects/p/instances",
            Some(instance("early")),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let done = sim.wait_done(s, &path_of(&r.body["selfLink"], s)).await;
    let message = done["error"]["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Failed to create subnetwork. Please create Service Networking connection with service 'servicenetworking.googleapis.com'"),
        "{message}"
    );
    let i = sim
        .call(s, "GET", "/v1/projects/p/instances/early", None)
        .await;
    assert_eq!(i.body["state"], "FAILED");
    // The list of a network without a connection is `{}`.
    let sn = &sim.urls.servicenetworking;
    let number = gcp_sim::api::project_number("p");
    let list = format!(
        "/v1/services/servicenetworking.googleapis.com/connections?network=projects%2F{number}%2Fglobal%2Fnetworks%2Fvpc"
    );
    assert_eq!(sim.call(sn, "GET", &list, None).await.body, json!({}));
    // A range that is not a VPC_PEERING address of the network: the operation fails.
    let r = sim
        .call(
            sn,
            "POST",
            "/v1/services/servicenetworking.googleapis.com/connections",
            Some(json!({"network": "projects/p/global/networks/vpc", "reservedPeeringRanges": ["nosuch"]})),
        )
        .await;
    let failed = sim
        .wait_done(sn, &format!("/v1/{}", r.body["name"].as_str().unwrap()))
        .await;
    assert_eq!(failed["error"]["code"], 9);
    assert_eq!(
        failed["error"]["message"],
        "Allocated IP range 'nosuch' not found in network."
    );
    let done = sim.private_services_access().await;
    assert_eq!(
        done["response"],
        json!({"@type": "type.googleapis.com/google.cloud.servicenetworking.v1.Connection",
               "network": format!("projects/{number}/global/networks/vpc"),
               "peering": "servicenetworking-googleapis-com", "reservedPeeringRanges": ["psa"]})
    );
    let l = sim.call(sn, "GET", &list, None).await;
    assert_eq!(
        l.body["connections"][0]["service"],
        "services/servicenetworking.googleapis.com"
    );
    let net = sim
        .call(
            &sim.urls.compute,
            "GET",
            "/compute/v1/projects/p/global/networks/vpc",
            None,
        )
        .await;
    assert_eq!(
        net.body["peerings"][0]["name"],
        "servicenetworking-googleapis-com"
    );
    assert_eq!(net.body["peerings"][0]["state"], "ACTIVE");
    // Now the same create succeeds.
    let r = sim
        .call(s, "POST", "/v1/projects/p/instances", Some(instance("db")))
        .await;
    let done = sim.wait_done(s, &path_of(&r.body["selfLink"], s)).await;
    assert!(done.get("error").is_none(), "{done:?}");
    let i = sim
        .call(s, "GET", "/v1/projects/p/instances/db", None)
        .await;
    assert_eq!(i.body["state"], "RUNNABLE");
    assert_eq!(
        i.body["ipAddresses"],
        json!([{"type": "PRIVATE", "ipAddress": i.body["ipAddresses"][0]["ipAddress"]}])
    );
    // The connection cannot go while an instance uses it.
    let delete = json!({"consumerNetwork": format!("projects/{number}/global/networks/vpc")});
    let del = "/v1/services/servicenetworking.googleapis.com/connections/servicenetworking-googleapis-com:deleteConnection";
    let r = sim.call(sn, "POST", del, Some(delete.clone())).await;
    let refused = sim
        .wait_done(sn, &format!("/v1/{}", r.body["name"].as_str().unwrap()))
        .await;
    assert_eq!(refused["error"]["code"], 9, "{refused:?}");
    for name in ["db", "early"] {
        let r = sim
            .call(
                s,
                "DELETE",
                &format!("/v1/projects/p/instances/{name}"),
                None,
            )
            .await;
        sim.wait_done(s, &path_of(&r.body["selfLink"], s)).await;
    }
    let r = sim.call(sn, "POST", del, Some(delete)).await;
    let done = sim
        .wait_done(sn, &format!("/v1/{}", r.body["name"].as_str().unwrap()))
        .await;
    assert!(done.get("error").is_none(), "{done:?}");
    assert_eq!(sim.call(sn, "GET", &list, None).await.body, json!({}));
    let net = sim
        .call(
            &sim.urls.compute,
            "GET",
            "/compute/v1/projects/p/global/networks/vpc",
            None,
        )
        .await;
    assert!(net.body.get("peerings").is_none(), "{:?}", net.body);
    stop_logged(sim, &log).await;
}

#[tokio::test]
async fn sql_instance_and_replica() {
    let (sim, log) = start_logged("sql").await;
    let s = &sim.urls.sqladmin;
    sim.network("vpc").await;
    sim.private_services_access().await;
    let primary = json!({"name": "db", "databaseVersion": "POSTGRES_16", "region": "europe-west1",
        "settings": {"tier": "db-custom-2-7680", "availabilityType": "REGIONAL",
                     "ipConfiguration": {"ipv4Enabled": false, "privateNetwork": "projects/p/global/networks/vpc"}}});
    let r = sim
        .call(s, "POST", "/v1/projects/p/instances", Some(primary.clone()))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["kind"], "sql#operation");
    assert_eq!(r.body["operationType"], "CREATE");
    assert_eq!(
        r.body["user"],
        "ss-test@sim-project.iam.gserviceaccount.com"
    );
    let op = path_of(&r.body["selfLink"], s);
    // A replica of a master that is not RUNNABLE yet is refused.
    let replica = json!({"name": "db-replica", "masterInstanceName": "db", "settings": {"tier": "db-custom-2-7680"}});
    let early = sim
        .call(s, "POST", "/v1/projects/p/instances", Some(replica.clone()))
        .await;
    assert_eq!(early.status, 409, "{:?}", early.body);
    let dup = sim
        .call(s, "POST", "/v1/projects/p/instances", Some(primary))
        .await;
    assert_eq!(dup.status, 409);
    // Cloud SQL's envelope: no `status`.
    assert!(dup.body["error"].get("status").is_none(), "{:?}", dup.body);
    sim.wait_done(s, &op).await;
    let i = sim
        .call(s, "GET", "/v1/projects/p/instances/db", None)
        .await;
    assert_eq!(i.body["state"], "RUNNABLE");
    assert_eq!(i.body["ipAddresses"][0]["type"], "PRIVATE");
    assert_eq!(i.body["connectionName"], "p:europe-west1:db");
    assert_eq!(i.body["databaseInstalledVersion"], "POSTGRES_16_9");
    assert_eq!(
        i.body["settings"]["backupConfiguration"]["kind"],
        "sql#backupConfiguration"
    );
    assert_eq!(i.body["failoverReplica"]["available"], true);
    // The built-in user is listed from the create on.
    let users = sim
        .call(s, "GET", "/v1/projects/p/instances/db/users", None)
        .await;
    assert_eq!(
        users.body["items"],
        json!([{"etag": users.body["items"][0]["etag"], "host": "", "instance": "db",
                "kind": "sql#user", "name": "postgres", "project": "p"}])
    );
    // A replica's creation is an operation on its master, which is busy meanwhile.
    let r = sim
        .call(s, "POST", "/v1/projects/p/instances", Some(replica))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["operationType"], "CREATE_REPLICA");
    assert_eq!(r.body["targetId"], "p:db");
    let busy = sim
        .call(
            s,
            "PATCH",
            "/v1/projects/p/instances/db",
            Some(json!({"settings": {"userLabels": {"a": "b"}}})),
        )
        .await;
    assert_eq!(busy.status, 409, "{:?}", busy.body);
    sim.wait_done(s, &path_of(&r.body["selfLink"], s)).await;
    let rep = sim
        .call(s, "GET", "/v1/projects/p/instances/db-replica", None)
        .await;
    assert_eq!(rep.body["instanceType"], "READ_REPLICA_INSTANCE");
    assert_eq!(rep.body["databaseVersion"], "POSTGRES_16");
    assert_eq!(rep.body["masterInstanceName"], "p:db");
    let m = sim
        .call(s, "GET", "/v1/projects/p/instances/db", None)
        .await;
    assert_eq!(m.body["replicaNames"], json!(["db-replica"]));
    // users.insert answers an operation already DONE.
    let u = sim
        .call(
            s,
            "POST",
            "/v1/projects/p/instances/db/users",
            Some(json!({"name": "superset", "password": "secret"})),
        )
        .await;
    assert_eq!(u.status, 200, "{:?}", u.body);
    assert_eq!(u.body["operationType"], "CREATE_USER");
    assert_eq!(u.body["status"], "DONE");
    assert!(u.body["endTime"].is_string());
    let users = sim
        .call(s, "GET", "/v1/projects/p/instances/db/users", None)
        .await;
    let names: Vec<&str> = users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["postgres", "superset"]);
    assert!(users.body["items"][1].get("password").is_none());
    // The master cannot go before its replica.
    assert_eq!(
        sim.call(s, "DELETE", "/v1/projects/p/instances/db", None)
            .await
            .status,
        400
    );
    let r = sim
        .call(s, "DELETE", "/v1/projects/p/instances/db-replica", None)
        .await;
    sim.wait_done(s, &path_of(&r.body["selfLink"], s)).await;
    let m = sim
        .call(s, "GET", "/v1/projects/p/instances/db", None)
        .await;
    // Gone with the last replica, as in the real answers.
    assert!(m.body.get("replicaNames").is_none(), "{:?}", m.body);
    let l = sim.call(s, "GET", "/v1/projects/p/instances", None).await;
    assert_eq!(l.body["items"].as_array().unwrap().len(), 1);
    let gone = sim
        .call(s, "GET", "/v1/projects/p/instances/db-replica", None)
        .await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.body,
        json!({"error": {"code": 404, "message": "The Cloud SQL instance does not exist.",
               "errors": [{"domain": "global", "message": "The Cloud SQL instance does not exist.", "reason": "instanceDoesNotExist"}]}})
    );
    let lines = read_log(&log);
    assert!(lines.iter().any(|l| l["api"] == "sqladmin"
        && l["body"]["masterInstanceName"] == "db"
        && l["status"] == 200));
    stop_logged(sim, &log).await;
}

/// Google's Rust client sends Cloud SQL's database version as its proto number, which is not
/// its index in the discovery list (POSTGRES_16 is 272): the simulator knows the number.
#[tokio::test]
async fn sql_database_versions_sent_as_numbers_are_their_proto_numbers() {
    let sim = start(fast()).await;
    let s = &sim.urls.sqladmin;
    let ints = "%24alt=json%3Benum-encoding%3Dint";
    let r = sim
        .call(
            s,
            "POST",
            &format!("/v1/projects/p/instances?{ints}"),
            Some(json!({"name": "pg", "databaseVersion": 272, "settings": {"tier": "db-custom-2-7680"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    sim.wait_done(s, &path_of(&r.body["selfLink"], s)).await;
    let named = sim
        .call(s, "GET", "/v1/projects/p/instances/pg", None)
        .await;
    assert_eq!(named.body["databaseVersion"], "POSTGRES_16");
    let numbered = sim
        .call(
            s,
            "GET",
            &format!("/v1/projects/p/instances/pg?{ints}"),
            None,
        )
        .await;
    assert_eq!(numbered.body["databaseVersion"], 272);
    let users = sim
        .call(s, "GET", "/v1/projects/p/instances/pg/users", None)
        .await;
    assert_eq!(
        users.body["items"][0]["name"], "postgres",
        "{:?}",
        users.body
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn sql_mysql_root_is_dropped_only_at_its_host() {
    let sim = start(fast()).await;
    let s = &sim.urls.sqladmin;
    let r = sim
        .call(
            s,
            "POST",
            "/v1/projects/p/instances",
            Some(json!({"name": "my", "databaseVersion": "MYSQL_8_0", "settings": {"tier": "db-n1-standard-1"}})),
        )
        .await;
    sim.wait_done(s, &path_of(&r.body["selfLink"], s)).await;
    let users = sim
        .call(s, "GET", "/v1/projects/p/instances/my/users", None)
        .await;
    assert_eq!(users.body["items"][0]["name"], "root");
    let refused = sim
        .call(
            s,
            "DELETE",
            "/v1/projects/p/instances/my/users?name=root",
            None,
        )
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(
        refused.body["error"]["message"],
        "Invalid request: Error 1396: Operation DROP USER failed for 'root'@''."
    );
    let r = sim
        .call(
            s,
            "DELETE",
            "/v1/projects/p/instances/my/users?name=root&host=%25",
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["operationType"], "DELETE_USER");
    sim.wait_done(s, &path_of(&r.body["selfLink"], s)).await;
    let users = sim
        .call(s, "GET", "/v1/projects/p/instances/my/users", None)
        .await;
    assert_eq!(users.body["items"], json!([]));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn redis_cluster() {
    let (sim, log) = start_logged("redis").await;
    let rd = &sim.urls.redis;
    let nc = &sim.urls.networkconnectivity;
    sim.network("vpc").await;
    let parent = "/v1/projects/p/locations/europe-west1";
    let body = json!({"shardCount": 3, "replicaCount": 1, "pscConfigs": [{"network": "projects/p/global/networks/vpc"}],
                      "authorizationMode": "AUTH_MODE_IAM_AUTH", "transitEncryptionMode": "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION"});
    // No service connection policy for the network: the create's operation fails and the
    // cluster is gone.
    let r = sim
        .call(
            rd,
            "POST",
            &format!("{parent}/clusters?clusterId=early"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let failed = sim
        .wait_done(rd, &format!("/v1/{}", r.body["name"].as_str().unwrap()))
        .await;
    assert_eq!(failed["error"]["code"], 9, "{failed:?}");
    assert!(failed.get("response").is_none(), "{failed:?}");
    let early = sim
        .call(rd, "GET", &format!("{parent}/clusters/early"), None)
        .await;
    assert_eq!(early.status, 404);
    // Memorystore's envelope: `status`, no `errors`.
    assert_eq!(
        early.body,
        json!({"error": {"code": 404, "status": "NOT_FOUND",
               "message": "Resource 'projects/p/locations/europe-west1/clusters/early' was not found"}})
    );
    // The policy, shaped as the real log.
    let policy = json!({"description": "for redis", "network": "projects/p/global/networks/vpc",
                        "pscConfig": {"subnetworks": ["projects/p/regions/europe-west1/subnetworks/sub"]},
                        "serviceClass": "gcp-memorystore-redis"});
    let r = sim
        .call(
            nc,
            "POST",
            &format!("{parent}/serviceConnectionPolicies?serviceConnectionPolicyId=scp"),
            Some(policy.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["done"], false);
    assert_eq!(r.body["metadata"]["verb"], "create");
    let done = sim
        .wait_done(nc, &format!("/v1/{}", r.body["name"].as_str().unwrap()))
        .await;
    let mut keys: Vec<&str> = done["response"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["@type", "createTime", "etag", "name", "updateTime"]);
    let p = sim
        .call(
            nc,
            "GET",
            &format!("{parent}/serviceConnectionPolicies/scp"),
            None,
        )
        .await;
    assert_eq!(p.body["infrastructure"], "PSC");
    assert_eq!(p.body["serviceClass"], "gcp-memorystore-redis");
    // A second policy of the same class on the same network is refused.
    let dup = sim
        .call(
            nc,
            "POST",
            &format!("{parent}/serviceConnectionPolicies?serviceConnectionPolicyId=scp2"),
            Some(policy),
        )
        .await;
    assert_eq!(dup.status, 409, "{:?}", dup.body);
    let rid = "7d8f8a3e-1234-4000-8000-00000000000a";
    let target = format!("{parent}/clusters?clusterId=cache&requestId={rid}");
    let r = sim.call(rd, "POST", &target, Some(body.clone())).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["done"], false);
    assert_eq!(r.body["metadata"]["verb"], "create");
    let op_name = r.body["name"].as_str().unwrap().to_string();
    // Retried with the same requestId: the same operation.
    let again = sim.call(rd, "POST", &target, Some(body.clone())).await;
    assert_eq!(again.body["name"], op_name.as_str());
    let c = sim
        .call(rd, "GET", &format!("{parent}/clusters/cache"), None)
        .await;
    assert_eq!(c.body["state"], "CREATING");
    let done = sim.wait_done(rd, &format!("/v1/{op_name}")).await;
    assert_eq!(done["response"]["state"], "ACTIVE");
    let c = sim
        .call(rd, "GET", &format!("{parent}/clusters/cache"), None)
        .await;
    assert_eq!(
        c.body["name"],
        "projects/p/locations/europe-west1/clusters/cache"
    );
    // The real field set: the network shows in the endpoints, never as `pscConfigs`.
    let net = "projects/p/global/networks/vpc";
    assert!(c.body.get("pscConfigs").is_none(), "{:?}", c.body);
    assert!(done["response"].get("pscConfigs").is_none());
    assert_eq!(c.body["discoveryEndpoints"][0]["port"], 6379);
    assert_eq!(c.body["discoveryEndpoints"][0]["pscConfig"]["network"], net);
    assert_eq!(c.body["pscConnections"][0]["network"], net);
    assert_eq!(
        c.body["clusterEndpoints"][0]["connections"][0]["pscAutoConnection"]["network"],
        net
    );
    assert_eq!(c.body["pscServiceAttachments"].as_array().unwrap().len(), 2);
    assert_eq!(c.body["persistenceConfig"]["mode"], "DISABLED");
    assert_eq!(c.body["sizeGb"], 39);
    // With `$alt=json;enum-encoding=int`, enums are numbers.
    let ints = sim
        .call(
            rd,
            "GET",
            &format!("{parent}/clusters/cache?%24alt=json%3Benum-encoding%3Dint"),
            None,
        )
        .await;
    assert_eq!(ints.body["state"], 2);
    assert_eq!(ints.body["nodeType"], 2);
    assert_eq!(ints.body["authorizationMode"], 1);
    assert_eq!(
        ints.body["clusterEndpoints"][0]["connections"][0]["pscAutoConnection"]["pscConnectionStatus"],
        1
    );
    // One field per update.
    let two = sim
        .call(
            rd,
            "PATCH",
            &format!("{parent}/clusters/cache?updateMask=shard_count,replica_count"),
            Some(json!({"shardCount": 4, "replicaCount": 2})),
        )
        .await;
    assert_eq!(two.status, 400, "{:?}", two.body);
    assert_eq!(
        two.body["error"]["message"],
        "exactly 1 update_mask field must be specified per update request"
    );
    let one = sim
        .call(
            rd,
            "PATCH",
            &format!("{parent}/clusters/cache?updateMask=shardCount"),
            Some(json!({"shardCount": 4, "replicaCount": 2})),
        )
        .await;
    assert_eq!(one.status, 200, "{:?}", one.body);
    let done = sim
        .wait_done(rd, &format!("/v1/{}", one.body["name"].as_str().unwrap()))
        .await;
    assert_eq!(done["response"]["shardCount"], 4);
    assert_eq!(done["response"]["replicaCount"], 1);
    assert_eq!(done["response"]["sizeGb"], 52);
    // Missing clusterId; a new requestId for an existing cluster.
    assert_eq!(
        sim.call(
            rd,
            "POST",
            &format!("{parent}/clusters"),
            Some(body.clone())
        )
        .await
        .status,
        400
    );
    assert_eq!(
        sim.call(
            rd,
            "POST",
            &format!("{parent}/clusters?clusterId=cache"),
            Some(body)
        )
        .await
        .status,
        409
    );
    let r = sim
        .call(rd, "DELETE", &format!("{parent}/clusters/cache"), None)
        .await;
    sim.wait_done(rd, &format!("/v1/{}", r.body["name"].as_str().unwrap()))
        .await;
    assert_eq!(
        sim.call(rd, "GET", &format!("{parent}/clusters/cache"), None)
            .await
            .status,
        404
    );
    let r = sim
        .call(
            nc,
            "DELETE",
            &format!("{parent}/serviceConnectionPolicies/scp"),
            None,
        )
        .await;
    let done = sim
        .wait_done(nc, &format!("/v1/{}", r.body["name"].as_str().unwrap()))
        .await;
    assert_eq!(
        done["response"],
        json!({"@type": "type.googleapis.com/google.protobuf.Empty"})
    );
    let l = sim
        .call(
            nc,
            "GET",
            &format!("{parent}/serviceConnectionPolicies"),
            None,
        )
        .await;
    assert_eq!(l.body, json!({}));
    let lines = read_log(&log);
    let posts = lines
        .iter()
        .filter(|l| l["api"] == "redis" && l["method"] == "POST")
        .count();
    assert_eq!(posts, 5);
    assert!(
        lines
            .iter()
            .any(|l| l["query"]["clusterId"] == "cache" && l["query"]["requestId"] == rid)
    );
    stop_logged(sim, &log).await;
}

#[tokio::test]
async fn load_balancer_with_cdn() {
    let (sim, log) = start_logged("lb").await;
    let c = &sim.urls.compute;
    let g = "/compute/v1/projects/p/global";
    let steps = [
        (
            "healthChecks",
            json!({"name": "hc", "type": "HTTP", "httpHealthCheck": {"port": 8088, "requestPath": "/health"}}),
        ),
        (
            "backendServices",
            json!({"name": "be", "protocol": "HTTP", "enableCDN": true, "loadBalancingScheme": "EXTERNAL_MANAGED",
                                   "healthChecks": [format!("{c}{g}/healthChecks/hc")],
                                   "cdnPolicy": {"cacheMode": "CACHE_ALL_STATIC", "defaultTtl": 600}}),
        ),
        (
            "urlMaps",
            json!({"name": "um", "defaultService": "global/backendServices/be"}),
        ),
        (
            "targetHttpProxies",
            json!({"name": "tp", "urlMap": format!("projects/p/global/urlMaps/um")}),
        ),
        (
            "forwardingRules",
            json!({"name": "fr", "target": format!("{c}{g}/targetHttpProxies/tp"), "portRange": "80", "loadBalancingScheme": "EXTERNAL_MANAGED"}),
        ),
    ];
    // Out of order: the backend service's health check does not exist yet.
    let early = sim
        .call(
            c,
            "POST",
            &format!("{g}/backendServices"),
            Some(steps[1].1.clone()),
        )
        .await;
    assert_eq!(early.status, 404, "{:?}", early.body);
    for (coll, body) in &steps {
        let r = sim
            .call(c, "POST", &format!("{g}/{coll}"), Some(body.clone()))
            .await;
        assert_eq!(r.status, 200, "{coll}: {:?}", r.body);
        let w = sim
            .call(
                c,
                "POST",
                &format!("{}/wait", path_of(&r.body["selfLink"], c)),
                None,
            )
            .await;
        assert_eq!(w.body["status"], "DONE");
    }
    let be = sim
        .call(c, "GET", &format!("{g}/backendServices/be"), None)
        .await;
    assert_eq!(be.body["enableCDN"], true);
    assert_eq!(be.body["cdnPolicy"]["defaultTtl"], 600);
    assert!(be.body["cdnPolicy"]["cacheKeyPolicy"].is_object());
    assert!(be.body["fingerprint"].is_string());
    assert_eq!(be.body["kind"], "compute#backendService");
    let fr = sim
        .call(c, "GET", &format!("{g}/forwardingRules/fr"), None)
        .await;
    assert!(fr.body["IPAddress"].is_string());
    assert_eq!(fr.body["kind"], "compute#forwardingRule");
    // In use: the url map cannot go before the proxy.
    assert_eq!(
        sim.call(c, "DELETE", &format!("{g}/urlMaps/um"), None)
            .await
            .status,
        400
    );
    // Patch with a stale fingerprint: 412; with the current one: OK.
    let stale = sim
        .call(
            c,
            "PATCH",
            &format!("{g}/backendServices/be"),
            Some(json!({"fingerprint": "c3RhbGU=", "enableCDN": false})),
        )
        .await;
    assert_eq!(stale.status, 412, "{:?}", stale.body);
    let ok = sim
        .call(
            c,
            "PATCH",
            &format!("{g}/backendServices/be"),
            Some(json!({"fingerprint": be.body["fingerprint"], "cdnPolicy": {"defaultTtl": 60}})),
        )
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.body["operationType"], "patch");
    let objs = sim.objects().await;
    let kinds: Vec<&str> = objs["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 5, "{kinds:?}");
    let lines = read_log(&log);
    let posted: Vec<&str> = lines
        .iter()
        .filter(|l| {
            l["method"] == "POST"
                && l["status"] == 200
                && !l["path"].as_str().unwrap().ends_with("/wait")
        })
        .filter_map(|l| l["path"].as_str())
        .filter(|p| p.starts_with("/compute"))
        .collect();
    assert_eq!(
        posted,
        steps
            .iter()
            .map(|(coll, _)| format!("{g}/{coll}"))
            .collect::<Vec<_>>()
    );
    stop_logged(sim, &log).await;
}

/// Memorystore for Redis instances: what the discovery document's field descriptions refuse
/// (tier, replica count, read replicas, version, private services access), then a
/// STANDARD_HA instance with read replicas: CREATING → READY with its endpoints and one node
/// per zone, an in-place replica change, one `updateMask` field the API does not update
/// refused, and a delete.
#[tokio::test]
async fn redis_instances() {
    let sim = start(fast()).await;
    let rd = &sim.urls.redis;
    sim.network("vpc").await;
    let parent = "/v1/projects/p/locations/europe-west1";
    let good = json!({"tier": "STANDARD_HA", "memorySizeGb": 5, "replicaCount": 2,
                      "readReplicasMode": "READ_REPLICAS_ENABLED", "redisVersion": "REDIS_7_2",
                      "authorizedNetwork": "projects/p/global/networks/vpc",
                      "connectMode": "PRIVATE_SERVICE_ACCESS",
                      "locationId": "europe-west1-b", "alternativeLocationId": "europe-west1-c"});
    let create = |id: &str| format!("{parent}/instances?instanceId={id}");
    let refused = [
        ("tier", json!({"tier": "BASIC", "replicaCount": 1})),
        ("six replicas", json!({"replicaCount": 6})),
        ("small", json!({"memorySizeGb": 4})),
        ("version", json!({"redisVersion": "REDIS_7_1"})),
        (
            "no read replicas",
            json!({"readReplicasMode": "READ_REPLICAS_DISABLED", "replicaCount": 2}),
        ),
        (
            "same zone",
            json!({"alternativeLocationId": "europe-west1-b"}),
        ),
    ];
    for (what, change) in refused {
        let mut body = good.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = sim.call(rd, "POST", &create("broker"), Some(body)).await;
        assert_eq!(r.status, 400, "{what}: {:?}", r.body);
        assert_eq!(r.body["error"]["status"], "INVALID_ARGUMENT", "{what}");
    }
    let r = sim
        .call(rd, "POST", &create("Broker-"), Some(good.clone()))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    // Private services access first.
    let r = sim
        .call(rd, "POST", &create("broker"), Some(good.clone()))
        .await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["error"]["status"], "FAILED_PRECONDITION");
    sim.private_services_access().await;
    let r = sim
        .call(rd, "POST", &create("broker"), Some(good.clone()))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["done"], false);
    let path = format!("{parent}/instances/broker");
    let i = sim.call(rd, "GET", &path, None).await;
    assert_eq!(i.body["state"], "CREATING");
    let done = sim
        .wait_done(rd, &format!("/v1/{}", r.body["name"].as_str().unwrap()))
        .await;
    assert_eq!(
        done["response"]["@type"],
        "type.googleapis.com/google.cloud.redis.v1.Instance"
    );
    let i = sim.call(rd, "GET", &path, None).await.body;
    assert_eq!(i["state"], "READY");
    assert_eq!(i["port"], 6379);
    assert_eq!(i["readEndpointPort"], 6379);
    assert!(
        i["host"].is_string() && i["readEndpoint"].is_string(),
        "{i}"
    );
    let zones: Vec<&str> = i["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["zone"].as_str().unwrap())
        .collect();
    assert_eq!(
        zones,
        ["europe-west1-b", "europe-west1-c", "europe-west1-d"],
        "{i}"
    );
    let list = sim
        .call(rd, "GET", &format!("{parent}/instances"), None)
        .await;
    assert_eq!(list.body["instances"].as_array().map(Vec::len), Some(1));

    let tier = sim
        .call(
            rd,
            "PATCH",
            &format!("{path}?updateMask=tier"),
            Some(json!({"tier": "BASIC"})),
        )
        .await;
    assert_eq!(tier.status, 400, "{:?}", tier.body);
    let r = sim
        .call(
            rd,
            "PATCH",
            &format!("{path}?updateMask=replica_count"),
            Some(json!({"replicaCount": 1})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    sim.wait_done(rd, &format!("/v1/{}", r.body["name"].as_str().unwrap()))
        .await;
    let i = sim.call(rd, "GET", &path, None).await.body;
    assert_eq!(i["replicaCount"], 1);
    assert_eq!(i["nodes"].as_array().map(Vec::len), Some(2));
    assert_eq!(i["state"], "READY");

    let r = sim.call(rd, "DELETE", &path, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    sim.wait_done(rd, &format!("/v1/{}", r.body["name"].as_str().unwrap()))
        .await;
    assert_eq!(sim.call(rd, "GET", &path, None).await.status, 404);
    sim.handle.shutdown().await;
}
