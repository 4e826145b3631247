//! State format versions. A stored state is upgraded one version at a time, each step a pure
//! function on the JSON document, so that every old format keeps a single, tested path to the
//! current one. Only version 1 exists today; the next format adds its step to `STEPS`.

use serde_json::{Map, Value};

use crate::model::FORMAT_VERSION;

/// A state document as stored: the top-level JSON object.
pub type Document = Map<String, Value>;

/// Upgrades a document of version N to version N + 1, or says why it cannot.
type Step = fn(Document) -> Result<Document, String>;

/// `STEPS[i]` upgrades version `i + 1` to version `i + 2`. The length is tied to
/// [`FORMAT_VERSION`], so raising the version without writing its step does not compile.
const STEPS: [Step; FORMAT_VERSION as usize - 1] = [];

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum UpgradeError {
    #[error("`format_version` is missing or is not a positive integer")]
    NoVersion,
    #[error("format version {found} is newer than the supported version {FORMAT_VERSION}")]
    TooNew { found: u32 },
    #[error("cannot upgrade from format version {from}: {reason}")]
    Step { from: u32, reason: String },
}

/// The document's format version.
pub fn version_of(doc: &Document) -> Result<u32, UpgradeError> {
    doc.get("format_version")
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
        .filter(|v| *v >= 1)
        .ok_or(UpgradeError::NoVersion)
}

/// Brings `doc` to [`FORMAT_VERSION`], one step at a time. A document from a newer ss is refused:
/// reading it would silently drop what this version does not know.
pub fn upgrade(mut doc: Document) -> Result<Document, UpgradeError> {
    let found = version_of(&doc)?;
    if found > FORMAT_VERSION {
        return Err(UpgradeError::TooNew { found });
    }
    for (from, step) in (found..).zip(&STEPS[found as usize - 1..]) {
        doc = step(doc).map_err(|reason| UpgradeError::Step { from, reason })?;
        doc.insert("format_version".to_string(), Value::from(from + 1));
        tracing::debug!(from, to = from + 1, "upgraded state format");
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(v: Value) -> Document {
        match v {
            Value::Object(map) => map,
            other => Document::from_iter([("not_an_object".to_string(), other)]),
        }
    }

    #[test]
    fn current_version_is_unchanged() {
        let input = doc(serde_json::json!({"format_version": FORMAT_VERSION, "serial": 3}));
        assert_eq!(upgrade(input.clone()), Ok(input));
    }

    #[test]
    fn newer_version_is_refused() {
        let input = doc(serde_json::json!({"format_version": FORMAT_VERSION + 1}));
        assert_eq!(
            upgrade(input),
            Err(UpgradeError::TooNew {
                found: FORMAT_VERSION + 1
            })
        );
    }

    #[test]
    fn missing_or_invalid_version_is_refused() {
        for input in [
            serde_json::json!({}),
            serde_json::json!({"format_version": 0}),
            serde_json::json!({"format_version": "1"}),
            serde_json::json!({"format_version": -1}),
            serde_json::json!({"format_version": 5_000_000_000u64}),
        ] {
            assert_eq!(
                upgrade(doc(input.clone())),
                Err(UpgradeError::NoVersion),
                "{input}"
            );
        }
    }
}
