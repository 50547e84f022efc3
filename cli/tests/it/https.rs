//! End-to-end tests of `ptl run` against an `https://` target: the real binary and a small TLS
//! server on 127.0.0.1 (rustls, a self-signed certificate made with rcgen, HTTP/1.1 keep-alive
//! answering every GET with 200). They assert the flags a user relies on: `--ca-cert` trusts
//! the certificate, without it every request is a `tls` error, `--insecure` works and warns,
//! a CA file that cannot be used is a usage error before anything is sent, and against a server
//! requiring a client certificate, `--client-cert`/`--client-key` make the run pass (the two
//! flags go together, and unusable files are usage errors), for `ptl run` and for a `ptl agent`
//! running a submitted plan (with a real ZooKeeper).

use crate::support::{assert_exit, assert_sent_without_errors, json, ptl, stderr, Proc};
use ptl_test_support::ZkServer;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

const PLAN: &str = r#"plan "tls" {
  param target = "https://127.0.0.1:9"
  target target
  timeout 2s
  connections 4
  request hello { GET "/" }
  phase steady { rate 50/s for 1s }
}
"#;

struct TlsServer {
    url: String,
    requests: Arc<AtomicU64>,
    ca_file: PathBuf,
}

/// Starts the server (on its own thread, see [`crate::support::listen`]); it lives until the test
/// process ends.
fn tls_server(dir: &Path) -> TlsServer {
    tls_server_with(dir, crate::support::tls::self_signed(&["127.0.0.1"], &[]))
}

/// A server requiring a client certificate of `clients`.
fn mtls_server(dir: &Path, clients: &crate::support::tls::ClientCa) -> TlsServer {
    tls_server_with(
        dir,
        crate::support::tls::self_signed_requiring(&["127.0.0.1"], &[], clients),
    )
}

fn tls_server_with(dir: &Path, cert: crate::support::tls::SelfSigned) -> TlsServer {
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &cert.pem).expect("write CA file");
    let acceptor = cert.acceptor;
    let requests = Arc::new(AtomicU64::new(0));
    let counted = requests.clone();
    let addr = crate::support::listen::listen(move |stream| {
        serve(acceptor.clone(), stream, counted.clone())
    });
    TlsServer {
        url: format!("https://{addr}"),
        requests,
        ca_file,
    }
}

/// Answers each request head (GETs: no body) with a 200, on one connection until it closes.
async fn serve(acceptor: TlsAcceptor, stream: TcpStream, requests: Arc<AtomicU64>) {
    let Ok(mut tls) = acceptor.accept(stream).await else {
        return;
    };
    let mut pending = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            pending.drain(..end + 4);
            requests.fetch_add(1, Ordering::SeqCst);
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            if tls.write_all(answer).await.is_err() || tls.flush().await.is_err() {
                return;
            }
        }
        match tls.read(&mut chunk).await {
            Ok(n) if n > 0 => pending.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
}

fn write_plan(dir: &Path) -> PathBuf {
    let plan = dir.join("plan.ptl");
    std::fs::write(&plan, PLAN).expect("write plan");
    plan
}

fn run(dir: &Path, target: &str, extra: &[&str]) -> (Output, PathBuf) {
    let plan = write_plan(dir);
    let out = dir.join("r.json");
    let _ = std::fs::remove_file(&out);
    let o = crate::support::run(&plan, target, &out, extra);
    (o, out)
}

#[test]
fn a_trusted_ca_file_makes_an_https_run_pass() {
    let dir = tempfile::tempdir().expect("temp dir");
    let srv = tls_server(dir.path());
    let ca = srv.ca_file.to_str().expect("utf-8 path");
    let (o, out) = run(dir.path(), &srv.url, &["--ca-cert", ca]);
    assert_exit(&o, 0);
    let r = json(&out);
    let planned = assert_sent_without_errors(&r["phases"][0], 49..=51);
    assert_eq!(srv.requests.load(Ordering::SeqCst), planned);
    assert!(!stderr(&o).contains("the first failure"), "{}", stderr(&o));
}

#[test]
fn without_the_ca_every_request_is_a_tls_error_and_the_run_ends_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let srv = tls_server(dir.path());
    let (o, out) = run(dir.path(), &srv.url, &[]);
    assert_exit(&o, 0);
    let phase = &json(&out)["phases"][0];
    let planned = phase["planned"].as_u64().expect("planned");
    assert!(planned > 0);
    assert_eq!(phase["errors"].as_u64(), Some(planned));
    assert_eq!(phase["errors_by_class"]["tls"].as_u64(), Some(planned));
    assert_eq!(srv.requests.load(Ordering::SeqCst), 0);
    // The reason is told once, since the results only count.
    let err = stderr(&o);
    assert_eq!(err.matches("the first failure").count(), 1, "{err}");
    assert!(err.contains("UnknownIssuer"), "{err}");
}

#[test]
fn insecure_accepts_the_certificate_and_warns_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let srv = tls_server(dir.path());
    let (o, out) = run(dir.path(), &srv.url, &["--insecure"]);
    assert_exit(&o, 0);
    let err = stderr(&o);
    assert_eq!(err.matches("--insecure").count(), 1, "{err}");
    let phase = &json(&out)["phases"][0];
    assert_eq!(phase["errors"].as_u64(), Some(0));
    assert_eq!(
        srv.requests.load(Ordering::SeqCst),
        phase["request_count"].as_u64().expect("count")
    );
}

#[test]
fn a_ca_file_that_cannot_be_used_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let srv = tls_server(dir.path());
    let not_pem = dir.path().join("not-a-cert.pem");
    std::fs::write(&not_pem, "hello\n").expect("write");
    let missing = dir.path().join("missing.pem");
    for bad in [&not_pem, &missing] {
        let path = bad.to_str().expect("utf-8 path");
        let (o, out) = run(dir.path(), &srv.url, &["--ca-cert", path]);
        assert_exit(&o, 2);
        assert!(stderr(&o).contains(path), "{}", stderr(&o));
        assert!(!out.exists(), "no results for a run that never started");
    }
    assert_eq!(srv.requests.load(Ordering::SeqCst), 0);
}

#[test]
fn an_agent_refuses_a_bad_ca_file_before_joining_the_cluster() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.pem");
    let path = missing.to_str().expect("utf-8 path");
    // Nothing listens at the ZooKeeper address: the flag is checked before any connection.
    let o = ptl()
        .args(["agent", "--zk", "127.0.0.1:9", "--connect-timeout", "1s"])
        .args(["--ca-cert", path])
        .output()
        .expect("ptl agent runs");
    assert_exit(&o, 2);
    assert!(stderr(&o).contains(path), "{}", stderr(&o));
}

/// The client certificate and key of `clients` written as PEM files in `dir`.
fn client_files(dir: &Path, clients: &crate::support::tls::ClientCa) -> (String, String) {
    let cert = dir.join("client.pem");
    let key = dir.join("client-key.pem");
    std::fs::write(&cert, &clients.cert_pem).expect("write client certificate");
    std::fs::write(&key, &clients.key_pem).expect("write client key");
    let path = |p: PathBuf| p.to_str().expect("utf-8 path").to_string();
    (path(cert), path(key))
}

/// A server requiring a client certificate, the CA file that trusts it, and the client's
/// certificate and key files, in a temp dir.
struct Mtls {
    dir: tempfile::TempDir,
    srv: TlsServer,
    ca: String,
    cert: String,
    key: String,
}

impl Mtls {
    fn start() -> Mtls {
        let dir = tempfile::tempdir().expect("temp dir");
        let clients = crate::support::tls::client_ca();
        let srv = mtls_server(dir.path(), &clients);
        let ca = srv.ca_file.to_str().expect("utf-8 path").to_string();
        let (cert, key) = client_files(dir.path(), &clients);
        Mtls {
            dir,
            srv,
            ca,
            cert,
            key,
        }
    }
}

#[test]
fn a_client_certificate_makes_a_run_against_mutual_tls_pass() {
    let mtls = Mtls::start();
    let (dir, srv, ca) = (&mtls.dir, &mtls.srv, mtls.ca.as_str());
    let (cert, key) = (mtls.cert.as_str(), mtls.key.as_str());
    let (o, out) = run(
        dir.path(),
        &srv.url,
        &["--ca-cert", ca, "--client-cert", cert, "--client-key", key],
    );
    assert_exit(&o, 0);
    let planned = assert_sent_without_errors(&json(&out)["phases"][0], 49..=51);
    assert_eq!(srv.requests.load(Ordering::SeqCst), planned);

    // The same server, no client certificate: every request fails as `tls`, the run ends.
    let (o, out) = run(dir.path(), &srv.url, &["--ca-cert", ca]);
    assert_exit(&o, 0);
    let phase = &json(&out)["phases"][0];
    let planned = phase["planned"].as_u64().expect("planned");
    assert!(planned > 0);
    assert_eq!(phase["errors_by_class"]["tls"].as_u64(), Some(planned));
    // The server's alert is the reason told after the run.
    let err = stderr(&o);
    assert_eq!(err.matches("the first failure").count(), 1, "{err}");
    assert!(err.contains("CertificateRequired"), "{err}");
}

#[test]
fn client_cert_and_client_key_go_together_and_must_be_usable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clients = crate::support::tls::client_ca();
    let srv = mtls_server(dir.path(), &clients);
    let (cert, key) = client_files(dir.path(), &clients);
    for (alone, missing) in [
        (["--client-cert", &cert], "--client-key"),
        (["--client-key", &key], "--client-cert"),
    ] {
        let (o, out) = run(dir.path(), &srv.url, &alone);
        assert_exit(&o, 2);
        assert!(stderr(&o).contains(missing), "{}", stderr(&o));
        assert!(!out.exists(), "no results for a run that never started");
    }
    let other = crate::support::tls::client_ca();
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(&other_key, &other.key_pem).expect("write");
    let other_key = other_key.to_str().expect("utf-8 path");
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().expect("utf-8 path");
    for (c, k, says) in [
        (cert.as_str(), missing, missing),
        (missing, key.as_str(), missing),
        (key.as_str(), key.as_str(), "no PEM certificate"),
        (cert.as_str(), cert.as_str(), "no PEM private key"),
        (cert.as_str(), other_key, "does not belong"),
    ] {
        let (o, out) = run(
            dir.path(),
            &srv.url,
            &["--client-cert", c, "--client-key", k],
        );
        assert_exit(&o, 2);
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
        assert!(!out.exists(), "no results for a run that never started");
    }
    assert_eq!(srv.requests.load(Ordering::SeqCst), 0);
}

#[test]
fn an_agent_with_a_client_certificate_runs_a_submitted_plan_against_mutual_tls() {
    let mtls = Mtls::start();
    let (dir, srv, ca) = (&mtls.dir, &mtls.srv, mtls.ca.as_str());
    let (cert, key) = (mtls.cert.as_str(), mtls.key.as_str());
    let zk = ZkServer::start();
    let connect = zk.connect_string();
    let _coordinator = Proc::spawn(
        dir.path(),
        "coordinator",
        &["coordinator", "--zk", &connect, "--name", "tls-coordinator"],
    );
    let tls = ["--ca-cert", ca, "--client-cert", cert, "--client-key", key];
    let _agent = crate::support::agent_with(dir.path(), &connect, "tls-agent", &tls);
    let out = dir.path().join("r.json");
    let o = ptl()
        .arg("submit")
        .arg(write_plan(dir.path()))
        .args(["--zk", &connect, "--agents", "1"])
        .args(["--set", &format!("target={}", srv.url)])
        .args(["--wait", "--start-delay", "1s", "--agent-wait", "10s"])
        .args(["--timeout", "60s", "--out"])
        .arg(&out)
        .output()
        .expect("ptl submit runs");
    assert_exit(&o, 0);
    // The server takes no handshake without a certificate of `clients`: every request got
    // through, so the agent presented the one it was given.
    let planned = assert_sent_without_errors(&json(&out)["phases"][0], 49..=51);
    assert_eq!(srv.requests.load(Ordering::SeqCst), planned);
}

/// `key` (a PEM PKCS#8 key file) encrypted with `password`, as `openssl pkcs8 -topk8 -v2
/// aes-256-cbc` would write it.
fn encrypted_key(key: &str, password: &str) -> String {
    let pem = std::fs::read_to_string(key).expect("read key");
    let (_, der) = pkcs8::der::pem::decode_vec(pem.as_bytes()).expect("PEM");
    let info = pkcs8::PrivateKeyInfo::try_from(der.as_slice()).expect("PKCS#8");
    let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, &[1; 16], &[2; 16])
        .expect("parameters");
    let encrypted = info
        .encrypt_with_params(params, password)
        .expect("encrypts");
    encrypted
        .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::der::pem::LineEnding::LF)
        .expect("PEM")
        .to_string()
}

#[test]
fn an_encrypted_client_key_is_used_with_its_password_file() {
    let mtls = Mtls::start();
    let (dir, srv, ca) = (&mtls.dir, &mtls.srv, mtls.ca.as_str());
    let key = dir.path().join("encrypted-key.pem");
    std::fs::write(&key, encrypted_key(&mtls.key, "pass phrase")).expect("write key");
    let password = dir.path().join("password");
    std::fs::write(&password, "pass phrase\n").expect("write password");
    let (key, password) = (key.to_str().unwrap(), password.to_str().unwrap());
    let client = [
        "--ca-cert",
        ca,
        "--client-cert",
        &mtls.cert,
        "--client-key",
        key,
    ];
    let with_password = [&client[..], &["--client-key-password-file", password]].concat();
    let (o, out) = run(dir.path(), &srv.url, &with_password);
    assert_exit(&o, 0);
    let planned = assert_sent_without_errors(&json(&out)["phases"][0], 49..=51);
    assert_eq!(srv.requests.load(Ordering::SeqCst), planned);

    // Without the password: a usage error saying what is missing, before anything is sent.
    let (o, out) = run(dir.path(), &srv.url, &client);
    assert_exit(&o, 2);
    assert!(
        stderr(&o).contains("--client-key-password-file"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    assert_eq!(srv.requests.load(Ordering::SeqCst), planned);
}
