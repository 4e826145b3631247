//! The compact, stable text a fixture's `expected` file holds: the plan as data, one change
//! per line, with random cloud ids replaced by the address that owns them.
//!
//! ```text
//! drift ADDRESS: ATTR RECORDED -> ACTUAL          (or `drift ADDRESS: gone`)
//! create ADDRESS
//!   + ATTR = AFTER                                 (every non-null attribute)
//!   depends_on: ADDRESS, ...
//! update ADDRESS
//!   changed: ATTR, ...
//!   ~ ATTR: BEFORE -> AFTER
//! replace ADDRESS replace_because=ATTR,... [create_before_destroy]
//! delete ADDRESS
//! output NAME: BEFORE -> AFTER
//! Plan: X to add, Y to change, Z to destroy.
//! ```
//!
//! Values use `Value`'s `Display`, which shows "(known after apply)" for unknown values and
//! "(sensitive value)" for sensitive ones, exactly as the plan carries them.

use std::collections::BTreeMap;
use std::fmt::Write;

use planner::plan::{Action, Plan, ResourceChange};
use planner::spec::{Diagnostics, Sources};
use provider_api::Value;
use state::State;

/// Cloud ids of the prior state, to be shown as `<id:ADDRESS>`: sandbox ids are random.
pub struct Redactions(Vec<(String, String)>);

impl Redactions {
    pub fn from_state(state: Option<&State>) -> Redactions {
        let mut ids: Vec<(String, String)> = state
            .map(|s| {
                s.resources
                    .iter()
                    .map(|r| (r.id.clone(), format!("<id:{}>", r.address)))
                    .collect()
            })
            .unwrap_or_default();
        // Longest first, so that an id that is a prefix of another cannot eat part of it.
        ids.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Redactions(ids)
    }

    fn apply(&self, text: String) -> String {
        self.0
            .iter()
            .fold(text, |t, (id, name)| t.replace(id.as_str(), name))
    }

    fn value(&self, v: &Value) -> String {
        self.apply(v.to_string())
    }
}

fn action_word(a: Action) -> &'static str {
    match a {
        Action::NoOp => "no-op",
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
    }
}

fn change(out: &mut String, c: &ResourceChange, ids: &Redactions) {
    let mut header = format!("{} {}", action_word(c.action), c.address);
    if !c.replace_because.is_empty() {
        let _ = write!(header, " replace_because={}", c.replace_because.join(","));
    }
    if c.create_before_destroy {
        header.push_str(" create_before_destroy");
    }
    let _ = writeln!(out, "{header}");
    let null = Value::Null;
    match c.action {
        Action::Create => {
            for (k, v) in c.after.iter().flatten() {
                if !v.is_null() {
                    let _ = writeln!(out, "  + {k} = {}", ids.value(v));
                }
            }
        }
        Action::Update | Action::Replace => {
            let changed = c.changed_attributes();
            let _ = writeln!(out, "  changed: {}", changed.join(", "));
            for k in &changed {
                let before = c.before.as_ref().and_then(|b| b.get(k)).unwrap_or(&null);
                let after = c.after.as_ref().and_then(|a| a.get(k)).unwrap_or(&null);
                let _ = writeln!(
                    out,
                    "  ~ {k}: {} -> {}",
                    ids.value(before),
                    ids.value(after)
                );
            }
        }
        Action::Delete | Action::NoOp => {}
    }
    if !c.depends_on.is_empty() {
        let mut deps: Vec<String> = c.depends_on.iter().map(ToString::to_string).collect();
        deps.sort();
        deps.dedup();
        let _ = writeln!(out, "  depends_on: {}", deps.join(", "));
    }
}

fn output_value(v: Option<&Value>, sensitive: bool, ids: &Redactions) -> String {
    match v {
        None => "(none)".to_string(),
        Some(_) if sensitive => "(sensitive value)".to_string(),
        Some(v) => ids.value(v),
    }
}

/// The whole plan, as the `expected` file holds it.
pub fn plan(plan: &Plan, ids: &Redactions) -> String {
    let mut out = String::new();
    for d in &plan.drift {
        match &d.changes {
            None => {
                let _ = writeln!(out, "drift {}: gone", d.address);
            }
            Some(attrs) => {
                for a in attrs {
                    let _ = writeln!(
                        out,
                        "drift {}: {} {} -> {}",
                        d.address,
                        a.name,
                        ids.value(&a.recorded),
                        ids.value(&a.actual)
                    );
                }
            }
        }
    }
    let mut changes: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.action.is_change())
        .collect();
    changes.sort_by(|a, b| a.address.cmp(&b.address));
    for c in changes {
        change(&mut out, c, ids);
    }
    for o in &plan.outputs {
        let unchanged = matches!((&o.before, &o.after),
            (Some(b), Some(a)) if provider_api::same(a, b) && a.is_wholly_known());
        if unchanged || (o.before.is_none() && o.after.is_none()) {
            continue;
        }
        let _ = writeln!(
            out,
            "output {}: {} -> {}",
            o.name,
            output_value(o.before.as_ref(), o.sensitive, ids),
            output_value(o.after.as_ref(), o.sensitive, ids)
        );
    }
    if !plan.has_changes() {
        out.push_str("No changes.\n");
    }
    let s = plan.summary();
    let _ = writeln!(
        out,
        "Plan: {} to add, {} to change, {} to destroy.",
        s.add, s.change, s.destroy
    );
    out
}

/// Diagnostics as `error: SUMMARY (FILE:LINE:COL)` plus an indented detail line.
pub fn diagnostics(diags: &Diagnostics, sources: &Sources) -> String {
    let mut out = String::new();
    for d in &diags.0 {
        let severity = if d.is_error() { "error" } else { "warning" };
        let _ = write!(out, "{severity}: {}", d.summary);
        if let Some(span) = d.span {
            let (line, col) = sources.line_col(span);
            let file = sources
                .files
                .get(span.file)
                .map(|f| {
                    std::path::Path::new(&f.name)
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_else(|| f.name.clone())
                })
                .unwrap_or_default();
            let _ = write!(out, " ({file}:{line}:{col})");
        }
        out.push('\n');
        if let Some(detail) = &d.detail {
            let _ = writeln!(out, "  {detail}");
        }
    }
    out
}

/// Every plain string or number hidden under a sensitive mark, for checking that none of
/// them reaches the rendered text.
pub fn secrets(plan: &Plan, state: Option<&State>, out: &mut Vec<String>) {
    fn walk(v: &Value, under: bool, out: &mut Vec<String>) {
        match v {
            Value::Sensitive(inner) => walk(inner, true, out),
            Value::List(items) => items.iter().for_each(|i| walk(i, under, out)),
            Value::Map(m) => m.values().for_each(|i| walk(i, under, out)),
            Value::String(s) if under && s.len() >= 4 => out.push(s.clone()),
            Value::Number(n) if under && n.abs() >= 1000.0 => out.push(n.to_string()),
            _ => {}
        }
    }
    for c in &plan.changes {
        for attrs in [&c.before, &c.after].into_iter().flatten() {
            attrs.values().for_each(|v| walk(v, false, out));
        }
    }
    // A `sensitive = true` output marks its whole value only to hide it; what is secret in
    // it came from a variable or a resource, and is collected there.
    for o in plan.outputs.iter().filter(|o| !o.sensitive) {
        for v in [&o.before, &o.after].into_iter().flatten() {
            walk(v, false, out);
        }
    }
    plan.snapshot
        .variables
        .values()
        .for_each(|v| walk(v, false, out));
    for r in state.map(|s| s.resources.as_slice()).unwrap_or_default() {
        let attrs: BTreeMap<String, Value> = r.attrs();
        attrs.values().for_each(|v| walk(v, false, out));
    }
}
