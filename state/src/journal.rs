//! The write-ahead journal: what an apply is about to do and what it did, appended durably
//! after every step so that saving progress never rewrites the whole state, and a crash at any
//! instant loses nothing.
//!
//! A journal belongs to one stored snapshot, named by its [`Stamp`] (lineage and serial). The
//! state is the snapshot with the journal's effects replayed in order ([`replay`]); entries
//! written against an older snapshot are ignored (they were folded into a newer snapshot by
//! [`crate::Backend::compact`] just before a crash). An [`Intent`] without a matching
//! [`JournalEntry::Resolved`] is a provider call whose outcome is unknown: the next run
//! resolves it with the provider before planning.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::StateError;
use crate::model::{ComponentRecord, OutputRecord, ResourceRecord, State};

/// Which snapshot a journal applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub lineage: String,
    pub serial: u64,
}

impl Stamp {
    pub fn of(state: &State) -> Stamp {
        Stamp {
            lineage: state.lineage.clone(),
            serial: state.serial,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentAction {
    Create,
    Update,
    Delete,
}

/// A mutating provider call about to be made, with everything needed to find its effect later.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// Unique within the journal, increasing.
    pub id: u64,
    pub action: IntentAction,
    /// The native address the call is for.
    pub address: String,
    pub block_type: String,
    pub type_name: String,
    pub provider: String,
    /// The identity a create uses: the provider derives the cloud-side name from the stack and
    /// this identity address, so the object can be looked up whether or not the call returned.
    pub stack: String,
    pub identity: String,
    /// The existing object an update or delete acts on, or that a create-before-destroy create
    /// replaces.
    pub object_id: Option<String>,
    /// For a create: the dependencies and lifecycle to record if the object is adopted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_before_destroy: bool,
}

/// One journal record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JournalEntry {
    /// About to call the provider.
    Intent(Intent),
    /// The call of intent `intent` returned, successfully or not; its effect is in the entries
    /// written with it.
    Resolved { intent: u64 },
    /// The record of `record.address` now reads so.
    Upsert { record: ResourceRecord },
    /// The record at `address` is gone.
    Remove { address: String },
    /// A component's applied configuration now reads so.
    UpsertComponent { record: ComponentRecord },
    /// A component's record is gone.
    RemoveComponent { address: String },
    /// The outputs now read so.
    Outputs {
        outputs: BTreeMap<String, OutputRecord>,
    },
}

impl JournalEntry {
    /// True for entries that change the state (and so its serial).
    pub fn is_mutation(&self) -> bool {
        !matches!(
            self,
            JournalEntry::Intent(_) | JournalEntry::Resolved { .. }
        )
    }
}

/// A state with its journal replayed.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub state: State,
    /// The snapshot the journal applies to: further appends use it, until the next compaction.
    pub base: Stamp,
    /// Intents whose calls never returned, in journal order.
    pub pending: Vec<Intent>,
}

/// The stored form of a journal, shared by backends that keep it as bytes (the local file): JSON
/// Lines, the first line the [`Stamp`] of the snapshot it applies to, then one entry per line.
/// Each line is compact JSON, which never contains a raw newline, so a newline ends a record.
pub fn encode_header(base: &Stamp) -> Result<Vec<u8>, StateError> {
    let mut bytes = serde_json::to_vec(base).map_err(encode_error)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The lines for `entries`, to be appended in one write.
pub fn encode_entries(entries: &[JournalEntry]) -> Result<Vec<u8>, StateError> {
    let mut bytes = Vec::with_capacity(entries.len() * 256);
    for entry in entries {
        serde_json::to_writer(&mut bytes, entry).map_err(encode_error)?;
        bytes.push(b'\n');
    }
    Ok(bytes)
}

fn encode_error(e: serde_json::Error) -> StateError {
    StateError::Encode {
        reason: format!("journal entry: {e}"),
    }
}

/// The header of a stored journal: the stamp it applies to and the length of the header line.
/// `None` for an empty journal, or one whose only line is torn (which a crash cannot produce,
/// since journals are created whole, but costs nothing to tolerate).
pub fn decode_header(bytes: &[u8], origin: &str) -> Result<Option<(Stamp, usize)>, StateError> {
    let Some(end) = bytes.iter().position(|b| *b == b'\n') else {
        return Ok(None);
    };
    match serde_json::from_slice::<Stamp>(&bytes[..end]) {
        Ok(stamp) => Ok(Some((stamp, end + 1))),
        Err(_) if end + 1 == bytes.len() => Ok(None),
        Err(e) => Err(corrupt_line(origin, 1, &e)),
    }
}

/// The entries of a stored journal, given the bytes after its header, and the length of the
/// prefix made of whole, valid lines. A torn last line (no final newline, or invalid JSON: the
/// process died in mid-append) is left out; an invalid line before the last is
/// [`StateError::Corrupt`], naming `origin` and the line number in the whole file.
pub fn decode_entries(
    bytes: &[u8],
    origin: &str,
) -> Result<(Vec<JournalEntry>, usize), StateError> {
    decode_lines(bytes, origin)
}

/// How many entries of a journal body change the state, read without building the entries
/// (compaction needs only this, and a journal can be large).
pub fn count_mutations(bytes: &[u8], origin: &str) -> Result<u64, StateError> {
    #[derive(Deserialize)]
    struct Kind {
        kind: String,
    }
    let (kinds, _) = decode_lines::<Kind>(bytes, origin)?;
    Ok(kinds
        .iter()
        .filter(|k| k.kind != "intent" && k.kind != "resolved")
        .count() as u64)
}

/// Decodes the lines of a journal body as `T`s, stopping at a torn last line; returns them
/// with the length of the valid prefix.
fn decode_lines<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    origin: &str,
) -> Result<(Vec<T>, usize), StateError> {
    let mut entries = Vec::new();
    let mut valid = 0;
    let mut lines = bytes.split_inclusive(|b| *b == b'\n').peekable();
    // The header is line 1.
    let mut number = 1;
    while let Some(line) = lines.next() {
        number += 1;
        let last = lines.peek().is_none();
        let parsed = match line.strip_suffix(b"\n") {
            Some(body) => serde_json::from_slice::<T>(body),
            // Only the last piece can lack its newline: a write that never finished.
            None => break,
        };
        match parsed {
            Ok(entry) => {
                entries.push(entry);
                valid += line.len();
            }
            Err(_) if last => break,
            Err(e) => return Err(corrupt_line(origin, number, &e)),
        }
    }
    if valid < bytes.len() {
        tracing::warn!(
            journal = origin,
            line = number,
            "ignoring a torn last journal line, left by a crash in mid-append"
        );
    }
    Ok((entries, valid))
}

/// The error for an unreadable line. It names the kind of error and the column but not serde's
/// message, which can quote the offending value, and a journal line can hold secrets.
fn corrupt_line(origin: &str, number: usize, e: &serde_json::Error) -> StateError {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "not valid JSON",
        serde_json::error::Category::Data => "not a journal record",
    };
    StateError::Corrupt {
        path: origin.to_string(),
        reason: format!("journal line {number} is {kind} (column {})", e.column()),
    }
}

/// Replays journal entries over their snapshot. Each mutation increments the serial, so a plan
/// made before an interrupted apply is recognised as stale. Linear in the size of the state
/// plus the journal.
pub fn replay(snapshot: State, entries: &[JournalEntry]) -> Loaded {
    let base = Stamp::of(&snapshot);
    let mut state = snapshot;
    let mut resources: BTreeMap<String, ResourceRecord> = std::mem::take(&mut state.resources)
        .into_iter()
        .map(|r| (r.address.clone(), r))
        .collect();
    let mut components: BTreeMap<String, ComponentRecord> = std::mem::take(&mut state.components)
        .into_iter()
        .map(|c| (c.address.clone(), c))
        .collect();
    let mut open: BTreeMap<u64, Intent> = BTreeMap::new();
    let mut resolved: BTreeSet<u64> = BTreeSet::new();
    for entry in entries {
        match entry {
            JournalEntry::Intent(i) => {
                open.insert(i.id, i.clone());
            }
            JournalEntry::Resolved { intent } => {
                resolved.insert(*intent);
            }
            JournalEntry::Upsert { record } => {
                resources.insert(record.address.clone(), record.clone());
            }
            JournalEntry::Remove { address } => {
                resources.remove(address);
            }
            JournalEntry::UpsertComponent { record } => {
                components.insert(record.address.clone(), record.clone());
            }
            JournalEntry::RemoveComponent { address } => {
                components.remove(address);
            }
            JournalEntry::Outputs { outputs } => state.outputs = outputs.clone(),
        }
        if entry.is_mutation() {
            state.serial += 1;
        }
    }
    state.resources = resources.into_values().collect();
    state.components = components.into_values().collect();
    let pending = open
        .into_values()
        .filter(|i| !resolved.contains(&i.id))
        .collect();
    Loaded {
        state,
        base,
        pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(address: &str, id: &str) -> ResourceRecord {
        ResourceRecord {
            address: address.into(),
            block_type: "sandbox_object".into(),
            type_name: "sandbox_object".into(),
            provider: "sandbox".into(),
            id: id.into(),
            attributes: Default::default(),
            sensitive_attributes: Vec::new(),
            dependencies: Vec::new(),
            create_before_destroy: false,
        }
    }

    fn intent(id: u64, address: &str) -> Intent {
        Intent {
            id,
            action: IntentAction::Create,
            address: address.into(),
            block_type: "sandbox_object".into(),
            type_name: "sandbox_object".into(),
            provider: "sandbox".into(),
            stack: "s".into(),
            identity: address.into(),
            object_id: None,
            dependencies: Vec::new(),
            create_before_destroy: false,
        }
    }

    #[test]
    fn replay_applies_mutations_in_order_and_reports_open_intents() {
        let mut snapshot = State::new();
        snapshot.serial = 4;
        snapshot.upsert(record("sandbox_object.old", "o-1"));
        let entries = vec![
            JournalEntry::Intent(intent(1, "sandbox_object.a")),
            JournalEntry::Upsert {
                record: record("sandbox_object.a", "o-2"),
            },
            JournalEntry::Resolved { intent: 1 },
            JournalEntry::Intent(intent(2, "sandbox_object.b")),
            JournalEntry::Remove {
                address: "sandbox_object.old".into(),
            },
        ];
        let loaded = replay(snapshot.clone(), &entries);
        assert_eq!(loaded.base, Stamp::of(&snapshot));
        assert_eq!(loaded.state.serial, 6, "two mutations");
        let addresses: Vec<&str> = loaded
            .state
            .resources
            .iter()
            .map(|r| r.address.as_str())
            .collect();
        assert_eq!(addresses, vec!["sandbox_object.a"]);
        assert_eq!(loaded.pending, vec![intent(2, "sandbox_object.b")]);
    }

    fn journal_bytes(entries: &[JournalEntry]) -> (Stamp, Vec<u8>) {
        let base = Stamp {
            lineage: "l".into(),
            serial: 3,
        };
        let mut bytes = encode_header(&base).expect("header");
        bytes.extend(encode_entries(entries).expect("entries"));
        (base, bytes)
    }

    #[test]
    fn lines_round_trip() {
        let entries = vec![
            JournalEntry::Intent(intent(1, "sandbox_object.a")),
            JournalEntry::Upsert {
                record: record("sandbox_object.a", "o-1"),
            },
            JournalEntry::Resolved { intent: 1 },
        ];
        let (base, bytes) = journal_bytes(&entries);
        assert_eq!(
            bytes.iter().filter(|b| **b == b'\n').count(),
            4,
            "one line each"
        );
        let (stamp, start) = decode_header(&bytes, "j").expect("header").expect("some");
        assert_eq!(stamp, base);
        let (decoded, valid) = decode_entries(&bytes[start..], "j").expect("entries");
        assert_eq!(decoded, entries);
        assert_eq!(start + valid, bytes.len());
    }

    #[test]
    fn torn_last_line_is_left_out() {
        let entries = vec![JournalEntry::Resolved { intent: 1 }];
        let (_, whole) = journal_bytes(&entries);
        let (_, start) = decode_header(&whole, "j").expect("header").expect("some");
        let next = encode_entries(&[JournalEntry::Resolved { intent: 2 }]).expect("line");
        // A partial line, a complete record without its newline, and an invalid last line.
        for tail in [&next[..5], &next[..next.len() - 1], &b"{\"kind\":\n"[..]] {
            let mut bytes = whole.clone();
            bytes.extend_from_slice(tail);
            let (decoded, valid) = decode_entries(&bytes[start..], "j").expect("torn tail");
            assert_eq!(decoded, entries);
            assert_eq!(
                start + valid,
                whole.len(),
                "the valid prefix ends before the tail"
            );
        }
    }

    #[test]
    fn invalid_middle_line_is_corrupt_without_quoting_it() {
        let (_, mut bytes) = journal_bytes(&[JournalEntry::Resolved { intent: 1 }]);
        bytes.extend_from_slice(b"{\"kind\":\"resolved\",\"intent\":\"hunter2\"}\n");
        bytes.extend(encode_entries(&[JournalEntry::Resolved { intent: 2 }]).expect("line"));
        let (_, start) = decode_header(&bytes, "j").expect("header").expect("some");
        let err = decode_entries(&bytes[start..], "the/journal").expect_err("corrupt");
        let message = err.to_string();
        assert!(matches!(err, StateError::Corrupt { .. }), "{message}");
        assert!(
            message.contains("the/journal") && message.contains("line 3"),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn header_edge_cases() {
        assert_eq!(decode_header(b"", "j").expect("empty"), None);
        assert_eq!(
            decode_header(b"{\"lineage\":\"l\",", "j").expect("torn"),
            None
        );
        assert_eq!(
            decode_header(b"garbage\n", "j").expect("invalid only line"),
            None
        );
        assert!(matches!(
            decode_header(b"garbage\n{}\n", "j"),
            Err(StateError::Corrupt { .. })
        ));
    }
}
