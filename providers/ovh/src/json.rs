//! Reading the API's JSON answers and a resource's configuration, and the `PARENT/CHILD` ids
//! of objects that live under another.

use provider_api::kit::config::attr_str;
use provider_api::{Attrs, ProviderError, Value};
use serde_json::Value as Json;

/// A string field.
pub fn js<'a>(j: &'a Json, k: &str) -> Option<&'a str> {
    j.get(k).and_then(Json::as_str)
}

/// A field as a value (null when absent).
pub fn jv(j: &Json, k: &str) -> Value {
    j.get(k).map(Value::from_json).unwrap_or(Value::Null)
}

/// A string field as a value (null when absent or not a string).
pub fn jstr(j: &Json, k: &str) -> Value {
    js(j, k).map(Value::from).unwrap_or(Value::Null)
}

/// The items of a list answer (none when the answer is not a list).
pub fn list(j: Json) -> Vec<Json> {
    match j {
        Json::Array(items) => items,
        _ => Vec::new(),
    }
}

/// An id as the API writes it: a string or a number.
pub fn id_text(j: &Json) -> Option<String> {
    match j {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `id` of a create's answer.
pub fn answer_id<'a>(j: &'a Json, what: &str) -> Result<&'a str, ProviderError> {
    js(j, "id").ok_or_else(|| ProviderError::Other(format!("the {what} answer has no id")))
}

/// A string attribute the request cannot do without.
pub fn need_str<'a>(config: &'a Attrs, k: &str) -> Result<&'a str, ProviderError> {
    attr_str(config, k).ok_or_else(|| ProviderError::Invalid(format!("`{k}` is required")))
}

/// An optional whole-number attribute.
pub fn opt_i64(config: &Attrs, k: &str) -> Option<i64> {
    config.get(k).and_then(Value::as_i64)
}

/// A whole-number attribute the request cannot do without.
pub fn need_i64(config: &Attrs, k: &str) -> Result<i64, ProviderError> {
    opt_i64(config, k)
        .ok_or_else(|| ProviderError::Invalid(format!("`{k}` must be a whole number")))
}

/// Splits a `PARENT/CHILD` id.
pub fn split_id(id: &str) -> Result<(&str, &str), ProviderError> {
    id.split_once('/')
        .ok_or_else(|| ProviderError::Invalid(format!("id {id:?} is not PARENT/CHILD")))
}

/// The parent part of a `PARENT/CHILD` id, as a value (null for a top-level id).
pub fn parent_value(id: &str) -> Value {
    id.split_once('/')
        .map(|(p, _)| Value::from(p))
        .unwrap_or_default()
}

/// A "not found" answer as `None`.
pub fn not_found_is_none<T>(r: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(ProviderError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
