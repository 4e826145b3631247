//! Apply concurrency limits, observed from outside: `ss apply --json` writes one event per line
//! in the order things happen, so the number of operations in flight at any moment is a counter
//! over that order (+1 on `apply_start`, −1 on `apply_complete` or `apply_errored`). Its maximum
//! is compared with what the graph, the provider block's `max_in_flight` and `--parallelism`
//! allow. This is an order check, not a timing one; only the `requests_per_second` test
//! measures time, and then only as a lower bound, which a slow machine cannot break.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value as Json;

use crate::util::{Project, Run, addresses, location_of, str_field};

/// How long each create takes. Long enough that every operation the scheduler may start at
/// once has started before the first one ends, even on a busy machine.
const LATENCY: &str = "300ms";
const LATENCY_MS: u64 = 300;

/// Independent objects in the fan-out specs.
const FAN_OUT: usize = 12;

/// What one line of `ss apply --json` reported.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Start,
    Complete,
    Errored,
    Other(String),
}

#[derive(Clone, Debug)]
struct Event {
    kind: Kind,
    address: Option<String>,
}

/// The events of a `--json` apply, in the order they were written; every line of stdout must
/// be one JSON object with a `type`.
#[track_caller]
fn events(run: &Run) -> Vec<Event> {
    run.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let json: Json = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a stdout line is not JSON ({e}): {line:?}\n{run}"));
            let kind = match str_field(&json, "type") {
                "apply_start" => Kind::Start,
                "apply_complete" => Kind::Complete,
                "apply_errored" => Kind::Errored,
                other => Kind::Other(other.to_string()),
            };
            let address = json
                .get("address")
                .and_then(Json::as_str)
                .map(str::to_string);
            Event { kind, address }
        })
        .collect()
}

/// The highest number of operations in flight at once, checking on the way that every
/// operation starts once, ends once, and ends after it starts.
#[track_caller]
fn max_in_flight(events: &[Event], run: &Run) -> usize {
    let mut open: BTreeSet<&str> = BTreeSet::new();
    let mut started: Vec<&str> = Vec::new();
    let mut max = 0;
    for event in events {
        let Some(address) = event.address.as_deref() else {
            continue;
        };
        match event.kind {
            Kind::Start => {
                assert!(
                    !started.contains(&address),
                    "{address} started twice\n{run}"
                );
                started.push(address);
                open.insert(address);
                max = max.max(open.len());
            }
            Kind::Complete | Kind::Errored => {
                assert!(
                    open.remove(address),
                    "{address} ended without being in flight\n{run}"
                );
            }
            Kind::Other(_) => {}
        }
    }
    assert!(
        open.is_empty(),
        "operations still in flight when apply ended: {:?}\n{run}",
        open
    );
    max
}

/// The position of the first event of `kind` for `address`.
#[track_caller]
fn position(events: &[Event], kind: &Kind, address: &str, run: &Run) -> usize {
    events
        .iter()
        .position(|e| &e.kind == kind && e.address.as_deref() == Some(address))
        .unwrap_or_else(|| panic!("no {kind:?} event for {address}\n{run}"))
}

/// Runs `ss apply --auto-approve --json EXTRA…`, checks that it succeeded and that every
/// operation completed, and returns the run and its events.
#[track_caller]
fn apply(project: &Project, extra: &[&str]) -> (Run, Vec<Event>) {
    let mut args = vec!["apply", "--auto-approve", "--json"];
    args.extend_from_slice(extra);
    let run = project.ss(&args);
    run.success().no_panic();
    let events = events(&run);
    assert!(
        !events.iter().any(|e| e.kind == Kind::Errored),
        "an operation failed\n{run}"
    );
    (run, events)
}

/// A spec with the given provider block body and `n` independent objects `o0`, `o1`, ….
fn fan_out(provider_body: &str, n: usize, latency: &str) -> String {
    let mut spec = format!("provider \"sandbox\" {{\n{provider_body}}}\n");
    for i in 0..n {
        spec.push_str(&format!(
            "\nresource \"sandbox_object\" \"o{i}\" {{\n  input          = \"o{i}\"\n  create_latency = \"{latency}\"\n}}\n"
        ));
    }
    spec
}

/// The sorted addresses `sandbox_object.o0` … of [`fan_out`].
fn fan_out_addresses(n: usize) -> Vec<String> {
    let mut out: Vec<String> = (0..n).map(|i| format!("sandbox_object.o{i}")).collect();
    out.sort();
    out
}

/// Checks that the state holds exactly `expected` and agrees with the sandbox.
#[track_caller]
fn assert_converged(project: &Project, expected: &[String]) {
    assert_eq!(addresses(&project.state_list()), expected);
    let ids = project.assert_state_matches_cloud("after apply");
    assert_eq!(ids.len(), expected.len());
}

#[test]
fn provider_max_in_flight_bounds_and_is_reached() {
    let project = Project::new(&[(
        "main.hcl",
        &fan_out("  max_in_flight = 2\n", FAN_OUT, LATENCY),
    )]);
    let (run, events) = apply(&project, &[]);
    assert_eq!(
        max_in_flight(&events, &run),
        2,
        "max_in_flight = 2 must allow two operations at once and no more\n{run}"
    );
    // Independent evidence that the provider really ran two at a time: twelve creates of
    // LATENCY each, two at a time, cannot finish sooner than six LATENCYs.
    let floor = Duration::from_millis(LATENCY_MS * (FAN_OUT as u64 / 2));
    assert!(
        run.elapsed >= floor,
        "{FAN_OUT} creates two at a time finished in {:?}, under {floor:?}\n{run}",
        run.elapsed
    );
    assert_converged(&project, &fan_out_addresses(FAN_OUT));
}

#[test]
fn without_limits_the_graph_alone_bounds_concurrency() {
    let project = Project::new(&[("main.hcl", &fan_out("", FAN_OUT, LATENCY))]);
    let (run, events) = apply(&project, &[]);
    assert_eq!(
        max_in_flight(&events, &run),
        FAN_OUT,
        "{FAN_OUT} independent objects with no limit must all be in flight at once\n{run}"
    );
    assert_converged(&project, &fan_out_addresses(FAN_OUT));
}

#[test]
fn parallelism_flag_caps_concurrency() {
    let project = Project::new(&[("main.hcl", &fan_out("", FAN_OUT, LATENCY))]);
    let (run, events) = apply(&project, &["--parallelism", "3"]);
    assert_eq!(
        max_in_flight(&events, &run),
        3,
        "--parallelism 3 must allow three operations at once and no more\n{run}"
    );
    assert_converged(&project, &fan_out_addresses(FAN_OUT));
}

/// A chain `a → b → c → d` (each reads the previous one's id) and four independent leaves.
const CHAIN_AND_LEAVES: &str = r#"
provider "sandbox" {}

resource "sandbox_object" "a" {
  input          = "a"
  create_latency = "300ms"
}

resource "sandbox_object" "b" {
  input          = sandbox_object.a.id
  create_latency = "300ms"
}

resource "sandbox_object" "c" {
  input          = sandbox_object.b.id
  create_latency = "300ms"
}

resource "sandbox_object" "d" {
  input          = sandbox_object.c.id
  create_latency = "300ms"
}

resource "sandbox_object" "leaf" {
  count          = 4
  input          = "leaf-${count.index}"
  create_latency = "300ms"
}
"#;

#[test]
fn a_chain_runs_in_order_while_independent_leaves_overlap_it() {
    let project = Project::new(&[("main.hcl", CHAIN_AND_LEAVES)]);
    let (run, events) = apply(&project, &[]);
    let chain = ["a", "b", "c", "d"].map(|n| format!("sandbox_object.{n}"));
    for pair in chain.windows(2) {
        let done = position(&events, &Kind::Complete, &pair[0], &run);
        let next = position(&events, &Kind::Start, &pair[1], &run);
        assert!(
            next > done,
            "{} started before {} completed\n{run}",
            pair[1],
            pair[0]
        );
    }
    // The head of the chain and the four leaves are all ready at the start.
    let max = max_in_flight(&events, &run);
    assert!(
        max >= 5,
        "the leaves must run beside the chain: at most {max} in flight\n{run}"
    );
    let a_done = position(&events, &Kind::Complete, &chain[0], &run);
    for i in 0..4 {
        let leaf = format!("sandbox_object.leaf[{i}]");
        let start = position(&events, &Kind::Start, &leaf, &run);
        assert!(
            start < a_done,
            "{leaf} waited for the chain: it started after {} completed\n{run}",
            chain[0]
        );
    }
    let mut expected: Vec<String> = chain.to_vec();
    expected.extend((0..4).map(|i| format!("sandbox_object.leaf[{i}]")));
    expected.sort();
    assert_converged(&project, &expected);
}

#[test]
fn requests_per_second_paces_calls() {
    let n = 8;
    let project = Project::new(&[("main.hcl", &fan_out("  requests_per_second = 4\n", n, "0s"))]);
    let (run, events) = apply(&project, &[]);
    // Eight calls at four per second start at 0, 0.25, …, 1.75 s: the whole run takes at least
    // 1.75 s. The bound checked is a little lower and is a lower bound only, so a slow machine
    // cannot make it fail.
    let floor = Duration::from_millis(1500);
    assert!(
        run.elapsed >= floor,
        "{n} creates at 4 per second finished in {:?}, under {floor:?}\n{run}",
        run.elapsed
    );
    let completed = events.iter().filter(|e| e.kind == Kind::Complete).count();
    assert_eq!(completed, n, "expected {n} completed creates\n{run}");
    assert_converged(&project, &fan_out_addresses(n));
}

/// `FILE:LINE:COL` of the value written after `key = ` in `text`, where diagnostics about an
/// attribute's value point.
#[track_caller]
fn value_location(file: &str, text: &str, key: &str) -> String {
    let assignment = format!("{key} = ");
    let at = location_of(file, text, &assignment);
    let (prefix, column) = at.rsplit_once(':').expect("FILE:LINE:COL");
    let column: usize = column.parse().expect("a column number");
    format!("{prefix}:{}", column + assignment.len())
}

#[test]
fn invalid_limit_settings_are_rejected_with_their_location() {
    for (setting, value) in [("max_in_flight", "0"), ("requests_per_second", "-1")] {
        let text = format!(
            "provider \"sandbox\" {{\n  {setting} = {value}\n}}\n\nresource \"sandbox_object\" \"a\" {{\n  input = \"a\"\n}}\n"
        );
        let project = Project::new(&[("main.hcl", &text)]);
        let run = project.ss(&["validate"]);
        run.code(1)
            .no_panic()
            .contains(setting)
            .contains(&value_location("main.hcl", &text, setting));
        assert!(
            !project.cloud.exists() || project.sandbox_list().is_empty(),
            "validate must not touch the cloud\n{run}"
        );
    }
}

#[test]
fn value_location_points_after_the_equals_sign() {
    let text = "provider \"sandbox\" {\n  max_in_flight = 0\n}\n";
    assert_eq!(
        value_location("main.hcl", text, "max_in_flight"),
        "main.hcl:2:19"
    );
}
