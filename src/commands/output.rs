//! `ss output`: the outputs recorded in the state; also how outputs are printed after an
//! apply and by `ss show`.

use std::process::ExitCode;

use anyhow::anyhow;
use provider_api::Value;
use state::{OutputRecord, State};

use crate::cli::OutputArgs;
use crate::session::{Ctx, Stored};

/// What an output shows as text: its value, or a placeholder when it is sensitive.
fn shown(o: &OutputRecord) -> String {
    if o.sensitive {
        "(sensitive value)".to_string()
    } else {
        Value::from_json(&o.value).to_string()
    }
}

/// The outputs of `state`, aligned, after a heading (nothing without outputs).
pub fn print_outputs(state: &State) {
    if state.outputs.is_empty() {
        return;
    }
    outln!("\nOutputs:\n");
    let width = state.outputs.keys().map(String::len).max().unwrap_or(0);
    for (name, o) in &state.outputs {
        outln!("{name:<width$} = {}", shown(o));
    }
}

pub async fn run(ctx: &Ctx, a: OutputArgs) -> anyhow::Result<ExitCode> {
    let (_, state) = Stored::open(ctx, &a.dir(), a.state.as_deref())
        .await?
        .read()
        .await?;
    let state = state.unwrap_or_default();
    match &a.name {
        Some(name) => {
            let o = state
                .outputs
                .get(name)
                .ok_or_else(|| anyhow!("no output named `{name}` in the state"))?;
            if a.json {
                outln!("{}", o.value);
            } else {
                match &o.value {
                    serde_json::Value::String(s) => outln!("{s}"),
                    other => outln!("{}", Value::from_json(other)),
                }
            }
        }
        None if a.json => outln!("{}", outputs_json(&state)),
        None => {
            for (k, o) in &state.outputs {
                outln!("{k} = {}", shown(o));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every output as `{"NAME": {"value": …, "sensitive": …}}`, sensitive values hidden.
fn outputs_json(state: &State) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = state
        .outputs
        .iter()
        .map(|(k, o)| {
            let value = if o.sensitive {
                serde_json::Value::String("(sensitive value)".into())
            } else {
                o.value.clone()
            };
            (
                k.clone(),
                serde_json::json!({"value": value, "sensitive": o.sensitive}),
            )
        })
        .collect();
    serde_json::Value::Object(map)
}
