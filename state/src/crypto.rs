//! Encryption at rest: states, journal entries and saved plans sealed with AES-256-GCM under a
//! key derived from a passphrase with Argon2id.
//!
//! # Formats
//! A sealed document (a state snapshot or a saved plan) is one line of JSON:
//! `{"ss_encrypted":1,"kind":"state","lineage":…,"serial":…,"salt":…,"check":…,"nonce":…,"data":…}`
//! (binary fields in unpadded base64). The stamp (lineage, serial) stays readable so that a
//! backend can check a write against the stored state without the key; it is bound to the
//! ciphertext as associated data, so it cannot be altered without detection. It is not secret.
//!
//! A sealed journal line is `ssenc1:<salt>:<check>:<nonce>:<data>` followed by a newline: one
//! per entry, so a line torn by a crash is still recognised (and left out) as with plain
//! journals.
//!
//! `salt` is the Argon2id salt the key was derived with (one random salt per process, so the
//! costly derivation runs once per process and salt); `check` is a short value derived from
//! the key that tells a wrong key ("wrong key") apart from damaged data ("corrupt").

use std::collections::HashMap;
use std::sync::Mutex;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::StateError;
use crate::journal::Stamp;

const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const LINE_PREFIX: &[u8] = b"ssenc1:";
const DOC_PREFIX: &[u8] = b"{\"ss_encrypted\":";

/// A passphrase, and the keys derived from it so far (one per salt). The passphrase itself is
/// never shown: `Debug` prints nothing of it.
pub struct Cipher {
    passphrase: Vec<u8>,
    /// The salt this process seals with.
    salt: [u8; SALT_LEN],
    keys: Mutex<HashMap<[u8; SALT_LEN], DerivedKey>>,
}

#[derive(Clone)]
struct DerivedKey {
    key: [u8; 32],
    check: [u8; 8],
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

/// The envelope of a sealed document.
#[derive(Serialize, Deserialize)]
struct Envelope {
    ss_encrypted: u32,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lineage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    serial: Option<u64>,
    salt: String,
    check: String,
    nonce: String,
    data: String,
}

impl Cipher {
    /// A cipher for `passphrase`, which must not be empty.
    pub fn from_passphrase(passphrase: &str) -> Result<Cipher, StateError> {
        if passphrase.is_empty() {
            return Err(StateError::Decrypt {
                path: "the encryption key".to_string(),
                reason: "the passphrase is empty".to_string(),
            });
        }
        let mut salt = [0u8; SALT_LEN];
        rand::fill(&mut salt);
        Ok(Cipher {
            passphrase: passphrase.as_bytes().to_vec(),
            salt,
            keys: Mutex::new(HashMap::new()),
        })
    }

    /// The key for `salt`, derived once and then cached.
    fn derived(&self, salt: &[u8; SALT_LEN]) -> Result<DerivedKey, StateError> {
        let mut keys = match self.keys.lock() {
            Ok(keys) => keys,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(k) = keys.get(salt) {
            return Ok(k.clone());
        }
        let mut key = [0u8; 32];
        argon2::Argon2::default()
            .hash_password_into(&self.passphrase, salt, &mut key)
            .map_err(|e| StateError::Encode {
                reason: format!("key derivation: {e}"),
            })?;
        let digest = Sha256::new()
            .chain_update(b"ss key check v1")
            .chain_update(key)
            .finalize();
        let mut check = [0u8; 8];
        check.copy_from_slice(&digest[..8]);
        let derived = DerivedKey { key, check };
        keys.insert(*salt, derived.clone());
        Ok(derived)
    }

    fn seal_raw(&self, plain: &[u8], aad: &[u8]) -> Result<Sealed, StateError> {
        let derived = self.derived(&self.salt)?;
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&derived.key));
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let data = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
            .map_err(|_| StateError::Encode {
                reason: "encryption failed".to_string(),
            })?;
        Ok(Sealed {
            salt: B64.encode(self.salt),
            check: B64.encode(derived.check),
            nonce: B64.encode(nonce),
            data: B64.encode(data),
        })
    }

    fn open_raw(&self, sealed: &Sealed, aad: &[u8], origin: &str) -> Result<Vec<u8>, StateError> {
        let corrupt = |what: &str| StateError::Corrupt {
            path: origin.to_string(),
            reason: format!("encrypted data: {what}"),
        };
        let salt: [u8; SALT_LEN] = decode_fixed(&sealed.salt).ok_or_else(|| corrupt("bad salt"))?;
        let check: [u8; 8] = decode_fixed(&sealed.check).ok_or_else(|| corrupt("bad check"))?;
        let nonce: [u8; NONCE_LEN] =
            decode_fixed(&sealed.nonce).ok_or_else(|| corrupt("bad nonce"))?;
        let data = B64
            .decode(sealed.data.as_bytes())
            .map_err(|_| corrupt("bad data"))?;
        let derived = self.derived(&salt)?;
        if derived.check != check {
            return Err(StateError::Decrypt {
                path: origin.to_string(),
                reason: "wrong key: it was encrypted with another passphrase".to_string(),
            });
        }
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&derived.key));
        cipher
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: &data, aad })
            .map_err(|_| corrupt("authentication failed (damaged or altered)"))
    }

    /// Seals an encoded state stamped `stamp`.
    pub fn seal_state(&self, plain: &[u8], stamp: &Stamp) -> Result<Vec<u8>, StateError> {
        self.seal_doc("state", Some(stamp), plain)
    }

    /// Opens a sealed state (as [`sealed_stamp`] recognised it).
    pub fn open_state(&self, bytes: &[u8], origin: &str) -> Result<Vec<u8>, StateError> {
        self.open_doc("state", bytes, origin)
    }

    /// Seals any other document (a saved plan).
    pub fn seal_blob(&self, kind: &str, plain: &[u8]) -> Result<Vec<u8>, StateError> {
        self.seal_doc(kind, None, plain)
    }

    /// Opens a document sealed by [`Cipher::seal_blob`] with the same `kind`.
    pub fn open_blob(&self, kind: &str, bytes: &[u8], origin: &str) -> Result<Vec<u8>, StateError> {
        self.open_doc(kind, bytes, origin)
    }

    fn seal_doc(
        &self,
        kind: &str,
        stamp: Option<&Stamp>,
        plain: &[u8],
    ) -> Result<Vec<u8>, StateError> {
        let aad = doc_aad(
            kind,
            stamp.map(|s| s.lineage.as_str()),
            stamp.map(|s| s.serial),
        );
        let sealed = self.seal_raw(plain, &aad)?;
        let envelope = Envelope {
            ss_encrypted: 1,
            kind: kind.to_string(),
            lineage: stamp.map(|s| s.lineage.clone()),
            serial: stamp.map(|s| s.serial),
            salt: sealed.salt,
            check: sealed.check,
            nonce: sealed.nonce,
            data: sealed.data,
        };
        let mut bytes = serde_json::to_vec(&envelope).map_err(|e| StateError::Encode {
            reason: e.to_string(),
        })?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    fn open_doc(&self, kind: &str, bytes: &[u8], origin: &str) -> Result<Vec<u8>, StateError> {
        let envelope: Envelope =
            serde_json::from_slice(bytes).map_err(|e| StateError::Corrupt {
                path: origin.to_string(),
                reason: format!("encrypted envelope: {e}"),
            })?;
        if envelope.ss_encrypted != 1 || envelope.kind != kind {
            return Err(StateError::Corrupt {
                path: origin.to_string(),
                reason: format!(
                    "expected an encrypted {kind} (version 1), found an encrypted {} (version {})",
                    envelope.kind, envelope.ss_encrypted
                ),
            });
        }
        let aad = doc_aad(kind, envelope.lineage.as_deref(), envelope.serial);
        let sealed = Sealed {
            salt: envelope.salt,
            check: envelope.check,
            nonce: envelope.nonce,
            data: envelope.data,
        };
        self.open_raw(&sealed, &aad, origin)
    }

    /// Seals each line of `plain` (lines ending with a newline) on its own.
    pub fn seal_lines(&self, plain: &[u8]) -> Result<Vec<u8>, StateError> {
        let mut out = Vec::with_capacity(plain.len() * 2);
        for line in plain.split_inclusive(|b| *b == b'\n') {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            let sealed = self.seal_raw(body, LINE_AAD)?;
            out.extend_from_slice(LINE_PREFIX);
            for (i, part) in [&sealed.salt, &sealed.check, &sealed.nonce, &sealed.data]
                .into_iter()
                .enumerate()
            {
                if i > 0 {
                    out.push(b':');
                }
                out.extend_from_slice(part.as_bytes());
            }
            out.push(b'\n');
        }
        Ok(out)
    }

    /// Opens sealed lines: the plain lines, and the length of the prefix of `bytes` made of
    /// whole lines that opened. A last line that is torn (no newline, or damaged) is left out,
    /// like a torn plain line; a damaged line before the last is [`StateError::Corrupt`], and a
    /// line sealed under another passphrase is [`StateError::Decrypt`].
    pub fn open_lines(&self, bytes: &[u8], origin: &str) -> Result<(Vec<u8>, usize), StateError> {
        let mut plain = Vec::with_capacity(bytes.len());
        let mut valid = 0;
        let mut rest = bytes;
        let mut number = 0usize;
        while !rest.is_empty() {
            number += 1;
            let Some(end) = rest.iter().position(|b| *b == b'\n') else {
                break;
            };
            let line = &rest[..end];
            let is_last = end + 1 == rest.len();
            match self.open_line(line, origin) {
                Ok(body) => {
                    plain.extend_from_slice(&body);
                    plain.push(b'\n');
                }
                Err(e @ StateError::Decrypt { .. }) => return Err(e),
                Err(_) if is_last => break,
                Err(e) => {
                    return Err(StateError::Corrupt {
                        path: origin.to_string(),
                        reason: format!("journal entry {number}: {e}"),
                    });
                }
            }
            valid += end + 1;
            rest = &rest[end + 1..];
        }
        Ok((plain, valid))
    }

    fn open_line(&self, line: &[u8], origin: &str) -> Result<Vec<u8>, StateError> {
        let corrupt = || StateError::Corrupt {
            path: origin.to_string(),
            reason: "not an encrypted journal line".to_string(),
        };
        let text = std::str::from_utf8(line).map_err(|_| corrupt())?;
        let rest = text.strip_prefix("ssenc1:").ok_or_else(corrupt)?;
        let mut parts = rest.split(':');
        let (Some(salt), Some(check), Some(nonce), Some(data), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(corrupt());
        };
        let sealed = Sealed {
            salt: salt.to_string(),
            check: check.to_string(),
            nonce: nonce.to_string(),
            data: data.to_string(),
        };
        self.open_raw(&sealed, LINE_AAD, origin)
    }
}

const LINE_AAD: &[u8] = b"ss journal entry v1";

struct Sealed {
    salt: String,
    check: String,
    nonce: String,
    data: String,
}

fn doc_aad(kind: &str, lineage: Option<&str>, serial: Option<u64>) -> Vec<u8> {
    format!(
        "ss sealed v1\n{kind}\n{}\n{}",
        lineage.unwrap_or(""),
        serial.map(|s| s.to_string()).unwrap_or_default()
    )
    .into_bytes()
}

fn decode_fixed<const N: usize>(text: &str) -> Option<[u8; N]> {
    B64.decode(text.as_bytes()).ok()?.try_into().ok()
}

/// Whether `bytes` are a sealed document (state or plan).
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(DOC_PREFIX)
}

/// For sealed state bytes, their stamp (read without the key); `None` for plain bytes.
pub fn sealed_stamp(bytes: &[u8]) -> Option<Result<Stamp, String>> {
    if !is_sealed(bytes) {
        return None;
    }
    #[derive(Deserialize)]
    struct Head {
        kind: String,
        lineage: Option<String>,
        serial: Option<u64>,
    }
    Some(match serde_json::from_slice::<Head>(bytes) {
        Ok(Head {
            kind,
            lineage: Some(lineage),
            serial: Some(serial),
        }) if kind == "state" => Ok(Stamp { lineage, serial }),
        Ok(head) => Err(format!("an encrypted {} is not a state", head.kind)),
        Err(e) => Err(format!("encrypted envelope: {e}")),
    })
}

/// Whether a journal body (after its header) holds sealed lines.
pub fn has_sealed_lines(bytes: &[u8]) -> bool {
    bytes.starts_with(LINE_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            lineage: "lin".into(),
            serial: 4,
        }
    }

    #[test]
    fn state_round_trip_hides_the_plaintext() {
        let cipher = Cipher::from_passphrase("correct horse").expect("cipher");
        let plain = br#"{"password":"hunter2","name":"meta"}"#;
        let sealed = cipher.seal_state(plain, &stamp()).expect("seal");
        let text = String::from_utf8_lossy(&sealed);
        assert!(
            !text.contains("hunter2") && !text.contains("meta"),
            "{text}"
        );
        assert_eq!(
            sealed_stamp(&sealed).expect("sealed").expect("stamp"),
            stamp()
        );
        assert_eq!(cipher.open_state(&sealed, "s").expect("open"), plain);
        // Another process (another salt) with the same passphrase opens it too.
        let other = Cipher::from_passphrase("correct horse").expect("cipher");
        assert_eq!(other.open_state(&sealed, "s").expect("open"), plain);
    }

    #[test]
    fn wrong_key_and_tampering_are_told_apart() {
        let cipher = Cipher::from_passphrase("one").expect("cipher");
        let sealed = cipher.seal_state(b"{}", &stamp()).expect("seal");
        let wrong = Cipher::from_passphrase("two").expect("cipher");
        let err = wrong.open_state(&sealed, "s").expect_err("wrong key");
        assert!(matches!(err, StateError::Decrypt { .. }), "{err}");
        assert!(err.to_string().contains("wrong key"), "{err}");
        // Changing the clear stamp breaks authentication.
        let tampered = String::from_utf8(sealed)
            .expect("utf8")
            .replace("\"serial\":4", "\"serial\":5");
        let err = cipher
            .open_state(tampered.as_bytes(), "s")
            .expect_err("tampered");
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn lines_round_trip_and_a_torn_last_line_is_left_out() {
        let cipher = Cipher::from_passphrase("k").expect("cipher");
        let sealed = cipher.seal_lines(b"{\"a\":1}\n{\"b\":2}\n").expect("seal");
        assert!(has_sealed_lines(&sealed));
        let (plain, valid) = cipher.open_lines(&sealed, "j").expect("open");
        assert_eq!(plain, b"{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(valid, sealed.len());
        let torn = &sealed[..sealed.len() - 5];
        let (plain, valid) = cipher.open_lines(torn, "j").expect("open torn");
        assert_eq!(plain, b"{\"a\":1}\n");
        assert!(valid < torn.len());
        let wrong = Cipher::from_passphrase("other").expect("cipher");
        assert!(matches!(
            wrong.open_lines(&sealed, "j"),
            Err(StateError::Decrypt { .. })
        ));
    }

    #[test]
    fn blobs_check_their_kind() {
        let cipher = Cipher::from_passphrase("k").expect("cipher");
        let sealed = cipher.seal_blob("plan", b"secret plan").expect("seal");
        assert!(is_sealed(&sealed));
        assert!(sealed_stamp(&sealed).expect("sealed").is_err());
        assert_eq!(
            cipher.open_blob("plan", &sealed, "p").expect("open"),
            b"secret plan"
        );
        assert!(cipher.open_blob("state", &sealed, "p").is_err());
        assert!(Cipher::from_passphrase("").is_err());
    }
}
