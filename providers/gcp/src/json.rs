//! JSON helpers shared by the service modules: request bodies are written as JSON in the
//! discovery documents' field names and converted to the client crates' typed models
//! (`serde`), and answers are read back the same way.

use std::collections::BTreeMap;

use provider_api::kit::config::attr_str;
use provider_api::{Attrs, ProviderError, ResourceState, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

/// A request body as the client crate's model.
pub fn model<T: DeserializeOwned>(what: &str, v: Json) -> Result<T, ProviderError> {
    serde_json::from_value(v)
        .map_err(|e| ProviderError::Other(format!("{what}: cannot build the request body: {e}")))
}

/// A client crate's model as JSON.
pub fn js<T: Serialize>(t: &T) -> Json {
    serde_json::to_value(t).unwrap_or(Json::Null)
}

/// The last segment of a resource name or URL.
pub fn last(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// A reference as a partial resource name: everything from `projects/` on.
pub fn partial(s: &str) -> String {
    match s.find("projects/") {
        Some(i) => s[i..].to_string(),
        None => s.to_string(),
    }
}

/// A reference field (a URL) as a partial resource name.
pub fn reference(v: &Json) -> Value {
    Value::from(partial(v.as_str().unwrap_or_default()))
}

/// A JSON field as a string value (null stays null).
pub fn text(v: &Json) -> Value {
    match v {
        Json::String(s) => Value::from(s.as_str()),
        Json::Null => Value::Null,
        other => Value::from(other.to_string()),
    }
}

/// A JSON field as a number value (Google writes 64-bit numbers as strings).
pub fn num(v: &Json) -> Value {
    match v {
        Json::Number(n) => n.as_f64().map_or(Value::Null, Value::from),
        Json::String(s) => s.parse::<f64>().map_or(Value::Null, Value::from),
        _ => Value::Null,
    }
}

/// A JSON array as a list of string values.
pub fn list_value(items: &Json) -> Value {
    Value::List(items.as_array().into_iter().flatten().map(text).collect())
}

/// A string attribute of a configuration, empty when absent.
pub fn cfg_str(config: &Attrs, k: &str) -> String {
    attr_str(config, k).unwrap_or_default().to_string()
}

/// An object's state; its `id` attribute is the id.
pub fn state(id: String, pairs: Vec<(&str, Value)>) -> ResourceState {
    let mut attrs: Attrs = pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    attrs.insert("id".into(), Value::from(id.as_str()));
    ResourceState { id, attrs }
}

/// A fresh `requestId`: one for every attempt of a mutation, so that a repeated call answers
/// the first one's operation.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The objects of `ids` among those a list found, in order; `None` for one not found.
pub fn pick(found: &BTreeMap<String, ResourceState>, ids: &[String]) -> Vec<Option<ResourceState>> {
    ids.iter().map(|id| found.get(id).cloned()).collect()
}
