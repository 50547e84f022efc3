//! Capacity analysis of a finished run (`ptl analyze`, docs/analysis.md): per step of planned
//! rate, whether each SLO held; the knee (the highest rate at which every SLO held at every
//! step up to it); the rate at which each SLO broke; a queueing model of p99 against rate and
//! its prediction at a named rate.
//!
//! [`steps`] groups the per-second series, [`fit`] fits the model, [`render`] writes the text
//! and JSON forms, [`chart`] the HTML page with its chart; this module judges the steps and
//! words the confidence notes.

pub mod chart;
pub mod fit;
pub mod render;
pub mod slo;
pub mod steps;

use crate::error::ReportError;
use crate::units::format_rps;
use fit::{Model, Prediction};
use ptl_engine::result::RunResult;
use serde::Serialize;
use slo::{Metric, Slo};
use steps::{Grouping, Step};

/// Steps judged on fewer seconds than this get a note: their percentiles rest on little data.
const SHORT_STEP_S: usize = 3;
/// A gap to the next step wider than this share of the knee gets a note: the knee is only
/// known to lie in between.
const COARSE_GAP: f64 = 0.10;
/// A step whose achieved rate falls below this share of its plan was not sustained by the
/// generator: it is left out of the model.
const SUSTAINED: f64 = 0.9;

/// The whole analysis: what `--format json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// The highest achieved rate at which every SLO held, at that step and every slower one;
    /// `None` when no step met every SLO or no SLO ever broke.
    pub knee_rps: Option<f64>,
    /// The planned rate of the knee's step.
    pub knee_target_rps: Option<f64>,
    /// The achieved rate of the first step (by rate) at which some SLO broke.
    pub first_break_rps: Option<f64>,
    pub slos: Vec<SloOutcome>,
    pub grouping: Grouping,
    pub steps: Vec<JudgedStep>,
    /// p99 against rate, fitted to the steps up to the first break that the generator
    /// sustained.
    pub model: Option<Model>,
    /// The model at `--at`.
    pub prediction: Option<Prediction>,
    /// How far to trust the knee: coarse or short steps, a generator that fell behind, SLOs that
    /// held again above the break.
    pub notes: Vec<String>,
}

/// One SLO over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloOutcome {
    pub slo: String,
    pub metric: Metric,
    pub limit: f64,
    /// The achieved rate of the slowest step at which it failed (`None`: it never did).
    pub broke_at_rps: Option<f64>,
    /// Its measured value at that step.
    pub value_at_break: Option<f64>,
    /// The highest rate below the break at which it held (`None`: it failed from the start).
    pub held_up_to_rps: Option<f64>,
}

/// A step and the SLOs it broke.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgedStep {
    #[serde(flatten)]
    pub step: Step,
    /// Every SLO held at this step.
    pub held: bool,
    /// The SLOs that failed here, as written.
    pub broken: Vec<String>,
}

/// Analyses `result` against `slos`, predicting p99 at `at` (requests per second) if given.
pub fn analyze(result: &RunResult, slos: &[Slo], at: Option<f64>) -> Result<Analysis, ReportError> {
    if slos.is_empty() {
        return Err(ReportError::Analysis("give at least one --slo".to_string()));
    }
    // A run stopped early (an abort threshold, Ctrl-C) ends inside a second: that second's
    // rate counts a fraction of it and would pass for a step the generator fell behind on.
    let series = match result.series.split_last() {
        Some((_, whole)) if result.stopped_early => whole,
        _ => &result.series[..],
    };
    let (grouping, steps) = steps::group(series);
    if steps.is_empty() {
        return Err(ReportError::Analysis(
            "the run has no second with a planned open-model rate (closed `users` phases and \
             empty runs cannot be analysed by rate)"
                .to_string(),
        ));
    }
    let judged: Vec<JudgedStep> = steps
        .into_iter()
        .map(|step| {
            let broken: Vec<String> = slos
                .iter()
                .filter(|slo| !slo.holds(value(&step, slo.metric)))
                .map(Slo::to_string)
                .collect();
            JudgedStep {
                held: broken.is_empty(),
                broken,
                step,
            }
        })
        .collect();
    let mut by_rate: Vec<&JudgedStep> = judged.iter().collect();
    // By plan, not by what was achieved: a step the generator could not hold (its host
    // stalled) must not pass for a slower one.
    by_rate.sort_by(|a, b| a.step.target_rps.total_cmp(&b.step.target_rps));

    let outcomes: Vec<SloOutcome> = slos.iter().map(|slo| outcome(slo, &by_rate)).collect();
    let first_break = confirmed_break(&by_rate, |s| s.held);
    let knee = match first_break {
        Some(0) | None => None,
        Some(i) => Some(by_rate[i - 1]),
    };

    let below_break = first_break.map_or(by_rate.len(), |i| i + 1);
    let points: Vec<(f64, f64)> = by_rate[..below_break]
        .iter()
        .filter(|s| s.step.p99_ms > 0.0 && sustained(&s.step))
        .map(|s| (s.step.achieved_rps, s.step.p99_ms))
        .collect();
    let model = fit::fit(&points);
    let prediction = match (&model, at) {
        (Some(model), Some(rps)) => Some(fit::predict(&points, model, rps)),
        _ => None,
    };

    let notes = notes(grouping, &by_rate, first_break, knee, model.is_none(), at);
    Ok(Analysis {
        knee_rps: knee.map(|s| s.step.achieved_rps),
        knee_target_rps: knee.map(|s| s.step.target_rps),
        first_break_rps: first_break.map(|i| by_rate[i].step.achieved_rps),
        slos: outcomes,
        grouping,
        steps: judged,
        model,
        prediction,
        notes,
    })
}

/// A rate as `--at` and the dashboard's `at` take it: `5000/s` or `5000`, above zero.
pub fn parse_rate(text: &str) -> Option<f64> {
    let t = text.trim();
    let number = t.strip_suffix("/s").unwrap_or(t).trim();
    number
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
}

fn sustained(step: &Step) -> bool {
    step.achieved_rps >= SUSTAINED * step.target_rps
}

fn value(step: &Step, metric: Metric) -> f64 {
    match metric {
        Metric::P50 => step.p50_ms,
        Metric::P95 => step.p95_ms,
        Metric::P99 => step.p99_ms,
        Metric::ErrorRate => step.error_rate,
    }
}

/// The slowest step (an index into `by_rate`) that failed and whose next faster step failed
/// too (or which is the fastest): a lone failed step with passing steps above it is a hiccup,
/// not the service's limit, and is named in the notes instead.
fn confirmed_break(by_rate: &[&JudgedStep], holds: impl Fn(&JudgedStep) -> bool) -> Option<usize> {
    (0..by_rate.len())
        .find(|&i| !holds(by_rate[i]) && by_rate.get(i + 1).is_none_or(|next| !holds(next)))
}

fn outcome(slo: &Slo, by_rate: &[&JudgedStep]) -> SloOutcome {
    let broke = confirmed_break(by_rate, |s| slo.holds(value(&s.step, slo.metric)));
    let held_up_to = match broke {
        Some(0) => None,
        Some(i) => Some(by_rate[i - 1].step.achieved_rps),
        None => by_rate.last().map(|s| s.step.achieved_rps),
    };
    SloOutcome {
        slo: slo.to_string(),
        metric: slo.metric,
        limit: slo.limit,
        broke_at_rps: broke.map(|i| by_rate[i].step.achieved_rps),
        value_at_break: broke.map(|i| value(&by_rate[i].step, slo.metric)),
        held_up_to_rps: held_up_to,
    }
}

fn notes(
    grouping: Grouping,
    by_rate: &[&JudgedStep],
    first_break: Option<usize>,
    knee: Option<&JudgedStep>,
    no_model: bool,
    at: Option<f64>,
) -> Vec<String> {
    let mut notes = Vec::new();
    let below = first_break.unwrap_or(by_rate.len());
    let hiccups: Vec<String> = by_rate[..below]
        .iter()
        .filter(|s| !s.held)
        .map(|s| format_rps(s.step.achieved_rps))
        .collect();
    if !hiccups.is_empty() {
        notes.push(format!(
            "an SLO failed at {} but held at the next faster step: taken as a hiccup, not the \
             limit; a longer run would tell",
            hiccups.join(", ")
        ));
    }
    if grouping == Grouping::RampWindows {
        notes.push(format!(
            "the plan ramps: its seconds are judged in {}-second windows, each spanning a range \
             of rates; a `steps` phase gives a firmer knee",
            steps::RAMP_WINDOW
        ));
    }
    let shortest = by_rate.iter().map(|s| s.step.judged_s).min().unwrap_or(0);
    if shortest < SHORT_STEP_S {
        notes.push(format!(
            "steps are short (as few as {shortest} s judged): their percentiles rest on few \
             seconds; hold each rate longer for a firmer knee"
        ));
    }
    match (first_break, knee) {
        (Some(0), _) => notes.push(
            "an SLO failed already at the slowest step: the knee is below the rates tested"
                .to_string(),
        ),
        (None, _) => {
            notes.push("no SLO broke: the knee is above the fastest step tested".to_string())
        }
        (Some(i), Some(knee)) => {
            let next = by_rate[i].step.achieved_rps;
            let at_knee = knee.step.achieved_rps;
            if next - at_knee > COARSE_GAP * at_knee {
                notes.push(format!(
                    "steps are coarse: the knee lies between {} and {}",
                    format_rps(at_knee),
                    format_rps(next)
                ));
            }
            if let Some(again) = by_rate[i + 1..].iter().rev().find(|s| s.held) {
                notes.push(format!(
                    "every SLO held again at {}, above the first break at {}: a noisy run; \
                     the knee is the last rate before the first break",
                    format_rps(again.step.achieved_rps),
                    format_rps(next)
                ));
            }
        }
        (Some(_), None) => {}
    }
    let behind: Vec<String> = by_rate
        .iter()
        .filter(|s| !sustained(&s.step))
        .map(|s| format_rps(s.step.target_rps))
        .collect();
    if !behind.is_empty() {
        notes.push(format!(
            "the generator did not sustain the planned rate at {} (achieved under {:.0}% of \
             plan): those steps measure the generator as much as the target",
            behind.join(", "),
            SUSTAINED * 100.0
        ));
    }
    if no_model {
        notes.push(
            "too few steps below the break (three distinct rates are needed) to fit a \
             latency model"
                .to_string(),
        );
        if at.is_some() {
            notes.push("no prediction at --at without a model".to_string());
        }
    }
    notes
}

#[cfg(test)]
pub(crate) mod tests {
    use super::steps::tests::second;
    use super::*;
    use ptl_engine::result::SeriesPoint;

    fn run(series: Vec<SeriesPoint>) -> RunResult {
        let json = serde_json::json!({
            "schema": 1, "ptl_version": "test", "plan": "p", "plan_hash": "", "params": {},
            "seed": 0, "target": "http://127.0.0.1", "started_at": "", "duration_s": 1.0,
            "stopped_early": false, "stop_reason": null,
            "total": {"requests": 0, "errors": 0, "dropped": 0, "achieved_rps": 0.0,
                      "response_time_ms": null, "service_time_ms": null,
                      "schedule_lag_ms": null, "errors_by_class": {}},
            "phases": [], "thresholds": [], "series": series,
        });
        serde_json::from_value(json).expect("a run result")
    }

    /// Steps of 100/s..1000/s, 4 s each, on an M/M/1-like curve of capacity 800/s: the
    /// latency explodes and errors appear from 800/s on.
    pub(crate) fn queue_run() -> RunResult {
        let mut series = Vec::new();
        let mut t = 0;
        for rate in (1..=10).map(|i| 100.0 * f64::from(i)) {
            for _ in 0..4 {
                let (p99, errors) = if rate < 800.0 {
                    (10.0 + 4000.0 / (800.0 - rate), 0)
                } else {
                    (900.0, (rate * 0.2) as u64)
                };
                series.push(second(t, rate, p99, errors));
                t += 1;
            }
        }
        run(series)
    }

    #[test]
    fn the_knee_is_the_last_step_every_slo_held() {
        let slos = [
            Slo::parse("p99 < 50ms").expect("valid"),
            Slo::parse("error_rate < 1%").expect("valid"),
        ];
        let analysis = analyze(&queue_run(), &slos, Some(750.0)).expect("analyses");
        // p99 is 30 ms at 600/s, 50 ms at 700/s: the latency SLO breaks first.
        assert_eq!(analysis.knee_rps, Some(600.0));
        assert_eq!(analysis.first_break_rps, Some(700.0));
        assert_eq!(analysis.slos[0].broke_at_rps, Some(700.0));
        assert_eq!(analysis.slos[1].broke_at_rps, Some(800.0));
        assert_eq!(analysis.slos[1].held_up_to_rps, Some(700.0));
        let model = analysis.model.expect("a model");
        let capacity = model.capacity_rps.expect("curved");
        assert!((capacity - 800.0).abs() < 5.0, "{capacity}");
        let p99 = analysis
            .prediction
            .and_then(|p| p.p99_ms)
            .expect("below capacity");
        assert!((p99 - 90.0).abs() < 5.0, "{p99}");
        assert!(analysis.notes.iter().any(|n| n.contains("coarse")));
        let json = serde_json::to_value(&analysis).expect("serialises");
        assert_eq!(json["knee_rps"], 600.0);
        assert_eq!(json["steps"][0]["target_rps"], 100.0);
    }

    #[test]
    fn no_knee_when_nothing_broke_or_nothing_held() {
        let never = [Slo::parse("p99 < 10s").expect("valid")];
        let analysis = analyze(&queue_run(), &never, None).expect("analyses");
        assert_eq!(analysis.knee_rps, None);
        assert_eq!(analysis.slos[0].broke_at_rps, None);
        assert!(analysis.notes.iter().any(|n| n.contains("no SLO broke")));

        let always = [Slo::parse("p99 < 1ms").expect("valid")];
        let analysis = analyze(&queue_run(), &always, None).expect("analyses");
        assert_eq!(analysis.knee_rps, None);
        assert_eq!(analysis.slos[0].held_up_to_rps, None);
        let json = serde_json::to_value(&analysis).expect("serialises");
        assert!(json["knee_rps"].is_null());
    }

    #[test]
    fn a_lone_failed_step_is_a_hiccup_not_the_knee() {
        let mut result = queue_run();
        // Every second of the 300/s step is slow, the steps above it are not.
        for point in result.series.iter_mut().filter(|p| p.target_rps == 300.0) {
            point.p99_ms = 500.0;
        }
        let slos = [Slo::parse("p99 < 50ms").expect("valid")];
        let analysis = analyze(&result, &slos, None).expect("analyses");
        assert_eq!(analysis.knee_rps, Some(600.0));
        assert!(!analysis.steps[2].held);
        assert!(analysis.notes.iter().any(|n| n.contains("hiccup")));
    }

    #[test]
    fn the_partial_last_second_of_a_stopped_run_is_left_out() {
        let mut result = queue_run();
        if let Some(last) = result.series.last_mut() {
            last.achieved_rps = 10.0;
        }
        result.stopped_early = true;
        let slos = [Slo::parse("p99 < 50ms").expect("valid")];
        let analysis = analyze(&result, &slos, None).expect("analyses");
        let last = analysis.steps.last().expect("steps");
        assert_eq!(last.step.achieved_rps, 1000.0);
        assert!(!analysis.notes.iter().any(|n| n.contains("did not sustain")));
    }

    #[test]
    fn runs_without_rates_or_slos_are_errors() {
        let slos = [Slo::parse("p99 < 1s").expect("valid")];
        assert!(analyze(&run(Vec::new()), &slos, None).is_err());
        assert!(analyze(&queue_run(), &[], None).is_err());
    }
}
