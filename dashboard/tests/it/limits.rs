//! The server's limits over real sockets on 127.0.0.1: a flood of 1,000 idle connections and
//! 500 event streams (the first [`MAX_EVENT_STREAMS`] let in, the rest 503) leaves a normal
//! client its answer, over plain HTTP and over TLS; an oversized body is 413; a client stalling
//! in its request head is cut off without disturbing the event streams; a state-changing
//! request from another site is 403, even with the operator's cookie.

use crate::common::*;
use ptl_dashboard::control::{ControlFuture, RunControl};
use ptl_dashboard::hub::RunOpen;
use ptl_dashboard::model::{RunSource, RunStatus};
use ptl_dashboard::server::{serve, DashboardServer, Limits, ServerConfig};
use ptl_dashboard::sse::MAX_EVENT_STREAMS;
use ptl_dashboard::tls::ServerTls;
use ptl_dashboard::Hub;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Idle connections the flood holds open (fewer if the descriptor limit cannot be raised).
const IDLE: usize = 1000;
/// Event streams the flood asks for: the 500, beyond the cap.
const STREAMS: usize = 500;
/// Generous bound on anything the server is expected to do at once.
const PROMPTLY: Duration = Duration::from_secs(20);

async fn serve_hub(hub: Arc<Hub>, limits: Limits) -> DashboardServer {
    serve_over(hub, limits, None).await
}

/// The dashboard of `hub` with the test tokens, over TLS when given an identity.
pub async fn serve_over(hub: Arc<Hub>, limits: Limits, tls: Option<ServerTls>) -> DashboardServer {
    let config = ServerConfig {
        access: tokens(),
        limits,
        tls,
        ..ServerConfig::default()
    };
    serve(hub, config).await.expect("the dashboard serves")
}

/// Raises this process's open-file limit to its hard limit; returns the limit now in force.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            ..limit
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            limit = raised;
        }
    }
    limit.rlim_cur
}

/// Reads until the response head is complete; returns the stream (the body follows) and head.
pub async fn read_head<S: Conn>(mut stream: S) -> (S, String) {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(PROMPTLY, stream.read(&mut byte))
            .await
            .expect("the head comes in time")
            .expect("reads");
        assert_eq!(n, 1, "the connection closed mid-head: {raw:?}");
        raw.push(byte[0]);
    }
    (stream, String::from_utf8_lossy(&raw).into_owned())
}

/// Opens `/events` on its own connection; the head says whether it was let in.
async fn open_stream(addr: SocketAddr, token: &str) -> (TcpStream, String) {
    let stream = TcpStream::connect(addr).await.expect("connects");
    open_stream_on(stream, addr, token).await
}

/// Opens `/events` on `stream`; the head says whether it was let in.
async fn open_stream_on<S: Conn>(mut stream: S, addr: SocketAddr, token: &str) -> (S, String) {
    let req =
        format!("GET /events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("sends");
    read_head(stream).await
}

/// Reads `stream` until `text` has come by or it ends; true when it came.
pub async fn read_until<S: Conn>(stream: &mut S, text: &str) -> bool {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + PROMPTLY;
    while !String::from_utf8_lossy(&seen).contains(text) {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&chunk[..n]),
            _ => return false,
        }
    }
    true
}

/// True when the server closes `stream` (end of file or a reset) within [`PROMPTLY`], having
/// answered nothing but what `read_to_end` collects.
pub async fn closed_by_server<S: Conn>(stream: &mut S) -> bool {
    let mut rest = Vec::new();
    tokio::time::timeout(PROMPTLY, stream.read_to_end(&mut rest))
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_connections_and_500_event_streams_leave_room_for_a_client() {
    flood(Client::Plain, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_flood_over_tls_leaves_room_for_a_client() {
    let tls = test_tls();
    flood(tls.client.clone(), Some(tls.server.clone())).await;
}

/// [`IDLE`] connections that send nothing (under TLS: not even a handshake), then [`STREAMS`]
/// event streams asked for, each on its own connection: the first [`MAX_EVENT_STREAMS`] are let
/// in and held, the rest answered 503; then a normal client gets its answer.
async fn flood(client: Client, tls: Option<ServerTls>) {
    // Each connection costs two descriptors here: the client's and the server's end.
    let limit = raise_fd_limit();
    let room = (limit.saturating_sub(200) / 2) as usize;
    let idle = IDLE.min(room.saturating_sub(STREAMS));
    assert!(
        idle > 0,
        "a descriptor limit of {limit} leaves no room for the test"
    );
    if idle < IDLE {
        eprintln!("the descriptor limit ({limit}) holds {idle} idle connections, not {IDLE}");
    }
    // Longer than the test, so that no idle connection is closed before the client's turn.
    let limits = Limits {
        header_read_timeout: Duration::from_secs(300),
    };
    let server = serve_over(Hub::new(), limits, tls).await;
    let addr = server.addr();

    let mut idlers = Vec::with_capacity(idle);
    for _ in 0..idle {
        idlers.push(TcpStream::connect(addr).await.expect("an idle connection"));
    }
    let mut open = Vec::with_capacity(MAX_EVENT_STREAMS);
    let mut refused = 0;
    for _ in 0..STREAMS {
        let (stream, head) = open_stream_on(client.connect(addr).await, addr, VIEWER).await;
        if head.starts_with("HTTP/1.1 200") {
            open.push(stream);
        } else {
            assert!(head.starts_with("HTTP/1.1 503"), "{head}");
            assert!(
                head.to_ascii_lowercase().contains("retry-after: 5"),
                "{head}"
            );
            refused += 1;
        }
    }
    assert_eq!(open.len(), MAX_EVENT_STREAMS, "the cap, and no fewer");
    assert_eq!(refused, STREAMS - MAX_EVENT_STREAMS);

    let auth = format!("Bearer {VIEWER}");
    let runs = client
        .request(addr, "GET", "/api/runs", &[("Authorization", &auth)])
        .await;
    assert_eq!(runs.status, 200, "{}", runs.text());
    assert_eq!(runs.json(), serde_json::json!([]));
    assert_eq!(
        idlers.len(),
        idle,
        "the idle connections were held throughout"
    );

    // The stop ends every stream and closes every connection, idle or not.
    tokio::time::timeout(PROMPTLY, server.shutdown())
        .await
        .expect("the server stops in time");
    for stream in open.iter_mut().take(3) {
        assert!(closed_by_server(stream).await, "closed at the stop");
    }
    for stream in idlers.iter_mut().take(3) {
        assert!(closed_by_server(stream).await, "closed at the stop");
    }
}

#[tokio::test]
async fn a_ten_megabyte_body_is_refused_with_413_before_it_is_read() {
    let server = serve_hub(Hub::new(), Limits::default()).await;
    let addr = server.addr();
    for auth in [
        format!("Authorization: Bearer {OPERATOR}\r\n"),
        String::new(),
    ] {
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        // Only the head: the answer must not wait for the body.
        let head = format!(
            "POST /api/runs HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            10 << 20
        );
        stream.write_all(head.as_bytes()).await.expect("sends");
        let (_, head) = read_head(stream).await;
        assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    }
    // A body within the limit goes on to the handler (which starts no runs here).
    let small = request(addr, "POST", "/api/runs", Some(OPERATOR)).await;
    assert_eq!(small.status, 501, "{}", small.text());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_stalling_in_its_request_head_is_cut_off_and_event_streams_are_not() {
    let hub = Hub::new();
    let limits = Limits {
        header_read_timeout: Duration::from_secs(1),
    };
    let server = serve_hub(hub.clone(), limits).await;
    let addr = server.addr();
    let (mut events, head) = open_stream(addr, VIEWER).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    let mut stalled = TcpStream::connect(addr).await.expect("connects");
    let half = format!("GET /api/runs HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bea");
    stalled.write_all(half.as_bytes()).await.expect("sends");
    let mut silent = TcpStream::connect(addr).await.expect("connects");
    assert!(
        closed_by_server(&mut stalled).await,
        "a half head is cut off"
    );
    assert!(
        closed_by_server(&mut silent).await,
        "a connection without a request is closed too"
    );

    // The stream has been open longer than the timeout and still carries what is published.
    hub.add_failed("run-late", "p", RunSource::Local, "published after the cut");
    assert!(read_until(&mut events, "published after the cut").await);
    server.shutdown().await;
}

/// A run's control that counts the pauses it was asked for.
#[derive(Default)]
struct Counted {
    pauses: AtomicUsize,
}

impl RunControl for Counted {
    fn stop(&self, _reason: String) -> ControlFuture {
        Box::pin(async { Ok(()) })
    }

    fn can_pause(&self) -> bool {
        true
    }

    fn pause(&self) -> ControlFuture {
        self.pauses.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }

    fn resume(&self) -> ControlFuture {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_state_changing_request_from_another_site_is_forbidden() {
    let hub = Hub::new();
    let control = Arc::new(Counted::default());
    hub.open_run(RunOpen {
        id: "run-1".into(),
        plan: Arc::new(compile(&plan_source(5), "http://127.0.0.1:9")),
        plan_hash: "h".into(),
        started_at: SystemTime::now(),
        source: RunSource::Cluster,
        status: RunStatus::Running,
        control: Some(control.clone()),
    });
    let server = serve_hub(hub, Limits::default()).await;
    let addr = server.addr();
    let bearer = format!("Bearer {OPERATOR}");
    let cookie = format!("ptl_token={OPERATOR}");
    let own = format!("http://{addr}");
    let pause = "/api/runs/run-1/pause";

    // The page sets the cookie so that no other site's request carries it.
    let page = request(addr, "GET", &format!("/?token={OPERATOR}"), None).await;
    assert!(page.head.contains("SameSite=Strict"), "{}", page.head);

    for headers in [
        [
            ("Authorization", bearer.as_str()),
            ("Origin", "http://evil.example"),
        ],
        [
            ("Cookie", cookie.as_str()),
            ("Origin", "http://evil.example"),
        ],
        [("Cookie", cookie.as_str()), ("Origin", "null")],
    ] {
        let refused = request_with(addr, "POST", pause, &headers).await;
        assert_eq!(refused.status, 403, "{headers:?}: {}", refused.text());
        assert!(refused.json()["error"].is_string());
    }
    let start = [
        ("Cookie", cookie.as_str()),
        ("Origin", "http://evil.example"),
    ];
    assert_eq!(
        request_with(addr, "POST", "/api/runs", &start).await.status,
        403
    );
    assert_eq!(
        control.pauses.load(Ordering::SeqCst),
        0,
        "nothing reached the run"
    );

    // Looking from another site is not refused (the CSP and the token guard that).
    let look = [
        ("Authorization", bearer.as_str()),
        ("Origin", "http://evil.example"),
    ];
    assert_eq!(
        request_with(addr, "GET", "/api/runs", &look).await.status,
        200
    );

    // The page's own requests, and those without an Origin (scripts, curl), go on as before.
    let same = [("Cookie", cookie.as_str()), ("Origin", own.as_str())];
    let paused = request_with(addr, "POST", pause, &same).await;
    assert_eq!(paused.status, 202, "{}", paused.text());
    assert_eq!(control.pauses.load(Ordering::SeqCst), 1);
    let resumed = request(addr, "POST", "/api/runs/run-1/resume", Some(OPERATOR)).await;
    assert_eq!(resumed.status, 202, "{}", resumed.text());
    server.shutdown().await;
}
