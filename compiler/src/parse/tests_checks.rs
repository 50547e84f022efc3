//! Parser tests of the richer checks: `status in`, `duration`, `body matches /…/`,
//! `json(…) !=`, `exists json(…)` and `header(…) contains`.

use super::tests::{at, err, parse};
use crate::ast::*;

/// The expectations of the only request of `plan "p" { request r { … } }`.
fn expects(src: &str) -> Vec<Expect> {
    let file = parse(src);
    let Some(Item::Request(r)) = file.items.first().map(|s| &s.node) else {
        panic!("no request in {src}")
    };
    r.body
        .iter()
        .filter_map(|s| match &s.node {
            RequestStmt::Expect(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn request(stmts: &str) -> String {
    format!("plan \"p\" {{\n  request r {{\n    GET \"/\"\n{stmts}\n  }}\n}}\n")
}

#[test]
fn every_new_form_has_its_shape() {
    let src = request(
        r#"    expect status in 200..299, 304
    expect duration <= 200ms
    expect body matches /order=o-\d+\/[a-z]+/
    expect json("$.state") != "failed"
    expect exists json("$.id")
    expect header("Content-Type") contains "json""#,
    );
    let e = expects(&src);
    assert!(matches!(&e[0], Expect::Status { codes, with_in: true } if codes.len() == 2));
    assert!(matches!(
        &e[1],
        Expect::Latency {
            cmp: CmpOp::Le,
            duration: true,
            ..
        }
    ));
    let Expect::BodyMatches(re) = &e[2] else {
        panic!("{:?}", e[2])
    };
    assert_eq!(
        re.value, r"order=o-\d+/[a-z]+",
        "`\\/` is a slash, `\\d` stays"
    );
    assert_eq!(at(&src, re.span), r"/order=o-\d+\/[a-z]+/");
    // Past the `\/`, positions in the value still map to the source.
    let after = re.value.find("[a-z]").expect("in the value");
    assert_eq!(at(&src, re.source_span(after..after + 5)), "[a-z]");
    assert!(matches!(
        &e[3],
        Expect::Json { path, equal: false, value }
            if path.value == "$.state" && matches!(&value.kind, ValueKind::Str(s) if s.value == "failed")
    ));
    assert!(matches!(&e[4], Expect::JsonExists(p) if p.value == "$.id"));
    assert!(matches!(
        &e[5],
        Expect::HeaderContains { name, needle } if name.value == "Content-Type" && needle.value == "json"
    ));
}

#[test]
fn old_spellings_are_unchanged() {
    let e = expects(&request(
        "    expect status 200\n    expect latency < 2s\n    expect json(\"$.ok\") == true",
    ));
    assert!(matches!(&e[0], Expect::Status { with_in: false, .. }));
    assert!(matches!(
        &e[1],
        Expect::Latency {
            duration: false,
            ..
        }
    ));
    assert!(matches!(&e[2], Expect::Json { equal: true, .. }));
}

#[test]
fn a_param_named_like_a_keyword_is_still_a_status() {
    let e = expects(&request("    expect status inner"));
    assert!(
        matches!(&e[0], Expect::Status { codes, with_in: false } if codes[0].kind == ValueKind::Ident("inner".into()))
    );
}

#[test]
fn a_regex_is_never_empty_and_ends_on_its_line() {
    // `//` starts a comment, so the regex is missing.
    let e = err(&request("    expect body matches //"));
    assert!(e.message.contains("a regex"), "{}", e.message);
    let e = err(&request("    expect body matches /abc\n/"));
    assert!(e.message.contains("a regex"), "{}", e.message);
    let e = err(&request("    expect body matches \"abc\""));
    assert!(e.message.contains("a regex"), "{}", e.message);
}

#[test]
fn wrong_operators_say_what_is_expected() {
    let e = err(&request("    expect json(\"$.a\") = 1"));
    assert!(e.message.contains("`!=`"), "{}", e.message);
    assert!(e.message.contains("`==`"), "{}", e.message);
    let e = err(&request("    expect body has \"x\""));
    assert!(e.message.contains("`matches`"), "{}", e.message);
    let e = err(&request("    expect header(\"A\") == \"x\""));
    assert!(e.message.contains("`contains`"), "{}", e.message);
}

#[test]
fn a_comment_after_a_regex_is_a_comment() {
    let e = expects(&request("    expect body matches /a\\/b/ // the id"));
    assert!(matches!(&e[0], Expect::BodyMatches(re) if re.value == "a/b"));
}

#[test]
fn quotes_hashes_and_slashes_in_a_regex_are_not_strings_or_comments() {
    let src = request("    expect body matches /\"#\\// // why\n    expect body matches /a#b/");
    let file = parse(&src);
    let Some(Item::Request(r)) = file.items.first().map(|s| &s.node) else {
        panic!("no request")
    };
    let first = &r.body[1];
    assert!(
        matches!(&first.node, RequestStmt::Expect(Expect::BodyMatches(re)) if re.value == "\"#/")
    );
    assert_eq!(first.comments.trailing.as_deref(), Some("why"));
    let second = &r.body[2];
    assert!(
        matches!(&second.node, RequestStmt::Expect(Expect::BodyMatches(re)) if re.value == "a#b")
    );
    assert!(second.comments.leading.is_empty());
    assert!(second.comments.trailing.is_none());
}

#[test]
fn think_times_are_values_or_exponentials_in_scenarios_and_closed_phases() {
    let src = "plan \"p\" {\n  scenario s {\n    request a { GET \"/\" }\n    think exponential(1s)\n    think 1s..3s\n  }\n  phase c { users 5 for 1m think exponential( peak ) }\n  phase r { users 5 for 1m think 1s..3s }\n}\n";
    let file = parse(src);
    let Item::Scenario(s) = &file.items[0].node else {
        panic!("a scenario")
    };
    let ScenarioStmt::Think(ThinkTime::Exponential { mean, span }) = &s.body[1].node else {
        panic!("{:?}", s.body[1].node)
    };
    assert_eq!(
        mean.kind,
        ValueKind::Duration(Duration {
            amount: 1.0,
            unit: TimeUnit::S
        })
    );
    assert_eq!(at(src, *span), "exponential(1s)");
    assert!(matches!(
        &s.body[2].node,
        ScenarioStmt::Think(ThinkTime::Value(v)) if matches!(v.kind, ValueKind::Range(..))
    ));
    let users_think = |i: usize| {
        let Item::Phase(p) = &file.items[i].node else {
            panic!("a phase")
        };
        let PhaseStmt::Load(Load::Users { think, .. }) = &p.body[0].node else {
            panic!("users")
        };
        think.clone().expect("a think time")
    };
    let ThinkTime::Exponential { mean, span } = users_think(1) else {
        panic!("exponential")
    };
    assert_eq!(mean.kind, ValueKind::Ident("peak".into()));
    assert_eq!(at(src, span), "exponential( peak )");
    assert!(
        matches!(users_think(2), ThinkTime::Value(v) if matches!(v.kind, ValueKind::Range(..)))
    );
}

#[test]
fn an_exponential_needs_its_mean() {
    let e = err("plan \"p\" { phase c { users 5 for 1m think exponential() } }");
    assert!(e.message.contains("expected a value"), "{}", e.message);
}
