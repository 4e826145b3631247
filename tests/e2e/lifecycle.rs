//! End-to-end runs of the real `ss` binary on the sandbox cloud: apply, plan, update, replace,
//! drift, destroy, secrets, saved plans, confirmation, locking, fmt / validate / graph and the
//! Superset example.

use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::util::{Project, Run, plan_counts, repo_root, ss_process, str_field};

/// `base` followed by `--var K=V` for each of `vars`.
fn with_vars<'a>(base: &[&'a str], vars: &[&'a str]) -> Vec<&'a str> {
    let mut out = base.to_vec();
    for v in vars {
        out.push("--var");
        out.push(v);
    }
    out
}

/// The state record with `address`, or a failure listing the state.
#[track_caller]
fn record<'a>(state: &'a [Json], address: &str) -> &'a Json {
    state
        .iter()
        .find(|r| r.get("address").and_then(Json::as_str) == Some(address))
        .unwrap_or_else(|| panic!("no {address} in the state: {}", Json::from(state.to_vec())))
}

/// The sandbox object with cloud id `id`, if it exists.
fn object<'a>(cloud: &'a [Json], id: &str) -> Option<&'a Json> {
    cloud
        .iter()
        .find(|o| o.get("id").and_then(Json::as_str) == Some(id))
}

/// `(add, change, destroy)` of a plan's text, or a failure showing the run.
#[track_caller]
fn counts(run: &Run) -> (u64, u64, u64) {
    plan_counts(&run.stdout).unwrap_or_else(|| panic!("no `Plan: …` line\n{run}"))
}

const LIFECYCLE_SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

variable "x" {
  type    = string
  default = "one"
}

variable "generation" {
  type    = string
  default = "1"
}

resource "network" "main" {
  cidr  = "10.0.0.0/16"
  zones = 3
}

resource "postgres" "db" {
  network           = network.main.id
  high_availability = true
  read_replicas     = 2
  pooler            = true
}

resource "sandbox_object" "item" {
  input      = var.x
  replace_on = var.generation
}
"#;

#[test]
fn apply_update_replace_drift_destroy() {
    let p = Project::new(&[("main.hcl", LIFECYCLE_SPEC)]);

    p.ss(&["apply", "--auto-approve"]).success().no_panic();
    let state = p.state_list();
    let cloud = p.sandbox_list();
    for r in &state {
        let id = str_field(r, "id");
        assert!(
            object(&cloud, id).is_some(),
            "state record {r} has no object in the sandbox: {}",
            Json::from(cloud.clone())
        );
    }
    let under = |prefix: &str| {
        state
            .iter()
            .filter(|r| str_field(r, "address").starts_with(prefix))
            .count()
    };
    assert!(
        under("postgres.db.") >= 4,
        "postgres HA with 2 replicas and a pooler is at least 4 native resources: {}",
        Json::from(state.clone())
    );
    assert!(
        under("network.main.") >= 4,
        "a network over 3 zones is at least 4 native resources: {}",
        Json::from(state.clone())
    );
    let first_id = str_field(record(&state, "sandbox_object.item"), "id").to_string();

    // Nothing to do right after an apply.
    p.ss(&["plan", "--detailed-exitcode"]).code(0);

    // A variable change is an in-place update of exactly one resource.
    let vars = ["x=new"];
    let run = p.ss(&with_vars(&["plan", "--detailed-exitcode"], &vars));
    run.code(2)
        .contains("sandbox_object.item")
        .contains("will be updated in-place")
        .contains("1 to change");
    assert_eq!(counts(&run), (0, 1, 0), "{run}");
    p.ss(&with_vars(&["apply", "--auto-approve"], &vars))
        .success();
    p.ss(&with_vars(&["plan", "--detailed-exitcode"], &vars))
        .code(0);
    let state = p.state_list();
    assert_eq!(
        str_field(record(&state, "sandbox_object.item"), "id"),
        first_id,
        "an in-place update keeps the cloud id"
    );

    // A change of a force-new attribute replaces the resource.
    let vars = ["x=new", "generation=2"];
    let run = p.ss(&with_vars(&["plan", "--detailed-exitcode"], &vars));
    run.code(2)
        .contains("sandbox_object.item")
        .contains("must be replaced")
        .contains("# forces replacement");
    assert_eq!(counts(&run), (1, 0, 1), "{run}");
    p.ss(&with_vars(&["apply", "--auto-approve"], &vars))
        .success();
    let state = p.state_list();
    let item_id = str_field(record(&state, "sandbox_object.item"), "id").to_string();
    assert_ne!(item_id, first_id, "a replacement gets a new cloud id");
    let cloud = p.sandbox_list();
    assert!(
        object(&cloud, &first_id).is_none(),
        "the replaced object {first_id} is gone from the sandbox"
    );
    let item = object(&cloud, &item_id).unwrap_or_else(|| {
        panic!(
            "{item_id} not in the sandbox: {}",
            Json::from(cloud.clone())
        )
    });
    assert_eq!(item["attributes"]["input"], "new", "{item}");

    // Drift made out of band is reported by `ss diff` and repaired by `ss apply`.
    p.ss(&["sandbox", "set", &item_id, "input=\"drifted\""])
        .success();
    let cloud = p.sandbox_list();
    let item = object(&cloud, &item_id).unwrap_or_else(|| panic!("{item_id} vanished"));
    assert_eq!(item["attributes"]["input"], "drifted", "{item}");
    p.ss(&with_vars(&["diff", "--detailed-exitcode"], &vars))
        .code(2)
        .contains("sandbox_object.item");
    p.ss(&with_vars(&["apply", "--auto-approve"], &vars))
        .success();
    p.ss(&with_vars(&["diff", "--detailed-exitcode"], &vars))
        .code(0);
    let cloud = p.sandbox_list();
    let item = object(&cloud, &item_id).unwrap_or_else(|| panic!("{item_id} vanished"));
    assert_eq!(item["attributes"]["input"], "new", "{item}");

    // Destroy leaves an empty state and an empty cloud.
    p.ss(&["destroy", "--auto-approve"]).success().no_panic();
    assert_eq!(p.state_list(), Vec::<Json>::new(), "state after destroy");
    assert_eq!(
        p.sandbox_list(),
        Vec::<Json>::new(),
        "sandbox after destroy"
    );
}

const SECRET_SPEC: &str = r#"
provider "sandbox" {
  latency = "0s"
}

variable "storage" {
  type    = number
  default = 100
}

resource "network" "main" {}

resource "postgres" "db" {
  network    = network.main.id
  storage_gb = var.storage
}

output "db_password" {
  value     = postgres.db.password
  sensitive = true
}

output "db_endpoint" {
  value = postgres.db.endpoint
}
"#;

#[test]
fn the_generated_password_never_leaks() {
    let p = Project::new(&[("main.hcl", SECRET_SPEC)]);
    let trace = [("SS_LOG", "trace")];
    let mut runs: Vec<Run> = Vec::new();

    let run = p.ss(&["plan"]);
    run.success();
    runs.push(run);
    let run = p.ss(&["plan", "--json"]);
    run.success();
    runs.push(run);
    let run = p.ss_env(&["apply", "--auto-approve"], &trace);
    run.success();
    assert!(
        run.stderr.contains("TRACE") || run.stderr.contains("DEBUG"),
        "SS_LOG=trace should turn logging on\n{run}"
    );
    runs.push(run);

    // Asked for by name, a sensitive output is printed (possibly quoted, as Terraform does).
    let named = p.ss(&["output", "db_password"]);
    named.success();
    let password = named.stdout.trim().trim_matches('"').to_string();
    assert!(
        password.len() >= 8 && !password.contains("sensitive"),
        "`ss output db_password` should print the generated password\n{named}"
    );

    let run = p.ss(&["output"]);
    run.success()
        .contains("(sensitive value)")
        .contains("db_endpoint");
    runs.push(run);
    let run = p.ss(&["output", "--json"]);
    run.success();
    run.json();
    runs.push(run);

    // Plans that show the database, both unchanged and updated (which renders its attributes).
    for args in [
        vec!["plan"],
        vec!["plan", "--json"],
        vec!["plan", "--var", "storage=200"],
        vec!["plan", "--json", "--var", "storage=200"],
        vec!["plan", "--out", "p.plan", "--var", "storage=200"],
        vec!["show", "p.plan"],
        vec!["show", "p.plan", "--json"],
        vec!["diff"],
        vec!["diff", "--json"],
        vec!["state", "list", "--json"],
    ] {
        let run = p.ss_env(&args, &trace);
        run.success();
        runs.push(run);
    }
    for r in p.state_list() {
        let address = str_field(&r, "address");
        if address.starts_with("postgres.db") {
            let run = p.ss(&["state", "show", address]);
            run.success();
            runs.push(run);
        }
    }
    let run = p.ss_env(&["apply", "--auto-approve", "--var", "storage=200"], &trace);
    run.success();
    runs.push(run);
    let run = p.ss_env(&["destroy", "--auto-approve"], &trace);
    run.success();
    runs.push(run);

    for run in &runs {
        run.no_panic().lacks(&password, "the generated password");
    }
}

#[test]
fn a_saved_plan_is_applied_once_and_a_stale_one_refused() {
    let spec = r#"
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
"#;
    let p = Project::new(&[("main.hcl", spec)]);
    p.ss(&["apply", "--auto-approve"]).success();

    p.ss(&["plan", "--out", "old.plan", "--var", "x=two"])
        .success();
    p.ss(&["plan", "--out", "new.plan", "--var", "x=three"])
        .success();
    assert!(p.path("new.plan").is_file(), "--out writes the plan file");

    // A saved plan was reviewed already: applying it needs no confirmation.
    p.ss(&["apply", "new.plan"]).success();
    let state = p.state_list();
    let id = str_field(record(&state, "sandbox_object.a"), "id").to_string();
    let input = |p: &Project| {
        let cloud = p.sandbox_list();
        object(&cloud, &id)
            .unwrap_or_else(|| panic!("{id} not in the sandbox"))["attributes"]["input"]
            .clone()
    };
    assert_eq!(input(&p), "three");

    // old.plan was made against the state before new.plan's apply.
    let run = p.ss(&["apply", "old.plan"]);
    run.code(1).no_panic();
    let text = run.all().to_lowercase();
    assert!(
        text.contains("stale") || text.contains("serial"),
        "the refusal should say the plan is stale (older serial)\n{run}"
    );
    assert_eq!(input(&p), "three", "a refused plan changes nothing");
    p.ss(&["plan", "--detailed-exitcode", "--var", "x=three"])
        .code(0);
}

#[test]
fn apply_without_a_tty_needs_auto_approve() {
    let spec = r#"
provider "sandbox" {
  latency = "0s"
}

resource "network" "main" {}

resource "sandbox_object" "a" {
  input = network.main.id
}
"#;
    let p = Project::new(&[("main.hcl", spec)]);
    // Even a "yes" on a pipe is not a confirmation: only a terminal can confirm.
    let run = Run::of(
        p.cmd(&["apply"]).write_stdin("yes\n"),
        "echo yes | ss apply".to_string(),
    );
    run.code(1).no_panic().contains("--auto-approve");
    assert_eq!(p.sandbox_list(), Vec::<Json>::new(), "nothing was created");
    assert_eq!(p.state_list(), Vec::<Json>::new(), "nothing was recorded");

    // The same holds for destroy.
    p.ss(&["apply", "--auto-approve"]).success();
    let before = p.sandbox_list();
    assert!(!before.is_empty());
    let run = Run::of(
        p.cmd(&["destroy"]).write_stdin("yes\n"),
        "echo yes | ss destroy".to_string(),
    );
    run.code(1).no_panic();
    assert_eq!(
        p.sandbox_list().len(),
        before.len(),
        "nothing was destroyed"
    );
}

const SLOW_SPEC: &str = r#"
provider "sandbox" {}

resource "sandbox_object" "slow" {
  input          = "x"
  create_latency = "5s"
}
"#;

/// Starts `ss apply --auto-approve` on a slow object and waits until it holds the state lock.
fn start_slow_apply(p: &Project) -> std::process::Child {
    let mut child = ss_process(&p.dir, &p.cloud)
        .args(["apply", "--auto-approve"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start ss apply");
    let lock = p.path("ss.state.json.lock");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lock.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "ss apply ended ({status}) before taking the lock\n--- stdout ---\n{}\n--- stderr ---\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(Instant::now() < deadline, "no lock file after 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The file is created just before it is locked.
    std::thread::sleep(Duration::from_millis(200));
    child
}

#[test]
fn a_second_run_fails_fast_naming_the_lock_holder() {
    let p = Project::new(&[("main.hcl", SLOW_SPEC)]);
    let child = start_slow_apply(&p);
    let holder = child.id().to_string();

    let run = p.ss(&["plan"]);
    let first = child.wait_with_output().expect("wait for the first apply");
    let first_text = format!(
        "--- first apply: {:?} ---\n{}\n{}",
        first.status,
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        run.code,
        Some(1),
        "the second run must fail\n{run}\n{first_text}"
    );
    assert!(
        run.elapsed < Duration::from_secs(2),
        "the second run must fail within a second or so, took {:?}\n{run}",
        run.elapsed
    );
    let text = run.stderr.to_lowercase();
    assert!(
        text.contains("locked") && text.contains("pid") && text.contains(&holder),
        "the error must say the state is locked and name the holder (pid {holder})\n{run}"
    );
    assert!(
        first.status.success(),
        "the first apply must succeed\n{first_text}"
    );
    p.ss(&["plan", "--detailed-exitcode"]).code(0);
}

#[test]
fn the_lock_is_released_when_its_holder_dies() {
    let p = Project::new(&[("main.hcl", SLOW_SPEC)]);
    let mut child = start_slow_apply(&p);
    child.kill().expect("kill the first apply");
    child.wait().expect("reap the first apply");

    let run = p.ss(&["plan"]);
    run.success().no_panic();
    assert!(
        !run.stderr.to_lowercase().contains("locked"),
        "a dead holder's lock must not block\n{run}"
    );
}

#[test]
fn fmt_check_then_fix() {
    let messy = "provider \"sandbox\" {\nlatency=\"0s\"\n}\nresource \"sandbox_object\" \"a\" {\n    input=\"x\"\n  replace_on    =   \"y\"\n}\n";
    let p = Project::new(&[("main.hcl", messy)]);

    let run = p.ss(&["fmt", "--check"]);
    assert_ne!(
        run.code,
        Some(0),
        "--check must fail on a messy file\n{run}"
    );
    run.no_panic().contains("main.hcl");
    assert_eq!(p.read("main.hcl"), messy, "--check must not rewrite");

    p.ss(&["fmt"]).success();
    let tidy = p.read("main.hcl");
    assert_ne!(tidy, messy, "fmt must rewrite a messy file");
    assert!(
        tidy.contains("  input      = \"x\"") && tidy.contains("  replace_on = \"y\""),
        "attributes are indented and their `=` aligned:\n{tidy}"
    );
    p.ss(&["fmt", "--check"]).success();
    p.ss(&["fmt"]).success();
    assert_eq!(p.read("main.hcl"), tidy, "fmt is idempotent");
    p.ss(&["validate"]).success();
}

#[test]
fn the_example_validates_and_is_formatted() {
    let example = repo_root().join("examples").join("superset-sandbox");
    let before = crate::util::files_under(&example);
    let p = Project::new(&[]);
    let runs: [&[&str]; 2] = [
        &["validate", "examples/superset-sandbox"],
        &["fmt", "--check", "examples/superset-sandbox"],
    ];
    for args in runs {
        let mut cmd = crate::util::ss_command(&repo_root(), &p.cloud);
        cmd.args(args);
        Run::of(&mut cmd, format!("ss {}", args.join(" ")))
            .success()
            .no_panic();
    }
    assert_eq!(
        crate::util::files_under(&example),
        before,
        "validate and fmt --check write nothing"
    );
}

#[test]
fn graph_prints_dot() {
    let spec = r#"
provider "sandbox" {
  latency = "0s"
}

resource "network" "main" {}

resource "postgres" "db" {
  network = network.main.id
}
"#;
    let p = Project::new(&[("main.hcl", spec)]);
    let run = p.ss(&["graph"]);
    run.success().no_panic();
    assert!(run.stdout.trim_start().starts_with("digraph"), "{run}");
    run.contains("network.main")
        .contains("postgres.db")
        .contains("->");
}

#[test]
fn the_example_plans_the_whole_stack() {
    let p = Project::copy_of(&repo_root().join("examples").join("superset-sandbox"));
    let run = p.ss(&["plan", "--detailed-exitcode"]);
    run.code(2).no_panic();
    let (add, change, destroy) = counts(&run);
    assert!(
        add >= 20,
        "the 10k stack is at least 20 native resources\n{run}"
    );
    assert_eq!((change, destroy), (0, 0), "{run}");
    // Superset itself is part of the stack: its Deployments, its init Job and its broker.
    run.contains("superset.app.sandbox_k8s_object.web_deployment")
        .contains("superset.app.sandbox_k8s_object.init_job")
        .contains("redis.broker.sandbox_redis.redis");
    let json = p.ss(&["plan", "--json"]);
    json.success();
    assert!(json.json().get("format_version").is_some(), "{json}");
}

#[test]
fn the_example_applies_scales_and_destroys() {
    let p = Project::copy_of(&repo_root().join("examples").join("superset-sandbox"));
    // Every command of this test sees the same variables; the environment is how `ss destroy`
    // gets them too.
    let fast = [("SS_VAR_sandbox_latency", "0s")];
    let planned = p.ss_env(&["plan"], &fast);
    planned.success();
    let (add, _, _) = counts(&planned);
    p.ss_env(&["apply", "--auto-approve"], &fast)
        .success()
        .no_panic();
    let state = p.state_list();
    assert_eq!(
        state.len() as u64,
        add,
        "the state holds every planned resource: {}",
        Json::from(state.clone())
    );
    p.ss(&["output", "superset_url"])
        .success()
        .contains("https://");
    p.ss_env(&["plan", "--detailed-exitcode"], &fast).code(0);

    // Twice the users: the node pools grow in place, nothing is replaced.
    let run = p.ss_env(
        &["plan", "--detailed-exitcode", "--var", "users=20000"],
        &fast,
    );
    run.code(2)
        .contains("will be updated in-place")
        .contains("kubernetes_cluster.superset")
        // The application follows: the web HPA's bounds change in place.
        .contains("superset.app.sandbox_k8s_object.web_hpa will be updated in-place");
    let (add, change, destroy) = counts(&run);
    assert!(add == 0 && destroy == 0 && change >= 1, "{run}");

    p.ss_env(&["destroy", "--auto-approve"], &fast)
        .success()
        .no_panic();
    assert_eq!(p.state_list(), Vec::<Json>::new(), "state after destroy");
    assert_eq!(
        p.sandbox_list(),
        Vec::<Json>::new(),
        "sandbox after destroy"
    );
}
