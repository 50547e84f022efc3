//! Certificates for a ZooKeeper serving TLS in tests: a fresh test CA, a server certificate it
//! signed for 127.0.0.1, and client certificates (for `ssl.clientAuth=need`), all as PEM, the
//! form both ZooKeeper (`ssl.keyStore.type=PEM`) and `ptl --zk-tls-*` read.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate and its private key (PKCS#8), as PEM.
pub struct CertPem {
    pub cert: String,
    pub key: String,
}

/// A test CA that signs ZooKeeper's server certificate and clients' certificates.
pub struct ZkCa {
    /// The CA's certificate: what a client passes as `--zk-tls-ca`, and the server's trust store.
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl ZkCa {
    pub fn new(name: &str) -> ZkCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("CA certificate");
        ZkCa {
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// ZooKeeper's certificate, for the address clients dial (127.0.0.1).
    pub fn server(&self) -> CertPem {
        self.sign("zookeeper", ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client's certificate, for a server requiring one.
    pub fn client(&self, name: &str) -> CertPem {
        self.sign(name, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn sign(&self, name: &str, usage: ExtendedKeyUsagePurpose) -> CertPem {
        let key = KeyPair::generate().expect("key");
        // Clients too carry 127.0.0.1: ZooKeeper may check a client's address against its
        // certificate (`ssl.hostnameVerification`).
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let mut params = CertificateParams::new(names).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        CertPem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}
