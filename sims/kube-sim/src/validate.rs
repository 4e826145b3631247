//! Strict validation of an object against its schema: what the API server refuses when it
//! decodes a body with `fieldValidation=Strict` (unknown fields, wrong types: 400) and what its
//! validation refuses (missing required fields, values outside an enum: 422 `Invalid`).

use serde_json::Value;

use crate::schema::Node;

/// One thing wrong with an object, at a field path like `spec.template.spec.containers[0].name`.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// A field the schema does not declare.
    Unknown(String),
    /// A value of the wrong JSON type (`expected` names what the schema wants).
    Type { path: String, expected: String },
    /// A required field that is absent.
    Required(String),
    /// A value the schema's enum does not list, or a malformed one (bad base64, bad number).
    Value { path: String, message: String },
}

impl Problem {
    /// Whether the API server refuses this while decoding (400), not while validating (422).
    pub fn is_decoding(&self) -> bool {
        matches!(self, Problem::Unknown(_) | Problem::Type { .. })
    }

    pub fn path(&self) -> &str {
        match self {
            Problem::Unknown(p) | Problem::Required(p) => p,
            Problem::Type { path, .. } | Problem::Value { path, .. } => path,
        }
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// Every problem of `value` against `node`, in document order.
pub fn validate(node: Node, value: &Value, path: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    check(node, value, path, &mut problems);
    problems
}

fn check(node: Node, value: &Value, path: &str, out: &mut Vec<Problem>) {
    if node.is_free() || value.is_null() {
        return;
    }
    if node.int_or_string() {
        if !(value.is_string() || value.is_i64() || value.is_u64()) {
            out.push(type_problem(path, "int or string"));
        }
        return;
    }
    let alternatives = node.alternatives();
    if !alternatives.is_empty() {
        if !alternatives
            .iter()
            .any(|alt| validate(*alt, value, path).is_empty())
        {
            let names: Vec<&str> = alternatives.iter().flat_map(|a| a.types()).collect();
            out.push(type_problem(path, &names.join(" or ")));
        }
        return;
    }
    let types = node.types();
    let fits = |t: &str| match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    };
    if !types.is_empty() && !types.iter().any(|t| fits(t)) {
        let wanted: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
        out.push(type_problem(path, &wanted.join(" or ")));
        return;
    }
    match value {
        Value::Object(map) => check_object(node, map, path, out),
        Value::Array(items) => {
            if let Some(item) = node.items() {
                for (i, v) in items.iter().enumerate() {
                    check(item, v, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => check_scalar(node, value, path, out),
    }
}

fn type_problem(path: &str, expected: &str) -> Problem {
    Problem::Type {
        path: path.to_string(),
        expected: expected.to_string(),
    }
}

fn check_object(
    node: Node,
    map: &serde_json::Map<String, Value>,
    path: &str,
    out: &mut Vec<Problem>,
) {
    for (k, v) in map {
        match node.child(k) {
            Some(child) => check(child, v, &join(path, k), out),
            // A struct refuses what it does not declare (strict field validation; a CRD's
            // structural schema would prune it, which strict validation reports instead).
            None if node.has_properties() || !node.types().is_empty() => {
                out.push(Problem::Unknown(join(path, k)));
            }
            None => {}
        }
    }
    for field in node.required() {
        if map.get(field).is_none_or(Value::is_null) {
            out.push(Problem::Required(join(path, field)));
        }
    }
}

fn check_scalar(node: Node, value: &Value, path: &str, out: &mut Vec<Problem>) {
    let n = node.resolved();
    if let Some(allowed) = n.raw().get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let listed: Vec<String> = allowed.iter().map(Value::to_string).collect();
        out.push(Problem::Value {
            path: path.to_string(),
            message: format!(
                "Unsupported value: {value}: supported values: {}",
                listed.join(", ")
            ),
        });
    }
    let format = n.raw()["format"].as_str().unwrap_or_default();
    match (format, value) {
        ("byte", Value::String(s)) if !is_base64(s) => out.push(Problem::Value {
            path: path.to_string(),
            message: "illegal base64 data".to_string(),
        }),
        ("int32", Value::Number(x)) if x.as_i64().is_none_or(|i| i32::try_from(i).is_err()) => {
            out.push(type_problem(path, "int32"));
        }
        _ => {}
    }
}

/// Whether `s` is standard base64 with padding (what Go's `encoding/base64` accepts for `[]byte`).
fn is_base64(s: &str) -> bool {
    s.len().is_multiple_of(4)
        && s.trim_end_matches('=').len() + 2 >= s.len()
        && s.trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_checked_as_go_decodes_it() {
        assert!(is_base64("c2VjcmV0"));
        assert!(is_base64("YQ=="));
        assert!(is_base64(""));
        assert!(!is_base64("YQ"));
        assert!(!is_base64("not base64!"));
        assert!(!is_base64("Y==="));
    }
}
