//! A real HTTP/1.1 server on 127.0.0.1 that counts what it receives (the witness of what a run
//! sent) and whose behaviour a test steers: a fixed delay, a status, a stall window. It runs on
//! a thread and runtime of its own, so it never competes with the engine's workers.

use crate::listen::listen;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct ServerState {
    pub hits: AtomicU64,
    /// Requests carrying an `x-fault` header.
    pub fault_headers: AtomicU64,
    /// Fixed service delay, µs.
    pub delay_us: AtomicU64,
    /// Status of `/`; 0 means 200.
    pub status: AtomicU16,
    /// Requests arriving in [from, until) wait until `until`.
    pub stall: Mutex<Option<(Instant, Instant)>>,
    /// When each request arrived (the pause tests look for gaps).
    pub arrived: Mutex<Vec<Instant>>,
    /// The `Authorization` header of the latest request that had one (what `env(…)` secrets
    /// reach).
    pub authorization: Mutex<Option<String>>,
    /// When set, every request is kept whole in `recorded` (off by default: long loads would
    /// hold them all).
    pub record: AtomicBool,
    pub recorded: Mutex<Vec<Recorded>>,
}

/// One request as the server received it: what data feeders and bodies are checked against.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path and query, as sent.
    pub target: String,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How long `/slow` takes to answer.
pub const SLOW_ROUTE: Duration = Duration::from_millis(500);

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<ServerState>,
}

impl TestServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests arriving from `after` from now, for `length`, are held until its end.
    /// Keeps every request from now on; read them with [`TestServer::recorded`].
    pub fn record(&self) {
        self.state.record.store(true, Ordering::Relaxed);
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.state
            .recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn stall(&self, after: Duration, length: Duration) {
        let from = Instant::now() + after;
        *self.state.stall.lock().unwrap_or_else(|e| e.into_inner()) = Some((from, from + length));
    }
}

async fn handle(
    state: Arc<ServerState>,
    req: HttpRequest<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let arrived = Instant::now();
    state.hits.fetch_add(1, Ordering::Relaxed);
    state
        .arrived
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(arrived);
    if let Some(auth) = req.headers().get("authorization") {
        *state
            .authorization
            .lock()
            .unwrap_or_else(|e| e.into_inner()) =
            Some(String::from_utf8_lossy(auth.as_bytes()).into_owned());
    }
    if req.headers().contains_key("x-fault") {
        state.fault_headers.fetch_add(1, Ordering::Relaxed);
    }
    let stall = *state.stall.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((from, until)) = stall {
        if arrived >= from && arrived < until {
            tokio::time::sleep_until(tokio::time::Instant::from_std(until)).await;
        }
    }
    let delay = state.delay_us.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_micros(delay)).await;
    }
    // A route slower than a short timeout and faster than a long one, whatever `delay_us` is.
    if req.uri().path() == "/slow" {
        tokio::time::sleep(SLOW_ROUTE).await;
    }
    let path = req.uri().path().to_string();
    if state.record.load(Ordering::Relaxed) {
        let (parts, body) = req.into_parts();
        let body = body.collect().await?.to_bytes();
        let recorded = Recorded {
            method: parts.method.to_string(),
            target: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_string(), |p| p.to_string()),
            headers: parts.headers,
            body,
        };
        state
            .recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(recorded);
    }
    let status = match path.as_str() {
        "/fail" => 500,
        "/login" => 200,
        _ => match state.status.load(Ordering::Relaxed) {
            0 => 200,
            s => s,
        },
    };
    let body = match path.as_str() {
        "/login" => r#"{"token":"abc123"}"#,
        _ => r#"{"ok":true}"#,
    };
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    Ok(resp)
}

/// Starts a server; it lives until the test process ends.
pub fn server() -> TestServer {
    let state = Arc::new(ServerState::default());
    let st = state.clone();
    let addr = listen(move |stream| {
        let st = st.clone();
        async move {
            let svc = service_fn(move |req| handle(st.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        }
    });
    TestServer { addr, state }
}

/// An address where nothing listens.
pub fn dead_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}
