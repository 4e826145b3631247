//! `ss graph`: the dependency graph of the spec in Graphviz DOT.

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::GraphArgs;
use crate::registry::REGISTRY;
use crate::session::{Ctx, check, load_config};

pub fn run(ctx: &Ctx, a: GraphArgs) -> anyhow::Result<ExitCode> {
    let color = ctx.color_err;
    let config = load_config(&a.dir, color)?;
    let graph = match planner::graph::build(&config, &planner::ProviderRegistry::names(&*REGISTRY))
    {
        Ok(g) => {
            check(&g.errors, &config.sources, color)?;
            g
        }
        Err(d) => {
            check(&d, &config.sources, color)?;
            bail!("invalid spec");
        }
    };
    outln!("digraph ss {{");
    outln!("  rankdir = \"RL\";");
    outln!("  node [shape = box];");
    for n in graph.dag.nodes() {
        outln!("  \"{n}\";");
    }
    for n in graph.dag.nodes() {
        for d in graph.dag.dependencies(n) {
            outln!("  \"{n}\" -> \"{d}\";");
        }
    }
    outln!("}}");
    Ok(ExitCode::SUCCESS)
}
