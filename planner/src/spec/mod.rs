//! Spec loading and evaluation: every `*.hcl` file of a directory → [`diag::Sources`] and a
//! typed configuration, with diagnostics that carry source spans.

pub mod diag;
pub mod functions;

pub use diag::{Diagnostics, Label, SourceFile, Sources, Span, SpecDiagnostic};
