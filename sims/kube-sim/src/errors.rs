//! The API server's failure answers: a `Status` object with `reason`, `message`, `details` and
//! `code`, worded as the real server words them.

use serde_json::{Value, json};

use crate::kinds::Kind;
use crate::validate::Problem;

/// A failed request, as a `Status` object.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(details);
        self
    }

    /// `deployments.apps "web" not found`.
    pub fn not_found(kind: &Kind, name: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", kind.resource()),
        )
        .with_details(kind.details(name))
    }

    /// A path no resource serves.
    pub fn no_route(path: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
        .with_details(json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}))
    }

    /// `deployments.apps "web" already exists`.
    pub fn already_exists(kind: &Kind, name: &str) -> ApiError {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", kind.resource()),
        )
        .with_details(kind.details(name))
    }

    /// A stale `resourceVersion`.
    pub fn stale(kind: &Kind, name: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                kind.resource()
            ),
        )
        .with_details(kind.details(name))
    }

    pub fn method_not_allowed(method: &str) -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
    }

    /// What schema validation found: decoding problems (unknown fields, wrong types) are a
    /// 400 as the strict decoder answers (server-side apply words it its own way: `apply`
    /// holds the object's namespace then); the rest a 422 `Invalid` with one cause each.
    pub fn invalid(kind: &Kind, name: &str, problems: &[Problem], apply: Option<&str>) -> ApiError {
        let decoding: Vec<&Problem> = problems.iter().filter(|p| p.is_decoding()).collect();
        if !decoding.is_empty() {
            let said: Vec<String> = decoding
                .iter()
                .map(|p| decoding_text(p, apply.is_some()))
                .collect();
            let message = match apply {
                // As structured-merge-diff prints the object: `ns/name; group/version, Kind=K`.
                Some(namespace) => format!(
                    "failed to create typed patch object ({}{name}; {}/{}, Kind={}): {}",
                    if namespace.is_empty() {
                        String::new()
                    } else {
                        format!("{namespace}/")
                    },
                    kind.group,
                    kind.version,
                    kind.kind,
                    said.join(", ")
                ),
                None => format!("strict decoding error: {}", said.join(", ")),
            };
            return ApiError::bad_request(message);
        }
        let causes: Vec<Value> = problems.iter().map(cause).collect();
        let texts: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.path(), cause_message(p)))
            .collect();
        let summary = if texts.len() == 1 {
            texts.join("")
        } else {
            format!("[{}]", texts.join(", "))
        };
        let mut details = kind.details(name);
        details["kind"] = json!(kind.kind);
        details["causes"] = json!(causes);
        ApiError::new(
            422,
            "Invalid",
            format!("{} \"{name}\" is invalid: {summary}", kind.qualified_kind()),
        )
        .with_details(details)
    }

    /// The `Status` body.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            body["details"] = d.clone();
        }
        body
    }
}

fn decoding_text(p: &Problem, apply: bool) -> String {
    match (p, apply) {
        (Problem::Unknown(path), false) => format!("unknown field \"{path}\""),
        (Problem::Unknown(path), true) => format!(".{path}: field not declared in schema"),
        (Problem::Type { path, expected }, _) => {
            format!(".{path}: expected {expected}")
        }
        (other, _) => other.path().to_string(),
    }
}

fn cause_message(p: &Problem) -> String {
    match p {
        Problem::Required(_) => "Required value".to_string(),
        Problem::Value { message, .. } => message.clone(),
        Problem::Unknown(_) => "field not declared in schema".to_string(),
        Problem::Type { expected, .. } => format!("expected {expected}"),
    }
}

fn cause(p: &Problem) -> Value {
    let reason = match p {
        Problem::Required(_) => "FieldValueRequired",
        Problem::Value { message, .. } if message.starts_with("Unsupported") => {
            "FieldValueNotSupported"
        }
        _ => "FieldValueInvalid",
    };
    json!({"reason": reason, "message": cause_message(p), "field": p.path()})
}
