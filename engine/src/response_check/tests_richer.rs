//! The expectations of plan format v3 (`body matches`, `json(…) !=`, `exists json(…)`,
//! `header(…) contains`) against hand-made responses.

use super::tests::{check, class, program};
use super::*;
use http::{HeaderMap, HeaderValue};
use ptl_bytecode::plan::Expect;

#[test]
fn body_matches_is_an_unanchored_regex_on_bytes() {
    let p =
        program(|b| (vec![Expect::BodyMatches(b.c(r"order=o-\d{3}\b"))], vec![])).expect("loads");
    let h = HeaderMap::new();
    assert_eq!(class(check(&p, 200, &h, "x order=o-991 y", 1).1), None);
    let f = check(&p, 200, &h, "order=o-99", 1).1.expect_err("no match");
    assert_eq!(f.class, FailureClass::Expect);
    assert!(f.detail.contains(r"/order=o-\d{3}\b/"), "{}", f.detail);
    assert!(p.needs_body(0, 0));
    assert!(!p.needs_headers(0, 0));
}

#[test]
fn json_ne_needs_a_value_and_a_different_one() {
    let p = program(|b| {
        let e = vec![Expect::JsonNe {
            path: b.c("$.state"),
            value: b.c(r#""failed""#),
        }];
        (e, vec![])
    })
    .expect("loads");
    let h = HeaderMap::new();
    assert_eq!(class(check(&p, 200, &h, r#"{"state": "paid"}"#, 1).1), None);
    assert_eq!(class(check(&p, 200, &h, r#"{"state": null}"#, 1).1), None);
    let f = check(&p, 200, &h, r#"{"state": "failed"}"#, 1)
        .1
        .expect_err("equal");
    assert!(f.detail.contains("expected anything else"), "{}", f.detail);
    let f = check(&p, 200, &h, r#"{"other": 1}"#, 1)
        .1
        .expect_err("absent");
    assert!(f.detail.contains("selects nothing"), "{}", f.detail);
    let f = check(&p, 200, &h, "<html>", 1).1.expect_err("not JSON");
    assert!(f.detail.contains("not JSON"), "{}", f.detail);
}

#[test]
fn json_ne_on_a_wildcard_fails_when_any_node_is_equal() {
    let p = program(|b| {
        let e = vec![Expect::JsonNe {
            path: b.c("$.items[*].qty"),
            value: b.c("0"),
        }];
        (e, vec![])
    })
    .expect("loads");
    let h = HeaderMap::new();
    let ok = r#"{"items": [{"qty": 1}, {"qty": 2}]}"#;
    assert_eq!(class(check(&p, 200, &h, ok, 1).1), None);
    let bad = r#"{"items": [{"qty": 1}, {"qty": 0.0}]}"#;
    assert_eq!(
        class(check(&p, 200, &h, bad, 1).1),
        Some(FailureClass::Expect)
    );
    let none = r#"{"items": []}"#;
    assert_eq!(
        class(check(&p, 200, &h, none, 1).1),
        Some(FailureClass::Expect)
    );
}

#[test]
fn exists_counts_null_and_fails_on_absence() {
    for path in ["$.id", "$..id"] {
        let p = program(|b| (vec![Expect::JsonExists(b.c(path))], vec![])).expect("loads");
        let h = HeaderMap::new();
        assert_eq!(
            class(check(&p, 200, &h, r#"{"id": 7}"#, 1).1),
            None,
            "{path}"
        );
        assert_eq!(
            class(check(&p, 200, &h, r#"{"id": null}"#, 1).1),
            None,
            "{path}: null is present"
        );
        let f = check(&p, 200, &h, r#"{"ids": 7}"#, 1)
            .1
            .expect_err("absent");
        assert!(
            f.detail.contains("expected it to exist"),
            "{path}: {}",
            f.detail
        );
        assert_eq!(
            class(check(&p, 200, &h, "not json", 1).1),
            Some(FailureClass::Expect),
            "{path}"
        );
    }
}

#[test]
fn header_contains_ignores_the_name_case_not_the_value_case() {
    let p = program(|b| {
        let e = vec![Expect::HeaderContains {
            name: b.c("Content-Type"),
            needle: b.c("json"),
        }];
        (e, vec![])
    })
    .expect("loads");
    assert!(p.needs_headers(0, 0));
    assert!(!p.needs_body(0, 0));
    let mut h = HeaderMap::new();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    assert_eq!(class(check(&p, 200, &h, "", 1).1), None);
    let mut upper = HeaderMap::new();
    upper.insert("content-type", HeaderValue::from_static("application/JSON"));
    let f = check(&p, 200, &upper, "", 1)
        .1
        .expect_err("JSON is not json");
    assert!(f.detail.contains("application/JSON"), "{}", f.detail);
    let f = check(&p, 200, &HeaderMap::new(), "", 1)
        .1
        .expect_err("absent");
    assert!(f.detail.contains("no content-type header"), "{}", f.detail);
}

#[test]
fn header_contains_looks_at_every_value_of_the_name() {
    let p = program(|b| {
        let e = vec![Expect::HeaderContains {
            name: b.c("vary"),
            needle: b.c("Accept"),
        }];
        (e, vec![])
    })
    .expect("loads");
    let mut h = HeaderMap::new();
    h.append("vary", HeaderValue::from_static("Origin"));
    h.append("vary", HeaderValue::from_static("Accept-Encoding"));
    assert_eq!(class(check(&p, 200, &h, "", 1).1), None);
}

#[test]
fn bad_richer_checks_are_load_errors() {
    let bad_regex = program(|b| (vec![Expect::BodyMatches(b.c("a("))], vec![]));
    assert!(matches!(bad_regex, Err(VmError::InvalidRegex { .. })));
    let bad_header = program(|b| {
        let e = vec![Expect::HeaderContains {
            name: b.c("a b"),
            needle: b.c("x"),
        }];
        (e, vec![])
    });
    assert!(matches!(bad_header, Err(VmError::InvalidHeaderName { .. })));
    let bad_path = program(|b| (vec![Expect::JsonExists(b.c("$..["))], vec![]));
    assert!(matches!(bad_path, Err(VmError::InvalidJsonPath { .. })));
    let bad_value = program(|b| {
        let e = vec![Expect::JsonNe {
            path: b.c("$.a"),
            value: b.c("{nope"),
        }];
        (e, vec![])
    });
    assert!(matches!(bad_value, Err(VmError::InvalidJsonValue { .. })));
}
