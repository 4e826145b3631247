//! Planner fixture tests: spec + prior state → expected plan.
//!
//! Every directory under `tests/fixtures/` is one case:
//! - `main.hcl`: the spec that is planned (a comment at its top says what the case shows);
//! - `prior.hcl` (optional): a spec planned and applied first, for real, against the sandbox
//!   cloud of the case; its state is the prior state `main.hcl` is planned against;
//! - `prior.vars`, `vars` (optional): `K=V` lines, given as `--var K=V` to each spec;
//! - `drift` (optional): `ADDRESS KEY=VALUE` lines, applied to the cloud objects after the
//!   prior apply as `ss sandbox set` does, and `ADDRESS deleted` lines (deleted out of band);
//! - `args` (optional): `--target ADDR`, `--exclude ADDR`, `--refresh=false`, `--destroy`;
//! - `expected`: the plan rendered by `render::plan`, or the diagnostics when planning fails.
//!
//! `UPDATE_FIXTURES=1 cargo test -p planner --test plans` rewrites the `expected` files; read
//! every rewritten file before committing it: it must be what Terraform would plan.
//!
//! Beyond the text, every case checks that no sensitive value reaches the rendered plan, and
//! that applying a full plan converges: a re-plan afterwards changes nothing (for a destroy,
//! the state and the cloud are empty).

mod harness;
mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use planner::plan::{Action, PlanMode};
use planner::{PlanOptions, walk};

use harness::{StepError, Workdir, plan_options};
use render::Redactions;

/// The issue asks for at least this many fixture cases.
const MIN_CASES: usize = 15;

/// `tests/<name>`: where the cases are.
fn cases_root(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

fn read_optional(dir: &Path, name: &str) -> Result<Option<String>, String> {
    match std::fs::read_to_string(dir.join(name)) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("reading {name}: {e}")),
    }
}

/// Non-empty lines that are not `#` comments.
fn lines(text: Option<&str>) -> Vec<String> {
    text.unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn vars(dir: &Path, name: &str) -> Result<Vec<(String, String)>, String> {
    lines(read_optional(dir, name)?.as_deref())
        .into_iter()
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("{name}: expected K=V, got {l:?}"))
        })
        .collect()
}

/// An out-of-band change to the cloud, made after the prior apply.
enum Drift {
    /// `ADDRESS KEY=VALUE`: one attribute edited, as `ss sandbox set` does.
    Set(String, String, String),
    /// `ADDRESS deleted`: the object is gone.
    Deleted(String),
}

/// One parsed fixture directory.
struct Case {
    name: String,
    main: String,
    prior: Option<String>,
    prior_vars: Vec<(String, String)>,
    vars: Vec<(String, String)>,
    drift: Vec<Drift>,
    opts: PlanOptions,
}

impl Case {
    fn read(dir: &Path) -> Result<Case, String> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .ok_or("a case directory needs a name")?;
        let main = read_optional(dir, "main.hcl")?.ok_or("main.hcl is missing")?;
        let drift = lines(read_optional(dir, "drift")?.as_deref())
            .into_iter()
            .map(|l| {
                let usage = "drift: ADDRESS KEY=VALUE or ADDRESS deleted";
                let (addr, edit) = l.split_once(' ').ok_or(usage)?;
                Ok(match edit.trim() {
                    "deleted" => Drift::Deleted(addr.to_string()),
                    kv => {
                        let (k, v) = kv.split_once('=').ok_or(usage)?;
                        Drift::Set(addr.to_string(), k.to_string(), v.to_string())
                    }
                })
            })
            .collect::<Result<_, &str>>()?;
        Ok(Case {
            main,
            prior: read_optional(dir, "prior.hcl")?,
            prior_vars: vars(dir, "prior.vars")?,
            vars: vars(dir, "vars")?,
            drift,
            opts: plan_options(&lines(read_optional(dir, "args")?.as_deref()))?,
            name,
        })
    }
}

/// Plans the case and returns the text to compare with `expected`, after checking the
/// invariants every case must hold.
async fn run(case: &Case) -> Result<String, String> {
    let work = Workdir::new(&case.name).map_err(fail("setup"))?;
    if let Some(prior) = &case.prior {
        work.write_spec(prior).map_err(fail("prior"))?;
        work.converge(&case.prior_vars)
            .await
            .map_err(fail("applying prior.hcl"))?;
    }
    let state = work.state().await.map_err(fail("state"))?;
    for d in &case.drift {
        let st = state.as_ref().ok_or("drift needs a prior state")?;
        match d {
            Drift::Set(addr, key, value) => work.drift(st, addr, key, value),
            Drift::Deleted(addr) => work.delete_out_of_band(st, addr).await,
        }
        .map_err(fail("drift"))?;
    }
    work.write_spec(&case.main).map_err(fail("main"))?;
    let engine = match work.engine(&case.vars, state.as_ref()) {
        Ok(e) => e,
        Err(StepError::Spec(d, s)) => return Ok(render::diagnostics(&d, &s)),
        Err(e) => return Err(fail("engine")(e)),
    };
    let plan = match work.plan(&engine, state.as_ref(), &case.opts).await {
        Ok(p) => p,
        Err(StepError::Spec(d, s)) => return Ok(render::diagnostics(&d, &s)),
        Err(e) => return Err(fail("plan")(e)),
    };
    let text = render::plan(&plan, &Redactions::from_state(state.as_ref()));
    let mut secrets = Vec::new();
    render::secrets(&plan, state.as_ref(), &mut secrets);
    if let Some(s) = secrets.iter().find(|s| text.contains(s.as_str())) {
        let line = text
            .lines()
            .find(|l| l.contains(s.as_str()))
            .unwrap_or_default();
        return Err(format!(
            "a sensitive value is in the plan text, on this line: {}",
            line.replace(s.as_str(), "<SENSITIVE>")
        ));
    }
    let full = case.opts.targets.is_empty() && case.opts.excludes.is_empty();
    if full && case.opts.refresh {
        let mode = plan.mode;
        work.apply(engine, &plan, state)
            .await
            .map_err(fail("applying the plan"))?;
        check_converged(&work, case, mode).await?;
    }
    Ok(text)
}

/// After a full apply, the cloud matches the spec: a re-plan has nothing to do, and the state
/// and the cloud hold the same objects (nothing at all after a destroy).
async fn check_converged(work: &Workdir, case: &Case, mode: PlanMode) -> Result<(), String> {
    let state = work.state().await.map_err(fail("state"))?;
    let in_state: BTreeMap<String, String> = state
        .iter()
        .flat_map(|s| &s.resources)
        .map(|r| (r.id.clone(), r.type_name.clone()))
        .collect();
    let in_cloud = work.cloud_objects().map_err(fail("cloud"))?;
    if in_state != in_cloud {
        return Err(format!(
            "after apply, state and cloud differ:\n  state: {in_state:?}\n  cloud: {in_cloud:?}"
        ));
    }
    if mode == PlanMode::Destroy {
        return match in_cloud.is_empty() {
            true => Ok(()),
            false => Err(format!("objects left after destroy: {in_cloud:?}")),
        };
    }
    let engine = work
        .engine(&case.vars, state.as_ref())
        .map_err(fail("re-plan engine"))?;
    let again = work
        .plan(&engine, state.as_ref(), &PlanOptions::default())
        .await
        .map_err(fail("re-plan"))?;
    if again.has_changes() || !again.drift.is_empty() {
        return Err(format!(
            "a re-plan after apply is not empty:\n{}",
            render::plan(&again, &Redactions::from_state(state.as_ref()))
        ));
    }
    Ok(())
}

/// Turns a step error into a failure message naming the step.
fn fail(step: &'static str) -> impl Fn(StepError) -> String {
    move |e| format!("{step}: {}", e.describe())
}

fn case_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs every case under `tests/<root>` (only those whose name contains `$FIXTURE` when it
/// is set) and fails with all the differences at once.
fn run_cases(root: &str, min_cases: usize) {
    let update = std::env::var_os("UPDATE_FIXTURES").is_some_and(|v| v == "1");
    let only = std::env::var("FIXTURE").ok();
    let root = cases_root(root);
    let dirs = case_dirs(&root);
    assert!(
        dirs.len() >= min_cases,
        "expected at least {min_cases} cases under {}, found {}",
        root.display(),
        dirs.len()
    );
    let rt = runtime();
    let mut failures = Vec::new();
    let mut ran = 0;
    for dir in &dirs {
        let case = match Case::read(dir) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        if only
            .as_ref()
            .is_some_and(|o| !case.name.contains(o.as_str()))
        {
            continue;
        }
        ran += 1;
        let actual = match rt.block_on(run(&case)) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{}: {e}", case.name));
                continue;
            }
        };
        let path = dir.join("expected");
        if update {
            std::fs::write(&path, &actual).expect("writing expected");
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{}: the plan differs from `expected` (UPDATE_FIXTURES=1 rewrites it)\n--- expected\n{expected}--- actual\n{actual}",
                case.name,
            ));
        }
    }
    assert!(ran > 0, "no case matched FIXTURE={only:?}");
    assert!(
        failures.is_empty(),
        "{} of {ran} fixture case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn fixtures() {
    run_cases("fixtures", MIN_CASES);
}

/// Applies the 10,000-user reference example and checks the state it leaves: every native
/// resource exactly once, each with the dependencies the plan gave it and an object in the
/// cloud, and a re-plan that is entirely no-op.
#[test]
fn apply_records_every_native_once() {
    let rt = runtime();
    rt.block_on(async {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/superset-sandbox");
        let work = Workdir::new("superset").expect("workdir");
        work.copy_spec_dir(&example).expect("copy example");
        let vars = vec![("sandbox_latency".to_string(), "0s".to_string())];
        let engine = work
            .engine(&vars, None)
            .map_err(|e| e.describe())
            .expect("engine");
        let plan = work
            .plan(&engine, None, &PlanOptions::default())
            .await
            .map_err(|e| e.describe())
            .expect("plan");
        assert!(plan.changes.iter().all(|c| c.action == Action::Create));
        let report = work
            .apply(engine, &plan, None)
            .await
            .map_err(|e| e.describe())
            .expect("apply");
        let state = work
            .state()
            .await
            .expect("state")
            .expect("a state after apply");
        assert_eq!(state, report.state, "the report carries the saved state");

        let addresses: Vec<&str> = state.resources.iter().map(|r| r.address.as_str()).collect();
        let unique: BTreeSet<&str> = addresses.iter().copied().collect();
        assert_eq!(
            addresses.len(),
            unique.len(),
            "an address is recorded twice"
        );
        let planned: BTreeSet<String> =
            plan.changes.iter().map(|c| c.address.to_string()).collect();
        let recorded: BTreeSet<String> = unique.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            recorded, planned,
            "the state holds exactly the planned natives"
        );
        // Every component of the reference architecture is in it.
        for block in [
            "network.main",
            "kubernetes_cluster.superset",
            "postgres.metadata",
            "redis_cluster.cache",
            "load_balancer.web",
            "cdn.static",
        ] {
            assert!(
                addresses
                    .iter()
                    .any(|a| a.starts_with(&format!("{block}."))),
                "{block} is missing from the state"
            );
        }

        for c in &plan.changes {
            let r = state.resource(&c.address.to_string()).expect("recorded");
            let mut want: Vec<String> = c.depends_on.iter().map(ToString::to_string).collect();
            let mut got = r.dependencies.clone();
            want.sort();
            got.sort();
            assert_eq!(got, want, "dependencies of {}", c.address);
            assert_eq!(r.type_name, c.type_name);
            assert_eq!(r.block_type, c.block_type);
        }
        // The inner edges of a component and the edges between components are both recorded.
        let replica = state
            .resource("postgres.metadata.sandbox_pg_replica.replica_0")
            .expect("replica_0");
        assert!(
            replica
                .dependencies
                .iter()
                .any(|d| d == "postgres.metadata.sandbox_pg_instance.primary"),
            "{:?}",
            replica.dependencies
        );
        assert!(
            replica
                .dependencies
                .iter()
                .any(|d| d.starts_with("network.main.")),
            "{:?}",
            replica.dependencies
        );

        let cloud = work.cloud_objects().expect("cloud");
        let ids: BTreeMap<String, String> = state
            .resources
            .iter()
            .map(|r| (r.id.clone(), r.type_name.clone()))
            .collect();
        assert_eq!(ids.len(), state.resources.len(), "an id is recorded twice");
        // Superset's SECRET_KEY is a `generated_secret`: it lives in the state alone, by design.
        let state_only: Vec<&String> = ids
            .iter()
            .filter(|(_, t)| t.as_str() == "generated_secret")
            .map(|(id, _)| id)
            .collect();
        assert_eq!(state_only.len(), 1, "one generated SECRET_KEY: {ids:?}");
        let in_cloud: BTreeMap<String, String> = ids
            .into_iter()
            .filter(|(_, t)| t.as_str() != "generated_secret")
            .collect();
        assert_eq!(in_cloud, cloud, "state and cloud hold the same objects");

        let engine = work
            .engine(&vars, Some(&state))
            .map_err(|e| e.describe())
            .expect("engine");
        let again = work
            .plan(&engine, Some(&state), &PlanOptions::default())
            .await
            .map_err(|e| e.describe())
            .expect("re-plan");
        let changes: Vec<String> = again
            .changes
            .iter()
            .filter(|c| c.action != Action::NoOp)
            .map(|c| format!("{:?} {}", c.action, c.address))
            .collect();
        assert!(changes.is_empty(), "re-plan is not all no-op: {changes:?}");
        assert_eq!(again.changes.len(), state.resources.len());
        assert!(again.drift.is_empty(), "{:?}", again.drift);
        assert!(!again.has_changes(), "outputs changed on re-plan");
    });
}

/// The target and exclude selection is exercised end to end by fixtures; this checks the
/// pure function on a plan where a delete must pull in what depends on it.
#[test]
fn select_keeps_dependents_of_a_targeted_delete() {
    let rt = runtime();
    rt.block_on(async {
        let work = Workdir::new("select").expect("workdir");
        work.write_spec(
            r#"
resource "sandbox_object" "a" { input = "a" }
resource "sandbox_object" "b" { input = sandbox_object.a.id }
resource "sandbox_object" "c" { input = "c" }
"#,
        )
        .expect("spec");
        let state = work
            .converge(&[])
            .await
            .map_err(|e| e.describe())
            .expect("apply");
        work.write_spec(r#"resource "sandbox_object" "c" { input = "c" }"#)
            .expect("spec");
        let engine = work
            .engine(&[], Some(&state))
            .map_err(|e| e.describe())
            .expect("engine");
        let plan = work
            .plan(&engine, Some(&state), &PlanOptions::default())
            .await
            .map_err(|e| e.describe())
            .expect("plan");
        let selected = walk::select(plan.changes, &["sandbox_object.a".to_string()], &[]);
        let mut addrs: Vec<String> = selected
            .iter()
            .map(|c| format!("{:?} {}", c.action, c.address))
            .collect();
        addrs.sort();
        assert_eq!(
            addrs,
            ["Delete sandbox_object.a", "Delete sandbox_object.b"]
        );
    });
}
