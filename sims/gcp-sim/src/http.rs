//! The API listeners' request pipeline: match the discovery method, authenticate, inject
//! faults, validate, honour `requestId`, then dispatch to the API's module and shape the
//! answer as that API does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::response::Response;
use serde_json::{Value, json};
use sim_kit::log::{body_value, form_value};
use sim_kit::text::parse_query;
use sim_kit::{Entry, Fault};

use crate::api::{Outcome, Req, is_uuid};
use crate::app::App;
use crate::discovery::{self, Api, Doc, MatchError};
use crate::token::{authenticate, token_host};
use crate::validate;
use crate::world::{self, ApiError, ErrorShape, World};

/// The content type of every answer.
const JSON: &str = "application/json; charset=UTF-8";

/// What one listener serves: an API, or (`None`) the token endpoint.
#[derive(Clone)]
struct Ctx {
    app: Arc<App>,
    api: Option<Api>,
}

/// The router of one listener.
pub fn router(app: Arc<App>, api: Option<Api>) -> Router {
    Router::new().fallback(handle).with_state(Ctx { app, api })
}

/// Runs a request against the world, in the module of its API.
fn dispatch(w: &mut World, r: &Req) -> Result<Outcome, ApiError> {
    match r.api {
        Api::Compute => crate::compute::dispatch(w, r),
        Api::Container => crate::container::dispatch(w, r),
        Api::Sqladmin => crate::sql::dispatch(w, r),
        Api::Redis if r.method.name.starts_with("projects.locations.instances.") => {
            crate::instances::dispatch(w, r)
        }
        Api::Redis => crate::redis::dispatch(w, r),
        Api::Servicenetworking => crate::servicenetworking::dispatch(w, r),
        Api::Networkconnectivity => crate::networkconnectivity::dispatch(w, r),
    }
}

/// One HTTP request as the pipeline sees it.
struct Call<'a> {
    api: Api,
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    body: &'a str,
    query: &'a [(String, String)],
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
            let call = Call {
                api,
                method: &method,
                uri: &uri,
                headers: &headers,
                body: &body_text,
                query: &query,
            };
            let (s, v) = answer(&ctx.app, &call).await;
            (s, v, api.name())
        }
        None => {
            let (s, v) = token_host(&ctx.app, &method, &uri, &body_text);
            let name = if uri.path() == "/token" {
                "token"
            } else {
                "sim"
            };
            (s, v, name)
        }
    };
    // The token form is logged with its assertion shortened: it is a signed credential.
    let logged = if api_name == "token" {
        form_value(&body_text, &["assertion"])
    } else {
        body_value(&body_text)
    };
    ctx.app.log.write(Entry {
        api: Some(api_name),
        method: method.as_str(),
        path: uri.path(),
        query: &query,
        body: logged,
        status,
        injected: None,
    });
    let text = if value.is_null() {
        String::new()
    } else {
        value.to_string()
    };
    let mut resp = sim_kit::reply(status, JSON, text);
    if status == 401 {
        resp.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
        );
    }
    resp
}

fn err(e: ApiError) -> (u16, Value) {
    (e.code, e.body())
}

/// The error of an injected failure: 500 or 503, as Google answers both.
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

/// One API request's answer, in the shape that API's real answers have: enums as numbers
/// when the client asked for `$alt=json;enum-encoding=int`, and each API's own error
/// envelope (see [`shape_error`]).
async fn answer(app: &App, call: &Call<'_>) -> (u16, Value) {
    let (status, mut value) = match answer_raw(app, call).await {
        Ok(x) => x,
        Err(e) => err(e),
    };
    if status >= 400 {
        shape_error(call.api, &mut value);
    } else if call
        .query
        .iter()
        .any(|(k, v)| k == "$alt" && v.contains("enum-encoding=int"))
        && let Ok(doc) = app.discovery.doc(call.api)
        && let Ok(m) = doc.find(call.method.as_str(), call.uri.path())
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

/// The API's document and the discovery method the request matches.
fn route<'d>(app: &'d App, call: &Call) -> Result<(&'d Doc, &'d discovery::Method), ApiError> {
    let doc = app
        .discovery
        .doc(call.api)
        .map_err(|e| ApiError::new(500, "INTERNAL", "backendError", e))?;
    let (method, path) = (call.method, call.uri.path());
    match doc.find(method.as_str(), path) {
        Ok(m) => Ok((doc, m.method)),
        Err(MatchError::UnknownPath(why)) => Err(ApiError::invalid(format!(
            "No {} API method matches {method} {path}: {why}",
            call.api.name()
        ))),
        Err(MatchError::MethodNotAllowed(allowed)) => Err(ApiError::invalid(format!(
            "Method {method} is not allowed on {path} (allowed: {})",
            allowed.join(", ")
        ))),
    }
}

/// The body checked against the method's request schema, enums as names: as stored
/// (output-only fields removed) and as sent.
fn checked_body(doc: &Doc, m: &discovery::Method, body: &str) -> Result<(Value, Value), ApiError> {
    let mut body = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str::<Value>(body)
            .map_err(|e| ApiError::invalid(format!("Invalid JSON payload received. {e}")))?
    };
    let Some(schema) = &m.request else {
        if !body.is_null() && body != json!({}) {
            return Err(ApiError::invalid(format!(
                "Invalid JSON payload received. {} takes no request body.",
                m.id
            )));
        }
        return Ok((body, Value::Null));
    };
    validate::check_body(doc, schema, &body).map_err(ApiError::invalid)?;
    validate::map_enums(doc, schema, &mut body, validate::EnumEncoding::Names);
    let sent = body.clone();
    validate::strip_output_only(doc, schema, &mut body);
    Ok((body, sent))
}

/// The request's `requestId`, on methods that declare one; it must be a UUID.
fn request_id(
    m: &discovery::Method,
    query: &[(String, String)],
) -> Result<Option<String>, ApiError> {
    if !m.has_request_id() {
        return Ok(None);
    }
    let rid = query
        .iter()
        .find(|(k, _)| k == "requestId")
        .map(|(_, v)| v.clone());
    if let Some(rid) = &rid
        && !is_uuid(rid)
    {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'requestId': '{rid}'. The request ID must be a valid UUID with the exception that zero UUID is not supported."
        )));
    }
    Ok(rid)
}

/// The operation a `requestId` seen within [`world::REQUEST_ID_TTL`] started, if any.
fn replayed(app: &App, api: Api, rid: &str) -> Option<Value> {
    let mut w = app.ticked();
    let now = Instant::now();
    w.request_ids
        .retain(|_, (_, at)| now.saturating_duration_since(*at) < world::REQUEST_ID_TTL);
    let (op_key, _) = w.request_ids.get(&(api, rid.to_string())).cloned()?;
    w.ops.get(&op_key).map(|op| op.data.clone())
}

/// Runs the request against the world and remembers the operation a mutation with a
/// `requestId` started.
fn run(
    app: &App,
    req: &Req,
    request_id: Option<&str>,
    mutating: bool,
) -> Result<Outcome, ApiError> {
    let mut w = app.ticked();
    let out = dispatch(&mut w, req);
    if let (
        Ok(Outcome::Reply {
            op: Some(op_key), ..
        }),
        Some(rid),
    ) = (&out, request_id)
        && mutating
    {
        w.request_ids
            .insert((req.api, rid.to_string()), (op_key.clone(), Instant::now()));
    }
    out
}

/// The pipeline of an API request, in order: route, authenticate, throttle, validate the
/// query and body, answer a repeated `requestId`, wait the latency, inject a failure, run.
async fn answer_raw(app: &App, call: &Call<'_>) -> Result<(u16, Value), ApiError> {
    let (doc, method_def) = route(app, call)?;
    let user = authenticate(app, call.headers)?;
    let is_ops = method_def.name.contains("perations.");
    let mutating = call.method.as_str() != "GET" && !is_ops;
    let creating = matches!(method_def.verb(), "insert" | "create");
    let fault = {
        let mut w = app.world();
        app.config.faults().draw(|| w.roll(), mutating, creating)
    };
    if fault == Fault::Throttled {
        return Err(ApiError::new(
            429,
            "RESOURCE_EXHAUSTED",
            "rateLimitExceeded",
            "Quota exceeded for quota metric 'Queries' (injected by gcp-sim).",
        ));
    }
    validate::check_query(doc, method_def, call.query).map_err(ApiError::invalid)?;
    let (body, sent) = checked_body(doc, method_def, call.body)?;
    let request_id = request_id(method_def, call.query)?;
    if let Some(rid) = &request_id
        && let Some(op) = replayed(app, call.api, rid)
    {
        return Ok((200, op));
    }
    app.config.faults().pause().await;
    if fault == Fault::Before {
        return Err(injected(&mut app.world()));
    }
    let rel = call
        .uri
        .path()
        .trim_start_matches('/')
        .strip_prefix(doc.service_path.as_str())
        .unwrap_or_default();
    let req = Req {
        api: call.api,
        doc,
        method: method_def,
        segs: rel.split('/').map(discovery::percent_decode).collect(),
        query: call.query,
        body,
        sent,
        urls: &app.urls,
        user,
    };
    match run(app, &req, request_id.as_deref(), mutating)? {
        _ if fault == Fault::AfterSuccess => Err(injected(&mut app.world())),
        Outcome::Reply { status, body, .. } => Ok((status, body)),
        Outcome::Wait(op_key) => Ok(wait_op(app, &op_key).await),
    }
}

/// Compute's `operations.wait`: returns when the operation is done, or after 2 minutes.
async fn wait_op(app: &App, op_key: &str) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (phase, data, due) = {
            let w = app.ticked();
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
