//! What the routes and the writes share: a request, its answer, the object a path names, and
//! the reads both need (a stored object, a workload's `Scale`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::kinds::Kind;
use crate::world::World;

/// One API request.
#[derive(Debug)]
pub struct Req<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a BTreeMap<String, String>,
    pub content_type: &'a str,
    pub body: &'a str,
    pub user_agent: &'a str,
    /// The `Host` header (discovery's server address).
    pub host: &'a str,
}

/// A status code and a JSON body, or a failure `Status`.
pub type Answer = Result<(u16, Value), ApiError>;

/// The object (or collection) a resource path names.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: Kind,
    /// `""` for cluster-scoped objects and lists across namespaces.
    pub namespace: String,
    pub name: Option<String>,
    /// `status` or `scale`.
    pub sub: Option<String>,
}

impl Target {
    pub fn key(&self) -> String {
        self.kind
            .key(&self.namespace, self.name.as_deref().unwrap_or_default())
    }
}

/// The stored object `t` names, or its 404.
pub fn stored(w: &World, t: &Target) -> Result<Value, ApiError> {
    let name = t.name.as_deref().unwrap_or_default();
    w.get(&t.key())
        .map(|o| o.data.clone())
        .ok_or_else(|| ApiError::not_found(&t.kind, name))
}

/// The `autoscaling/v1` `Scale` of a Deployment or StatefulSet.
pub fn scale_of(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let selector: Vec<String> = obj["spec"]["selector"]["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": obj["spec"]["replicas"]},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector.join(",")},
    })
}
