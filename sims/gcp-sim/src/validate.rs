//! Request validation, driven by the discovery documents alone: query parameters (known
//! name, type, enum) and the body against the method's request schema, recursively through
//! `$ref`s, arrays (`items`) and maps (`additionalProperties`).
//!
//! Types follow the proto3 JSON mapping Google APIs use: `int64` / `uint64` (discovery type
//! `string` with that format) and `integer` accept a JSON string or an integral number;
//! `number` accepts a number or a numeric string (or `NaN` / `Infinity`); `null` is accepted
//! anywhere (it means "default"); an enum accepts its value's name or (as the proto3 JSON
//! mapping says) an integer. An inline `object` schema with neither `properties` nor
//! `additionalProperties` is free-form. Google's `$alt` and `$apiVersion` system parameters are
//! accepted on every method. [`map_enums`] turns enum values into names (stored bodies) or
//! numbers (answers to `$alt=json;enum-encoding=int`).

use serde_json::Value;

use crate::discovery::{Doc, Method, Param};

/// Google's system parameters in their `$` form, which every Google API accepts without its
/// discovery document listing them, and which Google's official Rust clients send on every
/// request: `$alt` (`json`, or `json;enum-encoding=int`: the response format) and
/// `$apiVersion` (compute's dated interface version).
fn system_parameter(k: &str, v: &str) -> Option<Result<(), String>> {
    match k {
        "$alt" => Some(if v == "json" || v.starts_with("json;") {
            Ok(())
        } else {
            Err(format!("Invalid value at '$alt' (json), \"{v}\""))
        }),
        "$apiVersion" => Some(Ok(())),
        _ => None,
    }
}

/// Checks the query parameters of a request. The error is an `INVALID_ARGUMENT` message.
pub fn check_query(doc: &Doc, method: &Method, query: &[(String, String)]) -> Result<(), String> {
    for (k, v) in query {
        if let Some(checked) = system_parameter(k, v) {
            checked?;
            continue;
        }
        let p = method
            .params
            .get(k)
            .filter(|p| p.location == "query")
            .or_else(|| doc.global_params.get(k));
        let Some(p) = p else {
            return Err(format!(
                "Invalid JSON payload received. Unknown name \"{k}\": Cannot bind query parameter. Field '{k}' could not be found in request message."
            ));
        };
        check_param(p, v)
            .map_err(|expected| format!("Invalid value at '{k}' ({expected}), \"{v}\""))?;
    }
    Ok(())
}

fn check_param(p: &Param, v: &str) -> Result<(), String> {
    if let Some(values) = &p.enum_values
        && !values.iter().any(|e| e == v)
    {
        return Err(format!("one of {}", values.join(", ")));
    }
    match (p.ty.as_str(), p.format.as_deref()) {
        ("integer", _) | ("string", Some("int64" | "uint64" | "int32" | "uint32")) => v
            .parse::<i128>()
            .map(|_| ())
            .map_err(|_| "an integer".to_string()),
        ("number", _) => v
            .parse::<f64>()
            .map(|_| ())
            .map_err(|_| "a number".to_string()),
        ("boolean", _) => match v {
            "true" | "false" | "1" | "0" => Ok(()),
            _ => Err("a boolean".to_string()),
        },
        _ => Ok(()),
    }
}

/// Checks a request body against the named schema. `at` names the body in messages
/// (`resource` for compute, the method's request field otherwise).
pub fn check_body(doc: &Doc, schema_name: &str, body: &Value) -> Result<(), String> {
    let schema = serde_json::json!({"$ref": schema_name});
    check_value(doc, &schema, body, "")
}

fn at_path(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(57).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

fn type_error(at: &str, expected: &str, v: &Value) -> String {
    format!(
        "Invalid value at '{}' ({expected}), {}",
        if at.is_empty() { "body" } else { at },
        shown(v)
    )
}

/// Checks one value against an inline schema (which may be a `$ref`).
pub fn check_value(doc: &Doc, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if v.is_null() {
        return Ok(());
    }
    if let Some(name) = schema["$ref"].as_str() {
        let Some(target) = doc.schema(name) else {
            return Err(format!("schema {name} is not in the discovery document"));
        };
        return check_object_schema(doc, name, target, v, at);
    }
    let ty = schema["type"].as_str().unwrap_or("any");
    let format = schema["format"].as_str();
    match ty {
        "any" => Ok(()),
        "string" => {
            if let Some("int64" | "uint64" | "int32" | "uint32") = format {
                let ok = match v {
                    Value::String(s) => s.parse::<i128>().is_ok(),
                    Value::Number(n) => n.is_i64() || n.is_u64(),
                    _ => false,
                };
                if !ok {
                    return Err(type_error(at, &format!("TYPE_{}", upper(format)), v));
                }
                if format == Some("uint64") && v.as_str().is_some_and(|s| s.starts_with('-')) {
                    return Err(type_error(at, "TYPE_UINT64", v));
                }
                return Ok(());
            }
            // The proto3 JSON mapping: an enum field also accepts the value's number, which
            // Google's clients send with `$alt=json;enum-encoding=int`. Any integer is
            // accepted; [`map_enums`] then stores the name of those within the enum's list.
            if schema["enum"].is_array() && (v.is_i64() || v.is_u64()) {
                return Ok(());
            }
            let Some(s) = v.as_str() else {
                return Err(type_error(at, "TYPE_STRING", v));
            };
            if let Some(values) = schema["enum"].as_array()
                && !values.iter().any(|e| e.as_str() == Some(s))
            {
                return Err(format!(
                    "Invalid value at '{at}' (enum), \"{s}\": expected one of {}",
                    values
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            Ok(())
        }
        "integer" => {
            let ok = match v {
                Value::Number(n) => n.is_i64() || n.is_u64(),
                Value::String(s) => s.parse::<i128>().is_ok(),
                _ => false,
            };
            let negative_unsigned =
                format.is_some_and(|f| f.starts_with('u')) && v.as_i64().is_some_and(|n| n < 0);
            if !ok || negative_unsigned {
                return Err(type_error(
                    at,
                    &format!("TYPE_{}", upper(format.or(Some("int32")))),
                    v,
                ));
            }
            Ok(())
        }
        "number" => {
            let ok = match v {
                Value::Number(_) => true,
                Value::String(s) => {
                    s.parse::<f64>().is_ok()
                        || matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity")
                }
                _ => false,
            };
            if ok {
                Ok(())
            } else {
                Err(type_error(at, "TYPE_DOUBLE", v))
            }
        }
        "boolean" => {
            if v.is_boolean() {
                Ok(())
            } else {
                Err(type_error(at, "TYPE_BOOL", v))
            }
        }
        "array" => {
            let Some(items) = v.as_array() else {
                return Err(type_error(at, "a list", v));
            };
            for (i, item) in items.iter().enumerate() {
                check_value(doc, &schema["items"], item, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        "object" => check_object_schema(doc, "", schema, v, at),
        _ => Ok(()),
    }
}

fn upper(format: Option<&str>) -> String {
    format.unwrap_or_default().to_ascii_uppercase()
}

fn check_object_schema(
    doc: &Doc,
    name: &str,
    schema: &Value,
    v: &Value,
    at: &str,
) -> Result<(), String> {
    if schema["type"].as_str() != Some("object") && schema.get("properties").is_none() {
        // A named schema that is not an object (rare): check it as an inline one.
        let mut inline = schema.clone();
        if let Some(m) = inline.as_object_mut() {
            m.remove("id");
        }
        return check_value(doc, &inline, v, at);
    }
    let Some(fields) = v.as_object() else {
        return Err(type_error(
            at,
            if name.is_empty() { "an object" } else { name },
            v,
        ));
    };
    let props = schema["properties"].as_object();
    let extra = schema.get("additionalProperties");
    if props.is_none() && extra.is_none() && name.is_empty() {
        return Ok(()); // free-form object
    }
    for (k, fv) in fields {
        if let Some(p) = props.and_then(|p| p.get(k)) {
            check_value(doc, p, fv, &at_path(at, k))?;
        } else if let Some(e) = extra {
            check_value(doc, e, fv, &at_path(at, k))?;
        } else {
            return Err(format!(
                "Invalid JSON payload received. Unknown name \"{k}\" at '{}': Cannot find field.",
                if at.is_empty() { "body" } else { at }
            ));
        }
    }
    Ok(())
}

/// Whether a property is output-only: `readOnly`, or a description starting with
/// "Output only" / "[Output Only]".
pub fn is_output_only(prop: &Value) -> bool {
    if prop["readOnly"].as_bool() == Some(true) {
        return true;
    }
    let d = prop["description"]
        .as_str()
        .unwrap_or_default()
        .trim_start();
    let lower = d
        .get(..d.len().min(16))
        .unwrap_or_default()
        .to_ascii_lowercase();
    lower.starts_with("output only")
        || lower.starts_with("[output only]")
        || lower.starts_with("output-only")
}

/// Removes the output-only fields of a body (recursively through `$ref`s, arrays and
/// maps), so that server values are never overridden by what a client sends.
pub fn strip_output_only(doc: &Doc, schema_name: &str, body: &mut Value) {
    let schema = serde_json::json!({"$ref": schema_name});
    strip(doc, &schema, body, 0);
}

fn strip(doc: &Doc, schema: &Value, v: &mut Value, depth: usize) {
    if depth > 32 {
        return;
    }
    let schema = match schema["$ref"].as_str().and_then(|n| doc.schema(n)) {
        Some(s) => s,
        None => schema,
    };
    match v {
        Value::Object(fields) => {
            let props = schema["properties"].as_object();
            let extra = schema.get("additionalProperties");
            let keys: Vec<String> = fields.keys().cloned().collect();
            for k in keys {
                if let Some(p) = props.and_then(|p| p.get(&k)) {
                    if is_output_only(p) {
                        fields.remove(&k);
                    } else if let Some(fv) = fields.get_mut(&k) {
                        strip(doc, p, fv, depth + 1);
                    }
                } else if let Some(e) = extra
                    && let Some(fv) = fields.get_mut(&k)
                {
                    strip(doc, e, fv, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                strip(doc, &schema["items"], item, depth + 1);
            }
        }
        _ => {}
    }
}

/// How [`map_enums`] rewrites enum values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnumEncoding {
    /// Numbers to names: bodies are stored with names whatever the client sent.
    Names,
    /// Names to numbers: answers to `$alt=json;enum-encoding=int`, as the real Redis log shows
    /// (`"state": 2`).
    Ints,
}

/// Cloud SQL's `SqlDatabaseVersion` is the one enum served here whose proto numbers are not
/// its index in the discovery list (values were added out of order over the years): its
/// numbers, from `google/cloud/sql/v1/cloud_sql_resources.proto` as google-cloud-sql-v1 2.12
/// generates them (`SqlDatabaseVersion::value`).
const SQL_DATABASE_VERSION: &[(&str, u64)] = &[
    ("SQL_DATABASE_VERSION_UNSPECIFIED", 0),
    ("MYSQL_5_1", 2),
    ("MYSQL_5_5", 3),
    ("MYSQL_5_6", 5),
    ("MYSQL_5_7", 6),
    ("MYSQL_8_0", 20),
    ("MYSQL_8_0_18", 41),
    ("MYSQL_8_0_26", 85),
    ("MYSQL_8_0_27", 111),
    ("MYSQL_8_0_28", 132),
    ("MYSQL_8_0_29", 148),
    ("MYSQL_8_0_30", 174),
    ("MYSQL_8_0_31", 197),
    ("MYSQL_8_0_32", 213),
    ("MYSQL_8_0_33", 238),
    ("MYSQL_8_0_34", 239),
    ("MYSQL_8_0_35", 240),
    ("MYSQL_8_0_36", 241),
    ("MYSQL_8_0_37", 355),
    ("MYSQL_8_0_39", 357),
    ("MYSQL_8_0_40", 358),
    ("MYSQL_8_0_41", 488),
    ("MYSQL_8_0_42", 489),
    ("MYSQL_8_0_43", 553),
    ("MYSQL_8_0_44", 554),
    ("MYSQL_8_0_45", 555),
    ("MYSQL_8_0_46", 556),
    ("MYSQL_8_4", 398),
    ("MYSQL_9_7", 654),
    ("SQLSERVER_2017_STANDARD", 11),
    ("SQLSERVER_2017_ENTERPRISE", 14),
    ("SQLSERVER_2017_EXPRESS", 15),
    ("SQLSERVER_2017_WEB", 16),
    ("POSTGRES_9_6", 9),
    ("POSTGRES_10", 18),
    ("POSTGRES_11", 10),
    ("POSTGRES_12", 19),
    ("POSTGRES_13", 23),
    ("POSTGRES_14", 110),
    ("POSTGRES_15", 172),
    ("POSTGRES_16", 272),
    ("POSTGRES_17", 408),
    ("POSTGRES_18", 557),
    ("POSTGRES_19", 684),
    ("POSTGRES_20", 781),
    ("SQLSERVER_2019_STANDARD", 26),
    ("SQLSERVER_2019_ENTERPRISE", 27),
    ("SQLSERVER_2019_EXPRESS", 28),
    ("SQLSERVER_2019_WEB", 29),
    ("SQLSERVER_2022_STANDARD", 199),
    ("SQLSERVER_2022_ENTERPRISE", 200),
    ("SQLSERVER_2022_EXPRESS", 201),
    ("SQLSERVER_2022_WEB", 202),
    ("SQLSERVER_2025_STANDARD", 549),
    ("SQLSERVER_2025_ENTERPRISE", 550),
    ("SQLSERVER_2025_EXPRESS", 551),
];

/// The proto number of `name` in the enum whose discovery values are `values`.
fn enum_number(values: &[Value], name: &str) -> Option<u64> {
    if values.first().and_then(Value::as_str) == Some("SQL_DATABASE_VERSION_UNSPECIFIED") {
        return SQL_DATABASE_VERSION
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, i)| *i);
    }
    values
        .iter()
        .position(|e| e.as_str() == Some(name))
        .and_then(|i| u64::try_from(i).ok())
}

/// The name of the proto number `number` in the enum whose discovery values are `values`.
fn enum_name(values: &[Value], number: u64) -> Option<Value> {
    if values.first().and_then(Value::as_str) == Some("SQL_DATABASE_VERSION_UNSPECIFIED") {
        return SQL_DATABASE_VERSION
            .iter()
            .find(|(_, i)| *i == number)
            .map(|(n, _)| Value::from(*n));
    }
    usize::try_from(number)
        .ok()
        .and_then(|i| values.get(i))
        .cloned()
}

/// Rewrites the enum fields of a value of the named schema (recursively through `$ref`s,
/// arrays and maps). An enum's number is its index in the discovery `enum` list, which is
/// the proto numbering for every enum the simulator serves (checked against the real log:
/// `REDIS_STANDARD_SMALL` is 4, `ACTIVE` 2, `CONNECTION_TYPE_DISCOVERY` 1), except Cloud
/// SQL's database versions ([`SQL_DATABASE_VERSION`]).
pub fn map_enums(doc: &Doc, schema_name: &str, body: &mut Value, to: EnumEncoding) {
    let schema = serde_json::json!({"$ref": schema_name});
    map_enum_value(doc, &schema, body, to, 0);
}

fn map_enum_value(doc: &Doc, schema: &Value, v: &mut Value, to: EnumEncoding, depth: usize) {
    if depth > 32 {
        return;
    }
    let schema = match schema["$ref"].as_str().and_then(|n| doc.schema(n)) {
        Some(s) => s,
        None => schema,
    };
    if let Some(values) = schema["enum"].as_array() {
        match to {
            EnumEncoding::Ints => {
                if let Some(i) = v.as_str().and_then(|s| enum_number(values, s)) {
                    *v = Value::from(i);
                }
            }
            EnumEncoding::Names => {
                if let Some(name) = v.as_u64().and_then(|i| enum_name(values, i)) {
                    *v = name;
                }
            }
        }
        return;
    }
    match v {
        Value::Object(fields) => {
            let props = schema["properties"].as_object();
            let extra = schema.get("additionalProperties");
            for (k, fv) in fields.iter_mut() {
                if let Some(p) = props.and_then(|p| p.get(k)) {
                    map_enum_value(doc, p, fv, to, depth + 1);
                } else if let Some(e) = extra {
                    map_enum_value(doc, e, fv, to, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                map_enum_value(doc, &schema["items"], item, to, depth + 1);
            }
        }
        _ => {}
    }
}
