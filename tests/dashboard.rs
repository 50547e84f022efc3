//! `ptl run --dashboard`: the real binary serves the dashboard while the run goes on (URL on
//! stderr), refuses control without the operator token, stops the run with it, and writes the
//! result as usual. (The dashboard itself is tested in depth in the `ptl-dashboard` crate.)

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
