//! The API's routes: discovery, `/version`, and the resource paths (`/api/v1/…`,
//! `/apis/<group>/<version>/…`), with reads, lists and deletes; writes are in [`crate::write`].

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::kinds;
use crate::request::{Answer, Req, Target, scale_of, stored};
use crate::schema::Schema;
use crate::world::World;
use crate::write;

/// The answer to one request.
pub fn dispatch(w: &mut World, schema: &Schema, req: &Req) -> Answer {
    let segs: Vec<String> = sim_kit::text::split_path(req.path)
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let read = req.method == "GET";
    let discovery = match s.as_slice() {
        ["version"] if read => Some(version()),
        ["api"] if read => Some(kinds::core_versions(req.host)),
        ["apis"] if read => Some(kinds::group_list(&w.kinds())),
        ["apis", g] if read => kinds::group(&w.kinds(), g),
        ["api", "v1"] if read => kinds::resource_list(&w.kinds(), "", "v1"),
        ["apis", g, v] if read => kinds::resource_list(&w.kinds(), g, v),
        ["openapi", "v3"] if read => Some(kinds::openapi_index(&w.kinds())),
        ["openapi", "v3", gv @ ..] if read => kinds::openapi_document(&w.kinds(), &gv.join("/")),
        ["api", "v1", rest @ ..] if !rest.is_empty() => {
            return resource(w, schema, req, target(w, "", "v1", rest)?);
        }
        ["apis", g, v, rest @ ..] if !rest.is_empty() => {
            return resource(w, schema, req, target(w, g, v, rest)?);
        }
        _ => None,
    };
    discovery
        .map(|d| (200, d))
        .ok_or_else(|| ApiError::no_route(req.path))
}

/// `GET /version`: Kubernetes 1.33.
fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.0", "gitCommit": "kube-sim",
        "gitTreeState": "clean", "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.2",
        "compiler": "gc", "platform": "linux/amd64",
    })
}

/// Reads a resource path (what follows `/api/v1` or `/apis/<group>/<version>`).
fn target(w: &World, group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
    let no_route = || {
        let path = if group.is_empty() {
            format!("/api/{version}/{}", rest.join("/"))
        } else {
            format!("/apis/{group}/{version}/{}", rest.join("/"))
        };
        ApiError::no_route(&path)
    };
    let kind_of = |plural: &str| w.kind(group, version, plural).ok_or_else(no_route);
    let (kind, namespace, name, sub) = match rest {
        [plural] => (kind_of(plural)?, "", None, None),
        [plural, name] => (kind_of(plural)?, "", Some(*name), None),
        ["namespaces", name, sub @ ("status" | "finalize")] => {
            (kind_of("namespaces")?, "", Some(*name), Some(*sub))
        }
        ["namespaces", ns, plural] => (kind_of(plural)?, *ns, None, None),
        [plural, name, sub] => (kind_of(plural)?, "", Some(*name), Some(*sub)),
        ["namespaces", ns, plural, name] => (kind_of(plural)?, *ns, Some(*name), None),
        ["namespaces", ns, plural, name, sub] => (kind_of(plural)?, *ns, Some(*name), Some(*sub)),
        _ => return Err(no_route()),
    };
    let sub_ok = match sub {
        None => true,
        Some("status") => kind.status,
        Some("scale") => kind.scale,
        Some("finalize") => kind.kind == "Namespace",
        Some(_) => false,
    };
    // A namespaced object needs its namespace; a cluster-scoped one has none.
    let scoped_ok = if kind.namespaced {
        !namespace.is_empty() || name.is_none()
    } else {
        namespace.is_empty()
    };
    if !sub_ok || !scoped_ok {
        return Err(no_route());
    }
    Ok(Target {
        kind,
        namespace: namespace.to_string(),
        name: name.map(str::to_string),
        sub: sub.map(str::to_string),
    })
}

fn resource(w: &mut World, schema: &Schema, req: &Req, t: Target) -> Answer {
    match (req.method, t.name.is_some()) {
        ("GET", false) => list(w, &t, req.query),
        ("POST", false) if !t.namespace.is_empty() || !t.kind.namespaced => {
            write::create(w, schema, &t, req)
        }
        ("GET", true) => get(w, &t),
        ("PUT", true) => write::replace(w, schema, &t, req),
        ("PATCH", true) => write::patch(w, schema, &t, req),
        ("DELETE", true) if t.sub.is_none() => delete(w, &t, req),
        (method, _) => Err(ApiError::method_not_allowed(method)),
    }
}

fn get(w: &World, t: &Target) -> Answer {
    let obj = stored(w, t)?;
    if t.sub.as_deref() == Some("scale") {
        return Ok((200, scale_of(&obj)));
    }
    Ok((200, obj))
}

/// The objects a list of the collection at `req.path` answers (what a watch follows).
pub fn collection_items(w: &World, req: &Req) -> Result<Vec<Value>, ApiError> {
    let segs: Vec<String> = sim_kit::text::split_path(req.path)
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let t = match s.as_slice() {
        ["api", "v1", rest @ ..] => target(w, "", "v1", rest)?,
        ["apis", g, v, rest @ ..] => target(w, g, v, rest)?,
        _ => return Err(ApiError::no_route(req.path)),
    };
    if t.name.is_some() {
        return Err(ApiError::method_not_allowed("WATCH"));
    }
    Ok(items(w, &t, req.query))
}

fn items(w: &World, t: &Target, query: &BTreeMap<String, String>) -> Vec<Value> {
    let prefix = if t.namespace.is_empty() {
        format!("{}/", t.kind.collection())
    } else {
        format!("{}/{}/", t.kind.collection(), t.namespace)
    };
    let labels = query.get("labelSelector").map(String::as_str);
    let fields = query.get("fieldSelector").map(String::as_str);
    w.prefixed(&prefix)
        .map(|(_, o)| &o.data)
        .filter(|o| labels.is_none_or(|s| labels_match(&o["metadata"]["labels"], s)))
        .filter(|o| fields.is_none_or(|s| fields_match(o, s)))
        .cloned()
        .collect()
}

fn list(w: &World, t: &Target, query: &BTreeMap<String, String>) -> Answer {
    let items = items(w, t, query);
    let rv = w
        .objects
        .values()
        .filter_map(|o| {
            o.data["metadata"]["resourceVersion"]
                .as_str()?
                .parse::<u64>()
                .ok()
        })
        .max()
        .unwrap_or(1);
    Ok((
        200,
        json!({
            "kind": format!("{}List", t.kind.kind), "apiVersion": t.kind.api_version(),
            "metadata": {"resourceVersion": rv.to_string()}, "items": items,
        }),
    ))
}

/// Splits a selector on the commas outside parentheses.
fn requirements(selector: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(selector[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(selector[start..].trim());
    out.into_iter().filter(|r| !r.is_empty()).collect()
}

/// Whether labels match a label selector (`a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`,
/// `a notin (x,y)`).
pub fn labels_match(labels: &Value, selector: &str) -> bool {
    let value = |k: &str| labels.get(k.trim()).and_then(Value::as_str);
    requirements(selector).into_iter().all(|r| {
        let set = |list: &str| -> Vec<String> {
            list.trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .map(|s| s.trim().to_string())
                .collect()
        };
        if let Some((k, v)) = r.split_once("!=") {
            value(k) != Some(v.trim())
        } else if let Some((k, v)) = r.split_once("==").or_else(|| r.split_once('=')) {
            value(k) == Some(v.trim())
        } else if let Some((k, list)) = r.split_once(" notin ") {
            value(k).is_none_or(|v| !set(list).iter().any(|x| x == v))
        } else if let Some((k, list)) = r.split_once(" in ") {
            value(k).is_some_and(|v| set(list).iter().any(|x| x == v))
        } else if let Some(k) = r.strip_prefix('!') {
            value(k).is_none()
        } else {
            value(r).is_some()
        }
    })
}

/// Whether an object matches a field selector on `metadata.name` / `metadata.namespace`.
fn fields_match(obj: &Value, selector: &str) -> bool {
    requirements(selector).into_iter().all(|r| {
        let (field, want, equal) = match r.split_once("!=") {
            Some((f, v)) => (f, v, false),
            None => match r.split_once("==").or_else(|| r.split_once('=')) {
                Some((f, v)) => (f, v, true),
                None => return true,
            },
        };
        let at = field
            .trim()
            .split('.')
            .fold(obj, |v, step| &v[step])
            .as_str()
            .unwrap_or_default();
        (at == want.trim()) == equal
    })
}

fn delete(w: &mut World, t: &Target, req: &Req) -> Answer {
    let name = t.name.as_deref().unwrap_or_default();
    let options: Value = serde_json::from_str(req.body).unwrap_or(Value::Null);
    let policy = req
        .query
        .get("propagationPolicy")
        .map(String::as_str)
        .or_else(|| options["propagationPolicy"].as_str());
    let foreground = policy == Some("Foreground");
    let Some((obj, pending)) = w.delete(&t.key(), &t.kind, foreground) else {
        return Err(ApiError::not_found(&t.kind, name));
    };
    if pending {
        return Ok((200, obj));
    }
    let mut details = t.kind.details(name);
    details["uid"] = obj["metadata"]["uid"].clone();
    Ok((
        200,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        let labels = json!({"app": "web", "tier": "front"});
        assert!(labels_match(&labels, "app=web"));
        assert!(labels_match(&labels, "app==web,tier"));
        assert!(labels_match(&labels, "app in (web, api),!gone"));
        assert!(!labels_match(&labels, "app notin (web)"));
        assert!(!labels_match(&labels, "app!=web"));
        assert!(labels_match(&labels, ""));
        let obj = json!({"metadata": {"name": "a", "namespace": "n"}});
        assert!(fields_match(&obj, "metadata.name=a,metadata.namespace!=m"));
        assert!(!fields_match(&obj, "metadata.name=b"));
    }
}
