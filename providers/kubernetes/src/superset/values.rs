//! Small builders of `provider_api::Value` trees that keep the two marks: a value made from an
//! unknown input is unknown, a value made from a sensitive input is sensitive, and nothing else
//! is touched (an unknown database host makes the config text unknown, not the Deployment).

use base64::Engine as _;
use provider_api::Value;
use sha2::{Digest, Sha256};

/// A map from `(key, value)` pairs; pairs whose value is `Null` are left out (an optional
/// setting that is not set is absent from the manifest, as server-side apply wants it).
pub fn map<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    Value::Map(
        pairs
            .into_iter()
            .filter(|(_, v)| !matches!(v, Value::Null))
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// A plain string.
pub fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

/// A whole number (sent as a JSON integer by `Value::to_json`).
pub fn n(number: i64) -> Value {
    Value::from(number)
}

/// A list.
pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
    Value::List(items.into_iter().collect())
}

/// A map of string labels.
pub fn labels(pairs: &[(&str, &str)]) -> Value {
    map(pairs.iter().map(|(k, v)| (*k, s(v))))
}

/// Collects the text of several inputs, remembering whether any was unknown or sensitive, so
/// that a value built from them carries the right mark.
#[derive(Default)]
pub struct Gather {
    unknown: bool,
    sensitive: bool,
}

impl Gather {
    /// The text of a string or whole-number input; `""` (and the unknown flag) when unknown.
    pub fn text(&mut self, value: &Value) -> String {
        self.sensitive |= value.is_sensitive();
        match value.peel() {
            Value::String(text) => text.clone(),
            Value::Number(_) => value.as_i64().map(|i| i.to_string()).unwrap_or_else(|| {
                self.unknown = true;
                String::new()
            }),
            Value::Bool(b) => b.to_string(),
            _ => {
                self.unknown = true;
                String::new()
            }
        }
    }

    /// The finished value: `Unknown` when any input was, else the text, marked sensitive when
    /// any input was.
    pub fn finish(self, text: String) -> Value {
        if self.unknown {
            Value::Unknown
        } else {
            Value::String(text).mark_if(self.sensitive)
        }
    }
}

/// The concatenation of string (or number) parts, unknown or sensitive as its parts are.
pub fn concat(parts: &[&Value]) -> Value {
    let mut gather = Gather::default();
    let text: String = parts.iter().map(|p| gather.text(p)).collect();
    gather.finish(text)
}

/// A number or string input as a string (environment variables and KEDA metadata are strings).
pub fn string_of(value: &Value) -> Value {
    concat(&[value])
}

/// The base64 of a string value (a Secret's `data`), keeping its marks.
pub fn base64(value: &Value) -> Value {
    let mut gather = Gather::default();
    let text = gather.text(value);
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    gather.finish(encoded)
}

/// The first `len` hex digits of the SHA-256 of the value's JSON (keys sorted), or `Unknown`
/// when any part of it is unknown. Names and checksum annotations use it.
pub fn short_hash(value: &Value, len: usize) -> Value {
    let Some(json) = value.to_json() else {
        return Value::Unknown;
    };
    let digest = Sha256::digest(json.to_string().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Value::String(hex.chars().take(len).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_keeps_marks() {
        assert_eq!(concat(&[&s("a"), &n(5)]), s("a5"));
        assert_eq!(concat(&[&s("a"), &Value::Unknown]), Value::Unknown);
        let secret = concat(&[&s("a"), &s("pw").sensitive()]);
        assert!(matches!(secret, Value::Sensitive(_)));
        assert_eq!(secret.as_str(), Some("apw"));
    }

    #[test]
    fn base64_and_hash() {
        assert_eq!(base64(&s("superset")), s("c3VwZXJzZXQ="));
        assert_eq!(base64(&Value::Unknown), Value::Unknown);
        assert!(matches!(base64(&s("x").sensitive()), Value::Sensitive(_)));
        let a = short_hash(&s("apache/superset:4.1.1"), 8);
        assert_eq!(a.as_str().map(str::len), Some(8));
        assert_ne!(a, short_hash(&s("apache/superset:5.0.0"), 8));
        assert_eq!(short_hash(&list([Value::Unknown]), 8), Value::Unknown);
    }
}
