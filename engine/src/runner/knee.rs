//! `stop_at knee`: once a second, the run's newest step is judged by the plan's whole-run
//! objectives (the thresholds that [`Threshold::judges_a_step`]), and the run stops at the first
//! step that breaks one, so a capacity test does not hold a service past its knee for longer
//! than it takes to see it.
//!
//! A step is a stretch of seconds of one phase at one planned rate, as `ptl analyze` groups
//! them. Its first second is left out (the queue of the previous rate still settling), and it is
//! judged from its second judged second on by the lower median of those seconds' figures, so a
//! lone slow second never stops a run. A ramp, whose rate changes every second, is judged in
//! windows of [`RAMP_WINDOW`] seconds counted from the run's first second of planned rate, the
//! windows `ptl analyze` judges it in.

use crate::result::SeriesPoint;
use ptl_bytecode::plan::{Metric, Plan, Threshold};

/// Seconds per window of a ramp (`ptl analyze`'s too).
pub const RAMP_WINDOW: usize = 5;
/// Judged seconds (settling second excluded) a step needs before it is judged.
const JUDGED_FROM: usize = 2;

/// What `stop_at knee` judges by.
pub struct KneeWatch {
    objectives: Vec<Threshold>,
}

impl KneeWatch {
    /// `None` when the plan does not stop at the knee (or, which the compiler refuses, has
    /// nothing to judge a step by).
    pub fn of(plan: &Plan) -> Option<KneeWatch> {
        if !plan.stop_at_knee {
            return None;
        }
        let objectives: Vec<Threshold> = plan
            .thresholds
            .iter()
            .filter(|t| t.judges_a_step())
            .cloned()
            .collect();
        (!objectives.is_empty()).then_some(KneeWatch { objectives })
    }

    /// Why to stop, when the newest step (or ramp window) of `series` broke an objective.
    pub fn broken(&self, series: &[SeriesPoint]) -> Option<String> {
        let judged = newest_step(series)?;
        let rate = judged.iter().map(|p| p.target_rps).sum::<f64>() / judged.len() as f64;
        let broken: Vec<&str> = self
            .objectives
            .iter()
            .filter(|t| !t.cmp.holds(lower_median(&judged, t.metric), t.value))
            .map(|t| t.expr.as_str())
            .collect();
        (!broken.is_empty()).then(|| {
            format!(
                "stop_at knee: {} broke at the step planned at {}",
                broken.join(", "),
                rate_text(rate)
            )
        })
    }
}

/// The judged seconds of the newest step, once there are enough of them; for a ramp, the newest
/// window once it is whole.
fn newest_step(series: &[SeriesPoint]) -> Option<Vec<&SeriesPoint>> {
    let rated: Vec<&SeriesPoint> = series
        .iter()
        .filter(|p| p.target_rps > 0.0 && p.paused < 0.5)
        .collect();
    let last = *rated.last()?;
    let run = rated
        .iter()
        .rev()
        .take_while(|p| p.same_step_as(last))
        .count();
    if run > JUDGED_FROM {
        return Some(rated[rated.len() - run + 1..].to_vec());
    }
    let ramping = run == 1 && rated.len() >= 2 && !rated[rated.len() - 2].same_step_as(last);
    (ramping && rated.len().is_multiple_of(RAMP_WINDOW))
        .then(|| rated[rated.len() - RAMP_WINDOW..].to_vec())
}

/// The lower of the two middle values for an even count: a step breaks only when at least half
/// of its seconds did.
fn lower_median(points: &[&SeriesPoint], metric: Metric) -> f64 {
    let mut values: Vec<f64> = points.iter().map(|p| value(p, metric)).collect();
    values.sort_by(f64::total_cmp);
    values
        .get(values.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0.0)
}

/// A second's figure in the threshold's unit: microseconds, or a fraction.
fn value(point: &SeriesPoint, metric: Metric) -> f64 {
    let ms = match metric {
        Metric::Percentile(p) if p <= 50.0 => point.p50_ms,
        Metric::Percentile(p) if p <= 95.0 => point.p95_ms,
        Metric::Percentile(_) => point.p99_ms,
        _ => return point.error_rate(),
    };
    ms * 1000.0
}

fn rate_text(rps: f64) -> String {
    if rps < 100.0 {
        format!("{rps:.1}/s")
    } else {
        format!("{rps:.0}/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptl_bytecode::plan::{Cmp, Load, Phase, Scope};

    fn plan(thresholds: Vec<Threshold>) -> Plan {
        let load = Load::Rate {
            per_sec: 1.0,
            duration_us: 1_000_000,
        };
        Plan {
            stop_at_knee: true,
            thresholds,
            ..Plan::get_root(
                "p",
                "http://127.0.0.1:9",
                "get",
                vec![Phase::new("p", load)],
            )
        }
    }

    fn threshold(expr: &str, metric: Metric, value: f64) -> Threshold {
        Threshold {
            expr: expr.into(),
            scope: Scope::All,
            metric,
            cmp: Cmp::Lt,
            value,
            abort: false,
        }
    }

    fn second(t: u64, rate: f64, p99_ms: f64, errors: u64) -> SeriesPoint {
        SeriesPoint {
            t,
            phase: "steps".into(),
            target_rps: rate,
            achieved_rps: rate,
            errors,
            p50_ms: p99_ms / 4.0,
            p95_ms: p99_ms / 2.0,
            p99_ms,
            max_ms: p99_ms,
            ..SeriesPoint::default()
        }
    }

    /// Steps of 4 s at 100/s, 200/s, 300/s: p99 10 ms, then `slow` from the third step's
    /// second second on (its first is the settling one).
    fn steps(slow: &[u64]) -> Vec<SeriesPoint> {
        (0..12u64)
            .map(|t| {
                let rate = 100.0 * (t / 4 + 1) as f64;
                let p99 = if slow.contains(&t) { 200.0 } else { 10.0 };
                second(t, rate, p99, 0)
            })
            .collect()
    }

    #[test]
    fn a_step_that_breaks_an_objective_on_half_its_seconds_stops_the_run() {
        let watch = KneeWatch::of(&plan(vec![threshold(
            "p99 < 100ms",
            Metric::Percentile(99.0),
            100_000.0,
        )]))
        .expect("stops at the knee");
        let series = steps(&[9, 10, 11]);
        // Seconds 8 (settling) and 9: one judged second is not enough.
        assert_eq!(watch.broken(&series[..10]), None);
        assert_eq!(
            watch.broken(&series[..11]).as_deref(),
            Some("stop_at knee: p99 < 100ms broke at the step planned at 300/s")
        );
        // A lone slow second of three is a hiccup; the settling second never counts.
        assert_eq!(watch.broken(&steps(&[10])[..12]), None);
        assert_eq!(watch.broken(&steps(&[8])[..12]), None);
        assert_eq!(
            watch.broken(&steps(&[5, 6])[..8]),
            Some("stop_at knee: p99 < 100ms broke at the step planned at 200/s".to_string())
        );
    }

    #[test]
    fn errors_count_against_the_seconds_requests_and_ramps_are_judged_in_windows() {
        let watch = KneeWatch::of(&plan(vec![threshold(
            "error_rate < 1%",
            Metric::ErrorRate,
            0.01,
        )]))
        .expect("stops at the knee");
        // A ramp: a new rate each second, 5 % errors from second 5 on.
        let ramp: Vec<SeriesPoint> = (0..10u64)
            .map(|t| second(t, 100.0 + 10.0 * t as f64, 5.0, if t >= 5 { 10 } else { 0 }))
            .collect();
        assert_eq!(watch.broken(&ramp[..5]), None);
        assert_eq!(
            watch.broken(&ramp[..8]),
            None,
            "the window is not whole yet"
        );
        let reason = watch.broken(&ramp).expect("the second window broke");
        assert!(reason.contains("error_rate < 1%"), "{reason}");
        assert!(reason.contains("170/s"), "{reason}");
    }

    #[test]
    fn only_plans_that_ask_and_can_judge_are_watched() {
        let p99 = threshold("p99 < 100ms", Metric::Percentile(99.0), 100_000.0);
        assert!(KneeWatch::of(&Plan {
            stop_at_knee: false,
            ..plan(vec![p99])
        })
        .is_none());
        let p90 = threshold("p90 < 100ms", Metric::Percentile(90.0), 100_000.0);
        assert!(KneeWatch::of(&plan(vec![p90])).is_none());
    }
}
