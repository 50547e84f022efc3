//! Golden tests of the diagnostics: every `compiler/tests/ui/NAME.ptl` is checked and the
//! rendered reports are compared with `compiler/tests/ui/NAME.stderr`.
//! `UPDATE_UI=1 cargo test -p ptl-compiler --test it ui` rewrites the expected files.
//!
//! Directives in a case's leading comments:
//! - `// ui-set: name=value` passes `--set name=value`;
//! - `// ui-allow: CODE` passes `--allow CODE`;
//! - `// ui-explain` also compares `ptl check --explain` output with `NAME.explain`.
//!
//! `std:NAME` imports resolve to `tests/ui/std/NAME.ptl`; helper libraries and CSV files live
//! in subdirectories, so that only the top-level `.ptl` files are cases.

use std::fs;
use std::path::{Path, PathBuf};

use ptl_compiler::{check_source, explain, CheckOptions, StdResolver};

/// Paths in reports are shown as given (`tests/ui/NAME.ptl`), so the cases are read relative
/// to the compiler's directory; no other test in this binary depends on the working directory.
fn crate_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    std::env::set_current_dir(&root).expect("the compiler's directory exists");
    root
}

fn options(source: &str) -> CheckOptions {
    let params = source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("// ui-set:"))
        .filter_map(|kv| kv.trim().split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let allow = source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("// ui-allow:"))
        .map(|code| code.trim().to_string())
        .collect();
    CheckOptions {
        params,
        resolver: Some(StdResolver::new(|name| {
            fs::read_to_string(format!("tests/ui/std/{name}.ptl")).ok()
        })),
        allow,
        ..CheckOptions::default()
    }
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = fs::read_dir("tests/ui")
        .expect("tests/ui exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "ptl"))
        .map(|p| Path::new("tests/ui").join(p.file_name().unwrap_or_default()))
        .collect();
    cases.sort();
    cases
}

/// Compares `actual` with the file, or rewrites it under `UPDATE_UI`; returns a failure note.
fn compare(expected_path: &Path, actual: &str) -> Option<String> {
    if std::env::var_os("UPDATE_UI").is_some() {
        fs::write(expected_path, actual).expect("can write expected output");
        return None;
    }
    let expected = fs::read_to_string(expected_path).unwrap_or_default();
    if expected == actual {
        return None;
    }
    Some(format!(
        "--- {} (expected)\n{expected}\n--- actual\n{actual}",
        expected_path.display()
    ))
}

#[test]
fn ui() {
    crate_root();
    let mut failures = Vec::new();
    let cases = cases();
    assert!(!cases.is_empty(), "no cases in tests/ui");
    for case in &cases {
        let source = fs::read_to_string(case).expect("case is readable");
        let checked = check_source(case, &source, &options(&source));
        assert_eq!(
            checked.plan.is_some(),
            !checked.has_errors(),
            "{}: a plan exactly when there is no error",
            case.display()
        );
        let rendered = checked.render_text();
        if let Some(f) = compare(&case.with_extension("stderr"), &rendered) {
            failures.push(f);
        }
        if source.lines().any(|l| l.trim() == "// ui-explain") {
            let text = checked.plan.as_ref().map(explain).unwrap_or_default();
            if let Some(f) = compare(&case.with_extension("explain"), &text) {
                failures.push(f);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} ui cases differ (UPDATE_UI=1 rewrites them):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every diagnostic code has a golden case and a section in docs/diagnostics.md.
#[test]
fn every_code_is_tested_and_documented() {
    let root = crate_root();
    let enum_source = fs::read_to_string(root.join("src/diagnostic.rs")).expect("diagnostic.rs");
    let codes: Vec<&str> = enum_source
        .split("code(ptl::")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .collect();
    assert!(codes.len() > 40, "found only {} codes", codes.len());
    let mut outputs = String::new();
    for case in cases() {
        outputs.push_str(&fs::read_to_string(case.with_extension("stderr")).unwrap_or_default());
    }
    let docs = fs::read_to_string(root.join("../docs/diagnostics.md")).unwrap_or_default();
    let untested: Vec<&str> = codes
        .iter()
        .copied()
        .filter(|c| !outputs.contains(&format!("ptl::{c}")))
        .collect();
    let undocumented: Vec<&str> = codes
        .iter()
        .copied()
        .filter(|c| !docs.contains(&format!("## {c}")))
        .collect();
    assert!(untested.is_empty(), "codes without a ui case: {untested:?}");
    assert!(
        undocumented.is_empty(),
        "codes missing from docs/diagnostics.md: {undocumented:?}"
    );
}

/// A small deterministic generator (xorshift64*), so that failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Deletes, duplicates or swaps a random byte range.
fn mutate(rng: &mut Rng, src: &[u8]) -> Vec<u8> {
    let mut out = src.to_vec();
    for _ in 0..=rng.below(3) {
        if out.is_empty() {
            break;
        }
        let a = rng.below(out.len());
        let len = 1 + rng.below(12.min(out.len() - a));
        let b = (a + len).min(out.len());
        match rng.below(3) {
            0 => {
                out.drain(a..b);
            }
            1 => {
                let piece: Vec<u8> = out[a..b].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, piece);
            }
            _ => {
                let c = rng.below(out.len());
                let d = (c + len).min(out.len());
                if b <= c || d <= a {
                    let (first, second) = if a < c {
                        ((a, b), (c, d))
                    } else {
                        ((c, d), (a, b))
                    };
                    let mut swapped = out[..first.0].to_vec();
                    swapped.extend_from_slice(&out[second.0..second.1]);
                    swapped.extend_from_slice(&out[first.1..second.0]);
                    swapped.extend_from_slice(&out[first.0..first.1]);
                    swapped.extend_from_slice(&out[second.1..]);
                    out = swapped;
                }
            }
        }
    }
    out
}

#[test]
fn mutated_plans_never_panic() {
    crate_root();
    let seeds = [
        "../examples/checkout.ptl",
        "../examples/shop.ptl",
        "tests/ui/clean.ptl",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut compiled = 0;
    let mut rejected = 0;
    for seed in seeds {
        let path = Path::new(seed);
        let original = fs::read(path).expect("seed plan exists");
        for _ in 0..700 {
            let bytes = mutate(&mut rng, &original);
            let text = String::from_utf8_lossy(&bytes);
            let checked = check_source(path, &text, &options(""));
            // Rendering walks every label: it must stay inside the source.
            let _ = checked.render_text();
            let _ = checked.render_json();
            if checked.plan.is_some() {
                compiled += 1;
            } else {
                rejected += 1;
            }
        }
    }
    // Both outcomes occur, so the mutations reach the checker and not only the parser.
    assert!(
        compiled > 0 && rejected > 0,
        "compiled {compiled}, rejected {rejected}"
    );
}

/// The shipped examples and standard plans compile (warnings allowed), deterministically.
#[test]
fn examples_and_standard_plans_compile() {
    crate_root();
    let mut plans: Vec<PathBuf> = Vec::new();
    for dir in ["../examples", "../stdlib-plans"] {
        for entry in fs::read_dir(dir).expect("directory exists").flatten() {
            let path = Path::new(dir).join(entry.file_name());
            if path.extension().is_some_and(|e| e == "ptl") {
                plans.push(path);
            }
        }
    }
    plans.sort();
    assert!(plans.len() >= 5, "found {plans:?}");
    for path in plans {
        let source = fs::read_to_string(&path).expect("readable");
        let first = check_source(&path, &source, &options(""));
        assert!(
            !first.has_errors(),
            "{}:\n{}",
            path.display(),
            first.render_text()
        );
        let second = check_source(&path, &source, &options(""));
        assert_eq!(
            first.plan,
            second.plan,
            "{}: compiling twice differs",
            path.display()
        );
    }
}
