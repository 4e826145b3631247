//! Loading: every `*.hcl` file of a directory → one [`Config`], with every structural error of
//! every file reported together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::parser::parse_body;
use hcl_edit::structure::{Block, Body, Structure};
use provider_api::Value;

use super::diag::{Diagnostics, SourceFile, Sources, Span, SpecDiagnostic};
use super::eval::{EvalContext, eval};
use super::model::{
    Attribute, BackendBlock, BlockBody, Config, EncryptionBlock, Expr, Lifecycle, Local,
    NestedBlock, Output, ProviderBlock, Reference, ResourceBlock, Settings, Validation, Variable,
    to_span,
};
use super::suggest::did_you_mean;
use super::types::parse_type;

/// Why a spec did not load: the diagnostics, with the sources their spans point into (so they
/// can be shown with snippets even though no `Config` was built).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadError {
    pub diagnostics: Diagnostics,
    pub sources: Sources,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.diagnostics.fmt(f)
    }
}

impl std::error::Error for LoadError {}

impl From<SpecDiagnostic> for LoadError {
    fn from(d: SpecDiagnostic) -> Self {
        Diagnostics::from(d).into()
    }
}

impl From<Diagnostics> for LoadError {
    fn from(diagnostics: Diagnostics) -> Self {
        LoadError {
            diagnostics,
            sources: Sources::default(),
        }
    }
}

const BLOCK_TYPES: &[&str] = &["ss", "provider", "variable", "locals", "resource", "output"];

/// Loads every `*.hcl` file in `dir` (not recursive), in file name order.
pub fn load_dir(dir: &Path) -> Result<Config, LoadError> {
    let no_files = || {
        Diagnostics::from(SpecDiagnostic::error(
            format!("no *.hcl files in {}", display_path(dir)),
            None,
        ))
    };
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Diagnostics::from(SpecDiagnostic::error(
            format!("cannot read the spec directory {}: {e}", display_path(dir)),
            None,
        ))
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "hcl"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(no_files().into());
    }
    let mut files = Vec::new();
    let mut errors = Diagnostics::default();
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push(SourceFile {
                name: display_path(&path),
                text,
            }),
            Err(e) => errors.push(SpecDiagnostic::error(
                format!("cannot read {}: {e}", display_path(&path)),
                None,
            )),
        }
    }
    if errors.has_errors() {
        return Err(errors.into());
    }
    load_sources(dir, files)
}

/// Loads the given files (for example the snapshot saved in a plan) as if they were the
/// contents of `dir`, in the order given.
pub fn load_sources(dir: &Path, files: Vec<SourceFile>) -> Result<Config, LoadError> {
    if files.is_empty() {
        return Err(SpecDiagnostic::error(
            format!("no *.hcl files in {}", display_path(dir)),
            None,
        )
        .into());
    }
    let sources = Sources { files };
    let mut loader = Loader::new(dir);
    for (index, file) in sources.files.iter().enumerate() {
        match parse_body(&file.text) {
            Ok(body) => loader.top_level(index, &body),
            Err(e) => {
                let start = e.location().offset().min(file.text.len());
                let end = file.text[start..]
                    .chars()
                    .next()
                    .map_or(start, |c| start + c.len_utf8());
                loader.diags.push(SpecDiagnostic::error(
                    format!("syntax error: {}", e.message()),
                    Some(Span {
                        file: index,
                        start,
                        end,
                    }),
                ));
            }
        }
    }
    let Loader {
        diags,
        settings,
        providers,
        variables,
        locals,
        resources,
        outputs,
        ..
    } = loader;
    if diags.has_errors() {
        return Err(LoadError {
            diagnostics: diags,
            sources,
        });
    }
    Ok(Config {
        dir: dir.to_path_buf(),
        sources,
        settings,
        providers,
        variables,
        locals,
        resources,
        outputs,
    })
}

/// A path as shown to users: relative to the current directory when it is inside it.
fn display_path(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// "a" or "an", as the block type's first letter sounds.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// True for names that can be written in references (`TYPE.NAME`, `var.NAME`).
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

struct Loader<'d> {
    dir: &'d Path,
    diags: Diagnostics,
    settings: Settings,
    ss_block: Option<Span>,
    providers: Vec<ProviderBlock>,
    variables: Vec<Variable>,
    locals: Vec<Local>,
    resources: Vec<ResourceBlock>,
    outputs: Vec<Output>,
    /// First declaration of each name, per kind, to report duplicates with both places.
    declared: BTreeMap<(&'static str, String), Span>,
}

/// A block being decoded: its file, header span and body.
struct Ctx<'b> {
    file: usize,
    block: &'b Block,
    header: Span,
}

impl<'d> Loader<'d> {
    fn new(dir: &'d Path) -> Self {
        Loader {
            dir,
            diags: Diagnostics::default(),
            settings: Settings::default(),
            ss_block: None,
            providers: Vec::new(),
            variables: Vec::new(),
            locals: Vec::new(),
            resources: Vec::new(),
            outputs: Vec::new(),
            declared: BTreeMap::new(),
        }
    }

    fn error(&mut self, summary: impl Into<String>, span: Span) {
        self.diags.push(SpecDiagnostic::error(summary, Some(span)));
    }

    /// Records a declaration; reports it when the name was declared before.
    fn declare(&mut self, kind: &'static str, name: &str, span: Span) -> bool {
        match self.declared.get(&(kind, name.to_string())) {
            Some(first) => {
                let first = *first;
                self.diags.push(
                    SpecDiagnostic::error(format!("duplicate {kind} \"{name}\""), Some(span))
                        .with_label(first, "first declared here"),
                );
                false
            }
            None => {
                self.declared.insert((kind, name.to_string()), span);
                true
            }
        }
    }

    fn top_level(&mut self, file: usize, body: &Body) {
        let whole = Span {
            file,
            start: 0,
            end: 0,
        };
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let span = to_span(file, attr.key.span()).unwrap_or(whole);
                    self.error(
                        format!(
                            "unexpected attribute \"{}\" at the top level: only blocks (ss, provider, variable, locals, resource, output) are allowed here",
                            attr.key.as_str()
                        ),
                        span,
                    );
                }
                Structure::Block(block) => {
                    let b = Ctx {
                        file,
                        block,
                        header: header_span(file, block).unwrap_or(whole),
                    };
                    match block.ident.as_str() {
                        "ss" => self.ss(&b),
                        "provider" => self.provider(&b),
                        "variable" => self.variable(&b),
                        "locals" => self.locals(&b),
                        "resource" => self.resource(&b),
                        "output" => self.output(&b),
                        other => self.error(
                            format!(
                                "unknown block type \"{other}\"{}",
                                did_you_mean(other, BLOCK_TYPES.iter().copied())
                            ),
                            b.header,
                        ),
                    }
                }
            }
        }
    }

    /// Checks the number of labels; `usage` shows the expected header.
    fn labels(&mut self, b: &Ctx, count: usize, usage: &str) -> Option<Vec<String>> {
        let labels: Vec<String> = b
            .block
            .labels
            .iter()
            .map(|l| l.as_str().to_string())
            .collect();
        if labels.len() == count {
            return Some(labels);
        }
        let what = match count {
            0 => "no labels".to_string(),
            1 => "1 label".to_string(),
            n => format!("{n} labels"),
        };
        self.error(
            format!(
                "{} {} block takes {what} ({usage}), found {}",
                article(b.block.ident.as_str()),
                b.block.ident.as_str(),
                labels.len()
            ),
            b.header,
        );
        None
    }

    /// Reports attributes and nested blocks that a fixed-shape block does not accept.
    fn check_names(&mut self, b: &Ctx, body: &Body, attrs: &[&str], blocks: &[&str]) {
        let what = b.block.ident.as_str();
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let name = attr.key.as_str();
                    if attrs.contains(&name) {
                        continue;
                    }
                    let span = to_span(b.file, attr.key.span()).unwrap_or(b.header);
                    let summary = if blocks.contains(&name) {
                        format!("\"{name}\" is a block, not an attribute: write {name} {{ ... }}")
                    } else {
                        format!(
                            "unknown attribute \"{name}\" in {} {what} block{}",
                            article(what),
                            did_you_mean(name, attrs.iter().chain(blocks).copied())
                        )
                    };
                    self.error(summary, span);
                }
                Structure::Block(block) => {
                    let name = block.ident.as_str();
                    if blocks.contains(&name) {
                        continue;
                    }
                    let span = header_span(b.file, block).unwrap_or(b.header);
                    let summary = if attrs.contains(&name) {
                        format!("\"{name}\" is an attribute, not a block: write {name} = ...")
                    } else {
                        format!(
                            "unknown block type \"{name}\" in {} {what} block{}",
                            article(what),
                            did_you_mean(name, attrs.iter().chain(blocks).copied())
                        )
                    };
                    self.error(summary, span);
                }
            }
        }
    }

    fn expr(&self, b: &Ctx, expr: &Expression) -> Expr {
        Expr::new(expr.clone(), b.file, b.header)
    }

    fn attr_expr(&self, b: &Ctx, body: &Body, name: &str) -> Option<Expr> {
        body.get_attribute(name).map(|a| self.expr(b, &a.value))
    }

    /// Evaluates an expression that may not refer to anything.
    fn constant(&mut self, expr: &Expr) -> Option<Value> {
        match eval(expr, &EvalContext::constant(self.dir)) {
            Ok(v) => Some(v),
            Err(d) => {
                self.diags.extend(d);
                None
            }
        }
    }

    fn const_string(&mut self, b: &Ctx, body: &Body, name: &str) -> Option<(String, Span)> {
        let expr = self.attr_expr(b, body, name)?;
        match self.constant(&expr)? {
            Value::String(s) => Some((s, expr.span())),
            other => {
                self.error(
                    format!("\"{name}\" must be a string, found {}", other.kind()),
                    expr.span(),
                );
                None
            }
        }
    }

    fn const_bool(&mut self, b: &Ctx, body: &Body, name: &str) -> bool {
        let Some(expr) = self.attr_expr(b, body, name) else {
            return false;
        };
        match self.constant(&expr) {
            Some(Value::Bool(v)) => v,
            Some(other) => {
                self.error(
                    format!("\"{name}\" must be true or false, found {}", other.kind()),
                    expr.span(),
                );
                false
            }
            None => false,
        }
    }

    fn ss(&mut self, b: &Ctx) {
        if self.labels(b, 0, "ss { ... }").is_none() {
            return;
        }
        if let Some(first) = self.ss_block {
            self.diags.push(
                SpecDiagnostic::error("duplicate ss block", Some(b.header))
                    .with_label(first, "first declared here"),
            );
            return;
        }
        self.ss_block = Some(b.header);
        let body = &b.block.body;
        self.check_names(b, body, &["stack"], &["backend", "encryption"]);
        self.settings.stack = self.const_string(b, body, "stack");
        for block in body.get_blocks("encryption") {
            let nested = Ctx {
                file: b.file,
                block,
                header: header_span(b.file, block).unwrap_or(b.header),
            };
            if self
                .labels(&nested, 0, "encryption { key_env = \"NAME\" }")
                .is_none()
            {
                continue;
            }
            if let Some(first) = &self.settings.encryption {
                let first = first.span;
                self.diags.push(
                    SpecDiagnostic::error("duplicate encryption block", Some(nested.header))
                        .with_label(first, "first declared here"),
                );
                continue;
            }
            self.check_names(&nested, &block.body, &["key_env"], &[]);
            let key_env = self.const_string(&nested, &block.body, "key_env");
            if key_env.is_none() {
                self.diags.push(
                    SpecDiagnostic::error(
                        "encryption needs `key_env`: the environment variable holding the passphrase",
                        Some(nested.header),
                    )
                    .with_detail("write encryption { key_env = \"SS_STATE_KEY\" }"),
                );
            }
            self.settings.encryption = Some(EncryptionBlock {
                key_env,
                span: nested.header,
            });
        }
        for block in body.get_blocks("backend") {
            let nested = Ctx {
                file: b.file,
                block,
                header: header_span(b.file, block).unwrap_or(b.header),
            };
            let Some(labels) = self.labels(&nested, 1, "backend \"KIND\" { ... }") else {
                continue;
            };
            if let Some(first) = &self.settings.backend {
                let first = first.span;
                self.diags.push(
                    SpecDiagnostic::error("duplicate backend block", Some(nested.header))
                        .with_label(first, "first declared here"),
                );
                continue;
            }
            self.settings.backend = Some(BackendBlock {
                kind: labels.into_iter().next().unwrap_or_default(),
                body: block_body(b.file, &block.body, nested.header),
                span: nested.header,
            });
        }
    }

    fn provider(&mut self, b: &Ctx) {
        let Some(labels) = self.labels(b, 1, "provider \"NAME\" { ... }") else {
            return;
        };
        let name = labels.into_iter().next().unwrap_or_default();
        if self.declare("provider", &name, b.header) {
            self.providers.push(ProviderBlock {
                name,
                body: block_body(b.file, &b.block.body, b.header),
                span: b.header,
            });
        }
    }

    fn variable(&mut self, b: &Ctx) {
        let Some(labels) = self.labels(b, 1, "variable \"NAME\" { ... }") else {
            return;
        };
        let name = labels.into_iter().next().unwrap_or_default();
        if !is_identifier(&name) {
            self.error(
                format!("invalid variable name \"{name}\": use letters, digits, _ and -, starting with a letter"),
                b.header,
            );
            return;
        }
        let body = &b.block.body;
        self.check_names(
            b,
            body,
            &["type", "default", "description", "sensitive"],
            &["validation"],
        );
        let ty = self
            .attr_expr(b, body, "type")
            .and_then(|e| match parse_type(&e) {
                Ok(t) => Some(t),
                Err(d) => {
                    self.diags.push(d);
                    None
                }
            });
        let default = self.attr_expr(b, body, "default");
        let description = self.const_string(b, body, "description").map(|(s, _)| s);
        let sensitive = self.const_bool(b, body, "sensitive");
        let mut validations = Vec::new();
        for block in body.get_blocks("validation") {
            let nested = Ctx {
                file: b.file,
                block,
                header: header_span(b.file, block).unwrap_or(b.header),
            };
            if self.labels(&nested, 0, "validation { ... }").is_none() {
                continue;
            }
            self.check_names(&nested, &block.body, &["condition", "error_message"], &[]);
            let condition = self.attr_expr(&nested, &block.body, "condition");
            let message = self.attr_expr(&nested, &block.body, "error_message");
            for (missing, present) in [
                ("condition", condition.is_some()),
                ("error_message", message.is_some()),
            ] {
                if !present {
                    self.error(
                        format!("a validation block needs \"{missing}\""),
                        nested.header,
                    );
                }
            }
            if let (Some(condition), Some(error_message)) = (condition, message) {
                validations.push(Validation {
                    condition,
                    error_message,
                    span: nested.header,
                });
            }
        }
        if self.declare("variable", &name, b.header) {
            self.variables.push(Variable {
                name,
                ty,
                default,
                description,
                sensitive,
                validations,
                span: b.header,
            });
        }
    }

    fn locals(&mut self, b: &Ctx) {
        if self.labels(b, 0, "locals { ... }").is_none() {
            return;
        }
        for structure in b.block.body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let name = attr.key.as_str().to_string();
                    let span = to_span(b.file, attr.key.span()).unwrap_or(b.header);
                    if self.declare("local value", &name, span) {
                        self.locals.push(Local {
                            name,
                            expr: Expr::new(attr.value.clone(), b.file, span),
                            span,
                        });
                    }
                }
                Structure::Block(block) => {
                    let span = header_span(b.file, block).unwrap_or(b.header);
                    self.error("a locals block takes only attributes (name = value)", span);
                }
            }
        }
    }

    fn output(&mut self, b: &Ctx) {
        let Some(labels) = self.labels(b, 1, "output \"NAME\" { ... }") else {
            return;
        };
        let name = labels.into_iter().next().unwrap_or_default();
        let body = &b.block.body;
        self.check_names(b, body, &["value", "sensitive", "description"], &[]);
        let value = self.attr_expr(b, body, "value");
        let sensitive = self.const_bool(b, body, "sensitive");
        let description = self.const_string(b, body, "description").map(|(s, _)| s);
        let Some(value) = value else {
            self.error(
                format!("output \"{name}\" needs a value: value = ..."),
                b.header,
            );
            return;
        };
        if self.declare("output", &name, b.header) {
            self.outputs.push(Output {
                name,
                value,
                sensitive,
                description,
                span: b.header,
            });
        }
    }

    fn resource(&mut self, b: &Ctx) {
        let Some(labels) = self.labels(b, 2, "resource \"TYPE\" \"NAME\" { ... }") else {
            return;
        };
        let [type_name, name] = [labels[0].clone(), labels[1].clone()];
        let mut valid = true;
        for (label, what) in b.block.labels.iter().zip(["type", "name"]) {
            if !is_identifier(label.as_str()) {
                let span = to_span(b.file, label.span()).unwrap_or(b.header);
                self.error(
                    format!(
                        "invalid resource {what} \"{}\": use letters, digits, _ and -, starting with a letter",
                        label.as_str()
                    ),
                    span,
                );
                valid = false;
            }
        }
        let mut provider = None;
        let mut count = None;
        let mut for_each = None;
        let mut depends_on = Vec::new();
        let mut lifecycle = Lifecycle::default();
        let mut lifecycle_seen: Option<Span> = None;
        let mut attributes = Vec::new();
        let mut blocks = Vec::new();
        for structure in b.block.body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let key_span = to_span(b.file, attr.key.span()).unwrap_or(b.header);
                    let expr = Expr::new(attr.value.clone(), b.file, key_span);
                    match attr.key.as_str() {
                        "provider" => provider = self.provider_name(&expr),
                        "count" => count = Some(expr),
                        "for_each" => for_each = Some(expr),
                        "depends_on" => depends_on = self.depends_on(&expr),
                        other => attributes.push(Attribute {
                            name: other.to_string(),
                            name_span: key_span,
                            expr,
                        }),
                    }
                }
                Structure::Block(block) => {
                    let header = header_span(b.file, block).unwrap_or(b.header);
                    if block.ident.as_str() != "lifecycle" {
                        blocks.push(nested_block(b.file, block, header));
                        continue;
                    }
                    if let Some(first) = lifecycle_seen {
                        self.diags.push(
                            SpecDiagnostic::error("duplicate lifecycle block", Some(header))
                                .with_label(first, "first declared here"),
                        );
                        continue;
                    }
                    lifecycle_seen = Some(header);
                    let nested = Ctx {
                        file: b.file,
                        block,
                        header,
                    };
                    if self.labels(&nested, 0, "lifecycle { ... }").is_some() {
                        lifecycle = self.lifecycle(&nested);
                    }
                }
            }
        }
        if let (Some(count), Some(for_each)) = (&count, &for_each) {
            self.diags.push(
                SpecDiagnostic::error(
                    "count and for_each cannot be used together in one resource",
                    Some(for_each.span()),
                )
                .with_label(count.span(), "count is set here"),
            );
            valid = false;
        }
        let address = format!("{type_name}.{name}");
        if valid && self.declare("resource", &address, b.header) {
            self.resources.push(ResourceBlock {
                type_name,
                name,
                span: b.header,
                provider,
                count,
                for_each,
                depends_on,
                lifecycle,
                body: BlockBody {
                    attributes,
                    blocks,
                    span: to_span(b.file, b.block.body.span()).unwrap_or(b.header),
                },
            });
        }
    }

    /// `provider = aws` or `provider = "aws"`.
    fn provider_name(&mut self, expr: &Expr) -> Option<(String, Span)> {
        match &expr.expr {
            Expression::Variable(name) => Some((name.as_str().to_string(), expr.span())),
            Expression::String(s) => Some((s.value().clone(), expr.span())),
            _ => {
                self.error(
                    "provider must name a configured provider, for example provider = sandbox",
                    expr.span(),
                );
                None
            }
        }
    }

    /// `depends_on = [TYPE.NAME, ...]`.
    fn depends_on(&mut self, expr: &Expr) -> Vec<(Reference, Span)> {
        let Expression::Array(items) = &expr.expr else {
            self.error(
                "depends_on must be a list of resources, for example depends_on = [network.main]",
                expr.span(),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            let span = expr.span_of(item.span());
            let reference = match item {
                Expression::Traversal(t) => match (&t.expr, t.operators.as_slice()) {
                    (Expression::Variable(root), [op]) => match op.value() {
                        TraversalOperator::GetAttr(name)
                            if !["var", "local", "count", "each", "ss", "path"]
                                .contains(&root.as_str()) =>
                        {
                            Some(Reference::Resource {
                                type_name: root.as_str().to_string(),
                                name: name.as_str().to_string(),
                            })
                        }
                        _ => None,
                    },
                    _ => None,
                },
                _ => None,
            };
            match reference {
                Some(r) => out.push((r, span)),
                None => self.error(
                    "a depends_on entry must be a resource reference TYPE.NAME, such as network.main",
                    span,
                ),
            }
        }
        out
    }

    fn lifecycle(&mut self, b: &Ctx) -> Lifecycle {
        let body = &b.block.body;
        self.check_names(
            b,
            body,
            &["prevent_destroy", "create_before_destroy", "ignore_changes"],
            &[],
        );
        let mut lifecycle = Lifecycle {
            prevent_destroy: self.const_bool(b, body, "prevent_destroy"),
            create_before_destroy: self.const_bool(b, body, "create_before_destroy"),
            ..Lifecycle::default()
        };
        let Some(expr) = self.attr_expr(b, body, "ignore_changes") else {
            return lifecycle;
        };
        match &expr.expr {
            Expression::Variable(v) if v.as_str() == "all" => lifecycle.ignore_all_changes = true,
            Expression::Array(items) => {
                for item in items.iter() {
                    match attribute_path(item) {
                        Some(path) => lifecycle.ignore_changes.push(path),
                        None => self.error(
                            "an ignore_changes entry must be an attribute name, such as tags or node_pool.min",
                            expr.span_of(item.span()),
                        ),
                    }
                }
            }
            _ => self.error(
                "ignore_changes must be a list of attribute names or all",
                expr.span(),
            ),
        }
        lifecycle
    }
}

/// `a`, `a.b`, `a[0]`, `a["k"]` or `"a"` as the dotted path `a.b` / `a.0` / `a.k`.
fn attribute_path(expr: &Expression) -> Option<String> {
    match expr {
        Expression::Variable(v) => Some(v.as_str().to_string()),
        Expression::String(s) => Some(s.value().clone()),
        Expression::Traversal(t) => {
            let Expression::Variable(root) = &t.expr else {
                return None;
            };
            let mut parts = vec![root.as_str().to_string()];
            for op in &t.operators {
                parts.push(match op.value() {
                    TraversalOperator::GetAttr(a) => a.as_str().to_string(),
                    TraversalOperator::LegacyIndex(n) => n.value().to_string(),
                    TraversalOperator::Index(Expression::Number(n)) => n.value().to_string(),
                    TraversalOperator::Index(Expression::String(s)) => s.value().clone(),
                    _ => return None,
                });
            }
            Some(parts.join("."))
        }
        _ => None,
    }
}

/// The header of a block: its type and labels.
fn header_span(file: usize, block: &Block) -> Option<Span> {
    let start = block.ident.span()?.start;
    let end = block
        .labels
        .last()
        .and_then(|l| l.span())
        .or_else(|| block.ident.span())?
        .end;
    Some(Span { file, start, end })
}

fn nested_block(file: usize, block: &Block, header: Span) -> NestedBlock {
    NestedBlock {
        type_name: block.ident.as_str().to_string(),
        labels: block
            .labels
            .iter()
            .map(|l| l.as_str().to_string())
            .collect(),
        span: header,
        body: block_body(file, &block.body, header),
    }
}

/// Converts a parsed body, keeping every attribute and block.
pub(super) fn block_body(file: usize, body: &Body, fallback: Span) -> BlockBody {
    let mut attributes = Vec::new();
    let mut blocks = Vec::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) => {
                let name_span = to_span(file, attr.key.span()).unwrap_or(fallback);
                attributes.push(Attribute {
                    name: attr.key.as_str().to_string(),
                    name_span,
                    expr: Expr::new(attr.value.clone(), file, name_span),
                });
            }
            Structure::Block(block) => {
                let header = header_span(file, block).unwrap_or(fallback);
                blocks.push(nested_block(file, block, header));
            }
        }
    }
    BlockBody {
        attributes,
        blocks,
        span: to_span(file, body.span()).unwrap_or(fallback),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::testutil::render;

    fn load(files: &[(&str, &str)]) -> Result<Config, LoadError> {
        let files = files
            .iter()
            .map(|(name, text)| SourceFile {
                name: name.to_string(),
                text: text.to_string(),
            })
            .collect();
        load_sources(Path::new("/spec"), files)
    }

    /// Loads the files, which must fail with exactly `expected` (`file:line:col: summary` lines).
    fn check_err(files: &[(&str, &str)], expected: &str) {
        let sources = Sources {
            files: files
                .iter()
                .map(|(name, text)| SourceFile {
                    name: name.to_string(),
                    text: text.to_string(),
                })
                .collect(),
        };
        match load(files) {
            Ok(_) => assert_eq!("loaded without errors", expected),
            Err(d) => assert_eq!(render(&sources, &d.diagnostics).trim_end(), expected.trim()),
        }
    }

    fn summarize(config: &Config) -> String {
        let src = &config.sources;
        let mut out = Vec::new();
        if let Some((stack, span)) = &config.settings.stack {
            out.push(format!("stack {stack} @{}", src.location(*span)));
        }
        if let Some(b) = &config.settings.backend {
            let attrs: Vec<&str> = b.body.attributes.iter().map(|a| a.name.as_str()).collect();
            out.push(format!(
                "backend {} {attrs:?} @{}",
                b.kind,
                src.location(b.span)
            ));
        }
        for p in &config.providers {
            let attrs: Vec<&str> = p.body.attributes.iter().map(|a| a.name.as_str()).collect();
            out.push(format!(
                "provider {} {attrs:?} @{}",
                p.name,
                src.location(p.span)
            ));
        }
        for v in &config.variables {
            out.push(format!(
                "variable {} type={} default={} description={:?} sensitive={} validations={} @{}",
                v.name,
                v.ty.as_ref().map_or("-".to_string(), ToString::to_string),
                v.default
                    .as_ref()
                    .map_or("-".to_string(), |e| src.location(e.span())),
                v.description,
                v.sensitive,
                v.validations.len(),
                src.location(v.span)
            ));
        }
        for l in &config.locals {
            out.push(format!("local {} @{}", l.name, src.location(l.expr.span())));
        }
        for r in &config.resources {
            let attrs: Vec<&str> = r.body.attributes.iter().map(|a| a.name.as_str()).collect();
            let blocks: Vec<String> = r
                .body
                .blocks
                .iter()
                .map(|b| format!("{}{:?}", b.type_name, b.labels))
                .collect();
            let deps: Vec<String> = r.depends_on.iter().map(|(d, _)| d.to_string()).collect();
            out.push(format!(
                "resource {}.{} @{} provider={:?} count={} for_each={} depends_on={deps:?} lifecycle={:?} attrs={attrs:?} blocks={blocks:?}",
                r.type_name,
                r.name,
                src.location(r.span),
                r.provider.as_ref().map(|(p, _)| p),
                r.count.is_some(),
                r.for_each.is_some(),
                r.lifecycle,
            ));
        }
        for o in &config.outputs {
            out.push(format!(
                "output {} sensitive={} description={:?} @{}",
                o.name,
                o.sensitive,
                o.description,
                src.location(o.span)
            ));
        }
        out.join("\n")
    }

    fn check(files: &[(&str, &str)], expected: &str) {
        match load(files) {
            Ok(config) => assert_eq!(summarize(&config), expected.trim()),
            Err(d) => {
                let sources = Sources {
                    files: files
                        .iter()
                        .map(|(n, t)| SourceFile {
                            name: n.to_string(),
                            text: t.to_string(),
                        })
                        .collect(),
                };
                assert_eq!(render(&sources, &d.diagnostics), expected);
            }
        }
    }

    #[test]
    fn every_block_kind() {
        check(
            &[
                (
                    "a.hcl",
                    r#"
ss {
  stack = "superset"
  backend "local" { path = "ss.state.json" }
}
provider "sandbox" { latency = "200ms" }
variable "users" {
  type        = number
  default     = 10000
  description = "Expected users"
  validation {
    condition     = var.users > 0
    error_message = "must be positive"
  }
}
variable "password" {
  type      = string
  sensitive = true
}
locals { web_min = max(5, ceil(var.users / 2000)) }
"#,
                ),
                (
                    "b.hcl",
                    r#"locals {
  zones = 3
}
resource "network" "main" {
  cidr  = "10.0.0.0/16"
  zones = local.zones
}
resource "postgres" "meta" {
  provider   = sandbox
  network    = network.main.id
  depends_on = [network.main]
  lifecycle {
    prevent_destroy = true
    ignore_changes  = [size, node_pool.min]
  }
}
resource "kubernetes_cluster" "k" {
  count = 2
  node_pool "web" { min = 5 }
  lifecycle { ignore_changes = all }
}
resource "sandbox_object" "o" {
  for_each = { a = 1 }
  provider = "sandbox"
  lifecycle { create_before_destroy = true }
}
output "db" {
  value       = postgres.meta.endpoint
  sensitive   = true
  description = "The endpoint"
}
"#,
                ),
            ],
            r#"
stack superset @a.hcl:3:11
backend local ["path"] @a.hcl:4:3
provider sandbox ["latency"] @a.hcl:6:1
variable users type=number default=a.hcl:9:17 description=Some("Expected users") sensitive=false validations=1 @a.hcl:7:1
variable password type=string default=- description=None sensitive=true validations=0 @a.hcl:16:1
local web_min @a.hcl:20:20
local zones @b.hcl:2:11
resource network.main @b.hcl:4:1 provider=None count=false for_each=false depends_on=[] lifecycle=Lifecycle { prevent_destroy: false, create_before_destroy: false, ignore_changes: [], ignore_all_changes: false } attrs=["cidr", "zones"] blocks=[]
resource postgres.meta @b.hcl:8:1 provider=Some("sandbox") count=false for_each=false depends_on=["network.main"] lifecycle=Lifecycle { prevent_destroy: true, create_before_destroy: false, ignore_changes: ["size", "node_pool.min"], ignore_all_changes: false } attrs=["network"] blocks=[]
resource kubernetes_cluster.k @b.hcl:17:1 provider=None count=true for_each=false depends_on=[] lifecycle=Lifecycle { prevent_destroy: false, create_before_destroy: false, ignore_changes: [], ignore_all_changes: true } attrs=[] blocks=["node_pool[\"web\"]"]
resource sandbox_object.o @b.hcl:22:1 provider=Some("sandbox") count=false for_each=true depends_on=[] lifecycle=Lifecycle { prevent_destroy: false, create_before_destroy: true, ignore_changes: [], ignore_all_changes: false } attrs=[] blocks=[]
output db sensitive=true description=Some("The endpoint") @b.hcl:27:1
"#,
        );
    }

    #[test]
    fn syntax_errors_of_every_file() {
        check_err(
            &[
                ("a.hcl", "resource \"x\" \"y\" {\n  a = \n}\n"),
                (
                    "b.hcl",
                    "variable \"v\" {}\nlocals {\n  a = 1\n  a = 2\n}\n",
                ),
                ("c.hcl", "output \"o\" { value = 1 }\n"),
            ],
            "a.hcl:2:7: syntax error: invalid expression; expected `\"`, `[`, `{`, `-`, `!`, `(`, `_`, `<`, letter or digit\n\
             b.hcl:4:3: syntax error: invalid attribute; expected unique attribute key; found redefined attribute",
        );
    }

    #[test]
    fn structural_errors() {
        let cases: &[(&str, &str)] = &[
            (
                "resouce \"a\" \"b\" {}",
                "main.hcl:1:1: unknown block type \"resouce\" (did you mean \"resource\"?)",
            ),
            (
                "data \"a\" \"b\" {}",
                "main.hcl:1:1: unknown block type \"data\"",
            ),
            (
                "x = 1",
                "main.hcl:1:1: unexpected attribute \"x\" at the top level: only blocks (ss, provider, variable, locals, resource, output) are allowed here",
            ),
            (
                "resource \"network\" {}",
                "main.hcl:1:1: a resource block takes 2 labels (resource \"TYPE\" \"NAME\" { ... }), found 1",
            ),
            (
                "variable {}",
                "main.hcl:1:1: a variable block takes 1 label (variable \"NAME\" { ... }), found 0",
            ),
            (
                "locals \"x\" {}",
                "main.hcl:1:1: a locals block takes no labels (locals { ... }), found 1",
            ),
            (
                "resource \"network\" \"a\" {}\n\nresource \"network\" \"a\" {}",
                "main.hcl:3:1: duplicate resource \"network.a\"\n  main.hcl:1:1: first declared here",
            ),
            (
                "variable \"v\" {}\nvariable \"v\" {}",
                "main.hcl:2:1: duplicate variable \"v\"\n  main.hcl:1:1: first declared here",
            ),
            (
                "output \"o\" { value = 1 }\noutput \"o\" { value = 2 }",
                "main.hcl:2:1: duplicate output \"o\"\n  main.hcl:1:1: first declared here",
            ),
            (
                "locals { a = 1 }\nlocals {\n  a = 2\n}",
                "main.hcl:3:3: duplicate local value \"a\"\n  main.hcl:1:10: first declared here",
            ),
            (
                "provider \"aws\" {}\nprovider \"aws\" {}",
                "main.hcl:2:1: duplicate provider \"aws\"\n  main.hcl:1:1: first declared here",
            ),
            (
                "resource \"a\" \"b\" {\n  count    = 2\n  for_each = {}\n}",
                "main.hcl:3:14: count and for_each cannot be used together in one resource\n  main.hcl:2:14: count is set here",
            ),
            (
                "variable \"v\" { tpye = string }",
                "main.hcl:1:16: unknown attribute \"tpye\" in a variable block (did you mean \"type\"?)",
            ),
            (
                "output \"o\" {\n  value = 1\n  sensitiv = true\n}",
                "main.hcl:3:3: unknown attribute \"sensitiv\" in an output block (did you mean \"sensitive\"?)",
            ),
            (
                "output \"o\" {}",
                "main.hcl:1:1: output \"o\" needs a value: value = ...",
            ),
            (
                "ss { stak = \"x\" }",
                "main.hcl:1:6: unknown attribute \"stak\" in a ss block (did you mean \"stack\"?)",
            ),
            (
                "ss { backend = \"local\" }",
                "main.hcl:1:6: \"backend\" is a block, not an attribute: write backend { ... }",
            ),
            (
                "resource \"a\" \"b\" {\n  lifecycle { prevent_destory = true }\n}",
                "main.hcl:2:15: unknown attribute \"prevent_destory\" in a lifecycle block (did you mean \"prevent_destroy\"?)",
            ),
            (
                "variable \"v\" { type = strng }",
                "main.hcl:1:23: invalid type \"strng\" (did you mean \"string\"?)",
            ),
            (
                "variable \"v\" { type = list(string, number) }",
                "main.hcl:1:23: the type list(...) takes exactly one argument",
            ),
            (
                "variable \"v\" { type = \"string\" }",
                "main.hcl:1:23: invalid type constraint: expected a type such as string, number, bool, list(string) or object({...})",
            ),
            (
                "resource \"a\" \"b\" { depends_on = [var.x, a.c.id, \"a.c\"] }",
                "main.hcl:1:34: a depends_on entry must be a resource reference TYPE.NAME, such as network.main\n\
                 main.hcl:1:41: a depends_on entry must be a resource reference TYPE.NAME, such as network.main\n\
                 main.hcl:1:49: a depends_on entry must be a resource reference TYPE.NAME, such as network.main",
            ),
            (
                "resource \"a\" \"b\" { depends_on = a.c }",
                "main.hcl:1:33: depends_on must be a list of resources, for example depends_on = [network.main]",
            ),
            (
                "resource \"a\" \"b\" { provider = 1 + 1 }",
                "main.hcl:1:31: provider must name a configured provider, for example provider = sandbox",
            ),
            (
                "resource \"a\" \"b c\" {}",
                "main.hcl:1:14: invalid resource name \"b c\": use letters, digits, _ and -, starting with a letter",
            ),
            (
                "variable \"v\" {\n  validation { condition = true }\n}",
                "main.hcl:2:3: a validation block needs \"error_message\"",
            ),
            (
                "variable \"v\" { sensitive = \"yes\" }",
                "main.hcl:1:28: \"sensitive\" must be true or false, found string",
            ),
            (
                "variable \"v\" { description = var.x }",
                "main.hcl:1:30: undeclared variable \"x\"",
            ),
            (
                "ss {}\nss {}",
                "main.hcl:2:1: duplicate ss block\n  main.hcl:1:1: first declared here",
            ),
            (
                "locals {\n  inner {}\n}",
                "main.hcl:2:3: a locals block takes only attributes (name = value)",
            ),
            (
                "resource \"a\" \"b\" {\n  lifecycle {}\n  lifecycle {}\n}",
                "main.hcl:3:3: duplicate lifecycle block\n  main.hcl:2:3: first declared here",
            ),
            (
                "resource \"a\" \"b\" {\n  lifecycle { ignore_changes = [1] }\n}",
                "main.hcl:2:33: an ignore_changes entry must be an attribute name, such as tags or node_pool.min",
            ),
        ];
        for (text, expected) in cases {
            check_err(&[("main.hcl", text)], expected);
        }
    }

    #[test]
    fn empty_directory_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("notes.txt"), "x").expect("write");
        let err = load_dir(dir.path()).err().map(|d| d.to_string());
        let expected = format!("no *.hcl files in {}\n", dir.path().display());
        assert_eq!(err.as_deref(), Some(expected.as_str()));
        check_err(&[], "no *.hcl files in /spec");
    }

    #[test]
    fn load_dir_reads_hcl_files_in_name_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("b.hcl"), "output \"b\" { value = 2 }\n").expect("write");
        std::fs::write(dir.path().join("a.hcl"), "output \"a\" { value = 1 }\n").expect("write");
        std::fs::write(dir.path().join("c.tf"), "garbage").expect("write");
        std::fs::create_dir(dir.path().join("sub.hcl")).expect("mkdir");
        let config = load_dir(dir.path()).map_err(|d| d.to_string());
        let names: Vec<String> = config
            .iter()
            .flat_map(|c| c.outputs.iter().map(|o| o.name.clone()))
            .collect();
        assert_eq!(names, ["a", "b"]);
        let files: Vec<bool> = config
            .iter()
            .flat_map(|c| c.sources.files.iter().map(|f| f.name.ends_with("a.hcl")))
            .collect();
        assert_eq!(files, [true, false]);
    }

    #[test]
    fn body_references_include_nested_blocks() {
        let text = "resource \"k\" \"c\" {\n  network = network.main.id\n  node_pool \"web\" {\n    min = local.web_min\n    max = var.max\n  }\n}\n";
        let config = load(&[("main.hcl", text)]).map_err(|d| d.to_string());
        let refs: Vec<String> = config
            .iter()
            .flat_map(|c| {
                c.resources[0]
                    .body
                    .references()
                    .into_iter()
                    .map(|(r, s)| format!("{r}@{}", c.sources.location(s)))
            })
            .collect();
        assert_eq!(
            refs,
            [
                "network.main@main.hcl:2:13",
                "local.web_min@main.hcl:4:11",
                "var.max@main.hcl:5:11"
            ]
        );
    }
}
