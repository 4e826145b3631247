//! The `ovh-sim` binary: see the library's documentation.

use std::process::ExitCode;

use clap::Parser;

/// A simulator of the OVHcloud API v1 for tests: schema-validated, signed requests,
/// in-memory objects walked through their status values, fault injection.
///
/// The provider reaches it with the endpoint `http://HOST:PORT/v1`. The first line on stdout is
/// `listening on http://HOST:PORT`.
#[derive(Parser, Debug)]
#[command(name = "ovh-sim", version)]
struct Cli {
    #[command(flatten)]
    sim: sim_kit::Args,
    /// Application key the clients must send (X-Ovh-Application); also the OAuth2 client_id.
    #[arg(long, default_value = "sim-app-key")]
    app_key: String,
    /// Application secret the signatures are made with; also the OAuth2 client_secret.
    #[arg(long, default_value = "sim-app-secret")]
    app_secret: String,
    /// Consumer key the clients must send (X-Ovh-Consumer).
    #[arg(long, default_value = "sim-consumer-key")]
    consumer_key: String,
}

/// The help of the common flags, as they apply to OVH.
const HELP: &[(&str, &str)] = &[
    (
        "request_log",
        "Append one JSON object per request: {\"method\",\"path\",\"query\",\"body\",\"status\"}, plus \"injected\" on the answers made up by fault injection",
    ),
    (
        "delay_ms",
        "Time each asynchronous status step takes (CREATING → READY, …), in milliseconds",
    ),
    (
        "fail_rate",
        "Fraction of non-GET requests answered 500 (half of the failed POSTs are carried out)",
    ),
    (
        "throttle_rate",
        "Fraction of API requests answered 429 Client::TooManyRequests",
    ),
    (
        "schema_dir",
        "Directory holding cloud.v1.json, cdn-dedicated.v1.json and auth.v1.json",
    ),
];

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = sim_kit::parse_args(HELP);
    let config = ovh_sim::Config {
        schema_dir: cli
            .sim
            .schema_dir
            .clone()
            .unwrap_or_else(ovh_sim::default_schema_dir),
        app_key: cli.app_key,
        app_secret: cli.app_secret,
        consumer_key: cli.consumer_key,
        ..ovh_sim::Config::from_args(&cli.sim)
    };
    let start = async {
        let (addr, handle) = ovh_sim::serve(config).await?;
        Ok((format!("listening on http://{addr}"), handle.wait()))
    };
    sim_kit::run("ovh-sim", &cli.sim, start).await
}
