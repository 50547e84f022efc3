//! Thresholds evaluated on recorded (merged) histograms and counters. `abort` thresholds are
//! also checked live, once a second, on everything recorded so far; a threshold whose metric
//! has no data yet (say, a later phase) is not crossed live, and fails at the end.
//!
//! Metrics: response-time percentiles, max and mean (µs, reported in ms); `error_rate` =
//! errors / organic requests (injected ones excluded); `achieved_rate` = arrivals sent within
//! their phase / planned (for a scenario: iterations started within their phase / (started +
//! dropped)), so arrivals sent late, after the phase's end, do not count as the rate held;
//! `dropped_rate` = dropped arrivals over the same totals; `iteration_pNN` and `completion_rate` = completed / (completed +
//! failed) over scenario iterations.

use crate::record::recorder::{add_histogram, new_histogram, Hist};
use crate::record::{Layout, Recorded};
use crate::result::ThresholdResult;
use ptl_bytecode::plan::{Metric, Plan, Scope, Threshold};

/// The cells a scope covers.
struct Cells {
    /// (phase, request).
    requests: Vec<(usize, usize)>,
    /// (phase, scenario).
    scenarios: Vec<(usize, usize)>,
    /// Phases whose arrival counts apply (empty for scenario and step scopes).
    phases: Vec<usize>,
}

fn cells(scope: Scope, layout: &Layout) -> Option<Cells> {
    let all_phases = 0..layout.phases.len();
    let every_request = |phases: &[usize]| -> Vec<(usize, usize)> {
        phases
            .iter()
            .flat_map(|&p| (0..layout.requests.len()).map(move |r| (p, r)))
            .collect()
    };
    let every_scenario = |phases: &[usize]| -> Vec<(usize, usize)> {
        phases
            .iter()
            .flat_map(|&p| (0..layout.scenarios.len()).map(move |s| (p, s)))
            .collect()
    };
    Some(match scope {
        Scope::All => {
            let phases: Vec<usize> = all_phases.collect();
            Cells {
                requests: every_request(&phases),
                scenarios: every_scenario(&phases),
                phases,
            }
        }
        Scope::Phase(p) => {
            let p = p as usize;
            if p >= layout.phases.len() {
                return None;
            }
            Cells {
                requests: every_request(&[p]),
                scenarios: every_scenario(&[p]),
                phases: vec![p],
            }
        }
        Scope::Scenario(s) => {
            let slot = layout.scenarios.get(s as usize)?;
            Cells {
                requests: all_phases
                    .clone()
                    .flat_map(|p| slot.requests.iter().map(move |&r| (p, r as usize)))
                    .collect(),
                scenarios: all_phases.map(|p| (p, s as usize)).collect(),
                phases: vec![],
            }
        }
        Scope::Step { scenario, step } => {
            let r = layout.request_of(scenario, step)? as usize;
            Cells {
                requests: all_phases.clone().map(|p| (p, r)).collect(),
                scenarios: all_phases.map(|p| (p, scenario as usize)).collect(),
                phases: vec![],
            }
        }
        // Request metrics only: the checker allows no arrival or iteration metric here.
        Scope::Tag(g) => {
            layout.tags.get(g as usize)?;
            let tagged: Vec<usize> = layout.requests_of_tag(g).collect();
            Cells {
                requests: all_phases
                    .flat_map(|p| tagged.iter().map(move |&r| (p, r)))
                    .collect(),
                scenarios: vec![],
                phases: vec![],
            }
        }
    })
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

fn merged_response(rec: &Recorded, cells: &Cells) -> Hist {
    let mut h = new_histogram();
    for &(p, r) in &cells.requests {
        if let Some(l) = rec.request_stats(p, r).and_then(|s| s.latency.as_ref()) {
            add_histogram(&mut h, &l.response);
        }
    }
    h
}

fn quantile(h: &Hist, percentile: f64) -> Option<f64> {
    (!h.is_empty()).then(|| h.value_at_quantile((percentile / 100.0).clamp(0.0, 1.0)) as f64)
}

/// The metric's value over the scope, in the threshold's own unit (µs for latencies, a
/// fraction for rates). `None` when there is no data to judge.
pub fn measure(layout: &Layout, rec: &Recorded, scope: Scope, metric: Metric) -> Option<f64> {
    let c = cells(scope, layout)?;
    match metric {
        Metric::Percentile(p) => quantile(&merged_response(rec, &c), p),
        Metric::Max => {
            let h = merged_response(rec, &c);
            (!h.is_empty()).then(|| h.max() as f64)
        }
        Metric::Mean => {
            let h = merged_response(rec, &c);
            (!h.is_empty()).then(|| h.mean())
        }
        Metric::ErrorRate => {
            let (mut errors, mut organic) = (0, 0);
            for &(p, r) in &c.requests {
                if let Some(s) = rec.request_stats(p, r) {
                    errors += s.error_total();
                    organic += s.completed.saturating_sub(s.injected_total());
                }
            }
            ratio(errors, organic)
        }
        Metric::AchievedRate | Metric::DroppedRate => {
            let (hit, total) = if c.phases.is_empty() {
                let (mut started, mut in_time, mut dropped) = (0, 0, 0);
                for &(p, s) in &c.scenarios {
                    if let Some(st) = rec.scenario_stats(p, s) {
                        started += st.iterations;
                        in_time += st.iterations.saturating_sub(st.sent_after_end);
                        dropped += st.dropped;
                    }
                }
                let hit = if metric == Metric::AchievedRate {
                    in_time
                } else {
                    dropped
                };
                (hit, started + dropped)
            } else {
                let (mut planned, mut started, mut dropped) = (0, 0, 0);
                for &p in &c.phases {
                    if let Some(pc) = rec.phase.get(p) {
                        planned += pc.planned;
                        started += pc.started_in_time();
                        dropped += pc.dropped;
                    }
                }
                let hit = if metric == Metric::AchievedRate {
                    started.min(planned)
                } else {
                    dropped
                };
                (hit, planned)
            };
            ratio(hit, total)
        }
        Metric::IterationPercentile(p) => {
            let mut h = new_histogram();
            for &(ph, s) in &c.scenarios {
                if let Some(t) = rec
                    .scenario_stats(ph, s)
                    .and_then(|st| st.iteration_time.as_ref())
                {
                    add_histogram(&mut h, t);
                }
            }
            quantile(&h, p)
        }
        Metric::CompletionRate => {
            let (mut completed, mut failed) = (0, 0);
            for &(p, s) in &c.scenarios {
                if let Some(st) = rec.scenario_stats(p, s) {
                    completed += st.completed;
                    failed += st.failed;
                }
            }
            ratio(completed, completed + failed)
        }
    }
}

fn is_latency(m: Metric) -> bool {
    matches!(
        m,
        Metric::Percentile(_) | Metric::Max | Metric::Mean | Metric::IterationPercentile(_)
    )
}

/// Judges one threshold. `actual` is in ms for latencies, a fraction for rates.
pub fn judge(layout: &Layout, rec: &Recorded, t: &Threshold) -> ThresholdResult {
    let measured = measure(layout, rec, t.scope, t.metric);
    ThresholdResult {
        expr: t.expr.clone(),
        passed: measured.is_some_and(|v| t.cmp.holds(v, t.value)),
        actual: measured.map(|v| if is_latency(t.metric) { v / 1000.0 } else { v }),
        abort: t.abort,
    }
}

/// Every threshold of the plan, judged at the end of the run.
pub fn evaluate(plan: &Plan, layout: &Layout, rec: &Recorded) -> Vec<ThresholdResult> {
    plan.thresholds
        .iter()
        .map(|t| judge(layout, rec, t))
        .collect()
}

/// The first `abort` threshold that is crossed on the data so far (live check).
pub fn crossed_abort<'p>(plan: &'p Plan, layout: &Layout, rec: &Recorded) -> Option<&'p Threshold> {
    plan.thresholds
        .iter()
        .filter(|t| t.abort)
        .find(|t| measure(layout, rec, t.scope, t.metric).is_some_and(|v| !t.cmp.holds(v, t.value)))
}
