//! Variable type constraints: parsing the `type = ...` expression and converting values to a
//! type the way HCL does (`"3"` is a fine number, `3` a fine string).

use std::collections::BTreeMap;

use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, ObjectKey};
use provider_api::Value;

use super::diag::SpecDiagnostic;
use super::model::{Expr, TypeConstraint};
use super::suggest::did_you_mean;

const PRIMITIVES: &[&str] = &["string", "number", "bool", "any", "list", "set", "map"];
const CONSTRUCTORS: &[&str] = &["list", "set", "map", "object", "tuple"];

/// Parses a type constraint expression (`number`, `list(string)`, `object({a = string})`).
pub fn parse_type(expr: &Expr) -> Result<TypeConstraint, SpecDiagnostic> {
    parse(expr, &expr.expr)
}

fn parse(outer: &Expr, e: &Expression) -> Result<TypeConstraint, SpecDiagnostic> {
    let error = |msg: String| SpecDiagnostic::error(msg, Some(outer.span_of(e.span())));
    match e {
        Expression::Parenthesis(p) => parse(outer, p.inner()),
        Expression::Variable(name) => Ok(match name.as_str() {
            "string" => TypeConstraint::String,
            "number" => TypeConstraint::Number,
            "bool" => TypeConstraint::Bool,
            "any" => TypeConstraint::Any,
            // The bare collection names are the older spelling of a collection of anything.
            "list" => TypeConstraint::List(Box::new(TypeConstraint::Any)),
            "set" => TypeConstraint::Set(Box::new(TypeConstraint::Any)),
            "map" => TypeConstraint::Map(Box::new(TypeConstraint::Any)),
            other => {
                return Err(error(format!(
                    "invalid type \"{other}\"{}",
                    did_you_mean(other, PRIMITIVES.iter().copied())
                )));
            }
        }),
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let args: Vec<&Expression> = call.args.iter().collect();
            let [arg] = args.as_slice() else {
                return Err(error(format!("the type {name}(...) takes exactly one argument")));
            };
            match name {
                "list" => Ok(TypeConstraint::List(Box::new(parse(outer, arg)?))),
                "set" => Ok(TypeConstraint::Set(Box::new(parse(outer, arg)?))),
                "map" => Ok(TypeConstraint::Map(Box::new(parse(outer, arg)?))),
                "object" => {
                    let Expression::Object(object) = arg else {
                        return Err(error(
                            "object(...) takes an object of attribute types: object({ name = string })"
                                .to_string(),
                        ));
                    };
                    let mut attrs = BTreeMap::new();
                    for (key, value) in object.iter() {
                        let key = match key {
                            ObjectKey::Ident(id) => id.as_str().to_string(),
                            ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                            ObjectKey::Expression(Expression::Variable(v)) => v.as_str().to_string(),
                            ObjectKey::Expression(other) => {
                                return Err(SpecDiagnostic::error(
                                    "an object type's attribute names must be plain names",
                                    Some(outer.span_of(other.span())),
                                ));
                            }
                        };
                        attrs.insert(key, parse(outer, value.expr())?);
                    }
                    Ok(TypeConstraint::Object(attrs))
                }
                "tuple" => {
                    let Expression::Array(items) = arg else {
                        return Err(error(
                            "tuple(...) takes a list of element types: tuple([string, number])"
                                .to_string(),
                        ));
                    };
                    let items = items
                        .iter()
                        .map(|i| parse(outer, i))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(TypeConstraint::Tuple(items))
                }
                other => Err(error(format!(
                    "invalid type constructor \"{other}\"{}",
                    did_you_mean(other, CONSTRUCTORS.iter().copied())
                ))),
            }
        }
        _ => Err(error(
            "invalid type constraint: expected a type such as string, number, bool, list(string) or object({...})"
                .to_string(),
        )),
    }
}

/// Converts a value to a type. Unknown and null values conform to every type; sensitive marks
/// are kept. Messages never quote the value.
pub fn convert(value: Value, ty: &TypeConstraint) -> Result<Value, String> {
    match value {
        Value::Sensitive(inner) => return convert(*inner, ty).map(Value::sensitive),
        Value::Unknown | Value::Null => return Ok(value),
        _ => {}
    }
    let mismatch = |value: &Value| {
        let found = match value {
            Value::List(_) => "list".to_string(),
            other => other.kind().to_string(),
        };
        Err(format!("expected {}, found {found}", short(ty)))
    };
    match (ty, value) {
        (TypeConstraint::Any, v) => Ok(v),
        (TypeConstraint::String, Value::String(s)) => Ok(Value::String(s)),
        (TypeConstraint::String, v @ (Value::Number(_) | Value::Bool(_))) => {
            Ok(Value::String(v.to_string()))
        }
        (TypeConstraint::Number, Value::Number(n)) => Ok(Value::Number(n)),
        (TypeConstraint::Number, Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Value::Number(n)),
            _ => Err("expected number, found a string that is not a number".to_string()),
        },
        (TypeConstraint::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
        (TypeConstraint::Bool, Value::String(s)) if s == "true" || s == "false" => {
            Ok(Value::Bool(s == "true"))
        }
        (TypeConstraint::Bool, Value::String(_)) => {
            Err("expected bool, found a string other than \"true\" or \"false\"".to_string())
        }
        (TypeConstraint::List(inner), Value::List(items)) => {
            convert_items(items, |_| inner).map(Value::List)
        }
        (TypeConstraint::Set(inner), Value::List(items)) => {
            let items = convert_items(items, |_| inner)?;
            let mut unique: Vec<Value> = Vec::with_capacity(items.len());
            for item in items {
                if !unique.contains(&item) {
                    unique.push(item);
                }
            }
            Ok(Value::List(unique))
        }
        (TypeConstraint::Map(inner), Value::Map(map)) => {
            let mut out = BTreeMap::new();
            for (k, v) in map {
                let v = convert(v, inner).map_err(|e| format!("key \"{k}\": {e}"))?;
                out.insert(k, v);
            }
            Ok(Value::Map(out))
        }
        (TypeConstraint::Object(attrs), Value::Map(mut map)) => {
            let mut out = BTreeMap::new();
            for (name, attr_ty) in attrs {
                let Some(v) = map.remove(name) else {
                    return Err(format!("attribute \"{name}\" is required"));
                };
                let v = convert(v, attr_ty).map_err(|e| format!("attribute \"{name}\": {e}"))?;
                out.insert(name.clone(), v);
            }
            if let Some(extra) = map.keys().next() {
                return Err(format!(
                    "unexpected attribute \"{extra}\"{}",
                    did_you_mean(extra, attrs.keys().map(String::as_str))
                ));
            }
            Ok(Value::Map(out))
        }
        (TypeConstraint::Tuple(types), Value::List(items)) => {
            if items.len() != types.len() {
                return Err(format!(
                    "expected a tuple of {} elements, found {}",
                    types.len(),
                    items.len()
                ));
            }
            convert_items(items, |i| &types[i]).map(Value::List)
        }
        (_, v) => mismatch(&v),
    }
}

fn convert_items<'t>(
    items: Vec<Value>,
    ty: impl Fn(usize) -> &'t TypeConstraint,
) -> Result<Vec<Value>, String> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| convert(v, ty(i)).map_err(|e| format!("element {i}: {e}")))
        .collect()
}

/// The type's name without its element types, for short messages.
fn short(ty: &TypeConstraint) -> String {
    match ty {
        TypeConstraint::Object(_) => "object".to_string(),
        TypeConstraint::Tuple(_) => "tuple".to_string(),
        other => other.to_string(),
    }
}

/// Whether a value of this type is written as an HCL expression on the command line (as
/// opposed to a plain string).
pub fn is_complex(ty: &TypeConstraint) -> bool {
    !matches!(
        ty,
        TypeConstraint::Any
            | TypeConstraint::String
            | TypeConstraint::Number
            | TypeConstraint::Bool
    )
}
