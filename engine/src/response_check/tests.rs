//! Expectations and captures against hand-made responses.

use super::*;
use crate::vm::test_plan::PlanBuilder;
use crate::vm::AgentShare;
use http::{HeaderMap, HeaderValue};
use ptl_bytecode::plan::{Capture, CaptureSource, ConstId, Expect, Method, Step};

/// A one-step scenario with `expects` and `captures` (built against the builder's pool).
pub(super) fn program(
    build: impl FnOnce(&mut PlanBuilder) -> (Vec<Expect>, Vec<Capture>),
) -> Result<Program, VmError> {
    let mut b = PlanBuilder::new("http://h");
    let (expects, captures) = build(&mut b);
    let mut req = b.request(Method::Get, "/", &[], None);
    req.expects = expects;
    req.captures = captures;
    b.scenario("s", 1, 4, vec![Step::Request(req)]);
    Program::new(&b.plan, AgentShare::solo())
}

pub(super) fn check(
    p: &Program,
    status: u16,
    headers: &HeaderMap,
    body: &str,
    us: u64,
) -> (Iteration, Result<(), CheckFailure>) {
    let mut w = p.worker(0);
    let mut it = p.begin_iteration(&mut w, 0).expect("rows left");
    let r = p.check_response(&mut it, 0, 0, status, headers, body.as_bytes(), us);
    (it, r)
}

pub(super) fn class(r: Result<(), CheckFailure>) -> Option<FailureClass> {
    r.err().map(|f| f.class)
}

fn capture(register: u32, source: CaptureSource, default: Option<ConstId>) -> Capture {
    Capture {
        register,
        source,
        default,
    }
}

#[test]
fn without_a_status_expectation_2xx_and_3xx_succeed() {
    let p = program(|_| (vec![], vec![])).expect("loads");
    let h = HeaderMap::new();
    for ok in [200, 204, 301, 399] {
        assert_eq!(class(check(&p, ok, &h, "", 1).1), None, "{ok}");
    }
    for bad in [100, 199, 400, 404, 500, 503] {
        assert_eq!(
            class(check(&p, bad, &h, "", 1).1),
            Some(FailureClass::Status),
            "{bad}"
        );
    }
}

#[test]
fn status_expectations_are_inclusive_ranges() {
    let p = program(|_| {
        (
            vec![Expect::Status(vec![(200, 200), (404, 404), (500, 502)])],
            vec![],
        )
    })
    .expect("loads");
    let h = HeaderMap::new();
    for ok in [200, 404, 500, 501, 502] {
        assert_eq!(class(check(&p, ok, &h, "", 1).1), None, "{ok}");
    }
    for bad in [201, 302, 403, 503] {
        let (_, r) = check(&p, bad, &h, "", 1);
        let f = r.expect_err("a failure");
        assert_eq!(f.class, FailureClass::Status);
        assert!(f.detail.contains(&bad.to_string()), "{}", f.detail);
        assert!(f.detail.contains("500..502"), "{}", f.detail);
    }
}

#[test]
fn latency_must_be_strictly_below() {
    let p = program(|_| (vec![Expect::LatencyBelow { us: 2_000_000 }], vec![])).expect("loads");
    let h = HeaderMap::new();
    assert_eq!(class(check(&p, 200, &h, "", 1_999_999).1), None);
    assert_eq!(
        class(check(&p, 200, &h, "", 2_000_000).1),
        Some(FailureClass::Expect)
    );
    assert!(!p.needs_body(0, 0));
}

#[test]
fn body_contains_searches_the_whole_body() {
    let p = program(|b| (vec![Expect::BodyContains(b.c("paid"))], vec![])).expect("loads");
    let h = HeaderMap::new();
    let long = format!("{}paid", "x".repeat(100_000));
    assert_eq!(class(check(&p, 200, &h, &long, 1).1), None);
    assert_eq!(
        class(check(&p, 200, &h, "pai d", 1).1),
        Some(FailureClass::Expect)
    );
    assert!(p.needs_body(0, 0));
}

#[test]
fn status_is_judged_before_other_expectations() {
    let p = program(|b| (vec![Expect::BodyContains(b.c("paid"))], vec![])).expect("loads");
    let h = HeaderMap::new();
    assert_eq!(
        class(check(&p, 500, &h, "", 1).1),
        Some(FailureClass::Status)
    );
}

#[test]
fn json_eq_compares_values_not_text() {
    let p = program(|b| {
        let e = vec![
            Expect::JsonEq {
                path: b.c("$.ok"),
                value: b.c("true"),
            },
            Expect::JsonEq {
                path: b.c("$.items[*].qty"),
                value: b.c("2"),
            },
        ];
        (e, vec![])
    })
    .expect("loads");
    let h = HeaderMap::new();
    let good = r#"{"ok": true, "items": [{"qty": 1}, {"qty": 2.0}]}"#;
    assert_eq!(class(check(&p, 200, &h, good, 1).1), None);
    let wrong = r#"{"ok": false, "items": [{"qty": 2}]}"#;
    let f = check(&p, 200, &h, wrong, 1).1.expect_err("a failure");
    assert_eq!(f.class, FailureClass::Expect);
    assert!(f.detail.contains("$.ok is false"), "{}", f.detail);
    let missing = r#"{"items": [{"qty": 2}]}"#;
    let f = check(&p, 200, &h, missing, 1).1.expect_err("a failure");
    assert!(f.detail.contains("selects nothing"), "{}", f.detail);
    let f = check(&p, 200, &h, "<html>", 1).1.expect_err("a failure");
    assert!(f.detail.contains("not JSON"), "{}", f.detail);
}

#[test]
fn captures_store_what_they_find() {
    let p = program(|b| {
        let c = vec![
            capture(0, CaptureSource::Json(b.c("$.token")), None),
            capture(1, CaptureSource::Json(b.c("$.cart")), None),
            capture(2, CaptureSource::Header(b.c("ETag")), None),
            capture(
                3,
                CaptureSource::Regex(b.c(r#""order":\s*"(o-[0-9]+)""#)),
                None,
            ),
        ];
        (vec![], c)
    })
    .expect("loads");
    let mut h = HeaderMap::new();
    h.insert("etag", HeaderValue::from_static("\"v7\""));
    let body = r#"{"token": "abc", "cart": {"n": 2}, "order": "o-991"}"#;
    let (it, r) = check(&p, 200, &h, body, 1);
    assert_eq!(r, Ok(()));
    assert_eq!(
        it.register(0),
        Some(&b"abc"[..]),
        "strings are captured unquoted"
    );
    assert_eq!(
        it.register(1),
        Some(&br#"{"n":2}"#[..]),
        "other values as JSON"
    );
    assert_eq!(it.register(2), Some(&b"\"v7\""[..]));
    assert_eq!(
        it.register(3),
        Some(&b"o-991"[..]),
        "the first group, not the match"
    );
}

#[test]
fn status_capture_and_numbers() {
    let p = program(|b| {
        let c = vec![
            capture(0, CaptureSource::Status, None),
            capture(1, CaptureSource::Json(b.c("$.n")), None),
        ];
        (vec![Expect::Status(vec![(200, 599)])], c)
    })
    .expect("loads");
    let (it, r) = check(&p, 503, &HeaderMap::new(), r#"{"n": 12.5}"#, 1);
    assert_eq!(r, Ok(()));
    assert_eq!(it.register(0), Some(&b"503"[..]));
    assert_eq!(it.register(1), Some(&b"12.5"[..]));
}

#[test]
fn defaults_fill_in_and_missing_captures_fail() {
    let p = program(|b| {
        let none = b.c("none");
        let c = vec![
            capture(0, CaptureSource::Json(b.c("$.token")), Some(none)),
            capture(1, CaptureSource::Header(b.c("X-Id")), Some(none)),
            capture(2, CaptureSource::Regex(b.c("id=(\\d+)")), None),
        ];
        (vec![], c)
    })
    .expect("loads");
    let (it, r) = check(&p, 200, &HeaderMap::new(), "not json", 1);
    assert_eq!(it.register(0), Some(&b"none"[..]));
    assert_eq!(it.register(1), Some(&b"none"[..]));
    assert_eq!(it.register(2), None);
    let f = r.expect_err("the regex capture has no default");
    assert_eq!(f.class, FailureClass::Capture);
    assert!(f.detail.contains("did not match"), "{}", f.detail);
    let (it, r) = check(&p, 200, &HeaderMap::new(), "id=17", 1);
    assert_eq!(r, Ok(()));
    assert_eq!(it.register(2), Some(&b"17"[..]));
}

#[test]
fn a_json_capture_without_default_fails_on_a_missing_path() {
    let p = program(|b| {
        (
            vec![],
            vec![capture(0, CaptureSource::Json(b.c("$.token")), None)],
        )
    })
    .expect("loads");
    let f = check(&p, 200, &HeaderMap::new(), r#"{"other": 1}"#, 1)
        .1
        .expect_err("a failure");
    assert_eq!(f.class, FailureClass::Capture);
    assert!(f.detail.contains("$.token"), "{}", f.detail);
}

#[test]
fn needs_body_only_for_body_readers() {
    let header_only = program(|b| {
        let c = vec![
            capture(0, CaptureSource::Header(b.c("ETag")), None),
            capture(1, CaptureSource::Status, None),
        ];
        (
            vec![
                Expect::Status(vec![(200, 200)]),
                Expect::LatencyBelow { us: 5 },
            ],
            c,
        )
    })
    .expect("loads");
    assert!(!header_only.needs_body(0, 0));
    assert!(header_only.needs_headers(0, 0));
    let regex = program(|b| {
        (
            vec![],
            vec![capture(0, CaptureSource::Regex(b.c("(a)")), None)],
        )
    })
    .expect("loads");
    assert!(regex.needs_body(0, 0));
    assert!(!regex.needs_headers(0, 0), "no header capture, no cookies");
    let json = program(|b| {
        let e = vec![Expect::JsonEq {
            path: b.c("$.a"),
            value: b.c("1"),
        }];
        (e, vec![])
    })
    .expect("loads");
    assert!(json.needs_body(0, 0));
}

#[test]
fn bad_checks_are_load_errors() {
    let no_group = program(|b| {
        (
            vec![],
            vec![capture(0, CaptureSource::Regex(b.c("id=\\d+")), None)],
        )
    });
    assert!(matches!(no_group, Err(VmError::InvalidRegex { .. })));
    let bad_regex = program(|b| {
        (
            vec![],
            vec![capture(0, CaptureSource::Regex(b.c("(")), None)],
        )
    });
    assert!(matches!(bad_regex, Err(VmError::InvalidRegex { .. })));
    let bad_path = program(|b| {
        (
            vec![],
            vec![capture(0, CaptureSource::Json(b.c("$..[")), None)],
        )
    });
    assert!(matches!(bad_path, Err(VmError::InvalidJsonPath { .. })));
    let bad_header = program(|b| {
        (
            vec![],
            vec![capture(0, CaptureSource::Header(b.c("a b")), None)],
        )
    });
    assert!(matches!(bad_header, Err(VmError::InvalidHeaderName { .. })));
    let bad_value = program(|b| {
        let e = vec![Expect::JsonEq {
            path: b.c("$.a"),
            value: b.c("{nope"),
        }];
        (e, vec![])
    });
    assert!(matches!(bad_value, Err(VmError::InvalidJsonValue { .. })));
    let bad_register = program(|_| (vec![], vec![capture(9, CaptureSource::Status, None)]));
    assert!(matches!(
        bad_register,
        Err(VmError::RegisterOutOfRange { .. })
    ));
}

#[test]
fn failures_render_with_their_class() {
    let f = CheckFailure {
        class: FailureClass::Capture,
        detail: "capture $.x found nothing".into(),
    };
    assert_eq!(f.to_string(), "capture: capture $.x found nothing");
    assert_eq!(FailureClass::Status.as_str(), "status");
    assert_eq!(FailureClass::Expect.as_str(), "expect");
}
