//! `ss fmt`: rewrites the spec's files in the canonical layout, or lists those that differ.

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::FmtArgs;
use crate::session::hcl_files;

pub fn run(a: FmtArgs) -> anyhow::Result<ExitCode> {
    let mut unformatted = Vec::new();
    let mut failed = false;
    for path in hcl_files(&a.dir)? {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        match planner::fmt::format_source(&text) {
            Ok(formatted) if formatted != text => {
                outln!("{}", path.display());
                if !a.check {
                    std::fs::write(&path, formatted)
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                unformatted.push(path);
            }
            Ok(_) => {}
            Err(e) => {
                errln!(
                    "Error: {}:{}:{}: {}",
                    path.display(),
                    e.line,
                    e.column,
                    e.message
                );
                failed = true;
            }
        }
    }
    if failed || (a.check && !unformatted.is_empty()) {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
