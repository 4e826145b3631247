//! What every service module shares: the settings, the lazily built clients, the locks of the
//! objects that run one operation at a time, and the waits.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use google_cloud_gax::error::Error as GaxError;
use provider_api::ProviderError;
use provider_api::kit::wait::{self, Backoff, Poll};

use crate::auth;
use crate::clients::{Clients, Endpoints};
use crate::error::{Kind, kind, provider_error};
use crate::settings::Settings;

/// The process environment, as a function (tests give their own).
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Bounds of the pause between two attempts at a call refused because the object is busy.
const BUSY_MIN: Duration = Duration::from_millis(200);
const BUSY_MAX: Duration = Duration::from_secs(10);

/// The shared context of the service modules.
pub struct Api {
    pub settings: Settings,
    pub endpoints: Endpoints,
    env: Env,
    pub ready_timeout: Duration,
    clients: tokio::sync::OnceCell<Clients>,
    /// One lock per GKE cluster and Cloud SQL primary: both run one operation at a time.
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("settings", &self.settings)
            .field("endpoints", &self.endpoints)
            .field("ready_timeout", &self.ready_timeout)
            .finish_non_exhaustive()
    }
}

impl Api {
    pub fn new(settings: Settings, endpoints: Endpoints, env: Env, ready_timeout: Duration) -> Api {
        Api {
            settings,
            endpoints,
            env,
            ready_timeout,
            clients: tokio::sync::OnceCell::new(),
            locks: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The clients, built by the first call (credentials are not needed before).
    pub async fn clients(&self) -> Result<&Clients, ProviderError> {
        self.clients
            .get_or_try_init(|| async {
                let creds = auth::resolve(&*self.env, self.endpoints.token.as_deref())
                    .map_err(|e| ProviderError::Other(e.to_string()))?;
                // Boxed: building the clients is a large future, and callers poll it on
                // runtime worker threads (2 MiB stacks).
                Box::pin(Clients::build(&self.endpoints, &creds, self.ready_timeout))
                    .await
                    .map_err(ProviderError::Other)
            })
            .await
    }

    /// The lock of an object that runs one operation at a time.
    pub fn lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(key.to_string()).or_default().clone()
    }

    pub fn project(&self) -> &str {
        &self.settings.project
    }

    pub fn location(&self) -> String {
        self.settings.location()
    }

    /// Repeats `call` while `again` says its answer is a refusal worth waiting out (the object
    /// is busy with another operation, or still used by one being deleted), with growing
    /// pauses, until the ready timeout; then the last answer is returned as it is.
    pub async fn repeat<T, F, Fut>(&self, what: &str, mut call: F, again: impl Fn(&T) -> bool) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = T>,
    {
        let deadline = Instant::now() + self.ready_timeout;
        let mut backoff = Backoff::new(BUSY_MIN, BUSY_MAX);
        loop {
            let answer = call().await;
            if !again(&answer) || Instant::now() >= deadline {
                return answer;
            }
            tracing::debug!(what, "busy, waiting");
            backoff.sleep().await;
        }
    }

    /// Repeats `call` while the object is busy with another operation (GKE and Cloud SQL run
    /// one at a time) or the API throttles, until the ready timeout.
    pub async fn while_busy<T, F, Fut>(&self, what: &str, call: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, GaxError>>,
    {
        self.repeat(
            what,
            call,
            |answer| matches!(answer, Err(e) if matches!(kind(e), Kind::Busy | Kind::Throttled)),
        )
        .await
        .map_err(|e| provider_error(what, &e))
    }

    /// Polls `get` (an object as JSON, `None` when absent) until the object's `state` is
    /// `wanted` (Memorystore's `ACTIVE`, `READY`); the object then.
    pub async fn wait_state<F, Fut>(
        &self,
        what: &str,
        wanted: &str,
        get: F,
    ) -> Result<serde_json::Value, ProviderError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<serde_json::Value>, ProviderError>>,
    {
        self.wait_for(what, || {
            let found = get();
            async move { Ok(found.await?.filter(|o| o["state"].as_str() == Some(wanted))) }
        })
        .await
    }

    /// Polls `get` until it finds nothing: a deleted object gone.
    pub async fn wait_gone<T, F, Fut>(&self, what: &str, get: F) -> Result<(), ProviderError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<T>, ProviderError>>,
    {
        self.wait_for(what, || {
            let found = get();
            async move { Ok(found.await?.is_none().then_some(())) }
        })
        .await
    }

    /// Polls `check` with backoff until it answers `Some`, or the ready timeout; a failed poll
    /// that may be retried is polled again.
    pub async fn wait_for<T, F, Fut>(&self, what: &str, mut check: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, ProviderError>>,
    {
        wait::until(self.ready_timeout, &format!("{what}: not done"), || {
            let polled = check();
            async move {
                match polled.await {
                    Ok(Some(v)) => Ok(Poll::Ready(v)),
                    Ok(None) => Ok(Poll::Pending),
                    Err(e) if e.is_retryable() => {
                        tracing::debug!(what, error = %e, "poll failed, retrying");
                        Ok(Poll::Pending)
                    }
                    Err(e) => Err(e),
                }
            }
        })
        .await
    }
}
