//! HTTPS against a real TLS server on 127.0.0.1 (tokio-rustls + hyper, HTTP/1.1 keep-alive,
//! a self-signed certificate made with rcgen): a trusted CA file, an untrusted certificate
//! (every request a `tls` error), the insecure mode, failure injection under TLS, a server
//! requiring a client certificate (mutual TLS, over HTTP/1.1 and HTTP/2), and at the pool
//! level the server name sent and session resumption. The server counts connections,
//! handshakes (and resumed ones, and those with a client certificate), requests and what the
//! injected faults left on the wire.

use crate::engine_support::{faults, listen, outcomes, plan, rate, serial, tls};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request as HttpRequest, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use ptl_bytecode::plan::{HttpVersion, Ppm};
use ptl_engine::http::{Endpoint, Pool, SendOutcome, TlsOptions, TlsTarget, Want};
use ptl_engine::{run_blocking, RunOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

#[derive(Default)]
struct Seen {
    /// TCP connections accepted.
    connections: AtomicU64,
    handshakes: AtomicU64,
    resumed: AtomicU64,
    /// Handshakes in which the client presented a certificate.
    client_certs: AtomicU64,
    failed_handshakes: AtomicU64,
    requests: AtomicU64,
    /// Requests carrying an `x-fault` header.
    fault_headers: AtomicU64,
    /// Requests whose body is the injected malformed one.
    corrupt_bodies: AtomicU64,
    /// Connections that ended with a TCP reset from the client.
    resets: AtomicU64,
    /// Server names (SNI) of the handshakes.
    names: Mutex<Vec<Option<String>>>,
    /// Protocols agreed by ALPN.
    alpn: Mutex<Vec<Option<Vec<u8>>>>,
}

struct TlsServer {
    addr: SocketAddr,
    seen: Arc<Seen>,
    /// PEM of the server's self-signed certificate, to trust as a CA.
    ca_file: PathBuf,
}

impl TlsServer {
    fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    fn count(&self, what: fn(&Seen) -> &AtomicU64) -> u64 {
        what(&self.seen).load(Ordering::SeqCst)
    }
}

/// Starts a TLS server on its own thread and runtime; it lives until the test process ends.
fn tls_server() -> TlsServer {
    // h2 first: the server would pick it if the client offered it.
    tls_server_with(tls::self_signed(
        &["localhost", "127.0.0.1"],
        &[b"h2", b"http/1.1"],
    ))
}

/// A TLS server that requires a client certificate signed by `clients`.
fn mtls_server(clients: &tls::ClientCa) -> TlsServer {
    tls_server_with(tls::self_signed_requiring(
        &["127.0.0.1"],
        &[b"h2", b"http/1.1"],
        clients,
    ))
}

fn tls_server_with(cert: tls::SelfSigned) -> TlsServer {
    let dir = std::env::temp_dir().join(format!("ptl-https-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let ca_file = dir.join(format!("ca-{}.pem", NEXT.fetch_add(1, Ordering::SeqCst)));
    std::fs::write(&ca_file, &cert.pem).expect("write CA file");
    let acceptor = cert.acceptor;
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    let addr = listen(move |stream| {
        s.connections.fetch_add(1, Ordering::SeqCst);
        serve(acceptor.clone(), stream, s.clone())
    });
    TlsServer {
        addr,
        seen,
        ca_file,
    }
}

async fn serve(acceptor: TlsAcceptor, stream: tokio::net::TcpStream, seen: Arc<Seen>) {
    let tls = match acceptor.accept(stream).await {
        Ok(tls) => tls,
        Err(_) => {
            seen.failed_handshakes.fetch_add(1, Ordering::SeqCst);
            return;
        }
    };
    {
        let session = tls.get_ref().1;
        seen.handshakes.fetch_add(1, Ordering::SeqCst);
        if session.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
            seen.resumed.fetch_add(1, Ordering::SeqCst);
        }
        if session.peer_certificates().is_some_and(|c| !c.is_empty()) {
            seen.client_certs.fetch_add(1, Ordering::SeqCst);
        }
        let name = session.server_name().map(str::to_string);
        seen.names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name);
        let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
        seen.alpn
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(alpn);
    }
    let s = seen.clone();
    let svc = service_fn(move |req| answer(s.clone(), req));
    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        let _ = http2::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(tls), svc)
            .await;
        return;
    }
    if let Err(e) = http1::Builder::new()
        .serve_connection(TokioIo::new(tls), svc)
        .await
    {
        if is_reset(&e) {
            seen.resets.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn is_reset(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionReset)
        {
            return true;
        }
        cause = c.source();
    }
    false
}

async fn answer(
    seen: Arc<Seen>,
    req: HttpRequest<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    if req.headers().contains_key("x-fault") {
        seen.fault_headers.fetch_add(1, Ordering::SeqCst);
    }
    let body = req.into_body().collect().await?.to_bytes();
    if body.windows(8).any(|w| w == b"<corrupt") {
        seen.corrupt_bodies.fetch_add(1, Ordering::SeqCst);
    }
    Ok(Response::new(Full::new(Bytes::from_static(
        b"{\"ok\":true}",
    ))))
}

fn options(tls: TlsOptions) -> RunOptions {
    RunOptions {
        workers: Some(2),
        tls,
        ..RunOptions::default()
    }
}

fn trusting(srv: &TlsServer) -> TlsOptions {
    TlsOptions {
        ca_files: vec![srv.ca_file.clone()],
        ..TlsOptions::default()
    }
}

/// Trusting `srv`, presenting the client certificate of `clients` (written next to its CA
/// file).
fn presenting(srv: &TlsServer, clients: &tls::ClientCa) -> TlsOptions {
    let cert = srv.ca_file.with_extension("client.pem");
    let key = srv.ca_file.with_extension("client-key.pem");
    std::fs::write(&cert, &clients.cert_pem).expect("write client certificate");
    std::fs::write(&key, &clients.key_pem).expect("write client key");
    TlsOptions {
        client_cert: Some((cert, key)),
        ..trusting(srv)
    }
}

#[test]
fn a_rate_over_https_sends_exactly_the_planned_requests_on_few_connections() {
    let _serial = serial();
    let srv = tls_server();
    let mut p = plan(&srv.url(), vec![rate("steady", 200.0, 2.0)]);
    p.connections = 4;
    let out = run_blocking(&p, options(trusting(&srv))).expect("runs");
    let ph = &out.result.phases[0];
    outcomes::assert_all_ok(ph, 399..=401);
    assert_eq!(srv.count(|s| &s.requests), ph.request_count);
    // Keep-alive: never more connections than the pool holds, each one handshake.
    let connections = srv.count(|s| &s.connections);
    assert!((1..=4).contains(&connections), "{connections} connections");
    assert_eq!(srv.count(|s| &s.handshakes), connections);
    // An IP literal target sends no server name.
    let names = srv.seen.names.lock().unwrap_or_else(|e| e.into_inner());
    assert!(names.iter().all(Option::is_none), "{names:?}");
    let alpn = srv.seen.alpn.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        alpn.iter().all(|p| p.as_deref() == Some(b"http/1.1")),
        "{alpn:?}"
    );
}

#[test]
fn an_untrusted_certificate_makes_every_request_a_tls_error() {
    let _serial = serial();
    let srv = tls_server();
    assert_refused(&srv, "untrusted", TlsOptions::default());
}

/// 50 arrivals in 1 s with `tls`: every one a `tls` error, no handshake completed on the
/// server and no request reached it; the run still finishes.
fn assert_refused(srv: &TlsServer, phase: &str, tls: TlsOptions) {
    let p = plan(&srv.url(), vec![rate(phase, 50.0, 1.0)]);
    let out = run_blocking(&p, options(tls)).expect("runs to the end");
    outcomes::assert_all_failed(&out.result.phases[0], 49..=51, "tls");
    assert_eq!(srv.count(|s| &s.handshakes), 0);
    assert!(srv.count(|s| &s.failed_handshakes) > 0);
    assert_eq!(srv.count(|s| &s.requests), 0);
}

#[test]
fn the_insecure_mode_accepts_an_untrusted_certificate() {
    let _serial = serial();
    let srv = tls_server();
    let p = plan(&srv.url(), vec![rate("insecure", 50.0, 1.0)]);
    let insecure = TlsOptions {
        insecure: true,
        ..TlsOptions::default()
    };
    let out = run_blocking(&p, options(insecure)).expect("runs");
    let ph = &out.result.phases[0];
    assert_eq!(ph.errors, 0, "{:?}", ph.errors_by_class);
    assert_eq!(
        ph.requests[0].status_codes.get("200"),
        Some(&ph.request_count)
    );
    assert_eq!(srv.count(|s| &s.requests), ph.request_count);
}

#[test]
fn a_server_requiring_a_client_certificate_answers_a_run_presenting_one() {
    let _serial = serial();
    let clients = tls::client_ca();
    let srv = mtls_server(&clients);
    let mut p = plan(&srv.url(), vec![rate("mtls", 100.0, 1.0)]);
    p.connections = 4;
    let out = run_blocking(&p, options(presenting(&srv, &clients))).expect("runs");
    let ph = &out.result.phases[0];
    outcomes::assert_all_ok(ph, 99..=101);
    assert_eq!(srv.count(|s| &s.requests), ph.request_count);
    let handshakes = srv.count(|s| &s.handshakes);
    assert!(handshakes > 0);
    assert_eq!(srv.count(|s| &s.client_certs), handshakes);
    assert_eq!(srv.count(|s| &s.failed_handshakes), 0);
}

#[test]
fn a_client_certificate_is_presented_over_http2_too() {
    let _serial = serial();
    let clients = tls::client_ca();
    let srv = mtls_server(&clients);
    let mut p = plan(&srv.url(), vec![rate("mtls-h2", 100.0, 1.0)]);
    p.http = HttpVersion::Http2;
    p.connections = 2;
    let out = run_blocking(&p, options(presenting(&srv, &clients))).expect("runs");
    let ph = &out.result.phases[0];
    outcomes::assert_all_ok(ph, 99..=101);
    assert_eq!(srv.count(|s| &s.requests), ph.request_count);
    let alpn = srv.seen.alpn.lock().unwrap_or_else(|e| e.into_inner());
    assert!(alpn.iter().all(|p| p.as_deref() == Some(b"h2")), "{alpn:?}");
    assert_eq!(srv.count(|s| &s.client_certs), alpn.len() as u64);
}

#[test]
fn without_a_client_certificate_every_request_is_a_tls_error() {
    let _serial = serial();
    let clients = tls::client_ca();
    let srv = mtls_server(&clients);
    assert_refused(&srv, "no-client-cert", trusting(&srv));
}

#[test]
fn a_client_certificate_of_another_ca_is_refused() {
    let _serial = serial();
    let srv = mtls_server(&tls::client_ca());
    let stranger = tls::client_ca();
    assert_refused(&srv, "other-ca", presenting(&srv, &stranger));
}

#[test]
fn injected_faults_work_over_tls() {
    let _serial = serial();
    let srv = tls_server();
    let p = faults::every_fault_plan(&srv.url(), 400.0, 1.5, Ppm(150_000));
    let out = run_blocking(&p, options(trusting(&srv))).expect("runs");
    let ph = &out.result.phases[0];
    // The faults reached the server through the TLS session.
    faults::assert_every_fault_injected(
        ph,
        srv.count(|s| &s.fault_headers),
        srv.count(|s| &s.corrupt_bodies),
    );
    let resets = srv.count(|s| &s.resets);
    let reset = faults::injected(ph, "reset");
    assert!(
        (1..=reset).contains(&resets),
        "{resets} connections reset, {reset} injected"
    );
}

/// One GET on the pool's slot, then the connection is closed (so the next one is new).
async fn get_and_close(pool: &std::rc::Rc<Pool>, host: &str) -> u16 {
    let mut lease = pool.try_lease().expect("a free slot");
    lease
        .request_buf()
        .extend_from_slice(format!("GET / HTTP/1.1\r\nhost: {host}\r\n\r\n").as_bytes());
    lease.connection().await.expect("connects");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let status = match lease.send(false, Want::default(), deadline).await {
        SendOutcome::Response(r) => r.status,
        other => panic!("no answer: {other:?}"),
    };
    if let Some(conn) = lease.take() {
        conn.close();
    }
    status
}

/// A one-connection pool to `srv` (on 127.0.0.1) trusting its certificate, naming the server
/// `name` (SNI, and the name the certificate is checked against).
fn trusting_pool(srv: &TlsServer, name: &str) -> std::rc::Rc<Pool> {
    let config = trusting(srv).client_config().expect("client config");
    let tls = TlsTarget::new(config, name).expect("server name");
    let endpoint = Endpoint::new("127.0.0.1", srv.addr.port()).with_tls(Some(tls));
    Pool::new(endpoint, 1, Duration::from_secs(5))
}

#[tokio::test]
async fn a_dns_name_is_sent_as_sni_and_later_connections_resume_the_session() {
    let srv = tls_server();
    let pool = trusting_pool(&srv, "localhost");
    for _ in 0..3 {
        assert_eq!(get_and_close(&pool, "localhost").await, 200);
    }
    assert_eq!(srv.count(|s| &s.connections), 3);
    assert_eq!(srv.count(|s| &s.handshakes), 3);
    assert_eq!(
        srv.count(|s| &s.resumed),
        2,
        "the first handshake is full, the others resume"
    );
    let names = srv.seen.names.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        names.iter().all(|n| n.as_deref() == Some("localhost")),
        "{names:?}"
    );
}

#[tokio::test]
async fn a_name_the_certificate_does_not_cover_is_a_tls_error() {
    let srv = tls_server();
    let pool = trusting_pool(&srv, "other.example");
    let mut lease = pool.try_lease().expect("a free slot");
    let e = lease.connection().await.expect_err("refused");
    assert_eq!(e.class(), ptl_engine::record::ErrorClass::Tls, "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");
}

#[tokio::test]
async fn a_server_that_does_not_speak_tls_is_a_tls_error() {
    // Accepts, reads the client hello, answers in plain HTTP and closes.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    let config = TlsOptions::default()
        .client_config()
        .expect("client config");
    let tls = TlsTarget::new(config, "127.0.0.1").expect("server name");
    let pool = Pool::new(
        Endpoint::new("127.0.0.1", port).with_tls(Some(tls)),
        1,
        Duration::from_secs(5),
    );
    let mut lease = pool.try_lease().expect("a free slot");
    let e = lease.connection().await.expect_err("refused");
    assert_eq!(e.class(), ptl_engine::record::ErrorClass::Tls, "{e}");
}
