//! Spec loading and evaluation: every `*.hcl` file of a directory → [`diag::Sources`] and a
//! typed configuration, with diagnostics that carry source spans.

mod body;
pub mod diag;
mod eval;
pub mod functions;
mod load;
mod model;
pub(crate) mod suggest;
#[cfg(test)]
mod testutil;
mod types;
mod vars;

pub use body::{eval_body, span_of_path};
pub use diag::{Diagnostics, Label, SourceFile, Sources, Span, SpecDiagnostic};
pub use eval::{EvalContext, eval};
pub use load::{LoadError, load_dir, load_sources};
pub use model::{
    Attribute, BackendBlock, BlockBody, Config, EncryptionBlock, Expr, Lifecycle, Local,
    NestedBlock, Output, ProviderBlock, Reference, ResourceBlock, Settings, TypeConstraint,
    Validation, Variable,
};
pub use types::convert as convert_to_type;
pub use vars::{VarInputs, resolve_variables};
