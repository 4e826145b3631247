//! Field sets in the `FieldsV1` format of `metadata.managedFields` (a trie of `f:<field>`,
//! `k:<key fields as JSON>`, `v:<value as JSON>`, `i:<index>` and `.` for "the element
//! itself"), and the structural merge of server-side apply. The list and map semantics come
//! from the schema ([`crate::schema::ListKind`]), as structured-merge-diff reads them.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::schema::{ListKind, Node};

/// A set of fields: each key a path step, a leaf (no children) a member.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(pub BTreeMap<String, Fields>);

/// One field's path, as `FieldsV1` keys.
pub type Path = Vec<String>;

/// The fields of the top level that no manager owns (identity and server-managed metadata).
const UNOWNED: &[&str] = &["apiVersion", "kind", "status"];
const UNOWNED_META: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

impl Fields {
    /// The fields an object sets (the set an applier owns), identity and status left out.
    pub fn of_object(node: Option<Node>, object: &Value) -> Fields {
        let mut set = Fields::of(node, object);
        for field in UNOWNED {
            set.0.remove(&format!("f:{field}"));
        }
        if let Some(meta) = set.0.get_mut("f:metadata") {
            for field in UNOWNED_META {
                meta.0.remove(&format!("f:{field}"));
            }
            if meta.0.is_empty() {
                set.0.remove("f:metadata");
            }
        }
        set
    }

    /// The fields `value` sets, under `node`.
    pub fn of(node: Option<Node>, value: &Value) -> Fields {
        let mut set = Fields::default();
        match value {
            Value::Object(map) if !map.is_empty() && !node.is_some_and(|n| n.atomic_map()) => {
                for (k, v) in map {
                    if v.is_null() {
                        continue;
                    }
                    let child = node.and_then(|n| n.child(k));
                    set.0.insert(format!("f:{k}"), Fields::of(child, v));
                }
            }
            Value::Array(items) => {
                let item_node = node.and_then(|n| n.items());
                match node.map_or(ListKind::Atomic, |n| n.list_kind()) {
                    ListKind::Atomic => {}
                    ListKind::Map(keys) => {
                        for item in items {
                            let mut element = Fields::of(item_node, item);
                            element.0.insert(".".to_string(), Fields::default());
                            set.0.insert(key_of(&keys, item), element);
                        }
                    }
                    ListKind::Set => {
                        for item in items {
                            set.0.insert(format!("v:{item}"), Fields::default());
                        }
                    }
                }
            }
            _ => {}
        }
        set
    }

    /// Reads a `fieldsV1` object.
    pub fn from_json(v: &Value) -> Fields {
        let mut set = Fields::default();
        if let Value::Object(map) = v {
            for (k, sub) in map {
                set.0.insert(k.clone(), Fields::from_json(sub));
            }
        }
        set
    }

    /// The `fieldsV1` object.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, sub)| (k.clone(), sub.to_json()))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every member's path (leaves, and `.` steps for list elements).
    pub fn members(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for (k, sub) in &self.0 {
            prefix.push(k.clone());
            if sub.0.is_empty() {
                out.push(prefix.clone());
            } else {
                sub.collect(prefix, out);
            }
            prefix.pop();
        }
    }

    /// Whether `path` is a member.
    pub fn contains(&self, path: &[String]) -> bool {
        let mut node = self;
        for step in path {
            match node.0.get(step) {
                Some(n) => node = n,
                None => return false,
            }
        }
        node.0.is_empty()
    }

    /// Adds the member `path`.
    pub fn insert(&mut self, path: &[String]) {
        let mut node = self;
        for step in path {
            node = node.0.entry(step.clone()).or_default();
        }
    }

    /// Removes the member `path`, and the steps above it that lead to nothing else.
    pub fn remove(&mut self, path: &[String]) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let Some(child) = self.0.get_mut(first) else {
            return;
        };
        if rest.is_empty() {
            if child.0.is_empty() {
                self.0.remove(first);
            }
            return;
        }
        child.remove(rest);
        if child.0.is_empty() {
            self.0.remove(first);
        }
    }
}

/// The `k:` step of a list element: its key fields as JSON, in name order.
fn key_of(keys: &[String], item: &Value) -> String {
    let fields: BTreeMap<&str, &Value> = keys
        .iter()
        .filter_map(|k| item.get(k).map(|v| (k.as_str(), v)))
        .collect();
    format!(
        "k:{}",
        serde_json::to_string(&fields).unwrap_or_else(|_| "{}".to_string())
    )
}

/// Whether a list element matches the `k:`/`v:`/`i:` step.
fn matches(step: &str, index: usize, item: &Value) -> bool {
    if let Some(key) = step.strip_prefix("k:") {
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(key) else {
            return false;
        };
        fields.iter().all(|(k, v)| item.get(k) == Some(v))
    } else if let Some(v) = step.strip_prefix("v:") {
        serde_json::from_str::<Value>(v).is_ok_and(|v| v == *item)
    } else if let Some(i) = step.strip_prefix("i:") {
        i.parse::<usize>() == Ok(index)
    } else {
        false
    }
}

/// The value at `path` in `value` (`.` is the element itself).
pub fn get<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut at = value;
    for step in path {
        at = match (step.as_str(), at) {
            (".", _) => at,
            (s, Value::Object(map)) => map.get(s.strip_prefix("f:")?)?,
            (s, Value::Array(items)) => items
                .iter()
                .enumerate()
                .find(|(i, item)| matches(s, *i, item))
                .map(|(_, item)| item)?,
            _ => return None,
        };
    }
    Some(at)
}

/// Removes the field or element at `path` from `value` (a path ending in `.` removes the
/// element), and the maps above it left empty by that.
pub fn remove(value: &mut Value, path: &[String]) {
    let path = match path.split_last() {
        Some((last, rest)) if last == "." => rest,
        _ => path,
    };
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    match value {
        Value::Object(map) => {
            let Some(name) = first.strip_prefix("f:") else {
                return;
            };
            if rest.is_empty() {
                map.shift_remove(name);
            } else if let Some(child) = map.get_mut(name) {
                remove(child, rest);
                if child.as_object().is_some_and(Map::is_empty) {
                    map.shift_remove(name);
                }
            }
        }
        Value::Array(items) => {
            let Some(index) = items
                .iter()
                .enumerate()
                .position(|(i, item)| matches(first, i, item))
            else {
                return;
            };
            if rest.is_empty() {
                items.remove(index);
            } else if let Some(Value::Object(fields)) = items.get(index)
                && rest.len() == 1
                && first.starts_with("k:")
                && rest[0]
                    .strip_prefix("f:")
                    .is_some_and(|f| first.contains(&format!("\"{f}\":")) && fields.contains_key(f))
            {
                // A key field stays while its element does: it is what names the element.
            } else {
                remove(&mut items[index], rest);
            }
        }
        _ => {}
    }
}

/// Merges an applied configuration into the live object: maps field by field, keyed lists
/// element by element, sets by union, atomic values replaced.
pub fn merge(node: Option<Node>, live: &mut Value, applied: &Value) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) if !node.is_some_and(|n| n.atomic_map()) => {
            for (k, v) in a {
                if v.is_null() {
                    continue;
                }
                let child = node.and_then(|n| n.child(k));
                match l.get_mut(k) {
                    Some(existing) => merge(child, existing, v),
                    None => {
                        l.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(l), Value::Array(a)) => {
            let item_node = node.and_then(|n| n.items());
            match node.map_or(ListKind::Atomic, |n| n.list_kind()) {
                ListKind::Atomic => *l = a.clone(),
                ListKind::Map(keys) => {
                    for item in a {
                        let step = key_of(&keys, item);
                        match l
                            .iter_mut()
                            .enumerate()
                            .find(|(i, e)| matches(&step, *i, e))
                        {
                            Some((_, existing)) => merge(item_node, existing, item),
                            None => l.push(item.clone()),
                        }
                    }
                }
                ListKind::Set => {
                    for item in a {
                        if !l.contains(item) {
                            l.push(item.clone());
                        }
                    }
                }
            }
        }
        (live, applied) => *live = applied.clone(),
    }
}

/// The JSON-path-like name of a field path, as conflicts print it (`.spec.replicas`,
/// `.spec.containers[name="web"].image`).
pub fn display(path: &[String]) -> String {
    let mut out = String::new();
    for step in path {
        if let Some(f) = step.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = step.strip_prefix("k:") {
            let fields: Vec<String> = match serde_json::from_str::<Value>(k) {
                Ok(Value::Object(m)) => m.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                _ => vec![k.to_string()],
            };
            out.push_str(&format!("[{}]", fields.join(",")));
        } else if let Some(v) = step.strip_prefix("v:") {
            out.push_str(&format!("[={v}]"));
        } else if let Some(i) = step.strip_prefix("i:") {
            out.push_str(&format!("[{i}]"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(steps: &[&str]) -> Path {
        steps.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn untyped_sets_are_leaves_and_round_trip() {
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"k": "v"}, "empty": {}});
        let set = Fields::of_object(None, &v);
        assert_eq!(
            set.to_json(),
            json!({"f:data": {"f:k": {}}, "f:empty": {}, "f:metadata": {"f:labels": {"f:a": {}}}})
        );
        assert_eq!(Fields::from_json(&set.to_json()), set);
        assert!(set.contains(&p(&["f:data", "f:k"])));
        assert!(!set.contains(&p(&["f:data"])));
        let mut set = set;
        set.remove(&p(&["f:data", "f:k"]));
        assert!(!set.0.contains_key("f:data"));
    }

    #[test]
    fn keyed_elements_are_found_and_removed() {
        let mut v = json!({"ports": [{"port": 80, "protocol": "TCP", "name": "a"}, {"port": 81}]});
        let path = p(&["f:ports", r#"k:{"port":80,"protocol":"TCP"}"#, "f:name"]);
        assert_eq!(get(&v, &path), Some(&json!("a")));
        remove(&mut v, &path);
        assert_eq!(
            v,
            json!({"ports": [{"port": 80, "protocol": "TCP"}, {"port": 81}]})
        );
        remove(&mut v, &p(&["f:ports", r#"k:{"port":81}"#, "."]));
        assert_eq!(v, json!({"ports": [{"port": 80, "protocol": "TCP"}]}));
        assert_eq!(
            display(&p(&["f:spec", r#"k:{"name":"web"}"#, "f:image"])),
            r#".spec[name="web"].image"#
        );
    }
}
