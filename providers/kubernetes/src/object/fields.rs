//! The read-back of an object: the live object projected onto the fields a field manager owns.
//!
//! The API server records, for every manager, the set of fields it last set in
//! `metadata.managedFields[].fieldsV1`, a trie in JSON ("FieldsV1 stores a set of fields in a
//! data structure like a Trie, in JSON format", Kubernetes API reference, `FieldsV1` v1 meta;
//! the exact format is the one of sigs.k8s.io/structured-merge-diff). Each key of a node is
//! - `f:<name>`: a field of a struct or a key of a map;
//! - `k:<keys>`: the item of an associative list whose key fields have these values, given as
//!   a JSON object (`k:{"name":"web"}`, `k:{"containerPort":8088,"protocol":"TCP"}`);
//! - `v:<value>`: the item of a set-like list equal to this JSON value (`v:"kubernetes"`);
//! - `i:<index>`: the item at this position of a list;
//! - `.`: the node itself, always mapped to `{}`.
//!
//! A node mapped to `{}` (or only to `.`) is a leaf: the manager owns the whole value there
//! (an atomic list such as `command`, an atomic struct such as `selector`, a scalar).
//!
//! Projecting the live object onto the fields `ss` owns gives back what `ss` applied, with the
//! live values: a field `ss` set and someone changed shows its new value, while the fields the
//! server defaulted (owned by nobody) and those other managers set stay out.

use serde_json::{Map, Value as Json};

/// The field manager ss applies as.
pub const MANAGER: &str = "ss";

/// The live object as the manager `manager` applied it: its `Apply` field set (of the main
/// resource, not of a subresource such as `status`) projected onto `live`, plus what names the
/// object (`apiVersion`, `kind`, `metadata.name`, `metadata.namespace`), which field sets never
/// list. A manager with no entry (nothing applied, or every field taken over by others) reads
/// as the names alone.
pub fn applied_view(live: &Json, manager: &str) -> Json {
    let owned = live["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|entry| {
            entry["manager"].as_str() == Some(manager)
                && entry["operation"].as_str() == Some("Apply")
                && entry["subresource"].as_str().unwrap_or_default().is_empty()
        })
        .map(|entry| &entry["fieldsV1"]);
    let mut out = match owned {
        Some(set) if set.is_object() => project(live, set),
        _ => Json::Object(Map::new()),
    };
    if let Json::Object(map) = &mut out {
        for key in ["apiVersion", "kind"] {
            if let Some(v) = live.get(key) {
                map.insert(key.to_string(), v.clone());
            }
        }
        let meta = map
            .entry("metadata")
            .or_insert_with(|| Json::Object(Map::new()));
        if let Json::Object(meta) = meta {
            meta.remove("managedFields");
            for key in ["name", "namespace"] {
                if let Some(v) = live["metadata"].get(key) {
                    meta.insert(key.to_string(), v.clone());
                }
            }
        }
    }
    out
}

/// The part of `live` that the field set `set` names. Fields and items the set names but the
/// live value lacks are left out.
pub fn project(live: &Json, set: &Json) -> Json {
    let children: Vec<(&str, &Json)> = set
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.as_str() != ".")
        .map(|(key, sub)| (key.as_str(), sub))
        .collect();
    if children.is_empty() {
        return live.clone();
    }
    match live {
        Json::Object(map) => Json::Object(
            children
                .iter()
                .filter_map(|(key, sub)| {
                    let name = key.strip_prefix("f:")?;
                    map.get(name).map(|v| (name.to_string(), project(v, sub)))
                })
                .collect(),
        ),
        Json::Array(items) => {
            let members: Vec<(Member, &Json)> = children
                .iter()
                .filter_map(|(key, sub)| Member::parse(key).map(|m| (m, *sub)))
                .collect();
            Json::Array(
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| {
                        members
                            .iter()
                            .find(|(m, _)| m.matches(i, item))
                            .map(|(_, sub)| project(item, sub))
                    })
                    .collect(),
            )
        }
        scalar => scalar.clone(),
    }
}

/// How a field set names one item of a list.
#[derive(Debug, PartialEq)]
enum Member {
    /// `k:{…}`: the item whose key fields have these values.
    Keys(Map<String, Json>),
    /// `v:…`: the item equal to this value.
    Value(Json),
    /// `i:…`: the item at this position.
    Index(usize),
}

impl Member {
    fn parse(key: &str) -> Option<Member> {
        if let Some(keys) = key.strip_prefix("k:") {
            match serde_json::from_str(keys) {
                Ok(Json::Object(keys)) => Some(Member::Keys(keys)),
                _ => None,
            }
        } else if let Some(value) = key.strip_prefix("v:") {
            serde_json::from_str(value).ok().map(Member::Value)
        } else if let Some(index) = key.strip_prefix("i:") {
            index.parse().ok().map(Member::Index)
        } else {
            None
        }
    }

    fn matches(&self, index: usize, item: &Json) -> bool {
        match self {
            Member::Keys(keys) => keys
                .iter()
                .all(|(k, v)| item.get(k).is_some_and(|found| same(found, v))),
            Member::Value(v) => same(item, v),
            Member::Index(i) => *i == index,
        }
    }
}

/// JSON equality with numbers compared by value (`8088` and `8088.0` are the same port).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A Deployment as a 1.33 API server answers it after `ss` applied name, labels, replicas,
    /// selector and one container with a port and two env vars; then the server defaulted
    /// (strategy, protocol, imagePullPolicy, …) and the controller wrote status and an
    /// annotation under its own managers.
    fn deployment() -> Json {
        let ss_fields = json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {
                        "f:containers": {
                            "k:{\"name\":\"web\"}": {
                                ".": {},
                                "f:command": {},
                                "f:env": {
                                    "k:{\"name\":\"SERVER_WORKER_AMOUNT\"}": {
                                        ".": {},
                                        "f:name": {},
                                        "f:value": {}
                                    },
                                    "k:{\"name\":\"GUNICORN_TIMEOUT\"}": {
                                        ".": {},
                                        "f:name": {},
                                        "f:value": {}
                                    }
                                },
                                "f:image": {},
                                "f:name": {},
                                "f:ports": {
                                    "k:{\"containerPort\":8088,\"protocol\":\"TCP\"}": {
                                        ".": {},
                                        "f:containerPort": {}
                                    }
                                }
                            }
                        }
                    }
                }
            }
        });
        let managed = json!([
            {
                "manager": "ss",
                "operation": "Apply",
                "apiVersion": "apps/v1",
                "time": "2026-12-08T00:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": ss_fields
            },
            {
                "manager": "kube-controller-manager",
                "operation": "Update",
                "apiVersion": "apps/v1",
                "time": "2026-12-08T00:00:05Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:metadata": {"f:annotations": {
                        ".": {},
                        "f:deployment.kubernetes.io/revision": {}
                    }}
                }
            },
            {
                "manager": "kube-controller-manager",
                "operation": "Update",
                "apiVersion": "apps/v1",
                "time": "2026-12-08T00:00:05Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:status": {"f:replicas": {}}},
                "subresource": "status"
            }
        ]);
        let mut live = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "namespace": "superset",
                "uid": "0d6f5c3e-9a51-4a8e-9a5b-2f7f1c1d0e11",
                "resourceVersion": "1234",
                "generation": 2,
                "creationTimestamp": "2026-12-08T00:00:00Z",
                "labels": {"app": "superset", "team": "data"},
                "annotations": {"deployment.kubernetes.io/revision": "1"}
            },
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "superset"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "revisionHistoryLimit": 10,
                "template": {
                    "metadata": {"labels": {"app": "superset"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "apache/superset:4.1.2",
                                "command": ["gunicorn", "superset.app:create_app()"],
                                "env": [
                                    {"name": "SERVER_WORKER_AMOUNT", "value": "4"},
                                    {"name": "INJECTED_BY_WEBHOOK", "value": "x"},
                                    {"name": "GUNICORN_TIMEOUT", "value": "120"}
                                ],
                                "ports": [{"containerPort": 8088, "protocol": "TCP"}],
                                "imagePullPolicy": "IfNotPresent",
                                "terminationMessagePath": "/dev/termination-log"
                            },
                            {"name": "sidecar", "image": "envoy:1"}
                        ],
                        "restartPolicy": "Always",
                        "dnsPolicy": "ClusterFirst"
                    }
                }
            },
            "status": {"replicas": 3, "observedGeneration": 2}
        });
        live["metadata"]["managedFields"] = managed;
        live
    }

    #[test]
    fn a_deployment_reads_back_as_ss_applied_it() {
        let view = applied_view(&deployment(), MANAGER);
        assert_eq!(
            view,
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": "web",
                    "namespace": "superset",
                    "labels": {"app": "superset"}
                },
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": {"app": "superset"}},
                    "template": {
                        "metadata": {"labels": {"app": "superset"}},
                        "spec": {
                            "containers": [{
                                "name": "web",
                                "image": "apache/superset:4.1.2",
                                "command": ["gunicorn", "superset.app:create_app()"],
                                "env": [
                                    {"name": "SERVER_WORKER_AMOUNT", "value": "4"},
                                    {"name": "GUNICORN_TIMEOUT", "value": "120"}
                                ],
                                "ports": [{"containerPort": 8088}]
                            }]
                        }
                    }
                }
            })
        );
    }

    #[test]
    fn a_value_changed_by_hand_shows_its_new_value() {
        let mut live = deployment();
        live["spec"]["replicas"] = json!(7);
        live["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = json!("8");
        let view = applied_view(&live, MANAGER);
        assert_eq!(view["spec"]["replicas"], json!(7));
        assert_eq!(
            view["spec"]["template"]["spec"]["containers"][0]["env"][0],
            json!({"name": "SERVER_WORKER_AMOUNT", "value": "8"})
        );
    }

    #[test]
    fn a_field_taken_over_or_removed_by_someone_else_is_missing() {
        let mut live = deployment();
        // `kubectl scale` (an Update) takes `spec.replicas` over: the server moves its
        // ownership away from ss ("whenever a field's value does change, ownership moves from
        // its current manager to the manager making the change", Server-Side Apply docs).
        live["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]
            .as_object_mut()
            .map(|spec| spec.remove("f:replicas"));
        // And someone deleted the second env var of the container.
        live["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array_mut()
            .map(|env| env.remove(2));
        let view = applied_view(&live, MANAGER);
        assert_eq!(view["spec"].get("replicas"), None);
        assert_eq!(
            view["spec"]["template"]["spec"]["containers"][0]["env"],
            json!([{"name": "SERVER_WORKER_AMOUNT", "value": "4"}])
        );
    }

    #[test]
    fn another_managers_fields_and_subresources_are_not_read() {
        let live = deployment();
        let controller = applied_view(&live, "kube-controller-manager");
        // The controller only ever updated (no Apply entry): it reads as the names alone.
        assert_eq!(
            controller,
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "superset"}
            })
        );
        let view = applied_view(&live, MANAGER);
        assert_eq!(view.get("status"), None);
        assert_eq!(view["metadata"].get("annotations"), None);
        assert_eq!(view["metadata"].get("managedFields"), None);
    }

    #[test]
    fn set_items_and_indexes_are_matched_by_value_and_position() {
        let live = json!({
            "finalizers": ["kubernetes", "example.com/cleanup", "other.io/x"],
            "args": ["--a", "--b", "--c"],
            "matrix": [[1, 2], [3, 4]]
        });
        let set = json!({
            "f:finalizers": {"v:\"example.com/cleanup\"": {}, "v:\"gone.io/y\"": {}},
            "f:args": {"i:0": {}, "i:2": {}},
            "f:matrix": {"v:[3.0,4]": {}}
        });
        assert_eq!(
            project(&live, &set),
            json!({
                "finalizers": ["example.com/cleanup"],
                "args": ["--a", "--c"],
                "matrix": [[3, 4]]
            })
        );
    }

    #[test]
    fn a_leaf_takes_the_whole_value_and_a_dot_alone_is_a_leaf() {
        let live = json!({
            "spec": {
                "selector": {"matchLabels": {"app": "a"}, "matchExpressions": []},
                "ports": [{"port": 80, "targetPort": 8088}],
                "type": "ClusterIP"
            }
        });
        let set = json!({"f:spec": {"f:selector": {".": {}}, "f:ports": {}}});
        assert_eq!(
            project(&live, &set),
            json!({"spec": {
                "selector": {"matchLabels": {"app": "a"}, "matchExpressions": []},
                "ports": [{"port": 80, "targetPort": 8088}]
            }})
        );
    }

    #[test]
    fn keyed_items_match_on_every_key_field_with_numbers_by_value() {
        let live = json!([
            {"containerPort": 8088, "protocol": "UDP", "name": "u"},
            {"containerPort": 8088.0, "protocol": "TCP", "name": "t"},
            {"name": "no-port"}
        ]);
        let set = json!({"k:{\"containerPort\":8088,\"protocol\":\"TCP\"}": {"f:name": {}}});
        assert_eq!(project(&live, &set), json!([{"name": "t"}]));
    }

    #[test]
    fn malformed_keys_name_nothing() {
        let live = json!({"a": [1, 2], "b": 1});
        let set = json!({"f:a": {"k:not json": {}, "v:": {}, "i:x": {}, "z:1": {}}, "q:b": {}});
        assert_eq!(project(&live, &set), json!({"a": []}));
        assert_eq!(Member::parse("k:[1]"), None);
        assert_eq!(Member::parse("i:3"), Some(Member::Index(3)));
    }

    #[test]
    fn a_secrets_data_keys_are_fields_of_a_map() {
        let live = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "superset-config",
                "namespace": "superset",
                "managedFields": [{
                    "manager": "ss",
                    "operation": "Apply",
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {"f:SECRET_KEY": {}, "f:superset_config.py": {}}, "f:type": {}}
                }]
            },
            "data": {"SECRET_KEY": "czNjcjN0", "superset_config.py": "eA==", "added": "eQ=="},
            "type": "Opaque"
        });
        assert_eq!(
            applied_view(&live, MANAGER),
            json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "superset-config", "namespace": "superset"},
                "data": {"SECRET_KEY": "czNjcjN0", "superset_config.py": "eA=="},
                "type": "Opaque"
            })
        );
    }

    #[test]
    fn a_cluster_scoped_object_has_no_namespace_and_an_update_entry_of_ss_is_not_its_apply() {
        let live = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": "superset",
                "labels": {"kubernetes.io/metadata.name": "superset", "team": "data"},
                "managedFields": [
                    {"manager": "ss", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}},
                    {"manager": "ss", "operation": "Apply", "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}, "subresource": "status"}
                ]
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}
        });
        assert_eq!(
            applied_view(&live, MANAGER),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "superset"}})
        );
    }
}
