//! Checks of the requests against the published API descriptions in
//! `sims/api-specs/ovh/` (vendored from `../shared/api-specs/`).

#![allow(clippy::panic)]

use std::path::PathBuf;

use provider_api::{Attrs, Value};
use serde_json::{Value as Json, json};

use crate::object::Phase;
use crate::routes::{self, ROUTES, Route};
use crate::{cdn, database, kube, loadbalancer, network};

fn spec_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sims/api-specs/ovh")
}

fn load(file: &str) -> Json {
    let path = spec_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("valid JSON")
}

struct Specs {
    docs: Vec<Json>,
}

impl Specs {
    fn load() -> Specs {
        Specs {
            docs: ["cloud.v1.json", "cdn-dedicated.v1.json", "auth.v1.json"]
                .into_iter()
                .map(load)
                .collect(),
        }
    }

    fn operation(&self, route: Route) -> Option<(&Json, &Json)> {
        self.docs.iter().find_map(|doc| {
            doc["apis"].as_array()?.iter().find_map(|api| {
                if api["path"] != route.path {
                    return None;
                }
                api["operations"]
                    .as_array()?
                    .iter()
                    .find(|op| op["httpMethod"] == route.method)
                    .map(|op| (doc, op))
            })
        })
    }

    /// Checks a body against the operation's body parameters: the whole body is a model, or
    /// each named body parameter is one key.
    fn check_body(&self, route: Route, body: &Json) {
        let (doc, op) = self
            .operation(route)
            .unwrap_or_else(|| panic!("{route:?} not in the API"));
        let params: Vec<&Json> = op["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter(|p| p["paramType"] == "body")
            .collect();
        let whole = params
            .iter()
            .find(|p| p.get("name").is_none_or(Json::is_null));
        match whole {
            Some(p) => {
                let model = p["dataType"].as_str().expect("dataType");
                check_model(doc, model, body, &format!("{route:?}"));
            }
            None => {
                let obj = body.as_object().expect("object body");
                for (k, v) in obj {
                    let p = params
                        .iter()
                        .find(|p| p["name"] == k.as_str())
                        .unwrap_or_else(|| panic!("{route:?}: no body parameter {k}"));
                    check_type(doc, p["dataType"].as_str().expect("type"), v, k);
                }
                for p in &params {
                    if p["required"] == true {
                        let name = p["name"].as_str().expect("name");
                        assert!(obj.contains_key(name), "{route:?}: {name} is required");
                    }
                }
            }
        }
    }
}

fn check_model(doc: &Json, model: &str, value: &Json, at: &str) {
    let m = &doc["models"][model];
    assert!(!m.is_null(), "{at}: no model {model}");
    if let Some(values) = m.get("enum").and_then(Json::as_array) {
        assert!(values.contains(value), "{at}: {value} not in enum {model}");
        return;
    }
    let props = m["properties"].as_object().expect("properties");
    let obj = value
        .as_object()
        .unwrap_or_else(|| panic!("{at}: {model} must be an object, got {value}"));
    for (k, v) in obj {
        let p = props
            .get(k)
            .unwrap_or_else(|| panic!("{at}: {model} has no field {k}"));
        assert!(
            p["readOnly"] != true,
            "{at}: {model}.{k} is read-only and must not be sent"
        );
        check_type(
            doc,
            p["type"].as_str().expect("type"),
            v,
            &format!("{at}.{k}"),
        );
    }
    for (k, p) in props {
        if p["required"] == true && p["readOnly"] != true {
            assert!(obj.contains_key(k), "{at}: {model}.{k} is required");
        }
    }
}

fn check_type(doc: &Json, ty: &str, value: &Json, at: &str) {
    if let Some(inner) = ty.strip_suffix("[]") {
        let items = value
            .as_array()
            .unwrap_or_else(|| panic!("{at}: expected a list"));
        for (i, v) in items.iter().enumerate() {
            check_type(doc, inner, v, &format!("{at}[{i}]"));
        }
        return;
    }
    match ty {
        "string" | "ip" | "ipBlock" | "ipv4Block" | "ipv4" | "uuid" | "password" | "text" => {
            assert!(value.is_string(), "{at}: expected {ty}, got {value}")
        }
        "long" | "double" => assert!(value.is_number(), "{at}: expected {ty}, got {value}"),
        "boolean" => assert!(value.is_boolean(), "{at}: expected boolean, got {value}"),
        model => check_model(doc, model, value, at),
    }
}

#[test]
fn every_route_exists_in_the_api_description() {
    let specs = Specs::load();
    for route in ROUTES {
        assert!(
            specs.operation(*route).is_some(),
            "{} {} is not in the OVH API description",
            route.method,
            route.path
        );
    }
}

#[test]
fn no_route_is_deprecated() {
    let specs = Specs::load();
    for route in ROUTES {
        let (_, op) = specs.operation(*route).expect("exists");
        assert_ne!(
            op["apiStatus"]["value"], "DEPRECATED",
            "{route:?} is deprecated"
        );
    }
}

fn attrs(pairs: &[(&str, Value)]) -> Attrs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn request_bodies_follow_the_models() {
    let specs = Specs::load();
    let uuid = "1b4a5c2e-0000-4000-8000-000000000001";
    let net = attrs(&[("vlan_id", Value::from(12))]);
    specs.check_body(routes::NETWORK_CREATE, &network::network_body("n", &net));
    specs.check_body(
        routes::NETWORK_CREATE,
        &network::network_body("n", &Attrs::new()),
    );
    let sub = attrs(&[("cidr", Value::from("10.0.0.0/20"))]);
    specs.check_body(
        routes::SUBNET_CREATE,
        &network::subnet_body("s", &sub).expect("body"),
    );
    let kube = attrs(&[
        ("network_id", Value::from(uuid)),
        ("version", Value::from("1.31")),
    ]);
    specs.check_body(
        routes::KUBE_CREATE,
        &kube::kube_body("k", "EU-WEST-PAR", &kube, Some(uuid)).expect("body"),
    );
    specs.check_body(
        routes::KUBE_PUT,
        &json!({ "updatePolicy": "MINIMAL_DOWNTIME" }),
    );
    specs.check_body(routes::KUBE_UPDATE, &json!({ "strategy": "NEXT_MINOR" }));
    let pool = attrs(&[
        ("flavor", Value::from("b3-16")),
        ("zone", Value::from("eu-west-par-a")),
        ("min_nodes", Value::from(2)),
        ("max_nodes", Value::from(7)),
    ]);
    specs.check_body(
        routes::NODEPOOL_CREATE,
        &kube::nodepool_body("p", &pool).expect("body"),
    );
    specs.check_body(
        routes::NODEPOOL_PUT,
        &kube::nodepool_update_body(&pool, Some(9)).expect("body"),
    );
    let db = attrs(&[
        ("network_id", Value::from(uuid)),
        ("version", Value::from("16")),
        ("plan", Value::from("enterprise")),
        ("flavor", Value::from("db1-30")),
        ("nodes", Value::from(3)),
        ("disk_gb", Value::from(200)),
    ]);
    let allowed = vec!["10.0.0.0/20".to_string()];
    for (create, put) in [
        (routes::PG_CREATE, routes::PG_PUT),
        (routes::VALKEY_CREATE, routes::VALKEY_PUT),
        (routes::REDIS_CREATE, routes::REDIS_PUT),
    ] {
        specs.check_body(
            create,
            &database::db_body("d", "EU-WEST-PAR", &db, uuid, &allowed).expect("body"),
        );
        specs.check_body(
            put,
            &database::db_update_body("d", &db, &allowed).expect("body"),
        );
    }
    let lb = attrs(&[("network_id", Value::from(uuid))]);
    specs.check_body(
        routes::LB_CREATE,
        &loadbalancer::lb_body("l", uuid, &lb, uuid).expect("body"),
    );
    let listener = attrs(&[
        ("loadbalancer_id", Value::from(uuid)),
        ("port", Value::from(443)),
        ("protocol", Value::from("https")),
    ]);
    specs.check_body(
        routes::LISTENER_CREATE,
        &loadbalancer::listener_body("l", &listener).expect("body"),
    );
    for sticky in [true, false] {
        let pool = attrs(&[
            ("listener_id", Value::from(uuid)),
            ("protocol", Value::from("https")),
            ("sticky_sessions", Value::from(sticky)),
        ]);
        specs.check_body(
            routes::POOL_CREATE,
            &loadbalancer::pool_body("p", &pool).expect("body"),
        );
        specs.check_body(routes::POOL_PUT, &loadbalancer::pool_update_body(&pool));
    }
    for kind in ["https", "tcp"] {
        let mon = attrs(&[
            ("pool_id", Value::from(uuid)),
            ("monitor_type", Value::from(kind)),
            ("delay", Value::from(10)),
            ("timeout", Value::from(5)),
            ("max_retries", Value::from(2)),
            ("url_path", Value::from("/health")),
        ]);
        specs.check_body(
            routes::MONITOR_CREATE,
            &loadbalancer::monitor_body("m", &mon).expect("body"),
        );
        specs.check_body(
            routes::MONITOR_PUT,
            &loadbalancer::monitor_update_body(&mon).expect("body"),
        );
    }
    specs.check_body(
        routes::CDN_DOMAIN_CREATE,
        &json!({ "domain": "x.cdn.example.com" }),
    );
    specs.check_body(routes::CDN_DOMAIN_PUT, &json!({ "status": "on" }));
    specs.check_body(routes::CDN_BACKEND_CREATE, &json!({ "ip": "192.0.2.10" }));
    let rule = attrs(&[
        ("cache_type", Value::from("forceCache")),
        ("file_match", Value::from("/static/")),
        ("file_type", Value::from("folder")),
        ("ttl", Value::from(31_536_000)),
    ]);
    specs.check_body(
        routes::CDN_RULE_CREATE,
        &cdn::cache_rule_body(&rule).expect("body"),
    );
    specs.check_body(routes::CDN_RULE_PUT, &json!({ "ttl": 60 }));
}

#[test]
fn paths_are_rendered_and_encoded() {
    assert_eq!(
        routes::SUBNET_DELETE.render(&[
            ("serviceName", "p1"),
            ("regionName", "EU-WEST-PAR"),
            ("networkId", "n/1"),
            ("subnetId", "s 2"),
        ]),
        "/cloud/project/p1/region/EU-WEST-PAR/network/n%2F1/subnet/s%202"
    );
}

#[test]
fn readiness_follows_the_status_enums() {
    assert_eq!(kube::phase(&json!({"status": "READY"})), Phase::Ready);
    assert!(matches!(
        kube::phase(&json!({"status": "INSTALLING"})),
        Phase::Pending(_)
    ));
    assert!(matches!(
        database::phase(&json!({"status": "CREATING"})),
        Phase::Pending(_)
    ));
    assert!(matches!(
        loadbalancer::phase(&json!({"provisioningStatus": "error"})),
        Phase::Failed(_)
    ));
    assert!(kube::is_next_minor("1.31", "1.32"));
    assert!(!kube::is_next_minor("1.31", "1.33"));
    assert_eq!(
        kube::kubeconfig_ca("clusters:\n- cluster:\n    certificate-authority-data: QUJD\n"),
        Some("QUJD".into())
    );
}

#[test]
fn an_empty_zones_list_makes_a_one_az_region() {
    let three_az = attrs(&[
        ("project_id", Value::from("p")),
        ("region", Value::from("EU-WEST-PAR")),
    ]);
    let p = crate::configure_with_env(&three_az, |_| None).expect("configured");
    assert_eq!(p.settings().zones.len(), 3);
    let mut one_az = three_az.clone();
    one_az.insert("zones".into(), Value::List(vec![]));
    let p = crate::configure_with_env(&one_az, |_| None).expect("an empty list is accepted");
    assert!(p.settings().zones.is_empty());
}

#[test]
fn missing_credentials_fail_the_first_request_not_the_configuration() {
    use provider_api::{Provider, ProviderError};
    let cfg = attrs(&[
        ("project_id", Value::from("p")),
        ("region", Value::from("GRA11")),
    ]);
    let p = crate::configure_with_env(&cfg, |_| None).expect("configured without credentials");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let err = runtime
        .block_on(p.read_many("ovh_cloud_network", &["n".to_string()]))
        .expect_err("no credentials");
    let ProviderError::Other(text) = &err else {
        panic!("{err:?}")
    };
    assert!(text.contains("OVH_APPLICATION_KEY"), "{text}");
    assert!(!err.is_retryable());
    let ok = crate::configure_with_env(&cfg, |k| Some(format!("{k}-value")));
    assert!(ok.is_ok());
    let shown = format!("{:?}", ok.expect("configured"));
    assert!(!shown.contains("OVH_APPLICATION_SECRET-value"), "{shown}");
    assert!(!shown.contains("OVH_CONSUMER_KEY-value"), "{shown}");
}

#[test]
fn every_component_expands_into_known_native_types() {
    use provider_api::Provider;
    let cfg = attrs(&[
        ("project_id", Value::from("p")),
        ("region", Value::from("EU-WEST-PAR")),
        ("cdn_service", Value::from("cdn-1")),
        ("cdn_zone", Value::from("cdn.example.com")),
    ]);
    let p = crate::configure_with_env(&cfg, |k| Some(format!("{k}-value"))).expect("ok");
    let infrastructure = provider_api::component::INFRASTRUCTURE.into_iter();
    for component in infrastructure.chain([provider_api::component::REDIS]) {
        let schema = provider_api::component::schema(component).expect("schema");
        let mut config = Attrs::new();
        for (k, a) in &schema.body.attributes {
            if let Some(d) = &a.default {
                config.insert(k.clone(), d.clone());
            }
        }
        config.insert("network".into(), Value::from("net"));
        config.insert("target".into(), Value::from("kube"));
        config.insert("origin".into(), Value::from("192.0.2.1"));
        config.insert("shards".into(), Value::from(1));
        let pool = Value::Map(attrs(&[("min", Value::from(1)), ("max", Value::from(3))]));
        config.insert("node_pool".into(), Value::Map(attrs(&[("web", pool)])));
        let e = p
            .expand("x", component, &config)
            .unwrap_or_else(|d| panic!("{component}: {d:?}"));
        for r in &e.resources {
            let native = &p.schema().resources[&r.type_name];
            for k in r.config.keys() {
                assert!(
                    native.attribute(k).is_some_and(|a| a.is_configurable()),
                    "{component}: {}.{k} is not a configurable attribute",
                    r.type_name
                );
            }
        }
        for k in e.exports.keys() {
            assert!(schema.attribute(k).is_some(), "{component} exports {k}");
        }
    }
}
