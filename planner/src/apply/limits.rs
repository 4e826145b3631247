//! Each provider's limits during an apply: operations in flight (`max_in_flight`) and request
//! rate (`requests_per_second`).

use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::engine::Limits;

/// Rate and concurrency limits of one provider.
pub(crate) struct Gate {
    pub(crate) slots: Option<Semaphore>,
    interval: Option<Duration>,
    next: tokio::sync::Mutex<Instant>,
}

impl Gate {
    pub(crate) fn new(limits: &Limits) -> Gate {
        Gate {
            slots: limits.max_in_flight.map(Semaphore::new),
            interval: limits
                .requests_per_second
                .map(|rps| Duration::from_secs_f64(1.0 / rps)),
            next: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    /// Waits for the next request slot of the rate limit.
    pub(crate) async fn pace(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let wait = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + interval;
            at - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}
