//! The typed configuration a spec directory loads into. Expressions stay unevaluated
//! ([`Expr`]) until the planner knows the values they may refer to.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::template::{Directive, Element, Template};

use super::diag::{Sources, Span};

/// Everything declared in the `*.hcl` files of one directory.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub dir: PathBuf,
    pub sources: Sources,
    pub settings: Settings,
    pub providers: Vec<ProviderBlock>,
    pub variables: Vec<Variable>,
    pub locals: Vec<Local>,
    pub resources: Vec<ResourceBlock>,
    pub outputs: Vec<Output>,
}

/// The `ss { ... }` block: `stack = "name"`, `backend "KIND" { ... }` and
/// `encryption { key_env = "NAME" }`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Settings {
    pub backend: Option<BackendBlock>,
    pub stack: Option<(String, Span)>,
    pub encryption: Option<EncryptionBlock>,
}

/// `encryption { key_env = "NAME" }`: the state (and saved plans) are encrypted with the
/// passphrase in the environment variable `NAME`.
#[derive(Clone, Debug, PartialEq)]
pub struct EncryptionBlock {
    pub key_env: Option<(String, Span)>,
    /// The block header.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BackendBlock {
    pub kind: String,
    pub body: BlockBody,
    /// The block header (`backend "KIND"`).
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProviderBlock {
    pub name: String,
    pub body: BlockBody,
    /// The block header (`provider "NAME"`).
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Variable {
    pub name: String,
    pub ty: Option<TypeConstraint>,
    pub default: Option<Expr>,
    pub description: Option<String>,
    pub sensitive: bool,
    pub validations: Vec<Validation>,
    /// The block header (`variable "NAME"`).
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Validation {
    pub condition: Expr,
    pub error_message: Expr,
    /// The `validation` block header.
    pub span: Span,
}

/// A variable's `type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeConstraint {
    Any,
    String,
    Number,
    Bool,
    List(Box<TypeConstraint>),
    Set(Box<TypeConstraint>),
    Map(Box<TypeConstraint>),
    Object(BTreeMap<String, TypeConstraint>),
    Tuple(Vec<TypeConstraint>),
}

impl fmt::Display for TypeConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeConstraint::Any => f.write_str("any"),
            TypeConstraint::String => f.write_str("string"),
            TypeConstraint::Number => f.write_str("number"),
            TypeConstraint::Bool => f.write_str("bool"),
            TypeConstraint::List(t) => write!(f, "list({t})"),
            TypeConstraint::Set(t) => write!(f, "set({t})"),
            TypeConstraint::Map(t) => write!(f, "map({t})"),
            TypeConstraint::Object(attrs) => {
                f.write_str("object({")?;
                for (i, (k, t)) in attrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {t}")?;
                }
                f.write_str("})")
            }
            TypeConstraint::Tuple(items) => {
                f.write_str("tuple([")?;
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str("])")
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Local {
    pub name: String,
    pub expr: Expr,
    /// The attribute name in the `locals` block.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResourceBlock {
    pub type_name: String,
    pub name: String,
    /// The block header: `resource "TYPE" "NAME"`.
    pub span: Span,
    pub provider: Option<(String, Span)>,
    pub count: Option<Expr>,
    pub for_each: Option<Expr>,
    pub depends_on: Vec<(Reference, Span)>,
    pub lifecycle: Lifecycle,
    /// The body without the meta-arguments (`provider`, `count`, `for_each`, `depends_on`,
    /// `lifecycle`).
    pub body: BlockBody,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Lifecycle {
    pub prevent_destroy: bool,
    pub create_before_destroy: bool,
    /// Attribute paths written as `a.b` (`ignore_changes = [tags, node_pool.min]`).
    pub ignore_changes: Vec<String>,
    /// `ignore_changes = all`.
    pub ignore_all_changes: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    pub name: String,
    pub value: Expr,
    pub sensitive: bool,
    pub description: Option<String>,
    /// The block header (`output "NAME"`).
    pub span: Span,
}

/// The attributes and nested blocks of a block, in source order.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockBody {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    /// The text between the braces.
    pub span: Span,
}

impl BlockBody {
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// Every reference made by the attributes of the body and of its nested blocks, in source
    /// order.
    pub fn references(&self) -> Vec<(Reference, Span)> {
        let mut out: Vec<(Reference, Span)> = self
            .attributes
            .iter()
            .flat_map(|a| a.expr.references())
            .collect();
        for block in &self.blocks {
            out.extend(block.body.references());
        }
        out.sort_by_key(|(_, span)| *span);
        out
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub name_span: Span,
    pub expr: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    pub type_name: String,
    pub labels: Vec<String>,
    /// The block header (type and labels).
    pub span: Span,
    pub body: BlockBody,
}

/// An unevaluated expression and the file it was written in.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub(super) expr: Expression,
    pub(super) file: usize,
    /// Used when the parser recorded no span for the expression (it always does for parsed
    /// text; this keeps [`Expr::span`] total).
    pub(super) fallback: Span,
}

/// What an expression refers to, as the graph builder needs it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reference {
    Var(String),
    Local(String),
    Resource {
        type_name: String,
        name: String,
    },
    CountIndex,
    EachKey,
    EachValue,
    /// `ss.workspace`.
    Workspace,
    /// `path.module`.
    PathModule,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Var(n) => write!(f, "var.{n}"),
            Reference::Local(n) => write!(f, "local.{n}"),
            Reference::Resource { type_name, name } => write!(f, "{type_name}.{name}"),
            Reference::CountIndex => f.write_str("count.index"),
            Reference::EachKey => f.write_str("each.key"),
            Reference::EachValue => f.write_str("each.value"),
            Reference::Workspace => f.write_str("ss.workspace"),
            Reference::PathModule => f.write_str("path.module"),
        }
    }
}

/// Converts a parser range of file `file` into a [`Span`].
pub(super) fn to_span(file: usize, range: Option<Range<usize>>) -> Option<Span> {
    range.map(|r| Span {
        file,
        start: r.start,
        end: r.end,
    })
}

impl Expr {
    pub(super) fn new(expr: Expression, file: usize, fallback: Span) -> Expr {
        Expr {
            expr,
            file,
            fallback,
        }
    }

    /// Where the expression is written.
    pub fn span(&self) -> Span {
        to_span(self.file, self.expr.span()).unwrap_or(self.fallback)
    }

    /// The span of a sub-expression of this one.
    pub(super) fn span_of(&self, range: Option<Range<usize>>) -> Span {
        to_span(self.file, range).unwrap_or(self.fallback)
    }

    /// Every reference in the expression, in source order, with the span of the referring
    /// text (`var.x`, `network.main`, `count.index`). Names bound by `for` expressions are not
    /// references.
    pub fn references(&self) -> Vec<(Reference, Span)> {
        let mut out = Vec::new();
        let mut bound = Vec::new();
        self.collect(&self.expr, &mut bound, &mut out);
        out
    }

    fn collect(
        &self,
        expr: &Expression,
        bound: &mut Vec<String>,
        out: &mut Vec<(Reference, Span)>,
    ) {
        match expr {
            Expression::Null(_)
            | Expression::Bool(_)
            | Expression::Number(_)
            | Expression::String(_)
            | Expression::Variable(_) => {}
            Expression::Array(items) => {
                for item in items.iter() {
                    self.collect(item, bound, out);
                }
            }
            Expression::Object(object) => {
                for (key, value) in object.iter() {
                    if let Some(key) = key.as_expr() {
                        self.collect(key, bound, out);
                    }
                    self.collect(value.expr(), bound, out);
                }
            }
            Expression::StringTemplate(t) => self.collect_template(t, bound, out),
            Expression::HeredocTemplate(h) => self.collect_template(&h.template, bound, out),
            Expression::Parenthesis(p) => self.collect(p.inner(), bound, out),
            Expression::Conditional(c) => {
                self.collect(&c.cond_expr, bound, out);
                self.collect(&c.true_expr, bound, out);
                self.collect(&c.false_expr, bound, out);
            }
            Expression::FuncCall(call) => {
                for arg in call.args.iter() {
                    self.collect(arg, bound, out);
                }
            }
            Expression::UnaryOp(op) => self.collect(&op.expr, bound, out),
            Expression::BinaryOp(op) => {
                self.collect(&op.lhs_expr, bound, out);
                self.collect(&op.rhs_expr, bound, out);
            }
            Expression::ForExpr(f) => {
                self.collect(&f.intro.collection_expr, bound, out);
                let depth = bound.len();
                if let Some(k) = &f.intro.key_var {
                    bound.push(k.as_str().to_string());
                }
                bound.push(f.intro.value_var.as_str().to_string());
                if let Some(k) = &f.key_expr {
                    self.collect(k, bound, out);
                }
                self.collect(&f.value_expr, bound, out);
                if let Some(c) = &f.cond {
                    self.collect(&c.expr, bound, out);
                }
                bound.truncate(depth);
            }
            Expression::Traversal(t) => {
                if let Expression::Variable(root) = &t.expr {
                    let first = t.operators.first().map(|op| op.value());
                    if let (Some(TraversalOperator::GetAttr(attr)), false) =
                        (first, bound.iter().any(|b| b == root.as_str()))
                    {
                        let reference = reference_of(root.as_str(), attr.as_str());
                        let end = t.operators.first().and_then(|op| op.span()).map(|r| r.end);
                        let span = match (root.span(), end) {
                            (Some(r), Some(end)) => self.span_of(Some(r.start..end)),
                            _ => self.span_of(t.span()),
                        };
                        if let Some(reference) = reference {
                            out.push((reference, span));
                        }
                    }
                } else {
                    self.collect(&t.expr, bound, out);
                }
                for op in &t.operators {
                    if let TraversalOperator::Index(index) = op.value() {
                        self.collect(index, bound, out);
                    }
                }
            }
        }
    }

    fn collect_template(
        &self,
        template: &Template,
        bound: &mut Vec<String>,
        out: &mut Vec<(Reference, Span)>,
    ) {
        for element in template.iter() {
            match element {
                Element::Literal(_) => {}
                Element::Interpolation(i) => self.collect(&i.expr, bound, out),
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(d) => {
                        self.collect(&d.if_expr.cond_expr, bound, out);
                        self.collect_template(&d.if_expr.template, bound, out);
                        if let Some(e) = &d.else_expr {
                            self.collect_template(&e.template, bound, out);
                        }
                    }
                    Directive::For(d) => {
                        self.collect(&d.for_expr.collection_expr, bound, out);
                        let depth = bound.len();
                        if let Some(k) = &d.for_expr.key_var {
                            bound.push(k.as_str().to_string());
                        }
                        bound.push(d.for_expr.value_var.as_str().to_string());
                        self.collect_template(&d.for_expr.template, bound, out);
                        bound.truncate(depth);
                    }
                },
            }
        }
    }
}

/// The reference a traversal `root.attr...` makes; `None` for an attribute that the root
/// does not have (the evaluator reports those).
fn reference_of(root: &str, attr: &str) -> Option<Reference> {
    Some(match (root, attr) {
        ("var", n) => Reference::Var(n.to_string()),
        ("local", n) => Reference::Local(n.to_string()),
        ("count", "index") => Reference::CountIndex,
        ("each", "key") => Reference::EachKey,
        ("each", "value") => Reference::EachValue,
        ("ss", "workspace") => Reference::Workspace,
        ("path", "module") => Reference::PathModule,
        ("count" | "each" | "ss" | "path", _) => return None,
        (type_name, name) => Reference::Resource {
            type_name: type_name.to_string(),
            name: name.to_string(),
        },
    })
}
