//! What every cloud service module implements: the operations on the native types it owns.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::provider::{
    Attrs, CreateRequest, FindResult, Identity, ProviderError, ReadResult, ResourceState,
    StateResult,
};

use super::wait::Backoff;

/// The operations of one cloud service (one API: compute, Cloud SQL, EC2, RDS, …) on the
/// native types it owns, with the meaning of the same operations of
/// [`Provider`](crate::Provider). [`Kit`](super::Kit) routes each type to its service and has
/// already checked that the service owns it.
#[async_trait]
pub trait Service: Send + Sync + Debug {
    /// The native types this service owns.
    fn types(&self) -> &'static [&'static str];

    /// Creates the object (or adopts the one made for this identity) and waits until it is
    /// ready.
    async fn create(&self, req: &CreateRequest<'_>) -> StateResult;

    /// The object made for `identity`, if any.
    async fn find(&self, type_name: &str, identity: &Identity) -> FindResult;

    /// Reads objects by id (never called with none); `None` for one that no longer exists.
    async fn read_many(&self, type_name: &str, ids: &[String]) -> ReadResult;

    /// Changes an object in place and waits until the change is done.
    async fn update(&self, type_name: &str, prior: &ResourceState, config: &Attrs) -> StateResult;

    /// Deletes an object and waits until it is gone; deleting what is gone succeeds.
    async fn delete(&self, type_name: &str, prior: &ResourceState) -> Result<(), ProviderError>;
}

/// The error of a type no service of the provider owns.
pub fn unknown_type(provider: &str, type_name: &str) -> ProviderError {
    ProviderError::Invalid(format!(
        "the {provider} provider has no resource type {type_name:?}"
    ))
}

/// One object as a [`Lifecycle`] service reads it, with what its attributes do not show.
#[derive(Clone, Debug)]
pub struct Obj {
    pub state: ResourceState,
    /// Ready to be used (`available`, `ACTIVE`, `Deployed`, attached…).
    pub ready: bool,
    /// Facts a later call needs and no attribute holds (an association id, an `ETag`…).
    pub extra: BTreeMap<String, String>,
}

impl Obj {
    pub fn new(id: impl Into<String>, attrs: Attrs, ready: bool) -> Obj {
        Obj {
            state: ResourceState {
                id: id.into(),
                attrs,
            },
            ready,
            extra: BTreeMap::new(),
        }
    }
}

/// A service whose cloud answers a create or a change at once and finishes it later (EC2,
/// RDS, ElastiCache, …): it sends calls and reads objects; [`Converging`] does the rest, the
/// same way for every such service (adopt what exists, create, wait until ready, converge
/// in-place settings, wait until gone).
#[async_trait]
pub trait Lifecycle: Send + Sync + Debug {
    /// The native types this service owns.
    fn types(&self) -> &'static [&'static str];

    /// The object made for `identity` (by its deterministic name or its tags), if any.
    async fn find(
        &self,
        type_name: &str,
        identity: &Identity,
    ) -> Result<Option<Obj>, ProviderError>;

    /// Sends the create call and answers the new object's id. `salt` is empty, except when a
    /// create must be repeated under a fresh idempotency token.
    async fn create(&self, req: &CreateRequest<'_>, salt: &str) -> Result<String, ProviderError>;

    /// Reads objects by id, in batches where the API allows; `None` for an id that no longer
    /// exists.
    async fn read_many(
        &self,
        type_name: &str,
        ids: &[String],
    ) -> Result<Vec<Option<Obj>>, ProviderError>;

    /// Brings the in-place settings of `current` to `config`, changing only what differs.
    /// Answers whether anything was changed (then readiness is awaited again).
    async fn converge(
        &self,
        type_name: &str,
        current: &Obj,
        config: &Attrs,
    ) -> Result<bool, ProviderError>;

    /// Sends the delete call (after what must come first, like detaching). Deleting what is
    /// already gone succeeds.
    async fn delete(&self, type_name: &str, id: &str) -> Result<(), ProviderError>;

    /// Whether an object still shown by reads counts as gone (some services keep deleted
    /// objects visible for a while in a `deleting`/`deleted` state).
    fn is_gone(&self, _type_name: &str, _obj: &Obj) -> bool {
        false
    }

    /// Whether a create whose object vanished before it was ready is sent again under a fresh
    /// token (EC2 remembers a client token of a deleted route table and answers its id).
    fn recreate_if_vanished(&self, _type_name: &str) -> bool {
        false
    }
}

/// How long an object just created may be missing from reads (eventual consistency) before a
/// wait says it does not exist.
pub const NOT_YET_VISIBLE: Duration = Duration::from_secs(20);

/// A [`Lifecycle`] service as a [`Service`]. The service is shared (`Arc`), since one
/// service's client may serve others (EC2's network lookups serve EKS, RDS, …).
#[derive(Debug)]
pub struct Converging<L> {
    inner: Arc<L>,
    ready_timeout: Duration,
}

impl<L: Lifecycle + 'static> Converging<L> {
    pub fn new(inner: Arc<L>, ready_timeout: Duration) -> Converging<L> {
        Converging {
            inner,
            ready_timeout,
        }
    }

    /// The service as a provider's [`Kit`](super::Kit) lists it.
    pub fn service(inner: Arc<L>, ready_timeout: Duration) -> Arc<dyn Service> {
        Arc::new(Converging::new(inner, ready_timeout))
    }

    /// The id of the object made for `identity`: found, or created (adopting what a create
    /// answered with a retryable error made after all).
    async fn find_or_create(&self, req: &CreateRequest<'_>) -> Result<String, ProviderError> {
        let svc = &self.inner;
        if let Some(found) = svc.find(req.type_name, req.identity).await? {
            tracing::debug!(type_name = req.type_name, id = %found.state.id, "create: adopting");
            return Ok(found.state.id);
        }
        match svc.create(req, "").await {
            Ok(id) => Ok(id),
            Err(e) if e.is_retryable() => match svc.find(req.type_name, req.identity).await {
                Ok(Some(found)) => {
                    tracing::debug!(
                        type_name = req.type_name,
                        id = %found.state.id,
                        "create: adopting what a failed create made"
                    );
                    Ok(found.state.id)
                }
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Polls until the object is ready, within the timeout. An object missing just after its
    /// create is waited for a little ([`NOT_YET_VISIBLE`]), then reported as not found.
    pub async fn wait_ready(&self, type_name: &str, id: &str) -> Result<Obj, ProviderError> {
        let timeout = self.ready_timeout;
        let start = Instant::now();
        let mut backoff = Backoff::polling();
        loop {
            match read_one(self.inner.as_ref(), type_name, id).await? {
                Some(obj) if obj.ready => return Ok(obj),
                Some(_) if start.elapsed() >= timeout => {
                    return Err(ProviderError::Timeout(format!(
                        "{type_name} {id} not available after {timeout:?}"
                    )));
                }
                None if start.elapsed() >= NOT_YET_VISIBLE.min(timeout) => {
                    return Err(ProviderError::NotFound(format!(
                        "{type_name} {id} does not exist"
                    )));
                }
                _ => {}
            }
            backoff.sleep().await;
        }
    }

    /// Polls until reads no longer show the object (or show it as gone), within the timeout.
    pub async fn wait_gone(&self, type_name: &str, id: &str) -> Result<(), ProviderError> {
        let timeout = self.ready_timeout;
        let start = Instant::now();
        let mut backoff = Backoff::polling();
        loop {
            match read_one(self.inner.as_ref(), type_name, id).await? {
                None => return Ok(()),
                Some(obj) if self.inner.is_gone(type_name, &obj) => return Ok(()),
                Some(_) => {}
            }
            if start.elapsed() >= timeout {
                return Err(ProviderError::Timeout(format!(
                    "{type_name} {id} still exists after {timeout:?}"
                )));
            }
            backoff.sleep().await;
        }
    }

    /// Converges `current` to `config` and answers the object as it is then.
    async fn converge(
        &self,
        type_name: &str,
        current: Obj,
        config: &Attrs,
    ) -> Result<ResourceState, ProviderError> {
        if self.inner.converge(type_name, &current, config).await? {
            Ok(self.wait_ready(type_name, &current.state.id).await?.state)
        } else {
            Ok(current.state)
        }
    }
}

/// Reads one object by id.
pub async fn read_one<L: Lifecycle + ?Sized>(
    svc: &L,
    type_name: &str,
    id: &str,
) -> Result<Option<Obj>, ProviderError> {
    Ok(svc
        .read_many(type_name, &[id.to_string()])
        .await?
        .into_iter()
        .next()
        .flatten())
}

#[async_trait]
impl<L: Lifecycle + 'static> Service for Converging<L> {
    fn types(&self) -> &'static [&'static str] {
        self.inner.types()
    }

    async fn create(&self, req: &CreateRequest<'_>) -> StateResult {
        let id = self.find_or_create(req).await?;
        let ready = match self.wait_ready(req.type_name, &id).await {
            Ok(obj) => obj,
            Err(ProviderError::NotFound(_)) if self.inner.recreate_if_vanished(req.type_name) => {
                let salt = format!(
                    "{:?}",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                );
                let id = self.inner.create(req, &salt).await?;
                self.wait_ready(req.type_name, &id).await?
            }
            Err(e) => return Err(e),
        };
        self.converge(req.type_name, ready, req.config).await
    }

    async fn find(&self, type_name: &str, identity: &Identity) -> FindResult {
        Ok(self.inner.find(type_name, identity).await?.map(|o| o.state))
    }

    async fn read_many(&self, type_name: &str, ids: &[String]) -> ReadResult {
        Ok(self
            .inner
            .read_many(type_name, ids)
            .await?
            .into_iter()
            .map(|o| {
                o.filter(|o| !self.inner.is_gone(type_name, o))
                    .map(|o| o.state)
            })
            .collect())
    }

    async fn update(&self, type_name: &str, prior: &ResourceState, config: &Attrs) -> StateResult {
        let current = read_one(self.inner.as_ref(), type_name, &prior.id)
            .await?
            .filter(|o| !self.inner.is_gone(type_name, o))
            .ok_or_else(|| ProviderError::NotFound(format!("{type_name} {}", prior.id)))?;
        self.converge(type_name, current, config).await
    }

    async fn delete(&self, type_name: &str, prior: &ResourceState) -> Result<(), ProviderError> {
        self.inner.delete(type_name, &prior.id).await?;
        self.wait_gone(type_name, &prior.id).await
    }
}
