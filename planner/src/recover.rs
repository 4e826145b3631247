//! Recovery: before an apply or destroy starts, resolve what an interrupted one left open.
//!
//! Every mutating provider call was preceded by a durable [`Intent`]; an intent without a
//! `Resolved` entry is a call whose outcome is unknown (the process died, or was killed, while
//! it was in flight). Each is settled with the provider, by the identity the create used or the
//! object the update or delete acted on:
//! - a create whose object exists is adopted into the state (if it was a create-before-destroy
//!   replacement, the object it replaces stays recorded at its deposed address, and the next
//!   plan deletes it); if nothing exists, nothing was made;
//! - an update's object is read back; if it is gone, its record goes;
//! - a delete whose object is gone removes its record; otherwise the record stays (the plan
//!   will delete it again).
//!
//! Then the journal is folded into a new snapshot, so the apply starts from a clean journal.
//! The invariant this serves: however an apply ends, every cloud object is recorded in the
//! state exactly once.

use provider_api::{Identity, Provider, ProviderError, ResourceState};
use state::{
    Backend, Intent, IntentAction, JournalEntry, Loaded, ResourceRecord, State, StateError,
};

use crate::addr::NativeAddr;
use crate::apply::live::{Live, deposed_address};
use crate::engine::Engine;

#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error(
        "an interrupted apply left an operation on {address} with provider `{provider}`, which is not configured"
    )]
    MissingProvider { address: String, provider: String },
    #[error("resolving the interrupted operation on {address}: {source}")]
    Provider {
        address: String,
        source: ProviderError,
    },
    #[error(transparent)]
    State(#[from] StateError),
}

/// Runs a provider lookup, retrying what may succeed when retried.
async fn lookup<T, F, Fut>(address: &str, op: F) -> Result<T, RecoverError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    use backon::{ExponentialBuilder, Retryable};
    op.retry(
        ExponentialBuilder::default()
            .with_max_times(8)
            .with_jitter(),
    )
    .when(ProviderError::is_retryable)
    .await
    .map_err(|source| RecoverError::Provider {
        address: address.to_string(),
        source,
    })
}

async fn read_one(
    provider: &dyn Provider,
    intent: &Intent,
    id: &str,
) -> Result<Option<ResourceState>, RecoverError> {
    let ids = [id.to_string()];
    let found = lookup(&intent.address, || {
        provider.read_many(&intent.type_name, &ids)
    })
    .await?;
    Ok(found.into_iter().next().flatten())
}

/// Settles one pending intent; returns what happened, for the user.
async fn settle_intent(
    engine: &Engine,
    live: &mut Live,
    intent: &Intent,
) -> Result<String, RecoverError> {
    let provider =
        engine
            .provider(&intent.provider)
            .ok_or_else(|| RecoverError::MissingProvider {
                address: intent.address.clone(),
                provider: intent.provider.clone(),
            })?;
    let provider = provider.as_ref();
    match intent.action {
        IntentAction::Create => {
            let identity = Identity {
                stack: intent.stack.clone(),
                address: intent.identity.clone(),
            };
            let found = lookup(&intent.address, || {
                provider.find(&intent.type_name, &identity)
            })
            .await?;
            let Some(object) = found else {
                return Ok(format!(
                    "{}: the interrupted create made nothing",
                    intent.address
                ));
            };
            if let (Some(old_id), Ok(addr)) =
                (&intent.object_id, intent.address.parse::<NativeAddr>())
                && let Some(old) = live
                    .resources
                    .get(&intent.address)
                    .filter(|r| &r.id == old_id)
                    .cloned()
            {
                let mut deposed = old;
                deposed.address = deposed_address(&addr, old_id).to_string();
                live.apply(&JournalEntry::Upsert { record: deposed });
            }
            let mut record = ResourceRecord {
                address: intent.address.clone(),
                block_type: intent.block_type.clone(),
                type_name: intent.type_name.clone(),
                provider: intent.provider.clone(),
                id: object.id.clone(),
                attributes: Default::default(),
                sensitive_attributes: Vec::new(),
                dependencies: intent.dependencies.clone(),
                create_before_destroy: intent.create_before_destroy,
            };
            record.set_attrs(&object.attrs);
            live.apply(&JournalEntry::Upsert { record });
            Ok(format!(
                "{}: adopted {}, created by the interrupted apply",
                intent.address, object.id
            ))
        }
        IntentAction::Update => {
            let Some(id) = &intent.object_id else {
                return Ok(format!("{}: nothing to settle", intent.address));
            };
            match read_one(provider, intent, id).await? {
                Some(object) => {
                    if let Some(mut record) = live
                        .resources
                        .get(&intent.address)
                        .filter(|r| &r.id == id)
                        .cloned()
                    {
                        record.set_attrs(&object.attrs);
                        live.apply(&JournalEntry::Upsert { record });
                    }
                    Ok(format!(
                        "{}: read back {id} after the interrupted update",
                        intent.address
                    ))
                }
                None => {
                    live.apply(&JournalEntry::Remove {
                        address: intent.address.clone(),
                    });
                    Ok(format!("{}: {id} no longer exists", intent.address))
                }
            }
        }
        IntentAction::Delete => {
            let Some(id) = &intent.object_id else {
                return Ok(format!("{}: nothing to settle", intent.address));
            };
            if read_one(provider, intent, id).await?.is_some() {
                return Ok(format!(
                    "{}: {id} still exists; the next plan deletes it again",
                    intent.address
                ));
            }
            let recorded: Vec<String> = live
                .resources
                .values()
                .filter(|r| &r.id == id && r.type_name == intent.type_name)
                .map(|r| r.address.clone())
                .collect();
            for address in recorded {
                live.apply(&JournalEntry::Remove { address });
            }
            Ok(format!(
                "{}: the interrupted delete of {id} completed",
                intent.address
            ))
        }
    }
}

/// Resolves the pending intents of `loaded` and folds the journal into a new snapshot.
/// Returns the settled state and a line per resolved operation.
pub async fn recover(
    engine: &Engine,
    backend: &dyn Backend,
    loaded: Loaded,
) -> Result<(State, Vec<String>), RecoverError> {
    let Loaded {
        state,
        base,
        pending,
    } = loaded;
    if pending.is_empty() && state.serial == base.serial {
        return Ok((state, Vec::new()));
    }
    let mut live = Live::new(state);
    let mut notes = Vec::new();
    for intent in &pending {
        tracing::info!(address = %intent.address, action = ?intent.action, "settling an interrupted operation");
        notes.push(settle_intent(engine, &mut live, intent).await?);
    }
    let mut settled = live.into_state();
    if settled.serial == base.serial {
        settled.serial += 1;
    }
    backend.compact(&settled).await?;
    Ok((settled, notes))
}
