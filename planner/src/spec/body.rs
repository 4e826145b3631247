//! Evaluating a block body against a provider schema, and finding where an attribute path is
//! written.

use std::collections::{BTreeMap, BTreeSet};

use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, ObjectKey};
use provider_api::Value;
use provider_api::schema::{BlockSchema, Body, Nesting, Presence};

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
    let failed = eval_attributes(body, schema, ctx, &mut out, &mut errors);
    absent_attributes(body, schema, at, &failed, &mut out, &mut errors);
    let mut by_type = blocks_by_type(body, schema, &mut errors);
    for (name, block_schema) in &schema.blocks {
        let blocks = by_type.remove(name.as_str()).unwrap_or_default();
        check_block_count(name, block_schema, &blocks, at, &mut errors);
        if blocks.is_empty() {
            continue;
        }
        if let Some(value) = eval_blocks(name, block_schema, blocks, ctx, &mut errors) {
            out.insert(name.clone(), value);
        }
    }
    if errors.has_errors() {
        // Reported in source order, however the schema walk found them.
        errors.0.sort_by_key(|d| d.span);
        Err(errors)
    } else {
        Ok(out)
    }
}

/// The names a body may set: configurable attributes and block types.
fn settable_names(schema: &Body) -> impl Iterator<Item = &str> {
    schema
        .attributes
        .iter()
        .filter(|(_, a)| a.is_configurable())
        .map(|(n, _)| n.as_str())
        .chain(schema.blocks.keys().map(String::as_str))
}

/// Evaluates the attributes the body sets into `out`; returns those whose problem is already
/// reported, so that no "missing" error follows.
fn eval_attributes<'b>(
    body: &'b BlockBody,
    schema: &Body,
    ctx: &EvalContext,
    out: &mut BTreeMap<String, Value>,
    errors: &mut Diagnostics,
) -> BTreeSet<&'b str> {
    let mut failed = BTreeSet::new();
    for attr in &body.attributes {
        let name = attr.name.as_str();
        let Some(attr_schema) = schema.attributes.get(name) else {
            let summary = if schema.blocks.contains_key(name) {
                format!("\"{name}\" is a block, not an attribute: write {name} {{ ... }}")
            } else {
                format!(
                    "unknown attribute \"{name}\"{}",
                    did_you_mean(name, settable_names(schema))
                )
            };
            errors.push(SpecDiagnostic::error(summary, Some(attr.name_span)));
            continue;
        };
        if !attr_schema.is_configurable() {
            errors.push(SpecDiagnostic::error(
                format!("\"{name}\" is computed by the provider and cannot be set"),
                Some(attr.name_span),
            ));
            failed.insert(name);
            continue;
        }
        let value = match eval(&attr.expr, ctx) {
            Ok(v) => v,
            Err(d) => {
                errors.extend(d);
                failed.insert(name);
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
            failed.insert(name);
            continue;
        }
        let value = attr_schema.ty.convert(value);
        out.insert(name.to_string(), value.mark_if(attr_schema.sensitive));
    }
    failed
}

/// Gives absent attributes their schema default, and reports absent required ones (at `at`,
/// or at the value of an attribute set to `null`).
fn absent_attributes(
    body: &BlockBody,
    schema: &Body,
    at: Span,
    failed: &BTreeSet<&str>,
    out: &mut BTreeMap<String, Value>,
    errors: &mut Diagnostics,
) {
    for (name, attr_schema) in &schema.attributes {
        if out.contains_key(name) || failed.contains(name.as_str()) {
            continue;
        }
        match (&attr_schema.default, attr_schema.presence) {
            (Some(default), presence) if presence != Presence::Computed => {
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
}

/// The body's nested blocks by type; those of a type the schema lacks are reported.
fn blocks_by_type<'b>(
    body: &'b BlockBody,
    schema: &Body,
    errors: &mut Diagnostics,
) -> BTreeMap<&'b str, Vec<&'b NestedBlock>> {
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
            format!(
                "unknown block type \"{name}\"{}",
                did_you_mean(name, settable_names(schema))
            )
        };
        errors.push(SpecDiagnostic::error(summary, Some(block.span)));
    }
    by_type
}

/// Reports too few blocks of a type (at `at`) or too many (at the first extra one).
fn check_block_count(
    name: &str,
    block_schema: &BlockSchema,
    blocks: &[&NestedBlock],
    at: Span,
    errors: &mut Diagnostics,
) {
    if blocks.len() < block_schema.min_items {
        errors.push(SpecDiagnostic::error(
            format!(
                "at least {} \"{name}\" block{} required, found {}",
                block_schema.min_items,
                if block_schema.min_items == 1 {
                    " is"
                } else {
                    "s are"
                },
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
}

/// The value of the blocks of one type, per [`Nesting`]; blocks with the wrong number of
/// labels, errors inside, or a repeated label are reported and left out.
fn eval_blocks(
    name: &str,
    block_schema: &BlockSchema,
    blocks: Vec<&NestedBlock>,
    ctx: &EvalContext,
    errors: &mut Diagnostics,
) -> Option<Value> {
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
    match block_schema.nesting {
        Nesting::Single => values.into_iter().next(),
        Nesting::List => Some(Value::List(values)),
        Nesting::Labelled => Some(Value::Map(keyed)),
    }
}

/// Where an attribute path (as in [`provider_api::Diagnostic::path`], e.g.
/// `["node_pool", "web", "min"]` or `["cache_rule", "0", "ttl"]`) is written in a body. Falls
/// back to the closest enclosing span.
pub fn span_of_path(body: &BlockBody, path: &[String]) -> Option<Span> {
    find_path(body, path).or(Some(body.span))
}

/// The span of the path in the body, `None` when its first element is written nowhere in it.
fn find_path(body: &BlockBody, path: &[String]) -> Option<Span> {
    let (first, rest) = path.split_first()?;
    if let Some(attr) = body.attribute(first) {
        return Some(span_in_expr(&attr.expr, &attr.expr.expr, rest));
    }
    let blocks: Vec<&NestedBlock> = body
        .blocks
        .iter()
        .filter(|b| &b.type_name == first)
        .collect();
    let first_block = blocks.first()?;
    let Some((key, after)) = rest.split_first() else {
        return Some(first_block.span);
    };
    // The next path element selects a block by label or by position; when it does neither, the
    // block type is single and the element is an attribute inside it.
    let by_label = blocks.iter().find(|b| b.labels.first() == Some(key));
    let by_index = key.parse::<usize>().ok().and_then(|i| blocks.get(i));
    let (block, inner) = match (by_label, by_index) {
        (Some(block), _) | (None, Some(block)) => (block, after),
        (None, None) if first_block.labels.is_empty() => (first_block, rest),
        (None, None) => return Some(first_block.span),
    };
    find_path(&block.body, inner).or(Some(block.span))
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use provider_api::schema::{AttrType, AttributeSchema, BlockSchema};

    use super::*;
    use crate::spec::diag::SourceFile;
    use crate::spec::load::load_sources;
    use crate::spec::testutil::{render, show};

    fn block(nesting: Nesting, min: usize, max: Option<usize>, body: Body) -> BlockSchema {
        BlockSchema {
            nesting,
            min_items: min,
            max_items: max,
            body,
            force_new: false,
            description: "",
        }
    }

    fn schema() -> Body {
        Body::default()
            .attr("region", AttributeSchema::required(AttrType::String, ""))
            .attr(
                "zones",
                AttributeSchema::optional(AttrType::Number, "").default(3),
            )
            .attr("id", AttributeSchema::computed(AttrType::String, ""))
            .attr(
                "password",
                AttributeSchema::optional(AttrType::String, "").sensitive(),
            )
            .attr(
                "tags",
                AttributeSchema::optional(AttrType::Map(Box::new(AttrType::String)), ""),
            )
            .block(
                "node_pool",
                block(
                    Nesting::Labelled,
                    0,
                    None,
                    Body::default()
                        .attr("size", AttributeSchema::required(AttrType::String, ""))
                        .attr("min", AttributeSchema::optional(AttrType::Number, "")),
                ),
            )
            .block(
                "health_check",
                block(
                    Nesting::Single,
                    0,
                    None,
                    Body::default().attr("path", AttributeSchema::required(AttrType::String, "")),
                ),
            )
            .block(
                "cache_rule",
                block(
                    Nesting::List,
                    1,
                    Some(2),
                    Body::default()
                        .attr("path", AttributeSchema::required(AttrType::String, ""))
                        .attr("ttl", AttributeSchema::optional(AttrType::Number, "")),
                ),
            )
    }

    fn resource(body: &str) -> (crate::spec::Config, BlockBody) {
        let text = format!("resource \"x\" \"y\" {{\n{body}\n}}\n");
        let files = vec![SourceFile {
            name: "main.hcl".into(),
            text,
        }];
        let config = load_sources(Path::new("/spec"), files).map_err(|d| d.to_string());
        let config = config.unwrap_or_else(|e| unreachable!("{e}"));
        let body = config.resources[0].body.clone();
        (config, body)
    }

    /// Evaluates the body (written inside a resource block starting on line 2) against the
    /// schema; `expected` is the result with marks spelled out, or the errors.
    fn check(body: &str, expected: &str) {
        let (config, block) = resource(body);
        let ctx = EvalContext::constant(Path::new("/spec"));
        let at = config.resources[0].span;
        match eval_body(&block, &schema(), &ctx, at) {
            Ok(values) => assert_eq!(show(&Value::Map(values)), expected, "{body}"),
            Err(d) => assert_eq!(
                render(&config.sources, &d)
                    .replace("main.hcl:", "")
                    .trim_end(),
                expected,
                "{body}"
            ),
        }
    }

    #[test]
    fn values_and_defaults() {
        check(
            "region = \"eu\"\ncache_rule { path = \"/static\" }",
            "{cache_rule = [{path = \"/static\"}], region = \"eu\", zones = 3}",
        );
        check(
            "region = \"eu\"\nzones = \"5\"\npassword = \"pw\"\ntags = { a = 1 }\n\
             node_pool \"web\" {\n  size = \"large\"\n  min = 5\n}\n\
             node_pool \"worker\" { size = \"small\" }\n\
             health_check { path = \"/health\" }\n\
             cache_rule { path = \"/a\" }\ncache_rule {\n  path = \"/b\"\n  ttl = 60\n}",
            "{cache_rule = [{path = \"/a\"}, {path = \"/b\", ttl = 60}], health_check = {path = \"/health\"}, \
             node_pool = {web = {min = 5, size = \"large\"}, worker = {size = \"small\"}}, password = sensitive(\"pw\"), \
             region = \"eu\", tags = {a = \"1\"}, zones = 5}",
        );
        check(
            "region = \"eu\"\nzones = null\ncache_rule { path = \"/\" }",
            "{cache_rule = [{path = \"/\"}], region = \"eu\", zones = 3}",
        );
    }

    #[test]
    fn errors_with_locations() {
        check(
            "regoin = \"eu\"\nzones = \"three\"\nid = \"x\"\nnode_pools \"a\" {}\ncache_rule { path = \"/\" }",
            "1:1: missing required attribute \"region\"\n\
             2:1: unknown attribute \"regoin\" (did you mean \"region\"?)\n\
             3:9: wrong type for \"zones\": expected number, found string\n\
             4:1: \"id\" is computed by the provider and cannot be set\n\
             5:1: unknown block type \"node_pools\" (did you mean \"node_pool\"?)",
        );
        check(
            "region = 1\ntags = [\"a\"]",
            "1:1: at least 1 \"cache_rule\" block is required, found 0\n\
             3:8: wrong type for \"tags\": expected map(string), found list",
        );
        check(
            "region = \"eu\"\nnode_pool { size = \"s\" }\nnode_pool \"a\" { min = \"x\" }\n\
             health_check { path = \"/\" }\nhealth_check { path = \"/\" }\n\
             cache_rule { path = \"/\" }\ncache_rule { path = \"/\" }\ncache_rule { path = \"/\" }",
            "3:1: a \"node_pool\" block takes 1 label (node_pool \"NAME\" { ... }), found 0\n\
             4:1: missing required attribute \"size\"\n\
             4:23: wrong type for \"min\": expected number, found string\n\
             6:1: at most 1 \"health_check\" block is allowed\n\
             9:1: at most 2 \"cache_rule\" blocks are allowed",
        );
        check(
            "region = var.nope\nhealth_check = {}\ncache_rule { path = \"/\" }",
            "2:10: undeclared variable \"nope\"\n3:1: \"health_check\" is a block, not an attribute: write health_check { ... }",
        );
    }

    #[test]
    fn spans_of_paths() {
        let (config, body) = resource(
            "region = \"eu\"\ntags = { a = \"1\", b = [1, 2] }\n\
             node_pool \"web\" {\n  min = 5\n}\n\
             cache_rule { path = \"/a\" }\ncache_rule {\n  ttl = 60\n}\n\
             health_check { path = \"/h\" }",
        );
        let cases: &[(&[&str], &str)] = &[
            (&[], "main.hcl:1:19"),
            (&["region"], "main.hcl:2:10"),
            (&["tags", "a"], "main.hcl:3:14"),
            (&["tags", "b", "1"], "main.hcl:3:27"),
            (&["tags", "zz"], "main.hcl:3:8"),
            (&["node_pool", "web", "min"], "main.hcl:5:9"),
            (&["node_pool", "web", "max"], "main.hcl:4:1"),
            (&["node_pool", "db"], "main.hcl:4:1"),
            (&["cache_rule", "1", "ttl"], "main.hcl:9:9"),
            (&["cache_rule", "0"], "main.hcl:7:1"),
            (&["health_check", "path"], "main.hcl:11:23"),
            (&["missing"], "main.hcl:1:19"),
        ];
        for (path, expected) in cases {
            let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
            let span = span_of_path(&body, &path).map(|s| config.sources.location(s));
            assert_eq!(span.as_deref(), Some(*expected), "{path:?}");
        }
    }
}
