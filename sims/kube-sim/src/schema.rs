//! The Kubernetes 1.33 OpenAPI definitions (as JSON Schema, `$defs`), and CRDs'
//! `openAPIV3Schema`: strict validation of an object, and the list and map semantics server-side
//! apply needs (which lists are keyed, by what; which maps are atomic).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

/// The file of definitions under the schema directory.
pub const DEFINITIONS: &str = "v1.33.0-local-strict.definitions.json";

/// The schema directory of this repository (`sims/api-specs/kubernetes`).
pub fn default_schema_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../api-specs/kubernetes"
    ))
}

/// The definitions, and which one describes each group/version/kind.
#[derive(Debug)]
pub struct Schema {
    defs: Map<String, Value>,
    by_gvk: HashMap<(String, String, String), String>,
}

/// The strings of a JSON array (nothing when it is not one).
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The definition name of `ObjectMeta`.
pub const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

impl Schema {
    /// Loads the definitions of `dir`, once per process.
    pub fn load_cached(dir: &Path) -> Result<Arc<Schema>, String> {
        sim_kit::schema::load_cached(dir, |dir| {
            let mut docs = sim_kit::schema::read_documents(
                dir,
                "the Kubernetes OpenAPI definitions",
                &[DEFINITIONS],
            )?;
            Schema::from_document(docs.pop().unwrap_or(Value::Null))
        })
    }

    /// The schema of a document with its definitions under `$defs`.
    pub fn from_document(doc: Value) -> Result<Schema, String> {
        let Value::Object(mut doc) = doc else {
            return Err("the definitions document is not an object".to_string());
        };
        let Some(Value::Object(defs)) = doc.remove("$defs") else {
            return Err("the definitions document has no $defs".to_string());
        };
        let mut by_gvk = HashMap::new();
        for (name, def) in &defs {
            for gvk in def["x-kubernetes-group-version-kind"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let field = |k: &str| gvk[k].as_str().unwrap_or_default().to_string();
                by_gvk.insert(
                    (field("group"), field("version"), field("kind")),
                    name.clone(),
                );
            }
        }
        Ok(Schema { defs, by_gvk })
    }

    /// The node of a definition, by name.
    pub fn def(&self, name: &str) -> Option<Node<'_>> {
        self.defs.get(name).map(|v| Node {
            v,
            defs: &self.defs,
        })
    }

    /// The node of the definition of a built-in kind.
    pub fn kind(&self, group: &str, version: &str, kind: &str) -> Option<Node<'_>> {
        let key = (group.to_string(), version.to_string(), kind.to_string());
        self.by_gvk.get(&key).and_then(|name| self.def(name))
    }

    /// A node of a schema outside the definitions (a CRD's `openAPIV3Schema`).
    pub fn node<'a>(&'a self, v: &'a Value) -> Node<'a> {
        Node {
            v,
            defs: &self.defs,
        }
    }
}

/// How a list merges and is owned field by field (server-side apply).
#[derive(Debug, Clone, PartialEq)]
pub enum ListKind {
    /// Replaced whole, owned as one field.
    Atomic,
    /// Elements identified by the values of these fields.
    Map(Vec<String>),
    /// Elements identified by their own (scalar) value.
    Set,
}

/// One schema node, with the definitions its `$ref`s point into.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    v: &'a Value,
    defs: &'a Map<String, Value>,
}

impl<'a> Node<'a> {
    /// The node itself, its `$ref` followed (a few levels at most).
    pub fn resolved(self) -> Node<'a> {
        let mut node = self;
        for _ in 0..8 {
            let Some(r) = node.v.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let name = r.rsplit('/').next().unwrap_or(r);
            match self.defs.get(name) {
                Some(v) => node = Node { v, defs: self.defs },
                None => break,
            }
        }
        node
    }

    pub fn raw(self) -> &'a Value {
        self.v
    }

    /// The JSON types the node allows (empty: any).
    pub fn types(self) -> Vec<&'a str> {
        let n = self.resolved();
        match &n.v["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// The alternatives of a `oneOf`/`anyOf` (int-or-string, quantity).
    pub fn alternatives(self) -> Vec<Node<'a>> {
        let n = self.resolved();
        let alts = n.v.get("oneOf").or_else(|| n.v.get("anyOf"));
        alts.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| Node { v, defs: self.defs })
            .collect()
    }

    /// Whether the node takes anything (no type, no properties, or unknown fields preserved).
    pub fn is_free(self) -> bool {
        let n = self.resolved();
        n.v["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true)
            || (n.types().is_empty()
                && n.v.get("properties").is_none()
                && n.v.get("additionalProperties").is_none()
                && n.v.get("items").is_none()
                && n.alternatives().is_empty()
                && n.v["x-kubernetes-int-or-string"] != Value::Bool(true))
    }

    /// Whether it is Kubernetes' int-or-string.
    pub fn int_or_string(self) -> bool {
        let n = self.resolved();
        n.v["x-kubernetes-int-or-string"] == Value::Bool(true)
    }

    /// A declared property.
    pub fn prop(self, name: &str) -> Option<Node<'a>> {
        let n = self.resolved();
        n.v.get("properties")
            .and_then(|p| p.get(name))
            .map(|v| Node { v, defs: self.defs })
    }

    /// The schema of every value of a map, if the node is a map.
    pub fn additional(self) -> Option<Node<'a>> {
        let n = self.resolved();
        match n.v.get("additionalProperties") {
            Some(v @ Value::Object(_)) => Some(Node { v, defs: self.defs }),
            Some(Value::Bool(true)) => Some(Node {
                v: &Value::Null,
                defs: self.defs,
            }),
            _ => None,
        }
    }

    /// The schema of a field of this object: a property, else a map value.
    pub fn child(self, name: &str) -> Option<Node<'a>> {
        self.prop(name).or_else(|| self.additional())
    }

    /// Whether the node declares properties (a struct, as opposed to a map).
    pub fn has_properties(self) -> bool {
        self.resolved().v.get("properties").is_some()
    }

    /// The schema of a list's elements.
    pub fn items(self) -> Option<Node<'a>> {
        let n = self.resolved();
        n.v.get("items").map(|v| Node { v, defs: self.defs })
    }

    /// The required properties.
    pub fn required(self) -> Vec<&'a str> {
        let n = self.resolved();
        n.v["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    }

    /// How a list at this node merges: `x-kubernetes-list-type`, else the patch merge key,
    /// else atomic (the default of structured-merge-diff for built-in types).
    pub fn list_kind(self) -> ListKind {
        let n = self.resolved();
        let keys = strings(&n.v["x-kubernetes-list-map-keys"]);
        match n.v["x-kubernetes-list-type"].as_str() {
            Some("map") if !keys.is_empty() => ListKind::Map(keys),
            Some("set") => ListKind::Set,
            Some(_) => ListKind::Atomic,
            None => match n.v["x-kubernetes-patch-merge-key"].as_str() {
                Some(key) => ListKind::Map(vec![key.to_string()]),
                None => ListKind::Atomic,
            },
        }
    }

    /// Whether a map or struct at this node is owned as one field.
    pub fn atomic_map(self) -> bool {
        let n = self.resolved();
        n.v["x-kubernetes-map-type"].as_str() == Some("atomic")
    }
}
