//! `ptl fmt` on files: every case under tests/fmt/, every example and stdlib plan of the repo
//! (found when the test runs) must format idempotently and keep its meaning; the case files
//! with a `.expected` twin must format to exactly that text (`PTL_BLESS=1` rewrites them).

use std::path::{Path, PathBuf};

use ptl_compiler::fmt::{format_file, format_source};
use ptl_compiler::parse::parse_file;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.ptl` file under `dir`, in a stable order.
fn ptl_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(ptl_files(&path));
        } else if path.extension().is_some_and(|e| e == "ptl") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn cases() -> Vec<PathBuf> {
    ptl_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fmt"))
}

/// The tree's Debug text without source positions (spans and string offset maps), so that
/// two parses can be compared for meaning.
fn without_positions(debug: &str) -> String {
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    loop {
        let span = rest.find("Span { start: ");
        let offsets = rest.find("offsets: [");
        let (at, close, keep) = match (span, offsets) {
            (Some(s), Some(o)) if o < s => (o, "]", "offsets"),
            (Some(s), _) => (s, " }", "Span"),
            (None, Some(o)) => (o, "]", "offsets"),
            (None, None) => break,
        };
        out.push_str(&rest[..at]);
        out.push_str(keep);
        let tail = &rest[at..];
        let Some(end) = tail.find(close) else {
            break;
        };
        rest = &tail[end + close.len()..];
    }
    out.push_str(rest);
    out
}

fn check_roundtrip(path: &Path) {
    let src = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let tree = parse_file(&src)
        .unwrap_or_else(|e| panic!("{}: {} at {:?}", path.display(), e.message, e.span));
    let once = format_file(&tree);
    let again_tree = parse_file(&once).unwrap_or_else(|e| {
        panic!(
            "{}: formatted text does not parse: {} at {:?}\n{once}",
            path.display(),
            e.message,
            e.span
        )
    });
    let twice = format_file(&again_tree);
    assert_eq!(
        once,
        twice,
        "{}: formatting is not idempotent",
        path.display()
    );
    let before = without_positions(&format!("{tree:?}"));
    let after = without_positions(&format!("{again_tree:?}"));
    assert_eq!(
        before,
        after,
        "{}: formatting changed the meaning\n{once}",
        path.display()
    );
}

#[test]
fn cases_format_idempotently_and_keep_their_meaning() {
    let cases = cases();
    assert!(cases.len() >= 5, "the fmt cases are missing: {cases:?}");
    for path in cases {
        check_roundtrip(&path);
    }
}

#[test]
fn repo_plans_format_idempotently_and_keep_their_meaning() {
    for dir in ["examples", "stdlib-plans"] {
        for path in ptl_files(&repo_root().join(dir)) {
            check_roundtrip(&path);
        }
    }
}

#[test]
fn cases_format_to_their_expected_text() {
    let bless = std::env::var_os("PTL_BLESS").is_some();
    let mut checked = 0;
    for path in cases() {
        let expected_path = path.with_extension("ptl.expected");
        let src = std::fs::read_to_string(&path).unwrap();
        let formatted =
            format_source(&src).unwrap_or_else(|e| panic!("{}: {}", path.display(), e.message));
        if bless {
            std::fs::write(&expected_path, &formatted).unwrap();
        }
        let Ok(expected) = std::fs::read_to_string(&expected_path) else {
            continue;
        };
        assert_eq!(formatted, expected, "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 3, "too few .expected files ({checked})");
}

#[test]
fn comparison_without_positions_still_sees_changes() {
    // The meaning check must not be vacuous: a changed literal is a different tree.
    let a = parse_file("timeout 1m").unwrap();
    let b = parse_file("timeout  60s").unwrap();
    let c = parse_file("timeout   1m").unwrap();
    assert_ne!(
        without_positions(&format!("{a:?}")),
        without_positions(&format!("{b:?}"))
    );
    assert_eq!(
        without_positions(&format!("{a:?}")),
        without_positions(&format!("{c:?}"))
    );
}

#[test]
fn layout_rules() {
    let src = "plan \"p\" { timeout 2s connections 5 param a = 1 param long_name = 2 \
               phase w { ramp 0/s -> a over 1m } phase baseline { rate a for 5m  inject abort 5% } \
               threshold p95 < 1s }";
    let out = format_source(src).unwrap();
    let expected = "\
plan \"p\" {
  timeout 2s
  connections 5

  param a         = 1
  param long_name = 2

  phase w        { ramp 0/s -> a over 1m }
  phase baseline { rate a for 5m  inject abort 5% }

  threshold p95 < 1s
}
";
    assert_eq!(out, expected);
}

#[test]
fn long_or_commented_phases_break_over_lines() {
    let long = format!(
        "phase p {{ rate peak for 1m  inject header \"{}\" = \"503\" 5% }}",
        "x".repeat(80)
    );
    let out = format_source(&long).unwrap();
    assert!(
        out.starts_with("phase p {\n  rate peak for 1m\n  inject header"),
        "{out}"
    );
    let out = format_source("phase p { rate peak for 1m // why\n }").unwrap();
    assert_eq!(out, "phase p {\n  rate peak for 1m  // why\n}\n");
}

#[test]
fn syntax_errors_come_back_from_format_source() {
    let e = format_source("phase p { rate 1/s 1m }").unwrap_err();
    assert_eq!(e.message, "expected `for`, found `1m`");
}

mod generated {
    //! Plans generated from the grammar's pieces, with random literals, strings and comments:
    //! each must parse, keep its meaning through fmt, and format idempotently.

    use super::without_positions;
    use proptest::prelude::*;
    use ptl_compiler::ast::{Item, ValueKind};
    use ptl_compiler::fmt::format_file;
    use ptl_compiler::parse::parse_file;

    /// A string literal spelled with escapes, and the text it stands for.
    fn plain_string() -> BoxedStrategy<(String, String)> {
        prop::collection::vec(any::<char>(), 0..12)
            .prop_map(|chars| {
                let mut src = String::from("\"");
                for (n, c) in chars.iter().enumerate() {
                    match c {
                        '"' => src.push_str("\\\""),
                        '\\' => src.push_str("\\\\"),
                        '\n' => src.push_str("\\n"),
                        '\t' => src.push_str("\\t"),
                        '\r' => src.push_str("\\r"),
                        c if n % 3 == 0 || c.is_control() => {
                            src.push_str(&format!("\\u{{{:X}}}", *c as u32))
                        }
                        c => src.push(*c),
                    }
                }
                src.push('"');
                (src, chars.into_iter().collect())
            })
            .boxed()
    }

    /// Triple-quoted text, never only whitespace over several lines (that has no triple-quoted
    /// spelling once read, so fmt writes it as a plain string).
    fn triple_string() -> BoxedStrategy<String> {
        (
            prop::collection::vec("[ a-z{}\"\t]{0,9}x", 1..4),
            0usize..6,
            any::<bool>(),
        )
            .prop_map(|(lines, indent, newline)| {
                let pad = " ".repeat(indent);
                let lines: Vec<String> = lines
                    .iter()
                    .map(|l| {
                        let mut l = l.clone();
                        while l.contains("\"\"\"") {
                            l = l.replace("\"\"\"", "\"\"");
                        }
                        l
                    })
                    .collect();
                let body: Vec<String> = lines.iter().map(|l| format!("{pad}{l}")).collect();
                if newline {
                    format!("\"\"\"\n{}\n{pad}\"\"\"", body.join("\n"))
                } else {
                    format!("\"\"\"{}\"\"\"", lines.join("\n"))
                }
            })
            .boxed()
    }

    fn number() -> BoxedStrategy<String> {
        (
            0u32..100_000,
            prop::option::of(0u32..1000),
            prop::sample::select(vec!["", "ms", "s", "m", "h", "/s", "/m", "/h", "%"]),
        )
            .prop_map(|(int, frac, unit)| match frac {
                Some(f) => format!("{int}.{f}{unit}"),
                None => format!("{int}{unit}"),
            })
            .boxed()
    }

    fn value() -> BoxedStrategy<String> {
        let scalar = prop_oneof![
            number(),
            plain_string().prop_map(|(s, _)| s),
            Just("true".to_string()),
            Just("peak".to_string()),
            Just("drop".to_string()),
            (-50i64..50).prop_map(|i| i.to_string()),
        ];
        (scalar.clone(), prop::option::of(scalar))
            .prop_map(|(a, b)| match b {
                Some(b) => format!("{a}..{b}"),
                None => a,
            })
            .boxed()
    }

    /// A regex literal as a user may write one: slashes escaped, other escapes the regex's own.
    fn regex_literal() -> BoxedStrategy<String> {
        let piece = prop_oneof![
            "[a-z0-9.*+?()|^$ \\[\\]{},\"#]",
            Just("\\/".to_string()),
            "\\\\[a-zA-Z0-9./\\\\]",
        ];
        prop::collection::vec(piece, 1..8)
            .prop_map(|p| format!("/{}/", p.concat()))
            .boxed()
    }

    fn comment() -> BoxedStrategy<String> {
        prop_oneof![
            Just(String::new()),
            "[a-z \"#/{}]{0,12}".prop_map(|c| format!("  // {c}\n")),
            "[a-z ]{0,12}".prop_map(|c| format!("\n# {c}\n")),
        ]
        .boxed()
    }

    /// A think time: a value (a duration or range, or anything the checker rejects) or an
    /// exponential's mean.
    fn think_time() -> BoxedStrategy<String> {
        prop_oneof![
            value(),
            value().prop_map(|m| format!("exponential({m})")),
            value().prop_map(|m| format!("exponential ( {m} )")),
        ]
        .boxed()
    }

    fn phase_stmt() -> BoxedStrategy<String> {
        prop_oneof![
            (value(), value()).prop_map(|(r, d)| format!("rate {r} for {d}")),
            (value(), value(), value()).prop_map(|(a, b, d)| format!("ramp {a} -> {b} over {d}")),
            (value(), value(), value(), value())
                .prop_map(|(a, b, c, d)| format!("steps {a} -> {b} by {c} every {d}")),
            value().prop_map(|d| format!("pause {d}")),
            (value(), value(), prop::option::of(think_time())).prop_map(|(u, d, t)| match t {
                Some(t) => format!("users {u} for {d} think {t}"),
                None => format!("users {u} for {d}"),
            }),
            think_time().prop_map(|t| format!("think {t}")),
            value().prop_map(|s| format!("inject abort {s}")),
            (value(), value()).prop_map(|(d, s)| format!("inject delay {d} {s}")),
            (plain_string(), triple_string(), value())
                .prop_map(|((n, _), v, s)| format!("inject header {n} = {v} {s}")),
            prop::collection::vec(value(), 0..3).prop_map(|ws| {
                let entries: Vec<String> = ws
                    .iter()
                    .enumerate()
                    .map(|(i, w)| format!("s{i} {w}"))
                    .collect();
                format!("mix {{ {} }}", entries.join(" "))
            }),
            value().prop_map(|v| format!("arrivals {v}")),
        ]
        .boxed()
    }

    fn request_stmt() -> BoxedStrategy<String> {
        prop_oneof![
            plain_string().prop_map(|(p, _)| format!("GET {p}")),
            (plain_string(), triple_string()).prop_map(|((n, _), v)| format!("header {n} = {v}")),
            triple_string().prop_map(|b| format!("body {b}")),
            prop::collection::vec(value(), 1..3)
                .prop_map(|v| format!("expect status {}", v.join(", "))),
            (
                prop::sample::select(vec!["<", "<=", ">", ">=", "=="]),
                value()
            )
                .prop_map(|(op, v)| format!("expect latency {op} {v}")),
            plain_string().prop_map(|(s, _)| format!("expect body contains {s}")),
            (plain_string(), value()).prop_map(|((p, _), v)| format!("expect json({p}) == {v}")),
            prop::collection::vec(value(), 1..3)
                .prop_map(|v| format!("expect status in {}", v.join(", "))),
            (prop::sample::select(vec!["<", "<=", ">"]), value())
                .prop_map(|(op, v)| format!("expect duration {op} {v}")),
            regex_literal().prop_map(|r| format!("expect body matches {r}")),
            (plain_string(), value()).prop_map(|((p, _), v)| format!("expect json({p}) != {v}")),
            plain_string().prop_map(|(p, _)| format!("expect exists json({p})")),
            (plain_string(), plain_string())
                .prop_map(|((n, _), (t, _))| format!("expect header({n}) contains {t}")),
            (plain_string(), prop::option::of(plain_string())).prop_map(|((p, _), d)| match d {
                Some((d, _)) => format!("capture c = regex({p}) or {d}"),
                None => "capture c = status()".to_string(),
            }),
        ]
        .boxed()
    }

    fn item() -> BoxedStrategy<String> {
        prop_oneof![
            value().prop_map(|v| format!("timeout {v}")),
            value().prop_map(|v| format!("param p = {v}")),
            (plain_string(), value()).prop_map(|((s, _), v)| format!(
                "let l = {s} + int({v}, 2) + weighted(\"a\" {v}, x)"
            )),
            prop::collection::vec((phase_stmt(), comment()), 0..4).prop_map(|stmts| {
                let body: Vec<String> = stmts.into_iter().map(|(s, c)| format!("{s}{c}")).collect();
                format!("phase ph {{ {}\n}}", body.join(" "))
            }),
            prop::collection::vec((request_stmt(), comment()), 0..4).prop_map(|stmts| {
                let body: Vec<String> = stmts.into_iter().map(|(s, c)| format!("{s}{c}")).collect();
                format!("request rq {{ {}\n}}", body.join("\n"))
            }),
            (
                prop::sample::select(vec!["p95", "x.p99.9", "a.b.error_rate"]),
                value(),
                any::<bool>()
            )
                .prop_map(|(m, v, abort)| format!(
                    "threshold {m} < {v}{}",
                    if abort { " abort" } else { "" }
                )),
        ]
        .boxed()
    }

    proptest! {
        #[test]
        fn escaped_strings_decode_to_their_text((src, text) in plain_string()) {
            let file = parse_file(&format!("target {src}")).map_err(|e| TestCaseError::fail(e.message))?;
            let Item::Setting(s) = &file.items[0].node else { panic!("not a setting") };
            let ValueKind::Str(lit) = &s.value.kind else { panic!("not a string") };
            prop_assert_eq!(&lit.value, &text);
        }

        #[test]
        fn generated_plans_survive_fmt(items in prop::collection::vec((item(), comment()), 0..8), plan in any::<bool>()) {
            let body: Vec<String> = items.into_iter().map(|(i, c)| format!("{i}{c}")).collect();
            let src = if plan {
                format!("plan \"g\" {{\n{}\n}}", body.join("\n"))
            } else {
                body.join("\n")
            };
            let tree = parse_file(&src)
                .map_err(|e| TestCaseError::fail(format!("generated plan does not parse: {}\n{src}", e.message)))?;
            let once = format_file(&tree);
            let again = parse_file(&once).map_err(|e| TestCaseError::fail(format!("{}\n{once}", e.message)))?;
            prop_assert_eq!(format_file(&again), once.clone());
            prop_assert_eq!(without_positions(&format!("{tree:?}")), without_positions(&format!("{again:?}")), "{}", once);
        }
    }
}
