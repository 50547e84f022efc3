//! What the dashboard tests share: a real target (the built-in demo target on 127.0.0.1), a
//! short plan compiled by the real compiler, the dashboard of a local run as `ptl run
//! --dashboard` starts it, and a minimal HTTP/1.1 client for its endpoints (over TLS too).
#![allow(dead_code)]

mod conn;
pub use conn::{test_tls, Client, Conn};

use ptl_dashboard::access::Access;
use ptl_dashboard::local::LocalDashboard;
use ptl_dashboard::ServerConfig;
use ptl_demo_target::{serve, DemoTarget, DemoTargetConfig};
use ptl_engine::coordination::stop_channel;
use ptl_engine::{RunOptions, RunOutcome};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

pub const OPERATOR: &str = "op-token-1";
pub const VIEWER: &str = "view-token-1";

/// Two phases, two requests; `seconds` of steady load after a 2 s warm-up.
pub fn plan_source(seconds: u32) -> String {
    format!(
        r#"plan "dash" {{
  param target = "http://127.0.0.1:9"
  target target
  timeout 1s
  connections 60
  max_inflight 60
  request hello {{ GET "/products/1" }}
  request buy {{ POST "/checkout" body "{{}}" }}
  phase warm {{ rate 20/s for 2s }}
  phase steady {{ rate 40/s for {seconds}s }}
  threshold p99 < 1s
  threshold error_rate < 50%
}}"#
    )
}

pub fn compile(source: &str, target: &str) -> ptl_bytecode::Plan {
    let options = ptl_compiler::CheckOptions {
        params: vec![("target".to_string(), target.to_string())],
        resolver: None,
        ..Default::default()
    };
    let checked = ptl_compiler::check_source(Path::new("dash.ptl"), source, &options);
    assert!(!checked.has_errors(), "{}", checked.render_text());
    checked
        .plan
        .expect("a checked plan without errors has a plan")
}

pub async fn target(error_rate: f64) -> DemoTarget {
    let config = DemoTargetConfig {
        error_rate,
        ..DemoTargetConfig::default()
    };
    serve(config, std::future::pending())
        .await
        .expect("demo target starts")
}

pub fn tokens() -> Access {
    Access {
        operator_token: Some(OPERATOR.to_string()),
        viewer_token: Some(VIEWER.to_string()),
        open_view: false,
    }
}

/// A local run with its dashboard, as `ptl run --dashboard 127.0.0.1:0` starts it.
pub struct LocalRun {
    pub dashboard: Arc<LocalDashboard>,
    pub addr: SocketAddr,
    pub id: String,
    pub run: JoinHandle<RunOutcome>,
    pub target: DemoTarget,
}

pub async fn start_run(seconds: u32, error_rate: f64) -> LocalRun {
    let target = target(error_rate).await;
    let plan = compile(&plan_source(seconds), &target.url());
    let (stop, signal) = stop_channel();
    let config = ServerConfig {
        access: tokens(),
        ..ServerConfig::default()
    };
    let dashboard = LocalDashboard::start(
        config,
        Arc::new(plan.clone()),
        "test-plan-hash".to_string(),
        stop,
    )
    .await
    .expect("dashboard starts");
    let opts = RunOptions {
        workers: Some(1),
        stop: Some(signal),
        coordination: Some(dashboard.coordination()),
        progress: Some(dashboard.progress(None)),
        ..RunOptions::default()
    };
    let addr = dashboard.addr();
    let id = dashboard.run_id().to_string();
    let dashboard = Arc::new(dashboard);
    let run = tokio::spawn(async move {
        ptl_engine::run(&plan, opts)
            .await
            .expect("the run completes")
    });
    LocalRun {
        dashboard,
        addr,
        id,
        run,
        target,
    }
}

impl LocalRun {
    /// Waits for the run and hands its final result to the dashboard (which keeps serving).
    pub async fn finish(self) -> (Arc<LocalDashboard>, RunOutcome, SocketAddr, String) {
        let outcome = tokio::time::timeout(Duration::from_secs(60), self.run)
            .await
            .expect("the run ends in time")
            .expect("the run task does not panic");
        self.dashboard.record_final(&outcome.result).await;
        (self.dashboard, outcome, self.addr, self.id)
    }
}

pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on its own connection (`Connection: close`), bounded in time.
pub async fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> Answer {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    request_with(addr, method, path, &headers).await
}

/// [`request`] with these header lines (and no body), bounded in time.
pub async fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    Client::Plain.request(addr, method, path, headers).await
}

/// A whole response as read off the socket: status, head and (de-chunked) body.
pub fn parse_answer(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Answer { status, head, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

/// One server-sent event as received.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub name: String,
    pub data: String,
    pub at: std::time::Instant,
}

/// Reads `/events` until `until` says enough or the stream ends, bounded by `limit`.
pub async fn read_events(
    addr: SocketAddr,
    token: &str,
    limit: Duration,
    mut until: impl FnMut(&[SseEvent]) -> bool,
) -> Vec<SseEvent> {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    let req = format!(
        "GET /events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.expect("sends");
    let mut events = Vec::new();
    let mut buf = Vec::new();
    let mut head_done = false;
    let mut pending = String::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut chunk = [0u8; 16384];
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => break,
        };
        buf.extend_from_slice(&chunk[..n]);
        if !head_done {
            let Some(split) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&buf[..split]).into_owned();
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            assert!(head.contains("text/event-stream"), "{head}");
            buf.drain(..split + 4);
            head_done = true;
        }
        // The body is chunked: keep only the payload bytes, then cut events at blank lines.
        pending.push_str(&String::from_utf8_lossy(&dechunk_stream(&mut buf)));
        while let Some(end) = pending.find("\n\n") {
            let block: String = pending.drain(..end + 2).collect();
            if let Some(event) = parse_event(&block) {
                events.push(event);
            }
        }
        if until(&events) {
            break;
        }
    }
    events
}

/// Takes the complete chunks' payload out of `buf`, leaving a partial chunk in it.
fn dechunk_stream(buf: &mut Vec<u8>) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = buf.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let Ok(size) = usize::from_str_radix(String::from_utf8_lossy(&buf[..line_end]).trim(), 16)
        else {
            return out;
        };
        let start = line_end + 2;
        if buf.len() < start + size + 2 {
            return out;
        }
        out.extend_from_slice(&buf[start..start + size]);
        buf.drain(..start + size + 2);
        if size == 0 {
            return out;
        }
    }
}

fn parse_event(block: &str) -> Option<SseEvent> {
    let mut id = None;
    let mut name = None;
    let mut data = Vec::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("id: ") {
            // `{instance}.{seq} {run}:{window}…`: the sequence number orders the stream.
            id = v
                .split(' ')
                .next()
                .and_then(|stream| stream.split_once('.'))
                .and_then(|(_, seq)| seq.parse().ok());
        } else if let Some(v) = line.strip_prefix("event: ") {
            name = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("data: ") {
            data.push(v);
        }
    }
    Some(SseEvent {
        id,
        name: name?,
        data: data.join("\n"),
        at: std::time::Instant::now(),
    })
}
