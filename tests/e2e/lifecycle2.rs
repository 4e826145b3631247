//! More of the resource lifecycle and the read-only commands: shrinking `count` and `for_each`,
//! `create_before_destroy`, `ss show`, `ss output --json`, `ss graph` edges, help texts and a
//! saved plan applied to another directory's state.

use serde_json::Value as Json;

use crate::util::{Project, addresses, cloud_has, counts_of, id_of};

const COUNT_SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

variable "n" {
  type    = number
  default = 3
}

resource "sandbox_object" "n" {
  count = var.n
  input = "item-${count.index}"
}
"#;

#[test]
fn shrinking_count_destroys_the_last_instance_only() {
    let p = Project::new(&[("main.hcl", COUNT_SPEC)]);
    p.ss(&["apply", "--auto-approve"]).success();
    let before = p.state_list();
    assert_eq!(
        addresses(&before),
        [
            "sandbox_object.n[0]",
            "sandbox_object.n[1]",
            "sandbox_object.n[2]"
        ]
    );
    let kept = [
        id_of(&before, "sandbox_object.n[0]"),
        id_of(&before, "sandbox_object.n[1]"),
    ];
    let gone = id_of(&before, "sandbox_object.n[2]");

    let run = p.ss(&["plan", "--detailed-exitcode", "--var", "n=2"]);
    run.code(2)
        .contains("# sandbox_object.n[2] will be destroyed");
    assert_eq!(counts_of(&run), (0, 0, 1), "{run}");
    for kept in ["sandbox_object.n[0]", "sandbox_object.n[1]"] {
        assert!(
            !run.stdout.contains(&format!("# {kept} ")),
            "{kept} is untouched\n{run}"
        );
    }

    p.ss(&["apply", "--auto-approve", "--var", "n=2"]).success();
    let after = p.state_list();
    assert_eq!(
        addresses(&after),
        ["sandbox_object.n[0]", "sandbox_object.n[1]"]
    );
    assert_eq!(
        [
            id_of(&after, "sandbox_object.n[0]"),
            id_of(&after, "sandbox_object.n[1]")
        ],
        kept
    );
    let cloud = p.sandbox_list();
    assert!(!cloud_has(&cloud, &gone), "n[2]'s object {gone} is deleted");
    assert_eq!(cloud.len(), 2, "{}", Json::from(cloud.clone()));
}

const FOR_EACH_SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

resource "sandbox_object" "s" {
  for_each = toset(["alpha", "beta", "gamma"])
  input    = "value-${each.key}"
}
"#;

#[test]
fn removing_a_for_each_key_destroys_that_instance_only() {
    let p = Project::new(&[("main.hcl", FOR_EACH_SPEC)]);
    p.ss(&["apply", "--auto-approve"]).success();
    let before = p.state_list();
    assert_eq!(
        addresses(&before),
        [
            "sandbox_object.s[\"alpha\"]",
            "sandbox_object.s[\"beta\"]",
            "sandbox_object.s[\"gamma\"]"
        ]
    );
    let beta = id_of(&before, "sandbox_object.s[\"beta\"]");
    let alpha = id_of(&before, "sandbox_object.s[\"alpha\"]");
    let gamma = id_of(&before, "sandbox_object.s[\"gamma\"]");

    p.write("main.hcl", &FOR_EACH_SPEC.replace("\"beta\", ", ""));
    let run = p.ss(&["plan", "--detailed-exitcode"]);
    run.code(2)
        .contains("# sandbox_object.s[\"beta\"] will be destroyed");
    assert_eq!(counts_of(&run), (0, 0, 1), "{run}");

    p.ss(&["apply", "--auto-approve"]).success();
    let after = p.state_list();
    assert_eq!(
        addresses(&after),
        ["sandbox_object.s[\"alpha\"]", "sandbox_object.s[\"gamma\"]"]
    );
    assert_eq!(id_of(&after, "sandbox_object.s[\"alpha\"]"), alpha);
    assert_eq!(id_of(&after, "sandbox_object.s[\"gamma\"]"), gamma);
    assert!(
        !cloud_has(&p.sandbox_list(), &beta),
        "beta's object is deleted"
    );
}

const CBD_SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

resource "sandbox_object" "r" {
  input      = "x"
  replace_on = "1"

  lifecycle {
    create_before_destroy = true
  }
}
"#;

#[test]
fn create_before_destroy_replaces_new_first() {
    let p = Project::new(&[("main.hcl", CBD_SPEC)]);
    p.ss(&["apply", "--auto-approve"]).success();
    let old = id_of(&p.state_list(), "sandbox_object.r");

    p.write(
        "main.hcl",
        &CBD_SPEC.replace("replace_on = \"1\"", "replace_on = \"2\""),
    );
    let run = p.ss(&["plan", "--detailed-exitcode"]);
    run.code(2)
        .contains("# sandbox_object.r must be replaced")
        .contains("create replacement and then destroy")
        .contains("# forces replacement");
    assert!(
        run.stdout.lines().any(|l| l
            .trim_start()
            .starts_with("+/- resource \"sandbox_object\"")),
        "the resource block is marked +/-\n{run}"
    );
    assert!(
        !run.stdout.contains("-/+"),
        "not destroy-then-create\n{run}"
    );
    assert_eq!(counts_of(&run), (1, 0, 1), "{run}");

    let run = p.ss(&["apply", "--auto-approve"]);
    run.success().no_panic();
    let created = run.stderr.find("sandbox_object.r: Creation complete");
    let destroying = run.stderr.find("sandbox_object.r: Destroying");
    assert!(
        matches!((created, destroying), (Some(c), Some(d)) if c < d),
        "the replacement is created before the old object is destroyed\n{run}"
    );
    let new = id_of(&p.state_list(), "sandbox_object.r");
    assert_ne!(new, old, "a replacement is a new object");
    let cloud = p.sandbox_list();
    assert!(cloud_has(&cloud, &new), "the replacement {new} exists");
    assert!(!cloud_has(&cloud, &old), "the old object {old} is deleted");
    assert_eq!(cloud.len(), 1, "{}", Json::from(cloud.clone()));
    p.ss(&["plan", "--detailed-exitcode"]).code(0);
}

const SMALL_SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

variable "x" {
  type    = string
  default = "one"
}

resource "sandbox_object" "a" {
  input = var.x
}

resource "sandbox_object" "b" {
  input = sandbox_object.a.id
}

output "greeting" {
  value = "hello"
}

output "info" {
  value = {
    input = sandbox_object.a.output
    count = 2
  }
}
"#;

#[test]
fn show_without_a_plan_prints_the_state() {
    let p = Project::new(&[("main.hcl", SMALL_SPEC)]);
    p.ss(&["show"]).success().contains("The state is empty.");
    p.ss(&["apply", "--auto-approve"]).success();
    let state = p.state_list();
    let run = p.ss(&["show"]);
    run.success()
        .contains("# sandbox_object.a:")
        .contains("# sandbox_object.b:")
        .contains(&id_of(&state, "sandbox_object.a"))
        .contains(&id_of(&state, "sandbox_object.b"))
        .contains("\"one\"")
        .contains("greeting")
        .contains("\"hello\"");
}

#[test]
fn show_a_saved_plan_as_json() {
    let p = Project::new(&[("main.hcl", SMALL_SPEC)]);
    p.ss(&["plan", "--out", "p.plan"]).success();
    let run = p.ss(&["show", "p.plan", "--json"]);
    run.success();
    let json = run.json();
    assert!(
        json.get("format_version").is_some(),
        "the JSON plan has format_version\n{run}"
    );
    let text = p.ss(&["show", "p.plan"]);
    text.success()
        .contains("# sandbox_object.a will be created")
        .contains("# sandbox_object.b will be created");
    assert_eq!(counts_of(&text), (2, 0, 0), "{text}");
}

#[test]
fn output_by_name_as_json() {
    let p = Project::new(&[("main.hcl", SMALL_SPEC)]);
    p.ss(&["apply", "--auto-approve"]).success();
    let run = p.ss(&["output", "greeting", "--json"]);
    run.success();
    assert_eq!(run.json(), Json::from("hello"), "{run}");
    let run = p.ss(&["output", "greeting"]);
    run.success();
    assert_eq!(run.stdout.trim(), "hello", "raw, without quotes\n{run}");
    let run = p.ss(&["output", "info", "--json"]);
    run.success();
    assert_eq!(
        run.json(),
        serde_json::json!({"input": "one", "count": 2}),
        "{run}"
    );
    let run = p.ss(&["output", "nope"]);
    run.code(1).no_panic().contains("nope");
}

#[test]
fn graph_has_an_edge_between_dependent_blocks() {
    let p = Project::new(&[("main.hcl", SMALL_SPEC)]);
    let run = p.ss(&["graph"]);
    run.success()
        .contains("\"sandbox_object.b\" -> \"sandbox_object.a\"");
    assert!(
        !run.stdout
            .contains("\"sandbox_object.a\" -> \"sandbox_object.b\""),
        "the edge goes from the dependent to its dependency only\n{run}"
    );
}

#[test]
fn help_texts_have_examples() {
    let p = Project::new(&[]);
    for args in [
        vec!["plan", "--help"],
        vec!["apply", "--help"],
        vec!["state", "mv", "--help"],
    ] {
        p.ss(&args).success().contains("Examples:");
    }
}

#[test]
fn top_level_help_has_examples() {
    let p = Project::new(&[]);
    p.ss(&["--help"]).success().contains("Examples");
}

#[test]
fn a_plan_for_another_directorys_state_is_refused() {
    let a = Project::new(&[("main.hcl", SMALL_SPEC)]);
    let b = Project::new(&[("main.hcl", SMALL_SPEC)]);
    a.ss(&["apply", "--auto-approve"]).success();
    b.ss(&["apply", "--auto-approve"]).success();
    let lineage = |p: &Project| {
        let state: Json = serde_json::from_str(&p.read("ss.state.json")).unwrap();
        state["lineage"]
            .as_str()
            .unwrap_or_else(|| panic!("no lineage in {state}"))
            .to_string()
    };
    let (lineage_a, lineage_b) = (lineage(&a), lineage(&b));
    assert_ne!(lineage_a, lineage_b, "every state has its own lineage");

    a.ss(&["plan", "--out", "a.plan", "--var", "x=two"])
        .success();
    let plan = a.path("a.plan");
    let plan = plan.to_str().unwrap();
    let state_b = b.read("ss.state.json");
    let cloud_b = b.sandbox_list();
    let run = b.ss(&["apply", plan]);
    run.code(1)
        .no_panic()
        .contains("stale")
        .contains(&lineage_a)
        .contains(&lineage_b);
    assert_eq!(b.read("ss.state.json"), state_b, "b's state is untouched");
    assert_eq!(b.sandbox_list(), cloud_b, "b's cloud is untouched");
    // The plan still fits the state it was made against.
    a.ss(&["apply", "a.plan"]).success();
}
