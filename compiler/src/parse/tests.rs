//! Parser tests: shapes of the tree, spans, comments, and the wording of syntax errors.

use super::parse_file;
use crate::ast::*;

pub(super) fn parse(src: &str) -> File {
    match parse_file(src) {
        Ok(f) => f,
        Err(e) => panic!(
            "{} at {:?} ({:?}) in\n{src}",
            e.message,
            e.span,
            &src[e.span.range()]
        ),
    }
}

pub(super) fn err(src: &str) -> super::SyntaxError {
    match parse_file(src) {
        Ok(f) => panic!("expected an error, parsed {f:#?}"),
        Err(e) => e,
    }
}

pub(super) fn at(src: &str, span: Span) -> &str {
    &src[span.range()]
}

#[test]
fn repo_examples_parse() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for dir in ["examples", "stdlib-plans"] {
        let Ok(entries) = std::fs::read_dir(format!("{root}/{dir}")) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "ptl") {
                let src = std::fs::read_to_string(&path).unwrap();
                if let Err(e) = parse_file(&src) {
                    panic!("{}: {} at {:?}", path.display(), e.message, e.span);
                }
            }
        }
    }
}

const CHECKOUT: &str = r#"// header line
plan "checkout" {
  target "http://127.0.0.1:8080"  // base URL
  timeout 2s
  param peak = 100/s
  headers { "Content-Type" = "application/json", "Accept" = "*/*" }
  let user_id = "user_" + int(1, 100000)
  let region = weighted("eu" 70%, "us" 30%)
  request checkout weight 2 {
    POST "/checkout"
    header "X-Order-Id" = "{{order}}"
    body """
      {"a": 1}
    """
    expect status 200, 201
    expect status 200..299
    expect latency < 2s
    expect body contains "paid"
    expect json("$.ok") == true
    capture token = json("$.token") or "none"
    capture code = status()
  }
  phase warmup { ramp 0/s -> peak over 1m }
  phase failure { rate peak for 3m  inject abort 50%  inject delay 200ms 10%
                  inject header "x-fault" = "503" 5%  arrivals poisson  mix { buy 1, browse 9 } }
  phase closed { users 50 for 1m think 100ms }
  phase stepped { steps 10/s -> 100/s by 10/s every 30s }
  phase rest { pause 10s }
  threshold baseline.p99.9 < 1s
  threshold recovery.error_rate < 1% abort
}
"#;

#[test]
fn plan_items_have_the_right_shapes() {
    let f = parse(CHECKOUT);
    assert_eq!(
        f.plan_name.as_ref().map(|s| s.value.as_str()),
        Some("checkout")
    );
    assert_eq!(f.header_comments, vec!["header line"]);
    let items: Vec<&Item> = f.items.iter().map(|s| &s.node).collect();
    let Item::Setting(target) = items[0] else {
        panic!("{:?}", items[0])
    };
    assert_eq!(target.key.name, "target");
    assert!(matches!(&target.value.kind, ValueKind::Str(s) if s.value == "http://127.0.0.1:8080"));
    let Item::Setting(timeout) = items[1] else {
        panic!()
    };
    assert_eq!(
        timeout.value.kind,
        ValueKind::Duration(Duration {
            amount: 2.0,
            unit: TimeUnit::S
        })
    );
    let Item::Param { name, value } = items[2] else {
        panic!()
    };
    assert_eq!(name.name, "peak");
    assert_eq!(
        value.kind,
        ValueKind::Rate(Rate {
            amount: 100.0,
            per: TimeUnit::S
        })
    );
    let Item::Headers(headers) = items[3] else {
        panic!()
    };
    let names: Vec<&str> = headers.iter().map(|h| h.node.name.value.as_str()).collect();
    assert_eq!(names, ["Content-Type", "Accept"]);
    let Item::Let { name, expr } = items[4] else {
        panic!()
    };
    assert_eq!(name.name, "user_id");
    assert_eq!(expr.parts.len(), 2);
    let ExprPart::Call(call) = &expr.parts[1] else {
        panic!()
    };
    assert_eq!(call.func.name, "int");
    assert_eq!(call.args.len(), 2);
    assert_eq!(call.args[1].value.kind, ValueKind::Int(100000));
    let Item::Let { expr, .. } = items[5] else {
        panic!()
    };
    let ExprPart::Call(weighted) = &expr.parts[0] else {
        panic!()
    };
    assert_eq!(
        weighted.args[0].weight.as_ref().map(|w| w.kind.clone()),
        Some(ValueKind::Percent(Percent(70.0)))
    );

    let Item::Request(req) = items[6] else {
        panic!()
    };
    assert_eq!(req.name.name, "checkout");
    assert_eq!(
        req.weight.as_ref().map(|w| w.kind.clone()),
        Some(ValueKind::Int(2))
    );
    assert_eq!(at(CHECKOUT, req.head_span), "request checkout");
    let body: Vec<&RequestStmt> = req.body.iter().map(|s| &s.node).collect();
    assert!(
        matches!(body[0], RequestStmt::Line { method: MethodName::Post, path, .. } if path.value == "/checkout")
    );
    assert!(matches!(body[1], RequestStmt::Header(h) if h.value.value == "{{order}}"));
    assert!(matches!(body[2], RequestStmt::Body(b) if b.triple && b.value == "{\"a\": 1}"));
    assert!(
        matches!(body[3], RequestStmt::Expect(Expect::Status { codes, with_in: false }) if codes.len() == 2)
    );
    assert!(
        matches!(body[4], RequestStmt::Expect(Expect::Status { codes, .. }) if matches!(codes[0].kind, ValueKind::Range(..)))
    );
    assert!(matches!(
        body[5],
        RequestStmt::Expect(Expect::Latency { cmp: CmpOp::Lt, .. })
    ));
    assert!(matches!(body[6], RequestStmt::Expect(Expect::BodyContains(s)) if s.value == "paid"));
    assert!(
        matches!(body[7], RequestStmt::Expect(Expect::Json { value, equal: true, .. }) if value.kind == ValueKind::Bool(true))
    );
    let RequestStmt::Capture(cap) = body[8] else {
        panic!()
    };
    assert_eq!(cap.name.name, "token");
    assert!(matches!(&cap.source, CaptureSource::Json(p) if p.value == "$.token"));
    assert_eq!(at(CHECKOUT, cap.source_span), "json(\"$.token\")");
    assert_eq!(cap.default.as_ref().map(|d| d.value.as_str()), Some("none"));
    assert!(matches!(
        body[9],
        RequestStmt::Capture(Capture {
            source: CaptureSource::Status,
            default: None,
            ..
        })
    ));

    let Item::Phase(warmup) = items[7] else {
        panic!()
    };
    assert!(
        matches!(&warmup.body[0].node, PhaseStmt::Load(Load::Ramp { to, .. }) if to.kind == ValueKind::Ident("peak".into()))
    );
    let Item::Phase(failure) = items[8] else {
        panic!()
    };
    let kinds: Vec<&PhaseStmt> = failure.body.iter().map(|s| &s.node).collect();
    assert!(matches!(kinds[0], PhaseStmt::Load(Load::Rate { .. })));
    assert!(
        matches!(kinds[1], PhaseStmt::Inject(Inject { fault: Fault::Abort, share }) if share.kind == ValueKind::Percent(Percent(50.0)))
    );
    assert!(matches!(
        kinds[2],
        PhaseStmt::Inject(Inject {
            fault: Fault::Delay(_),
            ..
        })
    ));
    assert!(matches!(
        kinds[3],
        PhaseStmt::Inject(Inject {
            fault: Fault::Header { .. },
            ..
        })
    ));
    assert!(matches!(kinds[4], PhaseStmt::Setting(s) if s.key.name == "arrivals"));
    let PhaseStmt::Mix(mix) = kinds[5] else {
        panic!()
    };
    assert_eq!(
        mix.iter().map(|m| m.name.name.as_str()).collect::<Vec<_>>(),
        ["buy", "browse"]
    );
    let Item::Phase(closed) = items[9] else {
        panic!()
    };
    assert!(matches!(
        &closed.body[0].node,
        PhaseStmt::Load(Load::Users { think: Some(_), .. })
    ));
    let Item::Phase(stepped) = items[10] else {
        panic!()
    };
    assert!(
        matches!(&stepped.body[0].node, PhaseStmt::Load(Load::Steps { every, .. }) if at(CHECKOUT, every.span) == "30s")
    );
    let Item::Phase(rest) = items[11] else {
        panic!()
    };
    assert!(matches!(
        &rest.body[0].node,
        PhaseStmt::Load(Load::Pause { .. })
    ));

    let Item::Threshold(t) = items[12] else {
        panic!()
    };
    assert_eq!(
        t.path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        ["baseline", "p99.9"]
    );
    assert_eq!(at(CHECKOUT, t.path[1].span), "p99.9");
    assert_eq!(at(CHECKOUT, t.cmp_span), "<");
    assert!(!t.abort);
    let Item::Threshold(t) = items[13] else {
        panic!()
    };
    assert!(t.abort);
    assert_eq!(t.cmp, CmpOp::Lt);
}

#[test]
fn spans_cover_what_they_name() {
    let f = parse(CHECKOUT);
    for item in &f.items {
        let text = at(CHECKOUT, item.span);
        assert!(
            !text.starts_with(char::is_whitespace) && !text.ends_with(char::is_whitespace),
            "{text:?}"
        );
    }
    assert_eq!(at(CHECKOUT, f.items[1].span), "timeout 2s");
    let Item::Param { name, value } = &f.items[2].node else {
        panic!()
    };
    assert_eq!(at(CHECKOUT, name.span), "peak");
    assert_eq!(at(CHECKOUT, value.span), "100/s");
    let Item::Request(req) = &f.items[6].node else {
        panic!()
    };
    let RequestStmt::Body(body) = &req.body[2].node else {
        panic!()
    };
    assert!(
        at(CHECKOUT, body.span).starts_with("\"\"\"")
            && at(CHECKOUT, body.span).ends_with("\"\"\"")
    );
    let one = body.value.find('1').unwrap();
    assert_eq!(at(CHECKOUT, body.source_span(one..one + 1)), "1");
    let RequestStmt::Header(h) = &req.body[1].node else {
        panic!()
    };
    let var = h.value.value.find("order").unwrap();
    assert_eq!(at(CHECKOUT, h.value.source_span(var..var + 5)), "order");
}

#[test]
fn unit_mistakes_parse_as_values_of_the_wrong_kind() {
    let f = parse("phase p { rate 5s for 5/s }  threshold p95 < 10%");
    let Item::Phase(p) = &f.items[0].node else {
        panic!()
    };
    let PhaseStmt::Load(Load::Rate { rate, duration }) = &p.body[0].node else {
        panic!()
    };
    assert!(matches!(rate.kind, ValueKind::Duration(_)));
    assert!(matches!(duration.kind, ValueKind::Rate(_)));
    assert_eq!(f.plan_name, None);
}

#[test]
fn keywords_can_still_be_names_and_values() {
    let f = parse("param over = 1m\nparam every = 1m\nphase ramp { ramp 1/s -> max over over  steps a -> b by c every every }");
    let Item::Phase(p) = &f.items[2].node else {
        panic!()
    };
    assert_eq!(p.name.name, "ramp");
    let PhaseStmt::Load(Load::Ramp { duration, .. }) = &p.body[0].node else {
        panic!()
    };
    assert_eq!(duration.kind, ValueKind::Ident("over".into()));
}

#[test]
fn comments_are_attached_where_they_were() {
    let src = r#"// file header
# second header line
plan "x" {
  // about the timeout
  timeout 2s // two seconds
  request a {  // opening
    GET "/"
    // closing comment
  }
  phase p { rate 1/s for 1m  // on the rate
    # leading for mix
    mix { a 1, // inside mix
      b 2 } }
  // the end
}
// after the plan
"#;
    let f = parse(src);
    assert_eq!(f.header_comments, vec!["file header", "second header line"]);
    assert_eq!(f.items[0].comments.leading, vec!["about the timeout"]);
    assert_eq!(f.items[0].comments.trailing.as_deref(), Some("two seconds"));
    let Item::Request(req) = &f.items[1].node else {
        panic!()
    };
    assert!(req.body[0].comments.leading.is_empty());
    assert_eq!(f.items[1].comments.trailing.as_deref(), Some("opening"));
    assert_eq!(f.items[1].comments.before_close, vec!["closing comment"]);
    let Item::Phase(p) = &f.items[2].node else {
        panic!()
    };
    assert_eq!(p.body[0].comments.trailing.as_deref(), Some("on the rate"));
    assert_eq!(
        p.body[1].comments.leading,
        vec!["leading for mix", "inside mix"]
    );
    assert_eq!(f.trailing_comments, vec!["the end", "after the plan"]);
}

#[test]
fn comment_markers_inside_strings_are_text() {
    let f = parse("target \"http://x/#frag\" // real\n");
    assert_eq!(f.items[0].comments.trailing.as_deref(), Some("real"));
    let Item::Setting(s) = &f.items[0].node else {
        panic!()
    };
    assert!(matches!(&s.value.kind, ValueKind::Str(v) if v.value == "http://x/#frag"));
}

#[test]
fn library_header_ends_at_the_last_blank_line() {
    let f = parse("// lib header\n\n// about a\nlet a = uuid()\n");
    assert_eq!(f.header_comments, vec!["lib header"]);
    assert_eq!(f.items[0].comments.leading, vec!["about a"]);
    let f = parse("// about a\nlet a = uuid()\n");
    assert!(f.header_comments.is_empty());
    assert_eq!(f.items[0].comments.leading, vec!["about a"]);
    let f = parse("// nothing here\n");
    assert_eq!(f.header_comments, vec!["nothing here"]);
}

#[test]
fn scenarios_hold_requests_think_and_settings() {
    let src = "scenario buy weight 1 {\n  cookies on\n  request login { POST \"/login\" capture t = header(\"X\") }\n  think 200ms..1s\n}";
    let f = parse(src);
    let Item::Scenario(s) = &f.items[0].node else {
        panic!()
    };
    assert_eq!(at(src, s.head_span), "scenario buy");
    assert!(
        matches!(&s.body[0].node, ScenarioStmt::Setting(x) if x.value.kind == ValueKind::Ident("on".into()))
    );
    assert!(matches!(&s.body[1].node, ScenarioStmt::Request(r) if r.body.len() == 2));
    let ScenarioStmt::Think(v) = &s.body[2].node else {
        panic!()
    };
    assert_eq!(at(src, v.span()), "200ms..1s");
}

#[test]
fn errors_say_what_was_expected_and_what_was_found() {
    let src = "phase p { rate peak 3m }";
    let e = err(src);
    assert_eq!(e.message, "expected `for`, found `3m`");
    assert_eq!(at(src, e.span), "3m");
    assert_eq!(e.expected, vec!["`for`"]);

    let e = err("phase p rate 1/s for 1m");
    assert_eq!(e.message, "expected `{`, found `rate`");

    let e = err("plan \"x\" {\n  timeout 2s\n");
    assert!(e.message.starts_with("expected an item"), "{}", e.message);
    assert!(
        e.message.ends_with("or `}`, found end of file"),
        "{}",
        e.message
    );

    let e = err("request a { GET \"/\n }");
    assert!(
        e.message.starts_with("unterminated string"),
        "{}",
        e.message
    );

    let src = "timeout 5sec";
    let e = err(src);
    assert!(e.message.contains("did you mean `s`"), "{}", e.message);
    assert_eq!(at(src, e.span), "sec");

    let e = err("request a { get \"/\" }");
    assert!(e.message.contains("a request statement"), "{}", e.message);
    assert!(e.message.ends_with("found `get`"), "{}", e.message);

    let e = err("plan \"x\" {\n  requets a { GET \"/\" }\n}");
    assert!(
        e.message
            .ends_with("(is `requets` a misspelling of `request`?)"),
        "{}",
        e.message
    );
    let e = err("phase p { rate 1/s for 1m  injct abort 5% }");
    assert!(
        e.message
            .ends_with("(is `injct` a misspelling of `inject`?)"),
        "{}",
        e.message
    );
    let e = err("phase p { rat 5/s for 1m }");
    assert!(
        e.message.ends_with("(is `rat` a misspelling of `rate`?)"),
        "{}",
        e.message
    );
    // No hint when nothing is close.
    let e = err("phase p { rate 1/s 1m }");
    assert!(!e.message.contains("misspelling"), "{}", e.message);

    let e = err("plan \"x\" { timeout 1s } }");
    assert!(e.message.starts_with("unexpected `}`"), "{}", e.message);
    assert_eq!(e.span, Span::new(24, 25));

    let e = err("threshold p95 = 1s");
    assert!(
        e.message.starts_with("expected a comparison"),
        "{}",
        e.message
    );
}

#[test]
fn any_input_is_an_ast_or_an_error() {
    // Truncating a valid plan at every char boundary must never panic.
    for (i, _) in CHECKOUT.char_indices() {
        let _ = parse_file(&CHECKOUT[..i]);
    }
}

#[test]
fn a_plan_of_5000_requests_parses_with_every_comment() {
    // Nothing here is timed; the point is that a big plan goes through (comment attachment
    // and span trimming are linear), with each comment where it belongs.
    let mut src = String::from("plan \"big\" {\n");
    for i in 0..5000 {
        src.push_str(&format!(
            "  // request {i}\n  request r{i} weight {i} {{\n    GET \"/items/{{{{id}}}}/{i}\"  // get {i}\n    expect status 200\n  }}\n"
        ));
    }
    src.push_str("  phase p { rate 10/s for 1m }\n}\n");
    let f = parse(&src);
    assert_eq!(f.items.len(), 5001);
    let Item::Request(last) = &f.items[4999].node else {
        panic!()
    };
    assert_eq!(last.name.name, "r4999");
    assert_eq!(f.items[4999].comments.leading, vec!["request 4999"]);
    assert_eq!(last.body[0].comments.trailing.as_deref(), Some("get 4999"));
}

#[test]
fn the_examples_in_the_language_reference_parse() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md");
    let Ok(doc) = std::fs::read_to_string(path) else {
        return; // the docs are not part of a packaged crate
    };
    let mut checked = 0;
    for (n, block) in doc.split("```").enumerate() {
        // Odd pieces are inside fences; `…` marks an elided fragment, `file =` the grammar.
        if n % 2 == 0 || block.contains('…') || block.contains("file       =") {
            continue;
        }
        if let Err(e) = parse_file(block) {
            panic!(
                "docs/language.md block {n}: {} at {:?}\n{block}",
                e.message, e.span
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} examples found");
}

mod arbitrary_input {
    use super::super::parse_file;
    use proptest::prelude::*;

    /// Fragments of the language, so that random input gets past the first token often.
    fn soup() -> impl Strategy<Value = String> {
        let token = prop::sample::select(vec![
            "plan",
            "\"p\"",
            "{",
            "}",
            "(",
            ")",
            ",",
            "=",
            "==",
            "<",
            "->",
            "..",
            "+",
            "request",
            "phase",
            "rate",
            "for",
            "ramp",
            "over",
            "users",
            "think",
            "inject",
            "abort",
            "header",
            "mix",
            "let",
            "int",
            "threshold",
            "p99.9",
            "a.b",
            "GET",
            "\"/x\"",
            "\"\"\"",
            "\"\\u{41}\"",
            "\"\\q\"",
            "5s",
            "10/s",
            "5%",
            "1.5",
            "-3",
            "5mb",
            "é",
            "//c\n",
            "#c\n",
            "\n",
            "  ",
            "\"",
            "\\",
        ]);
        prop::collection::vec(token, 0..40).prop_map(|t| t.join(" "))
    }

    proptest! {
        #[test]
        fn any_text_parses_or_fails_cleanly(src in "\\PC{0,200}") {
            if let Err(e) = parse_file(&src) {
                prop_assert!(e.span.start <= e.span.end && e.span.end <= src.len());
                prop_assert!(!e.message.is_empty());
            }
        }

        #[test]
        fn token_soup_parses_or_fails_cleanly(src in soup()) {
            match parse_file(&src) {
                Ok(file) => {
                    for item in &file.items {
                        prop_assert!(item.span.end <= src.len());
                    }
                }
                Err(e) => {
                    prop_assert!(e.span.start <= e.span.end && e.span.end <= src.len());
                    prop_assert!(src.is_char_boundary(e.span.start) && src.is_char_boundary(e.span.end));
                }
            }
        }
    }
}
