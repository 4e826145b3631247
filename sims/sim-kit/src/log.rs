//! The request log: one JSON object per line and request.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::serve::lock;
use crate::text::parse_query;

/// How many characters of a secret a log keeps.
const SECRET_PREFIX: usize = 16;

/// One logged request.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The API that answered, for simulators that serve several (`null` left out).
    pub api: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    /// The query parameters (a repeated one: its last value).
    pub query: &'a [(String, String)],
    /// The body as logged: see [`body_value`] and [`form_value`].
    pub body: Value,
    pub status: u16,
    /// The fault injection that made the answer up, if any.
    pub injected: Option<&'a str>,
}

/// The request log of a simulator (writes nothing when it has no file).
#[derive(Debug)]
pub struct RequestLog {
    file: Mutex<Option<File>>,
}

impl RequestLog {
    /// Creates (truncates) the log file, if there is one.
    pub fn open(path: Option<&Path>) -> Result<RequestLog, String> {
        let file = match path {
            Some(path) => Some(
                File::create(path)
                    .map_err(|e| format!("cannot create request log {}: {e}", path.display()))?,
            ),
            None => None,
        };
        Ok(RequestLog {
            file: Mutex::new(file),
        })
    }

    /// Appends one line: `{"api"?, "method", "path", "query", "body", "status", "injected"?}`.
    pub fn write(&self, entry: Entry<'_>) {
        let mut guard = lock(&self.file);
        let Some(file) = guard.as_mut() else { return };
        let query: BTreeMap<&str, &str> = entry
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut line = serde_json::Map::new();
        if let Some(api) = entry.api {
            line.insert("api".to_string(), json!(api));
        }
        line.insert("method".to_string(), json!(entry.method));
        line.insert("path".to_string(), json!(entry.path));
        line.insert("query".to_string(), json!(query));
        line.insert("body".to_string(), entry.body);
        line.insert("status".to_string(), json!(entry.status));
        if let Some(fault) = entry.injected {
            line.insert("injected".to_string(), json!(fault));
        }
        let _ = writeln!(file, "{}", Value::Object(line));
    }
}

/// A JSON body as logged: `null` when empty, the JSON itself, or the text when it is not JSON.
pub fn body_value(body: &str) -> Value {
    if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| json!(body))
    }
}

/// A form body as logged: an object of its fields, the value of each field named in
/// `secrets` cut to its first characters and `…`, so that the log never holds the secret.
pub fn form_value(body: &str, secrets: &[&str]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let form: serde_json::Map<String, Value> = parse_query(Some(body))
        .into_iter()
        .map(|(k, v)| {
            let v = if secrets.contains(&k.as_str()) && v.chars().count() > SECRET_PREFIX {
                format!("{}…", v.chars().take(SECRET_PREFIX).collect::<String>())
            } else {
                v
            };
            (k, json!(v))
        })
        .collect();
    Value::Object(form)
}

/// A credentials body (JSON or form) as logged: an object of its fields, each field named in
/// `hidden` replaced by `"(hidden)"`, so that the log holds no part of a client secret.
pub fn hidden_value(body: &str, hidden: &[&str]) -> Value {
    let mut fields = match body_value(body) {
        Value::Object(map) => map,
        Value::Null => return Value::Null,
        _ => match form_value(body, &[]) {
            Value::Object(map) => map,
            other => return other,
        },
    };
    for key in hidden {
        if let Some(v) = fields.get_mut(*key) {
            *v = json!("(hidden)");
        }
    }
    Value::Object(fields)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hidden_fields_leave_nothing_of_the_secret() {
        let form = hidden_value(
            "grant_type=client_credentials&client_secret=s3cr3t",
            &["client_secret"],
        );
        assert_eq!(form["client_secret"], json!("(hidden)"));
        assert_eq!(form["grant_type"], json!("client_credentials"));
        let json_body = hidden_value(
            r#"{"client_secret":"s3cr3t","client_id":"k"}"#,
            &["client_secret"],
        );
        assert_eq!(json_body["client_secret"], json!("(hidden)"));
        assert_eq!(json_body["client_id"], json!("k"));
        assert!(!json_body.to_string().contains("s3cr3t"));
    }

    #[test]
    fn form_secrets_are_shortened() {
        let body = format!("grant_type=jwt&assertion={}", "a".repeat(40));
        let v = form_value(&body, &["assertion"]);
        assert_eq!(v["grant_type"], json!("jwt"));
        assert_eq!(v["assertion"], json!(format!("{}…", "a".repeat(16))));
    }

    #[test]
    fn lines_keep_their_field_order_and_marks() {
        let dir = std::env::temp_dir().join(format!("sim-kit-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("requests.log");
        let log = RequestLog::open(Some(&path)).unwrap();
        let query = [("a".to_string(), "1".to_string())];
        log.write(Entry {
            api: Some("compute"),
            method: "POST",
            path: "/x",
            query: &query,
            body: body_value("{\"k\": 1}"),
            status: 500,
            injected: Some("failed"),
        });
        log.write(Entry {
            api: None,
            method: "GET",
            path: "/y",
            query: &[],
            body: body_value(""),
            status: 200,
            injected: None,
        });
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"api":"compute","method":"POST","path":"/x","query":{"a":"1"},"body":{"k":1},"status":500,"injected":"failed"}"#,
                r#"{"method":"GET","path":"/y","query":{},"body":null,"status":200}"#,
            ]
        );
    }
}
