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

#[test]
#[ignore]
fn dump_repo_formatted() {
    for dir in ["examples", "stdlib-plans"] {
        for path in ptl_files(&repo_root().join(dir)) {
            let src = std::fs::read_to_string(&path).unwrap();
            let out = format_source(&src).unwrap();
            let target = Path::new("/tmp/fmtcheck").join(path.file_name().unwrap());
            std::fs::write(target, out).unwrap();
        }
    }
}
