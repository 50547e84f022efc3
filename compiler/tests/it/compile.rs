//! The compiler's API end to end: what a checked plan lowers to, `--set`, determinism, the
//! bytecode round trip, and the JSON form of diagnostics.

use std::fs;
use std::path::{Path, PathBuf};

use ptl_bytecode::{
    decode, encode, CaptureSource, ConstId, Expect, Fault, Generator, Load, Method, Metric,
    Overflow, Plan, Ppm, Scope, Step, TemplateOp, Think, VarPart,
};
use ptl_compiler::{check_source, explain, CheckOptions, Checked};

const PLAN: &str = r#"
plan "shop" {
  target "http://127.0.0.1:8080"
  param peak = 100/s
  let user = "user_" + int(1, 100)
  let customer = csv("customers.csv")
  let region = weighted("eu" 70%, "us" 30%)
  request browse weight 3 {
    GET "/p/{{user}}?e={{customer.email}}"
    expect status 200..299
  }
  scenario buy {
    cookies on
    request login {
      POST "/login"
      body """{"u": "{{user}}", "r": "{{region}}"}"""
      capture token = json("$.token") or "none"
    }
    think 200ms..1s
    request pay {
      POST "/pay"
      header "Authorization" = "Bearer {{token}}"
      expect latency < 1.5s
      capture order = regex("order=([0-9]+)")
    }
  }
  phase warm { ramp 0/s -> peak over 1m }
  phase fail { rate peak for 30s  inject abort 12.5%  inject header "x-fault" = "503" 5%  mix { buy 1 } }
  threshold p99.9 < 250ms
  threshold buy.pay.p95 < 1s
  threshold fail.error_rate < 1% abort
}
"#;

/// A directory with the plan and its CSV file.
fn fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(
        dir.path().join("customers.csv"),
        "id,email\n1,a@x.io\n2,b@x.io\n",
    )
    .expect("write csv");
    let path = dir.path().join("shop.ptl");
    fs::write(&path, PLAN).expect("write plan");
    (dir, path)
}

fn compile(path: &Path, params: &[(&str, &str)]) -> Checked {
    let opts = CheckOptions {
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        resolver: None,
        ..Default::default()
    };
    check_source(path, &fs::read_to_string(path).expect("plan"), &opts)
}

fn text(plan: &Plan, id: ConstId) -> &str {
    std::str::from_utf8(plan.constant(id)).expect("utf-8 constant")
}

#[test]
fn lowers_to_the_expected_plan() {
    let (_dir, path) = fixture();
    let checked = compile(&path, &[]);
    assert!(!checked.has_errors(), "{}", checked.render_text());
    let plan = checked.plan.expect("a plan");

    // Defaults. The pool is sized for the busiest phase: `fail` sends 100/s of `buy`, two
    // requests that may each take the 10 s timeout, so 2,000 connections; 10 in flight each.
    assert_eq!(plan.timeout_us, 10_000_000);
    assert_eq!(plan.connections, 2000);
    assert_eq!(plan.seed, 0);
    assert_eq!(plan.max_inflight, 20_000);
    assert_eq!(plan.overflow, Overflow::Drop);
    assert_eq!(plan.params, vec![("peak".to_string(), "100/s".to_string())]);

    // The CSV file is embedded, and its cells are the first constants.
    assert_eq!(plan.datasets.len(), 1);
    assert_eq!(plan.datasets[0].name, "customers.csv");
    assert_eq!(plan.datasets[0].columns, ["id", "email"]);
    let first_row: Vec<&str> = plan.datasets[0].rows[0]
        .iter()
        .map(|c| text(&plan, *c))
        .collect();
    assert_eq!(first_row, ["1", "a@x.io"]);
    assert_eq!(plan.datasets[0].rows[0][0], ConstId(0));

    // Variables in order; weights in ppm adding up to one.
    assert_eq!(plan.vars.len(), 3);
    assert!(matches!(
        plan.vars[0].parts[1],
        VarPart::Gen(Generator::Int { min: 1, max: 100 })
    ));
    assert_eq!(plan.vars[1].csv_dataset(), Some(0));
    match &plan.vars[2].parts[..] {
        [VarPart::Gen(Generator::Weighted(w))] => {
            assert_eq!(w.iter().map(|(_, p)| p.0).sum::<u32>(), Ppm::ONE.0);
            assert_eq!(w[0].1, Ppm(700_000));
        }
        other => panic!("weighted expected, got {other:?}"),
    }

    // A top-level request is a one-step scenario.
    let browse = &plan.scenarios[0];
    assert!(browse.single_request);
    assert_eq!(browse.weight, 3);
    let Step::Request(req) = &browse.steps[0] else {
        panic!("a request step")
    };
    assert_eq!(req.method, Method::Get);
    assert_eq!(req.expects, vec![Expect::Status(vec![(200, 299)])]);
    assert!(matches!(
        req.path.ops[..],
        [
            TemplateOp::Lit(_),
            TemplateOp::Var(0),
            TemplateOp::Lit(_),
            TemplateOp::Field { var: 1, column: 1 }
        ]
    ));

    // The scenario: cookies, registers, think bounds in µs, captures read from registers.
    let buy = &plan.scenarios[1];
    assert!(!buy.single_request && buy.cookies);
    assert_eq!(buy.registers, 2);
    assert_eq!(
        buy.steps[1],
        Step::Think(Think::Uniform {
            min_us: 200_000,
            max_us: 1_000_000
        })
    );
    let Step::Request(login) = &buy.steps[0] else {
        panic!("login")
    };
    assert_eq!(login.captures[0].register, 0);
    assert!(
        matches!(login.captures[0].source, CaptureSource::Json(id) if text(&plan, id) == "$.token")
    );
    assert_eq!(
        login.captures[0].default.map(|d| text(&plan, d)),
        Some("none")
    );
    let Step::Request(pay) = &buy.steps[2] else {
        panic!("pay")
    };
    assert!(pay.headers[0].value.ops.contains(&TemplateOp::Capture(0)));
    assert_eq!(pay.expects, vec![Expect::LatencyBelow { us: 1_500_000 }]);
    assert_eq!(pay.captures[0].register, 1);

    // Phases: rates per second, µs, ppm, the mix by index.
    assert_eq!(
        plan.phases[0].load,
        Load::Ramp {
            from: 0.0,
            to: 100.0,
            duration_us: 60_000_000
        }
    );
    assert_eq!(
        plan.phases[1].load,
        Load::Rate {
            per_sec: 100.0,
            duration_us: 30_000_000
        }
    );
    assert_eq!(plan.phases[1].injections[0].share, Ppm(125_000));
    assert!(
        matches!(plan.phases[1].injections[1].fault, Fault::Header { name, value }
        if text(&plan, name) == "x-fault" && text(&plan, value) == "503")
    );
    assert_eq!(plan.phases[1].mix, Some(vec![(1, 1)]));

    // Thresholds in the metric's unit.
    assert_eq!(plan.thresholds[0].metric, Metric::Percentile(99.9));
    assert_eq!(plan.thresholds[0].value, 250_000.0);
    assert_eq!(plan.thresholds[0].scope, Scope::All);
    assert_eq!(
        plan.thresholds[1].scope,
        Scope::Step {
            scenario: 1,
            step: 2
        }
    );
    assert_eq!(plan.thresholds[1].expr, "buy.pay.p95 < 1s");
    assert!(plan.thresholds[2].abort);
    assert!((plan.thresholds[2].value - 0.01).abs() < 1e-12);

    // Every constant is used once: interning dedupes.
    let mut seen = std::collections::HashSet::new();
    assert!(plan.consts.iter().all(|c| seen.insert(c.clone())));
}

#[test]
fn set_overrides_reach_every_use() {
    let (_dir, path) = fixture();
    let plan = compile(&path, &[("peak", "300/s")]).plan.expect("a plan");
    assert_eq!(
        plan.phases[0].load,
        Load::Ramp {
            from: 0.0,
            to: 300.0,
            duration_us: 60_000_000
        }
    );
    assert_eq!(
        plan.phases[1].load,
        Load::Rate {
            per_sec: 300.0,
            duration_us: 30_000_000
        }
    );
    assert_eq!(plan.params, vec![("peak".to_string(), "300/s".to_string())]);

    let checked = compile(&path, &[("peak", "2s")]);
    assert!(checked.plan.is_none());
    let json = checked.render_json();
    assert_eq!(json[0]["code"], "ptl::E0030");
}

#[test]
fn compiling_is_deterministic_and_round_trips_through_bytecode() {
    let (_dir, path) = fixture();
    let a = compile(&path, &[]).plan.expect("a plan");
    let b = compile(&path, &[]).plan.expect("a plan");
    assert_eq!(a, b);
    let bytes = encode(&a);
    assert_eq!(bytes, encode(&b));
    let decoded = decode(&bytes).expect("the decoder accepts what the compiler emits");
    assert_eq!(decoded, a);
}

#[test]
fn every_error_of_a_file_is_reported_and_json_has_positions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.ptl");
    let source = "plan \"bad\" {\n  target \"http://h\"\n  timout 2s\n  request a { GET \"/{{nope}}\" }\n  phase p { rate 5s for 1m }\n}\n";
    fs::write(&path, source).expect("write");
    let checked = compile(&path, &[]);
    let codes: Vec<String> = checked.errors().map(|r| r.diagnostic.code_str()).collect();
    assert_eq!(codes, ["ptl::E0020", "ptl::E0010", "ptl::E0019"]);
    let json = checked.render_json();
    let first = &json[0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["message"], "unknown setting `timout`");
    assert_eq!(first["line"], 3);
    assert_eq!(first["column"], 3);
    assert_eq!(first["span"]["offset"], source.find("timout").unwrap());
    assert_eq!(first["span"]["length"], 6);
    assert_eq!(first["help"], "did you mean `timeout`?");
    assert_eq!(first["labels"][0]["label"], "not a setting here");
    assert!(first["file"].as_str().unwrap().ends_with("bad.ptl"));
}

/// The checker reads each distinct `{{…}}` (and each string handlebars must read whole) once;
/// every occurrence still gets its own diagnostic at its own place.
#[test]
fn a_repeated_template_mistake_is_reported_where_each_one_is() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("repeat.ptl");
    let line = r#"    GET "/a/{{nope}}/b"
    header "X" = "\\{{raw}} {{nope}}"
    body """{"k": "{{nope}}", "j": {{ nope }}}"""
"#;
    let source = format!(
        "plan \"r\" {{\n  target \"http://h\"\n  request a {{\n{line}  }}\n  request b {{\n{line}  }}\n  phase p {{ rate 1/s for 1m }}\n}}\n"
    );
    fs::write(&path, &source).expect("write");
    let checked = compile(&path, &[]);
    let json = checked.render_json();
    let offsets: Vec<u64> = json
        .as_array()
        .expect("a list")
        .iter()
        .filter(|d| d["message"].as_str().is_some_and(|m| m.contains("nope")))
        .map(|d| d["span"]["offset"].as_u64().expect("an offset"))
        .collect();
    let expected: Vec<u64> = source
        .match_indices("nope")
        .map(|(at, _)| at as u64)
        .collect();
    assert_eq!(expected.len(), 8);
    assert_eq!(offsets, expected, "{}", checked.render_text());
    for d in json.as_array().expect("a list") {
        if d["message"].as_str().is_some_and(|m| m.contains("nope")) {
            assert_eq!(d["span"]["length"], 4);
        }
    }
}

/// Nesting inside a template (subexpressions, blocks, literals) is handlebars' to parse, under
/// pest's stack guard: however deep, the plan is rejected with a template error, never a
/// stack overflow. Run on a thread with the default 2 MiB stack, smaller than a main thread's.
#[test]
fn deeply_nested_templates_fail_cleanly() {
    let result = std::thread::spawn(|| {
        let mut outcomes = Vec::new();
        for depth in [50, 5_000, 100_000] {
            for (open, close) in [("(b ", ")"), ("{{#if a}}", "{{/if}}"), ("[", "]")] {
                let nested = format!("{{{{a {}{}}}}}", open.repeat(depth), close.repeat(depth));
                let nested = if open.starts_with("{{") {
                    format!("{}x{}", open.repeat(depth), close.repeat(depth))
                } else {
                    nested
                };
                let source = format!(
                    "plan \"n\" {{\n  target \"http://h\"\n  request a {{ GET \"/\" body \"\"\"{nested}\"\"\" }}\n  phase p {{ rate 1/s for 1m }}\n}}\n"
                );
                let checked = check_source(Path::new("nested.ptl"), &source, &CheckOptions::default());
                outcomes.push((depth, open, checked.errors().count()));
            }
        }
        outcomes
    })
    .join()
    .expect("checking nested templates does not crash");
    for (depth, open, errors) in result {
        assert!(errors >= 1, "depth {depth} of {open:?}: no error");
    }
}

#[test]
fn errors_in_an_imported_library_name_that_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::write(
        dir.path().join("lib.ptl"),
        "let user = \"u\"\n\nrequest r { GET \"/{{usr}}\" }\n",
    )
    .expect("lib");
    let path = dir.path().join("main.ptl");
    let source = "plan \"m\" {\n  import \"lib.ptl\"\n  target \"http://h\"\n  phase p { rate 1/s for 1m }\n}\n";
    fs::write(&path, source).expect("plan");
    let checked = compile(&path, &[]);
    let json = checked.render_json();
    assert_eq!(json[0]["code"], "ptl::E0010");
    assert!(json[0]["file"].as_str().unwrap().ends_with("lib.ptl"));
    assert_eq!(json[0]["line"], 3);
}

#[test]
fn std_imports_go_through_the_resolver() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("main.ptl");
    let source = "plan \"m\" {\n  import \"std:home\"\n  target \"http://h\"\n  phase p { rate 1/s for 1m }\n}\n";
    let opts = CheckOptions {
        params: Vec::new(),
        resolver: Some(ptl_compiler::StdResolver::new(|name| {
            (name == "home").then(|| "request home { GET \"/\" }\n".to_string())
        })),
        allow: Vec::new(),
        ..CheckOptions::default()
    };
    let checked = check_source(&path, source, &opts);
    assert!(!checked.has_errors(), "{}", checked.render_text());
    assert_eq!(checked.files[1].name, "std:home");
    let without = check_source(&path, source, &CheckOptions::default());
    assert_eq!(without.render_json()[0]["code"], "ptl::E0002");
}

#[test]
fn explain_gives_the_numbers() {
    let (_dir, path) = fixture();
    let plan = compile(&path, &[]).plan.expect("a plan");
    let text = explain(&plan);
    // warm: a ramp 0 → 100/s over 60 s plans 3000 arrivals; browse 3 : buy 1.
    assert!(
        text.contains("phase warm: ramp 0/s → 100/s over 1m"),
        "{text}"
    );
    assert!(text.contains("planned      3000 arrivals"), "{text}");
    // fail: 100/s for 30 s, buy only: 3000 iterations × 2 requests.
    assert!(
        text.contains("planned      3000 arrivals → 6000 requests"),
        "{text}"
    );
    assert!(
        text.contains("100 iterations/s × 2 requests = 200 requests/s at peak"),
        "{text}"
    );
    assert!(text.contains("abort 12.5%"), "{text}");
    // In flight at the fail peak: 100/s × (2 × 10 s + 1 s think) = 2100.
    assert!(text.contains("100/s × 21s = 2100"), "{text}");
}

#[test]
fn max_inflight_defaults_to_ten_per_http1_connection_and_a_hundred_streams_per_http2_one() {
    let lowered = |settings: &str| {
        let source = format!(
            "plan \"n\" {{\n  target \"http://h\"\n  connections 3\n{settings}  request a {{ GET \"/\" }}\n  phase p {{ rate 1/s for 1m }}\n}}\n"
        );
        let checked = check_source(Path::new("n.ptl"), &source, &CheckOptions::default());
        checked.plan.expect("a plan").max_inflight
    };
    assert_eq!(lowered(""), 30);
    assert_eq!(lowered("  http 2\n"), 300);
    assert_eq!(
        lowered("  http 2\n  max_inflight 7\n"),
        7,
        "what the plan says"
    );
}

/// Each richer check lowers to its own bytecode expectation, with its text in the pool; the
/// other spellings (`status in`, `duration`) lower like the first ones.
#[test]
fn richer_checks_lower_to_their_expectations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("checks.ptl");
    fs::write(
        &path,
        r#"plan "checks" {
  target "http://127.0.0.1:8080"
  request order {
    GET "/order"
    expect status in 200..299
    expect duration < 200ms
    expect body matches /id=\d+\/x/
    expect json("$.state") != "failed"
    expect exists json("$.id")
    expect header("Content-Type") contains "json"
  }
  phase main { rate 1/s for 1s }
}
"#,
    )
    .expect("write");
    let checked = compile(&path, &[]);
    assert!(!checked.has_errors(), "{}", checked.render_text());
    let plan = checked.plan.expect("a plan");
    let Step::Request(r) = &plan.scenarios[0].steps[0] else {
        panic!("a request")
    };
    let shown: Vec<String> = r
        .expects
        .iter()
        .map(|e| match e {
            Expect::Status(ranges) => format!("status {ranges:?}"),
            Expect::LatencyBelow { us } => format!("below {us}"),
            Expect::BodyMatches(re) => format!("matches {}", text(&plan, *re)),
            Expect::JsonNe { path, value } => {
                format!("{} != {}", text(&plan, *path), text(&plan, *value))
            }
            Expect::JsonExists(path) => format!("exists {}", text(&plan, *path)),
            Expect::HeaderContains { name, needle } => {
                format!("{} contains {}", text(&plan, *name), text(&plan, *needle))
            }
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        shown,
        [
            "status [(200, 299)]",
            "below 200000",
            r"matches id=\d+/x",
            r#"$.state != "failed""#,
            "exists $.id",
            "Content-Type contains json",
        ]
    );
    assert_eq!(decode(&encode(&plan)).as_ref(), Ok(&plan));
}

/// Think times lower to `Think`: a range and an exponential, in a scenario and on `users`.
#[test]
fn think_times_lower_to_uniform_and_exponential() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("think.ptl");
    fs::write(
        &path,
        r#"plan "think" {
  target "http://127.0.0.1:8080"
  param pause = 1.5s
  scenario browse {
    request home { GET "/" }
    think exponential(pause)
    request item { GET "/item" }
    think 200ms..1s
  }
  phase ranged { users 4 for 10s think 1s..3s }
  phase bursty { users 4 for 10s think exponential(250ms) }
  phase none   { users 4 for 10s }
}
"#,
    )
    .expect("write");
    let checked = compile(&path, &[]);
    assert!(!checked.has_errors(), "{}", checked.render_text());
    let plan = checked.plan.expect("a plan");
    let steps = &plan.scenarios[0].steps;
    assert_eq!(
        steps[1],
        Step::Think(Think::Exponential { mean_us: 1_500_000 })
    );
    assert_eq!(
        steps[3],
        Step::Think(Think::Uniform {
            min_us: 200_000,
            max_us: 1_000_000
        })
    );
    let thinks: Vec<Think> = plan
        .phases
        .iter()
        .map(|p| match p.load {
            Load::Users { think, .. } => think,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        thinks,
        [
            Think::Uniform {
                min_us: 1_000_000,
                max_us: 3_000_000
            },
            Think::Exponential { mean_us: 250_000 },
            Think::NONE,
        ]
    );
    assert_eq!(decode(&encode(&plan)).as_ref(), Ok(&plan));
}
