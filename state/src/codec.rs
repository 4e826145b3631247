//! The stored form of a state: pretty JSON, versioned. Every backend stores these bytes, so a
//! state moves between backends unchanged and all of them share one upgrade path.

use serde_json::Value;

use crate::error::StateError;
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

/// Which state (lineage) and which write of it (serial) some stored copy is. Backends that keep
/// these beside the document (a database row, object metadata) can check a write without
/// decoding the stored state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp<'a> {
    pub lineage: &'a str,
    pub serial: u64,
}

impl<'a> Stamp<'a> {
    pub fn of(state: &'a State) -> Stamp<'a> {
        Stamp {
            lineage: &state.lineage,
            serial: state.serial,
        }
    }
}

/// Whether `next` may replace `stored`: same lineage, higher serial. Every backend calls this
/// inside its compare-and-swap.
pub fn check_successor(stored: Stamp<'_>, next: Stamp<'_>) -> Result<(), StateError> {
    if stored.lineage != next.lineage {
        return Err(StateError::Conflict {
            reason: format!(
                "the stored state has lineage {}, the new one {}: they are different states",
                stored.lineage, next.lineage
            ),
        });
    }
    if next.serial <= stored.serial {
        return Err(StateError::Conflict {
            reason: format!(
                "the stored state has serial {} and the new one {}: it was written from an older copy",
                stored.serial, next.serial
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
        let stored = State {
            serial: 5,
            ..State::new()
        };
        let next = |lineage: &str, serial| State {
            lineage: lineage.to_string(),
            serial,
            ..stored.clone()
        };
        assert!(check_successor(Stamp::of(&stored), Stamp::of(&next(&stored.lineage, 6))).is_ok());
        assert!(check_successor(Stamp::of(&stored), Stamp::of(&next(&stored.lineage, 60))).is_ok());
        for bad in [
            next(&stored.lineage, 5),
            next(&stored.lineage, 4),
            next("other", 6),
        ] {
            assert!(matches!(
                check_successor(Stamp::of(&stored), Stamp::of(&bad)),
                Err(StateError::Conflict { .. })
            ));
        }
    }
}
