//! Shared helpers: a temporary project directory with spec files and its own sandbox cloud, a
//! way to run the real `ss` binary there, and assertions whose failure messages show everything
//! the command printed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value as Json;
use tempfile::TempDir;

/// No single `ss` run in these tests should take long; a hang fails the test instead of the
/// whole suite.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The path of the `ss` binary built for these tests.
pub fn ss_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ss"))
}

/// The repository root (where `examples/` lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An `ss` process with a deterministic environment: no colour, a wide terminal (so that
/// messages are not wrapped), no inherited log filter or variables, and the given sandbox cloud.
/// For processes that a test starts and waits for itself.
pub fn ss_process(cwd: &Path, cloud: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(ss_bin());
    cmd.current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200")
        .env("SS_SANDBOX_DIR", cloud)
        .env_remove("SS_LOG")
        .env_remove("SS_WORKSPACE")
        .env_remove("SS_STATE_KEY")
        .env_remove("SS_PG_CONN")
        .env_remove("RUST_LOG")
        .env_remove("CLICOLOR_FORCE");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SS_VAR_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Like [`ss_process`], as an `assert_cmd` command with a time limit.
pub fn ss_command(cwd: &Path, cloud: &Path) -> Command {
    let mut cmd = Command::from_std(ss_process(cwd, cloud));
    cmd.timeout(RUN_TIMEOUT);
    cmd
}

/// What one run of `ss` did.
pub struct Run {
    pub command: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "$ {}\nexit code: {:?} after {:?}",
            self.command, self.code, self.elapsed
        )?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

impl Run {
    /// Runs a prepared command; `label` is how the command is shown in failure messages.
    pub fn of(cmd: &mut Command, label: String) -> Run {
        let started = std::time::Instant::now();
        let output = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{label}`: {e}"));
        Run {
            command: label,
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }

    /// Standard output and standard error together.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(expected),
            "expected exit code {expected}\n{self}"
        );
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Run {
        self.code(0)
    }

    /// Asserts that stdout or stderr contains `needle`.
    #[track_caller]
    pub fn contains(&self, needle: &str) -> &Run {
        assert!(
            self.all().contains(needle),
            "expected the output to contain {needle:?}\n{self}"
        );
        self
    }

    /// Asserts that neither stdout nor stderr contains `needle`; `what` names the secret in
    /// the failure message so that it does not have to be printed twice.
    #[track_caller]
    pub fn lacks(&self, needle: &str, what: &str) -> &Run {
        assert!(
            !self.all().contains(needle),
            "the output must not contain {what}\n{self}"
        );
        self
    }

    /// Asserts that nothing panicked.
    #[track_caller]
    pub fn no_panic(&self) -> &Run {
        assert!(!self.all().contains("panicked"), "ss panicked\n{self}");
        self
    }

    /// Parses standard output as JSON.
    #[track_caller]
    pub fn json(&self) -> Json {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }
}

/// A temporary spec directory (`<tmp>/spec`) with its own sandbox cloud (`<tmp>/cloud`).
pub struct Project {
    /// Kept for its `Drop`, which removes everything.
    _tmp: TempDir,
    pub dir: PathBuf,
    pub cloud: PathBuf,
}

impl Project {
    /// A project whose spec directory holds `files` (name, contents).
    pub fn new(files: &[(&str, &str)]) -> Project {
        let tmp = tempfile::tempdir().expect("create a temporary directory");
        let dir = tmp.path().join("spec");
        let cloud = tmp.path().join("cloud");
        std::fs::create_dir_all(&dir).expect("create the spec directory");
        let project = Project {
            _tmp: tmp,
            dir,
            cloud,
        };
        for (name, text) in files {
            project.write(name, text);
        }
        project
    }

    /// A project holding a copy of every file of `source` (not recursive).
    pub fn copy_of(source: &Path) -> Project {
        let project = Project::new(&[]);
        copy_files(source, &project.dir);
        project
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.join(name), text).unwrap_or_else(|e| panic!("write {name}: {e}"));
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// An `ss` command run in the spec directory.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = ss_command(&self.dir, &self.cloud);
        cmd.args(args);
        cmd
    }

    /// Runs `ss ARGS` in the spec directory.
    pub fn ss(&self, args: &[&str]) -> Run {
        Run::of(&mut self.cmd(args), format!("ss {}", args.join(" ")))
    }

    /// Runs `ss ARGS` with extra environment variables.
    pub fn ss_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.cmd(args);
        let mut label = String::new();
        for (k, v) in env {
            cmd.env(k, v);
            label.push_str(&format!("{k}={v} "));
        }
        label.push_str(&format!("ss {}", args.join(" ")));
        Run::of(&mut cmd, label)
    }

    /// `ss state list --json`, checked to be an array.
    pub fn state_list(&self) -> Vec<Json> {
        let run = self.ss(&["state", "list", "--json"]);
        run.success();
        as_array(run.json(), &run)
    }

    /// `ss sandbox list --json`, checked to be an array.
    pub fn sandbox_list(&self) -> Vec<Json> {
        let run = self.ss(&["sandbox", "list", "--json"]);
        run.success();
        as_array(run.json(), &run)
    }
}

#[track_caller]
fn as_array(json: Json, run: &Run) -> Vec<Json> {
    match json {
        Json::Array(items) => items,
        other => panic!("expected a JSON array, got {other}\n{run}"),
    }
}

/// Copies the regular files of `from` into `to` (created if missing).
pub fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.expect("read a directory entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

/// The string field `key` of a JSON object, or a failure naming the object.
#[track_caller]
pub fn str_field<'a>(object: &'a Json, key: &str) -> &'a str {
    object
        .get(key)
        .and_then(Json::as_str)
        .unwrap_or_else(|| panic!("expected a string field {key:?} in {object}"))
}

/// The number in "Plan: N to add, ..." or `None` when the line is missing.
pub fn plan_counts(text: &str) -> Option<(u64, u64, u64)> {
    let line = text.lines().find(|l| l.trim_start().starts_with("Plan:"))?;
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    match numbers.as_slice() {
        [add, change, destroy] => Some((*add, *change, *destroy)),
        _ => None,
    }
}

/// Files (recursively) under `dir`; an absent directory has none.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn plan_counts_reads_the_summary_line() {
    let text = "stuff\nPlan: 12 to add, 1 to change, 3 to destroy.\n";
    assert_eq!(plan_counts(text), Some((12, 1, 3)));
    assert_eq!(plan_counts("No changes."), None);
}

/// `(add, change, destroy)` of a plan's text on stdout, or a failure showing the run.
#[track_caller]
pub fn counts_of(run: &Run) -> (u64, u64, u64) {
    plan_counts(&run.stdout).unwrap_or_else(|| panic!("no `Plan: …` line\n{run}"))
}

/// The addresses of state records (`ss state list --json`), sorted.
pub fn addresses(records: &[Json]) -> Vec<String> {
    let mut out: Vec<String> = records
        .iter()
        .map(|r| str_field(r, "address").to_string())
        .collect();
    out.sort();
    out
}

/// The cloud id recorded in the state for `address`, or a failure listing the state.
#[track_caller]
pub fn id_of(records: &[Json], address: &str) -> String {
    records
        .iter()
        .find(|r| r.get("address").and_then(Json::as_str) == Some(address))
        .map(|r| str_field(r, "id").to_string())
        .unwrap_or_else(|| {
            panic!(
                "no {address} in the state: {}",
                Json::from(records.to_vec())
            )
        })
}

/// Whether the sandbox cloud (`ss sandbox list --json`) holds an object with cloud id `id`.
pub fn cloud_has(cloud: &[Json], id: &str) -> bool {
    cloud
        .iter()
        .any(|o| o.get("id").and_then(Json::as_str) == Some(id))
}

/// `FILE:LINE:COL` (1-based) of the first occurrence of `needle` in `text`, as diagnostics
/// name a location.
#[track_caller]
pub fn location_of(file: &str, text: &str, needle: &str) -> String {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} is not in {file}"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{file}:{line}:{column}")
}

#[test]
fn location_of_counts_from_one() {
    let text = "a\n  resource \"x\"\n";
    assert_eq!(location_of("main.hcl", text, "resource"), "main.hcl:2:3");
    assert_eq!(location_of("main.hcl", text, "a"), "main.hcl:1:1");
}

/// A tiny deterministic random number generator (the 64-bit linear congruential generator of
/// Knuth's MMIX) for tests that choose instants or shapes at random yet must be reproducible
/// from their seed.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed)
    }

    pub fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        // The high bits of an LCG are the random ones.
        (self.0 >> 32) as u32
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.next_u32() % (hi - lo + 1)
    }

    /// A number in `0.0..1.0`.
    pub fn unit(&mut self) -> f64 {
        f64::from(self.next_u32()) / (f64::from(u32::MAX) + 1.0)
    }
}

#[test]
fn lcg_is_deterministic_and_in_range() {
    let mut a = Lcg::new(7);
    let mut b = Lcg::new(7);
    for _ in 0..1000 {
        let x = a.between(20, 150);
        assert_eq!(x, b.between(20, 150));
        assert!((20..=150).contains(&x));
        let u = a.unit();
        assert_eq!(u, b.unit());
        assert!((0.0..1.0).contains(&u));
    }
}

/// The seed of a randomised test: `SS_TEST_SEED` when set (to replay a failure), else `default`.
pub fn test_seed(default: u64) -> u64 {
    std::env::var("SS_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Sends `signal` (a name such as `INT`) to process `pid` with kill(1).
#[track_caller]
pub fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
    assert!(status.success(), "kill -{signal} {pid} failed: {status}");
}

/// Waits up to `limit` for `child` to exit; `None` if it is still running.
pub fn wait_up_to(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("poll a child process") {
            return Some(status);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// An `ss` process started in the background whose standard error is read line by line as it
/// is written (so that a test can act when a given line appears) and whose standard output is
/// collected.
pub struct Watched {
    pub child: std::process::Child,
    pub command: String,
    started: std::time::Instant,
    lines: std::sync::mpsc::Receiver<String>,
    /// Every line of standard error received so far.
    pub stderr: Vec<String>,
    stdout: std::thread::JoinHandle<String>,
}

impl Watched {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for a line of standard error that satisfies `wanted`; true if one
    /// came (including one received earlier).
    pub fn wait_for_line(&mut self, limit: Duration, wanted: impl Fn(&str) -> bool) -> bool {
        if self.stderr.iter().any(|l| wanted(l)) {
            return true;
        }
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = wanted(&line);
                    self.stderr.push(line);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    /// Waits up to `limit` for the process to exit and returns what it did; a process still
    /// running at the limit is killed, so that the failure message can show its output.
    pub fn finish(mut self, limit: Duration) -> (Run, bool) {
        let exited = wait_up_to(&mut self.child, limit).is_some();
        if !exited {
            self.child
                .kill()
                .expect("kill a process that overran its time");
        }
        let status = self.child.wait().expect("reap a child process");
        let elapsed = self.started.elapsed();
        // The sender side closes when the process's standard error does.
        self.stderr.extend(self.lines.iter());
        let stdout = self.stdout.join().expect("the stdout reader");
        let run = Run {
            command: self.command,
            code: status.code(),
            stdout,
            stderr: self.stderr.join("\n"),
            elapsed,
        };
        (run, exited)
    }
}

impl Project {
    /// A path in the temporary directory beside the spec directory (for logs of background
    /// runs, which must not land in the spec directory).
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.dir.with_file_name(name)
    }

    /// Starts `ss ARGS` in the background with its output in files `<label>.stdout` and
    /// `<label>.stderr` of [`Project::scratch`]; a pipe nobody reads could fill up and block it.
    pub fn spawn_logged(&self, args: &[&str], label: &str) -> std::process::Child {
        let file = |ext: &str| {
            let path = self.scratch(&format!("{label}.{ext}"));
            std::fs::File::create(&path)
                .unwrap_or_else(|e| panic!("create {}: {e}", path.display()))
        };
        ss_process(&self.dir, &self.cloud)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(file("stdout"))
            .stderr(file("stderr"))
            .spawn()
            .unwrap_or_else(|e| panic!("start ss {}: {e}", args.join(" ")))
    }

    /// What a run started by [`Project::spawn_logged`] wrote: `--- stdout ---` and
    /// `--- stderr ---` sections.
    pub fn logged(&self, label: &str) -> String {
        let read = |ext: &str| {
            std::fs::read_to_string(self.scratch(&format!("{label}.{ext}"))).unwrap_or_default()
        };
        format!(
            "--- {label}: stdout ---\n{}\n--- {label}: stderr ---\n{}",
            read("stdout"),
            read("stderr")
        )
    }

    /// Starts `ss ARGS` in the background as a [`Watched`] process.
    pub fn spawn_watched(&self, args: &[&str]) -> Watched {
        self.spawn_watched_env(args, &[], &[])
    }

    /// Checks that the state and the sandbox hold exactly the same cloud ids, each once, and
    /// that no two sandbox objects share a name (the deterministic identity a create uses: two
    /// objects with one name are a duplicate create). Returns the ids, sorted. `context` is
    /// added to failure messages.
    #[track_caller]
    pub fn assert_state_matches_cloud(&self, context: &str) -> Vec<String> {
        let state = self.state_list();
        let cloud = self.sandbox_list();
        let mut state_ids: Vec<String> = state
            .iter()
            .map(|r| str_field(r, "id").to_string())
            .collect();
        let mut cloud_ids: Vec<String> = cloud
            .iter()
            .map(|o| str_field(o, "id").to_string())
            .collect();
        let mut names: Vec<String> = cloud
            .iter()
            .map(|o| str_field(o, "name").to_string())
            .collect();
        state_ids.sort();
        cloud_ids.sort();
        names.sort();
        let dup = |v: &[String]| v.windows(2).find(|w| w[0] == w[1]).map(|w| w[0].clone());
        if let Some(id) = dup(&state_ids) {
            panic!(
                "{context}: the state records cloud id {id} twice: {}",
                Json::from(state)
            );
        }
        if let Some(name) = dup(&names) {
            panic!(
                "{context}: the sandbox holds two objects named {name} (a duplicate create): {}",
                Json::from(cloud)
            );
        }
        let orphans: Vec<&String> = cloud_ids
            .iter()
            .filter(|id| !state_ids.contains(id))
            .collect();
        let ghosts: Vec<&String> = state_ids
            .iter()
            .filter(|id| !cloud_ids.contains(id))
            .collect();
        assert!(
            orphans.is_empty() && ghosts.is_empty(),
            "{context}: the state and the sandbox disagree\n  in the sandbox but not in the state (orphans): {orphans:?}\n  in the state but not in the sandbox: {ghosts:?}"
        );
        state_ids
    }
}

impl Project {
    /// Like [`Project::spawn_watched`], with environment variables removed (`remove`) and then
    /// set (`env`), for runs that need a backend's credentials or a state key.
    pub fn spawn_watched_env(
        &self,
        args: &[&str],
        remove: &[&str],
        env: &[(&str, &str)],
    ) -> Watched {
        use std::io::{BufRead, Read};
        let mut cmd = ss_process(&self.dir, &self.cloud);
        for key in remove {
            cmd.env_remove(key);
        }
        for (key, value) in env {
            cmd.env(key, value);
        }
        let mut child = cmd
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start ss {}: {e}", args.join(" ")));
        let started = std::time::Instant::now();
        let mut out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let stdout = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            // A read error only truncates what the failure message shows.
            let _ = out.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        });
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Watched {
            child,
            command: format!("ss {}", args.join(" ")),
            started,
            lines,
            stderr: Vec::new(),
            stdout,
        }
    }
}
