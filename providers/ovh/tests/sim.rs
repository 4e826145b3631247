//! End to end against the OVH API simulator (`sims/ovh-sim`): the provider driven directly
//! through the `Provider` trait, every request signed and checked against the API schema.

#![allow(clippy::panic)]

use std::time::Duration;

use ovh::configure_with_env;
use provider_api::{Attrs, CreateRequest, Identity, Provider, ProviderError, Value};

fn attrs(pairs: &[(&str, Value)]) -> Attrs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The simulator's settings here: short status steps.
fn fast() -> ovh_sim::Config {
    ovh_sim::Config {
        delay: Duration::from_millis(20),
        ..ovh_sim::Config::default()
    }
}

/// Starts the simulator; answers its handle and the provider's endpoint.
async fn start(config: ovh_sim::Config) -> (ovh_sim::Handle, String) {
    let (addr, handle) = ovh_sim::serve(config).await.expect("simulator starts");
    (handle, format!("http://{addr}/v1"))
}

fn provider(endpoint: &str, secret: &str) -> ovh::OvhProvider {
    let cfg = attrs(&[
        ("endpoint", Value::from(endpoint)),
        ("project_id", Value::from("p0123456789")),
        ("region", Value::from("EU-WEST-PAR")),
        ("ready_timeout", Value::from(60)),
    ]);
    let secret = secret.to_string();
    configure_with_env(&cfg, move |k| {
        Some(match k {
            "OVH_APPLICATION_KEY" => "sim-app-key".to_string(),
            "OVH_APPLICATION_SECRET" => secret.clone(),
            "OVH_CONSUMER_KEY" => "sim-consumer-key".to_string(),
            _ => return None,
        })
    })
    .expect("configured")
}

fn identity(address: &str) -> Identity {
    Identity {
        stack: "simtest".into(),
        address: address.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_kube_pools_read_find_delete() {
    let (sim, endpoint) = start(fast()).await;
    let p = provider(&endpoint, "sim-app-secret");

    let net = p
        .create(CreateRequest {
            type_name: "ovh_cloud_network",
            identity: &identity("network.main.ovh_cloud_network.network"),
            config: &Attrs::new(),
        })
        .await
        .expect("network");
    let net_id = net.id.clone();
    let mut subnets = Vec::new();
    for (i, cidr) in ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"]
        .iter()
        .enumerate()
    {
        let s = p
            .create(CreateRequest {
                type_name: "ovh_cloud_subnet",
                identity: &identity(&format!("network.main.ovh_cloud_subnet.subnet_{i}")),
                config: &attrs(&[
                    ("network_id", Value::from(net_id.as_str())),
                    ("cidr", Value::from(*cidr)),
                ]),
            })
            .await
            .expect("subnet");
        assert_eq!(s.attrs["cidr"], Value::from(*cidr));
        subnets.push(s);
    }

    let kube_identity = identity("kubernetes_cluster.k.ovh_cloud_kube.cluster");
    let kube_config = attrs(&[
        ("network_id", Value::from(net_id.as_str())),
        ("version", Value::from("1.31")),
    ]);
    let kube = p
        .create(CreateRequest {
            type_name: "ovh_cloud_kube",
            identity: &kube_identity,
            config: &kube_config,
        })
        .await
        .expect("kube");
    assert!(
        kube.attrs["endpoint"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
    // The CA comes from the kubeconfig (`certificate-authority-data`).
    assert!(
        kube.attrs["ca_certificate"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{:?}",
        kube.attrs
    );

    let mut pools = Vec::new();
    for zone in ["a", "b", "c"] {
        let pool = p
            .create(CreateRequest {
                type_name: "ovh_cloud_kube_nodepool",
                identity: &identity(&format!(
                    "kubernetes_cluster.k.ovh_cloud_kube_nodepool.pool_web_{zone}"
                )),
                config: &attrs(&[
                    ("cluster_id", Value::from(kube.id.as_str())),
                    ("flavor", Value::from("b3-16")),
                    ("zone", Value::from(format!("eu-west-par-{zone}"))),
                    ("min_nodes", Value::from(2)),
                    ("max_nodes", Value::from(7)),
                ]),
            })
            .await
            .expect("pool");
        assert_eq!(pool.attrs["min_nodes"], Value::from(2));
        pools.push(pool);
    }

    // Refresh: one batch per type.
    let ids: Vec<String> = pools.iter().map(|x| x.id.clone()).collect();
    let mut with_gone = ids.clone();
    with_gone.push(format!("{}/00000000-0000-0000-0000-000000000000", kube.id));
    let read = p
        .read_many("ovh_cloud_kube_nodepool", &with_gone)
        .await
        .expect("read");
    assert_eq!(read.len(), 4);
    assert!(read[..3].iter().all(Option::is_some));
    assert!(read[3].is_none());
    let read = p
        .read_many("ovh_cloud_subnet", &[subnets[1].id.clone()])
        .await
        .expect("read subnets");
    assert_eq!(read[0].as_ref().map(|s| &s.attrs), Some(&subnets[1].attrs));

    // A create whose answer was lost: find adopts by the deterministic name, and a second
    // create for the same identity adopts instead of duplicating.
    let found = p
        .find("ovh_cloud_kube", &kube_identity)
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.id, kube.id);
    let again = p
        .create(CreateRequest {
            type_name: "ovh_cloud_kube",
            identity: &kube_identity,
            config: &kube_config,
        })
        .await
        .expect("adopt");
    assert_eq!(again.id, kube.id);
    assert!(
        p.find("ovh_cloud_kube", &identity("kubernetes_cluster.other.x"))
            .await
            .expect("find")
            .is_none()
    );

    // Update in place.
    let mut bigger = attrs(&[
        ("cluster_id", Value::from(kube.id.as_str())),
        ("flavor", Value::from("b3-16")),
        ("zone", Value::from("eu-west-par-a")),
        ("min_nodes", Value::from(3)),
        ("max_nodes", Value::from(9)),
    ]);
    let updated = p
        .update("ovh_cloud_kube_nodepool", &pools[0], &bigger)
        .await
        .expect("update");
    assert_eq!(updated.attrs["max_nodes"], Value::from(9));
    bigger.clear();

    // Delete children first, then parents; deleting twice succeeds.
    for pool in &pools {
        p.delete("ovh_cloud_kube_nodepool", pool)
            .await
            .expect("delete pool");
    }
    p.delete("ovh_cloud_kube", &kube)
        .await
        .expect("delete kube");
    p.delete("ovh_cloud_kube", &kube)
        .await
        .expect("delete again");
    for s in &subnets {
        p.delete("ovh_cloud_subnet", s)
            .await
            .expect("delete subnet");
    }
    p.delete("ovh_cloud_network", &net)
        .await
        .expect("delete network");
    let gone = p
        .read_many("ovh_cloud_network", &[net_id])
        .await
        .expect("read");
    assert!(gone[0].is_none());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_one_clear_authentication_error() {
    let (sim, endpoint) = start(fast()).await;
    let p = provider(&endpoint, "not-the-secret");
    let err = p
        .read_many("ovh_cloud_network", &["x".to_string()])
        .await
        .expect_err("refused");
    assert!(!err.is_retryable(), "{err:?}");
    let ProviderError::Other(text) = &err else {
        panic!("{err:?}")
    };
    assert!(text.starts_with("OVH authentication failed"), "{text}");
    assert!(!text.contains("not-the-secret"), "{text}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_requests_are_repeated_and_reads_survive_them() {
    let (sim, endpoint) = start(ovh_sim::Config {
        throttle_rate: 0.3,
        seed: Some(3),
        ..fast()
    })
    .await;
    let p = provider(&endpoint, "sim-app-secret");
    // A 429 is answered to about one request in three: each is repeated after a pause, so
    // creates and the batched reads of a refresh (which ss does not repeat) go through.
    let net = p
        .create(CreateRequest {
            type_name: "ovh_cloud_network",
            identity: &identity("network.main.ovh_cloud_network.network"),
            config: &Attrs::new(),
        })
        .await
        .expect("network despite 429s");
    for _ in 0..10 {
        let read = p
            .read_many("ovh_cloud_network", std::slice::from_ref(&net.id))
            .await
            .expect("read despite 429s");
        assert_eq!(read[0].as_ref().map(|s| &s.id), Some(&net.id));
    }
    sim.shutdown().await;
}

/// A provider in `region`, with or without credentials.
fn provider_in(endpoint: &str, region: &str, credentials: bool) -> ovh::OvhProvider {
    let cfg = attrs(&[
        ("endpoint", Value::from(endpoint)),
        ("project_id", Value::from("p0123456789")),
        ("region", Value::from(region)),
        ("ready_timeout", Value::from(60)),
    ]);
    configure_with_env(&cfg, move |k| {
        if !credentials {
            return None;
        }
        Some(match k {
            "OVH_APPLICATION_KEY" => "sim-app-key".to_string(),
            "OVH_APPLICATION_SECRET" => "sim-app-secret".to_string(),
            "OVH_CONSUMER_KEY" => "sim-consumer-key".to_string(),
            _ => return None,
        })
    })
    .expect("configured")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_version_reads_as_its_minor_and_upgrades_one_minor() {
    let (sim, endpoint) = start(fast()).await;
    let p = provider(&endpoint, "sim-app-secret");
    let net = p
        .create(CreateRequest {
            type_name: "ovh_cloud_network",
            identity: &identity("network.main.ovh_cloud_network.network"),
            config: &Attrs::new(),
        })
        .await
        .expect("network");
    p.create(CreateRequest {
        type_name: "ovh_cloud_subnet",
        identity: &identity("network.main.ovh_cloud_subnet.subnet_0"),
        config: &attrs(&[
            ("network_id", Value::from(net.id.as_str())),
            ("cidr", Value::from("10.0.0.0/20")),
        ]),
    })
    .await
    .expect("subnet");
    let config = attrs(&[
        ("network_id", Value::from(net.id.as_str())),
        ("version", Value::from("1.32")),
    ]);
    let kube = p
        .create(CreateRequest {
            type_name: "ovh_cloud_kube",
            identity: &identity("kubernetes_cluster.k.ovh_cloud_kube.cluster"),
            config: &config,
        })
        .await
        .expect("kube");
    // The API answers `1.32.9-1`; the state holds the minor the configuration names, so a
    // re-plan of the same configuration changes nothing.
    let raw = sim
        .objects()
        .as_array()
        .and_then(|o| o.iter().find(|o| o["kind"] == "kube").cloned())
        .expect("the cluster");
    assert_eq!(raw["object"]["version"], "1.32.9-1");
    assert_eq!(kube.attrs["version"], Value::from("1.32"));
    let read = p
        .read_many("ovh_cloud_kube", std::slice::from_ref(&kube.id))
        .await
        .expect("read");
    assert_eq!(read[0].as_ref().map(|k| &k.attrs), Some(&kube.attrs));
    // One minor up is an in-place upgrade; two is refused before anything is sent.
    let mut next = config.clone();
    next.insert("version".into(), Value::from("1.33"));
    let upgraded = p
        .update("ovh_cloud_kube", &kube, &next)
        .await
        .expect("upgrade");
    assert_eq!(upgraded.attrs["version"], Value::from("1.33"));
    let mut jump = config.clone();
    jump.insert("version".into(), Value::from("1.34"));
    let err = p
        .update("ovh_cloud_kube", &kube, &jump)
        .await
        .expect_err("1.32 → 1.34 is two minors");
    assert!(
        err.to_string().contains("one minor version at a time"),
        "{err}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_are_checked_against_what_the_region_sells() {
    let (sim, endpoint) = start(fast()).await;
    let par = provider_in(&endpoint, "EU-WEST-PAR", true);
    let ha = attrs(&[
        ("network", Value::from("net-1")),
        ("size", Value::from("large")),
        ("high_availability", Value::from(true)),
        ("read_replicas", Value::from(2)),
    ]);
    // The defaults are sold in the 3-AZ region.
    assert!(par.check_offers("postgres", &ha).await.is_empty());
    assert!(
        par.check_offers("redis_cluster", &attrs(&[("size", Value::from("large"))]))
            .await
            .is_empty()
    );
    assert!(
        par.check_offers("kubernetes_cluster", &Attrs::new())
            .await
            .is_empty()
    );
    // A Gen 2 plan or flavor written natively is refused, naming what is sold.
    let native = attrs(&[
        ("plan", Value::from("business")),
        ("flavor", Value::from("db1-15")),
        ("nodes", Value::from(2)),
        ("version", Value::from("16")),
    ]);
    let d = par
        .check_offers("ovh_cloud_database_postgresql", &native)
        .await;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].path, vec!["plan".to_string()]);
    assert!(
        d[0].summary
            .contains("advanced (3 nodes), production (2 nodes)"),
        "{}",
        d[0].summary
    );
    let d = par
        .check_offers("postgres", &attrs(&[("size", Value::from("db1-15"))]))
        .await;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].path, vec!["size".to_string()]);
    assert!(
        d[0].summary.contains("b3-8, b3-16, b3-32"),
        "{}",
        d[0].summary
    );
    let d = par
        .check_offers(
            "kubernetes_cluster",
            &attrs(&[("version", Value::from("1.29"))]),
        )
        .await;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].path, vec!["version".to_string()]);
    assert!(
        d[0].summary.contains("offered: 1.31, 1.32, 1.33, 1.34"),
        "{}",
        d[0].summary
    );
    // Node pools: a Gen 2 flavor is not sold in the 3-AZ region.
    let pools = Value::Map(Attrs::from([
        (
            "web".to_string(),
            Value::Map(Attrs::from([("size".to_string(), Value::from("large"))])),
        ),
        (
            "old".to_string(),
            Value::Map(Attrs::from([("size".to_string(), Value::from("b2-30"))])),
        ),
    ]));
    let d = par
        .check_offers(
            "kubernetes_cluster",
            &attrs(&[("node_pool", pools.clone())]),
        )
        .await;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].path, ["node_pool", "old", "size"]);
    assert!(
        d[0].summary.contains("b3-8, b3-16, b3-32"),
        "{}",
        d[0].summary
    );
    let d = par
        .check_offers("postgres", &attrs(&[("version", Value::from("12"))]))
        .await;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].path, vec!["version".to_string()]);
    // A 1-AZ region keeps the Gen 2 plans: the same HA spec is sold there as enterprise.
    let gra = provider_in(&endpoint, "GRA11", true);
    assert!(gra.check_offers("postgres", &ha).await.is_empty());
    assert!(
        gra.check_offers("kubernetes_cluster", &attrs(&[("node_pool", pools)]))
            .await
            .is_empty()
    );
    // Without credentials nothing is asked and nothing is refused.
    let bare = provider_in(&endpoint, "EU-WEST-PAR", false);
    assert!(
        bare.check_offers("ovh_cloud_database_postgresql", &native)
            .await
            .is_empty()
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valkey_user_is_adopted_with_a_new_password_kept_sensitive() {
    let (sim, endpoint) = start(fast()).await;
    let p = provider(&endpoint, "sim-app-secret");
    let create = |type_name: &'static str, address: &'static str, config: Attrs| {
        let p = &p;
        async move {
            p.create(CreateRequest {
                type_name,
                identity: &identity(address),
                config: &config,
            })
            .await
            .unwrap_or_else(|e| panic!("{type_name}: {e}"))
        }
    };
    let net = create("ovh_cloud_network", "redis.b.net", Attrs::new()).await;
    let net_id = Value::from(net.id.as_str());
    create(
        "ovh_cloud_subnet",
        "redis.b.subnet",
        attrs(&[
            ("network_id", net_id.clone()),
            ("cidr", Value::from("10.0.0.0/16")),
        ]),
    )
    .await;
    let service = create(
        "ovh_cloud_database_valkey",
        "redis.b.ovh_cloud_database_valkey.service",
        attrs(&[
            ("network_id", net_id),
            ("version", Value::from("8.0")),
            ("plan", Value::from("production")),
            ("flavor", Value::from("b3-8")),
            ("nodes", Value::from(2)),
        ]),
    )
    .await;
    let user_config = attrs(&[
        ("service_id", Value::from(service.id.as_str())),
        ("username", Value::from("default")),
    ]);
    let user = create(
        "ovh_cloud_database_valkey_user",
        "redis.b.user",
        user_config.clone(),
    )
    .await;
    let first = user.attrs["password"].clone();
    assert!(first.is_sensitive());
    assert!(first.as_str().is_some_and(|p| p.len() >= 8), "a password");
    assert!(
        user.id.starts_with(&format!("{}/", service.id)),
        "{}",
        user.id
    );
    // OVH shows a password once: a read has none (the state keeps it, write-only).
    let read = || async {
        p.read_many(
            "ovh_cloud_database_valkey_user",
            std::slice::from_ref(&user.id),
        )
        .await
        .expect("read")
        .remove(0)
    };
    let found = read().await.expect("exists");
    assert!(found.attrs["password"].is_null());
    assert_eq!(found.attrs["username"], Value::from("default"));
    // A create made again (after a crash) adopts the service's user with a new password.
    let again = create(
        "ovh_cloud_database_valkey_user",
        "redis.b.user",
        user_config,
    )
    .await;
    assert_eq!(again.id, user.id);
    assert_ne!(again.attrs["password"].as_str(), first.as_str());
    // The service's own `default` user goes with the service.
    p.delete("ovh_cloud_database_valkey_user", &again)
        .await
        .expect("delete user");
    assert!(read().await.is_some());
    p.delete("ovh_cloud_database_valkey", &service)
        .await
        .expect("delete service");
    assert!(read().await.is_none());
    sim.shutdown().await;
}
