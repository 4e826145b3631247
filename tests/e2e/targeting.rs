//! `--target` and `--exclude`: a targeted plan holds the target and what it depends on, an
//! excluded address takes its dependents with it, and a targeted apply leaves the rest for the
//! next full plan.

use serde_json::Value as Json;

use crate::util::{Project, Run, addresses, counts_of};

const SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

resource "sandbox_object" "a" {
  input = "first"
}

resource "sandbox_object" "b" {
  input = sandbox_object.a.id
}

resource "sandbox_object" "c" {
  input = "independent"
}
"#;

/// Whether the plan text announces that `address` will be created.
fn creates(run: &Run, address: &str) -> bool {
    run.stdout.contains(&format!("# {address} will be created"))
}

/// Asserts which of a, b and c the plan creates.
#[track_caller]
fn assert_creates(run: &Run, expected: &[&str]) {
    for name in ["a", "b", "c"] {
        let address = format!("sandbox_object.{name}");
        let wanted = expected.contains(&address.as_str());
        assert_eq!(
            creates(run, &address),
            wanted,
            "{address} should {}be in the plan\n{run}",
            if wanted { "" } else { "not " }
        );
    }
    assert_eq!(counts_of(run), (expected.len() as u64, 0, 0), "{run}");
}

#[test]
fn a_target_brings_its_dependencies_and_nothing_else() {
    let p = Project::new(&[("main.hcl", SPEC)]);
    let run = p.ss(&["plan", "--target", "sandbox_object.b"]);
    run.success().no_panic();
    assert_creates(&run, &["sandbox_object.a", "sandbox_object.b"]);

    let run = p.ss(&[
        "plan",
        "--target",
        "sandbox_object.c",
        "--detailed-exitcode",
    ]);
    run.code(2);
    assert_creates(&run, &["sandbox_object.c"]);
}

#[test]
fn an_exclude_drops_the_address_and_its_dependents() {
    let p = Project::new(&[("main.hcl", SPEC)]);
    let run = p.ss(&["plan", "--exclude", "sandbox_object.a"]);
    run.success().no_panic();
    assert_creates(&run, &["sandbox_object.c"]);

    let run = p.ss(&["plan", "--exclude", "sandbox_object.b"]);
    run.success();
    assert_creates(&run, &["sandbox_object.a", "sandbox_object.c"]);
}

#[test]
fn a_targeted_apply_creates_only_the_target_and_a_full_plan_the_rest() {
    let p = Project::new(&[("main.hcl", SPEC)]);
    let run = p.ss(&["apply", "--target", "sandbox_object.b", "--auto-approve"]);
    run.success().no_panic();
    assert_eq!(
        addresses(&p.state_list()),
        ["sandbox_object.a", "sandbox_object.b"],
        "after a targeted apply\n{run}"
    );
    assert_eq!(
        p.sandbox_list().len(),
        2,
        "the sandbox holds only the targeted objects"
    );

    let run = p.ss(&["plan", "--detailed-exitcode"]);
    run.code(2);
    assert_creates(&run, &["sandbox_object.c"]);

    p.ss(&["apply", "--auto-approve"]).success();
    assert_eq!(
        addresses(&p.state_list()),
        ["sandbox_object.a", "sandbox_object.b", "sandbox_object.c"]
    );
    p.ss(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn a_targeted_destroy_removes_the_target_and_its_dependents() {
    let p = Project::new(&[("main.hcl", SPEC)]);
    p.ss(&["apply", "--auto-approve"]).success();
    let run = p.ss(&["destroy", "--target", "sandbox_object.a", "--auto-approve"]);
    run.success().no_panic();
    assert_eq!(
        addresses(&p.state_list()),
        ["sandbox_object.c"],
        "destroying a also destroys b, which depends on it\n{run}"
    );
    let cloud = p.sandbox_list();
    assert_eq!(cloud.len(), 1, "{}", Json::from(cloud.clone()));
}

const COUNT_SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

resource "sandbox_object" "n" {
  count = 3
  input = "item-${count.index}"
}

resource "sandbox_object" "after" {
  input = sandbox_object.n[1].id
}
"#;

#[test]
fn an_instance_can_be_targeted() {
    let p = Project::new(&[("main.hcl", COUNT_SPEC)]);
    let run = p.ss(&["apply", "--auto-approve", "--target", "sandbox_object.n[1]"]);
    run.success().no_panic();
    assert_eq!(
        addresses(&p.state_list()),
        ["sandbox_object.n[1]"],
        "only the targeted instance\n{run}"
    );
    // Dependencies are between blocks, as in Terraform: a reference to one instance of a
    // counted block depends on the whole block.
    let run = p.ss(&["plan", "--target", "sandbox_object.after"]);
    run.success()
        .contains("# sandbox_object.n[0] will be created")
        .contains("# sandbox_object.n[2] will be created")
        .contains("# sandbox_object.after will be created");
    assert_eq!(counts_of(&run), (3, 0, 0), "{run}");
}
