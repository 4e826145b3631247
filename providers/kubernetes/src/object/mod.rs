//! The `kubernetes_object` native type: one Kubernetes object in one cluster.
//!
//! - Create and update are a server-side apply (`PATCH` with `application/apply-patch+yaml`,
//!   field manager `ss`, `force=true`), then a wait (`wait = "ready"`: see
//!   [`ready::readiness`]).
//! - A read gives back the live object projected onto the fields `ss` owns (its
//!   `managedFields` entry, see [`fields`]): what a plan compares with the configuration, so a
//!   field ss set and someone changed is drift, and what the server defaulted is not.
//! - A delete is a `DELETE` (dependents first), then a wait until the object is gone.
//! - The id is `<cluster reference>|<apiVersion>|<kind>|<namespace or "">|<name>` ([`ObjectId`]);
//!   a cluster reference ([`cluster`]) is enough to reconnect.
//! - A change of the manifest's apiVersion, kind, namespace or name is another object: the
//!   plan replaces it ([`adjust_plan`]), and an update refuses it.
//! - A manifest's `Value::Sensitive` parts (a Secret's data) are sent and never logged, and a
//!   Secret's entries read back sensitive ([`secret`]).

pub mod cluster;
pub mod fields;
mod id;
pub mod manifest;
pub mod ready;
pub mod secret;
mod service;

use provider_api::kit::schema::{map, s, with_id};
use provider_api::schema::{AttrType, AttributeSchema as A, ResourceSchema};
use provider_api::{Attrs, Diagnostic, PlanResponse, Value};

pub use cluster::{CLIENT_TTL, ClusterRef, Clusters, bearer_config, kubeconfig_text_config};
pub use id::ObjectId;
pub use service::Objects;

/// The native type's name.
pub const OBJECT: &str = "kubernetes_object";

/// `wait = "ready"`: wait until the object is ready (the default).
pub const WAIT_READY: &str = "ready";
/// `wait = "none"`: do not wait.
pub const WAIT_NONE: &str = "none";

/// The `cluster` attribute: which cluster, as a reference enough to reconnect from.
pub(crate) fn cluster_attr() -> A {
    A::required(
        s(),
        "The cluster: `kubeconfig:<path>[#<context>]` or `<cloud>:<cluster id>`",
    )
    .force_new()
}

/// The schema of `kubernetes_object`.
pub fn schema() -> ResourceSchema {
    ResourceSchema::native(
        OBJECT,
        "One Kubernetes object, applied with server-side apply as the field manager `ss`",
        with_id("`<cluster reference>|<apiVersion>|<kind>|<namespace>|<name>`")
            .attr("cluster", cluster_attr())
            .attr(
                "manifest",
                A::required(
                    map(AttrType::Any),
                    "The object (`apiVersion`, `kind`, `metadata.name`, `metadata.namespace` \
                     for a namespaced kind, …); read back as the fields ss manages",
                ),
            )
            .attr(
                "wait",
                A::optional(
                    s(),
                    "`ready`: wait until rolled out, complete or active; `none`: do not wait",
                )
                .default(WAIT_READY)
                // The cluster knows nothing of it: a read keeps the recorded value.
                .write_only(),
            )
            .attr("uid", A::computed(s(), "The object's `metadata.uid`")),
    )
}

/// Checks of a configuration that do not need the cluster: the `wait` mode, the cluster
/// reference's form and the manifest's names (parts still unknown are skipped).
pub fn validate(config: &Attrs) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    if let Some(wait) = config.get("wait").and_then(Value::as_str)
        && wait != WAIT_READY
        && wait != WAIT_NONE
    {
        diags.push(
            Diagnostic::error(format!(
                "`wait` must be {WAIT_READY:?} or {WAIT_NONE:?}, not {wait:?}"
            ))
            .at(["wait"]),
        );
    }
    if let Some(reference) = config.get("cluster").and_then(Value::as_str)
        && let Err(e) = ClusterRef::parse(reference)
    {
        diags.push(Diagnostic::error(e.to_string()).at(["cluster"]));
    }
    if let Some(manifest) = config.get("manifest").filter(|m| !m.is_unknown()) {
        let meta = manifest.get("metadata");
        let names = [
            ("apiVersion", manifest.get("apiVersion")),
            ("kind", manifest.get("kind")),
            ("metadata.name", meta.and_then(|m| m.get("name"))),
        ];
        for (what, v) in names {
            if v.is_some_and(Value::is_unknown) || meta.is_some_and(Value::is_unknown) {
                continue;
            }
            if v.and_then(Value::as_str).is_none_or(str::is_empty) {
                diags.push(
                    Diagnostic::error(format!("the manifest needs `{what}` (a string)"))
                        .at(["manifest"]),
                );
            }
        }
    }
    diags
}

/// Plans a replacement when the manifest names another object than the one recorded (its
/// apiVersion, kind, namespace or name changed, or may change: one of them is only known
/// after apply), and for any change of a Job, whose pod template the API refuses to change
/// ("field is immutable"). The planned `id` is the recorded one until then, which says what
/// the object was; a plan without a recorded object is left alone, and a plan whose manifest
/// is unchanged stays a no-op (the planner decides that first). A provider calls this from
/// its [`Cloud::adjust_plan`](provider_api::kit::Cloud::adjust_plan) for [`OBJECT`].
pub fn adjust_plan(plan: &mut PlanResponse) {
    let Some(was) = plan
        .planned
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| ObjectId::parse(id).ok())
    else {
        return;
    };
    let manifest = plan.planned.get("manifest").unwrap_or(&Value::Null);
    let meta = manifest.get("metadata");
    let named = [
        (manifest.get("apiVersion"), was.api_version.as_str()),
        (manifest.get("kind"), was.kind.as_str()),
        (
            meta.and_then(|m| m.get("namespace")),
            was.namespace.as_str(),
        ),
        (meta.and_then(|m| m.get("name")), was.name.as_str()),
    ];
    let immutable = was.api_version == "batch/v1" && was.kind == "Job";
    let moved = immutable
        || manifest.is_unknown()
        || meta.is_some_and(Value::is_unknown)
        || named.iter().any(|(now, was)| match now {
            Some(v) if v.is_unknown() => true,
            Some(v) => v.as_str().unwrap_or_default() != *was,
            None => !was.is_empty(),
        });
    if moved && !plan.requires_replace.iter().any(|a| a == "manifest") {
        plan.requires_replace.push("manifest".to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provider_api::{ResourceState, default_plan, with_defaults};
    use std::collections::BTreeMap;

    fn obj(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    fn deployment(namespace: Value, name: Value, replicas: i64) -> Value {
        obj(vec![
            ("apiVersion", Value::from("apps/v1")),
            ("kind", Value::from("Deployment")),
            (
                "metadata",
                obj(vec![("name", name), ("namespace", namespace)]),
            ),
            ("spec", obj(vec![("replicas", Value::from(replicas))])),
        ])
    }

    fn config(manifest: Value) -> Attrs {
        Attrs::from([
            ("cluster".to_string(), Value::from("kubeconfig:/tmp/kc")),
            ("manifest".to_string(), manifest),
        ])
    }

    /// The plan of `proposed` over an object recorded with `recorded`'s manifest.
    fn plan(recorded: Value, proposed: Value) -> PlanResponse {
        let schema = schema();
        let id = ObjectId::of_manifest("kubeconfig:/tmp/kc", &recorded).expect("named");
        let mut attrs = with_defaults(&schema, &config(recorded));
        attrs.insert("id".into(), Value::from(id.to_string()));
        attrs.insert("uid".into(), Value::from("u-1"));
        let prior = ResourceState {
            id: id.to_string(),
            attrs,
        };
        let mut plan = default_plan(
            &schema,
            Some(&prior),
            &with_defaults(&schema, &config(proposed)),
        );
        adjust_plan(&mut plan);
        plan
    }

    #[test]
    fn a_new_name_or_namespace_replaces_and_a_new_spec_does_not() {
        let was = deployment(Value::from("superset"), Value::from("web"), 3);
        let more = deployment(Value::from("superset"), Value::from("web"), 5);
        assert!(plan(was.clone(), more).requires_replace.is_empty());
        let renamed = deployment(Value::from("superset"), Value::from("web2"), 3);
        assert_eq!(plan(was.clone(), renamed).requires_replace, ["manifest"]);
        let moved = deployment(Value::from("other"), Value::from("web"), 3);
        assert_eq!(plan(was.clone(), moved).requires_replace, ["manifest"]);
        let unknown = deployment(Value::from("superset"), Value::Unknown, 3);
        assert_eq!(plan(was.clone(), unknown).requires_replace, ["manifest"]);
        // Any change of a Job replaces it.
        let job = |image: &str| {
            Value::from_json(&serde_json::json!({
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "init", "namespace": "s"},
                "spec": {"template": {"spec": {"containers": [{"name": "i", "image": image}]}}}
            }))
        };
        assert_eq!(plan(job("a:1"), job("a:2")).requires_replace, ["manifest"]);
        // Nothing recorded: a create, nothing to replace.
        let schema = schema();
        let mut fresh = default_plan(&schema, None, &with_defaults(&schema, &config(was)));
        adjust_plan(&mut fresh);
        assert!(fresh.requires_replace.is_empty());
    }

    #[test]
    fn validation_names_the_faulty_setting() {
        let good = config(deployment(Value::from("s"), Value::from("web"), 1));
        assert!(validate(&good).is_empty());
        let mut bad = config(obj(vec![("kind", Value::from("ConfigMap"))]));
        bad.insert("wait".into(), Value::from("rolled"));
        bad.insert("cluster".into(), Value::from("nowhere"));
        let shown: Vec<String> = validate(&bad).iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 4, "{shown:?}");
        assert!(shown[0].contains("`wait` must be"), "{shown:?}");
        assert!(shown[1].contains("cluster reference"), "{shown:?}");
        assert!(shown[2].contains("`apiVersion`"), "{shown:?}");
        assert!(shown[3].contains("`metadata.name`"), "{shown:?}");
        let later = config(deployment(Value::from("s"), Value::Unknown, 1));
        assert!(validate(&later).is_empty());
    }

    #[test]
    fn the_schema_has_its_attributes() {
        let schema = schema();
        assert!(schema.attribute("cluster").is_some_and(|a| a.force_new));
        assert!(schema.attribute("wait").is_some_and(|a| a.write_only));
        assert!(schema.attribute("uid").is_some_and(|a| a.is_computed()));
        assert!(schema.attribute("id").is_some_and(|a| a.is_computed()));
    }
}
