//! Planning: walk the component graph in dependency order, evaluate each block, expand it into
//! native resources, and diff each against the refreshed state.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use provider_api::schema::ResourceSchema;
use provider_api::{PlanRequest, ResourceState, Value, same};
use state::{ResourceRecord, State};

use crate::addr::NativeAddr;
use crate::engine::{
    Engine, Instance, Records, Scope, block_value, instance_value, prior_config_from,
    provider_diags, with_native_defaults,
};
use crate::graph::Node;
use crate::plan::{
    Action, Attrs, ConfigSnapshot, OutputChange, PLAN_FORMAT_VERSION, Plan, PlanMode,
    ResourceChange,
};
use crate::refresh::{RefreshError, Refreshed, refresh};
use crate::spec::{self, Diagnostics, SpecDiagnostic};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("the spec has errors")]
    Spec(Diagnostics),
    #[error(transparent)]
    Refresh(#[from] RefreshError),
}

impl From<Diagnostics> for PlanError {
    fn from(d: Diagnostics) -> Self {
        PlanError::Spec(d)
    }
}

#[derive(Clone, Debug)]
pub struct PlanOptions {
    pub mode: PlanMode,
    pub refresh: bool,
    pub targets: Vec<String>,
    pub excludes: Vec<String>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            mode: PlanMode::Apply,
            refresh: true,
            targets: Vec::new(),
            excludes: Vec::new(),
        }
    }
}

/// True when a configurable attribute (or nested block) differs between prior and planned.
fn differs(schema: Option<&ResourceSchema>, prior: &Attrs, planned: &Attrs) -> bool {
    let value_differs = |k: &str| {
        let p = prior.get(k).cloned().unwrap_or(Value::Null);
        let n = planned.get(k).cloned().unwrap_or(Value::Null);
        !n.is_wholly_known() || !same(&p, &n)
    };
    match schema {
        Some(s) => s
            .body
            .attributes
            .iter()
            .filter(|(_, a)| a.is_configurable())
            .map(|(k, _)| k.as_str())
            .chain(s.body.blocks.keys().map(String::as_str))
            .any(|k| {
                let a = s.body.attributes.get(k);
                // An optional+computed attribute left unset keeps whatever the provider chose.
                let unset_computed = a.is_some_and(|a| a.is_computed())
                    && planned.get(k).is_none_or(|v| v.is_unknown());
                !unset_computed && value_differs(k)
            }),
        None => planned.keys().any(|k| value_differs(k)),
    }
}

/// The records a plan sees: refreshed resources, and the state's component records.
struct PlanRecords<'a> {
    state: &'a State,
    records: &'a HashMap<String, ResourceRecord>,
}

impl Records for PlanRecords<'_> {
    fn resource(&self, address: &str) -> Option<&ResourceRecord> {
        self.records.get(address)
    }

    fn component(&self, address: &str) -> Option<&state::ComponentRecord> {
        self.state.component(address)
    }
}

struct Walk<'a> {
    engine: &'a Engine,
    state: &'a State,
    records: HashMap<String, ResourceRecord>,
    claimed: HashSet<String>,
    changes: Vec<ResourceChange>,
    /// Native addresses of each block, for the edges of blocks that depend on it.
    block_natives: HashMap<(String, String), Vec<NativeAddr>>,
    scope: Scope,
    diags: Diagnostics,
    /// Every evaluated instance, for the providers' plan-time offer checks.
    offers: Vec<OfferCheck>,
}

/// One instance whose configuration its provider checks against the cloud's offers.
struct OfferCheck {
    provider: String,
    block: (String, String),
    what: String,
    config: provider_api::Attrs,
}

impl Walk<'_> {
    fn plan_instance(
        &mut self,
        inst: &Instance,
        external: &[NativeAddr],
    ) -> Result<Value, Diagnostics> {
        let engine = self.engine;
        let block = engine
            .block(&inst.addr.type_name, &inst.addr.name)
            .ok_or_else(|| Diagnostics::from(SpecDiagnostic::error("block vanished", None)))?;
        let provider = engine.provider(&inst.provider).ok_or_else(|| {
            Diagnostics::from(SpecDiagnostic::error(
                "provider not configured",
                Some(block.span),
            ))
        })?;
        let mut after_by_local: BTreeMap<String, Attrs> = BTreeMap::new();
        for local in &inst.order {
            let Some(native) = inst.expansion.get(local) else {
                continue;
            };
            let addr = NativeAddr::new(&inst.addr, &native.type_name, local);
            let key = addr.to_string();
            let schema = engine.native_schema(&inst.provider, &native.type_name);
            let proposed: Attrs = native
                .config
                .iter()
                .map(|(k, b)| {
                    let v = b.resolve(&|sib, attr| {
                        after_by_local.get(sib).and_then(|a| a.get(attr)).cloned()
                    });
                    (k.clone(), v)
                })
                .collect();
            let proposed = with_native_defaults(schema, proposed);
            let prior = self.records.get(&key).map(|r| ResourceState {
                id: r.id.clone(),
                attrs: r.attrs(),
            });
            self.claimed.insert(key.clone());
            let what = addr.to_string();
            let resp = provider
                .plan(PlanRequest {
                    type_name: &native.type_name,
                    prior: prior.as_ref(),
                    proposed: &proposed,
                })
                .map_err(|ds| provider_diags(&block.body, block.span, &what, ds))?;
            let (action, before, after, because) = match &prior {
                None => (Action::Create, None, resp.planned, Vec::new()),
                Some(p) if !differs(schema, &p.attrs, &resp.planned) => (
                    Action::NoOp,
                    Some(p.attrs.clone()),
                    p.attrs.clone(),
                    Vec::new(),
                ),
                Some(p) if !resp.requires_replace.is_empty() => {
                    let fresh = provider
                        .plan(PlanRequest {
                            type_name: &native.type_name,
                            prior: None,
                            proposed: &proposed,
                        })
                        .map_err(|ds| provider_diags(&block.body, block.span, &what, ds))?;
                    (
                        Action::Replace,
                        Some(p.attrs.clone()),
                        fresh.planned,
                        resp.requires_replace,
                    )
                }
                Some(p) => (
                    Action::Update,
                    Some(p.attrs.clone()),
                    resp.planned,
                    Vec::new(),
                ),
            };
            let mut depends_on: Vec<NativeAddr> = native
                .dependencies()
                .into_iter()
                .filter_map(|sib| {
                    inst.expansion
                        .get(sib)
                        .map(|s| NativeAddr::new(&inst.addr, &s.type_name, sib))
                })
                .collect();
            depends_on.extend(external.iter().cloned());
            after_by_local.insert(local.clone(), after.clone());
            self.block_natives
                .entry((inst.addr.type_name.clone(), inst.addr.name.clone()))
                .or_default()
                .push(addr.clone());
            self.changes.push(ResourceChange {
                address: addr,
                block_type: inst.block_type.clone(),
                type_name: native.type_name.clone(),
                provider: inst.provider.clone(),
                action,
                id: prior.as_ref().map(|p| p.id.clone()),
                before,
                after: Some(after),
                replace_because: because,
                create_before_destroy: block.lifecycle.create_before_destroy
                    || native.create_before_destroy,
                depends_on,
            });
        }
        Ok(instance_value(inst, &|sib, attr| {
            after_by_local.get(sib).and_then(|a| a.get(attr)).cloned()
        }))
    }

    fn plan_block(&mut self, node: &Node, type_name: &str, name: &str) {
        let key = (type_name.to_string(), name.to_string());
        let evaluated = {
            let records = PlanRecords {
                state: self.state,
                records: &self.records,
            };
            let prior = prior_config_from(&records);
            self.engine.eval_block(type_name, name, &self.scope, &prior)
        };
        let instances = match evaluated {
            Ok(i) => i,
            Err(d) => {
                self.diags.extend(d);
                self.scope.resources.insert(key, Value::Unknown);
                return;
            }
        };
        let external: Vec<NativeAddr> = self
            .engine
            .graph
            .block_dependencies(node)
            .iter()
            .flat_map(|b| self.block_natives.get(b).cloned().unwrap_or_default())
            .collect();
        self.offers.extend(instances.iter().map(|inst| OfferCheck {
            provider: inst.provider.clone(),
            block: key.clone(),
            what: inst.addr.to_string(),
            config: inst.config.clone(),
        }));
        let mut values = Vec::new();
        for inst in &instances {
            match self.plan_instance(inst, &external) {
                Ok(v) => values.push((inst.addr.key.clone(), v)),
                Err(d) => {
                    self.diags.extend(d);
                    values.push((inst.addr.key.clone(), Value::Unknown));
                }
            }
        }
        if let Some(block) = self.engine.block(type_name, name) {
            self.scope.resources.insert(key, block_value(block, values));
        }
    }
}

fn delete_change(r: &ResourceRecord) -> Option<ResourceChange> {
    Some(ResourceChange {
        address: r.address.parse().ok()?,
        block_type: r.block_type.clone(),
        type_name: r.type_name.clone(),
        provider: r.provider.clone(),
        action: Action::Delete,
        id: Some(r.id.clone()),
        before: Some(r.attrs()),
        after: None,
        replace_because: Vec::new(),
        create_before_destroy: r.create_before_destroy,
        depends_on: r
            .dependencies
            .iter()
            .filter_map(|d| d.parse().ok())
            .collect(),
    })
}

/// Evaluates the outputs against the scope; sensitive values must be declared sensitive.
/// Asks each instance's provider, all at once, whether the cloud offers what it configures;
/// the answers are located in the spec like `validate`'s. An instance this plan leaves alone
/// (`changing` lacks it) only gets warnings: an object that exists keeps running on what the
/// cloud no longer sells, and refusing every plan for it would block unrelated changes.
async fn check_offers(
    engine: &Engine,
    checks: Vec<OfferCheck>,
    changing: &HashSet<String>,
) -> Diagnostics {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, check) in checks.iter().enumerate() {
        let Some(provider) = engine.provider(&check.provider).cloned() else {
            continue;
        };
        let type_name = check.block.0.clone();
        let config = check.config.clone();
        tasks.spawn(async move { (i, provider.check_offers(&type_name, &config).await) });
    }
    let mut found: Vec<(usize, Vec<provider_api::Diagnostic>)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((i, ds)) if !ds.is_empty() => found.push((i, ds)),
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "an offer check did not finish"),
        }
    }
    found.sort_by_key(|(i, _)| *i);
    let mut out = Diagnostics::default();
    for (i, ds) in found {
        let Some(check) = checks.get(i) else { continue };
        let Some(block) = engine.block(&check.block.0, &check.block.1) else {
            continue;
        };
        let located = provider_diags(&block.body, block.span, &check.what, ds);
        if changing.contains(&check.what) {
            out.extend(located);
            continue;
        }
        for d in located.0 {
            if d.is_error() {
                let mut w = SpecDiagnostic::warning(d.summary, d.span);
                w.detail = Some(match d.detail {
                    Some(detail) => format!(
                        "{detail}; this plan changes nothing of it, so it is not an error now, \
                         but a change to it will be refused"
                    ),
                    None => "this plan changes nothing of it, so it is not an error now, but a \
                             change to it will be refused"
                        .to_string(),
                });
                out.push(w);
            } else {
                out.push(d);
            }
        }
    }
    out
}

fn eval_outputs(
    engine: &Engine,
    scope: &Scope,
    diags: &mut Diagnostics,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for o in &engine.config.outputs {
        match spec::eval(&o.value, &engine.context(scope, None, None)) {
            Ok(v) if v.is_sensitive() && !o.sensitive => diags.push(
                SpecDiagnostic::error(
                    format!("output `{}` refers to sensitive values", o.name),
                    Some(o.value.span()),
                )
                .with_detail(
                    "add `sensitive = true` to the output block to show it only on request",
                ),
            ),
            Ok(v) => {
                out.insert(o.name.clone(), v.mark_if(o.sensitive));
            }
            Err(d) => diags.extend(d),
        }
    }
    out
}

/// The records the plan diffs against: refreshed from the cloud, or as the state has them.
async fn records(engine: &Engine, state: &State, refresh_on: bool) -> Result<Refreshed, PlanError> {
    if refresh_on {
        return Ok(refresh(engine, state).await?);
    }
    Ok(Refreshed {
        records: state
            .resources
            .iter()
            .map(|r| (r.address.clone(), r.clone()))
            .collect(),
        drift: Vec::new(),
    })
}

impl<'a> Walk<'a> {
    fn new(engine: &'a Engine, state: &'a State, records: HashMap<String, ResourceRecord>) -> Self {
        Walk {
            engine,
            state,
            records,
            claimed: HashSet::new(),
            changes: Vec::new(),
            block_natives: HashMap::new(),
            scope: Scope::default(),
            diags: Diagnostics::default(),
            offers: Vec::new(),
        }
    }

    /// Evaluates every local and plans every block, in dependency order.
    fn walk_graph(&mut self) {
        let engine = self.engine;
        for node in &engine.graph.order {
            match node {
                Node::Provider(_) | Node::Output(_) => {}
                Node::Local(name) => self.eval_local(name),
                Node::Block(t, n) => self.plan_block(node, t, n),
            }
        }
    }

    fn eval_local(&mut self, name: &str) {
        let engine = self.engine;
        let Some(local) = engine.config.locals.iter().find(|l| l.name == name) else {
            return;
        };
        let v = match spec::eval(&local.expr, &engine.context(&self.scope, None, None)) {
            Ok(v) => v,
            Err(d) => {
                self.diags.extend(d);
                Value::Unknown
            }
        };
        self.scope.locals.insert(name.to_string(), v);
    }

    /// The walk's changes (none when destroying), then a delete for every record the spec no
    /// longer claims (every record, when destroying), in address order.
    fn take_changes(&mut self, mode: PlanMode) -> Vec<ResourceChange> {
        let mut changes = std::mem::take(&mut self.changes);
        if mode == PlanMode::Destroy {
            changes.clear();
        }
        let mut unclaimed: Vec<&ResourceRecord> = self
            .records
            .iter()
            .filter(|(addr, _)| mode == PlanMode::Destroy || !self.claimed.contains(*addr))
            .map(|(_, r)| r)
            .collect();
        unclaimed.sort_by(|a, b| a.address.cmp(&b.address));
        changes.extend(unclaimed.into_iter().filter_map(delete_change));
        changes
    }
}

/// The components this plan creates, updates or replaces something of.
fn changing_components(changes: &[ResourceChange]) -> HashSet<String> {
    changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Update | Action::Replace))
        .map(|c| c.address.component.to_string())
        .collect()
}

/// One error per protected block, naming everything of it the plan would destroy.
fn prevent_destroy_errors(engine: &Engine, changes: &[ResourceChange]) -> Diagnostics {
    let mut protected: BTreeMap<(String, String), Vec<&ResourceChange>> = BTreeMap::new();
    for c in changes {
        let comp = &c.address.component;
        if matches!(c.action, Action::Delete | Action::Replace)
            && engine
                .block(&comp.type_name, &comp.name)
                .is_some_and(|b| b.lifecycle.prevent_destroy)
        {
            protected
                .entry((comp.type_name.clone(), comp.name.clone()))
                .or_default()
                .push(c);
        }
    }
    let mut diags = Diagnostics::default();
    for ((t, n), doomed) in protected {
        let Some(block) = engine.block(&t, &n) else {
            continue;
        };
        let mut reasons: Vec<String> = Vec::new();
        for c in &doomed {
            let verb = if c.action == Action::Replace {
                format!("replaced because of {}", c.replace_because.join(", "))
            } else {
                "destroyed".to_string()
            };
            reasons.push(format!("{} would be {verb}", c.address));
        }
        diags.push(
            SpecDiagnostic::error(
                format!(
                    "{t}.{n} has `lifecycle {{ prevent_destroy = true }}`, but this plan would destroy {} of its resources",
                    doomed.len()
                ),
                Some(block.span),
            )
            .with_detail(format!(
                "{}; remove prevent_destroy first if you really mean it",
                reasons.join("; ")
            )),
        );
    }
    diags
}

/// Every declared output, before (from the state) and after (none when destroying).
fn output_changes(
    engine: &Engine,
    prior_state: &State,
    outputs: &BTreeMap<String, Value>,
    mode: PlanMode,
) -> Vec<OutputChange> {
    engine
        .config
        .outputs
        .iter()
        .map(|o| {
            let before = prior_state
                .outputs
                .get(&o.name)
                .map(|r| Value::from_json(&r.value).mark_if(r.sensitive));
            let after = match mode {
                PlanMode::Destroy => None,
                PlanMode::Apply => outputs.get(&o.name).cloned(),
            };
            OutputChange {
                name: o.name.clone(),
                before,
                after,
                sensitive: o.sensitive,
            }
        })
        .collect()
}

/// Computes the plan: refresh (unless disabled), evaluate and expand, diff.
pub async fn plan(
    engine: &Engine,
    state: Option<&State>,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    let empty = State::new();
    let prior_state = state.unwrap_or(&empty);
    let refreshed = records(engine, prior_state, opts.refresh).await?;
    let mut walk = Walk::new(engine, prior_state, refreshed.records);
    // Destroying needs only what the state records: the configuration's values do not matter
    // (its `prevent_destroy` settings are checked below).
    if opts.mode == PlanMode::Apply {
        walk.walk_graph();
    }
    let mut diags = engine.graph.errors.clone();
    diags.extend(std::mem::take(&mut walk.diags));
    if opts.refresh {
        let changing = changing_components(&walk.changes);
        let offers = std::mem::take(&mut walk.offers);
        diags.extend(check_offers(engine, offers, &changing).await);
    }
    let outputs = match opts.mode {
        PlanMode::Apply => eval_outputs(engine, &walk.scope, &mut diags),
        PlanMode::Destroy => BTreeMap::new(),
    };
    let changes = walk.take_changes(opts.mode);
    diags.extend(prevent_destroy_errors(engine, &changes));
    diags.dedup();
    diags.sort();
    if diags.has_errors() {
        return Err(PlanError::Spec(diags));
    }
    let changes = select(changes, &opts.targets, &opts.excludes);
    let output_changes = output_changes(engine, prior_state, &outputs, opts.mode);
    // The walk's values of every resource are no longer needed; freeing them piece by piece
    // takes a noticeable share of a large plan, so it happens beside the rest of the work.
    let Walk { scope, records, .. } = walk;
    std::thread::spawn(move || drop((scope, records)));
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        mode: opts.mode,
        stack: engine.stack.clone(),
        state_lineage: state.map(|s| s.lineage.clone()),
        state_serial: state.map(|s| s.serial).unwrap_or(0),
        changes,
        outputs: output_changes,
        drift: refreshed.drift,
        snapshot: snapshot(engine),
        targets: opts.targets.clone(),
        excludes: opts.excludes.clone(),
        warnings: diags,
    })
}

fn snapshot(engine: &Engine) -> ConfigSnapshot {
    ConfigSnapshot {
        dir: engine.config.dir.clone(),
        files: engine
            .config
            .sources
            .files
            .iter()
            .map(|f| {
                let name = std::path::Path::new(&f.name)
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_else(|| f.name.clone());
                (name, f.text.clone())
            })
            .collect(),
        variables: engine.variables.clone(),
    }
}

/// Applies `--target` and `--exclude`: targets keep what they match plus everything those
/// depend on (and, for deletes, everything that depends on them); excludes drop what they
/// match plus everything that depends on it.
pub fn select(
    changes: Vec<ResourceChange>,
    targets: &[String],
    excludes: &[String],
) -> Vec<ResourceChange> {
    if targets.is_empty() && excludes.is_empty() {
        return changes;
    }
    let by_addr: BTreeMap<NativeAddr, &ResourceChange> =
        changes.iter().map(|c| (c.address.clone(), c)).collect();
    let mut dependents: BTreeMap<&NativeAddr, Vec<&NativeAddr>> = BTreeMap::new();
    for c in &changes {
        for d in &c.depends_on {
            dependents.entry(d).or_default().push(&c.address);
        }
    }
    let closure = |seeds: Vec<&NativeAddr>, follow_deps: bool| -> BTreeSet<NativeAddr> {
        let mut seen = BTreeSet::new();
        let mut stack = seeds;
        while let Some(a) = stack.pop() {
            if !seen.insert(a.clone()) {
                continue;
            }
            let Some(c) = by_addr.get(a) else { continue };
            if follow_deps && c.action != Action::Delete {
                stack.extend(c.depends_on.iter());
            } else {
                stack.extend(dependents.get(a).into_iter().flatten().copied());
            }
        }
        seen
    };
    let mut keep: BTreeSet<NativeAddr> = by_addr.keys().cloned().collect();
    if !targets.is_empty() {
        let seeds: Vec<&NativeAddr> = by_addr
            .keys()
            .filter(|a| targets.iter().any(|t| a.matches(t)))
            .collect();
        keep = closure(seeds, true);
    }
    if !excludes.is_empty() {
        let seeds: Vec<&NativeAddr> = by_addr
            .keys()
            .filter(|a| excludes.iter().any(|t| a.matches(t)))
            .collect();
        for a in closure(seeds, false) {
            keep.remove(&a);
        }
    }
    changes
        .into_iter()
        .filter(|c| keep.contains(&c.address))
        .collect()
}
