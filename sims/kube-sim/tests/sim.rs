//! End-to-end tests of the simulator over HTTP, with a raw HTTP/1.1 client.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::start;
use serde_json::{Value, json};

const NS: &str = "/api/v1/namespaces/demo";
const DEPLOY: &str = "/apis/apps/v1/namespaces/demo/deployments/web";

fn namespace() -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "web", "image": image,
                    "ports": [{"containerPort": 8088}],
                    "env": [{"name": "SERVER_WORKER_AMOUNT", "value": "4"}],
                }]},
            },
        },
    })
}

/// A simulator holding the Namespace `demo` and the Deployment `web`, applied by `ss`.
async fn with_web(replicas: i64) -> common::Sim {
    let sim = start().await;
    sim.apply(NS, &namespace(), "ss", true).await;
    let r = sim
        .apply(DEPLOY, &deployment(replicas, "superset:4.1"), "ss", true)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    sim
}

fn entry<'a>(obj: &'a Value, manager: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == json!(manager))
}

#[tokio::test]
async fn discovery_lists_the_served_kinds() {
    let sim = start().await;
    let version = sim.get("/version").await;
    assert_eq!(
        (version.body["major"].clone(), version.body["minor"].clone()),
        (json!("1"), json!("33"))
    );
    let core = sim.get("/api").await;
    assert_eq!(core.body["versions"], json!(["v1"]));
    let v1 = sim.get("/api/v1").await;
    let names: Vec<&str> = v1.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    for want in [
        "namespaces",
        "secrets",
        "configmaps",
        "services",
        "serviceaccounts",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }
    let groups = sim.get("/apis").await;
    let groups: Vec<&str> = groups.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(
        groups,
        [
            "apps",
            "batch",
            "autoscaling",
            "policy",
            "apiextensions.k8s.io"
        ]
    );
    let apps = sim.get("/apis/apps/v1").await;
    assert_eq!(apps.body["groupVersion"], json!("apps/v1"));
    assert_eq!(sim.get("/apis/keda.sh/v1alpha1").await.status, 404);
    assert_eq!(sim.get("/apis/apps/v2").await.status, 404);
}

#[tokio::test]
async fn apply_creates_records_managers_and_is_idempotent() {
    let sim = start().await;
    assert_eq!(sim.apply(NS, &namespace(), "ss", true).await.status, 201);
    let created = sim
        .apply(DEPLOY, &deployment(2, "superset:4.1"), "ss", true)
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let obj = created.body;
    let fields = &entry(&obj, "ss").unwrap()["fieldsV1"];
    assert_eq!(entry(&obj, "ss").unwrap()["operation"], json!("Apply"));
    assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
    assert_eq!(
        fields["f:spec"]["f:selector"],
        json!({}),
        "LabelSelector is atomic"
    );
    let container =
        &fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"];
    assert_eq!(container["."], json!({}));
    assert_eq!(container["f:image"], json!({}));
    assert!(container["f:env"]["k:{\"name\":\"SERVER_WORKER_AMOUNT\"}"]["f:value"].is_object());
    assert!(
        fields["f:spec"].get("f:revisionHistoryLimit").is_none(),
        "defaults are nobody's"
    );
    assert_eq!(obj["spec"]["revisionHistoryLimit"], json!(10));
    assert_eq!(obj["metadata"]["generation"], json!(1));
    assert!(obj["metadata"]["uid"].as_str().unwrap().len() == 36);
    let rv = obj["metadata"]["resourceVersion"].clone();
    let again = sim
        .apply(DEPLOY, &deployment(2, "superset:4.1"), "ss", true)
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.body["metadata"]["resourceVersion"], rv,
        "a no-op apply writes nothing"
    );
    let changed = sim
        .apply(DEPLOY, &deployment(3, "superset:4.1"), "ss", true)
        .await;
    assert_eq!(changed.body["metadata"]["generation"], json!(2));
    assert_ne!(changed.body["metadata"]["resourceVersion"], rv);
}

#[tokio::test]
async fn apply_conflicts_with_another_manager_unless_forced() {
    let sim = with_web(2).await;
    // Someone scales the Deployment by hand: an update owned by its own manager.
    let scaled = sim
        .call(
            "PATCH",
            &format!("{DEPLOY}?fieldManager=kubectl-scale"),
            "application/merge-patch+json",
            r#"{"spec":{"replicas":7}}"#,
        )
        .await;
    assert_eq!(scaled.status, 200, "{}", scaled.body);
    assert!(
        entry(&scaled.body, "ss").unwrap()["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_none()
    );
    assert_eq!(
        entry(&scaled.body, "kubectl-scale").unwrap()["fieldsV1"]["f:spec"]["f:replicas"],
        json!({})
    );
    let refused = sim
        .apply(DEPLOY, &deployment(2, "superset:4.1"), "ss", false)
        .await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.body["reason"], json!("Conflict"));
    assert_eq!(
        refused.body["message"],
        json!(
            "Apply failed with 1 conflict: conflict with \"kubectl-scale\" using apps/v1: .spec.replicas"
        )
    );
    assert_eq!(
        refused.body["details"]["causes"][0]["field"],
        json!(".spec.replicas")
    );
    // The same value is shared, not a conflict.
    let same = sim
        .apply(DEPLOY, &deployment(7, "superset:4.1"), "ss", false)
        .await;
    assert_eq!(same.status, 200, "{}", same.body);
    let forced = sim
        .apply(DEPLOY, &deployment(2, "superset:4.1"), "ss", true)
        .await;
    assert_eq!(forced.status, 200);
    assert_eq!(forced.body["spec"]["replicas"], json!(2));
    assert!(
        entry(&forced.body, "kubectl-scale").is_none(),
        "the field was taken from it"
    );
}

#[tokio::test]
async fn fields_no_longer_applied_are_removed() {
    let sim = start().await;
    sim.apply(NS, &namespace(), "ss", true).await;
    let mut with_env = deployment(2, "superset:4.1");
    with_env["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "EXTRA", "value": "x"}));
    sim.apply(DEPLOY, &with_env, "ss", true).await;
    let other = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo", "labels": {"team": "data"}}});
    assert_eq!(sim.apply(DEPLOY, &other, "other", false).await.status, 200);
    let mut fewer = deployment(2, "superset:4.1");
    fewer["metadata"]["labels"] = json!({});
    let after = sim.apply(DEPLOY, &fewer, "ss", true).await.body;
    let env = &after["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(
        env,
        &json!([{"name": "SERVER_WORKER_AMOUNT", "value": "4"}])
    );
    assert_eq!(
        after["metadata"]["labels"],
        json!({"team": "data"}),
        "another manager's label stays"
    );
}

#[tokio::test]
async fn the_schema_refuses_unknown_fields_wrong_types_and_missing_required() {
    let sim = start().await;
    sim.apply(NS, &namespace(), "ss", true).await;
    let mut unknown = deployment(2, "superset:4.1");
    unknown["spec"]["replica"] = json!(2);
    let r = sim.apply(DEPLOY, &unknown, "ss", true).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("failed to create typed patch object (demo/web; apps/v1, Kind=Deployment): .spec.replica: field not declared in schema"),
        "{}",
        r.body
    );
    let mut wrong = deployment(2, "superset:4.1");
    wrong["spec"]["replicas"] = json!("two");
    let r = sim.apply(DEPLOY, &wrong, "ss", true).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains(".spec.replicas: expected integer")
    );
    let mut missing = deployment(2, "superset:4.1");
    missing["spec"]["template"]["spec"] = json!({});
    let r = sim.apply(DEPLOY, &missing, "ss", true).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["reason"], json!("Invalid"));
    assert_eq!(
        r.body["message"],
        json!("Deployment.apps \"web\" is invalid: spec.template.spec.containers: Required value")
    );
    assert_eq!(
        r.body["details"]["causes"][0]["reason"],
        json!("FieldValueRequired")
    );
    let bad_secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "s", "namespace": "demo"}, "data": {"k": "not base64!"}});
    let r = sim
        .apply(&format!("{NS}/secrets/s"), &bad_secret, "ss", true)
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let post_unknown = sim
        .post(
            &format!("{NS}/configmaps"),
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"dta":{}}"#,
        )
        .await;
    assert_eq!(post_unknown.status, 400);
    assert_eq!(
        post_unknown.body["message"],
        json!("strict decoding error: unknown field \"dta\"")
    );
    let no_manager = sim
        .call(
            "PATCH",
            DEPLOY,
            "application/apply-patch+yaml",
            &deployment(1, "x:1").to_string(),
        )
        .await;
    assert_eq!(no_manager.status, 400);
    let bad_name = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name", "namespace": "demo"}});
    let r = sim
        .apply(&format!("{NS}/configmaps/Bad_Name"), &bad_name, "ss", true)
        .await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn crud_answers_as_the_api_server_does() {
    let sim = start().await;
    let missing = sim.get("/api/v1/namespaces/demo/configmaps/c").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["message"], json!("configmaps \"c\" not found"));
    let config_map =
        |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
    let configmaps = format!("{NS}/configmaps");
    let no_ns = sim.post(&configmaps, &config_map("c").to_string()).await;
    assert_eq!(no_ns.status, 404);
    assert_eq!(
        no_ns.body["message"],
        json!("namespaces \"demo\" not found")
    );
    let ns = sim
        .post("/api/v1/namespaces", &namespace().to_string())
        .await;
    assert_eq!(ns.status, 201);
    assert_eq!(ns.body["status"]["phase"], json!("Active"));
    for (name, tier) in [("a", "front"), ("b", "back")] {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"tier": tier}}, "data": {"k": "v"}});
        let r = sim.post(&configmaps, &cm.to_string()).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(
            entry(&r.body, "sim-test").unwrap()["operation"],
            json!("Update")
        );
    }
    let dup = sim.post(&configmaps, &config_map("a").to_string()).await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.body["reason"], json!("AlreadyExists"));
    let list = sim
        .get(&format!("{NS}/configmaps?labelSelector=tier%3Dfront"))
        .await;
    assert_eq!(list.body["kind"], json!("ConfigMapList"));
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["a"]);
    let all = sim.get("/api/v1/configmaps").await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
    let mut a = sim.get(&format!("{NS}/configmaps/a")).await.body;
    a["data"]["k"] = json!("w");
    let put = sim
        .call(
            "PUT",
            &format!("{NS}/configmaps/a"),
            "application/json",
            &a.to_string(),
        )
        .await;
    assert_eq!(
        (put.status, put.body["data"]["k"].clone()),
        (200, json!("w"))
    );
    let stale = sim
        .call(
            "PUT",
            &format!("{NS}/configmaps/a"),
            "application/json",
            &a.to_string(),
        )
        .await;
    assert_eq!(
        (stale.status, stale.body["reason"].clone()),
        (409, json!("Conflict"))
    );
    let gone = sim
        .call(
            "DELETE",
            &format!("{NS}/configmaps/a"),
            "application/json",
            "",
        )
        .await;
    assert_eq!(
        (gone.status, gone.body["status"].clone()),
        (200, json!("Success"))
    );
    assert_eq!(
        sim.call(
            "DELETE",
            &format!("{NS}/configmaps/a"),
            "application/json",
            ""
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn workload_status_catches_up_after_the_delay() {
    let sim = common::start_with(kube_sim::Config {
        delay: std::time::Duration::from_millis(100),
        failing_jobs: vec!["broken".to_string()],
        ..kube_sim::Config::default()
    })
    .await;
    sim.apply(NS, &namespace(), "ss", true).await;
    let created = sim
        .apply(DEPLOY, &deployment(3, "superset:4.1"), "ss", true)
        .await
        .body;
    assert!(created["status"].get("availableReplicas").is_none());
    let ready = sim
        .wait_for(DEPLOY, |r| {
            r.body["status"]["observedGeneration"] == json!(1)
        })
        .await;
    assert_eq!(ready.body["status"]["availableReplicas"], json!(3));
    assert_eq!(ready.body["status"]["updatedReplicas"], json!(3));
    let job = |name: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "demo"},
        "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "init", "image": "superset:4.1", "command": ["superset", "init"]}]}}}})
    };
    for name in ["init", "broken"] {
        let path = format!("/apis/batch/v1/namespaces/demo/jobs/{name}");
        assert_eq!(sim.apply(&path, &job(name), "ss", true).await.status, 201);
    }
    let done = sim
        .wait_for("/apis/batch/v1/namespaces/demo/jobs/init", |r| {
            r.body["status"].get("conditions").is_some()
        })
        .await;
    let types: Vec<&str> = done.body["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    assert_eq!(types, ["SuccessCriteriaMet", "Complete"]);
    let mut changed = job("init");
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("superset:4.2");
    let refused = sim
        .apply(
            "/apis/batch/v1/namespaces/demo/jobs/init",
            &changed,
            "ss",
            true,
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Job.batch \"init\" is invalid: spec.template: Invalid value: "),
        "{}",
        refused.body
    );
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .ends_with("field is immutable")
    );
    let failed = sim
        .wait_for("/apis/batch/v1/namespaces/demo/jobs/broken", |r| {
            r.body["status"].get("conditions").is_some()
        })
        .await;
    assert_eq!(
        failed.body["status"]["conditions"][1]["type"],
        json!("Failed")
    );
    assert_eq!(failed.body["status"]["failed"], json!(2));
}

#[tokio::test]
async fn deleting_a_namespace_deletes_what_it_holds() {
    let sim = with_web(1).await;
    let r = sim.call("DELETE", NS, "application/json", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"]["phase"], json!("Terminating"));
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late", "namespace": "demo"}});
    let refused = sim
        .apply(&format!("{NS}/configmaps/late"), &cm, "ss", true)
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    sim.wait_for(NS, |r| r.status == 404).await;
    assert_eq!(sim.get(DEPLOY).await.status, 404);
    assert_eq!(sim.handle.objects()["items"], json!([]));
}

#[tokio::test]
async fn foreground_deletion_waits_a_step() {
    let sim = with_web(1).await;
    let r = sim
        .call(
            "DELETE",
            &format!("{DEPLOY}?propagationPolicy=Foreground"),
            "application/json",
            "",
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    assert!(r.body["metadata"]["deletionTimestamp"].is_string());
    sim.wait_for(DEPLOY, |r| r.status == 404).await;
}

#[tokio::test]
async fn custom_resources_exist_once_their_crd_does() {
    let sim = start().await;
    sim.apply(NS, &namespace(), "ss", true).await;
    let path = "/apis/keda.sh/v1alpha1/namespaces/demo/scaledobjects/workers";
    let scaled = json!({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": {"name": "workers", "namespace": "demo"},
        "spec": {"scaleTargetRef": {"name": "worker"}, "minReplicaCount": 10, "maxReplicaCount": 30,
            "triggers": [{"type": "redis", "metadata": {"listName": "celery", "address": "redis:6379"}}]}});
    assert_eq!(sim.apply(path, &scaled, "ss", true).await.status, 404);
    let crd = common::keda_crd();
    let r = sim
        .apply(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/scaledobjects.keda.sh",
            &crd,
            "ss",
            true,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["status"]["conditions"][1]["type"],
        json!("Established")
    );
    let resources = sim.get("/apis/keda.sh/v1alpha1").await;
    assert_eq!(
        resources.body["resources"][0]["kind"],
        json!("ScaledObject")
    );
    let created = sim.apply(path, &scaled, "ss", true).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["metadata"]["generation"], json!(1));
    let mut unknown = scaled.clone();
    unknown["spec"]["pollingIntervall"] = json!(5);
    let r = sim.apply(path, &unknown, "ss", true).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let mut missing = scaled.clone();
    missing["spec"]["triggers"][0] = json!({"type": "redis"});
    let r = sim.apply(path, &missing, "ss", true).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.body["details"]["causes"][0]["field"],
        json!("spec.triggers[0].metadata")
    );
}

#[tokio::test]
async fn scale_status_and_out_of_band_changes() {
    let sim = with_web(2).await;
    let scale = sim.get(&format!("{DEPLOY}/scale")).await;
    assert_eq!(
        (
            scale.body["kind"].clone(),
            scale.body["spec"]["replicas"].clone()
        ),
        (json!("Scale"), json!(2))
    );
    assert_eq!(scale.body["status"]["selector"], json!("app=web"));
    let r = sim
        .call(
            "PATCH",
            &format!("{DEPLOY}/scale"),
            "application/merge-patch+json",
            r#"{"spec":{"replicas":4}}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let now = sim.get(DEPLOY).await.body;
    assert_eq!(now["spec"]["replicas"], json!(4));
    let scaler = entry(&now, "sim-test").unwrap();
    assert_eq!(scaler["subresource"], json!("scale"));
    // Behind the API's back: the value changes, the managers stay.
    let patched = sim
        .handle
        .patch(DEPLOY, &json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "other:1"}]}}}}))
        .unwrap();
    assert_eq!(
        patched["spec"]["template"]["spec"]["containers"][0]["image"],
        json!("other:1")
    );
    assert!(entry(&patched, "ss").is_some());
    let via_http = sim
        .post(
            "/_sim/patch",
            &json!({"path": DEPLOY, "merge": {"spec": {"replicas": 9}}}).to_string(),
        )
        .await;
    assert_eq!(via_http.body["spec"]["replicas"], json!(9));
}

#[tokio::test]
async fn the_request_log_hides_secret_data() {
    let dir = std::env::temp_dir().join(format!("kube-sim-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("requests.jsonl");
    let sim = common::start_with(kube_sim::Config {
        request_log: Some(log.clone()),
        ..kube_sim::Config::default()
    })
    .await;
    sim.apply(NS, &namespace(), "ss", true).await;
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "demo"},
        "data": {"SECRET_KEY": "c3VwZXItc2VjcmV0LXZhbHVl"}, "stringData": {"plain": "hunter2-secret"}});
    let r = sim
        .apply(&format!("{NS}/secrets/s"), &secret, "ss", true)
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(
        !text.contains("c3VwZXItc2VjcmV0LXZhbHVl") && !text.contains("hunter2"),
        "{text}"
    );
    assert!(text.contains("(hidden)"));
}

#[tokio::test]
async fn a_watch_streams_the_changes_of_what_it_selects() {
    // A step long enough for the watch to start before the status catches up.
    let sim = common::start_with(kube_sim::Config {
        delay: std::time::Duration::from_millis(400),
        ..kube_sim::Config::default()
    })
    .await;
    sim.apply(NS, &namespace(), "ss", true).await;
    sim.apply(DEPLOY, &deployment(2, "superset:4.1"), "ss", true)
        .await;
    let target = "/apis/apps/v1/namespaces/demo/deployments?watch=true&timeoutSeconds=2&fieldSelector=metadata.name%3Dweb";
    let watched = sim.get(target).await;
    assert_eq!(watched.status, 200);
    let text = watched.body.as_str().unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    // The Deployment as it was, then its status rolled out one step later.
    assert_eq!(types, ["ADDED", "MODIFIED"], "{text}");
    assert_eq!(events[1]["object"]["status"]["availableReplicas"], json!(2));
    let none = sim
        .get("/apis/apps/v1/namespaces/demo/deployments?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dother")
        .await;
    assert_eq!(none.body, json!(""));
}
