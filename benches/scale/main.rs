//! `cargo bench --bench scale`: how `ss` scales with the number of resources (issue 3, item 6).
//!
//! It generates a layered DAG of N `sandbox_object` resources in a temporary directory, runs the
//! release `ss` binary through `validate`, `plan` (from empty), `apply` (no latency), `plan`
//! (no changes) and `destroy`, and prints the median wall time and peak RSS of each against the
//! targets. A second run gives every resource a `create_latency` and compares the apply's wall
//! time with the critical path of the graph. It checks the results as it goes (the state holds
//! N resources after apply, the sandbox cloud is empty after destroy) and exits 1 when they are
//! wrong; a missed target is a measurement, not a failure, so it exits 0 then.
//!
//! `cargo bench --bench scale -- --sizes 1000,10000 --runs 3` (see `--help`).

mod dag;
mod measure;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde_json::Value as Json;

use dag::{Dag, Params};
use measure::{Failed, Invocation, Sample};

#[derive(Debug, Parser)]
#[command(
    name = "scale",
    about = "Measure ss at scale: wall time and peak RSS of validate, plan, apply, no-op plan \
             and destroy of a generated N-resource stack, and apply time vs critical path."
)]
struct Args {
    /// Numbers of resources to measure.
    #[arg(
        long,
        env = "SS_BENCH_SIZES",
        value_name = "N,N,...",
        value_delimiter = ',',
        default_values_t = [1000, 10000]
    )]
    sizes: Vec<usize>,

    /// Measurements of each figure; the median is reported.
    #[arg(long, env = "SS_BENCH_RUNS", default_value_t = 3)]
    runs: usize,

    /// Layers of the DAG for the size runs.
    #[arg(long, default_value_t = 12)]
    layers: usize,

    /// Resources of the latency run (0 skips it).
    #[arg(long, env = "SS_BENCH_LATENCY_SIZE", default_value_t = 1000)]
    latency_size: usize,

    /// Layers of the DAG for the latency run: more layers, longer critical path.
    #[arg(long, default_value_t = 32)]
    latency_layers: usize,

    /// Smallest and largest `create_latency` of the latency run, in milliseconds.
    #[arg(long, value_name = "MIN,MAX", value_delimiter = ',', default_values_t = [20, 200])]
    latency_ms: Vec<u64>,

    /// Seed of the generated specs; the same seed gives the same specs.
    #[arg(long, default_value_t = 3)]
    seed: u64,

    /// Time limit of one `ss` run, in seconds.
    #[arg(long, default_value_t = 900)]
    timeout: u64,

    /// Keep the temporary directories (their paths are printed).
    #[arg(long)]
    keep: bool,

    /// Keep the simulated cloud on disk beside the spec instead of in memory (`/dev/shm`).
    /// By default it lives in memory: the sandbox keeps a file per object, and on this
    /// machine's ext4 creating files right after deleting thousands is slow in the kernel,
    /// which would measure the filesystem rather than ss. State and journal are on disk
    /// either way.
    #[arg(long)]
    cloud_on_disk: bool,

    /// Passed by `cargo bench`; without it (as under `cargo test --benches`) and without any
    /// other argument, a quick correctness run replaces the full benchmark.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The measured commands, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Validate,
    Plan,
    Apply,
    NoopPlan,
    Destroy,
}

impl Phase {
    const ALL: [Phase; 5] = [
        Phase::Validate,
        Phase::Plan,
        Phase::Apply,
        Phase::NoopPlan,
        Phase::Destroy,
    ];

    fn name(self) -> &'static str {
        match self {
            Phase::Validate => "validate",
            Phase::Plan => "plan",
            Phase::Apply => "apply",
            Phase::NoopPlan => "no-op plan",
            Phase::Destroy => "destroy",
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            Phase::Validate => &["validate"],
            // With --detailed-exitcode, exit code 2 says "changes" and 0 "no changes": a
            // check of the plan that costs nothing.
            Phase::Plan | Phase::NoopPlan => &["plan", "--detailed-exitcode"],
            Phase::Apply => &["apply", "--auto-approve"],
            Phase::Destroy => &["destroy", "--auto-approve"],
        }
    }

    fn expected_code(self) -> i32 {
        match self {
            Phase::Plan => 2,
            _ => 0,
        }
    }

    /// The wall-time target at N = 10,000 (issue 3).
    fn target_at_10k(self) -> Option<Duration> {
        match self {
            Phase::Validate => None,
            Phase::Plan | Phase::NoopPlan => Some(Duration::from_secs(1)),
            Phase::Apply | Phase::Destroy => Some(Duration::from_secs(5)),
        }
    }
}

const TARGET_N: usize = 10_000;
const TARGET_RSS_MB: f64 = 300.0;
const TARGET_LATENCY_RATIO: f64 = 1.1;
/// The 10k / 1k ratio target is 12, i.e. 1.2 × the ratio of the sizes.
const GROWTH_SLACK: f64 = 1.2;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some(measure::MEASURE_FLAG) {
        return measure::helper_main(&argv[2..]);
    }
    let mut args = Args::parse();
    if !args.bench && argv.len() == 1 {
        args = quick_args();
        println!(
            "Quick correctness run (started without --bench, as by `cargo test --benches`): \
             the figures below are too small to mean anything; use `cargo bench --bench scale`."
        );
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nerror: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A small run that checks the tool and `ss` work, for `cargo test --benches`.
fn quick_args() -> Args {
    Args {
        sizes: vec![100],
        runs: 1,
        layers: 6,
        latency_size: 100,
        latency_layers: 6,
        latency_ms: vec![20, 60],
        seed: 3,
        timeout: 120,
        keep: false,
        cloud_on_disk: false,
        bench: false,
    }
}

/// Median, smallest and largest of some samples.
#[derive(Debug, Clone, Copy)]
struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

impl Stats {
    fn of(values: &[f64]) -> Stats {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => v[n / 2],
            _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        };
        Stats {
            median,
            min: v.first().copied().unwrap_or(f64::NAN),
            max: v.last().copied().unwrap_or(f64::NAN),
        }
    }
}

/// The figures of one phase at one size.
struct Figure {
    n: usize,
    phase: Phase,
    seconds: Stats,
    rss_mb: Stats,
}

/// Seconds with three significant decimals below one second (where a 1,000-resource figure
/// lies, and where the growth ratios come from) and two above.
fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{s:.3}")
    } else {
        format!("{s:.2}")
    }
}

fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// A collector of missed targets, printed again at the end.
#[derive(Default)]
struct Verdicts {
    missed: Vec<String>,
}

impl Verdicts {
    fn check(&mut self, ok: bool, what: String) -> &'static str {
        if ok {
            "OK"
        } else {
            self.missed.push(what);
            "MISSED"
        }
    }
}

fn run(args: &Args) -> Result<()> {
    if args.runs == 0 || args.sizes.is_empty() {
        bail!("--runs and --sizes must not be empty");
    }
    let ss = PathBuf::from(env!("CARGO_BIN_EXE_ss"));
    print_header(args, &ss);
    let mut verdicts = Verdicts::default();
    let mut figures = Vec::new();
    for &n in &args.sizes {
        figures.extend(measure_size(args, &ss, n, &mut verdicts)?);
    }
    print_growth(args, &figures, &mut verdicts);
    if args.latency_size > 0 {
        measure_latency(args, &ss, &mut verdicts)?;
    }
    println!();
    if verdicts.missed.is_empty() {
        println!("All targets met.");
    } else {
        println!("MISSED {} target(s):", verdicts.missed.len());
        for what in &verdicts.missed {
            println!("  MISSED {what}");
        }
    }
    Ok(())
}

fn print_header(args: &Args, ss: &Path) {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!("ss scale benchmark");
    println!(
        "machine: {cpus} CPUs (nproc), {model}, {:.0} GiB RAM, Linux {}",
        mem_kib as f64 / 1024.0 / 1024.0,
        kernel.trim()
    );
    // Other work on the machine inflates the figures; the load average shows how much there was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!("load:    {} (1, 5, 15 min) at start", load.join(" "));
    println!("ss:      {}", ss.display());
    println!(
        "method:  each figure is the median (min, max) of {} runs, each in a fresh temporary \
         directory with its own sandbox cloud (provider latency 0); wall time from spawning ss to \
         reaping it; peak RSS = ru_maxrss of getrusage(RUSAGE_CHILDREN) in a fresh helper process \
         whose only child is that ss process (MB = 10^6 bytes)",
        args.runs
    );
    println!(
        "spec:    layered DAG of sandbox_object resources, {} layers of random widths, each \
         block's input reads the ids of 1-4 blocks of earlier layers (one of the previous layer; \
         a few hubs of layer 0 read by many), one count and one for_each block per layer; seed {}",
        args.layers, args.seed
    );
}

/// Runs the five phases `runs` times at size `n` and prints their figures.
fn measure_size(args: &Args, ss: &Path, n: usize, verdicts: &mut Verdicts) -> Result<Vec<Figure>> {
    let dag = Dag::generate(&Params {
        resources: n,
        layers: args.layers,
        seed: args.seed,
        latency_ms: None,
    });
    check_instances(&dag, n)?;
    println!(
        "\nN={n}: {} blocks ({} count, {} for_each), {} references, largest fan-out {}",
        dag.blocks.len(),
        dag.count_blocks(),
        dag.for_each_blocks(),
        dag.references(),
        dag.max_fan_out()
    );
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); Phase::ALL.len()];
    for run in 0..args.runs {
        let label = format!("run {}/{} at N={n}", run + 1, args.runs);
        in_workdir(args, &format!("ss-bench-{n}-"), &label, |work| {
            let spec = work.join("spec");
            let cloud_dir = CloudDir::new(args, work)?;
            let cloud = cloud_dir.path();
            dag.write(&spec).context("cannot write the spec")?;
            for (i, phase) in Phase::ALL.into_iter().enumerate() {
                let inv = Invocation {
                    ss,
                    args: phase.args(),
                    cwd: &spec,
                    cloud,
                    log: work.join(phase.name().replace(' ', "-")),
                    timeout: Duration::from_secs(args.timeout),
                };
                let (sample, code) = inv.run()?;
                if code != Some(phase.expected_code()) {
                    return Err(failure(inv.failed(code, &[phase.expected_code()])));
                }
                samples[i].push(sample);
                match phase {
                    Phase::Apply => verify_applied(ss, &spec, cloud, n)?,
                    Phase::Destroy => verify_destroyed(ss, &spec, cloud)?,
                    _ => {}
                }
            }
            Ok(())
        })?;
    }
    let mut figures = Vec::new();
    for (phase, samples) in Phase::ALL.into_iter().zip(samples) {
        let seconds: Vec<f64> = samples.iter().map(|s| s.wall.as_secs_f64()).collect();
        let rss: Vec<f64> = samples.iter().map(|s| mb(s.max_rss_kib)).collect();
        let figure = Figure {
            n,
            phase,
            seconds: Stats::of(&seconds),
            rss_mb: Stats::of(&rss),
        };
        print_figure(&figure, verdicts);
        figures.push(figure);
    }
    Ok(figures)
}

fn print_figure(f: &Figure, verdicts: &mut Verdicts) {
    let line = format!(
        "N={:<6} {:<10} {:>6} s (min {}, max {})  peak RSS {:>4.0} MB",
        f.n,
        f.phase.name(),
        secs(f.seconds.median),
        secs(f.seconds.min),
        secs(f.seconds.max),
        f.rss_mb.median
    );
    if f.n != TARGET_N {
        println!("{line} | no absolute target at this N");
        return;
    }
    let rss_ok = f.rss_mb.median <= TARGET_RSS_MB;
    let rss_what = format!(
        "N={} {} peak RSS {:.0} MB > {TARGET_RSS_MB:.0} MB",
        f.n,
        f.phase.name(),
        f.rss_mb.median
    );
    match f.phase.target_at_10k() {
        Some(target) => {
            let time_ok = f.seconds.median <= target.as_secs_f64();
            let verdict = verdicts.check(
                time_ok && rss_ok,
                format!(
                    "N={} {} {:.2} s (target ≤ {} s), peak RSS {:.0} MB (target ≤ {TARGET_RSS_MB:.0} MB)",
                    f.n,
                    f.phase.name(),
                    f.seconds.median,
                    target.as_secs(),
                    f.rss_mb.median
                ),
            );
            println!(
                "{line} | target ≤ {} s, RSS ≤ {TARGET_RSS_MB:.0} MB | {verdict}",
                target.as_secs()
            );
        }
        None => {
            let verdict = verdicts.check(rss_ok, rss_what);
            println!("{line} | target RSS ≤ {TARGET_RSS_MB:.0} MB | {verdict}");
        }
    }
}

/// Prints the ratio of every figure between the largest and the smallest size.
fn print_growth(args: &Args, figures: &[Figure], verdicts: &mut Verdicts) {
    let (Some(&small), Some(&large)) = (args.sizes.iter().min(), args.sizes.iter().max()) else {
        return;
    };
    if small == large || small == 0 {
        return;
    }
    let target = GROWTH_SLACK * large as f64 / small as f64;
    println!(
        "\ngrowth N={large} / N={small} (linear would be {}; target ≤ {target:.0}):",
        large / small
    );
    for phase in Phase::ALL {
        let find = |n: usize| figures.iter().find(|f| f.n == n && f.phase == phase);
        let (Some(a), Some(b)) = (find(small), find(large)) else {
            continue;
        };
        let time = b.seconds.median / a.seconds.median;
        let rss = b.rss_mb.median / a.rss_mb.median;
        let verdict = verdicts.check(
            time <= target && rss <= target,
            format!(
                "growth of {}: time ×{time:.1}, RSS ×{rss:.1} (target ≤ {target:.0})",
                phase.name()
            ),
        );
        println!(
            "  {:<10} time ×{time:>5.1}  peak RSS ×{rss:>4.1} | target ≤ {target:.0} | {verdict}",
            phase.name()
        );
    }
}

/// Applies a stack whose resources have create latencies and compares the wall time with the
/// critical path.
fn measure_latency(args: &Args, ss: &Path, verdicts: &mut Verdicts) -> Result<()> {
    let (lo, hi) = match args.latency_ms.as_slice() {
        [lo, hi] if lo <= hi => (*lo, *hi),
        _ => bail!("--latency-ms takes MIN,MAX"),
    };
    let n = args.latency_size;
    let dag = Dag::generate(&Params {
        resources: n,
        layers: args.latency_layers,
        seed: args.seed,
        latency_ms: Some((lo, hi)),
    });
    check_instances(&dag, n)?;
    let critical = dag.critical_path();
    println!(
        "\nlatency run: N={n}, {} layers, create_latency {lo}-{hi} ms per resource (seeded), \
         {} blocks, {} references; critical path {:.2} s",
        args.latency_layers,
        dag.blocks.len(),
        dag.references(),
        critical.as_secs_f64()
    );
    let mut ratios = Vec::new();
    let mut seconds = Vec::new();
    let mut rss = Vec::new();
    for run in 0..args.runs {
        let label = format!("latency run {}/{}", run + 1, args.runs);
        let sample = in_workdir(args, &format!("ss-bench-latency-{n}-"), &label, |work| {
            let spec = work.join("spec");
            let cloud_dir = CloudDir::new(args, work)?;
            let cloud = cloud_dir.path();
            dag.write(&spec).context("cannot write the spec")?;
            let inv = Invocation {
                ss,
                args: Phase::Apply.args(),
                cwd: &spec,
                cloud,
                log: work.join("apply"),
                timeout: Duration::from_secs(args.timeout),
            };
            let (sample, code) = inv.run()?;
            if code != Some(0) {
                return Err(failure(inv.failed(code, &[0])));
            }
            verify_applied(ss, &spec, cloud, n)?;
            let destroy = measure::ss_command(ss, &spec, cloud)
                .args(Phase::Destroy.args())
                .output()
                .context("cannot run ss destroy")?;
            if !destroy.status.success() {
                bail!(
                    "ss destroy after the latency run failed: {}\n{}",
                    destroy.status,
                    String::from_utf8_lossy(&destroy.stderr)
                );
            }
            verify_destroyed(ss, &spec, cloud)?;
            Ok(sample)
        })?;
        ratios.push(sample.wall.as_secs_f64() / critical.as_secs_f64());
        seconds.push(sample.wall.as_secs_f64());
        rss.push(mb(sample.max_rss_kib));
    }
    let ratio = Stats::of(&ratios);
    let wall = Stats::of(&seconds);
    let verdict = verdicts.check(
        ratio.median <= TARGET_LATENCY_RATIO,
        format!(
            "latency apply {:.2} s = {:.2} × critical path {:.2} s (target ≤ {TARGET_LATENCY_RATIO})",
            wall.median,
            ratio.median,
            critical.as_secs_f64()
        ),
    );
    println!(
        "N={n:<6} apply      {:>6} s (min {}, max {})  peak RSS {:>4.0} MB | \
         {:.3} × critical path (min {:.3}, max {:.3}) | target ≤ {TARGET_LATENCY_RATIO} | {verdict}",
        secs(wall.median),
        secs(wall.min),
        secs(wall.max),
        Stats::of(&rss).median,
        ratio.median,
        ratio.min,
        ratio.max
    );
    Ok(())
}

/// The generator must declare exactly `n` instances, or the state check after apply would
/// blame ss for the generator's mistake.
fn check_instances(dag: &Dag, n: usize) -> Result<()> {
    if dag.instances() != n {
        bail!(
            "the generated spec declares {} resources instead of {n}",
            dag.instances()
        );
    }
    Ok(())
}

/// Where a run's sandbox cloud lives: in memory when possible (see `--cloud-on-disk`),
/// removed with the run.
enum CloudDir {
    Memory(tempfile::TempDir),
    Disk(PathBuf),
}

impl CloudDir {
    fn new(args: &Args, work: &Path) -> Result<CloudDir> {
        let shm = Path::new("/dev/shm");
        if !args.cloud_on_disk && shm.is_dir() {
            let mut dir = tempfile::Builder::new()
                .prefix("ss-bench-cloud-")
                .tempdir_in(shm)
                .context("cannot create the sandbox cloud in /dev/shm")?;
            dir.disable_cleanup(args.keep);
            return Ok(CloudDir::Memory(dir));
        }
        Ok(CloudDir::Disk(work.join("cloud")))
    }

    fn path(&self) -> &Path {
        match self {
            CloudDir::Memory(dir) => dir.path(),
            CloudDir::Disk(path) => path,
        }
    }
}

/// Runs `body` in a fresh temporary directory, removed afterwards unless `--keep` was given or
/// the body failed: then the spec and the logs the error message points to stay for a look.
fn in_workdir<T>(
    args: &Args,
    prefix: &str,
    label: &str,
    body: impl FnOnce(&Path) -> Result<T>,
) -> Result<T> {
    let mut dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .context("cannot create a temporary directory")?;
    dir.disable_cleanup(args.keep);
    match body(dir.path()) {
        Ok(value) => {
            if args.keep {
                eprintln!("  {label} done (kept in {})", dir.path().display());
            } else {
                eprintln!("  {label} done");
            }
            Ok(value)
        }
        Err(e) => {
            dir.disable_cleanup(true);
            Err(e.context(format!(
                "{label} failed; its files are kept in {}",
                dir.path().display()
            )))
        }
    }
}

fn failure(f: Failed) -> anyhow::Error {
    anyhow::anyhow!("`{}` failed: {}\n{}", f.command, f.status, f.output_tail)
}

/// Runs an unmeasured `ss` command that prints a JSON array and returns the array.
fn json_list(ss: &Path, cwd: &Path, cloud: &Path, args: &[&str]) -> Result<Vec<Json>> {
    let out = measure::ss_command(ss, cwd, cloud)
        .args(args)
        .output()
        .with_context(|| format!("cannot run ss {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "`ss {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    match serde_json::from_slice(&out.stdout) {
        Ok(Json::Array(items)) => Ok(items),
        _ => bail!("`ss {}` did not print a JSON array", args.join(" ")),
    }
}

/// The cloud ids of a listing, checked to hold no duplicate.
fn ids(items: &[Json], what: &str) -> Result<BTreeSet<String>> {
    let mut set = BTreeSet::new();
    for item in items {
        let Some(id) = item.get("id").and_then(Json::as_str) else {
            bail!("{what}: an entry has no id: {item}");
        };
        if !set.insert(id.to_string()) {
            bail!("{what}: the id {id} appears twice");
        }
    }
    Ok(set)
}

/// After apply: the state holds exactly `n` resources, and the sandbox cloud holds exactly
/// the objects the state names.
fn verify_applied(ss: &Path, spec: &Path, cloud: &Path, n: usize) -> Result<()> {
    let state = json_list(ss, spec, cloud, &["state", "list", "--json"])?;
    if state.len() != n {
        bail!(
            "after apply, `ss state list --json` has {} entries, expected {n}",
            state.len()
        );
    }
    let sandbox = json_list(ss, spec, cloud, &["sandbox", "list", "--json"])?;
    let in_state = ids(&state, "ss state list")?;
    let in_cloud = ids(&sandbox, "ss sandbox list")?;
    if in_state != in_cloud {
        bail!(
            "after apply, the state and the sandbox cloud disagree: {} ids only in the state, \
             {} only in the cloud",
            in_state.difference(&in_cloud).count(),
            in_cloud.difference(&in_state).count()
        );
    }
    Ok(())
}

/// After destroy: the sandbox cloud and the state are empty.
fn verify_destroyed(ss: &Path, spec: &Path, cloud: &Path) -> Result<()> {
    let sandbox = json_list(ss, spec, cloud, &["sandbox", "list", "--json"])?;
    if !sandbox.is_empty() {
        bail!(
            "after destroy, `ss sandbox list --json` still has {} objects",
            sandbox.len()
        );
    }
    let state = json_list(ss, spec, cloud, &["state", "list", "--json"])?;
    if !state.is_empty() {
        bail!(
            "after destroy, `ss state list --json` still has {} entries",
            state.len()
        );
    }
    Ok(())
}
