//! A Kubernetes API (kube-sim, in-process) for the tests that deploy the `superset` component
//! with `kubeconfig` pointing at it, and the independent checks of what it then holds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value as Json;

/// A kube-sim server on its own runtime, with a kubeconfig file that reaches it.
pub struct KubeSim {
    runtime: tokio::runtime::Runtime,
    handle: Option<kube_sim::Handle>,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl KubeSim {
    /// A simulator whose statuses catch up after 20 ms, with KEDA's CRDs installed (what a
    /// cluster with KEDA has).
    pub fn start() -> KubeSim {
        let sim = KubeSim::bare();
        sim.install_keda_crd();
        sim
    }

    /// A simulator holding nothing (no KEDA).
    pub fn bare() -> KubeSim {
        let dir = tempfile::tempdir().expect("temporary directory");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let config = kube_sim::Config {
            delay: Duration::from_millis(20),
            request_log: Some(dir.path().join("requests.jsonl")),
            ..kube_sim::Config::default()
        };
        let (_, handle) = runtime
            .block_on(kube_sim::serve(config))
            .expect("kube-sim starts");
        let kubeconfig = dir.path().join("kubeconfig");
        handle
            .write_kubeconfig(&kubeconfig)
            .expect("write the kubeconfig");
        KubeSim {
            runtime,
            handle: Some(handle),
            kubeconfig,
            _dir: dir,
        }
    }

    /// Serves `body` over HTTP at `/<name>` (anything else: 404) for as long as the simulator
    /// runs: an add-on's release manifest, as a mirror would. Answers the URL.
    pub fn serve_file(&self, name: &str, body: &'static str) -> String {
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!("http://{}/{name}", listener.local_addr().expect("address"));
        let wanted = format!("GET /{name} ");
        self.runtime.spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let found = String::from_utf8_lossy(&buf[..n]).starts_with(&wanted);
                let (status, text) = if found {
                    ("200 OK", body)
                } else {
                    ("404 Not Found", "")
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = conn.write_all(answer.as_bytes()).await;
            }
        });
        url
    }

    fn handle(&self) -> &kube_sim::Handle {
        self.handle.as_ref().expect("running")
    }

    /// The kubeconfig file to pass as the `kubeconfig` variable.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The request log: one JSON line per request the simulator answered.
    pub fn request_log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("requests.jsonl")).unwrap_or_default()
    }

    /// Every object the simulator holds.
    pub fn objects(&self) -> Vec<Json> {
        match self.handle().objects()["items"].take() {
            Json::Array(items) => items,
            other => panic!("kube-sim objects: {other}"),
        }
    }

    /// The objects of `kind` in `namespace`.
    pub fn of_kind(&self, kind: &str, namespace: &str) -> Vec<Json> {
        self.objects()
            .into_iter()
            .filter(|o| o["kind"] == kind && o["metadata"]["namespace"] == namespace)
            .collect()
    }

    /// Checks that the `superset` component's objects are all in the namespace `superset`:
    /// the kinds and how many of each (a TriggerAuthentication when the broker takes a
    /// password).
    #[track_caller]
    pub fn assert_application(&self, broker_password: bool) {
        let kinds = [
            ("Namespace", 0),
            ("Secret", 1),
            ("Job", 1),
            ("Deployment", 3),
            ("Service", 1),
            ("HorizontalPodAutoscaler", 1),
            ("ScaledObject", 1),
            ("TriggerAuthentication", usize::from(broker_password)),
            ("PodDisruptionBudget", 2),
            ("ServiceAccount", 0),
            ("ConfigMap", 0),
        ];
        let namespace = self
            .objects()
            .into_iter()
            .filter(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == "superset")
            .count();
        assert_eq!(namespace, 1, "the namespace exists");
        for (kind, n) in kinds {
            assert_eq!(
                self.of_kind(kind, "superset").len(),
                n,
                "{kind} objects in the namespace"
            );
        }
    }

    /// The application's objects the simulator holds: its namespace and what is in it.
    pub fn application(&self) -> Vec<Json> {
        self.objects()
            .into_iter()
            .filter(|o| {
                o["metadata"]["namespace"] == "superset" || o["metadata"]["name"] == "superset"
            })
            .collect()
    }

    /// Checks that nothing of the application is left.
    #[track_caller]
    pub fn assert_application_gone(&self) {
        let left = self.application();
        assert!(left.is_empty(), "the application is gone: {left:?}");
    }

    /// An out-of-band change: a JSON merge patch of the object at the API path `path`.
    pub fn patch(&self, path: &str, merge: &Json) {
        self.handle().patch(path, merge).expect("kube-sim patch");
    }

    /// Applies KEDA's CRDs (ScaledObject, TriggerAuthentication).
    fn install_keda_crd(&self) {
        self.install_crd(&kube_sim::fixtures::keda_crd());
        self.install_crd(&kube_sim::fixtures::keda_trigger_auth_crd());
    }

    /// Applies a CustomResourceDefinition the way `kubectl apply --server-side` would (the
    /// field manager `kubectl`): what a cluster with that add-on has.
    pub fn install_crd(&self, crd: &Json) {
        let name = crd["metadata"]["name"].as_str().unwrap_or_default();
        let url = format!(
            "{}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}?fieldManager=kubectl",
            self.handle().url()
        );
        let status = self.runtime.block_on(async {
            reqwest::Client::new()
                .patch(&url)
                .header("content-type", "application/apply-patch+yaml")
                .bearer_auth("test")
                .body(crd.to_string())
                .send()
                .await
                .map(|r| r.status())
        });
        let status = status.expect("the CRD request");
        assert!(status.is_success(), "installing {name}: {status}");
    }
}

impl Drop for KubeSim {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.runtime.block_on(handle.shutdown());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::{Project, repo_root};
    use serde_json::json;

    /// A copy of `examples/superset-sandbox`.
    fn sandbox_example() -> Project {
        Project::copy_of(&repo_root().join("examples").join("superset-sandbox"))
    }

    /// The environment that runs the sandbox example with no latency and its application in
    /// the cluster of `kubeconfig`.
    fn env(kubeconfig: &str) -> [(&'static str, &str); 2] {
        [
            ("SS_VAR_sandbox_latency", "0s"),
            ("SS_VAR_kubeconfig", kubeconfig),
        ]
    }

    /// `examples/superset-sandbox` with `kubeconfig` at kube-sim: the application lands in the
    /// Kubernetes API, a re-plan is empty, a replica count changed by hand shows in `ss diff`
    /// and is undone by the next apply, and `ss destroy` leaves the namespace gone.
    #[test]
    fn the_sandbox_example_deploys_into_a_kubernetes_api() {
        let sim = KubeSim::start();
        let p = sandbox_example();
        let kubeconfig = sim.kubeconfig().display().to_string();
        let env = env(&kubeconfig);
        p.ss_env(&["apply", "--auto-approve"], &env)
            .success()
            .no_panic();
        sim.assert_application(false);
        let web = sim
            .of_kind("Deployment", "superset")
            .into_iter()
            .find(|d| d["metadata"]["name"] == "superset-web")
            .expect("the web Deployment");
        assert_eq!(
            web["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"],
            "/health"
        );
        let managers: Vec<&str> = web["metadata"]["managedFields"]
            .as_array()
            .expect("managed fields")
            .iter()
            .filter_map(|m| m["manager"].as_str())
            .collect();
        assert!(
            managers.contains(&"ss"),
            "applied by the field manager ss: {managers:?}"
        );

        p.ss_env(&["plan", "--detailed-exitcode"], &env)
            .code(0)
            .no_panic();

        sim.patch(
            "/apis/apps/v1/namespaces/superset/deployments/superset-beat",
            &json!({"spec": {"replicas": 3}}),
        );
        // And an environment variable of the web pods, changed by hand.
        let mut containers = web["spec"]["template"]["spec"]["containers"].clone();
        for var in containers[0]["env"].as_array_mut().expect("env") {
            if var["name"] == "SERVER_WORKER_AMOUNT" {
                var["value"] = json!("1");
            }
        }
        sim.patch(
            "/apis/apps/v1/namespaces/superset/deployments/superset-web",
            &json!({"spec": {"template": {"spec": {"containers": containers}}}}),
        );
        let diff = p.ss_env(&["diff"], &env);
        diff.contains("superset-beat")
            .contains("~ replicas = 1 -> 3")
            .contains("superset-web")
            .contains(r#"~ value = "4" -> "1""#)
            .no_panic();
        p.ss_env(&["apply", "--auto-approve"], &env).success();
        let beat = sim
            .of_kind("Deployment", "superset")
            .into_iter()
            .find(|d| d["metadata"]["name"] == "superset-beat")
            .expect("the beat Deployment");
        assert_eq!(
            beat["spec"]["replicas"], 1,
            "one beat, whatever was set by hand"
        );
        p.ss_env(&["plan", "--detailed-exitcode"], &env)
            .code(0)
            .no_panic();

        p.ss_env(&["destroy", "--auto-approve"], &env)
            .success()
            .no_panic();
        sim.assert_application_gone();
    }

    /// The sandbox example with its `superset` told where KEDA's manifest is (`keda_manifest`).
    fn with_keda_manifest(url: &str) -> Project {
        let p = sandbox_example();
        let main = p.read("main.hcl").replace(
            "  kubeconfig    = var.kubeconfig\n",
            &format!("  kubeconfig    = var.kubeconfig\n  keda_manifest = {url:?}\n"),
        );
        assert!(
            main.contains("keda_manifest"),
            "the example's superset block moved"
        );
        p.write("main.hcl", &main);
        p
    }

    /// On a cluster without KEDA the stack installs it from its manifest (here served by the
    /// test, as a mirror would) before the worker's ScaledObject, and a destroy removes it
    /// with the application; without a manifest the apply says what is missing.
    #[test]
    fn keda_is_installed_when_the_cluster_lacks_it() {
        let sim = KubeSim::bare();
        let url = sim.serve_file("keda.yaml", kube_sim::fixtures::KEDA_MANIFEST);
        let kubeconfig = sim.kubeconfig().display().to_string();
        let env = env(&kubeconfig);
        let p = with_keda_manifest(&url);
        p.ss_env(&["apply", "--auto-approve"], &env)
            .success()
            .contains("kubernetes_manifest.keda")
            .no_panic();
        assert_eq!(sim.of_kind("ScaledObject", "superset").len(), 1);
        let operator = sim.of_kind("Deployment", "keda");
        assert_eq!(operator.len(), 1, "KEDA's operator runs");
        p.ss_env(&["plan", "--detailed-exitcode"], &env)
            .code(0)
            .no_panic();
        p.ss_env(&["destroy", "--auto-approve"], &env).success();
        let left: Vec<String> = sim
            .objects()
            .iter()
            .map(|o| format!("{}/{}", o["kind"], o["metadata"]["name"]))
            .collect();
        assert!(left.is_empty(), "destroy removes the add-on too: {left:?}");

        let none = sandbox_example();
        let main = none.read("main.hcl").replace(
            "  kubeconfig    = var.kubeconfig\n",
            "  kubeconfig    = var.kubeconfig\n  keda_manifest = \"\"\n",
        );
        none.write("main.hcl", &main);
        // Refused by the plan, before anything is created, at the setting.
        let refused = none.ss_env(&["apply", "--auto-approve"], &env);
        refused
            .code(1)
            .contains("KEDA is not installed")
            .contains("main.hcl:")
            .no_panic();
        assert!(none.state_list().is_empty(), "nothing was created");

        let q = with_keda_manifest(&format!("{url}.missing"));
        q.ss_env(&["apply", "--auto-approve"], &env)
            .code(1)
            .contains("keda.yaml.missing")
            .contains("404")
            .no_panic();
    }

    /// The Secret's values (the generated SECRET_KEY, the database password) reach the
    /// cluster and nowhere else: not the plan, its JSON, `SS_LOG=trace` logs, nor the request
    /// log.
    #[test]
    fn the_application_secrets_reach_the_cluster_only() {
        let sim = KubeSim::start();
        let p = sandbox_example();
        let kubeconfig = sim.kubeconfig().display().to_string();
        let mut env = env(&kubeconfig).to_vec();
        env.push(("SS_LOG", "trace"));
        let apply = p.ss_env(&["apply", "--auto-approve"], &env);
        apply.success();
        let plan = p.ss_env(&["plan", "--json"], &env);
        let show = p.ss_env(&["show", "--json"], &env);
        let secret = sim
            .of_kind("Secret", "superset")
            .pop()
            .expect("the config Secret");
        let mut values = Vec::new();
        for key in ["SECRET_KEY", "DATABASE_PASSWORD"] {
            let encoded = secret["data"][key].as_str().expect(key);
            let decoded = std::process::Command::new("base64")
                .args(["-d"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut child| {
                    use std::io::Write;
                    child
                        .stdin
                        .take()
                        .expect("stdin")
                        .write_all(encoded.as_bytes())?;
                    child.wait_with_output()
                })
                .expect("base64 -d");
            let value = String::from_utf8(decoded.stdout).expect("text");
            assert!(value.len() >= 16, "{key} is a real secret");
            values.push((key, encoded.to_string(), value));
        }
        let log = sim.request_log();
        assert!(
            log.contains("/secrets"),
            "the request log saw the Secret's apply"
        );
        for (key, encoded, value) in &values {
            for (what, text) in [
                ("apply (trace logs)", apply.all()),
                ("plan --json", plan.all()),
                ("show --json", show.all()),
                ("the request log", log.clone()),
            ] {
                assert!(!text.contains(value.as_str()), "{key} leaks into {what}");
                assert!(
                    !text.contains(encoded.as_str()),
                    "{key} (base64) leaks into {what}"
                );
            }
        }
    }

    /// Whether `program` runs; under CI it must (`.ci/run` installs it).
    fn have(program: &str, probe: &[&str]) -> bool {
        let found = std::process::Command::new(program)
            .args(probe)
            .output()
            .is_ok_and(|o| o.status.success());
        if !found && std::env::var_os("CI").is_some() {
            panic!("{program} is required under CI (see .ci/run)");
        }
        if !found {
            eprintln!("note: {program} is not installed; skipping this check");
        }
        found
    }

    /// What the official Python client reads back of the application.
    const READ_BACK: &str = r#"
import json, sys
from kubernetes import client, config
config.load_kube_config(config_file=sys.argv[1])
apps, core = client.AppsV1Api(), client.CoreV1Api()
hpa = client.AutoscalingV2Api().read_namespaced_horizontal_pod_autoscaler("superset-web", "superset")
web = apps.read_namespaced_deployment("superset-web", "superset")
so = client.CustomObjectsApi().get_namespaced_custom_object(
    "keda.sh", "v1alpha1", "superset", "scaledobjects", "superset-worker")
secret = core.read_namespaced_secret("superset-config", "superset")
print(json.dumps({
    "image": web.spec.template.spec.containers[0].image,
    "probe": web.spec.template.spec.containers[0].readiness_probe.http_get.path,
    "hpa": [hpa.spec.min_replicas, hpa.spec.max_replicas],
    "workers": [so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]],
    "trigger": so["spec"]["triggers"][0]["type"],
    "secret_keys": sorted(secret.data),
    "managers": sorted({m.manager for m in web.metadata.managed_fields}),
}))
"#;

    /// What ss applied, checked by tools nobody here wrote: every built-in object passes
    /// `kubernetes-validate --strict` for Kubernetes 1.33, and the official Python client
    /// reads the application back as the spec says.
    #[test]
    fn independent_clients_accept_what_ss_applied() {
        let sim = KubeSim::start();
        let p = sandbox_example();
        let kubeconfig = sim.kubeconfig().display().to_string();
        let env = env(&kubeconfig);
        p.ss_env(&["apply", "--auto-approve"], &env).success();

        if have("kubernetes-validate", &["--version"]) {
            let dir = tempfile::tempdir().expect("temporary directory");
            let mut args = vec![
                "--strict".to_string(),
                "--kubernetes-version".to_string(),
                "1.33.0".to_string(),
            ];
            // Custom resources have no schema in kubernetes-validate; their CRDs do.
            let builtin: Vec<Json> = sim
                .application()
                .into_iter()
                .filter(|o| {
                    let api = o["apiVersion"].as_str().unwrap_or_default();
                    !api.starts_with("keda.sh/") && !api.starts_with("elbv2.k8s.aws/")
                })
                .collect();
            assert!(
                builtin.len() >= 9,
                "the application's objects: {}",
                builtin.len()
            );
            for (i, object) in builtin.iter().enumerate() {
                let file = dir.path().join(format!("object-{i}.json"));
                std::fs::write(&file, object.to_string()).expect("write");
                args.push(file.display().to_string());
            }
            let out = std::process::Command::new("kubernetes-validate")
                .args(&args)
                .output()
                .expect("kubernetes-validate runs");
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{text}");
            assert_eq!(
                text.matches(" passed for resource ").count(),
                builtin.len(),
                "{text}"
            );
        }

        if have("python3", &["-c", "import kubernetes"]) {
            let out = std::process::Command::new("python3")
                .args(["-c", READ_BACK, &kubeconfig])
                .output()
                .expect("python3 runs");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{err}");
            let read: Json = serde_json::from_slice(&out.stdout).expect("JSON");
            assert_eq!(
                read,
                json!({
                    "image": "apache/superset:5.0.0",
                    "probe": "/health",
                    "hpa": [5, 20],
                    "workers": [10, 30],
                    "trigger": "redis",
                    "secret_keys": ["DATABASE_PASSWORD", "SECRET_KEY", "superset_config.py"],
                    "managers": ["ss"],
                })
            );
        }
    }
}
