//! TLS to ZooKeeper's secure client port (`--zk-tls-ca`, `--zk-tls-cert`, `--zk-tls-key`): the
//! CA that signs the ensemble's certificates and, for an ensemble that requires one, this
//! process's own certificate. The files are read and checked once, at start, so a bad one is a
//! usage error naming it, not a failure later. When a connection fails, a handshake of our own
//! says why (zookeeper-client reports only "connection loss").

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use zookeeper_client::TlsOptions;

use crate::error::ClusterError;

/// The TLS settings of every session of this process.
#[derive(Clone)]
pub struct ZkTls {
    ca_file: PathBuf,
    identity_files: Option<(PathBuf, PathBuf)>,
    options: TlsOptions,
    /// The same trust and identity, for [`ZkTls::diagnose`]'s handshakes.
    probe: Arc<ClientConfig>,
}

/// Why a TLS connection to a server failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HandshakeFailure {
    /// `host:port`.
    pub(crate) server: String,
    pub(crate) why: String,
    /// Retrying cannot help (a certificate refused, by either side), as opposed to a server
    /// that closed the connection or did not answer (not a TLS port, or not started yet).
    pub(crate) permanent: bool,
}

impl ZkTls {
    /// Reads the CA's certificates and, if given, this process's certificate and key (PEM).
    pub fn read(ca: &Path, identity: Option<(&Path, &Path)>) -> Result<ZkTls, ClusterError> {
        let ca_pem = read(ca)?;
        let roots = certificates(ca, &ca_pem)?;
        let mut store = RootCertStore::empty();
        for root in roots {
            store
                .add(root)
                .map_err(|e| bad(ca, format!("not a CA certificate: {e}")))?;
        }
        let mut options = TlsOptions::new()
            .with_pem_ca(&ca_pem)
            .map_err(|e| bad(ca, e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(ca, e.to_string()))?
            .with_root_certificates(store);
        let probe = match identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let cert_pem = read(cert)?;
                let key_pem = read(key)?;
                let chain = certificates(cert, &cert_pem)?;
                let private = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
                    .map_err(|e| bad(key, format!("no private key in PEM ({e})")))?;
                options = options
                    .with_pem_identity(&cert_pem, &key_pem)
                    .map_err(|e| bad(key, e.to_string()))?;
                builder
                    .with_client_auth_cert(chain, private)
                    .map_err(|e| bad(key, format!("does not go with {}: {e}", cert.display())))?
            }
        };
        Ok(ZkTls {
            ca_file: ca.to_owned(),
            identity_files: identity.map(|(c, k)| (c.to_owned(), k.to_owned())),
            options,
            probe: Arc::new(probe),
        })
    }

    pub(crate) fn options(&self) -> TlsOptions {
        // zookeeper-client builds its rustls config with the process's default provider, which
        // must be chosen when the build links two (ring, ours, and aws-lc-rs, rustls' default
        // that zookeeper-client's `tls` feature turns on). Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        self.options.clone()
    }

    /// Shakes hands with each server of `connect` (`host:port,…`) as a session would; the
    /// first failure, or `None` when every handshake succeeds.
    pub(crate) async fn diagnose(
        &self,
        connect: &str,
        timeout: Duration,
    ) -> Option<HandshakeFailure> {
        for server in connect.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let server = server.trim_start_matches("tcp+tls://");
            if let Err((why, permanent)) = self.handshake(server, timeout).await {
                return Some(HandshakeFailure {
                    server: server.to_owned(),
                    why,
                    permanent,
                });
            }
        }
        None
    }

    async fn handshake(&self, server: &str, timeout: Duration) -> Result<(), (String, bool)> {
        let (host, _) = server
            .rsplit_once(':')
            .ok_or_else(|| ("expected host:port".to_owned(), true))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| (format!("{host:?} is not a host name: {e}"), true))?;
        let attempt = async {
            let tcp = TcpStream::connect(server).await?;
            TlsConnector::from(self.probe.clone())
                .connect(name, tcp)
                .await
                .map(drop)
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(explain(e)),
            Err(_) => Err((format!("no TLS handshake within {timeout:?}"), false)),
        }
    }
}

/// A TLS error (a certificate refused, an alert) is permanent; a closed or refused connection
/// may be a server still starting.
fn explain(error: std::io::Error) -> (String, bool) {
    let tls = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .cloned();
    match tls {
        Some(tls) => (tls.to_string(), true),
        None if error.kind() == std::io::ErrorKind::UnexpectedEof => (
            "the server closed the connection during the TLS handshake (is this ZooKeeper's \
             secure client port?)"
                .to_owned(),
            false,
        ),
        None => (error.to_string(), false),
    }
}

/// The files, never the keys, show in `{:?}`.
impl fmt::Debug for ZkTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZkTls")
            .field("ca_file", &self.ca_file)
            .field("identity_files", &self.identity_files)
            .finish()
    }
}

/// Two settings are the same when read from the same files.
impl PartialEq for ZkTls {
    fn eq(&self, other: &ZkTls) -> bool {
        self.ca_file == other.ca_file && self.identity_files == other.identity_files
    }
}

impl Eq for ZkTls {}

fn read(file: &Path) -> Result<String, ClusterError> {
    std::fs::read_to_string(file).map_err(|e| bad(file, e.to_string()))
}

/// At least one certificate, every PEM block readable.
fn certificates(file: &Path, pem: &str) -> Result<Vec<CertificateDer<'static>>, ClusterError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(file, format!("unreadable PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad(file, "no certificate in PEM".to_owned()));
    }
    Ok(certs)
}

fn bad(file: &Path, why: String) -> ClusterError {
    ClusterError::BadTlsFile {
        file: file.display().to_string(),
        why,
    }
}
