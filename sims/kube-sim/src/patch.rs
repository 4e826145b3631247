//! The update patches besides server-side apply: JSON merge patch (RFC 7386), strategic merge
//! patch (keyed lists merged by their patch merge key, `$patch: delete`), and JSON patch
//! (RFC 6902: `add`, `remove`, `replace`, `test`).

use serde_json::Value;

use crate::schema::{ListKind, Node};

/// Applies a JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let Value::Object(t) = target else {
        return;
    };
    for (k, v) in p {
        if v.is_null() {
            t.shift_remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Applies a strategic merge patch: a merge patch whose keyed lists merge element by element.
pub fn strategic(node: Option<Node>, target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(serde_json::Map::new());
            }
            let Value::Object(t) = target else {
                return;
            };
            for (k, v) in p {
                // Directives about order and retained keys change nothing the simulator keeps.
                if k.starts_with('$') {
                    continue;
                }
                if v.is_null() {
                    t.shift_remove(k);
                    continue;
                }
                let child = node.and_then(|n| n.child(k));
                strategic(child, t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        Value::Array(items) => match node.map(Node::list_kind) {
            Some(ListKind::Map(keys)) if target.is_array() => {
                merge_list(node.and_then(|n| n.items()), target, items, &keys);
            }
            _ => *target = patch.clone(),
        },
        _ => *target = patch.clone(),
    }
}

fn merge_list(item: Option<Node>, target: &mut Value, items: &[Value], keys: &[String]) {
    let Value::Array(t) = target else {
        return;
    };
    for patch_item in items {
        let same = |e: &Value| keys.iter().all(|k| e.get(k) == patch_item.get(k));
        let found = t.iter().position(same);
        let delete = patch_item["$patch"] == Value::String("delete".to_string());
        match (found, delete) {
            (Some(i), true) => {
                t.remove(i);
            }
            (Some(i), false) => strategic(item, &mut t[i], patch_item),
            (None, false) => {
                let mut fresh = Value::Null;
                strategic(item, &mut fresh, patch_item);
                t.push(fresh);
            }
            (None, true) => {}
        }
    }
}

/// Applies a JSON patch; an error names the operation that failed.
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    let Some(ops) = ops.as_array() else {
        return Err("a JSON patch is a list of operations".to_string());
    };
    for op in ops {
        let path = op["path"].as_str().unwrap_or_default();
        let steps: Vec<String> = path
            .split('/')
            .skip(1)
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        let Some((last, parent_steps)) = steps.split_last() else {
            return Err(format!("invalid JSON patch path {path:?}"));
        };
        let parent = parent_steps
            .iter()
            .try_fold(&mut *target, |at, s| match at {
                Value::Object(m) => m.get_mut(s),
                Value::Array(a) => s.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
                _ => None,
            })
            .ok_or_else(|| format!("doc is missing path: {path:?}"))?;
        apply_op(op, parent, last, path)?;
    }
    Ok(())
}

fn apply_op(op: &Value, parent: &mut Value, last: &str, path: &str) -> Result<(), String> {
    let missing = || format!("doc is missing path: {path:?}");
    let value = op.get("value").cloned().unwrap_or(Value::Null);
    match (op["op"].as_str().unwrap_or_default(), parent) {
        ("add" | "replace", Value::Object(m)) => {
            m.insert(last.to_string(), value);
        }
        ("add", Value::Array(a)) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>().map_err(|_| missing())?
            };
            if i > a.len() {
                return Err(missing());
            }
            a.insert(i, value);
        }
        ("replace", Value::Array(a)) => {
            let slot = last
                .parse::<usize>()
                .ok()
                .and_then(|i| a.get_mut(i))
                .ok_or_else(missing)?;
            *slot = value;
        }
        ("remove", Value::Object(m)) => {
            m.shift_remove(last).ok_or_else(missing)?;
        }
        ("remove", Value::Array(a)) => {
            let i = last
                .parse::<usize>()
                .ok()
                .filter(|i| *i < a.len())
                .ok_or_else(missing)?;
            a.remove(i);
        }
        ("test", p) => {
            let found = match p {
                Value::Object(m) => m.get(last),
                Value::Array(a) => last.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            };
            if found != Some(&value) {
                return Err(format!("testing value {path:?} failed"));
            }
        }
        (other, _) => return Err(format!("Unexpected kind: {other:?}")),
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_and_json_patches() {
        let mut v = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut v, &json!({"a": null, "b": {"c": 5}, "e": [1]}));
        assert_eq!(v, json!({"b": {"c": 5, "d": 3}, "e": [1]}));
        json_patch(
            &mut v,
            &json!([{"op": "replace", "path": "/b/c", "value": 6}, {"op": "add", "path": "/e/-", "value": 2},
                    {"op": "remove", "path": "/b/d"}, {"op": "test", "path": "/b/c", "value": 6}]),
        )
        .unwrap();
        assert_eq!(v, json!({"b": {"c": 6}, "e": [1, 2]}));
        assert!(json_patch(&mut v, &json!([{"op": "remove", "path": "/x/y"}])).is_err());
    }
}
