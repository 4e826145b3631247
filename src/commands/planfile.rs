//! Saved plan files: written by `ss plan --out`, read by `ss apply FILE` and `ss show FILE`;
//! sealed like the state when the state is encrypted.

use std::path::Path;

use anyhow::{Context, bail};
use planner::plan::{PLAN_FORMAT_VERSION, Plan};
use planner::spec;
use state::Codec;

use crate::backends;
use crate::session::hcl_files;

/// Saves a plan (0600; sealed when the state is encrypted, since a plan holds the same
/// secrets).
pub fn save(path: &Path, plan: &Plan, codec: &Codec) -> anyhow::Result<()> {
    let bytes = codec.seal_blob("plan", serde_json::to_vec(plan)?)?;
    state::write_atomic(path, &bytes)
        .with_context(|| format!("writing plan file {}", path.display()))
}

/// The key to open a sealed plan with: the one the spec in the current directory names, else
/// `SS_STATE_KEY`.
fn codec(path: &Path) -> anyhow::Result<Codec> {
    let here = Path::new(".");
    let config = if hcl_files(here).map(|f| !f.is_empty()).unwrap_or(false) {
        spec::load_dir(here).ok()
    } else {
        None
    };
    let codec = backends::codec_for(config.as_ref())?;
    if !codec.is_encrypted() {
        bail!(
            "the plan file {} is encrypted; set {} to the passphrase it was saved with",
            path.display(),
            backends::KEY_ENV
        );
    }
    Ok(codec)
}

/// Reads a saved plan, opening it with the key from the environment (`SS_STATE_KEY`, or the
/// variable the plan's spec names) when it is sealed.
pub fn read(path: &Path) -> anyhow::Result<Plan> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading plan file {}", path.display()))?;
    let bytes = if state::crypto::is_sealed(&bytes) {
        codec(path)?.open_blob("plan", &bytes, &path.display().to_string())?
    } else {
        bytes
    };
    let raw: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a saved ss plan", path.display()))?;
    let version = raw
        .get("format_version")
        .and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(PLAN_FORMAT_VERSION)) {
        bail!(
            "{} has plan format version {:?}; this ss reads version {PLAN_FORMAT_VERSION}: run `ss plan` again",
            path.display(),
            version
        );
    }
    serde_json::from_value(raw)
        .with_context(|| format!("{} is not a valid ss plan", path.display()))
}
