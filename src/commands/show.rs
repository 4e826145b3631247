//! `ss show`: a saved plan, or every resource of the state with the outputs.

use std::process::ExitCode;

use super::output::print_outputs;
use super::planfile;
use crate::cli::ShowArgs;
use crate::render;
use crate::session::{Ctx, Stored};

pub async fn run(ctx: &Ctx, a: ShowArgs) -> anyhow::Result<ExitCode> {
    if let Some(path) = &a.planfile {
        let plan = planfile::read(path)?;
        if a.json {
            outln!(
                "{}",
                serde_json::to_string_pretty(&render::plan_json(&plan))?
            );
        } else {
            out!("{}", render::plan_text(&plan, ctx.color));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (_, state) = Stored::open(ctx, &a.dir, a.state.as_deref())
        .await?
        .read()
        .await?;
    let state = state.unwrap_or_default();
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&render::state_list_json(&state.resources))?
        );
    } else if state.resources.is_empty() {
        outln!("The state is empty.");
    } else {
        for r in &state.resources {
            outln!("{}", render::state_show_text(r));
        }
        print_outputs(&state);
    }
    Ok(ExitCode::SUCCESS)
}
