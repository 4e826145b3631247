//! Failures during apply and destroy: a failed resource stops its dependents but not the
//! independent branches, and `prevent_destroy` refuses a destroy before anything is deleted.

use serde_json::Value as Json;

use crate::util::{Project, addresses, location_of};

/// A subnet in a VPC that does not exist: the sandbox refuses to create it, as a real cloud
/// answers "InvalidVpcID.NotFound", and retrying cannot help.
const PARTIAL_SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

resource "sandbox_subnet" "bad" {
  vpc_id = "vpc-0000000000"
  cidr   = "10.0.1.0/24"
  zone   = "sandbox-1a"
}

resource "sandbox_object" "dependent" {
  input = sandbox_subnet.bad.id
}

resource "sandbox_object" "independent" {
  input = "fine"
}
"#;

#[test]
fn a_failure_skips_dependents_and_spares_independent_branches() {
    let p = Project::new(&[("main.hcl", PARTIAL_SPEC)]);
    let run = p.ss(&["apply", "--auto-approve"]);
    run.code(1).no_panic();
    assert!(
        run.stderr.lines().any(|l| l.contains("sandbox_subnet.bad")
            && l.contains("vpc-0000000000")
            && l.contains("does not exist")),
        "stderr names the failed address and why on one line\n{run}"
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("skipped") && l.contains("sandbox_object.dependent")),
        "the dependent is reported skipped\n{run}"
    );
    assert!(
        run.stderr.contains("1 error(s)"),
        "the summary counts the failures\n{run}"
    );
    assert!(
        !run.stderr
            .lines()
            .any(|l| l.contains("skipped") && l.contains("sandbox_object.independent")),
        "the independent object is not skipped\n{run}"
    );

    assert_eq!(
        addresses(&p.state_list()),
        ["sandbox_object.independent"],
        "only the independent object was created\n{run}"
    );
    let cloud = p.sandbox_list();
    assert_eq!(cloud.len(), 1, "{}", Json::from(cloud.clone()));
    assert_eq!(cloud[0]["type"], "sandbox_object", "{}", cloud[0]);

    // The next plan still wants the failed and skipped resources, and only them.
    let plan = p.ss(&["plan", "--detailed-exitcode"]);
    plan.code(2)
        .contains("# sandbox_subnet.bad will be created")
        .contains("# sandbox_object.dependent will be created");
    assert_eq!(crate::util::counts_of(&plan), (2, 0, 0), "{plan}");
}

const GUARDED_SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

resource "sandbox_object" "free" {
  input = "free"
}

resource "sandbox_object" "keep" {
  input = "precious"

  lifecycle {
    prevent_destroy = true
  }
}
"#;

#[test]
fn prevent_destroy_refuses_a_destroy_and_deletes_nothing() {
    let p = Project::new(&[("main.hcl", GUARDED_SPEC)]);
    p.ss(&["apply", "--auto-approve"]).success();
    let state_before = p.read("ss.state.json");
    let cloud_before = p.sandbox_list();
    assert_eq!(cloud_before.len(), 2);

    let run = p.ss(&["destroy", "--auto-approve"]);
    run.code(1)
        .no_panic()
        .contains("sandbox_object.keep")
        .contains("prevent_destroy")
        .contains(&location_of(
            "main.hcl",
            GUARDED_SPEC,
            "resource \"sandbox_object\" \"keep\"",
        ));
    assert!(
        !run.all().contains("Destroy complete"),
        "nothing may be destroyed\n{run}"
    );
    assert_eq!(p.sandbox_list(), cloud_before, "the cloud is untouched");
    assert_eq!(
        p.read("ss.state.json"),
        state_before,
        "the state is untouched"
    );

    // A forced replacement would destroy it too: the plan itself is refused.
    p.write(
        "main.hcl",
        &GUARDED_SPEC.replace(
            "input = \"precious\"",
            "input      = \"precious\"\n  replace_on = \"2\"",
        ),
    );
    let run = p.ss(&["plan"]);
    run.code(1)
        .no_panic()
        .contains("sandbox_object.keep")
        .contains("prevent_destroy")
        .contains("replace_on");
    assert_eq!(p.sandbox_list(), cloud_before, "the cloud is untouched");
}
