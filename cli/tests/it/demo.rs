//! `ptl demo`: the quickstart against the built-in demo target, ending with one line on the
//! target's capacity that `ptl analyze` of the same result backs.

use crate::support::ptl;

/// How the capacity line writes a rate (report/src/units.rs `format_rps`).
fn rps(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}/s")
    } else {
        format!("{v:.0}/s")
    }
}

#[test]
fn demo_ends_with_a_capacity_line_that_ptl_analyze_backs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let o = ptl()
        .args(["demo", "--quiet", "--out"])
        .arg(&out)
        .output()
        .expect("ptl demo runs");
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    // 1: a threshold failed on this (shared, debug-built) machine; the line comes either way.
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{:?}\n{stdout}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    assert!(line.starts_with("capacity, step by step: "), "{stdout}");

    // The quickstart's one whole-run threshold the analysis can judge by.
    let analysis = crate::analyze::analyze_json(&out, &["--slo", "p99 < 250ms"]);
    assert!(
        line.contains("(p99 < 250 ms)") || line.contains("p99 < 250 ms failed"),
        "{line}"
    );
    match (
        analysis["knee_rps"].as_f64(),
        analysis["first_break_rps"].as_f64(),
    ) {
        (_, None) => {
            let fastest = analysis["steps"]
                .as_array()
                .expect("steps")
                .iter()
                .max_by(|a, b| {
                    a["target_rps"]
                        .as_f64()
                        .unwrap_or(0.0)
                        .total_cmp(&b["target_rps"].as_f64().unwrap_or(0.0))
                })
                .and_then(|s| s["achieved_rps"].as_f64())
                .expect("a fastest step");
            assert!(
                line.contains(&format!("held up to {}, the fastest rate", rps(fastest))),
                "{line}"
            );
            assert!(line.contains("the knee is above it") && line.contains("std:breakpoint"));
        }
        (Some(knee), Some(broke)) => assert!(
            line.contains(&format!("held up to {}, the knee", rps(knee)))
                && line.ends_with(&format!("broke at {}", rps(broke))),
            "{line}\n{analysis:#}"
        ),
        (None, Some(_)) => assert!(line.contains("the knee is below it"), "{line}"),
    }
}
