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
mod types;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use provider_api::schema::{AttrType, AttributeSchema, Body, ProviderSchema};
use provider_api::{
    Attrs, CreateRequest, Diagnostic, Expansion, Identity, PlanRequest, PlanResponse, Provider,
    ProviderError, ResourceState, Value, component,
};
use tokio::sync::Semaphore;

pub use cloud::{Cloud, CloudObject, REDACTED, SandboxError, Status};

use cloud::StoredObject;
use types::NativeType;

pub const NAME: &str = "sandbox";

/// The environment variable that chooses the cloud directory when the provider block does not.
pub const DIR_ENV: &str = "SS_SANDBOX_DIR";

/// Blocking cloud operations in flight per provider. Measured at 10,000 creates on two cores:
/// 4 to 64 perform alike; the bound keeps a large apply from occupying hundreds of threads.
const IO_SLOTS: usize = 16;

/// Updates take this fraction of a create's simulated time.
const UPDATE_FACTOR: f64 = 0.4;
/// Deletes take this fraction of a create's simulated time.
const DELETE_FACTOR: f64 = 0.6;

/// A readiness wait gives up after this many times the change's nominal duration…
const READY_TIMEOUT_FACTOR: u32 = 10;
/// …but never sooner than this, so a zero or tiny latency does not time out on a busy machine.
const MIN_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Bounds of the pause between two polls of an object whose completion time is unknown.
const MIN_POLL: Duration = Duration::from_millis(5);
const MAX_POLL: Duration = Duration::from_secs(1);
/// Growth of that pause from one poll to the next.
const POLL_GROWTH: f64 = 1.5;

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

/// How often operations fail on purpose.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Faults {
    fail_rate: f64,
    throttle_rate: f64,
    timeout_rate: f64,
}

/// Where an injected transient failure happens relative to the change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Injected {
    None,
    /// The request is refused before anything changes.
    Before(FaultKind),
    /// The change is made, then the answer is lost: "5xx, but it succeeded".
    TransientAfter,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FaultKind {
    Throttled,
    Timeout,
    Transient,
}

impl Faults {
    /// Draws the fault of one mutating call; only creates can fail after the change.
    fn draw(&self, is_create: bool) -> Injected {
        let hit = |rate: f64| rate > 0.0 && rand::random::<f64>() < rate;
        if hit(self.throttle_rate) {
            Injected::Before(FaultKind::Throttled)
        } else if hit(self.timeout_rate) {
            Injected::Before(FaultKind::Timeout)
        } else if hit(self.fail_rate) {
            if is_create && rand::random::<bool>() {
                Injected::TransientAfter
            } else {
                Injected::Before(FaultKind::Transient)
            }
        } else {
            Injected::None
        }
    }
}

fn fault_error(kind: FaultKind, what: &str) -> ProviderError {
    match kind {
        FaultKind::Throttled => {
            ProviderError::Throttled(format!("{what}: rate exceeded (simulated)"))
        }
        FaultKind::Timeout => {
            ProviderError::Timeout(format!("{what}: no answer in time (simulated)"))
        }
        FaultKind::Transient => ProviderError::Transient(format!(
            "{what}: 503 service unavailable (simulated; nothing was changed)"
        )),
    }
}

/// The `sandbox` provider.
#[derive(Debug)]
pub struct SandboxProvider {
    schema: ProviderSchema,
    cloud: Cloud,
    latency: Duration,
    faults: Faults,
    ready_timeout: Option<Duration>,
    /// Bounds the blocking cloud operations in flight (see [`IO_SLOTS`]).
    io_slots: Arc<Semaphore>,
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
        Some(cloud) if diags.is_empty() => Ok(SandboxProvider {
            schema: ProviderSchema {
                config: config_schema(),
                resources: types::schemas(),
                components: component::ALL.iter().map(|c| c.to_string()).collect(),
            },
            cloud,
            latency,
            faults,
            ready_timeout,
            io_slots: Arc::new(Semaphore::new(IO_SLOTS)),
        }),
        _ => Err(diags),
    }
}

impl SandboxProvider {
    /// The simulated cloud this provider works on.
    pub fn cloud(&self) -> &Cloud {
        &self.cloud
    }

    fn native(&self, type_name: &str) -> Result<&'static NativeType, ProviderError> {
        types::find(type_name).ok_or_else(|| {
            ProviderError::Invalid(format!("the sandbox has no resource type {type_name:?}"))
        })
    }

    fn delay(&self, ty: &NativeType, factor: f64) -> Duration {
        self.latency.mul_f64(ty.weight * factor)
    }

    /// Runs a blocking cloud operation (file I/O under an OS lock) off the async workers.
    async fn blocking<T, F>(&self, f: F) -> Result<T, ProviderError>
    where
        T: Send + 'static,
        F: FnOnce(&Cloud) -> Result<T, SandboxError> + Send + 'static,
    {
        let permit = self
            .io_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ProviderError::Other(format!("sandbox worker failed: {e}")))?;
        let cloud = self.cloud.clone();
        tokio::task::spawn_blocking(move || {
            let out = f(&cloud);
            drop(permit);
            out
        })
        .await
        .map_err(|e| ProviderError::Other(format!("sandbox worker failed: {e}")))?
        .map_err(to_provider_error)
    }
}

/// When to look at a changing object again: at its announced completion time when the cloud
/// gives one (a waiter that knows the ETA neither polls early nor overshoots), else after a
/// pause that grows geometrically from a tenth of the nominal duration.
#[derive(Debug)]
struct PollSchedule {
    backoff: Duration,
}

impl PollSchedule {
    fn new(nominal: Duration) -> PollSchedule {
        PollSchedule {
            backoff: (nominal / 10).clamp(MIN_POLL, MAX_POLL),
        }
    }

    fn next(&mut self, eta: Option<Duration>) -> Duration {
        match eta {
            Some(eta) if !eta.is_zero() => eta,
            _ => {
                let pause = self.backoff;
                self.backoff = self.backoff.mul_f64(POLL_GROWTH).min(MAX_POLL);
                pause
            }
        }
    }
}

impl SandboxProvider {
    /// Polls a just created or changed object until its status is `available`, within the
    /// type's readiness timeout: `ready_timeout` if configured, else ten times the change's
    /// nominal duration and at least 30 s.
    async fn wait_ready(
        &self,
        ty: &'static NativeType,
        mut obj: StoredObject,
        nominal: Duration,
    ) -> Result<StoredObject, ProviderError> {
        let timeout = self.ready_timeout.unwrap_or_else(|| {
            nominal
                .saturating_mul(READY_TIMEOUT_FACTOR)
                .max(MIN_READY_TIMEOUT)
        });
        let start = Instant::now();
        let mut schedule = PollSchedule::new(nominal);
        loop {
            let status = obj.status();
            if status == Status::Available {
                return Ok(obj);
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(ProviderError::Timeout(format!(
                    "{} {} not ready after {} (still {status:?})",
                    ty.name,
                    obj.id,
                    humantime::format_duration(timeout)
                )));
            }
            sleep(schedule.next(obj.eta()).min(timeout - waited)).await;
            let id = obj.id.clone();
            obj = self
                .blocking(move |cloud| cloud.read(ty.name, &id))
                .await?
                .ok_or_else(|| {
                    ProviderError::NotFound(format!(
                        "{} {} disappeared while waiting for it to become ready",
                        ty.name, obj.id
                    ))
                })?;
        }
    }
}

fn to_provider_error(e: SandboxError) -> ProviderError {
    match e {
        SandboxError::UnknownObject(_) => ProviderError::NotFound(e.to_string()),
        SandboxError::Rejected(_) | SandboxError::UnknownAttribute { .. } => {
            ProviderError::Invalid(e.to_string())
        }
        SandboxError::Io { .. }
        | SandboxError::NotADirectory { .. }
        | SandboxError::Corrupt { .. } => ProviderError::Other(e.to_string()),
    }
}

fn state(ty: &NativeType, obj: &StoredObject) -> ResourceState {
    ResourceState {
        id: obj.id.clone(),
        attrs: obj.attrs(ty),
    }
}

async fn sleep(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

/// Fills in the defaults of attributes that are not configured, so a plan agrees with what
/// the cloud stores whether or not the caller applied them.
fn with_defaults(schema: &provider_api::schema::ResourceSchema, proposed: &Attrs) -> Attrs {
    let mut out = proposed.clone();
    for (name, attr) in &schema.body.attributes {
        if let Some(default) = &attr.default
            && out.get(name).is_none_or(Value::is_null)
        {
            out.insert(name.clone(), default.clone());
        }
    }
    out
}

#[async_trait]
impl Provider for SandboxProvider {
    fn name(&self) -> &str {
        NAME
    }

    fn schema(&self) -> &ProviderSchema {
        &self.schema
    }

    fn validate(&self, type_name: &str, config: &Attrs) -> Vec<Diagnostic> {
        expand::validate(type_name, config)
    }

    fn expand(
        &self,
        address: &str,
        type_name: &str,
        config: &Attrs,
    ) -> Result<Expansion, Vec<Diagnostic>> {
        let _ = address;
        expand::expand(type_name, config)
            .unwrap_or_else(|| provider_api::expand_native(NAME, &self.schema, type_name, config))
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, Vec<Diagnostic>> {
        let Some(schema) = self.schema.resources.get(req.type_name) else {
            return Err(vec![Diagnostic::error(format!(
                "the sandbox has no resource type {:?}",
                req.type_name
            ))]);
        };
        let proposed = with_defaults(schema, req.proposed);
        let mut resp = provider_api::default_plan(schema, req.prior, &proposed);
        if req.type_name == types::OBJECT {
            // `output` follows `input`, so a change of `input` shows on `output` too.
            let input = resp.planned.get("input").cloned().unwrap_or(Value::Null);
            resp.planned.insert("output".into(), input);
        }
        Ok(resp)
    }

    async fn create(&self, req: CreateRequest<'_>) -> Result<ResourceState, ProviderError> {
        let ty = self.native(req.type_name)?;
        let name = req.identity.name(types::NAME_LEN);
        let injected = self.faults.draw(true);
        if let Injected::Before(kind) = injected {
            return Err(fault_error(kind, &format!("create {} {name}", ty.name)));
        }
        let mut ready_in = self.delay(ty, 1.0);
        if ty.name == types::OBJECT
            && let Some(extra) = req.config.get("create_latency").and_then(Value::as_str)
        {
            ready_in += humantime::parse_duration(extra).map_err(|_| {
                ProviderError::Invalid(format!(
                    "create_latency {extra:?} is not a duration like \"200ms\""
                ))
            })?;
        }
        let config = req.config.clone();
        let object_name = name.clone();
        let (obj, adopted) = self
            .blocking(move |cloud| cloud.create_or_adopt(ty, &object_name, &config, ready_in))
            .await?;
        tracing::debug!(type_name = ty.name, id = %obj.id, name, adopted, "sandbox create");
        if injected == Injected::TransientAfter {
            return Err(ProviderError::Transient(format!(
                "create {} {name}: 502 bad gateway (simulated; the object may have been created)",
                ty.name
            )));
        }
        let obj = self.wait_ready(ty, obj, ready_in).await?;
        Ok(state(ty, &obj))
    }

    async fn find(
        &self,
        type_name: &str,
        identity: &Identity,
    ) -> Result<Option<ResourceState>, ProviderError> {
        let ty = self.native(type_name)?;
        let name = identity.name(types::NAME_LEN);
        let found = self
            .blocking(move |cloud| cloud.find_by_name(ty, &name))
            .await?;
        Ok(found.map(|o| state(ty, &o)))
    }

    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<ResourceState>>, ProviderError> {
        let ty = self.native(type_name)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One open per id: cheaper than listing the type's directory even when every object
        // is asked for, and independent of how many objects the type has.
        let ids = ids.to_vec();
        self.blocking(move |cloud| {
            ids.iter()
                .map(|id| Ok(cloud.read(ty.name, id)?.map(|o| state(ty, &o))))
                .collect()
        })
        .await
    }

    async fn update(
        &self,
        type_name: &str,
        prior: &ResourceState,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        let ty = self.native(type_name)?;
        if let Injected::Before(kind) = self.faults.draw(false) {
            return Err(fault_error(
                kind,
                &format!("update {} {}", ty.name, prior.id),
            ));
        }
        let (id, config) = (prior.id.clone(), config.clone());
        let ready_in = self.delay(ty, UPDATE_FACTOR);
        let obj = self
            .blocking(move |cloud| cloud.update(ty, &id, &config, ready_in))
            .await?;
        tracing::debug!(type_name = ty.name, id = %obj.id, "sandbox update");
        let obj = self.wait_ready(ty, obj, ready_in).await?;
        Ok(state(ty, &obj))
    }

    async fn delete(&self, type_name: &str, prior: &ResourceState) -> Result<(), ProviderError> {
        let ty = self.native(type_name)?;
        if let Injected::Before(kind) = self.faults.draw(false) {
            return Err(fault_error(
                kind,
                &format!("delete {} {}", ty.name, prior.id),
            ));
        }
        let id = prior.id.clone();
        let existed = self.blocking(move |cloud| cloud.delete(ty, &id)).await?;
        tracing::debug!(type_name = ty.name, id = %prior.id, existed, "sandbox delete");
        if existed {
            sleep(self.delay(ty, DELETE_FACTOR)).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
