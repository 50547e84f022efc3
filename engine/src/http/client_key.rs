//! The private key of a client certificate (mutual TLS), from a PEM file: PKCS#8, PKCS#1 or
//! SEC1 as rustls reads them, or an encrypted PKCS#8 key (`ENCRYPTED PRIVATE KEY`, PBES2 with
//! PBKDF2 or scrypt, as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes) decrypted with the
//! password from a file, so that it never shows in a command line or the environment.

use super::tls::{pem_reason, TlsSetupError};
use memchr::memmem;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::Path;

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// The first private key of the PEM file at `path`, decrypted with the password in
/// `password_file` (its first line) if it is encrypted.
pub fn load(
    path: &Path,
    password_file: Option<&Path>,
) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    let bad = |reason: String| TlsSetupError::ClientKeyFile {
        path: path.to_path_buf(),
        reason,
    };
    // Bytes, not text: a file that is not PEM at all is "no PEM private key", as rustls says.
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    if let Some(block) = encrypted_block(&pem) {
        let Some(password_file) = password_file else {
            return Err(bad(
                "the key is encrypted: give its password with --client-key-password-file".into(),
            ));
        };
        let password = password(password_file)?;
        return decrypt(block, &password).map_err(bad);
    }
    if memmem::find(&pem, b"Proc-Type: 4,ENCRYPTED").is_some() {
        return Err(bad(
            "an OpenSSL legacy encrypted key is not supported; convert it to \
             encrypted PKCS#8: openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out NEW"
                .into(),
        ));
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        bad(match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no PEM private key in it".to_string(),
            other => pem_reason(other),
        })
    })
}

/// The `ENCRYPTED PRIVATE KEY` block of `pem`, with its begin and end lines.
fn encrypted_block(pem: &[u8]) -> Option<&[u8]> {
    let start = memmem::find(pem, ENCRYPTED_BEGIN.as_bytes())?;
    let end = memmem::find(&pem[start..], ENCRYPTED_END.as_bytes())? + start + ENCRYPTED_END.len();
    Some(&pem[start..end])
}

/// The first line of the password file, without its line ending.
fn password(path: &Path) -> Result<String, TlsSetupError> {
    let text = std::fs::read_to_string(path).map_err(|e| TlsSetupError::ClientKeyPassword {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

fn decrypt(block: &[u8], password: &str) -> Result<PrivateKeyDer<'static>, String> {
    let (_, der) = pkcs8::der::pem::decode_vec(block)
        .map_err(|e| format!("not a valid encrypted key: {e}"))?;
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
        .map_err(|e| format!("not a valid encrypted key: {e}"))?;
    let plain = info.decrypt(password).map_err(|_| {
        "cannot decrypt the key: a wrong password, or an encryption other than PBES2".to_string()
    })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        plain.as_bytes().to_vec(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkcs8::der::pem::LineEnding;

    /// A fresh key as PEM, plain and encrypted with `password` (PBKDF2-SHA256, AES-256-CBC).
    fn key_pair(password: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let info = pkcs8::PrivateKeyInfo::try_from(key.serialized_der()).expect("PKCS#8");
        let params =
            pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, &[7; 16], &[9; 16])
                .expect("parameters");
        let encrypted = info
            .encrypt_with_params(params, password)
            .expect("encrypts");
        let pem = encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .expect("PEM")
            .to_string();
        (key.serialize_pem(), pem)
    }

    fn file(dir: &tempfile::TempDir, name: &str, contents: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).expect("write");
        path
    }

    #[test]
    fn an_encrypted_key_decrypts_to_the_same_key_with_its_password() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (plain, encrypted) = key_pair("s3cret pass");
        let key = file(&dir, "key.pem", &format!("a comment\n{encrypted}"));
        let password = file(&dir, "password", "s3cret pass\n");
        let decrypted = load(&key, Some(&password)).expect("decrypts");
        let plain = load(&file(&dir, "plain.pem", &plain), None).expect("reads");
        assert_eq!(decrypted.secret_der(), plain.secret_der());
    }

    #[test]
    fn an_encrypted_key_without_its_password_is_refused_saying_why() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_, encrypted) = key_pair("right");
        let key = file(&dir, "key.pem", &encrypted);
        let e = load(&key, None).expect_err("refused").to_string();
        assert!(e.contains("--client-key-password-file"), "{e}");
        let wrong = file(&dir, "wrong", "wrong\n");
        let e = load(&key, Some(&wrong)).expect_err("refused").to_string();
        assert!(e.contains("wrong password"), "{e}");
        let missing = dir.path().join("missing");
        let e = load(&key, Some(&missing)).expect_err("refused").to_string();
        assert!(e.contains("password file") && e.contains("missing"), "{e}");
    }

    #[test]
    fn a_legacy_encrypted_key_is_refused_with_the_conversion() {
        let dir = tempfile::tempdir().expect("temp dir");
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        let e = load(&file(&dir, "legacy.pem", legacy), None)
            .expect_err("refused")
            .to_string();
        assert!(e.contains("openssl pkcs8 -topk8"), "{e}");
    }
}
