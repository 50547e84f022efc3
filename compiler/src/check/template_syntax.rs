//! Reading template strings into their parts with handlebars' own template parser, calling it
//! as little as possible: a plan of thousands of requests repeats the same few `{{name}}`s in
//! thousands of different strings, and one handlebars parse costs microseconds per expression.
//!
//! A string is read in one of three ways, all giving what handlebars gives for the whole string:
//! - without `{{`, handlebars reads it as one raw text, so it is that text;
//! - when every `{{` in it opens a plain expression (`{{name}}`, `{{row.column}}`: see
//!   [`plain_inner`]) not preceded by a backslash, the text between them is raw text by the
//!   grammar, so only the expressions need reading, each on its own: handlebars reads each
//!   distinct `{{…}}` once per check, and only if it reads it as exactly one expression is
//!   its result used at every place it occurs (positions shifted);
//! - anything else (escapes, comments, blocks, `{{{…}}}`, whitespace control, syntax errors)
//!   goes to handlebars whole, once per distinct string.
//!
//! The results carry byte offsets in the string, never line and column, so each occurrence
//! re-maps them to its own place in the source.

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use handlebars::template::{Parameter, Template, TemplateElement};
use handlebars::{Path, PathSeg};
use rustc_hash::FxHashMap;

/// One part of a template, with offsets in the string it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text inserted as it is (handlebars has removed its escapes).
    Text(String),
    /// `{{name}}` or `{{name.field}}`: the dotted names (shared by every occurrence of the
    /// same expression), and where they are written.
    Name {
        names: Rc<[String]>,
        at: Range<usize>,
    },
    /// Any other expression (helpers, blocks, partials, literals…): the whole `{{…}}`.
    Unsupported(Range<usize>),
}

impl Part {
    fn shifted(mut self, by: usize) -> Part {
        match &mut self {
            Part::Text(_) => {}
            Part::Name { at, .. } | Part::Unsupported(at) => {
                *at = at.start + by..at.end + by;
            }
        }
        self
    }
}

/// A string handlebars cannot read as a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    /// Byte offset in the string where handlebars stopped.
    pub at: usize,
}

pub type Parsed = Result<Vec<Part>, SyntaxError>;

/// Reads template strings, remembering what handlebars said about each expression and each
/// string it had to read whole. One per check: the cells let every check share it through
/// `&CheckContext`.
#[derive(Debug, Default)]
pub struct Reader {
    /// A plain `{{…}}` read on its own: `Some` when handlebars reads it as one expression.
    /// (Fx hashing: looked up for every expression of every template.)
    expressions: RefCell<FxHashMap<String, Option<Part>>>,
    /// Strings handlebars read whole.
    whole: RefCell<FxHashMap<String, Parsed>>,
}

impl Reader {
    /// The parts of `text`, exactly as handlebars reads the whole of it.
    pub fn read(&self, text: &str) -> Parsed {
        if let Some(parts) = self.split(text) {
            return Ok(parts);
        }
        if let Some(parsed) = self.whole.borrow().get(text) {
            return parsed.clone();
        }
        let parsed = read_whole(text);
        self.whole
            .borrow_mut()
            .insert(text.to_string(), parsed.clone());
        parsed
    }

    /// `text` cut at its expressions, when all of them are plain (a text without `{{` is one
    /// part, as handlebars reads it); `None` sends it to handlebars whole.
    fn split(&self, text: &str) -> Option<Vec<Part>> {
        let Some(first) = find_pair(text, 0, '{') else {
            return Some(if text.is_empty() {
                Vec::new()
            } else {
                vec![Part::Text(text.to_string())]
            });
        };
        // Room for a few expressions and the text around them without regrowing.
        let mut parts = Vec::with_capacity(16);
        let mut done = 0;
        let mut next = Some(first);
        while let Some(open) = next {
            // `\{{` and `\\{{` are escapes: only handlebars knows what they leave.
            if text[..open].ends_with('\\') {
                return None;
            }
            let inner = open + 2;
            let close = find_pair(text, inner, '}')?;
            if !plain_inner(&text[inner..close]) {
                return None;
            }
            let end = close + 2;
            let part = self.expression(&text[open..end])?;
            if open > done {
                parts.push(Part::Text(text[done..open].to_string()));
            }
            parts.push(part.shifted(open));
            done = end;
            next = find_pair(text, done, '{');
        }
        if done < text.len() {
            parts.push(Part::Text(text[done..].to_string()));
        }
        Some(parts)
    }

    /// The part a plain `{{…}}` is, read by handlebars on its own (once per distinct text).
    fn expression(&self, source: &str) -> Option<Part> {
        if let Some(known) = self.expressions.borrow().get(source) {
            return known.clone();
        }
        let part = Template::compile(source)
            .ok()
            .and_then(|t| match t.elements.as_slice() {
                [e @ TemplateElement::Expression(_)] => part_of(e, source, 0),
                _ => None,
            });
        self.expressions
            .borrow_mut()
            .insert(source.to_string(), part.clone());
        part
    }
}

/// The first `cc` (`{{` or `}}`) in `text` at or after byte `from`: a search for one
/// character (which the standard library does with memchr), not for a two-byte pattern.
fn find_pair(text: &str, from: usize, c: char) -> Option<usize> {
    let mut at = from;
    loop {
        let found = at + text.get(at..)?.find(c)?;
        if text.as_bytes().get(found + 1) == Some(&(c as u8)) {
            return Some(found);
        }
        at = found + 1;
    }
}

/// Whether the inside of a `{{…}}` is made only of characters that end every token of the
/// handlebars grammar before a `}`: names, dots, `-`, `@`, `$`, `:` and spaces. No string,
/// subexpression, path key or `~` can start, so handlebars' expression rule, wherever this text
/// occurs, ends exactly at its first `}}` and does not look beyond it: what it reads alone is
/// what it reads in place. (`{` is excluded, so a `{{{` never passes.)
fn plain_inner(inner: &str) -> bool {
    !inner.is_empty()
        && inner.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'@' | b'$' | b':' | b' ')
        })
}

/// Reads a whole string with handlebars.
pub fn read_whole(text: &str) -> Parsed {
    let template = Template::compile(text).map_err(|e| {
        let at = e.pos().map_or(0, |(line, col)| offset_of(text, line, col));
        let message = match e.reason() {
            handlebars::TemplateErrorReason::InvalidSyntax(_) => {
                "malformed `{{…}}` expression".to_string()
            }
            other => other.to_string(),
        };
        SyntaxError { message, at }
    })?;
    let mut parts = Vec::with_capacity(template.elements.len());
    for (i, element) in template.elements.iter().enumerate() {
        let at = template
            .mapping
            .get(i)
            .map_or(0, |m| offset_of(text, m.0, m.1));
        if let Some(part) = part_of(element, text, at) {
            parts.push(part);
        }
    }
    Ok(parts)
}

/// What one top-level element of `text`, starting at byte `at`, is to the checker; `None` for
/// a comment.
fn part_of(element: &TemplateElement, text: &str, at: usize) -> Option<Part> {
    match element {
        TemplateElement::RawString(raw) => Some(Part::Text(raw.clone())),
        TemplateElement::Comment(_) => None,
        TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h)
            if !h.block && h.params.is_empty() && h.hash.is_empty() && h.block_param.is_none() =>
        {
            let expr = expression_range(text, at);
            Some(match &h.name {
                Parameter::Path(Path::Relative((segs, raw))) if plain(segs) && !segs.is_empty() => {
                    let names = segs
                        .iter()
                        .filter_map(|s| match s {
                            PathSeg::Named(n) => Some(n.clone()),
                            _ => None,
                        })
                        .collect();
                    let name_at = text[expr.clone()]
                        .find(raw.as_str())
                        .map_or(expr.start, |n| expr.start + n);
                    Part::Name {
                        names,
                        at: name_at..name_at + raw.len(),
                    }
                }
                _ => Part::Unsupported(expr),
            })
        }
        _ => Some(Part::Unsupported(expression_range(text, at))),
    }
}

fn plain(segs: &[PathSeg]) -> bool {
    segs.iter().all(|s| matches!(s, PathSeg::Named(_)))
}

/// Byte offset in `text` of a 1-based line and (character) column, as handlebars reports them.
fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(n) => start += n + 1,
            None => return text.len(),
        }
    }
    let line_text = &text[start..];
    let line_end = line_text.find('\n').unwrap_or(line_text.len());
    start
        + line_text[..line_end]
            .char_indices()
            .nth(col.saturating_sub(1))
            .map_or(line_end, |(i, _)| i)
}

/// The `{{…}}` starting at `at` (or `{{{…}}}`), as a range of `text`.
fn expression_range(text: &str, at: usize) -> Range<usize> {
    let at = at.min(text.len());
    let rest = &text[at..];
    let triple = rest.starts_with("{{{");
    let close = if triple { "}}}" } else { "}}" };
    match rest.find(close) {
        Some(n) => at..at + n + close.len(),
        None => at..text.len(),
    }
}

#[cfg(test)]
mod tests;
