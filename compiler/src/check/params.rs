//! `--set name=value`: replacing a param's value before anything uses it. The value is read
//! with the plan grammar itself, so `300/s`, `2s` and `"text"` mean what they mean in a plan;
//! a string param also takes unquoted text (`--set target=http://host:8080`).

use crate::ast::{Item, StrLit, ValueKind};
use crate::check::names::Params;
use crate::check::values::{kind_name, text_of};
use crate::check::{suggest, Sink};
use crate::diagnostic::Diagnostic;
use crate::parse::parse_file;
use crate::source::FileId;

pub fn apply_overrides(params: &mut Params<'_>, overrides: &[(String, String)], sink: &mut Sink) {
    for (name, text) in overrides {
        let Some(param) = params.get(name) else {
            let help = suggest::did_you_mean(name, params.names()).or_else(|| {
                let all: Vec<String> = params.names().map(|n| format!("`{n}`")).collect();
                Some(if all.is_empty() {
                    "this plan declares no params".to_string()
                } else {
                    format!("the plan's params: {}", all.join(", "))
                })
            });
            sink.push(
                FileId(0),
                Diagnostic::UnknownOverride {
                    name: name.clone(),
                    help,
                },
            );
            continue;
        };
        let declared = &param.declared.kind;
        match convert(declared, text) {
            Some(value) => {
                if let Some(p) = params.get_mut(name) {
                    p.value = value;
                }
            }
            None => {
                let expected = kind_name(declared);
                sink.push(
                    param.file,
                    Diagnostic::BadOverride {
                        name: name.clone(),
                        value: text.clone(),
                        expected,
                        span: param.declared.span.into(),
                        help: Some(format!(
                            "write it like the declared value, e.g. `--set {name}={}`",
                            text_of(declared)
                        )),
                    },
                );
            }
        }
    }
}

/// The override as a value of the declared param's kind, if it is one.
fn convert(declared: &ValueKind, text: &str) -> Option<ValueKind> {
    let parsed = parse_literal(text);
    match (declared, parsed) {
        (ValueKind::Str(_), Some(ValueKind::Str(s))) => Some(ValueKind::Str(s)),
        // A string param takes the text as it is: URLs and paths need no quotes.
        (ValueKind::Str(_), _) => Some(ValueKind::Str(plain_string(text))),
        (ValueKind::Float(_), Some(ValueKind::Int(n))) => Some(ValueKind::Float(n as f64)),
        (ValueKind::Range(a, b), Some(ValueKind::Range(c, d)))
            if same_kind(&a.kind, &c.kind) && same_kind(&b.kind, &d.kind) =>
        {
            Some(ValueKind::Range(c, d))
        }
        (ValueKind::Range(..), _) => None,
        (declared, Some(new)) if same_kind(declared, &new) => Some(new),
        _ => None,
    }
}

fn same_kind(a: &ValueKind, b: &ValueKind) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn plain_string(text: &str) -> StrLit {
    StrLit {
        value: text.to_string(),
        span: Default::default(),
        triple: false,
        offsets: Vec::new(),
    }
}

/// Reads `text` as a single literal, the way a plan would.
fn parse_literal(text: &str) -> Option<ValueKind> {
    if text.contains('\n') {
        return None;
    }
    let source = format!("plan \"set\" {{\n  param value = {text}\n}}\n");
    let file = parse_file(&source).ok()?;
    match file.items.as_slice() {
        [stmt] => match &stmt.node {
            Item::Param { value, .. } => Some(value.kind.clone()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{Rate, TimeUnit};

    fn rate(amount: f64) -> ValueKind {
        ValueKind::Rate(Rate {
            amount,
            per: TimeUnit::S,
        })
    }

    #[test]
    fn converts_to_the_declared_kind() {
        assert_eq!(convert(&rate(100.0), "300/s"), Some(rate(300.0)));
        assert_eq!(convert(&rate(100.0), "2s"), None);
        assert_eq!(convert(&rate(100.0), "fast"), None);
        assert_eq!(
            convert(&ValueKind::Float(1.5), "2"),
            Some(ValueKind::Float(2.0))
        );
        assert_eq!(convert(&ValueKind::Int(1), "2.5"), None);
        match convert(&ValueKind::Str(plain_string("x")), "http://host:80/a b") {
            Some(ValueKind::Str(s)) => assert_eq!(s.value, "http://host:80/a b"),
            other => panic!("not a string: {other:?}"),
        }
        match convert(&ValueKind::Str(plain_string("x")), "\"quoted\"") {
            Some(ValueKind::Str(s)) => assert_eq!(s.value, "quoted"),
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn rejects_injected_items() {
        assert_eq!(parse_literal("1\n}\nplan \"x\" {"), None);
        assert_eq!(parse_literal("1 timeout 2s"), None);
    }
}
