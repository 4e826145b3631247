//! The `kube-sim` binary: see the library's documentation.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// A Kubernetes API server (1.33) for tests: discovery, namespaced CRUD, server-side apply with
/// managed fields and conflicts, status that progresses, CRDs; refuses what the Kubernetes
/// OpenAPI schema refuses. Accepts any bearer token.
///
/// The first line on stdout is the base URL, `http://HOST:PORT`.
#[derive(Parser, Debug)]
#[command(name = "kube-sim", version)]
struct Cli {
    #[command(flatten)]
    sim: sim_kit::Args,
    /// Write a kubeconfig reaching the simulator (context `kube-sim`, any token) to this file.
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// A Job name that fails (backoff limit exceeded) instead of completing; repeatable.
    #[arg(long, value_name = "NAME")]
    failing_job: Vec<String>,
}

/// The help of the common flags, as they apply to Kubernetes.
const HELP: &[(&str, &str)] = &[
    (
        "request_log",
        "Append one JSON object per request: {\"method\",\"path\",\"query\",\"body\",\"status\"} (a Secret's data hidden), plus \"injected\" on the answers made up by fault injection",
    ),
    (
        "delay_ms",
        "Time a status takes to catch up with a change (Deployment rolled out, Job complete) and a pending deletion takes, in milliseconds",
    ),
    (
        "fail_rate",
        "Fraction of non-GET requests answered 500 (half of the failed POSTs are carried out)",
    ),
    ("throttle_rate", "Fraction of API requests answered 429"),
    (
        "schema_dir",
        "Directory holding v1.33.0-local-strict.definitions.json (the Kubernetes OpenAPI definitions)",
    ),
];

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = sim_kit::parse_args(HELP);
    let config = kube_sim::Config {
        schema_dir: cli
            .sim
            .schema_dir
            .clone()
            .unwrap_or_else(kube_sim::default_schema_dir),
        failing_jobs: cli.failing_job.clone(),
        ..kube_sim::Config::from_args(&cli.sim)
    };
    let kubeconfig = cli.kubeconfig.clone();
    let start = async {
        let (_, handle) = kube_sim::serve(config).await?;
        if let Some(path) = &kubeconfig {
            handle.write_kubeconfig(path)?;
        }
        Ok((handle.url().to_string(), handle.wait()))
    };
    sim_kit::run("kube-sim", &cli.sim, start).await
}
