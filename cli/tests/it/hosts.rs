//! Several hosts in one plan (`target NAME "…"`, `GET NAME "/x"`, absolute URLs), per-request
//! `timeout` and `tag`s, end to end: the real binary against counting servers on 127.0.0.1,
//! whose own counts are the witness of where every request went.

use crate::support::{assert_exit, json, ptl, stderr};
use ptl_test_support::counting_server::{self, TestServer};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

fn write_plan(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("plan.ptl");
    std::fs::write(&path, body).unwrap();
    path
}

/// `ptl run` of `plan` against one new counting server: the server, the exit, the result.
fn run_one_host(plan: &str) -> (TestServer, std::process::Output, Value) {
    let server = counting_server::server();
    let dir = tempfile::tempdir().unwrap();
    let path = write_plan(dir.path(), plan);
    let out = dir.path().join("r.json");
    let o = crate::support::run(&path, &server.url(), &out, &[]);
    let r = if out.exists() {
        json(&out)
    } else {
        Value::Null
    };
    (server, o, r)
}

/// The first phase's row of request `name`.
fn request_row(r: &Value, name: &str) -> Value {
    r["phases"][0]["requests"]
        .as_array()
        .and_then(|rows| rows.iter().find(|q| q["name"] == name))
        .unwrap_or_else(|| panic!("no request {name} in {r}"))
        .clone()
}

fn hits(server: &TestServer) -> u64 {
    server.state.hits.load(Ordering::Relaxed)
}

/// The `hosts` row of the result named `name`.
fn host_row<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["hosts"]
        .as_array()
        .and_then(|hosts| hosts.iter().find(|h| h["name"] == name))
        .unwrap_or_else(|| panic!("no host {name} in {}", r["hosts"]))
}

/// Three hosts: the default target, a named one filled by a param, and an absolute URL.
const THREE_HOSTS: &str = r#"plan "hosts" {
  param target = "http://127.0.0.1:9"
  param auth_url = "http://127.0.0.1:9"
  target target
  target auth auth_url
  timeout 2s
  connections 10
  request home { GET "/" }
  request token { POST auth "/login" }
  request other { GET "ABSOLUTE/x" }
  phase steady { rate 60/s for 2s }
}
"#;

/// Three counting servers, and [`THREE_HOSTS`] aimed at them: the default target at the first,
/// `auth` at the second, the absolute URL at the third.
struct ThreeHosts {
    servers: [TestServer; 3],
    dir: tempfile::TempDir,
    plan: PathBuf,
}

impl ThreeHosts {
    fn start() -> ThreeHosts {
        let servers = [
            counting_server::server(),
            counting_server::server(),
            counting_server::server(),
        ];
        let dir = tempfile::tempdir().unwrap();
        let plan = write_plan(
            dir.path(),
            &THREE_HOSTS.replace("ABSOLUTE", &servers[2].url()),
        );
        ThreeHosts { servers, dir, plan }
    }

    /// `ptl run` of the plan with `extra` flags, the result in `r.json`.
    fn run(&self, extra: &[&str]) -> (std::process::Output, PathBuf) {
        let out = self.dir.path().join("r.json");
        let o = ptl()
            .arg("run")
            .arg(&self.plan)
            .args(["--set", &format!("target={}", self.servers[0].url())])
            .args(["--set", &format!("auth_url={}", self.servers[1].url())])
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .expect("ptl run runs");
        (o, out)
    }
}

#[test]
fn each_host_gets_its_own_requests_and_its_own_rows() {
    let hosts = ThreeHosts::start();
    let [a, b, c] = &hosts.servers;
    let report = hosts.dir.path().join("r.html");
    let (o, out) = hosts.run(&["--report", report.to_str().unwrap()]);
    assert_exit(&o, 0);
    let r = json(&out);
    assert_eq!(r["total"]["requests"].as_u64(), Some(120), "{}", r["total"]);
    assert_eq!(r["total"]["errors"].as_u64(), Some(0), "{}", r["total"]);
    // Every server saw exactly what the result says went to it, and each got some.
    let c_name = c.url();
    for (name, server) in [("default", a), ("auth", b), (c_name.as_str(), c)] {
        let row = host_row(&r, name);
        assert_eq!(row["requests"].as_u64(), Some(hits(server)), "{row}");
        assert!(hits(server) > 0, "{name} got nothing");
        assert!(row["response_time_ms"]["p50"].is_number(), "{row}");
    }
    assert_eq!(host_row(&r, "auth")["url"], b.url());
    assert_eq!(hits(a) + hits(b) + hits(c), 120);
    // Request rows name their host; the report and the summary have a row per host.
    let token = request_row(&r, "token");
    assert_eq!(token["host"], "auth", "{token}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains("<h2>Hosts</h2>") && html.contains(&b.url()),
        "no hosts in the report"
    );
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(
        summary.contains("Hosts") && summary.contains(&c.url()),
        "{summary}"
    );
}

#[test]
fn a_host_outside_the_allow_list_refuses_the_run_before_any_host_is_sent_to() {
    let hosts = ThreeHosts::start();
    let [a, b, c] = &hosts.servers;
    // The default target and `auth` are allowed; the absolute URL's host is not.
    let (o, out) = hosts.run(&[
        "--allow-target",
        &a.addr.to_string(),
        "--allow-target",
        &b.addr.to_string(),
        "--quiet",
    ]);
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(err.contains("not in the allow-list"), "{err}");
    assert!(err.contains(&c.addr.to_string()), "{err}");
    assert!(!out.exists(), "a refused run writes no result");
    assert_eq!((hits(a), hits(b), hits(c)), (0, 0, 0));
}

#[test]
fn a_request_timeout_overrides_the_plans_for_that_request_only() {
    // `/slow` answers in 500 ms: within the plan's 5 s, past `impatient`'s 100 ms.
    let (server, o, r) = run_one_host(
        r#"plan "timeouts" {
  param target = "http://127.0.0.1:9"
  target target
  timeout 5s
  connections 20
  request patient { GET "/slow" }
  request impatient {
    GET "/slow"
    timeout 100ms
  }
  phase steady { rate 10/s for 1s }
}
"#,
    );
    assert_exit(&o, 0);
    let (patient, impatient) = (request_row(&r, "patient"), request_row(&r, "impatient"));
    assert!(patient["requests"].as_u64().unwrap() > 0, "{patient}");
    assert!(impatient["requests"].as_u64().unwrap() > 0, "{impatient}");
    assert_eq!(patient["errors"].as_u64(), Some(0), "{patient}");
    assert_eq!(
        impatient["errors_by_class"]["timeout"].as_u64(),
        impatient["requests"].as_u64(),
        "{impatient}"
    );
    assert_eq!(hits(&server), 10, "every request reached the server");
}

#[test]
fn tags_are_rows_of_the_result_and_thresholds_judge_them() {
    let (server, o, r) = run_one_host(
        r#"plan "tags" {
  param target = "http://127.0.0.1:9"
  target target
  timeout 2s
  connections 10
  request pay {
    GET "/fail"
    tag group = "checkout"
    tag team = "payments"
  }
  request cart {
    GET "/"
    tag group = "checkout"
  }
  request home { GET "/" }
  phase steady { rate 30/s for 2s }
  threshold tag(group = "checkout").p99 < 2s
  threshold tag(team = "payments").error_rate < 1%
}
"#,
    );
    // `/fail` answers 500: the payments tag's error rate is 100 %, its threshold fails.
    assert_exit(&o, 1);
    let count = |name: &str| request_row(&r, name)["requests"].as_u64().unwrap();
    let tags = r["tags"].as_array().expect("tags in the result");
    let tag = |key: &str, value: &str| {
        tags.iter()
            .find(|t| t["key"] == key && t["value"] == value)
            .unwrap_or_else(|| panic!("no {key}={value} in {tags:?}"))
            .clone()
    };
    let checkout = tag("group", "checkout");
    assert_eq!(
        checkout["requests"].as_u64(),
        Some(count("pay") + count("cart")),
        "{checkout}"
    );
    let payments = tag("team", "payments");
    assert_eq!(payments["requests"].as_u64(), Some(count("pay")));
    assert_eq!(payments["errors"].as_u64(), Some(count("pay")));
    assert_eq!(
        count("pay") + count("cart") + count("home"),
        hits(&server),
        "the server's own count"
    );
    let pay = request_row(&r, "pay");
    assert_eq!(pay["tags"]["team"], "payments", "{pay}");
    let verdicts: Vec<(String, bool)> = r["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["expr"].as_str().unwrap().to_string(), t["passed"] == true))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("tag(group = \"checkout\").p99 < 2s".to_string(), true),
            (
                "tag(team = \"payments\").error_rate < 1%".to_string(),
                false
            ),
        ]
    );
}
