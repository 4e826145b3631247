//! Independent checks with clients nobody here wrote: `kubectl` (Debian's
//! `kubernetes-client`) applies and lists objects, the official `kubernetes` Python client reads
//! them back, and `kubernetes-validate --strict` accepts every object the simulator holds. Each
//! test is skipped with a note when its tool is missing, and fails then under `CI`.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Sim, missing_tool, start};
use serde_json::{Value, json};

/// A fresh directory for one test's files.
fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kube-sim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a command to its end off the runtime's threads; answers (success, stdout, stderr).
async fn run(
    program: &str,
    args: Vec<String>,
    env: Vec<(String, String)>,
) -> (bool, String, String) {
    let program = program.to_string();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(&program)
            .args(&args)
            .envs(env)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

async fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let mut all = vec![format!("--kubeconfig={}", kubeconfig.display())];
    all.extend(args.iter().map(|a| a.to_string()));
    run("kubectl", all, Vec::new()).await
}

const MANIFESTS: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: superset
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: superset
  labels:
    app: superset
data:
  SUPERSET_WEBSERVER_TIMEOUT: "60"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: superset
  labels:
    app: superset
spec:
  replicas: 2
  selector:
    matchLabels:
      app: superset
  template:
    metadata:
      labels:
        app: superset
    spec:
      containers:
      - name: web
        image: apache/superset:4.1.1
        ports:
        - containerPort: 8088
        readinessProbe:
          httpGet:
            path: /health
            port: 8088
"#;

/// Applies the manifests with kubectl (server-side apply, kubectl's own field manager).
async fn kubectl_apply(sim: &Sim, dir: &Path) -> PathBuf {
    let kubeconfig = dir.join("kubeconfig");
    sim.handle.write_kubeconfig(&kubeconfig).unwrap();
    let file = dir.join("superset.yaml");
    std::fs::write(&file, MANIFESTS).unwrap();
    let file_arg = file.display().to_string();
    let (ok, out, err) = kubectl(&kubeconfig, &["apply", "--server-side", "-f", &file_arg]).await;
    assert!(ok, "kubectl apply failed: {out}\n{err}");
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );
    kubeconfig
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_lists_scales_and_deletes() {
    if missing_tool("kubectl", &["version", "--client"]) {
        return;
    }
    let sim = start().await;
    let dir = workdir("kubectl");
    let kubeconfig = kubectl_apply(&sim, &dir).await;
    let (ok, out, err) = kubectl(
        &kubeconfig,
        &[
            "get",
            "deployments",
            "-n",
            "superset",
            "-o",
            "json",
            "--show-managed-fields",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["items"][0]["metadata"]["name"], json!("web"));
    let managers: Vec<&str> = list["items"][0]["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    assert_eq!(managers, ["kubectl"]);
    let (ok, out, err) = kubectl(
        &kubeconfig,
        &[
            "get",
            "configmaps",
            "-l",
            "app=superset",
            "-A",
            "-o",
            "name",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "configmap/settings");
    let (ok, out, err) = kubectl(&kubeconfig, &["get", "ns"]).await;
    assert!(ok && out.contains("superset"), "{out}{err}");
    let (ok, _, err) = kubectl(
        &kubeconfig,
        &["scale", "deployment/web", "-n", "superset", "--replicas=5"],
    )
    .await;
    assert!(ok, "{err}");
    let web = sim
        .get("/apis/apps/v1/namespaces/superset/deployments/web")
        .await;
    assert_eq!(web.body["spec"]["replicas"], json!(5));
    // Watches: kubectl follows the rollout until the status catches up.
    let (ok, out, err) = kubectl(
        &kubeconfig,
        &[
            "rollout",
            "status",
            "deployment/web",
            "-n",
            "superset",
            "--timeout=20s",
        ],
    )
    .await;
    assert!(ok && out.contains("successfully rolled out"), "{out}{err}");
    // kubectl leaves validation to the server (it finds `fieldValidation` in /openapi/v3).
    let typo = dir.join("typo.yaml");
    std::fs::write(
        &typo,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\n  namespace: superset\ndta:\n  a: \"1\"\n",
    )
    .unwrap();
    let typo_arg = typo.display().to_string();
    let (ok, _, err) = kubectl(&kubeconfig, &["apply", "--server-side", "-f", &typo_arg]).await;
    assert!(
        !ok && err.contains(".dta: field not declared in schema"),
        "{err}"
    );
    let (ok, _, err) = kubectl(
        &kubeconfig,
        &["delete", "namespace", "superset", "--wait=false"],
    )
    .await;
    assert!(ok, "{err}");
    sim.wait_for("/api/v1/namespaces/superset", |r| r.status == 404)
        .await;
    assert_eq!(sim.handle.objects()["items"], json!([]));
    std::fs::remove_dir_all(&dir).unwrap();
}

const READ_BACK: &str = r#"
import json, sys
from kubernetes import client, config
config.load_kube_config(config_file=sys.argv[1])
apps, core = client.AppsV1Api(), client.CoreV1Api()
web = apps.read_namespaced_deployment("web", "superset")
cm = core.read_namespaced_config_map("settings", "superset")
print(json.dumps({
    "replicas": web.spec.replicas,
    "image": web.spec.template.spec.containers[0].image,
    "probe": web.spec.template.spec.containers[0].readiness_probe.http_get.path,
    "managers": [m.manager for m in web.metadata.managed_fields],
    "timeout": cm.data["SUPERSET_WEBSERVER_TIMEOUT"],
    "namespaces": [n.metadata.name for n in core.list_namespace().items],
}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_reads_the_objects_back() {
    if missing_tool("kubectl", &["version", "--client"])
        || missing_tool("python3", &["-c", "import kubernetes"])
    {
        return;
    }
    let sim = start().await;
    let dir = workdir("python");
    let kubeconfig = kubectl_apply(&sim, &dir).await;
    let script = dir.join("read_back.py");
    std::fs::write(&script, READ_BACK).unwrap();
    let args = vec![
        script.display().to_string(),
        kubeconfig.display().to_string(),
    ];
    let (ok, out, err) = run("python3", args, Vec::new()).await;
    assert!(ok, "{out}\n{err}");
    let read: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        read,
        json!({"replicas": 2, "image": "apache/superset:4.1.1", "probe": "/health",
               "managers": ["kubectl"], "timeout": "60", "namespaces": ["superset"]})
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_object_held_passes_kubernetes_validate_strict() {
    if missing_tool("kubernetes-validate", &["--version"]) {
        return;
    }
    let sim = start().await;
    let dir = workdir("validate");
    let apply = |path: &str, obj: Value| {
        let path = path.to_string();
        let sim = &sim;
        async move {
            let r = sim.apply(&path, &obj, "ss", true).await;
            assert!(r.status < 300, "{}", r.body);
        }
    };
    apply(
        "/api/v1/namespaces/demo",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}),
    )
    .await;
    apply("/api/v1/namespaces/demo/services/web", json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 8088, "name": "http"}]}})).await;
    apply(
        "/api/v1/namespaces/demo/secrets/conf",
        json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "conf", "namespace": "demo"}, "stringData": {"SECRET_KEY": "x"}}),
    )
    .await;
    apply("/apis/autoscaling/v2/namespaces/demo/horizontalpodautoscalers/web", json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 5, "maxReplicas": 20,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}})).await;
    apply("/apis/policy/v1/namespaces/demo/poddisruptionbudgets/web", json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}})).await;
    apply("/apis/batch/v1/namespaces/demo/jobs/init", json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "init", "namespace": "demo"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "init", "image": "superset:4.1", "command": ["superset", "init"]}]}}}})).await;
    apply("/apis/apps/v1/namespaces/demo/statefulsets/redis", json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "redis", "namespace": "demo"},
        "spec": {"serviceName": "redis", "replicas": 3, "selector": {"matchLabels": {"app": "redis"}},
            "template": {"metadata": {"labels": {"app": "redis"}},
                "spec": {"containers": [{"name": "redis", "image": "valkey:8"}]}}}})).await;
    apply(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/scaledobjects.keda.sh",
        common::keda_crd(),
    )
    .await;
    // Let every status catch up, so that the statuses are checked too.
    sim.wait_for("/apis/batch/v1/namespaces/demo/jobs/init", |r| {
        r.body["status"].get("conditions").is_some()
    })
    .await;
    let objects = sim.handle.objects();
    let items = objects["items"].as_array().unwrap();
    assert_eq!(items.len(), 8);
    let mut args = vec![
        "--strict".to_string(),
        "--kubernetes-version".to_string(),
        "1.33.0".to_string(),
    ];
    for (i, item) in items.iter().enumerate() {
        let file = dir.join(format!("object-{i}.json"));
        std::fs::write(&file, item.to_string()).unwrap();
        args.push(file.display().to_string());
    }
    let (ok, out, err) = run("kubernetes-validate", args, Vec::new()).await;
    assert!(ok, "{out}\n{err}");
    assert_eq!(
        out.matches(" passed for resource ").count(),
        8,
        "{out}\n{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
