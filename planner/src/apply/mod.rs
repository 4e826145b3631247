//! Apply: execute exactly the reviewed plan on a dependency-graph scheduler.
//!
//! A native resource starts as soon as everything it depends on has finished; deletes run in
//! reverse order. When one fails, independent branches go on and its dependents are skipped.
//! Concurrency is bounded by the graph, by each provider's limits (`max_in_flight`,
//! `requests_per_second`) and by the optional `--parallelism` cap — no other constant.
//!
//! Crash safety: before every mutating provider call an [`Intent`] (address, action, the
//! identity the provider derives the object's name from) is appended durably to the journal;
//! the outcome is appended as soon as the call returns. Appends from concurrent operations are
//! group-committed (one durable write for all that are waiting). The full state is written once,
//! at the end ([`Backend::compact`]). After a crash, [`crate::recover`] resolves the intents left
//! open before anything else happens.
//!
//! A resource's final configuration is evaluated only when it starts (its upstream values are
//! known by then) and must agree with every value the plan showed as known.
//!
//! The parts, each a module below: the steps and their order (`steps`), the scheduler
//! (`schedule`), one step carried out with its journal entries (`execute`), the journal writer
//! (`journal`), each provider's limits (`limits`) and retries (`retry`), the configuration
//! evaluated at apply time (`resolve`), the live state (`live`) and the report (`report`).

mod execute;
mod journal;
mod limits;
pub(crate) mod live;
mod report;
mod resolve;
mod retry;
mod schedule;
mod steps;

use std::sync::{Arc, Mutex};

use state::{Backend, JournalEntry, Stamp, State, StateError};

use crate::engine::Engine;
use crate::events::EventSink;
use crate::plan::{Plan, PlanMode, ResourceChange};
use execute::Ctx;
use journal::Journal;
use live::Live;

pub use live::deposed_address;
pub use report::{ApplyReport, Failure};
pub use schedule::{ApplyOptions, Interrupt};
pub use steps::Phase;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "this plan was made against state {planned}, but the state is now {current}: run `ss plan` again"
    )]
    Stale { planned: String, current: String },
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the plan's changes cannot be ordered: {0}")]
    Cycle(String),
}

fn describe(state: Option<&State>) -> String {
    match state {
        Some(s) => format!("lineage {} serial {}", s.lineage, s.serial),
        None => "empty (no state yet)".to_string(),
    }
}

/// Refuses a plan made against another lineage or an older serial.
pub fn check_fresh(plan: &Plan, state: Option<&State>) -> Result<(), ApplyError> {
    let fresh = match (&plan.state_lineage, state) {
        (None, None) => true,
        (None, Some(s)) => s.serial == 0 && s.resources.is_empty(),
        (Some(l), Some(s)) => *l == s.lineage && plan.state_serial == s.serial,
        (Some(_), None) => false,
    };
    if fresh {
        Ok(())
    } else {
        Err(ApplyError::Stale {
            planned: match &plan.state_lineage {
                Some(l) => format!("lineage {l} serial {}", plan.state_serial),
                None => "empty (no state yet)".to_string(),
            },
            current: describe(state),
        })
    }
}

fn poisoned() -> StateError {
    StateError::Conflict {
        reason: "the live state is unusable after a panic".into(),
    }
}

/// Applies the plan. `state` is the current state (None when there is none yet); it must be
/// the state the plan was made against, with no journal entries pending (see
/// [`crate::recover`]).
pub async fn apply(
    engine: Arc<Engine>,
    plan: &Plan,
    state: Option<State>,
    backend: Arc<dyn Backend>,
    sink: Arc<dyn EventSink>,
    opts: &ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    check_fresh(plan, state.as_ref())?;
    let changes: Vec<Arc<ResourceChange>> = plan
        .changes
        .iter()
        .filter(|c| c.action.is_change())
        .cloned()
        .map(Arc::new)
        .collect();
    let graph = steps::apply_graph(&changes);
    graph.check_acyclic(&changes).map_err(ApplyError::Cycle)?;
    // The journal belongs to a stored snapshot: make one for a brand-new state.
    let state = match state {
        Some(s) => s,
        None => {
            let fresh = State::new();
            backend.write(&fresh).await?;
            fresh
        }
    };
    let base = Stamp::of(&state);
    let live = Arc::new(Mutex::new(Live::new(state)));
    let journal = Journal::start(backend.clone(), base);
    let ctx = Arc::new(Ctx::new(
        engine,
        &changes,
        live.clone(),
        journal,
        sink.clone(),
    ));
    let mut report = schedule::run_steps(&ctx, &graph, &changes, &*sink, opts).await;
    let final_entries = final_entries(&ctx, plan.mode)?;
    ctx.commit(final_entries)
        .await
        .map_err(|reason| StateError::Conflict { reason })?;
    let final_state = {
        let mut guard = live.lock().map_err(|_| poisoned())?;
        std::mem::replace(&mut *guard, Live::new(State::new())).into_state()
    };
    backend.compact(&final_state).await?;
    report.state = final_state;
    Ok(report)
}

/// The last entries of an apply: outputs reflect the final values (only what is known is
/// stored; none after a destroy), and components left without resources are forgotten. Then
/// everything is folded into one new snapshot.
fn final_entries(ctx: &Ctx, mode: PlanMode) -> Result<Vec<JournalEntry>, ApplyError> {
    let live = ctx.live().map_err(|_| poisoned())?;
    let outputs = match mode {
        PlanMode::Apply => ctx.resolver.outputs(&live),
        PlanMode::Destroy => Default::default(),
    };
    let mut entries = vec![JournalEntry::Outputs { outputs }];
    entries.extend(live.orphan_components());
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_stale_plan_is_refused() {
        let state = State::new();
        let plan = Plan {
            format_version: crate::plan::PLAN_FORMAT_VERSION,
            mode: PlanMode::Apply,
            stack: "t".into(),
            state_lineage: Some(state.lineage.clone()),
            state_serial: 3,
            changes: Vec::new(),
            outputs: Vec::new(),
            drift: Vec::new(),
            snapshot: crate::plan::ConfigSnapshot {
                dir: ".".into(),
                files: Vec::new(),
                variables: BTreeMap::new(),
            },
            targets: Vec::new(),
            excludes: Vec::new(),
            warnings: Default::default(),
        };
        assert!(matches!(
            check_fresh(&plan, Some(&state)),
            Err(ApplyError::Stale { .. })
        ));
        let mut current = state.clone();
        current.serial = 3;
        assert!(check_fresh(&plan, Some(&current)).is_ok());
        let mut other = State::new();
        other.serial = 3;
        assert!(check_fresh(&plan, Some(&other)).is_err());
    }
}
