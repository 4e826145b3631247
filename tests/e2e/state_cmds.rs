//! `ss state list | show | mv | rm`: what the state records, how it is shown without secrets,
//! and how editing it changes the next plan (Terraform semantics).

use serde_json::Value as Json;

use crate::util::{Project, addresses, cloud_has, counts_of, id_of, str_field};

const SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

resource "network" "main" {
  zones = 1
}

resource "postgres" "db" {
  network = network.main.id
}

resource "sandbox_object" "a" {
  input = "alpha"
}

resource "sandbox_object" "b" {
  input = "beta"
}

output "db_password" {
  value     = postgres.db.password
  sensitive = true
}
"#;

/// A project with `SPEC` applied.
fn applied() -> Project {
    let p = Project::new(&[("main.hcl", SPEC)]);
    p.ss(&["apply", "--auto-approve"]).success();
    p
}

#[test]
fn list_as_text_and_json() {
    let p = applied();
    let records = p.state_list();
    let cloud = p.sandbox_list();
    for r in &records {
        for key in ["address", "type", "id"] {
            let value = str_field(r, key);
            assert!(!value.is_empty(), "empty {key} in {r}");
        }
        assert!(
            cloud_has(&cloud, str_field(r, "id")),
            "the id of {r} is a sandbox object: {}",
            Json::from(cloud.clone())
        );
    }
    let addrs = addresses(&records);
    for expected in ["sandbox_object.a", "sandbox_object.b"] {
        assert!(
            addrs.iter().any(|a| a == expected),
            "{expected} in {addrs:?}"
        );
    }
    let a = records
        .iter()
        .find(|r| str_field(r, "address") == "sandbox_object.a")
        .unwrap();
    assert_eq!(str_field(a, "type"), "sandbox_object");
    assert!(
        addrs.iter().any(|a| a.starts_with("postgres.db.")),
        "the component's native resources are listed: {addrs:?}"
    );

    let run = p.ss(&["state", "list"]);
    run.success();
    let mut lines: Vec<String> = run.stdout.lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(lines, addrs, "one address per line\n{run}");
}

#[test]
fn show_prints_attributes_and_hides_secrets() {
    let p = applied();
    let run = p.ss(&["state", "show", "sandbox_object.a"]);
    run.success()
        .contains("sandbox_object.a")
        .contains("\"alpha\"")
        .contains(&id_of(&p.state_list(), "sandbox_object.a"));

    let password = p.ss(&["output", "db_password"]);
    password.success();
    let password = password.stdout.trim().trim_matches('"').to_string();
    assert!(password.len() >= 8, "a generated password: {password:?}");

    let records = p.state_list();
    let primary = records
        .iter()
        .find(|r| str_field(r, "type") == "sandbox_pg_instance")
        .unwrap_or_else(|| panic!("no sandbox_pg_instance in {}", Json::from(records.clone())));
    let address = str_field(primary, "address");
    let run = p.ss(&["state", "show", address]);
    run.success()
        .contains(address)
        .contains("(sensitive value)")
        .lacks(&password, "the database password");
    assert!(
        run.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("password") && l.contains("(sensitive value)")),
        "the password attribute is listed as (sensitive value)\n{run}"
    );
}

#[test]
fn mv_then_renaming_the_block_changes_nothing() {
    let p = applied();
    let id = id_of(&p.state_list(), "sandbox_object.a");
    let run = p.ss(&["state", "mv", "sandbox_object.a", "sandbox_object.renamed"]);
    run.success().contains("sandbox_object.renamed");
    let records = p.state_list();
    assert_eq!(id_of(&records, "sandbox_object.renamed"), id);
    assert!(
        !addresses(&records).contains(&"sandbox_object.a".to_string()),
        "the old address is gone: {:?}",
        addresses(&records)
    );

    p.write(
        "main.hcl",
        &SPEC.replace(
            "resource \"sandbox_object\" \"a\"",
            "resource \"sandbox_object\" \"renamed\"",
        ),
    );
    let run = p.ss(&["plan", "--detailed-exitcode"]);
    run.code(0).contains("No changes.");
    assert!(cloud_has(&p.sandbox_list(), &id), "the object was kept");
}

#[test]
fn mv_without_renaming_the_block_replaces_nothing_but_plans_create_and_destroy() {
    let p = applied();
    p.ss(&["state", "mv", "sandbox_object.a", "sandbox_object.renamed"])
        .success();
    // The spec still says `a`: the moved record is an orphan to destroy, `a` a new object.
    let run = p.ss(&["plan", "--detailed-exitcode"]);
    run.code(2)
        .contains("# sandbox_object.a will be created")
        .contains("# sandbox_object.renamed will be destroyed");
    assert_eq!(counts_of(&run), (1, 0, 1), "{run}");
}

#[test]
fn rm_forgets_without_deleting() {
    let p = applied();
    let id = id_of(&p.state_list(), "sandbox_object.b");
    let run = p.ss(&["state", "rm", "sandbox_object.b"]);
    run.success().contains("Removed sandbox_object.b");
    let records = p.state_list();
    assert!(
        !addresses(&records).contains(&"sandbox_object.b".to_string()),
        "{:?}",
        addresses(&records)
    );
    assert!(
        cloud_has(&p.sandbox_list(), &id),
        "state rm leaves the cloud object {id} alone"
    );
    let run = p.ss(&["plan", "--detailed-exitcode"]);
    run.code(2).contains("# sandbox_object.b will be created");
    assert_eq!(counts_of(&run), (1, 0, 0), "{run}");
}

#[test]
fn unknown_addresses_are_errors() {
    let p = applied();
    let before = p.read("ss.state.json");
    let runs = [
        p.ss(&["state", "show", "sandbox_object.nope"]),
        p.ss(&["state", "rm", "sandbox_object.nope"]),
        p.ss(&["state", "mv", "sandbox_object.nope", "sandbox_object.other"]),
    ];
    for run in &runs {
        run.code(1)
            .no_panic()
            .contains("no resource at `sandbox_object.nope` in the state");
    }
    // Moving onto an address that is taken would lose a record.
    let run = p.ss(&["state", "mv", "sandbox_object.a", "sandbox_object.b"]);
    run.code(1)
        .no_panic()
        .contains("`sandbox_object.b` already exists");
    assert_eq!(
        p.read("ss.state.json"),
        before,
        "a failed state command writes nothing"
    );
}

#[test]
fn mv_and_rm_of_a_component_take_all_its_native_resources() {
    let p = applied();
    let before = p.state_list();
    let natives: Vec<String> = addresses(&before)
        .into_iter()
        .filter(|a| a.starts_with("postgres.db."))
        .collect();
    assert!(
        natives.len() >= 2,
        "postgres is several native resources: {natives:?}"
    );

    let run = p.ss(&["state", "mv", "postgres.db", "postgres.meta"]);
    run.success();
    let after = p.state_list();
    for old in &natives {
        let new = old.replacen("postgres.db.", "postgres.meta.", 1);
        assert_eq!(
            id_of(&after, &new),
            id_of(&before, old),
            "{old} moved to {new}\n{run}"
        );
    }
    assert!(
        !addresses(&after)
            .iter()
            .any(|a| a.starts_with("postgres.db.")),
        "nothing is left under postgres.db: {:?}",
        addresses(&after)
    );
    p.write(
        "main.hcl",
        &SPEC
            .replace("\"postgres\" \"db\"", "\"postgres\" \"meta\"")
            .replace("postgres.db.", "postgres.meta."),
    );
    p.ss(&["plan", "--detailed-exitcode"]).code(0);

    let cloud_before = p.sandbox_list();
    let run = p.ss(&["state", "rm", "postgres.meta"]);
    run.success();
    for old in &natives {
        let new = old.replacen("postgres.db.", "postgres.meta.", 1);
        run.contains(&format!("Removed {new}"));
    }
    assert!(
        !addresses(&p.state_list())
            .iter()
            .any(|a| a.starts_with("postgres.")),
        "{:?}",
        addresses(&p.state_list())
    );
    assert_eq!(p.sandbox_list(), cloud_before, "state rm deletes nothing");
    let run = p.ss(&["plan", "--detailed-exitcode"]);
    run.code(2);
    assert_eq!(counts_of(&run), (natives.len() as u64, 0, 0), "{run}");
}

#[test]
fn mv_to_another_block_type_is_refused() {
    let p = applied();
    let before = p.read("ss.state.json");
    let run = p.ss(&["state", "mv", "sandbox_object.a", "network.x"]);
    run.code(1).no_panic().contains("sandbox_object.a");
    assert_eq!(p.read("ss.state.json"), before, "the state is untouched");
}
