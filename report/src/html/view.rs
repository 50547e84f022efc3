//! The page's data as the template reads it: every figure already formatted, so the template
//! holds layout only.

use crate::units::{
    format_actual, format_count_share, format_duration_s, format_ms, format_rps, format_share,
    or_no_data,
};
use ptl_engine::result::{
    GroupResult, Latency, PhaseResult, RequestResult, RunResult, ScenarioResult, ThresholdResult,
};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
pub(crate) struct ReportView {
    pub plan: String,
    pub plan_hash: String,
    pub ptl_version: String,
    pub schema: u32,
    pub target: String,
    pub seed: u64,
    pub started_at: String,
    pub duration: String,
    pub stopped_early: bool,
    pub stop_reason: String,
    pub params: Vec<Pair>,
    pub verdict: Verdict,
    pub cards: Vec<Pair>,
    pub total: FigureRow,
    pub phases: Vec<PhaseView>,
    /// One line per paused phase: its paused time, left out of its rates.
    pub pause_notes: Vec<String>,
    pub has_requests: bool,
    /// A row per host, when the plan sends to more than one.
    pub hosts: Vec<FigureRow>,
    /// A row per `tag key = "value"`.
    pub tags: Vec<FigureRow>,
    pub has_scenarios: bool,
    pub thresholds: Vec<ThresholdView>,
    pub errors_by_class: Vec<Pair>,
    /// Chart data, JSON made safe to sit inside a `<script>` element.
    pub data_json: String,
    pub charts_js: &'static str,
    pub css: &'static str,
}

#[derive(Serialize)]
pub(crate) struct Pair {
    pub name: String,
    pub value: String,
}

#[derive(Serialize)]
pub(crate) struct Verdict {
    /// CSS class: `pass`, `fail` or `none`.
    pub class: &'static str,
    pub text: String,
}

/// The figures shared by phase, request and step rows.
#[derive(Serialize)]
pub(crate) struct FigureRow {
    pub name: String,
    pub target: String,
    pub achieved: String,
    pub planned: String,
    pub requests: String,
    pub errors: String,
    pub dropped: String,
    pub has_errors: bool,
    pub has_dropped: bool,
    pub latency: LatencyView,
    pub service_p99: String,
    pub lag_p99: String,
    pub errors_by_class: String,
    pub injected: String,
    pub status_codes: String,
    pub skipped: String,
    /// A phase's iterations a `unique` feeder had no row for ("" when none).
    pub exhausted: String,
    /// Status codes, error classes and injected faults in one line, shown under the row: as
    /// columns they pushed the table past a laptop's width and the last one out of sight.
    pub details: String,
}

impl FigureRow {
    fn with_details(mut self) -> FigureRow {
        let parts = [
            ("status codes", &self.status_codes),
            ("error classes", &self.errors_by_class),
            ("injected faults", &self.injected),
            ("exhausted", &self.exhausted),
        ];
        self.details = parts
            .iter()
            .filter(|(_, text)| !text.is_empty())
            .map(|(label, text)| format!("{label}: {text}"))
            .collect::<Vec<_>>()
            .join(" · ");
        self
    }
}

#[derive(Serialize)]
pub(crate) struct LatencyView {
    pub p50: String,
    pub p90: String,
    pub p95: String,
    pub p99: String,
    pub p999: String,
    pub max: String,
    pub mean: String,
}

#[derive(Serialize)]
pub(crate) struct PhaseView {
    pub row: FigureRow,
    pub requests: Vec<FigureRow>,
    pub scenarios: Vec<ScenarioView>,
}

#[derive(Serialize)]
pub(crate) struct ScenarioView {
    pub name: String,
    pub iterations: String,
    pub completed: String,
    pub failed: String,
    pub cut_short: String,
    pub completion: String,
    pub dropped: String,
    pub has_failed: bool,
    pub has_dropped: bool,
    pub latency: LatencyView,
    pub steps: Vec<FigureRow>,
}

#[derive(Serialize)]
pub(crate) struct ThresholdView {
    pub expr: String,
    pub passed: bool,
    pub actual: String,
    pub abort: bool,
}

impl ReportView {
    pub(crate) fn new(
        result: &RunResult,
        data_json: String,
        charts_js: &'static str,
        css: &'static str,
    ) -> ReportView {
        let total = &result.total;
        let total_row = FigureRow {
            target: "-".into(),
            planned: "-".into(),
            errors_by_class: joined(&total.errors_by_class),
            ..figures(
                "all phases",
                Counts {
                    achieved_rps: total.achieved_rps,
                    requests: total.requests,
                    errors: total.errors,
                    dropped: total.dropped,
                    attempted: total.requests + total.dropped,
                },
                Measures {
                    response: &total.response_time_ms,
                    service: &total.service_time_ms,
                    lag: &total.schedule_lag_ms,
                },
            )
        }
        .with_details();
        let phases: Vec<PhaseView> = result.phases.iter().map(phase_view).collect();
        ReportView {
            plan: result.plan.clone(),
            plan_hash: result.plan_hash.clone(),
            ptl_version: result.ptl_version.clone(),
            schema: result.schema,
            target: result.target.clone(),
            seed: result.seed,
            started_at: result.started_at.clone(),
            duration: format_duration_s(result.duration_s),
            stopped_early: result.stopped_early,
            stop_reason: result.stop_reason.clone().unwrap_or_default(),
            params: pairs(&result.params, String::clone),
            verdict: verdict(&result.thresholds),
            cards: cards(result),
            total: total_row,
            has_requests: phases.iter().any(|p| !p.requests.is_empty()),
            hosts: result
                .hosts
                .iter()
                .map(|h| group_row(&format!("{} ({})", h.name, h.url), &h.stats))
                .collect(),
            tags: result
                .tags
                .iter()
                .map(|t| group_row(&format!("{} = {}", t.key, t.value), &t.stats))
                .collect(),
            phases,
            pause_notes: pause_notes(result),
            has_scenarios: result.phases.iter().any(|p| !p.scenarios.is_empty()),
            thresholds: result.thresholds.iter().map(threshold_view).collect(),
            errors_by_class: pairs(&total.errors_by_class, u64::to_string),
            data_json,
            charts_js,
            css,
        }
    }
}

fn pause_notes(result: &RunResult) -> Vec<String> {
    let mut notes: Vec<String> = result
        .phases
        .iter()
        .filter(|p| p.paused_ms > 0)
        .map(|p| {
            let paused = p.paused_ms as f64 / 1000.0;
            format!(
                "{}: paused {} of {}; its rates are over the {} it ran.",
                p.name,
                format_duration_s(paused),
                format_duration_s(p.duration_s),
                format_duration_s((p.duration_s - paused).max(0.0)),
            )
        })
        .collect();
    if result.pauses.last().is_some_and(|p| p.end_ms.is_none()) {
        notes.push("The run was stopped while paused.".to_string());
    }
    notes
}

fn pairs<V>(map: &BTreeMap<String, V>, show: impl Fn(&V) -> String) -> Vec<Pair> {
    map.iter()
        .map(|(name, value)| Pair {
            name: name.clone(),
            value: show(value),
        })
        .collect()
}

/// `name: count` pairs, zero counts left out.
fn joined(map: &BTreeMap<String, u64>) -> String {
    map.iter()
        .filter(|(_, count)| **count > 0)
        .map(|(name, count)| format!("{name}: {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn verdict(thresholds: &[ThresholdResult]) -> Verdict {
    let failed = thresholds.iter().filter(|t| !t.passed).count();
    match (thresholds.len(), failed) {
        (0, _) => Verdict {
            class: "none",
            text: "no thresholds".into(),
        },
        (n, 0) => Verdict {
            class: "pass",
            text: format!("passed: {n} of {n} thresholds"),
        },
        (n, f) => Verdict {
            class: "fail",
            text: format!("failed: {f} of {n} thresholds"),
        },
    }
}

fn cards(result: &RunResult) -> Vec<Pair> {
    let total = &result.total;
    let card = |name: &str, value: String| Pair {
        name: name.into(),
        value,
    };
    let share = |n: u64, of: u64| {
        if of == 0 {
            "-".to_string()
        } else {
            format_share(n as f64 / of as f64)
        }
    };
    vec![
        card("requests", total.requests.to_string()),
        card("achieved", format_rps(total.achieved_rps)),
        card("errors", share(total.errors, total.requests)),
        card(
            "dropped",
            share(total.dropped, total.requests + total.dropped),
        ),
        card("p95", format_ms(or_no_data(&total.response_time_ms).p95)),
        card("p99", format_ms(or_no_data(&total.response_time_ms).p99)),
    ]
}

fn latency_view(latency: &Option<Latency>) -> LatencyView {
    let latency = or_no_data(latency);
    LatencyView {
        p50: format_ms(latency.p50),
        p90: format_ms(latency.p90),
        p95: format_ms(latency.p95),
        p99: format_ms(latency.p99),
        p999: format_ms(latency.p999),
        max: format_ms(latency.max),
        mean: format_ms(latency.mean),
    }
}

struct Measures<'a> {
    response: &'a Option<Latency>,
    service: &'a Option<Latency>,
    lag: &'a Option<Latency>,
}

struct Counts {
    achieved_rps: f64,
    requests: u64,
    errors: u64,
    dropped: u64,
    /// What `dropped` is a share of.
    attempted: u64,
}

/// The figures every row has; callers fill in the rest.
fn figures(name: &str, counts: Counts, measures: Measures<'_>) -> FigureRow {
    FigureRow {
        name: name.to_string(),
        target: String::new(),
        achieved: format_rps(counts.achieved_rps),
        planned: String::new(),
        requests: counts.requests.to_string(),
        errors: format_count_share(counts.errors, counts.requests),
        dropped: format_count_share(counts.dropped, counts.attempted),
        has_errors: counts.errors > 0,
        has_dropped: counts.dropped > 0,
        latency: latency_view(measures.response),
        service_p99: format_ms(or_no_data(measures.service).p99),
        lag_p99: format_ms(or_no_data(measures.lag).p99),
        errors_by_class: String::new(),
        injected: String::new(),
        status_codes: String::new(),
        details: String::new(),
        skipped: String::new(),
        exhausted: String::new(),
    }
}

fn phase_view(phase: &PhaseResult) -> PhaseView {
    let row = FigureRow {
        target: if phase.target_rps > 0.0 {
            format_rps(phase.target_rps)
        } else {
            "-".into()
        },
        planned: phase.planned.to_string(),
        errors_by_class: joined(&phase.errors_by_class),
        injected: joined(&phase.injected),
        exhausted: if phase.exhausted > 0 {
            crate::units::exhausted_text(phase.exhausted)
        } else {
            String::new()
        },
        ..figures(
            &phase.name,
            Counts {
                achieved_rps: phase.achieved_rps,
                requests: phase.request_count,
                errors: phase.errors,
                dropped: phase.dropped,
                attempted: phase.planned,
            },
            Measures {
                response: &phase.response_time_ms,
                service: &phase.service_time_ms,
                lag: &phase.schedule_lag_ms,
            },
        )
    }
    .with_details();
    // Scenario steps are shown under their scenario, not again among the requests.
    let requests = phase
        .requests
        .iter()
        .filter(|request| !is_scenario_step(phase, &request.name))
        .map(|request| request_row(request, None))
        .collect();
    PhaseView {
        row,
        requests,
        scenarios: phase.scenarios.iter().map(scenario_view).collect(),
    }
}

fn is_scenario_step(phase: &PhaseResult, request_name: &str) -> bool {
    phase.scenarios.iter().any(|scenario| {
        scenario.steps.iter().any(|step| {
            step.name == request_name
                || request_name
                    .strip_prefix(scenario.name.as_str())
                    .and_then(|rest| rest.strip_prefix('.'))
                    == Some(step.name.as_str())
        })
    })
}

fn request_row(request: &RequestResult, scenario: Option<&str>) -> FigureRow {
    // Steps are listed under their scenario: drop the `scenario.` prefix there.
    let name = scenario
        .and_then(|s| request.name.strip_prefix(s))
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(&request.name);
    FigureRow {
        status_codes: joined(&request.status_codes),
        skipped: if request.skipped > 0 {
            request.skipped.to_string()
        } else {
            String::new()
        },
        errors_by_class: joined(&request.errors_by_class),
        injected: joined(&request.injected),
        ..figures(
            name,
            Counts {
                achieved_rps: request.achieved_rps,
                requests: request.requests,
                errors: request.errors,
                dropped: request.dropped,
                attempted: request.requests + request.dropped,
            },
            Measures {
                response: &request.response_time_ms,
                service: &request.service_time_ms,
                lag: &request.schedule_lag_ms,
            },
        )
    }
    .with_details()
}

/// A host's or a tag's row: whole-run counts, no rate of its own (its requests' rates are in
/// their phases).
fn group_row(name: &str, g: &GroupResult) -> FigureRow {
    FigureRow {
        achieved: "-".into(),
        status_codes: joined(&g.status_codes),
        errors_by_class: joined(&g.errors_by_class),
        injected: joined(&g.injected),
        ..figures(
            name,
            Counts {
                achieved_rps: 0.0,
                requests: g.requests,
                errors: g.errors,
                dropped: g.dropped,
                attempted: g.requests + g.dropped,
            },
            Measures {
                response: &g.response_time_ms,
                service: &g.service_time_ms,
                lag: &None,
            },
        )
    }
    .with_details()
}

fn scenario_view(scenario: &ScenarioResult) -> ScenarioView {
    ScenarioView {
        name: scenario.name.clone(),
        iterations: scenario.iterations.to_string(),
        completed: scenario.completed.to_string(),
        failed: scenario.failed.to_string(),
        cut_short: scenario
            .iterations
            .saturating_sub(scenario.completed + scenario.failed)
            .to_string(),
        completion: match scenario.completed + scenario.failed {
            0 => "-".to_string(),
            finished => format_share(scenario.completed as f64 / finished as f64),
        },
        dropped: scenario.dropped.to_string(),
        has_failed: scenario.failed > 0,
        has_dropped: scenario.dropped > 0,
        latency: latency_view(&scenario.iteration_time_ms),
        steps: scenario
            .steps
            .iter()
            .map(|step| request_row(step, Some(&scenario.name)))
            .collect(),
    }
}

fn threshold_view(threshold: &ThresholdResult) -> ThresholdView {
    ThresholdView {
        expr: threshold.expr.clone(),
        passed: threshold.passed,
        actual: format_actual(&threshold.expr, threshold.actual),
        abort: threshold.abort,
    }
}
