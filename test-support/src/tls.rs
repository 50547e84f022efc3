//! The TLS side of the tests' HTTPS servers: a self-signed certificate made with rcgen and a
//! rustls acceptor presenting it, optionally requiring a client certificate signed by a test
//! CA (mutual TLS); and for servers started from PEM files (the dashboard's
//! `--http-tls-cert`), a server certificate issued by a test CA and a client trusting that CA.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
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

/// A fresh CA named `name`: its certificate and what signs with it.
fn test_ca(name: &str) -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.distinguished_name.push(DnType::CommonName, name);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    (ca_cert, Issuer::new(ca_params, ca_key))
}

/// A server certificate issued by a test CA, all PEM.
pub struct IssuedServer {
    /// The CA's certificate: what clients trust.
    pub ca_pem: String,
    /// The server's certificate (not a CA), for `names`.
    pub cert_pem: String,
    /// Its private key (PKCS#8).
    pub key_pem: String,
}

/// A fresh CA and a server certificate it issued for `names` (DNS names or IP literals).
pub fn issued_server(names: &[&str]) -> IssuedServer {
    let (ca_cert, issuer) = test_ca("ptl test server CA");
    let key = KeyPair::generate().expect("server key");
    let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let mut params = CertificateParams::new(names).expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "ptl test server");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer).expect("server certificate");
    IssuedServer {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// A client configuration trusting only the CA certificates of `ca_pem` (ALPN `http/1.1`).
pub fn client_trusting(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.expect("a PEM certificate")).expect("a CA");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A fresh CA and a client certificate (for TLS client authentication) signed by it.
pub fn client_ca() -> ClientCa {
    let (ca_cert, issuer) = test_ca("ptl test client CA");

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
