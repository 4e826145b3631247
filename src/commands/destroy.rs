//! `ss destroy`: plans the removal of everything the state records, confirms and applies.

use std::process::ExitCode;

use planner::plan::PlanMode;

use super::converge::{Converge, converge};
use crate::cli::DestroyArgs;
use crate::session::Ctx;

pub async fn run(ctx: &Ctx, a: DestroyArgs) -> anyhow::Result<ExitCode> {
    let c = Converge {
        mode: PlanMode::Destroy,
        targets: &a.targets,
        auto_approve: a.auto_approve,
        json: a.json,
        parallelism: a.parallelism.map(|n| n.get()),
        question: "destroy all these resources",
    };
    converge(ctx, &a.dir, &a.vars, &c).await
}
