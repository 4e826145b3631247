//! How one resource block instance becomes native resources.
//!
//! A provider's `expand` is a pure function of the (evaluated) configuration: the same input
//! always yields the same native resources with the same local names. The planner calls it at
//! plan time and again at apply time once upstream values are known, and checks that the
//! result matches the plan.

use std::collections::{BTreeMap, BTreeSet};

use crate::schema::ResourceSchema;
use crate::value::Value;

/// A native attribute's value: a constant, or a reference to an attribute of a sibling native
/// resource of the same expansion (resolved once that sibling exists).
#[derive(Clone, Debug, PartialEq)]
pub enum Binding {
    Value(Value),
    Attr { resource: String, attr: String },
    List(Vec<Binding>),
    Map(BTreeMap<String, Binding>),
}

impl Binding {
    pub fn attr(resource: &str, attr: &str) -> Binding {
        Binding::Attr {
            resource: resource.to_string(),
            attr: attr.to_string(),
        }
    }

    /// Resolves the binding; `lookup(resource, attr)` answers `None` while the sibling's value is
    /// not known, which makes that part [`Value::Unknown`].
    pub fn resolve(&self, lookup: &dyn Fn(&str, &str) -> Option<Value>) -> Value {
        match self {
            Binding::Value(v) => v.clone(),
            Binding::Attr { resource, attr } => lookup(resource, attr).unwrap_or(Value::Unknown),
            Binding::List(items) => Value::List(items.iter().map(|b| b.resolve(lookup)).collect()),
            Binding::Map(map) => Value::Map(
                map.iter()
                    .map(|(k, b)| (k.clone(), b.resolve(lookup)))
                    .collect(),
            ),
        }
    }

    /// The sibling resources this binding refers to.
    pub fn collect_refs<'a>(&'a self, out: &mut BTreeSet<&'a str>) {
        match self {
            Binding::Value(_) => {}
            Binding::Attr { resource, .. } => {
                out.insert(resource);
            }
            Binding::List(items) => items.iter().for_each(|b| b.collect_refs(out)),
            Binding::Map(map) => map.values().for_each(|b| b.collect_refs(out)),
        }
    }
}

impl From<Value> for Binding {
    fn from(v: Value) -> Self {
        Binding::Value(v)
    }
}

/// One native resource of an expansion.
#[derive(Clone, Debug, PartialEq)]
pub struct NativeSpec {
    /// Local name, unique within the expansion (`vpc`, `subnet_1`, `replica_0`). Empty for the
    /// identity expansion of a native resource block.
    pub name: String,
    pub type_name: String,
    pub config: BTreeMap<String, Binding>,
    /// Siblings that must exist first beyond those referenced by `config`.
    pub depends_on: Vec<String>,
    /// A replacement must be created before the old object is deleted, because the objects that
    /// use it cannot be left without one (a database's parameter group, say). The old object is
    /// deleted once its dependents have moved to the new one.
    pub create_before_destroy: bool,
}

impl NativeSpec {
    pub fn new(name: &str, type_name: &str) -> Self {
        NativeSpec {
            name: name.to_string(),
            type_name: type_name.to_string(),
            config: BTreeMap::new(),
            depends_on: Vec::new(),
            create_before_destroy: false,
        }
    }

    /// Marks the resource as replaced by creating the new object first.
    pub fn create_before_destroy(mut self) -> Self {
        self.create_before_destroy = true;
        self
    }

    pub fn set(mut self, key: &str, binding: impl Into<Binding>) -> Self {
        self.config.insert(key.to_string(), binding.into());
        self
    }

    pub fn after(mut self, sibling: &str) -> Self {
        self.depends_on.push(sibling.to_string());
        self
    }

    /// Every sibling this resource depends on (references and explicit ordering).
    pub fn dependencies(&self) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        for b in self.config.values() {
            b.collect_refs(&mut out);
        }
        out.extend(self.depends_on.iter().map(String::as_str));
        out
    }
}

/// The native resources of one resource block instance and how its exported attributes are
/// computed from theirs.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Expansion {
    pub resources: Vec<NativeSpec>,
    pub exports: BTreeMap<String, Binding>,
}

impl Expansion {
    /// An expansion's exports from `(name, binding)` pairs.
    pub fn exports(pairs: &[(&str, Binding)]) -> BTreeMap<String, Binding> {
        pairs
            .iter()
            .map(|(k, b)| (k.to_string(), b.clone()))
            .collect()
    }

    /// Exports that are attributes of one of the expansion's resources under the same names
    /// (`id` → `cluster.id`, …).
    pub fn exports_of(local: &str, names: &[&str]) -> BTreeMap<String, Binding> {
        names
            .iter()
            .map(|n| (n.to_string(), Binding::attr(local, n)))
            .collect()
    }

    /// The expansion of a native resource block: itself, under the empty local name, exporting
    /// every attribute of its schema.
    pub fn identity(schema: &ResourceSchema, config: &BTreeMap<String, Value>) -> Expansion {
        let mut spec = NativeSpec::new("", &schema.type_name);
        for (k, v) in config {
            spec.config.insert(k.clone(), Binding::Value(v.clone()));
        }
        let exports = schema
            .body
            .attributes
            .keys()
            .chain(schema.body.blocks.keys())
            .map(|k| (k.clone(), Binding::attr("", k)))
            .collect();
        Expansion {
            resources: vec![spec],
            exports,
        }
    }

    pub fn get(&self, name: &str) -> Option<&NativeSpec> {
        self.resources.iter().find(|r| r.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_marks_missing_siblings_unknown() {
        let b = Binding::List(vec![
            Binding::attr("vpc", "id"),
            Binding::Value(Value::from("x")),
        ]);
        let v = b.resolve(&|_, _| None);
        assert_eq!(v, Value::List(vec![Value::Unknown, Value::from("x")]));
        let v = b.resolve(&|r, a| Some(Value::from(format!("{r}.{a}"))));
        assert_eq!(
            v,
            Value::List(vec![Value::from("vpc.id"), Value::from("x")])
        );
    }

    #[test]
    fn dependencies_union_refs_and_order() {
        let spec = NativeSpec::new("subnet_0", "t")
            .set("vpc_id", Binding::attr("vpc", "id"))
            .after("gateway");
        assert_eq!(
            spec.dependencies().into_iter().collect::<Vec<_>>(),
            vec!["gateway", "vpc"]
        );
    }
}
