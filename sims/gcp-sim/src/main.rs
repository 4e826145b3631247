//! The `gcp-sim` binary: see the library's documentation.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// A simulator of the Google Cloud REST APIs (sqladmin v1, redis v1, container v1, compute v1)
/// for tests: discovery-validated requests, OAuth2 bearer tokens, in-memory objects with
/// long-running operations, fault injection.
///
/// The first line on stdout is one JSON object giving the base URL of each API and the token
/// URL: {"sqladmin","redis","container","compute","token"}. API URLs are http://HOST:PORT;
/// compute requests carry /compute/v1/ in their path (the URL does not include it).
#[derive(Parser, Debug)]
#[command(name = "gcp-sim", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    sim: sim_kit::Args,
}

/// The help of the common flags, as they apply to the Google APIs.
const HELP: &[(&str, &str)] = &[
    (
        "listen",
        "Host and first port (port 0: every listener on a free port; port P: token on P, then sqladmin, redis, container, compute on P+1 … P+4)",
    ),
    (
        "request_log",
        "Write one JSON object per request: {\"api\",\"method\",\"path\",\"query\",\"body\",\"status\"}",
    ),
    (
        "delay_ms",
        "Time each operation phase takes (PENDING → RUNNING → DONE), in milliseconds",
    ),
    (
        "fail_rate",
        "Fraction of mutating requests answered 500/503 (half of the failed creates are carried out)",
    ),
    (
        "throttle_rate",
        "Fraction of API requests answered 429 RESOURCE_EXHAUSTED",
    ),
    (
        "schema_dir",
        "Directory holding sqladmin.v1.json, redis.v1.json, container.v1.json, compute.v1.json, servicenetworking.v1.json and networkconnectivity.v1.json",
    ),
];

#[derive(Subcommand, Debug)]
enum Command {
    /// Replays HTTP logs recorded against the real APIs (k8s-config-connector's `_http.log`
    /// format, e.g. sims/real/gcp/*/*.log) against a fresh in-process simulator per log and
    /// compares each answer's status and JSON shape with the recorded one.
    ///
    /// Prints one line per mismatching exchange (`FILE #N METHOD PATH: what differs`), one
    /// per skipped exchange (`FILE #N METHOD PATH: skipped: REASON`) and a final line
    /// `replay: M of N exchanges match, S skipped`. Exits 0 only when every exchange that
    /// was sent matches.
    Replay {
        /// The log files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The simulator's operation phase time, in milliseconds.
        #[arg(long, default_value_t = 30)]
        delay_ms: u64,
        /// How long a recorded finished operation or ready object is polled for, in seconds.
        #[arg(long, default_value_t = 10)]
        poll_timeout_s: u64,
    },
}

/// Runs `gcp-sim replay`, printing each log's lines as soon as it is done.
async fn replay(files: &[PathBuf], options: &gcp_sim::replay::Options) -> ExitCode {
    let mut report = gcp_sim::replay::Report::default();
    let mut out = std::io::stdout();
    for file in files {
        let outcomes = match gcp_sim::replay::replay_file(file, options).await {
            Ok(outcomes) => outcomes,
            Err(e) => {
                eprintln!("gcp-sim replay: {e}");
                return ExitCode::from(2);
            }
        };
        for line in outcomes.iter().filter_map(gcp_sim::replay::Outcome::line) {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
        report.outcomes.extend(outcomes);
    }
    let _ = writeln!(out, "{}", report.summary());
    if report.all_match() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = sim_kit::parse_args(HELP);
    let schema_dir = cli
        .sim
        .schema_dir
        .clone()
        .unwrap_or_else(gcp_sim::default_schema_dir);
    if let Some(Command::Replay {
        files,
        delay_ms,
        poll_timeout_s,
    }) = &cli.command
    {
        let options = gcp_sim::replay::Options {
            delay: Duration::from_millis(*delay_ms),
            poll_timeout: Duration::from_secs(*poll_timeout_s),
            schema_dir,
            ..gcp_sim::replay::Options::default()
        };
        return replay(files, &options).await;
    }
    let config = gcp_sim::Config {
        schema_dir,
        ..gcp_sim::Config::from_args(&cli.sim)
    };
    let start = async {
        let (urls, handle) = gcp_sim::serve(config).await?;
        Ok((urls.to_json().to_string(), handle.wait()))
    };
    sim_kit::run("gcp-sim", &cli.sim, start).await
}
