//! The `ovh-sim` binary: see the library's documentation.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// A simulator of the OVHcloud API v1 for tests: schema-validated, signed requests,
/// in-memory objects walked through their status values, fault injection.
///
/// The provider reaches it with the endpoint `http://HOST:PORT/v1`. The first line on stdout is
/// `listening on http://HOST:PORT`.
#[derive(Parser, Debug)]
#[command(name = "ovh-sim", version)]
struct Cli {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Append one JSON object per request: {"method","path","query","body","status"}, plus
    /// "injected" on the answers made up by fault injection.
    #[arg(long, value_name = "FILE")]
    request_log: Option<PathBuf>,
    /// Application key the clients must send (X-Ovh-Application); also the OAuth2 client_id.
    #[arg(long, default_value = "sim-app-key")]
    app_key: String,
    /// Application secret the signatures are made with; also the OAuth2 client_secret.
    #[arg(long, default_value = "sim-app-secret")]
    app_secret: String,
    /// Consumer key the clients must send (X-Ovh-Consumer).
    #[arg(long, default_value = "sim-consumer-key")]
    consumer_key: String,
    /// Time each asynchronous status step takes (CREATING → READY, …), in milliseconds.
    #[arg(long, default_value_t = 200)]
    delay_ms: u64,
    /// Extra time before every API answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fraction of non-GET requests answered 500 (half of the failed POSTs are carried out).
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// Fraction of API requests answered 429 Client::TooManyRequests.
    #[arg(long, default_value_t = 0.0)]
    throttle_rate: f64,
    /// Seed of the fault injection and id generation (deterministic runs).
    #[arg(long)]
    seed: Option<u64>,
    /// Directory holding cloud.v1.json, cdn-dedicated.v1.json and auth.v1.json.
    #[arg(long, value_name = "DIR")]
    schema_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    for (name, rate) in [
        ("--fail-rate", cli.fail_rate),
        ("--throttle-rate", cli.throttle_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            eprintln!("ovh-sim: {name} must be between 0 and 1");
            return ExitCode::from(2);
        }
    }
    let config = ovh_sim::Config {
        listen: cli.listen,
        schema_dir: cli.schema_dir.unwrap_or_else(ovh_sim::default_schema_dir),
        request_log: cli.request_log,
        app_key: cli.app_key,
        app_secret: cli.app_secret,
        consumer_key: cli.consumer_key,
        delay: Duration::from_millis(cli.delay_ms),
        latency: Duration::from_millis(cli.latency_ms),
        fail_rate: cli.fail_rate,
        throttle_rate: cli.throttle_rate,
        seed: cli.seed,
    };
    let (addr, handle) = match ovh_sim::serve(config).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("ovh-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on http://{addr}");
    let _ = out.flush();
    tokio::select! {
        _ = handle.wait() => ExitCode::FAILURE,
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
    }
}
