//! The plan as Terraform-like text and as a JSON document.

use std::fmt::Write as _;

use planner::addr::ComponentAddr;
use planner::plan::{Action, Attrs, OutputChange, Plan, PlanMode, ResourceChange};
use provider_api::Value;
use serde_json::json;

use super::drift::{drift_body, drift_json};
use super::nested::{self, NAME_COLUMN};
use super::{Paint, action_name, action_symbol, paint};

/// Renders a plan the way `ss plan` prints it: drift first, then one block per changed native
/// resource (grouped under its component), then output changes and the summary line.
pub fn plan_text(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    if !plan.drift.is_empty() {
        out.push_str(&paint(
            "Note: Objects have changed outside of ss\n\n",
            Paint::Bold,
            color,
        ));
        out.push_str(
            "ss detected the following changes made outside of ss since the last \"ss apply\":\n\n",
        );
        out.push_str(&drift_body(&plan.drift, color));
        out.push_str(
            "Unless you have made equivalent changes to your configuration, or ignored the \
             relevant attributes using ignore_changes, the following plan may include actions \
             to undo or respond to these changes.\n\n",
        );
        out.push_str(&"─".repeat(77));
        out.push_str("\n\n");
    }

    let changes: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.action.is_change())
        .collect();
    let outputs: Vec<&OutputChange> = plan.outputs.iter().filter(|o| output_changed(o)).collect();
    if changes.is_empty() && outputs.is_empty() {
        out.push_str(&paint("No changes.", Paint::Bold, color));
        out.push_str(match plan.mode {
            PlanMode::Apply => " Your infrastructure matches the configuration.\n",
            PlanMode::Destroy => " No objects need to be destroyed.\n",
        });
        return out;
    }

    if !changes.is_empty() {
        out.push_str(&legend(&changes, color));
        out.push_str("\nss will perform the following actions:\n\n");
        for (component, members) in group_by_component(&changes) {
            if let Some(component) = component {
                let block_type = &members[0].block_type;
                let header = format!("{component} ({block_type}):");
                out.push_str(&paint(&header, Paint::Bold, color));
                out.push_str("\n\n");
            }
            for change in members {
                out.push_str(&change_block(change, color));
                out.push('\n');
            }
        }
    }

    let s = plan.summary();
    out.push_str(&paint("Plan:", Paint::Bold, color));
    let _ = writeln!(
        out,
        " {} to add, {} to change, {} to destroy.",
        s.add, s.change, s.destroy
    );

    if !outputs.is_empty() {
        out.push_str("\nChanges to Outputs:\n");
        let width = outputs.iter().map(|o| o.name.len()).max().unwrap_or(0);
        for o in outputs {
            out.push_str(&output_line(o, width, color));
        }
    }
    out
}

/// True when applying the plan would change the output's recorded value.
fn output_changed(o: &OutputChange) -> bool {
    match (&o.before, &o.after) {
        (None, None) => false,
        (Some(b), Some(a)) => !provider_api::same(a, b) || !a.is_wholly_known(),
        _ => true,
    }
}

fn output_line(o: &OutputChange, width: usize, color: bool) -> String {
    let show = |v: &Value| {
        if o.sensitive {
            "(sensitive value)".to_string()
        } else {
            v.to_string()
        }
    };
    let (action, text) = match (&o.before, &o.after) {
        (None, Some(a)) => (Action::Create, show(a)),
        (Some(b), None) => (Action::Delete, format!("{} -> null", show(b))),
        (Some(b), Some(a)) => (Action::Update, format!("{} -> {}", show(b), show(a))),
        (None, None) => (Action::NoOp, String::new()),
    };
    format!(
        "  {} {:<width$} = {text}\n",
        action_symbol(action, false, color),
        o.name
    )
}

/// Explains the symbols that the plan actually uses.
fn legend(changes: &[&ResourceChange], color: bool) -> String {
    let used = |action: Action, cbd: bool| {
        changes.iter().any(|c| {
            c.action == action && (action != Action::Replace || c.create_before_destroy == cbd)
        })
    };
    let mut out = String::from("Resource actions are indicated with the following symbols:\n");
    let rows = [
        (Action::Create, false, "create"),
        (Action::Update, false, "update in-place"),
        (Action::Delete, false, "destroy"),
        (
            Action::Replace,
            false,
            "destroy and then create replacement",
        ),
        (Action::Replace, true, "create replacement and then destroy"),
    ];
    for (action, cbd, text) in rows {
        if used(action, cbd) {
            let _ = writeln!(out, "{} {text}", symbol_column(action, cbd, color));
        }
    }
    out
}

/// The action symbol right-aligned in a three-character column (`  +`, `-/+`).
fn symbol_column(action: Action, create_before_destroy: bool, color: bool) -> String {
    let plain = action_symbol(action, create_before_destroy, false);
    let pad = 3usize.saturating_sub(plain.chars().count());
    format!(
        "{}{}",
        " ".repeat(pad),
        action_symbol(action, create_before_destroy, color)
    )
}

/// Groups changes by component instance, in order of first appearance. Changes of native
/// blocks (whose address is the component itself) get no group header.
fn group_by_component<'a>(
    changes: &[&'a ResourceChange],
) -> Vec<(Option<&'a ComponentAddr>, Vec<&'a ResourceChange>)> {
    let mut groups: Vec<(Option<&ComponentAddr>, Vec<&ResourceChange>)> = Vec::new();
    for &change in changes {
        let key = change
            .address
            .native
            .as_ref()
            .map(|_| &change.address.component);
        match groups.iter_mut().find(|(k, _)| key.is_some() && *k == key) {
            Some((_, members)) => members.push(change),
            None => groups.push((key, vec![change])),
        }
    }
    groups
}

/// One line of an attribute list inside a resource block.
struct AttrLine {
    symbol: Option<Action>,
    name: String,
    value: String,
    forces_replacement: bool,
}

fn change_block(change: &ResourceChange, color: bool) -> String {
    let address = change.address.to_string();
    let what = match change.action {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Replace => "must be replaced",
        Action::Delete => "will be destroyed",
        Action::NoOp => "has no changes",
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {}",
        paint(&format!("# {address} {what}"), Paint::Bold, color)
    );
    let _ = writeln!(
        out,
        "{} resource {:?} {:?} {{",
        symbol_column(change.action, change.create_before_destroy, color),
        change.type_name,
        address
    );
    let empty = Attrs::new();
    let before = change.before.as_ref().unwrap_or(&empty);
    let after = change.after.as_ref().unwrap_or(&empty);
    let (lines, hidden) = match change.action {
        Action::Create => (all_lines(after, Action::Create, color), 0),
        Action::Delete => (all_lines(before, Action::Delete, color), 0),
        _ => changed_lines(change, before, after, color),
    };
    let width = lines.iter().map(|l| l.name.len()).max().unwrap_or(0);
    for line in &lines {
        let lead = match line.symbol {
            Some(action) => format!("      {} ", action_symbol(action, false, color)),
            None => " ".repeat(8),
        };
        let _ = write!(out, "{lead}{:<width$} = {}", line.name, line.value);
        if line.forces_replacement {
            out.push(' ');
            out.push_str(&paint("# forces replacement", Paint::Remove, color));
        }
        out.push('\n');
    }
    if hidden > 0 {
        let noun = if hidden == 1 {
            "attribute"
        } else {
            "attributes"
        };
        let text = format!("# ({hidden} unchanged {noun} hidden)");
        let _ = writeln!(out, "        {}", paint(&text, Paint::Dim, color));
    }
    out.push_str("    }\n");
    out
}

/// Every non-null attribute of a created (`+ name = value`) or destroyed
/// (`- name = value -> null`) resource.
fn all_lines(attrs: &Attrs, action: Action, color: bool) -> Vec<AttrLine> {
    attrs
        .iter()
        .filter(|(_, v)| !v.is_null() || v.is_sensitive())
        .map(|(name, v)| AttrLine {
            symbol: Some(action),
            name: name.clone(),
            value: if action == Action::Delete {
                format!("{} -> null", nested::block(v, NAME_COLUMN, "-", color))
            } else {
                nested::block(v, NAME_COLUMN, "+", color)
            },
            forces_replacement: false,
        })
        .collect()
}

/// The changed attributes of an update or replace, preceded by the object's id; returns the
/// lines and how many unchanged attributes were left out.
fn changed_lines(
    change: &ResourceChange,
    before: &Attrs,
    after: &Attrs,
    color: bool,
) -> (Vec<AttrLine>, usize) {
    let changed = change.changed_attributes();
    let mut lines = Vec::new();
    let id_changes = changed.iter().any(|n| n == "id");
    if let (Some(id), false) = (&change.id, id_changes) {
        lines.push(AttrLine {
            symbol: None,
            name: "id".to_string(),
            value: Value::from(id.as_str()).to_string(),
            forces_replacement: false,
        });
    }
    for name in &changed {
        let b = before
            .get(name)
            .filter(|v| !v.is_null() || v.is_sensitive());
        let a = after.get(name).filter(|v| !v.is_null() || v.is_sensitive());
        let (symbol, value) = match (b, a) {
            (None, Some(a)) => (Action::Create, nested::block(a, NAME_COLUMN, "+", color)),
            (Some(b), None) => (
                Action::Delete,
                format!("{} -> null", nested::block(b, NAME_COLUMN, "-", color)),
            ),
            (Some(b), Some(a)) => (Action::Update, nested::change(b, a, NAME_COLUMN, color)),
            (None, None) => (Action::Update, "null -> null".to_string()),
        };
        lines.push(AttrLine {
            symbol: Some(symbol),
            name: name.clone(),
            value,
            forces_replacement: change.replace_because.contains(name),
        });
    }
    let mut all: Vec<&String> = before.keys().chain(after.keys()).collect();
    all.sort();
    all.dedup();
    let shown_id = lines.first().is_some_and(|l| l.symbol.is_none());
    let hidden = all
        .iter()
        .filter(|n| !(changed.contains(n) || (shown_id && n.as_str() == "id")))
        .count();
    (lines, hidden)
}

/// Renders a plan as the JSON document of `ss plan --json` and `ss show --json`. Every
/// sensitive value is replaced by `"(sensitive value)"` and every unknown one by `null`, with
/// the affected attribute names listed in `*_sensitive` and `after_unknown`.
pub fn plan_json(plan: &Plan) -> serde_json::Value {
    let summary = plan.summary();
    json!({
        "format_version": "1",
        "ss_version": env!("CARGO_PKG_VERSION"),
        "mode": match plan.mode {
            PlanMode::Apply => "apply",
            PlanMode::Destroy => "destroy",
        },
        "stack": plan.stack,
        "state_lineage": plan.state_lineage,
        "state_serial": plan.state_serial,
        "targets": plan.targets,
        "excludes": plan.excludes,
        "resource_changes": plan.changes.iter().map(change_json).collect::<Vec<_>>(),
        "output_changes": plan.outputs.iter().map(output_json).collect::<Vec<_>>(),
        "drift": drift_json(&plan.drift),
        "summary": {
            "add": summary.add,
            "change": summary.change,
            "destroy": summary.destroy,
        },
        "has_changes": plan.has_changes(),
    })
}

fn change_json(change: &ResourceChange) -> serde_json::Value {
    json!({
        "address": change.address.to_string(),
        "block_type": change.block_type,
        "type": change.type_name,
        "provider": change.provider,
        "action": action_name(change.action),
        "id": change.id,
        "before": change.before.as_ref().map(attrs_json),
        "after": change.after.as_ref().map(attrs_json),
        "after_unknown": change.after.as_ref().map(|a| names_where(a, |v| !v.is_wholly_known())).unwrap_or_default(),
        "before_sensitive": change.before.as_ref().map(|a| names_where(a, Value::is_sensitive)).unwrap_or_default(),
        "after_sensitive": change.after.as_ref().map(|a| names_where(a, Value::is_sensitive)).unwrap_or_default(),
        "replace_because": change.replace_because,
        "create_before_destroy": change.create_before_destroy,
        "depends_on": change.depends_on.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn attrs_json(attrs: &Attrs) -> serde_json::Value {
    serde_json::Value::Object(
        attrs
            .iter()
            .map(|(k, v)| (k.clone(), v.to_redacted_json()))
            .collect(),
    )
}

fn names_where(attrs: &Attrs, test: impl Fn(&Value) -> bool) -> Vec<String> {
    attrs
        .iter()
        .filter(|(_, v)| test(v))
        .map(|(k, _)| k.clone())
        .collect()
}

fn output_json(o: &OutputChange) -> serde_json::Value {
    let action = match (&o.before, &o.after) {
        (None, Some(_)) => Action::Create,
        (Some(_), None) => Action::Delete,
        _ if output_changed(o) => Action::Update,
        _ => Action::NoOp,
    };
    let show = |v: &Option<Value>| match v {
        Some(_) if o.sensitive => json!("(sensitive value)"),
        Some(v) => v.to_redacted_json(),
        None => serde_json::Value::Null,
    };
    json!({
        "name": o.name,
        "action": action_name(action),
        "before": show(&o.before),
        "after": show(&o.after),
        "after_unknown": o.after.as_ref().is_some_and(|v| !v.is_wholly_known()),
        "sensitive": o.sensitive || o.after.as_ref().is_some_and(Value::is_sensitive),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use planner::addr::NativeAddr;
    use planner::plan::{AttrDrift, ConfigSnapshot, Drift, PLAN_FORMAT_VERSION};

    use super::*;

    fn attrs(pairs: &[(&str, Value)]) -> Attrs {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn addr(s: &str) -> NativeAddr {
        s.parse().expect("address")
    }

    fn change(
        address: &str,
        action: Action,
        before: Option<Attrs>,
        after: Option<Attrs>,
    ) -> ResourceChange {
        let address = addr(address);
        let type_name = address
            .native
            .as_ref()
            .map(|(t, _)| t.clone())
            .unwrap_or_else(|| address.component.type_name.clone());
        ResourceChange {
            block_type: address.component.type_name.clone(),
            type_name,
            address,
            provider: "sandbox".into(),
            action,
            id: (action != Action::Create).then(|| "obj-1234".to_string()),
            before,
            after,
            replace_because: Vec::new(),
            create_before_destroy: false,
            depends_on: Vec::new(),
        }
    }

    fn plan(changes: Vec<ResourceChange>) -> Plan {
        Plan {
            format_version: PLAN_FORMAT_VERSION,
            mode: PlanMode::Apply,
            stack: "default".into(),
            state_lineage: Some("4f1c".into()),
            state_serial: 3,
            changes,
            outputs: Vec::new(),
            drift: Vec::new(),
            snapshot: ConfigSnapshot {
                dir: ".".into(),
                files: Vec::new(),
                variables: BTreeMap::new(),
            },
            targets: Vec::new(),
            excludes: Vec::new(),
            warnings: Default::default(),
        }
    }

    fn create_plan() -> Plan {
        let mut p = plan(vec![
            change(
                "network.main.sandbox_vpc.vpc",
                Action::Create,
                None,
                Some(attrs(&[
                    ("cidr", Value::from("10.0.0.0/16")),
                    ("id", Value::Unknown),
                    ("name", Value::from("ss-main")),
                    ("tags", Value::Null),
                ])),
            ),
            change(
                "network.main.sandbox_subnet.zone_0",
                Action::Create,
                None,
                Some(attrs(&[
                    ("cidr", Value::from("10.0.0.0/20")),
                    ("vpc_id", Value::Unknown),
                    ("zone", Value::from("sbx-1a")),
                ])),
            ),
            change(
                "sandbox_object.a",
                Action::Create,
                None,
                Some(attrs(&[
                    (
                        "input",
                        Value::List(vec![Value::from(1), Value::from("two")]),
                    ),
                    ("output", Value::Unknown),
                ])),
            ),
        ]);
        p.outputs.push(OutputChange {
            name: "vpc_id".into(),
            before: None,
            after: Some(Value::Unknown),
            sensitive: false,
        });
        p
    }

    #[test]
    fn create() {
        insta::assert_snapshot!(plan_text(&create_plan(), false));
    }

    #[test]
    fn update_in_place() {
        let p = plan(vec![change(
            "postgres.meta.sandbox_pg_instance.primary",
            Action::Update,
            Some(attrs(&[
                ("id", Value::from("obj-1234")),
                ("size", Value::from("medium")),
                ("storage_gb", Value::from(100)),
                ("tags", Value::Null),
                ("version", Value::from("16")),
            ])),
            Some(attrs(&[
                ("id", Value::from("obj-1234")),
                ("size", Value::from("large")),
                ("storage_gb", Value::from(200)),
                (
                    "tags",
                    Value::Map(BTreeMap::from([("team".into(), Value::from("bi"))])),
                ),
                ("version", Value::from("16")),
            ])),
        )]);
        insta::assert_snapshot!(plan_text(&p, false));
    }

    #[test]
    fn replace_with_forces_replacement() {
        let mut c = change(
            "sandbox_object.a",
            Action::Replace,
            Some(attrs(&[
                ("id", Value::from("obj-1234")),
                ("input", Value::from("x")),
                ("output", Value::from("x")),
                ("replace_on", Value::from("v1")),
            ])),
            Some(attrs(&[
                ("id", Value::Unknown),
                ("input", Value::from("x")),
                ("output", Value::Unknown),
                ("replace_on", Value::from("v2")),
            ])),
        );
        c.replace_because = vec!["replace_on".into()];
        let mut cbd = c.clone();
        cbd.address = addr("sandbox_object.b");
        cbd.create_before_destroy = true;
        insta::assert_snapshot!(plan_text(&plan(vec![c, cbd]), false));
    }

    #[test]
    fn delete() {
        let mut p = plan(vec![change(
            "redis_cluster.cache.sandbox_redis_shard.s0",
            Action::Delete,
            Some(attrs(&[
                ("id", Value::from("obj-1234")),
                ("replicas", Value::from(1)),
                ("size", Value::from("small")),
            ])),
            None,
        )]);
        p.mode = PlanMode::Destroy;
        p.outputs.push(OutputChange {
            name: "cache_endpoint".into(),
            before: Some(Value::from("cache.sbx:6379")),
            after: None,
            sensitive: false,
        });
        insta::assert_snapshot!(plan_text(&p, false));
    }

    #[test]
    fn no_changes() {
        let mut p = plan(vec![change(
            "sandbox_object.a",
            Action::NoOp,
            Some(attrs(&[("input", Value::from("x"))])),
            Some(attrs(&[("input", Value::from("x"))])),
        )]);
        p.outputs.push(OutputChange {
            name: "same".into(),
            before: Some(Value::from("x")),
            after: Some(Value::from("x")),
            sensitive: false,
        });
        assert!(!p.has_changes());
        insta::assert_snapshot!(plan_text(&p, false));
        p.mode = PlanMode::Destroy;
        p.changes.clear();
        assert!(plan_text(&p, false).contains("No objects need to be destroyed."));
    }

    fn sensitive_plan() -> Plan {
        let secret = Value::from("hunter2-s3cr3t").sensitive();
        let mut p = plan(vec![
            change(
                "postgres.meta.sandbox_pg_instance.primary",
                Action::Create,
                None,
                Some(attrs(&[
                    ("password", secret.clone()),
                    ("username", Value::from("superset")),
                    (
                        "settings",
                        Value::Map(BTreeMap::from([
                            (
                                "conn".into(),
                                Value::from("postgres://u:hunter2-s3cr3t@h").sensitive(),
                            ),
                            ("port".into(), Value::from(5432)),
                        ])),
                    ),
                ])),
            ),
            change(
                "sandbox_object.rotate",
                Action::Update,
                Some(attrs(&[(
                    "input",
                    Value::from("old-hunter2-s3cr3t").sensitive(),
                )])),
                Some(attrs(&[("input", secret.clone())])),
            ),
        ]);
        p.outputs.push(OutputChange {
            name: "db_password".into(),
            before: None,
            after: Some(secret),
            sensitive: true,
        });
        p.outputs.push(OutputChange {
            name: "db_password_unmarked".into(),
            before: Some(Value::from("old-hunter2-s3cr3t")),
            after: Some(Value::from("hunter2-s3cr3t")),
            sensitive: true,
        });
        p
    }

    #[test]
    fn sensitive() {
        let text = plan_text(&sensitive_plan(), false);
        assert!(!text.contains("hunter2"), "{text}");
        insta::assert_snapshot!(text);
    }

    fn drift_plan() -> Plan {
        let mut p = plan(vec![change(
            "sandbox_object.a",
            Action::Update,
            Some(attrs(&[("input", Value::from("edited"))])),
            Some(attrs(&[("input", Value::from("original"))])),
        )]);
        p.drift = vec![
            Drift {
                address: addr("sandbox_object.a"),
                type_name: "sandbox_object".into(),
                id: "obj-1234".into(),
                changes: Some(vec![AttrDrift {
                    name: "input".into(),
                    recorded: Value::from("original"),
                    actual: Value::from("edited"),
                }]),
            },
            Drift {
                address: addr("network.main.sandbox_subnet.zone_2"),
                type_name: "sandbox_subnet".into(),
                id: "subnet-9".into(),
                changes: None,
            },
        ];
        p
    }

    #[test]
    fn drift() {
        insta::assert_snapshot!(plan_text(&drift_plan(), false));
    }

    #[test]
    fn colour_is_off_unless_asked_and_on_when_asked() {
        let p = create_plan();
        assert!(!plan_text(&p, false).contains('\u{1b}'));
        let coloured = plan_text(&p, true);
        assert!(coloured.contains("\u{1b}[32m+"), "{coloured}");
    }

    #[test]
    fn summary_line_counts_replace_as_add_and_destroy() {
        let mut c = change(
            "sandbox_object.a",
            Action::Replace,
            Some(attrs(&[("replace_on", Value::from("1"))])),
            Some(attrs(&[("replace_on", Value::from("2"))])),
        );
        c.replace_because = vec!["replace_on".into()];
        let text = plan_text(&plan(vec![c]), false);
        assert!(
            text.contains("Plan: 1 to add, 0 to change, 1 to destroy."),
            "{text}"
        );
    }

    #[test]
    fn natives_are_grouped_under_their_component_in_first_seen_order() {
        let created = |a: &str| {
            change(
                a,
                Action::Create,
                None,
                Some(attrs(&[("x", Value::from(1))])),
            )
        };
        let text = plan_text(
            &plan(vec![
                created("network.main.sandbox_vpc.vpc"),
                created("sandbox_object.a"),
                created("postgres.meta.sandbox_pg_instance.primary"),
                created("network.main.sandbox_subnet.zone_0"),
            ]),
            false,
        );
        let at = |needle: &str| text.find(needle).expect(needle);
        assert_eq!(text.matches("network.main (network):").count(), 1, "{text}");
        assert!(at("# network.main.sandbox_subnet.zone_0") < at("# sandbox_object.a"));
        assert!(at("# sandbox_object.a") < at("postgres.meta (postgres):"));
        assert!(
            !text.contains("sandbox_object.a (sandbox_object)"),
            "{text}"
        );
    }

    #[test]
    fn json_never_contains_a_sensitive_value() {
        let mut p = sensitive_plan();
        p.drift.push(Drift {
            address: addr("sandbox_object.rotate"),
            type_name: "sandbox_object".into(),
            id: "obj-1".into(),
            changes: Some(vec![AttrDrift {
                name: "input".into(),
                recorded: Value::from("hunter2-s3cr3t").sensitive(),
                actual: Value::from("hunter2-other").sensitive(),
            }]),
        });
        let doc = plan_json(&p);
        let text = doc.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        let pg = &doc["resource_changes"][0];
        assert_eq!(pg["after"]["password"], json!("(sensitive value)"));
        assert_eq!(pg["after_sensitive"], json!(["password", "settings"]));
        assert_eq!(
            doc["output_changes"][1]["after"],
            json!("(sensitive value)")
        );
    }

    #[test]
    fn json_document_shape() {
        let doc = plan_json(&create_plan());
        assert_eq!(doc["format_version"], json!("1"));
        assert_eq!(doc["mode"], json!("apply"));
        assert_eq!(doc["summary"], json!({"add": 3, "change": 0, "destroy": 0}));
        let vpc = &doc["resource_changes"][0];
        assert_eq!(vpc["address"], json!("network.main.sandbox_vpc.vpc"));
        assert_eq!(vpc["block_type"], json!("network"));
        assert_eq!(vpc["type"], json!("sandbox_vpc"));
        assert_eq!(vpc["action"], json!("create"));
        assert_eq!(vpc["before"], json!(null));
        assert_eq!(vpc["after"]["cidr"], json!("10.0.0.0/16"));
        assert_eq!(vpc["after"]["id"], json!(null));
        assert_eq!(vpc["after_unknown"], json!(["id"]));
        assert_eq!(doc["output_changes"][0]["action"], json!("create"));
        assert_eq!(doc["output_changes"][0]["after_unknown"], json!(true));
    }
}
