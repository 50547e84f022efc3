//! End-to-end tests of `ptl run` and `ptl demo-target`: the real binary, a real HTTP target on
//! 127.0.0.1 (the built-in demo target, started as its own process), short bounded loads.
//! They assert what a user relies on: exit statuses, the JSON result, partial results on
//! Ctrl-C and SIGTERM, and clean error counts against a dead target.

use crate::support::{
    assert_exit, assert_sent_without_errors, json, ptl, result_flags, run, stderr, Target,
    RESULT_FILES,
};
use ptl_test_support::counting_server;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn write_plan(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("plan.ptl");
    std::fs::write(&path, body).unwrap();
    path
}

const PLAN: &str = r#"plan "t" {
  param target = "http://127.0.0.1:9"
  param latency_sla = 1s
  target target
  timeout 1s
  connections 20
  request hello { GET "/products/1" }
  phase steady { rate 200/s for 2s }
  threshold p99 < latency_sla
  threshold steady.achieved_rate > 95%
}
"#;

#[test]
fn a_passing_run_exits_0_and_writes_every_output() {
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), PLAN);
    let out = dir.path().join("r.json");
    let report = dir.path().join("r.html");
    let junit = dir.path().join("r.xml");
    let hlog = dir.path().join("r.hlog");
    let o = run(
        &plan,
        &target.url,
        &out,
        &[
            "--report",
            report.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--hdr-log",
            hlog.to_str().unwrap(),
        ],
    );
    assert_exit(&o, 0);
    let r = json(&out);
    let phase = &r["phases"][0];
    assert_eq!(phase["name"], "steady");
    // 200/s for 2 s is exactly 400 arrivals with uniform spacing.
    assert_eq!(phase["request_count"].as_u64(), Some(400), "{phase}");
    assert_eq!(phase["errors"].as_u64(), Some(0));
    assert_eq!(phase["requests"][0]["name"], "hello");
    for t in r["thresholds"].as_array().unwrap() {
        assert_eq!(t["passed"], true, "{t}");
    }
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains("steady") && html.contains("<script"),
        "report lacks the run"
    );
    assert!(
        !html.contains("<script src"),
        "the report must be self-contained"
    );
    assert!(std::fs::read_to_string(&junit)
        .unwrap()
        .contains("<testsuite"));
    assert!(std::fs::read_to_string(&hlog)
        .unwrap()
        .contains("#[StartTime"));
    // The summary table is on stdout, thresholds marked.
    assert!(String::from_utf8_lossy(&o.stdout).contains("PASS"));
}

#[test]
fn a_failed_threshold_exits_1_and_still_writes_results() {
    let target = Target::start_with(&["--latency", "20ms"]);
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), PLAN);
    let out = dir.path().join("r.json");
    let o = run(&plan, &target.url, &out, &["--set", "latency_sla=5ms"]);
    assert_exit(&o, 1);
    let r = json(&out);
    let t = &r["thresholds"][0];
    assert_eq!(t["expr"], "p99 < 5ms");
    assert_eq!(t["passed"], false);
    assert!(t["actual"].as_f64().unwrap() >= 20.0, "{t}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("FAIL"));
}

#[test]
fn an_abort_threshold_stops_the_run_early() {
    let target = Target::start_with(&["--error-rate", "50%"]);
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        r#"plan "abort" {
  param target = "http://127.0.0.1:9"
  target target
  connections 20
  request hello { GET "/" }
  phase long { rate 100/s for 60s }
  threshold error_rate < 10% abort
}
"#,
    );
    let out = dir.path().join("r.json");
    let started = Instant::now();
    let o = run(&plan, &target.url, &out, &[]);
    assert_exit(&o, 1);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the 60 s phase was not cut short"
    );
    let r = json(&out);
    assert_eq!(r["stopped_early"], true);
    assert!(
        r["stop_reason"].as_str().unwrap().contains("error_rate"),
        "{}",
        r["stop_reason"]
    );
    assert_eq!(r["thresholds"][0]["passed"], false);
}

#[test]
fn a_dead_target_gives_connect_errors_not_a_crash() {
    // Bind a port and close it: nothing listens there any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), PLAN);
    let out = dir.path().join("r.json");
    let o = run(&plan, &format!("http://127.0.0.1:{port}"), &out, &[]);
    // The run itself worked; the target did not. Thresholds decide: p99 may pass, but every
    // request is an error, and the result says which kind.
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = json(&out);
    let phase = &r["phases"][0];
    assert_eq!(phase["errors"], phase["request_count"]);
    assert!(
        phase["errors_by_class"]["connect"].as_u64().unwrap() > 0,
        "{phase}"
    );
}

#[test]
fn an_unresolvable_host_gives_connect_errors_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), &PLAN.replace("200/s for 2s", "20/s for 1s"));
    let out = dir.path().join("r.json");
    let o = run(&plan, "http://no-such-host.invalid:8080", &out, &[]);
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = json(&out);
    assert!(
        r["phases"][0]["errors_by_class"]["connect"]
            .as_u64()
            .unwrap()
            > 0
    );
}

/// `ptl run` stopped by `signal` two seconds in: it exits 130 after printing the summary and
/// writing the result, which holds every request the target answered.
fn stops_cleanly_on(signal: &str, reason: &str) {
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), &PLAN.replace("for 2s", "for 60s"));
    let out = dir.path().join("r.json");
    let child = ptl()
        .arg("run")
        .arg(&plan)
        .args([
            "--set",
            &format!("target={}", target.url),
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let killed = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "ptl took {:?} to stop after {signal}",
        started.elapsed()
    );
    assert_eq!(output.status.code(), Some(130), "after {signal}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Phases"),
        "the summary is printed: {stdout}"
    );
    let r = json(&out);
    assert_eq!(r["stopped_early"], true);
    assert_eq!(r["stop_reason"], reason);
    let sent = r["phases"][0]["request_count"].as_u64().unwrap();
    assert!(sent > 100 && sent < 12_000, "{sent}");
    // Requests in flight finished before the result was written: none is missing from it.
    assert_eq!(
        target.requests(),
        sent,
        "the target's count is the result's"
    );
}

#[test]
fn ctrl_c_stops_cleanly_and_writes_the_results_so_far() {
    // SIGINT, as a terminal's Ctrl-C sends.
    stops_cleanly_on("-INT", "interrupted (Ctrl-C)");
}

#[test]
fn sigterm_stops_as_ctrl_c_does() {
    // What CI timeouts, `docker stop` and Kubernetes send; it used to kill the run with no
    // summary and no file.
    stops_cleanly_on("-TERM", "interrupted (SIGTERM)");
}

#[test]
fn a_broken_plan_exits_3_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), "plan \"x\" { phase p { rate 5s for 1s } }\n");
    let out = dir.path().join("r.json");
    let o = run(&plan, "http://127.0.0.1:9", &out, &[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(!out.exists());
}

const JOURNEY: &str = r#"plan "journey" {
  param target = "http://127.0.0.1:9"
  target target
  timeout 2s
  connections 100
  let user = "user_" + int(1, 1000000)
  scenario buy {
    request login {
      POST "/login"
      body """{"user": "{{user}}"}"""
      expect status 200
      capture token = json("$.token")
    }
    think 1ms..5ms
    request cart {
      GET "/cart"
      header "Authorization" = "Bearer {{token}}"
      expect status 200
      capture etag = header("ETag")
    }
    request pay {
      POST "/pay/{{etag}}"
      header "Authorization" = "Bearer {{token}}"
      expect body contains "paid"
    }
  }
  phase steady { rate 200/s for 3s }
}
"#;

#[test]
fn every_step_of_a_journey_uses_the_values_captured_in_its_own_iteration() {
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), JOURNEY);
    let out = dir.path().join("r.json");
    let o = run(&plan, &target.url, &out, &[]);
    assert_exit(&o, 0);
    let r = json(&out);
    let buy = &r["phases"][0]["scenarios"][0];
    assert_eq!(buy["name"], "buy");
    // The iteration rate is the planned one: 200/s for 3 s with uniform spacing is 600 starts.
    assert_eq!(buy["iterations"].as_u64(), Some(600), "{buy}");
    assert_eq!(buy["completed"].as_u64(), Some(600), "{buy}");
    assert_eq!(buy["failed"].as_u64(), Some(0));
    // The target is the witness: every cart and pay carried a token it had issued (and the
    // etag issued for that token), none was invalid.
    let stats = target.stats();
    assert_eq!(stats["invalid_tokens"].as_u64(), Some(0), "{stats}");
    assert_eq!(stats["valid_tokens"].as_u64(), Some(1200), "{stats}");
    assert_eq!(stats["orders"].as_u64(), Some(600), "{stats}");
    assert_eq!(stats["etag_mismatches"].as_u64(), Some(0), "{stats}");
}

#[test]
fn a_capture_that_finds_nothing_ends_the_iteration_and_skips_the_rest() {
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    // The login answer has no `$.nothing`: no token, so nothing may be sent with an empty value.
    let plan = write_plan(dir.path(), &JOURNEY.replace("$.token", "$.nothing"));
    let out = dir.path().join("r.json");
    let o = run(&plan, &target.url, &out, &[]);
    assert_exit(&o, 0);
    let r = json(&out);
    let buy = &r["phases"][0]["scenarios"][0];
    assert_eq!(buy["iterations"].as_u64(), Some(600), "{buy}");
    assert_eq!(buy["completed"].as_u64(), Some(0));
    assert_eq!(buy["failed"].as_u64(), Some(600));
    let steps = buy["steps"].as_array().unwrap();
    let login = steps
        .iter()
        .find(|s| s["name"] == "buy.login")
        .expect("login step");
    assert_eq!(
        login["errors_by_class"]["capture"].as_u64(),
        Some(600),
        "{login}"
    );
    for later in ["buy.cart", "buy.pay"] {
        let step = steps.iter().find(|s| s["name"] == later).expect("step");
        assert_eq!(step["skipped"].as_u64(), Some(600), "{step}");
        assert_eq!(step["requests"].as_u64(), Some(0), "{step}");
    }
    let stats = target.stats();
    assert_eq!(stats["by_path"]["/cart"].as_u64(), Some(0), "{stats}");
    assert_eq!(stats["by_path"]["/pay"].as_u64(), Some(0), "{stats}");
}

#[test]
fn env_secrets_reach_the_target_and_no_output_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = write_plan(dir.path(), &crate::support::env_secret_plan(1));
    let server = ptl_test_support::counting_server::server();
    let secret = format!("s3cr3t-{}", std::process::id());
    let files = RESULT_FILES.iter().map(|(_, f)| *f).chain(["plan.ptlc"]);
    let path = |f: &str| dir.path().join(f);

    let o = ptl()
        .arg("run")
        .arg(&plan)
        .args(["--set", &format!("target={}", server.url()), "--quiet"])
        .args(result_flags(dir.path()))
        .env("PTL_TEST_ENV_SECRET", &secret)
        .output()
        .expect("ptl run runs");
    assert_exit(&o, 0);
    let auth = server.state.authorization.lock().expect("lock").clone();
    assert_eq!(auth, Some(format!("Bearer {secret}")));
    // Compiled with the secret in the environment: the bytecode holds the name, not the value.
    let c = ptl()
        .arg("compile")
        .arg(&plan)
        .arg("-o")
        .arg(path("plan.ptlc"))
        .env("PTL_TEST_ENV_SECRET", &secret)
        .output()
        .expect("ptl compile runs");
    assert_exit(&c, 0);
    for f in files {
        let bytes = std::fs::read(path(f)).expect("written");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&secret), "{f} holds the secret");
    }
    assert!(!String::from_utf8_lossy(&o.stdout).contains(&secret));
    assert!(!String::from_utf8_lossy(&o.stderr).contains(&secret));
}

#[test]
fn an_unset_env_variable_is_a_usage_error_before_anything_is_sent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = write_plan(dir.path(), &crate::support::env_secret_plan(1));
    let server = ptl_test_support::counting_server::server();
    let o = ptl()
        .arg("run")
        .arg(&plan)
        .args(["--set", &format!("target={}", server.url()), "--quiet"])
        .env_remove("PTL_TEST_ENV_SECRET")
        .output()
        .expect("ptl run runs");
    assert_exit(&o, 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("PTL_TEST_ENV_SECRET") && err.contains("not set"),
        "{err}"
    );
    assert_eq!(
        server.state.hits.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

/// A small plan for the allow-list runs: 20 arrivals in a second.
const SMALL: &str = r#"plan "t" {
  param target = "http://127.0.0.1:9"
  target target
  timeout 1s
  request hello { GET "/" }
  phase steady { rate 20/s for 1s }
}
"#;

/// `ptl run` of [`SMALL`] at `target` under `policy` flags, and what the server then saw.
fn run_under(target: &str, policy: &[&str]) -> (std::process::Output, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), SMALL);
    let out = dir.path().join("r.json");
    let o = run(&plan, target, &out, policy);
    (o, out, dir)
}

#[test]
fn a_target_port_outside_the_allow_list_is_refused_and_sent_nothing() {
    let server = counting_server::server();
    let other = format!("127.0.0.1:{}", server.addr.port().wrapping_add(1).max(1));
    let (o, out, _dir) = run_under(&server.url(), &["--allow-target", &other]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(err.contains("not in the allow-list"), "{err}");
    assert!(err.contains(&format!("--allow-target {other}")), "{err}");
    assert!(err.contains(&server.addr.to_string()), "{err}");
    assert!(!out.exists(), "a refused run writes no result");
    assert_eq!(server.state.hits.load(Ordering::Relaxed), 0);
}

#[test]
fn a_name_resolving_into_a_forbidden_cidr_is_refused() {
    let server = counting_server::server();
    let url = format!("http://localhost:{}", server.addr.port());
    let (o, _out, _dir) = run_under(&url, &["--allow-target", "10.0.0.0/8"]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("resolves to") && err.contains("127.0.0.1"),
        "{err}"
    );
    assert!(err.contains("--allow-target 10.0.0.0/8"), "{err}");
    assert_eq!(server.state.hits.load(Ordering::Relaxed), 0);

    // The same name, resolving inside the list, runs (an IPv6 answer, outside, is left out).
    let (o, out, _dir) = run_under(&url, &["--allow-target", "127.0.0.0/8"]);
    assert_exit(&o, 0);
    assert_sent_without_errors(&json(&out)["phases"][0], 20..=20);
    assert_eq!(server.state.hits.load(Ordering::Relaxed), 20);
}

#[test]
fn max_rate_refuses_a_plan_above_it_and_runs_one_within() {
    let server = counting_server::server();
    let (o, out, _dir) = run_under(&server.url(), &["--max-rate", "10/s"]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(err.contains("above --max-rate 10/s"), "{err}");
    assert!(!out.exists());
    assert_eq!(server.state.hits.load(Ordering::Relaxed), 0);

    let (o, out, _dir) = run_under(&server.url(), &["--max-rate", "20/s"]);
    assert_exit(&o, 0);
    assert_sent_without_errors(&json(&out)["phases"][0], 20..=20);
}

#[test]
fn a_bad_allow_target_is_a_usage_error() {
    let (o, _out, _dir) = run_under("http://127.0.0.1:9", &["--allow-target", "10.0.0.1/8"]);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("bits set past the /8 prefix"),
        "{}",
        stderr(&o)
    );
}

/// Which side could not keep up is said, not left to the reader: a slow target fills the
/// in-flight limit while the generator stays on schedule; a rate beyond one worker starts
/// arrivals late whatever the target does.
#[test]
fn the_summary_says_whether_the_target_or_the_generator_could_not_keep_up() {
    let dir = tempfile::tempdir().unwrap();
    let slow = Target::start_with(&["--latency", "200ms"]);
    let one_phase = |connections: u32, inflight: u32, rate: u32, seconds: u32| {
        format!(
            r#"plan "bottleneck" {{
  param target = "http://127.0.0.1:9"
  target target
  timeout 5s
  connections {connections}
  max_inflight {inflight}
  request hello {{ GET "/" }}
  phase steady {{ rate {rate}/s for {seconds}s }}
}}
"#
        )
    };
    let plan = write_plan(dir.path(), &one_phase(4, 4, 100, 2));
    let out = dir.path().join("slow.json");
    let o = run(&plan, &slow.url, &out, &[]);
    let summary = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        summary.contains("the target could not keep up"),
        "{summary}"
    );
    let generator = &json(&out)["generator"];
    assert_eq!(generator["saturated_s"].as_u64(), Some(0), "{generator}");

    // Too few connections for the target's latency (10 at 200 ms carry 50/s of the 60/s):
    // requests wait for one. That is the target's pace (or the plan's `connections`), not
    // the generator's lateness: counted apart, and not in the schedule lag.
    let plan = write_plan(dir.path(), &one_phase(10, 500, 60, 2));
    let out = dir.path().join("pool.json");
    let o = run(&plan, &slow.url, &out, &[]);
    let summary = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        summary.contains("waited for a free connection"),
        "{summary}"
    );
    let result = json(&out);
    let generator = &result["generator"];
    assert!(generator["pool_waits"].as_u64() >= Some(20), "{generator}");
    let waited = generator["pool_wait_ms_mean"]
        .as_f64()
        .expect("a mean wait");
    let lag = result["total"]["schedule_lag_ms"]["p50"]
        .as_f64()
        .expect("a lag");
    assert!(
        waited >= 50.0 && lag < waited / 4.0,
        "the lag leaves the connection waits out: lag p50 {lag} ms, waits {waited} ms\n{summary}"
    );

    let fast = Target::start();
    let plan = write_plan(dir.path(), &one_phase(1000, 1000, 100_000, 1));
    let out = dir.path().join("flood.json");
    let o = run(&plan, &fast.url, &out, &["--workers", "1"]);
    let summary = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        summary.contains("the generator could not keep up"),
        "{summary}"
    );
    let generator = &json(&out)["generator"];
    assert!(generator["saturated_s"].as_u64() >= Some(1), "{generator}");
    assert!(
        generator["lag_p90_max_ms"].as_f64() >= Some(18.0),
        "{generator}"
    );
}
