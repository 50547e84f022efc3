//! Traffic realism end to end: `ptl run --request-log` against the demo target (its lines
//! counted against the target's own count), `ptl compare` on logs drawn from known processes
//! (exit 0 alike, 1 differs, 2 unreadable), and the round trip log → `ptl plan-from-log` →
//! `ptl check` → `ptl run --request-log` → `ptl compare`.

use crate::support::{assert_exit, json, ptl, run, stderr, Target};
use ptl_test_support::draw::Draw;
use serde_json::Value;
use std::path::Path;

/// The request log's lines: header, requests, trailer.
fn log_lines(path: &Path) -> (Value, Vec<Value>, Value) {
    let text = std::fs::read_to_string(path).expect("the request log is written");
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let trailer = lines.pop().expect("a trailer");
    let header = lines.remove(0);
    (header, lines, trailer)
}

const TWO_REQUESTS: &str = r#"plan "logged" {
  param target = "http://127.0.0.1:9"
  target target
  timeout 2s
  let id = int(1, 50)
  request product weight 3 { GET "/products/{{id}}" }
  request login { POST "/login" }
  phase p { rate 60/s for 2s }
}
"#;

/// Runs [`TWO_REQUESTS`] against a demo target with `--request-log` and `extra`: its output,
/// its result (its count checked against the target's) and its log's lines.
fn logged_run(extra: &[&str]) -> (std::process::Output, Value, (Value, Vec<Value>, Value)) {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("logged.ptl");
    std::fs::write(&plan, TWO_REQUESTS).unwrap();
    let target = Target::start();
    let (out, log) = (dir.path().join("r.json"), dir.path().join("reqs.jsonl"));
    let mut args = vec!["--request-log", log.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(&plan, &target.url, &out, &args);
    assert_exit(&o, 0);
    let result = json(&out);
    assert_eq!(
        result["total"]["requests"].as_u64(),
        Some(target.requests())
    );
    (o, result, log_lines(&log))
}

#[test]
fn every_request_has_its_line_and_the_count_is_the_targets() {
    let (o, result, (header, lines, trailer)) = logged_run(&[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("request log: ") && stdout.contains(", 0 dropped"),
        "{stdout}"
    );
    let sent = result["total"]["requests"].as_u64().unwrap();
    assert_eq!(header["ptl_request_log"], 1);
    assert!(header["started_at_unix_us"].as_u64().unwrap() > 1_600_000_000_000_000);
    assert_eq!(lines.len() as u64, sent);
    assert_eq!(trailer["ptl_request_log_end"]["lines"].as_u64(), Some(sent));
    assert_eq!(trailer["ptl_request_log_end"]["dropped"].as_u64(), Some(0));
    let mut by_name = std::collections::BTreeMap::new();
    for l in &lines {
        *by_name
            .entry(l["name"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
        assert_eq!(l["status"], 200, "{l}");
        let (intended, sent_at) = (
            l["intended_us"].as_u64().unwrap(),
            l["sent_us"].as_u64().unwrap(),
        );
        assert!(sent_at >= intended, "{l}");
        assert!(l["latency_us"].as_u64().unwrap() >= l["service_us"].as_u64().unwrap());
        assert!(l["request_bytes"].as_u64().unwrap() > 20);
        assert!(l["response_bytes"].as_u64().unwrap() > 0);
        match l["name"].as_str().unwrap() {
            "product" => {
                assert_eq!(l["method"], "GET");
                let id: u32 = l["path"].as_str().unwrap()["/products/".len()..]
                    .parse()
                    .unwrap();
                assert!((1..=50).contains(&id), "{l}");
            }
            _ => assert_eq!(
                (l["method"].as_str(), l["path"].as_str()),
                (Some("POST"), Some("/login"))
            ),
        }
    }
    let per_request: Vec<u64> = result["phases"][0]["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(
        by_name.values().copied().sum::<u64>(),
        per_request.iter().sum::<u64>()
    );
}

#[test]
fn a_sampled_log_keeps_its_share_and_counts_the_rest() {
    let (_, result, (header, lines, trailer)) = logged_run(&["--request-log-sample", "1/4"]);
    let sent = result["total"]["requests"].as_u64().unwrap();
    assert_eq!(header["sample"], 0.25);
    let end = &trailer["ptl_request_log_end"];
    assert_eq!(
        lines.len() as u64 + end["sampled_out"].as_u64().unwrap(),
        sent
    );
    // 120 draws at 1/4: 30 expected, sd 4.7; 0 or all of them would be a broken sample.
    assert!((5..=70).contains(&lines.len()), "{}", lines.len());
}

#[test]
fn a_bad_sample_is_a_usage_error() {
    let o = ptl()
        .args([
            "run",
            "std:smoke",
            "--request-log",
            "x.jsonl",
            "--request-log-sample",
            "3",
        ])
        .output()
        .unwrap();
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("1/N"), "{}", stderr(&o));
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A combined access log: Poisson arrivals at `rate`/s for `secs` from 2024-03-01 10:00:00
/// UTC, `search` of them to /search, the rest to /products/N.
fn combined_log(rate: f64, secs: f64, search: f64, seed: u64) -> String {
    let mut d = Draw(seed);
    let (mut t, mut out) = (0.0f64, String::new());
    loop {
        t += d.exponential(1.0 / rate);
        if t >= secs {
            return out;
        }
        let s = t as u64;
        let path = if d.unit() < search {
            "/search?q=shoes".to_string()
        } else {
            format!("/products/{}", 1 + (d.unit() * 500.0) as u64)
        };
        let bytes = 200 + (d.unit() * 300.0) as u64;
        out.push_str(&format!(
            "10.0.0.{} - - [01/{}/2024:10:{:02}:{:02} +0000] \"GET {path} HTTP/1.1\" 200 {bytes} \"-\" \"curl/8\"\n",
            1 + (d.unit() * 20.0) as u64,
            MONTHS[2],
            s / 60,
            s % 60
        ));
    }
}

fn compare(dir: &Path, baseline: &str, test: &str, extra: &[&str]) -> std::process::Output {
    let (b, t) = (dir.join("baseline.log"), dir.join("test.log"));
    std::fs::write(&b, baseline).unwrap();
    std::fs::write(&t, test).unwrap();
    ptl()
        .arg("compare")
        .arg("--baseline")
        .arg(&b)
        .arg("--test")
        .arg(&t)
        .args(extra)
        .output()
        .expect("ptl compare runs")
}

#[test]
fn compare_passes_the_same_process_and_fails_a_changed_mix() {
    let dir = tempfile::tempdir().unwrap();
    let same = compare(
        dir.path(),
        &combined_log(30.0, 600.0, 0.12, 1),
        &combined_log(30.0, 600.0, 0.12, 2),
        &[],
    );
    let text = String::from_utf8_lossy(&same.stdout);
    assert_eq!(same.status.code(), Some(0), "{text}{}", stderr(&same));
    assert!(
        text.contains("endpoints") && text.contains("alike"),
        "{text}"
    );

    let changed = compare(
        dir.path(),
        &combined_log(30.0, 600.0, 0.12, 3),
        &combined_log(30.0, 600.0, 0.30, 4),
        &["--format", "json"],
    );
    assert_exit(&changed, 1);
    let c: Value = serde_json::from_slice(&changed.stdout).expect("JSON");
    let endpoints = c["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "endpoints")
        .unwrap();
    assert_eq!(endpoints["verdict"], "differs");
    assert_eq!(endpoints["test"], "chi_square");
    assert!(endpoints["p_value"].as_f64().unwrap() < 0.01);
    // Two endpoints: each moved by the same share, so either may come first.
    let search = endpoints["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["what"] == "GET /search")
        .expect("/search among the largest differences");
    assert!((0.10..0.14).contains(&search["baseline"].as_f64().unwrap()));
    assert!((0.28..0.32).contains(&search["test"].as_f64().unwrap()));
    assert_eq!(c["baseline"]["format"], "combined");
}

#[test]
fn compare_of_a_file_that_is_no_log_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = compare(
        dir.path(),
        "not a log\n",
        &combined_log(5.0, 10.0, 0.5, 1),
        &[],
    );
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("baseline.log"), "{}", stderr(&o));
}

/// A JSON-lines log of µs timestamps: Poisson at `rate`/s for `secs`.
fn jsonl_log(rate: f64, secs: f64, seed: u64) -> String {
    let mut d = Draw(seed);
    let (mut t, mut out) = (0.0f64, String::new());
    let start = 1_709_287_200.0; // 2024-03-01T10:00:00Z
    loop {
        t += d.exponential(1.0 / rate);
        if t >= secs {
            return out;
        }
        let u = d.unit();
        let (method, path) = if u < 0.5 {
            (
                "GET",
                format!("/products/{}", 1 + (d.unit() * 900.0) as u64),
            )
        } else if u < 0.8 {
            ("GET", "/search?q=x".to_string())
        } else {
            ("POST", "/login".to_string())
        };
        out.push_str(&format!(
            "{{\"time\": {:.6}, \"method\": \"{method}\", \"path\": \"{path}\", \"status\": 200, \"bytes\": 120}}\n",
            start + t
        ));
    }
}

#[test]
fn a_plan_from_a_log_checks_clean_and_its_run_matches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("prod.jsonl");
    std::fs::write(&source, jsonl_log(80.0, 5.0, 42)).unwrap();
    let plan = dir.path().join("prod.ptl");
    let o = ptl()
        .arg("plan-from-log")
        .arg(&source)
        .arg("-o")
        .arg(&plan)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let text = std::fs::read_to_string(&plan).unwrap();
    assert!(
        text.contains("= int(") && text.contains("arrivals poisson"),
        "{text}"
    );

    let checked = ptl().arg("check").arg(&plan).output().unwrap();
    assert_exit(&checked, 0);
    assert!(
        !stderr(&checked).contains("warning"),
        "{}",
        stderr(&checked)
    );

    let target = Target::start();
    let (out, log) = (dir.path().join("r.json"), dir.path().join("reqs.jsonl"));
    let o = run(
        &plan,
        &target.url,
        &out,
        &["--request-log", log.to_str().unwrap()],
    );
    assert_exit(&o, 0);
    assert_eq!(
        json(&out)["total"]["requests"].as_u64(),
        Some(target.requests())
    );

    let o = ptl()
        .arg("compare")
        .arg("--baseline")
        .arg(&source)
        .arg("--test")
        .arg(&log)
        .args(["--format", "json", "--alpha", "0.001"])
        .output()
        .unwrap();
    let c: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let verdict = |name: &str| {
        c["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .map(|d| d["verdict"].as_str().unwrap().to_string())
            .unwrap()
    };
    // The mix, the rate's shape and the Poisson gaps come from the log; sizes come from the
    // target, not the plan, so those may differ.
    for name in [
        "endpoints",
        "rate_over_time",
        "rate_per_second",
        "inter_arrival",
        "status",
    ] {
        assert_eq!(verdict(name), "alike", "{name}: {c:#}");
    }
}

#[test]
fn a_rate_scale_multiplies_every_phase() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("prod.log");
    std::fs::write(&source, combined_log(10.0, 120.0, 0.2, 5)).unwrap();
    let plan = |scale: &str| {
        let o = ptl()
            .arg("plan-from-log")
            .arg(&source)
            .args(["--rate-scale", scale])
            .output()
            .unwrap();
        assert_exit(&o, 0);
        String::from_utf8(o.stdout).unwrap()
    };
    let rates = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.trim_start().starts_with("phase "))
            .filter_map(|l| l.split("rate ").nth(1))
            .map(|r| r.split(' ').next().unwrap().to_string())
            .collect()
    };
    let (one, two) = (rates(&plan("1x")), rates(&plan("2x")));
    assert!(!one.is_empty());
    assert_eq!(one.len(), two.len());
    let per_hour = |r: &str| {
        let (n, unit) = r.split_once('/').unwrap();
        let n: u64 = n.parse().unwrap();
        n * match unit {
            "s" => 3600,
            "m" => 60,
            _ => 1,
        }
    };
    for (a, b) in one.iter().zip(&two) {
        assert_eq!(per_hour(a) * 2, per_hour(b), "{a} vs {b}");
    }
}
