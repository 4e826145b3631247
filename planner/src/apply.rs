//! Apply: execute exactly the reviewed plan on a dependency-graph scheduler.
//!
//! A native resource starts as soon as everything it depends on has finished; deletes run in
//! reverse order. When one fails, independent branches go on and its dependents are skipped.
//! The state is written after every completed resource. A resource's final configuration is
//! evaluated only when it starts (its upstream values are known by then) and must agree with
//! every value the plan showed as known.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use provider_api::{CreateRequest, Identity, ProviderError, ResourceState, Value, same};
use state::{Backend, ComponentRecord, OutputRecord, ResourceRecord, State, StateError};
use tokio::task::JoinSet;

use crate::addr::{ComponentAddr, NativeAddr};
use crate::dag::Dag;
use crate::engine::{
    Engine, Instance, Scope, block_value, instance_value, prior_config_from, with_native_defaults,
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

#[derive(Clone, Debug, Default)]
pub struct ApplyOptions {
    /// An optional global cap on operations in flight (the graph is the only limit otherwise).
    pub parallelism: Option<usize>,
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
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        self.failures.is_empty() && self.skipped.is_empty()
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

/// Evaluates configuration at apply time from the live state.
struct Resolver {
    engine: Arc<Engine>,
    instances: Mutex<BTreeMap<ComponentAddr, Instance>>,
    /// Blocks with operations still to run: their values are not final yet.
    unfinished: Mutex<BTreeMap<(String, String), usize>>,
    finals: Mutex<BTreeMap<Node, Value>>,
}

impl Resolver {
    fn native_attr(state: &State, inst: &Instance, sib: &str, attr: &str) -> Option<Value> {
        let spec = inst.expansion.get(sib)?;
        let addr = NativeAddr::new(&inst.addr, &spec.type_name, sib).to_string();
        state.resource(&addr)?.attrs().get(attr).cloned()
    }

    /// The value of a graph node, computed from upstream values and the live state.
    fn value(&self, node: &Node, state: &State) -> Result<Value, String> {
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
                    .eval_block(t, n, &scope, &prior_config_from(state, None))
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

    fn scope_for(&self, node: &Node, state: &State) -> Result<Scope, String> {
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

    fn instance(&self, comp: &ComponentAddr, state: &State) -> Result<Instance, String> {
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
                &prior_config_from(state, None),
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
    fn final_config(&self, change: &ResourceChange, state: &State) -> Result<Attrs, String> {
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
    }
}

/// Retries throttling, transient failures and timeouts with exponential backoff.
async fn with_retries<T, F, Fut>(what: &str, mut op: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    let mut delay = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if e.is_retryable() && attempt < 6 => {
                tracing::info!(%what, attempt, error = %e, "retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                attempt += 1;
            }
            other => return other,
        }
    }
}

struct Ctx {
    engine: Arc<Engine>,
    resolver: Resolver,
    live: Arc<tokio::sync::Mutex<State>>,
    backend: Arc<dyn Backend>,
    sink: Arc<dyn EventSink>,
}

impl Ctx {
    async fn save(&self, mutate: impl FnOnce(&mut State)) -> Result<(), String> {
        let mut st = self.live.lock().await;
        mutate(&mut st);
        st.serial += 1;
        self.backend
            .write(&st)
            .await
            .map_err(|e| format!("saving state: {e}"))
    }

    fn record(change: &ResourceChange, created: ResourceState) -> ResourceRecord {
        let mut r = ResourceRecord {
            address: change.address.to_string(),
            block_type: change.block_type.clone(),
            type_name: change.type_name.clone(),
            provider: change.provider.clone(),
            id: created.id,
            attributes: Default::default(),
            sensitive_attributes: Vec::new(),
            dependencies: change.depends_on.iter().map(ToString::to_string).collect(),
            create_before_destroy: change.create_before_destroy,
        };
        r.set_attrs(&created.attrs);
        r
    }

    async fn run(&self, change: &ResourceChange, phase: Phase) -> Result<Option<String>, String> {
        let provider = self
            .engine
            .provider(&change.provider)
            .cloned()
            .ok_or_else(|| format!("provider `{}` is not configured", change.provider))?;
        let addr = change.address.to_string();
        let type_name = change.type_name.as_str();
        let recorded = {
            let st = self.live.lock().await;
            st.resource(&addr).map(|r| ResourceState {
                id: r.id.clone(),
                attrs: r.attrs(),
            })
        };
        // The object the plan saw, for deleting it when the state no longer points at it.
        let planned_old = change.id.as_ref().map(|id| ResourceState {
            id: id.clone(),
            attrs: change.before.clone().unwrap_or_default(),
        });
        if phase == Phase::Destroy {
            let cbd_replace = change.action == Action::Replace && change.create_before_destroy;
            // After a create-before-destroy replacement the record holds the new object, and
            // the old one is known from the plan only.
            let old = if cbd_replace {
                planned_old
            } else {
                recorded.or(planned_old)
            };
            let Some(old) = old else {
                return Ok(None);
            };
            with_retries(&addr, || provider.delete(type_name, &old))
                .await
                .map_err(|e| e.to_string())?;
            if !cbd_replace {
                self.save(|s| {
                    s.remove(&addr);
                })
                .await?;
            }
            return Ok(Some(old.id));
        }
        let config = {
            let st = self.live.lock().await;
            self.resolver.final_config(change, &st)?
        };
        let result = match change.action {
            Action::Update => {
                let prior = recorded.ok_or_else(|| {
                    format!("{addr} is no longer in the state: run `ss plan` again")
                })?;
                with_retries(&addr, || provider.update(type_name, &prior, &config)).await
            }
            Action::Create | Action::Replace => {
                // A create-before-destroy replacement exists beside the old object for a
                // while, so it needs its own identity (derived from the old id: still
                // deterministic when retried).
                let identity = Identity {
                    stack: self.engine.stack.clone(),
                    address: match (&change.id, change.create_before_destroy) {
                        (Some(old), true) if change.action == Action::Replace => {
                            format!("{addr}~{old}")
                        }
                        _ => addr.clone(),
                    },
                };
                with_retries(&addr, || {
                    provider.create(CreateRequest {
                        type_name,
                        identity: &identity,
                        config: &config,
                    })
                })
                .await
            }
            Action::Delete | Action::NoOp => return Ok(change.id.clone()),
        };
        let object = result.map_err(|e| e.to_string())?;
        let id = object.id.clone();
        let component = &change.address.component;
        let is_component = provider_api::component::is_component(&component.type_name);
        self.save(|s| {
            s.upsert(Self::record(change, object));
            // The configuration this component was applied with, for `ignore_changes` later.
            if is_component && let Ok(inst) = self.resolver.instance(component, s) {
                s.upsert_component(ComponentRecord::new(&component.to_string(), &inst.config));
            }
        })
        .await?;
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

type Step = (NativeAddr, Phase);

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
    change: ResourceChange,
    phase: Phase,
) -> (Step, Result<(), String>) {
    let address = change.address.clone();
    let action = step_action(change.action, phase);
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
    let step = (address.clone(), phase);
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

/// The apply graph, built from the plan alone (edges point at what a step waits for):
/// - a create or update waits for the creates and updates of what it depends on;
/// - a destroy waits for the destroys of everything that depends on the object;
/// - a replacement creates after it destroys, or, with `create_before_destroy`, destroys the
///   old object only after the new one exists and its dependents have moved to it.
fn apply_graph(changes: &[ResourceChange]) -> Dag<Step> {
    let by_addr: BTreeMap<&NativeAddr, &ResourceChange> =
        changes.iter().map(|c| (&c.address, c)).collect();
    let has = |c: &ResourceChange, p: Phase| phases(c.action).contains(&p);
    let mut dag = Dag::default();
    for c in changes {
        for p in phases(c.action) {
            dag.add_node((c.address.clone(), *p));
        }
        if c.action == Action::Replace {
            let (destroy, create) = (
                (c.address.clone(), Phase::Destroy),
                (c.address.clone(), Phase::Apply),
            );
            if c.create_before_destroy {
                dag.add_edge(destroy, create);
            } else {
                dag.add_edge(create, destroy);
            }
        }
        for d in &c.depends_on {
            let Some(dc) = by_addr.get(d) else { continue };
            if has(c, Phase::Apply) && has(dc, Phase::Apply) {
                dag.add_edge((c.address.clone(), Phase::Apply), (d.clone(), Phase::Apply));
            }
            if has(c, Phase::Destroy) && has(dc, Phase::Destroy) {
                dag.add_edge(
                    (d.clone(), Phase::Destroy),
                    (c.address.clone(), Phase::Destroy),
                );
            }
            if dc.action == Action::Replace && dc.create_before_destroy && has(c, Phase::Apply) {
                dag.add_edge(
                    (d.clone(), Phase::Destroy),
                    (c.address.clone(), Phase::Apply),
                );
            }
        }
    }
    dag
}

/// Applies the plan. `state` is the current state (None when there is none yet); it must be
/// the state the plan was made against.
pub async fn apply(
    engine: Arc<Engine>,
    plan: &Plan,
    state: Option<State>,
    backend: Arc<dyn Backend>,
    sink: Arc<dyn EventSink>,
    opts: &ApplyOptions,
) -> Result<ApplyReport, ApplyError> {
    check_fresh(plan, state.as_ref())?;
    let actionable: Vec<ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.action.is_change())
        .cloned()
        .collect();
    let graph = apply_graph(&actionable);
    if graph.topo_order().is_none() {
        let cycles: Vec<String> = graph
            .cycles()
            .into_iter()
            .map(|c| {
                c.iter()
                    .map(|(a, p)| format!("{a} ({p:?})"))
                    .collect::<Vec<_>>()
                    .join(" → ")
            })
            .collect();
        return Err(ApplyError::Cycle(cycles.join("; ")));
    }
    let live = Arc::new(tokio::sync::Mutex::new(state.unwrap_or_default()));
    let mut unfinished: BTreeMap<(String, String), usize> = BTreeMap::new();
    for c in &actionable {
        *unfinished
            .entry((
                c.address.component.type_name.clone(),
                c.address.component.name.clone(),
            ))
            .or_default() += phases(c.action).len();
    }
    let ctx = Arc::new(Ctx {
        engine: engine.clone(),
        resolver: Resolver {
            engine: engine.clone(),
            instances: Mutex::new(BTreeMap::new()),
            unfinished: Mutex::new(unfinished),
            finals: Mutex::new(BTreeMap::new()),
        },
        live: live.clone(),
        backend,
        sink: sink.clone(),
    });
    let by_addr: BTreeMap<NativeAddr, ResourceChange> = actionable
        .iter()
        .map(|c| (c.address.clone(), c.clone()))
        .collect();
    let mut remaining: BTreeMap<Step, usize> = graph
        .nodes()
        .map(|k| (k.clone(), graph.dependencies(k).count()))
        .collect();
    let mut dependents: BTreeMap<Step, Vec<Step>> = BTreeMap::new();
    for k in graph.nodes() {
        for d in graph.dependencies(k) {
            dependents.entry(d.clone()).or_default().push(k.clone());
        }
    }
    let mut ready: Vec<Step> = remaining
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| k.clone())
        .collect();
    ready.reverse();
    let limit = opts.parallelism.unwrap_or(usize::MAX).max(1);
    let mut tasks = JoinSet::new();
    let mut report = ApplyReport {
        state: State::new(),
        completed: Vec::new(),
        failures: Vec::new(),
        skipped: Vec::new(),
    };
    let mut in_flight = 0usize;
    loop {
        while in_flight < limit
            && let Some((addr, phase)) = ready.pop()
        {
            if let Some(change) = by_addr.get(&addr) {
                tasks.spawn(run_with_events(ctx.clone(), change.clone(), phase));
                in_flight += 1;
            }
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        in_flight -= 1;
        let (step, result) = match joined {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "apply task ended abnormally");
                continue;
            }
        };
        let action = by_addr
            .get(&step.0)
            .map(|c| step_action(c.action, step.1))
            .unwrap_or(Action::NoOp);
        match result {
            Ok(()) => {
                report.completed.push((step.0.clone(), action));
                for d in dependents.get(&step).into_iter().flatten() {
                    if let Some(n) = remaining.get_mut(d) {
                        *n -= 1;
                        if *n == 0 {
                            ready.push(d.clone());
                        }
                    }
                }
            }
            Err(message) => {
                report.failures.push(Failure {
                    address: step.0.clone(),
                    action,
                    message,
                });
                let mut stack: Vec<Step> = dependents.get(&step).cloned().unwrap_or_default();
                let mut seen = BTreeSet::new();
                while let Some(d) = stack.pop() {
                    if !seen.insert(d.clone()) {
                        continue;
                    }
                    remaining.remove(&d);
                    if let Some(c) = by_addr.get(&d.0) {
                        sink.event(ApplyEvent::Skipped {
                            address: d.0.clone(),
                            action: step_action(c.action, d.1),
                            because: step.0.clone(),
                        });
                    }
                    if !report.skipped.contains(&d.0) {
                        report.skipped.push(d.0.clone());
                    }
                    stack.extend(dependents.get(&d).cloned().unwrap_or_default());
                }
            }
        }
    }
    // Outputs reflect the final values (only what is known is stored).
    {
        let mut st = live.lock().await;
        let mut outputs = BTreeMap::new();
        if plan.mode == PlanMode::Apply {
            for o in &engine.config.outputs {
                let node = Node::Output(o.name.clone());
                let value = ctx.resolver.scope_for(&node, &st).and_then(|scope| {
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
        let components_before = st.components.len();
        st.prune_components(|a| {
            a.parse::<NativeAddr>()
                .ok()
                .map(|n| n.component.to_string())
        });
        if outputs != st.outputs
            || report.completed.is_empty()
            || st.components.len() != components_before
        {
            st.outputs = outputs;
            st.serial += 1;
            ctx.backend.write(&st).await?;
        }
        report.state = st.clone();
    }
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

    fn step(addr: &str, phase: Phase) -> Step {
        (addr.parse().expect("address"), phase)
    }

    /// The position of each step in the order the scheduler may run them.
    fn order(changes: &[ResourceChange]) -> Vec<Step> {
        apply_graph(changes).topo_order().expect("acyclic")
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
