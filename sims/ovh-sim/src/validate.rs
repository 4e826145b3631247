//! Request validation, driven by the schema alone: path and query parameters, and the body
//! (unknown fields, wrong types, missing required fields, read-only fields sent).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value;

use crate::schema::{Operation, ParamKind, Schema};

/// Checks the path parameters, query parameters and body of a request against `op`.
/// The error is the message of a `Client::BadRequest`, naming the parameter or field.
pub fn check_request(
    schema: &Schema,
    op: &Operation,
    path_params: &BTreeMap<String, String>,
    query: &BTreeMap<String, String>,
    body: Option<&Value>,
) -> Result<(), String> {
    if op.api_status == "DELETED" {
        return Err("This call has been removed from the API (apiStatus DELETED)".to_string());
    }
    for p in op.params.iter().filter(|p| p.kind == ParamKind::Path) {
        let name = p.name.as_deref().unwrap_or_default();
        if let Some(v) = path_params.get(name) {
            check_scalar_string(schema, &p.data_type, v).map_err(|_| {
                format!(
                    "[{name}] Given data ({v}) is not valid for type {}",
                    p.data_type
                )
            })?;
        }
    }
    for (k, v) in query {
        let Some(p) = op
            .params
            .iter()
            .find(|p| p.kind == ParamKind::Query && p.name.as_deref() == Some(k.as_str()))
        else {
            return Err(format!("[{k}] Unknown query parameter"));
        };
        check_scalar_string(schema, &p.data_type, v).map_err(|_| {
            format!(
                "[{k}] Given data ({v}) is not valid for type {}",
                p.data_type
            )
        })?;
    }
    for p in op
        .params
        .iter()
        .filter(|p| p.kind == ParamKind::Query && p.required)
    {
        let name = p.name.as_deref().unwrap_or_default();
        if !query.contains_key(name) {
            return Err(format!("[{name}] Missing mandatory query parameter"));
        }
    }
    let body_params: Vec<_> = op
        .params
        .iter()
        .filter(|p| p.kind == ParamKind::Body)
        .collect();
    let body = body.filter(|b| !b.is_null());
    if body_params.is_empty() {
        return match body {
            Some(Value::Object(m)) if m.is_empty() => Ok(()),
            Some(_) => Err("This call takes no body".to_string()),
            None => Ok(()),
        };
    }
    if let [whole] = body_params.as_slice()
        && whole.name.is_none()
    {
        return match body {
            Some(b) => check_value(schema, &whole.data_type, b, ""),
            None if whole.required => Err("Missing body".to_string()),
            None => Ok(()),
        };
    }
    let empty = serde_json::Map::new();
    let fields = match body {
        Some(Value::Object(m)) => m,
        Some(_) => return Err("The body must be a JSON object".to_string()),
        None => &empty,
    };
    for (k, v) in fields {
        let Some(p) = body_params
            .iter()
            .find(|p| p.name.as_deref() == Some(k.as_str()))
        else {
            return Err(format!("[{k}] Unknown parameter"));
        };
        if v.is_null() {
            if p.required {
                return Err(format!("[{k}] Property is mandatory"));
            }
            continue;
        }
        check_value(schema, &p.data_type, v, k)?;
    }
    for p in body_params.iter().filter(|p| p.required) {
        let name = p.name.as_deref().unwrap_or_default();
        if fields.get(name).is_none_or(Value::is_null) {
            return Err(format!("[{name}] Property is mandatory"));
        }
    }
    Ok(())
}

fn field_path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn invalid(at: &str, v: &Value, ty: &str) -> String {
    let shown = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let shown: String = shown.chars().take(60).collect();
    if at.is_empty() {
        format!("Given data ({shown}) is not valid for type {ty}")
    } else {
        format!("[{at}] Given data ({shown}) is not valid for type {ty}")
    }
}

/// Checks one JSON value against an OVH type name.
pub fn check_value(schema: &Schema, ty: &str, v: &Value, at: &str) -> Result<(), String> {
    if let Some(inner) = ty.strip_suffix("[]") {
        let Value::Array(items) = v else {
            return Err(invalid(at, v, ty));
        };
        for (i, item) in items.iter().enumerate() {
            check_value(schema, inner, item, &format!("{at}[{i}]"))?;
        }
        return Ok(());
    }
    if let Some((key_ty, val_ty)) = parse_map(ty) {
        let Value::Object(m) = v else {
            return Err(invalid(at, v, ty));
        };
        for (k, item) in m {
            let key_path = field_path(at, k);
            check_scalar_string(schema, key_ty, k)
                .map_err(|_| invalid(&key_path, &Value::String(k.clone()), key_ty))?;
            check_value(schema, val_ty, item, &key_path)?;
        }
        return Ok(());
    }
    if let Some(model) = schema.models.get(ty) {
        if let Some(values) = &model.enum_values {
            if values.iter().any(|e| e == v) {
                return Ok(());
            }
            let allowed: Vec<String> = values
                .iter()
                .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
                .collect();
            return Err(format!(
                "{} (allowed: {})",
                invalid(at, v, ty),
                allowed.join(", ")
            ));
        }
        let Value::Object(fields) = v else {
            return Err(invalid(at, v, ty));
        };
        let generic_args = generic_args(ty);
        for (k, item) in fields {
            let fp = field_path(at, k);
            let Some(prop) = model.properties.get(k) else {
                return Err(format!("[{fp}] Unknown property (not in {ty})"));
            };
            if prop.read_only {
                return Err(format!("[{fp}] Property is read-only"));
            }
            if item.is_null() {
                if prop.required && !prop.can_be_null {
                    return Err(format!("[{fp}] Property is mandatory"));
                }
                continue;
            }
            let prop_ty = match model.generics.iter().position(|g| *g == prop.type_name) {
                Some(i) => generic_args.get(i).map_or("string", String::as_str),
                None => prop.type_name.as_str(),
            };
            check_value(schema, prop_ty, item, &fp)?;
        }
        for (k, prop) in &model.properties {
            if prop.required && !prop.read_only && !fields.contains_key(k) {
                return Err(format!("[{}] Property is mandatory", field_path(at, k)));
            }
        }
        return Ok(());
    }
    match ty {
        "long" | "int" => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(()),
            _ => Err(invalid(at, v, ty)),
        },
        "double" | "float" => match v {
            Value::Number(_) => Ok(()),
            _ => Err(invalid(at, v, ty)),
        },
        "boolean" => match v {
            Value::Bool(_) => Ok(()),
            _ => Err(invalid(at, v, ty)),
        },
        "duration" => match v {
            Value::Number(_) | Value::String(_) => Ok(()),
            _ => Err(invalid(at, v, ty)),
        },
        _ if is_primitive(ty) => match v {
            Value::String(s) => check_scalar_string(schema, ty, s).map_err(|_| invalid(at, v, ty)),
            _ => Err(invalid(at, v, ty)),
        },
        // A type the schema does not describe (a model of another section): accept it.
        _ => Ok(()),
    }
}

/// The concrete type arguments of a generic model name: `complexType.UnitAndValue<long>`.
fn generic_args(ty: &str) -> Vec<String> {
    match (ty.find('<'), ty.rfind('>')) {
        (Some(a), Some(b)) if a < b => ty[a + 1..b]
            .split(',')
            .map(|s| s.trim().to_string())
            .collect(),
        _ => Vec::new(),
    }
}

/// `map[K]V` → `(K, V)`.
fn parse_map(ty: &str) -> Option<(&str, &str)> {
    let rest = ty.strip_prefix("map[")?;
    let close = rest.find(']')?;
    Some((&rest[..close], &rest[close + 1..]))
}

/// The OVH scalar types this simulator knows.
pub fn is_primitive(ty: &str) -> bool {
    matches!(
        ty,
        "string"
            | "text"
            | "password"
            | "long"
            | "int"
            | "double"
            | "float"
            | "boolean"
            | "datetime"
            | "date"
            | "time"
            | "duration"
            | "ip"
            | "ipv4"
            | "ipv6"
            | "ipBlock"
            | "ipv4Block"
            | "ipv6Block"
            | "uuid"
    )
}

/// Checks a value given as a string (path or query parameter, map key) against a type.
pub fn scalar_string_ok(schema: &Schema, ty: &str, s: &str) -> bool {
    match ty {
        "string" | "text" | "password" | "duration" => true,
        "long" | "int" => s.parse::<i64>().is_ok(),
        "double" | "float" => s.parse::<f64>().is_ok(),
        "boolean" => s == "true" || s == "false",
        "datetime" | "date" => is_date_like(s),
        "time" => s.split(':').count() >= 2 && s.split(':').all(|p| !p.is_empty()),
        "ip" => s.parse::<IpAddr>().is_ok(),
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        "ipBlock" => is_block(s, |a| a.parse::<IpAddr>().is_ok()),
        "ipv4Block" => is_block(s, |a| a.parse::<std::net::Ipv4Addr>().is_ok()),
        "ipv6Block" => is_block(s, |a| a.parse::<std::net::Ipv6Addr>().is_ok()),
        "uuid" => is_uuid(s),
        _ => match schema.models.get(ty).and_then(|m| m.enum_values.as_ref()) {
            Some(values) => values
                .iter()
                .any(|e| e.as_str() == Some(s) || (!e.is_string() && same_text(e, s))),
            None => true,
        },
    }
}

fn same_text(e: &Value, s: &str) -> bool {
    let text = e.to_string();
    text == s
}

fn is_block(s: &str, addr_ok: impl Fn(&str) -> bool) -> bool {
    match s.split_once('/') {
        Some((a, len)) => addr_ok(a) && len.parse::<u8>().is_ok_and(|l| l <= 128),
        None => addr_ok(s),
    }
}

fn is_date_like(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
}

/// `8-4-4-4-12` hexadecimal digits.
pub fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn check_scalar_string(schema: &Schema, ty: &str, s: &str) -> Result<(), ()> {
    if scalar_string_ok(schema, ty, s) {
        Ok(())
    } else {
        Err(())
    }
}
