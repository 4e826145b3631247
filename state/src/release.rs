//! Lock releases started by dropped guards. A remote lock is released with a network call, which
//! a `Drop` cannot await: the guard spawns it here, and the binary calls [`settle`] before it
//! exits so the release is not cut off. A release that never runs (the process is killed) is
//! covered by the lock's lease.

use std::sync::Mutex;
use std::time::Duration;

use tokio::task::JoinHandle;

static PENDING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Runs `release` in the background on the current runtime, if there is one.
pub fn spawn(release: impl Future<Output = ()> + Send + 'static) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::debug!("no runtime to release a dropped lock on; its lease will expire");
        return;
    };
    let task = handle.spawn(release);
    match PENDING.lock() {
        Ok(mut pending) => {
            pending.retain(|t| !t.is_finished());
            pending.push(task);
        }
        Err(poisoned) => poisoned.into_inner().push(task),
    }
}

/// Waits, at most `limit`, for the releases spawned so far.
pub async fn settle(limit: Duration) {
    let tasks: Vec<JoinHandle<()>> = match PENDING.lock() {
        Ok(mut pending) => pending.drain(..).collect(),
        Err(poisoned) => poisoned.into_inner().drain(..).collect(),
    };
    if tasks.is_empty() {
        return;
    }
    let all = async {
        for task in tasks {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "a lock release failed");
            }
        }
    };
    if tokio::time::timeout(limit, all).await.is_err() {
        tracing::warn!("lock releases still running at exit; their leases will expire");
    }
}
