//! Carrying out one step: the intent made durable before the provider call, the call, and its
//! outcome recorded as soon as it returns; with progress events around it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use provider_api::{CreateRequest, Identity, Provider, ResourceState};
use state::{ComponentRecord, Intent, IntentAction, JournalEntry, ResourceRecord};

use super::journal::Journal;
use super::limits::Gate;
use super::live::{Live, deposed_address};
use super::resolve::Resolver;
use super::retry::call;
use super::steps::{Phase, step_action};
use crate::engine::Engine;
use crate::events::{ApplyEvent, EventSink};
use crate::plan::{Action, ResourceChange};

/// What every step of one apply shares.
pub(crate) struct Ctx {
    engine: Arc<Engine>,
    pub(crate) resolver: Resolver,
    live: Arc<Mutex<Live>>,
    journal: Journal,
    next_intent: AtomicU64,
    gates: BTreeMap<String, Gate>,
    sink: Arc<dyn EventSink>,
}

/// The provider, its limits and the recorded address of the change a step carries out.
struct Target<'a> {
    change: &'a ResourceChange,
    provider: Arc<dyn Provider>,
    gate: &'a Gate,
    addr: String,
}

/// A create-before-destroy replacement: the old object lives on, at its deposed address, until
/// the new one exists and its dependents have moved.
fn cbd_replace(change: &ResourceChange) -> bool {
    change.action == Action::Replace && change.create_before_destroy
}

fn resource_state(record: &ResourceRecord) -> ResourceState {
    ResourceState {
        id: record.id.clone(),
        attrs: record.attrs(),
    }
}

impl Ctx {
    pub(crate) fn new(
        engine: Arc<Engine>,
        changes: &[Arc<ResourceChange>],
        live: Arc<Mutex<Live>>,
        journal: Journal,
        sink: Arc<dyn EventSink>,
    ) -> Ctx {
        let gates = engine
            .providers
            .keys()
            .map(|p| {
                let limits = engine.limits.get(p).cloned().unwrap_or_default();
                (p.clone(), Gate::new(&limits))
            })
            .collect();
        Ctx {
            resolver: Resolver::new(engine.clone(), changes),
            engine,
            live,
            journal,
            next_intent: AtomicU64::new(1),
            gates,
            sink,
        }
    }

    fn record(change: &ResourceChange, object: ResourceState) -> ResourceRecord {
        let mut r = ResourceRecord {
            address: change.address.to_string(),
            block_type: change.block_type.clone(),
            type_name: change.type_name.clone(),
            provider: change.provider.clone(),
            id: object.id,
            attributes: Default::default(),
            sensitive_attributes: Vec::new(),
            dependencies: change.depends_on.iter().map(ToString::to_string).collect(),
            create_before_destroy: change.create_before_destroy,
        };
        r.set_attrs(&object.attrs);
        r
    }

    pub(crate) fn live(&self) -> Result<MutexGuard<'_, Live>, String> {
        self.live
            .lock()
            .map_err(|_| "the live state is unusable after a panic".to_string())
    }

    /// Applies entries to the live state and makes them durable.
    ///
    /// The live state may run ahead of the journal for the moment the append takes; if the
    /// append fails the apply stops with that error, and nothing reads the live state after.
    pub(crate) async fn commit(&self, entries: Vec<JournalEntry>) -> Result<(), String> {
        {
            let mut live = self.live()?;
            for e in &entries {
                live.apply(e);
            }
        }
        self.journal.record(entries).await
    }

    /// Makes an intent durable and returns its id.
    async fn declare(
        &self,
        change: &ResourceChange,
        action: IntentAction,
        identity: &Identity,
        object_id: Option<String>,
    ) -> Result<u64, String> {
        let intent = Intent {
            id: self.next_intent.fetch_add(1, Ordering::SeqCst),
            action,
            address: change.address.to_string(),
            block_type: change.block_type.clone(),
            type_name: change.type_name.clone(),
            provider: change.provider.clone(),
            stack: identity.stack.clone(),
            identity: identity.address.clone(),
            object_id,
            dependencies: change.depends_on.iter().map(ToString::to_string).collect(),
            create_before_destroy: change.create_before_destroy,
        };
        let id = intent.id;
        self.commit(vec![JournalEntry::Intent(intent)]).await?;
        Ok(id)
    }

    /// The identity the provider derives the object's name from: the stack and the address,
    /// plus a suffix for an object that exists beside another one at the same address.
    fn identity(&self, addr: &str, suffix: Option<&str>) -> Identity {
        Identity {
            stack: self.engine.stack.clone(),
            address: match suffix {
                Some(s) => format!("{addr}~{s}"),
                None => addr.to_string(),
            },
        }
    }

    fn target<'a>(&'a self, change: &'a ResourceChange) -> Result<Target<'a>, String> {
        let provider = self
            .engine
            .provider(&change.provider)
            .cloned()
            .ok_or_else(|| format!("provider `{}` is not configured", change.provider))?;
        let gate = self
            .gates
            .get(&change.provider)
            .ok_or_else(|| format!("provider `{}` is not configured", change.provider))?;
        Ok(Target {
            change,
            provider,
            gate,
            addr: change.address.to_string(),
        })
    }

    async fn run(&self, change: &ResourceChange, phase: Phase) -> Result<Option<String>, String> {
        let target = self.target(change)?;
        match phase {
            Phase::Destroy => self.destroy(&target).await,
            Phase::Apply => self.create_or_update(&target).await,
        }
    }

    /// Deletes the object, unless it is already gone from the live state.
    async fn destroy(&self, t: &Target<'_>) -> Result<Option<String>, String> {
        let change = t.change;
        // After a create-before-destroy replacement the old object is recorded at its
        // deposed address; otherwise at the address itself.
        let (record_addr, old) = {
            let live = self.live()?;
            if cbd_replace(change) {
                let Some(old_id) = &change.id else {
                    return Ok(None);
                };
                let deposed = deposed_address(&change.address, old_id).to_string();
                let old = live.resources.get(&deposed).map(resource_state);
                (deposed, old)
            } else {
                let old = live.resources.get(&t.addr).map(resource_state);
                (t.addr.clone(), old)
            }
        };
        let Some(old) = old else {
            return Ok(None);
        };
        let identity = self.identity(&t.addr, None);
        let intent = self
            .declare(
                change,
                IntentAction::Delete,
                &identity,
                Some(old.id.clone()),
            )
            .await?;
        let type_name = change.type_name.as_str();
        let result = call(t.gate, &t.addr, || t.provider.delete(type_name, &old)).await;
        let mut entries = Vec::new();
        if result.is_ok() {
            entries.push(JournalEntry::Remove {
                address: record_addr,
            });
        }
        entries.push(JournalEntry::Resolved { intent });
        self.commit(entries).await?;
        result.map_err(|e| e.to_string())?;
        Ok(Some(old.id))
    }

    /// Creates or updates the object with its final configuration, then records it.
    async fn create_or_update(&self, t: &Target<'_>) -> Result<Option<String>, String> {
        let change = t.change;
        let type_name = change.type_name.as_str();
        let (config, prior) = {
            let live = self.live()?;
            let config = self.resolver.final_config(change, &live)?;
            let prior = live.resources.get(&t.addr).map(resource_state);
            (config, prior)
        };
        let (intent, result) = match change.action {
            Action::Update => {
                let prior = prior.ok_or_else(|| {
                    format!("{} is no longer in the state: run `ss plan` again", t.addr)
                })?;
                let identity = self.identity(&t.addr, None);
                let intent = self
                    .declare(
                        change,
                        IntentAction::Update,
                        &identity,
                        Some(prior.id.clone()),
                    )
                    .await?;
                let r = call(t.gate, &t.addr, || {
                    t.provider.update(type_name, &prior, &config)
                })
                .await;
                (intent, r)
            }
            Action::Create | Action::Replace => {
                // A create-before-destroy replacement exists beside the old object for a
                // while, so it needs its own identity (derived from the old id: still
                // deterministic when retried or recovered).
                let old_id = change.id.clone().filter(|_| cbd_replace(change));
                let identity = self.identity(&t.addr, old_id.as_deref());
                let intent = self
                    .declare(change, IntentAction::Create, &identity, old_id)
                    .await?;
                let r = call(t.gate, &t.addr, || {
                    t.provider.create(CreateRequest {
                        type_name,
                        identity: &identity,
                        config: &config,
                    })
                })
                .await;
                (intent, r)
            }
            Action::Delete | Action::NoOp => return Ok(change.id.clone()),
        };
        let object = match result {
            Ok(o) => o,
            Err(e) => {
                self.commit(vec![JournalEntry::Resolved { intent }]).await?;
                return Err(e.to_string());
            }
        };
        let id = object.id.clone();
        let mut entries = self.created_entries(t, object)?;
        entries.push(JournalEntry::Resolved { intent });
        self.commit(entries).await?;
        Ok(Some(id))
    }

    /// The records a created or updated object leaves: the old object moved to its deposed
    /// address (create-before-destroy), the new record, and the configuration a component was
    /// applied with, for `ignore_changes` later.
    fn created_entries(
        &self,
        t: &Target<'_>,
        object: ResourceState,
    ) -> Result<Vec<JournalEntry>, String> {
        let change = t.change;
        let mut entries = Vec::new();
        if cbd_replace(change)
            && let Some(old) = self.live()?.resources.get(&t.addr).cloned()
        {
            let mut deposed = old;
            deposed.address = deposed_address(&change.address, &deposed.id).to_string();
            entries.push(JournalEntry::Upsert { record: deposed });
        }
        entries.push(JournalEntry::Upsert {
            record: Self::record(change, object),
        });
        let component = &change.address.component;
        if provider_api::component::is_component(&component.type_name) {
            let inst = {
                let live = self.live()?;
                self.resolver.instance(component, &live)
            };
            if let Ok(inst) = inst {
                entries.push(JournalEntry::UpsertComponent {
                    record: ComponentRecord::new(&component.to_string(), &inst.config),
                });
            }
        }
        Ok(entries)
    }
}

/// Runs one step, reporting progress (with a "still working" event every 10 seconds).
pub(crate) async fn run_with_events(
    ctx: Arc<Ctx>,
    change: Arc<ResourceChange>,
    phase: Phase,
    step: usize,
) -> (usize, Result<(), String>) {
    let address = change.address.clone();
    let action = step_action(change.action, phase);
    // A step waiting for its provider's `max_in_flight` slot has not started: take the slot
    // before saying so (and before its elapsed time begins).
    let _slot = match ctx
        .gates
        .get(&change.provider)
        .and_then(|g| g.slots.as_ref())
    {
        Some(slots) => slots.acquire().await.ok(),
        None => None,
    };
    ctx.sink.event(ApplyEvent::Started {
        address: address.clone(),
        action,
    });
    let started = Instant::now();
    let work = ctx.run(&change, phase);
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
                address,
                action,
                id,
                elapsed,
            });
            (step, Ok(()))
        }
        Err(message) => {
            ctx.sink.event(ApplyEvent::Failed {
                address,
                action,
                message: message.clone(),
                elapsed,
            });
            (step, Err(message))
        }
    }
}
