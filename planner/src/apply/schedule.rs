//! The scheduler: a step starts as soon as the steps it waits for are done, within the
//! optional `--parallelism` cap; when one fails, independent branches go on and its dependents
//! are skipped; an interrupt stops starting new steps.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use state::State;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::execute::{Ctx, run_with_events};
use super::report::{ApplyReport, Failure};
use super::steps::{StepGraph, step_action};
use crate::addr::NativeAddr;
use crate::events::{ApplyEvent, EventSink};
use crate::plan::{Action, ResourceChange};

/// Asks a running apply to stop starting operations (Ctrl-C). Operations in flight finish and
/// are recorded.
#[derive(Debug, Default)]
pub struct Interrupt {
    flag: AtomicBool,
    notify: Notify,
}

impl Interrupt {
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

#[derive(Clone, Debug, Default)]
pub struct ApplyOptions {
    /// An optional global cap on operations in flight (the graph and the providers' own limits
    /// apply in any case).
    pub parallelism: Option<usize>,
    pub interrupt: Option<Arc<Interrupt>>,
}

/// What happened to a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepState {
    Waiting,
    Running,
    Done,
    Failed,
    Skipped,
}

/// The bookkeeping of the steps while they run.
struct Scheduler<'a> {
    graph: &'a StepGraph,
    changes: &'a [Arc<ResourceChange>],
    sink: &'a dyn EventSink,
    /// How many steps each step still waits for.
    remaining: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    status: Vec<StepState>,
    ready: Vec<usize>,
    report: ApplyReport,
}

impl<'a> Scheduler<'a> {
    fn new(
        graph: &'a StepGraph,
        changes: &'a [Arc<ResourceChange>],
        sink: &'a dyn EventSink,
    ) -> Self {
        let n = graph.steps.len();
        let remaining: Vec<usize> = graph.deps.iter().map(Vec::len).collect();
        let ready: Vec<usize> = (0..n).rev().filter(|i| remaining[*i] == 0).collect();
        Scheduler {
            graph,
            changes,
            sink,
            remaining,
            dependents: graph.dependents(),
            status: vec![StepState::Waiting; n],
            ready,
            report: ApplyReport {
                state: State::new(),
                completed: Vec::new(),
                failures: Vec::new(),
                skipped: Vec::new(),
                interrupted: false,
                not_started: Vec::new(),
            },
        }
    }

    fn address(&self, step: usize) -> NativeAddr {
        self.changes[self.graph.steps[step].0].address.clone()
    }

    fn action(&self, step: usize) -> Action {
        let (c, p) = self.graph.steps[step];
        step_action(self.changes[c].action, p)
    }

    /// Records a finished step; the steps it alone held back become ready.
    fn succeeded(&mut self, step: usize) {
        self.status[step] = StepState::Done;
        self.report
            .completed
            .push((self.address(step), self.action(step)));
        for d in &self.dependents[step] {
            self.remaining[*d] -= 1;
            if self.remaining[*d] == 0 {
                self.ready.push(*d);
            }
        }
    }

    /// Records a failed step and skips everything that waits for it, directly or not.
    fn failed(&mut self, step: usize, message: String) {
        self.status[step] = StepState::Failed;
        let address = self.address(step);
        self.report.failures.push(Failure {
            address: address.clone(),
            action: self.action(step),
            message,
        });
        let mut stack: Vec<usize> = self.dependents[step].clone();
        while let Some(d) = stack.pop() {
            if self.status[d] != StepState::Waiting {
                continue;
            }
            self.status[d] = StepState::Skipped;
            let skipped = self.address(d);
            self.sink.event(ApplyEvent::Skipped {
                address: skipped.clone(),
                action: self.action(d),
                because: address.clone(),
            });
            if !self.report.skipped.contains(&skipped) {
                self.report.skipped.push(skipped);
            }
            stack.extend(self.dependents[d].iter().copied());
        }
    }

    /// The addresses of the steps still waiting, once, in address order.
    fn not_started(&self) -> Vec<NativeAddr> {
        let not_started: BTreeSet<NativeAddr> = (0..self.status.len())
            .filter(|i| self.status[*i] == StepState::Waiting)
            .map(|i| self.address(i))
            .collect();
        not_started.into_iter().collect()
    }
}

/// Runs every step of the graph; the report's state is left empty for the caller to fill.
pub(crate) async fn run_steps(
    ctx: &Arc<Ctx>,
    graph: &StepGraph,
    changes: &[Arc<ResourceChange>],
    sink: &dyn EventSink,
    opts: &ApplyOptions,
) -> ApplyReport {
    let mut s = Scheduler::new(graph, changes, sink);
    let limit = opts.parallelism.unwrap_or(usize::MAX).max(1);
    let interrupted = || opts.interrupt.as_ref().is_some_and(|i| i.is_triggered());
    let mut tasks = JoinSet::new();
    let mut in_flight = 0usize;
    loop {
        while !interrupted()
            && in_flight < limit
            && let Some(i) = s.ready.pop()
        {
            let (c, phase) = graph.steps[i];
            s.status[i] = StepState::Running;
            tasks.spawn(run_with_events(ctx.clone(), changes[c].clone(), phase, i));
            in_flight += 1;
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        in_flight -= 1;
        match joined {
            Ok((i, Ok(()))) => s.succeeded(i),
            Ok((i, Err(message))) => s.failed(i, message),
            Err(e) => tracing::error!(error = %e, "apply task ended abnormally"),
        }
    }
    if interrupted() {
        s.report.interrupted = true;
        s.report.not_started = s.not_started();
    }
    s.report
}
