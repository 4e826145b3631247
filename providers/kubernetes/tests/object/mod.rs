//! What the `kubernetes_object` tests share: kube-sim in-process with a kubeconfig naming it,
//! the service, and its operations called as the engine calls them.

#![allow(clippy::panic, clippy::unwrap_used, dead_code)]

use std::time::Duration;

use kubernetes::object::{OBJECT, Objects, schema};
use provider_api::kit::Service;
use provider_api::{Attrs, CreateRequest, Identity, ResourceState, Value, with_defaults};
use serde_json::json;

pub struct Sim {
    pub handle: kube_sim::Handle,
    /// The cluster reference of the simulator's kubeconfig.
    pub cluster: String,
    _dir: tempfile::TempDir,
}

pub async fn start(failing_jobs: &[&str]) -> Sim {
    let (_, handle) = kube_sim::serve(kube_sim::Config {
        delay: Duration::from_millis(50),
        failing_jobs: failing_jobs.iter().map(|s| s.to_string()).collect(),
        ..kube_sim::Config::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    handle.write_kubeconfig(&path).unwrap();
    Sim {
        handle,
        cluster: format!("kubeconfig:{}#kube-sim", path.display()),
        _dir: dir,
    }
}

pub fn service() -> Objects {
    Objects::new(Duration::from_secs(30))
}

pub fn config(cluster: &str, manifest: Value) -> Attrs {
    with_defaults(
        &schema(),
        &Attrs::from([
            ("cluster".to_string(), Value::from(cluster)),
            ("manifest".to_string(), manifest),
        ]),
    )
}

pub async fn create(
    svc: &Objects,
    config: &Attrs,
) -> Result<ResourceState, provider_api::ProviderError> {
    let identity = Identity {
        stack: "test".into(),
        address: "kubernetes_object.x".into(),
    };
    svc.create(&CreateRequest {
        type_name: OBJECT,
        identity: &identity,
        config,
    })
    .await
}

pub async fn read(svc: &Objects, id: &str) -> Option<ResourceState> {
    svc.read_many(OBJECT, &[id.to_string()])
        .await
        .unwrap()
        .pop()
        .flatten()
}

pub fn namespace(name: &str) -> Value {
    Value::from_json(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
}

/// A client of the simulator of its own (another field manager than ss's service).
pub async fn client(sim: &Sim) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sim.handle.kubeconfig()).unwrap();
    let options = kube::config::KubeConfigOptions::default();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}
