//! End-to-end tests of a plan with `http 2`: `ptl run` against a small HTTP/2 server on
//! 127.0.0.1 (the `h2` crate's server, h2c by prior knowledge, answering every request with
//! 200), and the setting through `ptl fmt`, `ptl check --explain`, `ptl compile` and
//! `ptl inspect`.

use crate::support::{assert_exit, assert_sent_without_errors, json, ptl, run};
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpStream;

/// In canonical form, so that `ptl fmt --check` passes on it.
const PLAN: &str = r#"plan "h2" {
  param target = "http://127.0.0.1:9"

  target target
  timeout 2s
  connections 2
  http 2

  request hello {
    GET "/"
  }

  phase steady { rate 100/s for 1s }
}
"#;

#[derive(Default)]
struct Seen {
    connections: AtomicU64,
    /// Requests that came as HTTP/2 streams.
    requests: AtomicU64,
}

/// An h2c server on its own thread (see [`crate::support::listen`]); it lives until the test process
/// ends.
fn h2c_server() -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    let addr = crate::support::listen::listen(move |stream| {
        s.connections.fetch_add(1, Ordering::SeqCst);
        serve(stream, s.clone())
    });
    (format!("http://{addr}"), seen)
}

/// Answers every stream of one connection with 200 `ok`.
async fn serve(stream: TcpStream, seen: Arc<Seen>) {
    let Ok(mut conn) = h2::server::handshake(stream).await else {
        return;
    };
    while let Some(Ok((request, mut respond))) = conn.accept().await {
        if request.version() == http::Version::HTTP_2 {
            seen.requests.fetch_add(1, Ordering::SeqCst);
        }
        let answer = http::Response::new(());
        if let Ok(mut body) = respond.send_response(answer, false) {
            let _ = body.send_data(Bytes::from_static(b"ok"), true);
        }
    }
}

#[test]
fn a_plan_with_http_2_runs_over_h2c_on_its_connections() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (url, seen) = h2c_server();
    let plan = dir.path().join("plan.ptl");
    std::fs::write(&plan, PLAN).expect("write plan");
    let out = dir.path().join("r.json");
    let o = run(&plan, &url, &out, &[]);
    assert_exit(&o, 0);
    let r = json(&out);
    let planned = assert_sent_without_errors(&r["phases"][0], 99..=101);
    assert_eq!(seen.requests.load(Ordering::SeqCst), planned);
    let connections = seen.connections.load(Ordering::SeqCst);
    assert!((1..=2).contains(&connections), "{connections} connections");
}

#[test]
fn fmt_explain_and_inspect_show_the_http_version() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = dir.path().join("plan.ptl");
    std::fs::write(&plan, PLAN).expect("write plan");
    let fmt = ptl()
        .args(["fmt", "--check"])
        .arg(&plan)
        .output()
        .expect("fmt runs");
    assert_eq!(
        fmt.status.code(),
        Some(0),
        "the plan is canonical: {}",
        String::from_utf8_lossy(&fmt.stdout)
    );
    let explain = ptl()
        .args(["check", "--explain"])
        .arg(&plan)
        .output()
        .expect("check runs");
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(
        text.contains("http 2: 2 HTTP/2 connections per agent"),
        "{text}"
    );
    let compiled = dir.path().join("plan.ptlc");
    let c = crate::support::compile(&plan, &compiled);
    assert_exit(&c, 0);
    let inspect = ptl()
        .arg("inspect")
        .arg(&compiled)
        .output()
        .expect("inspect runs");
    let text = String::from_utf8_lossy(&inspect.stdout);
    let version = format!("ptl plan format v{}", ptl_bytecode::FORMAT_VERSION);
    assert!(text.contains(&version), "{text}");
    // `ptl compile` keeps the plan's source for a later `--set`.
    assert!(
        text.contains("sources: ") && text.contains("plan.ptl ("),
        "{text}"
    );
    assert!(text.contains("http          2"), "{text}");
}
