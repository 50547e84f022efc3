//! Shared by the engine tests: a real HTTP/1.1 server on 127.0.0.1 (its own thread and
//! runtime, so it never competes with the engine's workers for a scheduler) whose behaviour the
//! test steers, and builders for hand-made plans.
#![allow(dead_code)]

pub mod faults;
mod listen;
pub mod outcomes;
pub mod tls;

pub use listen::listen;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::TokioIo;
use ptl_bytecode::plan::*;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Engine tests measure rates and latencies: run them one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

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
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<ServerState>,
}

impl TestServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests arriving from `after` from now, for `length`, are held until its end.
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
    let status = match req.uri().path() {
        "/fail" => 500,
        "/login" => 200,
        _ => match state.status.load(Ordering::Relaxed) {
            0 => 200,
            s => s,
        },
    };
    let body = match req.uri().path() {
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

pub const SECOND: u64 = 1_000_000;

pub fn rate(name: &str, per_sec: f64, secs: f64) -> Phase {
    Phase::new(
        name,
        Load::Rate {
            per_sec,
            duration_us: (secs * SECOND as f64) as u64,
        },
    )
}

/// A closed-model phase: `users` sending back to back (no think time) for `secs`.
pub fn users(name: &str, users: u32, secs: f64) -> Phase {
    Phase::new(
        name,
        Load::Users {
            users,
            duration_us: (secs * SECOND as f64) as u64,
            think_us: 0,
        },
    )
}

/// A plan with one top-level request `hit` (GET /) and the given phases.
pub fn plan(target: &str, phases: Vec<Phase>) -> Plan {
    Plan {
        timeout_us: 2 * SECOND,
        connections: 32,
        seed: 7,
        max_inflight: 1000,
        ..Plan::get_root("test", target, "hit", phases)
    }
}

pub fn threshold(
    expr: &str,
    scope: Scope,
    metric: Metric,
    cmp: Cmp,
    value: f64,
    abort: bool,
) -> Threshold {
    Threshold {
        expr: expr.into(),
        scope,
        metric,
        cmp,
        value,
        abort,
    }
}
