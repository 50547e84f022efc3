//! The TLS side of the tests' HTTPS servers: a self-signed certificate made with rcgen and a
//! rustls acceptor presenting it. Also included by the binary tests' `tests/support/mod.rs`
//! (by path), so it needs nothing but rcgen, rustls and tokio-rustls.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// A server's certificate and the acceptor that presents it.
pub struct SelfSigned {
    /// PEM of the certificate, for a client to trust as a CA.
    pub pem: String,
    pub acceptor: TlsAcceptor,
}

/// A self-signed certificate for `names` (DNS names or IP literals) and an acceptor presenting
/// it with ring's default safe protocol versions and no client authentication, offering `alpn`
/// in order of preference (none: no ALPN).
pub fn self_signed(names: &[&str], alpn: &[&[u8]]) -> SelfSigned {
    let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let certified = rcgen::generate_simple_self_signed(names).expect("certificate");
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    SelfSigned {
        pem: certified.cert.pem(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    }
}
