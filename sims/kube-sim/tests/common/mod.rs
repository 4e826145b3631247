//! What the tests share: a simulator started in-process, and raw HTTP exchanges with it.
#![allow(clippy::unwrap_used, clippy::panic, dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use kube_sim::{Config, Handle, serve};
use serde_json::Value;

pub struct Sim {
    pub addr: SocketAddr,
    pub handle: Handle,
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
}

/// A simulator whose statuses catch up after 100 ms.
pub async fn start() -> Sim {
    start_with(Config {
        delay: Duration::from_millis(100),
        seed: Some(7),
        ..Config::default()
    })
    .await
}

pub async fn start_with(cfg: Config) -> Sim {
    let (addr, handle) = serve(cfg).await.unwrap();
    Sim { addr, handle }
}

impl Sim {
    /// One request with a bearer token; `content_type` only when there is a body.
    pub async fn call(&self, method: &str, target: &str, content_type: &str, body: &str) -> Resp {
        let headers = format!(
            "Authorization: Bearer any-token\r\nContent-Type: {content_type}\r\nUser-Agent: sim-test/1.0\r\n"
        );
        let answer = sim_kit::client::send(&self.addr.to_string(), method, target, &headers, body)
            .await
            .unwrap();
        let body = serde_json::from_str(&answer.body).unwrap_or(Value::String(answer.body));
        Resp {
            status: answer.status,
            body,
        }
    }

    /// A JSON `POST`.
    pub async fn post(&self, target: &str, body: &str) -> Resp {
        self.call("POST", target, "application/json", body).await
    }

    pub async fn get(&self, target: &str) -> Resp {
        self.call("GET", target, "application/json", "").await
    }

    /// Server-side apply of `obj` at `path` by `manager`.
    pub async fn apply(&self, path: &str, obj: &Value, manager: &str, force: bool) -> Resp {
        let target = format!("{path}?fieldManager={manager}&force={force}");
        self.call(
            "PATCH",
            &target,
            "application/apply-patch+yaml",
            &obj.to_string(),
        )
        .await
    }

    /// Waits (bounded) until `GET target` satisfies `done`, and answers the object.
    pub async fn wait_for(&self, target: &str, done: impl Fn(&Resp) -> bool) -> Resp {
        for _ in 0..100 {
            let r = self.get(target).await;
            if done(&r) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{target} never reached the expected state");
    }
}

/// Whether a tool the test needs is missing: under `CI` that fails the test, elsewhere the
/// test is skipped with a note.
pub fn missing_tool(program: &str, probe: &[&str]) -> bool {
    let found = std::process::Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return false;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{program} is required under CI (see .ci/run)");
    }
    eprintln!("note: {program} is not installed; skipping this test");
    true
}

/// A CustomResourceDefinition of KEDA's ScaledObject.
pub fn keda_crd() -> Value {
    kube_sim::fixtures::keda_crd()
}
