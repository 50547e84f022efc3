//! Templates in strings (paths, headers, bodies, fault headers): read with handlebars' own
//! template parser (through [`template_syntax`]), restricted to plain variables, and resolved
//! to lets, CSV columns, params (replaced by their text) and captures of earlier steps.
//!
//! Values are inserted as they are: `{{x}}` and `{{{x}}}` both insert raw text, since a load
//! test builds HTTP requests, not HTML.

use crate::ast::{Span, StrLit};
use crate::check::model::Piece;
use crate::check::template_syntax::{self, Part};
use crate::check::values::text_of;
use crate::check::{suggest, CheckContext, Sink};
use crate::diagnostic::Diagnostic;
use crate::source::FileId;

/// Which names a template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Plan-wide headers: lets and params.
    Plan,
    /// A request: also the captures of earlier steps of its scenario.
    Step { scenario: usize, step: usize },
    /// A value fixed at compile time (fault headers): params only.
    Constant,
}

/// Resolves a template, reporting every problem in it.
pub fn template(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    lit: &StrLit,
    scope: Scope,
) -> Option<Vec<Piece>> {
    let parts = match cx.templates.read(&lit.value) {
        Ok(parts) => parts,
        Err(template_syntax::SyntaxError { message, at }) => {
            let end = next_char_end(&lit.value, at);
            sink.push(
                file,
                Diagnostic::TemplateSyntax {
                    message,
                    span: lit.source_span(at..end).into(),
                },
            );
            return None;
        }
    };
    let errors_before = sink.errors();
    let mut pieces = Vec::with_capacity(parts.len());
    for part in parts {
        match part {
            Part::Text(text) => push_merged(&mut pieces, Piece::Lit(text)),
            Part::Name { names, at } => {
                let span = lit.source_span(at);
                if let Some(piece) = resolve(cx, sink, file, &names, span, scope) {
                    push_merged(&mut pieces, piece);
                }
            }
            Part::Unsupported(expr) => unsupported(sink, file, lit, expr),
        }
    }
    if sink.errors() > errors_before {
        return None;
    }
    Some(pieces)
}

/// The value of a template that must be fixed at compile time.
pub fn constant(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    lit: &StrLit,
) -> Option<String> {
    let pieces = template(cx, sink, file, lit, Scope::Constant)?;
    Some(
        pieces
            .into_iter()
            .map(|p| match p {
                Piece::Lit(s) => s,
                Piece::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
                // `resolve` gives only literals in a constant scope.
                _ => String::new(),
            })
            .collect(),
    )
}

fn unsupported(sink: &mut Sink, file: FileId, lit: &StrLit, expr: std::ops::Range<usize>) {
    sink.push(
        file,
        Diagnostic::TemplateExpression {
            expr: lit.value[expr.clone()].to_string(),
            span: lit.source_span(expr).into(),
        },
    );
}

fn resolve(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    names: &[String],
    span: Span,
    scope: Scope,
) -> Option<Piece> {
    let n = cx.names;
    let name = names.first().map(String::as_str)?;
    let here = match scope {
        Scope::Step { scenario, step } => n.scenarios.get(scenario).map(|s| (s, step)),
        _ => None,
    };
    // A feeder's field; a JSON object nested in a row is reached by its dotted path.
    let feed_field = (names.len() > 2).then(|| names[1..].join(".")).filter(|_| {
        n.let_slot(name)
            .is_some_and(|s| n.lets[s].feed_file().is_some())
    });
    let field = feed_field.as_deref().or(match names {
        [_, field] => Some(field.as_str()),
        _ => None,
    });
    if let Some(field) = field {
        if let Some(slot) = n.let_slot(name) {
            let entry = &n.lets[slot];
            if let Some(dataset) = entry.dataset.get() {
                entry.used.set(true);
                if scope == Scope::Constant {
                    return not_constant(sink, file, name, span);
                }
                let columns = cx
                    .datasets
                    .get(dataset as usize)
                    .map(|d| d.columns.as_slice())
                    .unwrap_or(&[]);
                return match columns.iter().position(|c| c == field) {
                    Some(column) => Some(Piece::Field {
                        var: slot as u32,
                        column: column as u32,
                    }),
                    None => {
                        let help = suggest::did_you_mean_or_list(
                            field,
                            columns.iter().map(String::as_str),
                            "the columns are",
                        );
                        sink.push(
                            file,
                            Diagnostic::UnknownColumn {
                                var: name.to_string(),
                                column: field.to_string(),
                                span: span.into(),
                                help,
                            },
                        );
                        None
                    }
                };
            }
            if entry.feed_file().is_some() {
                // Its file did not load; that is reported already.
                return None;
            }
        }
        let known = n.let_slot(name).is_some()
            || n.params.get(name).is_some()
            || here.is_some_and(|(s, _)| s.capture(name).is_some());
        if known {
            sink.push(
                file,
                Diagnostic::NotCsv {
                    var: name.to_string(),
                    field: field.to_string(),
                    span: span.into(),
                },
            );
            return None;
        }
    } else if names.len() > 2 {
        sink.push(
            file,
            Diagnostic::TemplateExpression {
                expr: names.join("."),
                span: span.into(),
            },
        );
        return None;
    }
    let single = names.len() == 1;
    if let Some((sc, step)) = here {
        if let Some(cap) = sc.capture(name).filter(|_| single) {
            if scope == Scope::Constant {
                return not_constant(sink, file, name, span);
            }
            if cap.step >= step {
                sink.push(
                    file,
                    Diagnostic::CaptureTooEarly {
                        name: name.to_string(),
                        span: span.into(),
                        defined: cap.span.into(),
                    },
                );
                return None;
            }
            return Some(Piece::Capture(cap.register));
        }
    }
    if let Some(slot) = n.let_slot(name).filter(|_| single) {
        let entry = &n.lets[slot];
        entry.used.set(true);
        if scope == Scope::Constant {
            return not_constant(sink, file, name, span);
        }
        if entry.feed_file().is_some() {
            let columns = entry
                .dataset
                .get()
                .and_then(|d| cx.datasets.get(d as usize))
                .map(|d| d.columns.join(", "));
            sink.push(
                file,
                Diagnostic::WholeCsvRow {
                    var: name.to_string(),
                    span: span.into(),
                    help: Some(match columns {
                        Some(c) => {
                            format!("write `{{{{{name}.COLUMN}}}}` with one of the columns: {c}")
                        }
                        None => {
                            format!("write `{{{{{name}.COLUMN}}}}` with one of the file's columns")
                        }
                    }),
                },
            );
            return None;
        }
        return Some(Piece::Var(slot as u32));
    }
    if let Some(param) = n.params.get(name).filter(|_| single) {
        param.used.set(true);
        return Some(Piece::Lit(text_of(&param.value)));
    }
    if single {
        if let Some(owner) = n.scenarios.iter().find(|s| s.capture(name).is_some()) {
            if scope == Scope::Constant {
                return not_constant(sink, file, name, span);
            }
            sink.push(
                file,
                Diagnostic::CaptureOutOfScope {
                    name: name.to_string(),
                    scenario: owner.name.clone(),
                    span: span.into(),
                },
            );
            return None;
        }
    }
    let captures: Vec<&str> = here
        .map(|(s, _)| s.captures.iter().map(|c| c.name.as_str()).collect())
        .unwrap_or_default();
    let help = suggest::did_you_mean(name, n.variables().chain(captures.iter().copied()));
    sink.push(
        file,
        Diagnostic::UnknownVariable {
            name: name.to_string(),
            span: lit_span_of_name(span, name, names),
            help,
        },
    );
    None
}

/// For `{{a.b}}` with unknown `a`, point at `a` only.
fn lit_span_of_name(span: Span, name: &str, names: &[String]) -> miette::SourceSpan {
    if names.len() > 1 && span.end - span.start >= name.len() {
        Span::new(span.start, span.start + name.len()).into()
    } else {
        span.into()
    }
}

fn not_constant(sink: &mut Sink, file: FileId, name: &str, span: Span) -> Option<Piece> {
    sink.push(
        file,
        Diagnostic::NotConstant {
            name: name.to_string(),
            span: span.into(),
        },
    );
    None
}

/// Appends `piece`, joining neighbouring literals (a param between two literals becomes one
/// literal) and dropping empty ones.
fn push_merged(pieces: &mut Vec<Piece>, piece: Piece) {
    match (pieces.last_mut(), piece) {
        (_, Piece::Lit(s)) if s.is_empty() => {}
        (Some(Piece::Lit(prev)), Piece::Lit(s)) => prev.push_str(&s),
        (_, p) => pieces.push(p),
    }
}

fn next_char_end(text: &str, at: usize) -> usize {
    text[at.min(text.len())..]
        .chars()
        .next()
        .map_or(at.min(text.len()), |c| at + c.len_utf8())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_joins_literals() {
        let mut merged = Vec::new();
        for piece in [
            Piece::Lit("a".into()),
            Piece::Lit("b".into()),
            Piece::Var(0),
            Piece::Lit(String::new()),
            Piece::Lit("c".into()),
        ] {
            push_merged(&mut merged, piece);
        }
        assert_eq!(
            merged,
            vec![
                Piece::Lit("ab".into()),
                Piece::Var(0),
                Piece::Lit("c".into())
            ]
        );
    }
}
