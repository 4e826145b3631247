//! `ovh-sim`: a test-only simulator of the OVHcloud API v1, for the OVH provider's tests and
//! scripts. It is never a dependency of a production crate.
//!
//! # Design
//!
//! * **One HTTP handler** (axum fallback route) receives every request. In order it:
//!   answers the simulator's own endpoints (`GET /_sim/objects`; `POST /_sim/patch` with
//!   `{"path": API path, "set": {field: value}}`, an out-of-band change that bypasses the
//!   schema, for drift tests; `GET /v1/auth/time`, `POST /auth/oauth2/token`); strips `/v1`; matches method and path against the schema
//!   ([`schema`]); checks authentication (OVH signature or OAuth2 bearer token) and the
//!   timestamp window; injects throttling (429); validates parameters and body against the
//!   schema ([`validate`]); injects failures (500); waits the configured latency; runs the
//!   operation against the in-memory world ([`api`], [`world`]); logs one JSON line.
//! * **The schema is the contract.** The OVH description files (`cloud.v1.json`,
//!   `cdn-dedicated.v1.json`, `auth.v1.json`) are loaded at start. Any request whose path,
//!   method, path/query parameters or body the schema does not allow is answered
//!   `400 Client::BadRequest` with a message naming the field, before anything else
//!   happens: unknown field, wrong type (string, long, double, boolean, datetime, ip, ipBlock,
//!   uuid, password, arrays `T[]`, nested models, enums, `map[K]V`, generic models),
//!   missing required property, read-only property sent, operations whose `apiStatus` is
//!   `DELETED`. Validation is data-driven; nothing is written per path.
//! * **The world** is a map from each object's API path (`/cloud/project/P/kube/ID`) to its
//!   JSON (the schema's response model, read-only fields filled in) behind one mutex. Lists,
//!   reads, updates and deletes are generic by path; creates are per resource type.
//!   Status lifecycles are scheduled patches (`INSTALLING` → `READY` one step later),
//!   applied lazily at the next request; a step is `--delay-ms`. Deleting marks the object
//!   and everything under it (`DELETING`, `deleting`, `removing`) and removes it one step
//!   later. List endpoints answer ids or full objects as the schema's `responseType` says.
//! * **Real answer shapes** where real answers are known (`/work/shared/real/ovh/FACTS.md`):
//!   a cluster's `version` is the patch build with OVH's suffix (`1.32.9-1`) of the minor it
//!   was created or upgraded with, `nextUpgradeVersions` holds minors, `POST …/kube/{id}/update`
//!   upgrades one minor at a time; a node pool create answers `projectId: ""` (reads show the
//!   project), `flavorName` in the request becomes `flavor`, with the default `autoscaling`
//!   block.
//! * **Offers** ([`offers`]): `GET …/database/availability` and `…/database/capabilities`
//!   answer what OVH sells per region (3-AZ regions: PostgreSQL `production`/`advanced` and
//!   Valkey `production` on `b3-*`; 1-AZ regions also the Gen 2 `db1-*` plans), and
//!   `GET /v1/cloud.json` serves the vendored API description itself, unauthenticated, as OVH
//!   does (its `cloud.kube.VersionEnum` is the Kubernetes versions on offer).
//! * **Faults** come from one seeded RNG (`--seed`): `--throttle-rate` answers 429
//!   `Client::TooManyRequests` to that fraction of API requests; `--fail-rate` answers 500
//!   `Server::InternalServerError` to that fraction of non-GET requests, and half of those on
//!   POST are "created but answered 500": the operation runs, the client sees 500. The request
//!   log marks each injected answer (`"injected": "throttled" | "failed" |
//!   "done-then-failed"`).
//! * **Authentication**: `X-Ovh-Application` / `X-Ovh-Consumer` must be the configured keys,
//!   `X-Ovh-Timestamp` within 30 s of the server clock, `X-Ovh-Signature` =
//!   `"$1$" + hex(sha1(AS+"+"+CK+"+"+METHOD+"+"+FULL_URL+"+"+BODY+"+"+TIMESTAMP))` where
//!   FULL_URL is `http://` + the `Host` header + the request target. Alternatively
//!   `Authorization: Bearer T` with a token from `POST /auth/oauth2/token`
//!   (client credentials: `client_id` = application key, `client_secret` = application
//!   secret). Every response carries `X-Ovh-QueryID`.
//!
//! Start it in-process with [`serve`], or run the `ovh-sim` binary.

pub mod api;
pub mod offers;
pub mod schema;
pub mod validate;
pub mod world;

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::schema::{MatchError, Schema};
use crate::world::{ApiError, World};

/// How far the client's `X-Ovh-Timestamp` may be from the server's clock.
pub const TIME_WINDOW_SECS: i64 = 30;

/// The simulator's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub schema_dir: PathBuf,
    pub request_log: Option<PathBuf>,
    pub app_key: String,
    pub app_secret: String,
    pub consumer_key: String,
    /// The time each asynchronous status step takes.
    pub delay: Duration,
    /// Added before every API answer.
    pub latency: Duration,
    pub fail_rate: f64,
    pub throttle_rate: f64,
    pub seed: Option<u64>,
}

/// The schema directory of this repository: `sims/api-specs/ovh`, the vendored copy of the published descriptions.
pub fn default_schema_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../api-specs/ovh"))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            schema_dir: default_schema_dir(),
            request_log: None,
            app_key: "sim-app-key".to_string(),
            app_secret: "sim-app-secret".to_string(),
            consumer_key: "sim-consumer-key".to_string(),
            delay: Duration::from_millis(200),
            latency: Duration::ZERO,
            fail_rate: 0.0,
            throttle_rate: 0.0,
            seed: None,
        }
    }
}

/// A running simulator; dropping it does not stop the server, [`Handle::shutdown`] does.
pub struct Handle {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    app: Arc<App>,
}

impl Handle {
    /// Stops accepting connections and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Everything the simulator holds (the body of `GET /_sim/objects`).
    pub fn objects(&self) -> Value {
        let mut w = self.app.world();
        w.tick(Instant::now());
        w.dump()
    }

    /// Changes an object behind the API's back (an out-of-band change, as from the OVH
    /// console): sets each top-level field of `fields` on the object at `path` (its API path,
    /// without `/v1`). Answers the object as it now is.
    pub fn patch(&self, path: &str, fields: &Value) -> Result<Value, String> {
        let mut w = self.app.world();
        w.tick(Instant::now());
        patch_object(&mut w, path, fields)
    }

    /// Waits for the server task to end (never, unless it fails).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

struct App {
    config: Config,
    schema: Arc<Schema>,
    world: Mutex<World>,
    log: Mutex<Option<File>>,
    tokens: Mutex<HashSet<String>>,
    query_seq: std::sync::atomic::AtomicU64,
}

impl App {
    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Loads the schema, binds `config.listen` and serves in a background task.
pub async fn serve(config: Config) -> Result<(SocketAddr, Handle), String> {
    let schema = Schema::load_cached(&config.schema_dir)?;
    let log = match &config.request_log {
        Some(path) => Some(
            File::create(path)
                .map_err(|e| format!("cannot create request log {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = Arc::new(App {
        world: Mutex::new(World::new(config.delay, config.seed)),
        config,
        schema,
        log: Mutex::new(log),
        tokens: Mutex::new(HashSet::new()),
        query_seq: std::sync::atomic::AtomicU64::new(0),
    });
    let router = Router::new().fallback(handle).with_state(app.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Ok((
        addr,
        Handle {
            stop: Some(stop),
            task,
            app,
        },
    ))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The OVH signature of a request.
pub fn signature(
    secret: &str,
    consumer: &str,
    method: &str,
    url: &str,
    body: &str,
    ts: &str,
) -> String {
    let mut h = Sha1::new();
    h.update(format!("{secret}+{consumer}+{method}+{url}+{body}+{ts}").as_bytes());
    format!("$1${}", hex::encode(h.finalize()))
}

fn parse_query(q: Option<&str>) -> BTreeMap<String, String> {
    q.unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (
                schema::percent_decode(&k.replace('+', " ")),
                schema::percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

async fn handle(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let qid = app
        .query_seq
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        + 1;
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let query = parse_query(uri.query());
    // The API serves its own description without authentication (OVH's control panel reads
    // the Kubernetes versions on offer from `cloud.kube.VersionEnum` in it): the vendored file.
    if method == Method::GET && uri.path() == "/v1/cloud.json" {
        let (status, text) = match std::fs::read(app.config.schema_dir.join("cloud.v1.json")) {
            Ok(bytes) => (StatusCode::OK, bytes),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ApiError::new(
                    500,
                    "Server::InternalServerError",
                    format!("cannot read the API description: {e}"),
                )
                .body()
                .to_string()
                .into_bytes(),
            ),
        };
        log_request(
            &app,
            &method,
            &uri,
            &query,
            &body_text,
            status.as_u16(),
            None,
        );
        return (
            status,
            [("content-type", "application/json; charset=utf-8")],
            text,
        )
            .into_response();
    }
    let mut injected = None;
    let (status, value) = answer(
        &app,
        &method,
        &uri,
        &headers,
        &body_text,
        &query,
        &mut injected,
    )
    .await;
    log_request(&app, &method, &uri, &query, &body_text, status, injected);
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json; charset=utf-8")],
        value.to_string(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("EU.ext-sim.{qid:016x}")) {
        resp.headers_mut().insert("x-ovh-queryid", v);
    }
    resp
}

fn log_request(
    app: &App,
    method: &Method,
    uri: &Uri,
    query: &BTreeMap<String, String>,
    body: &str,
    status: u16,
    injected: Option<&str>,
) {
    let mut guard = app.log.lock().unwrap_or_else(|e| e.into_inner());
    let Some(file) = guard.as_mut() else { return };
    let body_json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| json!(body))
    };
    let mut line = json!({
        "method": method.as_str(), "path": uri.path(), "query": query,
        "body": body_json, "status": status,
    });
    if let Some(fault) = injected {
        line["injected"] = json!(fault);
    }
    let _ = writeln!(file, "{line}");
}

/// Sets top-level fields of the object at `path` (see [`Handle::patch`]).
fn patch_object(w: &mut World, path: &str, fields: &Value) -> Result<Value, String> {
    let Some(obj) = w.get_mut(path) else {
        return Err(format!("ovh-sim holds nothing at {path}"));
    };
    let Value::Object(set) = fields else {
        return Err("the fields to set must be a JSON object".to_string());
    };
    for (k, v) in set {
        obj.data[k.as_str()] = v.clone();
    }
    Ok(obj.data.clone())
}

fn err(e: ApiError) -> (u16, Value) {
    (e.status, e.body())
}

async fn answer(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &str,
    query: &BTreeMap<String, String>,
    injected: &mut Option<&'static str>,
) -> (u16, Value) {
    let path = uri.path();
    match (method.as_str(), path) {
        ("GET", "/_sim/objects") => {
            let mut w = app.world();
            w.tick(Instant::now());
            return (200, w.dump());
        }
        ("POST", "/_sim/patch") => {
            // {"path": "/cloud/project/P/kube/K/nodepool/N", "set": {"maxNodes": 9}}
            let req: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let (Some(path), Some(set)) = (req["path"].as_str(), req.get("set")) else {
                return err(ApiError::bad_request(
                    "POST /_sim/patch takes {\"path\": API path, \"set\": {field: value}}",
                ));
            };
            let mut w = app.world();
            w.tick(Instant::now());
            return match patch_object(&mut w, path, set) {
                Ok(v) => (200, v),
                Err(e) => err(ApiError::not_found(e)),
            };
        }
        ("GET", "/v1/auth/time") => return (200, json!(unix_now())),
        ("POST", "/auth/oauth2/token" | "/v1/auth/oauth2/token") => return oauth_token(app, body),
        _ => {}
    }
    let Some(api_path) = path.strip_prefix("/v1").filter(|p| p.starts_with('/')) else {
        return err(ApiError::bad_request(format!(
            "Unknown path {path}: the API lives under /v1"
        )));
    };
    let m = match app.schema.find(method.as_str(), api_path) {
        Ok(m) => m,
        Err(MatchError::UnknownPath) => {
            return err(ApiError::bad_request(format!(
                "No such path in the OVH API schema: {api_path}"
            )));
        }
        Err(MatchError::MethodNotAllowed(allowed)) => {
            return err(ApiError::bad_request(format!(
                "Method {method} is not allowed on {api_path} (allowed: {})",
                allowed.join(", ")
            )));
        }
    };
    if !m.operation.no_authentication
        && let Err(e) = authenticate(app, method.as_str(), uri, headers, body)
    {
        return err(e);
    }
    // Throttling first: a throttled request does nothing.
    let (throttled, fault) = {
        let mut w = app.world();
        let throttled = app.config.throttle_rate > 0.0 && w.roll() < app.config.throttle_rate;
        let fault = if !throttled
            && method != Method::GET
            && app.config.fail_rate > 0.0
            && w.roll() < app.config.fail_rate
        {
            if method == Method::POST && w.roll() < 0.5 {
                Fault::AfterSuccess
            } else {
                Fault::Before
            }
        } else {
            Fault::None
        };
        (throttled, fault)
    };
    if throttled {
        *injected = Some("throttled");
        return err(ApiError::new(
            429,
            "Client::TooManyRequests",
            "Too many requests, slow down",
        )
        .with_code("QUERY_LIMIT_REACHED"));
    }
    let body_json: Option<Value> = if body.trim().is_empty() {
        None
    } else {
        match serde_json::from_str(body) {
            Ok(v) => Some(v),
            Err(e) => return err(ApiError::bad_request(format!("Invalid JSON body: {e}"))),
        }
    };
    if let Err(msg) = validate::check_request(
        &app.schema,
        m.operation,
        &m.path_params,
        query,
        body_json.as_ref(),
    ) {
        return err(ApiError::bad_request(msg));
    }
    if !app.config.latency.is_zero() {
        tokio::time::sleep(app.config.latency).await;
    }
    if fault == Fault::Before {
        *injected = Some("failed");
        return err(internal_error());
    }
    let concrete = format!("/{}", schema::split_path(api_path).join("/"));
    let null = Value::Null;
    let req = api::Req {
        method: method.as_str(),
        template: &m.route.template,
        path: &concrete,
        params: &m.path_params,
        query,
        body: body_json.as_ref().unwrap_or(&null),
        response_type: &m.operation.response_type,
    };
    let result = {
        let mut w = app.world();
        w.tick(Instant::now());
        api::dispatch(&mut w, &req)
    };
    match result {
        Ok(_) if fault == Fault::AfterSuccess => {
            *injected = Some("done-then-failed");
            err(internal_error())
        }
        Ok(ok) => ok,
        Err(e) => err(e),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Before,
    AfterSuccess,
}

fn internal_error() -> ApiError {
    ApiError::new(
        500,
        "Server::InternalServerError",
        "Internal server error (injected by ovh-sim)",
    )
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn authenticate(
    app: &App,
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &str,
) -> Result<(), ApiError> {
    if let Some(token) = header(headers, "authorization").and_then(|a| a.strip_prefix("Bearer ")) {
        let known = app
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(token.trim());
        return if known {
            Ok(())
        } else {
            Err(ApiError::new(
                401,
                "Client::Unauthorized",
                "Invalid or expired OAuth2 token",
            )
            .with_code("INVALID_CREDENTIAL"))
        };
    }
    let cfg = &app.config;
    let Some(ak) = header(headers, "x-ovh-application") else {
        return Err(
            ApiError::new(401, "Client::Unauthorized", "You must login first")
                .with_code("NOT_AUTHENTICATED"),
        );
    };
    if ak != cfg.app_key {
        return Err(ApiError::forbidden("Invalid application key").with_code("INVALID_KEY"));
    }
    let Some(ck) = header(headers, "x-ovh-consumer") else {
        return Err(
            ApiError::new(401, "Client::Unauthorized", "You must login first")
                .with_code("NOT_CREDENTIAL"),
        );
    };
    if ck != cfg.consumer_key {
        return Err(ApiError::forbidden("Invalid credentials").with_code("INVALID_CREDENTIAL"));
    }
    let ts = header(headers, "x-ovh-timestamp").unwrap_or_default();
    let Ok(ts_num) = ts.parse::<i64>() else {
        return Err(
            ApiError::bad_request("Invalid or missing X-Ovh-Timestamp").with_code("QUERY_TIME_OUT")
        );
    };
    if (ts_num - unix_now()).abs() > TIME_WINDOW_SECS {
        return Err(ApiError::bad_request("Query out of time").with_code("QUERY_TIME_OUT"));
    }
    let host = header(headers, "host").unwrap_or_default();
    let target = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let url = format!("http://{host}{target}");
    let expected = signature(&cfg.app_secret, ck, method, &url, body, ts);
    if header(headers, "x-ovh-signature") != Some(expected.as_str()) {
        return Err(ApiError::forbidden("Invalid signature").with_code("INVALID_SIGNATURE"));
    }
    Ok(())
}

/// `POST /auth/oauth2/token` with a client-credentials grant (form or JSON body).
fn oauth_token(app: &App, body: &str) -> (u16, Value) {
    let fields: BTreeMap<String, String> = match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect(),
        _ => parse_query(Some(body)),
    };
    let get = |k: &str| fields.get(k).map_or("", String::as_str);
    if get("grant_type") != "client_credentials" {
        return (400, json!({"error": "unsupported_grant_type"}));
    }
    if get("client_id") != app.config.app_key || get("client_secret") != app.config.app_secret {
        return (401, json!({"error": "invalid_client"}));
    }
    let token = {
        let mut w = app.world();
        w.password()
    };
    app.tokens
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(token.clone());
    (
        200,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": get("scope")}),
    )
}
