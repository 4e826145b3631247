//! What a resource type accepts and exports.
//!
//! The planner type-checks configuration against these schemas (with source spans), derives
//! "known after apply" for computed attributes, and decides update versus replace from
//! `force_new`.

use std::collections::BTreeMap;
use std::fmt;

use crate::value::{Value, ValueKind};

/// The type of an attribute.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrType {
    String,
    Number,
    Bool,
    List(Box<AttrType>),
    Map(Box<AttrType>),
    /// Any value at all (e.g. `sandbox_object.input`).
    Any,
}

impl AttrType {
    /// Checks a value against the type. Unknown values (and null) always conform: they are
    /// checked again when known. Numbers written as strings and the reverse are accepted the
    /// way HCL converts them.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        let value = value.peel();
        if value.is_unknown() || value.is_null() {
            return Ok(());
        }
        match (self, value) {
            (AttrType::Any, _) => Ok(()),
            (AttrType::String, Value::String(_) | Value::Number(_) | Value::Bool(_)) => Ok(()),
            (AttrType::Number, Value::Number(_)) => Ok(()),
            (AttrType::Number, Value::String(s)) if s.trim().parse::<f64>().is_ok() => Ok(()),
            (AttrType::Bool, Value::Bool(_)) => Ok(()),
            (AttrType::Bool, Value::String(s)) if s == "true" || s == "false" => Ok(()),
            (AttrType::List(inner), Value::List(items)) => {
                for (i, item) in items.iter().enumerate() {
                    inner.check(item).map_err(|e| format!("element {i}: {e}"))?;
                }
                Ok(())
            }
            (AttrType::Map(inner), Value::Map(map)) => {
                for (k, item) in map {
                    inner.check(item).map_err(|e| format!("key {k:?}: {e}"))?;
                }
                Ok(())
            }
            (expected, found) => Err(format!("expected {expected}, found {}", found.kind())),
        }
    }

    /// Converts a conforming value to the canonical form of the type (`"3"` → `3` for a number).
    pub fn convert(&self, value: Value) -> Value {
        match (self, value) {
            (_, Value::Sensitive(inner)) => self.convert(*inner).sensitive(),
            (AttrType::String, Value::Number(n)) => Value::String(Value::Number(n).to_string()),
            (AttrType::String, Value::Bool(b)) => Value::String(b.to_string()),
            (AttrType::Number, Value::String(s)) => match s.trim().parse::<f64>() {
                Ok(n) => Value::Number(n),
                Err(_) => Value::String(s),
            },
            (AttrType::Bool, Value::String(s)) if s == "true" || s == "false" => {
                Value::Bool(s == "true")
            }
            (AttrType::List(inner), Value::List(items)) => {
                Value::List(items.into_iter().map(|v| inner.convert(v)).collect())
            }
            (AttrType::Map(inner), Value::Map(map)) => Value::Map(
                map.into_iter()
                    .map(|(k, v)| (k, inner.convert(v)))
                    .collect(),
            ),
            (_, v) => v,
        }
    }

    /// The kind of value this type expects at the top level (None for `Any`).
    pub fn kind(&self) -> Option<ValueKind> {
        match self {
            AttrType::String => Some(ValueKind::String),
            AttrType::Number => Some(ValueKind::Number),
            AttrType::Bool => Some(ValueKind::Bool),
            AttrType::List(_) => Some(ValueKind::List),
            AttrType::Map(_) => Some(ValueKind::Map),
            AttrType::Any => None,
        }
    }
}

impl fmt::Display for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrType::String => f.write_str("string"),
            AttrType::Number => f.write_str("number"),
            AttrType::Bool => f.write_str("bool"),
            AttrType::List(inner) => write!(f, "list({inner})"),
            AttrType::Map(inner) => write!(f, "map({inner})"),
            AttrType::Any => f.write_str("any"),
        }
    }
}

/// How an attribute is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// Must be set in configuration.
    Required,
    /// May be set; absent means null (or the schema default).
    Optional,
    /// Set by the provider only; configuring it is an error.
    Computed,
    /// May be set; when absent the provider chooses ("known after apply" on create).
    OptionalComputed,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AttributeSchema {
    pub ty: AttrType,
    pub presence: Presence,
    pub sensitive: bool,
    /// A change of this attribute cannot be made in place: the object is replaced.
    pub force_new: bool,
    pub default: Option<Value>,
    pub description: &'static str,
    /// The API takes this attribute but never returns it (a password): a refresh that reads it
    /// as null keeps the recorded value instead of reporting drift.
    pub write_only: bool,
}

impl AttributeSchema {
    fn new(ty: AttrType, presence: Presence, description: &'static str) -> Self {
        AttributeSchema {
            ty,
            presence,
            sensitive: false,
            force_new: false,
            default: None,
            description,
            write_only: false,
        }
    }

    pub fn required(ty: AttrType, description: &'static str) -> Self {
        Self::new(ty, Presence::Required, description)
    }

    pub fn optional(ty: AttrType, description: &'static str) -> Self {
        Self::new(ty, Presence::Optional, description)
    }

    pub fn computed(ty: AttrType, description: &'static str) -> Self {
        Self::new(ty, Presence::Computed, description)
    }

    pub fn optional_computed(ty: AttrType, description: &'static str) -> Self {
        Self::new(ty, Presence::OptionalComputed, description)
    }

    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    pub fn force_new(mut self) -> Self {
        self.force_new = true;
        self
    }

    /// See [`AttributeSchema::write_only`].
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }

    pub fn default(mut self, value: impl Into<Value>) -> Self {
        self.default = Some(value.into());
        self
    }

    pub fn is_configurable(&self) -> bool {
        self.presence != Presence::Computed
    }

    pub fn is_computed(&self) -> bool {
        matches!(
            self.presence,
            Presence::Computed | Presence::OptionalComputed
        )
    }
}

/// How a nested block may repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// At most one block, no label; its value is an object.
    Single,
    /// Any number of unlabelled blocks; the value is a list of objects in source order.
    List,
    /// Any number of blocks with one label each; the value is an object keyed by label.
    Labelled,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BlockSchema {
    pub nesting: Nesting,
    pub min_items: usize,
    pub max_items: Option<usize>,
    pub body: Body,
    /// Changing anything in the block replaces the object.
    pub force_new: bool,
    pub description: &'static str,
}

/// The attributes and nested blocks of a resource or of a nested block.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Body {
    pub attributes: BTreeMap<String, AttributeSchema>,
    pub blocks: BTreeMap<String, BlockSchema>,
}

impl Body {
    pub fn attr(mut self, name: &str, schema: AttributeSchema) -> Self {
        self.attributes.insert(name.to_string(), schema);
        self
    }

    pub fn block(mut self, name: &str, schema: BlockSchema) -> Self {
        self.blocks.insert(name.to_string(), schema);
        self
    }
}

/// Whether a resource type is a portable component or a provider's native type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    Component,
    Native,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResourceSchema {
    pub type_name: String,
    pub kind: ResourceKind,
    pub description: &'static str,
    pub body: Body,
}

impl ResourceSchema {
    pub fn native(type_name: &str, description: &'static str, body: Body) -> Self {
        ResourceSchema {
            type_name: type_name.to_string(),
            kind: ResourceKind::Native,
            description,
            body,
        }
    }

    pub fn attribute(&self, name: &str) -> Option<&AttributeSchema> {
        self.body.attributes.get(name)
    }

    /// Names of the attributes whose values are sensitive.
    pub fn sensitive_attributes(&self) -> impl Iterator<Item = &str> {
        self.body
            .attributes
            .iter()
            .filter(|(_, a)| a.sensitive)
            .map(|(n, _)| n.as_str())
    }
}

/// Everything a provider offers.
#[derive(Clone, Debug, Default)]
pub struct ProviderSchema {
    /// The provider block's own settings.
    pub config: Body,
    /// Native resource types, by type name.
    pub resources: BTreeMap<String, ResourceSchema>,
    /// Portable component type names this provider implements.
    pub components: Vec<String>,
}
