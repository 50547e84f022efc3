//! The wire form against the built request encoded the slow way: the same method, target,
//! headers (per name, in order) and body, for fixed and templated parts, defaults, cookies,
//! framing headers the plan sets, and every fault edit.

use super::super::test_plan::PlanBuilder;
use super::super::{Iteration, Program, VmError, WireEdit};
use super::*;
use crate::vm::AgentShare;
use proptest::prelude::*;
use ptl_bytecode::plan::{Generator, Method as PlanMethod, Step};

/// Method, target, headers grouped by name (values in order), body.
type Canonical = (String, String, Vec<(String, Vec<Vec<u8>>)>, Vec<u8>);

fn canonical(wire: &[u8]) -> Canonical {
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut slots);
    let len = match req.parse(wire) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!(
            "not a request: {other:?} in {:?}",
            String::from_utf8_lossy(wire)
        ),
    };
    let mut headers: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for h in req.headers.iter() {
        let name = h.name.to_ascii_lowercase();
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(h.value.to_vec()),
            None => headers.push((name, vec![h.value.to_vec()])),
        }
    }
    headers.sort();
    (
        req.method.unwrap_or_default().to_string(),
        req.path.unwrap_or_default().to_string(),
        headers,
        wire[len..].to_vec(),
    )
}

/// The request the slow way: built, edited as the engine used to, encoded.
fn built_wire(p: &Program, it: &Iteration, s: u32, step: u32, edit: &WireEdit<'_>) -> Vec<u8> {
    let mut b = p.build(it, s, step).expect("builds");
    if let Some(f) = edit.body {
        b.headers.remove(CONTENT_LENGTH);
        b.body = f(b.body.len());
    }
    if let Some((n, v)) = edit.header {
        b.headers.insert(n.clone(), v.clone());
    }
    let mut out = Vec::new();
    wire_request::encode(
        &b.method,
        b.path_and_query.as_str(),
        &b.headers,
        &b.body,
        &mut out,
    );
    out
}

fn fast_wire(p: &Program, it: &Iteration, s: u32, step: u32, edit: &WireEdit<'_>) -> Vec<u8> {
    let mut out = b"kept".to_vec();
    p.write_request(it, s, step, edit, &mut out)
        .expect("writes");
    assert_eq!(&out[..4], b"kept", "appends");
    out.split_off(4)
}

fn assert_same(p: &Program, it: &Iteration, s: u32, step: u32, edit: &WireEdit<'_>) {
    let fast = fast_wire(p, it, s, step, edit);
    let slow = built_wire(p, it, s, step, edit);
    assert_eq!(
        canonical(&fast),
        canonical(&slow),
        "\nwire:  {:?}\nbuilt: {:?}",
        String::from_utf8_lossy(&fast),
        String::from_utf8_lossy(&slow)
    );
}

fn corrupt(len: usize) -> Bytes {
    Bytes::from(vec![b'#'; len.max(64)])
}

fn load(b: &PlanBuilder) -> Program {
    Program::new(&b.plan, AgentShare::solo()).expect("the plan loads")
}

fn edits() -> Vec<(HeaderName, HeaderValue)> {
    [
        "x-fault",
        "host",
        "cookie",
        "x-a",
        "content-length",
        "transfer-encoding",
    ]
    .iter()
    .map(|n| (HeaderName::from_static(n), HeaderValue::from_static("7")))
    .collect()
}

fn all_edits(p: &Program, it: &Iteration, s: u32, step: u32) {
    assert_same(p, it, s, step, &WireEdit::default());
    let body = WireEdit {
        header: None,
        body: Some(corrupt),
    };
    assert_same(p, it, s, step, &body);
    for (n, v) in &edits() {
        let header = WireEdit {
            header: Some((n, v)),
            body: None,
        };
        assert_same(p, it, s, step, &header);
    }
}

#[test]
fn a_fixed_get_is_one_copy_and_matches() {
    let mut b = PlanBuilder::new("http://127.0.0.1:8080/api");
    let req = b.request(PlanMethod::Get, "/x?y=1", &[("Accept", "*/*")], None);
    b.single(req);
    let p = load(&b);
    let mut w = p.worker(0);
    let it = p.begin_iteration(&mut w, 0).expect("rows left");
    assert_eq!(
        fast_wire(&p, &it, 0, 0, &WireEdit::default()),
        b"GET /api/x?y=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\naccept: */*\r\n\r\n"
    );
    all_edits(&p, &it, 0, 0);
}

#[test]
fn a_templated_request_matches() {
    let mut b = PlanBuilder::new("http://h");
    b.default_header("Content-Type", "application/json");
    b.default_header("X-A", "default");
    let v = b.c("a b");
    b.gen("name", Generator::OneOf(vec![v]));
    b.gen("n", Generator::Seq);
    let req = b.request(
        PlanMethod::Post,
        "/users/{{name}}",
        &[
            ("X-A", "{{n}}"),
            ("X-B", "1"),
            ("X-A", "2"),
            ("X-C", "c-{{name}}"),
        ],
        Some(r#"{"name": "{{name}}", "n": {{n}}}"#),
    );
    b.single(req);
    let p = load(&b);
    let mut w = p.worker(0);
    for _ in 0..3 {
        let it = p.begin_iteration(&mut w, 0).expect("rows left");
        all_edits(&p, &it, 0, 0);
    }
}

#[test]
fn framing_headers_the_plan_sets() {
    for (headers, body) in [
        (&[("Content-Length", "3")][..], Some("abc")),
        (&[("Content-Length", "0")][..], None),
        (&[("Transfer-Encoding", "chunked")][..], Some("abc")),
        (&[("Transfer-Encoding", "gzip")][..], Some("abc")),
        (
            &[
                ("Transfer-Encoding", "gzip, chunked"),
                ("Content-Length", "9"),
            ][..],
            Some("abc"),
        ),
        (&[("Transfer-Encoding", "chunked")][..], None),
    ] {
        let mut b = PlanBuilder::new("http://h");
        let req = b.request(PlanMethod::Put, "/", headers, body);
        b.single(req);
        let p = load(&b);
        let mut w = p.worker(0);
        let it = p.begin_iteration(&mut w, 0).expect("rows left");
        all_edits(&p, &it, 0, 0);
    }
}

#[test]
fn cookies_from_the_jar_replace_the_plan_s() {
    let mut b = PlanBuilder::new("http://h");
    let login = b.request(PlanMethod::Post, "/login", &[], None);
    let cart = b.request(PlanMethod::Get, "/cart", &[("Cookie", "plan=1")], None);
    let s = b.scenario("buy", 1, 0, vec![Step::Request(login), Step::Request(cart)]);
    b.plan.scenarios[s as usize].cookies = true;
    let p = load(&b);
    let mut w = p.worker(0);
    let mut it = p.begin_iteration(&mut w, s).expect("rows left");
    all_edits(&p, &it, s, 1);
    let mut resp = http::HeaderMap::new();
    resp.append(http::header::SET_COOKIE, HeaderValue::from_static("sid=42"));
    resp.append(http::header::SET_COOKIE, HeaderValue::from_static("u=ada"));
    p.check_response(&mut it, s, 0, 200, &resp, b"", 10)
        .expect("ok");
    let wire = fast_wire(&p, &it, s, 1, &WireEdit::default());
    let text = String::from_utf8_lossy(&wire);
    assert!(text.contains("cookie: sid=42; u=ada\r\n"), "{text}");
    assert!(!text.contains("plan=1"), "{text}");
    all_edits(&p, &it, s, 1);
}

#[test]
fn templated_header_names_go_the_built_route() {
    let mut b = PlanBuilder::new("http://h");
    let v = b.c("trace");
    b.gen("kind", Generator::OneOf(vec![v]));
    let req = b.request(
        PlanMethod::Get,
        "/",
        &[("X-Trace", "first"), ("X-{{kind}}", "second")],
        None,
    );
    b.single(req);
    let p = load(&b);
    let mut w = p.worker(0);
    let it = p.begin_iteration(&mut w, 0).expect("rows left");
    let wire = fast_wire(&p, &it, 0, 0, &WireEdit::default());
    let text = String::from_utf8_lossy(&wire);
    assert!(
        text.contains("x-trace: second\r\n") && !text.contains("first"),
        "{text}"
    );
    all_edits(&p, &it, 0, 0);
}

#[test]
fn head_requests_are_reported() {
    let mut b = PlanBuilder::new("http://h");
    let head = b.request(PlanMethod::Head, "/", &[], None);
    b.single(head);
    let get = b.request(PlanMethod::Get, "/", &[], None);
    b.single(get);
    let p = load(&b);
    let mut w = p.worker(0);
    let it = p.begin_iteration(&mut w, 0).expect("rows left");
    let mut out = Vec::new();
    assert!(p
        .write_request(&it, 0, 0, &WireEdit::default(), &mut out)
        .expect("writes"));
    assert!(!p
        .write_request(&it, 1, 0, &WireEdit::default(), &mut out)
        .expect("writes"));
}

#[test]
fn an_invalid_value_is_an_error_and_writes_nothing() {
    let mut b = PlanBuilder::new("http://h");
    let v = b.c("line\nbreak");
    b.gen("bad", Generator::OneOf(vec![v]));
    let req = b.request(PlanMethod::Get, "/{{bad}}", &[("X-Bad", "{{bad}}")], None);
    b.single(req);
    let p = load(&b);
    let mut w = p.worker(0);
    let it = p.begin_iteration(&mut w, 0).expect("rows left");
    let mut out = b"before".to_vec();
    assert!(matches!(
        p.write_request(&it, 0, 0, &WireEdit::default(), &mut out),
        Err(VmError::InvalidHeaderValue { .. })
    ));
    assert_eq!(out, b"before");
    assert!(p.build(&it, 0, 0).is_err(), "the built route agrees");
}

/// Header names tests draw from: plain ones, repeated ones, and the ones with rules.
const NAMES: [&str; 7] = [
    "x-a",
    "X-B",
    "host",
    "cookie",
    "content-length",
    "transfer-encoding",
    "accept",
];

proptest! {
    // Whatever headers (fixed or templated, defaults or the request's own, repeated or
    // framing), body, method and fault edit, the wire form is the built request's.
    #[test]
    fn any_request_matches_the_built_one(
        defaults in proptest::collection::vec((0usize..NAMES.len(), any::<bool>()), 0..4),
        own in proptest::collection::vec((0usize..NAMES.len(), any::<bool>()), 0..5),
        body in proptest::option::of(any::<bool>()),
        method in 0usize..4,
        templated_path in any::<bool>(),
        cookies in any::<bool>(),
        edit in 0usize..8,
    ) {
        let mut b = PlanBuilder::new("http://h:1/p");
        let v = b.c("v1");
        b.gen("v", Generator::OneOf(vec![v]));
        let value = |t: bool| if t { "t-{{v}}" } else { "fixed, chunked" };
        for (n, t) in &defaults {
            b.default_header(NAMES[*n], value(*t));
        }
        let own: Vec<(&str, &str)> = own.iter().map(|(n, t)| (NAMES[*n], value(*t))).collect();
        let methods = [PlanMethod::Get, PlanMethod::Post, PlanMethod::Put, PlanMethod::Head];
        let path = if templated_path { "/a/{{v}}?q={{v}}" } else { "/a" };
        let body = body.map(|t| if t { "body {{v}}" } else { "body" });
        let req = b.request(methods[method], path, &own, body);
        let s = b.single(req);
        b.plan.scenarios[s as usize].cookies = cookies;
        let p = load(&b);
        let mut w = p.worker(0);
        let mut it = p.begin_iteration(&mut w, s).expect("rows left");
        if cookies {
            let mut resp = http::HeaderMap::new();
            resp.append(http::header::SET_COOKIE, HeaderValue::from_static("sid=1"));
            p.check_response(&mut it, s, 0, 200, &resp, b"", 1).expect("ok");
        }
        let named = edits();
        let e = match edit {
            0 => WireEdit::default(),
            1 => WireEdit { header: None, body: Some(corrupt) },
            i => WireEdit { header: Some((&named[i - 2].0, &named[i - 2].1)), body: None },
        };
        let fast = fast_wire(&p, &it, s, 0, &e);
        let slow = built_wire(&p, &it, s, 0, &e);
        prop_assert_eq!(canonical(&fast), canonical(&slow));
    }
}
