//! `ss workspace list | show | new | select | delete`: the states of one configuration.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use state::{LockInfo, State};

use crate::backends;
use crate::cli::{WorkspaceCommand, WorkspaceListArgs, WorkspaceNameArgs};
use crate::session::{Ctx, Stored};

pub async fn run(ctx: &Ctx, w: WorkspaceCommand) -> anyhow::Result<ExitCode> {
    match w {
        WorkspaceCommand::List(a) => list(ctx, a).await?,
        WorkspaceCommand::Show(a) => {
            outln!(
                "{}",
                backends::selected_workspace(&a.dir, ctx.workspace_flag())?
            );
        }
        WorkspaceCommand::New(a) => new(ctx, a).await?,
        WorkspaceCommand::Select(a) => select(ctx, a).await?,
        WorkspaceCommand::Delete(a) => delete(ctx, a).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(ctx: &Ctx, a: WorkspaceListArgs) -> anyhow::Result<()> {
    let opened = Stored::open(ctx, &a.dir, None).await?.opened;
    let names = opened.store.workspaces().await?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&names)?);
    } else {
        for name in names {
            let mark = if name == opened.workspace { "*" } else { " " };
            outln!("{mark} {name}");
        }
    }
    Ok(())
}

async fn new(ctx: &Ctx, a: WorkspaceNameArgs) -> anyhow::Result<()> {
    state::workspace::check_name(&a.name)?;
    let opened = Stored::open(ctx, &a.dir, None).await?.opened;
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
    Ok(())
}

async fn select(ctx: &Ctx, a: WorkspaceNameArgs) -> anyhow::Result<()> {
    state::workspace::check_name(&a.name)?;
    let opened = Stored::open(ctx, &a.dir, None).await?.opened;
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
    Ok(())
}

async fn delete(ctx: &Ctx, a: WorkspaceNameArgs) -> anyhow::Result<()> {
    state::workspace::check_name(&a.name)?;
    if a.name == state::workspace::DEFAULT {
        bail!("the default workspace cannot be deleted");
    }
    let opened = Stored::open(ctx, &a.dir, None).await?.opened;
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
    forget_selection(&a.dir, &a.name)?;
    outln!("Deleted workspace `{}`.", a.name);
    Ok(())
}

/// A deleted workspace that was selected leaves `default` selected.
fn forget_selection(dir: &Path, name: &str) -> anyhow::Result<()> {
    if backends::selected_workspace(dir, None)? == name {
        backends::remember_workspace(dir, state::workspace::DEFAULT)?;
    }
    Ok(())
}
