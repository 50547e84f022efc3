//! How numbers are written in the human-facing reports (summary table, HTML, JUnit): latencies,
//! rates, shares, and a threshold's measured value in the threshold's own unit.

use ptl_engine::result::Latency;

/// The unit of a threshold's `actual` value, read from its metric (the last part of the path
/// before the comparison): `*_rate` metrics are fractions, every other metric is milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdUnit {
    Milliseconds,
    Fraction,
}

impl ThresholdUnit {
    pub fn of_expr(expr: &str) -> ThresholdUnit {
        let metric = expr.split_whitespace().next().unwrap_or("");
        if metric.ends_with("rate") {
            ThresholdUnit::Fraction
        } else {
            ThresholdUnit::Milliseconds
        }
    }

    pub fn format(self, value: f64) -> String {
        match self {
            ThresholdUnit::Milliseconds => format_ms(value),
            ThresholdUnit::Fraction => format_share(value),
        }
    }
}

/// A threshold's measured value, or `no data` when none was measured.
pub fn format_actual(expr: &str, actual: Option<f64>) -> String {
    match actual {
        Some(value) => ThresholdUnit::of_expr(expr).format(value),
        None => "no data".to_string(),
    }
}

/// What a missing latency (no sample: `null` in the JSON) shows as: every figure `-`.
pub fn or_no_data(latency: &Option<Latency>) -> Latency {
    latency.unwrap_or(Latency {
        p50: f64::NAN,
        p90: f64::NAN,
        p95: f64::NAN,
        p99: f64::NAN,
        p999: f64::NAN,
        max: f64::NAN,
        mean: f64::NAN,
    })
}

/// Milliseconds with precision that shrinks as the value grows: `0.42 ms`, `12.3 ms`, `512 ms`.
pub fn format_ms(ms: f64) -> String {
    if !ms.is_finite() {
        return "-".to_string();
    }
    let magnitude = ms.abs();
    if magnitude < 10.0 {
        format!("{ms:.2} ms")
    } else if magnitude < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// A fraction as a percentage: `0.0042` → `0.42%`.
pub fn format_share(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "-".to_string();
    }
    format!("{:.2}%", fraction * 100.0)
}

/// Requests per second: one decimal below 100/s, whole numbers above.
pub fn format_rps(rps: f64) -> String {
    if !rps.is_finite() {
        return "-".to_string();
    }
    if rps.abs() < 100.0 {
        format!("{rps:.1}/s")
    } else {
        format!("{rps:.0}/s")
    }
}

/// Seconds: `12.0 s`, or `2m 05s` from a minute on.
pub fn format_duration_s(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "-".to_string();
    }
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let whole = seconds.round() as u64;
    let (h, m, s) = (whole / 3600, (whole / 60) % 60, whole % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else {
        format!("{m}m {s:02}s")
    }
}

/// A count with the share it is of `total`: `12 (0.40%)`; the bare count when either is zero.
pub fn format_count_share(count: u64, total: u64) -> String {
    if count == 0 || total == 0 {
        return count.to_string();
    }
    format!("{count} ({})", format_share(count as f64 / total as f64))
}

/// A phase's `exhausted` count in words, the same in every report: iterations a `unique`
/// feeder had no row left for, which were not sent.
pub fn exhausted_text(n: u64) -> String {
    format!(
        "{n} iteration{} found no row left in a `unique` feeder (not sent)",
        if n == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_units_follow_the_metric() {
        assert_eq!(
            ThresholdUnit::of_expr("p95 < 500ms"),
            ThresholdUnit::Milliseconds
        );
        assert_eq!(
            ThresholdUnit::of_expr("baseline.p99.9 < 1s"),
            ThresholdUnit::Milliseconds
        );
        assert_eq!(
            ThresholdUnit::of_expr("checkout.error_rate < 1%"),
            ThresholdUnit::Fraction
        );
        assert_eq!(
            ThresholdUnit::of_expr("buy.completion_rate > 99%"),
            ThresholdUnit::Fraction
        );
        assert_eq!(
            ThresholdUnit::of_expr("buy.iteration_p95 < 3s"),
            ThresholdUnit::Milliseconds
        );
    }

    #[test]
    fn actual_values_are_written_in_the_threshold_unit() {
        assert_eq!(format_actual("p95 < 500ms", Some(612.34)), "612 ms");
        assert_eq!(format_actual("error_rate < 1%", Some(0.0231)), "2.31%");
        assert_eq!(format_actual("error_rate < 1%", None), "no data");
    }

    #[test]
    fn precision_shrinks_with_magnitude() {
        assert_eq!(format_ms(0.4219), "0.42 ms");
        assert_eq!(format_ms(12.34), "12.3 ms");
        assert_eq!(format_ms(1234.4), "1234 ms");
        assert_eq!(format_rps(99.94), "99.9/s");
        assert_eq!(format_rps(500.4), "500/s");
        assert_eq!(format_ms(f64::NAN), "-");
    }

    #[test]
    fn durations_switch_to_minutes() {
        assert_eq!(format_duration_s(12.04), "12.0 s");
        assert_eq!(format_duration_s(125.0), "2m 05s");
        assert_eq!(format_duration_s(3725.0), "1h 02m 05s");
    }

    #[test]
    fn counts_carry_their_share() {
        assert_eq!(format_count_share(12, 3000), "12 (0.40%)");
        assert_eq!(format_count_share(0, 3000), "0");
        assert_eq!(format_count_share(5, 0), "5");
    }
}
