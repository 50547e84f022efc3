//! HTTPS for the dashboard: the server identity read from PEM files (`--http-tls-cert`,
//! `--http-tls-key`) into one rustls configuration (ring provider; TLS 1.2 and 1.3; ALPN
//! `http/1.1`), checked when it is loaded so that a wrong file stops the command before anything
//! is served. The handshake itself runs in each connection's task ([`crate::server`]).

use crate::error::DashboardError;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// The first byte of a TLS record carrying a handshake: what a ClientHello starts with.
pub const HANDSHAKE_RECORD: u8 = 0x16;

/// A certificate chain and its key, ready to accept TLS connections with.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
    /// The certificate file, for messages.
    cert: PathBuf,
}

impl fmt::Debug for ServerTls {
    /// The key stays out of any debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Reads the certificate chain (PEM, the server's certificate first) and its private key
    /// (PEM: PKCS#8, PKCS#1 or SEC1), and checks that they belong together.
    pub fn load(cert: &Path, key: &Path) -> Result<ServerTls, DashboardError> {
        let chain = read_chain(cert)?;
        let private_key = read_key(key)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| identity(cert, key, e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, private_key)
            .map_err(|e| identity(cert, key, identity_reason(e)))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            cert: cert.to_path_buf(),
        })
    }

    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, DashboardError> {
    let bad = |reason| DashboardError::TlsCert {
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(pem_reason(e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(pem_reason(e)))?;
    if chain.is_empty() {
        return Err(bad("no PEM certificate in it".to_string()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, DashboardError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| DashboardError::TlsKey {
        path: path.to_path_buf(),
        reason: match e {
            pem::Error::NoItemsFound => {
                "no PEM private key in it (PKCS#8, PKCS#1 or SEC1; an encrypted key must be \
                 decrypted first)"
                    .to_string()
            }
            other => pem_reason(other),
        },
    })
}

fn identity(cert: &Path, key: &Path, reason: String) -> DashboardError {
    DashboardError::TlsIdentity {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        reason,
    }
}

/// Why a certificate and key cannot serve together, in a user's words.
fn identity_reason(e: rustls::Error) -> String {
    match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            "the key does not belong to the certificate".to_string()
        }
        other => format!("not usable: {other}"),
    }
}

fn pem_reason(e: pem::Error) -> String {
    match e {
        pem::Error::Io(io) => io.to_string(),
        other => format!("not valid PEM: {other:?}"),
    }
}
