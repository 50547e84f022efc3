//! Typed values: following a bare word to the param it names, and turning a value into the
//! number the engine wants (µs, per second, ppm) or saying precisely why it cannot
//! ("expected a rate, found a duration").

use ptl_bytecode::Ppm;

use crate::ast::{Duration, Rate, Span, Value, ValueKind};
use crate::check::names::Params;
use crate::check::suggest;
use crate::diagnostic::Diagnostic;

/// A value after following a param reference.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'v> {
    pub kind: &'v ValueKind,
    /// Where the value is used (the reference, not the param's declaration).
    pub span: Span,
    /// The param it came from, if any.
    pub param: Option<&'v str>,
}

/// The kinds of value a position can take, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Duration,
    Rate,
    Int,
    Number,
    Percent,
    Str,
    Bool,
    Status,
    Json,
    LetPart,
}

impl Want {
    pub fn article(self) -> &'static str {
        match self {
            Want::Duration => "a duration",
            Want::Rate => "a rate",
            Want::Int => "a whole number",
            Want::Number => "a number",
            Want::Percent => "a percentage",
            Want::Str => "a string",
            Want::Bool => "`on` or `off`",
            Want::Status => "a status code or range",
            Want::Json => "a JSON value",
            Want::LetPart => "a string, a number, a variable or a generator call",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Want::Duration => "write a duration such as `500ms`, `2s`, `1.5m` or `1h`",
            Want::Rate => "write a rate such as `100/s`, `600/m` or `10/h`",
            Want::Int => "write a whole number such as `100`",
            Want::Number => "write a number such as `1.5`",
            Want::Percent => "write a percentage such as `5%` or `0.1%`",
            Want::Str => "write text in double quotes: `\"…\"`",
            Want::Bool => "write `on` or `off`",
            Want::Status => "write a status such as `200`, several (`200, 201`) or a range (`200..299`)",
            Want::Json => "write a string, a number, `true`, `false` or `null`",
            Want::LetPart => "join strings, numbers, variables and generators with `+`, e.g. `\"user_\" + int(1, 100)`",
        }
    }
}

/// "a duration", "a rate"… for the kind of a literal.
pub fn kind_name(kind: &ValueKind) -> &'static str {
    match kind {
        ValueKind::Int(_) => "a whole number",
        ValueKind::Float(_) => "a number",
        ValueKind::Duration(_) => "a duration",
        ValueKind::Rate(_) => "a rate",
        ValueKind::Percent(_) => "a percentage",
        ValueKind::Str(_) => "a string",
        ValueKind::Bool(_) => "a boolean",
        ValueKind::Ident(_) => "a name",
        ValueKind::Range(..) => "a range",
    }
}

/// Canonical source text of a literal (`1.5m`, `100/s`, `"x"` → `x`): what reports and
/// templates show for a param.
pub fn text_of(kind: &ValueKind) -> String {
    match kind {
        ValueKind::Int(n) => n.to_string(),
        ValueKind::Float(f) => format!("{f:?}"),
        ValueKind::Duration(d) => duration_text(*d),
        ValueKind::Rate(r) => rate_text(*r),
        ValueKind::Percent(p) => format!("{}%", p.0),
        ValueKind::Str(s) => s.value.clone(),
        ValueKind::Bool(b) => b.to_string(),
        ValueKind::Ident(name) => name.clone(),
        ValueKind::Range(a, b) => format!("{}..{}", text_of(&a.kind), text_of(&b.kind)),
    }
}

/// Like [`text_of`], but strings keep their quotes: how the value is written in a plan.
pub fn source_text(kind: &ValueKind) -> String {
    match kind {
        ValueKind::Str(s) => serde_json::to_string(&s.value).unwrap_or_else(|_| s.value.clone()),
        ValueKind::Range(a, b) => format!("{}..{}", source_text(&a.kind), source_text(&b.kind)),
        other => text_of(other),
    }
}

pub fn duration_text(d: Duration) -> String {
    format!("{}{}", d.amount, d.unit.suffix())
}

pub fn rate_text(r: Rate) -> String {
    format!("{}/{}", r.amount, r.per.suffix())
}

/// `100/s`, `12.5/s`.
pub fn per_sec_text(r: f64) -> String {
    format!("{}/s", trim_float(r))
}

/// A float with at most three decimals and no trailing zeros.
pub fn trim_float(f: f64) -> String {
    let s = format!("{f:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Percent in ppm, rounded to the nearest part per million.
pub fn ppm_of_percent(p: f64) -> Ppm {
    Ppm((p * 10_000.0).round().clamp(0.0, u32::MAX as f64) as u32)
}

impl Params<'_> {
    /// Follows a bare word to the param it names (and records the use).
    pub fn resolve<'v>(&'v self, v: &'v Value) -> Resolved<'v> {
        if let ValueKind::Ident(name) = &v.kind {
            if let Some(p) = self.get(name) {
                p.used.set(true);
                return Resolved {
                    kind: &p.value,
                    span: v.span,
                    param: Some(&p.name),
                };
            }
        }
        Resolved {
            kind: &v.kind,
            span: v.span,
            param: None,
        }
    }

    /// The error for a value of the wrong kind. `context` says what the position takes.
    pub fn wrong(&self, want: Want, r: Resolved<'_>, context: &str) -> Diagnostic {
        if let (ValueKind::Ident(name), None) = (r.kind, r.param) {
            return Diagnostic::UnknownParam {
                name: name.clone(),
                span: r.span.into(),
                help: suggest::did_you_mean(name, self.names())
                    .or_else(|| Some(want.example().to_string())),
            };
        }
        let found = kind_name(r.kind);
        let label = match r.param {
            Some(p) => format!("`{p}` is {found}, but {context}"),
            None => context.to_string(),
        };
        Diagnostic::WrongType {
            expected: want.article(),
            found,
            span: r.span.into(),
            context: label,
            help: Some(want.example().to_string()),
        }
    }

    pub fn duration_us(&self, v: &Value, context: &str) -> Result<u64, Diagnostic> {
        let r = self.resolve(v);
        match r.kind {
            ValueKind::Duration(d) if d.amount >= 0.0 && d.amount.is_finite() => Ok(d.micros()),
            ValueKind::Duration(d) => Err(out_of_range(
                "duration",
                duration_text(*d),
                r.span,
                "0 or more",
            )),
            _ => Err(self.wrong(Want::Duration, r, context)),
        }
    }

    /// A duration above zero.
    pub fn positive_us(&self, v: &Value, what: &str, context: &str) -> Result<u64, Diagnostic> {
        let us = self.duration_us(v, context)?;
        if us == 0 {
            let r = self.resolve(v);
            return Err(out_of_range(what, text_of(r.kind), r.span, "longer than 0"));
        }
        Ok(us)
    }

    /// A rate in arrivals per second (any sign: callers say which rates are allowed).
    pub fn per_sec(&self, v: &Value, context: &str) -> Result<f64, Diagnostic> {
        let r = self.resolve(v);
        match r.kind {
            ValueKind::Rate(rate) if rate.amount.is_finite() => Ok(rate.per_sec()),
            _ => Err(self.wrong(Want::Rate, r, context)),
        }
    }

    pub fn int(&self, v: &Value, context: &str) -> Result<i64, Diagnostic> {
        let r = self.resolve(v);
        match r.kind {
            ValueKind::Int(n) => Ok(*n),
            _ => Err(self.wrong(Want::Int, r, context)),
        }
    }

    /// A whole number in `min..=max`, e.g. a connection count.
    pub fn int_in(
        &self,
        v: &Value,
        what: &str,
        min: i64,
        max: i64,
        context: &str,
    ) -> Result<i64, Diagnostic> {
        let n = self.int(v, context)?;
        if n < min || n > max {
            let allowed = if max >= u32::MAX as i64 {
                format!("{min} or more")
            } else {
                format!("from {min} to {max}")
            };
            return Err(out_of_range(what, n.to_string(), v.span, &allowed));
        }
        Ok(n)
    }

    pub fn number(&self, v: &Value, context: &str) -> Result<f64, Diagnostic> {
        let r = self.resolve(v);
        match r.kind {
            ValueKind::Int(n) => Ok(*n as f64),
            ValueKind::Float(f) if f.is_finite() => Ok(*f),
            _ => Err(self.wrong(Want::Number, r, context)),
        }
    }

    pub fn percent(&self, v: &Value, context: &str) -> Result<f64, Diagnostic> {
        let r = self.resolve(v);
        match r.kind {
            ValueKind::Percent(p) if p.0.is_finite() => Ok(p.0),
            _ => Err(self.wrong(Want::Percent, r, context)),
        }
    }

    /// A share: a percentage above 0% and at most 100%.
    pub fn share(&self, v: &Value, what: &str, context: &str) -> Result<f64, Diagnostic> {
        let p = self.percent(v, context)?;
        if p <= 0.0 || p > 100.0 {
            return Err(out_of_range(
                what,
                format!("{p}%"),
                v.span,
                "above 0% and at most 100%",
            ));
        }
        Ok(p)
    }

    pub fn string(&self, v: &Value, context: &str) -> Result<String, Diagnostic> {
        let r = self.resolve(v);
        match r.kind {
            ValueKind::Str(s) => Ok(s.value.clone()),
            _ => Err(self.wrong(Want::Str, r, context)),
        }
    }

    /// One of a fixed set of words (`drop`/`queue`); returns its index in `options`.
    pub fn keyword(&self, v: &Value, what: &str, options: &[&str]) -> Result<usize, Diagnostic> {
        let r = self.resolve(v);
        let word = match r.kind {
            ValueKind::Ident(w) => w.clone(),
            ValueKind::Bool(b) => b.to_string(),
            other => source_text(other),
        };
        if let Some(i) = options.iter().position(|o| *o == word) {
            return Ok(i);
        }
        let expected = options
            .iter()
            .map(|o| format!("`{o}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        Err(Diagnostic::BadKeyword {
            help: suggest::did_you_mean(&word, options.iter().copied()),
            found: word,
            what: what.to_string(),
            span: r.span.into(),
            expected,
        })
    }

    /// `on`/`off` (also `true`/`false`).
    pub fn switch(&self, v: &Value, what: &str) -> Result<bool, Diagnostic> {
        let i = self.keyword(v, what, &["on", "off", "true", "false"])?;
        Ok(i % 2 == 0)
    }
}

pub fn out_of_range(what: &str, value: String, span: Span, allowed: &str) -> Diagnostic {
    Diagnostic::OutOfRange {
        what: what.to_string(),
        value,
        span: span.into(),
        allowed: allowed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_float_drops_noise() {
        assert_eq!(trim_float(100.0), "100");
        assert_eq!(trim_float(12.5), "12.5");
        assert_eq!(trim_float(1.0 / 3.0), "0.333");
    }

    #[test]
    fn percent_to_ppm() {
        assert_eq!(ppm_of_percent(100.0), Ppm::ONE);
        assert_eq!(ppm_of_percent(0.1), Ppm(1_000));
        assert_eq!(ppm_of_percent(70.0), Ppm(700_000));
    }
}
