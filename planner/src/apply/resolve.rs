//! Evaluating configuration at apply time: a step's final configuration is computed from the
//! live state just before it runs (its upstream values are known by then) and checked against
//! the plan.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use provider_api::{Value, same};
use state::OutputRecord;

use super::live::Live;
use super::steps::phases;
use crate::addr::{ComponentAddr, NativeAddr};
use crate::engine::{
    Engine, Instance, Scope, block_value, instance_value, prior_config_from, with_native_defaults,
};
use crate::graph::Node;
use crate::plan::{Attrs, ResourceChange};
use crate::spec;

/// Evaluates configuration at apply time from the live state.
pub(crate) struct Resolver {
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
    /// A resolver for the given changes: every block and component instance among them is
    /// unfinished until each of its steps is done.
    pub(crate) fn new(engine: Arc<Engine>, changes: &[Arc<ResourceChange>]) -> Resolver {
        let mut unfinished: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut unfinished_instances: HashMap<ComponentAddr, usize> = HashMap::new();
        for c in changes {
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
        Resolver {
            engine,
            instances: Mutex::new(HashMap::new()),
            unfinished: Mutex::new(unfinished),
            unfinished_instances: Mutex::new(unfinished_instances),
            finals: Mutex::new(HashMap::new()),
        }
    }

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

    pub(crate) fn instance(&self, comp: &ComponentAddr, state: &Live) -> Result<Instance, String> {
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
    pub(crate) fn final_config(
        &self,
        change: &ResourceChange,
        state: &Live,
    ) -> Result<Attrs, String> {
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

    pub(crate) fn finished(&self, addr: &NativeAddr) {
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

    /// The outputs' final values; only what is known is stored.
    pub(crate) fn outputs(&self, live: &Live) -> BTreeMap<String, OutputRecord> {
        let mut outputs = BTreeMap::new();
        for o in &self.engine.config.outputs {
            let node = Node::Output(o.name.clone());
            let value = self.scope_for(&node, live).and_then(|scope| {
                spec::eval(&o.value, &self.engine.context(&scope, None, None))
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
        outputs
    }
}
