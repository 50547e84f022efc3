//! What a capture or an expectation reads from a response: JSONPath expressions and regexes,
//! validated now with the position of a mistake inside the string.

use crate::ast::{Span, StrLit};
use crate::diagnostic::Diagnostic;

/// Checks a JSONPath (RFC 9535).
pub fn json_path(lit: &StrLit) -> Result<(), Diagnostic> {
    match serde_json_path::JsonPath::parse(&lit.value) {
        Ok(_) => Ok(()),
        Err(e) => {
            let at = e.position().min(lit.value.len());
            let message = match e.message() {
                "parser error" if at == 0 && !lit.value.starts_with('$') => {
                    "a JSONPath starts with `$`".to_string()
                }
                "parser error" if at >= lit.value.len() => "the path ends too early".to_string(),
                "parser error" => "unexpected character".to_string(),
                other => other.to_string(),
            };
            Err(Diagnostic::InvalidJsonPath {
                message,
                span: inside(lit, at, 1).into(),
            })
        }
    }
}

/// Checks a capture regex: valid, and with a group to capture.
pub fn capture_regex(lit: &StrLit) -> Result<(), Diagnostic> {
    if parse_regex(lit)?.properties().explicit_captures_len() == 0 {
        return Err(Diagnostic::RegexWithoutGroup {
            span: lit.span.into(),
        });
    }
    compiles(lit)
}

/// Checks the regex of `expect body matches /…/`: valid (it needs no group).
pub fn match_regex(lit: &StrLit) -> Result<(), Diagnostic> {
    parse_regex(lit)?;
    compiles(lit)
}

/// The regex's syntax, with the span of a mistake inside the literal.
fn parse_regex(lit: &StrLit) -> Result<regex_syntax::hir::Hir, Diagnostic> {
    regex_syntax::parse(&lit.value).map_err(|e| {
        let (span, message) = match &e {
            regex_syntax::Error::Parse(p) => (*p.span(), p.kind().to_string()),
            regex_syntax::Error::Translate(t) => (*t.span(), t.kind().to_string()),
            other => (
                regex_syntax::ast::Span::splat(regex_syntax::ast::Position::new(0, 1, 1)),
                other.to_string(),
            ),
        };
        let len = span.end.offset.saturating_sub(span.start.offset).max(1);
        Diagnostic::InvalidRegex {
            message,
            span: inside(lit, span.start.offset, len).into(),
        }
    })
}

/// What the runtime compiles: catches limits the syntax check does not (size).
fn compiles(lit: &StrLit) -> Result<(), Diagnostic> {
    regex::Regex::new(&lit.value)
        .map(|_| ())
        .map_err(|e| Diagnostic::InvalidRegex {
            message: e
                .to_string()
                .lines()
                .last()
                .unwrap_or("invalid regex")
                .trim()
                .to_string(),
            span: lit.span.into(),
        })
}

/// Checks the name of `header("…")` in a capture or an expectation: an HTTP token, as the
/// runtime's `HeaderName` requires.
pub fn header_name(lit: &StrLit) -> Result<(), Diagnostic> {
    let name = &lit.value;
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    let (span, what) = match name.char_indices().find(|&(_, c)| !tchar(c)) {
        None if !name.is_empty() => return Ok(()),
        None => (lit.span, "empty"),
        Some((at, c)) => (
            inside(lit, at, c.len_utf8()),
            "not allowed in a header name",
        ),
    };
    Err(Diagnostic::InvalidHeaderName {
        name: name.clone(),
        span: span.into(),
        what,
    })
}

/// The source span of `len` bytes at `at` inside a string literal's value (at least one
/// character, so that the label shows even at the end of the string).
fn inside(lit: &StrLit, at: usize, len: usize) -> Span {
    let value = &lit.value;
    let mut start = at.min(value.len());
    while !value.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + len).min(value.len());
    while !value.is_char_boundary(end) {
        end += 1;
    }
    if start == end {
        // At the end of the value: point at the closing quote.
        let s = lit.source_span(start..end);
        return Span::new(s.start, (s.start + 1).min(lit.span.end));
    }
    lit.source_span(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(value: &str) -> StrLit {
        // As if written `"value"` at offset 10, without escapes.
        StrLit {
            value: value.to_string(),
            span: Span::new(10, 12 + value.len()),
            triple: false,
            offsets: vec![(0, 11)],
        }
    }

    fn span_of(d: &Diagnostic) -> (usize, usize) {
        let label = miette::Diagnostic::labels(d)
            .and_then(|mut l| l.next())
            .expect("a label");
        (label.offset(), label.len())
    }

    #[test]
    fn json_paths() {
        assert!(json_path(&lit("$.token")).is_ok());
        assert!(json_path(&lit("$.items[0].id")).is_ok());
        let e = json_path(&lit("token")).unwrap_err();
        assert!(e.to_string().contains("starts with `$`"), "{e}");
        assert_eq!(span_of(&e), (11, 1));
        let e = json_path(&lit("$['a'")).unwrap_err();
        assert_eq!(span_of(&e), (16, 1));
    }

    #[test]
    fn regexes() {
        assert!(capture_regex(&lit("order=([a-z0-9]+)")).is_ok());
        assert!(matches!(
            capture_regex(&lit("order=[a-z]+")),
            Err(Diagnostic::RegexWithoutGroup { .. })
        ));
        assert!(matches!(
            capture_regex(&lit("(?:x)")),
            Err(Diagnostic::RegexWithoutGroup { .. })
        ));
        let e = capture_regex(&lit("a(b")).unwrap_err();
        assert!(e.to_string().contains("unclosed group"), "{e}");
        assert_eq!(span_of(&e), (12, 1));
        let e = capture_regex(&lit("x{2,1}")).unwrap_err();
        assert_eq!(span_of(&e), (12, 5));
    }
}
