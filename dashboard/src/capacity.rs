//! The Capacity panel's API: `GET /api/runs/{id}/analysis` answers with what `ptl analyze
//! --format json` prints for a finished run, and `GET /api/runs/{id}/analysis/chart` with its
//! chart (the SVG of `ptl analyze --report`, no script). The run is judged by the plan's own
//! whole-run p50/p95/p99/error_rate thresholds plus the `slo=` the viewer names; `at=` asks
//! for a prediction. The analysis itself is `ptl_report::analysis`.

use crate::access::Viewer;
use crate::reply::{error, json, respond};
use crate::routes::Ctx;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use http::{HeaderValue, StatusCode};
use ptl_report::analysis::slo::{self, Slo};
use ptl_report::analysis::{self, chart, parse_rate, Analysis};

/// The chart is served as a document of its own too (opened in a tab): nothing in it may run
/// or load.
const CHART_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'";

/// Why a run's analysis is not given: the status and the message of the `{error}` answer.
struct Refusal(StatusCode, String);

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal(status, message.into())
    }

    fn answer(&self) -> Response {
        error(self.0, &self.1)
    }
}

/// What the viewer asked for beyond the plan's thresholds.
#[derive(Debug, Default, PartialEq)]
struct Asked {
    slos: Vec<Slo>,
    at: Option<f64>,
}

pub async fn analysis_json(
    _: Viewer,
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    match analyse(&ctx, &id, query.as_deref()) {
        Ok(analysis) => json(StatusCode::OK, &analysis),
        Err(refused) => refused.answer(),
    }
}

pub async fn analysis_chart(
    _: Viewer,
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    match analyse(&ctx, &id, query.as_deref()) {
        Ok(analysis) => {
            let mut response = respond(StatusCode::OK, "image/svg+xml", chart::svg(&analysis));
            response.headers_mut().insert(
                "content-security-policy",
                HeaderValue::from_static(CHART_POLICY),
            );
            response
        }
        Err(refused) => refused.answer(),
    }
}

/// The analysis of run `id`, or the refusal: 404 for an unknown run or one that ended without
/// a result, 409 while it goes on, 400 for a bad `slo`/`at` or no SLO at all, 422 for a run
/// with no step of planned rate to judge.
fn analyse(ctx: &Ctx, id: &str, query: Option<&str>) -> Result<Analysis, Refusal> {
    let Some(status) = ctx.hub.status(id) else {
        return Err(Refusal::new(StatusCode::NOT_FOUND, "no such run"));
    };
    if !status.is_finished() {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "the run has not finished: its capacity is analysed once it has",
        ));
    }
    let Some((_, result)) = ctx.hub.result(id) else {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "this run ended without a result",
        ));
    };
    let asked = parse_query(query).map_err(|m| Refusal::new(StatusCode::BAD_REQUEST, m))?;
    let mut slos = slo::from_thresholds(&result.thresholds);
    for extra in asked.slos {
        if !slos.contains(&extra) {
            slos.push(extra);
        }
    }
    if slos.is_empty() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "no SLO: the plan has no whole-run p50, p95, p99 or error_rate threshold; name one, \
             e.g. slo=p99%20%3C%20500ms",
        ));
    }
    analysis::analyze(&result, &slos, asked.at)
        .map_err(|e| Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
}

/// `slo=…` (repeatable; empty ones are skipped, as an empty field sends them), `at=…`, and the
/// `token` any request may carry; anything else is a mistake worth saying.
fn parse_query(query: Option<&str>) -> Result<Asked, String> {
    let mut asked = Asked::default();
    let pairs = url::form_urlencoded::parse(query.unwrap_or("").as_bytes());
    for (key, value) in pairs {
        let value = value.trim();
        match key.as_ref() {
            "slo" if value.is_empty() => {}
            "slo" => asked
                .slos
                .push(Slo::parse(value).map_err(|e| e.to_string())?),
            "at" if value.is_empty() => {}
            "at" => {
                let rate = parse_rate(value).ok_or_else(|| {
                    format!("at `{value}` is not a rate: write requests per second, e.g. 5000/s")
                })?;
                asked.at = Some(rate);
            }
            "token" => {}
            other => {
                return Err(format!(
                    "unknown parameter `{other}`: the analysis takes slo (repeatable) and at"
                ))
            }
        }
    }
    Ok(asked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Access;
    use crate::hub::{Hub, RunOpen};
    use crate::model::{RunSource, RunStatus};
    use crate::routes::app;
    use crate::sse::Streams;
    use axum::body::Body;
    use http::Request;
    use ptl_engine::result::RunResult;
    use serde_json::{json, Value};
    use std::sync::Arc;
    use std::time::SystemTime;
    use tokio_util::sync::CancellationToken;
    use tower::ServiceExt;

    const VIEWER: &str = "v1";

    /// Steps of 100/s to 600/s, 4 s each; p99 is 10 ms up to 400/s, 300 ms above; the plan's
    /// whole-run `p99 < 100ms` and two thresholds the analysis cannot judge per step.
    fn stepped_result() -> RunResult {
        let mut series = Vec::new();
        for (i, rate) in [100.0, 200.0, 300.0, 400.0, 500.0, 600.0]
            .iter()
            .enumerate()
        {
            let p99 = if *rate <= 400.0 { 10.0 } else { 300.0 };
            for s in 0..4u64 {
                series.push(json!({
                    "t": i as u64 * 4 + s, "phase": "steps", "target_rps": rate,
                    "achieved_rps": rate, "errors": 0, "dropped": 0, "p50_ms": p99 / 2.0,
                    "p95_ms": p99, "p99_ms": p99, "max_ms": p99,
                }));
            }
        }
        let threshold =
            |expr: &str| json!({"expr": expr, "passed": false, "actual": null, "abort": false});
        serde_json::from_value(json!({
            "schema": 1, "ptl_version": "test", "plan": "p", "plan_hash": "", "params": {},
            "seed": 0, "target": "http://127.0.0.1", "started_at": "", "duration_s": 24.0,
            "stopped_early": false, "stop_reason": null,
            "total": {"requests": 0, "errors": 0, "dropped": 0, "achieved_rps": 0.0,
                      "response_time_ms": null, "service_time_ms": null,
                      "schedule_lag_ms": null, "errors_by_class": {}},
            "phases": [],
            "thresholds": [threshold("p99 < 100ms"), threshold("steps.achieved_rate > 99%"),
                           threshold("steps.p95 < 1s")],
            "series": series,
        }))
        .expect("a run result")
    }

    fn hub() -> Arc<Hub> {
        let hub = Hub::new();
        hub.add_finished("done", RunSource::Local, stepped_result());
        let mut closed = stepped_result();
        closed.series.clear();
        hub.add_finished("empty", RunSource::Local, closed);
        let mut bare = stepped_result();
        bare.thresholds.clear();
        hub.add_finished("bare", RunSource::Local, bare);
        hub.add_failed("failed", "p", RunSource::Cluster, "no agent came");
        hub.open_run(RunOpen {
            id: "live".into(),
            plan: crate::test_plan::plan(),
            plan_hash: "h".into(),
            started_at: SystemTime::UNIX_EPOCH,
            source: RunSource::Local,
            status: RunStatus::Running,
            control: None,
        });
        hub
    }

    /// GET `path` from a dashboard of [`hub`] that needs the viewer token: status, content
    /// type, body.
    async fn get(path: &str, token: Option<&str>) -> (u16, String, String) {
        let ctx = Ctx {
            hub: hub(),
            access: Arc::new(Access {
                operator_token: Some("op1".into()),
                viewer_token: Some(VIEWER.into()),
                open_view: false,
            }),
            launcher: None,
            streams: Streams::new(CancellationToken::new()),
            secure: false,
        };
        let mut request = Request::get(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = app(ctx)
            .oneshot(request.body(Body::empty()).expect("a request"))
            .await
            .expect("answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        (
            status,
            content_type,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    fn body(answer: &(u16, String, String)) -> Value {
        serde_json::from_str(&answer.2).expect("JSON")
    }

    #[tokio::test]
    async fn a_finished_run_is_judged_by_the_plans_thresholds_and_the_viewers_slos() {
        let answer = get("/api/runs/done/analysis", Some(VIEWER)).await;
        assert_eq!(answer.0, 200, "{}", answer.2);
        let analysis = body(&answer);
        // p99 < 100ms held up to 400/s and broke at 500/s; the scoped thresholds are not SLOs.
        assert_eq!(analysis["knee_rps"], 400.0);
        assert_eq!(analysis["first_break_rps"], 500.0);
        assert_eq!(analysis["slos"].as_array().map(Vec::len), Some(1));
        assert_eq!(analysis["slos"][0]["slo"], "p99 < 100 ms");

        // The same analysis `ptl analyze` makes with these SLOs.
        let slos = [
            Slo::parse("p99 < 100ms").expect("valid"),
            Slo::parse("p50 < 20ms").expect("valid"),
        ];
        let expected = analysis::analyze(&stepped_result(), &slos, Some(450.0)).expect("analyses");
        let answer = get(
            "/api/runs/done/analysis?slo=p50%20%3C%2020ms&slo=p99+%3C+100ms&slo=&at=450/s",
            Some(VIEWER),
        )
        .await;
        assert_eq!(answer.0, 200, "{}", answer.2);
        assert_eq!(answer.1, "application/json");
        // To the byte: JSON floats read back may differ in the last digit, the text may not.
        assert_eq!(
            answer.2,
            serde_json::to_string(&expected).expect("serialises")
        );
        // A stricter SLO moves the knee down.
        let answer = get("/api/runs/done/analysis?slo=p99%3C5ms", Some(VIEWER)).await;
        assert!(body(&answer)["knee_rps"].is_null());
        assert_eq!(body(&answer)["first_break_rps"], 100.0);
    }

    #[tokio::test]
    async fn the_chart_is_the_reports_svg_under_a_policy_that_runs_nothing() {
        let (status, content_type, svg) = get("/api/runs/done/analysis/chart", Some(VIEWER)).await;
        assert_eq!(status, 200, "{svg}");
        assert_eq!(content_type, "image/svg+xml");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("class=\"step\"").count(), 6);
        assert_eq!(svg.matches("class=\"knee\"").count(), 1);
        assert!(!svg.contains("<script"));
    }

    #[tokio::test]
    async fn refusals_say_why() {
        let refused = |answer: (u16, String, String)| -> (u16, String) {
            let message = body(&answer)["error"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (answer.0, message)
        };
        for path in ["/api/runs/done/analysis", "/api/runs/done/analysis/chart"] {
            assert_eq!(get(path, None).await.0, 401);
            assert_eq!(get(path, Some("wrong")).await.0, 401);
        }
        let (status, message) = refused(get("/api/runs/nope/analysis", Some(VIEWER)).await);
        assert_eq!((status, message.as_str()), (404, "no such run"));
        let (status, message) = refused(get("/api/runs/failed/analysis", Some(VIEWER)).await);
        assert_eq!(status, 404, "{message}");
        let (status, message) = refused(get("/api/runs/live/analysis", Some(VIEWER)).await);
        assert_eq!(status, 409, "{message}");
        assert!(message.contains("not finished"), "{message}");
        let (status, message) = refused(get("/api/runs/live/analysis/chart", Some(VIEWER)).await);
        assert_eq!(status, 409, "{message}");

        let (status, message) =
            refused(get("/api/runs/done/analysis?slo=p99%20%3E%201s", Some(VIEWER)).await);
        assert_eq!(status, 400);
        assert!(
            message.contains("p99 > 1s") && message.contains("METRIC < LIMIT"),
            "{message}"
        );
        let (status, message) =
            refused(get("/api/runs/done/analysis?slo=p98%3C1s", Some(VIEWER)).await);
        assert_eq!(status, 400);
        assert!(message.contains("p50, p95, p99, error_rate"), "{message}");
        let (status, message) = refused(get("/api/runs/done/analysis?at=fast", Some(VIEWER)).await);
        assert_eq!(status, 400);
        assert!(message.contains("not a rate"), "{message}");
        let (status, message) = refused(get("/api/runs/done/analysis?knee=1", Some(VIEWER)).await);
        assert_eq!(status, 400);
        assert!(message.contains("unknown parameter `knee`"), "{message}");

        // No threshold the analysis understands, and none named: say which to give.
        let (status, message) = refused(get("/api/runs/bare/analysis", Some(VIEWER)).await);
        assert_eq!(status, 400);
        assert!(message.contains("no SLO"), "{message}");
        let answer = get("/api/runs/bare/analysis?slo=p99%3C100ms", Some(VIEWER)).await;
        assert_eq!(body(&answer)["knee_rps"], 400.0);

        // No usable steps: said instead of a chart.
        let (status, message) = refused(get("/api/runs/empty/analysis", Some(VIEWER)).await);
        assert_eq!(status, 422);
        assert!(message.contains("no second with a planned"), "{message}");
        let (status, _) = refused(get("/api/runs/empty/analysis/chart", Some(VIEWER)).await);
        assert_eq!(status, 422);
        // The token may come as a query parameter, as for every read.
        assert_eq!(
            get(&format!("/api/runs/done/analysis?token={VIEWER}"), None)
                .await
                .0,
            200
        );
    }

    #[test]
    fn the_query_takes_slos_at_and_the_token() {
        let asked = parse_query(Some("slo=p99+%3C+1s&slo=error_rate%3C1%25&at=5000&token=x"))
            .expect("valid");
        assert_eq!(asked.slos.len(), 2);
        assert_eq!(asked.slos[1].to_string(), "error_rate < 1.00%");
        assert_eq!(asked.at, Some(5000.0));
        assert_eq!(parse_query(None), Ok(Asked::default()));
        assert_eq!(parse_query(Some("slo=&at=")), Ok(Asked::default()));
    }
}
