//! `ss`: the command-line entry point. Parses arguments, installs logging, runs the command on
//! a tokio runtime and maps the outcome to an exit code (0 success, 1 error, 2 changes present
//! with `--detailed-exitcode`, decided by the command).

// First, so that every module below has the output macros.
#[macro_use]
mod out;

mod backends;
mod cli;
mod commands;
mod logging;
mod progress;
mod registry;
mod render;
mod report;
mod session;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // Usage errors are errors (exit 1); `--help` and `--version` are not. clap's own
            // exit code 2 would read as "changes present".
            return if err.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let color = cli::color_allowed(cli.no_color) && std::io::stderr().is_terminal();
    if let Err(err) = logging::init(cli.verbose, color) {
        report::print_error(&err, color);
        return ExitCode::FAILURE;
    }
    // Blocking work (file I/O of the state and the sandbox cloud) needs few threads; each
    // extra thread that allocates gets its own malloc arena, which costs memory at scale.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            report::print_error(
                &anyhow::Error::new(err).context("starting the async runtime"),
                color,
            );
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(commands::run(cli));
    // Remote locks dropped on the way out are released in the background: give those
    // releases a moment to finish (a release that never runs is covered by the lease).
    runtime.block_on(state::release::settle(std::time::Duration::from_secs(5)));
    match outcome {
        Ok(code) => code,
        Err(err) => {
            tracing::debug!(error = ?err, "command failed");
            // A `Reported` error has already been shown in full (diagnostics with snippets).
            if err.downcast_ref::<session::Reported>().is_none() {
                report::print_error(&err, color);
            }
            ExitCode::FAILURE
        }
    }
}
