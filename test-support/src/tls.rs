//! The TLS side of the tests' HTTPS servers: a self-signed certificate made with rcgen and a
//! rustls acceptor presenting it, optionally requiring a client certificate signed by a test
//! CA (mutual TLS).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// A server's certificate and the acceptor that presents it.
pub struct SelfSigned {
    /// PEM of the certificate, for a client to trust as a CA.
    pub pem: String,
    pub acceptor: TlsAcceptor,
}

/// A test CA and one client certificate it signed: a server made with
/// [`self_signed_requiring`] accepts only clients presenting a certificate of this CA.
pub struct ClientCa {
    ca: CertificateDer<'static>,
    /// PEM of the client certificate.
    pub cert_pem: String,
    /// PEM of the client certificate's private key (PKCS#8).
    pub key_pem: String,
}

/// A fresh CA and a client certificate (for TLS client authentication) signed by it.
pub fn client_ca() -> ClientCa {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ptl test client CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);

    let client_key = KeyPair::generate().expect("client key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
    params
        .distinguished_name
        .push(DnType::CommonName, "ptl test client");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = params
        .signed_by(&client_key, &issuer)
        .expect("client certificate");
    ClientCa {
        ca: ca_cert.der().clone(),
        cert_pem: client_cert.pem(),
        key_pem: client_key.serialize_pem(),
    }
}

/// A self-signed certificate for `names` (DNS names or IP literals) and an acceptor presenting
/// it with ring's default safe protocol versions and no client authentication, offering `alpn`
/// in order of preference (none: no ALPN).
pub fn self_signed(names: &[&str], alpn: &[&[u8]]) -> SelfSigned {
    server(names, alpn, None)
}

/// As [`self_signed`], but the acceptor requires a client certificate signed by `clients`
/// (a handshake without one, or with another, fails).
pub fn self_signed_requiring(names: &[&str], alpn: &[&[u8]], clients: &ClientCa) -> SelfSigned {
    server(names, alpn, Some(clients))
}

fn server(names: &[&str], alpn: &[&[u8]], clients: Option<&ClientCa>) -> SelfSigned {
    let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let certified = rcgen::generate_simple_self_signed(names).expect("certificate");
    let cert = CertificateDer::from(certified.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions");
    let builder = match clients {
        None => builder.with_no_client_auth(),
        Some(clients) => {
            let mut roots = RootCertStore::empty();
            roots.add(clients.ca.clone()).expect("client CA");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(vec![cert], key)
        .expect("server config");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    SelfSigned {
        pem: certified.cert.pem(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    }
}
