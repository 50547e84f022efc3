//! The template strings of a parsed plan (every path, header name and value and body), for
//! timing handlebars' parser on each of them whole, as the checker once did, against a naive
//! split of the same strings.

use ptl_compiler::ast::{File, Header, Item, MultipartEntry, RequestStmt, StrLit};

/// Every string the checker parses as a template, in plan order: plan headers, then each
/// top-level request's path, headers and body.
pub fn collect(file: &File) -> Vec<&StrLit> {
    let mut out = Vec::new();
    for item in &file.items {
        match &item.node {
            Item::Headers(list) => list.iter().for_each(|h| header(&mut out, &h.node)),
            Item::Request(r) => {
                for stmt in &r.body {
                    match &stmt.node {
                        RequestStmt::Line { path, .. } => out.push(path),
                        RequestStmt::Header(h) => header(&mut out, h),
                        RequestStmt::Body(b) => out.push(b),
                        RequestStmt::Multipart(entries) => {
                            for e in entries {
                                if let MultipartEntry::Field { value, .. } = e {
                                    out.push(value);
                                }
                            }
                        }
                        RequestStmt::BodyFile(_)
                        | RequestStmt::Expect(_)
                        | RequestStmt::Capture(_)
                        | RequestStmt::Timeout(_)
                        | RequestStmt::Tag { .. } => {}
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn header<'a>(out: &mut Vec<&'a StrLit>, h: &'a Header) {
    out.push(&h.name);
    out.push(&h.value);
}

/// Splits `text` at `{{…}}` into literal and name pieces, returning how many pieces: the
/// least work any template parser must do, as a floor for the handlebars figure. It does not
/// handle escapes, comments or whitespace control, so it is a yardstick, not a replacement.
pub fn naive_split(text: &str) -> usize {
    let mut pieces = 0;
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else {
            break;
        };
        pieces += usize::from(open > 0) + 1;
        let name = rest[open + 2..open + close].trim();
        pieces += usize::from(name.is_empty());
        rest = &rest[open + close + 2..];
    }
    pieces + usize::from(!rest.is_empty())
}
