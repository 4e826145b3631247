//! The built-in simulated cloud `sandbox`: every portable component decomposed into simulated
//! native resources with realistic attributes and latencies, plus the generic `sandbox_object`.
//!
//! The cloud lives in a directory ([`resolve_dir`]) independent of the state, so it outlives
//! `ss` processes and can be inspected or edited out of band with [`Cloud`] (`ss sandbox list`
//! / `ss sandbox set`). Every mutating call can be slowed down (`latency`, scaled by each
//! type's weight) and made to fail (`fail_rate`, `throttle_rate`, `timeout_rate`) to exercise
//! the core's retries, adoption and failure handling. See `expand.rs` for the decomposition of
//! each component and the size-class mapping.
//!
//! Creates and updates follow the pattern of real cloud APIs: the call returns at once with the
//! object `creating` (or `updating`) and a completion time, and the provider then polls the
//! object until it is `available`: at the announced completion time, or with exponential
//! backoff when none is given, within a per-type timeout (`ready_timeout`). A change of
//! nominal duration D therefore takes D of wall time, not D plus a poll interval.

mod cloud;
mod expand;
mod service;
mod types;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use provider_api::kit::{self, Expanded, Factory, Kit};
use provider_api::schema::{AttrType, AttributeSchema, Body, ProviderSchema};
use provider_api::{Attrs, Diagnostic, PlanResponse, Value, component};

pub use cloud::{Cloud, CloudObject, REDACTED, SandboxError, Status};

use service::{Faults, Simulated};
#[cfg(test)]
use service::{MAX_POLL, MIN_POLL, PollSchedule};

pub const NAME: &str = "sandbox";

/// The environment variable that chooses the cloud directory when the provider block does not.
pub const DIR_ENV: &str = "SS_SANDBOX_DIR";

/// Schema of the provider block: `latency` (duration string like "200ms", "1s", default "0s"),
/// `dir` (string, optional), `fail_rate` (number 0..1, default 0), `throttle_rate` (number 0..1,
/// default 0), `timeout_rate` (number 0..1, default 0), `ready_timeout` (duration, optional).
pub fn config_schema() -> Body {
    let rate = |what: &'static str| {
        AttributeSchema::optional(AttrType::Number, what).default(Value::Number(0.0))
    };
    Body::default()
        .attr(
            "latency",
            AttributeSchema::optional(
                AttrType::String,
                "Time unit of simulated operations: each type takes a multiple of it",
            )
            .default("0s"),
        )
        .attr(
            "dir",
            AttributeSchema::optional(
                AttrType::String,
                "Directory of the simulated cloud, relative to the spec",
            ),
        )
        .attr(
            "fail_rate",
            rate("Probability (0–1) that a change fails with a transient 5xx-like error"),
        )
        .attr(
            "throttle_rate",
            rate("Probability (0–1) that a change is throttled"),
        )
        .attr(
            "timeout_rate",
            rate("Probability (0–1) that a change times out"),
        )
        .attr(
            "ready_timeout",
            AttributeSchema::optional(
                AttrType::String,
                "How long to wait for an object to become ready, like \"5m\" (default: ten \
                 times the change's nominal duration, at least 30s)",
            ),
        )
}

/// The simulated cloud directory: `dir` from config if set (relative to `spec_dir`), else the
/// environment variable `SS_SANDBOX_DIR`, else `<spec_dir>/.ss/sandbox`.
pub fn resolve_dir(config_dir: Option<&str>, spec_dir: &Path) -> PathBuf {
    if let Some(dir) = config_dir {
        return spec_dir.join(dir);
    }
    match std::env::var_os(DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => spec_dir.join(".ss").join("sandbox"),
    }
}

/// The `sandbox` provider: the simulated cloud as its one service.
pub type SandboxProvider = Kit<Sandbox>;

/// How `ss` builds the sandbox provider.
pub fn factory() -> Factory {
    Factory::new(NAME, config_schema, configure)
}

/// The sandbox's checks, expansion and plan adjustment, and the simulated cloud it works on.
#[derive(Debug)]
pub struct Sandbox {
    cloud: Cloud,
    latency: Duration,
}

impl Sandbox {
    /// The simulated cloud this provider works on.
    pub fn cloud(&self) -> &Cloud {
        &self.cloud
    }

    /// The configured time unit of simulated operations (`latency`).
    pub fn latency(&self) -> Duration {
        self.latency
    }
}

#[async_trait::async_trait]
impl kit::Cloud for Sandbox {
    fn name(&self) -> &'static str {
        NAME
    }

    fn validate(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        if type_name == kubernetes::object::OBJECT {
            return kubernetes::object::validate(config);
        }
        expand::validate(type_name, config)
    }

    async fn check_offers(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        if type_name == component::SUPERSET {
            return kubernetes::app::check(config).await;
        }
        Vec::new()
    }

    fn expand(&self, type_name: &str, config: &Attrs) -> Option<Expanded> {
        expand::expand(type_name, config)
    }

    fn adjust_plan(&self, type_name: &str, plan: &mut PlanResponse) {
        if type_name == kubernetes::object::OBJECT {
            kubernetes::object::adjust_plan(plan);
        }
        if type_name == types::OBJECT {
            // `output` follows `input`, so a change of `input` shows on `output` too.
            let input = plan.planned.get("input").cloned().unwrap_or(Value::Null);
            plan.planned.insert("output".into(), input);
        }
    }
}

/// Builds the provider from the evaluated provider block. `spec_dir` is the spec directory.
pub fn configure(config: &Attrs, spec_dir: &Path) -> Result<SandboxProvider, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let present = |key: &str| config.get(key).filter(|v| !v.is_null());
    let mut duration = |key: &str| match present(key) {
        None => None,
        Some(v) => match v.as_str().map(humantime::parse_duration) {
            Some(Ok(d)) => Some(d),
            _ => {
                diags.push(
                    Diagnostic::error(format!(
                        "`{key}` must be a duration like \"200ms\" or \"1s\", got {v}"
                    ))
                    .at([key]),
                );
                None
            }
        },
    };
    let latency = duration("latency").unwrap_or(Duration::ZERO);
    let ready_timeout = duration("ready_timeout");
    let mut rate = |key: &str| match present(key) {
        None => 0.0,
        Some(v) => match v.as_f64() {
            Some(r) if (0.0..=1.0).contains(&r) => r,
            _ => {
                diags.push(
                    Diagnostic::error(format!("`{key}` must be a number from 0 to 1, got {v}"))
                        .at([key]),
                );
                0.0
            }
        },
    };
    let faults = Faults {
        fail_rate: rate("fail_rate"),
        throttle_rate: rate("throttle_rate"),
        timeout_rate: rate("timeout_rate"),
    };
    let dir = match present("dir") {
        None => None,
        Some(v) => match v.as_str() {
            Some(s) if !s.trim().is_empty() => Some(s.to_string()),
            _ => {
                diags.push(Diagnostic::error("`dir` must be a non-empty path").at(["dir"]));
                None
            }
        },
    };
    let cloud = match Cloud::open(&resolve_dir(dir.as_deref(), spec_dir)) {
        Ok(cloud) => Some(cloud),
        Err(e) => {
            diags.push(Diagnostic::error(e.to_string()).at(["dir"]));
            None
        }
    };
    match cloud {
        Some(cloud) if diags.is_empty() => {
            let mut resources = types::schemas();
            for s in kubernetes::schemas() {
                resources.insert(s.type_name.clone(), s);
            }
            let schema = ProviderSchema {
                config: config_schema(),
                resources,
                components: component::ALL.iter().map(|c| c.to_string()).collect(),
            };
            let simulated = Simulated::new(cloud.clone(), latency, faults, ready_timeout);
            // A `superset` given a kubeconfig deploys into that real cluster.
            let objects = kubernetes::object::Objects::new(
                ready_timeout.unwrap_or(provider_api::kit::wait::DEFAULT_READY_TIMEOUT),
            );
            Ok(Kit::new(
                Sandbox { cloud, latency },
                schema,
                vec![
                    Arc::new(simulated),
                    Arc::new(objects),
                    Arc::new(kubernetes::generated::Generated),
                ],
            ))
        }
        _ => Err(diags),
    }
}

#[cfg(test)]
mod tests;
