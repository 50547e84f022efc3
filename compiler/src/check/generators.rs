//! `let` expressions: literals, earlier lets, params and generator calls joined with `+`, each
//! generator checked for its name, arity, argument types and ranges.

use ptl_bytecode::{Draw, Encoding, Ppm};

use crate::ast::{Arg, Call, ExprPart, ValueKind};
use crate::check::model::{Gen, LetPart, VarModel};
use crate::check::names::LetEntry;
use crate::check::values::{ppm_of_percent, text_of, Want};
use crate::check::{suggest, CheckContext, Sink};
use crate::diagnostic::Diagnostic;
use crate::source::FileId;

const GENERATORS: [&str; 15] = [
    "int",
    "float",
    "one_of",
    "weighted",
    "uuid",
    "seq",
    "csv",
    "json",
    "zipf",
    "str",
    "now",
    "env",
    "base64",
    "url_encode",
    "basic_auth",
];

/// The functions that encode text rather than draw it.
const HELPERS: [&str; 3] = ["base64", "url_encode", "basic_auth"];

/// Checks every `let`; the result has one entry per let, `None` where it failed.
pub fn lets(cx: &CheckContext<'_>, sink: &mut Sink) -> Vec<Option<VarModel>> {
    cx.names
        .lets
        .iter()
        .enumerate()
        .map(|(slot, entry)| one_let(cx, sink, slot, entry))
        .collect()
}

fn one_let(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    slot: usize,
    entry: &LetEntry<'_>,
) -> Option<VarModel> {
    let file = entry.file;
    let errors = sink.errors();
    let only_part = entry.expr.parts.len() == 1;
    let mut parts = Vec::new();
    for part in &entry.expr.parts {
        match part {
            ExprPart::Value(v) => {
                if let Some(p) = value_part(cx, sink, file, slot, v) {
                    parts.push(p);
                }
            }
            ExprPart::Call(call) if HELPERS.contains(&call.func.name.as_str()) => {
                parts.extend(helper(cx, sink, file, slot, call));
            }
            ExprPart::Call(call) => {
                if matches!(call.func.name.as_str(), "csv" | "json") && !only_part {
                    sink.push(
                        file,
                        Diagnostic::CsvInExpression {
                            func: call.func.name.clone(),
                            span: call.span.into(),
                        },
                    );
                    continue;
                }
                if let Some(g) = generator(cx, sink, file, call, entry) {
                    parts.push(LetPart::Gen(g));
                }
            }
        }
    }
    if sink.errors() > errors {
        return None;
    }
    Some(VarModel {
        name: entry.name.clone(),
        origin: crate::check::model::Origin {
            file: entry.file,
            span: entry.span,
        },
        parts: merge(parts),
    })
}

/// A value joined into a `let`: text, a number, a param's text or an earlier let.
fn value_part(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    slot: usize,
    v: &crate::ast::Value,
) -> Option<LetPart> {
    let r = cx.params().resolve(v);
    match r.kind {
        ValueKind::Str(s) => Some(LetPart::Lit(s.value.clone())),
        ValueKind::Int(_) | ValueKind::Float(_) => Some(LetPart::Lit(text_of(r.kind))),
        ValueKind::Ident(name) if r.param.is_none() => variable(cx, sink, file, slot, name, v.span),
        // A param of any other kind is inserted as written (`peak` → `100/s`).
        _ if r.param.is_some() => Some(LetPart::Lit(text_of(r.kind))),
        _ => {
            sink.push(
                file,
                cx.params().wrong(Want::LetPart, r, "a `let` joins text"),
            );
            None
        }
    }
}

/// `base64(x)`, `url_encode(x)`, `basic_auth(user, password)`: the arguments' text (literals,
/// params, earlier lets), encoded when the iteration draws its values, so that a secret read
/// by `env(…)` is encoded where the plan runs and never stored.
fn helper(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    slot: usize,
    call: &Call,
) -> Vec<LetPart> {
    let name = call.func.name.as_str();
    let (arity, min, max) = arity(name);
    if call.args.len() < min || call.args.len() > max {
        sink.push(
            file,
            Diagnostic::GeneratorArity {
                name: name.to_string(),
                expected: arity,
                found: call.args.len(),
                span: call.span.into(),
                help: Some(format!("for example `{}`", example(name))),
            },
        );
        return Vec::new();
    }
    let mut args = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        if let Some(w) = &arg.weight {
            sink.push(
                file,
                Diagnostic::ArgumentWeight {
                    reason: format!("`{name}` takes no weights"),
                    span: w.span.into(),
                },
            );
            return Vec::new();
        }
        args.push(value_part(cx, sink, file, slot, &arg.value));
    }
    let Some(args) = args.into_iter().collect::<Option<Vec<_>>>() else {
        return Vec::new();
    };
    match name {
        "base64" => vec![LetPart::Encode {
            encoding: Encoding::Base64,
            parts: args,
        }],
        "url_encode" => vec![LetPart::Encode {
            encoding: Encoding::UrlEncode,
            parts: args,
        }],
        _ => {
            // basic_auth: RFC 7617, `Basic base64(user ":" password)`.
            let mut parts = args;
            parts.insert(1, LetPart::Lit(":".to_string()));
            vec![
                LetPart::Lit("Basic ".to_string()),
                LetPart::Encode {
                    encoding: Encoding::Base64,
                    parts: merge(parts),
                },
            ]
        }
    }
}

/// A bare word in a `let`: an earlier let.
fn variable(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    slot: usize,
    name: &str,
    span: crate::ast::Span,
) -> Option<LetPart> {
    let n = cx.names;
    match n.let_slot(name) {
        Some(other) if other < slot => {
            let entry = &n.lets[other];
            entry.used.set(true);
            if entry.feed_file().is_some() {
                sink.push(
                    file,
                    Diagnostic::WholeCsvRow {
                        var: name.to_string(),
                        span: span.into(),
                        help: Some("a `let` cannot hold a whole CSV row; use `{{row.column}}` in the template instead".to_string()),
                    },
                );
                return None;
            }
            Some(LetPart::Var(other as u32))
        }
        Some(_) => {
            sink.push(
                file,
                Diagnostic::LetOrder {
                    name: name.to_string(),
                    span: span.into(),
                },
            );
            None
        }
        None => {
            let earlier = n.lets[..slot]
                .iter()
                .map(|l| l.name.as_str())
                .chain(n.params.names());
            sink.push(
                file,
                Diagnostic::UnknownVariable {
                    name: name.to_string(),
                    span: span.into(),
                    help: suggest::did_you_mean(name, earlier),
                },
            );
            None
        }
    }
}

fn generator(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    call: &Call,
    entry: &LetEntry<'_>,
) -> Option<Gen> {
    let name = call.func.name.as_str();
    if !GENERATORS.contains(&name) {
        sink.push(
            file,
            Diagnostic::UnknownGenerator {
                name: name.to_string(),
                span: call.func.span.into(),
                help: suggest::did_you_mean_or_list(name, GENERATORS, "the generators are"),
            },
        );
        return None;
    }
    let (arity, min, max) = arity(name);
    let found = call.args.len();
    if found < min || found > max {
        sink.push(
            file,
            Diagnostic::GeneratorArity {
                name: name.to_string(),
                expected: arity,
                found,
                span: call.span.into(),
                help: Some(format!("for example `{}`", example(name))),
            },
        );
        return None;
    }
    let mut weights_ok = true;
    for arg in &call.args {
        match (&arg.weight, name == "weighted") {
            (Some(w), false) => {
                sink.push(
                    file,
                    Diagnostic::ArgumentWeight {
                        reason: format!("`{name}` takes no weights"),
                        span: w.span.into(),
                    },
                );
                weights_ok = false;
            }
            (None, true) => {
                sink.push(
                    file,
                    Diagnostic::ArgumentWeight {
                        reason: "every choice of `weighted` needs a weight".to_string(),
                        span: arg.span.into(),
                    },
                );
                weights_ok = false;
            }
            _ => {}
        }
    }
    if !weights_ok {
        return None;
    }
    let p = cx.params();
    let int = |sink: &mut Sink, arg: &Arg| {
        sink.take(
            file,
            p.int(&arg.value, &format!("`{name}` takes whole numbers")),
        )
    };
    let range_error = |sink: &mut Sink, reason: String| {
        sink.push(
            file,
            Diagnostic::GeneratorRange {
                name: name.to_string(),
                reason,
                span: call.span.into(),
            },
        );
    };
    match name {
        "int" => {
            let (a, b) = (int(sink, &call.args[0]), int(sink, &call.args[1]));
            let (min, max) = (a?, b?);
            if min > max {
                range_error(sink, format!("min {min} is greater than max {max}"));
                return None;
            }
            Some(Gen::Int { min, max })
        }
        "float" => {
            let context = "`float` takes numbers";
            let a = sink.take(file, p.number(&call.args[0].value, context));
            let b = sink.take(file, p.number(&call.args[1].value, context));
            let (min, max) = (a?, b?);
            if min >= max {
                range_error(sink, format!("min {min} is not below max {max}"));
                return None;
            }
            Some(Gen::Float { min, max })
        }
        "zipf" => {
            let (a, b) = (int(sink, &call.args[0]), int(sink, &call.args[1]));
            let s = sink.take(
                file,
                p.number(&call.args[2].value, "`zipf` takes an exponent"),
            );
            let (min, max, s) = (a?, b?, s?);
            if min > max {
                range_error(sink, format!("min {min} is greater than max {max}"));
                return None;
            }
            if s <= 0.0 {
                range_error(sink, format!("the exponent must be above 0, found {s}"));
                return None;
            }
            Some(Gen::Zipf { min, max, s })
        }
        "str" => {
            let len = sink.take(
                file,
                p.int_in(
                    &call.args[0].value,
                    "string length",
                    1,
                    1_000_000,
                    "`str` takes a length",
                ),
            )?;
            Some(Gen::Str { len: len as u32 })
        }
        "one_of" => {
            let mut out = Vec::new();
            for arg in &call.args {
                out.push(choice(cx, sink, file, arg, name));
            }
            out.into_iter().collect::<Option<Vec<_>>>().map(Gen::OneOf)
        }
        "weighted" => weighted(cx, sink, file, call),
        "csv" | "json" => {
            let draw = match call.args.get(1) {
                Some(arg) => draw_mode(cx, sink, file, arg)?,
                None => Draw::Sequential,
            };
            feed(cx, sink, file, call, entry, draw)
        }
        "uuid" => Some(Gen::Uuid),
        "seq" => Some(Gen::Seq),
        "now" => Some(Gen::Now),
        "env" => env(sink, file, call, p),
        _ => None,
    }
}

/// A feeder's dataset, once its file loaded.
fn feed(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    call: &Call,
    entry: &LetEntry<'_>,
    draw: Draw,
) -> Option<Gen> {
    let name = call.func.name.as_str();
    entry
        .dataset
        .get()
        .map(|dataset| Gen::Csv { dataset, draw })
        .or_else(|| {
            // Not loaded: either reported by the feeder loader, or the argument is no string.
            let context = format!("`{name}` takes a file name");
            if let Err(d) = cx.params().string(&call.args[0].value, &context) {
                sink.push(file, d);
            }
            None
        })
}

const DRAW_MODES: [&str; 3] = ["sequential", "random", "unique"];

/// A feeder's second argument: how it picks rows.
fn draw_mode(cx: &CheckContext<'_>, sink: &mut Sink, file: FileId, arg: &Arg) -> Option<Draw> {
    let r = cx.params().resolve(&arg.value);
    let word = match r.kind {
        ValueKind::Ident(w) => w.as_str(),
        _ => "",
    };
    match word {
        "sequential" => Some(Draw::Sequential),
        "random" => Some(Draw::Random),
        "unique" => Some(Draw::Unique),
        _ => {
            let (found, help) = match r.kind {
                ValueKind::Ident(w) => (
                    format!("`{w}`"),
                    suggest::did_you_mean_or_list(w, DRAW_MODES, "the draw modes are"),
                ),
                ValueKind::Str(s) if DRAW_MODES.contains(&s.value.as_str()) => (
                    format!("\"{}\"", s.value),
                    Some(format!("a draw mode is a bare word: `{}`", s.value)),
                ),
                other => (
                    text_of(other),
                    suggest::did_you_mean_or_list("", DRAW_MODES, "the draw modes are"),
                ),
            };
            sink.push(
                file,
                Diagnostic::UnknownDrawMode {
                    found,
                    span: arg.span.into(),
                    help,
                },
            );
            None
        }
    }
}

/// One choice of `one_of`/`weighted`: text or a number.
fn choice(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    arg: &Arg,
    name: &str,
) -> Option<String> {
    let r = cx.params().resolve(&arg.value);
    match r.kind {
        ValueKind::Str(s) => Some(s.value.clone()),
        ValueKind::Int(_) | ValueKind::Float(_) => Some(text_of(r.kind)),
        _ => {
            sink.push(
                file,
                cx.params()
                    .wrong(Want::Str, r, &format!("`{name}` chooses among strings")),
            );
            None
        }
    }
}

fn weighted(cx: &CheckContext<'_>, sink: &mut Sink, file: FileId, call: &Call) -> Option<Gen> {
    let mut choices = Vec::new();
    let mut total = 0.0;
    let mut ok = true;
    for arg in &call.args {
        let text = choice(cx, sink, file, arg, "weighted");
        let weight = arg.weight.as_ref().and_then(|w| {
            sink.take(
                file,
                cx.params().share(w, "weight", "a weight is a percentage"),
            )
        });
        match (text, weight) {
            (Some(t), Some(w)) => {
                total += w;
                choices.push((t, w));
            }
            _ => ok = false,
        }
    }
    if !ok {
        return None;
    }
    if (total - 100.0).abs() > 1e-6 {
        sink.push(
            file,
            Diagnostic::WeightsNot100 {
                total: format!("{}%", crate::check::values::trim_float(total)),
                span: call.span.into(),
            },
        );
        return None;
    }
    // Rounding each share may miss 100% by a few ppm; the last choice absorbs it.
    let mut ppm: Vec<(String, Ppm)> = choices
        .into_iter()
        .map(|(t, w)| (t, ppm_of_percent(w)))
        .collect();
    let sum: i64 = ppm.iter().map(|(_, p)| p.0 as i64).sum();
    if let Some(last) = ppm.last_mut() {
        last.1 = Ppm((last.1 .0 as i64 + Ppm::ONE.0 as i64 - sum).max(0) as u32);
    }
    Some(Gen::Weighted(ppm))
}

/// Words for the arity, and the bounds.
fn arity(name: &str) -> (&'static str, usize, usize) {
    match name {
        "int" => ("2 arguments (min, max)", 2, 2),
        "float" => ("2 arguments (min, max)", 2, 2),
        "zipf" => ("3 arguments (min, max, exponent)", 3, 3),
        "str" => ("1 argument (the length)", 1, 1),
        "csv" | "json" => ("1 or 2 arguments (the file name, a draw mode)", 1, 2),
        "env" => ("1 or 2 arguments (the name, a default)", 1, 2),
        "base64" | "url_encode" => ("1 argument (the text)", 1, 1),
        "basic_auth" => ("2 arguments (the user, the password)", 2, 2),
        "one_of" | "weighted" => ("at least 1 argument", 1, usize::MAX),
        _ => ("no arguments", 0, 0),
    }
}

fn example(name: &str) -> &'static str {
    match name {
        "int" => "int(1, 100)",
        "float" => "float(0.5, 2.5)",
        "zipf" => "zipf(1, 1000, 1.1)",
        "str" => "str(16)",
        "csv" => "csv(\"customers.csv\")",
        "json" => "json(\"users.json\")",
        "one_of" => "one_of(\"visa\", \"amex\")",
        "weighted" => "weighted(\"eu\" 70%, \"us\" 30%)",
        "uuid" => "uuid()",
        "seq" => "seq()",
        "env" => "env(\"API_TOKEN\")",
        "base64" => "base64(token)",
        "url_encode" => "url_encode(query)",
        "basic_auth" => "basic_auth(user, password)",
        _ => "now()",
    }
}

/// The `env("NAME")` or `env("NAME", "default")` of a `target … env(…)` line: its name and
/// default (the default checked as a URL, as a written target is). Any other call is an error:
/// `env` is the one function a target may call.
pub fn target_env(
    sink: &mut Sink,
    file: FileId,
    call: &Call,
    p: &crate::check::names::Params<'_>,
) -> Option<ptl_bytecode::TargetEnv> {
    if call.func.name != "env" {
        sink.push(
            file,
            Diagnostic::TargetCall {
                name: call.func.name.clone(),
                span: call.func.span.into(),
            },
        );
        return None;
    }
    let (expected, min, max) = arity("env");
    if call.args.len() < min || call.args.len() > max {
        sink.push(
            file,
            Diagnostic::GeneratorArity {
                name: "env".to_string(),
                expected,
                found: call.args.len(),
                span: call.span.into(),
                help: Some("for example `target env(\"API_URL\")`".to_string()),
            },
        );
        return None;
    }
    let Gen::Env { name, default } = env(sink, file, call, p)? else {
        return None;
    };
    if let (Some(url), Some(arg)) = (&default, call.args.get(1)) {
        if let Err(reason) = crate::check::settings::check_url(url) {
            sink.push(
                file,
                Diagnostic::InvalidUrl {
                    url: url.clone(),
                    reason,
                    span: arg.span.into(),
                },
            );
            return None;
        }
    }
    Some(ptl_bytecode::TargetEnv {
        host: 0,
        name,
        default,
    })
}

/// `env("NAME")` or `env("NAME", "default")`: read on the machine that runs the plan, when the
/// run starts (never stored in the plan). Unset here without a default: a warning, since the
/// agents' environment is what counts.
fn env(
    sink: &mut Sink,
    file: FileId,
    call: &Call,
    p: &crate::check::names::Params<'_>,
) -> Option<Gen> {
    let name = sink.take(
        file,
        p.string(&call.args[0].value, "`env` takes a variable name"),
    )?;
    let default = match call.args.get(1) {
        Some(arg) => Some(sink.take(file, p.string(&arg.value, "an `env` default is text"))?),
        None => None,
    };
    if name.is_empty() || name.contains(['=', '\0']) || name.contains(char::is_whitespace) {
        sink.push(
            file,
            Diagnostic::BadEnvName {
                name: name.clone(),
                span: call.args[0].span.into(),
            },
        );
        return None;
    }
    if default.is_none() && std::env::var_os(&name).is_none() {
        sink.push(
            file,
            Diagnostic::EnvUnset {
                name: name.clone(),
                span: call.span.into(),
            },
        );
    }
    Some(Gen::Env { name, default })
}

fn merge(parts: Vec<LetPart>) -> Vec<LetPart> {
    let mut out: Vec<LetPart> = Vec::with_capacity(parts.len());
    for part in parts {
        match (out.last_mut(), part) {
            (Some(LetPart::Lit(prev)), LetPart::Lit(s)) => prev.push_str(&s),
            (_, p) => out.push(p),
        }
    }
    out
}
