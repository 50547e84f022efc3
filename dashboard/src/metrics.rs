//! `/metrics`: the runs the hub knows in the Prometheus text format (0.0.4), encoded by
//! `prometheus-client` from the same live or final results the page and the JSON API show, so
//! a scrape after a run ends reads exactly the counters of its result.
//!
//! Per run, phase and request: requests, errors by class and dropped arrivals (counters),
//! achieved rate and response-time percentiles (gauges with a `percentile` label: the client
//! library has no summary type), labelled also with the request's `host` (plans with several)
//! and a `tag_KEY` label per tag. Per run and phase:
//! target and achieved rate, and the iterations a `unique` feeder had no row for (a counter). Per run: the rates of the last second, agents connected, whether it
//! is running, and each threshold's verdict: `ptl_threshold_passed` once its scope has data,
//! `ptl_threshold_pending` 1 while it has none (a phase not started yet is never a failure).
//!
//! Values are rounded to what was measured (latencies to the microsecond, rates to the
//! thousandth), so a scrape reads `0.000144`, not `0.00014399999999999998`; a request with no
//! answer yet has no latency samples at all rather than a p50 of 0.

use crate::hub::{Hub, RunMetrics};
use crate::model::RunStatus;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use ptl_engine::result::ThresholdResult;
use std::borrow::Cow;
use std::sync::Arc;

/// The `Content-Type` of the text format.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Label names are mostly fixed words; a tag's is `tag_` and its key.
type Labels = Vec<(Cow<'static, str>, String)>;

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

/// Milliseconds (the result's unit) as seconds, at the histograms' microsecond precision.
fn seconds(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1e6
}

/// A rate at a thousandth of a request per second.
fn rate(per_sec: f64) -> f64 {
    (per_sec * 1000.0).round() / 1000.0
}

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
                let mut labels = vec![
                    (Cow::Borrowed("run"), run.id.clone()),
                    (Cow::Borrowed("phase"), phase.name.clone()),
                    (Cow::Borrowed("request"), request.name.clone()),
                ];
                // A plan with several hosts labels each request with its host, and every
                // request with its tags, so a query can sum by host or by tag.
                if let Some(host) = &request.host {
                    labels.push((Cow::Borrowed("host"), host.clone()));
                }
                for (key, value) in &request.tags {
                    labels.push((Cow::Owned(format!("tag_{key}")), value.clone()));
                }
                each(&labels, request, &mut out);
            }
        }
    }
    out
}

fn per_phase<T>(
    runs: &[RunMetrics],
    value: impl Fn(&ptl_engine::result::PhaseResult) -> T,
) -> Vec<(Labels, T)> {
    runs.iter()
        .flat_map(|run| {
            run.result.phases.iter().map(|phase| {
                (
                    vec![
                        (Cow::Borrowed("run"), run.id.clone()),
                        (Cow::Borrowed("phase"), phase.name.clone()),
                    ],
                    value(phase),
                )
            })
        })
        .collect()
}

fn per_run(runs: &[RunMetrics], value: impl Fn(&RunMetrics) -> Option<f64>) -> Vec<(Labels, f64)> {
    runs.iter()
        .filter_map(|run| value(run).map(|v| (vec![(Cow::Borrowed("run"), run.id.clone())], v)))
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
                    labels.push((Cow::Borrowed("class"), class.clone()));
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
            per_request(&runs, |l, r, out| {
                out.push((l.clone(), rate(r.achieved_rps)))
            }),
        )?;
        gauges(
            e,
            "ptl_response_time_seconds",
            "Response time percentiles of the phase so far (from the exact merged histogram).",
            per_request(&runs, |l, r, out| {
                let Some(latency) = &r.response_time_ms else {
                    return;
                };
                for (q, pick) in PERCENTILES {
                    let mut labels = l.clone();
                    labels.push((Cow::Borrowed("percentile"), q.to_string()));
                    out.push((labels, seconds(pick(latency))));
                }
            }),
        )?;
        gauges(
            e,
            "ptl_response_time_max_seconds",
            "Slowest response.",
            per_request(&runs, |l, r, out| {
                if let Some(latency) = &r.response_time_ms {
                    out.push((l.clone(), seconds(latency.max)))
                }
            }),
        )?;
        counters(
            e,
            "ptl_phase_exhausted",
            "Iterations of the phase a `unique` feeder had no row left for (not sent).",
            per_phase(&runs, |p| p.exhausted),
        )?;
        gauges(
            e,
            "ptl_phase_target_rate",
            "Mean planned arrivals per second of the phase.",
            per_phase(&runs, |p| rate(p.target_rps)),
        )?;
        gauges(
            e,
            "ptl_phase_achieved_rate",
            "Arrivals per second of the phase, as far as it ran.",
            per_phase(&runs, |p| rate(p.achieved_rps)),
        )?;
        gauges(
            e,
            "ptl_target_rate",
            "Planned arrivals per second, last second.",
            per_run(&runs, |r| Some(rate(r.target_rps))),
        )?;
        gauges(
            e,
            "ptl_achieved_rate",
            "Arrivals per second, last second.",
            per_run(&runs, |r| Some(rate(r.achieved_rps))),
        )?;
        gauges(
            e,
            "ptl_agents_connected",
            "Agents reporting for the run (cluster runs).",
            per_run(&runs, |r| r.agents_connected.map(|n| n as f64)),
        )?;
        gauges(
            e,
            "ptl_agent_saturation",
            "How close each running agent is to being the bottleneck, 0 to 1, in its last \
             reported second: the p90 schedule lag over 20 ms (cluster runs).",
            runs.iter()
                .flat_map(|run| {
                    run.agent_saturation.iter().map(|(agent, s)| {
                        (
                            vec![
                                (Cow::Borrowed("run"), run.id.clone()),
                                (Cow::Borrowed("agent"), agent.clone()),
                            ],
                            rate(*s),
                        )
                    })
                })
                .collect(),
        )?;
        gauges(
            e,
            "ptl_cluster_capacity_shortfall",
            "Arrivals per second of the plan's peak rate that no agent carries: the agents' \
             declared capacities fall short by this much (cluster runs; 0 once ended). Scale \
             agents on it.",
            per_run(&runs, |r| r.capacity_shortfall.map(rate)),
        )?;
        gauges(
            e,
            "ptl_cluster_wanted_agents",
            "Agents the run wants: those it has, plus enough to carry its capacity shortfall at \
             their mean declared capacity (cluster runs; 0 once ended). An autoscaler's target.",
            per_run(&runs, |r| r.wanted_agents),
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
        let thresholds = |keep: fn(&ThresholdResult) -> Option<f64>| -> Vec<(Labels, f64)> {
            runs.iter()
                .flat_map(|run| {
                    run.result.thresholds.iter().filter_map(move |t| {
                        let labels = vec![
                            (Cow::Borrowed("run"), run.id.clone()),
                            (Cow::Borrowed("threshold"), t.expr.clone()),
                        ];
                        keep(t).map(|v| (labels, v))
                    })
                })
                .collect()
        };
        gauges(
            e,
            "ptl_threshold_passed",
            "1 if the threshold holds (so far), 0 if not; absent while it is pending.",
            thresholds(|t| t.actual.map(|_| if t.passed { 1.0 } else { 0.0 })),
        )?;
        gauges(
            e,
            "ptl_threshold_pending",
            "1 while the threshold's scope has no data yet (its phase has not started), else 0.",
            thresholds(|t| Some(if t.actual.is_none() { 1.0 } else { 0.0 })),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::RunOpen;
    use crate::model::{AgentState, AgentView, RunSource};
    use std::time::SystemTime;

    fn two_phase_plan() -> Arc<ptl_bytecode::Plan> {
        compiled(
            r#"plan "p" {
  target "http://127.0.0.1:9"
  request a { GET "/" }
  phase one { rate 10/s for 100s }
  phase two { rate 10/s for 100s }
  threshold one.p99 < 1s
  threshold two.p99 < 1s
}"#,
        )
    }

    fn compiled(source: &str) -> Arc<ptl_bytecode::Plan> {
        let checked = ptl_compiler::check_source(
            std::path::Path::new("p.ptl"),
            source,
            &ptl_compiler::CheckOptions::default(),
        );
        Arc::new(checked.plan.expect("compiles"))
    }

    /// One second of phase one: three answers of 144 µs.
    fn running_hub() -> Arc<Hub> {
        hub_of(two_phase_plan())
    }

    fn hub_of(plan: Arc<ptl_bytecode::Plan>) -> Arc<Hub> {
        let hub = Hub::new();
        hub.open_run(RunOpen {
            id: "r1".into(),
            plan,
            plan_hash: "h".into(),
            started_at: SystemTime::UNIX_EPOCH,
            source: RunSource::Local,
            status: RunStatus::Running,
            control: None,
        });
        crate::test_plan::answered_second(&hub, "r1", 0, 3, 144, 2);
        hub
    }

    fn line<'a>(text: &'a str, start: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(start)).collect()
    }

    #[test]
    fn a_phase_not_started_is_pending_not_failed_and_has_no_latencies() {
        let text = render(&running_hub());
        assert_eq!(
            line(&text, "ptl_threshold_passed{"),
            [r#"ptl_threshold_passed{run="r1",threshold="one.p99 < 1s"} 1.0"#],
            "{text}"
        );
        assert_eq!(
            line(&text, "ptl_threshold_pending{"),
            [
                r#"ptl_threshold_pending{run="r1",threshold="one.p99 < 1s"} 0.0"#,
                r#"ptl_threshold_pending{run="r1",threshold="two.p99 < 1s"} 1.0"#
            ],
            "{text}"
        );
        let latencies = line(&text, "ptl_response_time_seconds{");
        assert!(!latencies.is_empty(), "{text}");
        assert!(
            latencies.iter().all(|l| l.contains(r#"phase="one""#)),
            "{latencies:?}"
        );
    }

    #[test]
    fn a_request_is_labelled_with_its_host_and_tags() {
        let hub = hub_of(compiled(
            r#"plan "p" {
  target "http://127.0.0.1:9"
  target auth "http://127.0.0.1:10"
  request a {
    GET auth "/"
    tag group = "checkout"
  }
  phase one { rate 10/s for 100s }
  phase two { rate 10/s for 100s }
}"#,
        ));
        let text = render(&hub);
        assert_eq!(
            line(&text, "ptl_requests_total{"),
            [
                r#"ptl_requests_total{run="r1",phase="one",request="a",host="auth",tag_group="checkout"} 3"#,
                r#"ptl_requests_total{run="r1",phase="two",request="a",host="auth",tag_group="checkout"} 0"#
            ],
            "{text}"
        );
        // The one-host plan has neither label.
        let plain = render(&running_hub());
        assert!(
            !plain.contains("host=") && !plain.contains("tag_"),
            "{plain}"
        );
    }

    #[test]
    fn exhausted_iterations_are_a_counter_per_phase_and_a_column_of_the_phase_table() {
        let hub = running_hub();
        let mut rec = ptl_engine::record::Recorded::new(2, 1, 1);
        rec.exhausted(0);
        rec.exhausted(0);
        let delta = ptl_engine::record::IntervalDelta {
            agent: 0,
            window: 1,
            recorded: rec,
        };
        hub.add_delta("r1", &delta).expect("same shape");
        hub.tick("r1");
        let text = render(&hub);
        assert_eq!(
            line(&text, "ptl_phase_exhausted_total{"),
            [
                r#"ptl_phase_exhausted_total{run="r1",phase="one"} 2"#,
                r#"ptl_phase_exhausted_total{run="r1",phase="two"} 0"#
            ],
            "{text}"
        );
        let view = hub.view("r1").expect("the run's view");
        let rows: Vec<(&str, u64)> = view
            .phase_rows
            .iter()
            .map(|p| (p.name.as_str(), p.exhausted))
            .collect();
        assert_eq!(rows, [("one", 2)], "only the phase reached");
    }

    #[test]
    fn values_carry_no_float_noise() {
        let text = render(&running_hub());
        // 144 µs is 0.144 ms in the result; 0.144 / 1000 would print 0.00014399999999999998.
        assert!(
            text.contains(r#"ptl_response_time_seconds{run="r1",phase="one",request="a",percentile="p50"} 0.000144"#),
            "{text}"
        );
        assert_eq!(seconds(0.144), 0.000144);
        assert_eq!(rate(2.0 / 3.0), 0.667);
    }

    #[test]
    fn a_cluster_run_short_of_capacity_says_by_how_much() {
        let hub = Hub::new();
        hub.open_run(RunOpen {
            id: "c1".into(),
            plan: two_phase_plan(),
            plan_hash: "h".into(),
            started_at: SystemTime::UNIX_EPOCH,
            source: RunSource::Cluster,
            status: RunStatus::Running,
            control: None,
        });
        crate::test_plan::answered_second(&hub, "c1", 0, 3, 144, 2);
        hub.set_shortfall("c1", 400.0, 6);
        hub.set_agents(
            "c1",
            vec![AgentView {
                name: "agent-0000000001".into(),
                share: 0.5,
                state: AgentState::Running,
                last_report_ms: Some(0),
                deltas: 1,
                requests: 3,
                saturation: Some(0.25),
            }],
        );
        let text = render(&hub);
        assert_eq!(
            line(&text, "ptl_cluster_capacity_shortfall{"),
            [r#"ptl_cluster_capacity_shortfall{run="c1"} 400.0"#],
            "{text}"
        );
        assert_eq!(
            line(&text, "ptl_agent_saturation{"),
            [r#"ptl_agent_saturation{run="c1",agent="agent-0000000001"} 0.25"#],
            "{text}"
        );
        assert_eq!(
            line(&text, "ptl_cluster_wanted_agents{"),
            [r#"ptl_cluster_wanted_agents{run="c1"} 6.0"#],
            "{text}"
        );
        // A local run has no agents to scale: no series.
        assert!(line(&render(&running_hub()), "ptl_cluster_capacity_shortfall{").is_empty());
    }
}
