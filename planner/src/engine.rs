//! The evaluated spec with its configured providers: everything plan and apply share.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use provider_api::schema::{Body, ResourceKind, ResourceSchema};
use provider_api::{Attrs, Expansion, Provider, Value, component};

use crate::addr::{ComponentAddr, InstanceKey};
use crate::dag::Dag;
use crate::graph::{self, ComponentGraph, Node};
use crate::spec::suggest::did_you_mean;
use crate::spec::{
    self, BlockBody, Config, Diagnostics, EvalContext, ResourceBlock, Span, SpecDiagnostic,
};

/// What the binary knows how to build. The planner never names a concrete provider.
pub trait ProviderRegistry: Send + Sync {
    /// Every provider name, e.g. `["sandbox"]`.
    fn names(&self) -> Vec<String>;
    /// The schema of a provider block.
    fn config_schema(&self, name: &str) -> Option<Body>;
    /// Builds a provider from its evaluated block (empty when the spec has none).
    fn configure(
        &self,
        name: &str,
        config: &Attrs,
        dir: &Path,
    ) -> Result<Arc<dyn Provider>, Vec<provider_api::Diagnostic>>;
}

/// The registry as a list of provider factories (the binary's, or a test harness's own).
impl ProviderRegistry for Vec<provider_api::kit::Factory> {
    fn names(&self) -> Vec<String> {
        self.iter().map(|f| f.name().to_string()).collect()
    }

    fn config_schema(&self, name: &str) -> Option<Body> {
        self.iter()
            .find(|f| f.name() == name)
            .map(|f| f.config_schema())
    }

    fn configure(
        &self,
        name: &str,
        config: &Attrs,
        dir: &Path,
    ) -> Result<Arc<dyn Provider>, Vec<provider_api::Diagnostic>> {
        match self.iter().find(|f| f.name() == name) {
            Some(f) => f.configure(config, dir),
            None => Err(vec![provider_api::Diagnostic::error(format!(
                "unknown provider `{name}`"
            ))]),
        }
    }
}

/// The configuration an instance was last applied with, if any (for `ignore_changes`).
pub type PriorConfig<'a> = &'a dyn Fn(&ComponentAddr) -> Option<Attrs>;

/// Read access to resource and component records, whatever holds them (a `State`, or the
/// indexed live state of an apply).
pub trait Records {
    fn resource(&self, address: &str) -> Option<&state::ResourceRecord>;
    fn component(&self, address: &str) -> Option<&state::ComponentRecord>;
}

impl Records for state::State {
    fn resource(&self, address: &str) -> Option<&state::ResourceRecord> {
        state::State::resource(self, address)
    }

    fn component(&self, address: &str) -> Option<&state::ComponentRecord> {
        state::State::component(self, address)
    }
}

/// The prior configuration of a block instance: the component record for a portable
/// component, the native record for a block of a native type.
pub fn prior_config_from<R: Records>(records: &R) -> impl Fn(&ComponentAddr) -> Option<Attrs> + '_ {
    move |addr: &ComponentAddr| {
        let key = addr.to_string();
        if component::is_component(&addr.type_name) {
            records.component(&key).map(state::ComponentRecord::config)
        } else {
            records.resource(&key).map(state::ResourceRecord::attrs)
        }
    }
}

/// Limits a provider block may set for itself, on top of its own settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Limits {
    /// Operations in flight at once (`max_in_flight`).
    pub max_in_flight: Option<usize>,
    /// Calls started per second (`requests_per_second`).
    pub requests_per_second: Option<f64>,
}

const MAX_IN_FLIGHT: &str = "max_in_flight";
const REQUESTS_PER_SECOND: &str = "requests_per_second";

/// A provider block's schema: the provider's own settings plus the limits every provider has.
fn with_limit_settings(mut body: Body) -> Body {
    use provider_api::schema::{AttrType, AttributeSchema};
    body.attributes.insert(
        MAX_IN_FLIGHT.to_string(),
        AttributeSchema::optional(
            AttrType::Number,
            "Operations in flight at once on this provider",
        ),
    );
    body.attributes.insert(
        REQUESTS_PER_SECOND.to_string(),
        AttributeSchema::optional(
            AttrType::Number,
            "Calls started per second on this provider",
        ),
    );
    body
}

/// Takes the limit settings out of an evaluated provider block; an error names the setting.
fn take_limits(attrs: &mut Attrs) -> Result<Limits, (&'static str, String)> {
    let mut limits = Limits::default();
    if let Some(v) = attrs.remove(MAX_IN_FLIGHT).filter(|v| !v.is_null()) {
        match v.as_i64() {
            Some(n) if n >= 1 => limits.max_in_flight = usize::try_from(n).ok(),
            _ => {
                return Err((
                    MAX_IN_FLIGHT,
                    format!("`{MAX_IN_FLIGHT}` must be a whole number ≥ 1, got {v}"),
                ));
            }
        }
    }
    if let Some(v) = attrs.remove(REQUESTS_PER_SECOND).filter(|v| !v.is_null()) {
        match v.as_f64() {
            Some(n) if n > 0.0 => limits.requests_per_second = Some(n),
            _ => {
                return Err((
                    REQUESTS_PER_SECOND,
                    format!("`{REQUESTS_PER_SECOND}` must be a number > 0, got {v}"),
                ));
            }
        }
    }
    Ok(limits)
}

/// Puts the prior value at `path` (attribute, then keys, labels or indexes) into `config`.
/// A path that stops at a map of labelled blocks applies to every label (`node_pool.min`).
fn keep_prior(config: &mut Value, prior: &Value, path: &[&str]) {
    let Some((first, rest)) = path.split_first() else {
        *config = prior.clone();
        return;
    };
    match (config, prior.peel()) {
        (Value::Map(c), Value::Map(p)) => {
            if let Some(pv) = p.get(*first) {
                let entry = c.entry((*first).to_string()).or_insert(Value::Null);
                keep_prior(entry, pv, rest);
            } else if c.contains_key(*first) {
                c.remove(*first);
            } else {
                for (k, cv) in c.iter_mut() {
                    if let Some(pv) = p.get(k)
                        && pv.as_map().is_some()
                    {
                        keep_prior(cv, pv, path);
                    }
                }
            }
        }
        (Value::List(c), Value::List(p)) => match first.parse::<usize>() {
            Ok(i) => {
                if let (Some(cv), Some(pv)) = (c.get_mut(i), p.get(i)) {
                    keep_prior(cv, pv, rest);
                }
            }
            Err(_) => {
                for (cv, pv) in c.iter_mut().zip(p) {
                    keep_prior(cv, pv, path);
                }
            }
        },
        _ => {}
    }
}

/// Applies `lifecycle { ignore_changes }`: the ignored attributes keep their prior values.
fn apply_ignore_changes(
    config: &mut Attrs,
    prior: &Attrs,
    block: &ResourceBlock,
    schema: &ResourceSchema,
) {
    let lc = &block.lifecycle;
    if lc.ignore_all_changes {
        let configurable = schema
            .body
            .attributes
            .iter()
            .filter(|(_, a)| a.is_configurable())
            .map(|(k, _)| k)
            .chain(schema.body.blocks.keys());
        for k in configurable {
            match prior.get(k) {
                Some(v) => {
                    config.insert(k.clone(), v.clone());
                }
                None => {
                    config.remove(k);
                }
            }
        }
        return;
    }
    if lc.ignore_changes.is_empty() {
        return;
    }
    let mut whole = Value::Map(std::mem::take(config));
    let prior = Value::Map(prior.clone());
    for path in &lc.ignore_changes {
        let segments: Vec<&str> = path.split('.').collect();
        keep_prior(&mut whole, &prior, &segments);
    }
    if let Value::Map(m) = whole {
        *config = m;
    }
}

/// An instance key with the `each` binding it gives (`for_each` only).
type InstanceSeed = (Option<InstanceKey>, Option<(String, Value)>);

/// Values available to expressions while walking the graph.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub locals: BTreeMap<String, Value>,
    pub resources: HashMap<(String, String), Value>,
}

/// One evaluated instance of a resource block.
#[derive(Clone, Debug)]
pub struct Instance {
    pub addr: ComponentAddr,
    pub block_type: String,
    pub provider: String,
    pub config: Attrs,
    pub expansion: Expansion,
    /// Local names of the expansion, dependencies first.
    pub order: Vec<String>,
}

pub struct Engine {
    pub config: Config,
    /// Index of `config.resources` by (type, name).
    blocks: HashMap<(String, String), usize>,
    pub variables: BTreeMap<String, Value>,
    pub graph: ComponentGraph,
    pub providers: BTreeMap<String, Arc<dyn Provider>>,
    /// Per-provider limits from the provider blocks.
    pub limits: BTreeMap<String, Limits>,
    pub stack: String,
    pub workspace: String,
}

/// Turns a provider's attribute-path diagnostics into spec diagnostics at the right spot.
pub fn provider_diags(
    body: &BlockBody,
    at: Span,
    what: &str,
    diags: Vec<provider_api::Diagnostic>,
) -> Diagnostics {
    Diagnostics(
        diags
            .into_iter()
            .map(|d| {
                let span = spec::span_of_path(body, &d.path).unwrap_or(at);
                let summary = format!("{what}: {}", d.summary);
                let mut out = if d.severity == provider_api::Severity::Error {
                    SpecDiagnostic::error(summary, Some(span))
                } else {
                    SpecDiagnostic::warning(summary, Some(span))
                };
                out.detail = d.detail;
                out
            })
            .collect(),
    )
}

/// The name cloud objects are derived from: `ss { stack }` or the spec directory's name, plus
/// the workspace unless it is `default`, so that two workspaces of one spec (two tenants)
/// never find, adopt or name each other's objects.
fn stack_name(config: &Config, workspace: &str) -> String {
    let base = match &config.settings.stack {
        Some((s, _)) => s.clone(),
        None => {
            let dir = std::fs::canonicalize(&config.dir).unwrap_or_else(|_| config.dir.clone());
            dir.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "default".to_string())
        }
    };
    if workspace == "default" {
        base
    } else {
        format!("{base}-{workspace}")
    }
}

impl Engine {
    /// Checks the graph and configures every provider the spec needs.
    pub fn new(
        config: Config,
        variables: BTreeMap<String, Value>,
        registry: &dyn ProviderRegistry,
        workspace: &str,
        state_providers: &BTreeSet<String>,
    ) -> Result<Engine, Diagnostics> {
        let mut graph = graph::build(&config, &registry.names())?;
        // Providers of resources the state still holds are needed to refresh or delete them.
        graph.providers.extend(state_providers.iter().cloned());
        let stack = stack_name(&config, workspace);
        let blocks = config
            .resources
            .iter()
            .enumerate()
            .map(|(i, b)| ((b.type_name.clone(), b.name.clone()), i))
            .collect();
        let mut engine = Engine {
            config,
            blocks,
            variables,
            graph,
            providers: BTreeMap::new(),
            limits: BTreeMap::new(),
            stack,
            workspace: workspace.to_string(),
        };
        if let Err(mut d) = engine.configure_providers(registry) {
            let mut all = engine.graph.errors.clone();
            all.extend(std::mem::take(&mut d));
            all.dedup();
            all.sort();
            return Err(all);
        }
        Ok(engine)
    }

    /// Provider blocks may refer to variables and to locals that do not depend on resources.
    fn configure_providers(&mut self, registry: &dyn ProviderRegistry) -> Result<(), Diagnostics> {
        let mut diags = Diagnostics::default();
        let mut scope = Scope::default();
        for node in self.graph.order.clone() {
            if let Node::Local(name) = &node {
                let depends_on_blocks = self
                    .graph
                    .dag
                    .ancestors(&node)
                    .iter()
                    .any(|n| matches!(n, Node::Block(..)));
                if depends_on_blocks {
                    continue;
                }
                if let Some(local) = self.config.locals.iter().find(|l| &l.name == name) {
                    match spec::eval(&local.expr, &self.context(&scope, None, None)) {
                        Ok(v) => {
                            scope.locals.insert(name.clone(), v);
                        }
                        Err(d) => diags.extend(d),
                    }
                }
            }
        }
        for name in self.graph.providers.clone() {
            let schema = with_limit_settings(registry.config_schema(&name).unwrap_or_default());
            let block = self.config.providers.iter().find(|p| p.name == name);
            let mut attrs = match block {
                Some(b) => {
                    match spec::eval_body(
                        &b.body,
                        &schema,
                        &self.context(&scope, None, None),
                        b.span,
                    ) {
                        Ok(a) => a,
                        Err(d) => {
                            diags.extend(d);
                            continue;
                        }
                    }
                }
                None => schema
                    .attributes
                    .iter()
                    .filter_map(|(k, a)| a.default.clone().map(|d| (k.clone(), d)))
                    .collect(),
            };
            match take_limits(&mut attrs) {
                Ok(limits) => {
                    self.limits.insert(name.clone(), limits);
                }
                Err((setting, message)) => {
                    let span = block.map(|b| {
                        spec::span_of_path(&b.body, &[setting.to_string()]).unwrap_or(b.span)
                    });
                    diags.push(SpecDiagnostic::error(
                        format!("provider {name}: {message}"),
                        span,
                    ));
                    continue;
                }
            }
            match registry.configure(&name, &attrs, &self.config.dir) {
                Ok(p) => {
                    self.providers.insert(name, p);
                }
                Err(ds) => match block {
                    Some(b) => diags.extend(provider_diags(
                        &b.body,
                        b.span,
                        &format!("provider {name}"),
                        ds,
                    )),
                    None => {
                        for d in ds {
                            diags
                                .push(SpecDiagnostic::error(format!("provider {name}: {d}"), None));
                        }
                    }
                },
            }
        }
        if diags.has_errors() {
            Err(diags)
        } else {
            Ok(())
        }
    }

    pub fn context<'a>(
        &'a self,
        scope: &'a Scope,
        count_index: Option<i64>,
        each: Option<(String, Value)>,
    ) -> EvalContext<'a> {
        EvalContext {
            variables: &self.variables,
            locals: &scope.locals,
            resources: &scope.resources,
            count_index,
            each,
            workspace: &self.workspace,
            dir: &self.config.dir,
        }
    }

    pub fn block(&self, type_name: &str, name: &str) -> Option<&ResourceBlock> {
        self.blocks
            .get(&(type_name.to_string(), name.to_string()))
            .and_then(|i| self.config.resources.get(*i))
    }

    pub fn provider(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    /// The schema of a native type, from whichever provider offers it.
    pub fn native_schema(&self, provider: &str, type_name: &str) -> Option<&ResourceSchema> {
        self.providers
            .get(provider)
            .and_then(|p| p.schema().resources.get(type_name))
    }

    fn block_schema(
        &self,
        block: &ResourceBlock,
        provider: &str,
    ) -> Result<ResourceSchema, Diagnostics> {
        let p = self.providers.get(provider).ok_or_else(|| {
            Diagnostics::from(SpecDiagnostic::error(
                format!("provider `{provider}` could not be configured"),
                Some(block.span),
            ))
        })?;
        if component::is_component(&block.type_name) {
            if !p.schema().components.iter().any(|c| c == &block.type_name) {
                return Err(SpecDiagnostic::error(
                    format!(
                        "provider `{provider}` does not implement the `{}` component",
                        block.type_name
                    ),
                    Some(block.span),
                )
                .into());
            }
            return component::schema(&block.type_name).ok_or_else(|| {
                Diagnostics::from(SpecDiagnostic::error("unknown component", Some(block.span)))
            });
        }
        match p.schema().resources.get(&block.type_name) {
            Some(s) if s.kind == ResourceKind::Native => Ok(s.clone()),
            _ => {
                let names = p.schema().resources.keys().map(String::as_str);
                Err(SpecDiagnostic::error(
                    format!(
                        "unknown resource type `{}`{} for provider `{provider}`",
                        block.type_name,
                        did_you_mean(&block.type_name, names)
                    ),
                    Some(block.span),
                )
                .into())
            }
        }
    }

    /// The instance keys of a block from `count` / `for_each` (which must be known now).
    fn instance_keys(
        &self,
        block: &ResourceBlock,
        scope: &Scope,
    ) -> Result<Vec<InstanceSeed>, Diagnostics> {
        let ctx = self.context(scope, None, None);
        if let Some(count) = &block.count {
            let v = spec::eval(count, &ctx)?;
            if v.is_unknown() {
                return Err(SpecDiagnostic::error(
                    "`count` must be known when planning; it depends on a value known only after apply",
                    Some(count.span()),
                )
                .into());
            }
            return match v.as_i64() {
                Some(n) if n >= 0 => {
                    Ok((0..n).map(|i| (Some(InstanceKey::Int(i)), None)).collect())
                }
                _ => Err(SpecDiagnostic::error(
                    format!("`count` must be a whole number ≥ 0, got {v}"),
                    Some(count.span()),
                )
                .into()),
            };
        }
        if let Some(for_each) = &block.for_each {
            let v = spec::eval(for_each, &ctx)?;
            if !v.is_wholly_known() {
                return Err(SpecDiagnostic::error(
                    "`for_each` must be known when planning; it depends on a value known only after apply",
                    Some(for_each.span()),
                )
                .into());
            }
            if v.is_sensitive() {
                return Err(SpecDiagnostic::error(
                    "`for_each` cannot use a sensitive value: instance keys are shown in plans",
                    Some(for_each.span()),
                )
                .into());
            }
            return match v.peel() {
                Value::Map(m) => Ok(m
                    .iter()
                    .map(|(k, v)| {
                        (
                            Some(InstanceKey::Str(k.clone())),
                            Some((k.clone(), v.clone())),
                        )
                    })
                    .collect()),
                Value::List(items) => {
                    let mut keys = BTreeSet::new();
                    for item in items {
                        match item.as_str() {
                            Some(s) => {
                                keys.insert(s.to_string());
                            }
                            None => {
                                return Err(SpecDiagnostic::error(
                                    format!(
                                        "`for_each` over a list needs strings, found {}",
                                        item.kind()
                                    ),
                                    Some(for_each.span()),
                                )
                                .into());
                            }
                        }
                    }
                    Ok(keys
                        .into_iter()
                        .map(|k| {
                            (
                                Some(InstanceKey::Str(k.clone())),
                                Some((k.clone(), Value::String(k))),
                            )
                        })
                        .collect())
                }
                other => Err(SpecDiagnostic::error(
                    format!(
                        "`for_each` must be a map, or a set or list of strings, found {}",
                        other.kind()
                    ),
                    Some(for_each.span()),
                )
                .into()),
            };
        }
        Ok(vec![(None, None)])
    }

    /// Evaluates every instance of a block and expands it into native resources.
    pub fn eval_block(
        &self,
        type_name: &str,
        name: &str,
        scope: &Scope,
        prior: PriorConfig<'_>,
    ) -> Result<Vec<Instance>, Diagnostics> {
        let block = self.block(type_name, name).ok_or_else(|| {
            Diagnostics::from(SpecDiagnostic::error(
                format!("no resource block {type_name}.{name} in the spec"),
                None,
            ))
        })?;
        let key = (type_name.to_string(), name.to_string());
        let Some(provider_name) = self.graph.block_provider.get(&key).cloned() else {
            // Why there is no provider was reported when the graph was built.
            return Err(Diagnostics::default());
        };
        let schema = self.block_schema(block, &provider_name)?;
        let Some(provider) = self.providers.get(&provider_name) else {
            return Err(SpecDiagnostic::error("provider not configured", Some(block.span)).into());
        };
        let keys = self.instance_keys(block, scope)?;
        let mut out = Vec::new();
        let mut diags = Diagnostics::default();
        for (key, each) in keys {
            let count_index = match &key {
                Some(InstanceKey::Int(i)) if block.count.is_some() => Some(*i),
                _ => None,
            };
            let ctx = self.context(scope, count_index, each);
            let config = match spec::eval_body(&block.body, &schema.body, &ctx, block.span) {
                Ok(c) => c,
                Err(d) => {
                    diags.extend(d);
                    continue;
                }
            };
            let addr = ComponentAddr::new(type_name, name, key);
            let mut config = config;
            if let Some(p) = prior(&addr) {
                apply_ignore_changes(&mut config, &p, block, &schema);
            }
            let what = addr.to_string();
            let mut problems = if schema.kind == ResourceKind::Component {
                component::validate(type_name, &config)
            } else {
                Vec::new()
            };
            problems.extend(provider.validate(type_name, &config));
            let problems = provider_diags(&block.body, block.span, &what, problems);
            let failed = problems.has_errors();
            diags.extend(problems);
            if failed {
                continue;
            }
            let expansion = match provider.expand(&what, type_name, &config) {
                Ok(e) => e,
                Err(ds) => {
                    diags.extend(provider_diags(&block.body, block.span, &what, ds));
                    continue;
                }
            };
            let order = expansion_order(&expansion).ok_or_else(|| {
                Diagnostics::from(SpecDiagnostic::error(
                    format!("provider `{provider_name}` expanded {what} into a cycle"),
                    Some(block.span),
                ))
            })?;
            out.push(Instance {
                addr,
                block_type: type_name.to_string(),
                provider: provider_name.clone(),
                config,
                expansion,
                order,
            });
        }
        if diags.has_errors() {
            return Err(diags);
        }
        Ok(out)
    }
}

/// The local names of an expansion, dependencies first.
fn expansion_order(e: &Expansion) -> Option<Vec<String>> {
    let mut dag: Dag<String> = Dag::default();
    for r in &e.resources {
        dag.add_node(r.name.clone());
        for d in r.dependencies() {
            dag.add_edge(r.name.clone(), d.to_string());
        }
    }
    dag.topo_order()
}

/// The value an instance exposes to expressions: its configuration with its exports on top.
pub fn instance_value(inst: &Instance, native_attr: &dyn Fn(&str, &str) -> Option<Value>) -> Value {
    let mut map = inst.config.clone();
    for (k, binding) in &inst.expansion.exports {
        map.insert(k.clone(), binding.resolve(native_attr));
    }
    Value::Map(map)
}

/// The value of a whole block: an object, a list (count) or a map (for_each) of instances.
pub fn block_value(block: &ResourceBlock, instances: Vec<(Option<InstanceKey>, Value)>) -> Value {
    if block.count.is_some() {
        Value::List(instances.into_iter().map(|(_, v)| v).collect())
    } else if block.for_each.is_some() {
        Value::Map(
            instances
                .into_iter()
                .filter_map(|(k, v)| match k {
                    Some(InstanceKey::Str(s)) => Some((s, v)),
                    _ => None,
                })
                .collect(),
        )
    } else {
        instances
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .unwrap_or(Value::Null)
    }
}

/// Fills schema defaults of a native type into a resolved configuration.
pub fn with_native_defaults(schema: Option<&ResourceSchema>, mut attrs: Attrs) -> Attrs {
    if let Some(schema) = schema {
        for (k, a) in &schema.body.attributes {
            if let Some(d) = &a.default
                && attrs.get(k).is_none_or(Value::is_null)
            {
                attrs.insert(k.clone(), d.clone());
            }
        }
    }
    attrs
}
