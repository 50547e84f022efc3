//! The dashboard's HTTP API during and after a real local run (the engine against the demo
//! target on 127.0.0.1, a few seconds, bounded): who may look and control, the event stream,
//! the JSON and report endpoints, and `/metrics` checked against the final result.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn tick_ts(events: &[SseEvent]) -> Vec<u64> {
    let mut ts = Vec::new();
    for e in events.iter().filter(|e| e.name == "tick") {
        let tick: Value = serde_json::from_str(&e.data).expect("tick is JSON");
        for p in tick["points"].as_array().expect("points") {
            ts.push(p["t"].as_u64().expect("t"));
        }
    }
    ts
}

fn final_run_event(events: &[SseEvent]) -> Option<Value> {
    events
        .iter()
        .filter(|e| e.name == "run")
        .map(|e| serde_json::from_str::<Value>(&e.data).expect("run event is JSON"))
        .find(|v| v["summary"]["status"] == "done")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_run_is_streamed_served_and_counted() {
    let run = start_run(3, 0.1).await;
    let (addr, id) = (run.addr, run.id.clone());

    // Looking needs a token (none is open here); the viewer's is enough.
    assert_eq!(request(addr, "GET", "/api/runs", None).await.status, 401);
    assert_eq!(request(addr, "GET", "/metrics", None).await.status, 401);
    assert_eq!(request(addr, "GET", "/events", None).await.status, 401);
    assert_eq!(
        request(addr, "GET", "/api/runs", Some("wrong"))
            .await
            .status,
        401
    );
    let page = request(addr, "GET", "/", None).await;
    assert_eq!(page.status, 401);
    assert!(!page.text().contains("dashboard.js"));
    let page = request(addr, "GET", &format!("/?token={VIEWER}"), None).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("/assets/charts.js"), "{}", page.text());
    assert!(
        page.head.contains(&format!("ptl_token={VIEWER}")),
        "{}",
        page.head
    );
    let charts = request(addr, "GET", "/assets/charts.js", None).await;
    assert_eq!(charts.text(), ptl_report::html::CHARTS_JS);

    let runs = request(addr, "GET", "/api/runs", Some(VIEWER)).await;
    assert_eq!(runs.status, 200);
    let runs = runs.json();
    assert_eq!(runs[0]["id"], id.as_str());
    assert_eq!(runs[0]["status"], "running");
    assert_eq!(runs[0]["controls"]["stop"], true);

    // The stream, from now until the final result is published.
    let reader = tokio::spawn(async move {
        read_events(addr, VIEWER, Duration::from_secs(40), |events| {
            final_run_event(events).is_some()
        })
        .await
    });
    let (dashboard, outcome, addr, id) = run.finish().await;
    let events = reader.await.expect("the reader does not panic");
    let result = &outcome.result;

    let first = events.first().expect("at least the snapshot");
    assert_eq!(first.name, "snapshot");
    let snapshot: Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(snapshot["views"][0]["summary"]["id"], id.as_str());
    assert!(
        events.windows(2).all(|w| w[0].id < w[1].id),
        "event ids increase"
    );

    // One tick a second: every second of the run arrives as its own point, in order, with
    // no second missing, and ticks come about a second apart.
    let seen_before = snapshot["views"][0]["series"]
        .as_array()
        .map_or(0, |s| s.len() as u64);
    let ts = tick_ts(&events);
    assert!(ts.len() >= 3, "{} points pushed: {ts:?}", ts.len());
    let expected: Vec<u64> = (seen_before..seen_before + ts.len() as u64).collect();
    assert_eq!(ts, expected, "one new point per second, none missing");
    let ticks: Vec<&SseEvent> = events.iter().filter(|e| e.name == "tick").collect();
    for pair in ticks.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap < Duration::from_millis(2500), "{gap:?} between ticks");
    }
    let requests_seen: Vec<u64> = ticks
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(&e.data).unwrap()["headline"]["requests"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        requests_seen.windows(2).all(|w| w[0] <= w[1]),
        "{requests_seen:?}"
    );

    let last = final_run_event(&events).expect("the final view was pushed");
    assert_eq!(last["summary"]["requests"], result.total.requests);
    assert_eq!(
        last["summary"]["passed"],
        result.thresholds.iter().all(|t| t.passed)
    );
    assert_eq!(
        last["series"].as_array().unwrap().len(),
        result.series.len()
    );

    // The JSON endpoints now serve the final result.
    let served = request(addr, "GET", &format!("/api/runs/{id}"), Some(VIEWER)).await;
    assert_eq!(served.status, 200);
    assert_eq!(
        served.body,
        serde_json::to_vec(result).unwrap(),
        "the final result, as --out has it"
    );
    assert_eq!(
        request(addr, "GET", "/api/runs/nope", Some(VIEWER))
            .await
            .status,
        404
    );
    let runs = request(addr, "GET", "/api/runs", Some(OPERATOR))
        .await
        .json();
    assert_eq!(runs[0]["status"], "done");
    assert_eq!(runs[0]["requests"], result.total.requests);
    // Each verdict is the result's threshold, with its state and its value in its unit.
    let verdicts = runs[0]["verdicts"].as_array().expect("verdicts");
    assert_eq!(verdicts.len(), result.thresholds.len());
    for (v, t) in verdicts.iter().zip(&result.thresholds) {
        assert_eq!(v["expr"], t.expr.as_str());
        assert_eq!(v["passed"], t.passed);
        assert_eq!(v["state"], if t.passed { "pass" } else { "fail" });
        assert_eq!(
            v["actual_text"],
            ptl_report::units::format_actual(&t.expr, t.actual).as_str()
        );
    }
    let report = request(addr, "GET", &format!("/api/runs/{id}/report"), Some(VIEWER)).await;
    assert_eq!(report.status, 200);
    assert_eq!(report.text(), ptl_report::html::render_report(result));

    check_metrics(addr, &id, result).await;
    Arc::try_unwrap(dashboard)
        .ok()
        .expect("the only handle")
        .shutdown()
        .await;
}

/// `/metrics` parses as the Prometheus text format and its counters are the result's.
async fn check_metrics(
    addr: std::net::SocketAddr,
    id: &str,
    result: &ptl_engine::result::RunResult,
) {
    let answer = request(addr, "GET", "/metrics", Some(VIEWER)).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.head.contains("text/plain; version=0.0.4"),
        "{}",
        answer.head
    );
    let text = answer.text();
    strict_text_format(&text);
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("the exposition parses");
    let counter = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == name
                    && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
                    && s.labels.get("run") == Some(id)
            })
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
    };
    let mut total = 0.0;
    let mut errors = 0.0;
    for phase in &result.phases {
        assert_eq!(
            counter(
                "ptl_phase_exhausted_total",
                &[("phase", phase.name.as_str())]
            ),
            Some(phase.exhausted as f64),
            "{}",
            phase.name
        );
        for r in &phase.requests {
            let at = [("phase", phase.name.as_str()), ("request", r.name.as_str())];
            let requests = counter("ptl_requests_total", &at).expect("a requests counter");
            assert_eq!(requests, r.requests as f64, "{} {}", phase.name, r.name);
            total += requests;
            assert_eq!(counter("ptl_dropped_total", &at), Some(r.dropped as f64));
            for (class, n) in &r.errors_by_class {
                let mut with_class = at.to_vec();
                with_class.push(("class", class.as_str()));
                let v = counter("ptl_errors_total", &with_class).expect("an errors counter");
                assert_eq!(v, *n as f64, "{} {} {class}", phase.name, r.name);
                errors += v;
            }
            let p95 = counter(
                "ptl_response_time_seconds",
                &[at[0], at[1], ("percentile", "p95")],
            );
            match &r.response_time_ms {
                Some(latency) => {
                    let p95 = p95.expect("a p95");
                    assert!((p95 - latency.p95 / 1000.0).abs() < 1e-6);
                }
                // No answer, no samples: never a p95 of 0.
                None => assert_eq!(p95, None),
            }
        }
    }
    assert_eq!(total, result.total.requests as f64);
    assert_eq!(errors, result.total.errors as f64);
    assert!(result.total.errors > 0, "the target failed 10% of requests");
    let types: BTreeMap<String, String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    assert_eq!(types["ptl_requests_total"], "counter");
    assert_eq!(types["ptl_errors_total"], "counter");
    assert_eq!(types["ptl_target_rate"], "gauge");
}

/// Every line is a comment (HELP/TYPE for the family that follows) or `name{labels} value`
/// with a name of the family last declared.
fn strict_text_format(text: &str) {
    let mut family = String::new();
    let mut samples = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            family = rest.split(' ').next().unwrap_or_default().to_string();
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert_eq!(name, family, "TYPE follows its HELP");
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line}");
        let (series, value) = line.rsplit_once(' ').expect("a value");
        value.parse::<f64>().expect("a float value");
        let name = series.split('{').next().unwrap_or_default();
        assert_eq!(name, family, "{line}");
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            }
        }
        samples += 1;
    }
    assert!(samples > 0, "samples present");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_needs_the_operator_token_and_stops_the_run() {
    let run = start_run(30, 0.0).await;
    let (addr, id) = (run.addr, run.id.clone());
    // Wait for the first second of data, so the stop lands mid-run.
    let events = read_events(addr, OPERATOR, Duration::from_secs(20), |events| {
        events.iter().any(|e| e.name == "tick")
    })
    .await;
    assert!(events.iter().any(|e| e.name == "tick"));

    let stop = format!("/api/runs/{id}/stop");
    let refused = request(addr, "POST", &stop, None).await;
    assert_eq!(refused.status, 401);
    assert!(refused
        .head
        .to_ascii_lowercase()
        .contains("www-authenticate: bearer"));
    assert_eq!(request(addr, "POST", &stop, Some(VIEWER)).await.status, 401);
    assert_eq!(
        request(addr, "POST", &stop, Some("guess")).await.status,
        401
    );
    assert_eq!(
        request(addr, "POST", "/api/runs/nope/stop", Some(OPERATOR))
            .await
            .status,
        404
    );
    assert_eq!(
        request(addr, "GET", &stop, Some(OPERATOR)).await.status,
        405
    );
    let stopped = request(addr, "POST", &stop, Some(OPERATOR)).await;
    assert_eq!(stopped.status, 202, "{}", stopped.text());
    assert_eq!(stopped.json()["status"], "stopping");

    let (dashboard, outcome, addr, _) = run.finish().await;
    let result = &outcome.result;
    assert!(result.stopped_early);
    assert_eq!(
        result.stop_reason.as_deref(),
        Some("stopped from the dashboard")
    );
    assert!(result.duration_s < 30.0, "{}", result.duration_s);
    assert_eq!(
        request(addr, "POST", &stop, Some(OPERATOR)).await.status,
        409
    );
    Arc::try_unwrap(dashboard)
        .ok()
        .expect("the only handle")
        .shutdown()
        .await;
}
