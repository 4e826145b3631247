//! Wall time and peak RSS of one `ss` process.
//!
//! Peak RSS is the kernel's own high-water mark of the process's resident set (`ru_maxrss`),
//! read without unsafe code through `getrusage(RUSAGE_CHILDREN)`. That call reports the largest
//! `ru_maxrss` among all waited-for children of the caller, so the bench re-executes itself as a
//! fresh helper (`--measure`) whose only child is the measured `ss`: the helper spawns it,
//! times it from spawn to reaping, and prints both figures on one line for the bench to read.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::resource::{UsageWho, getrusage};

/// The flag that turns the bench binary into the measuring helper.
pub const MEASURE_FLAG: &str = "--measure";

/// How often the helper checks whether `ss` has ended; it bounds the error of the wall time.
const POLL: Duration = Duration::from_millis(1);

/// What one `ss` run cost.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub wall: Duration,
    pub max_rss_kib: u64,
}

/// One `ss` invocation to measure.
pub struct Invocation<'a> {
    pub ss: &'a Path,
    pub args: &'a [&'a str],
    pub cwd: &'a Path,
    pub cloud: &'a Path,
    /// Where `ss`'s standard output and error go (`<log>.out`, `<log>.err`).
    pub log: PathBuf,
    pub timeout: Duration,
}

/// Why a measured run did not succeed, with the end of what `ss` printed.
#[derive(Debug)]
pub struct Failed {
    pub command: String,
    pub status: String,
    pub output_tail: String,
}

/// The environment every `ss` run gets: no colour, no logging or variables inherited from the
/// caller's shell, and the run's own sandbox cloud.
pub fn ss_command(ss: &Path, cwd: &Path, cloud: &Path) -> Command {
    let mut cmd = Command::new(ss);
    cmd.current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200")
        .env("SS_SANDBOX_DIR", cloud)
        .env_remove("SS_LOG")
        .env_remove("RUST_LOG")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("SS_WORKSPACE")
        .stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SS_VAR_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

impl Invocation<'_> {
    pub fn label(&self) -> String {
        format!("ss {}", self.args.join(" "))
    }

    fn out_path(&self) -> PathBuf {
        self.log.with_extension("out")
    }

    fn err_path(&self) -> PathBuf {
        self.log.with_extension("err")
    }

    /// Runs `ss` under a fresh helper process and returns its figures and exit code (`None`
    /// when it was killed by a signal or the time limit).
    pub fn run(&self) -> Result<(Sample, Option<i32>)> {
        let helper = std::env::current_exe().context("cannot find the bench binary")?;
        let mut cmd = ss_command(&helper, self.cwd, self.cloud);
        cmd.arg(MEASURE_FLAG)
            .arg(self.timeout.as_millis().to_string())
            .arg(self.out_path())
            .arg(self.err_path())
            .arg(self.ss)
            .args(self.args)
            .stderr(Stdio::inherit());
        let output = cmd
            .output()
            .with_context(|| format!("cannot start the measuring helper for `{}`", self.label()))?;
        let report = String::from_utf8_lossy(&output.stdout);
        parse_report(&report).with_context(|| {
            format!(
                "the measuring helper for `{}` printed no figures ({}): {report}",
                self.label(),
                output.status
            )
        })
    }

    /// The failure report for a run that ended with `code` instead of one of `expected`.
    pub fn failed(&self, code: Option<i32>, expected: &[i32]) -> Failed {
        let status = match code {
            Some(code) => format!("exit code {code}, expected {expected:?}"),
            None => "killed (signal or time limit)".to_string(),
        };
        let mut output_tail = tail(&self.out_path(), 25);
        output_tail.push_str(&tail(&self.err_path(), 25));
        Failed {
            command: self.label(),
            status,
            output_tail,
        }
    }
}

/// The last `lines` lines of a log file, labelled with its name.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut out = format!("--- {} (last {} lines) ---\n", path.display(), lines);
    for line in &all[start..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn parse_report(report: &str) -> Result<(Sample, Option<i32>)> {
    let mut wall_ns = None;
    let mut rss = None;
    let mut code = None;
    for field in report.split_whitespace() {
        match field.split_once('=') {
            Some(("wall_ns", v)) => wall_ns = Some(v.parse::<u64>()?),
            Some(("maxrss_kib", v)) => rss = Some(v.parse::<u64>()?),
            Some(("code", v)) => code = Some(v.parse::<i32>().ok()),
            _ => {}
        }
    }
    match (wall_ns, rss, code) {
        (Some(wall_ns), Some(max_rss_kib), Some(code)) => Ok((
            Sample {
                wall: Duration::from_nanos(wall_ns),
                max_rss_kib,
            },
            code,
        )),
        _ => bail!("missing fields"),
    }
}

/// The helper's entry point: `--measure TIMEOUT_MS OUT ERR SS ARGS...`. It prints
/// `wall_ns=… maxrss_kib=… code=…` (code `none` when `ss` was killed).
pub fn helper_main(args: &[String]) -> ExitCode {
    match helper(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("measuring helper: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn helper(args: &[String]) -> Result<()> {
    let [timeout_ms, out, err, ss, ss_args @ ..] = args else {
        bail!("usage: {MEASURE_FLAG} TIMEOUT_MS OUT ERR SS [ARGS...]");
    };
    let timeout = Duration::from_millis(timeout_ms.parse()?);
    let stdout = File::create(out).with_context(|| format!("cannot create {out}"))?;
    let stderr = File::create(err).with_context(|| format!("cannot create {err}"))?;
    let started = Instant::now();
    let mut child = Command::new(ss)
        .args(ss_args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("cannot start {ss}"))?;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > timeout {
            child.kill()?;
            child.wait()?;
            break None;
        }
        sleep(POLL);
    };
    let wall = started.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    let code = status
        .and_then(|s| s.code())
        .map_or_else(|| "none".to_string(), |c| c.to_string());
    println!(
        "wall_ns={} maxrss_kib={} code={code}",
        wall.as_nanos(),
        usage.max_rss()
    );
    Ok(())
}
