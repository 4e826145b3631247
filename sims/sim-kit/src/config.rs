//! The settings every simulator has, in its `Config` ([`sim_config!`]) and on its command line
//! ([`Args`]), and the binary's `main` ([`run`]).

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::faults::Faults;

/// The settings the kit acts on, common to every simulator.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Host and (first) port; port 0 takes any free port.
    pub listen: SocketAddr,
    /// Where one JSON line per request is written, if anywhere.
    pub request_log: Option<PathBuf>,
    /// The time each asynchronous step takes (a status change, an operation phase).
    pub delay: Duration,
    /// Added before every API answer.
    pub latency: Duration,
    /// Fraction of mutating requests answered with an injected server error.
    pub fail_rate: f64,
    /// Fraction of API requests answered with an injected throttling error.
    pub throttle_rate: f64,
    /// Seed of the fault injection and id generation (deterministic runs).
    pub seed: Option<u64>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            request_log: None,
            delay: Duration::from_millis(200),
            latency: Duration::ZERO,
            fail_rate: 0.0,
            throttle_rate: 0.0,
            seed: None,
        }
    }
}

impl Settings {
    /// The fault injection these settings ask for.
    pub fn faults(&self) -> Faults {
        Faults {
            fail_rate: self.fail_rate,
            throttle_rate: self.throttle_rate,
            latency: self.latency,
        }
    }
}

/// Declares a simulator's `Config`: the common settings of [`Settings`] as public fields
/// (so that callers write `Config { delay, ..Config::default() }`), followed by the
/// simulator's own fields with their defaults (`pub name: Type = default_expr`). It also
/// gives `Config::settings()` (the common part) and `Config::from_args(&Args)` (the command
/// line's settings, the simulator's own fields at their defaults).
#[macro_export]
macro_rules! sim_config {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty = $default:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name {
            /// Host and (first) port; port 0 takes any free port.
            pub listen: ::std::net::SocketAddr,
            /// Where one JSON line per request is written, if anywhere.
            pub request_log: ::std::option::Option<::std::path::PathBuf>,
            /// The time each asynchronous step takes (a status change, an operation phase).
            pub delay: ::std::time::Duration,
            /// Added before every API answer.
            pub latency: ::std::time::Duration,
            /// Fraction of mutating requests answered with an injected server error.
            pub fail_rate: f64,
            /// Fraction of API requests answered with an injected throttling error.
            pub throttle_rate: f64,
            /// Seed of the fault injection and id generation (deterministic runs).
            pub seed: ::std::option::Option<u64>,
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl ::std::default::Default for $name {
            fn default() -> Self {
                Self::with_settings($crate::Settings::default())
            }
        }

        impl $name {
            /// The common settings, the simulator's own fields at their defaults.
            pub fn with_settings(s: $crate::Settings) -> Self {
                $name {
                    listen: s.listen,
                    request_log: s.request_log,
                    delay: s.delay,
                    latency: s.latency,
                    fail_rate: s.fail_rate,
                    throttle_rate: s.throttle_rate,
                    seed: s.seed,
                    $( $field: $default, )*
                }
            }

            /// What the command line asks for, the simulator's own fields at their defaults.
            pub fn from_args(args: &$crate::Args) -> Self {
                Self::with_settings(args.settings())
            }

            /// The common settings.
            pub fn settings(&self) -> $crate::Settings {
                $crate::Settings {
                    listen: self.listen,
                    request_log: self.request_log.clone(),
                    delay: self.delay,
                    latency: self.latency,
                    fail_rate: self.fail_rate,
                    throttle_rate: self.throttle_rate,
                    seed: self.seed,
                }
            }

            /// The fault injection the settings ask for.
            pub fn faults(&self) -> $crate::Faults {
                $crate::Faults {
                    fail_rate: self.fail_rate,
                    throttle_rate: self.throttle_rate,
                    latency: self.latency,
                }
            }
        }
    };
}

/// The common flags of a simulator binary, flattened into its parser
/// (`#[command(flatten)] sim: sim_kit::Args`). Each simulator may reword their help for
/// its own API with [`parse_args`].
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Write one JSON object per request.
    #[arg(long, value_name = "FILE")]
    pub request_log: Option<PathBuf>,
    /// Time each asynchronous step takes, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub delay_ms: u64,
    /// Extra time before every API answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fraction of mutating requests answered with a server error.
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Fraction of API requests answered with a throttling error.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Seed of the fault injection and id generation (deterministic runs).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Directory holding the API descriptions.
    #[arg(long, value_name = "DIR")]
    pub schema_dir: Option<PathBuf>,
}

impl Args {
    /// The settings these flags give.
    pub fn settings(&self) -> Settings {
        Settings {
            listen: self.listen,
            request_log: self.request_log.clone(),
            delay: Duration::from_millis(self.delay_ms),
            latency: Duration::from_millis(self.latency_ms),
            fail_rate: self.fail_rate,
            throttle_rate: self.throttle_rate,
            seed: self.seed,
        }
    }

    /// Refuses a rate outside `[0, 1]`, naming its flag.
    pub fn check(&self) -> Result<(), String> {
        for (name, rate) in [
            ("--fail-rate", self.fail_rate),
            ("--throttle-rate", self.throttle_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        Ok(())
    }
}

/// Parses the command line of a simulator binary, with the help of some flags reworded for
/// that simulator (`(argument id, help)`, e.g. `("delay_ms", "Time each …")`).
pub fn parse_args<C: clap::Parser>(help: &[(&'static str, &'static str)]) -> C {
    let mut command = C::command();
    for (id, text) in help {
        command = command.mut_arg(*id, |a| a.help(*text));
    }
    let matches = command.get_matches();
    C::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// The `main` of a simulator binary: refuses bad flags (exit 2), starts the simulator
/// (`start` answers the first stdout line, the base URL or URLs, and a future that ends only
/// if the server fails), prints that line, and serves until Ctrl-C (exit 0) or a failure
/// (exit 1). Errors are printed as `PROGRAM: message`.
pub async fn run<S, W>(program: &str, args: &Args, start: S) -> ExitCode
where
    S: Future<Output = Result<(String, W), String>>,
    W: Future<Output = ()>,
{
    if let Err(e) = args.check() {
        eprintln!("{program}: {e}");
        return ExitCode::from(2);
    }
    let (first_line, wait) = match start.await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{program}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{first_line}");
    let _ = out.flush();
    tokio::select! {
        _ = wait => ExitCode::FAILURE,
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
    }
}
