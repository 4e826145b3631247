//! `gcp-sim`: a test-only simulator of the Google Cloud REST APIs the GCP provider calls —
//! Cloud SQL Admin v1, Memorystore for Redis v1 (clusters), GKE (container v1), Compute
//! Engine v1, Service Networking v1 and Network Connectivity v1 — plus an OAuth2 token
//! endpoint. It is never a dependency of a production crate.
//!
//! # Design
//!
//! * **One listener per API** (each its own port, as each API is its own host in reality),
//!   plus one for the token endpoint: [`Urls`] gives their base URLs, as a client's endpoint
//!   override takes them — the rootUrl equivalent `http://127.0.0.1:PORT`, with no path.
//!   Requests carry the discovery `servicePath` and template: sqladmin, redis, container,
//!   servicenetworking and networkconnectivity paths start with `/v1/…`; **compute paths start with `/compute/v1/…`** (its servicePath;
//!   the compute URL does not include it, like `https://compute.googleapis.com`).
//!   `selfLink`s and `targetLink`s point at these URLs (`{compute}/compute/v1/projects/…`).
//! * **One handler per listener** (axum fallback route). In order it: matches method + path
//!   against the API's discovery document ([`discovery`]: `flatPath` templates, literal
//!   segments preferred; `{+name}` `path`s are spelled out by `flatPath`) — no match is
//!   `400 INVALID_ARGUMENT`; checks `Authorization: Bearer <token issued by /token>` — else
//!   `401 UNAUTHENTICATED`; injects throttling (`429 RESOURCE_EXHAUSTED`); validates query
//!   parameters and the body against the method's request schema ([`validate`]: unknown
//!   field, wrong type, bad enum → `400 INVALID_ARGUMENT`), then removes output-only fields
//!   from the body (accepted, never stored over server values); answers a repeated
//!   `requestId` with the operation it started (see below); waits the configured latency;
//!   injects failures (`500 INTERNAL` / `503 UNAVAILABLE`); runs the method against the
//!   in-memory world ([`api`]); logs one JSON line.
//! * **The discovery documents are the contract.** `sqladmin.v1.json`, `redis.v1.json`,
//!   `container.v1.json`, `compute.v1.json`, `servicenetworking.v1.json` and
//!   `networkconnectivity.v1.json` are loaded at start from the schema directory
//!   (default `sims/api-specs/gcp`, the vendored copy of the discovery documents). Validation is data-driven; nothing is
//!   written per path. A valid method the simulator does not implement answers
//!   `501 UNIMPLEMENTED`.
//! * **Errors** are Google-shaped, in each API's own envelope as the real logs show it:
//!   `{"error": {"code", "message", "errors": [{"message", "domain": "global", "reason"}]}}`
//!   for Compute and Cloud SQL, `{"error": {"code", "message", "status"}}` for Memorystore,
//!   Network Connectivity and Service Networking, both `status` and `errors` for GKE.
//! * **Enums** in request bodies may be names or numbers (stored as names); answers give
//!   names, or numbers when the client asks `$alt=json;enum-encoding=int` (as Google's Rust
//!   clients do; the real Redis log shows `"state": 2`).
//! * **Project numbers**: Service Networking names networks by project number
//!   (`projects/NUMBER/global/networks/N`); [`api::project_number`] gives each project id a
//!   stable number, and either form is accepted where Google accepts both.
//! * **The world** ([`world`]) maps `"{api}:{resource path}"` to each object's JSON, behind one
//!   mutex. Mutations answer each API's own operation resource and take effect as the
//!   operation walks `PENDING` → `RUNNING` (one `--delay-ms` step) → `DONE` (two steps), applied
//!   lazily at the next request; as the real logs show, Compute operations and GKE cluster
//!   operations are answered `RUNNING` from the first answer on (never `DONE`), node pool
//!   operations `PENDING`, Compute `setLabels` and Cloud SQL user creates already `DONE`. Objects exist (in their transitional status) from the moment
//!   the create is accepted, so a second create of the same name is `409 ALREADY_EXISTS`;
//!   a delete marks the object and removes it when its operation is done; an unknown name is
//!   `404 NOT_FOUND`.
//! * **requestId**: on methods whose discovery parameters declare `requestId` (compute
//!   mutations, Redis clusters create/patch/delete), the value must be a UUID; the same value
//!   within 10 minutes answers the operation it first started and does nothing else — also
//!   after an injected "created but 500" failure.
//! * **Faults** come from one seeded RNG (`--seed`): `--throttle-rate` answers 429 to that
//!   fraction of API requests; `--fail-rate` answers 500 or 503 to that fraction of mutating
//!   requests (non-GET, operations methods excepted), and half of those on creates
//!   (`insert` / `create`) are "created but failed": the create is carried out, the client
//!   sees the error.
//! * **Authentication**: `POST /token` on the token URL takes a form-encoded
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT` (the service
//!   account flow); the JWT must be three base64url parts whose payload has `iss`, `aud` and
//!   a numeric `exp` in the future (the signature is not verified). The answer is
//!   `{"access_token", "expires_in": 3600, "token_type": "Bearer"}`. API requests must carry
//!   one of the issued tokens; the `iss` it was issued to is the operations' `user`.
//!
//! # Implemented methods and lifecycles
//!
//! * **compute** ([`compute`]): for every global (`projects/P/global/C`) and regional
//!   (`projects/P/regions/R/C`) collection, `insert`, `get`, `list` (with `filter=name = "x"`
//!   and paging), `delete`, `patch`, `update`; `globalOperations` / `regionOperations` `get`,
//!   `list`, `wait`, `delete`; the custom methods `setLabels`, `setTarget`, `setUrlMap`,
//!   `setQuicOverride`, `networks.removePeering`, and `projects.get` (whose `id` is the project
//!   number). Operations are `compute#operation` with the recorded operation types. Objects
//!   get `kind`, `id` (uint64 as a string), `creationTimestamp`, `selfLink` and the per-type
//!   field sets of the real answers: networks (no `mtu`, empty lists left out,
//!   `selfLinkWithId`, `peerings` from Service Networking), subnetworks (overlapping ranges
//!   rejected), global addresses (`VPC_PEERING` ranges allocated), health checks, backend
//!   services (`enableCDN` only where recorded, `usedBy`; `USE_ORIGIN_HEADERS` refuses TTLs as
//!   Google does), backend buckets, URL maps (`PUT` replaces), target HTTP proxies (no
//!   `quicOverride`), HTTPS and TCP proxies, SSL certificates (never the key), global
//!   forwarding rules (`portRange "110"` answered `"110-110"`). References must exist (404),
//!   and a referenced object cannot be deleted (`400 resourceInUseByAnotherResource`, the
//!   recorded messages). `patch` checks a given `fingerprint` (412).
//! * **container** ([`container`]): `projects.locations.clusters` `create` / `get` / `list` /
//!   `delete` / `update` / `setResourceLabels`, `…clusters.nodePools` `create` / `get` /
//!   `list` / `delete` / `update` / `setAutoscaling`, `projects.locations.operations` `get` /
//!   `list`, `projects.locations.getServerConfig` (the December 2026 offer per release
//!   channel, one const), and the zonal read paths. Clusters `PROVISIONING` → `RUNNING` with
//!   the field set of a 2026 Standard cluster (zero values left out, as proto3 JSON does);
//!   a version GKE does not offer and a zone the region lacks are refused; node pool
//!   autoscaling limits are kept as sent (per zone or total, not both) and really changed by
//!   an update; one operation at a time per cluster (`400 FAILED_PRECONDITION`).
//! * **sqladmin** ([`sql`]): `instances` `insert` / `get` / `list` / `delete` / `patch` /
//!   `update`, `databases` `insert` / `get` / `list` / `delete`, `users` `insert` / `list` /
//!   `delete`, `operations` `get` / `list`. Instances `PENDING_CREATE` → `RUNNABLE` with
//!   `ipAddresses`, `connectionName`, `serverCaCert`; read replicas through
//!   `masterInstanceName` (a `CREATE_REPLICA` operation on the master); one operation at a
//!   time per instance (`409`); built-in users listed; a private IP needs a Service
//!   Networking connection on its network.
//! * **redis** ([`redis`]): `projects.locations.clusters` `create` / `get` / `list` / `delete` /
//!   `patch`, `projects.locations.operations` `get` / `list` / `delete` / `cancel`. Clusters
//!   `CREATING` → `ACTIVE` with the real answers' field set (`discoveryEndpoints`,
//!   `pscConnections`, `clusterEndpoints`, `pscServiceAttachments`, …; never `pscConfigs`);
//!   a create without a service connection policy for its network fails; `patch` takes one
//!   `updateMask` field.
//! * **servicenetworking** ([`servicenetworking`]): `services.connections` `list` / `create` /
//!   `patch` / `deleteConnection`, `operations.get`; a connection needs `VPC_PEERING` global
//!   addresses of its network and adds the peering `servicenetworking-googleapis-com` to it.
//! * **networkconnectivity** ([`networkconnectivity`]): `projects.locations.
//!   serviceConnectionPolicies` `create` / `get` / `list` / `patch` / `delete`,
//!   `projects.locations.operations` `get` / `list` / `delete` / `cancel`.
//!
//! # CLI
//!
//! ```text
//! gcp-sim --listen 127.0.0.1:0 --request-log FILE [--delay-ms N] [--latency-ms N]
//!         [--fail-rate F] [--throttle-rate F] [--seed N] [--schema-dir DIR]
//! ```
//!
//! The first line on stdout is one JSON object: `{"sqladmin": URL, "redis": URL,
//! "container": URL, "compute": URL, "token": URL, "servicenetworking": URL,
//! "networkconnectivity": URL}`; the API URLs are `http://HOST:PORT` (compute's without
//! `/compute/v1`), the token URL is `http://HOST:PORT/token`. With a non-zero `--listen`
//! port P the token endpoint takes P, sqladmin, redis, container and compute P+1 … P+4 and
//! servicenetworking and networkconnectivity P+5 and P+6 (added last, so the first five
//! keep their ports); with port 0 each gets a free port. The request log gets one JSON object per
//! request: `{"api", "method", "path", "query", "body", "status"}` (`api` is `token` or `sim`
//! for the token listener). `GET /_sim/objects` on the token URL's host lists every object
//! and operation. Start it in-process with [`serve`].
//!
//! # Replay (the contract test)
//!
//! ```text
//! gcp-sim replay FILE... [--delay-ms N] [--poll-timeout-s N]
//! ```
//!
//! replays HTTP logs recorded against the real APIs (k8s-config-connector's `_http.log`
//! format; `sims/real/gcp/` holds the vendored ones) against a fresh in-process simulator
//! per log and compares each answer with the recorded one: the same status and, for JSON,
//! the same field paths with the same JSON types. It prints one line per mismatching
//! exchange (`FILE #N METHOD PATH: what differs`) and per skipped one (`…: skipped: REASON`,
//! APIs ss never calls), then `replay: M of N exchanges match, S skipped`; it exits 0 only
//! when every exchange sent matches. `tests/replay.rs` runs it on every vendored log; see
//! [`replay`] for the placeholders, polling and the ignore list.

pub mod api;
pub mod compute;
pub mod container;
pub mod discovery;
pub mod networkconnectivity;
pub mod redis;
pub mod replay;
pub mod servicenetworking;
pub mod sql;
pub mod validate;
pub mod world;

use std::collections::{BTreeMap, HashMap};
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

use crate::api::{Outcome, Req};
use crate::discovery::{Api, Discovery, MatchError};
use crate::world::{ApiError, ErrorShape, World};

/// The simulator's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Host and first port (0: every listener on a free port).
    pub listen: SocketAddr,
    pub schema_dir: PathBuf,
    pub request_log: Option<PathBuf>,
    /// The time each operation phase takes (`PENDING` → `RUNNING` → `DONE`).
    pub delay: Duration,
    /// Added before every API answer.
    pub latency: Duration,
    pub fail_rate: f64,
    pub throttle_rate: f64,
    pub seed: Option<u64>,
}

/// The discovery documents of this repository: `sims/api-specs/gcp`, the vendored copy of the discovery documents.
pub fn default_schema_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../api-specs/gcp"))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            schema_dir: default_schema_dir(),
            request_log: None,
            delay: Duration::from_millis(200),
            latency: Duration::ZERO,
            fail_rate: 0.0,
            throttle_rate: 0.0,
            seed: None,
        }
    }
}

/// The base URL of each API and the token URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Urls {
    pub sqladmin: String,
    pub redis: String,
    pub container: String,
    /// Without `/compute/v1` (requests carry it).
    pub compute: String,
    /// The full token URL (`…/token`).
    pub token: String,
    pub servicenetworking: String,
    pub networkconnectivity: String,
}

impl Urls {
    /// The JSON object the binary prints first.
    pub fn to_json(&self) -> Value {
        json!({
            "sqladmin": self.sqladmin,
            "redis": self.redis,
            "container": self.container,
            "compute": self.compute,
            "token": self.token,
            "servicenetworking": self.servicenetworking,
            "networkconnectivity": self.networkconnectivity,
        })
    }

    /// The base URL of an API.
    pub fn of(&self, api: Api) -> &str {
        match api {
            Api::Sqladmin => &self.sqladmin,
            Api::Redis => &self.redis,
            Api::Container => &self.container,
            Api::Compute => &self.compute,
            Api::Servicenetworking => &self.servicenetworking,
            Api::Networkconnectivity => &self.networkconnectivity,
        }
    }
}

/// A running simulator; dropping it does not stop the servers, [`Handle::shutdown`] does.
pub struct Handle {
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    app: Arc<App>,
}

impl Handle {
    /// Stops accepting connections and waits for the server tasks.
    pub async fn shutdown(mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }

    /// Everything the simulator holds (the body of `GET /_sim/objects`).
    pub fn objects(&self) -> Value {
        let mut w = self.app.world();
        w.tick(Instant::now());
        w.dump()
    }

    /// Issues a token directly (for tests that do not exercise `/token`).
    pub fn issue_token(&self, user: &str) -> String {
        self.app.issue(user)
    }

    /// Waits for the server tasks to end (never, unless one fails).
    pub async fn wait(mut self) {
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

struct App {
    config: Config,
    discovery: Arc<Discovery>,
    urls: Urls,
    world: Mutex<World>,
    log: Mutex<Option<File>>,
    /// token → the `iss` it was issued to.
    tokens: Mutex<HashMap<String, String>>,
}

impl App {
    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn issue(&self, user: &str) -> String {
        let token = self.world().token();
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), user.to_string());
        token
    }
}

#[derive(Clone)]
struct Ctx {
    app: Arc<App>,
    /// `None`: the token listener.
    api: Option<Api>,
}

/// Loads the discovery documents, binds one listener per API plus the token listener and
/// serves in background tasks.
pub async fn serve(config: Config) -> Result<(Urls, Handle), String> {
    let discovery = Discovery::load_cached(&config.schema_dir)?;
    let log = match &config.request_log {
        Some(path) => Some(
            File::create(path)
                .map_err(|e| format!("cannot create request log {}: {e}", path.display()))?,
        ),
        None => None,
    };
    // The order fixes the ports of a non-zero `--listen` port: new APIs go last so that
    // existing users keep theirs.
    let roles: [Option<Api>; 7] = [
        None,
        Some(Api::Sqladmin),
        Some(Api::Redis),
        Some(Api::Container),
        Some(Api::Compute),
        Some(Api::Servicenetworking),
        Some(Api::Networkconnectivity),
    ];
    let mut listeners = Vec::new();
    for (i, role) in roles.iter().enumerate() {
        let mut addr = config.listen;
        if addr.port() != 0 {
            let port = u16::try_from(usize::from(addr.port()) + i)
                .map_err(|_| format!("port {} + {i} is out of range", addr.port()))?;
            addr.set_port(port);
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        listeners.push((*role, listener, local));
    }
    let url = |i: usize| {
        listeners
            .get(i)
            .map_or(String::new(), |(_, _, a)| format!("http://{a}"))
    };
    let urls = Urls {
        token: format!("{}/token", url(0)),
        sqladmin: url(1),
        redis: url(2),
        container: url(3),
        compute: url(4),
        servicenetworking: url(5),
        networkconnectivity: url(6),
    };
    let app = Arc::new(App {
        world: Mutex::new(World::new(config.delay, config.seed)),
        config,
        discovery,
        urls: urls.clone(),
        log: Mutex::new(log),
        tokens: Mutex::new(HashMap::new()),
    });
    let mut stops = Vec::new();
    let mut tasks = Vec::new();
    for (role, listener, _) in listeners {
        let router = Router::new().fallback(handle).with_state(Ctx {
            app: app.clone(),
            api: role,
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        }));
    }
    Ok((urls, Handle { stops, tasks, app }))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Parses a query string or form body into ordered pairs.
pub fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (
                discovery::percent_decode(&k.replace('+', " ")),
                discovery::percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

async fn handle(
    State(ctx): State<Ctx>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let query = parse_query(uri.query());
    let (status, value, api_name) = match ctx.api {
        Some(api) => {
            let (s, v) = answer(&ctx.app, api, &method, &uri, &headers, &body_text, &query).await;
            (s, v, api.name())
        }
        None => {
            let (s, v) = token_host(&ctx.app, &method, &uri, &body_text);
            (
                s,
                v,
                if uri.path() == "/token" {
                    "token"
                } else {
                    "sim"
                },
            )
        }
    };
    log_request(
        &ctx.app, api_name, &method, &uri, &query, &body_text, status,
    );
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json; charset=UTF-8")],
        if value.is_null() {
            String::new()
        } else {
            value.to_string()
        },
    )
        .into_response();
    if status == 401 {
        resp.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
        );
    }
    resp
}

fn log_request(
    app: &App,
    api: &str,
    method: &Method,
    uri: &Uri,
    query: &[(String, String)],
    body: &str,
    status: u16,
) {
    let mut guard = app.log.lock().unwrap_or_else(|e| e.into_inner());
    let Some(file) = guard.as_mut() else { return };
    let body_json = if body.is_empty() {
        Value::Null
    } else if api == "token" {
        // The form, with the assertion shortened.
        let form: serde_json::Map<String, Value> = parse_query(Some(body))
            .into_iter()
            .map(|(k, v)| {
                let v = if k == "assertion" && v.len() > 16 {
                    format!("{}…", &v[..16])
                } else {
                    v
                };
                (k, json!(v))
            })
            .collect();
        Value::Object(form)
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| json!(body))
    };
    let q: BTreeMap<&str, &str> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let line = json!({
        "api": api, "method": method.as_str(), "path": uri.path(), "query": q,
        "body": body_json, "status": status,
    });
    let _ = writeln!(file, "{line}");
}

fn err(e: ApiError) -> (u16, Value) {
    (e.code, e.body())
}

/// The token listener: `POST /token`, `GET /_sim/objects`.
fn token_host(app: &App, method: &Method, uri: &Uri, body: &str) -> (u16, Value) {
    match (method.as_str(), uri.path()) {
        ("GET", "/_sim/objects") => {
            let mut w = app.world();
            w.tick(Instant::now());
            (200, w.dump())
        }
        ("POST", "/token") => oauth_token(app, body),
        _ => err(ApiError::not_found(format!(
            "gcp-sim token host: no {method} {}",
            uri.path()
        ))),
    }
}

fn oauth_error(code: u16, error: &str, description: &str) -> (u16, Value) {
    (
        code,
        json!({"error": error, "error_description": description}),
    )
}

/// `POST /token` with a JWT-bearer grant.
fn oauth_token(app: &App, body: &str) -> (u16, Value) {
    let form: BTreeMap<String, String> = parse_query(Some(body)).into_iter().collect();
    let get = |k: &str| form.get(k).map_or("", String::as_str);
    if get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        return oauth_error(400, "unsupported_grant_type", "Invalid grant_type");
    }
    let parts: Vec<&str> = get("assertion").split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return oauth_error(
            400,
            "invalid_grant",
            "Invalid JWT: expected three base64url parts",
        );
    };
    let decode =
        |s: &str| world::base64_decode(s).and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let (Some(_), Some(claims)) = (decode(header), decode(payload)) else {
        return oauth_error(
            400,
            "invalid_grant",
            "Invalid JWT: header or payload is not base64url JSON",
        );
    };
    if signature.is_empty() || world::base64_decode(signature).is_none() {
        return oauth_error(400, "invalid_grant", "Invalid JWT Signature.");
    }
    let iss = claims["iss"].as_str().unwrap_or_default();
    if iss.is_empty() || claims["aud"].as_str().is_none_or(str::is_empty) {
        return oauth_error(
            400,
            "invalid_grant",
            "Invalid JWT: iss and aud are required",
        );
    }
    let Some(exp) = claims["exp"].as_i64() else {
        return oauth_error(400, "invalid_grant", "Invalid JWT: exp is required");
    };
    if exp < unix_now() {
        return oauth_error(
            400,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        );
    }
    let token = app.issue(iss);
    (
        200,
        json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Before,
    AfterSuccess,
}

fn injected(w: &mut World) -> ApiError {
    if w.roll() < 0.5 {
        ApiError::new(
            500,
            "INTERNAL",
            "backendError",
            "Internal error encountered (injected by gcp-sim).",
        )
    } else {
        ApiError::new(
            503,
            "UNAVAILABLE",
            "backendError",
            "The service is currently unavailable (injected by gcp-sim).",
        )
    }
}

fn authenticate(app: &App, headers: &HeaderMap) -> Result<String, ApiError> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(token) = auth.strip_prefix("Bearer ") else {
        return Err(ApiError::new(
            401,
            "UNAUTHENTICATED",
            "required",
            "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        ));
    };
    let tokens = app.tokens.lock().unwrap_or_else(|e| e.into_inner());
    match tokens.get(token.trim()) {
        Some(user) => Ok(user.clone()),
        None => Err(ApiError::new(
            401,
            "UNAUTHENTICATED",
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        )),
    }
}

/// One API request's answer, in the shape that API's real answers have: enums as numbers
/// when the client asked for `$alt=json;enum-encoding=int`, and each API's own error
/// envelope (see [`shape_error`]).
async fn answer(
    app: &App,
    api: Api,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &str,
    query: &[(String, String)],
) -> (u16, Value) {
    let (status, mut value) = answer_raw(app, api, method, uri, headers, body, query).await;
    if status >= 400 {
        shape_error(api, &mut value);
    } else if query
        .iter()
        .any(|(k, v)| k == "$alt" && v.contains("enum-encoding=int"))
        && let Ok(doc) = app.discovery.doc(api)
        && let Ok(m) = doc.find(method.as_str(), uri.path())
        && let Some(schema) = &m.method.response
    {
        validate::map_enums(doc, schema, &mut value, validate::EnumEncoding::Ints);
    }
    (status, value)
}

/// Cuts an error body to the envelope its API really answers ([`world::default_shape`]: the
/// real logs show Compute and Cloud SQL without `status`, Memorystore, Network Connectivity
/// and Service Networking without `errors[]`, GKE with both).
fn shape_error(api: Api, body: &mut Value) {
    let Some(e) = body.get_mut("error").and_then(Value::as_object_mut) else {
        return;
    };
    match world::default_shape(api) {
        ErrorShape::Legacy => {
            e.remove("status");
        }
        ErrorShape::Status => {
            e.remove("errors");
        }
        ErrorShape::Full => {}
    }
}

async fn answer_raw(
    app: &App,
    api: Api,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &str,
    query: &[(String, String)],
) -> (u16, Value) {
    let doc = match app.discovery.doc(api) {
        Ok(d) => d,
        Err(e) => return err(ApiError::new(500, "INTERNAL", "backendError", e)),
    };
    let path = uri.path();
    let m = match doc.find(method.as_str(), path) {
        Ok(m) => m,
        Err(MatchError::UnknownPath(why)) => {
            return err(ApiError::invalid(format!(
                "No {} API method matches {method} {path}: {why}",
                api.name()
            )));
        }
        Err(MatchError::MethodNotAllowed(allowed)) => {
            return err(ApiError::invalid(format!(
                "Method {method} is not allowed on {path} (allowed: {})",
                allowed.join(", ")
            )));
        }
    };
    let method_def = m.method;
    let user = match authenticate(app, headers) {
        Ok(u) => u,
        Err(e) => return err(e),
    };
    let verb = method_def.verb().to_string();
    let is_ops = method_def.name.contains("perations.");
    let mutating = method.as_str() != "GET" && !is_ops;
    let is_create = matches!(verb.as_str(), "insert" | "create");
    let (throttled, fault) = {
        let mut w = app.world();
        let throttled = app.config.throttle_rate > 0.0 && w.roll() < app.config.throttle_rate;
        let fault = if !throttled
            && mutating
            && app.config.fail_rate > 0.0
            && w.roll() < app.config.fail_rate
        {
            if is_create && w.roll() < 0.5 {
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
        return err(ApiError::new(
            429,
            "RESOURCE_EXHAUSTED",
            "rateLimitExceeded",
            "Quota exceeded for quota metric 'Queries' (injected by gcp-sim).",
        ));
    }
    if let Err(msg) = validate::check_query(doc, method_def, query) {
        return err(ApiError::invalid(msg));
    }
    let mut body_json = if body.trim().is_empty() {
        Value::Null
    } else {
        match serde_json::from_str::<Value>(body) {
            Ok(v) => v,
            Err(e) => {
                return err(ApiError::invalid(format!(
                    "Invalid JSON payload received. {e}"
                )));
            }
        }
    };
    let mut sent = Value::Null;
    match &method_def.request {
        Some(schema) => {
            if let Err(msg) = validate::check_body(doc, schema, &body_json) {
                return err(ApiError::invalid(msg));
            }
            validate::map_enums(doc, schema, &mut body_json, validate::EnumEncoding::Names);
            sent = body_json.clone();
            validate::strip_output_only(doc, schema, &mut body_json);
        }
        None => {
            if !body_json.is_null() && body_json != json!({}) {
                return err(ApiError::invalid(format!(
                    "Invalid JSON payload received. {} takes no request body.",
                    method_def.id
                )));
            }
        }
    }
    let request_id = if method_def.has_request_id() {
        let rid = query
            .iter()
            .find(|(k, _)| k == "requestId")
            .map(|(_, v)| v.clone());
        if let Some(rid) = &rid
            && !api::is_uuid(rid)
        {
            return err(ApiError::invalid(format!(
                "Invalid value for field 'requestId': '{rid}'. The request ID must be a valid UUID with the exception that zero UUID is not supported."
            )));
        }
        rid
    } else {
        None
    };
    if let Some(rid) = &request_id {
        let mut w = app.world();
        w.tick(Instant::now());
        let now = Instant::now();
        w.request_ids
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < world::REQUEST_ID_TTL);
        if let Some((op_key, _)) = w.request_ids.get(&(api, rid.clone())).cloned()
            && let Some(op) = w.ops.get(&op_key)
        {
            return (200, op.data.clone());
        }
    }
    if !app.config.latency.is_zero() {
        tokio::time::sleep(app.config.latency).await;
    }
    if fault == Fault::Before {
        let mut w = app.world();
        return err(injected(&mut w));
    }
    let rel = path
        .trim_start_matches('/')
        .strip_prefix(doc.service_path.as_str())
        .unwrap_or_default();
    let segs: Vec<String> = rel.split('/').map(discovery::percent_decode).collect();
    let req = Req {
        api,
        doc,
        method: method_def,
        segs,
        query,
        body: body_json,
        sent,
        urls: &app.urls,
        user,
    };
    let outcome = {
        let mut w = app.world();
        w.tick(Instant::now());
        let out = api::dispatch(&mut w, &req);
        if let (
            Ok(Outcome::Reply {
                op: Some(op_key), ..
            }),
            Some(rid),
        ) = (&out, &request_id)
            && mutating
        {
            w.request_ids
                .insert((api, rid.clone()), (op_key.clone(), Instant::now()));
        }
        out
    };
    match outcome {
        Ok(_) if fault == Fault::AfterSuccess => {
            let mut w = app.world();
            err(injected(&mut w))
        }
        Ok(Outcome::Reply { status, body, .. }) => (status, body),
        Ok(Outcome::Wait(op_key)) => wait_op(app, &op_key).await,
        Err(e) => err(e),
    }
}

/// Compute's `operations.wait`: returns when the operation is done, or after 2 minutes.
async fn wait_op(app: &App, op_key: &str) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (phase, data, due) = {
            let mut w = app.world();
            w.tick(Instant::now());
            let step = w.step;
            match w.ops.get(op_key) {
                Some(op) => (op.phase, op.data.clone(), op.start + step * 2),
                None => {
                    return err(ApiError::not_found(format!(
                        "The resource '{op_key}' was not found"
                    )));
                }
            }
        };
        let now = Instant::now();
        if phase == world::Phase::Done || now >= deadline {
            return (200, data);
        }
        let sleep = due.min(deadline).saturating_duration_since(now) + Duration::from_millis(1);
        tokio::time::sleep(sleep).await;
    }
}
