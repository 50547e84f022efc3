//! End-to-end tests of the VM: plans in, requests out.

use super::test_plan::PlanBuilder;
use super::*;
use http::header::{CONTENT_TYPE, COOKIE, HOST};
use ptl_bytecode::plan::{
    Draw, Generator, Load, Method, Phase, Ppm, Step, TemplateOp, Think, VarPart,
};
use std::collections::HashSet;
use std::sync::Arc;

fn checkout() -> PlanBuilder {
    let mut b = PlanBuilder::new("http://127.0.0.1:8080");
    b.default_header("Content-Type", "application/json");
    let user = b.c("user_");
    let prod = b.c("prod_");
    b.var(
        "user_id",
        vec![
            VarPart::Lit(user),
            VarPart::Gen(Generator::Int {
                min: 1,
                max: 100_000,
            }),
        ],
    );
    b.var(
        "product_id",
        vec![
            VarPart::Lit(prod),
            VarPart::Gen(Generator::Int { min: 1, max: 1000 }),
        ],
    );
    b.gen("quantity", Generator::Int { min: 1, max: 5 });
    let cards = vec![b.c("visa"), b.c("mastercard"), b.c("amex")];
    b.gen("card", Generator::OneOf(cards));
    let regions = vec![(b.c("eu"), Ppm(700_000)), (b.c("us"), Ppm(300_000))];
    b.gen("region", Generator::Weighted(regions));
    b.gen("order", Generator::Uuid);
    b.gen("n", Generator::Seq);
    let ds = b.dataset(
        "customers.csv",
        &["id", "email"],
        &[
            &["1", "ada@example.com"],
            &["2", "alan@example.com"],
            &["3", "grace@example.com"],
        ],
    );
    b.gen(
        "customer",
        Generator::Csv {
            dataset: ds,
            draw: Draw::Sequential,
        },
    );
    let req = b.request(
        Method::Post,
        "/checkout/{{user_id}}",
        &[("X-Order-Id", "{{order}}"), ("X-Customer", "{{customer.email}}")],
        Some(
            r#"{"userId": "{{user_id}}", "items": [{"productId": "{{product_id}}", "quantity": {{quantity}}}], "card": "{{card}}", "region": "{{region}}", "n": {{n}}}"#,
        ),
    );
    b.single(req);
    b
}

fn load(b: &PlanBuilder) -> Program {
    Program::new(&b.plan, AgentShare::solo()).expect("the plan loads")
}

#[test]
fn program_is_shareable_across_tasks() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Program>();
    assert_send_sync::<Arc<Program>>();
    fn assert_send<T: Send>() {}
    assert_send::<VmWorker>();
    assert_send::<Iteration>();
    assert_send::<BuiltRequest>();
}

#[test]
fn builds_the_checkout_request() {
    let p = load(&checkout());
    let mut w = p.worker(0);
    let it = p.begin_iteration(&mut w, 0).expect("rows left");
    let r = p.build(&it, 0, 0).expect("builds");
    assert_eq!(r.method, http::Method::POST);
    let user = std::str::from_utf8(it.var(0)).expect("utf-8").to_string();
    assert!(user.starts_with("user_"));
    let n: u64 = user["user_".len()..]
        .parse()
        .expect("a number after the prefix");
    assert!((1..=100_000).contains(&n));
    assert_eq!(
        r.uri.to_string(),
        format!("http://127.0.0.1:8080/checkout/{user}")
    );
    assert_eq!(r.path_and_query.as_str(), format!("/checkout/{user}"));
    assert_eq!(r.headers[HOST], "127.0.0.1:8080");
    assert_eq!(r.headers[CONTENT_TYPE], "application/json");
    let order = r.headers["x-order-id"].to_str().expect("ascii");
    assert!(uuid::Uuid::parse_str(order).is_ok());
    assert_eq!(r.headers["x-customer"], "ada@example.com");

    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("the body is JSON");
    assert_eq!(body["userId"], user.as_str(), "one value per iteration");
    assert_eq!(body["n"], 0);
    let q = body["items"][0]["quantity"].as_i64().expect("a number");
    assert!((1..=5).contains(&q));
    assert!(["visa", "mastercard", "amex"].contains(&body["card"].as_str().expect("a string")));
    assert!(["eu", "us"].contains(&body["region"].as_str().expect("a string")));
}

#[test]
fn every_iteration_draws_afresh_and_csv_and_seq_advance() {
    let p = load(&checkout());
    let mut w = p.worker(0);
    let mut it = Iteration::default();
    let mut emails = Vec::new();
    let mut seqs = Vec::new();
    let mut orders = HashSet::new();
    for _ in 0..4 {
        p.reset_iteration(&mut w, 0, &mut it).expect("rows left");
        let r = p.build(&it, 0, 0).expect("builds");
        emails.push(r.headers["x-customer"].to_str().expect("ascii").to_string());
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
        seqs.push(body["n"].as_u64().expect("a number"));
        orders.insert(r.headers["x-order-id"].clone());
    }
    assert_eq!(
        emails,
        [
            "ada@example.com",
            "alan@example.com",
            "grace@example.com",
            "ada@example.com"
        ]
    );
    assert_eq!(seqs, [0, 1, 2, 3]);
    assert_eq!(orders.len(), 4);
}

#[test]
fn same_seed_and_worker_reproduce_the_stream() {
    let b = checkout();
    let run = |worker: u32| -> Vec<bytes::Bytes> {
        let p = load(&b);
        let mut w = p.worker(worker);
        (0..5)
            .map(|_| {
                let it = p.begin_iteration(&mut w, 0).expect("rows left");
                p.build(&it, 0, 0).expect("builds").body
            })
            .collect()
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
}

#[test]
fn agents_split_seq_and_csv() {
    let b = checkout();
    let mut seqs = HashSet::new();
    let mut emails = Vec::new();
    for index in 0..3 {
        let p = Program::new(&b.plan, AgentShare::equal(index, 3).expect("valid")).expect("loads");
        let mut w = p.worker(0);
        let mut mine = HashSet::new();
        for _ in 0..5 {
            let it = p.begin_iteration(&mut w, 0).expect("rows left");
            let r = p.build(&it, 0, 0).expect("builds");
            let body: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
            assert!(seqs.insert(body["n"].as_u64().expect("a number")));
            mine.insert(r.headers["x-customer"].to_str().expect("ascii").to_string());
        }
        emails.push(mine);
    }
    assert_eq!(seqs, (0..15).collect());
    assert_eq!(emails[0], HashSet::from(["ada@example.com".to_string()]));
    assert_eq!(emails[1], HashSet::from(["alan@example.com".to_string()]));
    assert_eq!(emails[2], HashSet::from(["grace@example.com".to_string()]));
}

#[test]
fn request_headers_replace_defaults_of_the_same_name() {
    let mut b = PlanBuilder::new("http://h");
    b.default_header("Content-Type", "application/json");
    b.default_header("Accept", "*/*");
    let req = b.request(
        Method::Get,
        "/",
        &[
            ("content-type", "text/plain"),
            ("X-Tag", "a"),
            ("X-Tag", "b"),
        ],
        None,
    );
    b.single(req);
    let p = load(&b);
    let mut w = p.worker(0);
    let it = p.begin_iteration(&mut w, 0).expect("rows left");
    let r = p.build(&it, 0, 0).expect("builds");
    let ct: Vec<_> = r.headers.get_all(CONTENT_TYPE).iter().collect();
    assert_eq!(ct, ["text/plain"]);
    assert_eq!(r.headers["accept"], "*/*");
    let tags: Vec<_> = r.headers.get_all("x-tag").iter().collect();
    assert_eq!(tags, ["a", "b"]);
    assert!(r.body.is_empty());
}

#[test]
fn an_explicit_host_header_wins_over_the_target() {
    let mut b = PlanBuilder::new("http://127.0.0.1:9000");
    let req = b.request(Method::Get, "/", &[("Host", "shop.example")], None);
    b.single(req);
    let p = load(&b);
    let mut w = p.worker(0);
    let it = p.begin_iteration(&mut w, 0).expect("rows left");
    let r = p.build(&it, 0, 0).expect("builds");
    let hosts: Vec<_> = r.headers.get_all(HOST).iter().collect();
    assert_eq!(hosts, ["shop.example"]);
    assert_eq!(
        r.uri.authority().map(|a| a.as_str()),
        Some("127.0.0.1:9000")
    );
}

#[test]
fn paths_join_onto_the_target_prefix() {
    let cases = [
        ("http://h/api", "/x?y=1", "/api/x?y=1"),
        ("http://h/api/", "x", "/api/x"),
        ("http://h", "x", "/x"),
        ("http://h", "", "/"),
        ("http://h/api", "?q=1", "/api?q=1"),
        ("http://h/api", "/{{id}}", "/api/7"),
        ("http://h/api", "{{id}}", "/api/7"),
        ("http://h/api", "{{path}}", "/api/p/q"),
    ];
    for (target, path, want) in cases {
        let mut b = PlanBuilder::new(target);
        b.gen("id", Generator::Int { min: 7, max: 7 });
        let one = b.c("/p/q");
        b.gen("path", Generator::OneOf(vec![one]));
        let req = b.request(Method::Get, path, &[], None);
        b.single(req);
        let p = load(&b);
        let mut w = p.worker(0);
        let it = p.begin_iteration(&mut w, 0).expect("rows left");
        let r = p.build(&it, 0, 0).expect("builds");
        assert_eq!(r.path_and_query.as_str(), want, "{target} + {path}");
        assert_eq!(r.uri.path_and_query().map(|p| p.as_str()), Some(want));
    }
}

#[test]
fn inserted_values_are_percent_encoded_in_paths_only() {
    let mut b = PlanBuilder::new("http://h");
    let v = b.c("a b\"c");
    b.gen("name", Generator::OneOf(vec![v]));
    let req = b.request(Method::Post, "/users/{{name}}", &[], Some("{{name}}"));
    b.single(req);
    let p = load(&b);
    let mut w = p.worker(0);
    let it = p.begin_iteration(&mut w, 0).expect("rows left");
    let r = p.build(&it, 0, 0).expect("builds");
    assert_eq!(r.path_and_query.as_str(), "/users/a%20b%22c");
    assert_eq!(&r.body[..], b"a b\"c");
}

#[test]
fn a_value_that_cannot_be_a_header_is_an_error_at_build() {
    let mut b = PlanBuilder::new("http://h");
    let v = b.c("line\nbreak");
    b.gen("bad", Generator::OneOf(vec![v]));
    let req = b.request(Method::Get, "/", &[("X-Bad", "{{bad}}")], None);
    b.single(req);
    let p = load(&b);
    let mut w = p.worker(0);
    let it = p.begin_iteration(&mut w, 0).expect("rows left");
    assert!(matches!(
        p.build(&it, 0, 0),
        Err(VmError::InvalidHeaderValue { .. })
    ));
}

#[test]
fn load_rejects_bad_plans() {
    let mut b = PlanBuilder::new("http://h");
    let req = b.request(Method::Get, "/", &[("Bad Name", "v")], None);
    b.single(req);
    assert!(matches!(
        Program::new(&b.plan, AgentShare::solo()),
        Err(VmError::InvalidHeaderName { .. })
    ));

    let mut b = PlanBuilder::new("http://h");
    b.gen("n", Generator::Int { min: 1, max: 2 });
    let mut req = b.request(Method::Get, "/", &[], None);
    req.path.ops.push(TemplateOp::Field { var: 0, column: 0 });
    b.single(req);
    assert!(matches!(
        Program::new(&b.plan, AgentShare::solo()),
        Err(VmError::FieldWithoutCsv { .. })
    ));

    let mut b = PlanBuilder::new("http://h");
    let req = b.request(Method::Get, "/{{$0}}", &[], None);
    b.single(req);
    assert!(matches!(
        Program::new(&b.plan, AgentShare::solo()),
        Err(VmError::RegisterOutOfRange { .. })
    ));

    let mut b = PlanBuilder::new("http://h");
    b.var("a", vec![VarPart::Var(0)]);
    let req = b.request(Method::Get, "/", &[], None);
    b.single(req);
    assert!(matches!(
        Program::new(&b.plan, AgentShare::solo()),
        Err(VmError::VarOutOfRange(0))
    ));

    let b = PlanBuilder::new("http://h");
    assert!(matches!(
        Program::new(&b.plan, AgentShare::solo()),
        Err(VmError::NoScenarios)
    ));

    let mut b = PlanBuilder::new("not a url");
    let req = b.request(Method::Get, "/", &[], None);
    b.single(req);
    assert!(matches!(
        Program::new(&b.plan, AgentShare::solo()),
        Err(VmError::InvalidTarget { .. })
    ));

    let mut b = checkout();
    b.plan.datasets[0].rows[1].pop();
    assert!(matches!(
        Program::new(&b.plan, AgentShare::solo()),
        Err(VmError::RaggedDataset { .. })
    ));
}

#[test]
fn only_variables_a_scenario_reads_are_drawn() {
    let mut b = PlanBuilder::new("http://h");
    b.gen("n", Generator::Seq);
    let base = b.c("u");
    b.var("u", vec![VarPart::Lit(base), VarPart::Var(0)]);
    let plain = b.request(Method::Get, "/plain", &[], None);
    b.single(plain);
    let uses = b.request(Method::Get, "/{{u}}", &[], None);
    b.single(uses);
    let p = load(&b);
    let mut w = p.worker(0);
    for _ in 0..3 {
        let it = p.begin_iteration(&mut w, 0).expect("rows left");
        assert_eq!(it.var(0), b"", "scenario 0 never reads n");
    }
    let it = p.begin_iteration(&mut w, 1).expect("rows left");
    assert_eq!(it.var(0), b"0", "no seq value was spent on scenario 0");
    assert_eq!(
        it.var(1),
        b"u0",
        "a variable built from another sees the same draw"
    );
    let r = p.build(&it, 1, 0).expect("builds");
    assert_eq!(r.path_and_query.as_str(), "/u0");
}

#[test]
fn a_copy_of_a_csv_variable_keeps_its_row() {
    let mut b = PlanBuilder::new("http://h");
    let ds = b.dataset("p.csv", &["id", "email"], &[&["1", "a@x"], &["2", "b@x"]]);
    b.gen(
        "row",
        Generator::Csv {
            dataset: ds,
            draw: Draw::Sequential,
        },
    );
    b.var("copy", vec![VarPart::Var(0)]);
    let mut req = b.request(Method::Get, "/{{row}}", &[], None);
    req.path.ops.push(TemplateOp::Field { var: 1, column: 1 });
    b.single(req);
    let p = load(&b);
    let mut w = p.worker(0);
    let it = p.begin_iteration(&mut w, 0).expect("rows left");
    let r = p.build(&it, 0, 0).expect("builds");
    assert_eq!(r.path_and_query.as_str(), "/1,a@xa@x");
}

#[test]
fn scenario_mix_follows_weights_and_phase_overrides() {
    let mut b = PlanBuilder::new("http://h");
    let r0 = b.request(Method::Get, "/a", &[], None);
    let s0 = b.single(r0);
    let r1 = b.request(Method::Get, "/b", &[], None);
    let s1 = b.single(r1);
    b.plan.scenarios[s0 as usize].weight = 1;
    b.plan.scenarios[s1 as usize].weight = 4;
    let phase = |name: &str, mix| Phase {
        mix,
        ..Phase::new(
            name,
            Load::Rate {
                per_sec: 1.0,
                duration_us: 1,
            },
        )
    };
    b.plan.phases = vec![
        phase("default", None),
        phase("only_a", Some(vec![(s0, 3), (s1, 0)])),
        phase("zero", Some(vec![(s0, 0)])),
    ];
    let p = load(&b);
    let mut w = p.worker(0);
    let n = 50_000;
    let share_b = |w: &mut VmWorker, phase| {
        (0..n).filter(|_| p.pick_scenario(w, phase) == s1).count() as f64 / n as f64
    };
    let bound = 5.0 * (0.8f64 * 0.2 / n as f64).sqrt();
    assert!((share_b(&mut w, 0) - 0.8).abs() < bound);
    assert_eq!(share_b(&mut w, 1), 0.0);
    // An all-zero mix falls back to the defaults; so does an unknown phase.
    assert!((share_b(&mut w, 2) - 0.8).abs() < bound);
    assert!((share_b(&mut w, 99) - 0.8).abs() < bound);

    b.plan.phases[1].mix = Some(vec![(7, 1)]);
    assert!(matches!(
        Program::new(&b.plan, AgentShare::solo()),
        Err(VmError::MixScenarioOutOfRange { scenario: 7, .. })
    ));
}

/// An exponential think step draws from the worker's seeded generator: the same worker id
/// gives the same pauses, and 5,000 of them average the mean.
#[test]
fn exponential_think_steps_draw_around_their_mean() {
    let mut b = PlanBuilder::new("http://h");
    let a = b.request(Method::Get, "/a", &[], None);
    let think = Think::Exponential { mean_us: 10_000 };
    b.scenario("s", 1, 0, vec![Step::Request(a), Step::Think(think)]);
    let p = load(&b);
    assert_eq!(p.step_kind(0, 1), Some(StepKind::Think(think)));
    let draw = |n: usize| -> Vec<u64> {
        let mut w = p.worker(3);
        (0..n)
            .map(|_| p.think_time_us(&mut w, 0, 1).expect("a think step"))
            .collect()
    };
    let d = draw(5_000);
    assert_eq!(d[..100], draw(100)[..], "same worker, same pauses");
    let mean = d.iter().sum::<u64>() as f64 / d.len() as f64;
    assert!((mean - 10_000.0).abs() < 600.0, "mean {mean}");
    assert!(d.iter().any(|&t| t > 30_000), "a long pause now and then");
}

#[test]
fn think_steps_are_not_requests() {
    let mut b = PlanBuilder::new("http://h");
    let a = b.request(Method::Get, "/a", &[], None);
    let c = b.request(Method::Get, "/c", &[], None);
    b.scenario(
        "journey",
        1,
        0,
        vec![
            Step::Request(a),
            Step::Think(Think::Uniform {
                min_us: 1000,
                max_us: 2000,
            }),
            Step::Request(c),
        ],
    );
    let p = load(&b);
    let mut w = p.worker(0);
    assert_eq!(p.step_count(0), 3);
    assert_eq!(p.step_kind(0, 0), Some(StepKind::Request));
    assert_eq!(
        p.step_kind(0, 1),
        Some(StepKind::Think(Think::Uniform {
            min_us: 1000,
            max_us: 2000
        }))
    );
    assert_eq!(p.step_kind(0, 3), None);
    let thinks: HashSet<u64> = (0..200)
        .map(|_| p.think_time_us(&mut w, 0, 1).expect("a think step"))
        .collect();
    assert!(thinks.iter().all(|t| (1000..=2000).contains(t)));
    assert!(thinks.len() > 50);
    assert_eq!(p.think_time_us(&mut w, 0, 0), None);
    let it = p.begin_iteration(&mut w, 0).expect("rows left");
    assert!(matches!(
        p.build(&it, 0, 1),
        Err(VmError::NotARequest { .. })
    ));
    assert!(matches!(
        p.build(&it, 0, 9),
        Err(VmError::StepOutOfRange { .. })
    ));
    assert!(matches!(
        p.build(&it, 5, 0),
        Err(VmError::ScenarioOutOfRange(5))
    ));
    assert_eq!(p.build(&it, 0, 2).expect("builds").path_and_query, "/c");
}

#[test]
fn cookie_jars_are_per_iteration() {
    let mut b = PlanBuilder::new("http://h");
    let login = b.request(Method::Post, "/login", &[], None);
    let cart = b.request(Method::Get, "/cart", &[], None);
    let s = b.scenario("buy", 1, 0, vec![Step::Request(login), Step::Request(cart)]);
    b.plan.scenarios[s as usize].cookies = true;
    let p = load(&b);
    let mut w = p.worker(0);
    let mut it = p.begin_iteration(&mut w, s).expect("rows left");
    assert!(p
        .build(&it, s, 0)
        .expect("builds")
        .headers
        .get(COOKIE)
        .is_none());
    let mut resp = http::HeaderMap::new();
    resp.insert(
        http::header::SET_COOKIE,
        http::HeaderValue::from_static("sid=42; HttpOnly"),
    );
    p.check_response(&mut it, s, 0, 200, &resp, b"", 10)
        .expect("ok");
    assert_eq!(
        p.build(&it, s, 1).expect("builds").headers[COOKIE],
        "sid=42"
    );
    let fresh = p.begin_iteration(&mut w, s).expect("rows left");
    assert!(p
        .build(&fresh, s, 1)
        .expect("builds")
        .headers
        .get(COOKIE)
        .is_none());
}

#[test]
fn captures_feed_later_steps() {
    let mut b = PlanBuilder::new("http://h");
    let mut login = b.request(Method::Post, "/login", &[], None);
    let path = b.c("$.token");
    login.captures.push(ptl_bytecode::plan::Capture {
        register: 0,
        source: ptl_bytecode::plan::CaptureSource::Json(path),
        default: None,
    });
    let cart = b.request(
        Method::Get,
        "/cart/{{$0}}",
        &[("Authorization", "Bearer {{$0}}")],
        None,
    );
    let s = b.scenario("buy", 1, 1, vec![Step::Request(login), Step::Request(cart)]);
    let p = load(&b);
    let mut w = p.worker(0);
    let mut it = p.begin_iteration(&mut w, s).expect("rows left");
    let empty = http::HeaderMap::new();
    p.check_response(&mut it, s, 0, 200, &empty, br#"{"token": "t0k"}"#, 10)
        .expect("captured");
    let r = p.build(&it, s, 1).expect("builds");
    assert_eq!(r.path_and_query.as_str(), "/cart/t0k");
    assert_eq!(r.headers["authorization"], "Bearer t0k");
    assert!(p.needs_body(s, 0));
    assert!(!p.needs_body(s, 1));
}

#[test]
fn templated_header_names_are_checked_when_built() {
    let mut b = PlanBuilder::new("http://h");
    let good = b.c("trace");
    b.gen("kind", Generator::OneOf(vec![good]));
    let bad = b.c("has space");
    b.gen("bad", Generator::OneOf(vec![bad]));
    let req = b.request(
        Method::Post,
        "/{{kind}}",
        &[("X-{{kind}}", "on"), ("X-Other", "{{kind}}")],
        Some("{{kind}}!"),
    );
    b.single(req);
    let broken = b.request(Method::Get, "/", &[("X-{{bad}}", "v")], None);
    b.single(broken);
    let p = load(&b);
    let mut w = p.worker(0);
    let it = p.begin_iteration(&mut w, 0).expect("rows left");
    let r = p.build(&it, 0, 0).expect("builds");
    assert_eq!(r.headers["x-trace"], "on");
    assert_eq!(r.headers["x-other"], "trace");
    assert_eq!(r.path_and_query.as_str(), "/trace");
    assert_eq!(&r.body[..], b"trace!");
    let it = p.begin_iteration(&mut w, 1).expect("rows left");
    assert!(matches!(
        p.build(&it, 1, 0),
        Err(VmError::InvalidHeaderName { name }) if name == "X-has space"
    ));
}
