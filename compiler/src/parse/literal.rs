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
    let unit = match time_unit(suffix) {
        Some(unit) => unit,
        None => {
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

/// A duration outside a plan, written as a plan writes one (`250ms`, `1.5s`, `2m`, `1h`): the
/// CLI's flags and the dashboard's start options read durations with the plan's units, to the
/// microsecond like the plan's own.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, SyntaxError> {
    let text = text.trim();
    let fail = |message: String| {
        Err(SyntaxError::new(
            message,
            Span::new(0, text.len()),
            Vec::new(),
        ))
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (num, suffix) = text.split_at(split);
    if suffix.is_empty() {
        return fail(format!(
            "`{text}` has no unit: write e.g. `250ms`, `2s`, `1m`"
        ));
    }
    let Ok(amount) = num.parse::<f64>() else {
        return fail(format!(
            "`{text}` is not a duration: write e.g. `250ms`, `2s`, `1m`"
        ));
    };
    let Some(unit) = time_unit(suffix) else {
        let hint = hint(suffix).map(|h| format!(" (did you mean `{h}`?)"));
        return fail(format!(
            "unknown unit `{suffix}` in `{text}`{}: use ms, s, m or h",
            hint.unwrap_or_default()
        ));
    };
    // A count beyond 64 bits would be cut short without a word.
    if amount * unit.micros() as f64 >= u64::MAX as f64 {
        return fail(format!("`{text}` is too long"));
    }
    Ok(std::time::Duration::from_micros(
        Duration { amount, unit }.micros(),
    ))
}

fn time_unit(suffix: &str) -> Option<TimeUnit> {
    match suffix {
        "ms" => Some(TimeUnit::Ms),
        "s" => Some(TimeUnit::S),
        "m" => Some(TimeUnit::M),
        "h" => Some(TimeUnit::H),
        _ => None,
    }
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
    fn durations_outside_a_plan_read_as_in_one() {
        let ms = std::time::Duration::from_millis;
        assert_eq!(parse_duration("250ms"), Ok(ms(250)));
        assert_eq!(parse_duration(" 1.5s "), Ok(ms(1500)));
        assert_eq!(parse_duration("2m"), Ok(ms(120_000)));
        assert_eq!(
            parse_duration("0.25ms"),
            Ok(std::time::Duration::from_micros(250))
        );
        for (text, says) in [
            ("5", "`5` has no unit"),
            ("", "has no unit"),
            ("soon", "`soon` is not a duration"),
            ("-1s", "`-1s` is not a duration"),
            ("1.2.3s", "is not a duration"),
            ("5x", "unknown unit `x` in `5x`: use ms, s, m or h"),
            ("5min", "(did you mean `m`?)"),
            ("5/s", "unknown unit `/s`"),
            ("99999999999999999999h", "is too long"),
        ] {
            let e = parse_duration(text).expect_err(text);
            assert!(e.message.contains(says), "{text}: {}", e.message);
        }
    }

    proptest::proptest! {
        #[test]
        // The amount is read as a float: exact to the microsecond for some 70 years.
        fn written_durations_read_back_exactly(us in 0u64..1_000_000_000_000_000) {
            let text = ptl_bytecode::duration_text(us);
            let back = parse_duration(&text).map_err(|e| e.message);
            proptest::prop_assert_eq!(back, Ok(std::time::Duration::from_micros(us)), "{}", text);
        }

        #[test]
        fn rounded_durations_are_within_half_a_millisecond(us in 0u64..1_000_000_000_000_000) {
            let text = ptl_bytecode::rounded_duration_text(us);
            let back = parse_duration(&text).map_err(|e| e.message).expect("reads").as_micros();
            proptest::prop_assert!(back.abs_diff(u128::from(us)) <= 500, "{} -> {} -> {}", us, text, back);
        }
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
