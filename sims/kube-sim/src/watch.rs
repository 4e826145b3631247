//! `GET <collection>?watch=true`: a stream of `{"type": "ADDED" | "MODIFIED" | "DELETED",
//! "object": …}` lines, one per change of an object the list would answer (label and field
//! selectors apply, so a single object is watched with `fieldSelector=metadata.name=…`). From
//! `resourceVersion` when one is given, else every current object first as `ADDED`. It ends
//! after `timeoutSeconds` (at most five minutes) or when the client goes away. What `kubectl
//! wait` / `rollout status` and kube-rs's watcher need.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::App;
use crate::errors::ApiError;
use crate::request::Req;

/// How often the watch looks for changes.
const POLL: Duration = Duration::from_millis(25);
/// The longest a watch lasts.
const MAX_SECONDS: u64 = 300;

/// The receiving end of the event lines, as the body's stream.
struct Lines(mpsc::Receiver<Bytes>);

impl futures_core::Stream for Lines {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|line| line.map(Ok))
    }
}

fn rv_of(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn key_of(obj: &Value) -> String {
    format!(
        "{}/{}",
        obj["metadata"]["namespace"].as_str().unwrap_or_default(),
        obj["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// Starts a watch of the collection `req` names, or answers why not.
pub fn start(app: Arc<App>, req: &Req) -> Result<Response, ApiError> {
    // The first look also checks the path and the selectors.
    app.watched(req)?;
    let from: u64 = req
        .query
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let seconds = req
        .query
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(MAX_SECONDS)
        .min(MAX_SECONDS);
    let owned = WatchReq {
        path: req.path.to_string(),
        query: req.query.clone(),
    };
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(run(app, owned, from, Duration::from_secs(seconds), tx));
    let headers = [("content-type", "application/json")];
    Ok((headers, Body::from_stream(Lines(rx))).into_response())
}

/// What the watch task keeps of the request.
struct WatchReq {
    path: String,
    query: std::collections::BTreeMap<String, String>,
}

/// Sends the events until the time is up or the client has gone.
async fn run(app: Arc<App>, req: WatchReq, from: u64, time: Duration, tx: mpsc::Sender<Bytes>) {
    let mut known: HashMap<String, (u64, Value)> = HashMap::new();
    let mut first = true;
    let deadline = tokio::time::Instant::now() + time;
    let mut tick = tokio::time::interval(POLL);
    while tokio::time::Instant::now() < deadline {
        tick.tick().await;
        let probe = Req {
            method: "GET",
            path: &req.path,
            query: &req.query,
            content_type: "",
            body: "",
            user_agent: "",
            host: "",
        };
        let Ok(items) = app.watched(&probe) else {
            return;
        };
        let mut events = Vec::new();
        let mut seen = Vec::with_capacity(items.len());
        for obj in items {
            let (key, rv) = (key_of(&obj), rv_of(&obj));
            seen.push(key.clone());
            let kind = match known.get(&key) {
                None if first && from > 0 && rv <= from => None,
                None => Some("ADDED"),
                Some((old, _)) if *old != rv => Some("MODIFIED"),
                Some(_) => None,
            };
            if let Some(kind) = kind {
                events.push(json!({"type": kind, "object": obj}));
            }
            known.insert(key, (rv, obj));
        }
        let gone: Vec<String> = known
            .keys()
            .filter(|k| !seen.contains(k))
            .cloned()
            .collect();
        for key in gone {
            if let Some((_, obj)) = known.remove(&key) {
                events.push(json!({"type": "DELETED", "object": obj}));
            }
        }
        first = false;
        for event in events {
            if tx.send(Bytes::from(format!("{event}\n"))).await.is_err() {
                return;
            }
        }
    }
}
