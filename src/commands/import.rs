//! `ss import ADDR ID`: brings an existing cloud object under management at an address the
//! spec declares.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use planner::Engine;
use planner::addr::NativeAddr;
use planner::spec::{Diagnostics, Sources};
use state::{Backend, LockInfo, ResourceRecord, State};

use crate::backends::{self, Opened};
use crate::cli::ImportArgs;
use crate::registry::REGISTRY;
use crate::report;
use crate::session::{Ctx, unsettled, var_inputs};

pub async fn run(ctx: &Ctx, a: ImportArgs) -> anyhow::Result<ExitCode> {
    let addr: NativeAddr = a
        .address
        .parse()
        .map_err(|e| anyhow!("invalid address `{}`: {e}", a.address))?;
    let (engine, opened) = open(ctx, &a).await?;
    let (provider_name, type_name) = resolve(&engine, &addr)?;
    let provider = engine
        .provider(&provider_name)
        .ok_or_else(|| anyhow!("provider `{provider_name}` is not configured"))?;

    let backend = opened.backend().await?;
    let guard = backend.lock(LockInfo::new("import")).await?;
    let mut state = current_state(backend.as_ref(), &opened.workspace).await?;
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
        block_type: addr.component.type_name.clone(),
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

/// Shows `diags` and says what failed (import reports its spec problems this way, followed
/// by a one-line error).
fn shown(diags: &Diagnostics, sources: &Sources, color: bool, what: &str) -> anyhow::Error {
    report::print_diagnostics(diags, sources, color);
    anyhow!("{what}")
}

/// The spec's engine and the state store of the selected workspace.
async fn open(ctx: &Ctx, a: &ImportArgs) -> anyhow::Result<(Engine, Opened)> {
    let color = ctx.color_err;
    let config = planner::spec::load_dir(&a.dir).map_err(|e| {
        shown(
            &e.diagnostics,
            &e.sources,
            color,
            &format!("could not load {}", a.dir.display()),
        )
    })?;
    let vars = planner::spec::resolve_variables(&config, &var_inputs(&a.vars))
        .map_err(|d| shown(&d, &config.sources, color, "could not resolve variables"))?;
    let opened = backends::open(Some(&config), &a.dir, None, ctx.workspace_flag()).await?;
    let sources = config.sources.clone();
    let engine = Engine::new(
        config,
        vars,
        &*REGISTRY,
        &opened.workspace,
        &BTreeSet::new(),
    )
    .map_err(|d| shown(&d, &sources, color, "could not prepare the providers"))?;
    Ok((engine, opened))
}

/// The provider serving `addr` and the native type to import, checked against the spec's
/// block (it must exist, with an instance key exactly when it uses count or for_each).
fn resolve(engine: &Engine, addr: &NativeAddr) -> anyhow::Result<(String, String)> {
    let component = &addr.component;
    let block = engine
        .block(&component.type_name, &component.name)
        .ok_or_else(|| {
            anyhow!(
                "the spec declares no resource `{}`: add its block before importing into it",
                component.block()
            )
        })?;
    let keyed = component.key.is_some();
    if (block.count.is_some() || block.for_each.is_some()) != keyed {
        bail!(
            "`{}` {} count or for_each: the address must {} an instance key",
            component.block(),
            if keyed { "has no" } else { "uses" },
            if keyed { "not have" } else { "have" }
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
    Ok((provider_name, type_name))
}

/// The settled state of `workspace` (a new one for the default workspace).
async fn current_state(backend: &dyn Backend, workspace: &str) -> anyhow::Result<State> {
    match backend.load().await? {
        Some(loaded) if !loaded.pending.is_empty() => Err(unsettled(loaded.pending.len())),
        Some(loaded) => Ok(loaded.state),
        None if workspace == state::workspace::DEFAULT => Ok(State::new()),
        None => bail!(
            "workspace `{workspace}` does not exist; create it with `ss workspace new {workspace}`"
        ),
    }
}
