//! The dashboard over HTTPS (a server certificate issued by a test CA made here, loaded from
//! PEM files as `--http-tls-cert`/`--http-tls-key` load it): the page, the API and the event
//! stream served over TLS; the token cookie `Secure` there and `SameSite=Strict` both ways; bad,
//! missing or mismatched files refused with a clear error; and clients that fail or stall in
//! the handshake, or speak plain HTTP to the HTTPS port, cut off without disturbing anyone else.

use crate::common::*;
use crate::limits::{closed_by_server, read_head, read_until, serve_over};
use ptl_dashboard::model::RunSource;
use ptl_dashboard::server::{DashboardServer, Limits};
use ptl_dashboard::tls::ServerTls;
use ptl_dashboard::{DashboardError, Hub};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn serve_tls(tls: Option<ServerTls>, limits: Limits) -> DashboardServer {
    serve_over(Hub::new(), limits, tls).await
}

/// The `Set-Cookie` line of an answer's head.
fn set_cookie(head: &str) -> String {
    head.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no Set-Cookie in {head}"))
        .to_string()
}

#[tokio::test]
async fn https_serves_page_api_and_events_and_the_cookie_is_secure() {
    let tls = test_tls();
    let server = serve_tls(Some(tls.server.clone()), Limits::default()).await;
    let addr = server.addr();
    assert_eq!(server.url(), format!("https://{addr}/"));

    let page = tls
        .client
        .request(addr, "GET", &format!("/?token={OPERATOR}"), &[])
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("ptl dashboard"), "{}", page.text());
    let cookie = set_cookie(&page.head);
    assert!(
        cookie.contains(&format!("ptl_token={OPERATOR}")),
        "{cookie}"
    );
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    let auth = format!("Bearer {VIEWER}");
    let runs = tls
        .client
        .request(addr, "GET", "/api/runs", &[("Authorization", &auth)])
        .await;
    assert_eq!(runs.status, 200, "{}", runs.text());
    assert_eq!(runs.json(), serde_json::json!([]));
    assert_eq!(
        tls.client
            .request(addr, "GET", "/api/runs", &[])
            .await
            .status,
        401
    );

    let mut events = tls.client.connect(addr).await;
    let req =
        format!("GET /events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {VIEWER}\r\n\r\n");
    events.write_all(req.as_bytes()).await.expect("sends");
    let (mut events, head) = read_head(events).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(read_until(&mut events, "event: snapshot").await);
    server.shutdown().await;

    // Over plain HTTP the cookie cannot be Secure (the browser would never send it back), and
    // is SameSite=Strict all the same.
    let plain = serve_tls(None, Limits::default()).await;
    let page = request(plain.addr(), "GET", &format!("/?token={VIEWER}"), None).await;
    let cookie = set_cookie(&page.head);
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert_eq!(plain.url(), format!("http://{}/", plain.addr()));
    plain.shutdown().await;
}

#[test]
fn bad_missing_or_mismatched_files_are_clear_errors() {
    let tls = test_tls();
    let other = test_tls();
    let dir = tls.dir.path();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").expect("writes");
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n").expect("writes");
    let missing = dir.join("missing.pem");

    let cases = [
        (&missing, &tls.key, "TLS certificate file"),
        (&empty, &tls.key, "no PEM certificate in it"),
        (&garbage, &tls.key, "not valid PEM"),
        (&tls.key, &tls.key, "no PEM certificate in it"),
        (&tls.cert, &missing, "TLS key file"),
        (&tls.cert, &empty, "no PEM private key in it"),
        (&tls.cert, &tls.cert, "no PEM private key in it"),
        (
            &tls.cert,
            &other.key,
            "the key does not belong to the certificate",
        ),
    ];
    for (cert, key, says) in cases {
        let e = ServerTls::load(cert, key).expect_err(&format!("{cert:?} {key:?}"));
        let text = e.to_string();
        assert!(text.contains(says), "{cert:?} {key:?}: {text}");
        match e {
            DashboardError::TlsCert { path, .. } => assert_eq!(&path, cert),
            DashboardError::TlsKey { path, .. } => assert_eq!(&path, key),
            DashboardError::TlsIdentity { .. } => {}
            other => panic!("not a TLS error: {other}"),
        }
    }
    // The key never shows in what is printed about the identity.
    let key_pem = std::fs::read_to_string(&tls.key).expect("reads");
    let body = key_pem.lines().nth(1).expect("a key line");
    assert!(!format!("{:?}", tls.server).contains(body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_stalled_and_plain_http_handshakes_are_cut_off_and_the_server_serves_on() {
    let tls = test_tls();
    let limits = Limits {
        header_read_timeout: Duration::from_secs(1),
    };
    let hub = Hub::new();
    let server = serve_over(hub.clone(), limits, Some(tls.server.clone())).await;
    let addr = server.addr();
    let auth = format!("Bearer {VIEWER}");

    // An event stream opened first must outlive all of what follows.
    let mut events = tls.client.connect(addr).await;
    let req = format!("GET /events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\n\r\n");
    events.write_all(req.as_bytes()).await.expect("sends");
    let (mut events, head) = read_head(events).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // Slowloris on the handshake: nothing at all, or a record header announcing a ClientHello
    // that never comes. Both are closed after the timeout.
    let mut silent = TcpStream::connect(addr).await.expect("connects");
    let mut partial = TcpStream::connect(addr).await.expect("connects");
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x01, 0x00, 0x01])
        .await
        .expect("sends");
    assert!(
        closed_by_server(&mut silent).await,
        "a silent client is cut"
    );
    assert!(
        closed_by_server(&mut partial).await,
        "a stalled handshake is cut"
    );

    // A handshake record of garbage fails at once; so does a client that does not trust the
    // server's CA (its own handshake fails; the server only loses that connection).
    let mut garbage = TcpStream::connect(addr).await.expect("connects");
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef])
        .await
        .expect("sends");
    assert!(closed_by_server(&mut garbage).await);
    let stranger = test_tls();
    let Client::Tls(untrusting) = stranger.client else {
        unreachable!("a TLS client")
    };
    let tcp = TcpStream::connect(addr).await.expect("connects");
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    assert!(untrusting.connect(name, tcp).await.is_err());

    // Plain HTTP to the HTTPS port, many times: told to use https://, and nothing breaks.
    for _ in 0..50 {
        let plain = request(addr, "GET", "/api/runs", Some(VIEWER)).await;
        assert_eq!(plain.status, 400, "{}", plain.text());
        assert!(plain.text().contains("https://"), "{}", plain.text());
    }

    let runs = tls
        .client
        .request(addr, "GET", "/api/runs", &[("Authorization", &auth)])
        .await;
    assert_eq!(runs.status, 200, "{}", runs.text());
    // The stream has been open through all of it and still carries what is published.
    hub.add_failed(
        "run-late",
        "p",
        RunSource::Local,
        "published after the cut-offs",
    );
    assert!(read_until(&mut events, "published after the cut-offs").await);
    server.shutdown().await;
}
