//! Diagnostics with source spans. Loading and evaluation return these; the binary renders them
//! (with a source snippet) and picks the exit code.

use std::fmt;

pub use provider_api::Severity;

/// One spec file, as read.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceFile {
    /// Path as shown to users (relative to the current directory where possible).
    pub name: String,
    pub text: String,
}

/// All files of a spec directory, indexed by [`Span::file`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sources {
    pub files: Vec<SourceFile>,
}

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub file: usize,
    pub start: usize,
    pub end: usize,
}

impl Sources {
    /// 1-based line and column (in characters) of the span's start.
    pub fn line_col(&self, span: Span) -> (usize, usize) {
        let Some(file) = self.files.get(span.file) else {
            return (0, 0);
        };
        let upto = &file.text[..span.start.min(file.text.len())];
        let line = upto.matches('\n').count() + 1;
        let col = upto
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0)
            + 1;
        (line, col)
    }

    /// `file:line:col` of the span's start.
    pub fn location(&self, span: Span) -> String {
        let (line, col) = self.line_col(span);
        let name = self
            .files
            .get(span.file)
            .map(|f| f.name.as_str())
            .unwrap_or("?");
        format!("{name}:{line}:{col}")
    }
}

/// A secondary location shown with a diagnostic (e.g. every member of a cycle).
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SpecDiagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: Option<String>,
    /// Where the problem is; `None` only for problems with no place in the spec
    /// (e.g. a `--var` naming an undeclared variable).
    pub span: Option<Span>,
    pub labels: Vec<Label>,
}

impl SpecDiagnostic {
    pub fn error(summary: impl Into<String>, span: Option<Span>) -> Self {
        SpecDiagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: None,
            span,
            labels: Vec::new(),
        }
    }

    pub fn warning(summary: impl Into<String>, span: Option<Span>) -> Self {
        SpecDiagnostic {
            severity: Severity::Warning,
            ..SpecDiagnostic::error(summary, span)
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A non-empty list of diagnostics, as an error value.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Diagnostics(pub Vec<SpecDiagnostic>);

impl Diagnostics {
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(SpecDiagnostic::is_error)
    }

    pub fn push(&mut self, d: SpecDiagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// Orders diagnostics by where they are in the sources (those without a place last), so a
    /// report reads top to bottom.
    pub fn sort(&mut self) {
        self.0
            .sort_by_key(|d| d.span.map_or((1, 0, 0), |s| (0, s.file, s.start)));
    }

    /// Drops repeats: the same problem can be found by two passes (an undefined reference is
    /// reported by the graph and again when evaluated). Keeps the first diagnostic for each
    /// primary span and severity (for diagnostics without a span: each summary).
    pub fn dedup(&mut self) {
        let mut seen_spans = std::collections::BTreeSet::new();
        let mut seen_summaries = std::collections::BTreeSet::new();
        self.0.retain(|d| match d.span {
            Some(span) => seen_spans.insert((span, d.is_error())),
            None => seen_summaries.insert(d.summary.clone()),
        });
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{}", d.summary)?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<SpecDiagnostic> for Diagnostics {
    fn from(d: SpecDiagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let sources = Sources {
            files: vec![SourceFile {
                name: "main.hcl".into(),
                text: "a = 1\nbé = x\n".into(),
            }],
        };
        let start = "a = 1\nbé = ".len();
        let span = Span {
            file: 0,
            start,
            end: start + 1,
        };
        assert_eq!(sources.location(span), "main.hcl:2:6");
    }
}
