//! The type checker against the real schema: generic models, maps, numeric enums, addresses.
#![allow(clippy::unwrap_used, clippy::panic)]

use ovh_sim::schema::Schema;
use ovh_sim::validate::check_value;
use serde_json::json;

fn schema() -> std::sync::Arc<Schema> {
    Schema::load_cached(&ovh_sim::default_schema_dir()).unwrap()
}

#[test]
fn types_are_checked() {
    let s = schema();
    let ok = [
        (
            "complexType.UnitAndValueWritable<long>",
            json!({"unit": "GB", "value": 5}),
        ),
        ("map[string]string", json!({"a": "b"})),
        (
            "cloud.loadbalancing.L7PolicyRedirectHTTPCodeEnum",
            json!(301),
        ),
        ("ipBlock", json!("10.0.0.0/16")),
        ("ipv4Block[]", json!(["10.0.0.0/8", "192.168.1.1"])),
        ("uuid", json!("0b5b8a3e-0000-4000-8000-000000000000")),
        ("datetime", json!("2025-01-01T00:00:00+01:00")),
        ("double", json!(0.5)),
        (
            "cloud.project.database.service.IpRestriction[]",
            json!([{"ip": "1.2.3.4/32", "description": "x"}]),
        ),
    ];
    for (ty, v) in ok {
        assert_eq!(check_value(&s, ty, &v, ""), Ok(()), "{ty} {v}");
    }
    let bad = [
        (
            "complexType.UnitAndValueWritable<long>",
            json!({"unit": "GB", "value": "5"}),
            "[value]",
        ),
        ("map[string]string", json!({"a": 1}), "[a]"),
        (
            "cloud.loadbalancing.L7PolicyRedirectHTTPCodeEnum",
            json!(300),
            "not valid",
        ),
        ("ipBlock", json!("10.0.0.0/133"), "not valid"),
        ("ipv4Block[]", json!(["::1"]), "[[0]]"),
        ("uuid", json!("nope"), "not valid"),
        ("long", json!(1.5), "not valid"),
        ("boolean", json!("true"), "not valid"),
        (
            "cloud.project.database.service.IpRestriction[]",
            json!([{"ip": "1.2.3.4/32", "status": "READY"}]),
            "[[0].status] Property is read-only",
        ),
    ];
    for (ty, v, want) in bad {
        let e = check_value(&s, ty, &v, "").unwrap_err();
        assert!(e.contains(want), "{ty} {v}: {e}");
    }
}

#[test]
fn every_route_template_matches_itself() {
    let s = schema();
    for route in &s.routes {
        let path = route.template.replace(['{', '}'], "");
        for op in &route.operations {
            let m = s.find(&op.method, &path).unwrap();
            assert_eq!(m.route.template, route.template, "{} {path}", op.method);
        }
    }
}
