//! The id of a `kubernetes_object`: `<cluster reference>|<apiVersion>|<kind>|<namespace or
//! "">|<name>`, everything needed to find the object again.

use std::fmt;

use provider_api::{ProviderError, Value};

/// What names one object in one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectId {
    pub cluster: String,
    pub api_version: String,
    pub kind: String,
    /// Empty for a cluster-scoped object.
    pub namespace: String,
    pub name: String,
}

impl ObjectId {
    /// Parses an id. The last four parts never hold `|` (Kubernetes names and kinds cannot),
    /// so the cluster reference is what remains before them, whatever it holds.
    pub fn parse(id: &str) -> Result<ObjectId, ProviderError> {
        let mut parts = id.rsplitn(5, '|');
        let mut next = || parts.next().map(str::to_string);
        match (next(), next(), next(), next(), next()) {
            (Some(name), Some(namespace), Some(kind), Some(api_version), Some(cluster))
                if !name.is_empty()
                    && !kind.is_empty()
                    && !api_version.is_empty()
                    && !cluster.is_empty() =>
            {
                Ok(ObjectId {
                    cluster,
                    api_version,
                    kind,
                    namespace,
                    name,
                })
            }
            _ => Err(ProviderError::Invalid(format!(
                "{id:?} is not a kubernetes_object id \
                 (<cluster>|<apiVersion>|<kind>|<namespace>|<name>)"
            ))),
        }
    }

    /// The id of the object a manifest describes in `cluster`; the error names the missing
    /// part (never the manifest's content).
    pub fn of_manifest(cluster: &str, manifest: &Value) -> Result<ObjectId, ProviderError> {
        let text = |v: Option<&Value>, what: &str| -> Result<String, ProviderError> {
            v.and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| {
                    ProviderError::Invalid(format!("the manifest has no `{what}` (a string)"))
                })
        };
        let meta = manifest.get("metadata");
        Ok(ObjectId {
            cluster: cluster.to_string(),
            api_version: text(manifest.get("apiVersion"), "apiVersion")?,
            kind: text(manifest.get("kind"), "kind")?,
            namespace: meta
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            name: text(meta.and_then(|m| m.get("name")), "metadata.name")?,
        })
    }

    /// `kind namespace/name` (or `kind name`) for messages and logs.
    pub fn what(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}|{}|{}|{}|{}",
            self.cluster, self.api_version, self.kind, self.namespace, self.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn ids_round_trip_and_the_cluster_may_hold_bars() {
        let id = ObjectId {
            cluster: "kubeconfig:/tmp/a|b.yaml#ctx".into(),
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: "superset".into(),
            name: "web".into(),
        };
        let text = id.to_string();
        assert_eq!(
            text,
            "kubeconfig:/tmp/a|b.yaml#ctx|apps/v1|Deployment|superset|web"
        );
        assert_eq!(ObjectId::parse(&text), Ok(id));
        let ns = ObjectId::parse("eks:c|v1|Namespace||superset").expect("parses");
        assert_eq!(ns.namespace, "");
        assert_eq!(ns.what(), "Namespace superset");
        for bad in ["", "a|b|c|d", "eks:c|v1|Namespace||", "|v1|Namespace||x"] {
            assert!(ObjectId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_manifest_names_its_object() {
        let manifest = |meta: Value| {
            Value::Map(BTreeMap::from([
                ("apiVersion".to_string(), Value::from("v1")),
                ("kind".to_string(), Value::from("Secret")),
                ("metadata".to_string(), meta),
                ("data".to_string(), Value::from("czNjcjN0").sensitive()),
            ]))
        };
        let meta = Value::Map(BTreeMap::from([
            ("name".to_string(), Value::from("cfg")),
            ("namespace".to_string(), Value::from("superset")),
        ]));
        let id = ObjectId::of_manifest("eks:c", &manifest(meta)).expect("named");
        assert_eq!(id.to_string(), "eks:c|v1|Secret|superset|cfg");
        let err = ObjectId::of_manifest("eks:c", &manifest(Value::Map(BTreeMap::new())))
            .expect_err("no name");
        assert!(err.to_string().contains("`metadata.name`"), "{err}");
        assert!(!err.to_string().contains("czNjcjN0"), "{err}");
    }
}
