//! The connection against scripted servers on 127.0.0.1 that write exactly the bytes a test
//! gives them, split and timed as it says.

use super::*;
use crate::http::request;
use crate::http::ProtocolError;
use crate::record::ErrorClass;
use http::{HeaderValue, Method};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

enum Step {
    /// Reads one request (head and content-length body) and keeps it.
    Read,
    Write(&'static [u8]),
    /// Lets the written bytes reach the client as a separate read.
    Pause,
    Close,
    Reset,
    /// Never answers (until the client gives up).
    Hold,
}

/// Serves one connection with `script`; the handle yields the requests it read.
async fn serve(script: Vec<Step>) -> (SocketAddr, JoinHandle<Vec<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        let _ = s.set_nodelay(true);
        let mut requests = Vec::new();
        let mut buf = Vec::new();
        for step in script {
            match step {
                Step::Read => requests.push(read_request(&mut s, &mut buf).await),
                Step::Write(b) => s.write_all(b).await.expect("write"),
                Step::Pause => tokio::time::sleep(Duration::from_millis(20)).await,
                Step::Close => return requests,
                Step::Reset => {
                    let _ = SockRef::from(&s).set_linger(Some(Duration::ZERO));
                    return requests;
                }
                Step::Hold => {
                    let mut sink = [0u8; 64];
                    while s.read(&mut sink).await.is_ok_and(|n| n > 0) {}
                    return requests;
                }
            }
        }
        // Keep the connection open until the client is done with it.
        let mut sink = [0u8; 64];
        while s.read(&mut sink).await.is_ok_and(|n| n > 0) {}
        requests
    });
    (addr, handle)
}

async fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>) -> Vec<u8> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let total = end + 4 + len;
            if buf.len() >= total {
                return buf.drain(..total).collect();
            }
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the client closed in the middle of a request");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn get() -> Vec<u8> {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("t"));
    let mut out = Vec::new();
    request::encode(&Method::GET, "/x", &h, b"", &mut out);
    out
}

fn soon() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(5)
}

const ALL: Want = Want {
    headers: true,
    body: true,
};

async fn answer(conn: &mut Connection, want: Want) -> Response {
    match conn.send(&get(), false, want, soon()).await {
        SendOutcome::Response(r) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// Serves `script` on one connection and sends one GET on it: the outcome, and whether the
/// connection could carry another request afterwards.
async fn once(script: Vec<Step>) -> (SendOutcome, bool) {
    let (addr, server) = serve(script).await;
    let mut conn = Connection::open(addr).await.expect("connects");
    let outcome = conn.send(&get(), false, ALL, soon()).await;
    let open = conn.is_open();
    drop(conn);
    server.await.expect("server");
    (outcome, open)
}

/// [`once`], expecting an answer.
async fn answered_once(script: Vec<Step>) -> (Response, bool) {
    match once(script).await {
        (SendOutcome::Response(r), open) => (r, open),
        (other, _) => panic!("expected a response, got {other:?}"),
    }
}

/// [`once`], expecting a failure.
async fn failed_once(script: Vec<Step>) -> (HttpError, bool) {
    match once(script).await {
        (SendOutcome::Failed(e), open) => (e, open),
        (other, _) => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn keep_alive_carries_requests_one_after_the_other() {
    let (addr, server) = serve(vec![
        Step::Read,
        Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Id: 1\r\n\r\nfirst"),
        Step::Read,
        Step::Write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 6\r\n\r\nsecond"),
    ])
    .await;
    let mut conn = Connection::open(addr).await.expect("connects");
    assert!(conn.is_fresh());
    let r = answer(&mut conn, ALL).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"first"[..]));
    assert_eq!(r.headers.as_ref().expect("asked for")["x-id"], "1");
    assert!(conn.is_open() && !conn.is_fresh());
    let r = answer(&mut conn, Want::default()).await;
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty() && r.headers.is_none(), "not asked for");
    assert!(conn.is_open());
    drop(conn);
    let requests = server.await.expect("server");
    assert_eq!(requests.len(), 2, "both on the one connection");
    assert_eq!(requests[0], b"GET /x HTTP/1.1\r\nhost: t\r\n\r\n");
}

#[tokio::test]
async fn a_chunked_answer_split_across_reads() {
    let (addr, server) = serve(vec![
        Step::Read,
        Step::Write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab"),
        Step::Pause,
        Step::Write(b"cd\r\n"),
        Step::Pause,
        Step::Write(b"3;x=y\r\nefg\r\n0\r\nTrailer: t\r\n"),
        Step::Pause,
        Step::Write(b"\r\n"),
        Step::Read,
        Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ])
    .await;
    let mut conn = Connection::open(addr).await.expect("connects");
    let r = answer(&mut conn, ALL).await;
    assert_eq!(&r.body[..], b"abcdefg");
    assert!(conn.is_open());
    let r = answer(&mut conn, ALL).await;
    assert_eq!(&r.body[..], b"ok");
    drop(conn);
    server.await.expect("server");
}

#[tokio::test]
async fn a_large_body_grows_the_buffer() {
    static BIG: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let big = BIG.get_or_init(|| {
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut w =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        w.extend_from_slice(&body);
        w
    });
    let (addr, server) = serve(vec![Step::Read, Step::Write(big.as_slice())]).await;
    let mut conn = Connection::open(addr).await.expect("connects");
    let r = answer(&mut conn, ALL).await;
    assert_eq!(r.body.len(), 200_000);
    assert!(r
        .body
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i % 251) as u8));
    assert!(conn.is_open());
    drop(conn);
    server.await.expect("server");
}

#[tokio::test]
async fn a_body_until_close_ends_the_connection() {
    let (r, open) = answered_once(vec![
        Step::Read,
        Step::Write(b"HTTP/1.1 200 OK\r\n\r\nall"),
        Step::Pause,
        Step::Write(b" of it"),
        Step::Close,
    ])
    .await;
    assert_eq!(&r.body[..], b"all of it");
    assert!(!open);
}

#[tokio::test]
async fn connection_close_and_http_1_0_are_not_reused() {
    let (_, open) = answered_once(vec![
        Step::Read,
        Step::Write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
    ])
    .await;
    assert!(!open);

    let (_, open) = answered_once(vec![
        Step::Read,
        Step::Write(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ])
    .await;
    assert!(!open);
}

#[tokio::test]
async fn interim_answers_are_skipped() {
    let (r, open) = answered_once(vec![
        Step::Read,
        Step::Write(b"HTTP/1.1 100 Continue\r\n\r\n"),
        Step::Pause,
        Step::Write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx"),
    ])
    .await;
    assert_eq!((r.status, &r.body[..]), (201, &b"x"[..]));
    assert!(open);
}

#[tokio::test]
async fn a_head_answer_has_no_body_whatever_its_length() {
    let (addr, server) = serve(vec![
        Step::Read,
        Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
        Step::Read,
        Step::Write(b"HTTP/1.1 204 No Content\r\n\r\n"),
    ])
    .await;
    let mut conn = Connection::open(addr).await.expect("connects");
    let mut head = Vec::new();
    request::encode(&Method::HEAD, "/", &HeaderMap::new(), b"", &mut head);
    let SendOutcome::Response(r) = conn.send(&head, true, ALL, soon()).await else {
        panic!("an answer")
    };
    assert_eq!(r.status, 200);
    assert!(conn.is_open());
    let r = answer(&mut conn, ALL).await;
    assert_eq!(r.status, 204);
    assert!(conn.is_open());
    drop(conn);
    server.await.expect("server");
}

#[tokio::test]
async fn an_answer_cut_short_is_a_reset() {
    let (e, open) = failed_once(vec![
        Step::Read,
        Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
        Step::Close,
    ])
    .await;
    assert!(matches!(e, HttpError::Closed), "{e:?}");
    assert_eq!(e.class(), ErrorClass::Reset);
    assert!(!open);

    // Closed with nothing said at all.
    let (e, _) = failed_once(vec![Step::Read, Step::Close]).await;
    assert_eq!(e.class(), ErrorClass::Reset);

    // Reset in the middle of the head.
    let (e, _) = failed_once(vec![
        Step::Read,
        Step::Write(b"HTTP/1.1 200 OK\r\nConte"),
        Step::Pause,
        Step::Reset,
    ])
    .await;
    assert_eq!(e.class(), ErrorClass::Reset);
}

#[tokio::test]
async fn malformed_answers_are_protocol_errors() {
    let (e, _) = failed_once(vec![Step::Read, Step::Write(b"HTTP/1.1 OK\r\n\r\n")]).await;
    assert!(
        matches!(e, HttpError::Protocol(ProtocolError::Head)),
        "{e:?}"
    );
    assert_eq!(e.class(), ErrorClass::Io);

    let (e, _) = failed_once(vec![
        Step::Read,
        Step::Write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
    ])
    .await;
    assert!(matches!(e, HttpError::Protocol(ProtocolError::Chunk)));
}

#[tokio::test]
async fn extra_bytes_after_an_answer_end_the_connection() {
    let (_, open) = answered_once(vec![
        Step::Read,
        Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n"),
    ])
    .await;
    assert!(!open);
}

#[tokio::test]
async fn no_answer_within_the_deadline_is_a_timeout() {
    let (addr, server) = serve(vec![Step::Read, Step::Hold]).await;
    let mut conn = Connection::open(addr).await.expect("connects");
    let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
    let SendOutcome::Failed(e) = conn.send(&get(), false, ALL, deadline).await else {
        panic!("a failure")
    };
    assert!(matches!(e, HttpError::Timeout));
    assert!(tokio::time::Instant::now() >= deadline);
    assert!(!conn.is_open(), "an abandoned exchange is not reused");
    drop(conn);
    server.await.expect("server");
}

#[tokio::test]
async fn a_connection_closed_while_idle_sends_nothing() {
    let (addr, server) = serve(vec![
        Step::Read,
        Step::Write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        Step::Close,
    ])
    .await;
    let mut conn = Connection::open(addr).await.expect("connects");
    answer(&mut conn, ALL).await;
    assert!(conn.is_open(), "the answer said nothing about closing");
    let requests = server.await.expect("server");
    assert_eq!(requests.len(), 1);
    // The close has arrived once the socket turns readable.
    conn.stream.tcp().readable().await.expect("readable");
    assert!(matches!(
        conn.send(&get(), false, ALL, soon()).await,
        SendOutcome::NotSent
    ));
    assert!(!conn.is_open());
}

#[tokio::test]
async fn unanswered_requests_are_written_whole() {
    let (addr, server) = serve(vec![Step::Read]).await;
    let mut conn = Connection::open(addr).await.expect("connects");
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("t"));
    let mut post = Vec::new();
    request::encode(&Method::POST, "/p", &h, b"payload", &mut post);
    conn.send_unanswered(&post, soon()).await;
    assert!(!conn.is_open());
    conn.close();
    let requests = server.await.expect("server");
    assert_eq!(
        requests,
        [b"POST /p HTTP/1.1\r\nhost: t\r\ncontent-length: 7\r\n\r\npayload".to_vec()]
    );
}
