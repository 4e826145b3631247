//! Team state backends through the real binary: PostgreSQL (against the throw-away server of
//! `scripts/pg-start`) and S3 (against the moto server of `scripts/moto-start`), workspaces,
//! locks and leases, and encryption at rest.
//!
//! - a fleet of 40 workspaces of one spec applied 8 at a time on PostgreSQL: no lost or skipped
//!   updates, `ss.workspace` in the right state, and no two workspaces sharing a cloud object;
//! - two applies racing on one PostgreSQL workspace: one wins, the other fails fast naming it;
//! - a SIGKILLed holder's lease: refused until it expires, then taken over and recovered;
//! - `ss force-unlock` of a dead holder's lock;
//! - encryption at rest on the local, PostgreSQL and S3 backends (state, journal, backup, saved
//!   plan), a wrong key and a missing key refused clearly;
//! - S3: apply, no-op plan, destroy, and two independent workspaces.
//!
//! The servers come from the environment: `SS_TEST_PG_CONN` and `SS_TEST_MOTO_URL`. When one
//! is missing a test prints a note and passes, except under CI (`CI` set), where it fails naming
//! the script to run. Every test works in its own PostgreSQL schema or S3 bucket, so they run in
//! parallel with each other and with other runs against the same servers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::util::{Project, Run, ss_process, str_field};

// ---------------------------------------------------------------------------------------------
// The servers
// ---------------------------------------------------------------------------------------------

/// Raw stored bytes, each with what they are (a file, a table, an object).
type Blobs = Vec<(String, Vec<u8>)>;

/// The value of a service's environment variable, or `None` (with a note) outside CI; under CI
/// a missing service fails the test.
fn service(var: &str, start: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{var} is not set, and CI is: start the server first with\n  export {var}=\"$({start})\""
            );
            eprintln!(
                "note: {var} is not set, so this test checks nothing; run\n  export {var}=\"$({start})\"\nfirst to run it"
            );
            None
        }
    }
}

/// The connection URL of the test PostgreSQL server.
fn pg_conn() -> Option<String> {
    service("SS_TEST_PG_CONN", "scripts/pg-start")
}

/// The URL of the test moto (S3) server.
fn moto_url() -> Option<String> {
    service("SS_TEST_MOTO_URL", "scripts/moto-start")
}

/// A name no other test or run uses: lowercase letters, digits and `sep`.
fn unique(prefix: &str, sep: char) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}{sep}{}{sep}{nanos:08x}{sep}{n}",
        std::process::id()
    )
}

/// Runs one SQL statement with `psql` and returns its unaligned, tuples-only output.
#[track_caller]
fn psql(conn: &str, sql: &str) -> String {
    let output = std::process::Command::new("psql")
        .args([
            conn,
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run psql (install the PostgreSQL client): {e}"));
    assert!(
        output.status.success(),
        "psql failed on {sql:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A PostgreSQL schema of one test, dropped at the end unless the test failed (then it is kept,
/// and named, for a post-mortem).
struct Schema {
    conn: String,
    name: String,
}

impl Schema {
    fn new(conn: &str) -> Schema {
        Schema {
            conn: conn.to_string(),
            name: unique("ss_test", '_'),
        }
    }

    /// The text of every row of every table of the schema (`row::text`: bytea as hex), plus
    /// every bytea column as PostgreSQL's escape encoding, as `(what, bytes)` pairs.
    fn dump(&self) -> Blobs {
        let tables = psql(
            &self.conn,
            &format!(
                "select table_name from information_schema.tables where table_schema = '{}' order by 1",
                self.name
            ),
        );
        let mut out = Vec::new();
        for table in tables.lines().filter(|l| !l.is_empty()) {
            let rows = psql(
                &self.conn,
                &format!("select t::text from \"{}\".\"{table}\" t", self.name),
            );
            out.push((format!("table {table} (rows as text)"), rows.into_bytes()));
            let columns = psql(
                &self.conn,
                &format!(
                    "select column_name from information_schema.columns where table_schema = '{}' and table_name = '{table}' and data_type = 'bytea'",
                    self.name
                ),
            );
            for column in columns.lines().filter(|l| !l.is_empty()) {
                let escaped = psql(
                    &self.conn,
                    &format!(
                        "select encode(\"{column}\", 'escape') from \"{}\".\"{table}\" where \"{column}\" is not null",
                        self.name
                    ),
                );
                out.push((
                    format!("table {table}, bytea column {column} (escape encoding)"),
                    escaped.into_bytes(),
                ));
            }
        }
        out
    }

    /// How many rows the schema's tables hold in all.
    fn rows(&self) -> usize {
        self.dump()
            .iter()
            .filter(|(what, _)| what.ends_with("(rows as text)"))
            .map(|(_, text)| {
                text.split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count()
            })
            .sum()
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kept PostgreSQL schema {} of the failed test for inspection",
                self.name
            );
            return;
        }
        let _ = std::process::Command::new("psql")
            .args([
                self.conn.as_str(),
                "-X",
                "-q",
                "-c",
                &format!("drop schema if exists \"{}\" cascade", self.name),
            ])
            .output();
    }
}

/// `curl -fsS ARGS` signed with the test credentials (moto refuses anonymous reads of
/// objects), its body.
#[track_caller]
fn curl(args: &[&str]) -> Vec<u8> {
    let output = std::process::Command::new("curl")
        .args([
            "-fsS",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            "testing:testing",
        ])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run curl: {e}"));
    assert!(
        output.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A fresh bucket on the moto server.
fn new_bucket(moto: &str) -> String {
    let bucket = unique("ss-test", '-');
    curl(&["-X", "PUT", &format!("{moto}/{bucket}")]);
    bucket
}

/// The keys of a bucket's objects.
fn bucket_keys(moto: &str, bucket: &str) -> Vec<String> {
    let listing =
        String::from_utf8_lossy(&curl(&[&format!("{moto}/{bucket}?list-type=2")])).into_owned();
    listing
        .split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(|k| {
            k.replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
        })
        .collect()
}

/// Every object of a bucket as `(what, bytes)`, plus the listing itself.
fn bucket_dump(moto: &str, bucket: &str) -> Blobs {
    let mut out = vec![(
        "the bucket listing".to_string(),
        curl(&[&format!("{moto}/{bucket}?list-type=2")]),
    )];
    for key in bucket_keys(moto, bucket) {
        let body = curl(&[&format!("{moto}/{bucket}/{key}")]);
        out.push((format!("object {key}"), body));
    }
    out
}

/// Environment variables a developer's shell might hold that would change what these tests do.
const UNSET: &[&str] = &[
    "SS_WORKSPACE",
    "SS_STATE_KEY",
    "SS_PG_CONN",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_DEFAULT_REGION",
];

/// Credentials moto accepts, and no instance-metadata lookups.
const AWS_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// `ss ARGS` in the project, with a clean environment plus `env`, as a std command.
fn ss_std(p: &Project, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = ss_process(&p.dir, &p.cloud);
    for key in UNSET {
        cmd.env_remove(key);
    }
    for (k, v) in AWS_ENV.iter().chain(env) {
        cmd.env(k, v);
    }
    cmd.args(args);
    cmd
}

/// `ss ARGS` started in the background as a [`crate::util::Watched`] process, with a clean
/// environment plus `env`.
fn watched(p: &Project, args: &[&str], env: &[(&str, &str)]) -> crate::util::Watched {
    let all: Vec<(&str, &str)> = AWS_ENV.iter().chain(env).copied().collect();
    p.spawn_watched_env(args, UNSET, &all)
}

/// Runs `ss ARGS` until it gets past the lock (a killed holder's lease may still run for a few
/// seconds), at most 30 s; the first run that did.
#[track_caller]
fn once_unlocked(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Run {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = ss(p, args, env);
        if !run.all().contains("state is locked by") || Instant::now() > deadline {
            return run;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Runs `ss ARGS` in the project with a clean environment plus `env`.
fn ss(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = assert_cmd::Command::from_std(ss_std(p, args, env));
    cmd.timeout(Duration::from_secs(120));
    let mut label: String = env
        .iter()
        .map(|(k, v)| format!("{k}={v} "))
        .collect::<String>();
    label.push_str(&format!("ss {}", args.join(" ")));
    Run::of(&mut cmd, label)
}

/// `ss --workspace W ARGS`.
fn ss_ws(p: &Project, workspace: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec!["--workspace", workspace];
    all.extend_from_slice(args);
    ss(p, &all, env)
}

/// The JSON array of `ss state list --json` in a workspace.
#[track_caller]
fn state_list(p: &Project, workspace: &str, env: &[(&str, &str)]) -> Vec<Json> {
    let run = ss_ws(p, workspace, &["state", "list", "--json"], env);
    run.success();
    match run.json() {
        Json::Array(items) => items,
        other => panic!("expected a JSON array, got {other}\n{run}"),
    }
}

/// The state of a workspace as `ss state pull` prints it.
#[track_caller]
fn state_pull(p: &Project, workspace: &str, env: &[(&str, &str)]) -> Json {
    let run = ss_ws(p, workspace, &["state", "pull"], env);
    run.success();
    run.json()
}

/// The serial of a pulled state.
#[track_caller]
fn serial_of(state: &Json) -> u64 {
    state
        .get("serial")
        .and_then(Json::as_u64)
        .unwrap_or_else(|| panic!("no serial in the pulled state {state}"))
}

/// The `input` attribute of the record at `address` of a pulled state.
fn input_in_state(state: &Json, address: &str) -> Option<Json> {
    state
        .get("resources")?
        .as_array()?
        .iter()
        .find(|r| r.get("address").and_then(Json::as_str) == Some(address))?
        .get("attributes")?
        .get("input")
        .cloned()
}

/// Workspace names from `ss workspace list --json`: an array of names, or of objects with a
/// `name`, or an object with a `workspaces` array of either.
fn workspace_names(json: &Json) -> Vec<String> {
    let items = match json {
        Json::Array(items) => items.clone(),
        Json::Object(o) => o
            .get("workspaces")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    items
        .iter()
        .filter_map(|i| match i {
            Json::String(s) => Some(s.clone()),
            Json::Object(o) => o.get("name").and_then(Json::as_str).map(str::to_string),
            _ => None,
        })
        .collect()
}

/// The cloud ids of a list of state records, sorted.
fn ids(records: &[Json]) -> Vec<String> {
    let mut out: Vec<String> = records
        .iter()
        .map(|r| str_field(r, "id").to_string())
        .collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// Specs
// ---------------------------------------------------------------------------------------------

fn postgres_settings(stack: &str, conn: Option<&str>, schema: &str, lease: &str) -> String {
    let conn = conn.map_or(String::new(), |c| format!("    conn   = \"{c}\"\n"));
    format!(
        "ss {{\n  stack = \"{stack}\"\n  backend \"postgres\" {{\n{conn}    schema = \"{schema}\"\n    lease  = \"{lease}\"\n  }}\n}}\n"
    )
}

fn s3_settings(stack: &str, moto: &str, bucket: &str, lease: &str) -> String {
    format!(
        "ss {{\n  stack = \"{stack}\"\n  backend \"s3\" {{\n    bucket   = \"{bucket}\"\n    key      = \"stack/ss.state.json\"\n    region   = \"us-east-1\"\n    endpoint = \"{moto}\"\n    lease    = \"{lease}\"\n  }}\n}}\n"
    )
}

fn local_settings(stack: &str) -> String {
    format!(
        "ss {{\n  stack = \"{stack}\"\n  backend \"local\" {{\n    path = \"ss.state.json\"\n  }}\n}}\n"
    )
}

// ---------------------------------------------------------------------------------------------
// a. A fleet of workspaces
// ---------------------------------------------------------------------------------------------

/// Five objects, one of them naming the workspace, in a small graph.
const FLEET_RESOURCES: &str = r#"
provider "sandbox" {
  latency = "10ms"
}

resource "sandbox_object" "tenant" {
  input = ss.workspace
}

resource "sandbox_object" "net" {
  input          = "net"
  create_latency = "20ms"
}

resource "sandbox_object" "db" {
  input          = [sandbox_object.net.id, "db"]
  create_latency = "50ms"
}

resource "sandbox_object" "app" {
  input = [sandbox_object.db.id, sandbox_object.tenant.id]
}

resource "sandbox_object" "dns" {
  input = sandbox_object.app.id
}

output "tenant" {
  value = sandbox_object.tenant.output
}
"#;

const FLEET_OBJECTS: usize = 5;
const FLEET_SIZE: usize = 40;
const FLEET_IN_FLIGHT: usize = 8;

/// One `ss` run of a pool.
struct Job {
    label: String,
    args: Vec<String>,
}

/// What a pooled run did.
struct Done {
    label: String,
    code: Option<i32>,
    elapsed: Duration,
}

/// Runs `jobs` as `ss` processes, at most `in_flight` at a time, each with its output in files
/// of the project's scratch space; returns what each did and the most that ran at once. A run
/// still going at `limit` is killed.
fn run_pool(
    p: &Project,
    jobs: Vec<Job>,
    in_flight: usize,
    env: &[(&str, &str)],
    limit: Duration,
) -> (Vec<Done>, usize) {
    let deadline = Instant::now() + limit;
    let mut queue = jobs.into_iter();
    let mut running: Vec<(String, std::process::Child, Instant)> = Vec::new();
    let mut done = Vec::new();
    let mut peak = 0;
    loop {
        while running.len() < in_flight {
            let Some(job) = queue.next() else { break };
            let file = |ext: &str| {
                let path = p.scratch(&format!("{}.{ext}", job.label));
                std::fs::File::create(&path)
                    .unwrap_or_else(|e| panic!("create {}: {e}", path.display()))
            };
            let args: Vec<&str> = job.args.iter().map(String::as_str).collect();
            let child = ss_std(p, &args, env)
                .stdin(std::process::Stdio::null())
                .stdout(file("stdout"))
                .stderr(file("stderr"))
                .spawn()
                .unwrap_or_else(|e| panic!("start ss {}: {e}", job.args.join(" ")));
            running.push((job.label, child, Instant::now()));
        }
        peak = peak.max(running.len());
        if running.is_empty() {
            break;
        }
        let mut i = 0;
        while i < running.len() {
            let status = running[i].1.try_wait().expect("poll a child process");
            if let Some(status) = status {
                let (label, _, started) = running.swap_remove(i);
                done.push(Done {
                    label,
                    code: status.code(),
                    elapsed: started.elapsed(),
                });
            } else if Instant::now() > deadline {
                let (label, mut child, started) = running.swap_remove(i);
                let _ = child.kill();
                let _ = child.wait();
                done.push(Done {
                    label,
                    code: None,
                    elapsed: started.elapsed(),
                });
            } else {
                i += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (done, peak)
}

/// Fails naming every run of `done` that did not exit 0, with its output.
#[track_caller]
fn all_succeeded(p: &Project, done: &[Done], what: &str) {
    let failed: Vec<&Done> = done.iter().filter(|d| d.code != Some(0)).collect();
    if failed.is_empty() {
        return;
    }
    let shown: Vec<String> = failed
        .iter()
        .take(4)
        .map(|d| {
            format!(
                "exit {:?} after {:?}\n{}",
                d.code,
                d.elapsed,
                p.logged(&d.label)
            )
        })
        .collect();
    panic!(
        "{} of {} {what} failed; the first ones:\n{}",
        failed.len(),
        done.len(),
        shown.join("\n")
    );
}

/// Runs `check` for every item on a few threads; the results in the items' order.
fn parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    check: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        mine.push((i, check(item)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a checking thread"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[test]
fn slow_postgres_fleet_of_40_workspaces_applied_8_at_a_time_loses_no_update() {
    let Some(conn) = pg_conn() else { return };
    let schema = Schema::new(&conn);
    let started = Instant::now();

    // The reference: the same spec, once, in a new workspace of a local state.
    let reference = Project::new(&[
        ("settings.hcl", &local_settings("fleet")),
        ("main.hcl", FLEET_RESOURCES),
    ]);
    ss(&reference, &["workspace", "new", "w00"], &[]).success();
    ss_ws(&reference, "w00", &["apply", "--auto-approve"], &[]).success();
    let reference_state = state_pull(&reference, "w00", &[]);
    let reference_serial = serial_of(&reference_state);
    assert_eq!(
        state_list(&reference, "w00", &[]).len(),
        FLEET_OBJECTS,
        "the reference apply"
    );

    let p = Project::new(&[
        (
            "settings.hcl",
            &postgres_settings("fleet", Some(&conn), &schema.name, "30s"),
        ),
        ("main.hcl", FLEET_RESOURCES),
    ]);
    let workspaces: Vec<String> = (0..FLEET_SIZE).map(|i| format!("w{i:02}")).collect();
    let limit = Duration::from_secs(240);

    let creates = workspaces
        .iter()
        .map(|w| Job {
            label: format!("new-{w}"),
            args: vec!["workspace".into(), "new".into(), w.clone()],
        })
        .collect();
    let (done, _) = run_pool(&p, creates, FLEET_IN_FLIGHT, &[], limit);
    all_succeeded(&p, &done, "`ss workspace new`");

    let applies = workspaces
        .iter()
        .map(|w| Job {
            label: format!("apply-{w}"),
            args: vec![
                "--workspace".into(),
                w.clone(),
                "apply".into(),
                "--auto-approve".into(),
            ],
        })
        .collect();
    let applying = Instant::now();
    let (done, peak) = run_pool(&p, applies, FLEET_IN_FLIGHT, &[], limit);
    let apply_time = applying.elapsed();
    all_succeeded(&p, &done, "`ss apply`");
    assert_eq!(
        peak, FLEET_IN_FLIGHT,
        "the applies must have run {FLEET_IN_FLIGHT} at a time"
    );

    // `workspace list` knows every one.
    let listed = ss(&p, &["workspace", "list", "--json"], &[]);
    listed.success();
    let names: BTreeSet<String> = workspace_names(&listed.json()).into_iter().collect();
    let mut expected: BTreeSet<String> = workspaces.iter().cloned().collect();
    expected.insert("default".to_string());
    assert_eq!(names, expected, "`ss workspace list --json`\n{listed}");

    // Every workspace holds the complete state, with its own name, at the reference's serial.
    let checks = parallel(&workspaces, 4, |w| {
        let list = ss_ws(&p, w, &["state", "list", "--json"], &[]);
        let pull = ss_ws(&p, w, &["state", "pull"], &[]);
        (list, pull)
    });
    let mut by_workspace: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut tenant_ids: BTreeMap<&str, String> = BTreeMap::new();
    for (w, (list, pull)) in workspaces.iter().zip(&checks) {
        list.success();
        pull.success();
        let records = match list.json() {
            Json::Array(items) => items,
            other => panic!("expected a JSON array, got {other}\n{list}"),
        };
        assert_eq!(
            records.len(),
            FLEET_OBJECTS,
            "workspace {w}: every object in its state\n{list}"
        );
        let state = pull.json();
        assert_eq!(
            input_in_state(&state, "sandbox_object.tenant"),
            Some(Json::String(w.clone())),
            "workspace {w}: `ss.workspace` must be its own name in its own state\n{pull}"
        );
        assert_eq!(
            serial_of(&state),
            reference_serial,
            "workspace {w}: the serial must equal that of the same apply on a local state (a lost or an extra write otherwise)\n{pull}"
        );
        tenant_ids.insert(w, crate::util::id_of(&records, "sandbox_object.tenant"));
        by_workspace.insert(w, ids(&records));
    }

    // Nothing left to do, on a sample.
    let sample: Vec<String> = workspaces.iter().step_by(5).cloned().collect();
    let plans = parallel(&sample, 4, |w| {
        ss_ws(&p, w, &["plan", "--detailed-exitcode"], &[])
    });
    for plan in &plans {
        plan.code(0);
    }

    // The workspaces share one sandbox cloud: each has objects of its own (a create in one
    // must not adopt another's object, or destroying one workspace would delete another's).
    let cloud = p.sandbox_list();
    let mut all_ids: Vec<String> = by_workspace.values().flatten().cloned().collect();
    all_ids.sort();
    let distinct: BTreeSet<&String> = all_ids.iter().collect();
    let shared: Vec<(&str, &str)> = {
        let mut seen: BTreeMap<&String, &str> = BTreeMap::new();
        let mut shared = Vec::new();
        for (w, list) in &by_workspace {
            for id in list {
                if let Some(other) = seen.insert(id, w) {
                    shared.push((other, *w));
                }
            }
        }
        shared
    };
    assert!(
        shared.is_empty() && distinct.len() == FLEET_SIZE * FLEET_OBJECTS,
        "workspaces share cloud objects (pairs of workspaces recording the same object: {} such, e.g. {:?}): the cloud-side name of an object must depend on the workspace",
        shared.len(),
        &shared[..shared.len().min(5)]
    );
    let mut cloud_ids: Vec<String> = cloud
        .iter()
        .map(|o| str_field(o, "id").to_string())
        .collect();
    cloud_ids.sort();
    assert_eq!(
        cloud_ids, all_ids,
        "the sandbox must hold exactly the objects the 40 states name"
    );
    for w in &workspaces {
        let tenant = &tenant_ids[w.as_str()];
        let input = cloud
            .iter()
            .find(|o| str_field(o, "id") == tenant.as_str())
            .and_then(|o| o.get("attributes")?.get("input").cloned());
        assert_eq!(
            input,
            Some(Json::String(w.clone())),
            "workspace {w}: its tenant object {tenant} in the cloud must carry its name"
        );
    }
    eprintln!(
        "fleet: {FLEET_SIZE} applies, {FLEET_IN_FLIGHT} at a time, took {apply_time:?}, each at serial {reference_serial}; the whole test {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// b. Two applies racing on one workspace
// ---------------------------------------------------------------------------------------------

/// Two objects in a chain, 1.5 s each: an apply holds the lock for 3 s or more.
const RACE_RESOURCES: &str = r#"
provider "sandbox" {
  latency = "0s"
}

variable "generation" {
  type    = string
  default = "1"
}

resource "sandbox_object" "first" {
  input          = "first"
  replace_on     = var.generation
  create_latency = "1500ms"
}

resource "sandbox_object" "second" {
  input          = sandbox_object.first.id
  replace_on     = var.generation
  create_latency = "1500ms"
}
"#;

/// Starts two identical applies at once and checks that one wins and the other fails fast
/// naming it.
fn race(p: &Project, env: &[(&str, &str)], generation: &str) {
    let var = format!("generation={generation}");
    let args = ["apply", "--auto-approve", "--var", var.as_str()];
    let labels = [
        format!("race-{generation}-a"),
        format!("race-{generation}-b"),
    ];
    let mut racers: Vec<(String, std::process::Child, Instant)> = labels
        .iter()
        .map(|label| {
            let file = |ext: &str| {
                std::fs::File::create(p.scratch(&format!("{label}.{ext}"))).expect("a log file")
            };
            let child = ss_std(p, &args, env)
                .stdin(std::process::Stdio::null())
                .stdout(file("stdout"))
                .stderr(file("stderr"))
                .spawn()
                .expect("start ss apply");
            (label.clone(), child, Instant::now())
        })
        .collect();
    let mut ended: Vec<Option<(Option<i32>, Duration)>> = vec![None, None];
    let deadline = Instant::now() + Duration::from_secs(90);
    while ended.iter().any(Option::is_none) && Instant::now() < deadline {
        for (i, (_, child, started)) in racers.iter_mut().enumerate() {
            if ended[i].is_none()
                && let Some(status) = child.try_wait().expect("poll an apply")
            {
                ended[i] = Some((status.code(), started.elapsed()));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for (i, (_, child, _)) in racers.iter_mut().enumerate() {
        if ended[i].is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    let logs: String = racers
        .iter()
        .zip(&ended)
        .map(|((label, child, _), end)| {
            format!(
                "$ ss {} (pid {}) ended {end:?}\n{}\n",
                args.join(" "),
                child.id(),
                p.logged(label)
            )
        })
        .collect();
    assert!(
        ended.iter().all(Option::is_some),
        "both applies must end within 90 s\n{logs}"
    );
    let winners: Vec<usize> = (0..2)
        .filter(|&i| ended[i].is_some_and(|(c, _)| c == Some(0)))
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one of two racing applies must succeed\n{logs}"
    );
    let (winner, loser) = (winners[0], 1 - winners[0]);
    let (code, elapsed) = ended[loser].expect("ended");
    assert_eq!(code, Some(1), "the apply that lost must exit 1\n{logs}");
    assert!(
        elapsed < Duration::from_secs(2),
        "the apply that lost must fail within a second or so of starting, took {elapsed:?}\n{logs}"
    );
    let said = p.logged(&racers[loser].0);
    let holder_pid = format!("(pid {})", racers[winner].1.id());
    assert!(
        said.contains("state is locked by")
            && said.contains("running `apply`")
            && said.contains(&holder_pid)
            && said.contains("lock id"),
        "the apply that lost must say `state is locked by USER@HOST {holder_pid} running `apply` since …; lock id …`\n{logs}"
    );
    eprintln!("race {generation}: the loser failed after {elapsed:?}");
}

#[test]
fn slow_postgres_two_applies_at_once_one_wins_the_other_fails_fast_naming_it() {
    let Some(conn) = pg_conn() else { return };
    let schema = Schema::new(&conn);
    // The connection comes from SS_PG_CONN here (the block has no `conn`).
    let p = Project::new(&[
        (
            "settings.hcl",
            &postgres_settings("race", None, &schema.name, "30s"),
        ),
        ("main.hcl", RACE_RESOURCES),
    ]);
    let env = [("SS_PG_CONN", conn.as_str())];

    // On a schema that does not exist yet: both race to create it, then for the lock.
    race(&p, &env, "1");
    let first = state_list(&p, "default", &env);
    assert_eq!(first.len(), 2, "after the first race");
    // On an existing state: both want to replace both objects.
    race(&p, &env, "2");
    let second = state_list(&p, "default", &env);
    assert_eq!(second.len(), 2, "after the second race");
    assert!(
        ids(&first).iter().all(|id| !ids(&second).contains(id)),
        "the second winner must have replaced both objects"
    );
    let cloud: Vec<String> = {
        let mut v: Vec<String> = p
            .sandbox_list()
            .iter()
            .map(|o| str_field(o, "id").to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        cloud,
        ids(&second),
        "the sandbox holds what the state names"
    );
    ss(
        &p,
        &["plan", "--detailed-exitcode", "--var", "generation=2"],
        &env,
    )
    .code(0);
}

// ---------------------------------------------------------------------------------------------
// c. A killed holder's lease
// ---------------------------------------------------------------------------------------------

/// Three objects in a chain, 1.5 s each.
const LEASE_RESOURCES: &str = r#"
provider "sandbox" {
  latency = "0s"
}

resource "sandbox_object" "one" {
  input          = "one"
  create_latency = "1500ms"
}

resource "sandbox_object" "two" {
  input          = sandbox_object.one.id
  create_latency = "1500ms"
}

resource "sandbox_object" "three" {
  input          = sandbox_object.two.id
  create_latency = "1500ms"
}
"#;

/// Starts an apply, waits until it is creating (it holds the lock), SIGKILLs it; returns its
/// pid and when it was killed.
fn kill_while_creating(p: &Project, env: &[(&str, &str)]) -> (u32, Instant) {
    let mut apply = watched(p, &["apply", "--auto-approve"], env);
    let creating = apply.wait_for_line(Duration::from_secs(60), |l| l.ends_with(": Creating..."));
    let pid = apply.pid();
    apply.child.kill().expect("SIGKILL the apply");
    let killed = Instant::now();
    let (run, _) = apply.finish(Duration::from_secs(5));
    assert!(creating, "no `Creating...` line from the apply\n{run}");
    assert_eq!(
        run.code, None,
        "the apply must have died of the kill\n{run}"
    );
    (pid, killed)
}

#[test]
fn slow_postgres_lease_of_a_killed_holder_is_taken_over_after_it_expires() {
    let Some(conn) = pg_conn() else { return };
    let schema = Schema::new(&conn);
    let lease = Duration::from_secs(3);
    let p = Project::new(&[
        (
            "settings.hcl",
            &postgres_settings("lease", Some(&conn), &schema.name, "3s"),
        ),
        ("main.hcl", LEASE_RESOURCES),
    ]);
    let (dead, killed) = kill_while_creating(&p, &[]);

    // At once: the dead holder's lease still runs.
    let refused = ss(&p, &["apply", "--auto-approve"], &[]);
    let refused_after = killed.elapsed();
    refused.code(1).no_panic();
    refused
        .contains("state is locked by")
        .contains(&format!("(pid {dead})"))
        .contains("running `apply`");
    assert!(
        refused.elapsed < Duration::from_secs(2),
        "a locked workspace must be refused at once\n{refused}"
    );

    // Once the lease has expired, an apply takes over, settles what the dead one left open and
    // finishes.
    let bound = lease + Duration::from_secs(12);
    let mut attempts = vec![refused];
    let recovered = loop {
        std::thread::sleep(Duration::from_millis(250));
        let run = ss(&p, &["apply", "--auto-approve"], &[]);
        run.no_panic();
        if run.code == Some(0) {
            break run;
        }
        let late = killed.elapsed() > bound;
        attempts.push(run);
        if late {
            let shown: Vec<String> = attempts.iter().map(ToString::to_string).collect();
            panic!(
                "no apply succeeded within {bound:?} of killing the holder (lease {lease:?})\n{}",
                shown.join("\n")
            );
        }
    };
    let taken_over = killed.elapsed() - recovered.elapsed;
    // The holder renewed its lease at most a heartbeat before it died, so the lease cannot have
    // run out much sooner than `lease` after the kill.
    assert!(
        taken_over >= lease / 2,
        "the lock was taken over {taken_over:?} after its holder died: before its lease of {lease:?} ran out\n{recovered}"
    );
    assert!(
        attempts
            .iter()
            .all(|a| a.code == Some(1) && a.all().contains("state is locked by")),
        "before the takeover every attempt must fail on the lock"
    );
    eprintln!(
        "lease: refused {refused_after:?} after the kill; taken over {taken_over:?} after it (lease {lease:?}, {} refused attempts)",
        attempts.len()
    );

    let ids = p.assert_state_matches_cloud("after the takeover");
    assert_eq!(ids.len(), 3, "every object once\n{recovered}");
    ss(&p, &["plan", "--detailed-exitcode"], &[]).code(0);
}

#[test]
fn slow_postgres_force_unlock_releases_a_dead_holders_lock_by_id() {
    let Some(conn) = pg_conn() else { return };
    let schema = Schema::new(&conn);
    let p = Project::new(&[
        (
            "settings.hcl",
            &postgres_settings("unlock", Some(&conn), &schema.name, "5m"),
        ),
        ("main.hcl", LEASE_RESOURCES),
    ]);
    let (dead, _) = kill_while_creating(&p, &[]);
    let refused = ss(&p, &["plan"], &[]);
    refused.code(1).contains(&format!("(pid {dead})"));
    let lock_id = refused
        .all()
        .split("lock id ")
        .nth(1)
        .and_then(|rest| {
            rest.split(|c: char| c.is_whitespace() || c == ')' || c == '`' || c == ';')
                .next()
        })
        .map(|id| id.trim_end_matches(['.', ',']).to_string())
        .unwrap_or_else(|| panic!("no lock id in the message\n{refused}"));

    // Another id is refused: a lock taken since by someone else is never broken by mistake.
    let wrong = ss(
        &p,
        &["force-unlock", "00000000-0000-0000-0000-000000000000"],
        &[],
    );
    wrong.code(1).no_panic();
    ss(&p, &["plan"], &[])
        .code(1)
        .contains("state is locked by");

    ss(&p, &["force-unlock", &lock_id], &[]).success();
    ss(&p, &["apply", "--auto-approve"], &[]).success();
    assert_eq!(p.assert_state_matches_cloud("after force-unlock").len(), 3);
    ss(&p, &["plan", "--detailed-exitcode"], &[]).code(0);
}

// ---------------------------------------------------------------------------------------------
// d. Encryption at rest
// ---------------------------------------------------------------------------------------------

/// A secret that must never be readable in the stored state, journal or saved plan.
const MARKER: &str = "MARKER-7c41e9d2-SECRET";

/// A resource name that must not be readable either (addresses say what a stack holds).
const RESOURCE: &str = "zebra_quokka_vault";

fn encryption_resources() -> String {
    format!(
        r#"
provider "sandbox" {{
  latency = "0s"
}}

variable "generation" {{
  type    = string
  default = "1"
}}

resource "sandbox_object" "{RESOURCE}" {{
  input = "{MARKER}-${{var.generation}}"
}}

resource "sandbox_object" "slow_peer" {{
  input          = "slow"
  create_latency = "4s"
}}
"#
    )
}

/// Whether `needle` is in `blob`, as is, or in any hex or base64 run decoded.
fn leaks(blob: &[u8], needle: &str) -> bool {
    let contains = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    if contains(blob) {
        return true;
    }
    let text = String::from_utf8_lossy(blob);
    let runs = |ok: fn(char) -> bool| -> Vec<String> {
        text.split(|c: char| !ok(c))
            .filter(|r| r.len() >= 16)
            .map(str::to_string)
            .collect()
    };
    for run in runs(|c| c.is_ascii_hexdigit()) {
        let bytes: Vec<u8> = (0..run.len() / 2)
            .filter_map(|i| u8::from_str_radix(&run[2 * i..2 * i + 2], 16).ok())
            .collect();
        // A run may start one nibble off (an `\x` prefix eats nothing, but be safe).
        let shifted: Vec<u8> = (0..run.len().saturating_sub(1) / 2)
            .filter_map(|i| u8::from_str_radix(&run[2 * i + 1..2 * i + 3], 16).ok())
            .collect();
        if contains(&bytes) || contains(&shifted) {
            return true;
        }
    }
    for run in runs(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_')) {
        if contains(&base64_decode(&run)) {
            return true;
        }
    }
    false
}

/// Decodes standard or URL-safe base64, ignoring padding and anything else.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in text.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[test]
fn leak_check_sees_plain_hex_and_base64() {
    assert!(leaks(format!("x{MARKER}y").as_bytes(), MARKER));
    let hex: String = MARKER.bytes().map(|b| format!("{b:02x}")).collect();
    assert!(leaks(format!("(1,\"\\\\x00{hex}\")").as_bytes(), MARKER));
    assert!(leaks(
        b"eyJpbnB1dCI6Ik1BUktFUi03YzQxZTlkMi1TRUNSRVQtMSJ9",
        MARKER
    ));
    assert!(!leaks(b"nothing to see here 0123456789abcdef0123", MARKER));
}

/// Checks that no blob holds the marker or the resource name.
#[track_caller]
fn assert_sealed(blobs: &[(String, Vec<u8>)], context: &str) {
    assert!(
        blobs.iter().any(|(_, b)| !b.is_empty()),
        "{context}: nothing is stored at all, so the check would prove nothing"
    );
    for (what, blob) in blobs {
        for (needle, name) in [
            (MARKER, "the secret marker"),
            (RESOURCE, "the resource name"),
        ] {
            assert!(
                !leaks(blob, needle),
                "{context}: {what} holds {name} readable (state, journal, backup and plans must be encrypted):\n{}",
                String::from_utf8_lossy(&blob[..blob.len().min(4000)])
            );
        }
    }
}

/// The files of the spec directory except the spec itself: state, journal, backup, lock, plans.
fn local_dump(p: &Project) -> Blobs {
    crate::util::files_under(&p.dir)
        .into_iter()
        .filter(|f| f.extension().is_none_or(|e| e != "hcl"))
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap_or_default();
            (format!("file {}", f.display()), bytes)
        })
        .collect()
}

/// Whether the sandbox cloud's files hold `needle` (they do, in clear, once the object exists:
/// the check that the apply got as far as the test needs).
fn cloud_holds(cloud: &Path, needle: &str) -> bool {
    crate::util::files_under(cloud)
        .iter()
        .any(|f| std::fs::read(f).is_ok_and(|b| leaks(&b, needle)))
}

/// The encryption scenario on one backend: an apply killed with its journal written, a
/// recovering re-apply with an update (a backup), a saved plan; raw storage checked after each;
/// then a wrong key and no key.
fn encryption_at_rest(settings: &str, dump: &dyn Fn(&Project) -> Blobs) {
    let p = Project::new(&[
        ("settings.hcl", settings),
        ("main.hcl", &encryption_resources()),
    ]);
    let key = [("SS_STATE_KEY", "correct horse battery staple")];

    // 1. An apply killed once the marked object is recorded, while another create runs: the
    //    journal holds the marked object's record.
    let mut apply = watched(&p, &["apply", "--auto-approve"], &key);
    let recorded = apply.wait_for_line(Duration::from_secs(60), |l| {
        l.contains(RESOURCE) && l.contains("Creation complete")
    });
    apply.child.kill().expect("SIGKILL the apply");
    let (killed, _) = apply.finish(Duration::from_secs(5));
    assert!(recorded, "no `Creation complete` for {RESOURCE}\n{killed}");
    assert!(
        cloud_holds(&p.cloud, MARKER),
        "the marked object must be in the sandbox by now"
    );
    let stored = dump(&p);
    assert!(
        stored
            .iter()
            .any(|(what, blob)| what.contains("journal") && blob.len() > 2),
        "the killed apply must have left a journal: {:?}",
        stored
            .iter()
            .map(|(what, b)| (what, b.len()))
            .collect::<Vec<_>>()
    );
    assert_sealed(&stored, "after an apply killed in mid-run (journal)");

    // 2. A re-apply that settles the journal (once the killed holder's lock is gone: a lease
    //    runs out) and updates the marked object: snapshot and backup.
    once_unlocked(&p, &["apply", "--auto-approve"], &key).success();
    ss(
        &p,
        &["apply", "--auto-approve", "--var", "generation=2"],
        &key,
    )
    .success();
    assert_sealed(
        &dump(&p),
        "after a recovering apply and an update (snapshot, backup)",
    );
    let pulled = ss(&p, &["state", "pull"], &key);
    pulled.success().contains(&format!("{MARKER}-2"));

    // 3. A saved plan.
    let plan_file = p.scratch("saved.plan");
    let plan_path = plan_file.to_string_lossy().into_owned();
    ss(
        &p,
        &["plan", "--out", &plan_path, "--var", "generation=3"],
        &key,
    )
    .success();
    let plan_bytes = std::fs::read(&plan_file).expect("the saved plan");
    assert_sealed(
        &[("the saved plan".to_string(), plan_bytes)],
        "a saved plan",
    );
    ss(&p, &["show", &plan_path], &key)
        .success()
        .contains(RESOURCE);
    assert_sealed(&dump(&p), "after a saved plan");

    // 4. A wrong key: a clear error naming the key.
    let wrong = ss(&p, &["plan"], &[("SS_STATE_KEY", "not the key")]);
    wrong.code(1).no_panic().lacks(MARKER, "the secret marker");
    assert!(
        wrong.all().to_lowercase().contains("key"),
        "a wrong key must be reported as such\n{wrong}"
    );
    let wrong_plan = ss(
        &p,
        &["show", &plan_path],
        &[("SS_STATE_KEY", "not the key")],
    );
    wrong_plan
        .code(1)
        .no_panic()
        .lacks(MARKER, "the secret marker");

    // 5. No key at all: refused as encrypted, not as bad JSON.
    let none = ss(&p, &["plan"], &[]);
    none.code(1).no_panic().lacks(MARKER, "the secret marker");
    let said = none.all().to_lowercase();
    assert!(
        said.contains("encrypt") && said.contains("key"),
        "without a key the state must be refused as encrypted, asking for a key\n{none}"
    );
    for parse_error in [
        "expected value",
        "invalid type",
        "at line",
        "eof while parsing",
    ] {
        assert!(
            !said.contains(parse_error),
            "without a key the state must not be reported as malformed JSON\n{none}"
        );
    }

    // The state still works with the key.
    ss(
        &p,
        &["plan", "--detailed-exitcode", "--var", "generation=2"],
        &key,
    )
    .code(0);

    // Decrypted in place, the same raw storage shows the marker: the checks above read the
    // real thing and would have seen it.
    ss(
        &p,
        &[
            "state",
            "migrate-encryption",
            "--old-key-env",
            "OLD_STATE_KEY",
        ],
        &[("OLD_STATE_KEY", key[0].1)],
    )
    .success();
    assert!(
        dump(&p).iter().any(|(_, blob)| leaks(blob, MARKER)),
        "after decrypting the state in place its raw storage must show the marker"
    );
    ss(
        &p,
        &["plan", "--detailed-exitcode", "--var", "generation=2"],
        &[],
    )
    .code(0);
}

#[test]
fn slow_encryption_at_rest_local() {
    encryption_at_rest(&local_settings("sealed"), &local_dump);
}

#[test]
fn slow_encryption_at_rest_postgres() {
    let Some(conn) = pg_conn() else { return };
    let schema = Schema::new(&conn);
    let settings = postgres_settings("sealed", Some(&conn), &schema.name, "3s");
    encryption_at_rest(&settings, &|_| schema.dump());
    assert!(schema.rows() > 0, "the state must be in the schema");
}

#[test]
fn slow_encryption_at_rest_s3() {
    let Some(moto) = moto_url() else { return };
    let bucket = new_bucket(&moto);
    let settings = s3_settings("sealed", &moto, &bucket, "3s");
    encryption_at_rest(&settings, &|_| bucket_dump(&moto, &bucket));
    assert!(
        !bucket_keys(&moto, &bucket).is_empty(),
        "the state must be in the bucket"
    );
}

#[test]
fn slow_encryption_key_from_the_spec_encryption_block() {
    let p = Project::new(&[
        (
            "settings.hcl",
            "ss {\n  stack = \"sealed\"\n  encryption {\n    key_env = \"TEAM_STATE_KEY\"\n  }\n}\n",
        ),
        (
            "main.hcl",
            &encryption_resources().replace("\"4s\"", "\"0s\""),
        ),
    ]);
    let key = [("TEAM_STATE_KEY", "a team passphrase")];
    ss(&p, &["apply", "--auto-approve"], &key).success();
    assert_sealed(&local_dump(&p), "with the key named by the spec");
    ss(&p, &["plan", "--detailed-exitcode"], &key).code(0);
    let none = ss(&p, &["plan"], &[]);
    none.code(1).no_panic();
    assert!(
        none.all().contains("TEAM_STATE_KEY"),
        "a missing key must name the variable the spec asks for\n{none}"
    );
}

// ---------------------------------------------------------------------------------------------
// e. S3
// ---------------------------------------------------------------------------------------------

const S3_RESOURCES: &str = r#"
provider "sandbox" {
  latency = "0s"
}

resource "sandbox_object" "tenant" {
  input = ss.workspace
}

resource "sandbox_object" "app" {
  input = [sandbox_object.tenant.id, "app"]
}
"#;

#[test]
fn s3_apply_plan_destroy_and_two_independent_workspaces() {
    let Some(moto) = moto_url() else { return };
    let bucket = new_bucket(&moto);
    let p = Project::new(&[
        (
            "settings.hcl",
            &s3_settings("bucketed", &moto, &bucket, "30s"),
        ),
        ("main.hcl", S3_RESOURCES),
    ]);
    let cloud_ids = |p: &Project| -> Vec<String> {
        let mut v: Vec<String> = p
            .sandbox_list()
            .iter()
            .map(|o| str_field(o, "id").to_string())
            .collect();
        v.sort();
        v
    };

    // default: apply, nothing left to do, the state is in the bucket.
    ss(&p, &["apply", "--auto-approve"], &[]).success();
    let default_ids = ids(&state_list(&p, "default", &[]));
    assert_eq!(default_ids.len(), 2);
    ss(&p, &["plan", "--detailed-exitcode"], &[]).code(0);
    let keys = bucket_keys(&moto, &bucket);
    assert!(
        keys.iter().any(|k| k.contains("ss.state.json")),
        "the state must be stored under the configured key: {keys:?}"
    );

    // A workspace must be created before use.
    let missing = ss_ws(&p, "blue", &["plan"], &[]);
    missing.code(1).contains("ss workspace new");

    // blue: its own state and its own objects.
    ss(&p, &["workspace", "new", "blue"], &[]).success();
    assert!(
        state_list(&p, "blue", &[]).is_empty(),
        "a new workspace starts empty"
    );
    ss_ws(&p, "blue", &["apply", "--auto-approve"], &[]).success();
    let blue_ids = ids(&state_list(&p, "blue", &[]));
    assert_eq!(blue_ids.len(), 2);
    assert!(
        blue_ids.iter().all(|id| !default_ids.contains(id)),
        "two workspaces must not share objects: default {default_ids:?}, blue {blue_ids:?}"
    );
    let mut both: Vec<String> = default_ids.iter().chain(&blue_ids).cloned().collect();
    both.sort();
    assert_eq!(
        cloud_ids(&p),
        both,
        "the cloud holds both workspaces' objects"
    );
    assert_eq!(
        input_in_state(&state_pull(&p, "blue", &[]), "sandbox_object.tenant"),
        Some(Json::String("blue".into()))
    );
    assert_eq!(
        input_in_state(&state_pull(&p, "default", &[]), "sandbox_object.tenant"),
        Some(Json::String("default".into()))
    );
    let listed = ss(&p, &["workspace", "list", "--json"], &[]);
    listed.success();
    assert_eq!(
        workspace_names(&listed.json()),
        vec!["default".to_string(), "blue".to_string()],
        "{listed}"
    );

    // A workspace holding resources cannot be deleted.
    ss(&p, &["workspace", "delete", "blue"], &[])
        .code(1)
        .no_panic();

    // Selecting a workspace is remembered in the directory.
    ss(&p, &["workspace", "select", "blue"], &[]).success();
    let shown = ss(&p, &["workspace", "show"], &[]);
    shown.success();
    assert_eq!(shown.stdout.trim(), "blue", "{shown}");
    assert_eq!(
        std::fs::read_to_string(p.path(".ss/workspace"))
            .unwrap_or_default()
            .trim(),
        "blue"
    );
    ss(&p, &["plan", "--detailed-exitcode"], &[]).code(0);
    assert_eq!(ids(&state_list(&p, "blue", &[])), blue_ids);
    let selected = ss(&p, &["state", "list", "--json"], &[]);
    selected.success();
    let selected_records = match selected.json() {
        Json::Array(a) => a,
        other => panic!("expected an array, got {other}"),
    };
    assert_eq!(
        ids(&selected_records),
        blue_ids,
        "the selected workspace is used"
    );

    // Destroying default leaves blue alone.
    ss_ws(&p, "default", &["destroy", "--auto-approve"], &[]).success();
    assert!(state_list(&p, "default", &[]).is_empty());
    assert_eq!(ids(&state_list(&p, "blue", &[])), blue_ids);
    assert_eq!(cloud_ids(&p), blue_ids, "only blue's objects are left");
    ss_ws(&p, "blue", &["plan", "--detailed-exitcode"], &[]).code(0);

    // Destroy blue (the selected one), then delete it.
    ss(&p, &["destroy", "--auto-approve"], &[]).success();
    assert!(
        cloud_ids(&p).is_empty(),
        "the cloud is empty after both destroys"
    );
    ss(&p, &["workspace", "select", "default"], &[]).success();
    ss(&p, &["workspace", "delete", "blue"], &[]).success();
    let listed = ss(&p, &["workspace", "list", "--json"], &[]);
    listed.success();
    assert_eq!(
        workspace_names(&listed.json()),
        vec!["default".to_string()],
        "{listed}"
    );
}
