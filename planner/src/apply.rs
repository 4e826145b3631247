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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use provider_api::{CreateRequest, Identity, ProviderError, ResourceState, Value, same};
use state::{
    Backend, ComponentRecord, Intent, IntentAction, JournalEntry, OutputRecord, ResourceRecord,
    Stamp, State, StateError,
};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;

use crate::addr::{ComponentAddr, NativeAddr};
use crate::dag::Dag;
use crate::engine::{
    Engine, Instance, Limits, Records, Scope, block_value, instance_value, prior_config_from,
    with_native_defaults,
};
use crate::events::{ApplyEvent, EventSink};
use crate::graph::Node;
use crate::plan::{Action, Attrs, Plan, PlanMode, ResourceChange};
use crate::spec;

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

/// The state during an apply, indexed by address; every change arrives as a journal entry.
#[derive(Debug)]
pub(crate) struct Live {
    meta: State,
    pub(crate) resources: HashMap<String, ResourceRecord>,
    components: HashMap<String, ComponentRecord>,
}

impl Live {
    pub(crate) fn new(mut state: State) -> Live {
        let resources = std::mem::take(&mut state.resources)
            .into_iter()
            .map(|r| (r.address.clone(), r))
            .collect();
        let components = std::mem::take(&mut state.components)
            .into_iter()
            .map(|c| (c.address.clone(), c))
            .collect();
        Live {
            meta: state,
            resources,
            components,
        }
    }

    /// Applies an entry as [`state::journal::replay`] does (same serial rule).
    pub(crate) fn apply(&mut self, entry: &JournalEntry) {
        match entry {
            JournalEntry::Intent(_) | JournalEntry::Resolved { .. } => return,
            JournalEntry::Upsert { record } => {
                self.resources
                    .insert(record.address.clone(), record.clone());
            }
            JournalEntry::Remove { address } => {
                self.resources.remove(address);
            }
            JournalEntry::UpsertComponent { record } => {
                self.components
                    .insert(record.address.clone(), record.clone());
            }
            JournalEntry::RemoveComponent { address } => {
                self.components.remove(address);
            }
            JournalEntry::Outputs { outputs } => self.meta.outputs = outputs.clone(),
        }
        self.meta.serial += 1;
    }

    /// The state, without copying the records; they are sorted by address, as a state keeps
    /// them.
    pub(crate) fn into_state(self) -> State {
        let mut s = self.meta;
        s.resources = self.resources.into_values().collect();
        s.resources.sort_by(|a, b| a.address.cmp(&b.address));
        s.components = self.components.into_values().collect();
        s.components.sort_by(|a, b| a.address.cmp(&b.address));
        s
    }
}

impl Records for Live {
    fn resource(&self, address: &str) -> Option<&ResourceRecord> {
        self.resources.get(address)
    }

    fn component(&self, address: &str) -> Option<&ComponentRecord> {
        self.components.get(address)
    }
}

type Ack = oneshot::Sender<Result<(), String>>;

/// Appends journal entries with group commit: everything queued while one durable append is
/// in progress goes into the next one.
#[derive(Clone)]
pub(crate) struct Journal {
    tx: mpsc::UnboundedSender<(Vec<JournalEntry>, Ack)>,
}

impl Journal {
    pub(crate) fn start(backend: Arc<dyn Backend>, base: Stamp) -> Journal {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Vec<JournalEntry>, Ack)>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                let entries: Vec<JournalEntry> =
                    batch.iter().flat_map(|(e, _)| e.iter().cloned()).collect();
                let result = backend
                    .append(&base, &entries)
                    .await
                    .map_err(|e| format!("recording progress in the journal: {e}"));
                for (_, ack) in batch {
                    let _ = ack.send(result.clone());
                }
            }
        });
        Journal { tx }
    }

    /// Returns once the entries are durable.
    pub(crate) async fn record(&self, entries: Vec<JournalEntry>) -> Result<(), String> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send((entries, ack))
            .map_err(|_| "the journal writer stopped".to_string())?;
        done.await
            .map_err(|_| "the journal writer stopped".to_string())?
    }
}

/// The address under which a replaced object stays recorded until it is deleted (after a
/// create-before-destroy replacement): a sibling of the new object, so that if ss stops before
/// deleting it, the next plan deletes it like any resource the spec no longer has.
pub fn deposed_address(addr: &NativeAddr, old_id: &str) -> NativeAddr {
    let sanitized: String = old_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let (type_name, local) = match &addr.native {
        Some((t, n)) => (t.clone(), format!("{n}_deposed_{sanitized}")),
        None => (
            addr.component.type_name.clone(),
            format!("deposed_{sanitized}"),
        ),
    };
    NativeAddr {
        component: addr.component.clone(),
        native: Some((type_name, local)),
    }
}

/// Evaluates configuration at apply time from the live state.
struct Resolver {
    engine: Arc<Engine>,
    instances: Mutex<HashMap<ComponentAddr, Instance>>,
    /// Blocks with operations still to run: their values are not final yet.
    unfinished: Mutex<BTreeMap<(String, String), usize>>,
    /// The same per component instance: an instance's cached evaluation is dropped once all
    /// its operations are done (its dependents read its value from the live state).
    unfinished_instances: Mutex<HashMap<ComponentAddr, usize>>,
    finals: Mutex<HashMap<Node, Value>>,
}

impl Resolver {
    fn native_attr(state: &Live, inst: &Instance, sib: &str, attr: &str) -> Option<Value> {
        let spec = inst.expansion.get(sib)?;
        let addr = NativeAddr::new(&inst.addr, &spec.type_name, sib).to_string();
        state.resources.get(&addr)?.attrs().get(attr).cloned()
    }

    /// The value of a graph node, computed from upstream values and the live state.
    fn value(&self, node: &Node, state: &Live) -> Result<Value, String> {
        if let Ok(finals) = self.finals.lock()
            && let Some(v) = finals.get(node)
        {
            return Ok(v.clone());
        }
        let (value, is_final) = match node {
            Node::Local(name) => {
                let scope = self.scope_for(node, state)?;
                let local = self
                    .engine
                    .config
                    .locals
                    .iter()
                    .find(|l| &l.name == name)
                    .ok_or_else(|| format!("local {name} vanished"))?;
                let v = spec::eval(&local.expr, &self.engine.context(&scope, None, None))
                    .map_err(|d| d.to_string())?;
                let known = v.is_wholly_known();
                (v, known)
            }
            Node::Block(t, n) => {
                let scope = self.scope_for(node, state)?;
                let instances = self
                    .engine
                    .eval_block(t, n, &scope, &prior_config_from(state))
                    .map_err(|d| d.to_string())?;
                let values = instances
                    .iter()
                    .map(|inst| {
                        let v = instance_value(inst, &|sib, attr| {
                            Self::native_attr(state, inst, sib, attr)
                        });
                        (inst.addr.key.clone(), v)
                    })
                    .collect();
                let block = self
                    .engine
                    .block(t, n)
                    .ok_or_else(|| format!("{t}.{n} vanished"))?;
                let v = block_value(block, values);
                let done = self
                    .unfinished
                    .lock()
                    .map(|u| u.get(&(t.clone(), n.clone())).copied().unwrap_or(0) == 0)
                    .unwrap_or(false);
                let known = v.is_wholly_known();
                (v, done && known)
            }
            Node::Provider(_) | Node::Output(_) => (Value::Null, false),
        };
        if is_final && let Ok(mut finals) = self.finals.lock() {
            finals.insert(node.clone(), value.clone());
        }
        Ok(value)
    }

    fn scope_for(&self, node: &Node, state: &Live) -> Result<Scope, String> {
        let mut scope = Scope::default();
        let deps: Vec<Node> = self.engine.graph.dag.dependencies(node).cloned().collect();
        for dep in deps {
            match &dep {
                Node::Local(name) => {
                    scope.locals.insert(name.clone(), self.value(&dep, state)?);
                }
                Node::Block(t, n) => {
                    scope
                        .resources
                        .insert((t.clone(), n.clone()), self.value(&dep, state)?);
                }
                Node::Provider(_) | Node::Output(_) => {}
            }
        }
        Ok(scope)
    }

    fn instance(&self, comp: &ComponentAddr, state: &Live) -> Result<Instance, String> {
        if let Ok(cache) = self.instances.lock()
            && let Some(i) = cache.get(comp)
        {
            return Ok(i.clone());
        }
        let node = Node::Block(comp.type_name.clone(), comp.name.clone());
        let scope = self.scope_for(&node, state)?;
        let instances = self
            .engine
            .eval_block(
                &comp.type_name,
                &comp.name,
                &scope,
                &prior_config_from(state),
            )
            .map_err(|d| d.to_string())?;
        let inst = instances
            .into_iter()
            .find(|i| &i.addr == comp)
            .ok_or_else(|| format!("{comp} is no longer in the configuration"))?;
        if inst.config.values().all(Value::is_wholly_known)
            && let Ok(mut cache) = self.instances.lock()
        {
            cache.insert(comp.clone(), inst.clone());
        }
        Ok(inst)
    }

    /// The configuration to send to the provider, checked against the plan.
    fn final_config(&self, change: &ResourceChange, state: &Live) -> Result<Attrs, String> {
        let inst = self.instance(&change.address.component, state)?;
        let local = change.address.local_name();
        let native = inst.expansion.get(local).ok_or_else(|| {
            format!(
                "{} no longer expands to {}: run `ss plan` again",
                change.address.component, change.address
            )
        })?;
        let config: Attrs = native
            .config
            .iter()
            .map(|(k, b)| {
                (
                    k.clone(),
                    b.resolve(&|sib, attr| Self::native_attr(state, &inst, sib, attr)),
                )
            })
            .collect();
        let schema = self
            .engine
            .native_schema(&change.provider, &change.type_name);
        let mut config = with_native_defaults(schema, config);
        if let Some(schema) = schema {
            for (k, v) in config.iter_mut() {
                if let Some(a) = schema.body.attributes.get(k) {
                    *v = a.ty.convert(std::mem::take(v));
                }
            }
        }
        if let Some(planned) = &change.after {
            for (k, v) in &config {
                if let Some(p) = planned.get(k)
                    && p.is_wholly_known()
                    && !same(p, v)
                {
                    return Err(format!(
                        "the value of `{k}` differs from the plan; run `ss plan` again"
                    ));
                }
            }
        }
        if let Some((k, _)) = config.iter().find(|(_, v)| !v.is_wholly_known()) {
            return Err(format!("`{k}` is still unknown when it is needed"));
        }
        Ok(config)
    }

    fn finished(&self, addr: &NativeAddr) {
        if let Ok(mut u) = self.unfinished.lock()
            && let Some(n) = u.get_mut(&(
                addr.component.type_name.clone(),
                addr.component.name.clone(),
            ))
        {
            *n = n.saturating_sub(1);
        }
        let instance_done = match self.unfinished_instances.lock() {
            Ok(mut u) => match u.get_mut(&addr.component) {
                Some(n) => {
                    *n = n.saturating_sub(1);
                    *n == 0
                }
                None => false,
            },
            Err(_) => false,
        };
        if instance_done && let Ok(mut cache) = self.instances.lock() {
            cache.remove(&addr.component);
        }
    }
}

/// Rate and concurrency limits of one provider.
struct Gate {
    slots: Option<Semaphore>,
    interval: Option<Duration>,
    next: tokio::sync::Mutex<Instant>,
}

impl Gate {
    fn new(limits: &Limits) -> Gate {
        Gate {
            slots: limits.max_in_flight.map(Semaphore::new),
            interval: limits
                .requests_per_second
                .map(|rps| Duration::from_secs_f64(1.0 / rps)),
            next: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    /// Waits for the next request slot of the rate limit.
    async fn pace(&self) {
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

/// Calls the provider with the provider's pacing, retrying throttling, transient failures and
/// timeouts with exponential backoff and jitter; other errors fail at once.
async fn call<T, F, Fut>(gate: &Gate, what: &str, op: F) -> Result<T, ProviderError>
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

struct Ctx {
    engine: Arc<Engine>,
    resolver: Resolver,
    live: Arc<Mutex<Live>>,
    journal: Journal,
    next_intent: AtomicU64,
    gates: BTreeMap<String, Gate>,
    sink: Arc<dyn EventSink>,
}

impl Ctx {
    fn record(change: &ResourceChange, object: ResourceState) -> ResourceRecord {
        let mut r = ResourceRecord {
            address: change.address.to_string(),
            block_type: change.block_type.clone(),
            type_name: change.type_name.clone(),
            provider: change.provider.clone(),
            id: object.id,
            attributes: Default::default(),
            sensitive_attributes: Vec::new(),
            dependencies: change.depends_on.iter().map(ToString::to_string).collect(),
            create_before_destroy: change.create_before_destroy,
        };
        r.set_attrs(&object.attrs);
        r
    }

    fn live(&self) -> Result<std::sync::MutexGuard<'_, Live>, String> {
        self.live
            .lock()
            .map_err(|_| "the live state is unusable after a panic".to_string())
    }

    /// Applies entries to the live state and makes them durable.
    ///
    /// The live state may run ahead of the journal for the moment the append takes; if the
    /// append fails the apply stops with that error, and nothing reads the live state after.
    async fn commit(&self, entries: Vec<JournalEntry>) -> Result<(), String> {
        {
            let mut live = self.live()?;
            for e in &entries {
                live.apply(e);
            }
        }
        self.journal.record(entries).await
    }

    fn intent(
        &self,
        change: &ResourceChange,
        action: IntentAction,
        identity: &Identity,
        object_id: Option<String>,
    ) -> Intent {
        Intent {
            id: self.next_intent.fetch_add(1, Ordering::SeqCst),
            action,
            address: change.address.to_string(),
            block_type: change.block_type.clone(),
            type_name: change.type_name.clone(),
            provider: change.provider.clone(),
            stack: identity.stack.clone(),
            identity: identity.address.clone(),
            object_id,
            dependencies: change.depends_on.iter().map(ToString::to_string).collect(),
            create_before_destroy: change.create_before_destroy,
        }
    }

    async fn run(&self, change: &ResourceChange, phase: Phase) -> Result<Option<String>, String> {
        let provider = self
            .engine
            .provider(&change.provider)
            .cloned()
            .ok_or_else(|| format!("provider `{}` is not configured", change.provider))?;
        let gate = self
            .gates
            .get(&change.provider)
            .ok_or_else(|| format!("provider `{}` is not configured", change.provider))?;
        let addr = change.address.to_string();
        let type_name = change.type_name.as_str();
        let identity = |suffix: Option<&str>| Identity {
            stack: self.engine.stack.clone(),
            address: match suffix {
                Some(s) => format!("{addr}~{s}"),
                None => addr.clone(),
            },
        };
        let cbd_replace = change.action == Action::Replace && change.create_before_destroy;
        if phase == Phase::Destroy {
            // After a create-before-destroy replacement the old object is recorded at its
            // deposed address; otherwise at the address itself.
            let (record_addr, old) = {
                let live = self.live()?;
                if cbd_replace {
                    let Some(old_id) = &change.id else {
                        return Ok(None);
                    };
                    let deposed = deposed_address(&change.address, old_id).to_string();
                    let old = live.resources.get(&deposed).map(|r| ResourceState {
                        id: r.id.clone(),
                        attrs: r.attrs(),
                    });
                    (deposed, old)
                } else {
                    let old = live.resources.get(&addr).map(|r| ResourceState {
                        id: r.id.clone(),
                        attrs: r.attrs(),
                    });
                    (addr.clone(), old)
                }
            };
            let Some(old) = old else {
                return Ok(None);
            };
            let intent = self.intent(
                change,
                IntentAction::Delete,
                &identity(None),
                Some(old.id.clone()),
            );
            let intent_id = intent.id;
            self.commit(vec![JournalEntry::Intent(intent)]).await?;
            let result = call(gate, &addr, || provider.delete(type_name, &old)).await;
            let mut entries = Vec::new();
            if result.is_ok() {
                entries.push(JournalEntry::Remove {
                    address: record_addr,
                });
            }
            entries.push(JournalEntry::Resolved { intent: intent_id });
            self.commit(entries).await?;
            result.map_err(|e| e.to_string())?;
            return Ok(Some(old.id));
        }
        let (config, prior) = {
            let live = self.live()?;
            let config = self.resolver.final_config(change, &live)?;
            let prior = live.resources.get(&addr).map(|r| ResourceState {
                id: r.id.clone(),
                attrs: r.attrs(),
            });
            (config, prior)
        };
        let (intent, result) = match change.action {
            Action::Update => {
                let prior = prior.ok_or_else(|| {
                    format!("{addr} is no longer in the state: run `ss plan` again")
                })?;
                let intent = self.intent(
                    change,
                    IntentAction::Update,
                    &identity(None),
                    Some(prior.id.clone()),
                );
                let intent_id = intent.id;
                self.commit(vec![JournalEntry::Intent(intent)]).await?;
                let r = call(gate, &addr, || provider.update(type_name, &prior, &config)).await;
                (intent_id, r)
            }
            Action::Create | Action::Replace => {
                // A create-before-destroy replacement exists beside the old object for a
                // while, so it needs its own identity (derived from the old id: still
                // deterministic when retried or recovered).
                let old_id = change.id.clone().filter(|_| cbd_replace);
                let identity = identity(old_id.as_deref());
                let intent = self.intent(change, IntentAction::Create, &identity, old_id);
                let intent_id = intent.id;
                self.commit(vec![JournalEntry::Intent(intent)]).await?;
                let r = call(gate, &addr, || {
                    provider.create(CreateRequest {
                        type_name,
                        identity: &identity,
                        config: &config,
                    })
                })
                .await;
                (intent_id, r)
            }
            Action::Delete | Action::NoOp => return Ok(change.id.clone()),
        };
        let object = match result {
            Ok(o) => o,
            Err(e) => {
                self.commit(vec![JournalEntry::Resolved { intent }]).await?;
                return Err(e.to_string());
            }
        };
        let id = object.id.clone();
        let mut entries = Vec::new();
        if cbd_replace && let Some(old) = self.live()?.resources.get(&addr).cloned() {
            let mut deposed = old;
            deposed.address = deposed_address(&change.address, &deposed.id).to_string();
            entries.push(JournalEntry::Upsert { record: deposed });
        }
        entries.push(JournalEntry::Upsert {
            record: Self::record(change, object),
        });
        // The configuration a component was applied with, for `ignore_changes` later.
        let component = &change.address.component;
        if provider_api::component::is_component(&component.type_name) {
            let inst = {
                let live = self.live()?;
                self.resolver.instance(component, &live)
            };
            if let Ok(inst) = inst {
                entries.push(JournalEntry::UpsertComponent {
                    record: ComponentRecord::new(&component.to_string(), &inst.config),
                });
            }
        }
        entries.push(JournalEntry::Resolved { intent });
        self.commit(entries).await?;
        Ok(Some(id))
    }
}

/// A step of the apply graph: each change is one step, except a replacement, which is two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Delete the existing object.
    Destroy,
    /// Create or update the object.
    Apply,
}

fn phases(action: Action) -> &'static [Phase] {
    match action {
        Action::NoOp => &[],
        Action::Create | Action::Update => &[Phase::Apply],
        Action::Delete => &[Phase::Destroy],
        Action::Replace => &[Phase::Destroy, Phase::Apply],
    }
}

/// What a step does, as shown in progress and summaries.
fn step_action(action: Action, phase: Phase) -> Action {
    match (action, phase) {
        (Action::Replace, Phase::Destroy) => Action::Delete,
        (Action::Replace, Phase::Apply) => Action::Create,
        (a, _) => a,
    }
}

/// Runs one step, reporting progress (with a "still working" event every 10 seconds).
async fn run_with_events(
    ctx: Arc<Ctx>,
    change: Arc<ResourceChange>,
    phase: Phase,
    step: usize,
) -> (usize, Result<(), String>) {
    let address = change.address.clone();
    let action = step_action(change.action, phase);
    // A step waiting for its provider's `max_in_flight` slot has not started: take the slot
    // before saying so (and before its elapsed time begins).
    let _slot = match ctx
        .gates
        .get(&change.provider)
        .and_then(|g| g.slots.as_ref())
    {
        Some(slots) => slots.acquire().await.ok(),
        None => None,
    };
    ctx.sink.event(ApplyEvent::Started {
        address: address.clone(),
        action,
    });
    let started = Instant::now();
    let work = ctx.run(&change, phase);
    tokio::pin!(work);
    let mut ticker = tokio::time::interval(Duration::from_secs(10));
    ticker.tick().await;
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = ticker.tick() => ctx.sink.event(ApplyEvent::Waiting {
                address: address.clone(),
                action,
                elapsed: started.elapsed(),
            }),
        }
    };
    let elapsed = started.elapsed();
    ctx.resolver.finished(&address);
    match result {
        Ok(id) => {
            ctx.sink.event(ApplyEvent::Finished {
                address,
                action,
                id,
                elapsed,
            });
            (step, Ok(()))
        }
        Err(message) => {
            ctx.sink.event(ApplyEvent::Failed {
                address,
                action,
                message: message.clone(),
                elapsed,
            });
            (step, Err(message))
        }
    }
}

/// The apply graph over step indices: `steps[i]` is (change index, phase) and `deps[i]` the
/// steps it waits for.
struct StepGraph {
    steps: Vec<(usize, Phase)>,
    deps: Vec<Vec<usize>>,
}

/// The apply graph, built from the plan alone (edges point at what a step waits for):
/// - a create or update waits for the creates and updates of what it depends on;
/// - a destroy waits for the destroys of everything that depends on the object;
/// - a replacement creates after it destroys, or, with `create_before_destroy`, destroys the
///   old object only after the new one exists and its dependents have moved to it.
fn apply_graph(changes: &[Arc<ResourceChange>]) -> StepGraph {
    let index: HashMap<&NativeAddr, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.address, i))
        .collect();
    let mut steps = Vec::new();
    let mut step_of: HashMap<(usize, Phase), usize> = HashMap::new();
    for (i, c) in changes.iter().enumerate() {
        for p in phases(c.action) {
            step_of.insert((i, *p), steps.len());
            steps.push((i, *p));
        }
    }
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    let mut edge = |from: (usize, Phase), to: (usize, Phase)| {
        if let (Some(a), Some(b)) = (step_of.get(&from), step_of.get(&to)) {
            deps[*a].push(*b);
        }
    };
    for (i, c) in changes.iter().enumerate() {
        if c.action == Action::Replace {
            if c.create_before_destroy {
                edge((i, Phase::Destroy), (i, Phase::Apply));
            } else {
                edge((i, Phase::Apply), (i, Phase::Destroy));
            }
        }
        for d in &c.depends_on {
            let Some(&j) = index.get(d) else { continue };
            let dc = &changes[j];
            edge((i, Phase::Apply), (j, Phase::Apply));
            edge((j, Phase::Destroy), (i, Phase::Destroy));
            if dc.action == Action::Replace && dc.create_before_destroy {
                edge((j, Phase::Destroy), (i, Phase::Apply));
            }
        }
    }
    for d in &mut deps {
        d.sort_unstable();
        d.dedup();
    }
    StepGraph { steps, deps }
}

impl StepGraph {
    fn dag(&self) -> Dag<usize> {
        let mut dag = Dag::default();
        for (i, ds) in self.deps.iter().enumerate() {
            dag.add_node(i);
            for d in ds {
                dag.add_edge(i, *d);
            }
        }
        dag
    }
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
    let graph = apply_graph(&changes);
    let step_name = |i: usize| {
        let (c, p) = graph.steps[i];
        format!("{} ({p:?})", changes[c].address)
    };
    let dag = graph.dag();
    if dag.topo_order().is_none() {
        let cycles: Vec<String> = dag
            .cycles()
            .into_iter()
            .map(|c| c.into_iter().map(step_name).collect::<Vec<_>>().join(" → "))
            .collect();
        return Err(ApplyError::Cycle(cycles.join("; ")));
    }
    drop(dag);
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
    let mut unfinished: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut unfinished_instances: HashMap<ComponentAddr, usize> = HashMap::new();
    for c in &changes {
        let n = phases(c.action).len();
        *unfinished
            .entry((
                c.address.component.type_name.clone(),
                c.address.component.name.clone(),
            ))
            .or_default() += n;
        *unfinished_instances
            .entry(c.address.component.clone())
            .or_default() += n;
    }
    let gates = engine
        .providers
        .keys()
        .map(|p| {
            let limits = engine.limits.get(p).cloned().unwrap_or_default();
            (p.clone(), Gate::new(&limits))
        })
        .collect();
    let ctx = Arc::new(Ctx {
        engine: engine.clone(),
        resolver: Resolver {
            engine: engine.clone(),
            instances: Mutex::new(HashMap::new()),
            unfinished: Mutex::new(unfinished),
            unfinished_instances: Mutex::new(unfinished_instances),
            finals: Mutex::new(HashMap::new()),
        },
        live: live.clone(),
        journal: Journal::start(backend.clone(), base),
        next_intent: AtomicU64::new(1),
        gates,
        sink: sink.clone(),
    });
    let n = graph.steps.len();
    let mut remaining: Vec<usize> = graph.deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ds) in graph.deps.iter().enumerate() {
        for d in ds {
            dependents[*d].push(i);
        }
    }
    let mut status = vec![StepState::Waiting; n];
    let mut ready: Vec<usize> = (0..n).rev().filter(|i| remaining[*i] == 0).collect();
    let limit = opts.parallelism.unwrap_or(usize::MAX).max(1);
    let interrupted = || opts.interrupt.as_ref().is_some_and(|i| i.is_triggered());
    let step_action_of = |i: usize| {
        let (c, p) = graph.steps[i];
        step_action(changes[c].action, p)
    };
    let mut tasks = JoinSet::new();
    let mut report = ApplyReport {
        state: State::new(),
        completed: Vec::new(),
        failures: Vec::new(),
        skipped: Vec::new(),
        interrupted: false,
        not_started: Vec::new(),
    };
    let mut in_flight = 0usize;
    loop {
        while !interrupted()
            && in_flight < limit
            && let Some(i) = ready.pop()
        {
            let (c, phase) = graph.steps[i];
            status[i] = StepState::Running;
            tasks.spawn(run_with_events(ctx.clone(), changes[c].clone(), phase, i));
            in_flight += 1;
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        in_flight -= 1;
        let (i, result) = match joined {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "apply task ended abnormally");
                continue;
            }
        };
        let address = changes[graph.steps[i].0].address.clone();
        match result {
            Ok(()) => {
                status[i] = StepState::Done;
                report.completed.push((address, step_action_of(i)));
                for d in &dependents[i] {
                    remaining[*d] -= 1;
                    if remaining[*d] == 0 {
                        ready.push(*d);
                    }
                }
            }
            Err(message) => {
                status[i] = StepState::Failed;
                report.failures.push(Failure {
                    address: address.clone(),
                    action: step_action_of(i),
                    message,
                });
                let mut stack: Vec<usize> = dependents[i].clone();
                while let Some(d) = stack.pop() {
                    if status[d] != StepState::Waiting {
                        continue;
                    }
                    status[d] = StepState::Skipped;
                    let skipped = changes[graph.steps[d].0].address.clone();
                    sink.event(ApplyEvent::Skipped {
                        address: skipped.clone(),
                        action: step_action_of(d),
                        because: address.clone(),
                    });
                    if !report.skipped.contains(&skipped) {
                        report.skipped.push(skipped);
                    }
                    stack.extend(dependents[d].iter().copied());
                }
            }
        }
    }
    if interrupted() {
        report.interrupted = true;
        let not_started: BTreeSet<NativeAddr> = (0..n)
            .filter(|i| status[*i] == StepState::Waiting)
            .map(|i| changes[graph.steps[i].0].address.clone())
            .collect();
        report.not_started = not_started.into_iter().collect();
    }
    // Outputs reflect the final values (only what is known is stored); then everything is
    // folded into one new snapshot.
    let outputs = {
        let live = live.lock().map_err(|_| StateError::Conflict {
            reason: "the live state is unusable after a panic".into(),
        })?;
        let mut outputs = BTreeMap::new();
        if plan.mode == PlanMode::Apply {
            for o in &engine.config.outputs {
                let node = Node::Output(o.name.clone());
                let value = ctx.resolver.scope_for(&node, &live).and_then(|scope| {
                    spec::eval(&o.value, &engine.context(&scope, None, None))
                        .map_err(|d| d.to_string())
                });
                if let Ok(v) = value
                    && let Some(json) = v.to_json()
                {
                    outputs.insert(
                        o.name.clone(),
                        OutputRecord {
                            value: json,
                            sensitive: o.sensitive || v.is_sensitive(),
                        },
                    );
                }
            }
        }
        outputs
    };
    let mut final_entries = vec![JournalEntry::Outputs { outputs }];
    {
        let live = live.lock().map_err(|_| StateError::Conflict {
            reason: "the live state is unusable after a panic".into(),
        })?;
        let alive: BTreeSet<String> = live
            .resources
            .keys()
            .filter_map(|a| {
                a.parse::<NativeAddr>()
                    .ok()
                    .map(|n| n.component.to_string())
            })
            .collect();
        for c in live.components.keys() {
            if !alive.contains(c) {
                final_entries.push(JournalEntry::RemoveComponent { address: c.clone() });
            }
        }
    }
    ctx.commit(final_entries)
        .await
        .map_err(|reason| StateError::Conflict { reason })?;
    let final_state = {
        let mut guard = live.lock().map_err(|_| StateError::Conflict {
            reason: "the live state is unusable after a panic".into(),
        })?;
        std::mem::replace(&mut *guard, Live::new(State::new())).into_state()
    };
    backend.compact(&final_state).await?;
    report.state = final_state;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(addr: &str, action: Action, deps: &[&str], cbd: bool) -> ResourceChange {
        ResourceChange {
            address: addr.parse().expect("address"),
            block_type: "sandbox_object".into(),
            type_name: "sandbox_object".into(),
            provider: "sandbox".into(),
            action,
            id: None,
            before: None,
            after: None,
            replace_because: Vec::new(),
            create_before_destroy: cbd,
            depends_on: deps.iter().map(|d| d.parse().expect("address")).collect(),
        }
    }

    type Step = (NativeAddr, Phase);

    fn step(addr: &str, phase: Phase) -> Step {
        (addr.parse().expect("address"), phase)
    }

    /// The position of each step in the order the scheduler may run them.
    fn order(changes: &[ResourceChange]) -> Vec<Step> {
        let changes: Vec<Arc<ResourceChange>> = changes.iter().cloned().map(Arc::new).collect();
        let graph = apply_graph(&changes);
        graph
            .dag()
            .topo_order()
            .expect("acyclic")
            .into_iter()
            .map(|i| {
                let (c, p) = graph.steps[i];
                (changes[c].address.clone(), p)
            })
            .collect()
    }

    fn before(order: &[Step], a: Step, b: Step) -> bool {
        let pos = |s: &Step| order.iter().position(|x| x == s).expect("step present");
        pos(&a) < pos(&b)
    }

    #[test]
    fn replacing_a_parent_destroys_children_first_and_creates_them_last() {
        let changes = [
            change("network.n.sandbox_vpc.vpc", Action::Replace, &[], false),
            change(
                "network.n.sandbox_subnet.s0",
                Action::Replace,
                &["network.n.sandbox_vpc.vpc"],
                false,
            ),
            change(
                "sandbox_object.app",
                Action::Update,
                &["network.n.sandbox_subnet.s0"],
                false,
            ),
        ];
        let o = order(&changes);
        let (vpc, subnet, app) = (
            "network.n.sandbox_vpc.vpc",
            "network.n.sandbox_subnet.s0",
            "sandbox_object.app",
        );
        assert!(before(
            &o,
            step(subnet, Phase::Destroy),
            step(vpc, Phase::Destroy)
        ));
        assert!(before(
            &o,
            step(vpc, Phase::Destroy),
            step(vpc, Phase::Apply)
        ));
        assert!(before(
            &o,
            step(vpc, Phase::Apply),
            step(subnet, Phase::Apply)
        ));
        assert!(before(
            &o,
            step(subnet, Phase::Apply),
            step(app, Phase::Apply)
        ));
    }

    #[test]
    fn create_before_destroy_deletes_the_old_object_after_dependents_moved() {
        let changes = [
            change(
                "postgres.db.sandbox_db_parameter_group.pg",
                Action::Replace,
                &[],
                true,
            ),
            change(
                "postgres.db.sandbox_pg_instance.primary",
                Action::Update,
                &["postgres.db.sandbox_db_parameter_group.pg"],
                false,
            ),
        ];
        let o = order(&changes);
        let (group, primary) = (
            "postgres.db.sandbox_db_parameter_group.pg",
            "postgres.db.sandbox_pg_instance.primary",
        );
        assert!(before(
            &o,
            step(group, Phase::Apply),
            step(primary, Phase::Apply)
        ));
        assert!(before(
            &o,
            step(primary, Phase::Apply),
            step(group, Phase::Destroy)
        ));
    }

    #[test]
    fn deletes_run_in_reverse_dependency_order() {
        let changes = [
            change("sandbox_object.a", Action::Delete, &[], false),
            change(
                "sandbox_object.b",
                Action::Delete,
                &["sandbox_object.a"],
                false,
            ),
            change(
                "sandbox_object.c",
                Action::Delete,
                &["sandbox_object.b"],
                false,
            ),
        ];
        let o = order(&changes);
        assert_eq!(
            o,
            vec![
                step("sandbox_object.c", Phase::Destroy),
                step("sandbox_object.b", Phase::Destroy),
                step("sandbox_object.a", Phase::Destroy),
            ]
        );
    }

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
