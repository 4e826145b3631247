//! Input variable values: defaults, `SS_VAR_*`, `--var-file` and `--var`, converted to each
//! variable's type and checked by its validation blocks.
//!
//! Var files are not part of the spec's [`super::diag::Sources`], so their problems carry no
//! span: the message itself starts with `FILE:LINE:COL`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl_edit::Span as _;
use hcl_edit::parser::{parse_body, parse_expr};
use hcl_edit::structure::Structure;
use provider_api::Value;

use super::diag::{Diagnostics, SourceFile, Sources, Span, SpecDiagnostic};
use super::eval::{EvalContext, eval};
use super::model::{Config, Expr, Variable};
use super::suggest::did_you_mean;
use super::types::{convert, is_complex};

/// Where variable values come from, besides defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VarInputs {
    /// `--var k=v`, in command-line order.
    pub cli: Vec<(String, String)>,
    /// `--var-file F`, in command-line order.
    pub files: Vec<PathBuf>,
    /// `SS_VAR_<name>` environment entries, the name without the prefix.
    pub env: Vec<(String, String)>,
}

/// The final value of every declared variable. Precedence, lowest first: default, `SS_VAR_`
/// environment, var files in order, `--var` in order. Undeclared names in the environment are
/// ignored (it is shared with other tools); undeclared names in var files and `--var` are errors.
pub fn resolve_variables(
    config: &Config,
    inputs: &VarInputs,
) -> Result<BTreeMap<String, Value>, Diagnostics> {
    let declared: BTreeMap<&str, &Variable> = config
        .variables
        .iter()
        .map(|v| (v.name.as_str(), v))
        .collect();
    let mut values: BTreeMap<String, Value> = BTreeMap::new();
    let mut errors = Diagnostics::default();
    // Variables with a bad value already reported, so that no "has no value" error follows.
    let mut failed: BTreeSet<String> = BTreeSet::new();
    let mut file_failed = false;
    let constant = EvalContext::constant(&config.dir);

    for var in &config.variables {
        let Some(default) = &var.default else {
            continue;
        };
        match eval(default, &constant) {
            Ok(v) => match typed(var, v) {
                Ok(v) => {
                    values.insert(var.name.clone(), v);
                }
                Err(e) => {
                    failed.insert(var.name.clone());
                    errors.push(SpecDiagnostic::error(
                        format!(
                            "the default of variable \"{}\" does not fit its type: {e}",
                            var.name
                        ),
                        Some(default.span()),
                    ));
                }
            },
            Err(d) => {
                failed.insert(var.name.clone());
                errors.extend(d);
            }
        }
    }

    for (name, text) in &inputs.env {
        if let Some(var) = declared.get(name.as_str()) {
            let origin = format!("SS_VAR_{name}={}", shown(var, text));
            match from_text(var, text, &config.dir) {
                Ok(v) => {
                    values.insert(name.clone(), v);
                }
                Err(e) => {
                    failed.insert(name.clone());
                    errors.push(SpecDiagnostic::error(format!("{origin}: {e}"), None));
                }
            }
        }
    }

    for path in &inputs.files {
        match read_var_file(path, &config.dir) {
            Ok(entries) => {
                for (name, location, value) in entries {
                    let Some(var) = declared.get(name.as_str()) else {
                        errors.push(SpecDiagnostic::error(
                            format!(
                                "{location}: undeclared variable \"{name}\"{}",
                                did_you_mean(&name, declared.keys().copied())
                            ),
                            None,
                        ));
                        continue;
                    };
                    match typed(var, value) {
                        Ok(v) => {
                            values.insert(name, v);
                        }
                        Err(e) => {
                            errors.push(SpecDiagnostic::error(
                                format!("{location}: variable \"{name}\": {e}"),
                                None,
                            ));
                            failed.insert(name);
                        }
                    }
                }
            }
            Err(d) => {
                // The file may have meant to set any variable: none is reported as missing.
                file_failed = true;
                errors.extend(d);
            }
        }
    }

    for (name, text) in &inputs.cli {
        let Some(var) = declared.get(name.as_str()) else {
            errors.push(SpecDiagnostic::error(
                format!(
                    "--var {name}=...: undeclared variable \"{name}\"{}",
                    did_you_mean(name, declared.keys().copied())
                ),
                None,
            ));
            continue;
        };
        match from_text(var, text, &config.dir) {
            Ok(v) => {
                values.insert(name.clone(), v);
            }
            Err(e) => {
                failed.insert(name.clone());
                errors.push(SpecDiagnostic::error(
                    format!("--var {name}={}: {e}", shown(var, text)),
                    None,
                ));
            }
        }
    }

    for var in &config.variables {
        match values.remove(&var.name) {
            Some(v) => {
                values.insert(var.name.clone(), v.mark_if(var.sensitive));
            }
            None if file_failed || failed.contains(&var.name) => {}
            None => errors.push(
                SpecDiagnostic::error(format!("variable \"{}\" has no value", var.name), Some(var.span))
                    .with_detail(format!(
                        "set it with --var {0}=..., in a --var-file, with SS_VAR_{0}, or give it a default",
                        var.name
                    )),
            ),
        }
    }
    if errors.has_errors() {
        return Err(errors);
    }
    for var in &config.variables {
        if let Some(value) = values.get(&var.name) {
            errors.extend(validate(var, value, &config.dir));
        }
    }
    if errors.has_errors() {
        Err(errors)
    } else {
        Ok(values)
    }
}

/// The raw text of a value as shown in a message: hidden for sensitive variables.
fn shown<'t>(var: &Variable, text: &'t str) -> &'t str {
    if var.sensitive { "(sensitive)" } else { text }
}

/// Converts a value to the variable's type (any value when it declares none).
fn typed(var: &Variable, value: Value) -> Result<Value, String> {
    match &var.ty {
        Some(ty) => convert(value, ty),
        None => Ok(value),
    }
}

/// A value given as text (`--var`, environment): a plain string for primitive types and
/// untyped variables, an HCL expression for collection and structural types.
fn from_text(var: &Variable, text: &str, dir: &Path) -> Result<Value, String> {
    let Some(ty) = var.ty.as_ref().filter(|t| is_complex(t)) else {
        return typed(var, Value::String(text.to_string()));
    };
    let parsed = parse_expr(text)
        .map_err(|e| format!("expected {ty}: not a valid value ({})", e.message()))?;
    let placeholder = Span {
        file: 0,
        start: 0,
        end: 0,
    };
    let expr = Expr::new(parsed, 0, placeholder);
    let value = eval(&expr, &EvalContext::constant(dir)).map_err(|d| {
        d.0.into_iter()
            .map(|d| d.summary)
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    typed(var, value)
}

/// The entries of a var file: (name, `FILE:LINE:COL` of the entry, value).
fn read_var_file(path: &Path, dir: &Path) -> Result<Vec<(String, String, Value)>, Diagnostics> {
    let name = path.display().to_string();
    let fail = |msg: String| Diagnostics::from(SpecDiagnostic::error(msg, None));
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read the var file {name}: {e}")))?;
    if path.extension().is_some_and(|x| x == "json") {
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            // The location is given in front, as for every other message.
            let message = e.to_string();
            let message = message
                .rfind(" at line ")
                .map_or(message.as_str(), |i| &message[..i]);
            fail(format!(
                "{name}:{}:{}: invalid JSON: {message}",
                e.line(),
                e.column()
            ))
        })?;
        let serde_json::Value::Object(map) = json else {
            return Err(fail(format!(
                "{name}:1:1: a JSON var file must be an object of variable values"
            )));
        };
        return Ok(map
            .iter()
            .map(|(k, v)| (k.clone(), name.clone(), Value::from_json(v)))
            .collect());
    }
    let sources = Sources {
        files: vec![SourceFile {
            name: name.clone(),
            text: text.clone(),
        }],
    };
    let at = |start: usize| {
        sources.location(Span {
            file: 0,
            start,
            end: start,
        })
    };
    let body = parse_body(&text).map_err(|e| {
        fail(format!(
            "{}: syntax error: {}",
            at(e.location().offset()),
            e.message()
        ))
    })?;
    let mut entries = Vec::new();
    let mut errors = Diagnostics::default();
    for structure in body.iter() {
        let start = structure.span().map_or(0, |r| r.start);
        match structure {
            Structure::Attribute(attr) => {
                let fallback = Span {
                    file: 0,
                    start,
                    end: start,
                };
                let expr = Expr::new(attr.value.clone(), 0, fallback);
                match eval(&expr, &EvalContext::constant(dir)) {
                    Ok(v) => entries.push((attr.key.as_str().to_string(), at(start), v)),
                    Err(d) => {
                        for d in d.0 {
                            let location =
                                d.span.map_or_else(|| at(start), |s| sources.location(s));
                            errors.push(SpecDiagnostic::error(
                                format!("{location}: {}", d.summary),
                                None,
                            ));
                        }
                    }
                }
            }
            Structure::Block(_) => errors.push(SpecDiagnostic::error(
                format!("{}: a var file holds only name = value lines", at(start)),
                None,
            )),
        }
    }
    if errors.has_errors() {
        Err(errors)
    } else {
        Ok(entries)
    }
}

/// Runs the variable's validation blocks against its final value.
fn validate(var: &Variable, value: &Value, dir: &Path) -> Diagnostics {
    let mut errors = Diagnostics::default();
    let variables = BTreeMap::from([(var.name.clone(), value.clone())]);
    let ctx = EvalContext {
        variables: &variables,
        ..EvalContext::constant(dir)
    };
    for validation in &var.validations {
        let ok = match eval(&validation.condition, &ctx) {
            Ok(v) if v.is_unknown() => continue,
            Ok(v) => match v.as_bool() {
                Some(ok) => ok,
                None => {
                    errors.push(SpecDiagnostic::error(
                        format!(
                            "a validation condition must be true or false, found {}",
                            v.kind()
                        ),
                        Some(validation.condition.span()),
                    ));
                    continue;
                }
            },
            Err(d) => {
                errors.extend(d);
                continue;
            }
        };
        if ok {
            continue;
        }
        let message = match eval(&validation.error_message, &ctx) {
            Ok(Value::String(s)) => s,
            Ok(v) if v.is_sensitive() => {
                "(the error message is hidden: it refers to a sensitive value)".to_string()
            }
            Ok(v) => v.to_string(),
            Err(d) => {
                errors.extend(d);
                continue;
            }
        };
        errors.push(SpecDiagnostic::error(
            format!("invalid value for variable \"{}\": {message}", var.name),
            Some(validation.span),
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::load::load_sources;
    use crate::spec::testutil::{render, show};

    const SPEC: &str = r#"
variable "users" {
  type    = number
  default = 100
  validation {
    condition     = var.users >= 1
    error_message = "users must be at least 1, got ${var.users}"
  }
}
variable "name" {}
variable "ha" {
  type    = bool
  default = false
}
variable "zones" {
  type    = list(string)
  default = ["a"]
}
variable "db" {
  type    = object({ size = string, replicas = number })
  default = { size = "small", replicas = "2" }
}
variable "password" {
  type      = string
  sensitive = true
  default   = "changeme"
  validation {
    condition     = length(var.password) >= 8
    error_message = "too short: ${var.password}"
  }
}
"#;

    fn config(text: &str) -> Config {
        let files = vec![SourceFile {
            name: "main.hcl".into(),
            text: text.to_string(),
        }];
        let config = load_sources(Path::new("/spec"), files).map_err(|d| d.to_string());
        config.unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Resolves the variables of `text`; `expected` lists `name = value` lines (marks spelled
    /// out) or the errors.
    fn check(text: &str, inputs: &VarInputs, expected: &str) {
        let config = config(text);
        match resolve_variables(&config, inputs) {
            Ok(values) => {
                let shown: Vec<String> = values
                    .iter()
                    .map(|(k, v)| format!("{k} = {}", show(v)))
                    .collect();
                assert_eq!(shown.join("\n"), expected.trim());
            }
            Err(d) => {
                let shown = render(&config.sources, &d);
                assert!(!shown.contains("s3cret"), "secret in errors: {shown}");
                assert_eq!(shown.trim_end(), expected.trim());
            }
        }
    }

    #[test]
    fn defaults_and_precedence() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hcl = dir.path().join("a.hcl");
        std::fs::write(
            &hcl,
            "users = 300\nname = \"from-file\"\nzones = [\"x\", \"y\"]\n",
        )
        .expect("write");
        let json = dir.path().join("b.json");
        std::fs::write(
            &json,
            r#"{"users": 400, "db": {"size": "large", "replicas": 3}}"#,
        )
        .expect("write");
        check(
            SPEC,
            &VarInputs {
                env: pairs(&[("name", "from-env"), ("users", "200"), ("unrelated", "x")]),
                ..VarInputs::default()
            },
            r#"
db = {replicas = 2, size = "small"}
ha = false
name = "from-env"
password = sensitive("changeme")
users = 200
zones = ["a"]
"#,
        );
        check(
            SPEC,
            &VarInputs {
                env: pairs(&[("users", "200"), ("name", "from-env")]),
                files: vec![hcl.clone(), json.clone()],
                cli: pairs(&[
                    ("users", "500"),
                    ("users", "600"),
                    ("ha", "true"),
                    ("password", "s3cret-long"),
                ]),
            },
            r#"
db = {replicas = 3, size = "large"}
ha = true
name = "from-file"
password = sensitive("s3cret-long")
users = 600
zones = ["x", "y"]
"#,
        );
    }

    #[test]
    fn cli_values_are_parsed_by_type() {
        check(
            SPEC,
            &VarInputs {
                cli: pairs(&[
                    ("name", "[1, 2]"),
                    ("zones", "[\"b\", 3]"),
                    ("db", "{ size = \"xl\", replicas = 1 + 1 }"),
                ]),
                ..VarInputs::default()
            },
            r#"
db = {replicas = 2, size = "xl"}
ha = false
name = "[1, 2]"
password = sensitive("changeme")
users = 100
zones = ["b", "3"]
"#,
        );
    }

    #[test]
    fn bad_values() {
        let cli = |items: &[(&str, &str)]| VarInputs {
            cli: pairs(items),
            ..VarInputs::default()
        };
        check(
            SPEC,
            &cli(&[("users", "abc"), ("name", "x")]),
            "--var users=abc: expected number, found a string that is not a number",
        );
        check(
            SPEC,
            &cli(&[("usres", "1"), ("name", "x")]),
            "--var usres=...: undeclared variable \"usres\" (did you mean \"users\"?)",
        );
        check(
            SPEC,
            &VarInputs::default(),
            "main.hcl:10:1: variable \"name\" has no value",
        );
        check(
            SPEC,
            &cli(&[("name", "x"), ("ha", "yes"), ("zones", "[")]),
            "--var ha=yes: expected bool, found a string other than \"true\" or \"false\"\n\
             --var zones=[: expected list(string): not a valid value (expected `]`)",
        );
        check(
            SPEC,
            &cli(&[("name", "x"), ("db", "{ size = \"s\" }")]),
            "--var db={ size = \"s\" }: attribute \"replicas\" is required",
        );
        check(
            SPEC,
            &VarInputs {
                env: pairs(&[("users", "many")]),
                cli: pairs(&[("name", "x"), ("password", "s3cret")]),
                ..VarInputs::default()
            },
            "SS_VAR_users=many: expected number, found a string that is not a number",
        );
        check(
            "variable \"p\" {\n  type = number\n  sensitive = true\n}",
            &cli(&[("p", "s3cret")]),
            "--var p=(sensitive): expected number, found a string that is not a number",
        );
        check(
            "variable \"n\" {\n  type = number\n  default = \"x\"\n}",
            &VarInputs::default(),
            "main.hcl:3:13: the default of variable \"n\" does not fit its type: expected number, found a string that is not a number",
        );
    }

    #[test]
    fn validations() {
        check(
            SPEC,
            &VarInputs {
                cli: pairs(&[("name", "x"), ("users", "0"), ("password", "s3cret")]),
                ..VarInputs::default()
            },
            "main.hcl:5:3: invalid value for variable \"users\": users must be at least 1, got 0\n\
             main.hcl:27:3: invalid value for variable \"password\": (the error message is hidden: it refers to a sensitive value)",
        );
    }

    #[test]
    fn var_file_errors_name_the_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            path
        };
        let bad_type = write("t.hcl", "name = \"x\"\n\nusers = \"lots\"\n");
        let undeclared = write("u.hcl", "name = \"x\"\nuser = 1\n");
        let syntax = write("s.hcl", "name = \n");
        let reference = write("r.hcl", "name = var.other\n");
        let json = write("j.json", "{\"name\": ");
        let files = |path: &Path| VarInputs {
            files: vec![path.to_path_buf()],
            ..VarInputs::default()
        };
        let shown = |path: &Path| path.display().to_string();
        check(
            SPEC,
            &files(&bad_type),
            &format!(
                "{}:3:1: variable \"users\": expected number, found a string that is not a number",
                shown(&bad_type)
            ),
        );
        check(
            SPEC,
            &files(&undeclared),
            &format!(
                "{}:2:1: undeclared variable \"user\" (did you mean \"users\"?)",
                shown(&undeclared)
            ),
        );
        check(
            SPEC,
            &files(&syntax),
            &format!(
                "{}:1:8: syntax error: invalid expression; expected `\"`, `[`, `{{`, `-`, `!`, `(`, `_`, `<`, letter or digit",
                shown(&syntax)
            ),
        );
        check(
            SPEC,
            &files(&reference),
            &format!("{}:1:8: undeclared variable \"other\"", shown(&reference)),
        );
        check(
            SPEC,
            &files(&json),
            &format!(
                "{}:1:9: invalid JSON: EOF while parsing a value",
                shown(&json)
            ),
        );
    }
}
