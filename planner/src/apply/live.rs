//! The state during an apply, indexed by address: every change arrives as a journal entry and
//! is applied here as the journal's replay would apply it.

use std::collections::{BTreeSet, HashMap};

use state::{ComponentRecord, JournalEntry, ResourceRecord, State};

use crate::addr::NativeAddr;
use crate::engine::Records;

/// The state during an apply, indexed by address; every change arrives as a journal entry.
#[derive(Debug)]
pub(crate) struct Live {
    meta: State,
    pub(crate) resources: HashMap<String, ResourceRecord>,
    components: HashMap<String, ComponentRecord>,
}

impl Live {
    pub(crate) fn new(mut state: State) -> Live {
        let resources = std::mem::take(&mut state.resources)
            .into_iter()
            .map(|r| (r.address.clone(), r))
            .collect();
        let components = std::mem::take(&mut state.components)
            .into_iter()
            .map(|c| (c.address.clone(), c))
            .collect();
        Live {
            meta: state,
            resources,
            components,
        }
    }

    /// Applies an entry as [`state::journal::replay`] does (same serial rule).
    pub(crate) fn apply(&mut self, entry: &JournalEntry) {
        match entry {
            JournalEntry::Intent(_) | JournalEntry::Resolved { .. } => return,
            JournalEntry::Upsert { record } => {
                self.resources
                    .insert(record.address.clone(), record.clone());
            }
            JournalEntry::Remove { address } => {
                self.resources.remove(address);
            }
            JournalEntry::UpsertComponent { record } => {
                self.components
                    .insert(record.address.clone(), record.clone());
            }
            JournalEntry::RemoveComponent { address } => {
                self.components.remove(address);
            }
            JournalEntry::Outputs { outputs } => self.meta.outputs = outputs.clone(),
        }
        self.meta.serial += 1;
    }

    /// The entries that drop the records of components none of whose native resources is
    /// left.
    pub(crate) fn orphan_components(&self) -> Vec<JournalEntry> {
        let alive: BTreeSet<String> = self
            .resources
            .keys()
            .filter_map(|a| {
                a.parse::<NativeAddr>()
                    .ok()
                    .map(|n| n.component.to_string())
            })
            .collect();
        self.components
            .keys()
            .filter(|c| !alive.contains(*c))
            .map(|c| JournalEntry::RemoveComponent { address: c.clone() })
            .collect()
    }

    /// The state, without copying the records; they are sorted by address, as a state keeps
    /// them.
    pub(crate) fn into_state(self) -> State {
        let mut s = self.meta;
        s.resources = self.resources.into_values().collect();
        s.resources.sort_by(|a, b| a.address.cmp(&b.address));
        s.components = self.components.into_values().collect();
        s.components.sort_by(|a, b| a.address.cmp(&b.address));
        s
    }
}

impl Records for Live {
    fn resource(&self, address: &str) -> Option<&ResourceRecord> {
        self.resources.get(address)
    }

    fn component(&self, address: &str) -> Option<&ComponentRecord> {
        self.components.get(address)
    }
}

/// The address under which a replaced object stays recorded until it is deleted (after a
/// create-before-destroy replacement): a sibling of the new object, so that if ss stops before
/// deleting it, the next plan deletes it like any resource the spec no longer has.
pub fn deposed_address(addr: &NativeAddr, old_id: &str) -> NativeAddr {
    let sanitized: String = old_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let (type_name, local) = match &addr.native {
        Some((t, n)) => (t.clone(), format!("{n}_deposed_{sanitized}")),
        None => (
            addr.component.type_name.clone(),
            format!("deposed_{sanitized}"),
        ),
    };
    NativeAddr {
        component: addr.component.clone(),
        native: Some((type_name, local)),
    }
}
