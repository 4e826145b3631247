//! The path matcher and the validator against the real discovery documents.
#![allow(clippy::unwrap_used, clippy::panic)]

use gcp_sim::discovery::{Api, Discovery, Doc, Seg};
use gcp_sim::validate::{check_body, check_query, strip_output_only};
use serde_json::json;

fn discovery() -> std::sync::Arc<Discovery> {
    Discovery::load_cached(&gcp_sim::default_schema_dir()).unwrap()
}

/// A request path for a template: every parameter replaced by a distinct value.
fn instantiate(doc: &Doc, segments: &[Seg]) -> String {
    let parts: Vec<String> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            Seg::Lit(l) => l.clone(),
            Seg::Param { prefix, suffix, .. } => format!("{prefix}v{i}x{suffix}"),
            Seg::Rest(_) => format!("projects/p{i}/locations/l{i}/things/t{i}"),
        })
        .collect();
    format!("/{}{}", doc.service_path, parts.join("/"))
}

#[test]
fn every_template_resolves_to_itself() {
    let d = discovery();
    let mut total = 0;
    for api in Api::ALL {
        let doc = d.doc(api).unwrap();
        assert!(!doc.methods.is_empty(), "{api:?}");
        for m in &doc.methods {
            let path = instantiate(doc, &m.segments);
            let found = doc
                .find(&m.http_method, &path)
                .unwrap_or_else(|e| panic!("{api:?} {} {path}: {e:?}", m.id));
            assert_eq!(
                (
                    found.method.http_method.as_str(),
                    found.method.template.as_str()
                ),
                (m.http_method.as_str(), m.template.as_str()),
                "{api:?} {} {path} resolved to {}",
                m.id,
                found.method.id
            );
            total += 1;
        }
    }
    assert!(total > 1000, "{total}");
}

#[test]
fn reserved_expansion_matches_several_segments() {
    let doc = Doc::from_json(
        Api::Redis,
        &json!({
            "rootUrl": "https://redis.googleapis.com/", "servicePath": "",
            "resources": {"ops": {"methods": {
                "get": {"id": "x.get", "httpMethod": "GET", "path": "v1/{+name}"},
                "cancel": {"id": "x.cancel", "httpMethod": "POST", "path": "v1/{+name}:cancel"},
            }}},
        }),
    );
    let m = doc
        .find("GET", "/v1/projects/p/locations/l/operations/o")
        .unwrap();
    assert_eq!(m.method.id, "x.get");
    assert_eq!(m.params["name"], "projects/p/locations/l/operations/o");
    let m = doc
        .find("POST", "/v1/projects/p/operations/o:cancel")
        .unwrap();
    assert_eq!(m.method.id, "x.cancel");
}

#[test]
fn unknown_paths_and_wrong_methods_are_rejected() {
    let d = discovery();
    let compute = d.doc(Api::Compute).unwrap();
    assert!(
        compute
            .find("GET", "/compute/v1/projects/p/global/networks/n")
            .is_ok()
    );
    // Without the service path.
    assert!(
        compute
            .find("GET", "/projects/p/global/networks/n")
            .is_err()
    );
    assert!(
        compute
            .find("GET", "/compute/v1/projects/p/global/nosuch/n")
            .is_err()
    );
    match compute.find("PUT", "/compute/v1/projects/p/global/networks") {
        Err(gcp_sim::discovery::MatchError::MethodNotAllowed(allowed)) => {
            assert!(allowed.contains(&"POST".to_string()), "{allowed:?}");
        }
        other => panic!("{other:?}"),
    }
    let container = d.doc(Api::Container).unwrap();
    let m = container
        .find(
            "POST",
            "/v1/projects/p/locations/europe-west1/clusters/c/nodePools",
        )
        .unwrap();
    assert_eq!(
        m.method.name,
        "projects.locations.clusters.nodePools.create"
    );
    let m = container
        .find(
            "POST",
            "/v1/projects/p/locations/l/clusters/c:setMaintenancePolicy",
        )
        .unwrap();
    assert_eq!(
        m.method.name,
        "projects.locations.clusters.setMaintenancePolicy"
    );
}

#[test]
fn bodies_are_checked_against_the_request_schema() {
    let d = discovery();
    let sql = d.doc(Api::Sqladmin).unwrap();
    let instance = json!({
        "name": "db-main",
        "databaseVersion": "POSTGRES_16",
        "region": "europe-west1",
        "settings": {
            "tier": "db-custom-2-7680",
            "availabilityType": "REGIONAL",
            "dataDiskSizeGb": "100",
            "ipConfiguration": {"ipv4Enabled": false, "privateNetwork": "projects/p/global/networks/n"},
            "backupConfiguration": {"enabled": true, "pointInTimeRecoveryEnabled": true},
            "databaseFlags": [{"name": "max_connections", "value": "500"}],
            "userLabels": {"stack": "superset"},
        },
    });
    assert_eq!(check_body(sql, "DatabaseInstance", &instance), Ok(()));
    // int64 as a number is accepted too.
    let mut n = instance.clone();
    n["settings"]["dataDiskSizeGb"] = json!(100);
    assert_eq!(check_body(sql, "DatabaseInstance", &n), Ok(()));
    // An enum as its number (proto3 JSON; `enum-encoding=int`).
    let mut e = instance.clone();
    e["databaseVersion"] = json!(272);
    e["settings"]["availabilityType"] = json!(2);
    assert_eq!(check_body(sql, "DatabaseInstance", &e), Ok(()));
    e["settings"]["availabilityType"] = json!(2.5);
    assert!(check_body(sql, "DatabaseInstance", &e).is_err());

    let mut bad = instance.clone();
    bad["settings"]["nosuchField"] = json!(1);
    let e = check_body(sql, "DatabaseInstance", &bad).unwrap_err();
    assert!(e.contains("nosuchField") && e.contains("settings"), "{e}");

    let mut bad = instance.clone();
    bad["settings"]["availabilityType"] = json!("EVERYWHERE");
    let e = check_body(sql, "DatabaseInstance", &bad).unwrap_err();
    assert!(e.contains("EVERYWHERE"), "{e}");

    let mut bad = instance.clone();
    bad["settings"]["dataDiskSizeGb"] = json!("lots");
    assert!(check_body(sql, "DatabaseInstance", &bad).is_err());

    let mut bad = instance.clone();
    bad["settings"]["backupConfiguration"]["enabled"] = json!("yes");
    let e = check_body(sql, "DatabaseInstance", &bad).unwrap_err();
    assert!(e.contains("backupConfiguration.enabled"), "{e}");

    let mut bad = instance.clone();
    bad["settings"]["databaseFlags"][0]["extra"] = json!("x");
    assert!(check_body(sql, "DatabaseInstance", &bad).is_err());

    let mut bad = instance;
    bad["settings"]["userLabels"]["n"] = json!(3);
    assert!(check_body(sql, "DatabaseInstance", &bad).is_err());

    let gke = d.doc(Api::Container).unwrap();
    let create = json!({"cluster": {
        "name": "main",
        "network": "projects/p/global/networks/n",
        "subnetwork": "projects/p/regions/europe-west1/subnetworks/s",
        "releaseChannel": {"channel": "REGULAR"},
        "ipAllocationPolicy": {"useIpAliases": true, "clusterSecondaryRangeName": "pods"},
        "privateClusterConfig": {"enablePrivateNodes": true, "masterIpv4CidrBlock": "172.16.0.0/28"},
        "nodePools": [{
            "name": "default",
            "initialNodeCount": 1,
            "autoscaling": {"enabled": true, "minNodeCount": 1, "maxNodeCount": 5},
            "config": {"machineType": "e2-standard-4", "diskSizeGb": 100, "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"]},
        }],
    }});
    assert_eq!(check_body(gke, "CreateClusterRequest", &create), Ok(()));
    let mut bad = create;
    bad["cluster"]["nodePools"][0]["initialNodeCount"] = json!(1.5);
    assert!(check_body(gke, "CreateClusterRequest", &bad).is_err());
}

#[test]
fn queries_and_output_only_fields() {
    let d = discovery();
    let compute = d.doc(Api::Compute).unwrap();
    let m = compute
        .find("POST", "/compute/v1/projects/p/global/networks")
        .unwrap();
    let q = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    assert_eq!(check_query(compute, m.method, &q("requestId", "x")), Ok(()));
    assert_eq!(check_query(compute, m.method, &q("alt", "json")), Ok(()));
    assert!(check_query(compute, m.method, &q("bogus", "1")).is_err());
    // Google's system parameters, as Google's Rust clients send them.
    assert_eq!(
        check_query(compute, m.method, &q("$alt", "json;enum-encoding=int")),
        Ok(())
    );
    assert_eq!(
        check_query(compute, m.method, &q("$apiVersion", "2026-09-01")),
        Ok(())
    );
    assert!(check_query(compute, m.method, &q("$alt", "xml")).is_err());
    let l = compute
        .find("GET", "/compute/v1/projects/p/global/networks")
        .unwrap();
    assert!(check_query(compute, l.method, &q("maxResults", "ten")).is_err());
    assert_eq!(
        check_query(compute, l.method, &q("maxResults", "10")),
        Ok(())
    );

    let mut body =
        json!({"name": "n", "id": "123", "selfLink": "x", "creationTimestamp": "t", "mtu": 1460});
    assert_eq!(check_body(compute, "Network", &body), Ok(()));
    strip_output_only(compute, "Network", &mut body);
    assert_eq!(body, json!({"name": "n", "mtu": 1460}));
}
