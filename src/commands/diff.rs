//! `ss diff`: what changed in the cloud behind ss's back (drift), without planning.

use std::process::ExitCode;

use crate::cli::DiffArgs;
use crate::render;
use crate::session::{Ctx, Session, Spec, check};

pub async fn run(ctx: &Ctx, a: DiffArgs) -> anyhow::Result<ExitCode> {
    let spec = Spec::load(&a.dir, &a.vars, ctx.color_err)?;
    let session = Session::open(ctx, spec, "diff").await?;
    check(
        &session.engine.graph.errors,
        &session.engine.config.sources,
        ctx.color_err,
    )?;
    let drift = match &session.state {
        Some(s) => planner::refresh::refresh(&session.engine, s).await?.drift,
        None => Vec::new(),
    };
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&render::drift_json(&drift))?
        );
    } else {
        out!("{}", render::drift_text(&drift, ctx.color));
    }
    Ok(if a.detailed_exitcode && !drift.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
