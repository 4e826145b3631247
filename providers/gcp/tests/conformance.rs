//! The provider conformance suite (`provider_api::conformance`) against the Google Cloud API
//! simulator (`sims/gcp-sim`, in-process); drift is made with a PATCH over HTTP, as from the
//! Cloud console.

use std::time::Duration;

use provider_api::conformance::{self, Case, Hooks};
use provider_api::{Attrs, Provider, ResourceState, Value};
use serde_json::{Value as Json, json};

const STACK: &str = "conformance";
const PROJECT: &str = "sim-project";
const REGION: &str = "europe-west1";

/// Out-of-band changes: a Compute Engine PATCH of the object (its provider id is its path
/// under `compute/v1`), with a token the simulator issued to someone else.
struct Console<'a> {
    urls: &'a gcp_sim::Urls,
    token: String,
}

impl Hooks for Console<'_> {
    async fn drift(
        &self,
        _type_name: &str,
        object: &ResourceState,
        attr: &str,
        value: &Value,
    ) -> Result<(), String> {
        let value = value
            .to_json()
            .ok_or("the drift value is not wholly known")?;
        let body: Json = match attr {
            "routing_mode" => json!({"routingConfig": {"routingMode": value}}),
            "interval" => json!({"checkIntervalSec": value}),
            other => return Err(format!("no API field known for `{other}`")),
        };
        let answer = reqwest::Client::new()
            .patch(format!("{}/compute/v1/{}", self.urls.compute, object.id))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        // The simulator applies a PATCH before it answers the operation.
        match answer.status().is_success() {
            true => Ok(()),
            false => Err(format!("PATCH answered {}", answer.status())),
        }
    }
}

fn attrs(pairs: &[(&str, Value)]) -> Attrs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The provider on the simulator's endpoints, with the test service account's key (its token
/// URL pointed at the simulator) written to `dir`.
fn provider(urls: &gcp_sim::Urls, dir: &std::path::Path) -> gcp::GcpProvider {
    let key_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../sims/gcp-sim/testdata/service-account.json"
    ))
    .expect("the test key")
    .replace("http://GCP_SIM_TOKEN_URL/token", &urls.token);
    let key = dir.join("key.json");
    std::fs::write(&key, key_text).expect("write the key");
    let endpoints = [
        ("sqladmin", &urls.sqladmin),
        ("redis", &urls.redis),
        ("container", &urls.container),
        ("compute", &urls.compute),
        ("servicenetworking", &urls.servicenetworking),
        ("networkconnectivity", &urls.networkconnectivity),
        ("token", &urls.token),
    ];
    let config = attrs(&[
        ("project", Value::from(PROJECT)),
        ("region", Value::from(REGION)),
        (
            "endpoint_overrides",
            Value::Map(
                endpoints
                    .iter()
                    .map(|(k, url)| (k.to_string(), Value::from(url.as_str())))
                    .collect(),
            ),
        ),
        ("ready_timeout", Value::from(120)),
    ]);
    let key = key.display().to_string();
    gcp::configure_with_env(&config, move |k| {
        (k == "GOOGLE_APPLICATION_CREDENTIALS").then(|| key.clone())
    })
    .expect("configured")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcp_conforms() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (urls, sim) = gcp_sim::serve(gcp_sim::Config {
        delay: Duration::from_millis(10),
        ..gcp_sim::Config::default()
    })
    .await
    .expect("simulator starts");
    let p = provider(&urls, tmp.path());

    // The subnetwork case's network, made outside the checks.
    let net = conformance::create(
        &p,
        STACK,
        "gcp_compute_network",
        "network.parent.gcp_compute_network.network",
        &Attrs::new(),
    )
    .await;

    let cases = [
        Case::new(
            "gcp_compute_network",
            "network.main.gcp_compute_network.network",
            Attrs::new(),
            &format!("projects/{PROJECT}/global/networks/ss-absent"),
        )
        .update("routing_mode", "GLOBAL")
        .drift("routing_mode", "REGIONAL"),
        Case::new(
            "gcp_compute_subnetwork",
            "network.main.gcp_compute_subnetwork.subnet",
            attrs(&[
                ("network", Value::from(net.id.as_str())),
                ("cidr", Value::from("10.0.0.0/16")),
            ]),
            &format!("projects/{PROJECT}/regions/{REGION}/subnetworks/ss-absent"),
        ),
        Case::new(
            "gcp_compute_health_check",
            "load_balancer.web.gcp_compute_health_check.health_check",
            attrs(&[("path", Value::from("/ready"))]),
            &format!("projects/{PROJECT}/global/healthChecks/ss-absent"),
        )
        .update("interval", 10)
        .drift("interval", 60),
    ];
    let console = Console {
        urls: &urls,
        token: sim.issue_token("someone@example.com"),
    };
    conformance::run_all(&p, STACK, &cases, &console).await;

    p.delete("gcp_compute_network", &net)
        .await
        .expect("delete the network");
    sim.shutdown().await;
}
