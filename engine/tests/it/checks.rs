//! The richer checks (`expect duration`, `header(…) contains`, `body matches`, `json(…) !=`,
//! `exists json(…)`) against a real HTTP/1.1 server on 127.0.0.1 that answers JSON on `/order`,
//! HTML on `/html` and slowly on `/slow`: each check passes where it should and fails, as an
//! `expect` error, where it should; a failed duration check still records the response.

use crate::engine_support::{listen, plan, rate, serial};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request as HttpRequest, Response};
use hyper_util::rt::TokioIo;
use ptl_bytecode::plan::*;
use ptl_engine::result::RequestResult;
use ptl_engine::{run_blocking, RunOptions};
use std::time::Duration;

const ORDER: &str = r#"{"id": "o-991", "state": "paid", "receipt": null}"#;

/// How long `/slow` takes to answer.
const SLOW: Duration = Duration::from_millis(250);

async fn answer(req: HttpRequest<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (content_type, body) = match req.uri().path() {
        "/html" => ("text/html", "<p>order o-12</p>"),
        "/slow" => {
            tokio::time::sleep(SLOW).await;
            ("application/json; charset=utf-8", ORDER)
        }
        _ => ("application/json; charset=utf-8", ORDER),
    };
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    resp.headers_mut().insert(
        "content-type",
        content_type.parse().expect("a header value"),
    );
    Ok(resp)
}

fn server() -> String {
    let addr = listen(|stream| async move {
        let _ = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service_fn(answer))
            .await;
    });
    format!("http://{addr}")
}

/// One case: a top-level request to `path` with one expectation, and whether it must hold.
struct Case {
    name: &'static str,
    path: &'static str,
    expect: Expect,
    holds: bool,
}

struct Consts(Vec<Vec<u8>>);

impl Consts {
    fn c(&mut self, text: &str) -> ConstId {
        self.0.push(text.as_bytes().to_vec());
        ConstId(self.0.len() as u32 - 1)
    }
}

fn cases(k: &mut Consts) -> Vec<Case> {
    let case = |name, path, expect, holds| Case {
        name,
        path,
        expect,
        holds,
    };
    vec![
        case(
            "duration_ok",
            "/order",
            Expect::LatencyBelow { us: 2_000_000 },
            true,
        ),
        case(
            "duration_over",
            "/slow",
            Expect::LatencyBelow { us: 100_000 },
            false,
        ),
        case(
            "header_ok",
            "/order",
            Expect::HeaderContains {
                name: k.c("CONTENT-TYPE"),
                needle: k.c("json"),
            },
            true,
        ),
        case(
            "header_other",
            "/html",
            Expect::HeaderContains {
                name: k.c("Content-Type"),
                needle: k.c("json"),
            },
            false,
        ),
        case(
            "header_absent",
            "/order",
            Expect::HeaderContains {
                name: k.c("X-Request-Id"),
                needle: k.c("a"),
            },
            false,
        ),
        case(
            "matches_ok",
            "/order",
            Expect::BodyMatches(k.c(r#""id":\s*"o-\d{3}""#)),
            true,
        ),
        case(
            "matches_not",
            "/html",
            Expect::BodyMatches(k.c(r#""id":\s*"o-\d{3}""#)),
            false,
        ),
        case(
            "ne_ok",
            "/order",
            Expect::JsonNe {
                path: k.c("$.state"),
                value: k.c(r#""failed""#),
            },
            true,
        ),
        case(
            "ne_equal",
            "/order",
            Expect::JsonNe {
                path: k.c("$.state"),
                value: k.c(r#""paid""#),
            },
            false,
        ),
        case(
            "ne_absent",
            "/order",
            Expect::JsonNe {
                path: k.c("$.status"),
                value: k.c(r#""failed""#),
            },
            false,
        ),
        case(
            "exists_null",
            "/order",
            Expect::JsonExists(k.c("$.receipt")),
            true,
        ),
        case(
            "exists_absent",
            "/order",
            Expect::JsonExists(k.c("$.invoice")),
            false,
        ),
        case(
            "exists_not_json",
            "/html",
            Expect::JsonExists(k.c("$.receipt")),
            false,
        ),
    ]
}

/// Each case runs alone in a short phase of its own (the phase's mix names only it), so every
/// case is sent, whatever the mix would have drawn.
#[test]
fn each_richer_check_passes_and_fails_when_it_should() {
    let _serial = serial();
    let url = server();
    let mut consts = Consts(Vec::new());
    let cases = cases(&mut consts);
    let mut scenarios = Vec::new();
    let mut phases = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mut request = Request::get(case.name, consts.c(case.path));
        request.expects.push(case.expect.clone());
        scenarios.push(Scenario::single(request));
        let mut phase = rate(case.name, 40.0, 0.25);
        phase.mix = Some(vec![(i as u32, 1)]);
        phases.push(phase);
    }
    let mut p = plan(&url, phases);
    p.consts = consts.0;
    p.scenarios = scenarios;
    let out = run_blocking(
        &p,
        RunOptions {
            workers: Some(2),
            ..RunOptions::default()
        },
    )
    .expect("runs");

    for (case, phase) in cases.iter().zip(&out.result.phases) {
        let r: &RequestResult = phase
            .requests
            .iter()
            .find(|r| r.name == case.name)
            .unwrap_or_else(|| panic!("{}: no result", case.name));
        assert!(r.requests >= 5, "{}: {} sent", case.name, r.requests);
        assert_eq!(
            r.status_codes.get("200"),
            Some(&r.requests),
            "{}: every answer is a 200, counted whatever the check says",
            case.name
        );
        let expect_errors = r.errors_by_class.get("expect").copied().unwrap_or(0);
        if case.holds {
            assert_eq!(r.errors, 0, "{}: {:?}", case.name, r.errors_by_class);
        } else {
            assert_eq!(
                (r.errors, expect_errors),
                (r.requests, r.requests),
                "{}: {:?}",
                case.name,
                r.errors_by_class
            );
        }
    }

    // A response slower than `expect duration` is an error, and its time is still measured.
    let slow = out.result.phases[1]
        .requests
        .iter()
        .find(|r| r.name == "duration_over")
        .expect("the slow case");
    let latency = slow.response_time_ms.expect("failed responses are timed");
    assert!(
        latency.p50 >= SLOW.as_millis() as f64,
        "p50 {} ms",
        latency.p50
    );
}
