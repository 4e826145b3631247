//! The state as a whole: `ss state pull | push | migrate | migrate-encryption`, and
//! `ss force-unlock`.

use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use state::{Codec, LockInfo, State, Store};

use crate::backends;
use crate::cli::{
    ForceUnlockArgs, StateMigrateArgs, StateMigrateEncryptionArgs, StatePullArgs, StatePushArgs,
};
use crate::session::{Ctx, Stored, settled_state};

/// Marks a state printed by `ss state pull` without `--out`: its sensitive values are null, so
/// `ss state push` refuses it.
const REDACTED_MARK: &str = "sensitive_values_removed";

/// The state with every sensitive value replaced by null, for printing.
fn redacted(mut state: State) -> State {
    for r in &mut state.resources {
        for name in &r.sensitive_attributes {
            if let Some(v) = r.attributes.get_mut(name) {
                *v = serde_json::Value::Null;
            }
        }
    }
    for c in &mut state.components {
        for name in &c.sensitive_attributes {
            if let Some(v) = c.config.get_mut(name) {
                *v = serde_json::Value::Null;
            }
        }
    }
    for o in state.outputs.values_mut() {
        if o.sensitive {
            o.value = serde_json::Value::Null;
        }
    }
    state
}

pub async fn pull(ctx: &Ctx, a: StatePullArgs) -> anyhow::Result<ExitCode> {
    let opened = Stored::open(ctx, &a.dir, None).await?.opened;
    let backend = opened.backend().await?;
    let state = settled_state(backend.as_ref())
        .await?
        .ok_or_else(|| anyhow!("there is no state yet ({})", backend.describe()))?;
    match &a.out {
        Some(out) => {
            let plain = state::codec::encode(&state)?;
            let bytes = opened.codec.seal(plain, &state::Stamp::of(&state))?;
            state::write_atomic(out, &bytes)
                .with_context(|| format!("writing {}", out.display()))?;
            outln!(
                "Wrote the state of workspace `{}` (serial {}, {} resources) to {}{}.",
                opened.workspace,
                state.serial,
                state.resources.len(),
                out.display(),
                if opened.codec.is_encrypted() {
                    ", encrypted"
                } else {
                    ""
                }
            );
        }
        None => {
            let mut printed = serde_json::to_value(redacted(state))?;
            if let Some(object) = printed.as_object_mut() {
                object.insert(REDACTED_MARK.to_string(), serde_json::Value::Bool(true));
            }
            outln!("{}", serde_json::to_string_pretty(&printed)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn push(ctx: &Ctx, a: StatePushArgs) -> anyhow::Result<ExitCode> {
    let opened = Stored::open(ctx, &a.dir, None).await?.opened;
    let bytes = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let origin = a.file.display().to_string();
    if serde_json::from_slice::<serde_json::Value>(&bytes)
        .is_ok_and(|raw| raw.get(REDACTED_MARK).is_some())
    {
        bail!(
            "{origin} is a printed copy whose sensitive values were removed; push a file written by `ss state pull --out FILE`"
        );
    }
    let mut pushed = opened.codec.decode(&bytes, &origin)?;
    let backend = opened.backend().await?;
    let guard = backend.lock(LockInfo::new("state push")).await?;
    if let Some(stored) = settled_state(backend.as_ref()).await? {
        follow(&mut pushed, &stored, &a)?;
        // The journal of the stored snapshot is folded into the pushed state's predecessor:
        // compacting first leaves a snapshot the write can follow.
        backend.compact(&stored).await?;
    }
    backend.write(&pushed).await?;
    guard.release().await?;
    outln!(
        "Pushed {} to workspace `{}` (serial {}).",
        a.file.display(),
        opened.workspace,
        pushed.serial
    );
    Ok(ExitCode::SUCCESS)
}

/// Makes the pushed state the successor of the stored one: with `--force` by taking over its
/// lineage and serial, else only when it already is (same lineage, newer serial).
fn follow(pushed: &mut State, stored: &State, a: &StatePushArgs) -> anyhow::Result<()> {
    if a.force {
        pushed.lineage = stored.lineage.clone();
        pushed.serial = stored.serial + 1;
    } else if pushed.lineage != stored.lineage {
        bail!(
            "{} belongs to another state (lineage {}, the stored one is {}); use --force to replace the stored state anyway",
            a.file.display(),
            pushed.lineage,
            stored.lineage
        );
    } else if pushed.serial <= stored.serial {
        bail!(
            "{} has serial {}, not newer than the stored serial {}: it would overwrite newer changes; use --force to replace them anyway",
            a.file.display(),
            pushed.serial,
            stored.serial
        );
    }
    Ok(())
}

pub async fn migrate(ctx: &Ctx, a: StateMigrateArgs) -> anyhow::Result<ExitCode> {
    let opened = Stored::open(ctx, &a.dir, None).await?.opened;
    let (target, shown) = backends::store_at(&a.to, &a.schema, opened.codec.clone()).await?;
    let names = opened.store.workspaces().await?;
    let mut copied = 0;
    for name in &names {
        if copy_workspace(opened.store.as_ref(), target.as_ref(), name).await? {
            copied += 1;
        }
    }
    outln!(
        "Copied {copied} workspace(s) from {} to {shown}. Now point `ss {{ backend … }}` at the target; the source is left as it was.",
        opened.store.describe()
    );
    Ok(ExitCode::SUCCESS)
}

/// Copies one workspace with both sides locked; false when the source holds no state.
async fn copy_workspace(from: &dyn Store, to: &dyn Store, name: &str) -> anyhow::Result<bool> {
    let source = from.backend(name).await?;
    let source_lock = source.lock(LockInfo::new("state migrate")).await?;
    let Some(state) = settled_state(source.as_ref()).await? else {
        return Ok(false);
    };
    let target = to.backend(name).await?;
    let target_lock = target.lock(LockInfo::new("state migrate")).await?;
    if let Some(existing) = target.read().await? {
        bail!(
            "workspace `{name}` already has a state at {} (serial {}); nothing was copied over it",
            target.describe(),
            existing.serial
        );
    }
    target.write(&state).await?;
    target_lock.release().await?;
    source_lock.release().await?;
    Ok(true)
}

/// The codec the state is sealed with before `migrate-encryption`: from `--old-key-env`, or
/// plain.
fn old_codec(old_key_env: Option<&str>) -> anyhow::Result<Codec> {
    match old_key_env {
        Some(var) => {
            let key = std::env::var(var).unwrap_or_default();
            if key.is_empty() {
                bail!("--old-key-env names {var}, which is not set");
            }
            backends::cipher_codec(&key)
        }
        None => Ok(Codec::plain()),
    }
}

pub async fn migrate_encryption(
    ctx: &Ctx,
    a: StateMigrateEncryptionArgs,
) -> anyhow::Result<ExitCode> {
    let stored = Stored::open(ctx, &a.dir, None).await?;
    let old = old_codec(a.old_key_env.as_deref())?;
    let old_store = stored.with_codec(old).await?;
    let opened = stored.opened;
    let old_backend = old_store.backend(&opened.workspace).await?;
    let guard = old_backend
        .lock(LockInfo::new("state migrate-encryption"))
        .await?;
    let state = settled_state(old_backend.as_ref())
        .await?
        .ok_or_else(|| anyhow!("there is no state yet ({})", old_backend.describe()))?;
    // Fold the journal (sealed under the old key) first, then write the successor with the new
    // key: afterwards nothing stored needs the old key.
    old_backend.compact(&state).await?;
    let mut next = state;
    next.serial += 1;
    opened
        .store
        .backend(&opened.workspace)
        .await?
        .write(&next)
        .await?;
    guard.release().await?;
    outln!(
        "Rewrote the state of workspace `{}` (serial {}) {}.",
        opened.workspace,
        next.serial,
        if opened.codec.is_encrypted() {
            "encrypted with the current key"
        } else {
            "in plaintext (no key is set)"
        }
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn force_unlock(ctx: &Ctx, a: ForceUnlockArgs) -> anyhow::Result<ExitCode> {
    let opened = Stored::open(ctx, &a.dir, None).await?.opened;
    let backend = opened.backend().await?;
    let holder = backend.lock_holder().await?;
    backend.force_unlock(&a.id).await?;
    match holder {
        Some(h) => outln!(
            "Released the lock {} held by {}@{} (pid {}) running `{}` since {}.",
            h.id,
            h.user,
            h.host,
            h.pid,
            h.operation,
            h.created
        ),
        None => outln!("Released the lock {}.", a.id),
    }
    Ok(ExitCode::SUCCESS)
}
