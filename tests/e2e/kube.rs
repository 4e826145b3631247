//! A Kubernetes API (kube-sim, in-process) for the tests that deploy the `superset` component
//! with `kubeconfig` pointing at it, and the independent checks of what it then holds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value as Json, json};

/// A kube-sim server on its own runtime, with a kubeconfig file that reaches it.
pub struct KubeSim {
    runtime: tokio::runtime::Runtime,
    handle: Option<kube_sim::Handle>,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl KubeSim {
    /// A simulator whose statuses catch up after 20 ms, with KEDA's ScaledObject CRD installed
    /// (what a cluster with KEDA has).
    pub fn start() -> KubeSim {
        let dir = tempfile::tempdir().expect("temporary directory");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let config = kube_sim::Config {
            delay: Duration::from_millis(20),
            ..kube_sim::Config::default()
        };
        let (_, handle) = runtime
            .block_on(kube_sim::serve(config))
            .expect("kube-sim starts");
        let kubeconfig = dir.path().join("kubeconfig");
        handle
            .write_kubeconfig(&kubeconfig)
            .expect("write the kubeconfig");
        let sim = KubeSim {
            runtime,
            handle: Some(handle),
            kubeconfig,
            _dir: dir,
        };
        sim.install_keda_crd();
        sim
    }

    fn handle(&self) -> &kube_sim::Handle {
        self.handle.as_ref().expect("running")
    }

    /// The kubeconfig file to pass as the `kubeconfig` variable.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
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

    /// An out-of-band change: a JSON merge patch of the object at the API path `path`.
    pub fn patch(&self, path: &str, merge: &Json) {
        self.handle().patch(path, merge).expect("kube-sim patch");
    }

    /// Applies KEDA's ScaledObject CRD the way `kubectl apply --server-side` would.
    fn install_keda_crd(&self) {
        let url = format!(
            "{}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/scaledobjects.keda.sh?fieldManager=kubectl",
            self.handle().url()
        );
        let body = keda_crd();
        let status = self.runtime.block_on(async {
            reqwest::Client::new()
                .patch(&url)
                .header("content-type", "application/apply-patch+yaml")
                .bearer_auth("test")
                .body(body.to_string())
                .send()
                .await
                .map(|r| r.status())
        });
        let status = status.expect("the CRD request");
        assert!(status.is_success(), "installing the KEDA CRD: {status}");
    }
}

impl Drop for KubeSim {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.runtime.block_on(handle.shutdown());
        }
    }
}

/// A CustomResourceDefinition of KEDA's ScaledObject: the fields the `superset` component sets.
fn keda_crd() -> Json {
    let trigger = json!({"type": "object", "required": ["type", "metadata"], "properties": {
        "type": {"type": "string"}, "name": {"type": "string"},
        "authenticationRef": {"type": "object", "properties": {"name": {"type": "string"}}},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}}}});
    let spec = json!({"type": "object", "required": ["scaleTargetRef", "triggers"], "properties": {
        "scaleTargetRef": {"type": "object", "required": ["name"],
            "properties": {"name": {"type": "string"}, "kind": {"type": "string"},
                "apiVersion": {"type": "string"}}},
        "minReplicaCount": {"type": "integer", "format": "int32"},
        "maxReplicaCount": {"type": "integer", "format": "int32"},
        "pollingInterval": {"type": "integer", "format": "int32"},
        "cooldownPeriod": {"type": "integer", "format": "int32"},
        "triggers": {"type": "array", "items": trigger}}});
    let schema = json!({"type": "object", "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": spec, "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}});
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "scaledobjects.keda.sh"},
        "spec": {"group": "keda.sh", "scope": "Namespaced",
            "names": {"kind": "ScaledObject", "listKind": "ScaledObjectList",
                "plural": "scaledobjects", "singular": "scaledobject", "shortNames": ["so"]},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                "subresources": {"status": {}}, "schema": {"openAPIV3Schema": schema}}]}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::{Project, repo_root};

    /// The kinds the `superset` component creates, with how many of each.
    const KINDS: [(&str, usize); 9] = [
        ("Secret", 1),
        ("Job", 1),
        ("Deployment", 3),
        ("Service", 1),
        ("HorizontalPodAutoscaler", 1),
        ("ScaledObject", 1),
        ("PodDisruptionBudget", 2),
        ("ServiceAccount", 0),
        ("ConfigMap", 0),
    ];

    fn count(sim: &KubeSim, kind: &str) -> usize {
        sim.of_kind(kind, "superset").len()
    }

    /// `examples/superset-sandbox` with `kubeconfig` at kube-sim: the application lands in the
    /// Kubernetes API, a re-plan is empty, a replica count changed by hand shows in `ss diff`
    /// and is undone by the next apply, and `ss destroy` leaves the namespace gone.
    #[test]
    fn the_sandbox_example_deploys_into_a_kubernetes_api() {
        let sim = KubeSim::start();
        let p = Project::copy_of(&repo_root().join("examples").join("superset-sandbox"));
        let kubeconfig = sim.kubeconfig().display().to_string();
        let env = [
            ("SS_VAR_sandbox_latency", "0s"),
            ("SS_VAR_kubeconfig", kubeconfig.as_str()),
        ];
        p.ss_env(&["apply", "--auto-approve"], &env)
            .success()
            .no_panic();
        let namespaces: Vec<Json> = sim
            .objects()
            .into_iter()
            .filter(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == "superset")
            .collect();
        assert_eq!(namespaces.len(), 1, "the namespace exists");
        for (kind, n) in KINDS {
            assert_eq!(count(&sim, kind), n, "{kind} objects in the namespace");
        }
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
        p.ss_env(&["diff"], &env)
            .contains("superset-beat")
            .contains("replicas")
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

        p.ss_env(&["destroy", "--auto-approve"], &env)
            .success()
            .no_panic();
        let left: Vec<Json> = sim
            .objects()
            .into_iter()
            .filter(|o| {
                o["metadata"]["namespace"] == "superset" || o["metadata"]["name"] == "superset"
            })
            .collect();
        assert!(left.is_empty(), "destroy leaves nothing: {left:?}");
    }
}
