//! The resources the simulator serves: the built-in kinds ss deploys, and the kinds of the
//! CustomResourceDefinitions it holds; and the discovery documents that list them.

use serde_json::{Value, json};

use crate::schema::strings;

/// One served resource (a kind at one group/version).
#[derive(Debug, Clone, PartialEq)]
pub struct Kind {
    /// The API group (`""` for the core group).
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The resource name in paths (`deployments`).
    pub plural: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    /// Whether `status` is a subresource (the main resource ignores it).
    pub status: bool,
    /// Whether `scale` is a subresource (`spec.replicas`).
    pub scale: bool,
    /// A CRD's `openAPIV3Schema` (custom resources); `None` for the built-in kinds.
    pub crd_schema: Option<Value>,
}

/// The built-in kinds: (group, version, kind, plural, namespaced, short names, status, scale).
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    bool,
    bool,
);

const BUILTIN: &[Builtin] = &[
    (
        "",
        "v1",
        "Namespace",
        "namespaces",
        false,
        &["ns"],
        true,
        false,
    ),
    ("", "v1", "Secret", "secrets", true, &[], false, false),
    (
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        true,
        &["cm"],
        false,
        false,
    ),
    ("", "v1", "Service", "services", true, &["svc"], true, false),
    (
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        true,
        &["sa"],
        false,
        false,
    ),
    (
        "apps",
        "v1",
        "Deployment",
        "deployments",
        true,
        &["deploy"],
        true,
        true,
    ),
    (
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        true,
        &["sts"],
        true,
        true,
    ),
    ("batch", "v1", "Job", "jobs", true, &[], true, false),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
        true,
        false,
    ),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
        true,
        false,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
        true,
        false,
    ),
];

/// The verbs every served resource answers.
const VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

impl Kind {
    /// The built-in kinds.
    pub fn builtin() -> Vec<Kind> {
        BUILTIN
            .iter()
            .map(
                |(group, version, kind, plural, namespaced, shorts, status, scale)| Kind {
                    group: group.to_string(),
                    version: version.to_string(),
                    kind: kind.to_string(),
                    plural: plural.to_string(),
                    namespaced: *namespaced,
                    short_names: shorts.iter().map(|s| s.to_string()).collect(),
                    status: *status,
                    scale: *scale,
                    crd_schema: None,
                },
            )
            .collect()
    }

    /// The kinds a CRD serves (one per served version), once it is established.
    pub fn of_crd(crd: &Value) -> Vec<Kind> {
        let spec = &crd["spec"];
        let names = &spec["names"];
        let str_of = |v: &Value| v.as_str().unwrap_or_default().to_string();
        spec["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["served"] == Value::Bool(true))
            .map(|v| Kind {
                group: str_of(&spec["group"]),
                version: str_of(&v["name"]),
                kind: str_of(&names["kind"]),
                plural: str_of(&names["plural"]),
                namespaced: spec["scope"] == json!("Namespaced"),
                short_names: strings(&names["shortNames"]),
                status: v["subresources"].get("status").is_some(),
                scale: v["subresources"].get("scale").is_some(),
                crd_schema: Some(v["schema"]["openAPIV3Schema"].clone()),
            })
            .collect()
    }

    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The resource as errors name it: `deployments.apps`, `configmaps`.
    pub fn resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The kind as validation errors name it: `Deployment.apps`, `ConfigMap`.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// The `details` of a `Status` about one object.
    pub fn details(&self, name: &str) -> Value {
        let mut d = json!({"name": name, "kind": self.plural});
        if !self.group.is_empty() {
            d["group"] = json!(self.group);
        }
        d
    }

    /// The key of an object in the store: `group/plural/namespace/name`.
    pub fn key(&self, namespace: &str, name: &str) -> String {
        format!("{}/{namespace}/{name}", self.collection())
    }

    /// The key prefix of every object of this resource.
    pub fn collection(&self) -> String {
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        format!("{group}/{}", self.plural)
    }

    /// The entries of an `APIResourceList` for this kind and its subresources.
    fn resource_entries(&self) -> Vec<Value> {
        let singular = self.kind.to_ascii_lowercase();
        let mut main = json!({
            "name": self.plural, "singularName": singular, "namespaced": self.namespaced,
            "kind": self.kind, "verbs": VERBS,
        });
        if !self.short_names.is_empty() {
            main["shortNames"] = json!(self.short_names);
        }
        if self.kind == "Deployment" || self.kind == "StatefulSet" {
            main["categories"] = json!(["all"]);
        }
        let mut out = vec![main];
        let sub_verbs = json!(["get", "patch", "update"]);
        if self.status {
            out.push(
                json!({"name": format!("{}/status", self.plural), "singularName": "",
                "namespaced": self.namespaced, "kind": self.kind, "verbs": sub_verbs}),
            );
        }
        if self.scale {
            out.push(
                json!({"name": format!("{}/scale", self.plural), "singularName": "",
                "namespaced": self.namespaced, "group": "autoscaling", "version": "v1",
                "kind": "Scale", "verbs": sub_verbs}),
            );
        }
        out
    }
}

/// `GET /api`.
pub fn core_versions(server: &str) -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
    })
}

/// The groups (other than core) the kinds belong to, each with its versions, in order.
fn groups(kinds: &[Kind]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for k in kinds.iter().filter(|k| !k.group.is_empty()) {
        match out.iter_mut().find(|(g, _)| *g == k.group) {
            Some((_, versions)) if !versions.contains(&k.version) => {
                versions.push(k.version.clone())
            }
            Some(_) => {}
            None => out.push((k.group.clone(), vec![k.version.clone()])),
        }
    }
    out
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let gv: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": gv, "preferredVersion": gv.first().cloned().unwrap_or(Value::Null)})
}

/// `GET /apis`.
pub fn group_list(kinds: &[Kind]) -> Value {
    let groups: Vec<Value> = groups(kinds)
        .iter()
        .map(|(name, versions)| group_doc(name, versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/<group>`, if the group is served.
pub fn group(kinds: &[Kind], name: &str) -> Option<Value> {
    let (_, versions) = groups(kinds).into_iter().find(|(g, _)| g == name)?;
    let mut doc = group_doc(name, &versions);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

/// `GET /api/v1` or `GET /apis/<group>/<version>`, if that group/version is served.
pub fn resource_list(kinds: &[Kind], group: &str, version: &str) -> Option<Value> {
    let served: Vec<&Kind> = kinds
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .collect();
    let first = served.first()?;
    let resources: Vec<Value> = served.iter().flat_map(|k| k.resource_entries()).collect();
    Some(json!({
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": first.api_version(), "resources": resources,
    }))
}

/// The path of a group/version in the OpenAPI v3 index: `api/v1`, `apis/apps/v1`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `GET /openapi/v3`: the index of the per-group/version documents. kubectl reads it (and the
/// documents) to learn that the server validates fields itself (`fieldValidation`), and then
/// leaves validation to the server.
pub fn openapi_index(kinds: &[Kind]) -> Value {
    let mut paths = serde_json::Map::new();
    for k in kinds {
        let gv = gv_path(&k.group, &k.version);
        let url = format!("/openapi/v3/{gv}?hash=kube-sim");
        paths.insert(gv, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

/// `GET /openapi/v3/<api/v1 | apis/<group>/<version>>`: for each kind, the object path with its
/// `patch` operation, its group/version/kind and the `fieldValidation` and `fieldManager`
/// query parameters (the part of the real document clients look up).
pub fn openapi_document(kinds: &[Kind], gv: &str) -> Option<Value> {
    let served: Vec<&Kind> = kinds
        .iter()
        .filter(|k| gv_path(&k.group, &k.version) == gv)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut paths = serde_json::Map::new();
    for k in served {
        let scope = if k.namespaced {
            "namespaces/{namespace}/"
        } else {
            ""
        };
        let path = format!("/{gv}/{scope}{}/{{name}}", k.plural);
        let query = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string"}});
        let patch = json!({
            "operationId": format!("patch{}", k.kind),
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": k.group, "version": k.version, "kind": k.kind},
            "parameters": [query("dryRun"), query("fieldManager"), query("fieldValidation"), query("force")],
            "responses": {"200": {"description": "OK"}},
        });
        paths.insert(path, json!({"patch": patch}));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
    }))
}
