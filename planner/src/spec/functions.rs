//! The built-in functions of the spec language, with Terraform's semantics.
//!
//! The evaluator calls [`call`] with wholly-known arguments that carry no sensitive mark: it
//! handles unknown and sensitive values itself, and implements `try` and `can`. Because an
//! argument may have been sensitive before the evaluator unmarked it, no error message of this
//! module ever contains an argument's value; errors describe positions and types instead.
//!
//! Arguments get Terraform's automatic conversions: a number or bool is accepted where a string
//! is expected, and a string such as `"5"` where a number is expected.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::PathBuf;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use provider_api::{Value, ValueKind};
use regex::Regex;
use sha2::{Digest, Sha256, Sha512};

/// What functions may need from their surroundings.
#[derive(Clone, Debug)]
pub struct FunctionContext {
    /// The spec directory: `file("x")` reads `dir/x`.
    pub dir: PathBuf,
}

/// Why a function call failed.
///
/// Messages never repeat the function's name (the evaluator reports it with the call's span)
/// and never contain argument values. Positions count from 1.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    #[error("there is no function named \"{0}\"")]
    UnknownFunction(String),
    #[error("expected {expected}, found {found}")]
    Arity { expected: String, found: usize },
    #[error("argument {position}: expected {expected}, found {found}")]
    ArgumentType {
        position: usize,
        expected: &'static str,
        found: ValueKind,
    },
    #[error("argument {position}: {reason}")]
    InvalidArgument { position: usize, reason: String },
    #[error("{0}")]
    Failed(String),
    #[error("cannot read file \"{path}\": {reason}")]
    File { path: String, reason: String },
}

type Res = Result<Value, FunctionError>;
type Impl = fn(Vec<Value>, &FunctionContext) -> Res;

/// Terraform's limit on the length of `range`'s result, which stops a typo from allocating
/// without bound.
const RANGE_LIMIT: usize = 1024;

struct Def {
    name: &'static str,
    min: usize,
    /// `usize::MAX` for variadic functions.
    max: usize,
    imp: Impl,
}

const ANY: usize = usize::MAX;

const fn def(name: &'static str, min: usize, max: usize, imp: Impl) -> Def {
    Def {
        name,
        min,
        max,
        imp,
    }
}

/// Every function, sorted by name (a test checks the order, which [`lookup_def`] relies on).
const DEFS: &[Def] = &[
    def("abs", 1, 1, f_abs),
    def("alltrue", 1, 1, f_alltrue),
    def("anytrue", 1, 1, f_anytrue),
    def("base64decode", 1, 1, f_base64decode),
    def("base64encode", 1, 1, f_base64encode),
    def("base64sha256", 1, 1, f_base64sha256),
    def("ceil", 1, 1, f_ceil),
    def("chomp", 1, 1, f_chomp),
    def("chunklist", 2, 2, f_chunklist),
    def("cidrhost", 2, 2, f_cidrhost),
    def("cidrnetmask", 1, 1, f_cidrnetmask),
    def("cidrsubnet", 3, 3, f_cidrsubnet),
    def("cidrsubnets", 2, ANY, f_cidrsubnets),
    def("coalesce", 1, ANY, f_coalesce),
    def("coalescelist", 1, ANY, f_coalescelist),
    def("compact", 1, 1, f_compact),
    def("concat", 1, ANY, f_concat),
    def("contains", 2, 2, f_contains),
    def("distinct", 1, 1, f_distinct),
    def("element", 2, 2, f_element),
    def("endswith", 2, 2, f_endswith),
    def("file", 1, 1, f_file),
    def("fileexists", 1, 1, f_fileexists),
    def("flatten", 1, 1, f_flatten),
    def("floor", 1, 1, f_floor),
    def("format", 1, ANY, f_format),
    def("formatlist", 1, ANY, f_formatlist),
    def("indent", 2, 2, f_indent),
    def("index", 2, 2, f_index),
    def("join", 2, ANY, f_join),
    def("jsondecode", 1, 1, f_jsondecode),
    def("jsonencode", 1, 1, f_jsonencode),
    def("keys", 1, 1, f_keys),
    def("length", 1, 1, f_length),
    def("log", 2, 2, f_log),
    def("lookup", 2, 3, f_lookup),
    def("lower", 1, 1, f_lower),
    def("max", 1, ANY, f_max),
    def("merge", 0, ANY, f_merge),
    def("min", 1, ANY, f_min),
    def("one", 1, 1, f_one),
    def("parseint", 2, 2, f_parseint),
    def("pow", 2, 2, f_pow),
    def("range", 1, 3, f_range),
    def("regex", 2, 2, f_regex),
    def("regexall", 2, 2, f_regexall),
    def("replace", 3, 3, f_replace),
    def("reverse", 1, 1, f_reverse),
    def("setintersection", 1, ANY, f_setintersection),
    def("setsubtract", 2, 2, f_setsubtract),
    def("setunion", 1, ANY, f_setunion),
    def("sha256", 1, 1, f_sha256),
    def("sha512", 1, 1, f_sha512),
    def("signum", 1, 1, f_signum),
    def("slice", 3, 3, f_slice),
    def("sort", 1, 1, f_sort),
    def("split", 2, 2, f_split),
    def("startswith", 2, 2, f_startswith),
    def("strcontains", 2, 2, f_strcontains),
    def("strrev", 1, 1, f_strrev),
    def("substr", 3, 3, f_substr),
    def("sum", 1, 1, f_sum),
    def("title", 1, 1, f_title),
    def("tobool", 1, 1, f_tobool),
    def("tolist", 1, 1, f_tolist),
    def("tomap", 1, 1, f_tomap),
    def("tonumber", 1, 1, f_tonumber),
    def("toset", 1, 1, f_toset),
    def("tostring", 1, 1, f_tostring),
    def("trim", 2, 2, f_trim),
    def("trimprefix", 2, 2, f_trimprefix),
    def("trimspace", 1, 1, f_trimspace),
    def("trimsuffix", 2, 2, f_trimsuffix),
    def("upper", 1, 1, f_upper),
    def("values", 1, 1, f_values),
    def("zipmap", 2, 2, f_zipmap),
];

const NAME_ARRAY: [&str; DEFS.len()] = {
    let mut names = [""; DEFS.len()];
    let mut i = 0;
    while i < DEFS.len() {
        names[i] = DEFS[i].name;
        i += 1;
    }
    names
};

/// Every function name, sorted.
pub const NAMES: &[&str] = &NAME_ARRAY;

fn lookup_def(name: &str) -> Option<&'static Def> {
    DEFS.binary_search_by(|d| d.name.cmp(name))
        .ok()
        .and_then(|i| DEFS.get(i))
}

/// True when `name` is a built-in function.
pub fn exists(name: &str) -> bool {
    lookup_def(name).is_some()
}

/// Calls the function `name` with wholly-known, unmarked arguments.
pub fn call(name: &str, args: Vec<Value>, ctx: &FunctionContext) -> Result<Value, FunctionError> {
    let def = lookup_def(name).ok_or_else(|| FunctionError::UnknownFunction(name.to_string()))?;
    if args.len() < def.min || args.len() > def.max {
        return Err(FunctionError::Arity {
            expected: arity_text(def.min, def.max),
            found: args.len(),
        });
    }
    (def.imp)(args, ctx)
}

fn arity_text(min: usize, max: usize) -> String {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    if max == ANY {
        format!("at least {min} {}", plural(min))
    } else if min == max {
        format!("{min} {}", plural(min))
    } else {
        format!("{min} to {max} arguments")
    }
}

// ----- Argument access and conversion -------------------------------------------------------

fn invalid(position: usize, reason: impl Into<String>) -> FunctionError {
    FunctionError::InvalidArgument {
        position,
        reason: reason.into(),
    }
}

fn type_error(position: usize, expected: &'static str, found: &Value) -> FunctionError {
    FunctionError::ArgumentType {
        position,
        expected,
        found: found.kind(),
    }
}

/// The argument at 0-based `i`; arity was checked by [`call`], so a missing one reads as null.
fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).map_or(&Value::Null, Value::peel)
}

/// Renders a number the way Terraform's `tostring` does: whole numbers without a fraction.
fn number_to_string(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Terraform's string-to-number conversion: decimal notation only, no `inf` or `NaN`.
fn parse_number(s: &str) -> Option<f64> {
    let plausible = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'));
    if !plausible {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn primitive_to_string(v: &Value) -> Option<String> {
    match v.peel() {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(number_to_string(*n)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn primitive_to_number(v: &Value) -> Option<f64> {
    match v.peel() {
        Value::Number(n) => Some(*n),
        Value::String(s) => parse_number(s),
        _ => None,
    }
}

fn primitive_to_bool(v: &Value) -> Option<bool> {
    match v.peel() {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

fn str_arg(args: &[Value], i: usize) -> Result<String, FunctionError> {
    let v = arg(args, i);
    primitive_to_string(v).ok_or_else(|| type_error(i + 1, "string", v))
}

fn num_arg(args: &[Value], i: usize) -> Result<f64, FunctionError> {
    let v = arg(args, i);
    match v {
        Value::String(_) => {
            primitive_to_number(v).ok_or_else(|| invalid(i + 1, "the string is not a number"))
        }
        _ => primitive_to_number(v).ok_or_else(|| type_error(i + 1, "number", v)),
    }
}

fn int_arg(args: &[Value], i: usize) -> Result<i64, FunctionError> {
    let n = num_arg(args, i)?;
    if n.fract() != 0.0 || n.abs() >= 9.0e15 {
        return Err(invalid(i + 1, "expected a whole number"));
    }
    Ok(n as i64)
}

fn list_arg(args: &[Value], i: usize) -> Result<&[Value], FunctionError> {
    let v = arg(args, i);
    v.as_list().ok_or_else(|| type_error(i + 1, "list", v))
}

fn map_arg(args: &[Value], i: usize) -> Result<&BTreeMap<String, Value>, FunctionError> {
    let v = arg(args, i);
    v.as_map().ok_or_else(|| type_error(i + 1, "object", v))
}

/// Converts every element of a list argument to a string; nulls are an error.
fn string_elements(list: &[Value], position: usize) -> Result<Vec<String>, FunctionError> {
    list.iter()
        .enumerate()
        .map(|(e, v)| {
            primitive_to_string(v).ok_or_else(|| {
                invalid(
                    position,
                    format!("element {e}: expected string, found {}", v.kind()),
                )
            })
        })
        .collect()
}

fn string_list(items: impl IntoIterator<Item = String>) -> Value {
    Value::List(items.into_iter().map(Value::String).collect())
}

fn finite(n: f64) -> Res {
    if n.is_finite() {
        Ok(Value::Number(n))
    } else {
        Err(FunctionError::Failed(
            "the result is not a finite number".into(),
        ))
    }
}

/// Terraform unifies the element types of a collection: when strings are mixed with numbers or
/// bools, every primitive becomes a string.
fn unify_primitives(items: Vec<Value>) -> Vec<Value> {
    let has_string = items.iter().any(|v| matches!(v.peel(), Value::String(_)));
    let has_other = items
        .iter()
        .any(|v| matches!(v.peel(), Value::Number(_) | Value::Bool(_)));
    if !(has_string && has_other) {
        return items;
    }
    items
        .into_iter()
        .map(|v| primitive_to_string(&v).map_or(v, Value::String))
        .collect()
}

/// A total order on values, for sets: by kind first, then naturally within a kind.
fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::List(_) => 4,
            Value::Map(_) => 5,
            Value::Unknown => 6,
            Value::Sensitive(_) => 7,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.total_cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::List(x), Value::List(y)) => x
            .iter()
            .zip(y)
            .map(|(p, q)| compare_values(p, q))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Value::Map(x), Value::Map(y)) => x
            .iter()
            .zip(y)
            .map(|((kp, vp), (kq, vq))| kp.cmp(kq).then_with(|| compare_values(vp, vq)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Value::Sensitive(x), Value::Sensitive(y)) => compare_values(x, y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// A set as ss represents it: a sorted list without duplicates.
fn to_set(items: Vec<Value>) -> Vec<Value> {
    let mut items = unify_primitives(items);
    items.sort_by(compare_values);
    items.dedup_by(|a, b| compare_values(a, b).is_eq());
    items
}

// ----- Numbers ------------------------------------------------------------------------------

fn f_abs(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::Number(num_arg(&args, 0)?.abs()))
}

fn f_ceil(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::Number(num_arg(&args, 0)?.ceil()))
}

fn f_floor(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::Number(num_arg(&args, 0)?.floor()))
}

fn f_signum(args: Vec<Value>, _: &FunctionContext) -> Res {
    let n = num_arg(&args, 0)?;
    Ok(Value::Number(if n == 0.0 { 0.0 } else { n.signum() }))
}

fn f_pow(args: Vec<Value>, _: &FunctionContext) -> Res {
    finite(num_arg(&args, 0)?.powf(num_arg(&args, 1)?))
}

fn f_log(args: Vec<Value>, _: &FunctionContext) -> Res {
    finite(num_arg(&args, 0)?.log(num_arg(&args, 1)?))
}

fn extreme(args: &[Value], better: fn(f64, f64) -> bool) -> Res {
    let mut best = num_arg(args, 0)?;
    for i in 1..args.len() {
        let n = num_arg(args, i)?;
        if better(n, best) {
            best = n;
        }
    }
    Ok(Value::Number(best))
}

fn f_min(args: Vec<Value>, _: &FunctionContext) -> Res {
    extreme(&args, |n, best| n < best)
}

fn f_max(args: Vec<Value>, _: &FunctionContext) -> Res {
    extreme(&args, |n, best| n > best)
}

fn f_sum(args: Vec<Value>, _: &FunctionContext) -> Res {
    let list = list_arg(&args, 0)?;
    if list.is_empty() {
        return Err(invalid(1, "cannot sum an empty list"));
    }
    let mut total = 0.0;
    for (e, v) in list.iter().enumerate() {
        total += primitive_to_number(v).ok_or_else(|| {
            invalid(
                1,
                format!("element {e}: expected number, found {}", v.kind()),
            )
        })?;
    }
    finite(total)
}

fn f_parseint(args: Vec<Value>, _: &FunctionContext) -> Res {
    let text = str_arg(&args, 0)?;
    let base = int_arg(&args, 1)?;
    if !(2..=62).contains(&base) {
        return Err(invalid(2, "the base must be between 2 and 62"));
    }
    let base = base as u32;
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    let not_integer = || invalid(1, "not a valid integer in the given base");
    if digits.is_empty() {
        return Err(not_integer());
    }
    let mut value: i128 = 0;
    for c in digits.chars() {
        // Bases up to 36 read letters case-insensitively; larger bases use lowercase letters
        // for 10..35 and uppercase letters for 36..61, as Go's big.Int does.
        let digit = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 10,
            'A'..='Z' if base <= 36 => c as u32 - 'A' as u32 + 10,
            'A'..='Z' => c as u32 - 'A' as u32 + 36,
            _ => return Err(not_integer()),
        };
        if digit >= base {
            return Err(not_integer());
        }
        value = value
            .checked_mul(i128::from(base))
            .and_then(|v| v.checked_add(i128::from(digit)))
            .ok_or_else(|| invalid(1, "the integer is too large"))?;
    }
    let value = if negative { -value } else { value };
    Ok(Value::Number(value as f64))
}

fn f_range(args: Vec<Value>, _: &FunctionContext) -> Res {
    let (start, end, step) = match args.len() {
        1 => {
            let end = num_arg(&args, 0)?;
            (0.0, end, if end < 0.0 { -1.0 } else { 1.0 })
        }
        2 => {
            let (start, end) = (num_arg(&args, 0)?, num_arg(&args, 1)?);
            (start, end, if end < start { -1.0 } else { 1.0 })
        }
        _ => (num_arg(&args, 0)?, num_arg(&args, 1)?, num_arg(&args, 2)?),
    };
    if step == 0.0 {
        return Err(invalid(3, "step must not be zero"));
    }
    if step < 0.0 && end > start {
        return Err(invalid(
            2,
            "end must be less than start when step is negative",
        ));
    }
    if step > 0.0 && end < start {
        return Err(invalid(
            2,
            "end must be greater than start when step is positive",
        ));
    }
    let mut out = Vec::new();
    loop {
        // Multiplying rather than accumulating keeps fractional steps from drifting.
        let n = start + step * out.len() as f64;
        if (step > 0.0 && n >= end) || (step < 0.0 && n <= end) {
            break;
        }
        if out.len() >= RANGE_LIMIT {
            return Err(FunctionError::Failed(format!(
                "more than {RANGE_LIMIT} values would be generated; decrease the difference between start and end or use a larger step"
            )));
        }
        out.push(Value::Number(n));
    }
    Ok(Value::List(out))
}

// ----- Strings ------------------------------------------------------------------------------

fn f_lower(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::String(str_arg(&args, 0)?.to_lowercase()))
}

fn f_upper(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::String(str_arg(&args, 0)?.to_uppercase()))
}

/// Uppercases the first letter of each word; word boundaries follow Go's `strings.Title`, which
/// Terraform uses.
fn f_title(args: Vec<Value>, _: &FunctionContext) -> Res {
    let text = str_arg(&args, 0)?;
    let is_separator = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphanumeric() {
            false
        } else {
            c.is_whitespace()
        }
    };
    let mut out = String::with_capacity(text.len());
    let mut previous = ' ';
    for c in text.chars() {
        if is_separator(previous) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        previous = c;
    }
    Ok(Value::String(out))
}

fn f_trimspace(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::String(str_arg(&args, 0)?.trim().to_string()))
}

fn f_trim(args: Vec<Value>, _: &FunctionContext) -> Res {
    let text = str_arg(&args, 0)?;
    let cutset = str_arg(&args, 1)?;
    Ok(Value::String(
        text.trim_matches(|c| cutset.contains(c)).to_string(),
    ))
}

fn f_trimprefix(args: Vec<Value>, _: &FunctionContext) -> Res {
    let text = str_arg(&args, 0)?;
    let prefix = str_arg(&args, 1)?;
    Ok(Value::String(
        text.strip_prefix(prefix.as_str())
            .unwrap_or(&text)
            .to_string(),
    ))
}

fn f_trimsuffix(args: Vec<Value>, _: &FunctionContext) -> Res {
    let text = str_arg(&args, 0)?;
    let suffix = str_arg(&args, 1)?;
    Ok(Value::String(
        text.strip_suffix(suffix.as_str())
            .unwrap_or(&text)
            .to_string(),
    ))
}

fn f_chomp(args: Vec<Value>, _: &FunctionContext) -> Res {
    let text = str_arg(&args, 0)?;
    Ok(Value::String(
        text.trim_end_matches(['\r', '\n']).to_string(),
    ))
}

fn f_strrev(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::String(str_arg(&args, 0)?.chars().rev().collect()))
}

fn f_indent(args: Vec<Value>, _: &FunctionContext) -> Res {
    let spaces = int_arg(&args, 0)?;
    let text = str_arg(&args, 1)?;
    let pad = " ".repeat(usize::try_from(spaces).unwrap_or(0));
    Ok(Value::String(text.replace('\n', &format!("\n{pad}"))))
}

fn f_startswith(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::Bool(
        str_arg(&args, 0)?.starts_with(&str_arg(&args, 1)?),
    ))
}

fn f_endswith(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::Bool(
        str_arg(&args, 0)?.ends_with(&str_arg(&args, 1)?),
    ))
}

fn f_strcontains(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::Bool(
        str_arg(&args, 0)?.contains(&str_arg(&args, 1)?),
    ))
}

/// Characters are Unicode scalar values here; Terraform counts grapheme clusters, which differs
/// only for combining sequences.
fn f_substr(args: Vec<Value>, _: &FunctionContext) -> Res {
    let chars: Vec<char> = str_arg(&args, 0)?.chars().collect();
    let offset = int_arg(&args, 1)?;
    let length = int_arg(&args, 2)?;
    let total = chars.len() as i64;
    let start = if offset < 0 {
        (offset + total).max(0)
    } else {
        offset.min(total)
    };
    let end = if length < 0 {
        total
    } else {
        start.saturating_add(length).min(total)
    };
    let slice = chars.get(start as usize..end as usize).unwrap_or_default();
    Ok(Value::String(slice.iter().collect()))
}

fn f_split(args: Vec<Value>, _: &FunctionContext) -> Res {
    let separator = str_arg(&args, 0)?;
    let text = str_arg(&args, 1)?;
    // An empty separator splits into characters, as Go's strings.Split does.
    if separator.is_empty() {
        return Ok(string_list(text.chars().map(String::from)));
    }
    Ok(string_list(text.split(&separator).map(str::to_string)))
}

fn f_join(args: Vec<Value>, _: &FunctionContext) -> Res {
    let separator = str_arg(&args, 0)?;
    let mut parts = Vec::new();
    for i in 1..args.len() {
        parts.extend(string_elements(list_arg(&args, i)?, i + 1)?);
    }
    Ok(Value::String(parts.join(&separator)))
}

fn compile_regex(pattern: &str, position: usize) -> Result<Regex, FunctionError> {
    Regex::new(pattern).map_err(|_| invalid(position, "invalid regular expression"))
}

/// A pattern between slashes is a regular expression, as in Terraform's `replace`.
fn f_replace(args: Vec<Value>, _: &FunctionContext) -> Res {
    let text = str_arg(&args, 0)?;
    let search = str_arg(&args, 1)?;
    let replacement = str_arg(&args, 2)?;
    let pattern = search
        .strip_prefix('/')
        .and_then(|s| s.strip_suffix('/'))
        .filter(|_| search.len() > 1);
    match pattern {
        Some(pattern) => {
            let re = compile_regex(pattern, 2)?;
            Ok(Value::String(
                re.replace_all(&text, replacement.as_str()).into_owned(),
            ))
        }
        None => Ok(Value::String(text.replace(&search, &replacement))),
    }
}

/// One match as Terraform shows it: the matched text without capture groups, a list with
/// unnamed groups, an object with named groups. Groups that did not take part are null.
fn regex_match(re: &Regex, caps: &regex::Captures<'_>) -> Value {
    let group = |m: Option<regex::Match<'_>>| m.map_or(Value::Null, |m| Value::from(m.as_str()));
    if re.captures_len() == 1 {
        return caps.get(0).map_or(Value::Null, |m| Value::from(m.as_str()));
    }
    let named = re.capture_names().flatten().count();
    if named > 0 {
        Value::Map(
            re.capture_names()
                .flatten()
                .map(|name| (name.to_string(), group(caps.name(name))))
                .collect(),
        )
    } else {
        Value::List((1..re.captures_len()).map(|i| group(caps.get(i))).collect())
    }
}

fn checked_regex(args: &[Value]) -> Result<(Regex, String), FunctionError> {
    let re = compile_regex(&str_arg(args, 0)?, 1)?;
    let named = re.capture_names().flatten().count();
    if named > 0 && named + 1 != re.captures_len() {
        return Err(invalid(
            1,
            "a pattern cannot mix named and unnamed capture groups",
        ));
    }
    Ok((re, str_arg(args, 1)?))
}

fn f_regex(args: Vec<Value>, _: &FunctionContext) -> Res {
    let (re, text) = checked_regex(&args)?;
    let caps = re
        .captures(&text)
        .ok_or_else(|| FunctionError::Failed("the pattern did not match the string".into()))?;
    Ok(regex_match(&re, &caps))
}

fn f_regexall(args: Vec<Value>, _: &FunctionContext) -> Res {
    let (re, text) = checked_regex(&args)?;
    Ok(Value::List(
        re.captures_iter(&text)
            .map(|caps| regex_match(&re, &caps))
            .collect(),
    ))
}

// ----- format and formatlist ----------------------------------------------------------------

#[derive(Default)]
struct Verb {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
    letter: char,
}

fn read_digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut value: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        chars.next();
        value = Some(
            value
                .unwrap_or(0)
                .saturating_mul(10)
                .saturating_add(d as usize),
        );
    }
    value
}

/// Formats `spec` like Terraform's `format`. `first` is the 1-based position of `values[0]`
/// among the function's arguments, for messages.
fn format_values(spec: &str, values: &[Value], first: usize) -> Result<String, FunctionError> {
    let bad_spec = |reason: &str| invalid(1, reason.to_string());
    let mut out = String::with_capacity(spec.len());
    let mut chars = spec.chars().peekable();
    let mut next = 0usize;
    let mut used = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut verb = Verb::default();
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => verb.minus = true,
                '+' => verb.plus = true,
                ' ' => verb.space = true,
                '0' => verb.zero = true,
                '#' => verb.sharp = true,
                _ => break,
            }
            chars.next();
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            let index = read_digits(&mut chars).filter(|n| *n > 0);
            match (index, chars.next()) {
                (Some(index), Some(']')) => next = index - 1,
                _ => return Err(bad_spec("invalid argument index in the format string")),
            }
        }
        verb.width = read_digits(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            verb.precision = Some(read_digits(&mut chars).ok_or_else(|| {
                bad_spec("a period in a format verb must be followed by a precision")
            })?);
        }
        verb.letter = chars
            .next()
            .ok_or_else(|| bad_spec("the format string ends in the middle of a verb"))?;
        let value = values.get(next).ok_or_else(|| {
            FunctionError::Failed(format!(
                "not enough arguments for the format string: it needs at least {}, found {}",
                next + 1,
                values.len()
            ))
        })?;
        format_verb(&verb, value.peel(), next + first, &mut out)?;
        next += 1;
        used = used.max(next);
    }
    if values.len() > used {
        return Err(FunctionError::Failed(format!(
            "too many arguments: the format string uses only {used} of {}",
            values.len()
        )));
    }
    Ok(out)
}

fn format_verb(
    verb: &Verb,
    value: &Value,
    position: usize,
    out: &mut String,
) -> Result<(), FunctionError> {
    let letter = verb.letter;
    if letter != 'v' && value.is_null() {
        return Err(invalid(
            position,
            format!("a null value cannot be formatted with %{letter}"),
        ));
    }
    let unsupported = || {
        invalid(
            position,
            match value {
                Value::String(_) => format!("%{letter} cannot format this string"),
                other => format!("%{letter} cannot format a value of type {}", other.kind()),
            },
        )
    };
    match letter {
        'v' => {
            // Numbers print as `tostring` prints them. Terraform's %v uses Go's %g here, which
            // turns 1000000 into "1e+06"; ss keeps whole numbers whole.
            let text = match value {
                Value::String(s) if !verb.sharp => s.clone(),
                Value::Number(n) if !verb.sharp => number_to_string(*n),
                Value::Bool(b) if !verb.sharp => b.to_string(),
                other => json_text(other)?,
            };
            out.push_str(&pad_text(verb, "", &text));
        }
        't' => {
            let b = primitive_to_bool(value).ok_or_else(unsupported)?;
            out.push_str(&pad_text(verb, "", &b.to_string()));
        }
        's' | 'q' => {
            let mut text = primitive_to_string(value).ok_or_else(unsupported)?;
            // Like cty, a zero precision means "no limit" rather than "no characters".
            if let Some(precision) = verb.precision.filter(|p| *p > 0) {
                text = text.chars().take(precision).collect();
            }
            if letter == 'q' {
                text = json_quote(&text);
            }
            out.push_str(&pad_text(verb, "", &text));
        }
        'd' | 'b' | 'o' | 'x' | 'X' => {
            let n = primitive_to_number(value).ok_or_else(unsupported)?;
            if n.fract() != 0.0 || n.abs() >= 1e30 {
                return Err(invalid(
                    position,
                    format!("%{letter} requires a whole number"),
                ));
            }
            let magnitude = n.abs() as u128;
            let (prefix, mut digits) = match letter {
                'b' => ("0b", format!("{magnitude:b}")),
                'o' => ("0", format!("{magnitude:o}")),
                'x' => ("0x", format!("{magnitude:x}")),
                'X' => ("0X", format!("{magnitude:X}")),
                _ => ("", magnitude.to_string()),
            };
            if let Some(precision) = verb.precision {
                while digits.len() < precision {
                    digits.insert(0, '0');
                }
            }
            let mut lead = sign(verb, n).to_string();
            if verb.sharp {
                lead.push_str(prefix);
            }
            out.push_str(&pad_text(verb, &lead, &digits));
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let n = primitive_to_number(value).ok_or_else(unsupported)?;
            if !n.is_finite() {
                return Err(invalid(position, "the number is not finite"));
            }
            let magnitude = n.abs();
            let body = match letter {
                'e' | 'E' => format_e(magnitude, verb.precision.unwrap_or(6)),
                'g' | 'G' => format_g(magnitude, verb.precision),
                _ => format!("{:.*}", verb.precision.unwrap_or(6), magnitude),
            };
            let body = if letter.is_ascii_uppercase() {
                body.to_uppercase()
            } else {
                body
            };
            out.push_str(&pad_text(verb, sign(verb, n), &body));
        }
        _ => {
            return Err(invalid(1, format!("unsupported format verb %{letter}")));
        }
    }
    Ok(())
}

fn sign(verb: &Verb, n: f64) -> &'static str {
    if n < 0.0 {
        "-"
    } else if verb.plus {
        "+"
    } else if verb.space {
        " "
    } else {
        ""
    }
}

/// Pads `lead` + `body` to the verb's width (counted in characters). Zero padding goes between
/// the sign (or radix prefix) and the digits, as in Go's fmt.
fn pad_text(verb: &Verb, lead: &str, body: &str) -> String {
    let len = lead.chars().count() + body.chars().count();
    let missing = verb.width.unwrap_or(0).saturating_sub(len);
    if missing == 0 {
        format!("{lead}{body}")
    } else if verb.minus {
        format!("{lead}{body}{}", " ".repeat(missing))
    } else if verb.zero {
        format!("{lead}{}{body}", "0".repeat(missing))
    } else {
        format!("{}{lead}{body}", " ".repeat(missing))
    }
}

/// The significant decimal digits of a non-negative number (no trailing zeros) and its decimal
/// exponent `dp`, so that the number is `0.DIGITS × 10^dp`. `significant` rounds to that many
/// digits; `None` gives the shortest digits that read back as the same number.
fn decimal_digits(n: f64, significant: Option<usize>) -> (String, i32) {
    let text = match significant {
        Some(digits) => format!("{:.*e}", digits.saturating_sub(1), n),
        None => format!("{n:e}"),
    };
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    (digits, exponent.parse::<i32>().unwrap_or(0) + 1)
}

fn exponent_text(exp: i32) -> String {
    format!(
        "e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.unsigned_abs()
    )
}

/// Scientific notation with `decimals` digits after the point and a two-digit exponent.
fn digits_e(digits: &str, dp: i32, decimals: usize) -> String {
    let mut chars = digits.chars();
    let mut out = String::new();
    out.push(chars.next().unwrap_or('0'));
    if decimals > 0 {
        out.push('.');
        out.extend(chars.chain(std::iter::repeat('0')).take(decimals));
    }
    let exp = if digits == "0" { 0 } else { dp - 1 };
    out.push_str(&exponent_text(exp));
    out
}

/// Plain decimal notation with `decimals` digits after the point.
fn digits_f(digits: &str, dp: i32, decimals: usize) -> String {
    let digit_at = |i: i64| -> char {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.as_bytes().get(i))
            .map_or('0', |b| char::from(*b))
    };
    let mut out = String::new();
    if dp <= 0 {
        out.push('0');
    } else {
        out.extend((0..i64::from(dp)).map(digit_at));
    }
    if decimals > 0 {
        out.push('.');
        out.extend((0..decimals as i64).map(|i| digit_at(i64::from(dp) + i)));
    }
    out
}

fn format_e(n: f64, precision: usize) -> String {
    let (digits, dp) = decimal_digits(n, Some(precision + 1));
    digits_e(&digits, dp, precision)
}

/// Go's `%g`: scientific notation for large or small exponents, plain otherwise, and no
/// trailing zeros.
fn format_g(n: f64, precision: Option<usize>) -> String {
    let (digits, dp) = decimal_digits(n, precision.map(|p| p.max(1)));
    let nd = digits.len() as i32;
    let mut prec = precision.map_or(nd, |p| p.max(1) as i32);
    let mut eprec = prec;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    if precision.is_none() {
        eprec = 6;
    }
    let exp = dp - 1;
    if exp < -4 || exp >= eprec {
        prec = prec.min(nd);
        return digits_e(&digits, dp, (prec - 1).max(0) as usize);
    }
    if prec > dp {
        prec = nd;
    }
    digits_f(&digits, dp, (prec - dp).max(0) as usize)
}

fn f_format(args: Vec<Value>, _: &FunctionContext) -> Res {
    let spec = str_arg(&args, 0)?;
    Ok(Value::String(format_values(
        &spec,
        args.get(1..).unwrap_or_default(),
        2,
    )?))
}

/// List arguments are iterated in step (they must have the same length); other arguments are
/// repeated for every element.
fn f_formatlist(args: Vec<Value>, _: &FunctionContext) -> Res {
    let spec = str_arg(&args, 0)?;
    let values = args.get(1..).unwrap_or_default();
    let mut length: Option<(usize, usize)> = None;
    for (i, v) in values.iter().enumerate() {
        if let Some(list) = v.as_list() {
            match length {
                None => length = Some((list.len(), i + 2)),
                Some((len, first)) if len != list.len() => {
                    return Err(invalid(
                        i + 2,
                        format!(
                            "the list has length {}, which differs from argument {first} of length {len}",
                            list.len()
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    let count = length.map_or(1, |(len, _)| len);
    let mut out = Vec::with_capacity(count);
    for row in 0..count {
        let row_values: Vec<Value> = values
            .iter()
            .map(|v| match v.as_list() {
                Some(list) => list.get(row).cloned().unwrap_or(Value::Null),
                None => v.clone(),
            })
            .collect();
        out.push(Value::String(format_values(&spec, &row_values, 2)?));
    }
    Ok(Value::List(out))
}

// ----- Collections --------------------------------------------------------------------------

fn f_length(args: Vec<Value>, _: &FunctionContext) -> Res {
    let v = arg(&args, 0);
    let len = match v {
        Value::String(s) => s.chars().count(),
        Value::List(items) => items.len(),
        Value::Map(map) => map.len(),
        _ => return Err(type_error(1, "string, list or object", v)),
    };
    Ok(Value::Number(len as f64))
}

fn f_concat(args: Vec<Value>, _: &FunctionContext) -> Res {
    let mut out = Vec::new();
    for i in 0..args.len() {
        out.extend_from_slice(list_arg(&args, i)?);
    }
    Ok(Value::List(out))
}

/// Later arguments win; null arguments are skipped, as in Terraform.
fn f_merge(args: Vec<Value>, _: &FunctionContext) -> Res {
    let mut out = BTreeMap::new();
    for i in 0..args.len() {
        if arg(&args, i).is_null() {
            continue;
        }
        out.extend(
            map_arg(&args, i)?
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
    Ok(Value::Map(out))
}

fn f_lookup(args: Vec<Value>, _: &FunctionContext) -> Res {
    let map = map_arg(&args, 0)?;
    let key = str_arg(&args, 1)?;
    match (map.get(&key), args.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(invalid(
            2,
            "the key does not exist in the map and no default was given",
        )),
    }
}

fn f_keys(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(string_list(map_arg(&args, 0)?.keys().cloned()))
}

fn f_values(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::List(map_arg(&args, 0)?.values().cloned().collect()))
}

fn f_contains(args: Vec<Value>, _: &FunctionContext) -> Res {
    let needle = arg(&args, 1);
    Ok(Value::Bool(list_arg(&args, 0)?.iter().any(|v| v == needle)))
}

fn f_index(args: Vec<Value>, _: &FunctionContext) -> Res {
    let needle = arg(&args, 1);
    list_arg(&args, 0)?
        .iter()
        .position(|v| v == needle)
        .map(|i| Value::Number(i as f64))
        .ok_or_else(|| invalid(2, "the value is not in the list"))
}

/// The first argument that is neither null nor an empty string. When strings are mixed with
/// numbers or bools, the result is converted to a string, as Terraform unifies the types.
fn f_coalesce(args: Vec<Value>, _: &FunctionContext) -> Res {
    let args = unify_primitives(args);
    args.into_iter()
        .find(|v| !v.is_null() && v.as_str() != Some(""))
        .ok_or_else(|| FunctionError::Failed("every argument is null or an empty string".into()))
}

fn f_coalescelist(args: Vec<Value>, _: &FunctionContext) -> Res {
    for i in 0..args.len() {
        if arg(&args, i).is_null() {
            continue;
        }
        let list = list_arg(&args, i)?;
        if !list.is_empty() {
            return Ok(Value::List(list.to_vec()));
        }
    }
    Err(FunctionError::Failed(
        "every argument is null or an empty list".into(),
    ))
}

/// Indexes wrap around in both directions: `element(l, length(l))` is the first element and
/// `element(l, -1)` the last.
fn f_element(args: Vec<Value>, _: &FunctionContext) -> Res {
    let list = list_arg(&args, 0)?;
    let index = int_arg(&args, 1)?;
    if list.is_empty() {
        return Err(invalid(1, "cannot take an element of an empty list"));
    }
    let wrapped = index.rem_euclid(list.len() as i64) as usize;
    Ok(list.get(wrapped).cloned().unwrap_or(Value::Null))
}

fn f_slice(args: Vec<Value>, _: &FunctionContext) -> Res {
    let list = list_arg(&args, 0)?;
    let start = int_arg(&args, 1)?;
    let end = int_arg(&args, 2)?;
    if start < 0 {
        return Err(invalid(2, "the start index must not be negative"));
    }
    if end > list.len() as i64 {
        return Err(invalid(3, "the end index is past the end of the list"));
    }
    if start > end {
        return Err(invalid(
            2,
            "the start index must be less than or equal to the end index",
        ));
    }
    Ok(Value::List(
        list.get(start as usize..end as usize)
            .unwrap_or_default()
            .to_vec(),
    ))
}

fn f_distinct(args: Vec<Value>, _: &FunctionContext) -> Res {
    let mut out: Vec<Value> = Vec::new();
    for v in list_arg(&args, 0)? {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(Value::List(out))
}

fn flatten_into(items: &[Value], out: &mut Vec<Value>) {
    for v in items {
        match v.peel() {
            Value::List(inner) => flatten_into(inner, out),
            _ => out.push(v.clone()),
        }
    }
}

fn f_flatten(args: Vec<Value>, _: &FunctionContext) -> Res {
    let mut out = Vec::new();
    flatten_into(list_arg(&args, 0)?, &mut out);
    Ok(Value::List(out))
}

/// Sorts lexicographically after converting every element to a string, as Terraform does
/// (so `sort([10, 9])` is `["10", "9"]`).
fn f_sort(args: Vec<Value>, _: &FunctionContext) -> Res {
    let mut items = string_elements(list_arg(&args, 0)?, 1)?;
    items.sort();
    Ok(string_list(items))
}

fn f_reverse(args: Vec<Value>, _: &FunctionContext) -> Res {
    let mut items = list_arg(&args, 0)?.to_vec();
    items.reverse();
    Ok(Value::List(items))
}

fn f_compact(args: Vec<Value>, _: &FunctionContext) -> Res {
    let list = list_arg(&args, 0)?;
    let present: Vec<Value> = list.iter().filter(|v| !v.is_null()).cloned().collect();
    let strings = string_elements(&present, 1)?;
    Ok(string_list(strings.into_iter().filter(|s| !s.is_empty())))
}

fn f_zipmap(args: Vec<Value>, _: &FunctionContext) -> Res {
    let keys = string_elements(list_arg(&args, 0)?, 1)?;
    let values = list_arg(&args, 1)?;
    if keys.len() != values.len() {
        return Err(invalid(
            2,
            format!(
                "expected as many values as keys ({}), found {}",
                keys.len(),
                values.len()
            ),
        ));
    }
    Ok(Value::Map(
        keys.into_iter().zip(values.iter().cloned()).collect(),
    ))
}

fn f_chunklist(args: Vec<Value>, _: &FunctionContext) -> Res {
    let list = list_arg(&args, 0)?;
    let size = int_arg(&args, 1)?;
    let size = usize::try_from(size).map_err(|_| invalid(2, "the size must not be negative"))?;
    if list.is_empty() {
        return Ok(Value::List(Vec::new()));
    }
    if size == 0 {
        return Ok(Value::List(vec![Value::List(list.to_vec())]));
    }
    Ok(Value::List(
        list.chunks(size).map(|c| Value::List(c.to_vec())).collect(),
    ))
}

fn f_one(args: Vec<Value>, _: &FunctionContext) -> Res {
    match list_arg(&args, 0)? {
        [] => Ok(Value::Null),
        [only] => Ok(only.clone()),
        _ => Err(invalid(1, "the list must have zero or one elements")),
    }
}

fn bools(args: &[Value]) -> Result<Vec<bool>, FunctionError> {
    list_arg(args, 0)?
        .iter()
        .enumerate()
        .map(|(e, v)| {
            primitive_to_bool(v).ok_or_else(|| {
                invalid(1, format!("element {e}: expected bool, found {}", v.kind()))
            })
        })
        .collect()
}

fn f_alltrue(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::Bool(bools(&args)?.into_iter().all(|b| b)))
}

fn f_anytrue(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::Bool(bools(&args)?.into_iter().any(|b| b)))
}

fn f_setunion(args: Vec<Value>, _: &FunctionContext) -> Res {
    let mut all = Vec::new();
    for i in 0..args.len() {
        all.extend_from_slice(list_arg(&args, i)?);
    }
    Ok(Value::List(to_set(all)))
}

fn f_setintersection(args: Vec<Value>, _: &FunctionContext) -> Res {
    let mut result = to_set(list_arg(&args, 0)?.to_vec());
    for i in 1..args.len() {
        let other = to_set(list_arg(&args, i)?.to_vec());
        result.retain(|v| other.contains(v));
    }
    Ok(Value::List(result))
}

fn f_setsubtract(args: Vec<Value>, _: &FunctionContext) -> Res {
    let remove = to_set(list_arg(&args, 1)?.to_vec());
    let mut result = to_set(list_arg(&args, 0)?.to_vec());
    result.retain(|v| !remove.contains(v));
    Ok(Value::List(result))
}

// ----- Type conversions ---------------------------------------------------------------------

fn f_tostring(args: Vec<Value>, _: &FunctionContext) -> Res {
    let v = arg(&args, 0);
    if v.is_null() {
        return Ok(Value::Null);
    }
    primitive_to_string(v)
        .map(Value::String)
        .ok_or_else(|| type_error(1, "string, number or bool", v))
}

fn f_tonumber(args: Vec<Value>, _: &FunctionContext) -> Res {
    if arg(&args, 0).is_null() {
        return Ok(Value::Null);
    }
    Ok(Value::Number(num_arg(&args, 0)?))
}

fn f_tobool(args: Vec<Value>, _: &FunctionContext) -> Res {
    let v = arg(&args, 0);
    if v.is_null() {
        return Ok(Value::Null);
    }
    primitive_to_bool(v)
        .map(Value::Bool)
        .ok_or_else(|| match v {
            Value::String(_) => invalid(1, "only the strings \"true\" and \"false\" are bools"),
            _ => type_error(1, "bool", v),
        })
}

fn f_tolist(args: Vec<Value>, _: &FunctionContext) -> Res {
    if arg(&args, 0).is_null() {
        return Ok(Value::Null);
    }
    Ok(Value::List(unify_primitives(list_arg(&args, 0)?.to_vec())))
}

fn f_toset(args: Vec<Value>, _: &FunctionContext) -> Res {
    if arg(&args, 0).is_null() {
        return Ok(Value::Null);
    }
    Ok(Value::List(to_set(list_arg(&args, 0)?.to_vec())))
}

fn f_tomap(args: Vec<Value>, _: &FunctionContext) -> Res {
    if arg(&args, 0).is_null() {
        return Ok(Value::Null);
    }
    let map = map_arg(&args, 0)?;
    let keys = map.keys().cloned();
    let values = unify_primitives(map.values().cloned().collect());
    Ok(Value::Map(keys.zip(values).collect()))
}

// ----- Encoding and hashing -----------------------------------------------------------------

/// Escapes what Go's JSON encoder escapes, so output matches Terraform byte for byte. These
/// characters can only occur inside JSON strings, so replacing them in the whole text is safe.
fn html_escape_json(text: &str) -> String {
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn json_text(v: &Value) -> Result<String, FunctionError> {
    let json = v.to_json().ok_or_else(|| {
        FunctionError::Failed("cannot encode a value that is not yet known".into())
    })?;
    serde_json::to_string(&json)
        .map(|s| html_escape_json(&s))
        .map_err(|_| FunctionError::Failed("the value cannot be encoded as JSON".into()))
}

fn json_quote(text: &str) -> String {
    html_escape_json(&serde_json::Value::String(text.to_string()).to_string())
}

fn f_jsonencode(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::String(json_text(arg(&args, 0))?))
}

fn f_jsondecode(args: Vec<Value>, _: &FunctionContext) -> Res {
    let text = str_arg(&args, 0)?;
    // serde_json's messages can quote pieces of the input, so only the position is reported.
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        invalid(
            1,
            format!("invalid JSON at line {}, column {}", e.line(), e.column()),
        )
    })?;
    Ok(Value::from_json(&json))
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4), as Terraform's base64 functions use.
fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            if i <= chunk.len() {
                let sextet = ((n >> (18 - 6 * i)) & 63) as usize;
                out.push(char::from(BASE64_ALPHABET[sextet]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_sextet(b: u8) -> Option<u32> {
    BASE64_ALPHABET
        .iter()
        .position(|a| *a == b)
        .map(|p| p as u32)
}

/// Decodes padded standard base64; line breaks are ignored, as Go's decoder does.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let clean: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    if !clean.len().is_multiple_of(4) {
        return None;
    }
    let count = clean.len() / 4;
    let mut out = Vec::with_capacity(count * 3);
    for (i, chunk) in clean.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|b| **b == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != count) {
            return None;
        }
        let mut n: u32 = 0;
        for b in chunk.get(..4 - pad)? {
            n = (n << 6) | base64_sextet(*b)?;
        }
        n <<= 6 * pad;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(bytes.get(..3 - pad)?);
    }
    Some(out)
}

fn f_base64encode(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::String(base64_encode(str_arg(&args, 0)?.as_bytes())))
}

fn f_base64decode(args: Vec<Value>, _: &FunctionContext) -> Res {
    let bytes = base64_decode(&str_arg(&args, 0)?)
        .ok_or_else(|| invalid(1, "the string is not valid base64"))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| invalid(1, "the decoded bytes are not valid UTF-8"))
}

fn f_sha256(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::String(hex::encode(Sha256::digest(
        str_arg(&args, 0)?.as_bytes(),
    ))))
}

fn f_sha512(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::String(hex::encode(Sha512::digest(
        str_arg(&args, 0)?.as_bytes(),
    ))))
}

fn f_base64sha256(args: Vec<Value>, _: &FunctionContext) -> Res {
    Ok(Value::String(base64_encode(&Sha256::digest(
        str_arg(&args, 0)?.as_bytes(),
    ))))
}

// ----- Files --------------------------------------------------------------------------------

fn f_file(args: Vec<Value>, ctx: &FunctionContext) -> Res {
    let path = str_arg(&args, 0)?;
    let file_error = |reason: String| FunctionError::File {
        path: path.clone(),
        reason,
    };
    let bytes = std::fs::read(ctx.dir.join(&path)).map_err(|e| file_error(e.to_string()))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| file_error("the file is not valid UTF-8".into()))
}

fn f_fileexists(args: Vec<Value>, ctx: &FunctionContext) -> Res {
    let path = str_arg(&args, 0)?;
    Ok(Value::Bool(ctx.dir.join(path).is_file()))
}

// ----- Networks -----------------------------------------------------------------------------

/// An IP prefix as integers: the network address (host bits cleared), the prefix length, and
/// the address width (32 or 128).
#[derive(Clone, Copy)]
struct Prefix {
    network: u128,
    len: u32,
    bits: u32,
}

fn prefix_arg(args: &[Value], i: usize) -> Result<Prefix, FunctionError> {
    let net: IpNet = str_arg(args, i)?
        .parse()
        .map_err(|_| invalid(i + 1, "not a valid CIDR prefix"))?;
    Ok(match net.trunc() {
        IpNet::V4(v4) => Prefix {
            network: u128::from(u32::from(v4.network())),
            len: u32::from(v4.prefix_len()),
            bits: 32,
        },
        IpNet::V6(v6) => Prefix {
            network: u128::from(v6.network()),
            len: u32::from(v6.prefix_len()),
            bits: 128,
        },
    })
}

/// The number of addresses in a prefix of `len` bits, or `None` for all of IPv6 (2^128).
fn block_size(bits: u32, len: u32) -> Option<u128> {
    1u128.checked_shl(bits - len)
}

fn address_text(address: u128, bits: u32) -> String {
    if bits == 32 {
        std::net::Ipv4Addr::from(address as u32).to_string()
    } else {
        std::net::Ipv6Addr::from(address).to_string()
    }
}

fn prefix_text(address: u128, len: u32, bits: u32) -> Result<String, FunctionError> {
    let bad = || FunctionError::Failed("the computed prefix is not valid".into());
    let len = u8::try_from(len).map_err(|_| bad())?;
    Ok(if bits == 32 {
        Ipv4Net::new(std::net::Ipv4Addr::from(address as u32), len)
            .map_err(|_| bad())?
            .to_string()
    } else {
        Ipv6Net::new(std::net::Ipv6Addr::from(address), len)
            .map_err(|_| bad())?
            .to_string()
    })
}

fn extension_arg(args: &[Value], i: usize, prefix: Prefix) -> Result<u32, FunctionError> {
    let newbits = int_arg(args, i)?;
    let newbits = u32::try_from(newbits).map_err(|_| invalid(i + 1, "must not be negative"))?;
    if prefix.len.saturating_add(newbits) > prefix.bits {
        return Err(invalid(
            i + 1,
            format!(
                "the new prefix would be longer than the {} bits of the address",
                prefix.bits
            ),
        ));
    }
    Ok(newbits)
}

fn f_cidrsubnet(args: Vec<Value>, _: &FunctionContext) -> Res {
    let prefix = prefix_arg(&args, 0)?;
    let newbits = extension_arg(&args, 1, prefix)?;
    let netnum = int_arg(&args, 2)?;
    let netnum = u128::try_from(netnum).map_err(|_| invalid(3, "must not be negative"))?;
    if newbits < 128 && netnum >= (1u128 << newbits) {
        return Err(invalid(
            3,
            "the network number does not fit in the given number of new bits",
        ));
    }
    let len = prefix.len + newbits;
    let offset = block_size(prefix.bits, len)
        .unwrap_or(0)
        .wrapping_mul(netnum);
    Ok(Value::String(prefix_text(
        prefix.network | offset,
        len,
        prefix.bits,
    )?))
}

/// A negative host number counts back from the end of the prefix: -1 is the last address.
fn f_cidrhost(args: Vec<Value>, _: &FunctionContext) -> Res {
    let prefix = prefix_arg(&args, 0)?;
    let hostnum = int_arg(&args, 1)?;
    let out_of_range = || invalid(2, "the host number is outside the prefix");
    let size = block_size(prefix.bits, prefix.len);
    let host = if hostnum < 0 {
        let back = u128::from(hostnum.unsigned_abs());
        match size {
            Some(size) if back > size => return Err(out_of_range()),
            Some(size) => size - back,
            None => 0u128.wrapping_sub(back),
        }
    } else {
        let host = u128::from(hostnum.unsigned_abs());
        if size.is_some_and(|size| host >= size) {
            return Err(out_of_range());
        }
        host
    };
    Ok(Value::String(address_text(
        prefix.network | host,
        prefix.bits,
    )))
}

fn f_cidrnetmask(args: Vec<Value>, _: &FunctionContext) -> Res {
    let prefix = prefix_arg(&args, 0)?;
    if prefix.bits != 32 {
        return Err(invalid(1, "only IPv4 prefixes have a netmask"));
    }
    let mask = u32::MAX.checked_shl(32 - prefix.len).unwrap_or(0);
    Ok(Value::String(address_text(u128::from(mask), 32)))
}

/// Allocates consecutive subnets, each aligned to its own size, as Terraform's `cidrsubnets`
/// does: every subnet starts at the first suitably aligned address after the previous one.
fn f_cidrsubnets(args: Vec<Value>, _: &FunctionContext) -> Res {
    let prefix = prefix_arg(&args, 0)?;
    let end = block_size(prefix.bits, prefix.len).map(|size| prefix.network + size);
    let mut next = prefix.network;
    let mut out = Vec::with_capacity(args.len() - 1);
    for i in 1..args.len() {
        let newbits = extension_arg(&args, i, prefix)?;
        if newbits == 0 {
            return Err(invalid(i + 1, "must extend the prefix by at least one bit"));
        }
        let len = prefix.len + newbits;
        let size = block_size(prefix.bits, len).unwrap_or(u128::MAX);
        let start = next.div_ceil(size).checked_mul(size);
        let no_space = || {
            FunctionError::Failed(format!(
                "not enough address space left in the prefix for subnet {i}"
            ))
        };
        let start = start.ok_or_else(no_space)?;
        let after = start.checked_add(size).ok_or_else(no_space)?;
        if end.is_some_and(|end| after > end) || (prefix.bits == 32 && after > 1u128 << 32) {
            return Err(no_space());
        }
        out.push(Value::String(prefix_text(start, len, prefix.bits)?));
        next = after;
    }
    Ok(Value::List(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::from(v)
    }

    fn n(v: f64) -> Value {
        Value::Number(v)
    }

    fn b(v: bool) -> Value {
        Value::Bool(v)
    }

    fn l(items: Vec<Value>) -> Value {
        Value::List(items)
    }

    fn sl(items: &[&str]) -> Value {
        Value::List(items.iter().map(|x| Value::from(*x)).collect())
    }

    fn nl(items: &[f64]) -> Value {
        Value::List(items.iter().map(|x| Value::Number(*x)).collect())
    }

    fn m(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn ctx() -> FunctionContext {
        FunctionContext {
            dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        }
    }

    /// Expects `name(args)` to return `expected`.
    #[track_caller]
    fn check(name: &str, args: Vec<Value>, expected: Value) {
        let got = call(name, args, &ctx()).map_err(|e| e.to_string());
        assert_eq!(got, Ok(expected), "{name}");
    }

    /// Expects `name(args)` to fail with a message containing `message`.
    #[track_caller]
    fn check_err(name: &str, args: Vec<Value>, message: &str) {
        let got = call(name, args, &ctx()).map_err(|e| e.to_string());
        assert!(
            got.as_ref().is_err_and(|e| e.contains(message)),
            "{name}: {got:?} is not an error containing {message:?}"
        );
    }

    #[test]
    fn names_are_sorted_unique_and_exist() {
        assert!(NAMES.windows(2).all(|w| w[0] < w[1]), "{NAMES:?}");
        for name in NAMES {
            assert!(exists(name), "{name}");
        }
        assert!(!exists("try"));
        assert!(!exists("nope"));
        check_err("nope", vec![], "there is no function named \"nope\"");
    }

    #[test]
    fn arity_is_checked() {
        check_err("abs", vec![], "expected 1 argument, found 0");
        check_err(
            "cidrsubnet",
            vec![s("10.0.0.0/8")],
            "expected 3 arguments, found 1",
        );
        check_err("lookup", vec![m(&[])], "expected 2 to 3 arguments, found 1");
        check_err("concat", vec![], "expected at least 1 argument, found 0");
        check_err(
            "range",
            vec![n(1.0); 4],
            "expected 1 to 3 arguments, found 4",
        );
    }

    #[test]
    fn numbers() {
        check("abs", vec![n(-3.5)], n(3.5));
        check("abs", vec![s("-2")], n(2.0));
        check_err(
            "abs",
            vec![s("x")],
            "argument 1: the string is not a number",
        );
        check("ceil", vec![n(4.1)], n(5.0));
        check("ceil", vec![n(-4.1)], n(-4.0));
        check_err(
            "ceil",
            vec![b(true)],
            "argument 1: expected number, found bool",
        );
        check("floor", vec![n(4.9)], n(4.0));
        check("floor", vec![n(-4.1)], n(-5.0));
        check_err("floor", vec![l(vec![])], "expected number, found list");
        check("min", vec![n(12.0), n(54.0), n(3.0)], n(3.0));
        check("min", vec![n(7.0)], n(7.0));
        check_err(
            "min",
            vec![n(1.0), s("a")],
            "argument 2: the string is not a number",
        );
        check("max", vec![n(12.0), n(54.0), n(3.0)], n(54.0));
        check("max", vec![s("5"), n(3.0)], n(5.0));
        check_err(
            "max",
            vec![Value::Null],
            "argument 1: expected number, found null",
        );
        check("signum", vec![n(-7.0)], n(-1.0));
        check("signum", vec![n(0.0)], n(0.0));
        check("signum", vec![n(3.0)], n(1.0));
        check_err("signum", vec![s("")], "not a number");
        check("pow", vec![n(3.0), n(2.0)], n(9.0));
        check("pow", vec![n(4.0), n(0.0)], n(1.0));
        check_err("pow", vec![n(-1.0), n(0.5)], "not a finite number");
        check("log", vec![n(16.0), n(2.0)], n(4.0));
        check_err("log", vec![n(-1.0), n(10.0)], "not a finite number");
        check("sum", vec![nl(&[1.0, 2.5, 3.0])], n(6.5));
        check_err("sum", vec![l(vec![])], "cannot sum an empty list");
        check_err(
            "sum",
            vec![l(vec![n(1.0), b(true)])],
            "element 1: expected number, found bool",
        );
        check("parseint", vec![s("100"), n(10.0)], n(100.0));
        check("parseint", vec![s("FF"), n(16.0)], n(255.0));
        check("parseint", vec![s("-1010"), n(2.0)], n(-10.0));
        check("parseint", vec![s("zA"), n(62.0)], n(35.0 * 62.0 + 36.0));
        check_err(
            "parseint",
            vec![s("12"), n(2.0)],
            "not a valid integer in the given base",
        );
        check_err(
            "parseint",
            vec![s("1"), n(1.0)],
            "argument 2: the base must be between 2 and 62",
        );
        check_err("parseint", vec![s(""), n(10.0)], "not a valid integer");
    }

    #[test]
    fn range() {
        check("range", vec![n(3.0)], nl(&[0.0, 1.0, 2.0]));
        check("range", vec![n(0.0)], nl(&[]));
        check("range", vec![n(-3.0)], nl(&[0.0, -1.0, -2.0]));
        check("range", vec![n(1.0), n(4.0)], nl(&[1.0, 2.0, 3.0]));
        check("range", vec![n(4.0), n(1.0)], nl(&[4.0, 3.0, 2.0]));
        check("range", vec![n(0.0), n(10.0), n(5.0)], nl(&[0.0, 5.0]));
        check(
            "range",
            vec![n(0.0), n(1.0), n(0.25)],
            nl(&[0.0, 0.25, 0.5, 0.75]),
        );
        check(
            "range",
            vec![n(10.0), n(5.0), n(-2.0)],
            nl(&[10.0, 8.0, 6.0]),
        );
        check_err(
            "range",
            vec![n(0.0), n(5.0), n(0.0)],
            "argument 3: step must not be zero",
        );
        check_err(
            "range",
            vec![n(0.0), n(5.0), n(-1.0)],
            "end must be less than start",
        );
        check_err(
            "range",
            vec![n(5.0), n(0.0), n(1.0)],
            "end must be greater than start",
        );
        check_err("range", vec![n(2000.0)], "more than 1024 values");
        assert!(call("range", vec![n(1024.0)], &ctx()).is_ok());
    }

    #[test]
    fn strings() {
        check("lower", vec![s("HELLO Ünï")], s("hello ünï"));
        check_err(
            "lower",
            vec![m(&[])],
            "argument 1: expected string, found object",
        );
        check("upper", vec![s("hello")], s("HELLO"));
        check("upper", vec![n(5.0)], s("5"));
        check_err("upper", vec![Value::Null], "expected string, found null");
        check(
            "title",
            vec![s("hello world-wide_web o'neil")],
            s("Hello World-Wide_web O'Neil"),
        );
        check_err("title", vec![l(vec![])], "expected string, found list");
        check("trimspace", vec![s("  hello\n\t")], s("hello"));
        check_err("trimspace", vec![l(vec![])], "expected string");
        check("trim", vec![s("?!hello?!"), s("!?")], s("hello"));
        check("trim", vec![s("foobar"), s("far")], s("oob"));
        check_err("trim", vec![s("x")], "expected 2 arguments");
        check("trimprefix", vec![s("helloworld"), s("hello")], s("world"));
        check("trimprefix", vec![s("hellohello"), s("hello")], s("hello"));
        check("trimprefix", vec![s("world"), s("hello")], s("world"));
        check_err(
            "trimprefix",
            vec![s("a"), Value::Null],
            "argument 2: expected string",
        );
        check("trimsuffix", vec![s("helloworld"), s("world")], s("hello"));
        check_err(
            "trimsuffix",
            vec![m(&[]), s("a")],
            "argument 1: expected string",
        );
        check("chomp", vec![s("hello\r\n\n")], s("hello"));
        check("chomp", vec![s("a\nb")], s("a\nb"));
        check_err("chomp", vec![l(vec![])], "expected string");
        check("strrev", vec![s("héllo")], s("olléh"));
        check_err("strrev", vec![m(&[])], "expected string");
        check("indent", vec![n(2.0), s("a\nb\nc")], s("a\n  b\n  c"));
        check_err(
            "indent",
            vec![n(1.5), s("a")],
            "argument 1: expected a whole number",
        );
        check("startswith", vec![s("hello world"), s("hello")], b(true));
        check("startswith", vec![s("hello world"), s("world")], b(false));
        check("startswith", vec![s("x"), s("")], b(true));
        check_err(
            "startswith",
            vec![s("x"), l(vec![])],
            "argument 2: expected string",
        );
        check("endswith", vec![s("hello world"), s("world")], b(true));
        check("endswith", vec![s("hello world"), s("hello")], b(false));
        check_err("endswith", vec![Value::Null, s("x")], "argument 1");
        check("strcontains", vec![s("hello world"), s("o w")], b(true));
        check("strcontains", vec![s("hello"), s("z")], b(false));
        check_err("strcontains", vec![s("a")], "expected 2 arguments");
    }

    #[test]
    fn substr() {
        check("substr", vec![s("hello world"), n(1.0), n(4.0)], s("ello"));
        check("substr", vec![s("🤔🤷"), n(0.0), n(1.0)], s("🤔"));
        check(
            "substr",
            vec![s("hello world"), n(-5.0), n(-1.0)],
            s("world"),
        );
        check("substr", vec![s("hello"), n(-10.0), n(2.0)], s("he"));
        check("substr", vec![s("hello"), n(10.0), n(2.0)], s(""));
        check("substr", vec![s("hello"), n(1.0), n(100.0)], s("ello"));
        check("substr", vec![s("hello"), n(1.0), n(0.0)], s(""));
        check_err(
            "substr",
            vec![s("hello"), n(0.5), n(1.0)],
            "argument 2: expected a whole number",
        );
    }

    #[test]
    fn split_join_replace() {
        check(
            "split",
            vec![s(","), s("foo,bar,baz")],
            sl(&["foo", "bar", "baz"]),
        );
        check("split", vec![s(","), s("foo")], sl(&["foo"]));
        check("split", vec![s(","), s("")], sl(&[""]));
        check("split", vec![s(""), s("abc")], sl(&["a", "b", "c"]));
        check("split", vec![s(""), s("")], sl(&[]));
        check_err(
            "split",
            vec![l(vec![]), s("a")],
            "argument 1: expected string, found list",
        );
        check(
            "join",
            vec![s(", "), sl(&["foo", "bar", "baz"])],
            s("foo, bar, baz"),
        );
        check(
            "join",
            vec![s("-"), nl(&[1.0, 2.0]), sl(&["x"])],
            s("1-2-x"),
        );
        check("join", vec![s("-"), sl(&[])], s(""));
        check_err(
            "join",
            vec![s("-"), l(vec![s("a"), Value::Null])],
            "argument 2: element 1: expected string, found null",
        );
        check_err(
            "join",
            vec![s("-"), s("a")],
            "argument 2: expected list, found string",
        );
        check(
            "replace",
            vec![s("1 + 2 + 3"), s("+"), s("-")],
            s("1 - 2 - 3"),
        );
        check(
            "replace",
            vec![s("hello world"), s("/w.*d/"), s("everybody")],
            s("hello everybody"),
        );
        check(
            "replace",
            vec![s("a-b"), s("/(\\w)-(\\w)/"), s("$2-$1")],
            s("b-a"),
        );
        check("replace", vec![s("a/b"), s("/"), s("|")], s("a|b"));
        check_err(
            "replace",
            vec![s("x"), s("/(/"), s("y")],
            "argument 2: invalid regular expression",
        );
    }

    #[test]
    fn regexes() {
        check(
            "regex",
            vec![s("[a-z]+"), s("53453453.345345aaabbbccc23454")],
            s("aaabbbccc"),
        );
        check(
            "regex",
            vec![s("(\\d\\d\\d\\d)-(\\d\\d)-(\\d\\d)"), s("2019-02-01")],
            sl(&["2019", "02", "01"]),
        );
        check(
            "regex",
            vec![s("(?P<user>[^@]+)@(?P<domain>.+)"), s("me@example.com")],
            m(&[("user", s("me")), ("domain", s("example.com"))]),
        );
        check("regex", vec![s("(a)?b"), s("b")], l(vec![Value::Null]));
        check_err("regex", vec![s("[0-9]+"), s("abc")], "did not match");
        check_err(
            "regex",
            vec![s("(?P<x>a)(b)"), s("ab")],
            "cannot mix named and unnamed",
        );
        check_err(
            "regex",
            vec![s("("), s("ab")],
            "argument 1: invalid regular expression",
        );
        check(
            "regexall",
            vec![s("[a-z]+"), s("1234abcd5678efgh9")],
            sl(&["abcd", "efgh"]),
        );
        check("regexall", vec![s("[a-z]+"), s("123")], sl(&[]));
        check_err(
            "regexall",
            vec![s("["), s("a")],
            "invalid regular expression",
        );
    }

    #[test]
    fn format() {
        check(
            "format",
            vec![s("Hello, %s!"), s("Ander")],
            s("Hello, Ander!"),
        );
        check(
            "format",
            vec![s("There are %d lights"), n(4.0)],
            s("There are 4 lights"),
        );
        check("format", vec![s("%d"), s("12")], s("12"));
        check(
            "format",
            vec![s("%5d|%-5d|%05d|%+d"), n(42.0), n(42.0), n(-42.0), n(3.0)],
            s("   42|42   |-0042|+3"),
        );
        check(
            "format",
            vec![
                s("%x %X %o %b %#x"),
                n(255.0),
                n(255.0),
                n(8.0),
                n(5.0),
                n(255.0),
            ],
            s("ff FF 10 101 0xff"),
        );
        check("format", vec![s("%f"), n(3.5)], s("3.500000"));
        check("format", vec![s("%.2f"), n(1.23456)], s("1.23"));
        check("format", vec![s("%8.3f|"), n(-1.23456)], s("  -1.235|"));
        check("format", vec![s("%e"), n(123456.789)], s("1.234568e+05"));
        check("format", vec![s("%.2E"), n(0.000123)], s("1.23E-04"));
        check(
            "format",
            vec![s("%g %g %g %g"), n(100000.0), n(1e6), n(0.0001), n(123.456)],
            s("100000 1e+06 0.0001 123.456"),
        );
        check("format", vec![s("%.3g %g"), n(1.0), n(0.0)], s("1 0"));
        check(
            "format",
            vec![s("%s %s %s"), n(1.5), b(true), n(10.0)],
            s("1.5 true 10"),
        );
        check(
            "format",
            vec![s("%.3s|%5s|%-5s|"), s("abcdef"), s("ab"), s("ab")],
            s("abc|   ab|ab   |"),
        );
        check(
            "format",
            vec![s("%q"), s("a \"b\" <c>")],
            s("\"a \\\"b\\\" \\u003cc\\u003e\""),
        );
        check(
            "format",
            vec![s("%v %v %v %v"), s("x"), n(2.0), b(false), Value::Null],
            s("x 2 false null"),
        );
        check(
            "format",
            vec![s("%v"), l(vec![n(1.0), s("a")])],
            s("[1,\"a\"]"),
        );
        check("format", vec![s("%#v"), s("x")], s("\"x\""));
        check("format", vec![s("%t"), b(true)], s("true"));
        check("format", vec![s("100%%")], s("100%"));
        check(
            "format",
            vec![s("%[2]s %[1]s %s"), s("a"), s("b")],
            s("b a b"),
        );
        check("format", vec![s("héllo %3s"), s("é")], s("héllo   é"));
        check_err(
            "format",
            vec![s("%d"), n(1.5)],
            "argument 2: %d requires a whole number",
        );
        check_err(
            "format",
            vec![s("%d"), s("abc")],
            "argument 2: %d cannot format this string",
        );
        check("format", vec![s("%.0s"), s("abc")], s("abc"));
        check_err(
            "format",
            vec![s("%s"), l(vec![])],
            "argument 2: %s cannot format a value of type list",
        );
        check_err(
            "format",
            vec![s("%s"), Value::Null],
            "a null value cannot be formatted with %s",
        );
        check_err("format", vec![s("%s %s"), s("a")], "not enough arguments");
        check_err(
            "format",
            vec![s("%s"), s("a"), s("b")],
            "too many arguments",
        );
        check_err(
            "format",
            vec![s("%y"), s("a")],
            "argument 1: unsupported format verb %y",
        );
        check_err(
            "format",
            vec![s("%.f"), n(1.0)],
            "must be followed by a precision",
        );
        check_err("format", vec![s("abc %")], "ends in the middle of a verb");
        check_err("format", vec![s("%[0]s"), s("a")], "invalid argument index");
    }

    #[test]
    fn formatlist() {
        check(
            "formatlist",
            vec![s("Hello, %s!"), sl(&["Valentina", "Ander"])],
            sl(&["Hello, Valentina!", "Hello, Ander!"]),
        );
        check(
            "formatlist",
            vec![s("%s.%s"), sl(&["a", "b"]), s("com")],
            sl(&["a.com", "b.com"]),
        );
        check("formatlist", vec![s("%s"), s("x")], sl(&["x"]));
        check("formatlist", vec![s("%s"), sl(&[])], sl(&[]));
        check_err(
            "formatlist",
            vec![s("%s%s"), sl(&["a"]), sl(&["b", "c"])],
            "argument 3: the list has length 2, which differs from argument 2 of length 1",
        );
        check_err("formatlist", vec![s("%d"), sl(&["a"])], "cannot format");
    }

    #[test]
    fn collections() {
        check("length", vec![s("héllo")], n(5.0));
        check("length", vec![nl(&[1.0, 2.0])], n(2.0));
        check("length", vec![m(&[("a", n(1.0))])], n(1.0));
        check("length", vec![sl(&[])], n(0.0));
        check_err(
            "length",
            vec![n(5.0)],
            "argument 1: expected string, list or object, found number",
        );
        check(
            "concat",
            vec![sl(&["a", ""]), sl(&["b", "c"])],
            sl(&["a", "", "b", "c"]),
        );
        check("concat", vec![sl(&[])], sl(&[]));
        check_err(
            "concat",
            vec![sl(&["a"]), s("b")],
            "argument 2: expected list, found string",
        );
        check(
            "merge",
            vec![
                m(&[("a", s("b")), ("c", s("d"))]),
                Value::Null,
                m(&[("e", s("f")), ("c", s("z"))]),
            ],
            m(&[("a", s("b")), ("c", s("z")), ("e", s("f"))]),
        );
        check("merge", vec![], m(&[]));
        check_err(
            "merge",
            vec![m(&[]), sl(&[])],
            "argument 2: expected object, found list",
        );
        check(
            "lookup",
            vec![m(&[("a", s("ay"))]), s("a"), s("what?")],
            s("ay"),
        );
        check(
            "lookup",
            vec![m(&[("a", s("ay"))]), s("c"), s("what?")],
            s("what?"),
        );
        check("lookup", vec![m(&[("a", s("ay"))]), s("a")], s("ay"));
        check_err(
            "lookup",
            vec![m(&[("a", s("ay"))]), s("c")],
            "argument 2: the key does not exist",
        );
        check_err(
            "lookup",
            vec![sl(&[]), s("c")],
            "argument 1: expected object, found list",
        );
        check(
            "keys",
            vec![m(&[("b", n(1.0)), ("a", n(2.0))])],
            sl(&["a", "b"]),
        );
        check_err("keys", vec![sl(&["a"])], "argument 1: expected object");
        check(
            "values",
            vec![m(&[("b", n(1.0)), ("a", n(2.0))])],
            nl(&[2.0, 1.0]),
        );
        check_err("values", vec![s("a")], "argument 1: expected object");
        check("contains", vec![sl(&["a", "b"]), s("b")], b(true));
        check("contains", vec![sl(&["a", "b"]), s("c")], b(false));
        check("contains", vec![nl(&[1.0]), n(1.0)], b(true));
        check_err(
            "contains",
            vec![s("ab"), s("a")],
            "argument 1: expected list, found string",
        );
        check("index", vec![sl(&["a", "b", "c"]), s("b")], n(1.0));
        check_err(
            "index",
            vec![sl(&["a"]), s("z")],
            "argument 2: the value is not in the list",
        );
        check("element", vec![sl(&["a", "b", "c"]), n(1.0)], s("b"));
        check("element", vec![sl(&["a", "b", "c"]), n(3.0)], s("a"));
        check("element", vec![sl(&["a", "b", "c"]), n(-1.0)], s("c"));
        check("element", vec![sl(&["a", "b", "c"]), n(-4.0)], s("c"));
        check_err("element", vec![sl(&[]), n(0.0)], "empty list");
        check_err(
            "element",
            vec![sl(&["a"]), n(0.5)],
            "argument 2: expected a whole number",
        );
        check(
            "slice",
            vec![sl(&["a", "b", "c", "d"]), n(1.0), n(3.0)],
            sl(&["b", "c"]),
        );
        check("slice", vec![sl(&["a"]), n(1.0), n(1.0)], sl(&[]));
        check_err(
            "slice",
            vec![sl(&["a"]), n(0.0), n(2.0)],
            "argument 3: the end index is past the end",
        );
        check_err(
            "slice",
            vec![sl(&["a", "b"]), n(2.0), n(1.0)],
            "argument 2: the start index must be less",
        );
        check_err(
            "slice",
            vec![sl(&["a"]), n(-1.0), n(1.0)],
            "must not be negative",
        );
        check(
            "distinct",
            vec![sl(&["a", "b", "a", "c", "d", "b"])],
            sl(&["a", "b", "c", "d"]),
        );
        check_err("distinct", vec![s("a")], "expected list");
        check(
            "flatten",
            vec![l(vec![
                sl(&["a", "b"]),
                sl(&[]),
                l(vec![s("c"), l(vec![s("d")])]),
                s("e"),
            ])],
            sl(&["a", "b", "c", "d", "e"]),
        );
        check(
            "flatten",
            vec![l(vec![m(&[("a", n(1.0))])])],
            l(vec![m(&[("a", n(1.0))])]),
        );
        check_err(
            "flatten",
            vec![m(&[])],
            "argument 1: expected list, found object",
        );
        check(
            "sort",
            vec![sl(&["e", "d", "a", "x"])],
            sl(&["a", "d", "e", "x"]),
        );
        check("sort", vec![nl(&[10.0, 9.0])], sl(&["10", "9"]));
        check_err(
            "sort",
            vec![l(vec![s("a"), Value::Null])],
            "element 1: expected string, found null",
        );
        check("reverse", vec![nl(&[1.0, 2.0, 3.0])], nl(&[3.0, 2.0, 1.0]));
        check_err("reverse", vec![s("abc")], "expected list");
        check(
            "compact",
            vec![l(vec![s("a"), s(""), Value::Null, s("b"), n(1.0)])],
            sl(&["a", "b", "1"]),
        );
        check_err(
            "compact",
            vec![l(vec![sl(&[])])],
            "element 0: expected string, found list",
        );
        check(
            "zipmap",
            vec![sl(&["a", "b"]), l(vec![n(1.0), s("x")])],
            m(&[("a", n(1.0)), ("b", s("x"))]),
        );
        check_err(
            "zipmap",
            vec![sl(&["a", "b"]), nl(&[1.0])],
            "argument 2: expected as many values as keys (2), found 1",
        );
        check(
            "chunklist",
            vec![sl(&["a", "b", "c", "d", "e"]), n(2.0)],
            l(vec![sl(&["a", "b"]), sl(&["c", "d"]), sl(&["e"])]),
        );
        check("chunklist", vec![sl(&["a"]), n(0.0)], l(vec![sl(&["a"])]));
        check("chunklist", vec![sl(&[]), n(2.0)], l(vec![]));
        check_err(
            "chunklist",
            vec![sl(&["a"]), n(-1.0)],
            "must not be negative",
        );
        check("one", vec![sl(&[])], Value::Null);
        check("one", vec![sl(&["a"])], s("a"));
        check_err("one", vec![sl(&["a", "b"])], "zero or one elements");
        check("alltrue", vec![l(vec![b(true), s("true")])], b(true));
        check("alltrue", vec![l(vec![])], b(true));
        check("alltrue", vec![l(vec![b(true), b(false)])], b(false));
        check_err(
            "alltrue",
            vec![l(vec![n(1.0)])],
            "element 0: expected bool, found number",
        );
        check("anytrue", vec![l(vec![b(false), b(true)])], b(true));
        check("anytrue", vec![l(vec![])], b(false));
        check_err("anytrue", vec![s("true")], "expected list");
    }

    #[test]
    fn coalesce() {
        check("coalesce", vec![s("a"), s("b")], s("a"));
        check("coalesce", vec![s(""), s("b")], s("b"));
        check("coalesce", vec![Value::Null, n(1.0), n(2.0)], n(1.0));
        check("coalesce", vec![Value::Null, n(1.0), s("x")], s("1"));
        check_err(
            "coalesce",
            vec![Value::Null, s("")],
            "every argument is null or an empty string",
        );
        check(
            "coalescelist",
            vec![sl(&[]), Value::Null, sl(&["c"])],
            sl(&["c"]),
        );
        check_err(
            "coalescelist",
            vec![sl(&[]), Value::Null],
            "every argument is null or an empty list",
        );
        check_err("coalescelist", vec![s("a")], "argument 1: expected list");
    }

    #[test]
    fn sets() {
        check(
            "toset",
            vec![sl(&["c", "b", "b", "a"])],
            sl(&["a", "b", "c"]),
        );
        check("toset", vec![nl(&[10.0, 2.0, 10.0])], nl(&[2.0, 10.0]));
        check("toset", vec![l(vec![s("a"), n(1.0)])], sl(&["1", "a"]));
        check("toset", vec![Value::Null], Value::Null);
        check_err(
            "toset",
            vec![m(&[])],
            "argument 1: expected list, found object",
        );
        check(
            "setunion",
            vec![sl(&["b", "a"]), sl(&["c", "b"])],
            sl(&["a", "b", "c"]),
        );
        check_err(
            "setunion",
            vec![sl(&["a"]), s("b")],
            "argument 2: expected list",
        );
        check(
            "setintersection",
            vec![sl(&["a", "b", "c"]), sl(&["b", "c", "d"]), sl(&["c", "b"])],
            sl(&["b", "c"]),
        );
        check_err("setintersection", vec![s("a")], "argument 1: expected list");
        check(
            "setsubtract",
            vec![sl(&["a", "b", "c"]), sl(&["a", "c"])],
            sl(&["b"]),
        );
        check_err(
            "setsubtract",
            vec![sl(&["a"]), m(&[])],
            "argument 2: expected list",
        );
    }

    #[test]
    fn conversions() {
        check("tostring", vec![n(5.0)], s("5"));
        check("tostring", vec![n(1.5)], s("1.5"));
        check("tostring", vec![b(true)], s("true"));
        check("tostring", vec![s("x")], s("x"));
        check("tostring", vec![Value::Null], Value::Null);
        check_err(
            "tostring",
            vec![sl(&[])],
            "argument 1: expected string, number or bool, found list",
        );
        check("tonumber", vec![s("5")], n(5.0));
        check("tonumber", vec![s("-1.5e2")], n(-150.0));
        check("tonumber", vec![n(3.0)], n(3.0));
        check("tonumber", vec![Value::Null], Value::Null);
        check_err(
            "tonumber",
            vec![s("no")],
            "argument 1: the string is not a number",
        );
        check_err("tonumber", vec![s("inf")], "not a number");
        check_err("tonumber", vec![b(true)], "expected number, found bool");
        check("tobool", vec![s("true")], b(true));
        check("tobool", vec![b(false)], b(false));
        check("tobool", vec![Value::Null], Value::Null);
        check_err("tobool", vec![s("yes")], "only the strings");
        check_err("tobool", vec![n(1.0)], "expected bool, found number");
        check(
            "tolist",
            vec![l(vec![s("a"), n(1.0), b(true)])],
            sl(&["a", "1", "true"]),
        );
        check("tolist", vec![nl(&[2.0, 1.0])], nl(&[2.0, 1.0]));
        check_err("tolist", vec![m(&[])], "expected list, found object");
        check(
            "tomap",
            vec![m(&[("a", n(1.0)), ("b", s("x"))])],
            m(&[("a", s("1")), ("b", s("x"))]),
        );
        check("tomap", vec![m(&[("a", n(1.0))])], m(&[("a", n(1.0))]));
        check_err("tomap", vec![sl(&[])], "expected object, found list");
    }

    #[test]
    fn json() {
        check(
            "jsonencode",
            vec![m(&[
                ("b", nl(&[1.0, 2.5])),
                ("a", s("<x> & y")),
                ("c", Value::Null),
                ("d", b(true)),
            ])],
            s(r#"{"a":"\u003cx\u003e \u0026 y","b":[1,2.5],"c":null,"d":true}"#),
        );
        check("jsonencode", vec![n(5.0)], s("5"));
        check_err("jsonencode", vec![Value::Unknown], "not yet known");
        check(
            "jsondecode",
            vec![s(r#"{"hello": "world", "n": [1, 2.5, null, false]}"#)],
            m(&[
                ("hello", s("world")),
                ("n", l(vec![n(1.0), n(2.5), Value::Null, b(false)])),
            ]),
        );
        check("jsondecode", vec![s("true")], b(true));
        check_err(
            "jsondecode",
            vec![s("{\"secret\": ")],
            "argument 1: invalid JSON at line 1",
        );
        let e = call("jsondecode", vec![s("{\"hunter2\" 1}")], &ctx());
        assert!(e.is_err_and(|e| !e.to_string().contains("hunter2")));
    }

    #[test]
    fn encodings_and_hashes() {
        check(
            "base64encode",
            vec![s("Hello World")],
            s("SGVsbG8gV29ybGQ="),
        );
        check("base64encode", vec![s("")], s(""));
        check("base64encode", vec![s("ab")], s("YWI="));
        check("base64encode", vec![s("abc")], s("YWJj"));
        check_err("base64encode", vec![l(vec![])], "expected string");
        check(
            "base64decode",
            vec![s("SGVsbG8gV29ybGQ=")],
            s("Hello World"),
        );
        check("base64decode", vec![s("YWI=")], s("ab"));
        check("base64decode", vec![s("YQ==\n")], s("a"));
        check_err("base64decode", vec![s("YQ=")], "not valid base64");
        check_err("base64decode", vec![s("Y=Q=")], "not valid base64");
        check_err("base64decode", vec![s("YQ==YQ==")], "not valid base64");
        check_err("base64decode", vec![s("/w==")], "not valid UTF-8");
        check(
            "sha256",
            vec![s("hello world")],
            s("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"),
        );
        check_err("sha256", vec![Value::Null], "expected string");
        check(
            "sha512",
            vec![s("")],
            s(
                "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
            ),
        );
        check_err("sha512", vec![m(&[])], "expected string");
        check(
            "base64sha256",
            vec![s("hello world")],
            s("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="),
        );
        check_err("base64sha256", vec![sl(&[])], "expected string");
    }

    #[test]
    fn files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("hello.txt"), "hi there\n").expect("write");
        std::fs::write(dir.path().join("bin"), [0xff, 0xfe]).expect("write");
        let ctx = FunctionContext {
            dir: dir.path().to_path_buf(),
        };
        assert_eq!(
            call("file", vec![s("hello.txt")], &ctx).ok(),
            Some(s("hi there\n"))
        );
        let absolute = dir.path().join("hello.txt").display().to_string();
        assert_eq!(
            call("file", vec![s(&absolute)], &ctx).ok(),
            Some(s("hi there\n"))
        );
        let missing = call("file", vec![s("missing.txt")], &ctx).map_err(|e| e.to_string());
        assert!(missing.is_err_and(|e| e.starts_with("cannot read file \"missing.txt\"")));
        let binary = call("file", vec![s("bin")], &ctx).map_err(|e| e.to_string());
        assert!(binary.is_err_and(|e| e.contains("not valid UTF-8")));
        check_err("file", vec![l(vec![])], "expected string");
        assert_eq!(
            call("fileexists", vec![s("hello.txt")], &ctx).ok(),
            Some(b(true))
        );
        assert_eq!(
            call("fileexists", vec![s("nope")], &ctx).ok(),
            Some(b(false))
        );
        check_err("fileexists", vec![m(&[])], "expected string");
    }

    #[test]
    fn cidr() {
        check(
            "cidrsubnet",
            vec![s("172.16.0.0/12"), n(4.0), n(2.0)],
            s("172.18.0.0/16"),
        );
        check(
            "cidrsubnet",
            vec![s("10.1.2.0/24"), n(4.0), n(15.0)],
            s("10.1.2.240/28"),
        );
        check(
            "cidrsubnet",
            vec![s("10.1.2.3/24"), n(0.0), n(0.0)],
            s("10.1.2.0/24"),
        );
        check(
            "cidrsubnet",
            vec![s("fd00:fd12:3456:7890::/56"), n(16.0), n(162.0)],
            s("fd00:fd12:3456:7800:a200::/72"),
        );
        check_err(
            "cidrsubnet",
            vec![s("10.0.0.0/24"), n(4.0), n(16.0)],
            "argument 3: the network number does not fit",
        );
        check_err(
            "cidrsubnet",
            vec![s("10.0.0.0/24"), n(9.0), n(0.0)],
            "argument 2: the new prefix would be longer than the 32 bits",
        );
        check_err(
            "cidrsubnet",
            vec![s("10.0.0.0/24"), n(-1.0), n(0.0)],
            "argument 2: must not be negative",
        );
        check_err(
            "cidrsubnet",
            vec![s("10.0.0.0"), n(1.0), n(0.0)],
            "argument 1: not a valid CIDR prefix",
        );
        check_err(
            "cidrsubnet",
            vec![s("10.0.0.0/8"), n(8.0), n(-1.0)],
            "argument 3: must not be negative",
        );
        check(
            "cidrhost",
            vec![s("10.12.112.0/20"), n(16.0)],
            s("10.12.112.16"),
        );
        check(
            "cidrhost",
            vec![s("10.12.112.0/20"), n(268.0)],
            s("10.12.113.12"),
        );
        check(
            "cidrhost",
            vec![s("10.12.112.0/20"), n(-1.0)],
            s("10.12.127.255"),
        );
        check(
            "cidrhost",
            vec![s("fd00:fd12:3456:7890:00a2::/72"), n(34.0)],
            s("fd00:fd12:3456:7890::22"),
        );
        check_err(
            "cidrhost",
            vec![s("10.0.0.0/30"), n(4.0)],
            "argument 2: the host number is outside the prefix",
        );
        check_err(
            "cidrhost",
            vec![s("10.0.0.0/30"), n(-5.0)],
            "outside the prefix",
        );
        check_err(
            "cidrhost",
            vec![s("nope"), n(1.0)],
            "not a valid CIDR prefix",
        );
        check("cidrnetmask", vec![s("172.16.0.0/12")], s("255.240.0.0"));
        check("cidrnetmask", vec![s("0.0.0.0/0")], s("0.0.0.0"));
        check("cidrnetmask", vec![s("10.0.0.1/32")], s("255.255.255.255"));
        check_err(
            "cidrnetmask",
            vec![s("fd00::/8")],
            "only IPv4 prefixes have a netmask",
        );
        check(
            "cidrsubnets",
            vec![s("10.1.0.0/16"), n(4.0), n(4.0), n(8.0), n(4.0)],
            sl(&[
                "10.1.0.0/20",
                "10.1.16.0/20",
                "10.1.32.0/24",
                "10.1.48.0/20",
            ]),
        );
        check(
            "cidrsubnets",
            vec![
                s("fd00:fd12:3456:7890::/56"),
                n(16.0),
                n(16.0),
                n(16.0),
                n(32.0),
            ],
            sl(&[
                "fd00:fd12:3456:7800::/72",
                "fd00:fd12:3456:7800:100::/72",
                "fd00:fd12:3456:7800:200::/72",
                "fd00:fd12:3456:7800:300::/88",
            ]),
        );
        check(
            "cidrsubnets",
            vec![s("10.0.0.0/8"), n(1.0), n(1.0)],
            sl(&["10.0.0.0/9", "10.128.0.0/9"]),
        );
        check(
            "cidrsubnets",
            vec![s("0.0.0.0/0"), n(1.0), n(1.0)],
            sl(&["0.0.0.0/1", "128.0.0.0/1"]),
        );
        check_err(
            "cidrsubnets",
            vec![s("10.0.0.0/8"), n(1.0), n(1.0), n(1.0)],
            "not enough address space left in the prefix for subnet 3",
        );
        check_err(
            "cidrsubnets",
            vec![s("10.0.0.0/8"), n(0.0)],
            "argument 2: must extend the prefix by at least one bit",
        );
        check_err(
            "cidrsubnets",
            vec![s("10.0.0.0/8"), n(25.0)],
            "argument 2: the new prefix would be longer",
        );
    }

    #[test]
    fn errors_never_contain_argument_values() {
        let secret = "hunter2-secret";
        let cases: Vec<(&str, Vec<Value>)> = vec![
            ("tonumber", vec![s(secret)]),
            ("base64decode", vec![s(secret)]),
            ("jsondecode", vec![s(secret)]),
            ("regex", vec![s(secret), s("x")]),
            ("regex", vec![s("(hunter2-secret"), s("x")]),
            ("cidrhost", vec![s(secret), n(1.0)]),
            ("lookup", vec![m(&[]), s(secret)]),
            ("index", vec![sl(&[]), s(secret)]),
            ("format", vec![s("%d"), s(secret)]),
            ("parseint", vec![s(secret), n(10.0)]),
        ];
        for (name, args) in cases {
            let e = call(name, args, &ctx()).map_err(|e| e.to_string());
            assert!(
                e.as_ref().is_err_and(|e| !e.contains("hunter2")),
                "{name}: {e:?}"
            );
        }
    }
}
