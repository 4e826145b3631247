//! The commands for shared and long-lived state: workspaces, import, force-unlock, and
//! `ss state pull | push | migrate | migrate-encryption`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use planner::Engine;
use planner::addr::NativeAddr;
use state::{Backend, Codec, LockInfo, ResourceRecord, State, Store};

use crate::backends;
use crate::cli::{
    ForceUnlockArgs, ImportArgs, StateMigrateArgs, StateMigrateEncryptionArgs, StatePullArgs,
    StatePushArgs, WorkspaceCommand,
};
use crate::commands::{open_state, workspace_flag};
use crate::registry::Registry;

macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

pub async fn workspace_cmd(w: WorkspaceCommand) -> anyhow::Result<ExitCode> {
    match w {
        WorkspaceCommand::List(a) => {
            let opened = open_state(&a.dir, None).await?;
            let names = opened.store.workspaces().await?;
            if a.json {
                outln!("{}", serde_json::to_string_pretty(&names)?);
            } else {
                for name in names {
                    let mark = if name == opened.workspace { "*" } else { " " };
                    outln!("{mark} {name}");
                }
            }
        }
        WorkspaceCommand::Show(a) => {
            outln!(
                "{}",
                backends::selected_workspace(&a.dir, workspace_flag())?
            );
        }
        WorkspaceCommand::New(a) => {
            state::workspace::check_name(&a.name)?;
            let opened = open_state(&a.dir, None).await?;
            let backend = opened.store.backend(&a.name).await?;
            let guard = backend.lock(LockInfo::new("workspace new")).await?;
            if backend.read().await?.is_some() {
                bail!(
                    "workspace `{}` already exists in {}",
                    a.name,
                    opened.store.describe()
                );
            }
            backend.write(&State::new()).await?;
            guard.release().await?;
            outln!(
                "Created workspace `{}` in {}. Use it with --workspace {} or `ss workspace select {}`.",
                a.name,
                opened.store.describe(),
                a.name,
                a.name
            );
        }
        WorkspaceCommand::Select(a) => {
            state::workspace::check_name(&a.name)?;
            let opened = open_state(&a.dir, None).await?;
            let names = opened.store.workspaces().await?;
            if !names.contains(&a.name) {
                bail!(
                    "workspace `{}` does not exist (existing: {}); create it with `ss workspace new {}`",
                    a.name,
                    names.join(", "),
                    a.name
                );
            }
            backends::remember_workspace(&a.dir, &a.name)?;
            outln!("Switched to workspace `{}`.", a.name);
        }
        WorkspaceCommand::Delete(a) => {
            state::workspace::check_name(&a.name)?;
            if a.name == state::workspace::DEFAULT {
                bail!("the default workspace cannot be deleted");
            }
            let opened = open_state(&a.dir, None).await?;
            if !opened.store.workspaces().await?.contains(&a.name) {
                bail!("workspace `{}` does not exist", a.name);
            }
            let backend = opened.store.backend(&a.name).await?;
            let guard = backend.lock(LockInfo::new("workspace delete")).await?;
            if let Some(loaded) = backend.load().await? {
                let held = loaded.state.resources.len() + loaded.pending.len();
                if held > 0 {
                    bail!(
                        "workspace `{}` still records {held} resource(s); destroy them first: ss destroy --workspace {} --auto-approve",
                        a.name,
                        a.name
                    );
                }
            }
            opened.store.delete_workspace(&a.name).await?;
            drop(guard);
            if backends::selected_workspace(&a.dir, None)? == a.name {
                backends::remember_workspace(&a.dir, state::workspace::DEFAULT)?;
            }
            outln!("Deleted workspace `{}`.", a.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn force_unlock_cmd(a: ForceUnlockArgs) -> anyhow::Result<ExitCode> {
    let opened = open_state(&a.dir, None).await?;
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

pub async fn import_cmd(a: ImportArgs, color: bool) -> anyhow::Result<ExitCode> {
    let addr: NativeAddr = a
        .address
        .parse()
        .map_err(|e| anyhow!("invalid address `{}`: {e}", a.address))?;
    let config = match planner::spec::load_dir(&a.dir) {
        Ok(c) => c,
        Err(e) => {
            crate::report::print_diagnostics(&e.diagnostics, &e.sources, color);
            bail!("could not load {}", a.dir.display());
        }
    };
    let vars = planner::spec::resolve_variables(&config, &crate::commands::var_inputs(&a.vars))
        .map_err(|d| {
            crate::report::print_diagnostics(&d, &config.sources, color);
            anyhow!("could not resolve variables")
        })?;
    let opened = backends::open(Some(&config), &a.dir, None, workspace_flag()).await?;
    let sources = config.sources.clone();
    let engine = Engine::new(config, vars, &Registry, &opened.workspace, &BTreeSet::new())
        .map_err(|d| {
            crate::report::print_diagnostics(&d, &sources, color);
            anyhow!("could not prepare the providers")
        })?;
    let component = &addr.component;
    let block = engine
        .block(&component.type_name, &component.name)
        .ok_or_else(|| {
            anyhow!(
                "the spec declares no resource `{}`: add its block before importing into it",
                component.block()
            )
        })?;
    if (block.count.is_some() || block.for_each.is_some()) != component.key.is_some() {
        bail!(
            "`{}` {} count or for_each: the address must {} an instance key",
            component.block(),
            if component.key.is_some() {
                "has no"
            } else {
                "uses"
            },
            if component.key.is_some() {
                "not have"
            } else {
                "have"
            }
        );
    }
    let provider_name = engine
        .graph
        .block_provider
        .get(&(component.type_name.clone(), component.name.clone()))
        .cloned()
        .ok_or_else(|| anyhow!("no provider serves `{}`", component.block()))?;
    let type_name = match &addr.native {
        Some((t, _)) => t.clone(),
        None => component.type_name.clone(),
    };
    if engine.native_schema(&provider_name, &type_name).is_none() {
        bail!(
            "provider `{provider_name}` has no resource type `{type_name}`; import a native resource of the component, such as `{}.<native type>.<name>` (see `ss state list` of a stack that has one)",
            component
        );
    }
    let provider = engine
        .provider(&provider_name)
        .ok_or_else(|| anyhow!("provider `{provider_name}` is not configured"))?;

    let backend = opened.backend().await?;
    let guard = backend.lock(LockInfo::new("import")).await?;
    let mut state = match backend.load().await? {
        Some(loaded) if !loaded.pending.is_empty() => bail!(
            "an interrupted apply left {} operation(s) unresolved: run `ss apply` first, which settles them",
            loaded.pending.len()
        ),
        Some(loaded) => loaded.state,
        None if opened.workspace == state::workspace::DEFAULT => State::new(),
        None => bail!(
            "workspace `{}` does not exist; create it with `ss workspace new {}`",
            opened.workspace,
            opened.workspace
        ),
    };
    let address = addr.to_string();
    if let Some(existing) = state.resource(&address) {
        bail!(
            "`{address}` is already managed (cloud id {}); `ss state rm {address}` first to import another object there",
            existing.id
        );
    }
    if let Some(other) = state
        .resources
        .iter()
        .find(|r| r.id == a.id && r.provider == provider_name)
    {
        bail!(
            "the object {} is already managed at `{}`",
            a.id,
            other.address
        );
    }
    let object = provider
        .import(&type_name, &a.id)
        .await
        .map_err(|e| anyhow!("cannot import {} {}: {e}", type_name, a.id))?;
    let mut record = ResourceRecord {
        address: address.clone(),
        block_type: component.type_name.clone(),
        type_name: type_name.clone(),
        provider: provider_name,
        id: object.id,
        attributes: Default::default(),
        sensitive_attributes: Vec::new(),
        dependencies: Vec::new(),
        create_before_destroy: false,
    };
    record.set_attrs(&object.attrs);
    state.upsert(record);
    state.serial += 1;
    backend.write(&state).await?;
    guard.release().await?;
    outln!(
        "Imported {type_name} {} as {address}. Run `ss plan` to see how it differs from the spec.",
        a.id
    );
    Ok(ExitCode::SUCCESS)
}

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

/// The state with its journal folded in; refuses while an interrupted apply has operations
/// to settle (their outcome is not known yet).
async fn settled_state(backend: &dyn Backend) -> anyhow::Result<Option<State>> {
    match backend.load().await? {
        Some(loaded) if !loaded.pending.is_empty() => bail!(
            "an interrupted apply left {} operation(s) unresolved in {}: run `ss apply` first, which settles them",
            loaded.pending.len(),
            backend.describe()
        ),
        Some(loaded) => Ok(Some(loaded.state)),
        None => Ok(None),
    }
}

pub async fn state_pull(a: StatePullArgs) -> anyhow::Result<ExitCode> {
    let opened = open_state(&a.dir, None).await?;
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

pub async fn state_push(a: StatePushArgs) -> anyhow::Result<ExitCode> {
    let opened = open_state(&a.dir, None).await?;
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
    let stored = settled_state(backend.as_ref()).await?;
    if let Some(stored) = &stored {
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
        // The journal of the stored snapshot is folded into the pushed state's predecessor:
        // compacting first leaves a snapshot the write can follow.
        backend.compact(stored).await?;
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

pub async fn state_migrate(a: StateMigrateArgs) -> anyhow::Result<ExitCode> {
    let opened = open_state(&a.dir, None).await?;
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

pub async fn state_migrate_encryption(a: StateMigrateEncryptionArgs) -> anyhow::Result<ExitCode> {
    let opened = open_state(&a.dir, None).await?;
    let old = match &a.old_key_env {
        Some(var) => {
            let key = std::env::var(var).unwrap_or_default();
            if key.is_empty() {
                bail!("--old-key-env names {var}, which is not set");
            }
            backends::cipher_codec(&key)?
        }
        None => Codec::plain(),
    };
    let new_store = opened.store;
    let old_store = reopen_with(&a.dir, old).await?;
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
    new_store
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

/// The spec's store opened with another codec.
async fn reopen_with(dir: &Path, codec: Codec) -> anyhow::Result<Arc<dyn Store>> {
    let config = crate::commands::state_settings(dir)?;
    backends::store_with_codec(config.as_ref(), dir, codec).await
}
