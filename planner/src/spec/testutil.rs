//! Helpers shared by the tests of the spec modules.

use provider_api::Value;

use super::diag::{Diagnostics, Sources};

/// Diagnostics as `file:line:col: summary` lines, labels indented below their diagnostic.
pub fn render(sources: &Sources, diags: &Diagnostics) -> String {
    let mut out = String::new();
    for d in &diags.0 {
        match d.span {
            Some(span) => out.push_str(&format!("{}: {}\n", sources.location(span), d.summary)),
            None => out.push_str(&format!("{}\n", d.summary)),
        }
        for label in &d.labels {
            out.push_str(&format!(
                "  {}: {}\n",
                sources.location(label.span),
                label.message
            ));
        }
    }
    out
}

/// A value with its marks spelled out: `sensitive(...)` and `unknown`.
pub fn show(v: &Value) -> String {
    match v {
        Value::Unknown => "unknown".to_string(),
        Value::Sensitive(inner) => format!("sensitive({})", show(inner)),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{k} = {}", show(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}
