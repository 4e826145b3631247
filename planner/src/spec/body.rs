//! Evaluating a block body against a provider schema, and finding where an attribute path is
//! written.

use std::collections::BTreeMap;

use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, ObjectKey};
use provider_api::Value;
use provider_api::schema::{Body, Nesting, Presence};

use super::diag::{Diagnostics, Span, SpecDiagnostic};
use super::eval::{EvalContext, eval};
use super::model::{BlockBody, Expr, NestedBlock};
use super::suggest::did_you_mean;

/// Evaluates a resource, provider or backend body against a schema.
///
/// Reports, all together: unknown attributes and block types (with a suggestion), computed-only
/// attributes that are set, missing required attributes (at `at`), values of the wrong type (at
/// the value), and blocks out of their min/max count. Absent optional attributes with a schema
/// default get it; sensitive attributes are marked sensitive; an attribute set to `null` counts
/// as absent. Nested blocks become values per [`Nesting`]: `Single` → an object, `List` → a
/// list of objects, `Labelled` → an object keyed by label; block types that are absent are
/// left out of the result.
pub fn eval_body(
    body: &BlockBody,
    schema: &Body,
    ctx: &EvalContext,
    at: Span,
) -> Result<BTreeMap<String, Value>, Diagnostics> {
    let mut out = BTreeMap::new();
    let mut errors = Diagnostics::default();
    let names = || {
        schema
            .attributes
            .iter()
            .filter(|(_, a)| a.is_configurable())
            .map(|(n, _)| n.as_str())
            .chain(schema.blocks.keys().map(String::as_str))
    };
    for attr in &body.attributes {
        let name = attr.name.as_str();
        let Some(attr_schema) = schema.attributes.get(name) else {
            let summary = if schema.blocks.contains_key(name) {
                format!("\"{name}\" is a block, not an attribute: write {name} {{ ... }}")
            } else {
                format!("unknown attribute \"{name}\"{}", did_you_mean(name, names()))
            };
            errors.push(SpecDiagnostic::error(summary, Some(attr.name_span)));
            continue;
        };
        if !attr_schema.is_configurable() {
            errors.push(SpecDiagnostic::error(
                format!("\"{name}\" is computed by the provider and cannot be set"),
                Some(attr.name_span),
            ));
            continue;
        }
        let value = match eval(&attr.expr, ctx) {
            Ok(v) => v,
            Err(d) => {
                errors.extend(d);
                continue;
            }
        };
        if value.is_null() {
            continue;
        }
        if let Err(e) = attr_schema.ty.check(&value) {
            errors.push(SpecDiagnostic::error(
                format!("wrong type for \"{name}\": {e}"),
                Some(attr.expr.span()),
            ));
            continue;
        }
        let value = attr_schema.ty.convert(value);
        out.insert(name.to_string(), value.mark_if(attr_schema.sensitive));
    }
    for (name, attr_schema) in &schema.attributes {
        if out.contains_key(name) || body.attribute(name).is_some_and(|a| !is_null_literal(&a.expr)) && !out.contains_key(name) && errors.has_errors() {
            continue;
        }
        match (&attr_schema.default, attr_schema.presence) {
            (Some(default), Presence::Optional | Presence::OptionalComputed | Presence::Required) => {
                out.insert(name.clone(), default.clone().mark_if(attr_schema.sensitive));
            }
            (None, Presence::Required) => {
                let span = body.attribute(name).map_or(at, |a| a.expr.span());
                errors.push(SpecDiagnostic::error(
                    format!("missing required attribute \"{name}\""),
                    Some(span),
                ));
            }
            _ => {}
        }
    }
    let mut by_type: BTreeMap<&str, Vec<&NestedBlock>> = BTreeMap::new();
    for block in &body.blocks {
        let name = block.type_name.as_str();
        if schema.blocks.contains_key(name) {
            by_type.entry(name).or_default().push(block);
            continue;
        }
        let summary = if schema.attributes.contains_key(name) {
            format!("\"{name}\" is an attribute, not a block: write {name} = ...")
        } else {
            format!("unknown block type \"{name}\"{}", did_you_mean(name, names()))
        };
        errors.push(SpecDiagnostic::error(summary, Some(block.span)));
    }
    for (name, block_schema) in &schema.blocks {
        let blocks = by_type.remove(name.as_str()).unwrap_or_default();
        if blocks.len() < block_schema.min_items {
            errors.push(SpecDiagnostic::error(
                format!(
                    "at least {} \"{name}\" block{} required, found {}",
                    block_schema.min_items,
                    if block_schema.min_items == 1 { " is" } else { "s are" },
                    blocks.len()
                ),
                Some(at),
            ));
        }
        let max = match block_schema.nesting {
            Nesting::Single => Some(1),
            _ => block_schema.max_items,
        };
        if let Some(extra) = max.and_then(|m| blocks.get(m)) {
            errors.push(SpecDiagnostic::error(
                format!(
                    "at most {} \"{name}\" block{} allowed",
                    max.unwrap_or(0),
                    if max == Some(1) { " is" } else { "s are" }
                ),
                Some(extra.span),
            ));
        }
        if blocks.is_empty() {
            continue;
        }
        let labels_wanted = usize::from(block_schema.nesting == Nesting::Labelled);
        let mut values = Vec::new();
        let mut keyed = BTreeMap::new();
        for block in blocks {
            if block.labels.len() != labels_wanted {
                let usage = if labels_wanted == 1 {
                    format!("{name} \"NAME\" {{ ... }}")
                } else {
                    format!("{name} {{ ... }}")
                };
                errors.push(SpecDiagnostic::error(
                    format!(
                        "a \"{name}\" block takes {labels_wanted} label{} ({usage}), found {}",
                        if labels_wanted == 1 { "" } else { "s" },
                        block.labels.len()
                    ),
                    Some(block.span),
                ));
                continue;
            }
            let value = match eval_body(&block.body, &block_schema.body, ctx, block.span) {
                Ok(v) => Value::Map(v),
                Err(d) => {
                    errors.extend(d);
                    continue;
                }
            };
            match block.labels.first() {
                Some(label) if keyed.contains_key(label) => {
                    errors.push(SpecDiagnostic::error(
                        format!("duplicate \"{name}\" block \"{label}\""),
                        Some(block.span),
                    ));
                }
                Some(label) => {
                    keyed.insert(label.clone(), value);
                }
                None => values.push(value),
            }
        }
        let value = match block_schema.nesting {
            Nesting::Single => values.into_iter().next(),
            Nesting::List => Some(Value::List(values)),
            Nesting::Labelled => Some(Value::Map(keyed)),
        };
        if let Some(value) = value {
            out.insert(name.clone(), value);
        }
    }
    if errors.has_errors() {
        Err(errors)
    } else {
        Ok(out)
    }
}

fn is_null_literal(expr: &Expr) -> bool {
    matches!(expr.expr, Expression::Null(_))
}

/// Where an attribute path (as in [`provider_api::Diagnostic::path`], e.g.
/// `["node_pool", "web", "min"]` or `["cache_rule", "0", "ttl"]`) is written in a body. Falls
/// back to the closest enclosing span.
pub fn span_of_path(body: &BlockBody, path: &[String]) -> Option<Span> {
    let Some((first, rest)) = path.split_first() else {
        return Some(body.span);
    };
    if let Some(attr) = body.attribute(first) {
        if rest.is_empty() {
            return Some(attr.expr.span());
        }
        return Some(span_in_expr(&attr.expr, &attr.expr.expr, rest));
    }
    let blocks: Vec<&NestedBlock> = body.blocks.iter().filter(|b| &b.type_name == first).collect();
    let Some(first_block) = blocks.first() else {
        return Some(body.span);
    };
    let Some((key, after)) = rest.split_first() else {
        return Some(first_block.span);
    };
    // The next path element selects a block by label or by position; when it does neither, the
    // block type is single and the element is an attribute inside it.
    let by_label = blocks.iter().find(|b| b.labels.first() == Some(key));
    let by_index = key.parse::<usize>().ok().and_then(|i| blocks.get(i));
    match (by_label, by_index) {
        (Some(block), _) | (None, Some(block)) => {
            span_of_path(&block.body, after).or(Some(block.span))
        }
        (None, None) if first_block.labels.is_empty() => {
            span_of_path(&first_block.body, rest).or(Some(first_block.span))
        }
        (None, None) => Some(first_block.span),
    }
}

/// Follows object keys and tuple indexes into an expression, as far as they are written
/// literally.
fn span_in_expr(outer: &Expr, expr: &Expression, path: &[String]) -> Span {
    let here = outer.span_of(expr.span());
    let Some((first, rest)) = path.split_first() else {
        return here;
    };
    match expr {
        Expression::Object(object) => {
            let found = object.iter().find(|(k, _)| match k {
                ObjectKey::Ident(id) => id.as_str() == first,
                ObjectKey::Expression(Expression::String(s)) => s.value() == first,
                ObjectKey::Expression(_) => false,
            });
            match found {
                Some((_, v)) => span_in_expr(outer, v.expr(), rest),
                None => here,
            }
        }
        Expression::Array(items) => match first.parse::<usize>().ok().and_then(|i| items.get(i)) {
            Some(item) => span_in_expr(outer, item, rest),
            None => here,
        },
        Expression::Parenthesis(p) => span_in_expr(outer, p.inner(), path),
        _ => here,
    }
}
