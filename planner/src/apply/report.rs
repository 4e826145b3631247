//! What an apply did: the steps completed, failed, skipped and not started, and the state it
//! left.

use state::State;

use crate::addr::NativeAddr;
use crate::plan::Action;

#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub address: NativeAddr,
    pub action: Action,
    pub message: String,
}

#[derive(Debug)]
pub struct ApplyReport {
    pub state: State,
    pub completed: Vec<(NativeAddr, Action)>,
    pub failures: Vec<Failure>,
    pub skipped: Vec<NativeAddr>,
    /// Set when an interrupt stopped the apply early.
    pub interrupted: bool,
    /// Operations never started because of the interrupt.
    pub not_started: Vec<NativeAddr>,
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        self.failures.is_empty() && self.skipped.is_empty() && !self.interrupted
    }
}
