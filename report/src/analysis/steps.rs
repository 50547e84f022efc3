//! Grouping a run's per-second series into steps of one planned rate, each summarised by its
//! rate, percentiles and error rate.
//!
//! A `steps` phase holds each rate for a while: consecutive seconds with the same planned rate
//! (same phase, within 1 %) form a step, and its first second is left out when the step is long
//! enough, since a queue left by the previous rate is still settling then. A ramp changes its
//! rate every second: its seconds are judged in windows of [`RAMP_WINDOW`] instead.

use ptl_engine::result::SeriesPoint;
use serde::Serialize;

/// Seconds per window when the plan ramps instead of stepping (those `stop_at knee` judges).
pub const RAMP_WINDOW: usize = ptl_engine::runner::knee::RAMP_WINDOW;
/// Steps at least this long lose their first (settling) second.
const SETTLE_FROM: usize = 3;

/// One planned rate held for a stretch of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// First and last second of the step (from the run's start), settling second included.
    pub from_s: u64,
    pub to_s: u64,
    /// Seconds the figures below are computed from.
    pub judged_s: usize,
    pub target_rps: f64,
    pub achieved_rps: f64,
    /// The median of the judged seconds' percentiles: robust to one second's hiccup (a pause
    /// of the generator's host), and an estimate (the exact percentile of a step needs its
    /// histogram).
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// The median of the judged seconds' errors / requests sent (a stall of the generator's
    /// or the target's host sheds or fails a burst within one second; the median leaves it out).
    pub error_rate: f64,
    /// Arrivals the generator dropped / planned, over the judged seconds.
    pub dropped_rate: f64,
}

/// How the seconds were grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    /// Constant-rate steps (a `steps` phase, or several `rate` phases).
    Steps,
    /// A ramp, judged in windows of [`RAMP_WINDOW`] seconds.
    RampWindows,
}

/// Groups the series into steps, in run order. Seconds that planned nothing (pauses, the
/// drain after the last phase) are left out.
pub fn group(series: &[SeriesPoint]) -> (Grouping, Vec<Step>) {
    let points: Vec<&SeriesPoint> = series
        .iter()
        .filter(|p| p.target_rps > 0.0 && p.paused < 0.5)
        .collect();
    let runs = constant_runs(&points);
    let mut lengths: Vec<usize> = runs.iter().map(|r| r.len()).collect();
    lengths.sort_unstable();
    let typical = lengths.get(lengths.len() / 2).copied().unwrap_or(0);
    if typical >= SETTLE_FROM || points.len() < RAMP_WINDOW {
        let steps = runs
            .iter()
            .map(|run| {
                let judged = if run.len() >= SETTLE_FROM {
                    &run[1..]
                } else {
                    &run[..]
                };
                summarise(run, judged)
            })
            .collect();
        return (Grouping::Steps, steps);
    }
    let steps = points
        .chunks(RAMP_WINDOW)
        .filter(|window| window.len() * 2 >= RAMP_WINDOW)
        .map(|window| summarise(window, window))
        .collect();
    (Grouping::RampWindows, steps)
}

/// Maximal stretches of consecutive points in one phase with the same planned rate.
fn constant_runs<'a>(points: &[&'a SeriesPoint]) -> Vec<Vec<&'a SeriesPoint>> {
    let mut runs: Vec<Vec<&SeriesPoint>> = Vec::new();
    for &point in points {
        let joins = runs.last().is_some_and(|run| {
            let first = run[0];
            let last = run[run.len() - 1];
            point.same_step_as(first) && point.t <= last.t + 2
        });
        match runs.last_mut() {
            Some(run) if joins => run.push(point),
            _ => runs.push(vec![point]),
        }
    }
    runs
}

fn summarise(all: &[&SeriesPoint], judged: &[&SeriesPoint]) -> Step {
    let n = judged.len().max(1) as f64;
    let planned: f64 = judged.iter().map(|p| p.target_rps).sum();
    let dropped: f64 = judged.iter().map(|p| p.dropped as f64).sum();
    let median = |value: &dyn Fn(&SeriesPoint) -> f64| {
        let mut values: Vec<f64> = judged.iter().map(|p| value(p)).collect();
        values.sort_by(f64::total_cmp);
        match values.len() {
            0 => 0.0,
            len if len % 2 == 1 => values[len / 2],
            len => (values[len / 2 - 1] + values[len / 2]) / 2.0,
        }
    };
    Step {
        from_s: all.first().map_or(0, |p| p.t),
        to_s: all.last().map_or(0, |p| p.t),
        judged_s: judged.len(),
        target_rps: planned / n,
        achieved_rps: judged.iter().map(|p| p.achieved_rps).sum::<f64>() / n,
        p50_ms: median(&|p| p.p50_ms),
        p95_ms: median(&|p| p.p95_ms),
        p99_ms: median(&|p| p.p99_ms),
        error_rate: median(&SeriesPoint::error_rate),
        dropped_rate: ratio(dropped, planned),
    }
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        (part / whole).min(1.0)
    } else {
        0.0
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A second at `rate`, all sent, with this p99 and error count.
    pub(crate) fn second(t: u64, rate: f64, p99_ms: f64, errors: u64) -> SeriesPoint {
        SeriesPoint {
            t,
            phase: "steps".to_string(),
            target_rps: rate,
            achieved_rps: rate,
            errors,
            p50_ms: p99_ms / 4.0,
            p95_ms: p99_ms / 2.0,
            p99_ms,
            max_ms: p99_ms * 2.0,
            ..SeriesPoint::default()
        }
    }

    #[test]
    fn constant_rates_form_steps_without_their_settling_second() {
        let mut series = Vec::new();
        for (i, rate) in [100.0, 200.0, 300.0].into_iter().enumerate() {
            for s in 0..4 {
                let t = (i * 4 + s) as u64;
                // The first second of each step is an outlier the step must not see.
                let p99 = if s == 0 { 1000.0 } else { rate / 10.0 };
                series.push(second(t, rate, p99, if s == 0 { 50 } else { 1 }));
            }
        }
        // The drain after the last phase plans nothing.
        series.push(second(12, 0.0, 5.0, 0));
        let (grouping, steps) = group(&series);
        assert_eq!(grouping, Grouping::Steps);
        assert_eq!(steps.len(), 3);
        for (step, rate) in steps.iter().zip([100.0, 200.0, 300.0]) {
            assert_eq!(step.target_rps, rate);
            assert_eq!(step.judged_s, 3);
            assert!((step.p99_ms - rate / 10.0).abs() < 1e-9);
            assert!((step.error_rate - 1.0 / rate).abs() < 1e-12);
        }
        assert_eq!((steps[1].from_s, steps[1].to_s), (4, 7));
    }

    #[test]
    fn a_ramp_is_judged_in_windows() {
        let series: Vec<SeriesPoint> = (0..20)
            .map(|t| second(t, 10.0 * (t + 1) as f64, 5.0, 0))
            .collect();
        let (grouping, steps) = group(&series);
        assert_eq!(grouping, Grouping::RampWindows);
        assert_eq!(steps.len(), 4);
        assert_eq!(steps[0].target_rps, 30.0);
        assert_eq!(steps[0].judged_s, RAMP_WINDOW);
    }

    proptest! {
        /// Whatever the step lengths, every planned second lands in exactly one step and
        /// each step holds one rate.
        #[test]
        fn steps_cover_the_series(lengths in prop::collection::vec(3usize..8, 1..10)) {
            let mut series = Vec::new();
            let mut t = 0;
            for (i, len) in lengths.iter().enumerate() {
                for _ in 0..*len {
                    series.push(second(t, 100.0 * (i + 1) as f64, 10.0, 0));
                    t += 1;
                }
            }
            let (grouping, steps) = group(&series);
            prop_assert_eq!(grouping, Grouping::Steps);
            prop_assert_eq!(steps.len(), lengths.len());
            let covered: u64 = steps.iter().map(|s| s.to_s - s.from_s + 1).sum();
            prop_assert_eq!(covered, t);
            for (i, step) in steps.iter().enumerate() {
                prop_assert_eq!(step.target_rps, 100.0 * (i + 1) as f64);
                prop_assert_eq!(step.judged_s, lengths[i] - 1);
            }
        }
    }
}
