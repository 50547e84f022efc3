//! Turns the run's merged record into the `results::RunResult` users read: per phase, per
//! request and per scenario counts and latency percentiles, totals, thresholds and the series.

use crate::record::recorder::{add_histogram, new_histogram, Hist, Latencies};
use crate::record::{ErrorClass, FaultKind, Layout, Recorded, RequestStats};
use crate::result::{
    GroupResult, HostResult, Latency, PauseWindow, PhaseResult, RequestResult, RunResult,
    ScenarioResult, SeriesPoint, TagResult, ThresholdResult, Totals,
};
use ptl_bytecode::plan::Plan;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// Version of the results JSON this module writes.
/// The result's format version (docs/results.md): 2 since a latency with no sample is `null`.
pub const SCHEMA: u32 = 2;

/// What the summary is built from.
pub struct SummaryInput<'a> {
    pub plan: &'a Plan,
    pub layout: &'a Layout,
    pub recorded: &'a Recorded,
    pub plan_hash: String,
    pub started_at: SystemTime,
    /// From the run start to the end of the schedule (or the stop).
    pub duration: Duration,
    /// How long each phase ran, in seconds (0 for phases never reached).
    pub phase_seconds: Vec<f64>,
    /// Mean planned arrival rate of each phase (this agent's share).
    pub phase_target_rps: Vec<f64>,
    pub stop_reason: Option<String>,
    pub thresholds: Vec<ThresholdResult>,
    pub series: Vec<SeriesPoint>,
}

/// When a run was paused, for [`build_paused`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Paused {
    /// The pauses, as `results.json` lists them.
    pub windows: Vec<PauseWindow>,
    /// Paused time within each phase, µs (missing entries: 0). Left out of the phase's and
    /// the run's achieved rates.
    pub phase_us: Vec<u64>,
}

/// Percentiles of a µs histogram, in ms. An empty histogram gives zeros.
/// The percentiles of `h`; `None` when it holds no sample, so "no data" never reads as 0 ms.
pub fn latency(h: &Hist) -> Option<Latency> {
    if h.is_empty() {
        return None;
    }
    let q = |x: f64| h.value_at_quantile(x) as f64 / 1000.0;
    Some(Latency {
        p50: q(0.50),
        p90: q(0.90),
        p95: q(0.95),
        p99: q(0.99),
        p999: q(0.999),
        max: h.max() as f64 / 1000.0,
        mean: h.mean() / 1000.0,
    })
}

fn per_second(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        n as f64 / seconds
    } else {
        0.0
    }
}

fn errors_by_class(errors: &[u64; ErrorClass::COUNT]) -> BTreeMap<String, u64> {
    ErrorClass::ALL
        .iter()
        .filter(|c| errors[c.index()] > 0)
        .map(|c| (c.as_str().to_string(), errors[c.index()]))
        .collect()
}

fn injected(counts: &[u64; FaultKind::COUNT]) -> BTreeMap<String, u64> {
    FaultKind::ALL
        .iter()
        .filter(|k| counts[k.index()] > 0)
        .map(|k| (k.as_str().to_string(), counts[k.index()]))
        .collect()
}

fn status_codes(statuses: &[(u16, u64)]) -> BTreeMap<String, u64> {
    statuses
        .iter()
        .map(|(code, n)| (code.to_string(), *n))
        .collect()
}

fn request_result(layout: &Layout, r: usize, s: &RequestStats, seconds: f64) -> RequestResult {
    let lat = s.latency.as_deref();
    let slot = &layout.requests[r];
    RequestResult {
        name: slot.name.clone(),
        host: (layout.hosts.len() > 1)
            .then(|| layout.hosts.get(slot.host).cloned())
            .flatten(),
        tags: slot
            .tags
            .iter()
            .filter_map(|&t| layout.tags.get(t as usize))
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect(),
        requests: s.completed,
        errors: s.error_total(),
        dropped: s.dropped,
        achieved_rps: per_second(s.completed_in_time(), seconds),
        sent_after_end: s.sent_after_end,
        errors_by_class: errors_by_class(&s.errors),
        injected: injected(&s.injected),
        status_codes: status_codes(&s.statuses),
        response_time_ms: lat.and_then(|l| latency(&l.response)),
        service_time_ms: lat.and_then(|l| latency(&l.service)),
        schedule_lag_ms: lat.and_then(|l| latency(&l.lag)),
        skipped: s.skipped,
    }
}

/// Scenarios a phase draws from: its mix, else every scenario of positive default weight
/// (every scenario if none has one).
fn phase_scenarios(plan: &Plan, phase: usize) -> Vec<bool> {
    let n = plan.scenarios.len();
    let mut member = vec![false; n];
    match plan.phases.get(phase).and_then(|p| p.mix.as_ref()) {
        Some(mix) if mix.iter().any(|&(_, w)| w > 0) => {
            for &(s, w) in mix {
                if let Some(m) = member.get_mut(s as usize) {
                    *m |= w > 0;
                }
            }
        }
        _ => {
            let any = plan.scenarios.iter().any(|s| s.weight > 0);
            for (m, s) in member.iter_mut().zip(&plan.scenarios) {
                *m = !any || s.weight > 0;
            }
        }
    }
    member
}

/// The result of a run never paused.
pub fn build(input: SummaryInput<'_>) -> RunResult {
    build_paused(input, &Paused::default())
}

/// The result of a run paused as `paused` says: `phase_seconds` and `duration` are wall
/// time, pauses included; rates are over the time not paused.
pub fn build_paused(input: SummaryInput<'_>, paused: &Paused) -> RunResult {
    let paused_s = |p: usize| paused.phase_us.get(p).copied().unwrap_or(0) as f64 / 1e6;
    let SummaryInput {
        plan,
        layout,
        recorded: rec,
        ..
    } = &input;
    let mut total_stats = RequestStats::default();
    let mut total_lat = Latencies::default();
    let (mut total_in_time, mut total_late, mut total_dropped) = (0u64, 0u64, 0u64);
    let mut phases = Vec::with_capacity(layout.phases.len());
    for (p, name) in layout.phases.iter().enumerate() {
        let wall_seconds = input.phase_seconds.get(p).copied().unwrap_or(0.0);
        // Rates are over running time: the phase's span less its paused time.
        let seconds = (wall_seconds - paused_s(p)).max(0.0);
        let counts = rec.phase.get(p).copied().unwrap_or_default();
        total_in_time += counts.started_in_time();
        total_late += counts.sent_after_end;
        total_dropped += counts.dropped;
        let member = phase_scenarios(plan, p);
        let mut phase_stats = RequestStats::default();
        let mut requests = Vec::new();
        for (r, slot) in layout.requests.iter().enumerate() {
            let Some(s) = rec.request_stats(p, r) else {
                continue;
            };
            phase_stats.add(s);
            if member.get(slot.scenario as usize).copied().unwrap_or(false) || !s.is_empty() {
                requests.push(request_result(layout, r, s, seconds));
            }
        }
        let mut scenarios = Vec::new();
        for (si, slot) in layout.scenarios.iter().enumerate() {
            if slot.single_request {
                continue;
            }
            let Some(st) = rec.scenario_stats(p, si) else {
                continue;
            };
            if !member.get(si).copied().unwrap_or(false) && st.iterations == 0 && st.dropped == 0 {
                continue;
            }
            let steps = slot
                .requests
                .iter()
                .filter_map(|&r| {
                    let s = rec.request_stats(p, r as usize)?;
                    Some(request_result(layout, r as usize, s, seconds))
                })
                .collect();
            scenarios.push(ScenarioResult {
                name: slot.name.clone(),
                iterations: st.iterations,
                completed: st.completed,
                failed: st.failed,
                dropped: st.dropped,
                sent_after_end: st.sent_after_end,
                iteration_time_ms: st.iteration_time.as_deref().and_then(latency),
                steps,
            });
        }
        let lat = phase_stats.latency.take().unwrap_or_default();
        total_lat.add(&lat);
        total_stats.add(&phase_stats);
        phases.push(PhaseResult {
            name: name.clone(),
            target_rps: input.phase_target_rps.get(p).copied().unwrap_or(0.0),
            // Only what went out within the phase: a rate that was not held is not hidden by
            // arrivals sent late, after its end.
            achieved_rps: per_second(counts.started_in_time(), seconds),
            duration_s: wall_seconds,
            paused_ms: paused.phase_us.get(p).copied().unwrap_or(0) / 1000,
            planned: counts.planned,
            request_count: phase_stats.completed,
            errors: phase_stats.error_total(),
            dropped: counts.dropped,
            sent_after_end: counts.sent_after_end,
            exhausted: counts.exhausted,
            errors_by_class: errors_by_class(&phase_stats.errors),
            injected: injected(&phase_stats.injected),
            response_time_ms: latency(&lat.response),
            service_time_ms: latency(&lat.service),
            schedule_lag_ms: latency(&lat.lag),
            requests,
            scenarios,
        });
    }
    let seconds = input.duration.as_secs_f64();
    let running = (seconds - (0..layout.phases.len()).map(paused_s).sum::<f64>()).max(0.0);
    RunResult {
        schema: SCHEMA,
        ptl_version: env!("CARGO_PKG_VERSION").to_string(),
        plan: plan.name.clone(),
        plan_hash: input.plan_hash.clone(),
        params: plan.params.iter().cloned().collect(),
        seed: plan.seed,
        target: plan.target.clone(),
        started_at: humantime::format_rfc3339_millis(input.started_at).to_string(),
        duration_s: seconds,
        stopped_early: input.stop_reason.is_some(),
        stop_reason: input.stop_reason.clone(),
        total: Totals {
            requests: total_stats.completed,
            errors: total_stats.error_total(),
            dropped: total_dropped,
            achieved_rps: per_second(total_in_time, running),
            response_time_ms: latency(&total_lat.response),
            service_time_ms: latency(&total_lat.service),
            schedule_lag_ms: latency(&total_lat.lag),
            errors_by_class: errors_by_class(&total_stats.errors),
            sent_after_end: total_late,
        },
        phases,
        thresholds: input.thresholds.clone(),
        series: input.series.clone(),
        degraded: Vec::new(),
        pauses: paused.windows.clone(),
        accounting: None,
        signed_by: None,
        generator: None,
        hosts: hosts(plan, layout, rec),
        tags: layout
            .tags
            .iter()
            .enumerate()
            .map(|(g, tag)| TagResult {
                key: tag.key.clone(),
                value: tag.value.clone(),
                stats: group(rec, layout, layout.requests_of_tag(g as u32)),
            })
            .collect(),
    }
}

/// A row per host when the plan sends to more than one; none otherwise (the totals say it).
fn hosts(plan: &Plan, layout: &Layout, rec: &Recorded) -> Vec<HostResult> {
    if layout.hosts.len() < 2 {
        return Vec::new();
    }
    layout
        .hosts
        .iter()
        .enumerate()
        .map(|(h, name)| HostResult {
            name: name.clone(),
            url: plan
                .host_url(h.checked_sub(1).map(|i| i as u32))
                .to_string(),
            stats: group(rec, layout, layout.requests_of_host(h)),
        })
        .collect()
}

/// The requests' stats over every phase, added.
fn group(rec: &Recorded, layout: &Layout, requests: impl Iterator<Item = usize>) -> GroupResult {
    let mut s = RequestStats::default();
    for r in requests {
        for p in 0..layout.phases.len() {
            if let Some(cell) = rec.request_stats(p, r) {
                s.add(cell);
            }
        }
    }
    let lat = s.latency.as_deref();
    GroupResult {
        requests: s.completed,
        errors: s.error_total(),
        dropped: s.dropped,
        errors_by_class: errors_by_class(&s.errors),
        injected: injected(&s.injected),
        status_codes: status_codes(&s.statuses),
        response_time_ms: lat.and_then(|l| latency(&l.response)),
        service_time_ms: lat.and_then(|l| latency(&l.service)),
    }
}

/// All requests' response times of one phase (or every phase with `None`), merged.
pub fn response_histogram(rec: &Recorded, layout: &Layout, phase: Option<usize>) -> Hist {
    let mut h = new_histogram();
    let phases: Vec<usize> = match phase {
        Some(p) => vec![p],
        None => (0..layout.phases.len()).collect(),
    };
    for p in phases {
        for r in 0..layout.requests.len() {
            if let Some(l) = rec.request_stats(p, r).and_then(|s| s.latency.as_ref()) {
                add_histogram(&mut h, &l.response);
            }
        }
    }
    h
}
