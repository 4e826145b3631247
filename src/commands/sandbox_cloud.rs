//! `ss sandbox list | set`: looking into the built-in simulated cloud and changing it behind
//! ss's back (to create drift). The sandbox is reached through the registry.

use std::process::ExitCode;

use crate::cli::SandboxCommand;
use crate::registry;

pub fn run(s: SandboxCommand) -> anyhow::Result<ExitCode> {
    match s {
        SandboxCommand::List(a) => {
            let objects = registry::sandbox_objects(a.dir.as_deref())?;
            if a.json {
                outln!("{}", serde_json::to_string_pretty(&objects)?);
            } else if objects.is_empty() {
                outln!("The sandbox cloud is empty.");
            } else {
                for o in objects {
                    outln!("{:<28} {:<28} {}", o.id, o.type_name, o.name);
                }
            }
        }
        SandboxCommand::Set(a) => {
            registry::sandbox_set(a.dir.as_deref(), &a.id, &a.assignments)?;
            outln!("Updated {}", a.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}
