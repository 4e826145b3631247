//! Drift (objects changed outside ss) as text and JSON, for `ss diff` and the plan's note.

use std::fmt::Write as _;

use planner::plan::Drift;
use serde_json::json;

use super::nested::{self, NAME_COLUMN};
use super::{Paint, paint};

/// Renders drift the way `ss diff` prints it, ending with a count line.
pub fn drift_text(drift: &[Drift], color: bool) -> String {
    if drift.is_empty() {
        return "No drift: every object in the state matches the cloud.\n".to_string();
    }
    let deleted = drift.iter().filter(|d| d.changes.is_none()).count();
    let changed = drift.len() - deleted;
    let mut out = paint(
        "Objects have changed outside of ss:\n\n",
        Paint::Bold,
        color,
    );
    out.push_str(&drift_body(drift, color));
    let _ = writeln!(
        out,
        "Drift: {changed} changed, {deleted} deleted outside of ss.\n\
         Run \"ss apply\" to bring them back to the configuration."
    );
    out
}

/// One block per drifted object: its changed attributes (recorded → actual), or a note that it
/// is gone.
pub(super) fn drift_body(drift: &[Drift], color: bool) -> String {
    let mut out = String::new();
    for d in drift {
        let (what, symbol) = match d.changes {
            Some(_) => ("has changed", paint("~", Paint::Change, color)),
            None => ("has been deleted", paint("-", Paint::Remove, color)),
        };
        let header = format!("# {} {what}", d.address);
        let _ = writeln!(out, "  {}", paint(&header, Paint::Bold, color));
        let _ = writeln!(
            out,
            "  {symbol} resource {:?} {:?} {{",
            d.type_name,
            d.address.to_string()
        );
        let changes = d.changes.as_deref().unwrap_or_default();
        let width = changes
            .iter()
            .map(|c| c.name.len())
            .chain(std::iter::once(2))
            .max()
            .unwrap_or(2);
        let _ = writeln!(out, "        {:<width$} = {:?}", "id", d.id);
        for c in changes {
            let _ = writeln!(
                out,
                "      {} {:<width$} = {}",
                paint("~", Paint::Change, color),
                c.name,
                nested::change(&c.recorded, &c.actual, NAME_COLUMN, color)
            );
        }
        out.push_str("    }\n\n");
    }
    out
}

/// Drift as JSON: one object per drifted resource with `status` `changed` or `deleted` and,
/// for changes, the recorded and actual value of each attribute (sensitive ones redacted).
pub fn drift_json(drift: &[Drift]) -> serde_json::Value {
    drift
        .iter()
        .map(|d| {
            json!({
                "address": d.address.to_string(),
                "type": d.type_name,
                "id": d.id,
                "status": if d.changes.is_some() { "changed" } else { "deleted" },
                "changes": d.changes.as_deref().unwrap_or_default().iter().map(|c| json!({
                    "name": c.name,
                    "recorded": c.recorded.to_redacted_json(),
                    "actual": c.actual.to_redacted_json(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use planner::plan::AttrDrift;
    use provider_api::Value;

    use super::*;

    fn drifts() -> Vec<Drift> {
        vec![
            Drift {
                address: "sandbox_object.a".parse().expect("address"),
                type_name: "sandbox_object".into(),
                id: "obj-1".into(),
                changes: Some(vec![
                    AttrDrift {
                        name: "input".into(),
                        recorded: Value::from("original"),
                        actual: Value::from("edited"),
                    },
                    AttrDrift {
                        name: "password".into(),
                        recorded: Value::from("hunter2").sensitive(),
                        actual: Value::from("hunter3").sensitive(),
                    },
                ]),
            },
            Drift {
                address: "network.main.sandbox_subnet.zone_2"
                    .parse()
                    .expect("address"),
                type_name: "sandbox_subnet".into(),
                id: "subnet-9".into(),
                changes: None,
            },
        ]
    }

    #[test]
    fn text() {
        let text = drift_text(&drifts(), false);
        assert!(!text.contains("hunter"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn none() {
        assert_eq!(
            drift_text(&[], false),
            "No drift: every object in the state matches the cloud.\n"
        );
        assert_eq!(drift_json(&[]), json!([]));
    }

    #[test]
    fn json_shape_without_secrets() {
        let doc = drift_json(&drifts());
        assert!(!doc.to_string().contains("hunter"));
        assert_eq!(doc[0]["status"], json!("changed"));
        assert_eq!(doc[0]["changes"][0]["actual"], json!("edited"));
        assert_eq!(doc[1]["status"], json!("deleted"));
        assert_eq!(doc[1]["id"], json!("subnet-9"));
    }
}
