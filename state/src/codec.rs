//! The stored form of a state: pretty JSON, versioned. Every backend stores these bytes, so a
//! state moves between backends unchanged and all of them share one upgrade path.

use serde_json::Value;

use crate::error::StateError;
use crate::journal::{JournalEntry, Stamp};
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

/// Checks that journal entries written against `base` apply to the stored snapshot `stored`:
/// entries for another snapshot would be ignored on load, so they are refused up front.
pub fn check_base(stored: &Stamp, base: &Stamp) -> Result<(), StateError> {
    if stored == base {
        return Ok(());
    }
    Err(StateError::Conflict {
        reason: format!(
            "the changes are for serial {} of lineage {}, but the stored snapshot is serial {} \
             of lineage {}: it was replaced since",
            base.serial, base.lineage, stored.serial, stored.lineage
        ),
    })
}

/// How one backend stores states and journal entries: the plain encodings above, or, with a
/// [`crate::crypto::Cipher`], the same bytes sealed (see [`crate::crypto`]). Every backend
/// stores and loads through one of these, so encryption is the same everywhere and plaintext
/// never reaches storage when a key is set.
#[derive(Clone, Default)]
pub struct Codec {
    cipher: Option<std::sync::Arc<crate::crypto::Cipher>>,
}

impl Codec {
    /// Stores plain JSON; reads plain JSON only (an encrypted state asks for its key).
    pub fn plain() -> Codec {
        Codec { cipher: None }
    }

    /// Seals everything it stores with `cipher`; reads sealed data, and plain data too (a state
    /// written before encryption was turned on is encrypted at its next write).
    pub fn encrypted(cipher: std::sync::Arc<crate::crypto::Cipher>) -> Codec {
        Codec {
            cipher: Some(cipher),
        }
    }

    pub fn is_encrypted(&self) -> bool {
        self.cipher.is_some()
    }

    /// The bytes to store for `state`.
    pub fn encode(&self, state: &State) -> Result<Vec<u8>, StateError> {
        let plain = encode(state)?;
        match &self.cipher {
            None => Ok(plain),
            Some(cipher) => cipher.seal_state(&plain, &Stamp::of(state)),
        }
    }

    /// The bytes to store for a state already encoded with [`encode`] (stamped `stamp`).
    pub fn seal(&self, plain: Vec<u8>, stamp: &Stamp) -> Result<Vec<u8>, StateError> {
        match &self.cipher {
            None => Ok(plain),
            Some(cipher) => cipher.seal_state(&plain, stamp),
        }
    }

    /// The plain encoding of stored bytes: opened when sealed, as they are otherwise. Sealing
    /// is not deterministic (a fresh nonce each time), so "is this the stored state" compares
    /// these.
    pub fn opened<'a>(
        &self,
        bytes: &'a [u8],
        origin: &str,
    ) -> Result<std::borrow::Cow<'a, [u8]>, StateError> {
        match crate::crypto::sealed_stamp(bytes) {
            None => Ok(std::borrow::Cow::Borrowed(bytes)),
            Some(_) => Ok(std::borrow::Cow::Owned(
                self.cipher(origin)?.open_state(bytes, origin)?,
            )),
        }
    }

    /// The bytes to store for another document (a saved plan) of `kind`: sealed with a key,
    /// as they are without.
    pub fn seal_blob(&self, kind: &str, plain: Vec<u8>) -> Result<Vec<u8>, StateError> {
        match &self.cipher {
            None => Ok(plain),
            Some(cipher) => cipher.seal_blob(kind, &plain),
        }
    }

    /// Opens a document stored by [`Codec::seal_blob`] (plain bytes pass through).
    pub fn open_blob(&self, kind: &str, bytes: &[u8], origin: &str) -> Result<Vec<u8>, StateError> {
        if !crate::crypto::is_sealed(bytes) {
            return Ok(bytes.to_vec());
        }
        self.cipher(origin)?.open_blob(kind, bytes, origin)
    }

    /// Parses stored bytes (sealed or plain) into a state of the current format version.
    pub fn decode(&self, bytes: &[u8], origin: &str) -> Result<State, StateError> {
        match crate::crypto::sealed_stamp(bytes) {
            None => decode(bytes, origin),
            Some(_) => {
                let plain = self.cipher(origin)?.open_state(bytes, origin)?;
                decode(&plain, origin)
            }
        }
    }

    /// The stamp of stored bytes. Sealed bytes carry their stamp in clear (authenticated, not
    /// secret), so this never needs the key.
    pub fn decode_stamp(&self, bytes: &[u8], origin: &str) -> Result<Stamp, StateError> {
        match crate::crypto::sealed_stamp(bytes) {
            Some(stamp) => stamp.map_err(|reason| StateError::Corrupt {
                path: origin.to_string(),
                reason,
            }),
            None => decode_stamp(bytes, origin),
        }
    }

    /// The journal lines for `entries` ([`crate::journal::encode_entries`]), each line sealed
    /// on its own when encrypting so that a torn last line stays detectable.
    pub fn encode_entries(&self, entries: &[JournalEntry]) -> Result<Vec<u8>, StateError> {
        let plain = crate::journal::encode_entries(entries)?;
        match &self.cipher {
            None => Ok(plain),
            Some(cipher) => cipher.seal_lines(&plain),
        }
    }

    /// The entries of a journal body and the length of its valid prefix
    /// ([`crate::journal::decode_entries`]), sealed lines opened first.
    pub fn decode_entries(
        &self,
        bytes: &[u8],
        origin: &str,
    ) -> Result<(Vec<JournalEntry>, usize), StateError> {
        if !crate::crypto::has_sealed_lines(bytes) {
            return crate::journal::decode_entries(bytes, origin);
        }
        let (plain, valid) = self.cipher(origin)?.open_lines(bytes, origin)?;
        let (entries, _) = crate::journal::decode_entries(&plain, origin)?;
        Ok((entries, valid))
    }

    /// How many entries of a journal body change the state
    /// ([`crate::journal::count_mutations`]).
    pub fn count_mutations(&self, bytes: &[u8], origin: &str) -> Result<u64, StateError> {
        if !crate::crypto::has_sealed_lines(bytes) {
            return crate::journal::count_mutations(bytes, origin);
        }
        let (plain, _) = self.cipher(origin)?.open_lines(bytes, origin)?;
        crate::journal::count_mutations(&plain, origin)
    }

    fn cipher(&self, origin: &str) -> Result<&crate::crypto::Cipher, StateError> {
        self.cipher.as_deref().ok_or_else(|| StateError::Decrypt {
            path: origin.to_string(),
            reason: "it is encrypted and no key is set (set SS_STATE_KEY, or the variable named by `ss { encryption { key_env = \"…\" } }`)".to_string(),
        })
    }
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
