//! The expression evaluator, over the hcl-edit syntax tree.
//!
//! Two marks travel through every operation: an unknown operand ("known after apply") makes
//! the result unknown, and a sensitive operand makes the result sensitive. Error messages
//! never quote values, so a secret cannot leak through a diagnostic.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;
use std::sync::LazyLock;

use hcl_edit::Span as _;
use hcl_edit::expr::{
    BinaryOp, BinaryOperator, Expression, ForExpr, FuncCall, ObjectKey, Traversal,
    TraversalOperator, UnaryOperator,
};
use hcl_edit::template::{Directive, Element, Template};
use provider_api::Value;

use super::diag::{Diagnostics, SpecDiagnostic};
use super::functions;
use super::model::Expr;
use super::suggest::did_you_mean;

/// What expressions may refer to.
#[derive(Clone, Debug)]
pub struct EvalContext<'a> {
    pub variables: &'a BTreeMap<String, Value>,
    pub locals: &'a BTreeMap<String, Value>,
    /// (type, name) -> value of the resource block: an object of its exported attributes; a
    /// list of objects with count; a map of objects with for_each.
    pub resources: &'a HashMap<(String, String), Value>,
    pub count_index: Option<i64>,
    pub each: Option<(String, Value)>,
    pub workspace: &'a str,
    pub dir: &'a Path,
}

static NO_VALUES: BTreeMap<String, Value> = BTreeMap::new();
static NO_RESOURCES: LazyLock<HashMap<(String, String), Value>> = LazyLock::new(HashMap::new);

impl<'a> EvalContext<'a> {
    /// A context with nothing to refer to, for expressions that must be constant (variable
    /// defaults, `description`, var files).
    pub fn constant(dir: &'a Path) -> EvalContext<'a> {
        EvalContext {
            variables: &NO_VALUES,
            locals: &NO_VALUES,
            resources: &NO_RESOURCES,
            count_index: None,
            each: None,
            workspace: "default",
            dir,
        }
    }
}

/// Evaluates an expression. Every error found is returned together.
pub fn eval(expr: &Expr, ctx: &EvalContext) -> Result<Value, Diagnostics> {
    let ev = Evaluator { ctx, expr };
    ev.eval(&expr.expr, &Scope::default())
}

type Result<T, E = Diagnostics> = std::result::Result<T, E>;

/// Names bound by enclosing `for` expressions and directives, innermost last.
#[derive(Clone, Default)]
struct Scope {
    vars: Vec<(String, Value)>,
}

impl Scope {
    fn get(&self, name: &str) -> Option<&Value> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    fn with(&self, bindings: impl IntoIterator<Item = (String, Value)>) -> Scope {
        let mut vars = self.vars.clone();
        vars.extend(bindings);
        Scope { vars }
    }
}

const ROOT_NAMES: &[&str] = &["var", "local", "count", "each", "ss", "path"];

struct Evaluator<'c, 'a> {
    ctx: &'c EvalContext<'a>,
    expr: &'c Expr,
}

/// Removes a top-level sensitive mark; the flag says whether there was one.
fn peel(value: Value) -> (Value, bool) {
    match value {
        Value::Sensitive(inner) => (peel(*inner).0, true),
        other => (other, false),
    }
}

fn unknown(sensitive: bool) -> Value {
    Value::Unknown.mark_if(sensitive)
}

/// The number a value stands for, converting numeric strings as HCL does.
fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => Some(*n),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

/// Converts a primitive to the string it stands for in templates and object keys.
fn as_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

fn kind_name(value: &Value) -> String {
    match value.peel() {
        Value::List(_) => "list".to_string(),
        other => other.kind().to_string(),
    }
}

impl Evaluator<'_, '_> {
    fn error(&self, range: Option<Range<usize>>, summary: impl Into<String>) -> Diagnostics {
        SpecDiagnostic::error(summary, Some(self.expr.span_of(range))).into()
    }

    fn eval(&self, expr: &Expression, scope: &Scope) -> Result<Value> {
        match expr {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            Expression::Number(n) => n
                .value()
                .as_f64()
                .map(Value::Number)
                .ok_or_else(|| self.error(n.span(), "number out of range")),
            Expression::String(s) => Ok(Value::String(s.value().clone())),
            Expression::Array(items) => {
                let values = self.eval_all(items.iter(), scope)?;
                Ok(Value::List(values))
            }
            Expression::Object(object) => self.object(object, scope),
            Expression::StringTemplate(t) => self.template_value(t, scope),
            Expression::HeredocTemplate(h) => self.template_value(&h.template, scope),
            Expression::Parenthesis(p) => self.eval(p.inner(), scope),
            Expression::Variable(name) => self.variable(name.as_str(), name.span(), scope),
            Expression::Conditional(c) => {
                let cond = self.eval(&c.cond_expr, scope)?;
                let (cond, sensitive) = peel(cond);
                if cond.is_unknown() {
                    // Both branches are still checked so that mistakes show up at plan time.
                    let t = self.eval(&c.true_expr, scope);
                    let f = self.eval(&c.false_expr, scope);
                    merge2(t, f)?;
                    return Ok(unknown(sensitive));
                }
                let Some(cond) = as_bool(&cond) else {
                    return Err(self.error(
                        c.cond_expr.span(),
                        format!("condition must be a bool, found {}", kind_name(&cond)),
                    ));
                };
                let branch = if cond { &c.true_expr } else { &c.false_expr };
                Ok(self.eval(branch, scope)?.mark_if(sensitive))
            }
            Expression::FuncCall(call) => self.call(call, scope),
            Expression::Traversal(t) => self.traversal(t, scope),
            Expression::UnaryOp(op) => {
                let (value, sensitive) = self.eval(&op.expr, scope)?.unmark();
                if value.is_unknown() {
                    return Ok(unknown(sensitive));
                }
                let result = match op.operator.value() {
                    UnaryOperator::Neg => as_number(&value).map(|n| Value::Number(-n)),
                    UnaryOperator::Not => as_bool(&value).map(|b| Value::Bool(!b)),
                };
                let expected = match op.operator.value() {
                    UnaryOperator::Neg => "number",
                    UnaryOperator::Not => "bool",
                };
                result.map(|v| v.mark_if(sensitive)).ok_or_else(|| {
                    self.error(
                        op.expr.span(),
                        format!(
                            "invalid operand for \"{}\": expected {expected}, found {}",
                            op.operator.value().as_str(),
                            kind_name(&value)
                        ),
                    )
                })
            }
            Expression::BinaryOp(op) => self.binary(op, scope),
            Expression::ForExpr(f) => self.for_expr(f, scope),
        }
    }

    /// Evaluates every expression, reporting all their errors together.
    fn eval_all<'e>(
        &self,
        exprs: impl Iterator<Item = &'e Expression>,
        scope: &Scope,
    ) -> Result<Vec<Value>> {
        let mut values = Vec::new();
        let mut errors = Diagnostics::default();
        for e in exprs {
            match self.eval(e, scope) {
                Ok(v) => values.push(v),
                Err(d) => errors.extend(d),
            }
        }
        if errors.0.is_empty() {
            Ok(values)
        } else {
            Err(errors)
        }
    }

    fn object(&self, object: &hcl_edit::expr::Object, scope: &Scope) -> Result<Value> {
        let mut map = BTreeMap::new();
        let mut errors = Diagnostics::default();
        let mut key_unknown = false;
        let mut key_sensitive = false;
        for (key, value) in object.iter() {
            let key = match key {
                ObjectKey::Ident(id) => Some(id.as_str().to_string()),
                ObjectKey::Expression(e) => match self.object_key(e, scope) {
                    Ok((key, unknown, sensitive)) => {
                        key_unknown |= unknown;
                        key_sensitive |= sensitive;
                        key
                    }
                    Err(d) => {
                        errors.extend(d);
                        None
                    }
                },
            };
            match (self.eval(value.expr(), scope), key) {
                (Ok(v), Some(k)) => {
                    map.insert(k, v);
                }
                (Ok(_), None) => {}
                (Err(d), _) => errors.extend(d),
            }
        }
        if !errors.0.is_empty() {
            return Err(errors);
        }
        if key_unknown {
            return Ok(unknown(key_sensitive));
        }
        Ok(Value::Map(map).mark_if(key_sensitive))
    }

    /// An object key written as an expression: a bare name is the key itself, as in HCL.
    fn object_key(&self, e: &Expression, scope: &Scope) -> Result<(Option<String>, bool, bool)> {
        if let Expression::Variable(name) = e {
            return Ok((Some(name.as_str().to_string()), false, false));
        }
        let (key, sensitive) = self.eval(e, scope)?.unmark();
        if key.is_unknown() {
            return Ok((None, true, sensitive));
        }
        match as_string(&key) {
            Some(k) => Ok((Some(k), false, sensitive)),
            None => Err(self.error(
                e.span(),
                format!("object key must be a string, found {}", kind_name(&key)),
            )),
        }
    }

    fn variable(&self, name: &str, range: Option<Range<usize>>, scope: &Scope) -> Result<Value> {
        match scope.get(name) {
            Some(v) => Ok(v.clone()),
            None => Err(self.unbound(name, range, scope)),
        }
    }

    /// The error for a bare name that is neither bound by a `for` nor a complete reference.
    fn unbound(&self, name: &str, range: Option<Range<usize>>, scope: &Scope) -> Diagnostics {
        let summary = match name {
            "var" | "local" => format!("\"{name}\" must be followed by a name: {name}.NAME"),
            "count" => "\"count\" must be followed by \".index\"".to_string(),
            "each" => "\"each\" must be followed by \".key\" or \".value\"".to_string(),
            "ss" => "\"ss\" must be followed by \".workspace\"".to_string(),
            "path" => "\"path\" must be followed by \".module\"".to_string(),
            _ if self.ctx.resources.keys().any(|(t, _)| t == name) => {
                format!("a reference to a resource needs a name: {name}.NAME")
            }
            _ => {
                let candidates = scope
                    .vars
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .chain(ROOT_NAMES.iter().copied());
                format!("unknown name \"{name}\"{}", did_you_mean(name, candidates))
            }
        };
        self.error(range, summary)
    }

    fn traversal(&self, t: &Traversal, scope: &Scope) -> Result<Value> {
        let ops: Vec<&TraversalOperator> = t.operators.iter().map(|op| op.value()).collect();
        let spans: Vec<Option<Range<usize>>> = t.operators.iter().map(|op| op.span()).collect();
        if let Some((value, consumed)) = self.borrowed_prefix(t, &ops, scope) {
            return self.apply_ops(value.clone(), &ops[consumed..], &spans[consumed..], scope);
        }
        let (value, consumed) = self.traversal_root(t, scope)?;
        self.apply_ops(value, &ops[consumed..], &spans[consumed..], scope)
    }

    /// Follows a reference's plain attribute and index steps by reference, so that
    /// `network.main.id` clones one string rather than the whole resource (or, for a block
    /// with `count`, every instance). Returns the value reached and how many operators that
    /// used, or `None` to leave everything to the general path: a name bound in `scope`, an
    /// unknown or sensitive value on the way (their marks must carry over), or anything that
    /// would be an error (reported there).
    fn borrowed_prefix<'v>(
        &'v self,
        t: &Traversal,
        ops: &[&TraversalOperator],
        scope: &Scope,
    ) -> Option<(&'v Value, usize)> {
        let Expression::Variable(root) = &t.expr else {
            return None;
        };
        let name = root.as_str();
        if scope.get(name).is_some() {
            return None;
        }
        let Some(TraversalOperator::GetAttr(attr)) = ops.first() else {
            return None;
        };
        let attr = attr.as_str();
        let ctx = self.ctx;
        let mut current: &'v Value = match name {
            "var" => ctx.variables.get(attr)?,
            "local" => ctx.locals.get(attr)?,
            "count" | "each" | "ss" | "path" => return None,
            type_name => ctx
                .resources
                .get(&(type_name.to_string(), attr.to_string()))?,
        };
        let mut used = 1;
        for op in &ops[1..] {
            let next = match (op, current) {
                (TraversalOperator::GetAttr(key), Value::Map(map)) => map.get(key.as_str()),
                (TraversalOperator::LegacyIndex(i), Value::List(items)) => {
                    usize::try_from(*i.value()).ok().and_then(|i| items.get(i))
                }
                _ => None,
            };
            match next {
                Some(v) if !matches!(v, Value::Unknown | Value::Sensitive(_)) => {
                    current = v;
                    used += 1;
                }
                _ => break,
            }
        }
        if matches!(current, Value::Unknown | Value::Sensitive(_)) {
            return None;
        }
        Some((current, used))
    }

    /// The value a traversal starts from and how many operators that consumed
    /// (`var.x` consumes `.x`, `network.main` consumes `.main`).
    fn traversal_root(&self, t: &Traversal, scope: &Scope) -> Result<(Value, usize)> {
        let Expression::Variable(root) = &t.expr else {
            return Ok((self.eval(&t.expr, scope)?, 0));
        };
        let name = root.as_str();
        if scope.get(name).is_some() {
            return Ok((self.variable(name, root.span(), scope)?, 0));
        }
        let first = t.operators.first();
        let Some((TraversalOperator::GetAttr(attr), first)) = first.map(|op| (op.value(), op))
        else {
            return Err(self.unbound(name, root.span(), scope));
        };
        let attr = attr.as_str();
        let span = match (root.span(), first.span()) {
            (Some(r), Some(f)) => Some(r.start..f.end),
            _ => t.span(),
        };
        let ctx = self.ctx;
        let value = match name {
            "var" => ctx.variables.get(attr).cloned().ok_or_else(|| {
                self.error(
                    span.clone(),
                    format!(
                        "undeclared variable \"{attr}\"{}",
                        did_you_mean(attr, ctx.variables.keys().map(String::as_str))
                    ),
                )
            })?,
            "local" => ctx.locals.get(attr).cloned().ok_or_else(|| {
                self.error(
                    span.clone(),
                    format!(
                        "undeclared local value \"{attr}\"{}",
                        did_you_mean(attr, ctx.locals.keys().map(String::as_str))
                    ),
                )
            })?,
            "count" => match (attr, ctx.count_index) {
                ("index", Some(i)) => Value::from(i),
                ("index", None) => {
                    return Err(self.error(
                        span,
                        "count.index can only be used in a resource that sets count",
                    ));
                }
                _ => {
                    return Err(self.error(
                        span,
                        format!("count has no attribute \"{attr}\" (did you mean \"index\"?)"),
                    ));
                }
            },
            "each" => match (attr, &ctx.each) {
                ("key", Some((k, _))) => Value::String(k.clone()),
                ("value", Some((_, v))) => v.clone(),
                ("key" | "value", None) => {
                    return Err(self.error(
                        span,
                        format!("each.{attr} can only be used in a resource that sets for_each"),
                    ));
                }
                _ => {
                    return Err(self.error(
                        span,
                        format!(
                            "each has no attribute \"{attr}\"{}",
                            did_you_mean(attr, ["key", "value"])
                        ),
                    ));
                }
            },
            "ss" if attr == "workspace" => Value::string(ctx.workspace),
            "path" if attr == "module" => Value::String(ctx.dir.display().to_string()),
            "ss" | "path" => {
                let only = if name == "ss" { "workspace" } else { "module" };
                return Err(self.error(
                    span,
                    format!("{name} has no attribute \"{attr}\" (it has only \"{only}\")"),
                ));
            }
            type_name => {
                let key = (type_name.to_string(), attr.to_string());
                match ctx.resources.get(&key) {
                    Some(v) => v.clone(),
                    None => {
                        let mut names: Vec<String> = ctx
                            .resources
                            .keys()
                            .map(|(t, n)| format!("{t}.{n}"))
                            .collect();
                        names.sort();
                        let wanted = format!("{type_name}.{attr}");
                        return Err(self.error(
                            span,
                            format!(
                                "reference to undeclared resource \"{wanted}\"{}",
                                did_you_mean(&wanted, names.iter().map(String::as_str))
                            ),
                        ));
                    }
                }
            }
        };
        Ok((value, 1))
    }

    fn apply_ops(
        &self,
        mut value: Value,
        ops: &[&TraversalOperator],
        spans: &[Option<Range<usize>>],
        scope: &Scope,
    ) -> Result<Value> {
        let mut i = 0;
        while i < ops.len() {
            let span = spans.get(i).cloned().flatten();
            match ops[i] {
                TraversalOperator::GetAttr(name) => {
                    value = self.get_attr(value, name.as_str(), span)?;
                }
                TraversalOperator::Index(index) => {
                    let key = self.eval(index, scope)?;
                    value = self.index(value, key, span)?;
                }
                TraversalOperator::LegacyIndex(n) => {
                    value = self.index(value, Value::Number(*n.value() as f64), span)?;
                }
                TraversalOperator::AttrSplat(_) => {
                    // `.*` applies only the attribute accesses that follow it to each element.
                    let end = ops[i + 1..]
                        .iter()
                        .position(|op| !matches!(op, TraversalOperator::GetAttr(_)))
                        .map_or(ops.len(), |p| i + 1 + p);
                    value = self.splat(value, &ops[i + 1..end], &spans[i + 1..end], scope)?;
                    i = end;
                    continue;
                }
                TraversalOperator::FullSplat(_) => {
                    return self.splat(value, &ops[i + 1..], &spans[i + 1..], scope);
                }
            }
            i += 1;
        }
        Ok(value)
    }

    fn splat(
        &self,
        value: Value,
        ops: &[&TraversalOperator],
        spans: &[Option<Range<usize>>],
        scope: &Scope,
    ) -> Result<Value> {
        let (value, sensitive) = peel(value);
        let items = match value {
            Value::Unknown => return Ok(unknown(sensitive)),
            Value::Null => Vec::new(),
            Value::List(items) => items,
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.apply_ops(item, ops, spans, scope)?);
        }
        Ok(Value::List(out).mark_if(sensitive))
    }

    fn get_attr(&self, value: Value, name: &str, span: Option<Range<usize>>) -> Result<Value> {
        let (value, sensitive) = peel(value);
        match value {
            Value::Unknown => Ok(unknown(sensitive)),
            Value::Map(map) => match map.get(name) {
                Some(v) => Ok(v.clone().mark_if(sensitive)),
                None => Err(self.error(
                    span,
                    format!(
                        "object has no attribute \"{name}\"{}",
                        did_you_mean(name, map.keys().map(String::as_str))
                    ),
                )),
            },
            Value::Null => Err(self.error(
                span,
                format!("cannot get attribute \"{name}\" of a null value"),
            )),
            Value::List(_) => Err(self.error(
                span,
                format!(
                    "cannot get attribute \"{name}\" of a list; use [*].{name} for every element or [INDEX].{name} for one"
                ),
            )),
            other => Err(self.error(
                span,
                format!("cannot get attribute \"{name}\" of a {}", kind_name(&other)),
            )),
        }
    }

    fn index(&self, value: Value, key: Value, span: Option<Range<usize>>) -> Result<Value> {
        let (value, s1) = peel(value);
        let (key, s2) = key.unmark();
        let sensitive = s1 || s2;
        if value.is_unknown() || key.is_unknown() {
            return Ok(unknown(sensitive));
        }
        match value {
            Value::List(items) => {
                let Some(n) = as_number(&key) else {
                    return Err(self.error(
                        span,
                        format!("a list index must be a number, found {}", kind_name(&key)),
                    ));
                };
                if n.fract() != 0.0 || n < 0.0 || n >= items.len() as f64 {
                    let shown = if s2 {
                        "(sensitive)".to_string()
                    } else {
                        key.to_string()
                    };
                    return Err(self.error(
                        span,
                        format!(
                            "index {shown} is out of range for a list of {} elements",
                            items.len()
                        ),
                    ));
                }
                Ok(items[n as usize].clone().mark_if(sensitive))
            }
            Value::Map(map) => {
                let Some(k) = as_string(&key) else {
                    return Err(self.error(
                        span,
                        format!("a map key must be a string, found {}", kind_name(&key)),
                    ));
                };
                match map.get(&k) {
                    Some(v) => Ok(v.clone().mark_if(sensitive)),
                    None if s2 => {
                        Err(self.error(span, "the map has no such key (the key is sensitive)"))
                    }
                    None => Err(self.error(
                        span,
                        format!(
                            "no key \"{k}\" in the map{}",
                            did_you_mean(&k, map.keys().map(String::as_str))
                        ),
                    )),
                }
            }
            Value::Null => Err(self.error(span, "cannot index a null value")),
            other => Err(self.error(span, format!("cannot index a {}", kind_name(&other)))),
        }
    }

    fn binary(&self, op: &BinaryOp, scope: &Scope) -> Result<Value> {
        let (lhs, rhs) = merge2(
            self.eval(&op.lhs_expr, scope),
            self.eval(&op.rhs_expr, scope),
        )?;
        let operator = *op.operator.value();
        let (lhs, ls) = lhs.unmark();
        let (rhs, rs) = rhs.unmark();
        let sensitive = ls || rs;
        use BinaryOperator as B;
        match operator {
            B::Eq | B::NotEq => {
                if !lhs.is_wholly_known() || !rhs.is_wholly_known() {
                    return Ok(unknown(sensitive));
                }
                let equal = lhs == rhs;
                Ok(Value::Bool(equal == (operator == B::Eq)).mark_if(sensitive))
            }
            B::And | B::Or => {
                let l = self.bool_operand(&lhs, &op.lhs_expr, operator)?;
                let r = self.bool_operand(&rhs, &op.rhs_expr, operator)?;
                // A known operand can decide the result on its own.
                let decisive = operator == B::Or;
                let result = match (l, r) {
                    (Some(a), _) | (_, Some(a)) if a == decisive => Some(decisive),
                    (Some(a), Some(b)) => Some(if decisive { a || b } else { a && b }),
                    _ => None,
                };
                Ok(result
                    .map_or(Value::Unknown, Value::Bool)
                    .mark_if(sensitive))
            }
            _ => {
                let l = self.number_operand(&lhs, &op.lhs_expr, operator)?;
                let r = self.number_operand(&rhs, &op.rhs_expr, operator)?;
                let (Some(a), Some(b)) = (l, r) else {
                    return Ok(unknown(sensitive));
                };
                let result = match operator {
                    B::Plus => Value::Number(a + b),
                    B::Minus => Value::Number(a - b),
                    B::Mul => Value::Number(a * b),
                    B::Div | B::Mod if b == 0.0 => {
                        return Err(self.error(op.rhs_expr.span(), "division by zero"));
                    }
                    B::Div => Value::Number(a / b),
                    B::Mod => Value::Number(a % b),
                    B::Less => Value::Bool(a < b),
                    B::LessEq => Value::Bool(a <= b),
                    B::Greater => Value::Bool(a > b),
                    B::GreaterEq => Value::Bool(a >= b),
                    B::Eq | B::NotEq | B::And | B::Or => Value::Null,
                };
                Ok(result.mark_if(sensitive))
            }
        }
    }

    /// A number operand, `None` when unknown.
    fn number_operand(
        &self,
        value: &Value,
        expr: &Expression,
        operator: BinaryOperator,
    ) -> Result<Option<f64>> {
        if value.is_unknown() {
            return Ok(None);
        }
        as_number(value).map(Some).ok_or_else(|| {
            self.error(
                expr.span(),
                format!(
                    "invalid operand for \"{}\": expected number, found {}",
                    operator.as_str(),
                    kind_name(value)
                ),
            )
        })
    }

    /// A bool operand, `None` when unknown.
    fn bool_operand(
        &self,
        value: &Value,
        expr: &Expression,
        operator: BinaryOperator,
    ) -> Result<Option<bool>> {
        if value.is_unknown() {
            return Ok(None);
        }
        as_bool(value).map(Some).ok_or_else(|| {
            self.error(
                expr.span(),
                format!(
                    "invalid operand for \"{}\": expected bool, found {}",
                    operator.as_str(),
                    kind_name(value)
                ),
            )
        })
    }

    fn for_expr(&self, f: &ForExpr, scope: &Scope) -> Result<Value> {
        let collection = self.eval(&f.intro.collection_expr, scope)?;
        let (collection, mut sensitive) = peel(collection);
        let pairs: Vec<(Value, Value)> = match collection {
            Value::Unknown => return Ok(unknown(sensitive)),
            Value::List(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i as i64), v))
                .collect(),
            Value::Map(map) => map
                .into_iter()
                .map(|(k, v)| (Value::String(k), v))
                .collect(),
            other => {
                return Err(self.error(
                    f.intro.collection_expr.span(),
                    format!(
                        "a for expression needs a list or a map, found {}",
                        kind_name(&other)
                    ),
                ));
            }
        };
        let mut list = Vec::new();
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (key, value) in pairs {
            let mut bindings = Vec::new();
            if let Some(k) = &f.intro.key_var {
                bindings.push((k.as_str().to_string(), key.mark_if(sensitive)));
            }
            bindings.push((
                f.intro.value_var.as_str().to_string(),
                value.mark_if(sensitive),
            ));
            let inner = scope.with(bindings);
            if let Some(cond) = &f.cond {
                let (c, s) = peel(self.eval(&cond.expr, &inner)?);
                sensitive |= s;
                if c.is_unknown() {
                    return Ok(unknown(sensitive));
                }
                let Some(keep) = as_bool(&c) else {
                    return Err(self.error(
                        cond.expr.span(),
                        format!("a for condition must be a bool, found {}", kind_name(&c)),
                    ));
                };
                if !keep {
                    continue;
                }
            }
            let Some(key_expr) = &f.key_expr else {
                list.push(self.eval(&f.value_expr, &inner)?);
                continue;
            };
            let (k, s) = self.eval(key_expr, &inner)?.unmark();
            sensitive |= s;
            if k.is_unknown() {
                return Ok(unknown(sensitive));
            }
            let Some(k) = as_string(&k) else {
                return Err(self.error(
                    key_expr.span(),
                    format!("an object key must be a string, found {}", kind_name(&k)),
                ));
            };
            let v = self.eval(&f.value_expr, &inner)?;
            if f.grouping {
                groups.entry(k).or_default().push(v);
            } else {
                match map.entry(k) {
                    Entry::Occupied(e) => {
                        let shown = if s {
                            "(sensitive)".to_string()
                        } else {
                            format!("\"{}\"", e.key())
                        };
                        return Err(self.error(
                            key_expr.span(),
                            format!(
                                "duplicate key {shown} in the for expression; add \"...\" after the value to group values by key"
                            ),
                        ));
                    }
                    Entry::Vacant(e) => {
                        e.insert(v);
                    }
                }
            }
        }
        let result = if f.key_expr.is_none() {
            Value::List(list)
        } else if f.grouping {
            Value::Map(
                groups
                    .into_iter()
                    .map(|(k, v)| (k, Value::List(v)))
                    .collect(),
            )
        } else {
            Value::Map(map)
        };
        Ok(result.mark_if(sensitive))
    }

    fn call(&self, call: &FuncCall, scope: &Scope) -> Result<Value> {
        let name = call.name.name.as_str();
        let span = call.span();
        if call.name.is_namespaced() {
            return Err(self.error(span, "namespaced functions are not supported"));
        }
        match name {
            "try" => return self.try_call(call, scope),
            "can" => return self.can_call(call, scope),
            _ => {}
        }
        if !functions::exists(name) {
            let candidates = functions::NAMES.iter().copied().chain(["try", "can"]);
            return Err(self.error(
                span,
                format!(
                    "unknown function \"{name}\"{}",
                    did_you_mean(name, candidates)
                ),
            ));
        }
        let mut args = self.eval_all(call.args.iter(), scope)?;
        if call.args.expand_final() {
            let (last, sensitive) = peel(args.pop().unwrap_or(Value::Null));
            match last {
                Value::Unknown => return Ok(unknown(sensitive)),
                Value::List(items) => {
                    args.extend(items.into_iter().map(|v| v.mark_if(sensitive)));
                }
                other => {
                    let last_span = call.args.iter().last().and_then(|a| a.span());
                    return Err(self.error(
                        last_span,
                        format!(
                            "the argument before \"...\" must be a list, found {}",
                            kind_name(&other)
                        ),
                    ));
                }
            }
        }
        let sensitive = args.iter().any(Value::is_sensitive);
        if !args.iter().all(Value::is_wholly_known) {
            return Ok(unknown(sensitive));
        }
        let args: Vec<Value> = args.into_iter().map(|a| a.unmark().0).collect();
        let fctx = functions::FunctionContext {
            dir: self.ctx.dir.to_path_buf(),
        };
        match functions::call(name, args, &fctx) {
            Ok(v) => Ok(v.mark_if(sensitive)),
            // The function's message may quote its arguments; with a sensitive argument it
            // could reveal the secret, so only the function name is reported.
            Err(_) if sensitive => Err(self.error(
                span,
                format!(
                    "call to function \"{name}\" failed (details hidden: an argument is sensitive)"
                ),
            )),
            Err(e) => Err(self.error(span, format!("call to function \"{name}\" failed: {e}"))),
        }
    }

    /// `try(a, b, ...)`: the first argument that evaluates without an error.
    fn try_call(&self, call: &FuncCall, scope: &Scope) -> Result<Value> {
        if call.args.is_empty() {
            return Err(self.error(call.span(), "try needs at least one argument"));
        }
        let mut failures = Vec::new();
        for arg in call.args.iter() {
            match self.eval(arg, scope) {
                Ok(v) if v.is_wholly_known() => return Ok(v),
                // A partly unknown value may still fail once known: the outcome is unknown.
                Ok(v) => return Ok(unknown(v.is_sensitive())),
                Err(d) => failures.extend(d.0.into_iter().map(|d| d.summary)),
            }
        }
        Err(SpecDiagnostic::error(
            "no argument of try could be evaluated without an error",
            Some(self.expr.span_of(call.span())),
        )
        .with_detail(failures.join("\n"))
        .into())
    }

    /// `can(expr)`: whether the expression evaluates without an error.
    fn can_call(&self, call: &FuncCall, scope: &Scope) -> Result<Value> {
        let (Some(arg), 1) = (call.args.iter().next(), call.args.len()) else {
            return Err(self.error(call.span(), "can takes exactly one argument"));
        };
        Ok(match self.eval(arg, scope) {
            Ok(v) if v.is_wholly_known() => Value::Bool(true),
            Ok(v) => unknown(v.is_sensitive()),
            Err(_) => Value::Bool(false),
        })
    }

    fn template_value(&self, template: &Template, scope: &Scope) -> Result<Value> {
        let mut out = TemplateOut::default();
        self.template(template, scope, (false, false), &mut out)?;
        if out.unknown {
            return Ok(unknown(out.sensitive));
        }
        Ok(Value::String(out.text).mark_if(out.sensitive))
    }

    /// Renders a template into `out`. `strip` says whether the markers around the template
    /// strip the whitespace at its start and at its end (`~`).
    fn template(
        &self,
        template: &Template,
        scope: &Scope,
        strip: (bool, bool),
        out: &mut TemplateOut,
    ) -> Result<()> {
        let elements: Vec<&Element> = template.iter().collect();
        for (i, element) in elements.iter().enumerate() {
            match element {
                Element::Literal(text) => {
                    let strip_start = match i.checked_sub(1) {
                        Some(p) => element_strip(elements[p]).1,
                        None => strip.0,
                    };
                    let strip_end = match elements.get(i + 1) {
                        Some(n) => element_strip(n).0,
                        None => strip.1,
                    };
                    out.text
                        .push_str(strip_literal(text.value(), strip_start, strip_end));
                }
                Element::Interpolation(interp) => {
                    let value = self.eval(&interp.expr, scope)?;
                    self.push_value(value, interp.expr.span(), out)?;
                }
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(d) => {
                        let (cond, sensitive) = peel(self.eval(&d.if_expr.cond_expr, scope)?);
                        out.sensitive |= sensitive;
                        if cond.is_unknown() {
                            out.unknown = true;
                            continue;
                        }
                        let Some(cond) = as_bool(&cond) else {
                            return Err(self.error(
                                d.if_expr.cond_expr.span(),
                                format!("condition must be a bool, found {}", kind_name(&cond)),
                            ));
                        };
                        let end_strip = d.endif_expr.strip.strip_start();
                        if cond {
                            let next = d
                                .else_expr
                                .as_ref()
                                .map_or(end_strip, |e| e.strip.strip_start());
                            let strip = (d.if_expr.strip.strip_end(), next);
                            self.template(&d.if_expr.template, scope, strip, out)?;
                        } else if let Some(e) = &d.else_expr {
                            let strip = (e.strip.strip_end(), end_strip);
                            self.template(&e.template, scope, strip, out)?;
                        }
                    }
                    Directive::For(d) => {
                        let f = &d.for_expr;
                        let (collection, sensitive) = peel(self.eval(&f.collection_expr, scope)?);
                        out.sensitive |= sensitive;
                        let pairs: Vec<(Value, Value)> = match collection {
                            Value::Unknown => {
                                out.unknown = true;
                                continue;
                            }
                            Value::List(items) => items
                                .into_iter()
                                .enumerate()
                                .map(|(i, v)| (Value::from(i as i64), v))
                                .collect(),
                            Value::Map(map) => map
                                .into_iter()
                                .map(|(k, v)| (Value::String(k), v))
                                .collect(),
                            other => {
                                return Err(self.error(
                                    f.collection_expr.span(),
                                    format!(
                                        "a for directive needs a list or a map, found {}",
                                        kind_name(&other)
                                    ),
                                ));
                            }
                        };
                        let strip = (f.strip.strip_end(), d.endfor_expr.strip.strip_start());
                        for (key, value) in pairs {
                            let mut bindings = Vec::new();
                            if let Some(k) = &f.key_var {
                                bindings.push((k.as_str().to_string(), key));
                            }
                            bindings.push((f.value_var.as_str().to_string(), value));
                            self.template(&f.template, &scope.with(bindings), strip, out)?;
                        }
                    }
                },
            }
        }
        Ok(())
    }

    fn push_value(
        &self,
        value: Value,
        range: Option<Range<usize>>,
        out: &mut TemplateOut,
    ) -> Result<()> {
        let (value, sensitive) = value.unmark();
        out.sensitive |= sensitive;
        if value.is_unknown() {
            out.unknown = true;
            return Ok(());
        }
        match as_string(&value) {
            Some(s) => {
                out.text.push_str(&s);
                Ok(())
            }
            None if value.is_null() => Err(self.error(
                range,
                "a null value cannot be used in a string template",
            )),
            None => Err(self.error(
                range,
                format!(
                    "a {} cannot be used in a string template; convert it first (for example with jsonencode or join)",
                    kind_name(&value)
                ),
            )),
        }
    }
}

#[derive(Default)]
struct TemplateOut {
    text: String,
    unknown: bool,
    sensitive: bool,
}

/// Whether an element strips the whitespace before it and after it (`~` markers).
fn element_strip(element: &Element) -> (bool, bool) {
    match element {
        Element::Literal(_) => (false, false),
        Element::Interpolation(i) => (i.strip.strip_start(), i.strip.strip_end()),
        Element::Directive(d) => match d.as_ref() {
            Directive::If(d) => (
                d.if_expr.strip.strip_start(),
                d.endif_expr.strip.strip_end(),
            ),
            Directive::For(d) => (
                d.for_expr.strip.strip_start(),
                d.endfor_expr.strip.strip_end(),
            ),
        },
    }
}

/// Strips the whitespace (line breaks included, as HCL does) at the start and/or the end of a
/// literal.
fn strip_literal(mut text: &str, start: bool, end: bool) -> &str {
    if start {
        text = text.trim_start();
    }
    if end {
        text = text.trim_end();
    }
    text
}

/// Both results, or every error of either.
fn merge2<A, B>(a: Result<A>, b: Result<B>) -> Result<(A, B)> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(mut e), Err(f)) => {
            e.extend(f);
            Err(e)
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::diag::{SourceFile, Sources, Span};
    use crate::spec::testutil::{render, show};

    fn obj(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn list(items: &[Value]) -> Value {
        Value::List(items.to_vec())
    }

    struct Fixture {
        variables: BTreeMap<String, Value>,
        locals: BTreeMap<String, Value>,
        resources: HashMap<(String, String), Value>,
    }

    fn fixture() -> Fixture {
        let variables = BTreeMap::from([
            ("name".to_string(), Value::from("web")),
            ("n".to_string(), Value::from(3)),
            ("list".to_string(), list(&["a".into(), "b".into()])),
            (
                "obj".to_string(),
                obj(&[("a", 1.into()), ("b", obj(&[("c", "x".into())]))]),
            ),
            ("secret".to_string(), Value::from("hunter2").sensitive()),
            ("unk".to_string(), Value::Unknown),
            ("flag".to_string(), Value::Bool(true)),
            ("nothing".to_string(), Value::Null),
            (
                "nums".to_string(),
                list(&[Value::from(3), Value::from(1), Value::from(2)]),
            ),
        ]);
        let locals = BTreeMap::from([("five".to_string(), Value::from(5))]);
        let resources = HashMap::from([
            (
                ("network".to_string(), "main".to_string()),
                obj(&[("id", "net-1".into()), ("subnet_ids", Value::Unknown)]),
            ),
            (
                ("node".to_string(), "web".to_string()),
                list(&[obj(&[("id", "n0".into())]), obj(&[("id", "n1".into())])]),
            ),
            (
                ("bucket".to_string(), "b".to_string()),
                obj(&[("x", obj(&[("id", "bx".into())]))]),
            ),
            (
                ("postgres".to_string(), "db".to_string()),
                obj(&[("password", Value::from("pw").sensitive())]),
            ),
        ]);
        Fixture {
            variables,
            locals,
            resources,
        }
    }

    fn run(src: &str) -> (Sources, Result<Value, Diagnostics>) {
        let f = fixture();
        let ctx = EvalContext {
            variables: &f.variables,
            locals: &f.locals,
            resources: &f.resources,
            count_index: Some(1),
            each: Some(("k".to_string(), Value::from("v"))),
            workspace: "prod",
            dir: Path::new("/spec"),
        };
        let sources = Sources {
            files: vec![SourceFile {
                name: "main.hcl".into(),
                text: src.to_string(),
            }],
        };
        let span = Span {
            file: 0,
            start: 0,
            end: 0,
        };
        let parsed = hcl_edit::parser::parse_expr(src).map_err(|e| e.to_string());
        let expr = Expr::new(parsed.unwrap_or_else(|e| unreachable!("{e}")), 0, span);
        let result = eval(&expr, &ctx);
        (sources, result)
    }

    /// Evaluates `src` and compares the value, marks spelled out, with `expected`.
    fn check(src: &str, expected: &str) {
        let (sources, result) = run(src);
        match result {
            Ok(v) => assert_eq!(show(&v), expected, "{src}"),
            Err(d) => assert_eq!(render(&sources, &d), expected, "{src}"),
        }
    }

    /// Evaluates `src`, which must fail with `expected` (as `line:col: summary` lines).
    fn check_err(src: &str, expected: &str) {
        let (sources, result) = run(src);
        match result {
            Ok(v) => assert_eq!(show(&v), format!("an error: {expected}"), "{src}"),
            Err(d) => {
                let shown = render(&sources, &d).replace("main.hcl:", "");
                assert_eq!(shown.trim_end(), expected, "{src}");
                assert!(!shown.contains("hunter2"), "secret in error: {shown}");
            }
        }
    }

    #[test]
    fn literals_and_collections() {
        check("null", "null");
        check("true", "true");
        check("42", "42");
        check("1.5", "1.5");
        check("\"a\\tb\"", "\"a\\tb\"");
        check("[1, \"x\", [true]]", "[1, \"x\", [true]]");
        check(
            "{ a = 1, \"b\" = 2, (var.name) = 3 }",
            "{a = 1, b = 2, web = 3}",
        );
        check("{ a = var.unk }", "{a = unknown}");
        check("{ (var.unk) = 1 }", "unknown");
    }

    #[test]
    fn references() {
        check("var.name", "\"web\"");
        check("local.five", "5");
        check("network.main.id", "\"net-1\"");
        check("network.main.subnet_ids", "unknown");
        check("network.main.subnet_ids[0]", "unknown");
        check("node.web[1].id", "\"n1\"");
        check("node.web.0.id", "\"n0\"");
        check("bucket.b[\"x\"].id", "\"bx\"");
        check("var.obj.b.c", "\"x\"");
        check("var.obj[\"b\"][\"c\"]", "\"x\"");
        check("var.list[var.n - 2]", "\"b\"");
        check("count.index", "1");
        check("each.key", "\"k\"");
        check("each.value", "\"v\"");
        check("ss.workspace", "\"prod\"");
        check("path.module", "\"/spec\"");
        check("var.unk.anything[3]", "unknown");
    }

    #[test]
    fn reference_errors() {
        check_err(
            "var.nam",
            "1:1: undeclared variable \"nam\" (did you mean \"name\"?)",
        );
        check_err(
            "local.fiv",
            "1:1: undeclared local value \"fiv\" (did you mean \"five\"?)",
        );
        check_err(
            "network.mian.id",
            "1:1: reference to undeclared resource \"network.mian\" (did you mean \"network.main\"?)",
        );
        check_err(
            "var.obj.bb",
            "1:8: object has no attribute \"bb\" (did you mean \"b\"?)",
        );
        check_err(
            "var.list[2]",
            "1:9: index 2 is out of range for a list of 2 elements",
        );
        check_err("var.obj[\"z\"]", "1:8: no key \"z\" in the map");
        check_err(
            "vr.name",
            "1:1: reference to undeclared resource \"vr.name\"",
        );
        check_err("nme", "1:1: unknown name \"nme\"");
        check_err("var", "1:1: \"var\" must be followed by a name: var.NAME");
        check_err(
            "each.kye",
            "1:1: each has no attribute \"kye\" (did you mean \"key\"?)",
        );
        check_err(
            "ss.stack",
            "1:1: ss has no attribute \"stack\" (it has only \"workspace\")",
        );
        check_err(
            "node.web.id",
            "1:9: cannot get attribute \"id\" of a list; use [*].id for every element or [INDEX].id for one",
        );
        check_err(
            "var.nothing.x",
            "1:12: cannot get attribute \"x\" of a null value",
        );
        check_err(
            "[var.nope, local.nope]",
            "1:2: undeclared variable \"nope\"\n1:12: undeclared local value \"nope\"",
        );
    }

    #[test]
    fn splats() {
        check("node.web[*].id", "[\"n0\", \"n1\"]");
        check("node.web.*.id", "[\"n0\", \"n1\"]");
        check("node.web.*.id[1]", "\"n1\"");
        check_err("node.web[*].id[1]", "1:15: cannot index a string");
        check("var.nothing[*]", "[]");
        check("var.name[*]", "[\"web\"]");
        check("var.unk[*].id", "unknown");
    }

    #[test]
    fn operators() {
        check("1 + 2 * 3", "7");
        check("(1 + 2) * 3", "9");
        check("7 % 4", "3");
        check("7 / 2", "3.5");
        check("-var.n", "-3");
        check("!var.flag", "false");
        check("var.n > 2 && var.n <= 3", "true");
        check("var.n == 3 || false", "true");
        check("var.list == [\"a\", \"b\"]", "true");
        check("\"1\" + 1", "2");
        check("var.name != \"web\"", "false");
        check("var.unk + 1", "unknown");
        check("var.unk == 1", "unknown");
        check("false && var.unk", "false");
        check("true || var.unk", "true");
        check("true && var.unk", "unknown");
        check("var.secret == \"x\"", "sensitive(false)");
        check("var.unk == var.secret", "sensitive(unknown)");
        check_err(
            "1 + \"a\"",
            "1:5: invalid operand for \"+\": expected number, found string",
        );
        check_err("1 / 0", "1:5: division by zero");
        check_err(
            "!1",
            "1:2: invalid operand for \"!\": expected bool, found number",
        );
        check_err(
            "var.secret + 1",
            "1:1: invalid operand for \"+\": expected number, found string",
        );
    }

    #[test]
    fn conditionals() {
        check("var.flag ? 1 : 2", "1");
        check_err(
            "!var.flag ? 1 : var.nope",
            "1:17: undeclared variable \"nope\"",
        );
        check("var.flag ? 1 : var.nope", "1");
        check("var.unk ? 1 : 2", "unknown");
        check("var.secret == \"x\" ? 1 : 2", "sensitive(2)");
        check("var.flag ? var.secret : \"\"", "sensitive(\"hunter2\")");
        check_err(
            "var.unk ? var.nope : 2",
            "1:11: undeclared variable \"nope\"",
        );
        check_err(
            "var.name ? 1 : 2",
            "1:1: condition must be a bool, found string",
        );
    }

    #[test]
    fn templates() {
        check("\"${var.name}-${var.n}\"", "\"web-3\"");
        check("\"a${var.unk}b\"", "unknown");
        check("\"pw=${var.secret}\"", "sensitive(\"pw=hunter2\")");
        check("\"${var.unk}${var.secret}\"", "sensitive(unknown)");
        check("\"%{ if var.flag }yes%{ else }no%{ endif }\"", "\"yes\"");
        check("\"%{ if var.unk }yes%{ endif }\"", "unknown");
        check("\"%{ for x in var.list }<${x}>%{ endfor }\"", "\"<a><b>\"");
        check(
            "\"%{ for i, x in var.list }${i}=${x},%{ endfor }\"",
            "\"0=a,1=b,\"",
        );
        check("\"%{ for x in var.unk }${x}%{ endfor }\"", "unknown");
        check("\"a  ${~ var.name ~}  b\"", "\"awebb\"");
        check("\"$${literal}\"", "\"${literal}\"");
        check("<<EOT\nhello ${var.name}\nEOT", "\"hello web\\n\"");
        check("<<-EOT\n    a\n      b\n    EOT", "\"a\\n  b\\n\"");
        check(
            "<<EOT\n%{ for x in var.list ~}\n- ${x}\n%{ endfor ~}\nEOT",
            "\"- a\\n- b\\n\"",
        );
        check_err(
            "\"${var.list}\"",
            "1:4: a list cannot be used in a string template; convert it first (for example with jsonencode or join)",
        );
        check_err(
            "\"${var.nothing}\"",
            "1:4: a null value cannot be used in a string template",
        );
    }

    #[test]
    fn for_expressions() {
        check("[for x in var.list : upper(x)]", "[\"A\", \"B\"]");
        check("[for i, x in var.list : \"${i}${x}\"]", "[\"0a\", \"1b\"]");
        check("{ for x in var.list : x => 1 }", "{a = 1, b = 1}");
        check(
            "{ for k, v in var.obj : k => k if k != \"b\" }",
            "{a = \"a\"}",
        );
        check("[for x in var.nums : x if x > 1]", "[3, 2]");
        check(
            "{ for x in [\"a\", \"b\", \"a\"] : x => 1... }",
            "{a = [1, 1], b = [1]}",
        );
        check("[for x in var.unk : x]", "unknown");
        check("[for x in var.list : x if var.unk]", "unknown");
        check("[for x in [var.secret] : x]", "[sensitive(\"hunter2\")]");
        check("[for x in var.list : x] == [\"a\", \"b\"]", "true");
        check_err(
            "{ for x in [\"a\", \"a\"] : x => 1 }",
            "1:25: duplicate key \"a\" in the for expression; add \"...\" after the value to group values by key",
        );
        check_err(
            "[for x in 3 : x]",
            "1:11: a for expression needs a list or a map, found number",
        );
        check_err("[for x in var.list : y]", "1:22: unknown name \"y\"");
    }

    #[test]
    fn functions() {
        check("max(1, var.n, 2)", "3");
        check("max(var.nums...)", "3");
        check("length(var.list)", "2");
        check("upper(var.unk)", "unknown");
        check("length([var.unk])", "unknown");
        check("upper(var.secret)", "sensitive(\"HUNTER2\")");
        check("length(var.list) + length([var.secret])", "sensitive(3)");
        check("max(var.unk...)", "unknown");
        check_err(
            "uper(\"a\")",
            "1:1: unknown function \"uper\" (did you mean \"upper\"?)",
        );
        check_err(
            "tonumber(\"abc\")",
            "1:1: call to function \"tonumber\" failed: argument 1: the string is not a number",
        );
        check_err(
            "tonumber(var.secret)",
            "1:1: call to function \"tonumber\" failed (details hidden: an argument is sensitive)",
        );
        check_err(
            "max(var.name...)",
            "1:5: the argument before \"...\" must be a list, found string",
        );
    }

    #[test]
    fn try_and_can() {
        check("try(var.obj.zz, \"fallback\")", "\"fallback\"");
        check("try(var.obj.a, \"fallback\")", "1");
        check("try(var.unk.x, 1)", "unknown");
        check("can(var.obj.zz)", "false");
        check("can(var.obj.a)", "true");
        check("can(var.unk)", "unknown");
        check_err(
            "try(var.obj.zz, var.nope)",
            "1:1: no argument of try could be evaluated without an error",
        );
    }

    #[test]
    fn references_of_expressions() {
        let cases: &[(&str, &[&str])] = &[
            ("var.a + local.b", &["var.a@0..5", "local.b@8..15"]),
            ("network.main.id", &["network.main@0..12"]),
            ("node.web[0].id", &["node.web@0..8"]),
            (
                "\"${count.index}-${each.key}\"",
                &["count.index@3..14", "each.key@18..26"],
            ),
            ("[for x in var.l : x.id if x.ok]", &["var.l@10..15"]),
            (
                "[for k, v in var.m : network.main.id]",
                &["var.m@13..18", "network.main@21..33"],
            ),
            (
                "f(ss.workspace, path.module, each.value)",
                &[
                    "ss.workspace@2..14",
                    "path.module@16..27",
                    "each.value@29..39",
                ],
            ),
            ("var.l[local.i]", &["var.l@0..5", "local.i@6..13"]),
            ("{ (var.k) = 1 }", &["var.k@3..8"]),
            ("count.bogus", &[]),
        ];
        for (src, expected) in cases {
            let parsed = hcl_edit::parser::parse_expr(src).map_err(|e| e.to_string());
            let span = Span {
                file: 0,
                start: 0,
                end: 0,
            };
            let expr = Expr::new(parsed.unwrap_or_else(|e| unreachable!("{e}")), 0, span);
            let got: Vec<String> = expr
                .references()
                .iter()
                .map(|(r, s)| format!("{r}@{}..{}", s.start, s.end))
                .collect();
            assert_eq!(&got, expected, "{src}");
        }
    }
}
