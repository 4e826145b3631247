//! The `kubernetes_manifest` native type: a cluster add-on installed from its upstream release
//! manifest, fetched at apply time as `kubectl apply --server-side -f URL` would (KEDA and
//! metrics-server for the `superset` component).
//!
//! - The manifest (a multi-document YAML file, `List` documents flattened) is fetched from
//!   `url`, its objects applied in dependency order (namespaces and CRDs first, webhooks and
//!   API registrations last) with server-side apply as the field manager `ss`, then each waited
//!   for as `kubernetes_object` waits (Deployments rolled out).
//! - When the object `present_if` names already exists and `ss` did not apply it, the cluster
//!   has the add-on (GKE's own metrics-server, a KEDA installed by Helm): nothing is applied,
//!   `installed` is false, and a destroy leaves it alone.
//! - The objects applied are recorded (`objects`), so a destroy deletes exactly those, in the
//!   reverse order, without fetching the manifest again.
//! - The id is the key object's and the URL, `<cluster reference>|<present_if>|<url>`: a read
//!   finds the add-on while its key object exists.

use provider_api::kit::schema::{b, list, s, with_id};
use provider_api::schema::{AttributeSchema as A, ResourceSchema};
use provider_api::{ProviderError, Value};
use serde_json::Value as Json;

use super::id::ObjectId;

/// The native type's name.
pub const MANIFEST: &str = "kubernetes_manifest";

/// How long a manifest download may take.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The largest manifest accepted (KEDA's is about 1 MB, mostly CRD schemas).
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// The schema of `kubernetes_manifest`.
pub fn schema() -> ResourceSchema {
    ResourceSchema::native(
        MANIFEST,
        "A cluster add-on applied from its release manifest (a URL), as the field manager `ss`",
        with_id("`<cluster reference>|<apiVersion>|<kind>|<namespace>|<name>|<url>`")
            .attr("cluster", super::cluster_attr())
            .attr(
                "url",
                A::required(
                    s(),
                    "The manifest: a multi-document YAML file, as `kubectl apply -f URL` takes",
                )
                .force_new(),
            )
            .attr(
                "present_if",
                A::required(
                    s(),
                    "The add-on's key object, `apiVersion|kind|namespace|name`: when the cluster \
                     has it and ss did not apply it, the cluster has the add-on already and \
                     nothing is applied; a read looks for it",
                )
                .force_new(),
            )
            .attr(
                "installed",
                A::computed(
                    b(),
                    "Whether ss applied the manifest (false: the cluster had it)",
                )
                // The cluster does not say who installed what: a read keeps the record.
                .write_only(),
            )
            .attr(
                "objects",
                A::computed(
                    list(s()),
                    "The objects ss applied, as `apiVersion|kind|namespace|name`",
                )
                .write_only(),
            ),
    )
}

/// The id of a manifest in a cluster: its add-on's key object and the URL,
/// `<cluster reference>|<present_if>|<url>` (a read looks for the key object; a cluster
/// reference and an object's names hold no `|`, a URL may).
pub fn manifest_id(marker: &ObjectId, url: &str) -> String {
    format!("{marker}|{url}")
}

/// The key object and the URL of an id.
pub fn parse_id(id: &str) -> Result<(ObjectId, String), ProviderError> {
    let parts: Vec<&str> = id.splitn(6, '|').collect();
    match parts.as_slice() {
        [cluster, api_version, kind, namespace, name, url] if !url.is_empty() => {
            let marker =
                ObjectId::parse(&[*cluster, api_version, kind, namespace, name].join("|"))?;
            Ok((marker, url.to_string()))
        }
        _ => Err(ProviderError::Invalid(format!(
            "{id:?} is not a kubernetes_manifest id (<cluster>|<apiVersion>|<kind>|<namespace>|<name>|<url>)"
        ))),
    }
}

/// The object `present_if` names (`apiVersion|kind|namespace|name`) in `cluster`.
pub fn marker(cluster: &str, present_if: &str) -> Result<ObjectId, ProviderError> {
    match ObjectId::parse(&format!("{cluster}|{present_if}")) {
        Ok(id) if present_if.matches('|').count() == 3 => Ok(id),
        _ => Err(ProviderError::Invalid(format!(
            "`present_if` {present_if:?} must be `apiVersion|kind|namespace|name`"
        ))),
    }
}

/// Downloads the manifest at `url`. A refusal (4xx) is the configuration's fault; a server
/// fault or a network failure may pass.
pub async fn fetch(url: &str) -> Result<String, ProviderError> {
    let client = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .build()
        .map_err(|e| ProviderError::Other(format!("cannot make an HTTP client: {e}")))?;
    let what = format!("fetch the manifest {url}");
    let answer = client
        .get(url)
        .send()
        .await
        .map_err(|e| ProviderError::Transient(format!("{what}: {e}")))?;
    let status = answer.status();
    if status.is_client_error() {
        return Err(ProviderError::Invalid(format!("{what}: {status}")));
    }
    if !status.is_success() {
        return Err(ProviderError::Transient(format!("{what}: {status}")));
    }
    let body = answer
        .bytes()
        .await
        .map_err(|e| ProviderError::Transient(format!("{what}: {e}")))?;
    if body.len() > MAX_BYTES {
        return Err(ProviderError::Invalid(format!(
            "{what}: {} bytes, more than the {MAX_BYTES} accepted",
            body.len()
        )));
    }
    String::from_utf8(body.to_vec())
        .map_err(|_| ProviderError::Invalid(format!("{what}: not UTF-8 text")))
}

/// The objects of a manifest, in the order to apply them. Empty documents are skipped; a
/// `List` gives its items.
pub fn objects(url: &str, text: &str) -> Result<Vec<Json>, ProviderError> {
    let docs: Vec<Json> = serde_saphyr::from_multiple(text).map_err(|e| {
        ProviderError::Invalid(format!("the manifest {url} is not valid YAML: {e}"))
    })?;
    let mut out = Vec::new();
    for doc in docs {
        match doc {
            Json::Null => {}
            Json::Object(ref map) if map.get("kind") == Some(&Json::from("List")) => {
                if let Some(Json::Array(items)) = map.get("items") {
                    out.extend(items.iter().cloned());
                }
            }
            Json::Object(_) => out.push(doc),
            _ => {
                return Err(ProviderError::Invalid(format!(
                    "the manifest {url} holds a document that is not an object"
                )));
            }
        }
    }
    out.sort_by_key(|o| rank(o["kind"].as_str().unwrap_or_default()));
    Ok(out)
}

/// Where a kind goes in the apply order: what others live in or refer to first, what calls
/// into the add-on's pods last (a webhook or an API registration whose pods do not run yet
/// would break requests that have nothing to do with it).
fn rank(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        "ServiceAccount" | "ClusterRole" | "Role" | "PriorityClass" => 2,
        "ClusterRoleBinding" | "RoleBinding" => 3,
        "ConfigMap" | "Secret" => 4,
        "Service" => 5,
        "APIService" | "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => 7,
        _ => 6,
    }
}

/// The recorded `objects` of a state, as ids in `cluster`.
pub fn recorded(cluster: &str, objects: Option<&Value>) -> Result<Vec<ObjectId>, ProviderError> {
    objects
        .and_then(Value::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .map(|o| ObjectId::parse(&format!("{cluster}|{o}")))
        .collect()
}

/// An object id without its cluster: what `objects` records.
pub fn short(id: &ObjectId) -> String {
    format!(
        "{}|{}|{}|{}",
        id.api_version, id.kind, id.namespace, id.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEDA_LIKE: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: keda-operator, namespace: keda}
---
# a comment only
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: keda-admission}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: keda-operator, namespace: keda}}
- {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRoleBinding, metadata: {name: keda}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: scaledobjects.keda.sh}
---
apiVersion: v1
kind: Namespace
metadata: {name: keda}
";

    #[test]
    fn objects_come_in_dependency_order() {
        let got = objects("u", KEDA_LIKE).expect("parses");
        let kinds: Vec<&str> = got.iter().filter_map(|o| o["kind"].as_str()).collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "CustomResourceDefinition",
                "ServiceAccount",
                "ClusterRoleBinding",
                "Deployment",
                "ValidatingWebhookConfiguration"
            ]
        );
    }

    #[test]
    fn bad_manifests_and_ids_are_refused() {
        assert!(objects("u", "a: [1, 2").is_err());
        assert!(objects("u", "- 1\n- 2\n").is_err());
        assert!(parse_id("kubeconfig:/k|https://h/x.yaml").is_err());
        assert!(marker("kubeconfig:/k", "v1|Namespace|keda").is_err());
        assert!(marker("kubeconfig:/k", "v1|Namespace||keda|x").is_err());
        let m = marker(
            "kubeconfig:/k",
            "apiextensions.k8s.io/v1|CustomResourceDefinition||scaledobjects.keda.sh",
        )
        .expect("parses");
        assert_eq!(m.name, "scaledobjects.keda.sh");
        assert_eq!(
            short(&m),
            "apiextensions.k8s.io/v1|CustomResourceDefinition||scaledobjects.keda.sh"
        );
        let id = manifest_id(&m, "https://h/a|b.yaml");
        assert_eq!(
            parse_id(&id).expect("parses"),
            (m, "https://h/a|b.yaml".to_string())
        );
    }

    #[test]
    fn the_schema_keeps_what_the_cluster_cannot_say() {
        let schema = schema();
        assert!(schema.attribute("url").is_some_and(|a| a.force_new));
        assert!(schema.attribute("objects").is_some_and(|a| a.write_only));
        assert!(schema.attribute("installed").is_some_and(|a| a.write_only));
    }
}
