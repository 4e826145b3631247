//! `ss validate`: the spec, its variables and the providers' offline checks, without the
//! state or the cloud.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::bail;
use planner::{PlanError, PlanOptions};

use crate::backends;
use crate::cli::{ValidateArgs, VarArgs};
use crate::session::{Ctx, Spec, check};

pub async fn run(ctx: &Ctx, a: ValidateArgs) -> anyhow::Result<ExitCode> {
    let color = ctx.color_err;
    let spec = Spec::load(&a.dir, &VarArgs::default(), color)?;
    let sources = spec.config.sources.clone();
    let workspace = backends::selected_workspace(&spec.config.dir, ctx.workspace_flag())?;
    let engine = spec.engine(&workspace, &BTreeSet::new(), color)?;
    let opts = PlanOptions {
        refresh: false,
        ..PlanOptions::default()
    };
    match planner::plan(&engine, None, &opts).await {
        Ok(plan) => {
            check(&plan.warnings, &sources, color)?;
            outln!("Success! The configuration is valid.");
            // As in `ss plan`: the process ends here, and frees all at once.
            std::mem::forget((plan, engine));
            Ok(ExitCode::SUCCESS)
        }
        Err(PlanError::Spec(d)) => {
            check(&d, &sources, color)?;
            bail!("invalid spec")
        }
        Err(e) => Err(e.into()),
    }
}
