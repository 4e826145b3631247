//! The simulated cloud as the provider's one service: every native type, with the latencies,
//! injected faults and readiness polling that make it behave like a real cloud API.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use provider_api::kit::Service;
use provider_api::{
    Attrs, CreateRequest, FindResult, Identity, ProviderError, ReadResult, ResourceState,
    StateResult, Value,
};
use tokio::sync::Semaphore;

use crate::cloud::{Cloud, SandboxError, Status, StoredObject};
use crate::types::{self, NativeType};

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
pub(crate) const MIN_POLL: Duration = Duration::from_millis(5);
pub(crate) const MAX_POLL: Duration = Duration::from_secs(1);
/// Growth of that pause from one poll to the next.
const POLL_GROWTH: f64 = 1.5;

/// How often operations fail on purpose.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Faults {
    pub fail_rate: f64,
    pub throttle_rate: f64,
    pub timeout_rate: f64,
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

    /// The injected refusal of a change, if this call draws one.
    fn refuse(&self, what: impl FnOnce() -> String) -> Result<(), ProviderError> {
        match self.draw(false) {
            Injected::Before(kind) => Err(fault_error(kind, &what())),
            _ => Ok(()),
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

/// The operations on the simulated cloud.
#[derive(Debug)]
pub(crate) struct Simulated {
    cloud: Cloud,
    latency: Duration,
    faults: Faults,
    ready_timeout: Option<Duration>,
    /// Bounds the blocking cloud operations in flight (see [`IO_SLOTS`]).
    io_slots: Arc<Semaphore>,
}

impl Simulated {
    pub fn new(
        cloud: Cloud,
        latency: Duration,
        faults: Faults,
        ready_timeout: Option<Duration>,
    ) -> Simulated {
        Simulated {
            cloud,
            latency,
            faults,
            ready_timeout,
            io_slots: Arc::new(Semaphore::new(IO_SLOTS)),
        }
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

    /// The simulated time a create takes: the type's share of the latency, plus a
    /// `sandbox_object`'s own `create_latency`.
    fn create_time(&self, ty: &NativeType, config: &Attrs) -> Result<Duration, ProviderError> {
        let mut ready_in = self.delay(ty, 1.0);
        if ty.name == types::OBJECT
            && let Some(extra) = config.get("create_latency").and_then(Value::as_str)
        {
            ready_in += humantime::parse_duration(extra).map_err(|_| {
                ProviderError::Invalid(format!(
                    "create_latency {extra:?} is not a duration like \"200ms\""
                ))
            })?;
        }
        Ok(ready_in)
    }
}

/// When to look at a changing object again: at its announced completion time when the cloud
/// gives one (a waiter that knows the ETA neither polls early nor overshoots), else after a
/// pause that grows geometrically from a tenth of the nominal duration.
#[derive(Debug)]
pub(crate) struct PollSchedule {
    backoff: Duration,
}

impl PollSchedule {
    pub fn new(nominal: Duration) -> PollSchedule {
        PollSchedule {
            backoff: (nominal / 10).clamp(MIN_POLL, MAX_POLL),
        }
    }

    pub fn next(&mut self, eta: Option<Duration>) -> Duration {
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

#[async_trait]
impl Service for Simulated {
    fn types(&self) -> &'static [&'static str] {
        &types::NAMES
    }

    async fn create(&self, req: &CreateRequest<'_>) -> StateResult {
        let ty = self.native(req.type_name)?;
        let name = req.identity.name(types::NAME_LEN);
        let injected = self.faults.draw(true);
        if let Injected::Before(kind) = injected {
            return Err(fault_error(kind, &format!("create {} {name}", ty.name)));
        }
        let ready_in = self.create_time(ty, req.config)?;
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

    async fn find(&self, type_name: &str, identity: &Identity) -> FindResult {
        let ty = self.native(type_name)?;
        let name = identity.name(types::NAME_LEN);
        let found = self
            .blocking(move |cloud| cloud.find_by_name(ty, &name))
            .await?;
        Ok(found.map(|o| state(ty, &o)))
    }

    async fn read_many(&self, type_name: &str, ids: &[String]) -> ReadResult {
        let ty = self.native(type_name)?;
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

    async fn update(&self, type_name: &str, prior: &ResourceState, config: &Attrs) -> StateResult {
        let ty = self.native(type_name)?;
        self.faults
            .refuse(|| format!("update {} {}", ty.name, prior.id))?;
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
        self.faults
            .refuse(|| format!("delete {} {}", ty.name, prior.id))?;
        let id = prior.id.clone();
        let existed = self.blocking(move |cloud| cloud.delete(ty, &id)).await?;
        tracing::debug!(type_name = ty.name, id = %prior.id, existed, "sandbox delete");
        if existed {
            sleep(self.delay(ty, DELETE_FACTOR)).await;
        }
        Ok(())
    }
}
