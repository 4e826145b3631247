//! Writes: create (POST), replace (PUT), the patches, and server-side apply with managed fields
//! and conflicts. Every write ends in `commit`: validation against the schema, defaults,
//! server-set metadata, the managed fields, the status the object starts with.

use std::time::Instant;

use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::fields::{self, Fields};
use crate::kinds::Kind;
use crate::patch;
use crate::request::{Answer, Req, Target, scale_of, stored};
use crate::schema::{Node, OBJECT_META, Schema};
use crate::status;
use crate::validate::{Problem, validate};
use crate::world::{Obj, World};

const APPLY: &str = "application/apply-patch+yaml";
const MERGE: &str = "application/merge-patch+json";
const STRATEGIC: &str = "application/strategic-merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";

/// One entry of `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq)]
pub struct Managed {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    pub api_version: String,
    pub time: String,
    /// `""`, `status` or `scale`.
    pub subresource: String,
    pub fields: Fields,
}

impl Managed {
    fn parse_all(obj: &Value) -> Vec<Managed> {
        let text = |e: &Value, k: &str| e[k].as_str().unwrap_or_default().to_string();
        obj["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| Managed {
                manager: text(e, "manager"),
                operation: text(e, "operation"),
                api_version: text(e, "apiVersion"),
                time: text(e, "time"),
                subresource: text(e, "subresource"),
                fields: Fields::from_json(&e["fieldsV1"]),
            })
            .collect()
    }

    fn to_json(&self) -> Value {
        let mut e = json!({
            "manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
            "time": self.time, "fieldsType": "FieldsV1", "fieldsV1": self.fields.to_json(),
        });
        if !self.subresource.is_empty() {
            e["subresource"] = json!(self.subresource);
        }
        e
    }

    fn is(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }
}

/// The schema node of a kind's objects (a custom resource: its CRD's schema).
fn node_of<'a>(schema: &'a Schema, kind: &'a Kind) -> Option<Node<'a>> {
    match &kind.crd_schema {
        Some(s) => Some(schema.node(s)),
        None => schema.kind(&kind.group, &kind.version, &kind.kind),
    }
}

/// Every schema problem of an object of `kind` (its status left out).
fn problems(schema: &Schema, kind: &Kind, obj: &Value) -> Vec<Problem> {
    let mut body = obj.clone();
    if let Value::Object(map) = &mut body {
        map.shift_remove("status");
    }
    // Managed fields are the server's own record (their `fieldsV1` is free-form in the schema).
    if let Some(Value::Object(meta)) = body.get_mut("metadata") {
        meta.shift_remove("managedFields");
    }
    let Some(node) = node_of(schema, kind) else {
        return Vec::new();
    };
    if kind.crd_schema.is_none() {
        return validate(node, &body, "");
    }
    // A custom resource's metadata is ObjectMeta whatever its CRD says, and its apiVersion
    // and kind are the path's (checked already) even when the CRD does not declare them.
    let mut meta = Value::Null;
    if let Value::Object(m) = &mut body {
        meta = m.shift_remove("metadata").unwrap_or(Value::Null);
        m.shift_remove("apiVersion");
        m.shift_remove("kind");
    }
    let mut found = validate(node, &body, "");
    if let Some(meta_node) = schema.def(OBJECT_META) {
        found.extend(validate(meta_node, &meta, "metadata"));
    }
    found
}

/// The field manager of a write: `fieldManager`, else the client's `User-Agent` up to its
/// first `/` (as the API server names it).
fn manager(req: &Req) -> String {
    req.query.get("fieldManager").cloned().unwrap_or_else(|| {
        let ua = req.user_agent.split('/').next().unwrap_or_default();
        if ua.is_empty() {
            "unknown".to_string()
        } else {
            ua.to_string()
        }
    })
}

/// The request body as JSON.
fn body_json(req: &Req) -> Result<Value, ApiError> {
    serde_json::from_str(req.body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml ({e})"
        ))
    })
}

/// Checks (and fills in when absent) the identity a body gives: apiVersion, kind, name,
/// namespace must be those of the path.
fn identity(t: &Target, body: &mut Value) -> Result<String, ApiError> {
    let Value::Object(map) = body else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    let want_version = t.kind.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v != want_version => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({want_version})"
            )));
        }
        _ => {
            map.insert("apiVersion".to_string(), json!(want_version));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        Some(k) if k != t.kind.kind => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                t.kind.kind
            )));
        }
        _ => {
            map.insert("kind".to_string(), json!(t.kind.kind));
        }
    }
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if t.kind.namespaced {
        match meta["namespace"].as_str() {
            Some(ns) if ns != t.namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => meta["namespace"] = json!(t.namespace),
        }
    }
    let name = match (&t.name, meta["name"].as_str()) {
        (Some(want), Some(n)) if n != want => {
            return Err(ApiError::bad_request(
                "the name of the object does not match the name on the URL",
            ));
        }
        (Some(want), _) => want.clone(),
        (None, Some(n)) => n.to_string(),
        (None, None) => String::new(),
    };
    meta["name"] = json!(name);
    Ok(name)
}

/// `POST` to a collection.
pub fn create(w: &mut World, schema: &Schema, t: &Target, req: &Req) -> Answer {
    let mut body = body_json(req)?;
    let mut name = identity(t, &mut body)?;
    if name.is_empty() {
        let Some(prefix) = body["metadata"]["generateName"]
            .as_str()
            .map(str::to_string)
        else {
            return Err(invalid_name(
                &t.kind,
                "",
                "name or generateName is required",
            ));
        };
        name = format!("{prefix}{}", w.pick(b"bcdfghjklmnpqrstvwxz2456789", 5));
        body["metadata"]["name"] = json!(name);
    }
    let target = Target {
        name: Some(name.clone()),
        ..t.clone()
    };
    if w.get(&target.key()).is_some() {
        return Err(ApiError::already_exists(&t.kind, &name));
    }
    let managed = update_managed(
        Vec::new(),
        None,
        &body,
        node_of(schema, &t.kind),
        &manager(req),
        "",
    );
    commit(w, schema, &target, req, body, managed)
}

/// `PUT` to an object or its status / scale.
pub fn replace(w: &mut World, schema: &Schema, t: &Target, req: &Req) -> Answer {
    let old = stored(w, t)?;
    let mut body = body_json(req)?;
    let rv = body["metadata"]["resourceVersion"].clone();
    let new = match t.sub.as_deref() {
        Some("scale") => with_replicas(&old, &body["spec"]["replicas"])?,
        Some(_) => {
            let mut new = old.clone();
            new["status"] = body["status"].clone();
            new
        }
        None => {
            identity(t, &mut body)?;
            body
        }
    };
    if rv.is_string() && rv != old["metadata"]["resourceVersion"] {
        return Err(ApiError::stale(
            &t.kind,
            t.name.as_deref().unwrap_or_default(),
        ));
    }
    scaled_answer(t, write_update(w, schema, t, req, &old, new))
}

/// `PATCH` to an object or its status / scale.
pub fn patch(w: &mut World, schema: &Schema, t: &Target, req: &Req) -> Answer {
    let content_type = req
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    if content_type == APPLY {
        return apply(w, schema, t, req);
    }
    let old = stored(w, t)?;
    let body = body_json(req)?;
    let node = node_of(schema, &t.kind);
    let mut doc = if t.sub.as_deref() == Some("scale") {
        scale_of(&old)
    } else {
        old.clone()
    };
    match content_type {
        MERGE => patch::merge_patch(&mut doc, &body),
        STRATEGIC if t.sub.as_deref() == Some("scale") => patch::merge_patch(&mut doc, &body),
        STRATEGIC if t.kind.crd_schema.is_none() => patch::strategic(node, &mut doc, &body),
        JSON_PATCH => patch::json_patch(&mut doc, &body).map_err(ApiError::bad_request)?,
        _ => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format - accepted media types include: {JSON_PATCH}, {MERGE}, {STRATEGIC}, {APPLY}"
                ),
            ));
        }
    }
    let new = match t.sub.as_deref() {
        Some("scale") => with_replicas(&old, &doc["spec"]["replicas"])?,
        Some(_) => {
            let mut new = old.clone();
            new["status"] = doc["status"].clone();
            new
        }
        None => doc,
    };
    scaled_answer(t, write_update(w, schema, t, req, &old, new))
}

/// A write of the scale subresource answers the `Scale`, not the object.
fn scaled_answer(t: &Target, answer: Answer) -> Answer {
    match (t.sub.as_deref(), answer) {
        (Some("scale"), Ok((code, obj))) => Ok((code, scale_of(&obj))),
        (_, answer) => answer,
    }
}

/// `old` with `spec.replicas` set (a write of the scale subresource).
fn with_replicas(old: &Value, replicas: &Value) -> Result<Value, ApiError> {
    if !replicas.is_i64() {
        return Err(ApiError::bad_request("spec.replicas must be an integer"));
    }
    let mut new = old.clone();
    new["spec"]["replicas"] = replicas.clone();
    Ok(new)
}

/// An update (PUT or a patch) from `old` to `new`, owned by the request's field manager.
fn write_update(
    w: &mut World,
    schema: &Schema,
    t: &Target,
    req: &Req,
    old: &Value,
    mut new: Value,
) -> Answer {
    // The main resource does not change the status subresource, nor a subresource the rest.
    if t.kind.status && t.sub.is_none() {
        new["status"] = old["status"].clone();
    }
    let entries = Managed::parse_all(old);
    let managed = update_managed(
        entries,
        Some(old),
        &new,
        node_of(schema, &t.kind),
        &manager(req),
        t.sub.as_deref().unwrap_or_default(),
    );
    commit(w, schema, t, req, new, managed)
}

/// The managed fields after `manager` changed `old` into `new` with an update: it owns what it
/// changed, the others lose it, and nobody keeps a field that is gone.
fn update_managed(
    mut entries: Vec<Managed>,
    old: Option<&Value>,
    new: &Value,
    node: Option<Node>,
    manager: &str,
    sub: &str,
) -> Vec<Managed> {
    let set = if sub == "status" {
        let mut s = Fields::default();
        s.0.insert(
            "f:status".to_string(),
            Fields::of(node.and_then(|n| n.prop("status")), &new["status"]),
        );
        s
    } else {
        Fields::of_object(node, new)
    };
    let changed: Vec<fields::Path> = set
        .members()
        .into_iter()
        .filter(|p| old.is_none_or(|o| fields::get(o, p) != fields::get(new, p)))
        .collect();
    if !changed.is_empty() {
        for e in &mut entries {
            for p in &changed {
                e.fields.remove(p);
            }
        }
        let position = entries.iter().position(|e| e.is(manager, "Update", sub));
        let entry = match position {
            Some(i) => &mut entries[i],
            None => {
                entries.push(Managed {
                    manager: manager.to_string(),
                    operation: "Update".to_string(),
                    api_version: new["apiVersion"].as_str().unwrap_or_default().to_string(),
                    time: String::new(),
                    subresource: sub.to_string(),
                    fields: Fields::default(),
                });
                let last = entries.len() - 1;
                &mut entries[last]
            }
        };
        for p in &changed {
            entry.fields.insert(p);
        }
        entry.time = sim_kit::text::rfc3339_seconds();
    }
    prune(entries, new)
}

/// Drops the fields `obj` no longer has, and the entries left with none.
fn prune(entries: Vec<Managed>, obj: &Value) -> Vec<Managed> {
    entries
        .into_iter()
        .filter_map(|mut e| {
            for p in e.fields.members() {
                if fields::get(obj, &p).is_none() {
                    e.fields.remove(&p);
                }
            }
            (!e.fields.is_empty()).then_some(e)
        })
        .collect()
}

/// Server-side apply (`PATCH` with `application/apply-patch+yaml`).
fn apply(w: &mut World, schema: &Schema, t: &Target, req: &Req) -> Answer {
    let name = t.name.clone().unwrap_or_default();
    let Some(manager) = req.query.get("fieldManager").filter(|m| !m.is_empty()) else {
        return Err(ApiError::bad_request(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    };
    let force = req.query.get("force").is_some_and(|f| f == "true");
    let mut applied = body_json(req)?;
    identity(t, &mut applied)?;
    let bad: Vec<Problem> = problems(schema, &t.kind, &applied)
        .into_iter()
        .filter(|p| !matches!(p, Problem::Required(_)))
        .collect();
    if !bad.is_empty() {
        return Err(ApiError::invalid(&t.kind, &name, &bad, Some(&t.namespace)));
    }
    let node = node_of(schema, &t.kind);
    let sub = t.sub.as_deref().unwrap_or_default();
    let old = w.get(&t.key()).map(|o| o.data.clone());
    let mut live = old.clone().unwrap_or_else(
        || json!({"apiVersion": applied["apiVersion"], "kind": applied["kind"], "metadata": {}}),
    );
    let mut entries = old.as_ref().map(Managed::parse_all).unwrap_or_default();
    let set = Fields::of_object(node, &applied);
    take_conflicts(&mut entries, &set, &applied, &live, manager, force)?;
    let mine = entries.iter().position(|e| e.is(manager, "Apply", sub));
    let previous = mine.map(|i| entries[i].fields.clone()).unwrap_or_default();
    for p in previous.members() {
        let owned_by_others = entries
            .iter()
            .any(|e| !e.is(manager, "Apply", sub) && e.fields.contains(&p));
        if !set.contains(&p) && !owned_by_others {
            fields::remove(&mut live, &p);
        }
    }
    if t.kind.status
        && t.sub.is_none()
        && let Value::Object(a) = &mut applied
    {
        a.shift_remove("status");
    }
    fields::merge(node, &mut live, &applied);
    let entry = Managed {
        manager: manager.clone(),
        operation: "Apply".to_string(),
        api_version: t.kind.api_version(),
        time: sim_kit::text::rfc3339_seconds(),
        subresource: sub.to_string(),
        fields: set,
    };
    match mine {
        Some(i) if entries[i].fields == entry.fields => entries[i].api_version = entry.api_version,
        Some(i) => entries[i] = entry,
        None => entries.push(entry),
    }
    let mut entries = prune(entries, &live);
    // The applier stays on record even when what it applies sets no field of its own.
    if !entries.iter().any(|e| e.is(manager, "Apply", sub)) {
        entries.push(Managed {
            manager: manager.clone(),
            operation: "Apply".to_string(),
            api_version: t.kind.api_version(),
            time: sim_kit::text::rfc3339_seconds(),
            subresource: sub.to_string(),
            fields: Fields::default(),
        });
    }
    commit(w, schema, t, req, live, entries)
}

/// Finds the fields `applied` sets that other managers own with another value: a 409
/// `Conflict` naming them, or with `force` the fields taken from those managers.
fn take_conflicts(
    entries: &mut [Managed],
    set: &Fields,
    applied: &Value,
    live: &Value,
    manager: &str,
    force: bool,
) -> Result<(), ApiError> {
    let mut conflicts: Vec<(usize, fields::Path)> = Vec::new();
    for p in set.members() {
        if p.last().is_some_and(|s| s == ".") || fields::get(applied, &p) == fields::get(live, &p) {
            continue;
        }
        for (i, e) in entries.iter().enumerate() {
            if e.manager != manager && e.fields.contains(&p) {
                conflicts.push((i, p.clone()));
            }
        }
    }
    if conflicts.is_empty() {
        return Ok(());
    }
    if force {
        for (i, p) in conflicts {
            entries[i].fields.remove(&p);
        }
        return Ok(());
    }
    let said: Vec<(String, String)> = conflicts
        .iter()
        .map(|(i, p)| {
            let e = &entries[*i];
            (
                format!("conflict with \"{}\" using {}", e.manager, e.api_version),
                fields::display(p),
            )
        })
        .collect();
    let lines: Vec<String> = said.iter().map(|(who, f)| format!("{who}: {f}")).collect();
    let message = if lines.len() == 1 {
        format!("Apply failed with 1 conflict: {}", lines.join(""))
    } else {
        format!(
            "Apply failed with {} conflicts: {}",
            lines.len(),
            lines.join("\n")
        )
    };
    let causes: Vec<Value> = said
        .iter()
        .map(|(who, f)| json!({"reason": "FieldManagerConflict", "message": who, "field": f}))
        .collect();
    Err(ApiError::new(409, "Conflict", message).with_details(json!({"causes": causes})))
}

fn invalid_name(kind: &Kind, name: &str, why: &str) -> ApiError {
    ApiError::invalid(
        kind,
        name,
        &[Problem::Value {
            path: "metadata.name".to_string(),
            message: format!("Invalid value: {name:?}: {why}"),
        }],
        None,
    )
}

/// Whether `name` is a lowercase RFC 1123 subdomain (or label, for the kinds that need one).
fn name_problem(kind: &Kind, name: &str) -> Option<String> {
    let label = matches!(kind.kind.as_str(), "Namespace" | "Service") && kind.group.is_empty();
    let max = if label { 63 } else { 253 };
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !p.starts_with('-')
            && !p.ends_with('-')
    };
    let ok = name.len() <= max
        && if label {
            part_ok(name)
        } else {
            name.split('.').all(part_ok)
        };
    (!ok).then(|| {
        let what = if label { "label" } else { "subdomain" };
        format!(
            "a lowercase RFC 1123 {what} must consist of lower case alphanumeric characters, '-'{} and must start and end with an alphanumeric character",
            if label { "" } else { " or '.'" }
        )
    })
}

/// Checks what only a write can check: the namespace exists and is not going away, the name,
/// a CRD's name.
fn admit(w: &World, t: &Target, obj: &Value, creating: bool) -> Result<(), ApiError> {
    let name = t.name.as_deref().unwrap_or_default();
    if let Some(why) = name_problem(&t.kind, name) {
        return Err(invalid_name(&t.kind, name, &why));
    }
    if creating && t.kind.namespaced {
        match w.namespace_phase(&t.namespace).as_deref() {
            None => {
                let ns = Kind::builtin().into_iter().find(|k| k.kind == "Namespace");
                if let Some(ns) = ns {
                    return Err(ApiError::not_found(&ns, &t.namespace));
                }
            }
            Some("Terminating") => {
                return Err(ApiError::new(
                    403,
                    "Forbidden",
                    format!(
                        "{} \"{name}\" is forbidden: unable to create new content in namespace {} because it is being terminated",
                        t.kind.resource(),
                        t.namespace
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    if t.kind.kind == "CustomResourceDefinition" {
        let spec = &obj["spec"];
        let want = format!(
            "{}.{}",
            spec["names"]["plural"].as_str().unwrap_or_default(),
            spec["group"].as_str().unwrap_or_default()
        );
        if want != name {
            return Err(invalid_name(
                &t.kind,
                name,
                &format!("must be spec.names.plural+\".\"+spec.group ({want})"),
            ));
        }
    }
    Ok(())
}

/// The fields of a built-in kind that cannot change once created (the API server's update
/// validation): a Job's pod template and selector, a Deployment's or StatefulSet's selector, and
/// a StatefulSet's spec but for the fields its controller can roll out.
fn immutable_changes(kind: &Kind, old: &Value, new: &Value) -> Vec<Problem> {
    if kind.crd_schema.is_some() {
        return Vec::new();
    }
    let fields: &[&str] = match kind.kind.as_str() {
        "Job" => &["template", "selector"],
        "Deployment" => &["selector"],
        "StatefulSet" => &[
            "selector",
            "serviceName",
            "volumeClaimTemplates",
            "podManagementPolicy",
        ],
        _ => &[],
    };
    fields
        .iter()
        .filter(|f| old["spec"][**f] != new["spec"][**f])
        .map(|f| Problem::Value {
            path: format!("spec.{f}"),
            message: format!("Invalid value: {}: field is immutable", new["spec"][*f]),
        })
        .collect()
}

/// Whether the kind's objects count generations (spec changes).
fn has_generation(kind: &Kind) -> bool {
    kind.crd_schema.is_some()
        || matches!(
            kind.kind.as_str(),
            "Deployment"
                | "StatefulSet"
                | "Job"
                | "HorizontalPodAutoscaler"
                | "PodDisruptionBudget"
                | "CustomResourceDefinition"
        )
}

/// The parts of an object a generation counts: everything but metadata and status.
fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Value::Object(m) = &mut v {
        m.shift_remove("metadata");
        m.shift_remove("status");
    }
    v
}

/// Validates and stores the outcome of a write (see the module documentation).
fn commit(
    w: &mut World,
    schema: &Schema,
    t: &Target,
    req: &Req,
    mut new: Value,
    managed: Vec<Managed>,
) -> Answer {
    let name = t.name.clone().unwrap_or_default();
    let old = w.get(&t.key()).cloned();
    let found = problems(schema, &t.kind, &new);
    if !found.is_empty() {
        return Err(ApiError::invalid(&t.kind, &name, &found, None));
    }
    admit(w, t, &new, old.is_none())?;
    if t.kind.crd_schema.is_none() {
        status::apply_defaults(&t.kind.kind, &mut new);
    }
    if let Some(old) = &old {
        let changed = immutable_changes(&t.kind, &old.data, &new);
        if !changed.is_empty() {
            return Err(ApiError::invalid(&t.kind, &name, &changed, None));
        }
    }
    let now = sim_kit::text::rfc3339_seconds();
    let old_meta = old.as_ref().map(|o| o.data["metadata"].clone());
    let spec_changed = old
        .as_ref()
        .is_none_or(|o| spec_part(&o.data) != spec_part(&new));
    let meta = &mut new["metadata"];
    for field in [
        "uid",
        "creationTimestamp",
        "generation",
        "resourceVersion",
        "deletionTimestamp",
    ] {
        if let Value::Object(m) = meta {
            m.shift_remove(field);
        }
    }
    let managed_json: Vec<Value> = managed.iter().map(Managed::to_json).collect();
    meta["managedFields"] = json!(managed_json);
    match &old_meta {
        Some(m) => {
            meta["uid"] = m["uid"].clone();
            meta["creationTimestamp"] = m["creationTimestamp"].clone();
            if m.get("deletionTimestamp").is_some() {
                meta["deletionTimestamp"] = m["deletionTimestamp"].clone();
            }
            let generation = m["generation"].as_i64().unwrap_or(1);
            if has_generation(&t.kind) {
                meta["generation"] = json!(generation + i64::from(spec_changed));
            }
        }
        None => {
            meta["creationTimestamp"] = json!(now);
            if has_generation(&t.kind) {
                meta["generation"] = json!(1);
            }
        }
    }
    if let Some(old) = &old
        && same_but_times(&old.data, &new)
    {
        return Ok((200, old.data.clone()));
    }
    if old.is_none() {
        new["metadata"]["uid"] = json!(w.uuid());
        if t.kind.status {
            new["status"] = Value::Null;
            if let Value::Object(m) = &mut new {
                m.shift_remove("status");
            }
        }
        let mut draw = |n: u32| (w.roll() * f64::from(n)) as u32;
        status::on_create(&t.kind.kind, &mut new, &mut draw);
    }
    let rv = w.next_rv();
    new["metadata"]["resourceVersion"] = json!(rv);
    if req.query.get("dryRun").is_some_and(|d| d == "All") {
        return Ok((if old.is_none() { 201 } else { 200 }, new));
    }
    let changed = match &old {
        Some(o) if !spec_changed => o.changed,
        _ => Instant::now(),
    };
    let code = if old.is_none() { 201 } else { 200 };
    w.objects.insert(
        t.key(),
        Obj {
            data: new.clone(),
            changed,
            gone_at: old.and_then(|o| o.gone_at),
        },
    );
    Ok((code, new))
}

/// Whether two versions of an object differ only in their resource version and the times of
/// their managed fields (a write that changes nothing).
fn same_but_times(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Value::Object(m) = &mut v["metadata"] {
            m.shift_remove("resourceVersion");
            if let Some(Value::Array(entries)) = m.get_mut("managedFields") {
                for e in entries {
                    if let Value::Object(e) = e {
                        e.shift_remove("time");
                    }
                }
            }
        }
        v
    };
    strip(old) == strip(new)
}
