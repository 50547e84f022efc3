//! Service-level objectives as `ptl analyze --slo` takes them: `p99 < 500ms`, `error_rate < 1%`.

use crate::error::ReportError;
use crate::units::{format_ms, format_share};
use ptl_engine::result::ThresholdResult;
use serde::Serialize;
use std::fmt;

/// What an objective bounds, per step of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    P50,
    P95,
    P99,
    /// Errors / requests sent.
    ErrorRate,
}

impl Metric {
    fn parse(name: &str) -> Option<Metric> {
        match name {
            "p50" => Some(Metric::P50),
            "p95" => Some(Metric::P95),
            "p99" => Some(Metric::P99),
            "error_rate" => Some(Metric::ErrorRate),
            _ => None,
        }
    }

    /// Milliseconds for latencies, a fraction for the error rate.
    pub fn format(self, value: f64) -> String {
        match self {
            Metric::ErrorRate => format_share(value),
            _ => format_ms(value),
        }
    }
}

/// One objective: `metric < limit` (or `<=`); the limit in milliseconds or as a fraction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slo {
    pub metric: Metric,
    pub limit: f64,
    /// `<=` rather than `<`.
    pub inclusive: bool,
}

impl Slo {
    /// Parses `METRIC < LIMIT` or `METRIC <= LIMIT`; latencies take `ms` or `s`, the error rate
    /// `%` or a fraction.
    pub fn parse(text: &str) -> Result<Slo, ReportError> {
        let invalid = |reason: &str| ReportError::InvalidSlo {
            slo: text.to_string(),
            reason: reason.to_string(),
        };
        let (name, inclusive, limit) = if let Some((name, limit)) = text.split_once("<=") {
            (name, true, limit)
        } else if let Some((name, limit)) = text.split_once('<') {
            (name, false, limit)
        } else {
            return Err(invalid("write `METRIC < LIMIT`, e.g. `p99 < 500ms`"));
        };
        let metric = Metric::parse(name.trim())
            .ok_or_else(|| invalid("the metric is one of p50, p95, p99, error_rate"))?;
        let limit = limit.trim();
        let value = match metric {
            Metric::ErrorRate => parse_share(limit)
                .ok_or_else(|| invalid("an error rate limit is a share, e.g. `1%`"))?,
            _ => parse_ms(limit)
                .ok_or_else(|| invalid("a latency limit is a duration, e.g. `500ms` or `1.5s`"))?,
        };
        Ok(Slo {
            metric,
            limit: value,
            inclusive,
        })
    }

    /// Whether a step's measured value meets the objective.
    pub fn holds(&self, value: f64) -> bool {
        if self.inclusive {
            value <= self.limit
        } else {
            value < self.limit
        }
    }
}

/// The plan's own objectives that a step can be judged by: its whole-run thresholds on p50,
/// p95, p99 (`<`, `<=`) and `error_rate`, read from the result's threshold expressions. One on a
/// phase, a request, a scenario or a tag (`peak.p99 < 1s`), on another metric, or with another
/// comparison is not a per-step objective and is left out.
pub fn from_thresholds(thresholds: &[ThresholdResult]) -> Vec<Slo> {
    let mut slos: Vec<Slo> = Vec::new();
    for slo in thresholds.iter().filter_map(|t| Slo::parse(&t.expr).ok()) {
        if !slos.contains(&slo) {
            slos.push(slo);
        }
    }
    slos
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metric = match self.metric {
            Metric::P50 => "p50",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::ErrorRate => "error_rate",
        };
        let op = if self.inclusive { "<=" } else { "<" };
        write!(f, "{metric} {op} {}", self.metric.format(self.limit))
    }
}

fn parse_ms(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("us").or_else(|| text.strip_suffix("µs")) {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    let value = number.trim().parse::<f64>().ok()? * scale;
    (value.is_finite() && value > 0.0).then_some(value)
}

fn parse_share(text: &str) -> Option<f64> {
    let value = match text.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => text.parse::<f64>().ok()?,
    };
    (0.0..=1.0).contains(&value).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_parse_with_their_units() {
        let slo = Slo::parse("p99 < 500ms").expect("valid");
        assert_eq!(
            (slo.metric, slo.limit, slo.inclusive),
            (Metric::P99, 500.0, false)
        );
        let slo = Slo::parse("p95<=1.5s").expect("valid");
        assert_eq!(
            (slo.metric, slo.limit, slo.inclusive),
            (Metric::P95, 1500.0, true)
        );
        let slo = Slo::parse(" error_rate < 1% ").expect("valid");
        assert_eq!(slo.metric, Metric::ErrorRate);
        assert!((slo.limit - 0.01).abs() < 1e-12);
        assert_eq!(Slo::parse("error_rate < 0.05").expect("valid").limit, 0.05);
        assert_eq!(slo.to_string(), "error_rate < 1.00%");
    }

    #[test]
    fn bad_objectives_say_why() {
        for bad in [
            "p99",
            "p98 < 5ms",
            "p99 < 5",
            "p99 < -5ms",
            "p99 < fast",
            "error_rate < 150%",
            "error_rate < 10ms",
        ] {
            let error = Slo::parse(bad).expect_err(bad).to_string();
            assert!(error.contains(bad.trim()), "{error}");
        }
    }

    #[test]
    fn the_plans_whole_run_latency_and_error_thresholds_are_objectives() {
        let threshold = |expr: &str| ThresholdResult {
            expr: expr.to_string(),
            passed: true,
            actual: None,
            abort: false,
        };
        let thresholds = [
            threshold("p99 < 250ms"),
            threshold("peak.achieved_rate > 99%"),
            threshold("recovery.error_rate < 1%"),
            threshold("checkout.p95 < 100ms"),
            threshold("tag(team = \"a\").p99 < 1s"),
            threshold("error_rate < 2%"),
            threshold("p95 <= 1.5s"),
            threshold("p90 < 1s"),
            threshold("p50 < 800us"),
            threshold("p99 < 250ms"),
        ];
        let slos: Vec<String> = from_thresholds(&thresholds)
            .iter()
            .map(Slo::to_string)
            .collect();
        assert_eq!(
            slos,
            [
                "p99 < 250 ms",
                "error_rate < 2.00%",
                "p95 <= 1500 ms",
                "p50 < 0.80 ms"
            ]
        );
    }

    #[test]
    fn the_comparison_is_strict_unless_inclusive() {
        let strict = Slo::parse("p99 < 10ms").expect("valid");
        let inclusive = Slo::parse("p99 <= 10ms").expect("valid");
        assert!(!strict.holds(10.0) && inclusive.holds(10.0));
        assert!(strict.holds(9.9) && !inclusive.holds(10.1));
    }
}
