//! Printing literals back as written: numbers with their units (`1m` stays `1m`), strings
//! re-escaped, triple-quoted strings re-indented to the statement that holds them.

use crate::ast::{Duration, Percent, Rate, StrLit, Value, ValueKind};
use crate::parse::string::decode_triple;

pub(crate) fn value(v: &Value) -> String {
    match &v.kind {
        ValueKind::Int(i) => i.to_string(),
        ValueKind::Float(f) => float(*f),
        ValueKind::Duration(Duration { amount, unit }) => {
            format!("{}{}", amount_text(*amount), unit.suffix())
        }
        ValueKind::Rate(Rate { amount, per }) => {
            format!("{}/{}", amount_text(*amount), per.suffix())
        }
        ValueKind::Percent(Percent(p)) => format!("{}%", amount_text(*p)),
        ValueKind::Str(s) => string(s),
        ValueKind::Bool(b) => b.to_string(),
        ValueKind::Ident(name) => name.clone(),
        ValueKind::Range(a, b) => format!("{}..{}", value(a), value(b)),
    }
}

/// A float keeps a decimal point, so it reads back as a float and not an integer. Rust prints
/// the shortest text that reads back to the same f64, and never in exponent form.
fn float(f: f64) -> String {
    let text = f.to_string();
    if text.contains(['.', 'e', 'E']) || !f.is_finite() {
        text
    } else {
        format!("{text}.0")
    }
}

/// The number in front of a unit: `1.5` or `250`, never `250.0`.
fn amount_text(f: f64) -> String {
    f.to_string()
}

/// A string literal as source text. A multi-line triple-quoted string comes back over several
/// lines: its text two spaces deeper than the statement that holds it, and the closing quotes
/// on their own line at the statement's indentation (that last line is dropped when read).
pub(crate) fn string(s: &StrLit) -> String {
    if s.triple {
        if let Some(text) = triple(&s.value) {
            return text;
        }
    }
    plain(&s.value)
}

fn plain(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            // `\{` reads back as `\{` (Handlebars' escaped brace): the short spelling.
            '\\' if chars.peek() == Some(&'{') => {
                out.push_str("\\{");
                chars.next();
            }
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The triple-quoted form, if one reads back to exactly `value`: on one line, or else over
/// several lines (which also spells a value ending in `"`). A value containing `"""`, or made
/// only of whitespace over several lines, has no triple-quoted spelling.
fn triple(value: &str) -> Option<String> {
    let one_line = (!value.contains('\n')).then(|| format!("\"\"\"{value}\"\"\""));
    let mut text = String::from("\"\"\"\n");
    for line in value.split('\n') {
        if !line.is_empty() {
            text.push_str("  ");
            text.push_str(line);
        }
        text.push('\n');
    }
    text.push_str("\"\"\"");
    one_line
        .into_iter()
        .chain(std::iter::once(text))
        .find(|text| reads_back(text, value))
}

fn reads_back(text: &str, value: &str) -> bool {
    // The first `"""` after the opening must be the closing one.
    let closes_at_end = text[3..].find("\"\"\"") == Some(text.len() - 6);
    closes_at_end && decode_triple(&text[3..text.len() - 3], 0).0 == value
}

/// The text of a regex literal for `value`: `/` escaped as `\/` unless a `\` already escapes
/// it for the regex (which the parser keeps as is).
pub(crate) fn regex(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('/');
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                if let Some(e) = chars.next() {
                    out.push(e);
                }
            }
            '/' => out.push_str("\\/"),
            c => out.push(c),
        }
    }
    out.push('/');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{Span, TimeUnit};

    fn lit(value: &str, triple: bool) -> StrLit {
        StrLit {
            value: value.to_string(),
            span: Span::default(),
            triple,
            offsets: Vec::new(),
        }
    }

    fn v(kind: ValueKind) -> Value {
        Value {
            kind,
            span: Span::default(),
        }
    }

    #[test]
    fn numbers_keep_their_kind_and_unit() {
        assert_eq!(value(&v(ValueKind::Float(2.0))), "2.0");
        assert_eq!(value(&v(ValueKind::Float(0.25))), "0.25");
        assert_eq!(value(&v(ValueKind::Int(-4))), "-4");
        let d = ValueKind::Duration(Duration {
            amount: 1.0,
            unit: TimeUnit::M,
        });
        assert_eq!(value(&v(d)), "1m");
        let r = ValueKind::Rate(Rate {
            amount: 1.5,
            per: TimeUnit::H,
        });
        assert_eq!(value(&v(r)), "1.5/h");
        assert_eq!(value(&v(ValueKind::Percent(Percent(0.5)))), "0.5%");
    }

    #[test]
    fn strings_are_reescaped() {
        assert_eq!(
            string(&lit("a\"b\\c\nd\te\u{1}", false)),
            r#""a\"b\\c\nd\te\u{1}""#
        );
        assert_eq!(string(&lit("{{x}} é", false)), "\"{{x}} é\"");
        assert_eq!(string(&lit(r"\{{x}} \\", false)), r#""\{{x}} \\\\""#);
    }

    #[test]
    fn triple_strings_are_reindented_or_fall_back() {
        assert_eq!(string(&lit("{\"a\": 1}", true)), "\"\"\"{\"a\": 1}\"\"\"");
        assert_eq!(
            string(&lit("a\n  b\n\nc", true)),
            "\"\"\"\n  a\n    b\n\n  c\n\"\"\""
        );
        // No triple-quoted spelling: leading indentation would be stripped, `"""` would end it.
        assert_eq!(string(&lit("  x", true)), "\"  x\"");
        assert_eq!(string(&lit("a\"\"\"b", true)), r#""a\"\"\"b""#);
        assert_eq!(string(&lit("  \n  ", true)), r#""  \n  ""#);
        // On one line the closing quotes would run into it; over lines they do not.
        assert_eq!(
            string(&lit("ends with a quote\"", true)),
            "\"\"\"\n  ends with a quote\"\n\"\"\""
        );
    }
}
