//! HTTPS: the run's TLS client configuration (rustls with the ring provider), built once per
//! run and shared by every worker, and what a connection needs to open a TLS session to the
//! target (the shared configuration and the server name).
//!
//! Trusted roots are the Mozilla set of `webpki-roots` plus the PEM CA files given; `insecure`
//! accepts any certificate (self-signed test targets) while still checking the handshake's
//! signatures, so the session itself is sound. ALPN offers `http/1.1` only for an HTTP/1.1
//! plan, and `h2` only for an HTTP/2 one ([`TlsTarget::for_http2`]). rustls' in-memory session cache is kept (its default), so connections
//! after the first resume their session instead of a full handshake.
//!
//! For targets behind mutual TLS, a client certificate chain and its private key (PEM files)
//! are presented whenever the server asks for one; both files are read and checked against
//! each other when the configuration is built, so a wrong file stops the run before it starts.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{self, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use thiserror::Error;
use tokio_rustls::TlsConnector;

/// How a run speaks TLS to an `https://` target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM files of CA certificates trusted besides the built-in roots.
    pub ca_files: Vec<PathBuf>,
    /// Accept any server certificate (no chain or name check).
    pub insecure: bool,
    /// Mutual TLS: the PEM file of the client certificate chain (end entity first) and the PEM
    /// file of its private key (PKCS#8, PKCS#1 or SEC1), sent when the server asks.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// A file whose first line is the password of an encrypted (PKCS#8) client key.
    pub client_key_password: Option<PathBuf>,
}

/// Why the TLS configuration cannot be built.
#[derive(Debug, Error)]
pub enum TlsSetupError {
    #[error("CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("CA file {path}: no PEM certificate in it")]
    NoCertificate { path: PathBuf },
    #[error("client certificate file {path}: {reason}")]
    ClientCertFile { path: PathBuf, reason: String },
    #[error("client certificate file {path}: no PEM certificate in it")]
    NoClientCertificate { path: PathBuf },
    #[error("client key file {path}: {reason}")]
    ClientKeyFile { path: PathBuf, reason: String },
    #[error("client key password file {path}: {reason}")]
    ClientKeyPassword { path: PathBuf, reason: String },
    #[error("client certificate {cert} with key {key}: {reason}")]
    ClientIdentity {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("TLS setup: {0}")]
    Config(String),
    #[error("{host:?} is not a valid TLS server name")]
    ServerName { host: String },
}

impl TlsOptions {
    /// The client configuration for these options: reads and checks every CA file, and the
    /// client certificate and key (which must belong together).
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsSetupError> {
        let provider = Arc::new(crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Config(e.to_string()))?;
        let roots = self.roots()?;
        let builder = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate { provider }))
        } else {
            builder.with_root_certificates(roots)
        };
        let mut config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = client_chain(cert)?;
                let private_key =
                    super::client_key::load(key, self.client_key_password.as_deref())?;
                builder
                    .with_client_auth_cert(chain, private_key)
                    .map_err(|e| TlsSetupError::ClientIdentity {
                        cert: cert.clone(),
                        key: key.clone(),
                        reason: identity_reason(e),
                    })?
            }
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The built-in roots plus the CA files (read even when `insecure`, so a wrong path is
    /// reported whatever the mode).
    fn roots(&self) -> Result<RootCertStore, TlsSetupError> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for path in &self.ca_files {
            let bad = |reason: String| TlsSetupError::CaFile {
                path: path.clone(),
                reason,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(pem_reason(e)))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(pem_reason(e)))?;
            if certs.is_empty() {
                return Err(TlsSetupError::NoCertificate { path: path.clone() });
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
            }
        }
        Ok(roots)
    }
}

/// The client certificate chain of a PEM file, end entity first as the file gives it.
fn client_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let bad = |e| TlsSetupError::ClientCertFile {
        path: path.to_path_buf(),
        reason: pem_reason(e),
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(bad)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    if chain.is_empty() {
        return Err(TlsSetupError::NoClientCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(chain)
}

/// Why a certificate and key cannot be used together, in a user's words.
fn identity_reason(e: rustls::Error) -> String {
    match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            "the key does not belong to the certificate".to_string()
        }
        rustls::Error::InvalidCertificate(why) => format!("not a usable certificate ({why:?})"),
        other => format!("not usable: {other}"),
    }
}

pub(super) fn pem_reason(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        other => format!("not valid PEM: {other:?}"),
    }
}

/// Why the first TLS handshake of this process failed. Results count failures by class only,
/// and an untrusted certificate fails every handshake the same way, so one reason is what a
/// user needs to see (`ptl run` prints it after the run).
static FIRST_FAILURE: OnceLock<String> = OnceLock::new();

pub(super) fn note_failure(reason: &dyn std::fmt::Display) {
    if FIRST_FAILURE.get().is_none() {
        let _ = FIRST_FAILURE.set(reason.to_string());
    }
}

/// The reason of the first failed TLS handshake in this process, if one failed.
pub fn first_failure() -> Option<&'static str> {
    FIRST_FAILURE.get().map(String::as_str)
}

/// What connections to the target need for TLS: `None` for `http://`, else one client
/// configuration built from `opts` for the whole run.
pub fn for_target(
    scheme: &http::uri::Scheme,
    host: &str,
    opts: &TlsOptions,
) -> Result<Option<TlsTarget>, TlsSetupError> {
    if scheme != &http::uri::Scheme::HTTPS {
        return Ok(None);
    }
    TlsTarget::new(opts.client_config()?, host).map(Some)
}

/// What connections to one target need to speak TLS: cheap to clone (one per worker).
#[derive(Clone)]
pub struct TlsTarget {
    connector: TlsConnector,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl std::fmt::Debug for TlsTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTarget")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TlsTarget {
    /// `host` as in a URL authority: a DNS name, an IPv4 literal or a bracketed IPv6 one. An
    /// IP literal sends no SNI and is checked against the certificate's IP addresses.
    pub fn new(config: Arc<ClientConfig>, host: &str) -> Result<TlsTarget, TlsSetupError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let name =
            ServerName::try_from(bare.to_string()).map_err(|_| TlsSetupError::ServerName {
                host: host.to_string(),
            })?;
        Ok(TlsTarget {
            connector: TlsConnector::from(config.clone()),
            config,
            name,
        })
    }

    /// The same target for HTTP/2: ALPN offers `h2` alone, so a server that does not speak it
    /// cannot pick HTTP/1.1 instead (the connection then fails as TLS). The session cache is
    /// shared with `self`'s configuration.
    pub fn for_http2(&self) -> TlsTarget {
        let mut config = (*self.config).clone();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let config = Arc::new(config);
        TlsTarget {
            connector: TlsConnector::from(config.clone()),
            config,
            name: self.name.clone(),
        }
    }

    pub(super) fn connector(&self) -> &TlsConnector {
        &self.connector
    }

    pub(super) fn name(&self) -> ServerName<'static> {
        self.name.clone()
    }
}

/// The `insecure` mode's verifier: any certificate chain and name is accepted; the handshake
/// signatures are still verified with the provider's algorithms.
#[derive(Debug)]
struct AcceptAnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ptl-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        let mut f = std::fs::File::create(&path).expect("create");
        f.write_all(contents).expect("write");
        path
    }

    fn ca_error(contents: &[u8], name: &str) -> TlsSetupError {
        let opts = TlsOptions {
            ca_files: vec![temp_file(name, contents)],
            ..TlsOptions::default()
        };
        opts.client_config().expect_err("a bad CA file is refused")
    }

    #[test]
    fn the_default_configuration_offers_http1_only() {
        let config = TlsOptions::default().client_config().expect("builds");
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn a_missing_ca_file_is_an_error_naming_it() {
        let opts = TlsOptions {
            ca_files: vec![PathBuf::from("/nonexistent/ca.pem")],
            insecure: true,
            ..TlsOptions::default()
        };
        let e = opts.client_config().expect_err("refused");
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn a_file_without_certificates_is_an_error() {
        assert!(matches!(
            ca_error(b"just some text\n", "empty.pem"),
            TlsSetupError::NoCertificate { .. }
        ));
    }

    #[test]
    fn a_certificate_block_that_is_not_a_certificate_is_an_error() {
        let junk = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            ca_error(junk, "junk.pem"),
            TlsSetupError::CaFile { .. }
        ));
    }

    #[test]
    fn server_names_accept_dns_names_and_ip_literals() {
        let config = TlsOptions::default().client_config().expect("builds");
        for host in ["example.com", "127.0.0.1", "[::1]"] {
            assert!(TlsTarget::new(config.clone(), host).is_ok(), "{host}");
        }
        assert!(TlsTarget::new(config, "bad name!").is_err());
    }

    /// A self-signed certificate and its key, written as PEM files named after `tag`.
    fn identity_files(tag: &str) -> (PathBuf, PathBuf) {
        let certified =
            rcgen::generate_simple_self_signed(vec!["client".to_string()]).expect("certificate");
        let cert = temp_file(&format!("{tag}-cert.pem"), certified.cert.pem().as_bytes());
        let key = temp_file(
            &format!("{tag}-key.pem"),
            certified.signing_key.serialize_pem().as_bytes(),
        );
        (cert, key)
    }

    fn with_identity(cert: PathBuf, key: PathBuf) -> Result<Arc<ClientConfig>, TlsSetupError> {
        TlsOptions {
            client_cert: Some((cert, key)),
            ..TlsOptions::default()
        }
        .client_config()
    }

    #[test]
    fn a_client_certificate_is_offered_by_http1_and_http2_configurations() {
        let without = TlsOptions::default().client_config().expect("builds");
        assert!(!without.client_auth_cert_resolver.has_certs());
        let (cert, key) = identity_files("good");
        let config = with_identity(cert, key).expect("builds");
        assert!(config.client_auth_cert_resolver.has_certs());
        let h2 = TlsTarget::new(config, "127.0.0.1")
            .expect("server name")
            .for_http2();
        assert!(h2.config.client_auth_cert_resolver.has_certs());
        assert_eq!(h2.config.alpn_protocols, vec![b"h2".to_vec()]);
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let (cert, _) = identity_files("mine");
        let (_, other_key) = identity_files("other");
        let e = with_identity(cert, other_key).expect_err("refused");
        assert!(matches!(e, TlsSetupError::ClientIdentity { .. }), "{e}");
        assert!(e.to_string().contains("does not belong"), "{e}");
    }

    #[test]
    fn unusable_client_files_are_errors_naming_them() {
        let (cert, key) = identity_files("files");
        let missing = PathBuf::from("/nonexistent/client-key.pem");
        let e = with_identity(cert.clone(), missing.clone()).expect_err("refused");
        assert!(matches!(e, TlsSetupError::ClientKeyFile { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/client-key.pem"), "{e}");
        // The certificate file given as the key: PEM, but no key in it.
        let e = with_identity(cert.clone(), cert.clone()).expect_err("refused");
        assert!(e.to_string().contains("no PEM private key"), "{e}");
        // The key file given as the certificate.
        let e = with_identity(key.clone(), key.clone()).expect_err("refused");
        assert!(
            matches!(e, TlsSetupError::NoClientCertificate { .. }),
            "{e}"
        );
        let junk = temp_file(
            "junk-client.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        let e = with_identity(junk, key).expect_err("refused");
        assert!(matches!(e, TlsSetupError::ClientIdentity { .. }), "{e}");
        let e = with_identity(missing, cert).expect_err("refused");
        assert!(matches!(e, TlsSetupError::ClientCertFile { .. }), "{e}");
    }
}
