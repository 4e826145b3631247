//! Progress events emitted while applying; the binary turns them into a live display.

use std::time::Duration;

use crate::addr::NativeAddr;
use crate::plan::Action;

#[derive(Clone, Debug, PartialEq)]
pub enum ApplyEvent {
    /// A provider operation started.
    Started { address: NativeAddr, action: Action },
    /// Still running (sent periodically for long operations).
    Waiting {
        address: NativeAddr,
        action: Action,
        elapsed: Duration,
    },
    Finished {
        address: NativeAddr,
        action: Action,
        id: Option<String>,
        elapsed: Duration,
    },
    /// The operation failed; `message` never contains a sensitive value.
    Failed {
        address: NativeAddr,
        action: Action,
        message: String,
        elapsed: Duration,
    },
    /// Not attempted because something it depends on failed.
    Skipped {
        address: NativeAddr,
        action: Action,
        because: NativeAddr,
    },
}

/// Where apply progress goes. Implementations must be cheap: they are called from the
/// scheduler's tasks.
pub trait EventSink: Send + Sync {
    fn event(&self, event: ApplyEvent);
}

/// Discards every event.
pub struct NoEvents;

impl EventSink for NoEvents {
    fn event(&self, _event: ApplyEvent) {}
}
