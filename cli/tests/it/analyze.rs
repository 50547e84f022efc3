//! `ptl analyze` end to end: breakpoint runs against `ptl demo-target --capacity` must find the
//! knee within 10 % of the configured capacity, on data no one tuned; bad input is a usage
//! error.

use crate::support::{assert_exit, ptl, run, stderr, Target};
use serde_json::Value;
use std::path::Path;
use std::thread;

/// Steps of 5 % of the capacity around it, 4 s each (the first second of each settles). The
/// grid is offset by 2.5 % so no step sits exactly on the 10 % bounds.
const PLAN: &str = r#"plan "capacity" {
  param target = "http://127.0.0.1:9"
  param from = 100/s
  param to = 200/s
  param by = 10/s
  target target
  timeout 1s
  connections 1500
  overflow drop
  request get { GET "/" }
  phase steps { steps from -> to by by every 4s }
}
"#;

/// Runs the steps plan against a target of `capacity` and analyses it: the JSON analysis.
fn breakpoint_run(dir: &Path, capacity: f64) -> Value {
    let target = Target::start_with(&["--capacity", &format!("{capacity}/s")]);
    let plan = dir.join(format!("capacity-{capacity}.ptl"));
    std::fs::write(&plan, PLAN).unwrap();
    let out = dir.join(format!("capacity-{capacity}.json"));
    let rate = |share: f64| format!("{}/s", capacity * share);
    let o = run(
        &plan,
        &target.url,
        &out,
        &[
            "--set",
            &format!("from={}", rate(0.825)),
            "--set",
            &format!("to={}", rate(1.175)),
            "--set",
            &format!("by={}", rate(0.05)),
        ],
    );
    assert_exit(&o, 0);
    drop(target);
    let page = dir.join(format!("capacity-{capacity}.html"));
    let o = ptl()
        .arg("analyze")
        .arg(&out)
        .args(["--slo", "error_rate < 1%", "--at"])
        .arg(rate(0.9))
        .args(["--format", "json", "--report"])
        .arg(&page)
        .output()
        .expect("ptl analyze runs");
    assert_exit(&o, 0);
    let html = std::fs::read_to_string(&page).expect("the chart page is written");
    assert!(html.contains("<svg") && html.contains("class=\"step\""));
    serde_json::from_slice(&o.stdout).expect("analysis JSON")
}

#[test]
fn breakpoint_runs_find_the_knee_within_10_percent_of_the_capacity() {
    let dir = tempfile::tempdir().unwrap();
    // The three runs at once: each is 32 s of loopback load well within two cores.
    let runs: Vec<(f64, thread::JoinHandle<Value>)> = [300.0, 600.0, 1000.0]
        .into_iter()
        .map(|capacity| {
            let dir = dir.path().to_path_buf();
            (
                capacity,
                thread::spawn(move || breakpoint_run(&dir, capacity)),
            )
        })
        .collect();
    for (capacity, handle) in runs {
        let analysis = handle.join().expect("run thread");
        let knee = analysis["knee_rps"]
            .as_f64()
            .unwrap_or_else(|| panic!("no knee at {capacity}/s: {analysis:#}"));
        // Shown with --nocapture: how close each run came.
        eprintln!("capacity {capacity}/s: knee {knee:.0}/s");
        assert!(
            (knee - capacity).abs() <= 0.1 * capacity,
            "knee {knee}/s for a capacity of {capacity}/s: {analysis:#}"
        );
        let slo = &analysis["slos"][0];
        assert_eq!(slo["metric"], "error_rate");
        assert!(slo["broke_at_rps"].as_f64().is_some_and(|b| b > knee));
        assert_eq!(analysis["steps"].as_array().map(Vec::len), Some(8));
        assert_eq!(analysis["grouping"], "steps");
    }
}

#[test]
fn unreadable_results_and_bad_slos_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let o = ptl()
        .arg("analyze")
        .arg(&missing)
        .args(["--slo", "p99 < 1s"])
        .output()
        .unwrap();
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));

    let not_a_result = dir.path().join("other.json");
    std::fs::write(&not_a_result, "{\"hello\": 1}").unwrap();
    let o = ptl()
        .arg("analyze")
        .arg(&not_a_result)
        .args(["--slo", "p99 < 1s"])
        .output()
        .unwrap();
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("not a ptl result"), "{}", stderr(&o));

    let o = ptl()
        .arg("analyze")
        .arg(&not_a_result)
        .args(["--slo", "p99 > 1s"])
        .output()
        .unwrap();
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("METRIC < LIMIT"), "{}", stderr(&o));
}
