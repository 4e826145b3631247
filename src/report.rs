//! Reporting errors at the edge: spec diagnostics rendered with miette (source snippet and
//! labelled spans), and any other error as `Error: …` with its cause chain.
//!
//! Every diagnostic's first line carries its plain `FILE:LINE:COL`, so the location can be
//! found (by people and tests) even without colour or a terminal.

use std::fmt;
use std::io::Write as _;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode,
};
use owo_colors::OwoColorize;
use planner::spec::diag::Severity;
use planner::spec::{Diagnostics, Sources, Span, SpecDiagnostic};

/// Spec diagnostics together with the sources their spans point into: the error a command
/// returns when loading or evaluating a spec fails, so that `main` can render it.
#[derive(Debug)]
pub struct SpecError {
    pub diagnostics: Diagnostics,
    pub sources: Sources,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&count_line(&self.diagnostics))
    }
}

impl std::error::Error for SpecError {}

/// One diagnostic in miette's terms. Labels in another file than the primary span become
/// related diagnostics, since a miette diagnostic shows snippets of one source only.
#[derive(Debug)]
struct Rendered {
    message: String,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Rendered>,
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rendered {}

impl Diagnostic for Rendered {
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        (!self.labels.is_empty()).then(|| Box::new(self.labels.iter().cloned()) as Box<_>)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        (!self.related.is_empty())
            .then(|| Box::new(self.related.iter().map(|r| r as &dyn Diagnostic)) as Box<_>)
    }
}

fn named_source(sources: &Sources, span: Span) -> Option<NamedSource<String>> {
    let file = sources.files.get(span.file)?;
    Some(NamedSource::new(file.name.clone(), file.text.clone()))
}

/// The span as a miette byte range, clamped to the file so a stale span cannot break rendering.
fn labeled(sources: &Sources, span: Span, label: Option<String>, primary: bool) -> LabeledSpan {
    let len = sources.files.get(span.file).map_or(0, |f| f.text.len());
    let start = span.start.min(len);
    let end = span.end.clamp(start, len);
    if primary {
        LabeledSpan::new_primary_with_span(label, (start, end - start))
    } else {
        LabeledSpan::new_with_span(label, (start, end - start))
    }
}

fn rendered(d: &SpecDiagnostic, sources: &Sources) -> Rendered {
    let severity = match d.severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
    };
    let message = match d.span {
        Some(span) => format!("{}: {}", sources.location(span), d.summary),
        None => d.summary.clone(),
    };
    let mut out = Rendered {
        message,
        severity,
        help: d.detail.clone(),
        source: d.span.and_then(|s| named_source(sources, s)),
        labels: Vec::new(),
        related: Vec::new(),
    };
    if let Some(span) = d.span {
        out.labels.push(labeled(sources, span, None, true));
    }
    for label in &d.labels {
        if d.span.is_some_and(|s| s.file == label.span.file) {
            let text = Some(label.message.clone());
            out.labels.push(labeled(sources, label.span, text, false));
        } else {
            out.related.push(Rendered {
                message: format!("{}: {}", sources.location(label.span), label.message),
                severity: miette::Severity::Advice,
                help: None,
                source: named_source(sources, label.span),
                labels: vec![labeled(sources, label.span, None, true)],
                related: Vec::new(),
            });
        }
    }
    out
}

fn handler(color: bool) -> GraphicalReportHandler {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    // Messages stay on one line so that a location or a message can be searched for as is.
    GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_wrap_lines(false)
}

/// `2 errors and 1 warning.`
fn count_line(diags: &Diagnostics) -> String {
    let errors = diags.0.iter().filter(|d| d.is_error()).count();
    let warnings = diags.0.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (e, 0) => format!("{}.", plural(e, "error")),
        (0, w) => format!("{}.", plural(w, "warning")),
        (e, w) => format!("{} and {}.", plural(e, "error"), plural(w, "warning")),
    }
}

/// Renders every diagnostic with its source snippet, then a count line.
pub fn render_diagnostics(diags: &Diagnostics, sources: &Sources, color: bool) -> String {
    let handler = handler(color);
    let mut out = String::new();
    for d in &diags.0 {
        let r = rendered(d, sources);
        if handler.render_report(&mut out, &r).is_err() {
            // The graphical renderer only fails on a formatter error; keep the plain line.
            out.push_str(&r.message);
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&count_line(diags));
    out.push('\n');
    out
}

/// Diagnostics as JSON for machines: `[{"severity", "summary", "detail", "location"}]`,
/// `location` being `FILE:LINE:COL` (null for a problem with no place in the spec).
pub fn diagnostics_json(diags: &Diagnostics, sources: &Sources) -> serde_json::Value {
    serde_json::Value::Array(
        diags
            .0
            .iter()
            .map(|d| {
                serde_json::json!({
                    "severity": if d.is_error() { "error" } else { "warning" },
                    "summary": d.summary,
                    "detail": d.detail,
                    "location": d.span.map(|span| sources.location(span)),
                })
            })
            .collect(),
    )
}

/// Prints diagnostics (errors and warnings) to stderr.
pub fn print_diagnostics(diags: &Diagnostics, sources: &Sources, color: bool) {
    let _ = write!(
        std::io::stderr(),
        "{}",
        render_diagnostics(diags, sources, color)
    );
}

/// Renders an error as `Error: message` followed by its causes; spec errors anywhere in the
/// chain are rendered as diagnostics instead.
pub fn render_error(err: &anyhow::Error, color: bool) -> String {
    if let Some(spec) = err.chain().find_map(|e| e.downcast_ref::<SpecError>()) {
        return render_diagnostics(&spec.diagnostics, &spec.sources, color);
    }
    let label = if color {
        "Error:".red().bold().to_string()
    } else {
        "Error:".to_string()
    };
    let mut shown = err.to_string();
    let mut out = format!("{label} {shown}\n");
    for cause in err.chain().skip(1) {
        // Many errors embed their source in their own message ("refreshing …: {source}"):
        // a cause already shown is not repeated.
        let text = cause.to_string();
        if shown.contains(&text) {
            continue;
        }
        out.push_str(&format!("  caused by: {text}\n"));
        shown = text;
    }
    out
}

/// Prints an error to stderr (see [`render_error`]).
pub fn print_error(err: &anyhow::Error, color: bool) {
    let _ = write!(std::io::stderr(), "{}", render_error(err, color));
}

#[cfg(test)]
mod tests {
    use planner::spec::SourceFile;

    use super::*;

    #[test]
    fn a_cause_embedded_in_its_message_is_not_repeated() {
        #[derive(Debug, thiserror::Error)]
        #[error("refreshing things: {source}")]
        struct Outer {
            source: std::io::Error,
        }
        let err = anyhow::Error::new(Outer {
            source: std::io::Error::other("quota exceeded"),
        })
        .context("planning failed");
        let text = render_error(&err, false);
        assert_eq!(
            text,
            "Error: planning failed\n  caused by: refreshing things: quota exceeded\n"
        );
    }

    fn sources() -> Sources {
        Sources {
            files: vec![
                SourceFile {
                    name: "main.hcl".into(),
                    text: "resource \"network\" \"main\" {\n  zones = 9\n}\n".into(),
                },
                SourceFile {
                    name: "db.hcl".into(),
                    text: "resource \"postgres\" \"meta\" {\n  network = network.main.id\n}\n"
                        .into(),
                },
            ],
        }
    }

    fn span_of(sources: &Sources, file: usize, needle: &str) -> Span {
        let start = sources.files[file].text.find(needle).expect("needle");
        Span {
            file,
            start,
            end: start + needle.len(),
        }
    }

    #[test]
    fn diagnostics_as_json_name_their_location() {
        let s = sources();
        let diags = Diagnostics(vec![
            SpecDiagnostic::warning(
                "kubernetes_cluster.k8s: Kubernetes 1.33 is in extended support",
                Some(span_of(&s, 0, "9")),
            )
            .with_detail("$0.60 per cluster-hour"),
            SpecDiagnostic::warning("variable \"x\" is unused", None),
        ]);
        let doc = diagnostics_json(&diags, &s);
        assert_eq!(
            doc,
            serde_json::json!([
                {"severity": "warning",
                 "summary": "kubernetes_cluster.k8s: Kubernetes 1.33 is in extended support",
                 "detail": "$0.60 per cluster-hour", "location": "main.hcl:2:11"},
                {"severity": "warning", "summary": "variable \"x\" is unused",
                 "detail": null, "location": null},
            ])
        );
    }

    #[test]
    fn every_diagnostic_names_its_location_without_colour() {
        let s = sources();
        let diags = Diagnostics(vec![
            SpecDiagnostic::error("zones must be between 1 and 6", Some(span_of(&s, 0, "9")))
                .with_detail("a region has at most 6 zones"),
            SpecDiagnostic::error(
                "cycle: network.main -> postgres.meta",
                Some(span_of(&s, 0, "network")),
            )
            .with_label(
                span_of(&s, 1, "network.main.id"),
                "postgres.meta refers to network.main here",
            ),
            SpecDiagnostic::warning("variable \"x\" is unused", None),
        ]);
        let text = render_diagnostics(&diags, &s, false);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(
            text.contains("main.hcl:2:11: zones must be between 1 and 6"),
            "{text}"
        );
        assert!(text.contains("a region has at most 6 zones"), "{text}");
        assert!(
            text.contains("main.hcl:1:11: cycle: network.main -> postgres.meta"),
            "{text}"
        );
        assert!(
            text.contains("db.hcl:2:13: postgres.meta refers to network.main here"),
            "{text}"
        );
        assert!(text.contains("zones = 9"), "snippet missing: {text}");
        assert!(text.contains("variable \"x\" is unused"), "{text}");
        assert!(text.ends_with("2 errors and 1 warning.\n"), "{text}");
    }

    #[test]
    fn stale_spans_do_not_break_rendering() {
        let s = sources();
        let diags = Diagnostics(vec![SpecDiagnostic::error(
            "past the end",
            Some(Span {
                file: 0,
                start: 10_000,
                end: 10_010,
            }),
        )]);
        let text = render_diagnostics(&diags, &s, false);
        assert!(text.contains("past the end"), "{text}");
    }

    #[test]
    fn errors_show_their_cause_chain() {
        let err = anyhow::anyhow!("disk full").context("saving state ss.state.json");
        assert_eq!(
            render_error(&err, false),
            "Error: saving state ss.state.json\n  caused by: disk full\n"
        );
    }

    #[test]
    fn spec_errors_in_the_chain_render_as_diagnostics() {
        let s = sources();
        let spec = SpecError {
            diagnostics: SpecDiagnostic::error("bad", Some(span_of(&s, 1, "network"))).into(),
            sources: s,
        };
        let err = anyhow::Error::new(spec).context("loading the spec");
        let text = render_error(&err, false);
        assert!(text.contains("db.hcl:2:3: bad"), "{text}");
        assert!(text.ends_with("1 error.\n"), "{text}");
    }
}
