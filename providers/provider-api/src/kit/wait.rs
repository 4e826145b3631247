//! Waiting for the cloud: one default bound for every provider and a growing poll pause.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::provider::ProviderError;

/// Default bound of a readiness or deletion wait: an hour, because real clouds are slow at
/// the large objects (an EKS or GKE cluster takes 10–15 minutes and its node pools more, a
/// Multi-AZ database 15–30, a CDN deployment 5–15; Terraform's providers wait 30–60 minutes
/// for these). A wait polls with growing pauses, so the bound costs nothing when objects are
/// quick. Every provider's `ready_timeout` setting overrides it.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(3600);

/// Bounds of the pause between two polls of a real cloud.
pub const MIN_POLL: Duration = Duration::from_millis(100);
pub const MAX_POLL: Duration = Duration::from_secs(5);

/// Pauses that start at `min` and grow by half each time, up to `max`.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff { next: min, max }
    }

    /// The pauses for a real cloud: [`MIN_POLL`] growing to [`MAX_POLL`].
    pub fn polling() -> Backoff {
        Backoff::new(MIN_POLL, MAX_POLL)
    }

    /// The next pause.
    pub fn pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = self.next.mul_f64(1.5).min(self.max);
        pause
    }

    /// Sleeps the next pause.
    pub async fn sleep(&mut self) {
        tokio::time::sleep(self.pause()).await;
    }
}

/// What one poll saw.
#[derive(Debug)]
pub enum Poll<T> {
    /// Done: the wait answers this.
    Ready(T),
    /// Not yet: poll again after a pause, unless the wait is over.
    Pending,
}

/// Polls `check` with growing pauses until it answers [`Poll::Ready`], fails, or `timeout`
/// passes; then the error is a timeout that says `what` was not done.
pub async fn until<T, F, Fut>(
    timeout: Duration,
    what: &str,
    mut check: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, ProviderError>>,
{
    let start = Instant::now();
    let mut backoff = Backoff::polling();
    loop {
        if let Poll::Ready(v) = check().await? {
            return Ok(v);
        }
        if start.elapsed() >= timeout {
            return Err(ProviderError::Timeout(format!("{what} after {timeout:?}")));
        }
        backoff.sleep().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_to_the_bound() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(200));
        assert_eq!(b.pause(), Duration::from_millis(100));
        assert_eq!(b.pause(), Duration::from_millis(150));
        assert_eq!(b.pause(), Duration::from_millis(200));
        assert_eq!(b.pause(), Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn until_answers_when_ready_and_times_out_otherwise() {
        let mut polls = 0;
        let got = until(Duration::from_secs(60), "x not ready", || {
            polls += 1;
            let done = polls == 3;
            async move {
                Ok(if done {
                    Poll::Ready(polls)
                } else {
                    Poll::Pending
                })
            }
        })
        .await;
        assert_eq!(got, Ok(3));
        let never: Result<(), _> = until(Duration::from_secs(1), "x not ready", || async {
            Ok(Poll::Pending)
        })
        .await;
        assert!(
            matches!(&never, Err(ProviderError::Timeout(m)) if m.starts_with("x not ready after")),
            "{never:?}"
        );
    }
}
