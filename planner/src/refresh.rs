//! Refresh: read the real objects behind the state, one batched `read_many` per provider and
//! type (never one call per resource), and report what changed outside ss.

use std::collections::{BTreeMap, HashMap};

use provider_api::schema::ResourceSchema;
use provider_api::{ResourceState, Value, same};
use state::{ResourceRecord, State};

use crate::addr::NativeAddr;
use crate::engine::Engine;
use crate::plan::{AttrDrift, Drift};

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(
        "the state holds resources of provider `{0}`, which is not configured; add a `provider \"{0}\"` block"
    )]
    MissingProvider(String),
    #[error("refreshing {type_name} objects from provider `{provider}`: {source}")]
    Provider {
        provider: String,
        type_name: String,
        source: provider_api::ProviderError,
    },
    #[error("the state holds an invalid address {0:?}")]
    BadAddress(String),
}

/// The state's records brought up to date, keyed by address, plus what drifted.
#[derive(Debug, Default)]
pub struct Refreshed {
    pub records: HashMap<String, ResourceRecord>,
    pub drift: Vec<Drift>,
}

/// Compares recorded and actual attributes.
pub fn attr_drift(
    recorded: &BTreeMap<String, Value>,
    actual: &BTreeMap<String, Value>,
) -> Vec<AttrDrift> {
    let mut keys: Vec<&String> = recorded.keys().chain(actual.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let r = recorded.get(k).cloned().unwrap_or(Value::Null);
            let a = actual.get(k).cloned().unwrap_or(Value::Null);
            (!same(&r, &a)).then(|| AttrDrift {
                name: k.clone(),
                recorded: r,
                actual: a,
            })
        })
        .collect()
}

/// Attributes the schema marks write-only (the API never returns them: a password) keep their
/// recorded value when the provider reads them as null or leaves them out. Only attributes
/// so marked: for every other one, null is what the cloud says.
fn keep_write_only(
    schema: Option<&ResourceSchema>,
    recorded: &BTreeMap<String, Value>,
    actual: &mut BTreeMap<String, Value>,
) {
    let Some(schema) = schema else { return };
    for (name, attr) in &schema.body.attributes {
        if attr.write_only
            && actual.get(name).is_none_or(Value::is_null)
            && let Some(value) = recorded.get(name)
        {
            actual.insert(name.clone(), value.clone());
        }
    }
}

pub async fn refresh(engine: &Engine, state: &State) -> Result<Refreshed, RefreshError> {
    let mut groups: BTreeMap<(String, String), Vec<&ResourceRecord>> = BTreeMap::new();
    for r in &state.resources {
        groups
            .entry((r.provider.clone(), r.type_name.clone()))
            .or_default()
            .push(r);
    }
    let mut out = Refreshed::default();
    for ((provider_name, type_name), records) in groups {
        let provider = engine
            .provider(&provider_name)
            .ok_or_else(|| RefreshError::MissingProvider(provider_name.clone()))?;
        let schema = provider.schema().resources.get(&type_name);
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        tracing::debug!(provider = %provider_name, %type_name, count = ids.len(), "refresh batch");
        let found = provider
            .read_many(&type_name, &ids)
            .await
            .map_err(|source| RefreshError::Provider {
                provider: provider_name.clone(),
                type_name: type_name.clone(),
                source,
            })?;
        for (record, actual) in records.into_iter().zip(found) {
            let address: NativeAddr = record
                .address
                .parse()
                .map_err(|_| RefreshError::BadAddress(record.address.clone()))?;
            match actual {
                None => out.drift.push(Drift {
                    address,
                    type_name: record.type_name.clone(),
                    id: record.id.clone(),
                    changes: None,
                }),
                Some(ResourceState { id, mut attrs }) => {
                    keep_write_only(schema, &record.attrs(), &mut attrs);
                    let changes = attr_drift(&record.attrs(), &attrs);
                    let mut updated = record.clone();
                    updated.id = id;
                    updated.set_attrs(&attrs);
                    if !changes.is_empty() {
                        out.drift.push(Drift {
                            address,
                            type_name: record.type_name.clone(),
                            id: record.id.clone(),
                            changes: Some(changes),
                        });
                    }
                    out.records.insert(updated.address.clone(), updated);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use provider_api::schema::{AttrType, AttributeSchema, Body};

    #[test]
    fn only_write_only_attributes_keep_their_recorded_value() {
        let schema = ResourceSchema::native(
            "t",
            "test",
            Body::default()
                .attr(
                    "password",
                    AttributeSchema::optional_computed(AttrType::String, "")
                        .sensitive()
                        .write_only(),
                )
                .attr("note", AttributeSchema::optional(AttrType::String, "")),
        );
        let recorded = BTreeMap::from([
            ("password".to_string(), Value::from("s3cret").sensitive()),
            ("note".to_string(), Value::from("kept?")),
        ]);
        // Read back as null (or left out): the password is kept, the note is drift.
        for password in [Some(Value::Null), None] {
            let mut actual = BTreeMap::from([("note".to_string(), Value::Null)]);
            if let Some(p) = password.clone() {
                actual.insert("password".into(), p);
            }
            keep_write_only(Some(&schema), &recorded, &mut actual);
            let drift: Vec<String> = attr_drift(&recorded, &actual)
                .into_iter()
                .map(|d| d.name)
                .collect();
            assert_eq!(drift, ["note"], "{password:?}");
            assert!(same(&actual["password"], &Value::from("s3cret")));
            assert!(actual["password"].is_sensitive());
        }
        // A value that is read back wins.
        let mut actual = BTreeMap::from([("password".to_string(), Value::from("other"))]);
        keep_write_only(Some(&schema), &recorded, &mut actual);
        assert!(same(&actual["password"], &Value::from("other")));
    }
}
