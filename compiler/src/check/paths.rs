//! A request line's path: relative to the plan's target (or an absolute `http(s)://` URL whose
//! base becomes a host of its own), and made only of characters a request line may carry, so
//! that every literal path `ptl check` accepts is one the engine can send (the engine parses
//! it with the same `http` crate, `PathAndQuery`). Templated parts are values known only at
//! run time; the literal text around them is checked here.

use crate::ast::StrLit;
use crate::check::model::Piece;
use crate::check::templates::{self, Scope};
use crate::check::{CheckContext, Sink};
use crate::diagnostic::Diagnostic;
use crate::source::FileId;
use http::uri::PathAndQuery;

/// A checked request path.
#[derive(Debug)]
pub struct CheckedPath {
    /// For an absolute URL: its base (`http://host:port`), the host the request goes to.
    pub base: Option<String>,
    /// The path (and query) joined onto the host's base URL.
    pub pieces: Vec<Piece>,
}

/// The path's pieces, or `None` after reporting why it cannot be sent.
pub fn path(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    lit: &StrLit,
    scope: Scope,
) -> Option<CheckedPath> {
    let mut pieces = templates::template(cx, sink, file, lit, scope)?;
    let mut base = None;
    let more = pieces.len() > 1;
    if let Some(Piece::Lit(first)) = pieces.first_mut() {
        if let Some(scheme_end) = scheme_length(first) {
            match absolute_base(first, more) {
                Ok((b, end)) => {
                    base = Some(b);
                    first.replace_range(..end, "");
                    if first.is_empty() {
                        first.push('/');
                    }
                }
                Err(what) => {
                    sink.push(
                        file,
                        Diagnostic::AbsoluteUrlPath {
                            span: lit.source_span(0..scheme_end).into(),
                            what,
                        },
                    );
                    return None;
                }
            }
        }
    }
    if let Some(bad) = first_unsendable(&pieces) {
        let at = find_outside_templates(&lit.value, bad).unwrap_or(0);
        sink.push(
            file,
            Diagnostic::InvalidPathChar {
                found: bad.escape_debug().to_string(),
                span: lit.source_span(at..at + bad.len_utf8()).into(),
                help: Some(encode_help(bad)),
            },
        );
        return None;
    }
    Some(CheckedPath { base, pieces })
}

/// The base URL of an absolute request URL (`http://host:port`, without the path) and where
/// the path starts, from the text before any template; or what is wrong with it. With a
/// template in the rest (`more`), the host must end, with a `/` or `?`, before it.
pub(crate) fn absolute_base(text: &str, more: bool) -> Result<(String, usize), String> {
    let scheme_end = scheme_length(text).ok_or("not an absolute URL")?;
    let scheme = text[..scheme_end - 3].to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!("`{scheme}://` is not http or https"));
    }
    let end = match text[scheme_end..].find(['/', '?']) {
        Some(i) => scheme_end + i,
        None if more => return Err("a templated host: the host must be literal".to_string()),
        None => text.len(),
    };
    let base = &text[..end];
    crate::check::settings::check_url(base)?;
    Ok((base.to_string(), end))
}

/// The absolute base URL a request line's path names, if it names one that can be a host:
/// what [`path`] will find (params are text by then), without reporting anything.
pub(crate) fn absolute_base_of(
    cx: &CheckContext<'_>,
    file: FileId,
    lit: &StrLit,
) -> Option<String> {
    let mut quiet = Sink::default();
    let pieces = templates::template(cx, &mut quiet, file, lit, Scope::Plan)?;
    match pieces.first() {
        Some(Piece::Lit(first)) => absolute_base(first, pieces.len() > 1)
            .ok()
            .map(|(base, _)| base),
        _ => None,
    }
}

/// `http://x` or `https://x` (any `scheme://`): the length of `scheme://`.
fn scheme_length(text: &str) -> Option<usize> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme.len() + 3)
}

/// The first character of the literal text that the request line cannot carry. A templated
/// value stands in as `x`, which is valid anywhere.
fn first_unsendable(pieces: &[Piece]) -> Option<char> {
    let mut whole = String::from("/");
    for piece in pieces {
        match piece {
            Piece::Lit(text) => whole.push_str(text),
            _ => whole.push('x'),
        }
    }
    // `#` starts a fragment, which `http` would silently cut off: the server never sees it.
    if !whole.contains('#') && PathAndQuery::try_from(whole.as_str()).is_ok() {
        return None;
    }
    let mut in_query = false;
    for piece in pieces {
        let Piece::Lit(text) = piece else { continue };
        for c in text.chars() {
            if !sendable(c, in_query) {
                return Some(c);
            }
            in_query |= c == '?';
        }
    }
    None
}

fn sendable(c: char, in_query: bool) -> bool {
    if c == '#' {
        return false;
    }
    let probe = if in_query {
        format!("/?a{c}")
    } else {
        format!("/a{c}")
    };
    PathAndQuery::try_from(probe.as_str()).is_ok()
}

/// Where `c` first stands in the string outside `{{…}}`, for the label.
fn find_outside_templates(value: &str, c: char) -> Option<usize> {
    let mut depth_end = 0;
    for (i, ch) in value.char_indices() {
        if i < depth_end {
            continue;
        }
        if value[i..].starts_with("{{") {
            depth_end = value[i..].find("}}").map_or(value.len(), |e| i + e + 2);
            continue;
        }
        if ch == c {
            return Some(i);
        }
    }
    None
}

fn encode_help(c: char) -> String {
    let mut utf8 = [0u8; 4];
    let encoded: String = c
        .encode_utf8(&mut utf8)
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect();
    let fragment = if c == '#' {
        "; a `#` fragment is never sent to the server"
    } else {
        ""
    };
    format!(
        "percent-encode it: `{}` is `{encoded}` in a URL{fragment}",
        c.escape_debug()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(text: &str) -> Vec<Piece> {
        vec![Piece::Lit(text.to_string())]
    }

    #[test]
    fn spaces_and_fragments_are_unsendable_encoded_forms_are_fine() {
        assert_eq!(first_unsendable(&lits("/search?q=a b")), Some(' '));
        assert_eq!(first_unsendable(&lits("/a#b")), Some('#'));
        assert_eq!(first_unsendable(&lits("/search?q=a%20b")), None);
        // The engine sends non-ASCII bytes as they are (UTF-8), so check accepts them too.
        assert_eq!(first_unsendable(&lits("/p/é")), None);
        assert_eq!(
            first_unsendable(&[
                Piece::Lit("/products/".into()),
                Piece::Var(0),
                Piece::Lit("?x=1".into())
            ]),
            None
        );
    }

    #[test]
    fn absolute_urls_are_recognised() {
        assert_eq!(scheme_length("http://other/x"), Some(7));
        assert_eq!(scheme_length("https://other"), Some(8));
        assert_eq!(scheme_length("/a?next=http://x"), None);
        assert_eq!(scheme_length("/x"), None);
    }

    #[test]
    fn the_label_skips_template_expressions() {
        assert_eq!(find_outside_templates("/{{ a }}/b c", ' '), Some(10));
        assert_eq!(encode_help(' '), "percent-encode it: ` ` is `%20` in a URL");
        assert_eq!(
            encode_help('é'),
            "percent-encode it: `é` is `%C3%A9` in a URL"
        );
    }
}
