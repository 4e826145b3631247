//! The value type shared by the evaluator, the planner, the state and every provider.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A configuration or resource value.
///
/// Two marks travel with values through every operation:
/// - [`Value::Unknown`]: the value is only "known after apply" (a computed attribute of a
///   resource that does not exist yet, or anything derived from one).
/// - [`Value::Sensitive`]: the wrapped value must never be printed, logged or emitted as JSON.
///   Anything computed from a sensitive value is sensitive.
///
/// Objects and maps are both [`Value::Map`]; tuples, lists and sets are [`Value::List`].
/// `Debug` prints a sensitive value as `Sensitive(..)`, never its contents, so a `{:?}` of a
/// state, a configuration or a plan in a log or a panic message cannot leak a secret.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Unknown,
    Sensitive(Box<Value>),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
            Value::Number(n) => f.debug_tuple("Number").field(n).finish(),
            Value::String(s) => f.debug_tuple("String").field(s).finish(),
            Value::List(items) => f.debug_tuple("List").field(items).finish(),
            Value::Map(map) => f.debug_tuple("Map").field(map).finish(),
            Value::Unknown => f.write_str("Unknown"),
            Value::Sensitive(_) => f.write_str("Sensitive(..)"),
        }
    }
}

/// The shape of a value, for messages such as "expected number, found string".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Null,
    Bool,
    Number,
    String,
    List,
    Map,
    Unknown,
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueKind::Null => "null",
            ValueKind::Bool => "bool",
            ValueKind::Number => "number",
            ValueKind::String => "string",
            ValueKind::List => "list",
            ValueKind::Map => "object",
            ValueKind::Unknown => "unknown",
        })
    }
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn number(n: impl Into<f64>) -> Value {
        Value::Number(n.into())
    }

    /// Marks a value sensitive (idempotent: never wraps twice).
    pub fn sensitive(self) -> Value {
        match self {
            Value::Sensitive(_) => self,
            other => Value::Sensitive(Box::new(other)),
        }
    }

    /// Wraps `self` in a sensitive mark when `sensitive` is true.
    pub fn mark_if(self, sensitive: bool) -> Value {
        if sensitive { self.sensitive() } else { self }
    }

    /// The shape of the value, looking through a sensitive mark.
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Null => ValueKind::Null,
            Value::Bool(_) => ValueKind::Bool,
            Value::Number(_) => ValueKind::Number,
            Value::String(_) => ValueKind::String,
            Value::List(_) => ValueKind::List,
            Value::Map(_) => ValueKind::Map,
            Value::Unknown => ValueKind::Unknown,
            Value::Sensitive(inner) => inner.kind(),
        }
    }

    /// True when the value contains no unknown part anywhere.
    pub fn is_wholly_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::Sensitive(v) => v.is_wholly_known(),
            Value::List(items) => items.iter().all(Value::is_wholly_known),
            Value::Map(map) => map.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// True when the value itself (looking through a sensitive mark) is unknown.
    pub fn is_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::Sensitive(v) => v.is_unknown(),
            _ => false,
        }
    }

    /// True when the value or any part of it is sensitive.
    pub fn is_sensitive(&self) -> bool {
        match self {
            Value::Sensitive(_) => true,
            Value::List(items) => items.iter().any(Value::is_sensitive),
            Value::Map(map) => map.values().any(Value::is_sensitive),
            _ => false,
        }
    }

    /// Removes every sensitive mark; the flag says whether there was any.
    pub fn unmark(self) -> (Value, bool) {
        match self {
            Value::Sensitive(inner) => (inner.unmark().0, true),
            Value::List(items) => {
                let mut any = false;
                let items = items
                    .into_iter()
                    .map(|v| {
                        let (v, s) = v.unmark();
                        any |= s;
                        v
                    })
                    .collect();
                (Value::List(items), any)
            }
            Value::Map(map) => {
                let mut any = false;
                let map = map
                    .into_iter()
                    .map(|(k, v)| {
                        let (v, s) = v.unmark();
                        any |= s;
                        (k, v)
                    })
                    .collect();
                (Value::Map(map), any)
            }
            other => (other, false),
        }
    }

    /// Looks through a sensitive mark.
    pub fn peel(&self) -> &Value {
        match self {
            Value::Sensitive(inner) => inner.peel(),
            other => other,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.peel(), Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self.peel() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self.peel() {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The number as an integer when it is a whole number within range.
    pub fn as_i64(&self) -> Option<i64> {
        let n = self.as_f64()?;
        if n.fract() == 0.0 && n.abs() < 9.0e15 {
            Some(n as i64)
        } else {
            None
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.peel() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self.peel() {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self.peel() {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    /// A map entry (objects) by key; `None` for anything else.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// Converts to plain JSON, dropping sensitive marks. `None` when any part is unknown.
    ///
    /// Callers that emit JSON for people or machines must check [`Value::is_sensitive`] first;
    /// this conversion is for state storage and provider wire formats.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        Some(match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_json(*n),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(Value::to_json)
                    .collect::<Option<Vec<_>>>()?,
            ),
            Value::Map(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| v.to_json().map(|v| (k.clone(), v)))
                    .collect::<Option<serde_json::Map<_, _>>>()?,
            ),
            Value::Unknown => return None,
            Value::Sensitive(inner) => inner.to_json()?,
        })
    }

    /// Converts JSON to a value with neither mark.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Like [`Value::to_json`] but safe to show: sensitive parts become the string
    /// `"(sensitive value)"` and unknown parts become JSON `null`, with the returned flags telling
    /// whether either occurred.
    pub fn to_redacted_json(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Unknown => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_json(*n),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_redacted_json).collect())
            }
            Value::Map(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.to_redacted_json()))
                    .collect(),
            ),
            Value::Sensitive(_) => serde_json::Value::String("(sensitive value)".into()),
        }
    }
}

fn number_to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    }
}

/// Renders a value the way users write it in HCL, with the two marks shown as
/// `(sensitive value)` and `(known after apply)`. Safe to print: never reveals a sensitive value.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => {
                if n.fract() == 0.0 && n.abs() < 9.0e15 {
                    write!(f, "{}", *n as i64)
                } else {
                    write!(f, "{n}")
                }
            }
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                f.write_str("}")
            }
            Value::Unknown => f.write_str("(known after apply)"),
            Value::Sensitive(_) => f.write_str("(sensitive value)"),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(n as f64)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_never_reveals_sensitive() {
        let v = Value::Map(BTreeMap::from([
            ("user".to_string(), Value::from("superset")),
            ("password".to_string(), Value::from("hunter2").sensitive()),
        ]));
        let shown = v.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("(sensitive value)"));
        assert!(!v.to_redacted_json().to_string().contains("hunter2"));
        assert!(v.is_sensitive());
        let debugged = format!("{v:?} {:#?}", vec![v.clone()]);
        assert!(!debugged.contains("hunter2"), "{debugged}");
        assert!(debugged.contains("Sensitive(..)"), "{debugged}");
        assert!(debugged.contains("superset"), "{debugged}");
    }

    #[test]
    fn unknown_is_not_json() {
        let v = Value::List(vec![Value::from(1), Value::Unknown]);
        assert!(v.to_json().is_none());
        assert!(!v.is_wholly_known());
    }

    #[test]
    fn json_round_trip_and_unmark() {
        let v = Value::Map(BTreeMap::from([(
            "a".to_string(),
            Value::List(vec![Value::from(1), Value::from("x").sensitive()]),
        )]));
        let json = v.to_json().expect("known");
        assert_eq!(json, serde_json::json!({"a": [1, "x"]}));
        let (plain, had) = v.unmark();
        assert!(had);
        assert_eq!(Value::from_json(&json), plain);
    }
}
