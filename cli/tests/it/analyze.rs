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

/// `ptl analyze FILE --format json` with `args` (the SLOs and more): the analysis.
pub(crate) fn analyze_json(file: &Path, args: &[&str]) -> Value {
    let o = ptl()
        .arg("analyze")
        .arg(file)
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("ptl analyze runs");
    assert_exit(&o, 0);
    serde_json::from_slice(&o.stdout).expect("analysis JSON")
}

/// Runs `plan` (the steps plan, maybe with more lines) against a new target of `capacity` in
/// steps of 5 % of it, from 82.5 % to 117.5 %: its `ptl run` output.
fn run_around(plan: &Path, capacity: f64, out: &Path) -> std::process::Output {
    let target = Target::start_with(&["--capacity", &format!("{capacity}/s")]);
    let rate = |share: f64| format!("{}/s", capacity * share);
    run(
        plan,
        &target.url,
        out,
        &[
            "--set",
            &format!("from={}", rate(0.825)),
            "--set",
            &format!("to={}", rate(1.175)),
            "--set",
            &format!("by={}", rate(0.05)),
        ],
    )
}

/// Runs the steps plan against a target of `capacity` and analyses it: the JSON analysis.
fn breakpoint_run(dir: &Path, capacity: f64) -> Value {
    let plan = dir.join(format!("capacity-{capacity}.ptl"));
    std::fs::write(&plan, PLAN).unwrap();
    let out = dir.join(format!("capacity-{capacity}.json"));
    let rate = |share: f64| format!("{}/s", capacity * share);
    let o = run_around(&plan, capacity, &out);
    assert_exit(&o, 0);
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

/// `ptl run --dashboard --dashboard-hold` of a short steps plan (whole-run threshold
/// `error_rate < 1%`) against a target of 300/s: while it runs, its analysis is refused (409);
/// once it has ended, the dashboard's analysis is `ptl analyze`'s of the `--out` file, its chart
/// is the report's SVG, and a bad SLO is a 400 that says why.
#[test]
fn the_dashboard_analyses_a_finished_run_as_ptl_analyze_does() {
    use crate::dashboard::{http, DashboardRun};
    use std::io::BufRead;

    let target = Target::start_with(&["--capacity", "300/s"]);
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("steps.ptl");
    let source = PLAN.replace(
        "  phase steps",
        "  threshold error_rate < 1%\n  phase steps",
    );
    std::fs::write(&plan, source).unwrap();
    let out = dir.path().join("r.json");
    let extra = [
        "--set",
        "from=240/s",
        "--set",
        "to=360/s",
        "--set",
        "by=30/s",
        "--dashboard-hold",
        "2m",
    ];
    let DashboardRun {
        mut child,
        addr,
        mut stderr,
    } = DashboardRun::spawn(&plan, &target.url, &out, &extra);
    let mut line = String::new();
    let mut next_line = |what: &str| loop {
        line.clear();
        let read = stderr.read_line(&mut line).unwrap_or(0);
        assert!(read > 0, "ptl run ended before it printed {what}");
        if line.contains(what) {
            return;
        }
    };
    let (status, body) = http(&addr, "GET", "/api/runs", Some("v1"));
    assert_eq!(status, 200, "{body}");
    let runs: Value = serde_json::from_str(&body).expect("JSON");
    let id = runs[0]["id"]
        .as_str()
        .expect("the run is listed")
        .to_string();
    let api = format!("/api/runs/{id}/analysis");
    // The plan runs 20 s: now it is going on.
    let (status, body) = http(&addr, "GET", &api, Some("v1"));
    assert_eq!(status, 409, "{body}");
    assert_eq!(http(&addr, "GET", &api, None).0, 401);

    // Said once the results are written and the run is the hub's finished one.
    next_line("serves the finished run");
    let (status, body) = http(&addr, "GET", &format!("{api}?at=300/s"), Some("v1"));
    assert_eq!(status, 200, "{body}");
    let served: Value = serde_json::from_str(&body).expect("analysis JSON");
    let (status, body) = http(
        &addr,
        "GET",
        &format!("{api}?slo=p99%20%3E%201s"),
        Some("v1"),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("METRIC < LIMIT"), "{body}");
    let (status, svg) = http(&addr, "GET", &format!("{api}/chart"), Some("v1"));
    assert_eq!(status, 200);
    assert!(
        svg.contains("<svg") && svg.contains("class=\"step\""),
        "{svg}"
    );
    assert_eq!(
        http(&addr, "GET", "/api/runs/nope/analysis", Some("v1")).0,
        404
    );

    let file = analyze_json(&out, &["--slo", "error_rate < 1%", "--at", "300/s"]);
    let knee = served["knee_rps"]
        .as_f64()
        .unwrap_or_else(|| panic!("no knee on the dashboard: {served:#}"));
    // Read back from the file, a rate may differ from the one in memory in its last digit.
    let from_file = file["knee_rps"].as_f64().expect("a knee from the file");
    assert!(
        (knee - from_file).abs() < 1e-9 * knee,
        "{knee} vs {from_file}"
    );
    assert_eq!(served["knee_target_rps"], file["knee_target_rps"]);
    assert_eq!(served["slos"][0]["slo"], "error_rate < 1.00%");
    assert_eq!(served["steps"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        served["steps"].as_array().map(Vec::len),
        file["steps"].as_array().map(Vec::len)
    );
    eprintln!("capacity 300/s: knee {knee:.1}/s on the dashboard and in ptl analyze");

    // Ctrl-C ends the hold.
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    child.wait().expect("ptl run ends");
    drop(target);
}

/// `stop_at knee` against a target of 300/s: the run stops inside the first step that breaks
/// `error_rate < 1%` (it never reaches the next step), says why, and `ptl analyze` of the
/// partial result finds the knee within 10 % of the capacity, the break at the step it stopped
/// in.
#[test]
fn stop_at_knee_ends_the_run_in_the_step_that_breaks_the_slo() {
    let capacity = 300.0;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("knee.ptl");
    let source = PLAN.replace(
        "  phase steps",
        "  stop_at knee\n  threshold error_rate < 1%\n  phase steps",
    );
    std::fs::write(&plan, source).unwrap();
    let out = dir.path().join("knee.json");
    let o = run_around(&plan, capacity, &out);
    // The whole run's error rate may or may not have crossed 1 % by the stop.
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let result: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(result["stopped_early"], true, "{}", result["stop_reason"]);
    let reason = result["stop_reason"].as_str().unwrap_or_default();
    let prefix = "stop_at knee: error_rate < 1% broke at the step planned at ";
    assert!(reason.starts_with(prefix), "{reason}");
    let broke_at: f64 = reason[prefix.len()..]
        .trim_end_matches("/s")
        .parse()
        .expect("a rate");
    // Judged once a second, the step may break on its last second: the stop then falls in the
    // next step's first second, the partial one `ptl analyze` leaves out. No more than that.
    let series = result["series"].as_array().expect("series");
    let beyond: Vec<f64> = series
        .iter()
        .map(|p| p["target_rps"].as_f64().unwrap_or(0.0))
        .filter(|r| *r > broke_at + 1.0)
        .collect();
    assert!(
        beyond.len() <= 1,
        "the run went on at {beyond:?} after breaking at {broke_at}/s"
    );

    let analysis = analyze_json(&out, &["--slo", "error_rate < 1%"]);
    let knee = analysis["knee_rps"]
        .as_f64()
        .unwrap_or_else(|| panic!("no knee: {analysis:#}"));
    eprintln!(
        "stop_at knee, capacity {capacity}/s: stopped in the {broke_at}/s step, knee {knee:.1}/s"
    );
    assert!(
        (knee - capacity).abs() <= 0.1 * capacity,
        "knee {knee}/s for a capacity of {capacity}/s: {analysis:#}"
    );
    let break_step = analysis["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["achieved_rps"] == analysis["first_break_rps"])
        .expect("the breaking step");
    assert!((break_step["target_rps"].as_f64().unwrap_or(0.0) - broke_at).abs() < 1.0);
}
