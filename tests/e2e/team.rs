//! Workspaces, import, encryption at rest, and `ss state pull | push | migrate |
//! migrate-encryption`, on the local backend (the shared backends are in `backends`).

use crate::util::{Project, files_under, id_of};

const SPEC: &str = r#"
provider "sandbox" {}

variable "pw" {
  type      = string
  default   = "hunter2-marker"
  sensitive = true
}

resource "sandbox_object" "distinctive_name" {
  input = "tenant-${ss.workspace}"
}

resource "sandbox_object" "secret_holder" {
  input = var.pw
}
"#;

fn project() -> Project {
    Project::new(&[("main.hcl", SPEC)])
}

#[test]
fn workspaces_have_their_own_state_and_objects() {
    let p = project();
    p.ss(&["apply", "--auto-approve"]).success();
    p.ss(&["workspace", "new", "acme"])
        .success()
        .contains("Created workspace `acme`");
    p.ss(&["workspace", "new", "acme"])
        .code(1)
        .contains("already exists");
    p.ss(&["apply", "--auto-approve", "--workspace", "acme"])
        .success();
    p.ss_env(&["workspace", "new", "globex"], &[]).success();
    p.ss_env(&["apply", "--auto-approve"], &[("SS_WORKSPACE", "globex")])
        .success();

    let list = p.ss(&["workspace", "list", "--json"]);
    list.success();
    assert_eq!(
        list.json(),
        serde_json::json!(["default", "acme", "globex"]),
        "{list}"
    );
    // Three tenants, three objects each named for its workspace: no adoption across them.
    let cloud = p.sandbox_list();
    assert_eq!(cloud.len(), 6, "{cloud:?}");
    let inputs: Vec<String> = cloud
        .iter()
        .filter_map(|o| o["attributes"]["input"].as_str().map(str::to_string))
        .filter(|i| i.starts_with("tenant-"))
        .collect();
    for w in ["default", "acme", "globex"] {
        assert!(inputs.contains(&format!("tenant-{w}")), "{inputs:?}");
    }

    // select is remembered in the spec directory; --workspace still wins.
    p.ss(&["workspace", "select", "acme"]).success();
    p.ss(&["workspace", "show"]).success().contains("acme");
    p.ss(&["workspace", "list"]).success().contains("* acme");
    let acme_ids = p.state_list();
    assert_eq!(acme_ids.len(), 2);
    p.ss(&["plan", "--detailed-exitcode", "--workspace", "globex"])
        .success();

    // A mistyped workspace provisions nothing and leaves nothing behind.
    p.ss(&["apply", "--auto-approve", "--workspace", "acmee"])
        .code(1)
        .contains("workspace `acmee` does not exist")
        .contains("ss workspace new acmee");
    assert!(!p.path("ss.state.d/acmee").exists());
    p.ss(&["workspace", "select", "nope"])
        .code(1)
        .contains("does not exist");
    p.ss(&["apply", "--workspace", "../x"])
        .code(1)
        .contains("invalid workspace name");

    // Delete is refused while resources are recorded, and works after destroy.
    p.ss(&["workspace", "delete", "acme"])
        .code(1)
        .contains("still records 2 resource(s)");
    p.ss(&["destroy", "--auto-approve"]).success();
    p.ss(&["workspace", "delete", "acme"]).success();
    p.ss(&["workspace", "show"]).success().contains("default");
    p.ss(&["workspace", "delete", "default"])
        .code(1)
        .contains("cannot be deleted");
    let list = p.ss(&["workspace", "list", "--json"]);
    assert_eq!(
        list.json(),
        serde_json::json!(["default", "globex"]),
        "{list}"
    );
    assert_eq!(p.sandbox_list().len(), 4);
}

#[test]
fn import_adopts_an_existing_object() {
    let p = project();
    p.ss(&["apply", "--auto-approve"]).success();
    let records = p.state_list();
    let id = id_of(&records, "sandbox_object.distinctive_name");
    p.ss(&["state", "rm", "sandbox_object.distinctive_name"])
        .success();
    p.ss(&["import", "sandbox_object.nope", &id])
        .code(1)
        .contains("declares no resource `sandbox_object.nope`");
    p.ss(&[
        "import",
        "sandbox_object.distinctive_name",
        "obj-0000000000",
    ])
    .code(1)
    .contains("cannot import");
    p.ss(&["import", "sandbox_object.distinctive_name", &id])
        .success()
        .contains("Imported sandbox_object");
    p.ss(&["import", "sandbox_object.distinctive_name", &id])
        .code(1)
        .contains("already managed");
    // Nothing to create: the object is managed again, and the cloud still holds two objects.
    p.ss(&["plan", "--detailed-exitcode"]).success();
    assert_eq!(p.sandbox_list().len(), 2);
}

#[test]
fn state_pull_and_push_keep_newer_work() {
    let p = project();
    p.ss(&["apply", "--auto-approve"]).success();
    let printed = p.ss(&["state", "pull"]);
    printed
        .success()
        .lacks("hunter2-marker", "the printed state")
        .contains("distinctive_name");
    let serial = printed.json()["serial"].as_u64().expect("serial");
    p.write("printed.json", &printed.stdout);
    p.ss(&["state", "push", "--force", "printed.json"])
        .code(1)
        .contains("sensitive values were removed");

    p.ss(&["state", "pull", "--out", "backup.json"]).success();
    let backup = p.read("backup.json");
    assert!(backup.contains("hunter2-marker"), "--out writes everything");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(p.path("backup.json"))
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The same serial does not continue the stored state.
    p.ss(&["state", "push", "backup.json"])
        .code(1)
        .contains("not newer than the stored serial");
    // A newer copy does.
    let mut newer: serde_json::Value = serde_json::from_str(&backup).expect("json");
    newer["serial"] = serde_json::json!(serial + 5);
    p.write("newer.json", &newer.to_string());
    p.ss(&["state", "push", "newer.json"]).success();
    let after = p.ss(&["state", "pull"]);
    assert_eq!(after.json()["serial"].as_u64(), Some(serial + 5), "{after}");
    // Another lineage needs --force, and then continues the stored one.
    let mut other = newer.clone();
    other["lineage"] = serde_json::json!("another-lineage");
    other["serial"] = serde_json::json!(1);
    p.write("other.json", &other.to_string());
    p.ss(&["state", "push", "other.json"])
        .code(1)
        .contains("belongs to another state");
    p.ss(&["state", "push", "--force", "other.json"]).success();
    let forced = p.ss(&["state", "pull"]).json();
    assert_eq!(forced["serial"].as_u64(), Some(serial + 6));
    assert_ne!(forced["lineage"], serde_json::json!("another-lineage"));
    p.ss(&["plan", "--detailed-exitcode"]).success();
}

#[test]
fn encrypted_state_journal_backup_and_plan_hold_no_plaintext() {
    let p = project();
    let key = [("SS_STATE_KEY", "correct horse battery staple")];
    p.ss_env(&["apply", "--auto-approve"], &key).success();
    p.ss_env(&["plan", "--out", "saved.plan"], &key).success();
    // A second apply leaves a backup; an interrupted one would leave a journal, which is
    // sealed line by line (covered by the state crate's encrypted conformance run).
    p.ss_env(
        &["apply", "--auto-approve", "--var", "pw=changed-marker"],
        &key,
    )
    .success();
    let stored: Vec<_> = files_under(&p.dir)
        .into_iter()
        .filter(|f| !f.starts_with(p.dir.join(".ss")) && !f.ends_with("main.hcl"))
        .collect();
    assert!(stored.len() >= 3, "state, backup, plan: {stored:?}");
    for file in &stored {
        let bytes = std::fs::read(file).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        for secret in ["hunter2-marker", "changed-marker", "distinctive_name"] {
            assert!(
                !text.contains(secret),
                "{} holds `{secret}` in plaintext",
                file.display()
            );
        }
    }
    p.ss_env(&["state", "list"], &key)
        .success()
        .contains("sandbox_object.distinctive_name");
    p.ss_env(&["plan"], &[("SS_STATE_KEY", "wrong")])
        .code(1)
        .contains("wrong key");
    p.ss(&["plan"])
        .code(1)
        .contains("it is encrypted and no key is set");
    p.ss(&["apply", "saved.plan"])
        .code(1)
        .contains("is encrypted; set SS_STATE_KEY");

    // Re-encrypt under a new key; the old one no longer opens it.
    p.ss_env(
        &["state", "migrate-encryption", "--old-key-env", "OLD_KEY"],
        &[
            ("OLD_KEY", "correct horse battery staple"),
            ("SS_STATE_KEY", "new passphrase"),
        ],
    )
    .success()
    .contains("encrypted with the current key");
    p.ss_env(
        &["plan", "--detailed-exitcode", "--var", "pw=changed-marker"],
        &[("SS_STATE_KEY", "new passphrase")],
    )
    .success();
    p.ss_env(&["plan"], &key).code(1).contains("wrong key");
    // And back to plaintext.
    p.ss_env(
        &["state", "migrate-encryption", "--old-key-env", "OLD_KEY"],
        &[("OLD_KEY", "new passphrase")],
    )
    .success()
    .contains("in plaintext");
    p.ss(&["plan", "--detailed-exitcode", "--var", "pw=changed-marker"])
        .success();
}

#[test]
fn encryption_block_names_the_key_variable() {
    let p = Project::new(&[(
        "main.hcl",
        &format!("ss {{\n  encryption {{ key_env = \"TENANT_KEY\" }}\n}}\n{SPEC}"),
    )]);
    p.ss(&["apply", "--auto-approve"])
        .code(1)
        .contains("TENANT_KEY is not set");
    p.ss_env(&["apply", "--auto-approve"], &[("TENANT_KEY", "k")])
        .success();
    let text = p.read("ss.state.json");
    assert!(text.starts_with("{\"ss_encrypted\":1"), "{text}");
    p.ss_env(&["plan", "--detailed-exitcode"], &[("TENANT_KEY", "k")])
        .success();
}

#[test]
fn migrate_copies_every_workspace() {
    let p = project();
    p.ss(&["apply", "--auto-approve"]).success();
    p.ss(&["workspace", "new", "acme"]).success();
    p.ss(&["apply", "--auto-approve", "--workspace", "acme"])
        .success();
    let target = p.dir.join("moved/ss.state.json");
    let target = target.to_str().expect("utf-8 path");
    p.ss(&["state", "migrate", "--to", target])
        .success()
        .contains("Copied 2 workspace(s)");
    // Migrating again is refused: nothing is copied over an existing state.
    p.ss(&["state", "migrate", "--to", target])
        .code(1)
        .contains("already has a state");
    // Point the spec at the copy: the same resources, no changes, in both workspaces.
    p.write(
        "main.hcl",
        &format!("ss {{\n  backend \"local\" {{ path = \"moved/ss.state.json\" }}\n}}\n{SPEC}"),
    );
    p.ss(&["plan", "--detailed-exitcode"]).success();
    p.ss(&["plan", "--detailed-exitcode", "--workspace", "acme"])
        .success();
    let list = p.ss(&["workspace", "list", "--json"]);
    assert_eq!(
        list.json(),
        serde_json::json!(["default", "acme"]),
        "{list}"
    );
}

#[test]
fn force_unlock_explains_local_locks() {
    let p = project();
    p.ss(&["apply", "--auto-approve"]).success();
    let run = p.ss(&["force-unlock", "0f0f"]);
    run.code(1).contains("OS file lock");
}

#[test]
fn bad_backend_settings_point_at_the_spec() {
    let p = Project::new(&[(
        "main.hcl",
        "ss {\n  backend \"s3\" {\n    bucket = var.b\n    lease = \"soon\"\n  }\n}\nprovider \"sandbox\" {}\n",
    )]);
    p.ss(&["validate"])
        .code(1)
        .contains("main.hcl:3:5")
        .contains("must be a literal")
        .contains("main.hcl:4:5")
        .contains("`lease` must be a duration")
        .contains("backend \"s3\" needs `key`");
    let p = Project::new(&[(
        "main.hcl",
        "ss {\n  backend \"postgres\" {}\n}\nprovider \"sandbox\" {}\n",
    )]);
    p.ss_env(&["plan"], &[])
        .code(1)
        .contains("SS_PG_CONN is not set");
}
