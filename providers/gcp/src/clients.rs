//! The Google Cloud clients, built once (lazily: building needs the async runtime, and
//! credentials are not needed before the first request) and shared.

use std::time::Duration;

use google_cloud_auth::credentials::Credentials;
use google_cloud_gax::error::Error as GaxError;
use google_cloud_gax::exponential_backoff::{ExponentialBackoff, ExponentialBackoffBuilder};
use google_cloud_gax::polling_error_policy::{PollingErrorPolicy, PollingErrorPolicyExt};
use google_cloud_gax::polling_state::PollingState;
use google_cloud_gax::retry_policy::{RetryPolicy, RetryPolicyExt};
use google_cloud_gax::retry_result::RetryResult;
use google_cloud_gax::retry_state::RetryState;

use crate::error::{Kind, kind};

/// Base URLs of the APIs (`endpoint_overrides`), without the services' paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub sqladmin: String,
    pub redis: String,
    pub container: String,
    pub compute: String,
    /// Private services access (Cloud SQL's private IP), over `reqwest` (see [`crate::rest`]).
    pub servicenetworking: String,
    /// Service connection policies (Memorystore's Private Service Connect), over `reqwest`.
    pub networkconnectivity: String,
    /// An OAuth2 token endpoint for the JWT-bearer grant (see [`crate::auth`]).
    pub token: Option<String>,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            sqladmin: "https://sqladmin.googleapis.com".into(),
            redis: "https://redis.googleapis.com".into(),
            container: "https://container.googleapis.com".into(),
            compute: "https://compute.googleapis.com".into(),
            servicenetworking: "https://servicenetworking.googleapis.com".into(),
            networkconnectivity: "https://networkconnectivity.googleapis.com".into(),
            token: None,
        }
    }
}

/// Retries what was not carried out or is safe to repeat: throttling (429), 5xx and transport
/// failures of idempotent requests (reads, and mutations that carry a `requestId`).
#[derive(Clone, Debug)]
pub struct Transient;

impl RetryPolicy for Transient {
    fn on_error(&self, state: &RetryState, error: GaxError) -> RetryResult {
        if error.is_transient_and_before_rpc() {
            return RetryResult::Continue(error);
        }
        match kind(&error) {
            // A 429 was not carried out: always safe to repeat.
            Kind::Throttled => RetryResult::Continue(error),
            Kind::Transient if state.idempotent => RetryResult::Continue(error),
            _ => RetryResult::Permanent(error),
        }
    }
}

/// While polling an operation, failed polls (429, 5xx) are repeated.
#[derive(Clone, Debug)]
pub struct PollTransient;

impl PollingErrorPolicy for PollTransient {
    fn on_error(&self, _state: &PollingState, error: GaxError) -> RetryResult {
        match kind(&error) {
            Kind::Throttled | Kind::Transient => RetryResult::Continue(error),
            _ => RetryResult::Permanent(error),
        }
    }
}

pub fn backoff() -> ExponentialBackoff {
    ExponentialBackoffBuilder::new()
        .with_initial_delay(Duration::from_millis(100))
        .with_maximum_delay(Duration::from_secs(5))
        .with_scaling(2.0)
        .clamp()
}

pub fn poll_backoff() -> ExponentialBackoff {
    ExponentialBackoffBuilder::new()
        .with_initial_delay(Duration::from_millis(200))
        .with_maximum_delay(Duration::from_secs(10))
        .with_scaling(1.5)
        .clamp()
}

pub struct Clients {
    pub networks: google_cloud_compute_v1::client::Networks,
    pub subnetworks: google_cloud_compute_v1::client::Subnetworks,
    pub health_checks: google_cloud_compute_v1::client::HealthChecks,
    pub backend_services: google_cloud_compute_v1::client::BackendServices,
    pub url_maps: google_cloud_compute_v1::client::UrlMaps,
    pub http_proxies: google_cloud_compute_v1::client::TargetHttpProxies,
    pub forwarding_rules: google_cloud_compute_v1::client::GlobalForwardingRules,
    pub addresses: google_cloud_compute_v1::client::GlobalAddresses,
    pub projects: google_cloud_compute_v1::client::Projects,
    pub gke: google_cloud_container_v1::client::ClusterManager,
    pub sql: google_cloud_sql_v1::client::SqlInstancesService,
    pub sql_users: google_cloud_sql_v1::client::SqlUsersService,
    pub sql_ops: google_cloud_sql_v1::client::SqlOperationsService,
    pub redis: google_cloud_redis_cluster_v1::client::CloudRedisCluster,
    /// The credentials, for the APIs without a client crate.
    pub creds: Credentials,
    /// The HTTP client of those APIs.
    pub http: reqwest::Client,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients").finish_non_exhaustive()
    }
}

macro_rules! build {
    ($client:ty, $endpoint:expr, $creds:expr, $timeout:expr) => {
        <$client>::builder()
            .with_endpoint($endpoint.clone())
            .with_credentials($creds.clone())
            .with_retry_policy(Transient.with_attempt_limit(8))
            .with_backoff_policy(backoff())
            .with_polling_backoff_policy(poll_backoff())
            .with_polling_error_policy(PollTransient.with_time_limit($timeout))
            .build()
            .await
            .map_err(|e| format!("cannot build the {} client: {e}", stringify!($client)))?
    };
}

impl Clients {
    pub async fn build(
        endpoints: &Endpoints,
        creds: &Credentials,
        timeout: Duration,
    ) -> Result<Clients, String> {
        use google_cloud_compute_v1::client as c;
        let compute = &endpoints.compute;
        Ok(Clients {
            networks: build!(c::Networks, compute, creds, timeout),
            subnetworks: build!(c::Subnetworks, compute, creds, timeout),
            health_checks: build!(c::HealthChecks, compute, creds, timeout),
            backend_services: build!(c::BackendServices, compute, creds, timeout),
            url_maps: build!(c::UrlMaps, compute, creds, timeout),
            http_proxies: build!(c::TargetHttpProxies, compute, creds, timeout),
            forwarding_rules: build!(c::GlobalForwardingRules, compute, creds, timeout),
            addresses: build!(c::GlobalAddresses, compute, creds, timeout),
            projects: build!(c::Projects, compute, creds, timeout),
            gke: build!(
                google_cloud_container_v1::client::ClusterManager,
                endpoints.container,
                creds,
                timeout
            ),
            sql: build!(
                google_cloud_sql_v1::client::SqlInstancesService,
                endpoints.sqladmin,
                creds,
                timeout
            ),
            sql_users: build!(
                google_cloud_sql_v1::client::SqlUsersService,
                endpoints.sqladmin,
                creds,
                timeout
            ),
            sql_ops: build!(
                google_cloud_sql_v1::client::SqlOperationsService,
                endpoints.sqladmin,
                creds,
                timeout
            ),
            redis: build!(
                google_cloud_redis_cluster_v1::client::CloudRedisCluster,
                endpoints.redis,
                creds,
                timeout
            ),
            creds: creds.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))?,
        })
    }
}
