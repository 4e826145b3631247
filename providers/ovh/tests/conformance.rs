//! The provider conformance suite (`provider_api::conformance`) against the OVH API simulator
//! (`sims/ovh-sim`, in-process); drift is made with the simulator's `Handle::patch`, as from the
//! OVH console.

use std::time::Duration;

use provider_api::conformance::{self, Case, Hooks};
use provider_api::{Attrs, Provider, ResourceState, Value};

const STACK: &str = "conformance";
const ABSENT: &str = "00000000-0000-0000-0000-000000000000";

/// Out-of-band changes through the simulator: the attribute's API field set on the object
/// whose id is the last segment of the provider's id (`PARENT/CHILD` for child objects).
struct Console<'a>(&'a ovh_sim::Handle);

impl Hooks for Console<'_> {
    async fn drift(
        &self,
        _type_name: &str,
        object: &ResourceState,
        attr: &str,
        value: &Value,
    ) -> Result<(), String> {
        let field = match attr {
            "min_nodes" => "minNodes",
            "max_nodes" => "maxNodes",
            other => return Err(format!("no API field known for `{other}`")),
        };
        let own_id = object.id.rsplit('/').next().unwrap_or(&object.id);
        let objects = self.0.objects();
        let path = objects
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| o["object"]["id"] == own_id)
            .and_then(|o| o["path"].as_str())
            .ok_or_else(|| format!("ovh-sim holds no object {own_id}"))?;
        let json = value
            .to_json()
            .ok_or("the drift value is not wholly known")?;
        self.0
            .patch(path, &serde_json::json!({ field: json }))
            .map(|_| ())
    }
}

fn attrs(pairs: &[(&str, Value)]) -> Attrs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn provider(endpoint: &str) -> ovh::OvhProvider {
    let config = attrs(&[
        ("endpoint", Value::from(endpoint)),
        ("project_id", Value::from("p0123456789")),
        ("region", Value::from("EU-WEST-PAR")),
        ("ready_timeout", Value::from(60)),
    ]);
    let simulator = ovh_sim::Config::default();
    ovh::configure_with_env(&config, move |k| {
        Some(match k {
            "OVH_APPLICATION_KEY" => simulator.app_key.clone(),
            "OVH_APPLICATION_SECRET" => simulator.app_secret.clone(),
            "OVH_CONSUMER_KEY" => simulator.consumer_key.clone(),
            _ => return None,
        })
    })
    .expect("configured")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ovh_conforms() {
    let (addr, sim) = ovh_sim::serve(ovh_sim::Config {
        delay: Duration::from_millis(20),
        ..ovh_sim::Config::default()
    })
    .await
    .expect("simulator starts");
    let p = provider(&format!("http://{addr}/v1"));

    // The parents of the subnet and node pool cases, made outside the checks.
    let net = conformance::create(
        &p,
        STACK,
        "ovh_cloud_network",
        "network.parent.ovh_cloud_network.network",
        &Attrs::new(),
    )
    .await;
    let subnet = conformance::create(
        &p,
        STACK,
        "ovh_cloud_subnet",
        "network.parent.ovh_cloud_subnet.subnet_0",
        &attrs(&[
            ("network_id", Value::from(net.id.as_str())),
            ("cidr", Value::from("10.0.0.0/20")),
        ]),
    )
    .await;
    let kube = conformance::create(
        &p,
        STACK,
        "ovh_cloud_kube",
        "kubernetes_cluster.parent.ovh_cloud_kube.cluster",
        &attrs(&[
            ("network_id", Value::from(net.id.as_str())),
            ("version", Value::from("1.31")),
        ]),
    )
    .await;

    let cases = [
        Case::new(
            "ovh_cloud_network",
            "network.main.ovh_cloud_network.network",
            Attrs::new(),
            "pn-000000_4000",
        ),
        Case::new(
            "ovh_cloud_subnet",
            "network.main.ovh_cloud_subnet.subnet_1",
            attrs(&[
                ("network_id", Value::from(net.id.as_str())),
                ("cidr", Value::from("10.0.16.0/20")),
            ]),
            &format!("{}/{ABSENT}", net.id),
        ),
        Case::new(
            "ovh_cloud_kube_nodepool",
            "kubernetes_cluster.parent.ovh_cloud_kube_nodepool.pool_web_a",
            attrs(&[
                ("cluster_id", Value::from(kube.id.as_str())),
                ("flavor", Value::from("b3-16")),
                ("zone", Value::from("eu-west-par-a")),
                ("min_nodes", Value::from(2)),
                ("max_nodes", Value::from(7)),
            ]),
            &format!("{}/{ABSENT}", kube.id),
        )
        .update("max_nodes", 9)
        .drift("min_nodes", 3),
    ];
    conformance::run_all(&p, STACK, &cases, &Console(&sim)).await;

    for (type_name, parent) in [
        ("ovh_cloud_kube", &kube),
        ("ovh_cloud_subnet", &subnet),
        ("ovh_cloud_network", &net),
    ] {
        p.delete(type_name, parent).await.expect("delete a parent");
    }
    sim.shutdown().await;
}
