//! A plan with `http 2` against a real HTTP/2 server on 127.0.0.1 (hyper's `http2` server,
//! h2c by prior knowledge, or over TLS with ALPN `h2` and an rcgen certificate): the planned
//! count, all 200, every request seen as HTTP/2 on no more connections than planned; the
//! injected faults over streams; servers that speak HTTP/1.1 only give clear errors while
//! the run still finishes; and, against a server of the `h2` crate's own, what servers do
//! routinely: limit concurrent streams, and close connections gracefully (GOAWAY) after so
//! many streams.

use crate::engine_support::{faults, listen, outcomes, plan, rate, serial, tls};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request as HttpRequest, Response, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use ptl_bytecode::plan::{HttpVersion, Ppm};
use ptl_engine::{run_blocking, RunOptions};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
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
        tls: ptl_engine::http::TlsOptions {
            insecure,
            ..Default::default()
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

/// How the `h2` crate's server below treats its connections.
struct H2Settings {
    max_concurrent_streams: u32,
    /// Answers after this long.
    delay: Duration,
    /// After this many streams on a connection, closes it gracefully: GOAWAY with NO_ERROR,
    /// as nginx does after `keepalive_requests` (1,000 by default).
    streams_per_connection: u64,
    /// Instead, sends a GOAWAY with this error then, as a server's rapid-reset protection does
    /// (ENHANCE_YOUR_CALM), cutting the streams it has not answered.
    abrupt: Option<h2::Reason>,
}

#[derive(Default)]
struct H2Seen {
    connections: AtomicU64,
    requests: AtomicU64,
    active: AtomicU64,
    peak_active: AtomicU64,
}

/// An h2c server of the `h2` crate, which lets a test set what hyper's server does not.
fn h2_server(settings: H2Settings) -> (String, Arc<H2Seen>) {
    let settings = Arc::new(settings);
    let seen = Arc::new(H2Seen::default());
    let s = seen.clone();
    let addr = listen(move |stream| {
        s.connections.fetch_add(1, Ordering::SeqCst);
        serve_h2(stream, settings.clone(), s.clone())
    });
    (format!("http://{addr}"), seen)
}

async fn serve_h2(stream: TcpStream, settings: Arc<H2Settings>, seen: Arc<H2Seen>) {
    let handshake = h2::server::Builder::new()
        .max_concurrent_streams(settings.max_concurrent_streams)
        .handshake::<_, Bytes>(stream);
    let Ok(mut conn) = handshake.await else {
        return;
    };
    let mut served = 0;
    while let Some(Ok((_request, mut respond))) = conn.accept().await {
        seen.requests.fetch_add(1, Ordering::SeqCst);
        let active = seen.active.fetch_add(1, Ordering::SeqCst) + 1;
        seen.peak_active.fetch_max(active, Ordering::SeqCst);
        let (delay, seen) = (settings.delay, seen.clone());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            seen.active.fetch_sub(1, Ordering::SeqCst);
            let _ = respond.send_response(http::Response::new(()), true);
        });
        served += 1;
        if served == settings.streams_per_connection {
            match settings.abrupt {
                None => conn.graceful_shutdown(),
                Some(reason) => conn.abrupt_shutdown(reason),
            }
        }
    }
}

fn h2_plan(url: &str, per_sec: f64, secs: f64) -> ptl_bytecode::plan::Plan {
    let mut p = plan(url, vec![rate("h2", per_sec, secs)]);
    p.http = HttpVersion::Http2;
    p.connections = 1;
    p
}

fn one_worker() -> RunOptions {
    RunOptions {
        workers: Some(1),
        ..options(false)
    }
}

#[test]
fn a_server_closing_connections_gracefully_costs_no_errors_and_no_request_twice() {
    let _serial = serial();
    let (url, seen) = h2_server(H2Settings {
        max_concurrent_streams: 100,
        delay: Duration::ZERO,
        streams_per_connection: 50,
        abrupt: None,
    });
    // Two connections used in turn reach their 50 streams together: a request turned away
    // by one must not be sent to the other, about to close too.
    let mut p = h2_plan(&url, 500.0, 1.0);
    p.connections = 2;
    let out = run_blocking(&p, one_worker()).expect("runs");
    let ph = &out.result.phases[0];
    // Streams sent on a connection after its GOAWAY are not errors: the server did not
    // process them, and they go again on the next connection.
    outcomes::assert_all_ok(ph, 499..=501);
    assert_eq!(
        seen.requests.load(Ordering::SeqCst),
        ph.request_count,
        "the server processed each request once"
    );
    let connections = seen.connections.load(Ordering::SeqCst);
    assert!(
        connections >= ph.request_count / 50,
        "{connections} connections for {} requests",
        ph.request_count
    );
}

#[test]
fn streams_beyond_the_servers_limit_wait_and_the_wait_shows_in_response_time() {
    let _serial = serial();
    let (url, seen) = h2_server(H2Settings {
        max_concurrent_streams: 2,
        delay: Duration::from_millis(20),
        streams_per_connection: u64::MAX,
        abrupt: None,
    });
    // One connection, 2 streams at a time of 20 ms each: at most 100/s, for 150/s planned.
    let out = run_blocking(&h2_plan(&url, 150.0, 1.0), one_worker()).expect("runs");
    let ph = &out.result.phases[0];
    outcomes::assert_all_ok(ph, 149..=151);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    assert_eq!(seen.requests.load(Ordering::SeqCst), ph.request_count);
    assert!(
        seen.peak_active.load(Ordering::SeqCst) <= 2,
        "the limit held"
    );
    // The last of 150 answers comes after 75 rounds of 20 ms, 1.5 s from the start, for an
    // arrival planned at most 1 s in: measured from its intended send, it waited ≥ 0.5 s.
    let max_ms = ph.response_time_ms.expect("samples").max;
    assert!(max_ms >= 450.0, "response time max {max_ms} ms");
}

#[test]
fn a_goaway_with_an_error_counts_the_cut_streams_as_io_and_the_run_goes_on() {
    let _serial = serial();
    let (url, seen) = h2_server(H2Settings {
        max_concurrent_streams: 100,
        delay: Duration::from_millis(30),
        streams_per_connection: 40,
        abrupt: Some(h2::Reason::ENHANCE_YOUR_CALM),
    });
    let out = run_blocking(&h2_plan(&url, 400.0, 1.0), one_worker()).expect("runs to the end");
    let ph = &out.result.phases[0];
    let errors = ph.errors_by_class.get("io").copied().unwrap_or(0);
    // Each connection's streams still waiting on their 30 ms answer are cut, and may have
    // been processed: they are errors, never sent again.
    assert!(errors > 0, "{:?}", ph.errors_by_class);
    assert_eq!(ph.errors, errors, "{:?}", ph.errors_by_class);
    let answered = ph.request_count - ph.errors;
    assert!(answered > 0, "later connections answer");
    assert!(seen.connections.load(Ordering::SeqCst) > 1);
    assert!(seen.requests.load(Ordering::SeqCst) <= ph.request_count);
}
