//! The stored form of a state: pretty JSON, versioned. Every backend stores these bytes, so a
//! state moves between backends unchanged and all of them share one upgrade path.

use serde_json::Value;

use crate::error::StateError;
use crate::journal::Stamp;
use crate::model::{FORMAT_VERSION, State};
use crate::upgrade::{self, UpgradeError};

/// Parses stored bytes into a state of the current format version. `origin` names where the bytes
/// came from, for error messages.
pub fn decode(bytes: &[u8], origin: &str) -> Result<State, StateError> {
    let corrupt = |reason: String| StateError::Corrupt {
        path: origin.to_string(),
        reason,
    };
    let doc = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(doc)) => doc,
        Ok(_) => return Err(corrupt("expected a JSON object".to_string())),
        Err(e) => return Err(corrupt(format!("invalid JSON: {e}"))),
    };
    let doc = upgrade::upgrade(doc).map_err(|e| match e {
        UpgradeError::TooNew { found } => StateError::UnsupportedVersion {
            found,
            supported: FORMAT_VERSION,
        },
        other => corrupt(other.to_string()),
    })?;
    serde_json::from_value(Value::Object(doc)).map_err(|e| corrupt(e.to_string()))
}

/// The bytes to store for `state`: pretty JSON ending with a newline.
pub fn encode(state: &State) -> Result<Vec<u8>, StateError> {
    if state.format_version != FORMAT_VERSION {
        return Err(StateError::Encode {
            reason: format!(
                "format version {} is not the current version {FORMAT_VERSION}",
                state.format_version
            ),
        });
    }
    let mut bytes = serde_json::to_vec_pretty(state).map_err(|e| StateError::Encode {
        reason: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The stamp of stored bytes without building the state: backends need only this to check an
/// append against the stored snapshot. Falls back to a full [`decode`] for an older format
/// version (whose layout may differ) or anything unusual, so errors are the same as `decode`'s.
pub fn decode_stamp(bytes: &[u8], origin: &str) -> Result<Stamp, StateError> {
    #[derive(serde::Deserialize)]
    struct Head {
        format_version: u32,
        lineage: String,
        serial: u64,
    }
    match serde_json::from_slice::<Head>(bytes) {
        Ok(head) if head.format_version == FORMAT_VERSION => Ok(Stamp {
            lineage: head.lineage,
            serial: head.serial,
        }),
        _ => decode(bytes, origin).map(|state| Stamp::of(&state)),
    }
}

/// Whether a state stamped `next` may replace the stored one, whose snapshot is stamped
/// `snapshot` and whose journal brings it to serial `replayed` (`snapshot.serial` when there is
/// no journal, or one for another snapshot). Every backend calls this inside its
/// compare-and-swap.
///
/// The rule: the same lineage, a serial above the snapshot's, and not below the replayed one.
/// So the state [`crate::Backend::load`] returned may be stored as it is (its serial is the
/// replayed one), and so may anything derived from it, while a copy taken before some journal
/// entries (a lower serial) is refused. With no journal this is the classic rule: the serial
/// must grow.
pub fn check_successor(snapshot: &Stamp, replayed: u64, next: &Stamp) -> Result<(), StateError> {
    if snapshot.lineage != next.lineage {
        return Err(StateError::Conflict {
            reason: format!(
                "the stored state has lineage {}, the new one {}: they are different states",
                snapshot.lineage, next.lineage
            ),
        });
    }
    let least = replayed.max(snapshot.serial.saturating_add(1));
    if next.serial < least {
        return Err(StateError::Conflict {
            reason: format!(
                "the stored state has serial {} and the new one {}: it was written from an older copy",
                replayed, next.serial
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_round_trips() {
        let mut state = State::new();
        state.serial = 7;
        let bytes = encode(&state).expect("encode");
        assert!(bytes.ends_with(b"}\n"));
        assert_eq!(decode(&bytes, "mem").expect("decode"), state);
    }

    #[test]
    fn garbage_is_corrupt_naming_the_origin() {
        for bytes in [&b"{not json"[..], b"[]", b"{\"format_version\": 1}", b""] {
            match decode(bytes, "some/path") {
                Err(StateError::Corrupt { path, .. }) => assert_eq!(path, "some/path"),
                other => unreachable!("{other:?}"),
            }
        }
    }

    #[test]
    fn newer_format_is_unsupported() {
        let bytes = format!("{{\"format_version\": {}}}", FORMAT_VERSION + 1);
        assert!(matches!(
            decode(bytes.as_bytes(), "p"),
            Err(StateError::UnsupportedVersion { found, supported: FORMAT_VERSION }) if found == FORMAT_VERSION + 1
        ));
    }

    #[test]
    fn successor_rules() {
        let stamp = |lineage: &str, serial| Stamp {
            lineage: lineage.to_string(),
            serial,
        };
        let snapshot = stamp("l", 5);
        // Without a journal: the serial must grow, gaps allowed.
        assert!(check_successor(&snapshot, 5, &stamp("l", 6)).is_ok());
        assert!(check_successor(&snapshot, 5, &stamp("l", 60)).is_ok());
        for bad in [stamp("l", 5), stamp("l", 4), stamp("other", 6)] {
            assert!(matches!(
                check_successor(&snapshot, 5, &bad),
                Err(StateError::Conflict { .. })
            ));
        }
        // With a journal of three mutations: the replayed state may be stored as it is, an
        // older copy may not.
        assert!(check_successor(&snapshot, 8, &stamp("l", 8)).is_ok());
        assert!(check_successor(&snapshot, 8, &stamp("l", 9)).is_ok());
        for bad in [
            stamp("l", 7),
            stamp("l", 6),
            stamp("l", 5),
            stamp("other", 8),
        ] {
            assert!(matches!(
                check_successor(&snapshot, 8, &bad),
                Err(StateError::Conflict { .. })
            ));
        }
    }

    #[test]
    fn stamp_without_a_full_decode() {
        let mut state = State::new();
        state.serial = 9;
        let bytes = encode(&state).expect("encode");
        assert_eq!(
            decode_stamp(&bytes, "mem").expect("stamp"),
            Stamp::of(&state)
        );
        assert!(matches!(
            decode_stamp(b"{\"lineage\": \"x\"", "p"),
            Err(StateError::Corrupt { .. })
        ));
    }
}
