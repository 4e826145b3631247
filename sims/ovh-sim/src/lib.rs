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

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use sim_kit::log::{body_value, hidden_value};
use sim_kit::text::{parse_query, split_path, unix_now};
use sim_kit::{Entry, Fault, RequestLog, Server, Tokens, lock};

use crate::schema::{MatchError, Matched, Schema};
use crate::world::{ApiError, World};

/// How far the client's `X-Ovh-Timestamp` may be from the server's clock.
pub const TIME_WINDOW_SECS: i64 = 30;

/// The content type of every answer.
const JSON: &str = "application/json; charset=utf-8";

sim_kit::sim_config! {
    /// The simulator's settings.
    pub struct Config {
        /// The directory of the OVH API description files.
        pub schema_dir: PathBuf = default_schema_dir(),
        /// The application key clients must send; also the OAuth2 `client_id`.
        pub app_key: String = "sim-app-key".to_string(),
        /// The application secret signatures are made with; also the OAuth2 `client_secret`.
        pub app_secret: String = "sim-app-secret".to_string(),
        /// The consumer key clients must send.
        pub consumer_key: String = "sim-consumer-key".to_string(),
    }
}

/// The schema directory of this repository: `sims/api-specs/ovh`, the vendored copy of the published descriptions.
pub fn default_schema_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../api-specs/ovh"))
}

/// A running simulator (see [`sim_kit::Handle`]): [`App`]'s methods, and `shutdown`.
pub type Handle = sim_kit::Handle<App>;

/// The state of a running simulator, reached through its [`Handle`].
pub struct App {
    config: Config,
    schema: Arc<Schema>,
    world: Mutex<World>,
    log: RequestLog,
    tokens: Tokens,
    query_seq: AtomicU64,
}

impl App {
    fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// The world with its due status changes applied.
    fn ticked(&self) -> MutexGuard<'_, World> {
        let mut w = self.world();
        w.tick(Instant::now());
        w
    }

    /// Everything the simulator holds (the body of `GET /_sim/objects`).
    pub fn objects(&self) -> Value {
        self.ticked().dump()
    }

    /// Changes an object behind the API's back (an out-of-band change, as from the OVH
    /// console): sets each top-level field of `fields` on the object at `path` (its API path,
    /// without `/v1`). Answers the object as it now is.
    pub fn patch(&self, path: &str, fields: &Value) -> Result<Value, String> {
        patch_object(&mut self.ticked(), path, fields)
    }
}

/// Loads the schema, binds `config.listen` and serves in a background task.
pub async fn serve(config: Config) -> Result<(SocketAddr, Handle), String> {
    let schema = Schema::load_cached(&config.schema_dir)?;
    let log = RequestLog::open(config.request_log.as_deref())?;
    let mut listeners = sim_kit::bind(config.listen, 1).await?;
    let Some((listener, addr)) = listeners.pop() else {
        return Err(format!("cannot listen on {}", config.listen));
    };
    let app = Arc::new(App {
        world: Mutex::new(World::new(config.delay, config.seed)),
        config,
        schema,
        log,
        tokens: Tokens::default(),
        query_seq: AtomicU64::new(0),
    });
    let router = Router::new().fallback(handle).with_state(app.clone());
    let server = Server::spawn(vec![(listener, router)]);
    Ok((addr, Handle::new(server, app)))
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

/// One request as the handler sees it.
struct Call<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    body: &'a str,
    query: BTreeMap<String, String>,
}

async fn handle(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let qid = app.query_seq.fetch_add(1, Ordering::Relaxed) + 1;
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let pairs = parse_query(uri.query());
    let call = Call {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body_text,
        query: pairs.iter().cloned().collect(),
    };
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
        log_request(&app, &call, &pairs, status.as_u16(), Fault::None);
        return (status, [("content-type", JSON)], text).into_response();
    }
    let mut injected = Fault::None;
    let (status, value) = answer(&app, &call, &mut injected).await;
    log_request(&app, &call, &pairs, status, injected);
    let mut resp = sim_kit::reply(status, JSON, value.to_string());
    if let Ok(v) = HeaderValue::from_str(&format!("EU.ext-sim.{qid:016x}")) {
        resp.headers_mut().insert("x-ovh-queryid", v);
    }
    resp
}

fn log_request(app: &App, call: &Call, query: &[(String, String)], status: u16, fault: Fault) {
    // The OAuth2 client secret is the application secret: no part of it reaches the log.
    let body = if call.uri.path().ends_with("/oauth2/token") {
        hidden_value(call.body, &["client_secret"])
    } else {
        body_value(call.body)
    };
    app.log.write(Entry {
        api: None,
        method: call.method.as_str(),
        path: call.uri.path(),
        query,
        body,
        status,
        injected: fault.label(),
    });
}

/// Sets top-level fields of the object at `path` (see [`App::patch`]).
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

/// The simulator's own endpoints and the unauthenticated ones of the API, if `call` is one.
fn special(app: &App, call: &Call) -> Option<(u16, Value)> {
    let answer = match (call.method.as_str(), call.uri.path()) {
        ("GET", "/_sim/objects") => (200, app.ticked().dump()),
        ("POST", "/_sim/patch") => {
            // {"path": "/cloud/project/P/kube/K/nodepool/N", "set": {"maxNodes": 9}}
            let req: Value = serde_json::from_str(call.body).unwrap_or(Value::Null);
            let (Some(path), Some(set)) = (req["path"].as_str(), req.get("set")) else {
                return Some(err(ApiError::bad_request(
                    "POST /_sim/patch takes {\"path\": API path, \"set\": {field: value}}",
                )));
            };
            match patch_object(&mut app.ticked(), path, set) {
                Ok(v) => (200, v),
                Err(e) => err(ApiError::not_found(e)),
            }
        }
        ("GET", "/v1/auth/time") => (200, json!(unix_now())),
        ("POST", "/auth/oauth2/token" | "/v1/auth/oauth2/token") => oauth_token(app, call.body),
        _ => return None,
    };
    Some(answer)
}

/// The schema's route and operation for the request, or the 400 OVH answers.
fn route<'s, 'c>(schema: &'s Schema, call: &Call<'c>) -> Result<(&'c str, Matched<'s>), ApiError> {
    let path = call.uri.path();
    let method = call.method;
    let Some(api_path) = path.strip_prefix("/v1").filter(|p| p.starts_with('/')) else {
        return Err(ApiError::bad_request(format!(
            "Unknown path {path}: the API lives under /v1"
        )));
    };
    match schema.find(method.as_str(), api_path) {
        Ok(m) => Ok((api_path, m)),
        Err(MatchError::UnknownPath) => Err(ApiError::bad_request(format!(
            "No such path in the OVH API schema: {api_path}"
        ))),
        Err(MatchError::MethodNotAllowed(allowed)) => Err(ApiError::bad_request(format!(
            "Method {method} is not allowed on {api_path} (allowed: {})",
            allowed.join(", ")
        ))),
    }
}

/// The body as JSON (`None` when empty), and the request checked against the schema.
fn checked_body(app: &App, call: &Call, m: &Matched) -> Result<Option<Value>, ApiError> {
    let body = if call.body.trim().is_empty() {
        None
    } else {
        Some(
            serde_json::from_str(call.body)
                .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?,
        )
    };
    validate::check_request(
        &app.schema,
        m.operation,
        &m.path_params,
        &call.query,
        body.as_ref(),
    )
    .map_err(ApiError::bad_request)?;
    Ok(body)
}

/// One request's answer, in order: the simulator's endpoints, the schema's route,
/// authentication, throttling, validation, latency, failures, then the operation itself.
/// `injected` is set to the fault that made the answer up, if one did.
async fn answer(app: &App, call: &Call<'_>, injected: &mut Fault) -> (u16, Value) {
    if let Some(answer) = special(app, call) {
        return answer;
    }
    let (api_path, m) = match route(&app.schema, call) {
        Ok(x) => x,
        Err(e) => return err(e),
    };
    if !m.operation.no_authentication
        && let Err(e) = authenticate(app, call)
    {
        return err(e);
    }
    let method = call.method;
    // Throttling first: a throttled request does nothing. A drawn failure is injected only
    // into a request the schema accepts, and marked in the log only when it is.
    let drawn = {
        let mut w = app.world();
        app.config
            .faults()
            .draw(|| w.roll(), method != Method::GET, method == Method::POST)
    };
    if drawn == Fault::Throttled {
        *injected = drawn;
        return err(ApiError::new(
            429,
            "Client::TooManyRequests",
            "Too many requests, slow down",
        )
        .with_code("QUERY_LIMIT_REACHED"));
    }
    let body = match checked_body(app, call, &m) {
        Ok(b) => b,
        Err(e) => return err(e),
    };
    app.config.faults().pause().await;
    if drawn == Fault::Before {
        *injected = drawn;
        return err(internal_error());
    }
    let concrete = format!("/{}", split_path(api_path).join("/"));
    let null = Value::Null;
    let req = api::Req {
        method: method.as_str(),
        template: &m.route.template,
        path: &concrete,
        params: &m.path_params,
        query: &call.query,
        body: body.as_ref().unwrap_or(&null),
        response_type: &m.operation.response_type,
    };
    let result = api::dispatch(&mut app.ticked(), &req);
    match result {
        Ok(_) if drawn == Fault::AfterSuccess => {
            *injected = drawn;
            err(internal_error())
        }
        Ok(ok) => ok,
        Err(e) => err(e),
    }
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

fn authenticate(app: &App, call: &Call) -> Result<(), ApiError> {
    let headers = call.headers;
    if let Some(token) = header(headers, "authorization").and_then(|a| a.strip_prefix("Bearer ")) {
        return match app.tokens.user(token.trim()) {
            Some(_) => Ok(()),
            None => Err(ApiError::new(
                401,
                "Client::Unauthorized",
                "Invalid or expired OAuth2 token",
            )
            .with_code("INVALID_CREDENTIAL")),
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
    let uri = call.uri;
    let target = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let url = format!("http://{host}{target}");
    let expected = signature(
        &cfg.app_secret,
        ck,
        call.method.as_str(),
        &url,
        call.body,
        ts,
    );
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
        _ => parse_query(Some(body)).into_iter().collect(),
    };
    let get = |k: &str| fields.get(k).map_or("", String::as_str);
    if get("grant_type") != "client_credentials" {
        return (400, json!({"error": "unsupported_grant_type"}));
    }
    if get("client_id") != app.config.app_key || get("client_secret") != app.config.app_secret {
        return (401, json!({"error": "invalid_client"}));
    }
    let token = app.world().password();
    app.tokens.issue(token.clone(), get("client_id"));
    (
        200,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": get("scope")}),
    )
}
