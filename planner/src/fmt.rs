//! `ss fmt`: canonical formatting of spec files, in the layout `terraform fmt` gives HCL.
//!
//! The input is first parsed with hcl-edit, so only valid HCL is ever rewritten. Formatting itself
//! is a line-oriented pass over a small lexer that tracks brackets, strings, interpolations,
//! comments and heredocs: a line's indentation follows from the brackets open before it, so the
//! output does not depend on the input's indentation and formatting is idempotent. Everything
//! that is not layout (token text, comments, heredoc bodies) is kept as written.

/// The spec is not valid HCL; `line` and `column` are 1-based.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FmtError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// One indentation level.
const INDENT: &str = "  ";

/// Formats one spec file: two spaces per nesting level, `=` aligned across consecutive
/// single-line attributes, no trailing whitespace, at most one blank line in a row, and exactly
/// one final newline. Comments and heredoc bodies are preserved verbatim.
pub fn format_source(text: &str) -> Result<String, FmtError> {
    hcl_edit::parser::parse_body(text).map_err(|e| FmtError {
        message: e.message().to_string(),
        line: e.location().line(),
        column: e.location().column(),
    })?;
    Ok(render(&scan(text)))
}

/// A source line, classified for output.
#[derive(Debug, PartialEq)]
enum Line<'a> {
    Blank,
    /// Emitted exactly as written: heredoc bodies, the inside of block comments and of
    /// multi-line interpolations.
    Verbatim(&'a str),
    Code {
        level: usize,
        /// The line without surrounding whitespace.
        text: &'a str,
        /// For a single-line attribute (`name = value` wholly on this line, directly in a block
        /// or object), the byte offset of its `=` in `text`.
        assign: Option<usize>,
    },
}

/// What the lexer is inside of.
#[derive(Debug)]
enum Frame {
    /// `{`, `[` or `(`, with the closing byte and the level of the line that opened it.
    Bracket { close: u8, open_level: usize },
    /// A quoted string (a template).
    Str,
    /// A `${ … }` or `%{ … }` sequence inside a quoted string.
    Interp,
    /// A `/* … */` comment.
    Comment,
}

#[derive(Default)]
struct Lexer {
    stack: Vec<Frame>,
    /// The marker that ends the heredoc whose body is being read.
    heredoc: Option<String>,
}

impl Lexer {
    /// Whether the next line starts inside a string, an interpolation or a block comment: such a
    /// line is not reindented.
    fn in_literal(&self) -> bool {
        self.stack
            .iter()
            .any(|f| matches!(f, Frame::Str | Frame::Interp | Frame::Comment))
    }

    /// The indentation level of lines directly inside the innermost open bracket.
    fn inner_level(&self) -> usize {
        self.stack
            .iter()
            .rev()
            .find_map(|f| match f {
                Frame::Bracket { open_level, .. } => Some(open_level + 1),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// Whether lines at this point are directly inside a block body, an object, or the file.
    fn in_body(&self) -> bool {
        matches!(
            self.stack.last(),
            None | Some(Frame::Bracket { close: b'}', .. })
        )
    }

    /// Consumes the closing brackets that start `line`; a line that starts by closing brackets
    /// sits at the level of the line that opened the outermost of them. Returns the rest of the
    /// line and its level.
    fn leading_closers<'a>(&mut self, line: &'a str) -> (&'a str, usize) {
        let mut rest = line;
        let mut level = None;
        while let Some(&first) = rest.as_bytes().first() {
            match self.stack.last() {
                Some(Frame::Bracket { close, open_level }) if *close == first => {
                    level = Some(*open_level);
                    self.stack.pop();
                    rest = rest[1..].trim_start();
                }
                _ => break,
            }
        }
        (rest, level.unwrap_or_else(|| self.inner_level()))
    }

    /// Lexes one line (or its rest), updating the open frames. Brackets opened here belong to a
    /// line at `level`. Returns the smallest stack depth reached, to tell whether the line closed
    /// anything it did not open.
    fn scan(&mut self, line: &str, level: usize) -> usize {
        let b = line.as_bytes();
        let at = |i: usize| b.get(i).copied().unwrap_or(0);
        let mut min_depth = self.stack.len();
        let mut i = 0;
        while i < b.len() {
            match self.stack.last() {
                Some(Frame::Comment) => {
                    if at(i) == b'*' && at(i + 1) == b'/' {
                        self.stack.pop();
                        i += 1;
                    }
                }
                Some(Frame::Str) => match at(i) {
                    b'\\' => i += 1,
                    b'"' => {
                        self.stack.pop();
                    }
                    // `$${` and `%%{` are escapes for a literal `${` and `%{`.
                    c @ (b'$' | b'%') if at(i + 1) == c && at(i + 2) == b'{' => i += 2,
                    b'$' | b'%' if at(i + 1) == b'{' => {
                        self.stack.push(Frame::Interp);
                        i += 1;
                    }
                    _ => {}
                },
                None | Some(Frame::Bracket { .. } | Frame::Interp) => match at(i) {
                    b'"' => self.stack.push(Frame::Str),
                    b'#' => break,
                    b'/' if at(i + 1) == b'/' => break,
                    b'/' if at(i + 1) == b'*' => {
                        self.stack.push(Frame::Comment);
                        i += 1;
                    }
                    open @ (b'{' | b'[' | b'(') => self.stack.push(Frame::Bracket {
                        close: match open {
                            b'{' => b'}',
                            b'[' => b']',
                            _ => b')',
                        },
                        open_level: level,
                    }),
                    b'}' | b']' | b')' => {
                        self.stack.pop();
                        min_depth = min_depth.min(self.stack.len());
                    }
                    b'<' if at(i + 1) == b'<' => {
                        if let Some(marker) = heredoc_marker(&line[i + 2..]) {
                            self.heredoc = Some(marker.to_string());
                            break;
                        }
                        i += 1;
                    }
                    _ => {}
                },
            }
            i += 1;
        }
        min_depth
    }
}

/// The marker of a heredoc opened by `<<` followed by `rest`: `EOT` in `<<EOT` or `<<-EOT`, which
/// must end the line.
fn heredoc_marker(rest: &str) -> Option<&str> {
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    let (marker, after) = rest.split_at(end);
    (!marker.is_empty() && after.trim().is_empty()).then_some(marker)
}

/// The byte offset of `=` when `text` starts with `identifier =` (not `==` or `=>`).
fn attribute_assign(text: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    let (_, first) = chars.next()?;
    if !(first.is_alphabetic() || first == '_') {
        return None;
    }
    let name_end = chars
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '-'))
        .map_or(text.len(), |(i, _)| i);
    let after = &text[name_end..];
    let eq = name_end + (after.len() - after.trim_start().len());
    let mut rest = text[eq..].chars();
    match (rest.next(), rest.next()) {
        (Some('='), Some('=' | '>')) => None,
        (Some('='), _) => Some(eq),
        _ => None,
    }
}

/// Splits `text` into classified lines.
fn scan(text: &str) -> Vec<Line<'_>> {
    let mut lexer = Lexer::default();
    let mut lines = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(marker) = &lexer.heredoc {
            if raw.trim() == marker {
                lexer.heredoc = None;
            }
            lines.push(Line::Verbatim(raw));
            continue;
        }
        if lexer.in_literal() {
            // Trailing spaces inside a block comment are layout; inside an interpolation that
            // spans lines they are left alone with the rest of the line.
            let in_comment = matches!(lexer.stack.last(), Some(Frame::Comment));
            let level = lexer.inner_level();
            lexer.scan(raw, level);
            lines.push(Line::Verbatim(if in_comment {
                raw.trim_end()
            } else {
                raw
            }));
            continue;
        }
        let text = raw.trim();
        if text.is_empty() {
            lines.push(Line::Blank);
            continue;
        }
        let in_body = lexer.in_body();
        let depth = lexer.stack.len();
        let (rest, level) = lexer.leading_closers(text);
        let min_depth = lexer.scan(rest, level);
        let single_line = rest.len() == text.len()
            && min_depth == depth
            && lexer.stack.len() == depth
            && lexer.heredoc.is_none();
        let assign = if single_line && in_body {
            attribute_assign(text)
        } else {
            None
        };
        lines.push(Line::Code {
            level,
            text,
            assign,
        });
    }
    lines
}

/// The attribute name of a single-line attribute, and its width in characters.
fn attribute_name(text: &str, eq: usize) -> (&str, usize) {
    let name = text[..eq].trim_end();
    (name, name.chars().count())
}

/// Lays out classified lines.
fn render(lines: &[Line<'_>]) -> String {
    // The name width each single-line attribute is padded to: the widest name of its run of
    // consecutive single-line attributes at the same level.
    let mut widths = vec![0; lines.len()];
    let mut start = 0;
    while start < lines.len() {
        let Line::Code {
            level: run_level,
            assign: Some(_),
            ..
        } = lines[start]
        else {
            start += 1;
            continue;
        };
        let end = lines[start..]
            .iter()
            .position(
                |l| !matches!(l, Line::Code { level, assign: Some(_), .. } if *level == run_level),
            )
            .map_or(lines.len(), |n| start + n);
        let width = lines[start..end]
            .iter()
            .filter_map(|l| match l {
                Line::Code {
                    text,
                    assign: Some(eq),
                    ..
                } => Some(attribute_name(text, *eq).1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        widths[start..end].fill(width);
        start = end;
    }

    let mut out = String::new();
    let mut blank_pending = false;
    for (line, width) in lines.iter().zip(widths) {
        match line {
            Line::Blank => blank_pending = !out.is_empty(),
            Line::Verbatim(raw) => {
                if std::mem::take(&mut blank_pending) {
                    out.push('\n');
                }
                out.push_str(raw);
                out.push('\n');
            }
            Line::Code {
                level,
                text,
                assign,
            } => {
                if std::mem::take(&mut blank_pending) {
                    out.push('\n');
                }
                out.push_str(&INDENT.repeat(*level));
                match assign {
                    Some(eq) => {
                        let (name, name_width) = attribute_name(text, *eq);
                        out.push_str(name);
                        out.push_str(&" ".repeat(width - name_width));
                        out.push_str(" = ");
                        out.push_str(text[eq + 1..].trim_start());
                    }
                    None => out.push_str(text),
                }
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formats `input`, compares with `expected`, and checks that formatting is idempotent.
    #[track_caller]
    fn check(name: &str, input: &str, expected: &str) {
        let formatted = format_source(input).expect(name);
        assert_eq!(formatted, expected, "case: {name}");
        let again = format_source(&formatted).expect(name);
        assert_eq!(again, formatted, "case not idempotent: {name}");
        assert_eq!(
            without_whitespace(&formatted),
            without_whitespace(input),
            "case changed more than layout: {name}"
        );
    }

    /// The text with all whitespace removed: formatting may change nothing else.
    fn without_whitespace(text: &str) -> String {
        text.chars().filter(|c| !c.is_whitespace()).collect()
    }

    #[test]
    fn layout_cases() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "nested blocks are indented two spaces per level",
                "resource \"postgres\" \"meta\" {\nversion = \"16\"\n        lifecycle {\n prevent_destroy = true\n     }\n}\n",
                "resource \"postgres\" \"meta\" {\n  version = \"16\"\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n",
            ),
            (
                "equals signs are aligned within a run and spaced once",
                "network \"x\" {\n  cidr=\"10.0.0.0/16\"\n  zones    =   3\n  high_availability = true\n}\n",
                "network \"x\" {\n  cidr              = \"10.0.0.0/16\"\n  zones             = 3\n  high_availability = true\n}\n",
            ),
            (
                "a blank line, a comment or a block ends an alignment run",
                "a = 1\nlong_name = 2\n\nb = 3\nlonger = 4\n# note\nc = 5\nd_long = 6\nblk {\n  x = 1\n}\ne = 7\n",
                "a         = 1\nlong_name = 2\n\nb      = 3\nlonger = 4\n# note\nc      = 5\nd_long = 6\nblk {\n  x = 1\n}\ne = 7\n",
            ),
            (
                "a multi-line attribute is not aligned with its neighbours",
                "a = 1\nzones = [\n\"a\",\n  \"b\",\n]\nlong_name = 2\n",
                "a = 1\nzones = [\n  \"a\",\n  \"b\",\n]\nlong_name = 2\n",
            ),
            (
                "trailing whitespace, blank runs, leading blanks and the final newline",
                "\n\n  a = 1   \n\n\n\nb = 2\t\n\n\n",
                "a = 1\n\nb = 2\n",
            ),
            (
                "a missing final newline is added and CRLF becomes LF",
                "a = 1\r\nb {\r\n  c = 2\r\n}",
                "a = 1\nb {\n  c = 2\n}\n",
            ),
            (
                "comments are reindented but their text is kept",
                "# top\nblk {\n      // line comment   \n  a = 1 # trailing   comment\n    /* block\n      stays   \n   as is */\n}\n",
                "# top\nblk {\n  // line comment\n  a = 1 # trailing   comment\n  /* block\n      stays\n   as is */\n}\n",
            ),
            (
                "heredoc bodies are verbatim",
                "blk {\n    script = <<EOT\n  keep   \n    this\nEOT\n        other = 1\n}\n",
                "blk {\n  script = <<EOT\n  keep   \n    this\nEOT\n  other = 1\n}\n",
            ),
            (
                "indented heredoc inside a call, with an interpolation",
                "x = trimspace(<<-EOT\n      hello ${var.name} {\n    EOT\n    )\ny = 2\n",
                "x = trimspace(<<-EOT\n      hello ${var.name} {\n    EOT\n)\ny = 2\n",
            ),
            (
                "multi-line lists and objects are reindented by bracket depth",
                "tags = {\n        Name = \"web\"\n   Environment = \"prod\"\n      nested = {\n a = [\n1,\n      2,\n  ]\n   }\n}\n",
                "tags = {\n  Name        = \"web\"\n  Environment = \"prod\"\n  nested = {\n    a = [\n      1,\n      2,\n    ]\n  }\n}\n",
            ),
            (
                "brackets opened together indent once",
                "x = [{\n      a = 1\n       }, {\n  b = 2\n    }]\n",
                "x = [{\n  a = 1\n}, {\n  b = 2\n}]\n",
            ),
            (
                "brackets, comment markers and escapes inside strings are text",
                "a = \"{[( # // /*\"\nbb = \"${jsonencode({ k = \"}\" })}\"\nc = \"$${not_interp} {\"\nd = \"\\\"{\"\n",
                "a  = \"{[( # // /*\"\nbb = \"${jsonencode({ k = \"}\" })}\"\nc  = \"$${not_interp} {\"\nd  = \"\\\"{\"\n",
            ),
            (
                "single-line blocks and comparisons are left alone",
                "blk {\nlifecycle { prevent_destroy = true }\n  ok = a == b\n  m = { for k, v in x : k => v }\n}\n",
                "blk {\n  lifecycle { prevent_destroy = true }\n  ok = a == b\n  m  = { for k, v in x : k => v }\n}\n",
            ),
            (
                "function calls spanning lines",
                "locals {\n  web_min = max(\n  5,\n       ceil(var.users / 2000),\n  )\n}\n",
                "locals {\n  web_min = max(\n    5,\n    ceil(var.users / 2000),\n  )\n}\n",
            ),
            ("an empty file stays empty", "\n\n   \n", ""),
        ];
        for (name, input, expected) in cases {
            check(name, input, expected);
        }
    }

    #[test]
    fn reference_example_is_stable() {
        let canonical = r#"ss {
  backend "local" { path = "ss.state.json" }
}

provider "sandbox" {
  latency = "200ms"
}

variable "users" {
  type    = number
  default = 10000
}

locals {
  web_min = max(5, ceil(var.users / 2000))
}

resource "postgres" "meta" {
  network           = network.main.id
  version           = "16"
  size              = "large" # portable size class
  high_availability = true
  read_replicas     = 2
  pooler            = true
  lifecycle {
    prevent_destroy = true
  }
}

output "db" {
  value = postgres.meta.endpoint
}
"#;
        check("reference example", canonical, canonical);
    }

    #[test]
    fn invalid_input_reports_its_location() {
        let err = format_source("a = 1\nblock {\n  b = \n}\n").expect_err("invalid HCL");
        // The value is missing at the end of line 3.
        assert_eq!((err.line, err.column), (3, 7), "{err:?}");
        assert!(!err.message.is_empty());

        let err = format_source("resource \"x\" {\n  a = [1, 2\n").expect_err("unclosed");
        assert!(err.line >= 2, "{err:?}");
    }

    #[test]
    fn heredoc_marker_rules() {
        assert_eq!(heredoc_marker("EOT"), Some("EOT"));
        assert_eq!(heredoc_marker("-EOT  "), Some("EOT"));
        assert_eq!(heredoc_marker(" EOT"), None);
        assert_eq!(heredoc_marker("EOT x"), None);
    }

    #[test]
    fn attribute_detection() {
        assert_eq!(attribute_assign("name = 1"), Some(5));
        assert_eq!(attribute_assign("a-b=1"), Some(3));
        assert_eq!(attribute_assign("a == b"), None);
        assert_eq!(attribute_assign("k => v"), None);
        assert_eq!(attribute_assign("\"quoted\" = 1"), None);
        assert_eq!(attribute_assign("block {"), None);
    }
}
