//! `kubernetes_object` against kube-sim (in-process): apply, read-back without drift, drift
//! made behind ss's back, update, delete, waits and refusals.

#![allow(clippy::panic, clippy::unwrap_used)]

mod object;

use std::sync::Arc;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kubernetes::object::{Clusters, OBJECT, ObjectId, bearer_config};
use provider_api::kit::Service;
use provider_api::{Attrs, ProviderError, ResourceState, Value, same};
use serde_json::json;

use object::{config, create, namespace, read, service, start};

fn deployment(replicas: i64, workers: &str) -> Value {
    Value::from_json(&json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "superset", "labels": {"app": "superset"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "superset"}},
            "template": {
                "metadata": {"labels": {"app": "superset"}},
                "spec": {"containers": [{
                    "name": "web",
                    "image": "apache/superset:4.1.2",
                    "env": [{"name": "SERVER_WORKER_AMOUNT", "value": workers}],
                    "ports": [{"containerPort": 8088}]
                }]}
            }
        }
    }))
}

/// The manifest's `spec.replicas` as read back.
fn replicas(state: &ResourceState) -> Option<f64> {
    state.attrs["manifest"]
        .get("spec")
        .and_then(|s| s.get("replicas"))
        .and_then(Value::as_f64)
}

#[tokio::test]
async fn apply_read_drift_update_delete() {
    let sim = start(&[]).await;
    let svc = service();
    let ns = create(&svc, &config(&sim.cluster, namespace("superset")))
        .await
        .unwrap();
    assert_eq!(ns.id, format!("{}|v1|Namespace||superset", sim.cluster));

    // Create: applied, rolled out, read back as configured (no drift).
    let wanted = config(&sim.cluster, deployment(2, "4"));
    let created = create(&svc, &wanted).await.unwrap();
    let id = format!("{}|apps/v1|Deployment|superset|web", sim.cluster);
    assert_eq!(created.id, id);
    assert!(
        same(&created.attrs["manifest"], &wanted["manifest"]),
        "{:?}",
        created.attrs["manifest"]
    );
    assert_eq!(created.attrs["wait"], Value::from("ready"));
    let live = sim.handle.objects();
    let dep = live["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .unwrap();
    assert!(
        dep["status"]["availableReplicas"].as_i64() >= Some(2),
        "not rolled out: {dep}"
    );
    let read_back = read(&svc, &id).await.unwrap();
    assert!(
        same(&read_back.attrs["manifest"], &wanted["manifest"]),
        "drift without a change: {:?}",
        read_back.attrs["manifest"]
    );
    assert_eq!(read_back.attrs["uid"], created.attrs["uid"]);
    assert!(
        read_back.attrs["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );
    // A second create is an apply of the same: the same object.
    let again = create(&svc, &wanted).await.unwrap();
    assert_eq!(again.attrs["uid"], created.attrs["uid"]);

    // Behind the API's back (no managed-fields change): the read shows the new value.
    sim.handle
        .patch(
            "/apis/apps/v1/namespaces/superset/deployments/web",
            &json!({"spec": {"replicas": 5}}),
        )
        .unwrap();
    assert_eq!(replicas(&read(&svc, &id).await.unwrap()), Some(5.0));

    // A plain PATCH by another field manager (as `kubectl scale` or `kubectl edit`): the
    // server moves the field's ownership to that manager, so the read no longer shows what ss
    // set: drift either way.
    let client = object::client(&sim).await;
    let deployments: Api<DynamicObject> = Api::namespaced_with(
        client,
        "superset",
        &kube::discovery::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "apps",
            "v1",
            "Deployment",
        )),
    );
    deployments
        .patch(
            "web",
            &PatchParams {
                field_manager: Some("kubectl-edit".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"spec": {"replicas": 7}})),
        )
        .await
        .unwrap();
    let drifted = read(&svc, &id).await.unwrap();
    assert!(!same(&drifted.attrs["manifest"], &wanted["manifest"]));
    assert_ne!(replicas(&drifted), Some(2.0));

    // Update: ss applies again, taking its fields back.
    let changed = config(&sim.cluster, deployment(3, "8"));
    let updated = svc.update(OBJECT, &drifted, &changed).await.unwrap();
    assert!(
        same(&updated.attrs["manifest"], &changed["manifest"]),
        "{:?}",
        updated.attrs["manifest"]
    );
    assert!(same(
        &read(&svc, &id).await.unwrap().attrs["manifest"],
        &changed["manifest"]
    ));

    // An update that names another object is refused: that is a replacement.
    let renamed = Value::from_json(&{
        let mut m = changed["manifest"].to_json().unwrap();
        m["metadata"]["name"] = json!("web2");
        m
    });
    let err = svc
        .update(OBJECT, &updated, &config(&sim.cluster, renamed))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("replacement"), "{err}");

    // Delete: gone, and deleting again succeeds; the namespace too.
    svc.delete(OBJECT, &updated).await.unwrap();
    assert_eq!(read(&svc, &id).await, None);
    svc.delete(OBJECT, &updated).await.unwrap();
    svc.delete(OBJECT, &ns).await.unwrap();
    assert_eq!(read(&svc, &ns.id).await, None);
    let ids = vec![ns.id.clone(), id.clone()];
    assert_eq!(svc.read_many(OBJECT, &ids).await.unwrap(), vec![None, None]);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn waits_and_refusals() {
    let sim = start(&["init-bad"]).await;
    let svc = service();
    create(&svc, &config(&sim.cluster, namespace("jobs")))
        .await
        .unwrap();
    let job = |name: &str| {
        Value::from_json(&json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "namespace": "jobs"},
            "spec": {
                "backoffLimit": 0,
                "template": {"spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "init", "image": "apache/superset:4.1.2", "command": ["superset", "init"]}]
                }}
            }
        }))
    };
    // A Job is ready when complete; a failed one is an error with its message.
    let done = create(&svc, &config(&sim.cluster, job("init-ok")))
        .await
        .unwrap();
    assert_eq!(
        done.id,
        format!("{}|batch/v1|Job|jobs|init-ok", sim.cluster)
    );
    let err = create(&svc, &config(&sim.cluster, job("init-bad")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("the Job failed"), "{err}");

    // A namespaced kind needs its namespace; a custom kind needs its CRD.
    let no_ns = Value::from_json(
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
    );
    let err = create(&svc, &config(&sim.cluster, no_ns))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("needs `metadata.namespace`"),
        "{err}"
    );
    let scaled = Value::from_json(&json!({
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "workers", "namespace": "jobs"},
        "spec": {"scaleTargetRef": {"name": "workers"}}
    }));
    let err = create(&svc, &config(&sim.cluster, scaled.clone()))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("serves no kind ScaledObject"),
        "{err}"
    );
    let id = ObjectId::of_manifest(&sim.cluster, &scaled)
        .unwrap()
        .to_string();
    assert_eq!(read(&svc, &id).await, None);
    svc.delete(
        OBJECT,
        &ResourceState {
            id,
            attrs: Attrs::new(),
        },
    )
    .await
    .unwrap();

    // An unknown field is refused by the server (strict validation), and said so.
    let typo = Value::from_json(&json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "jobs"}, "dta": {"a": "b"}
    }));
    let err = create(&svc, &config(&sim.cluster, typo)).await.unwrap_err();
    assert!(matches!(err, ProviderError::Invalid(_)), "{err}");

    // `wait = "none"` answers at once with what the apply answered.
    let mut quick = config(&sim.cluster, job("later"));
    quick.insert("wait".into(), Value::from("none"));
    let state = create(&svc, &quick).await.unwrap();
    assert_eq!(state.attrs["wait"], Value::from("none"));
    sim.handle.shutdown().await;
}

/// A cloud's clusters, all of them the simulator, reached by endpoint and token.
#[derive(Debug)]
struct OneCloud(String);

#[async_trait::async_trait]
impl Clusters for OneCloud {
    async fn connect(&self, cluster_id: &str) -> Result<kube::Config, ProviderError> {
        assert_eq!(cluster_id, "projects/p/locations/r/clusters/c");
        bearer_config(&self.0, "", "a-token").await
    }
}

#[tokio::test]
async fn a_cloud_reference_reaches_its_cluster_through_its_clusters() {
    let sim = start(&[]).await;
    let svc = service().with_clusters("gke", Arc::new(OneCloud(sim.handle.url().to_string())));
    let cluster = "gke:projects/p/locations/r/clusters/c";
    let ns = create(&svc, &config(cluster, namespace("apps")))
        .await
        .unwrap();
    assert_eq!(ns.id, format!("{cluster}|v1|Namespace||apps"));
    assert!(read(&svc, &ns.id).await.is_some());
    let err = create(&svc, &config("eks:other", namespace("x")))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no provider here reaches \"eks\""),
        "{err}"
    );
    sim.handle.shutdown().await;
}
