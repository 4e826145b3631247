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
