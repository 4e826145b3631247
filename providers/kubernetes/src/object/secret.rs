//! Keeping secrets out of states, messages and logs: a manifest's sensitive parts travel to
//! the API server and nowhere else.

use provider_api::Value;

/// What is shown instead of a secret in a message.
const HIDDEN: &str = "(sensitive value)";

/// The fields of a Secret (core `v1`) whose values are secret: each of their entries is read
/// back marked sensitive, since a read knows nothing of the configuration's marks.
const SECRET_FIELDS: [&str; 2] = ["data", "stringData"];

/// The read-back of an object with the entries of a Secret's `data` and `stringData` marked
/// sensitive (their keys stay visible, so a plan can say which entry changed).
pub fn mark_read_back(manifest: Value) -> Value {
    let is_secret = manifest.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && manifest.get("kind").and_then(Value::as_str) == Some("Secret");
    let Value::Map(mut map) = manifest else {
        return manifest;
    };
    if is_secret {
        for field in SECRET_FIELDS {
            if let Some(Value::Map(entries)) = map.get_mut(field) {
                for v in entries.values_mut() {
                    *v = std::mem::take(v).sensitive();
                }
            }
        }
    }
    Value::Map(map)
}

/// Every string under a sensitive mark in `value`: what a message must never show.
pub fn sensitive_strings(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect(value, false, &mut out);
    out.retain(|s| !s.is_empty());
    out.sort();
    out.dedup();
    out
}

fn collect(value: &Value, inside: bool, out: &mut Vec<String>) {
    match value {
        Value::Sensitive(inner) => collect(inner, true, out),
        Value::String(s) if inside => out.push(s.clone()),
        Value::Number(_) | Value::Bool(_) if inside => out.push(value.to_string()),
        Value::List(items) => items.iter().for_each(|v| collect(v, inside, out)),
        Value::Map(map) => map.values().for_each(|v| collect(v, inside, out)),
        _ => {}
    }
}

/// `message` with each of `secrets` replaced by a placeholder: an API server's refusal may
/// quote the value it refused.
pub fn scrub(message: &str, secrets: &[String]) -> String {
    // Longest first, so a secret that contains another is hidden whole.
    let mut ordered: Vec<&String> = secrets.iter().collect();
    ordered.sort_by_key(|s| std::cmp::Reverse(s.len()));
    ordered
        .into_iter()
        .fold(message.to_string(), |m, s| m.replace(s.as_str(), HIDDEN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn a_secrets_entries_read_back_sensitive_and_nothing_else_does() {
        let secret = map(vec![
            ("apiVersion", Value::from("v1")),
            ("kind", Value::from("Secret")),
            ("data", map(vec![("SECRET_KEY", Value::from("czNjcjN0"))])),
            ("type", Value::from("Opaque")),
        ]);
        let read = mark_read_back(secret);
        assert!(read.is_sensitive());
        assert_eq!(
            read.get("data").and_then(|d| d.get("SECRET_KEY")),
            Some(&Value::from("czNjcjN0").sensitive())
        );
        assert_eq!(read.get("type"), Some(&Value::from("Opaque")));
        assert!(!read.to_string().contains("czNjcjN0"), "{read}");
        let config_map = map(vec![
            ("apiVersion", Value::from("v1")),
            ("kind", Value::from("ConfigMap")),
            ("data", map(vec![("a", Value::from("b"))])),
        ]);
        assert!(!mark_read_back(config_map).is_sensitive());
    }

    #[test]
    fn messages_lose_every_sensitive_string() {
        let manifest = map(vec![
            ("kind", Value::from("Secret")),
            (
                "data",
                map(vec![
                    ("k", Value::from("hunter2").sensitive()),
                    ("whole", map(vec![("n", Value::from(42))]).sensitive()),
                    ("long", Value::from("hunter2hunter2").sensitive()),
                ]),
            ),
        ]);
        let secrets = sensitive_strings(&manifest);
        assert_eq!(secrets, vec!["42", "hunter2", "hunter2hunter2"]);
        let shown = scrub(
            "Secret \"x\" is invalid: data[k]: Invalid value: \"hunter2hunter2\"",
            &secrets,
        );
        assert_eq!(
            shown,
            "Secret \"x\" is invalid: data[k]: Invalid value: \"(sensitive value)\""
        );
    }
}
