//! What each command does, one file per command family. This module only dispatches; what
//! the commands share (opening the spec, the state, the engine) is in `crate::session`. Only
//! `converge` (applying a plan), `planfile` (plan files) and `output` (printing outputs) are
//! imported by other command files, always one way (`converge` uses `output`, nothing uses a
//! file that uses it back).

mod apply;
mod converge;
mod destroy;
mod diff;
mod fmt;
mod graph;
mod import;
mod output;
mod plan;
mod planfile;
mod sandbox_cloud;
mod show;
mod state;
mod state_transfer;
mod validate;
mod workspace;

use std::process::ExitCode;

use crate::cli::{Cli, Command, StateCommand};
use crate::session::Ctx;

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = Ctx::new(&cli);
    match cli.command {
        Command::Validate(a) => validate::run(&ctx, a).await,
        Command::Fmt(a) => fmt::run(a),
        Command::Plan(a) => plan::run(&ctx, a).await,
        Command::Apply(a) => apply::run(&ctx, a).await,
        Command::Destroy(a) => destroy::run(&ctx, a).await,
        Command::Diff(a) => diff::run(&ctx, a).await,
        Command::Show(a) => show::run(&ctx, a).await,
        Command::Output(a) => output::run(&ctx, a).await,
        Command::State(s) => state_cmd(&ctx, s).await,
        Command::Graph(a) => graph::run(&ctx, a),
        Command::Sandbox(s) => sandbox_cloud::run(s),
        Command::Workspace(w) => workspace::run(&ctx, w).await,
        Command::Import(a) => import::run(&ctx, a).await,
        Command::ForceUnlock(a) => state_transfer::force_unlock(&ctx, a).await,
    }
}

async fn state_cmd(ctx: &Ctx, s: StateCommand) -> anyhow::Result<ExitCode> {
    match s {
        StateCommand::List(a) => state::list(ctx, a).await,
        StateCommand::Show(a) => state::show(ctx, a).await,
        StateCommand::Rm(a) => state::rm(ctx, a).await,
        StateCommand::Mv(a) => state::mv(ctx, a).await,
        StateCommand::Pull(a) => state_transfer::pull(ctx, a).await,
        StateCommand::Push(a) => state_transfer::push(ctx, a).await,
        StateCommand::Migrate(a) => state_transfer::migrate(ctx, a).await,
        StateCommand::MigrateEncryption(a) => state_transfer::migrate_encryption(ctx, a).await,
    }
}
