//! The dashboard facing a network, from the real binary: `--http-tls-cert`/`--http-tls-key` on
//! `ptl run --dashboard` and `ptl coordinator --http` (HTTPS with a certificate from a test CA
//! made here; a plain-HTTP client told to use https://), bad or mismatched files and TLS flags
//! without a dashboard refused with exit 2; and secrets (the operator and viewer tokens, an
//! `env()` secret of the plan) never in the dashboard's answers (page, `/metrics`, `/api/*`,
//! events), its logs (stderr, stdout) or the result files.

use crate::support::{assert_exit, env_secret_plan, result_flags, stderr, Proc, RESULT_FILES};
use ptl_test_support::tls::{client_trusting, issued_server};
use ptl_test_support::ZkServer;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, ClientConnection, StreamOwned};

fn ptl() -> std::process::Command {
    let mut c = crate::support::ptl();
    c.env_remove("PTL_TOKEN").env_remove("PTL_VIEWER_TOKEN");
    c
}

/// A server certificate for 127.0.0.1 from a fresh test CA, its files in `dir`, and a client
/// trusting that CA.
struct Identity {
    cert: PathBuf,
    key: PathBuf,
    client: Arc<ClientConfig>,
}

fn identity(dir: &Path, name: &str) -> Identity {
    let issued = issued_server(&["127.0.0.1"]);
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, &issued.cert_pem).unwrap();
    std::fs::write(&key, &issued.key_pem).unwrap();
    Identity {
        cert,
        key,
        client: client_trusting(&issued.ca_pem),
    }
}

impl Identity {
    fn flags(&self) -> [&std::ffi::OsStr; 4] {
        [
            "--http-tls-cert".as_ref(),
            self.cert.as_os_str(),
            "--http-tls-key".as_ref(),
            self.key.as_os_str(),
        ]
    }
}

/// One HTTP/1.0 exchange over TLS (so the body is never chunked: a secret cannot hide across
/// a chunk boundary), reading until the server closes or `enough` says the answer so far
/// suffices; the status and the whole answer, head included.
fn https(
    client: &Arc<ClientConfig>,
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    enough: impl Fn(&str) -> bool,
) -> (u16, String) {
    let tcp = TcpStream::connect(addr).expect("connects to the dashboard");
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let ip = addr.parse::<std::net::SocketAddr>().unwrap().ip();
    let conn = ClientConnection::new(client.clone(), ServerName::IpAddress(ip.into())).unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        tls,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\n\r\n"
    )
    .expect("sends over TLS");
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        match tls.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            // A close without close_notify, after the whole answer.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("reading {path}: {e}"),
        }
        if enough(&String::from_utf8_lossy(&raw)) {
            break;
        }
    }
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, raw)
}

fn get(client: &Arc<ClientConfig>, addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    https(client, addr, "GET", path, token, |_| false)
}

/// The `https://` address a `ptl` process printed after `prefix` on stderr.
fn printed_addr(log: &Path, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(at) = text.find(prefix) {
            let rest = &text[at + prefix.len()..];
            return rest.split('/').next().unwrap_or_default().to_string();
        }
        assert!(Instant::now() < deadline, "no https address: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Plain HTTP to the HTTPS port: a 400 saying to use https://.
fn plain_http_is_told_to_use_https(addr: &str) {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET /api/runs HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
    assert!(raw.contains("https://"), "{raw}");
}

const OPERATOR: &str = "op-0f3c9a7e-secret";
const VIEWER: &str = "view-5d1b2c8a-secret";

#[test]
fn secrets_never_reach_the_dashboard_its_logs_or_the_results() {
    let dir = tempfile::tempdir().unwrap();
    let tls = identity(dir.path(), "dash");
    let plan = dir.path().join("secrets.ptl");
    std::fs::write(&plan, env_secret_plan(60)).unwrap();
    let server = ptl_test_support::counting_server::server();
    let secret = format!("env-s3cr3t-{}", std::process::id());
    let path = |f: &str| dir.path().join(f);

    let mut command = ptl();
    command
        .arg("run")
        .arg(&plan)
        .args(["--set", &format!("target={}", server.url())])
        .args(["--dashboard", "127.0.0.1:0"])
        .args(tls.flags())
        .args(result_flags(dir.path()))
        .env("PTL_TOKEN", OPERATOR)
        .env("PTL_VIEWER_TOKEN", VIEWER)
        .env("PTL_TEST_ENV_SECRET", &secret);
    let stdout = std::fs::File::create(path("stdout")).unwrap();
    command.stdout(stdout);
    let log = path("run.log");
    command.stderr(std::fs::File::create(&log).unwrap());
    let mut child = command.spawn().expect("ptl run starts");
    let addr = printed_addr(&log, "dashboard: https://");

    // Wait for requests to be counted, so the answers hold the run's data.
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let (status, raw) = get(&tls.client, &addr, "/api/runs", Some(VIEWER));
        assert_eq!(status, 200, "{raw}");
        let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let runs: serde_json::Value = serde_json::from_str(body).expect("JSON");
        if runs[0]["requests"].as_u64().unwrap_or(0) > 0 {
            break runs[0]["id"].as_str().expect("an id").to_string();
        }
        assert!(Instant::now() < deadline, "no requests counted: {runs}");
        std::thread::sleep(Duration::from_millis(200));
    };

    let mut answers = Vec::new();
    for p in [
        "/".to_string(),
        "/metrics".to_string(),
        "/api/runs".to_string(),
        "/api/peers".to_string(),
        format!("/api/runs/{id}"),
        format!("/api/runs/{id}/view"),
        format!("/api/runs/{id}/report"),
    ] {
        let (status, raw) = get(&tls.client, &addr, &p, Some(VIEWER));
        assert_eq!(status, 200, "{p}: {raw}");
        answers.push((p, raw));
    }
    // A wrong token is not echoed back.
    let (status, raw) = get(&tls.client, &addr, "/api/runs", Some("wrong-4e7a-token"));
    assert_eq!(status, 401, "{raw}");
    assert!(!raw.contains("wrong-4e7a-token"), "{raw}");
    answers.push(("/api/runs (401)".to_string(), raw));
    let (status, raw) = https(&tls.client, &addr, "GET", "/events", Some(VIEWER), |seen| {
        seen.split_once("event: snapshot")
            .is_some_and(|(_, rest)| rest.contains("\n\n"))
    });
    assert_eq!(status, 200, "{raw}");
    assert!(raw.contains(&id), "the snapshot shows the run: {raw}");
    answers.push(("/events".to_string(), raw));
    plain_http_is_told_to_use_https(&addr);

    let (status, raw) = https(
        &tls.client,
        &addr,
        "POST",
        &format!("/api/runs/{id}/stop"),
        Some(OPERATOR),
        |_| false,
    );
    assert_eq!(status, 202, "{raw}");
    let exited = child.wait().expect("ptl run ends");
    assert_eq!(
        exited.code(),
        Some(0),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    // The secret was used: the target saw it.
    let auth = server.state.authorization.lock().expect("lock").clone();
    assert_eq!(auth, Some(format!("Bearer {secret}")));

    let mut outputs: Vec<(String, String)> = answers;
    let files = RESULT_FILES.iter().map(|(_, f)| *f);
    for f in files.chain(["stdout", "run.log"]) {
        let bytes = std::fs::read(path(f)).expect("written");
        outputs.push((f.to_string(), String::from_utf8_lossy(&bytes).into_owned()));
    }
    for (what, text) in &outputs {
        for s in [OPERATOR, VIEWER, secret.as_str()] {
            assert!(!text.contains(s), "{what} holds the secret {s}:\n{text}");
        }
    }
    let result = crate::support::json(&path("r.json"));
    assert_eq!(result["stop_reason"], "stopped from the dashboard");
}

#[test]
fn a_coordinator_serves_its_dashboard_over_https_and_keeps_tokens_out_of_it() {
    let zk = ZkServer::start();
    let dir = tempfile::tempdir().unwrap();
    let tls = identity(dir.path(), "coord");
    let mut command = ptl();
    command
        .args(["coordinator", "--zk", &zk.connect_string(), "--name", "c1"])
        .args(["--http", "127.0.0.1:0"])
        .args(tls.flags())
        .env("PTL_TOKEN", OPERATOR)
        .env("PTL_VIEWER_TOKEN", VIEWER);
    let coordinator = Proc::spawn_command(dir.path(), "c1", command);
    let addr = printed_addr(&coordinator.log, "dashboard at https://");

    let (status, raw) = get(&tls.client, &addr, "/api/runs", None);
    assert_eq!(status, 401, "{raw}");
    let mut answers = Vec::new();
    for p in ["/", "/api/runs", "/api/plans", "/api/peers", "/metrics"] {
        let (status, raw) = get(&tls.client, &addr, p, Some(VIEWER));
        assert_eq!(status, 200, "{p}: {raw}");
        answers.push(raw);
    }
    plain_http_is_told_to_use_https(&addr);
    answers.push(coordinator.log());
    for text in &answers {
        assert!(!text.contains(OPERATOR) && !text.contains(VIEWER), "{text}");
    }
}

#[test]
fn bad_tls_files_and_tls_without_a_dashboard_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let one = identity(dir.path(), "one");
    let two = identity(dir.path(), "two");
    let missing = dir.path().join("missing.crt");
    let plan = dir.path().join("p.ptl");
    std::fs::write(&plan, env_secret_plan(1)).unwrap();
    let mismatched = [
        "--http-tls-cert".as_ref(),
        one.cert.as_os_str(),
        "--http-tls-key".as_ref(),
        two.key.as_os_str(),
    ];
    let absent = [
        "--http-tls-cert".as_ref(),
        missing.as_os_str(),
        "--http-tls-key".as_ref(),
        one.key.as_os_str(),
    ];
    let cases: [(&[&std::ffi::OsStr], &str); 2] = [
        (&mismatched, "the key does not belong to the certificate"),
        (&absent, "missing.crt"),
    ];
    for (flags, says) in cases {
        // Checked before anything is sent, and before ZooKeeper is dialled.
        let run = ptl()
            .arg("run")
            .arg(&plan)
            .args(["--dashboard", "127.0.0.1:0"])
            .args(flags)
            .env("PTL_TEST_ENV_SECRET", "x")
            .output()
            .unwrap();
        assert_exit(&run, 2);
        assert!(stderr(&run).contains(says), "{}", stderr(&run));
        let coordinator = ptl()
            .args([
                "coordinator",
                "--zk",
                "127.0.0.1:1",
                "--http",
                "127.0.0.1:0",
            ])
            .args(flags)
            .output()
            .unwrap();
        assert_exit(&coordinator, 2);
        assert!(
            stderr(&coordinator).contains(says),
            "{}",
            stderr(&coordinator)
        );
        for o in [&run, &coordinator] {
            assert!(!stderr(o).contains("panicked"), "{}", stderr(o));
        }
    }
    let without = ptl()
        .arg("run")
        .arg(&plan)
        .args(one.flags())
        .output()
        .unwrap();
    assert_exit(&without, 2);
    assert!(
        stderr(&without).contains("--dashboard"),
        "{}",
        stderr(&without)
    );
    let half = ptl()
        .arg("run")
        .arg(&plan)
        .args(["--dashboard", "127.0.0.1:0", "--http-tls-cert"])
        .arg(&one.cert)
        .output()
        .unwrap();
    assert_exit(&half, 2);
    assert!(
        stderr(&half).contains("--http-tls-key"),
        "{}",
        stderr(&half)
    );
}
