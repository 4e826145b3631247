//! `kube-sim`: a Kubernetes API server for tests (never a dependency of a production crate).
//!
//! # Design
//!
//! * **One HTTP handler** (axum fallback route) receives every request: the simulator's own
//!   endpoints (`GET /_sim/objects` lists everything; `POST /_sim/patch` with
//!   `{"path": API path of an object, "merge": JSON merge patch}` changes an object behind
//!   the API's back, managed fields untouched, for drift tests), the health endpoints, then the
//!   API itself ([`api`]): discovery (`/api`, `/api/v1`, `/apis`, `/apis/<g>`, `/apis/<g>/<v>`,
//!   non-aggregated), `/version` (1.33.0), `/openapi/v3` (only what kubectl reads to leave
//!   field validation to the server), watches ([`watch`]), and the resource paths, with the
//!   `status` and `scale` subresources. Any bearer token is accepted,
//!   and so is none: client-go (kubectl) sends no token to a plain-HTTP server.
//! * **The schema is the contract.** Built-in objects are validated against the Kubernetes
//!   1.33 OpenAPI definitions vendored under `sims/api-specs/kubernetes` ([`schema`],
//!   [`validate`]): unknown fields and wrong types are refused while decoding (400, strict
//!   field validation), missing required fields and values outside an enum by validation (422
//!   `Invalid` with one cause each), and so are changes to immutable fields (a Job's pod
//!   template, a workload's selector). Unknown fields are refused whatever `fieldValidation`
//!   says (the real server's default is `Warn`: the simulator is stricter on purpose, so that
//!   a typo fails a test). Custom resources are validated against their CRD's
//!   `openAPIV3Schema`, and exist only once their CRD does.
//! * **Server-side apply** ([`mod@write`], [`fields`]): `PATCH` with
//!   `application/apply-patch+yaml` (JSON body), `fieldManager` required; the applied fields
//!   are computed from the schema's list and map semantics (keyed lists `k:{…}`, sets `v:…`,
//!   atomic lists and maps), other managers' fields set to another value are a 409 `Conflict`
//!   unless `force=true` (then taken from them), fields the manager applied before and no
//!   longer applies are removed. Updates (POST, PUT, merge, strategic merge and JSON patches)
//!   record an `Update` entry for the fields they change, taken from other managers.
//!   `metadata.managedFields` is kept in the `FieldsV1` format.
//! * **The world** ([`world`]) is the objects by `group/plural/namespace/name`, one
//!   `resourceVersion` counter, defaults filled on every write ([`status`]), and status that
//!   catches up one step (`--delay-ms`) after a change: Deployments and StatefulSets rolled
//!   out, Jobs complete (or failed, for the names in [`Config::failing_jobs`]). Deleting with
//!   `propagationPolicy=Foreground`, or a Namespace, takes one step; a Namespace takes what it
//!   holds with it.
//!
//! Start it in-process with [`serve`] (then [`App::url`], [`App::write_kubeconfig`]), or run
//! the `kube-sim` binary (`--listen`, `--kubeconfig PATH`).

pub mod api;
pub mod errors;
pub mod fields;
pub mod fixtures;
pub mod kinds;
pub mod patch;
pub mod request;
pub mod schema;
pub mod status;
pub mod validate;
pub mod watch;
pub mod world;
pub mod write;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use sim_kit::log::body_value;
use sim_kit::text::parse_query;
use sim_kit::{Entry, Fault, RequestLog, Server, lock};

use crate::errors::ApiError;
use crate::schema::Schema;
use crate::world::World;

/// The content type of every JSON answer.
const JSON: &str = "application/json";

sim_kit::sim_config! {
    /// The simulator's settings.
    pub struct Config {
        /// The directory of the Kubernetes OpenAPI definitions.
        pub schema_dir: PathBuf = schema::default_schema_dir(),
        /// The names of the Jobs that fail (backoff limit exceeded) instead of completing.
        pub failing_jobs: Vec<String> = Vec::new(),
    }
}

pub use schema::default_schema_dir;

/// A running simulator (see [`sim_kit::Handle`]): [`App`]'s methods, and `shutdown`.
pub type Handle = sim_kit::Handle<App>;

/// The state of a running simulator, reached through its [`Handle`].
pub struct App {
    config: Config,
    url: String,
    schema: Arc<Schema>,
    world: Mutex<World>,
    log: RequestLog,
}

impl App {
    /// The world with its due deletions and status changes applied.
    fn ticked(&self) -> MutexGuard<'_, World> {
        let mut w = lock(&self.world);
        w.tick(Instant::now());
        w
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Everything the simulator holds (the body of `GET /_sim/objects`: a `List`).
    pub fn objects(&self) -> Value {
        self.ticked().dump()
    }

    /// Changes the object at `path` (its API path, e.g.
    /// `/apis/apps/v1/namespaces/n/deployments/web`) behind the API's back: a JSON merge patch
    /// applied as is, without validation nor managed fields (an out-of-band change). Answers
    /// the object as it now is.
    pub fn patch(&self, path: &str, merge: &Value) -> Result<Value, String> {
        let mut w = self.ticked();
        let key =
            object_key(&w, path).ok_or_else(|| format!("kube-sim holds nothing at {path}"))?;
        let rv = w.next_rv();
        let obj = w
            .get_mut(&key)
            .ok_or_else(|| format!("kube-sim holds nothing at {path}"))?;
        patch::merge_patch(&mut obj.data, merge);
        obj.data["metadata"]["resourceVersion"] = json!(rv);
        Ok(obj.data.clone())
    }

    /// The objects a watch of the collection `req` names follows, now.
    fn watched(&self, req: &request::Req) -> Result<Vec<Value>, ApiError> {
        api::collection_items(&self.ticked(), req)
    }

    /// A kubeconfig (YAML) whose only context `kube-sim` reaches this simulator with a token.
    pub fn kubeconfig(&self) -> String {
        kubeconfig(&self.url)
    }

    /// Writes [`App::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), String> {
        std::fs::write(path, self.kubeconfig())
            .map_err(|e| format!("cannot write the kubeconfig {}: {e}", path.display()))
    }
}

/// A kubeconfig for the simulator at `url`: cluster, user (token `kube-sim`) and context all
/// named `kube-sim`, the current context.
pub fn kubeconfig(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-sim\n  cluster:\n    server: {url}\nusers:\n- name: kube-sim\n  user:\n    token: kube-sim\ncontexts:\n- name: kube-sim\n  context:\n    cluster: kube-sim\n    user: kube-sim\n    namespace: default\ncurrent-context: kube-sim\npreferences: {{}}\n"
    )
}

/// The store key of the object at an API path.
fn object_key(w: &World, path: &str) -> Option<String> {
    let segs: Vec<String> = sim_kit::text::split_path(path);
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (group, version, rest) = match s.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let (ns, plural, name) = match rest {
        ["namespaces", ns, plural, name] => (*ns, *plural, *name),
        [plural, name] => ("", *plural, *name),
        _ => return None,
    };
    Some(w.kind(group, version, plural)?.key(ns, name))
}

/// Loads the schema, binds `config.listen` and serves in a background task.
pub async fn serve(config: Config) -> Result<(SocketAddr, Handle), String> {
    let schema = Schema::load_cached(&config.schema_dir)?;
    let log = RequestLog::open(config.request_log.as_deref())?;
    let (listener, addr) = sim_kit::bind(config.listen, 1)
        .await?
        .pop()
        .ok_or_else(|| format!("cannot listen on {}", config.listen))?;
    let app = Arc::new(App {
        world: Mutex::new(World::new(
            config.delay,
            config.seed,
            config.failing_jobs.clone(),
        )),
        url: format!("http://{addr}"),
        config,
        schema,
        log,
    });
    let router = Router::new().fallback(handle).with_state(app.clone());
    let server = Server::spawn(vec![(listener, router)]);
    Ok((addr, Handle::new(server, app)))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The largest request body the API server takes (etcd's 3 MiB limit on one object, as the
/// real server's `MaxRequestBodyBytes`).
const BODY_LIMIT: usize = 3 * 1024 * 1024;

async fn handle(State(app): State<Arc<App>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        let e = ApiError::new(
            413,
            "RequestEntityTooLarge",
            "the request body is too large",
        );
        return sim_kit::reply(413, JSON, e.body().to_string());
    };
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let pairs = parse_query(uri.query());
    let query: BTreeMap<String, String> = pairs.iter().cloned().collect();
    let req = request::Req {
        method: method.as_str(),
        path: uri.path(),
        query: &query,
        content_type: header(&headers, "content-type"),
        body: &body_text,
        user_agent: header(&headers, "user-agent"),
        host: header(&headers, "host"),
    };
    let watching = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    if req.method == "GET" && watching {
        let started = watch::start(app.clone(), &req);
        let status = started.as_ref().map_or_else(|e| e.code, |_| 200);
        app.log.write(Entry {
            api: None,
            method: req.method,
            path: req.path,
            query: &pairs,
            body: Value::Null,
            status,
            injected: None,
        });
        return started.unwrap_or_else(|e| sim_kit::reply(e.code, JSON, e.body().to_string()));
    }
    let mut injected = Fault::None;
    let (status, value) = match answer(&app, &req, &mut injected).await {
        Ok(ok) => ok,
        Err(e) => (e.code, e.body()),
    };
    app.log.write(Entry {
        api: None,
        method: req.method,
        path: req.path,
        query: &pairs,
        body: logged_body(&body_text),
        status,
        injected: injected.label(),
    });
    match value {
        Value::String(text) if status == 200 => sim_kit::reply(status, "text/plain", text),
        value => sim_kit::reply(status, JSON, value.to_string()),
    }
}

/// A request body as the log keeps it: a Secret's `data` and `stringData` values hidden.
fn logged_body(body: &str) -> Value {
    let mut v = body_value(body);
    if v["kind"] == json!("Secret") {
        for field in ["data", "stringData"] {
            if let Some(Value::Object(map)) = v.get_mut(field) {
                for value in map.values_mut() {
                    *value = json!("(hidden)");
                }
            }
        }
    }
    v
}

/// One request's answer: the simulator's endpoints, health, authentication, fault injection,
/// then the API.
async fn answer(
    app: &App,
    req: &request::Req<'_>,
    injected: &mut Fault,
) -> Result<(u16, Value), ApiError> {
    match (req.method, req.path) {
        ("GET", "/_sim/objects") => return Ok((200, app.objects())),
        ("POST", "/_sim/patch") => {
            let ask: Value = serde_json::from_str(req.body).unwrap_or(Value::Null);
            let (Some(path), Some(merge)) = (ask["path"].as_str(), ask.get("merge")) else {
                return Err(ApiError::bad_request(
                    "POST /_sim/patch takes {\"path\": API path, \"merge\": JSON merge patch}",
                ));
            };
            return app
                .patch(path, merge)
                .map(|v| (200, v))
                .map_err(|e| ApiError::new(404, "NotFound", e));
        }
        ("GET", "/healthz" | "/livez" | "/readyz") => return Ok((200, json!("ok"))),
        _ => {}
    }
    let mutating = req.method != "GET";
    let drawn = {
        let mut w = lock(&app.world);
        app.config
            .faults()
            .draw(|| w.roll(), mutating, req.method == "POST")
    };
    if drawn == Fault::Throttled {
        *injected = drawn;
        return Err(ApiError::new(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
        )
        .with_details(json!({"retryAfterSeconds": 1})));
    }
    app.config.faults().pause().await;
    if drawn == Fault::Before {
        *injected = drawn;
        return Err(internal_error());
    }
    let result = api::dispatch(&mut app.ticked(), &app.schema, req);
    match result {
        Ok(_) if drawn == Fault::AfterSuccess => {
            *injected = drawn;
            Err(internal_error())
        }
        other => other,
    }
}

fn internal_error() -> ApiError {
    ApiError::new(
        500,
        "InternalError",
        "Internal error occurred: injected by kube-sim",
    )
}
