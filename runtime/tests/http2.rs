//! A plan with `http 2` against a real HTTP/2 server on 127.0.0.1 (hyper's `http2` server,
//! h2c by prior knowledge, or over TLS with ALPN `h2` and an rcgen certificate): the planned
//! count, all 200, every request seen as HTTP/2 on no more connections than planned; the
//! injected faults over streams; and servers that speak HTTP/1.1 only give clear errors while
//! the run still finishes.

mod engine_support;

use bytes::Bytes;
use engine_support::{faults, listen, outcomes, plan, rate, serial, tls};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request as HttpRequest, Response, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use ptl_bytecode::plan::{HttpVersion, Ppm};
use ptl_runtime::{run_blocking, RunOptions};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

#[derive(Default)]
struct Seen {
    connections: AtomicU64,
    requests: AtomicU64,
    /// Requests that arrived as HTTP/2.
    http2: AtomicU64,
    fault_headers: AtomicU64,
    corrupt_bodies: AtomicU64,
}

#[derive(Clone, Copy, PartialEq)]
enum Speaks {
    Http2,
    Http1Only,
}

struct Server {
    addr: SocketAddr,
    seen: Arc<Seen>,
    tls: bool,
}

impl Server {
    fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    fn count(&self, what: fn(&Seen) -> &AtomicU64) -> u64 {
        what(&self.seen).load(Ordering::SeqCst)
    }
}

/// A server on its own thread and runtime, alive until the test process ends; with `tls`, a
/// self-signed certificate and ALPN offering what it speaks.
fn server(speaks: Speaks, tls: bool) -> Server {
    let acceptor = tls.then(|| acceptor(speaks));
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    let addr = listen(move |stream| {
        s.connections.fetch_add(1, Ordering::SeqCst);
        serve(stream, acceptor.clone(), speaks, s.clone())
    });
    Server { addr, seen, tls }
}

fn acceptor(speaks: Speaks) -> TlsAcceptor {
    let alpn: &[u8] = match speaks {
        Speaks::Http2 => b"h2",
        Speaks::Http1Only => b"http/1.1",
    };
    tls::self_signed(&["127.0.0.1"], &[alpn]).acceptor
}

async fn serve(stream: TcpStream, tls: Option<TlsAcceptor>, speaks: Speaks, seen: Arc<Seen>) {
    match tls {
        None => serve_on(TokioIo::new(stream), speaks, seen).await,
        Some(acceptor) => {
            if let Ok(session) = acceptor.accept(stream).await {
                serve_on(TokioIo::new(session), speaks, seen).await;
            }
        }
    }
}

async fn serve_on<T>(io: TokioIo<T>, speaks: Speaks, seen: Arc<Seen>)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| answer(seen.clone(), req));
    match speaks {
        Speaks::Http2 => {
            let _ = http2::Builder::new(TokioExecutor::new())
                .max_concurrent_streams(64)
                .serve_connection(io, svc)
                .await;
        }
        Speaks::Http1Only => {
            let _ = http1::Builder::new().serve_connection(io, svc).await;
        }
    }
}

async fn answer(
    seen: Arc<Seen>,
    req: HttpRequest<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    if req.version() == Version::HTTP_2 {
        seen.http2.fetch_add(1, Ordering::SeqCst);
    }
    if req.headers().contains_key("x-fault") {
        seen.fault_headers.fetch_add(1, Ordering::SeqCst);
    }
    let body = req.into_body().collect().await?.to_bytes();
    if body.windows(8).any(|w| w == b"<corrupt") {
        seen.corrupt_bodies.fetch_add(1, Ordering::SeqCst);
    }
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

fn options(insecure: bool) -> RunOptions {
    RunOptions {
        workers: Some(2),
        tls: ptl_runtime::http::TlsOptions {
            ca_files: vec![],
            insecure,
            client_cert: None,
        },
        ..RunOptions::default()
    }
}

fn steady_200_per_sec(srv: &Server) {
    let mut p = plan(&srv.url(), vec![rate("steady", 200.0, 2.0)]);
    p.http = HttpVersion::Http2;
    p.connections = 2;
    let out = run_blocking(&p, options(true)).expect("runs");
    let ph = &out.result.phases[0];
    outcomes::assert_all_ok(ph, 399..=401);
    assert_eq!(srv.count(|s| &s.requests), ph.request_count);
    assert_eq!(
        srv.count(|s| &s.http2),
        ph.request_count,
        "every request came as HTTP/2"
    );
    // Streams multiplexed: 400 requests on at most the plan's 2 connections.
    let connections = srv.count(|s| &s.connections);
    assert!((1..=2).contains(&connections), "{connections} connections");
}

#[test]
fn h2c_sends_exactly_the_planned_requests_as_streams_on_few_connections() {
    let _serial = serial();
    steady_200_per_sec(&server(Speaks::Http2, false));
}

#[test]
fn h2_over_tls_with_alpn_sends_exactly_the_planned_requests() {
    let _serial = serial();
    steady_200_per_sec(&server(Speaks::Http2, true));
}

#[test]
fn injected_faults_work_over_h2_streams_without_closing_connections() {
    let _serial = serial();
    let srv = server(Speaks::Http2, false);
    let mut p = faults::every_fault_plan(&srv.url(), 300.0, 1.5, Ppm(100_000));
    p.http = HttpVersion::Http2;
    p.connections = 2;
    let out = run_blocking(&p, options(false)).expect("runs");
    let ph = &out.result.phases[0];
    faults::assert_every_fault_injected(
        ph,
        srv.count(|s| &s.fault_headers),
        srv.count(|s| &s.corrupt_bodies),
    );
    // A reset or an abort ends a stream, not the connection.
    let connections = srv.count(|s| &s.connections);
    assert!((1..=2).contains(&connections), "{connections} connections");
}

fn against_http1_only(srv: &Server, class: &str) {
    let mut p = plan(&srv.url(), vec![rate("refused", 50.0, 1.0)]);
    p.http = HttpVersion::Http2;
    p.connections = 2;
    let out = run_blocking(&p, options(true)).expect("runs to the end");
    let ph = &out.result.phases[0];
    outcomes::assert_all_failed(ph, 49..=51, class);
    assert_eq!(srv.count(|s| &s.requests), 0);
}

#[test]
fn an_http1_only_server_over_tls_refuses_h2_by_alpn_as_a_tls_error() {
    let _serial = serial();
    against_http1_only(&server(Speaks::Http1Only, true), "tls");
}

#[test]
fn an_http1_only_server_without_tls_fails_every_h2c_request() {
    let _serial = serial();
    against_http1_only(&server(Speaks::Http1Only, false), "io");
}
