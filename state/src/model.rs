//! The state: what ss knows exists in the cloud. This is also the on-disk JSON layout of the
//! current format version.

use std::collections::BTreeMap;

use provider_api::Value;
use serde::{Deserialize, Serialize};

/// The current state format version. Older versions are upgraded one step at a time on read.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub format_version: u32,
    /// Random id given when the state is first created; a plan or write for another lineage is
    /// refused.
    pub lineage: String,
    /// Incremented on every write; a write must follow the stored serial.
    pub serial: u64,
    /// Version of ss that last wrote the state.
    pub ss_version: String,
    /// One record per native resource, sorted by address.
    pub resources: Vec<ResourceRecord>,
    /// The last applied configuration of each portable component instance (its native
    /// resources are in `resources`), sorted by address: `lifecycle { ignore_changes }` keeps
    /// these values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentRecord>,
    pub outputs: BTreeMap<String, OutputRecord>,
}

/// The configuration a portable component instance was last applied with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentRecord {
    /// The component instance address (`postgres.meta`, `network.zone["eu"]`).
    pub address: String,
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Top-level attribute names whose values are sensitive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_attributes: Vec<String>,
}

impl ComponentRecord {
    pub fn new(address: &str, config: &BTreeMap<String, Value>) -> ComponentRecord {
        let (attributes, sensitive_attributes) = to_json_attrs(config);
        ComponentRecord {
            address: address.to_string(),
            config: attributes,
            sensitive_attributes,
        }
    }

    /// The configuration as values, with the sensitive ones marked.
    pub fn config(&self) -> BTreeMap<String, Value> {
        from_json_attrs(&self.config, &self.sensitive_attributes)
    }
}

fn to_json_attrs(
    attrs: &BTreeMap<String, Value>,
) -> (serde_json::Map<String, serde_json::Value>, Vec<String>) {
    let json = attrs
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json().unwrap_or(serde_json::Value::Null)))
        .collect();
    let sensitive = attrs
        .iter()
        .filter(|(_, v)| v.is_sensitive())
        .map(|(k, _)| k.clone())
        .collect();
    (json, sensitive)
}

fn from_json_attrs(
    json: &serde_json::Map<String, serde_json::Value>,
    sensitive: &[String],
) -> BTreeMap<String, Value> {
    json.iter()
        .map(|(k, v)| {
            let v = Value::from_json(v);
            (k.clone(), v.mark_if(sensitive.iter().any(|s| s == k)))
        })
        .collect()
}

/// One native resource: a real cloud object under management.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    /// The native address (`postgres.meta.sandbox_pg_replica.r0`, or `sandbox_object.a`).
    pub address: String,
    /// The resource block's type (`postgres`, or the native type for native blocks).
    pub block_type: String,
    /// The native type.
    pub type_name: String,
    pub provider: String,
    /// The cloud id.
    pub id: String,
    /// Every attribute, as plain JSON (sensitive ones included: state files are 0600 and may be
    /// encrypted).
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Top-level attribute names whose values are sensitive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_attributes: Vec<String>,
    /// Native addresses this resource depended on when last applied: deletes run before those
    /// of its dependencies, even after the spec forgot both.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    pub value: serde_json::Value,
    #[serde(default)]
    pub sensitive: bool,
}

impl State {
    /// A new, empty state with a fresh lineage and serial 0.
    pub fn new() -> State {
        State {
            format_version: FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            ss_version: env!("CARGO_PKG_VERSION").to_string(),
            resources: Vec::new(),
            components: Vec::new(),
            outputs: BTreeMap::new(),
        }
    }

    pub fn resource(&self, address: &str) -> Option<&ResourceRecord> {
        self.resources.iter().find(|r| r.address == address)
    }

    /// Inserts or replaces the record with the same address, keeping the list sorted.
    pub fn upsert(&mut self, record: ResourceRecord) {
        match self
            .resources
            .binary_search_by(|r| r.address.as_str().cmp(&record.address))
        {
            Ok(i) => self.resources[i] = record,
            Err(i) => self.resources.insert(i, record),
        }
    }

    pub fn remove(&mut self, address: &str) -> Option<ResourceRecord> {
        let i = self.resources.iter().position(|r| r.address == address)?;
        Some(self.resources.remove(i))
    }

    pub fn component(&self, address: &str) -> Option<&ComponentRecord> {
        self.components.iter().find(|c| c.address == address)
    }

    /// Inserts or replaces the component record with the same address, keeping them sorted.
    pub fn upsert_component(&mut self, record: ComponentRecord) {
        match self
            .components
            .binary_search_by(|c| c.address.as_str().cmp(&record.address))
        {
            Ok(i) => self.components[i] = record,
            Err(i) => self.components.insert(i, record),
        }
    }

    /// Drops the records of components none of whose native resources remain. `component_of`
    /// gives the component instance address of a native address.
    pub fn prune_components(&mut self, component_of: impl Fn(&str) -> Option<String>) {
        let live: std::collections::BTreeSet<String> = self
            .resources
            .iter()
            .filter_map(|r| component_of(&r.address))
            .collect();
        self.components.retain(|c| live.contains(&c.address));
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

impl ResourceRecord {
    /// The attributes as values, with the sensitive ones marked.
    pub fn attrs(&self) -> BTreeMap<String, Value> {
        from_json_attrs(&self.attributes, &self.sensitive_attributes)
    }

    /// Stores attribute values (which must be wholly known), remembering which are sensitive.
    /// Unknown values are stored as null.
    pub fn set_attrs(&mut self, attrs: &BTreeMap<String, Value>) {
        (self.attributes, self.sensitive_attributes) = to_json_attrs(attrs);
    }
}
