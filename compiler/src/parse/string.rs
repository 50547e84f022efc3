//! String literals: decoding `"…"` (escapes) and `"""…"""` (raw, indentation stripped), and
//! regex literals `/…/`, with the offset map that lets a diagnostic point inside the decoded
//! text (`StrLit::source_span`).

use super::error::SyntaxError;
use crate::ast::{Span, StrLit};

/// Decodes the full text of a `string` token (quotes included) that starts at byte `start`.
pub(crate) fn decode_string(raw: &str, start: usize) -> Result<StrLit, SyntaxError> {
    let span = Span::new(start, start + raw.len());
    if raw.len() >= 6 && raw.starts_with("\"\"\"") && raw.ends_with("\"\"\"") {
        let (value, offsets) = decode_triple(&raw[3..raw.len() - 3], start + 3);
        return Ok(StrLit {
            value,
            span,
            triple: true,
            offsets,
        });
    }
    let inner = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(|| SyntaxError::internal(span, "string token without quotes"))?;
    let (value, offsets) = decode_plain(inner, start + 1)?;
    Ok(StrLit {
        value,
        span,
        triple: false,
        offsets,
    })
}

/// Decodes a `regex` token (`/…/`, slashes included) that starts at byte `start`. Only `\/`
/// is the literal's own escape (a `/` in the regex); every other `\` and the character after it
/// are the regex's, kept as written.
pub(crate) fn decode_regex(raw: &str, start: usize) -> Result<StrLit, SyntaxError> {
    let span = Span::new(start, start + raw.len());
    let inner = raw
        .strip_prefix('/')
        .and_then(|r| r.strip_suffix('/'))
        .ok_or_else(|| SyntaxError::internal(span, "regex token without slashes"))?;
    let base = start + 1;
    let mut offsets = vec![(0, base)];
    let mut value = String::with_capacity(inner.len());
    let mut chars = inner.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        match chars.next() {
            Some((j, '/')) => {
                value.push('/');
                offsets.push((value.len(), base + j + 1));
            }
            Some((_, e)) => {
                value.push('\\');
                value.push(e);
            }
            None => {
                return Err(SyntaxError::internal(
                    Span::new(base + i, base + i + 1),
                    "a `\\` at the end of a regex",
                ))
            }
        }
    }
    Ok(StrLit {
        value,
        span,
        triple: false,
        offsets,
    })
}

/// `\" \\ \n \t \r \u{…}`, and `\{` which stays `\{` for Handlebars. After each escape a new offset pair starts, so positions after it
/// map to the source again.
fn decode_plain(inner: &str, base: usize) -> Result<(String, Vec<(usize, usize)>), SyntaxError> {
    let mut offsets = vec![(0, base)];
    // Most strings have no escape: one copy instead of a push per character.
    if !inner.contains('\\') {
        return Ok((inner.to_string(), offsets));
    }
    let mut value = String::with_capacity(inner.len());
    let mut chars = inner.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        let bad = |len: usize, what: String| {
            SyntaxError::new(
                what,
                Span::new(base + i, base + i + len),
                ["`\\\"`", "`\\\\`", "`\\n`", "`\\t`", "`\\r`", "`\\u{…}`"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            )
        };
        let Some((_, e)) = chars.next() else {
            return Err(bad(1, "a `\\` at the end of a string".to_string()));
        };
        let mut end = i + 1 + e.len_utf8();
        match e {
            '"' => value.push('"'),
            '\\' => value.push('\\'),
            'n' => value.push('\n'),
            't' => value.push('\t'),
            'r' => value.push('\r'),
            // Handlebars' own escape for literal braces (`\{{not a variable}}`): kept for it.
            '{' => value.push_str("\\{"),
            'u' => {
                let rest = &inner[end..];
                let close = rest.find('}');
                let hex = match (rest.strip_prefix('{'), close) {
                    (Some(_), Some(close)) => &rest[1..close],
                    _ => {
                        return Err(bad(
                            2,
                            "a unicode escape is written `\\u{1F600}`".to_string(),
                        ))
                    }
                };
                let code = u32::from_str_radix(hex, 16)
                    .ok()
                    .filter(|_| (1..=6).contains(&hex.len()))
                    .and_then(char::from_u32);
                let len = 2 + close.unwrap_or(0) + 1;
                let Some(ch) = code else {
                    return Err(bad(
                        len,
                        format!("`\\u{{{hex}}}` is not a unicode character"),
                    ));
                };
                value.push(ch);
                end = i + len;
                // Skip the `{hex}` part we consumed by hand.
                while chars.peek().is_some_and(|&(j, _)| j < end) {
                    chars.next();
                }
            }
            other => {
                let len = 1 + other.len_utf8();
                return Err(bad(
                    len,
                    format!("unknown escape `\\{other}` (write `\\\\` for a backslash, or use \"\"\"…\"\"\" for raw text)"),
                ));
            }
        }
        offsets.push((value.len(), base + end));
    }
    Ok((value, offsets))
}

/// The triple-quoted rules: a newline right after the opening quotes is dropped, a final line
/// of only whitespace is dropped, the common indentation of the non-blank lines is stripped.
/// CRLF line ends read as LF. One offset pair per line.
pub(crate) fn decode_triple(content: &str, base: usize) -> (String, Vec<(usize, usize)>) {
    // (offset of the line in `content`, line text without its `\n` / `\r\n`)
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut at = 0;
    for piece in content.split('\n') {
        lines.push((at, piece));
        at += piece.len() + 1;
    }
    let line_count = lines.len();
    for (i, (_, text)) in lines.iter_mut().enumerate() {
        if i + 1 < line_count {
            *text = text.strip_suffix('\r').unwrap_or(text);
        }
    }
    if lines.len() > 1 && lines.last().is_some_and(|(_, t)| is_blank(t)) {
        lines.pop();
    }
    if lines.len() > 1 && lines.first().is_some_and(|(_, t)| t.is_empty()) {
        lines.remove(0);
    } else if lines.len() == 1 && content.starts_with('\n') {
        // `"""\n"""`: the only line was the dropped one.
        lines.clear();
    }
    let indent = lines
        .iter()
        .filter(|(_, t)| !is_blank(t))
        .map(|(_, t)| leading_ws(t))
        .min()
        .unwrap_or(0);
    let mut value = String::with_capacity(content.len());
    let mut offsets = Vec::with_capacity(lines.len().max(1));
    for (n, (line_at, text)) in lines.iter().enumerate() {
        if n > 0 {
            value.push('\n');
        }
        let strip = indent.min(leading_ws(text));
        offsets.push((value.len(), base + line_at + strip));
        value.push_str(&text[strip..]);
    }
    if offsets.is_empty() {
        offsets.push((0, base));
    }
    (value, offsets)
}

fn leading_ws(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

fn is_blank(line: &str) -> bool {
    line.trim_matches([' ', '\t', '\r']).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(src: &str) -> StrLit {
        match decode_string(src, 0) {
            Ok(s) => s,
            Err(e) => panic!("{src}: {}", e.message),
        }
    }

    /// The source text that `value[range]` maps back to.
    fn back<'a>(src: &'a str, s: &StrLit, range: std::ops::Range<usize>) -> &'a str {
        &src[s.source_span(range).range()]
    }

    #[test]
    fn escapes_are_decoded() {
        let s = lit(r#""a\"b\\c\nd\te\u{1F600}f""#);
        assert_eq!(s.value, "a\"b\\c\nd\te\u{1F600}f");
        assert!(!s.triple);
    }

    #[test]
    fn positions_after_escapes_map_back() {
        let src = r#""ab\n\"{{name}}\u{41}x""#;
        let s = lit(src);
        assert_eq!(s.value, "ab\n\"{{name}}Ax");
        let at = s.value.find("{{name}}").unwrap();
        assert_eq!(back(src, &s, at..at + 8), "{{name}}");
        let x = s.value.find('x').unwrap();
        assert_eq!(back(src, &s, x..x + 1), "x");
        // A decoded escape maps to the start of its escape sequence.
        assert_eq!(s.source_span(2..3).start, 3);
    }

    #[test]
    fn an_escaped_brace_is_left_for_handlebars() {
        let src = r#""\{{x}} {{y}}""#;
        let s = lit(src);
        assert_eq!(s.value, r"\{{x}} {{y}}");
        let y = s.value.find("{{y}}").unwrap();
        assert_eq!(back(src, &s, y..y + 5), "{{y}}");
    }

    #[test]
    fn bad_escapes_are_errors_with_their_span() {
        let e = decode_string(r#""a\qb""#, 10).unwrap_err();
        assert_eq!(e.span, Span::new(12, 14));
        assert!(e.message.contains("`\\q`"));
        assert!(decode_string(r#""\u{110000}""#, 0).is_err());
        assert!(decode_string(r#""\u41""#, 0).is_err());
    }

    #[test]
    fn triple_quoted_strips_indentation_and_maps_back() {
        let src = "\"\"\"\n    {\"a\": \"{{user}}\",\n      \"b\": 2}\n  \"\"\"";
        let s = lit(src);
        assert!(s.triple);
        assert_eq!(s.value, "{\"a\": \"{{user}}\",\n  \"b\": 2}");
        let at = s.value.find("{{user}}").unwrap();
        assert_eq!(back(src, &s, at..at + 8), "{{user}}");
        let b = s.value.find("\"b\"").unwrap();
        assert_eq!(back(src, &s, b..b + 3), "\"b\"");
    }

    #[test]
    fn triple_quoted_edge_cases() {
        assert_eq!(lit(r#""""{"a": 1}""""#).value, r#"{"a": 1}"#);
        assert_eq!(lit("\"\"\"\n\"\"\"").value, "");
        assert_eq!(lit("\"\"\"\n   \"\"\"").value, "");
        assert_eq!(lit("\"\"\"\r\n  a\r\n  b\r\n  \"\"\"").value, "a\nb");
        // Blank lines do not count towards the indentation and keep what is beyond it.
        assert_eq!(
            lit("\"\"\"\n  a\n\n     \n  b\n\"\"\"").value,
            "a\n\n   \nb"
        );
        // Without a leading newline the first line takes part too.
        assert_eq!(lit("\"\"\"x\n  y\"\"\"").value, "x\n  y");
    }
}
