//! `ptl run --dashboard`: the real binary serves the dashboard while the run goes on (URL on
//! stderr), refuses control without the operator token, stops the run with it, and writes the
//! result as usual; pauses and resumes a run from it. (The dashboard itself is tested in depth
//! in the `ptl-dashboard` crate.)

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn ptl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ptl"));
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    c
}

/// One request, `Connection: close`; returns the status and body.
fn http(addr: &str, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connects to the dashboard");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("an answer");
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[test]
fn run_with_a_dashboard_serves_it_and_stops_from_it() {
    let mut target = ptl()
        .args(["demo-target", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("demo-target starts");
    let mut url = String::new();
    BufReader::new(target.stdout.take().unwrap())
        .read_line(&mut url)
        .expect("demo-target prints its URL");
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.ptl");
    std::fs::write(
        &plan,
        r#"plan "d" {
  param target = "http://127.0.0.1:9"
  target target
  timeout 1s
  connections 20
  request hello { GET "/products/1" }
  phase steady { rate 20/s for 60s }
}"#,
    )
    .unwrap();
    let out = dir.path().join("r.json");
    let mut run = ptl()
        .arg("run")
        .arg(&plan)
        .args(["--set", &format!("target={}", url.trim()), "--quiet"])
        .args(["--dashboard", "127.0.0.1:0", "--viewer-token", "v1"])
        .arg("--out")
        .arg(&out)
        .env("PTL_TOKEN", "op1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ptl run starts");
    let mut stderr = BufReader::new(run.stderr.take().unwrap());
    let mut addr = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(rest) = line.strip_prefix("dashboard: http://") {
            addr = rest.split('/').next().unwrap_or_default().to_string();
            break;
        }
        line.clear();
    }
    assert!(!addr.is_empty(), "the dashboard URL is printed");

    assert_eq!(http(&addr, "GET", "/api/runs", None).0, 401);
    let (status, body) = http(&addr, "GET", "/api/runs", Some("v1"));
    assert_eq!(status, 200);
    let runs: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let id = runs[0]["id"]
        .as_str()
        .expect("the run is listed")
        .to_string();
    assert_eq!(runs[0]["status"], "running");
    let stop = format!("/api/runs/{id}/stop");
    assert_eq!(http(&addr, "POST", &stop, Some("v1")).0, 401);
    assert_eq!(http(&addr, "POST", &stop, Some("op1")).0, 202);

    let status = run.wait().expect("ptl run ends");
    let _ = target.kill();
    let _ = target.wait();
    assert_eq!(status.code(), Some(0));
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("the result is written")).unwrap();
    assert_eq!(result["stopped_early"], true);
    assert_eq!(result["stop_reason"], "stopped from the dashboard");
    assert!(result["duration_s"].as_f64().unwrap() < 60.0);
    // The dashboard ends with the run.
    assert!(
        TcpStream::connect(&addr).is_err(),
        "still serving after the run"
    );
}

/// The snapshot a browser gets first from `/events`: the runs list among it.
fn snapshot(addr: &str, token: &str) -> serde_json::Value {
    let mut s = TcpStream::connect(addr).expect("connects to the dashboard");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(s);
    let mut event = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap_or(0) > 0,
            "the stream ended before its snapshot"
        );
        let line = line.trim_end();
        if let Some(name) = line.strip_prefix("event: ") {
            event = name.to_string();
        } else if let Some(data) = line.strip_prefix("data: ") {
            if event == "snapshot" {
                return serde_json::from_str(data).expect("snapshot JSON");
            }
        }
    }
}

#[test]
fn run_with_a_dashboard_pauses_and_resumes_from_it() {
    let target = support::Target::start();
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.ptl");
    std::fs::write(
        &plan,
        r#"plan "d" {
  param target = "http://127.0.0.1:9"
  target target
  timeout 1s
  connections 20
  request hello { GET "/products/1" }
  phase steady { rate 50/s for 60s }
}"#,
    )
    .unwrap();
    let out = dir.path().join("r.json");
    let mut run = ptl()
        .arg("run")
        .arg(&plan)
        .args(["--set", &format!("target={}", target.url), "--quiet"])
        .args(["--dashboard", "127.0.0.1:0", "--viewer-token", "v1"])
        .arg("--out")
        .arg(&out)
        .env("PTL_TOKEN", "op1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ptl run starts");
    let mut stderr = BufReader::new(run.stderr.take().unwrap());
    let mut addr = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(rest) = line.strip_prefix("dashboard: http://") {
            addr = rest.split('/').next().unwrap_or_default().to_string();
            break;
        }
        line.clear();
    }
    assert!(!addr.is_empty(), "the dashboard URL is printed");
    let (_, body) = http(&addr, "GET", "/api/runs", Some("v1"));
    let runs: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let id = runs[0]["id"].as_str().expect("listed").to_string();
    assert_eq!(runs[0]["controls"]["pause"], true, "{runs}");
    assert_eq!(runs[0]["controls"]["resume"], false, "{runs}");
    // Some load first.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while target.requests() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "no load reached the target"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let pause = format!("/api/runs/{id}/pause");
    let resume = format!("/api/runs/{id}/resume");
    assert_eq!(http(&addr, "POST", &pause, None).0, 401);
    assert_eq!(http(&addr, "POST", &pause, Some("v1")).0, 401);
    assert_eq!(snapshot(&addr, "v1")["runs"][0]["status"], "running");
    let (status, body) = http(&addr, "POST", &pause, Some("op1"));
    assert_eq!(status, 202, "{body}");
    assert!(body.contains("paused"), "{body}");
    let snap = snapshot(&addr, "v1");
    assert_eq!(snap["runs"][0]["status"], "paused", "{snap}");
    assert_eq!(snap["runs"][0]["controls"]["resume"], true, "{snap}");
    // Paused twice is refused, and says why.
    let (status, body) = http(&addr, "POST", &pause, Some("op1"));
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("already paused"), "{body}");
    // Nothing new reaches the target while paused (what was in flight has long finished).
    std::thread::sleep(Duration::from_millis(500));
    let held = target.requests();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(target.requests(), held, "requests sent while paused");

    let (status, body) = http(&addr, "POST", &resume, Some("op1"));
    assert_eq!(status, 202, "{body}");
    assert_eq!(snapshot(&addr, "v1")["runs"][0]["status"], "running");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while target.requests() <= held {
        assert!(
            std::time::Instant::now() < deadline,
            "no load after resuming"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(http(&addr, "POST", &resume, Some("op1")).0, 409);
    assert_eq!(
        http(&addr, "POST", &format!("/api/runs/{id}/stop"), Some("op1")).0,
        202
    );

    let status = run.wait().expect("ptl run ends");
    assert_eq!(status.code(), Some(0));
    let result = support::json(&out);
    let pauses = result["pauses"].as_array().expect("pauses listed");
    assert_eq!(pauses.len(), 1, "{result}");
    let (start, end) = (
        pauses[0]["start_ms"].as_u64().expect("start"),
        pauses[0]["end_ms"].as_u64().expect("resumed"),
    );
    assert!(end >= start + 1500, "{pauses:?}");
    // Whole milliseconds of µs instants: the two may round apart by one.
    let paused_ms = result["phases"][0]["paused_ms"]
        .as_u64()
        .expect("paused_ms");
    assert!(
        paused_ms.abs_diff(end - start) <= 1,
        "{paused_ms} vs {pauses:?}"
    );
}
