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
use state::{Backend, OutputRecord, ResourceRecord, State, StateError};
use tokio::task::JoinSet;

use crate::addr::{ComponentAddr, NativeAddr};
use crate::engine::{Engine, Instance, Scope, block_value, instance_value, with_native_defaults};
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
                    .eval_block(t, n, &scope)
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
            .eval_block(&comp.type_name, &comp.name, &scope)
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

    async fn run(&self, change: &ResourceChange) -> Result<Option<String>, String> {
        let provider = self
            .engine
            .provider(&change.provider)
            .cloned()
            .ok_or_else(|| format!("provider `{}` is not configured", change.provider))?;
        let addr = change.address.to_string();
        let prior = {
            let st = self.live.lock().await;
            st.resource(&addr).map(|r| ResourceState {
                id: r.id.clone(),
                attrs: r.attrs(),
            })
        };
        let config = match change.action {
            Action::Create | Action::Update | Action::Replace => {
                let st = self.live.lock().await;
                Some(self.resolver.final_config(change, &st)?)
            }
            Action::Delete | Action::NoOp => None,
        };
        let type_name = change.type_name.as_str();
        let create = |identity: Identity, config: Attrs| {
            let provider = provider.clone();
            async move {
                with_retries(&identity.address, || {
                    provider.create(CreateRequest {
                        type_name,
                        identity: &identity,
                        config: &config,
                    })
                })
                .await
            }
        };
        let identity = |suffix: Option<&str>| Identity {
            stack: self.engine.stack.clone(),
            address: match suffix {
                Some(s) => format!("{addr}~{s}"),
                None => addr.clone(),
            },
        };
        match (change.action, prior, config) {
            (Action::NoOp, _, _) => Ok(change.id.clone()),
            (Action::Delete, Some(p), _) => {
                with_retries(&addr, || provider.delete(type_name, &p))
                    .await
                    .map_err(|e| e.to_string())?;
                self.save(|s| {
                    s.remove(&addr);
                })
                .await?;
                Ok(Some(p.id))
            }
            (Action::Delete, None, _) => Ok(None),
            (Action::Create, _, Some(cfg)) => {
                let created = create(identity(None), cfg)
                    .await
                    .map_err(|e| e.to_string())?;
                let id = created.id.clone();
                self.save(|s| s.upsert(Self::record(change, created)))
                    .await?;
                Ok(Some(id))
            }
            (Action::Update, Some(p), Some(cfg)) => {
                let updated = with_retries(&addr, || provider.update(type_name, &p, &cfg))
                    .await
                    .map_err(|e| e.to_string())?;
                let id = updated.id.clone();
                self.save(|s| s.upsert(Self::record(change, updated)))
                    .await?;
                Ok(Some(id))
            }
            (Action::Replace, Some(p), Some(cfg)) if change.create_before_destroy => {
                let created = create(identity(Some(&p.id)), cfg)
                    .await
                    .map_err(|e| e.to_string())?;
                let id = created.id.clone();
                self.save(|s| s.upsert(Self::record(change, created)))
                    .await?;
                with_retries(&addr, || provider.delete(type_name, &p))
                    .await
                    .map_err(|e| {
                        format!("new object {id} is in place, but deleting the old one failed: {e}")
                    })?;
                Ok(Some(id))
            }
            (Action::Replace, Some(p), Some(cfg)) => {
                with_retries(&addr, || provider.delete(type_name, &p))
                    .await
                    .map_err(|e| e.to_string())?;
                self.save(|s| {
                    s.remove(&addr);
                })
                .await?;
                let created = create(identity(None), cfg)
                    .await
                    .map_err(|e| e.to_string())?;
                let id = created.id.clone();
                self.save(|s| s.upsert(Self::record(change, created)))
                    .await?;
                Ok(Some(id))
            }
            (Action::Update | Action::Replace, None, _) => Err(format!(
                "{addr} is no longer in the state: run `ss plan` again"
            )),
            (_, _, None) => Err(format!("no configuration for {addr}")),
        }
    }
}

/// Runs one change, reporting progress (with a "still working" event every 10 seconds).
async fn run_with_events(
    ctx: Arc<Ctx>,
    change: ResourceChange,
) -> (NativeAddr, Result<(), String>) {
    let address = change.address.clone();
    let action = change.action;
    ctx.sink.event(ApplyEvent::Started {
        address: address.clone(),
        action,
    });
    let started = Instant::now();
    let work = ctx.run(&change);
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
                address: address.clone(),
                action,
                id,
                elapsed,
            });
            (address, Ok(()))
        }
        Err(message) => {
            ctx.sink.event(ApplyEvent::Failed {
                address: address.clone(),
                action,
                message: message.clone(),
                elapsed,
            });
            (address, Err(message))
        }
    }
}

/// The apply graph, built from the plan alone: creates and updates wait for what they depend
/// on; a delete waits for the deletes of everything that depended on it.
fn apply_graph(changes: &[ResourceChange]) -> BTreeMap<NativeAddr, BTreeSet<NativeAddr>> {
    let by_addr: BTreeMap<&NativeAddr, &ResourceChange> =
        changes.iter().map(|c| (&c.address, c)).collect();
    let mut deps: BTreeMap<NativeAddr, BTreeSet<NativeAddr>> = changes
        .iter()
        .map(|c| (c.address.clone(), BTreeSet::new()))
        .collect();
    for c in changes {
        for d in &c.depends_on {
            let Some(dc) = by_addr.get(d) else { continue };
            match (c.action, dc.action) {
                (Action::Delete, Action::Delete) => {
                    deps.entry(d.clone()).or_default().insert(c.address.clone());
                }
                (Action::Delete, _) | (_, Action::Delete) => {}
                _ => {
                    deps.entry(c.address.clone()).or_default().insert(d.clone());
                }
            }
        }
    }
    deps
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
    let live = Arc::new(tokio::sync::Mutex::new(state.unwrap_or_default()));
    let actionable: Vec<ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.action.is_change())
        .cloned()
        .collect();
    let mut unfinished: BTreeMap<(String, String), usize> = BTreeMap::new();
    for c in &actionable {
        *unfinished
            .entry((
                c.address.component.type_name.clone(),
                c.address.component.name.clone(),
            ))
            .or_default() += 1;
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
    let graph = apply_graph(&actionable);
    let mut remaining: BTreeMap<NativeAddr, usize> =
        graph.iter().map(|(k, v)| (k.clone(), v.len())).collect();
    let mut dependents: BTreeMap<NativeAddr, Vec<NativeAddr>> = BTreeMap::new();
    for (k, ds) in &graph {
        for d in ds {
            dependents.entry(d.clone()).or_default().push(k.clone());
        }
    }
    let mut ready: Vec<NativeAddr> = remaining
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
            && let Some(addr) = ready.pop()
        {
            if let Some(change) = by_addr.get(&addr) {
                tasks.spawn(run_with_events(ctx.clone(), change.clone()));
                in_flight += 1;
            }
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        in_flight -= 1;
        let (addr, result) = match joined {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "apply task ended abnormally");
                continue;
            }
        };
        let action = by_addr.get(&addr).map(|c| c.action).unwrap_or(Action::NoOp);
        match result {
            Ok(()) => {
                report.completed.push((addr.clone(), action));
                for d in dependents.get(&addr).into_iter().flatten() {
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
                    address: addr.clone(),
                    action,
                    message,
                });
                let mut stack: Vec<NativeAddr> = dependents.get(&addr).cloned().unwrap_or_default();
                let mut seen = BTreeSet::new();
                while let Some(d) = stack.pop() {
                    if !seen.insert(d.clone()) {
                        continue;
                    }
                    remaining.remove(&d);
                    if let Some(c) = by_addr.get(&d) {
                        sink.event(ApplyEvent::Skipped {
                            address: d.clone(),
                            action: c.action,
                            because: addr.clone(),
                        });
                    }
                    report.skipped.push(d.clone());
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
        if outputs != st.outputs || report.completed.is_empty() {
            st.outputs = outputs;
            st.serial += 1;
            ctx.backend.write(&st).await?;
        }
        report.state = st.clone();
    }
    Ok(report)
}
