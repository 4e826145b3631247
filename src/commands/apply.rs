//! `ss apply`: applies a saved plan exactly, or plans the spec in a directory, confirms and
//! applies.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use planner::plan::PlanMode;
use planner::spec;

use super::converge::{Converge, converge, run_apply};
use super::planfile;
use crate::cli::ApplyArgs;
use crate::session::{Ctx, Session, Spec, loaded};

pub async fn run(ctx: &Ctx, a: ApplyArgs) -> anyhow::Result<ExitCode> {
    let parallelism = a.parallelism.map(|n| n.get());
    if a.path.is_file() {
        return apply_saved(ctx, &a.path, parallelism, a.json).await;
    }
    let c = Converge {
        mode: PlanMode::Apply,
        targets: &a.targets,
        auto_approve: a.auto_approve,
        json: a.json,
        parallelism,
        question: "perform these actions",
    };
    converge(ctx, &a.path, &a.vars, &c).await
}

/// Applies the plan saved in `path` against the configuration and variables it was made
/// from, refusing it when the state changed since.
async fn apply_saved(
    ctx: &Ctx,
    path: &Path,
    parallelism: Option<usize>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let plan = planfile::read(path)?;
    let snap = &plan.snapshot;
    let files = snap
        .files
        .iter()
        .map(|(name, text)| spec::SourceFile {
            name: snap.dir.join(name).display().to_string(),
            text: text.clone(),
        })
        .collect();
    let config = loaded(spec::load_sources(&snap.dir, files), ctx.color_err, || {
        "the saved plan's configuration does not load".to_string()
    })?;
    let spec = Spec {
        config,
        vars: snap.variables.clone(),
    };
    let session = Session::open(ctx, spec, "apply").await?;
    if let Err(e) = planner::apply::check_fresh(&plan, session.state.as_ref()) {
        bail!("the saved plan {} is stale: {e}", path.display());
    }
    run_apply(session, &plan, parallelism, json, ctx.color_err).await
}
