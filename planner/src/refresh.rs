//! Refresh: read the real objects behind the state, one batched `read_many` per provider and
//! type (never one call per resource), and report what changed outside ss.

use std::collections::{BTreeMap, HashMap};

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
                Some(ResourceState { id, attrs }) => {
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
