//! `ss destroy`: plans the removal of everything the state records, confirms and applies.

use std::process::ExitCode;

use planner::plan::PlanMode;

use super::converge::{Converge, plan_and_apply};
use crate::cli::DestroyArgs;
use crate::session::{Ctx, Session, Spec};

pub async fn run(ctx: &Ctx, a: DestroyArgs) -> anyhow::Result<ExitCode> {
    let spec = Spec::load(&a.dir, &a.vars, ctx.color_err)?;
    let session = Session::open(ctx, spec, "destroy").await?;
    let converge = Converge {
        mode: PlanMode::Destroy,
        targets: &a.targets,
        auto_approve: a.auto_approve,
        json: a.json,
        parallelism: a.parallelism.map(|n| n.get()),
        question: "destroy all these resources",
    };
    plan_and_apply(ctx, session, &converge).await
}
