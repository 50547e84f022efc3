//! A hand-built run result for the report tests: three phases (one with a scenario), a
//! per-second series with recognisable values, and passing and failing thresholds.

use ptl_engine::result::{
    Latency, PhaseResult, RequestResult, RunResult, ScenarioResult, SeriesPoint, ThresholdResult,
    Totals,
};
use std::collections::BTreeMap;

pub const TARGET: &str = "http://127.0.0.1:8080";

pub fn latency(base: f64) -> Latency {
    Latency {
        p50: base,
        p90: base * 2.0,
        p95: base * 3.0,
        p99: base * 5.0,
        p999: base * 8.0,
        max: base * 13.0,
        mean: base * 1.5,
    }
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

pub fn request(name: &str, requests: u64, errors: u64, base: f64) -> RequestResult {
    RequestResult {
        name: name.to_string(),
        requests,
        errors,
        dropped: 0,
        achieved_rps: requests as f64 / 10.0,
        sent_after_end: 0,
        errors_by_class: if errors > 0 {
            counts(&[("status", errors)])
        } else {
            BTreeMap::new()
        },
        injected: BTreeMap::new(),
        status_codes: counts(&[("200", requests - errors), ("503", errors)]),
        response_time_ms: Some(latency(base)),
        service_time_ms: Some(latency(base * 0.9)),
        schedule_lag_ms: Some(latency(0.1)),
        skipped: 0,
        host: None,
        tags: BTreeMap::new(),
    }
}

pub fn phase(name: &str, target_rps: f64, base: f64, requests: Vec<RequestResult>) -> PhaseResult {
    let request_count = requests.iter().map(|r| r.requests).sum();
    let errors = requests.iter().map(|r| r.errors).sum();
    PhaseResult {
        name: name.to_string(),
        target_rps,
        achieved_rps: target_rps * 0.99,
        duration_s: 10.0,
        paused_ms: 0,
        planned: (target_rps * 10.0) as u64,
        request_count,
        errors,
        dropped: 3,
        sent_after_end: 0,
        exhausted: 0,
        errors_by_class: counts(&[("status", errors)]),
        injected: BTreeMap::new(),
        response_time_ms: Some(latency(base)),
        service_time_ms: Some(latency(base * 0.9)),
        schedule_lag_ms: Some(latency(0.2)),
        requests,
        scenarios: Vec::new(),
    }
}

/// Series values are chosen so the tests can find them in the page: achieved rates end in
/// `.25`, p99 values in `.75`.
pub fn series() -> Vec<SeriesPoint> {
    (0..30u64)
        .map(|t| {
            let phase = match t {
                0..=9 => "warmup",
                10..=19 => "baseline",
                _ => "failure",
            };
            SeriesPoint {
                t,
                phase: phase.to_string(),
                target_rps: 100.0,
                achieved_rps: 90.25 + t as f64,
                errors: if phase == "failure" { t } else { 0 },
                dropped: t % 3,
                p50_ms: 3.5,
                p95_ms: 9.5,
                p99_ms: 20.75 + t as f64,
                max_ms: 50.0,
                paused: 0.0,
            }
        })
        .collect()
}

pub fn run_result() -> RunResult {
    let mut failure = phase(
        "failure",
        100.0,
        9.0,
        vec![
            request("checkout", 700, 120, 6.0),
            request("browse", 290, 0, 2.0),
            request("buy.login", 10, 0, 1.5),
            request("buy.pay", 10, 1, 3.5),
        ],
    );
    failure.injected = counts(&[("abort", 120)]);
    failure.scenarios = vec![ScenarioResult {
        name: "buy".to_string(),
        iterations: 10,
        completed: 9,
        failed: 1,
        dropped: 0,
        sent_after_end: 0,
        iteration_time_ms: Some(latency(40.0)),
        steps: vec![request("login", 10, 0, 1.5), request("pay", 10, 1, 3.5)],
    }];
    let phases = vec![
        phase("warmup", 55.0, 3.0, vec![request("checkout", 540, 0, 4.0)]),
        phase(
            "baseline",
            100.0,
            4.25,
            vec![request("checkout", 990, 0, 4.5)],
        ),
        failure,
    ];
    RunResult {
        schema: 1,
        ptl_version: "0.1.0-test".to_string(),
        plan: "checkout".to_string(),
        plan_hash: "ab12cd34ef56".repeat(5),
        params: [("peak".to_string(), "100/s".to_string())]
            .into_iter()
            .collect(),
        seed: 42,
        target: TARGET.to_string(),
        started_at: "2026-01-02T03:04:05Z".to_string(),
        duration_s: 30.0,
        stopped_early: false,
        stop_reason: None,
        total: Totals {
            requests: 2540,
            errors: 121,
            dropped: 9,
            achieved_rps: 84.67,
            response_time_ms: Some(latency(4.5)),
            service_time_ms: Some(latency(4.1)),
            schedule_lag_ms: Some(latency(0.2)),
            errors_by_class: counts(&[("status", 121)]),
            sent_after_end: 0,
        },
        phases,
        thresholds: vec![
            ThresholdResult {
                expr: "p95 < 500ms".to_string(),
                passed: true,
                actual: Some(13.5),
                abort: false,
            },
            ThresholdResult {
                expr: "failure.error_rate < 1%".to_string(),
                passed: false,
                actual: Some(0.121),
                abort: true,
            },
            ThresholdResult {
                expr: "buy.completion_rate > 99%".to_string(),
                passed: false,
                actual: None,
                abort: false,
            },
        ],
        series: series(),
        degraded: Vec::new(),
        pauses: Vec::new(),
        accounting: None,
        signed_by: None,
        generator: None,
        hosts: vec![],
        tags: vec![],
    }
}
