//! Number literals with their units: `42`, `1.5`, `250ms`, `100/s`, `50%`.
//!
//! The grammar reads a number followed by any word as one token, so that a wrong unit is
//! reported here by name ("unknown unit `min`; did you mean `m`?") instead of as a stray word.

use super::error::SyntaxError;
use crate::ast::{Duration, Percent, Rate, Span, TimeUnit, ValueKind};

const DURATION_UNITS: [&str; 4] = ["ms", "s", "m", "h"];
const RATE_UNITS: [&str; 3] = ["/s", "/m", "/h"];

/// Decodes the text of a `number` token starting at byte `start` of the source.
pub(crate) fn decode_number(text: &str, start: usize) -> Result<ValueKind, SyntaxError> {
    let span = Span::new(start, start + text.len());
    let negative = text.starts_with('-');
    let digits_end = text
        .char_indices()
        .skip(usize::from(negative))
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.'))
        .map_or(text.len(), |(i, _)| i);
    let (num, suffix) = text.split_at(digits_end);
    let suffix_span = Span::new(start + digits_end, span.end);
    if suffix.is_empty() {
        return if num.contains('.') {
            num.parse::<f64>().map(ValueKind::Float).map_err(|_| {
                SyntaxError::new(format!("malformed number `{num}`"), span, Vec::new())
            })
        } else {
            num.parse::<i64>().map(ValueKind::Int).map_err(|_| {
                SyntaxError::new(
                    format!("integer `{num}` is too large (the limit is {})", i64::MAX),
                    span,
                    Vec::new(),
                )
            })
        };
    }
    if negative {
        return Err(SyntaxError::new(
            format!("`{text}`: only plain numbers can be negative"),
            span,
            Vec::new(),
        ));
    }
    let amount: f64 = num
        .parse()
        .map_err(|_| SyntaxError::new(format!("malformed number `{num}`"), span, Vec::new()))?;
    if suffix == "%" {
        return Ok(ValueKind::Percent(Percent(amount)));
    }
    if let Some(per) = suffix.strip_prefix('/') {
        return match per {
            "s" => Ok(ValueKind::Rate(Rate { amount, per: TimeUnit::S })),
            "m" => Ok(ValueKind::Rate(Rate { amount, per: TimeUnit::M })),
            "h" => Ok(ValueKind::Rate(Rate { amount, per: TimeUnit::H })),
            _ => Err(SyntaxError::new(
                format!(
                    "unknown rate unit `{suffix}` in `{text}`{}; a rate is per second, minute or hour: `/s`, `/m`, `/h`",
                    hint(per).map(|h| format!(" (did you mean `/{h}`?)")).unwrap_or_default()
                ),
                suffix_span,
                RATE_UNITS.iter().map(|u| format!("`{u}`")).collect(),
            )),
        };
    }
    let unit = match suffix {
        "ms" => TimeUnit::Ms,
        "s" => TimeUnit::S,
        "m" => TimeUnit::M,
        "h" => TimeUnit::H,
        _ => {
            let mut expected: Vec<String> =
                DURATION_UNITS.iter().map(|u| format!("`{u}`")).collect();
            expected.extend(RATE_UNITS.iter().map(|u| format!("`{u}`")));
            expected.push("`%`".to_string());
            return Err(SyntaxError::new(
                format!(
                    "unknown unit `{suffix}` in `{text}`{}; durations take `ms`, `s`, `m` or `h`, rates `/s`, `/m` or `/h`, percentages `%`",
                    hint(suffix).map(|h| format!(" (did you mean `{h}`?)")).unwrap_or_default()
                ),
                suffix_span,
                expected,
            ));
        }
    };
    Ok(ValueKind::Duration(Duration { amount, unit }))
}

/// The unit someone probably meant by a longer spelling.
fn hint(unit: &str) -> Option<&'static str> {
    match unit.to_ascii_lowercase().as_str() {
        "sec" | "secs" | "second" | "seconds" => Some("s"),
        "min" | "mins" | "minute" | "minutes" => Some("m"),
        "hr" | "hrs" | "hour" | "hours" => Some("h"),
        "msec" | "msecs" | "millis" | "millisecond" | "milliseconds" => Some("ms"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> ValueKind {
        match decode_number(text, 0) {
            Ok(v) => v,
            Err(e) => panic!("{text}: {}", e.message),
        }
    }

    #[test]
    fn plain_numbers() {
        assert_eq!(ok("42"), ValueKind::Int(42));
        assert_eq!(ok("-3"), ValueKind::Int(-3));
        assert_eq!(ok("1.5"), ValueKind::Float(1.5));
    }

    #[test]
    fn units_are_kept_as_written() {
        assert_eq!(
            ok("1.5m"),
            ValueKind::Duration(Duration {
                amount: 1.5,
                unit: TimeUnit::M
            })
        );
        assert_eq!(
            ok("250ms"),
            ValueKind::Duration(Duration {
                amount: 250.0,
                unit: TimeUnit::Ms
            })
        );
        assert_eq!(
            ok("600/m"),
            ValueKind::Rate(Rate {
                amount: 600.0,
                per: TimeUnit::M
            })
        );
        assert_eq!(ok("0.5%"), ValueKind::Percent(Percent(0.5)));
    }

    #[test]
    fn wrong_units_are_named() {
        let e = decode_number("10/min", 7).unwrap_err();
        assert!(e.message.contains("`/min`"), "{}", e.message);
        assert!(e.message.contains("did you mean `/m`"), "{}", e.message);
        assert_eq!(e.span, Span::new(9, 13));
        let e = decode_number("5mb", 0).unwrap_err();
        assert!(e.message.contains("unknown unit `mb`"), "{}", e.message);
        assert!(decode_number("10/ms", 0).is_err());
        assert!(decode_number("-5s", 0).is_err());
        assert!(decode_number("99999999999999999999", 0).is_err());
    }
}
