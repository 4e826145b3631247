//! `kubernetes_manifest` against kube-sim (in-process), with the manifest served over HTTP by
//! the test: an add-on installed in dependency order and removed again, left alone when the
//! cluster has it already, and a missing manifest refused.

#![allow(clippy::panic, clippy::unwrap_used)]

mod object;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use kubernetes::object::manifest::{MANIFEST, schema};
use kubernetes::object::{OBJECT, Objects};
use provider_api::kit::Service;
use provider_api::{
    Attrs, CreateRequest, Identity, ProviderError, ResourceState, Value, with_defaults,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use object::{config, create, service, start};

/// A small KEDA: its namespace, the ScaledObject CRD and the operator.
const KEDA: &str = kube_sim::fixtures::KEDA_MANIFEST;

const KEY: &str = "apiextensions.k8s.io/v1|CustomResourceDefinition||scaledobjects.keda.sh";

/// Serves `body` at every path (404 for `/missing.yaml`); counts the requests.
async fn serve_manifest(body: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 4096];
            let n = conn.read(&mut buf).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let (status, text) = if request.starts_with("GET /missing.yaml") {
                ("404 Not Found", "")
            } else {
                ("200 OK", body)
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/yaml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = conn.write_all(answer.as_bytes()).await;
        }
    });
    (url, hits)
}

fn addon(cluster: &str, url: &str) -> Attrs {
    with_defaults(
        &schema(),
        &Attrs::from([
            ("cluster".to_string(), Value::from(cluster)),
            ("url".to_string(), Value::from(url)),
            ("present_if".to_string(), Value::from(KEY)),
        ]),
    )
}

async fn install(svc: &Objects, config: &Attrs) -> Result<ResourceState, ProviderError> {
    let identity = Identity {
        stack: "test".into(),
        address: "superset.app.kubernetes_manifest.keda".into(),
    };
    svc.create(&CreateRequest {
        type_name: MANIFEST,
        identity: &identity,
        config,
    })
    .await
}

async fn read(svc: &Objects, id: &str) -> Option<ResourceState> {
    svc.read_many(MANIFEST, &[id.to_string()])
        .await
        .unwrap()
        .pop()
        .flatten()
}

fn kinds(sim: &object::Sim) -> Vec<String> {
    let mut out: Vec<String> = sim.handle.objects()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

fn scaled_object() -> Value {
    Value::from_json(&json!({
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": {"name": "worker", "namespace": "keda"},
        "spec": {"scaleTargetRef": {"name": "keda-operator"}, "triggers": []}
    }))
}

#[tokio::test]
async fn an_addon_is_installed_in_order_and_removed_again() {
    let sim = start(&[]).await;
    let (url, _) = serve_manifest(KEDA).await;
    let svc = service();
    // Before the add-on, the cluster serves no ScaledObject.
    let refused = create(&svc, &config(&sim.cluster, scaled_object())).await;
    assert!(
        matches!(refused, Err(ProviderError::Invalid(_))),
        "{refused:?}"
    );

    let state = install(&svc, &addon(&sim.cluster, &format!("{url}/keda.yaml")))
        .await
        .unwrap();
    assert_eq!(state.attrs["installed"], Value::from(true));
    let applied: Vec<&str> = state.attrs["objects"]
        .as_list()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        applied,
        [
            "v1|Namespace||keda",
            KEY,
            "apiextensions.k8s.io/v1|CustomResourceDefinition||triggerauthentications.keda.sh",
            "apps/v1|Deployment|keda|keda-operator",
        ]
    );
    let operator = sim.handle.objects()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .cloned()
        .unwrap();
    assert!(
        operator["status"]["availableReplicas"].as_i64() >= Some(1),
        "the install waits for the operator to roll out: {operator}"
    );
    assert!(
        read(&svc, &state.id).await.is_some(),
        "found by its key object"
    );
    // Now the cluster serves the kind.
    create(&svc, &config(&sim.cluster, scaled_object()))
        .await
        .unwrap();
    svc.delete(
        OBJECT,
        &ResourceState {
            id: format!("{}|keda.sh/v1alpha1|ScaledObject|keda|worker", sim.cluster),
            attrs: Attrs::new(),
        },
    )
    .await
    .unwrap();

    svc.delete(MANIFEST, &state).await.unwrap();
    assert!(
        kinds(&sim).is_empty(),
        "everything applied is gone: {:?}",
        kinds(&sim)
    );
    assert!(
        read(&svc, &state.id).await.is_none(),
        "read after delete finds nothing"
    );
}

#[tokio::test]
async fn a_cluster_with_the_addon_keeps_its_own() {
    let sim = start(&[]).await;
    let (url, hits) = serve_manifest(KEDA).await;
    // KEDA installed by someone else (Helm, kubectl): its CRD applied by another manager.
    let crd = kubernetes::object::manifest::objects("test", KEDA)
        .unwrap()
        .into_iter()
        .find(|o| o["kind"] == "CustomResourceDefinition")
        .unwrap();
    let client = object::client(&sim).await;
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(
        client,
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            ),
            "customresourcedefinitions",
        ),
    );
    api.patch(
        "scaledobjects.keda.sh",
        &kube::api::PatchParams::apply("helm"),
        &kube::api::Patch::Apply(&crd),
    )
    .await
    .unwrap();

    let svc = service();
    let state = install(&svc, &addon(&sim.cluster, &format!("{url}/keda.yaml")))
        .await
        .unwrap();
    assert_eq!(state.attrs["installed"], Value::from(false));
    assert_eq!(state.attrs["objects"], Value::List(Vec::new()));
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing downloaded");
    svc.delete(MANIFEST, &state).await.unwrap();
    assert_eq!(
        kinds(&sim),
        ["CustomResourceDefinition/scaledobjects.keda.sh"],
        "a destroy leaves what ss did not install"
    );

    let missing = install(&svc, &addon(&sim.cluster, &format!("{url}/missing.yaml"))).await;
    // The CRD is there (not ss's), so a missing manifest is never even fetched.
    assert!(missing.is_ok(), "{missing:?}");
}

#[tokio::test]
async fn a_missing_manifest_is_refused_with_its_url() {
    let sim = start(&[]).await;
    let (url, _) = serve_manifest(KEDA).await;
    let svc = service();
    let missing = format!("{url}/missing.yaml");
    match install(&svc, &addon(&sim.cluster, &missing)).await {
        Err(ProviderError::Invalid(m)) => {
            assert!(m.contains(&missing) && m.contains("404"), "{m}");
        }
        other => panic!("a 404 is refused: {other:?}"),
    }
}
