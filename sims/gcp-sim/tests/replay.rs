//! The contract test (issue 13): every real log under `sims/real/gcp/` replayed against the
//! simulator must match, and unit tests of the replay's parts (the log parser, the shape
//! comparison, the placeholder bindings, the routing).
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gcp_sim::discovery::{Api, Discovery};
use gcp_sim::replay::{
    self, Bindings, Body, Options, Route, ShapeDiff, aliases, compare, compare_with, ignore,
    parse_log, restrict, route, shape,
};
use serde_json::json;

const SMALL_LOG: &str = "GET https://compute.googleapis.com/compute/v1/projects/${projectId}/global/networks/n1?alt=json
Content-Type: application/json
User-Agent: kcc/${kccVersion}

404 Not Found
Content-Type: application/json; charset=UTF-8

{
  \"error\": {\"code\": 404, \"message\": \"not found\"}
}

---

POST https://sqladmin.googleapis.com/sql/v1beta4/projects/${projectId}/instances
Content-Type: application/json

{
  \"name\": \"db-${uniqueId}\"
}

200 OK
Content-Type: application/json

{
  \"kind\": \"sql#operation\",
  \"name\": \"${operationID}\"
}

---

DELETE https://storage.googleapis.com/storage/v1/b/bucket-${uniqueId}

204 No Content
Server: ESF

---

GET https://redis.googleapis.com/v1/projects/p/locations/l/clusters/c
";

#[test]
fn the_parser_reads_requests_headers_bodies_and_statuses() {
    let log = parse_log(SMALL_LOG);
    assert_eq!(log.len(), 4);

    let a = &log[0];
    assert_eq!(a.method, "GET");
    assert_eq!(
        a.url,
        "https://compute.googleapis.com/compute/v1/projects/${projectId}/global/networks/n1?alt=json"
    );
    assert_eq!(
        a.request_headers,
        vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("User-Agent".to_string(), "kcc/${kccVersion}".to_string()),
        ]
    );
    assert_eq!(a.request_body, Body::Empty);
    assert_eq!(a.status, Some(404));
    assert_eq!(a.status_text, "Not Found");
    assert_eq!(a.response_headers.len(), 1);
    assert_eq!(
        a.response_body,
        Body::Json(json!({"error": {"code": 404, "message": "not found"}}))
    );

    let b = &log[1];
    assert_eq!(b.method, "POST");
    assert_eq!(
        b.request_body,
        Body::Json(json!({"name": "db-${uniqueId}"}))
    );
    assert_eq!(b.status, Some(200));
    assert_eq!(
        b.response_body,
        Body::Json(json!({"kind": "sql#operation", "name": "${operationID}"}))
    );

    let c = &log[2];
    assert_eq!(c.status, Some(204));
    assert_eq!(c.status_text, "No Content");
    assert_eq!(c.response_body, Body::Empty);

    // A request the log holds no answer to.
    assert_eq!(log[3].status, None);
}

#[test]
fn the_parser_keeps_text_bodies_and_crlf_logs() {
    let log = parse_log(
        "GET https://x.googleapis.com/v1/a\r\n\r\n200 OK\r\nContent-Type: text/plain\r\n\r\nhello there\r\n",
    );
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, Some(200));
    assert_eq!(log[0].response_body, Body::Text("hello there".to_string()));
    assert!(parse_log("not a request\n---\n\n").is_empty());
}

#[test]
fn a_shape_merges_list_elements_and_records_types() {
    let s = shape(&json!({"a": [{"b": 1}, {"c": "x"}], "d": null}));
    let keys: Vec<&str> = s.keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["", "a", "a[]", "a[].b", "a[].c", "d"]);
    assert_eq!(s["a[].b"], BTreeSet::from(["number"]));
    assert_eq!(s["d"], BTreeSet::from(["null"]));
}

#[test]
fn the_comparison_reports_missing_extra_and_retyped_fields() {
    let real = json!({"name": "n", "id": "1", "labels": {"a": "b"}, "items": [{"x": 1}]});
    // The same shape with other values matches.
    let same =
        json!({"name": "other", "id": "99", "labels": {"a": "c"}, "items": [{"x": 5}, {"x": 6}]});
    assert!(compare(&real, &same).is_empty());

    let sim = json!({"name": "n", "id": 1, "items": [{"x": 1, "y": true}], "extra": {"z": 1}});
    let diff = compare(&real, &sim);
    assert_eq!(
        diff,
        ShapeDiff {
            // Only the top-most missing path, not `labels.a` below it.
            missing: vec!["labels:object".to_string()],
            extra: vec!["extra:object".to_string(), "items[].y:boolean".to_string()],
            types: vec!["id: string (real) vs number (sim)".to_string()],
        }
    );
    assert_eq!(
        diff.to_string(),
        "missing in sim: labels:object; extra in sim: extra:object, items[].y:boolean; \
         type: id: string (real) vs number (sim)"
    );
}

#[test]
fn list_elements_of_different_shapes_are_merged_before_comparing() {
    // The real list has `a` on one element and `b` on another; one simulated element with
    // both has the same merged shape.
    let real = json!({"l": [{"a": 1}, {"b": 2}]});
    assert!(compare(&real, &json!({"l": [{"a": 1, "b": 2}]})).is_empty());
    assert_eq!(
        compare(&real, &json!({"l": [{"a": 1}]})).missing,
        vec!["l[].b:number"]
    );
}

#[test]
fn long_lists_of_differences_are_truncated() {
    let real = json!({"a": 1, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1, "g": 1, "h": 1});
    let text = compare(&real, &json!({})).to_string();
    assert_eq!(
        text,
        "missing in sim: a:number, b:number, c:number, d:number, e:number, f:number, … (+2 more)"
    );
}

#[test]
fn ignored_fields_are_left_out_of_the_comparison() {
    for entry in ignore::IGNORED {
        assert!(!entry.why.is_empty(), "{} has no reason", entry.path);
    }
    let list = [
        ignore::Ignored {
            path: "meta.stamp",
            leeway: ignore::Leeway::Either,
            why: "test",
        },
        ignore::Ignored {
            path: "*.volatile",
            leeway: ignore::Leeway::Either,
            why: "test",
        },
    ];
    let real = json!({"meta": {"stamp": {"at": 1}, "kept": 1}, "l": [{"volatile": 1}]});
    let sim = json!({"meta": {"kept": 1}, "l": [{}], "volatile": "x"});
    assert!(compare_with(&real, &sim, &list).is_empty());
    // Without the list, the same answers differ.
    assert_eq!(
        compare_with(&real, &sim, &[]).to_string(),
        "missing in sim: l[].volatile:number, meta.stamp:object; extra in sim: volatile:string"
    );
    // A field next to an ignored one is still compared.
    let sim = json!({"meta": {}, "l": [{}]});
    assert_eq!(
        compare_with(&real, &sim, &list).missing,
        vec!["meta.kept:number"]
    );

    // A field Google added may be answered by the simulator where an older recording lacks
    // it, but the simulator may not lack it where a recording has it; a dropped one the
    // other way round.
    let list = [
        ignore::Ignored {
            path: "added",
            leeway: ignore::Leeway::Added,
            why: "test",
        },
        ignore::Ignored {
            path: "dropped",
            leeway: ignore::Leeway::Dropped,
            why: "test",
        },
    ];
    assert!(compare_with(&json!({"dropped": 1}), &json!({"added": 1}), &list).is_empty());
    assert_eq!(
        compare_with(&json!({"added": 1}), &json!({"dropped": 1}), &list).to_string(),
        "missing in sim: added:number; extra in sim: dropped:number"
    );
    // Their types are still compared where both have them.
    assert_eq!(
        compare_with(&json!({"added": 1}), &json!({"added": "x"}), &list)
            .types
            .len(),
        1
    );

    assert!(ignore::covers("a.b", "a.b"));
    assert!(ignore::covers("a.b", "a.b[].c"));
    assert!(!ignore::covers("a.b", "a.bc"));
    assert!(ignore::covers("*.b", "x[].b.c"));
    assert!(ignore::covers("*.b", "b"));
    assert!(!ignore::covers("*.b", "xb"));
}

#[test]
fn placeholders_are_filled_and_bound_from_answers() {
    let mut b = Bindings::new("proj", "u1");
    assert_eq!(
        b.fill("projects/${projectId}/x-${uniqueId}"),
        "projects/proj/x-u1"
    );
    // An unknown placeholder in a request gets a valid name, the same each time.
    let name = b.fill("${networkID}");
    assert_eq!(name, "networkid-u1");
    assert_eq!(b.fill("${networkID}"), name);
    // A name ending in Number gets digits.
    assert!(
        b.fill("${folderNumber}")
            .bytes()
            .all(|c| c.is_ascii_digit())
    );
    // Not a placeholder: kept.
    assert_eq!(b.fill("a ${ b $"), "a ${ b $");

    // Bound from the simulator's answer at the same path, across link hosts and versions.
    b.bind(
        &json!({
            "name": "${operationID}",
            "targetLink": "https://www.googleapis.com/compute/v1/projects/${projectId}/global/networks/${networkID}",
            "items": [{"id": "${otherID}"}],
            "self": "https://sqladmin.googleapis.com/sql/v1beta4/projects/${projectId}/instances/${instanceID}",
        }),
        &json!({
            "name": "op-1",
            "targetLink": "http://127.0.0.1:1234/compute/v1/projects/proj/global/networks/networkid-u1",
            "items": [{"id": "77"}],
            "self": "http://127.0.0.1:99/v1/projects/proj/instances/db1",
        }),
    );
    assert_eq!(b.get("operationID"), Some("op-1"));
    assert_eq!(b.get("otherID"), Some("77"));
    assert_eq!(b.get("instanceID"), Some("db1"));
    // A value the replay chose is not rebound by an answer.
    b.bind(
        &json!({"targetId": "${networkID}"}),
        &json!({"targetId": "123"}),
    );
    assert_eq!(b.get("networkID"), Some("networkid-u1"));
    // Each answer rebinds (KCC names every operation ${operationID}).
    b.bind(&json!({"name": "${operationID}"}), &json!({"name": "op-2"}));
    assert_eq!(b.fill("operations/${operationID}"), "operations/op-2");
    // A template that does not fit binds nothing.
    b.bind(&json!({"x": "a-${newID}"}), &json!({"x": "b-1"}));
    assert_eq!(b.get("newID"), None);

    // JSON bodies are filled in strings and keys.
    assert_eq!(
        b.fill_json(&json!({"name": "${uniqueId}", "${uniqueId}": [1, "${projectId}"]})),
        json!({"name": "u1", "u1": [1, "proj"]})
    );
}

#[test]
fn a_request_placeholder_takes_the_name_the_logs_links_spell() {
    let answers = [
        Body::Json(json!({"error": {"code": 404}})),
        Body::Json(json!({
            "targetLink": "https://www.googleapis.com/compute/v1/projects/${projectId}/global/addresses/computeaddress-${uniqueId}",
            "selfLink": "https://www.googleapis.com/compute/v1/projects/${projectId}/global/operations/${operationID}",
        })),
    ];
    let url = "https://compute.googleapis.com/compute/v1/projects/${projectId}/global/addresses/${addressID}";
    let found = aliases(url, &answers, &["projectId", "uniqueId"]);
    assert_eq!(
        found,
        vec![(
            "addressID".to_string(),
            "computeaddress-${uniqueId}".to_string()
        )]
    );
    let mut b = Bindings::new("proj", "u1");
    b.alias(&found);
    assert_eq!(b.fill("${addressID}"), "computeaddress-u1");
    // A link that spells the placeholder itself is no alias.
    let ops = "https://compute.googleapis.com/compute/v1/projects/${projectId}/global/operations/${operationID}";
    assert!(aliases(ops, &answers, &["projectId", "uniqueId"]).is_empty());
}

#[test]
fn aliases_cover_custom_methods_and_relative_names() {
    let keep = ["projectId", "projectNumber", "uniqueId"];
    // The object of a custom method, named by project number in the request.
    let answers = [Body::Json(json!({
        "targetLink": "https://www.googleapis.com/compute/v1/projects/${projectId}/global/networks/net-${uniqueId}",
    }))];
    let url = "https://compute.googleapis.com/compute/v1/projects/${projectNumber}/global/networks/${networkID}/removePeering?alt=json";
    assert_eq!(
        aliases(url, &answers, &keep),
        vec![("networkID".to_string(), "net-${uniqueId}".to_string())]
    );
    // A relative resource name (no host, no API version).
    let answers = [Body::Json(
        json!({"name": "operations/pssn.p24-${projectNumber}-abc"}),
    )];
    let url = "https://servicenetworking.googleapis.com/v1/operations/${operationID}";
    assert_eq!(
        aliases(url, &answers, &keep),
        vec![(
            "operationID".to_string(),
            "pssn.p24-${projectNumber}-abc".to_string()
        )]
    );
    // The answer's own link comes before the links it holds to other objects.
    let answers = [Body::Json(json!({
        "peerings": [{"network": "https://www.googleapis.com/compute/v1/projects/tenant/global/networks/servicenetworking"}],
        "selfLink": "https://www.googleapis.com/compute/v1/projects/${projectId}/global/networks/${networkID}",
    }))];
    let url = "https://compute.googleapis.com/compute/v1/projects/${projectId}/global/networks/${networkID}";
    assert!(aliases(url, &answers, &keep).is_empty());
}

#[test]
fn recorded_ids_map_to_the_simulators() {
    let mut b = Bindings::new("proj", "u1");
    b.preset("projectNumber", "42");
    b.bind(
        &json!({"name": "operations/pssn.p24-${projectNumber}-8d70"}),
        &json!({"name": "operations/pssn.p24-42-f00d"}),
    );
    assert_eq!(
        b.translate_ids("/v1/operations/pssn.p24-42-8d70"),
        "/v1/operations/pssn.p24-42-f00d"
    );
    // A segment the replay chose is no recorded id, even with a digit in it.
    b.fill("${healthCheckID}");
    b.bind(
        &json!({"targetLink": "https://h/compute/v1/projects/${projectId}/global/healthChecks/${healthCheckID}"}),
        &json!({"targetLink": "http://s/compute/v1/projects/proj/global/backendBuckets/bucket-u1"}),
    );
    assert_eq!(
        b.translate_ids("/x/healthcheckid-u1"),
        "/x/healthcheckid-u1"
    );
}

#[test]
fn an_operation_is_chosen_by_the_target_its_recorded_answer_shows() {
    let mut b = Bindings::new("proj", "u1");
    let a = b.fill("${aID}");
    let c = b.fill("${cID}");
    let op = |target: &str| json!({"name": "${operationID}", "targetLink": format!("https://www.googleapis.com/compute/v1/projects/${{projectId}}/global/x/{target}")});
    let sim = |name: &str, target: &str| json!({"name": name, "targetLink": format!("http://127.0.0.1:1/compute/v1/projects/proj/global/x/{target}")});
    b.bind(&op("${aID}"), &sim("op-a", &a));
    b.bind(&op("${cID}"), &sim("op-c", &c));
    assert_eq!(b.get("operationID"), Some("op-c"));
    // KCC polls the first operation after starting the second.
    b.choose_by_target("operationID", &op("${aID}"));
    assert_eq!(b.get("operationID"), Some("op-a"));
    b.clear_choices();
    assert_eq!(b.get("operationID"), Some("op-c"));
}

#[test]
fn a_placeholder_naming_several_objects_gets_one_value_each() {
    let mut b = Bindings::new("proj", "u1");
    assert_eq!(b.fill("${urlMapID}"), "urlmapid-u1");
    assert_eq!(b.generations("urlMapID"), ["urlmapid-u1".to_string()]);
    b.renew("urlMapID");
    assert_eq!(b.fill("${urlMapID}"), "urlmapid2-u1");
    b.choose("urlMapID", "urlmapid-u1");
    assert_eq!(b.fill("${urlMapID}"), "urlmapid-u1");
    b.clear_choices();
    assert_eq!(b.fill("${urlMapID}"), "urlmapid2-u1");
    // A value preferred stays current for the next requests.
    b.prefer("urlMapID", "urlmapid-u1");
    assert_eq!(b.fill("${urlMapID}"), "urlmapid-u1");
    assert_eq!(
        b.generations("urlMapID"),
        ["urlmapid2-u1".to_string(), "urlmapid-u1".to_string()]
    );
    // A name found in the log's links is no invention.
    b.alias(&[("addressID".to_string(), "a-${uniqueId}".to_string())]);
    assert!(b.generations("addressID").is_empty());
    assert_eq!(b.fill("${addressID}"), "a-u1");
}

#[test]
fn a_beta_answer_is_compared_by_the_fields_v1_defines() {
    let discovery = Discovery::load(&gcp_sim::default_schema_dir()).unwrap();
    let doc = discovery.doc(Api::Container).unwrap();
    let cluster = doc.schema("Cluster").unwrap();
    let beta = json!({
        "name": "c",
        "clusterTelemetry": {"type": "ENABLED"},
        "resourceLabels": {"any-key": "v"},
        "nodePools": [{"name": "p", "betaOnlyField": 1}],
    });
    assert_eq!(
        restrict(doc, cluster, &beta),
        json!({"name": "c", "resourceLabels": {"any-key": "v"}, "nodePools": [{"name": "p"}]})
    );
}

#[test]
fn requests_are_routed_to_their_listener_or_skipped_with_a_reason() {
    let served: BTreeSet<String> = ["compute", "sqladmin", "container", "redis"]
        .map(String::from)
        .into();
    assert_eq!(
        route(
            "GET",
            "https://sqladmin.googleapis.com/sql/v1beta4/projects/p/instances/i?alt=json",
            &served
        ),
        Route::Sim {
            api: "sqladmin",
            path: "/v1/projects/p/instances/i".to_string()
        }
    );
    assert_eq!(
        route(
            "POST",
            "https://container.googleapis.com/v1beta1/projects/p/locations/l/clusters",
            &served
        ),
        Route::Sim {
            api: "container",
            path: "/v1/projects/p/locations/l/clusters".to_string()
        }
    );
    assert_eq!(
        route(
            "POST",
            "https://compute.googleapis.com/compute/v1/projects/p/global/addresses/a/setLabels",
            &served
        ),
        Route::Sim {
            api: "compute",
            path: "/compute/v1/projects/p/global/addresses/a/setLabels".to_string()
        }
    );
    // Older logs reach compute and sqladmin through www.googleapis.com.
    assert_eq!(
        route(
            "GET",
            "https://www.googleapis.com/compute/v1/projects/p/global/networks/n",
            &served
        ),
        Route::Sim {
            api: "compute",
            path: "/compute/v1/projects/p/global/networks/n".to_string()
        }
    );
    let skip = |method: &str, url: &str| match route(method, url, &served) {
        Route::Skip(why) => why,
        other => panic!("{url} is not skipped: {other:?}"),
    };
    assert!(
        skip(
            "GET",
            "https://compute.googleapis.com/compute/v1/projects/p/zones/z/instanceGroupManagers/g"
        )
        .contains("ss never calls it")
    );
    assert!(skip("GET", "https://storage.googleapis.com/storage/v1/b/x").contains("Storage"));
    assert!(
        skip(
            "GET",
            "https://cloudresourcemanager.googleapis.com/v1/projects/p"
        )
        .contains("ss never calls it")
    );
    assert!(
        skip(
            "GET",
            "https://networkconnectivity.googleapis.com/v1/projects/p/locations/l/x"
        )
        .contains("does not serve this API")
    );
    assert!(skip("GET", "https://example.com/v1/x").contains("example.com"));
    assert!(
        skip(
            "GET",
            "https://compute.googleapis.com/compute/beta/projects/p/global/networks/n"
        )
        .contains("only under /compute/v1/")
    );
}

/// Every `*.log` under `sims/real/gcp/`, sorted.
fn real_logs() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "log") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../real/gcp");
    let mut out = Vec::new();
    walk(&root, &mut out);
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_real_log_replays_without_a_mismatch() {
    let logs = real_logs();
    assert!(logs.len() >= 14, "the vendored logs are missing: {logs:?}");
    let report = replay::replay(&logs, &Options::default()).await.unwrap();
    assert!(report.compared() > 0);
    let lines: Vec<String> = report
        .outcomes
        .iter()
        .filter(|o| matches!(o.verdict, replay::Verdict::Mismatch(_)))
        .filter_map(replay::Outcome::line)
        .collect();
    assert!(
        report.all_match(),
        "{}\n{}",
        lines.join("\n"),
        report.summary()
    );
}
