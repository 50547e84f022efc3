//! A connection to the dashboard as the tests open it: plain TCP, or TLS trusting the test CA
//! that issued the server's certificate (written to files and loaded as `--http-tls-cert` and
//! `--http-tls-key` load it).

use super::{parse_answer, Answer};
use ptl_dashboard::tls::ServerTls;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A client's end of a connection, over TLS or not.
pub trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// How the tests reach a server.
#[derive(Clone)]
pub enum Client {
    Plain,
    Tls(TlsConnector),
}

impl Client {
    pub fn trusting(ca_pem: &str) -> Client {
        Client::Tls(TlsConnector::from(ptl_test_support::tls::client_trusting(
            ca_pem,
        )))
    }

    /// A connection to `addr` (on 127.0.0.1), the handshake done.
    pub async fn connect(&self, addr: SocketAddr) -> Box<dyn Conn> {
        let tcp = TcpStream::connect(addr).await.expect("connects");
        match self {
            Client::Plain => Box::new(tcp),
            Client::Tls(connector) => {
                let name = ServerName::IpAddress(addr.ip().into());
                let tls =
                    tokio::time::timeout(Duration::from_secs(20), connector.connect(name, tcp))
                        .await
                        .expect("the handshake ends in time")
                        .expect("the handshake succeeds");
                Box::new(tls)
            }
        }
    }

    /// One request on its own connection (`Connection: close`), bounded in time.
    pub async fn request(
        &self,
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        req.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
        let exchange = async {
            let mut conn = self.connect(addr).await;
            conn.write_all(req.as_bytes()).await.expect("sends");
            let mut raw = Vec::new();
            // A TLS peer closing without close_notify is an error after the whole answer.
            let _ = conn.read_to_end(&mut raw).await;
            raw
        };
        let raw = tokio::time::timeout(Duration::from_secs(20), exchange)
            .await
            .expect("the dashboard answers in time");
        parse_answer(&raw)
    }
}

/// A server identity issued by a fresh test CA for 127.0.0.1, loaded from PEM files as the
/// flags load it, and a client trusting that CA.
pub struct TestTls {
    pub server: ServerTls,
    pub client: Client,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub dir: tempfile::TempDir,
}

pub fn test_tls() -> TestTls {
    let issued = ptl_test_support::tls::issued_server(&["127.0.0.1"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, &issued.cert_pem).expect("writes");
    std::fs::write(&key, &issued.key_pem).expect("writes");
    TestTls {
        server: ServerTls::load(&cert, &key).expect("a good identity loads"),
        client: Client::trusting(&issued.ca_pem),
        cert,
        key,
        dir,
    }
}
