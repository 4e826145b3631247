//! Provider calls during an apply: paced by the provider's rate limit, retried when the
//! failure may pass.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use provider_api::ProviderError;

use super::limits::Gate;

/// Calls the provider with the provider's pacing, retrying throttling, transient failures and
/// timeouts with exponential backoff and jitter; other errors fail at once.
pub(crate) async fn call<T, F, Fut>(gate: &Gate, what: &str, op: F) -> Result<T, ProviderError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(10))
        .with_max_times(8)
        .with_jitter();
    (|| async {
        gate.pace().await;
        op().await
    })
    .retry(backoff)
    .when(ProviderError::is_retryable)
    .notify(|e, after| tracing::info!(%what, error = %e, ?after, "retrying"))
    .await
}
