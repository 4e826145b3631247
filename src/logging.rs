//! The one tracing subscriber of the process: libraries emit events, only the binary decides
//! where they go (stderr) and how much of them (`SS_LOG`, or `-v`).

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

/// The environment variable holding the log filter (`warn`, `ss=debug,planner=trace`, ...).
pub const LOG_ENV: &str = "SS_LOG";

/// The filter directives: `SS_LOG` when set, else from the verbosity (`-v` info, `-vv` debug,
/// `-vvv` trace), else `warn`.
fn directives(env: Option<String>, verbose: u8) -> String {
    match env.filter(|s| !s.trim().is_empty()) {
        Some(s) => s,
        None => match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
        .to_string(),
    }
}

/// Installs the stderr subscriber; call once, from `main`.
pub fn init(verbose: u8, color: bool) -> anyhow::Result<()> {
    let filter = directives(std::env::var(LOG_ENV).ok(), verbose);
    let env_filter = EnvFilter::try_new(&filter)
        .with_context(|| format!("invalid {LOG_ENV} filter {filter:?}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(true)
        .try_init()
        .map_err(|e| anyhow::anyhow!("installing the log subscriber: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_wins_over_verbosity() {
        assert_eq!(directives(None, 0), "warn");
        assert_eq!(directives(None, 2), "debug");
        assert_eq!(directives(Some("planner=trace".into()), 0), "planner=trace");
        assert_eq!(directives(Some("  ".into()), 1), "info");
    }

    #[test]
    fn filters_parse() {
        for v in 0..4 {
            assert!(EnvFilter::try_new(directives(None, v)).is_ok());
        }
    }
}
