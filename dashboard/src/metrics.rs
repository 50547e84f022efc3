//! `/metrics`: the runs the hub knows in the Prometheus text format (0.0.4), encoded by
//! `prometheus-client` from the same live or final results the page and the JSON API show, so
//! a scrape after a run ends reads exactly the counters of its result.
//!
//! Per run, phase and request: requests, errors by class and dropped arrivals (counters),
//! achieved rate and response-time percentiles (gauges with a `percentile` label: the client
//! library has no summary type). Per run and phase:
//! target and achieved rate. Per run: the rates of the last second, agents connected, whether it
//! is running, and each threshold's verdict.

use crate::hub::{Hub, RunMetrics};
use crate::model::RunStatus;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

type Labels = Vec<(&'static str, String)>;

type Pick = fn(&ptl_engine::result::Latency) -> f64;

/// Named `percentile`, not `quantile`: that label belongs to the summary type, which the
/// client library does not encode (and linters reject it on gauges).
const PERCENTILES: [(&str, Pick); 5] = [
    ("p50", |l| l.p50),
    ("p90", |l| l.p90),
    ("p95", |l| l.p95),
    ("p99", |l| l.p99),
    ("p99.9", |l| l.p999),
];

struct HubCollector(Arc<Hub>);

impl std::fmt::Debug for HubCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HubCollector")
    }
}

/// Renders the hub's runs as a Prometheus text exposition.
pub fn render(hub: &Arc<Hub>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(HubCollector(hub.clone())));
    let mut out = String::new();
    // Writing into a String cannot fail; an encoder error would leave a partial page.
    if prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).is_err() {
        out.clear();
    }
    out
}

fn counters(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: Vec<(Labels, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in rows {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauges(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    rows: Vec<(Labels, f64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in rows {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Every (run, phase, request) row of the results, labelled.
fn per_request<T>(
    runs: &[RunMetrics],
    mut each: impl FnMut(&Labels, &ptl_engine::result::RequestResult, &mut Vec<T>),
) -> Vec<T> {
    let mut out = Vec::new();
    for run in runs {
        for phase in &run.result.phases {
            for request in &phase.requests {
                let labels = vec![
                    ("run", run.id.clone()),
                    ("phase", phase.name.clone()),
                    ("request", request.name.clone()),
                ];
                each(&labels, request, &mut out);
            }
        }
    }
    out
}

fn per_phase(
    runs: &[RunMetrics],
    value: impl Fn(&ptl_engine::result::PhaseResult) -> f64,
) -> Vec<(Labels, f64)> {
    runs.iter()
        .flat_map(|run| {
            run.result.phases.iter().map(|phase| {
                (
                    vec![("run", run.id.clone()), ("phase", phase.name.clone())],
                    value(phase),
                )
            })
        })
        .collect()
}

fn per_run(runs: &[RunMetrics], value: impl Fn(&RunMetrics) -> Option<f64>) -> Vec<(Labels, f64)> {
    runs.iter()
        .filter_map(|run| value(run).map(|v| (vec![("run", run.id.clone())], v)))
        .collect()
}

impl Collector for HubCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let runs = self.0.metrics();
        let e = &mut encoder;
        counters(
            e,
            "ptl_requests",
            "Requests completed (any outcome), per run, phase and request.",
            per_request(&runs, |l, r, out| out.push((l.clone(), r.requests))),
        )?;
        counters(
            e,
            "ptl_errors",
            "Requests that failed, by error class.",
            per_request(&runs, |l, r, out| {
                for (class, n) in &r.errors_by_class {
                    let mut labels = l.clone();
                    labels.push(("class", class.clone()));
                    out.push((labels, *n));
                }
            }),
        )?;
        counters(
            e,
            "ptl_dropped",
            "Planned arrivals not sent (the in-flight cap was full).",
            per_request(&runs, |l, r, out| out.push((l.clone(), r.dropped))),
        )?;
        gauges(
            e,
            "ptl_request_achieved_rate",
            "Requests per second, over the phase as far as it ran.",
            per_request(&runs, |l, r, out| out.push((l.clone(), r.achieved_rps))),
        )?;
        gauges(
            e,
            "ptl_response_time_seconds",
            "Response time percentiles of the phase so far (from the exact merged histogram).",
            per_request(&runs, |l, r, out| {
                for (q, pick) in PERCENTILES {
                    let mut labels = l.clone();
                    labels.push(("percentile", q.to_string()));
                    out.push((labels, pick(&r.response_time_ms) / 1000.0));
                }
            }),
        )?;
        gauges(
            e,
            "ptl_response_time_max_seconds",
            "Slowest response.",
            per_request(&runs, |l, r, out| {
                out.push((l.clone(), r.response_time_ms.max / 1000.0))
            }),
        )?;
        gauges(
            e,
            "ptl_phase_target_rate",
            "Mean planned arrivals per second of the phase.",
            per_phase(&runs, |p| p.target_rps),
        )?;
        gauges(
            e,
            "ptl_phase_achieved_rate",
            "Arrivals per second of the phase, as far as it ran.",
            per_phase(&runs, |p| p.achieved_rps),
        )?;
        gauges(
            e,
            "ptl_target_rate",
            "Planned arrivals per second, last second.",
            per_run(&runs, |r| Some(r.target_rps)),
        )?;
        gauges(
            e,
            "ptl_achieved_rate",
            "Arrivals per second, last second.",
            per_run(&runs, |r| Some(r.achieved_rps)),
        )?;
        gauges(
            e,
            "ptl_agents_connected",
            "Agents reporting for the run (cluster runs).",
            per_run(&runs, |r| r.agents_connected.map(|n| n as f64)),
        )?;
        gauges(
            e,
            "ptl_run_running",
            "1 while the run generates load (running or paused), 0 once it ended.",
            per_run(&runs, |r| {
                Some(match r.status {
                    RunStatus::Running | RunStatus::Paused | RunStatus::Stopping => 1.0,
                    _ => 0.0,
                })
            }),
        )?;
        gauges(
            e,
            "ptl_threshold_passed",
            "1 if the threshold holds (so far), 0 if not.",
            runs.iter()
                .flat_map(|run| {
                    run.result.thresholds.iter().map(|t| {
                        (
                            vec![("run", run.id.clone()), ("threshold", t.expr.clone())],
                            if t.passed { 1.0 } else { 0.0 },
                        )
                    })
                })
                .collect(),
        )?;
        Ok(())
    }
}
