//! `ss plan`: what an apply would change, as text or JSON, optionally saved to a file.

use std::process::ExitCode;

use planner::plan::PlanMode;

use super::planfile;
use crate::cli::PlanArgs;
use crate::session::{Ctx, Session, Spec, plan_options};
use crate::{render, report};

pub async fn run(ctx: &Ctx, a: PlanArgs) -> anyhow::Result<ExitCode> {
    let spec = Spec::load(&a.dir, &a.vars, ctx.color_err)?;
    let session = Session::open(ctx, spec, "plan").await?;
    let opts = plan_options(PlanMode::Apply, a.refresh, &a.targets);
    let plan = session.plan(&opts, ctx.color_err).await?;
    if a.json {
        let mut doc = render::plan_json(&plan);
        doc["warnings"] = report::diagnostics_json(&plan.warnings, &session.engine.config.sources);
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        out!("{}", render::plan_text(&plan, ctx.color));
    }
    if let Some(out) = &a.out {
        planfile::save(out, &plan, &session.codec)?;
        if !a.json {
            outln!(
                "\nSaved the plan to {}. To apply exactly it: ss apply {}",
                out.display(),
                out.display()
            );
        }
    }
    let code = if a.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    };
    session.exit_without_teardown(plan);
    Ok(code)
}
